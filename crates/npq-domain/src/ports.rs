//! Ports: what the services need from the outside world. Stores implement them; tests may use
//! in-memory fakes.
//!
//! Every method that reads records for a lead provider takes that provider's id and MUST return
//! only records the provider may see. Reads return `Ok(None)` or an empty list for records that do
//! not exist, and `Err` only when the store failed.

use std::sync::Arc;

use async_trait::async_trait;

use crate::application::{Application, FundingHistoryEntry};
use crate::auth::{ApiToken, TokenDigest};
use crate::cohort::{Cohort, CohortIdentifier};
use crate::decision::{DecisionContext, HistoryEntry, Outcome};
use crate::declaration::SequencingFrom;
use crate::declaration_actions::{
    CompletedDeclaration, Declaration, DeclarationQuery, OutcomePlan, OutcomeQuery, ParticipantOutcome,
    PartnerChangeContext, PartnerChangePlan, SubmissionContext, SubmissionPlan, VoidPlan,
};
use crate::error::DomainError;
use crate::identifiers::{OfstedUrn, SchoolUrn};
use crate::ids::{
    ApiTokenId, ApplicationId, DeclarationId, DeliveryPartnerId, LeadProviderId, ParticipantId, StatementId,
};
use crate::listing::{ApplicationQuery, DeliveryPartnerQuery};
use crate::network::AllowList;
use crate::participant::{MergeContext, MergeOutcome, ParticipantIdChange, ParticipantQuery, ParticipantRecord};
use crate::person::Person;
use crate::provider::{DeliveryPartnerView, LeadProvider};
use crate::registration::{ChildcareProviderRecord, IttProviderRecord, SchoolRecord};
use crate::statement::Statement;
use crate::statement_actions::{
    NewStatementContext, StatementChange, StatementContents, StatementPlan, StatementQuery,
};
use crate::{StoreError, Timestamp};

/// Reads applications.
#[async_trait]
pub trait ApplicationRepository: Send + Sync {
    /// Returns one page of the lead provider's applications, each with its person, in the
    /// query's order followed by insertion order.
    async fn list_applications(
        &self,
        lead_provider: LeadProviderId,
        query: &ApplicationQuery,
    ) -> Result<Vec<(Application, Person)>, StoreError>;

    /// Returns one of the lead provider's applications with its person.
    async fn find_application(
        &self,
        lead_provider: LeadProviderId,
        id: ApplicationId,
    ) -> Result<Option<(Application, Person)>, StoreError>;

    /// Returns the accepted applications of these people with every lead provider. Used to decide
    /// whether a person was funded before; the entries carry no other provider's data.
    async fn funding_history(&self, people: &[ParticipantId]) -> Result<Vec<FundingHistoryEntry>, StoreError>;
}

/// A decision rule, run by [`DecisionStore::decide`] on the context it loads.
pub type DecisionRule = Box<dyn FnOnce(&DecisionContext) -> Result<Outcome, DomainError> + Send>;

/// A merge rule, run by [`DecisionStore::merge_accounts`] on the context it loads.
pub type MergeRule = Box<dyn FnOnce(&MergeContext) -> Result<MergeOutcome, DomainError> + Send>;

/// Applies decisions on applications, each in one transaction.
#[async_trait]
pub trait DecisionStore: Send + Sync {
    /// Loads the [`DecisionContext`] of application `id`, runs `rule` on it and applies the
    /// outcome: the changed applications, their history, and the new `updated_at` of every
    /// application of the touched people. Loading, deciding and writing form one transaction, and
    /// decisions about the same person are serialised, so a rule never decides on stale data.
    ///
    /// With `visible_to` set, only that lead provider's application is found. Returns `Ok(None)`
    /// when no application is found; the rule's error unchanged when it refuses; and
    /// [`StoreError::PlaceTaken`] when the outcome would give a person a second live place on a
    /// course in a cohort, which the database refuses even when two decisions race.
    async fn decide(
        &self,
        id: ApplicationId,
        visible_to: Option<LeadProviderId>,
        rule: DecisionRule,
    ) -> Result<Option<Outcome>, DomainError>;

