//! Statements in the store, each test run on SQLite and on PostgreSQL with a database of its own:
//! the lead provider reads, DfE's changes and transitions, the deadline job, and the calculation
//! of a statement from what is stored.
//!
//! Declarations and their statement items are inserted as rows, in the states a test needs, so
//! that these tests depend on the statement code alone.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use npq_domain::course::Course;
use npq_domain::declaration::DeclarationState;
use npq_domain::error::DomainError;
use npq_domain::ids::{ApplicationId, DeclarationId, LeadProviderId, StatementId};
use npq_domain::listing::{PageRequest, parse_cohort_filter};
use npq_domain::payment::Pence;
use npq_domain::ports::StatementStore;
use npq_domain::statement::{Statement, StatementItemState, StatementState};
use npq_domain::statement_actions::{ContractRequest, DateChange, ItemKind, NewStatementRequest, StatementQuery};
use npq_domain::statement_service::{StatementReport, StatementService};
use npq_domain::testing::{FixedClock, application, person};
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::entity::{declaration, declaration_payment, statement, statement_item};
use npq_store_seaorm::sandbox_statements::sandbox_statements;
use npq_store_seaorm::seed::reference_data;
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

struct Fixture {
    database: TestDatabase,
    provider: LeadProviderId,
    other_provider: LeadProviderId,
}

async fn fixture(backend: Backend) -> Fixture {
    let database = TestDatabase::create(backend).await;
    let reference = reference_data(6);
    database.store.insert_reference_data(&reference).await.unwrap();
    Fixture { database, provider: reference.lead_providers[0].id, other_provider: reference.lead_providers[1].id }
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day(text).and_hms_opt(10, 0, 0).unwrap())
}

fn service(fixture: &Fixture, now: &str) -> StatementService<npq_store_seaorm::Store, FixedClock> {
    StatementService::new(fixture.database.store.clone(), FixedClock(at(now)))
}

fn request(provider: LeadProviderId, cohort: &str, year: i32, month: u32, deadline: &str) -> NewStatementRequest {
    let deadline = day(deadline);
    NewStatementRequest {
        lead_provider: provider,
        cohort: cohort.parse().unwrap(),
        year,
        month,
        deadline_date: Some(deadline),
        payment_date: Some(deadline + chrono::Duration::days(31)),
        output_fee: true,
        reconcile_amount: Pence::ZERO,
    }
}

/// Creates a statement through the service, as DfE staff would, at `now`.
async fn create(fixture: &Fixture, now: &str, request: NewStatementRequest) -> Statement {
    service(fixture, now).create(request).await.unwrap().contents.statement
}

/// The contract of the worked example in `docs/payments.md`: £800 per participant, 60% output over
/// 3 periods, 40% service fee over 19 instalments and a target of 72.
fn worked_contract() -> ContractRequest {
    ContractRequest {
        course: Course::SeniorLeadership,
        per_participant: Pence(80_000),
        recruitment_target: 72,
        service_fee_instalments: 19,
        output_payment_percentage: None,
        number_of_payment_periods: Some(3),
        service_fee_percentage: None,
        monthly_service_fee: None,
        targeted_delivery_funding_per_participant: None,
        special_course: false,
    }
}

/// Stores a senior leadership application in `cohort` for a new person, eligible for funding and
/// for targeted delivery funding, and returns its id.
async fn stored_application(fixture: &Fixture, cohort: &str) -> ApplicationId {
    let applicant = person(&format!("Ada Lovelace {}", uuid::Uuid::new_v4().simple()));
    let mut built = application(&applicant, fixture.provider, at("2025-06-01"));
    built.cohort = cohort.parse().unwrap();
    built.course = Course::SeniorLeadership;
    built.targeted_delivery_funding_eligibility = true;
    fixture.database.store.insert_people(&[applicant]).await.unwrap();
    fixture.database.store.insert_applications(std::slice::from_ref(&built)).await.unwrap();
    built.id
}

async fn statement_row(fixture: &Fixture, id: StatementId) -> statement::Model {
    let db = fixture.database.store.connection();
    statement::Entity::find().filter(statement::Column::PublicId.eq(id.as_uuid())).one(db).await.unwrap().unwrap()
}

async fn declaration_row(fixture: &Fixture, id: DeclarationId) -> declaration::Model {
    let db = fixture.database.store.connection();
    declaration::Entity::find().filter(declaration::Column::PublicId.eq(id.as_uuid())).one(db).await.unwrap().unwrap()
}

