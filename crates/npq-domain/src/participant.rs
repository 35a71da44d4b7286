//! Participants: people with at least one accepted application with a lead provider, as that
//! provider sees them, and the lead provider's actions on their training.

use crate::Timestamp;
use crate::application::{Application, ApplicationStatus, TrainingStatus};
use crate::cohort::{CohortIdentifier, FundingRegime};
use crate::course::Course;
use crate::decision::{Actor, DecisionContext, HistoryEntry, HistoryField, Outcome, change_training};
use crate::error::{DomainError, FieldError};
use crate::ids::{LeadProviderId, ParticipantId};
use crate::listing::{ListPosition, PageRequest, Sort, SortField};
use crate::person::Person;
use crate::schedule::{Schedule, ScheduleIdentifier};
use crate::training::{DeferralReason, TrainingChange, WithdrawalReason};

/// A record that DfE merged a person's duplicate account into the account they keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantIdChange {
    /// The id of the retired account.
    pub from_participant_id: ParticipantId,
    /// The id of the account that replaced it.
    pub to_participant_id: ParticipantId,
    pub changed_at: Timestamp,
}

/// The reason and time of a participant's latest deferral or withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingDetail {
    pub reason: String,
    /// When the change was recorded.
    pub date: Timestamp,
}

/// One accepted application of the participant with the lead provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub application: Application,
    /// Set while the participant is withdrawn from this course.
    pub withdrawal: Option<TrainingDetail>,
    /// Set while the participant is deferred on this course.
    pub deferral: Option<TrainingDetail>,
}

/// A participant as the store returns it for one lead provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRecord {
    pub person: Person,
    /// The person's accepted applications with the lead provider, oldest acceptance first.
    pub applications: Vec<Application>,
    /// The recorded training status changes of those applications, oldest first.
    pub training_history: Vec<HistoryEntry>,
    /// Changes of id into this person's account, newest first.
    pub id_changes: Vec<ParticipantIdChange>,
    /// When anything the lead provider sees about the participant last changed.
    pub updated_at: Timestamp,
    /// The values the participant list is sorted on, which a cursor records.
    pub sort_values: ParticipantSortValues,
}

/// The values of the sort columns of the participant list for one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParticipantSortValues {
    /// When the person became the lead provider's participant.
    pub created_at: Timestamp,
    /// The `updated_at` the list sorts on.
    pub updated_at: Timestamp,
}

impl ParticipantSortValues {
    /// Returns the value of one sort column.
    pub fn get(&self, field: SortField) -> Timestamp {
        match field {
            SortField::CreatedAt => self.created_at,
            SortField::UpdatedAt => self.updated_at,
        }
    }
}

/// A participant as a lead provider sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantView {
    pub person: Person,
    pub enrolments: Vec<Enrolment>,
    pub id_changes: Vec<ParticipantIdChange>,
    pub updated_at: Timestamp,
    pub sort_values: ParticipantSortValues,
}

fn latest_detail(
    history: &[HistoryEntry],
    application: &Application,
    status: TrainingStatus,
) -> Option<TrainingDetail> {
    history
        .iter()
        .rev()
        .find(|entry| {
            entry.application_id == application.id
                && entry.field == HistoryField::TrainingStatus
                && entry.to.as_deref() == Some(status.as_str())
        })
        .map(|entry| TrainingDetail { reason: entry.reason.clone().unwrap_or_default(), date: entry.at })
}