    /// Loads both accounts and their applications, runs `rule` and applies its outcome in one
    /// transaction: the applications move to the kept account, the retired id is recorded as
    /// replaced (with every earlier change into the retired account), the retired account is
    /// marked as merged, and the kept person's applications and participants show a new
    /// `updated_at`. Returns `Ok(None)` when either account does not exist.
    async fn merge_accounts(
        &self,
        kept: ParticipantId,
        retired: ParticipantId,
        rule: MergeRule,
    ) -> Result<Option<MergeOutcome>, DomainError>;

    /// Returns any application with its person, whatever its lead provider. For DfE staff only.
    async fn find_any_application(&self, id: ApplicationId) -> Result<Option<(Application, Person)>, StoreError>;

    /// Returns the ids of pending applications created before `created_before`, oldest first,
    /// optionally only in one cohort, at most `limit` of them.
    async fn stale_pending_applications(
        &self,
        created_before: Timestamp,
        cohort: Option<CohortIdentifier>,
        limit: u32,
    ) -> Result<Vec<ApplicationId>, StoreError>;

    /// Returns the recorded changes of an application, oldest first.
    async fn application_history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError>;
}

/// A submission rule, run by [`DeclarationStore::submit_declaration`] on the context it loads.
pub type SubmissionRule = Box<dyn FnOnce(&SubmissionContext) -> Result<SubmissionPlan, DomainError> + Send>;

/// A void rule, run by [`DeclarationStore::void_declaration`] on the declaration and the
/// provider's next open output statement for its cohort.
pub type VoidRule = Box<dyn FnOnce(&Declaration, Option<StatementId>) -> Result<VoidPlan, DomainError> + Send>;

/// A partner change rule, run by [`DeclarationStore::change_delivery_partners`].
pub type PartnerChangeRule = Box<dyn FnOnce(&PartnerChangeContext) -> Result<PartnerChangePlan, DomainError> + Send>;

/// An outcome rule, run by [`DeclarationStore::record_outcome`] on the participant's completed
/// declarations that the provider made or whose application it now holds.
pub type OutcomeRule = Box<dyn FnOnce(&[CompletedDeclaration]) -> Result<OutcomePlan, DomainError> + Send>;

/// Stores declarations and participant outcomes. Every write loads its context, runs its rule and
/// writes the plan in one transaction; writes about one person are serialised, and a second live
/// declaration of one type on one application is refused by the database even when two requests
/// race.
///
/// A lead provider sees a declaration it made, and every declaration on an application it now
/// holds (including those its predecessor made before a transfer).
#[async_trait]
pub trait DeclarationStore: Send + Sync {
    /// Loads the [`SubmissionContext`] of a new declaration by `lead_provider` for `participant`
    /// (`None` when the request names none), checking which of `partners` exist, runs `rule` and
    /// stores the declaration with its statement line and outcome. Returns the stored declaration.
    /// A race lost to an identical declaration is the rule's own "already exists" error.
    async fn submit_declaration(
        &self,
        lead_provider: LeadProviderId,
        participant: Option<ParticipantId>,
        partners: Vec<DeliveryPartnerId>,
        now: Timestamp,
        sequencing: SequencingFrom,
        rule: SubmissionRule,
    ) -> Result<Declaration, DomainError>;

    /// Returns one page of the declarations the lead provider can read, oldest first.
    async fn list_declarations(
        &self,
        lead_provider: LeadProviderId,
        query: &DeclarationQuery,
    ) -> Result<Vec<Declaration>, StoreError>;

    /// Returns a declaration the lead provider can read.
    async fn find_declaration(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
    ) -> Result<Option<Declaration>, StoreError>;