/// Stores a `started` declaration in `state` on a new application, made at `made`, with one item
/// of `kind` in `item_state` on `statement`.
async fn declare(
    fixture: &Fixture,
    statement: StatementId,
    state: DeclarationState,
    kind: ItemKind,
    item_state: StatementItemState,
    made: &str,
) -> DeclarationId {
    let db = fixture.database.store.connection();
    let statement_row = statement_row(fixture, statement).await;
    let application_id = stored_application(fixture, "2023a").await;
    let application_row = npq_store_seaorm::entity::application::Entity::find()
        .filter(npq_store_seaorm::entity::application::Column::PublicId.eq(application_id.as_uuid()))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let id = DeclarationId::new_random();
    let inserted = declaration::Entity::insert(declaration::ActiveModel {
        id: NotSet,
        public_id: Set(id.as_uuid()),
        application_id: Set(application_row.id),
        cohort_id: Set(statement_row.cohort_id),
        lead_provider_id: Set(statement_row.lead_provider_id),
        declaration_type: Set("started".to_owned()),
        declaration_date: Set(at(made)),
        state: Set(state.as_str().to_owned()),
        state_reason: Set(None),
        superseded_by_id: Set(None),
        delivery_partner_id: Set(None),
        secondary_delivery_partner_id: Set(None),
        created_at: Set(at(made)),
        updated_at: Set(at(made)),
    })
    .exec(db)
    .await
    .unwrap();
    add_item(fixture, inserted.last_insert_id, statement, kind, item_state, made).await;
    id
}

async fn add_item(
    fixture: &Fixture,
    declaration_id: i64,
    statement: StatementId,
    kind: ItemKind,
    state: StatementItemState,
    made: &str,
) {
    let statement_row = statement_row(fixture, statement).await;
    statement_item::Entity::insert(statement_item::ActiveModel {
        id: NotSet,
        statement_id: Set(statement_row.id),
        declaration_id: Set(declaration_id),
        kind: Set(kind.as_str().to_owned()),
        state: Set(state.as_str().to_owned()),
        created_at: Set(at(made)),
        updated_at: Set(at(made)),
    })
    .exec(fixture.database.store.connection())
    .await
    .unwrap();
}

/// Voids a paid declaration as the declaration service does: the declaration awaits clawback,
/// and a clawback item lands on `clawback_statement`.
async fn void_after_payment(fixture: &Fixture, id: DeclarationId, clawback_statement: StatementId, when: &str) {
    let row = declaration_row(fixture, id).await;
    declaration::Entity::update(declaration::ActiveModel {
        id: Set(row.id),
        state: Set(DeclarationState::AwaitingClawback.as_str().to_owned()),
        updated_at: Set(at(when)),
        ..Default::default()
    })
    .exec(fixture.database.store.connection())
    .await
    .unwrap();
    add_item(fixture, row.id, clawback_statement, ItemKind::Clawback, StatementItemState::AwaitingClawback, when).await;
}

fn ids(statements: &[Statement]) -> Vec<StatementId> {
    statements.iter().map(|statement| statement.id).collect()
}

fn total(report: &StatementReport) -> Pence {
    report.calculation.as_ref().expect("the statement calculates").totals.total
}

