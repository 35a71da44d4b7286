//! Participants: the list and its filters, reading one participant, and the lead provider's
//! actions on their training. Every refusal the rules define is sent over HTTP and checked by
//! status and error title.

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use chrono::{Duration, TimeZone};
use npq_domain::application::{Application, ApplicationStatus, ReasonForRejection, TrainingStatus};
use npq_domain::cohort::CohortIdentifier;
use npq_domain::course::Course;
use npq_domain::decision::{DecisionContext, HistoryEntry, Outcome};
use npq_domain::error::DomainError;
use npq_domain::ids::{ApplicationId, LeadProviderId, ParticipantId};
use npq_domain::participant::{ParticipantIdChange, ParticipantQuery, ParticipantRecord};
use npq_domain::person::Person;
use npq_domain::ports::{DecisionRule, DecisionStore, MergeRule, ParticipantRepository};
use npq_domain::schedule::{DeclarationType, ScheduleIdentifier};
use npq_domain::training::{BillableDeclaration, DeclarationSummary};
use npq_domain::{StoreError, Timestamp};
use poem::http::{Method, StatusCode};
use poem::test::TestResponse;
use serde_json::{Value, json};

use crate::common::{
    ADMIN_TOKEN, Fixture, MemoryStore, OTHER_TOKEN, REGISTRATION_TOKEN, TOKEN, accepted, application_in, error_titles,
    json_body, june, list_data, listed_ids, only_error_detail, person_with_trn,
};

const LIST: &str = "/api/v3/participants/npq";

/// The last path segment of every participant action.
const ACTIONS: [&str; 4] = ["defer", "withdraw", "resume", "change-schedule"];

fn show_path(id: impl Display) -> String {
    format!("{LIST}/{id}")
}

fn action_path(id: impl Display, action: &str) -> String {
    format!("{LIST}/{id}/{action}")
}

fn action_body(attributes: Value) -> String {
    json!({"data": {"type": "participant-action", "attributes": attributes}}).to_string()
}

/// Returns attributes that the rules accept for `action` on a headship enrolment.
fn valid_attributes(action: &str) -> Value {
    match action {
        "defer" => json!({"course_identifier": "npq-headship", "reason": "parental-leave"}),
        "withdraw" => json!({"course_identifier": "npq-headship", "reason": "change-in-career"}),
        "change-schedule" => {
            json!({"course_identifier": "npq-headship", "schedule_identifier": "npq-leadership-spring"})
        }
        _ => json!({"course_identifier": "npq-headship"}),
    }
}

/// Builds a person with a verified TRN that no other person built here has, so that accepted
/// places of different people never count as one teacher's.
fn someone(full_name: &str) -> Person {
    static NEXT_TRN: AtomicU32 = AtomicU32::new(4_000_000);
    person_with_trn(full_name, &NEXT_TRN.fetch_add(1, Ordering::Relaxed).to_string())
}

/// Builds an accepted application for `course` in `cohort` on `schedule`, with the funded place
/// the cohort's funding gives an eligible participant.
fn enrolled(
    person: &Person,
    provider: LeadProviderId,
    cohort: &str,
    course: Course,
    schedule: ScheduleIdentifier,
) -> Application {
    let funded_place = match cohort {
        "2021a" | "2022a" | "2023a" => None,
        "2026a" => Some(false),
        _ => Some(true),
    };
    accepted(application_in(person, provider, cohort, course), schedule, funded_place)
}

fn with_training_status(mut application: Application, status: TrainingStatus) -> Application {
    application.training_status = Some(status);
    application
}

/// A fixture whose provider has Sam, accepted for headship in `cohort` on the leadership autumn
/// schedule and changed by `change`. Returns Sam's id and the application's.
fn with_sam(cohort: &str, change: impl FnOnce(Application) -> Application) -> (Fixture, ParticipantId, ApplicationId) {
    let sam = someone("Sam Example");
    let participant = sam.participant_id;
    let fixture = Fixture::with_applications(|provider, _| {
        let application = enrolled(&sam, provider, cohort, Course::Headship, ScheduleIdentifier::LeadershipAutumn);
        vec![(change(application), sam)]
    });
    let application = fixture.id(0);
    (fixture, participant, application)
}

fn declared() -> DeclarationSummary {
    DeclarationSummary { not_voided: 1, billable: 1, started: 1 }
}

async fn act(fixture: &Fixture, id: impl Display, action: &str, attributes: Value) -> TestResponse {
    fixture.send(Method::PUT, &action_path(id, action), TOKEN, Some(&action_body(attributes))).await
}

/// Sends an action, asserts a 422 and returns the error titles.
async fn refused(fixture: &Fixture, id: impl Display, action: &str, attributes: Value) -> Vec<String> {
    let context = format!("{action} with {attributes}");
    error_titles(act(fixture, id, action, attributes).await, StatusCode::UNPROCESSABLE_ENTITY, &context).await
}

/// Sends an action, asserts a 200 and returns the participant resource.
async fn done(fixture: &Fixture, id: impl Display, action: &str, attributes: Value) -> Value {
    let response = act(fixture, id, action, attributes.clone()).await;
    let status = response.0.status();
    let body = json_body(response).await;
    assert_eq!(status, StatusCode::OK, "{action} with {attributes}: {body}");
    body["data"].clone()
}

/// Returns the participant as the provider reads it.
async fn shown(fixture: &Fixture, id: impl Display) -> Value {
    let response = fixture.get(&show_path(id)).await;
    response.assert_status_is_ok();
    json_body(response).await["data"].clone()
}

/// Merges the account `retired` into `kept` through the admin API.
async fn merge(fixture: &Fixture, kept: ParticipantId, retired: ParticipantId) {
    let body = json!({"data": {"attributes": {"from_participant_id": retired.to_string(), "note": "Duplicate"}}});
    let path = format!("/api/admin/v1/participants/{kept}/merge");
    let response = fixture.admin(Method::POST, &path, Some(&body.to_string())).await;
    let status = response.0.status();
    assert_eq!(status, StatusCode::OK, "merge: {}", json_body(response).await);
}

// The participant resource.

