//! Lead provider decisions on applications: accept, reject and change the funded place. Every
//! refusal the rules define is sent over HTTP and checked by status and error title.

use std::fmt::Display;

use npq_domain::application::{Application, ApplicationStatus, ReasonForRejection, TrainingStatus};
use npq_domain::course::Course;
use npq_domain::ids::ApplicationId;
use npq_domain::schedule::ScheduleIdentifier;
use npq_domain::training::DeclarationSummary;
use poem::http::{Method, StatusCode};
use proptest::strategy::Strategy;
use serde_json::{Value, json};

use crate::common::{
    ADMIN_TOKEN, Fixture, OTHER_TOKEN, REGISTRATION_TOKEN, TOKEN, accepted, application_in, error_titles, json_body,
    now, only_error_detail, person, person_with_trn,
};

fn show_path(id: impl Display) -> String {
    format!("/api/v3/npq-applications/{id}")
}

fn accept_path(id: impl Display) -> String {
    format!("/api/v3/npq-applications/{id}/accept")
}

fn reject_path(id: impl Display) -> String {
    format!("/api/v3/npq-applications/{id}/reject")
}

fn funded_place_path(id: impl Display) -> String {
    format!("/api/v3/npq-applications/{id}/change-funded-place")
}

fn accept_body(attributes: Value) -> String {
    json!({"data": {"type": "npq-application-accept", "attributes": attributes}}).to_string()
}

fn funded_place_body(funded_place: Value) -> String {
    json!({"data": {"type": "npq-application-change-funded-place", "attributes": {"funded_place": funded_place}}})
        .to_string()
}

/// A fixture whose provider has one application of Sam's for `course` in `cohort`, changed by
/// `build` from a pending one.
fn with_one(cohort: &str, course: Course, build: impl FnOnce(Application) -> Application) -> (Fixture, ApplicationId) {
    let fixture = Fixture::with_applications(|provider, _| {
        let sam = person("Sam Example");
        vec![(build(application_in(&sam, provider, cohort, course)), sam)]
    });
    let id = fixture.id(0);
    (fixture, id)
}

async fn accept(fixture: &Fixture, id: ApplicationId, body: Option<&str>) -> poem::test::TestResponse {
    fixture.send(Method::POST, &accept_path(id), TOKEN, body).await
}

async fn change_funded_place(fixture: &Fixture, id: ApplicationId, body: Option<&str>) -> poem::test::TestResponse {
    fixture.send(Method::PUT, &funded_place_path(id), TOKEN, body).await
}

fn billable() -> DeclarationSummary {
    DeclarationSummary { not_voided: 1, billable: 1, started: 1 }
}

// Accepting: success.

#[tokio::test]
async fn accepting_sets_status_schedule_and_funded_place() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    let response = accept(&fixture, id, Some(&accept_body(json!({"funded_place": true})))).await;
    response.assert_status_is_ok();
    let body = json_body(response).await;
    let attributes = &body["data"]["attributes"];

    assert_eq!(attributes["status"], "accepted");
    assert_eq!(attributes["schedule_identifier"], "npq-leadership-autumn");
    assert_eq!(attributes["funded_place"], true);
    assert_eq!(attributes["updated_at"], "2026-01-05T10:00:00Z");
    assert!(attributes.get("training_status").is_none(), "training status is not an application attribute");

    let stored = fixture.stored(id);
    assert_eq!(stored.training_status, Some(TrainingStatus::Active));
    assert_eq!(stored.accepted_at, Some(now()));
    assert_eq!(body, json_body(fixture.get(&show_path(id)).await).await, "the response is the refreshed resource");
}

#[tokio::test]
async fn accepting_with_a_named_schedule_uses_it() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    let body = accept_body(json!({"funded_place": false, "schedule_identifier": "npq-leadership-spring"}));
    let response = accept(&fixture, id, Some(&body)).await;
    response.assert_status_is_ok();
    assert_eq!(json_body(response).await["data"]["attributes"]["schedule_identifier"], "npq-leadership-spring");
    assert_eq!(fixture.stored(id).schedule, Some(ScheduleIdentifier::LeadershipSpring));
}

