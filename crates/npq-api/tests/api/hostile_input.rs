//! Hostile input: whatever a client sends as a body or a query string, the parsers return a value
//! or an error and never panic, and every write operation of the three APIs responds to a huge,
//! deeply nested, malformed or wrongly typed JSON body with a 4xx in the documented error shapes.

use npq_api::admin::lead_providers::{AllowedNetworksAttributes, read_networks};
use npq_api::admin::requests;
use npq_api::body::{JsonBody, OptionalBody, RequiredBody};
use npq_api::error::ApiError;
use npq_api::listing::ListRequest;
use npq_api::query::{check_filter_shape, decode_query};
use npq_api::resources::application_decisions::{accept_request, funded_place};
use npq_api::resources::participant_actions::{
    ChangeScheduleAttributes, DeferAttributes, ResumeAttributes, WithdrawAttributes, action_request,
};
use npq_domain::course::Course;
use npq_domain::declaration::DeclarationState;
use npq_domain::declaration_actions::Declaration;
use npq_domain::ids::DeclarationId;
use npq_domain::schedule::{DeclarationType, ScheduleIdentifier};
use poem::http::{Method, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::common::*;

/// Returns any JSON value up to a few levels deep, with the keys the body parsers look for among
/// random ones.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |number| number.is_finite()).prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(vec![
                "data",
                "attributes",
                "type",
                "funded_place",
                "schedule_identifier",
                "course_identifier",
                "reason",
                "cohort",
                "note",
                "networks",
                "participant_id",
                "from_participant_id",
                "lead_provider_id",
                "training_status",
                "eligible_for_funding",
                "created_before",
                "limit",
            ])
            .prop_map(str::to_owned),
            ".{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect::<serde_json::Map<_, _>>())),
        ]
    })
}

/// Returns a body whose `data.attributes` is `attributes`, so that the operation parsers see it.
fn enveloped(attributes: Value) -> Vec<u8> {
    json!({"data": {"type": "anything", "attributes": attributes}}).to_string().into_bytes()
}

/// Asserts that a parser's error is a 400 or a 422, the only errors a body can cause.
fn assert_client_error(result: Result<(), ApiError>, context: &str) -> Result<(), TestCaseError> {
    if let Err(error) = result {
        let status = error.status();
        prop_assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{context}: {error:?} is {status}"
        );
    }
    Ok(())
}

/// Runs every body parser of the three APIs over `bytes`.
fn parse_with_every_operation(bytes: &[u8]) -> Result<(), TestCaseError> {
    assert_client_error(accept_request(&OptionalBody::from_bytes(bytes)).map(drop), "accept")?;
    assert_client_error(funded_place(&RequiredBody::from_bytes(bytes)).map(drop), "change funded place")?;
    let defer: RequiredBody<DeferAttributes> = JsonBody::from_bytes(bytes);
    assert_client_error(action_request(&defer).map(drop), "defer")?;
    let withdraw: RequiredBody<WithdrawAttributes> = JsonBody::from_bytes(bytes);
    assert_client_error(action_request(&withdraw).map(drop), "withdraw")?;
    let resume: RequiredBody<ResumeAttributes> = JsonBody::from_bytes(bytes);
    assert_client_error(action_request(&resume).map(drop), "resume")?;
    let change_schedule: RequiredBody<ChangeScheduleAttributes> = JsonBody::from_bytes(bytes);
    assert_client_error(action_request(&change_schedule).map(drop), "change schedule")?;
    assert_client_error(requests::revert_to_pending(&JsonBody::from_bytes(bytes)).map(drop), "revert to pending")?;
    assert_client_error(requests::change_cohort(&JsonBody::from_bytes(bytes)).map(drop), "change cohort")?;
    assert_client_error(
        requests::change_funding_eligibility(&JsonBody::from_bytes(bytes)).map(drop),
        "change funding eligibility",
    )?;
    assert_client_error(requests::change_lead_provider(&JsonBody::from_bytes(bytes)).map(drop), "change provider")?;
    assert_client_error(
        requests::change_training_status(&JsonBody::from_bytes(bytes)).map(drop),
        "change training status",
    )?;
    assert_client_error(requests::reject(&JsonBody::from_bytes(bytes)).map(drop), "admin reject")?;
    assert_client_error(requests::merge_participants(&JsonBody::from_bytes(bytes)).map(drop), "merge")?;
    assert_client_error(requests::expire(&JsonBody::from_bytes(bytes)).map(drop), "expire")?;
    let networks: RequiredBody<AllowedNetworksAttributes> = JsonBody::from_bytes(bytes);
    assert_client_error(read_networks(&networks).map(drop), "allowed networks")?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn body_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        parse_with_every_operation(&bytes)?;
    }

    #[test]
    fn json_bodies_never_panic(body in json_value()) {
        parse_with_every_operation(body.to_string().as_bytes())?;
    }

    #[test]
    fn json_attributes_never_panic(attributes in json_value()) {
        parse_with_every_operation(&enveloped(attributes))?;
    }

    #[test]
    fn attributes_are_a_non_empty_object(body in json_value()) {
        let parsed = OptionalBody::<DeferAttributes>::from_bytes(body.to_string()).attributes();
        match parsed {
            Ok(Some(_)) => {
                let attributes = &body["data"]["attributes"];
                prop_assert!(attributes.as_object().is_some_and(|map| !map.is_empty()), "{}", body);
            }
            Ok(None) => prop_assert!(body.get("data").is_none_or(Value::is_null), "{}", body),
            Err(error) => prop_assert_eq!(error.status(), StatusCode::BAD_REQUEST),
        }
    }

    #[test]
    fn query_strings_never_panic(query in prop_oneof![".{0,64}", "([a-z_\\[\\]%0-9A-F=&+,:.-]|%[0-9A-Fa-f]{2}){0,40}"]) {
        if let Ok(pairs) = decode_query(&query) {
            let _ = check_filter_shape(&pairs);
        }
        // A query the HTTP layer would not accept cannot reach the list parsers.
        if let Ok(uri) = format!("/api/v3/npq-applications?{query}").parse::<poem::http::Uri>() {
            let request = poem::Request::builder().uri(uri).finish();
            if let Ok(list) = ListRequest::from_request(&request) {
                for name in ["cohort", "participant_id", "updated_since", "delivery_partner_id"] {
                    let _ = list.nested_filter(name);
                }
            }
        }
    }
}

