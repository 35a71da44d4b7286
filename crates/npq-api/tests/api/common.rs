//! An in-memory store behind the domain ports, sample records, and a test client with tokens.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::TimeZone;
use npq_api::ApiState;
use npq_domain::StoreError;
use npq_domain::Timestamp;
use npq_domain::application::{
    Application, ApplicationStatus, FundingEligibilityStatusCode, FundingHistoryEntry, TeacherCatchment, WorkSetting,
};
use npq_domain::auth::{ApiToken, TokenDigest, TokenKey, TokenScope};
use npq_domain::course::Course;
use npq_domain::ids::{ApiTokenId, ApplicationId, LeadProviderId, ParticipantId};
use npq_domain::listing::{ApplicationQuery, Direction, SortField};
use npq_domain::person::Person;
use npq_domain::ports::{ApplicationRepository, Clock, LeadProviderRepository, TokenRepository};
use npq_domain::provider::LeadProvider;
use npq_domain::service::{ApplicationService, TokenService};
use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::Value;

/// The token of the lead provider [`Fixture::provider`].
pub const TOKEN: &str = "provider-token-0123456789";
/// The token of another lead provider.
pub const OTHER_TOKEN: &str = "other-provider-token-0123456789";
/// A token of the registration scope, which the lead provider API must not accept.
pub const REGISTRATION_TOKEN: &str = "registration-token-0123456789";

/// Returns the instant the fixed clock reads.
pub fn now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

/// Returns an instant in June 2025.
pub fn june(day: u32, hour: u32) -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2025, 6, day, hour, 0, 0).unwrap()
}

/// Records behind the ports. The application list applies the query as a database would:
/// filters, sort keys, then insertion order, then the page.
#[derive(Default)]
pub struct MemoryStore {
    pub applications: Mutex<Vec<(Application, Person)>>,
    pub tokens: Mutex<Vec<ApiToken>>,
    pub providers: Vec<LeadProvider>,
    /// When set, every application read fails with this error.
    pub failure: Mutex<Option<StoreError>>,
}

