use sea_orm::entity::prelude::*;

/// An initial teacher training provider.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "itt_providers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub legal_name: String,
    /// The legal name in lower case.
    #[sea_orm(unique)]
    pub name_key: String,
    pub approved: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
