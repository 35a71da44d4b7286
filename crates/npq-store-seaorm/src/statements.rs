//! Statements and their contracts in the store.

use std::collections::HashMap;

use npq_domain::StoreError;
use npq_domain::payment::ContractTerms;
use npq_domain::statement::Statement;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::Store;
use crate::convert::stored_instant;
use crate::entity::{cohort, contract, lead_provider, statement};
use crate::error::to_store_error;

/// Internal ids of lead providers and cohorts, by public id and identifier.
pub(crate) struct Keys {
    pub(crate) providers: HashMap<uuid::Uuid, i64>,
    pub(crate) cohorts: HashMap<String, i64>,
}

pub(crate) async fn keys<C: ConnectionTrait>(db: &C) -> Result<Keys, StoreError> {
    let providers = lead_provider::Entity::find()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .map(|row| (row.public_id, row.id))
        .collect();
    let cohorts = cohort::Entity::find()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .map(|row| (row.identifier, row.id))
        .collect();
    Ok(Keys { providers, cohorts })
}

fn to_i32(column: &str, value: u32) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| StoreError::Conflict(format!("{column} {value} is too large to store")))
}

pub(crate) fn statement_row(statement: &Statement, keys: &Keys) -> Result<statement::ActiveModel, StoreError> {
    let provider = *keys
        .providers
        .get(&statement.lead_provider.as_uuid())
        .ok_or_else(|| StoreError::Conflict(format!("lead provider {} does not exist", statement.lead_provider)))?;
    let cohort = *keys
        .cohorts
        .get(&statement.cohort.to_string())
        .ok_or_else(|| StoreError::Conflict(format!("cohort {} does not exist", statement.cohort)))?;
    Ok(statement::ActiveModel {
        id: NotSet,
        public_id: Set(statement.id.as_uuid()),
        lead_provider_id: Set(provider),
        cohort_id: Set(cohort),
        year: Set(statement.year),
        month: Set(to_i32("month", statement.month)?),
        deadline_date: Set(statement.deadline_date),
        payment_date: Set(statement.payment_date),
        output_fee: Set(statement.output_fee),
        state: Set(statement.state.as_str().to_owned()),
        marked_as_paid_at: Set(statement.marked_as_paid_at.map(stored_instant)),
        reconcile_amount_pence: Set(statement.reconcile_amount.0),
        created_at: Set(stored_instant(statement.created_at)),
        updated_at: Set(stored_instant(statement.updated_at)),
    })
}

fn contract_row(
    statement_id: i64,
    terms: &ContractTerms,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<contract::ActiveModel, StoreError> {
    Ok(contract::ActiveModel {
        id: NotSet,
        statement_id: Set(statement_id),
        course: Set(terms.course.as_str().to_owned()),
        per_participant_pence: Set(terms.per_participant.0),
        output_payment_percentage: Set(to_i32("output_payment_percentage", terms.output_payment_percentage)?),
        number_of_payment_periods: Set(to_i32("number_of_payment_periods", terms.number_of_payment_periods)?),
        service_fee_percentage: Set(to_i32("service_fee_percentage", terms.service_fee_percentage)?),
        service_fee_instalments: Set(to_i32("service_fee_instalments", terms.service_fee_instalments)?),
        recruitment_target: Set(to_i32("recruitment_target", terms.recruitment_target)?),
        monthly_service_fee_pence: Set(terms.monthly_service_fee.map(|fee| fee.0)),
        targeted_delivery_funding_pence: Set(terms.targeted_delivery_funding_per_participant.0),
        special_course: Set(terms.special_course),
        created_at: Set(at),
        updated_at: Set(at),
    })
}

impl Store {
    /// Stores new statements, each with the contracts of its lead provider and cohort among
    /// `contracts`, in one transaction.
    pub async fn insert_statements(
        &self,
        statements: &[Statement],
        contracts: &[ContractTerms],
    ) -> Result<(), StoreError> {
        let txn = sea_orm::TransactionTrait::begin(&self.db).await.map_err(to_store_error)?;
        let keys = keys(&txn).await?;
        for chunk in statements.chunks(500) {
            let rows = chunk.iter().map(|statement| statement_row(statement, &keys)).collect::<Result<Vec<_>, _>>()?;
            statement::Entity::insert_many(rows).exec(&txn).await.map_err(to_store_error)?;
        }
        let public_ids: Vec<uuid::Uuid> = statements.iter().map(|statement| statement.id.as_uuid()).collect();
        let mut internal: HashMap<uuid::Uuid, i64> = HashMap::new();
        for chunk in public_ids.chunks(500) {
            for row in statement::Entity::find()
                .filter(statement::Column::PublicId.is_in(chunk.to_vec()))
                .all(&txn)
                .await
                .map_err(to_store_error)?
            {
                internal.insert(row.public_id, row.id);
            }
        }
        let mut rows = Vec::new();
        for statement in statements {
            let statement_id = internal[&statement.id.as_uuid()];
            for terms in contracts
                .iter()
                .filter(|terms| terms.lead_provider == statement.lead_provider && terms.cohort == statement.cohort)
            {
                rows.push(contract_row(statement_id, terms, stored_instant(statement.created_at))?);
            }
        }
        for chunk in rows.chunks(500) {
            contract::Entity::insert_many(chunk.to_vec()).exec(&txn).await.map_err(to_store_error)?;
        }
        txn.commit().await.map_err(to_store_error)
    }
}
