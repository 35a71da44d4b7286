//! The DfE admin API, served under `/api/admin/v1`: DfE staff read any application with its
//! history, correct decisions that went wrong, merge a person's duplicate accounts, and manage
//! statements and their payment. Only admin tokens are accepted.
//!
//! Handlers hold no rules, as in the v3 API: each reads its body with [`requests`], calls one
//! `DecisionService` method with the staff member's name, and maps the result with [`resource`].

pub mod lead_providers;
pub mod participants;
pub mod requests;
pub mod resource;
pub mod statement_requests;
pub mod statement_resource;
pub mod statements;

use npq_domain::ids::ApplicationId;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use crate::auth::AdminAuth;
use crate::body::RequiredBody;
use crate::error::{AdminActionErrors, AdminBulkErrors, AdminShowErrors, ApiError, Failure};
use crate::resources::applications::application_id;
use crate::state::ApiState;
use crate::types::PathId;

use self::requests::{
    AdminRejectAttributes, ChangeCohortAttributes, ChangeFundingEligibilityAttributes, ChangeLeadProviderAttributes,
    ChangeTrainingStatusAttributes, ExpireAttributes, RevertToPendingAttributes,
};
use self::resource::{
    AdminApplicationResponse, ChangeAdminApplicationResponse, ExpireApplicationsResponse, ExpiryResponse,
    ShowAdminApplicationResponse,
};

/// Groups of operations in the admin OpenAPI document.
#[derive(Tags)]
pub enum AdminTags {
    /// Applications with every lead provider, and the corrections DfE staff make to them.
    Applications,
    /// People, and the merging of a person's duplicate accounts.
    Participants,
}

/// Returns the error to send for a request with a bad body: 404 when no application has the id,
/// because a missing resource is reported before a bad body, and `error` otherwise.
async fn bad_body_error(state: &ApiState, id: ApplicationId, error: ApiError) -> ApiError {
    match state.decisions.admin_show(id).await {
        Ok(_) => error,
        Err(lookup_error) => lookup_error.into(),
    }
}

/// The admin operations.
pub struct AdminApi;

#[OpenApi(tag = "AdminTags::Applications")]
impl AdminApi {
    /// Get one application
    ///
    /// Returns any application, whatever its lead provider, with its training status and every
    /// recorded change: who made it, when, from what, to what and why.
    #[oai(path = "/applications/:id", method = "get", operation_id = "getApplication")]
    async fn show(
        &self,
        _caller: AdminAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
    ) -> Result<ShowAdminApplicationResponse, Failure<AdminShowErrors>> {
        let id = application_id(&id.0)?;
        let view = state.decisions.admin_show(id).await?;
        Ok(ShowAdminApplicationResponse::Ok(Json(AdminApplicationResponse { data: view.into() })))
    }

