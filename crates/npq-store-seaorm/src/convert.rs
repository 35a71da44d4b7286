//! Conversions between rows and domain values. Reading a row re-parses every value, so data that
//! breaks a domain invariant surfaces as `StoreError::Corrupt` instead of reaching a client.

use std::str::FromStr;

use chrono::{DateTime, Timelike, Utc};
use npq_domain::StoreError;
use npq_domain::application::Application;
use npq_domain::cohort::{Cohort, CohortIdentifier};
use npq_domain::decision::holds_live_place;
use npq_domain::ids::{ApplicationId, LeadProviderId, ParticipantId};
use npq_domain::person::Person;
use npq_domain::schedule::{DeclarationType, Schedule, ScheduleIdentifier};

use crate::entity::{application, cohort, person, schedule};
use crate::error::corrupt;

/// Truncates an instant to whole microseconds, the precision both backends store, so values read
/// back equal the values written.
pub(crate) fn stored_instant(instant: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = instant.nanosecond() % 1_000_000_000;
    instant.with_nanosecond(nanos - nanos % 1_000).unwrap_or(instant)
}

fn parse<T: FromStr>(column: &str, text: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|error| corrupt(column, error))
}

fn parse_optional<T: FromStr>(column: &str, text: Option<&str>) -> Result<Option<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.map(|text| parse(column, text)).transpose()
}

pub(crate) fn cohort_from_row(row: &cohort::Model) -> Result<Cohort, StoreError> {
    Ok(Cohort {
        identifier: parse("cohorts.identifier", &row.identifier)?,
        description: row.description.clone(),
        registration_start_date: row.registration_start_date,
        funding: parse("cohorts.funding", &row.funding)?,
    })
}

pub(crate) fn schedule_from_row(row: &schedule::Model, cohort: CohortIdentifier) -> Result<Schedule, StoreError> {
    let allowed_declaration_types = row
        .allowed_declaration_types
        .split(',')
        .filter(|text| !text.is_empty())
        .map(|text| parse::<DeclarationType>("schedules.allowed_declaration_types", text))
        .collect::<Result<_, _>>()?;
    Ok(Schedule {
        cohort,
        identifier: parse("schedules.identifier", &row.identifier)?,
        name: row.name.clone(),
        applies_from: row.applies_from,
        applies_to: row.applies_to,
        allowed_declaration_types,
    })
}

