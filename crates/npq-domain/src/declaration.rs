//! Declarations: a lead provider's claim that a participant reached a milestone, the states
//! that take a claim to payment or back out of it, and the order milestones must come in.

use crate::Timestamp;
use crate::cohort::CohortIdentifier;
use crate::error::FieldError;
use crate::schedule::DeclarationType;

text_enum!(
    /// Where a declaration is on its way to payment.
    DeclarationState, "declaration state" {
        /// Received; the application is not funded, so it waits to be voided.
        Submitted => "submitted",
        /// Funded: it is on the provider's next output statement.
        Eligible => "eligible",
        /// Not funded, because another account of the same person already claimed the milestone.
        Ineligible => "ineligible",
        /// Its statement's deadline passed: it will be paid.
        Payable => "payable",
        Paid => "paid",
        /// Withdrawn before payment.
        Voided => "voided",
        /// Withdrawn after payment: the payment is taken back on a later statement.
        AwaitingClawback => "awaiting-clawback",
        ClawedBack => "clawed-back",
    }
);

/// An event that moves a declaration from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarationEvent {
    /// The application is funded, so the claim joins a statement.
    MarkEligible,
    /// Another account of the person already claimed this milestone.
    MarkIneligible,
    /// The statement's deadline passed.
    MarkPayable,
    /// The statement was paid.
    MarkPaid,
    /// The provider withdrew the claim (before payment) or asked for it back (after payment).
    Void,
    /// The statement holding the clawback was paid.
    MarkClawedBack,
}

impl DeclarationState {
    /// Returns the state after `event`, or `None` when the event is not allowed in this state.
    ///
    /// Voiding moves every unpaid state except `voided` to `voided`, and a paid declaration to
    /// `awaiting-clawback`; `voided` and `clawed-back` are final.
    pub const fn after(self, event: DeclarationEvent) -> Option<Self> {
        use DeclarationEvent::*;
        match (self, event) {
            (Self::Submitted, MarkEligible) => Some(Self::Eligible),
            (Self::Submitted, MarkIneligible) => Some(Self::Ineligible),
            (Self::Eligible, MarkPayable) => Some(Self::Payable),
            (Self::Payable, MarkPaid) => Some(Self::Paid),
            (Self::Submitted | Self::Eligible | Self::Payable | Self::Ineligible, Void) => Some(Self::Voided),
            (Self::Paid, Void) => Some(Self::AwaitingClawback),
            (Self::AwaitingClawback, MarkClawedBack) => Some(Self::ClawedBack),
            _ => None,
        }
    }

    /// Returns whether the declaration holds its milestone: submitted, eligible, payable or paid.
    /// An application has at most one such declaration of each type, and they block changes to
    /// what was claimed for.
    pub const fn holds_milestone(self) -> bool {
        matches!(self, Self::Submitted | Self::Eligible | Self::Payable | Self::Paid)
    }

    /// Returns whether the declaration leads to a payment: eligible, payable or paid.
    pub const fn is_billable(self) -> bool {
        matches!(self, Self::Eligible | Self::Payable | Self::Paid)
    }

    /// Returns whether DfE paid for the declaration at some point: paid, or being or having been
    /// clawed back.
    pub const fn was_paid(self) -> bool {
        matches!(self, Self::Paid | Self::AwaitingClawback | Self::ClawedBack)
    }

    /// Returns whether no event can move the declaration on.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Voided | Self::ClawedBack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeclarationEvent::*;
    use DeclarationState::*;
    use proptest::prelude::*;

    const EVENTS: [DeclarationEvent; 6] = [MarkEligible, MarkIneligible, MarkPayable, MarkPaid, Void, MarkClawedBack];

    #[test]
    fn a_funded_declaration_goes_from_submitted_to_paid() {
        let mut state = Submitted;
        for event in [MarkEligible, MarkPayable, MarkPaid] {
            state = state.after(event).unwrap();
        }
        assert_eq!(state, Paid);
    }

    #[test]
    fn voiding_before_payment_voids_and_after_payment_claws_back() {
        for unpaid in [Submitted, Eligible, Payable, Ineligible] {
            assert_eq!(unpaid.after(Void), Some(Voided), "{unpaid}");
        }
        assert_eq!(Paid.after(Void), Some(AwaitingClawback));
        assert_eq!(AwaitingClawback.after(MarkClawedBack), Some(ClawedBack));
        for done in [Voided, AwaitingClawback, ClawedBack] {
            assert_eq!(done.after(Void), None, "{done} cannot be voided again");
        }
    }

