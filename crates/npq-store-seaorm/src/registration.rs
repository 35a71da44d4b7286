//! Registration over sea-orm: the reference lists that decide funding eligibility, their CSV
//! import, and storing a registration in one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use npq_domain::StoreError;
use npq_domain::cohort::{Cohort, CohortIdentifier};
use npq_domain::error::DomainError;
use npq_domain::identifiers::{OfstedUrn, SchoolUrn};
use npq_domain::ids::LeadProviderId;
use npq_domain::person::Person;
use npq_domain::ports::{
    Idempotency, ReferenceListRepository, Registered, RegistrationContext, RegistrationRule, RegistrationStore,
    idempotency_key_reused,
};
use npq_domain::provider::LeadProvider;
use npq_domain::registration::{ChildcareProviderRecord, IttProviderRecord, SchoolRecord};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseTransaction, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use crate::Store;
use crate::convert::{application_to_row, person_to_row, stored_instant};
use crate::decisions::{application_from, load_reference};
use crate::entity::{
    application, childcare_provider, cohort, delivery_partnership, itt_provider, lead_provider, person,
    registration_request, school,
};
use crate::error::{corrupt, to_store_error};
use crate::writes::{PersonKey, application_keys, load_keys};

fn school_from_row(row: school::Model) -> Result<SchoolRecord, StoreError> {
    Ok(SchoolRecord {
        urn: row.urn.parse().map_err(|error| corrupt("schools.urn", error))?,
        name: row.name,
        ukprn: row.ukprn.map(|ukprn| ukprn.parse()).transpose().map_err(|error| corrupt("schools.ukprn", error))?,
        establishment_type: u16::try_from(row.establishment_type)
            .map_err(|error| corrupt("schools.establishment_type", error))?,
        on_rise_list: row.on_rise_list,
        on_pp50_list: row.on_pp50_list,
    })
}

#[async_trait]
impl ReferenceListRepository for Store {
    async fn list_cohorts(&self) -> Result<Vec<Cohort>, StoreError> {
        self.cohorts().await
    }

    async fn find_school(&self, urn: &SchoolUrn) -> Result<Option<SchoolRecord>, StoreError> {
        let row = school::Entity::find()
            .filter(school::Column::Urn.eq(urn.as_str()))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        row.map(school_from_row).transpose()
    }

    async fn find_childcare_provider(&self, urn: &OfstedUrn) -> Result<Option<ChildcareProviderRecord>, StoreError> {
        let row = childcare_provider::Entity::find()
            .filter(childcare_provider::Column::Urn.eq(urn.as_str()))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        row.map(|row| {
            Ok(ChildcareProviderRecord {
                urn: row.urn.parse().map_err(|error| corrupt("childcare_providers.urn", error))?,
                name: row.name,
                on_childminder_list: row.on_childminder_list,
            })
        })
        .transpose()
    }

    async fn find_itt_provider(&self, legal_name: &str) -> Result<Option<IttProviderRecord>, StoreError> {
        let row = itt_provider::Entity::find()
            .filter(itt_provider::Column::NameKey.eq(legal_name.trim().to_lowercase()))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        Ok(row.map(|row| IttProviderRecord { legal_name: row.legal_name, approved: row.approved }))
    }

