//! Sandbox data: the real lead provider organisations, cohorts 2021 to 2026 with their funding
//! regimes, every course's schedules, delivery partners, and invented applicants.
//!
//! Everything is generated from one seed number, so the same seed gives the same data, ids
//! included. No applicant is a real person: names are random pairings of common first names and
//! surnames, and every address is at example.com.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use npq_domain::StoreError;
use npq_domain::application::{
    Application, ApplicationStatus, EmploymentType, FundingChoice, FundingEligibilityStatusCode, HeadteacherStatus,
    KindOfNursery, ReasonForRejection, SencoInRole, TeacherCatchment, TrainingStatus, WorkSetting,
};
use npq_domain::cohort::{Cohort, CohortIdentifier, FundingRegime};
use npq_domain::course::{Course, CourseGroup};
use npq_domain::ids::{ApplicationId, DeliveryPartnerId, LeadProviderId, ParticipantId};
use npq_domain::person::Person;
use npq_domain::provider::{DeliveryPartner, DeliveryPartnership, LEAD_PROVIDER_NAMES, LeadProvider};
use npq_domain::schedule::{Schedule, ScheduleIdentifier, standard_schedules};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Store;

/// Seed number used when none is given.
pub const DEFAULT_SEED: u64 = 2026;
/// Applications created on first start and by `seed` without `--applications`.
pub const DEFAULT_APPLICATIONS: usize = 2_000;

/// Reference data: what applications refer to.
#[derive(Debug, Clone)]
pub struct ReferenceData {
    pub cohorts: Vec<Cohort>,
    pub lead_providers: Vec<LeadProvider>,
    pub delivery_partners: Vec<DeliveryPartner>,
    pub partnerships: Vec<DeliveryPartnership>,
    pub schedules: Vec<Schedule>,
}

/// Invented applicants and their applications.
#[derive(Debug, Clone)]
pub struct Applicants {
    pub people: Vec<Person>,
    pub applications: Vec<Application>,
}

/// Counts of what [`seed`] inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSummary {
    pub reference_data_created: bool,
    pub people: usize,
    pub applications: usize,
    pub declarations: usize,
}