/// Returns a wrongly typed value for a property of the given JSON schema type.
fn wrong_value(schema_type: Option<&str>) -> Value {
    match schema_type {
        Some("string") => json!(12345),
        Some("boolean") => json!(2),
        Some("integer" | "number") => json!("ten"),
        Some("array") => json!({"item": 1}),
        _ => json!([[1]]),
    }
}

/// A write operation of one of the three APIs, with the token it needs.
struct WriteOperation {
    method: Method,
    path: String,
    token: &'static str,
    /// The documented attributes of the body, with their JSON types.
    attributes: Vec<(String, Option<String>)>,
    body_required: bool,
}

/// Follows a local `$ref`.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => document.pointer(reference.trim_start_matches('#')).unwrap_or(schema),
        None => schema,
    }
}

/// Returns every operation of the three documents that takes a body, with `{id}` filled in by
/// `id_for(path)`.
fn write_operations(id_for: impl Fn(&str) -> String) -> Vec<WriteOperation> {
    let documents = [
        (npq_api::openapi_document_json(), TOKEN),
        (npq_api::admin_openapi_document_json(), ADMIN_TOKEN),
        (npq_api::registration_openapi_document_json(), REGISTRATION_TOKEN),
    ];
    let mut operations = Vec::new();
    for (text, token) in documents {
        let document: Value = serde_json::from_str(&text).expect("the document is JSON");
        for (path, methods) in document["paths"].as_object().expect("paths") {
            for (method, operation) in methods.as_object().expect("methods") {
                let Some(body) = operation.get("requestBody") else { continue };
                let envelope = resolve(&document, &body["content"]["application/json"]["schema"]);
                let attributes_schema = resolve(&document, &envelope["properties"]["data"]["properties"]["attributes"]);
                let attributes = attributes_schema["properties"]
                    .as_object()
                    .map(|properties| {
                        properties
                            .iter()
                            .map(|(name, schema)| {
                                let schema = resolve(&document, schema);
                                (name.clone(), schema["type"].as_str().map(str::to_owned))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                operations.push(WriteOperation {
                    method: method.to_uppercase().parse().expect("an HTTP method"),
                    path: path.replace("{id}", &id_for(path)),
                    token,
                    attributes,
                    body_required: body["required"] == true,
                });
            }
        }
    }
    assert!(operations.len() >= 15, "every write operation of the three APIs: {}", operations.len());
    operations
}

/// A fixture with one accepted application of the provider and a declaration on it, and the ids
/// that fill the paths of every write operation.
fn fixture_with_records() -> (Fixture, impl Fn(&str) -> String) {
    let sam = person_with_trn("Sam Example", "1234567");
    let participant = sam.participant_id;
    let fixture = Fixture::with_applications(|provider, _| {
        let application = application_in(&sam, provider, "2025a", Course::Headship);
        vec![(accepted(application, ScheduleIdentifier::LeadershipAutumn, Some(true)), sam.clone())]
    });
    let application = fixture.id(0);
    let declaration = Declaration {
        id: DeclarationId::new_random(),
        participant_id: participant,
        application_id: application,
        course: Course::Headship,
        cohort: "2025a".parse().expect("a cohort"),
        lead_provider_id: fixture.provider,
        lead_provider_name: "Teach First".to_owned(),
        declaration_type: DeclarationType::Started,
        declaration_date: june(20, 9),
        state: DeclarationState::Submitted,
        ineligibility_reason: None,
        superseded_by: None,
        delivery_partner: None,
        secondary_delivery_partner: None,
        statement_id: None,
        clawback_statement_id: None,
        latest_outcome: None,
        targeted_delivery_funding: false,
        created_at: june(20, 9),
        updated_at: june(20, 9),
    };
    let declaration_id = declaration.id;
    fixture.store.stored_declarations.lock().unwrap().push(declaration);
    let provider = fixture.provider;
    let id_for = move |path: &str| {
        if path.contains("/participant-declarations/") {
            declaration_id.to_string()
        } else if path.contains("/participants/") {
            participant.to_string()
        } else if path.contains("/lead-providers/") {
            provider.to_string()
        } else {
            application.to_string()
        }
    };
    (fixture, id_for)
}

/// Sends `body` to the operation and asserts a 4xx in a documented error shape. A rejected body
/// changes nothing, so one fixture serves every request of a test.
async fn assert_rejected(fixture: &Fixture, operation: &WriteOperation, body: &[u8], context: &str) {
    let response = fixture
        .client
        .request(operation.method.clone(), &operation.path)
        .header("Authorization", format!("Bearer {}", operation.token))
        .content_type("application/json")
        .body(body.to_vec())
        .send()
        .await;
    let status = response.0.status();
    let text = response.0.into_body().into_string().await.unwrap_or_default();
    let request_label = format!("{} {} with {context}", operation.method, operation.path);
    assert!(status.is_client_error(), "{request_label}: {status} {text}");
    let json: Value =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{request_label}: not JSON ({error}): {text}"));
    let list_shape = json["errors"].as_array().is_some_and(|errors| {
        !errors.is_empty() && errors.iter().all(|error| error["title"].is_string() && error["detail"].is_string())
    });
    let message_shape = json["error"].is_string();
    assert!(list_shape || message_shape, "{request_label}: {json} is in neither error shape");
}

#[tokio::test]
async fn deeply_nested_bodies_are_bad_requests() {
    let depth = 10_000;
    let unclosed = "[".repeat(depth);
    let closed = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let inside_attributes = format!(r#"{{"data":{{"attributes":{{"note":{closed}}}}}}}"#);
    let (fixture, id_for) = fixture_with_records();
    for operation in write_operations(id_for) {
        for (body, context) in [
            (&unclosed, "10,000 unclosed ["),
            (&closed, "10,000 nested arrays"),
            (&objects, "10,000 nested objects"),
            (&inside_attributes, "10,000 nested arrays in an attribute"),
        ] {
            assert_rejected(&fixture, &operation, body.as_bytes(), context).await;
        }
    }
}

#[tokio::test]
async fn oversized_bodies_are_rejected() {
    let megabyte_string = format!(r#"{{"data":{{"attributes":{{"note":"{}"}}}}}}"#, "x".repeat(1 << 20));
    let (fixture, id_for) = fixture_with_records();
    for operation in write_operations(id_for) {
        assert_rejected(&fixture, &operation, megabyte_string.as_bytes(), "a 1 MiB body").await;
        // Just under the 64 KiB limit, in every attribute at once.
        let long = "9".repeat(60_000 / operation.attributes.len().max(1));
        let attributes: serde_json::Map<String, Value> =
            operation.attributes.iter().map(|(name, _)| (name.clone(), json!(long))).collect();
        assert_rejected(
            &fixture,
            &operation,
            &enveloped(Value::Object(attributes)),
            "60 KB of digits in the attributes",
        )
        .await;
    }
}

#[tokio::test]
async fn malformed_bodies_are_bad_requests() {
    let (fixture, id_for) = fixture_with_records();
    for operation in write_operations(id_for) {
        for (body, context) in [
            (&b"{\"data\": "[..], "truncated JSON"),
            (&b"{\"data\":{\"attributes\":{\"note\":\"\xff\xfe\"}}}"[..], "invalid UTF-8"),
            (&b"{\"data\":{\"attributes\":{\"limit\":1e400}}}"[..], "a number out of range"),
            (&b"{\"data\":{\"attributes\":{\"note\":\"\\ud800\"}}}"[..], "a lone surrogate escape"),
            (&b"\xef\xbb\xbf{}"[..], "a byte order mark"),
        ] {
            assert_rejected(&fixture, &operation, body, context).await;
        }
    }
}

#[tokio::test]
async fn wrongly_typed_bodies_are_client_errors() {
    let (fixture, id_for) = fixture_with_records();
    for operation in write_operations(id_for) {
        let wrong: serde_json::Map<String, Value> = operation
            .attributes
            .iter()
            .map(|(name, schema_type)| (name.clone(), wrong_value(schema_type.as_deref())))
            .collect();
        assert_rejected(&fixture, &operation, &enveloped(Value::Object(wrong)), "every attribute wrongly typed").await;
        let arrays: serde_json::Map<String, Value> =
            operation.attributes.iter().map(|(name, _)| (name.clone(), json!([[]]))).collect();
        assert_rejected(&fixture, &operation, &enveloped(Value::Object(arrays)), "every attribute an array").await;
        for (body, context) in [
            (json!({"data": {"attributes": []}}), "attributes as an array"),
            (json!({"data": {"attributes": "text"}}), "attributes as a string"),
            (json!({"data": {"attributes": {}}}), "empty attributes"),
            (json!({"data": []}), "data as an array"),
            (json!({"data": 7}), "data as a number"),
        ] {
            assert_rejected(&fixture, &operation, body.to_string().as_bytes(), context).await;
        }
        // A body that is not an object counts as one without data, which only an optional body
        // allows.
        if operation.body_required {
            for body in ["[]", "\"text\"", "42", "null", "true"] {
                assert_rejected(&fixture, &operation, body.as_bytes(), body).await;
            }
        }
    }
}

/// `data.type` is never read, so the documents give it no JSON type and a request with any value
/// there succeeds. A document that typed it as a string would promise a rejection the server
/// never makes.
#[tokio::test]
async fn data_type_accepts_any_value() {
    let documents = [
        npq_api::openapi_document_json(),
        npq_api::admin_openapi_document_json(),
        npq_api::registration_openapi_document_json(),
    ];
    for text in documents {
        let document: Value = serde_json::from_str(&text).expect("the document is JSON");
        for (name, schema) in document["components"]["schemas"].as_object().expect("schemas") {
            let data_type = &schema["properties"]["data"]["properties"]["type"];
            if name.ends_with("Request") && data_type.is_object() {
                assert!(data_type.get("type").is_none(), "{name}: data.type has a JSON type: {data_type}");
            }
        }
    }

    let (fixture, _) = fixture_with_records();
    let path = format!("/api/v3/npq-applications/{}/change-funded-place", fixture.id(0));
    for data_type in [json!({"nested": true}), json!(7), json!(null), json!(["a"])] {
        let body = json!({"data": {"type": data_type, "attributes": {"funded_place": false}}}).to_string();
        let response = fixture.send(Method::PUT, &path, TOKEN, Some(&body)).await;
        assert_eq!(response.0.status(), StatusCode::OK, "data.type {data_type}");
    }
}

/// An optional body without `data`, or with `data: null`, accepts with the defaults, so the
/// document of the optional body must not require `data` or forbid `null` there.
#[tokio::test]
async fn optional_body_documents_missing_data() {
    let document: Value = serde_json::from_str(&npq_api::openapi_document_json()).expect("the document is JSON");
    let envelope = &document["components"]["schemas"]["ApplicationAcceptRequest"];
    assert!(envelope["required"].as_array().is_none_or(Vec::is_empty), "data is optional: {envelope}");
    assert_eq!(envelope["properties"]["data"]["nullable"], true, "data may be null: {envelope}");
    let required_envelope = &document["components"]["schemas"]["ApplicationChangeFundedPlaceRequest"];
    assert_eq!(required_envelope["required"], json!(["data"]), "a required body needs data");

    for body in ["{}", r#"{"data":null}"#] {
        let fixture = Fixture::with_applications(|provider, _| {
            let sam = person_with_trn("Sam Example", "1234567");
            vec![(application_in(&sam, provider, "2025a", Course::Headship), sam)]
        });
        let path = format!("/api/v3/npq-applications/{}/accept", fixture.id(0));
        let response = fixture.send(Method::POST, &path, TOKEN, Some(body)).await;
        let status = response.0.status();
        let text = response.0.into_body().into_string().await.unwrap_or_default();
        // The cohort is capped, so accepting with the defaults asks for a funded place.
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {text}");
        assert!(text.contains("\"title\":\"funded_place\""), "{body} is read as no attributes: {text}");
    }
}
