//! Declarations and outcomes over HTTP and the real store, on SQLite and PostgreSQL: every check
//! of a new declaration in its order, voids and clawbacks, delivery partner changes, what each
//! lead provider sees after a transfer, outcomes, and identical declarations racing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, Utc};
use npq_api::ApiState;
use npq_domain::application::{Application, ApplicationStatus, TeacherCatchment, TrainingStatus};
use npq_domain::auth::{PlainToken, TokenKey};
use npq_domain::cohort::CohortIdentifier;
use npq_domain::course::Course;
use npq_domain::ids::{DeliveryPartnerId, LeadProviderId, StatementId};
use npq_domain::payment::{ContractTerms, Pence};
use npq_domain::person::Person;
use npq_domain::ports::SystemClock;
use npq_domain::schedule::ScheduleIdentifier;
use npq_domain::statement::{Statement, StatementState};
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::{ReferenceData, reference_data};
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use poem::http::Method;
use poem::test::TestClient;
use rand::SeedableRng;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

type Client = TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>;

const DECLARATIONS: &str = "/api/v3/participant-declarations";

struct Api {
    client: Client,
    /// A token of each of the first three lead providers, in the reference data's order.
    tokens: Vec<(LeadProviderId, PlainToken)>,
    admin: PlainToken,
    reference: ReferenceData,
    database: TestDatabase,
    next_trn: AtomicU32,
}

/// How a test participant's accepted application is set up.
#[derive(Clone, Copy)]
struct Enrolment {
    provider: usize,
    cohort: &'static str,
    course: Course,
    schedule: ScheduleIdentifier,
    funded: bool,
    catchment: TeacherCatchment,
}

impl Default for Enrolment {
    fn default() -> Self {
        Self {
            provider: 0,
            cohort: "2025a",
            course: Course::Headship,
            schedule: ScheduleIdentifier::LeadershipAutumn,
            funded: true,
            catchment: TeacherCatchment::England,
        }
    }
}

async fn api(backend: Backend) -> Api {
    let database = TestDatabase::create(backend).await;
    let reference = reference_data(6);
    database.store.insert_reference_data(&reference).await.unwrap();
    let state = ApiState::over(database.store.clone(), TokenKey::derive(&[9u8; 32]).unwrap(), Arc::new(SystemClock));
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    let mut tokens = Vec::new();
    for provider in reference.lead_providers.iter().take(3) {
        let (_, provider, token) =
            state.tokens.issue_lead_provider_token(&provider.name, None, &mut rng).await.unwrap();
        tokens.push((provider.id, token));
    }
    let (_, admin) = state.tokens.issue_admin_token("jo.bloggs@education.gov.uk", &mut rng).await.unwrap();
    let client = TestClient::new(poem::EndpointExt::boxed(npq_api::routes(state)));
    let api = Api { client, tokens, admin, reference, database, next_trn: AtomicU32::new(6_000_000) };
    for provider in 0..3 {
        for cohort in ["2023a", "2024a", "2025a"] {
            api.statement(provider, cohort, Duration::days(30), StatementState::Open).await;
        }
    }
    api
}

fn cohort(text: &str) -> CohortIdentifier {
    text.parse().unwrap()
}

