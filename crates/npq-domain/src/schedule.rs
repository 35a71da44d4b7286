//! Schedules: when a course runs in a cohort and which declarations it allows.

use chrono::{Datelike, NaiveDate};

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

/// Returns the schedule an accepted application follows when the lead provider names none: the
/// usual schedule for the course group, the cohort and the day of acceptance, provided the cohort
/// has it (`available` lists the cohort's schedules). `None` means no schedule can be chosen.
///
/// Leadership and specialist courses start in autumn or spring: cohort 2026a in spring and 2026b
/// in autumn; cohort 2025 in autumn when accepted from 1 August 2025 to 30 April 2026 and in spring
/// when accepted from 28 June 2024 to 6 June 2025; cohort 2024 in autumn when accepted from 28 June
/// 2024 to 6 June 2025; otherwise in spring when accepted from 26 December to 2 April and in
/// autumn from 3 April to 25 December. The coaching offer starts in the month band of the day of
/// acceptance (cohorts before 2022 and 2026a have one coaching schedule), and the support offer
/// in December.
pub fn default_schedule(
    cohort: CohortIdentifier,
    group: CourseGroup,
    today: NaiveDate,
    available: &[ScheduleIdentifier],
) -> Option<ScheduleIdentifier> {
    use ScheduleIdentifier::*;

    let year = i32::from(cohort.start_year());
    let (autumn, spring) = match group {
        CourseGroup::Leadership => (LeadershipAutumn, LeadershipSpring),
        CourseGroup::Specialist => (SpecialistAutumn, SpecialistSpring),
        CourseGroup::Ehco => {
            let single = cohort.start_year() < 2022 || cohort == CohortIdentifier::new(2026, 'a').ok()?;
            if single {
                let coaching: Vec<_> =
                    available.iter().copied().filter(|schedule| schedule.course_group() == CourseGroup::Ehco).collect();
                return match coaching.as_slice() {
                    [only] => Some(*only),
                    _ => coaching.into_iter().find(|schedule| *schedule == EhcoJune),
                };
            }
            let chosen = if (date(year, 9, 1)..=date(year, 11, 30)).contains(&today) {
                EhcoNovember
            } else if (date(year, 12, 1)..date(year + 1, 3, 1)).contains(&today) {
                EhcoDecember
            } else if (date(year + 1, 3, 1)..=date(year + 1, 5, 31)).contains(&today) {
                EhcoMarch
            } else {
                EhcoJune
            };
            return available.contains(&chosen).then_some(chosen);
        }
        CourseGroup::Support => return available.contains(&AsoDecember).then_some(AsoDecember),
    };
    let in_range = |from: NaiveDate, to: NaiveDate| (from..=to).contains(&today);
    let today_year = today.year();
    let cohort_2026 = |suffix| CohortIdentifier::new(2026, suffix).ok() == Some(cohort);
    let spring_term = in_range(date(today_year, 1, 1), date(today_year, 4, 2))
        || in_range(date(today_year, 12, 26), date(today_year, 12, 31));
    // The first rule that applies decides; the calendar decides when none does.
    let rules = [
        (cohort_2026('a'), true),
        (cohort_2026('b'), false),
        (year == 2025 && in_range(date(2025, 8, 1), date(2026, 4, 30)), false),
        (year == 2025 && in_range(date(2024, 6, 28), date(2025, 6, 6)), true),
        (year == 2024 && in_range(date(2024, 6, 28), date(2025, 6, 6)), false),
    ];
    let starts_in_spring = rules.iter().find(|(applies, _)| *applies).map_or(spring_term, |(_, spring)| *spring);
    let chosen = if starts_in_spring { spring } else { autumn };
    available.contains(&chosen).then_some(chosen)
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

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn default_for(cohort: &str, group: CourseGroup, today: &str) -> Option<ScheduleIdentifier> {
        let cohort: CohortIdentifier = cohort.parse().unwrap();
        let available: Vec<_> = standard_schedules(cohort).into_iter().map(|schedule| schedule.identifier).collect();
        default_schedule(cohort, group, day(today), &available)
    }

    #[test]
    fn cohort_2025_starts_in_autumn_when_accepted_in_its_academic_year() {
        assert_eq!(
            default_for("2025", CourseGroup::Leadership, "2025-09-08"),
            Some(ScheduleIdentifier::LeadershipAutumn)
        );
        assert_eq!(
            default_for("2025", CourseGroup::Specialist, "2026-01-31"),
            Some(ScheduleIdentifier::SpecialistAutumn)
        );
        assert_eq!(
            default_for("2025", CourseGroup::Leadership, "2025-03-01"),
            Some(ScheduleIdentifier::LeadershipSpring)
        );
    }

    #[test]
    fn cohorts_2026a_and_2026b_start_in_spring_and_autumn() {
        for today in ["2026-07-01", "2027-02-01"] {
            assert_eq!(
                default_for("2026a", CourseGroup::Leadership, today),
                Some(ScheduleIdentifier::LeadershipSpring)
            );
            assert_eq!(
                default_for("2026b", CourseGroup::Leadership, today),
                Some(ScheduleIdentifier::LeadershipAutumn)
            );
        }
    }

    #[test]
    fn other_cohorts_follow_the_calendar() {
        assert_eq!(
            default_for("2023", CourseGroup::Leadership, "2023-04-02"),
            Some(ScheduleIdentifier::LeadershipSpring)
        );
        assert_eq!(
            default_for("2023", CourseGroup::Leadership, "2023-12-31"),
            Some(ScheduleIdentifier::LeadershipSpring)
        );
        assert_eq!(
            default_for("2023", CourseGroup::Leadership, "2023-12-25"),
            Some(ScheduleIdentifier::LeadershipAutumn)
        );
        assert_eq!(
            default_for("2024", CourseGroup::Leadership, "2024-07-01"),
            Some(ScheduleIdentifier::LeadershipAutumn)
        );
    }

    #[test]
    fn coaching_offer_starts_in_the_month_band_of_acceptance() {
        assert_eq!(default_for("2023", CourseGroup::Ehco, "2023-10-15"), Some(ScheduleIdentifier::EhcoNovember));
        assert_eq!(default_for("2023", CourseGroup::Ehco, "2024-02-29"), Some(ScheduleIdentifier::EhcoDecember));
        assert_eq!(default_for("2023", CourseGroup::Ehco, "2024-04-01"), Some(ScheduleIdentifier::EhcoMarch));
        assert_eq!(default_for("2023", CourseGroup::Ehco, "2024-07-01"), Some(ScheduleIdentifier::EhcoJune));
        assert_eq!(default_for("2023", CourseGroup::Ehco, "2026-01-01"), Some(ScheduleIdentifier::EhcoJune));
        assert_eq!(default_for("2021", CourseGroup::Ehco, "2021-10-01"), Some(ScheduleIdentifier::EhcoJune));
    }

    #[test]
    fn support_offer_starts_in_december_and_only_where_the_cohort_has_it() {
        assert_eq!(default_for("2021", CourseGroup::Support, "2021-10-01"), Some(ScheduleIdentifier::AsoDecember));
        assert_eq!(default_for("2023", CourseGroup::Support, "2023-10-01"), None);
    }

    proptest! {
        /// The default is always a schedule of the cohort and of the course group asked for.
        #[test]
        fn default_schedule_belongs_to_the_cohort_and_group(year in FIRST_START_YEAR..=LAST_START_YEAR, suffix in proptest::char::range('a', 'b'),
                                                           group in proptest::sample::select(CourseGroup::ALL), days in 0i64..3650) {
            let cohort = CohortIdentifier::new(year, suffix).unwrap();
            let available: Vec<_> = standard_schedules(cohort).into_iter().map(|schedule| schedule.identifier).collect();
            let today = day("2021-01-01") + chrono::Duration::days(days);
            if let Some(schedule) = default_schedule(cohort, group, today, &available) {
                prop_assert!(available.contains(&schedule));
                prop_assert_eq!(schedule.course_group(), group);
            } else {
                prop_assert_eq!(group, CourseGroup::Support);
            }
        }

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