#[tokio::test]
async fn funded_place_follows_the_cohort_funding() {
    let cases = [
        ("2023a", Some(json!({"funded_place": true})), Value::Null),
        ("2023a", Some(json!({"funded_place": "yes"})), Value::Null),
        ("2023a", None, Value::Null),
        ("2024a", Some(json!({"funded_place": false})), json!(false)),
        ("2026b", Some(json!({"funded_place": true})), json!(true)),
        ("2026a", Some(json!({"funded_place": false})), json!(false)),
    ];
    for (cohort, attributes, expected) in cases {
        let (fixture, id) = with_one(cohort, Course::Headship, |pending| pending);
        let body = attributes.clone().map(accept_body);
        let response = accept(&fixture, id, body.as_deref()).await;
        let context = format!("{cohort} with {attributes:?}");
        assert_eq!(response.0.status(), StatusCode::OK, "{context}");
        assert_eq!(json_body(response).await["data"]["attributes"]["funded_place"], expected, "{context}");
    }
}

#[tokio::test]
async fn accepting_without_attributes_uses_defaults() {
    for body in [None, Some(""), Some("  "), Some("{}"), Some(r#"{"meta":{"page":1}}"#)] {
        let (fixture, id) = with_one("2023a", Course::Headship, |pending| pending);
        let response = accept(&fixture, id, body).await;
        assert_eq!(response.0.status(), StatusCode::OK, "{body:?}");
        let attributes = json_body(response).await["data"]["attributes"].clone();
        assert_eq!(attributes["status"], "accepted", "{body:?}");
        assert_eq!(attributes["schedule_identifier"], "npq-leadership-spring", "{body:?}");
    }
}

#[tokio::test]
async fn unknown_attributes_next_to_known_ones_are_ignored() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    let body = accept_body(json!({"funded_place": true, "reason": "x", "cohort": "2021"}));
    let response = accept(&fixture, id, Some(&body)).await;
    response.assert_status_is_ok();
    assert_eq!(fixture.stored(id).cohort.to_string(), "2025a");
}

#[tokio::test]
async fn accepting_rejects_the_persons_sibling_with_another_provider() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        vec![
            (application_in(&sam, provider, "2025a", Course::Headship), sam.clone()),
            (application_in(&sam, other, "2025a", Course::Headship), sam.clone()),
            (application_in(&sam, other, "2025a", Course::SeniorLeadership), sam.clone()),
            (application_in(&sam, other, "2024a", Course::Headship), sam),
        ]
    });
    let (id, sibling, other_course, earlier_cohort) = (fixture.id(0), fixture.id(1), fixture.id(2), fixture.id(3));
    accept(&fixture, id, Some(&accept_body(json!({"funded_place": true})))).await.assert_status_is_ok();

    let seen_by_other = fixture.send(Method::GET, &show_path(sibling), OTHER_TOKEN, None).await;
    seen_by_other.assert_status_is_ok();
    let attributes = json_body(seen_by_other).await["data"]["attributes"].clone();
    assert_eq!(attributes["status"], "rejected");
    assert_eq!(attributes["reason_for_rejection"], "other_application_in_this_cohort_accepted");
    assert_eq!(fixture.status_of(other_course), ApplicationStatus::Pending);
    assert_eq!(fixture.status_of(earlier_cohort), ApplicationStatus::Pending);
    assert_eq!(fixture.stored(other_course).updated_at, now(), "the person's other applications show the change");
}

#[tokio::test]
async fn rejected_sibling_stays_rejected() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        let mut rejected = application_in(&sam, other, "2025a", Course::Headship);
        rejected.status = ApplicationStatus::Rejected;
        rejected.reason_for_rejection = Some(ReasonForRejection::RejectedByProvider);
        vec![(application_in(&sam, provider, "2025a", Course::Headship), sam.clone()), (rejected, sam)]
    });
    accept(&fixture, fixture.id(0), Some(&accept_body(json!({"funded_place": true})))).await.assert_status_is_ok();
    let sibling = fixture.stored(fixture.id(1));
    assert_eq!(sibling.status, ApplicationStatus::Rejected);
    assert_eq!(sibling.reason_for_rejection, Some(ReasonForRejection::RejectedByProvider));
}

