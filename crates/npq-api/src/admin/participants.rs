//! The admin operations on people: merging a person's duplicate accounts.

use npq_domain::ids::ParticipantId;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;

use crate::admin::AdminTags;
use crate::admin::requests::{self, MergeParticipantsAttributes};
use crate::admin::resource::{MergeParticipantsResponse, MergeResponse};
use crate::auth::AdminAuth;
use crate::body::RequiredBody;
use crate::error::{AdminActionErrors, ApiError, Failure};
use crate::state::ApiState;
use crate::types::PathId;

/// The admin operations on people.
pub struct AdminParticipantsApi;

#[OpenApi(tag = "AdminTags::Participants")]
impl AdminParticipantsApi {
    /// Merge a duplicate account into another
    ///
    /// Merges the duplicate account `from_participant_id` into the account in the path, which the
    /// person keeps. Every application of the duplicate moves to the kept account, with an entry
    /// in its history, and the duplicate's id stops working: lead providers who read it get 410
    /// with the kept id. The merge is rejected when the two ids are the same, or when either
    /// account was already merged into another. It is also rejected when both accounts have an
    /// accepted application for the same course in the same cohort that is not withdrawn: reject
    /// or withdraw one first. An unknown id, in the path or in the body, gets 404.
    ///
    /// Unlike the application operations, the body is checked (400, then 422) before the accounts
    /// are looked up.
    #[oai(path = "/participants/:id/merge", method = "post", operation_id = "mergeParticipants")]
    async fn merge(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The participant id of the account the person keeps.
        id: Path<PathId>,
        body: RequiredBody<MergeParticipantsAttributes>,
    ) -> Result<MergeParticipantsResponse, Failure<AdminActionErrors>> {
        let (retired, note) = requests::merge_participants(&body)?;
        let kept: ParticipantId = id.0.0.parse().map_err(|_| ApiError::NotFound)?;
        let outcome = state.decisions.merge_accounts(&caller.0, kept, retired, note).await?;
        tracing::info!(
            user = %caller.0,
            kept = %kept,
            retired = %retired,
            moved = outcome.moved.len(),
            "merged duplicate participant accounts"
        );
        Ok(MergeParticipantsResponse::Ok(Json(MergeResponse { data: outcome.into() })))
    }
}
