//! Funding eligibility: whether DfE funds an applicant's course, decided from their registration
//! answers, with a plain-English explanation.
//!
//! The decision is one pure function, [`decide_eligibility`]. It takes the facts about the
//! applicant's workplace as already looked up (establishment type, membership of the RISE, PP50
//! and childminder lists), so it needs no reference data of its own.

use crate::application::{EmploymentType, FundingEligibilityStatusCode, KindOfNursery, WorkSetting};
use crate::cohort::FundingRegime;
use crate::course::Course;

/// Establishment type codes (as published in Get Information about Schools) whose staff DfE
/// funds: community, voluntary and foundation schools, special schools, pupil referral units,
/// local authority nursery schools, further education, secure units, service children's
/// education, academies, free schools, university technical colleges, studio schools, sixth-form
/// centres and 16 to 19 institutions.
pub const ELIGIBLE_ESTABLISHMENT_TYPES: [u16; 30] =
    [1, 2, 3, 5, 6, 7, 8, 10, 12, 14, 15, 18, 24, 26, 28, 31, 32, 33, 34, 35, 36, 38, 39, 40, 41, 42, 43, 44, 45, 46];

/// The establishment type code of a local authority nursery school.
pub const LOCAL_AUTHORITY_NURSERY_SCHOOL: u16 = 15;

/// Facts about the school or childcare provider an applicant works at, as looked up from the
/// reference lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workplace {
    /// A school, college or nursery school with an establishment type code.
    School {
        establishment_type: u16,
        /// Whether it is on the list of schools in the RISE programme, whose staff are funded
        /// for every course.
        on_rise_list: bool,
        /// Whether it is on the PP50 list: the schools (by URN) or further education providers
        /// (by UKPRN) with the most pupils eligible for the pupil premium.
        on_pp50_list: bool,
    },
    /// A private childcare provider registered with Ofsted.
    PrivateChildcareProvider {
        /// Whether it is a childminder on the list of childminders whose staff are funded.
        on_childminder_list: bool,
    },
}

/// The registration answers and facts that decide funding eligibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EligibilityAnswers {
    pub cohort_funding: FundingRegime,
    pub course: Course,
    /// Whether the applicant works in England.
    pub works_in_england: bool,
    pub work_setting: Option<WorkSetting>,
    pub kind_of_nursery: Option<KindOfNursery>,
    pub workplace: Option<Workplace>,
    pub employment_type: Option<EmploymentType>,
    /// For the early headship coaching offer: whether the applicant is a headteacher in their
    /// first five years.
    pub new_headteacher: bool,
    /// For lead mentors: whether their initial teacher training provider is currently accredited.
    pub itt_provider_approved: bool,
    pub referred_by_return_to_teaching_adviser: bool,
    /// Whether an accepted, funded application of the person for the same or an equivalent course
    /// already exists.
    pub previously_funded: bool,
}

/// The outcome of a funding eligibility check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityDecision {
    /// Whether DfE funds the course.
    pub eligible: bool,
    pub status_code: FundingEligibilityStatusCode,
    /// Whether the targeted delivery funding uplift applies. It is always false: the registration
    /// rules give the uplift to no new application.
    pub targeted_delivery_funding: bool,
    /// Whether DfE will review the application before deciding.
    pub needs_review: bool,
    /// Why, in plain English, for the applicant.
    pub explanation: String,
}

fn decision(code: FundingEligibilityStatusCode, explanation: impl Into<String>) -> EligibilityDecision {
    EligibilityDecision {
        eligible: code == FundingEligibilityStatusCode::Funded,
        status_code: code,
        targeted_delivery_funding: false,
        needs_review: matches!(
            code,
            FundingEligibilityStatusCode::SubjectToReview
                | FundingEligibilityStatusCode::ReferredByReturnToTeachingAdviser
        ),
        explanation: explanation.into(),
    }
}

