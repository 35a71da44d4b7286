//! Shared state of the handlers: the domain services, wired to their stores.

use std::sync::Arc;

use npq_domain::auth::TokenKey;
use npq_domain::cursor::CursorKey;
use npq_domain::declaration_service::DeclarationService;
use npq_domain::ports::{
    ApplicationRepository, Clock, DecisionStore, DeclarationStore, DeliveryPartnerRepository, LeadProviderRepository,
    ParticipantRepository, ReferenceListRepository, RegistrationStore, StatementStore, TokenRepository,
};
use npq_domain::service::{
    ApplicationService, DecisionService, DeliveryPartnerService, ParticipantService, RegistrationService, TokenService,
};
use npq_domain::statement_service::StatementService;

/// The store behind token authentication: tokens and the lead providers they belong to.
pub trait TokenStore: TokenRepository + LeadProviderRepository {}

impl<T: TokenRepository + LeadProviderRepository> TokenStore for T {}

/// The store behind decisions on applications: the transactions that apply them, and the reads
/// that return the decided application.
pub trait DecisionBackend: DecisionStore + ApplicationRepository {}

impl<T: DecisionStore + ApplicationRepository> DecisionBackend for T {}

/// The store behind participants: the reads of a lead provider's participants, and the
/// transactions that apply the provider's actions on their training.
pub trait ParticipantBackend: ParticipantRepository + DecisionStore {}

impl<T: ParticipantRepository + DecisionStore> ParticipantBackend for T {}

/// The store behind declarations and outcomes: their transactions and reads, and the participant
/// reads that outcome lists check first.
pub trait DeclarationBackend: DeclarationStore + ParticipantRepository {}

impl<T: DeclarationStore + ParticipantRepository> DeclarationBackend for T {}

/// The store behind registration: the reference lists, the registration transaction, and the
/// reads that return the registered application.
pub trait RegistrationBackend: ReferenceListRepository + RegistrationStore + ApplicationRepository {}

impl<T: ReferenceListRepository + RegistrationStore + ApplicationRepository> RegistrationBackend for T {}

/// The services the API calls. Cloning is cheap: every store is behind an `Arc`.
///
/// [`ApiState::over`] wires every service to one store; tests may build the fields one by one.
#[derive(Clone)]
pub struct ApiState {
    pub applications: ApplicationService<Arc<dyn ApplicationRepository>>,
    pub tokens: TokenService<Arc<dyn TokenStore>, Arc<dyn Clock>>,
    pub decisions: DecisionService<Arc<dyn DecisionBackend>, Arc<dyn Clock>>,
    pub participants: ParticipantService<Arc<dyn ParticipantBackend>, Arc<dyn Clock>>,
    pub registrations: RegistrationService<Arc<dyn RegistrationBackend>, Arc<dyn Clock>>,
    pub delivery_partners: DeliveryPartnerService<Arc<dyn DeliveryPartnerRepository>>,
    pub declarations: DeclarationService<Arc<dyn DeclarationBackend>, Arc<dyn Clock>>,
    pub statements: StatementService<Arc<dyn StatementStore>, Arc<dyn Clock>>,
    /// The key that signs list cursors (`page[cursor]`), derived from the token key.
    pub cursor_key: CursorKey,
}

impl ApiState {
    /// Wires every service to one store that implements all the ports, keying token digests with
    /// `key` and reading the time from `clock`.
    pub fn over<S>(store: S, key: TokenKey, clock: Arc<dyn Clock>) -> Self
    where
        S: ApplicationRepository
            + TokenStore
            + DecisionBackend
            + ParticipantBackend
            + RegistrationBackend
            + DeliveryPartnerRepository
            + DeclarationBackend
            + StatementStore
            + Clone
            + 'static,
    {
        let applications: Arc<dyn ApplicationRepository> = Arc::new(store.clone());
        let tokens: Arc<dyn TokenStore> = Arc::new(store.clone());
        let decisions: Arc<dyn DecisionBackend> = Arc::new(store.clone());
        let participants: Arc<dyn ParticipantBackend> = Arc::new(store.clone());
        let registrations: Arc<dyn RegistrationBackend> = Arc::new(store.clone());
        let declarations: Arc<dyn DeclarationBackend> = Arc::new(store.clone());
        let statements: Arc<dyn StatementStore> = Arc::new(store.clone());
        let delivery_partners: Arc<dyn DeliveryPartnerRepository> = Arc::new(store);
        Self {
            applications: ApplicationService::new(applications),
            cursor_key: CursorKey::derive(&key),
            tokens: TokenService::new(tokens, key, clock.clone()),
            decisions: DecisionService::new(decisions, clock.clone()),
            participants: ParticipantService::new(participants, clock.clone()),
            registrations: RegistrationService::new(registrations, clock.clone()),
            delivery_partners: DeliveryPartnerService::new(delivery_partners),
            declarations: DeclarationService::new(declarations, clock.clone()),
            statements: StatementService::new(statements, clock),
        }
    }
}
