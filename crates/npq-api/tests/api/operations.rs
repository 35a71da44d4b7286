//! Operations around the API: allow-lists behind proxies, retired versions, rate limits, body and
//! time limits, compression, request ids, the operational routes and sandbox time travel.
//!
//! Tests that need a client address run the application on a loopback socket and send raw
//! HTTP/1.0 requests, because only a real connection has a peer address.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeZone;
use flate2::read::GzDecoder;
use npq_api::operations::rate_limit::RateLimit;
use npq_api::operations::time_travel::RequestClock;
use npq_api::{ApiState, HttpOptions};
use npq_domain::StoreError;
use npq_domain::Timestamp;
use npq_domain::auth::{ApiToken, TokenKey, TokenScope};
use npq_domain::ids::{ApiTokenId, LeadProviderId};
use npq_domain::network::{AllowList, IpNetwork};
use npq_domain::ports::{Clock, DatabaseHealth, LeadProviderRepository, PoolStatus};
use npq_domain::testing::{FixedClock, MemoryStore, lead_provider};
use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::test::TestClient;
use poem::{EndpointExt, Response};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "operations-provider-token-0123456789";
const ADMIN_TOKEN: &str = "operations-admin-token-0123456789";
const LIST: &str = "/api/v3/npq-applications";

fn fixed_now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

fn token_key() -> TokenKey {
    TokenKey::derive(&[7u8; 32]).unwrap()
}

fn stored_token(plain: &str, scope: TokenScope, lead_provider: Option<LeadProviderId>) -> ApiToken {
    ApiToken {
        id: ApiTokenId::new_random(),
        scope,
        lead_provider,
        digest: token_key().digest(plain),
        description: (scope == TokenScope::Admin).then(|| "Jo Bloggs".to_owned()),
        created_at: fixed_now(),
        last_used_at: None,
    }
}

/// One lead provider with a token, an admin token, and the application served with `options`.
struct Setup {
    store: Arc<MemoryStore>,
    provider: LeadProviderId,
    app: BoxEndpoint<'static, Response>,
}

impl Setup {
    fn new(options: HttpOptions) -> Self {
        let provider = lead_provider("Teach First");
        let id = provider.id;
        let store = Arc::new(MemoryStore {
            tokens: Mutex::new(vec![
                stored_token(TOKEN, TokenScope::LeadProvider, Some(id)),
                stored_token(ADMIN_TOKEN, TokenScope::Admin, None),
            ]),
            ..MemoryStore::with_reference_data(vec![provider])
        });
        let clock: Arc<dyn Clock> = Arc::new(RequestClock::new(FixedClock(fixed_now())));
        let state = ApiState::over(store.clone(), token_key(), clock);
        let app = npq_api::serve(state, options).map_to_response().boxed();
        Self { store, provider: id, app }
    }

    fn restrict_to(&self, networks: &[&str]) {
        let list = AllowList::parse(networks).unwrap();
        assert!(npq_domain::testing::block_on(self.store.set_allowed_networks(self.provider, &list)).unwrap());
    }

    fn client(self) -> (TestClient<BoxEndpoint<'static, Response>>, Arc<MemoryStore>, LeadProviderId) {
        (TestClient::new(self.app), self.store, self.provider)
    }
}

/// A response read off a socket.
struct RawResponse {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }
}

/// Serves the application on a free loopback port and returns its address.
async fn serve_on_loopback(app: BoxEndpoint<'static, Response>) -> SocketAddr {
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("a loopback port");
    let address = *acceptor.local_addr()[0].as_socket_addr().expect("an IP socket");
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    address
}

