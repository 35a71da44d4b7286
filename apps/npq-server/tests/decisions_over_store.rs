//! Decisions over HTTP and the real store, on SQLite and PostgreSQL: lead providers accept and
//! reject, DfE staff correct, and two providers racing to accept one person get one acceptance.

use std::sync::Arc;

use chrono::{Duration, Utc};
use npq_api::ApiState;
use npq_domain::application::Application;
use npq_domain::auth::{PlainToken, TokenKey};
use npq_domain::ids::LeadProviderId;
use npq_domain::ports::{LeadProviderRepository, SystemClock};
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::reference_data;
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use poem::test::TestClient;
use rand::SeedableRng;
use serde_json::{Value, json};

type Client = TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>;

struct Api {
    client: Client,
    /// A token of each of the first three lead providers, by name order.
    tokens: Vec<(LeadProviderId, PlainToken)>,
    admin: PlainToken,
    database: TestDatabase,
    next_trn: std::sync::atomic::AtomicU32,
}

async fn api(backend: Backend) -> Api {
    let database = TestDatabase::create(backend).await;
    database.store.insert_reference_data(&reference_data(6)).await.unwrap();
    let state = ApiState::over(database.store.clone(), TokenKey::derive(&[9u8; 32]).unwrap(), Arc::new(SystemClock));
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    let mut tokens = Vec::new();
    for provider in database.store.list_lead_providers().await.unwrap().into_iter().take(3) {
        let (_, provider, token) =
            state.tokens.issue_lead_provider_token(&provider.name, None, &mut rng).await.unwrap();
        tokens.push((provider.id, token));
    }
    let (_, admin) = state.tokens.issue_admin_token("jo.bloggs@education.gov.uk", &mut rng).await.unwrap();
    let client = TestClient::new(poem::EndpointExt::boxed(npq_api::routes(state)));
    Api { client, tokens, admin, database, next_trn: std::sync::atomic::AtomicU32::new(5_000_000) }
}

impl Api {
    /// Stores a person with a TRN of their own and a pending 2025 headship application with each
    /// of the given providers (indexes into `tokens`).
    async fn applicant(&self, providers: &[usize]) -> Vec<Application> {
        let mut person = npq_domain::testing::person("Sam Example");
        let trn = self.next_trn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        person.trn = trn.to_string().parse().ok();
        let created = Utc::now() - Duration::days(10);
        let applications: Vec<Application> = providers
            .iter()
            .map(|index| npq_domain::testing::application(&person, self.tokens[*index].0, created))
            .collect();
        self.database.store.insert_people(std::slice::from_ref(&person)).await.unwrap();
        self.database.store.insert_applications(&applications).await.unwrap();
        applications
    }

    async fn send(
        &self,
        method: poem::http::Method,
        token: &PlainToken,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, path)
            .header("Authorization", format!("Bearer {}", token.expose()))
            .header("Content-Type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await;
        let status = response.0.status().as_u16();
        let text = response.0.into_body().into_string().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn provider_token(&self, index: usize) -> &PlainToken {
        &self.tokens[index].1
    }
}

fn accept_body(funded_place: bool) -> Value {
    json!({"data": {"type": "npq-application-accept", "attributes": {"funded_place": funded_place}}})
}

async fn accepting_rejects_the_other_providers_application(backend: Backend) {
    let api = api(backend).await;
    let applications = api.applicant(&[0, 1]).await;
    let path = format!("/api/v3/npq-applications/{}/accept", applications[0].id);
    let (status, body) =
        api.send(poem::http::Method::POST, api.provider_token(0), &path, Some(accept_body(true))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["status"], "accepted");
    assert_eq!(body["data"]["attributes"]["funded_place"], true);
    let schedule = body["data"]["attributes"]["schedule_identifier"].as_str().unwrap_or_default().to_owned();
    assert!(schedule.starts_with("npq-leadership-"), "the default leadership schedule for today: {schedule}");

    let other = format!("/api/v3/npq-applications/{}", applications[1].id);
    let (status, body) = api.send(poem::http::Method::GET, api.provider_token(1), &other, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["attributes"]["status"], "rejected");
    assert_eq!(body["data"]["attributes"]["reason_for_rejection"], "other_application_in_this_cohort_accepted");
    let (status, body) = api
        .send(poem::http::Method::POST, api.provider_token(1), &format!("{other}/accept"), Some(accept_body(true)))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["title"], "application");
}

