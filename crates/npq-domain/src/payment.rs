//! Money on statements: the contract terms a lead provider is paid under, what one declaration
//! earns, and the calculation of a whole statement.
//!
//! Every amount is a whole number of pence in an `i64`, and no floating point is used. The terms
//! produce rates that are exact fractions of a penny, so each rate is rounded once, half up, to
//! whole pence at the level where the money is paid. Output payments and targeted delivery funding
//! are rounded per participant, because a clawback must take back exactly what one declaration was
//! paid. The service fee is rounded per contract and month, because it is never clawed back. Every
//! line and total is then an exact sum of whole pence. `docs/payments.md` explains the formulas
//! with a worked example.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Neg, Sub};

use crate::Timestamp;
use crate::cohort::CohortIdentifier;
use crate::course::{Course, CourseGroup};
use crate::error::FieldError;
use crate::ids::{AdjustmentId, DeclarationId, LeadProviderId, ParticipantId, StatementId};
use crate::schedule::DeclarationType;
use crate::statement::{ItemGroup, Statement, StatementItemState, StatementState};

/// An amount of money in pence, positive or negative. Arithmetic overflows like `i64`, which
/// needs amounts beyond £92 million million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pence(pub i64);

impl Pence {
    /// No money.
    pub const ZERO: Self = Self(0);

    /// Returns whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Converts an exact amount from a calculation, or returns `None` when it does not fit an `i64`.
    fn from_exact(amount: i128) -> Option<Self> {
        i64::try_from(amount).ok().map(Self)
    }

    /// Converts a rate computed from contract terms, saturating at the `i64` limits. Terms that pass
    /// [`ContractTerms::validate`] never reach them.
    fn saturating_from(amount: i128) -> Self {
        let bounded = amount.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        Self(i64::try_from(bounded).unwrap_or_default())
    }
}

impl fmt::Display for Pence {
    /// Formats as pounds and pence, such as `£1212.63` or `-£50.00`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(formatter, "{sign}£{}.{:02}", magnitude / 100, magnitude % 100)
    }
}

impl Add for Pence {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self(self.0 + other.0)
    }
}

impl Sub for Pence {
    type Output = Self;

    fn sub(self, other: Self) -> Self {
        Self(self.0 - other.0)
    }
}

impl Neg for Pence {
    type Output = Self;

    fn neg(self) -> Self {
        Self(-self.0)
    }
}

impl Sum for Pence {
    fn sum<I: Iterator<Item = Self>>(amounts: I) -> Self {
        amounts.fold(Self::ZERO, Add::add)
    }
}

/// Divides `numerator` by `denominator` and rounds to the nearest whole number, halves away from
/// zero (so half a penny rounds up on a positive amount). Returns 0 when `denominator` is not
/// positive, which callers rule out before calling.
fn divide_rounding_half_up(numerator: i128, denominator: i128) -> i128 {
    let Ok(divisor) = u128::try_from(denominator) else { return 0 };
    if divisor == 0 {
        return 0;
    }

    // Working on the remainder avoids doubling the numerator, which could overflow.
    let dividend = numerator.unsigned_abs();
    let mut magnitude = dividend / divisor;
    if dividend % divisor >= divisor - dividend % divisor {
        magnitude += 1;
    }
    let magnitude = i128::try_from(magnitude).unwrap_or(i128::MAX);
    if numerator < 0 { -magnitude } else { magnitude }
}

/// Default share of the contract price paid as output payments, in percent.
pub const DEFAULT_OUTPUT_PAYMENT_PERCENTAGE: u32 = 60;
/// Default share of the contract price paid as service fees, in percent.
pub const DEFAULT_SERVICE_FEE_PERCENTAGE: u32 = 40;
/// Default targeted delivery funding per eligible participant: £100.
pub const DEFAULT_TARGETED_DELIVERY_FUNDING: Pence = Pence(10_000);
/// Largest amount contract terms may hold in any of their money fields: £100 million. It keeps
/// every rate and line far from the `i64` limits.
pub const MAX_TERMS_AMOUNT: Pence = Pence(10_000_000_000);
/// Largest recruitment target contract terms may hold.
pub const MAX_RECRUITMENT_TARGET: u32 = 1_000_000;

/// Payment terms of a lead provider for one course in one cohort. The store keeps one set per lead
/// provider, cohort and course, and links it to each statement as that statement's contract for
/// the course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractTerms {
    pub lead_provider: LeadProviderId,
    pub cohort: CohortIdentifier,
    pub course: Course,
    /// Contract price per participant.
    pub per_participant: Pence,
    /// Share of the price paid as output payments, in percent.
    pub output_payment_percentage: u32,
    /// Number of milestones (declaration types) the output share is split over.
    pub number_of_payment_periods: u32,
    /// Share of the price paid as service fees, in percent.
    pub service_fee_percentage: u32,
    /// Number of monthly statements the service fee share is split over.
    pub service_fee_instalments: u32,
    /// Number of participants the lead provider expects to recruit; service fees are paid on it.
    pub recruitment_target: u32,
    /// Service fee per month agreed outright, replacing the one computed from the price, share
    /// and target. `Some(Pence::ZERO)` means no service fee.
    pub monthly_service_fee: Option<Pence>,
    /// Extra payment for each started participant eligible for targeted delivery funding.
    pub targeted_delivery_funding_per_participant: Pence,
    /// Whether the course is paid apart from the statement: its figures are calculated but left
    /// out of the statement's totals.
    pub special_course: bool,
}

impl ContractTerms {
    /// Creates terms with the usual shares and number of payment periods for the course's group.
    ///
    /// Leadership courses pay 60% as output over 4 periods and 40% as service fee. Specialist
    /// courses pay the same shares over 3 periods. The early headship coaching offer and the
    /// additional support offer pay 100% as output over 4 periods and no service fee. Targeted
    /// delivery funding is £100, no monthly service fee is set and the course is not special.
    pub fn preset(
        lead_provider: LeadProviderId,
        cohort: CohortIdentifier,
        course: Course,
        per_participant: Pence,
        recruitment_target: u32,
        service_fee_instalments: u32,
    ) -> Self {
        let (number_of_payment_periods, service_fee_percentage, output_payment_percentage) = match course.group() {
            CourseGroup::Leadership => (4, DEFAULT_SERVICE_FEE_PERCENTAGE, DEFAULT_OUTPUT_PAYMENT_PERCENTAGE),
            CourseGroup::Specialist => (3, DEFAULT_SERVICE_FEE_PERCENTAGE, DEFAULT_OUTPUT_PAYMENT_PERCENTAGE),
            CourseGroup::Support | CourseGroup::Ehco => (4, 0, 100),
        };
        Self {
            lead_provider,
            cohort,
            course,
            per_participant,
            output_payment_percentage,
            number_of_payment_periods,
            service_fee_percentage,
            service_fee_instalments,
            recruitment_target,
            monthly_service_fee: None,
            targeted_delivery_funding_per_participant: DEFAULT_TARGETED_DELIVERY_FUNDING,
            special_course: false,
        }
    }

    /// Checks the terms and reports every failure.
    ///
    /// The price must be more than zero and the recruitment target at least 1. The two shares
    /// must add up to at most 100%. An output share needs at least one payment period, and a
    /// computed service fee needs at least one instalment. The monthly service fee and targeted
    /// delivery funding must not be negative. No amount may exceed [`MAX_TERMS_AMOUNT`] and no
    /// target [`MAX_RECRUITMENT_TARGET`].
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.per_participant <= Pence::ZERO || self.per_participant > MAX_TERMS_AMOUNT {
            errors.push(error(
                "per_participant",
                format!(
                    "The price per participant {} is invalid; use more than £0.00 and at most {MAX_TERMS_AMOUNT}.",
                    self.per_participant
                ),
            ));
        }

        if !(1..=MAX_RECRUITMENT_TARGET).contains(&self.recruitment_target) {
            errors.push(error(
                "recruitment_target",
                format!(
                    "The recruitment target {} is invalid; use a number from 1 to {MAX_RECRUITMENT_TARGET}.",
                    self.recruitment_target
                ),
            ));
        }

        let shares = u64::from(self.output_payment_percentage) + u64::from(self.service_fee_percentage);
        if shares > 100 {
            errors.push(error(
                "service_fee_percentage",
                format!(
                    "The output payment share ({}%) and service fee share ({}%) add up to more than 100%.",
                    self.output_payment_percentage, self.service_fee_percentage
                ),
            ));
        }

        if self.output_payment_percentage > 0 && self.number_of_payment_periods == 0 {
            errors.push(error(
                "number_of_payment_periods",
                "An output payment share needs at least one payment period to be split over.",
            ));
        }

        let fee_is_computed = self.service_fee_percentage > 0 && self.monthly_service_fee.is_none();
        if fee_is_computed && self.service_fee_instalments == 0 {
            errors.push(error(
                "service_fee_instalments",
                "A service fee share needs at least one instalment, unless a monthly service fee is set.",
            ));
        }

        if let Some(fee) = self.monthly_service_fee
            && !(Pence::ZERO..=MAX_TERMS_AMOUNT).contains(&fee)
        {
            errors.push(error(
                "monthly_service_fee",
                format!("The monthly service fee {fee} is invalid; use from £0.00 to {MAX_TERMS_AMOUNT}."),
            ));
        }

