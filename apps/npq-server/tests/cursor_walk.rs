//! Cursor walks (`page[cursor]`) over the store on both backends: every application is seen once
//! in `created_at` order while applications are created and updated between pages, and again
//! after its update in `updated_at` order; bad cursors are rejected with 400.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use npq_api::ApiState;
use npq_domain::auth::TokenKey;
use npq_domain::ids::{ApplicationId, LeadProviderId};
use npq_domain::ports::{ApplicationRepository, LeadProviderRepository, SystemClock};
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::{self, Applicants, applicants, reference_data};
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use poem::test::TestClient;
use rand::SeedableRng;

const PAGE_SIZE: usize = 40;

/// More pages than any walk here needs: a walk that does not advance fails instead of looping.
const MAX_PAGES: usize = 100;

struct Walk {
    database: TestDatabase,
    client: TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>,
    token: String,
    provider: LeadProviderId,
    fresh: Applicants,
}

impl Walk {
    async fn start(backend: Backend) -> Self {
        let database = TestDatabase::create(backend).await;
        seed::seed(&database.store, 1500, 21).await.unwrap();
        let key = TokenKey::derive(&[5u8; 32]).unwrap();
        let state = ApiState::over(database.store.clone(), key, Arc::new(SystemClock));
        let (_, provider, token) = state
            .tokens
            .issue_lead_provider_token("Teach First", None, &mut rand_chacha::ChaCha20Rng::seed_from_u64(1))
            .await
            .unwrap();
        let client = TestClient::new(poem::EndpointExt::boxed(npq_api::routes(state)));
        let mut reference = reference_data(99);
        reference.lead_providers = database.store.list_lead_providers().await.unwrap();
        let fresh = applicants(&reference, 100, 99);
        Self { database, client, token: token.expose().to_owned(), provider: provider.id, fresh }
    }

