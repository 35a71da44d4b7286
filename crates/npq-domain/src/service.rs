//! Use-case services, generic over the ports they need. Handlers call exactly one of these.

use std::collections::HashMap;

use chrono::Duration;
use rand::RngCore;

use crate::StoreError;
use crate::Timestamp;
use crate::application::FundingChoice;
use crate::application::{ApplicationStatus, ApplicationView, TrainingStatus};
use crate::auth::{ApiToken, PlainToken, TokenKey, TokenScope};
use crate::cohort::Cohort;
use crate::cohort::CohortIdentifier;
use crate::course::Course;
use crate::decision::{
    self, AcceptRequest, Actor, DfeRejection, HistoryEntry, Outcome, another_accepted_application_error,
};
use crate::eligibility::EligibilityDecision;
use crate::error::DomainError;
use crate::error::FieldError;
use crate::ids::{ApiTokenId, ApplicationId, DeliveryPartnerId, LeadProviderId, ParticipantId};
use crate::listing::{ApplicationQuery, DeliveryPartnerQuery};
use crate::participant::{
    MergeOutcome, ParticipantFilter, ParticipantIdChange, ParticipantQuery, ParticipantView, ScheduleChange,
    parse_course, parse_deferral_reason, parse_withdrawal_reason, retired_participant_error, target_enrolment,
};
use crate::ports::{
    ApplicationRepository, Clock, DecisionRule, DecisionStore, DeliveryPartnerRepository, Idempotency,
    LeadProviderRepository, MergeRule, ParticipantRepository, ReferenceListRepository, RegistrationRule,
    RegistrationStore, TokenRepository,
};
use crate::provider::{DeliveryPartnerView, LeadProvider};
use crate::registration::{
    ApplicantForm, RegistrationAnswers, RegistrationForm, WorkplaceRecords, new_application, new_person,
};
use crate::training::{DeferralReason, TrainingChange, WithdrawalReason};

/// Reads applications as they appear to one lead provider.
#[derive(Debug, Clone)]
pub struct ApplicationService<R> {
    repository: R,
}

impl<R: ApplicationRepository> ApplicationService<R> {
    pub fn new(repository: R) -> Self {
        Self { repository }
    }

    /// Returns one page of the lead provider's applications.
    pub async fn list(
        &self,
        lead_provider: LeadProviderId,
        query: &ApplicationQuery,
    ) -> Result<Vec<ApplicationView>, DomainError> {
        let rows = self.repository.list_applications(lead_provider, query).await?;
        let mut people: Vec<ParticipantId> = rows.iter().map(|(application, _)| application.participant_id).collect();
        people.sort_unstable();
        people.dedup();
        let history = if people.is_empty() { Vec::new() } else { self.repository.funding_history(&people).await? };

        let mut history_by_person: HashMap<ParticipantId, Vec<_>> = HashMap::new();
        for entry in history {
            history_by_person.entry(entry.participant_id).or_default().push(entry);
        }
        Ok(rows
            .into_iter()
            .map(|(application, person)| {
                let history = history_by_person.get(&application.participant_id).map(Vec::as_slice).unwrap_or_default();
                ApplicationView::new(application, person, history)
            })
            .collect())
    }

    /// Returns one of the lead provider's applications; another provider's is [`DomainError::NotFound`].
    pub async fn show(&self, lead_provider: LeadProviderId, id: ApplicationId) -> Result<ApplicationView, DomainError> {
        let (application, person) =
            self.repository.find_application(lead_provider, id).await?.ok_or(DomainError::NotFound)?;
        let history = self.repository.funding_history(&[application.participant_id]).await?;
        Ok(ApplicationView::new(application, person, &history))
    }
}

/// Reads the delivery partners one lead provider works with.
#[derive(Debug, Clone)]
pub struct DeliveryPartnerService<R> {
    repository: R,
}

impl<R: DeliveryPartnerRepository> DeliveryPartnerService<R> {
    pub fn new(repository: R) -> Self {
        Self { repository }
    }

    /// Returns one page of the lead provider's delivery partners.
    pub async fn list(
        &self,
        lead_provider: LeadProviderId,
        query: &DeliveryPartnerQuery,
    ) -> Result<Vec<DeliveryPartnerView>, DomainError> {
        Ok(self.repository.list_delivery_partners(lead_provider, query).await?)
    }

    /// Returns one of the lead provider's delivery partners; a partner without a partnership with
    /// the provider is [`DomainError::NotFound`].
    pub async fn show(
        &self,
        lead_provider: LeadProviderId,
        id: DeliveryPartnerId,
    ) -> Result<DeliveryPartnerView, DomainError> {
        self.repository.find_delivery_partner(lead_provider, id).await?.ok_or(DomainError::NotFound)
    }
}

/// An application as DfE staff see it: the lead provider's view, the provider it belongs to, and
/// its recorded history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminApplicationView {
    pub view: ApplicationView,
    pub lead_provider: LeadProviderId,
    pub history: Vec<HistoryEntry>,
}

/// The outcome of expiring one stale application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryResult {
    pub application_id: ApplicationId,
    /// `None` when the application was expired; otherwise why it was not.
    pub refused: Option<Vec<FieldError>>,
}

/// Most applications one bulk expiry call handles; callers repeat it for more.
pub const MAX_EXPIRIES_PER_CALL: u32 = 1000;

/// Decides on applications: lead providers accept, reject and change funded places; DfE staff
/// correct what goes wrong. Each decision is one transaction (see [`DecisionStore::decide`]).
#[derive(Debug, Clone)]
pub struct DecisionService<S, C> {
    store: S,
    clock: C,
}

impl<S: DecisionStore + ApplicationRepository, C: Clock> DecisionService<S, C> {
    pub fn new(store: S, clock: C) -> Self {
        Self { store, clock }
    }