        let funding = self.targeted_delivery_funding_per_participant;
        if !(Pence::ZERO..=MAX_TERMS_AMOUNT).contains(&funding) {
            errors.push(error(
                "targeted_delivery_funding_per_participant",
                format!(
                    "Targeted delivery funding {funding} per participant is invalid; use £0.00 to {MAX_TERMS_AMOUNT}."
                ),
            ));
        }

        errors
    }

    /// Returns the output payment for one participant reaching one milestone: the output share of
    /// the price split over the payment periods, `price × share / (100 × periods)`, rounded half up
    /// to whole pence. Zero when the share is zero or there are no payment periods.
    pub fn output_payment_per_participant(&self) -> Pence {
        if self.output_payment_percentage == 0 || self.number_of_payment_periods == 0 {
            return Pence::ZERO;
        }
        let numerator = i128::from(self.per_participant.0) * i128::from(self.output_payment_percentage);
        let denominator = 100 * i128::from(self.number_of_payment_periods);
        Pence::saturating_from(divide_rounding_half_up(numerator, denominator))
    }

    /// Returns the service fee paid on the statement each month for this course.
    ///
    /// It is the monthly service fee when one is set. Otherwise it is the service fee share of the
    /// price, split over the instalments, for every participant of the recruitment target:
    /// `target × price × share / (100 × instalments)`, computed exactly and rounded half up once.
    /// Zero when the share is zero or there are no instalments.
    pub fn service_fee_per_month(&self) -> Pence {
        if let Some(fee) = self.monthly_service_fee {
            return fee;
        }
        if self.service_fee_percentage == 0 || self.service_fee_instalments == 0 {
            return Pence::ZERO;
        }
        let numerator = i128::from(self.recruitment_target)
            * i128::from(self.per_participant.0)
            * i128::from(self.service_fee_percentage);
        let denominator = 100 * i128::from(self.service_fee_instalments);
        Pence::saturating_from(divide_rounding_half_up(numerator, denominator))
    }

    /// Returns the service fee per participant of the recruitment target, rounded half up to whole
    /// pence. It is a rate shown beside the monthly fee and not an amount paid, so the target times
    /// this rate can differ from [`ContractTerms::service_fee_per_month`] by a few pence.
    ///
    /// With a monthly service fee set, it is that fee divided by the target, or zero for a target of
    /// zero. Otherwise it is `price × share / (100 × instalments)`, or zero when the share or the
    /// number of instalments is zero.
    pub fn service_fee_per_participant(&self) -> Pence {
        if let Some(fee) = self.monthly_service_fee {
            let rate = divide_rounding_half_up(i128::from(fee.0), i128::from(self.recruitment_target));
            return Pence::saturating_from(rate);
        }
        if self.service_fee_percentage == 0 || self.service_fee_instalments == 0 {
            return Pence::ZERO;
        }
        let numerator = i128::from(self.per_participant.0) * i128::from(self.service_fee_percentage);
        let denominator = 100 * i128::from(self.service_fee_instalments);
        Pence::saturating_from(divide_rounding_half_up(numerator, denominator))
    }
}

fn error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

/// Last statement period that pays targeted delivery funding: October 2025, as (year, month).
pub const LAST_TARGETED_DELIVERY_FUNDING_PERIOD: (i32, u32) = (2025, 10);
/// First cohort start year whose participants can receive targeted delivery funding.
pub const FIRST_TARGETED_DELIVERY_FUNDING_COHORT: u16 = 2022;

/// Returns whether targeted delivery funding is paid for `course` on `statement`. It is paid when
/// the statement's period is October 2025 or earlier and its cohort started in 2022 or later. It is
/// never paid for the early headship coaching offer or the additional support offer.
pub fn targeted_delivery_funding_applies(statement: &Statement, course: Course) -> bool {
    (statement.year, statement.month) <= LAST_TARGETED_DELIVERY_FUNDING_PERIOD
        && statement.cohort.start_year() >= FIRST_TARGETED_DELIVERY_FUNDING_COHORT
        && !matches!(course.group(), CourseGroup::Ehco | CourseGroup::Support)
}

/// Payment for one declaration: its output payment and any targeted delivery funding. A clawback
/// takes back exactly this amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DeclarationPayment {
    pub output: Pence,
    pub targeted_delivery_funding: Pence,
}

impl DeclarationPayment {
    /// Returns the output payment and the targeted delivery funding together.
    pub fn total(&self) -> Pence {
        self.output + self.targeted_delivery_funding
    }
}

/// One item on a statement, with what the calculation needs to know of its declaration and
/// application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementItemInput {
    pub declaration: DeclarationId,
    pub participant: ParticipantId,
    /// Course of the declaration's application.
    pub course: Course,
    pub declaration_type: DeclarationType,
    pub state: StatementItemState,
    /// Whether the application is eligible for targeted delivery funding.
    pub targeted_delivery_funding_eligible: bool,
    /// Whether the application is eligible for DfE funding.
    pub eligible_for_funding: bool,
    /// For an item awaiting clawback or clawed back: what DfE paid for the declaration, as the
    /// calculation of the statement that paid it recorded (see [`StatementCalculation::payment_for`]).
    /// The clawback takes back exactly this amount. `None` for every other item.
    pub amount_paid: Option<DeclarationPayment>,
}

impl StatementItemInput {
    fn qualifies_for_targeted_delivery_funding(&self) -> bool {
        self.declaration_type == DeclarationType::Started
            && self.targeted_delivery_funding_eligible
            && self.eligible_for_funding
    }
}

/// Returns what a declaration earns on `statement` under `terms`: the output payment per
/// participant, plus any targeted delivery funding. The funding is added when it applies to the
/// statement and course, the declaration is `started`, and the application is eligible both for
/// that funding and for DfE funding.
///
/// When a participant has several billable declarations of one type for one course on a statement,
/// the statement pays once. [`calculate_statement`] then records this amount against one of them
/// and nothing against the others.
pub fn declaration_payment(
    statement: &Statement,
    terms: &ContractTerms,
    item: &StatementItemInput,
) -> DeclarationPayment {
    let funding_applies =
        targeted_delivery_funding_applies(statement, item.course) && item.qualifies_for_targeted_delivery_funding();
    DeclarationPayment {
        output: terms.output_payment_per_participant(),
        targeted_delivery_funding: if funding_applies {
            terms.targeted_delivery_funding_per_participant
        } else {
            Pence::ZERO
        },
    }
}

/// An amount DfE adds to or takes off a statement by hand, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub id: AdjustmentId,
    pub statement: StatementId,
    pub description: String,
    /// Positive to pay the lead provider more, negative to pay less; never zero.
    pub amount: Pence,
    pub created_at: Timestamp,
}

/// Checks a new adjustment on `statement` and reports every failure: the description must not be
/// blank, the amount must not be zero, and the statement must not have been paid.
pub fn check_new_adjustment(statement: &Statement, description: &str, amount: Pence) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if description.trim().is_empty() {
        errors.push(error("description", "The description is missing; say why the statement is adjusted."));
    }
    if amount.is_zero() {
        errors.push(error("amount", "The amount is zero; enter an amount to add, or a negative one to take off."));
    }
    if statement.state == StatementState::Paid {
        errors.push(error("base", "The statement has been paid, so it cannot be adjusted."));
    }
    errors
}

/// Number of distinct participants per declaration type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypeCounts {
    pub started: usize,
    pub retained_one: usize,
    pub retained_two: usize,
    pub completed: usize,
}

impl TypeCounts {
    /// Returns `retained-1` and `retained-2` together, as statements show them.
    pub fn retained(&self) -> usize {
        self.retained_one + self.retained_two
    }

    fn add(&mut self, declaration_type: DeclarationType) {
        match declaration_type {
            DeclarationType::Started => self.started += 1,
            DeclarationType::RetainedOne => self.retained_one += 1,
            DeclarationType::RetainedTwo => self.retained_two += 1,
            DeclarationType::Completed => self.completed += 1,
        }
    }
}

/// The figures of one course on a statement. Counts are of distinct (participant, declaration
/// type) pairs, so several declarations of one participant and type count once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseBreakdown {
    pub course: Course,
    /// Whether the course is paid apart, so it is left out of the statement totals.
    pub special_course: bool,
    /// Pairs among eligible, payable and paid items.
    pub billable_count: usize,
    /// Pairs among items awaiting clawback or clawed back.
    pub refundable_count: usize,
    /// Pairs among ineligible and voided items.
    pub not_eligible_count: usize,
    pub billable_by_type: TypeCounts,
    pub refundable_by_type: TypeCounts,
    pub output_payment_per_participant: Pence,
    /// `billable_count × output_payment_per_participant`.
    pub output_subtotal: Pence,
    /// Output payments taken back: the sum of what each refundable declaration was paid as output.
    pub clawback: Pence,
    /// Service fee rate per participant of the recruitment target, shown for information.
    pub service_fee_per_participant: Pence,
    /// Service fee paid this month.
    pub monthly_service_fee: Pence,
    /// Whether targeted delivery funding is paid for this course on this statement.
    pub targeted_delivery_funding_applies: bool,
    /// Billable `started` pairs that earn targeted delivery funding.
    pub targeted_delivery_funding_count: usize,
    /// Refundable pairs whose payment included targeted delivery funding.
    pub targeted_delivery_funding_refundable_count: usize,
    /// `targeted_delivery_funding_count ×` the funding per participant.
    pub targeted_delivery_funding_subtotal: Pence,
    /// Targeted delivery funding taken back: the sum of what each refundable declaration was paid.
    pub targeted_delivery_funding_refundable: Pence,
    /// `monthly_service_fee + output_subtotal − clawback + targeted_delivery_funding_subtotal −
    /// targeted_delivery_funding_refundable`.
    pub total: Pence,
}