impl ParticipantView {
    /// Builds the view of a record. A withdrawn or deferred enrolment carries the reason and time
    /// of its latest withdrawal or deferral, whoever recorded it: after a transfer the new lead
    /// provider sees the details its predecessor or DfE recorded. `filter` keeps only the
    /// enrolments with its training status and only the id changes from its participant id.
    pub fn new(record: ParticipantRecord, filter: &ParticipantFilter) -> Self {
        let enrolments = record
            .applications
            .into_iter()
            .filter(|application| application.status == ApplicationStatus::Accepted)
            .filter(|application| {
                filter
                    .training_status
                    .is_none_or(|wanted| application.training_status.unwrap_or(TrainingStatus::Active) == wanted)
            })
            .map(|application| {
                let status = application.training_status.unwrap_or(TrainingStatus::Active);
                let withdrawal = (status == TrainingStatus::Withdrawn)
                    .then(|| latest_detail(&record.training_history, &application, TrainingStatus::Withdrawn))
                    .flatten();
                let deferral = (status == TrainingStatus::Deferred)
                    .then(|| latest_detail(&record.training_history, &application, TrainingStatus::Deferred))
                    .flatten();
                Enrolment { application, withdrawal, deferral }
            })
            .collect();
        let id_changes = record
            .id_changes
            .into_iter()
            .filter(|change| match filter.from_participant_id {
                None => true,
                Some(FromParticipant::Id(from)) => change.from_participant_id == from,
                Some(FromParticipant::NoMatch) => false,
            })
            .collect();
        Self {
            person: record.person,
            enrolments,
            id_changes,
            updated_at: record.updated_at,
            sort_values: record.sort_values,
        }
    }
}

/// Filters of the participant list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParticipantFilter {
    /// Only participants changed at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Only participants with an enrolment in this training status, showing only those enrolments.
    pub training_status: Option<TrainingStatus>,
    /// Only participants whose account replaced this id, showing only that change.
    pub from_participant_id: Option<FromParticipant>,
}

/// A page of the participant list: filters, order and page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParticipantQuery {
    pub filter: ParticipantFilter,
    /// `created_at` orders by when the person became the provider's participant; `updated_at` by
    /// the participant's `updated_at`.
    pub sort: Sort,
    pub page: PageRequest,
    /// In a cursor walk, only participants after this position (see [`ListPosition`]).
    pub after: Option<ListPosition>,
}

/// Parses `filter[training_status]`. A value that names no training status is a 422 that lists
/// the valid values, as in the reference service.
pub fn parse_training_status_filter(text: Option<&str>) -> Result<Option<TrainingStatus>, DomainError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else { return Ok(None) };
    text.parse().map(Some).map_err(|_| {
        DomainError::Invalid(vec![FieldError {
            attribute: "Unpermitted parameters".to_owned(),
            message: format!(
                "'{text}' is not a training status; filter[training_status] must be one of {:?}",
                TrainingStatus::NAMES
            ),
        }])
    })
}

/// Parses `filter[from_participant_id]`. A value that is not a UUID matches nothing, so it
/// gives an empty list rather than an error, as in the reference service.
pub fn parse_from_participant_id_filter(text: Option<&str>) -> Option<FromParticipant> {
    text.map(str::trim).filter(|text| !text.is_empty()).map(|text| match text.parse() {
        Ok(id) => FromParticipant::Id(id),
        Err(_) => FromParticipant::NoMatch,
    })
}

/// A `from_participant_id` filter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromParticipant {
    Id(ParticipantId),
    /// A value that is not a UUID, which no participant matches.
    NoMatch,
}

fn error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

/// Returns the error for an action on a retired participant id, naming the id that replaced it.
pub fn retired_participant_error(change: &ParticipantIdChange) -> FieldError {
    error(
        "participant_id",
        format!(
            "The participant id {} was replaced by {} when DfE merged two accounts of one person. Use {}.",
            change.from_participant_id, change.to_participant_id, change.to_participant_id
        ),
    )
}

/// Reads the `course_identifier` of a participant action.
pub fn parse_course(text: Option<&str>) -> Result<Course, FieldError> {
    let text = text.map(str::trim).unwrap_or_default();
    text.parse().map_err(|_| {
        error(
            "course_identifier",
            format!("'{text}' is not a course; '#/course_identifier' must be one of {}.", Course::NAMES.join(", ")),
        )
    })
}

/// Returns the enrolment a participant action applies to: the lead provider's accepted
/// application of the person for exactly this course, the most recently accepted when there are
/// several (the same course in two cohorts).
pub fn target_enrolment(applications: &[Application], course: Course) -> Result<&Application, FieldError> {
    applications
        .iter()
        .filter(|application| application.status == ApplicationStatus::Accepted && application.course == course)
        .max_by_key(|application| (application.accepted_at, application.created_at))
        .ok_or_else(|| {
            error(
                "participant_id",
                format!("The participant has no accepted application with your organisation for {course}."),
            )
        })
}

