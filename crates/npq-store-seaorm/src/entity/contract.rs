use sea_orm::entity::prelude::*;

/// The payment terms of one course on one statement.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contracts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub statement_id: i64,
    pub course: String,
    pub per_participant_pence: i64,
    pub output_payment_percentage: i32,
    pub number_of_payment_periods: i32,
    pub service_fee_percentage: i32,
    pub service_fee_instalments: i32,
    pub recruitment_target: i32,
    pub monthly_service_fee_pence: Option<i64>,
    pub targeted_delivery_funding_pence: i64,
    pub special_course: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
