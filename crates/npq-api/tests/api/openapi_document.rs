//! The OpenAPI document: the committed copy is current, and it matches the reference contract
//! lead providers' clients were built against, apart from deliberate deviations.
//!
//! The conformance tests walk the reference contract: every operation it lists is served, every
//! query parameter and request attribute it lists is accepted, and every attribute of its
//! resources and error bodies is sent with the same JSON type. Each exception is an entry in one
//! of the lists below, with its reason, and `docs/api-deviations.md` describes it under the
//! heading or phrase the entry names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

/// A place where npq's document differs from the reference contract on purpose.
struct Deviation {
    /// The component schema of both documents, such as `Application`.
    schema: &'static str,
    /// The JSON pointer below it, with `[]` for the items of an array, such as `/attributes/cohort[]`.
    pointer: &'static str,
    /// The JSON type the reference contract gives, and the one npq's document gives.
    reference_type: &'static str,
    our_type: &'static str,
    /// Text that `docs/api-deviations.md` contains where it describes the deviation.
    documented_as: &'static str,
}

/// Resource attributes typed differently from the reference contract. In each case the reference
/// contract disagrees with what the reference service sends, and npq's document follows the wire.
const RESOURCE_TYPE_DEVIATIONS: &[Deviation] = &[
    // The reference service sends the applicant's answer as text.
    Deviation {
        schema: "Application",
        pointer: "/attributes/works_as_senco",
        reference_type: "boolean",
        our_type: "string",
        documented_as: "`works_as_senco` on applications",
    },
    // The reference service sends a boolean or null, never text.
    Deviation {
        schema: "ParticipantDeclaration",
        pointer: "/attributes/has_passed",
        reference_type: "string",
        our_type: "boolean",
        documented_as: "`has_passed` on declarations",
    },
    // The reference service sends the cohort start years as numbers.
    Deviation {
        schema: "DeliveryPartner",
        pointer: "/attributes/cohort[]",
        reference_type: "string",
        our_type: "integer",
        documented_as: "`cohort` on delivery partners",
    },
];

/// Reference operations npq does not serve, as method, path and the text that
/// `docs/api-deviations.md` contains about them.
const UNSERVED_OPERATIONS: &[(&str, &str, &str)] = &[];

/// Reference resource schemas npq's document does not have, with the text that
/// `docs/api-deviations.md` contains about them.
const MISSING_RESOURCES: &[(&str, &str)] = &[];

/// Request attributes the reference contract lists that npq's document leaves out, as operation
/// path, attribute and the text that `docs/api-deviations.md` contains about them.
const UNDOCUMENTED_REQUEST_ATTRIBUTES: &[(&str, &str, &str)] = &[
    // A partner change cannot move a declaration to another participant or milestone, so npq
    // ignores the two attributes like any other unknown attribute.
    (
        "/api/v3/participant-declarations/{id}/change-delivery-partner",
        "participant_id",
        "`participant_id` and `declaration_type` in a delivery partner change",
    ),
    (
        "/api/v3/participant-declarations/{id}/change-delivery-partner",
        "declaration_type",
        "`participant_id` and `declaration_type` in a delivery partner change",
    ),
];

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

/// Follows `$ref`s, and a nullable reference written as `allOf` with one entry, to the schema
/// itself.
fn resolve_fully<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = resolve(document, schema);
    while let Some([single]) = schema["allOf"].as_array().map(Vec::as_slice) {
        schema = resolve(document, single);
    }
    schema
}

/// Returns the JSON type of every typed place in a schema, by JSON pointer from the schema, with
/// `[]` for the items of an array. A place without a `type` is left out: it constrains nothing.
fn json_types(document: &Value, schema: &Value) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    collect_json_types(document, schema, String::new(), &mut types);
    types
}

fn collect_json_types(document: &Value, schema: &Value, pointer: String, types: &mut BTreeMap<String, String>) {
    let schema = resolve_fully(document, schema);
    if let Some(json_type) = schema["type"].as_str() {
        types.insert(pointer.clone(), json_type.to_owned());
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            collect_json_types(document, property, format!("{pointer}/{name}"), types);
        }
    }
    if schema.get("items").is_some() {
        collect_json_types(document, &schema["items"], format!("{pointer}[]"), types);
    }
}