impl Api {
    /// Stores an open, output-fee statement of the provider in the cohort with a contract for
    /// every course, its deadline `until` from today.
    async fn statement(
        &self,
        provider: usize,
        cohort_text: &str,
        until: Duration,
        state: StatementState,
    ) -> StatementId {
        let today = Utc::now().date_naive();
        let deadline = today + until;
        let provider_id = self.tokens[provider].0;
        let statement = Statement {
            id: StatementId::new_random(),
            lead_provider: provider_id,
            cohort: cohort(cohort_text),
            year: chrono::Datelike::year(&deadline),
            month: chrono::Datelike::month(&deadline),
            deadline_date: Some(deadline),
            payment_date: Some(deadline + Duration::days(20)),
            output_fee: true,
            state,
            marked_as_paid_at: None,
            reconcile_amount: Pence::ZERO,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let contracts: Vec<ContractTerms> = Course::ALL
            .iter()
            .map(|course| ContractTerms::preset(provider_id, cohort(cohort_text), *course, Pence(80_000), 72, 19))
            .collect();
        self.database.store.insert_statements(std::slice::from_ref(&statement), &contracts).await.unwrap();
        statement.id
    }

    /// Stores a person with an accepted application set up as `enrolment`, and returns both.
    async fn participant(&self, enrolment: Enrolment) -> (Person, Application) {
        let mut person = npq_domain::testing::person("Sam Example");
        person.trn = self.next_trn.fetch_add(1, Ordering::Relaxed).to_string().parse().ok();
        let application = self.enrol(&person, enrolment);
        self.database.store.insert_people(std::slice::from_ref(&person)).await.unwrap();
        self.database.store.insert_applications(std::slice::from_ref(&application)).await.unwrap();
        (person, application)
    }

    fn enrol(&self, person: &Person, enrolment: Enrolment) -> Application {
        let created = Utc::now() - Duration::days(500);
        let mut application = npq_domain::testing::application(person, self.tokens[enrolment.provider].0, created);
        application.cohort = cohort(enrolment.cohort);
        application.course = enrolment.course;
        application.schedule = Some(enrolment.schedule);
        application.status = ApplicationStatus::Accepted;
        application.accepted_at = Some(created);
        application.training_status = Some(TrainingStatus::Active);
        application.funded_place = Some(enrolment.funded);
        application.eligible_for_funding = enrolment.funded;
        application.targeted_delivery_funding_eligibility = true;
        application.teacher_catchment = Some(enrolment.catchment);
        if enrolment.catchment != TeacherCatchment::England {
            application.school_urn = None;
        }
        application
    }

    /// Returns a delivery partner of the provider in the cohort, and one that is not.
    fn partners(&self, provider: usize, cohort_text: &str) -> (DeliveryPartnerId, DeliveryPartnerId) {
        let provider_id = self.tokens[provider].0;
        let ours: Vec<DeliveryPartnerId> = self
            .reference
            .partnerships
            .iter()
            .filter(|partnership| partnership.lead_provider == provider_id && partnership.cohort == cohort(cohort_text))
            .map(|partnership| partnership.delivery_partner)
            .collect();
        let other = self
            .reference
            .delivery_partners
            .iter()
            .map(|partner| partner.id)
            .find(|id| !ours.contains(id))
            .expect("some partner does not work with the provider");
        (ours[0], other)
    }

    fn second_partner(&self, provider: usize, cohort_text: &str) -> DeliveryPartnerId {
        let provider_id = self.tokens[provider].0;
        self.reference
            .partnerships
            .iter()
            .filter(|partnership| partnership.lead_provider == provider_id && partnership.cohort == cohort(cohort_text))
            .map(|partnership| partnership.delivery_partner)
            .nth(1)
            .expect("the provider has two partners in the cohort")
    }

    async fn send(&self, method: Method, provider: usize, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send_with(method, &self.tokens[provider].1, path, body).await
    }

    async fn send_with(&self, method: Method, token: &PlainToken, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, path)
            .header("Authorization", format!("Bearer {}", token.expose()))
            .header("Content-Type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await;
        let status = response.0.status().as_u16();
        let text = response.0.into_body().into_string().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn declare(&self, provider: usize, attributes: Value) -> (u16, Value) {
        let body = json!({"data": {"type": "participant-declaration", "attributes": attributes}});
        self.send(Method::POST, provider, DECLARATIONS, Some(body)).await
    }

    /// Declares and expects success, returning the declaration's attributes and id. The reply
    /// must match what showing the declaration returns.
    async fn declared(&self, provider: usize, attributes: Value) -> (String, Value) {
        let (status, body) = self.declare(provider, attributes).await;
        assert_eq!(status, 200, "{body}");
        let id = body["data"]["id"].as_str().unwrap().to_owned();
        let (status, shown) = self.send(Method::GET, provider, &format!("{DECLARATIONS}/{id}"), None).await;
        assert_eq!(status, 200, "{shown}");
        assert_eq!(shown["data"], body["data"], "the reply to a declaration differs from showing it");
        (id, body["data"]["attributes"].clone())
    }

    async fn sql(&self, statement: &str) {
        self.database.store.connection().execute_unprepared(statement).await.unwrap();
    }
}

/// The attributes of a declaration of `declaration_type` on `day` of the cohort 2025 schedule,
/// for the participant's headship application, naming `partner`.
fn attributes(person: &Person, declaration_type: &str, date: &str, partner: Option<DeliveryPartnerId>) -> Value {
    let mut attributes = json!({
        "participant_id": person.participant_id.to_string(),
        "declaration_type": declaration_type,
        "declaration_date": date,
        "course_identifier": "npq-headship",
    });
    if let Some(partner) = partner {
        attributes["delivery_partner_id"] = json!(partner.to_string());
    }
    attributes
}

fn errors(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    (
                        error["title"].as_str().unwrap_or_default().to_owned(),
                        error["detail"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn first_title(body: &Value) -> String {
    errors(body).first().map(|(title, _)| title.clone()).unwrap_or_default()
}

const STARTED: &str = "2025-11-03T10:00:00Z";
const RETAINED: &str = "2026-02-02T10:00:00Z";

async fn funded_declaration_joins_next_statement(backend: Backend) {
    let api = api(backend).await;
    let (person, application) = api.participant(Enrolment::default()).await;
    let (partner, _) = api.partners(0, "2025a");
    let (id, declaration) = api.declared(0, attributes(&person, "started", STARTED, Some(partner))).await;

    assert_eq!(declaration["state"], "eligible");
    assert_eq!(declaration["participant_id"], person.participant_id.to_string());
    assert_eq!(declaration["application_id"], application.id.to_string());
    assert_eq!(declaration["course_identifier"], "npq-headship");
    assert_eq!(declaration["declaration_date"], STARTED);
    assert_eq!(declaration["delivery_partner_id"], partner.to_string());
    assert!(declaration["delivery_partner_name"].is_string());
    assert!(declaration["statement_id"].is_string(), "{declaration}");
    assert_eq!(declaration["clawback_statement_id"], Value::Null);
    assert_eq!(declaration["has_passed"], Value::Null);
    assert_eq!(declaration["uplift_paid"], false);
    assert_eq!(declaration["ineligible_for_funding_reason"], Value::Null);
    assert_eq!(declaration["lead_provider_name"], api.reference.lead_providers[0].name);
    let keys: Vec<&String> = declaration.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "participant_id",
            "declaration_type",
            "course_identifier",
            "declaration_date",
            "state",
            "has_passed",
            "delivery_partner_id",
            "delivery_partner_name",
            "secondary_delivery_partner_id",
            "secondary_delivery_partner_name",
            "statement_id",
            "application_id",
            "clawback_statement_id",
            "uplift_paid",
            "lead_provider_name",
            "ineligible_for_funding_reason",
            "created_at",
            "updated_at",
        ]
    );

    let (status, shown) = api.send(Method::GET, 0, &format!("{DECLARATIONS}/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(shown["data"]["attributes"], declaration);
    assert_eq!(shown["data"]["type"], "participant-declaration");
}

async fn unfunded_declaration_stays_submitted(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment { funded: false, ..Enrolment::default() }).await;
    let (partner, _) = api.partners(0, "2025a");
    let (_, declaration) = api.declared(0, attributes(&person, "started", STARTED, Some(partner))).await;
    assert_eq!(declaration["state"], "submitted");
    assert_eq!(declaration["statement_id"], Value::Null);
}

async fn repeated_milestone_is_rejected_on_base(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment::default()).await;
    let (partner, _) = api.partners(0, "2025a");
    api.declared(0, attributes(&person, "started", STARTED, Some(partner))).await;
    let (status, body) = api.declare(0, attributes(&person, "started", STARTED, Some(partner))).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "base");
    let (_, list) = api.send(Method::GET, 0, DECLARATIONS, None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

/// Every check of a new declaration, in the order the checks run: each request fails on the
/// first check it breaks, with the attribute that check reports.
async fn each_check_reports_its_attribute(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment::default()).await;
    let (partner, stranger) = api.partners(0, "2025a");
    let (other_person, _) = api.participant(Enrolment { provider: 1, ..Enrolment::default() }).await;
    let tomorrow = (Utc::now() + Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();

    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    let base = attributes(&person, "started", STARTED, Some(partner));
    let with = |key: &str, value: Value| {
        let mut attributes = base.clone();
        attributes[key] = value;
        attributes
    };
    let without = |key: &str| {
        let mut attributes = base.clone();
        attributes.as_object_mut().unwrap().remove(key);
        attributes
    };
    cases.push(("a missing participant id", without("participant_id"), "participant_id"));
    cases.push((
        "an unknown participant",
        with("participant_id", json!(uuid::Uuid::new_v4().to_string())),
        "participant_id",
    ));
    cases.push((
        "another provider's participant",
        with("participant_id", json!(other_person.participant_id.to_string())),
        "participant_id",
    ));
    cases.push(("a participant id that is no UUID", with("participant_id", json!("abc")), "participant_id"));
    cases.push((
        "a course the participant is not on",
        with("course_identifier", json!("npq-senco")),
        "course_identifier",
    ));
    cases.push(("an unknown course", with("course_identifier", json!("npq-unknown")), "course_identifier"));
    cases.push(("a date alone", with("declaration_date", json!("2025-11-03")), "declaration_date"));
    cases.push(("an impossible month", with("declaration_date", json!("2025-19-01T10:00:00Z")), "declaration_date"));
    cases.push((
        "a date before the schedule",
        with("declaration_date", json!("2025-09-30T23:59:59Z")),
        "declaration_date",
    ));
    cases.push(("a missing date", without("declaration_date"), "declaration_date"));
    cases.push(("a missing type", without("declaration_type"), "declaration_type"));
    cases.push(("an unknown type", with("declaration_type", json!("started-1")), "declaration_type"));
    cases.push(("a missing partner from 2024", without("delivery_partner_id"), "delivery_partner_id"));
    cases.push((
        "an unknown partner",
        with("delivery_partner_id", json!(uuid::Uuid::new_v4().to_string())),
        "delivery_partner_id",
    ));
    cases.push((
        "a partner of other providers",
        with("delivery_partner_id", json!(stranger.to_string())),
        "delivery_partner_id",
    ));
    cases.push((
        "a secondary partner equal to the first",
        with("secondary_delivery_partner_id", json!(partner.to_string())),
        "secondary_delivery_partner_id",
    ));
    cases.push(("a date in the future", with("declaration_date", json!(tomorrow)), "declaration_date"));
    cases.push(("retained-1 before started", with("declaration_type", json!("retained-1")), "declaration_type"));
    for (case, attributes, title) in cases {
        let (status, body) = api.declare(0, attributes).await;
        assert_eq!(status, 422, "{case}: {body}");
        assert_eq!(first_title(&body), title, "{case}: {body}");
        assert!(errors(&body).iter().all(|(_, detail)| !detail.is_empty()), "{case}: every error says why");
    }
    let (_, list) = api.send(Method::GET, 0, DECLARATIONS, None).await;
    assert_eq!(list["data"], json!([]), "no refused declaration was stored");
}

async fn secondary_partner_needs_a_primary(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment { cohort: "2023a", ..Enrolment::default() }).await;
    let (partner, _) = api.partners(0, "2023a");
    let mut attributes = attributes(&person, "started", "2023-11-03T10:00:00Z", None);
    attributes["secondary_delivery_partner_id"] = json!(partner.to_string());
    let (status, body) = api.declare(0, attributes).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(first_title(&body), "secondary_delivery_partner_id");
}

async fn no_partner_outside_england(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment { catchment: TeacherCatchment::Wales, ..Enrolment::default() }).await;
    let (partner, _) = api.partners(0, "2025a");
    let (status, body) = api.declare(0, attributes(&person, "started", STARTED, Some(partner))).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "delivery_partner_id");
    let (_, declaration) = api.declared(0, attributes(&person, "started", STARTED, None)).await;
    assert_eq!(declaration["delivery_partner_id"], Value::Null);
}

async fn type_outside_schedule_is_rejected(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api
        .participant(Enrolment {
            course: Course::LeadingTeaching,
            schedule: ScheduleIdentifier::SpecialistAutumn,
            ..Enrolment::default()
        })
        .await;
    let (partner, _) = api.partners(0, "2025a");
    let mut attributes = attributes(&person, "retained-2", STARTED, Some(partner));
    attributes["course_identifier"] = json!("npq-leading-teaching");
    let (status, body) = api.declare(0, attributes).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "declaration_type");
    assert!(errors(&body)[0].1.contains("npq-specialist-autumn"), "{body}");
}

