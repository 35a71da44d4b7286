//! Request bodies of the admin statement operations: their documented attributes, and how each
//! is read into the arguments of one `StatementService` method.
//!
//! Money is sent in whole pence, as JSON integers, so no amount is ever rounded on its way in. A
//! body without `data.attributes` is a 400. An attribute that is missing or has the wrong JSON type
//! is a 422 titled with the attribute, and all such errors of one request are reported together.
//! Ranges and the rules between values, such as a payment date on or after the deadline, are
//! checked by the domain.

use chrono::NaiveDate;
use npq_domain::cohort::CohortIdentifier;
use npq_domain::course::Course;
use npq_domain::error::FieldError;
use npq_domain::ids::{LeadProviderId, parse_hyphenated_uuid};
use npq_domain::payment::Pence;
use npq_domain::statement_actions::{ContractRequest, DateChange, NewStatementRequest};
use poem_openapi::Object;
use serde_json::Value;
use uuid::Uuid;

use crate::body::{Attributes, RequestAttributes, RequiredBody};
use crate::error::ApiError;
use crate::types::Text;

fn field_error(attribute: &str, message: impl Into<String>) -> FieldError {
    FieldError { attribute: attribute.to_owned(), message: message.into() }
}

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

/// Reads an optional whole number; `null` counts as not sent.
fn optional_integer(attributes: &Attributes, name: &str) -> Result<Option<i64>, FieldError> {
    match attributes.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| field_error(name, format!("'#/{name}' must be a whole number, not {value}."))),
    }
}

fn required_integer(attributes: &Attributes, name: &str, example: &str) -> Result<i64, FieldError> {
    optional_integer(attributes, name)?
        .ok_or_else(|| field_error(name, format!("'#/{name}' is missing; give a whole number such as {example}.")))
}

/// Reads an optional count, such as a percentage or a number of instalments: a whole number that
/// is not negative.
fn optional_count(attributes: &Attributes, name: &str) -> Result<Option<u32>, FieldError> {
    optional_integer(attributes, name)?
        .map(|value| {
            u32::try_from(value).map_err(|_| {
                field_error(name, format!("'#/{name}' must be a whole number from 0 to {}, not {value}.", u32::MAX))
            })
        })
        .transpose()
}

fn required_count(attributes: &Attributes, name: &str, example: &str) -> Result<u32, FieldError> {
    optional_count(attributes, name)?
        .ok_or_else(|| field_error(name, format!("'#/{name}' is missing; give a whole number such as {example}.")))
}

/// Reads an optional calendar date sent as `YYYY-MM-DD`; `null` counts as not sent.
fn optional_date(attributes: &Attributes, name: &str) -> Result<Option<NaiveDate>, FieldError> {
    match attributes.text(name)? {
        None => Ok(None),
        Some(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| field_error(name, format!("'#/{name}' must be a date such as 2025-10-25, not '{text}'."))),
    }
}

fn optional_boolean(attributes: &Attributes, name: &str) -> Result<Option<bool>, FieldError> {
    match attributes.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(other) => Err(field_error(name, format!("'#/{name}' must be true or false, not {other}."))),
    }
}

/// Attributes of a new statement.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct CreateStatementAttributes {
    /// The lead provider the statement pays.
    pub lead_provider_id: Uuid,
    /// The cohort it pays for: an identifier such as `2026b`, or a start year such as `2025`,
    /// which means the year's `a` cohort.
    pub cohort: String,
    /// The calendar year of the statement, from 2020 to 2050.
    pub year: i32,
    /// The month of the statement, from 1 (January) to 12.
    pub month: u32,
    /// The last day on which a declaration can land on the statement (`cut_off_date` in the lead
    /// provider API), as `YYYY-MM-DD`.
    pub deadline_date: Option<String>,
    /// The day DfE expects to pay, as `YYYY-MM-DD`: on or after the deadline.
    pub payment_date: Option<String>,
    /// Whether the statement pays for declarations. `false` makes a statement of service fees
    /// only, which lead providers do not see. Defaults to `true`.
    pub output_fee: Option<bool>,
    /// An amount in pence, positive or negative, that settles differences found after earlier
    /// payments. Defaults to 0.
    pub reconcile_amount_pence: Option<i64>,
}

