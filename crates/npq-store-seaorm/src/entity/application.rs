use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub person_id: i64,
    pub lead_provider_id: i64,
    pub cohort_id: i64,
    pub course_identifier: String,
    pub schedule_id: Option<i64>,
    pub status: String,
    pub training_status: Option<String>,
    pub reason_for_rejection: Option<String>,
    pub accepted_at: Option<DateTimeUtc>,
    pub eligible_for_funding: bool,
    pub funding_eligibility_status_code: Option<String>,
    pub funding_choice: Option<String>,
    pub funded_place: Option<bool>,
    pub targeted_delivery_funding_eligibility: bool,
    pub works_in_school: Option<bool>,
    pub works_in_childcare: Option<bool>,
    pub work_setting: Option<String>,
    pub kind_of_nursery: Option<String>,
    pub employment_type: Option<String>,
    pub employment_role: Option<String>,
    pub employer_name: Option<String>,
    pub headteacher_status: Option<String>,
    pub school_urn: Option<String>,
    pub ukprn: Option<String>,
    pub private_childcare_provider_urn: Option<String>,
    pub itt_provider: Option<String>,
    pub lead_mentor: bool,
    pub teacher_catchment: Option<String>,
    pub teacher_catchment_country: Option<String>,
    pub teacher_catchment_iso_country_code: Option<String>,
    pub senco_in_role: Option<String>,
    pub senco_start_date: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Cohort and course key while the application holds a live place (accepted, not withdrawn);
    /// unique per person.
    pub live_place: Option<String>,
    /// The person's verified TRN and `live_place`; unique, so one teacher's two accounts cannot
    /// both hold the place.
    pub live_trn_place: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
