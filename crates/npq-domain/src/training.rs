//! Training status: whether an accepted participant is training, paused or has left, and the
//! transitions between those states.

use crate::Timestamp;
use crate::application::TrainingStatus;
use crate::error::FieldError;
use crate::schedule::DeclarationType;

text_enum!(
    /// A reason a participant paused their training.
    DeferralReason, "deferral reason" {
        Bereavement => "bereavement",
        LongTermSickness => "long-term-sickness",
        ParentalLeave => "parental-leave",
        CareerBreak => "career-break",
        Other => "other",
    }
);

text_enum!(
    /// A reason a participant left their course.
    WithdrawalReason, "withdrawal reason" {
        InsufficientCapacityToUndertakeProgramme => "insufficient-capacity-to-undertake-programme",
        PersonalReasonHealthOrPregnancyRelated => "personal-reason-health-or-pregnancy-related",
        PersonalReasonMovingSchool => "personal-reason-moving-school",
        PersonalReasonOther => "personal-reason-other",
        InsufficientCapacity => "insufficient-capacity",
        ChangeInDevelopmentalOrPersonalPriorities => "change-in-developmental-or-personal-priorities",
        ChangeInSchoolCircumstances => "change-in-school-circumstances",
        ChangeInSchoolLeadership => "change-in-school-leadership",
        /// The trailing full stop is part of the value lead providers send.
        QualityOfProgrammeStructureNotSuitable => "quality-of-programme-structure-not-suitable.",
        QualityOfProgrammeContentNotSuitable => "quality-of-programme-content-not-suitable",
        QualityOfProgrammeFacilitationNotEffective => "quality-of-programme-facilitation-not-effective",
        QualityOfProgrammeAccessibility => "quality-of-programme-accessibility",
        QualityOfProgrammeOther => "quality-of-programme-other",
        ProgrammeNotAppropriateForRoleAndCpdNeeds => "programme-not-appropriate-for-role-and-cpd-needs",
        StartedInError => "started-in-error",
        ExpectedCommitmentUnclear => "expected-commitment-unclear",
        AssessmentRequirementsNotMet => "assessment-requirements-not-met",
        ChangeInCareer => "change-in-career",
        DisengagedAndUnresponsive => "disengaged-and-unresponsive",
        NonPaymentOfInvoice => "non-payment-of-invoice",
        Other => "other",
    }
);

/// What is known of an application's declarations when a rule depends on them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeclarationSummary {
    /// Declarations that are not voided.
    pub not_voided: u32,
    /// Declarations that are submitted, eligible, payable or paid: the ones that lead to a
    /// payment and block changes to what was paid for.
    pub billable: u32,
    /// `started` declarations that are not voided.
    pub started: u32,
}

/// A declaration that leads to payment, as far as schedule rules need to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillableDeclaration {
    pub declaration_type: DeclarationType,
    pub declaration_date: Timestamp,
}

/// A change of training status asked for by a lead provider or DfE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingChange {
    Defer(DeferralReason),
    Withdraw(WithdrawalReason),
    Resume,
}

impl TrainingChange {
    /// Returns the status the change leads to.
    pub const fn target(self) -> TrainingStatus {
        match self {
            Self::Defer(_) => TrainingStatus::Deferred,
            Self::Withdraw(_) => TrainingStatus::Withdrawn,
            Self::Resume => TrainingStatus::Active,
        }
    }

    /// Returns the reason recorded with the change, if it has one.
    pub const fn reason(self) -> Option<&'static str> {
        match self {
            Self::Defer(reason) => Some(reason.as_str()),
            Self::Withdraw(reason) => Some(reason.as_str()),
            Self::Resume => None,
        }
    }
}

fn participant_error(message: &str) -> FieldError {
    FieldError { attribute: "participant_id".to_owned(), message: message.to_owned() }
}

