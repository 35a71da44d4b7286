//! The participant declaration resource: your claims that a participant reached a milestone,
//! which lead to payment.

use npq_domain::cursor::CursorList;
use npq_domain::declaration::HasPassedInput;
use npq_domain::declaration_actions::{
    Declaration, DeclarationFilter, DeclarationQuery, DeclarationRequest, PartnerChangeRequest,
};
use npq_domain::ids::{DeclarationId, DeliveryPartnerId};
use npq_domain::listing::{
    ListParameterError, ListPosition, SortField, parse_cohort_filter, parse_participant_id_filter,
    parse_timestamp_filter,
};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::LeadProviderAuth;
use crate::body::{RequestAttributes, RequiredBody};
use crate::error::{ApiError, DeclarationChangeErrors, DeclarationCreateErrors, Failure, ListErrors, ShowErrors};
use crate::listing::{CursorMeta, ListRequest, PagingParameters, parse_paging, parse_sort};
use crate::resources::ApiTags;
use crate::resources::participant_actions::text_as_sent;
use crate::state::ApiState;
use crate::types::{Nullable, PathId, UtcSeconds};

/// The resource type of a declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ParticipantDeclarationType")]
pub enum DeclarationResourceType {
    #[oai(rename = "participant-declaration")]
    ParticipantDeclaration,
}

/// One declaration: your claim that a participant reached a milestone of their course.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantDeclaration")]
pub struct DeclarationResource {
    /// The declaration's id. Keep it: voiding and changing partners need it.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: DeclarationResourceType,
    pub attributes: DeclarationAttributes,
}

/// The attributes of a declaration.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantDeclarationAttributes")]
pub struct DeclarationAttributes {
    /// The participant's id.
    pub participant_id: Uuid,
    /// The milestone: `started`, `retained-1`, `retained-2` or `completed`.
    pub declaration_type: String,
    /// The course of the application the declaration is on. For the early headship coaching
    /// offer and the additional support offer, which count as one course, this is the
    /// application's own course whichever of the two was sent.
    pub course_identifier: String,
    /// When the milestone was reached, as you declared it.
    pub declaration_date: UtcSeconds,
    /// The declaration's stage on its way to payment: `submitted`, `eligible`, `ineligible`,
    /// `payable`, `paid`, `voided`, `awaiting-clawback` or `clawed-back`.
    pub state: String,
    /// For a completed declaration, whether the participant passed: the latest outcome, `null`
    /// when there is none or it was voided.
    pub has_passed: Nullable<bool>,
    pub delivery_partner_id: Nullable<Uuid>,
    pub delivery_partner_name: Nullable<String>,
    pub secondary_delivery_partner_id: Nullable<Uuid>,
    pub secondary_delivery_partner_name: Nullable<String>,
    /// The statement that pays for the declaration.
    pub statement_id: Nullable<Uuid>,
    /// The application the declaration is on.
    pub application_id: Uuid,
    /// The statement that takes the payment back, once a paid declaration is voided.
    pub clawback_statement_id: Nullable<Uuid>,
    /// Whether the targeted delivery funding uplift was paid with this declaration.
    pub uplift_paid: bool,
    /// The lead provider that made the declaration, which a transfer of the application does not
    /// change.
    pub lead_provider_name: String,
    /// Why an ineligible declaration is not paid: `duplicate_declaration` when another account of
    /// the same teacher already claimed the milestone. `null` in every other state.
    pub ineligible_for_funding_reason: Nullable<String>,
    pub created_at: UtcSeconds,
    /// When the declaration last changed, including a new outcome or statement line.
    pub updated_at: UtcSeconds,
}

impl From<Declaration> for DeclarationResource {
    fn from(declaration: Declaration) -> Self {
        let attributes = DeclarationAttributes {
            participant_id: declaration.participant_id.as_uuid(),
            declaration_type: declaration.declaration_type.as_str().to_owned(),
            course_identifier: declaration.course.as_str().to_owned(),
            declaration_date: UtcSeconds(declaration.declaration_date),
            state: declaration.state.as_str().to_owned(),
            has_passed: declaration.has_passed().into(),
            delivery_partner_id: declaration.delivery_partner.as_ref().map(|partner| partner.id.as_uuid()).into(),
            delivery_partner_name: declaration.delivery_partner.as_ref().map(|partner| partner.name.clone()).into(),
            secondary_delivery_partner_id: declaration
                .secondary_delivery_partner
                .as_ref()
                .map(|partner| partner.id.as_uuid())
                .into(),
            secondary_delivery_partner_name: declaration
                .secondary_delivery_partner
                .as_ref()
                .map(|partner| partner.name.clone())
                .into(),
            statement_id: declaration.statement_id.map(|id| id.as_uuid()).into(),
            application_id: declaration.application_id.as_uuid(),
            clawback_statement_id: declaration.clawback_statement_id.map(|id| id.as_uuid()).into(),
            uplift_paid: declaration.uplift_paid(),
            lead_provider_name: declaration.lead_provider_name.clone(),
            ineligible_for_funding_reason: declaration.ineligible_for_funding_reason().map(str::to_owned).into(),
            created_at: UtcSeconds(declaration.created_at),
            updated_at: UtcSeconds(declaration.updated_at),
        };
        Self {
            id: declaration.id.as_uuid(),
            resource_type: DeclarationResourceType::ParticipantDeclaration,
            attributes,
        }
    }
}

