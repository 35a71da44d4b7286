//! The participant resource: listing and reading your participants, and your actions on their
//! training (defer, withdraw, resume, change schedule).

use npq_domain::application::TrainingStatus;
use npq_domain::course::Course;
use npq_domain::cursor::CursorList;
use npq_domain::ids::ParticipantId;
use npq_domain::listing::{ListParameterError, ListPosition, parse_timestamp_filter};
use npq_domain::participant::{
    Enrolment, ParticipantFilter, ParticipantIdChange, ParticipantQuery, ParticipantView, TrainingDetail,
    parse_from_participant_id_filter, parse_training_status_filter,
};
use npq_domain::schedule::ScheduleIdentifier;
use npq_domain::service::ParticipantLookup;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use crate::auth::LeadProviderAuth;
use crate::body::RequiredBody;
use crate::error::{ActionErrors, ApiError, Failure, ParticipantListErrors, ParticipantShowErrors};
use crate::listing::{CursorMeta, ListRequest, PagingParameters, parse_paging, parse_sort};
use crate::resources::ApiTags;
use crate::resources::participant_actions::{
    ChangeScheduleAttributes, DeferAttributes, ResumeAttributes, WithdrawAttributes, action_request,
};
use crate::state::ApiState;
use crate::types::{Nullable, PathId, Text, UtcSeconds};

/// The resource type of a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ParticipantType")]
pub enum ParticipantType {
    #[oai(rename = "npq-participant")]
    NpqParticipant,
}

/// One participant: a person with at least one application that your organisation accepted.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Participant")]
pub struct ParticipantResource {
    /// The participant's id, which is the `participant_id` of their applications.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: ParticipantType,
    pub attributes: ParticipantAttributes,
}

/// The attributes of a participant. Every key is always present; an unknown value is `null`.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ParticipantAttributes {
    /// The participant's full name.
    pub full_name: String,
    /// Names the participant used before, oldest first. Empty when there are none.
    pub previous_names: Vec<String>,
    /// The participant's teacher reference number (TRN). `null` until the TRN has been checked
    /// against the Teaching Regulation Agency's records.
    pub teacher_reference_number: Nullable<String>,
    /// When anything about the participant that you need to know last changed: the person, any of
    /// their applications (with any lead provider), or their participant id changes.
    pub updated_at: UtcSeconds,
    /// One entry per application of the participant that your organisation accepted, oldest
    /// acceptance first.
    pub npq_enrolments: Vec<EnrolmentResource>,
    /// The ids of duplicate accounts that DfE merged into this one, newest first.
    pub participant_id_changes: Vec<ParticipantIdChangeResource>,
}

/// One accepted application of the participant with your organisation.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "NpqEnrolment")]
pub struct EnrolmentResource {
    /// The course.
    pub course_identifier: Text<Course>,
    /// The schedule the participant follows.
    pub schedule_identifier: Nullable<Text<ScheduleIdentifier>>,
    /// The start year of the cohort, as a string such as `"2025"`. The cohort decides which
    /// contract funds the training.
    pub cohort: String,
    /// The letter that distinguishes cohorts starting in the same year, such as `a`.
    pub cohort_suffix: String,
    /// The id of the accepted application.
    pub npq_application_id: Uuid,
    /// Whether DfE would fund the participant, as found at registration or set by DfE. Unlike the
    /// application's `eligible_for_funding`, it is not `false` when the person was funded for the
    /// same course before.
    pub eligible_for_funding: bool,
    /// Whether the participant is training, paused or has left the course.
    pub training_status: Text<TrainingStatus>,
    /// The unique reference number (URN) of the participant's school.
    pub school_urn: Nullable<String>,
    /// Whether the application qualifies for the targeted delivery funding uplift.
    pub targeted_delivery_funding_eligibility: bool,
    /// Whether the place counts against your funded places. `null` in cohorts that DfE funds
    /// without a cap, and `false` in cohorts that DfE does not fund.
    pub funded_place: Nullable<bool>,
    /// The participant's current email address. `null` when the address now belongs to a newer
    /// account.
    pub email: Nullable<String>,
    /// The latest withdrawal, while `training_status` is `withdrawn`; otherwise `null`.
    pub withdrawal: Nullable<WithdrawalResource>,
    /// The latest deferral, while `training_status` is `deferred`; otherwise `null`.
    pub deferral: Nullable<DeferralResource>,
    /// When the application was accepted, which is when this enrolment began.
    pub created_at: UtcSeconds,
}

/// A withdrawal from a course.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantWithdrawal")]
pub struct WithdrawalResource {
    /// The withdrawal reason given, such as `change-in-career`.
    pub reason: String,
    /// When the withdrawal was recorded.
    pub date: UtcSeconds,
}

