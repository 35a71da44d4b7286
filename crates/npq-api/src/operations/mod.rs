//! Operations around the API: the routes that tell whether the server is up (`/health`,
//! `/ready`, `/metrics`), the 410 for retired API versions, and the middleware every request
//! passes through.
//!
//! A request passes through these steps from the outside in. The request context comes first
//! (request id, tracing span, one log line, metrics, gzip compression). Then come the API's headers
//! and error shapes ([`crate::http::finish_response`]), panic recovery and the route template
//! recorder. Then the time limit, the client address resolver, the rate limits, the body size limit
//! and the sandbox steps (time travel, test delays) run before the route table.

pub mod compression;
pub mod metrics;
pub mod rate_limit;
pub mod request_context;
pub mod time_travel;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use npq_domain::network::{IpNetwork, resolve_client_address};
use npq_domain::ports::DatabaseHealth;
use poem::endpoint::{make, make_sync};
use poem::error::ReadBodyError;
use poem::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, IntoResponse, PathPattern, Request, Response, Route};
use tracing::Instrument;

use crate::error::ApiError;
use crate::state::ApiState;
use crate::{DOCUMENTATION_UI_PATH, JSON_CONTENT_TYPE};

use self::metrics::{Metrics, PROMETHEUS_CONTENT_TYPE, UNMATCHED_ROUTE};
use self::rate_limit::{Admission, FixedWindowLimiter, RateLimit, retry_after_seconds};
use self::request_context::{RequestContext, context_of, request_id_for, set_request_id_header};

/// Path of the liveness check: 200 while the process serves requests.
pub const HEALTH_PATH: &str = "/health";

/// Path of the readiness check: 200 when the database responds, 503 otherwise.
pub const READY_PATH: &str = "/ready";

/// Path of the metrics in the Prometheus text format.
pub const METRICS_PATH: &str = "/metrics";

/// Retired API versions, each with the path its requests live under.
const RETIRED_VERSIONS: [(&str, &str); 2] = [("v1", "/api/v1"), ("v2", "/api/v2")];

/// Requests allowed per API token by default: 1000 every 5 minutes, as in the reference service.
pub const DEFAULT_RATE_LIMIT_PER_TOKEN: RateLimit = RateLimit { requests: 1000, window: Duration::from_secs(300) };

/// Requests allowed per client address by default: 3000 every 5 minutes, room for three
/// integrations that each use their whole token budget from one address.
pub const DEFAULT_RATE_LIMIT_PER_ADDRESS: RateLimit = RateLimit { requests: 3000, window: Duration::from_secs(300) };

/// Time a request may take by default before it is abandoned with a 503.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Time the readiness check waits for the database.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(5);

/// Header that delays a sandbox response by a number of milliseconds, honoured only when
/// [`HttpOptions::sandbox_delay_header`] is set. Tests use it to keep a request in flight.
pub const SANDBOX_DELAY_HEADER: &str = "x-sandbox-delay-ms";

/// Maximum delay that [`SANDBOX_DELAY_HEADER`] may request.
pub const MAX_SANDBOX_DELAY: Duration = Duration::from_secs(60);

/// How the server treats requests beyond the API's own rules.
#[derive(Clone)]
pub struct HttpOptions {
    /// Proxies whose `X-Forwarded-For` entries are believed. Empty: the socket peer is always the
    /// client.
    pub trusted_proxies: Vec<IpNetwork>,
    /// Requests allowed per API token; `None` for no limit.
    pub rate_limit_per_token: Option<RateLimit>,
    /// Requests allowed per client address; `None` for no limit.
    pub rate_limit_per_address: Option<RateLimit>,
    /// Largest request body accepted, in bytes; larger ones are refused with 413.
    pub max_body_bytes: usize,
    /// Time a request may take before it is abandoned with a 503.
    pub request_timeout: Duration,
    /// Sandbox mode: honours `X-With-Server-Date`. Never set it in production.
    pub sandbox: bool,
    /// Honours [`SANDBOX_DELAY_HEADER`]; only takes effect in sandbox mode. For tests.
    pub sandbox_delay_header: bool,
    /// The database that `/ready` pings and whose pool `/metrics` reports. Without one, `/ready`
    /// reports ready whenever the process serves requests.
    pub database: Option<Arc<dyn DatabaseHealth>>,
}

impl Default for HttpOptions {
    /// Returns the production defaults: both rate limits, a 30-second time limit, the body limit
    /// of the JSON reader, no trusted proxies and no sandbox.
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            rate_limit_per_token: Some(DEFAULT_RATE_LIMIT_PER_TOKEN),
            rate_limit_per_address: Some(DEFAULT_RATE_LIMIT_PER_ADDRESS),
            max_body_bytes: crate::body::MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            sandbox: false,
            sandbox_delay_header: false,
            database: None,
        }
    }
}

