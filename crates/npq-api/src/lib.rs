//! The lead provider API v3, the DfE admin API and the registration API over HTTP.
//!
//! This crate turns HTTP requests into calls of the domain services and their results into the
//! JSON lead providers' clients expect. Handlers hold no business rules: they parse parameters
//! with `npq_domain::listing` and bodies with [`body`], call one service, and map the result onto
//! a DTO.
//!
//! Reading order: [`routes`] for what is served where, [`resources`] for the v3 operations and
//! DTOs (one module per resource), [`admin`] for the admin operations and [`registration`] for
//! the registration front end's. Then [`error`] for the
//! error shapes, and [`auth`], [`body`], [`listing`], [`query`], [`types`] and [`http`] for the
//! shared pieces.

pub mod admin;
pub mod auth;
pub mod body;
pub mod error;
pub mod http;
pub mod listing;
pub mod operations;
pub mod query;
pub mod registration;
pub mod resources;
pub mod state;
pub mod types;

use poem::endpoint::make_sync;
use poem::{Endpoint, EndpointExt, Response, Route};
use poem_openapi::OpenApiService;

pub use crate::operations::HttpOptions;
pub use crate::state::{
    ApiState, DecisionBackend, DeclarationBackend, ParticipantBackend, RegistrationBackend, TokenStore,
};

use crate::admin::AdminApi;
use crate::admin::lead_providers::AdminLeadProvidersApi;
use crate::admin::participants::AdminParticipantsApi;
use crate::admin::statements::AdminStatementsApi;
use crate::registration::RegistrationApi;
use crate::resources::applications::ApplicationsApi;
use crate::resources::declarations::DeclarationsApi;
use crate::resources::delivery_partners::DeliveryPartnersApi;
use crate::resources::outcomes::OutcomesApi;
use crate::resources::participants::ParticipantsApi;
use crate::resources::statements::StatementsApi;

/// The content type of every JSON response, exactly: the reference service sends no charset.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The path every v3 operation lives under.
const V3_PREFIX: &str = "/api/v3";

/// The path of the v3 OpenAPI document.
pub const OPENAPI_DOCUMENT_PATH: &str = "/api/docs/v3/openapi.json";

/// The path of the interactive v3 documentation (Swagger UI).
pub const DOCUMENTATION_UI_PATH: &str = "/api/docs/v3";

/// The path every admin operation lives under.
const ADMIN_PREFIX: &str = "/api/admin/v1";

/// The path of the admin OpenAPI document.
pub const ADMIN_OPENAPI_DOCUMENT_PATH: &str = "/api/docs/admin/v1/openapi.json";

/// The path of the interactive admin documentation (Swagger UI).
pub const ADMIN_DOCUMENTATION_UI_PATH: &str = "/api/docs/admin/v1";

/// The path every registration operation lives under.
const REGISTRATION_PREFIX: &str = "/api/registration/v1";

/// The path of the registration OpenAPI document.
pub const REGISTRATION_OPENAPI_DOCUMENT_PATH: &str = "/api/docs/registration/v1/openapi.json";

/// The path of the interactive registration documentation (Swagger UI).
pub const REGISTRATION_DOCUMENTATION_UI_PATH: &str = "/api/docs/registration/v1";

/// Every v3 operation, one API type per resource.
type V3Api = (ApplicationsApi, ParticipantsApi, OutcomesApi, DeliveryPartnersApi, DeclarationsApi, StatementsApi);

/// Every admin operation, one API type per resource.
type AdminApis = (AdminApi, AdminParticipantsApi, AdminLeadProvidersApi, AdminStatementsApi);

fn v3_service() -> OpenApiService<V3Api, ()> {
    OpenApiService::new(
        (ApplicationsApi, ParticipantsApi, OutcomesApi, DeliveryPartnersApi, DeclarationsApi, StatementsApi),
        "NPQ lead provider API",
        "v3",
    )
    .description(include_str!("overview.md"))
    .url_prefix(V3_PREFIX)
}

fn admin_service() -> OpenApiService<AdminApis, ()> {
    OpenApiService::new(
        (AdminApi, AdminParticipantsApi, AdminLeadProvidersApi, AdminStatementsApi),
        "NPQ DfE admin API",
        "v1",
    )
    .description(include_str!("admin/overview.md"))
    .url_prefix(ADMIN_PREFIX)
}

fn registration_service() -> OpenApiService<RegistrationApi, ()> {
    OpenApiService::new(RegistrationApi, "NPQ registration API", "v1")
        .description(include_str!("registration_overview.md"))
        .url_prefix(REGISTRATION_PREFIX)
}

/// Returns the registration OpenAPI document as pretty-printed JSON. The output depends only on
/// the code, so it can be committed and compared.
pub fn registration_openapi_document_json() -> String {
    registration_service().spec()
}

/// Returns the v3 OpenAPI document as pretty-printed JSON. The output depends only on the code,
/// so it can be committed and compared.
pub fn openapi_document_json() -> String {
    v3_service().spec()
}

/// Returns the admin OpenAPI document as pretty-printed JSON. The output depends only on the
/// code, so it can be committed and compared.
pub fn admin_openapi_document_json() -> String {
    admin_service().spec()
}

/// Returns an endpoint that serves a fixed JSON document.
fn serve_json(document: String) -> impl Endpoint<Output = Response> {
    make_sync(move |_| Response::builder().content_type(JSON_CONTENT_TYPE).body(document.clone()))
}

/// Builds the whole HTTP application: the v3 operations under `/api/v3`, the admin operations
/// under `/api/admin/v1` and the registration operations under `/api/registration/v1`, each with
/// its OpenAPI document and Swagger UI under `/api/docs/`, the operational routes and the 410 for retired versions of
/// [`operations`], and a JSON 404 for every other path. Documentation needs no token.
///
/// It serves without rate limits, as tests and tools need; the server uses [`serve`].
pub fn routes(state: ApiState) -> impl Endpoint<Output = Response> {
    serve(state, HttpOptions::without_rate_limits())
}

/// Builds the whole HTTP application as [`routes`] does, with the rate limits, proxies, time
/// limit and sandbox mode of `options`.
pub fn serve(state: ApiState, options: HttpOptions) -> impl Endpoint<Output = Response> {
    let service = v3_service();
    let documentation_ui = service.swagger_ui();
    let document = service.spec();
    let admin = admin_service();
    let admin_documentation_ui = admin.swagger_ui();
    let admin_document = admin.spec();
    let registration = registration_service();
    let registration_documentation_ui = registration.swagger_ui();
    let registration_document = registration.spec();

    let api = Route::new()
        .nest(V3_PREFIX, service.around(http::check_query))
        .at(OPENAPI_DOCUMENT_PATH, poem::get(serve_json(document)))
        .nest(DOCUMENTATION_UI_PATH, documentation_ui)
        .nest(ADMIN_PREFIX, admin.around(http::check_query))
        .at(ADMIN_OPENAPI_DOCUMENT_PATH, poem::get(serve_json(admin_document)))
        .nest(ADMIN_DOCUMENTATION_UI_PATH, admin_documentation_ui)
        .nest(REGISTRATION_PREFIX, registration.around(http::check_query))
        .at(REGISTRATION_OPENAPI_DOCUMENT_PATH, poem::get(serve_json(registration_document)))
        .nest(REGISTRATION_DOCUMENTATION_UI_PATH, registration_documentation_ui);
    operations::serve_api(api, state, options)
}