/// Checks, inside the decision's transaction, that the application is still the participant's
/// accepted enrolment on `course` with this lead provider.
fn still_enrolled(context: &DecisionContext, course: Course, lead_provider: LeadProviderId) -> Result<(), DomainError> {
    let application = &context.application;
    if application.status == ApplicationStatus::Accepted
        && application.course == course
        && application.lead_provider_id == lead_provider
    {
        Ok(())
    } else {
        Err(DomainError::Invalid(vec![error(
            "participant_id",
            format!("The participant has no accepted application with your organisation for {course}."),
        )]))
    }
}

/// Reads a deferral reason; a missing or unknown one is an error on `reason`.
pub fn parse_deferral_reason(text: Option<&str>) -> Result<DeferralReason, FieldError> {
    let text = text.map(str::trim).unwrap_or_default();
    text.parse()
        .map_err(|_| error("reason", format!("'#/reason' must be one of {}.", DeferralReason::NAMES.join(", "))))
}

/// Reads a withdrawal reason; a missing or unknown one is an error on `reason`.
pub fn parse_withdrawal_reason(text: Option<&str>) -> Result<WithdrawalReason, FieldError> {
    let text = text.map(str::trim).unwrap_or_default();
    text.parse()
        .map_err(|_| error("reason", format!("'#/reason' must be one of {}.", WithdrawalReason::NAMES.join(", "))))
}

/// Defers, withdraws or resumes the lead provider's participant on one course (see
/// [`change_training`]).
pub fn change_participant_training(
    context: &DecisionContext,
    lead_provider: LeadProviderId,
    course: Course,
    change: TrainingChange,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    still_enrolled(context, course, lead_provider)?;
    change_training(context, &Actor::LeadProvider(lead_provider), change, now)
}

/// A lead provider's request to move a participant to another schedule, and perhaps cohort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleChange {
    pub course: Course,
    /// The schedule asked for, as sent.
    pub schedule_identifier: Option<String>,
    /// The start year asked for, as sent; the current one when absent.
    pub cohort: Option<String>,
}

/// Finds the schedule a change asks for: the one with this identifier in a cohort of the start
/// year asked for (else the start year of the current schedule's cohort, else of the
/// application's cohort), preferring the cohort with the latest suffix when a year has several.
fn requested_schedule(context: &DecisionContext, identifier: ScheduleIdentifier, year: u16) -> Option<&Schedule> {
    context
        .schedules
        .iter()
        .filter(|schedule| schedule.identifier == identifier && schedule.cohort.start_year() == year)
        .max_by_key(|schedule| schedule.cohort.suffix())
}