/// Checks that an accepted application in `current` status may make `change`, and returns the new
/// status. Every failed rule is reported, attributed to `participant_id`:
///
/// - deferring needs an active participant with at least one declaration that is not voided;
/// - withdrawing needs a participant who is not withdrawn and has a `started` declaration that is
///   not voided;
/// - resuming needs a deferred or withdrawn participant.
pub fn change_training_status(
    current: TrainingStatus,
    change: TrainingChange,
    declarations: &DeclarationSummary,
) -> Result<TrainingStatus, Vec<FieldError>> {
    let mut errors = Vec::new();
    match change {
        TrainingChange::Defer(_) => {
            match current {
                TrainingStatus::Active => {}
                TrainingStatus::Deferred => errors.push(participant_error("The participant is already deferred.")),
                TrainingStatus::Withdrawn => errors.push(participant_error(
                    "The participant is withdrawn and cannot be deferred; resume their training first.",
                )),
            }
            if declarations.not_voided == 0 {
                errors.push(participant_error(
                    "The participant cannot be deferred before a declaration that is not voided has been made for them.",
                ));
            }
        }
        TrainingChange::Withdraw(_) => {
            if current == TrainingStatus::Withdrawn {
                errors.push(participant_error("The participant is already withdrawn."));
            } else if declarations.started == 0 {
                errors.push(participant_error(
                    "The participant cannot be withdrawn without a 'started' declaration that is not voided. Contact DfE support if they never started.",
                ));
            }
        }
        TrainingChange::Resume => {
            if current == TrainingStatus::Active {
                errors.push(participant_error("The participant is already active."));
            }
        }
    }
    if errors.is_empty() { Ok(change.target()) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with_declarations(not_voided: u32, started: u32) -> DeclarationSummary {
        DeclarationSummary { not_voided, billable: 0, started }
    }

    #[test]
    fn active_participant_with_a_declaration_can_be_deferred() {
        let result = change_training_status(
            TrainingStatus::Active,
            TrainingChange::Defer(DeferralReason::ParentalLeave),
            &with_declarations(1, 0),
        );
        assert_eq!(result, Ok(TrainingStatus::Deferred));
    }

    #[test]
    fn deferring_without_declarations_is_refused() {
        let errors = change_training_status(
            TrainingStatus::Active,
            TrainingChange::Defer(DeferralReason::Other),
            &DeclarationSummary::default(),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].attribute, "participant_id");
    }

    #[test]
    fn withdrawing_needs_a_started_declaration() {
        let change = TrainingChange::Withdraw(WithdrawalReason::ChangeInCareer);
        assert!(change_training_status(TrainingStatus::Active, change, &with_declarations(1, 0)).is_err());
        assert_eq!(
            change_training_status(TrainingStatus::Deferred, change, &with_declarations(1, 1)),
            Ok(TrainingStatus::Withdrawn)
        );
    }

    #[test]
    fn resuming_an_active_participant_is_refused() {
        let result = change_training_status(TrainingStatus::Active, TrainingChange::Resume, &with_declarations(3, 1));
        assert!(result.is_err());
    }

    #[test]
    fn withdrawal_reason_keeps_its_trailing_full_stop() {
        let reason: WithdrawalReason = "quality-of-programme-structure-not-suitable.".parse().unwrap();
        assert_eq!(reason, WithdrawalReason::QualityOfProgrammeStructureNotSuitable);
        assert!("quality-of-programme-structure-not-suitable".parse::<WithdrawalReason>().is_err());
    }

    fn any_status() -> impl Strategy<Value = TrainingStatus> {
        proptest::sample::select(TrainingStatus::ALL)
    }

    fn any_change() -> impl Strategy<Value = TrainingChange> {
        prop_oneof![
            proptest::sample::select(DeferralReason::ALL).prop_map(TrainingChange::Defer),
            proptest::sample::select(WithdrawalReason::ALL).prop_map(TrainingChange::Withdraw),
            Just(TrainingChange::Resume),
        ]
    }

    proptest! {
        /// The only transitions are active to deferred, active or deferred to withdrawn, and deferred or
        /// withdrawn to active; each lands on the change's target, and none stays where it was.
        #[test]
        fn only_listed_transitions_exist(current in any_status(), change in any_change(), any in 0u32..3, started in 0u32..2) {
            let declarations = with_declarations(any.max(started), started);
            if let Ok(next) = change_training_status(current, change, &declarations) {
                prop_assert_eq!(next, change.target());
                prop_assert_ne!(next, current);
                let allowed = matches!(
                    (current, next),
                    (TrainingStatus::Active, TrainingStatus::Deferred)
                        | (TrainingStatus::Active | TrainingStatus::Deferred, TrainingStatus::Withdrawn)
                        | (TrainingStatus::Deferred | TrainingStatus::Withdrawn, TrainingStatus::Active)
                );
                prop_assert!(allowed, "{current:?} -> {next:?}");
            }
        }

        /// A withdrawal always has a started declaration behind it, and a deferral a declaration.
        #[test]
        fn leaving_needs_declarations(current in any_status(), change in any_change(), any in 0u32..3, started in 0u32..2) {
            let declarations = with_declarations(any.max(started), started);
            if let Ok(next) = change_training_status(current, change, &declarations) {
                match next {
                    TrainingStatus::Withdrawn => prop_assert!(declarations.started > 0),
                    TrainingStatus::Deferred => prop_assert!(declarations.not_voided > 0),
                    TrainingStatus::Active => {}
                }
            }
        }
    }
}
