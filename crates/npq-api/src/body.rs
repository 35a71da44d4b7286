//! JSON request bodies in the `{"data": {"type": "...", "attributes": {...}}}` envelope.
//!
//! [`JsonBody`] reads the body as raw bytes and leaves judging it to the handler, for two
//! reasons. A bad body must be reported only after the resource was found, so that an unknown id
//! returns 404 whatever the body contains. And each operation decides which values are a 400 and
//! which are handed to the business rules, as poem-openapi's typed parsing cannot: a
//! `funded_place` that is not a JSON boolean, for example, is a 422 from the rules. The OpenAPI
//! document still shows the body's schema, built from a typed attributes object.

use std::marker::PhantomData;

use poem::error::ReadBodyError;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::{Map, Value};

use crate::JSON_CONTENT_TYPE;
use crate::error::ApiError;
use npq_domain::error::FieldError;

/// The largest request body read, in bytes. Every documented body is well under a kilobyte; the
/// limit keeps an oversized one out of memory.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The attributes object of a request body, as documented.
pub trait RequestAttributes: Type {
    /// Name of the whole body's schema in the OpenAPI document, such as `ApplicationAcceptRequest`.
    const REQUEST_SCHEMA: &'static str;
    /// Description of the whole body's schema.
    const DESCRIPTION: &'static str;
    /// The `data.type` the documentation shows. No operation checks it.
    const DATA_TYPE: &'static str;
    /// A complete example body, quoted in 400 details so that clients can see the expected shape.
    const EXAMPLE: &'static str;
}

/// The raw body of a request, documented as JSON in the envelope around attributes `A`.
/// `REQUIRED` sets whether the OpenAPI document marks the body as required.
///
/// A body that cannot be read, or is larger than [`MAX_BODY_BYTES`], is kept as its 400 error,
/// which [`JsonBody::attributes`] returns, so that the handler still checks the id first. The body
/// is read as JSON whatever its `Content-Type`.
pub struct JsonBody<A, const REQUIRED: bool> {
    bytes: Result<Vec<u8>, ApiError>,
    attributes: PhantomData<fn() -> A>,
}

/// A body that may be left out.
pub type OptionalBody<A> = JsonBody<A, false>;

/// A body the operation documents as required.
pub type RequiredBody<A> = JsonBody<A, true>;

/// The type under whose name the envelope schema is registered, so that two operations using
/// the same attributes share one schema.
struct RequestEnvelope<A>(PhantomData<A>);

impl<'a, A: RequestAttributes, const REQUIRED: bool> ApiExtractor<'a> for JsonBody<A, REQUIRED> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();

    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        A::register(registry);
        registry
            .create_schema::<RequestEnvelope<A>, _>(A::REQUEST_SCHEMA.to_owned(), |_| envelope_schema::<A>(REQUIRED));
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: JSON_CONTENT_TYPE,
                schema: MetaSchemaRef::Reference(A::REQUEST_SCHEMA.to_owned()),
            }],
            required: REQUIRED,
        })
    }

    async fn from_request(
        _request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let read = match body.take() {
            Ok(body) => body.into_bytes_limit(MAX_BODY_BYTES).await,
            Err(error) => Err(error),
        };
        let bytes = read.map(|bytes| bytes.to_vec()).map_err(|error| match error {
            ReadBodyError::PayloadTooLarge => ApiError::BadRequest(format!(
                "The request body is larger than {MAX_BODY_BYTES} bytes. Send only the documented attributes."
            )),
            error => {
                tracing::warn!(%error, "failed to read a request body; returning 400");
                ApiError::BadRequest(format!("The request body could not be read ({error})."))
            }
        });
        Ok(Self { bytes, attributes: PhantomData })
    }
}

/// Builds the schema of the envelope around attributes `A`. For an optional body, `data` may be
/// left out or `null`, since [`JsonBody::attributes`] reads either as no attributes.
fn envelope_schema<A: RequestAttributes>(body_required: bool) -> MetaSchema {
    // No JSON type: the server never reads `data.type`, so any value is accepted, as in the
    // reference service, and the schema must not promise that a non-string is rejected.
    let data_type = MetaSchema {
        description: Some(
            "The kind of request, such as the example. It is not checked: any value, or none, is accepted.",
        ),
        example: Some(Value::from(A::DATA_TYPE)),
        ..MetaSchema::ANY
    };
    let data = MetaSchema {
        required: vec!["attributes"],
        properties: vec![("type", MetaSchemaRef::Inline(Box::new(data_type))), ("attributes", A::schema_ref())],
        nullable: !body_required,
        ..MetaSchema::new("object")
    };
    MetaSchema {
        description: Some(A::DESCRIPTION),
        required: if body_required { vec!["data"] } else { Vec::new() },
        properties: vec![("data", MetaSchemaRef::Inline(Box::new(data)))],
        ..MetaSchema::new("object")
    }
}

