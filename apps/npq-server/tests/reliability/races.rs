//! Writes that race over HTTP and the real store, on SQLite and PostgreSQL. Two requests about one
//! declaration or application are sent at the same moment, many times. Each round must end in a
//! state that one of the two serial orders would give, with no 5xx.
//!
//! Identical declarations racing, and two providers accepting one person, are tested beside the
//! declaration and decision tests.

use std::sync::Arc;

use npq_store_seaorm::backend_tests;
use npq_store_seaorm::test_support::Backend;
use poem::http::Method;
use serde_json::{Value, json};

use crate::support::{Api, DECLARATIONS, Enrolment, declaration, first_title};

/// Rounds per race. Each round is a new participant, so the two requests meet afresh.
const ROUNDS: usize = 12;

const STARTED: &str = "2025-11-03T10:00:00Z";

/// Sends two requests at once, each on its own task, and returns both responses in the order
/// given.
async fn race(
    api: &Arc<Api>,
    first: (Method, String, Option<Value>),
    second: (Method, String, Option<Value>),
) -> [(u16, Value); 2] {
    let send = |(method, path, body): (Method, String, Option<Value>)| {
        let api = api.clone();
        tokio::spawn(async move { api.send(method, 0, &path, body).await })
    };
    let first = send(first);
    let second = send(second);
    [first.await.expect("the first request ran"), second.await.expect("the second request ran")]
}

/// Voiding a declaration and changing its delivery partner at the same moment: both succeed, and
/// the declaration ends voided, naming the new partner, with its payment line voided.
async fn void_races_delivery_partner_change(backend: Backend) {
    let api = Arc::new(Api::new(backend, 1).await);
    let partners = api.partners(0, "2025a");
    let (old_partner, new_partner) = (partners[0].to_string(), partners[1].to_string());
    for round in 0..ROUNDS {
        let (person, _) = api.participant(Enrolment::default()).await;
        let (id, declared) = api.declared(0, declaration(&person, "started", STARTED, Some(partners[0]))).await;
        assert_eq!(declared["state"], "eligible", "round {round}");

        let change = json!({"data": {"type": "participant-declaration-change-delivery-partner", "attributes": {"delivery_partner_id": new_partner}}});
        let [(void_status, voided), (change_status, changed)] = race(
            &api,
            (Method::PUT, format!("{DECLARATIONS}/{id}/void"), None),
            (Method::PUT, format!("{DECLARATIONS}/{id}/change-delivery-partner"), Some(change)),
        )
        .await;
        assert_eq!(void_status, 200, "round {round}: {voided}");
        assert_eq!(change_status, 200, "round {round}: {changed}");

        // Either the change came first and the void saw the new partner, or the void came first
        // and the change saw a voided declaration.
        let voided = &voided["data"]["attributes"];
        let changed = &changed["data"]["attributes"];
        let change_first = changed["state"] == "eligible" && voided["delivery_partner_id"] == new_partner.as_str();
        let void_first = changed["state"] == "voided" && voided["delivery_partner_id"] == old_partner.as_str();
        assert!(change_first || void_first, "round {round}: no serial order gives {voided} and {changed}");

        let (status, shown) = api.send(Method::GET, 0, &format!("{DECLARATIONS}/{id}"), None).await;
        assert_eq!(status, 200, "round {round}");
        assert_eq!(shown["data"]["attributes"]["state"], "voided", "round {round}");
        assert_eq!(shown["data"]["attributes"]["delivery_partner_id"], new_partner.as_str(), "round {round}");
        let lines = api.statement_lines(&id).await;
        assert_eq!(lines, [("output".to_owned(), "voided".to_owned())], "round {round}: the payment line is voided");
    }
}

