//! Request bodies of the admin operations: their documented attributes, and how each is read into
//! the arguments of one `DecisionService` method.
//!
//! A body without `data.attributes` is a 400. An attribute that is missing or has the wrong JSON
//! type is a 422 titled with the attribute, and all such errors of one request are reported
//! together.

use npq_domain::Timestamp;
use npq_domain::application::TrainingStatus;
use npq_domain::cohort::CohortIdentifier;
use npq_domain::decision::DfeRejection;
use npq_domain::error::FieldError;
use npq_domain::ids::{LeadProviderId, ParticipantId, parse_hyphenated_uuid};
use npq_domain::listing::parse_timestamp_filter;
use npq_domain::service::MAX_EXPIRIES_PER_CALL;
use poem_openapi::{Enum, Object};
use serde_json::Value;
use uuid::Uuid;

use crate::body::{Attributes, RequestAttributes, RequiredBody};
use crate::error::ApiError;
use crate::types::Text;

/// Collects the attribute errors of one request, so that all of them are reported at once.
#[derive(Default)]
struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Keeps the value, or records the error and returns `None`.
    fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|error| self.0.push(error)).ok()
    }

    fn into_error(self) -> ApiError {
        ApiError::Invalid(self.0)
    }
}

fn field_error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

/// Reads a note that explains a change, which the history records: a string that is not blank.
fn required_note(attributes: &Attributes) -> Result<String, FieldError> {
    match attributes.text("note")? {
        Some(note) if !note.trim().is_empty() => Ok(note.trim().to_owned()),
        _ => Err(field_error("note", "Give a note in '#/note' saying why; the application's history records it.")),
    }
}

/// Reads an optional string attribute, blank when it was not sent.
fn optional_text(attributes: &Attributes, name: &str) -> Result<String, FieldError> {
    Ok(attributes.text(name)?.unwrap_or_default())
}

/// Attributes of a return to pending.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct RevertToPendingAttributes {
    /// The reason for the return to pending, recorded in the history. Must not be blank.
    pub note: String,
}

impl RequestAttributes for RevertToPendingAttributes {
    const REQUEST_SCHEMA: &'static str = "RevertToPendingRequest";
    const DESCRIPTION: &'static str = "A return of an accepted or rejected application to pending.";
    const DATA_TYPE: &'static str = "npq-application-revert-to-pending";
    const EXAMPLE: &'static str = r#"{"data":{"attributes":{"note":"Accepted in error, ticket 1234"}}}"#;
}

/// Reads a return to pending: its note.
pub fn revert_to_pending(body: &RequiredBody<RevertToPendingAttributes>) -> Result<String, ApiError> {
    let attributes = body.required_attributes()?;
    required_note(&attributes).map_err(|error| ApiError::Invalid(vec![error]))
}

/// Attributes of a move to another cohort.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ChangeCohortAttributes {
    /// The cohort to move to: an identifier such as `2026b`, or a start year such as `2025`,
    /// which means the year's `a` cohort.
    pub cohort: String,
    /// The reason for the move, recorded in the history. Must not be blank.
    pub note: String,
}

impl RequestAttributes for ChangeCohortAttributes {
    const REQUEST_SCHEMA: &'static str = "ChangeCohortRequest";
    const DESCRIPTION: &'static str = "A move of an application to another cohort.";
    const DATA_TYPE: &'static str = "npq-application-change-cohort";
    const EXAMPLE: &'static str = r#"{"data":{"attributes":{"cohort":"2025","note":"Registered for the wrong year"}}}"#;
}

/// Reads a move to another cohort: the cohort as sent, and the note.
pub fn change_cohort(body: &RequiredBody<ChangeCohortAttributes>) -> Result<(String, String), ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let cohort = errors.check(attributes.text("cohort").and_then(|cohort| {
        cohort
            .filter(|cohort| !cohort.trim().is_empty())
            .ok_or_else(|| field_error("cohort", "Give the cohort to move to in '#/cohort', such as 2025 or 2026b."))
    }));
    let note = errors.check(required_note(&attributes));
    match (cohort, note) {
        (Some(cohort), Some(note)) => Ok((cohort, note)),
        _ => Err(errors.into_error()),
    }
}

/// Attributes of a funding eligibility override.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ChangeFundingEligibilityAttributes {
    /// Whether DfE funds the applicant, as a JSON boolean.
    pub eligible_for_funding: bool,
    /// The reason for overriding the eligibility found at registration, recorded in the history.
    /// Must not be blank.
    pub reason: String,
}

