//! A test client over the in-memory store from `npq_domain::testing`, with tokens for two lead
//! providers.

use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use npq_api::ApiState;
use npq_domain::Timestamp;
use npq_domain::application::Application;
use npq_domain::auth::{ApiToken, TokenKey, TokenScope};
use npq_domain::ids::{ApiTokenId, LeadProviderId};
use npq_domain::person::Person;
use npq_domain::ports::{ApplicationRepository, Clock};
use npq_domain::service::{ApplicationService, TokenService};
use npq_domain::testing::FixedClock;
pub use npq_domain::testing::{MemoryStore, application, june, person};
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
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(now()));
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
