//! What lead providers do with declarations: submit one, void it, change its delivery partners and
//! record the outcome of a completed course. Each action is a pure function from a context the
//! store loads inside the action's transaction to a plan the store writes in that transaction.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::Timestamp;
use crate::application::{Application, ApplicationStatus, ApplicationView, FundingHistoryEntry, TrainingStatus};
use crate::cohort::CohortIdentifier;
use crate::course::{Course, CourseGroup};
use crate::declaration::{
    DeclarationState, DuplicateCandidate, HasPassedInput, MadeDeclaration, OutcomeState, PartnerChoice, SequencingFrom,
    Voiding, check_declaration_date, check_delivery_partners, check_sequence, duplicated_declaration, milestone_taken,
    outcome_adds_row, parse_declaration_date, parse_has_passed, void,
};
use crate::error::FieldError;
use crate::ids::{
    ApplicationId, DeclarationId, DeliveryPartnerId, LeadProviderId, OutcomeId, ParticipantId, StatementId,
};
use crate::listing::{CohortSelector, ListPosition, PageRequest, Sort};
use crate::participant::{ParticipantIdChange, retired_participant_error};
use crate::person::Person;
use crate::schedule::{DeclarationType, Schedule};

fn field_error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

/// A delivery partner named on a declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPartner {
    pub id: DeliveryPartnerId,
    pub name: String,
}

/// The reason a declaration is ineligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IneligibilityReason {
    /// Another account of the same teacher already claimed the milestone.
    Duplicate,
}

impl IneligibilityReason {
    /// Returns the reason as the API shows it in `ineligible_for_funding_reason`.
    pub const fn as_api_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate_declaration",
        }
    }

    /// Returns the reason as stored.
    pub const fn as_stored_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
        }
    }
}

/// A stored declaration with what the API shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub id: DeclarationId,
    pub participant_id: ParticipantId,
    pub application_id: ApplicationId,
    /// The course of the application, which may differ from the course a provider sent when the
    /// two are equivalent.
    pub course: Course,
    /// The cohort of the application's schedule when the declaration was made.
    pub cohort: CohortIdentifier,
    /// The lead provider that made the declaration; a transfer does not change it.
    pub lead_provider_id: LeadProviderId,
    pub lead_provider_name: String,
    pub declaration_type: DeclarationType,
    pub declaration_date: Timestamp,
    pub state: DeclarationState,
    pub ineligibility_reason: Option<IneligibilityReason>,
    /// The declaration of another account this one duplicates.
    pub superseded_by: Option<DeclarationId>,
    pub delivery_partner: Option<NamedPartner>,
    pub secondary_delivery_partner: Option<NamedPartner>,
    /// The statement that pays for the declaration.
    pub statement_id: Option<StatementId>,
    /// The statement that takes the payment back.
    pub clawback_statement_id: Option<StatementId>,
    /// The state of the latest outcome recorded against the declaration.
    pub latest_outcome: Option<OutcomeState>,
    /// Whether the application attracts targeted delivery funding.
    pub targeted_delivery_funding: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Declaration {
    /// Returns `has_passed`: the latest outcome, `None` when there is none or it was voided.
    pub fn has_passed(&self) -> Option<bool> {
        match self.latest_outcome {
            Some(OutcomeState::Passed) => Some(true),
            Some(OutcomeState::Failed) => Some(false),
            Some(OutcomeState::Voided) | None => None,
        }
    }

    /// Returns whether the targeted delivery funding uplift was paid for this declaration: a paid
    /// (or since clawed back) `started` declaration on an application that attracts the funding,
    /// for any course but the coaching and support offers.
    pub fn uplift_paid(&self) -> bool {
        !matches!(self.course.group(), CourseGroup::Ehco | CourseGroup::Support)
            && self.state.was_paid()
            && self.declaration_type == DeclarationType::Started
            && self.targeted_delivery_funding
    }

    /// Returns `ineligible_for_funding_reason`: set only while the declaration is ineligible.
    pub fn ineligible_for_funding_reason(&self) -> Option<&'static str> {
        (self.state == DeclarationState::Ineligible)
            .then_some(self.ineligibility_reason)
            .flatten()
            .map(IneligibilityReason::as_api_str)
    }

    /// Returns whether lead provider `provider` may void the declaration or change its partners:
    /// only the provider that made it may.
    pub fn changeable_by(&self, provider: LeadProviderId) -> bool {
        self.lead_provider_id == provider
    }
}

/// A new declaration as a lead provider sent it, before any check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclarationRequest {
    pub participant_id: Option<String>,
    pub declaration_type: Option<String>,
    pub declaration_date: Option<String>,
    pub course_identifier: Option<String>,
    pub delivery_partner_id: Option<String>,
    pub secondary_delivery_partner_id: Option<String>,
    pub has_passed: HasPassedInput,
}

/// A participant as a declaration sees them: the person and their accepted applications with
/// every lead provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaringParticipant {
    pub person: Person,
    /// Accepted applications of the person with any lead provider.
    pub applications: Vec<Application>,
    /// When each withdrawn application was withdrawn, by its latest withdrawal.
    pub withdrawn_at: HashMap<ApplicationId, Timestamp>,
    /// Declarations on the person's applications with the declaring provider.
    pub declarations: Vec<(ApplicationId, MadeDeclaration)>,
    /// Declarations of other accounts with the person's TRN, with the course they were made for.
    pub duplicate_candidates: Vec<(Course, DuplicateCandidate)>,
    /// Accepted applications of the person, for the previously-funded rule.
    pub funding_history: Vec<FundingHistoryEntry>,
}

