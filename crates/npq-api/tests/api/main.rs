//! HTTP tests of the lead provider API over an in-memory store: one binary, one module per
//! concern.

mod admin;
mod applications;
mod common;
mod decisions;
mod delivery_partners;
mod errors_and_headers;
mod hostile_input;
mod list_parameters;
mod openapi_document;
mod operations;
mod participants;
mod registration;
