//! Statements in the store: the statement port ([`StatementStore`]) and the inserts that seed
//! statements with their contracts.
//!
//! A change to a statement runs in one write transaction. On PostgreSQL it locks the statement's
//! row first, then the rows of the declarations on it in id order. On SQLite the write transaction
//! holds the database's write lock from its start. Two changes to one statement therefore run one
//! after the other, and a declaration that a lead provider voids meanwhile is read after the void.
//! Every update of a declaration or item also checks the state it read, so a row that changed
//! anyway fails the transaction instead of being overwritten.
//!
//! When a statement is paid, what it paid for each declaration goes into `declaration_payments`,
//! and a clawback item reads its amount from there. A paid declaration without that row, such as
//! one loaded from elsewhere, gets the amount by recalculating the statement that paid it.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use npq_domain::cohort::CohortIdentifier;
use npq_domain::course::Course;
use npq_domain::declaration::DeclarationState;
use npq_domain::error::{DomainError, FieldError};
use npq_domain::ids::{AdjustmentId, DeclarationId, LeadProviderId, ParticipantId, StatementId};
use npq_domain::payment::{Adjustment, ContractTerms, DeclarationPayment, Pence, StatementItemInput};
use npq_domain::ports::{NewStatementRule, StatementRule, StatementStore};
use npq_domain::schedule::DeclarationType;
use npq_domain::statement::{ItemGroup, Statement, StatementItemState, StatementState};
use npq_domain::statement_actions::{
    ItemKind, LineChange, NewStatementContext, StatementChange, StatementContents, StatementLine, StatementPlan,
    StatementQuery, TransitionPlan,
};
use npq_domain::{StoreError, Timestamp};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, NullOrdering, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    Select, SqlErr,
};

use crate::Store;
use crate::convert::stored_instant;
use crate::entity::{
    adjustment, application, cohort, contract, declaration, declaration_payment, lead_provider, person, statement,
    statement_item,
};
use crate::error::{corrupt, to_store_error};

/// Rows written or read per query when a list of ids is long.
const CHUNK: usize = 500;

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
    statement_model(statement, provider, cohort)
}