    /// Voids a declaration the lead provider can read: runs `rule` on it and writes the plan.
    /// Returns `Ok(None)` when the provider cannot read it.
    async fn void_declaration(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        now: Timestamp,
        rule: VoidRule,
    ) -> Result<Option<Declaration>, DomainError>;

    /// Changes the delivery partners of a declaration the lead provider sees, checking which of
    /// `partners` exist. `Ok(None)` when the provider does not see it.
    async fn change_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        partners: Vec<DeliveryPartnerId>,
        now: Timestamp,
        rule: PartnerChangeRule,
    ) -> Result<Option<Declaration>, DomainError>;

    /// Records an outcome for the lead provider's participant. `Ok(None)` when the person is not
    /// the provider's participant.
    async fn record_outcome(
        &self,
        lead_provider: LeadProviderId,
        participant: ParticipantId,
        now: Timestamp,
        rule: OutcomeRule,
    ) -> Result<Option<ParticipantOutcome>, DomainError>;

    /// Returns one page of the outcomes of declarations the lead provider made, oldest first.
    async fn list_outcomes(
        &self,
        lead_provider: LeadProviderId,
        query: &OutcomeQuery,
    ) -> Result<Vec<ParticipantOutcome>, StoreError>;
}

/// A rule that builds a new statement, run by [`StatementStore::create_statement`] on the context
/// it loads.
pub type NewStatementRule = Box<dyn FnOnce(&NewStatementContext) -> Result<Statement, DomainError> + Send>;

/// A rule that plans a change to a statement, run by [`StatementStore::change_statement`] on the
/// statement's contents.
pub type StatementRule = Box<dyn FnOnce(&StatementContents) -> Result<StatementPlan, DomainError> + Send>;

/// Stores statements with their contracts, adjustments and items, and moves them towards payment.
///
/// Lead providers see only their own statements with output fees. Every write loads its context,
/// runs its rule and writes the plan in one transaction, and two changes to one statement run one
/// after the other, so a rule never decides on stale contents.
#[async_trait]
pub trait StatementStore: Send + Sync {
    /// Returns one page of the lead provider's statements with output fees, by payment date
    /// (statements without one last), then insertion order.
    async fn list_statements(
        &self,
        lead_provider: LeadProviderId,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError>;

    /// Returns one of the lead provider's statements with output fees.
    async fn find_statement(
        &self,
        lead_provider: LeadProviderId,
        id: StatementId,
    ) -> Result<Option<Statement>, StoreError>;

    /// Returns one page of all statements, with or without output fees, of one lead provider or
    /// of all, in the order of [`StatementStore::list_statements`]. For DfE staff only.
    async fn list_all_statements(
        &self,
        lead_provider: Option<LeadProviderId>,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError>;

    /// Returns any statement with its contracts, items and adjustments. Each refundable item
    /// carries what the declaration was paid. For DfE staff only.
    async fn statement_contents(&self, id: StatementId) -> Result<Option<StatementContents>, StoreError>;

    /// Returns every open statement, with or without output fees, for the deadline job.
    async fn open_statements(&self) -> Result<Vec<Statement>, StoreError>;

    /// Loads the [`NewStatementContext`] of a statement for `lead_provider` and `cohort`, runs
    /// `rule` and stores the statement it builds. A second statement for the same lead provider,
    /// cohort and month is rejected even when two requests race.
    async fn create_statement(
        &self,
        lead_provider: LeadProviderId,
        cohort: CohortIdentifier,
        rule: NewStatementRule,
    ) -> Result<Statement, DomainError>;

    /// Loads the statement's contents, runs `rule` and writes its plan in one transaction, with
    /// `now` as the time of every row it writes. Changes to one statement are serialised, and so
    /// are the declarations a transition moves. A transition also sets the `updated_at` of each
    /// declaration it moves. Returns the plan written and the contents afterwards, or `Ok(None)`
    /// when no statement has the id.
    async fn change_statement(
        &self,
        id: StatementId,
        now: Timestamp,
        rule: StatementRule,
    ) -> Result<Option<StatementChange>, DomainError>;
}

/// Reads participants: people with an accepted application with the lead provider.
#[async_trait]
pub trait ParticipantRepository: Send + Sync {
    /// Returns one page of the lead provider's participants, in the query's order followed by the
    /// order in which they became the provider's participants.
    async fn list_participants(
        &self,
        lead_provider: LeadProviderId,
        query: &ParticipantQuery,
    ) -> Result<Vec<ParticipantRecord>, StoreError>;

    /// Returns one of the lead provider's participants.
    async fn find_participant(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
    ) -> Result<Option<ParticipantRecord>, StoreError>;

    /// Returns the change that retired `id`, if DfE merged that account into another, with every
    /// change into the account that replaced it, newest first.
    async fn find_retirement(
        &self,
        id: ParticipantId,
    ) -> Result<Option<(ParticipantIdChange, Vec<ParticipantIdChange>)>, StoreError>;
}

/// Reads the delivery partners a lead provider works with: those with a delivery partnership with
/// the provider in at least one cohort.
#[async_trait]
pub trait DeliveryPartnerRepository: Send + Sync {
    /// Returns one page of the lead provider's delivery partners, each once, in the query's order
    /// followed by insertion order. Each view lists the cohorts of every partnership with the
    /// provider, whatever the cohort filter.
    async fn list_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        query: &DeliveryPartnerQuery,
    ) -> Result<Vec<DeliveryPartnerView>, StoreError>;

    /// Returns one of the lead provider's delivery partners.
    async fn find_delivery_partner(
        &self,
        lead_provider: LeadProviderId,
        id: DeliveryPartnerId,
    ) -> Result<Option<DeliveryPartnerView>, StoreError>;
}

/// Reads the reference data registration needs: cohorts, workplaces and their lists, and which
/// lead providers deliver in a cohort.
#[async_trait]
pub trait ReferenceListRepository: Send + Sync {
    /// Returns every cohort, oldest first.
    async fn list_cohorts(&self) -> Result<Vec<Cohort>, StoreError>;

