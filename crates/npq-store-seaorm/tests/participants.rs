//! Participants over a real database, each test on SQLite and on PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use npq_domain::application::{Application, ApplicationStatus, TrainingStatus};
use npq_domain::decision::AcceptRequest;
use npq_domain::error::DomainError;
use npq_domain::ids::{LeadProviderId, ParticipantId};
use npq_domain::listing::{PageRequest, Sort};
use npq_domain::participant::{ParticipantFilter, ParticipantQuery};
use npq_domain::person::Person;
use npq_domain::ports::{ApplicationRepository, DecisionStore, ParticipantRepository, SystemClock};
use npq_domain::service::{DecisionService, ParticipantLookup, ParticipantService};
use npq_store_seaorm::Store;
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::{self, reference_data};
use npq_store_seaorm::test_support::{Backend, TestDatabase};

struct World {
    database: TestDatabase,
    providers: Vec<LeadProviderId>,
    next_trn: std::sync::atomic::AtomicU32,
}

impl World {
    async fn new(backend: Backend) -> Self {
        let database = TestDatabase::create(backend).await;
        let reference = reference_data(8);
        database.store.insert_reference_data(&reference).await.expect("reference data");
        let providers = reference.lead_providers.iter().map(|provider| provider.id).collect();
        Self { database, providers, next_trn: std::sync::atomic::AtomicU32::new(4_000_000) }
    }

    fn decisions(&self) -> DecisionService<Store, SystemClock> {
        DecisionService::new(self.database.store.clone(), SystemClock)
    }

    fn participants(&self) -> ParticipantService<Store, SystemClock> {
        ParticipantService::new(self.database.store.clone(), SystemClock)
    }

    /// Stores a person with a TRN of their own and a pending 2025 headship application with the
    /// provider, and returns them.
    async fn applicant(&self, provider: LeadProviderId) -> (Person, Application) {
        let mut person = npq_domain::testing::person("Jo Example");
        let trn = self.next_trn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        person.trn = trn.to_string().parse().ok();
        let application = npq_domain::testing::application(&person, provider, Utc::now() - Duration::days(20));
        self.database.store.insert_people(std::slice::from_ref(&person)).await.expect("person");
        self.database.store.insert_applications(std::slice::from_ref(&application)).await.expect("application");
        (person, application)
    }

    /// Stores an applicant and accepts them, so they become the provider's participant.
    async fn participant(&self, provider: LeadProviderId) -> (Person, Application) {
        let (person, application) = self.applicant(provider).await;
        let request = AcceptRequest { funded_place: Some(true), schedule_identifier: None };
        self.decisions().accept(provider, application.id, request).await.expect("accepted");
        (person, application)
    }
}

fn page(number: i64, per_page: i64) -> ParticipantQuery {
    ParticipantQuery { page: PageRequest::new(Some(number), Some(per_page)).unwrap(), ..ParticipantQuery::default() }
}

async fn only_accepted_applicants_are_participants(backend: Backend) {
    let world = World::new(backend).await;
    let provider = world.providers[0];
    let (participant, _) = world.participant(provider).await;
    let (applicant, _) = world.applicant(provider).await;
    let service = world.participants();
    let listed = service.list(provider, &ParticipantQuery::default()).await.unwrap();
    let ids: Vec<ParticipantId> = listed.iter().map(|view| view.person.participant_id).collect();
    assert_eq!(ids, vec![participant.participant_id]);
    assert_eq!(listed[0].enrolments.len(), 1);
    assert_eq!(listed[0].enrolments[0].application.training_status, Some(TrainingStatus::Active));
    assert_eq!(service.show(provider, applicant.participant_id).await, Err(DomainError::NotFound));
    assert_eq!(service.show(world.providers[1], participant.participant_id).await, Err(DomainError::NotFound));
}

async fn participant_actions_report_each_problem(backend: Backend) {
    let world = World::new(backend).await;
    let provider = world.providers[0];
    let (person, _) = world.participant(provider).await;
    let service = world.participants();
    // Without declarations, withdrawing is refused.
    let refused =
        service.withdraw(provider, person.participant_id, Some("npq-headship"), Some("change-in-career")).await;
    assert!(matches!(refused, Err(DomainError::Invalid(ref errors)) if errors[0].attribute == "participant_id"));
    let bad_reason = service.withdraw(provider, person.participant_id, Some("npq-headship"), Some("bored")).await;
    assert!(matches!(bad_reason, Err(DomainError::Invalid(ref errors)) if errors[0].attribute == "reason"));
    let bad_course = service.resume(provider, person.participant_id, Some("npq-unknown")).await;
    assert!(matches!(bad_course, Err(DomainError::Invalid(ref errors)) if errors[0].attribute == "course_identifier"));
    let other_course = service.resume(provider, person.participant_id, Some("npq-senco")).await;
    assert!(matches!(other_course, Err(DomainError::Invalid(ref errors)) if errors[0].attribute == "participant_id"));
}

