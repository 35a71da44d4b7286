//! Statements as DfE staff see them: every field, the contracts and adjustments, the items by
//! state, and the calculation of the money the statement pays. Every amount is sent in pence and
//! as pounds text, such as `{"pence": 121263, "pounds": "£1212.63"}`.

use npq_domain::DomainError;
use npq_domain::course::Course;
use npq_domain::payment::{
    CalculationError, ContractTerms, CourseBreakdown, Pence, StatementCalculation, StatementTotals,
};
use npq_domain::statement::{Statement, StatementItemState, StatementState};
use npq_domain::statement_actions::ItemKind;
use npq_domain::statement_service::{DeadlineRun, StatementReport};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use uuid::Uuid;

use crate::error::{ErrorDetail, error_details};
use crate::resources::statements::StatementType;
use crate::types::{CalendarDate, Nullable, Text, UtcSeconds};

/// Converts a count to the JSON number sent.
fn count(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// An amount of money, in pence and as pounds.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct Money {
    /// The amount in pence, negative for money taken off.
    pub pence: i64,
    /// The same amount as pounds and pence, such as `£1212.63` or `-£50.00`.
    pub pounds: String,
}

impl From<Pence> for Money {
    fn from(amount: Pence) -> Self {
        Self { pence: amount.0, pounds: amount.to_string() }
    }
}

/// The fields of a statement.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminStatementSummary {
    /// The lead provider the statement pays.
    pub lead_provider_id: Uuid,
    /// The cohort it pays for, such as `2025a`.
    pub cohort: String,
    pub year: i32,
    /// The month, from 1 (January) to 12.
    pub month: u32,
    /// The month in English, as lead providers see it.
    pub month_name: String,
    /// The last day on which a declaration can land on the statement; lead providers see it as
    /// `cut_off_date`.
    pub deadline_date: Nullable<CalendarDate>,
    pub payment_date: Nullable<CalendarDate>,
    /// Whether the statement pays for declarations. Lead providers see only statements that do.
    pub output_fee: bool,
    pub state: Text<StatementState>,
    /// When DfE authorised the payment.
    pub marked_as_paid_at: Nullable<UtcSeconds>,
    /// The amount that settles differences found after earlier payments.
    pub reconcile_amount: Money,
    pub created_at: UtcSeconds,
    pub updated_at: UtcSeconds,
}

impl From<&Statement> for AdminStatementSummary {
    fn from(statement: &Statement) -> Self {
        Self {
            lead_provider_id: statement.lead_provider.as_uuid(),
            cohort: statement.cohort.to_string(),
            year: statement.year,
            month: statement.month,
            month_name: statement.month_name().unwrap_or_default().to_owned(),
            deadline_date: statement.deadline_date.map(CalendarDate).into(),
            payment_date: statement.payment_date.map(CalendarDate).into(),
            output_fee: statement.output_fee,
            state: Text(statement.state),
            marked_as_paid_at: statement.marked_as_paid_at.map(UtcSeconds).into(),
            reconcile_amount: statement.reconcile_amount.into(),
            created_at: UtcSeconds(statement.created_at),
            updated_at: UtcSeconds(statement.updated_at),
        }
    }
}

/// A statement in a list, without its contents.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminStatementListEntry {
    /// The statement's id.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: StatementType,
    pub attributes: AdminStatementSummary,
}

impl From<Statement> for AdminStatementListEntry {
    fn from(statement: Statement) -> Self {
        Self {
            id: statement.id.as_uuid(),
            resource_type: StatementType::Statement,
            attributes: AdminStatementSummary::from(&statement),
        }
    }
}

/// The payment terms of one course on the statement.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ContractResource {
    pub course: Text<Course>,
    pub per_participant: Money,
    /// The share of the price paid as output payments, in percent.
    pub output_payment_percentage: u32,
    /// The number of milestones the output share is split over.
    pub number_of_payment_periods: u32,
    /// The share of the price paid as service fees, in percent.
    pub service_fee_percentage: u32,
    /// The number of monthly statements the service fee share is split over.
    pub service_fee_instalments: u32,
    pub recruitment_target: u32,
    /// The monthly service fee agreed outright, or `null` when it is computed.
    pub monthly_service_fee: Nullable<Money>,
    pub targeted_delivery_funding_per_participant: Money,
    /// Whether the course is paid apart, outside the statement's totals.
    pub special_course: bool,
}