    async fn run(
        &self,
        id: ApplicationId,
        visible_to: Option<LeadProviderId>,
        rule: DecisionRule,
    ) -> Result<ApplicationView, DomainError> {
        match self.store.decide(id, visible_to, rule).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(DomainError::NotFound),
            Err(DomainError::Store(StoreError::PlaceTaken)) => {
                return Err(DomainError::Invalid(vec![another_accepted_application_error()]));
            }
            Err(error) => return Err(error),
        }
        self.view(id).await
    }

    async fn view(&self, id: ApplicationId) -> Result<ApplicationView, DomainError> {
        let (application, person) = self.store.find_any_application(id).await?.ok_or(DomainError::NotFound)?;
        let history = self.store.funding_history(&[application.participant_id]).await?;
        Ok(ApplicationView::new(application, person, &history))
    }

    /// Accepts one of the lead provider's applications (see [`decision::accept`]).
    pub async fn accept(
        &self,
        lead_provider: LeadProviderId,
        id: ApplicationId,
        request: AcceptRequest,
    ) -> Result<ApplicationView, DomainError> {
        let now = self.clock.now();
        let actor = Actor::LeadProvider(lead_provider);
        self.run(id, Some(lead_provider), Box::new(move |context| decision::accept(context, &actor, &request, now)))
            .await
    }

    /// Rejects one of the lead provider's applications (see [`decision::reject_by_provider`]).
    pub async fn reject(
        &self,
        lead_provider: LeadProviderId,
        id: ApplicationId,
    ) -> Result<ApplicationView, DomainError> {
        let now = self.clock.now();
        let actor = Actor::LeadProvider(lead_provider);
        self.run(id, Some(lead_provider), Box::new(move |context| decision::reject_by_provider(context, &actor, now)))
            .await
    }

    /// Changes the funded place of one of the lead provider's applications (see
    /// [`decision::change_funded_place`]). `None` stands for a value that is not a JSON boolean.
    pub async fn change_funded_place(
        &self,
        lead_provider: LeadProviderId,
        id: ApplicationId,
        funded_place: Option<bool>,
    ) -> Result<ApplicationView, DomainError> {
        let now = self.clock.now();
        let actor = Actor::LeadProvider(lead_provider);
        self.run(
            id,
            Some(lead_provider),
            Box::new(move |context| decision::change_funded_place(context, &actor, funded_place, now)),
        )
        .await
    }

    /// Returns any application with its lead provider and history, for DfE staff.
    pub async fn admin_show(&self, id: ApplicationId) -> Result<AdminApplicationView, DomainError> {
        let view = self.view(id).await?;
        let history = self.store.application_history(id).await?;
        Ok(AdminApplicationView { lead_provider: view.application.lead_provider_id, view, history })
    }

    async fn admin_run(&self, id: ApplicationId, rule: DecisionRule) -> Result<AdminApplicationView, DomainError> {
        self.run(id, None, rule).await?;
        self.admin_show(id).await
    }

    /// Returns an application to pending (see [`decision::revert_to_pending`]).
    pub async fn revert_to_pending(
        &self,
        user: &str,
        id: ApplicationId,
        note: String,
    ) -> Result<AdminApplicationView, DomainError> {
        require_note(&note)?;
        let now = self.clock.now();
        let actor = Actor::Dfe { user: user.to_owned() };
        self.admin_run(id, Box::new(move |context| decision::revert_to_pending(context, &actor, &note, now))).await
    }

    /// Moves an application to another cohort (see [`decision::change_cohort`]).
    pub async fn change_cohort(
        &self,
        user: &str,
        id: ApplicationId,
        cohort: &str,
        note: String,
    ) -> Result<AdminApplicationView, DomainError> {
        require_note(&note)?;
        let target: CohortIdentifier = cohort.trim().parse().map_err(|error: crate::cohort::InvalidCohort| {
            DomainError::Invalid(vec![FieldError { attribute: "cohort".to_owned(), message: error.to_string() }])
        })?;
        let now = self.clock.now();
        let actor = Actor::Dfe { user: user.to_owned() };
        self.admin_run(id, Box::new(move |context| decision::change_cohort(context, &actor, target, &note, now))).await
    }

    /// Overrides an application's funding eligibility (see [`decision::change_funding_eligibility`]).
    pub async fn change_funding_eligibility(
        &self,
        user: &str,
        id: ApplicationId,
        eligible: bool,
        reason: String,
    ) -> Result<AdminApplicationView, DomainError> {
        let now = self.clock.now();
        let actor = Actor::Dfe { user: user.to_owned() };
        self.admin_run(
            id,
            Box::new(move |context| decision::change_funding_eligibility(context, &actor, eligible, &reason, now)),
        )
        .await
    }

    /// Moves an application to another lead provider (see [`decision::change_lead_provider`]).
    pub async fn change_lead_provider(
        &self,
        user: &str,
        id: ApplicationId,
        lead_provider: LeadProviderId,
        note: String,
    ) -> Result<AdminApplicationView, DomainError> {
        require_note(&note)?;
        let now = self.clock.now();
        let actor = Actor::Dfe { user: user.to_owned() };
        self.admin_run(
            id,
            Box::new(move |context| decision::change_lead_provider(context, &actor, lead_provider, &note, now)),
        )
        .await
    }

    /// Sets an accepted application's training status to `status` (`active`, `deferred` or
    /// `withdrawn`) with a reason from the matching list; `active` takes no reason. The current
    /// status again changes nothing.
    pub async fn change_training_status(
        &self,
        user: &str,
        id: ApplicationId,
        status: &str,
        reason: Option<&str>,
    ) -> Result<AdminApplicationView, DomainError> {
        let change = parse_training_change(status, reason)?;
        let now = self.clock.now();
        let actor = Actor::Dfe { user: user.to_owned() };
        self.admin_run(
            id,
            Box::new(move |context| {
                let unchanged = context.application.status == ApplicationStatus::Accepted
                    && context.application.training_status.unwrap_or(TrainingStatus::Active) == change.target();
                if unchanged {
                    return Ok(Outcome::nothing(now));
                }
                // The training rules name `participant_id`, as lead providers address participants;
                // DfE staff address the application's training status.
                decision::change_training(context, &actor, change, now).map_err(|error| match error {
                    DomainError::Invalid(errors) => DomainError::Invalid(
                        errors
                            .into_iter()
                            .map(|error| match error.attribute.as_str() {
                                "participant_id" => FieldError { attribute: "training_status".to_owned(), ..error },
                                _ => error,
                            })
                            .collect(),
                    ),
                    other => other,
                })
            }),
        )
        .await
    }

    /// Rejects an application on DfE's behalf (see [`decision::reject_by_dfe`]).
    pub async fn reject_by_dfe(
        &self,
        user: &str,
        id: ApplicationId,
        rejection: DfeRejection,
        note: String,
    ) -> Result<AdminApplicationView, DomainError> {
        require_note(&note)?;
        let now = self.clock.now();
        let actor = Actor::Dfe { user: user.to_owned() };
        self.admin_run(id, Box::new(move |context| decision::reject_by_dfe(context, &actor, now, rejection, &note)))
            .await
    }

    /// Merges the duplicate account `retired` into `kept` (see
    /// [`crate::participant::merge_accounts`]).
    pub async fn merge_accounts(
        &self,
        user: &str,
        kept: ParticipantId,
        retired: ParticipantId,
        note: String,
    ) -> Result<MergeOutcome, DomainError> {
        let now = self.clock.now();
        let actor = Actor::Dfe { user: user.to_owned() };
        let rule: MergeRule = Box::new(move |context| crate::participant::merge_accounts(context, &actor, &note, now));
        match self.store.merge_accounts(kept, retired, rule).await {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => Err(DomainError::NotFound),
            Err(DomainError::Store(StoreError::PlaceTaken)) => Err(DomainError::Invalid(vec![FieldError {
                attribute: "base".to_owned(),
                message: "Both accounts hold an accepted place on the same course in the same cohort; reject or withdraw one first.".to_owned(),
            }])),
            Err(error) => Err(error),
        }
    }

    /// Expires pending applications created before `created_before` (optionally in one cohort),
    /// oldest first, at most [`MAX_EXPIRIES_PER_CALL`] per call. Each is rejected with reason
    /// `registration_expired` in its own transaction; one that cannot be is reported, not fatal.
    pub async fn expire_stale(
        &self,
        user: &str,
        created_before: Timestamp,
        cohort: Option<CohortIdentifier>,
        limit: u32,
    ) -> Result<Vec<ExpiryResult>, DomainError> {
        if created_before > self.clock.now() {
            return Err(DomainError::Invalid(vec![FieldError {
                attribute: "created_before".to_owned(),
                message: "'#/created_before' is in the future; only applications made before now can expire."
                    .to_owned(),
            }]));
        }
        let limit = limit.clamp(1, MAX_EXPIRIES_PER_CALL);
        // NOTE: an application refused here stays pending and is picked again by the next call, so
        // a thousand refusals in a row would stop later applications expiring. Only a pending
        // application with declarations that lead to payment is refused, which the rules prevent.
        let ids = self.store.stale_pending_applications(created_before, cohort, limit).await?;
        let mut results = Vec::with_capacity(ids.len());
        for id in ids {
            let now = self.clock.now();
            let actor = Actor::Dfe { user: user.to_owned() };
            let rule: DecisionRule = Box::new(move |context| {
                if context.application.status != ApplicationStatus::Pending {
                    return Err(DomainError::Invalid(vec![FieldError {
                        attribute: "application".to_owned(),
                        message: "The application was decided before it could expire.".to_owned(),
                    }]));
                }
                decision::reject_by_dfe(context, &actor, now, DfeRejection::Expired, "stale registration")
            });
            let refused = match self.store.decide(id, None, rule).await {
                Ok(Some(_)) => None,
                Ok(None) => Some(vec![FieldError {
                    attribute: "application".to_owned(),
                    message: "The application no longer exists.".to_owned(),
                }]),
                Err(DomainError::Invalid(errors)) => Some(errors),
                Err(error) => return Err(error),
            };
            results.push(ExpiryResult { application_id: id, refused });
        }
        Ok(results)
    }
}

