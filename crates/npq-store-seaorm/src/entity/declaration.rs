use sea_orm::entity::prelude::*;

/// A lead provider's claim that a participant reached a milestone.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "declarations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub public_id: Uuid,
    pub application_id: i64,
    pub cohort_id: i64,
    /// The lead provider that made the declaration; a transfer does not change it.
    pub lead_provider_id: i64,
    pub declaration_type: String,
    pub declaration_date: DateTimeUtc,
    pub state: String,
    pub state_reason: Option<String>,
    pub superseded_by_id: Option<i64>,
    pub delivery_partner_id: Option<i64>,
    pub secondary_delivery_partner_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