fn rejected_attributes(result: Result<StatementReport, DomainError>) -> Vec<String> {
    match result {
        Err(DomainError::Invalid(errors)) => errors.into_iter().map(|error| error.attribute).collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn list_has_own_output_fee_statements(backend: Backend) {
    let fixture = fixture(backend).await;
    let late = create(&fixture, "2025-01-02", request(fixture.provider, "2025a", 2025, 12, "2025-11-25")).await;
    let early = create(&fixture, "2025-01-02", request(fixture.provider, "2024a", 2025, 10, "2025-09-25")).await;
    let undated =
        NewStatementRequest { payment_date: None, ..request(fixture.provider, "2025a", 2026, 1, "2025-12-25") };
    let undated = create(&fixture, "2025-01-02", undated).await;
    let service_fee =
        NewStatementRequest { output_fee: false, ..request(fixture.provider, "2025a", 2026, 2, "2026-01-25") };
    let service_fee = create(&fixture, "2025-01-02", service_fee).await;
    let middle = create(&fixture, "2025-03-04", request(fixture.provider, "2025a", 2025, 11, "2025-10-25")).await;
    let others = create(&fixture, "2025-01-02", request(fixture.other_provider, "2025a", 2025, 9, "2025-08-25")).await;
    let store = &fixture.database.store;

    let listed = store.list_statements(fixture.provider, &StatementQuery::default()).await.unwrap();
    assert_eq!(ids(&listed), [early.id, middle.id, late.id, undated.id]);
    assert_eq!(listed[1], middle, "a statement reads back as it was created");

    let cohort = StatementQuery { cohorts: parse_cohort_filter(Some("2024")).unwrap(), ..StatementQuery::default() };
    assert_eq!(ids(&store.list_statements(fixture.provider, &cohort).await.unwrap()), [early.id]);
    let both =
        StatementQuery { cohorts: parse_cohort_filter(Some("2024,2025a")).unwrap(), ..StatementQuery::default() };
    assert_eq!(store.list_statements(fixture.provider, &both).await.unwrap().len(), 4);
    let since = StatementQuery { updated_since: Some(at("2025-02-01")), ..StatementQuery::default() };
    assert_eq!(ids(&store.list_statements(fixture.provider, &since).await.unwrap()), [middle.id]);
    let second_page = StatementQuery { page: PageRequest::new(Some(2), Some(3)).unwrap(), ..StatementQuery::default() };
    assert_eq!(ids(&store.list_statements(fixture.provider, &second_page).await.unwrap()), [undated.id]);

    let all = store.list_all_statements(Some(fixture.provider), &StatementQuery::default()).await.unwrap();
    assert!(ids(&all).contains(&service_fee.id), "DfE staff see service fee statements");
    assert!(!ids(&all).contains(&others.id));
    assert_eq!(store.list_all_statements(None, &StatementQuery::default()).await.unwrap().len(), 6);
}

async fn show_hides_other_and_service_fee_statements(backend: Backend) {
    let fixture = fixture(backend).await;
    let own = create(&fixture, "2025-01-02", request(fixture.provider, "2025a", 2025, 9, "2025-08-25")).await;
    let service_fee =
        NewStatementRequest { output_fee: false, ..request(fixture.provider, "2025a", 2025, 10, "2025-09-25") };
    let service_fee = create(&fixture, "2025-01-02", service_fee).await;
    let store = &fixture.database.store;

    assert_eq!(store.find_statement(fixture.provider, own.id).await.unwrap(), Some(own.clone()));
    assert_eq!(store.find_statement(fixture.other_provider, own.id).await.unwrap(), None);
    assert_eq!(store.find_statement(fixture.provider, service_fee.id).await.unwrap(), None);
    assert_eq!(store.find_statement(fixture.provider, StatementId::new_random()).await.unwrap(), None);
    assert!(store.statement_contents(service_fee.id).await.unwrap().is_some(), "DfE staff see it");
}

async fn second_statement_for_a_month_is_rejected(backend: Backend) {
    let fixture = fixture(backend).await;
    let september = request(fixture.provider, "2025a", 2025, 9, "2025-08-25");
    create(&fixture, "2025-01-02", september.clone()).await;

    let again = service(&fixture, "2025-01-02").create(september.clone()).await;
    assert_eq!(rejected_attributes(again), ["base"]);
    let unknown = NewStatementRequest {
        lead_provider: LeadProviderId::new_random(),
        cohort: "2029a".parse().unwrap(),
        ..september.clone()
    };
    assert_eq!(
        rejected_attributes(service(&fixture, "2025-01-02").create(unknown).await),
        ["lead_provider_id", "cohort"]
    );
    let crossed = NewStatementRequest { payment_date: Some(day("2025-08-01")), month: 10, ..september };
    assert_eq!(rejected_attributes(service(&fixture, "2025-01-02").create(crossed).await), ["payment_date"]);

    let other_cohort = request(fixture.provider, "2024a", 2025, 9, "2025-08-25");
    create(&fixture, "2025-01-02", other_cohort).await;
}

async fn contracts_adjustments_and_dates_change_while_open(backend: Backend) {
    let fixture = fixture(backend).await;
    let statement = create(&fixture, "2025-01-02", request(fixture.provider, "2023a", 2025, 9, "2025-08-25")).await;
    let service = service(&fixture, "2025-02-01");

    service.put_contract(statement.id, worked_contract()).await.unwrap();
    let cheaper = ContractRequest { per_participant: Pence(60_000), ..worked_contract() };
    let report = service.put_contract(statement.id, cheaper).await.unwrap();
    assert_eq!(report.contents.contracts.len(), 1, "the contract for a course is replaced");
    assert_eq!(report.contents.contracts[0].per_participant, Pence(60_000));
    assert_eq!(report.contents.contracts[0].number_of_payment_periods, 3);

    let report = service.add_adjustment(statement.id, " Late start ".to_owned(), Pence(-5_000)).await.unwrap();
    assert_eq!(report.contents.adjustments.len(), 1);
    assert_eq!(report.contents.adjustments[0].description, "Late start");
    assert_eq!(
        rejected_attributes(service.add_adjustment(statement.id, String::new(), Pence(10)).await),
        ["description"]
    );

    let change = DateChange { deadline_date: Some(day("2025-08-28")), payment_date: Some(day("2025-09-26")) };
    let report = service.change_dates(statement.id, change).await.unwrap();
    assert_eq!(report.contents.statement.deadline_date, Some(day("2025-08-28")));
    assert_eq!(report.contents.statement.payment_date, Some(day("2025-09-26")));
    assert_eq!(report.contents.statement.updated_at, at("2025-02-01"));
    let late = DateChange { deadline_date: Some(day("2025-10-01")), payment_date: None };
    assert_eq!(rejected_attributes(service.change_dates(statement.id, late).await), ["deadline_date"]);

    let after_deadline = self::service(&fixture, "2025-08-29");
    after_deadline.mark_payable(statement.id).await.unwrap();
    assert_eq!(rejected_attributes(after_deadline.put_contract(statement.id, worked_contract()).await), ["base"]);
    let moved = DateChange { deadline_date: None, payment_date: Some(day("2025-09-30")) };
    assert_eq!(rejected_attributes(after_deadline.change_dates(statement.id, moved).await), ["base"]);
    after_deadline.add_adjustment(statement.id, "Correction".to_owned(), Pence(100)).await.unwrap();

    let missing = service.add_adjustment(StatementId::new_random(), "Correction".to_owned(), Pence(100)).await;
    assert_eq!(missing.unwrap_err(), DomainError::NotFound);
}

async fn deadline_job_catches_a_deadline_three_days_past(backend: Backend) {
    let fixture = fixture(backend).await;
    let missed = create(&fixture, "2025-01-02", request(fixture.provider, "2023a", 2025, 9, "2025-08-25")).await;
    let due_today = create(&fixture, "2025-01-02", request(fixture.provider, "2023a", 2025, 10, "2025-08-28")).await;
    let eligible = declare(
        &fixture,
        missed.id,
        DeclarationState::Eligible,
        ItemKind::Output,
        StatementItemState::Eligible,
        "2025-08-01",
    )
    .await;
    let voided = declare(
        &fixture,
        missed.id,
        DeclarationState::Voided,
        ItemKind::Output,
        StatementItemState::Voided,
        "2025-08-02",
    )
    .await;

    let run = service(&fixture, "2025-08-28").run_deadlines().await.unwrap();

    assert_eq!(run.marked.len(), 1);
    assert_eq!(run.marked[0].statement, missed.id);
    assert_eq!(run.marked[0].declarations, 1);
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    let missed_row = statement_row(&fixture, missed.id).await;
    assert_eq!(missed_row.state, "payable");
    assert_eq!(missed_row.updated_at, at("2025-08-28"));
    assert_eq!(statement_row(&fixture, due_today.id).await.state, "open", "a deadline of today has not passed");
    let eligible_row = declaration_row(&fixture, eligible).await;
    assert_eq!(eligible_row.state, "payable");
    assert_eq!(eligible_row.updated_at, at("2025-08-28"), "lead providers polling updated_since see the change");
    let voided_row = declaration_row(&fixture, voided).await;
    assert_eq!(voided_row.state, "voided");
    assert_eq!(voided_row.updated_at, at("2025-08-02"), "a voided declaration is left alone");
    let contents = fixture.database.store.statement_contents(missed.id).await.unwrap().unwrap();
    let items: Vec<StatementItemState> = contents.lines.iter().map(|line| line.item.state).collect();
    assert_eq!(items, [StatementItemState::Payable, StatementItemState::Voided]);

    let again = service(&fixture, "2025-08-28").run_deadlines().await.unwrap();
    assert!(again.marked.is_empty(), "nothing is due twice");
}

async fn marking_a_statement_paid_claws_back_its_awaiting_clawback_declarations(backend: Backend) {
    let fixture = fixture(backend).await;
    let july = create(&fixture, "2025-01-02", request(fixture.provider, "2023a", 2025, 7, "2025-06-25")).await;
    let september = create(&fixture, "2025-01-02", request(fixture.provider, "2023a", 2025, 9, "2025-08-25")).await;
    let setup = service(&fixture, "2025-02-01");
    setup.put_contract(july.id, worked_contract()).await.unwrap();
    setup.put_contract(september.id, worked_contract()).await.unwrap();
    // Paid in July before payments were recorded, then voided: the clawback takes back what July's
    // calculation pays for it.
    let clawed =
        declare(&fixture, july.id, DeclarationState::Paid, ItemKind::Output, StatementItemState::Paid, "2025-06-01")
            .await;
    let july_row = statement_row(&fixture, july.id).await;
    statement::Entity::update(statement::ActiveModel {
        id: Set(july_row.id),
        state: Set("paid".to_owned()),
        ..Default::default()
    })
    .exec(fixture.database.store.connection())
    .await
    .unwrap();
    void_after_payment(&fixture, clawed, september.id, "2025-08-01").await;
    let paid = declare(
        &fixture,
        september.id,
        DeclarationState::Eligible,
        ItemKind::Output,
        StatementItemState::Eligible,
        "2025-08-02",
    )
    .await;
    let voided = declare(
        &fixture,
        september.id,
        DeclarationState::Voided,
        ItemKind::Output,
        StatementItemState::Voided,
        "2025-08-03",
    )
    .await;

    let open = service(&fixture, "2025-08-26").mark_paid(september.id).await;
    assert_eq!(rejected_attributes(open), ["state"]);
    service(&fixture, "2025-08-26").mark_payable(september.id).await.unwrap();
    let report = service(&fixture, "2025-09-01").mark_paid(september.id).await.unwrap();

    assert_eq!(report.contents.statement.state, StatementState::Paid);
    assert_eq!(report.contents.statement.marked_as_paid_at, Some(at("2025-09-01")));
    let paid_row = declaration_row(&fixture, paid).await;
    assert_eq!(paid_row.state, "paid");
    assert_eq!(paid_row.updated_at, at("2025-09-01"));
    let clawed_row = declaration_row(&fixture, clawed).await;
    assert_eq!(clawed_row.state, "clawed-back");
    assert_eq!(clawed_row.updated_at, at("2025-09-01"));
    assert_eq!(declaration_row(&fixture, voided).await.state, "voided");
    let items: Vec<(ItemKind, StatementItemState)> =
        report.contents.lines.iter().map(|line| (line.kind, line.item.state)).collect();
    assert_eq!(
        items,
        [
            (ItemKind::Clawback, StatementItemState::ClawedBack),
            (ItemKind::Output, StatementItemState::Paid),
            (ItemKind::Output, StatementItemState::Voided),
        ]
    );

    let totals = report.calculation.expect("the statement calculates").totals;
    assert_eq!(totals.output_payments, Pence(16_000));
    assert_eq!(totals.targeted_delivery_funding, Pence(10_000));
    assert_eq!(totals.clawbacks, Pence(26_000), "July paid £160 and £100 of funding");
    let recorded = declaration_payment::Entity::find().all(fixture.database.store.connection()).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].declaration_id, paid_row.id);
    assert_eq!((recorded[0].output_pence, recorded[0].targeted_delivery_funding_pence), (16_000, 10_000));

    let twice = service(&fixture, "2025-09-02").mark_paid(september.id).await;
    assert_eq!(rejected_attributes(twice), ["state"]);
}

