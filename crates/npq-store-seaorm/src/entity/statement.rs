use sea_orm::entity::prelude::*;

/// A lead provider's monthly statement for one cohort: what DfE pays and when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "statements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub public_id: Uuid,
    pub lead_provider_id: i64,
    pub cohort_id: i64,
    pub year: i32,
    pub month: i32,
    /// The last day a declaration can join the statement.
    pub deadline_date: Option<Date>,
    pub payment_date: Option<Date>,
    /// Whether the statement pays for declarations, rather than service fees alone.
    pub output_fee: bool,
    pub state: String,
    pub marked_as_paid_at: Option<DateTimeUtc>,
    pub reconcile_amount_pence: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
