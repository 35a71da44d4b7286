//! The domain ports, implemented over sea-orm.

use std::collections::HashMap;

use async_trait::async_trait;
use npq_domain::application::{Application, FundingHistoryEntry};
use npq_domain::auth::{ApiToken, TokenDigest};
use npq_domain::cohort::CohortIdentifier;
use npq_domain::ids::{ApiTokenId, ApplicationId, LeadProviderId, ParticipantId};
use npq_domain::listing::{ApplicationQuery, Direction, SortField};
use npq_domain::person::Person;
use npq_domain::ports::{ApplicationRepository, LeadProviderRepository, TokenRepository};
use npq_domain::provider::LeadProvider;
use npq_domain::{StoreError, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};

use crate::Store;
use crate::convert::{ApplicationLinks, application_from_row, person_from_row, stored_instant};
use crate::entity::{api_token, application, cohort, lead_provider, person, schedule};
use crate::error::{corrupt, to_store_error};

impl Store {
    /// Returns every cohort by internal id.
    pub(crate) async fn cohort_identifiers(&self) -> Result<HashMap<i64, CohortIdentifier>, StoreError> {
        let rows = cohort::Entity::find().all(&self.db).await.map_err(to_store_error)?;
        rows.iter()
            .map(|row| Ok((row.id, row.identifier.parse().map_err(|error| corrupt("cohorts.identifier", error))?)))
            .collect()
    }

    pub(crate) async fn lead_provider_row(
        &self,
        id: LeadProviderId,
    ) -> Result<Option<lead_provider::Model>, StoreError> {
        lead_provider::Entity::find()
            .filter(lead_provider::Column::PublicId.eq(id.as_uuid()))
            .one(&self.db)
            .await
            .map_err(to_store_error)
    }

    /// Turns application rows of one lead provider into domain values, loading their people and
    /// schedules in one query each. `cohorts` maps every cohort's internal id to its identifier.
    async fn applications_with_people(
        &self,
        lead_provider_id: LeadProviderId,
        rows: Vec<application::Model>,
        cohorts: &HashMap<i64, CohortIdentifier>,
    ) -> Result<Vec<(Application, Person)>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let person_ids: Vec<i64> = rows.iter().map(|row| row.person_id).collect();
        let people: HashMap<i64, person::Model> = person::Entity::find()
            .filter(person::Column::Id.is_in(person_ids))
            .all(&self.db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let schedule_ids: Vec<i64> = rows.iter().filter_map(|row| row.schedule_id).collect();
        let schedules: HashMap<i64, String> = if schedule_ids.is_empty() {
            HashMap::new()
        } else {
            schedule::Entity::find()
                .filter(schedule::Column::Id.is_in(schedule_ids))
                .all(&self.db)
                .await
                .map_err(to_store_error)?
                .into_iter()
                .map(|row| (row.id, row.identifier))
                .collect()
        };

        rows.iter()
            .map(|row| {
                let person_row = people
                    .get(&row.person_id)
                    .ok_or_else(|| corrupt("applications.person_id", "refers to no person"))?;
                let cohort = *cohorts
                    .get(&row.cohort_id)
                    .ok_or_else(|| corrupt("applications.cohort_id", "refers to no cohort"))?;
                let schedule = match row.schedule_id {
                    None => None,
                    Some(id) => {
                        let identifier = schedules
                            .get(&id)
                            .ok_or_else(|| corrupt("applications.schedule_id", "refers to no schedule"))?;
                        Some(identifier.parse().map_err(|error| corrupt("schedules.identifier", error))?)
                    }
                };
                let links = ApplicationLinks {
                    participant_id: ParticipantId::from_uuid(person_row.public_id),
                    lead_provider_id,
                    cohort,
                    schedule,
                };
                Ok((application_from_row(row, links)?, person_from_row(person_row)?))
            })
            .collect()
    }
}