#[tokio::test]
async fn participant_keys_come_in_reference_order() {
    let mut sam = someone("Sam Example");
    sam.trn_verified = false;
    sam.email = None;
    let fixture = Fixture::with_applications(|provider, _| {
        let mut application = enrolled(&sam, provider, "2023a", Course::Headship, ScheduleIdentifier::LeadershipSpring);
        application.school_urn = None;
        application.updated_at = june(3, 9);
        vec![(application, sam.clone())]
    });
    let data = shown(&fixture, sam.participant_id).await;

    let keys = |value: &Value| value.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&data), ["id", "type", "attributes"]);
    assert_eq!(data["id"], sam.participant_id.to_string());
    assert_eq!(data["type"], "npq-participant");
    let attributes = &data["attributes"];
    assert_eq!(
        keys(attributes),
        [
            "full_name",
            "previous_names",
            "teacher_reference_number",
            "updated_at",
            "npq_enrolments",
            "participant_id_changes"
        ]
    );
    let enrolment = &attributes["npq_enrolments"][0];
    assert_eq!(
        keys(enrolment),
        [
            "course_identifier",
            "schedule_identifier",
            "cohort",
            "cohort_suffix",
            "npq_application_id",
            "eligible_for_funding",
            "training_status",
            "school_urn",
            "targeted_delivery_funding_eligibility",
            "funded_place",
            "email",
            "withdrawal",
            "deferral",
            "created_at",
        ]
    );

    assert_eq!(attributes["full_name"], "Sam Example");
    assert_eq!(attributes["previous_names"], json!([]));
    assert_eq!(attributes["teacher_reference_number"], Value::Null, "an unverified TRN is not shown");
    assert_eq!(attributes["updated_at"], "2025-06-03T09:00:00Z");
    assert_eq!(attributes["participant_id_changes"], json!([]));
    assert_eq!(enrolment["course_identifier"], "npq-headship");
    assert_eq!(enrolment["schedule_identifier"], "npq-leadership-spring");
    assert_eq!(enrolment["cohort"], "2023");
    assert_eq!(enrolment["cohort_suffix"], "a");
    assert_eq!(enrolment["npq_application_id"], fixture.id(0).to_string());
    assert_eq!(enrolment["eligible_for_funding"], true);
    assert_eq!(enrolment["training_status"], "active");
    assert_eq!(enrolment["school_urn"], Value::Null);
    assert_eq!(enrolment["targeted_delivery_funding_eligibility"], false);
    assert_eq!(enrolment["funded_place"], Value::Null, "fully funded cohorts have no funded place");
    assert_eq!(enrolment["email"], Value::Null);
    assert_eq!(enrolment["withdrawal"], Value::Null);
    assert_eq!(enrolment["deferral"], Value::Null);
    assert_eq!(enrolment["created_at"], "2025-06-02T09:00:00Z", "an enrolment begins at acceptance");
}

#[tokio::test]
async fn participant_values_come_from_person_and_application() {
    let mut sam = someone("Sam Example");
    sam.previous_names = vec!["Sam Former".to_owned()];
    let trn = sam.trn.clone().map(|trn| trn.as_ref().to_owned());
    let fixture = Fixture::with_applications(|provider, _| {
        let mut application = enrolled(&sam, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn);
        application.targeted_delivery_funding_eligibility = true;
        application.accepted_at = Some(june(2, 9) + Duration::milliseconds(750));
        vec![(application, sam.clone())]
    });
    let attributes = shown(&fixture, sam.participant_id).await["attributes"].clone();
    assert_eq!(attributes["previous_names"], json!(["Sam Former"]));
    assert_eq!(attributes["teacher_reference_number"], json!(trn));
    let enrolment = &attributes["npq_enrolments"][0];
    assert_eq!(enrolment["email"], "sam.example@example.com");
    assert_eq!(enrolment["school_urn"], "100001");
    assert_eq!(enrolment["funded_place"], true);
    assert_eq!(enrolment["targeted_delivery_funding_eligibility"], true);
    assert_eq!(enrolment["created_at"], "2025-06-02T09:00:00Z", "timestamps are whole seconds");
}

#[tokio::test]
async fn enrolment_eligibility_is_the_stored_flag() {
    let sam = someone("Sam Example");
    let fixture = Fixture::with_applications(|provider, _| {
        let mut earlier = enrolled(&sam, provider, "2024a", Course::Headship, ScheduleIdentifier::LeadershipAutumn);
        earlier.accepted_at = Some(june(1, 9));
        let later = enrolled(&sam, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn);
        vec![(earlier, sam.clone()), (later, sam.clone())]
    });
    let application = json_body(fixture.get(&format!("/api/v3/npq-applications/{}", fixture.id(1))).await).await;
    assert_eq!(application["data"]["attributes"]["eligible_for_funding"], false, "funded for headship before");

    let enrolments = shown(&fixture, sam.participant_id).await["attributes"]["npq_enrolments"].clone();
    let eligibility: Vec<&Value> = enrolments.as_array().unwrap().iter().map(|e| &e["eligible_for_funding"]).collect();
    assert_eq!(eligibility, [&json!(true), &json!(true)]);
}

// Reading one participant.

#[tokio::test]
async fn hidden_participants_are_not_found() {
    let lee = someone("Lee Other");
    let pat = someone("Pat Pending");
    let rae = someone("Rae Rejected");
    let fixture = Fixture::with_applications(|provider, other| {
        let mut rejected = application_in(&rae, provider, "2025a", Course::Headship);
        rejected.status = ApplicationStatus::Rejected;
        rejected.reason_for_rejection = Some(ReasonForRejection::RejectedByProvider);
        vec![
            (enrolled(&lee, other, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn), lee.clone()),
            (application_in(&pat, provider, "2025a", Course::Headship), pat.clone()),
            (rejected, rae.clone()),
        ]
    });
    let ids = [
        lee.participant_id.to_string(),
        pat.participant_id.to_string(),
        rae.participant_id.to_string(),
        ParticipantId::new_random().to_string(),
        "123XXX".to_owned(),
        "7E5BCDBF".to_owned(),
    ];
    for id in &ids {
        let response = fixture.get(&show_path(id)).await;
        response.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(json_body(response).await, json!({"error": "Not found"}), "GET {id}");
        for action in ACTIONS {
            let response = act(&fixture, id, action, valid_attributes(action)).await;
            response.assert_status(StatusCode::NOT_FOUND);
            assert_eq!(json_body(response).await, json!({"error": "Not found"}), "{action} {id}");
        }
    }
}