/// Two providers accept the same person's applications for one course and cohort at the same
/// moment, over HTTP, many times: each time exactly one gets 200 and the other 422.
async fn racing_acceptances_over_http_accept_exactly_one(backend: Backend) {
    let api = Arc::new(api(backend).await);
    for round in 0..12 {
        let applications = api.applicant(&[0, 1]).await;
        let tasks: Vec<_> = applications
            .iter()
            .enumerate()
            .map(|(index, application)| {
                let api = api.clone();
                let path = format!("/api/v3/npq-applications/{}/accept", application.id);
                tokio::spawn(async move {
                    api.send(poem::http::Method::POST, api.provider_token(index), &path, Some(accept_body(false))).await
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            if status == 422 {
                assert_eq!(body["errors"][0]["title"], "application", "{body}");
            }
            statuses.push(status);
        }
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 422], "round {round}");
    }
}

async fn rejecting_an_accepted_application_and_dfe_corrections(backend: Backend) {
    let api = api(backend).await;
    let applications = api.applicant(&[0]).await;
    let base = format!("/api/v3/npq-applications/{}", applications[0].id);
    let token = api.provider_token(0);
    let (status, _) =
        api.send(poem::http::Method::POST, token, &format!("{base}/accept"), Some(accept_body(true))).await;
    assert_eq!(status, 200);
    let (status, body) = api.send(poem::http::Method::POST, token, &format!("{base}/reject"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["reason_for_rejection"], "rejected_by_provider");
    let (status, body) = api.send(poem::http::Method::POST, token, &format!("{base}/reject"), None).await;
    assert_eq!((status, body["errors"][0]["title"].clone()), (422, json!("application")));

    // DfE returns it to pending and moves it to another provider; the history names who and why.
    let admin = format!("/api/admin/v1/applications/{}", applications[0].id);
    let note = |extra: Value| {
        let mut attributes = json!({"note": "support ticket 4411"});
        attributes.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"data": {"attributes": attributes}})
    };
    let (status, body) = api
        .send(poem::http::Method::POST, &api.admin, &format!("{admin}/revert-to-pending"), Some(note(json!({}))))
        .await;
    assert_eq!(status, 200, "{body}");
    let new_provider = api.tokens[1].0.to_string();
    let (status, body) = api
        .send(
            poem::http::Method::PUT,
            &api.admin,
            &format!("{admin}/change-lead-provider"),
            Some(note(json!({"lead_provider_id": new_provider}))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = api.send(poem::http::Method::GET, token, &base, None).await;
    assert_eq!(status, 404, "the old provider no longer sees it");
    let (status, body) = api.send(poem::http::Method::GET, api.provider_token(1), &base, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["attributes"]["status"], "pending");

    let (status, body) = api.send(poem::http::Method::GET, &api.admin, &admin, None).await;
    assert_eq!(status, 200);
    let history = body["data"]["attributes"]["history"].as_array().expect("history").clone();
    assert!(history.len() >= 5, "{history:?}");
    let text = Value::Array(history).to_string();
    assert!(text.contains("jo.bloggs@education.gov.uk"), "{text}");
    assert!(text.contains("support ticket 4411"), "{text}");
    assert!(text.contains("rejected_by_provider"), "{text}");
}

backend_tests!(
    accepting_rejects_the_other_providers_application,
    racing_acceptances_over_http_accept_exactly_one,
    rejecting_an_accepted_application_and_dfe_corrections,
);
