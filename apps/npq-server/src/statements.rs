//! Statements from the command line and on a timer: the admin API's statement operations run
//! against the database directly, and the deadline job that `serve` runs every interval.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use npq_domain::error::DomainError;
use npq_domain::ids::StatementId;
use npq_domain::listing::{PageRequest, parse_cohort_filter};
use npq_domain::payment::Pence;
use npq_domain::ports::{Clock, StatementStore, SystemClock};
use npq_domain::statement_actions::{ContractRequest, DateChange, NewStatementRequest, StatementQuery};
use npq_domain::statement_service::{DeadlineRun, StatementReport, StatementService};
use npq_store_seaorm::Store;

use crate::operator::lead_provider;

#[derive(Debug, Args)]
pub struct StatementCommand {
    /// Name of the DfE staff member making the change, written to the log. Every action that
    /// changes a statement needs it.
    #[arg(long, global = true)]
    user: Option<String>,
    #[command(subcommand)]
    action: StatementAction,
}

#[derive(Debug, Subcommand)]
enum StatementAction {
    /// List statements by payment date, with or without output fees.
    List {
        /// Only this lead provider: its exact name or its id.
        #[arg(long)]
        lead_provider: Option<String>,
        /// Only these cohorts, such as 2025 or 2024,2026b.
        #[arg(long)]
        cohort: Option<String>,
        /// The page to show, counting from 1.
        #[arg(long, default_value_t = 1)]
        page: i64,
        /// Statements per page, from 1 to 1000.
        #[arg(long, default_value_t = 100)]
        per_page: i64,
    },
    /// Show a statement with its contracts, adjustments and the money it pays.
    Show { id: String },
    /// Create an open statement for a lead provider, cohort and month.
    Create {
        /// The lead provider: its exact name or its id.
        #[arg(long)]
        lead_provider: String,
        /// The cohort, such as 2025 or 2026b.
        #[arg(long)]
        cohort: String,
        /// The calendar year of the statement, from 2020 to 2050.
        #[arg(long)]
        year: i32,
        /// The month of the statement, from 1 to 12.
        #[arg(long)]
        month: u32,
        /// The last day on which declarations land on it, such as 2025-10-25.
        #[arg(long)]
        deadline: Option<NaiveDate>,
        /// The day DfE expects to pay it, such as 2025-11-25.
        #[arg(long)]
        payment_date: Option<NaiveDate>,
        /// Make a statement of service fees only, which lead providers do not see.
        #[arg(long)]
        service_fee_only: bool,
        /// An amount in pence, positive or negative, that settles earlier payments.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        reconcile_pence: i64,
    },
    /// Move the deadline, the payment date or both of an open statement.
    ChangeDates {
        id: String,
        /// The new deadline, such as 2025-10-28.
        #[arg(long)]
        deadline: Option<NaiveDate>,
        /// The new payment date, such as 2025-11-26.
        #[arg(long)]
        payment_date: Option<NaiveDate>,
    },
    /// Add or replace an open statement's contract for a course. Terms left out take the preset
    /// of the course's group.
    Contract {
        id: String,
        /// The course, such as npq-headship.
        #[arg(long)]
        course: String,
        /// The price per participant, in pence.
        #[arg(long)]
        per_participant_pence: i64,
        /// The number of participants the lead provider expects to recruit.
        #[arg(long)]
        recruitment_target: u32,
        /// The number of monthly statements the service fee is split over.
        #[arg(long)]
        service_fee_instalments: u32,
        /// The share of the price paid as output payments, in percent.
        #[arg(long)]
        output_payment_percentage: Option<u32>,
        /// The number of milestones the output share is split over.
        #[arg(long)]
        number_of_payment_periods: Option<u32>,
        /// The share of the price paid as service fees, in percent.
        #[arg(long)]
        service_fee_percentage: Option<u32>,
        /// A monthly service fee agreed outright, in pence.
        #[arg(long)]
        monthly_service_fee_pence: Option<i64>,
        /// The targeted delivery funding per eligible started participant, in pence.
        #[arg(long)]
        targeted_delivery_funding_pence: Option<i64>,
        /// Pay the course apart, outside the statement's totals.
        #[arg(long)]
        special_course: bool,
    },
    /// Add an amount to a statement that is not paid, or take one off.
    Adjust {
        id: String,
        /// The reason for the adjustment.
        #[arg(long)]
        description: String,
        /// The amount in pence; negative to pay less.
        #[arg(long, allow_negative_numbers = true)]
        amount_pence: i64,
    },
    /// Mark an open statement payable once its deadline has passed.
    MarkPayable { id: String },
    /// Authorise the payment of a payable statement.
    MarkPaid { id: String },
    /// Mark payable every open statement whose deadline is before today, as `serve` does on its
    /// timer.
    RunDeadlines,
}

