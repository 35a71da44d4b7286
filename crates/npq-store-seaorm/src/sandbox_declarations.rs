//! Sandbox declarations: declarations in every state on the sandbox's accepted applications, each
//! billable one on a statement of its lead provider and cohort, so that a lead provider trying the
//! sandbox meets every state.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use npq_domain::StoreError;
use npq_domain::declaration::DeclarationState;
use npq_domain::schedule::DeclarationType;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, TransactionTrait};

use crate::Store;
use crate::entity::{application, declaration, delivery_partnership, schedule, statement, statement_item};
use crate::error::to_store_error;

/// The statement of a provider and cohort that a line goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    /// The open statement with the earliest deadline from today.
    Open,
    /// A payable statement.
    Payable,
    /// The paid statement with the earliest deadline.
    FirstPaid,
    /// The paid statement with the latest deadline, for a clawback after the payment.
    LastPaid,
}

/// One declaration of a scenario: its type, its state, and its lines.
struct Planned {
    declaration_type: DeclarationType,
    state: DeclarationState,
    output: Option<(On, &'static str)>,
    clawback: Option<(On, &'static str)>,
}

const fn planned(
    declaration_type: DeclarationType,
    state: DeclarationState,
    output: Option<(On, &'static str)>,
    clawback: Option<(On, &'static str)>,
) -> Planned {
    Planned { declaration_type, state, output, clawback }
}

/// Returns the declarations of scenario `index` for a funded application. Together the scenarios
/// cover every state.
fn funded_scenario(index: usize) -> Vec<Planned> {
    use DeclarationState::*;
    use DeclarationType::*;
    match index % 7 {
        0 => vec![planned(Started, Eligible, Some((On::Open, "eligible")), None)],
        1 => vec![
            planned(Started, Paid, Some((On::FirstPaid, "paid")), None),
            planned(RetainedOne, Payable, Some((On::Payable, "payable")), None),
        ],
        2 => vec![planned(Started, Voided, Some((On::Open, "voided")), None)],
        3 => vec![planned(
            Started,
            AwaitingClawback,
            Some((On::FirstPaid, "paid")),
            Some((On::Open, "awaiting-clawback")),
        )],
        4 => vec![planned(Started, ClawedBack, Some((On::FirstPaid, "paid")), Some((On::LastPaid, "clawed-back")))],
        5 => vec![planned(Started, Ineligible, Some((On::Open, "ineligible")), None)],
        _ => vec![
            planned(Started, Paid, Some((On::FirstPaid, "paid")), None),
            planned(RetainedOne, Paid, Some((On::FirstPaid, "paid")), None),
            planned(RetainedTwo, Eligible, Some((On::Open, "eligible")), None),
        ],
    }
}

/// Returns the declarations of scenario `index` for an application DfE does not fund.
fn unfunded_scenario(index: usize) -> Vec<Planned> {
    let state = if index.is_multiple_of(2) { DeclarationState::Submitted } else { DeclarationState::Voided };
    vec![planned(DeclarationType::Started, state, None, None)]
}

fn at_ten(day: NaiveDate) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(day.and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default()), Utc)
}

impl Store {
    /// Adds sandbox declarations to at most `limit` accepted applications that have a schedule,
    /// oldest first, unless declarations exist already. Funded applications get declarations in
    /// every state, each line on a statement of the application's lead provider and cohort;
    /// others get `submitted` or `voided` declarations. A declaration is made only when its date
    /// (two weeks into the schedule, then four months apart) is before `today`, and only when
    /// the statements it needs exist. Returns the number of declarations added.
    pub async fn seed_declarations(&self, today: NaiveDate, limit: usize) -> Result<usize, StoreError> {
        let txn = self.db.begin().await.map_err(to_store_error)?;
        if declaration::Entity::find().one(&txn).await.map_err(to_store_error)?.is_some() {
            return Ok(0);
        }
        let schedules: HashMap<i64, schedule::Model> = schedule::Entity::find()
            .all(&txn)
            .await
            .map_err(to_store_error)?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let mut statements: HashMap<(i64, i64), Vec<statement::Model>> = HashMap::new();
        for row in statement::Entity::find()
            .filter(statement::Column::OutputFee.eq(true))
            .order_by(statement::Column::DeadlineDate, Order::Asc)
            .order_by(statement::Column::Id, Order::Asc)
            .all(&txn)
            .await
            .map_err(to_store_error)?
        {
            statements.entry((row.lead_provider_id, row.cohort_id)).or_default().push(row);
        }
        let mut partners: HashMap<(i64, i64), i64> = HashMap::new();
        for row in delivery_partnership::Entity::find()
            .order_by(delivery_partnership::Column::Id, Order::Asc)
            .all(&txn)
            .await
            .map_err(to_store_error)?
        {
            partners.entry((row.lead_provider_id, row.cohort_id)).or_insert(row.delivery_partner_id);
        }
        let applications = application::Entity::find()
            .filter(application::Column::Status.eq("accepted"))
            .filter(application::Column::ScheduleId.is_not_null())
            .order_by(application::Column::Id, Order::Asc)
            .all(&txn)
            .await
            .map_err(to_store_error)?;

        let mut added = 0;
        let mut funded_index = 0;
        let mut unfunded_index = 0;
        for application in applications {
            if added >= limit {
                break;
            }
            let Some(schedule) = application.schedule_id.and_then(|id| schedules.get(&id)) else { continue };
            let funded = application.eligible_for_funding && application.funded_place != Some(false);
            let scenario = if funded {
                funded_index += 1;
                funded_scenario(funded_index - 1)
            } else {
                unfunded_index += 1;
                unfunded_scenario(unfunded_index - 1)
            };
            let cohort_statements = statements.get(&(application.lead_provider_id, application.cohort_id));
            // A line goes on a statement whose deadline is on or after the declaration's day.
            let pick = |on: On, day: NaiveDate| -> Option<i64> {
                let rows = cohort_statements?;
                let after = |row: &&statement::Model| row.deadline_date.is_some_and(|deadline| deadline >= day);
                match on {
                    On::Open => rows
                        .iter()
                        .filter(after)
                        .find(|row| row.state == "open" && row.deadline_date.is_some_and(|deadline| deadline >= today))
                        .map(|row| row.id),
                    On::Payable => rows.iter().filter(after).find(|row| row.state == "payable").map(|row| row.id),
                    On::FirstPaid => rows.iter().filter(after).find(|row| row.state == "paid").map(|row| row.id),
                    On::LastPaid => rows.iter().filter(after).rev().find(|row| row.state == "paid").map(|row| row.id),
                }
            };
            let allowed: Vec<&str> = schedule.allowed_declaration_types.split(',').map(str::trim).collect();
            // Partners are named for participants working in England only.
            let england = application.teacher_catchment.as_deref() == Some("england");
            let partner = if england {
                partners.get(&(application.lead_provider_id, application.cohort_id)).copied()
            } else {
                None
            };
            for (step, plan) in scenario.iter().enumerate() {
                if !allowed.contains(&plan.declaration_type.as_str()) {
                    break;
                }
                let day = schedule.applies_from + Duration::days(14) + Duration::days(120 * step as i64);
                if day >= today {
                    break;
                }
                let output = match plan.output {
                    None => None,
                    Some((on, state)) => match pick(on, day) {
                        Some(statement) => Some((statement, state)),
                        None => break,
                    },
                };
                let clawback = match plan.clawback {
                    None => None,
                    Some((on, state)) => match pick(on, day) {
                        Some(statement) => Some((statement, state)),
                        None => break,
                    },
                };
                // A payment is taken back on a later statement than the one that paid it.
                if let (Some((paid_on, _)), Some((taken_back_on, _))) = (output, clawback)
                    && paid_on == taken_back_on
                {
                    break;
                }
                let declared_at = at_ten(day);
                let row = declaration::ActiveModel {
                    id: NotSet,
                    public_id: Set(uuid::Uuid::new_v4()),
                    application_id: Set(application.id),
                    cohort_id: Set(schedule.cohort_id),
                    lead_provider_id: Set(application.lead_provider_id),
                    declaration_type: Set(plan.declaration_type.as_str().to_owned()),
                    declaration_date: Set(declared_at),
                    state: Set(plan.state.as_str().to_owned()),
                    state_reason: Set((plan.state == DeclarationState::Ineligible).then(|| "duplicate".to_owned())),
                    superseded_by_id: Set(None),
                    delivery_partner_id: Set(partner),
                    secondary_delivery_partner_id: Set(None),
                    created_at: Set(declared_at + Duration::hours(1)),
                    updated_at: Set(declared_at + Duration::hours(1)),
                };
                let inserted = declaration::Entity::insert(row).exec(&txn).await.map_err(to_store_error)?;
                for (kind, line) in [("output", output), ("clawback", clawback)] {
                    let Some((statement_id, state)) = line else { continue };
                    statement_item::Entity::insert(statement_item::ActiveModel {
                        id: NotSet,
                        statement_id: Set(statement_id),
                        declaration_id: Set(inserted.last_insert_id),
                        kind: Set(kind.to_owned()),
                        state: Set(state.to_owned()),
                        created_at: Set(declared_at + Duration::hours(1)),
                        updated_at: Set(declared_at + Duration::hours(1)),
                    })
                    .exec(&txn)
                    .await
                    .map_err(to_store_error)?;
                }
                added += 1;
            }
        }
        txn.commit().await.map_err(to_store_error)?;
        Ok(added)
    }
}
