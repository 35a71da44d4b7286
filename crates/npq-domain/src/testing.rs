//! Test doubles for the ports and sample records, shared by this crate's tests and by other
//! crates' tests through the `testing` feature.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::TimeZone;

use crate::application::TrainingStatus;
use crate::application::{
    Application, ApplicationStatus, FundingEligibilityStatusCode, FundingHistoryEntry, TeacherCatchment, WorkSetting,
};
use crate::auth::{ApiToken, TokenDigest};
use crate::cohort::{Cohort, CohortIdentifier, FundingRegime};
use crate::course::Course;
use crate::decision::{DecisionContext, HistoryEntry, HistoryField, Outcome, RelatedApplication, holds_live_place};
use crate::declaration::{DeclarationState, DuplicateCandidate, MadeDeclaration, OutcomeState, SequencingFrom};
use crate::declaration_actions::{
    CompletedDeclaration, Declaration, DeclarationQuery, DeclaringParticipant, NamedPartner, OutcomePlan, OutcomeQuery,
    ParticipantOutcome, PartnerChangeContext, ProviderTerms, SubmissionContext,
};
use crate::error::DomainError;
use crate::identifiers::{OfstedUrn, SchoolUrn};
use crate::ids::{
    ApiTokenId, ApplicationId, DeclarationId, DeliveryPartnerId, LeadProviderId, OutcomeId, ParticipantId, StatementId,
};
use crate::listing::{
    ApplicationQuery, DeliveryPartnerQuery, DeliveryPartnerSortField, Direction, ListPosition, SortField,
};
use crate::network::AllowList;
use crate::participant::{
    FromParticipant, MergeContext, MergeOutcome, ParticipantIdChange, ParticipantQuery, ParticipantRecord,
    ParticipantSortValues,
};
use crate::payment::{Adjustment, ContractTerms, DeclarationPayment};
use crate::person::Person;
use crate::ports::{
    ApplicationRepository, Clock, DecisionRule, DecisionStore, DeclarationStore, DeliveryPartnerRepository,
    Idempotency, LeadProviderRepository, MergeRule, NewStatementRule, OutcomeRule, ParticipantRepository,
    PartnerChangeRule, ReferenceListRepository, Registered, RegistrationContext, RegistrationRule, RegistrationStore,
    StatementRule, StatementStore, SubmissionRule, TokenRepository, VoidRule, idempotency_key_reused,
};
use crate::provider::{DeliveryPartner, DeliveryPartnerView, DeliveryPartnership, LeadProvider};
use crate::registration::{ChildcareProviderRecord, IttProviderRecord, SchoolRecord};
use crate::schedule::{Schedule, standard_schedules};
use crate::statement::{ItemGroup, Statement};
use crate::statement_actions::{
    NewStatementContext, StatementChange, StatementContents, StatementLine, StatementPlan, StatementQuery,
};
use crate::training::DeclarationSummary;
use crate::{StoreError, Timestamp};

/// An in-memory store behind every port. The application list applies a query as a database
/// would: filters, sort keys, then insertion order, then the page.
#[derive(Default)]
pub struct MemoryStore {
    pub applications: Mutex<Vec<(Application, Person)>>,
    pub tokens: Mutex<Vec<ApiToken>>,
    pub providers: Vec<LeadProvider>,
    /// When set, every application read fails with this error.
    pub failure: Mutex<Option<StoreError>>,
    /// When set, recording a token's use fails as a locked database would.
    pub fail_token_use: bool,
    pub cohorts: Vec<Cohort>,
    pub schedules: Vec<Schedule>,
    /// Declaration counts by application; an application not listed has no declarations.
    pub declarations: Mutex<HashMap<ApplicationId, DeclarationSummary>>,
    /// Every recorded change, oldest first.
    pub history: Mutex<Vec<HistoryEntry>>,
    /// Participants in the order they became a provider's participant, with when they last changed.
    /// A person with an accepted application but no entry here counts as a participant since the
    /// acceptance.
    pub participants: Mutex<Vec<ParticipantEntry>>,
    /// Merged accounts, oldest first.
    pub id_changes: Mutex<Vec<ParticipantIdChange>>,
    /// Allow-lists by lead provider; a provider not listed has no restriction.
    pub allowed_networks: Mutex<HashMap<LeadProviderId, AllowList>>,
    pub schools: Vec<SchoolRecord>,
    pub childcare_providers: Vec<ChildcareProviderRecord>,
    pub itt_providers: Vec<IttProviderRecord>,
    /// Applications, with the request fingerprint, by the idempotency key that registered them.
    pub registrations: Mutex<HashMap<String, (ApplicationId, String)>>,
    /// Delivery partners in insertion order.
    pub delivery_partners: Vec<DeliveryPartner>,
    /// Delivery partnerships: a lead provider, a delivery partner and a cohort each. Only the
    /// delivery partner port reads them.
    pub partnerships: Vec<DeliveryPartnership>,
    /// Declarations in the order they were made. The declaration port keeps them.
    pub stored_declarations: Mutex<Vec<Declaration>>,
    /// Participant outcomes in the order they were recorded.
    pub outcomes: Mutex<Vec<ParticipantOutcome>>,
    /// Contracts, next output statements and partnerships by lead provider, as declarations see
    /// them; a provider not listed holds no contract.
    pub terms: Mutex<HashMap<LeadProviderId, ProviderTerms>>,
    /// Statements in insertion order. Only the statement port reads them.
    pub statements: Mutex<Vec<Statement>>,
    /// Contracts of statements, one per statement and course.
    pub contracts: Mutex<Vec<(StatementId, ContractTerms)>>,
    /// Items of declarations on statements, in insertion order. A transition moves the
    /// declaration state of every line of a declaration, and the state in `stored_declarations`.
    pub statement_lines: Mutex<Vec<(StatementId, StatementLine)>>,
    /// Adjustments in insertion order.
    pub adjustments: Mutex<Vec<Adjustment>>,
    /// What paid statements paid for each declaration; a refundable line without its own
    /// `amount_paid` takes it from here.
    pub declaration_payments: Mutex<HashMap<DeclarationId, DeclarationPayment>>,
}

/// One participant of one lead provider in [`MemoryStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantEntry {
    pub person: ParticipantId,
    pub lead_provider: LeadProviderId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Runs a future that never waits on I/O, as every future over the in-memory store is.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// Builds the usual cohorts: 2021 to 2023 fully funded, 2024 and 2025 capped, 2026a unfunded and
/// 2026b capped.
pub fn sample_cohorts() -> Vec<Cohort> {
    let cohort = |identifier: &str, funding: FundingRegime| {
        let identifier: CohortIdentifier =
            identifier.parse().unwrap_or_else(|_| unreachable!("sample cohort identifiers are valid"));
        Cohort {
            identifier,
            description: format!("Cohort {identifier}"),
            registration_start_date: chrono::Utc
                .with_ymd_and_hms(i32::from(identifier.start_year()), 4, 3, 9, 0, 0)
                .single()
                .unwrap_or_default(),
            funding,
        }
    };
    vec![
        cohort("2021a", FundingRegime::Full),
        cohort("2022a", FundingRegime::Full),
        cohort("2023a", FundingRegime::Full),
        cohort("2024a", FundingRegime::Capped),
        cohort("2025a", FundingRegime::Capped),
        cohort("2026a", FundingRegime::Zero),
        cohort("2026b", FundingRegime::Capped),
    ]
}

