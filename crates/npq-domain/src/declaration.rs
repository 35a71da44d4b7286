//! Declarations: a lead provider's claim that a participant reached a milestone, and the states
//! that take a claim to payment, or back out of it.

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
