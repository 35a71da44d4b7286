//! Authentication, error shapes, unknown routes and the headers every response carries.

use npq_domain::StoreError;
use poem::http::{Method, StatusCode};
use proptest::prelude::*;
use serde_json::json;

use crate::common::{
    Fixture, OTHER_TOKEN, REGISTRATION_TOKEN, TOKEN, application, json_body, june, list_data, now, person,
};

const LIST: &str = "/api/v3/npq-applications";
const SHOW: &str = "/api/v3/npq-applications/7e5bcdbf-c818-4961-8da5-439cab1984e0";

/// Asserts the content type and the caching and security headers of an API response.
fn assert_api_headers(response: &poem::test::TestResponse, context: &str) {
    let header = |name: &str| response.0.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    assert_eq!(header("content-type").as_deref(), Some("application/json"), "{context}: content type");
    assert_eq!(header("cache-control").as_deref(), Some("no-store"), "{context}: cache control");
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{context}");
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{context}");
    assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"), "{context}");
}

/// Asserts a single-message error body `{"error": "..."}`.
async fn assert_message_error(response: poem::test::TestResponse, status: StatusCode, context: &str) -> String {
    response.assert_status(status);
    assert_api_headers(&response, context);
    let body = json_body(response).await;
    let object = body.as_object().unwrap_or_else(|| panic!("{context}: body {body} is not an object"));
    assert_eq!(object.len(), 1, "{context}: {body}");
    body["error"].as_str().unwrap_or_else(|| panic!("{context}: no error message in {body}")).to_owned()
}

#[tokio::test]
async fn missing_token_is_unauthorised() {
    let fixture = Fixture::new();
    for path in [LIST, SHOW] {
        let response = fixture.client.get(path).send().await;
        let message = assert_message_error(response, StatusCode::UNAUTHORIZED, path).await;
        assert!(message.contains("Access denied"), "{message}");
    }
}

#[tokio::test]
async fn unknown_or_malformed_token_is_unauthorised() {
    let fixture = Fixture::new();
    for header in ["Bearer not-a-token", "Bearer", "Basic dXNlcjpwYXNz", TOKEN, &format!("Bearer {REGISTRATION_TOKEN}")]
    {
        let response = fixture.client.get(LIST).header("Authorization", header).send().await;
        assert_message_error(response, StatusCode::UNAUTHORIZED, header).await;
    }
}

#[tokio::test]
async fn token_scheme_is_accepted_too() {
    let fixture = Fixture::new();
    for header in [format!("Token {TOKEN}"), format!("Token token=\"{TOKEN}\""), format!("bearer {TOKEN}")] {
        let response = fixture.client.get(LIST).header("Authorization", &header).send().await;
        response.assert_status_is_ok();
    }
}

#[tokio::test]
async fn token_use_is_recorded() {
    let fixture = Fixture::new();
    fixture.get(LIST).await.assert_status_is_ok();
    let tokens = fixture.store.tokens.lock().unwrap().clone();
    let used: Vec<_> = tokens.iter().filter(|token| token.last_used_at == Some(now())).collect();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].lead_provider, Some(fixture.provider));
}

#[tokio::test]
async fn each_token_sees_its_own_provider() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        vec![
            (application(&sam, provider, june(1, 9)), sam.clone()),
            (application(&sam, other, june(1, 10)), sam.clone()),
            (application(&sam, other, june(1, 11)), sam),
        ]
    });
    let response = fixture.client.get(LIST).header("Authorization", format!("Bearer {OTHER_TOKEN}")).send().await;
    assert_eq!(list_data(response).await.len(), 2);
    assert_ne!(fixture.provider, fixture.other_provider);
}

