//! Indexes for cursor walks: every list that a cursor can walk gets an index on
//! `(lead_provider_id, sort column, id)` for both of its sort columns, so a walk reads a range of
//! the index on every page.
//!
//! Applications already had both. Participants lacked one for `created_at`, and declarations one
//! for `updated_at` that starts with the lead provider.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Participants {
    Table,
    LeadProviderId,
    CreatedAt,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Declarations {
    Table,
    LeadProviderId,
    UpdatedAt,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("participants_by_provider_created")
                    .table(Participants::Table)
                    .col(Participants::LeadProviderId)
                    .col(Participants::CreatedAt)
                    .col(Participants::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("declarations_by_provider_updated")
                    .table(Declarations::Table)
                    .col(Declarations::LeadProviderId)
                    .col(Declarations::UpdatedAt)
                    .col(Declarations::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("declarations_by_provider_updated").table(Declarations::Table).to_owned())
            .await?;
        manager
            .drop_index(Index::drop().name("participants_by_provider_created").table(Participants::Table).to_owned())
            .await
    }
}