impl MemoryStore {
    fn fail_if_configured(&self) -> Result<(), StoreError> {
        match self.failure.lock().unwrap().clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl ApplicationRepository for MemoryStore {
    async fn list_applications(
        &self,
        lead_provider: LeadProviderId,
        query: &ApplicationQuery,
    ) -> Result<Vec<(Application, Person)>, StoreError> {
        self.fail_if_configured()?;
        let filter = &query.filter;
        let mut rows: Vec<(usize, (Application, Person))> = self
            .applications
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .enumerate()
            .filter(|(_, (application, _))| application.lead_provider_id == lead_provider)
            .filter(|(_, (application, _))| {
                filter
                    .cohorts
                    .as_ref()
                    .is_none_or(|cohorts| cohorts.iter().any(|cohort| cohort.matches(application.cohort)))
            })
            .filter(|(_, (application, _))| filter.updated_since.is_none_or(|since| application.updated_at >= since))
            .filter(|(_, (application, _))| {
                filter.participant_ids.as_ref().is_none_or(|ids| ids.contains(&application.participant_id))
            })
            .collect();
        rows.sort_by(|(left_index, (left, _)), (right_index, (right, _))| {
            for key in query.sort.keys() {
                let ordering = match key.field {
                    SortField::CreatedAt => left.created_at.cmp(&right.created_at),
                    SortField::UpdatedAt => left.updated_at.cmp(&right.updated_at),
                };
                let ordering = if key.direction == Direction::Descending { ordering.reverse() } else { ordering };
                if ordering.is_ne() {
                    return ordering;
                }
            }
            left_index.cmp(right_index)
        });
        let offset = usize::try_from(query.page.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(query.page.per_page()).unwrap();
        Ok(rows.into_iter().skip(offset).take(per_page).map(|(_, row)| row).collect())
    }

    async fn find_application(
        &self,
        lead_provider: LeadProviderId,
        id: ApplicationId,
    ) -> Result<Option<(Application, Person)>, StoreError> {
        self.fail_if_configured()?;
        Ok(self
            .applications
            .lock()
            .unwrap()
            .iter()
            .find(|(application, _)| application.id == id && application.lead_provider_id == lead_provider)
            .cloned())
    }

    async fn funding_history(&self, people: &[ParticipantId]) -> Result<Vec<FundingHistoryEntry>, StoreError> {
        Ok(self
            .applications
            .lock()
            .unwrap()
            .iter()
            .filter(|(application, _)| {
                people.contains(&application.participant_id) && application.status == ApplicationStatus::Accepted
            })
            .map(|(application, _)| FundingHistoryEntry::from(application))
            .collect())
    }
}

#[async_trait]
impl TokenRepository for MemoryStore {
    async fn find_token_by_digest(&self, digest: &TokenDigest) -> Result<Option<ApiToken>, StoreError> {
        Ok(self.tokens.lock().unwrap().iter().find(|token| &token.digest == digest).cloned())
    }

    async fn record_token_use(&self, id: ApiTokenId, at: Timestamp) -> Result<(), StoreError> {
        for token in self.tokens.lock().unwrap().iter_mut().filter(|token| token.id == id) {
            token.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn insert_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        self.tokens.lock().unwrap().push(token.clone());
        Ok(())
    }
}

#[async_trait]
impl LeadProviderRepository for MemoryStore {
    async fn find_lead_provider_by_name(&self, name: &str) -> Result<Option<LeadProvider>, StoreError> {
        Ok(self.providers.iter().find(|provider| provider.name == name).cloned())
    }

    async fn list_lead_providers(&self) -> Result<Vec<LeadProvider>, StoreError> {
        Ok(self.providers.clone())
    }
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        now()
    }
}

fn token_key() -> TokenKey {
    TokenKey::derive(&[9u8; 32]).unwrap()
}

fn stored_token(plain: &str, scope: TokenScope, lead_provider: Option<LeadProviderId>) -> ApiToken {
    ApiToken {
        id: ApiTokenId::new_random(),
        scope,
        lead_provider,
        digest: token_key().digest(plain),
        description: None,
        created_at: now(),
        last_used_at: None,
    }
}

/// Builds a person with a verified TRN.
pub fn person(full_name: &str) -> Person {
    Person {
        participant_id: ParticipantId::new_random(),
        trn: Some("1234567".parse().unwrap()),
        trn_verified: true,
        full_name: full_name.to_owned(),
        email: Some(format!("{}@example.com", full_name.to_lowercase().replace(' ', "."))),
        date_of_birth: None,
        created_at: june(1, 9),
        updated_at: june(1, 9),
    }
}

/// Builds a pending headship application in cohort 2025, created and updated at `created_at`.
pub fn application(person: &Person, lead_provider: LeadProviderId, created_at: Timestamp) -> Application {
    Application {
        id: ApplicationId::new_random(),
        participant_id: person.participant_id,
        lead_provider_id: lead_provider,
        cohort: "2025".parse().unwrap(),
        course: Course::Headship,
        schedule: None,
        status: ApplicationStatus::Pending,
        training_status: None,
        reason_for_rejection: None,
        accepted_at: None,
        eligible_for_funding: true,
        funding_eligibility_status_code: Some(FundingEligibilityStatusCode::Funded),
        funding_choice: None,
        funded_place: None,
        targeted_delivery_funding_eligibility: false,
        works_in_school: Some(true),
        works_in_childcare: Some(false),
        work_setting: Some(WorkSetting::ASchool),
        kind_of_nursery: None,
        employment_type: None,
        employment_role: None,
        employer_name: None,
        headteacher_status: None,
        school_urn: Some("100001".parse().unwrap()),
        ukprn: Some("10012345".parse().unwrap()),
        private_childcare_provider_urn: None,
        itt_provider: None,
        lead_mentor: false,
        teacher_catchment: Some(TeacherCatchment::England),
        teacher_catchment_country: Some("United Kingdom of Great Britain and Northern Ireland".to_owned()),
        teacher_catchment_iso_country_code: Some("GBR".parse().unwrap()),
        senco_in_role: None,
        senco_start_date: None,
        created_at,
        updated_at: created_at,
    }
}

/// Two lead providers with one token each, a registration-scope token, and a test client over
/// the whole application.
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
        let provider = LeadProviderId::new_random();
        let other_provider = LeadProviderId::new_random();
        let store = Arc::new(MemoryStore {
            applications: Mutex::new(build(provider, other_provider)),
            tokens: Mutex::new(vec![
                stored_token(TOKEN, TokenScope::LeadProvider, Some(provider)),
                stored_token(OTHER_TOKEN, TokenScope::LeadProvider, Some(other_provider)),
                stored_token(REGISTRATION_TOKEN, TokenScope::Registration, None),
            ]),
            ..MemoryStore::default()
        });
        let applications: Arc<dyn ApplicationRepository> = store.clone();
        let tokens: Arc<dyn npq_api::TokenStore> = store.clone();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock);
        let state = ApiState {
            applications: ApplicationService::new(applications),
            tokens: TokenService::new(tokens, token_key(), clock),
        };
        let client = TestClient::new(npq_api::routes(state).map_to_response().boxed());
        Self { store, provider, other_provider, client }
    }

    /// Sends `GET path` with the provider's token.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.client.get(path).header("Authorization", format!("Bearer {TOKEN}")).send().await
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
