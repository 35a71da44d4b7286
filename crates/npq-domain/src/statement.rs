//! Statements: a lead provider's monthly bill to DfE for one cohort, the states it goes through on
//! the way to payment, and what each step does to the declarations on it.
//!
//! A statement collects declarations through statement items. An output-fee statement takes new
//! declarations and clawbacks until its deadline (the cut-off date). After the deadline a daily job
//! marks it payable, and DfE marks it paid once staff have checked it. Every function here is pure:
//! the store loads a statement and its items in a transaction and writes back what these functions
//! return. The money on a statement is calculated in [`crate::payment`].

use chrono::{Month, NaiveDate};

use crate::Timestamp;
use crate::cohort::CohortIdentifier;
use crate::declaration::{DeclarationEvent, DeclarationState};
use crate::error::FieldError;
use crate::ids::{LeadProviderId, StatementId};
use crate::payment::Pence;

/// Earliest year a statement can be for.
pub const FIRST_YEAR: i32 = 2020;
/// Latest year a statement can be for.
pub const LAST_YEAR: i32 = 2050;

text_enum!(
    /// The stage a statement has reached on its way to payment.
    StatementState, "statement state" {
        /// Takes new declarations and clawbacks until its deadline.
        Open => "open",
        /// Its deadline has passed, so its declarations are due to be paid.
        Payable => "payable",
        /// DfE has paid it, so nothing on it changes any more.
        Paid => "paid",
    }
);

/// An event that moves a statement from one state to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementEvent {
    /// The deadline has passed.
    MarkPayable,
    /// DfE has authorised the payment.
    MarkPaid,
}

impl StatementState {
    /// Returns the state after `event`, or `None` when the event is not allowed in this state.
    /// A statement only moves forward: open, then payable, then paid.
    pub const fn after(self, event: StatementEvent) -> Option<Self> {
        match (self, event) {
            (Self::Open, StatementEvent::MarkPayable) => Some(Self::Payable),
            (Self::Payable, StatementEvent::MarkPaid) => Some(Self::Paid),
            _ => None,
        }
    }

    /// Returns whether the statement's contracts and contract terms may still change. Once a
    /// statement is payable its figures are final, so its contracts are fixed.
    pub const fn allows_contract_changes(self) -> bool {
        matches!(self, Self::Open)
    }
}

text_enum!(
    /// The stage a declaration has reached on one statement. A declaration has at most two items:
    /// one that pays it and one that takes the payment back.
    StatementItemState, "statement item state" {
        Eligible => "eligible",
        Payable => "payable",
        Paid => "paid",
        Voided => "voided",
        /// The declaration was voided after payment, and this statement takes the payment back.
        AwaitingClawback => "awaiting-clawback",
        ClawedBack => "clawed-back",
        Ineligible => "ineligible",
    }
);

/// An event that moves a statement item from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemEvent {
    /// The statement's deadline has passed.
    MarkPayable,
    /// The statement has been paid.
    MarkPaid,
    /// The declaration was voided before payment.
    Void,
    MarkAwaitingClawback,
    /// The statement holding the clawback has been paid.
    MarkClawedBack,
    /// The declaration duplicates another account's declaration.
    MarkIneligible,
    /// DfE moves a payable declaration back, for example to another statement.
    RevertToEligible,
}

/// Group of item states that a statement's calculation counts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemGroup {
    /// Eligible, payable or paid: the statement pays for it.
    Billable,
    /// Awaiting clawback or clawed back: the statement takes a payment back.
    Refundable,
    /// Ineligible or voided: counted, but worth nothing.
    NotEligible,
}

impl StatementItemState {
    /// Returns the state after `event`, or `None` when the event is not allowed in this state.
    pub const fn after(self, event: ItemEvent) -> Option<Self> {
        use ItemEvent::*;
        match (self, event) {
            (Self::Eligible, MarkPayable) => Some(Self::Payable),
            (Self::Payable, MarkPaid) => Some(Self::Paid),
            (Self::Eligible | Self::Ineligible | Self::Payable, Void) => Some(Self::Voided),
            (Self::Paid, MarkAwaitingClawback) => Some(Self::AwaitingClawback),
            (Self::AwaitingClawback, MarkClawedBack) => Some(Self::ClawedBack),
            (Self::Eligible, MarkIneligible) => Some(Self::Ineligible),
            (Self::Payable, RevertToEligible) => Some(Self::Eligible),
            _ => None,
        }
    }

    /// Returns the group in which a statement's calculation counts an item in this state.
    pub const fn group(self) -> ItemGroup {
        match self {
            Self::Eligible | Self::Payable | Self::Paid => ItemGroup::Billable,
            Self::AwaitingClawback | Self::ClawedBack => ItemGroup::Refundable,
            Self::Ineligible | Self::Voided => ItemGroup::NotEligible,
        }
    }
}