/// The key of a live place: who holds it (a person, or a verified TRN), the cohort and the course.
fn live_place_keys(application: &Application, person: &Person) -> Vec<String> {
    if !holds_live_place(application) {
        return Vec::new();
    }
    let place = format!("{}:{}", application.cohort, application.course.place_key());
    let mut keys = vec![format!("person:{}:{place}", application.participant_id)];
    if let Some(trn) = person.verified_trn() {
        keys.push(format!("trn:{}:{place}", trn.as_ref()));
    }
    keys
}

impl MemoryStore {
    /// Returns an empty store with the sample cohorts, their standard schedules and these lead
    /// providers.
    /// Every provider holds a contract for every course in every cohort, and has no open
    /// statement.
    pub fn with_reference_data(providers: Vec<LeadProvider>) -> Self {
        let cohorts = sample_cohorts();
        let schedules = cohorts.iter().flat_map(|cohort| standard_schedules(cohort.identifier)).collect();
        let contracts: Vec<(CohortIdentifier, Course)> = cohorts
            .iter()
            .flat_map(|cohort| Course::ALL.iter().map(move |course| (cohort.identifier, *course)))
            .collect();
        let terms = providers
            .iter()
            .map(|provider| (provider.id, ProviderTerms { contracts: contracts.clone(), ..ProviderTerms::default() }))
            .collect();
        Self { cohorts, schedules, providers, terms: Mutex::new(terms), ..Self::default() }
    }

    /// Sets the declaration counts of an application.
    pub fn set_declarations(&self, application: ApplicationId, summary: DeclarationSummary) {
        if let Ok(mut declarations) = self.declarations.lock() {
            declarations.insert(application, summary);
        }
    }

    /// Returns the stored state of an application.
    pub fn application(&self, id: ApplicationId) -> Option<Application> {
        self.applications().into_iter().map(|(application, _)| application).find(|application| application.id == id)
    }

    fn fail_if_configured(&self) -> Result<(), StoreError> {
        match self.failure.lock().map(|failure| failure.clone()) {
            Ok(Some(error)) => Err(error),
            _ => Ok(()),
        }
    }

    fn applications(&self) -> Vec<(Application, Person)> {
        self.applications.lock().map(|rows| rows.clone()).unwrap_or_default()
    }
}

impl MemoryStore {
    /// Returns whether lead provider `provider` sees the declaration: it made it, or it holds the
    /// application now.
    fn sees(&self, provider: LeadProviderId, declaration: &Declaration) -> bool {
        declaration.lead_provider_id == provider
            || self
                .application(declaration.application_id)
                .is_some_and(|application| application.lead_provider_id == provider)
    }

    fn provider_terms(&self, provider: LeadProviderId) -> ProviderTerms {
        self.terms.lock().ok().and_then(|terms| terms.get(&provider).cloned()).unwrap_or_default()
    }

    fn with_known_partners(&self, mut terms: ProviderTerms, partners: &[DeliveryPartnerId]) -> ProviderTerms {
        terms.known_partners =
            self.delivery_partners.iter().map(|partner| partner.id).filter(|id| partners.contains(id)).collect();
        terms
    }

    fn partner_named(&self, id: Option<DeliveryPartnerId>) -> Option<NamedPartner> {
        let id = id?;
        let partner = self.delivery_partners.iter().find(|partner| partner.id == id)?;
        Some(NamedPartner { id, name: partner.name.clone() })
    }

    fn latest_outcome(&self, declaration: DeclarationId) -> Option<ParticipantOutcome> {
        let outcomes = self.outcomes.lock().ok()?;
        outcomes.iter().rev().find(|outcome| outcome.declaration_id == declaration).cloned()
    }

    fn add_outcome(
        &self,
        declaration: &Declaration,
        state: OutcomeState,
        completion_date: chrono::NaiveDate,
        at: Timestamp,
    ) -> Option<ParticipantOutcome> {
        let outcome = ParticipantOutcome {
            id: OutcomeId::new_random(),
            declaration_id: declaration.id,
            participant_id: declaration.participant_id,
            course: declaration.course,
            state,
            completion_date,
            created_at: at,
            updated_at: at,
        };
        self.outcomes.lock().ok()?.push(outcome.clone());
        Some(outcome)
    }

    fn update_declaration(&self, id: DeclarationId, change: impl FnOnce(&mut Declaration)) -> Option<Declaration> {
        let mut declarations = self.stored_declarations.lock().ok()?;
        let declaration = declarations.iter_mut().find(|declaration| declaration.id == id)?;
        change(declaration);
        Some(declaration.clone())
    }
}

#[async_trait]
impl DeclarationStore for MemoryStore {
    async fn submit_declaration(
        &self,
        lead_provider: LeadProviderId,
        participant: Option<ParticipantId>,
        partners: Vec<DeliveryPartnerId>,
        now: Timestamp,
        sequencing: SequencingFrom,
        rule: SubmissionRule,
    ) -> Result<Declaration, DomainError> {
        let everything = self.applications();
        let declarations = self.stored_declarations.lock().map(|rows| rows.clone()).unwrap_or_default();
        let history = self.history.lock().map(|rows| rows.clone()).unwrap_or_default();
        let declaring = participant.and_then(|participant| {
            let accepted: Vec<&(Application, Person)> = everything
                .iter()
                .filter(|(application, _)| {
                    application.participant_id == participant && application.status == ApplicationStatus::Accepted
                })
                .collect();
            let person = accepted.first()?.1.clone();
            if !accepted.iter().any(|(application, _)| application.lead_provider_id == lead_provider) {
                return None;
            }
            let applications: Vec<Application> = accepted.iter().map(|(application, _)| application.clone()).collect();
            let withdrawn_at = history
                .iter()
                .filter(|entry| entry.field == HistoryField::TrainingStatus && entry.to.as_deref() == Some("withdrawn"))
                .map(|entry| (entry.application_id, entry.at))
                .collect();
            let made = declarations
                .iter()
                .filter(|declaration| {
                    applications.iter().any(|application| {
                        application.id == declaration.application_id && application.lead_provider_id == lead_provider
                    })
                })
                .map(|declaration| {
                    (
                        declaration.application_id,
                        MadeDeclaration {
                            declaration_type: declaration.declaration_type,
                            state: declaration.state,
                            declaration_date: declaration.declaration_date,
                        },
                    )
                })
                .collect();
            let duplicate_candidates = declarations
                .iter()
                .filter(|declaration| {
                    declaration.participant_id != participant
                        && person.trn.is_some()
                        && everything.iter().any(|(_, other)| {
                            other.participant_id == declaration.participant_id && other.trn == person.trn
                        })
                })
                .map(|declaration| {
                    (
                        declaration.course,
                        DuplicateCandidate {
                            id: declaration.id,
                            declaration_type: declaration.declaration_type,
                            state: declaration.state,
                            superseded: declaration.superseded_by.is_some(),
                            created_at: declaration.created_at,
                        },
                    )
                })
                .collect();
            let funding_history = applications.iter().map(Into::into).collect();
            Some(DeclaringParticipant {
                person,
                applications,
                withdrawn_at,
                declarations: made,
                duplicate_candidates,
                funding_history,
            })
        });
        let context = SubmissionContext {
            lead_provider,
            now,
            sequencing,
            participant: declaring,
            schedules: self.schedules.clone(),
            terms: self.with_known_partners(self.provider_terms(lead_provider), &partners),
        };
        let plan = rule(&context)?;
        let (application, person) = everything
            .iter()
            .find(|(application, _)| application.id == plan.application_id)
            .cloned()
            .ok_or(DomainError::NotFound)?;
        let provider_name = self
            .providers
            .iter()
            .find(|provider| provider.id == lead_provider)
            .map(|provider| provider.name.clone())
            .unwrap_or_default();
        let declaration = Declaration {
            id: DeclarationId::new_random(),
            participant_id: person.participant_id,
            application_id: application.id,
            course: application.course,
            cohort: plan.cohort,
            lead_provider_id: lead_provider,
            lead_provider_name: provider_name,
            declaration_type: plan.declaration_type,
            declaration_date: plan.declaration_date,
            state: plan.state,
            ineligibility_reason: plan.ineligibility_reason,
            superseded_by: plan.superseded_by,
            delivery_partner: self.partner_named(plan.delivery_partner),
            secondary_delivery_partner: self.partner_named(plan.secondary_delivery_partner),
            statement_id: plan.statement,
            clawback_statement_id: None,
            latest_outcome: plan.outcome.map(|(state, _)| state),
            targeted_delivery_funding: application.targeted_delivery_funding_eligibility,
            created_at: now,
            updated_at: now,
        };
        {
            let mut stored = self.stored_declarations.lock().map_err(|_| StoreError::Other("poisoned".to_owned()))?;
            // The database's unique index: one live declaration of a type per application.
            if stored.iter().any(|other| {
                other.application_id == declaration.application_id
                    && other.declaration_type == declaration.declaration_type
                    && other.state.holds_milestone()
                    && declaration.state.holds_milestone()
            }) {
                return Err(StoreError::Conflict("declarations_live_milestone".to_owned()).into());
            }
            stored.push(declaration.clone());
        }
        if let Some((state, day)) = plan.outcome {
            self.add_outcome(&declaration, state, day, now);
        }
        Ok(declaration)
    }

