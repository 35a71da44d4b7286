//! The declaration service: what lead providers do with declarations and outcomes, each action in
//! one transaction of the [`DeclarationStore`].

use crate::declaration::SequencingFrom;
use crate::declaration_actions::{
    Declaration, DeclarationQuery, DeclarationRequest, OutcomeQuery, OutcomeRequest, ParticipantOutcome,
    PartnerChangeRequest, plan_outcome, plan_partner_change, plan_submission, plan_void, requested_participant,
    requested_partners,
};
use crate::error::DomainError;
use crate::ids::{DeclarationId, DeliveryPartnerId, LeadProviderId, ParticipantId};
use crate::listing::PageRequest;
use crate::participant::{ParticipantIdChange, retired_participant_error};
use crate::ports::{Clock, DeclarationStore, ParticipantRepository};

/// The outcomes of one participant, or why there are none to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeLookup {
    Found(Vec<ParticipantOutcome>),
    /// DfE merged this account into another: the change that retired the id comes first, then
    /// every change into the account that replaced it.
    Retired(Vec<ParticipantIdChange>),
}

/// Submits, reads, voids and re-partners declarations, and records and reads outcomes, for one
/// lead provider at a time.
#[derive(Debug, Clone)]
pub struct DeclarationService<S, C> {
    store: S,
    clock: C,
    sequencing: SequencingFrom,
}

fn only_maker(declaration: &Declaration, lead_provider: LeadProviderId) -> Result<(), DomainError> {
    if declaration.changeable_by(lead_provider) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(format!(
            "Only {}, the lead provider that made this declaration, may change it.",
            declaration.lead_provider_name
        )))
    }
}

fn partner_ids(texts: [Option<&str>; 2]) -> Vec<DeliveryPartnerId> {
    texts.into_iter().flatten().filter_map(|text| text.trim().parse().ok()).collect()
}

impl<S: DeclarationStore + ParticipantRepository, C: Clock> DeclarationService<S, C> {
    /// Returns the service, enforcing milestone order from the default cohort.
    pub fn new(store: S, clock: C) -> Self {
        Self { store, clock, sequencing: SequencingFrom::default() }
    }

    /// Returns the service enforcing milestone order for cohorts from `sequencing`.
    pub fn with_sequencing(mut self, sequencing: SequencingFrom) -> Self {
        self.sequencing = sequencing;
        self
    }

    /// Returns the change that retired `id`, followed by every other change into the account that
    /// replaced it, if DfE merged that account into another.
    async fn retirement(&self, id: ParticipantId) -> Result<Option<Vec<ParticipantIdChange>>, DomainError> {
        Ok(self.store.find_retirement(id).await?.map(|(retirement, mut changes)| {
            changes.retain(|change| change != &retirement);
            changes.insert(0, retirement);
            changes
        }))
    }

    /// Submits a declaration (see [`plan_submission`] for the checks and their order).
    pub async fn submit(
        &self,
        lead_provider: LeadProviderId,
        request: DeclarationRequest,
    ) -> Result<Declaration, DomainError> {
        let participant = requested_participant(&request);
        let retirement = match participant {
            Some(id) => self.store.find_retirement(id).await?.map(|(retirement, _)| retirement),
            None => None,
        };
        let partners = requested_partners(&request);
        let rule = Box::new(move |context: &_| {
            plan_submission(&request, retirement.as_ref(), context).map_err(DomainError::Invalid)
        });
        self.store
            .submit_declaration(lead_provider, participant, partners, self.clock.now(), self.sequencing, rule)
            .await
    }

    /// Returns one page of the declarations the lead provider can read.
    pub async fn list(
        &self,
        lead_provider: LeadProviderId,
        query: &DeclarationQuery,
    ) -> Result<Vec<Declaration>, DomainError> {
        Ok(self.store.list_declarations(lead_provider, query).await?)
    }

    /// Returns a declaration the lead provider can read.
    pub async fn show(&self, lead_provider: LeadProviderId, id: DeclarationId) -> Result<Declaration, DomainError> {
        self.store.find_declaration(lead_provider, id).await?.ok_or(DomainError::NotFound)
    }

    /// Checks that the lead provider may change the declaration: it can read it and made it.
    pub async fn check_changeable(&self, lead_provider: LeadProviderId, id: DeclarationId) -> Result<(), DomainError> {
        only_maker(&self.show(lead_provider, id).await?, lead_provider)
    }

    /// Voids a declaration, or claws its payment back once paid. Only the provider that made it
    /// may.
    pub async fn void(&self, lead_provider: LeadProviderId, id: DeclarationId) -> Result<Declaration, DomainError> {
        let rule = Box::new(move |declaration: &Declaration, next_statement| {
            only_maker(declaration, lead_provider)?;
            plan_void(declaration, next_statement).map_err(DomainError::Invalid)
        });
        self.store.void_declaration(lead_provider, id, self.clock.now(), rule).await?.ok_or(DomainError::NotFound)
    }

    /// Changes the delivery partners of a declaration. Only the provider that made it may.
    pub async fn change_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        id: DeclarationId,
        request: PartnerChangeRequest,
    ) -> Result<Declaration, DomainError> {
        let partners =
            partner_ids([request.delivery_partner_id.as_deref(), request.secondary_delivery_partner_id.as_deref()]);
        let rule = Box::new(move |context: &crate::declaration_actions::PartnerChangeContext| {
            only_maker(&context.declaration, lead_provider)?;
            plan_partner_change(&request, context).map_err(DomainError::Invalid)
        });
        self.store
            .change_delivery_partners(lead_provider, id, partners, self.clock.now(), rule)
            .await?
            .ok_or(DomainError::NotFound)
    }

    /// Records an outcome for the lead provider's participant (see [`plan_outcome`]). A retired
    /// participant id is refused with the id that replaced it.
    pub async fn record_outcome(
        &self,
        lead_provider: LeadProviderId,
        participant: ParticipantId,
        request: OutcomeRequest,
    ) -> Result<ParticipantOutcome, DomainError> {
        if let Some(changes) = self.retirement(participant).await?
            && let Some(retirement) = changes.first()
        {
            return Err(DomainError::Invalid(vec![retired_participant_error(retirement)]));
        }
        let today = self.clock.now().date_naive();
        let rule =
            Box::new(move |completed: &[_]| plan_outcome(&request, completed, today).map_err(DomainError::Invalid));
        self.store
            .record_outcome(lead_provider, participant, self.clock.now(), rule)
            .await?
            .ok_or(DomainError::NotFound)
    }

    /// Returns one page of the outcomes of declarations the lead provider made.
    pub async fn list_outcomes(
        &self,
        lead_provider: LeadProviderId,
        query: &OutcomeQuery,
    ) -> Result<Vec<ParticipantOutcome>, DomainError> {
        Ok(self.store.list_outcomes(lead_provider, query).await?)
    }

    /// Returns one page of the outcomes of one of the lead provider's participants. A retired id is
    /// reported first; a person who is not the provider's participant is [`DomainError::NotFound`].
    pub async fn participant_outcomes(
        &self,
        lead_provider: LeadProviderId,
        participant: ParticipantId,
        page: PageRequest,
    ) -> Result<OutcomeLookup, DomainError> {
        if let Some(changes) = self.retirement(participant).await? {
            return Ok(OutcomeLookup::Retired(changes));
        }
        if self.store.find_participant(lead_provider, participant).await?.is_none() {
            return Err(DomainError::NotFound);
        }
        let query = OutcomeQuery { participant_id: Some(participant), created_since: None, page };
        Ok(OutcomeLookup::Found(self.store.list_outcomes(lead_provider, &query).await?))
    }
}