/// The result of looking up a participant by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParticipantLookup {
    Found(Box<ParticipantView>),
    /// DfE merged this account into another: the change that retired the id comes first, then
    /// every change into the account that replaced it.
    Retired(Vec<ParticipantIdChange>),
}

/// Reads participants as one lead provider sees them, and applies the provider's actions on their
/// training. Each action is one transaction (see [`DecisionStore::decide`]).
#[derive(Debug, Clone)]
pub struct ParticipantService<S, C> {
    store: S,
    clock: C,
}

impl<S: ParticipantRepository + DecisionStore, C: Clock> ParticipantService<S, C> {
    pub fn new(store: S, clock: C) -> Self {
        Self { store, clock }
    }

    /// Returns one page of the lead provider's participants.
    pub async fn list(
        &self,
        lead_provider: LeadProviderId,
        query: &ParticipantQuery,
    ) -> Result<Vec<ParticipantView>, DomainError> {
        let records = self.store.list_participants(lead_provider, query).await?;
        Ok(records.into_iter().map(|record| ParticipantView::new(record, &query.filter)).collect())
    }

    /// Returns one of the lead provider's participants. A retired id is reported whoever asks,
    /// before visibility is checked; another provider's participant is [`DomainError::NotFound`].
    pub async fn show(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
    ) -> Result<ParticipantLookup, DomainError> {
        if let Some((retirement, mut changes)) = self.store.find_retirement(id).await? {
            changes.retain(|change| change != &retirement);
            changes.insert(0, retirement);
            return Ok(ParticipantLookup::Retired(changes));
        }
        let record = self.store.find_participant(lead_provider, id).await?.ok_or(DomainError::NotFound)?;
        Ok(ParticipantLookup::Found(Box::new(ParticipantView::new(record, &ParticipantFilter::default()))))
    }