    async fn list_declarations(
        &self,
        lead_provider: LeadProviderId,
        query: &DeclarationQuery,
    ) -> Result<Vec<Declaration>, StoreError> {
        let declarations = self.stored_declarations.lock().map(|rows| rows.clone()).unwrap_or_default();
        let filter = &query.filter;
        let field = query.sort.keys().first().map_or(SortField::CreatedAt, |key| key.field);
        let value_of = |declaration: &Declaration| match field {
            SortField::CreatedAt => declaration.created_at,
            SortField::UpdatedAt => declaration.updated_at,
        };
        // NOTE: in page mode this list keeps insertion order whatever `sort` says; only a cursor
        // walk sorts it, by one column and then insertion order.
        let mut declarations: Vec<(usize, Declaration)> = declarations.into_iter().enumerate().collect();
        if let Some(after) = query.after {
            let after_index = declarations.iter().position(|(_, declaration)| declaration.id.as_uuid() == after.id);
            declarations.retain(|(index, declaration)| is_after(after, after_index, value_of(declaration), *index));
            declarations.sort_by_key(|(index, declaration)| (value_of(declaration), *index));
        }
        Ok(declarations
            .into_iter()
            .map(|(_, declaration)| declaration)
            .filter(|declaration| self.sees(lead_provider, declaration))
            .filter(|declaration| {
                filter
                    .cohorts
                    .as_ref()
                    .is_none_or(|selectors| selectors.iter().any(|selector| selector.matches(declaration.cohort)))
            })
            .filter(|declaration| {
                filter.participant_ids.as_ref().is_none_or(|ids| ids.contains(&declaration.participant_id))
            })
            .filter(|declaration| filter.updated_since.is_none_or(|since| declaration.updated_at >= since))
            .filter(|declaration| {
                filter.delivery_partner_ids.as_ref().is_none_or(|ids| {
                    declaration.delivery_partner.as_ref().is_some_and(|partner| ids.contains(&partner.id))
                })
            })
            .skip(usize::try_from(query.page.offset()).unwrap_or(usize::MAX))
            .take(query.page.per_page() as usize)
            .collect())
    }

    async fn find_declaration(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
    ) -> Result<Option<Declaration>, StoreError> {
        let declarations = self.stored_declarations.lock().map(|rows| rows.clone()).unwrap_or_default();
        Ok(declarations.into_iter().find(|declaration| declaration.id == id && self.sees(lead_provider, declaration)))
    }

    async fn void_declaration(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        now: Timestamp,
        rule: VoidRule,
    ) -> Result<Option<Declaration>, DomainError> {
        let Some(declaration) = self.find_declaration(lead_provider, id).await? else { return Ok(None) };
        let next =
            self.provider_terms(declaration.lead_provider_id).next_output_statements.get(&declaration.cohort).copied();
        let plan = rule(&declaration, next)?;
        if let Some(day) = plan.void_outcome_on {
            self.add_outcome(&declaration, OutcomeState::Voided, day, now);
        }
        Ok(self.update_declaration(id, |declaration| {
            declaration.state = plan.state;
            if plan.state == DeclarationState::Voided {
                declaration.statement_id = None;
            }
            declaration.clawback_statement_id = plan.clawback_statement.or(declaration.clawback_statement_id);
            if plan.void_outcome_on.is_some() {
                declaration.latest_outcome = Some(OutcomeState::Voided);
            }
            declaration.updated_at = now;
        }))
    }