    async fn all_application_ids(&self) -> HashSet<String> {
        let query = npq_domain::listing::ApplicationQuery {
            page: npq_domain::listing::PageRequest::new(Some(1), Some(1000)).unwrap(),
            ..Default::default()
        };
        let rows = self.database.store.list_applications(self.provider, &query).await.unwrap();
        rows.into_iter().map(|(application, _)| application.id.to_string()).collect()
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> poem::test::TestResponse {
        let mut request = self.client.get(path).header("Authorization", format!("Bearer {}", self.token));
        for (name, value) in query {
            request = request.query(*name, value);
        }
        request.send().await
    }

    /// Returns one page of a cursor walk: the ids on it and the next cursor.
    async fn page(&self, path: &str, sort: &str, cursor: &str) -> (Vec<String>, String) {
        self.page_of(path, sort, cursor, PAGE_SIZE).await
    }

    async fn page_of(&self, path: &str, sort: &str, cursor: &str, per_page: usize) -> (Vec<String>, String) {
        let per_page = per_page.to_string();
        let response = self.get(path, &[("sort", sort), ("page[per_page]", &per_page), ("page[cursor]", cursor)]).await;
        response.assert_status_is_ok();
        let body: serde_json::Value = response.json().await.value().deserialize();
        let ids = body["data"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect();
        let next = body["meta"]["next_cursor"].as_str().expect("a cursor page carries meta.next_cursor").to_owned();
        (ids, next)
    }

    /// Creates an application of a new applicant for the provider, now.
    async fn create_application(&mut self) -> Option<String> {
        let (mut person, mut application) = (self.fresh.people.pop()?, self.fresh.applications.pop()?);
        let now = Utc::now();
        person.created_at = now;
        person.updated_at = now;
        application.participant_id = person.participant_id;
        application.lead_provider_id = self.provider;
        application.created_at = now;
        application.updated_at = now;
        self.database.store.insert_people(std::slice::from_ref(&person)).await.unwrap();
        self.database.store.insert_applications(std::slice::from_ref(&application)).await.unwrap();
        Some(application.id.to_string())
    }

    /// Changes an application, which moves its `updated_at` to now.
    async fn update_application(&self, id: &str, note: usize) {
        let id: ApplicationId = id.parse().unwrap();
        let (mut application, _) = self.database.store.find_application(self.provider, id).await.unwrap().unwrap();
        application.employer_name = Some(format!("Changed during the walk {note}"));
        application.updated_at = Utc::now();
        self.database.store.update_application(&application).await.unwrap();
    }
}

async fn created_at_walk_sees_each_application_once(backend: Backend) {
    let mut walk = Walk::start(backend).await;
    let before = walk.all_application_ids().await;
    assert!(before.len() > PAGE_SIZE * 3, "the walk spans several pages");

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut created = Vec::new();
    let mut cursor = String::new();
    loop {
        let (ids, next) = walk.page("/api/v3/npq-applications", "created_at", &cursor).await;
        assert!(seen.len() < MAX_PAGES * PAGE_SIZE, "the walk does not advance: {:?}", &ids[..3.min(ids.len())]);
        if ids.is_empty() {
            // The cursor after an empty page resumes from the same place.
            assert_eq!(next, cursor, "an empty page returns the cursor it was sent");
            break;
        }
        for id in &ids {
            *seen.entry(id.clone()).or_default() += 1;
        }
        cursor = next;

        // Between pages: a new application, and a change to one already seen and one not yet seen.
        created.extend(walk.create_application().await);
        walk.update_application(&ids[0], seen.len()).await;
        if let Some(unseen) = before.iter().find(|id| !seen.contains_key(*id)) {
            walk.update_application(unseen, seen.len()).await;
        }
    }

    let repeated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(repeated.is_empty(), "applications seen twice: {repeated:?}");
    let missed: Vec<_> = before.iter().chain(&created).filter(|id| !seen.contains_key(*id)).collect();
    assert!(missed.is_empty(), "applications never seen: {missed:?}");
    assert!(created.len() > 3);
}

async fn updated_at_walk_sees_updates_again(backend: Backend) {
    let mut walk = Walk::start(backend).await;
    let before = walk.all_application_ids().await;

    let mut order: Vec<String> = Vec::new();
    let mut updated: Vec<(String, usize)> = Vec::new();
    let mut cursor = String::new();
    loop {
        let (ids, next) = walk.page("/api/v3/npq-applications", "updated_at", &cursor).await;
        assert!(order.len() < MAX_PAGES * PAGE_SIZE, "the walk does not advance");
        if ids.is_empty() {
            break;
        }
        order.extend(ids.iter().cloned());
        cursor = next;

        // Between the first pages: change an application already seen, and remember where the walk
        // was. Changes on every page would keep the walk going for ever, as each comes back later.
        if updated.len() < 3 {
            let changed = ids[ids.len() / 2].clone();
            walk.update_application(&changed, order.len()).await;
            updated.push((changed, order.len()));
            walk.create_application().await;
        }
    }

    let seen: HashSet<&String> = order.iter().collect();
    let missed: Vec<_> = before.iter().filter(|id| !seen.contains(id)).collect();
    assert!(missed.is_empty(), "applications never seen: {missed:?}");
    for (id, seen_before_update) in &updated {
        let seen_again = order[*seen_before_update..].contains(id);
        assert!(seen_again, "application {id} was updated during the walk but not seen again");
    }
}

async fn bad_cursors_are_rejected(backend: Backend) {
    let walk = Walk::start(backend).await;
    let (_, cursor) = walk.page("/api/v3/npq-applications", "created_at", "").await;
    let mut tampered = cursor.clone().into_bytes();
    tampered[10] = if tampered[10] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();

    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("page[cursor]", tampered.as_str())], "not a cursor that this list returned"),
        (&[("page[cursor]", "not-a-cursor")], "not a cursor that this list returned"),
        (&[("page[cursor]", cursor.as_str()), ("sort", "updated_at")], "sort=created_at"),
        (&[("page[cursor]", cursor.as_str()), ("page[page]", "2")], "cannot be combined"),
        (&[("page[cursor]", ""), ("sort", "-created_at")], "one column"),
        (&[("page[cursor]", ""), ("sort", "updated_at,created_at")], "one column"),
    ];
    for (query, detail) in cases {
        let response = walk.get("/api/v3/npq-applications", query).await;
        response.assert_status(poem::http::StatusCode::BAD_REQUEST);
        let body: serde_json::Value = response.json().await.value().deserialize();
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{query:?}");
        let text = errors[0]["detail"].as_str().unwrap();
        assert!(text.contains(detail), "{query:?}: {text}");
    }

    // An applications cursor does not walk declarations or participants.
    for path in ["/api/v3/participant-declarations", "/api/v3/participants/npq"] {
        let response = walk.get(path, &[("page[cursor]", cursor.as_str())]).await;
        response.assert_status(poem::http::StatusCode::BAD_REQUEST);
    }
}

async fn participant_and_declaration_walks_match_pages(backend: Backend) {
    let walk = Walk::start(backend).await;
    walk.database.store.seed_declarations(Utc::now().date_naive(), 10_000).await.unwrap();
    let per_page = 7;
    for (path, sort) in [
        ("/api/v3/participants/npq", "created_at"),
        ("/api/v3/participants/npq", "updated_at"),
        ("/api/v3/participant-declarations", "created_at"),
        ("/api/v3/participant-declarations", "updated_at"),
    ] {
        let mut paged = Vec::new();
        for page in 1.. {
            let page = page.to_string();
            let size = per_page.to_string();
            let response = walk.get(path, &[("sort", sort), ("page[per_page]", &size), ("page[page]", &page)]).await;
            let body: serde_json::Value = response.json().await.value().deserialize();
            assert!(body.get("meta").is_none(), "page numbers add no meta");
            let items = body["data"].as_array().unwrap().clone();
            if items.is_empty() {
                break;
            }
            paged.extend(items.iter().map(|item| item["id"].as_str().unwrap().to_owned()));
        }
        let mut walked = Vec::new();
        let mut cursor = String::new();
        loop {
            let (ids, next) = walk.page_of(path, sort, &cursor, per_page).await;
            assert!(walked.len() < MAX_PAGES * per_page, "{path} {sort}: the walk does not advance");
            if ids.is_empty() {
                break;
            }
            walked.extend(ids);
            cursor = next;
        }
        assert!(paged.len() > per_page * 2, "{path} {sort}: the walk spans several pages");
        assert_eq!(walked, paged, "{path} {sort}");
    }
}

backend_tests!(
    created_at_walk_sees_each_application_once,
    updated_at_walk_sees_updates_again,
    bad_cursors_are_rejected,
    participant_and_declaration_walks_match_pages
);
