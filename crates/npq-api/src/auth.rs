//! Authentication: the bearer token security schemes of the lead provider API and of the DfE
//! admin API, and their extractors.

use npq_domain::DomainError;
use npq_domain::auth::PlainToken;
use npq_domain::ids::LeadProviderId;
use poem::http::header::AUTHORIZATION;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use crate::error::ApiError;
use crate::operations::ClientAddress;
use crate::operations::request_context::context_of;
use crate::state::ApiState;

/// Name of the lead provider security scheme in the v3 OpenAPI document.
const SCHEME_NAME: &str = "bearerAuth";

/// Name of the DfE staff security scheme in the admin OpenAPI document.
const ADMIN_SCHEME_NAME: &str = "adminBearerAuth";

/// The lead provider that the request's API token belongs to.
///
/// As an operation argument it authenticates the request: a missing, unknown or non-lead provider
/// token ends the request with 401. Then it checks the client's address against the lead
/// provider's allow-list: an address outside it ends the request with 403. Put it first, so
/// authentication comes before any parameter is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadProviderAuth(pub LeadProviderId);

impl<'a> ApiExtractor<'a> for LeadProviderAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();

    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME_NAME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "The API token DfE issued to your organisation, sent as `Authorization: Bearer <token>`.",
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
        let (state, token) = state_and_token(request)?;
        let lead_provider = state.tokens.authenticate_lead_provider(&token).await.map_err(ApiError::from)?;
        if let Some(context) = context_of(request) {
            context.set_lead_provider(lead_provider);
        }
        tracing::Span::current().record("lead_provider_id", tracing::field::display(lead_provider));
        let client = request.data::<ClientAddress>().map(|ClientAddress(address)| *address);
        if let Err(error) = state.tokens.check_client_address(lead_provider, client).await {
            if matches!(error, DomainError::AddressNotAllowed(_)) {
                tracing::info!(
                    client_address = client.map(|address| address.to_string()).as_deref(),
                    "refused a request from outside the lead provider's allow-list"
                );
            }
            return Err(ApiError::from(error).into());
        }
        Ok(Self(lead_provider))
    }
}

/// The DfE staff member that the request's admin token belongs to, by the name recorded when the
/// token was issued.
///
/// As an operation argument it authenticates the request: a missing or unknown token, or a token
/// that is not an admin token (such as a lead provider's), ends the request with 401. Put it
/// first, so authentication comes before any parameter is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAuth(pub String);

impl<'a> ApiExtractor<'a> for AdminAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();

    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            ADMIN_SCHEME_NAME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "An admin token issued to a named DfE staff member, sent as `Authorization: Bearer <token>`. \
                     Lead provider tokens are not accepted.",
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
        vec![ADMIN_SCHEME_NAME]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let (state, token) = state_and_token(request)?;
        let user = state.tokens.authenticate_admin(&token).await.map_err(ApiError::from)?;
        Ok(Self(user))
    }
}

/// Returns the API state and the presented token, or the error that ends the request: 401 without
/// a token, 500 when `routes()` did not attach the state.
fn state_and_token(request: &Request) -> Result<(&ApiState, PlainToken), ApiError> {
    let Some(state) = request.data::<ApiState>() else {
        tracing::error!("the API state is missing from the request; routes() adds it");
        return Err(ApiError::Internal);
    };
    let token = presented_token(request).ok_or(ApiError::Unauthenticated)?;
    Ok((state, token))
}

/// Reads the token from `Authorization: Bearer <token>`, or from the `Token <token>` and
/// `Token token="<token>"` forms that the reference service also accepts. The scheme name is
/// case-insensitive.
fn presented_token(request: &Request) -> Option<PlainToken> {
    let header = request.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = header.split_once(' ')?;
    let credentials = credentials.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        credentials
    } else if scheme.eq_ignore_ascii_case("token") {
        credentials.strip_prefix("token=").map(|quoted| quoted.trim_matches('"')).unwrap_or(credentials)
    } else {
        return None;
    };
    if token.is_empty() { None } else { Some(PlainToken::presented(token)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_in(header: &str) -> Option<String> {
        let request = Request::builder().header(AUTHORIZATION, header).finish();
        presented_token(&request).map(|token| token.expose().to_owned())
    }

    #[test]
    fn bearer_and_token_forms_are_read() {
        assert_eq!(token_in("Bearer abc123"), Some("abc123".to_owned()));
        assert_eq!(token_in("bearer  abc123 "), Some("abc123".to_owned()));
        assert_eq!(token_in("Token abc123"), Some("abc123".to_owned()));
        assert_eq!(token_in("Token token=\"abc123\""), Some("abc123".to_owned()));
    }

    #[test]
    fn other_schemes_and_blank_tokens_are_ignored() {
        assert_eq!(token_in("Basic YWJjOmRlZg=="), None);
        assert_eq!(token_in("Bearer "), None);
        assert_eq!(token_in("abc123"), None);
    }
}
