//! Decisions on applications: what lead providers and DfE staff may do to an application, and
//! what each action changes.
//!
//! Every rule here is a pure function from a [`DecisionContext`], which a store loads inside a
//! transaction, to an [`Outcome`]: the new state of every application the action changes and the
//! history entries that record why. The store applies the outcome in the same transaction, so a
//! decision is written whole or not at all, and its database constraints settle races between two
//! decisions that each looked valid on their own.

use crate::StoreError;
use crate::Timestamp;
use crate::application::{
    Application, ApplicationStatus, ApplicationView, FundingEligibilityStatusCode, FundingHistoryEntry,
    ReasonForRejection, TrainingStatus,
};
use crate::cohort::{Cohort, CohortIdentifier, FundingRegime};
use crate::course::Course;
use crate::error::{DomainError, FieldError};
use crate::ids::{LeadProviderId, ParticipantId};
use crate::person::Person;
use crate::provider::LeadProvider;
use crate::schedule::{Schedule, ScheduleIdentifier, default_schedule};
use crate::training::{BillableDeclaration, DeclarationSummary, TrainingChange, change_training_status};

/// The maker of a change: a lead provider or a DfE staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A lead provider, through the API.
    LeadProvider(LeadProviderId),
    /// A DfE staff member, named as on their admin token.
    Dfe { user: String },
}

text_enum!(
    /// A recorded field of an application.
    HistoryField, "history field" {
        Status => "status",
        TrainingStatus => "training_status",
        ReasonForRejection => "reason_for_rejection",
        FundedPlace => "funded_place",
        Schedule => "schedule",
        Cohort => "cohort",
        LeadProvider => "lead_provider",
        EligibleForFunding => "eligible_for_funding",
        /// The person the application belongs to, which changes when DfE merges two accounts.
        Participant => "participant_id",
    }
);

/// One recorded change of one field: who changed it, when, from what, to what and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub application_id: crate::ids::ApplicationId,
    pub at: Timestamp,
    pub actor: Actor,
    pub field: HistoryField,
    /// The value before, as the API spells it; `None` for an empty value.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Why the change was made: a rejection, deferral or withdrawal reason, or a DfE note.
    pub reason: Option<String>,
}

/// Another application that a decision must take into account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedApplication {
    pub application: Application,
    /// Whether it belongs to the same person; otherwise to another person with the same verified
    /// teacher reference number (TRN), such as a duplicate account.
    pub same_person: bool,
}

/// Everything a decision on one application reads, loaded in the transaction that applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionContext {
    pub application: Application,
    pub person: Person,
    /// Every other application of the person, and every application of other people who hold
    /// the person's verified TRN, with any lead provider.
    pub related: Vec<RelatedApplication>,
    /// The application's declarations.
    pub declarations: DeclarationSummary,
    /// The application's declarations that lead to payment.
    pub billable_declarations: Vec<BillableDeclaration>,
    /// Every cohort.
    pub cohorts: Vec<Cohort>,
    /// Every schedule of every cohort.
    pub schedules: Vec<Schedule>,
    /// Every lead provider.
    pub lead_providers: Vec<LeadProvider>,
    /// The courses the application's lead provider holds a contract for, per cohort.
    pub contracts: Vec<(CohortIdentifier, Course)>,
}

impl DecisionContext {
    fn cohort(&self, identifier: CohortIdentifier) -> Result<&Cohort, DomainError> {
        self.cohorts.iter().find(|cohort| cohort.identifier == identifier).ok_or_else(|| {
            DomainError::Store(StoreError::Corrupt(format!(
                "application {} is in cohort {identifier}, which does not exist",
                self.application.id
            )))
        })
    }

    pub(crate) fn cohort_funding(&self, identifier: CohortIdentifier) -> Result<FundingRegime, DomainError> {
        self.cohort(identifier).map(|cohort| cohort.funding)
    }

    /// Returns whether another application of the person, or of an account with the same verified
    /// TRN, holds a live place on the course in `cohort`.
    pub(crate) fn has_live_place_in(&self, cohort: CohortIdentifier) -> bool {
        self.live_place_elsewhere(cohort).is_some()
    }

    fn schedule(&self, cohort: CohortIdentifier, identifier: ScheduleIdentifier) -> Option<&Schedule> {
        self.schedules.iter().find(|schedule| schedule.cohort == cohort && schedule.identifier == identifier)
    }

    fn schedules_of(&self, cohort: CohortIdentifier) -> Vec<ScheduleIdentifier> {
        self.schedules.iter().filter(|schedule| schedule.cohort == cohort).map(|schedule| schedule.identifier).collect()
    }

    /// Returns whether DfE funds the applicant as the API shows it: the stored flag,
    /// unless the person was funded for the same course before and DfE made no policy exception.
    pub fn effectively_eligible(&self) -> bool {
        let history: Vec<FundingHistoryEntry> = self
            .related
            .iter()
            .filter(|related| related.same_person)
            .map(|related| FundingHistoryEntry::from(&related.application))
            .collect();
        ApplicationView::new(self.application.clone(), self.person.clone(), &history).eligible_for_funding
    }

    /// Returns another live acceptance that stops this application holding a place in `cohort`:
    /// an accepted, not withdrawn application for the same or an equivalent course, of the person
    /// or of another person with the same verified TRN.
    fn live_place_elsewhere(&self, cohort: CohortIdentifier) -> Option<&Application> {
        self.related.iter().map(|related| &related.application).find(|other| {
            other.id != self.application.id
                && holds_live_place(other)
                && other.cohort == cohort
                && other.course.is_equivalent_to(self.application.course)
        })
    }
}

/// Returns whether an application holds a place: accepted and not withdrawn. At most one
/// application per person (and per verified TRN), course and cohort holds a place.
pub fn holds_live_place(application: &Application) -> bool {
    application.status == ApplicationStatus::Accepted && application.training_status != Some(TrainingStatus::Withdrawn)
}

/// The changes a decision makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The new state of every changed application, the decided one first.
    pub changed: Vec<Application>,
    pub history: Vec<HistoryEntry>,
    /// People whose applications all show a new `updated_at`, because a change to one of them
    /// changes what lead providers see on the others (such as whether they were funded before).
    pub touched_people: Vec<ParticipantId>,
    /// Participants whose enrolments changed, each with the lead provider that must notice: a
    /// change to an application that is or was accepted, seen by its provider before and after.
    pub changed_participants: Vec<(ParticipantId, LeadProviderId)>,
    /// When the decision was made.
    pub at: Timestamp,
}

