//! Statements in the admin API: DfE staff list and read any statement with its calculation,
//! create statements, set their dates, contracts and adjustments, mark them payable and paid, and
//! run the deadline job.
//!
//! Handlers hold no rules: each reads its body with [`statement_requests`], calls one
//! `StatementService` method and maps the result with [`statement_resource`]. Every change is
//! logged with the staff member's name.
//!
//! [`statement_requests`]: crate::admin::statement_requests
//! [`statement_resource`]: crate::admin::statement_resource

use npq_domain::ids::{LeadProviderId, StatementId, parse_hyphenated_uuid};
use npq_domain::listing::{ListParameterError, parse_cohort_filter, parse_timestamp_filter};
use npq_domain::statement_actions::StatementQuery;
use npq_domain::statement_service::StatementReport;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use crate::admin::statement_requests::{
    self, AddAdjustmentAttributes, ChangeStatementDatesAttributes, CreateStatementAttributes, PutContractAttributes,
};
use crate::admin::statement_resource::{
    AdminStatementListEntry, AdminStatementsResponse, ChangeAdminStatementResponse, DeadlineRunReport,
    DeadlineRunResponse, ListAdminStatementsResponse, RunDeadlinesResponse, ShowAdminStatementResponse,
};
use crate::auth::AdminAuth;
use crate::body::RequiredBody;
use crate::error::{AdminActionErrors, AdminBulkErrors, AdminListErrors, AdminShowErrors, ApiError, Failure};
use crate::listing::{ListRequest, parse_page};
use crate::state::ApiState;
use crate::types::PathId;

/// Groups of the statement operations in the admin OpenAPI document.
#[derive(Tags)]
pub enum StatementTags {
    /// Statements: what DfE pays each lead provider for a cohort in a month, and their payment.
    Statements,
}

/// Parses a statement id from the path; an id that is not a UUID finds nothing.
fn statement_id(id: &PathId) -> Result<StatementId, ApiError> {
    id.0.parse().map_err(|_| ApiError::NotFound)
}

/// Returns the error to send for a request with a bad body: 404 when no statement has the id,
/// because a missing resource is reported before a bad body, and `error` otherwise.
async fn bad_body_error(state: &ApiState, id: StatementId, error: ApiError) -> ApiError {
    match state.statements.admin_show(id).await {
        Ok(_) => error,
        Err(lookup_error) => lookup_error.into(),
    }
}

fn log_change(user: &str, report: &StatementReport, action: &str) {
    let statement = &report.contents.statement;
    tracing::info!(
        user = %user,
        statement_id = %statement.id,
        lead_provider_id = %statement.lead_provider,
        cohort = %statement.cohort,
        state = %statement.state,
        action,
        "changed a statement"
    );
}

/// The admin statement operations.
pub struct AdminStatementsApi;

