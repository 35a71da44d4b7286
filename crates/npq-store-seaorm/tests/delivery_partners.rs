//! Delivery partner reads, each run on SQLite and on PostgreSQL with a database of its own.

use std::collections::{BTreeSet, HashMap};

use chrono::{TimeZone, Utc};
use npq_domain::ids::{DeliveryPartnerId, LeadProviderId};
use npq_domain::listing::{DeliveryPartnerQuery, DeliveryPartnerSort, PageRequest, parse_cohort_filter};
use npq_domain::ports::DeliveryPartnerRepository;
use npq_domain::provider::{DeliveryPartner, DeliveryPartnership};
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::{ReferenceData, reference_data};
use npq_store_seaorm::test_support::{Backend, TestDatabase};

fn partner(name: &str, created_day: u32) -> DeliveryPartner {
    let created_at = Utc.with_ymd_and_hms(2025, 3, created_day, 9, 0, 0).unwrap();
    DeliveryPartner { id: DeliveryPartnerId::new_random(), name: name.to_owned(), created_at, updated_at: created_at }
}

fn partnership(lead_provider: LeadProviderId, partner: &DeliveryPartner, cohort: &str) -> DeliveryPartnership {
    DeliveryPartnership { lead_provider, delivery_partner: partner.id, cohort: cohort.parse().unwrap() }
}

/// Creates a database with the sample reference data and three partners of its own. "Beta
/// Partners" works with the first provider in 2023a and with the second in 2024a. "Alpha Trust"
/// works with the first in 2025a and 2026b, and "Gamma Only" with the second provider only.
async fn database_with_partners(backend: Backend) -> (TestDatabase, ReferenceData) {
    let mut reference = reference_data(3);
    let provider = reference.lead_providers[0].id;
    let other = reference.lead_providers[1].id;
    let beta = partner("Beta Partners", 2);
    let alpha = partner("Alpha Trust", 3);
    let gamma = partner("Gamma Only", 1);
    reference.partnerships = vec![
        partnership(provider, &beta, "2023a"),
        partnership(other, &beta, "2024a"),
        partnership(provider, &alpha, "2025a"),
        partnership(provider, &alpha, "2026b"),
        partnership(other, &gamma, "2023a"),
    ];
    reference.delivery_partners = vec![beta, alpha, gamma];
    let database = TestDatabase::create(backend).await;
    database.store.insert_reference_data(&reference).await.unwrap();
    (database, reference)
}

fn query(cohort: Option<&str>) -> DeliveryPartnerQuery {
    DeliveryPartnerQuery { cohorts: parse_cohort_filter(cohort).unwrap(), ..DeliveryPartnerQuery::default() }
}

fn names(views: &[npq_domain::provider::DeliveryPartnerView]) -> Vec<&str> {
    views.iter().map(|view| view.partner.name.as_str()).collect()
}

async fn list_is_scoped_to_the_provider(backend: Backend) {
    let (database, reference) = database_with_partners(backend).await;
    let provider = reference.lead_providers[0].id;
    let views = database.store.list_delivery_partners(provider, &query(None)).await.unwrap();
    assert_eq!(names(&views), ["Alpha Trust", "Beta Partners"]);
    assert_eq!(views[0].start_years(), [2025, 2026]);
    assert_eq!(views[1].start_years(), [2023]);
    assert_eq!(views[1].partner, reference.delivery_partners[0]);

    let other = reference.lead_providers[1].id;
    let views = database.store.list_delivery_partners(other, &query(None)).await.unwrap();
    assert_eq!(names(&views), ["Beta Partners", "Gamma Only"]);
    assert_eq!(views[0].start_years(), [2024]);

    let unpartnered = reference.lead_providers[2].id;
    assert!(database.store.list_delivery_partners(unpartnered, &query(None)).await.unwrap().is_empty());
}

