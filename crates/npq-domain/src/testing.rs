//! Test doubles for the ports and sample records, shared by this crate's tests and by other
//! crates' tests through the `testing` feature.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::TimeZone;

use crate::application::{
    Application, ApplicationStatus, FundingEligibilityStatusCode, FundingHistoryEntry, TeacherCatchment, WorkSetting,
};
use crate::auth::{ApiToken, TokenDigest};
use crate::course::Course;
use crate::ids::{ApiTokenId, ApplicationId, LeadProviderId, ParticipantId};
use crate::listing::{ApplicationQuery, Direction, SortField};
use crate::person::Person;
use crate::ports::{ApplicationRepository, Clock, LeadProviderRepository, TokenRepository};
use crate::provider::LeadProvider;
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
}

impl MemoryStore {
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
