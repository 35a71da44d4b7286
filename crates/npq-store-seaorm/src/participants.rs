//! Participants over sea-orm: the participant list and look-ups, and the bookkeeping that keeps
//! each participant's place in the list and its `updated_at`.

use std::collections::HashMap;

use async_trait::async_trait;
use npq_domain::application::{ApplicationStatus, TrainingStatus};
use npq_domain::decision::{Actor, HistoryEntry, HistoryField};
use npq_domain::ids::{ApplicationId, LeadProviderId, ParticipantId};
use npq_domain::listing::{Direction, SortField};
use npq_domain::participant::{
    FromParticipant, ParticipantIdChange, ParticipantQuery, ParticipantRecord, ParticipantSortValues,
};
use npq_domain::ports::ParticipantRepository;
use npq_domain::{StoreError, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};

use crate::Store;
use crate::convert::stored_instant;
use crate::decisions::{application_from, load_reference};
use crate::entity::{application, application_history, lead_provider, participant, participant_id_change, person};
use crate::error::{corrupt, to_store_error};

/// Records that the lead providers' views of these participants changed at `at`: each
/// participant's `updated_at` moves, and a person who is new to a provider joins the end of its
/// participant list.
pub(crate) async fn mark_changed<C: ConnectionTrait>(
    db: &C,
    participants: &[(ParticipantId, LeadProviderId)],
    at: Timestamp,
) -> Result<(), StoreError> {
    if participants.is_empty() {
        return Ok(());
    }
    let people: HashMap<uuid::Uuid, i64> = person::Entity::find()
        .select_only()
        .column(person::Column::PublicId)
        .column(person::Column::Id)
        .filter(person::Column::PublicId.is_in(participants.iter().map(|(id, _)| id.as_uuid()).collect::<Vec<_>>()))
        .into_tuple::<(uuid::Uuid, i64)>()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .collect();
    let providers: HashMap<uuid::Uuid, i64> = lead_provider::Entity::find()
        .select_only()
        .column(lead_provider::Column::PublicId)
        .column(lead_provider::Column::Id)
        .into_tuple::<(uuid::Uuid, i64)>()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .collect();
    let at = stored_instant(at);
    for (participant_id, provider) in participants {
        let (Some(person_id), Some(provider_id)) =
            (people.get(&participant_id.as_uuid()), providers.get(&provider.as_uuid()))
        else {
            return Err(StoreError::Conflict(format!(
                "participant {participant_id} of lead provider {provider} does not exist"
            )));
        };
        let row = participant::ActiveModel {
            id: NotSet,
            person_id: Set(*person_id),
            lead_provider_id: Set(*provider_id),
            created_at: Set(at),
            updated_at: Set(at),
        };
        participant::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([participant::Column::LeadProviderId, participant::Column::PersonId])
                    .update_column(participant::Column::UpdatedAt)
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await
            .map_err(to_store_error)?;
    }
    Ok(())
}

/// Moves `updated_at` of every participant of these people, with every provider, up to `at`.
pub(crate) async fn touch_people<C: ConnectionTrait>(
    db: &C,
    people: Vec<i64>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let at = stored_instant(at);
    participant::Entity::update_many()
        .col_expr(participant::Column::UpdatedAt, Expr::value(at))
        .filter(participant::Column::PersonId.is_in(people))
        .filter(participant::Column::UpdatedAt.lt(at))
        .exec(db)
        .await
        .map_err(to_store_error)?;
    Ok(())
}

/// Adds every person with an accepted application to the participant list of its provider, in
/// order of acceptance, unless already there. Used when applications are inserted directly.
pub(crate) async fn add_missing<C: ConnectionTrait>(db: &C) -> Result<(), StoreError> {
    db.execute_unprepared(
        "INSERT INTO participants (person_id, lead_provider_id, created_at, updated_at) \
         SELECT a.person_id, a.lead_provider_id, MIN(COALESCE(a.accepted_at, a.created_at)), MAX(a.updated_at) \
         FROM applications a WHERE a.status = 'accepted' AND NOT EXISTS ( \
           SELECT 1 FROM participants p WHERE p.person_id = a.person_id AND p.lead_provider_id = a.lead_provider_id) \
         GROUP BY a.person_id, a.lead_provider_id \
         ORDER BY MIN(COALESCE(a.accepted_at, a.created_at)), MIN(a.id)",
    )
    .await
    .map_err(to_store_error)?;
    Ok(())
}