impl RequestAttributes for ChangeFundingEligibilityAttributes {
    const REQUEST_SCHEMA: &'static str = "ChangeFundingEligibilityRequest";
    const DESCRIPTION: &'static str = "An override of an application's funding eligibility.";
    const DATA_TYPE: &'static str = "npq-application-change-funding-eligibility";
    const EXAMPLE: &'static str =
        r#"{"data":{"attributes":{"eligible_for_funding":true,"reason":"School confirmed as state-funded"}}}"#;
}

/// Reads a funding eligibility override: the new eligibility and the reason as sent. The rules
/// check that the reason is not blank.
pub fn change_funding_eligibility(
    body: &RequiredBody<ChangeFundingEligibilityAttributes>,
) -> Result<(bool, String), ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let eligible = errors.check(
        attributes
            .boolean("eligible_for_funding")
            .ok_or_else(|| field_error("eligible_for_funding", "Set '#/eligible_for_funding' to true or false.")),
    );
    let reason = errors.check(optional_text(&attributes, "reason"));
    match (eligible, reason) {
        (Some(eligible), Some(reason)) => Ok((eligible, reason)),
        _ => Err(errors.into_error()),
    }
}

/// Attributes of a move to another lead provider.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ChangeLeadProviderAttributes {
    /// The id of the lead provider to move the application to.
    pub lead_provider_id: Uuid,
    /// The reason for the move, recorded in the history. Must not be blank.
    pub note: String,
}

impl RequestAttributes for ChangeLeadProviderAttributes {
    const REQUEST_SCHEMA: &'static str = "ChangeLeadProviderRequest";
    const DESCRIPTION: &'static str = "A move of an application to another lead provider.";
    const DATA_TYPE: &'static str = "npq-application-change-lead-provider";
    const EXAMPLE: &'static str = r#"{"data":{"attributes":{"lead_provider_id":"7e5bcdbf-c818-4961-8da5-439cab1984e0","note":"Participant moved provider"}}}"#;
}

/// Reads a move to another lead provider: its id and the note.
pub fn change_lead_provider(
    body: &RequiredBody<ChangeLeadProviderAttributes>,
) -> Result<(LeadProviderId, String), ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let lead_provider = errors.check(attributes.text("lead_provider_id").and_then(|text| {
        let text = text.unwrap_or_default();
        parse_hyphenated_uuid(text.trim()).map(LeadProviderId::from_uuid).map_err(|_| {
            field_error(
                "lead_provider_id",
                format!("'#/lead_provider_id' must be a lead provider id (a UUID); '{text}' is not a UUID."),
            )
        })
    }));
    let note = errors.check(required_note(&attributes));
    match (lead_provider, note) {
        (Some(lead_provider), Some(note)) => Ok((lead_provider, note)),
        _ => Err(errors.into_error()),
    }
}

/// Attributes of a change of training status.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ChangeTrainingStatusAttributes {
    /// The new training status of the accepted application.
    pub training_status: Text<TrainingStatus>,
    /// For `deferred`, a deferral reason such as `parental-leave`; for `withdrawn`, a withdrawal
    /// reason such as `change-in-career`, as lead providers send them. Ignored for `active`.
    pub reason: Option<String>,
}

impl RequestAttributes for ChangeTrainingStatusAttributes {
    const REQUEST_SCHEMA: &'static str = "ChangeTrainingStatusRequest";
    const DESCRIPTION: &'static str = "A change of an accepted application's training status.";
    const DATA_TYPE: &'static str = "npq-application-change-training-status";
    const EXAMPLE: &'static str = r#"{"data":{"attributes":{"training_status":"deferred","reason":"parental-leave"}}}"#;
}

/// Reads a change of training status: the status and the reason as sent, which the rules check.
pub fn change_training_status(
    body: &RequiredBody<ChangeTrainingStatusAttributes>,
) -> Result<(String, Option<String>), ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let status = errors.check(optional_text(&attributes, "training_status"));
    let reason = errors.check(attributes.text("reason"));
    match (status, reason) {
        (Some(status), Some(reason)) => Ok((status, reason)),
        _ => Err(errors.into_error()),
    }
}

/// The reason for rejection DfE gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum DfeRejectionReason {
    /// The registration was never decided and DfE closed it.
    #[oai(rename = "registration_expired")]
    RegistrationExpired,
    /// DfE decided the application cannot go ahead.
    #[oai(rename = "rejected_by_dfe")]
    RejectedByDfe,
}

/// Attributes of a rejection by DfE.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AdminRejectAttributes {
    /// The reason for rejection, shown to the lead provider.
    pub reason: DfeRejectionReason,
    /// DfE's explanation of the rejection, recorded in the history. Must not be blank.
    pub note: String,
}

