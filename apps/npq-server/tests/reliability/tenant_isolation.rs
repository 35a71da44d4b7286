//! Tenant isolation, as a property over random data on SQLite and PostgreSQL. Three lead providers
//! hold random applications of random people, declare for their participants, and DfE transfers
//! random applications between them. Then every list and show of each provider returns exactly
//! what the visibility rules allow, and its writes touch nothing else.
//!
//! The rules: a provider sees the applications it holds now, the participants with an accepted
//! application it holds now, and the declarations it made or that are on an application it holds
//! now. Only the provider that made a declaration may void it or change its partners (403 for the
//! other provider that sees it); anything a provider does not see is a 404.
//!
//! Each case builds a new database, so the default is a handful of cases. Set
//! `NPQ_ISOLATION_CASES` for a longer run, such as `NPQ_ISOLATION_CASES=200`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use npq_domain::course::Course;
use npq_domain::schedule::ScheduleIdentifier;
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::entity::{application, application_history, declaration};
use npq_store_seaorm::test_support::Backend;
use poem::http::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::support::{Api, DECLARATIONS, Enrolment};

/// Lead providers with a token in every case.
const PROVIDERS: usize = 3;

/// Cases per backend when `NPQ_ISOLATION_CASES` is not set.
const DEFAULT_CASES: u32 = 4;

const STARTED: &str = "2025-11-03T10:00:00Z";

/// The courses the generated applications are for: leadership courses, which share a schedule.
const COURSES: [Course; 3] = [Course::Headship, Course::SeniorLeadership, Course::ExecutiveLeadership];

/// One generated application: who holds it first, for which course, whether it is accepted, and
/// whether its holder declares `started` for it before any transfer.
#[derive(Debug, Clone)]
struct PlannedApplication {
    provider: usize,
    course: usize,
    accepted: bool,
    declared: bool,
}

/// One generated case: people with their applications (at most one per course), then transfers
/// of applications, by index into all applications in order, to a provider.
#[derive(Debug, Clone)]
struct Scenario {
    people: Vec<Vec<PlannedApplication>>,
    transfers: Vec<(usize, usize)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let planned = (0..PROVIDERS, 0..COURSES.len(), any::<bool>(), any::<bool>())
        .prop_map(|(provider, course, accepted, declared)| PlannedApplication { provider, course, accepted, declared });
    let person = prop::collection::vec(planned, 1..=3).prop_map(|mut applications| {
        let mut courses = BTreeSet::new();
        applications.retain(|application| courses.insert(application.course));
        applications
    });
    let people = prop::collection::vec(person, 1..=5);
    let transfers = prop::collection::vec((0usize..15, 0..PROVIDERS), 0..=4);
    (people, transfers).prop_map(|(people, transfers)| Scenario { people, transfers })
}

/// One stored application, as the model tracks it.
#[derive(Debug, Clone)]
struct ModelApplication {
    id: String,
    participant_id: String,
    course: Course,
    holder: usize,
    accepted: bool,
}

/// One stored declaration, as the model tracks it.
#[derive(Debug, Clone)]
struct ModelDeclaration {
    id: String,
    maker: usize,
    application: usize,
}

struct Model {
    applications: Vec<ModelApplication>,
    declarations: Vec<ModelDeclaration>,
}

impl Model {
    fn applications_of(&self, provider: usize) -> BTreeSet<String> {
        self.applications
            .iter()
            .filter(|application| application.holder == provider)
            .map(|application| application.id.clone())
            .collect()
    }

    fn participants_of(&self, provider: usize) -> BTreeSet<String> {
        self.applications
            .iter()
            .filter(|application| application.holder == provider && application.accepted)
            .map(|application| application.participant_id.clone())
            .collect()
    }

    fn declarations_of(&self, provider: usize) -> BTreeSet<String> {
        self.declarations
            .iter()
            .filter(|declaration| {
                declaration.maker == provider || self.applications[declaration.application].holder == provider
            })
            .map(|declaration| declaration.id.clone())
            .collect()
    }
}

/// Returns the ids of every record a list returns, walking its pages.
async fn listed(api: &Api, provider: usize, path: &str) -> Result<BTreeSet<String>, TestCaseError> {
    let mut ids = BTreeSet::new();
    for page in 1.. {
        let separator = if path.contains('?') { '&' } else { '?' };
        let (status, body) = api
            .send(Method::GET, provider, &format!("{path}{separator}page[per_page]=50&page[page]={page}"), None)
            .await;
        prop_assert_eq!(status, 200, "{} for provider {}: {}", path, provider, body);
        let data = body["data"].as_array().cloned().unwrap_or_default();
        if data.is_empty() {
            break;
        }
        for record in data {
            prop_assert!(ids.insert(record["id"].as_str().unwrap_or_default().to_owned()), "{} repeats a record", path);
        }
    }
    Ok(ids)
}

/// The stored state of every application and declaration, and the number of history entries, to
/// show that a refused write changed nothing.
#[derive(Debug, PartialEq)]
struct Snapshot {
    applications: BTreeMap<String, String>,
    declarations: BTreeMap<String, String>,
    history_entries: usize,
}

