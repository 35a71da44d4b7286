//! The changes DfE staff and the deadline job make to a statement, as pure functions over the
//! statement's contents: create it, change its dates, set a contract, add an adjustment, and mark
//! it payable or paid.
//!
//! Each function takes what the store loaded in a transaction ([`StatementContents`]) and returns
//! a [`StatementPlan`] for the store to write in the same transaction, or the reasons the change is
//! rejected. The rules themselves live in [`crate::statement`] and [`crate::payment`]; this module
//! applies them to a whole statement and returns what to write.

use chrono::NaiveDate;

use crate::Timestamp;
use crate::cohort::CohortIdentifier;
use crate::course::Course;
use crate::declaration::DeclarationState;
use crate::error::FieldError;
use crate::ids::{AdjustmentId, DeclarationId, LeadProviderId, StatementId};
use crate::listing::{CohortSelector, PageRequest};
use crate::payment::{
    Adjustment, CalculationError, ContractTerms, DeclarationPayment, Pence, StatementCalculation, StatementItemInput,
    calculate_statement, check_new_adjustment,
};
use crate::statement::{
    ItemGroup, LinkedDeclaration, Statement, StatementState, StatementTransition, TransitionError,
    change_deadline_date, change_payment_date, check_new_statement, mark_paid, mark_payable,
};

text_enum!(
    /// The role of a statement item for its declaration.
    ItemKind, "statement item kind" {
        /// Pays for the declaration.
        Output => "output",
        /// Takes back what an earlier statement paid for the declaration, after it was voided.
        Clawback => "clawback",
    }
);

/// One declaration's item on a statement, with what the calculation and the transitions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub kind: ItemKind,
    /// The declaration's own state, which transitions move together with the item's.
    pub declaration_state: DeclarationState,
    /// The item's state and what the calculation reads of the declaration and its application.
    pub item: StatementItemInput,
}

impl StatementLine {
    fn linked(&self) -> LinkedDeclaration {
        LinkedDeclaration { declaration: self.declaration_state, item: self.item.state }
    }
}

/// A statement with everything on it: its contracts, the items of its declarations and its
/// adjustments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementContents {
    pub statement: Statement,
    /// One set of terms per course.
    pub contracts: Vec<ContractTerms>,
    pub lines: Vec<StatementLine>,
    /// Adjustments, oldest first.
    pub adjustments: Vec<Adjustment>,
}

impl StatementContents {
    /// Calculates the money on the statement (see [`calculate_statement`]).
    ///
    /// # Errors
    ///
    /// A [`CalculationError`] when the stored contracts, items or adjustments break the
    /// calculation's invariants.
    pub fn calculate(&self) -> Result<StatementCalculation, CalculationError> {
        let items: Vec<StatementItemInput> = self.lines.iter().map(|line| line.item.clone()).collect();
        calculate_statement(&self.statement, &self.contracts, &items, &self.adjustments)
    }
}

/// A request for one page of statements, ordered by payment date and then insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementQuery {
    /// Only statements of these cohorts; `None` means every cohort.
    pub cohorts: Option<Vec<CohortSelector>>,
    /// Only statements whose `updated_at` is at or after this instant.
    pub updated_since: Option<Timestamp>,
    pub page: PageRequest,
}

/// A new statement as DfE staff ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStatementRequest {
    pub lead_provider: LeadProviderId,
    pub cohort: CohortIdentifier,
    pub year: i32,
    pub month: u32,
    pub deadline_date: Option<NaiveDate>,
    pub payment_date: Option<NaiveDate>,
    /// Whether the statement pays for declarations; `false` makes a statement of service fees
    /// only, which lead providers do not see.
    pub output_fee: bool,
    pub reconcile_amount: Pence,
}

/// The data that creating a statement reads: whether its lead provider and cohort exist, and the lead
/// provider's other statements for the cohort.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewStatementContext {
    pub lead_provider_exists: bool,
    pub cohort_exists: bool,
    pub existing: Vec<Statement>,
}

fn error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

