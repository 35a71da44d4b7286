//! The application resource: listing and reading applications, and the decisions lead providers
//! make on them (accept, reject, change the funded place).

use npq_domain::application::{
    ApplicationStatus, ApplicationView, FundingChoice, HeadteacherStatus, IneligibleForFundingReason,
    ReasonForRejection, SencoInRole,
};
use npq_domain::course::Course;
use npq_domain::cursor::CursorList;
use npq_domain::ids::{ApplicationId, LeadProviderId};
use npq_domain::listing::{
    ApplicationFilter, ApplicationQuery, ListParameterError, ListPosition, SortField, parse_cohort_filter,
    parse_participant_id_filter, parse_timestamp_filter,
};
use npq_domain::schedule::ScheduleIdentifier;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use crate::auth::LeadProviderAuth;
use crate::body::{OptionalBody, RequiredBody};
use crate::error::{ActionErrors, ApiError, Failure, ListErrors, ShowErrors};
use crate::listing::{CursorMeta, ListRequest, PagingParameters, parse_paging, parse_sort};
use crate::resources::ApiTags;
use crate::resources::application_decisions::{
    AcceptAttributes, ChangeFundedPlaceAttributes, accept_request, funded_place,
};
use crate::state::ApiState;
use crate::types::{CalendarDate, Nullable, PathId, Text, UtcSeconds};

/// The resource type of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ApplicationType")]
pub enum ApplicationType {
    #[oai(rename = "npq_application")]
    NpqApplication,
}

/// One application: a person's registration for an NPQ course with your organisation.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Application")]
pub struct ApplicationResource {
    /// The application's id.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: ApplicationType,
    pub attributes: ApplicationAttributes,
}

/// The attributes of an application. Every key is always present; an unknown value is `null`.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ApplicationAttributes {
    /// The course applied for.
    pub course_identifier: Text<Course>,
    /// The applicant's current email address. `null` when the address now belongs to a newer
    /// account.
    pub email: Nullable<String>,
    /// Always `true`: applicants confirm their email address before they can apply.
    pub email_validated: bool,
    /// The employer's name, for applicants who do not work in a school or nursery.
    pub employer_name: Nullable<String>,
    /// The applicant's role, for applicants who do not work in a school or nursery.
    pub employment_role: Nullable<String>,
    /// The applicant's full name.
    pub full_name: String,
    /// The party that pays, for applicants who are not eligible for DfE funding.
    pub funding_choice: Nullable<Text<FundingChoice>>,
    /// Whether the applicant is, or is about to become, a headteacher.
    pub headteacher_status: Nullable<Text<HeadteacherStatus>>,
    /// The reason DfE does not fund this application; `null` when it is eligible.
    pub ineligible_for_funding_reason: Nullable<Text<IneligibleForFundingReason>>,
    /// The applicant's id, shared by every application the same person makes.
    pub participant_id: Uuid,
    /// The Ofsted unique reference number of the applicant's private childcare provider.
    pub private_childcare_provider_urn: Nullable<String>,
    /// The applicant's teacher reference number (TRN). `null` until the TRN has been checked
    /// against the Teaching Regulation Agency's records.
    pub teacher_reference_number: Nullable<String>,
    /// Whether the applicant's TRN was checked against the Teaching Regulation Agency's records.
    pub teacher_reference_number_validated: bool,
    /// The unique reference number (URN) of the applicant's school.
    pub school_urn: Nullable<String>,
    /// The UK provider reference number (UKPRN) recorded with the application.
    pub school_ukprn: Nullable<String>,
    /// Your decision on the application.
    pub status: Text<ApplicationStatus>,
    /// The reason the application was rejected; `null` unless it was.
    pub reason_for_rejection: Nullable<Text<ReasonForRejection>>,
    /// Whether the applicant works in a school.
    pub works_in_school: Nullable<bool>,
    /// The start year of the cohort, as a string such as `"2025"`. The cohort decides which
    /// contract funds the training.
    pub cohort: String,
    /// The letter that tells apart several cohorts starting in the same year, such as `a`.
    pub cohort_suffix: String,
    /// Whether DfE would fund the applicant. `false` when the person was funded for the same
    /// course before.
    pub eligible_for_funding: bool,
    /// Whether the application qualifies for the targeted delivery funding uplift.
    pub targeted_delivery_funding_eligibility: bool,
    /// Whether the applicant works in England or elsewhere in the British Isles.
    pub teacher_catchment: bool,
    /// The country the applicant named at registration.
    pub teacher_catchment_country: Nullable<String>,
    /// The ISO 3166-1 alpha-3 code of the applicant's country, such as `GBR`.
    pub teacher_catchment_iso_country_code: Nullable<String>,
    /// The legal name of the accredited initial teacher training provider of a lead mentor.
    pub itt_provider: Nullable<String>,
    /// Whether the applicant is a lead mentor for an initial teacher training provider.
    pub lead_mentor: bool,
    /// Whether the place counts against your funded places. `null` until you set it, and in
    /// cohorts without a cap on funded places.
    pub funded_place: Nullable<bool>,
    /// When the application was made.
    pub created_at: UtcSeconds,
    /// When the application, or anything about the applicant that you need to know, last changed.
    pub updated_at: UtcSeconds,
    /// The schedule the participant follows; `null` until the application is accepted.
    pub schedule_identifier: Nullable<Text<ScheduleIdentifier>>,
    /// For the SENCO course, whether the applicant is a special educational needs co-ordinator:
    /// the answer given at registration.
    pub works_as_senco: Nullable<Text<SencoInRole>>,
    /// When the applicant became a SENCO.
    pub senco_start_date: Nullable<CalendarDate>,
}