async fn cohort_needs_contract_and_open_statement(backend: Backend) {
    let api = api(backend).await;
    // No statement exists for cohort 2022.
    let (person, _) = api.participant(Enrolment { cohort: "2022a", ..Enrolment::default() }).await;
    let (status, body) = api.declare(0, attributes(&person, "started", "2022-11-03T10:00:00Z", None)).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "cohort");
    assert!(errors(&body)[0].1.contains("2022"), "{body}");

    // Cohort 2024 has a contract, but its only statement's deadline has passed.
    api.sql("UPDATE statements SET deadline_date = '2020-01-01', payment_date = '2020-01-21'").await;
    let (person, _) = api.participant(Enrolment { cohort: "2024a", ..Enrolment::default() }).await;
    let (partner, _) = api.partners(0, "2024a");
    let (status, body) = api.declare(0, attributes(&person, "started", "2024-11-03T10:00:00Z", Some(partner))).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "cohort");

    // An unfunded declaration needs no statement.
    let (person, _) = api.participant(Enrolment { cohort: "2024a", funded: false, ..Enrolment::default() }).await;
    let (_, declaration) = api.declared(0, attributes(&person, "started", "2024-11-03T10:00:00Z", Some(partner))).await;
    assert_eq!(declaration["state"], "submitted");
}