/// A lead provider's statement for one cohort and one calendar month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub id: StatementId,
    pub lead_provider: LeadProviderId,
    pub cohort: CohortIdentifier,
    /// Year of the statement period, from [`FIRST_YEAR`] to [`LAST_YEAR`].
    pub year: i32,
    /// Month of the statement period, from 1 (January) to 12.
    pub month: u32,
    /// Last day on which a declaration can land on the statement (`cut_off_date` in the API).
    pub deadline_date: Option<NaiveDate>,
    /// Day DfE expects to pay the statement.
    pub payment_date: Option<NaiveDate>,
    /// Whether the statement pays for declarations. A statement without output fees pays only
    /// service fees, takes no declarations and is not shown to lead providers.
    pub output_fee: bool,
    pub state: StatementState,
    /// When DfE authorised the payment.
    pub marked_as_paid_at: Option<Timestamp>,
    /// Amount DfE adds to or takes off the total to settle differences found after earlier
    /// payments, positive or negative.
    pub reconcile_amount: Pence,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Statement {
    /// Returns the English name of the statement's month, as the API shows it (`January` to
    /// `December`), or `None` for a month outside 1 to 12.
    pub fn month_name(&self) -> Option<&'static str> {
        let month = u8::try_from(self.month).ok()?;
        Month::try_from(month).ok().map(|month| month.name())
    }

    /// Returns the first day of the statement's month, or `None` when the year and month do not
    /// make a date.
    pub fn period(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }
}

fn error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

/// Checks a statement's own fields and reports every failure: the month must be from 1 to 12,
/// the year from [`FIRST_YEAR`] to [`LAST_YEAR`], and the payment date must not come before the
/// deadline when both are set.
pub fn check_statement_fields(statement: &Statement) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !(1..=12).contains(&statement.month) {
        errors.push(error("month", format!("The month {} is invalid; use a number from 1 to 12.", statement.month)));
    }
    if !(FIRST_YEAR..=LAST_YEAR).contains(&statement.year) {
        errors.push(error(
            "year",
            format!("The year {} is invalid; use a year from {FIRST_YEAR} to {LAST_YEAR}.", statement.year),
        ));
    }
    if let (Some(deadline), Some(payment)) = (statement.deadline_date, statement.payment_date)
        && payment < deadline
    {
        errors.push(error(
            "payment_date",
            format!("The payment date {payment} is before the deadline {deadline}; pay on or after the deadline."),
        ));
    }
    errors
}

/// Checks a statement about to be created, reporting every failure: its fields as
/// [`check_statement_fields`] checks them, and no other statement in `existing` may have the same
/// lead provider, cohort, year and month.
pub fn check_new_statement(statement: &Statement, existing: &[Statement]) -> Vec<FieldError> {
    let mut errors = check_statement_fields(statement);
    let same_period = existing.iter().any(|other| {
        other.id != statement.id
            && other.lead_provider == statement.lead_provider
            && other.cohort == statement.cohort
            && other.year == statement.year
            && other.month == statement.month
    });
    if same_period {
        errors.push(error(
            "base",
            format!(
                "The lead provider already has a statement for cohort {} in {}/{}.",
                statement.cohort, statement.month, statement.year
            ),
        ));
    }
    errors
}

/// Checks a change to a stored statement and reports every failure.
///
/// The id, lead provider, cohort and creation time never change, and the state moves at most one
/// step forward. Once the statement is payable, only its state, `marked_as_paid_at`, `output_fee`
/// and `updated_at` may change. Once it is paid, nothing may change. The new fields must also pass
/// [`check_statement_fields`].
pub fn check_statement_update(before: &Statement, after: &Statement) -> Vec<FieldError> {
    if before.state == StatementState::Paid {
        return if before == after {
            Vec::new()
        } else {
            vec![error("base", "The statement has been paid, so it cannot be changed.")]
        };
    }

    let mut errors = Vec::new();
    let identity_changed = before.id != after.id
        || before.lead_provider != after.lead_provider
        || before.cohort != after.cohort
        || before.created_at != after.created_at;
    if identity_changed {
        errors.push(error("base", "A statement's id, lead provider, cohort and creation time cannot change."));
    }
    let allowed_state = after.state == before.state
        || [StatementEvent::MarkPayable, StatementEvent::MarkPaid]
            .iter()
            .any(|event| before.state.after(*event) == Some(after.state));
    if !allowed_state {
        errors.push(error("state", format!("A statement cannot go from {} to {}.", before.state, after.state)));
    }
    if before.state == StatementState::Payable {
        let frozen_fields_changed = before.year != after.year
            || before.month != after.month
            || before.deadline_date != after.deadline_date
            || before.payment_date != after.payment_date
            || before.reconcile_amount != after.reconcile_amount;
        if frozen_fields_changed {
            errors.push(error(
                "base",
                "The statement is payable, so only its state, payment authorisation and output fee flag can change.",
            ));
        }
    }
    errors.extend(check_statement_fields(after));
    errors
}

