//! One module per v3 resource: its DTOs, how domain views map onto them, and its operations.

pub mod application_decisions;
pub mod applications;
pub mod declarations;
pub mod delivery_partners;
pub mod outcomes;
pub mod participant_actions;
pub mod participants;
pub mod statements;

use poem_openapi::Tags;

/// Groups of operations in the OpenAPI document.
#[derive(Tags)]
pub enum ApiTags {
    /// Applications that people made to your organisation for an NPQ course.
    #[oai(rename = "NPQ applications")]
    NpqApplications,
    /// People whose applications your organisation accepted, and their training.
    #[oai(rename = "NPQ participants")]
    NpqParticipants,
    /// Organisations that deliver training with your organisation.
    #[oai(rename = "Delivery partners")]
    DeliveryPartners,
    /// Your claims that participants reached milestones, which lead to payment.
    #[oai(rename = "Participant declarations")]
    ParticipantDeclarations,
    /// Whether participants passed the assessment of their course.
    #[oai(rename = "Participant outcomes")]
    ParticipantOutcomes,
    /// The monthly statements on which DfE pays your organisation for your declarations.
    Statements,
}