    /// Finds the enrolment an action applies to, or why there is none.
    async fn target(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
        course: Option<&str>,
        mut errors: Vec<FieldError>,
    ) -> Result<ApplicationId, DomainError> {
        if let Some((retirement, _)) = self.store.find_retirement(id).await? {
            return Err(DomainError::Invalid(vec![retired_participant_error(&retirement)]));
        }
        let record = self.store.find_participant(lead_provider, id).await?.ok_or(DomainError::NotFound)?;
        match parse_course(course) {
            Err(course_error) => errors.insert(0, course_error),
            Ok(course) => match target_enrolment(&record.applications, course) {
                Ok(application) if errors.is_empty() => return Ok(application.id),
                Ok(_) => {}
                Err(missing) => errors.insert(0, missing),
            },
        }
        Err(DomainError::Invalid(errors))
    }

    async fn act(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
        application: ApplicationId,
        rule: DecisionRule,
    ) -> Result<ParticipantView, DomainError> {
        match self.store.decide(application, Some(lead_provider), rule).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(DomainError::NotFound),
            Err(DomainError::Store(StoreError::PlaceTaken)) => {
                return Err(DomainError::Invalid(vec![another_accepted_application_error()]));
            }
            Err(error) => return Err(error),
        }
        let record = self.store.find_participant(lead_provider, id).await?.ok_or(DomainError::NotFound)?;
        Ok(ParticipantView::new(record, &ParticipantFilter::default()))
    }

    /// Defers the participant's training on one course, with a deferral reason.
    pub async fn defer(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
        course: Option<&str>,
        reason: Option<&str>,
    ) -> Result<ParticipantView, DomainError> {
        let reason = parse_deferral_reason(reason);
        let reason_errors = reason.clone().err().into_iter().collect();
        let application = self.target(lead_provider, id, course, reason_errors).await?;
        let change = TrainingChange::Defer(reason.map_err(|error| DomainError::Invalid(vec![error]))?);
        self.training(lead_provider, id, application, course, change).await
    }

    /// Withdraws the participant from one course, with a withdrawal reason.
    pub async fn withdraw(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
        course: Option<&str>,
        reason: Option<&str>,
    ) -> Result<ParticipantView, DomainError> {
        let reason = parse_withdrawal_reason(reason);
        let reason_errors = reason.clone().err().into_iter().collect();
        let application = self.target(lead_provider, id, course, reason_errors).await?;
        let change = TrainingChange::Withdraw(reason.map_err(|error| DomainError::Invalid(vec![error]))?);
        self.training(lead_provider, id, application, course, change).await
    }

    /// Resumes a deferred or withdrawn participant's training on one course.
    pub async fn resume(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
        course: Option<&str>,
    ) -> Result<ParticipantView, DomainError> {
        let application = self.target(lead_provider, id, course, Vec::new()).await?;
        self.training(lead_provider, id, application, course, TrainingChange::Resume).await
    }

    async fn training(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
        application: ApplicationId,
        course: Option<&str>,
        change: TrainingChange,
    ) -> Result<ParticipantView, DomainError> {
        let course = parse_course(course).map_err(|error| DomainError::Invalid(vec![error]))?;
        let now = self.clock.now();
        self.act(
            lead_provider,
            id,
            application,
            Box::new(move |context| {
                crate::participant::change_participant_training(context, lead_provider, course, change, now)
            }),
        )
        .await
    }

    /// Moves the participant's enrolment on one course to another schedule, and to the cohort of
    /// that schedule (see [`crate::participant::change_schedule`]).
    pub async fn change_schedule(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
        course: Option<&str>,
        schedule_identifier: Option<String>,
        cohort: Option<String>,
    ) -> Result<ParticipantView, DomainError> {
        let application = self.target(lead_provider, id, course, Vec::new()).await?;
        let course = parse_course(course).map_err(|error| DomainError::Invalid(vec![error]))?;
        let request = ScheduleChange { course, schedule_identifier, cohort };
        let now = self.clock.now();
        self.act(
            lead_provider,
            id,
            application,
            Box::new(move |context| crate::participant::change_schedule(context, lead_provider, &request, now)),
        )
        .await
    }
}

/// Maximum length of the note DfE staff record with a change, in characters.
pub const MAX_NOTE_LENGTH: usize = 2000;

/// Checks that DfE staff explained a change, briefly enough to keep.
fn require_note(note: &str) -> Result<(), DomainError> {
    if note.chars().count() > MAX_NOTE_LENGTH {
        return Err(DomainError::Invalid(vec![FieldError {
            attribute: "note".to_owned(),
            message: format!("'#/note' is longer than {MAX_NOTE_LENGTH} characters."),
        }]));
    }
    if note.trim().is_empty() {
        return Err(DomainError::Invalid(vec![FieldError {
            attribute: "note".to_owned(),
            message: "Explain the change in '#/note'; it is kept in the application's history.".to_owned(),
        }]));
    }
    Ok(())
}

/// Registers applicants and answers the anonymous funding eligibility check, for the registration
/// front end.
#[derive(Debug, Clone)]
pub struct RegistrationService<S, C> {
    store: S,
    clock: C,
}