#[tokio::test]
async fn withdrawn_acceptance_frees_the_place() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        let mut withdrawn = accepted(
            application_in(&sam, other, "2025a", Course::Headship),
            ScheduleIdentifier::LeadershipAutumn,
            Some(false),
        );
        withdrawn.training_status = Some(TrainingStatus::Withdrawn);
        vec![(application_in(&sam, provider, "2025a", Course::Headship), sam.clone()), (withdrawn, sam)]
    });
    accept(&fixture, fixture.id(0), Some(&accept_body(json!({"funded_place": false})))).await.assert_status_is_ok();
    let sibling = fixture.stored(fixture.id(1));
    assert_eq!(sibling.status, ApplicationStatus::Rejected);
    assert_eq!(sibling.reason_for_rejection, Some(ReasonForRejection::OtherApplicationInThisCohortAccepted));
}

#[tokio::test]
async fn acceptance_in_another_cohort_is_allowed() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        let earlier = accepted(
            application_in(&sam, other, "2024a", Course::Headship),
            ScheduleIdentifier::LeadershipAutumn,
            Some(false),
        );
        vec![(earlier, sam.clone()), (application_in(&sam, provider, "2025a", Course::Headship), sam)]
    });
    let response = accept(&fixture, fixture.id(1), Some(&accept_body(json!({"funded_place": false})))).await;
    response.assert_status_is_ok();
    assert_eq!(fixture.status_of(fixture.id(0)), ApplicationStatus::Accepted);
}

// Accepting: refusals.

#[tokio::test]
async fn capped_cohort_needs_a_boolean_funded_place() {
    let values = [json!(null), json!("true"), json!("false"), json!("null"), json!(""), json!(1)];
    for value in values {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
        let response = accept(&fixture, id, Some(&accept_body(json!({"funded_place": value})))).await;
        assert_eq!(
            error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &value.to_string()).await,
            ["funded_place"]
        );
        assert_eq!(fixture.status_of(id), ApplicationStatus::Pending);
    }
    for body in [None, Some(accept_body(json!({"schedule_identifier": "npq-leadership-autumn"})))] {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
        let response = accept(&fixture, id, body.as_deref()).await;
        assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "missing").await, ["funded_place"]);
    }
}

#[tokio::test]
async fn unfunded_cohort_needs_funded_place_false() {
    for body in
        [Some(accept_body(json!({"funded_place": true}))), Some(accept_body(json!({"funded_place": null}))), None]
    {
        let (fixture, id) = with_one("2026a", Course::Headship, |pending| pending);
        let response = accept(&fixture, id, body.as_deref()).await;
        assert_eq!(
            error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &format!("{body:?}")).await,
            ["funded_place"]
        );
    }
}

#[tokio::test]
async fn accepting_an_accepted_application_is_refused() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| {
        accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(true))
    });
    let response = accept(&fixture, id, Some(&accept_body(json!({"funded_place": true})))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "accepted").await, ["application"]);
}

#[tokio::test]
async fn accepting_a_rejected_application_is_refused() {
    let (fixture, id) = with_one("2025a", Course::Headship, |mut pending| {
        pending.status = ApplicationStatus::Rejected;
        pending.reason_for_rejection = Some(ReasonForRejection::RejectedByProvider);
        pending
    });
    let response = accept(&fixture, id, Some(&accept_body(json!({"funded_place": true})))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "rejected").await, ["application"]);
    assert_eq!(fixture.status_of(id), ApplicationStatus::Rejected);
}

#[tokio::test]
async fn second_acceptance_in_a_cohort_is_refused() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        let taken = accepted(
            application_in(&sam, other, "2025a", Course::Headship),
            ScheduleIdentifier::LeadershipAutumn,
            Some(false),
        );
        vec![(taken, sam.clone()), (application_in(&sam, provider, "2025a", Course::Headship), sam)]
    });
    let response = accept(&fixture, fixture.id(1), Some(&accept_body(json!({"funded_place": false})))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "same person").await, ["application"]);
    assert_eq!(fixture.status_of(fixture.id(1)), ApplicationStatus::Pending);
    assert_eq!(fixture.status_of(fixture.id(0)), ApplicationStatus::Accepted);
}

