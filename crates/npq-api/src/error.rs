//! Error responses: what every failure is sent as, and how operations document them.
//!
//! Three body shapes exist, as in the reference service:
//!
//! - a list of errors, `{"errors":[{"title":"...","detail":"..."}]}`, for 400 (title `Bad request`)
//!   and 422 (title is the attribute that failed validation);
//! - the same list with the participant's id changes in its one entry, for 410 (a retired
//!   participant id);
//! - a single message, `{"error":"..."}`, for 401, 404, 500 and 503.
//!
//! The operational errors that the reference service does not have follow the same shapes. A 403
//! for an address outside the lead provider's allow-list is a list of errors titled `Forbidden`.
//! A 410 for a retired API version, a 413, a 429 and a timed-out 503 are a single message.

use std::marker::PhantomData;

use npq_domain::error::FieldError;
use npq_domain::participant::ParticipantIdChange;
use npq_domain::{DomainError, StoreError};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

use crate::resources::participants::ParticipantIdChangeResource;

/// Title of every 400 error.
pub const BAD_REQUEST_TITLE: &str = "Bad request";

/// Title of the 403 error for a client address outside the lead provider's allow-list.
pub const FORBIDDEN_TITLE: &str = "Forbidden";

/// Title of the 410 error for a retired participant id.
pub const PARTICIPANT_ID_CHANGED_TITLE: &str = "The participant ID has changed";

const UNAUTHENTICATED_MESSAGE: &str =
    "Access denied: send a valid API token in the Authorization header, as 'Authorization: Bearer <token>'";
const NOT_FOUND_MESSAGE: &str = "Not found";
const INTERNAL_MESSAGE: &str = "Internal server error";
const UNAVAILABLE_MESSAGE: &str = "The service is temporarily unavailable; try again in a few minutes";

/// A failed request, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read, such as a query parameter with an invalid value.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: the API token is missing, unknown or of a scope the API does not accept.
    #[error("unauthenticated")]
    Unauthenticated,
    /// 404: no such route, or no such resource visible to the caller.
    #[error("not found")]
    NotFound,
    /// 410: the participant id was retired when DfE merged two accounts of one person. The change
    /// that retired it comes first, then every other change into the account that replaced it.
    #[error("participant id retired")]
    ParticipantIdChanged(Vec<ParticipantIdChange>),
    /// 422: business rules rejected the request.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// 500: an unexpected failure. The cause is logged where it happens, never sent.
    #[error("internal error")]
    Internal,
    /// 503: the database could not be reached.
    #[error("service unavailable")]
    Unavailable,
    /// 403: the request is authenticated but not allowed, such as one from an address outside the
    /// lead provider's allow-list. The message gives the reason.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 410: the path belongs to a retired version of the API. The message names the version to
    /// use and its documentation.
    #[error("retired API version: {0}")]
    VersionRetired(String),
    /// 413: the request body is larger than the server accepts. The message gives the maximum.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// 429: the client sent more requests than its rate limit allows. Sent with a `Retry-After`
    /// header of `retry_after_seconds`.
    #[error("too many requests: {message}")]
    TooManyRequests { message: String, retry_after_seconds: u64 },
    /// 503: the request took longer than the server's time limit and was abandoned.
    #[error("timed out: {0}")]
    TimedOut(String),
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Unauthenticated => Self::Unauthenticated,
            DomainError::NotFound => Self::NotFound,
            DomainError::InvalidParameters(error) => Self::BadRequest(error.to_string()),
            DomainError::Invalid(errors) => Self::Invalid(errors),
            DomainError::Forbidden(message) => Self::Forbidden(message),
            DomainError::AddressNotAllowed(address) => Self::Forbidden(address_not_allowed_message(address)),
            DomainError::Store(StoreError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "database unavailable; returning 503");
                Self::Unavailable
            }
            DomainError::Store(error) => {
                tracing::error!(error = %error, "store failed; returning 500");
                Self::Internal
            }
        }
    }
}

