//! Schedules: when a course runs in a cohort and which declarations it allows.

use chrono::NaiveDate;

use crate::cohort::CohortIdentifier;
use crate::course::CourseGroup;

text_enum!(
    /// A milestone a lead provider declares to be paid for.
    DeclarationType, "declaration type" {
        Started => "started",
        RetainedOne => "retained-1",
        RetainedTwo => "retained-2",
        Completed => "completed",
    }
);

text_enum!(
    /// A schedule's identifier, unique within a cohort.
    ScheduleIdentifier, "schedule identifier" {
        LeadershipAutumn => "npq-leadership-autumn",
        LeadershipSpring => "npq-leadership-spring",
        SpecialistAutumn => "npq-specialist-autumn",
        SpecialistSpring => "npq-specialist-spring",
        EhcoNovember => "npq-ehco-november",
        EhcoDecember => "npq-ehco-december",
        EhcoMarch => "npq-ehco-march",
        EhcoJune => "npq-ehco-june",
        AsoNovember => "npq-aso-november",
        AsoDecember => "npq-aso-december",
        AsoMarch => "npq-aso-march",
        AsoJune => "npq-aso-june",
    }
);

impl ScheduleIdentifier {
    /// Returns the course group the schedule serves.
    pub const fn course_group(self) -> CourseGroup {
        match self {
            Self::LeadershipAutumn | Self::LeadershipSpring => CourseGroup::Leadership,
            Self::SpecialistAutumn | Self::SpecialistSpring => CourseGroup::Specialist,
            Self::EhcoNovember | Self::EhcoDecember | Self::EhcoMarch | Self::EhcoJune => CourseGroup::Ehco,
            Self::AsoNovember | Self::AsoDecember | Self::AsoMarch | Self::AsoJune => CourseGroup::Support,
        }
    }
}

/// A schedule of one cohort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub cohort: CohortIdentifier,
    pub identifier: ScheduleIdentifier,
    pub name: String,
    /// First day of the schedule; declarations must not be dated before it.
    pub applies_from: NaiveDate,
    /// Last day of the schedule.
    pub applies_to: NaiveDate,
    /// Declaration types the schedule allows, in milestone order.
    pub allowed_declaration_types: Vec<DeclarationType>,
}

impl Schedule {
    /// Returns the course group the schedule serves.
    pub const fn course_group(&self) -> CourseGroup {
        self.identifier.course_group()
    }
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    // The callers below pass fixed, valid calendar dates, so construction cannot fail.
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
}

/// Builds the usual schedules of a cohort, with the dates DfE normally publishes. For start year Y,
/// leadership and specialist autumn schedules run from 1 October to 31 December Y, and spring ones
/// from 1 January to 31 March Y+1. Coaching-offer schedules start in November, December, March and
/// June. The additional support offer ran only in 2021. Specialist schedules have no `retained-2`.
///
/// DfE staff manage real schedule dates; this is the starting set for new cohorts and sandboxes.
pub fn standard_schedules(cohort: CohortIdentifier) -> Vec<Schedule> {
    use DeclarationType::*;
    use ScheduleIdentifier::*;

    let year = i32::from(cohort.start_year());
    let all_types = vec![Started, RetainedOne, RetainedTwo, Completed];
    let without_retained_two = vec![Started, RetainedOne, Completed];
    let make =
        |identifier: ScheduleIdentifier, name: &str, from: NaiveDate, to: NaiveDate, types: &Vec<DeclarationType>| {
            Schedule {
                cohort,
                identifier,
                name: name.to_owned(),
                applies_from: from,
                applies_to: to,
                allowed_declaration_types: types.clone(),
            }
        };

    let mut schedules = vec![
        make(LeadershipAutumn, "NPQ Leadership Autumn", date(year, 10, 1), date(year, 12, 31), &all_types),
        make(LeadershipSpring, "NPQ Leadership Spring", date(year + 1, 1, 1), date(year + 1, 3, 31), &all_types),
        make(SpecialistAutumn, "NPQ Specialist Autumn", date(year, 10, 1), date(year, 12, 31), &without_retained_two),
        make(
            SpecialistSpring,
            "NPQ Specialist Spring",
            date(year + 1, 1, 1),
            date(year + 1, 3, 31),
            &without_retained_two,
        ),
        make(EhcoNovember, "NPQ EHCO November", date(year, 11, 1), date(year, 11, 30), &all_types),
        make(EhcoDecember, "NPQ EHCO December", date(year, 12, 1), date(year, 12, 31), &all_types),
        make(EhcoMarch, "NPQ EHCO March", date(year + 1, 3, 1), date(year + 1, 5, 31), &all_types),
        make(EhcoJune, "NPQ EHCO June", date(year + 1, 6, 1), date(year + 1, 10, 31), &all_types),
    ];
    if year == 2021 {
        schedules.extend([
            make(AsoNovember, "NPQ ASO November", date(year, 11, 1), date(year, 11, 30), &all_types),
            make(AsoDecember, "NPQ ASO December", date(year, 12, 1), date(year, 12, 31), &all_types),
            make(AsoMarch, "NPQ ASO March", date(year + 1, 3, 1), date(year + 1, 5, 31), &all_types),
            make(AsoJune, "NPQ ASO June", date(year + 1, 6, 1), date(year + 1, 10, 31), &all_types),
        ]);
    }
    schedules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::{FIRST_START_YEAR, LAST_START_YEAR};
    use proptest::prelude::*;

    #[test]
    fn support_schedules_exist_only_in_2021() {
        let in_2021 = standard_schedules("2021".parse().unwrap());
        let in_2022 = standard_schedules("2022".parse().unwrap());
        assert!(in_2021.iter().any(|schedule| schedule.course_group() == CourseGroup::Support));
        assert!(!in_2022.iter().any(|schedule| schedule.course_group() == CourseGroup::Support));
    }

    #[test]
    fn specialist_schedules_have_no_retained_two() {
        for schedule in standard_schedules("2024".parse().unwrap()) {
            let has_retained_two = schedule.allowed_declaration_types.contains(&DeclarationType::RetainedTwo);
            assert_eq!(has_retained_two, schedule.course_group() != CourseGroup::Specialist, "{}", schedule.identifier);
        }
    }

    proptest! {
        #[test]
        fn standard_schedules_are_well_formed(year in FIRST_START_YEAR..=LAST_START_YEAR, suffix in proptest::char::range('a', 'c')) {
            let cohort = CohortIdentifier::new(year, suffix).unwrap();
            let schedules = standard_schedules(cohort);
            let mut identifiers: Vec<_> = schedules.iter().map(|schedule| schedule.identifier).collect();
            identifiers.sort();
            identifiers.dedup();
            prop_assert_eq!(identifiers.len(), schedules.len(), "identifiers are unique within a cohort");
            for schedule in &schedules {
                prop_assert!(schedule.applies_from <= schedule.applies_to);
                prop_assert_eq!(schedule.cohort, cohort);
                prop_assert_eq!(schedule.allowed_declaration_types.first(), Some(&DeclarationType::Started));
                prop_assert_eq!(schedule.allowed_declaration_types.last(), Some(&DeclarationType::Completed));
            }
        }
    }
}
