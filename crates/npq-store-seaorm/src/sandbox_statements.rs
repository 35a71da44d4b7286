//! Sandbox statements: a monthly output-fee statement for every lead provider and cohort, with
//! contracts for every course, so that sandbox declarations always have a statement to land on.
//!
//! Statement `M` of a year is paid on the 25th of `M` and its deadline is the 25th of the month
//! before. Statements run for [`STATEMENTS_PER_COHORT`] months from the month after the cohort's
//! registration opens. Their state follows the given day, as the deadline job and DfE's payments
//! would have left them. Statements paid before that day are `paid`, one whose deadline has passed
//! but whose payment date has not is `payable`, and the rest are `open`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use npq_domain::cohort::Cohort;
use npq_domain::course::{Course, CourseGroup};
use npq_domain::ids::StatementId;
use npq_domain::payment::{ContractTerms, Pence};
use npq_domain::provider::LeadProvider;
use npq_domain::statement::{LAST_YEAR, Statement, StatementState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Number of monthly statements each lead provider has for each cohort: three years, which covers
/// the longest schedule and the clawbacks after it.
pub const STATEMENTS_PER_COHORT: u32 = 36;

/// Day of the month of every sandbox deadline and payment date.
const STATEMENT_DAY: u32 = 25;

/// Days before the payment date on which DfE authorised the payment of a paid sandbox statement.
const AUTHORISED_DAYS_BEFORE_PAYMENT: i64 = 5;

/// Returns a generator seeded from a lead provider, a cohort and a number, so the same inputs give
/// the same ids and figures whatever order statements are built in.
fn generator(provider: &LeadProvider, cohort: &Cohort, number: u32) -> ChaCha8Rng {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(provider.id.as_uuid().as_bytes());
    seed[16..18].copy_from_slice(&cohort.identifier.start_year().to_be_bytes());
    seed[18] = u8::try_from(cohort.identifier.suffix()).unwrap_or_default();
    seed[19..23].copy_from_slice(&number.to_be_bytes());
    ChaCha8Rng::from_seed(seed)
}

fn random_uuid(rng: &mut ChaCha8Rng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn at(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).unwrap_or_default())
}

/// Returns the year and month `months` after `year` and `month`.
fn add_months(year: i32, month: u32, months: u32) -> (i32, u32) {
    let index = i64::from(year) * 12 + i64::from(month) - 1 + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).unwrap_or(i32::MAX);
    let month = u32::try_from(index.rem_euclid(12)).unwrap_or_default() + 1;
    (year, month)
}

/// Returns the usual price per participant of a course, in pence, before a lead provider's own
/// variation.
const fn base_price(course: Course) -> i64 {
    match course {
        Course::SeniorLeadership => 193_000,
        Course::Headship => 220_000,
        Course::ExecutiveLeadership => 410_000,
        Course::EarlyYearsLeadership => 175_000,
        Course::Senco => 195_000,
        Course::LeadingTeaching
        | Course::LeadingBehaviourCulture
        | Course::LeadingTeachingDevelopment
        | Course::LeadingLiteracy
        | Course::LeadingPrimaryMathematics => 115_000,
        Course::EarlyHeadshipCoachingOffer | Course::AdditionalSupportOffer => 80_000,
    }
}

/// Returns the number of monthly service fee instalments of a course group's contracts.
const fn instalments(group: CourseGroup) -> u32 {
    match group {
        CourseGroup::Leadership => 24,
        CourseGroup::Specialist => 18,
        // These groups pay no service fee, so the number is not used.
        CourseGroup::Ehco | CourseGroup::Support => 12,
    }
}

