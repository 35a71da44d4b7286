//! Statements over HTTP and the real store, on SQLite and PostgreSQL. The tests cover what lead
//! providers see of their statements and DfE staff's statement operations with their checks. One
//! test follows a declaration from submission through payment to its clawback, with a clock the
//! test moves.

use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, TimeZone, Utc};
use npq_api::ApiState;
use npq_domain::Timestamp;
use npq_domain::application::{ApplicationStatus, TrainingStatus};
use npq_domain::auth::{PlainToken, TokenKey};
use npq_domain::course::Course;
use npq_domain::ids::LeadProviderId;
use npq_domain::ports::{Clock, LeadProviderRepository};
use npq_domain::schedule::ScheduleIdentifier;
use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::reference_data;
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use poem::http::Method;
use poem::test::TestClient;
use rand::SeedableRng;
use serde_json::{Value, json};

type Client = TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>;

/// A clock the test sets.
struct TestClock(Mutex<Timestamp>);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

struct Api {
    client: Client,
    clock: Arc<TestClock>,
    ambition: (LeadProviderId, PlainToken),
    teach_first: (LeadProviderId, PlainToken),
    admin: PlainToken,
    database: TestDatabase,
}

fn at(text: &str) -> Timestamp {
    let date: NaiveDate = text.parse().unwrap();
    Utc.from_utc_datetime(&date.and_hms_opt(10, 0, 0).unwrap())
}

async fn api(backend: Backend) -> Api {
    let database = TestDatabase::create(backend).await;
    database.store.insert_reference_data(&reference_data(6)).await.unwrap();
    let clock = Arc::new(TestClock(Mutex::new(at("2025-08-01"))));
    let state = ApiState::over(database.store.clone(), TokenKey::derive(&[7u8; 32]).unwrap(), clock.clone());
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(12);
    let (_, ambition, ambition_token) =
        state.tokens.issue_lead_provider_token("Ambition Institute", None, &mut rng).await.unwrap();
    let (_, teach_first, teach_first_token) =
        state.tokens.issue_lead_provider_token("Teach First", None, &mut rng).await.unwrap();
    let (_, admin) = state.tokens.issue_admin_token("priya.shah@education.gov.uk", &mut rng).await.unwrap();
    let client = TestClient::new(poem::EndpointExt::boxed(npq_api::routes(state)));
    Api {
        client,
        clock,
        ambition: (ambition.id, ambition_token),
        teach_first: (teach_first.id, teach_first_token),
        admin,
        database,
    }
}

impl Api {
    fn set_date(&self, text: &str) {
        *self.clock.0.lock().unwrap() = at(text);
    }

