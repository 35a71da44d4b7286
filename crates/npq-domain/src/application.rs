//! Applications: one person's registration for one course with one lead provider in one cohort.

use chrono::NaiveDate;

use crate::Timestamp;
use crate::cohort::CohortIdentifier;
use crate::course::Course;
use crate::identifiers::{CountryCode, OfstedUrn, SchoolUrn, Ukprn};
use crate::ids::{ApplicationId, LeadProviderId, ParticipantId};
use crate::person::Person;
use crate::schedule::ScheduleIdentifier;

text_enum!(
    /// The lead provider's decision on an application.
    ApplicationStatus, "application status" {
        Pending => "pending",
        Accepted => "accepted",
        Rejected => "rejected",
    }
);

text_enum!(
    /// Whether an accepted participant is training, paused or has left the course.
    TrainingStatus, "training status" {
        Active => "active",
        Deferred => "deferred",
        Withdrawn => "withdrawn",
    }
);

text_enum!(
    /// The reason an application was rejected.
    ReasonForRejection, "reason for rejection" {
        /// DfE closed a registration that was never decided.
        RegistrationExpired => "registration_expired",
        /// The application's own lead provider rejected it.
        RejectedByProvider => "rejected_by_provider",
        /// Another application of the same person for the same course and cohort was accepted,
        /// by this or another lead provider.
        OtherApplicationInThisCohortAccepted => "other_application_in_this_cohort_accepted",
        /// DfE rejected the application, for a reason recorded in its history.
        RejectedByDfe => "rejected_by_dfe",
    }
);

text_enum!(
    /// The payer for an applicant who is not eligible for DfE funding.
    FundingChoice, "funding choice" {
        School => "school",
        Trust => "trust",
        SelfFunded => "self",
        Another => "another",
        /// Older registrations only.
        Employer => "employer",
    }
);

text_enum!(
    /// Whether the applicant is, or is about to be, a headteacher.
    HeadteacherStatus, "headteacher status" {
        No => "no",
        YesWhenCourseStarts => "yes_when_course_starts",
        YesInFirstTwoYears => "yes_in_first_two_years",
        YesOverTwoYears => "yes_over_two_years",
        YesInFirstFiveYears => "yes_in_first_five_years",
        YesOverFiveYears => "yes_over_five_years",
    }
);

text_enum!(
    /// The reason an application is not eligible for funding, as shown to lead providers.
    IneligibleForFundingReason, "ineligible for funding reason" {
        PreviouslyFunded => "previously-funded",
        EstablishmentIneligible => "establishment-ineligible",
    }
);

text_enum!(
    /// The outcome of the funding eligibility check made when the application was submitted, or
    /// the DfE decision that replaced it.
    FundingEligibilityStatusCode, "funding eligibility status code" {
        Funded => "funded",
        UnfundedCohort => "unfunded_cohort",
        NotInEngland => "not_in_england",
        PreviouslyFunded => "previously_funded",
        NotNewHeadteacherRequestingEhco => "not_new_headteacher_requesting_ehco",
        IneligibleEstablishmentType => "ineligible_establishment_type",
        EarlyYearsInvalidNpq => "early_years_invalid_npq",
        NotEntitledChildminder => "not_entitled_childminder",
        IneligibleEstablishmentNotAPp50 => "ineligible_establishment_not_a_pp50",
        NotLeadMentorCourse => "not_lead_mentor_course",
        SubjectToReview => "subject_to_review",
        ReferredByReturnToTeachingAdviser => "referred_by_return_to_teaching_adviser",
        MarkedFundedByPolicy => "marked_funded_by_policy",
        MarkedIneligibleByPolicy => "marked_ineligible_by_policy",
    }
);

text_enum!(
    /// The kind of place the applicant works in.
    WorkSetting, "work setting" {
        EarlyYearsOrChildcare => "early_years_or_childcare",
        ASchool => "a_school",
        AnAcademyTrust => "an_academy_trust",
        A16To19EducationalSetting => "a_16_to_19_educational_setting",
        AnotherSetting => "another_setting",
        Other => "other",
    }
);

text_enum!(
    /// The kind of early years setting the applicant works in.
    KindOfNursery, "kind of nursery" {
        LocalAuthorityMaintainedNursery => "local_authority_maintained_nursery",
        PreschoolClassAsPartOfSchool => "preschool_class_as_part_of_school",
        PrivateNursery => "private_nursery",
        Childminder => "childminder",
        AnotherEarlyYearsSetting => "another_early_years_setting",
    }
);