/// Decides whether DfE funds the course. The first rule that applies decides:
///
/// 1. a cohort without funding funds nobody;
/// 2. only people working in England are funded;
/// 3. a person funded for the course before is not funded again;
/// 4. the early headship coaching offer is funded for headteachers in their first five years;
/// 5. otherwise the work setting decides: see the early years, school, other setting and other
///    rules below.
pub fn decide_eligibility(answers: &EligibilityAnswers) -> EligibilityDecision {
    use FundingEligibilityStatusCode as Code;

    let course = answers.course.name();
    if !answers.cohort_funding.is_funded() {
        return decision(Code::UnfundedCohort, "DfE does not fund places in this cohort.");
    }
    if !answers.works_in_england {
        return decision(Code::NotInEngland, "DfE funds NPQs only for people who work in England.");
    }
    if answers.previously_funded {
        return decision(
            Code::PreviouslyFunded,
            format!("DfE has already funded a place for you on the {course}, so it does not fund another."),
        );
    }
    if answers.course == Course::EarlyHeadshipCoachingOffer {
        return if answers.new_headteacher {
            decision(Code::Funded, "DfE funds the coaching offer for headteachers in their first five years.")
        } else {
            decision(
                Code::NotNewHeadteacherRequestingEhco,
                "DfE funds the coaching offer only for headteachers in their first five years of headship.",
            )
        };
    }
    match answers.work_setting {
        Some(WorkSetting::EarlyYearsOrChildcare) => early_years(answers),
        Some(WorkSetting::ASchool | WorkSetting::AnAcademyTrust | WorkSetting::A16To19EducationalSetting) => {
            school(answers)
        }
        Some(WorkSetting::AnotherSetting) => another_setting(answers),
        Some(WorkSetting::Other) => {
            if answers.referred_by_return_to_teaching_adviser {
                decision(
                    Code::ReferredByReturnToTeachingAdviser,
                    "DfE will review your funding because a return to teaching adviser referred you.",
                )
            } else {
                decision(
                    Code::IneligibleEstablishmentType,
                    "DfE does not fund NPQs for people who work in this setting.",
                )
            }
        }
        None => decision(Code::IneligibleEstablishmentType, "Where you work decides funding, and it was not given."),
    }
}

/// Early years: the early years leadership course is funded unless the applicant is a childminder
/// who is not on the childminders list; staff of local authority nursery schools are funded for
/// headship, senior leadership and SENCO; nothing else is funded.
fn early_years(answers: &EligibilityAnswers) -> EligibilityDecision {
    use FundingEligibilityStatusCode as Code;

    if answers.course == Course::EarlyYearsLeadership {
        let childminder_not_listed = answers.kind_of_nursery == Some(KindOfNursery::Childminder)
            && !matches!(answers.workplace, Some(Workplace::PrivateChildcareProvider { on_childminder_list: true }));
        return if childminder_not_listed {
            decision(
                Code::NotEntitledChildminder,
                "DfE funds the early years leadership course for childminders only on its list of eligible childminders.",
            )
        } else {
            decision(Code::Funded, "DfE funds the early years leadership course for people working in early years.")
        };
    }
    let la_nursery =
        matches!(answers.workplace, Some(Workplace::School { establishment_type: LOCAL_AUTHORITY_NURSERY_SCHOOL, .. }));
    if la_nursery && answers.course.funded_for_local_authority_nurseries() {
        return decision(Code::Funded, "DfE funds this course for staff of local authority nursery schools.");
    }
    decision(
        Code::EarlyYearsInvalidNpq,
        "In early years settings DfE funds the early years leadership course, and headship, senior leadership and SENCO only in local authority nursery schools.",
    )
}

/// Schools and colleges: everyone in a RISE school; otherwise only eligible establishment types,
/// where the early years leadership course and the leadership courses are funded, and the
/// specialist and executive courses only on the PP50 list.
fn school(answers: &EligibilityAnswers) -> EligibilityDecision {
    use FundingEligibilityStatusCode as Code;

    let Some(Workplace::School { establishment_type, on_rise_list, on_pp50_list }) = answers.workplace else {
        return decision(Code::IneligibleEstablishmentType, "Choose the school or college you work at.");
    };
    if on_rise_list {
        return decision(Code::Funded, "DfE funds every NPQ for staff of schools in the RISE programme.");
    }
    if !ELIGIBLE_ESTABLISHMENT_TYPES.contains(&establishment_type) {
        return decision(
            Code::IneligibleEstablishmentType,
            "DfE does not fund NPQs for staff of this kind of establishment.",
        );
    }
    if answers.course == Course::EarlyYearsLeadership {
        return decision(Code::Funded, "DfE funds the early years leadership course for school staff.");
    }
    if answers.course.funded_for_schools_only_on_pp50_list() {
        return if on_pp50_list {
            decision(Code::Funded, "DfE funds this course for staff of schools on the PP50 list.")
        } else {
            decision(
                Code::IneligibleEstablishmentNotAPp50,
                "DfE funds this course only for staff of the schools with the most pupils eligible for the pupil premium (the PP50 list).",
            )
        };
    }
    decision(Code::Funded, "DfE funds this course for staff of state-funded schools and colleges.")
}