impl HttpOptions {
    /// Returns the defaults without rate limits, for tests and tools that send many requests at
    /// once.
    pub fn without_rate_limits() -> Self {
        Self { rate_limit_per_token: None, rate_limit_per_address: None, ..Self::default() }
    }
}

/// The address of the client that sent the request, found by
/// [`npq_domain::network::resolve_client_address`]. Absent when the request did not arrive on an
/// IP socket, as in tests that call the endpoint directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Everything the middleware shares: the options, the limiters and the metrics.
struct Operations {
    options: HttpOptions,
    per_token: Option<FixedWindowLimiter>,
    per_address: Option<FixedWindowLimiter>,
    metrics: Arc<Metrics>,
}

/// Adds the operational routes to `api`, attaches the state and wraps everything in the
/// middleware described in the module documentation.
pub(crate) fn serve_api(api: Route, state: ApiState, options: HttpOptions) -> impl Endpoint<Output = Response> {
    let metrics = Arc::new(Metrics::default());
    let mut routes = api
        .at(HEALTH_PATH, poem::get(make_sync(|_| json_response(200, &serde_json::json!({ "status": "ok" })))))
        .at(READY_PATH, poem::get(readiness(options.database.clone())))
        .at(METRICS_PATH, poem::get(metrics_report(metrics.clone(), options.database.clone())));
    for (version, prefix) in RETIRED_VERSIONS {
        let message = format!(
            "API {version} has been retired. Use API v3, documented at {DOCUMENTATION_UI_PATH}; the paths and fields are described there."
        );
        routes = routes.nest(
            prefix,
            make_sync(move |_| poem::error::ResponseError::as_response(&ApiError::VersionRetired(message.clone()))),
        );
    }

    let operations = Arc::new(Operations {
        per_token: options.rate_limit_per_token.map(FixedWindowLimiter::new),
        per_address: options.rate_limit_per_address.map(FixedWindowLimiter::new),
        options,
        metrics,
    });
    let sandbox = operations.clone();
    let body_limit = operations.clone();
    let rate_limits = operations.clone();
    let client_address = operations.clone();
    let time_limit = operations.clone();
    // Boxing erases the nested middleware types, which would otherwise exceed the compiler's
    // type depth limit in crates that call the endpoint.
    let inner = routes
        .data(state)
        .around(move |endpoint, request| run_sandbox_steps(sandbox.clone(), endpoint, request))
        .around(move |endpoint, request| limit_body(body_limit.clone(), endpoint, request))
        .around(move |endpoint, request| apply_rate_limits(rate_limits.clone(), endpoint, request))
        .around(move |endpoint, request| resolve_client(client_address.clone(), endpoint, request))
        .around(move |endpoint, request| apply_time_limit(time_limit.clone(), endpoint, request))
        .boxed();
    inner
        .around(record_route)
        .with(CatchPanic::new().with_handler(|_| {
            tracing::error!("a request handler panicked; returning 500");
            poem::error::ResponseError::as_response(&ApiError::Internal)
        }))
        .around(crate::http::finish_response)
        .around(move |endpoint, request| observe(operations.clone(), endpoint, request))
        .boxed()
}

fn json_response(status: u16, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(poem::http::StatusCode::from_u16(status).unwrap_or(poem::http::StatusCode::OK))
        .content_type(JSON_CONTENT_TYPE)
        .body(body.to_string())
}

/// Builds the readiness check, which pings the database, if there is one, within
/// [`READINESS_TIMEOUT`].
fn readiness(database: Option<Arc<dyn DatabaseHealth>>) -> impl Endpoint<Output = Response> {
    make(move |_| {
        let database = database.clone();
        async move {
            let Some(database) = database else {
                return json_response(200, &serde_json::json!({ "status": "ready" }));
            };
            let failure = match tokio::time::timeout(READINESS_TIMEOUT, database.ping()).await {
                Ok(Ok(())) => return json_response(200, &serde_json::json!({ "status": "ready" })),
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no answer within {} seconds", READINESS_TIMEOUT.as_secs()),
            };
            tracing::warn!(error = %failure, "readiness check failed: the database is not reachable");
            json_response(
                503,
                &serde_json::json!({ "error": "The database is not reachable; the server is not ready." }),
            )
        }
    })
}

