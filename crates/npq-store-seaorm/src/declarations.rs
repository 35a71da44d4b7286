//! The declaration port over sea-orm: declarations, their statement lines and participant
//! outcomes.
//!
//! Each write loads its context, runs its rule and writes the plan in one transaction. A new
//! declaration locks the participant's person row and those of accounts sharing their TRN (on
//! SQLite the write transaction holds the database's write lock), so two declarations about one
//! teacher are decided one after the other. The partial unique index
//! `declarations_live_milestone` backs this up: a second live declaration of one type on one
//! application is rejected, and the loser of a race gets the rule's "already exists" error.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::NaiveDate;
use npq_domain::application::{Application, ApplicationStatus};
use npq_domain::cohort::CohortIdentifier;
use npq_domain::course::Course;
use npq_domain::decision::HistoryField;
use npq_domain::declaration::{DeclarationState, DuplicateCandidate, MadeDeclaration, OutcomeState, SequencingFrom};
use npq_domain::declaration_actions::{
    CompletedDeclaration, Declaration, DeclarationQuery, DeclaringParticipant, IneligibilityReason, NamedPartner,
    OutcomePlan, OutcomeQuery, ParticipantOutcome, PartnerChangeContext, ProviderTerms, SubmissionContext,
};
use npq_domain::error::{DomainError, FieldError};
use npq_domain::ids::{
    ApplicationId, DeclarationId, DeliveryPartnerId, LeadProviderId, OutcomeId, ParticipantId, StatementId,
};
use npq_domain::listing::{Direction, SortField};
use npq_domain::ports::{DeclarationStore, OutcomeRule, PartnerChangeRule, SubmissionRule, VoidRule};
use npq_domain::schedule::DeclarationType;
use npq_domain::{StoreError, Timestamp};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

use crate::Store;
use crate::convert::stored_instant;
use crate::decisions::{Reference, application_from, load_reference};
use crate::entity::{
    application, application_history, cohort, contract, declaration, delivery_partner, delivery_partnership,
    lead_provider, participant_outcome, person, statement, statement_item,
};
use crate::error::{corrupt, to_store_error};

/// The item kind that pays for a declaration.
const OUTPUT: &str = "output";
/// The item kind that takes a payment back.
const CLAWBACK: &str = "clawback";

fn parse<T: std::str::FromStr>(column: &str, text: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|error| corrupt(column, error))
}

/// Returns whether a database error is the refusal of a second live declaration of one type.
fn is_live_milestone_clash(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(SqlErr::UniqueConstraintViolation(message))
            if message.contains("declarations_live_milestone")
                || message.contains("declarations.application_id, declarations.declaration_type")
    )
}

fn milestone_clash_error(declaration_type: DeclarationType) -> DomainError {
    DomainError::Invalid(vec![FieldError {
        attribute: "base".to_owned(),
        message: format!(
            "A '{declaration_type}' declaration for this participant and course already exists; void it before declaring again."
        ),
    }])
}

/// The ids of applications a lead provider owns now.
fn applications_of(provider_id: i64) -> SelectStatement {
    Query::select()
        .column(application::Column::Id)
        .from(application::Entity)
        .and_where(Expr::col(application::Column::LeadProviderId).eq(provider_id))
        .to_owned()
}

fn declaration_sort_column(field: SortField) -> declaration::Column {
    match field {
        SortField::CreatedAt => declaration::Column::CreatedAt,
        SortField::UpdatedAt => declaration::Column::UpdatedAt,
    }
}

/// Declarations a lead provider can read: those it made and those on applications it owns now.
fn visible_to(provider_id: i64) -> Condition {
    Condition::any()
        .add(declaration::Column::LeadProviderId.eq(provider_id))
        .add(declaration::Column::ApplicationId.in_subquery(applications_of(provider_id)))
}

async fn provider_row<C: ConnectionTrait>(
    db: &C,
    id: LeadProviderId,
) -> Result<Option<lead_provider::Model>, StoreError> {
    lead_provider::Entity::find()
        .filter(lead_provider::Column::PublicId.eq(id.as_uuid()))
        .one(db)
        .await
        .map_err(to_store_error)
}