impl RequestAttributes for CreateStatementAttributes {
    const REQUEST_SCHEMA: &'static str = "CreateStatementRequest";
    const DESCRIPTION: &'static str = "A new statement of one lead provider for one cohort and month.";
    const DATA_TYPE: &'static str = "statement";
    const EXAMPLE: &'static str = r#"{"data":{"attributes":{"lead_provider_id":"7e5bcdbf-c818-4961-8da5-439cab1984e0","cohort":"2025","year":2025,"month":11,"deadline_date":"2025-10-25","payment_date":"2025-11-25"}}}"#;
}

/// Reads a new statement.
pub fn create_statement(body: &RequiredBody<CreateStatementAttributes>) -> Result<NewStatementRequest, ApiError> {
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
    let cohort = errors.check(attributes.text("cohort").and_then(|text| match text {
        None => Err(field_error("cohort", "'#/cohort' is missing; give a cohort such as 2025 or 2026b.")),
        Some(text) => {
            text.trim().parse::<CohortIdentifier>().map_err(|error| field_error("cohort", format!("{error}.")))
        }
    }));
    let year = errors.check(required_integer(&attributes, "year", "2025").and_then(|year| {
        i32::try_from(year).map_err(|_| field_error("year", format!("The year {year} is invalid; use 2020 to 2050.")))
    }));
    let month = errors.check(required_count(&attributes, "month", "11"));
    let deadline_date = errors.check(optional_date(&attributes, "deadline_date"));
    let payment_date = errors.check(optional_date(&attributes, "payment_date"));
    let output_fee = errors.check(optional_boolean(&attributes, "output_fee"));
    let reconcile_amount = errors.check(optional_integer(&attributes, "reconcile_amount_pence"));
    match (lead_provider, cohort, year, month, deadline_date, payment_date, output_fee, reconcile_amount) {
        (
            Some(lead_provider),
            Some(cohort),
            Some(year),
            Some(month),
            Some(deadline_date),
            Some(payment_date),
            Some(output_fee),
            Some(reconcile_amount),
        ) => Ok(NewStatementRequest {
            lead_provider,
            cohort,
            year,
            month,
            deadline_date,
            payment_date,
            output_fee: output_fee.unwrap_or(true),
            reconcile_amount: Pence(reconcile_amount.unwrap_or_default()),
        }),
        _ => Err(errors.into_error()),
    }
}

/// Attributes of a change of a statement's dates. Give one date or both; a date left out keeps
/// its value.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct ChangeStatementDatesAttributes {
    /// The new deadline, as `YYYY-MM-DD`: on or before the payment date.
    pub deadline_date: Option<String>,
    /// The new payment date, as `YYYY-MM-DD`: on or after the deadline.
    pub payment_date: Option<String>,
}

impl RequestAttributes for ChangeStatementDatesAttributes {
    const REQUEST_SCHEMA: &'static str = "ChangeStatementDatesRequest";
    const DESCRIPTION: &'static str = "New dates of an open statement.";
    const DATA_TYPE: &'static str = "statement-change-dates";
    const EXAMPLE: &'static str =
        r#"{"data":{"attributes":{"deadline_date":"2025-10-28","payment_date":"2025-11-26"}}}"#;
}

/// Reads a change of dates. Whether at least one date was given is a rule of the domain.
pub fn change_dates(body: &RequiredBody<ChangeStatementDatesAttributes>) -> Result<DateChange, ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let deadline_date = errors.check(optional_date(&attributes, "deadline_date"));
    let payment_date = errors.check(optional_date(&attributes, "payment_date"));
    match (deadline_date, payment_date) {
        (Some(deadline_date), Some(payment_date)) => Ok(DateChange { deadline_date, payment_date }),
        _ => Err(errors.into_error()),
    }
}

