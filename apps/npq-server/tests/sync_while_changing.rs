//! A lead provider walking every page while applications are created and updated between its
//! requests sees each application that existed when it started exactly once, on both backends.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use npq_api::ApiState;
use npq_domain::auth::TokenKey;
use npq_domain::ports::{ApplicationRepository, LeadProviderRepository, SystemClock};
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::{self, applicants, reference_data};
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use poem::test::TestClient;
use rand::SeedableRng;

const PAGE_SIZE: usize = 40;

fn state(database: &TestDatabase, key: TokenKey) -> ApiState {
    ApiState::over(database.store.clone(), key, Arc::new(SystemClock))
}

async fn page_walk_survives_creates_and_updates(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    seed::seed(&database.store, 1500, 21).await.unwrap();
    let key = TokenKey::derive(&[5u8; 32]).unwrap();
    let state = state(&database, key);
    let (_, provider, token) = state
        .tokens
        .issue_lead_provider_token("Teach First", None, &mut rand_chacha::ChaCha20Rng::seed_from_u64(1))
        .await
        .unwrap();
    let client = TestClient::new(npq_api::routes(state));

    // Everything the provider had before the walk.
    let all_query = npq_domain::listing::ApplicationQuery {
        page: npq_domain::listing::PageRequest::new(Some(1), Some(1000)).unwrap(),
        ..Default::default()
    };
    let before: HashSet<String> = database
        .store
        .list_applications(provider.id, &all_query)
        .await
        .unwrap()
        .into_iter()
        .map(|(application, _)| application.id.to_string())
        .collect();
    assert!(before.len() > PAGE_SIZE * 3, "the walk spans several pages");

    // Fresh applicants for this provider, created one batch per page request.
    let mut reference = reference_data(99);
    reference.lead_providers = database.store.list_lead_providers().await.unwrap();
    let mut fresh = applicants(&reference, 200, 99);
    let mut changed = 0;

    let mut seen: HashMap<String, usize> = HashMap::new();
    for page in 1.. {
        let response = client
            .get("/api/v3/npq-applications")
            .query("page[per_page]", &PAGE_SIZE)
            .query("page[page]", &page)
            .header("Authorization", format!("Bearer {}", token.expose()))
            .send()
            .await;
        response.assert_status_is_ok();
        let body: serde_json::Value = response.json().await.value().deserialize();
        let items = body["data"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for item in &items {
            *seen.entry(item["id"].as_str().unwrap().to_owned()).or_default() += 1;
        }

        // Between requests: a new applicant applies to this provider, and an application and a
        // person on an earlier page change.
        if let (Some(mut person), Some(mut application)) = (fresh.people.pop(), fresh.applications.pop()) {
            let now = Utc::now();
            person.created_at = now;
            person.updated_at = now;
            application.participant_id = person.participant_id;
            application.lead_provider_id = provider.id;
            application.created_at = now;
            application.updated_at = now;
            database.store.insert_people(std::slice::from_ref(&person)).await.unwrap();
            database.store.insert_applications(std::slice::from_ref(&application)).await.unwrap();
        }
        let first_id: npq_domain::ids::ApplicationId = items[0]["id"].as_str().unwrap().parse().unwrap();
        let (mut application, mut person) =
            database.store.find_application(provider.id, first_id).await.unwrap().unwrap();
        application.employer_name = Some(format!("Changed during the walk {changed}"));
        application.updated_at = Utc::now();
        database.store.update_application(&application).await.unwrap();
        person.full_name = format!("Renamed {changed}");
        person.updated_at = Utc::now();
        database.store.update_person(&person).await.unwrap();
        changed += 1;
    }

    let repeated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(repeated.is_empty(), "applications seen twice: {repeated:?}");
    let missed: Vec<_> = before.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(missed.is_empty(), "applications never seen: {missed:?}");
    assert!(changed > 3);
}

backend_tests!(page_walk_survives_creates_and_updates);
