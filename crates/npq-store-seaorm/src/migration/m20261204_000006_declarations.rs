//! Declarations and the statements that pay for them: statements with their contracts and
//! adjustments, declarations, the lines that put declarations on statements, and participant
//! outcomes.
//!
//! Money is stored in whole pence. An application holds at most one live declaration of each type
//! (submitted, eligible, payable or paid): a partial unique index refuses a second one even when
//! two requests race. A declaration has at most one output line and one clawback line.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

use super::m20261204_000001_initial_schema::{
    flag, foreign_key, id, instant, one_of, optional_instant, public_id, reference, text,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Statements {
    Table,
    Id,
    PublicId,
    LeadProviderId,
    CohortId,
    Year,
    Month,
    DeadlineDate,
    PaymentDate,
    OutputFee,
    State,
    MarkedAsPaidAt,
    ReconcileAmountPence,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contracts {
    Table,
    Id,
    StatementId,
    Course,
    PerParticipantPence,
    OutputPaymentPercentage,
    NumberOfPaymentPeriods,
    ServiceFeePercentage,
    ServiceFeeInstalments,
    RecruitmentTarget,
    MonthlyServiceFeePence,
    TargetedDeliveryFundingPence,
    SpecialCourse,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Adjustments {
    Table,
    Id,
    PublicId,
    StatementId,
    Description,
    AmountPence,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Declarations {
    Table,
    Id,
    PublicId,
    ApplicationId,
    CohortId,
    LeadProviderId,
    DeclarationType,
    DeclarationDate,
    State,
    StateReason,
    SupersededById,
    DeliveryPartnerId,
    SecondaryDeliveryPartnerId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StatementItems {
    Table,
    Id,
    StatementId,
    DeclarationId,
    Kind,
    State,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ParticipantOutcomes {
    Table,
    Id,
    PublicId,
    DeclarationId,
    State,
    CompletionDate,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LeadProviders {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cohorts {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum DeliveryPartners {
    Table,
    Id,
}

const DECLARATION_TYPES: [&str; 4] = ["started", "retained-1", "retained-2", "completed"];
const DECLARATION_STATES: [&str; 8] =
    ["submitted", "eligible", "ineligible", "payable", "paid", "voided", "awaiting-clawback", "clawed-back"];
const ITEM_STATES: [&str; 7] =
    ["eligible", "ineligible", "payable", "paid", "voided", "awaiting-clawback", "clawed-back"];
const COURSES: [&str; 12] = [
    "npq-senior-leadership",
    "npq-headship",
    "npq-executive-leadership",
    "npq-early-years-leadership",
    "npq-leading-teaching",
    "npq-leading-behaviour-culture",
    "npq-leading-teaching-development",
    "npq-leading-literacy",
    "npq-leading-primary-mathematics",
    "npq-additional-support-offer",
    "npq-early-headship-coaching-offer",
    "npq-senco",
];

fn integer<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().to_owned()
}

fn pence<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

async fn create_index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[T],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create().name(name).table(table).to_owned();
    for column in columns {
        index.col(*column);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Statements::Table)
                    .col(id(Statements::Id))
                    .col(public_id(Statements::PublicId))
                    .col(reference(Statements::LeadProviderId))
                    .col(reference(Statements::CohortId))
                    .col(integer(Statements::Year).check(Expr::col(Statements::Year).between(2020, 2050)))
                    .col(integer(Statements::Month).check(Expr::col(Statements::Month).between(1, 12)))
                    .col(ColumnDef::new(Statements::DeadlineDate).date().null())
                    .col(ColumnDef::new(Statements::PaymentDate).date().null())
                    .col(flag(Statements::OutputFee))
                    .col(one_of(Statements::State, &["open", "payable", "paid"], false))
                    .col(optional_instant(Statements::MarkedAsPaidAt))
                    .col(pence(Statements::ReconcileAmountPence).default(0))
                    .col(instant(Statements::CreatedAt))
                    .col(instant(Statements::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Statements::Table,
                        Statements::LeadProviderId,
                        LeadProviders::Table,
                        LeadProviders::Id,
                    ))
                    .foreign_key(&mut foreign_key(Statements::Table, Statements::CohortId, Cohorts::Table, Cohorts::Id))
                    .to_owned(),
            )
            .await?;
        use Statements as S;
        create_index(
            manager,
            "statements_per_month",
            S::Table,
            &[S::LeadProviderId, S::CohortId, S::Year, S::Month],
            true,
        )
        .await?;
        create_index(
            manager,
            "statements_by_payment_date",
            S::Table,
            &[S::LeadProviderId, S::PaymentDate, S::Id],
            false,
        )
        .await?;
        create_index(manager, "statements_by_updated_at", S::Table, &[S::LeadProviderId, S::UpdatedAt, S::Id], false)
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Contracts::Table)
                    .col(id(Contracts::Id))
                    .col(reference(Contracts::StatementId))
                    .col(one_of(Contracts::Course, &COURSES, false))
                    .col(pence(Contracts::PerParticipantPence).check(Expr::col(Contracts::PerParticipantPence).gt(0)))
                    .col(integer(Contracts::OutputPaymentPercentage))
                    .col(integer(Contracts::NumberOfPaymentPeriods))
                    .col(integer(Contracts::ServiceFeePercentage))
                    .col(integer(Contracts::ServiceFeeInstalments))
                    .col(integer(Contracts::RecruitmentTarget).check(Expr::col(Contracts::RecruitmentTarget).gt(0)))
                    .col(ColumnDef::new(Contracts::MonthlyServiceFeePence).big_integer().null())
                    .col(pence(Contracts::TargetedDeliveryFundingPence))
                    .col(flag(Contracts::SpecialCourse))
                    .col(instant(Contracts::CreatedAt))
                    .col(instant(Contracts::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Contracts::Table,
                        Contracts::StatementId,
                        Statements::Table,
                        Statements::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "contracts_per_course",
            Contracts::Table,
            &[Contracts::StatementId, Contracts::Course],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Adjustments::Table)
                    .col(id(Adjustments::Id))
                    .col(public_id(Adjustments::PublicId))
                    .col(reference(Adjustments::StatementId))
                    .col(text(Adjustments::Description))
                    .col(pence(Adjustments::AmountPence).check(Expr::col(Adjustments::AmountPence).ne(0)))
                    .col(instant(Adjustments::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        Adjustments::Table,
                        Adjustments::StatementId,
                        Statements::Table,
                        Statements::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        create_index(manager, "adjustments_by_statement", Adjustments::Table, &[Adjustments::StatementId], false)
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Declarations::Table)
                    .col(id(Declarations::Id))
                    .col(public_id(Declarations::PublicId))
                    .col(reference(Declarations::ApplicationId))
                    .col(reference(Declarations::CohortId))
                    .col(reference(Declarations::LeadProviderId))
                    .col(one_of(Declarations::DeclarationType, &DECLARATION_TYPES, false))
                    .col(instant(Declarations::DeclarationDate))
                    .col(one_of(Declarations::State, &DECLARATION_STATES, false))
                    .col(one_of(Declarations::StateReason, &["duplicate"], true))
                    .col(ColumnDef::new(Declarations::SupersededById).big_integer().null())
                    .col(ColumnDef::new(Declarations::DeliveryPartnerId).big_integer().null())
                    .col(ColumnDef::new(Declarations::SecondaryDeliveryPartnerId).big_integer().null())
                    .col(instant(Declarations::CreatedAt))
                    .col(instant(Declarations::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Declarations::Table,
                        Declarations::ApplicationId,
                        Applications::Table,
                        Applications::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        Declarations::Table,
                        Declarations::CohortId,
                        Cohorts::Table,
                        Cohorts::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        Declarations::Table,
                        Declarations::LeadProviderId,
                        LeadProviders::Table,
                        LeadProviders::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        Declarations::Table,
                        Declarations::SupersededById,
                        Declarations::Table,
                        Declarations::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        Declarations::Table,
                        Declarations::DeliveryPartnerId,
                        DeliveryPartners::Table,
                        DeliveryPartners::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        Declarations::Table,
                        Declarations::SecondaryDeliveryPartnerId,
                        DeliveryPartners::Table,
                        DeliveryPartners::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        use Declarations as D;
        create_index(manager, "declarations_by_provider", D::Table, &[D::LeadProviderId, D::CreatedAt, D::Id], false)
            .await?;
        create_index(manager, "declarations_by_application", D::Table, &[D::ApplicationId, D::CreatedAt, D::Id], false)
            .await?;
        create_index(manager, "declarations_by_updated_at", D::Table, &[D::UpdatedAt, D::Id], false).await?;
        // The same statement on both databases: one live declaration of a type per application.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX declarations_live_milestone ON declarations (application_id, declaration_type) \
                 WHERE state IN ('submitted', 'eligible', 'payable', 'paid')",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StatementItems::Table)
                    .col(id(StatementItems::Id))
                    .col(reference(StatementItems::StatementId))
                    .col(reference(StatementItems::DeclarationId))
                    .col(one_of(StatementItems::Kind, &["output", "clawback"], false))
                    .col(one_of(StatementItems::State, &ITEM_STATES, false))
                    .col(instant(StatementItems::CreatedAt))
                    .col(instant(StatementItems::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        StatementItems::Table,
                        StatementItems::StatementId,
                        Statements::Table,
                        Statements::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        StatementItems::Table,
                        StatementItems::DeclarationId,
                        Declarations::Table,
                        Declarations::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        use StatementItems as I;
        create_index(manager, "statement_items_one_per_kind", I::Table, &[I::DeclarationId, I::Kind], true).await?;
        create_index(manager, "statement_items_by_statement", I::Table, &[I::StatementId, I::Id], false).await?;

        manager
            .create_table(
                Table::create()
                    .table(ParticipantOutcomes::Table)
                    .col(id(ParticipantOutcomes::Id))
                    .col(public_id(ParticipantOutcomes::PublicId))
                    .col(reference(ParticipantOutcomes::DeclarationId))
                    .col(one_of(ParticipantOutcomes::State, &["passed", "failed", "voided"], false))
                    .col(ColumnDef::new(ParticipantOutcomes::CompletionDate).date().not_null())
                    .col(instant(ParticipantOutcomes::CreatedAt))
                    .col(instant(ParticipantOutcomes::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        ParticipantOutcomes::Table,
                        ParticipantOutcomes::DeclarationId,
                        Declarations::Table,
                        Declarations::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        use ParticipantOutcomes as O;
        create_index(
            manager,
            "participant_outcomes_by_declaration",
            O::Table,
            &[O::DeclarationId, O::CreatedAt, O::Id],
            false,
        )
        .await?;
        create_index(manager, "participant_outcomes_by_created_at", O::Table, &[O::CreatedAt, O::Id], false).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            ["participant_outcomes", "statement_items", "declarations", "adjustments", "contracts", "statements"]
        {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