fn utc(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 9, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn random_uuid(rng: &mut ChaCha8Rng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// Returns the latest instant sandbox timestamps reach, so that data generated on any day is the same.
fn data_horizon() -> DateTime<Utc> {
    utc(2026, 11, 30)
}

fn cohort(identifier: &str, description: &str, registration_start: DateTime<Utc>, funding: FundingRegime) -> Cohort {
    Cohort {
        // The identifiers below are literals within the valid range.
        identifier: identifier.parse().unwrap_or_else(|_| CohortIdentifier::new(2021, 'a').expect("2021a is valid")),
        description: description.to_owned(),
        registration_start_date: registration_start,
        funding,
    }
}

const DELIVERY_PARTNER_PLACES: [&str; 24] = [
    "Ashgrove",
    "Brookvale",
    "Castlemere",
    "Dunmore",
    "Eastbrook",
    "Fernhill",
    "Greystone",
    "Harbourside",
    "Ivybridge Vale",
    "Juniper Fields",
    "Kingsmere",
    "Larchwood",
    "Meadowbank",
    "Northfield",
    "Oakwood",
    "Pennine Edge",
    "Queensgate",
    "Riverside",
    "Stonebridge",
    "Thornbury Vale",
    "Upperton",
    "Valley Park",
    "Westgate",
    "Willowmead",
];
const DELIVERY_PARTNER_KINDS: [&str; 3] = ["Teaching School Hub", "Learning Trust", "Education Partnership"];

/// Builds the reference data for `seed`.
pub fn reference_data(seed: u64) -> ReferenceData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let created = utc(2021, 1, 4);
    let cohorts = vec![
        cohort("2021a", "2021 to 2023", utc(2021, 4, 3), FundingRegime::Full),
        cohort("2022a", "2022 to 2024", utc(2022, 4, 3), FundingRegime::Full),
        cohort("2023a", "2023 to 2025", utc(2023, 4, 3), FundingRegime::Full),
        cohort("2024a", "2024 to 2026", utc(2024, 4, 3), FundingRegime::Capped),
        cohort("2025a", "2025 to 2027", utc(2025, 4, 3), FundingRegime::Capped),
        cohort("2026a", "Spring 2026 (no scholarship funding)", utc(2026, 1, 5), FundingRegime::Zero),
        cohort("2026b", "Autumn 2026 to 2028", utc(2026, 4, 1), FundingRegime::Capped),
    ];
    let lead_providers: Vec<LeadProvider> = LEAD_PROVIDER_NAMES
        .iter()
        .map(|name| LeadProvider {
            id: LeadProviderId::from_uuid(random_uuid(&mut rng)),
            name: (*name).to_owned(),
            created_at: created,
            updated_at: created,
        })
        .collect();
    let delivery_partners: Vec<DeliveryPartner> = DELIVERY_PARTNER_PLACES
        .iter()
        .enumerate()
        .map(|(index, place)| DeliveryPartner {
            id: DeliveryPartnerId::from_uuid(random_uuid(&mut rng)),
            name: format!("{place} {}", DELIVERY_PARTNER_KINDS[index % DELIVERY_PARTNER_KINDS.len()]),
            created_at: created,
            updated_at: created,
        })
        .collect();
    let mut partnerships = Vec::new();
    for provider in &lead_providers {
        for cohort in &cohorts {
            let count = rng.random_range(3..=5);
            for partner in delivery_partners.choose_multiple(&mut rng, count) {
                partnerships.push(DeliveryPartnership {
                    lead_provider: provider.id,
                    delivery_partner: partner.id,
                    cohort: cohort.identifier,
                });
            }
        }
    }
    let schedules = cohorts.iter().flat_map(|cohort| standard_schedules(cohort.identifier)).collect();
    ReferenceData { cohorts, lead_providers, delivery_partners, partnerships, schedules }
}

const FIRST_NAMES: [&str; 40] = [
    "Aisha", "Ben", "Chloe", "Daniel", "Eleanor", "Farhan", "Grace", "Harry", "Imogen", "Jack", "Kiran", "Laura",
    "Mohammed", "Niamh", "Oliver", "Priya", "Quentin", "Rebecca", "Samuel", "Tariq", "Ursula", "Vikram", "Wendy",
    "Xavier", "Yasmin", "Zoe", "Amelia", "Callum", "Deborah", "Ewan", "Fatima", "George", "Hannah", "Isaac", "Joanna",
    "Liam", "Megan", "Nathan", "Olivia", "Rhys",
];
const SURNAMES: [&str; 40] = [
    "Adams",
    "Begum",
    "Clarke",
    "Davies",
    "Evans",
    "Fletcher",
    "Green",
    "Hughes",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Morgan",
    "Nowak",
    "Owen",
    "Patel",
    "Quinn",
    "Roberts",
    "Smith",
    "Taylor",
    "Underwood",
    "Vaughan",
    "Walker",
    "Xu",
    "Young",
    "Zaman",
    "Ahmed",
    "Brown",
    "Campbell",
    "Dixon",
    "Ellis",
    "Foster",
    "Gill",
    "Harris",
    "Jackson",
    "Kelly",
    "Mitchell",
    "Nelson",
    "Okafor",
    "Price",
];
const OVERSEAS: [(&str, &str); 6] = [
    ("France", "FRA"),
    ("Spain", "ESP"),
    ("United Arab Emirates", "ARE"),
    ("Ireland", "IRL"),
    ("Kenya", "KEN"),
    ("Singapore", "SGP"),
];
const UNITED_KINGDOM: &str = "United Kingdom of Great Britain and Northern Ireland";

/// Cohorts weighted by how many applications they hold: recent cohorts are larger.
const COHORT_WEIGHTS: [(&str, u32); 7] =
    [("2021a", 6), ("2022a", 10), ("2023a", 14), ("2024a", 18), ("2025a", 22), ("2026a", 8), ("2026b", 22)];

fn pick_cohort(rng: &mut ChaCha8Rng, reference: &ReferenceData) -> Cohort {
    let total: u32 = COHORT_WEIGHTS.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.random_range(0..total);
    for (identifier, weight) in COHORT_WEIGHTS {
        if roll < weight
            && let Some(cohort) = reference.cohorts.iter().find(|cohort| cohort.identifier.to_string() == identifier)
        {
            return cohort.clone();
        }
        roll = roll.saturating_sub(weight);
    }
    reference.cohorts[reference.cohorts.len() - 1].clone()
}

fn pick_course(rng: &mut ChaCha8Rng, cohort: &Cohort) -> Course {
    let courses: Vec<Course> = Course::ALL
        .iter()
        .copied()
        .filter(|course| match course.group() {
            // The additional support offer ran only in 2021; its successor started in 2022.
            CourseGroup::Support => cohort.identifier.start_year() == 2021,
            CourseGroup::Ehco => cohort.identifier.start_year() >= 2022,
            _ => true,
        })
        .collect();
    *courses.choose(rng).unwrap_or(&Course::Headship)
}

fn schedule_for(rng: &mut ChaCha8Rng, course: Course) -> ScheduleIdentifier {
    use ScheduleIdentifier::*;
    let choices: &[ScheduleIdentifier] = match course.group() {
        CourseGroup::Leadership => &[LeadershipAutumn, LeadershipSpring],
        CourseGroup::Specialist => &[SpecialistAutumn, SpecialistSpring],
        CourseGroup::Ehco => &[EhcoNovember, EhcoDecember, EhcoMarch, EhcoJune],
        CourseGroup::Support => &[AsoDecember],
    };
    *choices.choose(rng).unwrap_or(&choices[0])
}

fn instant_between(rng: &mut ChaCha8Rng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_seconds().max(1);
    from + Duration::seconds(rng.random_range(0..span))
}

/// Generates applicants and their applications: about `applications` of them, spread over lead
/// providers, cohorts, courses, statuses and training statuses, funded and not, inside and
/// outside England, including people who applied to two providers for one course and cohort.
pub fn applicants(reference: &ReferenceData, applications: usize, seed: u64) -> Applicants {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0a99);
    let trn_offset = rng.random_range(0..9_000_000);
    let mut generated =
        Applicants { people: Vec::with_capacity(applications), applications: Vec::with_capacity(applications + 1) };
    while generated.applications.len() < applications {
        let cohort = pick_cohort(&mut rng, reference);
        let window_start = cohort.registration_start_date;
        let window_end = (window_start + Duration::days(200)).min(data_horizon());
        let person_created = instant_between(&mut rng, window_start, window_end);
        let person = invented_person(&mut rng, generated.people.len(), trn_offset, person_created);

        let course = pick_course(&mut rng, &cohort);
        let provider = reference
            .lead_providers
            .choose(&mut rng)
            .map(|provider| provider.id)
            .unwrap_or_else(LeadProviderId::new_random);
        let mut first = invented_application(&mut rng, &person, provider, &cohort, course, window_end);

        // About one applicant in ten also applied to a second provider for the same course and cohort.
        if rng.random_bool(0.1) && generated.applications.len() + 1 < applications {
            let others: Vec<LeadProviderId> =
                reference.lead_providers.iter().map(|p| p.id).filter(|id| *id != provider).collect();
            if let Some(other) = others.choose(&mut rng) {
                let mut second = invented_application(&mut rng, &person, *other, &cohort, course, window_end);
                settle_siblings(&mut rng, cohort.funding, &mut first, &mut second);
                generated.applications.push(second);
            }
        }
        generated.applications.push(first);
        generated.people.push(person);
    }
    generated.applications.sort_by_key(|application| (application.created_at, application.id));
    generated.applications.truncate(applications);
    generated
}

