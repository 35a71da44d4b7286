//! The twelve NPQ courses and the groups that share schedules.

text_enum!(
    /// A group of courses that share the same schedules.
    CourseGroup, "course group" {
        Leadership => "leadership",
        Specialist => "specialist",
        Ehco => "ehco",
        Support => "support",
    }
);

text_enum!(
    /// An NPQ course, by the identifier lead providers use (`course_identifier`).
    Course, "course identifier" {
        SeniorLeadership => "npq-senior-leadership",
        Headship => "npq-headship",
        ExecutiveLeadership => "npq-executive-leadership",
        EarlyYearsLeadership => "npq-early-years-leadership",
        LeadingTeaching => "npq-leading-teaching",
        LeadingBehaviourCulture => "npq-leading-behaviour-culture",
        LeadingTeachingDevelopment => "npq-leading-teaching-development",
        LeadingLiteracy => "npq-leading-literacy",
        LeadingPrimaryMathematics => "npq-leading-primary-mathematics",
        /// The additional support offer, replaced by the early headship coaching offer.
        AdditionalSupportOffer => "npq-additional-support-offer",
        EarlyHeadshipCoachingOffer => "npq-early-headship-coaching-offer",
        Senco => "npq-senco",
    }
);

impl Course {
    /// Returns the group whose schedules the course follows.
    pub const fn group(self) -> CourseGroup {
        match self {
            Self::SeniorLeadership
            | Self::Headship
            | Self::ExecutiveLeadership
            | Self::EarlyYearsLeadership
            | Self::Senco => CourseGroup::Leadership,
            Self::LeadingTeaching
            | Self::LeadingBehaviourCulture
            | Self::LeadingTeachingDevelopment
            | Self::LeadingLiteracy
            | Self::LeadingPrimaryMathematics => CourseGroup::Specialist,
            Self::EarlyHeadshipCoachingOffer => CourseGroup::Ehco,
            Self::AdditionalSupportOffer => CourseGroup::Support,
        }
    }

    /// Returns the short code used on certificates and in DfE reports.
    pub const fn short_code(self) -> &'static str {
        match self {
            Self::SeniorLeadership => "NPQSL",
            Self::Headship => "NPQH",
            Self::ExecutiveLeadership => "NPQEL",
            Self::EarlyYearsLeadership => "NPQEYL",
            Self::LeadingTeaching => "NPQLT",
            Self::LeadingBehaviourCulture => "NPQLBC",
            Self::LeadingTeachingDevelopment => "NPQLTD",
            Self::LeadingLiteracy => "NPQLL",
            Self::LeadingPrimaryMathematics => "NPQLPM",
            Self::AdditionalSupportOffer => "ASO",
            Self::EarlyHeadshipCoachingOffer => "EHCO",
            Self::Senco => "NPQSENCO",
        }
    }

    /// Returns the course's full name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SeniorLeadership => "NPQ for Senior Leadership",
            Self::Headship => "NPQ for Headship",
            Self::ExecutiveLeadership => "NPQ for Executive Leadership",
            Self::EarlyYearsLeadership => "NPQ for Early Years Leadership",
            Self::LeadingTeaching => "NPQ for Leading Teaching",
            Self::LeadingBehaviourCulture => "NPQ for Leading Behaviour and Culture",
            Self::LeadingTeachingDevelopment => "NPQ for Leading Teacher Development",
            Self::LeadingLiteracy => "NPQ for Leading Literacy",
            Self::LeadingPrimaryMathematics => "NPQ for Leading Primary Mathematics",
            Self::AdditionalSupportOffer => "Additional Support Offer for new headteachers",
            Self::EarlyHeadshipCoachingOffer => "Early Headship Coaching Offer",
            Self::Senco => "NPQ for Special Educational Needs Co-ordinators",
        }
    }

    /// Returns whether applicants can choose the course when they register. The additional
    /// support offer is kept only for historic applications.
    pub const fn offered_in_registration(self) -> bool {
        !matches!(self, Self::AdditionalSupportOffer)
    }

    /// Returns whether the two courses count as one when deciding whether a person was funded
    /// before or already has an accepted application. The early headship coaching offer replaced
    /// the additional support offer, so those two are one course; every other course is only
    /// equivalent to itself.
    pub fn is_equivalent_to(self, other: Course) -> bool {
        const REBRANDED: [Course; 2] = [Course::AdditionalSupportOffer, Course::EarlyHeadshipCoachingOffer];
        self == other || (REBRANDED.contains(&self) && REBRANDED.contains(&other))
    }

    /// Returns the key shared by every course equivalent to this one (see [`Course::is_equivalent_to`]):
    /// one person holds at most one live place per key and cohort.
    pub const fn place_key(self) -> &'static str {
        match self {
            Self::AdditionalSupportOffer | Self::EarlyHeadshipCoachingOffer => {
                Self::EarlyHeadshipCoachingOffer.as_str()
            }
            other => other.as_str(),
        }
    }

    /// Returns whether a school setting is funded for this course only when the school is on the
    /// list of schools with the most pupils eligible for pupil premium (the PP50 list).
    pub const fn funded_for_schools_only_on_pp50_list(self) -> bool {
        matches!(
            self,
            Self::LeadingPrimaryMathematics
                | Self::LeadingBehaviourCulture
                | Self::LeadingLiteracy
                | Self::LeadingTeaching
                | Self::LeadingTeachingDevelopment
                | Self::ExecutiveLeadership
        )
    }

    /// Returns whether staff of a local-authority-maintained nursery school are funded for it.
    pub const fn funded_for_local_authority_nurseries(self) -> bool {
        matches!(self, Self::Senco | Self::Headship | Self::SeniorLeadership)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn there_are_twelve_courses() {
        assert_eq!(Course::ALL.len(), 12);
    }

    #[test]
    fn identifiers_round_trip() {
        for course in Course::ALL {
            assert_eq!(course.as_str().parse::<Course>().unwrap(), *course);
        }
    }

    #[test]
    fn aso_and_ehco_are_one_course() {
        assert!(Course::AdditionalSupportOffer.is_equivalent_to(Course::EarlyHeadshipCoachingOffer));
        assert!(Course::EarlyHeadshipCoachingOffer.is_equivalent_to(Course::AdditionalSupportOffer));
        assert!(!Course::Headship.is_equivalent_to(Course::SeniorLeadership));
    }

    #[test]
    fn unknown_course_error_lists_the_valid_ones() {
        let error = "npq-unknown".parse::<Course>().unwrap_err();
        assert!(error.to_string().contains("npq-headship"));
    }

    fn any_course() -> impl Strategy<Value = Course> {
        proptest::sample::select(Course::ALL)
    }

    proptest! {
        #[test]
        fn equivalence_is_reflexive_and_symmetric(first in any_course(), second in any_course()) {
            prop_assert!(first.is_equivalent_to(first));
            prop_assert_eq!(first.is_equivalent_to(second), second.is_equivalent_to(first));
        }

        #[test]
        fn equivalent_courses_share_a_group(first in any_course(), second in any_course()) {
            if first.is_equivalent_to(second) && first != second {
                prop_assert!(matches!(first.group(), CourseGroup::Ehco | CourseGroup::Support));
                prop_assert!(matches!(second.group(), CourseGroup::Ehco | CourseGroup::Support));
            }
        }
    }
}
