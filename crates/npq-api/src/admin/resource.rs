//! The application as DfE staff see it: every attribute lead providers see, plus the lead
//! provider it is with, the participant's training status and the recorded history of changes.

use npq_domain::application::TrainingStatus;
use npq_domain::decision::{Actor, HistoryEntry, HistoryField};
use npq_domain::participant::MergeOutcome;
use npq_domain::service::{AdminApplicationView, ExpiryResult};
use poem_openapi::{ApiResponse, Enum, Object, Union};
use uuid::Uuid;

use crate::error::{ErrorDetail, error_details};
use crate::resources::applications::{ApplicationAttributes, ApplicationResource, ApplicationType};
use crate::types::{Nullable, Text, UtcSeconds};

/// One application, with any lead provider.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "AdminApplication")]
pub struct AdminApplicationResource {
    /// The application's id.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: ApplicationType,
    pub attributes: AdminApplicationAttributes,
}

/// The attributes lead providers see, followed by those only DfE staff see.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminApplicationAttributes {
    #[oai(flatten)]
    pub application: ApplicationAttributes,
    /// The lead provider the application is with.
    pub lead_provider_id: Uuid,
    /// The participant's training status. `null` until the application is accepted, and again
    /// after it is returned to pending. Lead providers see it on participants, not on applications.
    pub training_status: Nullable<Text<TrainingStatus>>,
    /// Every recorded change of the application, oldest first.
    pub history: Vec<ApplicationChange>,
}

impl From<AdminApplicationView> for AdminApplicationResource {
    fn from(admin_view: AdminApplicationView) -> Self {
        let AdminApplicationView { view, lead_provider, history } = admin_view;
        let training_status = view.application.training_status;
        let ApplicationResource { id, resource_type, attributes } = ApplicationResource::from(view);
        Self {
            id,
            resource_type,
            attributes: AdminApplicationAttributes {
                application: attributes,
                lead_provider_id: lead_provider.as_uuid(),
                training_status: training_status.map(Text).into(),
                history: history.into_iter().map(ApplicationChange::from).collect(),
            },
        }
    }
}

/// One recorded change of one field of an application.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ApplicationChange {
    /// The field that changed.
    pub field: Text<HistoryField>,
    /// The value before the change, spelt as the API sends it; `null` for no value.
    pub from: Nullable<String>,
    /// The value after the change; `null` for no value.
    pub to: Nullable<String>,
    /// Why the change was made: a rejection, deferral or withdrawal reason, or the note of the
    /// DfE staff member who made it.
    pub reason: Nullable<String>,
    /// When the change was made.
    pub changed_at: UtcSeconds,
    pub changed_by: ChangedBy,
}

impl From<HistoryEntry> for ApplicationChange {
    fn from(entry: HistoryEntry) -> Self {
        let changed_by = match entry.actor {
            Actor::LeadProvider(id) => ChangedBy::LeadProvider(ChangedByLeadProvider {
                kind: LeadProviderKind::LeadProvider,
                id: id.as_uuid(),
            }),
            Actor::Dfe { user } => ChangedBy::Dfe(ChangedByDfe { kind: DfeKind::Dfe, user }),
        };
        Self {
            field: Text(entry.field),
            from: entry.from.into(),
            to: entry.to.into(),
            reason: entry.reason.into(),
            changed_at: UtcSeconds(entry.at),
            changed_by,
        }
    }
}

/// The maker of a change: a lead provider through the API, or a DfE staff member.
#[derive(Debug, Clone, PartialEq, Union)]
#[oai(one_of)]
pub enum ChangedBy {
    LeadProvider(ChangedByLeadProvider),
    Dfe(ChangedByDfe),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum LeadProviderKind {
    #[oai(rename = "lead_provider")]
    LeadProvider,
}

/// A change made by a lead provider, such as an acceptance.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ChangedByLeadProvider {
    #[oai(rename = "type")]
    pub kind: LeadProviderKind,
    /// The lead provider's id.
    pub id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum DfeKind {
    #[oai(rename = "dfe")]
    Dfe,
}

/// A change made by a DfE staff member through the admin API.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ChangedByDfe {
    #[oai(rename = "type")]
    pub kind: DfeKind,
    /// The staff member's name, as recorded on their admin token.
    pub user: String,
}