/// The declaring lead provider's contracts, statements and partners, as a declaration needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderTerms {
    /// The courses the provider has a contract for, per cohort.
    pub contracts: Vec<(CohortIdentifier, Course)>,
    /// The provider's next open output statement per cohort: the earliest open one whose deadline
    /// has not passed.
    pub next_output_statements: HashMap<CohortIdentifier, StatementId>,
    /// The provider's delivery partners per cohort.
    pub partnerships: Vec<(CohortIdentifier, DeliveryPartnerId)>,
    /// Delivery partners that exist, among those the request names.
    pub known_partners: Vec<DeliveryPartnerId>,
}

impl ProviderTerms {
    fn holds_contract(&self, cohort: CohortIdentifier, course: Course) -> bool {
        self.contracts
            .iter()
            .any(|(held_cohort, held_course)| *held_cohort == cohort && held_course.is_equivalent_to(course))
    }

    fn available_partners(&self, cohort: CohortIdentifier) -> Vec<DeliveryPartnerId> {
        self.partnerships.iter().filter(|(partner_cohort, _)| *partner_cohort == cohort).map(|(_, id)| *id).collect()
    }
}

/// Everything a new declaration is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionContext {
    pub lead_provider: LeadProviderId,
    pub now: Timestamp,
    pub sequencing: SequencingFrom,
    /// The participant, when they have an accepted application with the declaring provider.
    pub participant: Option<DeclaringParticipant>,
    pub schedules: Vec<Schedule>,
    pub terms: ProviderTerms,
}

/// The writes of a successful submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionPlan {
    pub application_id: ApplicationId,
    pub cohort: CohortIdentifier,
    pub declaration_type: DeclarationType,
    pub declaration_date: Timestamp,
    pub state: DeclarationState,
    pub ineligibility_reason: Option<IneligibilityReason>,
    pub superseded_by: Option<DeclarationId>,
    pub delivery_partner: Option<DeliveryPartnerId>,
    pub secondary_delivery_partner: Option<DeliveryPartnerId>,
    /// The output statement the declaration joins, in its own state.
    pub statement: Option<StatementId>,
    /// The outcome recorded with a completed declaration, dated on the declaration's day.
    pub outcome: Option<(OutcomeState, NaiveDate)>,
}

/// Parses an optional UUID-shaped id. Text that is no UUID can name nothing, so it reads as an id
/// that exists nowhere.
fn parse_id<T: std::str::FromStr>(text: Option<&str>) -> Option<Result<T, ()>> {
    let text = text.map(str::trim).filter(|text| !text.is_empty())?;
    Some(text.parse().map_err(|_| ()))
}

/// Reads the participant id of a request, for the store to load the participant. `None` when it
/// is missing or names no possible participant; [`plan_submission`] then reports why.
pub fn requested_participant(request: &DeclarationRequest) -> Option<ParticipantId> {
    parse_id(request.participant_id.as_deref()).and_then(Result::ok)
}

/// Reads the delivery partner ids of a request, for the store to check that they exist.
pub fn requested_partners(request: &DeclarationRequest) -> Vec<DeliveryPartnerId> {
    [&request.delivery_partner_id, &request.secondary_delivery_partner_id]
        .into_iter()
        .filter_map(|text| parse_id(text.as_deref()).and_then(Result::ok))
        .collect()
}

/// Returns whether DfE funds the application's declarations: it is eligible for funding, taking
/// earlier funded applications of the person into account, and its place was not marked unfunded.
fn fundable(application: &Application, person: &Person, funding_history: &[FundingHistoryEntry]) -> bool {
    let view = ApplicationView::new(application.clone(), person.clone(), funding_history);
    view.eligible_for_funding && application.funded_place != Some(false)
}