async fn withdrawn_participant_declared_before_withdrawal(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment::default()).await;
    let (partner, _) = api.partners(0, "2025a");
    api.declared(0, attributes(&person, "started", STARTED, Some(partner))).await;
    let withdraw = json!({"data": {"type": "participant-withdraw", "attributes": {
        "course_identifier": "npq-headship", "reason": "change-in-career"}}});
    let path = format!("/api/v3/participants/npq/{}/withdraw", person.participant_id);
    let (status, body) = api.send(Method::PUT, 0, &path, Some(withdraw)).await;
    assert_eq!(status, 200, "a started declaration lets the provider withdraw: {body}");
    assert_eq!(body["data"]["attributes"]["npq_enrolments"][0]["training_status"], "withdrawn");

    // Declaration dates have whole seconds: let a second pass so that now is after the withdrawal.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (status, body) = api.declare(0, attributes(&person, "retained-1", &now, Some(partner))).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "participant_id");
    assert!(errors(&body)[0].1.contains("withdrawn"), "{body}");
    let (_, declaration) = api.declared(0, attributes(&person, "retained-1", RETAINED, Some(partner))).await;
    assert_eq!(declaration["declaration_type"], "retained-1");
}

async fn same_teacher_duplicate_is_ineligible(backend: Backend) {
    let api = api(backend).await;
    let (first, _) = api.participant(Enrolment::default()).await;
    let mut second = npq_domain::testing::person("Sam Example Again");
    // A second account with the same TRN, not yet verified: two verified accounts with one TRN
    // cannot both hold a place on one course in one cohort.
    second.trn = first.trn.clone();
    second.trn_verified = false;
    let application = api.enrol(&second, Enrolment { provider: 1, ..Enrolment::default() });
    api.database.store.insert_people(std::slice::from_ref(&second)).await.unwrap();
    api.database.store.insert_applications(std::slice::from_ref(&application)).await.unwrap();

    let (partner, _) = api.partners(0, "2025a");
    api.declared(0, attributes(&first, "started", STARTED, Some(partner))).await;
    let (other_partner, _) = api.partners(1, "2025a");
    let (_, declaration) = api.declared(1, attributes(&second, "started", STARTED, Some(other_partner))).await;
    assert_eq!(declaration["state"], "ineligible");
    assert_eq!(declaration["ineligible_for_funding_reason"], "duplicate_declaration");
    assert!(declaration["statement_id"].is_null(), "an ineligible line does not pay: {declaration}");
}