impl Outcome {
    /// Returns an outcome that changes nothing.
    pub fn nothing(at: Timestamp) -> Self {
        Self {
            changed: Vec::new(),
            history: Vec::new(),
            touched_people: Vec::new(),
            changed_participants: Vec::new(),
            at,
        }
    }

    /// Returns whether the decision changed nothing.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

/// Returns whether a change alters what the lead providers of the application see of it as an
/// enrolment: it becomes or stops being accepted, moves provider, or an accepted application
/// changes a field that the participant resource shows.
fn enrolment_changed(before: &Application, after: &Application) -> bool {
    let shown = |application: &Application| {
        (
            application.status == ApplicationStatus::Accepted,
            application.lead_provider_id,
            application.course,
            application.schedule,
            application.cohort,
            application.training_status,
            application.funded_place,
            application.eligible_for_funding,
            application.accepted_at,
            application.school_urn.clone(),
            application.targeted_delivery_funding_eligibility,
        )
    };
    let involved = before.status == ApplicationStatus::Accepted || after.status == ApplicationStatus::Accepted;
    involved && shown(before) != shown(after)
}

/// Builds an outcome from before-and-after pairs, recording every changed field.
struct Draft {
    actor: Actor,
    at: Timestamp,
    outcome: Outcome,
}

impl Draft {
    fn new(actor: &Actor, at: Timestamp) -> Self {
        Self { actor: actor.clone(), at, outcome: Outcome::nothing(at) }
    }

    /// Records the change from `before` to `after`, with `reason` on every history entry. Nothing is
    /// recorded when nothing changed.
    fn change(&mut self, before: &Application, mut after: Application, reason: Option<&str>) {
        let fields: [(HistoryField, Option<String>, Option<String>); 8] = [
            (HistoryField::Status, Some(before.status.as_str().to_owned()), Some(after.status.as_str().to_owned())),
            (
                HistoryField::TrainingStatus,
                before.training_status.map(|status| status.as_str().to_owned()),
                after.training_status.map(|status| status.as_str().to_owned()),
            ),
            (
                HistoryField::ReasonForRejection,
                before.reason_for_rejection.map(|reason| reason.as_str().to_owned()),
                after.reason_for_rejection.map(|reason| reason.as_str().to_owned()),
            ),
            (
                HistoryField::FundedPlace,
                before.funded_place.map(|place| place.to_string()),
                after.funded_place.map(|place| place.to_string()),
            ),
            (
                HistoryField::Schedule,
                before.schedule.map(|schedule| schedule.as_str().to_owned()),
                after.schedule.map(|schedule| schedule.as_str().to_owned()),
            ),
            (HistoryField::Cohort, Some(before.cohort.to_string()), Some(after.cohort.to_string())),
            (
                HistoryField::LeadProvider,
                Some(before.lead_provider_id.to_string()),
                Some(after.lead_provider_id.to_string()),
            ),
            (
                HistoryField::EligibleForFunding,
                Some(before.eligible_for_funding.to_string()),
                Some(after.eligible_for_funding.to_string()),
            ),
        ];
        let mut changed = false;
        for (field, from, to) in fields {
            if from != to {
                changed = true;
                self.outcome.history.push(HistoryEntry {
                    application_id: before.id,
                    at: self.at,
                    actor: self.actor.clone(),
                    field,
                    from,
                    to,
                    reason: reason.map(str::to_owned),
                });
            }
        }
        // A new eligibility code with an unchanged flag is still a decision worth keeping.
        changed |= before.funding_eligibility_status_code != after.funding_eligibility_status_code;
        changed |= before.accepted_at != after.accepted_at;
        if changed {
            if enrolment_changed(before, &after) {
                for provider in [before.lead_provider_id, after.lead_provider_id] {
                    let participant = (after.participant_id, provider);
                    if !self.outcome.changed_participants.contains(&participant) {
                        self.outcome.changed_participants.push(participant);
                    }
                }
            }
            after.updated_at = self.at;
            self.outcome.changed.push(after);
        }
    }

    fn touch(&mut self, person: ParticipantId) {
        if !self.outcome.touched_people.contains(&person) {
            self.outcome.touched_people.push(person);
        }
    }

    fn finish(self) -> Outcome {
        self.outcome
    }
}

/// Builds the outcome of a change to the decided application alone.
pub(crate) fn single_change(
    context: &DecisionContext,
    actor: &Actor,
    after: Application,
    reason: Option<&str>,
    now: Timestamp,
) -> Outcome {
    let mut draft = Draft::new(actor, now);
    draft.change(&context.application, after, reason);
    draft.finish()
}

fn error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

fn invalid(errors: Vec<FieldError>) -> Result<Outcome, DomainError> {
    Err(DomainError::Invalid(errors))
}

/// Returns the error for a second live acceptance of the same course in the same cohort. The service
/// also returns it when a database constraint stops two racing acceptances.
pub fn another_accepted_application_error() -> FieldError {
    error(
        "application",
        "The participant already has an accepted application for this course in this cohort, with your organisation or another provider. Only one can be accepted.",
    )
}

const BILLABLE_DECLARATIONS_NOTE: &str =
    "Void its submitted, eligible, payable or paid declarations first, or contact DfE support.";

/// A lead provider's acceptance of an application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptRequest {
    /// Whether the place counts against the provider's funded places; `None` when the request did
    /// not send a JSON boolean.
    pub funded_place: Option<bool>,
    /// The schedule asked for, as sent; `None` to let the service choose. A blank value names no
    /// schedule that exists, so it is an error, as the documented values are the schedules or
    /// `null`.
    pub schedule_identifier: Option<String>,
}