async fn transfer_moves_the_participant_to_the_new_provider(backend: Backend) {
    let world = World::new(backend).await;
    let (old, new) = (world.providers[0], world.providers[1]);
    let (person, application) = world.participant(old).await;
    world
        .decisions()
        .change_lead_provider("ops@education.gov.uk", application.id, new, "provider closed".to_owned())
        .await
        .expect("transferred");
    let service = world.participants();
    assert_eq!(service.show(old, person.participant_id).await, Err(DomainError::NotFound));
    let Ok(ParticipantLookup::Found(view)) = service.show(new, person.participant_id).await else {
        panic!("the new provider sees the participant")
    };
    assert_eq!(view.enrolments[0].application.id, application.id);
    let listed = service.list(new, &ParticipantQuery::default()).await.unwrap();
    assert!(listed.iter().any(|view| view.person.participant_id == person.participant_id));
    let resumed = service.resume(old, person.participant_id, Some("npq-headship")).await;
    assert_eq!(resumed, Err(DomainError::NotFound), "the old provider can no longer change it");
}

async fn merged_account_answers_with_its_replacement(backend: Backend) {
    let world = World::new(backend).await;
    let provider = world.providers[0];
    let (kept, _) = world.participant(provider).await;
    let (duplicate, duplicate_application) = world.applicant(world.providers[1]).await;
    let before = world.database.store.find_participant(provider, kept.participant_id).await.unwrap().unwrap();
    let outcome = world
        .decisions()
        .merge_accounts(
            "ops@education.gov.uk",
            kept.participant_id,
            duplicate.participant_id,
            "same teacher".to_owned(),
        )
        .await
        .expect("merged");
    assert_eq!(outcome.moved, vec![duplicate_application.id]);

    let service = world.participants();
    let Ok(ParticipantLookup::Retired(changes)) = service.show(provider, duplicate.participant_id).await else {
        panic!("a retired id is reported")
    };
    assert_eq!(changes[0].from_participant_id, duplicate.participant_id);
    assert_eq!(changes[0].to_participant_id, kept.participant_id);
    let Ok(ParticipantLookup::Found(view)) = service.show(provider, kept.participant_id).await else { panic!("kept") };
    assert_eq!(view.id_changes.len(), 1);
    assert!(view.updated_at > before.updated_at, "the merge moves updated_at");
    let moved = world.database.store.find_application(world.providers[1], duplicate_application.id).await.unwrap();
    assert_eq!(moved.unwrap().0.participant_id, kept.participant_id);
    let action = service.resume(provider, duplicate.participant_id, Some("npq-headship")).await;
    assert!(
        matches!(action, Err(DomainError::Invalid(ref errors)) if errors[0].message.contains(&kept.participant_id.to_string()))
    );
    let again = world
        .decisions()
        .merge_accounts("ops@education.gov.uk", kept.participant_id, duplicate.participant_id, String::new())
        .await;
    assert!(matches!(again, Err(DomainError::Invalid(_))), "{again:?}");
}

async fn merging_two_live_places_on_one_course_is_refused(backend: Backend) {
    let world = World::new(backend).await;
    let (kept, _) = world.participant(world.providers[0]).await;
    let (duplicate, _) = world.participant(world.providers[1]).await;
    let refused = world
        .decisions()
        .merge_accounts("ops@education.gov.uk", kept.participant_id, duplicate.participant_id, String::new())
        .await;
    assert!(matches!(refused, Err(DomainError::Invalid(ref errors)) if errors[0].attribute == "base"), "{refused:?}");
    assert!(world.database.store.find_retirement(duplicate.participant_id).await.unwrap().is_none());
}

/// A client walks the participant list page by page while participants change and new ones
/// join: it sees every participant exactly once.
async fn paging_while_participants_change_sees_each_once(backend: Backend) {
    let world = World::new(backend).await;
    let provider = world.providers[0];
    let mut expected = Vec::new();
    for _ in 0..23 {
        expected.push(world.participant(provider).await);
    }
    let decisions = world.decisions();
    let service = world.participants();
    let mut seen: HashMap<ParticipantId, usize> = HashMap::new();
    let mut number = 1;
    loop {
        let views = service.list(provider, &page(number, 4)).await.unwrap();
        if views.is_empty() {
            break;
        }
        for view in &views {
            *seen.entry(view.person.participant_id).or_default() += 1;
        }
        // Meanwhile an earlier participant's enrolment changes. While pages are full, a new participant
        // joins too: it lands after the page just read. (One that joins a page already read, the
        // last and partly full one, is found by the next sync with `updated_since`.)
        let (_, application) = &expected[(number as usize * 3) % expected.len()];
        decisions
            .change_funded_place(provider, application.id, Some(number % 2 == 0))
            .await
            .expect("funded place changed");
        if views.len() == 4 {
            expected.push(world.participant(provider).await);
        }
        number += 1;
    }
    for (person, _) in &expected {
        assert_eq!(seen.get(&person.participant_id), Some(&1), "{} seen once", person.participant_id);
    }
}

