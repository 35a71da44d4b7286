//! Registration: the answers an applicant gives, their validation, the funding eligibility check,
//! and the pending application a registration creates.

use chrono::NaiveDate;

use crate::Timestamp;
use crate::application::{
    Application, ApplicationStatus, EmploymentType, FundingChoice, HeadteacherStatus, KindOfNursery, SencoInRole,
    TeacherCatchment, WorkSetting,
};
use crate::cohort::{Cohort, CohortIdentifier, FundingRegime};
use crate::course::Course;
use crate::eligibility::{EligibilityAnswers, EligibilityDecision, Workplace, decide_eligibility};
use crate::error::FieldError;
use crate::identifiers::{CountryCode, OfstedUrn, SchoolUrn, Trn, Ukprn};
use crate::ids::{ApplicationId, LeadProviderId, ParticipantId};
use crate::person::Person;

/// A school or college from Get Information about Schools, with the lists it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolRecord {
    pub urn: SchoolUrn,
    pub name: String,
    pub ukprn: Option<Ukprn>,
    pub establishment_type: u16,
    pub on_rise_list: bool,
    pub on_pp50_list: bool,
}

/// A private childcare provider registered with Ofsted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildcareProviderRecord {
    pub urn: OfstedUrn,
    pub name: String,
    pub on_childminder_list: bool,
}

/// An initial teacher training provider, by legal name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IttProviderRecord {
    pub legal_name: String,
    /// Whether it is currently accredited.
    pub approved: bool,
}

/// The workplace records a registration refers to, as looked up from the reference lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkplaceRecords {
    pub school: Option<SchoolRecord>,
    pub childcare_provider: Option<ChildcareProviderRecord>,
    pub itt_provider: Option<IttProviderRecord>,
}

/// Registration answers as the front end sends them, before validation. Every field is optional
/// here; [`RegistrationForm::validate`] says which are missing or wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationForm {
    /// The cohort the course starts in, such as `2026b`.
    pub cohort: Option<String>,
    pub course_identifier: Option<String>,
    /// `england`, or `another` with the country in `teacher_catchment_country`.
    pub teacher_catchment: Option<String>,
    pub teacher_catchment_country: Option<String>,
    pub work_setting: Option<String>,
    /// The school, college or local authority nursery school, for those settings.
    pub school_urn: Option<String>,
    pub kind_of_nursery: Option<String>,
    pub private_childcare_provider_urn: Option<String>,
    pub employment_type: Option<String>,
    pub employment_role: Option<String>,
    pub employer_name: Option<String>,
    /// Legal name of a lead mentor's teacher training provider.
    pub itt_provider: Option<String>,
    pub referred_by_return_to_teaching_adviser: Option<bool>,
    /// For the coaching offer: whether the applicant is a headteacher, and whether in their first
    /// five years.
    pub headteacher: Option<bool>,
    pub new_headteacher: Option<bool>,
    pub senco_in_role: Option<String>,
    /// `YYYY-MM-DD`.
    pub senco_start_date: Option<String>,
    /// The payer when DfE does not fund the course: `school`, `trust`, `self` or `another`.
    pub funding_choice: Option<String>,
    /// For the anonymous check only: whether the applicant was funded for this course before.
    /// A registration works it out from the applicant's applications instead.
    pub previously_funded: Option<bool>,
}

/// Validated registration answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationAnswers {
    pub cohort: CohortIdentifier,
    pub course: Course,
    pub works_in_england: bool,
    pub country: Option<String>,
    pub work_setting: WorkSetting,
    pub school_urn: Option<SchoolUrn>,
    pub kind_of_nursery: Option<KindOfNursery>,
    pub private_childcare_provider_urn: Option<OfstedUrn>,
    pub employment_type: Option<EmploymentType>,
    pub employment_role: Option<String>,
    pub employer_name: Option<String>,
    pub itt_provider: Option<String>,
    pub referred_by_return_to_teaching_adviser: bool,
    pub headteacher_status: Option<HeadteacherStatus>,
    pub new_headteacher: bool,
    pub senco_in_role: Option<SencoInRole>,
    pub senco_start_date: Option<NaiveDate>,
    pub funding_choice: Option<FundingChoice>,
    pub previously_funded: bool,
}

