//! The DfE admin API: authentication, reading any application with its history, each
//! correction with its refusals, and bulk expiry.

use std::fmt::Display;

use npq_domain::application::{Application, ApplicationStatus, ReasonForRejection, TrainingStatus};
use npq_domain::course::Course;
use npq_domain::ids::ApplicationId;
use npq_domain::schedule::ScheduleIdentifier;
use npq_domain::training::DeclarationSummary;
use poem::http::{Method, StatusCode};
use serde_json::{Value, json};

use npq_domain::ids::ParticipantId;
use npq_domain::participant::ParticipantIdChange;
use npq_domain::person::Person;

use crate::common::{
    ADMIN_USER, Fixture, OTHER_TOKEN, REGISTRATION_TOKEN, TOKEN, accepted, application, application_in, error_titles,
    json_body, june, now, only_error_detail, person, person_with_trn,
};

fn admin_path(id: impl Display, action: &str) -> String {
    if action.is_empty() {
        format!("/api/admin/v1/applications/{id}")
    } else {
        format!("/api/admin/v1/applications/{id}/{action}")
    }
}

const EXPIRE: &str = "/api/admin/v1/applications/expire";

fn merge_path(kept: impl Display) -> String {
    format!("/api/admin/v1/participants/{kept}/merge")
}

fn body(attributes: Value) -> String {
    json!({"data": {"attributes": attributes}}).to_string()
}

/// A fixture whose provider has one application of Sam's for headship in `cohort`, changed by
/// `build` from a pending one.
fn with_one(cohort: &str, build: impl FnOnce(Application) -> Application) -> (Fixture, ApplicationId) {
    let fixture = Fixture::with_applications(|provider, _| {
        let sam = person("Sam Example");
        vec![(build(application_in(&sam, provider, cohort, Course::Headship)), sam)]
    });
    let id = fixture.id(0);
    (fixture, id)
}

fn accepted_in(cohort: &str, funded_place: Option<bool>) -> (Fixture, ApplicationId) {
    with_one(cohort, |pending| accepted(pending, ScheduleIdentifier::LeadershipAutumn, funded_place))
}

fn rejected(mut application: Application) -> Application {
    application.status = ApplicationStatus::Rejected;
    application.reason_for_rejection = Some(ReasonForRejection::RejectedByProvider);
    application
}

fn billable() -> DeclarationSummary {
    DeclarationSummary { not_voided: 1, billable: 1, started: 1 }
}

/// Sends an admin change and returns its error titles, asserting a 422.
async fn refused(fixture: &Fixture, method: Method, path: &str, attributes: Value) -> Vec<String> {
    let response = fixture.admin(method, path, Some(&body(attributes.clone()))).await;
    error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &format!("{path} with {attributes}")).await
}

/// Sends an admin change, asserts a 200 and returns the application's attributes.
async fn changed(fixture: &Fixture, method: Method, path: &str, attributes: Value) -> Value {
    let response = fixture.admin(method, path, Some(&body(attributes.clone()))).await;
    let status = response.0.status();
    let json = json_body(response).await;
    assert_eq!(status, StatusCode::OK, "{path} with {attributes}: {json}");
    json["data"]["attributes"].clone()
}

// Authentication and routing.

#[tokio::test]
async fn lead_provider_tokens_are_unauthorised() {
    let (fixture, id) = with_one("2025a", |pending| pending);
    let requests = [
        (Method::GET, admin_path(id, "")),
        (Method::POST, admin_path(id, "revert-to-pending")),
        (Method::PUT, admin_path(id, "change-cohort")),
        (Method::PUT, admin_path(id, "change-funding-eligibility")),
        (Method::PUT, admin_path(id, "change-lead-provider")),
        (Method::PUT, admin_path(id, "change-training-status")),
        (Method::POST, admin_path(id, "reject")),
        (Method::POST, EXPIRE.to_owned()),
        (Method::POST, merge_path(fixture.stored(id).participant_id)),
    ];
    for (method, path) in requests {
        for token in [TOKEN, OTHER_TOKEN, REGISTRATION_TOKEN, "not-a-token"] {
            let response = fixture.send(method.clone(), &path, token, Some(&body(json!({"note": "x"})))).await;
            let context = format!("{method} {path} with {token}");
            response.assert_status(StatusCode::UNAUTHORIZED);
            assert!(json_body(response).await["error"].is_string(), "{context}");
        }
        let anonymous = fixture.client.request(method.clone(), &path).send().await;
        assert_eq!(anonymous.0.status(), StatusCode::UNAUTHORIZED, "{method} {path} without a token");
    }
    assert_eq!(fixture.status_of(id), ApplicationStatus::Pending);
}

#[tokio::test]
async fn unknown_admin_paths_are_json_not_found() {
    let fixture = Fixture::new();
    for path in ["/api/admin/v1/unknown", "/api/admin/v2/applications", "/api/admin/v1/applications"] {
        let response = fixture.admin(Method::GET, path, None).await;
        response.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(response.0.headers().get("cache-control").and_then(|value| value.to_str().ok()), Some("no-store"));
        assert_eq!(json_body(response).await, json!({"error": "Not found"}), "{path}");
    }
}