/// Builds the views of declaration rows, in their order.
async fn declaration_views<C: ConnectionTrait>(
    db: &C,
    rows: Vec<declaration::Model>,
) -> Result<Vec<Declaration>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let declaration_ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let application_ids: Vec<i64> =
        rows.iter().map(|row| row.application_id).collect::<HashSet<_>>().into_iter().collect();
    let applications: HashMap<i64, application::Model> = application::Entity::find()
        .filter(application::Column::Id.is_in(application_ids))
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    let person_ids: Vec<i64> =
        applications.values().map(|row| row.person_id).collect::<HashSet<_>>().into_iter().collect();
    let people: HashMap<i64, uuid::Uuid> = person::Entity::find()
        .select_only()
        .column(person::Column::Id)
        .column(person::Column::PublicId)
        .filter(person::Column::Id.is_in(person_ids))
        .into_tuple::<(i64, uuid::Uuid)>()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .collect();
    let providers: HashMap<i64, lead_provider::Model> = lead_provider::Entity::find()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    let cohorts: HashMap<i64, String> = cohort::Entity::find()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .map(|row| (row.id, row.identifier))
        .collect();
    let partner_ids: Vec<i64> = rows
        .iter()
        .flat_map(|row| [row.delivery_partner_id, row.secondary_delivery_partner_id])
        .flatten()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let partners: HashMap<i64, NamedPartner> = if partner_ids.is_empty() {
        HashMap::new()
    } else {
        delivery_partner::Entity::find()
            .filter(delivery_partner::Column::Id.is_in(partner_ids))
            .all(db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|row| (row.id, NamedPartner { id: DeliveryPartnerId::from_uuid(row.public_id), name: row.name }))
            .collect()
    };
    let items = statement_item::Entity::find()
        .filter(statement_item::Column::DeclarationId.is_in(declaration_ids.clone()))
        .all(db)
        .await
        .map_err(to_store_error)?;
    let statement_ids: Vec<i64> =
        items.iter().map(|item| item.statement_id).collect::<HashSet<_>>().into_iter().collect();
    let statements: HashMap<i64, uuid::Uuid> = if statement_ids.is_empty() {
        HashMap::new()
    } else {
        statement::Entity::find()
            .select_only()
            .column(statement::Column::Id)
            .column(statement::Column::PublicId)
            .filter(statement::Column::Id.is_in(statement_ids))
            .into_tuple::<(i64, uuid::Uuid)>()
            .all(db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .collect()
    };
    let mut billable_statement: HashMap<i64, StatementId> = HashMap::new();
    let mut clawback_statement: HashMap<i64, StatementId> = HashMap::new();
    for item in &items {
        let Some(public) = statements.get(&item.statement_id) else { continue };
        let id = StatementId::from_uuid(*public);
        match (item.kind.as_str(), item.state.as_str()) {
            (OUTPUT, "eligible" | "payable" | "paid") => {
                billable_statement.insert(item.declaration_id, id);
            }
            (CLAWBACK, "awaiting-clawback" | "clawed-back") => {
                clawback_statement.insert(item.declaration_id, id);
            }
            _ => {}
        }
    }
    let mut latest_outcomes: HashMap<i64, (Timestamp, i64, String)> = HashMap::new();
    for outcome in participant_outcome::Entity::find()
        .filter(participant_outcome::Column::DeclarationId.is_in(declaration_ids))
        .all(db)
        .await
        .map_err(to_store_error)?
    {
        let entry = latest_outcomes.entry(outcome.declaration_id).or_insert((
            outcome.created_at,
            outcome.id,
            outcome.state.clone(),
        ));
        if (outcome.created_at, outcome.id) > (entry.0, entry.1) {
            *entry = (outcome.created_at, outcome.id, outcome.state);
        }
    }

    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        let application = applications
            .get(&row.application_id)
            .ok_or_else(|| corrupt("declarations.application_id", "refers to no application"))?;
        let participant = people
            .get(&application.person_id)
            .ok_or_else(|| corrupt("applications.person_id", "refers to no person"))?;
        let provider = providers
            .get(&row.lead_provider_id)
            .ok_or_else(|| corrupt("declarations.lead_provider_id", "refers to no lead provider"))?;
        let cohort =
            cohorts.get(&row.cohort_id).ok_or_else(|| corrupt("declarations.cohort_id", "refers to no cohort"))?;
        let partner = |id: Option<i64>| -> Result<Option<NamedPartner>, StoreError> {
            id.map(|id| {
                partners
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| corrupt("declarations.delivery_partner_id", "refers to no partner"))
            })
            .transpose()
        };
        let ineligibility_reason = match row.state_reason.as_deref() {
            None => None,
            Some("duplicate") => Some(IneligibilityReason::Duplicate),
            Some(other) => return Err(corrupt("declarations.state_reason", other)),
        };
        let superseded_by = match row.superseded_by_id {
            None => None,
            Some(id) => Some(DeclarationId::from_uuid(
                declaration::Entity::find_by_id(id)
                    .one(db)
                    .await
                    .map_err(to_store_error)?
                    .ok_or_else(|| corrupt("declarations.superseded_by_id", "refers to no declaration"))?
                    .public_id,
            )),
        };
        views.push(Declaration {
            id: DeclarationId::from_uuid(row.public_id),
            participant_id: ParticipantId::from_uuid(*participant),
            application_id: ApplicationId::from_uuid(application.public_id),
            course: parse("applications.course", &application.course_identifier)?,
            cohort: parse::<CohortIdentifier>("cohorts.identifier", cohort)?,
            lead_provider_id: LeadProviderId::from_uuid(provider.public_id),
            lead_provider_name: provider.name.clone(),
            declaration_type: parse("declarations.declaration_type", &row.declaration_type)?,
            declaration_date: row.declaration_date,
            state: parse("declarations.state", &row.state)?,
            ineligibility_reason,
            superseded_by,
            delivery_partner: partner(row.delivery_partner_id)?,
            secondary_delivery_partner: partner(row.secondary_delivery_partner_id)?,
            statement_id: billable_statement.get(&row.id).copied(),
            clawback_statement_id: clawback_statement.get(&row.id).copied(),
            latest_outcome: latest_outcomes
                .get(&row.id)
                .map(|(_, _, state)| parse::<OutcomeState>("participant_outcomes.state", state))
                .transpose()?,
            targeted_delivery_funding: application.targeted_delivery_funding_eligibility,
            created_at: row.created_at,
            updated_at: row.updated_at,
        });
    }
    Ok(views)
}

async fn one_view<C: ConnectionTrait>(db: &C, row: declaration::Model) -> Result<Declaration, StoreError> {
    declaration_views(db, vec![row]).await?.pop().ok_or_else(|| StoreError::Other("a declaration vanished".to_owned()))
}