/// One declaration.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantDeclarationResponse")]
pub struct DeclarationResponse {
    pub data: DeclarationResource,
}

/// One page of declarations. An empty `data` means you have read past the last page.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantDeclarationsResponse")]
pub struct DeclarationsResponse {
    pub data: Vec<DeclarationResource>,
    /// Only in a cursor walk (`page[cursor]`): the cursor of the next page.
    #[oai(skip_serializing_if_is_none)]
    pub meta: Option<CursorMeta>,
}

/// The attributes of a new declaration.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantDeclarationCreateAttributes")]
pub struct CreateAttributes {
    /// The participant's id.
    pub participant_id: Uuid,
    /// The milestone: `started`, `retained-1`, `retained-2` or `completed`, as the participant's
    /// schedule allows.
    pub declaration_type: String,
    /// When the milestone was reached: an RFC 3339 date and time such as `2025-10-02T10:00:00Z`,
    /// not before the schedule starts and not in the future. A date alone is refused.
    pub declaration_date: String,
    /// The course the participant is accepted on with you.
    pub course_identifier: String,
    /// The delivery partner that delivered the training: required from cohort 2024 for
    /// participants working in England, and not allowed for those working elsewhere.
    pub delivery_partner_id: Option<Uuid>,
    /// A second delivery partner, different from the first.
    pub secondary_delivery_partner_id: Option<Uuid>,
    /// For a `completed` declaration on a leadership or specialist course: whether the
    /// participant passed, `true` or `false`. Ignored otherwise.
    pub has_passed: Option<bool>,
}

impl RequestAttributes for CreateAttributes {
    const REQUEST_SCHEMA: &'static str = "ParticipantDeclarationRequest";
    const DESCRIPTION: &'static str = "A declaration that a participant reached a milestone.";
    const DATA_TYPE: &'static str = "participant-declaration";
    const EXAMPLE: &'static str = r#"{"data":{"type":"participant-declaration","attributes":{"participant_id":"db3a7848-7308-4879-942a-c4a70ced400a","declaration_type":"started","declaration_date":"2025-10-02T10:00:00Z","course_identifier":"npq-headship","delivery_partner_id":"6b1c4a4e-31c0-4b47-b2f5-0e3e7c3c6f6e"}}}"#;
}

/// The attributes of a change of delivery partners.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ChangeDeliveryPartnerAttributes")]
pub struct ChangePartnerAttributes {
    /// The delivery partner that delivered the training.
    pub delivery_partner_id: Uuid,
    /// A second delivery partner; leave it out or send `null` to remove the current one.
    pub secondary_delivery_partner_id: Option<Uuid>,
}

impl RequestAttributes for ChangePartnerAttributes {
    const REQUEST_SCHEMA: &'static str = "ChangeDeliveryPartnerRequest";
    const DESCRIPTION: &'static str = "A change of the delivery partners a declaration names.";
    const DATA_TYPE: &'static str = "participant-declaration-change-delivery-partner";
    const EXAMPLE: &'static str = r#"{"data":{"type":"participant-declaration-change-delivery-partner","attributes":{"delivery_partner_id":"6b1c4a4e-31c0-4b47-b2f5-0e3e7c3c6f6e"}}}"#;
}

#[derive(ApiResponse)]
pub enum ListDeclarationsResponse {
    /// One page of the declarations you see, oldest first.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<DeclarationsResponse>),
}

#[derive(ApiResponse)]
pub enum DeclarationResult {
    /// The declaration.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<DeclarationResponse>),
}

impl DeclarationResult {
    fn new(declaration: Declaration) -> Self {
        Self::Ok(Json(DeclarationResponse { data: declaration.into() }))
    }
}

/// Parses a declaration id from the path; an id that is not a UUID finds nothing.
fn declaration_id(id: &PathId) -> Result<DeclarationId, ApiError> {
    id.0.parse().map_err(|_| ApiError::NotFound)
}