#[tokio::test]
async fn flat_filter_is_rejected_on_admin_paths() {
    let (fixture, id) = with_one("2025a", |pending| pending);
    let response = fixture.admin(Method::GET, &format!("{}?filter=x", admin_path(id, "")), None).await;
    assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, "filter").await, ["Bad request"]);
}

#[tokio::test]
async fn admin_documentation_needs_no_token() {
    let fixture = Fixture::new();
    let document = fixture.client.get("/api/docs/admin/v1/openapi.json").send().await;
    document.assert_status_is_ok();
    document.assert_content_type("application/json");
    let body = json_body(document).await;
    assert_eq!(body["info"]["title"], "NPQ DfE admin API");
    assert_eq!(body, serde_json::from_str::<Value>(&npq_api::admin_openapi_document_json()).unwrap());
    assert_eq!(body["components"]["securitySchemes"]["adminBearerAuth"]["scheme"], "bearer");
    assert!(body["paths"]["/api/admin/v1/applications/expire"]["post"].is_object());

    let page = fixture.client.get("/api/docs/admin/v1").send().await;
    page.assert_status_is_ok();
    page.assert_content_type("text/html; charset=utf-8");
}

#[tokio::test]
async fn admin_actions_on_unknown_ids_are_not_found() {
    let fixture = Fixture::new();
    for id in ["7e5bcdbf-c818-4961-8da5-439cab1984e0", "123XXX"] {
        let requests = [
            (Method::GET, admin_path(id, ""), None),
            (Method::POST, admin_path(id, "revert-to-pending"), Some(json!({"note": "x"}))),
            (Method::PUT, admin_path(id, "change-cohort"), Some(json!({"cohort": "2024", "note": "x"}))),
            (Method::PUT, admin_path(id, "change-funding-eligibility"), Some(json!({"eligible_for_funding": true}))),
            (Method::PUT, admin_path(id, "change-lead-provider"), Some(json!({"lead_provider_id": id, "note": "x"}))),
            (Method::PUT, admin_path(id, "change-training-status"), Some(json!({"training_status": "active"}))),
            (Method::POST, admin_path(id, "reject"), Some(json!({"reason": "rejected_by_dfe", "note": "x"}))),
        ];
        for (method, path, attributes) in requests {
            for sent in [attributes.clone().map(body), Some("{".to_owned()), Some(r#"{"data":{}}"#.to_owned())] {
                let response = fixture.admin(method.clone(), &path, sent.as_deref()).await;
                response.assert_status(StatusCode::NOT_FOUND);
                assert_eq!(json_body(response).await, json!({"error": "Not found"}), "{method} {path} {sent:?}");
            }
        }
    }
}

#[tokio::test]
async fn admin_bodies_without_attributes_are_bad_requests() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    let actions = [
        (Method::POST, "revert-to-pending"),
        (Method::PUT, "change-cohort"),
        (Method::PUT, "change-funding-eligibility"),
        (Method::PUT, "change-lead-provider"),
        (Method::PUT, "change-training-status"),
        (Method::POST, "reject"),
    ];
    for (method, action) in actions {
        let path = admin_path(id, action);
        for sent in [None, Some("{}"), Some(r#"{"data":{}}"#), Some(r#"{"data":{"attributes":{}}}"#), Some("{")] {
            let response = fixture.admin(method.clone(), &path, sent).await;
            assert_eq!(
                error_titles(response, StatusCode::BAD_REQUEST, &format!("{path} {sent:?}")).await,
                ["Bad request"]
            );
        }
    }
    for sent in [None, Some("{}"), Some(r#"{"data":{"attributes":{}}}"#), Some("[")] {
        let response = fixture.admin(Method::POST, EXPIRE, sent).await;
        assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, &format!("expire {sent:?}")).await, ["Bad request"]);
    }
    assert_eq!(fixture.status_of(id), ApplicationStatus::Accepted);
}

// Reading.

#[tokio::test]
async fn admin_sees_any_providers_application() {
    let fixture = Fixture::with_applications(|_, other| {
        let sam = person("Sam Example");
        vec![(application_in(&sam, other, "2025a", Course::Headship), sam)]
    });
    let id = fixture.id(0);
    let response = fixture.admin(Method::GET, &admin_path(id, ""), None).await;
    response.assert_status_is_ok();
    let admin_view = json_body(response).await;
    let provider_view =
        json_body(fixture.send(Method::GET, &format!("/api/v3/npq-applications/{id}"), OTHER_TOKEN, None).await).await;

    assert_eq!(admin_view["data"]["id"], provider_view["data"]["id"]);
    assert_eq!(admin_view["data"]["type"], "npq_application");
    let attributes = admin_view["data"]["attributes"].as_object().unwrap();
    for (name, value) in provider_view["data"]["attributes"].as_object().unwrap() {
        assert_eq!(attributes.get(name), Some(value), "{name} as the lead provider sees it");
    }
    let extra: Vec<&String> =
        attributes.keys().skip(provider_view["data"]["attributes"].as_object().unwrap().len()).collect();
    assert_eq!(extra, ["lead_provider_id", "training_status", "history"]);
    assert_eq!(attributes["lead_provider_id"], fixture.other_provider.to_string());
    assert_eq!(attributes["training_status"], Value::Null);
    assert_eq!(attributes["history"], json!([]));
}

