//! The registration API: the anonymous eligibility check, registering, and the choices.

use serde_json::{Value, json};

use crate::common::{Fixture, REGISTRATION_TOKEN, TOKEN, json_body};

fn headship(extra: Value) -> Value {
    let mut attributes = json!({
        "cohort": "2025a",
        "course_identifier": "npq-headship",
        "teacher_catchment": "england",
        "work_setting": "a_school",
        "school_urn": "100001",
    });
    attributes.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    attributes
}

fn envelope(attributes: Value) -> String {
    json!({"data": {"type": "npq-registration", "attributes": attributes}}).to_string()
}

async fn check(fixture: &Fixture, attributes: Value) -> (u16, Value) {
    let response = fixture
        .client
        .post("/api/registration/v1/eligibility")
        .content_type("application/json")
        .body(envelope(attributes))
        .send()
        .await;
    let status = response.0.status().as_u16();
    (status, json_body(response).await)
}

async fn register(fixture: &Fixture, attributes: Value, key: Option<&str>) -> (u16, Value) {
    let mut request = fixture
        .client
        .post("/api/registration/v1/applications")
        .header("Authorization", format!("Bearer {REGISTRATION_TOKEN}"))
        .content_type("application/json")
        .body(envelope(attributes));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await;
    let status = response.0.status().as_u16();
    (status, json_body(response).await)
}

fn titles(body: &Value) -> Vec<String> {
    body["errors"].as_array().unwrap().iter().map(|error| error["title"].as_str().unwrap().to_owned()).collect()
}

fn with_applicant(fixture: &Fixture, extra: Value) -> Value {
    let mut attributes = headship(extra);
    attributes["applicant"] = json!({"full_name": "Robin Applicant", "email": "robin@example.com", "trn": "1234567"});
    attributes["lead_provider_id"] = json!(fixture.provider.to_string());
    attributes
}

#[tokio::test]
async fn a_state_school_headteacher_is_told_they_are_funded() {
    let fixture = Fixture::new();
    let (status, body) = check(&fixture, headship(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["eligible_for_funding"], true);
    assert_eq!(body["data"]["attributes"]["funding_eligibility_status_code"], "funded");
    assert!(body["data"]["attributes"]["explanation"].as_str().unwrap().contains("DfE funds"));
}

#[tokio::test]
async fn an_overseas_applicant_is_told_why_they_are_not_funded() {
    let fixture = Fixture::new();
    let attributes = headship(json!({"teacher_catchment": "another", "teacher_catchment_country": "Spain"}));
    let (status, body) = check(&fixture, attributes).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["funding_eligibility_status_code"], "not_in_england");
    assert_eq!(body["data"]["attributes"]["eligible_for_funding"], false);
}

#[tokio::test]
async fn a_previously_funded_applicant_is_not_funded_again() {
    let fixture = Fixture::new();
    let (_, body) = check(&fixture, headship(json!({"previously_funded": true}))).await;
    assert_eq!(body["data"]["attributes"]["funding_eligibility_status_code"], "previously_funded");
}

#[tokio::test]
async fn a_self_funded_registration_is_recorded_as_such() {
    let fixture = Fixture::new();
    let attributes = with_applicant(&fixture, json!({"school_urn": "140001", "funding_choice": "self"}));
    let (status, body) = register(&fixture, attributes, None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["attributes"]["funding_choice"], "self");
    assert_eq!(body["data"]["attributes"]["eligible_for_funding"], false);
    assert_eq!(body["data"]["attributes"]["funded_place"], Value::Null);
}

#[tokio::test]
async fn a_registration_is_listed_by_its_provider_and_a_repeated_key_creates_nothing() {
    let fixture = Fixture::new();
    let (status, first) = register(&fixture, with_applicant(&fixture, json!({})), Some("form-1")).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["data"]["attributes"]["status"], "pending");
    let (status, again) = register(&fixture, with_applicant(&fixture, json!({})), Some("form-1")).await;
    assert_eq!(status, 200);
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    let listed = json_body(fixture.get("/api/v3/npq-applications").await).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], first["data"]["id"]);
}