#[tokio::test]
async fn retired_id_is_gone_for_everyone() {
    let kept = someone("Sam Example");
    let duplicate = someone("Samuel Example");
    let fixture = Fixture::with_applications(|provider, _| {
        vec![
            (enrolled(&kept, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn), kept.clone()),
            (application_in(&duplicate, provider, "2025a", Course::Senco), duplicate.clone()),
        ]
    });
    merge(&fixture, kept.participant_id, duplicate.participant_id).await;

    for token in [TOKEN, OTHER_TOKEN] {
        let response = fixture.send(Method::GET, &show_path(duplicate.participant_id), token, None).await;
        response.assert_status(StatusCode::GONE);
        response.assert_content_type("application/json");
        let body = json_body(response).await;
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{body}");
        assert_eq!(errors[0]["title"], "The participant ID has changed");
        let detail = errors[0]["detail"].as_str().unwrap();
        assert!(detail.contains(&duplicate.participant_id.to_string()), "{detail}");
        assert!(detail.contains(&kept.participant_id.to_string()), "{detail}");
        assert_eq!(
            errors[0]["participant_id_changes"],
            json!([{
                "from_participant_id": duplicate.participant_id.to_string(),
                "to_participant_id": kept.participant_id.to_string(),
                "changed_at": "2026-01-05T10:00:00Z",
            }])
        );
    }

    let attributes = shown(&fixture, kept.participant_id).await["attributes"].clone();
    assert_eq!(attributes["participant_id_changes"][0]["from_participant_id"], duplicate.participant_id.to_string());
    assert_eq!(attributes["updated_at"], "2026-01-05T10:00:00Z", "the merge changes the kept participant");
}

#[tokio::test]
async fn transfer_moves_participant_to_new_provider() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    let body =
        json!({"data": {"attributes": {"lead_provider_id": fixture.other_provider.to_string(), "note": "Moved"}}});
    let path = format!("/api/admin/v1/applications/{application}/change-lead-provider");
    fixture.admin(Method::PUT, &path, Some(&body.to_string())).await.assert_status_is_ok();

    let response = fixture.get(&show_path(sam)).await;
    response.assert_status(StatusCode::NOT_FOUND);
    assert!(list_data(fixture.get(LIST).await).await.is_empty(), "the old provider no longer lists Sam");
    for action in ACTIONS {
        let response = act(&fixture, sam, action, valid_attributes(action)).await;
        assert_eq!(response.0.status(), StatusCode::NOT_FOUND, "{action} by the old provider");
    }

    let seen = fixture.send(Method::GET, &show_path(sam), OTHER_TOKEN, None).await;
    seen.assert_status_is_ok();
    let enrolment = json_body(seen).await["data"]["attributes"]["npq_enrolments"][0].clone();
    assert_eq!(enrolment["npq_application_id"], application.to_string());
    assert_eq!(enrolment["training_status"], "active");
    let listed = listed_ids(fixture.send(Method::GET, LIST, OTHER_TOKEN, None).await).await;
    assert_eq!(listed, [sam.to_string()]);
    let body = action_body(valid_attributes("withdraw"));
    let withdrawn = fixture.send(Method::PUT, &action_path(sam, "withdraw"), OTHER_TOKEN, Some(&body)).await;
    withdrawn.assert_status_is_ok();
}

#[tokio::test]
async fn participant_endpoints_need_a_lead_provider_token() {
    let (fixture, sam, _) = with_sam("2025a", |enrolment| enrolment);
    for path in [LIST.to_owned(), show_path(sam)] {
        for token in ["wrong-token", ADMIN_TOKEN, REGISTRATION_TOKEN] {
            let response = fixture.send(Method::GET, &path, token, None).await;
            response.assert_status(StatusCode::UNAUTHORIZED);
            assert!(json_body(response).await["error"].is_string(), "{path} with {token}");
        }
        let anonymous = fixture.client.get(&path).send().await;
        assert_eq!(anonymous.0.status(), StatusCode::UNAUTHORIZED, "{path} without a token");
    }
}

// The list.

#[tokio::test]
async fn list_shows_accepted_people_once() {
    let sam = someone("Sam Example");
    let pat = someone("Pat Pending");
    let rae = someone("Rae Rejected");
    let lee = someone("Lee Other");
    let fixture = Fixture::with_applications(|provider, other| {
        let mut rejected = application_in(&rae, provider, "2025a", Course::Headship);
        rejected.status = ApplicationStatus::Rejected;
        rejected.reason_for_rejection = Some(ReasonForRejection::RejectedByProvider);
        let mut second = enrolled(&sam, provider, "2025a", Course::Senco, ScheduleIdentifier::SpecialistAutumn);
        second.accepted_at = Some(june(3, 9));
        vec![
            (enrolled(&sam, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn), sam.clone()),
            (second, sam.clone()),
            (application_in(&sam, provider, "2024a", Course::SeniorLeadership), sam.clone()),
            (application_in(&pat, provider, "2025a", Course::Headship), pat.clone()),
            (rejected, rae.clone()),
            (enrolled(&lee, other, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn), lee.clone()),
            (application_in(&lee, provider, "2025a", Course::Senco), lee.clone()),
        ]
    });
    let data = list_data(fixture.get(LIST).await).await;
    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!(data[0]["id"], sam.participant_id.to_string());
    let courses: Vec<&Value> = data[0]["attributes"]["npq_enrolments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|enrolment| &enrolment["course_identifier"])
        .collect();
    assert_eq!(courses, [&json!("npq-headship"), &json!("npq-senco")], "accepted ones only, oldest acceptance first");
    assert_eq!(data[0], shown(&fixture, sam.participant_id).await, "the list shows what show shows");
}

/// A fixture with `count` participants of the provider, who became participants an hour apart.
fn with_participants(count: usize) -> (Fixture, Vec<String>) {
    let people: Vec<Person> = (0..count).map(|index| someone(&format!("Person {index}"))).collect();
    let ids = people.iter().map(|person| person.participant_id.to_string()).collect();
    let fixture = Fixture::with_applications(|provider, _| {
        people
            .iter()
            .enumerate()
            .map(|(index, person)| {
                let hours = i64::try_from(index).unwrap();
                let mut application =
                    enrolled(person, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn);
                application.accepted_at = Some(june(2, 9) + Duration::hours(hours));
                application.updated_at = june(20, 9) - Duration::hours(hours);
                (application, person.clone())
            })
            .collect()
    });
    (fixture, ids)
}

#[tokio::test]
async fn pages_of_five_hold_eight_participants() {
    let (fixture, ids) = with_participants(8);
    let first = listed_ids(fixture.get(&format!("{LIST}?page[per_page]=5&page[page]=1")).await).await;
    assert_eq!(first, ids[..5]);
    let second = listed_ids(fixture.get(&format!("{LIST}?page[per_page]=5&page[page]=2")).await).await;
    assert_eq!(second, ids[5..]);
    let third = fixture.get(&format!("{LIST}?page[per_page]=5&page[page]=3")).await;
    third.assert_status_is_ok();
    assert!(list_data(third).await.is_empty());
    for query in ["page[page]=-1", "page[per_page]=0", "page[page]=abc"] {
        let response = fixture.get(&format!("{LIST}?{query}")).await;
        assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, query).await, ["Bad request"]);
    }
}

