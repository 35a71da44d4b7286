//! Registration over a real database, each test on SQLite and on PostgreSQL.

use std::sync::Arc;

use npq_domain::application::{ApplicationStatus, FundingEligibilityStatusCode};
use npq_domain::error::DomainError;
use npq_domain::listing::{ApplicationFilter, ApplicationQuery};
use npq_domain::ports::{ApplicationRepository, LeadProviderRepository, SystemClock};
use npq_domain::registration::{ApplicantForm, RegistrationForm};
use npq_domain::service::RegistrationService;
use npq_store_seaorm::Store;
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed;
use npq_store_seaorm::test_support::{Backend, TestDatabase};

async fn world(backend: Backend) -> (TestDatabase, RegistrationService<Store, SystemClock>, String) {
    let database = TestDatabase::create(backend).await;
    seed::seed(&database.store, 0, 5).await.expect("reference data");
    let provider = database.store.find_lead_provider_by_name("Teach First").await.unwrap().expect("provider");
    let service = RegistrationService::new(database.store.clone(), SystemClock);
    (database, service, provider.id.to_string())
}

fn applicant(email: &str) -> ApplicantForm {
    ApplicantForm {
        full_name: Some("Alex Applicant".to_owned()),
        email: Some(email.to_owned()),
        trn: Some("2345678".to_owned()),
        date_of_birth: Some("1990-02-03".to_owned()),
    }
}

fn headship_in(school_urn: &str) -> RegistrationForm {
    RegistrationForm {
        cohort: Some("2026b".to_owned()),
        course_identifier: Some("npq-headship".to_owned()),
        teacher_catchment: Some("england".to_owned()),
        work_setting: Some("a_school".to_owned()),
        school_urn: Some(school_urn.to_owned()),
        funding_choice: Some("school".to_owned()),
        ..RegistrationForm::default()
    }
}

async fn a_registration_is_listed_at_once_with_the_predicted_eligibility(backend: Backend) {
    let (database, service, provider) = world(backend).await;
    let predicted = service.check(&headship_in("100001")).await.expect("checked");
    let (view, created) = service
        .register(&applicant("alex@example.com"), &headship_in("100001"), Some(&provider), None)
        .await
        .expect("registered");
    assert!(created);
    assert_eq!(view.application.status, ApplicationStatus::Pending);
    assert_eq!(view.application.funding_eligibility_status_code, Some(predicted.status_code));
    assert_eq!(view.eligible_for_funding, predicted.eligible);
    let query = ApplicationQuery {
        filter: ApplicationFilter {
            participant_ids: Some(vec![view.person.participant_id]),
            ..ApplicationFilter::default()
        },
        ..ApplicationQuery::default()
    };
    let listed = database.store.list_applications(view.application.lead_provider_id, &query).await.unwrap();
    assert_eq!(listed.len(), 1);

    // The same address registering again is the same person.
    let (second, _) = service
        .register(&applicant("ALEX@example.com"), &headship_in("140001"), Some(&provider), None)
        .await
        .expect("second registration");
    assert_eq!(second.person.participant_id, view.person.participant_id);
    assert_eq!(
        second.application.funding_eligibility_status_code,
        Some(FundingEligibilityStatusCode::IneligibleEstablishmentType)
    );
}

/// Ten identical registrations with one idempotency key, sent at once, store one application.
async fn racing_registrations_with_one_key_store_one_application(backend: Backend) {
    let (database, service, provider) = world(backend).await;
    let service = Arc::new(service);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (service, provider) = (service.clone(), provider.clone());
            tokio::spawn(async move {
                service
                    .register(
                        &applicant("sam@example.com"),
                        &headship_in("100001"),
                        Some(&provider),
                        Some("form-42".to_owned()),
                    )
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        let (view, _) = task.await.unwrap().expect("every request succeeds");
        ids.push(view.application.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one application for one key");
    let person = database.store.count_people().await.unwrap();
    assert_eq!(person, 1);
}

async fn unknown_workplaces_and_providers_are_named(backend: Backend) {
    let (_database, service, _) = world(backend).await;
    let refused = service
        .register(
            &applicant("kim@example.com"),
            &headship_in("999999"),
            Some("7b0c50b5-3a57-4d51-9a4e-2f8d7e0f4f10"),
            None,
        )
        .await
        .unwrap_err();
    let DomainError::Invalid(errors) = refused else { panic!("a validation error") };
    assert_eq!(errors[0].attribute, "lead_provider_id");
}

async fn a_key_reused_for_another_registration_is_refused(backend: Backend) {
    let (database, service, provider) = world(backend).await;
    let other = database.store.find_lead_provider_by_name("Ambition Institute").await.unwrap().unwrap().id.to_string();
    let first = service
        .register(&applicant("lee@example.com"), &headship_in("100001"), Some(&provider), Some("k".to_owned()))
        .await;
    assert!(first.is_ok(), "{first:?}");
    let reused = service
        .register(&applicant("lee@example.com"), &headship_in("100001"), Some(&other), Some("k".to_owned()))
        .await;
    let Err(DomainError::Invalid(errors)) = reused else { panic!("a reused key is refused: {reused:?}") };
    assert_eq!(errors[0].attribute, "Idempotency-Key");
}

backend_tests!(
    a_key_reused_for_another_registration_is_refused,
    a_registration_is_listed_at_once_with_the_predicted_eligibility,
    racing_registrations_with_one_key_store_one_application,
    unknown_workplaces_and_providers_are_named,
);
