use sea_orm::entity::prelude::*;

/// A person who had an accepted application with a lead provider, in the order they became the
/// provider's participant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "participants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    pub lead_provider_id: i64,
    pub created_at: DateTimeUtc,
    /// When anything the lead provider sees about the participant last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