impl ApiError {
    /// Returns the HTTP status the error is sent with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::ParticipantIdChanged(_) => StatusCode::GONE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::VersionRetired(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Returns the JSON body of the error.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::BadRequest(detail) => BadRequestResponse::new(detail).to_json_value(),
            Self::Invalid(errors) => UnprocessableEntityResponse::new(errors).to_json_value(),
            Self::ParticipantIdChanged(changes) => GoneResponse::new(changes).to_json_value(),
            Self::Unauthenticated => message_body(UNAUTHENTICATED_MESSAGE),
            Self::NotFound => message_body(NOT_FOUND_MESSAGE),
            Self::Internal => message_body(INTERNAL_MESSAGE),
            Self::Unavailable => message_body(UNAVAILABLE_MESSAGE),
            Self::Forbidden(detail) => {
                serde_json::json!({ "errors": [{ "title": FORBIDDEN_TITLE, "detail": detail }] })
            }
            Self::VersionRetired(message)
            | Self::PayloadTooLarge(message)
            | Self::TooManyRequests { message, .. }
            | Self::TimedOut(message) => message_body(message),
        }
    }
}

/// Builds the detail of the 403 for a client address outside the lead provider's allow-list.
fn address_not_allowed_message(address: Option<std::net::IpAddr>) -> String {
    match address {
        Some(address) => format!(
            "Requests from {address} are not allowed for your organisation: the address is not in any network on its allow-list. Send requests from an allowed network, or ask DfE to add this address."
        ),
        None => "Your organisation accepts requests only from the networks on its allow-list, and the address of this request could not be determined.".to_owned(),
    }
}

fn message_body(message: &str) -> serde_json::Value {
    serde_json::json!({ "error": message })
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> Response {
        let mut builder = Response::builder().status(self.status()).content_type(crate::JSON_CONTENT_TYPE);
        if let Self::TooManyRequests { retry_after_seconds, .. } = self {
            builder = builder.header(poem::http::header::RETRY_AFTER, retry_after_seconds.to_string());
        }
        builder.body(self.body().to_string())
    }
}

/// One entry of a 400 or 422 error list.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ErrorDetail {
    /// `Bad request` for a 400; for a 422, the attribute that failed validation, or `base` for
    /// the record as a whole.
    pub title: String,
    /// The problem and how to fix it.
    pub detail: String,
}

/// The request could not be read: a query parameter, the query string or the JSON body is
/// invalid.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct BadRequestResponse {
    /// Always exactly one error, titled `Bad request`.
    pub errors: Vec<ErrorDetail>,
}

impl BadRequestResponse {
    fn new(detail: &str) -> Self {
        Self { errors: vec![ErrorDetail { title: BAD_REQUEST_TITLE.to_owned(), detail: detail.to_owned() }] }
    }

    fn to_json_value(&self) -> serde_json::Value {
        self.to_json().unwrap_or_default()
    }
}

/// The request was understood but breaks a business rule.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct UnprocessableEntityResponse {
    /// One entry per attribute and distinct message, in the order the rules failed.
    pub errors: Vec<ErrorDetail>,
}

impl UnprocessableEntityResponse {
    fn new(field_errors: &[FieldError]) -> Self {
        Self { errors: error_details(field_errors) }
    }

    fn to_json_value(&self) -> serde_json::Value {
        self.to_json().unwrap_or_default()
    }
}

/// Converts failed rules into error list entries titled with their attribute: one entry per
/// attribute and distinct message, in the order the rules failed.
pub fn error_details(field_errors: &[FieldError]) -> Vec<ErrorDetail> {
    let mut errors: Vec<ErrorDetail> = Vec::new();
    for field_error in field_errors {
        let entry = ErrorDetail { title: field_error.attribute.clone(), detail: field_error.message.clone() };
        if !errors.contains(&entry) {
            errors.push(entry);
        }
    }
    errors
}