/// Makes two applications of one person for one course and cohort consistent: at most one is
/// accepted, and then the other was rejected because of it.
fn settle_siblings(rng: &mut ChaCha8Rng, funding: FundingRegime, first: &mut Application, second: &mut Application) {
    if second.status == ApplicationStatus::Accepted
        && (first.status != ApplicationStatus::Accepted || rng.random_bool(0.5))
    {
        std::mem::swap(first, second);
    }
    if first.status != ApplicationStatus::Accepted {
        return;
    }
    // Accepting the first rejected the second, whatever state it was in.
    second.status = ApplicationStatus::Rejected;
    second.reason_for_rejection = Some(ReasonForRejection::OtherApplicationInThisCohortAccepted);
    second.accepted_at = None;
    second.schedule = None;
    second.training_status = None;
    // Only accepted applications have a funded place, except in unfunded cohorts where it is always false.
    second.funded_place = (funding == FundingRegime::Zero).then_some(false);
}

fn invented_person(rng: &mut ChaCha8Rng, index: usize, trn_offset: u64, created_at: DateTime<Utc>) -> Person {
    let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Alex");
    let last = SURNAMES.choose(rng).copied().unwrap_or("Smith");
    let has_trn = rng.random_bool(0.95);
    // A random number would give two sandbox people the same TRN now and then. Stepping by a
    // prime that does not divide the range gives every index its own seven-digit TRN.
    let trn_number = 1_000_000 + (index as u64 * 7_919 + trn_offset) % 9_000_000;
    let birth =
        NaiveDate::from_ymd_opt(rng.random_range(1965..=1998), rng.random_range(1..=12), rng.random_range(1..=28));
    Person {
        participant_id: ParticipantId::from_uuid(random_uuid(rng)),
        trn: if has_trn { trn_number.to_string().parse().ok() } else { None },
        trn_verified: has_trn && rng.random_bool(0.9),
        full_name: format!("{first} {last}"),
        previous_names: Vec::new(),
        // One address in fifty was blanked because a later account reused it.
        email: if rng.random_bool(0.98) {
            Some(format!("{}.{}.{index}@example.com", first.to_lowercase(), last.to_lowercase()))
        } else {
            None
        },
        date_of_birth: birth,
        created_at,
        updated_at: created_at,
    }
}