text_enum!(
    /// The applicant's employment when they work outside schools and nurseries.
    EmploymentType, "employment type" {
        HospitalSchool => "hospital_school",
        LeadMentorForAccreditedIttProvider => "lead_mentor_for_accredited_itt_provider",
        LocalAuthoritySupplyTeacher => "local_authority_supply_teacher",
        LocalAuthorityVirtualSchool => "local_authority_virtual_school",
        YoungOffenderInstitution => "young_offender_institution",
    }
);

text_enum!(
    /// Whether an applicant to the SENCO course is a special educational needs co-ordinator.
    SencoInRole, "SENCO role answer" {
        Yes => "yes",
        NoButIPlanToBecomeOne => "no_but_i_plan_to_become_one",
        NoIDoNotPlanToBeASenco => "no_i_do_not_plan_to_be_a_SENCO",
    }
);

text_enum!(
    /// Where the applicant works, as answered at registration. New registrations answer
    /// `england` or `another`; older ones may name a nation of the United Kingdom.
    TeacherCatchment, "teacher catchment" {
        England => "england",
        Another => "another",
        Scotland => "scotland",
        Wales => "wales",
        NorthernIreland => "northern_ireland",
        JerseyGuernseyIsleOfMan => "jersey_guernsey_isle_of_man",
    }
);

impl TeacherCatchment {
    /// Returns whether the answer names England or another part of the British Isles, which is
    /// what the API's boolean `teacher_catchment` reports.
    pub const fn is_in_british_isles_list(self) -> bool {
        !matches!(self, Self::Another)
    }
}

/// An application with every field lead providers and DfE work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: ApplicationId,
    pub participant_id: ParticipantId,
    pub lead_provider_id: LeadProviderId,
    pub cohort: CohortIdentifier,
    pub course: Course,
    /// The schedule, set when the application is accepted; kept after a later rejection.
    pub schedule: Option<ScheduleIdentifier>,
    pub status: ApplicationStatus,
    /// Set when the application is accepted.
    pub training_status: Option<TrainingStatus>,
    /// Written only when the application is rejected and never cleared.
    pub reason_for_rejection: Option<ReasonForRejection>,
    pub accepted_at: Option<Timestamp>,

    /// Whether the applicant was found eligible for DfE funding, as stored.
    pub eligible_for_funding: bool,
    pub funding_eligibility_status_code: Option<FundingEligibilityStatusCode>,
    /// The payer, for applicants who are not eligible for funding.
    pub funding_choice: Option<FundingChoice>,
    /// Whether the place counts against the lead provider's funded places (capped cohorts).
    pub funded_place: Option<bool>,
    pub targeted_delivery_funding_eligibility: bool,

    pub works_in_school: Option<bool>,
    pub works_in_childcare: Option<bool>,
    pub work_setting: Option<WorkSetting>,
    pub kind_of_nursery: Option<KindOfNursery>,
    pub employment_type: Option<EmploymentType>,
    pub employment_role: Option<String>,
    pub employer_name: Option<String>,
    pub headteacher_status: Option<HeadteacherStatus>,
    pub school_urn: Option<SchoolUrn>,
    /// UKPRN stored with the application when it was submitted.
    pub ukprn: Option<Ukprn>,
    pub private_childcare_provider_urn: Option<OfstedUrn>,
    /// Legal name of the initial teacher training provider of a lead mentor.
    pub itt_provider: Option<String>,
    pub lead_mentor: bool,

    pub teacher_catchment: Option<TeacherCatchment>,
    pub teacher_catchment_country: Option<String>,
    pub teacher_catchment_iso_country_code: Option<CountryCode>,

    pub senco_in_role: Option<SencoInRole>,
    pub senco_start_date: Option<NaiveDate>,

    pub created_at: Timestamp,
    /// Moves whenever the application or its person changes in a way lead providers must notice.
    pub updated_at: Timestamp,
}

impl Application {
    /// Returns whether this application, if it belongs to the same person, makes an application
    /// for `course` count as previously funded: it is accepted, for the same or an equivalent
    /// course, stored as eligible for funding, and its place was not marked unfunded. Any lead
    /// provider, cohort and training status counts, withdrawn included.
    pub fn counts_as_funding_for(&self, course: Course) -> bool {
        FundingHistoryEntry::from(self).counts_as_funding_for(course)
    }
}

