//! Store tests, each run on SQLite and on PostgreSQL with a database of its own.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use npq_domain::StoreError;
use npq_domain::application::ApplicationStatus;
use npq_domain::auth::{ApiToken, TokenKey, TokenScope};
use npq_domain::ids::{ApiTokenId, ApplicationId, LeadProviderId};
use npq_domain::listing::{ApplicationQuery, CohortSelector, PageRequest, Sort};
use npq_domain::ports::{ApplicationRepository, LeadProviderRepository, TokenRepository};
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::{self, applicants, reference_data};
use npq_store_seaorm::test_support::{Backend, TestDatabase};

async fn seeded(backend: Backend, applications: usize) -> TestDatabase {
    let database = TestDatabase::create(backend).await;
    seed::seed(&database.store, applications, 11).await.expect("seed");
    database
}

async fn provider_named(database: &TestDatabase, name: &str) -> LeadProviderId {
    database.store.find_lead_provider_by_name(name).await.unwrap().expect("seeded provider").id
}

fn page(number: i64, per_page: i64) -> ApplicationQuery {
    ApplicationQuery { page: PageRequest::new(Some(number), Some(per_page)).unwrap(), ..ApplicationQuery::default() }
}

async fn migrations_can_run_twice(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    database.store.migrate().await.expect("second migration run is a no-op");
    assert_eq!(database.store.count_people().await.unwrap(), 0);
}

async fn seeding_twice_adds_nothing(backend: Backend) {
    let database = seeded(backend, 300).await;
    let people = database.store.count_people().await.unwrap();
    let again = seed::seed(&database.store, 300, 11).await.unwrap();
    assert!(!again.reference_data_created);
    assert_eq!(again.applications, 0);
    assert_eq!(database.store.count_people().await.unwrap(), people);
    assert_eq!(database.store.cohorts().await.unwrap().len(), 7);
    assert!(!database.store.schedules().await.unwrap().is_empty());
}

async fn seeded_applications_read_back_unchanged(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let reference = reference_data(4);
    database.store.insert_reference_data(&reference).await.unwrap();
    let generated = applicants(&reference, 400, 4);
    database.store.insert_people(&generated.people).await.unwrap();
    database.store.insert_applications(&generated.applications).await.unwrap();

    for expected in generated.applications.iter().take(50) {
        let (application, person) =
            database.store.find_application(expected.lead_provider_id, expected.id).await.unwrap().expect("stored");
        let mut expected = expected.clone();
        expected.created_at = application.created_at;
        expected.updated_at = application.updated_at;
        expected.accepted_at = application.accepted_at;
        assert_eq!(application, expected);
        assert!(
            (application.created_at - generated.applications.iter().find(|a| a.id == expected.id).unwrap().created_at)
                .abs()
                < Duration::milliseconds(1)
        );
        assert_eq!(person.participant_id, expected.participant_id);
    }
}

async fn pages_cover_every_application_exactly_once(backend: Backend) {
    let database = seeded(backend, 600).await;
    let provider = provider_named(&database, "Ambition Institute").await;
    let mut seen = Vec::new();
    for number in 1.. {
        let rows = database.store.list_applications(provider, &page(number, 7)).await.unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= 7);
        seen.extend(rows.into_iter().map(|(application, _)| application));
    }
    let ids: HashSet<ApplicationId> = seen.iter().map(|application| application.id).collect();
    assert_eq!(ids.len(), seen.len(), "no application appears twice");
    assert!(seen.iter().all(|application| application.lead_provider_id == provider));
    let everything = database.store.list_applications(provider, &page(1, 1000)).await.unwrap();
    assert_eq!(everything.len(), seen.len(), "walking pages finds every application");
    assert!(seen.windows(2).all(|pair| pair[0].created_at <= pair[1].created_at));
}

async fn other_providers_applications_are_invisible(backend: Backend) {
    let database = seeded(backend, 300).await;
    let ambition = provider_named(&database, "Ambition Institute").await;
    let teach_first = provider_named(&database, "Teach First").await;
    let theirs = database.store.list_applications(teach_first, &page(1, 1000)).await.unwrap();
    let (application, _) = theirs.first().expect("Teach First has applications");
    assert!(database.store.find_application(ambition, application.id).await.unwrap().is_none());
    assert!(database.store.find_application(teach_first, application.id).await.unwrap().is_some());
    assert!(database.store.find_application(LeadProviderId::new_random(), application.id).await.unwrap().is_none());
}

async fn filters_select_cohorts_times_and_people(backend: Backend) {
    let database = seeded(backend, 800).await;
    let provider = provider_named(&database, "Teach First").await;
    let all = database.store.list_applications(provider, &page(1, 1000)).await.unwrap();

    let mut query = page(1, 1000);
    query.filter.cohorts = Some(vec![CohortSelector::StartYear(2026)]);
    let in_2026 = database.store.list_applications(provider, &query).await.unwrap();
    assert_eq!(in_2026.len(), all.iter().filter(|(a, _)| a.cohort.start_year() == 2026).count());
    assert!(!in_2026.is_empty());

    query.filter.cohorts = Some(vec![CohortSelector::StartYear(2030)]);
    assert!(database.store.list_applications(provider, &query).await.unwrap().is_empty());

    let middle = all[all.len() / 2].0.updated_at;
    let mut query = page(1, 1000);
    query.filter.updated_since = Some(middle);
    let recent = database.store.list_applications(provider, &query).await.unwrap();
    assert_eq!(recent.len(), all.iter().filter(|(a, _)| a.updated_at >= middle).count());

    let person = all[0].0.participant_id;
    let mut query = page(1, 1000);
    query.filter.participant_ids = Some(vec![person]);
    let theirs = database.store.list_applications(provider, &query).await.unwrap();
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|(a, _)| a.participant_id == person));
}

