//! The registration API, served under `/api/registration/v1`, for the registration front end:
//! the anonymous funding eligibility check, registering an applicant, and the courses, cohorts
//! and lead providers an applicant can choose.
//!
//! The eligibility check and the choices need no token and take no personal data. Registering
//! needs a token of scope `registration`. Handlers hold no rules: each reads its body, calls one
//! `RegistrationService` method and maps the result.

use npq_domain::auth::PlainToken;
use npq_domain::cohort::FundingRegime;
use npq_domain::course::{Course, CourseGroup};
use npq_domain::error::FieldError;
use npq_domain::registration::{ApplicantForm, RegistrationForm};
use poem::http::header::AUTHORIZATION;
use poem::web::Data;
use poem::{Request, RequestBody};
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, Enum, ExtractParamOptions, Object, OpenApi, Tags};
use serde_json::Value;
use uuid::Uuid;

use crate::body::{Attributes, RequestAttributes, RequiredBody};
use crate::error::{ApiError, DocumentedErrors, ErrorStatus, Failure};
use crate::resources::applications::ApplicationResource;
use crate::state::ApiState;
use crate::types::{Nullable, Text};

/// Name of the registration token security scheme in the OpenAPI document.
const SCHEME_NAME: &str = "registrationBearerAuth";

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY_LENGTH: usize = 255;

/// Groups of operations in the registration OpenAPI document.
#[derive(Tags)]
pub enum RegistrationTags {
    /// Whether DfE would fund an applicant, without registering.
    Eligibility,
    /// Registering applicants.
    Applications,
    /// The choices applicants make: courses, cohorts and lead providers.
    Choices,
}

/// A request made with a registration token. As an operation argument it authenticates the
/// request: any other token, or none, ends it with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationAuth;

impl<'a> ApiExtractor<'a> for RegistrationAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();

    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME_NAME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "A registration token issued to the registration front end, as `Authorization: Bearer <token>`.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME_NAME]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let Some(state) = request.data::<ApiState>() else {
            tracing::error!("the API state is missing from the request; routes() adds it");
            return Err(ApiError::Internal.into());
        };
        let token = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty());
        let Some(token) = token else { return Err(ApiError::Unauthenticated.into()) };
        state.tokens.authenticate_registration(&PlainToken::presented(token)).await.map_err(ApiError::from)?;
        Ok(Self)
    }
}

/// Errors of the eligibility check.
pub struct EligibilityErrors;

impl DocumentedErrors for EligibilityErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::UnprocessableEntity,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of registering an applicant.
pub struct RegisterErrors;

impl DocumentedErrors for RegisterErrors {
    const STATUSES: &'static [ErrorStatus] = &[
        ErrorStatus::BadRequest,
        ErrorStatus::Unauthorised,
        ErrorStatus::UnprocessableEntity,
        ErrorStatus::InternalServerError,
        ErrorStatus::ServiceUnavailable,
    ];
}

/// Errors of reading the choices.
pub struct ChoiceErrors;

impl DocumentedErrors for ChoiceErrors {
    const STATUSES: &'static [ErrorStatus] =
        &[ErrorStatus::UnprocessableEntity, ErrorStatus::InternalServerError, ErrorStatus::ServiceUnavailable];
}