    async fn change_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        partners: Vec<DeliveryPartnerId>,
        now: Timestamp,
        rule: PartnerChangeRule,
    ) -> Result<Option<Declaration>, DomainError> {
        let Some(declaration) = self.find_declaration(lead_provider, id).await? else { return Ok(None) };
        let application = self.application(declaration.application_id).ok_or(DomainError::NotFound)?;
        let terms = self.with_known_partners(self.provider_terms(declaration.lead_provider_id), &partners);
        let plan = rule(&PartnerChangeContext { declaration, application, terms })?;
        let primary = self.partner_named(Some(plan.delivery_partner));
        let secondary = self.partner_named(plan.secondary_delivery_partner);
        Ok(self.update_declaration(id, |declaration| {
            declaration.delivery_partner = primary;
            declaration.secondary_delivery_partner = secondary;
            declaration.updated_at = now;
        }))
    }

    async fn record_outcome(
        &self,
        lead_provider: LeadProviderId,
        participant: ParticipantId,
        now: Timestamp,
        rule: OutcomeRule,
    ) -> Result<Option<ParticipantOutcome>, DomainError> {
        let is_participant = self.applications().iter().any(|(application, _)| {
            application.participant_id == participant
                && application.lead_provider_id == lead_provider
                && application.status == ApplicationStatus::Accepted
        });
        if !is_participant {
            return Ok(None);
        }
        let declarations = self.stored_declarations.lock().map(|rows| rows.clone()).unwrap_or_default();
        let completed: Vec<CompletedDeclaration> = declarations
            .iter()
            .filter(|declaration| {
                declaration.participant_id == participant
                    && declaration.declaration_type == crate::schedule::DeclarationType::Completed
                    && self.sees(lead_provider, declaration)
            })
            .map(|declaration| CompletedDeclaration {
                declaration_id: declaration.id,
                course: declaration.course,
                state: declaration.state,
                created_at: declaration.created_at,
                latest_outcome: self.latest_outcome(declaration.id),
            })
            .collect();
        match rule(&completed)? {
            OutcomePlan::Existing(outcome) => Ok(Some(outcome)),
            OutcomePlan::Record { declaration_id, state, completion_date, .. } => {
                let declaration = self
                    .update_declaration(declaration_id, |declaration| {
                        declaration.latest_outcome = Some(state);
                        declaration.updated_at = now;
                    })
                    .ok_or(DomainError::NotFound)?;
                Ok(self.add_outcome(&declaration, state, completion_date, now))
            }
        }
    }

    async fn list_outcomes(
        &self,
        lead_provider: LeadProviderId,
        query: &OutcomeQuery,
    ) -> Result<Vec<ParticipantOutcome>, StoreError> {
        let outcomes = self.outcomes.lock().map(|rows| rows.clone()).unwrap_or_default();
        let declarations = self.stored_declarations.lock().map(|rows| rows.clone()).unwrap_or_default();
        Ok(outcomes
            .into_iter()
            .filter(|outcome| {
                declarations.iter().any(|declaration| {
                    declaration.id == outcome.declaration_id && self.sees(lead_provider, declaration)
                })
            })
            .filter(|outcome| query.participant_id.is_none_or(|id| outcome.participant_id == id))
            .filter(|outcome| query.created_since.is_none_or(|since| outcome.created_at >= since))
            .skip(usize::try_from(query.page.offset()).unwrap_or(usize::MAX))
            .take(query.page.per_page() as usize)
            .collect())
    }
}

#[async_trait]
impl ApplicationRepository for MemoryStore {
    async fn list_applications(
        &self,
        lead_provider: LeadProviderId,
        query: &ApplicationQuery,
    ) -> Result<Vec<(Application, Person)>, StoreError> {
        self.fail_if_configured()?;
        let filter = &query.filter;
        let mut rows: Vec<(usize, (Application, Person))> = self
            .applications()
            .into_iter()
            .enumerate()
            .filter(|(_, (application, _))| application.lead_provider_id == lead_provider)
            .filter(|(_, (application, _))| {
                filter
                    .cohorts
                    .as_ref()
                    .is_none_or(|cohorts| cohorts.iter().any(|cohort| cohort.matches(application.cohort)))
            })
            .filter(|(_, (application, _))| filter.updated_since.is_none_or(|since| application.updated_at >= since))
            .filter(|(_, (application, _))| {
                filter.participant_ids.as_ref().is_none_or(|ids| ids.contains(&application.participant_id))
            })
            .collect();
        rows.sort_by(|(left_index, (left, _)), (right_index, (right, _))| {
            for key in query.sort.keys() {
                let ordering = match key.field {
                    SortField::CreatedAt => left.created_at.cmp(&right.created_at),
                    SortField::UpdatedAt => left.updated_at.cmp(&right.updated_at),
                };
                let ordering = if key.direction == Direction::Descending { ordering.reverse() } else { ordering };
                if ordering.is_ne() {
                    return ordering;
                }
            }
            left_index.cmp(right_index)
        });
        if let Some(after) = query.after {
            let field = query.sort.keys().first().map_or(SortField::CreatedAt, |key| key.field);
            let after_index =
                self.applications().iter().position(|(application, _)| application.id.as_uuid() == after.id);
            rows.retain(|(index, (application, _))| {
                let value = match field {
                    SortField::CreatedAt => application.created_at,
                    SortField::UpdatedAt => application.updated_at,
                };
                is_after(after, after_index, value, *index)
            });
        }
        let offset = usize::try_from(query.page.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(query.page.per_page()).unwrap_or(usize::MAX);
        Ok(rows.into_iter().skip(offset).take(per_page).map(|(_, row)| row).collect())
    }

    async fn find_application(
        &self,
        lead_provider: LeadProviderId,
        id: ApplicationId,
    ) -> Result<Option<(Application, Person)>, StoreError> {
        self.fail_if_configured()?;
        Ok(self
            .applications()
            .into_iter()
            .find(|(application, _)| application.id == id && application.lead_provider_id == lead_provider))
    }

    async fn funding_history(&self, people: &[ParticipantId]) -> Result<Vec<FundingHistoryEntry>, StoreError> {
        Ok(self
            .applications()
            .iter()
            .filter(|(application, _)| {
                people.contains(&application.participant_id) && application.status == ApplicationStatus::Accepted
            })
            .map(|(application, _)| FundingHistoryEntry::from(application))
            .collect())
    }
}

#[async_trait]
impl DecisionStore for MemoryStore {
    async fn decide(
        &self,
        id: ApplicationId,
        visible_to: Option<LeadProviderId>,
        rule: DecisionRule,
    ) -> Result<Option<Outcome>, DomainError> {
        self.fail_if_configured()?;
        let poisoned = || DomainError::Store(StoreError::Other("application list lock poisoned".to_owned()));
        let mut rows = self.applications.lock().map_err(|_| poisoned())?;
        let Some((application, person)) = rows
            .iter()
            .find(|(application, _)| {
                application.id == id && visible_to.is_none_or(|provider| application.lead_provider_id == provider)
            })
            .cloned()
        else {
            return Ok(None);
        };
        let trn = person.verified_trn().cloned();
        let related = rows
            .iter()
            .filter(|(other, _)| other.id != application.id)
            .filter_map(|(other, other_person)| {
                let same_person = other.participant_id == application.participant_id;
                let same_trn = trn.is_some() && other_person.verified_trn() == trn.as_ref();
                (same_person || same_trn).then(|| RelatedApplication { application: other.clone(), same_person })
            })
            .collect();
        let declarations =
            self.declarations.lock().map_err(|_| poisoned())?.get(&application.id).copied().unwrap_or_default();
        let contracts = self.provider_terms(application.lead_provider_id).contracts;
        let context = DecisionContext {
            application,
            person,
            related,
            declarations,
            billable_declarations: Vec::new(),
            cohorts: self.cohorts.clone(),
            schedules: self.schedules.clone(),
            lead_providers: self.providers.clone(),
            contracts,
        };
        let outcome = rule(&context)?;

        let mut updated = rows.clone();
        for changed in &outcome.changed {
            for (application, _) in updated.iter_mut().filter(|(application, _)| application.id == changed.id) {
                *application = changed.clone();
            }
        }
        for (application, _) in updated.iter_mut() {
            if outcome.touched_people.contains(&application.participant_id) && application.updated_at < outcome.at {
                application.updated_at = outcome.at;
            }
        }
        let mut places = std::collections::HashSet::new();
        for (application, person) in &updated {
            for key in live_place_keys(application, person) {
                if !places.insert(key) {
                    return Err(DomainError::Store(StoreError::PlaceTaken));
                }
            }
        }
        *rows = updated;
        self.history.lock().map_err(|_| poisoned())?.extend(outcome.history.iter().cloned());
        let mut participants = self.participants.lock().map_err(|_| poisoned())?;
        for (person, lead_provider) in &outcome.changed_participants {
            match participants.iter_mut().find(|entry| entry.person == *person && entry.lead_provider == *lead_provider)
            {
                Some(entry) => entry.updated_at = outcome.at,
                None => participants.push(ParticipantEntry {
                    person: *person,
                    lead_provider: *lead_provider,
                    created_at: outcome.at,
                    updated_at: outcome.at,
                }),
            }
        }
        Ok(Some(outcome))
    }

