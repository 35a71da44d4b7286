//! The first schema: reference data, people, applications and API tokens.
//!
//! Every list query has an index that starts with the lead provider and continues with the sort
//! column and the insertion id, so a page is an index range scan on both backends.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Cohorts {
    Table,
    Id,
    Identifier,
    StartYear,
    Suffix,
    Description,
    RegistrationStartDate,
    Funding,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LeadProviders {
    Table,
    Id,
    PublicId,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum DeliveryPartners {
    Table,
    Id,
    PublicId,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum DeliveryPartnerships {
    Table,
    Id,
    LeadProviderId,
    DeliveryPartnerId,
    CohortId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Schedules {
    Table,
    Id,
    CohortId,
    Identifier,
    CourseGroup,
    Name,
    AppliesFrom,
    AppliesTo,
    AllowedDeclarationTypes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum People {
    Table,
    Id,
    PublicId,
    Trn,
    TrnVerified,
    FullName,
    Email,
    DateOfBirth,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    Id,
    PublicId,
    PersonId,
    LeadProviderId,
    CohortId,
    CourseIdentifier,
    ScheduleId,
    Status,
    TrainingStatus,
    ReasonForRejection,
    AcceptedAt,
    EligibleForFunding,
    FundingEligibilityStatusCode,
    FundingChoice,
    FundedPlace,
    TargetedDeliveryFundingEligibility,
    WorksInSchool,
    WorksInChildcare,
    WorkSetting,
    KindOfNursery,
    EmploymentType,
    EmploymentRole,
    EmployerName,
    HeadteacherStatus,
    SchoolUrn,
    Ukprn,
    PrivateChildcareProviderUrn,
    IttProvider,
    LeadMentor,
    TeacherCatchment,
    TeacherCatchmentCountry,
    TeacherCatchmentIsoCountryCode,
    SencoInRole,
    SencoStartDate,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiTokens {
    Table,
    Id,
    PublicId,
    Scope,
    LeadProviderId,
    HashedToken,
    Description,
    CreatedAt,
    LastUsedAt,
}

pub(super) fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

pub(super) fn reference<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

pub(super) fn text<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

pub(super) fn optional_text<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

pub(super) fn flag<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).boolean().not_null().to_owned()
}

pub(super) fn optional_flag<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).boolean().null().to_owned()
}

pub(super) fn instant<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

pub(super) fn optional_instant<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
}

pub(super) fn public_id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().unique_key().to_owned()
}

/// Builds a text column limited to the given values.
pub(super) fn one_of<T: IntoIden + Clone>(name: T, values: &[&str], nullable: bool) -> ColumnDef {
    let check = Expr::col(name.clone()).is_in(values.iter().map(|value| String::from(*value)));
    let mut column = ColumnDef::new(name);
    column.string();
    if nullable {
        column.null();
    } else {
        column.not_null();
    }
    column.check(check).to_owned()
}