async fn two_payments_of_one_statement_pay_once(backend: Backend) {
    let fixture = fixture(backend).await;
    let september = create(&fixture, "2025-01-02", request(fixture.provider, "2023a", 2025, 9, "2025-08-25")).await;
    service(&fixture, "2025-02-01").put_contract(september.id, worked_contract()).await.unwrap();
    declare(
        &fixture,
        september.id,
        DeclarationState::Payable,
        ItemKind::Output,
        StatementItemState::Payable,
        "2025-08-02",
    )
    .await;
    service(&fixture, "2025-08-26").mark_payable(september.id).await.unwrap();

    let payer = service(&fixture, "2025-09-01");
    let other_payer = payer.clone();
    let first = tokio::spawn(async move { payer.mark_paid(september.id).await });
    let second = tokio::spawn(async move { other_payer.mark_paid(september.id).await });
    let (first, second) = (first.await.unwrap(), second.await.unwrap());

    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(outcomes.iter().filter(|paid| **paid).count(), 1, "{first:?} {second:?}");
    let recorded = declaration_payment::Entity::find().all(fixture.database.store.connection()).await.unwrap();
    assert_eq!(recorded.len(), 1);
}

async fn breakdown_matches_the_worked_example(backend: Backend) {
    let fixture = fixture(backend).await;
    let september = create(&fixture, "2025-01-02", request(fixture.provider, "2023a", 2025, 9, "2025-08-25")).await;
    let reconciled = NewStatementRequest {
        reconcile_amount: Pence(-123_400),
        ..request(fixture.provider, "2023a", 2025, 10, "2025-09-25")
    };
    let october = create(&fixture, "2025-01-02", reconciled).await;
    let november = create(&fixture, "2025-01-02", request(fixture.provider, "2023a", 2025, 11, "2025-10-25")).await;
    let setup = service(&fixture, "2025-02-01");
    for statement in [september.id, october.id, november.id] {
        setup.put_contract(statement, worked_contract()).await.unwrap();
    }

    // With no declarations the statement pays the monthly service fee, 72 × £800 × 40% / 19.
    assert_eq!(total(&setup.admin_show(september.id).await.unwrap()), Pence(121_263));
    let started = declare(
        &fixture,
        september.id,
        DeclarationState::Eligible,
        ItemKind::Output,
        StatementItemState::Eligible,
        "2025-08-01",
    )
    .await;
    // One started declaration with targeted delivery funding adds £160 + £100.
    let report = setup.admin_show(september.id).await.unwrap();
    assert_eq!(total(&report), Pence(147_263));
    let course = &report.calculation.as_ref().unwrap().courses[0];
    assert_eq!(course.output_payment_per_participant, Pence(16_000));
    assert_eq!(course.service_fee_per_participant, Pence(1_684));
    setup.add_adjustment(september.id, "Extra session".to_owned(), Pence(10_000)).await.unwrap();
    let report = setup.add_adjustment(september.id, "Missed session".to_owned(), Pence(-5_000)).await.unwrap();
    assert_eq!(total(&report), Pence(152_263), "adjustments of +£100 and −£50 add £50");

    declare(
        &fixture,
        october.id,
        DeclarationState::Eligible,
        ItemKind::Output,
        StatementItemState::Eligible,
        "2025-09-01",
    )
    .await;
    assert_eq!(total(&setup.admin_show(october.id).await.unwrap()), Pence(23_863), "a reconcile amount of −£1234");

    service(&fixture, "2025-08-26").mark_payable(september.id).await.unwrap();
    service(&fixture, "2025-09-01").mark_paid(september.id).await.unwrap();
    void_after_payment(&fixture, started, november.id, "2025-10-01").await;
    let report = setup.admin_show(november.id).await.unwrap();
    assert_eq!(total(&report), Pence(95_263), "the clawback takes back £260 after the funding stopped");
    assert!(!report.calculation.unwrap().courses[0].targeted_delivery_funding_applies);
}