/// Sets a new deadline on an open statement and returns the changed statement, or every reason
/// the change is rejected: the statement is not open, or the deadline would fall after the payment
/// date. A statement without a payment date accepts any deadline.
pub fn change_deadline_date(
    statement: &Statement,
    deadline: NaiveDate,
    now: Timestamp,
) -> Result<Statement, Vec<FieldError>> {
    let mut errors = Vec::new();
    if statement.state != StatementState::Open {
        errors.push(not_open_error(statement.state));
    }
    if let Some(payment) = statement.payment_date
        && deadline > payment
    {
        errors.push(error(
            "deadline_date",
            format!("The deadline {deadline} is after the payment date {payment}; set a deadline on or before it."),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    Ok(Statement { deadline_date: Some(deadline), updated_at: now, ..statement.clone() })
}

/// Sets a new payment date on an open statement and returns the changed statement, or every reason
/// the change is rejected: the statement is not open, or the payment date would come before the
/// deadline. A statement without a deadline accepts any payment date.
pub fn change_payment_date(
    statement: &Statement,
    payment: NaiveDate,
    now: Timestamp,
) -> Result<Statement, Vec<FieldError>> {
    let mut errors = Vec::new();
    if statement.state != StatementState::Open {
        errors.push(not_open_error(statement.state));
    }
    if let Some(deadline) = statement.deadline_date
        && payment < deadline
    {
        errors.push(error(
            "payment_date",
            format!("The payment date {payment} is before the deadline {deadline}; pay on or after the deadline."),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    Ok(Statement { payment_date: Some(payment), updated_at: now, ..statement.clone() })
}

fn not_open_error(state: StatementState) -> FieldError {
    error("base", format!("The statement is {state}; its dates can change only while it is open."))
}

/// Returns the statement that a declaration or clawback made on `today` lands on: among the lead
/// provider's statements for exactly this cohort, the open output-fee statement whose deadline is
/// today or later, earliest deadline first, then lowest id. A statement without a deadline never
/// qualifies. `None` means the cohort's contract has no statement left to pay on.
pub fn next_output_fee_statement(
    statements: &[Statement],
    lead_provider: LeadProviderId,
    cohort: CohortIdentifier,
    today: NaiveDate,
) -> Option<&Statement> {
    statements
        .iter()
        .filter(|statement| {
            statement.lead_provider == lead_provider
                && statement.cohort == cohort
                && statement.state == StatementState::Open
                && statement.output_fee
                && statement.deadline_date.is_some_and(|deadline| deadline >= today)
        })
        .min_by_key(|statement| (statement.deadline_date, statement.id))
}

/// Returns the statements the daily deadline job marks payable on `today`: every open statement
/// whose deadline is before today, with or without output fees, earliest deadline first. A
/// statement whose deadline was several days ago is included, so a day on which the job did not
/// run strands nothing.
pub fn statements_due_payable(statements: &[Statement], today: NaiveDate) -> Vec<&Statement> {
    let mut due: Vec<&Statement> = statements
        .iter()
        .filter(|statement| {
            statement.state == StatementState::Open && statement.deadline_date.is_some_and(|deadline| deadline < today)
        })
        .collect();
    due.sort_by_key(|statement| (statement.deadline_date, statement.id));
    due
}

/// A declaration linked to a statement through one item: the state of the declaration and the
/// state of its item on that statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkedDeclaration {
    pub declaration: DeclarationState,
    pub item: StatementItemState,
}

/// A statement after a transition, and its linked declarations in the same order as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementTransition {
    pub statement: Statement,
    pub linked: Vec<LinkedDeclaration>,
}

/// Reason a statement cannot be marked payable or paid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Only an open statement can become payable.
    #[error("the statement is {0}, but only an open statement can be marked payable")]
    NotOpen(StatementState),
    /// Only a payable statement can be paid.
    #[error("the statement is {0}, but only a payable statement can be marked paid")]
    NotPayable(StatementState),
    #[error("the statement has no deadline; set its deadline before marking it payable or paid")]
    NoDeadline,
    #[error("the statement's deadline {deadline} has not passed on {today}; try again after the deadline")]
    DeadlineNotPassed { deadline: NaiveDate, today: NaiveDate },
    /// Statements without output fees pay no declarations and are not paid through this route.
    #[error("the statement has no output fees, so it cannot be marked paid")]
    NotOutputFee,
    #[error("no declaration is linked to the statement, so there is nothing to pay")]
    NoDeclarations,
}

fn check_deadline_passed(statement: &Statement, today: NaiveDate) -> Result<(), TransitionError> {
    let deadline = statement.deadline_date.ok_or(TransitionError::NoDeadline)?;
    if deadline >= today {
        return Err(TransitionError::DeadlineNotPassed { deadline, today });
    }
    Ok(())
}

/// Marks an open statement payable once its deadline is before `now`'s date (UTC).
///
/// Every linked declaration in `eligible` becomes `payable`, and so does its item on this
/// statement. Every other declaration and item is left as it is, voided and ineligible ones
/// included.
///
/// # Errors
///
/// [`TransitionError::NotOpen`] unless the statement is open, and [`TransitionError::NoDeadline`]
/// or [`TransitionError::DeadlineNotPassed`] unless its deadline is before today.
pub fn mark_payable(
    statement: &Statement,
    linked: &[LinkedDeclaration],
    now: Timestamp,
) -> Result<StatementTransition, TransitionError> {
    let Some(state) = statement.state.after(StatementEvent::MarkPayable) else {
        return Err(TransitionError::NotOpen(statement.state));
    };
    check_deadline_passed(statement, now.date_naive())?;

    let linked = linked
        .iter()
        .map(|link| LinkedDeclaration {
            declaration: link.declaration.after(DeclarationEvent::MarkPayable).unwrap_or(link.declaration),
            item: link.item.after(ItemEvent::MarkPayable).unwrap_or(link.item),
        })
        .collect();
    let statement = Statement { state, updated_at: now, ..statement.clone() };
    Ok(StatementTransition { statement, linked })
}

/// Marks a payable statement paid on DfE's authorisation at `now`, and records that time.
///
/// Every linked declaration in `payable` becomes `paid`, and every linked declaration in
/// `awaiting-clawback` becomes `clawed-back`. Items on this statement move the same way. Voided
/// and ineligible declarations and items are left as they are.
///
/// # Errors
///
/// [`TransitionError::NotPayable`] unless the statement is payable, [`TransitionError::NotOutputFee`]
/// unless it has output fees, [`TransitionError::NoDeadline`] or
/// [`TransitionError::DeadlineNotPassed`] unless its deadline is before today, and
/// [`TransitionError::NoDeclarations`] when no declaration is linked to it.
pub fn mark_paid(
    statement: &Statement,
    linked: &[LinkedDeclaration],
    now: Timestamp,
) -> Result<StatementTransition, TransitionError> {
    let Some(state) = statement.state.after(StatementEvent::MarkPaid) else {
        return Err(TransitionError::NotPayable(statement.state));
    };
    if !statement.output_fee {
        return Err(TransitionError::NotOutputFee);
    }
    check_deadline_passed(statement, now.date_naive())?;
    if linked.is_empty() {
        return Err(TransitionError::NoDeclarations);
    }

    let linked = linked
        .iter()
        .map(|link| LinkedDeclaration {
            declaration: link
                .declaration
                .after(DeclarationEvent::MarkPaid)
                .or(link.declaration.after(DeclarationEvent::MarkClawedBack))
                .unwrap_or(link.declaration),
            item: link
                .item
                .after(ItemEvent::MarkPaid)
                .or(link.item.after(ItemEvent::MarkClawedBack))
                .unwrap_or(link.item),
        })
        .collect();
    let statement = Statement { state, marked_as_paid_at: Some(now), updated_at: now, ..statement.clone() };
    Ok(StatementTransition { statement, linked })
}

/// Returns the new state of a declaration's item when the declaration is voided before payment.
///
/// An eligible, ineligible or payable item becomes voided, unless its statement has been paid.
/// A paid statement keeps its items as they are, so its figures never change after payment. The
/// declaration itself still becomes voided.
pub fn item_after_void(item: StatementItemState, statement: StatementState) -> StatementItemState {
    if statement == StatementState::Paid {
        return item;
    }
    item.after(ItemEvent::Void).unwrap_or(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn noon(text: &str) -> Timestamp {
        chrono::Utc.from_utc_datetime(&day(text).and_hms_opt(12, 0, 0).unwrap())
    }

    fn provider() -> LeadProviderId {
        LeadProviderId::from_uuid(Uuid::from_u128(1))
    }

    fn cohort() -> CohortIdentifier {
        "2025a".parse().unwrap()
    }

    /// Returns an open output-fee statement for July 2025 with the given id and deadline.
    fn statement(id: u128, deadline: &str) -> Statement {
        Statement {
            id: StatementId::from_uuid(Uuid::from_u128(id)),
            lead_provider: provider(),
            cohort: cohort(),
            year: 2025,
            month: 7,
            deadline_date: Some(day(deadline)),
            payment_date: Some(day(deadline) + chrono::Duration::days(25)),
            output_fee: true,
            state: StatementState::Open,
            marked_as_paid_at: None,
            reconcile_amount: Pence::ZERO,
            created_at: noon("2025-01-01"),
            updated_at: noon("2025-01-01"),
        }
    }

    fn attributes(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|error| error.attribute.as_str()).collect()
    }

    fn link(declaration: DeclarationState, item: StatementItemState) -> LinkedDeclaration {
        LinkedDeclaration { declaration, item }
    }

    #[test]
    fn month_seven_is_called_july() {
        assert_eq!(statement(1, "2025-07-31").month_name(), Some("July"));
        assert_eq!(Statement { month: 1, ..statement(1, "2025-07-31") }.month_name(), Some("January"));
        assert_eq!(Statement { month: 13, ..statement(1, "2025-07-31") }.month_name(), None);
    }

    #[test]
    fn states_read_as_stored() {
        assert_eq!("payable".parse::<StatementState>(), Ok(StatementState::Payable));
        assert_eq!(StatementItemState::AwaitingClawback.as_str(), "awaiting-clawback");
        assert_eq!("clawed-back".parse::<StatementItemState>(), Ok(StatementItemState::ClawedBack));
    }

    #[test]
    fn statements_move_only_forward() {
        assert_eq!(StatementState::Open.after(StatementEvent::MarkPayable), Some(StatementState::Payable));
        assert_eq!(StatementState::Payable.after(StatementEvent::MarkPaid), Some(StatementState::Paid));
        assert_eq!(StatementState::Open.after(StatementEvent::MarkPaid), None);
        assert_eq!(StatementState::Paid.after(StatementEvent::MarkPayable), None);
        assert_eq!(StatementState::Paid.after(StatementEvent::MarkPaid), None);
    }

    #[test]
    fn only_open_statements_accept_contract_changes() {
        assert!(StatementState::Open.allows_contract_changes());
        assert!(!StatementState::Payable.allows_contract_changes());
        assert!(!StatementState::Paid.allows_contract_changes());
    }

    #[test]
    fn item_states_fall_into_three_groups() {
        use StatementItemState::*;
        for state in [Eligible, Payable, Paid] {
            assert_eq!(state.group(), ItemGroup::Billable, "{state}");
        }
        for state in [AwaitingClawback, ClawedBack] {
            assert_eq!(state.group(), ItemGroup::Refundable, "{state}");
        }
        for state in [Ineligible, Voided] {
            assert_eq!(state.group(), ItemGroup::NotEligible, "{state}");
        }
    }

    #[test]
    fn new_statement_needs_valid_month_and_year() {
        let good = statement(1, "2025-07-31");
        assert!(check_new_statement(&good, &[]).is_empty());
        for month in [0, 13] {
            assert_eq!(attributes(&check_new_statement(&Statement { month, ..good.clone() }, &[])), ["month"]);
        }
        for year in [2019, 2051] {
            assert_eq!(attributes(&check_new_statement(&Statement { year, ..good.clone() }, &[])), ["year"]);
        }
        for year in [FIRST_YEAR, LAST_YEAR] {
            assert!(check_new_statement(&Statement { year, ..good.clone() }, &[]).is_empty(), "{year}");
        }
    }

    #[test]
    fn payment_date_cannot_precede_deadline() {
        let early = Statement { payment_date: Some(day("2025-07-30")), ..statement(1, "2025-07-31") };
        assert_eq!(attributes(&check_new_statement(&early, &[])), ["payment_date"]);
        let same_day = Statement { payment_date: Some(day("2025-07-31")), ..statement(1, "2025-07-31") };
        assert!(check_new_statement(&same_day, &[]).is_empty());
        let no_deadline = Statement { deadline_date: None, ..early.clone() };
        assert!(check_new_statement(&no_deadline, &[]).is_empty());
    }

    #[test]
    fn one_statement_per_provider_cohort_and_month() {
        let existing = statement(1, "2025-07-31");
        let same_month = statement(2, "2025-07-20");
        assert_eq!(attributes(&check_new_statement(&same_month, std::slice::from_ref(&existing))), ["base"]);
        let next_month = Statement { month: 8, ..statement(2, "2025-08-31") };
        assert!(check_new_statement(&next_month, std::slice::from_ref(&existing)).is_empty());
        let other_cohort = Statement { cohort: "2024a".parse().unwrap(), ..statement(2, "2025-07-31") };
        assert!(check_new_statement(&other_cohort, std::slice::from_ref(&existing)).is_empty());
        let other_provider =
            Statement { lead_provider: LeadProviderId::from_uuid(Uuid::from_u128(9)), ..statement(2, "2025-07-31") };
        assert!(check_new_statement(&other_provider, &[existing]).is_empty());
    }

    #[test]
    fn dates_change_only_while_the_statement_is_open() {
        let now = noon("2025-07-10");
        let open = statement(1, "2025-07-31");
        let moved = change_deadline_date(&open, day("2025-08-05"), now).unwrap();
        assert_eq!(moved.deadline_date, Some(day("2025-08-05")));
        assert_eq!(moved.updated_at, now);
        let paid_later = change_payment_date(&open, day("2025-09-01"), now).unwrap();
        assert_eq!(paid_later.payment_date, Some(day("2025-09-01")));

        for state in [StatementState::Payable, StatementState::Paid] {
            let closed = Statement { state, ..open.clone() };
            assert_eq!(attributes(&change_deadline_date(&closed, day("2025-08-01"), now).unwrap_err()), ["base"]);
            assert_eq!(attributes(&change_payment_date(&closed, day("2025-09-01"), now).unwrap_err()), ["base"]);
        }
    }

    #[test]
    fn date_changes_keep_payment_after_deadline() {
        let now = noon("2025-07-10");
        let open = statement(1, "2025-07-31");
        let late_deadline = open.payment_date.unwrap() + chrono::Duration::days(1);
        assert_eq!(attributes(&change_deadline_date(&open, late_deadline, now).unwrap_err()), ["deadline_date"]);
        let early_payment = day("2025-07-30");
        assert_eq!(attributes(&change_payment_date(&open, early_payment, now).unwrap_err()), ["payment_date"]);
    }

    #[test]
    fn missing_date_allows_any_other_date() {
        let now = noon("2025-07-10");
        let no_payment_date = Statement { payment_date: None, ..statement(1, "2025-07-31") };
        assert!(change_deadline_date(&no_payment_date, day("2026-01-01"), now).is_ok());
        let no_deadline = Statement { deadline_date: None, ..statement(1, "2025-07-31") };
        assert!(change_payment_date(&no_deadline, day("2020-01-01"), now).is_ok());
    }

    #[test]
    fn payable_statement_changes_only_payment_fields() {
        let payable = Statement { state: StatementState::Payable, ..statement(1, "2025-07-31") };
        let paid = Statement {
            state: StatementState::Paid,
            marked_as_paid_at: Some(noon("2025-08-20")),
            updated_at: noon("2025-08-20"),
            ..payable.clone()
        };
        assert!(check_statement_update(&payable, &paid).is_empty());
        let no_output_fee = Statement { output_fee: false, ..payable.clone() };
        assert!(check_statement_update(&payable, &no_output_fee).is_empty());
        let reconciled = Statement { reconcile_amount: Pence(100), ..payable.clone() };
        assert_eq!(attributes(&check_statement_update(&payable, &reconciled)), ["base"]);
        let reopened = Statement { state: StatementState::Open, ..payable.clone() };
        assert_eq!(attributes(&check_statement_update(&payable, &reopened)), ["state"]);
    }

    #[test]
    fn paid_statement_accepts_no_change() {
        let paid = Statement { state: StatementState::Paid, ..statement(1, "2025-07-31") };
        assert!(check_statement_update(&paid, &paid).is_empty());
        for changed in [
            Statement { output_fee: false, ..paid.clone() },
            Statement { updated_at: noon("2025-09-01"), ..paid.clone() },
            Statement { reconcile_amount: Pence(-1), ..paid.clone() },
        ] {
            assert_eq!(attributes(&check_statement_update(&paid, &changed)), ["base"]);
        }
    }

    #[test]
    fn update_cannot_skip_states_or_change_identity() {
        let open = statement(1, "2025-07-31");
        let skipped = Statement { state: StatementState::Paid, ..open.clone() };
        assert_eq!(attributes(&check_statement_update(&open, &skipped)), ["state"]);
        let moved = Statement { cohort: "2024a".parse().unwrap(), ..open.clone() };
        assert_eq!(attributes(&check_statement_update(&open, &moved)), ["base"]);
        let redated = Statement { deadline_date: Some(day("2025-08-10")), ..open.clone() };
        assert!(check_statement_update(&open, &redated).is_empty());
    }

    #[test]
    fn next_statement_is_earliest_open_output_fee() {
        let statements = [
            Statement { state: StatementState::Payable, ..statement(1, "2025-07-20") },
            statement(2, "2025-06-30"),
            Statement { output_fee: false, ..statement(3, "2025-07-25") },
            statement(4, "2025-08-31"),
            statement(5, "2025-07-31"),
            Statement { cohort: "2024a".parse().unwrap(), ..statement(6, "2025-07-26") },
            Statement { deadline_date: None, ..statement(7, "2025-07-27") },
        ];
        let next = next_output_fee_statement(&statements, provider(), cohort(), day("2025-07-10"));
        assert_eq!(next.map(|statement| statement.id), Some(statements[4].id));
        let other_provider = LeadProviderId::from_uuid(Uuid::from_u128(9));
        assert_eq!(next_output_fee_statement(&statements, other_provider, cohort(), day("2025-07-10")), None);
        assert_eq!(next_output_fee_statement(&statements, provider(), cohort(), day("2025-09-01")), None);
    }

    #[test]
    fn deadline_day_still_lands_on_statement() {
        let statements = [statement(1, "2025-07-31"), statement(2, "2025-08-31")];
        let on_deadline = next_output_fee_statement(&statements, provider(), cohort(), day("2025-07-31"));
        assert_eq!(on_deadline.map(|statement| statement.id), Some(statements[0].id));
        let day_after = next_output_fee_statement(&statements, provider(), cohort(), day("2025-08-01"));
        assert_eq!(day_after.map(|statement| statement.id), Some(statements[1].id));
    }

    #[test]
    fn equal_deadlines_pick_lowest_id() {
        let statements = [statement(8, "2025-07-31"), statement(3, "2025-07-31")];
        let next = next_output_fee_statement(&statements, provider(), cohort(), day("2025-07-01"));
        assert_eq!(next.map(|statement| statement.id), Some(statements[1].id));
    }

    #[test]
    fn deadline_job_catches_missed_days() {
        let statements = [
            statement(1, "2025-07-31"),
            Statement { output_fee: false, ..statement(2, "2025-06-30") },
            statement(3, "2025-08-01"),
            Statement { state: StatementState::Payable, ..statement(4, "2025-05-31") },
            Statement { deadline_date: None, ..statement(5, "2025-05-31") },
        ];
        let due: Vec<StatementId> =
            statements_due_payable(&statements, day("2025-08-01")).iter().map(|statement| statement.id).collect();
        assert_eq!(due, [statements[1].id, statements[0].id]);
        assert!(statements_due_payable(&statements, day("2025-06-30")).is_empty());
    }

    #[test]
    fn marking_payable_moves_only_eligible() {
        use DeclarationState as D;
        use StatementItemState as I;
        let open = statement(1, "2025-07-31");
        let linked = [
            link(D::Eligible, I::Eligible),
            link(D::Voided, I::Voided),
            link(D::Ineligible, I::Ineligible),
            link(D::AwaitingClawback, I::AwaitingClawback),
        ];

        let now = noon("2025-08-01");
        let transition = mark_payable(&open, &linked, now).unwrap();

        assert_eq!(transition.statement.state, StatementState::Payable);
        assert_eq!(transition.statement.updated_at, now);
        assert_eq!(transition.linked[0], link(D::Payable, I::Payable));
        assert_eq!(transition.linked[1..], linked[1..]);
    }

    #[test]
    fn payable_only_after_deadline() {
        let open = statement(1, "2025-07-31");
        assert_eq!(
            mark_payable(&open, &[], noon("2025-07-31")),
            Err(TransitionError::DeadlineNotPassed { deadline: day("2025-07-31"), today: day("2025-07-31") })
        );
        let undated = Statement { deadline_date: None, ..open.clone() };
        assert_eq!(mark_payable(&undated, &[], noon("2025-08-01")), Err(TransitionError::NoDeadline));
        let payable = Statement { state: StatementState::Payable, ..open };
        assert_eq!(
            mark_payable(&payable, &[], noon("2025-08-01")),
            Err(TransitionError::NotOpen(StatementState::Payable))
        );
    }

    #[test]
    fn marking_paid_pays_and_claws_back() {
        use DeclarationState as D;
        use StatementItemState as I;
        let payable = Statement { state: StatementState::Payable, ..statement(1, "2025-07-31") };
        let mut linked = vec![link(D::Payable, I::Payable); 3];
        linked.extend([link(D::AwaitingClawback, I::AwaitingClawback); 2]);
        linked.push(link(D::Voided, I::Voided));
        linked.push(link(D::Ineligible, I::Ineligible));

        let now = noon("2025-08-20");
        let transition = mark_paid(&payable, &linked, now).unwrap();

        assert_eq!(transition.statement.state, StatementState::Paid);
        assert_eq!(transition.statement.marked_as_paid_at, Some(now));
        assert_eq!(transition.linked[..3], [link(D::Paid, I::Paid); 3]);
        assert_eq!(transition.linked[3..5], [link(D::ClawedBack, I::ClawedBack); 2]);
        assert_eq!(transition.linked[5..], linked[5..]);
        assert_eq!(
            mark_paid(&transition.statement, &transition.linked, now),
            Err(TransitionError::NotPayable(StatementState::Paid))
        );
    }

    #[test]
    fn marking_paid_checks_every_precondition() {
        let linked = [link(DeclarationState::Payable, StatementItemState::Payable)];
        let payable = Statement { state: StatementState::Payable, ..statement(1, "2025-07-31") };
        let after_deadline = noon("2025-08-01");
        assert!(mark_paid(&payable, &linked, after_deadline).is_ok());

        let open = Statement { state: StatementState::Open, ..payable.clone() };
        assert_eq!(mark_paid(&open, &linked, after_deadline), Err(TransitionError::NotPayable(StatementState::Open)));
        let service_fee_only = Statement { output_fee: false, ..payable.clone() };
        assert_eq!(mark_paid(&service_fee_only, &linked, after_deadline), Err(TransitionError::NotOutputFee));
        assert!(matches!(
            mark_paid(&payable, &linked, noon("2025-07-31")),
            Err(TransitionError::DeadlineNotPassed { .. })
        ));
        assert_eq!(mark_paid(&payable, &[], after_deadline), Err(TransitionError::NoDeclarations));
    }

    #[test]
    fn void_leaves_paid_statement_items() {
        use StatementItemState as I;
        assert_eq!(item_after_void(I::Eligible, StatementState::Open), I::Voided);
        assert_eq!(item_after_void(I::Payable, StatementState::Payable), I::Voided);
        assert_eq!(item_after_void(I::Ineligible, StatementState::Open), I::Voided);
        assert_eq!(item_after_void(I::Ineligible, StatementState::Paid), I::Ineligible);
        assert_eq!(item_after_void(I::Paid, StatementState::Payable), I::Paid);
    }

    const ITEM_EVENTS: [ItemEvent; 7] = [
        ItemEvent::MarkPayable,
        ItemEvent::MarkPaid,
        ItemEvent::Void,
        ItemEvent::MarkAwaitingClawback,
        ItemEvent::MarkClawedBack,
        ItemEvent::MarkIneligible,
        ItemEvent::RevertToEligible,
    ];

    /// Every edge of the item state machine, as (from, event, to).
    const ITEM_EDGES: [(StatementItemState, ItemEvent, StatementItemState); 9] = {
        use StatementItemState::*;
        [
            (Eligible, ItemEvent::MarkPayable, Payable),
            (Payable, ItemEvent::MarkPaid, Paid),
            (Eligible, ItemEvent::Void, Voided),
            (Ineligible, ItemEvent::Void, Voided),
            (Payable, ItemEvent::Void, Voided),
            (Paid, ItemEvent::MarkAwaitingClawback, AwaitingClawback),
            (AwaitingClawback, ItemEvent::MarkClawedBack, ClawedBack),
            (Eligible, ItemEvent::MarkIneligible, Ineligible),
            (Payable, ItemEvent::RevertToEligible, Eligible),
        ]
    };

    fn is_item_edge(from: StatementItemState, to: StatementItemState) -> bool {
        ITEM_EDGES.iter().any(|(edge_from, _, edge_to)| *edge_from == from && *edge_to == to)
    }

    /// Returns whether the declaration and the item each stayed put or moved along one edge that marking a
    /// statement payable or paid may take.
    fn moved_along_allowed_edges(before: &LinkedDeclaration, after: &LinkedDeclaration) -> bool {
        let events = [DeclarationEvent::MarkPayable, DeclarationEvent::MarkPaid, DeclarationEvent::MarkClawedBack];
        let declaration_allowed = before.declaration == after.declaration
            || events.iter().any(|event| before.declaration.after(*event) == Some(after.declaration));
        let item_allowed = before.item == after.item || is_item_edge(before.item, after.item);
        declaration_allowed && item_allowed
    }

    fn any_link() -> impl Strategy<Value = LinkedDeclaration> {
        (proptest::sample::select(DeclarationState::ALL), proptest::sample::select(StatementItemState::ALL))
            .prop_map(|(declaration, item)| link(declaration, item))
    }

    fn any_statement_state() -> impl Strategy<Value = StatementState> {
        proptest::sample::select(StatementState::ALL)
    }

    proptest! {
        /// The item state machine allows exactly the listed edges.
        #[test]
        fn item_transitions_follow_the_listed_edges(
            from in proptest::sample::select(StatementItemState::ALL),
            event in proptest::sample::select(ITEM_EVENTS.to_vec()),
        ) {
            let listed =
                ITEM_EDGES.iter().find(|(edge_from, edge_event, _)| *edge_from == from && *edge_event == event);
            prop_assert_eq!(from.after(event), listed.map(|(_, _, to)| *to));
        }

        /// Marking a statement payable or paid moves each declaration and item along at most one
        /// allowed edge, and never touches voided or ineligible ones.
        #[test]
        fn marking_follows_allowed_edges(
            linked in proptest::collection::vec(any_link(), 1..12),
            state in any_statement_state(),
        ) {
            let open = Statement { state, ..statement(1, "2025-07-31") };
            let now = noon("2025-08-02");
            let results = [mark_payable(&open, &linked, now), mark_paid(&open, &linked, now)];
            for transition in results.into_iter().flatten() {
                prop_assert_eq!(transition.linked.len(), linked.len());
                for (before, after) in linked.iter().zip(&transition.linked) {
                    prop_assert!(moved_along_allowed_edges(before, after), "{:?} -> {:?}", before, after);
                    let untouched = [DeclarationState::Voided, DeclarationState::Ineligible];
                    if untouched.contains(&before.declaration) {
                        prop_assert_eq!(before.declaration, after.declaration);
                    }
                    if before.item.group() == ItemGroup::NotEligible {
                        prop_assert_eq!(before.item, after.item);
                    }
                    prop_assert_eq!(before.item.group(), after.item.group());
                }
                prop_assert!(open.state.after(StatementEvent::MarkPayable) == Some(transition.statement.state)
                    || open.state.after(StatementEvent::MarkPaid) == Some(transition.statement.state));
            }
        }

        /// Whatever events arrive, a statement only moves forward and stops at paid.
        #[test]
        fn statement_transitions_only_move_forward(
            events in proptest::collection::vec(
                proptest::sample::select(vec![StatementEvent::MarkPayable, StatementEvent::MarkPaid]),
                0..8,
            ),
        ) {
            let order = |state: StatementState| StatementState::ALL.iter().position(|known| *known == state);
            let mut state = StatementState::Open;
            for event in events {
                if let Some(next) = state.after(event) {
                    prop_assert_eq!(order(next), order(state).map(|position| position + 1));
                    state = next;
                }
            }
        }

        /// The deadline job picks exactly the open statements whose deadline is before today, and
        /// the statement a declaration lands on is never one of them.
        #[test]
        fn due_and_next_statements_never_overlap(
            deadlines in proptest::collection::vec((0i64..60, any_statement_state(), any::<bool>()), 0..8),
            today_offset in 0i64..60,
        ) {
            let base = day("2025-07-01");
            let statements: Vec<Statement> = deadlines
                .iter()
                .enumerate()
                .map(|(index, (offset, state, output_fee))| Statement {
                    month: u32::try_from(index % 12).unwrap() + 1,
                    state: *state,
                    output_fee: *output_fee,
                    deadline_date: Some(base + chrono::Duration::days(*offset)),
                    ..statement(u128::try_from(index).unwrap() + 1, "2025-07-01")
                })
                .collect();
            let today = base + chrono::Duration::days(today_offset);
            let due = statements_due_payable(&statements, today);
            for statement in &statements {
                let expected = statement.state == StatementState::Open && statement.deadline_date < Some(today);
                prop_assert_eq!(due.iter().any(|due| due.id == statement.id), expected);
            }
            if let Some(next) = next_output_fee_statement(&statements, provider(), cohort(), today) {
                prop_assert!(!due.iter().any(|due| due.id == next.id));
                prop_assert!(next.deadline_date >= Some(today));
            }
        }
    }
}
