//! The OpenAPI document: the committed copy is current, and it matches the reference contract
//! lead providers' clients were built against, apart from deliberate deviations.

use std::path::PathBuf;

use serde_json::Value;

/// Attributes whose JSON type differs from the reference contract on purpose, with the reason.
/// `docs/api-deviations.md` lists the same ones.
const DELIBERATE_TYPE_DEVIATIONS: &[(&str, &str)] = &[(
    "works_as_senco",
    "the reference contract says boolean, but the reference service sends the applicant's raw answer \
     (yes, no_but_i_plan_to_become_one or no_i_do_not_plan_to_be_a_SENCO), so the schema says string",
)];

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn our_document() -> Value {
    serde_json::from_str(&npq_api::openapi_document_json()).expect("the OpenAPI document is JSON")
}

fn reference_document() -> Value {
    let path = std::env::var_os("NPQ_REFERENCE_SWAGGER")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("../shared/reference/npq-api-v3-swagger.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read the reference OpenAPI document at {} ({error}); set NPQ_REFERENCE_SWAGGER to its path",
            path.display()
        )
    });
    serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("{} is not valid YAML: {error}", path.display()))
}

/// Follows a local `$ref` such as `#/components/schemas/Application`.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {reference}"));
            document.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"))
        }
        None => schema,
    }
}

/// Returns the attributes of the `Application` schema, in order, with their schemas.
fn application_attributes(document: &Value) -> Vec<(String, Value)> {
    let application = &document["components"]["schemas"]["Application"];
    let attributes = resolve(document, &application["properties"]["attributes"]);
    attributes["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("the Application attributes have no properties: {attributes}"))
        .iter()
        .map(|(name, schema)| (name.clone(), resolve(document, schema).clone()))
        .collect()
}

/// Asserts that the committed copy of a document, at `relative_path` from the repository root,
/// equals `generated`. With `NPQ_UPDATE_OPENAPI=1` it writes the generated document instead.
fn assert_committed_copy_is_current(relative_path: &str, generated: &str) {
    let path = repository_root().join(relative_path);
    if std::env::var("NPQ_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("cannot read {} ({error}); run the tests with NPQ_UPDATE_OPENAPI=1 to write it", path.display())
    });
    assert!(
        committed == generated,
        "{} is out of date; run `NPQ_UPDATE_OPENAPI=1 cargo test -p npq-api committed_` and commit it",
        path.display()
    );
}

#[test]
fn committed_document_is_current() {
    assert_committed_copy_is_current("docs/openapi/v3.json", &npq_api::openapi_document_json());
}

#[test]
fn committed_admin_document_is_current() {
    assert_committed_copy_is_current("docs/openapi/admin-v1.json", &npq_api::admin_openapi_document_json());
}

#[test]
fn committed_registration_document_is_current() {
    assert_committed_copy_is_current(
        "docs/openapi/registration-v1.json",
        &npq_api::registration_openapi_document_json(),
    );
}

#[test]
fn application_attributes_match_reference_types() {
    let ours = our_document();
    let reference = reference_document();
    let our_attributes = application_attributes(&ours);
    let reference_attributes = application_attributes(&reference);
    assert!(!reference_attributes.is_empty(), "the reference Application schema has no attributes");

    for (name, reference_schema) in &reference_attributes {
        let Some((_, our_schema)) = our_attributes.iter().find(|(our_name, _)| our_name == name) else {
            panic!("attribute {name} of the reference contract is missing from ours");
        };
        if DELIBERATE_TYPE_DEVIATIONS.iter().any(|(deviation, _)| deviation == name) {
            continue;
        }
        assert_eq!(our_schema["type"], reference_schema["type"], "JSON type of attribute {name}");
    }

    let reference_order: Vec<&String> = reference_attributes.iter().map(|(name, _)| name).collect();
    let our_order: Vec<&String> = our_attributes.iter().map(|(name, _)| name).collect();
    assert_eq!(our_order, reference_order, "attribute order");
}

#[test]
fn deliberate_deviations_really_deviate() {
    let ours = application_attributes(&our_document());
    let reference = application_attributes(&reference_document());
    for (name, reason) in DELIBERATE_TYPE_DEVIATIONS {
        let ours = &ours.iter().find(|(our_name, _)| our_name == name).unwrap().1;
        let reference = &reference.iter().find(|(reference_name, _)| reference_name == name).unwrap().1;
        assert_ne!(ours["type"], reference["type"], "{name} is listed as a deviation ({reason}) but matches");
    }
    let deviations_page = std::fs::read_to_string(repository_root().join("docs/api-deviations.md")).unwrap();
    for (name, _) in DELIBERATE_TYPE_DEVIATIONS {
        assert!(deviations_page.contains(name), "docs/api-deviations.md does not mention {name}");
    }
}