#[tokio::test]
async fn same_trn_acceptance_in_a_cohort_is_refused() {
    let fixture = Fixture::with_applications(|provider, other| {
        let first_account = person_with_trn("Sam Example", "2222222");
        let second_account = person_with_trn("Samuel Example", "2222222");
        let taken = accepted(
            application_in(&first_account, other, "2025a", Course::Headship),
            ScheduleIdentifier::LeadershipAutumn,
            Some(false),
        );
        vec![
            (taken, first_account),
            (application_in(&second_account, provider, "2025a", Course::Headship), second_account),
        ]
    });
    let response = accept(&fixture, fixture.id(1), Some(&accept_body(json!({"funded_place": false})))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "same TRN").await, ["application"]);
}

#[tokio::test]
async fn coaching_offer_counts_as_the_support_offer() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        let taken = accepted(
            application_in(&sam, other, "2025a", Course::AdditionalSupportOffer),
            ScheduleIdentifier::EhcoJune,
            Some(false),
        );
        vec![(taken, sam.clone()), (application_in(&sam, provider, "2025a", Course::EarlyHeadshipCoachingOffer), sam)]
    });
    let response = accept(&fixture, fixture.id(1), Some(&accept_body(json!({"funded_place": false})))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "rebranded course").await, ["application"]);
}

#[tokio::test]
async fn funded_place_for_an_ineligible_applicant_is_refused() {
    let ineligible = |mut pending: Application| {
        pending.eligible_for_funding = false;
        pending
    };
    let (fixture, id) = with_one("2025a", Course::Headship, ineligible);
    let response = accept(&fixture, id, Some(&accept_body(json!({"funded_place": true})))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "ineligible").await, ["application"]);

    let (fixture, id) = with_one("2025a", Course::Headship, ineligible);
    accept(&fixture, id, Some(&accept_body(json!({"funded_place": false})))).await.assert_status_is_ok();
}

#[tokio::test]
async fn unknown_schedule_is_refused() {
    // A blank value is no schedule either; fuzzing found it accepted with the default schedule.
    for schedule in [json!("npq-made-up"), json!(12), json!(true), json!("npq-aso-june"), json!(""), json!("  ")] {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
        let body = accept_body(json!({"funded_place": true, "schedule_identifier": schedule}));
        let response = accept(&fixture, id, Some(&body)).await;
        let titles = error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &schedule.to_string()).await;
        assert_eq!(titles, ["schedule_identifier"]);
        assert_eq!(fixture.stored(id).schedule, None);
    }
}

#[tokio::test]
async fn schedule_of_another_course_group_is_refused() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    let body = accept_body(json!({"funded_place": true, "schedule_identifier": "npq-specialist-autumn"}));
    let response = accept(&fixture, id, Some(&body)).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "group").await, ["schedule_identifier"]);
    assert_eq!(fixture.stored(id).schedule, None);
    assert_eq!(fixture.status_of(id), ApplicationStatus::Pending);
}

#[tokio::test]
async fn missing_default_schedule_is_refused() {
    let (fixture, id) = with_one("2025a", Course::AdditionalSupportOffer, |pending| pending);
    let response = accept(&fixture, id, Some(&accept_body(json!({"funded_place": false})))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "no default").await, ["schedule"]);
}

// Accepting: request bodies.