/// One entry of a 410 error: why the participant id no longer works, and what replaced it.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ParticipantIdChangedDetail {
    /// Always `The participant ID has changed`.
    pub title: String,
    /// The retired id and the id to use instead.
    pub detail: String,
    /// The change that retired the id, then every other change into the account that replaced it,
    /// newest first.
    pub participant_id_changes: Vec<ParticipantIdChangeResource>,
}

/// The participant id was retired when DfE merged two accounts of one person. Use the
/// `to_participant_id` of the first change instead.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct GoneResponse {
    /// Always exactly one error.
    pub errors: Vec<ParticipantIdChangedDetail>,
}

impl GoneResponse {
    fn new(changes: &[ParticipantIdChange]) -> Self {
        let detail = match changes.first() {
            Some(retirement) => format!(
                "The participant ID {} was replaced by {} when DfE merged two accounts of the same person. Use {} from now on.",
                retirement.from_participant_id, retirement.to_participant_id, retirement.to_participant_id
            ),
            None => "The participant ID was replaced when DfE merged two accounts of the same person.".to_owned(),
        };
        Self {
            errors: vec![ParticipantIdChangedDetail {
                title: PARTICIPANT_ID_CHANGED_TITLE.to_owned(),
                detail,
                participant_id_changes: changes.iter().map(ParticipantIdChangeResource::from).collect(),
            }],
        }
    }

    fn to_json_value(&self) -> serde_json::Value {
        self.to_json().unwrap_or_default()
    }
}

/// The API token is missing, unknown or not accepted by this API.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct UnauthorisedResponse {
    /// The reason access was denied.
    pub error: String,
}

/// No such route, or no such resource visible to the caller. An id that is not a UUID finds
/// nothing too.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct NotFoundResponse {
    /// Always `Not found`.
    pub error: String,
}

/// The server failed (500) or its database is unavailable (503). Retry later; the details are in
/// the server's logs, never in the response.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ServerErrorResponse {
    /// A short, generic message.
    pub error: String,
}

/// A status an operation may fail with, and how it is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStatus {
    BadRequest,
    Unauthorised,
    NotFound,
    /// 410, for a participant id that DfE retired by merging two accounts.
    ParticipantIdChanged,
    /// 403, for a change only the lead provider that made the record may make.
    Forbidden,
    UnprocessableEntity,
    /// 422, for a list filter value that is not allowed.
    UnpermittedFilter,
    InternalServerError,
    ServiceUnavailable,
}

/// The callers an operation serves, which decides how its 401 and 404 are described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Lead providers, through the v3 API.
    LeadProvider,
    /// DfE staff, through the admin API.
    DfeStaff,
}