/// Attributes of a statement's contract for one course. Terms left out take the preset of the
/// course's group. Leadership courses pay 60% as output over 4 periods and 40% as service fee, and
/// specialist courses the same over 3 periods. The early headship coaching offer and the
/// additional support offer pay 100% as output over 4 periods.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct PutContractAttributes {
    /// The course the contract pays for.
    pub course: Text<Course>,
    /// The contract price per participant, in pence.
    pub per_participant_pence: i64,
    /// The number of participants the lead provider expects to recruit, on which service fees are
    /// paid.
    pub recruitment_target: u32,
    /// The number of monthly statements the service fee share is split over.
    pub service_fee_instalments: u32,
    /// The share of the price paid as output payments, in percent.
    pub output_payment_percentage: Option<u32>,
    /// The number of milestones the output share is split over.
    pub number_of_payment_periods: Option<u32>,
    /// The share of the price paid as service fees, in percent.
    pub service_fee_percentage: Option<u32>,
    /// A monthly service fee agreed outright, in pence, replacing the computed one. 0 means no
    /// service fee; leave it out to compute the fee.
    pub monthly_service_fee_pence: Option<i64>,
    /// The targeted delivery funding per eligible started participant, in pence. Defaults to
    /// 10000 (£100).
    pub targeted_delivery_funding_per_participant_pence: Option<i64>,
    /// Whether the course is paid apart: its figures are calculated but left out of the
    /// statement's totals. Defaults to `false`.
    pub special_course: Option<bool>,
}

impl RequestAttributes for PutContractAttributes {
    const REQUEST_SCHEMA: &'static str = "PutContractRequest";
    const DESCRIPTION: &'static str = "The contract terms of one course on an open statement.";
    const DATA_TYPE: &'static str = "statement-contract";
    const EXAMPLE: &'static str = r#"{"data":{"attributes":{"course":"npq-headship","per_participant_pence":220000,"recruitment_target":120,"service_fee_instalments":24}}}"#;
}

/// Reads a contract.
pub fn put_contract(body: &RequiredBody<PutContractAttributes>) -> Result<ContractRequest, ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let course = errors.check(attributes.text("course").and_then(|text| {
        let text = text.unwrap_or_default();
        text.trim().parse::<Course>().map_err(|error| field_error("course", format!("{error}.")))
    }));
    let per_participant = errors.check(required_integer(&attributes, "per_participant_pence", "220000"));
    let recruitment_target = errors.check(required_count(&attributes, "recruitment_target", "120"));
    let service_fee_instalments = errors.check(required_count(&attributes, "service_fee_instalments", "24"));
    let output_payment_percentage = errors.check(optional_count(&attributes, "output_payment_percentage"));
    let number_of_payment_periods = errors.check(optional_count(&attributes, "number_of_payment_periods"));
    let service_fee_percentage = errors.check(optional_count(&attributes, "service_fee_percentage"));
    let monthly_service_fee = errors.check(optional_integer(&attributes, "monthly_service_fee_pence"));
    let funding = errors.check(optional_integer(&attributes, "targeted_delivery_funding_per_participant_pence"));
    let special_course = errors.check(optional_boolean(&attributes, "special_course"));

    let (
        Some(course),
        Some(per_participant),
        Some(recruitment_target),
        Some(service_fee_instalments),
        Some(output_payment_percentage),
        Some(number_of_payment_periods),
        Some(service_fee_percentage),
        Some(monthly_service_fee),
        Some(funding),
        Some(special_course),
    ) = (
        course,
        per_participant,
        recruitment_target,
        service_fee_instalments,
        output_payment_percentage,
        number_of_payment_periods,
        service_fee_percentage,
        monthly_service_fee,
        funding,
        special_course,
    )
    else {
        return Err(errors.into_error());
    };
    Ok(ContractRequest {
        course,
        per_participant: Pence(per_participant),
        recruitment_target,
        service_fee_instalments,
        output_payment_percentage,
        number_of_payment_periods,
        service_fee_percentage,
        monthly_service_fee: monthly_service_fee.map(Pence),
        targeted_delivery_funding_per_participant: funding.map(Pence),
        special_course: special_course.unwrap_or(false),
    })
}

/// Attributes of an adjustment.
#[derive(Debug, Clone, PartialEq, Object)]
pub struct AddAdjustmentAttributes {
    /// The reason for the adjustment, shown beside the amount. Must not be blank.
    pub description: String,
    /// The amount in pence: positive to pay the lead provider more, negative to pay less. Not 0.
    pub amount_pence: i64,
}