/// The registration answers that decide funding eligibility. Every attribute is a string unless
/// stated; which ones are needed depends on the others, as the registration questions ask them.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct EligibilityCheckAttributes {
    /// The cohort the course starts in, such as `2026b`.
    pub cohort: String,
    /// The course, such as `npq-headship`.
    pub course_identifier: Text<Course>,
    /// `england`, or `another` with the country in `teacher_catchment_country`.
    pub teacher_catchment: String,
    pub teacher_catchment_country: Option<Nullable<String>>,
    /// `early_years_or_childcare`, `a_school`, `an_academy_trust`, `a_16_to_19_educational_setting`,
    /// `another_setting` or `other`.
    pub work_setting: String,
    /// The URN of the school, college or local authority nursery school, for those settings.
    pub school_urn: Option<Nullable<String>>,
    /// For early years settings: the kind of setting.
    pub kind_of_nursery: Option<Nullable<String>>,
    /// The Ofsted URN of a private nursery or childminder.
    pub private_childcare_provider_urn: Option<Nullable<String>>,
    /// For another setting: `hospital_school`, `lead_mentor_for_accredited_itt_provider`,
    /// `local_authority_supply_teacher`, `local_authority_virtual_school` or
    /// `young_offender_institution`.
    pub employment_type: Option<Nullable<String>>,
    /// For lead mentors: the legal name of their teacher training provider.
    pub itt_provider: Option<Nullable<String>>,
    /// For the other setting: whether a return to teaching adviser referred the applicant.
    pub referred_by_return_to_teaching_adviser: Option<Nullable<bool>>,
    /// For the coaching offer: whether the applicant is a headteacher.
    pub headteacher: Option<Nullable<bool>>,
    /// For the coaching offer: whether the applicant is in their first five years as a headteacher.
    pub new_headteacher: Option<Nullable<bool>>,
    /// Whether DfE funded the applicant for this course (or the one it replaced) before.
    pub previously_funded: Option<Nullable<bool>>,
}

impl RequestAttributes for EligibilityCheckAttributes {
    const REQUEST_SCHEMA: &'static str = "EligibilityCheckRequest";
    const DESCRIPTION: &'static str = "The answers that decide funding eligibility.";
    const DATA_TYPE: &'static str = "funding-eligibility-check";
    const EXAMPLE: &'static str = r#"{"data":{"type":"funding-eligibility-check","attributes":{"cohort":"2026b","course_identifier":"npq-headship","teacher_catchment":"england","work_setting":"a_school","school_urn":"100001"}}}"#;
}

/// The applicant's personal details.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ApplicantAttributes {
    pub full_name: String,
    /// The applicant's email address, which identifies their account: the same address always
    /// registers as the same person.
    pub email: String,
    /// The applicant's teacher reference number, if they know it.
    pub trn: Option<Nullable<String>>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<Nullable<String>>,
}

/// A registration: the applicant, their answers and their chosen lead provider.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct RegistrationAttributes {
    pub applicant: ApplicantAttributes,
    /// The chosen lead provider's id.
    pub lead_provider_id: Uuid,
    /// The registration answers, as in the eligibility check, and the answers below.
    #[oai(flatten)]
    pub answers: EligibilityCheckAttributes,
    /// For another setting: the applicant's role.
    pub employment_role: Option<Nullable<String>>,
    /// For another setting: the employer's name.
    pub employer_name: Option<Nullable<String>>,
    /// For the SENCO course: `yes`, `no_but_i_plan_to_become_one` or `no_i_do_not_plan_to_be_a_SENCO`.
    pub senco_in_role: Option<Nullable<String>>,
    /// For SENCOs: when they became one, `YYYY-MM-DD`.
    pub senco_start_date: Option<Nullable<String>>,
    /// The payer when DfE does not fund the course: `school`, `trust`, `self` or `another`.
    /// Needed when the applicant is not eligible for funding.
    pub funding_choice: Option<Nullable<String>>,
}

impl RequestAttributes for RegistrationAttributes {
    const REQUEST_SCHEMA: &'static str = "RegistrationRequest";
    const DESCRIPTION: &'static str = "A registration for an NPQ course.";
    const DATA_TYPE: &'static str = "npq-registration";
    const EXAMPLE: &'static str = r#"{"data":{"type":"npq-registration","attributes":{"applicant":{"full_name":"Alex Smith","email":"alex@example.com"},"lead_provider_id":"<uuid>","cohort":"2026b","course_identifier":"npq-headship","teacher_catchment":"england","work_setting":"a_school","school_urn":"100001"}}}"#;
}