/// Reads `has_passed` as sent.
fn has_passed(value: Option<&Value>) -> HasPassedInput {
    match value {
        None => HasPassedInput::Missing,
        Some(Value::Bool(value)) => HasPassedInput::Boolean(*value),
        Some(Value::String(text)) => HasPassedInput::Text(text.clone()),
        Some(_) => HasPassedInput::Other,
    }
}

/// The declaration operations.
pub struct DeclarationsApi;

#[OpenApi(tag = "ApiTags::ParticipantDeclarations")]
impl DeclarationsApi {
    /// List declarations
    ///
    /// Returns one page of the declarations you made, and of every declaration on an application
    /// your organisation now owns (including those another lead provider made before DfE
    /// transferred the application to you), oldest first. Walk the pages with `page[page]` until
    /// one comes back empty.
    #[oai(path = "/participant-declarations", method = "get", operation_id = "listDeclarations")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        request: &Request,
        /// Only declarations in these cohorts: start years separated by commas, such as
        /// `2023,2024`. A cohort identifier such as `2026b` matches that cohort only.
        #[oai(name = "filter[cohort]")]
        cohort: Query<Option<String>>,
        /// Only declarations of these participants: participant ids (UUIDs) separated by commas.
        /// An id that is not a UUID is rejected with 400.
        #[oai(name = "filter[participant_id]")]
        participant_id: Query<Option<String>>,
        /// Only declarations changed at or after this instant: an ISO 8601 date and time such as
        /// `2024-05-13T11:21:55Z`.
        #[oai(name = "filter[updated_since]")]
        updated_since: Query<Option<String>>,
        /// Only declarations naming these delivery partners as the primary partner: ids (UUIDs)
        /// separated by commas.
        #[oai(name = "filter[delivery_partner_id]")]
        delivery_partner_id: Query<Option<String>>,
        /// The order of the list: `created_at` or `updated_at`, prefixed with `-` for newest
        /// first, several separated by commas. Other names are ignored. Without it the list is
        /// oldest first by `created_at`, the order to sync with.
        sort: Query<Option<String>>,
        /// The page to return, counting from 1. Defaults to 1.
        #[oai(name = "page[page]")]
        page: Query<Option<String>>,
        /// The number of declarations on a page, from 1 to 1000. Defaults to 100; larger values
        /// return 1000.
        #[oai(name = "page[per_page]")]
        per_page: Query<Option<String>>,
        /// A cursor walk instead of page numbers: send `page[cursor]=` (empty) for the first page,
        /// then `meta.next_cursor` of each response, until a page comes back empty. Every page
        /// costs the same however deep the walk is. In `created_at` order the walk returns each
        /// declaration once; in `updated_at` order a declaration changed during the walk comes
        /// back again later. Keep the last cursor to poll for changes. Works with no `sort`,
        /// `sort=created_at` or `sort=updated_at`, and not with `page[page]`.
        #[oai(name = "page[cursor]")]
        cursor: Query<Option<String>>,
    ) -> Result<ListDeclarationsResponse, Failure<ListErrors>> {
        let list_request = ListRequest::from_request(request)?;
        list_request.reject_nested_filter("cohort", ListParameterError::InvalidCohort)?;
        list_request.reject_nested_filter("updated_since", |_| ListParameterError::InvalidTimestamp {
            name: "updated_since",
        })?;
        for name in ["participant_id", "delivery_partner_id"] {
            list_request
                .reject_nested_filter(name, |value| ListParameterError::InvalidParticipantIds { name, value })?;
        }
        let filter = DeclarationFilter {
            cohorts: parse_cohort_filter(cohort.0.as_deref()).map_err(ApiError::from)?,
            participant_ids: parse_participant_id_filter("participant_id", participant_id.0.as_deref())
                .map_err(ApiError::from)?,
            updated_since: parse_timestamp_filter("updated_since", updated_since.0.as_deref())
                .map_err(ApiError::from)?,
            delivery_partner_ids: parse_participant_id_filter("delivery_partner_id", delivery_partner_id.0.as_deref())
                .map_err(ApiError::from)?
                .map(|ids| ids.into_iter().map(|id| DeliveryPartnerId::from_uuid(id.as_uuid())).collect()),
        };
        let sort = parse_sort(sort.0.as_deref());
        let parameters =
            PagingParameters { cursor: cursor.0.as_deref(), page: page.0.as_deref(), per_page: per_page.0.as_deref() };
        let paging = parse_paging(&state.cursor_key, CursorList::Declarations, parameters, &sort)?;
        let after = paging.cursor.as_ref().and_then(|walk| walk.after);
        let query = DeclarationQuery { filter, sort, page: paging.page, after };

        let declarations = state.declarations.list(caller.0, &query).await?;
        let meta = paging.cursor.map(|walk| {
            let last = declarations.last().map(|declaration| ListPosition {
                sort_value: match walk.field() {
                    SortField::CreatedAt => declaration.created_at,
                    SortField::UpdatedAt => declaration.updated_at,
                },
                id: declaration.id.as_uuid(),
            });
            walk.meta(&state.cursor_key, last)
        });
        let data = declarations.into_iter().map(DeclarationResource::from).collect();
        Ok(ListDeclarationsResponse::Ok(Json(DeclarationsResponse { data, meta })))
    }

    /// Submit a declaration
    ///
    /// Declares that a participant reached a milestone. The checks run in this order and the
    /// first failure is reported: the participant, the course, the date, the type and schedule,
    /// your contract and an open statement, `has_passed`, a free milestone, the milestone before
    /// it (for cohorts from 2025), the delivery partners, and a date not in the future. A funded
    /// declaration comes back `eligible` with its `statement_id`; one that duplicates another
    /// account of the same teacher comes back `ineligible`; any other stays `submitted`.
    /// Submitting the same milestone again while one is live is refused with 422 on `base`.
    #[oai(path = "/participant-declarations", method = "post", operation_id = "createDeclaration")]
    async fn create(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        body: RequiredBody<CreateAttributes>,
    ) -> Result<DeclarationResult, Failure<DeclarationCreateErrors>> {
        let attributes = body.required_attributes()?;
        let request = DeclarationRequest {
            participant_id: text_as_sent(&attributes, "participant_id"),
            declaration_type: text_as_sent(&attributes, "declaration_type"),
            declaration_date: text_as_sent(&attributes, "declaration_date"),
            course_identifier: text_as_sent(&attributes, "course_identifier"),
            delivery_partner_id: text_as_sent(&attributes, "delivery_partner_id"),
            secondary_delivery_partner_id: text_as_sent(&attributes, "secondary_delivery_partner_id"),
            has_passed: has_passed(attributes.get("has_passed")),
        };
        let declaration = state.declarations.submit(caller.0, request).await?;
        Ok(DeclarationResult::new(declaration))
    }

    /// Get one declaration
    ///
    /// Returns a declaration you made, or one on an application your organisation now holds.
    #[oai(path = "/participant-declarations/:id", method = "get", operation_id = "getDeclaration")]
    async fn show(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The declaration's id.
        id: Path<PathId>,
    ) -> Result<DeclarationResult, Failure<ShowErrors>> {
        let id = declaration_id(&id.0)?;
        Ok(DeclarationResult::new(state.declarations.show(caller.0, id).await?))
    }

    /// Void a declaration
    ///
    /// Withdraws a declaration. Before payment it becomes `voided`; once paid it becomes
    /// `awaiting-clawback`, and the payment is taken back on your next statement for the cohort.
    /// Voiding a completed declaration also withdraws its outcome. Only the lead provider that
    /// made the declaration may void it (403 otherwise). No body is needed.
    #[oai(path = "/participant-declarations/:id/void", method = "put", operation_id = "voidDeclaration")]
    async fn void(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The declaration's id.
        id: Path<PathId>,
    ) -> Result<DeclarationResult, Failure<DeclarationChangeErrors>> {
        let id = declaration_id(&id.0)?;
        Ok(DeclarationResult::new(state.declarations.void(caller.0, id).await?))
    }

    /// Change a declaration's delivery partners
    ///
    /// Replaces the delivery partners a declaration names. The primary partner is required; leave
    /// the secondary partner out to remove it. Both must work with you in the declaration's
    /// cohort. Only the lead provider that made the declaration may change it (403 otherwise).
    #[oai(
        path = "/participant-declarations/:id/change-delivery-partner",
        method = "put",
        operation_id = "changeDeclarationDeliveryPartner"
    )]
    async fn change_delivery_partner(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The declaration's id.
        id: Path<PathId>,
        body: RequiredBody<ChangePartnerAttributes>,
    ) -> Result<DeclarationResult, Failure<DeclarationChangeErrors>> {
        let id = declaration_id(&id.0)?;
        let attributes = match body.required_attributes() {
            Ok(attributes) => attributes,
            Err(error) => {
                // Report a declaration that cannot be found or changed before a bad body.
                state.declarations.check_changeable(caller.0, id).await?;
                return Err(error.into());
            }
        };
        let request = PartnerChangeRequest {
            delivery_partner_id: text_as_sent(&attributes, "delivery_partner_id"),
            secondary_delivery_partner_id: text_as_sent(&attributes, "secondary_delivery_partner_id"),
        };
        Ok(DeclarationResult::new(state.declarations.change_delivery_partners(caller.0, id, request).await?))
    }
}