/// Accepts an application for its lead provider.
///
/// Checks these rules in order and reports every failure:
///
/// - a capped cohort needs `funded_place` set to true or false, and an unfunded cohort needs false;
/// - the application must be pending;
/// - no other application of the person, or of another account with the same verified TRN, may
///   hold a live place on the same or an equivalent course in the cohort;
/// - if all that passed, a funded place needs an applicant who is eligible as the API shows it;
/// - a named schedule must exist in the cohort and suit the course, and with no schedule named,
///   the default must exist.
///
/// On success the application is accepted with its schedule, training status active and the
/// funded place the cohort's regime calls for. The person's other pending or withdrawn
/// applications for the same course and cohort, with any provider, are rejected with reason
/// `other_application_in_this_cohort_accepted`; rejected ones are left as they are.
pub fn accept(
    context: &DecisionContext,
    actor: &Actor,
    request: &AcceptRequest,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    let application = &context.application;
    let funding = context.cohort(application.cohort)?.funding;
    let mut errors = Vec::new();

    match funding {
        FundingRegime::Capped if request.funded_place.is_none() => errors.push(error(
            "funded_place",
            "Set '#/funded_place' to true or false: this cohort has a cap on funded places.",
        )),
        FundingRegime::Zero if request.funded_place != Some(false) => {
            errors.push(error("funded_place", "Set '#/funded_place' to false: DfE funds no places in this cohort."))
        }
        _ => {}
    }
    match application.status {
        ApplicationStatus::Accepted => errors.push(error("application", "This application has already been accepted.")),
        ApplicationStatus::Rejected => errors.push(error(
            "application",
            "This application has been rejected and cannot be accepted. Rejected applications never change status.",
        )),
        ApplicationStatus::Pending => {}
    }
    if context.live_place_elsewhere(application.cohort).is_some() {
        errors.push(another_accepted_application_error());
    }
    if errors.is_empty()
        && funding == FundingRegime::Capped
        && request.funded_place == Some(true)
        && !context.effectively_eligible()
    {
        errors.push(error(
            "application",
            "The participant is not eligible for funding, so '#/funded_place' cannot be true.",
        ));
    }

    let named = request.schedule_identifier.as_deref().map(str::trim);
    let schedule = match named {
        Some("") => {
            errors.push(error(
                "schedule_identifier",
                "'#/schedule_identifier' is blank. Name a schedule such as npq-leadership-autumn, or leave the attribute out (or send null) for the usual schedule.",
            ));
            None
        }
        Some(text) => {
            match text.parse::<ScheduleIdentifier>().ok().and_then(|id| context.schedule(application.cohort, id)) {
                None => {
                    errors.push(error(
                        "schedule_identifier",
                        format!("The schedule '{text}' does not exist in cohort {}.", application.cohort),
                    ));
                    None
                }
                Some(schedule) => {
                    if errors.is_empty() && schedule.course_group() != application.course.group() {
                        errors.push(error(
                            "schedule_identifier",
                            format!(
                                "The schedule '{text}' is for {} courses and cannot be used for {}.",
                                schedule.course_group(),
                                application.course
                            ),
                        ));
                    }
                    Some(schedule.identifier)
                }
            }
        }
        None => {
            let today = now.date_naive();
            let chosen = default_schedule(
                application.cohort,
                application.course.group(),
                today,
                &context.schedules_of(application.cohort),
            );
            if chosen.is_none() {
                errors.push(error(
                    "schedule",
                    format!(
                        "No schedule could be chosen for {} in cohort {}; name one in '#/schedule_identifier'.",
                        application.course, application.cohort
                    ),
                ));
            }
            chosen
        }
    };
    if !errors.is_empty() {
        return invalid(errors);
    }

    let mut draft = Draft::new(actor, now);
    let mut accepted = application.clone();
    accepted.status = ApplicationStatus::Accepted;
    accepted.schedule = schedule;
    accepted.accepted_at = Some(now);
    accepted.training_status = Some(TrainingStatus::Active);
    accepted.funded_place = match funding {
        FundingRegime::Capped => request.funded_place,
        FundingRegime::Full => None,
        FundingRegime::Zero => Some(false),
    };
    draft.change(application, accepted, None);

    for sibling in context.related.iter().filter(|related| related.same_person).map(|related| &related.application) {
        let same_place = sibling.id != application.id
            && sibling.course == application.course
            && sibling.cohort == application.cohort
            && sibling.status != ApplicationStatus::Rejected;
        if same_place {
            let mut rejected = sibling.clone();
            rejected.status = ApplicationStatus::Rejected;
            rejected.reason_for_rejection = Some(ReasonForRejection::OtherApplicationInThisCohortAccepted);
            release_place(&mut rejected, funding);
            draft.change(sibling, rejected, Some(ReasonForRejection::OtherApplicationInThisCohortAccepted.as_str()));
        }
    }
    draft.touch(application.participant_id);
    Ok(draft.finish())
}

/// Rejects an application for its lead provider, pending or accepted, with reason
/// `rejected_by_provider`. Refused when it is already rejected, or when it has declarations that
/// lead to payment. The training status and funded place are cleared; the schedule is kept.
pub fn reject_by_provider(context: &DecisionContext, actor: &Actor, now: Timestamp) -> Result<Outcome, DomainError> {
    reject(context, actor, now, ReasonForRejection::RejectedByProvider, None)
}

/// DfE's reason for rejecting an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DfeRejection {
    /// The registration was never decided and DfE closed it.
    Expired,
    /// DfE decided the application cannot go ahead.
    Rejected,
}

/// Rejects an application on DfE's behalf with reason `registration_expired` or
/// `rejected_by_dfe`, and DfE's note. The same checks as a lead provider's rejection apply.
pub fn reject_by_dfe(
    context: &DecisionContext,
    actor: &Actor,
    now: Timestamp,
    rejection: DfeRejection,
    note: &str,
) -> Result<Outcome, DomainError> {
    let reason = match rejection {
        DfeRejection::Expired => ReasonForRejection::RegistrationExpired,
        DfeRejection::Rejected => ReasonForRejection::RejectedByDfe,
    };
    reject(context, actor, now, reason, Some(note))
}

/// Clears what only an accepted application has: a rejected application is no enrolment, so it has
/// no training status and no funded place (an unfunded one in an unfunded cohort). Its schedule
/// stays, as a record of what it followed.
fn release_place(application: &mut Application, funding: FundingRegime) {
    application.training_status = None;
    application.funded_place = (funding == FundingRegime::Zero).then_some(false);
}