#[tokio::test]
async fn history_shows_who_when_what_and_why() {
    let (fixture, id) = with_one("2025a", |pending| pending);
    let accept = json!({"data": {"attributes": {"funded_place": true}}}).to_string();
    fixture.send(Method::POST, &format!("/api/v3/npq-applications/{id}/accept"), TOKEN, Some(&accept)).await;
    changed(&fixture, Method::POST, &admin_path(id, "revert-to-pending"), json!({"note": "Accepted in error"})).await;

    let response = fixture.admin(Method::GET, &admin_path(id, ""), None).await;
    let history = json_body(response).await["data"]["attributes"]["history"].clone();
    let entries = history.as_array().unwrap();
    let by_provider = json!({"type": "lead_provider", "id": fixture.provider.to_string()});
    let by_dfe = json!({"type": "dfe", "user": ADMIN_USER});

    let status_changes: Vec<&Value> = entries.iter().filter(|entry| entry["field"] == "status").collect();
    assert_eq!(status_changes.len(), 2, "{history}");
    assert_eq!(status_changes[0]["from"], "pending");
    assert_eq!(status_changes[0]["to"], "accepted");
    assert_eq!(status_changes[0]["reason"], Value::Null);
    assert_eq!(status_changes[0]["changed_by"], by_provider);
    assert_eq!(status_changes[0]["changed_at"], "2026-01-05T10:00:00Z");
    assert_eq!(status_changes[1]["from"], "accepted");
    assert_eq!(status_changes[1]["to"], "pending");
    assert_eq!(status_changes[1]["reason"], "Accepted in error");
    assert_eq!(status_changes[1]["changed_by"], by_dfe);

    let funded: Vec<&Value> = entries.iter().filter(|entry| entry["field"] == "funded_place").collect();
    assert_eq!(funded.len(), 2, "{history}");
    assert_eq!(funded[0]["from"], Value::Null);
    assert_eq!(funded[0]["to"], "true");
    let keys: Vec<&String> = entries[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["field", "from", "to", "reason", "changed_at", "changed_by"]);
}

// Returning to pending.

#[tokio::test]
async fn accepted_application_returns_to_pending() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    let attributes =
        changed(&fixture, Method::POST, &admin_path(id, "revert-to-pending"), json!({"note": "Wrong course"})).await;
    assert_eq!(attributes["status"], "pending");
    assert_eq!(attributes["funded_place"], Value::Null);
    assert_eq!(attributes["training_status"], Value::Null);
    assert_eq!(attributes["schedule_identifier"], "npq-leadership-autumn", "the schedule is kept");
    assert_eq!(fixture.status_of(id), ApplicationStatus::Pending);
}

#[tokio::test]
async fn rejected_application_returns_to_pending() {
    let (fixture, id) = with_one("2025a", rejected);
    let attributes =
        changed(&fixture, Method::POST, &admin_path(id, "revert-to-pending"), json!({"note": "Rejected in error"}))
            .await;
    assert_eq!(attributes["status"], "pending");
}

#[tokio::test]
async fn pending_application_cannot_return_to_pending() {
    let (fixture, id) = with_one("2025a", |pending| pending);
    let titles = refused(&fixture, Method::POST, &admin_path(id, "revert-to-pending"), json!({"note": "x"})).await;
    assert_eq!(titles, ["status"]);
}

#[tokio::test]
async fn return_to_pending_with_billable_declarations_is_refused() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    fixture.store.set_declarations(id, billable());
    let titles = refused(&fixture, Method::POST, &admin_path(id, "revert-to-pending"), json!({"note": "x"})).await;
    assert_eq!(titles, ["base"]);

    let (fixture, id) = accepted_in("2025a", Some(true));
    fixture.store.set_declarations(id, DeclarationSummary { not_voided: 0, billable: 0, started: 0 });
    changed(&fixture, Method::POST, &admin_path(id, "revert-to-pending"), json!({"note": "x"})).await;
}