impl RequestAttributes for AdminRejectAttributes {
    const REQUEST_SCHEMA: &'static str = "AdminRejectRequest";
    const DESCRIPTION: &'static str = "A rejection of an application by DfE.";
    const DATA_TYPE: &'static str = "npq-application-reject";
    const EXAMPLE: &'static str =
        r#"{"data":{"attributes":{"reason":"rejected_by_dfe","note":"Applicant asked to withdraw"}}}"#;
}

/// Reads a rejection by DfE: the reason and the note.
pub fn reject(body: &RequiredBody<AdminRejectAttributes>) -> Result<(DfeRejection, String), ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let rejection = errors.check(match attributes.get("reason") {
        Some(Value::String(reason)) if reason == "registration_expired" => Ok(DfeRejection::Expired),
        Some(Value::String(reason)) if reason == "rejected_by_dfe" => Ok(DfeRejection::Rejected),
        _ => Err(field_error("reason", "'#/reason' must be registration_expired or rejected_by_dfe.")),
    });
    let note = errors.check(required_note(&attributes));
    match (rejection, note) {
        (Some(rejection), Some(note)) => Ok((rejection, note)),
        _ => Err(errors.into_error()),
    }
}

/// Attributes of a merge of a duplicate account into the account the person keeps, which is the
/// one in the path.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct MergeParticipantsAttributes {
    /// The id of the duplicate account to retire. Its applications move to the kept account, and
    /// the id stops working.
    pub from_participant_id: Uuid,
    /// The reason for the merge, recorded in the history of every moved application. Must not be
    /// blank.
    pub note: String,
}

impl RequestAttributes for MergeParticipantsAttributes {
    const REQUEST_SCHEMA: &'static str = "MergeParticipantsRequest";
    const DESCRIPTION: &'static str = "A merge of a person's duplicate account into the account they keep.";
    const DATA_TYPE: &'static str = "npq-participant-merge";
    const EXAMPLE: &'static str = r#"{"data":{"attributes":{"from_participant_id":"7e5bcdbf-c818-4961-8da5-439cab1984e0","note":"Same person registered twice, ticket 1234"}}}"#;
}

/// Reads a merge: the id of the account to retire and the note.
pub fn merge_participants(
    body: &RequiredBody<MergeParticipantsAttributes>,
) -> Result<(ParticipantId, String), ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let retired = errors.check(attributes.text("from_participant_id").and_then(|text| {
        let text = text.unwrap_or_default();
        text.trim().parse::<ParticipantId>().map_err(|_| {
            field_error(
                "from_participant_id",
                format!("'#/from_participant_id' must be the participant id (a UUID) of the account to retire; '{text}' is not a UUID."),
            )
        })
    }));
    let note = errors.check(required_note(&attributes));
    match (retired, note) {
        (Some(retired), Some(note)) => Ok((retired, note)),
        _ => Err(errors.into_error()),
    }
}

/// Attributes of a bulk expiry.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ExpireAttributes {
    /// Only applications created before this instant: an ISO 8601 date and time such as
    /// `2025-03-01T00:00:00Z`, or a date such as `2025-03-01`, which means midnight UTC. Without
    /// an offset the time is UTC.
    pub created_before: String,
    /// Only applications in this cohort: an identifier such as `2026b`, or a start year such as
    /// `2025`, which means the year's `a` cohort. Every cohort when left out.
    pub cohort: Option<String>,
    /// The maximum number of applications to expire in this call, from 1 to 1000. Defaults to
    /// 1000.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub limit: Option<u32>,
}

impl RequestAttributes for ExpireAttributes {
    const REQUEST_SCHEMA: &'static str = "ExpireApplicationsRequest";
    const DESCRIPTION: &'static str = "A bulk expiry of stale pending applications.";
    const DATA_TYPE: &'static str = "npq-applications-expire";
    const EXAMPLE: &'static str =
        r#"{"data":{"attributes":{"created_before":"2025-03-01","cohort":"2024","limit":500}}}"#;
}

/// A bulk expiry as read from its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryRequest {
    pub created_before: Timestamp,
    pub cohort: Option<CohortIdentifier>,
    pub limit: u32,
}