/// Other settings: lead mentors of accredited teacher training providers are funded for leading
/// teacher development; staff of virtual schools, hospital schools, young offender institutions
/// and supply teachers are reviewed for headship, senior leadership and SENCO.
fn another_setting(answers: &EligibilityAnswers) -> EligibilityDecision {
    use FundingEligibilityStatusCode as Code;

    if answers.employment_type == Some(EmploymentType::LeadMentorForAccreditedIttProvider) {
        return match (answers.course, answers.itt_provider_approved) {
            (Course::LeadingTeachingDevelopment, true) => decision(
                Code::Funded,
                "DfE funds leading teacher development for lead mentors of accredited providers.",
            ),
            (Course::LeadingTeachingDevelopment, false) => decision(
                Code::IneligibleEstablishmentType,
                "DfE funds lead mentors only when their teacher training provider is accredited.",
            ),
            _ => decision(Code::NotLeadMentorCourse, "DfE funds lead mentors only for leading teacher development."),
        };
    }
    let reviewed_employment = matches!(
        answers.employment_type,
        Some(
            EmploymentType::LocalAuthorityVirtualSchool
                | EmploymentType::HospitalSchool
                | EmploymentType::YoungOffenderInstitution
                | EmploymentType::LocalAuthoritySupplyTeacher
        )
    );
    let reviewed_course = matches!(answers.course, Course::Headship | Course::Senco | Course::SeniorLeadership);
    if reviewed_employment && reviewed_course {
        return decision(Code::SubjectToReview, "DfE will review whether it funds this course for your role.");
    }
    decision(Code::IneligibleEstablishmentType, "DfE does not fund this course for people who work in this setting.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use FundingEligibilityStatusCode as Code;
    use proptest::prelude::*;

    fn school_answers(course: Course) -> EligibilityAnswers {
        EligibilityAnswers {
            cohort_funding: FundingRegime::Capped,
            course,
            works_in_england: true,
            work_setting: Some(WorkSetting::ASchool),
            kind_of_nursery: None,
            workplace: Some(Workplace::School { establishment_type: 1, on_rise_list: false, on_pp50_list: false }),
            employment_type: None,
            new_headteacher: false,
            itt_provider_approved: false,
            referred_by_return_to_teaching_adviser: false,
            previously_funded: false,
        }
    }

    /// Each row: a change to a school headship applicant's answers, and the code it must give.
    #[test]
    fn each_rule_gives_its_code() {
        type Change = fn(&mut EligibilityAnswers);
        let rows: Vec<(&str, Change, Code)> = vec![
            ("a state-school headteacher in England", |_| {}, Code::Funded),
            ("an unfunded cohort", |a| a.cohort_funding = FundingRegime::Zero, Code::UnfundedCohort),
            ("an overseas applicant", |a| a.works_in_england = false, Code::NotInEngland),
            ("a previously funded applicant", |a| a.previously_funded = true, Code::PreviouslyFunded),
            (
                "a new headteacher on the coaching offer",
                |a| {
                    a.course = Course::EarlyHeadshipCoachingOffer;
                    a.new_headteacher = true;
                },
                Code::Funded,
            ),
            (
                "an established headteacher on the coaching offer",
                |a| a.course = Course::EarlyHeadshipCoachingOffer,
                Code::NotNewHeadteacherRequestingEhco,
            ),
            (
                "an ineligible establishment type",
                |a| {
                    a.workplace =
                        Some(Workplace::School { establishment_type: 11, on_rise_list: false, on_pp50_list: false })
                },
                Code::IneligibleEstablishmentType,
            ),
            (
                "a RISE school of an ineligible type",
                |a| {
                    a.workplace =
                        Some(Workplace::School { establishment_type: 11, on_rise_list: true, on_pp50_list: false })
                },
                Code::Funded,
            ),
            (
                "a PP50-only course outside the list",
                |a| a.course = Course::LeadingLiteracy,
                Code::IneligibleEstablishmentNotAPp50,
            ),
            (
                "a PP50-only course on the list",
                |a| {
                    a.course = Course::LeadingLiteracy;
                    a.workplace =
                        Some(Workplace::School { establishment_type: 1, on_rise_list: false, on_pp50_list: true });
                },
                Code::Funded,
            ),
            ("early years leadership in a school", |a| a.course = Course::EarlyYearsLeadership, Code::Funded),
            ("no school chosen", |a| a.workplace = None, Code::IneligibleEstablishmentType),
            (
                "a childminder not on the list",
                |a| {
                    a.work_setting = Some(WorkSetting::EarlyYearsOrChildcare);
                    a.course = Course::EarlyYearsLeadership;
                    a.kind_of_nursery = Some(KindOfNursery::Childminder);
                    a.workplace = Some(Workplace::PrivateChildcareProvider { on_childminder_list: false });
                },
                Code::NotEntitledChildminder,
            ),
            (
                "a listed childminder",
                |a| {
                    a.work_setting = Some(WorkSetting::EarlyYearsOrChildcare);
                    a.course = Course::EarlyYearsLeadership;
                    a.kind_of_nursery = Some(KindOfNursery::Childminder);
                    a.workplace = Some(Workplace::PrivateChildcareProvider { on_childminder_list: true });
                },
                Code::Funded,
            ),
            (
                "a private nursery on early years leadership",
                |a| {
                    a.work_setting = Some(WorkSetting::EarlyYearsOrChildcare);
                    a.course = Course::EarlyYearsLeadership;
                    a.kind_of_nursery = Some(KindOfNursery::PrivateNursery);
                    a.workplace = Some(Workplace::PrivateChildcareProvider { on_childminder_list: false });
                },
                Code::Funded,
            ),
            (
                "headship in a local authority nursery school",
                |a| {
                    a.work_setting = Some(WorkSetting::EarlyYearsOrChildcare);
                    a.kind_of_nursery = Some(KindOfNursery::LocalAuthorityMaintainedNursery);
                    a.workplace =
                        Some(Workplace::School { establishment_type: 15, on_rise_list: false, on_pp50_list: false });
                },
                Code::Funded,
            ),
            (
                "leading literacy in a local authority nursery school",
                |a| {
                    a.work_setting = Some(WorkSetting::EarlyYearsOrChildcare);
                    a.course = Course::LeadingLiteracy;
                    a.workplace =
                        Some(Workplace::School { establishment_type: 15, on_rise_list: false, on_pp50_list: true });
                },
                Code::EarlyYearsInvalidNpq,
            ),
            (
                "a lead mentor of an accredited provider on leading teacher development",
                |a| {
                    a.work_setting = Some(WorkSetting::AnotherSetting);
                    a.employment_type = Some(EmploymentType::LeadMentorForAccreditedIttProvider);
                    a.course = Course::LeadingTeachingDevelopment;
                    a.itt_provider_approved = true;
                },
                Code::Funded,
            ),
            (
                "a lead mentor of a provider that is not accredited",
                |a| {
                    a.work_setting = Some(WorkSetting::AnotherSetting);
                    a.employment_type = Some(EmploymentType::LeadMentorForAccreditedIttProvider);
                    a.course = Course::LeadingTeachingDevelopment;
                },
                Code::IneligibleEstablishmentType,
            ),
            (
                "a lead mentor on another course",
                |a| {
                    a.work_setting = Some(WorkSetting::AnotherSetting);
                    a.employment_type = Some(EmploymentType::LeadMentorForAccreditedIttProvider);
                },
                Code::NotLeadMentorCourse,
            ),
            (
                "a hospital school teacher on headship",
                |a| {
                    a.work_setting = Some(WorkSetting::AnotherSetting);
                    a.employment_type = Some(EmploymentType::HospitalSchool);
                },
                Code::SubjectToReview,
            ),
            (
                "a supply teacher on leading literacy",
                |a| {
                    a.work_setting = Some(WorkSetting::AnotherSetting);
                    a.employment_type = Some(EmploymentType::LocalAuthoritySupplyTeacher);
                    a.course = Course::LeadingLiteracy;
                },
                Code::IneligibleEstablishmentType,
            ),
            (
                "a referral by a return to teaching adviser",
                |a| {
                    a.work_setting = Some(WorkSetting::Other);
                    a.referred_by_return_to_teaching_adviser = true;
                },
                Code::ReferredByReturnToTeachingAdviser,
            ),
            ("another kind of work", |a| a.work_setting = Some(WorkSetting::Other), Code::IneligibleEstablishmentType),
        ];
        for (case, change, expected) in rows {
            let mut answers = school_answers(Course::Headship);
            change(&mut answers);
            let decided = decide_eligibility(&answers);
            assert_eq!(decided.status_code, expected, "{case}");
            assert_eq!(decided.eligible, expected == Code::Funded, "{case}");
            assert!(!decided.explanation.is_empty(), "{case}");
        }
    }

    #[test]
    fn review_results_are_flagged_for_review() {
        let mut answers = school_answers(Course::Senco);
        answers.work_setting = Some(WorkSetting::AnotherSetting);
        answers.employment_type = Some(EmploymentType::YoungOffenderInstitution);
        let decided = decide_eligibility(&answers);
        assert!(decided.needs_review);
        assert!(!decided.eligible);
    }

    fn any_answers() -> impl Strategy<Value = EligibilityAnswers> {
        let workplace = prop_oneof![
            Just(None),
            (0u16..50, any::<bool>(), any::<bool>()).prop_map(|(establishment_type, on_rise_list, on_pp50_list)| Some(
                Workplace::School { establishment_type, on_rise_list, on_pp50_list }
            )),
            any::<bool>()
                .prop_map(|on_childminder_list| Some(Workplace::PrivateChildcareProvider { on_childminder_list })),
        ];
        (
            (
                proptest::sample::select(FundingRegime::ALL),
                proptest::sample::select(Course::ALL),
                any::<bool>(),
                proptest::option::of(proptest::sample::select(WorkSetting::ALL)),
                proptest::option::of(proptest::sample::select(KindOfNursery::ALL)),
                workplace,
            ),
            (
                proptest::option::of(proptest::sample::select(EmploymentType::ALL)),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |((cohort_funding, course, works_in_england, work_setting, kind_of_nursery, workplace), rest)| {
                    let (employment_type, new_headteacher, itt_provider_approved, referred, previously_funded) = rest;
                    EligibilityAnswers {
                        cohort_funding,
                        course,
                        works_in_england,
                        work_setting,
                        kind_of_nursery,
                        workplace,
                        employment_type,
                        new_headteacher,
                        itt_provider_approved,
                        referred_by_return_to_teaching_adviser: referred,
                        previously_funded,
                    }
                },
            )
    }

    proptest! {
        /// The same answers always give the same decision; eligibility is exactly the funded code; targeted
        /// delivery funding never applies to a new registration.
        #[test]
        fn decisions_are_deterministic_and_consistent(answers in any_answers()) {
            let first = decide_eligibility(&answers);
            prop_assert_eq!(&first, &decide_eligibility(&answers));
            prop_assert_eq!(first.eligible, first.status_code == Code::Funded);
            prop_assert!(!first.targeted_delivery_funding);
            prop_assert!(!first.explanation.is_empty());
        }

        /// Nobody outside England, in an unfunded cohort, or funded before is eligible.
        #[test]
        fn excluded_applicants_are_never_eligible(answers in any_answers()) {
            let decided = decide_eligibility(&answers);
            if !answers.works_in_england || answers.previously_funded || answers.cohort_funding == FundingRegime::Zero {
                prop_assert!(!decided.eligible);
            }
        }
    }
}
