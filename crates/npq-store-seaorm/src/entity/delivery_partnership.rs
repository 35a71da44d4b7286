use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_partnerships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub lead_provider_id: i64,
    pub delivery_partner_id: i64,
    pub cohort_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