#[tokio::test]
async fn flat_filter_is_rejected_before_authentication() {
    let fixture = Fixture::new();
    for path in [format!("{LIST}?filter=abc"), format!("{LIST}?filter="), format!("{SHOW}?filter=x")] {
        let response = fixture.client.get(&path).send().await;
        response.assert_status(StatusCode::BAD_REQUEST);
        assert_api_headers(&response, &path);
        let body = json_body(response).await;
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{path}: {body}");
        assert_eq!(body["errors"][0]["title"], "Bad request");
        let detail = body["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains("'filter' must be an object"), "{detail}");
        assert!(detail.contains("filter[cohort]=2024"), "{detail}");
    }
}

#[tokio::test]
async fn malformed_query_encoding_is_a_bad_request() {
    let fixture = Fixture::new();
    for query in ["page[page]=%", "filter[cohort]=%zz", "sort=%FF"] {
        let path = format!("{LIST}?{query}");
        let response = fixture.get(&path).await;
        response.assert_status(StatusCode::BAD_REQUEST);
        assert_api_headers(&response, &path);
        let body = json_body(response).await;
        assert_eq!(body["errors"][0]["title"], "Bad request", "{path}");
    }
}

#[tokio::test]
async fn unknown_api_paths_are_json_not_found() {
    let fixture = Fixture::new();
    for path in [
        "/api/v3/thisdoesnotexist",
        "/api/thisdoesnotexist",
        "/api/v3/npq-applications/7e5bcdbf-c818-4961-8da5-439cab1984e0/unknown",
        "/api/docs/v4",
    ] {
        let response = fixture.get(path).await;
        let message = assert_message_error(response, StatusCode::NOT_FOUND, path).await;
        assert_eq!(message, "Not found", "{path}");
    }
}

#[tokio::test]
async fn methods_not_allowed_are_not_found() {
    let fixture = Fixture::new();
    for (method, path) in [(Method::DELETE, SHOW), (Method::POST, LIST), (Method::PUT, SHOW), (Method::PATCH, LIST)] {
        let response = fixture
            .client
            .request(method.clone(), path)
            .header("Authorization", format!("Bearer {TOKEN}"))
            .send()
            .await;
        let context = format!("{method} {path}");
        let message = assert_message_error(response, StatusCode::NOT_FOUND, &context).await;
        assert_eq!(message, "Not found", "{context}");
    }
}

#[tokio::test]
async fn success_responses_have_api_headers() {
    let fixture = Fixture::new();
    let response = fixture.get(LIST).await;
    response.assert_status_is_ok();
    assert_api_headers(&response, LIST);
}

#[tokio::test]
async fn unavailable_database_is_service_unavailable() {
    let fixture = Fixture::new();
    *fixture.store.failure.lock().unwrap() = Some(StoreError::Unavailable("connection refused".to_owned()));
    let message = assert_message_error(fixture.get(LIST).await, StatusCode::SERVICE_UNAVAILABLE, LIST).await;
    assert!(!message.contains("connection refused"), "{message}");
}

#[tokio::test]
async fn store_failure_is_a_generic_internal_error() {
    let fixture = Fixture::new();
    *fixture.store.failure.lock().unwrap() = Some(StoreError::Corrupt("row 42 has cohort 1999".to_owned()));
    for path in [LIST, SHOW] {
        let message = assert_message_error(fixture.get(path).await, StatusCode::INTERNAL_SERVER_ERROR, path).await;
        assert_eq!(message, "Internal server error", "{path}");
    }
}

#[tokio::test]
async fn documentation_needs_no_token() {
    let fixture = Fixture::new();
    let document = fixture.client.get("/api/docs/v3/openapi.json").send().await;
    document.assert_status_is_ok();
    assert_api_headers(&document, "openapi.json");
    let body = json_body(document).await;
    assert_eq!(body["info"]["title"], "NPQ lead provider API");
    assert_eq!(body, serde_json::from_str::<serde_json::Value>(&npq_api::openapi_document_json()).unwrap());

    let page = fixture.client.get("/api/docs/v3").send().await;
    page.assert_status_is_ok();
    page.assert_content_type("text/html; charset=utf-8");
    assert_eq!(page.0.headers().get("cache-control").and_then(|value| value.to_str().ok()), Some("no-store"));
}

#[tokio::test]
async fn bad_request_body_shape_matches_reference() {
    let fixture = Fixture::new();
    let response = fixture.get(&format!("{LIST}?page[page]=0")).await;
    response.assert_status(StatusCode::BAD_REQUEST);
    let body = json_body(response).await;
    assert_eq!(
        body,
        json!({"errors": [{
            "title": "Bad request",
            "detail": "page[page] and page[per_page] must be positive whole numbers, such as page[page]=2&page[per_page]=100"
        }]})
    );
}

/// Query strings built from the characters that matter to the parsers: brackets, separators,
/// escapes and digits.
fn query_string() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "filter",
        "filter[cohort]",
        "filter[updated_since]",
        "filter[participant_id]",
        "filter[participant_id][x]",
        "filter[]",
        "sort",
        "page",
        "page[page]",
        "page[per_page]",
        "other",
        "%5B",
        "",
    ]);
    let value = "[-+%0-9a-fA-FTZ:,\\[\\]=]{0,24}";
    prop::collection::vec((names, value), 0..5).prop_map(|pairs| {
        pairs.into_iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_queries_never_fail_server(query in query_string(), raw in "[ -~]{0,40}") {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let fixture = Fixture::with_applications(|provider, _| {
            let sam = person("Sam Example");
            vec![(application(&sam, provider, june(1, 9)), sam)]
        });
        for path in [format!("{LIST}?{query}"), format!("{SHOW}?{query}")] {
            prop_assume!(path.parse::<poem::http::Uri>().is_ok());
            let status = runtime.block_on(async { fixture.get(&path).await.0.status() });
            prop_assert!(!status.is_server_error(), "{} answered {}", path, status);
        }
        // Printable ASCII that is not valid in a URI is skipped: the client cannot send it.
        let path = format!("{LIST}?{raw}");
        if path.parse::<poem::http::Uri>().is_ok() {
            let status = runtime.block_on(async { fixture.get(&path).await.0.status() });
            prop_assert!(!status.is_server_error(), "{} answered {}", path, status);
        }
    }
}