    /// Returns the school or college with this URN.
    async fn find_school(&self, urn: &SchoolUrn) -> Result<Option<SchoolRecord>, StoreError>;

    /// Returns the private childcare provider with this Ofsted URN.
    async fn find_childcare_provider(&self, urn: &OfstedUrn) -> Result<Option<ChildcareProviderRecord>, StoreError>;

    /// Returns the teacher training provider with exactly this legal name, ignoring case.
    async fn find_itt_provider(&self, legal_name: &str) -> Result<Option<IttProviderRecord>, StoreError>;

    /// Returns the lead providers that deliver in this cohort (they have a delivery partnership in
    /// it), by name.
    async fn lead_providers_in_cohort(&self, cohort: CohortIdentifier) -> Result<Vec<LeadProvider>, StoreError>;
}

/// What a registration rule reads: the applicant's account (new or existing) and its applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationContext {
    pub person: Person,
    pub applications: Vec<Application>,
}

/// A registration rule, run by [`RegistrationStore::register`]: builds the new application.
pub type RegistrationRule = Box<dyn FnOnce(&RegistrationContext) -> Result<Application, DomainError> + Send>;

/// The key a client sent to make retries of a registration safe, with a fingerprint of what the
/// request asked for, so that reusing the key for a different registration is noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    /// A digest of the validated request.
    pub fingerprint: String,
}

/// Returns the error for a key reused with a different registration.
pub fn idempotency_key_reused() -> DomainError {
    DomainError::Invalid(vec![crate::error::FieldError {
        attribute: "Idempotency-Key".to_owned(),
        message:
            "This Idempotency-Key was already used for a different registration; use a new key for each registration."
                .to_owned(),
    }])
}

/// The outcome of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    pub application: ApplicationId,
    /// False when the idempotency key was used before, and `application` is the first result.
    pub created: bool,
}

