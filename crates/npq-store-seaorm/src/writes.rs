//! Writes used by seeding, operators and tests. Each public method is one transaction: it is
//! applied whole or not at all.

use std::collections::HashMap;

use npq_domain::StoreError;
use npq_domain::application::Application;
use npq_domain::person::Person;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use crate::Store;
use crate::convert::{ApplicationKeys, application_to_row, person_to_row, stored_instant};
use crate::entity::{application, cohort, delivery_partner, delivery_partnership, lead_provider, person, schedule};
use crate::error::to_store_error;
use crate::seed::ReferenceData;

/// Rows per multi-row INSERT: with the widest table (37 columns) this stays under SQLite's limit
/// of 32,766 bound parameters per statement and PostgreSQL's 65,535.
const INSERT_CHUNK: usize = 800;

/// Lookups from public values to internal ids, loaded once per transaction.
pub(crate) struct Keys {
    pub cohorts: HashMap<String, i64>,
    pub lead_providers: HashMap<uuid::Uuid, i64>,
    pub schedules: HashMap<(i64, String), i64>,
}

pub(crate) async fn load_keys(txn: &DatabaseTransaction) -> Result<Keys, StoreError> {
    let cohorts = cohort::Entity::find().all(txn).await.map_err(to_store_error)?;
    let lead_providers = lead_provider::Entity::find().all(txn).await.map_err(to_store_error)?;
    let schedules = schedule::Entity::find().all(txn).await.map_err(to_store_error)?;
    Ok(Keys {
        cohorts: cohorts.into_iter().map(|row| (row.identifier, row.id)).collect(),
        lead_providers: lead_providers.into_iter().map(|row| (row.public_id, row.id)).collect(),
        schedules: schedules.into_iter().map(|row| ((row.cohort_id, row.identifier), row.id)).collect(),
    })
}

/// A person's internal id and verified TRN.
pub(crate) struct PersonKey {
    pub id: i64,
    pub verified_trn: Option<String>,
}