/// A deferral of training.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantDeferral")]
pub struct DeferralResource {
    /// The deferral reason given, such as `parental-leave`.
    pub reason: String,
    /// When the deferral was recorded.
    pub date: UtcSeconds,
}

/// A merge of a duplicate account into the account the person keeps.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "ParticipantIdChange")]
pub struct ParticipantIdChangeResource {
    /// The id of the retired account, which no longer works.
    pub from_participant_id: Uuid,
    /// The id of the account that replaced it.
    pub to_participant_id: Uuid,
    /// When DfE merged the accounts.
    pub changed_at: UtcSeconds,
}

impl From<&ParticipantIdChange> for ParticipantIdChangeResource {
    fn from(change: &ParticipantIdChange) -> Self {
        Self {
            from_participant_id: change.from_participant_id.as_uuid(),
            to_participant_id: change.to_participant_id.as_uuid(),
            changed_at: UtcSeconds(change.changed_at),
        }
    }
}

impl EnrolmentResource {
    fn new(enrolment: Enrolment, email: Option<String>) -> Self {
        let Enrolment { application, withdrawal, deferral } = enrolment;
        let withdrawal =
            withdrawal.map(|TrainingDetail { reason, date }| WithdrawalResource { reason, date: UtcSeconds(date) });
        let deferral =
            deferral.map(|TrainingDetail { reason, date }| DeferralResource { reason, date: UtcSeconds(date) });
        Self {
            course_identifier: Text(application.course),
            schedule_identifier: application.schedule.map(Text).into(),
            cohort: application.cohort.start_year().to_string(),
            cohort_suffix: application.cohort.suffix().to_string(),
            npq_application_id: application.id.as_uuid(),
            eligible_for_funding: application.eligible_for_funding,
            // An accepted application without a recorded training status is active.
            training_status: Text(application.training_status.unwrap_or(TrainingStatus::Active)),
            school_urn: application.school_urn.as_ref().map(|urn| urn.as_ref().to_owned()).into(),
            targeted_delivery_funding_eligibility: application.targeted_delivery_funding_eligibility,
            funded_place: application.funded_place.into(),
            email: email.into(),
            withdrawal: withdrawal.into(),
            deferral: deferral.into(),
            created_at: UtcSeconds(application.accepted_at.unwrap_or(application.created_at)),
        }
    }
}

impl From<ParticipantView> for ParticipantResource {
    fn from(view: ParticipantView) -> Self {
        let ParticipantView { person, enrolments, id_changes, updated_at, sort_values: _ } = view;
        let teacher_reference_number = person.verified_trn().map(|trn| trn.as_ref().to_owned());
        let npq_enrolments =
            enrolments.into_iter().map(|enrolment| EnrolmentResource::new(enrolment, person.email.clone())).collect();
        let attributes = ParticipantAttributes {
            full_name: person.full_name,
            previous_names: person.previous_names,
            teacher_reference_number: teacher_reference_number.into(),
            updated_at: UtcSeconds(updated_at),
            npq_enrolments,
            participant_id_changes: id_changes.iter().map(ParticipantIdChangeResource::from).collect(),
        };
        Self { id: person.participant_id.as_uuid(), resource_type: ParticipantType::NpqParticipant, attributes }
    }
}

/// One participant.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ParticipantResponse {
    pub data: ParticipantResource,
}

/// One page of participants. An empty `data` means you have read past the last page.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ParticipantsResponse {
    pub data: Vec<ParticipantResource>,
    /// Only in a cursor walk (`page[cursor]`): the cursor of the next page.
    #[oai(skip_serializing_if_is_none)]
    pub meta: Option<CursorMeta>,
}

#[derive(ApiResponse)]
pub enum ListParticipantsResponse {
    /// One page of your participants, oldest first unless `sort` sets another order.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ParticipantsResponse>),
}

#[derive(ApiResponse)]
pub enum ShowParticipantResponse {
    /// The participant.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ParticipantResponse>),
}

#[derive(ApiResponse)]
pub enum ParticipantActionResponse {
    /// The participant after the change, with every enrolment.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ParticipantResponse>),
}

impl ParticipantActionResponse {
    fn new(view: ParticipantView) -> Self {
        Self::Ok(Json(ParticipantResponse { data: view.into() }))
    }
}

/// Parses a participant id from the path; an id that is not a UUID finds nothing.
fn participant_id(id: &PathId) -> Result<ParticipantId, ApiError> {
    id.0.parse().map_err(|_| ApiError::NotFound)
}

/// The participant operations.
pub struct ParticipantsApi;