/// Maximum length of a name or other free text, in characters.
pub const MAX_TEXT_LENGTH: usize = 200;

/// Maximum length of an email address, in bytes, as the email standards allow.
pub const MAX_EMAIL_LENGTH: usize = 254;

/// Returns whether text holds a control character or an invisible formatting character, such as a
/// right-to-left override, a zero-width space, a line separator or a byte order mark. Two names
/// or addresses that look the same must be the same text.
pub fn has_hidden_characters(text: &str) -> bool {
    text.chars().any(|character| {
        character.is_control()
            || matches!(
                character,
                '\u{00AD}'
                    | '\u{200B}'..='\u{200F}'
                    | '\u{2028}'..='\u{202E}'
                    | '\u{2060}'..='\u{2064}'
                    | '\u{FEFF}'
            )
    })
}

fn field_error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|text| !text.is_empty())
}

fn one_of<T: std::str::FromStr>(
    errors: &mut Vec<FieldError>,
    attribute: &str,
    value: &Option<String>,
    names: &[&str],
    required: bool,
) -> Option<T> {
    match text(value) {
        None => {
            if required {
                errors.push(field_error(attribute, format!("Answer '#/{attribute}': one of {}.", names.join(", "))));
            }
            None
        }
        Some(given) => match given.parse() {
            Ok(parsed) => Some(parsed),
            Err(_) => {
                errors.push(field_error(
                    attribute,
                    format!("'{given}' is not a valid answer for '#/{attribute}': use one of {}.", names.join(", ")),
                ));
                None
            }
        },
    }
}

/// Returns whether an early years kind of setting is a private one, registered with Ofsted.
fn private_nursery(kind: KindOfNursery) -> bool {
    matches!(kind, KindOfNursery::PrivateNursery | KindOfNursery::Childminder | KindOfNursery::AnotherEarlyYearsSetting)
}