/// Returns a text attribute, collecting an error when it is not a string.
fn text(attributes: &Attributes, name: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    attributes.text(name).unwrap_or_else(|error| {
        errors.push(error);
        None
    })
}

/// Returns a boolean attribute, collecting an error when it is neither a boolean nor `null`.
fn flag(attributes: &Attributes, name: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
    match attributes.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(value)) => Some(*value),
        Some(other) => {
            errors.push(FieldError {
                attribute: name.to_owned(),
                message: format!("'#/{name}' must be true or false, not {other}."),
            });
            None
        }
    }
}

/// Reads the registration answers from request attributes.
fn form(attributes: &Attributes, errors: &mut Vec<FieldError>) -> RegistrationForm {
    RegistrationForm {
        cohort: text(attributes, "cohort", errors),
        course_identifier: text(attributes, "course_identifier", errors),
        teacher_catchment: text(attributes, "teacher_catchment", errors),
        teacher_catchment_country: text(attributes, "teacher_catchment_country", errors),
        work_setting: text(attributes, "work_setting", errors),
        school_urn: text(attributes, "school_urn", errors),
        kind_of_nursery: text(attributes, "kind_of_nursery", errors),
        private_childcare_provider_urn: text(attributes, "private_childcare_provider_urn", errors),
        employment_type: text(attributes, "employment_type", errors),
        employment_role: text(attributes, "employment_role", errors),
        employer_name: text(attributes, "employer_name", errors),
        itt_provider: text(attributes, "itt_provider", errors),
        referred_by_return_to_teaching_adviser: flag(attributes, "referred_by_return_to_teaching_adviser", errors),
        headteacher: flag(attributes, "headteacher", errors),
        new_headteacher: flag(attributes, "new_headteacher", errors),
        senco_in_role: text(attributes, "senco_in_role", errors),
        senco_start_date: text(attributes, "senco_start_date", errors),
        funding_choice: text(attributes, "funding_choice", errors),
        previously_funded: flag(attributes, "previously_funded", errors),
    }
}

/// Reads the applicant's details from the `applicant` object of request attributes.
fn applicant(attributes: &Attributes, errors: &mut Vec<FieldError>) -> ApplicantForm {
    let Some(Value::Object(details)) = attributes.get("applicant") else {
        errors.push(FieldError {
            attribute: "applicant".to_owned(),
            message: "'#/applicant' must be an object with the applicant's full_name and email.".to_owned(),
        });
        return ApplicantForm::default();
    };
    let mut field = |name: &str| match details.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match crate::body::checked_text(name, text) {
            Ok(text) => Some(text),
            Err(error) => {
                errors.push(error);
                None
            }
        },
        Some(other) => {
            errors.push(FieldError {
                attribute: name.to_owned(),
                message: format!("'#/applicant/{name}' must be a string, not {other}."),
            });
            None
        }
    };
    ApplicantForm {
        full_name: field("full_name"),
        email: field("email"),
        trn: field("trn"),
        date_of_birth: field("date_of_birth"),
    }
}

/// The resource type of an eligibility decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum EligibilityType {
    #[oai(rename = "funding-eligibility")]
    FundingEligibility,
}

/// Whether DfE funds the course, and why.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct EligibilityAttributes {
    pub eligible_for_funding: bool,
    /// The code of the rule that decided, as stored on applications.
    pub funding_eligibility_status_code: String,
    /// Whether DfE reviews the application before it decides.
    pub needs_review: bool,
    /// Always false: the targeted delivery funding uplift applies to no new registration.
    pub targeted_delivery_funding_eligibility: bool,
    /// Why, in plain English, to show the applicant.
    pub explanation: String,
}

/// A funding eligibility decision.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct EligibilityResource {
    #[oai(rename = "type")]
    pub resource_type: EligibilityType,
    pub attributes: EligibilityAttributes,
}