/// Builds a new open statement with id `id`, created at `now`, or returns every reason it is
/// rejected: an unknown lead provider or cohort, the checks of [`check_new_statement`], which
/// include a second statement for the same lead provider, cohort and month.
pub fn plan_new_statement(
    request: &NewStatementRequest,
    context: &NewStatementContext,
    id: StatementId,
    now: Timestamp,
) -> Result<Statement, Vec<FieldError>> {
    let mut errors = Vec::new();
    if !context.lead_provider_exists {
        errors.push(error("lead_provider_id", format!("No lead provider has the id {}.", request.lead_provider)));
    }
    if !context.cohort_exists {
        errors.push(error("cohort", format!("The cohort {} does not exist.", request.cohort)));
    }
    let statement = Statement {
        id,
        lead_provider: request.lead_provider,
        cohort: request.cohort,
        year: request.year,
        month: request.month,
        deadline_date: request.deadline_date,
        payment_date: request.payment_date,
        output_fee: request.output_fee,
        state: StatementState::Open,
        marked_as_paid_at: None,
        reconcile_amount: request.reconcile_amount,
        created_at: now,
        updated_at: now,
    };
    errors.extend(check_new_statement(&statement, &context.existing));
    if errors.is_empty() { Ok(statement) } else { Err(errors) }
}

/// The writes of a change to a stored statement, made in the transaction that loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementPlan {
    /// Nothing to write, such as a deadline job that finds the statement already payable.
    Unchanged,
    /// Store the statement's new fields.
    Update(Statement),
    /// Add this contract, or replace the statement's contract for the same course.
    PutContract(ContractTerms),
    AddAdjustment(Adjustment),
    /// Move the statement and its declarations to their next states.
    Transition(TransitionPlan),
}

/// A plan that the store wrote, and the statement's contents afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementChange {
    pub plan: StatementPlan,
    pub contents: StatementContents,
}

/// A change of one declaration and its item on the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineChange {
    pub declaration: DeclarationId,
    pub kind: ItemKind,
    pub from: LinkedDeclaration,
    pub to: LinkedDeclaration,
}

/// A statement marked payable or paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionPlan {
    /// The statement in its new state.
    pub statement: Statement,
    /// The declarations and items that move, each once. The others stay as they are. The store
    /// also sets the `updated_at` of these declarations, so lead providers see the change.
    pub changes: Vec<LineChange>,
    /// Amounts a paid statement paid for each declaration it paid, which the store keeps so that a
    /// later clawback takes back exactly this amount. Empty unless the statement is marked paid.
    pub payments: Vec<(DeclarationId, DeclarationPayment)>,
}

fn transition_changes(lines: &[StatementLine], transition: &StatementTransition) -> Vec<LineChange> {
    lines
        .iter()
        .zip(&transition.linked)
        .filter(|(line, after)| line.linked() != **after)
        .map(|(line, after)| LineChange {
            declaration: line.item.declaration,
            kind: line.kind,
            from: line.linked(),
            to: *after,
        })
        .collect()
}

fn transition_error(error: &TransitionError) -> FieldError {
    let message = match error {
        TransitionError::NotOpen(state) => {
            format!("The statement is {state}; only an open statement can be marked payable.")
        }
        TransitionError::NotPayable(state) => {
            format!("The statement is {state}; only a payable statement can be marked paid.")
        }
        TransitionError::NoDeadline => {
            "The statement has no deadline; set its deadline before marking it payable or paid.".to_owned()
        }
        TransitionError::DeadlineNotPassed { deadline, today } => {
            format!("The statement's deadline {deadline} has not passed on {today}; try again after the deadline.")
        }
        TransitionError::NotOutputFee => {
            "The statement pays service fees only, so it cannot be marked paid.".to_owned()
        }
        TransitionError::NoDeclarations => "No declaration is on the statement, so there is nothing to pay.".to_owned(),
    };
    let attribute = match error {
        TransitionError::NotOpen(_) | TransitionError::NotPayable(_) => "state",
        TransitionError::NoDeadline | TransitionError::DeadlineNotPassed { .. } => "deadline_date",
        TransitionError::NotOutputFee => "output_fee",
        TransitionError::NoDeclarations => "base",
    };
    self::error(attribute, message)
}

/// Marks an open statement payable once its deadline is before `now`'s date (see
/// [`mark_payable`]): every eligible declaration on it, and its item, becomes payable.
pub fn plan_mark_payable(contents: &StatementContents, now: Timestamp) -> Result<TransitionPlan, Vec<FieldError>> {
    let linked: Vec<LinkedDeclaration> = contents.lines.iter().map(StatementLine::linked).collect();
    let transition = mark_payable(&contents.statement, &linked, now).map_err(|error| vec![transition_error(&error)])?;
    let changes = transition_changes(&contents.lines, &transition);
    Ok(TransitionPlan { statement: transition.statement, changes, payments: Vec::new() })
}