impl<S: ReferenceListRepository + RegistrationStore + ApplicationRepository, C: Clock> RegistrationService<S, C> {
    pub fn new(store: S, clock: C) -> Self {
        Self { store, clock }
    }

    /// Returns the cohorts open for registration: those whose registration has started.
    pub async fn open_cohorts(&self) -> Result<Vec<Cohort>, DomainError> {
        let now = self.clock.now();
        let cohorts = self.store.list_cohorts().await?;
        Ok(cohorts.into_iter().filter(|cohort| cohort.registration_start_date <= now).collect())
    }

    /// Returns the courses applicants can choose.
    pub fn courses(&self) -> Vec<Course> {
        Course::ALL.iter().copied().filter(|course| course.offered_in_registration()).collect()
    }

    /// Returns the lead providers an applicant can choose for a course in a cohort open for
    /// registration.
    pub async fn lead_providers(
        &self,
        course: Option<&str>,
        cohort: Option<&str>,
    ) -> Result<Vec<LeadProvider>, DomainError> {
        let mut errors = Vec::new();
        let course = course.map(str::trim).filter(|text| !text.is_empty());
        if let Some(text) = course
            && !text.parse::<Course>().is_ok_and(Course::offered_in_registration)
        {
            errors.push(FieldError {
                attribute: "course".to_owned(),
                message: format!("'{text}' is not a course open for registration."),
            });
        }
        let open = self.open_cohorts().await?;
        let cohort = match cohort.map(str::trim).filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => match text.parse::<CohortIdentifier>() {
                Ok(cohort) if open.iter().any(|candidate| candidate.identifier == cohort) => Some(cohort),
                _ => {
                    errors.push(FieldError {
                        attribute: "cohort".to_owned(),
                        message: format!("'{text}' is not a cohort open for registration."),
                    });
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let cohorts: Vec<CohortIdentifier> = match cohort {
            Some(cohort) => vec![cohort],
            None => open.iter().map(|cohort| cohort.identifier).collect(),
        };
        let mut providers: Vec<LeadProvider> = Vec::new();
        for cohort in cohorts {
            for provider in self.store.lead_providers_in_cohort(cohort).await? {
                if !providers.iter().any(|known| known.id == provider.id) {
                    providers.push(provider);
                }
            }
        }
        providers.sort_by(|left, right| left.name.cmp(&right.name));
        Ok(providers)
    }

    async fn records(&self, answers: &RegistrationAnswers) -> Result<WorkplaceRecords, DomainError> {
        Ok(WorkplaceRecords {
            school: match &answers.school_urn {
                Some(urn) => self.store.find_school(urn).await?,
                None => None,
            },
            childcare_provider: match &answers.private_childcare_provider_urn {
                Some(urn) => self.store.find_childcare_provider(urn).await?,
                None => None,
            },
            itt_provider: match &answers.itt_provider {
                Some(name) => self.store.find_itt_provider(name).await?,
                None => None,
            },
        })
    }

    /// Answers "will DfE fund me?" without registering: validates the answers that decide it and
    /// returns the decision with its explanation. No personal data is taken.
    pub async fn check(&self, form: &RegistrationForm) -> Result<EligibilityDecision, DomainError> {
        let open = self.open_cohorts().await?;
        let answers = form.validate(&open, self.clock.now().date_naive()).map_err(DomainError::Invalid)?;
        let records = self.records(&answers).await?;
        let missing = answers.check_records(&records);
        if !missing.is_empty() {
            return Err(DomainError::Invalid(missing));
        }
        let funding = open
            .iter()
            .find(|cohort| cohort.identifier == answers.cohort)
            .map(|cohort| cohort.funding)
            .ok_or(DomainError::NotFound)?;
        Ok(answers.eligibility(funding, &records, answers.previously_funded))
    }

    /// Registers an applicant: validates their details and answers (an error per field), finds
    /// or creates their account by email address, and stores a pending application with the
    /// chosen lead provider with its funding eligibility. Returns the application as the lead
    /// provider sees it, and whether it was created now (false for a repeated idempotency key).
    pub async fn register(
        &self,
        applicant: &ApplicantForm,
        form: &RegistrationForm,
        lead_provider: Option<&str>,
        idempotency_key: Option<String>,
    ) -> Result<(ApplicationView, bool), DomainError> {
        let now = self.clock.now();
        let open = self.open_cohorts().await?;
        let mut errors = Vec::new();
        let applicant = applicant.validate(now.date_naive()).map_err(|mut invalid| errors.append(&mut invalid)).ok();
        let answers = form.validate(&open, now.date_naive()).map_err(|mut invalid| errors.append(&mut invalid)).ok();
        let provider = match lead_provider.map(str::trim).filter(|text| !text.is_empty()) {
            None => {
                errors.push(FieldError {
                    attribute: "lead_provider_id".to_owned(),
                    message: "Choose a lead provider in '#/lead_provider_id'.".to_owned(),
                });
                None
            }
            Some(text) => match text.parse::<LeadProviderId>() {
                Ok(id) => Some(id),
                Err(error) => {
                    errors.push(FieldError { attribute: "lead_provider_id".to_owned(), message: error.to_string() });
                    None
                }
            },
        };
        let (Some(applicant), Some(answers), Some(provider)) = (applicant, answers, provider) else {
            return Err(DomainError::Invalid(errors));
        };
        if !self.store.lead_providers_in_cohort(answers.cohort).await?.iter().any(|known| known.id == provider) {
            return Err(DomainError::Invalid(vec![FieldError {
                attribute: "lead_provider_id".to_owned(),
                message: format!("This lead provider does not deliver NPQs in cohort {}.", answers.cohort),
            }]));
        }
        let records = self.records(&answers).await?;
        let missing = answers.check_records(&records);
        if !missing.is_empty() {
            return Err(DomainError::Invalid(missing));
        }
        let cohort =
            open.into_iter().find(|cohort| cohort.identifier == answers.cohort).ok_or(DomainError::NotFound)?;
        let idempotency = idempotency_key.map(|key| {
            use sha2::Digest;
            let request = format!("{applicant:?}|{answers:?}|{provider}");
            Idempotency { key, fingerprint: hex::encode(sha2::Sha256::digest(request.as_bytes())) }
        });
        let rule: RegistrationRule = Box::new(move |context| {
            let previously_funded =
                context.applications.iter().any(|other| other.counts_as_funding_for(answers.course));
            let decision = answers.eligibility(cohort.funding, &records, previously_funded);
            if !decision.eligible && answers.funding_choice.is_none() {
                return Err(DomainError::Invalid(vec![FieldError {
                    attribute: "funding_choice".to_owned(),
                    message: format!(
                        "{} Say who will pay in '#/funding_choice': one of {}.",
                        decision.explanation,
                        FundingChoice::NAMES.join(", ")
                    ),
                }]));
            }
            Ok(new_application(&answers, &context.person, &cohort, provider, &records, &decision, now))
        });
        let registered = self.store.register(new_person(&applicant, now), idempotency, rule).await?;
        let (application, person) =
            self.store.find_application(provider, registered.application).await?.ok_or_else(|| {
                DomainError::Store(StoreError::Other("a registered application was not found".to_owned()))
            })?;
        let history = self.store.funding_history(&[application.participant_id]).await?;
        Ok((ApplicationView::new(application, person, &history), registered.created))
    }
}

/// Reads a training status and reason as sent by DfE staff.
fn parse_training_change(status: &str, reason: Option<&str>) -> Result<TrainingChange, DomainError> {
    let invalid = |attribute: &str, message: String| {
        DomainError::Invalid(vec![FieldError { attribute: attribute.to_owned(), message }])
    };
    let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
    match status.trim().parse::<TrainingStatus>() {
        Ok(TrainingStatus::Active) => Ok(TrainingChange::Resume),
        Ok(TrainingStatus::Deferred) => {
            reason.and_then(|reason| reason.parse::<DeferralReason>().ok()).map(TrainingChange::Defer).ok_or_else(
                || invalid("reason", format!("Give a deferral reason: one of {}.", DeferralReason::NAMES.join(", "))),
            )
        }
        Ok(TrainingStatus::Withdrawn) => reason
            .and_then(|reason| reason.parse::<WithdrawalReason>().ok())
            .map(TrainingChange::Withdraw)
            .ok_or_else(|| {
                invalid("reason", format!("Give a withdrawal reason: one of {}.", WithdrawalReason::NAMES.join(", ")))
            }),
        Err(_) => Err(invalid(
            "training_status",
            format!("The training status must be one of {}.", TrainingStatus::NAMES.join(", ")),
        )),
    }
}

/// How long a token's `last_used_at` may lag behind its real last use. Recording every request
/// would turn each read into a write; to the minute is precise enough to audit token use.
pub const TOKEN_USE_RESOLUTION: Duration = Duration::minutes(1);

/// Returns whether a token last recorded as used at `last_used_at` must be recorded again at `now`.
pub fn token_use_needs_recording(last_used_at: Option<Timestamp>, now: Timestamp) -> bool {
    match last_used_at {
        None => true,
        Some(last) => now - last >= TOKEN_USE_RESOLUTION || now < last,
    }
}

/// Checks presented tokens and issues new ones.
#[derive(Debug, Clone)]
pub struct TokenService<R, C> {
    repository: R,
    key: TokenKey,
    clock: C,
}

/// Error from issuing a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueTokenError {
    #[error("no lead provider is named '{name}'; known lead providers: {}", known.join(", "))]
    UnknownLeadProvider { name: String, known: Vec<String> },
    #[error(
        "no lead provider is named '{name}' because the database has no lead providers yet: start the server once, or run `npq-server seed`, on the same database"
    )]
    NoLeadProviders { name: String },
    #[error("an admin token needs the name of the DfE staff member it is for")]
    MissingUser,
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl<R: TokenRepository + LeadProviderRepository, C: Clock> TokenService<R, C> {
    pub fn new(repository: R, key: TokenKey, clock: C) -> Self {
        Self { repository, key, clock }
    }

    /// Returns the stored token matching a presented one of `scope`, recording its use at most once
    /// a minute. A missing, unknown or other-scope token is [`DomainError::Unauthenticated`].
    async fn authenticated(&self, presented: &PlainToken, scope: TokenScope) -> Result<ApiToken, DomainError> {
        let digest = self.key.digest(presented.expose());
        let token = self.repository.find_token_by_digest(&digest).await?.ok_or(DomainError::Unauthenticated)?;
        if !token.digest.matches(&digest) || token.scope != scope {
            return Err(DomainError::Unauthenticated);
        }
        let now = self.clock.now();
        // Recording the use is an audit aid: when the write fails (a busy or read-only database), the
        // request still proceeds and the failure is logged.
        if token_use_needs_recording(token.last_used_at, now)
            && let Err(error) = self.repository.record_token_use(token.id, now).await
        {
            tracing::warn!(token_id = %token.id, %error, "could not record the token's use");
        }
        Ok(token)
    }

    /// Returns the lead provider a presented token acts for. A missing, unknown or non-lead
    /// provider token is [`DomainError::Unauthenticated`]. Records the use at most once a minute.
    pub async fn authenticate_lead_provider(&self, presented: &PlainToken) -> Result<LeadProviderId, DomainError> {
        let token = self.authenticated(presented, TokenScope::LeadProvider).await?;
        token.lead_provider.ok_or(DomainError::Unauthenticated)
    }

    /// Returns the DfE staff member an admin token belongs to, as named when it was issued. Any
    /// other token is [`DomainError::Unauthenticated`].
    pub async fn authenticate_admin(&self, presented: &PlainToken) -> Result<String, DomainError> {
        let token = self.authenticated(presented, TokenScope::Admin).await?;
        Ok(token.description.unwrap_or_else(|| format!("DfE user of token {}", token.id)))
    }

    /// Checks a registration front end token. Any other token is [`DomainError::Unauthenticated`].
    pub async fn authenticate_registration(&self, presented: &PlainToken) -> Result<(), DomainError> {
        self.authenticated(presented, TokenScope::Registration).await.map(|_| ())
    }

    /// Creates a token for the registration front end and returns it with its plain text, which is
    /// never available again.
    pub async fn issue_registration_token(
        &self,
        description: Option<String>,
        rng: &mut impl RngCore,
    ) -> Result<(ApiToken, PlainToken), IssueTokenError> {
        let plain = PlainToken::generate(rng);
        let token = ApiToken {
            id: ApiTokenId::new_random(),
            scope: TokenScope::Registration,
            lead_provider: None,
            digest: self.key.digest(plain.expose()),
            description,
            created_at: self.clock.now(),
            last_used_at: None,
        };
        self.repository.insert_token(&token).await?;
        Ok((token, plain))
    }

    /// Creates an admin token for the named DfE staff member, whose name is recorded with every
    /// change they make, and returns it with its plain text, which is never available again.
    pub async fn issue_admin_token(
        &self,
        user: &str,
        rng: &mut impl RngCore,
    ) -> Result<(ApiToken, PlainToken), IssueTokenError> {
        let user = user.trim();
        if user.is_empty() {
            return Err(IssueTokenError::MissingUser);
        }
        let plain = PlainToken::generate(rng);
        let token = ApiToken {
            id: ApiTokenId::new_random(),
            scope: TokenScope::Admin,
            lead_provider: None,
            digest: self.key.digest(plain.expose()),
            description: Some(user.to_owned()),
            created_at: self.clock.now(),
            last_used_at: None,
        };
        self.repository.insert_token(&token).await?;
        Ok((token, plain))
    }

    /// Creates a token for the lead provider with exactly this name, stores its digest and returns
    /// the stored token with its plain text, which is never available again.
    pub async fn issue_lead_provider_token(
        &self,
        lead_provider_name: &str,
        description: Option<String>,
        rng: &mut impl RngCore,
    ) -> Result<(ApiToken, LeadProvider, PlainToken), IssueTokenError> {
        let Some(lead_provider) = self.repository.find_lead_provider_by_name(lead_provider_name).await? else {
            let known: Vec<String> =
                self.repository.list_lead_providers().await?.into_iter().map(|provider| provider.name).collect();
            let name = lead_provider_name.to_owned();
            return Err(if known.is_empty() {
                IssueTokenError::NoLeadProviders { name }
            } else {
                IssueTokenError::UnknownLeadProvider { name, known }
            });
        };
        let plain = PlainToken::generate(rng);
        let token = ApiToken {
            id: ApiTokenId::new_random(),
            scope: TokenScope::LeadProvider,
            lead_provider: Some(lead_provider.id),
            digest: self.key.digest(plain.expose()),
            description,
            created_at: self.clock.now(),
            last_used_at: None,
        };
        self.repository.insert_token(&token).await?;
        Ok((token, lead_provider, plain))
    }
}