#[OpenApi(tag = "ApiTags::NpqParticipants")]
impl ParticipantsApi {
    /// List participants
    ///
    /// Returns one page of your participants: people with at least one application that your
    /// organisation accepted, each listed once with one enrolment per accepted application. Walk
    /// the pages with `page[page]` until one comes back empty.
    #[oai(path = "/participants/npq", method = "get", operation_id = "listParticipants")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        request: &Request,
        /// Only participants changed at or after this instant: an ISO 8601 date and time such as
        /// `2024-05-13T11:21:55Z`. An offset such as `+01:00` may be sent as `%2B01:00` or as a
        /// raw `+`. Without an offset the time is UTC; a bare date means midnight UTC. Each
        /// participant still lists every enrolment.
        #[oai(name = "filter[updated_since]")]
        updated_since: Query<Option<String>>,
        /// Only participants with an enrolment in this training status: `active`, `deferred` or
        /// `withdrawn`. Each participant then lists only the enrolments in that status. Any other
        /// value is rejected with 422.
        #[oai(name = "filter[training_status]")]
        training_status: Query<Option<String>>,
        /// Only participants into whose account DfE merged the account with this id. Each
        /// participant then lists only that participant id change. A value that is not a UUID
        /// matches nothing.
        #[oai(name = "filter[from_participant_id]")]
        from_participant_id: Query<Option<String>>,
        /// The order of the list: `created_at` (when the person became your participant) or
        /// `updated_at`, prefixed with `-` for newest first, several separated by commas, such as
        /// `-updated_at,created_at`. Other names are ignored. Without it the list is oldest first
        /// by `created_at`, the order to sync with.
        sort: Query<Option<String>>,
        /// The page to return, counting from 1. Defaults to 1.
        #[oai(name = "page[page]")]
        page: Query<Option<String>>,
        /// The number of participants on a page, from 1 to 1000. Defaults to 100; larger values
        /// return 1000.
        #[oai(name = "page[per_page]")]
        per_page: Query<Option<String>>,
        /// A cursor walk instead of page numbers: send `page[cursor]=` (empty) for the first page,
        /// then `meta.next_cursor` of each response, until a page comes back empty. Every page
        /// costs the same however deep the walk is. In `created_at` order the walk returns each
        /// participant once; in `updated_at` order a participant changed during the walk comes
        /// back again later. Keep the last cursor to poll for changes. Works with no `sort`,
        /// `sort=created_at` or `sort=updated_at`, and not with `page[page]`.
        #[oai(name = "page[cursor]")]
        cursor: Query<Option<String>>,
    ) -> Result<ListParticipantsResponse, Failure<ParticipantListErrors>> {
        let list_request = ListRequest::from_request(request)?;
        list_request.reject_nested_filter("updated_since", |_| ListParameterError::InvalidTimestamp {
            name: "updated_since",
        })?;
        let updated_since =
            parse_timestamp_filter("updated_since", updated_since.0.as_deref()).map_err(ApiError::from)?;
        let sort = parse_sort(sort.0.as_deref());
        let parameters =
            PagingParameters { cursor: cursor.0.as_deref(), page: page.0.as_deref(), per_page: per_page.0.as_deref() };
        let paging = parse_paging(&state.cursor_key, CursorList::Participants, parameters, &sort)?;

        // A filter sent as an object, such as `filter[training_status][x]=active`, is judged by the
        // text below the filter's name, which is never a valid value: a training status filter is
        // then rejected, and a participant id filter matches nothing.
        let training_status = list_request.nested_filter("training_status").or(training_status.0);
        let from_participant_id = list_request.nested_filter("from_participant_id").or(from_participant_id.0);
        let filter = ParticipantFilter {
            updated_since,
            training_status: parse_training_status_filter(training_status.as_deref())?,
            from_participant_id: parse_from_participant_id_filter(from_participant_id.as_deref()),
        };
        let after = paging.cursor.as_ref().and_then(|walk| walk.after);
        let query = ParticipantQuery { filter, sort, page: paging.page, after };

        let views = state.participants.list(caller.0, &query).await?;
        let meta = paging.cursor.map(|walk| {
            let last = views.last().map(|view| ListPosition {
                sort_value: view.sort_values.get(walk.field()),
                id: view.person.participant_id.as_uuid(),
            });
            walk.meta(&state.cursor_key, last)
        });
        let data = views.into_iter().map(ParticipantResource::from).collect();
        Ok(ListParticipantsResponse::Ok(Json(ParticipantsResponse { data, meta })))
    }

    /// Get one participant
    ///
    /// Returns one of your participants. Another organisation's participant returns 404, as an
    /// unknown id does. An id that DfE retired by merging two accounts of one person returns 410,
    /// whoever asks, with the id to use instead.
    #[oai(path = "/participants/npq/:id", method = "get", operation_id = "getParticipant")]
    async fn show(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The participant's id.
        id: Path<PathId>,
    ) -> Result<ShowParticipantResponse, Failure<ParticipantShowErrors>> {
        let id = participant_id(&id.0)?;
        match state.participants.show(caller.0, id).await? {
            ParticipantLookup::Found(view) => {
                Ok(ShowParticipantResponse::Ok(Json(ParticipantResponse { data: (*view).into() })))
            }
            ParticipantLookup::Retired(changes) => Err(ApiError::ParticipantIdChanged(changes).into()),
        }
    }

    /// Defer a participant
    ///
    /// Pauses the participant's training on the course `course_identifier`, with a deferral
    /// reason. Only an active participant can be deferred, and only after a declaration that is
    /// not voided has been made for them. An id that DfE retired by merging accounts is rejected
    /// with 422 on `participant_id`, naming the id to use.
    #[oai(path = "/participants/npq/:id/defer", method = "put", operation_id = "deferParticipant")]
    async fn defer(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The participant's id.
        id: Path<PathId>,
        body: RequiredBody<DeferAttributes>,
    ) -> Result<ParticipantActionResponse, Failure<ActionErrors>> {
        let request = action_request(&body)?;
        let id = participant_id(&id.0)?;
        let view = state
            .participants
            .defer(caller.0, id, request.course_identifier.as_deref(), request.reason.as_deref())
            .await?;
        Ok(ParticipantActionResponse::new(view))
    }

    /// Withdraw a participant
    ///
    /// Records that the participant left the course `course_identifier`, with a withdrawal reason.
    /// An active or deferred participant can be withdrawn once a `started` declaration that is not
    /// voided has been made for them. If they never started, contact DfE support. An id that DfE
    /// retired by merging accounts is rejected with 422 on `participant_id`, naming the id to use.
    #[oai(path = "/participants/npq/:id/withdraw", method = "put", operation_id = "withdrawParticipant")]
    async fn withdraw(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The participant's id.
        id: Path<PathId>,
        body: RequiredBody<WithdrawAttributes>,
    ) -> Result<ParticipantActionResponse, Failure<ActionErrors>> {
        let request = action_request(&body)?;
        let id = participant_id(&id.0)?;
        let view = state
            .participants
            .withdraw(caller.0, id, request.course_identifier.as_deref(), request.reason.as_deref())
            .await?;
        Ok(ParticipantActionResponse::new(view))
    }

    /// Resume a participant
    ///
    /// Makes a deferred or withdrawn participant active again on the course `course_identifier`.
    /// A withdrawn participant cannot resume while another of their applications is accepted for
    /// the same course in the same cohort and not withdrawn. An id that DfE retired by merging accounts is
    /// rejected with 422 on `participant_id`, naming the id to use.
    #[oai(path = "/participants/npq/:id/resume", method = "put", operation_id = "resumeParticipant")]
    async fn resume(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The participant's id.
        id: Path<PathId>,
        body: RequiredBody<ResumeAttributes>,
    ) -> Result<ParticipantActionResponse, Failure<ActionErrors>> {
        let request = action_request(&body)?;
        let id = participant_id(&id.0)?;
        let view = state.participants.resume(caller.0, id, request.course_identifier.as_deref()).await?;
        Ok(ParticipantActionResponse::new(view))
    }

    /// Change a participant's schedule
    ///
    /// Moves the participant's enrolment on the course `course_identifier` to the schedule
    /// `schedule_identifier`, in the cohort of start year `cohort` when given, else in the cohort
    /// of the current schedule. When that year has several cohorts, the latest (such as `2026b`
    /// before `2026a`) is chosen. The schedule must suit the course and differ from the current
    /// one, and a withdrawn participant must be resumed first.
    ///
    /// The cohort can change only while no declaration is submitted, eligible, payable or paid,
    /// and the new schedule must allow every such declaration and start before its date. A place
    /// in a capped cohort cannot move to a cohort without a cap, nor a place in an unfunded cohort
    /// to a funded one. Moving from a cohort without a cap into a capped one sets `funded_place`
    /// to `eligible_for_funding`, and moving into an unfunded cohort sets it to `false`. Moving
    /// between capped cohorts keeps it.
    #[oai(path = "/participants/npq/:id/change-schedule", method = "put", operation_id = "changeSchedule")]
    async fn change_schedule(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The participant's id.
        id: Path<PathId>,
        body: RequiredBody<ChangeScheduleAttributes>,
    ) -> Result<ParticipantActionResponse, Failure<ActionErrors>> {
        let request = action_request(&body)?;
        let id = participant_id(&id.0)?;
        let view = state
            .participants
            .change_schedule(
                caller.0,
                id,
                request.course_identifier.as_deref(),
                request.schedule_identifier,
                request.cohort,
            )
            .await?;
        Ok(ParticipantActionResponse::new(view))
    }
}