/// Stores registrations, each in one transaction.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Finds the account with the applicant's email address, or creates `new_person`, runs `rule`
    /// on it and its applications, and stores the application the rule builds. With an
    /// idempotency key used before for the same request (same fingerprint), returns the first
    /// registration's application and changes nothing; for a different request, the error of
    /// [`idempotency_key_reused`]. Two registrations racing with one key store one application.
    async fn register(
        &self,
        new_person: Person,
        idempotency: Option<Idempotency>,
        rule: RegistrationRule,
    ) -> Result<Registered, DomainError>;
}

/// Stores API tokens by digest.
#[async_trait]
pub trait TokenRepository: Send + Sync {
    /// Returns the token with this digest.
    async fn find_token_by_digest(&self, digest: &TokenDigest) -> Result<Option<ApiToken>, StoreError>;

    /// Records that the token was used at `at`.
    async fn record_token_use(&self, id: ApiTokenId, at: Timestamp) -> Result<(), StoreError>;

    /// Stores a new token. A digest that is already stored is a [`StoreError::Conflict`].
    async fn insert_token(&self, token: &ApiToken) -> Result<(), StoreError>;
}

/// Reads lead providers.
#[async_trait]
pub trait LeadProviderRepository: Send + Sync {
    /// Returns the lead provider with exactly this name.
    async fn find_lead_provider_by_name(&self, name: &str) -> Result<Option<LeadProvider>, StoreError>;

    /// Returns every lead provider, by name.
    async fn list_lead_providers(&self) -> Result<Vec<LeadProvider>, StoreError>;

    /// Returns the networks the lead provider's requests may come from, or `None` when no lead
    /// provider has this id. An empty list places no restriction.
    async fn allowed_networks(&self, id: LeadProviderId) -> Result<Option<AllowList>, StoreError>;

    /// Replaces the lead provider's allow-list; an empty list removes the restriction. Returns
    /// `false` when no lead provider has this id.
    async fn set_allowed_networks(&self, id: LeadProviderId, networks: &AllowList) -> Result<bool, StoreError>;
}

/// The database's health, for readiness checks and metrics.
#[async_trait]
pub trait DatabaseHealth: Send + Sync {
    /// Checks that the database responds to a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Returns the figures of the connection pool, or `None` when the store has no pool.
    fn pool_status(&self) -> Option<PoolStatus>;
}

/// Figures of a database connection pool at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Open connections that no request is using.
    pub idle: u32,
    /// Maximum number of connections the pool opens.
    pub max: u32,
}

/// The current time. Services read it through this port so tests can fix it.
pub trait Clock: Send + Sync {
    /// Returns the current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

impl<T: Clock + ?Sized> Clock for Arc<T> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

#[async_trait]
impl<T: ApplicationRepository + ?Sized> ApplicationRepository for Arc<T> {
    async fn list_applications(
        &self,
        lead_provider: LeadProviderId,
        query: &ApplicationQuery,
    ) -> Result<Vec<(Application, Person)>, StoreError> {
        (**self).list_applications(lead_provider, query).await
    }

    async fn find_application(
        &self,
        lead_provider: LeadProviderId,
        id: ApplicationId,
    ) -> Result<Option<(Application, Person)>, StoreError> {
        (**self).find_application(lead_provider, id).await
    }

    async fn funding_history(&self, people: &[ParticipantId]) -> Result<Vec<FundingHistoryEntry>, StoreError> {
        (**self).funding_history(people).await
    }
}

#[async_trait]
impl<T: DecisionStore + ?Sized> DecisionStore for Arc<T> {
    async fn decide(
        &self,
        id: ApplicationId,
        visible_to: Option<LeadProviderId>,
        rule: DecisionRule,
    ) -> Result<Option<Outcome>, DomainError> {
        (**self).decide(id, visible_to, rule).await
    }

    async fn merge_accounts(
        &self,
        kept: ParticipantId,
        retired: ParticipantId,
        rule: MergeRule,
    ) -> Result<Option<MergeOutcome>, DomainError> {
        (**self).merge_accounts(kept, retired, rule).await
    }