impl RegistrationForm {
    /// Checks every answer against the questions' rules and returns the validated answers, or an
    /// error per wrong or missing field. `cohorts` are the cohorts open for registration; `today`
    /// bounds the SENCO start date.
    pub fn validate(&self, cohorts: &[Cohort], today: NaiveDate) -> Result<RegistrationAnswers, Vec<FieldError>> {
        let mut errors = Vec::new();
        let cohort = match text(&self.cohort) {
            None => {
                errors
                    .push(field_error("cohort", "Answer '#/cohort': the cohort the course starts in, such as 2026b."));
                None
            }
            Some(given) => match given.parse::<CohortIdentifier>() {
                Ok(cohort) if cohorts.iter().any(|open| open.identifier == cohort) => Some(cohort),
                _ => {
                    let open: Vec<String> = cohorts.iter().map(|cohort| cohort.identifier.to_string()).collect();
                    errors.push(field_error(
                        "cohort",
                        format!("'{given}' is not a cohort open for registration; open cohorts: {}.", open.join(", ")),
                    ));
                    None
                }
            },
        };
        let offered: Vec<&str> = Course::ALL
            .iter()
            .filter(|course| course.offered_in_registration())
            .map(|course| course.as_str())
            .collect();
        let course = one_of::<Course>(&mut errors, "course_identifier", &self.course_identifier, &offered, true)
            .filter(|course| course.offered_in_registration());
        if course.is_none() && text(&self.course_identifier).is_some_and(|given| given.parse::<Course>().is_ok()) {
            errors.push(field_error("course_identifier", "This course is no longer offered to new applicants."));
        }

        let catchment = one_of::<TeacherCatchment>(
            &mut errors,
            "teacher_catchment",
            &self.teacher_catchment,
            &["england", "another"],
            true,
        );
        let works_in_england = catchment == Some(TeacherCatchment::England);
        let country = text(&self.teacher_catchment_country).map(str::to_owned);
        if catchment.is_some() && !works_in_england && country.is_none() {
            errors.push(field_error(
                "teacher_catchment_country",
                "Answer '#/teacher_catchment_country': the country you work in.",
            ));
        }

        let work_setting =
            one_of::<WorkSetting>(&mut errors, "work_setting", &self.work_setting, WorkSetting::NAMES, true);
        let in_school = matches!(
            work_setting,
            Some(WorkSetting::ASchool | WorkSetting::AnAcademyTrust | WorkSetting::A16To19EducationalSetting)
        );
        let early_years = work_setting == Some(WorkSetting::EarlyYearsOrChildcare);
        let kind_of_nursery = one_of::<KindOfNursery>(
            &mut errors,
            "kind_of_nursery",
            &self.kind_of_nursery,
            KindOfNursery::NAMES,
            works_in_england && early_years,
        );
        let public_nursery = kind_of_nursery.is_some_and(|kind| !private_nursery(kind));
        let school_urn = match text(&self.school_urn) {
            None => {
                if works_in_england && (in_school || (early_years && public_nursery)) {
                    errors.push(field_error(
                        "school_urn",
                        "Answer '#/school_urn': the URN of the school or nursery you work at.",
                    ));
                }
                None
            }
            Some(given) => match given.parse::<SchoolUrn>() {
                Ok(urn) => Some(urn),
                Err(error) => {
                    errors.push(field_error("school_urn", error.to_string()));
                    None
                }
            },
        };
        let private_childcare_provider_urn = match text(&self.private_childcare_provider_urn) {
            None => None,
            Some(given) => match given.parse::<OfstedUrn>() {
                Ok(urn) => Some(urn),
                Err(error) => {
                    errors.push(field_error("private_childcare_provider_urn", error.to_string()));
                    None
                }
            },
        };

        let another_setting = work_setting == Some(WorkSetting::AnotherSetting);
        let employment_type = one_of::<EmploymentType>(
            &mut errors,
            "employment_type",
            &self.employment_type,
            EmploymentType::NAMES,
            works_in_england && another_setting,
        );
        let lead_mentor = employment_type == Some(EmploymentType::LeadMentorForAccreditedIttProvider);
        let itt_provider = text(&self.itt_provider).map(str::to_owned);
        if lead_mentor && itt_provider.is_none() {
            errors.push(field_error(
                "itt_provider",
                "Answer '#/itt_provider': the legal name of your accredited teacher training provider.",
            ));
        }

        let coaching = course == Some(Course::EarlyHeadshipCoachingOffer);
        let headteacher_status = match (coaching, self.headteacher, self.new_headteacher) {
            (false, _, _) => None,
            (true, None, _) => {
                errors.push(field_error("headteacher", "Answer '#/headteacher': whether you are a headteacher."));
                None
            }
            (true, Some(false), _) => Some(HeadteacherStatus::No),
            (true, Some(true), None) => {
                errors.push(field_error(
                    "new_headteacher",
                    "Answer '#/new_headteacher': whether you are in your first five years as a headteacher.",
                ));
                None
            }
            (true, Some(true), Some(true)) => Some(HeadteacherStatus::YesInFirstFiveYears),
            (true, Some(true), Some(false)) => Some(HeadteacherStatus::YesOverFiveYears),
        };
        let new_headteacher = headteacher_status == Some(HeadteacherStatus::YesInFirstFiveYears);

        let senco = course == Some(Course::Senco);
        let senco_in_role =
            one_of::<SencoInRole>(&mut errors, "senco_in_role", &self.senco_in_role, SencoInRole::NAMES, senco)
                .filter(|_| senco);
        let senco_start_date = match (senco_in_role, text(&self.senco_start_date)) {
            (Some(SencoInRole::Yes), None) => {
                errors.push(field_error(
                    "senco_start_date",
                    "Answer '#/senco_start_date': when you became a SENCO, as YYYY-MM-DD.",
                ));
                None
            }
            (Some(SencoInRole::Yes), Some(given)) => match given.parse::<NaiveDate>() {
                Ok(date) if date >= NaiveDate::from_ymd_opt(1960, 1, 1).unwrap_or(NaiveDate::MIN) && date <= today => {
                    Some(date)
                }
                _ => {
                    errors.push(field_error(
                        "senco_start_date",
                        format!("'{given}' is not a date from 1960-01-01 to today in the form YYYY-MM-DD."),
                    ));
                    None
                }
            },
            _ => None,
        };
        let funding_choice =
            one_of::<FundingChoice>(&mut errors, "funding_choice", &self.funding_choice, FundingChoice::NAMES, false);

        for (attribute, value) in [
            ("teacher_catchment_country", &self.teacher_catchment_country),
            ("employment_role", &self.employment_role),
            ("employer_name", &self.employer_name),
            ("itt_provider", &self.itt_provider),
        ] {
            if text(value).is_some_and(|given| given.chars().count() > MAX_TEXT_LENGTH) {
                errors.push(field_error(
                    attribute,
                    format!("'#/{attribute}' is longer than {MAX_TEXT_LENGTH} characters."),
                ));
            }
        }
        match (errors.is_empty(), cohort, course, work_setting) {
            (true, Some(cohort), Some(course), Some(work_setting)) => Ok(RegistrationAnswers {
                cohort,
                course,
                works_in_england,
                country: if works_in_england { None } else { country },
                work_setting,
                school_urn: if works_in_england { school_urn } else { None },
                kind_of_nursery,
                private_childcare_provider_urn: if works_in_england { private_childcare_provider_urn } else { None },
                employment_type,
                employment_role: text(&self.employment_role).map(str::to_owned),
                employer_name: text(&self.employer_name).map(str::to_owned),
                itt_provider,
                referred_by_return_to_teaching_adviser: self.referred_by_return_to_teaching_adviser.unwrap_or(false),
                headteacher_status,
                new_headteacher,
                senco_in_role,
                senco_start_date,
                funding_choice,
                previously_funded: self.previously_funded.unwrap_or(false),
            }),
            _ => Err(errors),
        }
    }
}