async fn sandbox_statements_are_stored_and_served(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let reference = reference_data(6);
    database.store.insert_reference_data(&reference).await.unwrap();
    let today = day("2026-05-10");
    let (statements, contracts) = sandbox_statements(&reference.lead_providers, &reference.cohorts, today);

    database.store.insert_statements(&statements, &contracts).await.unwrap();

    let provider = reference.lead_providers[0].id;
    let query = StatementQuery { cohorts: parse_cohort_filter(Some("2025")).unwrap(), ..StatementQuery::default() };
    let listed = database.store.list_statements(provider, &query).await.unwrap();
    assert_eq!(listed.len(), 36);
    assert!(listed.windows(2).all(|pair| pair[0].payment_date < pair[1].payment_date));
    let contents = database.store.statement_contents(listed[0].id).await.unwrap().unwrap();
    assert_eq!(contents.contracts.len(), Course::ALL.len());
    assert!(contents.calculate().is_ok());
    let clock = FixedClock(Utc.from_utc_datetime(&today.and_hms_opt(1, 0, 0).unwrap()));
    let run = StatementService::new(database.store.clone(), clock).run_deadlines().await.unwrap();
    assert!(run.marked.is_empty(), "no sandbox statement is left open after its deadline");
}

backend_tests!(
    sandbox_statements_are_stored_and_served,
    list_has_own_output_fee_statements,
    show_hides_other_and_service_fee_statements,
    second_statement_for_a_month_is_rejected,
    contracts_adjustments_and_dates_change_while_open,
    deadline_job_catches_a_deadline_three_days_past,
    marking_a_statement_paid_claws_back_its_awaiting_clawback_declarations,
    two_payments_of_one_statement_pay_once,
    breakdown_matches_the_worked_example,
);
