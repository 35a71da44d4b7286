use sea_orm::entity::prelude::*;

/// A declaration's line on a statement: `output` pays for it, `clawback` takes the payment back.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "statement_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub statement_id: i64,
    pub declaration_id: i64,
    pub kind: String,
    pub state: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
