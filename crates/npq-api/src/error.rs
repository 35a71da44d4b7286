//! Error responses: what every failure is sent as, and how operations document them.
//!
//! Two body shapes exist, as in the reference service:
//!
//! - a list of errors, `{"errors":[{"title":"...","detail":"..."}]}`, for 400 (title `Bad request`)
//!   and 422 (title is the attribute that failed validation);
//! - a single message, `{"error":"..."}`, for 401, 404, 500 and 503.

use std::marker::PhantomData;

use npq_domain::error::FieldError;
use npq_domain::{DomainError, StoreError};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

/// Title of every 400 error.
pub const BAD_REQUEST_TITLE: &str = "Bad request";

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
    /// 422: business rules rejected the request.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// 500: an unexpected failure. The cause is logged where it happens, never sent.
    #[error("internal error")]
    Internal,
    /// 503: the database could not be reached.
    #[error("service unavailable")]
    Unavailable,
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Unauthenticated => Self::Unauthenticated,
            DomainError::NotFound => Self::NotFound,
            DomainError::InvalidParameters(error) => Self::BadRequest(error.to_string()),
            DomainError::Invalid(errors) => Self::Invalid(errors),
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
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Returns the JSON body of the error.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::BadRequest(detail) => BadRequestResponse::new(detail).to_json_value(),
            Self::Invalid(errors) => UnprocessableEntityResponse::new(errors).to_json_value(),
            Self::Unauthenticated => message_body(UNAUTHENTICATED_MESSAGE),
            Self::NotFound => message_body(NOT_FOUND_MESSAGE),
            Self::Internal => message_body(INTERNAL_MESSAGE),
            Self::Unavailable => message_body(UNAVAILABLE_MESSAGE),
        }
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
        Response::builder().status(self.status()).content_type(crate::JSON_CONTENT_TYPE).body(self.body().to_string())
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
    UnprocessableEntity,
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
            Self::BadRequest => BadRequestResponse::register(registry),
            Self::Unauthorised => UnauthorisedResponse::register(registry),
            Self::NotFound => NotFoundResponse::register(registry),
            Self::UnprocessableEntity => UnprocessableEntityResponse::register(registry),
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
    fn unavailable_store_is_503_and_other_failures_500() {
        let unavailable = ApiError::from(DomainError::Store(StoreError::Unavailable("timed out".to_owned())));
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        let other = ApiError::from(DomainError::Store(StoreError::Corrupt("secret detail".to_owned())));
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!other.body().to_string().contains("secret detail"));
    }
}