async fn sort_by_updated_at_descending(backend: Backend) {
    let database = seeded(backend, 300).await;
    let provider = provider_named(&database, "UCL Institute of Education").await;
    let mut query = page(1, 1000);
    query.sort = Sort::parse(Some("-updated_at"));
    let rows = database.store.list_applications(provider, &query).await.unwrap();
    assert!(rows.windows(2).all(|pair| pair[0].0.updated_at >= pair[1].0.updated_at));
}

async fn funding_history_lists_accepted_applications_of_those_people(backend: Backend) {
    let database = seeded(backend, 500).await;
    let reference = reference_data(11);
    let generated = applicants(&reference, 500, 11);
    let accepted = generated
        .applications
        .iter()
        .find(|a| a.status == ApplicationStatus::Accepted)
        .expect("an accepted application");
    let history = database.store.funding_history(&[accepted.participant_id]).await.unwrap();
    assert!(history.iter().any(|entry| entry.application_id == accepted.id));
    assert!(history.iter().all(|entry| entry.participant_id == accepted.participant_id && entry.status == ApplicationStatus::Accepted));
}

async fn person_update_moves_their_applications_updated_at(backend: Backend) {
    let database = seeded(backend, 200).await;
    let provider = provider_named(&database, "Teach First").await;
    let (application, mut person) = database.store.list_applications(provider, &page(1, 1)).await.unwrap().remove(0);
    person.full_name = "Renamed Person".to_owned();
    person.updated_at = Utc::now();
    database.store.update_person(&person).await.unwrap();
    let (after, after_person) = database.store.find_application(provider, application.id).await.unwrap().unwrap();
    assert_eq!(after_person.full_name, "Renamed Person");
    assert!(after.updated_at > application.updated_at);
}

async fn failed_batch_insert_writes_nothing(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let reference = reference_data(2);
    database.store.insert_reference_data(&reference).await.unwrap();
    let mut generated = applicants(&reference, 100, 2);
    database.store.insert_people(&generated.people).await.unwrap();
    generated.applications[99].participant_id = npq_domain::ids::ParticipantId::new_random();
    let error = database.store.insert_applications(&generated.applications).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error}");
    for provider in &reference.lead_providers {
        assert!(database.store.list_applications(provider.id, &page(1, 1000)).await.unwrap().is_empty());
    }
}

async fn tokens_are_found_by_digest_and_unique(backend: Backend) {
    let database = seeded(backend, 0).await;
    let provider = provider_named(&database, "Teach First").await;
    let key = TokenKey::derive(&[9u8; 32]).unwrap();
    let token = ApiToken {
        id: ApiTokenId::new_random(),
        scope: TokenScope::LeadProvider,
        lead_provider: Some(provider),
        digest: key.digest("plain-token"),
        description: Some("integration".to_owned()),
        created_at: Utc::now(),
        last_used_at: None,
    };
    database.store.insert_token(&token).await.unwrap();
    let found = database.store.find_token_by_digest(&key.digest("plain-token")).await.unwrap().expect("found");
    assert_eq!(found.lead_provider, Some(provider));
    assert!(database.store.find_token_by_digest(&key.digest("other")).await.unwrap().is_none());

    let used_at = Utc::now();
    database.store.record_token_use(token.id, used_at).await.unwrap();
    let found = database.store.find_token_by_digest(&token.digest).await.unwrap().unwrap();
    assert!((found.last_used_at.unwrap() - used_at).abs() < Duration::milliseconds(1));

    let duplicate = ApiToken { id: ApiTokenId::new_random(), ..token.clone() };
    assert!(matches!(database.store.insert_token(&duplicate).await, Err(StoreError::Conflict(_))));
}

async fn lead_provider_token_without_provider_is_rejected(backend: Backend) {
    let database = seeded(backend, 0).await;
    let key = TokenKey::derive(&[9u8; 32]).unwrap();
    let token = ApiToken {
        id: ApiTokenId::new_random(),
        scope: TokenScope::LeadProvider,
        lead_provider: None,
        digest: key.digest("orphan"),
        description: None,
        created_at: Utc::now(),
        last_used_at: None,
    };
    assert!(database.store.insert_token(&token).await.is_err(), "the database's check constraint rejects it");
}

backend_tests!(
    migrations_can_run_twice,
    seeding_twice_adds_nothing,
    seeded_applications_read_back_unchanged,
    pages_cover_every_application_exactly_once,
    other_providers_applications_are_invisible,
    filters_select_cohorts_times_and_people,
    sort_by_updated_at_descending,
    funding_history_lists_accepted_applications_of_those_people,
    person_update_moves_their_applications_updated_at,
    failed_batch_insert_writes_nothing,
    tokens_are_found_by_digest_and_unique,
    lead_provider_token_without_provider_is_rejected,
);
