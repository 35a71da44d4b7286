//! Errors shared by the ports and the services.

use crate::listing::ListParameterError;

/// Error from a store behind a port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or did not respond in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or foreign key constraint rejected the write.
    #[error("conflicting write: {0}")]
    Conflict(String),
    /// The write would give a person a second live place (an accepted, not withdrawn application)
    /// on the same course in the same cohort; a database constraint refused it.
    #[error("the participant already holds a place on this course in this cohort")]
    PlaceTaken,
    /// A stored value could not be read back as a domain value: the data breaks an invariant.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Other(String),
}

/// One failed validation rule: the attribute it concerns and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Name of the attribute, such as `funded_place`, or `base` for the record as a whole.
    pub attribute: String,
    pub message: String,
}

/// Error returned by a use-case service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The token is missing, unknown or of the wrong scope.
    #[error("access denied")]
    Unauthenticated,
    /// The record does not exist or belongs to another lead provider.
    #[error("not found")]
    NotFound,
    /// The lead provider restricts its requests to an allow-list of networks, and the client's
    /// address is not in any of them; `None` when the address could not be determined.
    #[error("the client address is not on the lead provider's allow-list")]
    AddressNotAllowed(Option<std::net::IpAddr>),
    /// The request's parameters cannot be used.
    #[error(transparent)]
    InvalidParameters(#[from] ListParameterError),
    /// A business rule rejected the request.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// The lead provider may see the record but not change it; the message says who may.
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
