//! Schema migrations, one file per migration, shared by SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

mod m20261204_000001_initial_schema;
mod m20261204_000002_application_decisions;
mod m20261204_000003_participants;
mod m20261204_000004_lead_provider_networks;
mod m20261204_000005_registration;
mod m20261204_000006_declarations;
mod m20261204_000007_declaration_payments;
mod m20261204_000008_cursor_indexes;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_initial_schema::Migration),
            Box::new(m20261204_000002_application_decisions::Migration),
            Box::new(m20261204_000003_participants::Migration),
            Box::new(m20261204_000004_lead_provider_networks::Migration),
            Box::new(m20261204_000005_registration::Migration),
            Box::new(m20261204_000006_declarations::Migration),
            Box::new(m20261204_000007_declaration_payments::Migration),
            Box::new(m20261204_000008_cursor_indexes::Migration),
        ]
    }
}