/// Moves an enrolment to another schedule and, when the schedule is in another cohort, to that
/// cohort. Checks these rules and reports every failure:
///
/// - the schedule must be named and exist in a cohort of the requested start year;
/// - the participant must not be withdrawn;
/// - the new schedule must allow every declaration that leads to payment, and start on or before
///   each one's date;
/// - the schedule must differ from the current one;
/// - if all that passed, the schedule must suit the course, and the cohort may change only while
///   no declaration leads to payment;
/// - a capped place cannot move to full funding, nor an unfunded one to a funded cohort.
///
/// The funded place follows the new cohort's regime as in [`crate::decision::funded_place_after_move`].
pub fn change_schedule(
    context: &DecisionContext,
    lead_provider: LeadProviderId,
    request: &ScheduleChange,
    now: Timestamp,
) -> Result<Outcome, DomainError> {
    still_enrolled(context, request.course, lead_provider)?;
    let application = &context.application;
    let mut errors = Vec::new();

    let year = match request.cohort.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => match text.parse::<CohortIdentifier>() {
            Ok(cohort) => Some(cohort.start_year()),
            Err(_) => {
                errors.push(error("cohort", format!("'{text}' is not a cohort start year such as 2025.")));
                None
            }
        },
        None => Some(application.cohort.start_year()),
    };
    let named = request.schedule_identifier.as_deref().map(str::trim).filter(|text| !text.is_empty());
    let schedule = match (named.and_then(|text| text.parse::<ScheduleIdentifier>().ok()), year) {
        (Some(identifier), Some(year)) => requested_schedule(context, identifier, year),
        _ => None,
    };
    if schedule.is_none() && year.is_some() {
        errors.push(error(
            "schedule_identifier",
            match named {
                None => "Give the new schedule in '#/schedule_identifier'.".to_owned(),
                Some(text) => format!("The schedule '{text}' does not exist in the cohort asked for."),
            },
        ));
    }
    if errors.is_empty()
        && let Some(schedule) = schedule
        && !context
            .contracts
            .iter()
            .any(|(cohort, course)| *cohort == schedule.cohort && course.is_equivalent_to(application.course))
    {
        errors.push(error(
            "cohort",
            format!(
                "You do not hold a contract for {} in cohort {}; contact DfE before moving the participant there.",
                application.course, schedule.cohort
            ),
        ));
    }
    if application.training_status == Some(TrainingStatus::Withdrawn) {
        errors.push(error("participant_id", "The participant is withdrawn; resume their training first."));
    }
    let Some(schedule) = schedule else { return Err(DomainError::Invalid(errors)) };

    for declaration in &context.billable_declarations {
        let allowed = schedule.allowed_declaration_types.contains(&declaration.declaration_type);
        let after_start = declaration.declaration_date.date_naive() > schedule.applies_from;
        if !allowed || !after_start {
            errors.push(error(
                "schedule_identifier",
                format!(
                    "The schedule '{}' would invalidate a {} declaration that leads to payment; void it first.",
                    schedule.identifier, declaration.declaration_type
                ),
            ));
            break;
        }
    }
    if application.schedule == Some(schedule.identifier) && application.cohort == schedule.cohort {
        errors.push(error("schedule_identifier", "The participant already follows this schedule."));
    }
    if errors.is_empty() && schedule.course_group() != application.course.group() {
        errors.push(error(
            "schedule_identifier",
            format!("The schedule '{}' is not for {}.", schedule.identifier, application.course),
        ));
    }
    let moves_cohort = schedule.cohort != application.cohort;
    if errors.is_empty() && moves_cohort && context.declarations.billable > 0 {
        errors.push(error(
            "cohort",
            "The cohort cannot change while the participant has declarations that lead to payment; void them, change the schedule, then declare again.",
        ));
    }
    let current = context.cohort_funding(application.cohort)?;
    let target = context.cohort_funding(schedule.cohort)?;
    let funded_place = match crate::decision::funded_place_after_move(application, current, target) {
        Ok(place) => place,
        Err(message) => {
            errors.push(error("cohort", message));
            application.funded_place
        }
    };
    if moves_cohort && crate::decision::holds_live_place(application) && context.has_live_place_in(schedule.cohort) {
        errors.push(crate::decision::another_accepted_application_error());
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let mut changed = application.clone();
    changed.schedule = Some(schedule.identifier);
    changed.cohort = schedule.cohort;
    changed.funded_place = if target == FundingRegime::Zero { Some(false) } else { funded_place };
    Ok(crate::decision::single_change(context, &Actor::LeadProvider(lead_provider), changed, None, now))
}

/// The data a merge of two accounts of one person reads, loaded in the transaction that applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeContext {
    pub kept: Person,
    pub kept_applications: Vec<Application>,
    /// Whether the kept account was itself merged into another before.
    pub kept_is_retired: bool,
    pub retired: Person,
    pub retired_applications: Vec<Application>,
    /// Whether the account to retire was merged into another before.
    pub retired_is_retired: bool,
}

/// The changes a merge makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The applications that move to the kept account.
    pub moved: Vec<crate::ids::ApplicationId>,
    pub change: ParticipantIdChange,
    pub history: Vec<HistoryEntry>,
}

