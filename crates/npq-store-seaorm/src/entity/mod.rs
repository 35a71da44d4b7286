//! sea-orm entities, one per table. They mirror the schema in `migration` and are converted to
//! and from domain types in `convert`; no other crate uses them.
//!
//! Every table has an integer `id` that orders rows by insertion and never leaves the store, and
//! resources that the API shows have a separate `public_id` UUID.

pub mod adjustment;
pub mod api_token;
pub mod application;
pub mod application_history;
pub mod childcare_provider;
pub mod cohort;
pub mod contract;
pub mod declaration;
pub mod declaration_payment;
pub mod delivery_partner;
pub mod delivery_partnership;
pub mod itt_provider;
pub mod lead_provider;
pub mod participant;
pub mod participant_id_change;
pub mod participant_outcome;
pub mod person;
pub mod registration_request;
pub mod schedule;
pub mod school;
pub mod statement;
pub mod statement_item;