pub(crate) fn person_from_row(row: &person::Model) -> Result<Person, StoreError> {
    Ok(Person {
        participant_id: ParticipantId::from_uuid(row.public_id),
        trn: parse_optional("people.trn", row.trn.as_deref())?,
        trn_verified: row.trn_verified,
        full_name: row.full_name.clone(),
        previous_names: serde_json::from_str(&row.previous_names)
            .map_err(|error| corrupt("people.previous_names", error))?,
        email: row.email.clone(),
        date_of_birth: row.date_of_birth,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The public values an application row refers to by internal id.
pub(crate) struct ApplicationLinks {
    pub participant_id: ParticipantId,
    pub lead_provider_id: LeadProviderId,
    pub cohort: CohortIdentifier,
    pub schedule: Option<ScheduleIdentifier>,
}

pub(crate) fn application_from_row(
    row: &application::Model,
    links: ApplicationLinks,
) -> Result<Application, StoreError> {
    Ok(Application {
        id: ApplicationId::from_uuid(row.public_id),
        participant_id: links.participant_id,
        lead_provider_id: links.lead_provider_id,
        cohort: links.cohort,
        course: parse("applications.course_identifier", &row.course_identifier)?,
        schedule: links.schedule,
        status: parse("applications.status", &row.status)?,
        training_status: parse_optional("applications.training_status", row.training_status.as_deref())?,
        reason_for_rejection: parse_optional("applications.reason_for_rejection", row.reason_for_rejection.as_deref())?,
        accepted_at: row.accepted_at,
        eligible_for_funding: row.eligible_for_funding,
        funding_eligibility_status_code: parse_optional(
            "applications.funding_eligibility_status_code",
            row.funding_eligibility_status_code.as_deref(),
        )?,
        funding_choice: parse_optional("applications.funding_choice", row.funding_choice.as_deref())?,
        funded_place: row.funded_place,
        targeted_delivery_funding_eligibility: row.targeted_delivery_funding_eligibility,
        works_in_school: row.works_in_school,
        works_in_childcare: row.works_in_childcare,
        work_setting: parse_optional("applications.work_setting", row.work_setting.as_deref())?,
        kind_of_nursery: parse_optional("applications.kind_of_nursery", row.kind_of_nursery.as_deref())?,
        employment_type: parse_optional("applications.employment_type", row.employment_type.as_deref())?,
        employment_role: row.employment_role.clone(),
        employer_name: row.employer_name.clone(),
        headteacher_status: parse_optional("applications.headteacher_status", row.headteacher_status.as_deref())?,
        school_urn: parse_optional("applications.school_urn", row.school_urn.as_deref())?,
        ukprn: parse_optional("applications.ukprn", row.ukprn.as_deref())?,
        private_childcare_provider_urn: parse_optional(
            "applications.private_childcare_provider_urn",
            row.private_childcare_provider_urn.as_deref(),
        )?,
        itt_provider: row.itt_provider.clone(),
        lead_mentor: row.lead_mentor,
        teacher_catchment: parse_optional("applications.teacher_catchment", row.teacher_catchment.as_deref())?,
        teacher_catchment_country: row.teacher_catchment_country.clone(),
        teacher_catchment_iso_country_code: parse_optional(
            "applications.teacher_catchment_iso_country_code",
            row.teacher_catchment_iso_country_code.as_deref(),
        )?,
        senco_in_role: parse_optional("applications.senco_in_role", row.senco_in_role.as_deref())?,
        senco_start_date: row.senco_start_date,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The internal ids an application row stores in place of public values.
pub(crate) struct ApplicationKeys {
    pub person_id: i64,
    pub lead_provider_id: i64,
    pub cohort_id: i64,
    pub schedule_id: Option<i64>,
    /// The person's TRN when it is verified.
    pub verified_trn: Option<String>,
}

/// Returns the live-place keys of an application (see the `applications` entity): `None` for both
/// unless it holds a live place.
pub(crate) fn live_place_keys(
    application: &Application,
    verified_trn: Option<&str>,
) -> (Option<String>, Option<String>) {
    if !holds_live_place(application) {
        return (None, None);
    }
    let place = format!("{}:{}", application.cohort, application.course.place_key());
    let trn_place = verified_trn.map(|trn| format!("{trn}:{place}"));
    (Some(place), trn_place)
}

pub(crate) fn application_to_row(application: &Application, keys: ApplicationKeys) -> application::ActiveModel {
    use sea_orm::ActiveValue::{NotSet, Set};
    let text = |value: Option<&str>| value.map(str::to_owned);
    let (live_place, live_trn_place) = live_place_keys(application, keys.verified_trn.as_deref());
    application::ActiveModel {
        id: NotSet,
        public_id: Set(application.id.as_uuid()),
        person_id: Set(keys.person_id),
        lead_provider_id: Set(keys.lead_provider_id),
        cohort_id: Set(keys.cohort_id),
        course_identifier: Set(application.course.as_str().to_owned()),
        schedule_id: Set(keys.schedule_id),
        status: Set(application.status.as_str().to_owned()),
        training_status: Set(application.training_status.map(|value| value.as_str().to_owned())),
        reason_for_rejection: Set(application.reason_for_rejection.map(|value| value.as_str().to_owned())),
        accepted_at: Set(application.accepted_at.map(stored_instant)),
        eligible_for_funding: Set(application.eligible_for_funding),
        funding_eligibility_status_code: Set(application
            .funding_eligibility_status_code
            .map(|value| value.as_str().to_owned())),
        funding_choice: Set(application.funding_choice.map(|value| value.as_str().to_owned())),
        funded_place: Set(application.funded_place),
        targeted_delivery_funding_eligibility: Set(application.targeted_delivery_funding_eligibility),
        works_in_school: Set(application.works_in_school),
        works_in_childcare: Set(application.works_in_childcare),
        work_setting: Set(application.work_setting.map(|value| value.as_str().to_owned())),
        kind_of_nursery: Set(application.kind_of_nursery.map(|value| value.as_str().to_owned())),
        employment_type: Set(application.employment_type.map(|value| value.as_str().to_owned())),
        employment_role: Set(application.employment_role.clone()),
        employer_name: Set(application.employer_name.clone()),
        headteacher_status: Set(application.headteacher_status.map(|value| value.as_str().to_owned())),
        school_urn: Set(text(application.school_urn.as_ref().map(|urn| urn.as_str()))),
        ukprn: Set(text(application.ukprn.as_ref().map(|ukprn| ukprn.as_str()))),
        private_childcare_provider_urn: Set(text(
            application.private_childcare_provider_urn.as_ref().map(|urn| urn.as_str()),
        )),
        itt_provider: Set(application.itt_provider.clone()),
        lead_mentor: Set(application.lead_mentor),
        teacher_catchment: Set(application.teacher_catchment.map(|value| value.as_str().to_owned())),
        teacher_catchment_country: Set(application.teacher_catchment_country.clone()),
        teacher_catchment_iso_country_code: Set(text(
            application.teacher_catchment_iso_country_code.as_ref().map(|code| code.as_str()),
        )),
        senco_in_role: Set(application.senco_in_role.map(|value| value.as_str().to_owned())),
        senco_start_date: Set(application.senco_start_date),
        created_at: Set(stored_instant(application.created_at)),
        updated_at: Set(stored_instant(application.updated_at)),
        live_place: Set(live_place),
        live_trn_place: Set(live_trn_place),
    }
}

pub(crate) fn person_to_row(person: &Person) -> person::ActiveModel {
    use sea_orm::ActiveValue::{NotSet, Set};
    person::ActiveModel {
        id: NotSet,
        public_id: Set(person.participant_id.as_uuid()),
        trn: Set(person.trn.as_ref().map(|trn| trn.as_str().to_owned())),
        trn_verified: Set(person.trn_verified),
        full_name: Set(person.full_name.clone()),
        previous_names: Set(serde_json::Value::from(person.previous_names.clone()).to_string()),
        merged_into_id: NotSet,
        account_email: NotSet,
        email: Set(person.email.clone()),
        date_of_birth: Set(person.date_of_birth),
        created_at: Set(stored_instant(person.created_at)),
        updated_at: Set(stored_instant(person.updated_at)),
    }
}
