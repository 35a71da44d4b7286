use sea_orm::entity::prelude::*;

/// One recorded change of one field of an application.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "application_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    pub changed_at: DateTimeUtc,
    /// `lead_provider` or `dfe`.
    pub actor_kind: String,
    pub actor_lead_provider_id: Option<i64>,
    pub actor_user: Option<String>,
    pub field: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
