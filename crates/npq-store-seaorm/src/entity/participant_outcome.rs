use sea_orm::entity::prelude::*;

/// The result of a participant's assessment, recorded against a completed declaration. Rows are
/// only added; the newest one of a declaration is its outcome.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "participant_outcomes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub public_id: Uuid,
    pub declaration_id: i64,
    pub state: String,
    pub completion_date: Date,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
