//! Reliability tests of the server over the real store, on SQLite and PostgreSQL: writes that
//! race, a server killed in the middle of a write load, and tenant isolation as a property.
//! `docs/reliability.md` describes them with the API fuzzing and the hostile input tests.
//!
//! One binary holds them all, so that the server's dependencies are linked once.

mod crash_safety;
mod races;
mod support;
mod tenant_isolation;
