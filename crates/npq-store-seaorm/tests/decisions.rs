//! Decisions on applications over a real database, each test on SQLite and on PostgreSQL: every
//! decision is one transaction, and the database settles races between decisions.

use std::sync::Arc;

use chrono::{Duration, Utc};
use npq_domain::StoreError;
use npq_domain::application::{Application, ApplicationStatus, ReasonForRejection, TrainingStatus};
use npq_domain::decision::{AcceptRequest, HistoryField, Outcome};
use npq_domain::error::DomainError;
use npq_domain::ids::{ApplicationId, LeadProviderId};
use npq_domain::person::Person;
use npq_domain::ports::{ApplicationRepository, DecisionStore, SystemClock};
use npq_domain::service::DecisionService;
use npq_store_seaorm::Store;
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::reference_data;
use npq_store_seaorm::test_support::{Backend, TestDatabase};

struct World {
    database: TestDatabase,
    providers: Vec<LeadProviderId>,
}

impl World {
    async fn new(backend: Backend) -> Self {
        let database = TestDatabase::create(backend).await;
        let reference = reference_data(8);
        database.store.insert_reference_data(&reference).await.expect("reference data");
        let providers = reference.lead_providers.iter().map(|provider| provider.id).collect();
        Self { database, providers }
    }

    fn service(&self) -> DecisionService<Store, SystemClock> {
        DecisionService::new(self.database.store.clone(), SystemClock)
    }

    /// Stores a person with this TRN (verified) and one pending 2025 headship application with
    /// each of the given providers.
    async fn applicant(&self, trn: &str, providers: &[LeadProviderId]) -> (Person, Vec<Application>) {
        let mut person = npq_domain::testing::person("Robin Example");
        person.trn = trn.parse().ok();
        let created = Utc::now() - Duration::days(30);
        let applications: Vec<Application> =
            providers.iter().map(|provider| npq_domain::testing::application(&person, *provider, created)).collect();
        self.database.store.insert_people(std::slice::from_ref(&person)).await.expect("person");
        self.database.store.insert_applications(&applications).await.expect("applications");
        (person, applications)
    }

    async fn stored(&self, application: &Application) -> Application {
        self.database.store.find_any_application(application.id).await.expect("read").expect("application exists").0
    }
}

fn funded() -> AcceptRequest {
    AcceptRequest { funded_place: Some(true), schedule_identifier: None }
}

async fn accepting_rejects_the_same_persons_application_with_another_provider(backend: Backend) {
    let world = World::new(backend).await;
    let (_, applications) = world.applicant("1000001", &world.providers[..2]).await;
    let before = world.stored(&applications[1]).await;

    let view = world.service().accept(world.providers[0], applications[0].id, funded()).await.expect("accepted");
    assert_eq!(view.application.status, ApplicationStatus::Accepted);
    assert_eq!(view.application.training_status, Some(TrainingStatus::Active));
    assert_eq!(view.application.funded_place, Some(true));
    assert!(view.application.schedule.is_some());

    let sibling = world.stored(&applications[1]).await;
    assert_eq!(sibling.status, ApplicationStatus::Rejected);
    assert_eq!(sibling.reason_for_rejection, Some(ReasonForRejection::OtherApplicationInThisCohortAccepted));
    assert!(sibling.updated_at > before.updated_at, "the other provider notices the change");

    let history = world.database.store.application_history(applications[1].id).await.unwrap();
    let status_change = history.iter().find(|entry| entry.field == HistoryField::Status).expect("status recorded");
    assert_eq!(status_change.from.as_deref(), Some("pending"));
    assert_eq!(status_change.to.as_deref(), Some("rejected"));
    assert_eq!(status_change.reason.as_deref(), Some("other_application_in_this_cohort_accepted"));
}