#[tokio::test]
async fn bad_answers_get_a_422_naming_each_field() {
    let fixture = Fixture::new();
    let mut attributes = with_applicant(
        &fixture,
        json!({"cohort": "1999", "work_setting": "a_spaceship", "senco_in_role": 3, "school_urn": "12"}),
    );
    attributes["applicant"]["email"] = json!("nobody");
    let (status, body) = register(&fixture, attributes, None).await;
    assert_eq!(status, 422, "{body}");
    let first_titles = titles(&body);
    assert!(first_titles.contains(&"senco_in_role".to_owned()), "{first_titles:?}");
    let (status, body) =
        register(&fixture, with_applicant(&fixture, json!({"senco_in_role": null, "cohort": "1999"})), None).await;
    assert_eq!(status, 422);
    assert_eq!(titles(&body), ["cohort"]);
    let mut bad_person = with_applicant(&fixture, json!({"work_setting": "a_spaceship", "school_urn": "12"}));
    bad_person["applicant"]["email"] = json!("nobody");
    let (status, body) = register(&fixture, bad_person, None).await;
    assert_eq!(status, 422);
    assert_eq!(titles(&body), ["email", "work_setting", "school_urn"]);
}

#[tokio::test]
async fn registering_needs_a_registration_token() {
    let fixture = Fixture::new();
    for token in [TOKEN, "unknown"] {
        let response = fixture
            .client
            .post("/api/registration/v1/applications")
            .header("Authorization", format!("Bearer {token}"))
            .content_type("application/json")
            .body(envelope(with_applicant(&fixture, json!({}))))
            .send()
            .await;
        assert_eq!(response.0.status().as_u16(), 401);
    }
}

#[tokio::test]
async fn a_malformed_body_or_key_is_a_bad_request() {
    let fixture = Fixture::new();
    let response = fixture.client.post("/api/registration/v1/eligibility").body("{\"data\":").send().await;
    assert_eq!(response.0.status().as_u16(), 400);
    let (status, _) = register(&fixture, with_applicant(&fixture, json!({})), Some("has space")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_choices_list_courses_cohorts_and_providers() {
    let fixture = Fixture::new();
    let courses = json_body(fixture.client.get("/api/registration/v1/courses").send().await).await;
    let ids: Vec<&str> =
        courses["data"].as_array().unwrap().iter().map(|course| course["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"npq-headship"));
    assert!(!ids.contains(&"npq-additional-support-offer"), "the support offer is closed");
    let cohorts = json_body(fixture.client.get("/api/registration/v1/cohorts").send().await).await;
    assert!(cohorts["data"].as_array().unwrap().iter().all(|cohort| cohort["id"] != "2026b"), "2026b opens in April");
    let response = fixture.client.get("/api/registration/v1/lead-providers?cohort=2025a").send().await;
    let providers = json_body(response).await;
    assert_eq!(providers["data"].as_array().unwrap().len(), 2);
    let response = fixture.client.get("/api/registration/v1/lead-providers?cohort=2031").send().await;
    assert_eq!(response.0.status().as_u16(), 422);
}

#[tokio::test]
async fn a_self_funding_teacher_at_an_independent_school_is_told_why_dfe_does_not_pay() {
    let fixture = Fixture::new();
    let (status, body) = check(&fixture, headship(json!({"school_urn": "140001", "funding_choice": "self"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["eligible_for_funding"], false);
    assert_eq!(body["data"]["attributes"]["funding_eligibility_status_code"], "ineligible_establishment_type");
    assert!(!body["data"]["attributes"]["explanation"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn control_characters_in_free_text_are_refused() {
    let fixture = Fixture::new();
    let attributes = headship(json!({
        "work_setting": "another_setting",
        "employment_type": "lead_mentor_for_accredited_itt_provider",
        "itt_provider": "North\u{0}ern",
    }));
    let (status, body) = check(&fixture, attributes).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(titles(&body), ["itt_provider"]);
    let mut registration = with_applicant(&fixture, json!({}));
    registration["applicant"]["full_name"] = json!("Robin\u{0}");
    let (status, body) = register(&fixture, registration, None).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(titles(&body), ["full_name"]);
}

#[tokio::test]
async fn reusing_an_idempotency_key_for_another_registration_is_refused() {
    let fixture = Fixture::new();
    let (status, _) = register(&fixture, with_applicant(&fixture, json!({})), Some("form-9")).await;
    assert_eq!(status, 201);
    let mut other = with_applicant(&fixture, json!({}));
    other["lead_provider_id"] = json!(fixture.other_provider.to_string());
    let (status, body) = register(&fixture, other, Some("form-9")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(titles(&body), ["Idempotency-Key"]);
}