/// Checks a new declaration and decides what to store. The first failing check is reported, with
/// any presence checks that always run.
///
/// The checks run in this order: the participant id (present, not retired, the provider's
/// participant, not withdrawn by the declaration date), the course, the date's form and the
/// schedule start, the type, the schedule, the contract and an open output statement,
/// `has_passed`, a free milestone, the milestone before it, the delivery partners, and last a date
/// not in the future.
///
/// A funded declaration becomes `eligible` and joins the provider's next output statement for the
/// cohort; one that duplicates another account's claim becomes `ineligible`, superseded by it;
/// any other stays `submitted`. A completed declaration on a leadership or specialist course
/// records its outcome.
///
/// `retirement` is the change that retired the participant id, if DfE merged that account into
/// another.
pub fn plan_submission(
    request: &DeclarationRequest,
    retirement: Option<&ParticipantIdChange>,
    context: &SubmissionContext,
) -> Result<SubmissionPlan, Vec<FieldError>> {
    let mut errors = Vec::new();

    // The participant.
    let participant_text = request.participant_id.as_deref().map(str::trim).filter(|text| !text.is_empty());
    if participant_text.is_none() {
        errors.push(field_error("participant_id", "Enter a '#/participant_id' value for the participant."));
    }
    if let Some(retirement) = retirement {
        errors.push(retired_participant_error(retirement));
    }
    let participant = match &context.participant {
        Some(participant) if errors.is_empty() => Some(participant),
        _ => {
            if errors.is_empty() {
                errors.push(field_error(
                    "participant_id",
                    "Your update cannot be made as the '#/participant_id' is not recognised. Check participant details and try again.",
                ));
            }
            None
        }
    };

    let course: Option<Course> = request.course_identifier.as_deref().map(str::trim).and_then(|text| text.parse().ok());
    let date =
        request.declaration_date.as_deref().map(str::trim).filter(|text| !text.is_empty()).map(parse_declaration_date);
    let declaration_type: Option<Result<DeclarationType, ()>> = parse_id(request.declaration_type.as_deref());

    // The application: the newest accepted one with this provider for the course or an equivalent.
    let application = match (participant, course) {
        (Some(participant), Some(course)) => participant
            .applications
            .iter()
            .filter(|application| {
                application.lead_provider_id == context.lead_provider
                    && application.status == ApplicationStatus::Accepted
                    && application.course.is_equivalent_to(course)
            })
            .max_by_key(|application| (application.created_at, application.id)),
        _ => None,
    };

    // Withdrawn before the declaration date.
    if errors.is_empty()
        && let (Some(application), Some(participant), Some(Ok(date))) = (application, participant, &date)
        && application.training_status == Some(TrainingStatus::Withdrawn)
        && let Some(withdrawn_at) = participant.withdrawn_at.get(&application.id)
        && *withdrawn_at <= *date
    {
        errors.push(field_error(
            "participant_id",
            format!(
                "The participant was withdrawn at {}; declare only what happened before then.",
                withdrawn_at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ));
    }

    // The course: an accepted application of the participant with this provider.
    if errors.is_empty() && application.is_none() {
        errors.push(field_error(
            "course_identifier",
            "The '#/course_identifier' does not match a course the participant is accepted on with you.",
        ));
    }

    let schedule = application.and_then(|application| {
        application.schedule.and_then(|identifier| {
            context
                .schedules
                .iter()
                .find(|schedule| schedule.identifier == identifier && schedule.cohort == application.cohort)
        })
    });

    // The date's form, then the schedule start.
    if errors.is_empty() {
        match &date {
            Some(Err(error)) => errors.push(error.clone()),
            Some(Ok(date)) => {
                if let Some(schedule) = schedule
                    && date.date_naive() < schedule.applies_from
                {
                    errors.push(field_error(
                        "declaration_date",
                        format!("The '#/declaration_date' is before the schedule starts on {}.", schedule.applies_from),
                    ));
                }
            }
            None => {}
        }
    }
    if date.is_none() {
        errors.push(field_error("declaration_date", "Enter a '#/declaration_date'."));
    }
    match declaration_type {
        None => errors.push(field_error("declaration_type", "Enter a '#/declaration_type'.")),
        Some(Err(())) => errors.push(field_error(
            "declaration_type",
            "The entered '#/declaration_type' is not recognised; use started, retained-1, retained-2 or completed.",
        )),
        Some(Ok(_)) => {}
    }
    let declaration_type = declaration_type.and_then(Result::ok);

    // The schedule and the type it allows.
    if errors.is_empty() && schedule.is_none() {
        errors.push(field_error("application", "The participant's application has no schedule; contact DfE."));
    }
    if errors.is_empty()
        && let (Some(schedule), Some(declaration_type)) = (schedule, declaration_type)
        && !schedule.allowed_declaration_types.contains(&declaration_type)
    {
        errors.push(field_error(
            "declaration_type",
            format!(
                "The schedule '{}' does not allow '{declaration_type}' declarations for this course.",
                schedule.identifier
            ),
        ));
    }

    // Every check below needs the application, its schedule, the type and the date.
    let (Some(participant), Some(application), Some(schedule), Some(declaration_type), Some(Ok(date))) =
        (participant, application, schedule, declaration_type, date.clone())
    else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let cohort = schedule.cohort;
    let fundable = fundable(application, &participant.person, &participant.funding_history);
    let made: Vec<MadeDeclaration> =
        participant.declarations.iter().filter(|(id, _)| *id == application.id).map(|(_, made)| *made).collect();

    // The contract and an open output statement to pay on.
    if !context.terms.holds_contract(cohort, application.course) {
        return Err(vec![field_error(
            "cohort",
            format!(
                "You do not hold a contract for {} in cohort {}; contact DfE.",
                application.course,
                cohort.start_year()
            ),
        )]);
    }
    let next_statement = context.terms.next_output_statements.get(&cohort).copied();
    if fundable && next_statement.is_none() {
        return Err(vec![field_error(
            "cohort",
            format!(
                "The contract for cohort {} has no open output statement, so it cannot take declarations; contact DfE.",
                cohort.start_year()
            ),
        )]);
    }

    // The outcome of a completed course.
    let records_outcome = declaration_type == DeclarationType::Completed
        && matches!(application.course.group(), CourseGroup::Leadership | CourseGroup::Specialist);
    let outcome = if records_outcome {
        match parse_has_passed(&request.has_passed) {
            Ok(true) => Some((OutcomeState::Passed, date.date_naive())),
            Ok(false) => Some((OutcomeState::Failed, date.date_naive())),
            Err(error) => return Err(vec![error]),
        }
    } else {
        None
    };

    // One live declaration per milestone, in milestone order.
    if let Some(error) = milestone_taken(declaration_type, &made) {
        return Err(vec![error]);
    }
    check_sequence(declaration_type, date, cohort, &schedule.allowed_declaration_types, &made, context.sequencing)
        .map_err(|error| vec![error])?;

    // The delivery partners: they must exist first, then follow the partner rules.
    let primary = parse_id::<DeliveryPartnerId>(request.delivery_partner_id.as_deref());
    let secondary = parse_id::<DeliveryPartnerId>(request.secondary_delivery_partner_id.as_deref());
    let unknown = |parsed: &Option<Result<DeliveryPartnerId, ()>>| match parsed {
        Some(Ok(id)) => !context.terms.known_partners.contains(id),
        Some(Err(())) => true,
        None => false,
    };
    let mut partner_errors = Vec::new();
    if unknown(&primary) {
        partner_errors
            .push(field_error("delivery_partner_id", "The '#/delivery_partner_id' names no delivery partner."));
    }
    if unknown(&secondary) {
        partner_errors.push(field_error(
            "secondary_delivery_partner_id",
            "The '#/secondary_delivery_partner_id' names no delivery partner.",
        ));
    }
    if !partner_errors.is_empty() {
        return Err(partner_errors);
    }
    let choice = PartnerChoice {
        primary: primary.and_then(Result::ok),
        secondary: secondary.and_then(Result::ok),
        known: context.terms.known_partners.clone(),
        available: context.terms.available_partners(cohort),
    };
    let mut last_errors = check_delivery_partners(application, cohort, &choice);
    last_errors.extend(check_declaration_date(date, schedule.applies_from, context.now, None));
    if !last_errors.is_empty() {
        return Err(last_errors);
    }

    // Funding: a duplicate of another account's claim is ineligible; a funded one is eligible.
    let candidates: Vec<DuplicateCandidate> = participant
        .duplicate_candidates
        .iter()
        .filter(|(course, _)| course.is_equivalent_to(application.course))
        .map(|(_, candidate)| *candidate)
        .collect();
    let superseded_by = duplicated_declaration(declaration_type, &candidates);
    let (state, ineligibility_reason) = if superseded_by.is_some() {
        (DeclarationState::Ineligible, Some(IneligibilityReason::Duplicate))
    } else if fundable {
        (DeclarationState::Eligible, None)
    } else {
        (DeclarationState::Submitted, None)
    };
    let statement = if state == DeclarationState::Submitted { None } else { next_statement };
    Ok(SubmissionPlan {
        application_id: application.id,
        cohort,
        declaration_type,
        declaration_date: date,
        state,
        ineligibility_reason,
        superseded_by,
        delivery_partner: choice.primary,
        secondary_delivery_partner: choice.secondary,
        statement,
        outcome,
    })
}

/// The writes of a void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidPlan {
    pub state: DeclarationState,
    /// Set for a clawback: the statement that takes the payment back.
    pub clawback_statement: Option<StatementId>,
    /// Set when the declaration's passed or failed outcome must be withdrawn: a `voided` outcome
    /// on this day.
    pub void_outcome_on: Option<NaiveDate>,
}

