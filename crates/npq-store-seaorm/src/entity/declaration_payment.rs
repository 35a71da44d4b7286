use sea_orm::entity::prelude::*;

/// The amount a paid statement paid for one declaration, which a later clawback takes back.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "declaration_payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub declaration_id: i64,
    /// The statement that paid the declaration.
    pub statement_id: i64,
    pub output_pence: i64,
    pub targeted_delivery_funding_pence: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