    /// Return an application to pending
    ///
    /// Returns an accepted or rejected application to pending, so that its lead provider can
    /// decide again. Refused while the application has declarations that are submitted, eligible,
    /// payable or paid. The training status and the reason for rejection are cleared and the
    /// funded place is unset; the schedule is kept.
    #[oai(path = "/applications/:id/revert-to-pending", method = "post", operation_id = "revertToPending")]
    async fn revert_to_pending(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
        body: RequiredBody<RevertToPendingAttributes>,
    ) -> Result<ChangeAdminApplicationResponse, Failure<AdminActionErrors>> {
        let id = application_id(&id.0)?;
        let note = match requests::revert_to_pending(&body) {
            Ok(note) => note,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let view = state.decisions.revert_to_pending(&caller.0, id, note).await?;
        Ok(ChangeAdminApplicationResponse::new(view))
    }

    /// Move an application to another cohort
    ///
    /// Moves an application to another cohort. The move is refused while the application has
    /// declarations that are not voided, or when the new cohort lacks its schedule. It is also
    /// refused when the funding of the two cohorts does not allow it, or when the participant
    /// already has an accepted application for the course in the new cohort. The schedule moves to
    /// its namesake in the new cohort.
    #[oai(path = "/applications/:id/change-cohort", method = "put", operation_id = "changeCohort")]
    async fn change_cohort(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
        body: RequiredBody<ChangeCohortAttributes>,
    ) -> Result<ChangeAdminApplicationResponse, Failure<AdminActionErrors>> {
        let id = application_id(&id.0)?;
        let (cohort, note) = match requests::change_cohort(&body) {
            Ok(request) => request,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let view = state.decisions.change_cohort(&caller.0, id, &cohort, note).await?;
        Ok(ChangeAdminApplicationResponse::new(view))
    }

    /// Override the funding eligibility of an application
    ///
    /// Overrides the funding eligibility found at registration. Making an application ineligible
    /// is refused while it has a funded place or declarations that are submitted, eligible,
    /// payable or paid.
    #[oai(
        path = "/applications/:id/change-funding-eligibility",
        method = "put",
        operation_id = "changeFundingEligibility"
    )]
    async fn change_funding_eligibility(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
        body: RequiredBody<ChangeFundingEligibilityAttributes>,
    ) -> Result<ChangeAdminApplicationResponse, Failure<AdminActionErrors>> {
        let id = application_id(&id.0)?;
        let (eligible, reason) = match requests::change_funding_eligibility(&body) {
            Ok(request) => request,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let view = state.decisions.change_funding_eligibility(&caller.0, id, eligible, reason).await?;
        Ok(ChangeAdminApplicationResponse::new(view))
    }

    /// Move an application to another lead provider
    ///
    /// Transfers an application, with its participant and declarations, to another lead provider,
    /// which must exist and differ from the current one. The old lead provider can no longer read
    /// it.
    #[oai(path = "/applications/:id/change-lead-provider", method = "put", operation_id = "changeLeadProvider")]
    async fn change_lead_provider(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
        body: RequiredBody<ChangeLeadProviderAttributes>,
    ) -> Result<ChangeAdminApplicationResponse, Failure<AdminActionErrors>> {
        let id = application_id(&id.0)?;
        let (lead_provider, note) = match requests::change_lead_provider(&body) {
            Ok(request) => request,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let view = state.decisions.change_lead_provider(&caller.0, id, lead_provider, note).await?;
        Ok(ChangeAdminApplicationResponse::new(view))
    }

    /// Change the training status of an application
    ///
    /// Defers, withdraws or resumes the participant of an accepted application, under the rules
    /// lead providers follow: deferring needs a declaration that is not voided, and withdrawing a
    /// `started` declaration that is not voided. The current status again changes nothing.
    #[oai(path = "/applications/:id/change-training-status", method = "put", operation_id = "changeTrainingStatus")]
    async fn change_training_status(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
        body: RequiredBody<ChangeTrainingStatusAttributes>,
    ) -> Result<ChangeAdminApplicationResponse, Failure<AdminActionErrors>> {
        let id = application_id(&id.0)?;
        let (status, reason) = match requests::change_training_status(&body) {
            Ok(request) => request,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let view = state.decisions.change_training_status(&caller.0, id, &status, reason.as_deref()).await?;
        Ok(ChangeAdminApplicationResponse::new(view))
    }

    /// Reject an application
    ///
    /// Rejects a pending or accepted application on DfE's behalf, with reason
    /// `registration_expired` or `rejected_by_dfe`. The same checks apply as when a lead provider
    /// rejects: not already rejected, and no declarations that are submitted, eligible, payable or
    /// paid.
    #[oai(path = "/applications/:id/reject", method = "post", operation_id = "rejectApplication")]
    async fn reject(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
        body: RequiredBody<AdminRejectAttributes>,
    ) -> Result<ChangeAdminApplicationResponse, Failure<AdminActionErrors>> {
        let id = application_id(&id.0)?;
        let (rejection, note) = match requests::reject(&body) {
            Ok(request) => request,
            Err(error) => return Err(bad_body_error(&state, id, error).await.into()),
        };
        let view = state.decisions.reject_by_dfe(&caller.0, id, rejection, note).await?;
        Ok(ChangeAdminApplicationResponse::new(view))
    }

    /// Expire stale applications
    ///
    /// Rejects, with reason `registration_expired`, the pending applications created before
    /// `created_before`, oldest first and at most `limit` of them, optionally in one cohort only.
    /// Each is expired on its own: one that cannot be is listed in `refused` with the reasons, and
    /// the others still expire. Refused applications stay pending, so the next call selects them
    /// again and they count against its `limit`. Call again while `expired` is not empty.
    #[oai(path = "/applications/expire", method = "post", operation_id = "expireApplications")]
    async fn expire(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        body: RequiredBody<ExpireAttributes>,
    ) -> Result<ExpireApplicationsResponse, Failure<AdminBulkErrors>> {
        let request = requests::expire(&body)?;
        let results =
            state.decisions.expire_stale(&caller.0, request.created_before, request.cohort, request.limit).await?;
        tracing::info!(
            user = %caller.0,
            selected = results.len(),
            refused = results.iter().filter(|result| result.refused.is_some()).count(),
            "expired stale applications"
        );
        Ok(ExpireApplicationsResponse::Ok(Json(ExpiryResponse { data: results.into() })))
    }
}