/// Marks a payable statement paid on DfE's authorisation at `now` (see [`mark_paid`]), and
/// records what it paid for each declaration it paid.
///
/// Payment is also rejected when the statement cannot be calculated, or when a declaration on it
/// is on a course the statement has no contract for, because the statement would pay that
/// declaration nothing. Add the contract first.
pub fn plan_mark_paid(contents: &StatementContents, now: Timestamp) -> Result<TransitionPlan, Vec<FieldError>> {
    let linked: Vec<LinkedDeclaration> = contents.lines.iter().map(StatementLine::linked).collect();
    let transition = mark_paid(&contents.statement, &linked, now).map_err(|error| vec![transition_error(&error)])?;
    let calculation = contents.calculate().map_err(|failure| {
        vec![error("base", format!("The statement cannot be calculated, so it cannot be paid: {failure}."))]
    })?;
    if !calculation.without_contract.is_empty() {
        let mut courses: Vec<Course> = contents
            .lines
            .iter()
            .filter(|line| calculation.without_contract.contains(&line.item.declaration))
            .map(|line| line.item.course)
            .collect();
        courses.sort();
        courses.dedup();
        let names: Vec<&str> = courses.iter().map(|course| course.as_str()).collect();
        return Err(vec![error(
            "contracts",
            format!(
                "The statement has declarations on {} but no contract for it; add the contract before paying.",
                names.join(", ")
            ),
        )]);
    }

    let changes = transition_changes(&contents.lines, &transition);
    let newly_paid: Vec<DeclarationId> = changes
        .iter()
        .filter(|change| change.kind == ItemKind::Output && change.to.item.group() == ItemGroup::Billable)
        .map(|change| change.declaration)
        .collect();
    let payments = newly_paid
        .into_iter()
        .map(|declaration| (declaration, calculation.payment_for(declaration).unwrap_or_default()))
        .collect();
    Ok(TransitionPlan { statement: transition.statement, changes, payments })
}

/// New dates for a statement. A date left out keeps its value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateChange {
    pub deadline_date: Option<NaiveDate>,
    pub payment_date: Option<NaiveDate>,
}

/// Sets new dates on an open statement and returns it, or every reason the change is rejected:
/// no date given, a statement that is not open, or a deadline after the payment date. When both
/// dates are given they are checked against each other, not against the old ones.
pub fn plan_date_change(
    statement: &Statement,
    change: DateChange,
    now: Timestamp,
) -> Result<Statement, Vec<FieldError>> {
    if change.deadline_date.is_none() && change.payment_date.is_none() {
        return Err(vec![error(
            "base",
            "Give a new deadline_date, a new payment_date, or both, as dates such as 2025-10-25.",
        )]);
    }
    // With both dates given, the payment date is checked against the new deadline, not the old.
    let mut changed = statement.clone();
    if change.deadline_date.is_some() && change.payment_date.is_some() {
        changed.payment_date = None;
    }
    if let Some(deadline) = change.deadline_date {
        changed = change_deadline_date(&changed, deadline, now)?;
    }
    if let Some(payment) = change.payment_date {
        changed = change_payment_date(&changed, payment, now)?;
    }
    Ok(changed)
}

/// Contract terms as DfE staff give them: the price, target and instalments, and any term that
/// differs from the preset of the course's group (see [`ContractTerms::preset`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRequest {
    pub course: Course,
    pub per_participant: Pence,
    pub recruitment_target: u32,
    pub service_fee_instalments: u32,
    pub output_payment_percentage: Option<u32>,
    pub number_of_payment_periods: Option<u32>,
    pub service_fee_percentage: Option<u32>,
    /// A monthly service fee agreed outright; `None` computes it from the price and target.
    pub monthly_service_fee: Option<Pence>,
    pub targeted_delivery_funding_per_participant: Option<Pence>,
    pub special_course: bool,
}

