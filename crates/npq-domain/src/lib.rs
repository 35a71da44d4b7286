//! The rules of the NPQ service, free of I/O.
//!
//! This crate contains the types the service reasons about (cohorts, courses, schedules, lead providers,
//! people and their applications), the rules over them, the ports that stores implement and the
//! use-case services that are generic over those ports. It knows nothing of HTTP, SQL or an async
//! runtime: a test fails when it gains a dependency on one.
//!
//! Reading order: [`identifiers`] and [`ids`] for the values parsed at the edge, [`cohort`],
//! [`course`] and [`schedule`] for reference data, [`application`] for the central record,
//! [`listing`] for list queries, [`auth`] for API tokens, then [`ports`] and [`service`].

#[macro_use]
mod text_enum;

pub mod application;
pub mod auth;
pub mod cohort;
pub mod course;
pub mod cursor;
pub mod decision;
pub mod declaration;
pub mod declaration_actions;
pub mod declaration_service;
pub mod eligibility;
pub mod error;
pub mod identifiers;
pub mod ids;
pub mod listing;
pub mod network;
pub mod participant;
pub mod payment;
pub mod person;
pub mod ports;
pub mod provider;
pub mod registration;
pub mod schedule;
pub mod service;
pub mod statement;
pub mod statement_actions;
pub mod statement_service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod training;

pub use error::{DomainError, StoreError};
pub use text_enum::UnknownValue;

/// The timestamp type used throughout: an instant in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