/// Returns every operation of a document as method and path, in document order.
fn operations(document: &Value) -> Vec<(String, String)> {
    let methods = ["get", "post", "put", "patch", "delete"];
    document["paths"]
        .as_object()
        .expect("the document has paths")
        .iter()
        .flat_map(|(path, item)| {
            methods
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (method.to_string(), path.clone()))
        })
        .collect()
}

/// Returns the attributes of an operation's request body with their JSON types. A reference body
/// that is one of several shapes contributes the attributes of every shape.
fn request_attributes(document: &Value, operation: &Value) -> BTreeMap<String, String> {
    let Some(body) = operation.get("requestBody") else { return BTreeMap::new() };
    let mut attributes = BTreeMap::new();
    let mut shapes = vec![&body["content"]["application/json"]["schema"]];
    while let Some(shape) = shapes.pop() {
        let shape = resolve_fully(document, shape);
        if let Some(alternatives) = shape["oneOf"].as_array().or_else(|| shape["anyOf"].as_array()) {
            shapes.extend(alternatives);
            continue;
        }
        let data = resolve_fully(document, &shape["properties"]["data"]);
        let attributes_schema = resolve_fully(document, &data["properties"]["attributes"]);
        if let Some(alternatives) = attributes_schema["oneOf"].as_array() {
            for alternative in alternatives {
                collect_attributes(document, resolve_fully(document, alternative), &mut attributes);
            }
        } else {
            collect_attributes(document, attributes_schema, &mut attributes);
        }
    }
    attributes
}

fn collect_attributes(document: &Value, schema: &Value, attributes: &mut BTreeMap<String, String>) {
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let json_type = resolve_fully(document, property)["type"].as_str().unwrap_or_default().to_owned();
        attributes.insert(name.clone(), json_type);
    }
}

/// Returns the names of an operation's query parameters as clients send them. A reference
/// parameter in the deepObject style, such as `filter` with a `cohort` property, is sent as
/// `filter[cohort]`.
fn query_parameters(document: &Value, operation: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        let parameter = resolve(document, parameter);
        if parameter["in"] != "query" {
            continue;
        }
        let name = parameter["name"].as_str().expect("a parameter name");
        let schema = resolve_fully(document, &parameter["schema"]);
        match schema["properties"].as_object() {
            Some(properties) if schema["type"] == "object" => {
                names.extend(properties.keys().map(|property| format!("{name}[{property}]")));
            }
            _ => names.push(name.to_owned()),
        }
    }
    names
}

