//! The statement resource: the monthly statements on which DfE pays your organisation for your
//! declarations in one cohort.

use npq_domain::ids::StatementId;
use npq_domain::listing::{ListParameterError, parse_cohort_filter, parse_timestamp_filter};
use npq_domain::statement::{Statement, StatementState};
use npq_domain::statement_actions::StatementQuery;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use crate::auth::LeadProviderAuth;
use crate::error::{ApiError, Failure, ListErrors, ShowErrors};
use crate::listing::{ListRequest, parse_page};
use crate::resources::ApiTags;
use crate::state::ApiState;
use crate::types::{CalendarDate, Nullable, PathId, UtcSeconds};

/// The resource type of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "StatementType")]
pub enum StatementType {
    #[oai(rename = "statement")]
    Statement,
}

/// One statement: what DfE pays your organisation for one cohort in one month.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Statement")]
pub struct StatementResource {
    /// The statement's id, which declarations name as `statement_id` and `clawback_statement_id`.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: StatementType,
    pub attributes: StatementAttributes,
}

/// The attributes of a statement.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "StatementAttributes")]
pub struct StatementAttributes {
    /// The month of the statement, in English: `January` to `December`.
    pub month: String,
    /// The calendar year of the statement, as text, such as `"2025"`.
    pub year: String,
    /// The start year of the cohort the statement pays for, as text, such as `"2024"`.
    pub cohort: String,
    /// The last day on which a declaration can land on the statement. A declaration made later
    /// lands on the next statement. `null` when DfE has not set it.
    pub cut_off_date: Nullable<CalendarDate>,
    /// The day DfE expects to pay the statement, or `null` when DfE has not set it.
    pub payment_date: Nullable<CalendarDate>,
    /// Whether DfE has paid the statement.
    pub paid: bool,
    /// When the statement was created.
    pub created_at: UtcSeconds,
    /// When the statement last changed, such as a new date or its payment.
    pub updated_at: UtcSeconds,
}

impl From<Statement> for StatementResource {
    fn from(statement: Statement) -> Self {
        let attributes = StatementAttributes {
            // The store keeps months from 1 to 12, so every stored month has a name.
            month: statement.month_name().unwrap_or_default().to_owned(),
            year: statement.year.to_string(),
            cohort: statement.cohort.start_year().to_string(),
            cut_off_date: statement.deadline_date.map(CalendarDate).into(),
            payment_date: statement.payment_date.map(CalendarDate).into(),
            paid: statement.state == StatementState::Paid,
            created_at: UtcSeconds(statement.created_at),
            updated_at: UtcSeconds(statement.updated_at),
        };
        Self { id: statement.id.as_uuid(), resource_type: StatementType::Statement, attributes }
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "StatementResponse")]
pub struct StatementResponse {
    pub data: StatementResource,
}

/// One page of statements. An empty `data` means you have read past the last page.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "StatementsResponse")]
pub struct StatementsResponse {
    pub data: Vec<StatementResource>,
}

#[derive(ApiResponse)]
pub enum ListStatementsResponse {
    /// One page of your statements, by payment date; statements without one come last.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<StatementsResponse>),
}

#[derive(ApiResponse)]
pub enum ShowStatementResponse {
    /// The statement.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<StatementResponse>),
}

/// Parses a statement id from the path; an id that is not a UUID finds nothing.
fn statement_id(id: &PathId) -> Result<StatementId, ApiError> {
    id.0.parse().map_err(|_| ApiError::NotFound)
}

/// The statement operations.
pub struct StatementsApi;

#[OpenApi(tag = "ApiTags::Statements")]
impl StatementsApi {
    /// List statements
    ///
    /// Returns one page of your organisation's statements, by payment date and then in the order
    /// DfE created them. Statements of service fees only are not listed. Walk the pages with
    /// `page[page]` until one comes back empty.
    #[oai(path = "/statements", method = "get", operation_id = "listStatements")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        request: &Request,
        /// Only statements of these cohorts: start years separated by commas, such as
        /// `2023,2024`. A cohort identifier such as `2026b` matches that cohort only.
        #[oai(name = "filter[cohort]")]
        cohort: Query<Option<String>>,
        /// Only statements changed at or after this instant: an ISO 8601 date and time such as
        /// `2024-05-13T11:21:55Z`.
        #[oai(name = "filter[updated_since]")]
        updated_since: Query<Option<String>>,
        /// The page to return, counting from 1. Defaults to 1.
        #[oai(name = "page[page]")]
        page: Query<Option<String>>,
        /// The number of statements on a page, from 1 to 1000. Defaults to 100; larger values
        /// return 1000.
        #[oai(name = "page[per_page]")]
        per_page: Query<Option<String>>,
    ) -> Result<ListStatementsResponse, Failure<ListErrors>> {
        let list_request = ListRequest::from_request(request)?;
        list_request.reject_nested_filter("cohort", ListParameterError::InvalidCohort)?;
        list_request.reject_nested_filter("updated_since", |_| ListParameterError::InvalidTimestamp {
            name: "updated_since",
        })?;
        let query = StatementQuery {
            cohorts: parse_cohort_filter(cohort.0.as_deref()).map_err(ApiError::from)?,
            updated_since: parse_timestamp_filter("updated_since", updated_since.0.as_deref())
                .map_err(ApiError::from)?,
            page: parse_page(page.0.as_deref(), per_page.0.as_deref())?,
        };

        let statements = state.statements.list(caller.0, &query).await?;
        let data = statements.into_iter().map(StatementResource::from).collect();
        Ok(ListStatementsResponse::Ok(Json(StatementsResponse { data })))
    }

    /// Get one statement
    ///
    /// Returns one of your organisation's statements. Another organisation's statement, and a
    /// statement of service fees only, return 404, as an unknown id does.
    #[oai(path = "/statements/:id", method = "get", operation_id = "getStatement")]
    async fn show(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The statement's id.
        id: Path<PathId>,
    ) -> Result<ShowStatementResponse, Failure<ShowErrors>> {
        let id = statement_id(&id.0)?;
        let statement = state.statements.show(caller.0, id).await?;
        Ok(ShowStatementResponse::Ok(Json(StatementResponse { data: statement.into() })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use npq_domain::ids::LeadProviderId;
    use npq_domain::payment::Pence;
    use poem_openapi::types::ToJSON;

    #[test]
    fn statement_attributes_are_sent_in_order() {
        let noon = chrono::Utc.with_ymd_and_hms(2023, 7, 1, 12, 0, 0).unwrap();
        let statement = Statement {
            id: StatementId::from_uuid(Uuid::from_u128(5)),
            lead_provider: LeadProviderId::from_uuid(Uuid::from_u128(1)),
            cohort: "2025b".parse().unwrap(),
            year: 2023,
            month: 7,
            deadline_date: Some("2023-07-01".parse().unwrap()),
            payment_date: None,
            output_fee: true,
            state: StatementState::Paid,
            marked_as_paid_at: Some(noon),
            reconcile_amount: Pence::ZERO,
            created_at: noon,
            updated_at: noon,
        };

        let json = StatementResource::from(statement).to_json().unwrap();

        assert_eq!(
            json.to_string(),
            r#"{"id":"00000000-0000-0000-0000-000000000005","type":"statement","attributes":{"month":"July","year":"2023","cohort":"2025","cut_off_date":"2023-07-01","payment_date":null,"paid":true,"created_at":"2023-07-01T12:00:00Z","updated_at":"2023-07-01T12:00:00Z"}}"#
        );
    }
}