/// The facts about one accepted application that decide whether another application of the same
/// person counts as previously funded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingHistoryEntry {
    pub application_id: ApplicationId,
    pub participant_id: ParticipantId,
    pub course: Course,
    pub status: ApplicationStatus,
    pub eligible_for_funding: bool,
    pub funded_place: Option<bool>,
}

impl From<&Application> for FundingHistoryEntry {
    fn from(application: &Application) -> Self {
        Self {
            application_id: application.id,
            participant_id: application.participant_id,
            course: application.course,
            status: application.status,
            eligible_for_funding: application.eligible_for_funding,
            funded_place: application.funded_place,
        }
    }
}

impl FundingHistoryEntry {
    /// Returns whether this entry makes an application for `course` count as previously funded.
    pub fn counts_as_funding_for(&self, course: Course) -> bool {
        self.status == ApplicationStatus::Accepted
            && self.course.is_equivalent_to(course)
            && self.eligible_for_funding
            && self.funded_place != Some(false)
    }
}

/// An application as lead providers see it: the application, its person, and the funding fields
/// derived from the person's other applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationView {
    pub application: Application,
    pub person: Person,
    /// Whether DfE funds the applicant, taking earlier funded applications into account.
    pub eligible_for_funding: bool,
    pub ineligible_for_funding_reason: Option<IneligibleForFundingReason>,
}