#[tokio::test]
async fn changes_without_a_note_are_refused() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    for note in [json!(null), json!(""), json!("   "), json!(42)] {
        let titles =
            refused(&fixture, Method::POST, &admin_path(id, "revert-to-pending"), json!({"note": note, "x": 1})).await;
        assert_eq!(titles, ["note"], "{note}");
    }
    let titles = refused(&fixture, Method::PUT, &admin_path(id, "change-cohort"), json!({"cohort": "2024"})).await;
    assert_eq!(titles, ["note"]);
    let provider = fixture.other_provider.to_string();
    let titles =
        refused(&fixture, Method::PUT, &admin_path(id, "change-lead-provider"), json!({"lead_provider_id": provider}))
            .await;
    assert_eq!(titles, ["note"]);
    let titles = refused(&fixture, Method::POST, &admin_path(id, "reject"), json!({"reason": "rejected_by_dfe"})).await;
    assert_eq!(titles, ["note"]);
    assert_eq!(fixture.status_of(id), ApplicationStatus::Accepted);
}

// Moving to another cohort.

#[tokio::test]
async fn cohort_change_within_funding_regime_succeeds() {
    let (fixture, id) = accepted_in("2025a", Some(false));
    let attributes = changed(
        &fixture,
        Method::PUT,
        &admin_path(id, "change-cohort"),
        json!({"cohort": "2024", "note": "Deferred start"}),
    )
    .await;
    assert_eq!(attributes["cohort"], "2024");
    assert_eq!(attributes["cohort_suffix"], "a");
    assert_eq!(attributes["schedule_identifier"], "npq-leadership-autumn");
    assert_eq!(attributes["funded_place"], false);
    assert_eq!(fixture.stored(id).cohort.to_string(), "2024a");
}

#[tokio::test]
async fn same_or_unknown_cohort_is_refused() {
    let (fixture, id) = accepted_in("2025a", Some(false));
    for cohort in [json!("2025"), json!("2025a"), json!("2019"), json!("2030z"), json!("next"), json!(""), json!(2024)]
    {
        let titles =
            refused(&fixture, Method::PUT, &admin_path(id, "change-cohort"), json!({"cohort": cohort, "note": "x"}))
                .await;
        assert_eq!(titles, ["cohort"], "{cohort}");
    }
    assert_eq!(fixture.stored(id).cohort.to_string(), "2025a");
}

#[tokio::test]
async fn cohort_change_between_funding_types_is_refused() {
    let (fixture, id) = accepted_in("2025a", Some(false));
    let titles =
        refused(&fixture, Method::PUT, &admin_path(id, "change-cohort"), json!({"cohort": "2023", "note": "x"})).await;
    assert_eq!(titles, ["cohort"], "capped to fully funded");

    let (fixture, id) = accepted_in("2026a", Some(false));
    let titles =
        refused(&fixture, Method::PUT, &admin_path(id, "change-cohort"), json!({"cohort": "2026b", "note": "x"})).await;
    assert_eq!(titles, ["cohort"], "unfunded to capped");
}

#[tokio::test]
async fn cohort_change_with_declarations_is_refused() {
    let (fixture, id) = accepted_in("2025a", Some(false));
    fixture.store.set_declarations(id, DeclarationSummary { not_voided: 1, billable: 0, started: 1 });
    let titles =
        refused(&fixture, Method::PUT, &admin_path(id, "change-cohort"), json!({"cohort": "2024", "note": "x"})).await;
    assert_eq!(titles, ["cohort"]);
}

#[tokio::test]
async fn cohort_change_without_the_schedule_is_refused() {
    let fixture = Fixture::with_applications(|provider, _| {
        let sam = person("Sam Example");
        let support = accepted(
            application_in(&sam, provider, "2021a", Course::AdditionalSupportOffer),
            ScheduleIdentifier::AsoDecember,
            None,
        );
        vec![(support, sam)]
    });
    let id = fixture.id(0);
    let titles =
        refused(&fixture, Method::PUT, &admin_path(id, "change-cohort"), json!({"cohort": "2022", "note": "x"})).await;
    assert_eq!(titles, ["cohort"]);
}

// Overriding funding eligibility.

#[tokio::test]
async fn funding_eligibility_is_overridden() {
    let (fixture, id) = with_one("2025a", |mut pending| {
        pending.eligible_for_funding = false;
        pending
    });
    let attributes = changed(
        &fixture,
        Method::PUT,
        &admin_path(id, "change-funding-eligibility"),
        json!({"eligible_for_funding": true, "reason": "School is state-funded"}),
    )
    .await;
    assert_eq!(attributes["eligible_for_funding"], true);
    assert_eq!(attributes["ineligible_for_funding_reason"], Value::Null);
    let history = attributes["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["field"], "eligible_for_funding");
    assert_eq!(history[0]["reason"], "School is state-funded");
}

#[tokio::test]
async fn funding_eligibility_must_be_a_boolean() {
    let (fixture, id) = with_one("2025a", |pending| pending);
    let path = admin_path(id, "change-funding-eligibility");
    for value in [json!("true"), json!(null), json!(1)] {
        let titles = refused(&fixture, Method::PUT, &path, json!({"eligible_for_funding": value, "reason": "x"})).await;
        assert_eq!(titles, ["eligible_for_funding"], "{value}");
    }
    let titles = refused(&fixture, Method::PUT, &path, json!({"reason": "x"})).await;
    assert_eq!(titles, ["eligible_for_funding"]);
    let titles = refused(&fixture, Method::PUT, &path, json!({"eligible_for_funding": true, "reason": " "})).await;
    assert_eq!(titles, ["reason"]);
}

#[tokio::test]
async fn ineligibility_with_billable_declarations_is_refused() {
    let (fixture, id) = accepted_in("2025a", Some(false));
    fixture.store.set_declarations(id, billable());
    let path = admin_path(id, "change-funding-eligibility");
    let titles = refused(&fixture, Method::PUT, &path, json!({"eligible_for_funding": false, "reason": "x"})).await;
    assert_eq!(titles, ["base"]);
    assert!(fixture.stored(id).eligible_for_funding);
}

#[tokio::test]
async fn ineligibility_with_a_funded_place_is_refused() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    let path = admin_path(id, "change-funding-eligibility");
    let titles = refused(&fixture, Method::PUT, &path, json!({"eligible_for_funding": false, "reason": "x"})).await;
    assert_eq!(titles, ["base"]);
}