/// Allow-lists: the networks each lead provider's requests may come from.
impl<R: TokenRepository + LeadProviderRepository, C: Clock> TokenService<R, C> {
    /// Checks a request of `lead_provider` from `client` against the provider's allow-list. An
    /// empty list allows any address. A non-empty list refuses a request from an address outside it,
    /// or whose address is unknown, with [`DomainError::AddressNotAllowed`].
    pub async fn check_client_address(
        &self,
        lead_provider: LeadProviderId,
        client: Option<std::net::IpAddr>,
    ) -> Result<(), DomainError> {
        // The token named the provider, so a missing provider means it was deleted since.
        let networks = self.repository.allowed_networks(lead_provider).await?.ok_or(DomainError::Unauthenticated)?;
        match client {
            _ if networks.is_unrestricted() => Ok(()),
            Some(address) if networks.permits(address) => Ok(()),
            _ => Err(DomainError::AddressNotAllowed(client.map(|address| address.to_canonical()))),
        }
    }

    /// Returns the lead provider's allow-list, or [`DomainError::NotFound`] when no lead provider
    /// has this id.
    pub async fn allowed_networks(
        &self,
        lead_provider: LeadProviderId,
    ) -> Result<crate::network::AllowList, DomainError> {
        self.repository.allowed_networks(lead_provider).await?.ok_or(DomainError::NotFound)
    }