/// Returns the provider's next open output statement per cohort, the one with the earliest
/// deadline not yet passed, as (cohort internal id, statement internal id, statement public id).
async fn next_output_statements<C: ConnectionTrait>(
    db: &C,
    provider_id: i64,
    cohorts: &[i64],
    today: NaiveDate,
) -> Result<HashMap<i64, (i64, uuid::Uuid)>, StoreError> {
    if cohorts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64, uuid::Uuid)> = statement::Entity::find()
        .select_only()
        .column(statement::Column::CohortId)
        .column(statement::Column::Id)
        .column(statement::Column::PublicId)
        .filter(statement::Column::LeadProviderId.eq(provider_id))
        .filter(statement::Column::CohortId.is_in(cohorts.iter().copied()))
        .filter(statement::Column::State.eq("open"))
        .filter(statement::Column::OutputFee.eq(true))
        .filter(statement::Column::DeadlineDate.gte(today))
        .order_by(statement::Column::DeadlineDate, Order::Asc)
        .order_by(statement::Column::Id, Order::Asc)
        .into_tuple()
        .all(db)
        .await
        .map_err(to_store_error)?;
    let mut next = HashMap::new();
    for (cohort_id, id, public_id) in rows {
        next.entry(cohort_id).or_insert((id, public_id));
    }
    Ok(next)
}

/// Returns the courses a lead provider has a contract for on any of its statements, per cohort:
/// every cohort, or only `cohorts` when given.
pub(crate) async fn contracts_of<C: ConnectionTrait>(
    db: &C,
    provider_id: i64,
    cohorts: Option<&[i64]>,
    reference: &Reference,
) -> Result<Vec<(CohortIdentifier, Course)>, StoreError> {
    let cohort = |id: i64| reference.cohort_identifier(id).ok_or_else(|| corrupt("cohort_id", "refers to no cohort"));
    let mut condition = Condition::all().add(statement::Column::LeadProviderId.eq(provider_id));
    if let Some(cohorts) = cohorts {
        condition = condition.add(statement::Column::CohortId.is_in(cohorts.iter().copied()));
    }
    let contract_rows: Vec<(i64, String)> = contract::Entity::find()
        .select_only()
        .column(statement::Column::CohortId)
        .column(contract::Column::Course)
        .join(
            sea_orm::JoinType::InnerJoin,
            contract::Entity::belongs_to(statement::Entity)
                .from(contract::Column::StatementId)
                .to(statement::Column::Id)
                .into(),
        )
        .filter(condition)
        .distinct()
        .into_tuple()
        .all(db)
        .await
        .map_err(to_store_error)?;
    let mut contracts = Vec::with_capacity(contract_rows.len());
    for (cohort_id, course) in contract_rows {
        contracts.push((cohort(cohort_id)?, parse::<Course>("contracts.course", &course)?));
    }
    Ok(contracts)
}

/// Loads the provider's contracts, next statements and partnerships in `cohorts` (the only ones
/// a rule looks at), and which of `partners` exist.
async fn provider_terms<C: ConnectionTrait>(
    db: &C,
    provider_id: i64,
    cohorts: &[i64],
    today: NaiveDate,
    partners: &[DeliveryPartnerId],
    reference: &Reference,
) -> Result<(ProviderTerms, PartnerKeys, HashMap<uuid::Uuid, i64>), StoreError> {
    let cohort = |id: i64| reference.cohort_identifier(id).ok_or_else(|| corrupt("cohort_id", "refers to no cohort"));
    let contracts = match cohorts.is_empty() {
        true => Vec::new(),
        false => contracts_of(db, provider_id, Some(cohorts), reference).await?,
    };
    let mut next_statements = HashMap::new();
    let mut statement_ids = HashMap::new();
    for (cohort_id, (internal, public)) in next_output_statements(db, provider_id, cohorts, today).await? {
        next_statements.insert(cohort(cohort_id)?, StatementId::from_uuid(public));
        statement_ids.insert(public, internal);
    }
    let partnership_rows: Vec<(i64, uuid::Uuid)> = delivery_partnership::Entity::find()
        .select_only()
        .column(delivery_partnership::Column::CohortId)
        .column_as(delivery_partner::Column::PublicId, "public_id")
        .join(
            sea_orm::JoinType::InnerJoin,
            delivery_partnership::Entity::belongs_to(delivery_partner::Entity)
                .from(delivery_partnership::Column::DeliveryPartnerId)
                .to(delivery_partner::Column::Id)
                .into(),
        )
        .filter(delivery_partnership::Column::LeadProviderId.eq(provider_id))
        .filter(delivery_partnership::Column::CohortId.is_in(cohorts.iter().copied()))
        .into_tuple()
        .all(db)
        .await
        .map_err(to_store_error)?;
    let mut partnerships = Vec::with_capacity(partnership_rows.len());
    for (cohort_id, partner) in partnership_rows {
        partnerships.push((cohort(cohort_id)?, DeliveryPartnerId::from_uuid(partner)));
    }
    let partner_ids: PartnerKeys = if partners.is_empty() {
        HashMap::new()
    } else {
        delivery_partner::Entity::find()
            .select_only()
            .column(delivery_partner::Column::PublicId)
            .column(delivery_partner::Column::Id)
            .column(delivery_partner::Column::Name)
            .filter(delivery_partner::Column::PublicId.is_in(partners.iter().map(|id| id.as_uuid())))
            .into_tuple::<(uuid::Uuid, i64, String)>()
            .all(db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|(public_id, id, name)| (public_id, (id, name)))
            .collect()
    };
    let known_partners = partner_ids.keys().map(|id| DeliveryPartnerId::from_uuid(*id)).collect();
    Ok((
        ProviderTerms { contracts, next_output_statements: next_statements, partnerships, known_partners },
        partner_ids,
        statement_ids,
    ))
}

/// Locks the person and every account sharing their TRN, in id order, and returns them.
async fn lock_people<C: ConnectionTrait>(db: &C, owner: &person::Model) -> Result<Vec<person::Model>, StoreError> {
    let mut condition = Condition::any().add(person::Column::Id.eq(owner.id));
    if let Some(trn) = owner.trn.clone() {
        condition = condition.add(person::Column::Trn.eq(trn));
    }
    person::Entity::find()
        .filter(condition)
        .order_by(person::Column::Id, Order::Asc)
        .lock_exclusive()
        .all(db)
        .await
        .map_err(to_store_error)
}