pub(super) fn foreign_key<F: IntoIden, C: IntoIden, T: IntoIden, K: IntoIden>(
    from_table: F,
    from_column: C,
    to_table: T,
    to_column: K,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_column)
        .to(to_table, to_column)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Cohorts::Table)
                    .col(id(Cohorts::Id))
                    .col(text(Cohorts::Identifier).unique_key())
                    .col(ColumnDef::new(Cohorts::StartYear).integer().not_null())
                    .col(text(Cohorts::Suffix))
                    .col(text(Cohorts::Description).unique_key())
                    .col(instant(Cohorts::RegistrationStartDate))
                    .col(one_of(Cohorts::Funding, &["full", "capped", "zero"], false))
                    .col(instant(Cohorts::CreatedAt))
                    .col(instant(Cohorts::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LeadProviders::Table)
                    .col(id(LeadProviders::Id))
                    .col(public_id(LeadProviders::PublicId))
                    .col(text(LeadProviders::Name).unique_key())
                    .col(instant(LeadProviders::CreatedAt))
                    .col(instant(LeadProviders::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeliveryPartners::Table)
                    .col(id(DeliveryPartners::Id))
                    .col(public_id(DeliveryPartners::PublicId))
                    .col(text(DeliveryPartners::Name).unique_key())
                    .col(instant(DeliveryPartners::CreatedAt))
                    .col(instant(DeliveryPartners::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeliveryPartnerships::Table)
                    .col(id(DeliveryPartnerships::Id))
                    .col(reference(DeliveryPartnerships::LeadProviderId))
                    .col(reference(DeliveryPartnerships::DeliveryPartnerId))
                    .col(reference(DeliveryPartnerships::CohortId))
                    .col(instant(DeliveryPartnerships::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        DeliveryPartnerships::Table,
                        DeliveryPartnerships::LeadProviderId,
                        LeadProviders::Table,
                        LeadProviders::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        DeliveryPartnerships::Table,
                        DeliveryPartnerships::DeliveryPartnerId,
                        DeliveryPartners::Table,
                        DeliveryPartners::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        DeliveryPartnerships::Table,
                        DeliveryPartnerships::CohortId,
                        Cohorts::Table,
                        Cohorts::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("delivery_partnerships_unique")
                    .table(DeliveryPartnerships::Table)
                    .col(DeliveryPartnerships::LeadProviderId)
                    .col(DeliveryPartnerships::CohortId)
                    .col(DeliveryPartnerships::DeliveryPartnerId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("delivery_partnerships_by_partner")
                    .table(DeliveryPartnerships::Table)
                    .col(DeliveryPartnerships::DeliveryPartnerId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .col(id(Schedules::Id))
                    .col(reference(Schedules::CohortId))
                    .col(text(Schedules::Identifier))
                    .col(one_of(Schedules::CourseGroup, &["leadership", "specialist", "ehco", "support"], false))
                    .col(text(Schedules::Name))
                    .col(ColumnDef::new(Schedules::AppliesFrom).date().not_null())
                    .col(ColumnDef::new(Schedules::AppliesTo).date().not_null())
                    .col(text(Schedules::AllowedDeclarationTypes))
                    .col(instant(Schedules::CreatedAt))
                    .col(instant(Schedules::UpdatedAt))
                    .foreign_key(&mut foreign_key(Schedules::Table, Schedules::CohortId, Cohorts::Table, Cohorts::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("schedules_unique_identifier_per_cohort")
                    .table(Schedules::Table)
                    .col(Schedules::CohortId)
                    .col(Schedules::Identifier)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(People::Table)
                    .col(id(People::Id))
                    .col(public_id(People::PublicId))
                    .col(optional_text(People::Trn))
                    .col(flag(People::TrnVerified))
                    .col(text(People::FullName))
                    .col(optional_text(People::Email))
                    .col(ColumnDef::new(People::DateOfBirth).date().null())
                    .col(instant(People::CreatedAt))
                    .col(instant(People::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("people_by_trn").table(People::Table).col(People::Trn).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(id(Applications::Id))
                    .col(public_id(Applications::PublicId))
                    .col(reference(Applications::PersonId))
                    .col(reference(Applications::LeadProviderId))
                    .col(reference(Applications::CohortId))
                    .col(text(Applications::CourseIdentifier))
                    .col(ColumnDef::new(Applications::ScheduleId).big_integer().null())
                    .col(one_of(Applications::Status, &["pending", "accepted", "rejected"], false))
                    .col(one_of(Applications::TrainingStatus, &["active", "deferred", "withdrawn"], true))
                    .col(optional_text(Applications::ReasonForRejection))
                    .col(optional_instant(Applications::AcceptedAt))
                    .col(flag(Applications::EligibleForFunding))
                    .col(optional_text(Applications::FundingEligibilityStatusCode))
                    .col(optional_text(Applications::FundingChoice))
                    .col(optional_flag(Applications::FundedPlace))
                    .col(flag(Applications::TargetedDeliveryFundingEligibility))
                    .col(optional_flag(Applications::WorksInSchool))
                    .col(optional_flag(Applications::WorksInChildcare))
                    .col(optional_text(Applications::WorkSetting))
                    .col(optional_text(Applications::KindOfNursery))
                    .col(optional_text(Applications::EmploymentType))
                    .col(optional_text(Applications::EmploymentRole))
                    .col(optional_text(Applications::EmployerName))
                    .col(optional_text(Applications::HeadteacherStatus))
                    .col(optional_text(Applications::SchoolUrn))
                    .col(optional_text(Applications::Ukprn))
                    .col(optional_text(Applications::PrivateChildcareProviderUrn))
                    .col(optional_text(Applications::IttProvider))
                    .col(flag(Applications::LeadMentor))
                    .col(optional_text(Applications::TeacherCatchment))
                    .col(optional_text(Applications::TeacherCatchmentCountry))
                    .col(optional_text(Applications::TeacherCatchmentIsoCountryCode))
                    .col(optional_text(Applications::SencoInRole))
                    .col(ColumnDef::new(Applications::SencoStartDate).date().null())
                    .col(instant(Applications::CreatedAt))
                    .col(instant(Applications::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Applications::Table,
                        Applications::PersonId,
                        People::Table,
                        People::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        Applications::Table,
                        Applications::LeadProviderId,
                        LeadProviders::Table,
                        LeadProviders::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        Applications::Table,
                        Applications::CohortId,
                        Cohorts::Table,
                        Cohorts::Id,
                    ))
                    .foreign_key(&mut foreign_key(
                        Applications::Table,
                        Applications::ScheduleId,
                        Schedules::Table,
                        Schedules::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        let application_indexes: [(&str, Vec<Applications>); 5] = [
            (
                "applications_by_provider_created",
                vec![Applications::LeadProviderId, Applications::CreatedAt, Applications::Id],
            ),
            (
                "applications_by_provider_updated",
                vec![Applications::LeadProviderId, Applications::UpdatedAt, Applications::Id],
            ),
            ("applications_by_person", vec![Applications::PersonId, Applications::Status]),
            ("applications_by_cohort", vec![Applications::CohortId]),
            ("applications_by_schedule", vec![Applications::ScheduleId]),
        ];
        for (name, columns) in application_indexes {
            let mut index = Index::create().name(name).table(Applications::Table).to_owned();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(id(ApiTokens::Id))
                    .col(public_id(ApiTokens::PublicId))
                    .col(one_of(ApiTokens::Scope, &["lead_provider", "teacher_record_service", "registration"], false))
                    .col(ColumnDef::new(ApiTokens::LeadProviderId).big_integer().null())
                    .col(text(ApiTokens::HashedToken).unique_key())
                    .col(optional_text(ApiTokens::Description))
                    .col(instant(ApiTokens::CreatedAt))
                    .col(optional_instant(ApiTokens::LastUsedAt))
                    .check(
                        // A lead provider token belongs to exactly one provider; other scopes to none.
                        Expr::col(ApiTokens::Scope)
                            .eq("lead_provider")
                            .and(Expr::col(ApiTokens::LeadProviderId).is_not_null())
                            .or(Expr::col(ApiTokens::Scope)
                                .ne("lead_provider")
                                .and(Expr::col(ApiTokens::LeadProviderId).is_null())),
                    )
                    .foreign_key(&mut foreign_key(
                        ApiTokens::Table,
                        ApiTokens::LeadProviderId,
                        LeadProviders::Table,
                        LeadProviders::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_tokens_by_provider")
                    .table(ApiTokens::Table)
                    .col(ApiTokens::LeadProviderId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "api_tokens",
            "applications",
            "people",
            "schedules",
            "delivery_partnerships",
            "delivery_partners",
            "lead_providers",
            "cohorts",
        ] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