/// Plans the void of `declaration`. Before payment it becomes `voided`. Once paid it awaits
/// clawback on `next_statement`, the provider's next open output statement for the cohort. A
/// passed or failed outcome of a completed declaration is withdrawn with a `voided` outcome.
pub fn plan_void(declaration: &Declaration, next_statement: Option<StatementId>) -> Result<VoidPlan, Vec<FieldError>> {
    let voiding = void(declaration.state, next_statement.is_some())?;
    let (state, clawback_statement) = match voiding {
        Voiding::Void => (DeclarationState::Voided, None),
        Voiding::ClawBack => (DeclarationState::AwaitingClawback, next_statement),
    };
    let void_outcome_on = matches!(declaration.latest_outcome, Some(OutcomeState::Passed | OutcomeState::Failed))
        .then(|| declaration.declaration_date.date_naive());
    Ok(VoidPlan { state, clawback_statement, void_outcome_on })
}

/// A change of a declaration's delivery partners as a lead provider sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerChangeRequest {
    pub delivery_partner_id: Option<String>,
    pub secondary_delivery_partner_id: Option<String>,
}

/// The data a change of partners is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerChangeContext {
    pub declaration: Declaration,
    pub application: Application,
    pub terms: ProviderTerms,
}

/// The partners a declaration names after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerChangePlan {
    pub delivery_partner: DeliveryPartnerId,
    pub secondary_delivery_partner: Option<DeliveryPartnerId>,
}

/// Checks a change of a declaration's delivery partners. A primary partner is required and both
/// must exist. The new pair must follow the partner rules for the declaration's cohort: each a
/// partner of the provider in that cohort, the secondary one different from the primary, and
/// none outside England. Leaving the secondary partner out removes it.
pub fn plan_partner_change(
    request: &PartnerChangeRequest,
    context: &PartnerChangeContext,
) -> Result<PartnerChangePlan, Vec<FieldError>> {
    let primary = parse_id::<DeliveryPartnerId>(request.delivery_partner_id.as_deref());
    let secondary = parse_id::<DeliveryPartnerId>(request.secondary_delivery_partner_id.as_deref());
    let known = &context.terms.known_partners;
    let mut errors = Vec::new();
    match primary {
        None => errors.push(field_error("delivery_partner_id", "Enter a '#/delivery_partner_id'.")),
        Some(Ok(id)) if known.contains(&id) => {}
        Some(_) => {
            errors.push(field_error("delivery_partner", "The '#/delivery_partner_id' names no delivery partner."))
        }
    }
    match secondary {
        None => {}
        Some(Ok(id)) if known.contains(&id) => {}
        Some(_) => errors.push(field_error(
            "secondary_delivery_partner",
            "The '#/secondary_delivery_partner_id' names no delivery partner.",
        )),
    }
    let primary = primary.and_then(Result::ok).filter(|id| known.contains(id));
    let secondary = secondary.and_then(Result::ok).filter(|id| known.contains(id));
    // A partner the declaration already names stays acceptable after its partnership ends.
    let mut available = context.terms.available_partners(context.declaration.cohort);
    available.extend(
        [&context.declaration.delivery_partner, &context.declaration.secondary_delivery_partner]
            .into_iter()
            .flatten()
            .map(|partner| partner.id),
    );
    let choice = PartnerChoice { primary, secondary, known: known.clone(), available };
    for error in check_delivery_partners(&context.application, context.declaration.cohort, &choice) {
        // A missing primary partner is already reported as missing.
        let repeats_missing_primary = primary.is_none() && error.attribute == "delivery_partner_id";
        if !repeats_missing_primary && !errors.contains(&error) {
            errors.push(error);
        }
    }
    match (errors.is_empty(), primary) {
        (true, Some(delivery_partner)) => {
            Ok(PartnerChangePlan { delivery_partner, secondary_delivery_partner: secondary })
        }
        _ => Err(errors),
    }
}