impl<A: RequestAttributes, const REQUIRED: bool> JsonBody<A, REQUIRED> {
    /// Wraps body bytes, as if they had been read from a request.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self { bytes: Ok(bytes.into()), attributes: PhantomData }
    }

    /// Returns `data.attributes`, or `None` when the body is empty, is not a JSON object, or has
    /// no `data` (or a `null` one).
    ///
    /// A body that could not be read is a 400, as is malformed JSON or a `data` that is not an
    /// object or whose `attributes` are missing, not an object or empty.
    pub fn attributes(&self) -> Result<Option<Attributes>, ApiError> {
        let bytes = self.bytes.as_ref().map_err(Clone::clone)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|error| {
            ApiError::BadRequest(format!(
                "The request body is not valid JSON ({error}). Send a JSON object such as {}",
                A::EXAMPLE
            ))
        })?;
        let data = match value {
            Value::Object(mut body) => body.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let attributes = match data {
            Value::Null => return Ok(None),
            Value::Object(mut data) => data.remove("attributes"),
            _ => None,
        };
        match attributes {
            Some(Value::Object(attributes)) if !attributes.is_empty() => Ok(Some(Attributes(attributes))),
            _ => Err(self.missing_attributes()),
        }
    }

    /// Returns `data.attributes` as [`Self::attributes`] does, but a body without them is a 400
    /// too.
    pub fn required_attributes(&self) -> Result<Attributes, ApiError> {
        self.attributes()?.ok_or_else(|| self.missing_attributes())
    }

    fn missing_attributes(&self) -> ApiError {
        ApiError::BadRequest(format!(
            "'#/data/attributes' must be an object with at least one attribute, as in {}",
            A::EXAMPLE
        ))
    }
}

/// The `attributes` object of a request body: never empty. Attributes that no operation reads
/// are ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributes(Map<String, Value>);

impl Attributes {
    /// Returns whether the attribute was sent, even as `null`.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Returns the attribute's value as sent; `None` when it was not sent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Returns the attribute when it is a JSON boolean; `None` for any other value or none.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        self.0.get(name).and_then(Value::as_bool)
    }

    /// Returns the attribute when it is a string; `None` when it was not sent or is `null`.
    /// Any other JSON type is an error titled with the attribute.
    /// A string with a control character other than tab or line break is an error too: no
    /// attribute needs one, and databases refuse some of them.
    pub fn text(&self, name: &str) -> Result<Option<String>, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => checked_text(name, text).map(Some),
            Some(other) => Err(FieldError {
                attribute: name.to_owned(),
                message: format!("'#/{name}' must be a string, not {other}."),
            }),
        }
    }
}

/// Returns `text` unless it holds a control character other than tab, line feed or carriage
/// return, which is an error titled `attribute`.
pub fn checked_text(attribute: &str, text: &str) -> Result<String, FieldError> {
    if text.chars().any(|character| character.is_control() && !matches!(character, '\t' | '\n' | '\r')) {
        return Err(FieldError {
            attribute: attribute.to_owned(),
            message: format!("'#/{attribute}' must not contain control characters."),
        });
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_a_nul_character_is_refused() {
        let attributes = OptionalBody::<SampleAttributes>::from_bytes(r#"{"data":{"attributes":{"note":"a\u0000b"}}}"#)
            .attributes()
            .unwrap()
            .unwrap();
        assert_eq!(attributes.text("note").unwrap_err().attribute, "note");
        assert_eq!(checked_text("note", "line one\nline two"), Ok("line one\nline two".to_owned()));
    }
    use poem_openapi::Object;

    /// Attributes for the tests below.
    #[derive(Object)]
    struct SampleAttributes {
        note: String,
    }

    impl RequestAttributes for SampleAttributes {
        const REQUEST_SCHEMA: &'static str = "SampleRequest";
        const DESCRIPTION: &'static str = "A sample request.";
        const DATA_TYPE: &'static str = "sample";
        const EXAMPLE: &'static str = r#"{"data":{"attributes":{"note":"text"}}}"#;
    }

    fn attributes(body: &str) -> Result<Option<Attributes>, ApiError> {
        OptionalBody::<SampleAttributes>::from_bytes(body).attributes()
    }

    #[test]
    fn empty_body_or_no_data_has_no_attributes() {
        for body in ["", "  \n", "{}", r#"{"other":1}"#, r#"{"data":null}"#, "[]", "null", "3"] {
            assert_eq!(attributes(body), Ok(None), "{body:?}");
        }
    }

    #[test]
    fn data_without_usable_attributes_is_a_bad_request() {
        for body in [
            r#"{"data":{}}"#,
            r#"{"data":{"type":"sample"}}"#,
            r#"{"data":{"attributes":null}}"#,
            r#"{"data":{"attributes":{}}}"#,
            r#"{"data":{"attributes":[1]}}"#,
            r#"{"data":{"attributes":"note"}}"#,
            r#"{"data":[]}"#,
            r#"{"data":"x"}"#,
        ] {
            let error = attributes(body).unwrap_err();
            assert!(matches!(&error, ApiError::BadRequest(detail) if detail.contains("#/data/attributes")), "{body}");
        }
    }

    #[test]
    fn malformed_json_detail_shows_an_example() {
        let Err(ApiError::BadRequest(detail)) = attributes(r#"{"data": "#) else {
            panic!("expected a bad request");
        };
        assert!(detail.contains("not valid JSON"), "{detail}");
        assert!(detail.contains(SampleAttributes::EXAMPLE), "{detail}");
    }

    #[test]
    fn attributes_are_read_by_type() {
        let attributes = attributes(r#"{"data":{"attributes":{"a":true,"b":"x","c":1,"d":null}}}"#).unwrap().unwrap();
        assert_eq!(attributes.boolean("a"), Some(true));
        assert_eq!(attributes.boolean("b"), None);
        assert_eq!(attributes.text("b"), Ok(Some("x".to_owned())));
        assert_eq!(attributes.text("d"), Ok(None));
        assert_eq!(attributes.text("missing"), Ok(None));
        assert_eq!(attributes.text("c").unwrap_err().attribute, "c");
        assert!(attributes.contains("d"));
        assert!(!attributes.contains("missing"));
    }

    #[test]
    fn required_attributes_reject_a_missing_data() {
        let body = RequiredBody::<SampleAttributes>::from_bytes("{}");
        assert!(matches!(body.required_attributes(), Err(ApiError::BadRequest(_))));
    }
}
