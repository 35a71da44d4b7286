//! Value types for response DTOs whose JSON and OpenAPI schema poem-openapi cannot express on
//! its own: nullable values, enums defined in the domain crate, timestamps in whole seconds and
//! plain dates.
//!
//! Each type serialises exactly as its schema declares, so a strict OpenAPI validator accepts live
//! responses.

use std::borrow::Cow;

use chrono::NaiveDate;
use npq_domain::Timestamp;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type};
use serde_json::Value;

/// A value that is always sent, as JSON `null` when absent, and whose schema declares it `nullable`.
///
/// poem-openapi sends `Option<T>` as `null` too, but leaves the key out of `required` and does
/// not mark the schema nullable. Lead providers' clients expect every key to be present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T> From<Option<T>> for Nullable<T> {
    fn from(value: Option<T>) -> Self {
        Self(value)
    }
}

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;

    type RawValueType = T::RawValueType;

    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => {
                let mut schema = *schema;
                schema.nullable = true;
                // OpenAPI 3.0 validators check `enum` before `nullable`, so null must be listed.
                if !schema.enum_items.is_empty() {
                    schema.enum_items.push(Value::Null);
                }
                MetaSchemaRef::Inline(Box::new(schema))
            }
            // A `$ref` cannot carry siblings in OpenAPI 3.0, so wrap it.
            reference @ MetaSchemaRef::Reference(_) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                all_of: vec![reference],
                ..MetaSchema::ANY
            })),
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(value) => value.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        match &self.0 {
            Some(value) => value.to_json(),
            None => Some(Value::Null),
        }
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            value => T::parse_from_json(value).map(|value| Self(Some(value))).map_err(ParseError::propagate),
        }
    }
}

/// A domain enum whose values travel as fixed strings.
pub trait TextEnum: Copy + Send + Sync + 'static {
    /// Returns the string this value is sent as.
    fn as_text(self) -> &'static str;

    /// Returns the value sent as `text`, if any.
    fn from_text(text: &str) -> Option<Self>;

    /// Returns every string the enum can be sent as, in declaration order.
    fn all_texts() -> &'static [&'static str];
}

macro_rules! text_enums {
    ($($enum_type:ty),+ $(,)?) => {
        $(
            impl TextEnum for $enum_type {
                fn as_text(self) -> &'static str {
                    self.as_str()
                }

                fn from_text(text: &str) -> Option<Self> {
                    text.parse().ok()
                }

                fn all_texts() -> &'static [&'static str] {
                    <$enum_type>::NAMES
                }
            }
        )+
    };
}

text_enums!(
    npq_domain::course::Course,
    npq_domain::application::ApplicationStatus,
    npq_domain::application::FundingChoice,
    npq_domain::application::HeadteacherStatus,
    npq_domain::application::IneligibleForFundingReason,
    npq_domain::application::ReasonForRejection,
    npq_domain::application::SencoInRole,
    npq_domain::schedule::ScheduleIdentifier,
    npq_domain::application::TrainingStatus,
    npq_domain::decision::HistoryField,
    npq_domain::training::DeferralReason,
    npq_domain::training::WithdrawalReason,
    npq_domain::course::CourseGroup,
    npq_domain::cohort::FundingRegime,
    npq_domain::statement::StatementState,
    npq_domain::statement::StatementItemState,
    npq_domain::statement_actions::ItemKind,
);

/// A domain enum sent as a string, with its values listed inline in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<E>(pub E);

impl<E: TextEnum> Type for Text<E> {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        std::any::type_name::<E>().into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            enum_items: E::all_texts().iter().map(|text| Value::from(*text)).collect(),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<E: TextEnum> ToJSON for Text<E> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0.as_text()))
    }
}

impl<E: TextEnum> ParseFromJSON for Text<E> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        match value.as_str().and_then(E::from_text) {
            Some(parsed) => Ok(Self(parsed)),
            None => Err(ParseError::custom(format!("expected one of {}", E::all_texts().join(", ")))),
        }
    }
}

/// An instant sent as RFC 3339 in UTC, in whole seconds with a `Z`: `2023-07-01T12:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcSeconds(pub Timestamp);

impl UtcSeconds {
    /// Formats the instant as it is sent.
    pub fn to_text(self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

impl Type for UtcSeconds {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(Value::from("2023-07-01T12:00:00Z")),
            ..MetaSchema::new_with_format("string", "date-time")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for UtcSeconds {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.to_text()))
    }
}

impl ParseFromJSON for UtcSeconds {
    /// Accepts any RFC 3339 date and time; the offset is converted to UTC.
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        let parsed = value.as_str().and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok());
        match parsed {
            Some(instant) => Ok(Self(instant.with_timezone(&chrono::Utc))),
            None => Err(ParseError::custom("expected an RFC 3339 date and time, such as 2023-07-01T12:00:00Z")),
        }
    }
}

/// A calendar date sent as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarDate(pub NaiveDate);

impl Type for CalendarDate {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(Value::from("2024-09-01")),
            ..MetaSchema::new_with_format("string", "date")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for CalendarDate {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0.format("%Y-%m-%d").to_string()))
    }
}

impl ParseFromJSON for CalendarDate {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        let parsed = value.as_str().and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok());
        match parsed {
            Some(date) => Ok(Self(date)),
            None => Err(ParseError::custom("expected a date such as 2024-09-01")),
        }
    }
}

/// A resource id taken from a path, kept as sent. The schema declares a UUID, but any text is accepted,
/// so that poem-openapi never rejects it with its own error: the handler parses it and returns 404
/// for a malformed id, like an unknown one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathId(pub String);

impl Type for PathId {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_uuid".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(Value::from("7e5bcdbf-c818-4961-8da5-439cab1984e0")),
            ..MetaSchema::new_with_format("string", "uuid")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromParameter for PathId {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use npq_domain::application::FundingChoice;

    #[test]
    fn nullable_sends_null_and_marks_schema() {
        assert_eq!(Nullable::<Text<FundingChoice>>(None).to_json(), Some(Value::Null));
        assert_eq!(Nullable(Some(Text(FundingChoice::SelfFunded))).to_json(), Some(Value::from("self")));
        let MetaSchemaRef::Inline(schema) = Nullable::<Text<FundingChoice>>::schema_ref() else {
            panic!("expected an inline schema");
        };
        assert!(schema.nullable);
        assert_eq!(schema.enum_items.last(), Some(&Value::Null));
        const { assert!(Nullable::<Text<FundingChoice>>::IS_REQUIRED) };
    }

    #[test]
    fn timestamps_are_whole_seconds_with_z() {
        let instant = chrono::Utc.with_ymd_and_hms(2023, 7, 1, 12, 0, 0).unwrap() + chrono::Duration::milliseconds(987);
        assert_eq!(UtcSeconds(instant).to_json(), Some(Value::from("2023-07-01T12:00:00Z")));
    }

    #[test]
    fn dates_are_year_month_day() {
        let date = NaiveDate::from_ymd_opt(2024, 9, 1).unwrap();
        assert_eq!(CalendarDate(date).to_json(), Some(Value::from("2024-09-01")));
    }
}
