use sea_orm::entity::prelude::*;

/// A school or college from Get Information about Schools, with the funding lists it is on.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schools")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub urn: String,
    pub name: String,
    pub ukprn: Option<String>,
    pub establishment_type: i32,
    pub on_rise_list: bool,
    pub on_pp50_list: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
