//! Use-case services, generic over the ports they need. Handlers call exactly one of these.

use std::collections::HashMap;

use chrono::Duration;
use rand::RngCore;

use crate::Timestamp;
use crate::application::ApplicationView;
use crate::auth::{ApiToken, PlainToken, TokenKey, TokenScope};
use crate::error::DomainError;
use crate::ids::{ApiTokenId, ApplicationId, LeadProviderId, ParticipantId};
use crate::listing::ApplicationQuery;
use crate::ports::{ApplicationRepository, Clock, LeadProviderRepository, TokenRepository};
use crate::provider::LeadProvider;

/// Reads applications as they appear to one lead provider.
#[derive(Debug, Clone)]
pub struct ApplicationService<R> {
    repository: R,
}

impl<R: ApplicationRepository> ApplicationService<R> {
    pub fn new(repository: R) -> Self {
        Self { repository }
    }

    /// Returns one page of the lead provider's applications.
    pub async fn list(
        &self,
        lead_provider: LeadProviderId,
        query: &ApplicationQuery,
    ) -> Result<Vec<ApplicationView>, DomainError> {
        let rows = self.repository.list_applications(lead_provider, query).await?;
        let mut people: Vec<ParticipantId> = rows.iter().map(|(application, _)| application.participant_id).collect();
        people.sort_unstable();
        people.dedup();
        let history = if people.is_empty() { Vec::new() } else { self.repository.funding_history(&people).await? };

        let mut history_by_person: HashMap<ParticipantId, Vec<_>> = HashMap::new();
        for entry in history {
            history_by_person.entry(entry.participant_id).or_default().push(entry);
        }
        Ok(rows
            .into_iter()
            .map(|(application, person)| {
                let history = history_by_person.get(&application.participant_id).map(Vec::as_slice).unwrap_or_default();
                ApplicationView::new(application, person, history)
            })
            .collect())
    }

    /// Returns one of the lead provider's applications; another provider's is [`DomainError::NotFound`].
    pub async fn show(&self, lead_provider: LeadProviderId, id: ApplicationId) -> Result<ApplicationView, DomainError> {
        let (application, person) =
            self.repository.find_application(lead_provider, id).await?.ok_or(DomainError::NotFound)?;
        let history = self.repository.funding_history(&[application.participant_id]).await?;
        Ok(ApplicationView::new(application, person, &history))
    }
}

/// How long a token's `last_used_at` may lag behind its real last use. Recording every request
/// would turn each read into a write; to the minute is precise enough to audit token use.
pub const TOKEN_USE_RESOLUTION: Duration = Duration::minutes(1);

/// Returns whether a token last recorded as used at `last_used_at` must be recorded again at `now`.
pub fn token_use_needs_recording(last_used_at: Option<Timestamp>, now: Timestamp) -> bool {
    match last_used_at {
        None => true,
        Some(last) => now - last >= TOKEN_USE_RESOLUTION || now < last,
    }
}

/// Checks presented tokens and issues new ones.
#[derive(Debug, Clone)]
pub struct TokenService<R, C> {
    repository: R,
    key: TokenKey,
    clock: C,
}