/// Sends one HTTP/1.0 GET with the lead provider's token and `headers`, and reads the response.
async fn get_over_socket(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connects");
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("request written");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("response read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|code| code.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    RawResponse { status, headers, body: body.to_owned() }
}

fn trusting(proxies: &[&str]) -> HttpOptions {
    let trusted_proxies: Vec<IpNetwork> = proxies.iter().map(|proxy| proxy.parse().unwrap()).collect();
    HttpOptions { trusted_proxies, ..HttpOptions::without_rate_limits() }
}

#[tokio::test]
async fn restricted_provider_is_refused_from_loopback() {
    let setup = Setup::new(trusting(&[]));
    setup.restrict_to(&["10.0.0.0/8"]);
    let address = serve_on_loopback(setup.app).await;

    let response = get_over_socket(address, LIST, &[]).await;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(response.headers.get("content-type").map(String::as_str), Some("application/json"));
    let body = response.json();
    assert_eq!(body["errors"][0]["title"], "Forbidden");
    let detail = body["errors"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("127.0.0.1"), "the detail names the address: {detail}");
    assert!(detail.contains("not allowed"), "{detail}");
}

#[tokio::test]
async fn trusted_proxy_forwards_an_allowed_client() {
    let setup = Setup::new(trusting(&["127.0.0.1/32"]));
    setup.restrict_to(&["10.0.0.0/8"]);
    let address = serve_on_loopback(setup.app).await;

    let response = get_over_socket(address, LIST, &[("X-Forwarded-For", "10.1.2.3")]).await;
    assert_eq!(response.status, 200, "{}", response.body);

    let outside = get_over_socket(address, LIST, &[("X-Forwarded-For", "192.0.2.1")]).await;
    assert_eq!(outside.status, 403, "{}", outside.body);
    assert!(outside.body.contains("192.0.2.1"), "{}", outside.body);
}

#[tokio::test]
async fn client_spoofing_behind_a_proxy_gains_nothing() {
    let setup = Setup::new(trusting(&["127.0.0.1/32"]));
    setup.restrict_to(&["10.0.0.0/8"]);
    let address = serve_on_loopback(setup.app).await;

    // The client sent "10.1.2.3" itself; the proxy appended the address it saw.
    let response = get_over_socket(address, LIST, &[("X-Forwarded-For", "10.1.2.3, 192.0.2.1")]).await;
    assert_eq!(response.status, 403, "{}", response.body);
    assert!(response.body.contains("192.0.2.1"), "{}", response.body);
}

#[tokio::test]
async fn forwarded_header_from_untrusted_peer_is_ignored() {
    let setup = Setup::new(trusting(&["192.0.2.0/24"]));
    setup.restrict_to(&["10.0.0.0/8"]);
    let address = serve_on_loopback(setup.app).await;

    let response = get_over_socket(address, LIST, &[("X-Forwarded-For", "10.1.2.3")]).await;
    assert_eq!(response.status, 403, "{}", response.body);
    assert!(response.body.contains("127.0.0.1"), "the peer is the client: {}", response.body);
}

#[tokio::test]
async fn unrestricted_provider_is_served_from_anywhere() {
    let setup = Setup::new(trusting(&[]));
    let address = serve_on_loopback(setup.app).await;
    let response = get_over_socket(address, LIST, &[]).await;
    assert_eq!(response.status, 200, "{}", response.body);
}

#[tokio::test]
async fn restricted_provider_without_a_known_address_is_refused() {
    let setup = Setup::new(HttpOptions::without_rate_limits());
    setup.restrict_to(&["10.0.0.0/8"]);
    let (client, _, _) = setup.client();
    // The test client has no socket, so the client's address is unknown.
    let response = client.get(LIST).header("Authorization", format!("Bearer {TOKEN}")).send().await;
    response.assert_status(poem::http::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn missing_token_is_checked_before_the_allow_list() {
    let setup = Setup::new(HttpOptions::without_rate_limits());
    setup.restrict_to(&["10.0.0.0/8"]);
    let (client, _, _) = setup.client();
    client.get(LIST).send().await.assert_status(poem::http::StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn retired_versions_answer_gone() {
    let (client, _, _) = Setup::new(HttpOptions::without_rate_limits()).client();
    for path in ["/api/v1/npq-applications", "/api/v2/npq-applications/1", "/api/v1", "/api/v2/participants/npq"] {
        let response = client.get(path).header("Authorization", format!("Bearer {TOKEN}")).send().await;
        response.assert_status(poem::http::StatusCode::GONE);
        response.assert_content_type("application/json");
        let body: Value = response.json().await.value().deserialize();
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("/api/docs/v3"), "{path}: {message}");
    }
}

#[tokio::test]
async fn tiny_token_limit_answers_too_many_requests() {
    let options = HttpOptions {
        rate_limit_per_token: Some("1/5m".parse::<RateLimit>().unwrap()),
        ..HttpOptions::without_rate_limits()
    };
    let (client, _, _) = Setup::new(options).client();
    let send = || client.get(LIST).header("Authorization", format!("Bearer {TOKEN}")).send();

    send().await.assert_status_is_ok();
    let refused = send().await;
    refused.assert_status(poem::http::StatusCode::TOO_MANY_REQUESTS);
    refused.assert_content_type("application/json");
    let retry_after = refused.0.headers().get("retry-after").and_then(|value| value.to_str().ok()).map(str::to_owned);
    let seconds: u64 = retry_after.as_deref().and_then(|value| value.parse().ok()).expect("Retry-After in seconds");
    assert!((1..=300).contains(&seconds), "{seconds}");
    let body: Value = refused.json().await.value().deserialize();
    assert!(body["error"].as_str().unwrap_or_default().contains("Too many requests"), "{body}");

    let other_token = client.get(LIST).header("Authorization", "Bearer someone-else").send().await;
    other_token.assert_status(poem::http::StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn address_limit_counts_requests_from_one_address() {
    let options = HttpOptions {
        rate_limit_per_address: Some("2/5m".parse::<RateLimit>().unwrap()),
        ..HttpOptions::without_rate_limits()
    };
    let address = serve_on_loopback(Setup::new(options).app).await;
    assert_eq!(get_over_socket(address, LIST, &[]).await.status, 200);
    assert_eq!(get_over_socket(address, "/api/v3/nothing", &[]).await.status, 404);
    let refused = get_over_socket(address, LIST, &[]).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(get_over_socket(address, "/health", &[]).await.status, 200, "operational routes are not counted");
}

/// A database whose ping succeeds or fails as configured.
struct FakeDatabase {
    reachable: bool,
}

#[async_trait]
impl DatabaseHealth for FakeDatabase {
    async fn ping(&self) -> Result<(), StoreError> {
        if self.reachable { Ok(()) } else { Err(StoreError::Unavailable("connection refused".to_owned())) }
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        Some(PoolStatus { open: 2, idle: 1, max: 4 })
    }
}

fn with_database(reachable: bool) -> HttpOptions {
    HttpOptions { database: Some(Arc::new(FakeDatabase { reachable })), ..HttpOptions::without_rate_limits() }
}

#[tokio::test]
async fn health_answers_while_the_process_runs() {
    let (client, _, _) = Setup::new(with_database(false)).client();
    let response = client.get("/health").send().await;
    response.assert_status_is_ok();
    response.assert_content_type("application/json");
    let body: Value = response.json().await.value().deserialize();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn ready_follows_the_database() {
    let (client, _, _) = Setup::new(with_database(true)).client();
    let response = client.get("/ready").send().await;
    response.assert_status_is_ok();
    let body: Value = response.json().await.value().deserialize();
    assert_eq!(body["status"], "ready");

    let (client, _, _) = Setup::new(with_database(false)).client();
    let response = client.get("/ready").send().await;
    response.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
    response.assert_content_type("application/json");
    let body: Value = response.json().await.value().deserialize();
    assert!(body["error"].as_str().is_some_and(|message| message.contains("database")), "{body}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let (client, _, _) = Setup::new(with_database(true)).client();
    let show = format!("{LIST}/7e5bcdbf-c818-4961-8da5-439cab1984e0");
    client.get(&show).header("Authorization", format!("Bearer {TOKEN}")).send().await;
    client.get("/nothing-here").send().await;

    let response = client.get("/metrics").send().await;
    response.assert_status_is_ok();
    let content_type =
        response.0.headers().get("content-type").and_then(|value| value.to_str().ok()).map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some("text/plain; version=0.0.4"));
    let text = response.0.into_body().into_string().await.unwrap();
    assert!(
        text.contains(
            r#"npq_http_requests_total{method="GET",route="/api/v3/npq-applications/:param0",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404"} 1"#), "{text}");
    assert!(
        text.contains(
            "npq_http_request_duration_seconds_bucket{route=\"/api/v3/npq-applications/:param0\",le=\"+Inf\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("npq_database_pool_max_connections 4"), "{text}");
}

#[tokio::test]
async fn request_id_is_kept_or_generated() {
    let (client, _, _) = Setup::new(HttpOptions::without_rate_limits()).client();
    let kept = client.get("/health").header("X-Request-Id", "trace-abc-123").send().await;
    kept.assert_header("x-request-id", "trace-abc-123");

    for sent in [Some("has spaces in it"), None] {
        let mut request = client.get("/nothing");
        if let Some(sent) = sent {
            request = request.header("X-Request-Id", sent);
        }
        let response = request.send().await;
        response.assert_status(poem::http::StatusCode::NOT_FOUND);
        let id = response.0.headers().get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or_default();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "a generated id: {id:?}");
    }
}

#[tokio::test]
async fn gzip_is_used_when_the_client_asks() {
    let (client, _, _) = Setup::new(HttpOptions::without_rate_limits()).client();
    let response = client
        .get(LIST)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await;
    response.assert_status_is_ok();
    response.assert_header("content-encoding", "gzip");
    response.assert_content_type("application/json");
    let compressed = response.0.into_body().into_vec().await.unwrap();
    let mut text = String::new();
    GzDecoder::new(compressed.as_slice()).read_to_string(&mut text).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), serde_json::json!({"data": []}));

    let plain = client.get(LIST).header("Authorization", format!("Bearer {TOKEN}")).send().await;
    assert!(plain.0.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn every_error_answer_is_json() {
    let (client, _, _) = Setup::new(HttpOptions::without_rate_limits()).client();
    let cases = [
        (client.get("/nothing").send().await, 404),
        (client.post("/health").send().await, 404),
        (client.delete(LIST).header("Authorization", format!("Bearer {TOKEN}")).send().await, 404),
        (client.post("/api/v3/npq-applications/x/accept").body("x".repeat(70_000)).send().await, 413),
    ];
    for (response, status) in cases {
        response.assert_status(poem::http::StatusCode::from_u16(status).unwrap());
        response.assert_content_type("application/json");
        response.assert_header("cache-control", "no-store");
        let body: Value = response.json().await.value().deserialize();
        assert!(body["error"].is_string(), "{status}: {body}");
    }
}

fn sandbox(delay_header: bool) -> HttpOptions {
    HttpOptions { sandbox: true, sandbox_delay_header: delay_header, ..HttpOptions::without_rate_limits() }
}

fn last_token_use(store: &MemoryStore) -> Option<Timestamp> {
    let tokens = store.tokens.lock().unwrap();
    tokens.iter().find(|token| token.scope == TokenScope::LeadProvider).and_then(|token| token.last_used_at)
}

#[tokio::test]
async fn server_date_header_moves_the_clock_in_sandbox() {
    let (client, store, _) = Setup::new(sandbox(false)).client();
    let response = client
        .get(LIST)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("X-With-Server-Date", "2030-02-01T09:30:00Z")
        .send()
        .await;
    response.assert_status_is_ok();
    let travelled = chrono::Utc.with_ymd_and_hms(2030, 2, 1, 9, 30, 0).unwrap();
    assert_eq!(last_token_use(&store), Some(travelled), "the token's use is recorded at the requested instant");
}

#[tokio::test]
async fn server_date_header_is_ignored_outside_sandbox() {
    let (client, store, _) = Setup::new(HttpOptions::without_rate_limits()).client();
    for value in ["2030-02-01T09:30:00Z", "not a date"] {
        let response = client
            .get(LIST)
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("X-With-Server-Date", value)
            .send()
            .await;
        response.assert_status_is_ok();
    }
    assert_eq!(last_token_use(&store), Some(fixed_now()));
}

#[tokio::test]
async fn unparseable_server_date_is_a_bad_request() {
    let (client, _, _) = Setup::new(sandbox(false)).client();
    let response = client
        .get(LIST)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("X-With-Server-Date", "next tuesday")
        .send()
        .await;
    response.assert_status(poem::http::StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.value().deserialize();
    assert_eq!(body["errors"][0]["title"], "Bad request");
    assert!(body["errors"][0]["detail"].as_str().unwrap_or_default().contains("RFC 3339"), "{body}");
}

#[tokio::test]
async fn slow_request_past_the_time_limit_is_unavailable() {
    let options = HttpOptions { request_timeout: Duration::from_millis(50), ..sandbox(true) };
    let (client, _, _) = Setup::new(options).client();
    let response = client.get("/health").header("X-Sandbox-Delay-Ms", "10000").send().await;
    response.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
    response.assert_content_type("application/json");
    let body: Value = response.json().await.value().deserialize();
    assert!(body["error"].as_str().unwrap_or_default().contains("longer than"), "{body}");
}

#[tokio::test]
async fn delay_header_is_ignored_unless_enabled() {
    let options = HttpOptions { request_timeout: Duration::from_millis(50), ..sandbox(false) };
    let (client, _, _) = Setup::new(options).client();
    client.get("/health").header("X-Sandbox-Delay-Ms", "10000").send().await.assert_status_is_ok();
}

#[tokio::test]
async fn admin_replaces_and_clears_allowed_networks() {
    let (client, store, provider) = Setup::new(HttpOptions::without_rate_limits()).client();
    let path = format!("/api/admin/v1/lead-providers/{provider}/allowed-networks");
    let admin = format!("Bearer {ADMIN_TOKEN}");

    let body = r#"{"data":{"attributes":{"networks":["2001:db8::/32","10.0.0.0/8","192.0.2.7"]}}}"#;
    let response =
        client.put(&path).header("Authorization", &admin).content_type("application/json").body(body).send().await;
    response.assert_status_is_ok();
    let json: Value = response.json().await.value().deserialize();
    assert_eq!(json["data"]["id"], provider.to_string());
    assert_eq!(json["data"]["type"], "lead-provider-allowed-networks");
    assert_eq!(
        json["data"]["attributes"]["networks"],
        serde_json::json!(["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"])
    );

    let shown = client.get(&path).header("Authorization", &admin).send().await;
    shown.assert_status_is_ok();
    let json: Value = shown.json().await.value().deserialize();
    assert_eq!(json["data"]["attributes"]["networks"].as_array().map(Vec::len), Some(3));

    let clear = r#"{"data":{"attributes":{"networks":[]}}}"#;
    client.put(&path).header("Authorization", &admin).body(clear).send().await.assert_status_is_ok();
    let stored = npq_domain::testing::block_on(store.allowed_networks(provider)).unwrap();
    assert_eq!(stored, Some(AllowList::default()));
}

#[tokio::test]
async fn admin_allow_list_rejects_bad_networks() {
    let (client, store, provider) = Setup::new(HttpOptions::without_rate_limits()).client();
    let path = format!("/api/admin/v1/lead-providers/{provider}/allowed-networks");
    let admin = format!("Bearer {ADMIN_TOKEN}");

    let bad = r#"{"data":{"attributes":{"networks":["10.1.2.3/8"]}}}"#;
    let response = client.put(&path).header("Authorization", &admin).body(bad).send().await;
    response.assert_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY);
    let json: Value = response.json().await.value().deserialize();
    assert_eq!(json["errors"][0]["title"], "networks");
    assert!(json["errors"][0]["detail"].as_str().unwrap_or_default().contains("10.0.0.0/8"), "{json}");
    assert_eq!(npq_domain::testing::block_on(store.allowed_networks(provider)).unwrap(), Some(AllowList::default()));

    let missing = client.put(&path).header("Authorization", &admin).body("{}").send().await;
    missing.assert_status(poem::http::StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn allow_list_needs_admin_and_provider() {
    let (client, _, provider) = Setup::new(HttpOptions::without_rate_limits()).client();
    let path = format!("/api/admin/v1/lead-providers/{provider}/allowed-networks");
    let as_provider = client.get(&path).header("Authorization", format!("Bearer {TOKEN}")).send().await;
    as_provider.assert_status(poem::http::StatusCode::UNAUTHORIZED);

    let admin = format!("Bearer {ADMIN_TOKEN}");
    for unknown in [LeadProviderId::new_random().to_string(), "not-a-uuid".to_owned()] {
        let path = format!("/api/admin/v1/lead-providers/{unknown}/allowed-networks");
        client.get(&path).header("Authorization", &admin).send().await.assert_status(poem::http::StatusCode::NOT_FOUND);
        let body = r#"{"data":{"attributes":{"networks":[]}}}"#;
        let response = client.put(&path).header("Authorization", &admin).body(body).send().await;
        response.assert_status(poem::http::StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn address_limit_covers_the_registration_api() {
    let options = HttpOptions {
        rate_limit_per_address: Some("1/5m".parse::<RateLimit>().unwrap()),
        ..HttpOptions::without_rate_limits()
    };
    let address = serve_on_loopback(Setup::new(options).app).await;
    assert_eq!(get_over_socket(address, "/api/registration/v1/courses", &[]).await.status, 200);
    let refused = get_over_socket(address, "/api/registration/v1/cohorts", &[]).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
}