#[tokio::test]
async fn unusable_acceptance_body_is_bad_request() {
    let bodies = [
        r#"{"data":{}}"#,
        r#"{"data":{"type":"npq-application-accept"}}"#,
        r#"{"data":{"attributes":{}}}"#,
        r#"{"data":{"attributes":null}}"#,
        r#"{"data":{"attributes":"funded_place"}}"#,
        r#"{"data":{"attributes":{"reason":"x"}}}"#,
        r#"{"data":"accept"}"#,
    ];
    for body in bodies {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
        let response = accept(&fixture, id, Some(body)).await;
        assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, body).await, ["Bad request"]);
        assert_eq!(fixture.status_of(id), ApplicationStatus::Pending);
    }
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    for (method, path) in [(Method::POST, accept_path as fn(ApplicationId) -> String), (Method::PUT, funded_place_path)]
    {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
        let response = fixture.send(method, &path(id), TOKEN, Some(r#"{"data": {"attributes": "#)).await;
        response.assert_status(StatusCode::BAD_REQUEST);
        response.assert_content_type("application/json");
        let detail = only_error_detail(response).await;
        assert!(detail.contains("not valid JSON"), "{detail}");
    }
}

#[tokio::test]
async fn hidden_application_wins_over_bad_body() {
    let fixture = Fixture::with_applications(|_, other| {
        let sam = person("Sam Example");
        vec![(application_in(&sam, other, "2025a", Course::Headship), sam)]
    });
    let id = fixture.id(0);
    for (method, path) in [(Method::POST, accept_path(id)), (Method::PUT, funded_place_path(id))] {
        for body in ["{", r#"{"data":{}}"#] {
            let response = fixture.send(method.clone(), &path, TOKEN, Some(body)).await;
            assert_eq!(response.0.status(), StatusCode::NOT_FOUND, "{method} {path} {body}");
        }
    }
}

// Rejecting.

#[tokio::test]
async fn rejecting_a_pending_application_records_the_reason() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    let response = fixture.send(Method::POST, &reject_path(id), TOKEN, None).await;
    response.assert_status_is_ok();
    let body = json_body(response).await;
    assert_eq!(body["data"]["attributes"]["status"], "rejected");
    assert_eq!(body["data"]["attributes"]["reason_for_rejection"], "rejected_by_provider");
    assert_eq!(body, json_body(fixture.get(&show_path(id)).await).await);
}

#[tokio::test]
async fn rejecting_ignores_the_body() {
    for body in ["{", r#"{"data":{}}"#, r#"{"data":{"attributes":{"reason":"other"}}}"#] {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
        let response = fixture.send(Method::POST, &reject_path(id), TOKEN, Some(body)).await;
        assert_eq!(response.0.status(), StatusCode::OK, "{body}");
        assert_eq!(fixture.stored(id).reason_for_rejection, Some(ReasonForRejection::RejectedByProvider));
    }
}

#[tokio::test]
async fn accepted_application_without_billable_declarations_can_be_rejected() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| {
        accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(true))
    });
    fixture.store.set_declarations(id, DeclarationSummary { not_voided: 0, billable: 0, started: 0 });
    let response = fixture.send(Method::POST, &reject_path(id), TOKEN, None).await;
    response.assert_status_is_ok();
    let attributes = json_body(response).await["data"]["attributes"].clone();
    assert_eq!(attributes["status"], "rejected");
    assert_eq!(attributes["schedule_identifier"], "npq-leadership-autumn", "the schedule is kept");
    assert_eq!(attributes["funded_place"], serde_json::Value::Null, "a rejected application holds no funded place");
    assert_eq!(fixture.stored(id).training_status, None, "a rejected application has no training status");
}

#[tokio::test]
async fn rejecting_with_billable_declarations_is_refused() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| {
        accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(true))
    });
    fixture.store.set_declarations(id, billable());
    let response = fixture.send(Method::POST, &reject_path(id), TOKEN, None).await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_body(response).await;
    assert_eq!(body["errors"][0]["title"], "application");
    let detail = body["errors"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("declarations"), "{detail}");
    assert!(detail.contains("Void"), "{detail}");
    assert_eq!(fixture.status_of(id), ApplicationStatus::Accepted);
}

#[tokio::test]
async fn rejecting_a_rejected_application_is_refused() {
    let (fixture, id) = with_one("2025a", Course::Headship, |mut pending| {
        pending.status = ApplicationStatus::Rejected;
        pending.reason_for_rejection = Some(ReasonForRejection::OtherApplicationInThisCohortAccepted);
        pending
    });
    let response = fixture.send(Method::POST, &reject_path(id), TOKEN, None).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "rejected").await, ["application"]);
    assert_eq!(
        fixture.stored(id).reason_for_rejection,
        Some(ReasonForRejection::OtherApplicationInThisCohortAccepted),
        "the reason is not overwritten"
    );
}

// Changing the funded place.

#[tokio::test]
async fn funded_place_changes_both_ways() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| {
        accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(false))
    });
    for value in [true, false, false] {
        let response = change_funded_place(&fixture, id, Some(&funded_place_body(json!(value)))).await;
        response.assert_status_is_ok();
        let body = json_body(response).await;
        assert_eq!(body["data"]["attributes"]["funded_place"], value);
        assert_eq!(body, json_body(fixture.get(&show_path(id)).await).await);
    }
}