impl Store {
    async fn load_submission(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        provider: &lead_provider::Model,
        participant: Option<ParticipantId>,
        partners: &[DeliveryPartnerId],
        now: Timestamp,
        sequencing: SequencingFrom,
    ) -> Result<(SubmissionContext, SubmissionKeys), StoreError> {
        let reference = load_reference(txn).await?;
        let loaded = match participant {
            Some(participant) => load_declaring_participant(txn, provider.id, participant, &reference).await?,
            None => None,
        };
        // The rules look only at the terms of the cohorts of the participant's applications.
        let cohorts: Vec<i64> = match &loaded {
            Some((_, keys)) => keys.cohorts.clone(),
            None => Vec::new(),
        };
        let (terms, partner_keys, statement_ids) =
            provider_terms(txn, provider.id, &cohorts, now.date_naive(), partners, &reference).await?;
        let context = SubmissionContext {
            lead_provider: LeadProviderId::from_uuid(provider.public_id),
            now,
            sequencing,
            participant: None,
            schedules: reference.schedules().to_vec(),
            terms,
        };
        let Some((participant, mut keys)) = loaded else {
            return Ok((
                context,
                SubmissionKeys { partners: partner_keys, statement_ids, ..SubmissionKeys::default() },
            ));
        };
        keys.partners = partner_keys;
        keys.statement_ids = statement_ids;
        keys.cohort_ids = reference.cohort_internal_ids();
        Ok((SubmissionContext { participant: Some(participant), ..context }, keys))
    }
}

/// Loads the participant a declaration names, with the rows the rules need, when it is one of
/// the provider's participants. Locks their person rows and those of accounts with the same TRN.
async fn load_declaring_participant(
    txn: &sea_orm::DatabaseTransaction,
    provider_id: i64,
    participant: ParticipantId,
    reference: &Reference,
) -> Result<Option<(DeclaringParticipant, SubmissionKeys)>, StoreError> {
    let mut keys = SubmissionKeys::default();
    let Some(person_row) = person::Entity::find()
        .filter(person::Column::PublicId.eq(participant.as_uuid()))
        .one(txn)
        .await
        .map_err(to_store_error)?
    else {
        return Ok(None);
    };
    let people = lock_people(txn, &person_row).await?;
    let people_by_id: HashMap<i64, person::Model> = people.into_iter().map(|row| (row.id, row)).collect();
    let application_rows = application::Entity::find()
        .filter(application::Column::PersonId.is_in(people_by_id.keys().copied().collect::<Vec<_>>()))
        .filter(application::Column::Status.eq(ApplicationStatus::Accepted.as_str()))
        .order_by(application::Column::Id, Order::Asc)
        .all(txn)
        .await
        .map_err(to_store_error)?;
    let own_rows: Vec<&application::Model> =
        application_rows.iter().filter(|row| row.person_id == person_row.id).collect();
    if !own_rows.iter().any(|row| row.lead_provider_id == provider_id) {
        return Ok(None);
    }
    let mut applications = Vec::with_capacity(own_rows.len());
    for row in &own_rows {
        let (application, _) = application_from(row, &people_by_id, reference)?;
        if row.lead_provider_id == provider_id {
            // A declaration's cohort is its application's, which its schedule shares.
            keys.cohorts.push(row.cohort_id);
        }
        keys.applications.insert(application.id.as_uuid(), (row.id, application.clone()));
        applications.push(application);
    }
    keys.cohorts.sort_unstable();
    keys.cohorts.dedup();
    let person = crate::convert::person_from_row(&person_row)?;

    // Latest withdrawal of each withdrawn application.
    let own_ids: Vec<i64> = own_rows.iter().map(|row| row.id).collect();
    let mut withdrawn_at = HashMap::new();
    for entry in application_history::Entity::find()
        .filter(application_history::Column::ApplicationId.is_in(own_ids))
        .filter(application_history::Column::Field.eq(HistoryField::TrainingStatus.as_str()))
        .filter(application_history::Column::ToValue.eq("withdrawn"))
        .order_by(application_history::Column::Id, Order::Asc)
        .all(txn)
        .await
        .map_err(to_store_error)?
    {
        if let Some(row) = own_rows.iter().find(|row| row.id == entry.application_id) {
            withdrawn_at.insert(ApplicationId::from_uuid(row.public_id), entry.changed_at);
        }
    }

    // Declarations on the person's applications with this provider, and those of other
    // accounts with the same TRN.
    let provider_ids: Vec<i64> =
        own_rows.iter().filter(|row| row.lead_provider_id == provider_id).map(|row| row.id).collect();
    let other_ids: Vec<i64> =
        application_rows.iter().filter(|row| row.person_id != person_row.id).map(|row| row.id).collect();
    let mut searched = provider_ids.clone();
    searched.extend(&other_ids);
    let declaration_rows = declaration::Entity::find()
        .filter(declaration::Column::ApplicationId.is_in(searched))
        .order_by(declaration::Column::Id, Order::Asc)
        .all(txn)
        .await
        .map_err(to_store_error)?;
    let mut declarations = Vec::new();
    let mut duplicate_candidates = Vec::new();
    for row in &declaration_rows {
        let declaration_type: DeclarationType = parse("declarations.declaration_type", &row.declaration_type)?;
        let state: DeclarationState = parse("declarations.state", &row.state)?;
        let application = application_rows
            .iter()
            .find(|application| application.id == row.application_id)
            .ok_or_else(|| corrupt("declarations.application_id", "refers to no application"))?;
        if provider_ids.contains(&row.application_id) {
            declarations.push((
                ApplicationId::from_uuid(application.public_id),
                MadeDeclaration { declaration_type, state, declaration_date: row.declaration_date },
            ));
        } else {
            keys.declaration_ids.insert(row.public_id, row.id);
            duplicate_candidates.push((
                parse::<Course>("applications.course", &application.course_identifier)?,
                DuplicateCandidate {
                    id: DeclarationId::from_uuid(row.public_id),
                    declaration_type,
                    state,
                    superseded: row.superseded_by_id.is_some(),
                    created_at: row.created_at,
                },
            ));
        }
    }
    let funding_history = applications.iter().map(Into::into).collect();
    let participant = DeclaringParticipant {
        person,
        applications,
        withdrawn_at,
        declarations,
        duplicate_candidates,
        funding_history,
    };
    Ok(Some((participant, keys)))
}

