//! A test harness for the API over the real store: reference data, tokens for several lead
//! providers and DfE staff, open statements with contracts so that declarations can be made, and
//! helpers to store participants and send requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, Utc};
use npq_api::ApiState;
use npq_domain::application::{Application, ApplicationStatus, TeacherCatchment, TrainingStatus};
use npq_domain::auth::{PlainToken, TokenKey};
use npq_domain::cohort::CohortIdentifier;
use npq_domain::course::Course;
use npq_domain::ids::{DeliveryPartnerId, LeadProviderId, StatementId};
use npq_domain::payment::{ContractTerms, Pence};
use npq_domain::person::Person;
use npq_domain::ports::SystemClock;
use npq_domain::schedule::ScheduleIdentifier;
use npq_domain::statement::{Statement, StatementState};
use npq_store_seaorm::seed::{ReferenceData, reference_data};
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use poem::http::Method;
use poem::test::TestClient;
use rand::SeedableRng;
use serde_json::{Value, json};

pub type Client = TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>;

pub const DECLARATIONS: &str = "/api/v3/participant-declarations";

/// The cohorts that get an open output statement with a contract for every course, for each lead
/// provider with a token.
pub const STATEMENT_COHORTS: [&str; 3] = ["2023a", "2024a", "2025a"];

pub struct Api {
    pub client: Client,
    /// A token of each of the first lead providers, in the reference data's order.
    pub tokens: Vec<(LeadProviderId, PlainToken)>,
    pub admin: PlainToken,
    pub reference: ReferenceData,
    pub database: TestDatabase,
    next_trn: AtomicU32,
}

/// How a test participant's accepted application is set up.
#[derive(Debug, Clone, Copy)]
pub struct Enrolment {
    pub provider: usize,
    pub cohort: &'static str,
    pub course: Course,
    pub schedule: ScheduleIdentifier,
    pub funded: bool,
}

impl Default for Enrolment {
    fn default() -> Self {
        Self {
            provider: 0,
            cohort: "2025a",
            course: Course::Headship,
            schedule: ScheduleIdentifier::LeadershipAutumn,
            funded: true,
        }
    }
}

pub fn cohort(text: &str) -> CohortIdentifier {
    text.parse().expect("a valid cohort identifier")
}

impl Api {
    /// Creates a database on `backend` with the reference data, a token for each of the first
    /// `providers` lead providers and an admin token, and an open statement of each of those
    /// providers in each of [`STATEMENT_COHORTS`].
    pub async fn new(backend: Backend, providers: usize) -> Self {
        let database = TestDatabase::create(backend).await;
        let reference = reference_data(6);
        database.store.insert_reference_data(&reference).await.expect("reference data is stored");
        let key = TokenKey::derive(&[9u8; 32]).expect("a valid key");
        let state = ApiState::over(database.store.clone(), key, Arc::new(SystemClock));
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
        let mut tokens = Vec::new();
        for provider in reference.lead_providers.iter().take(providers) {
            let (_, provider, token) =
                state.tokens.issue_lead_provider_token(&provider.name, None, &mut rng).await.expect("a token");
            tokens.push((provider.id, token));
        }
        let (_, admin) =
            state.tokens.issue_admin_token("jo.bloggs@education.gov.uk", &mut rng).await.expect("an admin token");
        let client = TestClient::new(poem::EndpointExt::boxed(npq_api::routes(state)));
        let api = Self { client, tokens, admin, reference, database, next_trn: AtomicU32::new(6_000_000) };
        for provider in 0..providers {
            for cohort_text in STATEMENT_COHORTS {
                api.statement(provider, cohort_text).await;
            }
        }
        api
    }