    /// Replaces the lead provider's allow-list and returns it as stored; an empty list removes the
    /// restriction. [`DomainError::NotFound`] when no lead provider has this id.
    pub async fn set_allowed_networks(
        &self,
        lead_provider: LeadProviderId,
        networks: crate::network::AllowList,
    ) -> Result<crate::network::AllowList, DomainError> {
        if !self.repository.set_allowed_networks(lead_provider, &networks).await? {
            return Err(DomainError::NotFound);
        }
        Ok(networks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::ApplicationStatus;
    use crate::application::tests::{sample_application, sample_person};
    use crate::course::Course;
    use crate::testing::{FixedClock, MemoryStore, block_on};
    use chrono::TimeZone;
    use rand::SeedableRng;
    use std::sync::Mutex;

    fn at(hour: u32, minute: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 1, 5, hour, minute, 0).unwrap()
    }

    fn provider(name: &str) -> LeadProvider {
        crate::testing::lead_provider(name)
    }

    fn token_service(store: std::sync::Arc<MemoryStore>) -> TokenService<std::sync::Arc<MemoryStore>, FixedClock> {
        TokenService::new(store, TokenKey::derive(&[1u8; 32]).unwrap(), FixedClock(at(10, 0)))
    }

    #[test]
    fn issued_token_authenticates_as_its_lead_provider() {
        let store =
            std::sync::Arc::new(MemoryStore { providers: vec![provider("Teach First")], ..MemoryStore::default() });
        let service = token_service(store.clone());
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let (token, lead_provider, plain) =
            block_on(service.issue_lead_provider_token("Teach First", None, &mut rng)).unwrap();
        assert_eq!(token.lead_provider, Some(lead_provider.id));
        assert_eq!(block_on(service.authenticate_lead_provider(&plain)), Ok(lead_provider.id));
        assert_eq!(store.tokens.lock().unwrap()[0].last_used_at, Some(at(10, 0)));
    }

    #[test]
    fn failed_use_recording_still_authenticates() {
        let store =
            std::sync::Arc::new(MemoryStore { providers: vec![provider("Teach First")], ..MemoryStore::default() });
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let (_, lead_provider, plain) =
            block_on(token_service(store).issue_lead_provider_token("Teach First", None, &mut rng)).unwrap();
        let failing = std::sync::Arc::new(MemoryStore {
            providers: vec![lead_provider.clone()],
            fail_token_use: true,
            ..MemoryStore::default()
        });
        let service = token_service(failing.clone());
        let token = ApiToken {
            id: ApiTokenId::new_random(),
            scope: TokenScope::LeadProvider,
            lead_provider: Some(lead_provider.id),
            digest: TokenKey::derive(&[1u8; 32]).unwrap().digest(plain.expose()),
            description: None,
            created_at: at(9, 0),
            last_used_at: None,
        };
        failing.tokens.lock().unwrap().push(token);
        assert_eq!(block_on(service.authenticate_lead_provider(&plain)), Ok(lead_provider.id));
    }

    #[test]
    fn unknown_token_is_unauthenticated() {
        let store = std::sync::Arc::new(MemoryStore::default());
        let service = token_service(store);
        assert_eq!(
            block_on(service.authenticate_lead_provider(&PlainToken::presented("nope"))),
            Err(DomainError::Unauthenticated)
        );
    }

    #[test]
    fn token_of_another_scope_is_unauthenticated() {
        let store = std::sync::Arc::new(MemoryStore::default());
        let service = token_service(store.clone());
        let plain = PlainToken::presented("registration-token");
        store.tokens.lock().unwrap().push(ApiToken {
            id: ApiTokenId::new_random(),
            scope: TokenScope::Registration,
            lead_provider: None,
            digest: TokenKey::derive(&[1u8; 32]).unwrap().digest(plain.expose()),
            description: None,
            created_at: at(9, 0),
            last_used_at: None,
        });
        assert_eq!(block_on(service.authenticate_lead_provider(&plain)), Err(DomainError::Unauthenticated));
    }

    #[test]
    fn unknown_lead_provider_error_lists_known_names() {
        let store =
            std::sync::Arc::new(MemoryStore { providers: vec![provider("Teach First")], ..MemoryStore::default() });
        let service = token_service(store);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let error = block_on(service.issue_lead_provider_token("Teach Last", None, &mut rng)).unwrap_err();
        assert!(error.to_string().contains("Teach First"), "{error}");
    }

    #[test]
    fn empty_database_token_error_advises_seeding() {
        let service = token_service(std::sync::Arc::new(MemoryStore::default()));
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let error = block_on(service.issue_lead_provider_token("Teach First", None, &mut rng)).unwrap_err();
        assert!(matches!(error, IssueTokenError::NoLeadProviders { .. }), "{error}");
        assert!(error.to_string().contains("npq-server seed"), "{error}");
    }

    #[test]
    fn token_use_recorded_once_a_minute() {
        assert!(token_use_needs_recording(None, at(10, 0)));
        assert!(!token_use_needs_recording(Some(at(10, 0)), at(10, 0)));
        assert!(token_use_needs_recording(Some(at(10, 0)), at(10, 1)));
        assert!(token_use_needs_recording(Some(at(10, 1)), at(10, 0)), "a clock that went back is recorded");
    }

    #[test]
    fn show_hides_other_providers_applications() {
        let person = sample_person();
        let application = sample_application(&person, Course::Headship);
        let owner = application.lead_provider_id;
        let id = application.id;
        let service = ApplicationService::new(MemoryStore {
            applications: Mutex::new(vec![(application, person)]),
            ..MemoryStore::default()
        });
        assert!(block_on(service.show(owner, id)).is_ok());
        assert_eq!(block_on(service.show(LeadProviderId::new_random(), id)), Err(DomainError::NotFound));
    }

    #[test]
    fn list_marks_previously_funded_applications() {
        let person = sample_person();
        let mut earlier = sample_application(&person, Course::Headship);
        earlier.status = ApplicationStatus::Accepted;
        let mut later = sample_application(&person, Course::Headship);
        later.lead_provider_id = earlier.lead_provider_id;
        let provider = earlier.lead_provider_id;
        let service = ApplicationService::new(MemoryStore {
            applications: Mutex::new(vec![(earlier, person.clone()), (later.clone(), person)]),
            ..MemoryStore::default()
        });
        let views = block_on(service.list(provider, &ApplicationQuery::default())).unwrap();
        let later_view = views.iter().find(|view| view.application.id == later.id).unwrap();
        assert!(!later_view.eligible_for_funding);
        let earlier_view = views.iter().find(|view| view.application.id != later.id).unwrap();
        assert!(earlier_view.eligible_for_funding);
    }
}