/// Error from issuing a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueTokenError {
    #[error("no lead provider is named '{name}'; known lead providers: {}", known.join(", "))]
    UnknownLeadProvider { name: String, known: Vec<String> },
    #[error(
        "no lead provider is named '{name}' because the database has no lead providers yet: start the server once, or run `npq-server seed`, on the same database"
    )]
    NoLeadProviders { name: String },
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl<R: TokenRepository + LeadProviderRepository, C: Clock> TokenService<R, C> {
    pub fn new(repository: R, key: TokenKey, clock: C) -> Self {
        Self { repository, key, clock }
    }

    /// Returns the lead provider a presented token acts for. A missing, unknown or non-lead
    /// provider token is [`DomainError::Unauthenticated`]. Records the use at most once a minute.
    pub async fn authenticate_lead_provider(&self, presented: &PlainToken) -> Result<LeadProviderId, DomainError> {
        let digest = self.key.digest(presented.expose());
        let token = self.repository.find_token_by_digest(&digest).await?.ok_or(DomainError::Unauthenticated)?;
        if !token.digest.matches(&digest) || token.scope != TokenScope::LeadProvider {
            return Err(DomainError::Unauthenticated);
        }
        let lead_provider = token.lead_provider.ok_or(DomainError::Unauthenticated)?;
        let now = self.clock.now();
        // Recording the use is an audit aid: when the write fails (a busy or read-only database), the
        // request still proceeds and the failure is logged.
        if token_use_needs_recording(token.last_used_at, now)
            && let Err(error) = self.repository.record_token_use(token.id, now).await
        {
            tracing::warn!(token_id = %token.id, %error, "could not record the token's use");
        }
        Ok(lead_provider)
    }

    /// Creates a token for the lead provider with exactly this name, stores its digest and returns
    /// the stored token with its plain text, which is never available again.
    pub async fn issue_lead_provider_token(
        &self,
        lead_provider_name: &str,
        description: Option<String>,
        rng: &mut impl RngCore,
    ) -> Result<(ApiToken, LeadProvider, PlainToken), IssueTokenError> {
        let Some(lead_provider) = self.repository.find_lead_provider_by_name(lead_provider_name).await? else {
            let known: Vec<String> =
                self.repository.list_lead_providers().await?.into_iter().map(|provider| provider.name).collect();
            let name = lead_provider_name.to_owned();
            return Err(if known.is_empty() {
                IssueTokenError::NoLeadProviders { name }
            } else {
                IssueTokenError::UnknownLeadProvider { name, known }
            });
        };
        let plain = PlainToken::generate(rng);
        let token = ApiToken {
            id: ApiTokenId::new_random(),
            scope: TokenScope::LeadProvider,
            lead_provider: Some(lead_provider.id),
            digest: self.key.digest(plain.expose()),
            description,
            created_at: self.clock.now(),
            last_used_at: None,
        };
        self.repository.insert_token(&token).await?;
        Ok((token, lead_provider, plain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::ApplicationStatus;
    use crate::application::tests::{sample_application, sample_person};
    use crate::course::Course;
    use crate::testing::{FixedClock, MemoryStore};
    use chrono::TimeZone;
    use rand::SeedableRng;
    use std::sync::Mutex;

    fn at(hour: u32, minute: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 1, 5, hour, minute, 0).unwrap()
    }

    fn provider(name: &str) -> LeadProvider {
        crate::testing::lead_provider(name)
    }

    fn token_service(store: std::sync::Arc<MemoryStore>) -> TokenService<std::sync::Arc<MemoryStore>, FixedClock> {
        TokenService::new(store, TokenKey::derive(&[1u8; 32]).unwrap(), FixedClock(at(10, 0)))
    }

    /// Runs a future that never waits on I/O, as every future over the in-memory store is.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
        }
    }

    #[test]
    fn issued_token_authenticates_as_its_lead_provider() {
        let store =
            std::sync::Arc::new(MemoryStore { providers: vec![provider("Teach First")], ..MemoryStore::default() });
        let service = token_service(store.clone());
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let (token, lead_provider, plain) =
            block_on(service.issue_lead_provider_token("Teach First", None, &mut rng)).unwrap();
        assert_eq!(token.lead_provider, Some(lead_provider.id));
        assert_eq!(block_on(service.authenticate_lead_provider(&plain)), Ok(lead_provider.id));
        assert_eq!(store.tokens.lock().unwrap()[0].last_used_at, Some(at(10, 0)));
    }

    #[test]
    fn failed_use_recording_still_authenticates() {
        let store =
            std::sync::Arc::new(MemoryStore { providers: vec![provider("Teach First")], ..MemoryStore::default() });
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let (_, lead_provider, plain) =
            block_on(token_service(store).issue_lead_provider_token("Teach First", None, &mut rng)).unwrap();
        let failing = std::sync::Arc::new(MemoryStore {
            providers: vec![lead_provider.clone()],
            fail_token_use: true,
            ..MemoryStore::default()
        });
        let service = token_service(failing.clone());
        let token = ApiToken {
            id: ApiTokenId::new_random(),
            scope: TokenScope::LeadProvider,
            lead_provider: Some(lead_provider.id),
            digest: TokenKey::derive(&[1u8; 32]).unwrap().digest(plain.expose()),
            description: None,
            created_at: at(9, 0),
            last_used_at: None,
        };
        failing.tokens.lock().unwrap().push(token);
        assert_eq!(block_on(service.authenticate_lead_provider(&plain)), Ok(lead_provider.id));
    }

    #[test]
    fn unknown_token_is_unauthenticated() {
        let store = std::sync::Arc::new(MemoryStore::default());
        let service = token_service(store);
        assert_eq!(
            block_on(service.authenticate_lead_provider(&PlainToken::presented("nope"))),
            Err(DomainError::Unauthenticated)
        );
    }

    #[test]
    fn token_of_another_scope_is_unauthenticated() {
        let store = std::sync::Arc::new(MemoryStore::default());
        let service = token_service(store.clone());
        let plain = PlainToken::presented("registration-token");
        store.tokens.lock().unwrap().push(ApiToken {
            id: ApiTokenId::new_random(),
            scope: TokenScope::Registration,
            lead_provider: None,
            digest: TokenKey::derive(&[1u8; 32]).unwrap().digest(plain.expose()),
            description: None,
            created_at: at(9, 0),
            last_used_at: None,
        });
        assert_eq!(block_on(service.authenticate_lead_provider(&plain)), Err(DomainError::Unauthenticated));
    }

    #[test]
    fn unknown_lead_provider_error_lists_known_names() {
        let store =
            std::sync::Arc::new(MemoryStore { providers: vec![provider("Teach First")], ..MemoryStore::default() });
        let service = token_service(store);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let error = block_on(service.issue_lead_provider_token("Teach Last", None, &mut rng)).unwrap_err();
        assert!(error.to_string().contains("Teach First"), "{error}");
    }

    #[test]
    fn empty_database_token_error_advises_seeding() {
        let service = token_service(std::sync::Arc::new(MemoryStore::default()));
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let error = block_on(service.issue_lead_provider_token("Teach First", None, &mut rng)).unwrap_err();
        assert!(matches!(error, IssueTokenError::NoLeadProviders { .. }), "{error}");
        assert!(error.to_string().contains("npq-server seed"), "{error}");
    }

    #[test]
    fn token_use_recorded_once_a_minute() {
        assert!(token_use_needs_recording(None, at(10, 0)));
        assert!(!token_use_needs_recording(Some(at(10, 0)), at(10, 0)));
        assert!(token_use_needs_recording(Some(at(10, 0)), at(10, 1)));
        assert!(token_use_needs_recording(Some(at(10, 1)), at(10, 0)), "a clock that went back is recorded");
    }

    #[test]
    fn show_hides_other_providers_applications() {
        let person = sample_person();
        let application = sample_application(&person, Course::Headship);
        let owner = application.lead_provider_id;
        let id = application.id;
        let service = ApplicationService::new(MemoryStore {
            applications: Mutex::new(vec![(application, person)]),
            ..MemoryStore::default()
        });
        assert!(block_on(service.show(owner, id)).is_ok());
        assert_eq!(block_on(service.show(LeadProviderId::new_random(), id)), Err(DomainError::NotFound));
    }

    #[test]
    fn list_marks_previously_funded_applications() {
        let person = sample_person();
        let mut earlier = sample_application(&person, Course::Headship);
        earlier.status = ApplicationStatus::Accepted;
        let mut later = sample_application(&person, Course::Headship);
        later.lead_provider_id = earlier.lead_provider_id;
        let provider = earlier.lead_provider_id;
        let service = ApplicationService::new(MemoryStore {
            applications: Mutex::new(vec![(earlier, person.clone()), (later.clone(), person)]),
            ..MemoryStore::default()
        });
        let views = block_on(service.list(provider, &ApplicationQuery::default())).unwrap();
        let later_view = views.iter().find(|view| view.application.id == later.id).unwrap();
        assert!(!later_view.eligible_for_funding);
        let earlier_view = views.iter().find(|view| view.application.id != later.id).unwrap();
        assert!(earlier_view.eligible_for_funding);
    }
}