impl Store {
    async fn lead_provider_id(&self, id: LeadProviderId) -> Result<Option<i64>, StoreError> {
        lead_provider::Entity::find()
            .select_only()
            .column(lead_provider::Column::Id)
            .filter(lead_provider::Column::PublicId.eq(id.as_uuid()))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(to_store_error)
    }

    /// Builds the records of these participant rows, in their order. Rows whose person has no
    /// accepted application with the provider any more are left out.
    async fn participant_records(
        &self,
        provider_id: i64,
        rows: Vec<participant::Model>,
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let person_ids: Vec<i64> = rows.iter().map(|row| row.person_id).collect();
        let people: HashMap<i64, person::Model> = person::Entity::find()
            .filter(person::Column::Id.is_in(person_ids.clone()))
            .all(&self.db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let application_rows = application::Entity::find()
            .filter(application::Column::PersonId.is_in(person_ids.clone()))
            .filter(application::Column::LeadProviderId.eq(provider_id))
            .filter(application::Column::Status.eq(ApplicationStatus::Accepted.as_str()))
            .order_by(application::Column::AcceptedAt, Order::Asc)
            .order_by(application::Column::Id, Order::Asc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        let reference = load_reference(&self.db).await?;
        let mut applications_by_person: HashMap<i64, Vec<npq_domain::application::Application>> = HashMap::new();
        let mut application_ids: HashMap<i64, ApplicationId> = HashMap::new();
        for row in &application_rows {
            let (application, _) = application_from(row, &people, &reference)?;
            application_ids.insert(row.id, application.id);
            applications_by_person.entry(row.person_id).or_default().push(application);
        }

        let history_rows = if application_ids.is_empty() {
            Vec::new()
        } else {
            application_history::Entity::find()
                .filter(
                    application_history::Column::ApplicationId
                        .is_in(application_ids.keys().copied().collect::<Vec<_>>()),
                )
                .filter(application_history::Column::Field.eq(HistoryField::TrainingStatus.as_str()))
                .order_by(application_history::Column::Id, Order::Asc)
                .all(&self.db)
                .await
                .map_err(to_store_error)?
        };
        let mut history_by_application: HashMap<i64, Vec<HistoryEntry>> = HashMap::new();
        for row in history_rows {
            let application_id = application_ids[&row.application_id];
            let actor = match row.actor_lead_provider_id.and_then(|id| reference.lead_provider_id(id)) {
                Some(provider) => Actor::LeadProvider(provider),
                None => Actor::Dfe { user: row.actor_user.clone().unwrap_or_default() },
            };
            history_by_application.entry(row.application_id).or_default().push(HistoryEntry {
                application_id,
                at: row.changed_at,
                actor,
                field: HistoryField::TrainingStatus,
                from: row.from_value,
                to: row.to_value,
                reason: row.reason,
            });
        }

        let change_rows = participant_id_change::Entity::find()
            .filter(participant_id_change::Column::ToPersonId.is_in(person_ids))
            .order_by(participant_id_change::Column::Id, Order::Desc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        let mut changes_by_person: HashMap<i64, Vec<ParticipantIdChange>> = HashMap::new();
        for row in change_rows {
            let to = people
                .get(&row.to_person_id)
                .ok_or_else(|| corrupt("participant_id_changes.to_person_id", "refers to no person"))?;
            changes_by_person.entry(row.to_person_id).or_default().push(ParticipantIdChange {
                from_participant_id: ParticipantId::from_uuid(row.from_public_id),
                to_participant_id: ParticipantId::from_uuid(to.public_id),
                changed_at: row.changed_at,
            });
        }

        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(applications) = applications_by_person.remove(&row.person_id) else { continue };
            let person_row =
                people.get(&row.person_id).ok_or_else(|| corrupt("participants.person_id", "refers to no person"))?;
            let training_history = application_rows
                .iter()
                .filter(|application| application.person_id == row.person_id)
                .flat_map(|application| history_by_application.remove(&application.id).unwrap_or_default())
                .collect();
            records.push(ParticipantRecord {
                person: crate::convert::person_from_row(person_row)?,
                applications,
                training_history,
                id_changes: changes_by_person.remove(&row.person_id).unwrap_or_default(),
                updated_at: Ord::max(row.updated_at, person_row.updated_at),
                sort_values: ParticipantSortValues { created_at: row.created_at, updated_at: row.updated_at },
            });
        }
        Ok(records)
    }
}

#[async_trait]
impl ParticipantRepository for Store {
    async fn list_participants(
        &self,
        lead_provider: LeadProviderId,
        query: &ParticipantQuery,
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        let Some(provider_id) = self.lead_provider_id(lead_provider).await? else { return Ok(Vec::new()) };
        let filter = &query.filter;
        let mut enrolments = Query::select()
            .expr(Expr::val(1))
            .from(application::Entity)
            .and_where(
                Expr::col((application::Entity, application::Column::PersonId))
                    .equals((participant::Entity, participant::Column::PersonId)),
            )
            .and_where(Expr::col((application::Entity, application::Column::LeadProviderId)).eq(provider_id))
            .and_where(
                Expr::col((application::Entity, application::Column::Status)).eq(ApplicationStatus::Accepted.as_str()),
            )
            .to_owned();
        if let Some(status) = filter.training_status {
            let column = Expr::col((application::Entity, application::Column::TrainingStatus));
            if status == TrainingStatus::Active {
                enrolments.and_where(column.clone().eq(status.as_str()).or(column.is_null()));
            } else {
                enrolments.and_where(column.eq(status.as_str()));
            }
        }
        let mut select = participant::Entity::find()
            .filter(participant::Column::LeadProviderId.eq(provider_id))
            .filter(Expr::exists(enrolments));
        if let Some(since) = filter.updated_since {
            select = select.filter(participant::Column::UpdatedAt.gte(stored_instant(since)));
        }
        match filter.from_participant_id {
            None => {}
            Some(FromParticipant::NoMatch) => return Ok(Vec::new()),
            Some(FromParticipant::Id(from)) => {
                select = select.filter(Expr::exists(
                    Query::select()
                        .expr(Expr::val(1))
                        .from(participant_id_change::Entity)
                        .and_where(
                            Expr::col((participant_id_change::Entity, participant_id_change::Column::ToPersonId))
                                .equals((participant::Entity, participant::Column::PersonId)),
                        )
                        .and_where(
                            Expr::col((participant_id_change::Entity, participant_id_change::Column::FromPublicId))
                                .eq(from.as_uuid()),
                        )
                        .to_owned(),
                ));
            }
        }
        if let Some(after) = query.after {
            let column = participant_sort_column(crate::keyset::cursor_field(&query.sort));
            let after_row: Option<i64> = participant::Entity::find()
                .select_only()
                .column(participant::Column::Id)
                .filter(participant::Column::LeadProviderId.eq(provider_id))
                .filter(
                    participant::Column::PersonId.in_subquery(
                        Query::select()
                            .column(person::Column::Id)
                            .from(person::Entity)
                            .and_where(Expr::col(person::Column::PublicId).eq(after.id))
                            .to_owned(),
                    ),
                )
                .into_tuple()
                .one(&self.db)
                .await
                .map_err(to_store_error)?;
            select = select.filter(crate::keyset::after(column, participant::Column::Id, after.sort_value, after_row));
        }
        for key in query.sort.keys() {
            let column = participant_sort_column(key.field);
            let order = match key.direction {
                Direction::Ascending => Order::Asc,
                Direction::Descending => Order::Desc,
            };
            select = select.order_by(column, order);
        }
        // The order in which people became participants breaks ties, so pages never overlap.
        select = select.order_by(participant::Column::Id, Order::Asc);
        let rows = select
            .limit(u64::from(query.page.per_page()))
            .offset(query.page.offset())
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        self.participant_records(provider_id, rows).await
    }

    async fn find_participant(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
    ) -> Result<Option<ParticipantRecord>, StoreError> {
        let Some(provider_id) = self.lead_provider_id(lead_provider).await? else { return Ok(None) };
        let row = participant::Entity::find()
            .filter(participant::Column::LeadProviderId.eq(provider_id))
            .filter(
                participant::Column::PersonId.in_subquery(
                    Query::select()
                        .column(person::Column::Id)
                        .from(person::Entity)
                        .and_where(Expr::col(person::Column::PublicId).eq(id.as_uuid()))
                        .to_owned(),
                ),
            )
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.participant_records(provider_id, vec![row]).await?.into_iter().next())
    }

    async fn find_retirement(
        &self,
        id: ParticipantId,
    ) -> Result<Option<(ParticipantIdChange, Vec<ParticipantIdChange>)>, StoreError> {
        let row = participant_id_change::Entity::find()
            .filter(participant_id_change::Column::FromPublicId.eq(id.as_uuid()))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        let Some(row) = row else { return Ok(None) };
        let kept = person::Entity::find_by_id(row.to_person_id)
            .one(&self.db)
            .await
            .map_err(to_store_error)?
            .ok_or_else(|| corrupt("participant_id_changes.to_person_id", "refers to no person"))?;
        let to_participant_id = ParticipantId::from_uuid(kept.public_id);
        let all = participant_id_change::Entity::find()
            .filter(participant_id_change::Column::ToPersonId.eq(kept.id))
            .order_by(participant_id_change::Column::Id, Order::Desc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|change| ParticipantIdChange {
                from_participant_id: ParticipantId::from_uuid(change.from_public_id),
                to_participant_id,
                changed_at: change.changed_at,
            })
            .collect();
        let retirement = ParticipantIdChange {
            from_participant_id: ParticipantId::from_uuid(row.from_public_id),
            to_participant_id,
            changed_at: row.changed_at,
        };
        Ok(Some((retirement, all)))
    }
}

impl Store {
    /// Merges `retired` into `kept` in one transaction (see `DecisionStore::merge_accounts`).
    pub(crate) async fn merge_accounts_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        kept: ParticipantId,
        retired: ParticipantId,
        rule: npq_domain::ports::MergeRule,
    ) -> Result<Option<npq_domain::participant::MergeOutcome>, npq_domain::error::DomainError> {
        // Lock both people, in id order, before reading their applications.
        let people: Vec<person::Model> = person::Entity::find()
            .filter(person::Column::PublicId.is_in([kept.as_uuid(), retired.as_uuid()]))
            .order_by(person::Column::Id, Order::Asc)
            .lock_exclusive()
            .all(txn)
            .await
            .map_err(to_store_error)?;
        let find = |id: ParticipantId| people.iter().find(|row| row.public_id == id.as_uuid()).cloned();
        let (Some(kept_row), Some(retired_row)) = (find(kept), find(retired)) else { return Ok(None) };
        let by_id: HashMap<i64, person::Model> = people.iter().map(|row| (row.id, row.clone())).collect();
        let reference = load_reference(txn).await?;
        let applications_of = |rows: &[application::Model], person_id: i64| {
            rows.iter()
                .filter(|row| row.person_id == person_id)
                .map(|row| application_from(row, &by_id, &reference).map(|(application, _)| application))
                .collect::<Result<Vec<_>, StoreError>>()
        };
        let rows = application::Entity::find()
            .filter(application::Column::PersonId.is_in([kept_row.id, retired_row.id]))
            .order_by(application::Column::Id, Order::Asc)
            .all(txn)
            .await
            .map_err(to_store_error)?;
        let retired_already = |row: &person::Model| row.merged_into_id.is_some();
        let context = npq_domain::participant::MergeContext {
            kept: crate::convert::person_from_row(&kept_row)?,
            kept_applications: applications_of(&rows, kept_row.id)?,
            kept_is_retired: retired_already(&kept_row),
            retired: crate::convert::person_from_row(&retired_row)?,
            retired_applications: applications_of(&rows, retired_row.id)?,
            retired_is_retired: retired_already(&retired_row),
        };
        let outcome = rule(&context)?;
        let at = stored_instant(outcome.change.changed_at);

        // Move the applications, with their TRN keys now under the kept person's verified TRN.
        let trn_place = match kept_row.trn.as_deref().filter(|_| kept_row.trn_verified) {
            Some(trn) => Expr::cust_with_exprs(
                "CASE WHEN $1 IS NULL THEN NULL ELSE $2 || $1 END",
                [Expr::col(application::Column::LivePlace), Expr::val(format!("{trn}:"))],
            ),
            None => Expr::val(Option::<String>::None),
        };
        application::Entity::update_many()
            .col_expr(application::Column::PersonId, Expr::value(kept_row.id))
            .col_expr(application::Column::LiveTrnPlace, trn_place)
            .filter(application::Column::PersonId.eq(retired_row.id))
            .exec(txn)
            .await
            .map_err(to_store_error)?;
        // Every application of the kept person now shows the change to lead providers.
        application::Entity::update_many()
            .col_expr(application::Column::UpdatedAt, Expr::value(at))
            .filter(application::Column::PersonId.eq(kept_row.id))
            .filter(application::Column::UpdatedAt.lt(at))
            .exec(txn)
            .await
            .map_err(to_store_error)?;

        // Earlier changes into the retired account now point at the kept one; a change away from
        // the kept account itself would make a cycle, so it goes.
        participant_id_change::Entity::update_many()
            .col_expr(participant_id_change::Column::ToPersonId, Expr::value(kept_row.id))
            .filter(participant_id_change::Column::ToPersonId.eq(retired_row.id))
            .exec(txn)
            .await
            .map_err(to_store_error)?;
        participant_id_change::Entity::delete_many()
            .filter(participant_id_change::Column::FromPublicId.eq(kept_row.public_id))
            .exec(txn)
            .await
            .map_err(to_store_error)?;
        participant_id_change::Entity::insert(participant_id_change::ActiveModel {
            id: NotSet,
            from_public_id: Set(retired_row.public_id),
            to_person_id: Set(kept_row.id),
            changed_at: Set(at),
        })
        .exec_without_returning(txn)
        .await
        .map_err(to_store_error)?;
        person::Entity::update_many()
            .col_expr(person::Column::MergedIntoId, Expr::value(kept_row.id))
            .filter(person::Column::Id.eq(retired_row.id))
            .exec(txn)
            .await
            .map_err(to_store_error)?;

        let internal_ids: HashMap<uuid::Uuid, i64> = rows.iter().map(|row| (row.public_id, row.id)).collect();
        let history: Vec<application_history::ActiveModel> = outcome
            .history
            .iter()
            .filter_map(|entry| {
                let application_id = *internal_ids.get(&entry.application_id.as_uuid())?;
                let Actor::Dfe { user } = &entry.actor else { return None };
                Some(application_history::ActiveModel {
                    id: NotSet,
                    application_id: Set(application_id),
                    changed_at: Set(at),
                    actor_kind: Set("dfe".to_owned()),
                    actor_lead_provider_id: Set(None),
                    actor_user: Set(Some(user.clone())),
                    field: Set(entry.field.as_str().to_owned()),
                    from_value: Set(entry.from.clone()),
                    to_value: Set(entry.to.clone()),
                    reason: Set(entry.reason.clone()),
                })
            })
            .collect();
        if !history.is_empty() {
            application_history::Entity::insert_many(history)
                .exec_without_returning(txn)
                .await
                .map_err(to_store_error)?;
        }
        add_missing_for(txn, kept_row.id).await?;
        touch_people(txn, vec![kept_row.id], outcome.change.changed_at).await?;
        Ok(Some(outcome))
    }
}

