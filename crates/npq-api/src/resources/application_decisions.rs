//! Request bodies of the decisions lead providers make on applications: accepting one and
//! changing its funded place. Rejecting takes no body.

use npq_domain::decision::AcceptRequest;
use npq_domain::schedule::ScheduleIdentifier;
use poem_openapi::Object;
use serde_json::Value;

use crate::body::{OptionalBody, RequestAttributes, RequiredBody};
use crate::error::ApiError;
use crate::types::{Nullable, Text};

/// The attributes of an acceptance. Send at least one, or no body at all to accept with the
/// defaults.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ApplicationAcceptAttributes")]
pub struct AcceptAttributes {
    /// Whether the place counts against your funded places. Required, as `true` or `false`, in
    /// cohorts with a cap on funded places, and `true` only for an applicant eligible for
    /// funding. Must be `false` in cohorts that DfE does not fund. Ignored in fully funded
    /// cohorts.
    pub funded_place: Option<bool>,
    /// The schedule the participant follows, which must exist in the application's cohort and
    /// suit its course. Best practice is to leave it out (or send `null`), so that the usual
    /// schedule for the course, the cohort and the day of acceptance is chosen.
    pub schedule_identifier: Option<Nullable<Text<ScheduleIdentifier>>>,
}

impl RequestAttributes for AcceptAttributes {
    const REQUEST_SCHEMA: &'static str = "ApplicationAcceptRequest";
    const DESCRIPTION: &'static str = "An acceptance of an application. The body is optional.";
    const DATA_TYPE: &'static str = "npq-application-accept";
    const EXAMPLE: &'static str = r#"{"data":{"type":"npq-application-accept","attributes":{"funded_place":true,"schedule_identifier":"npq-leadership-autumn"}}}"#;
}

/// Reads an acceptance. No body, or a body without `data`, accepts with the defaults.
///
/// A `funded_place` that is not a JSON boolean is passed on as absent, and a `schedule_identifier`
/// that is not a string as its JSON text, so that the rules report them on their attributes.
pub fn accept_request(body: &OptionalBody<AcceptAttributes>) -> Result<AcceptRequest, ApiError> {
    let Some(attributes) = body.attributes()? else {
        return Ok(AcceptRequest::default());
    };
    if !attributes.contains("funded_place") && !attributes.contains("schedule_identifier") {
        return Err(ApiError::BadRequest(format!(
            "'#/data/attributes' must contain 'funded_place' or 'schedule_identifier', as in {}; \
             send no body to accept with the defaults",
            AcceptAttributes::EXAMPLE
        )));
    }
    let schedule_identifier = match attributes.get("schedule_identifier") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    };
    Ok(AcceptRequest { funded_place: attributes.boolean("funded_place"), schedule_identifier })
}

/// The attributes of a change of funded place.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ApplicationChangeFundedPlaceAttributes")]
pub struct ChangeFundedPlaceAttributes {
    /// Whether the place counts against your funded places: `true` or `false`.
    pub funded_place: bool,
}

impl RequestAttributes for ChangeFundedPlaceAttributes {
    const REQUEST_SCHEMA: &'static str = "ApplicationChangeFundedPlaceRequest";
    const DESCRIPTION: &'static str = "A change of whether an accepted application's place is funded.";
    const DATA_TYPE: &'static str = "npq-application-change-funded-place";
    const EXAMPLE: &'static str =
        r#"{"data":{"type":"npq-application-change-funded-place","attributes":{"funded_place":false}}}"#;
}

/// Reads the new funded place: `None` when the body, `data` or `funded_place` is missing, or when
/// `funded_place` is not a JSON boolean, so that the rules report it.
pub fn funded_place(body: &RequiredBody<ChangeFundedPlaceAttributes>) -> Result<Option<bool>, ApiError> {
    Ok(body.attributes()?.and_then(|attributes| attributes.boolean("funded_place")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(body: &str) -> Result<AcceptRequest, ApiError> {
        accept_request(&OptionalBody::from_bytes(body))
    }

    #[test]
    fn acceptance_without_attributes_uses_defaults() {
        for body in ["", "{}", r#"{"meta":1}"#] {
            assert_eq!(accept(body), Ok(AcceptRequest::default()), "{body:?}");
        }
    }

    #[test]
    fn acceptance_needs_a_known_attribute() {
        for body in [r#"{"data":{"attributes":{"other":1}}}"#, r#"{"data":{"attributes":{}}}"#, r#"{"data":{}}"#] {
            assert!(matches!(accept(body), Err(ApiError::BadRequest(_))), "{body}");
        }
    }

    #[test]
    fn funded_place_must_be_a_json_boolean() {
        let request = accept(r#"{"data":{"attributes":{"funded_place":false,"other":1}}}"#).unwrap();
        assert_eq!(request.funded_place, Some(false));
        for value in ["null", r#""true""#, r#""""#, "1"] {
            let request = accept(&format!(r#"{{"data":{{"attributes":{{"funded_place":{value}}}}}}}"#)).unwrap();
            assert_eq!(request.funded_place, None, "{value}");
        }
    }

    #[test]
    fn schedule_identifier_keeps_what_was_sent() {
        let named = accept(r#"{"data":{"attributes":{"schedule_identifier":"npq-leadership-spring"}}}"#).unwrap();
        assert_eq!(named.schedule_identifier.as_deref(), Some("npq-leadership-spring"));
        let number = accept(r#"{"data":{"attributes":{"schedule_identifier":12}}}"#).unwrap();
        assert_eq!(number.schedule_identifier.as_deref(), Some("12"));
        let null = accept(r#"{"data":{"attributes":{"schedule_identifier":null}}}"#).unwrap();
        assert_eq!(null.schedule_identifier, None);
    }

    #[test]
    fn funded_place_change_reads_only_booleans() {
        let read = |body: &str| funded_place(&RequiredBody::from_bytes(body));
        assert_eq!(read(r#"{"data":{"attributes":{"funded_place":true}}}"#), Ok(Some(true)));
        assert_eq!(read(r#"{"data":{"attributes":{"funded_place":"true"}}}"#), Ok(None));
        assert_eq!(read(""), Ok(None));
        assert_eq!(read("{}"), Ok(None));
        assert!(matches!(read(r#"{"data":{}}"#), Err(ApiError::BadRequest(_))));
        assert!(matches!(read("{"), Err(ApiError::BadRequest(_))));
    }
}
