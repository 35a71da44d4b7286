//! Middleware shared by every route: query checks that come before authentication, and the
//! rewriting that gives every response, errors from poem included, the API's headers and error
//! shapes.

use std::sync::Arc;

use poem::http::header::{CACHE_CONTROL, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::JSON_CONTENT_TYPE;
use crate::error::ApiError;
use crate::query::{check_filter_shape, decode_query};

/// Rejects, before authentication, a query string that is not strictly percent-encoded or whose
/// `filter` parameter is not an object. Wraps every `/api/v3` and `/api/admin/v1` route.
pub async fn check_query<E: Endpoint>(endpoint: Arc<E>, request: Request) -> poem::Result<Response> {
    let pairs = decode_query(request.uri().query().unwrap_or_default())?;
    check_filter_shape(&pairs)?;
    endpoint.call(request).await.map(IntoResponse::into_response)
}

/// Turns every outcome into a response with the API's headers. Errors that poem or poem-openapi
/// raise themselves, such as an unknown route or a method not allowed, become the API's error
/// shapes: both of those are 404, as in the reference service.
pub async fn finish_response<E: Endpoint>(endpoint: Arc<E>, request: Request) -> poem::Result<Response> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = match endpoint.call(request).await {
        Ok(output) => replace_foreign_error_body(output.into_response(), &method, &path),
        Err(error) => error_response(error, &method, &path),
    };
    Ok(with_api_headers(response))
}

fn error_response(error: poem::Error, method: &poem::http::Method, path: &str) -> Response {
    if let Some(api_error) = error.downcast_ref::<ApiError>() {
        return poem::error::ResponseError::as_response(api_error);
    }
    let status = error.status();
    if status.is_server_error() {
        tracing::error!(%method, path, %status, error = %error, "request failed");
    }
    poem::error::ResponseError::as_response(&api_error_for_status(status))
}

/// Replaces the body of an error response that was not built from an [`ApiError`], such as a
/// caught panic's plain text 500, with the API's error shape for its status.
fn replace_foreign_error_body(response: Response, method: &poem::http::Method, path: &str) -> Response {
    let status = response.status();
    let is_json = response.content_type().is_some_and(|content_type| content_type.starts_with(JSON_CONTENT_TYPE));
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || is_json {
        return response;
    }
    if status.is_server_error() {
        tracing::error!(%method, path, %status, "request failed");
    }
    poem::error::ResponseError::as_response(&api_error_for_status(status))
}

fn api_error_for_status(status: StatusCode) -> ApiError {
    match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ApiError::NotFound,
        StatusCode::UNAUTHORIZED => ApiError::Unauthenticated,
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("The request body is larger than the server accepts.".to_owned())
        }
        status if status.is_client_error() => ApiError::BadRequest(format!(
            "the request could not be read ({status}); check the method, headers and body against the API documentation"
        )),
        _ => ApiError::Internal,
    }
}

/// Sets the headers every response carries. JSON is labelled `application/json` exactly, without
/// the charset parameter that poem adds, because the reference service sends it that way.
fn with_api_headers(mut response: Response) -> Response {
    let is_json = response.content_type().is_some_and(|content_type| content_type.starts_with(JSON_CONTENT_TYPE));
    let headers = response.headers_mut();
    if is_json {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
