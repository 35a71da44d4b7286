//! Registration: the reference lists that decide funding eligibility, the accounts applicants
//! register with, and idempotency keys of registrations.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Schools {
    Table,
    Id,
    Urn,
    Name,
    Ukprn,
    EstablishmentType,
    OnRiseList,
    OnPp50List,
}

#[derive(DeriveIden, Clone, Copy)]
enum ChildcareProviders {
    Table,
    Id,
    Urn,
    Name,
    OnChildminderList,
}

#[derive(DeriveIden, Clone, Copy)]
enum IttProviders {
    Table,
    Id,
    LegalName,
    /// The legal name in lower case, so look-ups ignore case and one name is stored once.
    NameKey,
    Approved,
}

#[derive(DeriveIden, Clone, Copy)]
enum RegistrationRequests {
    Table,
    Id,
    IdempotencyKey,
    /// A digest of the request the key first came with.
    Fingerprint,
    ApplicationId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum People {
    Table,
    AccountEmail,
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    Id,
}

fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schools::Table)
                    .col(id(Schools::Id))
                    .col(ColumnDef::new(Schools::Urn).string().not_null().unique_key())
                    .col(ColumnDef::new(Schools::Name).string().not_null())
                    .col(ColumnDef::new(Schools::Ukprn).string().null())
                    .col(ColumnDef::new(Schools::EstablishmentType).integer().not_null())
                    .col(ColumnDef::new(Schools::OnRiseList).boolean().not_null())
                    .col(ColumnDef::new(Schools::OnPp50List).boolean().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChildcareProviders::Table)
                    .col(id(ChildcareProviders::Id))
                    .col(ColumnDef::new(ChildcareProviders::Urn).string().not_null().unique_key())
                    .col(ColumnDef::new(ChildcareProviders::Name).string().not_null())
                    .col(ColumnDef::new(ChildcareProviders::OnChildminderList).boolean().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IttProviders::Table)
                    .col(id(IttProviders::Id))
                    .col(ColumnDef::new(IttProviders::LegalName).string().not_null())
                    .col(ColumnDef::new(IttProviders::NameKey).string().not_null().unique_key())
                    .col(ColumnDef::new(IttProviders::Approved).boolean().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistrationRequests::Table)
                    .col(id(RegistrationRequests::Id))
                    .col(ColumnDef::new(RegistrationRequests::IdempotencyKey).string().not_null().unique_key())
                    .col(ColumnDef::new(RegistrationRequests::Fingerprint).string().not_null())
                    .col(ColumnDef::new(RegistrationRequests::ApplicationId).big_integer().not_null())
                    .col(ColumnDef::new(RegistrationRequests::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(RegistrationRequests::Table, RegistrationRequests::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .add_column(ColumnDef::new(People::AccountEmail).string().null())
                    .to_owned(),
            )
            .await?;
        // One account per email address for people who register; seeded and imported people have none.
        manager
            .create_index(
                Index::create()
                    .name("people_account_email_unique")
                    .table(People::Table)
                    .col(People::AccountEmail)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("people_account_email_unique").table(People::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(People::Table).drop_column(People::AccountEmail).to_owned()).await?;
        for table in ["registration_requests", "itt_providers", "childcare_providers", "schools"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