/// Builds the sandbox statements and contract terms of `lead_providers` in `cohorts`, as they
/// stand on `today`. The result depends only on the arguments, ids included.
///
/// Every lead provider gets [`STATEMENTS_PER_COHORT`] monthly output-fee statements per cohort,
/// from the month after the cohort's registration opens, with the deadline on the 25th of the
/// month before the statement's month and the payment on the 25th of its month. A statement whose
/// payment date is before `today` is `paid`, authorised five days before its payment date. One
/// whose deadline is before `today` but whose payment date is not is `payable`, and later ones are
/// `open`. A cohort still running on `today` therefore always has an open statement whose
/// deadline is today or later. Statements after [`LAST_YEAR`] are left out.
///
/// Each lead provider also gets contract terms for every course in every cohort: the preset of the
/// course's group, a price per participant within 5% of the course's usual price and a
/// recruitment target from 20 to 400.
pub fn sandbox_statements(
    lead_providers: &[LeadProvider],
    cohorts: &[Cohort],
    today: NaiveDate,
) -> (Vec<Statement>, Vec<ContractTerms>) {
    let mut statements = Vec::new();
    let mut contracts = Vec::new();
    for provider in lead_providers {
        for cohort in cohorts {
            let opens = cohort.registration_start_date.date_naive();
            let first_of_month = opens.with_day(1).unwrap_or(opens);
            let created_at = at(first_of_month.min(today), 0);
            for number in 0..STATEMENTS_PER_COHORT {
                let (deadline_year, deadline_month) = add_months(opens.year(), opens.month(), number);
                let (year, month) = add_months(opens.year(), opens.month(), number + 1);
                let (Some(payment_date), Some(deadline_date)) = (
                    NaiveDate::from_ymd_opt(year, month, STATEMENT_DAY),
                    NaiveDate::from_ymd_opt(deadline_year, deadline_month, STATEMENT_DAY),
                ) else {
                    continue;
                };
                if year > LAST_YEAR {
                    continue;
                }
                let (state, marked_as_paid_at, updated_at) = if payment_date < today {
                    let authorised = at(payment_date - Duration::days(AUTHORISED_DAYS_BEFORE_PAYMENT), 10);
                    (StatementState::Paid, Some(authorised), authorised)
                } else if deadline_date < today {
                    // The deadline job marks a statement payable on the day after its deadline.
                    (StatementState::Payable, None, at(deadline_date + Duration::days(1), 0))
                } else {
                    (StatementState::Open, None, created_at)
                };
                let mut rng = generator(provider, cohort, number);
                statements.push(Statement {
                    id: StatementId::from_uuid(random_uuid(&mut rng)),
                    lead_provider: provider.id,
                    cohort: cohort.identifier,
                    year,
                    month,
                    deadline_date: Some(deadline_date),
                    payment_date: Some(payment_date),
                    output_fee: true,
                    state,
                    marked_as_paid_at,
                    reconcile_amount: Pence::ZERO,
                    created_at,
                    updated_at: updated_at.max(created_at),
                });
            }
            let mut rng = generator(provider, cohort, u32::MAX);
            for course in Course::ALL {
                let variation: i64 = rng.random_range(95..=105);
                // Whole pounds: the usual price varied by up to 5% either way.
                let price = base_price(*course) * variation / 100 / 100 * 100;
                let target: u32 = rng.random_range(20..=400);
                contracts.push(ContractTerms::preset(
                    provider.id,
                    cohort.identifier,
                    *course,
                    Pence(price),
                    target,
                    instalments(course.group()),
                ));
            }
        }
    }
    (statements, contracts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use npq_domain::cohort::FundingRegime;
    use npq_domain::ids::LeadProviderId;
    use npq_domain::statement::{check_statement_fields, next_output_fee_statement};

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn providers() -> Vec<LeadProvider> {
        ["Teach First", "Ambition Institute"]
            .iter()
            .enumerate()
            .map(|(index, name)| LeadProvider {
                id: LeadProviderId::from_uuid(uuid::Uuid::from_u128(index as u128 + 1)),
                name: (*name).to_owned(),
                created_at: at(day("2021-01-04"), 9),
                updated_at: at(day("2021-01-04"), 9),
            })
            .collect()
    }

    fn cohorts() -> Vec<Cohort> {
        ["2023a", "2025a", "2026b"]
            .iter()
            .map(|identifier| {
                let identifier: npq_domain::cohort::CohortIdentifier = identifier.parse().unwrap();
                Cohort {
                    identifier,
                    description: identifier.to_string(),
                    registration_start_date: at(
                        NaiveDate::from_ymd_opt(i32::from(identifier.start_year()), 4, 3).unwrap(),
                        9,
                    ),
                    funding: FundingRegime::Capped,
                }
            })
            .collect()
    }

    #[test]
    fn sandbox_statements_follow_today() {
        let today = day("2026-05-10");
        let (statements, contracts) = sandbox_statements(&providers(), &cohorts(), today);

        assert_eq!(statements, sandbox_statements(&providers(), &cohorts(), today).0, "the same input, the same data");
        assert_eq!(statements.len(), 2 * 3 * STATEMENTS_PER_COHORT as usize);
        assert_eq!(contracts.len(), 2 * 3 * Course::ALL.len());
        let mut ids: Vec<StatementId> = statements.iter().map(|statement| statement.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), statements.len(), "ids are unique");
        for statement in &statements {
            assert!(check_statement_fields(statement).is_empty(), "{statement:?}");
            assert!(statement.created_at <= statement.updated_at, "{statement:?}");
            let deadline = statement.deadline_date.unwrap();
            let expected = if statement.payment_date < Some(today) {
                StatementState::Paid
            } else if deadline < today {
                StatementState::Payable
            } else {
                StatementState::Open
            };
            assert_eq!(statement.state, expected, "{statement:?}");
            assert_eq!(statement.marked_as_paid_at.is_some(), statement.state == StatementState::Paid);
        }
        for terms in &contracts {
            assert!(terms.validate().is_empty(), "{terms:?}");
        }

        let provider = providers()[0].id;
        let may = statements
            .iter()
            .find(|statement| statement.lead_provider == provider && statement.cohort == cohorts()[1].identifier)
            .map(|statement| (statement.year, statement.month, statement.deadline_date, statement.payment_date));
        assert_eq!(may, Some((2025, 5, Some(day("2025-04-25")), Some(day("2025-05-25")))));
        for cohort in ["2025a", "2026b"] {
            let next = next_output_fee_statement(&statements, provider, cohort.parse().unwrap(), today)
                .unwrap_or_else(|| panic!("cohort {cohort} has no open statement on {today}"));
            assert_eq!((next.year, next.month), (2026, 6));
        }
        let payable: Vec<(i32, u32)> = statements
            .iter()
            .filter(|statement| statement.lead_provider == provider && statement.state == StatementState::Payable)
            .map(|statement| (statement.year, statement.month))
            .collect();
        assert_eq!(payable, [(2026, 5), (2026, 5)], "one payable statement per running cohort");
        let ended = cohorts()[0].identifier;
        assert!(next_output_fee_statement(&statements, provider, ended, today).is_none(), "2023a has ended");
    }
}
