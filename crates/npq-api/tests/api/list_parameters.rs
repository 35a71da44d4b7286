//! Pagination, filters and sorting of the application list.

use chrono::Duration;
use npq_domain::application::Application;
use npq_domain::person::Person;
use poem::http::StatusCode;
use serde_json::Value;

use crate::common::{Fixture, application, json_body, june, list_data, listed_ids, person};

/// Asserts a 400 with exactly one `Bad request` error whose detail contains `detail_part`.
async fn assert_bad_request(fixture: &Fixture, path: &str, detail_part: &str) {
    let response = fixture.get(path).await;
    response.assert_status(StatusCode::BAD_REQUEST);
    let body = json_body(response).await;
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("{path}: no errors array in {body}"));
    assert_eq!(errors.len(), 1, "{path}: {body}");
    assert_eq!(errors[0]["title"], "Bad request", "{path}");
    let detail = errors[0]["detail"].as_str().unwrap();
    assert!(detail.contains(detail_part), "{path}: detail {detail:?} should contain {detail_part:?}");
}

/// `count` applications of the provider, one per person, created an hour apart from 1 June 09:00.
fn hourly_applications(provider: npq_domain::ids::LeadProviderId, count: usize) -> Vec<(Application, Person)> {
    (0..count)
        .map(|index| {
            let someone = person(&format!("Person {index}"));
            let created_at = june(1, 9) + Duration::hours(i64::try_from(index).unwrap());
            (application(&someone, provider, created_at), someone)
        })
        .collect()
}

fn ids_of(rows: &[(Application, Person)]) -> Vec<String> {
    rows.iter().map(|(application, _)| application.id.to_string()).collect()
}

#[tokio::test]
async fn pages_end_with_empty_page() {
    let rows = hourly_applications(npq_domain::ids::LeadProviderId::new_random(), 8);
    let fixture = Fixture::with_applications(|provider, _| {
        rows.iter()
            .cloned()
            .map(|(mut application, someone)| {
                application.lead_provider_id = provider;
                (application, someone)
            })
            .collect()
    });
    let all = ids_of(&rows);

    let first = listed_ids(fixture.get("/api/v3/npq-applications?page[per_page]=5&page[page]=1").await).await;
    assert_eq!(first, all[..5]);
    let second = listed_ids(fixture.get("/api/v3/npq-applications?page%5Bper_page%5D=5&page%5Bpage%5D=2").await).await;
    assert_eq!(second, all[5..]);
    let third = fixture.get("/api/v3/npq-applications?page[per_page]=5&page[page]=3").await;
    third.assert_status_is_ok();
    assert!(list_data(third).await.is_empty());
    let far = fixture.get("/api/v3/npq-applications?page[page]=100000").await;
    far.assert_status_is_ok();
    assert!(list_data(far).await.is_empty());
}

#[tokio::test]
async fn page_size_above_maximum_is_capped_at_1000() {
    let fixture = Fixture::with_applications(|provider, _| hourly_applications(provider, 1005));
    let response = fixture.get("/api/v3/npq-applications?page[per_page]=5000").await;
    response.assert_status_is_ok();
    assert_eq!(list_data(response).await.len(), 1000);
    let default = fixture.get("/api/v3/npq-applications").await;
    assert_eq!(list_data(default).await.len(), 100, "the default page size is 100");
}

#[tokio::test]
async fn invalid_page_values_are_bad_requests() {
    let fixture = Fixture::new();
    for query in [
        "page[page]=0",
        "page[page]=-1",
        "page[page]=abc",
        "page[page]=10abc",
        "page[per_page]=0",
        "page[per_page]=-5",
        "page[per_page]=1.5",
    ] {
        assert_bad_request(&fixture, &format!("/api/v3/npq-applications?{query}"), "page[page]").await;
    }
}

#[tokio::test]
async fn scalar_page_parameter_is_ignored() {
    let fixture = Fixture::with_applications(|provider, _| hourly_applications(provider, 3));
    let response = fixture.get("/api/v3/npq-applications?page=2").await;
    response.assert_status_is_ok();
    assert_eq!(list_data(response).await.len(), 3);
}

