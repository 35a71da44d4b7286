//! Delivery partners: the list with its filter, order and pages, and reading one partner.

use npq_domain::ids::{DeliveryPartnerId, LeadProviderId};
use npq_domain::provider::{DeliveryPartner, DeliveryPartnership};
use poem::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{Fixture, REGISTRATION_TOKEN, error_titles, json_body, june, list_data};

const LIST: &str = "/api/v3/delivery-partners";

fn partner(name: &str, created_day: u32) -> DeliveryPartner {
    DeliveryPartner {
        id: DeliveryPartnerId::new_random(),
        name: name.to_owned(),
        created_at: june(created_day, 9),
        updated_at: june(created_day + 10, 9),
    }
}

fn partnership(lead_provider: LeadProviderId, partner: &DeliveryPartner, cohort: &str) -> DeliveryPartnership {
    DeliveryPartnership {
        lead_provider,
        delivery_partner: partner.id,
        cohort: cohort.parse().expect("a valid cohort identifier"),
    }
}

/// Four partners, inserted in this order:
/// - "Northern Partners", created 3 June, with the provider in 2023a and with the other in 2024a;
/// - "Coastal Trust", created 1 June, with the provider in 2025a, 2026a and 2026b;
/// - "Other Only", created 2 June, with the other provider only;
/// - "Midlands Alliance", created 4 June, with the provider in 2024a and 2022a.
fn fixture() -> Fixture {
    Fixture::with_delivery_partners(|provider, other| {
        let northern = partner("Northern Partners", 3);
        let coastal = partner("Coastal Trust", 1);
        let other_only = partner("Other Only", 2);
        let midlands = partner("Midlands Alliance", 4);
        let partnerships = vec![
            partnership(provider, &northern, "2023a"),
            partnership(other, &northern, "2024a"),
            partnership(provider, &coastal, "2025a"),
            partnership(provider, &coastal, "2026a"),
            partnership(provider, &coastal, "2026b"),
            partnership(other, &other_only, "2023a"),
            partnership(provider, &midlands, "2024a"),
            partnership(provider, &midlands, "2022a"),
        ];
        (vec![northern, coastal, other_only, midlands], partnerships)
    })
}

fn partner_id(fixture: &Fixture, name: &str) -> DeliveryPartnerId {
    fixture.store.delivery_partners.iter().find(|partner| partner.name == name).expect("a fixture partner").id
}

async fn listed_names(fixture: &Fixture, path: &str) -> Vec<String> {
    let response = fixture.get(path).await;
    assert_eq!(response.0.status(), StatusCode::OK, "{path}");
    list_data(response).await.iter().map(|item| item["attributes"]["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn list_returns_own_partners_by_name() {
    let fixture = fixture();
    assert_eq!(listed_names(&fixture, LIST).await, ["Coastal Trust", "Midlands Alliance", "Northern Partners"]);
}

#[tokio::test]
async fn list_item_has_reference_shape() {
    let fixture = fixture();
    let data = list_data(fixture.get(LIST).await).await;
    let coastal = partner_id(&fixture, "Coastal Trust");
    assert_eq!(
        data[0],
        json!({
            "id": coastal.to_string(),
            "type": "delivery-partner",
            "attributes": {
                "name": "Coastal Trust",
                "cohort": [2025, 2026],
                "created_at": "2025-06-01T09:00:00Z",
                "updated_at": "2025-06-11T09:00:00Z",
            }
        })
    );
    let keys: Vec<&String> = data[0]["attributes"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["name", "cohort", "created_at", "updated_at"]);
}

#[tokio::test]
async fn cohort_lists_only_callers_partnerships() {
    let fixture = fixture();
    let data = list_data(fixture.get(LIST).await).await;
    let northern = data.iter().find(|item| item["attributes"]["name"] == "Northern Partners").unwrap();
    assert_eq!(northern["attributes"]["cohort"], json!([2023]));
    let midlands = data.iter().find(|item| item["attributes"]["name"] == "Midlands Alliance").unwrap();
    assert_eq!(midlands["attributes"]["cohort"], json!([2022, 2024]));
}

#[tokio::test]
async fn cohort_filter_keeps_partners_in_those_cohorts() {
    let fixture = fixture();
    assert_eq!(listed_names(&fixture, &format!("{LIST}?filter[cohort]=2023")).await, ["Northern Partners"]);
    assert_eq!(
        listed_names(&fixture, &format!("{LIST}?filter[cohort]=2022,2025")).await,
        ["Coastal Trust", "Midlands Alliance"]
    );
    assert_eq!(listed_names(&fixture, &format!("{LIST}?filter[cohort]=2026b")).await, ["Coastal Trust"]);
    // The other provider's 2024 partnership with Northern Partners does not count.
    assert_eq!(listed_names(&fixture, &format!("{LIST}?filter[cohort]=2024")).await, ["Midlands Alliance"]);
    assert!(listed_names(&fixture, &format!("{LIST}?filter[cohort]=2021")).await.is_empty());
}

#[tokio::test]
async fn cohort_filter_keeps_every_cohort_in_attributes() {
    let fixture = fixture();
    let data = list_data(fixture.get(&format!("{LIST}?filter[cohort]=2022")).await).await;
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["attributes"]["cohort"], json!([2022, 2024]));
}

#[tokio::test]
async fn year_filter_lists_partner_once() {
    let fixture = fixture();
    assert_eq!(listed_names(&fixture, &format!("{LIST}?filter[cohort]=2026")).await, ["Coastal Trust"]);
}

#[tokio::test]
async fn bad_cohort_filter_is_rejected() {
    let fixture = fixture();
    for query in ["filter[cohort]=twenty", "filter[cohort]=2025,20x5", "filter[cohort][x]=2025"] {
        let response = fixture.get(&format!("{LIST}?{query}")).await;
        assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, query).await, ["Bad request"], "{query}");
    }
}