/// The totals of a statement, over its courses that are not special.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementTotals {
    pub service_fees: Pence,
    pub output_payments: Pence,
    pub targeted_delivery_funding: Pence,
    /// Output payments taken back.
    pub clawback_payments: Pence,
    /// Targeted delivery funding taken back.
    pub targeted_delivery_funding_refundable: Pence,
    /// `clawback_payments + targeted_delivery_funding_refundable`.
    pub clawbacks: Pence,
    /// Sum of the statement's adjustments.
    pub adjustments: Pence,
    pub reconcile_amount: Pence,
    /// `service_fees + output_payments − clawbacks + adjustments + reconcile_amount +
    /// targeted_delivery_funding`.
    pub total: Pence,
    /// Billable `started` pairs.
    pub starts: usize,
    /// Billable `retained-1` and `retained-2` pairs.
    pub retained: usize,
    /// Billable `completed` pairs.
    pub completed: usize,
    /// Voided items on the statement, each declaration counted, on any course.
    pub voided: usize,
}

/// The calculation of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementCalculation {
    /// One breakdown per contract, ordered by course identifier.
    pub courses: Vec<CourseBreakdown>,
    pub totals: StatementTotals,
    /// Payment for each billable declaration on a course with a contract, ordered by declaration
    /// id. A second billable declaration of the same participant and type is listed
    /// with nothing, because the statement pays for the pair once.
    pub payments: Vec<(DeclarationId, DeclarationPayment)>,
    /// Items whose course has no contract on the statement, which the calculation cannot value.
    /// The store should treat any as a data error.
    pub without_contract: Vec<DeclarationId>,
}

impl StatementCalculation {
    /// Returns what the statement pays for `declaration`, or `None` when the statement does not pay
    /// for it. Record this when the statement is paid: a later clawback needs it as
    /// [`StatementItemInput::amount_paid`].
    pub fn payment_for(&self, declaration: DeclarationId) -> Option<DeclarationPayment> {
        self.payments
            .binary_search_by_key(&declaration, |(id, _)| *id)
            .ok()
            .and_then(|index| self.payments.get(index))
            .map(|(_, payment)| *payment)
    }
}

/// Reason a statement cannot be calculated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalculationError {
    #[error("the contract terms for {course} are invalid: {}", join_messages(errors))]
    InvalidContract { course: Course, errors: Vec<FieldError> },
    #[error("the statement has two contracts for {0}; keep one")]
    DuplicateContract(Course),
    /// The contract belongs to another lead provider or cohort than the statement.
    #[error("the contract for {0} belongs to another lead provider or cohort than the statement")]
    ContractForAnotherStatement(Course),
    #[error("declaration {0} has more than one item on the statement")]
    DuplicateItem(DeclarationId),
    #[error("declaration {0} is awaiting clawback or clawed back, but the amount it was paid is missing")]
    MissingAmountPaid(DeclarationId),
    #[error("adjustment {0} belongs to another statement")]
    AdjustmentForAnotherStatement(AdjustmentId),
    #[error("adjustment {0} has an amount of zero")]
    ZeroAdjustment(AdjustmentId),
    /// An amount does not fit in an `i64` number of pence.
    #[error("a statement amount is too large to represent")]
    AmountTooLarge,
}

fn join_messages(errors: &[FieldError]) -> String {
    errors.iter().map(|error| error.message.as_str()).collect::<Vec<_>>().join(" ")
}

/// Converts a count to `i128`, which represents every `usize` value on targets of up to 64 bits.
fn count_as_i128(count: usize) -> i128 {
    count as i128
}

fn exact(amount: i128) -> Result<Pence, CalculationError> {
    Pence::from_exact(amount).ok_or(CalculationError::AmountTooLarge)
}

/// Calculates a statement from its contracts, items and adjustments, and its reconcile amount.
///
/// Each contract gets a [`CourseBreakdown`] of the items on its course. Billable pairs earn the
/// output payment per participant each, and the `started` ones eligible for targeted delivery
/// funding also earn that funding while it applies. Refundable items take back what they were paid
/// ([`StatementItemInput::amount_paid`]). The monthly service fee is paid whatever the items. The
/// totals add up the courses that are not special, the adjustments and the reconcile amount.
/// Every figure is whole pence and every total is the exact sum of its lines.
///
/// # Errors
///
/// A [`CalculationError`] when a contract is invalid, duplicated, or for another lead provider or
/// cohort. Also when a declaration has two items, or a refundable item lacks the amount it was
/// paid. Also when an adjustment is zero or for another statement, or an amount overflows.
pub fn calculate_statement(
    statement: &Statement,
    contracts: &[ContractTerms],
    items: &[StatementItemInput],
    adjustments: &[Adjustment],
) -> Result<StatementCalculation, CalculationError> {
    check_inputs(statement, contracts, items, adjustments)?;

    let mut sorted_contracts: Vec<&ContractTerms> = contracts.iter().collect();
    sorted_contracts.sort_by_key(|terms| terms.course.as_str());
    let mut courses = Vec::with_capacity(sorted_contracts.len());
    let mut payments = Vec::new();
    for terms in sorted_contracts {
        let course_items: Vec<&StatementItemInput> = items.iter().filter(|item| item.course == terms.course).collect();
        courses.push(calculate_course(statement, terms, &course_items, &mut payments)?);
    }
    payments.sort_by_key(|(declaration, _)| *declaration);

    let mut without_contract: Vec<DeclarationId> = items
        .iter()
        .filter(|item| !contracts.iter().any(|terms| terms.course == item.course))
        .map(|item| item.declaration)
        .collect();
    without_contract.sort();

    let totals = calculate_totals(statement, &courses, items, adjustments)?;
    Ok(StatementCalculation { courses, totals, payments, without_contract })
}

fn check_inputs(
    statement: &Statement,
    contracts: &[ContractTerms],
    items: &[StatementItemInput],
    adjustments: &[Adjustment],
) -> Result<(), CalculationError> {
    let mut courses = BTreeSet::new();
    for terms in contracts {
        if !courses.insert(terms.course) {
            return Err(CalculationError::DuplicateContract(terms.course));
        }
        if terms.lead_provider != statement.lead_provider || terms.cohort != statement.cohort {
            return Err(CalculationError::ContractForAnotherStatement(terms.course));
        }
        let errors = terms.validate();
        if !errors.is_empty() {
            return Err(CalculationError::InvalidContract { course: terms.course, errors });
        }
    }
    let mut declarations = BTreeSet::new();
    for item in items {
        if !declarations.insert(item.declaration) {
            return Err(CalculationError::DuplicateItem(item.declaration));
        }
        if item.state.group() == ItemGroup::Refundable && item.amount_paid.is_none() {
            return Err(CalculationError::MissingAmountPaid(item.declaration));
        }
    }
    for adjustment in adjustments {
        if adjustment.statement != statement.id {
            return Err(CalculationError::AdjustmentForAnotherStatement(adjustment.id));
        }
        if adjustment.amount.is_zero() {
            return Err(CalculationError::ZeroAdjustment(adjustment.id));
        }
    }
    Ok(())
}