/// Builds the row of a new statement of the lead provider and cohort with these internal ids.
fn statement_model(statement: &Statement, provider: i64, cohort: i64) -> Result<statement::ActiveModel, StoreError> {
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

pub(crate) fn statement_from_row(
    row: &statement::Model,
    provider: LeadProviderId,
    cohort: CohortIdentifier,
) -> Result<Statement, StoreError> {
    Ok(Statement {
        id: StatementId::from_uuid(row.public_id),
        lead_provider: provider,
        cohort,
        year: row.year,
        month: u32::try_from(row.month).map_err(|error| corrupt("statements.month", error))?,
        deadline_date: row.deadline_date,
        payment_date: row.payment_date,
        output_fee: row.output_fee,
        state: row.state.parse::<StatementState>().map_err(|error| corrupt("statements.state", error))?,
        marked_as_paid_at: row.marked_as_paid_at,
        reconcile_amount: Pence(row.reconcile_amount_pence),
        created_at: row.created_at,
        updated_at: row.updated_at,
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

/// Lead providers and cohorts by internal id.
struct Names {
    providers: HashMap<i64, LeadProviderId>,
    cohorts: HashMap<i64, CohortIdentifier>,
}

async fn names<C: ConnectionTrait>(db: &C) -> Result<Names, StoreError> {
    let providers = lead_provider::Entity::find()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .map(|row| (row.id, LeadProviderId::from_uuid(row.public_id)))
        .collect();
    let cohorts = cohort::Entity::find()
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .map(|row| Ok((row.id, row.identifier.parse().map_err(|error| corrupt("cohorts.identifier", error))?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(Names { providers, cohorts })
}

fn statement_from(row: &statement::Model, names: &Names) -> Result<Statement, StoreError> {
    let provider = names
        .providers
        .get(&row.lead_provider_id)
        .ok_or_else(|| corrupt("statements.lead_provider_id", "refers to no lead provider"))?;
    let cohort =
        names.cohorts.get(&row.cohort_id).ok_or_else(|| corrupt("statements.cohort_id", "refers to no cohort"))?;
    statement_from_row(row, *provider, *cohort)
}

/// Applies a list query's filters, order and page to `select`: by payment date, statements without
/// one last on both databases, then insertion order.
fn listed(mut select: Select<statement::Entity>, query: &StatementQuery, names: &Names) -> Select<statement::Entity> {
    if let Some(selectors) = &query.cohorts {
        let cohort_ids: Vec<i64> = names
            .cohorts
            .iter()
            .filter(|(_, identifier)| selectors.iter().any(|selector| selector.matches(**identifier)))
            .map(|(id, _)| *id)
            .collect();
        select = select.filter(statement::Column::CohortId.is_in(cohort_ids));
    }
    if let Some(since) = query.updated_since {
        select = select.filter(statement::Column::UpdatedAt.gte(since));
    }
    select
        .order_by_with_nulls(statement::Column::PaymentDate, Order::Asc, NullOrdering::Last)
        .order_by(statement::Column::Id, Order::Asc)
        .offset(query.page.offset())
        .limit(u64::from(query.page.per_page()))
}

fn to_u32(column: &str, value: i32) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|error| corrupt(column, error))
}

fn contract_from_row(row: &contract::Model, statement: &Statement) -> Result<ContractTerms, StoreError> {
    Ok(ContractTerms {
        lead_provider: statement.lead_provider,
        cohort: statement.cohort,
        course: row.course.parse().map_err(|error| corrupt("contracts.course", error))?,
        per_participant: Pence(row.per_participant_pence),
        output_payment_percentage: to_u32("contracts.output_payment_percentage", row.output_payment_percentage)?,
        number_of_payment_periods: to_u32("contracts.number_of_payment_periods", row.number_of_payment_periods)?,
        service_fee_percentage: to_u32("contracts.service_fee_percentage", row.service_fee_percentage)?,
        service_fee_instalments: to_u32("contracts.service_fee_instalments", row.service_fee_instalments)?,
        recruitment_target: to_u32("contracts.recruitment_target", row.recruitment_target)?,
        monthly_service_fee: row.monthly_service_fee_pence.map(Pence),
        targeted_delivery_funding_per_participant: Pence(row.targeted_delivery_funding_pence),
        special_course: row.special_course,
    })
}

/// The items of one statement with the internal id of each declaration on it.
struct Lines {
    lines: Vec<StatementLine>,
    internal: HashMap<DeclarationId, i64>,
}

/// Loads the items on a statement with their declarations. With `lock`, the declarations' rows are
/// locked in id order first (PostgreSQL), and the items are read afterwards, so a change that
/// committed while the lock was awaited is seen. Refundable lines come without `amount_paid`.
async fn load_lines<C: ConnectionTrait>(db: &C, statement_id: i64, lock: bool) -> Result<Lines, StoreError> {
    let on_statement = Query::select()
        .column(statement_item::Column::DeclarationId)
        .from(statement_item::Entity)
        .and_where(Expr::col(statement_item::Column::StatementId).eq(statement_id))
        .to_owned();
    let mut select = declaration::Entity::find()
        .filter(declaration::Column::Id.in_subquery(on_statement))
        .order_by(declaration::Column::Id, Order::Asc);
    if lock {
        select = select.lock_exclusive();
    }
    let declarations: HashMap<i64, declaration::Model> =
        select.all(db).await.map_err(to_store_error)?.into_iter().map(|row| (row.id, row)).collect();
    let items = statement_item::Entity::find()
        .filter(statement_item::Column::StatementId.eq(statement_id))
        .order_by(statement_item::Column::Id, Order::Asc)
        .all(db)
        .await
        .map_err(to_store_error)?;

    let application_ids: Vec<i64> =
        declarations.values().map(|row| row.application_id).collect::<HashSet<_>>().into_iter().collect();
    let mut applications: HashMap<i64, application::Model> = HashMap::new();
    for chunk in application_ids.chunks(CHUNK) {
        for row in application::Entity::find()
            .filter(application::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await
            .map_err(to_store_error)?
        {
            applications.insert(row.id, row);
        }
    }
    let person_ids: Vec<i64> =
        applications.values().map(|row| row.person_id).collect::<HashSet<_>>().into_iter().collect();
    let mut people: HashMap<i64, uuid::Uuid> = HashMap::new();
    for chunk in person_ids.chunks(CHUNK) {
        let rows: Vec<(i64, uuid::Uuid)> = person::Entity::find()
            .select_only()
            .column(person::Column::Id)
            .column(person::Column::PublicId)
            .filter(person::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await
            .map_err(to_store_error)?;
        people.extend(rows);
    }

    let mut lines = Vec::with_capacity(items.len());
    let mut internal = HashMap::with_capacity(items.len());
    for item in items {
        let row = declarations
            .get(&item.declaration_id)
            .ok_or_else(|| corrupt("statement_items.declaration_id", "refers to no declaration"))?;
        let application = applications
            .get(&row.application_id)
            .ok_or_else(|| corrupt("declarations.application_id", "refers to no application"))?;
        let participant = people
            .get(&application.person_id)
            .ok_or_else(|| corrupt("applications.person_id", "refers to no person"))?;
        let declaration = DeclarationId::from_uuid(row.public_id);
        internal.insert(declaration, row.id);
        lines.push(StatementLine {
            kind: item.kind.parse::<ItemKind>().map_err(|error| corrupt("statement_items.kind", error))?,
            declaration_state: row
                .state
                .parse::<DeclarationState>()
                .map_err(|error| corrupt("declarations.state", error))?,
            item: StatementItemInput {
                declaration,
                participant: ParticipantId::from_uuid(*participant),
                course: application
                    .course_identifier
                    .parse::<Course>()
                    .map_err(|error| corrupt("applications.course_identifier", error))?,
                declaration_type: row
                    .declaration_type
                    .parse::<DeclarationType>()
                    .map_err(|error| corrupt("declarations.declaration_type", error))?,
                state: item
                    .state
                    .parse::<StatementItemState>()
                    .map_err(|error| corrupt("statement_items.state", error))?,
                targeted_delivery_funding_eligible: application.targeted_delivery_funding_eligibility,
                eligible_for_funding: application.eligible_for_funding,
                amount_paid: None,
            },
        });
    }
    Ok(Lines { lines, internal })
}

/// Sets `amount_paid` on every refundable line: the amount recorded when the declaration was
/// paid or, for a declaration paid without a record, what recalculating its paying statement gives.
async fn fill_amounts_paid<C: ConnectionTrait>(
    db: &C,
    lines: &mut [StatementLine],
    internal: &HashMap<DeclarationId, i64>,
    names: &Names,
) -> Result<(), StoreError> {
    let refundable: Vec<i64> = lines
        .iter()
        .filter(|line| line.item.state.group() == ItemGroup::Refundable)
        .filter_map(|line| internal.get(&line.item.declaration).copied())
        .collect();
    if refundable.is_empty() {
        return Ok(());
    }
    let mut recorded: HashMap<i64, DeclarationPayment> = HashMap::new();
    for chunk in refundable.chunks(CHUNK) {
        for row in declaration_payment::Entity::find()
            .filter(declaration_payment::Column::DeclarationId.is_in(chunk.to_vec()))
            .all(db)
            .await
            .map_err(to_store_error)?
        {
            let payment = DeclarationPayment {
                output: Pence(row.output_pence),
                targeted_delivery_funding: Pence(row.targeted_delivery_funding_pence),
            };
            recorded.insert(row.declaration_id, payment);
        }
    }
    let unrecorded: Vec<i64> = refundable.iter().copied().filter(|id| !recorded.contains_key(id)).collect();
    recorded.extend(recalculated_payments(db, &unrecorded, names).await?);

    for line in lines.iter_mut().filter(|line| line.item.state.group() == ItemGroup::Refundable) {
        if let Some(id) = internal.get(&line.item.declaration) {
            line.item.amount_paid = recorded.get(id).copied();
        }
    }
    Ok(())
}

/// Returns what the statements that paid these declarations pay for them, by recalculating each
/// paying statement over its billable items. A declaration without a paid output item is left
/// out, so its clawback cannot be calculated.
async fn recalculated_payments<C: ConnectionTrait>(
    db: &C,
    declarations: &[i64],
    names: &Names,
) -> Result<HashMap<i64, DeclarationPayment>, StoreError> {
    let mut payments = HashMap::new();
    if declarations.is_empty() {
        return Ok(payments);
    }
    let mut paying: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for chunk in declarations.chunks(CHUNK) {
        for item in statement_item::Entity::find()
            .filter(statement_item::Column::DeclarationId.is_in(chunk.to_vec()))
            .filter(statement_item::Column::Kind.eq(ItemKind::Output.as_str()))
            .filter(statement_item::Column::State.eq(StatementItemState::Paid.as_str()))
            .all(db)
            .await
            .map_err(to_store_error)?
        {
            paying.entry(item.statement_id).or_default().push(item.declaration_id);
        }
    }
    for (statement_id, paid) in paying {
        let row = statement::Entity::find_by_id(statement_id)
            .one(db)
            .await
            .map_err(to_store_error)?
            .ok_or_else(|| corrupt("statement_items.statement_id", "refers to no statement"))?;
        let statement = statement_from(&row, names)?;
        let Lines { mut lines, internal } = load_lines(db, statement_id, false).await?;
        // Only billable items decide what a statement pays for a declaration.
        lines.retain(|line| line.item.state.group() == ItemGroup::Billable);
        let contents = StatementContents {
            contracts: load_contracts(db, statement_id, &statement).await?,
            adjustments: Vec::new(),
            lines,
            statement,
        };
        let calculation = match contents.calculate() {
            Ok(calculation) => calculation,
            Err(error) => {
                tracing::warn!(
                    statement_id = %contents.statement.id,
                    %error,
                    "a paid statement cannot be recalculated, so the clawbacks of its declarations cannot be valued"
                );
                continue;
            }
        };
        for (declaration, id) in &internal {
            if paid.contains(id)
                && let Some(payment) = calculation.payment_for(*declaration)
            {
                payments.insert(*id, payment);
            }
        }
    }
    Ok(payments)
}

async fn load_contracts<C: ConnectionTrait>(
    db: &C,
    statement_id: i64,
    statement: &Statement,
) -> Result<Vec<ContractTerms>, StoreError> {
    contract::Entity::find()
        .filter(contract::Column::StatementId.eq(statement_id))
        .order_by(contract::Column::Course, Order::Asc)
        .all(db)
        .await
        .map_err(to_store_error)?
        .iter()
        .map(|row| contract_from_row(row, statement))
        .collect()
}

async fn load_adjustments<C: ConnectionTrait>(
    db: &C,
    statement_id: i64,
    statement: &Statement,
) -> Result<Vec<Adjustment>, StoreError> {
    Ok(adjustment::Entity::find()
        .filter(adjustment::Column::StatementId.eq(statement_id))
        .order_by(adjustment::Column::Id, Order::Asc)
        .all(db)
        .await
        .map_err(to_store_error)?
        .into_iter()
        .map(|row| Adjustment {
            id: AdjustmentId::from_uuid(row.public_id),
            statement: statement.id,
            description: row.description,
            amount: Pence(row.amount_pence),
            created_at: row.created_at,
        })
        .collect())
}

/// Loads a statement's contents and the internal id of each declaration on it. With `lock`, the
/// declarations are locked as [`load_lines`] describes.
async fn load_contents<C: ConnectionTrait>(
    db: &C,
    row: &statement::Model,
    names: &Names,
    lock: bool,
) -> Result<(StatementContents, HashMap<DeclarationId, i64>), StoreError> {
    let statement = statement_from(row, names)?;
    let Lines { mut lines, internal } = load_lines(db, row.id, lock).await?;
    fill_amounts_paid(db, &mut lines, &internal, names).await?;
    let contents = StatementContents {
        contracts: load_contracts(db, row.id, &statement).await?,
        adjustments: load_adjustments(db, row.id, &statement).await?,
        lines,
        statement,
    };
    Ok((contents, internal))
}

/// Returns whether a database error is the refusal of a second statement for one lead provider,
/// cohort and month.
fn is_second_statement_for_month(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(SqlErr::UniqueConstraintViolation(message))
            if message.contains("statements_per_month")
                || message.contains("statements.lead_provider_id, statements.cohort_id")
    )
}

fn changed_meanwhile(what: &str) -> StoreError {
    StoreError::Conflict(format!("{what} changed while the statement was being updated; try again"))
}

/// Writes a transition: the statement's state, then each group of declarations and items that
/// move the same way, each update checking the state the plan started from.
async fn write_transition(
    txn: &DatabaseTransaction,
    row: &statement::Model,
    plan: &TransitionPlan,
    internal: &HashMap<DeclarationId, i64>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let updated = statement::Entity::update_many()
        .col_expr(statement::Column::State, Expr::value(plan.statement.state.as_str()))
        .col_expr(statement::Column::MarkedAsPaidAt, Expr::value(plan.statement.marked_as_paid_at.map(stored_instant)))
        .col_expr(statement::Column::UpdatedAt, Expr::value(now))
        .filter(statement::Column::Id.eq(row.id))
        .filter(statement::Column::State.eq(row.state.as_str()))
        .exec(txn)
        .await
        .map_err(to_store_error)?;
    if updated.rows_affected != 1 {
        return Err(changed_meanwhile("the statement"));
    }

    type Move = (&'static str, &'static str, &'static str, &'static str, &'static str);
    let mut groups: BTreeMap<Move, Vec<i64>> = BTreeMap::new();
    for LineChange { declaration, kind, from, to } in &plan.changes {
        let id = *internal
            .get(declaration)
            .ok_or_else(|| StoreError::Other("a plan named an unknown declaration".to_owned()))?;
        let key =
            (kind.as_str(), from.declaration.as_str(), from.item.as_str(), to.declaration.as_str(), to.item.as_str());
        groups.entry(key).or_default().push(id);
    }
    for ((kind, from_declaration, from_item, to_declaration, to_item), ids) in groups {
        for chunk in ids.chunks(CHUNK) {
            let expected = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            if from_item != to_item {
                let updated = statement_item::Entity::update_many()
                    .col_expr(statement_item::Column::State, Expr::value(to_item))
                    .col_expr(statement_item::Column::UpdatedAt, Expr::value(now))
                    .filter(statement_item::Column::StatementId.eq(row.id))
                    .filter(statement_item::Column::DeclarationId.is_in(chunk.to_vec()))
                    .filter(statement_item::Column::Kind.eq(kind))
                    .filter(statement_item::Column::State.eq(from_item))
                    .exec(txn)
                    .await
                    .map_err(to_store_error)?;
                if updated.rows_affected != expected {
                    return Err(changed_meanwhile("a statement item"));
                }
            }
            // The declaration shows a new updated_at even when only its item moved.
            let updated = declaration::Entity::update_many()
                .col_expr(declaration::Column::State, Expr::value(to_declaration))
                .col_expr(declaration::Column::UpdatedAt, Expr::value(now))
                .filter(declaration::Column::Id.is_in(chunk.to_vec()))
                .filter(declaration::Column::State.eq(from_declaration))
                .exec(txn)
                .await
                .map_err(to_store_error)?;
            if updated.rows_affected != expected {
                return Err(changed_meanwhile("a declaration"));
            }
        }
    }

    let mut payments = Vec::with_capacity(plan.payments.len());
    for (declaration, payment) in &plan.payments {
        let id = *internal
            .get(declaration)
            .ok_or_else(|| StoreError::Other("a plan named an unknown declaration".to_owned()))?;
        payments.push(declaration_payment::ActiveModel {
            id: NotSet,
            declaration_id: Set(id),
            statement_id: Set(row.id),
            output_pence: Set(payment.output.0),
            targeted_delivery_funding_pence: Set(payment.targeted_delivery_funding.0),
            created_at: Set(now),
        });
    }
    for chunk in payments.chunks(CHUNK) {
        declaration_payment::Entity::insert_many(chunk.to_vec()).exec(txn).await.map_err(to_store_error)?;
    }
    Ok(())
}

/// Writes a plan for the statement `row`.
async fn write_plan(
    txn: &DatabaseTransaction,
    row: &statement::Model,
    plan: &StatementPlan,
    internal: &HashMap<DeclarationId, i64>,
    now: Timestamp,
) -> Result<(), StoreError> {
    match plan {
        StatementPlan::Unchanged => {}
        StatementPlan::Update(statement) => {
            statement::Entity::update_many()
                .col_expr(statement::Column::DeadlineDate, Expr::value(statement.deadline_date))
                .col_expr(statement::Column::PaymentDate, Expr::value(statement.payment_date))
                .col_expr(statement::Column::OutputFee, Expr::value(statement.output_fee))
                .col_expr(statement::Column::ReconcileAmountPence, Expr::value(statement.reconcile_amount.0))
                .col_expr(statement::Column::UpdatedAt, Expr::value(stored_instant(statement.updated_at)))
                .filter(statement::Column::Id.eq(row.id))
                .exec(txn)
                .await
                .map_err(to_store_error)?;
        }
        StatementPlan::PutContract(terms) => {
            contract::Entity::delete_many()
                .filter(contract::Column::StatementId.eq(row.id))
                .filter(contract::Column::Course.eq(terms.course.as_str()))
                .exec(txn)
                .await
                .map_err(to_store_error)?;
            contract::Entity::insert(contract_row(row.id, terms, now)?).exec(txn).await.map_err(to_store_error)?;
        }
        StatementPlan::AddAdjustment(adjustment) => {
            adjustment::Entity::insert(adjustment::ActiveModel {
                id: NotSet,
                public_id: Set(adjustment.id.as_uuid()),
                statement_id: Set(row.id),
                description: Set(adjustment.description.clone()),
                amount_pence: Set(adjustment.amount.0),
                created_at: Set(stored_instant(adjustment.created_at)),
            })
            .exec(txn)
            .await
            .map_err(to_store_error)?;
        }
        StatementPlan::Transition(transition) => write_transition(txn, row, transition, internal, now).await?,
    }
    Ok(())
}

#[async_trait]
impl StatementStore for Store {
    async fn list_statements(
        &self,
        lead_provider: LeadProviderId,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError> {
        let Some(provider) = self.lead_provider_row(lead_provider).await? else { return Ok(Vec::new()) };
        let names = names(&self.db).await?;
        let select = statement::Entity::find()
            .filter(statement::Column::LeadProviderId.eq(provider.id))
            .filter(statement::Column::OutputFee.eq(true));
        let rows = listed(select, query, &names).all(&self.db).await.map_err(to_store_error)?;
        rows.iter().map(|row| statement_from(row, &names)).collect()
    }

    async fn find_statement(
        &self,
        lead_provider: LeadProviderId,
        id: StatementId,
    ) -> Result<Option<Statement>, StoreError> {
        let Some(provider) = self.lead_provider_row(lead_provider).await? else { return Ok(None) };
        let row = statement::Entity::find()
            .filter(statement::Column::PublicId.eq(id.as_uuid()))
            .filter(statement::Column::LeadProviderId.eq(provider.id))
            .filter(statement::Column::OutputFee.eq(true))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(statement_from(&row, &names(&self.db).await?)?)),
        }
    }

    async fn list_all_statements(
        &self,
        lead_provider: Option<LeadProviderId>,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError> {
        let mut select = statement::Entity::find();
        if let Some(lead_provider) = lead_provider {
            let Some(provider) = self.lead_provider_row(lead_provider).await? else { return Ok(Vec::new()) };
            select = select.filter(statement::Column::LeadProviderId.eq(provider.id));
        }
        let names = names(&self.db).await?;
        let rows = listed(select, query, &names).all(&self.db).await.map_err(to_store_error)?;
        rows.iter().map(|row| statement_from(row, &names)).collect()
    }

    async fn statement_contents(&self, id: StatementId) -> Result<Option<StatementContents>, StoreError> {
        let row = statement::Entity::find()
            .filter(statement::Column::PublicId.eq(id.as_uuid()))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        let Some(row) = row else { return Ok(None) };
        let names = names(&self.db).await?;
        Ok(Some(load_contents(&self.db, &row, &names, false).await?.0))
    }

    async fn open_statements(&self) -> Result<Vec<Statement>, StoreError> {
        let names = names(&self.db).await?;
        statement::Entity::find()
            .filter(statement::Column::State.eq(StatementState::Open.as_str()))
            .order_by(statement::Column::Id, Order::Asc)
            .all(&self.db)
            .await
            .map_err(to_store_error)?
            .iter()
            .map(|row| statement_from(row, &names))
            .collect()
    }

    async fn create_statement(
        &self,
        lead_provider: LeadProviderId,
        cohort: CohortIdentifier,
        rule: NewStatementRule,
    ) -> Result<Statement, DomainError> {
        let txn = self.begin_write().await?;
        let provider_row = lead_provider::Entity::find()
            .filter(lead_provider::Column::PublicId.eq(lead_provider.as_uuid()))
            .one(&txn)
            .await
            .map_err(to_store_error)?;
        let cohort_row = cohort::Entity::find()
            .filter(cohort::Column::Identifier.eq(cohort.to_string()))
            .one(&txn)
            .await
            .map_err(to_store_error)?;
        let existing = match (&provider_row, &cohort_row) {
            (Some(provider_row), Some(cohort_row)) => {
                let names = names(&txn).await?;
                statement::Entity::find()
                    .filter(statement::Column::LeadProviderId.eq(provider_row.id))
                    .filter(statement::Column::CohortId.eq(cohort_row.id))
                    .all(&txn)
                    .await
                    .map_err(to_store_error)?
                    .iter()
                    .map(|row| statement_from(row, &names))
                    .collect::<Result<Vec<_>, _>>()?
            }
            _ => Vec::new(),
        };
        let context = NewStatementContext {
            lead_provider_exists: provider_row.is_some(),
            cohort_exists: cohort_row.is_some(),
            existing,
        };
        let statement = rule(&context)?;
        let (Some(provider_row), Some(cohort_row)) = (provider_row, cohort_row) else {
            return Err(
                StoreError::Other("a statement rule accepted an unknown lead provider or cohort".to_owned()).into()
            );
        };
        let row = statement_model(&statement, provider_row.id, cohort_row.id)?;
        if let Err(error) = statement::Entity::insert(row).exec(&txn).await {
            if is_second_statement_for_month(&error) {
                return Err(DomainError::Invalid(vec![FieldError {
                    attribute: "base".to_owned(),
                    message: format!(
                        "The lead provider already has a statement for cohort {} in {}/{}.",
                        statement.cohort, statement.month, statement.year
                    ),
                }]));
            }
            return Err(to_store_error(error).into());
        }
        txn.commit().await.map_err(to_store_error)?;
        Ok(statement)
    }

    async fn change_statement(
        &self,
        id: StatementId,
        now: Timestamp,
        rule: StatementRule,
    ) -> Result<Option<StatementChange>, DomainError> {
        let now = stored_instant(now);
        let txn = self.begin_write().await?;
        let row = statement::Entity::find()
            .filter(statement::Column::PublicId.eq(id.as_uuid()))
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(to_store_error)?;
        let Some(row) = row else { return Ok(None) };
        let names = names(&txn).await?;
        let (contents, internal) = load_contents(&txn, &row, &names, true).await?;
        let plan = rule(&contents)?;
        write_plan(&txn, &row, &plan, &internal, now).await?;
        let changed = statement::Entity::find_by_id(row.id)
            .one(&txn)
            .await
            .map_err(to_store_error)?
            .ok_or_else(|| StoreError::Other("a statement vanished while it was changed".to_owned()))?;
        let (contents, _) = load_contents(&txn, &changed, &names, false).await?;
        txn.commit().await.map_err(to_store_error)?;
        Ok(Some(StatementChange { plan, contents }))
    }
}