#[tokio::test]
async fn sort_orders_participants() {
    let (fixture, ids) = with_participants(3);
    let reversed: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(listed_ids(fixture.get(&format!("{LIST}?sort=-created_at")).await).await, reversed);
    assert_eq!(listed_ids(fixture.get(&format!("{LIST}?sort=updated_at")).await).await, reversed);
    assert_eq!(listed_ids(fixture.get(&format!("{LIST}?sort=email")).await).await, ids, "unknown names are ignored");
}

#[tokio::test]
async fn updated_since_selects_recent_participants() {
    let (fixture, ids) = with_participants(3);
    let since = |query: &str| format!("{LIST}?filter[updated_since]={query}");
    assert_eq!(listed_ids(fixture.get(&since("2025-06-20T08:00:00Z")).await).await, ids[..2]);
    assert_eq!(listed_ids(fixture.get(&since("2025-06-20T09:00:00Z")).await).await, ids[..1], "inclusive");
    assert_eq!(listed_ids(fixture.get(&since("2025-06-20T10:00:00%2B01:00")).await).await, ids[..1]);
    assert_eq!(listed_ids(fixture.get(&since("")).await).await, ids, "a blank filter is ignored");

    for query in ["filter[updated_since]=yesterday", "filter[updated_since][x]=2025-06-20T08:00:00Z"] {
        let response = fixture.get(&format!("{LIST}?{query}")).await;
        response.assert_status(StatusCode::BAD_REQUEST);
        let detail = only_error_detail(response).await;
        assert!(detail.contains("#/updated_since"), "{query}: {detail}");
    }
}

#[tokio::test]
async fn training_status_filter_narrows_enrolments() {
    let sam = someone("Sam Example");
    let pat = someone("Pat Example");
    let fixture = Fixture::with_applications(|provider, _| {
        let headship = enrolled(&sam, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn);
        let senco = enrolled(&sam, provider, "2025a", Course::Senco, ScheduleIdentifier::SpecialistAutumn);
        let pats = enrolled(&pat, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn);
        vec![
            (headship, sam.clone()),
            (with_training_status(senco, TrainingStatus::Deferred), sam.clone()),
            (pats, pat.clone()),
        ]
    });

    let deferred = list_data(fixture.get(&format!("{LIST}?filter[training_status]=deferred")).await).await;
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0]["id"], sam.participant_id.to_string());
    let enrolments = deferred[0]["attributes"]["npq_enrolments"].as_array().unwrap();
    assert_eq!(enrolments.len(), 1, "only the deferred enrolment is listed");
    assert_eq!(enrolments[0]["course_identifier"], "npq-senco");

    let active = list_data(fixture.get(&format!("{LIST}?filter[training_status]=active")).await).await;
    assert_eq!(active.len(), 2);
    for participant in &active {
        let enrolments = participant["attributes"]["npq_enrolments"].as_array().unwrap();
        assert_eq!(enrolments.len(), 1, "{participant}");
        assert_eq!(enrolments[0]["course_identifier"], "npq-headship");
    }
    assert!(list_data(fixture.get(&format!("{LIST}?filter[training_status]=withdrawn")).await).await.is_empty());
    assert_eq!(list_data(fixture.get(&format!("{LIST}?filter[training_status]=")).await).await.len(), 2);
}

#[tokio::test]
async fn unknown_training_status_filter_is_unprocessable() {
    let (fixture, _, _) = with_sam("2025a", |enrolment| enrolment);
    for query in
        ["filter[training_status]=paused", "filter[training_status]=ACTIVE", "filter[training_status][x]=active"]
    {
        let response = fixture.get(&format!("{LIST}?{query}")).await;
        response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let body = json_body(response).await;
        assert_eq!(body["errors"][0]["title"], "Unpermitted parameters", "{query}");
        let detail = body["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(r#"["active", "deferred", "withdrawn"]"#), "{query}: {detail}");
    }
}

#[tokio::test]
async fn from_participant_id_narrows_changes() {
    let kept = someone("Sam Example");
    let first = someone("Samuel Example");
    let second = someone("S Example");
    let other = someone("Pat Example");
    let fixture = Fixture::with_applications(|provider, _| {
        vec![
            (enrolled(&kept, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn), kept.clone()),
            (application_in(&first, provider, "2025a", Course::Senco), first.clone()),
            (application_in(&second, provider, "2024a", Course::Senco), second.clone()),
            (
                enrolled(&other, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn),
                other.clone(),
            ),
        ]
    });
    merge(&fixture, kept.participant_id, first.participant_id).await;
    merge(&fixture, kept.participant_id, second.participant_id).await;
    assert_eq!(
        shown(&fixture, kept.participant_id).await["attributes"]["participant_id_changes"].as_array().unwrap().len(),
        2
    );

    let data =
        list_data(fixture.get(&format!("{LIST}?filter[from_participant_id]={}", first.participant_id)).await).await;
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], kept.participant_id.to_string());
    let changes = data[0]["attributes"]["participant_id_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "only the matching change is listed");
    assert_eq!(changes[0]["from_participant_id"], first.participant_id.to_string());
    assert_eq!(changes[0]["to_participant_id"], kept.participant_id.to_string());
    assert_eq!(data[0]["attributes"]["npq_enrolments"].as_array().unwrap().len(), 1, "enrolments are not filtered");

    let nothing = [
        format!("filter[from_participant_id]={}", ParticipantId::new_random()),
        format!("filter[from_participant_id]={}", kept.participant_id),
        "filter[from_participant_id]=not-a-uuid".to_owned(),
        format!("filter[from_participant_id][x]={}", first.participant_id),
    ];
    for query in nothing {
        let response = fixture.get(&format!("{LIST}?{query}")).await;
        response.assert_status_is_ok();
        assert!(list_data(response).await.is_empty(), "{query}");
    }
    assert_eq!(list_data(fixture.get(&format!("{LIST}?filter[from_participant_id]=")).await).await.len(), 2);
}