/// Calculates one course, and appends what it pays for each billable declaration to `payments`.
fn calculate_course(
    statement: &Statement,
    terms: &ContractTerms,
    items: &[&StatementItemInput],
    payments: &mut Vec<(DeclarationId, DeclarationPayment)>,
) -> Result<CourseBreakdown, CalculationError> {
    type Pair = (ParticipantId, DeclarationType);
    let mut billable: BTreeMap<Pair, Vec<&StatementItemInput>> = BTreeMap::new();
    let mut refundable: BTreeMap<Pair, Vec<&StatementItemInput>> = BTreeMap::new();
    let mut not_eligible: BTreeSet<Pair> = BTreeSet::new();
    for item in items {
        let pair = (item.participant, item.declaration_type);
        match item.state.group() {
            ItemGroup::Billable => billable.entry(pair).or_default().push(item),
            ItemGroup::Refundable => refundable.entry(pair).or_default().push(item),
            ItemGroup::NotEligible => {
                not_eligible.insert(pair);
            }
        }
    }

    // Each billable pair is paid once, through one of its declarations: one that earns targeted
    // delivery funding if there is one, then the lowest id. The others are recorded with nothing.
    let mut billable_by_type = TypeCounts::default();
    let mut funded_pairs = 0;
    for ((_, declaration_type), declarations) in &billable {
        billable_by_type.add(*declaration_type);
        let chosen = declarations.iter().min_by_key(|item| {
            (declaration_payment(statement, terms, item).targeted_delivery_funding.is_zero(), item.declaration)
        });
        for item in declarations {
            let is_chosen = chosen.is_some_and(|chosen| chosen.declaration == item.declaration);
            let payment =
                if is_chosen { declaration_payment(statement, terms, item) } else { DeclarationPayment::default() };
            if !payment.targeted_delivery_funding.is_zero() {
                funded_pairs += 1;
            }
            payments.push((item.declaration, payment));
        }
    }

    let mut refundable_by_type = TypeCounts::default();
    let mut clawback: i128 = 0;
    let mut funding_refundable: i128 = 0;
    let mut funded_refundable_pairs = 0;
    for ((_, declaration_type), declarations) in &refundable {
        refundable_by_type.add(*declaration_type);
        let paid: Vec<DeclarationPayment> = declarations.iter().filter_map(|item| item.amount_paid).collect();
        clawback += paid.iter().map(|payment| i128::from(payment.output.0)).sum::<i128>();
        funding_refundable += paid.iter().map(|payment| i128::from(payment.targeted_delivery_funding.0)).sum::<i128>();
        if paid.iter().any(|payment| !payment.targeted_delivery_funding.is_zero()) {
            funded_refundable_pairs += 1;
        }
    }

    let output_payment_per_participant = terms.output_payment_per_participant();
    let funding_per_participant = terms.targeted_delivery_funding_per_participant;
    let monthly_service_fee = terms.service_fee_per_month();
    let output_subtotal = count_as_i128(billable.len()) * i128::from(output_payment_per_participant.0);
    let funding_subtotal = count_as_i128(funded_pairs) * i128::from(funding_per_participant.0);
    let total = i128::from(monthly_service_fee.0) + output_subtotal - clawback + funding_subtotal - funding_refundable;

    Ok(CourseBreakdown {
        course: terms.course,
        special_course: terms.special_course,
        billable_count: billable.len(),
        refundable_count: refundable.len(),
        not_eligible_count: not_eligible.len(),
        billable_by_type,
        refundable_by_type,
        output_payment_per_participant,
        output_subtotal: exact(output_subtotal)?,
        clawback: exact(clawback)?,
        service_fee_per_participant: terms.service_fee_per_participant(),
        monthly_service_fee,
        targeted_delivery_funding_applies: targeted_delivery_funding_applies(statement, terms.course),
        targeted_delivery_funding_count: funded_pairs,
        targeted_delivery_funding_refundable_count: funded_refundable_pairs,
        targeted_delivery_funding_subtotal: exact(funding_subtotal)?,
        targeted_delivery_funding_refundable: exact(funding_refundable)?,
        total: exact(total)?,
    })
}

