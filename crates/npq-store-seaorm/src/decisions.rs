//! The decision port over sea-orm: each decision loads its context, runs its rule and applies the
//! outcome in one transaction.
//!
//! Decisions about one person are serialised. On PostgreSQL the transaction locks the rows of
//! the person and of everyone sharing their verified TRN, in id order, before it reads their
//! applications; on SQLite it starts as a write transaction, which holds the database's single
//! write lock from the first statement. The unique live-place indexes back this up: if two
//! decisions still race, the second write fails and the caller sees
//! [`StoreError::PlaceTaken`].

use std::collections::HashMap;

use async_trait::async_trait;
use npq_domain::application::{Application, ApplicationStatus};
use npq_domain::cohort::{Cohort, CohortIdentifier};
use npq_domain::decision::{Actor, DecisionContext, HistoryEntry, Outcome, RelatedApplication};
use npq_domain::declaration::DeclarationState;
use npq_domain::error::DomainError;
use npq_domain::ids::{ApplicationId, LeadProviderId, ParticipantId};
use npq_domain::participant::MergeOutcome;
use npq_domain::person::Person;
use npq_domain::ports::{DecisionRule, DecisionStore, MergeRule};
use npq_domain::provider::LeadProvider;
use npq_domain::schedule::DeclarationType;
use npq_domain::schedule::{Schedule, ScheduleIdentifier};
use npq_domain::training::{BillableDeclaration, DeclarationSummary};
use npq_domain::{StoreError, Timestamp};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::Store;
use crate::convert::{
    ApplicationLinks, application_from_row, application_to_row, cohort_from_row, person_from_row, schedule_from_row,
    stored_instant,
};
use crate::entity::{application, application_history, cohort, declaration, lead_provider, person, schedule};
use crate::error::{corrupt, to_store_error};
use crate::writes::{PersonKey, application_keys, load_keys};

/// Reference data read inside a decision's transaction, with the internal ids rows refer to.
pub(crate) struct Reference {
    cohorts: Vec<Cohort>,
    cohort_ids: HashMap<i64, CohortIdentifier>,
    schedules: Vec<Schedule>,
    schedule_ids: HashMap<i64, ScheduleIdentifier>,
    lead_providers: Vec<LeadProvider>,
    lead_provider_ids: HashMap<i64, LeadProviderId>,
}

impl Reference {
    /// Returns the public id of the lead provider with this internal id.
    pub(crate) fn lead_provider_id(&self, id: i64) -> Option<LeadProviderId> {
        self.lead_provider_ids.get(&id).copied()
    }

    /// Returns the identifier of the cohort with this internal id.
    pub(crate) fn cohort_identifier(&self, id: i64) -> Option<CohortIdentifier> {
        self.cohort_ids.get(&id).copied()
    }

    /// Returns the internal id of every cohort, by identifier.
    pub(crate) fn cohort_internal_ids(&self) -> HashMap<CohortIdentifier, i64> {
        self.cohort_ids.iter().map(|(id, identifier)| (*identifier, *id)).collect()
    }

    /// Returns every schedule of every cohort.
    pub(crate) fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }
}