fn statement_id(text: &str) -> Result<StatementId> {
    text.trim().parse().map_err(|error| anyhow::anyhow!("{error}"))
}

fn explain(error: DomainError) -> anyhow::Error {
    match error {
        DomainError::NotFound => anyhow::anyhow!("no statement has this id"),
        DomainError::Invalid(errors) => {
            let lines: Vec<String> =
                errors.iter().map(|error| format!("  {}: {}", error.attribute, error.message)).collect();
            anyhow::anyhow!("the change was rejected:\n{}", lines.join("\n"))
        }
        other => anyhow::anyhow!(other),
    }
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

fn print(report: &StatementReport) {
    let contents = &report.contents;
    let statement = &contents.statement;
    println!("statement {}", statement.id);
    println!("  lead provider   {}", statement.lead_provider);
    println!("  cohort          {}", statement.cohort);
    println!("  period          {} {}", statement.month_name().unwrap_or("?"), statement.year);
    println!("  deadline        {}", optional(statement.deadline_date));
    println!("  payment date    {}", optional(statement.payment_date));
    println!("  output fee      {}", statement.output_fee);
    println!("  state           {}", statement.state);
    println!("  marked as paid  {}", optional(statement.marked_as_paid_at.map(|at| at.format("%Y-%m-%dT%H:%M:%SZ"))));
    println!("  reconcile       {}", statement.reconcile_amount);

    println!("contracts");
    for terms in &contents.contracts {
        println!(
            "  {:<36} {} per participant, target {}, output {}% over {}, service fee {}% over {}{}",
            terms.course.as_str(),
            terms.per_participant,
            terms.recruitment_target,
            terms.output_payment_percentage,
            terms.number_of_payment_periods,
            terms.service_fee_percentage,
            terms.service_fee_instalments,
            if terms.special_course { ", special" } else { "" }
        );
    }

    println!("adjustments");
    for adjustment in &contents.adjustments {
        println!("  {:>12} {}", adjustment.amount.to_string(), adjustment.description);
    }
    println!("declarations    {}", contents.lines.len());

    match &report.calculation {
        Err(error) => println!("calculation     failed: {error}"),
        Ok(calculation) => {
            println!("calculation");
            for course in &calculation.courses {
                println!(
                    "  {:<36} {:>3} billable, {:>3} refundable, total {}{}",
                    course.course.as_str(),
                    course.billable_count,
                    course.refundable_count,
                    course.total,
                    if course.special_course { " (paid apart)" } else { "" }
                );
            }
            let totals = &calculation.totals;
            let lines: [(&str, Pence); 7] = [
                ("service fees", totals.service_fees),
                ("output payments", totals.output_payments),
                ("targeted delivery funding", totals.targeted_delivery_funding),
                ("clawbacks", -totals.clawbacks),
                ("adjustments", totals.adjustments),
                ("reconcile amount", totals.reconcile_amount),
                ("total", totals.total),
            ];
            for (name, amount) in lines {
                println!("  {name:<27} {amount:>14}", amount = amount.to_string());
            }
            if !calculation.without_contract.is_empty() {
                println!("  {} declarations are on courses without a contract", calculation.without_contract.len());
            }
        }
    }
}

fn log_run(run: &DeadlineRun) {
    for (statement, error) in &run.failed {
        tracing::warn!(statement_id = %statement, %error, "the deadline job could not mark a statement payable");
    }
    tracing::info!(
        today = %run.today,
        marked = run.marked.len(),
        declarations = run.marked.iter().map(|marked| marked.declarations).sum::<usize>(),
        already_payable = run.already_payable.len(),
        failed = run.failed.len(),
        "ran the statement deadline job"
    );
}

/// Runs the deadline job now and then every `interval`, for as long as the server runs. A run
/// that fails is logged and the next one tries again.
pub async fn run_deadline_job<S: StatementStore, C: Clock>(service: StatementService<S, C>, interval: Duration) {
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        match service.run_deadlines().await {
            Ok(run) => log_run(&run),
            Err(error) => {
                tracing::error!(%error, "the statement deadline job failed; it runs again after the interval")
            }
        }
    }
}