impl From<ApplicationView> for ApplicationResource {
    fn from(view: ApplicationView) -> Self {
        let ApplicationView { application, person, eligible_for_funding, ineligible_for_funding_reason } = view;
        let attributes = ApplicationAttributes {
            course_identifier: Text(application.course),
            email: person.email.clone().into(),
            email_validated: true,
            employer_name: application.employer_name.into(),
            employment_role: application.employment_role.into(),
            full_name: person.full_name.clone(),
            funding_choice: application.funding_choice.map(Text).into(),
            headteacher_status: application.headteacher_status.map(Text).into(),
            ineligible_for_funding_reason: ineligible_for_funding_reason.map(Text).into(),
            participant_id: application.participant_id.as_uuid(),
            private_childcare_provider_urn: application.private_childcare_provider_urn.as_ref().map(owned_text).into(),
            teacher_reference_number: person.verified_trn().map(owned_text).into(),
            teacher_reference_number_validated: person.trn_verified,
            school_urn: application.school_urn.as_ref().map(owned_text).into(),
            school_ukprn: application.ukprn.as_ref().map(owned_text).into(),
            status: Text(application.status),
            reason_for_rejection: application.reason_for_rejection.map(Text).into(),
            works_in_school: application.works_in_school.into(),
            cohort: application.cohort.start_year().to_string(),
            cohort_suffix: application.cohort.suffix().to_string(),
            eligible_for_funding,
            targeted_delivery_funding_eligibility: application.targeted_delivery_funding_eligibility,
            teacher_catchment: application
                .teacher_catchment
                .is_some_and(|catchment| catchment.is_in_british_isles_list()),
            teacher_catchment_country: application.teacher_catchment_country.into(),
            teacher_catchment_iso_country_code: application
                .teacher_catchment_iso_country_code
                .as_ref()
                .map(owned_text)
                .into(),
            itt_provider: application.itt_provider.into(),
            lead_mentor: application.lead_mentor,
            funded_place: application.funded_place.into(),
            created_at: UtcSeconds(application.created_at),
            updated_at: UtcSeconds(application.updated_at),
            schedule_identifier: application.schedule.map(Text).into(),
            works_as_senco: application.senco_in_role.map(Text).into(),
            senco_start_date: application.senco_start_date.map(CalendarDate).into(),
        };
        Self { id: application.id.as_uuid(), resource_type: ApplicationType::NpqApplication, attributes }
    }
}

fn owned_text<T: AsRef<str>>(identifier: &T) -> String {
    identifier.as_ref().to_owned()
}

/// One application.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ApplicationResponse {
    pub data: ApplicationResource,
}

/// One page of applications. An empty `data` means you have read past the last page.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ApplicationsResponse {
    pub data: Vec<ApplicationResource>,
    /// Only in a cursor walk (`page[cursor]`): the cursor of the next page.
    #[oai(skip_serializing_if_is_none)]
    pub meta: Option<CursorMeta>,
}

#[derive(ApiResponse)]
pub enum ListApplicationsResponse {
    /// One page of your applications, oldest first unless `sort` sets another order.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ApplicationsResponse>),
}

#[derive(ApiResponse)]
pub enum ShowApplicationResponse {
    /// The application.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ApplicationResponse>),
}

#[derive(ApiResponse)]
pub enum AcceptApplicationResponse {
    /// The application, now accepted.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ApplicationResponse>),
}