impl From<&ContractTerms> for ContractResource {
    fn from(terms: &ContractTerms) -> Self {
        Self {
            course: Text(terms.course),
            per_participant: terms.per_participant.into(),
            output_payment_percentage: terms.output_payment_percentage,
            number_of_payment_periods: terms.number_of_payment_periods,
            service_fee_percentage: terms.service_fee_percentage,
            service_fee_instalments: terms.service_fee_instalments,
            recruitment_target: terms.recruitment_target,
            monthly_service_fee: terms.monthly_service_fee.map(Money::from).into(),
            targeted_delivery_funding_per_participant: terms.targeted_delivery_funding_per_participant.into(),
            special_course: terms.special_course,
        }
    }
}

/// An amount DfE added to or took off the statement.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdjustmentResource {
    pub id: Uuid,
    pub description: String,
    pub amount: Money,
    pub created_at: UtcSeconds,
}

/// The number of the statement's items of one kind in one state.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ItemCount {
    pub kind: Text<ItemKind>,
    pub state: Text<StatementItemState>,
    pub count: u64,
}

/// The figures of one course on the statement. Counts are of distinct (participant, declaration
/// type) pairs.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct CourseCalculation {
    pub course: Text<Course>,
    /// Whether the course is left out of the statement's totals.
    pub special_course: bool,
    /// Pairs among eligible, payable and paid items.
    pub billable_count: u64,
    /// Pairs among items awaiting clawback or clawed back.
    pub refundable_count: u64,
    /// Pairs among ineligible and voided items.
    pub not_eligible_count: u64,
    /// Billable `started` pairs.
    pub started: u64,
    /// Billable `retained-1` and `retained-2` pairs.
    pub retained: u64,
    /// Billable `completed` pairs.
    pub completed: u64,
    pub output_payment_per_participant: Money,
    /// The billable count times the output payment per participant.
    pub output_subtotal: Money,
    /// The output payments taken back.
    pub clawback: Money,
    /// The service fee rate per participant of the target, shown for information.
    pub service_fee_per_participant: Money,
    pub monthly_service_fee: Money,
    /// Whether targeted delivery funding is paid for the course on this statement: for statements
    /// up to October 2025, cohorts from 2022, and courses other than the early headship coaching
    /// offer and the additional support offer.
    pub targeted_delivery_funding_applies: bool,
    pub targeted_delivery_funding_count: u64,
    pub targeted_delivery_funding_refundable_count: u64,
    pub targeted_delivery_funding_subtotal: Money,
    pub targeted_delivery_funding_refundable: Money,
    /// The monthly service fee plus the output subtotal and the funding subtotal, less the
    /// clawback and the funding refundable.
    pub total: Money,
}

impl From<&CourseBreakdown> for CourseCalculation {
    fn from(course: &CourseBreakdown) -> Self {
        Self {
            course: Text(course.course),
            special_course: course.special_course,
            billable_count: count(course.billable_count),
            refundable_count: count(course.refundable_count),
            not_eligible_count: count(course.not_eligible_count),
            started: count(course.billable_by_type.started),
            retained: count(course.billable_by_type.retained()),
            completed: count(course.billable_by_type.completed),
            output_payment_per_participant: course.output_payment_per_participant.into(),
            output_subtotal: course.output_subtotal.into(),
            clawback: course.clawback.into(),
            service_fee_per_participant: course.service_fee_per_participant.into(),
            monthly_service_fee: course.monthly_service_fee.into(),
            targeted_delivery_funding_applies: course.targeted_delivery_funding_applies,
            targeted_delivery_funding_count: count(course.targeted_delivery_funding_count),
            targeted_delivery_funding_refundable_count: count(course.targeted_delivery_funding_refundable_count),
            targeted_delivery_funding_subtotal: course.targeted_delivery_funding_subtotal.into(),
            targeted_delivery_funding_refundable: course.targeted_delivery_funding_refundable.into(),
            total: course.total.into(),
        }
    }
}