/// Making a funded place unfunded while a declaration is submitted on the application: either
/// the declaration came first, is paid and blocks the change, or the change came first and the
/// declaration is submitted without payment. Never an unfunded place with a paid declaration.
async fn funded_place_change_races_declaration(backend: Backend) {
    let api = Arc::new(Api::new(backend, 1).await);
    let partner = api.partners(0, "2025a")[0];
    for round in 0..ROUNDS {
        let (person, application) = api.participant(Enrolment::default()).await;
        let unfunded =
            json!({"data": {"type": "npq-application-change-funded-place", "attributes": {"funded_place": false}}});
        let submission = json!({"data": {"type": "participant-declaration", "attributes": declaration(&person, "started", STARTED, Some(partner))}});
        let [(change_status, changed), (declare_status, declared)] = race(
            &api,
            (Method::PUT, format!("/api/v3/npq-applications/{}/change-funded-place", application.id), Some(unfunded)),
            (Method::POST, DECLARATIONS.to_owned(), Some(submission)),
        )
        .await;
        assert_eq!(declare_status, 200, "round {round}: the declaration is valid in either order: {declared}");
        let id = declared["data"]["id"].as_str().unwrap_or_default().to_owned();
        let state = declared["data"]["attributes"]["state"].clone();

        let (status, shown) =
            api.send(Method::GET, 0, &format!("/api/v3/npq-applications/{}", application.id), None).await;
        assert_eq!(status, 200, "round {round}");
        let funded_place = shown["data"]["attributes"]["funded_place"].clone();
        let lines = api.statement_lines(&id).await;
        match change_status {
            200 => {
                assert_eq!(funded_place, false, "round {round}: the change was stored");
                assert_eq!(state, "submitted", "round {round}: an unfunded place is not paid");
                assert!(lines.is_empty(), "round {round}: no payment line for an unfunded place: {lines:?}");
            }
            422 => {
                assert_eq!(first_title(&changed), "application", "round {round}: {changed}");
                assert_eq!(funded_place, true, "round {round}: the refused change left the place funded");
                assert_eq!(state, "eligible", "round {round}: the funded declaration is paid");
                assert_eq!(lines, [("output".to_owned(), "eligible".to_owned())], "round {round}");
            }
            other => panic!("round {round}: the change returned {other}: {changed}"),
        }
    }
}

/// Withdrawing a participant while their `started` declaration is submitted: withdrawal needs a
/// live `started` declaration, so either the declaration came first and both succeed, or the
/// withdrawal came first and is refused. Never a withdrawal without its declaration.
async fn withdrawal_races_declaration(backend: Backend) {
    let api = Arc::new(Api::new(backend, 1).await);
    let partner = api.partners(0, "2025a")[0];
    for round in 0..ROUNDS {
        let (person, _) = api.participant(Enrolment::default()).await;
        let withdrawal = json!({"data": {"type": "participant-withdraw", "attributes": {"course_identifier": "npq-headship", "reason": "personal-reason-other"}}});
        let submission = json!({"data": {"type": "participant-declaration", "attributes": declaration(&person, "started", STARTED, Some(partner))}});
        let participant = format!("/api/v3/participants/npq/{}", person.participant_id);
        let [(withdraw_status, withdrawn), (declare_status, declared)] = race(
            &api,
            (Method::PUT, format!("{participant}/withdraw"), Some(withdrawal)),
            (Method::POST, DECLARATIONS.to_owned(), Some(submission)),
        )
        .await;
        assert_eq!(declare_status, 200, "round {round}: the declaration predates any withdrawal: {declared}");
        assert_eq!(declared["data"]["attributes"]["state"], "eligible", "round {round}");

        let (status, shown) = api.send(Method::GET, 0, &participant, None).await;
        assert_eq!(status, 200, "round {round}");
        let training_status = shown["data"]["attributes"]["npq_enrolments"][0]["training_status"].clone();
        match withdraw_status {
            200 => assert_eq!(training_status, "withdrawn", "round {round}"),
            422 => {
                assert_eq!(first_title(&withdrawn), "participant_id", "round {round}: {withdrawn}");
                assert_eq!(training_status, "active", "round {round}: the refused withdrawal changed nothing");
            }
            other => panic!("round {round}: the withdrawal returned {other}: {withdrawn}"),
        }
    }
}

backend_tests!(void_races_delivery_partner_change, funded_place_change_races_declaration, withdrawal_races_declaration);
