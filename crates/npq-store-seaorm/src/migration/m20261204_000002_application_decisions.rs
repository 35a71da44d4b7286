//! Decisions on applications: the live-place keys that let the database refuse a second live
//! acceptance, the history of every change, and admin tokens for DfE staff.
//!
//! An application holds a live place while it is accepted and not withdrawn. `live_place` is then
//! its cohort and course key (equivalent courses share one), unique per person; `live_trn_place`
//! prefixes it with the person's verified TRN and is unique on its own, so two accounts of one
//! teacher cannot both hold the place either. Both are `NULL` otherwise, and `NULL`s never clash.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    Id,
    PersonId,
    LivePlace,
    LiveTrnPlace,
}

#[derive(DeriveIden, Clone, Copy)]
enum LeadProviders {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApplicationHistory {
    Table,
    Id,
    ApplicationId,
    ChangedAt,
    ActorKind,
    ActorLeadProviderId,
    ActorUser,
    Field,
    FromValue,
    ToValue,
    Reason,
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

/// Every token scope after this migration.
const TOKEN_SCOPES: [&str; 4] = ["lead_provider", "teacher_record_service", "registration", "admin"];

/// The course key shared by equivalent courses, as SQL over `course_identifier`.
const PLACE_KEY_SQL: &str = "CASE WHEN course_identifier IN ('npq-additional-support-offer', 'npq-early-headship-coaching-offer') \
     THEN 'npq-early-headship-coaching-offer' ELSE course_identifier END";

fn api_tokens_table(name: &str) -> TableCreateStatement {
    let scope_check = Expr::col(ApiTokens::Scope).is_in(TOKEN_SCOPES.map(String::from));
    Table::create()
        .table(Alias::new(name))
        .col(ColumnDef::new(ApiTokens::Id).big_integer().not_null().auto_increment().primary_key())
        .col(ColumnDef::new(ApiTokens::PublicId).uuid().not_null().unique_key())
        .col(ColumnDef::new(ApiTokens::Scope).string().not_null().check(scope_check))
        .col(ColumnDef::new(ApiTokens::LeadProviderId).big_integer().null())
        .col(ColumnDef::new(ApiTokens::HashedToken).string().not_null().unique_key())
        .col(ColumnDef::new(ApiTokens::Description).string().null())
        .col(ColumnDef::new(ApiTokens::CreatedAt).timestamp_with_time_zone().not_null())
        .col(ColumnDef::new(ApiTokens::LastUsedAt).timestamp_with_time_zone().null())
        .check(
            // A lead provider token belongs to exactly one provider; other scopes to none.
            Expr::col(ApiTokens::Scope).eq("lead_provider").and(Expr::col(ApiTokens::LeadProviderId).is_not_null()).or(
                Expr::col(ApiTokens::Scope).ne("lead_provider").and(Expr::col(ApiTokens::LeadProviderId).is_null()),
            ),
        )
        .foreign_key(
            ForeignKey::create()
                .from(Alias::new(name), ApiTokens::LeadProviderId)
                .to(LeadProviders::Table, LeadProviders::Id)
                .on_delete(ForeignKeyAction::Restrict),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for column in [Applications::LivePlace, Applications::LiveTrnPlace] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Applications::Table)
                        .add_column(ColumnDef::new(column).string().null())
                        .to_owned(),
                )
                .await?;
        }
        db.execute_unprepared(&format!(
            "UPDATE applications SET live_place = \
               (SELECT cohorts.identifier FROM cohorts WHERE cohorts.id = applications.cohort_id) || ':' || {PLACE_KEY_SQL} \
             WHERE status = 'accepted' AND (training_status IS NULL OR training_status <> 'withdrawn')"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE applications SET live_trn_place = \
               (SELECT people.trn FROM people WHERE people.id = applications.person_id AND people.trn_verified) \
               || ':' || live_place \
             WHERE live_place IS NOT NULL",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_live_place_per_person")
                    .table(Applications::Table)
                    .col(Applications::PersonId)
                    .col(Applications::LivePlace)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_live_place_per_trn")
                    .table(Applications::Table)
                    .col(Applications::LiveTrnPlace)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApplicationHistory::Table)
                    .col(ColumnDef::new(ApplicationHistory::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(ApplicationHistory::ApplicationId).big_integer().not_null())
                    .col(ColumnDef::new(ApplicationHistory::ChangedAt).timestamp_with_time_zone().not_null())
                    .col(
                        ColumnDef::new(ApplicationHistory::ActorKind)
                            .string()
                            .not_null()
                            .check(Expr::col(ApplicationHistory::ActorKind).is_in(["lead_provider", "dfe"])),
                    )
                    .col(ColumnDef::new(ApplicationHistory::ActorLeadProviderId).big_integer().null())
                    .col(ColumnDef::new(ApplicationHistory::ActorUser).string().null())
                    .col(ColumnDef::new(ApplicationHistory::Field).string().not_null())
                    .col(ColumnDef::new(ApplicationHistory::FromValue).string().null())
                    .col(ColumnDef::new(ApplicationHistory::ToValue).string().null())
                    .col(ColumnDef::new(ApplicationHistory::Reason).string().null())
                    .check(
                        // A lead provider's change names the provider; a DfE change names the user.
                        Expr::col(ApplicationHistory::ActorKind)
                            .eq("lead_provider")
                            .and(Expr::col(ApplicationHistory::ActorLeadProviderId).is_not_null())
                            .or(Expr::col(ApplicationHistory::ActorKind)
                                .eq("dfe")
                                .and(Expr::col(ApplicationHistory::ActorUser).is_not_null())),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApplicationHistory::Table, ApplicationHistory::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApplicationHistory::Table, ApplicationHistory::ActorLeadProviderId)
                            .to(LeadProviders::Table, LeadProviders::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("application_history_by_application")
                    .table(ApplicationHistory::Table)
                    .col(ApplicationHistory::ApplicationId)
                    .col(ApplicationHistory::Id)
                    .to_owned(),
            )
            .await?;

        // Allow the admin scope. PostgreSQL can replace the named check; SQLite cannot alter a check,
        // so the small token table is rebuilt with its rows.
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                let scopes = TOKEN_SCOPES.map(|scope| format!("'{scope}'")).join(", ");
                db.execute_unprepared(&format!(
                    "ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scope_check, \
                     ADD CONSTRAINT api_tokens_scope_check CHECK (scope IN ({scopes}))"
                ))
                .await?;
            }
            _ => {
                manager
                    .rename_table(Table::rename().table(ApiTokens::Table, Alias::new("api_tokens_previous")).to_owned())
                    .await?;
                // The old table's index keeps its name after the rename; free the name for the new one.
                manager
                    .drop_index(
                        Index::drop()
                            .name("api_tokens_by_provider")
                            .table(Alias::new("api_tokens_previous"))
                            .to_owned(),
                    )
                    .await?;
                manager.create_table(api_tokens_table("api_tokens")).await?;
                db.execute_unprepared(
                    "INSERT INTO api_tokens (id, public_id, scope, lead_provider_id, hashed_token, description, created_at, last_used_at) \
                     SELECT id, public_id, scope, lead_provider_id, hashed_token, description, created_at, last_used_at FROM api_tokens_previous",
                )
                .await?;
                manager.drop_table(Table::drop().table(Alias::new("api_tokens_previous")).to_owned()).await?;
                manager
                    .create_index(
                        Index::create()
                            .name("api_tokens_by_provider")
                            .table(ApiTokens::Table)
                            .col(ApiTokens::LeadProviderId)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApplicationHistory::Table).to_owned()).await?;
        for index in ["applications_live_place_per_person", "applications_live_place_per_trn"] {
            manager.drop_index(Index::drop().name(index).table(Applications::Table).to_owned()).await?;
        }
        for column in [Applications::LivePlace, Applications::LiveTrnPlace] {
            manager.alter_table(Table::alter().table(Applications::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