/// The response to an eligibility check.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct EligibilityResponse {
    pub data: EligibilityResource,
}

#[derive(ApiResponse)]
pub enum CheckEligibilityResponse {
    /// The decision and its explanation.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<EligibilityResponse>),
}

/// The registered application, as its lead provider sees it.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct RegisteredApplicationResponse {
    pub data: ApplicationResource,
}

#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// The application was created.
    #[oai(status = 201, content_type = "application/json")]
    Created(Json<RegisteredApplicationResponse>),
    /// The idempotency key was used before: this is the application that request created.
    #[oai(status = 200, content_type = "application/json")]
    Repeated(Json<RegisteredApplicationResponse>),
}

/// A course applicants can choose.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct CourseChoice {
    /// The course identifier, such as `npq-headship`.
    pub id: Text<Course>,
    pub name: String,
    pub course_group: Text<CourseGroup>,
}

/// The courses applicants can choose.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct CoursesResponse {
    pub data: Vec<CourseChoice>,
}

#[derive(ApiResponse)]
pub enum ListCoursesResponse {
    /// Every course open for registration.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<CoursesResponse>),
}

/// A cohort open for registration.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct CohortChoice {
    /// The cohort identifier, such as `2026b`.
    pub id: String,
    pub start_year: u16,
    pub funding: Text<FundingRegime>,
    pub description: String,
}

/// The cohorts open for registration.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct CohortsResponse {
    pub data: Vec<CohortChoice>,
}

#[derive(ApiResponse)]
pub enum ListCohortsResponse {
    /// Every cohort whose registration has opened.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<CohortsResponse>),
}

/// A lead provider applicants can choose.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct LeadProviderChoice {
    pub id: Uuid,
    pub name: String,
}

/// The lead providers applicants can choose.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct LeadProvidersResponse {
    pub data: Vec<LeadProviderChoice>,
}

#[derive(ApiResponse)]
pub enum ListLeadProvidersResponse {
    /// The lead providers that deliver in the cohort, by name.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<LeadProvidersResponse>),
}

/// Checks an `Idempotency-Key` header: at most 255 visible ASCII characters.
fn idempotency_key(value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(key)
            if !key.is_empty()
                && key.len() <= MAX_IDEMPOTENCY_KEY_LENGTH
                && key.bytes().all(|byte| byte.is_ascii_graphic()) =>
        {
            Ok(Some(key))
        }
        Some(_) => Err(ApiError::BadRequest(format!(
            "The Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, such as a UUID."
        ))),
    }
}

/// The registration operations.
pub struct RegistrationApi;