impl ErrorStatus {
    fn meta(self, audience: Audience) -> MetaResponse {
        let (status, description, schema) = match (self, audience) {
            (Self::BadRequest, _) => (
                400,
                "A query parameter, the query string or the request body is invalid; the detail says which and how to fix it.",
                BadRequestResponse::schema_ref(),
            ),
            (Self::Unauthorised, Audience::LeadProvider) => (
                401,
                "The API token is missing, unknown or not a lead provider token.",
                UnauthorisedResponse::schema_ref(),
            ),
            (Self::Unauthorised, Audience::DfeStaff) => {
                (401, "The API token is missing, unknown or not an admin token.", UnauthorisedResponse::schema_ref())
            }
            (Self::NotFound, Audience::LeadProvider) => (
                404,
                "No resource with this id belongs to the caller's lead provider, or the id is not a UUID.",
                NotFoundResponse::schema_ref(),
            ),
            (Self::NotFound, Audience::DfeStaff) => {
                (404, "No resource has this id, or the id is not a UUID.", NotFoundResponse::schema_ref())
            }
            (Self::ParticipantIdChanged, _) => (
                410,
                "The participant id was retired when DfE merged two accounts of one person, whoever asks. The error lists the id changes; use the `to_participant_id` of the first.",
                GoneResponse::schema_ref(),
            ),
            (Self::Forbidden, _) => (
                403,
                "You see the record but may not change it: only the lead provider that made a declaration may void it or change its delivery partners. The detail says who made it.",
                BadRequestResponse::schema_ref(),
            ),
            (Self::UnpermittedFilter, _) => (
                422,
                "A filter has a value that is not allowed, such as a `filter[training_status]` that is not a training status. The error is titled `Unpermitted parameters` and its detail lists the allowed values.",
                UnprocessableEntityResponse::schema_ref(),
            ),
            (Self::UnprocessableEntity, _) => (
                422,
                "The request breaks a business rule; each error is titled with the attribute concerned.",
                UnprocessableEntityResponse::schema_ref(),
            ),
            (Self::InternalServerError, _) => {
                (500, "The server failed unexpectedly. Retry later.", ServerErrorResponse::schema_ref())
            }
            (Self::ServiceUnavailable, _) => {
                (503, "The database is temporarily unavailable. Retry later.", ServerErrorResponse::schema_ref())
            }
        };
        MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: vec![MetaMediaType { content_type: crate::JSON_CONTENT_TYPE, schema }],
            headers: Vec::new(),
        }
    }

    fn register(self, registry: &mut Registry) {
        match self {
            Self::BadRequest | Self::Forbidden => BadRequestResponse::register(registry),
            Self::Unauthorised => UnauthorisedResponse::register(registry),
            Self::NotFound => NotFoundResponse::register(registry),
            Self::ParticipantIdChanged => GoneResponse::register(registry),
            Self::UnprocessableEntity | Self::UnpermittedFilter => UnprocessableEntityResponse::register(registry),
            Self::InternalServerError | Self::ServiceUnavailable => ServerErrorResponse::register(registry),
        }
    }
}

/// The error statuses an operation documents.
pub trait DocumentedErrors: Send + Sync + 'static {
    const STATUSES: &'static [ErrorStatus];

    /// The callers of the operation.
    const AUDIENCE: Audience = Audience::LeadProvider;
}

/// Errors of a list operation.
pub struct ListErrors;

impl DocumentedErrors for ListErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of an operation on one resource, found by its id.
pub struct ShowErrors;

impl DocumentedErrors for ShowErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::NotFound,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of the participant list, whose `filter[training_status]` is checked by the rules.
pub struct ParticipantListErrors;

impl DocumentedErrors for ParticipantListErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::UnpermittedFilter,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of reading one participant, whose id may have been retired.
pub struct ParticipantShowErrors;

impl DocumentedErrors for ParticipantShowErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::NotFound,
        ErrorStatus::ParticipantIdChanged,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of an action on one resource, found by its id, that may take a JSON body.
pub struct ActionErrors;

impl DocumentedErrors for ActionErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::NotFound,
        ErrorStatus::UnprocessableEntity,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of submitting a declaration.
pub struct DeclarationCreateErrors;

impl DocumentedErrors for DeclarationCreateErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::UnprocessableEntity,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of a change to a declaration, which only the lead provider that made it may make.
pub struct DeclarationChangeErrors;

impl DocumentedErrors for DeclarationChangeErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::Forbidden,
        ErrorStatus::NotFound,
        ErrorStatus::UnprocessableEntity,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of an admin operation that reads one resource, found by its id.
pub struct AdminShowErrors;

impl DocumentedErrors for AdminShowErrors {
    const STATUSES: &'static [ErrorStatus] = ShowErrors::STATUSES;
    const AUDIENCE: Audience = Audience::DfeStaff;
}

/// Errors of an admin action on one resource, found by its id.
pub struct AdminActionErrors;

impl DocumentedErrors for AdminActionErrors {
    const STATUSES: &'static [ErrorStatus] = ActionErrors::STATUSES;
    const AUDIENCE: Audience = Audience::DfeStaff;
}

