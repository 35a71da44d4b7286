use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub trn: Option<String>,
    pub trn_verified: bool,
    pub full_name: String,
    pub email: Option<String>,
    pub date_of_birth: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Names the person used before, as a JSON array of strings, oldest first.
    pub previous_names: String,
    /// The person whose account replaced this one when DfE merged them.
    pub merged_into_id: Option<i64>,
    /// The email address the person registered with, lower-cased; unique. `None` for people who
    /// did not register through the API, such as sandbox applicants.
    pub account_email: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