// Request bodies and the order of checks.

#[tokio::test]
async fn action_bodies_without_attributes_are_bad_requests() {
    let (fixture, sam, _) = with_sam("2025a", |enrolment| enrolment);
    let bodies = [
        None,
        Some(""),
        Some("{}"),
        Some("[]"),
        Some(r#"{"data":null}"#),
        Some(r#"{"data":{}}"#),
        Some(r#"{"data":{"type":"participant-defer"}}"#),
        Some(r#"{"data":{"attributes":{}}}"#),
        Some(r#"{"data":{"attributes":"npq-headship"}}"#),
        Some(r#"{"data": {"attributes": "#),
    ];
    for action in ACTIONS {
        for body in bodies {
            let response = fixture.send(Method::PUT, &action_path(sam, action), TOKEN, body).await;
            let context = format!("{action} with {body:?}");
            assert_eq!(error_titles(response, StatusCode::BAD_REQUEST, &context).await, ["Bad request"]);
        }
    }
}

#[tokio::test]
async fn bad_body_is_reported_before_unknown_participant() {
    let fixture = Fixture::new();
    for id in [ParticipantId::new_random().to_string(), "123XXX".to_owned()] {
        for action in ACTIONS {
            let response = fixture.send(Method::PUT, &action_path(&id, action), TOKEN, Some("{}")).await;
            assert_eq!(response.0.status(), StatusCode::BAD_REQUEST, "{action} {id}");
            let anonymous = fixture.client.put(action_path(&id, action)).body("{}").send().await;
            assert_eq!(anonymous.0.status(), StatusCode::UNAUTHORIZED, "{action} {id} without a token");
        }
    }
}

#[tokio::test]
async fn unknown_attributes_are_ignored() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    let extra =
        json!({"course_identifier": "npq-headship", "reason": "other", "schedule_identifier": "x", "cohort": "1"});
    let data =
        done(&fixture, sam, "defer", json!({"course_identifier": "npq-headship", "reason": "other", "x": 1})).await;
    assert_eq!(data["attributes"]["npq_enrolments"][0]["training_status"], "deferred");
    let data = done(&fixture, sam, "resume", extra).await;
    assert_eq!(data["attributes"]["npq_enrolments"][0]["training_status"], "active");
}

// Refusals common to every action.

#[tokio::test]
async fn actions_without_a_token_are_unauthorised() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    for action in ACTIONS {
        let body = action_body(valid_attributes(action));
        let anonymous = fixture.client.put(action_path(sam, action)).body(body.clone()).send().await;
        anonymous.assert_status(StatusCode::UNAUTHORIZED);
        assert!(json_body(anonymous).await["error"].is_string(), "{action}");
        for token in ["wrong-token", ADMIN_TOKEN, REGISTRATION_TOKEN] {
            let response = fixture.send(Method::PUT, &action_path(sam, action), token, Some(&body)).await;
            assert_eq!(response.0.status(), StatusCode::UNAUTHORIZED, "{action} with {token}");
        }
    }
    assert_eq!(fixture.stored(application).training_status, Some(TrainingStatus::Active));
}

#[tokio::test]
async fn actions_without_a_participant_id_are_not_found() {
    let fixture = Fixture::new();
    for action in ACTIONS {
        let body = action_body(valid_attributes(action));
        for path in [format!("{LIST}//{action}"), format!("{LIST}/{action}"), format!("{LIST}/%20/{action}")] {
            let response = fixture.send(Method::PUT, &path, TOKEN, Some(&body)).await;
            response.assert_status(StatusCode::NOT_FOUND);
            assert_eq!(json_body(response).await, json!({"error": "Not found"}), "{path}");
        }
    }
}

#[tokio::test]
async fn actions_on_retired_id_name_new_id() {
    let kept = someone("Sam Example");
    let duplicate = someone("Samuel Example");
    let fixture = Fixture::with_applications(|provider, _| {
        vec![
            (enrolled(&kept, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn), kept.clone()),
            (
                enrolled(&duplicate, provider, "2024a", Course::Headship, ScheduleIdentifier::LeadershipAutumn),
                duplicate.clone(),
            ),
        ]
    });
    merge(&fixture, kept.participant_id, duplicate.participant_id).await;
    for action in ACTIONS {
        for attributes in [valid_attributes(action), json!({"course_identifier": "npq-cooking"})] {
            let response = act(&fixture, duplicate.participant_id, action, attributes.clone()).await;
            response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
            let body = json_body(response).await;
            assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{action} {attributes}: {body}");
            assert_eq!(body["errors"][0]["title"], "participant_id");
            let detail = body["errors"][0]["detail"].as_str().unwrap();
            assert!(detail.contains(&kept.participant_id.to_string()), "{action}: {detail}");
        }
    }
}

#[tokio::test]
async fn unknown_course_identifier_is_refused() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    let courses = [json!("npq-cooking"), json!(""), json!("NPQ-HEADSHIP"), json!(null), json!(12), json!({"a": 1})];
    for action in ACTIONS {
        for course in &courses {
            let mut attributes = valid_attributes(action);
            attributes["course_identifier"] = course.clone();
            assert_eq!(refused(&fixture, sam, action, attributes).await, ["course_identifier"], "{action} {course}");
        }
        let mut attributes = valid_attributes(action);
        attributes.as_object_mut().unwrap().remove("course_identifier");
        attributes["other"] = json!(1);
        assert_eq!(refused(&fixture, sam, action, attributes).await, ["course_identifier"], "{action} without it");
    }
    assert_eq!(fixture.stored(application).training_status, Some(TrainingStatus::Active));
}

#[tokio::test]
async fn course_without_an_enrolment_is_refused() {
    let sam = someone("Sam Example");
    let fixture = Fixture::with_applications(|provider, other| {
        vec![
            (
                enrolled(&sam, provider, "2025a", Course::AdditionalSupportOffer, ScheduleIdentifier::EhcoJune),
                sam.clone(),
            ),
            (enrolled(&sam, other, "2025a", Course::Senco, ScheduleIdentifier::SpecialistAutumn), sam.clone()),
            (application_in(&sam, provider, "2025a", Course::Headship), sam.clone()),
        ]
    });
    fixture.store.set_declarations(fixture.id(0), declared());
    let courses = ["npq-early-headship-coaching-offer", "npq-senco", "npq-headship", "npq-leading-literacy"];
    for action in ACTIONS {
        for course in courses {
            let mut attributes = valid_attributes(action);
            attributes["course_identifier"] = json!(course);
            assert_eq!(
                refused(&fixture, sam.participant_id, action, attributes).await,
                ["participant_id"],
                "{action} {course}"
            );
        }
    }
}

// Deferring.

#[tokio::test]
async fn deferring_records_reason_and_date() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    let data =
        done(&fixture, sam, "defer", json!({"course_identifier": "npq-headship", "reason": "career-break"})).await;
    let enrolment = &data["attributes"]["npq_enrolments"][0];
    assert_eq!(enrolment["training_status"], "deferred");
    assert_eq!(enrolment["deferral"], json!({"reason": "career-break", "date": "2026-01-05T10:00:00Z"}));
    assert_eq!(enrolment["withdrawal"], Value::Null);
    assert_eq!(data["attributes"]["updated_at"], "2026-01-05T10:00:00Z");
    assert_eq!(data, shown(&fixture, sam).await, "the response is the refreshed participant");
    assert_eq!(fixture.stored(application).training_status, Some(TrainingStatus::Deferred));
}

#[tokio::test]
async fn deferral_reason_must_be_listed() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    let reasons =
        [json!("holiday"), json!("change-in-career"), json!("Parental-leave"), json!(""), json!(null), json!(3)];
    for reason in reasons {
        let attributes = json!({"course_identifier": "npq-headship", "reason": reason});
        assert_eq!(refused(&fixture, sam, "defer", attributes).await, ["reason"], "{reason}");
    }
    let attributes = json!({"course_identifier": "npq-headship"});
    assert_eq!(refused(&fixture, sam, "defer", attributes).await, ["reason"], "without a reason");
    assert_eq!(fixture.stored(application).training_status, Some(TrainingStatus::Active));
}

#[tokio::test]
async fn deferring_a_deferred_participant_is_refused() {
    let (fixture, sam, application) =
        with_sam("2025a", |enrolment| with_training_status(enrolment, TrainingStatus::Deferred));
    fixture.store.set_declarations(application, declared());
    assert_eq!(refused(&fixture, sam, "defer", valid_attributes("defer")).await, ["participant_id"]);
}

#[tokio::test]
async fn deferring_a_withdrawn_participant_is_refused() {
    let (fixture, sam, application) =
        with_sam("2025a", |enrolment| with_training_status(enrolment, TrainingStatus::Withdrawn));
    fixture.store.set_declarations(application, declared());
    assert_eq!(refused(&fixture, sam, "defer", valid_attributes("defer")).await, ["participant_id"]);
    assert_eq!(fixture.stored(application).training_status, Some(TrainingStatus::Withdrawn));
}

#[tokio::test]
async fn deferring_without_declarations_is_refused() {
    let voided_only = DeclarationSummary { not_voided: 0, billable: 0, started: 0 };
    for declarations in [None, Some(voided_only)] {
        let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
        if let Some(summary) = declarations {
            fixture.store.set_declarations(application, summary);
        }
        let response = act(&fixture, sam, "defer", valid_attributes("defer")).await;
        let titles = error_titles(response, StatusCode::UNPROCESSABLE_ENTITY, &format!("{declarations:?}")).await;
        assert_eq!(titles, ["participant_id"]);
        assert_eq!(fixture.stored(application).training_status, Some(TrainingStatus::Active));
    }
}

// Resuming.

#[tokio::test]
async fn resuming_clears_withdrawal_and_deferral() {
    for (status, action) in [(TrainingStatus::Deferred, "defer"), (TrainingStatus::Withdrawn, "withdraw")] {
        let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
        fixture.store.set_declarations(application, declared());
        done(&fixture, sam, action, valid_attributes(action)).await;
        assert_eq!(fixture.stored(application).training_status, Some(status));

        let data = done(&fixture, sam, "resume", valid_attributes("resume")).await;
        let enrolment = &data["attributes"]["npq_enrolments"][0];
        assert_eq!(enrolment["training_status"], "active", "from {status:?}");
        assert_eq!(enrolment["withdrawal"], Value::Null, "from {status:?}");
        assert_eq!(enrolment["deferral"], Value::Null, "from {status:?}");
    }
}

#[tokio::test]
async fn resuming_an_active_participant_is_refused() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    assert_eq!(refused(&fixture, sam, "resume", valid_attributes("resume")).await, ["participant_id"]);
}