    async fn find_any_application(&self, id: ApplicationId) -> Result<Option<(Application, Person)>, StoreError> {
        (**self).find_any_application(id).await
    }

    async fn stale_pending_applications(
        &self,
        created_before: Timestamp,
        cohort: Option<CohortIdentifier>,
        limit: u32,
    ) -> Result<Vec<ApplicationId>, StoreError> {
        (**self).stale_pending_applications(created_before, cohort, limit).await
    }

    async fn application_history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
        (**self).application_history(id).await
    }
}

#[async_trait]
impl<T: DeclarationStore + ?Sized> DeclarationStore for Arc<T> {
    async fn submit_declaration(
        &self,
        lead_provider: LeadProviderId,
        participant: Option<ParticipantId>,
        partners: Vec<DeliveryPartnerId>,
        now: Timestamp,
        sequencing: SequencingFrom,
        rule: SubmissionRule,
    ) -> Result<Declaration, DomainError> {
        (**self).submit_declaration(lead_provider, participant, partners, now, sequencing, rule).await
    }

    async fn list_declarations(
        &self,
        lead_provider: LeadProviderId,
        query: &DeclarationQuery,
    ) -> Result<Vec<Declaration>, StoreError> {
        (**self).list_declarations(lead_provider, query).await
    }

    async fn find_declaration(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
    ) -> Result<Option<Declaration>, StoreError> {
        (**self).find_declaration(lead_provider, id).await
    }

    async fn void_declaration(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        now: Timestamp,
        rule: VoidRule,
    ) -> Result<Option<Declaration>, DomainError> {
        (**self).void_declaration(lead_provider, id, now, rule).await
    }

    async fn change_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        partners: Vec<DeliveryPartnerId>,
        now: Timestamp,
        rule: PartnerChangeRule,
    ) -> Result<Option<Declaration>, DomainError> {
        (**self).change_delivery_partners(lead_provider, id, partners, now, rule).await
    }

    async fn record_outcome(
        &self,
        lead_provider: LeadProviderId,
        participant: ParticipantId,
        now: Timestamp,
        rule: OutcomeRule,
    ) -> Result<Option<ParticipantOutcome>, DomainError> {
        (**self).record_outcome(lead_provider, participant, now, rule).await
    }

    async fn list_outcomes(
        &self,
        lead_provider: LeadProviderId,
        query: &OutcomeQuery,
    ) -> Result<Vec<ParticipantOutcome>, StoreError> {
        (**self).list_outcomes(lead_provider, query).await
    }
}

#[async_trait]
impl<T: ParticipantRepository + ?Sized> ParticipantRepository for Arc<T> {
    async fn list_participants(
        &self,
        lead_provider: LeadProviderId,
        query: &ParticipantQuery,
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        (**self).list_participants(lead_provider, query).await
    }

    async fn find_participant(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
    ) -> Result<Option<ParticipantRecord>, StoreError> {
        (**self).find_participant(lead_provider, id).await
    }

    async fn find_retirement(
        &self,
        id: ParticipantId,
    ) -> Result<Option<(ParticipantIdChange, Vec<ParticipantIdChange>)>, StoreError> {
        (**self).find_retirement(id).await
    }
}

#[async_trait]
impl<T: DeliveryPartnerRepository + ?Sized> DeliveryPartnerRepository for Arc<T> {
    async fn list_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        query: &DeliveryPartnerQuery,
    ) -> Result<Vec<DeliveryPartnerView>, StoreError> {
        (**self).list_delivery_partners(lead_provider, query).await
    }

    async fn find_delivery_partner(
        &self,
        lead_provider: LeadProviderId,
        id: DeliveryPartnerId,
    ) -> Result<Option<DeliveryPartnerView>, StoreError> {
        (**self).find_delivery_partner(lead_provider, id).await
    }
}