async fn snapshot(api: &Api) -> Snapshot {
    let connection = api.database.store.connection();
    let applications = application::Entity::find().all(connection).await.expect("applications can be read");
    let declarations = declaration::Entity::find().all(connection).await.expect("declarations can be read");
    let history = application_history::Entity::find().all(connection).await.expect("history can be read");
    Snapshot {
        applications: applications
            .into_iter()
            .map(|row| {
                let state = format!(
                    "{} {} {:?} {:?} {}",
                    row.lead_provider_id, row.status, row.training_status, row.funded_place, row.updated_at
                );
                (row.public_id.to_string(), state)
            })
            .collect(),
        declarations: declarations
            .into_iter()
            .map(|row| {
                let state = format!("{} {:?} {}", row.state, row.delivery_partner_id, row.updated_at);
                (row.public_id.to_string(), state)
            })
            .collect(),
        history_entries: history.len(),
    }
}

/// Builds the scenario in a new database and returns the API with the model of what is stored.
async fn build(backend: Backend, scenario: &Scenario) -> Result<(Arc<Api>, Model), TestCaseError> {
    let api = Arc::new(Api::new(backend, PROVIDERS).await);
    let mut model = Model { applications: Vec::new(), declarations: Vec::new() };
    let mut to_declare = Vec::new();
    for planned_applications in &scenario.people {
        let person = api.person();
        let mut applications = Vec::new();
        for planned in planned_applications {
            let course = COURSES[planned.course];
            let application = if planned.accepted {
                let enrolment = Enrolment {
                    provider: planned.provider,
                    course,
                    schedule: ScheduleIdentifier::LeadershipAutumn,
                    ..Enrolment::default()
                };
                api.accepted_application(&person, enrolment)
            } else {
                let mut pending =
                    npq_domain::testing::application(&person, api.tokens[planned.provider].0, chrono::Utc::now());
                pending.course = course;
                pending
            };
            if planned.accepted && planned.declared {
                to_declare.push((
                    model.applications.len(),
                    person.participant_id.to_string(),
                    course,
                    planned.provider,
                ));
            }
            model.applications.push(ModelApplication {
                id: application.id.to_string(),
                participant_id: person.participant_id.to_string(),
                course,
                holder: planned.provider,
                accepted: planned.accepted,
            });
            applications.push(application);
        }
        api.database.store.insert_people(std::slice::from_ref(&person)).await.expect("the person is stored");
        api.database.store.insert_applications(&applications).await.expect("the applications are stored");
    }

    for (application, participant_id, course, provider) in to_declare {
        let partner = api.partners(provider, "2025a")[0];
        let attributes = json!({
            "participant_id": participant_id,
            "declaration_type": "started",
            "declaration_date": STARTED,
            "course_identifier": course.as_str(),
            "delivery_partner_id": partner.to_string(),
        });
        let (id, _) = api.declared(provider, attributes).await;
        model.declarations.push(ModelDeclaration { id, maker: provider, application });
    }

    for (index, target) in &scenario.transfers {
        let Some(application) = model.applications.get_mut(*index) else { continue };
        if application.holder == *target {
            continue;
        }
        let body = json!({"data": {"attributes": {"lead_provider_id": api.tokens[*target].0.to_string(), "note": "transfer"}}});
        let path = format!("/api/admin/v1/applications/{}/change-lead-provider", application.id);
        let (status, response) = api.send_with(Method::PUT, &api.admin, &path, Some(body)).await;
        prop_assert_eq!(status, 200, "transfer of {}: {}", application.id, response);
        application.holder = *target;
    }
    Ok((api, model))
}

/// Checks every read of every provider against the model.
async fn check_reads(api: &Api, model: &Model) -> Result<(), TestCaseError> {
    for provider in 0..PROVIDERS {
        let applications = model.applications_of(provider);
        prop_assert_eq!(
            &listed(api, provider, "/api/v3/npq-applications").await?,
            &applications,
            "provider {}",
            provider
        );
        let participants = model.participants_of(provider);
        prop_assert_eq!(
            &listed(api, provider, "/api/v3/participants/npq").await?,
            &participants,
            "provider {}",
            provider
        );
        let declarations = model.declarations_of(provider);
        prop_assert_eq!(&listed(api, provider, DECLARATIONS).await?, &declarations, "provider {}", provider);

        for application in &model.applications {
            let expected = if applications.contains(&application.id) { 200 } else { 404 };
            let (status, _) =
                api.send(Method::GET, provider, &format!("/api/v3/npq-applications/{}", application.id), None).await;
            prop_assert_eq!(status, expected, "provider {} shows application {}", provider, application.id);
            let expected = if participants.contains(&application.participant_id) { 200 } else { 404 };
            let path = format!("/api/v3/participants/npq/{}", application.participant_id);
            let (status, _) = api.send(Method::GET, provider, &path, None).await;
            prop_assert_eq!(status, expected, "provider {} shows participant {}", provider, application.participant_id);
        }
        for declaration in &model.declarations {
            let expected = if declarations.contains(&declaration.id) { 200 } else { 404 };
            let (status, _) =
                api.send(Method::GET, provider, &format!("{DECLARATIONS}/{}", declaration.id), None).await;
            prop_assert_eq!(status, expected, "provider {} shows declaration {}", provider, declaration.id);
        }
    }
    Ok(())
}