    async fn merge_accounts(
        &self,
        kept: ParticipantId,
        retired: ParticipantId,
        rule: MergeRule,
    ) -> Result<Option<MergeOutcome>, DomainError> {
        self.fail_if_configured()?;
        let poisoned = || DomainError::Store(StoreError::Other("lock poisoned".to_owned()));
        let mut rows = self.applications.lock().map_err(|_| poisoned())?;
        let person_of = |id: ParticipantId| {
            rows.iter().find(|(application, _)| application.participant_id == id).map(|(_, person)| person.clone())
        };
        let (Some(kept_person), Some(retired_person)) = (person_of(kept), person_of(retired)) else { return Ok(None) };
        let applications_of = |id: ParticipantId| -> Vec<Application> {
            rows.iter()
                .filter(|(application, _)| application.participant_id == id)
                .map(|(application, _)| application.clone())
                .collect()
        };
        let mut changes = self.id_changes.lock().map_err(|_| poisoned())?;
        let context = MergeContext {
            kept_applications: applications_of(kept),
            kept_is_retired: changes.iter().any(|change| change.from_participant_id == kept),
            retired_applications: applications_of(retired),
            retired_is_retired: changes.iter().any(|change| change.from_participant_id == retired),
            kept: kept_person.clone(),
            retired: retired_person,
        };
        let outcome = rule(&context)?;
        let mut providers = Vec::new();
        for (application, person) in rows.iter_mut() {
            if application.participant_id == retired {
                application.participant_id = kept;
                *person = kept_person.clone();
                if application.status == ApplicationStatus::Accepted {
                    providers.push(application.lead_provider_id);
                }
            }
            if application.participant_id == kept {
                application.updated_at = application.updated_at.max(outcome.change.changed_at);
            }
        }
        for change in changes.iter_mut().filter(|change| change.to_participant_id == retired) {
            change.to_participant_id = kept;
        }
        changes.retain(|change| change.from_participant_id != kept);
        changes.push(outcome.change.clone());
        self.history.lock().map_err(|_| poisoned())?.extend(outcome.history.iter().cloned());
        let mut participants = self.participants.lock().map_err(|_| poisoned())?;
        for entry in participants.iter_mut().filter(|entry| entry.person == kept) {
            entry.updated_at = outcome.change.changed_at;
        }
        for provider in providers {
            if !participants.iter().any(|entry| entry.person == kept && entry.lead_provider == provider) {
                participants.push(ParticipantEntry {
                    person: kept,
                    lead_provider: provider,
                    created_at: outcome.change.changed_at,
                    updated_at: outcome.change.changed_at,
                });
            }
        }
        Ok(Some(outcome))
    }

    async fn find_any_application(&self, id: ApplicationId) -> Result<Option<(Application, Person)>, StoreError> {
        self.fail_if_configured()?;
        Ok(self.applications().into_iter().find(|(application, _)| application.id == id))
    }

    async fn stale_pending_applications(
        &self,
        created_before: Timestamp,
        cohort: Option<CohortIdentifier>,
        limit: u32,
    ) -> Result<Vec<ApplicationId>, StoreError> {
        self.fail_if_configured()?;
        let mut stale: Vec<Application> = self
            .applications()
            .into_iter()
            .map(|(application, _)| application)
            .filter(|application| {
                application.status == ApplicationStatus::Pending
                    && application.created_at < created_before
                    && cohort.is_none_or(|cohort| application.cohort == cohort)
            })
            .collect();
        stale.sort_by_key(|application| application.created_at);
        Ok(stale
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|application| application.id)
            .collect())
    }

    async fn application_history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
        let history = self.history.lock().map_err(|_| StoreError::Other("history lock poisoned".to_owned()))?;
        Ok(history.iter().filter(|entry| entry.application_id == id).cloned().collect())
    }
}

impl MemoryStore {
    /// Returns the lead provider's participant entries in order: recorded ones first, then people
    /// with an accepted application but no entry, by acceptance.
    fn participant_entries(&self, lead_provider: LeadProviderId) -> Vec<ParticipantEntry> {
        let rows = self.applications();
        let mut entries: Vec<ParticipantEntry> = self
            .participants
            .lock()
            .map(|entries| entries.iter().filter(|entry| entry.lead_provider == lead_provider).cloned().collect())
            .unwrap_or_default();
        let mut implicit: Vec<ParticipantEntry> = Vec::new();
        for (application, _) in &rows {
            let is_enrolment =
                application.lead_provider_id == lead_provider && application.status == ApplicationStatus::Accepted;
            if !is_enrolment || entries.iter().any(|entry| entry.person == application.participant_id) {
                continue;
            }
            let since = application.accepted_at.unwrap_or(application.created_at);
            match implicit.iter_mut().find(|entry| entry.person == application.participant_id) {
                Some(entry) => {
                    entry.created_at = entry.created_at.min(since);
                    entry.updated_at = entry.updated_at.max(application.updated_at);
                }
                None => implicit.push(ParticipantEntry {
                    person: application.participant_id,
                    lead_provider,
                    created_at: since,
                    updated_at: application.updated_at,
                }),
            }
        }
        implicit.sort_by_key(|entry| entry.created_at);
        entries.extend(implicit);
        entries
    }