// Withdrawing.

#[tokio::test]
async fn withdrawing_records_reason_and_date() {
    for status in [TrainingStatus::Active, TrainingStatus::Deferred] {
        let (fixture, sam, application) = with_sam("2025a", |enrolment| with_training_status(enrolment, status));
        fixture.store.set_declarations(application, declared());
        let reason = "quality-of-programme-structure-not-suitable.";
        let data =
            done(&fixture, sam, "withdraw", json!({"course_identifier": "npq-headship", "reason": reason})).await;
        let enrolment = &data["attributes"]["npq_enrolments"][0];
        assert_eq!(enrolment["training_status"], "withdrawn", "from {status:?}");
        assert_eq!(enrolment["withdrawal"], json!({"reason": reason, "date": "2026-01-05T10:00:00Z"}));
        assert_eq!(enrolment["deferral"], Value::Null, "from {status:?}");
        assert_eq!(data, shown(&fixture, sam).await);
    }
}

#[tokio::test]
async fn withdrawal_reason_must_be_listed() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    let reasons = [
        json!("quality-of-programme-structure-not-suitable"),
        json!("parental-leave"),
        json!("bored"),
        json!(""),
        json!(null),
        json!(true),
    ];
    for reason in reasons {
        let attributes = json!({"course_identifier": "npq-headship", "reason": reason});
        assert_eq!(refused(&fixture, sam, "withdraw", attributes).await, ["reason"], "{reason}");
    }
    assert_eq!(fixture.stored(application).training_status, Some(TrainingStatus::Active));
}