#[async_trait]
impl<T: ReferenceListRepository + ?Sized> ReferenceListRepository for Arc<T> {
    async fn list_cohorts(&self) -> Result<Vec<Cohort>, StoreError> {
        (**self).list_cohorts().await
    }

    async fn find_school(&self, urn: &SchoolUrn) -> Result<Option<SchoolRecord>, StoreError> {
        (**self).find_school(urn).await
    }

    async fn find_childcare_provider(&self, urn: &OfstedUrn) -> Result<Option<ChildcareProviderRecord>, StoreError> {
        (**self).find_childcare_provider(urn).await
    }

    async fn find_itt_provider(&self, legal_name: &str) -> Result<Option<IttProviderRecord>, StoreError> {
        (**self).find_itt_provider(legal_name).await
    }

    async fn lead_providers_in_cohort(&self, cohort: CohortIdentifier) -> Result<Vec<LeadProvider>, StoreError> {
        (**self).lead_providers_in_cohort(cohort).await
    }
}

#[async_trait]
impl<T: RegistrationStore + ?Sized> RegistrationStore for Arc<T> {
    async fn register(
        &self,
        new_person: Person,
        idempotency: Option<Idempotency>,
        rule: RegistrationRule,
    ) -> Result<Registered, DomainError> {
        (**self).register(new_person, idempotency, rule).await
    }
}

#[async_trait]
impl<T: TokenRepository + ?Sized> TokenRepository for Arc<T> {
    async fn find_token_by_digest(&self, digest: &TokenDigest) -> Result<Option<ApiToken>, StoreError> {
        (**self).find_token_by_digest(digest).await
    }

    async fn record_token_use(&self, id: ApiTokenId, at: Timestamp) -> Result<(), StoreError> {
        (**self).record_token_use(id, at).await
    }

    async fn insert_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        (**self).insert_token(token).await
    }
}

#[async_trait]
impl<T: LeadProviderRepository + ?Sized> LeadProviderRepository for Arc<T> {
    async fn find_lead_provider_by_name(&self, name: &str) -> Result<Option<LeadProvider>, StoreError> {
        (**self).find_lead_provider_by_name(name).await
    }

    async fn list_lead_providers(&self) -> Result<Vec<LeadProvider>, StoreError> {
        (**self).list_lead_providers().await
    }

    async fn allowed_networks(&self, id: LeadProviderId) -> Result<Option<AllowList>, StoreError> {
        (**self).allowed_networks(id).await
    }

    async fn set_allowed_networks(&self, id: LeadProviderId, networks: &AllowList) -> Result<bool, StoreError> {
        (**self).set_allowed_networks(id, networks).await
    }
}

#[async_trait]
impl<T: StatementStore + ?Sized> StatementStore for Arc<T> {
    async fn list_statements(
        &self,
        lead_provider: LeadProviderId,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError> {
        (**self).list_statements(lead_provider, query).await
    }

    async fn find_statement(
        &self,
        lead_provider: LeadProviderId,
        id: StatementId,
    ) -> Result<Option<Statement>, StoreError> {
        (**self).find_statement(lead_provider, id).await
    }

    async fn list_all_statements(
        &self,
        lead_provider: Option<LeadProviderId>,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError> {
        (**self).list_all_statements(lead_provider, query).await
    }

    async fn statement_contents(&self, id: StatementId) -> Result<Option<StatementContents>, StoreError> {
        (**self).statement_contents(id).await
    }

    async fn open_statements(&self) -> Result<Vec<Statement>, StoreError> {
        (**self).open_statements().await
    }

    async fn create_statement(
        &self,
        lead_provider: LeadProviderId,
        cohort: CohortIdentifier,
        rule: NewStatementRule,
    ) -> Result<Statement, DomainError> {
        (**self).create_statement(lead_provider, cohort, rule).await
    }

    async fn change_statement(
        &self,
        id: StatementId,
        now: Timestamp,
        rule: StatementRule,
    ) -> Result<Option<StatementChange>, DomainError> {
        (**self).change_statement(id, now, rule).await
    }
}