// Moving to another lead provider.

#[tokio::test]
async fn application_moves_to_another_lead_provider() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    let target = fixture.other_provider.to_string();
    let attributes = changed(
        &fixture,
        Method::PUT,
        &admin_path(id, "change-lead-provider"),
        json!({"lead_provider_id": target, "note": "Participant moved"}),
    )
    .await;
    assert_eq!(attributes["lead_provider_id"], target);

    let show = format!("/api/v3/npq-applications/{id}");
    fixture.send(Method::GET, &show, TOKEN, None).await.assert_status(StatusCode::NOT_FOUND);
    fixture.send(Method::GET, &show, OTHER_TOKEN, None).await.assert_status_is_ok();
}

#[tokio::test]
async fn lead_provider_change_needs_another_known_provider() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    let path = admin_path(id, "change-lead-provider");
    let current = fixture.provider.to_string();
    for provider in [json!(current), json!("7e5bcdbf-c818-4961-8da5-439cab1984e0"), json!("Teach First"), json!(null)] {
        let titles = refused(&fixture, Method::PUT, &path, json!({"lead_provider_id": provider, "note": "x"})).await;
        assert_eq!(titles, ["lead_provider_id"], "{provider}");
    }
}

// Changing the training status.

#[tokio::test]
async fn training_status_changes_with_a_reason() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    fixture.store.set_declarations(id, DeclarationSummary { not_voided: 1, billable: 1, started: 1 });
    let path = admin_path(id, "change-training-status");
    let attributes =
        changed(&fixture, Method::PUT, &path, json!({"training_status": "deferred", "reason": "parental-leave"})).await;
    assert_eq!(attributes["training_status"], "deferred");
    assert_eq!(fixture.stored(id).training_status, Some(TrainingStatus::Deferred));
    let last = attributes["history"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(last["field"], "training_status");
    assert_eq!(last["reason"], "parental-leave");

    let attributes =
        changed(&fixture, Method::PUT, &path, json!({"training_status": "active", "reason": "ignored"})).await;
    assert_eq!(attributes["training_status"], "active");
}

#[tokio::test]
async fn unchanged_training_status_changes_nothing() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    let path = admin_path(id, "change-training-status");
    let attributes = changed(&fixture, Method::PUT, &path, json!({"training_status": "active"})).await;
    assert_eq!(attributes["history"], json!([]));
}

#[tokio::test]
async fn training_status_of_a_pending_application_is_refused() {
    let (fixture, id) = with_one("2025a", |pending| pending);
    let titles =
        refused(&fixture, Method::PUT, &admin_path(id, "change-training-status"), json!({"training_status": "active"}))
            .await;
    assert_eq!(titles, ["training_status"]);
}

#[tokio::test]
async fn training_status_and_reason_must_be_known() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    fixture.store.set_declarations(id, billable());
    let path = admin_path(id, "change-training-status");
    let cases = [
        (json!({"training_status": "paused"}), "training_status"),
        (json!({"reason": "other"}), "training_status"),
        (json!({"training_status": "deferred"}), "reason"),
        (json!({"training_status": "deferred", "reason": "change-in-career"}), "reason"),
        (json!({"training_status": "withdrawn", "reason": "parental-leave"}), "reason"),
    ];
    for (attributes, title) in cases {
        assert_eq!(refused(&fixture, Method::PUT, &path, attributes.clone()).await, [title], "{attributes}");
    }
}

#[tokio::test]
async fn deferring_without_declarations_is_refused() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    let path = admin_path(id, "change-training-status");
    let titles = refused(&fixture, Method::PUT, &path, json!({"training_status": "deferred", "reason": "other"})).await;
    assert_eq!(titles, ["training_status"]);
    let titles =
        refused(&fixture, Method::PUT, &path, json!({"training_status": "withdrawn", "reason": "change-in-career"}))
            .await;
    assert_eq!(titles, ["training_status"]);
}

// Rejecting.

