//! The API over the real store, on SQLite and PostgreSQL: what one provider sees of its own and
//! of another provider's applications, and the filters end to end.

use std::sync::Arc;

use npq_api::ApiState;
use npq_domain::auth::{PlainToken, TokenKey};
use npq_domain::ports::SystemClock;
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed;
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use poem::test::TestClient;
use rand::SeedableRng;
use serde_json::Value;

struct Api {
    client: TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>,
    ambition: PlainToken,
    teach_first: PlainToken,
    _database: TestDatabase,
}

async fn api(backend: Backend) -> Api {
    let database = TestDatabase::create(backend).await;
    seed::seed(&database.store, 1200, 8).await.unwrap();
    let state = ApiState::over(database.store.clone(), TokenKey::derive(&[3u8; 32]).unwrap(), Arc::new(SystemClock));
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
    let (_, _, ambition) = state.tokens.issue_lead_provider_token("Ambition Institute", None, &mut rng).await.unwrap();
    let (_, _, teach_first) = state.tokens.issue_lead_provider_token("Teach First", None, &mut rng).await.unwrap();
    let client = TestClient::new(poem::EndpointExt::boxed(npq_api::routes(state)));
    Api { client, ambition, teach_first, _database: database }
}

async fn get(api: &Api, token: &PlainToken, path_and_query: &str) -> (u16, Value) {
    let response =
        api.client.get(path_and_query).header("Authorization", format!("Bearer {}", token.expose())).send().await;
    let status = response.0.status().as_u16();
    let body = response.0.into_body().into_string().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn items(body: &Value) -> Vec<Value> {
    body["data"].as_array().cloned().unwrap_or_default()
}

async fn show_matches_the_list_entry(backend: Backend) {
    let api = api(backend).await;
    let (status, body) = get(&api, &api.ambition, "/api/v3/npq-applications?page[per_page]=3").await;
    assert_eq!(status, 200);
    for entry in items(&body) {
        let id = entry["id"].as_str().unwrap();
        let (status, shown) = get(&api, &api.ambition, &format!("/api/v3/npq-applications/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(shown["data"], entry);
    }
}

async fn other_providers_application_is_not_found(backend: Backend) {
    let api = api(backend).await;
    let (_, body) = get(&api, &api.ambition, "/api/v3/npq-applications?page[per_page]=1").await;
    let id = items(&body)[0]["id"].as_str().unwrap().to_owned();
    let (status, body) = get(&api, &api.teach_first, &format!("/api/v3/npq-applications/{id}")).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string(), "{body}");
    let (_, body) = get(&api, &api.teach_first, "/api/v3/npq-applications?page[per_page]=1000").await;
    assert!(items(&body).iter().all(|entry| entry["id"] != id.as_str()));
}

async fn filters_work_over_the_store(backend: Backend) {
    let api = api(backend).await;
    let (_, body) = get(&api, &api.ambition, "/api/v3/npq-applications?page[per_page]=1000").await;
    let all = items(&body);

    let (status, body) =
        get(&api, &api.ambition, "/api/v3/npq-applications?page[per_page]=1000&filter[cohort]=2024,2025").await;
    assert_eq!(status, 200);
    let selected = items(&body);
    let expected =
        all.iter().filter(|entry| ["2024", "2025"].contains(&entry["attributes"]["cohort"].as_str().unwrap())).count();
    assert_eq!(selected.len(), expected);
    assert!(expected > 0);

    let middle = all[all.len() / 2]["attributes"]["updated_at"].as_str().unwrap().to_owned();
    let shifted = chrono::DateTime::parse_from_rfc3339(&middle)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap());
    let raw_plus = shifted.format("%Y-%m-%dT%H:%M:%S+01:00").to_string();
    let (status, body) = get(
        &api,
        &api.ambition,
        &format!("/api/v3/npq-applications?page[per_page]=1000&filter[updated_since]={raw_plus}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let recent = items(&body);
    let expected =
        all.iter().filter(|entry| entry["attributes"]["updated_at"].as_str().unwrap() >= middle.as_str()).count();
    assert_eq!(recent.len(), expected);

    let person = all[0]["attributes"]["participant_id"].as_str().unwrap().to_uppercase();
    let (status, body) =
        get(&api, &api.ambition, &format!("/api/v3/npq-applications?filter[participant_id]={person}")).await;
    assert_eq!(status, 200);
    assert!(!items(&body).is_empty());
    assert!(
        items(&body)
            .iter()
            .all(|entry| entry["attributes"]["participant_id"].as_str().unwrap().eq_ignore_ascii_case(&person))
    );
}

backend_tests!(show_matches_the_list_entry, other_providers_application_is_not_found, filters_work_over_the_store);