fn calculate_totals(
    statement: &Statement,
    courses: &[CourseBreakdown],
    items: &[StatementItemInput],
    adjustments: &[Adjustment],
) -> Result<StatementTotals, CalculationError> {
    let counted: Vec<&CourseBreakdown> = courses.iter().filter(|course| !course.special_course).collect();
    let sum =
        |line: fn(&CourseBreakdown) -> Pence| -> i128 { counted.iter().map(|course| i128::from(line(course).0)).sum() };
    let service_fees = sum(|course| course.monthly_service_fee);
    let output_payments = sum(|course| course.output_subtotal);
    let funding = sum(|course| course.targeted_delivery_funding_subtotal);
    let clawback_payments = sum(|course| course.clawback);
    let funding_refundable = sum(|course| course.targeted_delivery_funding_refundable);
    let clawbacks = clawback_payments + funding_refundable;
    let adjustment_total: i128 = adjustments.iter().map(|adjustment| i128::from(adjustment.amount.0)).sum();
    let reconcile = i128::from(statement.reconcile_amount.0);
    let total = service_fees + output_payments - clawbacks + adjustment_total + reconcile + funding;

    Ok(StatementTotals {
        service_fees: exact(service_fees)?,
        output_payments: exact(output_payments)?,
        targeted_delivery_funding: exact(funding)?,
        clawback_payments: exact(clawback_payments)?,
        targeted_delivery_funding_refundable: exact(funding_refundable)?,
        clawbacks: exact(clawbacks)?,
        adjustments: exact(adjustment_total)?,
        reconcile_amount: statement.reconcile_amount,
        total: exact(total)?,
        starts: counted.iter().map(|course| course.billable_by_type.started).sum(),
        retained: counted.iter().map(|course| course.billable_by_type.retained()).sum(),
        completed: counted.iter().map(|course| course.billable_by_type.completed).sum(),
        voided: items.iter().filter(|item| item.state == StatementItemState::Voided).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;
    use uuid::Uuid;

    use crate::declaration::{DeclarationEvent, DeclarationState, Voiding};
    use crate::statement::{LinkedDeclaration, item_after_void, mark_paid, mark_payable, next_output_fee_statement};

    fn provider() -> LeadProviderId {
        LeadProviderId::from_uuid(Uuid::from_u128(1))
    }

    fn cohort(text: &str) -> CohortIdentifier {
        text.parse().unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn noon(date: NaiveDate) -> Timestamp {
        chrono::Utc.from_utc_datetime(&date.and_hms_opt(12, 0, 0).unwrap())
    }

    fn pounds(amount: i64) -> Pence {
        Pence(amount * 100)
    }

    /// Returns an open output-fee statement of cohort 2023 for the given month, with its deadline on
    /// the 25th.
    fn statement(id: u128, year: i32, month: u32) -> Statement {
        let deadline = NaiveDate::from_ymd_opt(year, month, 25).unwrap();
        Statement {
            id: StatementId::from_uuid(Uuid::from_u128(id)),
            lead_provider: provider(),
            cohort: cohort("2023a"),
            year,
            month,
            deadline_date: Some(deadline),
            payment_date: Some(deadline + chrono::Duration::days(10)),
            output_fee: true,
            state: StatementState::Open,
            marked_as_paid_at: None,
            reconcile_amount: Pence::ZERO,
            created_at: noon(day("2023-01-01")),
            updated_at: noon(day("2023-01-01")),
        }
    }

    /// Returns the contract of the worked example: £800 per participant, 60% output over 3 periods,
    /// 40% service fee over 19 instalments, a target of 72 and £100 of targeted delivery funding.
    fn worked_terms(course: Course) -> ContractTerms {
        ContractTerms {
            lead_provider: provider(),
            cohort: cohort("2023a"),
            course,
            per_participant: pounds(800),
            output_payment_percentage: 60,
            number_of_payment_periods: 3,
            service_fee_percentage: 40,
            service_fee_instalments: 19,
            recruitment_target: 72,
            monthly_service_fee: None,
            targeted_delivery_funding_per_participant: pounds(100),
            special_course: false,
        }
    }

    fn declaration_id(number: u128) -> DeclarationId {
        DeclarationId::from_uuid(Uuid::from_u128(number))
    }

    fn participant_id(number: u128) -> ParticipantId {
        ParticipantId::from_uuid(Uuid::from_u128(number))
    }

    /// Returns an item on the senior leadership course, not eligible for targeted delivery funding.
    fn item(
        declaration: u128,
        participant: u128,
        declaration_type: DeclarationType,
        state: StatementItemState,
    ) -> StatementItemInput {
        StatementItemInput {
            declaration: declaration_id(declaration),
            participant: participant_id(participant),
            course: Course::SeniorLeadership,
            declaration_type,
            state,
            targeted_delivery_funding_eligible: false,
            eligible_for_funding: true,
            amount_paid: None,
        }
    }

    fn funded(item: StatementItemInput) -> StatementItemInput {
        StatementItemInput { targeted_delivery_funding_eligible: true, ..item }
    }

    fn adjustment(number: u128, statement: &Statement, amount: Pence) -> Adjustment {
        Adjustment {
            id: AdjustmentId::from_uuid(Uuid::from_u128(number)),
            statement: statement.id,
            description: "Correction".to_owned(),
            amount,
            created_at: noon(day("2025-09-01")),
        }
    }

    fn calculate(statement: &Statement, items: &[StatementItemInput]) -> StatementCalculation {
        calculate_statement(statement, &[worked_terms(Course::SeniorLeadership)], items, &[]).unwrap()
    }

    #[test]
    fn pence_print_as_pounds() {
        assert_eq!(Pence(121_263).to_string(), "£1212.63");
        assert_eq!(Pence(-5_000).to_string(), "-£50.00");
        assert_eq!(Pence(5).to_string(), "£0.05");
        assert_eq!(Pence(i64::MIN).to_string(), "-£92233720368547758.08");
    }

    #[test]
    fn pence_add_subtract_and_sum() {
        assert_eq!(Pence(150) + Pence(50), Pence(200));
        assert_eq!(Pence(150) - Pence(200), Pence(-50));
        assert_eq!(-Pence(5), Pence(-5));
        assert_eq!([Pence(1), Pence(2), Pence(3)].into_iter().sum::<Pence>(), Pence(6));
    }

    #[test]
    fn rounding_is_half_up_to_whole_pence() {
        assert_eq!(divide_rounding_half_up(3, 2), 2);
        assert_eq!(divide_rounding_half_up(5, 4), 1);
        assert_eq!(divide_rounding_half_up(7, 4), 2);
        assert_eq!(divide_rounding_half_up(-3, 2), -2);
        assert_eq!(divide_rounding_half_up(1, 0), 0);
        assert_eq!(divide_rounding_half_up(i128::MAX, 2), 1 << 126);

        // 60% of £1000.10 over 4 periods is exactly 15001.5p, which rounds up.
        let half = ContractTerms {
            per_participant: Pence(100_010),
            number_of_payment_periods: 4,
            ..worked_terms(Course::Headship)
        };
        assert_eq!(half.output_payment_per_participant(), Pence(15_002));
        // 60% of £1000.01 over 4 periods is 15000.15p, which rounds down.
        let below = ContractTerms { per_participant: Pence(100_001), ..half };
        assert_eq!(below.output_payment_per_participant(), Pence(15_000));
    }

    #[test]
    fn extreme_unvalidated_terms_saturate() {
        let extreme = ContractTerms {
            per_participant: Pence(i64::MAX),
            output_payment_percentage: u32::MAX,
            number_of_payment_periods: 1,
            service_fee_percentage: u32::MAX,
            service_fee_instalments: 1,
            recruitment_target: u32::MAX,
            ..worked_terms(Course::Headship)
        };
        assert!(!extreme.validate().is_empty());
        assert_eq!(extreme.output_payment_per_participant(), Pence(i64::MAX));
        assert_eq!(extreme.service_fee_per_month(), Pence(i64::MAX));
        assert_eq!(extreme.service_fee_per_participant(), Pence(i64::MAX));
    }

    #[test]
    fn worked_contract_pays_160_per_participant() {
        assert_eq!(worked_terms(Course::SeniorLeadership).output_payment_per_participant(), pounds(160));
    }

    #[test]
    fn ten_participants_earn_a_1600_subtotal() {
        let items: Vec<StatementItemInput> = (1..=10)
            .map(|number| item(number, number, DeclarationType::Started, StatementItemState::Eligible))
            .collect();

        let calculation = calculate(&statement(1, 2025, 9), &items);

        let course = &calculation.courses[0];
        assert_eq!(course.billable_count, 10);
        assert_eq!(course.output_payment_per_participant, pounds(160));
        assert_eq!(course.output_subtotal, pounds(1600));
        assert_eq!(calculation.totals.output_payments, pounds(1600));
    }

    #[test]
    fn service_fee_rounds_once_per_month() {
        let terms = worked_terms(Course::SeniorLeadership);

        // Exactly £800 × 40% / 19 = £16.842105…, shown as £16.84.
        assert_eq!(terms.service_fee_per_participant(), Pence(1_684));
        // Exactly 72 × £16.842105… = £1212.631578…, paid as £1212.63. The rate times the target
        // (£1212.48) is not what is paid, because the fee is rounded once from the exact figure.
        assert_eq!(terms.service_fee_per_month(), Pence(121_263));

        let calculation = calculate(&statement(1, 2025, 9), &[]);
        assert_eq!(calculation.courses[0].monthly_service_fee, Pence(121_263));
        assert_eq!(calculation.totals.service_fees, Pence(121_263));
        assert_eq!(calculation.totals.total, Pence(121_263));
    }

    #[test]
    fn funded_start_adds_160_and_100() {
        let september = statement(1, 2025, 9);
        let started = funded(item(1, 1, DeclarationType::Started, StatementItemState::Eligible));

        let calculation = calculate(&september, std::slice::from_ref(&started));

        let course = &calculation.courses[0];
        assert!(course.targeted_delivery_funding_applies);
        assert_eq!(course.output_subtotal, pounds(160));
        assert_eq!(course.targeted_delivery_funding_count, 1);
        assert_eq!(course.targeted_delivery_funding_subtotal, pounds(100));
        assert_eq!(calculation.totals.total, Pence(121_263) + pounds(260));
        let expected = DeclarationPayment { output: pounds(160), targeted_delivery_funding: pounds(100) };
        assert_eq!(calculation.payment_for(started.declaration), Some(expected));
        assert_eq!(declaration_payment(&september, &worked_terms(Course::SeniorLeadership), &started), expected);
    }

    #[test]
    fn a_clawback_takes_back_exactly_what_was_paid() {
        // Paid in September 2025, while targeted delivery funding still applies.
        let september = statement(1, 2025, 9);
        let started = funded(item(1, 1, DeclarationType::Started, StatementItemState::Paid));
        let paid = calculate(&september, std::slice::from_ref(&started)).payment_for(started.declaration).unwrap();
        assert_eq!(paid.total(), pounds(260));

        // Clawed back in November 2025, when the funding no longer applies to new payments.
        let november = statement(2, 2025, 11);
        let clawback =
            StatementItemInput { state: StatementItemState::AwaitingClawback, amount_paid: Some(paid), ..started };
        let calculation = calculate(&november, &[clawback]);

        let course = &calculation.courses[0];
        assert!(!course.targeted_delivery_funding_applies);
        assert_eq!(course.refundable_count, 1);
        assert_eq!(course.clawback, pounds(160));
        assert_eq!(course.targeted_delivery_funding_refundable, pounds(100));
        assert_eq!(course.targeted_delivery_funding_refundable_count, 1);
        assert_eq!(calculation.totals.clawbacks, pounds(260));
        assert_eq!(calculation.totals.total, Pence(121_263) - pounds(260));
    }

    #[test]
    fn reconcile_and_adjustments_add_linearly() {
        let terms = [worked_terms(Course::SeniorLeadership)];
        let base = statement(1, 2025, 9);
        let items = [funded(item(1, 1, DeclarationType::Started, StatementItemState::Eligible))];
        let base_total = calculate_statement(&base, &terms, &items, &[]).unwrap().totals.total;
        assert_eq!(base_total, Pence(147_263));

        for reconcile in [pounds(1234), pounds(-1234)] {
            let reconciled = Statement { reconcile_amount: reconcile, ..base.clone() };
            let totals = calculate_statement(&reconciled, &terms, &items, &[]).unwrap().totals;
            assert_eq!(totals.reconcile_amount, reconcile);
            assert_eq!(totals.total, base_total + reconcile);
        }

        let adjustments = [adjustment(1, &base, pounds(100)), adjustment(2, &base, pounds(-50))];
        let totals = calculate_statement(&base, &terms, &items, &adjustments).unwrap().totals;
        assert_eq!(totals.adjustments, pounds(50));
        assert_eq!(totals.total, base_total + pounds(50));
    }

    #[test]
    fn funding_applies_until_october_2025_from_cohort_2022() {
        let cases = [
            ("2022a", 2025, 10, Course::Headship, true),
            ("2023a", 2024, 1, Course::LeadingTeaching, true),
            ("2022a", 2025, 11, Course::Headship, false),
            ("2026a", 2026, 1, Course::Headship, false),
            ("2021a", 2023, 5, Course::Headship, false),
            ("2023a", 2024, 1, Course::EarlyHeadshipCoachingOffer, false),
            ("2023a", 2024, 1, Course::AdditionalSupportOffer, false),
        ];
        for (cohort_text, year, month, course, expected) in cases {
            let period = Statement { cohort: cohort(cohort_text), ..statement(1, year, month) };
            assert_eq!(
                targeted_delivery_funding_applies(&period, course),
                expected,
                "{cohort_text} {year}-{month} {course}"
            );
        }
    }

    #[test]
    fn counts_are_distinct_by_participant_and_type() {
        use DeclarationType::*;
        use StatementItemState::*;
        let items = [
            item(1, 1, Started, Eligible),
            item(2, 1, Started, Payable),
            item(3, 1, RetainedOne, Eligible),
            item(4, 2, RetainedTwo, Paid),
            item(5, 3, Completed, Eligible),
            StatementItemInput { amount_paid: Some(DeclarationPayment::default()), ..item(6, 4, Started, ClawedBack) },
            StatementItemInput {
                amount_paid: Some(DeclarationPayment::default()),
                ..item(7, 4, RetainedOne, AwaitingClawback)
            },
            item(8, 5, Started, Voided),
            item(9, 5, Started, Ineligible),
            item(10, 6, Started, Voided),
        ];

        let calculation = calculate(&statement(1, 2025, 9), &items);

        let course = &calculation.courses[0];
        assert_eq!(course.billable_count, 4);
        assert_eq!(course.billable_by_type, TypeCounts { started: 1, retained_one: 1, retained_two: 1, completed: 1 });
        assert_eq!(course.billable_by_type.retained(), 2);
        assert_eq!(course.refundable_count, 2);
        assert_eq!(course.refundable_by_type, TypeCounts { started: 1, retained_one: 1, ..TypeCounts::default() });
        assert_eq!(course.not_eligible_count, 2);
        assert_eq!(course.output_subtotal, pounds(640));
        assert_eq!(calculation.totals.starts, 1);
        assert_eq!(calculation.totals.retained, 2);
        assert_eq!(calculation.totals.completed, 1);
        assert_eq!(calculation.totals.voided, 2);
    }

    #[test]
    fn duplicate_declaration_is_paid_once() {
        let first = item(1, 1, DeclarationType::Started, StatementItemState::Payable);
        let funded_second = funded(item(2, 1, DeclarationType::Started, StatementItemState::Payable));

        let calculation = calculate(&statement(1, 2025, 9), &[first.clone(), funded_second.clone()]);

        // The pair is paid once, through the declaration that earns the funding.
        let course = &calculation.courses[0];
        assert_eq!(course.billable_count, 1);
        assert_eq!(course.output_subtotal + course.targeted_delivery_funding_subtotal, pounds(260));
        assert_eq!(calculation.payment_for(first.declaration), Some(DeclarationPayment::default()));
        assert_eq!(
            calculation.payment_for(funded_second.declaration).map(|payment| payment.total()),
            Some(pounds(260))
        );
        assert_eq!(calculation.payments.len(), 2);
    }

    #[test]
    fn set_monthly_fee_replaces_computed_fee() {
        let set = ContractTerms {
            monthly_service_fee: Some(Pence(543_210)),
            recruitment_target: 438,
            ..worked_terms(Course::SeniorLeadership)
        };
        assert_eq!(set.service_fee_per_month(), Pence(543_210));
        // £5432.10 / 438 = £12.402054…
        assert_eq!(set.service_fee_per_participant(), Pence(1_240));

        let none = ContractTerms { monthly_service_fee: Some(Pence::ZERO), ..set };
        assert_eq!(none.service_fee_per_month(), Pence::ZERO);
        assert_eq!(none.service_fee_per_participant(), Pence::ZERO);

        let no_share = ContractTerms { service_fee_percentage: 0, ..worked_terms(Course::SeniorLeadership) };
        assert_eq!(no_share.service_fee_per_month(), Pence::ZERO);
    }

    #[test]
    fn special_courses_stay_out_of_the_totals() {
        let regular = worked_terms(Course::SeniorLeadership);
        let special = ContractTerms { special_course: true, ..worked_terms(Course::Headship) };
        let items: Vec<StatementItemInput> = (1..=10)
            .map(|number| {
                let course = if number <= 3 { Course::SeniorLeadership } else { Course::Headship };
                StatementItemInput {
                    course,
                    ..item(number, number, DeclarationType::Started, StatementItemState::Eligible)
                }
            })
            .collect();

        let calculation = calculate_statement(&statement(1, 2025, 9), &[special, regular], &items, &[]).unwrap();

        let courses: Vec<Course> = calculation.courses.iter().map(|course| course.course).collect();
        assert_eq!(courses, [Course::Headship, Course::SeniorLeadership]);
        assert_eq!(calculation.courses[0].output_subtotal, pounds(1120));
        assert_eq!(calculation.totals.starts, 3);
        assert_eq!(calculation.totals.output_payments, pounds(480));
        assert_eq!(calculation.totals.service_fees, Pence(121_263));
    }

    #[test]
    fn items_without_a_contract_are_reported() {
        let orphan = StatementItemInput {
            course: Course::LeadingLiteracy,
            ..item(2, 2, DeclarationType::Started, StatementItemState::Eligible)
        };
        let items = [item(1, 1, DeclarationType::Started, StatementItemState::Eligible), orphan];

        let calculation = calculate(&statement(1, 2025, 9), &items);

        assert_eq!(calculation.without_contract, [declaration_id(2)]);
        assert_eq!(calculation.totals.output_payments, pounds(160));
        assert_eq!(calculation.payment_for(declaration_id(2)), None);
    }

    #[test]
    fn presets_follow_the_course_group() {
        let preset = |course| ContractTerms::preset(provider(), cohort("2025a"), course, pounds(1000), 50, 20);
        let leadership = preset(Course::Headship);
        assert_eq!(
            (
                leadership.number_of_payment_periods,
                leadership.service_fee_percentage,
                leadership.output_payment_percentage
            ),
            (4, 40, 60)
        );
        let specialist = preset(Course::LeadingLiteracy);
        assert_eq!(
            (
                specialist.number_of_payment_periods,
                specialist.service_fee_percentage,
                specialist.output_payment_percentage
            ),
            (3, 40, 60)
        );
        for course in [Course::EarlyHeadshipCoachingOffer, Course::AdditionalSupportOffer] {
            let terms = preset(course);
            assert_eq!(
                (terms.number_of_payment_periods, terms.service_fee_percentage, terms.output_payment_percentage),
                (4, 0, 100),
                "{course}"
            );
        }
        assert_eq!(leadership.targeted_delivery_funding_per_participant, pounds(100));
        assert_eq!(leadership.monthly_service_fee, None);
        assert!(!leadership.special_course);
        assert!(leadership.validate().is_empty());
    }

    #[test]
    fn contract_terms_are_validated() {
        let good = worked_terms(Course::Headship);
        assert!(good.validate().is_empty());
        let cases: [(ContractTerms, &str); 9] = [
            (ContractTerms { per_participant: Pence::ZERO, ..good.clone() }, "per_participant"),
            (ContractTerms { per_participant: Pence(MAX_TERMS_AMOUNT.0 + 1), ..good.clone() }, "per_participant"),
            (ContractTerms { recruitment_target: 0, ..good.clone() }, "recruitment_target"),
            (ContractTerms { output_payment_percentage: 61, ..good.clone() }, "service_fee_percentage"),
            (ContractTerms { number_of_payment_periods: 0, ..good.clone() }, "number_of_payment_periods"),
            (ContractTerms { service_fee_instalments: 0, ..good.clone() }, "service_fee_instalments"),
            (ContractTerms { monthly_service_fee: Some(Pence(-1)), ..good.clone() }, "monthly_service_fee"),
            (
                ContractTerms { targeted_delivery_funding_per_participant: Pence(-1), ..good.clone() },
                "targeted_delivery_funding_per_participant",
            ),
            (ContractTerms { recruitment_target: MAX_RECRUITMENT_TARGET + 1, ..good.clone() }, "recruitment_target"),
        ];
        for (terms, attribute) in cases {
            let attributes: Vec<String> = terms.validate().into_iter().map(|error| error.attribute).collect();
            assert_eq!(attributes, [attribute]);
        }

        let fee_set =
            ContractTerms { service_fee_instalments: 0, monthly_service_fee: Some(pounds(10)), ..good.clone() };
        assert!(fee_set.validate().is_empty());
        let no_output = ContractTerms { output_payment_percentage: 0, number_of_payment_periods: 0, ..good };
        assert!(no_output.validate().is_empty());
    }

    #[test]
    fn adjustment_needs_description_and_amount() {
        let open = statement(1, 2025, 9);
        assert!(check_new_adjustment(&open, "Late declaration", pounds(-50)).is_empty());
        let errors = check_new_adjustment(&open, "  ", Pence::ZERO);
        let attributes: Vec<&str> = errors.iter().map(|error| error.attribute.as_str()).collect();
        assert_eq!(attributes, ["description", "amount"]);
        let paid = Statement { state: StatementState::Paid, ..open };
        assert_eq!(check_new_adjustment(&paid, "Late declaration", pounds(10))[0].attribute, "base");
    }

    #[test]
    fn inconsistent_inputs_are_rejected() {
        let september = statement(1, 2025, 9);
        let terms = worked_terms(Course::SeniorLeadership);
        let calculate = |contracts: &[ContractTerms], items: &[StatementItemInput], adjustments: &[Adjustment]| {
            calculate_statement(&september, contracts, items, adjustments).unwrap_err()
        };

        let invalid = ContractTerms { recruitment_target: 0, ..terms.clone() };
        assert!(matches!(calculate(&[invalid], &[], &[]), CalculationError::InvalidContract { .. }));
        assert_eq!(
            calculate(&[terms.clone(), terms.clone()], &[], &[]),
            CalculationError::DuplicateContract(Course::SeniorLeadership)
        );
        let elsewhere = ContractTerms { cohort: cohort("2024a"), ..terms.clone() };
        assert_eq!(
            calculate(&[elsewhere], &[], &[]),
            CalculationError::ContractForAnotherStatement(Course::SeniorLeadership)
        );
        let twice = item(1, 1, DeclarationType::Started, StatementItemState::Eligible);
        assert_eq!(
            calculate(std::slice::from_ref(&terms), &[twice.clone(), twice], &[]),
            CalculationError::DuplicateItem(declaration_id(1))
        );
        let unpaid_refund = item(2, 1, DeclarationType::Started, StatementItemState::AwaitingClawback);
        assert_eq!(
            calculate(std::slice::from_ref(&terms), &[unpaid_refund], &[]),
            CalculationError::MissingAmountPaid(declaration_id(2))
        );
        let zero = adjustment(3, &september, Pence::ZERO);
        assert_eq!(
            calculate(std::slice::from_ref(&terms), &[], std::slice::from_ref(&zero)),
            CalculationError::ZeroAdjustment(zero.id)
        );
        let foreign = Adjustment {
            statement: StatementId::from_uuid(Uuid::from_u128(99)),
            ..adjustment(4, &september, pounds(1))
        };
        assert_eq!(
            calculate(std::slice::from_ref(&terms), &[], std::slice::from_ref(&foreign)),
            CalculationError::AdjustmentForAnotherStatement(foreign.id)
        );
    }

    const COURSES: [Course; 3] =
        [Course::SeniorLeadership, Course::LeadingLiteracy, Course::EarlyHeadshipCoachingOffer];
    const TYPES: [DeclarationType; 4] = [
        DeclarationType::Started,
        DeclarationType::RetainedOne,
        DeclarationType::RetainedTwo,
        DeclarationType::Completed,
    ];

    /// Generates valid terms for `course` of the lead provider and cohort of `statement(…)`.
    fn any_terms(course: Course) -> impl Strategy<Value = ContractTerms> {
        (
            1i64..=500_000,
            0u32..=100,
            0u32..=100,
            1u32..=6,
            1u32..=24,
            1u32..=1_000,
            proptest::option::of(0i64..=1_000_000),
            0i64..=20_000,
            any::<bool>(),
        )
            .prop_map(
                move |(price, output, service, periods, instalments, target, monthly, funding, special)| {
                    ContractTerms {
                        per_participant: Pence(price),
                        output_payment_percentage: output,
                        number_of_payment_periods: periods,
                        service_fee_percentage: service % (101 - output),
                        service_fee_instalments: instalments,
                        recruitment_target: target,
                        monthly_service_fee: monthly.map(Pence),
                        targeted_delivery_funding_per_participant: Pence(funding),
                        special_course: special,
                        ..worked_terms(course)
                    }
                },
            )
    }

    fn any_contracts() -> impl Strategy<Value = Vec<ContractTerms>> {
        (any_terms(COURSES[0]), any_terms(COURSES[1]), any_terms(COURSES[2]), 0usize..=3)
            .prop_map(|(first, second, third, count)| [first, second, third].into_iter().take(count).collect())
    }

    /// Generates items with distinct declarations, on few enough participants that pairs repeat.
    fn any_items() -> impl Strategy<Value = Vec<StatementItemInput>> {
        let row = (
            1u128..=6,
            0usize..3,
            0usize..4,
            proptest::sample::select(StatementItemState::ALL),
            any::<bool>(),
            any::<bool>(),
            (0i64..=50_000, 0i64..=20_000),
        );
        proptest::collection::vec(row, 0..24).prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(index, (participant, course, kind, state, funding, eligible, (output, uplift)))| {
                    let refundable = state.group() == ItemGroup::Refundable;
                    StatementItemInput {
                        declaration: declaration_id(u128::try_from(index).unwrap() + 1),
                        participant: participant_id(participant),
                        course: COURSES[course],
                        declaration_type: TYPES[kind],
                        state,
                        targeted_delivery_funding_eligible: funding,
                        eligible_for_funding: eligible,
                        amount_paid: refundable.then_some(DeclarationPayment {
                            output: Pence(output),
                            targeted_delivery_funding: Pence(uplift),
                        }),
                    }
                })
                .collect()
        })
    }

    fn any_statement() -> impl Strategy<Value = Statement> {
        (2024i32..=2026, 1u32..=12, -500_000i64..=500_000).prop_map(|(year, month, reconcile)| Statement {
            reconcile_amount: Pence(reconcile),
            ..statement(1, year, month)
        })
    }

    fn any_adjustments() -> impl Strategy<Value = Vec<Adjustment>> {
        proptest::collection::vec((-100_000i64..=100_000).prop_filter("non-zero", |amount| *amount != 0), 0..4)
            .prop_map(|amounts| {
                amounts
                    .into_iter()
                    .enumerate()
                    .map(|(index, amount)| {
                        adjustment(u128::try_from(index).unwrap() + 1, &statement(1, 2025, 1), Pence(amount))
                    })
                    .collect()
            })
    }

    proptest! {
        /// Every line is its count times its rate, or the sum of its items. Every course total and
        /// statement total is the exact sum of its lines. The payments per declaration add up to the
        /// output and funding lines.
        #[test]
        fn statement_total_is_the_sum_of_its_lines(
            statement in any_statement(),
            contracts in any_contracts(),
            items in any_items(),
            adjustments in any_adjustments(),
        ) {
            let calculation = calculate_statement(&statement, &contracts, &items, &adjustments).unwrap();

            for course in &calculation.courses {
                let terms = contracts.iter().find(|terms| terms.course == course.course).unwrap();
                let course_items: Vec<&StatementItemInput> =
                    items.iter().filter(|item| item.course == course.course).collect();
                let count = |value: usize| i64::try_from(value).unwrap();
                prop_assert_eq!(
                    course.output_subtotal.0,
                    count(course.billable_count) * course.output_payment_per_participant.0
                );
                prop_assert_eq!(
                    course.targeted_delivery_funding_subtotal.0,
                    count(course.targeted_delivery_funding_count) * terms.targeted_delivery_funding_per_participant.0
                );
                let paid: Pence = course_items
                    .iter()
                    .filter_map(|item| calculation.payment_for(item.declaration))
                    .map(|payment| payment.total())
                    .sum();
                prop_assert_eq!(paid, course.output_subtotal + course.targeted_delivery_funding_subtotal);
                let refunded: Pence =
                    course_items.iter().filter_map(|item| item.amount_paid).map(|payment| payment.output).sum();
                prop_assert_eq!(refunded, course.clawback);
                prop_assert_eq!(
                    course.total,
                    course.monthly_service_fee + course.output_subtotal - course.clawback
                        + course.targeted_delivery_funding_subtotal - course.targeted_delivery_funding_refundable
                );
            }

            let totals = &calculation.totals;
            let counted: Pence =
                calculation.courses.iter().filter(|course| !course.special_course).map(|course| course.total).sum();
            let adjusted: Pence = adjustments.iter().map(|adjustment| adjustment.amount).sum();
            prop_assert_eq!(totals.total, counted + adjusted + statement.reconcile_amount);
            prop_assert_eq!(totals.clawbacks, totals.clawback_payments + totals.targeted_delivery_funding_refundable);
            prop_assert_eq!(
                totals.total,
                totals.service_fees + totals.output_payments - totals.clawbacks + totals.adjustments
                    + totals.reconcile_amount + totals.targeted_delivery_funding
            );
        }

        /// Whatever the terms and periods of the two statements, the statement holding a clawback
        /// takes back exactly what the statement that paid the declaration paid for it.
        #[test]
        fn clawback_equals_the_amount_paid(
            paying_terms in any_terms(Course::SeniorLeadership),
            clawing_terms in any_terms(Course::SeniorLeadership),
            paying in any_statement(),
            clawing in any_statement(),
            funding in any::<bool>(),
        ) {
            let started = StatementItemInput {
                targeted_delivery_funding_eligible: funding,
                ..item(1, 1, DeclarationType::Started, StatementItemState::Paid)
            };
            let paid_calculation =
                calculate_statement(&paying, std::slice::from_ref(&paying_terms), std::slice::from_ref(&started), &[])
                    .unwrap();
            let paid = paid_calculation.payment_for(started.declaration).unwrap();
            prop_assert_eq!(paid, declaration_payment(&paying, &paying_terms, &started));

            let clawback =
                StatementItemInput { state: StatementItemState::ClawedBack, amount_paid: Some(paid), ..started };
            // A special course would leave the clawback out of the totals.
            let clawing_terms = ContractTerms { special_course: false, ..clawing_terms };
            let calculation = calculate_statement(&clawing, &[clawing_terms], &[clawback], &[]).unwrap();

            prop_assert_eq!(calculation.totals.clawbacks, paid.total());
            prop_assert_eq!(calculation.courses[0].clawback, paid.output);
            prop_assert_eq!(
                calculation.courses[0].targeted_delivery_funding_refundable,
                paid.targeted_delivery_funding
            );
        }

        /// The same inputs in any order give the same calculation.
        #[test]
        fn calculation_ignores_the_order_of_inputs(
            statement in any_statement(),
            contracts in any_contracts(),
            (items, shuffled) in any_items().prop_flat_map(|items| (Just(items.clone()), Just(items).prop_shuffle())),
        ) {
            let first = calculate_statement(&statement, &contracts, &items, &[]).unwrap();
            let again = calculate_statement(&statement, &contracts, &items, &[]).unwrap();
            let reordered_contracts: Vec<ContractTerms> = contracts.iter().rev().cloned().collect();
            let reordered = calculate_statement(&statement, &reordered_contracts, &shuffled, &[]).unwrap();
            prop_assert_eq!(&first, &again);
            prop_assert_eq!(&first, &reordered);
        }
    }

    /// One step of the ledger simulation.
    #[derive(Debug, Clone)]
    enum Step {
        /// A lead provider declares a milestone. `ignore_milestone_rule` lets a second declaration
        /// of the same participant, course and type in, as two applications of one person can.
        Submit {
            participant: u128,
            course: usize,
            kind: usize,
            funding: bool,
            ineligible: bool,
            ignore_milestone_rule: bool,
        },
        /// The lead provider voids the declaration at this index, modulo the number made.
        Void(usize),
        /// Days pass, and the deadline job runs each morning.
        Wait(i64),
        /// DfE authorises payment of the statement at this index.
        Pay(usize),
    }

    fn any_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (
                1u128..=4,
                0usize..2,
                0usize..4,
                any::<bool>(),
                proptest::bool::weighted(0.1),
                proptest::bool::weighted(0.15),
            )
                .prop_map(|(participant, course, kind, funding, ineligible, ignore_milestone_rule)| Step::Submit {
                    participant, course, kind, funding, ineligible, ignore_milestone_rule
                }),
            2 => (0usize..32).prop_map(Step::Void),
            2 => (1i64..=20).prop_map(Step::Wait),
            2 => (0usize..4).prop_map(Step::Pay),
        ]
    }

    /// A declaration in the simulation, with its items as (statement index, state, amount paid).
    struct SimulatedDeclaration {
        item: StatementItemInput,
        state: DeclarationState,
        items: Vec<(usize, StatementItemState, Option<DeclarationPayment>)>,
    }

    /// A lead provider's statements for September to December 2025 in cohort 2024, two course
    /// contracts, and the declarations made on them, driven by random steps.
    struct Ledger {
        today: NaiveDate,
        statements: Vec<Statement>,
        contracts: Vec<ContractTerms>,
        declarations: Vec<SimulatedDeclaration>,
        /// Calculation of each paid statement when it was paid, by statement index.
        paid: BTreeMap<usize, StatementCalculation>,
        /// Payment recorded for each paid declaration.
        payments: BTreeMap<DeclarationId, DeclarationPayment>,
    }

    impl Ledger {
        fn new(price: i64, funding: i64) -> Self {
            let statements = (9..=12)
                .map(|month| Statement { cohort: cohort("2024a"), ..statement(u128::from(month), 2025, month) })
                .collect();
            let contracts = [Course::SeniorLeadership, Course::EarlyHeadshipCoachingOffer]
                .into_iter()
                .map(|course| ContractTerms {
                    targeted_delivery_funding_per_participant: Pence(funding),
                    ..ContractTerms::preset(provider(), cohort("2024a"), course, Pence(price), 40, 12)
                })
                .collect();
            Self {
                today: day("2025-09-01"),
                statements,
                contracts,
                declarations: Vec::new(),
                paid: BTreeMap::new(),
                payments: BTreeMap::new(),
            }
        }

        fn next_statement(&self) -> Option<usize> {
            let next = next_output_fee_statement(&self.statements, provider(), cohort("2024a"), self.today)?;
            self.statements.iter().position(|statement| statement.id == next.id)
        }

        fn items_on(&self, statement: usize) -> Vec<StatementItemInput> {
            self.declarations
                .iter()
                .flat_map(|simulated| {
                    simulated.items.iter().filter(|(on, _, _)| *on == statement).map(|(_, state, amount_paid)| {
                        StatementItemInput { state: *state, amount_paid: *amount_paid, ..simulated.item.clone() }
                    })
                })
                .collect()
        }

        fn calculate(&self, statement: usize) -> StatementCalculation {
            calculate_statement(&self.statements[statement], &self.contracts, &self.items_on(statement), &[]).unwrap()
        }

        /// Returns every link to the statement, as (declaration index, item index, link).
        fn links(&self, statement: usize) -> Vec<(usize, usize, LinkedDeclaration)> {
            let mut links = Vec::new();
            for (declaration, simulated) in self.declarations.iter().enumerate() {
                for (position, (on, state, _)) in simulated.items.iter().enumerate() {
                    if *on == statement {
                        links.push((
                            declaration,
                            position,
                            LinkedDeclaration { declaration: simulated.state, item: *state },
                        ));
                    }
                }
            }
            links
        }

        fn apply(&mut self, links: &[(usize, usize, LinkedDeclaration)], moved: &[LinkedDeclaration]) {
            for ((declaration, position, _), after) in links.iter().zip(moved) {
                self.declarations[*declaration].state = after.declaration;
                self.declarations[*declaration].items[*position].1 = after.item;
            }
        }

        fn step(&mut self, step: &Step) {
            match *step {
                Step::Submit { participant, course, kind, funding, ineligible, ignore_milestone_rule } => {
                    let item = StatementItemInput {
                        declaration: declaration_id(u128::try_from(self.declarations.len()).unwrap() + 1),
                        participant: participant_id(participant),
                        course: self.contracts[course].course,
                        declaration_type: TYPES[kind],
                        state: StatementItemState::Eligible,
                        targeted_delivery_funding_eligible: funding,
                        eligible_for_funding: true,
                        amount_paid: None,
                    };
                    let milestone_taken = self.declarations.iter().any(|simulated| {
                        simulated.item.participant == item.participant
                            && simulated.item.course == item.course
                            && simulated.item.declaration_type == item.declaration_type
                            && simulated.state.holds_milestone()
                    });
                    let Some(statement) = self.next_statement() else { return };
                    if milestone_taken && !ignore_milestone_rule {
                        return;
                    }
                    let (state, item_state) = if ineligible {
                        (DeclarationState::Ineligible, StatementItemState::Ineligible)
                    } else {
                        (DeclarationState::Eligible, StatementItemState::Eligible)
                    };
                    self.declarations.push(SimulatedDeclaration {
                        item,
                        state,
                        items: vec![(statement, item_state, None)],
                    });
                }
                Step::Void(index) => {
                    if self.declarations.is_empty() {
                        return;
                    }
                    let declaration = index % self.declarations.len();
                    let next = self.next_statement();
                    let state = self.declarations[declaration].state;
                    match crate::declaration::void(state, next.is_some()) {
                        Ok(Voiding::Void) => {
                            let statements = &self.statements;
                            let simulated = &mut self.declarations[declaration];
                            simulated.state = state.after(DeclarationEvent::Void).unwrap();
                            for (on, item_state, _) in &mut simulated.items {
                                *item_state = item_after_void(*item_state, statements[*on].state);
                            }
                        }
                        Ok(Voiding::ClawBack) => {
                            let simulated = &mut self.declarations[declaration];
                            let amount_paid = self.payments.get(&simulated.item.declaration).copied();
                            simulated.state = state.after(DeclarationEvent::Void).unwrap();
                            simulated.items.push((next.unwrap(), StatementItemState::AwaitingClawback, amount_paid));
                        }
                        Err(_) => {}
                    }
                }
                Step::Wait(days) => {
                    for _ in 0..days {
                        self.today += chrono::Duration::days(1);
                        let due: Vec<usize> = crate::statement::statements_due_payable(&self.statements, self.today)
                            .iter()
                            .filter_map(|due| self.statements.iter().position(|statement| statement.id == due.id))
                            .collect();
                        for statement in due {
                            let links = self.links(statement);
                            let linked: Vec<LinkedDeclaration> = links.iter().map(|(_, _, link)| *link).collect();
                            let transition =
                                mark_payable(&self.statements[statement], &linked, noon(self.today)).unwrap();
                            self.statements[statement] = transition.statement;
                            self.apply(&links, &transition.linked);
                        }
                    }
                }
                Step::Pay(statement) => {
                    let links = self.links(statement);
                    let linked: Vec<LinkedDeclaration> = links.iter().map(|(_, _, link)| *link).collect();
                    let Ok(transition) = mark_paid(&self.statements[statement], &linked, noon(self.today)) else {
                        return;
                    };
                    self.statements[statement] = transition.statement;
                    self.apply(&links, &transition.linked);
                    let calculation = self.calculate(statement);
                    for (declaration, payment) in &calculation.payments {
                        self.payments.insert(*declaration, *payment);
                    }
                    self.paid.insert(statement, calculation);
                }
            }
        }

        /// Returns what DfE has paid out minus what it has clawed back, over the paid statements.
        fn net_paid(&self) -> Pence {
            self.paid
                .values()
                .flat_map(|calculation| &calculation.courses)
                .map(|course| {
                    course.output_subtotal + course.targeted_delivery_funding_subtotal
                        - course.clawback
                        - course.targeted_delivery_funding_refundable
                })
                .sum()
        }

        /// Returns what the declarations still paid (paid, or awaiting a clawback not yet paid) were paid.
        fn held_by_declarations(&self) -> Pence {
            self.declarations
                .iter()
                .filter(|simulated| {
                    matches!(simulated.state, DeclarationState::Paid | DeclarationState::AwaitingClawback)
                })
                .map(|simulated| self.payments.get(&simulated.item.declaration).copied().unwrap_or_default().total())
                .sum()
        }
    }

    proptest! {
        /// Over random declarations, voids, deadlines and payments, the money paid minus the money
        /// clawed back equals what the declarations still paid were paid.
        #[test]
        fn net_payments_match_declarations_still_paid(
            price in 1i64..=300_000,
            funding in 0i64..=20_000,
            steps in proptest::collection::vec(any_step(), 0..60),
        ) {
            let mut ledger = Ledger::new(price, funding);
            for step in &steps {
                ledger.step(step);
                prop_assert_eq!(ledger.net_paid(), ledger.held_by_declarations(), "after {:?}", step);
            }
        }

        /// After any random steps that follow its payment, recalculating a paid statement from its
        /// current items gives the figures it was paid with.
        #[test]
        fn recalculating_a_paid_statement_never_changes_it(
            price in 1i64..=300_000,
            funding in 0i64..=20_000,
            steps in proptest::collection::vec(any_step(), 0..60),
        ) {
            let mut ledger = Ledger::new(price, funding);
            for step in &steps {
                ledger.step(step);
                for (statement, calculation) in &ledger.paid {
                    prop_assert_eq!(&ledger.calculate(*statement), calculation, "after {:?}", step);
                }
            }
        }
    }
}