#[async_trait]
impl ApplicationRepository for Store {
    async fn list_applications(
        &self,
        lead_provider: LeadProviderId,
        query: &ApplicationQuery,
    ) -> Result<Vec<(Application, Person)>, StoreError> {
        let Some(provider) = self.lead_provider_row(lead_provider).await? else { return Ok(Vec::new()) };
        let mut select = application::Entity::find().filter(application::Column::LeadProviderId.eq(provider.id));
        let cohorts = self.cohort_identifiers().await?;

        if let Some(selectors) = &query.filter.cohorts {
            let cohort_ids: Vec<i64> = cohorts
                .iter()
                .filter(|(_, identifier)| selectors.iter().any(|selector| selector.matches(**identifier)))
                .map(|(id, _)| *id)
                .collect();
            if cohort_ids.is_empty() {
                return Ok(Vec::new());
            }
            select = select.filter(application::Column::CohortId.is_in(cohort_ids));
        }
        if let Some(since) = query.filter.updated_since {
            select = select.filter(application::Column::UpdatedAt.gte(stored_instant(since)));
        }
        if let Some(participant_ids) = &query.filter.participant_ids {
            let uuids: Vec<uuid::Uuid> = participant_ids.iter().map(ParticipantId::as_uuid).collect();
            select = select.filter(
                application::Column::PersonId.in_subquery(
                    Query::select()
                        .column(person::Column::Id)
                        .from(person::Entity)
                        .and_where(Expr::col(person::Column::PublicId).is_in(uuids))
                        .to_owned(),
                ),
            );
        }
        if let Some(after) = query.after {
            let column = sort_column(crate::keyset::cursor_field(&query.sort));
            let after_row: Option<i64> = application::Entity::find()
                .select_only()
                .column(application::Column::Id)
                .filter(application::Column::PublicId.eq(after.id))
                .into_tuple()
                .one(&self.db)
                .await
                .map_err(to_store_error)?;
            select = select.filter(crate::keyset::after(column, application::Column::Id, after.sort_value, after_row));
        }
        for key in query.sort.keys() {
            let column = sort_column(key.field);
            let order = match key.direction {
                Direction::Ascending => Order::Asc,
                Direction::Descending => Order::Desc,
            };
            select = select.order_by(column, order);
        }
        // Insertion order breaks ties, so the order is total and pages never overlap.
        select = select.order_by(application::Column::Id, Order::Asc);

        let rows = select
            .limit(u64::from(query.page.per_page()))
            .offset(query.page.offset())
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        self.applications_with_people(lead_provider, rows, &cohorts).await
    }

    async fn find_application(
        &self,
        lead_provider: LeadProviderId,
        id: ApplicationId,
    ) -> Result<Option<(Application, Person)>, StoreError> {
        let Some(provider) = self.lead_provider_row(lead_provider).await? else { return Ok(None) };
        let row = application::Entity::find()
            .filter(application::Column::PublicId.eq(id.as_uuid()))
            .filter(application::Column::LeadProviderId.eq(provider.id))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        let Some(row) = row else { return Ok(None) };
        let cohorts = self.cohort_identifiers().await?;
        Ok(self.applications_with_people(lead_provider, vec![row], &cohorts).await?.into_iter().next())
    }

    async fn funding_history(&self, people: &[ParticipantId]) -> Result<Vec<FundingHistoryEntry>, StoreError> {
        if people.is_empty() {
            return Ok(Vec::new());
        }
        let uuids: Vec<uuid::Uuid> = people.iter().map(ParticipantId::as_uuid).collect();
        let person_rows: HashMap<i64, uuid::Uuid> = person::Entity::find()
            .select_only()
            .column(person::Column::Id)
            .column(person::Column::PublicId)
            .filter(person::Column::PublicId.is_in(uuids))
            .into_tuple::<(i64, uuid::Uuid)>()
            .all(&self.db)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .collect();
        if person_rows.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(uuid::Uuid, i64, String, String, bool, Option<bool>)> = application::Entity::find()
            .select_only()
            .column(application::Column::PublicId)
            .column(application::Column::PersonId)
            .column(application::Column::CourseIdentifier)
            .column(application::Column::Status)
            .column(application::Column::EligibleForFunding)
            .column(application::Column::FundedPlace)
            .filter(application::Column::PersonId.is_in(person_rows.keys().copied().collect::<Vec<_>>()))
            .filter(application::Column::Status.eq("accepted"))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        rows.into_iter()
            .map(|(public_id, person_id, course, status, eligible_for_funding, funded_place)| {
                Ok(FundingHistoryEntry {
                    application_id: ApplicationId::from_uuid(public_id),
                    participant_id: ParticipantId::from_uuid(person_rows[&person_id]),
                    course: course.parse().map_err(|error| corrupt("applications.course_identifier", error))?,
                    status: status.parse().map_err(|error| corrupt("applications.status", error))?,
                    eligible_for_funding,
                    funded_place,
                })
            })
            .collect()
    }
}

fn sort_column(field: SortField) -> application::Column {
    match field {
        SortField::CreatedAt => application::Column::CreatedAt,
        SortField::UpdatedAt => application::Column::UpdatedAt,
    }
}

