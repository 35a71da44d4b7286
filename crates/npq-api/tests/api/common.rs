//! A test client over the in-memory store from `npq_domain::testing`, with the sample cohorts and
//! schedules, tokens for two lead providers and an admin token.

use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use npq_api::ApiState;
use npq_domain::Timestamp;
use npq_domain::application::Application;
use npq_domain::application::{ApplicationStatus, TrainingStatus};
use npq_domain::auth::{ApiToken, TokenKey, TokenScope};
use npq_domain::course::Course;
use npq_domain::declaration_service::DeclarationService;
use npq_domain::ids::{ApiTokenId, ApplicationId, LeadProviderId};
use npq_domain::person::Person;
use npq_domain::ports::{ApplicationRepository, Clock, DeliveryPartnerRepository};
use npq_domain::provider::{DeliveryPartner, DeliveryPartnership};
use npq_domain::schedule::ScheduleIdentifier;
use npq_domain::service::{
    ApplicationService, DecisionService, DeliveryPartnerService, ParticipantService, RegistrationService, TokenService,
};
use npq_domain::testing::{FixedClock, lead_provider};
pub use npq_domain::testing::{MemoryStore, application, june, person};
use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::http::{Method, StatusCode};
use poem::test::{TestClient, TestResponse};
use serde_json::Value;

/// The token of the lead provider [`Fixture::provider`].
pub const TOKEN: &str = "provider-token-0123456789";
/// The token of another lead provider.
pub const OTHER_TOKEN: &str = "other-provider-token-0123456789";
/// A token of the registration scope, which the lead provider API must not accept.
pub const REGISTRATION_TOKEN: &str = "registration-token-0123456789";
/// The admin token of the DfE staff member [`ADMIN_USER`].
pub const ADMIN_TOKEN: &str = "admin-token-0123456789";
/// The name recorded on [`ADMIN_TOKEN`].
pub const ADMIN_USER: &str = "Priya Shah";

/// Returns the schools the registration tests refer to: `100001`, a community school, and
/// `140001`, an independent school.
pub fn sample_schools() -> Vec<npq_domain::registration::SchoolRecord> {
    let school = |urn: &str, establishment_type| npq_domain::registration::SchoolRecord {
        urn: urn.parse().expect("a six-digit URN"),
        name: format!("School {urn}"),
        ukprn: None,
        establishment_type,
        on_rise_list: false,
        on_pp50_list: false,
    };
    vec![school("100001", 1), school("140001", 11)]
}

/// Returns the instant the fixed clock reads.
pub fn now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

fn token_key() -> TokenKey {
    TokenKey::derive(&[9u8; 32]).unwrap()
}

fn stored_token(plain: &str, scope: TokenScope, lead_provider: Option<LeadProviderId>) -> ApiToken {
    let description = (scope == TokenScope::Admin).then(|| ADMIN_USER.to_owned());
    ApiToken {
        id: ApiTokenId::new_random(),
        scope,
        lead_provider,
        digest: token_key().digest(plain),
        description,
        created_at: now(),
        last_used_at: None,
    }
}

/// Two lead providers with one token each, a registration-scope token, an admin token, and a
/// test client over the whole application.
pub struct Fixture {
    pub store: Arc<MemoryStore>,
    pub provider: LeadProviderId,
    pub other_provider: LeadProviderId,
    pub client: TestClient<BoxEndpoint<'static, poem::Response>>,
}

impl Fixture {
    /// Builds the fixture with no applications.
    pub fn new() -> Self {
        Self::with_applications(|_, _| Vec::new())
    }

    /// Builds the fixture with the applications `build` returns, given the two providers' ids.
    pub fn with_applications(build: impl FnOnce(LeadProviderId, LeadProviderId) -> Vec<(Application, Person)>) -> Self {
        Self::with_participant_backend(build, |store| store)
    }

    /// Builds the fixture with the applications `build` returns, serving participants from the
    /// store that `backend` makes of the in-memory store.
    pub fn with_participant_backend(
        build: impl FnOnce(LeadProviderId, LeadProviderId) -> Vec<(Application, Person)>,
        backend: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn npq_api::ParticipantBackend>,
    ) -> Self {
        Self::assemble(build, backend, |_, _| (Vec::new(), Vec::new()))
    }

    /// Builds the fixture with no applications and the delivery partners and partnerships that
    /// `build` returns, given the two providers' ids.
    pub fn with_delivery_partners(
        build: impl FnOnce(LeadProviderId, LeadProviderId) -> (Vec<DeliveryPartner>, Vec<DeliveryPartnership>),
    ) -> Self {
        Self::assemble(|_, _| Vec::new(), |store| store, build)
    }