#[tokio::test]
async fn sort_orders_by_name_and_timestamps() {
    let fixture = fixture();
    let cases = [
        ("-name", vec!["Northern Partners", "Midlands Alliance", "Coastal Trust"]),
        ("created_at", vec!["Coastal Trust", "Northern Partners", "Midlands Alliance"]),
        ("-created_at", vec!["Midlands Alliance", "Northern Partners", "Coastal Trust"]),
        ("-updated_at", vec!["Midlands Alliance", "Northern Partners", "Coastal Trust"]),
        ("email", vec!["Coastal Trust", "Midlands Alliance", "Northern Partners"]),
    ];
    for (sort, expected) in cases {
        assert_eq!(listed_names(&fixture, &format!("{LIST}?sort={sort}")).await, expected, "sort={sort}");
    }
}

#[tokio::test]
async fn pages_cover_each_partner_once() {
    let fixture = fixture();
    let mut seen = Vec::new();
    for page in 1..=4 {
        seen.extend(listed_names(&fixture, &format!("{LIST}?page[page]={page}&page[per_page]=1")).await);
    }
    assert_eq!(seen, ["Coastal Trust", "Midlands Alliance", "Northern Partners"]);
}

#[tokio::test]
async fn bad_page_is_rejected() {
    let fixture = fixture();
    let response = fixture.get(&format!("{LIST}?page[per_page]=0")).await;
    assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, "per_page=0").await, ["Bad request"]);
}

#[tokio::test]
async fn show_returns_own_partner() {
    let fixture = fixture();
    let id = partner_id(&fixture, "Northern Partners");
    let response = fixture.get(&format!("{LIST}/{id}")).await;
    assert_eq!(response.0.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["data"]["id"], id.to_string());
    assert_eq!(body["data"]["type"], "delivery-partner");
    assert_eq!(body["data"]["attributes"]["cohort"], json!([2023]));
}

#[tokio::test]
async fn show_hides_other_providers_partner() {
    let fixture = fixture();
    let other_only = partner_id(&fixture, "Other Only");
    for id in [other_only.to_string(), DeliveryPartnerId::new_random().to_string(), "not-a-uuid".to_owned()] {
        let response = fixture.get(&format!("{LIST}/{id}")).await;
        assert_eq!(response.0.status(), StatusCode::NOT_FOUND, "{id}");
        assert!(json_body(response).await["error"].is_string(), "{id}");
    }
}

#[tokio::test]
async fn requests_without_lead_provider_token_are_unauthorised() {
    let fixture = fixture();
    let id = partner_id(&fixture, "Coastal Trust");
    for path in [LIST.to_owned(), format!("{LIST}/{id}")] {
        let anonymous = fixture.client.get(&path).send().await;
        assert_eq!(anonymous.0.status(), StatusCode::UNAUTHORIZED, "{path} without a token");
        let wrong_scope = fixture.send(Method::GET, &path, REGISTRATION_TOKEN, None).await;
        assert_eq!(wrong_scope.0.status(), StatusCode::UNAUTHORIZED, "{path} with a registration token");
    }
}