#[test]
fn nullable_attributes_are_marked_and_required() {
    let document = our_document();
    let application = &document["components"]["schemas"]["Application"];
    let attributes = resolve(&document, &application["properties"]["attributes"]);
    let required: Vec<&str> = attributes["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for (name, schema) in application_attributes(&document) {
        assert!(required.contains(&name.as_str()), "{name} should be required: the key is always sent");
        if let Some(values) = schema["enum"].as_array() {
            let lists_null = values.contains(&Value::Null);
            assert_eq!(schema["nullable"] == true, lists_null, "{name}: nullable and a null enum value go together");
        }
    }
    for name in ["email", "teacher_reference_number", "funded_place", "senco_start_date", "works_as_senco"] {
        let schema = application_attributes(&document).into_iter().find(|(our_name, _)| our_name == name).unwrap().1;
        assert_eq!(schema["nullable"], true, "{name}");
    }
}

#[test]
fn application_paths_exist_with_get() {
    let document = our_document();
    for path in ["/api/v3/npq-applications", "/api/v3/npq-applications/{id}"] {
        let operation = &document["paths"][path]["get"];
        assert!(operation.is_object(), "GET {path} is missing from the document");
        let responses = operation["responses"].as_object().unwrap();
        for status in ["200", "400", "401"] {
            assert!(responses.contains_key(status), "GET {path} does not document {status}");
        }
        assert_eq!(operation["security"], serde_json::json!([{"bearerAuth": []}]), "GET {path}");
    }
    assert!(document["paths"]["/api/v3/npq-applications/{id}"]["get"]["responses"]["404"].is_object());
    assert_eq!(document["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
}

#[test]
fn list_parameters_are_documented() {
    let document = our_document();
    let parameters = document["paths"]["/api/v3/npq-applications"]["get"]["parameters"].as_array().unwrap();
    let names: Vec<&str> = parameters.iter().filter_map(|parameter| parameter["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "filter[cohort]",
            "filter[updated_since]",
            "filter[participant_id]",
            "sort",
            "page[page]",
            "page[per_page]",
            "page[cursor]"
        ]
    );
    for parameter in parameters {
        assert_eq!(parameter["in"], "query");
        assert_ne!(parameter["required"], true, "{}: optional", parameter["name"]);
        assert!(parameter["description"].as_str().is_some_and(|text| text.len() > 20), "{}", parameter["name"]);
    }
}

/// Returns the properties of an object schema, in order, each resolved to the schema it refers
/// to. A nullable reference (`allOf` with one `$ref`) resolves to the referenced schema.
fn resolved_properties(document: &Value, schema: &Value) -> Properties {
    let schema = resolve(document, schema);
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("the schema has no properties: {schema}"))
        .iter()
        .map(|(name, property)| {
            let property = match property["allOf"].as_array().map(Vec::as_slice) {
                Some([single]) => single,
                _ => property,
            };
            (name.clone(), resolve(document, property).clone())
        })
        .collect()
}

/// The properties of an object schema, in order, with their schemas.
type Properties = Vec<(String, Value)>;

/// Returns the participant attributes and the enrolment properties of a document.
fn participant_schemas(document: &Value) -> (Properties, Properties) {
    let participant = &document["components"]["schemas"]["Participant"];
    let attributes = resolved_properties(document, &participant["properties"]["attributes"]);
    let enrolments = &attributes.iter().find(|(name, _)| name == "npq_enrolments").expect("npq_enrolments").1;
    let enrolment = resolved_properties(document, &enrolments["items"]);
    (attributes, enrolment)
}

fn assert_same_names_and_types(ours: &[(String, Value)], reference: &[(String, Value)], what: &str) {
    assert!(!reference.is_empty(), "the reference {what} has no properties");
    let our_names: Vec<&String> = ours.iter().map(|(name, _)| name).collect();
    let reference_names: Vec<&String> = reference.iter().map(|(name, _)| name).collect();
    assert_eq!(our_names, reference_names, "{what} order");
    for ((name, our_schema), (_, reference_schema)) in ours.iter().zip(reference) {
        assert_eq!(our_schema["type"], reference_schema["type"], "JSON type of {what} {name}");
    }
}

#[test]
fn participant_attributes_match_reference_types() {
    let (our_attributes, our_enrolment) = participant_schemas(&our_document());
    let (reference_attributes, reference_enrolment) = participant_schemas(&reference_document());
    assert_same_names_and_types(&our_attributes, &reference_attributes, "participant attribute");
    assert_same_names_and_types(&our_enrolment, &reference_enrolment, "enrolment attribute");
}

#[test]
fn participant_nullable_attributes_are_marked_and_required() {
    let document = our_document();
    let schemas = &document["components"]["schemas"];
    let nullable_by_schema = [
        ("ParticipantAttributes", vec!["teacher_reference_number"]),
        ("NpqEnrolment", vec!["schedule_identifier", "school_urn", "funded_place", "email", "withdrawal", "deferral"]),
    ];
    for (schema_name, nullable) in nullable_by_schema {
        let schema = &schemas[schema_name];
        let required: Vec<&str> = schema["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        for (name, property) in schema["properties"].as_object().unwrap() {
            assert!(
                required.contains(&name.as_str()),
                "{schema_name}.{name} should be required: the key is always sent"
            );
            let expected = nullable.contains(&name.as_str());
            assert_eq!(property["nullable"] == true, expected, "{schema_name}.{name} nullable");
        }
    }
}

#[test]
fn participant_paths_document_their_errors() {
    let document = our_document();
    let paths = &document["paths"];
    let expected = [
        ("/api/v3/participants/npq", "get", vec!["200", "400", "401", "422"]),
        ("/api/v3/participants/npq/{id}", "get", vec!["200", "401", "404", "410"]),
        ("/api/v3/participants/npq/{id}/defer", "put", vec!["200", "400", "401", "404", "422"]),
        ("/api/v3/participants/npq/{id}/withdraw", "put", vec!["200", "400", "401", "404", "422"]),
        ("/api/v3/participants/npq/{id}/resume", "put", vec!["200", "400", "401", "404", "422"]),
        ("/api/v3/participants/npq/{id}/change-schedule", "put", vec!["200", "400", "401", "404", "422"]),
    ];
    for (path, method, statuses) in expected {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is missing from the document");
        for status in statuses {
            assert!(operation["responses"][status].is_object(), "{method} {path} does not document {status}");
        }
        assert_eq!(operation["security"], serde_json::json!([{"bearerAuth": []}]), "{method} {path}");
        if method == "put" {
            assert_eq!(operation["requestBody"]["required"], true, "{method} {path}: the body is required");
        }
    }
    let gone = &paths["/api/v3/participants/npq/{id}"]["get"]["responses"]["410"]["content"]["application/json"];
    assert_eq!(gone["schema"]["$ref"], "#/components/schemas/GoneResponse");
    let names: Vec<&str> = paths["/api/v3/participants/npq"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "filter[updated_since]",
            "filter[training_status]",
            "filter[from_participant_id]",
            "sort",
            "page[page]",
            "page[per_page]",
            "page[cursor]"
        ]
    );
}