#[tokio::test]
async fn funded_place_change_needs_a_boolean() {
    let bodies = [
        None,
        Some(String::new()),
        Some("{}".to_owned()),
        Some(r#"{"data":null}"#.to_owned()),
        Some(r#"{"data":{"attributes":{"other":1}}}"#.to_owned()),
        Some(funded_place_body(json!(null))),
        Some(funded_place_body(json!("true"))),
        Some(funded_place_body(json!(""))),
        Some(funded_place_body(json!(0))),
    ];
    for body in bodies {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| {
            accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(false))
        });
        let response = change_funded_place(&fixture, id, body.as_deref()).await;
        assert_eq!(
            error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &format!("{body:?}")).await,
            ["funded_place"]
        );
    }
}

#[tokio::test]
async fn empty_funded_place_body_is_bad_request() {
    for body in [
        r#"{"data":{}}"#,
        r#"{"data":{"type":"npq-application-change-funded-place"}}"#,
        r#"{"data":{"attributes":{}}}"#,
    ] {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| {
            accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(false))
        });
        let response = change_funded_place(&fixture, id, Some(body)).await;
        assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, body).await, ["Bad request"]);
    }
}

#[tokio::test]
async fn funded_place_of_a_pending_application_is_refused() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    let response = change_funded_place(&fixture, id, Some(&funded_place_body(json!(true)))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "pending").await, ["application"]);
}

#[tokio::test]
async fn funded_place_for_an_ineligible_participant_is_refused() {
    let (fixture, id) = with_one("2025a", Course::Headship, |mut pending| {
        pending.eligible_for_funding = false;
        accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(false))
    });
    let response = change_funded_place(&fixture, id, Some(&funded_place_body(json!(true)))).await;
    assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, "ineligible").await, ["application"]);
    assert_eq!(fixture.stored(id).funded_place, Some(false));
}

#[tokio::test]
async fn funded_place_in_an_uncapped_cohort_is_refused() {
    for (cohort, current) in [("2023a", None), ("2026a", Some(false))] {
        for value in [true, false] {
            let (fixture, id) = with_one(cohort, Course::Headship, |pending| {
                accepted(pending, ScheduleIdentifier::LeadershipSpring, current)
            });
            let response = change_funded_place(&fixture, id, Some(&funded_place_body(json!(value)))).await;
            let context = format!("{cohort} to {value}");
            assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &context).await, ["application"]);
        }
    }
}

#[tokio::test]
async fn funded_place_with_billable_declarations_is_refused() {
    for (current, value) in [(false, true), (true, false)] {
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| {
            accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(current))
        });
        fixture.store.set_declarations(id, billable());
        let response = change_funded_place(&fixture, id, Some(&funded_place_body(json!(value)))).await;
        let context = format!("{current} to {value}");
        assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &context).await, ["application"]);
        assert_eq!(fixture.stored(id).funded_place, Some(current));
    }
}

// Visibility and authentication.

#[tokio::test]
async fn actions_on_hidden_applications_are_not_found() {
    let fixture = Fixture::with_applications(|_, other| {
        let sam = person("Sam Example");
        vec![(application_in(&sam, other, "2025a", Course::Headship), sam)]
    });
    let others = fixture.id(0).to_string();
    let ids = [others.as_str(), "7e5bcdbf-c818-4961-8da5-439cab1984e0", "123XXX", "7E5BCDBF"];
    for id in ids {
        let requests = [
            (Method::POST, accept_path(id), Some(accept_body(json!({"funded_place": true})))),
            (Method::POST, reject_path(id), None),
            (Method::PUT, funded_place_path(id), Some(funded_place_body(json!(true)))),
        ];
        for (method, path, body) in requests {
            let response = fixture.send(method.clone(), &path, TOKEN, body.as_deref()).await;
            let context = format!("{method} {path}");
            response.assert_status(StatusCode::NOT_FOUND);
            assert_eq!(json_body(response).await, json!({"error": "Not found"}), "{context}");
        }
    }
    assert_eq!(fixture.status_of(fixture.id(0)), ApplicationStatus::Pending);
}

