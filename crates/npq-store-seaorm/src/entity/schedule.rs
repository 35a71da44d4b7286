use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub cohort_id: i64,
    pub identifier: String,
    pub course_group: String,
    pub name: String,
    pub applies_from: Date,
    pub applies_to: Date,
    /// Declaration types separated by commas, in milestone order.
    pub allowed_declaration_types: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