/// The internal id and name of each delivery partner a request named, by public id.
type PartnerKeys = HashMap<uuid::Uuid, (i64, String)>;

/// Internal ids the write of a submission needs, by public id, and what its reply shows.
#[derive(Default)]
struct SubmissionKeys {
    /// The participant's applications: internal id and the application.
    applications: HashMap<uuid::Uuid, (i64, Application)>,
    /// Internal ids of the cohorts of the applications with the declaring provider.
    cohorts: Vec<i64>,
    partners: PartnerKeys,
    statement_ids: HashMap<uuid::Uuid, i64>,
    declaration_ids: HashMap<uuid::Uuid, i64>,
    cohort_ids: HashMap<CohortIdentifier, i64>,
}

fn missing_key(what: &str) -> StoreError {
    StoreError::Other(format!("a declaration plan named {what} that was not loaded"))
}

async fn insert_outcome<C: ConnectionTrait>(
    db: &C,
    declaration_id: i64,
    state: OutcomeState,
    completion_date: NaiveDate,
    now: Timestamp,
) -> Result<participant_outcome::Model, StoreError> {
    participant_outcome::Entity::insert(participant_outcome::ActiveModel {
        id: NotSet,
        public_id: Set(uuid::Uuid::new_v4()),
        declaration_id: Set(declaration_id),
        state: Set(state.as_str().to_owned()),
        completion_date: Set(completion_date),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await
    .map_err(to_store_error)
}

async fn touch_declaration<C: ConnectionTrait>(db: &C, id: i64, now: Timestamp) -> Result<(), StoreError> {
    declaration::Entity::update_many()
        .col_expr(declaration::Column::UpdatedAt, Expr::value(now))
        .filter(declaration::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(to_store_error)?;
    Ok(())
}

/// Finds a declaration the provider can read, locking its row.
async fn find_visible<C: ConnectionTrait>(
    db: &C,
    provider_id: i64,
    id: DeclarationId,
) -> Result<Option<declaration::Model>, StoreError> {
    declaration::Entity::find()
        .filter(declaration::Column::PublicId.eq(id.as_uuid()))
        .filter(visible_to(provider_id))
        .lock_exclusive()
        .one(db)
        .await
        .map_err(to_store_error)
}

async fn outcome_views<C: ConnectionTrait>(
    db: &C,
    rows: Vec<participant_outcome::Model>,
) -> Result<Vec<ParticipantOutcome>, StoreError> {
    let declaration_ids: Vec<i64> = rows.iter().map(|row| row.declaration_id).collect();
    let declarations: HashMap<i64, declaration::Model> = if declaration_ids.is_empty() {
        HashMap::new()
    } else {
        declaration::Entity::find()
            .filter(declaration::Column::Id.is_in(declaration_ids))
            .all(db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|row| (row.id, row))
            .collect()
    };
    let views = declaration_views(db, declarations.values().cloned().collect()).await?;
    let by_public: HashMap<uuid::Uuid, &Declaration> = views.iter().map(|view| (view.id.as_uuid(), view)).collect();
    rows.into_iter()
        .map(|row| {
            let declaration = declarations
                .get(&row.declaration_id)
                .and_then(|declaration| by_public.get(&declaration.public_id))
                .ok_or_else(|| corrupt("participant_outcomes.declaration_id", "refers to no declaration"))?;
            Ok(ParticipantOutcome {
                id: OutcomeId::from_uuid(row.public_id),
                declaration_id: declaration.id,
                participant_id: declaration.participant_id,
                course: declaration.course,
                state: parse("participant_outcomes.state", &row.state)?,
                completion_date: row.completion_date,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

#[async_trait]
impl DeclarationStore for Store {
    async fn submit_declaration(
        &self,
        lead_provider: LeadProviderId,
        participant: Option<ParticipantId>,
        partners: Vec<DeliveryPartnerId>,
        now: Timestamp,
        sequencing: SequencingFrom,
        rule: SubmissionRule,
    ) -> Result<Declaration, DomainError> {
        let now = stored_instant(now);
        let txn = self.begin_write().await?;
        let provider = provider_row(&txn, lead_provider).await?.ok_or(DomainError::NotFound)?;
        let (context, keys) = self.load_submission(&txn, &provider, participant, &partners, now, sequencing).await?;
        let plan = rule(&context)?;
        let participant_id = context.participant.as_ref().map(|participant| participant.person.participant_id);
        let participant_id = participant_id.ok_or_else(|| missing_key("a participant"))?;
        let (application_id, application) =
            keys.applications.get(&plan.application_id.as_uuid()).ok_or_else(|| missing_key("an application"))?;
        let partner = |id: Option<DeliveryPartnerId>| -> Result<Option<(i64, NamedPartner)>, StoreError> {
            id.map(|id| {
                let (internal, name) =
                    keys.partners.get(&id.as_uuid()).ok_or_else(|| missing_key("a delivery partner"))?;
                Ok((*internal, NamedPartner { id, name: name.clone() }))
            })
            .transpose()
        };
        let delivery_partner = partner(plan.delivery_partner)?;
        let secondary_delivery_partner = partner(plan.secondary_delivery_partner)?;
        let superseded_by_id = plan
            .superseded_by
            .map(|id| keys.declaration_ids.get(&id.as_uuid()).copied().ok_or_else(|| missing_key("a declaration")))
            .transpose()?;
        let row = declaration::ActiveModel {
            id: NotSet,
            public_id: Set(uuid::Uuid::new_v4()),
            application_id: Set(*application_id),
            cohort_id: Set(*keys.cohort_ids.get(&plan.cohort).ok_or_else(|| missing_key("a cohort"))?),
            lead_provider_id: Set(provider.id),
            declaration_type: Set(plan.declaration_type.as_str().to_owned()),
            declaration_date: Set(stored_instant(plan.declaration_date)),
            state: Set(plan.state.as_str().to_owned()),
            state_reason: Set(plan.ineligibility_reason.map(|reason| reason.as_stored_str().to_owned())),
            superseded_by_id: Set(superseded_by_id),
            delivery_partner_id: Set(delivery_partner.as_ref().map(|(id, _)| *id)),
            secondary_delivery_partner_id: Set(secondary_delivery_partner.as_ref().map(|(id, _)| *id)),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let inserted = match declaration::Entity::insert(row).exec_with_returning(&txn).await {
            Ok(inserted) => inserted,
            Err(error) if is_live_milestone_clash(&error) => return Err(milestone_clash_error(plan.declaration_type)),
            Err(error) => return Err(to_store_error(error).into()),
        };
        if let Some(statement) = plan.statement {
            let statement_id =
                *keys.statement_ids.get(&statement.as_uuid()).ok_or_else(|| missing_key("a statement"))?;
            statement_item::Entity::insert(statement_item::ActiveModel {
                id: NotSet,
                statement_id: Set(statement_id),
                declaration_id: Set(inserted.id),
                kind: Set(OUTPUT.to_owned()),
                state: Set(plan.state.as_str().to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec(&txn)
            .await
            .map_err(to_store_error)?;
        }
        if let Some((state, completion_date)) = plan.outcome {
            insert_outcome(&txn, inserted.id, state, completion_date, now).await?;
        }
        txn.commit().await.map_err(|error| match is_live_milestone_clash(&error) {
            true => milestone_clash_error(plan.declaration_type),
            false => to_store_error(error).into(),
        })?;
        // The reply is built from what was written rather than read back: a test checks that it
        // matches what showing the declaration returns.
        let billable =
            matches!(plan.state, DeclarationState::Eligible | DeclarationState::Payable | DeclarationState::Paid);
        Ok(Declaration {
            id: DeclarationId::from_uuid(inserted.public_id),
            participant_id,
            application_id: plan.application_id,
            course: application.course,
            cohort: plan.cohort,
            lead_provider_id: lead_provider,
            lead_provider_name: provider.name,
            declaration_type: plan.declaration_type,
            declaration_date: inserted.declaration_date,
            state: plan.state,
            ineligibility_reason: plan.ineligibility_reason,
            superseded_by: plan.superseded_by,
            delivery_partner: delivery_partner.map(|(_, named)| named),
            secondary_delivery_partner: secondary_delivery_partner.map(|(_, named)| named),
            statement_id: plan.statement.filter(|_| billable),
            clawback_statement_id: None,
            latest_outcome: plan.outcome.map(|(state, _)| state),
            targeted_delivery_funding: application.targeted_delivery_funding_eligibility,
            created_at: inserted.created_at,
            updated_at: inserted.updated_at,
        })
    }

    async fn list_declarations(
        &self,
        lead_provider: LeadProviderId,
        query: &DeclarationQuery,
    ) -> Result<Vec<Declaration>, StoreError> {
        let Some(provider) = provider_row(&self.db, lead_provider).await? else { return Ok(Vec::new()) };
        let mut select = declaration::Entity::find().filter(visible_to(provider.id));
        let filter = &query.filter;
        if let Some(selectors) = &filter.cohorts {
            let cohort_ids: Vec<i64> = cohort::Entity::find()
                .all(&self.db)
                .await
                .map_err(to_store_error)?
                .into_iter()
                .filter(|row| {
                    row.identifier
                        .parse::<CohortIdentifier>()
                        .is_ok_and(|identifier| selectors.iter().any(|selector| selector.matches(identifier)))
                })
                .map(|row| row.id)
                .collect();
            select = select.filter(declaration::Column::CohortId.is_in(cohort_ids));
        }
        if let Some(participants) = &filter.participant_ids {
            let people = Query::select()
                .column(person::Column::Id)
                .from(person::Entity)
                .and_where(Expr::col(person::Column::PublicId).is_in(participants.iter().map(|id| id.as_uuid())))
                .to_owned();
            let applications = Query::select()
                .column(application::Column::Id)
                .from(application::Entity)
                .and_where(Expr::col(application::Column::PersonId).in_subquery(people))
                .to_owned();
            select = select.filter(declaration::Column::ApplicationId.in_subquery(applications));
        }
        if let Some(since) = filter.updated_since {
            select = select.filter(declaration::Column::UpdatedAt.gte(since));
        }
        if let Some(partners) = &filter.delivery_partner_ids {
            let partner_ids = Query::select()
                .column(delivery_partner::Column::Id)
                .from(delivery_partner::Entity)
                .and_where(Expr::col(delivery_partner::Column::PublicId).is_in(partners.iter().map(|id| id.as_uuid())))
                .to_owned();
            select = select.filter(declaration::Column::DeliveryPartnerId.in_subquery(partner_ids));
        }
        if let Some(after) = query.after {
            let column = declaration_sort_column(crate::keyset::cursor_field(&query.sort));
            let after_row: Option<i64> = declaration::Entity::find()
                .select_only()
                .column(declaration::Column::Id)
                .filter(declaration::Column::PublicId.eq(after.id))
                .into_tuple()
                .one(&self.db)
                .await
                .map_err(to_store_error)?;
            select = select.filter(crate::keyset::after(column, declaration::Column::Id, after.sort_value, after_row));
        }
        for key in query.sort.keys() {
            let column = declaration_sort_column(key.field);
            let order = match key.direction {
                Direction::Ascending => Order::Asc,
                Direction::Descending => Order::Desc,
            };
            select = select.order_by(column, order);
        }
        // Insertion order breaks ties, so the order is total and pages never overlap.
        let rows = select
            .order_by(declaration::Column::Id, Order::Asc)
            .offset(query.page.offset())
            .limit(u64::from(query.page.per_page()))
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        declaration_views(&self.db, rows).await
    }

    async fn find_declaration(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
    ) -> Result<Option<Declaration>, StoreError> {
        let Some(provider) = provider_row(&self.db, lead_provider).await? else { return Ok(None) };
        let row = declaration::Entity::find()
            .filter(declaration::Column::PublicId.eq(id.as_uuid()))
            .filter(visible_to(provider.id))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(one_view(&self.db, row).await?)),
        }
    }

    async fn void_declaration(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        now: Timestamp,
        rule: VoidRule,
    ) -> Result<Option<Declaration>, DomainError> {
        let now = stored_instant(now);
        let txn = self.begin_write().await?;
        let Some(provider) = provider_row(&txn, lead_provider).await? else { return Ok(None) };
        let Some(row) = find_visible(&txn, provider.id, id).await? else { return Ok(None) };
        let view = one_view(&txn, row.clone()).await?;
        let next = next_output_statements(&txn, row.lead_provider_id, &[row.cohort_id], now.date_naive())
            .await?
            .get(&row.cohort_id)
            .copied();
        let plan = rule(&view, next.map(|(_, public)| StatementId::from_uuid(public)))?;
        declaration::Entity::update_many()
            .col_expr(declaration::Column::State, Expr::value(plan.state.as_str()))
            .col_expr(declaration::Column::UpdatedAt, Expr::value(now))
            .filter(declaration::Column::Id.eq(row.id))
            .exec(&txn)
            .await
            .map_err(to_store_error)?;
        match plan.clawback_statement {
            None => {
                statement_item::Entity::update_many()
                    .col_expr(statement_item::Column::State, Expr::value("voided"))
                    .col_expr(statement_item::Column::UpdatedAt, Expr::value(now))
                    .filter(statement_item::Column::DeclarationId.eq(row.id))
                    .filter(statement_item::Column::Kind.eq(OUTPUT))
                    .filter(statement_item::Column::State.is_in(["eligible", "ineligible", "payable"]))
                    .exec(&txn)
                    .await
                    .map_err(to_store_error)?;
            }
            Some(statement) => {
                let Some((statement_id, _)) = next.filter(|(_, public)| *public == statement.as_uuid()) else {
                    return Err(missing_key("a statement").into());
                };
                statement_item::Entity::insert(statement_item::ActiveModel {
                    id: NotSet,
                    statement_id: Set(statement_id),
                    declaration_id: Set(row.id),
                    kind: Set(CLAWBACK.to_owned()),
                    state: Set(DeclarationState::AwaitingClawback.as_str().to_owned()),
                    created_at: Set(now),
                    updated_at: Set(now),
                })
                .exec(&txn)
                .await
                .map_err(to_store_error)?;
            }
        }
        if let Some(day) = plan.void_outcome_on {
            insert_outcome(&txn, row.id, OutcomeState::Voided, day, now).await?;
        }
        let reloaded = declaration::Entity::find_by_id(row.id)
            .one(&txn)
            .await
            .map_err(to_store_error)?
            .ok_or_else(|| StoreError::Other("a declaration vanished".to_owned()))?;
        let view = one_view(&txn, reloaded).await?;
        txn.commit().await.map_err(to_store_error)?;
        Ok(Some(view))
    }

    async fn change_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        partners: Vec<DeliveryPartnerId>,
        now: Timestamp,
        rule: PartnerChangeRule,
    ) -> Result<Option<Declaration>, DomainError> {
        let now = stored_instant(now);
        let txn = self.begin_write().await?;
        let Some(provider) = provider_row(&txn, lead_provider).await? else { return Ok(None) };
        let Some(row) = find_visible(&txn, provider.id, id).await? else { return Ok(None) };
        let declaration = one_view(&txn, row.clone()).await?;
        let reference = load_reference(&txn).await?;
        let application_row = application::Entity::find_by_id(row.application_id)
            .one(&txn)
            .await
            .map_err(to_store_error)?
            .ok_or_else(|| corrupt("declarations.application_id", "refers to no application"))?;
        let people: HashMap<i64, person::Model> = person::Entity::find_by_id(application_row.person_id)
            .one(&txn)
            .await
            .map_err(to_store_error)?
            .map(|row| (row.id, row))
            .into_iter()
            .collect();
        let (application, _) = application_from(&application_row, &people, &reference)?;
        let (terms, partner_ids, _) =
            provider_terms(&txn, row.lead_provider_id, &[row.cohort_id], now.date_naive(), &partners, &reference)
                .await?;
        let plan = rule(&PartnerChangeContext { declaration, application, terms })?;
        let primary =
            partner_ids.get(&plan.delivery_partner.as_uuid()).ok_or_else(|| missing_key("a delivery partner"))?.0;
        let secondary = plan
            .secondary_delivery_partner
            .map(|id| {
                partner_ids.get(&id.as_uuid()).map(|(id, _)| *id).ok_or_else(|| missing_key("a delivery partner"))
            })
            .transpose()?;
        declaration::Entity::update_many()
            .col_expr(declaration::Column::DeliveryPartnerId, Expr::value(primary))
            .col_expr(declaration::Column::SecondaryDeliveryPartnerId, Expr::value(secondary))
            .col_expr(declaration::Column::UpdatedAt, Expr::value(now))
            .filter(declaration::Column::Id.eq(row.id))
            .exec(&txn)
            .await
            .map_err(to_store_error)?;
        let reloaded = declaration::Entity::find_by_id(row.id)
            .one(&txn)
            .await
            .map_err(to_store_error)?
            .ok_or_else(|| StoreError::Other("a declaration vanished".to_owned()))?;
        let view = one_view(&txn, reloaded).await?;
        txn.commit().await.map_err(to_store_error)?;
        Ok(Some(view))
    }

    async fn record_outcome(
        &self,
        lead_provider: LeadProviderId,
        participant: ParticipantId,
        now: Timestamp,
        rule: OutcomeRule,
    ) -> Result<Option<ParticipantOutcome>, DomainError> {
        let now = stored_instant(now);
        let txn = self.begin_write().await?;
        let Some(provider) = provider_row(&txn, lead_provider).await? else { return Ok(None) };
        let Some(person_row) = person::Entity::find()
            .filter(person::Column::PublicId.eq(participant.as_uuid()))
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(to_store_error)?
        else {
            return Ok(None);
        };
        let accepted = application::Entity::find()
            .filter(application::Column::PersonId.eq(person_row.id))
            .filter(application::Column::LeadProviderId.eq(provider.id))
            .filter(application::Column::Status.eq(ApplicationStatus::Accepted.as_str()))
            .one(&txn)
            .await
            .map_err(to_store_error)?;
        if accepted.is_none() {
            return Ok(None);
        }
        let people_applications = Query::select()
            .column(application::Column::Id)
            .from(application::Entity)
            .and_where(Expr::col(application::Column::PersonId).eq(person_row.id))
            .to_owned();
        let rows = declaration::Entity::find()
            .filter(declaration::Column::ApplicationId.in_subquery(people_applications))
            .filter(declaration::Column::DeclarationType.eq(DeclarationType::Completed.as_str()))
            .filter(visible_to(provider.id))
            .all(&txn)
            .await
            .map_err(to_store_error)?;
        let internal: HashMap<uuid::Uuid, i64> = rows.iter().map(|row| (row.public_id, row.id)).collect();
        let views = declaration_views(&txn, rows.clone()).await?;
        let outcome_rows = participant_outcome::Entity::find()
            .filter(participant_outcome::Column::DeclarationId.is_in(rows.iter().map(|row| row.id)))
            .order_by(participant_outcome::Column::CreatedAt, Order::Asc)
            .order_by(participant_outcome::Column::Id, Order::Asc)
            .all(&txn)
            .await
            .map_err(to_store_error)?;
        let mut latest: HashMap<i64, participant_outcome::Model> = HashMap::new();
        for outcome in outcome_rows {
            latest.insert(outcome.declaration_id, outcome);
        }
        let mut completed = Vec::with_capacity(views.len());
        for view in &views {
            let internal_id = internal[&view.id.as_uuid()];
            let latest_outcome = match latest.get(&internal_id) {
                None => None,
                Some(row) => outcome_views(&txn, vec![row.clone()]).await?.pop(),
            };
            completed.push(CompletedDeclaration {
                declaration_id: view.id,
                course: view.course,
                state: view.state,
                created_at: view.created_at,
                latest_outcome,
            });
        }
        let outcome = match rule(&completed)? {
            OutcomePlan::Existing(outcome) => outcome,
            OutcomePlan::Record { declaration_id, state, completion_date, .. } => {
                let internal_id =
                    *internal.get(&declaration_id.as_uuid()).ok_or_else(|| missing_key("a declaration"))?;
                let row = insert_outcome(&txn, internal_id, state, completion_date, now).await?;
                touch_declaration(&txn, internal_id, now).await?;
                outcome_views(&txn, vec![row])
                    .await?
                    .pop()
                    .ok_or_else(|| StoreError::Other("an outcome vanished".to_owned()))?
            }
        };
        txn.commit().await.map_err(to_store_error)?;
        Ok(Some(outcome))
    }

    async fn list_outcomes(
        &self,
        lead_provider: LeadProviderId,
        query: &OutcomeQuery,
    ) -> Result<Vec<ParticipantOutcome>, StoreError> {
        let Some(provider) = provider_row(&self.db, lead_provider).await? else { return Ok(Vec::new()) };
        let mut declarations = Query::select()
            .column(declaration::Column::Id)
            .from(declaration::Entity)
            .cond_where(visible_to(provider.id))
            .to_owned();
        if let Some(participant) = query.participant_id {
            let people = Query::select()
                .column(person::Column::Id)
                .from(person::Entity)
                .and_where(Expr::col(person::Column::PublicId).eq(participant.as_uuid()))
                .to_owned();
            let applications = Query::select()
                .column(application::Column::Id)
                .from(application::Entity)
                .and_where(Expr::col(application::Column::PersonId).in_subquery(people))
                .to_owned();
            declarations.and_where(Expr::col(declaration::Column::ApplicationId).in_subquery(applications));
        }
        let mut select = participant_outcome::Entity::find()
            .filter(participant_outcome::Column::DeclarationId.in_subquery(declarations));
        if let Some(since) = query.created_since {
            select = select.filter(participant_outcome::Column::CreatedAt.gte(since));
        }
        let rows = select
            .order_by(participant_outcome::Column::CreatedAt, Order::Asc)
            .order_by(participant_outcome::Column::Id, Order::Asc)
            .offset(query.page.offset())
            .limit(u64::from(query.page.per_page()))
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        outcome_views(&self.db, rows).await
    }
}
