//! The participant outcome resource: whether a participant passed the assessment of their course.

use npq_domain::declaration_actions::{OutcomeQuery, OutcomeRequest, ParticipantOutcome};
use npq_domain::declaration_service::OutcomeLookup;
use npq_domain::ids::ParticipantId;
use npq_domain::listing::{ListParameterError, parse_timestamp_filter};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use crate::auth::LeadProviderAuth;
use crate::body::{RequestAttributes, RequiredBody};
use crate::error::{ActionErrors, ApiError, Failure, ListErrors, ParticipantShowErrors};
use crate::listing::{ListRequest, parse_page};
use crate::resources::ApiTags;
use crate::resources::participant_actions::text_as_sent;
use crate::state::ApiState;
use crate::types::{PathId, UtcSeconds};

/// The resource type of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ParticipantOutcomeType")]
pub enum OutcomeResourceType {
    #[oai(rename = "participant-outcome")]
    ParticipantOutcome,
}

/// One outcome of a participant's assessment.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantOutcome")]
pub struct OutcomeResource {
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: OutcomeResourceType,
    pub attributes: OutcomeAttributes,
}

/// The attributes of an outcome.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantOutcomeAttributes")]
pub struct OutcomeAttributes {
    /// `passed` or `failed`; `voided` when the completed declaration was voided or clawed back.
    pub state: String,
    /// The day the participant completed the course, at midnight UTC, such as
    /// `2025-05-31T00:00:00+00:00`.
    pub completion_date: String,
    /// The course of the completed declaration's application.
    pub course_identifier: String,
    pub participant_id: Uuid,
    pub created_at: UtcSeconds,
    pub updated_at: UtcSeconds,
}

impl From<ParticipantOutcome> for OutcomeResource {
    fn from(outcome: ParticipantOutcome) -> Self {
        Self {
            id: outcome.id.as_uuid(),
            resource_type: OutcomeResourceType::ParticipantOutcome,
            attributes: OutcomeAttributes {
                state: outcome.state.as_str().to_owned(),
                completion_date: format!("{}T00:00:00+00:00", outcome.completion_date.format("%Y-%m-%d")),
                course_identifier: outcome.course.as_str().to_owned(),
                participant_id: outcome.participant_id.as_uuid(),
                created_at: UtcSeconds(outcome.created_at),
                updated_at: UtcSeconds(outcome.updated_at),
            },
        }
    }
}

/// One outcome.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantOutcomeResponse")]
pub struct OutcomeResponse {
    pub data: OutcomeResource,
}

/// One page of outcomes. An empty `data` means you have read past the last page.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantOutcomesResponse")]
pub struct OutcomesResponse {
    pub data: Vec<OutcomeResource>,
}

/// The attributes of a new outcome.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantOutcomeCreateAttributes")]
pub struct CreateOutcomeAttributes {
    /// The leadership or specialist course the participant completed.
    pub course_identifier: String,
    /// `passed` or `failed`.
    pub state: String,
    /// The day the participant completed the course, `YYYY-MM-DD`, not in the future.
    pub completion_date: String,
}

impl RequestAttributes for CreateOutcomeAttributes {
    const REQUEST_SCHEMA: &'static str = "ParticipantOutcomeRequest";
    const DESCRIPTION: &'static str = "The outcome of a participant's assessment.";
    const DATA_TYPE: &'static str = "npq-outcome-confirmation";
    const EXAMPLE: &'static str = r#"{"data":{"type":"npq-outcome-confirmation","attributes":{"course_identifier":"npq-headship","state":"passed","completion_date":"2025-05-31"}}}"#;
}

#[derive(ApiResponse)]
pub enum ListOutcomesResponse {
    /// One page of outcomes, oldest first.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<OutcomesResponse>),
}

#[derive(ApiResponse)]
pub enum CreateOutcomeResponse {
    /// The outcome recorded, or the latest one when the same outcome was already recorded.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<OutcomeResponse>),
}

fn participant_id(id: &PathId) -> Result<ParticipantId, ApiError> {
    id.0.parse().map_err(|_| ApiError::NotFound)
}

