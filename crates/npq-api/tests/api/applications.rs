//! The application resource: envelopes, attributes and their JSON types.

use chrono::NaiveDate;
use npq_domain::application::{
    ApplicationStatus, FundingChoice, HeadteacherStatus, ReasonForRejection, SencoInRole, TeacherCatchment,
};
use npq_domain::ids::LeadProviderId;
use npq_domain::schedule::ScheduleIdentifier;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::common::{Fixture, application, json_body, june, list_data, person};

/// Every attribute, in the order the reference service sends them.
const ATTRIBUTE_ORDER: [&str; 33] = [
    "course_identifier",
    "email",
    "email_validated",
    "employer_name",
    "employment_role",
    "full_name",
    "funding_choice",
    "headteacher_status",
    "ineligible_for_funding_reason",
    "participant_id",
    "private_childcare_provider_urn",
    "teacher_reference_number",
    "teacher_reference_number_validated",
    "school_urn",
    "school_ukprn",
    "status",
    "reason_for_rejection",
    "works_in_school",
    "cohort",
    "cohort_suffix",
    "eligible_for_funding",
    "targeted_delivery_funding_eligibility",
    "teacher_catchment",
    "teacher_catchment_country",
    "teacher_catchment_iso_country_code",
    "itt_provider",
    "lead_mentor",
    "funded_place",
    "created_at",
    "updated_at",
    "schedule_identifier",
    "works_as_senco",
    "senco_start_date",
];

fn attribute_names(resource: &Value) -> Vec<String> {
    resource["attributes"].as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn list_returns_only_the_callers_applications() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        let alex = person("Alex Example");
        vec![
            (application(&sam, provider, june(1, 9)), sam.clone()),
            (application(&alex, other, june(2, 9)), alex.clone()),
            (application(&alex, provider, june(3, 9)), alex),
        ]
    });
    let response = fixture.get("/api/v3/npq-applications").await;
    response.assert_status_is_ok();
    let data = list_data(response).await;
    assert_eq!(data.len(), 2);
    for resource in &data {
        assert_eq!(resource["type"], "npq_application");
    }
}

#[tokio::test]
async fn list_without_applications_is_empty() {
    let fixture = Fixture::new();
    let response = fixture.get("/api/v3/npq-applications").await;
    response.assert_status_is_ok();
    assert_eq!(json_body(response).await, json!({"data": []}));
}

#[tokio::test]
async fn show_envelope_keys_in_order() {
    let sam = person("Sam Example");
    let record = application(&sam, LeadProviderId::new_random(), june(1, 9));
    let id = record.id;
    let fixture = Fixture::with_applications(|provider, _| {
        let mut record = record;
        record.lead_provider_id = provider;
        vec![(record, sam)]
    });
    let response = fixture.get(&format!("/api/v3/npq-applications/{id}")).await;
    response.assert_status_is_ok();
    let body = json_body(response).await;

    let envelope_keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(envelope_keys, ["data"]);
    let resource_keys: Vec<&String> = body["data"].as_object().unwrap().keys().collect();
    assert_eq!(resource_keys, ["id", "type", "attributes"]);
    assert_eq!(body["data"]["id"], id.to_string());
    assert_eq!(body["data"]["type"], "npq_application");
    assert_eq!(attribute_names(&body["data"]), ATTRIBUTE_ORDER);
}

#[tokio::test]
async fn list_items_have_the_same_attribute_order() {
    let fixture = Fixture::with_applications(|provider, _| {
        let sam = person("Sam Example");
        vec![(application(&sam, provider, june(1, 9)), sam)]
    });
    let data = list_data(fixture.get("/api/v3/npq-applications").await).await;
    assert_eq!(attribute_names(&data[0]), ATTRIBUTE_ORDER);
}

