//! Shared state of the handlers: the domain services, wired to their stores.

use std::sync::Arc;

use npq_domain::ports::{ApplicationRepository, Clock, LeadProviderRepository, TokenRepository};
use npq_domain::service::{ApplicationService, TokenService};

/// The store behind token authentication: tokens and the lead providers they belong to.
pub trait TokenStore: TokenRepository + LeadProviderRepository {}

impl<T: TokenRepository + LeadProviderRepository> TokenStore for T {}

/// The services the API calls. Cloning is cheap: every store is behind an `Arc`.
#[derive(Clone)]
pub struct ApiState {
    pub applications: ApplicationService<Arc<dyn ApplicationRepository>>,
    pub tokens: TokenService<Arc<dyn TokenStore>, Arc<dyn Clock>>,
}