fn metrics_report(
    metrics: Arc<Metrics>,
    database: Option<Arc<dyn DatabaseHealth>>,
) -> impl Endpoint<Output = Response> {
    make_sync(move |_| {
        let pool = database.as_ref().and_then(|database| database.pool_status());
        Response::builder().content_type(PROMETHEUS_CONTENT_TYPE).body(metrics.render(pool))
    })
}

/// Returns whether the path is one of the operational routes, which no rate limit counts so that
/// load balancers and monitoring can poll them freely.
fn is_operational_path(path: &str) -> bool {
    [HEALTH_PATH, READY_PATH, METRICS_PATH].contains(&path)
}

/// Creates the request context and runs the request in its tracing span, as the outermost step.
/// Afterwards it compresses the body, sets `X-Request-Id`, records metrics and logs one line. The
/// token is never logged.
async fn observe<E: Endpoint>(
    operations: Arc<Operations>,
    endpoint: Arc<E>,
    mut request: Request,
) -> poem::Result<Response> {
    let started = Instant::now();
    let context = Arc::new(RequestContext::new(request_id_for(&request)));
    request.set_data(context.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let accepts_gzip = compression::accepts_gzip(request.headers());
    let span = tracing::info_span!("request", request_id = %context.id, lead_provider_id = tracing::field::Empty);

    async move {
        let response = match endpoint.call(request).await {
            Ok(output) => output.into_response(),
            Err(error) => error.into_response(),
        };
        let mut response = compression::compress_response(response, &method, accepts_gzip).await;
        set_request_id_header(&mut response, &context.id);

        let status = response.status().as_u16();
        let route = context.route().unwrap_or(UNMATCHED_ROUTE);
        let duration = started.elapsed();
        operations.metrics.record_request(&method, route, status, duration);
        let lead_provider_id = context.lead_provider().map(|id| id.to_string());
        let duration_ms = duration.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(%method, route, path, status, duration_ms, lead_provider_id, "request failed");
        } else {
            tracing::info!(%method, route, path, status, duration_ms, lead_provider_id, "request finished");
        }
        Ok(response)
    }
    .instrument(span)
    .await
}

/// Records the route template the request matched, which poem attaches to the response or error,
/// before [`crate::http::finish_response`] turns errors into new responses.
async fn record_route<E: Endpoint>(endpoint: Arc<E>, request: Request) -> poem::Result<Response> {
    let context = context_of(&request).cloned();
    let result = endpoint.call(request).await.map(IntoResponse::into_response);
    if let Some(context) = context {
        let pattern = match &result {
            Ok(response) => response.data::<PathPattern>(),
            Err(error) => error.data::<PathPattern>(),
        };
        if let Some(pattern) = pattern {
            context.set_route(&pattern.0);
        }
    }
    result
}

/// Abandons a request that takes longer than the time limit, with a 503. Dropping the request's
/// work rolls back any database transaction it had open.
async fn apply_time_limit<E: Endpoint>(
    operations: Arc<Operations>,
    endpoint: Arc<E>,
    request: Request,
) -> poem::Result<Response> {
    let limit = operations.options.request_timeout;
    match tokio::time::timeout(limit, endpoint.call(request)).await {
        Ok(result) => result.map(IntoResponse::into_response),
        Err(_) => {
            tracing::warn!(limit_seconds = limit.as_secs_f64(), "request timed out; returning 503");
            Err(ApiError::TimedOut(format!(
                "The request took longer than {} and was stopped. Try again later; for lists, ask for fewer records per page.",
                describe_duration(limit)
            ))
            .into())
        }
    }
}

/// Finds the client's address and attaches it to the request as [`ClientAddress`].
async fn resolve_client<E: Endpoint>(
    operations: Arc<Operations>,
    endpoint: Arc<E>,
    mut request: Request,
) -> poem::Result<Response> {
    if let Some(peer) = request.remote_addr().as_socket_addr().map(|socket| socket.ip()) {
        let forwarded_for: Vec<&str> =
            request.headers().get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()).collect();
        let client = resolve_client_address(peer, &forwarded_for, &operations.options.trusted_proxies);
        request.set_data(ClientAddress(client));
    }
    endpoint.call(request).await.map(IntoResponse::into_response)
}