    #[test]
    fn states_read_as_the_api_spells_them() {
        assert_eq!(AwaitingClawback.as_str(), "awaiting-clawback");
        assert_eq!("clawed-back".parse::<DeclarationState>(), Ok(ClawedBack));
    }

    /// Declarations of one type on one application, each in a state, with a rule for new ones: a
    /// new declaration is accepted only while none holds the milestone.
    fn apply(declarations: &mut Vec<DeclarationState>, step: (Option<usize>, DeclarationEvent)) {
        match step {
            (None, _) => {
                if !declarations.iter().any(|state| state.holds_milestone()) {
                    declarations.push(Submitted);
                }
            }
            (Some(index), event) => {
                if let Some(state) = declarations.get_mut(index)
                    && let Some(next) = state.after(event)
                {
                    *state = next;
                }
            }
        }
    }

    proptest! {
        /// Every transition is one the state machine lists, final states never move, and money only moves
        /// forward: a paid declaration never becomes unpaid except through a clawback.
        #[test]
        fn transitions_follow_the_machine(start in proptest::sample::select(DeclarationState::ALL), event in proptest::sample::select(EVENTS.to_vec())) {
            if let Some(next) = start.after(event) {
                prop_assert!(!start.is_final());
                prop_assert_ne!(next, start);
                if start.was_paid() {
                    prop_assert!(next.was_paid());
                }
            }
        }

        /// Whatever the sequence of new declarations and events, at most one declaration of a type holds the
        /// milestone on one application.
        #[test]
        fn at_most_one_declaration_holds_a_milestone(steps in proptest::collection::vec(
            (proptest::option::of(0usize..6), proptest::sample::select(EVENTS.to_vec())), 0..40)) {
            let mut declarations = Vec::new();
            for step in steps {
                apply(&mut declarations, step);
                prop_assert!(declarations.iter().filter(|state| state.holds_milestone()).count() <= 1);
            }
        }
    }
}

/// A declaration already made on an application, as the sequencing rule needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MadeDeclaration {
    pub declaration_type: DeclarationType,
    pub state: DeclarationState,
    pub declaration_date: Timestamp,
}

/// The cohorts whose declarations must come in milestone order: those starting in or after this
/// year. Older cohorts keep the reference service's behaviour, where any allowed type may come at
/// any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencingFrom(pub u16);

impl Default for SequencingFrom {
    /// Returns 2025. `docs/declaration-sequencing.md` explains the choice.
    fn default() -> Self {
        Self(2025)
    }
}