/// A participant outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantOutcome {
    pub id: OutcomeId,
    pub declaration_id: DeclarationId,
    pub participant_id: ParticipantId,
    pub course: Course,
    pub state: OutcomeState,
    pub completion_date: NaiveDate,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An outcome as a lead provider sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeRequest {
    pub course_identifier: Option<String>,
    pub state: Option<String>,
    pub completion_date: Option<String>,
}

/// A completed declaration an outcome may be recorded against, with its latest outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedDeclaration {
    pub declaration_id: DeclarationId,
    pub course: Course,
    pub state: DeclarationState,
    pub created_at: Timestamp,
    pub latest_outcome: Option<ParticipantOutcome>,
}

/// The result of recording an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomePlan {
    /// The outcome repeats the latest one, which is kept.
    Existing(ParticipantOutcome),
    /// A new outcome on the declaration.
    Record { declaration_id: DeclarationId, course: Course, state: OutcomeState, completion_date: NaiveDate },
}

/// Parses a completion date: it must start with a real `YYYY-MM-DD` date; anything after the date
/// (such as a time) is ignored.
fn parse_completion_date(text: &str) -> Option<NaiveDate> {
    let date = text.get(..10)?;
    let bytes = date.as_bytes();
    let shape = bytes.iter().enumerate().all(|(index, byte)| match index {
        4 | 7 => *byte == b'-',
        _ => byte.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// Checks an outcome and decides whether it adds a row.
///
/// The course must be a leadership or specialist course, the state `passed` or `failed`, and the
/// completion date a real date not in the future. The participant must have a completed
/// declaration for the course, made by or transferred to the provider, that was not voided or
/// clawed back. The outcome goes on the newest one, and repeating its latest outcome adds nothing.
pub fn plan_outcome(
    request: &OutcomeRequest,
    completed: &[CompletedDeclaration],
    today: NaiveDate,
) -> Result<OutcomePlan, Vec<FieldError>> {
    let mut errors = Vec::new();
    let course = match request.course_identifier.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => {
            errors.push(field_error("course_identifier", "Enter a '#/course_identifier'."));
            None
        }
        Some(text) => match text.parse::<Course>() {
            Ok(course) if matches!(course.group(), CourseGroup::Leadership | CourseGroup::Specialist) => Some(course),
            _ => {
                errors.push(field_error(
                    "course_identifier",
                    "The '#/course_identifier' must be a leadership or specialist course: outcomes are not recorded for the coaching and support offers.",
                ));
                None
            }
        },
    };
    let state = match request.state.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => {
            errors.push(field_error("state", "Enter a '#/state': passed or failed."));
            None
        }
        Some("passed") => Some(OutcomeState::Passed),
        Some("failed") => Some(OutcomeState::Failed),
        Some(_) => {
            errors.push(field_error(
                "state",
                "The '#/state' must be passed or failed; to withdraw an outcome, void the completed declaration.",
            ));
            None
        }
    };
    let completion_date = match request.completion_date.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => {
            errors.push(field_error("completion_date", "Enter a '#/completion_date' such as 2025-06-30."));
            None
        }
        Some(text) => match parse_completion_date(text) {
            None => {
                errors.push(field_error(
                    "completion_date",
                    "The '#/completion_date' must be a date written YYYY-MM-DD, such as 2025-06-30.",
                ));
                None
            }
            Some(date) if date > today => {
                errors.push(field_error("completion_date", "The '#/completion_date' must not be in the future."));
                None
            }
            Some(date) => Some(date),
        },
    };
    let (Some(course), Some(state), Some(completion_date)) = (course, state, completion_date) else {
        return Err(errors);
    };
    let Some(declaration) = completed
        .iter()
        .filter(|declaration| {
            declaration.course == course
                && matches!(
                    declaration.state,
                    DeclarationState::Submitted
                        | DeclarationState::Eligible
                        | DeclarationState::Payable
                        | DeclarationState::Paid
                        | DeclarationState::Ineligible
                )
        })
        .max_by_key(|declaration| (declaration.created_at, declaration.declaration_id))
    else {
        return Err(vec![field_error(
            "base",
            "The participant has no completed declaration for this course to record an outcome against; submit one first.",
        )]);
    };
    let latest = declaration.latest_outcome.as_ref();
    if !outcome_adds_row(latest.map(|outcome| (outcome.state, outcome.completion_date)), state, completion_date)
        && let Some(latest) = latest
    {
        return Ok(OutcomePlan::Existing(latest.clone()));
    }
    Ok(OutcomePlan::Record { declaration_id: declaration.declaration_id, course, state, completion_date })
}

/// The filters of the declaration list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclarationFilter {
    /// Only declarations in these cohorts.
    pub cohorts: Option<Vec<CohortSelector>>,
    /// Only declarations of these participants.
    pub participant_ids: Option<Vec<ParticipantId>>,
    /// Only declarations changed at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Only declarations naming this primary delivery partner.
    pub delivery_partner_ids: Option<Vec<DeliveryPartnerId>>,
}