async fn void_before_payment_and_clawback_after(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment::default()).await;
    let (partner, _) = api.partners(0, "2025a");
    let (id, declaration) = api.declared(0, attributes(&person, "started", STARTED, Some(partner))).await;
    assert_eq!(declaration["state"], "eligible");
    let void = format!("{DECLARATIONS}/{id}/void");
    let (status, body) = api.send(Method::PUT, 0, &void, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["state"], "voided");
    assert_eq!(body["data"]["attributes"]["statement_id"], Value::Null);
    let (status, body) = api.send(Method::PUT, 0, &void, None).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "declaration");

    // The milestone is free again; this time the declaration is paid, then voided.
    let (id, _) = api.declared(0, attributes(&person, "started", STARTED, Some(partner))).await;
    api.sql("UPDATE declarations SET state = 'paid' WHERE state = 'eligible'").await;
    api.sql("UPDATE statement_items SET state = 'paid' WHERE state = 'eligible'").await;
    let (status, body) = api.send(Method::PUT, 0, &format!("{DECLARATIONS}/{id}/void"), None).await;
    assert_eq!(status, 200, "{body}");
    let attributes = &body["data"]["attributes"];
    assert_eq!(attributes["state"], "awaiting-clawback");
    assert!(attributes["statement_id"].is_string(), "the statement that paid stays: {attributes}");
    assert!(attributes["clawback_statement_id"].is_string(), "{attributes}");
    let (status, body) = api.send(Method::PUT, 0, &format!("{DECLARATIONS}/{id}/void"), None).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "declaration");
}

