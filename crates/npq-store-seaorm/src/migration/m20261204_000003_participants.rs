//! Participants: the order in which people became each lead provider's participants, when each
//! participant last changed, merged accounts, and people's previous names.
//!
//! A `participants` row exists for every person and lead provider that ever had an accepted
//! application together; the person is the provider's participant while one is accepted. Rows are
//! never deleted, so their ids give a stable order to page through, and `updated_at` moves only
//! when something the provider sees about the participant changes.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Participants {
    Table,
    Id,
    PersonId,
    LeadProviderId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ParticipantIdChanges {
    Table,
    Id,
    FromPublicId,
    ToPersonId,
    ChangedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum People {
    Table,
    Id,
    PreviousNames,
    MergedIntoId,
}

#[derive(DeriveIden, Clone, Copy)]
enum LeadProviders {
    Table,
    Id,
}

fn reference_to<T: IntoIden>(
    from_table: T,
    from_column: impl IntoIden,
    to_table: impl IntoIden,
    to_column: impl IntoIden,
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
                    .table(Participants::Table)
                    .col(ColumnDef::new(Participants::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Participants::PersonId).big_integer().not_null())
                    .col(ColumnDef::new(Participants::LeadProviderId).big_integer().not_null())
                    .col(ColumnDef::new(Participants::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Participants::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut reference_to(
                        Participants::Table,
                        Participants::PersonId,
                        People::Table,
                        People::Id,
                    ))
                    .foreign_key(&mut reference_to(
                        Participants::Table,
                        Participants::LeadProviderId,
                        LeadProviders::Table,
                        LeadProviders::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        let indexes: [(&str, Vec<Participants>, bool); 4] = [
            ("participants_unique", vec![Participants::LeadProviderId, Participants::PersonId], true),
            ("participants_by_provider", vec![Participants::LeadProviderId, Participants::Id], false),
            (
                "participants_by_provider_updated",
                vec![Participants::LeadProviderId, Participants::UpdatedAt, Participants::Id],
                false,
            ),
            ("participants_by_person", vec![Participants::PersonId], false),
        ];
        for (name, columns, unique) in indexes {
            let mut index = Index::create().name(name).table(Participants::Table).to_owned();
            for column in columns {
                index.col(column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO participants (person_id, lead_provider_id, created_at, updated_at) \
                 SELECT person_id, lead_provider_id, MIN(COALESCE(accepted_at, created_at)), MAX(updated_at) \
                 FROM applications WHERE status = 'accepted' GROUP BY person_id, lead_provider_id \
                 ORDER BY MIN(COALESCE(accepted_at, created_at)), MIN(id)",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ParticipantIdChanges::Table)
                    .col(
                        ColumnDef::new(ParticipantIdChanges::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ParticipantIdChanges::FromPublicId).uuid().not_null().unique_key())
                    .col(ColumnDef::new(ParticipantIdChanges::ToPersonId).big_integer().not_null())
                    .col(ColumnDef::new(ParticipantIdChanges::ChangedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut reference_to(
                        ParticipantIdChanges::Table,
                        ParticipantIdChanges::ToPersonId,
                        People::Table,
                        People::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("participant_id_changes_by_person")
                    .table(ParticipantIdChanges::Table)
                    .col(ParticipantIdChanges::ToPersonId)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .add_column(ColumnDef::new(People::PreviousNames).string().not_null().default("[]"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .add_column(ColumnDef::new(People::MergedIntoId).big_integer().null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [People::PreviousNames, People::MergedIntoId] {
            manager.alter_table(Table::alter().table(People::Table).drop_column(column).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(ParticipantIdChanges::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Participants::Table).to_owned()).await?;
        Ok(())
    }
}
