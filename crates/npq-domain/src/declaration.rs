//! Declarations: a lead provider's claim that a participant reached a milestone, the states
//! that take a claim to payment or back out of it, and the order milestones must come in.

use crate::Timestamp;
use crate::application::{Application, TeacherCatchment};
use crate::cohort::CohortIdentifier;
use crate::error::FieldError;
use crate::ids::{DeclarationId, DeliveryPartnerId};
use crate::schedule::DeclarationType;

text_enum!(
    /// The stage a declaration has reached on its way to payment.
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

/// Returns whether an application counts as inside England for declarations: it says the
/// applicant works in England, or, for cohorts before 2024, its school's URN starts with 1
/// (schools in England have such URNs).
pub fn inside_catchment(application: &Application) -> bool {
    application.teacher_catchment == Some(TeacherCatchment::England)
        || (application.cohort.start_year() < 2024
            && application.school_urn.as_ref().is_some_and(|urn| urn.as_str().starts_with('1')))
}

/// The delivery partners a declaration names, and what is known about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerChoice {
    pub primary: Option<DeliveryPartnerId>,
    pub secondary: Option<DeliveryPartnerId>,
    /// Partners that exist.
    pub known: Vec<DeliveryPartnerId>,
    /// Partners with a partnership with the declaring lead provider in the declaration's cohort.
    pub available: Vec<DeliveryPartnerId>,
}

fn partner_error(attribute: &str, message: &str) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.to_owned() }
}