/// Counts the request against the limits of its token and its client address; over either, the
/// request ends with 429. The token limit counts requests under `/api/` other than the
/// documentation that carry an `Authorization` header, keyed by the header's value; the address
/// limit counts every request but those to the operational routes.
async fn apply_rate_limits<E: Endpoint>(
    operations: Arc<Operations>,
    endpoint: Arc<E>,
    request: Request,
) -> poem::Result<Response> {
    let path = request.uri().path();
    if !is_operational_path(path) {
        if let Some(limiter) = &operations.per_token
            && path.starts_with("/api/")
            && !path.starts_with("/api/docs")
            && let Some(authorization) = request.headers().get(AUTHORIZATION)
        {
            refuse_when_over(&operations, limiter, authorization.as_bytes(), "token", &request)?;
        }
        if let Some(limiter) = &operations.per_address
            && let Some(ClientAddress(address)) = request.data::<ClientAddress>()
        {
            refuse_when_over(&operations, limiter, address.to_string().as_bytes(), "address", &request)?;
        }
    }
    endpoint.call(request).await.map(IntoResponse::into_response)
}

fn refuse_when_over(
    operations: &Operations,
    limiter: &FixedWindowLimiter,
    key: &[u8],
    limit_name: &'static str,
    request: &Request,
) -> Result<(), ApiError> {
    let Admission::Refused { retry_after, first } = limiter.admit(key) else {
        return Ok(());
    };
    operations.metrics.record_rate_limited(limit_name);
    let client = request.data::<ClientAddress>().map(|ClientAddress(address)| address.to_string());
    if first {
        tracing::warn!(
            limit = limit_name,
            client_address = client.as_deref(),
            path = request.uri().path(),
            "rate limit reached; refusing further requests from this client until the window ends"
        );
    }
    let limit = limiter.limit();
    let retry_after_seconds = retry_after_seconds(retry_after);
    let scope = if limit_name == "token" { "API token" } else { "client address" };
    Err(ApiError::TooManyRequests {
        message: format!(
            "Too many requests: each {scope} may send {} requests every {}. Retry after {retry_after_seconds} seconds.",
            limit.requests,
            describe_duration(limit.window)
        ),
        retry_after_seconds,
    })
}

/// Refuses a request body larger than the limit with 413, by its `Content-Length` when it has one
/// and otherwise while reading it. The body read is handed on in memory.
async fn limit_body<E: Endpoint>(
    operations: Arc<Operations>,
    endpoint: Arc<E>,
    mut request: Request,
) -> poem::Result<Response> {
    let max = operations.options.max_body_bytes;
    let too_large =
        || ApiError::PayloadTooLarge(format!("The request body is larger than the maximum of {max} bytes."));
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(too_large().into());
    }
    let body = match request.take_body().into_bytes_limit(max).await {
        Ok(body) => body,
        Err(ReadBodyError::PayloadTooLarge) => return Err(too_large().into()),
        Err(error) => {
            tracing::warn!(%error, "failed to read a request body; returning 400");
            return Err(ApiError::BadRequest(format!("The request body could not be read ({error}).")).into());
        }
    };
    request.set_body(body);
    endpoint.call(request).await.map(IntoResponse::into_response)
}

/// In sandbox mode only: delays the response when [`SANDBOX_DELAY_HEADER`] requests it and the option
/// allows it, and runs the request at the instant its `X-With-Server-Date` header names.
async fn run_sandbox_steps<E: Endpoint>(
    operations: Arc<Operations>,
    endpoint: Arc<E>,
    request: Request,
) -> poem::Result<Response> {
    if !operations.options.sandbox {
        return endpoint.call(request).await.map(IntoResponse::into_response);
    }
    if operations.options.sandbox_delay_header
        && let Some(value) = request.headers().get(SANDBOX_DELAY_HEADER)
    {
        let delay = value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .filter(|delay| *delay <= MAX_SANDBOX_DELAY)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "The {SANDBOX_DELAY_HEADER} header must be a number of milliseconds up to {}.",
                    MAX_SANDBOX_DELAY.as_millis()
                ))
            })?;
        tracing::info!(delay_ms = delay.as_millis() as u64, "delaying the response as the sandbox delay header asks");
        tokio::time::sleep(delay).await;
    }
    match time_travel::requested_server_date(&request)? {
        Some(instant) => {
            time_travel::at_server_date(instant, endpoint.call(request)).await.map(IntoResponse::into_response)
        }
        None => endpoint.call(request).await.map(IntoResponse::into_response),
    }
}

/// Describes a duration in words for messages, such as `5 minutes` or `90 seconds`.
pub fn describe_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (amount, unit) = if seconds >= 3600 && seconds.is_multiple_of(3600) {
        (seconds / 3600, "hour")
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    if amount == 1 { format!("1 {unit}") } else { format!("{amount} {unit}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_described_in_words() {
        assert_eq!(describe_duration(Duration::from_secs(300)), "5 minutes");
        assert_eq!(describe_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(describe_duration(Duration::from_secs(90)), "90 seconds");
        assert_eq!(describe_duration(Duration::from_secs(1)), "1 second");
    }
}
