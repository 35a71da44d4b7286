//! Lead provider allow-lists and the database health port, each run on SQLite and on PostgreSQL
//! with a database of its own.

use npq_domain::StoreError;
use npq_domain::ids::LeadProviderId;
use npq_domain::network::AllowList;
use npq_domain::ports::{DatabaseHealth, LeadProviderRepository};
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed;
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use sea_orm::ConnectionTrait;

async fn seeded(backend: Backend) -> (TestDatabase, LeadProviderId) {
    let database = TestDatabase::create(backend).await;
    seed::seed(&database.store, 0, 11).await.expect("seed");
    let provider = database.store.find_lead_provider_by_name("Teach First").await.unwrap().expect("seeded provider");
    (database, provider.id)
}

async fn new_provider_has_no_restriction(backend: Backend) {
    let (database, provider) = seeded(backend).await;
    assert_eq!(database.store.allowed_networks(provider).await, Ok(Some(AllowList::default())));
}

async fn allow_list_is_stored_and_cleared(backend: Backend) {
    let (database, provider) = seeded(backend).await;
    let list = AllowList::parse(&["2001:db8::/32", "10.0.0.0/8", "192.0.2.7"]).unwrap();
    assert_eq!(database.store.set_allowed_networks(provider, &list).await, Ok(true));
    assert_eq!(database.store.allowed_networks(provider).await, Ok(Some(list)));

    let other = database.store.find_lead_provider_by_name("Ambition Institute").await.unwrap().unwrap();
    assert_eq!(
        database.store.allowed_networks(other.id).await,
        Ok(Some(AllowList::default())),
        "only one provider changed"
    );

    assert_eq!(database.store.set_allowed_networks(provider, &AllowList::default()).await, Ok(true));
    assert_eq!(database.store.allowed_networks(provider).await, Ok(Some(AllowList::default())));
}

async fn unknown_provider_has_no_allow_list(backend: Backend) {
    let (database, _) = seeded(backend).await;
    let unknown = LeadProviderId::new_random();
    assert_eq!(database.store.allowed_networks(unknown).await, Ok(None));
    assert_eq!(database.store.set_allowed_networks(unknown, &AllowList::default()).await, Ok(false));
}

async fn invalid_stored_network_is_corrupt(backend: Backend) {
    let (database, provider) = seeded(backend).await;
    database
        .store
        .connection()
        .execute_unprepared(
            "UPDATE lead_providers SET allowed_networks = '[\"10.0.0.0/33\"]' WHERE name = 'Teach First'",
        )
        .await
        .unwrap();
    assert!(matches!(database.store.allowed_networks(provider).await, Err(StoreError::Corrupt(_))));
}

async fn database_health_reports_ping_and_pool(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    assert_eq!(DatabaseHealth::ping(&database.store).await, Ok(()));
    let pool = database.store.pool_status().expect("both backends have a pool");
    assert!(pool.max >= 1, "{pool:?}");
    assert!(pool.idle <= pool.open, "{pool:?}");
}

backend_tests!(
    new_provider_has_no_restriction,
    allow_list_is_stored_and_cleared,
    unknown_provider_has_no_allow_list,
    invalid_stored_network_is_corrupt,
    database_health_reports_ping_and_pool
);