/// Errors of an admin list.
pub struct AdminListErrors;

impl DocumentedErrors for AdminListErrors {
    const STATUSES: &'static [ErrorStatus] = ListErrors::STATUSES;
    const AUDIENCE: Audience = Audience::DfeStaff;
}

/// Errors of an admin action on many resources at once.
pub struct AdminBulkErrors;

impl DocumentedErrors for AdminBulkErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::UnprocessableEntity,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
    const AUDIENCE: Audience = Audience::DfeStaff;
}

/// The error half of an operation's result: any [`ApiError`], documented in the OpenAPI
/// document with the statuses of `D`.
#[derive(Debug)]
pub struct Failure<D> {
    error: ApiError,
    documented: PhantomData<D>,
}

impl<D> Failure<D> {
    /// Returns the error inside.
    pub fn error(&self) -> &ApiError {
        &self.error
    }
}

impl<D> From<ApiError> for Failure<D> {
    fn from(error: ApiError) -> Self {
        Self { error, documented: PhantomData }
    }
}

impl<D> From<DomainError> for Failure<D> {
    fn from(error: DomainError) -> Self {
        ApiError::from(error).into()
    }
}

impl<D> From<Failure<D>> for poem::Error {
    fn from(failure: Failure<D>) -> Self {
        failure.error.into()
    }
}

impl<D: Send> IntoResponse for Failure<D> {
    fn into_response(self) -> Response {
        poem::error::ResponseError::as_response(&self.error)
    }
}

impl<D: DocumentedErrors> ApiResponse for Failure<D> {
    fn meta() -> MetaResponses {
        MetaResponses { responses: D::STATUSES.iter().map(|status| status.meta(D::AUDIENCE)).collect() }
    }

    fn register(registry: &mut Registry) {
        for status in D::STATUSES {
            status.register(registry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_are_deduplicated_in_order() {
        let error = ApiError::Invalid(vec![
            FieldError { attribute: "funded_place".to_owned(), message: "must be set".to_owned() },
            FieldError { attribute: "schedule_identifier".to_owned(), message: "unknown".to_owned() },
            FieldError { attribute: "funded_place".to_owned(), message: "must be set".to_owned() },
        ]);
        assert_eq!(
            error.body(),
            serde_json::json!({"errors": [
                {"title": "funded_place", "detail": "must be set"},
                {"title": "schedule_identifier", "detail": "unknown"},
            ]})
        );
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn retired_participant_id_is_410_naming_both_ids() {
        use chrono::TimeZone;
        use npq_domain::ids::ParticipantId;

        let (from, to) = (ParticipantId::new_random(), ParticipantId::new_random());
        let changed_at = chrono::Utc.with_ymd_and_hms(2025, 9, 10, 10, 0, 0).unwrap();
        let error = ApiError::ParticipantIdChanged(vec![ParticipantIdChange {
            from_participant_id: from,
            to_participant_id: to,
            changed_at,
        }]);
        assert_eq!(error.status(), StatusCode::GONE);
        let body = error.body();
        assert_eq!(body["errors"][0]["title"], PARTICIPANT_ID_CHANGED_TITLE);
        let detail = body["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(&from.to_string()), "{detail}");
        assert!(detail.contains(&to.to_string()), "{detail}");
        assert_eq!(
            body["errors"][0]["participant_id_changes"],
            serde_json::json!([{
                "from_participant_id": from.to_string(),
                "to_participant_id": to.to_string(),
                "changed_at": "2025-09-10T10:00:00Z",
            }])
        );
    }

    #[test]
    fn unavailable_store_is_503_and_other_failures_500() {
        let unavailable = ApiError::from(DomainError::Store(StoreError::Unavailable("timed out".to_owned())));
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        let other = ApiError::from(DomainError::Store(StoreError::Corrupt("secret detail".to_owned())));
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!other.body().to_string().contains("secret detail"));
    }
}