#[tokio::test]
async fn dfe_rejection_is_visible_to_the_lead_provider() {
    for reason in ["rejected_by_dfe", "registration_expired"] {
        let (fixture, id) = with_one("2025a", |pending| pending);
        changed(&fixture, Method::POST, &admin_path(id, "reject"), json!({"reason": reason, "note": "Duplicate"}))
            .await;
        let seen = json_body(fixture.get(&format!("/api/v3/npq-applications/{id}")).await).await;
        assert_eq!(seen["data"]["attributes"]["status"], "rejected", "{reason}");
        assert_eq!(seen["data"]["attributes"]["reason_for_rejection"], reason);
    }
}

#[tokio::test]
async fn dfe_rejection_needs_a_dfe_reason() {
    let (fixture, id) = with_one("2025a", |pending| pending);
    for reason in [json!("rejected_by_provider"), json!("other_application_in_this_cohort_accepted"), json!(null)] {
        let titles =
            refused(&fixture, Method::POST, &admin_path(id, "reject"), json!({"reason": reason, "note": "x"})).await;
        assert_eq!(titles, ["reason"], "{reason}");
    }
}

#[tokio::test]
async fn dfe_rejection_follows_the_rejection_rules() {
    let (fixture, id) = with_one("2025a", rejected);
    let attributes = json!({"reason": "rejected_by_dfe", "note": "x"});
    assert_eq!(refused(&fixture, Method::POST, &admin_path(id, "reject"), attributes.clone()).await, ["application"]);

    let (fixture, id) = accepted_in("2025a", Some(true));
    fixture.store.set_declarations(id, billable());
    assert_eq!(refused(&fixture, Method::POST, &admin_path(id, "reject"), attributes).await, ["application"]);
}

// Expiring stale applications.

#[tokio::test]
async fn stale_pending_applications_expire() {
    let fixture = Fixture::with_applications(|provider, other| {
        let sam = person("Sam Example");
        let alex = person("Alex Example");
        let mut recent = application(&alex, provider, june(20, 9));
        recent.course = Course::SeniorLeadership;
        vec![
            (application(&sam, provider, june(1, 9)), sam.clone()),
            (application_in(&alex, other, "2024a", Course::Headship), alex.clone()),
            (accepted(application(&sam, other, june(2, 9)), ScheduleIdentifier::LeadershipAutumn, Some(true)), sam),
            (recent, alex),
        ]
    });
    let response = fixture.admin(Method::POST, EXPIRE, Some(&body(json!({"created_before": "2025-06-10"})))).await;
    response.assert_status_is_ok();
    let report = json_body(response).await;
    let mut expired: Vec<String> =
        report["data"]["expired"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_owned()).collect();
    expired.sort();
    let mut expected = vec![fixture.id(0).to_string(), fixture.id(1).to_string()];
    expected.sort();
    assert_eq!(expired, expected);
    assert_eq!(report["data"]["refused"], json!([]));

    let stored = fixture.stored(fixture.id(0));
    assert_eq!(stored.status, ApplicationStatus::Rejected);
    assert_eq!(stored.reason_for_rejection, Some(ReasonForRejection::RegistrationExpired));
    assert_eq!(fixture.status_of(fixture.id(2)), ApplicationStatus::Accepted, "accepted applications stay");
    assert_eq!(fixture.status_of(fixture.id(3)), ApplicationStatus::Pending, "recent applications stay");
}

#[tokio::test]
async fn expiry_is_limited_by_cohort_and_count() {
    let fixture = Fixture::with_applications(|provider, _| {
        let sam = person("Sam Example");
        let mut applications = Vec::new();
        for (day, cohort) in [(1, "2024a"), (2, "2025a"), (3, "2025a"), (4, "2025a")] {
            let mut pending = application(&sam, provider, june(day, 9));
            pending.cohort = cohort.parse().unwrap();
            pending.course = [Course::Headship, Course::SeniorLeadership, Course::Senco, Course::ExecutiveLeadership]
                [day as usize - 1];
            applications.push((pending, sam.clone()));
        }
        applications
    });
    let attributes = json!({"created_before": "2025-07-01T00:00:00Z", "cohort": "2025", "limit": 2});
    let response = fixture.admin(Method::POST, EXPIRE, Some(&body(attributes))).await;
    response.assert_status_is_ok();
    let report = json_body(response).await;
    assert_eq!(report["data"]["expired"], json!([fixture.id(1).to_string(), fixture.id(2).to_string()]));
    assert_eq!(fixture.status_of(fixture.id(0)), ApplicationStatus::Pending, "other cohorts stay");
    assert_eq!(fixture.status_of(fixture.id(3)), ApplicationStatus::Pending, "beyond the limit");
}