fn reject(
    context: &DecisionContext,
    actor: &Actor,
    now: Timestamp,
    reason: ReasonForRejection,
    note: Option<&str>,
) -> Result<Outcome, DomainError> {
    let application = &context.application;
    let mut errors = Vec::new();
    if application.status == ApplicationStatus::Rejected {
        errors.push(error("application", "This application has already been rejected."));
    }
    if context.declarations.billable > 0 {
        errors.push(error(
            "application",
            format!("This application has declarations that lead to payment. {BILLABLE_DECLARATIONS_NOTE}"),
        ));
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let funding = context.cohort(application.cohort)?.funding;
    let mut rejected = application.clone();
    rejected.status = ApplicationStatus::Rejected;
    rejected.reason_for_rejection = Some(reason);
    release_place(&mut rejected, funding);
    let recorded = match note.map(str::trim).filter(|note| !note.is_empty()) {
        Some(note) => format!("{}: {note}", reason.as_str()),
        None => reason.as_str().to_owned(),
    };
    let mut draft = Draft::new(actor, now);
    draft.change(application, rejected, Some(&recorded));
    draft.touch(application.participant_id);
    Ok(draft.finish())
}

/// Changes whether an accepted application's place counts against the lead provider's funded
/// places. The value must be a JSON boolean, and the application must be accepted. A funded place
/// needs an applicant who is eligible as the API shows it. Only capped cohorts have funded places,
/// and declarations that lead to payment must be voided first. The same value again changes
/// nothing.
pub fn change_funded_place(
    context: &DecisionContext,
    actor: &Actor,
    funded_place: Option<bool>,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    let application = &context.application;
    let funding = context.cohort(application.cohort)?.funding;
    let mut errors = Vec::new();
    if funded_place.is_none() {
        errors.push(error("funded_place", "Set '#/funded_place' to true or false."));
    }
    if application.status != ApplicationStatus::Accepted {
        errors.push(error(
            "application",
            "Only accepted applications have a funded place. Accept the application first.",
        ));
    }
    if funded_place == Some(true) && !context.effectively_eligible() {
        errors.push(error(
            "application",
            "The participant is not eligible for funding, so '#/funded_place' cannot be true.",
        ));
    }
    if errors.is_empty() && funding != FundingRegime::Capped {
        errors.push(error(
            "application",
            format!(
                "Cohort {} has no cap on funded places, so its applications have no funded place to change.",
                application.cohort
            ),
        ));
    }
    if context.declarations.billable > 0 {
        errors.push(error(
            "application",
            format!(
                "The funded place cannot change while the application has declarations that lead to payment. {BILLABLE_DECLARATIONS_NOTE} Then change it and declare again."
            ),
        ));
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let mut changed = application.clone();
    changed.funded_place = funded_place;
    let mut draft = Draft::new(actor, now);
    draft.change(application, changed, None);
    if !draft.outcome.changed.is_empty() {
        // Whether the place is funded decides whether the person's other applications count as
        // funded before.
        draft.touch(application.participant_id);
    }
    Ok(draft.finish())
}

/// Returns the funded place an application has after moving from a cohort funded by `from` to
/// one funded by `to`, or why it cannot move. A place keeps its value within one regime. Moving
/// from full funding to a capped cohort gives an accepted application a funded place exactly when
/// it is eligible. Moving to an unfunded cohort makes the place unfunded. A capped place cannot
/// move to full funding, nor an unfunded one to a funded cohort.
pub fn funded_place_after_move(
    application: &Application,
    from: FundingRegime,
    to: FundingRegime,
) -> Result<Option<bool>, &'static str> {
    match (from, to) {
        (from, to) if from == to => Ok(if to == FundingRegime::Zero { Some(false) } else { application.funded_place }),
        (FundingRegime::Full, FundingRegime::Capped) => {
            Ok((application.status == ApplicationStatus::Accepted).then_some(application.eligible_for_funding))
        }
        (_, FundingRegime::Zero) => Ok(Some(false)),
        (FundingRegime::Capped, FundingRegime::Full) => {
            Err("A place in a cohort with capped funding cannot move to a cohort without a cap.")
        }
        _ => Err("A place in an unfunded cohort cannot move to a funded cohort."),
    }
}

/// Moves an application to another cohort on DfE's behalf; its schedule moves to its namesake in
/// the new cohort. The move is rejected in these cases:
///
/// - the cohort is the same or unknown, or its funding regime is not compatible (see
///   [`funded_place_after_move`]);
/// - declarations that are not voided exist;
/// - the application has a schedule that the new cohort lacks;
/// - the person already holds a live place on the course in the new cohort.
pub fn change_cohort(
    context: &DecisionContext,
    actor: &Actor,
    target: CohortIdentifier,
    note: &str,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    let application = &context.application;
    let current = context.cohort(application.cohort)?;
    let Some(new_cohort) = context.cohorts.iter().find(|cohort| cohort.identifier == target) else {
        return invalid(vec![error("cohort", format!("Cohort {target} does not exist."))]);
    };
    if target == application.cohort {
        return invalid(vec![error("cohort", format!("The application is already in cohort {target}."))]);
    }
    let mut errors = Vec::new();
    let funded_place = match funded_place_after_move(application, current.funding, new_cohort.funding) {
        Ok(place) => place,
        Err(message) => {
            errors.push(error("cohort", message));
            None
        }
    };
    if context.declarations.not_voided > 0 {
        errors.push(error(
            "cohort",
            "The application has declarations that are not voided; void them before moving it to another cohort.",
        ));
    }
    if let Some(schedule) = application.schedule
        && context.schedule(target, schedule).is_none()
    {
        errors.push(error("cohort", format!("Cohort {target} has no schedule '{schedule}'.")));
    }
    if holds_live_place(application) && context.live_place_elsewhere(target).is_some() {
        errors.push(another_accepted_application_error());
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let mut moved = application.clone();
    moved.cohort = target;
    moved.funded_place = funded_place;
    let mut draft = Draft::new(actor, now);
    draft.change(application, moved, Some(note));
    Ok(draft.finish())
}

/// Returns an accepted or rejected application to pending on DfE's behalf, so its lead provider
/// can decide again. Refused while declarations that lead to payment exist. The training status,
/// acceptance time and rejection reason are cleared, and the funded place is unset (unfunded in
/// an unfunded cohort); the schedule is kept.
pub fn revert_to_pending(
    context: &DecisionContext,
    actor: &Actor,
    note: &str,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    let application = &context.application;
    let funding = context.cohort(application.cohort)?.funding;
    let mut errors = Vec::new();
    if application.status == ApplicationStatus::Pending {
        errors.push(error("status", "The application is already pending."));
    }
    if context.declarations.billable > 0 {
        errors.push(error(
            "base",
            format!("The application has declarations that lead to payment. {BILLABLE_DECLARATIONS_NOTE}"),
        ));
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let mut pending = application.clone();
    pending.status = ApplicationStatus::Pending;
    pending.training_status = None;
    pending.accepted_at = None;
    pending.reason_for_rejection = None;
    pending.funded_place = if funding == FundingRegime::Zero { Some(false) } else { None };
    let mut draft = Draft::new(actor, now);
    draft.change(application, pending, Some(note));
    draft.touch(application.participant_id);
    Ok(draft.finish())
}

/// Overrides the funding eligibility found at registration, on DfE's behalf, with a reason. The
/// code becomes `marked_funded_by_policy` or `marked_ineligible_by_policy`. Making an application
/// ineligible is refused while it has declarations that lead to payment or a funded place.
pub fn change_funding_eligibility(
    context: &DecisionContext,
    actor: &Actor,
    eligible: bool,
    reason: &str,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    let application = &context.application;
    let mut errors = Vec::new();
    if reason.trim().is_empty() {
        errors.push(error("reason", "Give the reason for overriding the funding eligibility."));
    }
    if !eligible && context.declarations.billable > 0 {
        errors.push(error(
            "base",
            format!(
                "The application cannot become ineligible while it has declarations that lead to payment. {BILLABLE_DECLARATIONS_NOTE}"
            ),
        ));
    }
    if !eligible && application.funded_place == Some(true) {
        errors.push(error(
            "base",
            "The application has a funded place; its lead provider must remove the funded place first.",
        ));
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let mut changed = application.clone();
    changed.eligible_for_funding = eligible;
    changed.funding_eligibility_status_code = Some(if eligible {
        FundingEligibilityStatusCode::MarkedFundedByPolicy
    } else {
        FundingEligibilityStatusCode::MarkedIneligibleByPolicy
    });
    let mut draft = Draft::new(actor, now);
    draft.change(application, changed, Some(reason.trim()));
    draft.touch(application.participant_id);
    Ok(draft.finish())
}

/// Moves an application to another lead provider on DfE's behalf: the transfer that participants
/// and declarations follow. The new provider must exist and differ from the current one.
pub fn change_lead_provider(
    context: &DecisionContext,
    actor: &Actor,
    target: LeadProviderId,
    note: &str,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    let application = &context.application;
    if !context.lead_providers.iter().any(|provider| provider.id == target) {
        return invalid(vec![error("lead_provider_id", format!("No lead provider has the id {target}."))]);
    }
    if target == application.lead_provider_id {
        return invalid(vec![error("lead_provider_id", "The application is already with this lead provider.")]);
    }
    let mut moved = application.clone();
    moved.lead_provider_id = target;
    let mut draft = Draft::new(actor, now);
    draft.change(application, moved, Some(note));
    Ok(draft.finish())
}

/// Changes an accepted application's training status, for its lead provider or on DfE's behalf.
/// The rules of [`change_training_status`] apply; resuming a withdrawn participant also needs the
/// place to be free, since a withdrawn application no longer holds it.
pub fn change_training(
    context: &DecisionContext,
    actor: &Actor,
    change: TrainingChange,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    let application = &context.application;
    let current = match (application.status, application.training_status) {
        (ApplicationStatus::Accepted, Some(status)) => status,
        (ApplicationStatus::Accepted, None) => TrainingStatus::Active,
        _ => {
            return invalid(vec![error(
                "training_status",
                "Only accepted applications have a training status. Accept the application first.",
            )]);
        }
    };
    let next = change_training_status(current, change, &context.declarations).map_err(DomainError::Invalid)?;
    if current == TrainingStatus::Withdrawn && context.live_place_elsewhere(application.cohort).is_some() {
        return invalid(vec![another_accepted_application_error()]);
    }
    let mut changed = application.clone();
    changed.training_status = Some(next);
    let mut draft = Draft::new(actor, now);
    draft.change(application, changed, change.reason());
    Ok(draft.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::ApplicationStatus::{Accepted, Pending, Rejected};
    use crate::course::Course;
    use crate::ids::ApplicationId;
    use crate::ports::DecisionStore;
    use crate::service::DecisionService;
    use crate::testing::{MemoryStore, block_on, lead_provider};
    use crate::training::{DeferralReason, WithdrawalReason};
    use chrono::TimeZone;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn now() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2025, 9, 10, 10, 0, 0).single().unwrap_or_default()
    }

    /// A clock that moves on one second every time it is read, so each decision has its own time.
    #[derive(Clone)]
    struct SteppingClock(Arc<std::sync::atomic::AtomicI64>);

    impl crate::ports::Clock for SteppingClock {
        fn now(&self) -> Timestamp {
            let step = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            now() + chrono::Duration::seconds(step)
        }
    }

    struct World {
        store: Arc<MemoryStore>,
        service: DecisionService<Arc<MemoryStore>, SteppingClock>,
        providers: Vec<LeadProviderId>,
    }

    impl World {
        fn new() -> Self {
            let providers = vec![lead_provider("First"), lead_provider("Second"), lead_provider("Third")];
            let ids = providers.iter().map(|provider| provider.id).collect();
            let store = Arc::new(MemoryStore::with_reference_data(providers));
            let clock = SteppingClock(Arc::new(std::sync::atomic::AtomicI64::new(0)));
            Self { service: DecisionService::new(store.clone(), clock), store, providers: ids }
        }

        /// Adds a pending application; in an unfunded cohort its place is unfunded from the start.
        fn add(&self, person: &Person, provider: usize, course: Course, cohort: &str) -> ApplicationId {
            let mut application =
                crate::testing::application(person, self.providers[provider], crate::testing::june(2, 9));
            application.course = course;
            application.cohort = cohort.parse().unwrap();
            if application.cohort == "2026a".parse().unwrap() {
                application.funded_place = Some(false);
            }
            let id = application.id;
            self.store.applications.lock().unwrap().push((application, person.clone()));
            id
        }

        fn get(&self, id: ApplicationId) -> Application {
            self.store.application(id).unwrap()
        }

        fn accept(&self, id: ApplicationId, funded_place: Option<bool>) -> Result<ApplicationView, DomainError> {
            let provider = self.get(id).lead_provider_id;
            block_on(self.service.accept(provider, id, AcceptRequest { funded_place, schedule_identifier: None }))
        }
    }

    /// Builds a person with a verified TRN of their own.
    fn person(name: &str) -> Person {
        static NEXT_TRN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(2_000_000);
        let mut person = crate::testing::person(name);
        let trn = NEXT_TRN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        person.trn = trn.to_string().parse().ok();
        person
    }

    fn attributes(result: Result<ApplicationView, DomainError>) -> Vec<String> {
        match result {
            Err(DomainError::Invalid(errors)) => errors.into_iter().map(|error| error.attribute).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn accepting_in_a_capped_cohort_needs_a_funded_place_answer() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2025a");
        assert_eq!(attributes(world.accept(id, None)), ["funded_place"]);
        assert_eq!(world.get(id).status, Pending);
    }

    #[test]
    fn accepting_in_an_unfunded_cohort_needs_an_unfunded_place() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2026a");
        assert_eq!(attributes(world.accept(id, Some(true))), ["funded_place"]);
        assert_eq!(attributes(world.accept(id, None)), ["funded_place"]);
        assert_eq!(world.accept(id, Some(false)).unwrap().application.funded_place, Some(false));
    }

    #[test]
    fn accepting_in_a_fully_funded_cohort_ignores_the_funded_place() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2023a");
        assert_eq!(world.accept(id, Some(true)).unwrap().application.funded_place, None);
    }

    #[test]
    fn accepting_twice_or_after_rejection_is_refused() {
        let world = World::new();
        let ada = person("Ada");
        let accepted = world.add(&ada, 0, Course::Headship, "2025a");
        world.accept(accepted, Some(true)).unwrap();
        assert_eq!(attributes(world.accept(accepted, Some(true))), ["application"]);
        let rejected = world.add(&person("Bo"), 0, Course::Headship, "2025a");
        block_on(world.service.reject(world.providers[0], rejected)).unwrap();
        assert_eq!(attributes(world.accept(rejected, Some(true))), ["application"]);
        assert_eq!(world.get(rejected).status, Rejected);
    }

    #[test]
    fn an_accepted_coaching_offer_blocks_the_support_offer_in_the_same_cohort_only() {
        let world = World::new();
        let ada = person("Ada");
        let support = world.add(&ada, 0, Course::AdditionalSupportOffer, "2021a");
        world.accept(support, None).unwrap();
        let coaching = world.add(&ada, 1, Course::EarlyHeadshipCoachingOffer, "2021a");
        assert_eq!(attributes(world.accept(coaching, None)), ["application"]);
        let later = world.add(&ada, 1, Course::EarlyHeadshipCoachingOffer, "2022a");
        assert!(world.accept(later, None).is_ok());
    }

    #[test]
    fn a_withdrawn_acceptance_frees_the_place_and_is_then_rejected() {
        let world = World::new();
        let ada = person("Ada");
        let first = world.add(&ada, 0, Course::Headship, "2025a");
        world.accept(first, Some(true)).unwrap();
        world.store.set_declarations(first, DeclarationSummary { not_voided: 1, billable: 0, started: 1 });
        let withdraw = TrainingChange::Withdraw(WithdrawalReason::ChangeInCareer);
        let actor = Actor::LeadProvider(world.providers[0]);
        block_on(world.store.decide(
            first,
            None,
            Box::new(move |context| change_training(context, &actor, withdraw, now())),
        ))
        .unwrap();
        let second = world.add(&ada, 1, Course::Headship, "2025a");
        world.accept(second, Some(false)).unwrap();
        assert_eq!(world.get(first).status, Rejected);
        assert_eq!(
            world.get(first).reason_for_rejection,
            Some(ReasonForRejection::OtherApplicationInThisCohortAccepted)
        );
    }

    #[test]
    fn a_funded_place_needs_an_applicant_who_is_not_funded_before() {
        let world = World::new();
        let ada = person("Ada");
        let earlier = world.add(&ada, 0, Course::Headship, "2024a");
        world.accept(earlier, Some(true)).unwrap();
        let later = world.add(&ada, 1, Course::Headship, "2025a");
        assert_eq!(attributes(world.accept(later, Some(true))), ["application"]);
        assert!(world.accept(later, Some(false)).is_ok());
    }

    #[test]
    fn an_unknown_schedule_and_a_schedule_for_another_course_are_refused() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2025a");
        let provider = world.providers[0];
        let request =
            |schedule: &str| AcceptRequest { funded_place: Some(true), schedule_identifier: Some(schedule.to_owned()) };
        let unknown = block_on(world.service.accept(provider, id, request("npq-leadership-summer")));
        assert_eq!(attributes(unknown), ["schedule_identifier"]);
        let wrong_group = block_on(world.service.accept(provider, id, request("npq-specialist-spring")));
        assert_eq!(attributes(wrong_group), ["schedule_identifier"]);
        let named = block_on(world.service.accept(provider, id, request("npq-leadership-spring"))).unwrap();
        assert_eq!(named.application.schedule, Some(ScheduleIdentifier::LeadershipSpring));
    }

    #[test]
    fn a_blank_schedule_is_refused() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2025a");
        let provider = world.providers[0];
        for blank in ["", "   "] {
            let request = AcceptRequest { funded_place: Some(true), schedule_identifier: Some(blank.to_owned()) };
            let refused = block_on(world.service.accept(provider, id, request));
            assert_eq!(attributes(refused), ["schedule_identifier"], "{blank:?}");
        }
        let unnamed = AcceptRequest { funded_place: Some(true), schedule_identifier: None };
        assert!(block_on(world.service.accept(provider, id, unnamed)).is_ok(), "no schedule named takes the default");
    }

    #[test]
    fn rejecting_with_billable_declarations_is_refused() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2025a");
        world.accept(id, Some(true)).unwrap();
        world.store.set_declarations(id, DeclarationSummary { not_voided: 1, billable: 1, started: 1 });
        assert_eq!(attributes(block_on(world.service.reject(world.providers[0], id))), ["application"]);
        world.store.set_declarations(id, DeclarationSummary { not_voided: 1, billable: 0, started: 1 });
        assert!(block_on(world.service.reject(world.providers[0], id)).is_ok());
    }

    #[test]
    fn changing_the_funded_place_follows_the_cohort_and_eligibility() {
        let world = World::new();
        let provider = world.providers[0];
        let pending = world.add(&person("Ada"), 0, Course::Headship, "2025a");
        assert_eq!(
            attributes(block_on(world.service.change_funded_place(provider, pending, Some(true)))),
            ["application"]
        );
        assert_eq!(
            attributes(block_on(world.service.change_funded_place(provider, pending, None))),
            ["funded_place", "application"]
        );
        world.accept(pending, Some(true)).unwrap();
        let changed = block_on(world.service.change_funded_place(provider, pending, Some(false))).unwrap();
        assert_eq!(changed.application.funded_place, Some(false));
        let full = world.add(&person("Bo"), 0, Course::Headship, "2023a");
        world.accept(full, None).unwrap();
        assert_eq!(
            attributes(block_on(world.service.change_funded_place(provider, full, Some(false)))),
            ["application"]
        );
    }

    #[test]
    fn moving_cohort_keeps_or_clears_the_funded_place_as_the_regime_requires() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2024a");
        world.accept(id, Some(true)).unwrap();
        let to_capped = block_on(world.service.change_cohort("ops", id, "2025", "moved".to_owned())).unwrap();
        assert_eq!(to_capped.view.application.funded_place, Some(true));
        let refused = block_on(world.service.change_cohort("ops", id, "2023", "moved".to_owned())).unwrap_err();
        assert!(matches!(refused, DomainError::Invalid(ref errors) if errors[0].attribute == "cohort"));
        world.store.set_declarations(id, DeclarationSummary { not_voided: 1, billable: 0, started: 1 });
        let with_declarations =
            block_on(world.service.change_cohort("ops", id, "2024", "back".to_owned())).unwrap_err();
        assert!(matches!(with_declarations, DomainError::Invalid(_)));
    }

    #[test]
    fn history_names_who_changed_what_and_why() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2025a");
        world.accept(id, Some(true)).unwrap();
        block_on(world.service.reject_by_dfe(
            "jo@education.gov.uk",
            id,
            DfeRejection::Rejected,
            "duplicate".to_owned(),
        ))
        .unwrap();
        let shown = block_on(world.service.admin_show(id)).unwrap();
        let last = shown.history.iter().rev().find(|entry| entry.field == HistoryField::Status).unwrap();
        assert_eq!((last.from.as_deref(), last.to.as_deref()), (Some("accepted"), Some("rejected")));
        assert_eq!(last.actor, Actor::Dfe { user: "jo@education.gov.uk".to_owned() });
        assert_eq!(last.reason.as_deref(), Some("rejected_by_dfe: duplicate"));
        assert_eq!(shown.view.application.reason_for_rejection, Some(ReasonForRejection::RejectedByDfe));
    }

    #[test]
    fn dfe_training_status_changes_follow_the_state_machine() {
        let world = World::new();
        let id = world.add(&person("Ada"), 0, Course::Headship, "2025a");
        let pending = block_on(world.service.change_training_status("ops", id, "deferred", Some("other"))).unwrap_err();
        assert!(matches!(pending, DomainError::Invalid(ref errors) if errors[0].attribute == "training_status"));
        world.accept(id, Some(true)).unwrap();
        let no_reason = block_on(world.service.change_training_status("ops", id, "withdrawn", None)).unwrap_err();
        assert!(matches!(no_reason, DomainError::Invalid(ref errors) if errors[0].attribute == "reason"));
        let recorded = block_on(world.service.admin_show(id)).unwrap().history.len();
        let unchanged = block_on(world.service.change_training_status("ops", id, "active", None)).unwrap();
        assert_eq!(unchanged.history.len(), recorded, "the current status again records nothing");
        world.store.set_declarations(id, DeclarationSummary { not_voided: 1, billable: 1, started: 0 });
        let deferred = block_on(world.service.change_training_status(
            "ops",
            id,
            "deferred",
            Some(DeferralReason::ParentalLeave.as_str()),
        ));
        assert_eq!(deferred.unwrap().view.application.training_status, Some(TrainingStatus::Deferred));
    }

    /// An action in a random sequence, by a lead provider or DfE, on application `target`.
    #[derive(Debug, Clone)]
    enum Action {
        Accept { target: usize, funded_place: Option<bool> },
        Reject { target: usize },
        ChangeFundedPlace { target: usize, funded_place: Option<bool> },
        Withdraw { target: usize },
        Resume { target: usize },
        Revert { target: usize },
        ChangeCohort { target: usize, cohort: &'static str },
        ChangeLeadProvider { target: usize, provider: usize },
        ChangeEligibility { target: usize, eligible: bool },
        DfeReject { target: usize },
        Declare { target: usize, billable: u32 },
    }

    fn any_action() -> impl Strategy<Value = Action> {
        let target = 0usize..8;
        let funded = proptest::option::of(any::<bool>());
        prop_oneof![
            4 => (target.clone(), funded.clone()).prop_map(|(target, funded_place)| Action::Accept { target, funded_place }),
            2 => target.clone().prop_map(|target| Action::Reject { target }),
            1 => (target.clone(), funded).prop_map(|(target, funded_place)| Action::ChangeFundedPlace { target, funded_place }),
            1 => target.clone().prop_map(|target| Action::Withdraw { target }),
            1 => target.clone().prop_map(|target| Action::Resume { target }),
            1 => target.clone().prop_map(|target| Action::Revert { target }),
            1 => (target.clone(), proptest::sample::select(vec!["2023a", "2024a", "2025a", "2026a", "2026b"]))
                .prop_map(|(target, cohort)| Action::ChangeCohort { target, cohort }),
            1 => (target.clone(), 0usize..3).prop_map(|(target, provider)| Action::ChangeLeadProvider { target, provider }),
            1 => (target.clone(), any::<bool>()).prop_map(|(target, eligible)| Action::ChangeEligibility { target, eligible }),
            1 => target.clone().prop_map(|target| Action::DfeReject { target }),
            1 => (target, 0u32..2).prop_map(|(target, billable)| Action::Declare { target, billable }),
        ]
    }

    /// Eight applications: two people (with one verified TRN between them) and a third, across
    /// providers, for headship in capped 2025 and full 2023, and the coaching offer in 2025.
    fn populated_world() -> (World, Vec<ApplicationId>) {
        let world = World::new();
        let ada = person("Ada");
        let mut ada_again = person("Ada Again");
        ada_again.trn = ada.trn.clone();
        let cal = person("Cal");
        let ids = vec![
            world.add(&ada, 0, Course::Headship, "2025a"),
            world.add(&ada, 1, Course::Headship, "2025a"),
            world.add(&ada_again, 2, Course::Headship, "2025a"),
            world.add(&ada, 0, Course::EarlyHeadshipCoachingOffer, "2025a"),
            world.add(&ada, 1, Course::AdditionalSupportOffer, "2025a"),
            world.add(&cal, 0, Course::Headship, "2023a"),
            world.add(&cal, 1, Course::Headship, "2023a"),
            world.add(&cal, 2, Course::Headship, "2026a"),
        ];
        (world, ids)
    }

    fn perform(world: &World, ids: &[ApplicationId], action: &Action) -> Result<(), DomainError> {
        let service = &world.service;
        let provider_of = |target: usize| world.get(ids[target]).lead_provider_id;
        match *action {
            Action::Accept { target, funded_place } => world.accept(ids[target], funded_place).map(|_| ()),
            Action::Reject { target } => block_on(service.reject(provider_of(target), ids[target])).map(|_| ()),
            Action::ChangeFundedPlace { target, funded_place } => {
                block_on(service.change_funded_place(provider_of(target), ids[target], funded_place)).map(|_| ())
            }
            Action::Withdraw { target } => {
                block_on(service.change_training_status("ops", ids[target], "withdrawn", Some("other"))).map(|_| ())
            }
            Action::Resume { target } => {
                block_on(service.change_training_status("ops", ids[target], "active", None)).map(|_| ())
            }
            Action::Revert { target } => {
                block_on(service.revert_to_pending("ops", ids[target], "again".to_owned())).map(|_| ())
            }
            Action::ChangeCohort { target, cohort } => {
                block_on(service.change_cohort("ops", ids[target], cohort, "move".to_owned())).map(|_| ())
            }
            Action::ChangeLeadProvider { target, provider } => block_on(service.change_lead_provider(
                "ops",
                ids[target],
                world.providers[provider],
                "transfer".to_owned(),
            ))
            .map(|_| ()),
            Action::ChangeEligibility { target, eligible } => {
                block_on(service.change_funding_eligibility("ops", ids[target], eligible, "policy".to_owned()))
                    .map(|_| ())
            }
            Action::DfeReject { target } => {
                block_on(service.reject_by_dfe("ops", ids[target], DfeRejection::Rejected, "no".to_owned())).map(|_| ())
            }
            Action::Declare { target, billable } => {
                world.store.set_declarations(ids[target], DeclarationSummary { not_voided: 1, billable, started: 1 });
                Ok(())
            }
        }
    }

    /// What a lead provider sees of each of its participants' enrolments: the accepted applications
    /// with the fields the participant resource shows.
    type EnrolmentView =
        Vec<(ApplicationId, Option<ScheduleIdentifier>, CohortIdentifier, Option<TrainingStatus>, Option<bool>, bool)>;

    fn enrolment_views(
        rows: &[Application],
    ) -> std::collections::HashMap<(ParticipantId, LeadProviderId), EnrolmentView> {
        let mut views: std::collections::HashMap<_, EnrolmentView> = std::collections::HashMap::new();
        for application in rows.iter().filter(|application| application.status == Accepted) {
            views.entry((application.participant_id, application.lead_provider_id)).or_default().push((
                application.id,
                application.schedule,
                application.cohort,
                application.training_status,
                application.funded_place,
                application.eligible_for_funding,
            ));
        }
        views
    }

    fn participant_times(world: &World) -> std::collections::HashMap<(ParticipantId, LeadProviderId), Timestamp> {
        world
            .store
            .participants
            .lock()
            .unwrap()
            .iter()
            .map(|entry| ((entry.person, entry.lead_provider), entry.updated_at))
            .collect()
    }

    fn snapshot(world: &World) -> Vec<Application> {
        world.store.applications.lock().unwrap().iter().map(|(application, _)| application.clone()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Checks the invariants after every action of a random sequence by several providers and DfE.
        /// A refused action changes nothing, and a rejected application stays rejected unless DfE
        /// reverts it. At most one live acceptance exists per person (or verified TRN), course and
        /// cohort. Every funded place agrees with its cohort's funding regime and the stored eligibility.
        #[test]
        fn decisions_keep_the_invariants(actions in proptest::collection::vec(any_action(), 1..40)) {
            let (world, ids) = populated_world();
            let funding = |cohort: CohortIdentifier| world.store.cohorts.iter().find(|c| c.identifier == cohort).unwrap().funding;
            for action in &actions {
                let before = snapshot(&world);
                let times_before = participant_times(&world);
                let result = perform(&world, &ids, action);
                let after = snapshot(&world);
                // A participant's updated_at moves exactly when what its provider sees of its enrolments
                // changes: gaining, losing or changing one.
                let (views_before, views_after) = (enrolment_views(&before), enrolment_views(&after));
                let times_after = participant_times(&world);
                let mut keys: Vec<_> = views_before.keys().chain(views_after.keys()).copied().collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    let visible_change = views_before.get(&key) != views_after.get(&key);
                    let moved = times_before.get(&key) != times_after.get(&key);
                    prop_assert_eq!(visible_change, moved, "participant {:?} after {:?}", key, action);
                }
                if result.is_err() {
                    prop_assert_eq!(&before, &after, "a refused action changed data: {:?}", action);
                }
                for (old, new) in before.iter().zip(&after) {
                    if old.status == Rejected && new.status != Rejected {
                        prop_assert!(matches!(action, Action::Revert { target } if ids[*target] == new.id), "{:?} revived {}", action, new.id);
                    }
                }
                let rows = world.store.applications.lock().unwrap().clone();
                let mut places = std::collections::HashSet::new();
                for (application, person) in &rows {
                    if holds_live_place(application) {
                        let place = (application.cohort, application.course.place_key());
                        prop_assert!(places.insert((Some(application.participant_id), None, place)), "two live places: {:?}", action);
                        if let Some(trn) = person.verified_trn() {
                            prop_assert!(places.insert((None, Some(trn.as_ref().to_owned()), place)), "two live places for one TRN");
                        }
                    }
                    match funding(application.cohort) {
                        FundingRegime::Zero => prop_assert_eq!(application.funded_place, Some(false)),
                        FundingRegime::Full if application.status == Accepted => prop_assert_eq!(application.funded_place, None),
                        FundingRegime::Capped if application.status == Accepted => prop_assert!(application.funded_place.is_some()),
                        _ => {}
                    }
                    if application.funded_place == Some(true) {
                        prop_assert!(application.eligible_for_funding, "funded place without eligibility after {:?}", action);
                    }
                }
            }
        }
    }
}