async fn transfer_shares_reads_not_changes(backend: Backend) {
    let api = api(backend).await;
    let (person, application) = api.participant(Enrolment::default()).await;
    let (partner, _) = api.partners(0, "2025a");
    let (id, _) = api.declared(0, attributes(&person, "started", STARTED, Some(partner))).await;

    let transfer = json!({"data": {"attributes": {"lead_provider_id": api.tokens[1].0.to_string(), "note": "The participant moved region."}}});
    let path = format!("/api/admin/v1/applications/{}/change-lead-provider", application.id);
    let (status, body) = api.send_with(Method::PUT, &api.admin, &path, Some(transfer)).await;
    assert_eq!(status, 200, "{body}");

    let show = format!("{DECLARATIONS}/{id}");
    for provider in [0, 1] {
        let (status, body) = api.send(Method::GET, provider, &show, None).await;
        assert_eq!(status, 200, "provider {provider} sees the declaration");
        assert_eq!(body["data"]["attributes"]["lead_provider_name"], api.reference.lead_providers[0].name);
        let (_, list) = api.send(Method::GET, provider, DECLARATIONS, None).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "provider {provider} lists it");
    }
    let (status, _) = api.send(Method::GET, 2, &show, None).await;
    assert_eq!(status, 404, "an unrelated provider does not see it");

    let (status, body) = api.send(Method::PUT, 1, &format!("{show}/void"), None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(first_title(&body), "Forbidden");
    let change = json!({"data": {"attributes": {"delivery_partner_id": api.partners(1, "2025a").0.to_string()}}});
    let (status, _) = api.send(Method::PUT, 1, &format!("{show}/change-delivery-partner"), Some(change)).await;
    assert_eq!(status, 403);
    let (status, _) =
        api.send(Method::PUT, 1, &format!("{show}/change-delivery-partner"), Some(json!({"data": {}}))).await;
    assert_eq!(status, 403, "who may change it is checked before the body");
    let (status, _) = api.send(Method::PUT, 2, &format!("{show}/void"), None).await;
    assert_eq!(status, 404);

    // The old provider's live started declaration holds the milestone for the new provider too.
    let (new_partner, _) = api.partners(1, "2025a");
    let (status, body) = api.declare(1, attributes(&person, "started", STARTED, Some(new_partner))).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "base");
    let (status, body) = api.declare(0, attributes(&person, "retained-1", RETAINED, Some(partner))).await;
    assert_eq!(status, 422, "the old provider no longer has the participant: {body}");
    assert_eq!(first_title(&body), "participant_id");
    let (_, declaration) = api.declared(1, attributes(&person, "retained-1", RETAINED, Some(new_partner))).await;
    assert_eq!(declaration["lead_provider_name"], api.reference.lead_providers[1].name);

    // The old provider may still void its own declaration.
    let (status, body) = api.send(Method::PUT, 0, &format!("{show}/void"), None).await;
    assert_eq!(status, 200, "{body}");
}

async fn partner_change_replaces_and_removes(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment::default()).await;
    let (partner, stranger) = api.partners(0, "2025a");
    let second = api.second_partner(0, "2025a");
    let mut first = attributes(&person, "started", STARTED, Some(partner));
    first["secondary_delivery_partner_id"] = json!(second.to_string());
    let (id, declaration) = api.declared(0, first).await;
    assert_eq!(declaration["secondary_delivery_partner_id"], second.to_string());

    let path = format!("{DECLARATIONS}/{id}/change-delivery-partner");
    let body = |primary: Value, secondary: Option<Value>| {
        let mut attributes = json!({"delivery_partner_id": primary});
        if let Some(secondary) = secondary {
            attributes["secondary_delivery_partner_id"] = secondary;
        }
        json!({"data": {"type": "participant-declaration-change-delivery-partner", "attributes": attributes}})
    };
    let (status, changed) =
        api.send(Method::PUT, 0, &path, Some(body(json!(second.to_string()), Some(json!(partner.to_string()))))).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["data"]["attributes"]["delivery_partner_id"], second.to_string());
    assert_eq!(changed["data"]["attributes"]["secondary_delivery_partner_id"], partner.to_string());
    let (status, changed) = api.send(Method::PUT, 0, &path, Some(body(json!(partner.to_string()), None))).await;
    assert_eq!(status, 200);
    assert_eq!(changed["data"]["attributes"]["secondary_delivery_partner_id"], Value::Null);
    assert_eq!(changed["data"]["attributes"]["secondary_delivery_partner_name"], Value::Null);

    let refusals = [
        (body(json!(null), None), "delivery_partner_id"),
        (body(json!(uuid::Uuid::new_v4().to_string()), None), "delivery_partner"),
        (body(json!(partner.to_string()), Some(json!(uuid::Uuid::new_v4().to_string()))), "secondary_delivery_partner"),
        (body(json!(stranger.to_string()), None), "delivery_partner_id"),
        (body(json!(partner.to_string()), Some(json!(partner.to_string()))), "secondary_delivery_partner_id"),
    ];
    for (request, title) in refusals {
        let (status, response) = api.send(Method::PUT, 0, &path, Some(request.clone())).await;
        assert_eq!(status, 422, "{request}: {response}");
        assert_eq!(first_title(&response), title, "{request}: {response}");
    }
    let (status, _) = api.send(Method::PUT, 0, &path, Some(json!({"data": {}}))).await;
    assert_eq!(status, 400);
}