#[OpenApi(tag = "StatementTags::Statements")]
impl AdminStatementsApi {
    /// List statements
    ///
    /// Returns one page of all statements, with or without output fees, by payment date and then
    /// in the order they were created. Statements without a payment date come last.
    #[oai(path = "/statements", method = "get", operation_id = "listStatements")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        _caller: AdminAuth,
        state: Data<&ApiState>,
        request: &Request,
        /// Only the statements of this lead provider, by id.
        #[oai(name = "filter[lead_provider_id]")]
        lead_provider_id: Query<Option<String>>,
        /// Only statements of these cohorts: start years or cohort identifiers separated by
        /// commas, such as `2024,2026b`.
        #[oai(name = "filter[cohort]")]
        cohort: Query<Option<String>>,
        /// Only statements changed at or after this instant: an ISO 8601 date and time.
        #[oai(name = "filter[updated_since]")]
        updated_since: Query<Option<String>>,
        /// The page to return, counting from 1. Defaults to 1.
        #[oai(name = "page[page]")]
        page: Query<Option<String>>,
        /// The number of statements on a page, from 1 to 1000. Defaults to 100.
        #[oai(name = "page[per_page]")]
        per_page: Query<Option<String>>,
    ) -> Result<ListAdminStatementsResponse, Failure<AdminListErrors>> {
        let list_request = ListRequest::from_request(request)?;
        list_request.reject_nested_filter("cohort", ListParameterError::InvalidCohort)?;
        list_request.reject_nested_filter("updated_since", |_| ListParameterError::InvalidTimestamp {
            name: "updated_since",
        })?;
        let lead_provider = match lead_provider_id.0.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => Some(parse_hyphenated_uuid(text).map(LeadProviderId::from_uuid).map_err(|_| {
                ApiError::BadRequest(format!(
                    "'#/lead_provider_id' must be a lead provider id (a UUID); '{text}' is not a UUID."
                ))
            })?),
        };
        let query = StatementQuery {
            cohorts: parse_cohort_filter(cohort.0.as_deref()).map_err(ApiError::from)?,
            updated_since: parse_timestamp_filter("updated_since", updated_since.0.as_deref())
                .map_err(ApiError::from)?,
            page: parse_page(page.0.as_deref(), per_page.0.as_deref())?,
        };

        let statements = state.statements.admin_list(lead_provider, &query).await?;
        let data = statements.into_iter().map(AdminStatementListEntry::from).collect();
        Ok(ListAdminStatementsResponse::Ok(Json(AdminStatementsResponse { data })))
    }

    /// Create a statement
    ///
    /// Creates an open statement for a lead provider, cohort and month. A lead provider has at
    /// most one statement per cohort and month. The payment date must not come before the
    /// deadline. Add a contract for each course before paying it.
    #[oai(path = "/statements", method = "post", operation_id = "createStatement")]
    async fn create(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        body: RequiredBody<CreateStatementAttributes>,
    ) -> Result<ShowAdminStatementResponse, Failure<AdminBulkErrors>> {
        let request = statement_requests::create_statement(&body)?;
        let report = state.statements.create(request).await?;
        log_change(&caller.0, &report, "create");
        Ok(ShowAdminStatementResponse::new(&report))
    }

    /// Get one statement
    ///
    /// Returns any statement with its contracts, adjustments, items by state and the calculation
    /// of what it pays, in pence and in pounds.
    #[oai(path = "/statements/:id", method = "get", operation_id = "getStatement")]
    async fn show(
        &self,
        _caller: AdminAuth,
        state: Data<&ApiState>,
        /// The statement's id.
        id: Path<PathId>,
    ) -> Result<ShowAdminStatementResponse, Failure<AdminShowErrors>> {
        let id = statement_id(&id.0)?;
        let report = state.statements.admin_show(id).await?;
        Ok(ShowAdminStatementResponse::new(&report))
    }

    /// Change a statement's dates
    ///
    /// Moves the deadline, the payment date or both of an open statement. The deadline must stay
    /// on or before the payment date. Declarations made after the old deadline and on or before a
    /// later new one land on this statement.
    #[oai(path = "/statements/:id/change-dates", method = "put", operation_id = "changeStatementDates")]
    async fn change_dates(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The statement's id.
        id: Path<PathId>,
        body: RequiredBody<ChangeStatementDatesAttributes>,
    ) -> Result<ChangeAdminStatementResponse, Failure<AdminActionErrors>> {
        let id = statement_id(&id.0)?;
        let change = match statement_requests::change_dates(&body) {
            Ok(change) => change,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let report = state.statements.change_dates(id, change).await?;
        log_change(&caller.0, &report, "change-dates");
        Ok(ChangeAdminStatementResponse::new(&report))
    }

    /// Set a statement's contract for a course
    ///
    /// Adds the statement's contract for a course, or replaces it, while the statement is open.
    /// Terms left out take the preset of the course's group.
    #[oai(path = "/statements/:id/contracts", method = "put", operation_id = "putStatementContract")]
    async fn put_contract(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The statement's id.
        id: Path<PathId>,
        body: RequiredBody<PutContractAttributes>,
    ) -> Result<ChangeAdminStatementResponse, Failure<AdminActionErrors>> {
        let id = statement_id(&id.0)?;
        let contract = match statement_requests::put_contract(&body) {
            Ok(contract) => contract,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let report = state.statements.put_contract(id, contract).await?;
        log_change(&caller.0, &report, "put-contract");
        Ok(ChangeAdminStatementResponse::new(&report))
    }

    /// Adjust a statement
    ///
    /// Adds an amount to a statement, or takes one off, with a description. Refused once the
    /// statement is paid.
    #[oai(path = "/statements/:id/adjustments", method = "post", operation_id = "addStatementAdjustment")]
    async fn add_adjustment(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The statement's id.
        id: Path<PathId>,
        body: RequiredBody<AddAdjustmentAttributes>,
    ) -> Result<ChangeAdminStatementResponse, Failure<AdminActionErrors>> {
        let id = statement_id(&id.0)?;
        let (description, amount) = match statement_requests::add_adjustment(&body) {
            Ok(adjustment) => adjustment,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let report = state.statements.add_adjustment(id, description, amount).await?;
        log_change(&caller.0, &report, "add-adjustment");
        Ok(ChangeAdminStatementResponse::new(&report))
    }

    /// Mark a statement payable
    ///
    /// Marks an open statement payable once its deadline has passed, as the deadline job does:
    /// every eligible declaration on it becomes payable, with a new `updated_at`. No body is
    /// needed.
    #[oai(path = "/statements/:id/mark-payable", method = "post", operation_id = "markStatementPayable")]
    async fn mark_payable(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The statement's id.
        id: Path<PathId>,
    ) -> Result<ChangeAdminStatementResponse, Failure<AdminActionErrors>> {
        let id = statement_id(&id.0)?;
        let report = state.statements.mark_payable(id).await?;
        log_change(&caller.0, &report, "mark-payable");
        Ok(ChangeAdminStatementResponse::new(&report))
    }

    /// Mark a statement paid
    ///
    /// Authorises the payment of a payable statement with output fees whose deadline has passed
    /// and which has declarations. Payable declarations on it become paid, and declarations
    /// awaiting clawback on it become clawed back, each with a new `updated_at`. What the
    /// statement pays for each declaration is recorded, so a later clawback takes back exactly
    /// that. Refused while a declaration on it is on a course without a contract. No body is
    /// needed.
    #[oai(path = "/statements/:id/mark-paid", method = "post", operation_id = "markStatementPaid")]
    async fn mark_paid(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The statement's id.
        id: Path<PathId>,
    ) -> Result<ChangeAdminStatementResponse, Failure<AdminActionErrors>> {
        let id = statement_id(&id.0)?;
        let report = state.statements.mark_paid(id).await?;
        log_change(&caller.0, &report, "mark-paid");
        Ok(ChangeAdminStatementResponse::new(&report))
    }

    /// Run the deadline job
    ///
    /// Marks payable every open statement whose deadline is before today, as the server does on
    /// its timer, including statements whose deadline passed several days ago. Each statement is
    /// changed in its own transaction, and one that fails does not stop the others. No body is
    /// needed.
    #[oai(path = "/statements/run-deadlines", method = "post", operation_id = "runStatementDeadlines")]
    async fn run_deadlines(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
    ) -> Result<RunDeadlinesResponse, Failure<AdminBulkErrors>> {
        let run = state.statements.run_deadlines().await?;
        for (statement, error) in &run.failed {
            tracing::warn!(statement_id = %statement, %error, "the deadline job could not mark a statement payable");
        }
        tracing::info!(
            user = %caller.0,
            today = %run.today,
            marked = run.marked.len(),
            already_payable = run.already_payable.len(),
            failed = run.failed.len(),
            "ran the statement deadline job"
        );
        Ok(RunDeadlinesResponse::Ok(Json(DeadlineRunResponse { data: DeadlineRunReport::from(&run) })))
    }
}