pub(crate) async fn person_keys(
    txn: &DatabaseTransaction,
    public_ids: Vec<uuid::Uuid>,
) -> Result<HashMap<uuid::Uuid, PersonKey>, StoreError> {
    let mut keys = HashMap::with_capacity(public_ids.len());
    for chunk in public_ids.chunks(INSERT_CHUNK) {
        let rows: Vec<(i64, uuid::Uuid, Option<String>, bool)> = person::Entity::find()
            .select_only()
            .column(person::Column::Id)
            .column(person::Column::PublicId)
            .column(person::Column::Trn)
            .column(person::Column::TrnVerified)
            .filter(person::Column::PublicId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(txn)
            .await
            .map_err(to_store_error)?;
        keys.extend(rows.into_iter().map(|(id, public_id, trn, verified)| {
            (public_id, PersonKey { id, verified_trn: trn.filter(|_| verified) })
        }));
    }
    Ok(keys)
}

pub(crate) fn application_keys(
    application: &Application,
    keys: &Keys,
    people: &HashMap<uuid::Uuid, PersonKey>,
) -> Result<ApplicationKeys, StoreError> {
    let missing = |what: String| StoreError::Conflict(format!("application {}: {what} does not exist", application.id));
    let cohort_id = *keys
        .cohorts
        .get(&application.cohort.to_string())
        .ok_or_else(|| missing(format!("cohort {}", application.cohort)))?;
    let schedule_id = match application.schedule {
        None => None,
        Some(identifier) => Some(
            *keys
                .schedules
                .get(&(cohort_id, identifier.as_str().to_owned()))
                .ok_or_else(|| missing(format!("schedule {identifier} in cohort {}", application.cohort)))?,
        ),
    };
    let person = people
        .get(&application.participant_id.as_uuid())
        .ok_or_else(|| missing(format!("person {}", application.participant_id)))?;
    Ok(ApplicationKeys {
        person_id: person.id,
        verified_trn: person.verified_trn.clone(),
        lead_provider_id: *keys
            .lead_providers
            .get(&application.lead_provider_id.as_uuid())
            .ok_or_else(|| missing(format!("lead provider {}", application.lead_provider_id)))?,
        cohort_id,
        schedule_id,
    })
}

impl Store {
    /// Inserts cohorts, lead providers, delivery partners, partnerships and schedules.
    pub async fn insert_reference_data(&self, data: &ReferenceData) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        let now = stored_instant(chrono::Utc::now());

        for cohort in &data.cohorts {
            let row = cohort::ActiveModel {
                id: NotSet,
                identifier: Set(cohort.identifier.to_string()),
                start_year: Set(i32::from(cohort.identifier.start_year())),
                suffix: Set(cohort.identifier.suffix().to_string()),
                description: Set(cohort.description.clone()),
                registration_start_date: Set(stored_instant(cohort.registration_start_date)),
                funding: Set(cohort.funding.as_str().to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
            };
            cohort::Entity::insert(row).exec_without_returning(&txn).await.map_err(to_store_error)?;
        }
        for provider in &data.lead_providers {
            let row = lead_provider::ActiveModel {
                id: NotSet,
                public_id: Set(provider.id.as_uuid()),
                name: Set(provider.name.clone()),
                allowed_networks: NotSet,
                created_at: Set(stored_instant(provider.created_at)),
                updated_at: Set(stored_instant(provider.updated_at)),
            };
            lead_provider::Entity::insert(row).exec_without_returning(&txn).await.map_err(to_store_error)?;
        }
        for partner in &data.delivery_partners {
            let row = delivery_partner::ActiveModel {
                id: NotSet,
                public_id: Set(partner.id.as_uuid()),
                name: Set(partner.name.clone()),
                created_at: Set(stored_instant(partner.created_at)),
                updated_at: Set(stored_instant(partner.updated_at)),
            };
            delivery_partner::Entity::insert(row).exec_without_returning(&txn).await.map_err(to_store_error)?;
        }

        let keys = load_keys(&txn).await?;
        let partners: HashMap<uuid::Uuid, i64> = delivery_partner::Entity::find()
            .all(&txn)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|row| (row.public_id, row.id))
            .collect();
        let unknown = |what: String| StoreError::Conflict(format!("reference data refers to unknown {what}"));
        for chunk in data.schedules.chunks(INSERT_CHUNK) {
            let mut rows = Vec::with_capacity(chunk.len());
            for schedule in chunk {
                let cohort_id = *keys
                    .cohorts
                    .get(&schedule.cohort.to_string())
                    .ok_or_else(|| unknown(format!("cohort {}", schedule.cohort)))?;
                let types: Vec<&str> = schedule.allowed_declaration_types.iter().map(|kind| kind.as_str()).collect();
                rows.push(schedule::ActiveModel {
                    id: NotSet,
                    cohort_id: Set(cohort_id),
                    identifier: Set(schedule.identifier.as_str().to_owned()),
                    course_group: Set(schedule.course_group().as_str().to_owned()),
                    name: Set(schedule.name.clone()),
                    applies_from: Set(schedule.applies_from),
                    applies_to: Set(schedule.applies_to),
                    allowed_declaration_types: Set(types.join(",")),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
            }
            schedule::Entity::insert_many(rows).exec_without_returning(&txn).await.map_err(to_store_error)?;
        }
        for chunk in data.partnerships.chunks(INSERT_CHUNK) {
            let mut rows = Vec::with_capacity(chunk.len());
            for partnership in chunk {
                rows.push(delivery_partnership::ActiveModel {
                    id: NotSet,
                    lead_provider_id: Set(*keys
                        .lead_providers
                        .get(&partnership.lead_provider.as_uuid())
                        .ok_or_else(|| unknown(format!("lead provider {}", partnership.lead_provider)))?),
                    delivery_partner_id: Set(*partners
                        .get(&partnership.delivery_partner.as_uuid())
                        .ok_or_else(|| unknown(format!("delivery partner {}", partnership.delivery_partner)))?),
                    cohort_id: Set(*keys
                        .cohorts
                        .get(&partnership.cohort.to_string())
                        .ok_or_else(|| unknown(format!("cohort {}", partnership.cohort)))?),
                    created_at: Set(now),
                });
            }
            delivery_partnership::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await
                .map_err(to_store_error)?;
        }
        txn.commit().await.map_err(to_store_error)
    }

    /// Inserts people.
    pub async fn insert_people(&self, people: &[Person]) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        for chunk in people.chunks(INSERT_CHUNK) {
            let rows: Vec<_> = chunk.iter().map(person_to_row).collect();
            person::Entity::insert_many(rows).exec_without_returning(&txn).await.map_err(to_store_error)?;
        }
        txn.commit().await.map_err(to_store_error)
    }

    /// Inserts applications. Their people, lead providers, cohorts and schedules must exist.
    pub async fn insert_applications(&self, applications: &[Application]) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        let keys = load_keys(&txn).await?;
        let mut public_ids: Vec<uuid::Uuid> =
            applications.iter().map(|application| application.participant_id.as_uuid()).collect();
        public_ids.sort_unstable();
        public_ids.dedup();
        let people = person_keys(&txn, public_ids).await?;
        for chunk in applications.chunks(INSERT_CHUNK) {
            let rows = chunk
                .iter()
                .map(|application| Ok(application_to_row(application, application_keys(application, &keys, &people)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            application::Entity::insert_many(rows).exec_without_returning(&txn).await.map_err(to_store_error)?;
        }
        crate::participants::add_missing(&txn).await?;
        txn.commit().await.map_err(to_store_error)
    }

    /// Replaces a stored application with `application`, matched by its public id.
    pub async fn update_application(&self, application: &Application) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        let keys = load_keys(&txn).await?;
        let people = person_keys(&txn, vec![application.participant_id.as_uuid()]).await?;
        let mut row = application_to_row(application, application_keys(application, &keys, &people)?);
        row.public_id = NotSet;
        let result = application::Entity::update_many()
            .set(row)
            .filter(application::Column::PublicId.eq(application.id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(to_store_error)?;
        if result.rows_affected != 1 {
            return Err(StoreError::Conflict(format!("application {} does not exist", application.id)));
        }
        txn.commit().await.map_err(to_store_error)
    }

    /// Replaces a stored person with `person`. Lead providers see people through applications, so
    /// every application of the person whose `updated_at` is older than the person's moves up to
    /// it, in the same transaction: a client polling with `updated_since` notices the change.
    pub async fn update_person(&self, person: &Person) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        let mut row = person_to_row(person);
        row.public_id = NotSet;
        row.created_at = NotSet;
        let result = person::Entity::update_many()
            .set(row)
            .filter(person::Column::PublicId.eq(person.participant_id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(to_store_error)?;
        if result.rows_affected != 1 {
            return Err(StoreError::Conflict(format!("person {} does not exist", person.participant_id)));
        }
        let people = person_keys(&txn, vec![person.participant_id.as_uuid()]).await?;
        let person_ids: Vec<i64> = people.values().map(|key| key.id).collect();
        let touched_at = stored_instant(person.updated_at);
        application::Entity::update_many()
            .col_expr(application::Column::UpdatedAt, Expr::value(touched_at))
            .filter(application::Column::PersonId.is_in(person_ids.clone()))
            .filter(application::Column::UpdatedAt.lt(touched_at))
            .exec(&txn)
            .await
            .map_err(to_store_error)?;
        crate::participants::touch_people(&txn, person_ids.clone(), person.updated_at).await?;
        // A live place is held under the verified TRN too, so a change of TRN moves that key.
        let trn_place = match person.verified_trn() {
            Some(trn) => Expr::cust_with_exprs(
                "$1 || $2",
                [Expr::val(format!("{}:", trn.as_str())), Expr::col(application::Column::LivePlace)],
            ),
            None => Expr::val(Option::<String>::None),
        };
        application::Entity::update_many()
            .col_expr(application::Column::LiveTrnPlace, trn_place)
            .filter(application::Column::PersonId.is_in(person_ids))
            .filter(application::Column::LivePlace.is_not_null())
            .exec(&txn)
            .await
            .map_err(to_store_error)?;
        txn.commit().await.map_err(to_store_error)
    }

    /// Returns how many applicants (people) are stored.
    pub async fn count_people(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        person::Entity::find().count(&self.db).await.map_err(to_store_error)
    }

    /// Returns how many lead providers are stored; zero means the reference data is missing.
    pub async fn count_lead_providers(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        lead_provider::Entity::find().count(&self.db).await.map_err(to_store_error)
    }
}