pub(crate) async fn load_reference<C: ConnectionTrait>(txn: &C) -> Result<Reference, StoreError> {
    let cohort_rows = cohort::Entity::find().all(txn).await.map_err(to_store_error)?;
    let mut cohorts = Vec::with_capacity(cohort_rows.len());
    let mut cohort_ids = HashMap::new();
    for row in &cohort_rows {
        let cohort = cohort_from_row(row)?;
        cohort_ids.insert(row.id, cohort.identifier);
        cohorts.push(cohort);
    }
    let schedule_rows = schedule::Entity::find().all(txn).await.map_err(to_store_error)?;
    let mut schedules = Vec::with_capacity(schedule_rows.len());
    let mut schedule_ids = HashMap::new();
    for row in &schedule_rows {
        let cohort =
            *cohort_ids.get(&row.cohort_id).ok_or_else(|| corrupt("schedules.cohort_id", "refers to no cohort"))?;
        let schedule = schedule_from_row(row, cohort)?;
        schedule_ids.insert(row.id, schedule.identifier);
        schedules.push(schedule);
    }
    let provider_rows = lead_provider::Entity::find().all(txn).await.map_err(to_store_error)?;
    let lead_provider_ids =
        provider_rows.iter().map(|row| (row.id, LeadProviderId::from_uuid(row.public_id))).collect();
    let lead_providers = provider_rows
        .into_iter()
        .map(|row| LeadProvider {
            id: LeadProviderId::from_uuid(row.public_id),
            name: row.name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect();
    Ok(Reference { cohorts, cohort_ids, schedules, schedule_ids, lead_providers, lead_provider_ids })
}

pub(crate) fn application_from(
    row: &application::Model,
    people: &HashMap<i64, person::Model>,
    reference: &Reference,
) -> Result<(Application, Person), StoreError> {
    let person_row =
        people.get(&row.person_id).ok_or_else(|| corrupt("applications.person_id", "refers to no person"))?;
    let links = ApplicationLinks {
        participant_id: ParticipantId::from_uuid(person_row.public_id),
        lead_provider_id: *reference
            .lead_provider_ids
            .get(&row.lead_provider_id)
            .ok_or_else(|| corrupt("applications.lead_provider_id", "refers to no lead provider"))?,
        cohort: *reference
            .cohort_ids
            .get(&row.cohort_id)
            .ok_or_else(|| corrupt("applications.cohort_id", "refers to no cohort"))?,
        schedule: match row.schedule_id {
            None => None,
            Some(id) => Some(
                *reference
                    .schedule_ids
                    .get(&id)
                    .ok_or_else(|| corrupt("applications.schedule_id", "refers to no schedule"))?,
            ),
        },
    };
    Ok((application_from_row(row, links)?, person_from_row(person_row)?))
}

/// Summarises the declarations of an application for the decision rules.
async fn declaration_summary<C: ConnectionTrait>(
    txn: &C,
    application_id: i64,
) -> Result<(DeclarationSummary, Vec<BillableDeclaration>), StoreError> {
    let rows = declaration::Entity::find()
        .filter(declaration::Column::ApplicationId.eq(application_id))
        .all(txn)
        .await
        .map_err(to_store_error)?;
    let mut summary = DeclarationSummary::default();
    let mut billable = Vec::new();
    for row in rows {
        let state: DeclarationState = row.state.parse().map_err(|error| corrupt("declarations.state", error))?;
        let declaration_type: DeclarationType =
            row.declaration_type.parse().map_err(|error| corrupt("declarations.declaration_type", error))?;
        if state == DeclarationState::Voided {
            continue;
        }
        summary.not_voided += 1;
        if declaration_type == DeclarationType::Started {
            summary.started += 1;
        }
        if state.holds_milestone() {
            summary.billable += 1;
            billable.push(BillableDeclaration { declaration_type, declaration_date: row.declaration_date });
        }
    }
    Ok((summary, billable))
}

fn verified_trn(row: &person::Model) -> Option<String> {
    row.trn.clone().filter(|_| row.trn_verified)
}

impl Store {
    /// Starts a transaction that may write: on SQLite it takes the write lock at once, so a
    /// decision never reads data that another writer changes before it commits.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        self.writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(to_store_error)
    }

    async fn decide_in(
        &self,
        txn: &DatabaseTransaction,
        id: ApplicationId,
        visible_to: Option<LeadProviderId>,
        rule: DecisionRule,
    ) -> Result<Option<Outcome>, DomainError> {
        let provider_id = match visible_to {
            None => None,
            Some(provider) => {
                let row = lead_provider::Entity::find()
                    .filter(lead_provider::Column::PublicId.eq(provider.as_uuid()))
                    .one(txn)
                    .await
                    .map_err(to_store_error)?;
                let Some(row) = row else { return Ok(None) };
                Some(row.id)
            }
        };
        let find_target = || {
            let mut select = application::Entity::find().filter(application::Column::PublicId.eq(id.as_uuid()));
            if let Some(provider_id) = provider_id {
                select = select.filter(application::Column::LeadProviderId.eq(provider_id));
            }
            select
        };
        // Lock the application's person and everyone holding their verified TRN, in id order so
        // that two decisions never wait on each other in a cycle. A merge of accounts may move the
        // application to another person meanwhile: then lock that person too and read again.
        let mut attempts = 0;
        let (people, target_row) = loop {
            let Some(first_read) = find_target().one(txn).await.map_err(to_store_error)? else { return Ok(None) };
            let owner = person::Entity::find_by_id(first_read.person_id)
                .one(txn)
                .await
                .map_err(to_store_error)?
                .ok_or_else(|| corrupt("applications.person_id", "refers to no person"))?;
            let mut people_condition = Condition::any().add(person::Column::Id.eq(owner.id));
            if let Some(trn) = verified_trn(&owner) {
                people_condition = people_condition
                    .add(Condition::all().add(person::Column::Trn.eq(trn)).add(person::Column::TrnVerified.eq(true)));
            }
            let people: HashMap<i64, person::Model> = person::Entity::find()
                .filter(people_condition)
                .order_by(person::Column::Id, Order::Asc)
                .lock_exclusive()
                .all(txn)
                .await
                .map_err(to_store_error)?
                .into_iter()
                .map(|row| (row.id, row))
                .collect();
            // Read again now that the people are locked: a decision that held the lock may have
            // changed the application.
            let Some(target_row) = find_target().one(txn).await.map_err(to_store_error)? else { return Ok(None) };
            if people.contains_key(&target_row.person_id) {
                break (people, target_row);
            }
            attempts += 1;
            if attempts == 3 {
                return Err(StoreError::Unavailable(
                    "the application kept moving between merged accounts; try again".to_owned(),
                )
                .into());
            }
        };
        let related_rows = application::Entity::find()
            .filter(application::Column::PersonId.is_in(people.keys().copied().collect::<Vec<_>>()))
            .filter(application::Column::Id.ne(target_row.id))
            .order_by(application::Column::Id, Order::Asc)
            .all(txn)
            .await
            .map_err(to_store_error)?;
        let reference = load_reference(txn).await?;

        let (application, person) = application_from(&target_row, &people, &reference)?;
        let mut related = Vec::with_capacity(related_rows.len());
        for row in &related_rows {
            let (other, _) = application_from(row, &people, &reference)?;
            related.push(RelatedApplication { same_person: row.person_id == target_row.person_id, application: other });
        }
        let (declarations, billable_declarations) = declaration_summary(txn, target_row.id).await?;
        let context = DecisionContext {
            application,
            person,
            related,
            declarations,
            billable_declarations,
            cohorts: reference.cohorts.clone(),
            schedules: reference.schedules.clone(),
            lead_providers: reference.lead_providers.clone(),
            contracts: crate::declarations::contracts_of(txn, target_row.lead_provider_id, None, &reference).await?,
        };
        let outcome = rule(&context)?;
        if outcome.is_empty() {
            return Ok(Some(outcome));
        }

        // Apply the outcome.
        let mut internal_ids: HashMap<uuid::Uuid, i64> = HashMap::new();
        internal_ids.insert(target_row.public_id, target_row.id);
        internal_ids.extend(related_rows.iter().map(|row| (row.public_id, row.id)));
        let person_keys: HashMap<uuid::Uuid, PersonKey> = people
            .values()
            .map(|row| (row.public_id, PersonKey { id: row.id, verified_trn: verified_trn(row) }))
            .collect();
        let keys = load_keys(txn).await?;
        for changed in &outcome.changed {
            if !internal_ids.contains_key(&changed.id.as_uuid()) {
                return Err(StoreError::Other(format!(
                    "a decision changed application {}, which it did not load",
                    changed.id
                ))
                .into());
            }
            let mut row = application_to_row(changed, application_keys(changed, &keys, &person_keys)?);
            row.public_id = NotSet;
            row.created_at = NotSet;
            application::Entity::update_many()
                .set(row)
                .filter(application::Column::PublicId.eq(changed.id.as_uuid()))
                .exec(txn)
                .await
                .map_err(to_store_error)?;
        }
        let history_rows = outcome
            .history
            .iter()
            .map(|entry| {
                let application_id = *internal_ids.get(&entry.application_id.as_uuid()).ok_or_else(|| {
                    StoreError::Other(format!(
                        "history names application {}, which was not loaded",
                        entry.application_id
                    ))
                })?;
                let (actor_kind, actor_lead_provider_id, actor_user) =
                    match &entry.actor {
                        Actor::LeadProvider(provider) => (
                            "lead_provider",
                            Some(*keys.lead_providers.get(&provider.as_uuid()).ok_or_else(|| {
                                StoreError::Conflict(format!("lead provider {provider} does not exist"))
                            })?),
                            None,
                        ),
                        Actor::Dfe { user } => ("dfe", None, Some(user.clone())),
                    };
                Ok(application_history::ActiveModel {
                    id: NotSet,
                    application_id: Set(application_id),
                    changed_at: Set(stored_instant(entry.at)),
                    actor_kind: Set(actor_kind.to_owned()),
                    actor_lead_provider_id: Set(actor_lead_provider_id),
                    actor_user: Set(actor_user),
                    field: Set(entry.field.as_str().to_owned()),
                    from_value: Set(entry.from.clone()),
                    to_value: Set(entry.to.clone()),
                    reason: Set(entry.reason.clone()),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if !history_rows.is_empty() {
            application_history::Entity::insert_many(history_rows)
                .exec_without_returning(txn)
                .await
                .map_err(to_store_error)?;
        }
        let touched: Vec<i64> = outcome
            .touched_people
            .iter()
            .filter_map(|participant| person_keys.get(&participant.as_uuid()).map(|key| key.id))
            .collect();
        if !touched.is_empty() {
            let at = stored_instant(outcome.at);
            application::Entity::update_many()
                .col_expr(application::Column::UpdatedAt, Expr::value(at))
                .filter(application::Column::PersonId.is_in(touched))
                .filter(application::Column::UpdatedAt.lt(at))
                .exec(txn)
                .await
                .map_err(to_store_error)?;
        }
        crate::participants::mark_changed(txn, &outcome.changed_participants, outcome.at).await?;
        Ok(Some(outcome))
    }
}

#[async_trait]
impl DecisionStore for Store {
    async fn decide(
        &self,
        id: ApplicationId,
        visible_to: Option<LeadProviderId>,
        rule: DecisionRule,
    ) -> Result<Option<Outcome>, DomainError> {
        let txn = self.begin_write().await?;
        let decided = self.decide_in(&txn, id, visible_to, rule).await;
        match decided {
            Ok(Some(outcome)) => {
                txn.commit().await.map_err(to_store_error)?;
                Ok(Some(outcome))
            }
            other => {
                txn.rollback().await.map_err(to_store_error)?;
                other
            }
        }
    }

    async fn merge_accounts(
        &self,
        kept: ParticipantId,
        retired: ParticipantId,
        rule: MergeRule,
    ) -> Result<Option<MergeOutcome>, DomainError> {
        let txn = self.begin_write().await?;
        let merged = self.merge_accounts_in(&txn, kept, retired, rule).await;
        match merged {
            Ok(Some(outcome)) => {
                txn.commit().await.map_err(to_store_error)?;
                Ok(Some(outcome))
            }
            other => {
                txn.rollback().await.map_err(to_store_error)?;
                other
            }
        }
    }

    async fn find_any_application(&self, id: ApplicationId) -> Result<Option<(Application, Person)>, StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        let row = application::Entity::find()
            .filter(application::Column::PublicId.eq(id.as_uuid()))
            .one(&txn)
            .await
            .map_err(to_store_error)?;
        let Some(row) = row else { return Ok(None) };
        let people: HashMap<i64, person::Model> = person::Entity::find_by_id(row.person_id)
            .one(&txn)
            .await
            .map_err(to_store_error)?
            .map(|person| (person.id, person))
            .into_iter()
            .collect();
        let reference = load_reference(&txn).await?;
        let found = application_from(&row, &people, &reference)?;
        txn.commit().await.map_err(to_store_error)?;
        Ok(Some(found))
    }

    async fn stale_pending_applications(
        &self,
        created_before: Timestamp,
        cohort: Option<CohortIdentifier>,
        limit: u32,
    ) -> Result<Vec<ApplicationId>, StoreError> {
        let mut select = application::Entity::find()
            .select_only()
            .column(application::Column::PublicId)
            .filter(application::Column::Status.eq(ApplicationStatus::Pending.as_str()))
            .filter(application::Column::CreatedAt.lt(stored_instant(created_before)));
        if let Some(cohort) = cohort {
            let cohort_id: Option<i64> = cohort::Entity::find()
                .select_only()
                .column(cohort::Column::Id)
                .filter(cohort::Column::Identifier.eq(cohort.to_string()))
                .into_tuple()
                .one(&self.db)
                .await
                .map_err(to_store_error)?;
            let Some(cohort_id) = cohort_id else { return Ok(Vec::new()) };
            select = select.filter(application::Column::CohortId.eq(cohort_id));
        }
        let ids: Vec<uuid::Uuid> = select
            .order_by(application::Column::CreatedAt, Order::Asc)
            .order_by(application::Column::Id, Order::Asc)
            .limit(u64::from(limit))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        Ok(ids.into_iter().map(ApplicationId::from_uuid).collect())
    }

    async fn application_history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
        let internal: Option<i64> = application::Entity::find()
            .select_only()
            .column(application::Column::Id)
            .filter(application::Column::PublicId.eq(id.as_uuid()))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        let Some(internal) = internal else { return Ok(Vec::new()) };
        let rows = application_history::Entity::find()
            .filter(application_history::Column::ApplicationId.eq(internal))
            .order_by(application_history::Column::Id, Order::Asc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        let providers: HashMap<i64, LeadProviderId> = lead_provider::Entity::find()
            .all(&self.db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|row| (row.id, LeadProviderId::from_uuid(row.public_id)))
            .collect();
        rows.into_iter()
            .map(|row| {
                let actor = match (row.actor_kind.as_str(), row.actor_lead_provider_id, row.actor_user) {
                    ("lead_provider", Some(provider), _) => {
                        Actor::LeadProvider(*providers.get(&provider).ok_or_else(|| {
                            corrupt("application_history.actor_lead_provider_id", "refers to no lead provider")
                        })?)
                    }
                    ("dfe", _, Some(user)) => Actor::Dfe { user },
                    (kind, _, _) => {
                        return Err(corrupt("application_history.actor_kind", format!("'{kind}' without its actor")));
                    }
                };
                Ok(HistoryEntry {
                    application_id: id,
                    at: row.changed_at,
                    actor,
                    field: row.field.parse().map_err(|error| corrupt("application_history.field", error))?,
                    from: row.from_value,
                    to: row.to_value,
                    reason: row.reason,
                })
            })
            .collect()
    }
}