    /// Stores an open output statement of the provider in the cohort, due in 30 days, with a
    /// contract for every course.
    pub async fn statement(&self, provider: usize, cohort_text: &str) -> StatementId {
        let deadline = Utc::now().date_naive() + Duration::days(30);
        let provider_id = self.tokens[provider].0;
        let statement = Statement {
            id: StatementId::new_random(),
            lead_provider: provider_id,
            cohort: cohort(cohort_text),
            year: chrono::Datelike::year(&deadline),
            month: chrono::Datelike::month(&deadline),
            deadline_date: Some(deadline),
            payment_date: Some(deadline + Duration::days(20)),
            output_fee: true,
            state: StatementState::Open,
            marked_as_paid_at: None,
            reconcile_amount: Pence::ZERO,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let contracts: Vec<ContractTerms> = Course::ALL
            .iter()
            .map(|course| ContractTerms::preset(provider_id, cohort(cohort_text), *course, Pence(80_000), 72, 19))
            .collect();
        self.database
            .store
            .insert_statements(std::slice::from_ref(&statement), &contracts)
            .await
            .expect("the statement is stored");
        statement.id
    }

    /// Stores a person with a TRN of their own and an accepted application set up as
    /// `enrolment`, and returns both.
    pub async fn participant(&self, enrolment: Enrolment) -> (Person, Application) {
        let person = self.person();
        let application = self.accepted_application(&person, enrolment);
        self.database.store.insert_people(std::slice::from_ref(&person)).await.expect("the person is stored");
        self.database
            .store
            .insert_applications(std::slice::from_ref(&application))
            .await
            .expect("the application is stored");
        (person, application)
    }

    /// Returns a new person with a TRN no other test person has.
    pub fn person(&self) -> Person {
        let mut person = npq_domain::testing::person("Sam Example");
        person.trn = self.next_trn.fetch_add(1, Ordering::Relaxed).to_string().parse().ok();
        person
    }

    /// Returns an accepted, active application of `person` set up as `enrolment`, created 500
    /// days ago.
    pub fn accepted_application(&self, person: &Person, enrolment: Enrolment) -> Application {
        let created = Utc::now() - Duration::days(500);
        let mut application = npq_domain::testing::application(person, self.tokens[enrolment.provider].0, created);
        application.cohort = cohort(enrolment.cohort);
        application.course = enrolment.course;
        application.schedule = Some(enrolment.schedule);
        application.status = ApplicationStatus::Accepted;
        application.accepted_at = Some(created);
        application.training_status = Some(TrainingStatus::Active);
        application.funded_place = Some(enrolment.funded);
        application.eligible_for_funding = enrolment.funded;
        application.targeted_delivery_funding_eligibility = true;
        application.teacher_catchment = Some(TeacherCatchment::England);
        application
    }

    /// Returns the delivery partners that work with the provider in the cohort.
    pub fn partners(&self, provider: usize, cohort_text: &str) -> Vec<DeliveryPartnerId> {
        let provider_id = self.tokens[provider].0;
        self.reference
            .partnerships
            .iter()
            .filter(|partnership| partnership.lead_provider == provider_id && partnership.cohort == cohort(cohort_text))
            .map(|partnership| partnership.delivery_partner)
            .collect()
    }

    /// Sends a request with the provider's token and returns the status and the JSON body
    /// (`null` when the body is not JSON).
    pub async fn send(&self, method: Method, provider: usize, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send_with(method, &self.tokens[provider].1, path, body).await
    }

    pub async fn send_with(&self, method: Method, token: &PlainToken, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, path)
            .header("Authorization", format!("Bearer {}", token.expose()))
            .header("Content-Type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await;
        let status = response.0.status().as_u16();
        let text = response.0.into_body().into_string().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn declare(&self, provider: usize, attributes: Value) -> (u16, Value) {
        let body = json!({"data": {"type": "participant-declaration", "attributes": attributes}});
        self.send(Method::POST, provider, DECLARATIONS, Some(body)).await
    }

    /// Declares and expects success, returning the declaration's id and attributes.
    pub async fn declared(&self, provider: usize, attributes: Value) -> (String, Value) {
        let (status, body) = self.declare(provider, attributes).await;
        assert_eq!(status, 200, "{body}");
        (body["data"]["id"].as_str().unwrap_or_default().to_owned(), body["data"]["attributes"].clone())
    }
}

/// Returns the attributes of a headship declaration of `declaration_type` on `date` for the person,
/// naming `partner`.
pub fn declaration(person: &Person, declaration_type: &str, date: &str, partner: Option<DeliveryPartnerId>) -> Value {
    let mut attributes = json!({
        "participant_id": person.participant_id.to_string(),
        "declaration_type": declaration_type,
        "declaration_date": date,
        "course_identifier": "npq-headship",
    });
    if let Some(partner) = partner {
        attributes["delivery_partner_id"] = json!(partner.to_string());
    }
    attributes
}

/// Returns the title of the first error of an error list body, or an empty string.
pub fn first_title(body: &Value) -> String {
    body["errors"][0]["title"].as_str().unwrap_or_default().to_owned()
}

impl Api {
    /// Returns the statement lines of a declaration, as kind and state, oldest first.
    pub async fn statement_lines(&self, declaration_id: &str) -> Vec<(String, String)> {
        use npq_store_seaorm::entity::{declaration, statement_item};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

        let public_id: uuid::Uuid = declaration_id.parse().expect("a declaration id");
        let connection = self.database.store.connection();
        let row = declaration::Entity::find()
            .filter(declaration::Column::PublicId.eq(public_id))
            .one(connection)
            .await
            .expect("the declarations table can be read")
            .unwrap_or_else(|| panic!("declaration {declaration_id} is not stored"));
        statement_item::Entity::find()
            .filter(statement_item::Column::DeclarationId.eq(row.id))
            .order_by_asc(statement_item::Column::Id)
            .all(connection)
            .await
            .expect("the statement lines can be read")
            .into_iter()
            .map(|line| (line.kind, line.state))
            .collect()
    }
}