impl RegistrationAnswers {
    /// Returns an error for each workplace the answers name that the reference lists do not
    /// contain.
    pub fn check_records(&self, records: &WorkplaceRecords) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(urn) = &self.school_urn
            && records.school.is_none()
        {
            errors.push(field_error("school_urn", format!("No school or college has the URN {urn}.")));
        }
        if let Some(urn) = &self.private_childcare_provider_urn
            && records.childcare_provider.is_none()
        {
            errors.push(field_error(
                "private_childcare_provider_urn",
                format!("No childcare provider registered with Ofsted has the URN {urn}."),
            ));
        }
        if let Some(name) = &self.itt_provider
            && records.itt_provider.is_none()
        {
            errors.push(field_error("itt_provider", format!("No teacher training provider is named '{name}'.")));
        }
        errors
    }

    /// Decides funding eligibility for these answers in a cohort with this funding, given the
    /// workplace records and whether the applicant was funded for the course before.
    pub fn eligibility(
        &self,
        funding: FundingRegime,
        records: &WorkplaceRecords,
        previously_funded: bool,
    ) -> EligibilityDecision {
        let workplace = match (&records.school, &records.childcare_provider) {
            (Some(school), _) => Some(Workplace::School {
                establishment_type: school.establishment_type,
                on_rise_list: school.on_rise_list,
                on_pp50_list: school.on_pp50_list,
            }),
            (None, Some(provider)) => {
                Some(Workplace::PrivateChildcareProvider { on_childminder_list: provider.on_childminder_list })
            }
            (None, None) => None,
        };
        decide_eligibility(&EligibilityAnswers {
            cohort_funding: funding,
            course: self.course,
            works_in_england: self.works_in_england,
            work_setting: Some(self.work_setting),
            kind_of_nursery: self.kind_of_nursery,
            workplace,
            employment_type: self.employment_type,
            new_headteacher: self.new_headteacher,
            itt_provider_approved: records.itt_provider.as_ref().is_some_and(|provider| provider.approved),
            referred_by_return_to_teaching_adviser: self.referred_by_return_to_teaching_adviser,
            previously_funded,
        })
    }
}

/// The applicant's personal details, as the registration front end sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicantForm {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub trn: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
}

