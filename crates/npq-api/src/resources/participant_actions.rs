//! Request bodies of your actions on participants: defer, withdraw, resume and change schedule.
//!
//! Every action needs `data.attributes` with at least one attribute, else 400. The attributes are
//! handed to the rules as sent, which reject missing or unknown values with 422. Attributes that
//! an action does not read are ignored.

use npq_domain::course::Course;
use npq_domain::schedule::ScheduleIdentifier;
use npq_domain::training::{DeferralReason, WithdrawalReason};
use poem_openapi::Object;
use serde_json::Value;

use crate::body::{Attributes, RequestAttributes, RequiredBody};
use crate::error::ApiError;
use crate::types::{Nullable, Text};

/// The attributes of a deferral.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantDeferAttributes")]
pub struct DeferAttributes {
    /// The course whose training pauses.
    pub course_identifier: Text<Course>,
    /// The reason the training pauses.
    pub reason: Text<DeferralReason>,
}

impl RequestAttributes for DeferAttributes {
    const REQUEST_SCHEMA: &'static str = "ParticipantDeferRequest";
    const DESCRIPTION: &'static str = "A deferral of a participant's training on one course.";
    const DATA_TYPE: &'static str = "participant-defer";
    const EXAMPLE: &'static str = r#"{"data":{"type":"participant-defer","attributes":{"course_identifier":"npq-headship","reason":"parental-leave"}}}"#;
}

/// The attributes of a withdrawal.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantWithdrawAttributes")]
pub struct WithdrawAttributes {
    /// The course the participant left.
    pub course_identifier: Text<Course>,
    /// The reason the participant left. The full stop at the end of
    /// `quality-of-programme-structure-not-suitable.` is part of the value.
    pub reason: Text<WithdrawalReason>,
}

impl RequestAttributes for WithdrawAttributes {
    const REQUEST_SCHEMA: &'static str = "ParticipantWithdrawRequest";
    const DESCRIPTION: &'static str = "A withdrawal of a participant from one course.";
    const DATA_TYPE: &'static str = "participant-withdraw";
    const EXAMPLE: &'static str = r#"{"data":{"type":"participant-withdraw","attributes":{"course_identifier":"npq-headship","reason":"change-in-career"}}}"#;
}

/// The attributes of a resumption.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantResumeAttributes")]
pub struct ResumeAttributes {
    /// The course whose training resumes.
    pub course_identifier: Text<Course>,
}

impl RequestAttributes for ResumeAttributes {
    const REQUEST_SCHEMA: &'static str = "ParticipantResumeRequest";
    const DESCRIPTION: &'static str = "A resumption of a deferred or withdrawn participant's training on one course.";
    const DATA_TYPE: &'static str = "participant-resume";
    const EXAMPLE: &'static str =
        r#"{"data":{"type":"participant-resume","attributes":{"course_identifier":"npq-headship"}}}"#;
}

/// The attributes of a change of schedule.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ParticipantChangeScheduleAttributes")]
pub struct ChangeScheduleAttributes {
    /// The course whose schedule changes.
    pub course_identifier: Text<Course>,
    /// The new schedule, which must suit the course.
    pub schedule_identifier: Text<ScheduleIdentifier>,
    /// The start year of the cohort to move to, such as `"2025"`. Leave it out (or send `null`)
    /// to stay in the start year of the current schedule's cohort. When a year has several
    /// cohorts, the latest is chosen.
    pub cohort: Option<Nullable<String>>,
}

impl RequestAttributes for ChangeScheduleAttributes {
    const REQUEST_SCHEMA: &'static str = "ParticipantChangeScheduleRequest";
    const DESCRIPTION: &'static str =
        "A move of a participant's enrolment on one course to another schedule, and perhaps to another cohort.";
    const DATA_TYPE: &'static str = "participant-change-schedule";
    const EXAMPLE: &'static str = r#"{"data":{"type":"participant-change-schedule","attributes":{"course_identifier":"npq-headship","schedule_identifier":"npq-leadership-spring","cohort":"2025"}}}"#;
}

/// The attributes a participant action reads, as sent. Each action uses some of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionRequest {
    pub course_identifier: Option<String>,
    pub reason: Option<String>,
    pub schedule_identifier: Option<String>,
    pub cohort: Option<String>,
}

/// Reads the attributes of a participant action. A body without `data.attributes`, or with an
/// empty object there, is a 400.
pub fn action_request<A: RequestAttributes>(body: &RequiredBody<A>) -> Result<ActionRequest, ApiError> {
    let attributes = body.required_attributes()?;
    Ok(ActionRequest {
        course_identifier: text_as_sent(&attributes, "course_identifier"),
        reason: text_as_sent(&attributes, "reason"),
        schedule_identifier: text_as_sent(&attributes, "schedule_identifier"),
        cohort: text_as_sent(&attributes, "cohort"),
    })
}

/// Returns a string attribute, `None` when it is missing or `null`. Any other JSON value is
/// returned as its JSON text, so that the rules report it on its attribute: `{"a":1}` is no
/// course. A number is read as its digits, so `"cohort": 2025` means the cohort `"2025"`.
pub(crate) fn text_as_sent(attributes: &Attributes, name: &str) -> Option<String> {
    match attributes.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<ActionRequest, ApiError> {
        action_request(&RequiredBody::<ChangeScheduleAttributes>::from_bytes(body))
    }

    #[test]
    fn attributes_are_read_as_sent() {
        let request = read(
            r#"{"data":{"attributes":{"course_identifier":"npq-headship","schedule_identifier":"npq-leadership-spring","cohort":"2025","other":1}}}"#,
        )
        .unwrap();
        assert_eq!(request.course_identifier.as_deref(), Some("npq-headship"));
        assert_eq!(request.schedule_identifier.as_deref(), Some("npq-leadership-spring"));
        assert_eq!(request.cohort.as_deref(), Some("2025"));
        assert_eq!(request.reason, None);
    }

    #[test]
    fn non_string_values_become_their_json_text() {
        let request =
            read(r#"{"data":{"attributes":{"course_identifier":{"a":1},"reason":true,"cohort":2025,"schedule_identifier":null}}}"#)
                .unwrap();
        assert_eq!(request.course_identifier.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(request.reason.as_deref(), Some("true"));
        assert_eq!(request.cohort.as_deref(), Some("2025"));
        assert_eq!(request.schedule_identifier, None);
    }

    #[test]
    fn body_without_attributes_is_a_bad_request() {
        for body in ["", "{}", "[]", r#"{"data":null}"#, r#"{"data":{}}"#, r#"{"data":{"attributes":{}}}"#, "{"] {
            assert!(matches!(read(body), Err(ApiError::BadRequest(_))), "{body:?}");
        }
    }
}