/// Checks that a new declaration of `declaration_type`, dated `declaration_date`, on an application
/// in `cohort` following a schedule that allows `allowed` (in milestone order), comes after the
/// milestone before it. The milestone before is the previous type in `allowed`; `started` has
/// none. Among `made` (the application's declarations) one of that type must hold its milestone
/// (submitted, eligible, payable or paid), and the new declaration must not be dated before it.
/// Cohorts before `from` are not checked. The error says what is missing and how to fix it.
pub fn check_sequence(
    declaration_type: DeclarationType,
    declaration_date: Timestamp,
    cohort: CohortIdentifier,
    allowed: &[DeclarationType],
    made: &[MadeDeclaration],
    from: SequencingFrom,
) -> Result<(), FieldError> {
    if cohort.start_year() < from.0 {
        return Ok(());
    }
    let Some(position) = allowed.iter().position(|allowed| *allowed == declaration_type) else { return Ok(()) };
    let Some(previous) = position.checked_sub(1).map(|index| allowed[index]) else { return Ok(()) };
    let holding = made
        .iter()
        .filter(|made| made.declaration_type == previous && made.state.holds_milestone())
        .max_by_key(|made| made.declaration_date);
    match holding {
        None => Err(FieldError {
            attribute: "declaration_type".to_owned(),
            message: format!(
                "A '{declaration_type}' declaration needs a '{previous}' declaration for this participant and course that is not voided. Declare '{previous}' first."
            ),
        }),
        Some(previous_declaration) if declaration_date < previous_declaration.declaration_date => Err(FieldError {
            attribute: "declaration_date".to_owned(),
            message: format!(
                "A '{declaration_type}' declaration cannot be dated before the '{previous}' declaration of {}.",
                previous_declaration.declaration_date.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod sequencing_tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(day: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2025, 11, day, 10, 0, 0).single().unwrap_or_default()
    }

    const ALL_TYPES: [DeclarationType; 4] = [
        DeclarationType::Started,
        DeclarationType::RetainedOne,
        DeclarationType::RetainedTwo,
        DeclarationType::Completed,
    ];

    fn made(declaration_type: DeclarationType, state: DeclarationState, day: u32) -> MadeDeclaration {
        MadeDeclaration { declaration_type, state, declaration_date: at(day) }
    }

    fn check(
        declaration_type: DeclarationType,
        day: u32,
        cohort: &str,
        made: &[MadeDeclaration],
    ) -> Result<(), FieldError> {
        check_sequence(declaration_type, at(day), cohort.parse().unwrap(), &ALL_TYPES, made, SequencingFrom::default())
    }

    #[test]
    fn started_needs_nothing_before_it() {
        assert_eq!(check(DeclarationType::Started, 1, "2025a", &[]), Ok(()));
    }

    #[test]
    fn retained_one_needs_a_live_started() {
        let error = check(DeclarationType::RetainedOne, 5, "2025a", &[]).unwrap_err();
        assert_eq!(error.attribute, "declaration_type");
        assert!(error.message.contains("Declare 'started' first"), "{}", error.message);
        let voided = [made(DeclarationType::Started, DeclarationState::Voided, 1)];
        assert!(check(DeclarationType::RetainedOne, 5, "2025a", &voided).is_err());
        let live = [made(DeclarationType::Started, DeclarationState::Paid, 1)];
        assert_eq!(check(DeclarationType::RetainedOne, 5, "2025a", &live), Ok(()));
    }

    #[test]
    fn a_later_milestone_cannot_be_dated_before_the_earlier_one() {
        let started = [made(DeclarationType::Started, DeclarationState::Eligible, 10)];
        let error = check(DeclarationType::RetainedOne, 9, "2025a", &started).unwrap_err();
        assert_eq!(error.attribute, "declaration_date");
        assert_eq!(check(DeclarationType::RetainedOne, 10, "2025a", &started), Ok(()));
    }

    #[test]
    fn a_schedule_without_retained_two_goes_from_retained_one_to_completed() {
        let specialist = [DeclarationType::Started, DeclarationType::RetainedOne, DeclarationType::Completed];
        let retained = [made(DeclarationType::RetainedOne, DeclarationState::Submitted, 3)];
        let result = check_sequence(
            DeclarationType::Completed,
            at(4),
            "2025a".parse().unwrap(),
            &specialist,
            &retained,
            SequencingFrom::default(),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn older_cohorts_keep_declaring_in_any_order() {
        assert_eq!(check(DeclarationType::Completed, 1, "2024a", &[]), Ok(()));
    }

    proptest! {
        /// Whatever was declared before, a declaration that passes has its previous milestone live and dated no
        /// later than itself, and one for a cohort before the start year always passes.
        #[test]
        fn passing_declarations_follow_their_previous_milestone(
            target in 0usize..4,
            day in 1u32..28,
            history in proptest::collection::vec((0usize..4, proptest::sample::select(DeclarationState::ALL), 1u32..28), 0..6),
            year in 2021u16..2029,
        ) {
            let made: Vec<MadeDeclaration> =
                history.into_iter().map(|(kind, state, day)| made(ALL_TYPES[kind], state, day)).collect();
            let cohort = CohortIdentifier::new(year, 'a').unwrap();
            let result = check_sequence(ALL_TYPES[target], at(day), cohort, &ALL_TYPES, &made, SequencingFrom::default());
            if year < 2025 {
                prop_assert!(result.is_ok());
            } else if result.is_ok() && target > 0 {
                let previous = ALL_TYPES[target - 1];
                prop_assert!(made.iter().any(|made| made.declaration_type == previous
                    && made.state.holds_milestone()
                    && made.declaration_date <= at(day)));
            }
        }
    }
}