#[tokio::test]
async fn actions_need_a_lead_provider_token() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    let requests =
        [(Method::POST, accept_path(id)), (Method::POST, reject_path(id)), (Method::PUT, funded_place_path(id))];
    for (method, path) in requests {
        let context = format!("{method} {path}");
        let anonymous = fixture.client.request(method.clone(), &path).send().await;
        assert_eq!(anonymous.0.status(), StatusCode::UNAUTHORIZED, "{context} without a token");
        for token in [ADMIN_TOKEN, REGISTRATION_TOKEN] {
            let response = fixture.send(method.clone(), &path, token, None).await;
            assert_eq!(response.0.status(), StatusCode::UNAUTHORIZED, "{context} with {token}");
        }
    }
    assert_eq!(fixture.status_of(id), ApplicationStatus::Pending);
}

#[tokio::test]
async fn admin_token_cannot_read_the_v3_api() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    for path in ["/api/v3/npq-applications".to_owned(), show_path(id)] {
        let response = fixture.send(Method::GET, &path, ADMIN_TOKEN, None).await;
        response.assert_status(StatusCode::UNAUTHORIZED);
        assert!(json_body(response).await["error"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn oversized_body_is_payload_too_large() {
    let (fixture, id) = with_one("2025a", Course::Headship, |pending| pending);
    let padding = "x".repeat(npq_api::body::MAX_BODY_BYTES);
    let body = accept_body(json!({"funded_place": true, "padding": padding}));
    let response = accept(&fixture, id, Some(&body)).await;
    response.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    response.assert_content_type("application/json");
    let message = json_body(response).await["error"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("larger than"), "{message}");
    assert_eq!(fixture.status_of(id), ApplicationStatus::Pending);

    // The size is checked before the application is looked up.
    let unknown = fixture.send(Method::POST, &accept_path(ApplicationId::new_random()), TOKEN, Some(&body)).await;
    unknown.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
}

/// Bodies built from the pieces of the documented envelopes, joined in any order, so that most
/// are malformed or half-formed JSON.
fn body_text() -> impl Strategy<Value = String> {
    let pieces = proptest::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"data\"",
        "\"attributes\"",
        "\"funded_place\"",
        "\"schedule_identifier\"",
        "\"course_identifier\"",
        "\"reason\"",
        "\"cohort\"",
        "\"note\"",
        "\"applicant\"",
        "\"work_setting\"",
        "\"school_urn\"",
        "true",
        "null",
        "1e999",
        "\"npq-leadership-autumn\"",
        "\"npq-headship\"",
        "\"2025\"",
        "\"\\u0000\"",
        " ",
    ]);
    proptest::collection::vec(pieces, 0..12).prop_map(|pieces| pieces.concat())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    #[test]
    fn random_bodies_never_fail_server(body in body_text()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (fixture, id) = with_one("2025a", Course::Headship, |pending| {
            accepted(pending, ScheduleIdentifier::LeadershipAutumn, Some(true))
        });
        let participant = fixture.stored(id).participant_id;
        let requests = [
            (Method::POST, accept_path(id), TOKEN),
            (Method::PUT, funded_place_path(id), TOKEN),
            (Method::PUT, format!("/api/v3/participants/npq/{participant}/defer"), TOKEN),
            (Method::PUT, format!("/api/v3/participants/npq/{participant}/change-schedule"), TOKEN),
            (Method::POST, format!("/api/admin/v1/applications/{id}/revert-to-pending"), ADMIN_TOKEN),
            (Method::POST, "/api/admin/v1/applications/expire".to_owned(), ADMIN_TOKEN),
            (Method::POST, format!("/api/admin/v1/participants/{participant}/merge"), ADMIN_TOKEN),
            (Method::POST, "/api/registration/v1/eligibility".to_owned(), REGISTRATION_TOKEN),
            (Method::POST, "/api/registration/v1/applications".to_owned(), REGISTRATION_TOKEN),
        ];
        for (method, path, token) in requests {
            let status = runtime.block_on(async { fixture.send(method.clone(), &path, token, Some(&body)).await.0.status() });
            proptest::prop_assert!(!status.is_server_error(), "{} {} with {:?} answered {}", method, path, body, status);
        }
    }
}