#[tokio::test]
async fn expiry_reports_applications_it_cannot_expire() {
    let fixture = Fixture::with_applications(|provider, _| {
        let sam = person("Sam Example");
        let alex = person("Alex Example");
        vec![(application(&sam, provider, june(1, 9)), sam), (application(&alex, provider, june(2, 9)), alex)]
    });
    fixture.store.set_declarations(fixture.id(0), billable());
    let response = fixture.admin(Method::POST, EXPIRE, Some(&body(json!({"created_before": "2025-06-10"})))).await;
    response.assert_status_is_ok();
    let report = json_body(response).await;
    assert_eq!(report["data"]["expired"], json!([fixture.id(1).to_string()]));
    let refused = report["data"]["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["id"], fixture.id(0).to_string());
    assert_eq!(refused[0]["errors"][0]["title"], "application");
    assert!(refused[0]["errors"][0]["detail"].as_str().is_some_and(|detail| detail.contains("declarations")));
    assert_eq!(fixture.status_of(fixture.id(0)), ApplicationStatus::Pending);
}

#[tokio::test]
async fn expiry_parameters_are_checked() {
    let fixture = Fixture::with_applications(|provider, _| {
        let sam = person("Sam Example");
        vec![(application(&sam, provider, june(1, 9)), sam)]
    });
    let cases = [
        (json!({"cohort": "2025"}), vec!["created_before"]),
        (json!({"created_before": "last week"}), vec!["created_before"]),
        (json!({"created_before": 20250601}), vec!["created_before"]),
        (json!({"created_before": "2025-06-10", "cohort": "twenty"}), vec!["cohort"]),
        (json!({"created_before": "2025-06-10", "limit": 0}), vec!["limit"]),
        (json!({"created_before": "2025-06-10", "limit": 1001}), vec!["limit"]),
        (json!({"created_before": "soon", "limit": "all"}), vec!["created_before", "limit"]),
    ];
    for (attributes, titles) in cases {
        let response = fixture.admin(Method::POST, EXPIRE, Some(&body(attributes.clone()))).await;
        assert_eq!(error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &attributes.to_string()).await, titles);
    }
    assert_eq!(fixture.status_of(fixture.id(0)), ApplicationStatus::Pending);
}

#[tokio::test]
async fn expiry_without_matches_is_empty() {
    let fixture = Fixture::new();
    let response =
        fixture.admin(Method::POST, EXPIRE, Some(&body(json!({"created_before": now().to_rfc3339()})))).await;
    response.assert_status_is_ok();
    assert_eq!(json_body(response).await, json!({"data": {"expired": [], "refused": []}}));
}