/// The totals of the statement, over the courses that are not special.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct TotalsResource {
    pub service_fees: Money,
    pub output_payments: Money,
    pub targeted_delivery_funding: Money,
    /// Output payments taken back.
    pub clawback_payments: Money,
    /// Targeted delivery funding taken back.
    pub targeted_delivery_funding_refundable: Money,
    /// Clawback payments plus targeted delivery funding taken back.
    pub clawbacks: Money,
    pub adjustments: Money,
    pub reconcile_amount: Money,
    /// Service fees, output payments, targeted delivery funding, adjustments and the reconcile
    /// amount, less clawbacks: what DfE pays.
    pub total: Money,
    pub starts: u64,
    pub retained: u64,
    pub completed: u64,
    /// Voided items on the statement, on any course.
    pub voided: u64,
}

impl From<&StatementTotals> for TotalsResource {
    fn from(totals: &StatementTotals) -> Self {
        Self {
            service_fees: totals.service_fees.into(),
            output_payments: totals.output_payments.into(),
            targeted_delivery_funding: totals.targeted_delivery_funding.into(),
            clawback_payments: totals.clawback_payments.into(),
            targeted_delivery_funding_refundable: totals.targeted_delivery_funding_refundable.into(),
            clawbacks: totals.clawbacks.into(),
            adjustments: totals.adjustments.into(),
            reconcile_amount: totals.reconcile_amount.into(),
            total: totals.total.into(),
            starts: count(totals.starts),
            retained: count(totals.retained),
            completed: count(totals.completed),
            voided: count(totals.voided),
        }
    }
}

/// The money a statement pays.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct CalculationResource {
    /// One entry per contract, by course identifier.
    pub courses: Vec<CourseCalculation>,
    pub totals: TotalsResource,
    /// Declarations on the statement whose course has no contract on it, so they earn nothing.
    /// Add the contract before paying the statement.
    pub declarations_without_contract: Vec<Uuid>,
}

impl From<&StatementCalculation> for CalculationResource {
    fn from(calculation: &StatementCalculation) -> Self {
        Self {
            courses: calculation.courses.iter().map(CourseCalculation::from).collect(),
            totals: TotalsResource::from(&calculation.totals),
            declarations_without_contract: calculation.without_contract.iter().map(|id| id.as_uuid()).collect(),
        }
    }
}

/// Everything on a statement, and the money it pays.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminStatementAttributes {
    #[oai(flatten)]
    pub statement: AdminStatementSummary,
    /// One contract per course, by course identifier.
    pub contracts: Vec<ContractResource>,
    /// Adjustments, oldest first.
    pub adjustments: Vec<AdjustmentResource>,
    /// The statement's items by kind and state.
    pub items: Vec<ItemCount>,
    /// The calculation, or `null` when the stored data cannot be calculated.
    pub calculation: Nullable<CalculationResource>,
    /// The reason the calculation failed, or `null`.
    pub calculation_error: Nullable<String>,
}

/// One statement with its contents.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminStatementResource {
    /// The statement's id.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: StatementType,
    pub attributes: AdminStatementAttributes,
}

impl From<&StatementReport> for AdminStatementResource {
    fn from(report: &StatementReport) -> Self {
        let contents = &report.contents;
        let mut items: Vec<ItemCount> = Vec::new();
        for line in &contents.lines {
            let (kind, state) = (Text(line.kind), Text(line.item.state));
            match items.iter_mut().find(|entry| entry.kind == kind && entry.state == state) {
                Some(entry) => entry.count += 1,
                None => items.push(ItemCount { kind, state, count: 1 }),
            }
        }
        let (calculation, calculation_error) = match &report.calculation {
            Ok(calculation) => (Some(CalculationResource::from(calculation)), None),
            Err(error) => (None, Some(calculation_error_text(error))),
        };
        Self {
            id: contents.statement.id.as_uuid(),
            resource_type: StatementType::Statement,
            attributes: AdminStatementAttributes {
                statement: AdminStatementSummary::from(&contents.statement),
                contracts: contents.contracts.iter().map(ContractResource::from).collect(),
                adjustments: contents
                    .adjustments
                    .iter()
                    .map(|adjustment| AdjustmentResource {
                        id: adjustment.id.as_uuid(),
                        description: adjustment.description.clone(),
                        amount: adjustment.amount.into(),
                        created_at: UtcSeconds(adjustment.created_at),
                    })
                    .collect(),
                items,
                calculation: calculation.into(),
                calculation_error: calculation_error.into(),
            },
        }
    }
}