/// Adds the person to the participant list of every provider they have an accepted application
/// with, unless already there.
async fn add_missing_for<C: ConnectionTrait>(db: &C, person_id: i64) -> Result<(), StoreError> {
    let statement = sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => ADD_MISSING_FOR_PERSON.replace('?', "$1"),
            _ => ADD_MISSING_FOR_PERSON.to_owned(),
        },
        [person_id.into()],
    );
    db.execute_raw(statement).await.map_err(to_store_error)?;
    Ok(())
}

fn participant_sort_column(field: SortField) -> participant::Column {
    match field {
        SortField::CreatedAt => participant::Column::CreatedAt,
        SortField::UpdatedAt => participant::Column::UpdatedAt,
    }
}

const ADD_MISSING_FOR_PERSON: &str = "INSERT INTO participants (person_id, lead_provider_id, created_at, updated_at) \
     SELECT a.person_id, a.lead_provider_id, MIN(COALESCE(a.accepted_at, a.created_at)), MAX(a.updated_at) \
     FROM applications a WHERE a.person_id = ? AND a.status = 'accepted' AND NOT EXISTS ( \
       SELECT 1 FROM participants p WHERE p.person_id = a.person_id AND p.lead_provider_id = a.lead_provider_id) \
     GROUP BY a.person_id, a.lead_provider_id";