#[tokio::test]
async fn filled_application_sends_every_attribute() {
    let mut sam = person("Sam Example");
    sam.email = Some("sam@example.com".to_owned());
    let fixture = Fixture::with_applications(|provider, _| {
        let mut record = application(&sam, provider, june(1, 9));
        record.cohort = "2026b".parse().unwrap();
        record.status = ApplicationStatus::Rejected;
        record.reason_for_rejection = Some(ReasonForRejection::RejectedByProvider);
        record.schedule = Some(ScheduleIdentifier::LeadershipAutumn);
        record.funding_choice = Some(FundingChoice::SelfFunded);
        record.headteacher_status = Some(HeadteacherStatus::YesInFirstTwoYears);
        record.employer_name = Some("Example Trust".to_owned());
        record.employment_role = Some("Director".to_owned());
        record.private_childcare_provider_urn = Some("EY123456".parse().unwrap());
        record.itt_provider = Some("University of Example".to_owned());
        record.lead_mentor = true;
        record.funded_place = Some(true);
        record.targeted_delivery_funding_eligibility = true;
        record.senco_in_role = Some(SencoInRole::NoIDoNotPlanToBeASenco);
        record.senco_start_date = Some(NaiveDate::from_ymd_opt(2024, 9, 1).unwrap());
        record.updated_at = june(4, 15);
        vec![(record, sam.clone())]
    });
    let data = list_data(fixture.get("/api/v3/npq-applications").await).await;
    let attributes = &data[0]["attributes"];

    assert_eq!(attributes["course_identifier"], "npq-headship");
    assert_eq!(attributes["email"], "sam@example.com");
    assert_eq!(attributes["email_validated"], true);
    assert_eq!(attributes["employer_name"], "Example Trust");
    assert_eq!(attributes["employment_role"], "Director");
    assert_eq!(attributes["full_name"], "Sam Example");
    assert_eq!(attributes["funding_choice"], "self");
    assert_eq!(attributes["headteacher_status"], "yes_in_first_two_years");
    assert_eq!(attributes["ineligible_for_funding_reason"], Value::Null);
    assert_eq!(attributes["participant_id"], sam.participant_id.to_string());
    assert_eq!(attributes["private_childcare_provider_urn"], "EY123456");
    assert_eq!(attributes["teacher_reference_number"], "1234567");
    assert_eq!(attributes["teacher_reference_number_validated"], true);
    assert_eq!(attributes["school_urn"], "100001");
    assert_eq!(attributes["school_ukprn"], "10012345");
    assert_eq!(attributes["status"], "rejected");
    assert_eq!(attributes["reason_for_rejection"], "rejected_by_provider");
    assert_eq!(attributes["works_in_school"], true);
    assert_eq!(attributes["cohort"], "2026");
    assert_eq!(attributes["cohort_suffix"], "b");
    assert_eq!(attributes["eligible_for_funding"], true);
    assert_eq!(attributes["targeted_delivery_funding_eligibility"], true);
    assert_eq!(attributes["teacher_catchment"], true);
    assert_eq!(attributes["teacher_catchment_country"], "United Kingdom of Great Britain and Northern Ireland");
    assert_eq!(attributes["teacher_catchment_iso_country_code"], "GBR");
    assert_eq!(attributes["itt_provider"], "University of Example");
    assert_eq!(attributes["lead_mentor"], true);
    assert_eq!(attributes["funded_place"], true);
    assert_eq!(attributes["created_at"], "2025-06-01T09:00:00Z");
    assert_eq!(attributes["updated_at"], "2025-06-04T15:00:00Z");
    assert_eq!(attributes["schedule_identifier"], "npq-leadership-autumn");
    assert_eq!(attributes["works_as_senco"], "no_i_do_not_plan_to_be_a_SENCO");
    assert_eq!(attributes["senco_start_date"], "2024-09-01");
}

#[tokio::test]
async fn absent_values_are_null() {
    let mut sam = person("Sam Example");
    sam.email = None;
    sam.trn_verified = false;
    let fixture = Fixture::with_applications(|provider, _| {
        let mut record = application(&sam, provider, june(1, 9));
        record.school_urn = None;
        record.ukprn = None;
        record.works_in_school = None;
        record.teacher_catchment = None;
        record.teacher_catchment_country = None;
        record.teacher_catchment_iso_country_code = None;
        vec![(record, sam.clone())]
    });
    let data = list_data(fixture.get("/api/v3/npq-applications").await).await;
    let attributes = &data[0]["attributes"];

    for name in [
        "email",
        "employer_name",
        "employment_role",
        "funding_choice",
        "headteacher_status",
        "private_childcare_provider_urn",
        "teacher_reference_number",
        "school_urn",
        "school_ukprn",
        "reason_for_rejection",
        "works_in_school",
        "teacher_catchment_country",
        "teacher_catchment_iso_country_code",
        "itt_provider",
        "funded_place",
        "schedule_identifier",
        "works_as_senco",
        "senco_start_date",
    ] {
        assert_eq!(attributes[name], Value::Null, "{name} should be null");
    }
    assert_eq!(attributes["teacher_reference_number_validated"], false, "an unverified TRN is not validated");
    assert_eq!(attributes["teacher_catchment"], false, "no catchment answer reads as false");
    assert_eq!(attributes.as_object().unwrap().len(), 33);
}