#[tokio::test]
async fn updated_since_is_inclusive() {
    let rows = hourly_applications(npq_domain::ids::LeadProviderId::new_random(), 4);
    let fixture = Fixture::with_applications(|provider, _| {
        rows.iter()
            .cloned()
            .map(|(mut application, someone)| {
                application.lead_provider_id = provider;
                (application, someone)
            })
            .collect()
    });
    let all = ids_of(&rows);
    // The rows were updated at 09:00, 10:00, 11:00 and 12:00 UTC on 1 June.
    let since_ten =
        listed_ids(fixture.get("/api/v3/npq-applications?filter[updated_since]=2025-06-01T10:00:00Z").await).await;
    assert_eq!(since_ten, all[1..]);
}

#[tokio::test]
async fn updated_since_accepts_offsets_raw_or_encoded() {
    let rows = hourly_applications(npq_domain::ids::LeadProviderId::new_random(), 4);
    let fixture = Fixture::with_applications(|provider, _| {
        rows.iter()
            .cloned()
            .map(|(mut application, someone)| {
                application.lead_provider_id = provider;
                (application, someone)
            })
            .collect()
    });
    let all = ids_of(&rows);
    // 12:00 at +01:00 is 11:00 UTC.
    for query in [
        "filter[updated_since]=2025-06-01T12:00:00%2B01:00",
        "filter[updated_since]=2025-06-01T12:00:00+01:00",
        "filter%5Bupdated_since%5D=2025-06-01T12%3A00%3A00%2B01%3A00",
        "filter[updated_since]=2025-06-01T10:00:00-01:00",
    ] {
        let ids = listed_ids(fixture.get(&format!("/api/v3/npq-applications?{query}")).await).await;
        assert_eq!(ids, all[2..], "{query}");
    }
}

#[tokio::test]
async fn invalid_updated_since_names_the_filter() {
    let fixture = Fixture::new();
    for value in ["yesterday", "2025-13-01", "invalid"] {
        assert_bad_request(
            &fixture,
            &format!("/api/v3/npq-applications?filter[updated_since]={value}"),
            "#/updated_since",
        )
        .await;
    }
}

#[tokio::test]
async fn blank_filters_are_ignored() {
    let fixture = Fixture::with_applications(|provider, _| hourly_applications(provider, 2));
    let response = fixture
        .get("/api/v3/npq-applications?filter[updated_since]=&filter[participant_id]=&filter[cohort]=&filter[unknown]=x&other=1")
        .await;
    response.assert_status_is_ok();
    assert_eq!(list_data(response).await.len(), 2);
}

#[tokio::test]
async fn participant_id_filter_takes_a_uuid_list() {
    let first = person("First Person");
    let second = person("Second Person");
    let third = person("Third Person");
    let fixture = Fixture::with_applications(|provider, _| {
        vec![
            (application(&first, provider, june(1, 9)), first.clone()),
            (application(&second, provider, june(1, 10)), second.clone()),
            (application(&third, provider, june(1, 11)), third.clone()),
        ]
    });
    let query =
        format!("filter[participant_id]={},{}", first.participant_id, third.participant_id.to_string().to_uppercase());
    let data = list_data(fixture.get(&format!("/api/v3/npq-applications?{query}")).await).await;
    let participants: Vec<&Value> = data.iter().map(|item| &item["attributes"]["participant_id"]).collect();
    assert_eq!(
        participants,
        [&Value::from(first.participant_id.to_string()), &Value::from(third.participant_id.to_string())]
    );

    let unknown =
        fixture.get("/api/v3/npq-applications?filter[participant_id]=7e5bcdbf-c818-4961-8da5-439cab1984e0").await;
    unknown.assert_status_is_ok();
    assert!(list_data(unknown).await.is_empty());
}

