//! The delivery partner resource: the organisations that deliver training with your organisation.

use npq_domain::ids::DeliveryPartnerId;
use npq_domain::listing::{DeliveryPartnerQuery, DeliveryPartnerSort, ListParameterError, parse_cohort_filter};
use npq_domain::provider::DeliveryPartnerView;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use crate::auth::LeadProviderAuth;
use crate::error::{ApiError, Failure, ListErrors, ShowErrors};
use crate::listing::{ListRequest, parse_page};
use crate::resources::ApiTags;
use crate::state::ApiState;
use crate::types::{PathId, UtcSeconds};

/// The resource type of a delivery partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "DeliveryPartnerType")]
pub enum DeliveryPartnerType {
    #[oai(rename = "delivery-partner")]
    DeliveryPartner,
}

/// One delivery partner: an organisation that delivers training with your organisation.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "DeliveryPartner")]
pub struct DeliveryPartnerResource {
    /// The delivery partner's id, which declarations name as `delivery_partner_id`.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: DeliveryPartnerType,
    pub attributes: DeliveryPartnerAttributes,
}

/// The attributes of a delivery partner.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct DeliveryPartnerAttributes {
    /// The delivery partner's name.
    pub name: String,
    /// The start years of the cohorts in which the partner works with your organisation, as
    /// numbers, ascending, each once, such as `[2024, 2025]`.
    pub cohort: Vec<u16>,
    /// When the delivery partner was created.
    pub created_at: UtcSeconds,
    /// When the delivery partner last changed.
    pub updated_at: UtcSeconds,
}

impl From<DeliveryPartnerView> for DeliveryPartnerResource {
    fn from(view: DeliveryPartnerView) -> Self {
        let cohort = view.start_years();
        let partner = view.partner;
        let attributes = DeliveryPartnerAttributes {
            name: partner.name,
            cohort,
            created_at: UtcSeconds(partner.created_at),
            updated_at: UtcSeconds(partner.updated_at),
        };
        Self { id: partner.id.as_uuid(), resource_type: DeliveryPartnerType::DeliveryPartner, attributes }
    }
}

/// One delivery partner.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct DeliveryPartnerResponse {
    pub data: DeliveryPartnerResource,
}

/// One page of delivery partners. An empty `data` means you have read past the last page.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct DeliveryPartnersResponse {
    pub data: Vec<DeliveryPartnerResource>,
}

#[derive(ApiResponse)]
pub enum ListDeliveryPartnersResponse {
    /// One page of your delivery partners, by name unless `sort` sets another order.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<DeliveryPartnersResponse>),
}

#[derive(ApiResponse)]
pub enum ShowDeliveryPartnerResponse {
    /// The delivery partner.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<DeliveryPartnerResponse>),
}

/// Parses a delivery partner id from the path; an id that is not a UUID finds nothing.
fn delivery_partner_id(id: &PathId) -> Result<DeliveryPartnerId, ApiError> {
    id.0.parse().map_err(|_| ApiError::NotFound)
}

/// The delivery partner operations.
pub struct DeliveryPartnersApi;

#[OpenApi(tag = "ApiTags::DeliveryPartners")]
impl DeliveryPartnersApi {
    /// List delivery partners
    ///
    /// Returns one page of the delivery partners that work with your organisation in at least one
    /// cohort, each listed once. Walk the pages with `page[page]` until one comes back empty.
    #[oai(path = "/delivery-partners", method = "get", operation_id = "listDeliveryPartners")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        request: &Request,
        /// Only delivery partners that work with your organisation in these cohorts: start years
        /// separated by commas, such as `2023,2024`, which match every cohort starting in those
        /// years. A cohort identifier such as `2026b` matches that cohort only. Each partner still
        /// lists every cohort in `cohort`.
        #[oai(name = "filter[cohort]")]
        cohort: Query<Option<String>>,
        /// The order of the list: `name`, `created_at` or `updated_at`, prefixed with `-` for
        /// descending order, several separated by commas, such as `-created_at,name`. Other names
        /// are ignored. Without it the list is sorted by `name`, A to Z.
        sort: Query<Option<String>>,
        /// The page to return, counting from 1. Defaults to 1.
        #[oai(name = "page[page]")]
        page: Query<Option<String>>,
        /// The number of delivery partners on a page, from 1 to 1000. Defaults to 100; larger
        /// values return 1000.
        #[oai(name = "page[per_page]")]
        per_page: Query<Option<String>>,
    ) -> Result<ListDeliveryPartnersResponse, Failure<ListErrors>> {
        let list_request = ListRequest::from_request(request)?;
        list_request.reject_nested_filter("cohort", ListParameterError::InvalidCohort)?;

        let query = DeliveryPartnerQuery {
            cohorts: parse_cohort_filter(cohort.0.as_deref()).map_err(ApiError::from)?,
            sort: DeliveryPartnerSort::parse(sort.0.as_deref()),
            page: parse_page(page.0.as_deref(), per_page.0.as_deref())?,
        };

        let views = state.delivery_partners.list(caller.0, &query).await?;
        let data = views.into_iter().map(DeliveryPartnerResource::from).collect();
        Ok(ListDeliveryPartnersResponse::Ok(Json(DeliveryPartnersResponse { data })))
    }

    /// Get one delivery partner
    ///
    /// Returns one of the delivery partners that work with your organisation. A partner that works
    /// only with other organisations returns 404, as an unknown id does.
    #[oai(path = "/delivery-partners/:id", method = "get", operation_id = "getDeliveryPartner")]
    async fn show(
        &self,
        caller: LeadProviderAuth,
        state: Data<&ApiState>,
        /// The delivery partner's id.
        id: Path<PathId>,
    ) -> Result<ShowDeliveryPartnerResponse, Failure<ShowErrors>> {
        let id = delivery_partner_id(&id.0)?;
        let view = state.delivery_partners.show(caller.0, id).await?;
        Ok(ShowDeliveryPartnerResponse::Ok(Json(DeliveryPartnerResponse { data: view.into() })))
    }
}