/// Builds the statement's contract for a course from `request`, or returns every reason it is
/// rejected: the statement is no longer open, so its figures are fixed, or the terms are invalid
/// (see [`ContractTerms::validate`]).
pub fn plan_contract(statement: &Statement, request: &ContractRequest) -> Result<ContractTerms, Vec<FieldError>> {
    let preset = ContractTerms::preset(
        statement.lead_provider,
        statement.cohort,
        request.course,
        request.per_participant,
        request.recruitment_target,
        request.service_fee_instalments,
    );
    let terms = ContractTerms {
        output_payment_percentage: request.output_payment_percentage.unwrap_or(preset.output_payment_percentage),
        number_of_payment_periods: request.number_of_payment_periods.unwrap_or(preset.number_of_payment_periods),
        service_fee_percentage: request.service_fee_percentage.unwrap_or(preset.service_fee_percentage),
        monthly_service_fee: request.monthly_service_fee,
        targeted_delivery_funding_per_participant: request
            .targeted_delivery_funding_per_participant
            .unwrap_or(preset.targeted_delivery_funding_per_participant),
        special_course: request.special_course,
        ..preset
    };
    let mut errors = Vec::new();
    if !statement.state.allows_contract_changes() {
        errors.push(error(
            "base",
            format!("The statement is {}; its contracts can change only while it is open.", statement.state),
        ));
    }
    errors.extend(terms.validate());
    if errors.is_empty() { Ok(terms) } else { Err(errors) }
}

