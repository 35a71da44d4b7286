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

/// A delivery partner as one lead provider sees it: the partner and the cohorts in which it works
/// with that provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPartnerView {
    pub partner: DeliveryPartner,
    /// The cohorts of the partner's partnerships with the lead provider, in any order.
    pub cohorts: Vec<CohortIdentifier>,
}

impl DeliveryPartnerView {
    /// Returns the start years of the view's cohorts, ascending, each once: two cohorts starting in
    /// the same year give one year.
    pub fn start_years(&self) -> Vec<u16> {
        let mut years: Vec<u16> = self.cohorts.iter().map(|cohort| cohort.start_year()).collect();
        years.sort_unstable();
        years.dedup();
        years
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_years_are_sorted_and_distinct() {
        let cohorts = ["2025b", "2022a", "2025a"].map(|identifier| identifier.parse().unwrap()).to_vec();
        let partner = DeliveryPartner {
            id: DeliveryPartnerId::new_random(),
            name: "Partner".to_owned(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        assert_eq!(DeliveryPartnerView { partner, cohorts }.start_years(), vec![2022, 2025]);
    }
}