fn calculation_error_text(error: &CalculationError) -> String {
    format!("The statement cannot be calculated: {error}.")
}

/// One statement with its contents.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminStatementResponse {
    pub data: AdminStatementResource,
}

/// One page of statements.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminStatementsResponse {
    pub data: Vec<AdminStatementListEntry>,
}

#[derive(ApiResponse)]
pub enum ListAdminStatementsResponse {
    /// One page of statements, by payment date; statements without one come last.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<AdminStatementsResponse>),
}

#[derive(ApiResponse)]
pub enum ShowAdminStatementResponse {
    /// The statement with its contents and calculation.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<AdminStatementResponse>),
}

impl ShowAdminStatementResponse {
    /// Wraps a statement report.
    pub fn new(report: &StatementReport) -> Self {
        Self::Ok(Json(AdminStatementResponse { data: report.into() }))
    }
}

#[derive(ApiResponse)]
pub enum ChangeAdminStatementResponse {
    /// The statement after the change, with its contents and calculation.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<AdminStatementResponse>),
}

impl ChangeAdminStatementResponse {
    /// Wraps a changed statement.
    pub fn new(report: &StatementReport) -> Self {
        Self::Ok(Json(AdminStatementResponse { data: report.into() }))
    }
}

/// A statement the deadline job marked payable.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct MarkedStatement {
    pub statement_id: Uuid,
    /// The declarations that became payable with it.
    pub declarations: u64,
}

/// A statement the deadline job could not mark payable.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct FailedStatement {
    pub statement_id: Uuid,
    /// The reasons, each titled with the attribute concerned.
    pub errors: Vec<ErrorDetail>,
}

/// The outcome of one run of the deadline job.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct DeadlineRunReport {
    /// The day the run counted as today: open statements whose deadline is before it were due.
    pub today: CalendarDate,
    /// Statements marked payable, earliest deadline first.
    pub marked: Vec<MarkedStatement>,
    /// Statements that another request had marked payable before the run reached them.
    pub already_payable: Vec<Uuid>,
    /// Statements that could not be marked payable. The next run tries them again.
    pub failed: Vec<FailedStatement>,
}

impl From<&DeadlineRun> for DeadlineRunReport {
    fn from(run: &DeadlineRun) -> Self {
        Self {
            today: CalendarDate(run.today),
            marked: run
                .marked
                .iter()
                .map(|marked| MarkedStatement {
                    statement_id: marked.statement.as_uuid(),
                    declarations: count(marked.declarations),
                })
                .collect(),
            already_payable: run.already_payable.iter().map(|id| id.as_uuid()).collect(),
            failed: run
                .failed
                .iter()
                .map(|(id, error)| FailedStatement { statement_id: id.as_uuid(), errors: failure_details(error) })
                .collect(),
        }
    }
}

/// Describes why the deadline job could not mark a statement payable. A store failure is described
/// without its cause, which the server logs.
fn failure_details(error: &DomainError) -> Vec<ErrorDetail> {
    let detail = match error {
        DomainError::Invalid(errors) => return error_details(errors),
        DomainError::NotFound => "The statement was deleted before the run reached it.",
        _ => "The database failed while the statement was marked payable; the server log has the cause.",
    };
    vec![ErrorDetail { title: "base".to_owned(), detail: detail.to_owned() }]
}

/// The outcome of one run of the deadline job.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct DeadlineRunResponse {
    pub data: DeadlineRunReport,
}

#[derive(ApiResponse)]
pub enum RunDeadlinesResponse {
    /// The statements the run marked and those it could not. All lists are empty when no open
    /// statement's deadline has passed.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<DeadlineRunResponse>),
}