/// Validated personal details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    pub full_name: String,
    /// Lower-cased, so one address always finds one account.
    pub email: String,
    pub trn: Option<Trn>,
    pub date_of_birth: Option<NaiveDate>,
}

impl ApplicantForm {
    /// Checks the personal details and returns them, or an error per wrong or missing field.
    pub fn validate(&self, today: NaiveDate) -> Result<Applicant, Vec<FieldError>> {
        let mut errors = Vec::new();
        let full_name = text(&self.full_name).map(str::to_owned);
        match &full_name {
            None => errors.push(field_error("full_name", "Give the applicant's full name in '#/full_name'.")),
            Some(name) if name.chars().count() > MAX_TEXT_LENGTH => errors
                .push(field_error("full_name", format!("'#/full_name' is longer than {MAX_TEXT_LENGTH} characters."))),
            Some(name) if has_hidden_characters(name) => errors.push(field_error(
                "full_name",
                "'#/full_name' must not contain control or invisible formatting characters.",
            )),
            Some(_) => {}
        }
        let email = text(&self.email).map(str::to_lowercase);
        let email_valid = email.as_deref().is_some_and(|email| {
            let mut parts = email.split('@');
            let (local, domain) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            parts.next().is_none()
                && !local.is_empty()
                && !local.contains('"')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !email.contains(char::is_whitespace)
                && !has_hidden_characters(email)
                && email.len() <= MAX_EMAIL_LENGTH
        });
        if !email_valid {
            errors.push(field_error("email", "Give a valid email address in '#/email', such as name@example.com."));
        }
        let trn = match text(&self.trn) {
            None => None,
            Some(given) => match given.parse::<Trn>() {
                Ok(trn) => Some(trn),
                Err(error) => {
                    errors.push(field_error("trn", error.to_string()));
                    None
                }
            },
        };
        let date_of_birth = match text(&self.date_of_birth) {
            None => None,
            Some(given) => match given.parse::<NaiveDate>() {
                Ok(date) if date < today && date >= NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN) => {
                    Some(date)
                }
                _ => {
                    errors.push(field_error(
                        "date_of_birth",
                        format!("'{given}' is not a date from 1900-01-01 to yesterday in the form YYYY-MM-DD."),
                    ));
                    None
                }
            },
        };
        match (errors.is_empty(), full_name, email) {
            (true, Some(full_name), Some(email)) => Ok(Applicant { full_name, email, trn, date_of_birth }),
            _ => Err(errors),
        }
    }
}

/// Returns the ISO 3166-1 alpha-3 code of a country named in English, for the countries
/// applicants name most often; `None` for any other name.
pub fn country_code(name: &str) -> Option<CountryCode> {
    const COUNTRIES: [(&str, &str); 40] = [
        ("united kingdom", "GBR"),
        ("united kingdom of great britain and northern ireland", "GBR"),
        ("ireland", "IRL"),
        ("france", "FRA"),
        ("spain", "ESP"),
        ("portugal", "PRT"),
        ("germany", "DEU"),
        ("italy", "ITA"),
        ("netherlands", "NLD"),
        ("belgium", "BEL"),
        ("switzerland", "CHE"),
        ("austria", "AUT"),
        ("poland", "POL"),
        ("greece", "GRC"),
        ("cyprus", "CYP"),
        ("malta", "MLT"),
        ("sweden", "SWE"),
        ("norway", "NOR"),
        ("denmark", "DNK"),
        ("finland", "FIN"),
        ("united states", "USA"),
        ("united states of america", "USA"),
        ("canada", "CAN"),
        ("australia", "AUS"),
        ("new zealand", "NZL"),
        ("south africa", "ZAF"),
        ("india", "IND"),
        ("pakistan", "PAK"),
        ("china", "CHN"),
        ("hong kong", "HKG"),
        ("singapore", "SGP"),
        ("japan", "JPN"),
        ("united arab emirates", "ARE"),
        ("qatar", "QAT"),
        ("saudi arabia", "SAU"),
        ("egypt", "EGY"),
        ("nigeria", "NGA"),
        ("kenya", "KEN"),
        ("brazil", "BRA"),
        ("mexico", "MEX"),
    ];
    let wanted = name.trim().to_lowercase();
    COUNTRIES.iter().find(|(country, _)| *country == wanted).and_then(|(_, code)| code.parse().ok())
}