/// Sends every write a provider may not make and checks each is refused and nothing changed.
async fn check_refused_writes(api: &Api, model: &Model) -> Result<(), TestCaseError> {
    let before = snapshot(api).await;
    for provider in 0..PROVIDERS {
        let applications = model.applications_of(provider);
        let participants = model.participants_of(provider);
        let declarations = model.declarations_of(provider);
        for application in model.applications.iter().filter(|application| !applications.contains(&application.id)) {
            let path = format!("/api/v3/npq-applications/{}", application.id);
            let (status, _) = api.send(Method::POST, provider, &format!("{path}/reject"), None).await;
            prop_assert_eq!(status, 404, "provider {} rejects {}", provider, application.id);
            let funded = json!({"data": {"attributes": {"funded_place": false}}});
            let (status, _) =
                api.send(Method::PUT, provider, &format!("{path}/change-funded-place"), Some(funded)).await;
            prop_assert_eq!(status, 404, "provider {} changes the funded place of {}", provider, application.id);
            if !participants.contains(&application.participant_id) {
                let path = format!("/api/v3/participants/npq/{}/defer", application.participant_id);
                let body = json!({"data": {"attributes": {"course_identifier": application.course.as_str(), "reason": "other"}}});
                let (status, _) = api.send(Method::PUT, provider, &path, Some(body)).await;
                prop_assert_eq!(status, 404, "provider {} defers {}", provider, application.participant_id);
            }
        }
        for declaration in model.declarations.iter().filter(|declaration| declaration.maker != provider) {
            let expected = if declarations.contains(&declaration.id) { 403 } else { 404 };
            let path = format!("{DECLARATIONS}/{}", declaration.id);
            let (status, _) = api.send(Method::PUT, provider, &format!("{path}/void"), None).await;
            prop_assert_eq!(status, expected, "provider {} voids {}", provider, declaration.id);
            let partner = api.partners(provider, "2025a")[0].to_string();
            let body = json!({"data": {"attributes": {"delivery_partner_id": partner}}});
            let (status, _) =
                api.send(Method::PUT, provider, &format!("{path}/change-delivery-partner"), Some(body)).await;
            prop_assert_eq!(status, expected, "provider {} changes the partner of {}", provider, declaration.id);
        }
    }
    prop_assert_eq!(snapshot(api).await, before, "a refused write changed something");
    Ok(())
}

/// Voids one declaration of each provider that made one, and checks that only that declaration
/// changed.
async fn check_allowed_writes(api: &Api, model: &Model) -> Result<(), TestCaseError> {
    for provider in 0..PROVIDERS {
        let Some(own) = model.declarations.iter().find(|declaration| declaration.maker == provider) else { continue };
        let before = snapshot(api).await;
        let (status, body) = api.send(Method::PUT, provider, &format!("{DECLARATIONS}/{}/void", own.id), None).await;
        prop_assert_eq!(status, 200, "provider {} voids its own declaration {}: {}", provider, own.id, body);
        let after = snapshot(api).await;
        let changed: Vec<&String> = after
            .declarations
            .iter()
            .filter(|(id, state)| before.declarations.get(*id) != Some(*state))
            .map(|(id, _)| id)
            .collect();
        prop_assert_eq!(changed, vec![&own.id], "provider {} voided one declaration", provider);
        prop_assert_eq!(&after.applications, &before.applications, "voiding changed no application");
    }
    Ok(())
}

async fn check(backend: Backend, scenario: Scenario) -> Result<(), TestCaseError> {
    let (api, model) = build(backend, &scenario).await?;
    check_reads(&api, &model).await?;
    check_refused_writes(&api, &model).await?;
    check_allowed_writes(&api, &model).await
}

async fn each_provider_sees_and_changes_only_its_own(backend: Backend) {
    let cases = std::env::var("NPQ_ISOLATION_CASES")
        .ok()
        .map(|text| text.parse().unwrap_or_else(|_| panic!("NPQ_ISOLATION_CASES must be a whole number, not {text}")))
        .unwrap_or(DEFAULT_CASES);
    let handle = tokio::runtime::Handle::current();
    // The runner calls the property synchronously, so it runs on a blocking thread that can wait
    // for the asynchronous checks.
    let result = tokio::task::spawn_blocking(move || {
        let config = Config { cases, source_file: Some(file!()), ..Config::default() };
        TestRunner::new(config)
            .run(&scenario(), |scenario| handle.block_on(check(backend, scenario)))
            .map_err(|error| error.to_string())
    })
    .await
    .expect("the property ran");
    if let Err(error) = result {
        panic!("{error}");
    }
}

backend_tests!(each_provider_sees_and_changes_only_its_own);
