//! Lead provider allow-lists in the admin API: the networks each lead provider's requests may
//! come from. DfE staff read and replace them; an empty list removes the restriction.

use npq_domain::ids::LeadProviderId;
use npq_domain::network::AllowList;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::AdminAuth;
use crate::body::{RequestAttributes, RequiredBody};
use crate::error::{AdminActionErrors, AdminShowErrors, ApiError, Failure};
use crate::state::ApiState;
use crate::types::PathId;
use npq_domain::error::FieldError;

/// Groups of the allow-list operations in the admin OpenAPI document.
#[derive(Tags)]
pub enum LeadProviderTags {
    /// Lead providers, and the networks their requests may come from.
    #[oai(rename = "Lead providers")]
    LeadProviders,
}

/// The resource type of an allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AllowedNetworksType {
    #[oai(rename = "lead-provider-allowed-networks")]
    AllowedNetworks,
}

/// The networks a lead provider's requests may come from.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct AllowedNetworksAttributes {
    /// Networks in CIDR notation, such as `10.0.0.0/8` or `2001:db8::/32`, sorted. A single
    /// address counts as its own network (`/32` or `/128`). Empty: requests may come from any
    /// address.
    pub networks: Vec<String>,
}

impl RequestAttributes for AllowedNetworksAttributes {
    const REQUEST_SCHEMA: &'static str = "AllowedNetworksRequest";
    const DESCRIPTION: &'static str = "The complete new allow-list of a lead provider. It replaces the old one; an empty list removes the restriction.";
    const DATA_TYPE: &'static str = "lead-provider-allowed-networks";
    const EXAMPLE: &'static str = r#"{"data":{"attributes":{"networks":["10.0.0.0/8","2001:db8::/32"]}}}"#;
}

/// A lead provider's allow-list.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct AllowedNetworksResource {
    /// The lead provider's id.
    pub id: Uuid,
    #[oai(rename = "type")]
    pub resource_type: AllowedNetworksType,
    pub attributes: AllowedNetworksAttributes,
}

/// A lead provider's allow-list.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct AllowedNetworksResponse {
    pub data: AllowedNetworksResource,
}

impl AllowedNetworksResponse {
    fn new(lead_provider: LeadProviderId, networks: &AllowList) -> Self {
        Self {
            data: AllowedNetworksResource {
                id: lead_provider.as_uuid(),
                resource_type: AllowedNetworksType::AllowedNetworks,
                attributes: AllowedNetworksAttributes {
                    networks: networks.networks().iter().map(ToString::to_string).collect(),
                },
            },
        }
    }
}

#[derive(ApiResponse)]
pub enum ShowAllowedNetworksResponse {
    /// The lead provider's allow-list.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<AllowedNetworksResponse>),
}

#[derive(ApiResponse)]
pub enum ReplaceAllowedNetworksResponse {
    /// The lead provider's allow-list as stored: sorted, without duplicates.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<AllowedNetworksResponse>),
}

fn lead_provider_id(id: &PathId) -> Result<LeadProviderId, ApiError> {
    id.0.parse().map_err(|_| ApiError::NotFound)
}

fn networks_error(message: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![FieldError { attribute: "networks".to_owned(), message: message.into() }])
}

/// Reads the new allow-list: `networks` must be a list of strings that are each a network in
/// CIDR notation or a single address. A missing or malformed list is a 422 titled `networks`.
pub fn read_networks(body: &RequiredBody<AllowedNetworksAttributes>) -> Result<AllowList, ApiError> {
    let attributes = body.required_attributes()?;
    let Some(Value::Array(items)) = attributes.get("networks") else {
        return Err(networks_error(
            "Give the networks in '#/networks' as a list of strings, such as [\"10.0.0.0/8\"]; an empty list removes the restriction.",
        ));
    };
    let mut texts = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(text) => texts.push(text.as_str()),
            other => {
                return Err(networks_error(format!("Each network in '#/networks' must be a string, not {other}.")));
            }
        }
    }
    AllowList::parse(&texts).map_err(|error| networks_error(error.to_string()))
}

/// The allow-list operations.
pub struct AdminLeadProvidersApi;

#[OpenApi(tag = "LeadProviderTags::LeadProviders")]
impl AdminLeadProvidersApi {
    /// Get the networks a lead provider's requests may come from
    ///
    /// Returns the lead provider's allow-list. An empty list means requests may come from any
    /// address. A request from outside a non-empty list is refused with 403, after its token is
    /// checked.
    #[oai(path = "/lead-providers/:id/allowed-networks", method = "get", operation_id = "getAllowedNetworks")]
    async fn show(
        &self,
        _caller: AdminAuth,
        state: Data<&ApiState>,
        /// The lead provider's id.
        id: Path<PathId>,
    ) -> Result<ShowAllowedNetworksResponse, Failure<AdminShowErrors>> {
        let id = lead_provider_id(&id.0)?;
        let networks = state.tokens.allowed_networks(id).await?;
        Ok(ShowAllowedNetworksResponse::Ok(Json(AllowedNetworksResponse::new(id, &networks))))
    }

    /// Replace the networks a lead provider's requests may come from
    ///
    /// Replaces the lead provider's allow-list with the networks given, in CIDR notation; a single
    /// address counts as its own network. An empty list removes the restriction. The change
    /// applies to the lead provider's next request.
    #[oai(path = "/lead-providers/:id/allowed-networks", method = "put", operation_id = "replaceAllowedNetworks")]
    async fn replace(
        &self,
        caller: AdminAuth,
        state: Data<&ApiState>,
        /// The lead provider's id.
        id: Path<PathId>,
        body: RequiredBody<AllowedNetworksAttributes>,
    ) -> Result<ReplaceAllowedNetworksResponse, Failure<AdminActionErrors>> {
        let id = lead_provider_id(&id.0)?;
        // An unknown lead provider is reported before a bad body.
        state.tokens.allowed_networks(id).await?;
        let networks = read_networks(&body)?;
        let stored = state.tokens.set_allowed_networks(id, networks).await?;
        let displayed: Vec<String> = stored.networks().iter().map(ToString::to_string).collect();
        tracing::info!(user = %caller.0, lead_provider_id = %id, networks = ?displayed, "replaced a lead provider's allow-list");
        Ok(ReplaceAllowedNetworksResponse::Ok(Json(AllowedNetworksResponse::new(id, &stored))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<AllowList, ApiError> {
        read_networks(&RequiredBody::from_bytes(body))
    }

    #[test]
    fn networks_are_read_and_sorted() {
        let list = read(r#"{"data":{"attributes":{"networks":["2001:db8::/32","10.0.0.0/8"]}}}"#).unwrap();
        let displayed: Vec<String> = list.networks().iter().map(ToString::to_string).collect();
        assert_eq!(displayed, ["10.0.0.0/8", "2001:db8::/32"]);
    }

    #[test]
    fn empty_list_clears_the_restriction() {
        assert_eq!(read(r#"{"data":{"attributes":{"networks":[]}}}"#), Ok(AllowList::default()));
    }

    #[test]
    fn malformed_networks_are_invalid() {
        for body in [
            r#"{"data":{"attributes":{"networks":"10.0.0.0/8"}}}"#,
            r#"{"data":{"attributes":{"networks":[8]}}}"#,
            r#"{"data":{"attributes":{"networks":["10.0.0.0/33"]}}}"#,
            r#"{"data":{"attributes":{"other":[]}}}"#,
        ] {
            let Err(ApiError::Invalid(errors)) = read(body) else { panic!("expected a 422 for {body}") };
            assert_eq!(errors[0].attribute, "networks", "{body}");
        }
    }
}