/// Two providers accept the same person's applications for one course and cohort at the same
/// moment, many times over: exactly one acceptance wins each time.
async fn simultaneous_acceptances_by_two_providers_accept_exactly_one(backend: Backend) {
    let world = World::new(backend).await;
    let service = Arc::new(world.service());
    for round in 0..15 {
        let (_, applications) = world.applicant(&format!("{}", 2_000_000 + round), &world.providers[..2]).await;
        let tasks: Vec<_> = applications
            .iter()
            .map(|application| {
                let service = service.clone();
                let (provider, id) = (application.lead_provider_id, application.id);
                tokio::spawn(async move { service.accept(provider, id, funded()).await })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            match task.await.expect("task finished") {
                Ok(_) => accepted += 1,
                Err(DomainError::Invalid(errors)) => assert_eq!(errors[0].attribute, "application", "{errors:?}"),
                Err(other) => panic!("round {round}: unexpected error {other:?}"),
            }
        }
        assert_eq!(accepted, 1, "round {round}");
        let mut statuses = Vec::new();
        for application in &applications {
            statuses.push(world.stored(application).await.status);
        }
        assert_eq!(statuses.iter().filter(|status| **status == ApplicationStatus::Accepted).count(), 1, "{statuses:?}");
    }
}

/// Two accounts of one teacher (same verified TRN) race to be accepted for one course and cohort.
async fn simultaneous_acceptances_of_two_accounts_with_one_trn_accept_exactly_one(backend: Backend) {
    let world = World::new(backend).await;
    let service = Arc::new(world.service());
    for round in 0..10 {
        let trn = format!("{}", 3_000_000 + round);
        let (_, first) = world.applicant(&trn, &world.providers[..1]).await;
        let (_, second) = world.applicant(&trn, &world.providers[1..2]).await;
        let tasks: Vec<_> = [&first[0], &second[0]]
            .into_iter()
            .map(|application| {
                let service = service.clone();
                let (provider, id) = (application.lead_provider_id, application.id);
                tokio::spawn(async move { service.accept(provider, id, funded()).await })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            if task.await.expect("task finished").is_ok() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 1, "round {round}");
    }
}

async fn the_database_refuses_a_second_live_place_even_without_the_rules(backend: Backend) {
    let world = World::new(backend).await;
    let (_, applications) = world.applicant("1000002", &world.providers[..2]).await;
    let service = world.service();
    service.accept(world.providers[0], applications[0].id, funded()).await.expect("accepted");

    // Write a second acceptance directly, as a faulty rule would.
    let mut forced = world.stored(&applications[1]).await;
    forced.status = ApplicationStatus::Accepted;
    forced.training_status = Some(TrainingStatus::Active);
    forced.funded_place = Some(false);
    forced.schedule = world.stored(&applications[0]).await.schedule;
    assert_eq!(world.database.store.update_application(&forced).await, Err(StoreError::PlaceTaken));
}

async fn a_decision_that_breaks_a_constraint_writes_nothing(backend: Backend) {
    let world = World::new(backend).await;
    let (_, applications) = world.applicant("1000003", &world.providers[..2]).await;
    let first = world.stored(&applications[0]).await;
    let second = world.stored(&applications[1]).await;
    let at = Utc::now();
    let accept = |mut application: Application| {
        application.status = ApplicationStatus::Accepted;
        application.training_status = Some(TrainingStatus::Active);
        application.funded_place = Some(false);
        application.updated_at = at;
        application
    };
    let outcome = Outcome { changed: vec![accept(first.clone()), accept(second.clone())], ..Outcome::nothing(at) };
    let result = world.database.store.decide(first.id, None, Box::new(move |_| Ok(outcome))).await;
    assert_eq!(result, Err(DomainError::Store(StoreError::PlaceTaken)));
    assert_eq!(world.stored(&applications[0]).await, first, "the first write was rolled back");
    assert_eq!(world.stored(&applications[1]).await, second);
}

async fn rejecting_an_accepted_application_frees_the_place_for_a_duplicate_account(backend: Backend) {
    let world = World::new(backend).await;
    let service = world.service();
    let (_, first) = world.applicant("1000004", &world.providers[..1]).await;
    let (_, second) = world.applicant("1000004", &world.providers[1..2]).await;
    service.accept(world.providers[0], first[0].id, funded()).await.expect("accepted");
    let refused = service.accept(world.providers[1], second[0].id, funded()).await.unwrap_err();
    assert!(matches!(&refused, DomainError::Invalid(errors) if errors[0].attribute == "application"), "{refused:?}");

    let rejected = service.reject(world.providers[0], first[0].id).await.expect("rejected");
    assert_eq!(rejected.application.reason_for_rejection, Some(ReasonForRejection::RejectedByProvider));
    service.accept(world.providers[1], second[0].id, funded()).await.expect("the place is free again");
}

async fn another_providers_application_cannot_be_decided(backend: Backend) {
    let world = World::new(backend).await;
    let (_, applications) = world.applicant("1000005", &world.providers[..1]).await;
    let service = world.service();
    let result = service.accept(world.providers[1], applications[0].id, funded()).await;
    assert_eq!(result, Err(DomainError::NotFound));
    assert_eq!(service.reject(world.providers[1], ApplicationId::new_random()).await, Err(DomainError::NotFound));
    assert_eq!(world.stored(&applications[0]).await.status, ApplicationStatus::Pending);
}

async fn transferring_an_application_moves_it_to_the_new_provider(backend: Backend) {
    let world = World::new(backend).await;
    let (_, applications) = world.applicant("1000006", &world.providers[..1]).await;
    let service = world.service();
    service.accept(world.providers[0], applications[0].id, funded()).await.expect("accepted");
    let moved = service
        .change_lead_provider("ops@education.gov.uk", applications[0].id, world.providers[1], "merger".to_owned())
        .await
        .expect("transferred");
    assert_eq!(moved.lead_provider, world.providers[1]);
    let store = &world.database.store;
    assert!(store.find_application(world.providers[0], applications[0].id).await.unwrap().is_none());
    assert!(store.find_application(world.providers[1], applications[0].id).await.unwrap().is_some());
    let entry = moved.history.iter().find(|entry| entry.field == HistoryField::LeadProvider).expect("recorded");
    assert_eq!(entry.reason.as_deref(), Some("merger"));
    assert!(matches!(&entry.actor, npq_domain::decision::Actor::Dfe { user } if user == "ops@education.gov.uk"));
}

async fn reverting_to_pending_clears_the_decision_and_keeps_the_schedule(backend: Backend) {
    let world = World::new(backend).await;
    let (_, applications) = world.applicant("1000007", &world.providers[..1]).await;
    let service = world.service();
    let accepted = service.accept(world.providers[0], applications[0].id, funded()).await.expect("accepted");
    let reverted = service
        .revert_to_pending("ops@education.gov.uk", applications[0].id, "accepted in error".to_owned())
        .await
        .expect("reverted");
    let application = &reverted.view.application;
    assert_eq!(application.status, ApplicationStatus::Pending);
    assert_eq!(application.funded_place, None);
    assert_eq!(application.training_status, None);
    assert_eq!(application.schedule, accepted.application.schedule);
    service.accept(world.providers[0], applications[0].id, funded()).await.expect("accepted again");
}

async fn stale_pending_applications_expire_in_bulk(backend: Backend) {
    let world = World::new(backend).await;
    let (_, old) = world.applicant("1000008", &world.providers[..2]).await;
    let service = world.service();
    service.accept(world.providers[0], old[0].id, funded()).await.expect("accepted");
    let (_, more) = world.applicant("1000009", &world.providers[2..3]).await;
    let results = service.expire_stale("ops@education.gov.uk", Utc::now(), None, 100).await.expect("expired");
    let expired: Vec<_> =
        results.iter().filter(|result| result.refused.is_none()).map(|result| result.application_id).collect();
    assert_eq!(expired, vec![more[0].id], "only the pending one expires");
    let stored = world.stored(&more[0]).await;
    assert_eq!(stored.reason_for_rejection, Some(ReasonForRejection::RegistrationExpired));
    assert_eq!(world.stored(&old[0]).await.status, ApplicationStatus::Accepted);
}

backend_tests!(
    accepting_rejects_the_same_persons_application_with_another_provider,
    simultaneous_acceptances_by_two_providers_accept_exactly_one,
    simultaneous_acceptances_of_two_accounts_with_one_trn_accept_exactly_one,
    the_database_refuses_a_second_live_place_even_without_the_rules,
    a_decision_that_breaks_a_constraint_writes_nothing,
    rejecting_an_accepted_application_frees_the_place_for_a_duplicate_account,
    another_providers_application_cannot_be_decided,
    transferring_an_application_moves_it_to_the_new_provider,
    reverting_to_pending_clears_the_decision_and_keeps_the_schedule,
    stale_pending_applications_expire_in_bulk,
);