/// Builds the pending application a registration creates, from validated answers, the workplace
/// records, the eligibility decision and the chosen lead provider.
pub fn new_application(
    answers: &RegistrationAnswers,
    person: &Person,
    cohort: &Cohort,
    lead_provider: LeadProviderId,
    records: &WorkplaceRecords,
    decision: &EligibilityDecision,
    now: Timestamp,
) -> Application {
    let lead_mentor = answers.employment_type == Some(EmploymentType::LeadMentorForAccreditedIttProvider);
    let another_setting = answers.work_setting == WorkSetting::AnotherSetting;
    let (catchment, country, country_code_value) = if answers.works_in_england {
        (
            TeacherCatchment::England,
            Some("United Kingdom of Great Britain and Northern Ireland".to_owned()),
            "GBR".parse().ok(),
        )
    } else {
        let country = answers.country.clone();
        let code = country.as_deref().and_then(country_code);
        (TeacherCatchment::Another, country, code)
    };
    Application {
        id: ApplicationId::new_random(),
        participant_id: person.participant_id,
        lead_provider_id: lead_provider,
        cohort: cohort.identifier,
        course: answers.course,
        schedule: None,
        status: ApplicationStatus::Pending,
        training_status: None,
        reason_for_rejection: None,
        accepted_at: None,
        eligible_for_funding: decision.eligible,
        funding_eligibility_status_code: Some(decision.status_code),
        funding_choice: if decision.eligible { None } else { answers.funding_choice },
        funded_place: (cohort.funding == FundingRegime::Zero).then_some(false),
        targeted_delivery_funding_eligibility: decision.targeted_delivery_funding,
        works_in_school: Some(matches!(
            answers.work_setting,
            WorkSetting::ASchool | WorkSetting::AnAcademyTrust | WorkSetting::A16To19EducationalSetting
        )),
        works_in_childcare: Some(answers.work_setting == WorkSetting::EarlyYearsOrChildcare),
        work_setting: Some(answers.work_setting),
        kind_of_nursery: answers.kind_of_nursery,
        employment_type: answers.employment_type.filter(|_| another_setting || lead_mentor),
        employment_role: answers.employment_role.clone().filter(|_| another_setting && !lead_mentor),
        employer_name: if answers.referred_by_return_to_teaching_adviser {
            Some("Return to teaching adviser referral".to_owned())
        } else {
            answers.employer_name.clone().filter(|_| another_setting && !lead_mentor)
        },
        headteacher_status: answers.headteacher_status,
        school_urn: records.school.as_ref().map(|school| school.urn.clone()),
        ukprn: records.school.as_ref().and_then(|school| school.ukprn.clone()),
        private_childcare_provider_urn: records.childcare_provider.as_ref().map(|provider| provider.urn.clone()),
        itt_provider: records.itt_provider.as_ref().map(|provider| provider.legal_name.clone()).filter(|_| lead_mentor),
        lead_mentor,
        teacher_catchment: Some(catchment),
        teacher_catchment_country: country,
        teacher_catchment_iso_country_code: country_code_value,
        senco_in_role: answers.senco_in_role,
        senco_start_date: answers.senco_start_date,
        created_at: now,
        updated_at: now,
    }
}