/// Returns the attributes of the `DeliveryPartner` schema of a document, in order.
fn delivery_partner_attributes(document: &Value) -> Properties {
    let partner = &document["components"]["schemas"]["DeliveryPartner"];
    resolved_properties(document, &partner["properties"]["attributes"])
}

#[test]
fn delivery_partner_attributes_match_reference_types() {
    let ours = delivery_partner_attributes(&our_document());
    let reference = delivery_partner_attributes(&reference_document());
    assert_same_names_and_types(&ours, &reference, "delivery partner attribute");

    // A deliberate deviation, listed in docs/api-deviations.md: the reference contract types the
    // cohort years as strings, but the reference service sends numbers, and so does npq.
    let cohort_items = |properties: &Properties| {
        properties.iter().find(|(name, _)| name == "cohort").expect("a cohort attribute").1["items"]["type"].clone()
    };
    assert_eq!(cohort_items(&reference), "string", "the reference contract's cohort items");
    assert_eq!(cohort_items(&ours), "integer", "our cohort items");
    let deviations_page = std::fs::read_to_string(repository_root().join("docs/api-deviations.md")).unwrap();
    assert!(deviations_page.contains("`cohort` on delivery partners"), "docs/api-deviations.md does not mention it");
}

#[test]
fn delivery_partner_paths_document_their_errors() {
    let document = our_document();
    let paths = &document["paths"];
    let expected = [
        ("/api/v3/delivery-partners", vec!["200", "400", "401"]),
        ("/api/v3/delivery-partners/{id}", vec!["200", "401", "404"]),
    ];
    for (path, statuses) in expected {
        let operation = &paths[path]["get"];
        assert!(operation.is_object(), "GET {path} is missing from the document");
        for status in statuses {
            assert!(operation["responses"][status].is_object(), "GET {path} does not document {status}");
        }
        assert_eq!(operation["security"], serde_json::json!([{"bearerAuth": []}]), "GET {path}");
    }
    let names: Vec<&str> = paths["/api/v3/delivery-partners"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    assert_eq!(names, ["filter[cohort]", "sort", "page[page]", "page[per_page]"]);
}