#[derive(ApiResponse)]
pub enum RejectApplicationResponse {
    /// The application, now rejected.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ApplicationResponse>),
}

#[derive(ApiResponse)]
pub enum ChangeFundedPlaceResponse {
    /// The application with its new funded place.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ApplicationResponse>),
}

/// Parses an application id from the path; an id that is not a UUID finds nothing.
pub(crate) fn application_id(id: &PathId) -> Result<ApplicationId, ApiError> {
    id.0.parse().map_err(|_| ApiError::NotFound)
}

/// Returns the error to send for a request with a bad body: 404 when the caller cannot see the
/// application, because a missing resource is reported before a bad body, and `error` otherwise.
async fn bad_body_error(state: &ApiState, caller: LeadProviderId, id: ApplicationId, error: ApiError) -> ApiError {
    match state.applications.show(caller, id).await {
        Ok(_) => error,
        Err(lookup_error) => lookup_error.into(),
    }
}

/// The application operations.
pub struct ApplicationsApi;

#[OpenApi(tag = "ApiTags::NpqApplications")]
impl ApplicationsApi {
    /// List applications
    ///
    /// Returns one page of the applications made to your organisation, in every status. Walk the
    /// pages with `page[page]` until one comes back empty.
    #[oai(path = "/npq-applications", method = "get", operation_id = "listApplications")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        request: &Request,
        /// Only applications in these cohorts: start years separated by commas, such as
        /// `2023,2024`, which match every cohort starting in those years. A cohort identifier such
        /// as `2026b` matches that cohort only. A year without applications matches nothing.
        #[oai(name = "filter[cohort]")]
        cohort: Query<Option<String>>,
        /// Only applications changed at or after this instant: an ISO 8601 date and time such as
        /// `2024-05-13T11:21:55Z`. An offset such as `+01:00` may be sent as `%2B01:00` or as a
        /// raw `+`. Without an offset the time is UTC; a bare date means midnight UTC.
        #[oai(name = "filter[updated_since]")]
        updated_since: Query<Option<String>>,
        /// Only applications of these participants: participant ids (UUIDs) separated by commas.
        /// An id that is not a UUID is rejected with 400; an unknown UUID matches nothing.
        #[oai(name = "filter[participant_id]")]
        participant_id: Query<Option<String>>,
        /// The order of the list: `created_at` or `updated_at`, prefixed with `-` for newest
        /// first, several separated by commas, such as `-updated_at,created_at`. Other names are
        /// ignored. Without it the list is oldest first by `created_at`, the order to sync with.
        sort: Query<Option<String>>,
        /// The page to return, counting from 1. Defaults to 1.
        #[oai(name = "page[page]")]
        page: Query<Option<String>>,
        /// The number of applications on a page, from 1 to 1000. Defaults to 100; larger values
        /// return 1000.
        #[oai(name = "page[per_page]")]
        per_page: Query<Option<String>>,
        /// A cursor walk instead of page numbers: send `page[cursor]=` (empty) for the first page,
        /// then `meta.next_cursor` of each response, until a page comes back empty. Every page
        /// costs the same however deep the walk is. In `created_at` order the walk returns each
        /// application once; in `updated_at` order an application changed during the walk comes
        /// back again later. Keep the last cursor to poll for changes. Works with no `sort`,
        /// `sort=created_at` or `sort=updated_at`, and not with `page[page]`.
        #[oai(name = "page[cursor]")]
        cursor: Query<Option<String>>,
    ) -> Result<ListApplicationsResponse, Failure<ListErrors>> {
        let list_request = ListRequest::from_request(request)?;
        list_request.reject_nested_filter("cohort", ListParameterError::InvalidCohort)?;
        list_request.reject_nested_filter("updated_since", |_| ListParameterError::InvalidTimestamp {
            name: "updated_since",
        })?;
        list_request.reject_nested_filter("participant_id", |value| ListParameterError::InvalidParticipantIds {
            name: "participant_id",
            value,
        })?;

        let filter = ApplicationFilter {
            cohorts: parse_cohort_filter(cohort.0.as_deref()).map_err(ApiError::from)?,
            updated_since: parse_timestamp_filter("updated_since", updated_since.0.as_deref())
                .map_err(ApiError::from)?,
            participant_ids: parse_participant_id_filter("participant_id", participant_id.0.as_deref())
                .map_err(ApiError::from)?,
        };
        let sort = parse_sort(sort.0.as_deref());
        let parameters =
            PagingParameters { cursor: cursor.0.as_deref(), page: page.0.as_deref(), per_page: per_page.0.as_deref() };
        let paging = parse_paging(&state.cursor_key, CursorList::Applications, parameters, &sort)?;
        let after = paging.cursor.as_ref().and_then(|walk| walk.after);
        let query = ApplicationQuery { filter, sort, page: paging.page, after };

        let views = state.applications.list(caller.0, &query).await?;
        let meta = paging.cursor.map(|walk| {
            let last = views.last().map(|view| ListPosition {
                sort_value: match walk.field() {
                    SortField::CreatedAt => view.application.created_at,
                    SortField::UpdatedAt => view.application.updated_at,
                },
                id: view.application.id.as_uuid(),
            });
            walk.meta(&state.cursor_key, last)
        });
        let data = views.into_iter().map(ApplicationResource::from).collect();
        Ok(ListApplicationsResponse::Ok(Json(ApplicationsResponse { data, meta })))
    }

    /// Get one application
    ///
    /// Returns one of the applications made to your organisation. Another organisation's
    /// application returns 404, as an unknown id does.
    #[oai(path = "/npq-applications/:id", method = "get", operation_id = "getApplication")]
    async fn show(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
    ) -> Result<ShowApplicationResponse, Failure<ShowErrors>> {
        let id = application_id(&id.0)?;
        let view = state.applications.show(caller.0, id).await?;
        Ok(ShowApplicationResponse::Ok(Json(ApplicationResponse { data: view.into() })))
    }

    /// Accept an application
    ///
    /// Accepts a pending application: the participant starts training on a schedule, with the
    /// training status `active`. The person's other applications for the same course in the same
    /// cohort, with any lead provider, are rejected with reason
    /// `other_application_in_this_cohort_accepted`.
    ///
    /// The body is optional. In a cohort with a cap on funded places, `funded_place` must be
    /// `true` or `false`. In a cohort that DfE does not fund, it must be `false`. Without
    /// `schedule_identifier`, the usual schedule for the course, the cohort and today's date is
    /// chosen. A rejected application can never be accepted.
    #[oai(path = "/npq-applications/:id/accept", method = "post", operation_id = "acceptApplication")]
    async fn accept(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
        body: OptionalBody<AcceptAttributes>,
    ) -> Result<AcceptApplicationResponse, Failure<ActionErrors>> {
        let id = application_id(&id.0)?;
        let request = match accept_request(&body) {
            Ok(request) => request,
            Err(error) => return Err(bad_body_error(&state, caller.0, id, error).await.into()),
        };
        let view = state.decisions.accept(caller.0, id, request).await?;
        Ok(AcceptApplicationResponse::Ok(Json(ApplicationResponse { data: view.into() })))
    }

    /// Reject an application
    ///
    /// Rejects a pending or accepted application with reason `rejected_by_provider`. Any body is
    /// ignored. An accepted application cannot be rejected while it has declarations that are
    /// submitted, eligible, payable or paid: void them first. Training status, schedule and funded
    /// place are kept. A rejected application can never be accepted again.
    #[oai(path = "/npq-applications/:id/reject", method = "post", operation_id = "rejectApplication")]
    async fn reject(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
    ) -> Result<RejectApplicationResponse, Failure<ActionErrors>> {
        let id = application_id(&id.0)?;
        let view = state.decisions.reject(caller.0, id).await?;
        Ok(RejectApplicationResponse::Ok(Json(ApplicationResponse { data: view.into() })))
    }

    /// Change the funded place of an application
    ///
    /// Sets whether an accepted application's place counts against your funded places. Only
    /// cohorts with a cap on funded places have them, and only an applicant eligible for funding
    /// can have a funded place. While the application has declarations that are submitted,
    /// eligible, payable or paid, void them first, then change the funded place and declare again.
    /// Sending the current value again changes nothing.
    #[oai(path = "/npq-applications/:id/change-funded-place", method = "put", operation_id = "changeFundedPlace")]
    async fn change_funded_place(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The application's id.
        id: Path<PathId>,
        body: RequiredBody<ChangeFundedPlaceAttributes>,
    ) -> Result<ChangeFundedPlaceResponse, Failure<ActionErrors>> {
        let id = application_id(&id.0)?;
        let funded_place = match funded_place(&body) {
            Ok(funded_place) => funded_place,
            Err(error) => return Err(bad_body_error(&state, caller.0, id, error).await.into()),
        };
        let view = state.decisions.change_funded_place(caller.0, id, funded_place).await?;
        Ok(ChangeFundedPlaceResponse::Ok(Json(ApplicationResponse { data: view.into() })))
    }
}