#[tokio::test]
async fn catchment_outside_british_isles_is_false() {
    let sam = person("Sam Example");
    let fixture = Fixture::with_applications(|provider, _| {
        let mut record = application(&sam, provider, june(1, 9));
        record.teacher_catchment = Some(TeacherCatchment::Another);
        record.teacher_catchment_country = Some("France".to_owned());
        record.teacher_catchment_iso_country_code = Some("FRA".parse().unwrap());
        vec![(record, sam.clone())]
    });
    let data = list_data(fixture.get("/api/v3/npq-applications").await).await;
    assert_eq!(data[0]["attributes"]["teacher_catchment"], false);
    assert_eq!(data[0]["attributes"]["teacher_catchment_iso_country_code"], "FRA");
}

#[tokio::test]
async fn eligibility_comes_from_funding_history() {
    let sam = person("Sam Example");
    let fixture = Fixture::with_applications(|provider, other| {
        let mut funded = application(&sam, other, june(1, 9));
        funded.status = ApplicationStatus::Accepted;
        let again = application(&sam, provider, june(2, 9));
        vec![(funded, sam.clone()), (again, sam.clone())]
    });
    let data = list_data(fixture.get("/api/v3/npq-applications").await).await;
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["attributes"]["eligible_for_funding"], false, "the stored flag says true");
    assert_eq!(data[0]["attributes"]["ineligible_for_funding_reason"], "previously-funded");
}

#[tokio::test]
async fn timestamps_drop_fractions_of_a_second() {
    let sam = person("Sam Example");
    let fixture = Fixture::with_applications(|provider, _| {
        let created_at = june(1, 9) + chrono::Duration::microseconds(123_456);
        vec![(application(&sam, provider, created_at), sam.clone())]
    });
    let data = list_data(fixture.get("/api/v3/npq-applications").await).await;
    for name in ["created_at", "updated_at"] {
        let text = data[0]["attributes"][name].as_str().unwrap();
        assert_eq!(text, "2025-06-01T09:00:00Z", "{name}");
        assert!(chrono::DateTime::parse_from_rfc3339(text).is_ok(), "{name} is RFC 3339");
    }
}

#[tokio::test]
async fn show_of_another_providers_application_is_not_found() {
    let alex = person("Alex Example");
    let record = application(&alex, LeadProviderId::new_random(), june(1, 9));
    let id = record.id;
    let fixture = Fixture::with_applications(|_, other| {
        let mut record = record;
        record.lead_provider_id = other;
        vec![(record, alex)]
    });
    let response = fixture.get(&format!("/api/v3/npq-applications/{id}")).await;
    response.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(json_body(response).await, json!({"error": "Not found"}));
}

#[tokio::test]
async fn show_accepts_an_upper_case_id() {
    let sam = person("Sam Example");
    let record = application(&sam, LeadProviderId::new_random(), june(1, 9));
    let id = record.id;
    let fixture = Fixture::with_applications(|provider, _| {
        let mut record = record;
        record.lead_provider_id = provider;
        vec![(record, sam)]
    });
    let response = fixture.get(&format!("/api/v3/npq-applications/{}", id.to_string().to_uppercase())).await;
    response.assert_status_is_ok();
    assert_eq!(json_body(response).await["data"]["id"], id.to_string());
}

#[tokio::test]
async fn unknown_or_malformed_id_not_found() {
    let fixture = Fixture::new();
    for id in ["7e5bcdbf-c818-4961-8da5-439cab1984e0", "123XXX", "7e5bcdbfc81849618da5439cab1984e0"] {
        let response = fixture.get(&format!("/api/v3/npq-applications/{id}")).await;
        response.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(json_body(response).await, json!({"error": "Not found"}), "{id}");
    }
}