/// Checks the delivery partners of a new declaration, or of a change of partners, reporting every
/// failure:
///
/// - outside England no partner may be named, primary or secondary;
/// - inside England, from cohort 2024 a primary partner is required;
/// - a partner must exist, and must work with the lead provider in the declaration's cohort;
/// - a secondary partner needs a primary one, and must differ from it.
pub fn check_delivery_partners(
    application: &Application,
    cohort: CohortIdentifier,
    choice: &PartnerChoice,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !inside_catchment(application) {
        if choice.primary.is_some() {
            errors.push(partner_error(
                "delivery_partner_id",
                "Declarations for participants who work outside England must not name a delivery partner.",
            ));
        }
        if choice.secondary.is_some() {
            errors.push(partner_error(
                "secondary_delivery_partner_id",
                "Declarations for participants who work outside England must not name a delivery partner.",
            ));
        }
        return errors;
    }
    match choice.primary {
        None if cohort.start_year() >= 2024 => errors.push(partner_error(
            "delivery_partner_id",
            "Give '#/delivery_partner_id': declarations from cohort 2024 name the delivery partner.",
        )),
        None => {}
        Some(primary) if !choice.known.contains(&primary) => {
            errors.push(partner_error("delivery_partner_id", "No delivery partner has this id."))
        }
        Some(primary) if !choice.available.contains(&primary) => errors.push(partner_error(
            "delivery_partner_id",
            "This delivery partner does not work with your organisation in the participant's cohort.",
        )),
        Some(_) => {}
    }
    if let Some(secondary) = choice.secondary {
        if choice.primary.is_none() {
            errors.push(partner_error(
                "secondary_delivery_partner_id",
                "A secondary delivery partner needs a primary one in '#/delivery_partner_id'.",
            ));
        } else if choice.primary == Some(secondary) {
            errors.push(partner_error(
                "secondary_delivery_partner_id",
                "The secondary delivery partner must differ from the primary one.",
            ));
        } else if !choice.known.contains(&secondary) {
            errors.push(partner_error("secondary_delivery_partner_id", "No delivery partner has this id."));
        } else if !choice.available.contains(&secondary) {
            errors.push(partner_error(
                "secondary_delivery_partner_id",
                "This delivery partner does not work with your organisation in the participant's cohort.",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod partner_tests {
    use super::*;

    fn application(catchment: TeacherCatchment, cohort: &str) -> Application {
        let person = crate::testing::person("Dee Example");
        let mut application =
            crate::testing::application(&person, crate::ids::LeadProviderId::new_random(), crate::testing::june(1, 9));
        application.teacher_catchment = Some(catchment);
        application.cohort = cohort.parse().unwrap();
        application
    }

    fn titles(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|error| error.attribute.as_str()).collect()
    }

    #[test]
    fn a_partner_is_required_from_2024_inside_england() {
        let partner = DeliveryPartnerId::new_random();
        let choice =
            |primary| PartnerChoice { primary, secondary: None, known: vec![partner], available: vec![partner] };
        let england_2025 = application(TeacherCatchment::England, "2025a");
        assert_eq!(
            titles(&check_delivery_partners(&england_2025, england_2025.cohort, &choice(None))),
            ["delivery_partner_id"]
        );
        assert!(check_delivery_partners(&england_2025, england_2025.cohort, &choice(Some(partner))).is_empty());
        let england_2023 = application(TeacherCatchment::England, "2023a");
        assert!(check_delivery_partners(&england_2023, england_2023.cohort, &choice(None)).is_empty());
    }

    #[test]
    fn no_partner_may_be_named_outside_england() {
        let partner = DeliveryPartnerId::new_random();
        let overseas = application(TeacherCatchment::Another, "2025a");
        let choice = PartnerChoice {
            primary: Some(partner),
            secondary: Some(DeliveryPartnerId::new_random()),
            known: vec![partner],
            available: vec![partner],
        };
        let errors = check_delivery_partners(&overseas, overseas.cohort, &choice);
        assert_eq!(titles(&errors), ["delivery_partner_id", "secondary_delivery_partner_id"]);
    }

    #[test]
    fn partners_must_exist_work_with_the_provider_and_differ() {
        let (first, second, stranger) =
            (DeliveryPartnerId::new_random(), DeliveryPartnerId::new_random(), DeliveryPartnerId::new_random());
        let england = application(TeacherCatchment::England, "2025a");
        let choice = |primary, secondary| PartnerChoice {
            primary,
            secondary,
            known: vec![first, second, stranger],
            available: vec![first, second],
        };
        let check = |primary, secondary| {
            titles(&check_delivery_partners(&england, england.cohort, &choice(primary, secondary))).join(",")
        };
        assert_eq!(check(Some(stranger), None), "delivery_partner_id");
        assert_eq!(check(Some(DeliveryPartnerId::new_random()), None), "delivery_partner_id");
        assert_eq!(check(Some(first), Some(first)), "secondary_delivery_partner_id");
        assert_eq!(check(Some(first), Some(stranger)), "secondary_delivery_partner_id");
        assert_eq!(check(None, Some(second)), "delivery_partner_id,secondary_delivery_partner_id");
        assert_eq!(check(Some(first), Some(second)), "");
    }

    #[test]
    fn an_english_school_urn_counts_as_inside_england_before_2024() {
        let mut older = application(TeacherCatchment::Another, "2023a");
        older.teacher_catchment = None;
        older.school_urn = "100001".parse().ok();
        assert!(inside_catchment(&older));
        older.cohort = "2024a".parse().unwrap();
        assert!(!inside_catchment(&older));
    }
}

/// Parses a declaration date: an RFC 3339 date and time such as `2025-10-02T10:00:00Z`, with an
/// optional fraction of a second (after `.` or `,`) and a zone of `Z` or an offset written `+hh`,
/// `+hhmm` or `+hh:mm`. `T` and `Z` may be lower case. A date alone, or a date or time that does
/// not exist, is an error titled `declaration_date`.
pub fn parse_declaration_date(text: &str) -> Result<Timestamp, FieldError> {
    let invalid = || FieldError {
        attribute: "declaration_date".to_owned(),
        message: format!(
            "'{text}' is not an RFC 3339 date and time such as 2025-10-02T10:00:00Z; a date alone is not enough."
        ),
    };
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes.get(range.clone()).is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let shape = bytes.len() >= 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && matches!(bytes[10], b'T' | b't')
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19);
    if !shape {
        return Err(invalid());
    }
    let mut rest = &text[19..];
    let mut fraction = String::new();
    if let Some(after) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
        let length = after.bytes().take_while(u8::is_ascii_digit).count();
        if length == 0 {
            return Err(invalid());
        }
        fraction = format!(".{}", &after[..length]);
        rest = &after[length..];
    }
    let zone = match rest {
        "Z" | "z" => "+00:00".to_owned(),
        offset if offset.len() == 3 && offset.is_char_boundary(1) => format!("{offset}:00"),
        offset if offset.len() == 5 && !offset.contains(':') && offset.is_char_boundary(3) => {
            format!("{}:{}", &offset[..3], &offset[3..])
        }
        offset => offset.to_owned(),
    };
    let canonical = format!("{}T{}{fraction}{zone}", &text[..10], &text[11..19]);
    chrono::DateTime::parse_from_rfc3339(&canonical)
        .map(|instant| instant.with_timezone(&chrono::Utc))
        .map_err(|_| invalid())
}

/// Checks a declaration's date against its schedule and the participant's training, reporting
/// every failure: it must not be before the first day of the schedule, not in the future, and
/// earlier than the participant's withdrawal, if they are withdrawn.
pub fn check_declaration_date(
    date: Timestamp,
    schedule_starts: chrono::NaiveDate,
    now: Timestamp,
    withdrawn_at: Option<Timestamp>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(withdrawn_at) = withdrawn_at
        && withdrawn_at <= date
    {
        errors.push(FieldError {
            attribute: "participant_id".to_owned(),
            message: format!(
                "The participant was withdrawn at {}; declare only what happened before then.",
                withdrawn_at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        });
    }
    if date.date_naive() < schedule_starts {
        errors.push(FieldError {
            attribute: "declaration_date".to_owned(),
            message: format!("The declaration date is before the schedule starts on {schedule_starts}."),
        });
    }
    if date > now {
        errors.push(FieldError {
            attribute: "declaration_date".to_owned(),
            message: "The declaration date is in the future; declare a milestone once it has happened.".to_owned(),
        });
    }
    errors
}

/// What voiding a declaration does: voids it before payment, or claws the payment back after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voiding {
    /// The declaration becomes `voided`.
    Void,
    /// The declaration becomes `awaiting-clawback`, and the payment is taken back on the provider's
    /// next output statement for the cohort.
    ClawBack,
}

/// Decides what voiding a declaration in `state` does. A clawback needs an open output statement
/// for the cohort (`open_statement`), and is refused when the payment is already being or has been
/// taken back. Every refusal is titled `declaration`.
pub fn void(state: DeclarationState, open_statement: bool) -> Result<Voiding, Vec<FieldError>> {
    let error = |message: &str| FieldError { attribute: "declaration".to_owned(), message: message.to_owned() };
    match state {
        DeclarationState::Submitted
        | DeclarationState::Eligible
        | DeclarationState::Payable
        | DeclarationState::Ineligible => Ok(Voiding::Void),
        DeclarationState::Voided => Err(vec![error("This declaration has already been voided.")]),
        DeclarationState::Paid if open_statement => Ok(Voiding::ClawBack),
        DeclarationState::Paid => Err(vec![error(
            "The cohort's contract has no open output statement to take the payment back on. Contact DfE.",
        )]),
        DeclarationState::AwaitingClawback | DeclarationState::ClawedBack => {
            let mut errors = vec![error("The payment for this declaration is already being or has been taken back.")];
            if !open_statement {
                errors.push(error("The cohort's contract has no open output statement. Contact DfE."));
            }
            Err(errors)
        }
    }
}

#[cfg(test)]
mod date_and_void_tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn rfc_3339_dates_are_read_in_every_allowed_form() {
        let expected = chrono::Utc.with_ymd_and_hms(2025, 10, 2, 10, 0, 0).unwrap();
        for text in [
            "2025-10-02T10:00:00Z",
            "2025-10-02t10:00:00z",
            "2025-10-02T11:00:00+01:00",
            "2025-10-02T11:00:00+0100",
            "2025-10-02T11:00:00+01",
            "2025-10-02T10:00:00.000Z",
            "2025-10-02T10:00:00,0Z",
        ] {
            assert_eq!(parse_declaration_date(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn dates_alone_and_impossible_dates_are_refused() {
        for text in [
            "2025-10-02",
            "2025-19-02T10:00:00Z",
            "2025-10-02T29:00:00Z",
            "2025-10-02 10:00:00Z",
            "2025-10-02T10:00:00",
            "",
        ] {
            assert_eq!(parse_declaration_date(text).unwrap_err().attribute, "declaration_date", "{text}");
        }
    }

    #[test]
    fn the_date_must_fall_between_the_schedule_start_now_and_any_withdrawal() {
        let now = chrono::Utc.with_ymd_and_hms(2025, 12, 1, 12, 0, 0).unwrap();
        let starts = chrono::NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();
        let on_the_first_day = chrono::Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0).unwrap();
        assert!(check_declaration_date(on_the_first_day, starts, now, None).is_empty());
        let before = chrono::Utc.with_ymd_and_hms(2025, 9, 30, 23, 0, 0).unwrap();
        assert_eq!(check_declaration_date(before, starts, now, None)[0].attribute, "declaration_date");
        let tomorrow = now + chrono::Duration::days(1);
        assert_eq!(check_declaration_date(tomorrow, starts, now, None)[0].attribute, "declaration_date");
        let withdrawn = chrono::Utc.with_ymd_and_hms(2025, 11, 1, 9, 0, 0).unwrap();
        assert_eq!(check_declaration_date(withdrawn, starts, now, Some(withdrawn))[0].attribute, "participant_id");
        assert!(
            check_declaration_date(withdrawn - chrono::Duration::seconds(1), starts, now, Some(withdrawn)).is_empty()
        );
    }

    #[test]
    fn voiding_follows_the_payment() {
        assert_eq!(void(DeclarationState::Eligible, false), Ok(Voiding::Void));
        assert_eq!(void(DeclarationState::Paid, true), Ok(Voiding::ClawBack));
        assert!(void(DeclarationState::Paid, false).is_err());
        assert_eq!(void(DeclarationState::ClawedBack, false).unwrap_err().len(), 2);
        assert!(void(DeclarationState::Voided, true).is_err());
    }

    proptest! {
        /// Parsing never panics, and what parses prints back to the same instant.
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,40}") {
            if let Ok(instant) = parse_declaration_date(&text) {
                prop_assert_eq!(parse_declaration_date(&instant.to_rfc3339()), Ok(instant));
            }
        }

        /// A successful void always lands on a state the state machine allows from where it started.
        #[test]
        fn a_successful_void_is_a_listed_transition(state in proptest::sample::select(DeclarationState::ALL), open: bool) {
            if void(state, open).is_ok() {
                prop_assert!(state.after(DeclarationEvent::Void).is_some());
            }
        }
    }
}

text_enum!(
    /// The result of a participant's assessment, recorded against their completed declaration.
    OutcomeState, "outcome state" {
        Passed => "passed",
        Failed => "failed",
        /// The completed declaration was voided or clawed back.
        Voided => "voided",
    }
);

/// A `has_passed` value as a request sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HasPassedInput {
    #[default]
    Missing,
    Boolean(bool),
    Text(String),
    /// Any other JSON value, such as a number or `null`.
    Other,
}

/// Reads `has_passed` for a `completed` declaration on a leadership or specialist course: a JSON
/// boolean, or the text `true` or `false`. Anything else, a missing value included, is an error
/// titled `has_passed`.
pub fn parse_has_passed(input: &HasPassedInput) -> Result<bool, FieldError> {
    match input {
        HasPassedInput::Boolean(value) => Ok(*value),
        HasPassedInput::Text(text) if text == "true" => Ok(true),
        HasPassedInput::Text(text) if text == "false" => Ok(false),
        _ => Err(FieldError {
            attribute: "has_passed".to_owned(),
            message: "Set '#/has_passed' to true or false for a completed declaration on this course.".to_owned(),
        }),
    }
}

/// Returns whether recording an outcome in `state` on `completion_date` adds a row, given the
/// latest outcome of the declaration. Recording `passed` again, or the same state on the same
/// date, adds nothing: the latest outcome stands.
pub fn outcome_adds_row(
    latest: Option<(OutcomeState, chrono::NaiveDate)>,
    state: OutcomeState,
    completion_date: chrono::NaiveDate,
) -> bool {
    match latest {
        Some((OutcomeState::Passed, _)) if state == OutcomeState::Passed => false,
        Some((latest_state, latest_date)) => latest_state != state || latest_date != completion_date,
        None => true,
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    fn day(text: &str) -> chrono::NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn has_passed_takes_booleans_and_their_text_only() {
        assert_eq!(parse_has_passed(&HasPassedInput::Boolean(true)), Ok(true));
        assert_eq!(parse_has_passed(&HasPassedInput::Text("false".to_owned())), Ok(false));
        for input in [HasPassedInput::Missing, HasPassedInput::Other, HasPassedInput::Text("yes".to_owned())] {
            assert_eq!(parse_has_passed(&input).unwrap_err().attribute, "has_passed");
        }
    }

    #[test]
    fn repeating_an_outcome_adds_no_row() {
        assert!(outcome_adds_row(None, OutcomeState::Passed, day("2025-06-01")));
        assert!(!outcome_adds_row(
            Some((OutcomeState::Passed, day("2025-06-01"))),
            OutcomeState::Passed,
            day("2025-07-01")
        ));
        assert!(!outcome_adds_row(
            Some((OutcomeState::Failed, day("2025-06-01"))),
            OutcomeState::Failed,
            day("2025-06-01")
        ));
        assert!(outcome_adds_row(
            Some((OutcomeState::Failed, day("2025-06-01"))),
            OutcomeState::Failed,
            day("2025-07-01")
        ));
        assert!(outcome_adds_row(
            Some((OutcomeState::Passed, day("2025-06-01"))),
            OutcomeState::Failed,
            day("2025-06-01")
        ));
        assert!(outcome_adds_row(
            Some((OutcomeState::Voided, day("2025-06-01"))),
            OutcomeState::Passed,
            day("2025-06-01")
        ));
    }
}

/// Returns the error for a new declaration of `declaration_type` when the application already has
/// one of that type that holds its milestone (submitted, eligible, payable or paid): void it before
/// declaring again.
pub fn milestone_taken(declaration_type: DeclarationType, made: &[MadeDeclaration]) -> Option<FieldError> {
    made.iter().any(|made| made.declaration_type == declaration_type && made.state.holds_milestone()).then(|| {
        FieldError {
            attribute: "base".to_owned(),
            message: format!(
                "A '{declaration_type}' declaration for this participant and course already exists; void it before declaring again."
            ),
        }
    })
}

/// A declaration of another account with the same TRN, for the same or an equivalent course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateCandidate {
    pub id: DeclarationId,
    pub declaration_type: DeclarationType,
    pub state: DeclarationState,
    /// Whether it was itself found to duplicate another.
    pub superseded: bool,
    pub created_at: Timestamp,
}

/// Returns the declaration a new one duplicates, if any: among declarations of other accounts of
/// the same teacher, for the same or an equivalent course, the oldest one of the same type that
/// holds its milestone and duplicates nothing itself. The new declaration is then stored as
/// ineligible and superseded by it, so DfE pays for the milestone once.
pub fn duplicated_declaration(
    declaration_type: DeclarationType,
    candidates: &[DuplicateCandidate],
) -> Option<DeclarationId> {
    candidates
        .iter()
        .filter(|candidate| {
            candidate.declaration_type == declaration_type && candidate.state.holds_milestone() && !candidate.superseded
        })
        .min_by_key(|candidate| (candidate.created_at, candidate.id))
        .map(|candidate| candidate.id)
}

#[cfg(test)]
mod duplicate_tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2025, 11, day, 10, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn a_live_declaration_of_the_type_blocks_a_second_one() {
        let started = MadeDeclaration {
            declaration_type: DeclarationType::Started,
            state: DeclarationState::Eligible,
            declaration_date: at(1),
        };
        assert_eq!(
            milestone_taken(DeclarationType::Started, &[started]).map(|error| error.attribute),
            Some("base".to_owned())
        );
        assert_eq!(milestone_taken(DeclarationType::RetainedOne, &[started]), None);
        let voided = MadeDeclaration { state: DeclarationState::Voided, ..started };
        assert_eq!(milestone_taken(DeclarationType::Started, &[voided]), None);
        let clawed = MadeDeclaration { state: DeclarationState::AwaitingClawback, ..started };
        assert_eq!(milestone_taken(DeclarationType::Started, &[clawed]), None);
    }

    #[test]
    fn the_oldest_live_declaration_of_another_account_is_the_one_duplicated() {
        let candidate = |day, state, superseded| DuplicateCandidate {
            id: DeclarationId::new_random(),
            declaration_type: DeclarationType::Started,
            state,
            superseded,
            created_at: at(day),
        };
        let oldest = candidate(2, DeclarationState::Paid, false);
        let candidates = [
            candidate(1, DeclarationState::Voided, false),
            candidate(1, DeclarationState::Eligible, true),
            candidate(3, DeclarationState::Submitted, false),
            oldest,
        ];
        assert_eq!(duplicated_declaration(DeclarationType::Started, &candidates), Some(oldest.id));
        assert_eq!(duplicated_declaration(DeclarationType::Completed, &candidates), None);
    }
}