impl RequestAttributes for AddAdjustmentAttributes {
    const REQUEST_SCHEMA: &'static str = "AddAdjustmentRequest";
    const DESCRIPTION: &'static str = "An amount DfE adds to or takes off a statement that is not paid.";
    const DATA_TYPE: &'static str = "statement-adjustment";
    const EXAMPLE: &'static str =
        r#"{"data":{"attributes":{"description":"Venue costs for the March residential","amount_pence":-25000}}}"#;
}

/// Reads an adjustment: the description as sent, which the domain checks, and the amount.
pub fn add_adjustment(body: &RequiredBody<AddAdjustmentAttributes>) -> Result<(String, Pence), ApiError> {
    let attributes = body.required_attributes()?;
    let mut errors = FieldErrors::default();
    let description = errors.check(attributes.text("description").map(Option::unwrap_or_default));
    let amount = errors.check(required_integer(&attributes, "amount_pence", "-25000"));
    match (description, amount) {
        (Some(description), Some(amount)) => Ok((description, Pence(amount))),
        _ => Err(errors.into_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body<A: RequestAttributes>(attributes: &str) -> RequiredBody<A> {
        RequiredBody::from_bytes(format!(r#"{{"data":{{"attributes":{attributes}}}}}"#))
    }

    fn titles(error: ApiError) -> Vec<String> {
        match error {
            ApiError::Invalid(errors) => errors.into_iter().map(|error| error.attribute).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn new_statement_defaults_and_types() {
        let request = create_statement(&body(
            r#"{"lead_provider_id":"7e5bcdbf-c818-4961-8da5-439cab1984e0","cohort":"2025","year":2025,"month":11,"deadline_date":"2025-10-25","payment_date":null}"#,
        ))
        .unwrap();
        assert_eq!(request.cohort, "2025a".parse().unwrap());
        assert_eq!(request.deadline_date, Some("2025-10-25".parse().unwrap()));
        assert_eq!(request.payment_date, None);
        assert!(request.output_fee);
        assert_eq!(request.reconcile_amount, Pence::ZERO);

        let error = create_statement(&body(
            r#"{"lead_provider_id":"abc","cohort":"20x5","year":"2025","month":-1,"deadline_date":"25/10/2025","output_fee":"yes","reconcile_amount_pence":1.5}"#,
        ))
        .unwrap_err();
        assert_eq!(
            titles(error),
            ["lead_provider_id", "cohort", "year", "month", "deadline_date", "output_fee", "reconcile_amount_pence"]
        );
    }

    #[test]
    fn contract_reads_pence_and_overrides() {
        let request = put_contract(&body(
            r#"{"course":"npq-leading-teaching","per_participant_pence":115000,"recruitment_target":40,"service_fee_instalments":18,"number_of_payment_periods":4,"monthly_service_fee_pence":0,"special_course":true}"#,
        ))
        .unwrap();
        assert_eq!(request.course, Course::LeadingTeaching);
        assert_eq!(request.per_participant, Pence(115_000));
        assert_eq!(request.number_of_payment_periods, Some(4));
        assert_eq!(request.output_payment_percentage, None);
        assert_eq!(request.monthly_service_fee, Some(Pence::ZERO));
        assert!(request.special_course);

        let error =
            put_contract(&body(r#"{"course":"npq-juggling","per_participant_pence":"1150","recruitment_target":-4}"#))
                .unwrap_err();
        assert_eq!(titles(error), ["course", "per_participant_pence", "recruitment_target", "service_fee_instalments"]);
    }

    #[test]
    fn dates_and_adjustments_check_types() {
        let change = change_dates(&body(r#"{"payment_date":"2025-11-26"}"#)).unwrap();
        assert_eq!(change, DateChange { deadline_date: None, payment_date: Some("2025-11-26".parse().unwrap()) });
        assert_eq!(titles(change_dates(&body(r#"{"deadline_date":20251025}"#)).unwrap_err()), ["deadline_date"]);

        assert_eq!(
            add_adjustment(&body(r#"{"description":"Venue","amount_pence":-2500}"#)).unwrap(),
            ("Venue".to_owned(), Pence(-2_500))
        );
        assert_eq!(titles(add_adjustment(&body(r#"{"description":3}"#)).unwrap_err()), ["description", "amount_pence"]);
    }
}