/// Runs one statement command against the store.
pub async fn run(store: Store, command: StatementCommand) -> Result<()> {
    let service = StatementService::new(store.clone(), SystemClock);
    let user = || -> Result<String> {
        match command.user.as_deref().map(str::trim) {
            Some(user) if !user.is_empty() => Ok(user.to_owned()),
            _ => bail!("name the DfE staff member making the change with --user; it is written to the log"),
        }
    };
    let (report, action) = match command.action {
        StatementAction::List { lead_provider: provider, cohort, page, per_page } => {
            let provider = match provider {
                Some(text) => Some(lead_provider(&store, &text).await?),
                None => None,
            };
            let query = StatementQuery {
                cohorts: parse_cohort_filter(cohort.as_deref()).map_err(|error| anyhow::anyhow!("{error}"))?,
                updated_since: None,
                page: PageRequest::new(Some(page), Some(per_page)).map_err(|error| anyhow::anyhow!("{error}"))?,
            };
            for statement in service.admin_list(provider, &query).await.map_err(explain)? {
                println!(
                    "{}  {}  {:<5} {:>9} {:>4}  deadline {}  payment {}  {}{}",
                    statement.id,
                    statement.lead_provider,
                    statement.cohort,
                    statement.month_name().unwrap_or("?"),
                    statement.year,
                    optional(statement.deadline_date),
                    optional(statement.payment_date),
                    statement.state,
                    if statement.output_fee { "" } else { " (service fees only)" }
                );
            }
            return Ok(());
        }
        StatementAction::Show { id } => (service.admin_show(statement_id(&id)?).await, None),
        StatementAction::Create {
            lead_provider: provider,
            cohort,
            year,
            month,
            deadline,
            payment_date,
            service_fee_only,
            reconcile_pence,
        } => {
            let request = NewStatementRequest {
                lead_provider: lead_provider(&store, &provider).await?,
                cohort: cohort.trim().parse().map_err(|error| anyhow::anyhow!("{error}"))?,
                year,
                month,
                deadline_date: deadline,
                payment_date,
                output_fee: !service_fee_only,
                reconcile_amount: Pence(reconcile_pence),
            };
            (service.create(request).await, Some((user()?, "create")))
        }
        StatementAction::ChangeDates { id, deadline, payment_date } => {
            let change = DateChange { deadline_date: deadline, payment_date };
            (service.change_dates(statement_id(&id)?, change).await, Some((user()?, "change-dates")))
        }
        StatementAction::Contract {
            id,
            course,
            per_participant_pence,
            recruitment_target,
            service_fee_instalments,
            output_payment_percentage,
            number_of_payment_periods,
            service_fee_percentage,
            monthly_service_fee_pence,
            targeted_delivery_funding_pence,
            special_course,
        } => {
            let request = ContractRequest {
                course: course.trim().parse().map_err(|error| anyhow::anyhow!("{error}"))?,
                per_participant: Pence(per_participant_pence),
                recruitment_target,
                service_fee_instalments,
                output_payment_percentage,
                number_of_payment_periods,
                service_fee_percentage,
                monthly_service_fee: monthly_service_fee_pence.map(Pence),
                targeted_delivery_funding_per_participant: targeted_delivery_funding_pence.map(Pence),
                special_course,
            };
            (service.put_contract(statement_id(&id)?, request).await, Some((user()?, "put-contract")))
        }
        StatementAction::Adjust { id, description, amount_pence } => (
            service.add_adjustment(statement_id(&id)?, description, Pence(amount_pence)).await,
            Some((user()?, "add-adjustment")),
        ),
        StatementAction::MarkPayable { id } => {
            (service.mark_payable(statement_id(&id)?).await, Some((user()?, "mark-payable")))
        }
        StatementAction::MarkPaid { id } => (service.mark_paid(statement_id(&id)?).await, Some((user()?, "mark-paid"))),
        StatementAction::RunDeadlines => {
            let run = service.run_deadlines().await.map_err(explain).context("the deadline job failed")?;
            for marked in &run.marked {
                println!("marked payable {} with {} declarations", marked.statement, marked.declarations);
            }
            for (statement, error) in &run.failed {
                println!("failed         {statement}: {error}");
            }
            log_run(&run);
            return Ok(());
        }
    };
    let report = report.map_err(explain)?;
    if let Some((user, action)) = action {
        let statement = &report.contents.statement;
        tracing::info!(user = %user, statement_id = %statement.id, state = %statement.state, action, "changed a statement");
    }
    print(&report);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_statement_is_explained() {
        assert_eq!(explain(DomainError::NotFound).to_string(), "no statement has this id");
        let error = explain(DomainError::Invalid(vec![npq_domain::error::FieldError {
            attribute: "state".to_owned(),
            message: "The statement is open.".to_owned(),
        }]));
        assert!(error.to_string().contains("  state: The statement is open."), "{error}");
    }

    #[test]
    fn statement_ids_must_be_uuids() {
        assert!(statement_id("not-a-uuid").is_err());
        assert!(statement_id(" 7e5bcdbf-c818-4961-8da5-439cab1984e0 ").is_ok());
    }
}