fn token_from_row(row: api_token::Model, lead_provider: Option<LeadProviderId>) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: ApiTokenId::from_uuid(row.public_id),
        scope: row.scope.parse().map_err(|error| corrupt("api_tokens.scope", error))?,
        lead_provider,
        digest: TokenDigest::from_stored(row.hashed_token),
        description: row.description,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    })
}

#[async_trait]
impl TokenRepository for Store {
    async fn find_token_by_digest(&self, digest: &TokenDigest) -> Result<Option<ApiToken>, StoreError> {
        let found = api_token::Entity::find()
            .filter(api_token::Column::HashedToken.eq(digest.as_str()))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        let Some(row) = found else { return Ok(None) };
        let lead_provider = match row.lead_provider_id {
            None => None,
            Some(id) => {
                let provider = lead_provider::Entity::find_by_id(id).one(&self.db).await.map_err(to_store_error)?;
                let provider =
                    provider.ok_or_else(|| corrupt("api_tokens.lead_provider_id", "refers to no lead provider"))?;
                Some(LeadProviderId::from_uuid(provider.public_id))
            }
        };
        token_from_row(row, lead_provider).map(Some)
    }

    async fn record_token_use(&self, id: ApiTokenId, at: Timestamp) -> Result<(), StoreError> {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(stored_instant(at)))
            .filter(api_token::Column::PublicId.eq(id.as_uuid()))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(to_store_error)
    }

    async fn insert_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        use sea_orm::ActiveValue::{NotSet, Set};
        let lead_provider_id = match token.lead_provider {
            None => None,
            Some(id) => Some(
                self.lead_provider_row(id)
                    .await?
                    .ok_or_else(|| StoreError::Conflict(format!("lead provider {id} does not exist")))?
                    .id,
            ),
        };
        let row = api_token::ActiveModel {
            id: NotSet,
            public_id: Set(token.id.as_uuid()),
            scope: Set(token.scope.as_str().to_owned()),
            lead_provider_id: Set(lead_provider_id),
            hashed_token: Set(token.digest.as_str().to_owned()),
            description: Set(token.description.clone()),
            created_at: Set(stored_instant(token.created_at)),
            last_used_at: Set(token.last_used_at.map(stored_instant)),
        };
        api_token::Entity::insert(row).exec_without_returning(&self.db).await.map(|_| ()).map_err(to_store_error)
    }
}

fn lead_provider_from_row(row: lead_provider::Model) -> LeadProvider {
    LeadProvider {
        id: LeadProviderId::from_uuid(row.public_id),
        name: row.name,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

#[async_trait]
impl LeadProviderRepository for Store {
    async fn find_lead_provider_by_name(&self, name: &str) -> Result<Option<LeadProvider>, StoreError> {
        let row = lead_provider::Entity::find()
            .filter(lead_provider::Column::Name.eq(name))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        Ok(row.map(lead_provider_from_row))
    }

    async fn list_lead_providers(&self) -> Result<Vec<LeadProvider>, StoreError> {
        let rows = lead_provider::Entity::find()
            .order_by(lead_provider::Column::Name, Order::Asc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        Ok(rows.into_iter().map(lead_provider_from_row).collect())
    }

    async fn allowed_networks(&self, id: LeadProviderId) -> Result<Option<npq_domain::network::AllowList>, StoreError> {
        self.read_allowed_networks(id).await
    }

    async fn set_allowed_networks(
        &self,
        id: LeadProviderId,
        networks: &npq_domain::network::AllowList,
    ) -> Result<bool, StoreError> {
        self.write_allowed_networks(id, networks).await
    }
}

impl Store {
    /// Returns every cohort, oldest first.
    pub async fn cohorts(&self) -> Result<Vec<npq_domain::cohort::Cohort>, StoreError> {
        let rows = cohort::Entity::find()
            .order_by(cohort::Column::StartYear, Order::Asc)
            .order_by(cohort::Column::Suffix, Order::Asc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        rows.iter().map(crate::convert::cohort_from_row).collect()
    }

    /// Returns every schedule of every cohort.
    pub async fn schedules(&self) -> Result<Vec<npq_domain::schedule::Schedule>, StoreError> {
        let cohorts = self.cohort_identifiers().await?;
        let rows = schedule::Entity::find()
            .order_by(schedule::Column::Id, Order::Asc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        rows.iter()
            .map(|row| {
                let cohort = *cohorts
                    .get(&row.cohort_id)
                    .ok_or_else(|| corrupt("schedules.cohort_id", "refers to no cohort"))?;
                crate::convert::schedule_from_row(row, cohort)
            })
            .collect()
    }
}