/// Builds an adjustment of `amount` on the statement, or returns every reason it is rejected (see
/// [`check_new_adjustment`]). The description is stored trimmed.
pub fn plan_adjustment(
    statement: &Statement,
    description: &str,
    amount: Pence,
    id: AdjustmentId,
    now: Timestamp,
) -> Result<Adjustment, Vec<FieldError>> {
    let errors = check_new_adjustment(statement, description, amount);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Adjustment { id, statement: statement.id, description: description.trim().to_owned(), amount, created_at: now })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use uuid::Uuid;

    use crate::ids::ParticipantId;
    use crate::payment::DEFAULT_TARGETED_DELIVERY_FUNDING;
    use crate::schedule::DeclarationType;
    use crate::statement::StatementItemState;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn noon(text: &str) -> Timestamp {
        chrono::Utc.from_utc_datetime(&day(text).and_hms_opt(12, 0, 0).unwrap())
    }

    fn provider() -> LeadProviderId {
        LeadProviderId::from_uuid(Uuid::from_u128(1))
    }

    /// Returns an open output-fee statement of cohort 2023a for September 2025, with its deadline
    /// on 25 August and payment on 25 September.
    fn september() -> Statement {
        Statement {
            id: StatementId::from_uuid(Uuid::from_u128(7)),
            lead_provider: provider(),
            cohort: "2023a".parse().unwrap(),
            year: 2025,
            month: 9,
            deadline_date: Some(day("2025-08-25")),
            payment_date: Some(day("2025-09-25")),
            output_fee: true,
            state: StatementState::Open,
            marked_as_paid_at: None,
            reconcile_amount: Pence::ZERO,
            created_at: noon("2025-01-10"),
            updated_at: noon("2025-01-10"),
        }
    }

    /// Returns the terms of the worked example in `docs/payments.md` for `course`.
    fn worked_terms(course: Course) -> ContractTerms {
        ContractTerms {
            number_of_payment_periods: 3,
            service_fee_instalments: 19,
            ..ContractTerms::preset(provider(), "2023a".parse().unwrap(), course, Pence(80_000), 72, 19)
        }
    }

    fn line(number: u128, course: Course, state: DeclarationState, item: StatementItemState) -> StatementLine {
        StatementLine {
            kind: if item.group() == ItemGroup::Refundable { ItemKind::Clawback } else { ItemKind::Output },
            declaration_state: state,
            item: StatementItemInput {
                declaration: DeclarationId::from_uuid(Uuid::from_u128(number)),
                participant: ParticipantId::from_uuid(Uuid::from_u128(100 + number)),
                course,
                declaration_type: DeclarationType::Started,
                state: item,
                targeted_delivery_funding_eligible: true,
                eligible_for_funding: true,
                amount_paid: None,
            },
        }
    }

    fn contents(state: StatementState, lines: Vec<StatementLine>) -> StatementContents {
        StatementContents {
            statement: Statement { state, ..september() },
            contracts: vec![worked_terms(Course::SeniorLeadership)],
            lines,
            adjustments: Vec::new(),
        }
    }

    fn attributes(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|error| error.attribute.as_str()).collect()
    }

    #[test]
    fn paying_records_each_declaration_payment() {
        use DeclarationState as D;
        use StatementItemState as I;
        let mut clawback = line(3, Course::SeniorLeadership, D::AwaitingClawback, I::AwaitingClawback);
        clawback.item.amount_paid =
            Some(DeclarationPayment { output: Pence(16_000), targeted_delivery_funding: Pence(10_000) });
        let payable = contents(
            StatementState::Payable,
            vec![
                line(1, Course::SeniorLeadership, D::Payable, I::Payable),
                line(2, Course::SeniorLeadership, D::Voided, I::Voided),
                clawback,
            ],
        );

        let plan = plan_mark_paid(&payable, noon("2025-09-01")).unwrap();

        assert_eq!(plan.statement.state, StatementState::Paid);
        assert_eq!(plan.statement.marked_as_paid_at, Some(noon("2025-09-01")));
        let moved: Vec<(u128, DeclarationState, StatementItemState)> = plan
            .changes
            .iter()
            .map(|change| (change.declaration.as_uuid().as_u128(), change.to.declaration, change.to.item))
            .collect();
        assert_eq!(moved, [(1, D::Paid, I::Paid), (3, D::ClawedBack, I::ClawedBack)]);
        let paid =
            DeclarationPayment { output: Pence(16_000), targeted_delivery_funding: DEFAULT_TARGETED_DELIVERY_FUNDING };
        assert_eq!(plan.payments, [(DeclarationId::from_uuid(Uuid::from_u128(1)), paid)]);
    }

    #[test]
    fn paying_needs_a_contract_for_every_course() {
        let payable = contents(
            StatementState::Payable,
            vec![line(1, Course::Headship, DeclarationState::Payable, StatementItemState::Payable)],
        );
        let errors = plan_mark_paid(&payable, noon("2025-09-01")).unwrap_err();
        assert_eq!(attributes(&errors), ["contracts"]);
        assert!(errors[0].message.contains("npq-headship"), "{}", errors[0].message);
    }

    #[test]
    fn marking_payable_before_the_deadline_is_rejected() {
        let open = contents(StatementState::Open, Vec::new());
        let errors = plan_mark_payable(&open, noon("2025-08-25")).unwrap_err();
        assert_eq!(attributes(&errors), ["deadline_date"]);
        let plan = plan_mark_payable(&open, noon("2025-08-26")).unwrap();
        assert_eq!(plan.statement.state, StatementState::Payable);
        assert!(plan.changes.is_empty());
    }

    #[test]
    fn both_dates_are_checked_against_each_other() {
        let change = DateChange { deadline_date: Some(day("2025-10-01")), payment_date: Some(day("2025-10-20")) };
        let changed = plan_date_change(&september(), change, noon("2025-08-01")).unwrap();
        assert_eq!((changed.deadline_date, changed.payment_date), (Some(day("2025-10-01")), Some(day("2025-10-20"))));
        assert_eq!(changed.updated_at, noon("2025-08-01"));

        let late_deadline = DateChange { deadline_date: Some(day("2025-10-01")), payment_date: None };
        assert_eq!(
            attributes(&plan_date_change(&september(), late_deadline, noon("2025-08-01")).unwrap_err()),
            ["deadline_date"]
        );
        let crossed = DateChange { deadline_date: Some(day("2025-10-21")), payment_date: Some(day("2025-10-20")) };
        assert_eq!(
            attributes(&plan_date_change(&september(), crossed, noon("2025-08-01")).unwrap_err()),
            ["payment_date"]
        );
        assert_eq!(
            attributes(&plan_date_change(&september(), DateChange::default(), noon("2025-08-01")).unwrap_err()),
            ["base"]
        );
        let payable = Statement { state: StatementState::Payable, ..september() };
        let early_payment = DateChange { deadline_date: None, payment_date: Some(day("2025-09-30")) };
        assert_eq!(attributes(&plan_date_change(&payable, early_payment, noon("2025-08-01")).unwrap_err()), ["base"]);
    }

    #[test]
    fn contract_takes_the_preset_unless_overridden() {
        let request = ContractRequest {
            course: Course::LeadingTeaching,
            per_participant: Pence(115_000),
            recruitment_target: 40,
            service_fee_instalments: 13,
            output_payment_percentage: None,
            number_of_payment_periods: Some(4),
            service_fee_percentage: None,
            monthly_service_fee: None,
            targeted_delivery_funding_per_participant: Some(Pence(0)),
            special_course: true,
        };
        let terms = plan_contract(&september(), &request).unwrap();
        assert_eq!((terms.output_payment_percentage, terms.service_fee_percentage), (60, 40));
        assert_eq!(terms.number_of_payment_periods, 4);
        assert_eq!(terms.targeted_delivery_funding_per_participant, Pence(0));
        assert!(terms.special_course);
        assert_eq!((terms.lead_provider, terms.cohort), (provider(), september().cohort));

        let payable = Statement { state: StatementState::Payable, ..september() };
        let invalid = ContractRequest { recruitment_target: 0, ..request };
        assert_eq!(attributes(&plan_contract(&payable, &invalid).unwrap_err()), ["base", "recruitment_target"]);
    }

    #[test]
    fn new_statement_needs_a_known_provider_and_cohort() {
        let request = NewStatementRequest {
            lead_provider: provider(),
            cohort: "2023a".parse().unwrap(),
            year: 2025,
            month: 9,
            deadline_date: Some(day("2025-08-25")),
            payment_date: Some(day("2025-09-25")),
            output_fee: true,
            reconcile_amount: Pence::ZERO,
        };
        let id = StatementId::from_uuid(Uuid::from_u128(9));
        let errors = plan_new_statement(&request, &NewStatementContext::default(), id, noon("2025-01-01")).unwrap_err();
        assert_eq!(attributes(&errors), ["lead_provider_id", "cohort"]);

        let known =
            NewStatementContext { lead_provider_exists: true, cohort_exists: true, existing: vec![september()] };
        let errors = plan_new_statement(&request, &known, id, noon("2025-01-01")).unwrap_err();
        assert_eq!(attributes(&errors), ["base"]);

        let october = NewStatementRequest { month: 10, ..request };
        let statement = plan_new_statement(&october, &known, id, noon("2025-01-01")).unwrap();
        assert_eq!((statement.state, statement.created_at), (StatementState::Open, noon("2025-01-01")));
    }

    fn any_payable_line() -> impl Strategy<Value = StatementLine> {
        use DeclarationState as D;
        use StatementItemState as I;
        let states = proptest::sample::select(vec![
            (D::Payable, I::Payable),
            (D::Voided, I::Voided),
            (D::Ineligible, I::Ineligible),
            (D::AwaitingClawback, I::AwaitingClawback),
        ]);
        let types = proptest::sample::select(DeclarationType::ALL.to_vec());
        (1u128..1_000_000, 0u128..4, states, types, any::<bool>()).prop_map(
            |(declaration, participant, (state, item), declaration_type, funded)| {
                let mut line = line(declaration, Course::SeniorLeadership, state, item);
                line.item.participant = ParticipantId::from_uuid(Uuid::from_u128(100 + participant));
                line.item.declaration_type = declaration_type;
                line.item.targeted_delivery_funding_eligible = funded;
                if item == I::AwaitingClawback {
                    line.item.amount_paid =
                        Some(DeclarationPayment { output: Pence(16_000), targeted_delivery_funding: Pence::ZERO });
                }
                line
            },
        )
    }

    proptest! {
        /// Paying a statement records a payment for exactly the declarations it pays, and the
        /// recorded payments add up to what the statement pays for them.
        #[test]
        fn recorded_payments_add_up_to_the_statement(
            lines in proptest::collection::vec(any_payable_line(), 1..12)
                .prop_filter("one item per declaration", |lines| {
                    let mut ids: Vec<DeclarationId> = lines.iter().map(|line| line.item.declaration).collect();
                    ids.sort();
                    ids.dedup();
                    ids.len() == lines.len()
                }),
        ) {
            let payable = contents(StatementState::Payable, lines.clone());
            let calculation = payable.calculate().unwrap();

            let plan = plan_mark_paid(&payable, noon("2025-09-01")).unwrap();

            let mut paid: Vec<DeclarationId> = plan.payments.iter().map(|(id, _)| *id).collect();
            paid.sort();
            let mut expected: Vec<DeclarationId> = lines
                .iter()
                .filter(|line| line.item.state == StatementItemState::Payable)
                .map(|line| line.item.declaration)
                .collect();
            expected.sort();
            prop_assert_eq!(paid, expected);
            let recorded: Pence = plan.payments.iter().map(|(_, payment)| payment.total()).sum();
            prop_assert_eq!(recorded, calculation.totals.output_payments + calculation.totals.targeted_delivery_funding);
        }
    }

    #[test]
    fn adjustment_description_is_trimmed() {
        let id = AdjustmentId::from_uuid(Uuid::from_u128(4));
        let adjustment =
            plan_adjustment(&september(), "  Late start  ", Pence(-5_000), id, noon("2025-09-01")).unwrap();
        assert_eq!(adjustment.description, "Late start");
        let paid = Statement { state: StatementState::Paid, ..september() };
        assert_eq!(
            attributes(&plan_adjustment(&paid, " ", Pence::ZERO, id, noon("2025-09-01")).unwrap_err()),
            ["description", "amount", "base"]
        );
    }
}