    fn assemble(
        build: impl FnOnce(LeadProviderId, LeadProviderId) -> Vec<(Application, Person)>,
        backend: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn npq_api::ParticipantBackend>,
        build_partners: impl FnOnce(LeadProviderId, LeadProviderId) -> (Vec<DeliveryPartner>, Vec<DeliveryPartnership>),
    ) -> Self {
        let providers = vec![lead_provider("Teach First"), lead_provider("Ambition Institute")];
        let provider = providers[0].id;
        let other_provider = providers[1].id;
        let (delivery_partners, partnerships) = build_partners(provider, other_provider);
        let store = Arc::new(MemoryStore {
            delivery_partners,
            partnerships,
            applications: Mutex::new(build(provider, other_provider)),
            tokens: Mutex::new(vec![
                stored_token(TOKEN, TokenScope::LeadProvider, Some(provider)),
                stored_token(OTHER_TOKEN, TokenScope::LeadProvider, Some(other_provider)),
                stored_token(REGISTRATION_TOKEN, TokenScope::Registration, None),
                stored_token(ADMIN_TOKEN, TokenScope::Admin, None),
            ]),
            schools: sample_schools(),
            ..MemoryStore::with_reference_data(providers)
        });
        let applications: Arc<dyn ApplicationRepository> = store.clone();
        let tokens: Arc<dyn npq_api::TokenStore> = store.clone();
        let decisions: Arc<dyn npq_api::DecisionBackend> = store.clone();
        let participants = backend(store.clone());
        let registrations: Arc<dyn npq_api::RegistrationBackend> = store.clone();
        let delivery_partners: Arc<dyn DeliveryPartnerRepository> = store.clone();
        let declarations: Arc<dyn npq_api::DeclarationBackend> = store.clone();
        let statements: Arc<dyn npq_domain::ports::StatementStore> = store.clone();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(now()));
        let state = ApiState {
            applications: ApplicationService::new(applications),
            tokens: TokenService::new(tokens, token_key(), clock.clone()),
            decisions: DecisionService::new(decisions, clock.clone()),
            participants: ParticipantService::new(participants, clock.clone()),
            registrations: RegistrationService::new(registrations, clock.clone()),
            delivery_partners: DeliveryPartnerService::new(delivery_partners),
            declarations: DeclarationService::new(declarations, clock.clone()),
            statements: npq_domain::statement_service::StatementService::new(statements, clock),
            cursor_key: npq_domain::cursor::CursorKey::derive(&token_key()),
        };
        let client = TestClient::new(npq_api::routes(state).map_to_response().boxed());
        Self { store, provider, other_provider, client }
    }

    /// Sends `GET path` with the provider's token.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.client.get(path).header("Authorization", format!("Bearer {TOKEN}")).send().await
    }

    /// Sends a request with `token` and, when given, a JSON body.
    pub async fn send(&self, method: Method, path: &str, token: &str, body: Option<&str>) -> TestResponse {
        let request = self.client.request(method, path).header("Authorization", format!("Bearer {token}"));
        match body {
            Some(body) => request.content_type("application/json").body(body.to_owned()).send().await,
            None => request.send().await,
        }
    }

    /// Sends a request with the admin token and, when given, a JSON body.
    pub async fn admin(&self, method: Method, path: &str, body: Option<&str>) -> TestResponse {
        self.send(method, path, ADMIN_TOKEN, body).await
    }

    /// Returns the id of the application inserted at `index` by the fixture's builder.
    pub fn id(&self, index: usize) -> ApplicationId {
        self.store.applications.lock().unwrap()[index].0.id
    }

    /// Returns the stored state of an application.
    pub fn stored(&self, id: ApplicationId) -> Application {
        self.store.application(id).expect("the application is stored")
    }

    /// Returns the stored status of an application.
    pub fn status_of(&self, id: ApplicationId) -> ApplicationStatus {
        self.store.application(id).map(|application| application.status).expect("the application is stored")
    }
}

/// Reads a response body as JSON, keeping the key order.
pub async fn json_body(response: TestResponse) -> Value {
    let text = response.0.into_body().into_string().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("body is not JSON ({error}): {text}"))
}

/// Returns the `data` array of a list response.
pub async fn list_data(response: TestResponse) -> Vec<Value> {
    let body = json_body(response).await;
    body["data"].as_array().unwrap_or_else(|| panic!("no data array in {body}")).clone()
}

/// Returns the ids in a list response, in order.
pub async fn listed_ids(response: TestResponse) -> Vec<String> {
    list_data(response).await.iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

/// Builds a person whose verified TRN is `trn`. [`person`] gives everyone the same TRN, which
/// makes them look like one teacher with two accounts.
pub fn person_with_trn(full_name: &str, trn: &str) -> Person {
    let mut built = person(full_name);
    built.trn = Some(trn.parse().expect("a seven-digit TRN"));
    built
}

/// Builds a pending application for `course` in `cohort` (such as `2024a`), created in June 2025.
pub fn application_in(person: &Person, lead_provider: LeadProviderId, cohort: &str, course: Course) -> Application {
    let mut built = application(person, lead_provider, june(1, 9));
    built.cohort = cohort.parse().expect("a valid cohort identifier");
    built.course = course;
    built
}

/// Marks an application accepted on `schedule`, training, with the funded place given.
pub fn accepted(mut application: Application, schedule: ScheduleIdentifier, funded_place: Option<bool>) -> Application {
    application.status = ApplicationStatus::Accepted;
    application.training_status = Some(TrainingStatus::Active);
    application.schedule = Some(schedule);
    application.accepted_at = Some(june(2, 9));
    application.funded_place = funded_place;
    application
}

/// Asserts the status of an error list response (400 or 422) and returns its titles in order.
pub async fn error_titles(response: TestResponse, status: StatusCode, context: &str) -> Vec<String> {
    assert_eq!(response.0.status(), status, "{context}: status");
    let body = json_body(response).await;
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("{context}: no error list in {body}"));
    errors
        .iter()
        .map(|error| {
            assert!(error["detail"].as_str().is_some_and(|detail| !detail.is_empty()), "{context}: {error}");
            error["title"].as_str().unwrap_or_else(|| panic!("{context}: no title in {error}")).to_owned()
        })
        .collect()
}

/// Returns the detail of the only error of an error list response.
pub async fn only_error_detail(response: TestResponse) -> String {
    let body = json_body(response).await;
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    body["errors"][0]["detail"].as_str().unwrap_or_default().to_owned()
}