    async fn lead_providers_in_cohort(
        &self,
        cohort_identifier: CohortIdentifier,
    ) -> Result<Vec<LeadProvider>, StoreError> {
        let rows = lead_provider::Entity::find()
            .filter(
                lead_provider::Column::Id.in_subquery(
                    Query::select()
                        .column(delivery_partnership::Column::LeadProviderId)
                        .from(delivery_partnership::Entity)
                        .and_where(
                            Expr::col(delivery_partnership::Column::CohortId).in_subquery(
                                Query::select()
                                    .column(cohort::Column::Id)
                                    .from(cohort::Entity)
                                    .and_where(Expr::col(cohort::Column::Identifier).eq(cohort_identifier.to_string()))
                                    .to_owned(),
                            ),
                        )
                        .to_owned(),
                ),
            )
            .order_by(lead_provider::Column::Name, Order::Asc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        Ok(rows
            .into_iter()
            .map(|row| LeadProvider {
                id: LeadProviderId::from_uuid(row.public_id),
                name: row.name,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
            .collect())
    }
}

impl Store {
    /// Adds or replaces schools by URN, in one transaction.
    pub async fn import_schools(&self, schools: &[SchoolRecord]) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        for chunk in schools.chunks(500) {
            let rows = chunk.iter().map(|record| school::ActiveModel {
                id: NotSet,
                urn: Set(record.urn.as_str().to_owned()),
                name: Set(record.name.clone()),
                ukprn: Set(record.ukprn.as_ref().map(|ukprn| ukprn.as_str().to_owned())),
                establishment_type: Set(i32::from(record.establishment_type)),
                on_rise_list: Set(record.on_rise_list),
                on_pp50_list: Set(record.on_pp50_list),
            });
            school::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(school::Column::Urn)
                        .update_columns([
                            school::Column::Name,
                            school::Column::Ukprn,
                            school::Column::EstablishmentType,
                            school::Column::OnRiseList,
                            school::Column::OnPp50List,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(to_store_error)?;
        }
        txn.commit().await.map_err(to_store_error)
    }

    /// Adds or replaces private childcare providers by Ofsted URN, in one transaction.
    pub async fn import_childcare_providers(&self, providers: &[ChildcareProviderRecord]) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        for chunk in providers.chunks(500) {
            let rows = chunk.iter().map(|record| childcare_provider::ActiveModel {
                id: NotSet,
                urn: Set(record.urn.as_str().to_owned()),
                name: Set(record.name.clone()),
                on_childminder_list: Set(record.on_childminder_list),
            });
            childcare_provider::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(childcare_provider::Column::Urn)
                        .update_columns([
                            childcare_provider::Column::Name,
                            childcare_provider::Column::OnChildminderList,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(to_store_error)?;
        }
        txn.commit().await.map_err(to_store_error)
    }

    /// Adds or replaces initial teacher training providers by legal name, in one transaction.
    pub async fn import_itt_providers(&self, providers: &[IttProviderRecord]) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        for chunk in providers.chunks(500) {
            let rows = chunk.iter().map(|record| itt_provider::ActiveModel {
                id: NotSet,
                legal_name: Set(record.legal_name.trim().to_owned()),
                name_key: Set(record.legal_name.trim().to_lowercase()),
                approved: Set(record.approved),
            });
            itt_provider::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(itt_provider::Column::NameKey)
                        .update_columns([itt_provider::Column::LegalName, itt_provider::Column::Approved])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(to_store_error)?;
        }
        txn.commit().await.map_err(to_store_error)
    }

    /// Returns how many schools are stored.
    pub async fn count_schools(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        school::Entity::find().count(&self.db).await.map_err(to_store_error)
    }

    /// Returns the application an idempotency key registered, with the fingerprint of its request.
    async fn registered_application(
        &self,
        txn: &DatabaseTransaction,
        key: &str,
    ) -> Result<Option<(npq_domain::ids::ApplicationId, String)>, StoreError> {
        let Some(request) = registration_request::Entity::find()
            .filter(registration_request::Column::IdempotencyKey.eq(key))
            .one(txn)
            .await
            .map_err(to_store_error)?
        else {
            return Ok(None);
        };
        let public_id: uuid::Uuid = application::Entity::find()
            .select_only()
            .column(application::Column::PublicId)
            .filter(application::Column::Id.eq(request.application_id))
            .into_tuple()
            .one(txn)
            .await
            .map_err(to_store_error)?
            .ok_or_else(|| corrupt("registration_requests.application_id", "refers to no application"))?;
        Ok(Some((npq_domain::ids::ApplicationId::from_uuid(public_id), request.fingerprint)))
    }

    /// Answers a key used before: the first application for the same request, an error for another.
    fn replay(
        found: (npq_domain::ids::ApplicationId, String),
        idempotency: &Idempotency,
    ) -> Result<Registered, DomainError> {
        let (application, fingerprint) = found;
        if fingerprint == idempotency.fingerprint {
            Ok(Registered { application, created: false })
        } else {
            Err(idempotency_key_reused())
        }
    }

    async fn register_in(
        &self,
        txn: &DatabaseTransaction,
        new_person: Person,
        idempotency: Option<&Idempotency>,
        rule: RegistrationRule,
    ) -> Result<Registered, DomainError> {
        if let Some(idempotency) = idempotency
            && let Some(found) = self.registered_application(txn, &idempotency.key).await?
        {
            return Self::replay(found, idempotency);
        }
        let email = new_person.email.clone().unwrap_or_default();
        // Create the account unless one has this address; the unique index settles a race.
        let mut row = person_to_row(&new_person);
        row.account_email = Set(Some(email.clone()));
        person::Entity::insert(row)
            .on_conflict(OnConflict::column(person::Column::AccountEmail).do_nothing().to_owned())
            .exec_without_returning(txn)
            .await
            .map_err(to_store_error)?;
        let person_row = person::Entity::find()
            .filter(person::Column::AccountEmail.eq(email))
            .lock_exclusive()
            .one(txn)
            .await
            .map_err(to_store_error)?
            .ok_or_else(|| StoreError::Other("the applicant's account was not found after it was stored".to_owned()))?;
        let people: HashMap<i64, person::Model> = HashMap::from([(person_row.id, person_row.clone())]);
        let reference = load_reference(txn).await?;
        let rows = application::Entity::find()
            .filter(application::Column::PersonId.eq(person_row.id))
            .all(txn)
            .await
            .map_err(to_store_error)?;
        let applications = rows
            .iter()
            .map(|row| application_from(row, &people, &reference).map(|(application, _)| application))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let person = crate::convert::person_from_row(&person_row)?;
        let application = rule(&RegistrationContext { person, applications })?;

        let keys = load_keys(txn).await?;
        let person_keys = HashMap::from([(
            person_row.public_id,
            PersonKey { id: person_row.id, verified_trn: person_row.trn.clone().filter(|_| person_row.trn_verified) },
        )]);
        let row = application_to_row(&application, application_keys(&application, &keys, &person_keys)?);
        application::Entity::insert(row).exec_without_returning(txn).await.map_err(to_store_error)?;
        // A new application changes what providers see on the person's other applications.
        let at = stored_instant(application.created_at);
        application::Entity::update_many()
            .col_expr(application::Column::UpdatedAt, Expr::value(at))
            .filter(application::Column::PersonId.eq(person_row.id))
            .filter(application::Column::UpdatedAt.lt(at))
            .exec(txn)
            .await
            .map_err(to_store_error)?;
        if let Some(idempotency) = idempotency {
            let internal: i64 = application::Entity::find()
                .select_only()
                .column(application::Column::Id)
                .filter(application::Column::PublicId.eq(application.id.as_uuid()))
                .into_tuple()
                .one(txn)
                .await
                .map_err(to_store_error)?
                .ok_or_else(|| StoreError::Other("the new application was not found".to_owned()))?;
            registration_request::Entity::insert(registration_request::ActiveModel {
                id: NotSet,
                idempotency_key: Set(idempotency.key.clone()),
                fingerprint: Set(idempotency.fingerprint.clone()),
                application_id: Set(internal),
                created_at: Set(at),
            })
            .exec_without_returning(txn)
            .await
            .map_err(to_store_error)?;
        }
        Ok(Registered { application: application.id, created: true })
    }
}

#[async_trait]
impl RegistrationStore for Store {
    async fn register(
        &self,
        new_person: Person,
        idempotency: Option<Idempotency>,
        rule: RegistrationRule,
    ) -> Result<Registered, DomainError> {
        let txn = self.begin_write().await?;
        let registered = self.register_in(&txn, new_person, idempotency.as_ref(), rule).await;
        match registered {
            Ok(registered) => match txn.commit().await.map_err(to_store_error) {
                Ok(()) => Ok(registered),
                Err(error) => Err(error.into()),
            },
            Err(DomainError::Store(StoreError::Conflict(message))) if idempotency.is_some() => {
                // Another request with the same key won the race: reply as to a repeated key.
                txn.rollback().await.map_err(to_store_error)?;
                let Some(idempotency) = idempotency else { return Err(StoreError::Conflict(message).into()) };
                let txn = self.db.begin().await.map_err(to_store_error)?;
                let winner = self.registered_application(&txn, &idempotency.key).await?;
                txn.commit().await.map_err(to_store_error)?;
                match winner {
                    Some(found) => Self::replay(found, &idempotency),
                    None => Err(StoreError::Conflict(message).into()),
                }
            }
            Err(error) => {
                txn.rollback().await.map_err(to_store_error)?;
                Err(error)
            }
        }
    }
}