#[OpenApi]
impl RegistrationApi {
    /// Check funding eligibility
    ///
    /// Answers "will DfE fund me?" from the registration answers, without registering and without
    /// personal data. Each wrong or missing answer is a 422 titled with the attribute.
    #[oai(
        path = "/eligibility",
        method = "post",
        operation_id = "checkEligibility",
        tag = "RegistrationTags::Eligibility"
    )]
    async fn check_eligibility(
        &self,
        state: Data<&ApiState>,
        body: RequiredBody<EligibilityCheckAttributes>,
    ) -> Result<CheckEligibilityResponse, Failure<EligibilityErrors>> {
        let attributes = body.required_attributes()?;
        let mut errors = Vec::new();
        let form = form(&attributes, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors).into());
        }
        let decision = state.registrations.check(&form).await?;
        Ok(CheckEligibilityResponse::Ok(Json(EligibilityResponse {
            data: EligibilityResource {
                resource_type: EligibilityType::FundingEligibility,
                attributes: EligibilityAttributes {
                    eligible_for_funding: decision.eligible,
                    funding_eligibility_status_code: decision.status_code.as_str().to_owned(),
                    needs_review: decision.needs_review,
                    targeted_delivery_funding_eligibility: decision.targeted_delivery_funding,
                    explanation: decision.explanation,
                },
            },
        })))
    }

    /// Register an applicant
    ///
    /// Creates a pending application with the chosen lead provider, which lists it at once. The
    /// applicant's account is found by email address, or created. Send an `Idempotency-Key` to
    /// make retries safe: a key used before returns the application its first request created,
    /// with status 200 instead of 201.
    #[oai(path = "/applications", method = "post", operation_id = "register", tag = "RegistrationTags::Applications")]
    async fn register(
        &self,
        _caller: RegistrationAuth,
        state: Data<&ApiState>,
        /// A key of your choice, such as a UUID, that identifies this registration across retries.
        #[oai(name = "Idempotency-Key")]
        key: Header<Option<String>>,
        body: RequiredBody<RegistrationAttributes>,
    ) -> Result<RegisterResponse, Failure<RegisterErrors>> {
        let key = idempotency_key(key.0)?;
        let attributes = body.required_attributes()?;
        let mut errors = Vec::new();
        let applicant = applicant(&attributes, &mut errors);
        let form = form(&attributes, &mut errors);
        let lead_provider = text(&attributes, "lead_provider_id", &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors).into());
        }
        let (view, created) = state.registrations.register(&applicant, &form, lead_provider.as_deref(), key).await?;
        let body = Json(RegisteredApplicationResponse { data: view.into() });
        Ok(if created { RegisterResponse::Created(body) } else { RegisterResponse::Repeated(body) })
    }

    /// List courses
    ///
    /// Returns the courses applicants can choose.
    #[oai(path = "/courses", method = "get", operation_id = "listCourses", tag = "RegistrationTags::Choices")]
    async fn courses(&self, state: Data<&ApiState>) -> Result<ListCoursesResponse, Failure<ChoiceErrors>> {
        let data = state
            .registrations
            .courses()
            .into_iter()
            .map(|course| CourseChoice {
                id: Text(course),
                name: course.name().to_owned(),
                course_group: Text(course.group()),
            })
            .collect();
        Ok(ListCoursesResponse::Ok(Json(CoursesResponse { data })))
    }

    /// List cohorts
    ///
    /// Returns the cohorts open for registration, oldest first.
    #[oai(path = "/cohorts", method = "get", operation_id = "listCohorts", tag = "RegistrationTags::Choices")]
    async fn cohorts(&self, state: Data<&ApiState>) -> Result<ListCohortsResponse, Failure<ChoiceErrors>> {
        let data = state
            .registrations
            .open_cohorts()
            .await?
            .into_iter()
            .map(|cohort| CohortChoice {
                id: cohort.identifier.to_string(),
                start_year: cohort.identifier.start_year(),
                funding: Text(cohort.funding),
                description: cohort.description,
            })
            .collect();
        Ok(ListCohortsResponse::Ok(Json(CohortsResponse { data })))
    }

    /// List lead providers
    ///
    /// Returns the lead providers an applicant can choose: those that deliver in the cohort, or in
    /// any cohort open for registration when none is given.
    #[oai(
        path = "/lead-providers",
        method = "get",
        operation_id = "listLeadProviders",
        tag = "RegistrationTags::Choices"
    )]
    async fn lead_providers(
        &self,
        state: Data<&ApiState>,
        /// A course, such as `npq-headship`.
        course: Query<Option<String>>,
        /// A cohort open for registration, such as `2026b`.
        cohort: Query<Option<String>>,
    ) -> Result<ListLeadProvidersResponse, Failure<ChoiceErrors>> {
        let providers = state.registrations.lead_providers(course.0.as_deref(), cohort.0.as_deref()).await?;
        let data = providers
            .into_iter()
            .map(|provider| LeadProviderChoice { id: provider.id.as_uuid(), name: provider.name })
            .collect();
        Ok(ListLeadProvidersResponse::Ok(Json(LeadProvidersResponse { data })))
    }
}