#[tokio::test]
async fn malformed_admin_json_is_a_bad_request() {
    let (fixture, id) = accepted_in("2025a", Some(true));
    let response = fixture.admin(Method::POST, &admin_path(id, "revert-to-pending"), Some(r#"{"data":"#)).await;
    response.assert_status(StatusCode::BAD_REQUEST);
    let detail = only_error_detail(response).await;
    assert!(detail.contains("not valid JSON"), "{detail}");
}

// Merging duplicate accounts.

fn merge_body(retired: impl Display) -> Value {
    json!({"from_participant_id": retired.to_string(), "note": "Registered twice, ticket 1234"})
}

/// A fixture with Sam's two accounts: the kept one has an accepted headship application with the
/// provider, and the duplicate `duplicate_applications` built from it.
fn with_duplicate(
    duplicate_applications: impl FnOnce(&Person, npq_domain::ids::LeadProviderId) -> Vec<Application>,
) -> (Fixture, ParticipantId, ParticipantId) {
    let kept = person_with_trn("Sam Example", "3000001");
    let duplicate = person_with_trn("Samuel Example", "3000002");
    let (kept_id, duplicate_id) = (kept.participant_id, duplicate.participant_id);
    let fixture = Fixture::with_applications(|provider, other| {
        let mut rows = vec![(
            accepted(
                application_in(&kept, provider, "2025a", Course::Headship),
                ScheduleIdentifier::LeadershipAutumn,
                Some(true),
            ),
            kept.clone(),
        )];
        rows.extend(duplicate_applications(&duplicate, other).into_iter().map(|built| (built, duplicate.clone())));
        rows
    });
    (fixture, kept_id, duplicate_id)
}

#[tokio::test]
async fn merging_moves_applications_to_the_kept_account() {
    let (fixture, kept, duplicate) = with_duplicate(|duplicate, other| {
        vec![
            application_in(duplicate, other, "2025a", Course::Senco),
            application_in(duplicate, other, "2024a", Course::Headship),
        ]
    });
    let moved = [fixture.id(1).to_string(), fixture.id(2).to_string()];
    let response = fixture.admin(Method::POST, &merge_path(kept), Some(&body(merge_body(duplicate)))).await;
    response.assert_status_is_ok();
    assert_eq!(
        json_body(response).await,
        json!({"data": {
            "participant_id": kept.to_string(),
            "retired_participant_id": duplicate.to_string(),
            "moved_application_ids": moved,
            "changed_at": "2026-01-05T10:00:00Z",
        }})
    );

    let path = format!("/api/v3/npq-applications/{}", fixture.id(1));
    let seen = json_body(fixture.send(Method::GET, &path, OTHER_TOKEN, None).await).await;
    assert_eq!(seen["data"]["attributes"]["participant_id"], kept.to_string());
    let history = json_body(fixture.admin(Method::GET, &admin_path(fixture.id(1), ""), None).await).await;
    let change = &history["data"]["attributes"]["history"][0];
    assert_eq!(change["field"], "participant_id");
    assert_eq!(change["from"], duplicate.to_string());
    assert_eq!(change["to"], kept.to_string());
    assert_eq!(change["reason"], "Registered twice, ticket 1234");
    assert_eq!(change["changed_by"], json!({"type": "dfe", "user": ADMIN_USER}));
}

#[tokio::test]
async fn merging_unknown_accounts_is_not_found() {
    let (fixture, kept, duplicate) =
        with_duplicate(|duplicate, other| vec![application_in(duplicate, other, "2025a", Course::Senco)]);
    let unknown = ParticipantId::new_random();
    let requests = [
        (merge_path(unknown), merge_body(duplicate)),
        (merge_path(kept), merge_body(unknown)),
        (merge_path("123XXX"), merge_body(duplicate)),
    ];
    for (path, attributes) in requests {
        let response = fixture.admin(Method::POST, &path, Some(&body(attributes.clone()))).await;
        response.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(json_body(response).await, json!({"error": "Not found"}), "{path} with {attributes}");
    }
    assert_eq!(fixture.stored(fixture.id(1)).participant_id, duplicate);
}

#[tokio::test]
async fn merge_needs_an_id_and_a_note() {
    let (fixture, kept, duplicate) =
        with_duplicate(|duplicate, other| vec![application_in(duplicate, other, "2025a", Course::Senco)]);
    let cases = [
        (json!({"from_participant_id": duplicate.to_string(), "note": "  "}), vec!["note"]),
        (json!({"from_participant_id": duplicate.to_string()}), vec!["note"]),
        (json!({"from_participant_id": "abc", "note": "x"}), vec!["from_participant_id"]),
        (json!({"from_participant_id": 7, "note": 7}), vec!["from_participant_id", "note"]),
        (json!({"note": "x"}), vec!["from_participant_id"]),
    ];
    for (attributes, titles) in cases {
        assert_eq!(refused(&fixture, Method::POST, &merge_path(kept), attributes).await, titles);
    }
    assert_eq!(fixture.stored(fixture.id(1)).participant_id, duplicate);
}

#[tokio::test]
async fn merge_body_without_attributes_is_bad_request() {
    let (fixture, kept, _) =
        with_duplicate(|duplicate, other| vec![application_in(duplicate, other, "2025a", Course::Senco)]);
    for sent in [None, Some("{}"), Some(r#"{"data":{}}"#), Some(r#"{"data":{"attributes":{}}}"#), Some("{")] {
        let response = fixture.admin(Method::POST, &merge_path(kept), sent).await;
        assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, &format!("{sent:?}")).await, ["Bad request"]);
    }
}

#[tokio::test]
async fn merging_an_account_into_itself_is_refused() {
    let (fixture, _, duplicate) =
        with_duplicate(|duplicate, other| vec![application_in(duplicate, other, "2025a", Course::Senco)]);
    let titles = refused(&fixture, Method::POST, &merge_path(duplicate), merge_body(duplicate)).await;
    assert_eq!(titles, ["from_participant_id"]);
}

#[tokio::test]
async fn merging_a_merged_account_is_refused() {
    let (fixture, kept, duplicate) =
        with_duplicate(|duplicate, other| vec![application_in(duplicate, other, "2025a", Course::Senco)]);
    // The in-memory store finds a person only through their applications, so a merged account,
    // whose applications moved away, would be not found. The earlier merge of the duplicate is
    // recorded directly instead, and the duplicate keeps its application.
    fixture.store.id_changes.lock().unwrap().push(ParticipantIdChange {
        from_participant_id: duplicate,
        to_participant_id: ParticipantId::new_random(),
        changed_at: june(3, 9),
    });

    let retired_again = refused(&fixture, Method::POST, &merge_path(kept), merge_body(duplicate)).await;
    assert_eq!(retired_again, ["from_participant_id"]);
    let kept_retired = refused(&fixture, Method::POST, &merge_path(duplicate), merge_body(kept)).await;
    assert_eq!(kept_retired, ["participant_id"]);
    assert_eq!(fixture.stored(fixture.id(1)).participant_id, duplicate);
}

#[tokio::test]
async fn merging_two_live_places_is_refused() {
    let (fixture, kept, duplicate) = with_duplicate(|duplicate, other| {
        vec![accepted(
            application_in(duplicate, other, "2025a", Course::Headship),
            ScheduleIdentifier::LeadershipAutumn,
            Some(true),
        )]
    });
    assert_eq!(refused(&fixture, Method::POST, &merge_path(kept), merge_body(duplicate)).await, ["base"]);
    assert_eq!(fixture.stored(fixture.id(1)).participant_id, duplicate);
}