#[tokio::test]
async fn invalid_participant_id_filters_are_bad_requests() {
    let fixture = Fixture::new();
    let valid = "7e5bcdbf-c818-4961-8da5-439cab1984e0";
    for query in [
        "filter[participant_id]=not-a-uuid".to_owned(),
        format!("filter[participant_id]={valid},,"),
        format!("filter[participant_id][{valid}]="),
        "filter[participant_id][]=x".to_owned(),
    ] {
        assert_bad_request(&fixture, &format!("/api/v3/npq-applications?{query}"), "#/participant_id").await;
    }
}

#[tokio::test]
async fn cohort_filter_takes_years_and_identifiers() {
    let fixture = Fixture::with_applications(|provider, _| {
        ["2023", "2024", "2025", "2026a", "2026b"]
            .iter()
            .enumerate()
            .map(|(index, cohort)| {
                let someone = person(&format!("Person {index}"));
                let mut record =
                    application(&someone, provider, june(1, 9) + Duration::hours(i64::try_from(index).unwrap()));
                record.cohort = cohort.parse().unwrap();
                (record, someone)
            })
            .collect()
    });
    let cohorts_of = |data: Vec<Value>| -> Vec<String> {
        data.iter()
            .map(|item| {
                format!(
                    "{}{}",
                    item["attributes"]["cohort"].as_str().unwrap(),
                    item["attributes"]["cohort_suffix"].as_str().unwrap()
                )
            })
            .collect()
    };

    let years = list_data(fixture.get("/api/v3/npq-applications?filter[cohort]=2023,2024").await).await;
    assert_eq!(cohorts_of(years), ["2023a", "2024a"]);
    let every_suffix = list_data(fixture.get("/api/v3/npq-applications?filter[cohort]=2026").await).await;
    assert_eq!(cohorts_of(every_suffix), ["2026a", "2026b"]);
    let one_cohort = list_data(fixture.get("/api/v3/npq-applications?filter[cohort]=2026b").await).await;
    assert_eq!(cohorts_of(one_cohort), ["2026b"]);
    let unknown_year = fixture.get("/api/v3/npq-applications?filter[cohort]=2028").await;
    unknown_year.assert_status_is_ok();
    assert!(list_data(unknown_year).await.is_empty());
}

#[tokio::test]
async fn invalid_cohort_filters_are_bad_requests() {
    let fixture = Fixture::new();
    for query in ["filter[cohort]=twenty", "filter[cohort]=2024,abc", "filter[cohort][x]=2024"] {
        assert_bad_request(&fixture, &format!("/api/v3/npq-applications?{query}"), "#/cohort").await;
    }
}

#[tokio::test]
async fn sort_orders_by_the_requested_keys() {
    // Created at 09:00, 10:00 and 11:00; updated at 12:00, 14:00 and 13:00.
    let mut rows = hourly_applications(npq_domain::ids::LeadProviderId::new_random(), 3);
    for ((application, _), hour) in rows.iter_mut().zip([12, 14, 13]) {
        application.updated_at = june(1, hour);
    }
    let fixture = Fixture::with_applications(|provider, _| {
        rows.iter()
            .cloned()
            .map(|(mut application, someone)| {
                application.lead_provider_id = provider;
                (application, someone)
            })
            .collect()
    });
    let all = ids_of(&rows);
    let in_order = |indexes: [usize; 3]| indexes.map(|index| all[index].clone()).to_vec();

    let cases = [
        ("", in_order([0, 1, 2])),
        ("?sort=created_at", in_order([0, 1, 2])),
        ("?sort=-created_at", in_order([2, 1, 0])),
        ("?sort=updated_at", in_order([0, 2, 1])),
        ("?sort=-updated_at", in_order([1, 2, 0])),
        ("?sort=%2Bupdated_at", in_order([0, 2, 1])),
        ("?sort=+updated_at", in_order([0, 2, 1])),
        ("?sort=name", in_order([0, 1, 2])),
        ("?sort=unknown,-created_at", in_order([2, 1, 0])),
    ];
    for (query, expected) in cases {
        let ids = listed_ids(fixture.get(&format!("/api/v3/npq-applications{query}")).await).await;
        assert_eq!(ids, expected, "sort {query:?}");
    }
}