/// Merges a duplicate account into the account the person keeps, on DfE's behalf: every
/// application of the retired account moves to the kept one, and the retired id is recorded as
/// replaced. Refused when the two are the same account, when either was already merged into
/// another, or when both hold a live place on the same course in the same cohort (reject or
/// withdraw one first).
pub fn merge_accounts(
    context: &MergeContext,
    actor: &Actor,
    note: &str,
    now: Timestamp,
) -> Result<MergeOutcome, DomainError> {
    let mut errors = Vec::new();
    if context.kept.participant_id == context.retired.participant_id {
        errors.push(error("from_participant_id", "An account cannot be merged into itself."));
    }
    if context.retired_is_retired {
        errors.push(error("from_participant_id", "This account was already merged into another."));
    }
    if context.kept_is_retired {
        errors.push(error("participant_id", "The account to keep was itself merged into another; keep that one."));
    }
    let live_places = |applications: &[Application]| -> Vec<(CohortIdentifier, &'static str)> {
        applications
            .iter()
            .filter(|application| crate::decision::holds_live_place(application))
            .map(|application| (application.cohort, application.course.place_key()))
            .collect()
    };
    let kept_places = live_places(&context.kept_applications);
    let same_account = context.kept.participant_id == context.retired.participant_id;
    if !same_account && live_places(&context.retired_applications).iter().any(|place| kept_places.contains(place)) {
        errors.push(error(
            "base",
            "Both accounts hold an accepted place on the same course in the same cohort; reject or withdraw one first.",
        ));
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let change = ParticipantIdChange {
        from_participant_id: context.retired.participant_id,
        to_participant_id: context.kept.participant_id,
        changed_at: now,
    };
    let history = context
        .retired_applications
        .iter()
        .map(|application| HistoryEntry {
            application_id: application.id,
            at: now,
            actor: actor.clone(),
            field: HistoryField::Participant,
            from: Some(change.from_participant_id.to_string()),
            to: Some(change.to_participant_id.to_string()),
            reason: Some(note.trim().to_owned()).filter(|note| !note.is_empty()),
        })
        .collect();
    Ok(MergeOutcome {
        moved: context.retired_applications.iter().map(|application| application.id).collect(),
        change,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::AcceptRequest;
    use crate::ids::ApplicationId;
    use crate::service::{DecisionService, ParticipantLookup, ParticipantService};
    use crate::testing::{FixedClock, MemoryStore, block_on, lead_provider};
    use crate::training::{BillableDeclaration, DeclarationSummary};
    use chrono::TimeZone;
    use std::sync::Arc;

    fn now() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2025, 9, 10, 10, 0, 0).single().unwrap_or_default()
    }

    struct World {
        store: Arc<MemoryStore>,
        decisions: DecisionService<Arc<MemoryStore>, FixedClock>,
        participants: ParticipantService<Arc<MemoryStore>, FixedClock>,
        provider: LeadProviderId,
        other: LeadProviderId,
    }

    impl World {
        fn new() -> Self {
            let providers = vec![lead_provider("First"), lead_provider("Second")];
            let (provider, other) = (providers[0].id, providers[1].id);
            let store = Arc::new(MemoryStore::with_reference_data(providers));
            Self {
                decisions: DecisionService::new(store.clone(), FixedClock(now())),
                participants: ParticipantService::new(store.clone(), FixedClock(now())),
                store,
                provider,
                other,
            }
        }

        /// Adds an accepted headship application in `cohort` and returns the participant and the
        /// application.
        fn participant(&self, cohort: &str) -> (ParticipantId, ApplicationId) {
            static NEXT_TRN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(3_000_000);
            let mut person = crate::testing::person("Ada Example");
            person.trn = NEXT_TRN.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string().parse().ok();
            let mut application = crate::testing::application(&person, self.provider, crate::testing::june(2, 9));
            application.cohort = cohort.parse().unwrap();
            let id = application.id;
            self.store.applications.lock().unwrap().push((application, person.clone()));
            let funded_place = (cohort != "2023a").then_some(true);
            block_on(self.decisions.accept(
                self.provider,
                id,
                AcceptRequest { funded_place, schedule_identifier: None },
            ))
            .unwrap();
            (person.participant_id, id)
        }

        fn started(&self, application: ApplicationId) {
            self.store.set_declarations(application, DeclarationSummary { not_voided: 1, billable: 1, started: 1 });
        }
    }

    fn attributes(result: Result<ParticipantView, DomainError>) -> Vec<String> {
        match result {
            Err(DomainError::Invalid(errors)) => errors.into_iter().map(|error| error.attribute).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    const HEADSHIP: Option<&str> = Some("npq-headship");

    #[test]
    fn deferral_needs_a_reason_from_the_list_and_a_declaration() {
        let world = World::new();
        let (participant, application) = world.participant("2025a");
        let defer = |reason| block_on(world.participants.defer(world.provider, participant, HEADSHIP, reason));
        assert_eq!(attributes(defer(Some("holiday"))), ["reason"]);
        assert_eq!(attributes(defer(Some("parental-leave"))), ["participant_id"]);
        world.started(application);
        let deferred = defer(Some("parental-leave")).unwrap();
        let enrolment = &deferred.enrolments[0];
        assert_eq!(enrolment.application.training_status, Some(TrainingStatus::Deferred));
        assert_eq!(enrolment.deferral, Some(TrainingDetail { reason: "parental-leave".to_owned(), date: now() }));
        assert_eq!(attributes(defer(Some("parental-leave"))), ["participant_id"]);
    }

    #[test]
    fn withdrawal_and_resumption_follow_the_state_machine() {
        let world = World::new();
        let (participant, application) = world.participant("2025a");
        let resume = || block_on(world.participants.resume(world.provider, participant, HEADSHIP));
        assert_eq!(attributes(resume()), ["participant_id"], "an active participant cannot resume");
        world.started(application);
        let withdrawn =
            block_on(world.participants.withdraw(world.provider, participant, HEADSHIP, Some("change-in-career")))
                .unwrap();
        assert_eq!(
            withdrawn.enrolments[0].withdrawal.as_ref().map(|detail| detail.reason.as_str()),
            Some("change-in-career")
        );
        let again =
            block_on(world.participants.withdraw(world.provider, participant, HEADSHIP, Some("change-in-career")));
        assert_eq!(attributes(again), ["participant_id"]);
        let resumed = resume().unwrap();
        assert_eq!(resumed.enrolments[0].application.training_status, Some(TrainingStatus::Active));
        assert_eq!(resumed.enrolments[0].withdrawal, None);
    }

    #[test]
    fn actions_name_the_course_and_enrolment_problems() {
        let world = World::new();
        let (participant, _) = world.participant("2025a");
        let unknown = block_on(world.participants.resume(world.provider, participant, Some("npq-cooking")));
        assert_eq!(attributes(unknown), ["course_identifier"]);
        let missing = block_on(world.participants.resume(world.provider, participant, None));
        assert_eq!(attributes(missing), ["course_identifier"]);
        let not_enrolled = block_on(world.participants.resume(world.provider, participant, Some("npq-senco")));
        assert_eq!(attributes(not_enrolled), ["participant_id"]);
        let other_provider = block_on(world.participants.resume(world.other, participant, HEADSHIP));
        assert_eq!(other_provider, Err(DomainError::NotFound));
    }

    #[test]
    fn transferred_participant_keeps_its_withdrawal_details_for_the_new_provider() {
        let world = World::new();
        let (participant, application) = world.participant("2025a");
        world.started(application);
        block_on(world.participants.withdraw(world.provider, participant, HEADSHIP, Some("started-in-error"))).unwrap();
        block_on(world.decisions.change_lead_provider("ops", application, world.other, "transfer".to_owned())).unwrap();
        assert_eq!(block_on(world.participants.show(world.provider, participant)), Err(DomainError::NotFound));
        let Ok(ParticipantLookup::Found(view)) = block_on(world.participants.show(world.other, participant)) else {
            panic!("the new provider sees the participant")
        };
        assert_eq!(
            view.enrolments[0].withdrawal.as_ref().map(|detail| detail.reason.as_str()),
            Some("started-in-error")
        );
    }

    fn change(
        world: &World,
        participant: ParticipantId,
        schedule: Option<&str>,
        cohort: Option<&str>,
    ) -> Result<ParticipantView, DomainError> {
        block_on(world.participants.change_schedule(
            world.provider,
            participant,
            HEADSHIP,
            schedule.map(str::to_owned),
            cohort.map(str::to_owned),
        ))
    }

    #[test]
    fn schedule_change_needs_a_known_and_different_schedule_for_the_course() {
        let world = World::new();
        let (participant, _) = world.participant("2025a");
        assert_eq!(attributes(change(&world, participant, None, None)), ["schedule_identifier"]);
        assert_eq!(
            attributes(change(&world, participant, Some("npq-leadership-summer"), None)),
            ["schedule_identifier"]
        );
        assert_eq!(
            attributes(change(&world, participant, Some("npq-leadership-autumn"), None)),
            ["schedule_identifier"]
        );
        assert_eq!(
            attributes(change(&world, participant, Some("npq-specialist-spring"), None)),
            ["schedule_identifier"]
        );
        let moved = change(&world, participant, Some("npq-leadership-spring"), None).unwrap();
        assert_eq!(moved.enrolments[0].application.schedule, Some(ScheduleIdentifier::LeadershipSpring));
    }

    #[test]
    fn schedule_change_of_a_withdrawn_participant_is_refused() {
        let world = World::new();
        let (participant, application) = world.participant("2025a");
        world.started(application);
        block_on(world.participants.withdraw(world.provider, participant, HEADSHIP, Some("other"))).unwrap();
        assert_eq!(attributes(change(&world, participant, Some("npq-leadership-spring"), None)), ["participant_id"]);
    }

    #[test]
    fn schedule_change_moves_cohort_with_the_funded_place_rules() {
        let world = World::new();
        let (capped, _) = world.participant("2024a");
        let moved = change(&world, capped, Some("npq-leadership-spring"), Some("2025")).unwrap();
        assert_eq!(moved.enrolments[0].application.cohort, "2025a".parse().unwrap());
        assert_eq!(moved.enrolments[0].application.funded_place, Some(true));
        assert_eq!(attributes(change(&world, capped, Some("npq-leadership-spring"), Some("2023"))), ["cohort"]);

        let (full, _) = world.participant("2023a");
        let to_capped = change(&world, full, Some("npq-leadership-spring"), Some("2024")).unwrap();
        assert_eq!(to_capped.enrolments[0].application.funded_place, Some(true), "eligible, so funded");

        let (unfunded_bound, _) = world.participant("2025a");
        let to_zero = change(&world, unfunded_bound, Some("npq-leadership-spring"), Some("2026")).unwrap();
        assert_eq!(to_zero.enrolments[0].application.cohort, "2026b".parse().unwrap(), "the later suffix wins");
    }

    #[test]
    fn schedule_change_keeps_billable_declarations_valid() {
        let world = World::new();
        let (participant, application) = world.participant("2025a");
        world.started(application);
        assert_eq!(attributes(change(&world, participant, Some("npq-leadership-spring"), Some("2024"))), ["cohort"]);
        let declared_early = BillableDeclaration {
            declaration_type: crate::schedule::DeclarationType::Started,
            declaration_date: chrono::Utc.with_ymd_and_hms(2025, 10, 15, 9, 0, 0).single().unwrap_or_default(),
        };
        let context_rule = |declarations: Vec<BillableDeclaration>| {
            let lead_provider = world.provider;
            let request = ScheduleChange {
                course: Course::Headship,
                schedule_identifier: Some("npq-leadership-spring".to_owned()),
                cohort: None,
            };
            move |context: &DecisionContext| {
                let context = DecisionContext { billable_declarations: declarations.clone(), ..context.clone() };
                change_schedule(&context, lead_provider, &request, now())
            }
        };
        let refused = block_on(crate::ports::DecisionStore::decide(
            &*world.store,
            application,
            Some(world.provider),
            Box::new(context_rule(vec![declared_early])),
        ));
        let Err(DomainError::Invalid(errors)) = refused else {
            panic!("a started declaration before spring is invalidated")
        };
        assert_eq!(errors[0].attribute, "schedule_identifier");
    }
}