fn invented_application(
    rng: &mut ChaCha8Rng,
    person: &Person,
    lead_provider_id: LeadProviderId,
    cohort: &Cohort,
    course: Course,
    window_end: DateTime<Utc>,
) -> Application {
    let created_at = instant_between(rng, person.created_at, window_end.max(person.created_at + Duration::hours(1)));
    let updated_at = instant_between(
        rng,
        created_at,
        (created_at + Duration::days(60)).min(data_horizon()).max(created_at + Duration::minutes(1)),
    );

    // Where the applicant works.
    let in_england = rng.random_bool(0.92);
    let (catchment, country, iso_code) = if in_england {
        (TeacherCatchment::England, Some(UNITED_KINGDOM.to_owned()), Some("GBR"))
    } else if cohort.identifier.start_year() <= 2022 && rng.random_bool(0.3) {
        let nation = [TeacherCatchment::Scotland, TeacherCatchment::Wales, TeacherCatchment::NorthernIreland]
            .choose(rng)
            .copied();
        (nation.unwrap_or(TeacherCatchment::Wales), Some(UNITED_KINGDOM.to_owned()), Some("GBR"))
    } else {
        let (name, code) = OVERSEAS.choose(rng).copied().unwrap_or(("France", "FRA"));
        (TeacherCatchment::Another, Some(name.to_owned()), Some(code))
    };
    let setting_roll = rng.random_range(0..100);
    let work_setting = match setting_roll {
        0..70 => WorkSetting::ASchool,
        70..80 => WorkSetting::AnAcademyTrust,
        80..84 => WorkSetting::A16To19EducationalSetting,
        84..92 => WorkSetting::EarlyYearsOrChildcare,
        92..97 => WorkSetting::AnotherSetting,
        _ => WorkSetting::Other,
    };
    let in_school = matches!(
        work_setting,
        WorkSetting::ASchool | WorkSetting::AnAcademyTrust | WorkSetting::A16To19EducationalSetting
    );
    let kind_of_nursery = (work_setting == WorkSetting::EarlyYearsOrChildcare)
        .then(|| *KindOfNursery::ALL.choose(rng).unwrap_or(&KindOfNursery::PrivateNursery));
    let employment_type = (work_setting == WorkSetting::AnotherSetting)
        .then(|| *EmploymentType::ALL.choose(rng).unwrap_or(&EmploymentType::HospitalSchool));
    let lead_mentor = employment_type == Some(EmploymentType::LeadMentorForAccreditedIttProvider);
    let england_school = in_england && in_school;
    let private_nursery = in_england
        && matches!(
            kind_of_nursery,
            Some(KindOfNursery::PrivateNursery | KindOfNursery::Childminder | KindOfNursery::AnotherEarlyYearsSetting)
        );

    // Funding eligibility, decided when the application was submitted.
    let status_code = if !cohort.funding.is_funded() {
        FundingEligibilityStatusCode::UnfundedCohort
    } else if catchment != TeacherCatchment::England {
        FundingEligibilityStatusCode::NotInEngland
    } else if rng.random_bool(0.8) {
        FundingEligibilityStatusCode::Funded
    } else if course.funded_for_schools_only_on_pp50_list() && in_school {
        FundingEligibilityStatusCode::IneligibleEstablishmentNotAPp50
    } else {
        FundingEligibilityStatusCode::IneligibleEstablishmentType
    };
    let eligible_for_funding = status_code == FundingEligibilityStatusCode::Funded;
    let funding_choice = (!eligible_for_funding).then(|| {
        *[FundingChoice::School, FundingChoice::Trust, FundingChoice::SelfFunded, FundingChoice::Another]
            .choose(rng)
            .unwrap_or(&FundingChoice::School)
    });

    // The lead provider's decision. Older cohorts are mostly decided; the newest is mostly pending.
    let pending_share = if cohort.identifier.to_string() == "2026b" { 0.45 } else { 0.04 };
    let status = if rng.random_bool(pending_share) {
        ApplicationStatus::Pending
    } else if rng.random_bool(0.75) {
        ApplicationStatus::Accepted
    } else {
        ApplicationStatus::Rejected
    };
    // Some rejected applications had been accepted first.
    let was_accepted =
        status == ApplicationStatus::Accepted || (status == ApplicationStatus::Rejected && rng.random_bool(0.15));
    let accepted_at = was_accepted.then(|| instant_between(rng, created_at, updated_at));
    let reason_for_rejection = (status == ApplicationStatus::Rejected).then(|| {
        if !was_accepted && cohort.identifier.start_year() <= 2024 && rng.random_bool(0.3) {
            ReasonForRejection::RegistrationExpired
        } else {
            ReasonForRejection::RejectedByProvider
        }
    });
    let training_status = was_accepted.then(|| match rng.random_range(0..10) {
        0 => TrainingStatus::Deferred,
        1 => TrainingStatus::Withdrawn,
        _ => TrainingStatus::Active,
    });
    let funded_place = match cohort.funding {
        FundingRegime::Zero => Some(false),
        FundingRegime::Full => None,
        FundingRegime::Capped if was_accepted => Some(eligible_for_funding && rng.random_bool(0.85)),
        FundingRegime::Capped => None,
    };
    let senco_in_role = (course == Course::Senco).then(|| *SencoInRole::ALL.choose(rng).unwrap_or(&SencoInRole::Yes));
    let senco_start_date = (senco_in_role == Some(SencoInRole::Yes))
        .then(|| NaiveDate::from_ymd_opt(rng.random_range(2015..=2025), rng.random_range(1..=12), 1))
        .flatten();
    let headteacher_status = (course.group() == CourseGroup::Ehco).then(|| {
        *[HeadteacherStatus::YesInFirstFiveYears, HeadteacherStatus::YesOverFiveYears, HeadteacherStatus::No]
            .choose(rng)
            .unwrap_or(&HeadteacherStatus::No)
    });

    Application {
        id: ApplicationId::from_uuid(random_uuid(rng)),
        participant_id: person.participant_id,
        lead_provider_id,
        cohort: cohort.identifier,
        course,
        schedule: was_accepted.then(|| schedule_for(rng, course)),
        status,
        training_status,
        reason_for_rejection,
        accepted_at,
        eligible_for_funding,
        funding_eligibility_status_code: Some(status_code),
        funding_choice,
        funded_place,
        targeted_delivery_funding_eligibility: eligible_for_funding
            && cohort.identifier.start_year() <= 2024
            && rng.random_bool(0.1),
        works_in_school: Some(in_school),
        works_in_childcare: Some(work_setting == WorkSetting::EarlyYearsOrChildcare),
        work_setting: Some(work_setting),
        kind_of_nursery,
        employment_type,
        employment_role: employment_type
            .filter(|kind| *kind == EmploymentType::LocalAuthoritySupplyTeacher)
            .map(|_| "Supply teacher".to_owned()),
        employer_name: employment_type
            .filter(|kind| *kind == EmploymentType::LocalAuthoritySupplyTeacher)
            .map(|_| "Example County Council".to_owned()),
        headteacher_status,
        school_urn: england_school.then(|| format!("{}", rng.random_range(100_000..=149_999)).parse().ok()).flatten(),
        ukprn: (england_school && rng.random_bool(0.6))
            .then(|| format!("{}", rng.random_range(10_000_000..=10_099_999)).parse().ok())
            .flatten(),
        private_childcare_provider_urn: private_nursery
            .then(|| format!("EY{}", rng.random_range(100_000..=999_999)).parse().ok())
            .flatten(),
        itt_provider: lead_mentor.then(|| "Northfield School-Centred Initial Teacher Training".to_owned()),
        lead_mentor,
        teacher_catchment: Some(catchment),
        teacher_catchment_country: country,
        teacher_catchment_iso_country_code: iso_code.and_then(|code| code.parse().ok()),
        senco_in_role,
        senco_start_date,
        created_at,
        updated_at,
    }
}