async fn completed_declaration_records_outcome(backend: Backend) {
    let api = api(backend).await;
    let (person, _) = api.participant(Enrolment::default()).await;
    let (partner, _) = api.partners(0, "2025a");
    for (declaration_type, date) in
        [("started", STARTED), ("retained-1", RETAINED), ("retained-2", "2026-05-04T10:00:00Z")]
    {
        api.declared(0, attributes(&person, declaration_type, date, Some(partner))).await;
    }
    let completed = attributes(&person, "completed", "2026-09-01T10:00:00Z", Some(partner));
    let (status, body) = api.declare(0, completed.clone()).await;
    assert_eq!(status, 422, "has_passed is required: {body}");
    assert_eq!(first_title(&body), "has_passed");
    let mut passed = completed.clone();
    passed["has_passed"] = json!("true");
    let (id, declaration) = api.declared(0, passed).await;
    assert_eq!(declaration["has_passed"], true);

    let outcomes = format!("/api/v3/participants/npq/{}/outcomes", person.participant_id);
    let (status, list) = api.send(Method::GET, 0, &outcomes, None).await;
    assert_eq!(status, 200);
    let listed = list["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["type"], "participant-outcome");
    assert_eq!(listed[0]["attributes"]["state"], "passed");
    assert_eq!(listed[0]["attributes"]["completion_date"], "2026-09-01T00:00:00+00:00");
    assert_eq!(listed[0]["attributes"]["course_identifier"], "npq-headship");

    let outcome = |state: &str, date: &str| {
        json!({"data": {"type": "npq-outcome-confirmation", "attributes": {
            "course_identifier": "npq-headship", "state": state, "completion_date": date}}})
    };
    let (status, same) = api.send(Method::POST, 0, &outcomes, Some(outcome("passed", "2026-09-02"))).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["data"]["id"], listed[0]["id"], "passing again adds nothing");
    let (status, failed) = api.send(Method::POST, 0, &outcomes, Some(outcome("failed", "2026-09-02"))).await;
    assert_eq!(status, 200);
    assert_ne!(failed["data"]["id"], listed[0]["id"]);
    let (_, shown) = api.send(Method::GET, 0, &format!("{DECLARATIONS}/{id}"), None).await;
    assert_eq!(shown["data"]["attributes"]["has_passed"], false);

    for (state, date, title) in [
        ("voided", "2026-09-02", "state"),
        ("passed", "02-09-2026", "completion_date"),
        ("passed", "2999-01-01", "completion_date"),
    ] {
        let (status, body) = api.send(Method::POST, 0, &outcomes, Some(outcome(state, date))).await;
        assert_eq!(status, 422, "{state} {date}: {body}");
        assert_eq!(first_title(&body), title);
    }

    let (status, body) = api.send(Method::PUT, 0, &format!("{DECLARATIONS}/{id}/void"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["attributes"]["has_passed"], Value::Null);
    let (_, list) = api.send(Method::GET, 0, "/api/v3/participants/npq/outcomes", None).await;
    let states: Vec<&str> =
        list["data"].as_array().unwrap().iter().map(|item| item["attributes"]["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["passed", "failed", "voided"]);
    let (status, body) = api.send(Method::POST, 0, &outcomes, Some(outcome("passed", "2026-09-02"))).await;
    assert_eq!(status, 422, "no completed declaration is left: {body}");
    assert_eq!(first_title(&body), "base");

    let (status, _) = api.send(Method::GET, 1, &outcomes, None).await;
    assert_eq!(status, 404, "another provider's participant");
}

async fn declaration_list_filters(backend: Backend) {
    let api = api(backend).await;
    let (first, _) = api.participant(Enrolment::default()).await;
    let (second, _) = api.participant(Enrolment { cohort: "2024a", ..Enrolment::default() }).await;
    let (partner, _) = api.partners(0, "2025a");
    let (older_partner, _) = api.partners(0, "2024a");
    let (first_id, _) = api.declared(0, attributes(&first, "started", STARTED, Some(partner))).await;
    let (second_id, second_declaration) =
        api.declared(0, attributes(&second, "started", "2024-11-03T10:00:00Z", Some(older_partner))).await;

    let ids = |body: &Value| -> Vec<String> {
        body["data"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
    };
    let (_, all) = api.send(Method::GET, 0, DECLARATIONS, None).await;
    assert_eq!(ids(&all), [first_id.clone(), second_id.clone()], "oldest first");
    let (_, newest_first) = api.send(Method::GET, 0, &format!("{DECLARATIONS}?sort=-created_at"), None).await;
    assert_eq!(ids(&newest_first), [second_id.clone(), first_id.clone()]);
    let (_, body) = api.send(Method::GET, 0, &format!("{DECLARATIONS}?filter[cohort]=2024"), None).await;
    assert_eq!(ids(&body), std::slice::from_ref(&second_id));
    let path = format!("{DECLARATIONS}?filter[participant_id]={}", first.participant_id);
    let (_, body) = api.send(Method::GET, 0, &path, None).await;
    assert_eq!(ids(&body), std::slice::from_ref(&first_id));
    let (status, _) = api.send(Method::GET, 0, &format!("{DECLARATIONS}?filter[participant_id]=abc"), None).await;
    assert_eq!(status, 400);
    let path = format!("{DECLARATIONS}?filter[delivery_partner_id]={older_partner}");
    let (_, body) = api.send(Method::GET, 0, &path, None).await;
    assert!(ids(&body).contains(&second_id));
    let since = second_declaration["updated_at"].as_str().unwrap();
    let (_, body) = api.send(Method::GET, 0, &format!("{DECLARATIONS}?filter[updated_since]={since}"), None).await;
    assert!(ids(&body).contains(&second_id));
    let (_, body) = api.send(Method::GET, 0, &format!("{DECLARATIONS}?page[per_page]=1&page[page]=2"), None).await;
    assert_eq!(ids(&body), [second_id]);
    let (_, body) = api.send(Method::GET, 1, DECLARATIONS, None).await;
    assert_eq!(ids(&body), Vec::<String>::new(), "another provider sees none");
}

async fn retired_participant_id_names_replacement(backend: Backend) {
    let api = api(backend).await;
    let (kept, _) = api.participant(Enrolment::default()).await;
    let mut retired = npq_domain::testing::person("Sam Example");
    retired.trn = None;
    api.database.store.insert_people(std::slice::from_ref(&retired)).await.unwrap();
    let merge = json!({"data": {"attributes": {"from_participant_id": retired.participant_id.to_string(), "note": "Two accounts of one teacher."}}});
    let path = format!("/api/admin/v1/participants/{}/merge", kept.participant_id);
    let (status, body) = api.send_with(Method::POST, &api.admin, &path, Some(merge)).await;
    assert_eq!(status, 200, "{body}");
    let (partner, _) = api.partners(0, "2025a");
    let (status, body) = api.declare(0, attributes(&retired, "started", STARTED, Some(partner))).await;
    assert_eq!(status, 422);
    assert_eq!(first_title(&body), "participant_id");
    assert!(errors(&body)[0].1.contains(&kept.participant_id.to_string()), "{body}");
    let outcomes = format!("/api/v3/participants/npq/{}/outcomes", retired.participant_id);
    let (status, _) = api.send(Method::GET, 0, &outcomes, None).await;
    assert_eq!(status, 410);
}

/// Fifty identical declarations sent at the same moment: one is stored, the rest get 422 on
/// `base`, none a server error.
async fn fifty_identical_declarations_create_one(backend: Backend) {
    let api = Arc::new(api(backend).await);
    let (person, _) = api.participant(Enrolment::default()).await;
    let (partner, _) = api.partners(0, "2025a");
    let body = attributes(&person, "started", STARTED, Some(partner));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let api = api.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move { api.declare(0, body).await }));
    }
    let mut created = 0;
    for task in tasks {
        let (status, response) = task.await.unwrap();
        match status {
            200 => created += 1,
            422 => assert_eq!(first_title(&response), "base", "{response}"),
            other => panic!("status {other}: {response}"),
        }
    }
    assert_eq!(created, 1);
    let (_, list) = api.send(Method::GET, 0, DECLARATIONS, None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

backend_tests!(
    funded_declaration_joins_next_statement,
    unfunded_declaration_stays_submitted,
    repeated_milestone_is_rejected_on_base,
    each_check_reports_its_attribute,
    secondary_partner_needs_a_primary,
    no_partner_outside_england,
    type_outside_schedule_is_rejected,
    cohort_needs_contract_and_open_statement,
    withdrawn_participant_declared_before_withdrawal,
    same_teacher_duplicate_is_ineligible,
    void_before_payment_and_clawback_after,
    transfer_shares_reads_not_changes,
    partner_change_replaces_and_removes,
    completed_declaration_records_outcome,
    declaration_list_filters,
    retired_participant_id_names_replacement,
    fifty_identical_declarations_create_one,
);