    fn participant_record(&self, entry: &ParticipantEntry) -> Option<ParticipantRecord> {
        let rows = self.applications();
        let mut applications: Vec<Application> = rows
            .iter()
            .filter(|(application, _)| {
                application.participant_id == entry.person
                    && application.lead_provider_id == entry.lead_provider
                    && application.status == ApplicationStatus::Accepted
            })
            .map(|(application, _)| application.clone())
            .collect();
        if applications.is_empty() {
            return None;
        }
        applications.sort_by_key(|application| (application.accepted_at, application.created_at));
        let person = rows.iter().find(|(application, _)| application.participant_id == entry.person)?.1.clone();
        let ids: Vec<ApplicationId> = applications.iter().map(|application| application.id).collect();
        let training_history = self
            .history
            .lock()
            .map(|history| {
                history
                    .iter()
                    .filter(|change| {
                        ids.contains(&change.application_id) && change.field == HistoryField::TrainingStatus
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut id_changes: Vec<ParticipantIdChange> = self
            .id_changes
            .lock()
            .map(|changes| changes.iter().filter(|change| change.to_participant_id == entry.person).cloned().collect())
            .unwrap_or_default();
        id_changes.reverse();
        let updated_at = entry.updated_at.max(person.updated_at);
        let sort_values = ParticipantSortValues { created_at: entry.created_at, updated_at };
        Some(ParticipantRecord { person, applications, training_history, id_changes, updated_at, sort_values })
    }
}

#[async_trait]
impl ParticipantRepository for MemoryStore {
    async fn list_participants(
        &self,
        lead_provider: LeadProviderId,
        query: &ParticipantQuery,
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        self.fail_if_configured()?;
        let filter = &query.filter;
        let mut records: Vec<(usize, ParticipantEntry, ParticipantRecord)> = self
            .participant_entries(lead_provider)
            .into_iter()
            .enumerate()
            .filter_map(|(index, entry)| self.participant_record(&entry).map(|record| (index, entry, record)))
            .filter(|(_, _, record)| filter.updated_since.is_none_or(|since| record.updated_at >= since))
            .filter(|(_, _, record)| {
                filter.training_status.is_none_or(|wanted| {
                    record
                        .applications
                        .iter()
                        .any(|application| application.training_status.unwrap_or(TrainingStatus::Active) == wanted)
                })
            })
            .filter(|(_, _, record)| match filter.from_participant_id {
                None => true,
                Some(FromParticipant::Id(from)) => {
                    record.id_changes.iter().any(|change| change.from_participant_id == from)
                }
                Some(FromParticipant::NoMatch) => false,
            })
            .collect();
        records.sort_by(|(left_index, left_entry, left), (right_index, right_entry, right)| {
            for key in query.sort.keys() {
                let ordering = match key.field {
                    SortField::CreatedAt => left_entry.created_at.cmp(&right_entry.created_at),
                    SortField::UpdatedAt => left.updated_at.cmp(&right.updated_at),
                };
                let ordering = if key.direction == Direction::Descending { ordering.reverse() } else { ordering };
                if ordering.is_ne() {
                    return ordering;
                }
            }
            left_index.cmp(right_index)
        });
        if let Some(after) = query.after {
            let field = query.sort.keys().first().map_or(SortField::CreatedAt, |key| key.field);
            let after_index =
                self.participant_entries(lead_provider).iter().position(|entry| entry.person.as_uuid() == after.id);
            records.retain(|(index, _, record)| is_after(after, after_index, record.sort_values.get(field), *index));
        }
        let offset = usize::try_from(query.page.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(query.page.per_page()).unwrap_or(usize::MAX);
        Ok(records.into_iter().skip(offset).take(per_page).map(|(_, _, record)| record).collect())
    }

    async fn find_participant(
        &self,
        lead_provider: LeadProviderId,
        id: ParticipantId,
    ) -> Result<Option<ParticipantRecord>, StoreError> {
        self.fail_if_configured()?;
        Ok(self
            .participant_entries(lead_provider)
            .iter()
            .find(|entry| entry.person == id)
            .and_then(|entry| self.participant_record(entry)))
    }

    async fn find_retirement(
        &self,
        id: ParticipantId,
    ) -> Result<Option<(ParticipantIdChange, Vec<ParticipantIdChange>)>, StoreError> {
        let changes = self.id_changes.lock().map_err(|_| StoreError::Other("id change lock poisoned".to_owned()))?;
        let Some(retirement) = changes.iter().find(|change| change.from_participant_id == id).cloned() else {
            return Ok(None);
        };
        let mut into_kept: Vec<ParticipantIdChange> =
            changes.iter().filter(|change| change.to_participant_id == retirement.to_participant_id).cloned().collect();
        into_kept.reverse();
        Ok(Some((retirement, into_kept)))
    }
}

impl MemoryStore {
    /// Returns the lead provider's view of the delivery partner, or `None` when they have no
    /// partnership.
    fn delivery_partner_view(
        &self,
        lead_provider: LeadProviderId,
        partner: &DeliveryPartner,
    ) -> Option<DeliveryPartnerView> {
        let cohorts: Vec<CohortIdentifier> = self
            .partnerships
            .iter()
            .filter(|partnership| {
                partnership.lead_provider == lead_provider && partnership.delivery_partner == partner.id
            })
            .map(|partnership| partnership.cohort)
            .collect();
        if cohorts.is_empty() {
            return None;
        }
        Some(DeliveryPartnerView { partner: partner.clone(), cohorts })
    }
}

#[async_trait]
impl DeliveryPartnerRepository for MemoryStore {
    async fn list_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        query: &DeliveryPartnerQuery,
    ) -> Result<Vec<DeliveryPartnerView>, StoreError> {
        let mut views: Vec<DeliveryPartnerView> = self
            .delivery_partners
            .iter()
            .filter_map(|partner| self.delivery_partner_view(lead_provider, partner))
            .filter(|view| match &query.cohorts {
                None => true,
                Some(selectors) => {
                    view.cohorts.iter().any(|cohort| selectors.iter().any(|selector| selector.matches(*cohort)))
                }
            })
            .collect();
        // A stable sort keeps insertion order among equal keys, as the store's final key does.
        views.sort_by(|left, right| {
            query.sort.keys().iter().fold(std::cmp::Ordering::Equal, |ordering, (field, direction)| {
                let by_field = match field {
                    DeliveryPartnerSortField::Name => left.partner.name.cmp(&right.partner.name),
                    DeliveryPartnerSortField::CreatedAt => left.partner.created_at.cmp(&right.partner.created_at),
                    DeliveryPartnerSortField::UpdatedAt => left.partner.updated_at.cmp(&right.partner.updated_at),
                };
                let by_field = if *direction == Direction::Descending { by_field.reverse() } else { by_field };
                ordering.then(by_field)
            })
        });
        let offset = usize::try_from(query.page.offset()).unwrap_or(usize::MAX);
        Ok(views.into_iter().skip(offset).take(query.page.per_page() as usize).collect())
    }

    async fn find_delivery_partner(
        &self,
        lead_provider: LeadProviderId,
        id: DeliveryPartnerId,
    ) -> Result<Option<DeliveryPartnerView>, StoreError> {
        Ok(self
            .delivery_partners
            .iter()
            .find(|partner| partner.id == id)
            .and_then(|partner| self.delivery_partner_view(lead_provider, partner)))
    }
}

#[async_trait]
impl ReferenceListRepository for MemoryStore {
    async fn list_cohorts(&self) -> Result<Vec<Cohort>, StoreError> {
        Ok(self.cohorts.clone())
    }

    async fn find_school(&self, urn: &SchoolUrn) -> Result<Option<SchoolRecord>, StoreError> {
        Ok(self.schools.iter().find(|school| &school.urn == urn).cloned())
    }

    async fn find_childcare_provider(&self, urn: &OfstedUrn) -> Result<Option<ChildcareProviderRecord>, StoreError> {
        Ok(self.childcare_providers.iter().find(|provider| &provider.urn == urn).cloned())
    }

    async fn find_itt_provider(&self, legal_name: &str) -> Result<Option<IttProviderRecord>, StoreError> {
        Ok(self
            .itt_providers
            .iter()
            .find(|provider| provider.legal_name.eq_ignore_ascii_case(legal_name.trim()))
            .cloned())
    }

    /// Every provider delivers in every cohort: `partnerships` serves only the delivery partner port.
    async fn lead_providers_in_cohort(&self, _cohort: CohortIdentifier) -> Result<Vec<LeadProvider>, StoreError> {
        Ok(self.providers.clone())
    }
}

#[async_trait]
impl RegistrationStore for MemoryStore {
    async fn register(
        &self,
        new_person: Person,
        idempotency: Option<Idempotency>,
        rule: RegistrationRule,
    ) -> Result<Registered, DomainError> {
        self.fail_if_configured()?;
        let poisoned = || DomainError::Store(StoreError::Other("lock poisoned".to_owned()));
        let mut registrations = self.registrations.lock().map_err(|_| poisoned())?;
        if let Some((application, fingerprint)) =
            idempotency.as_ref().and_then(|idempotency| registrations.get(&idempotency.key))
        {
            if Some(fingerprint) != idempotency.as_ref().map(|idempotency| &idempotency.fingerprint) {
                return Err(idempotency_key_reused());
            }
            return Ok(Registered { application: *application, created: false });
        }
        let mut rows = self.applications.lock().map_err(|_| poisoned())?;
        let person = rows
            .iter()
            .map(|(_, person)| person)
            .find(|person| person.email.is_some() && person.email == new_person.email)
            .cloned()
            .unwrap_or(new_person);
        let applications = rows
            .iter()
            .filter(|(application, _)| application.participant_id == person.participant_id)
            .map(|(application, _)| application.clone())
            .collect();
        let application = rule(&RegistrationContext { person: person.clone(), applications })?;
        let id = application.id;
        rows.push((application, person));
        if let Some(idempotency) = idempotency {
            registrations.insert(idempotency.key, (id, idempotency.fingerprint));
        }
        Ok(Registered { application: id, created: true })
    }
}

#[async_trait]
impl TokenRepository for MemoryStore {
    async fn find_token_by_digest(&self, digest: &TokenDigest) -> Result<Option<ApiToken>, StoreError> {
        let tokens = self.tokens.lock().map_err(|_| StoreError::Other("token list lock poisoned".to_owned()))?;
        Ok(tokens.iter().find(|token| &token.digest == digest).cloned())
    }

    async fn record_token_use(&self, id: ApiTokenId, at: Timestamp) -> Result<(), StoreError> {
        if self.fail_token_use {
            return Err(StoreError::Unavailable("database is locked".to_owned()));
        }
        let mut tokens = self.tokens.lock().map_err(|_| StoreError::Other("token list lock poisoned".to_owned()))?;
        for token in tokens.iter_mut().filter(|token| token.id == id) {
            token.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn insert_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let mut tokens = self.tokens.lock().map_err(|_| StoreError::Other("token list lock poisoned".to_owned()))?;
        if tokens.iter().any(|stored| stored.digest == token.digest) {
            return Err(StoreError::Conflict("a token with this digest exists".to_owned()));
        }
        tokens.push(token.clone());
        Ok(())
    }
}

#[async_trait]
impl LeadProviderRepository for MemoryStore {
    async fn find_lead_provider_by_name(&self, name: &str) -> Result<Option<LeadProvider>, StoreError> {
        Ok(self.providers.iter().find(|provider| provider.name == name).cloned())
    }

    async fn list_lead_providers(&self) -> Result<Vec<LeadProvider>, StoreError> {
        Ok(self.providers.clone())
    }

    async fn allowed_networks(&self, id: LeadProviderId) -> Result<Option<AllowList>, StoreError> {
        if !self.providers.iter().any(|provider| provider.id == id) {
            return Ok(None);
        }
        let lists =
            self.allowed_networks.lock().map_err(|_| StoreError::Other("allow-list lock poisoned".to_owned()))?;
        Ok(Some(lists.get(&id).cloned().unwrap_or_default()))
    }

    async fn set_allowed_networks(&self, id: LeadProviderId, networks: &AllowList) -> Result<bool, StoreError> {
        if !self.providers.iter().any(|provider| provider.id == id) {
            return Ok(false);
        }
        let mut lists =
            self.allowed_networks.lock().map_err(|_| StoreError::Other("allow-list lock poisoned".to_owned()))?;
        lists.insert(id, networks.clone());
        Ok(true)
    }
}

fn poisoned(what: &str) -> StoreError {
    StoreError::Other(format!("the {what} lock is poisoned"))
}

impl MemoryStore {
    fn statement_contents_now(&self, id: StatementId) -> Result<Option<StatementContents>, StoreError> {
        let statements = self.statements.lock().map_err(|_| poisoned("statement"))?;
        let Some(statement) = statements.iter().find(|statement| statement.id == id).cloned() else {
            return Ok(None);
        };
        let contracts = self.contracts.lock().map_err(|_| poisoned("contract"))?;
        let payments = self.declaration_payments.lock().map_err(|_| poisoned("payment"))?;
        let lines = self.statement_lines.lock().map_err(|_| poisoned("statement item"))?;
        let adjustments = self.adjustments.lock().map_err(|_| poisoned("adjustment"))?;
        Ok(Some(StatementContents {
            contracts: contracts.iter().filter(|(owner, _)| *owner == id).map(|(_, terms)| terms.clone()).collect(),
            lines: lines
                .iter()
                .filter(|(owner, _)| *owner == id)
                .map(|(_, line)| {
                    let mut line = line.clone();
                    if line.item.state.group() == ItemGroup::Refundable && line.item.amount_paid.is_none() {
                        line.item.amount_paid = payments.get(&line.item.declaration).copied();
                    }
                    line
                })
                .collect(),
            adjustments: adjustments.iter().filter(|adjustment| adjustment.statement == id).cloned().collect(),
            statement,
        }))
    }

    fn statement_page(
        &self,
        keep: impl Fn(&Statement) -> bool,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError> {
        let statements = self.statements.lock().map_err(|_| poisoned("statement"))?;
        let mut selected: Vec<(usize, &Statement)> = statements
            .iter()
            .enumerate()
            .filter(|(_, statement)| keep(statement))
            .filter(|(_, statement)| {
                query
                    .cohorts
                    .as_ref()
                    .is_none_or(|selectors| selectors.iter().any(|selector| selector.matches(statement.cohort)))
            })
            .filter(|(_, statement)| query.updated_since.is_none_or(|since| statement.updated_at >= since))
            .collect();
        // Statements without a payment date come last, as the database orders them.
        selected.sort_by_key(|(index, statement)| (statement.payment_date.is_none(), statement.payment_date, *index));
        let offset = usize::try_from(query.page.offset()).unwrap_or(usize::MAX);
        Ok(selected.into_iter().skip(offset).take(query.page.per_page() as usize).map(|(_, s)| s.clone()).collect())
    }

    fn apply_statement_plan(&self, id: StatementId, plan: &StatementPlan) -> Result<(), StoreError> {
        match plan {
            StatementPlan::Unchanged => {}
            StatementPlan::Update(statement) => self.replace_statement(statement)?,
            StatementPlan::PutContract(terms) => {
                let mut contracts = self.contracts.lock().map_err(|_| poisoned("contract"))?;
                contracts.retain(|(owner, existing)| !(*owner == id && existing.course == terms.course));
                contracts.push((id, terms.clone()));
            }
            StatementPlan::AddAdjustment(adjustment) => {
                self.adjustments.lock().map_err(|_| poisoned("adjustment"))?.push(adjustment.clone());
            }
            StatementPlan::Transition(transition) => {
                self.replace_statement(&transition.statement)?;
                let mut lines = self.statement_lines.lock().map_err(|_| poisoned("statement item"))?;
                let mut declarations = self.stored_declarations.lock().map_err(|_| poisoned("declaration"))?;
                for change in &transition.changes {
                    for (owner, line) in lines.iter_mut() {
                        if line.item.declaration != change.declaration {
                            continue;
                        }
                        line.declaration_state = change.to.declaration;
                        if *owner == id && line.kind == change.kind {
                            line.item.state = change.to.item;
                        }
                    }
                    if let Some(declaration) = declarations.iter_mut().find(|stored| stored.id == change.declaration) {
                        declaration.state = change.to.declaration;
                        declaration.updated_at = transition.statement.updated_at;
                    }
                }
                let mut payments = self.declaration_payments.lock().map_err(|_| poisoned("payment"))?;
                payments.extend(transition.payments.iter().copied());
            }
        }
        Ok(())
    }

    fn replace_statement(&self, statement: &Statement) -> Result<(), StoreError> {
        let mut statements = self.statements.lock().map_err(|_| poisoned("statement"))?;
        if let Some(stored) = statements.iter_mut().find(|stored| stored.id == statement.id) {
            *stored = statement.clone();
        }
        Ok(())
    }
}

#[async_trait]
impl StatementStore for MemoryStore {
    async fn list_statements(
        &self,
        lead_provider: LeadProviderId,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError> {
        self.statement_page(|statement| statement.lead_provider == lead_provider && statement.output_fee, query)
    }

    async fn find_statement(
        &self,
        lead_provider: LeadProviderId,
        id: StatementId,
    ) -> Result<Option<Statement>, StoreError> {
        let statements = self.statements.lock().map_err(|_| poisoned("statement"))?;
        Ok(statements
            .iter()
            .find(|statement| statement.id == id && statement.lead_provider == lead_provider && statement.output_fee)
            .cloned())
    }

    async fn list_all_statements(
        &self,
        lead_provider: Option<LeadProviderId>,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, StoreError> {
        self.statement_page(|statement| lead_provider.is_none_or(|provider| statement.lead_provider == provider), query)
    }

    async fn statement_contents(&self, id: StatementId) -> Result<Option<StatementContents>, StoreError> {
        self.statement_contents_now(id)
    }

    async fn open_statements(&self) -> Result<Vec<Statement>, StoreError> {
        let statements = self.statements.lock().map_err(|_| poisoned("statement"))?;
        Ok(statements
            .iter()
            .filter(|statement| statement.state == crate::statement::StatementState::Open)
            .cloned()
            .collect())
    }

    async fn create_statement(
        &self,
        lead_provider: LeadProviderId,
        cohort: CohortIdentifier,
        rule: NewStatementRule,
    ) -> Result<Statement, DomainError> {
        let context = {
            let statements = self.statements.lock().map_err(|_| poisoned("statement"))?;
            NewStatementContext {
                lead_provider_exists: self.providers.iter().any(|provider| provider.id == lead_provider),
                cohort_exists: self.cohorts.iter().any(|known| known.identifier == cohort),
                existing: statements
                    .iter()
                    .filter(|statement| statement.lead_provider == lead_provider && statement.cohort == cohort)
                    .cloned()
                    .collect(),
            }
        };
        let statement = rule(&context)?;
        self.statements.lock().map_err(|_| poisoned("statement"))?.push(statement.clone());
        Ok(statement)
    }

    async fn change_statement(
        &self,
        id: StatementId,
        _now: Timestamp,
        rule: StatementRule,
    ) -> Result<Option<StatementChange>, DomainError> {
        let Some(contents) = self.statement_contents_now(id)? else { return Ok(None) };
        let plan = rule(&contents)?;
        self.apply_statement_plan(id, &plan)?;
        let contents = self.statement_contents_now(id)?.ok_or(DomainError::NotFound)?;
        Ok(Some(StatementChange { plan, contents }))
    }
}

/// A clock that always reads the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// Returns an instant in June 2025, at the start of the given hour.
pub fn june(day: u32, hour: u32) -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2025, 6, day, hour, 0, 0).single().unwrap_or_default()
}

/// Builds a person with a verified TRN and an example.com address made from the name.
pub fn person(full_name: &str) -> Person {
    Person {
        participant_id: ParticipantId::new_random(),
        trn: "1234567".parse().ok(),
        trn_verified: true,
        full_name: full_name.to_owned(),
        previous_names: Vec::new(),
        email: Some(format!("{}@example.com", full_name.to_lowercase().replace(' ', "."))),
        date_of_birth: None,
        created_at: june(1, 9),
        updated_at: june(1, 9),
    }
}

/// Builds a lead provider with this name.
pub fn lead_provider(name: &str) -> LeadProvider {
    LeadProvider {
        id: LeadProviderId::new_random(),
        name: name.to_owned(),
        created_at: june(1, 9),
        updated_at: june(1, 9),
    }
}

/// Builds a pending headship application in cohort 2025 of an eligible applicant who works in a
/// school in England, created and updated at `created_at`.
pub fn application(person: &Person, lead_provider: LeadProviderId, created_at: Timestamp) -> Application {
    Application {
        id: ApplicationId::new_random(),
        participant_id: person.participant_id,
        lead_provider_id: lead_provider,
        cohort: crate::cohort::CohortIdentifier::new(2025, 'a').unwrap_or_else(|_| unreachable!("2025a is in range")),
        course: Course::Headship,
        schedule: None,
        status: ApplicationStatus::Pending,
        training_status: None,
        reason_for_rejection: None,
        accepted_at: None,
        eligible_for_funding: true,
        funding_eligibility_status_code: Some(FundingEligibilityStatusCode::Funded),
        funding_choice: None,
        funded_place: None,
        targeted_delivery_funding_eligibility: false,
        works_in_school: Some(true),
        works_in_childcare: Some(false),
        work_setting: Some(WorkSetting::ASchool),
        kind_of_nursery: None,
        employment_type: None,
        employment_role: None,
        employer_name: None,
        headteacher_status: None,
        school_urn: "100001".parse().ok(),
        ukprn: "10012345".parse().ok(),
        private_childcare_provider_urn: None,
        itt_provider: None,
        lead_mentor: false,
        teacher_catchment: Some(TeacherCatchment::England),
        teacher_catchment_country: Some("United Kingdom of Great Britain and Northern Ireland".to_owned()),
        teacher_catchment_iso_country_code: "GBR".parse().ok(),
        senco_in_role: None,
        senco_start_date: None,
        created_at,
        updated_at: created_at,
    }
}

/// Returns whether a record with this sort value and insertion index comes after a cursor
/// position, whose record is at `after_index` in insertion order (`None` when it no longer exists,
/// in which case only later sort values follow).
fn is_after(after: ListPosition, after_index: Option<usize>, value: Timestamp, index: usize) -> bool {
    match after_index {
        Some(after_index) => (value, index) > (after.sort_value, after_index),
        None => value > after.sort_value,
    }
}