fn page_of(outcomes: Vec<ParticipantOutcome>) -> ListOutcomesResponse {
    ListOutcomesResponse::Ok(Json(OutcomesResponse { data: outcomes.into_iter().map(OutcomeResource::from).collect() }))
}

/// The participant outcome operations.
pub struct OutcomesApi;

#[OpenApi(tag = "ApiTags::ParticipantOutcomes")]
impl OutcomesApi {
    /// List outcomes
    ///
    /// Returns one page of the outcomes recorded against declarations you see: those you made and
    /// those on applications your organisation now holds, oldest first, voided ones included.
    #[oai(path = "/participants/npq/outcomes", method = "get", operation_id = "listOutcomes")]
    async fn list(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        request: &Request,
        /// Only outcomes recorded at or after this instant: an ISO 8601 date and time such as
        /// `2024-05-13T11:21:55Z`.
        #[oai(name = "filter[created_since]")]
        created_since: Query<Option<String>>,
        /// The page to return, counting from 1. Defaults to 1.
        #[oai(name = "page[page]")]
        page: Query<Option<String>>,
        /// The number of outcomes on a page, from 1 to 1000. Defaults to 100.
        #[oai(name = "page[per_page]")]
        per_page: Query<Option<String>>,
    ) -> Result<ListOutcomesResponse, Failure<ListErrors>> {
        let list_request = ListRequest::from_request(request)?;
        list_request.reject_nested_filter("created_since", |_| ListParameterError::InvalidTimestamp {
            name: "created_since",
        })?;
        let query = OutcomeQuery {
            participant_id: None,
            created_since: parse_timestamp_filter("created_since", created_since.0.as_deref())
                .map_err(ApiError::from)?,
            page: parse_page(page.0.as_deref(), per_page.0.as_deref())?,
        };
        Ok(page_of(state.declarations.list_outcomes(caller.0, &query).await?))
    }

    /// List a participant's outcomes
    ///
    /// Returns one page of one participant's outcomes, oldest first. An id DfE retired by merging
    /// two accounts returns 410 with the id to use.
    #[oai(path = "/participants/npq/:id/outcomes", method = "get", operation_id = "listParticipantOutcomes")]
    async fn list_for_participant(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The participant's id.
        id: Path<PathId>,
        /// The page to return, counting from 1. Defaults to 1.
        #[oai(name = "page[page]")]
        page: Query<Option<String>>,
        /// The number of outcomes on a page, from 1 to 1000. Defaults to 100.
        #[oai(name = "page[per_page]")]
        per_page: Query<Option<String>>,
    ) -> Result<ListOutcomesResponse, Failure<ParticipantShowErrors>> {
        let id = participant_id(&id.0)?;
        let page = parse_page(page.0.as_deref(), per_page.0.as_deref())?;
        match state.declarations.participant_outcomes(caller.0, id, page).await? {
            OutcomeLookup::Found(outcomes) => Ok(page_of(outcomes)),
            OutcomeLookup::Retired(changes) => Err(ApiError::ParticipantIdChanged(changes).into()),
        }
    }

    /// Record an outcome
    ///
    /// Records whether the participant passed the course, against their latest completed
    /// declaration for it that is not voided. Sending the latest outcome again adds nothing and
    /// returns it.
    #[oai(path = "/participants/npq/:id/outcomes", method = "post", operation_id = "createParticipantOutcome")]
    async fn create(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The participant's id.
        id: Path<PathId>,
        body: RequiredBody<CreateOutcomeAttributes>,
    ) -> Result<CreateOutcomeResponse, Failure<ActionErrors>> {
        let id = participant_id(&id.0)?;
        let attributes = body.required_attributes()?;
        let request = OutcomeRequest {
            course_identifier: text_as_sent(&attributes, "course_identifier"),
            state: text_as_sent(&attributes, "state"),
            completion_date: text_as_sent(&attributes, "completion_date"),
        };
        let outcome = state.declarations.record_outcome(caller.0, id, request).await?;
        Ok(CreateOutcomeResponse::Ok(Json(OutcomeResponse { data: outcome.into() })))
    }
}