#[tokio::test]
async fn withdrawing_a_withdrawn_participant_is_refused() {
    let (fixture, sam, application) =
        with_sam("2025a", |enrolment| with_training_status(enrolment, TrainingStatus::Withdrawn));
    fixture.store.set_declarations(application, declared());
    assert_eq!(refused(&fixture, sam, "withdraw", valid_attributes("withdraw")).await, ["participant_id"]);
}

#[tokio::test]
async fn withdrawing_without_started_declaration_is_refused() {
    let retained_only = DeclarationSummary { not_voided: 1, billable: 1, started: 0 };
    for declarations in [None, Some(retained_only)] {
        let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
        if let Some(summary) = declarations {
            fixture.store.set_declarations(application, summary);
        }
        let response = act(&fixture, sam, "withdraw", valid_attributes("withdraw")).await;
        response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let body = json_body(response).await;
        assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{declarations:?}: {body}");
        assert_eq!(body["errors"][0]["title"], "participant_id");
        assert!(body["errors"][0]["detail"].as_str().unwrap().contains("support"), "{body}");
        assert_eq!(fixture.stored(application).training_status, Some(TrainingStatus::Active));
    }
}

// Changing the schedule.

fn schedule_change(schedule: Value, cohort: Option<&str>) -> Value {
    let mut attributes = json!({"course_identifier": "npq-headship", "schedule_identifier": schedule});
    if let Some(cohort) = cohort {
        attributes["cohort"] = json!(cohort);
    }
    attributes
}

#[tokio::test]
async fn changing_schedule_keeps_the_cohort() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    let data = done(&fixture, sam, "change-schedule", schedule_change(json!("npq-leadership-spring"), None)).await;
    let enrolment = &data["attributes"]["npq_enrolments"][0];
    assert_eq!(enrolment["schedule_identifier"], "npq-leadership-spring");
    assert_eq!(enrolment["cohort"], "2025");
    assert_eq!(enrolment["funded_place"], true);
    assert_eq!(data, shown(&fixture, sam).await);
}

#[tokio::test]
async fn changing_schedule_can_move_cohort() {
    let cases = [
        ("2024a", Some("2025"), "2025", "a", json!(true)),
        ("2025a", Some("2026"), "2026", "b", json!(true)),
        ("2023a", Some("2024"), "2024", "a", json!(true)),
        ("2025a", None, "2025", "a", json!(true)),
    ];
    for (from, cohort, year, suffix, funded_place) in cases {
        let (fixture, sam, _) = with_sam(from, |enrolment| enrolment);
        let attributes = schedule_change(json!("npq-leadership-spring"), cohort);
        let enrolment =
            done(&fixture, sam, "change-schedule", attributes).await["attributes"]["npq_enrolments"][0].clone();
        let context = format!("{from} to {cohort:?}");
        assert_eq!(enrolment["cohort"], year, "{context}");
        assert_eq!(enrolment["cohort_suffix"], suffix, "{context}");
        assert_eq!(enrolment["schedule_identifier"], "npq-leadership-spring", "{context}");
        assert_eq!(enrolment["funded_place"], funded_place, "{context}");
    }

    let (fixture, sam, _) = with_sam("2023a", |mut enrolment| {
        enrolment.eligible_for_funding = false;
        enrolment
    });
    let attributes = schedule_change(json!("npq-leadership-spring"), Some("2024"));
    let enrolment = done(&fixture, sam, "change-schedule", attributes).await["attributes"]["npq_enrolments"][0].clone();
    assert_eq!(enrolment["funded_place"], false, "an ineligible participant gets no funded place");
}

#[tokio::test]
async fn cohort_without_contract_is_rejected() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    let provider = fixture.provider;
    if let Some(terms) = fixture.store.terms.lock().unwrap().get_mut(&provider) {
        terms.contracts.retain(|(cohort, course)| !(cohort.start_year() == 2026 && *course == Course::Headship));
    }
    let response =
        act(&fixture, sam, "change-schedule", schedule_change(json!("npq-leadership-spring"), Some("2026"))).await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_body(response).await;
    assert_eq!(body["errors"][0]["title"], "cohort", "{body}");
    assert!(body["errors"][0]["detail"].as_str().unwrap().contains("contract"), "{body}");
    assert_eq!(fixture.stored(application).cohort.start_year(), 2025);
}

#[tokio::test]
async fn schedule_must_be_named_and_exist() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    let cases = [
        schedule_change(json!(null), None),
        schedule_change(json!(""), None),
        schedule_change(json!("npq-made-up"), None),
        schedule_change(json!(12), None),
        schedule_change(json!("npq-leadership-spring"), Some("2028")),
        schedule_change(json!("npq-aso-june"), None),
        json!({"course_identifier": "npq-headship", "cohort": "2025"}),
    ];
    for attributes in cases {
        assert_eq!(
            refused(&fixture, sam, "change-schedule", attributes.clone()).await,
            ["schedule_identifier"],
            "{attributes}"
        );
    }
    assert_eq!(fixture.stored(application).schedule, Some(ScheduleIdentifier::LeadershipAutumn));
}

#[tokio::test]
async fn unreadable_cohort_is_refused() {
    let (fixture, sam, _) = with_sam("2025a", |enrolment| enrolment);
    for cohort in ["twenty", "2030", "2025-26"] {
        let attributes = schedule_change(json!("npq-leadership-spring"), Some(cohort));
        assert_eq!(refused(&fixture, sam, "change-schedule", attributes).await, ["cohort"], "{cohort}");
    }
}

