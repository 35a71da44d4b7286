//! Lead providers, delivery partners and the partnerships between them.

use crate::Timestamp;
use crate::cohort::CohortIdentifier;
use crate::ids::{DeliveryPartnerId, LeadProviderId};

/// An organisation that trains NPQ participants and uses the lead provider API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadProvider {
    pub id: LeadProviderId,
    /// Unique name, used by operators to pick the provider (`token create --lead-provider NAME`).
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An organisation that delivers training on behalf of lead providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPartner {
    pub id: DeliveryPartnerId,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A lead provider working with a delivery partner in one cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryPartnership {
    pub lead_provider: LeadProviderId,
    pub delivery_partner: DeliveryPartnerId,
    pub cohort: CohortIdentifier,
}

/// Names of the lead providers contracted to deliver NPQs, used for reference and sandbox data.
pub const LEAD_PROVIDER_NAMES: [&str; 10] = [
    "Ambition Institute",
    "Best Practice Network",
    "Church of England",
    "Education Development Trust",
    "LLSE",
    "National Institute of Teaching",
    "School-Led Network",
    "Teach First",
    "Teacher Development Trust",
    "UCL Institute of Education",
];