/// Seeds `store`: the reference data and sandbox statements when no lead provider exists yet,
/// then about `applications` invented applications with declarations in every state when no
/// applicant exists yet. Running it again changes nothing.
pub async fn seed(store: &Store, applications: usize, seed: u64) -> Result<SeedSummary, StoreError> {
    let reference = reference_data(seed);
    let reference_data_created = store.count_lead_providers().await? == 0;
    if reference_data_created {
        store.insert_reference_data(&reference).await?;
    }
    if store.count_schools().await? == 0 {
        let (schools, childcare_providers, itt_providers) = crate::reference_lists::sandbox_lists();
        store.import_schools(&schools).await?;
        store.import_childcare_providers(&childcare_providers).await?;
        store.import_itt_providers(&itt_providers).await?;
    }
    let today = Utc::now().date_naive();
    if reference_data_created {
        let lead_providers = npq_domain::ports::LeadProviderRepository::list_lead_providers(store).await?;
        let (statements, contracts) =
            crate::sandbox_statements::sandbox_statements(&lead_providers, &reference.cohorts, today);
        store.insert_statements(&statements, &contracts).await?;
    }
    if store.count_people().await? > 0 || applications == 0 {
        return Ok(SeedSummary { reference_data_created, people: 0, applications: 0, declarations: 0 });
    }
    // The stored reference data may come from another seed number: use the stored providers.
    let mut reference = reference;
    reference.lead_providers = npq_domain::ports::LeadProviderRepository::list_lead_providers(store).await?;
    let generated = applicants(&reference, applications, seed);
    store.insert_people(&generated.people).await?;
    store.insert_applications(&generated.applications).await?;
    let declarations = store.seed_declarations(today, generated.applications.len()).await?;
    Ok(SeedSummary {
        reference_data_created,
        people: generated.people.len(),
        applications: generated.applications.len(),
        declarations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn same_seed_gives_the_same_data() {
        let reference = reference_data(7);
        let first = applicants(&reference, 500, 7);
        let second = applicants(&reference_data(7), 500, 7);
        assert_eq!(first.applications, second.applications);
        assert_eq!(first.people, second.people);
    }

    #[test]
    fn generates_the_requested_number_of_applications() {
        let reference = reference_data(1);
        assert_eq!(applicants(&reference, 1234, 1).applications.len(), 1234);
    }

    #[test]
    fn sandbox_covers_every_status_and_training_status() {
        let generated = applicants(&reference_data(3), 3000, 3);
        for status in ApplicationStatus::ALL {
            assert!(generated.applications.iter().any(|application| application.status == *status), "{status}");
        }
        for training_status in TrainingStatus::ALL {
            assert!(
                generated.applications.iter().any(|application| application.training_status == Some(*training_status)),
                "{training_status}"
            );
        }
        assert!(
            generated
                .applications
                .iter()
                .any(|application| application.teacher_catchment == Some(TeacherCatchment::Another))
        );
        assert!(
            generated
                .applications
                .iter()
                .any(|application| application.funding_choice == Some(FundingChoice::SelfFunded))
        );
        assert!(generated.applications.iter().any(|application| application.funded_place == Some(true)));
    }

    #[test]
    fn sandbox_has_two_provider_applicants() {
        let generated = applicants(&reference_data(3), 3000, 3);
        let mut providers: HashMap<_, Vec<LeadProviderId>> = HashMap::new();
        for application in &generated.applications {
            providers
                .entry((application.participant_id, application.course, application.cohort))
                .or_default()
                .push(application.lead_provider_id);
        }
        assert!(providers.values().any(|ids| ids.len() == 2 && ids[0] != ids[1]));
    }

    #[test]
    fn sandbox_obeys_the_funding_and_schedule_rules() {
        let reference = reference_data(5);
        let generated = applicants(&reference, 5000, 5);
        let funding: HashMap<_, _> =
            reference.cohorts.iter().map(|cohort| (cohort.identifier, cohort.funding)).collect();
        let mut accepted = HashMap::new();
        for application in &generated.applications {
            match funding[&application.cohort] {
                FundingRegime::Zero => assert_eq!(application.funded_place, Some(false)),
                FundingRegime::Full => assert_eq!(application.funded_place, None),
                FundingRegime::Capped => {
                    if application.status == ApplicationStatus::Accepted {
                        assert!(application.funded_place.is_some());
                    }
                    if application.funded_place == Some(true) {
                        assert!(application.eligible_for_funding);
                    }
                }
            }
            if application.status == ApplicationStatus::Accepted {
                let schedule = application.schedule.expect("accepted applications have a schedule");
                assert_eq!(schedule.course_group(), application.course.group());
                assert!(reference.schedules.iter().any(|s| s.cohort == application.cohort && s.identifier == schedule));
                assert!(application.training_status.is_some());
                let previous = accepted
                    .insert((application.participant_id, application.course, application.cohort), application.id);
                assert!(previous.is_none(), "two accepted applications for one course and cohort");
            }
            if application.status == ApplicationStatus::Pending {
                assert_eq!(application.schedule, None);
                assert_eq!(application.training_status, None);
            }
            assert!(application.created_at <= application.updated_at);
            assert!(application.updated_at <= data_horizon());
        }
    }
}