async fn cohort_filter_matches_own_partnerships(backend: Backend) {
    let (database, reference) = database_with_partners(backend).await;
    let provider = reference.lead_providers[0].id;
    let list = |cohort| {
        let store = database.store.clone();
        async move { store.list_delivery_partners(provider, &query(Some(cohort))).await.unwrap() }
    };
    assert_eq!(names(&list("2023").await), ["Beta Partners"]);
    assert!(list("2024").await.is_empty(), "the other provider's 2024 partnership does not count");
    let views = list("2026b").await;
    assert_eq!(names(&views), ["Alpha Trust"]);
    assert_eq!(views[0].start_years(), [2025, 2026], "the filter leaves the cohorts whole");
    assert_eq!(names(&list("2023,2025").await), ["Alpha Trust", "Beta Partners"]);
    assert!(list("2021").await.is_empty());
}

async fn sort_orders_by_created_at(backend: Backend) {
    let (database, reference) = database_with_partners(backend).await;
    let provider = reference.lead_providers[0].id;
    let sorted = DeliveryPartnerQuery { sort: DeliveryPartnerSort::parse(Some("-created_at")), ..query(None) };
    let views = database.store.list_delivery_partners(provider, &sorted).await.unwrap();
    assert_eq!(names(&views), ["Alpha Trust", "Beta Partners"]);
    let sorted = DeliveryPartnerQuery { sort: DeliveryPartnerSort::parse(Some("-name")), ..query(None) };
    let views = database.store.list_delivery_partners(provider, &sorted).await.unwrap();
    assert_eq!(names(&views), ["Beta Partners", "Alpha Trust"]);
}

async fn show_finds_only_own_partners(backend: Backend) {
    let (database, reference) = database_with_partners(backend).await;
    let provider = reference.lead_providers[0].id;
    let beta = reference.delivery_partners[0].id;
    let gamma = reference.delivery_partners[2].id;
    let view = database.store.find_delivery_partner(provider, beta).await.unwrap().expect("own partner");
    assert_eq!(view.partner.name, "Beta Partners");
    assert_eq!(view.start_years(), [2023]);
    assert_eq!(database.store.find_delivery_partner(provider, gamma).await.unwrap(), None);
    assert_eq!(database.store.find_delivery_partner(provider, DeliveryPartnerId::new_random()).await.unwrap(), None);
}

async fn pages_cover_each_seeded_partner_once(backend: Backend) {
    let reference = reference_data(7);
    let database = TestDatabase::create(backend).await;
    database.store.insert_reference_data(&reference).await.unwrap();
    let provider = reference.lead_providers[0].id;
    let mut expected: HashMap<DeliveryPartnerId, BTreeSet<u16>> = HashMap::new();
    for partnership in reference.partnerships.iter().filter(|partnership| partnership.lead_provider == provider) {
        expected.entry(partnership.delivery_partner).or_default().insert(partnership.cohort.start_year());
    }
    assert!(expected.len() > 3, "the seed gives the provider several partners");

    let mut seen = Vec::new();
    for number in 1.. {
        let page = DeliveryPartnerQuery { page: PageRequest::new(Some(number), Some(3)).unwrap(), ..query(None) };
        let views = database.store.list_delivery_partners(provider, &page).await.unwrap();
        if views.is_empty() {
            break;
        }
        for view in views {
            let years: BTreeSet<u16> = view.start_years().into_iter().collect();
            assert_eq!(Some(&years), expected.get(&view.partner.id), "{}", view.partner.name);
            seen.push(view.partner);
        }
    }
    assert_eq!(seen.len(), expected.len(), "each partner once");
    let mut sorted = seen.clone();
    sorted.sort_by(|left, right| left.name.cmp(&right.name));
    assert_eq!(seen, sorted, "sorted by name");
}

backend_tests!(
    list_is_scoped_to_the_provider,
    cohort_filter_matches_own_partnerships,
    sort_orders_by_created_at,
    show_finds_only_own_partners,
    pages_cover_each_seeded_partner_once,
);
