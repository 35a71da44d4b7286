//! The state of one request while the server handles it: its id, the route template it
//! matched and the lead provider it acts for. The outermost middleware creates it, logs one line
//! per request from it, and records the request's metrics.

use std::sync::{Arc, OnceLock};

use npq_domain::ids::LeadProviderId;
use poem::http::HeaderValue;
use poem::{Request, Response};

/// Header that carries the request id, from the client or generated.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Maximum length of a request id kept from a client, in characters.
pub const MAX_REQUEST_ID_LENGTH: usize = 128;

/// The request's id and what later steps learn about it. Shared through the request's data as an
/// `Arc`, because the steps that learn things only see the request by reference.
#[derive(Debug)]
pub struct RequestContext {
    /// The request id sent back in `X-Request-Id` and logged with every line of the request.
    pub id: String,
    route: OnceLock<String>,
    lead_provider: OnceLock<LeadProviderId>,
}

impl RequestContext {
    pub fn new(id: String) -> Self {
        Self { id, route: OnceLock::new(), lead_provider: OnceLock::new() }
    }

    /// Records the route template the request matched, such as `/api/v3/npq-applications/:param0`.
    /// Only the first call counts.
    pub fn set_route(&self, route: &str) {
        let _ = self.route.set(route.to_owned());
    }

    /// Returns the route template the request matched, if any.
    pub fn route(&self) -> Option<&str> {
        self.route.get().map(String::as_str)
    }

    /// Records the lead provider the request was authenticated as.
    pub fn set_lead_provider(&self, lead_provider: LeadProviderId) {
        let _ = self.lead_provider.set(lead_provider);
    }

    /// Returns the lead provider the request was authenticated as, if any.
    pub fn lead_provider(&self) -> Option<LeadProviderId> {
        self.lead_provider.get().copied()
    }
}

/// Returns the context of a request that passed through the API's middleware.
pub fn context_of(request: &Request) -> Option<&Arc<RequestContext>> {
    request.data::<Arc<RequestContext>>()
}

/// Returns whether a client's request id can be kept: 1 to [`MAX_REQUEST_ID_LENGTH`] visible
/// ASCII characters, so it can go into logs and headers unchanged.
pub fn is_acceptable_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LENGTH && id.bytes().all(|byte| byte.is_ascii_graphic())
}

/// Returns the client's request id when it is acceptable, and a new random id otherwise.
pub fn request_id_for(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_acceptable_request_id(id))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Sets `X-Request-Id` on the response.
pub fn set_request_id_header(response: &mut Response, id: &str) {
    // Every id is visible ASCII, which is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_client_request_ids_are_kept() {
        for id in ["abc-123", "7e5bcdbf-c818-4961-8da5-439cab1984e0", &"x".repeat(MAX_REQUEST_ID_LENGTH)] {
            let request = Request::builder().header(REQUEST_ID_HEADER, id).finish();
            assert_eq!(request_id_for(&request), id);
        }
    }

    #[test]
    fn unsafe_client_request_ids_are_replaced() {
        for id in ["", "has space", "tab\there", &"x".repeat(MAX_REQUEST_ID_LENGTH + 1), "caf\u{e9}"] {
            assert!(!is_acceptable_request_id(id), "{id:?}");
        }
        let request = Request::builder().header(REQUEST_ID_HEADER, "has space").finish();
        let generated = request_id_for(&request);
        assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    }

    #[test]
    fn context_keeps_the_first_route_and_provider() {
        let context = RequestContext::new("id".to_owned());
        context.set_route("/a");
        context.set_route("/b");
        assert_eq!(context.route(), Some("/a"));
        let provider = LeadProviderId::new_random();
        context.set_lead_provider(provider);
        assert_eq!(context.lead_provider(), Some(provider));
    }
}
