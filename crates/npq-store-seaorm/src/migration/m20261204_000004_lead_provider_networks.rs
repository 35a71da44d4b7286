//! Lead provider allow-lists: the networks each lead provider's requests may come from.
//!
//! The list is a JSON array of networks in CIDR notation on the lead provider's row, such as
//! `["10.0.0.0/8","2001:db8::/32"]`. The empty array, the default, places no restriction.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum LeadProviders {
    Table,
    AllowedNetworks,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LeadProviders::Table)
                    .add_column(ColumnDef::new(LeadProviders::AllowedNetworks).string().not_null().default("[]"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(LeadProviders::Table).drop_column(LeadProviders::AllowedNetworks).to_owned(),
            )
            .await
    }
}