/// Reads a bulk expiry.
pub fn expire(body: &RequiredBody<ExpireAttributes>) -> Result<ExpiryRequest, ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let created_before = errors.check(attributes.text("created_before").and_then(|text| {
        parse_timestamp_filter("created_before", text.as_deref())
            .map_err(|error| field_error("created_before", error.to_string()))?
            .ok_or_else(|| {
                field_error("created_before", "Give '#/created_before', such as 2025-03-01 or 2025-03-01T00:00:00Z.")
            })
    }));
    let cohort = errors.check(attributes.text("cohort").and_then(|text| {
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|error: npq_domain::cohort::InvalidCohort| field_error("cohort", error.to_string())),
        }
    }));
    let limit = errors.check(match attributes.get("limit") {
        None | Some(Value::Null) => Ok(MAX_EXPIRIES_PER_CALL),
        Some(value) => value
            .as_u64()
            .and_then(|limit| u32::try_from(limit).ok())
            .filter(|limit| (1..=MAX_EXPIRIES_PER_CALL).contains(limit))
            .ok_or_else(|| {
                field_error("limit", format!("'#/limit' must be a whole number from 1 to {MAX_EXPIRIES_PER_CALL}."))
            }),
    });
    match (created_before, cohort, limit) {
        (Some(created_before), Some(cohort), Some(limit)) => Ok(ExpiryRequest { created_before, cohort, limit }),
        _ => Err(errors.into_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn attributes_body<A: RequestAttributes>(attributes: &str) -> RequiredBody<A> {
        RequiredBody::from_bytes(format!(r#"{{"data":{{"attributes":{attributes}}}}}"#))
    }

    fn titles(error: ApiError) -> Vec<String> {
        match error {
            ApiError::Invalid(errors) => errors.into_iter().map(|error| error.attribute).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn blank_or_missing_note_is_invalid() {
        for attributes in [r#"{"note":"  "}"#, r#"{"other":1}"#, r#"{"note":null}"#, r#"{"note":3}"#] {
            let error = revert_to_pending(&attributes_body(attributes)).unwrap_err();
            assert_eq!(titles(error), ["note"], "{attributes}");
        }
        assert_eq!(revert_to_pending(&attributes_body(r#"{"note":" why "}"#)), Ok("why".to_owned()));
    }

    #[test]
    fn every_attribute_error_is_reported() {
        let error = change_lead_provider(&attributes_body(r#"{"lead_provider_id":"abc","note":""}"#)).unwrap_err();
        assert_eq!(titles(error), ["lead_provider_id", "note"]);
        let error = reject(&attributes_body(r#"{"reason":"rejected_by_provider"}"#)).unwrap_err();
        assert_eq!(titles(error), ["reason", "note"]);
    }

    #[test]
    fn funding_eligibility_must_be_a_boolean() {
        for value in [r#""true""#, "null", "1"] {
            let body = attributes_body(&format!(r#"{{"eligible_for_funding":{value},"reason":"x"}}"#));
            assert_eq!(titles(change_funding_eligibility(&body).unwrap_err()), ["eligible_for_funding"], "{value}");
        }
    }

    #[test]
    fn expiry_reads_dates_cohorts_and_limits() {
        let request = expire(&attributes_body(r#"{"created_before":"2025-03-01","cohort":"2026b"}"#)).unwrap();
        assert_eq!(request.created_before, chrono::Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap());
        assert_eq!(request.cohort, Some("2026b".parse().unwrap()));
        assert_eq!(request.limit, MAX_EXPIRIES_PER_CALL);

        let error = expire(&attributes_body(r#"{"created_before":"soon","cohort":"20x6","limit":0}"#)).unwrap_err();
        assert_eq!(titles(error), ["created_before", "cohort", "limit"]);
        for limit in ["1001", "1.5", r#""10""#, "-1"] {
            let body = attributes_body(&format!(r#"{{"created_before":"2025-03-01","limit":{limit}}}"#));
            assert_eq!(titles(expire(&body).unwrap_err()), ["limit"], "{limit}");
        }
        let error = expire(&attributes_body(r#"{"cohort":"2025"}"#)).unwrap_err();
        assert_eq!(titles(error), ["created_before"]);
    }

    #[test]
    fn merge_needs_a_participant_id_and_a_note() {
        let id = "7e5bcdbf-c818-4961-8da5-439cab1984e0";
        let body = attributes_body(&format!(r#"{{"from_participant_id":" {id} ","note":"duplicate"}}"#));
        assert_eq!(merge_participants(&body), Ok((id.parse().unwrap(), "duplicate".to_owned())));
        let error = merge_participants(&attributes_body(r#"{"from_participant_id":"abc","note":" "}"#)).unwrap_err();
        assert_eq!(titles(error), ["from_participant_id", "note"]);
        let error = merge_participants(&attributes_body(r#"{"from_participant_id":7,"other":1}"#)).unwrap_err();
        assert_eq!(titles(error), ["from_participant_id", "note"]);
    }

    #[test]
    fn missing_attributes_are_a_bad_request() {
        let body = RequiredBody::<ExpireAttributes>::from_bytes(r#"{"created_before":"2025-03-01"}"#);
        assert!(matches!(expire(&body), Err(ApiError::BadRequest(_))));
        let body = RequiredBody::<RevertToPendingAttributes>::from_bytes("");
        assert!(matches!(revert_to_pending(&body), Err(ApiError::BadRequest(_))));
    }
}