    async fn send(&self, method: Method, token: Option<&PlainToken>, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, path).header("Content-Type", "application/json");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {}", token.expose()));
        }
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await;
        let status = response.0.status().as_u16();
        let text = response.0.into_body().into_string().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send(method, Some(&self.admin), &format!("/api/admin/v1{path}"), body).await
    }

    async fn ambition(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send(method, Some(&self.ambition.1), &format!("/api/v3{path}"), body).await
    }

    /// Creates a statement through the admin API and returns its id.
    async fn create_statement(&self, attributes: Value) -> String {
        let (status, body) =
            self.admin(Method::POST, "/statements", Some(json!({"data": {"attributes": attributes}}))).await;
        assert_eq!(status, 200, "{body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }
}

fn statement(
    provider: LeadProviderId,
    cohort: &str,
    year: i32,
    month: u32,
    deadline: &str,
    payment: Option<&str>,
) -> Value {
    json!({
        "lead_provider_id": provider.to_string(),
        "cohort": cohort,
        "year": year,
        "month": month,
        "deadline_date": deadline,
        "payment_date": payment,
    })
}

fn ids(body: &Value) -> Vec<String> {
    body["data"].as_array().unwrap().iter().map(|entry| entry["id"].as_str().unwrap().to_owned()).collect()
}

fn titles(body: &Value) -> Vec<String> {
    body["errors"].as_array().unwrap().iter().map(|error| error["title"].as_str().unwrap().to_owned()).collect()
}

async fn lead_providers_see_their_output_fee_statements(backend: Backend) {
    let api = api(backend).await;
    let ambition = api.ambition.0;
    let december = api.create_statement(statement(ambition, "2025", 2025, 12, "2025-11-25", Some("2025-12-19"))).await;
    let october = api.create_statement(statement(ambition, "2024a", 2025, 10, "2025-09-25", Some("2025-10-24"))).await;
    let undated = api.create_statement(statement(ambition, "2025a", 2026, 1, "2025-12-20", None)).await;
    let mut service_fee = statement(ambition, "2025a", 2025, 11, "2025-10-25", Some("2025-11-25"));
    service_fee["output_fee"] = json!(false);
    let service_fee = api.create_statement(service_fee).await;
    let others =
        api.create_statement(statement(api.teach_first.0, "2025a", 2025, 11, "2025-10-25", Some("2025-11-25"))).await;

    let (status, body) = api.ambition(Method::GET, "/statements", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [october.as_str(), december.as_str(), undated.as_str()]);
    assert_eq!(
        body["data"][0],
        json!({
            "id": october,
            "type": "statement",
            "attributes": {
                "month": "October",
                "year": "2025",
                "cohort": "2024",
                "cut_off_date": "2025-09-25",
                "payment_date": "2025-10-24",
                "paid": false,
                "created_at": "2025-08-01T10:00:00Z",
                "updated_at": "2025-08-01T10:00:00Z",
            }
        })
    );
    let keys: Vec<&String> = body["data"][0]["attributes"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["month", "year", "cohort", "cut_off_date", "payment_date", "paid", "created_at", "updated_at"]);
    assert_eq!(body["data"][2]["attributes"]["payment_date"], Value::Null);

    let (_, body) = api.ambition(Method::GET, "/statements?filter[cohort]=2025", None).await;
    assert_eq!(ids(&body), [december.as_str(), undated.as_str()]);
    let (_, body) =
        api.ambition(Method::GET, "/statements?filter[cohort]=2024,2025a&page[per_page]=2&page[page]=2", None).await;
    assert_eq!(ids(&body), [undated.as_str()]);
    api.set_date("2025-08-02");
    let (status, _) = api
        .admin(
            Method::PUT,
            &format!("/statements/{december}/change-dates"),
            Some(json!({"data": {"attributes": {"payment_date": "2025-12-22"}}})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = api.ambition(Method::GET, "/statements?filter[updated_since]=2025-08-02T00:00:00Z", None).await;
    assert_eq!(ids(&body), [december.as_str()]);
    let (_, body) = api.ambition(Method::GET, "/statements?page[page]=9", None).await;
    assert_eq!(body, json!({"data": []}));
    for bad in ["filter[cohort]=twenty", "filter[updated_since]=yesterday", "page[per_page]=0", "filter=2025"] {
        let (status, body) = api.ambition(Method::GET, &format!("/statements?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(titles(&body), ["Bad request"], "{bad}");
    }

    let (status, shown) = api.ambition(Method::GET, &format!("/statements/{october}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(shown["data"]["id"], october.as_str());
    for hidden in [others.as_str(), service_fee.as_str(), "123XXX", "00000000-0000-0000-0000-000000000000"] {
        let (status, body) = api.ambition(Method::GET, &format!("/statements/{hidden}"), None).await;
        assert_eq!(status, 404, "{hidden}");
        assert_eq!(body, json!({"error": "Not found"}));
    }
    let (status, _) = api.send(Method::GET, None, "/api/v3/statements", None).await;
    assert_eq!(status, 401);
    let (status, _) = api.send(Method::GET, Some(&api.admin), "/api/v3/statements", None).await;
    assert_eq!(status, 401, "an admin token is not a lead provider token");
}

async fn admin_statement_requests_are_checked_in_order(backend: Backend) {
    let api = api(backend).await;
    let ambition = api.ambition.0;
    let september = api.create_statement(statement(ambition, "2023a", 2025, 9, "2025-08-25", Some("2025-09-25"))).await;

    let (status, _) =
        api.send(Method::GET, Some(&api.ambition.1), &format!("/api/admin/v1/statements/{september}"), None).await;
    assert_eq!(status, 401, "a lead provider token is not an admin token");
    let unknown = "00000000-0000-0000-0000-000000000001";
    let (status, _) = api.admin(Method::PUT, &format!("/statements/{unknown}/contracts"), Some(json!({}))).await;
    assert_eq!(status, 404, "an unknown statement is reported before a bad body");
    let (status, _) = api.admin(Method::POST, "/statements/not-a-uuid/mark-paid", None).await;
    assert_eq!(status, 404);
    let (status, body) =
        api.admin(Method::PUT, &format!("/statements/{september}/contracts"), Some(json!({"data": {}}))).await;
    assert_eq!(status, 400, "{body}");
    let contract = json!({"data": {"attributes": {"course": "npq-juggling", "per_participant_pence": 0}}});
    let (status, body) = api.admin(Method::PUT, &format!("/statements/{september}/contracts"), Some(contract)).await;
    assert_eq!(status, 422);
    assert_eq!(titles(&body), ["course", "recruitment_target", "service_fee_instalments"]);
    let contract = json!({"data": {"attributes": {"course": "npq-headship", "per_participant_pence": 0, "recruitment_target": 10, "service_fee_instalments": 24}}});
    let (status, body) = api.admin(Method::PUT, &format!("/statements/{september}/contracts"), Some(contract)).await;
    assert_eq!(status, 422);
    assert_eq!(titles(&body), ["per_participant"]);

    let (status, body) = api
        .admin(
            Method::POST,
            "/statements",
            Some(json!({"data": {"attributes": statement(ambition, "2023a", 2025, 9, "2025-08-20", None)}})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(titles(&body), ["base"], "one statement per provider, cohort and month");
    let crossed = statement(ambition, "2023a", 2025, 13, "2025-10-20", Some("2025-10-01"));
    let (status, body) = api.admin(Method::POST, "/statements", Some(json!({"data": {"attributes": crossed}}))).await;
    assert_eq!(status, 422);
    assert_eq!(titles(&body), ["month", "payment_date"]);

    let (status, body) = api.admin(Method::POST, &format!("/statements/{september}/mark-payable"), None).await;
    assert_eq!(status, 422, "the deadline has not passed on 1 August");
    assert_eq!(titles(&body), ["deadline_date"]);
    let (status, body) = api
        .admin(
            Method::POST,
            &format!("/statements/{september}/adjustments"),
            Some(json!({"data": {"attributes": {"description": " ", "amount_pence": 0}}})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(titles(&body), ["description", "amount"]);

    let (status, body) =
        api.admin(Method::GET, &format!("/statements?filter[lead_provider_id]={ambition}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), [september.as_str()]);
    assert_eq!(body["data"][0]["attributes"]["state"], "open");
    let (status, _) = api.admin(Method::GET, "/statements?filter[lead_provider_id]=abc", None).await;
    assert_eq!(status, 400);
}

async fn a_declaration_is_paid_and_clawed_back_over_http(backend: Backend) {
    let api = api(backend).await;
    let ambition = api.ambition.0;
    let september = api.create_statement(statement(ambition, "2023a", 2025, 9, "2025-08-25", Some("2025-09-25"))).await;
    let october = api.create_statement(statement(ambition, "2023a", 2025, 10, "2025-09-25", Some("2025-10-24"))).await;
    // The worked example's terms: £800 per participant, 60% output over 3 periods, 40% service
    // fee over 19 instalments and a target of 72.
    let contract = json!({"data": {"attributes": {
        "course": "npq-senior-leadership",
        "per_participant_pence": 80000,
        "recruitment_target": 72,
        "service_fee_instalments": 19,
        "number_of_payment_periods": 3,
    }}});
    for statement in [&september, &october] {
        let (status, body) =
            api.admin(Method::PUT, &format!("/statements/{statement}/contracts"), Some(contract.clone())).await;
        assert_eq!(status, 200, "{body}");
    }

    let person = npq_domain::testing::person("Grace Hopper");
    let mut application = npq_domain::testing::application(&person, ambition, at("2023-06-01"));
    application.cohort = "2023a".parse().unwrap();
    application.course = Course::SeniorLeadership;
    application.status = ApplicationStatus::Accepted;
    application.training_status = Some(TrainingStatus::Active);
    application.schedule = Some(ScheduleIdentifier::LeadershipAutumn);
    application.accepted_at = Some(at("2023-06-02"));
    application.targeted_delivery_funding_eligibility = true;
    api.database.store.insert_people(std::slice::from_ref(&person)).await.unwrap();
    api.database.store.insert_applications(std::slice::from_ref(&application)).await.unwrap();

    api.set_date("2025-08-10");
    let declaration = json!({"data": {"type": "participant-declaration", "attributes": {
        "participant_id": person.participant_id.to_string(),
        "declaration_type": "started",
        "declaration_date": "2025-08-01T10:00:00Z",
        "course_identifier": "npq-senior-leadership",
    }}});
    let (status, body) = api.ambition(Method::POST, "/participant-declarations", Some(declaration)).await;
    assert_eq!(status, 200, "{body}");
    let declaration_id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["attributes"]["state"], "eligible");
    assert_eq!(body["data"]["attributes"]["statement_id"], september.as_str());

    // Three days after the deadline, the job still catches the statement.
    api.set_date("2025-08-28");
    let (status, body) = api.admin(Method::POST, "/statements/run-deadlines", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["today"], "2025-08-28");
    assert_eq!(body["data"]["marked"], json!([{"statement_id": september, "declarations": 1}]));
    let (_, body) =
        api.ambition(Method::GET, "/participant-declarations?filter[updated_since]=2025-08-28T00:00:00Z", None).await;
    assert_eq!(ids(&body), [declaration_id.as_str()], "the declaration shows a new updated_at");
    assert_eq!(body["data"][0]["attributes"]["state"], "payable");
    assert_eq!(body["data"][0]["attributes"]["updated_at"], "2025-08-28T10:00:00Z");

    api.set_date("2025-09-01");
    let (status, body) = api.admin(Method::POST, &format!("/statements/{september}/mark-paid"), None).await;
    assert_eq!(status, 200, "{body}");
    let attributes = &body["data"]["attributes"];
    assert_eq!(attributes["state"], "paid");
    assert_eq!(attributes["marked_as_paid_at"], "2025-09-01T10:00:00Z");
    assert_eq!(attributes["calculation"]["totals"]["total"], json!({"pence": 147263, "pounds": "£1472.63"}));
    assert_eq!(attributes["items"], json!([{"kind": "output", "state": "paid", "count": 1}]));
    let (_, body) = api.ambition(Method::GET, &format!("/statements/{september}"), None).await;
    assert_eq!(body["data"]["attributes"]["paid"], true);
    assert_eq!(body["data"]["attributes"]["updated_at"], "2025-09-01T10:00:00Z");

    api.set_date("2025-09-05");
    let (status, body) =
        api.ambition(Method::PUT, &format!("/participant-declarations/{declaration_id}/void"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["state"], "awaiting-clawback");
    assert_eq!(body["data"]["attributes"]["clawback_statement_id"], october.as_str());

    api.set_date("2025-09-26");
    let (_, body) = api.admin(Method::POST, "/statements/run-deadlines", None).await;
    assert_eq!(body["data"]["marked"], json!([{"statement_id": october, "declarations": 0}]));
    let (status, body) = api.admin(Method::POST, &format!("/statements/{october}/mark-paid"), None).await;
    assert_eq!(status, 200, "{body}");
    let totals = &body["data"]["attributes"]["calculation"]["totals"];
    assert_eq!(totals["clawbacks"], json!({"pence": 26000, "pounds": "£260.00"}));
    assert_eq!(totals["total"], json!({"pence": 95263, "pounds": "£952.63"}));
    let (_, body) = api.ambition(Method::GET, &format!("/participant-declarations/{declaration_id}"), None).await;
    assert_eq!(body["data"]["attributes"]["state"], "clawed-back");
    assert_eq!(body["data"]["attributes"]["updated_at"], "2025-09-26T10:00:00Z");
    let providers = api.database.store.list_lead_providers().await.unwrap();
    assert!(providers.iter().any(|provider| provider.id == ambition));
}

backend_tests!(
    lead_providers_see_their_output_fee_statements,
    admin_statement_requests_are_checked_in_order,
    a_declaration_is_paid_and_clawed_back_over_http,
);