async fn filters_select_by_time_and_training_status(backend: Backend) {
    let world = World::new(backend).await;
    let provider = world.providers[0];
    let (early, _) = world.participant(provider).await;
    let cut = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (late, late_application) = world.participant(provider).await;
    let service = world.participants();
    let since = ParticipantQuery {
        filter: ParticipantFilter { updated_since: Some(cut), ..ParticipantFilter::default() },
        ..ParticipantQuery::default()
    };
    let ids: Vec<ParticipantId> =
        service.list(provider, &since).await.unwrap().iter().map(|view| view.person.participant_id).collect();
    assert_eq!(ids, vec![late.participant_id]);

    world
        .decisions()
        .change_training_status("ops", late_application.id, "withdrawn", Some("other"))
        .await
        .expect_err("no started declaration");
    let active = ParticipantQuery {
        filter: ParticipantFilter { training_status: Some(TrainingStatus::Active), ..ParticipantFilter::default() },
        sort: Sort::parse(Some("-updated_at")),
        ..ParticipantQuery::default()
    };
    let listed = service.list(provider, &active).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].person.participant_id, early.participant_id);
    let deferred = ParticipantQuery {
        filter: ParticipantFilter { training_status: Some(TrainingStatus::Deferred), ..ParticipantFilter::default() },
        ..ParticipantQuery::default()
    };
    assert!(service.list(provider, &deferred).await.unwrap().is_empty());
}

async fn seeded_accepted_applicants_are_participants(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    seed::seed(&database.store, 400, 3).await.expect("seed");
    let providers = npq_domain::ports::LeadProviderRepository::list_lead_providers(&database.store).await.unwrap();
    let mut total = 0;
    for provider in providers {
        let listed = database.store.list_participants(provider.id, &page(1, 1000)).await.unwrap();
        for record in &listed {
            assert!(!record.applications.is_empty());
            assert!(record.applications.iter().all(|application| application.status == ApplicationStatus::Accepted));
        }
        total += listed.len();
    }
    assert!(total > 0, "the sandbox has participants");
}

/// DfE merges two accounts while both providers accept their applications, many times: every
/// request ends in success or a clear refusal, never a store failure, and one place is held.
async fn accepting_while_accounts_merge_ends_cleanly(backend: Backend) {
    let world = Arc::new(World::new(backend).await);
    for round in 0..8 {
        let (kept, kept_application) = world.applicant(world.providers[0]).await;
        let (duplicate, duplicate_application) = world.applicant(world.providers[1]).await;
        let merge = {
            let world = world.clone();
            tokio::spawn(async move {
                world
                    .decisions()
                    .merge_accounts(
                        "ops@education.gov.uk",
                        kept.participant_id,
                        duplicate.participant_id,
                        "dup".to_owned(),
                    )
                    .await
                    .map(|_| ())
            })
        };
        let accepts: Vec<_> =
            [(world.providers[0], kept_application.id), (world.providers[1], duplicate_application.id)]
                .into_iter()
                .map(|(provider, id)| {
                    let world = world.clone();
                    tokio::spawn(async move {
                        let request = AcceptRequest { funded_place: Some(false), schedule_identifier: None };
                        world.decisions().accept(provider, id, request).await.map(|_| ())
                    })
                })
                .collect();
        for task in std::iter::once(merge).chain(accepts) {
            match task.await.expect("task finished") {
                Ok(()) | Err(DomainError::Invalid(_)) => {}
                Err(other) => panic!("round {round}: {other:?}"),
            }
        }
        let store = &world.database.store;
        let first = store.find_any_application(kept_application.id).await.unwrap().unwrap().0;
        let second = store.find_any_application(duplicate_application.id).await.unwrap().unwrap().0;
        let accepted =
            [&first, &second].iter().filter(|application| application.status == ApplicationStatus::Accepted).count();
        // A merge refused because both already held a place leaves two people with one place each.
        if first.participant_id == second.participant_id {
            assert!(accepted <= 1, "round {round}: one person holds {accepted} places");
        }
    }
}

backend_tests!(
    accepting_while_accounts_merge_ends_cleanly,
    only_accepted_applicants_are_participants,
    participant_actions_report_each_problem,
    transfer_moves_the_participant_to_the_new_provider,
    merged_account_answers_with_its_replacement,
    merging_two_live_places_on_one_course_is_refused,
    paging_while_participants_change_sees_each_once,
    filters_select_by_time_and_training_status,
    seeded_accepted_applicants_are_participants,
);