fn deviations_page() -> String {
    std::fs::read_to_string(repository_root().join("docs/api-deviations.md")).expect("docs/api-deviations.md exists")
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
        let pointer = format!("/attributes/{name}");
        if RESOURCE_TYPE_DEVIATIONS
            .iter()
            .any(|deviation| deviation.schema == "Application" && deviation.pointer == pointer)
        {
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
    let ours = our_document();
    let reference = reference_document();
    let page = deviations_page();
    for deviation in RESOURCE_TYPE_DEVIATIONS {
        let context = format!("{}{}", deviation.schema, deviation.pointer);
        let our_types = json_types(&ours, &ours["components"]["schemas"][deviation.schema]);
        let reference_types = json_types(&reference, &reference["components"]["schemas"][deviation.schema]);
        assert_eq!(
            reference_types.get(deviation.pointer).map(String::as_str),
            Some(deviation.reference_type),
            "{context}"
        );
        assert_eq!(our_types.get(deviation.pointer).map(String::as_str), Some(deviation.our_type), "{context}");
        assert!(page.contains(deviation.documented_as), "docs/api-deviations.md does not mention {context}");
    }
    let unserved = UNSERVED_OPERATIONS.iter().map(|(method, path, documented_as)| (*method, *path, *documented_as));
    let missing_schemas = MISSING_RESOURCES.iter().map(|(schema, documented_as)| ("schema", *schema, *documented_as));
    let request_attributes =
        UNDOCUMENTED_REQUEST_ATTRIBUTES.iter().map(|(path, name, documented_as)| (*path, *name, *documented_as));
    for (first, second, documented_as) in unserved.chain(missing_schemas).chain(request_attributes) {
        assert!(
            page.contains(documented_as),
            "docs/api-deviations.md does not mention {first} {second}: {documented_as:?}"
        );
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

/// Returns the attributes of the `Statement` schema of a document, in order.
fn statement_attributes(document: &Value) -> Properties {
    let statement = &document["components"]["schemas"]["Statement"];
    resolved_properties(document, &statement["properties"]["attributes"])
}

#[test]
fn statement_attributes_match_reference_types() {
    let ours = statement_attributes(&our_document());
    let reference = statement_attributes(&reference_document());
    assert_same_names_and_types(&ours, &reference, "statement attribute");

    // The reference contract marks both dates as never null, but a statement's dates are optional
    // and the reference service sends null for a missing one. npq marks them nullable and lists the
    // difference in docs/api-deviations.md.
    for name in ["cut_off_date", "payment_date"] {
        let schema = |properties: &Properties| properties.iter().find(|(key, _)| key == name).unwrap().1.clone();
        assert_eq!(schema(&reference)["nullable"], false, "the reference contract's {name}");
        assert_eq!(schema(&ours)["nullable"], true, "our {name}");
        assert_eq!(schema(&ours)["format"], "date", "our {name}");
    }
    let deviations_page = std::fs::read_to_string(repository_root().join("docs/api-deviations.md")).unwrap();
    assert!(
        deviations_page.contains("`cut_off_date` and `payment_date` on statements"),
        "not in docs/api-deviations.md"
    );
}

#[test]
fn statement_paths_document_their_errors() {
    let document = our_document();
    let paths = &document["paths"];
    for (path, statuses) in
        [("/api/v3/statements", vec!["200", "400", "401"]), ("/api/v3/statements/{id}", vec!["200", "401", "404"])]
    {
        let operation = &paths[path]["get"];
        assert!(operation.is_object(), "GET {path} is missing from the document");
        for status in statuses {
            assert!(operation["responses"][status].is_object(), "GET {path} does not document {status}");
        }
        assert_eq!(operation["security"], serde_json::json!([{"bearerAuth": []}]), "GET {path}");
    }
    let names: Vec<&str> = paths["/api/v3/statements"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    assert_eq!(names, ["filter[cohort]", "filter[updated_since]", "page[page]", "page[per_page]"]);
}

#[test]
fn every_reference_operation_is_served() {
    let ours = our_document();
    let reference = reference_document();
    let our_operations = operations(&ours);
    for (method, path) in operations(&reference) {
        let unserved = UNSERVED_OPERATIONS
            .iter()
            .any(|(other_method, other_path, _)| method == *other_method && path == *other_path);
        let served = our_operations.contains(&(method.clone(), path.clone()));
        if unserved {
            assert!(
                !served,
                "{method} {path} is served now: remove it from UNSERVED_OPERATIONS and the deviations page"
            );
        } else {
            assert!(served, "{method} {path} of the reference contract is missing from ours");
        }
    }
}

#[test]
fn reference_query_parameters_are_accepted() {
    let ours = our_document();
    let reference = reference_document();
    for (method, path) in operations(&reference) {
        let Some(our_operation) = ours["paths"][&path].get(&method) else { continue };
        let our_parameters = query_parameters(&ours, our_operation);
        for name in query_parameters(&reference, &reference["paths"][&path][&method]) {
            assert!(our_parameters.contains(&name), "{method} {path}: query parameter {name} is missing from ours");
        }
    }
}

#[test]
fn reference_request_attributes_are_accepted() {
    let ours = our_document();
    let reference = reference_document();
    for (method, path) in operations(&reference) {
        let Some(our_operation) = ours["paths"][&path].get(&method) else { continue };
        let our_attributes = request_attributes(&ours, our_operation);
        for (name, reference_type) in request_attributes(&reference, &reference["paths"][&path][&method]) {
            let context = format!("{method} {path}: request attribute {name}");
            let undocumented = UNDOCUMENTED_REQUEST_ATTRIBUTES
                .iter()
                .any(|(other_path, other_name, _)| path == *other_path && name == *other_name);
            match our_attributes.get(&name) {
                Some(_) if undocumented => {
                    panic!("{context} is documented now: remove it from UNDOCUMENTED_REQUEST_ATTRIBUTES")
                }
                Some(our_type) => assert_eq!(our_type, &reference_type, "{context}: JSON type"),
                None => assert!(undocumented, "{context} is missing from ours"),
            }
        }
    }
}

#[test]
fn resource_attributes_have_reference_types() {
    let ours = our_document();
    let reference = reference_document();
    let resources =
        ["Application", "Participant", "ParticipantOutcome", "ParticipantDeclaration", "DeliveryPartner", "Statement"];
    for resource in resources {
        let reference_schema = &reference["components"]["schemas"][resource];
        assert!(reference_schema.is_object(), "the reference contract has no {resource} schema");
        let our_schema = &ours["components"]["schemas"][resource];
        if MISSING_RESOURCES.iter().any(|(missing, _)| *missing == resource) {
            assert!(our_schema.is_null(), "{resource} is documented now: remove it from MISSING_RESOURCES");
            continue;
        }
        let our_types = json_types(&ours, our_schema);
        for (pointer, reference_type) in json_types(&reference, reference_schema) {
            let context = format!("{resource}{pointer}");
            let our_type = our_types
                .get(&pointer)
                .unwrap_or_else(|| panic!("{context} of the reference contract is missing from ours"));
            let deviation = RESOURCE_TYPE_DEVIATIONS
                .iter()
                .find(|deviation| deviation.schema == resource && deviation.pointer == pointer);
            match deviation {
                Some(deviation) => assert_eq!(our_type, deviation.our_type, "{context}: the listed deviation"),
                None => assert_eq!(our_type, &reference_type, "{context}: JSON type"),
            }
        }
    }
}

#[test]
fn error_bodies_have_reference_shapes() {
    let ours = our_document();
    let reference = reference_document();
    for schema in ["UnauthorisedResponse", "NotFoundResponse", "BadRequestResponse", "UnprocessableEntityResponse"] {
        let reference_types = json_types(&reference, &reference["components"]["schemas"][schema]);
        let our_types = json_types(&ours, &ours["components"]["schemas"][schema]);
        assert!(!reference_types.is_empty(), "the reference contract has no {schema} schema");
        for (pointer, reference_type) in reference_types {
            assert_eq!(our_types.get(&pointer), Some(&reference_type), "{schema}{pointer}");
        }
    }
}

/// Every status the reference contract documents for an operation is documented by ours, with a
/// body of the same shape. Attributes are left to [`resource_attributes_have_reference_types`],
/// so a deviation listed there is not reported twice.
#[test]
fn operation_responses_have_reference_shapes() {
    let ours = our_document();
    let reference = reference_document();
    for (method, path) in operations(&reference) {
        let Some(our_operation) = ours["paths"][&path].get(&method) else { continue };
        let reference_responses = reference["paths"][&path][&method]["responses"].as_object().expect("responses");
        for (status, reference_response) in reference_responses {
            let context = format!("{method} {path} {status}");
            let our_response = &our_operation["responses"][status];
            assert!(our_response.is_object(), "{context} is not documented by ours");
            let body_types = |document: &Value, response: &Value| {
                let schema = &resolve(document, response)["content"]["application/json"]["schema"];
                let mut types = json_types(document, schema);
                types.retain(|pointer, _| !pointer.contains("/attributes/"));
                types
            };
            let our_types = body_types(&ours, our_response);
            for (pointer, reference_type) in body_types(&reference, reference_response) {
                assert_eq!(our_types.get(&pointer), Some(&reference_type), "{context}: body{pointer}");
            }
        }
    }
}