/// Builds a new person from validated personal details.
pub fn new_person(applicant: &Applicant, now: Timestamp) -> Person {
    Person {
        participant_id: ParticipantId::new_random(),
        trn: applicant.trn.clone(),
        trn_verified: false,
        full_name: applicant.full_name.clone(),
        previous_names: Vec::new(),
        email: Some(applicant.email.clone()),
        date_of_birth: applicant.date_of_birth,
        created_at: now,
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::FundingEligibilityStatusCode as Code;
    use crate::error::DomainError;
    use crate::listing::ApplicationQuery;
    use crate::ports::ApplicationRepository;
    use crate::service::RegistrationService;
    use crate::testing::{FixedClock, MemoryStore, block_on, lead_provider};
    use chrono::TimeZone;
    use std::sync::Arc;

    fn now() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).single().unwrap_or_default()
    }

    fn store() -> Arc<MemoryStore> {
        let mut store = MemoryStore::with_reference_data(vec![lead_provider("Teach First")]);
        store.schools = vec![
            SchoolRecord {
                urn: "100001".parse().unwrap(),
                name: "Hillside Primary School".to_owned(),
                ukprn: "10012345".parse().ok(),
                establishment_type: 1,
                on_rise_list: false,
                on_pp50_list: false,
            },
            SchoolRecord {
                urn: "140002".parse().unwrap(),
                name: "Castle Independent School".to_owned(),
                ukprn: None,
                establishment_type: 11,
                on_rise_list: false,
                on_pp50_list: false,
            },
        ];
        Arc::new(store)
    }

    fn service(store: &Arc<MemoryStore>) -> RegistrationService<Arc<MemoryStore>, FixedClock> {
        RegistrationService::new(store.clone(), FixedClock(now()))
    }

    fn headteacher() -> RegistrationForm {
        RegistrationForm {
            cohort: Some("2026b".to_owned()),
            course_identifier: Some("npq-headship".to_owned()),
            teacher_catchment: Some("england".to_owned()),
            work_setting: Some("a_school".to_owned()),
            school_urn: Some("100001".to_owned()),
            ..RegistrationForm::default()
        }
    }

    fn applicant() -> ApplicantForm {
        ApplicantForm {
            full_name: Some("Rowan Example".to_owned()),
            email: Some("Rowan@Example.com".to_owned()),
            trn: Some("3456789".to_owned()),
            date_of_birth: Some("1985-04-02".to_owned()),
        }
    }

    fn attributes(result: Result<EligibilityDecision, DomainError>) -> Vec<String> {
        match result {
            Err(DomainError::Invalid(errors)) => errors.into_iter().map(|error| error.attribute).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_state_school_headteacher_in_england_is_funded() {
        let decided = block_on(service(&store()).check(&headteacher())).unwrap();
        assert_eq!(decided.status_code, Code::Funded);
        assert!(decided.eligible);
    }

    #[test]
    fn an_overseas_applicant_is_not_funded() {
        let form = RegistrationForm {
            teacher_catchment: Some("another".to_owned()),
            teacher_catchment_country: Some("Spain".to_owned()),
            work_setting: Some("a_school".to_owned()),
            school_urn: None,
            ..headteacher()
        };
        let decided = block_on(service(&store()).check(&form)).unwrap();
        assert_eq!(decided.status_code, Code::NotInEngland);
        assert!(decided.explanation.contains("England"), "{}", decided.explanation);
    }

    #[test]
    fn a_previously_funded_applicant_is_not_funded_again() {
        let form = RegistrationForm { previously_funded: Some(true), ..headteacher() };
        let decided = block_on(service(&store()).check(&form)).unwrap();
        assert_eq!(decided.status_code, Code::PreviouslyFunded);
    }

    #[test]
    fn an_independent_school_teacher_is_told_why() {
        let form = RegistrationForm { school_urn: Some("140002".to_owned()), ..headteacher() };
        let decided = block_on(service(&store()).check(&form)).unwrap();
        assert_eq!(decided.status_code, Code::IneligibleEstablishmentType);
        assert!(!decided.explanation.is_empty());
    }

    #[test]
    fn bad_answers_name_each_wrong_field() {
        let form = RegistrationForm {
            cohort: Some("2019".to_owned()),
            course_identifier: Some("npq-cooking".to_owned()),
            teacher_catchment: Some("mars".to_owned()),
            work_setting: None,
            ..RegistrationForm::default()
        };
        let titles = attributes(block_on(service(&store()).check(&form)));
        assert_eq!(titles, ["cohort", "course_identifier", "teacher_catchment", "work_setting"]);
        let unknown_school = RegistrationForm { school_urn: Some("999999".to_owned()), ..headteacher() };
        assert_eq!(attributes(block_on(service(&store()).check(&unknown_school))), ["school_urn"]);
    }

    #[test]
    fn registering_creates_a_pending_application_the_provider_lists() {
        let store = store();
        let provider = store.providers[0].id;
        let service = service(&store);
        let form = RegistrationForm { funding_choice: None, ..headteacher() };
        let (view, created) =
            block_on(service.register(&applicant(), &form, Some(&provider.to_string()), Some("key-1".to_owned())))
                .unwrap();
        assert!(created);
        assert_eq!(view.application.status, ApplicationStatus::Pending);
        assert!(view.eligible_for_funding, "the same decision the check gave");
        assert_eq!(view.person.email.as_deref(), Some("rowan@example.com"));
        let listed = block_on(store.list_applications(provider, &ApplicationQuery::default())).unwrap();
        assert_eq!(listed.len(), 1);

        let (again, created) =
            block_on(service.register(&applicant(), &form, Some(&provider.to_string()), Some("key-1".to_owned())))
                .unwrap();
        assert!(!created);
        assert_eq!(again.application.id, view.application.id);
        assert_eq!(block_on(store.list_applications(provider, &ApplicationQuery::default())).unwrap().len(), 1);
    }

    #[test]
    fn an_unfunded_registration_must_say_who_pays() {
        let store = store();
        let provider = store.providers[0].id.to_string();
        let service = service(&store);
        let form = RegistrationForm { school_urn: Some("140002".to_owned()), ..headteacher() };
        let refused = block_on(service.register(&applicant(), &form, Some(&provider), None)).unwrap_err();
        assert!(matches!(refused, DomainError::Invalid(ref errors) if errors[0].attribute == "funding_choice"));
        let self_funded = RegistrationForm { funding_choice: Some("self".to_owned()), ..form };
        let (view, _) = block_on(service.register(&applicant(), &self_funded, Some(&provider), None)).unwrap();
        assert_eq!(view.application.funding_choice, Some(FundingChoice::SelfFunded));
        assert!(!view.eligible_for_funding);
        assert_eq!(view.application.funded_place, None);
    }

    #[test]
    fn personal_details_are_checked_field_by_field() {
        let form = ApplicantForm {
            full_name: None,
            email: Some("not-an-address".to_owned()),
            trn: Some("12".to_owned()),
            date_of_birth: Some("2999-01-01".to_owned()),
        };
        let errors = form.validate(now().date_naive()).unwrap_err();
        let attributes: Vec<&str> = errors.iter().map(|error| error.attribute.as_str()).collect();
        assert_eq!(attributes, ["full_name", "email", "trn", "date_of_birth"]);
    }

    #[test]
    fn addresses_names_and_dates_are_checked_strictly() {
        let today = now().date_naive();
        let with = |email: &str, name: &str, date_of_birth: &str| ApplicantForm {
            full_name: Some(name.to_owned()),
            email: Some(email.to_owned()),
            trn: None,
            date_of_birth: Some(date_of_birth.to_owned()),
        };
        for email in [
            "a@b.c@d.e",
            "a@b.",
            "\"quoted\"@b.co",
            "c\u{202e}tl@example.com",
            &format!("{}@example.com", "x".repeat(300)),
        ] {
            let errors = with(email, "Sam", "1980-01-01").validate(today).unwrap_err();
            assert_eq!(errors[0].attribute, "email", "{email}");
        }
        let errors = with("sam@example.com", "Sam\u{feff}", "1980-01-01").validate(today).unwrap_err();
        assert_eq!(errors[0].attribute, "full_name");
        let errors = with("sam@example.com", "Sam", "1899-12-31").validate(today).unwrap_err();
        assert_eq!(errors[0].attribute, "date_of_birth");
        assert!(with("sam.o'neil@example.co.uk", "Sam O'Neil", "1980-01-01").validate(today).is_ok());
    }

    #[test]
    fn overseas_countries_get_their_code() {
        assert_eq!(country_code("Spain").map(|code| code.as_str().to_owned()), Some("ESP".to_owned()));
        assert_eq!(country_code("Atlantis"), None);
    }
}
