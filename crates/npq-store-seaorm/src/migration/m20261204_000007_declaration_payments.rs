//! What each paid statement paid for each declaration, and an index for the deadline job.
//!
//! When DfE marks a statement paid, the store keeps one `declaration_payments` row per declaration
//! the statement paid: the output payment and the targeted delivery funding, in whole pence. A
//! later clawback of the declaration takes back exactly these amounts, whatever the contracts of
//! the statement the clawback lands on. A declaration is paid at most once, so the row is unique
//! per declaration.

use sea_orm_migration::prelude::*;

use super::m20261204_000001_initial_schema::{foreign_key, id, instant, reference};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum DeclarationPayments {
    Table,
    Id,
    DeclarationId,
    StatementId,
    OutputPence,
    TargetedDeliveryFundingPence,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Declarations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Statements {
    Table,
    Id,
    State,
    DeadlineDate,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeclarationPayments::Table)
                    .col(id(DeclarationPayments::Id))
                    .col(reference(DeclarationPayments::DeclarationId))
                    .col(reference(DeclarationPayments::StatementId))
                    .col(
                        ColumnDef::new(DeclarationPayments::OutputPence)
                            .big_integer()
                            .not_null()
                            .check(Expr::col(DeclarationPayments::OutputPence).gte(0)),
                    )
                    .col(
                        ColumnDef::new(DeclarationPayments::TargetedDeliveryFundingPence)
                            .big_integer()
                            .not_null()
                            .check(Expr::col(DeclarationPayments::TargetedDeliveryFundingPence).gte(0)),
                    )
                    .col(instant(DeclarationPayments::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        DeclarationPayments::Table,
                        DeclarationPayments::DeclarationId,
                        Declarations::Table,
                        Declarations::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        DeclarationPayments::Table,
                        DeclarationPayments::StatementId,
                        Statements::Table,
                        Statements::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("declaration_payments_one_per_declaration")
                    .table(DeclarationPayments::Table)
                    .col(DeclarationPayments::DeclarationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("statements_by_state_and_deadline")
                    .table(Statements::Table)
                    .col(Statements::State)
                    .col(Statements::DeadlineDate)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("statements_by_state_and_deadline").table(Statements::Table).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(DeclarationPayments::Table).to_owned()).await
    }
}