impl ApplicationView {
    /// Builds the view of `application` from its person and the accepted applications of that
    /// person (which may include `application` itself; it is skipped).
    ///
    /// A person funded before for the same or an equivalent course is not eligible again, unless
    /// DfE marked this application funded by policy. The reason shown is `previously-funded` in
    /// that case even when DfE's policy decision makes the application eligible, and
    /// `establishment-ineligible` for every other stored ineligibility (outside England, unfunded
    /// cohort, awaiting review).
    pub fn new(application: Application, person: Person, funding_history: &[FundingHistoryEntry]) -> Self {
        let previously_funded = funding_history.iter().any(|entry| {
            entry.application_id != application.id
                && entry.participant_id == application.participant_id
                && entry.counts_as_funding_for(application.course)
        });
        let funded_by_policy =
            application.funding_eligibility_status_code == Some(FundingEligibilityStatusCode::MarkedFundedByPolicy);
        let eligible_for_funding =
            if previously_funded && !funded_by_policy { false } else { application.eligible_for_funding };
        let ineligible_for_funding_reason = if previously_funded {
            Some(IneligibleForFundingReason::PreviouslyFunded)
        } else if !application.eligible_for_funding {
            Some(IneligibleForFundingReason::EstablishmentIneligible)
        } else {
            None
        };
        Self { application, person, eligible_for_funding, ineligible_for_funding_reason }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample_person() -> Person {
        crate::testing::person("Sam Example")
    }

    /// Builds a pending application of `person` for `course` with a lead provider of its own.
    pub(crate) fn sample_application(person: &Person, course: Course) -> Application {
        let application = crate::testing::application(person, LeadProviderId::new_random(), crate::testing::june(2, 9));
        Application { course, ..application }
    }

    fn accepted(mut application: Application, funded_place: Option<bool>) -> Application {
        application.status = ApplicationStatus::Accepted;
        application.funded_place = funded_place;
        application
    }

    #[test]
    fn eligible_application_with_no_history_is_eligible() {
        let person = sample_person();
        let application = sample_application(&person, Course::Headship);
        let view = ApplicationView::new(application, person, &[]);
        assert!(view.eligible_for_funding);
        assert_eq!(view.ineligible_for_funding_reason, None);
    }

    #[test]
    fn earlier_headship_counts_as_funding() {
        let person = sample_person();
        let earlier = accepted(sample_application(&person, Course::Headship), Some(true));
        let application = sample_application(&person, Course::Headship);
        let view = ApplicationView::new(application, person, &[FundingHistoryEntry::from(&earlier)]);
        assert!(!view.eligible_for_funding);
        assert_eq!(view.ineligible_for_funding_reason, Some(IneligibleForFundingReason::PreviouslyFunded));
    }

    #[test]
    fn earlier_unfunded_place_does_not_count_as_funding() {
        let person = sample_person();
        let earlier = accepted(sample_application(&person, Course::Headship), Some(false));
        let view = ApplicationView::new(
            sample_application(&person, Course::Headship),
            person,
            &[FundingHistoryEntry::from(&earlier)],
        );
        assert!(view.eligible_for_funding);
    }

    #[test]
    fn earlier_aso_counts_as_funding_for_ehco() {
        let person = sample_person();
        let earlier = accepted(sample_application(&person, Course::AdditionalSupportOffer), None);
        let application = sample_application(&person, Course::EarlyHeadshipCoachingOffer);
        let view = ApplicationView::new(application, person, &[FundingHistoryEntry::from(&earlier)]);
        assert_eq!(view.ineligible_for_funding_reason, Some(IneligibleForFundingReason::PreviouslyFunded));
    }

    #[test]
    fn policy_decision_keeps_previously_funded_application_eligible() {
        let person = sample_person();
        let earlier = accepted(sample_application(&person, Course::Senco), None);
        let mut application = sample_application(&person, Course::Senco);
        application.funding_eligibility_status_code = Some(FundingEligibilityStatusCode::MarkedFundedByPolicy);
        let view = ApplicationView::new(application, person, &[FundingHistoryEntry::from(&earlier)]);
        assert!(view.eligible_for_funding);
        assert_eq!(view.ineligible_for_funding_reason, Some(IneligibleForFundingReason::PreviouslyFunded));
    }

    #[test]
    fn stored_ineligibility_shows_establishment_ineligible() {
        let person = sample_person();
        let mut application = sample_application(&person, Course::Headship);
        application.eligible_for_funding = false;
        application.funding_eligibility_status_code = Some(FundingEligibilityStatusCode::NotInEngland);
        let view = ApplicationView::new(application, person, &[]);
        assert!(!view.eligible_for_funding);
        assert_eq!(view.ineligible_for_funding_reason, Some(IneligibleForFundingReason::EstablishmentIneligible));
    }

    #[test]
    fn application_does_not_count_as_its_own_funding() {
        let person = sample_person();
        let application = accepted(sample_application(&person, Course::Headship), Some(true));
        let history = [FundingHistoryEntry::from(&application)];
        let view = ApplicationView::new(application, person, &history);
        assert!(view.eligible_for_funding);
    }

    fn any_course() -> impl Strategy<Value = Course> {
        proptest::sample::select(Course::ALL)
    }

    fn any_status() -> impl Strategy<Value = ApplicationStatus> {
        proptest::sample::select(ApplicationStatus::ALL)
    }

    proptest! {
        /// Another person's applications never change what an application shows.
        #[test]
        fn other_peoples_history_is_ignored(course in any_course(), other_course in any_course(), status in any_status(), eligible: bool, funded_place: Option<bool>) {
            let person = sample_person();
            let stranger = sample_person();
            let mut theirs = sample_application(&stranger, other_course);
            theirs.status = status;
            theirs.eligible_for_funding = eligible;
            theirs.funded_place = funded_place;
            let mine = sample_application(&person, course);
            let alone = ApplicationView::new(mine.clone(), person.clone(), &[]);
            let with_stranger = ApplicationView::new(mine, person, &[FundingHistoryEntry::from(&theirs)]);
            prop_assert_eq!(alone, with_stranger);
        }

        /// The view is eligible only if the stored flag is, and a reason is shown exactly when it is not eligible
        /// or when earlier funding was overridden by policy.
        #[test]
        fn eligibility_and_reason_agree(course in any_course(), other_course in any_course(), status in any_status(),
                                        stored_eligible: bool, other_eligible: bool, funded_place: Option<bool>, by_policy: bool) {
            let person = sample_person();
            let mut earlier = sample_application(&person, other_course);
            earlier.status = status;
            earlier.eligible_for_funding = other_eligible;
            earlier.funded_place = funded_place;
            let mut application = sample_application(&person, course);
            application.eligible_for_funding = stored_eligible;
            if by_policy {
                application.funding_eligibility_status_code = Some(FundingEligibilityStatusCode::MarkedFundedByPolicy);
            }
            let view = ApplicationView::new(application, person, &[FundingHistoryEntry::from(&earlier)]);
            prop_assert!(!view.eligible_for_funding || stored_eligible);
            if !view.eligible_for_funding {
                prop_assert!(view.ineligible_for_funding_reason.is_some());
            }
            let previously_funded = earlier.counts_as_funding_for(course);
            prop_assert_eq!(view.ineligible_for_funding_reason == Some(IneligibleForFundingReason::PreviouslyFunded), previously_funded);
        }
    }
}