/// One application.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminApplicationResponse {
    pub data: AdminApplicationResource,
}

#[derive(ApiResponse)]
pub enum ShowAdminApplicationResponse {
    /// The application.
    #[oai(status = 200, content_type = "application/json")]
    Ok(poem_openapi::payload::Json<AdminApplicationResponse>),
}

#[derive(ApiResponse)]
pub enum ChangeAdminApplicationResponse {
    /// The application after the change, with the change in its history. A request that changes
    /// nothing returns the application unchanged.
    #[oai(status = 200, content_type = "application/json")]
    Ok(poem_openapi::payload::Json<AdminApplicationResponse>),
}

impl ChangeAdminApplicationResponse {
    /// Wraps a changed application.
    pub fn new(view: AdminApplicationView) -> Self {
        Self::Ok(poem_openapi::payload::Json(AdminApplicationResponse { data: view.into() }))
    }
}

/// The outcome of a bulk expiry.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ExpiryReport {
    /// Ids of the applications rejected with reason `registration_expired`, oldest first.
    pub expired: Vec<Uuid>,
    /// Applications that were selected but could not be expired, with the reasons.
    pub refused: Vec<RefusedExpiry>,
}

/// A stale application that could not be expired.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct RefusedExpiry {
    /// The application's id.
    pub id: Uuid,
    /// The reasons it was not expired, each titled with the attribute concerned.
    pub errors: Vec<ErrorDetail>,
}

impl From<Vec<ExpiryResult>> for ExpiryReport {
    fn from(results: Vec<ExpiryResult>) -> Self {
        let mut report = Self { expired: Vec::new(), refused: Vec::new() };
        for result in results {
            let id = result.application_id.as_uuid();
            match result.refused {
                None => report.expired.push(id),
                Some(errors) => report.refused.push(RefusedExpiry { id, errors: error_details(&errors) }),
            }
        }
        report
    }
}

/// The outcome of a bulk expiry.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ExpiryResponse {
    pub data: ExpiryReport,
}

#[derive(ApiResponse)]
pub enum ExpireApplicationsResponse {
    /// The applications expired and those that could not be. Both lists are empty when no
    /// pending application matched.
    #[oai(status = 200, content_type = "application/json")]
    Ok(poem_openapi::payload::Json<ExpiryResponse>),
}

/// The outcome of a merge of two accounts of one person.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct MergeReport {
    /// The id of the account the person keeps.
    pub participant_id: Uuid,
    /// The id of the retired account. Lead providers who read it get 410 with the kept id.
    pub retired_participant_id: Uuid,
    /// Ids of the applications that moved from the retired account to the kept one.
    pub moved_application_ids: Vec<Uuid>,
    /// When the accounts were merged.
    pub changed_at: UtcSeconds,
}

impl From<MergeOutcome> for MergeReport {
    fn from(outcome: MergeOutcome) -> Self {
        Self {
            participant_id: outcome.change.to_participant_id.as_uuid(),
            retired_participant_id: outcome.change.from_participant_id.as_uuid(),
            moved_application_ids: outcome.moved.iter().map(|id| id.as_uuid()).collect(),
            changed_at: UtcSeconds(outcome.change.changed_at),
        }
    }
}

/// The outcome of a merge of two accounts of one person.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct MergeResponse {
    pub data: MergeReport,
}

#[derive(ApiResponse)]
pub enum MergeParticipantsResponse {
    /// The accounts were merged.
    #[oai(status = 200, content_type = "application/json")]
    Ok(poem_openapi::payload::Json<MergeResponse>),
}