#[tokio::test]
async fn withdrawn_participant_cannot_change_schedule() {
    let (fixture, sam, application) =
        with_sam("2025a", |enrolment| with_training_status(enrolment, TrainingStatus::Withdrawn));
    let attributes = schedule_change(json!("npq-leadership-spring"), None);
    assert_eq!(refused(&fixture, sam, "change-schedule", attributes).await, ["participant_id"]);
    assert_eq!(fixture.stored(application).schedule, Some(ScheduleIdentifier::LeadershipAutumn));

    let (fixture, sam, _) = with_sam("2025a", |enrolment| with_training_status(enrolment, TrainingStatus::Deferred));
    done(&fixture, sam, "change-schedule", schedule_change(json!("npq-leadership-spring"), None)).await;
}

/// The in-memory store, except that every decision is given these declarations that lead to
/// payment, which the in-memory store does not keep.
struct WithBillableDeclarations {
    store: Arc<MemoryStore>,
    declarations: Vec<BillableDeclaration>,
}

#[async_trait]
impl DecisionStore for WithBillableDeclarations {
    async fn decide(
        &self,
        id: ApplicationId,
        visible_to: Option<LeadProviderId>,
        rule: DecisionRule,
    ) -> Result<Option<Outcome>, DomainError> {
        let declarations = self.declarations.clone();
        let with_declarations: DecisionRule = Box::new(move |context: &DecisionContext| {
            rule(&DecisionContext { billable_declarations: declarations, ..context.clone() })
        });
        self.store.decide(id, visible_to, with_declarations).await
    }

    async fn merge_accounts(
        &self,
        kept: ParticipantId,
        retired: ParticipantId,
        rule: MergeRule,
    ) -> Result<Option<npq_domain::participant::MergeOutcome>, DomainError> {
        self.store.merge_accounts(kept, retired, rule).await
    }

    async fn find_any_application(&self, id: ApplicationId) -> Result<Option<(Application, Person)>, StoreError> {
        self.store.find_any_application(id).await
    }

    async fn stale_pending_applications(
        &self,
        created_before: Timestamp,
        cohort: Option<CohortIdentifier>,
        limit: u32,
    ) -> Result<Vec<ApplicationId>, StoreError> {
        self.store.stale_pending_applications(created_before, cohort, limit).await
    }

    async fn application_history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
        self.store.application_history(id).await
    }
}

#[async_trait]
impl ParticipantRepository for WithBillableDeclarations {
    async fn list_participants(
        &self,
        lead_provider: LeadProviderId,
        query: &ParticipantQuery,
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        self.store.list_participants(lead_provider, query).await
    }

    async fn find_participant(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
    ) -> Result<Option<ParticipantRecord>, StoreError> {
        self.store.find_participant(lead_provider, id).await
    }

    async fn find_retirement(
        &self,
        id: ParticipantId,
    ) -> Result<Option<(ParticipantIdChange, Vec<ParticipantIdChange>)>, StoreError> {
        self.store.find_retirement(id).await
    }
}

#[tokio::test]
async fn schedule_invalidating_a_declaration_is_refused() {
    let sam = someone("Sam Example");
    let started_in_october = BillableDeclaration {
        declaration_type: DeclarationType::Started,
        declaration_date: chrono::Utc.with_ymd_and_hms(2025, 10, 15, 9, 0, 0).unwrap(),
    };
    let fixture = Fixture::with_participant_backend(
        |provider, _| {
            vec![(
                enrolled(&sam, provider, "2025a", Course::Headship, ScheduleIdentifier::LeadershipAutumn),
                sam.clone(),
            )]
        },
        |store| Arc::new(WithBillableDeclarations { store, declarations: vec![started_in_october] }),
    );
    let attributes = schedule_change(json!("npq-leadership-spring"), None);
    let response = act(&fixture, sam.participant_id, "change-schedule", attributes).await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_body(response).await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["errors"][0]["title"], "schedule_identifier");
    assert!(body["errors"][0]["detail"].as_str().unwrap().contains("started"), "{body}");
    assert_eq!(fixture.stored(fixture.id(0)).schedule, Some(ScheduleIdentifier::LeadershipAutumn));
}

#[tokio::test]
async fn unchanged_schedule_is_refused() {
    let (fixture, sam, _) = with_sam("2025a", |enrolment| enrolment);
    for cohort in [None, Some("2025")] {
        let attributes = schedule_change(json!("npq-leadership-autumn"), cohort);
        assert_eq!(refused(&fixture, sam, "change-schedule", attributes).await, ["schedule_identifier"], "{cohort:?}");
    }
}

#[tokio::test]
async fn schedule_for_another_course_is_refused() {
    let (fixture, sam, application) = with_sam("2025a", |enrolment| enrolment);
    for schedule in ["npq-specialist-spring", "npq-ehco-march"] {
        let attributes = schedule_change(json!(schedule), None);
        assert_eq!(refused(&fixture, sam, "change-schedule", attributes).await, ["schedule_identifier"], "{schedule}");
    }
    assert_eq!(fixture.stored(application).schedule, Some(ScheduleIdentifier::LeadershipAutumn));
}

#[tokio::test]
async fn cohort_change_with_billable_declarations_is_refused() {
    let (fixture, sam, application) = with_sam("2024a", |enrolment| enrolment);
    fixture.store.set_declarations(application, declared());
    let attributes = schedule_change(json!("npq-leadership-spring"), Some("2025"));
    assert_eq!(refused(&fixture, sam, "change-schedule", attributes).await, ["cohort"]);
    assert_eq!(fixture.stored(application).cohort.to_string(), "2024a");
}

#[tokio::test]
async fn capped_place_cannot_move_to_full_funding() {
    let (fixture, sam, application) = with_sam("2024a", |enrolment| enrolment);
    let attributes = schedule_change(json!("npq-leadership-spring"), Some("2023"));
    assert_eq!(refused(&fixture, sam, "change-schedule", attributes).await, ["cohort"]);
    assert_eq!(fixture.stored(application).cohort.to_string(), "2024a");
}

#[tokio::test]
async fn unfunded_place_cannot_move_to_funded_cohort() {
    for cohort in ["2025", "2023"] {
        let sam = someone("Sam Example");
        let fixture = Fixture::with_applications(|provider, _| {
            let application = enrolled(&sam, provider, "2026a", Course::Headship, ScheduleIdentifier::LeadershipSpring);
            vec![(application, sam.clone())]
        });
        let attributes = schedule_change(json!("npq-leadership-autumn"), Some(cohort));
        assert_eq!(refused(&fixture, sam.participant_id, "change-schedule", attributes).await, ["cohort"], "{cohort}");
    }
}