/// A page of the declaration list, oldest first unless `sort` sets another order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclarationQuery {
    pub filter: DeclarationFilter,
    pub sort: Sort,
    pub page: PageRequest,
    /// In a cursor walk, only declarations after this position (see [`ListPosition`]).
    pub after: Option<ListPosition>,
}

/// A page of a participant outcome list, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeQuery {
    /// Only the outcomes of this participant.
    pub participant_id: Option<ParticipantId>,
    /// Only outcomes created at or after this instant.
    pub created_since: Option<Timestamp>,
    pub page: PageRequest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{ScheduleIdentifier, standard_schedules};
    use crate::testing::{application, person};
    use chrono::TimeZone;

    fn at(year: i32, month: u32, day: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(year, month, day, 10, 0, 0).single().unwrap_or_default()
    }

    fn cohort() -> CohortIdentifier {
        "2025a".parse().unwrap()
    }

    struct World {
        provider: LeadProviderId,
        statement: StatementId,
        partner: DeliveryPartnerId,
        person: Person,
        context: SubmissionContext,
    }

    fn enrolled(person: &Person, provider: LeadProviderId, course: Course, created: Timestamp) -> Application {
        let mut enrolment = application(person, provider, created);
        enrolment.course = course;
        enrolment.status = ApplicationStatus::Accepted;
        enrolment.schedule = Some(match course.group() {
            CourseGroup::Leadership => ScheduleIdentifier::LeadershipAutumn,
            CourseGroup::Specialist => ScheduleIdentifier::SpecialistAutumn,
            CourseGroup::Ehco | CourseGroup::Support => ScheduleIdentifier::EhcoNovember,
        });
        enrolment.training_status = Some(TrainingStatus::Active);
        enrolment.funded_place = Some(true);
        enrolment
    }

    fn world() -> World {
        let provider = LeadProviderId::new_random();
        let statement = StatementId::new_random();
        let partner = DeliveryPartnerId::new_random();
        let person = person("Sam Example");
        let applications = vec![
            enrolled(&person, provider, Course::Headship, at(2025, 6, 1)),
            enrolled(&person, provider, Course::EarlyHeadshipCoachingOffer, at(2025, 6, 1)),
        ];
        let funding_history = applications.iter().map(Into::into).collect();
        let terms = ProviderTerms {
            contracts: Course::ALL.iter().map(|course| (cohort(), *course)).collect(),
            next_output_statements: HashMap::from([(cohort(), statement)]),
            partnerships: vec![(cohort(), partner)],
            known_partners: vec![partner],
        };
        let context = SubmissionContext {
            lead_provider: provider,
            now: at(2026, 12, 1),
            sequencing: SequencingFrom::default(),
            participant: Some(DeclaringParticipant {
                person: person.clone(),
                applications,
                withdrawn_at: HashMap::new(),
                declarations: Vec::new(),
                duplicate_candidates: Vec::new(),
                funding_history,
            }),
            schedules: standard_schedules(cohort()),
            terms,
        };
        World { provider, statement, partner, person, context }
    }

    fn request(world: &World, declaration_type: &str, course: &str) -> DeclarationRequest {
        DeclarationRequest {
            participant_id: Some(world.person.participant_id.to_string()),
            declaration_type: Some(declaration_type.to_owned()),
            declaration_date: Some("2025-11-03T10:00:00Z".to_owned()),
            course_identifier: Some(course.to_owned()),
            delivery_partner_id: Some(world.partner.to_string()),
            secondary_delivery_partner_id: None,
            has_passed: HasPassedInput::Missing,
        }
    }

    fn made(world: &mut World, course: Course, declaration_type: DeclarationType, state: DeclarationState) {
        let Some(participant) = world.context.participant.as_mut() else { return };
        let Some(target) = participant.applications.iter().find(|application| application.course == course) else {
            return;
        };
        let id = target.id;
        participant
            .declarations
            .push((id, MadeDeclaration { declaration_type, state, declaration_date: at(2025, 10, 15) }));
    }

    fn first_attribute(result: Result<SubmissionPlan, Vec<FieldError>>) -> String {
        result.err().and_then(|errors| errors.first().map(|error| error.attribute.clone())).unwrap_or_default()
    }

    #[test]
    fn funded_declaration_joins_the_statement() {
        let world = world();
        let plan = plan_submission(&request(&world, "started", "npq-headship"), None, &world.context).unwrap();
        assert_eq!(plan.state, DeclarationState::Eligible);
        assert_eq!(plan.statement, Some(world.statement));
        assert_eq!(plan.delivery_partner, Some(world.partner));
        assert_eq!(plan.outcome, None);
    }

    #[test]
    fn equivalent_course_finds_the_application() {
        let world = world();
        let plan =
            plan_submission(&request(&world, "started", "npq-additional-support-offer"), None, &world.context).unwrap();
        let ehco = world.context.participant.as_ref().unwrap().applications[1].id;
        assert_eq!(plan.application_id, ehco);
    }

    #[test]
    fn newest_application_takes_the_declaration() {
        let mut world = world();
        let newer = enrolled(&world.person, world.provider, Course::Headship, at(2025, 8, 1));
        let newer_id = newer.id;
        world.context.participant.as_mut().unwrap().applications.push(newer);
        let plan = plan_submission(&request(&world, "started", "npq-headship"), None, &world.context).unwrap();
        assert_eq!(plan.application_id, newer_id);
    }

    #[test]
    fn live_milestone_on_another_course_does_not_block() {
        let mut world = world();
        made(&mut world, Course::EarlyHeadshipCoachingOffer, DeclarationType::Started, DeclarationState::Paid);
        assert!(plan_submission(&request(&world, "started", "npq-headship"), None, &world.context).is_ok());
        made(&mut world, Course::Headship, DeclarationType::Started, DeclarationState::Submitted);
        let result = plan_submission(&request(&world, "started", "npq-headship"), None, &world.context);
        assert_eq!(first_attribute(result), "base");
    }

    #[test]
    fn voided_milestone_can_be_declared_again() {
        let mut world = world();
        for state in [DeclarationState::Voided, DeclarationState::Ineligible, DeclarationState::AwaitingClawback] {
            made(&mut world, Course::Headship, DeclarationType::Started, state);
        }
        assert!(plan_submission(&request(&world, "started", "npq-headship"), None, &world.context).is_ok());
    }

    #[test]
    fn closed_contract_comes_before_an_existing_milestone() {
        let mut world = world();
        made(&mut world, Course::Headship, DeclarationType::Started, DeclarationState::Paid);
        world.context.terms.next_output_statements.clear();
        let result = plan_submission(&request(&world, "started", "npq-headship"), None, &world.context);
        assert_eq!(first_attribute(result), "cohort");
    }

    #[test]
    fn unfunded_declaration_needs_no_statement() {
        let mut world = world();
        world.context.terms.next_output_statements.clear();
        for application in &mut world.context.participant.as_mut().unwrap().applications {
            application.funded_place = Some(false);
        }
        let plan = plan_submission(&request(&world, "started", "npq-headship"), None, &world.context).unwrap();
        assert_eq!(plan.state, DeclarationState::Submitted);
        assert_eq!(plan.statement, None);
    }

    #[test]
    fn completed_records_an_outcome_on_its_day() {
        let mut world = world();
        for declaration_type in [DeclarationType::Started, DeclarationType::RetainedOne, DeclarationType::RetainedTwo] {
            made(&mut world, Course::Headship, declaration_type, DeclarationState::Eligible);
        }
        let mut completed = request(&world, "completed", "npq-headship");
        for (input, expected) in [
            (HasPassedInput::Boolean(true), Some(OutcomeState::Passed)),
            (HasPassedInput::Text("false".to_owned()), Some(OutcomeState::Failed)),
        ] {
            completed.has_passed = input;
            let plan = plan_submission(&completed, None, &world.context).unwrap();
            assert_eq!(plan.outcome.map(|(state, _)| state), expected);
            assert_eq!(plan.outcome.map(|(_, day)| day), Some(at(2025, 11, 3).date_naive()));
        }
        for input in [HasPassedInput::Missing, HasPassedInput::Other, HasPassedInput::Text("yes".to_owned())] {
            completed.has_passed = input;
            assert_eq!(first_attribute(plan_submission(&completed, None, &world.context)), "has_passed");
        }
    }

    #[test]
    fn coaching_completion_records_no_outcome() {
        let mut world = world();
        for declaration_type in [DeclarationType::Started, DeclarationType::RetainedOne, DeclarationType::RetainedTwo] {
            made(&mut world, Course::EarlyHeadshipCoachingOffer, declaration_type, DeclarationState::Eligible);
        }
        let completed = request(&world, "completed", "npq-early-headship-coaching-offer");
        let plan = plan_submission(&completed, None, &world.context).unwrap();
        assert_eq!(plan.outcome, None);
    }

    #[test]
    fn bad_participant_hides_the_course_error() {
        let mut world = world();
        let mut bad = request(&world, "started", "npq-unknown");
        bad.participant_id = Some(ParticipantId::new_random().to_string());
        // The store finds no participant for an unknown id.
        world.context.participant = None;
        let errors = plan_submission(&bad, None, &world.context).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].attribute, "participant_id");
    }

    #[test]
    fn presence_checks_always_run() {
        let world = world();
        let empty = DeclarationRequest {
            participant_id: Some(world.person.participant_id.to_string()),
            course_identifier: Some("npq-headship".to_owned()),
            ..DeclarationRequest::default()
        };
        let attributes: Vec<String> = plan_submission(&empty, None, &world.context)
            .unwrap_err()
            .into_iter()
            .map(|error| error.attribute)
            .collect();
        assert_eq!(attributes, ["declaration_date", "declaration_type"]);
    }

    #[test]
    fn duplicate_of_another_account_is_ineligible() {
        let mut world = world();
        let other = DeclarationId::new_random();
        world.context.participant.as_mut().unwrap().duplicate_candidates.push((
            Course::Headship,
            DuplicateCandidate {
                id: other,
                declaration_type: DeclarationType::Started,
                state: DeclarationState::Paid,
                superseded: false,
                created_at: at(2025, 10, 20),
            },
        ));
        let plan = plan_submission(&request(&world, "started", "npq-headship"), None, &world.context).unwrap();
        assert_eq!(plan.state, DeclarationState::Ineligible);
        assert_eq!(plan.superseded_by, Some(other));
        assert_eq!(plan.ineligibility_reason, Some(IneligibilityReason::Duplicate));
        assert_eq!(plan.statement, Some(world.statement), "an ineligible line goes on the statement");
    }

    fn declaration(state: DeclarationState, latest_outcome: Option<OutcomeState>) -> Declaration {
        Declaration {
            id: DeclarationId::new_random(),
            participant_id: ParticipantId::new_random(),
            application_id: ApplicationId::new_random(),
            course: Course::Headship,
            cohort: cohort(),
            lead_provider_id: LeadProviderId::new_random(),
            lead_provider_name: "Ambition Institute".to_owned(),
            declaration_type: DeclarationType::Completed,
            declaration_date: at(2026, 9, 1),
            state,
            ineligibility_reason: None,
            superseded_by: None,
            delivery_partner: None,
            secondary_delivery_partner: None,
            statement_id: None,
            clawback_statement_id: None,
            latest_outcome,
            targeted_delivery_funding: true,
            created_at: at(2026, 9, 1),
            updated_at: at(2026, 9, 1),
        }
    }

    #[test]
    fn void_withdraws_only_a_real_outcome() {
        let passed = plan_void(&declaration(DeclarationState::Eligible, Some(OutcomeState::Passed)), None).unwrap();
        assert_eq!(passed.state, DeclarationState::Voided);
        assert_eq!(passed.void_outcome_on, Some(at(2026, 9, 1).date_naive()));
        let none = plan_void(&declaration(DeclarationState::Submitted, None), None).unwrap();
        assert_eq!(none.void_outcome_on, None);
    }

    #[test]
    fn clawback_goes_on_the_next_statement() {
        let statement = StatementId::new_random();
        let plan = plan_void(&declaration(DeclarationState::Paid, None), Some(statement)).unwrap();
        assert_eq!(plan.state, DeclarationState::AwaitingClawback);
        assert_eq!(plan.clawback_statement, Some(statement));
        assert!(plan_void(&declaration(DeclarationState::Paid, None), None).is_err());
    }

    #[test]
    fn uplift_needs_a_paid_funded_start() {
        let mut started = declaration(DeclarationState::Paid, None);
        started.declaration_type = DeclarationType::Started;
        assert!(started.uplift_paid());
        for state in [DeclarationState::Eligible, DeclarationState::Payable, DeclarationState::Voided] {
            assert!(!Declaration { state, ..started.clone() }.uplift_paid(), "{state}");
        }
        assert!(!Declaration { course: Course::EarlyHeadshipCoachingOffer, ..started.clone() }.uplift_paid());
        assert!(!Declaration { targeted_delivery_funding: false, ..started.clone() }.uplift_paid());
        assert!(!Declaration { declaration_type: DeclarationType::RetainedOne, ..started }.uplift_paid());
    }

    #[test]
    fn reason_shows_only_while_ineligible() {
        let duplicate = Declaration {
            ineligibility_reason: Some(IneligibilityReason::Duplicate),
            ..declaration(DeclarationState::Ineligible, None)
        };
        assert_eq!(duplicate.ineligible_for_funding_reason(), Some("duplicate_declaration"));
        let voided = Declaration { state: DeclarationState::Voided, ..duplicate };
        assert_eq!(voided.ineligible_for_funding_reason(), None);
    }

    #[test]
    fn partner_that_left_stays_valid_unchanged() {
        let world = world();
        let former = DeliveryPartnerId::new_random();
        let mut current = declaration(DeclarationState::Paid, None);
        current.cohort = cohort();
        current.delivery_partner = Some(NamedPartner { id: former, name: "Former Partner".to_owned() });
        let application = world.context.participant.as_ref().unwrap().applications[0].clone();
        let mut terms = world.context.terms.clone();
        terms.known_partners.push(former);
        let context = PartnerChangeContext { declaration: current, application, terms };
        let keep_former = PartnerChangeRequest {
            delivery_partner_id: Some(former.to_string()),
            secondary_delivery_partner_id: Some(world.partner.to_string()),
        };
        let plan = plan_partner_change(&keep_former, &context).unwrap();
        assert_eq!(plan.delivery_partner, former);
        let newcomer = DeliveryPartnerId::new_random();
        let mut with_newcomer = context.clone();
        with_newcomer.terms.known_partners.push(newcomer);
        let to_newcomer = PartnerChangeRequest { delivery_partner_id: Some(newcomer.to_string()), ..keep_former };
        let errors = plan_partner_change(&to_newcomer, &with_newcomer).unwrap_err();
        assert_eq!(errors[0].attribute, "delivery_partner_id");
    }

    fn outcome_request(state: &str, date: &str) -> OutcomeRequest {
        OutcomeRequest {
            course_identifier: Some("npq-headship".to_owned()),
            state: Some(state.to_owned()),
            completion_date: Some(date.to_owned()),
        }
    }

    #[test]
    fn outcome_needs_a_live_completed_declaration() {
        let today = at(2026, 12, 1).date_naive();
        let mut completed = CompletedDeclaration {
            declaration_id: DeclarationId::new_random(),
            course: Course::Headship,
            state: DeclarationState::Voided,
            created_at: at(2026, 9, 1),
            latest_outcome: None,
        };
        let result = plan_outcome(&outcome_request("passed", "2026-09-01"), std::slice::from_ref(&completed), today);
        assert_eq!(result.unwrap_err()[0].attribute, "base");
        completed.state = DeclarationState::Ineligible;
        let plan = plan_outcome(&outcome_request("passed", "2026-09-01T00:00:00+00:00"), &[completed], today);
        assert!(matches!(plan, Ok(OutcomePlan::Record { state: OutcomeState::Passed, .. })), "{plan:?}");
    }

    #[test]
    fn outcome_fields_are_checked() {
        let today = at(2026, 12, 1).date_naive();
        let cases = [
            (outcome_request("voided", "2026-09-01"), "state"),
            (outcome_request("passed", "31-05-2021"), "completion_date"),
            (outcome_request("passed", "2021-13-01"), "completion_date"),
            (outcome_request("passed", "2026-12-02"), "completion_date"),
            (
                OutcomeRequest {
                    course_identifier: Some("npq-early-headship-coaching-offer".to_owned()),
                    ..outcome_request("passed", "2026-09-01")
                },
                "course_identifier",
            ),
        ];
        for (request, attribute) in cases {
            let errors = plan_outcome(&request, &[], today).unwrap_err();
            assert_eq!(errors[0].attribute, attribute, "{request:?}");
        }
    }
}
