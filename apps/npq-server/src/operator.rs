//! Operator commands for DfE staff: the same corrections as the admin API, run against the
//! database directly. Each prints the application afterwards, with its history.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use npq_domain::decision::{Actor, DfeRejection};
use npq_domain::error::DomainError;
use npq_domain::ids::{ApplicationId, LeadProviderId, ParticipantId};
use npq_domain::listing::parse_timestamp_filter;
use npq_domain::ports::{LeadProviderRepository, SystemClock};
use npq_domain::service::{AdminApplicationView, DecisionService, MAX_EXPIRIES_PER_CALL};
use npq_store_seaorm::Store;

#[derive(Debug, Args)]
pub struct ApplicationCommand {
    /// Name of the DfE staff member making the change, recorded in the history. Every action but
    /// `show` needs it.
    #[arg(long, global = true)]
    user: Option<String>,
    #[command(subcommand)]
    action: ApplicationAction,
}

#[derive(Debug, Subcommand)]
enum ApplicationAction {
    /// Show an application of any lead provider, with its history.
    Show { id: String },
    /// Return an accepted or rejected application to pending.
    RevertToPending {
        id: String,
        /// Why, kept in the application's history.
        #[arg(long)]
        note: String,
    },
    /// Move an application to another cohort, such as 2025 or 2026b.
    ChangeCohort {
        id: String,
        /// The cohort to move to, such as 2025 or 2026b.
        #[arg(long)]
        cohort: String,
        /// Why, kept in the application's history.
        #[arg(long)]
        note: String,
    },
    /// Override the funding eligibility found at registration.
    ChangeFundingEligibility {
        id: String,
        /// true to fund the application, false not to.
        #[arg(long, action = clap::ArgAction::Set)]
        eligible: bool,
        /// Why, kept in the application's history.
        #[arg(long)]
        reason: String,
    },
    /// Move an application to another lead provider, named exactly or by id.
    ChangeLeadProvider {
        id: String,
        /// The lead provider to move to: its exact name or its id.
        #[arg(long)]
        lead_provider: String,
        /// Why, kept in the application's history.
        #[arg(long)]
        note: String,
    },
    /// Set an accepted application's training status: active, deferred or withdrawn.
    ChangeTrainingStatus {
        id: String,
        /// active, deferred or withdrawn.
        #[arg(long)]
        status: String,
        /// Deferral or withdrawal reason, as lead providers send it.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject an application on DfE's behalf.
    Reject {
        id: String,
        /// `rejected_by_dfe` or `registration_expired`.
        #[arg(long)]
        reason: String,
        /// Why, kept in the application's history.
        #[arg(long)]
        note: String,
    },
    /// Expire pending applications created before a date, oldest first.
    Expire {
        /// A date such as 2025-01-31, or an instant such as 2025-01-31T12:00:00Z.
        #[arg(long)]
        created_before: String,
        /// Only this cohort, such as 2024 or 2026b.
        #[arg(long)]
        cohort: Option<String>,
        /// Most applications to expire in this run.
        #[arg(long, default_value_t = MAX_EXPIRIES_PER_CALL)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub struct ParticipantCommand {
    /// Name of the DfE staff member making the change; it is recorded in the history.
    #[arg(long, global = true)]
    user: Option<String>,
    #[command(subcommand)]
    action: ParticipantAction,
}

#[derive(Debug, Subcommand)]
enum ParticipantAction {
    /// Merge a duplicate account into the account the person keeps. The duplicate's applications
    /// move to the kept account, and its participant id is retired.
    Merge {
        /// Participant id of the account to keep.
        #[arg(long)]
        keep: String,
        /// Participant id of the duplicate account to retire.
        #[arg(long)]
        retire: String,
        #[arg(long)]
        note: String,
    },
}

/// Runs one participant command against the store.
pub async fn run_participant(store: Store, command: ParticipantCommand) -> Result<()> {
    let user = match command.user.as_deref().map(str::trim) {
        Some(user) if !user.is_empty() => user.to_owned(),
        _ => bail!("name the DfE staff member making the change with --user; it is recorded in the history"),
    };
    let ParticipantAction::Merge { keep, retire, note } = command.action;
    let parse = |text: &str| text.trim().parse::<ParticipantId>().map_err(|error| anyhow::anyhow!("{error}"));
    let service = DecisionService::new(store, SystemClock);
    let outcome =
        service.merge_accounts(&user, parse(&keep)?, parse(&retire)?, note).await.map_err(|error| match error {
            DomainError::NotFound => anyhow::anyhow!("no person has one of these participant ids"),
            other => explain(other),
        })?;
    println!("retired {} in favour of {}", outcome.change.from_participant_id, outcome.change.to_participant_id);
    for application in &outcome.moved {
        println!("moved application {application}");
    }
    Ok(())
}

fn application_id(text: &str) -> Result<ApplicationId> {
    text.trim().parse().map_err(|error| anyhow::anyhow!("{error}"))
}

fn explain(error: DomainError) -> anyhow::Error {
    match error {
        DomainError::NotFound => anyhow::anyhow!("no application has this id"),
        DomainError::Invalid(errors) => {
            let lines: Vec<String> =
                errors.iter().map(|error| format!("  {}: {}", error.attribute, error.message)).collect();
            anyhow::anyhow!("the change was refused:\n{}", lines.join("\n"))
        }
        other => anyhow::anyhow!(other),
    }
}

fn print(shown: &AdminApplicationView) {
    let application = &shown.view.application;
    println!("application {}", application.id);
    println!("  participant     {} ({})", application.participant_id, shown.view.person.full_name);
    println!("  lead provider   {}", shown.lead_provider);
    println!("  course, cohort  {} in {}", application.course, application.cohort);
    println!("  status          {}", application.status);
    let optional = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    println!("  reason          {}", optional(application.reason_for_rejection.map(|reason| reason.to_string())));
    println!("  training status {}", optional(application.training_status.map(|status| status.to_string())));
    println!("  schedule        {}", optional(application.schedule.map(|schedule| schedule.to_string())));
    println!("  funded place    {}", optional(application.funded_place.map(|place| place.to_string())));
    println!(
        "  eligible        {} (as lead providers see it: {})",
        application.eligible_for_funding, shown.view.eligible_for_funding
    );
    println!("history");
    for entry in &shown.history {
        let actor = match &entry.actor {
            Actor::LeadProvider(provider) => format!("lead provider {provider}"),
            Actor::Dfe { user } => format!("DfE user {user}"),
        };
        println!(
            "  {} {}: {} -> {} by {actor}{}",
            entry.at.format("%Y-%m-%dT%H:%M:%SZ"),
            entry.field,
            optional(entry.from.clone()),
            optional(entry.to.clone()),
            entry.reason.as_ref().map(|reason| format!(" ({reason})")).unwrap_or_default()
        );
    }
}

/// Returns the id of the lead provider named exactly `text`, or with `text` as its id.
pub(crate) async fn lead_provider(store: &Store, text: &str) -> Result<LeadProviderId> {
    if let Ok(id) = text.trim().parse::<LeadProviderId>() {
        return Ok(id);
    }
    match store.find_lead_provider_by_name(text).await? {
        Some(provider) => Ok(provider.id),
        None => {
            let known: Vec<String> =
                store.list_lead_providers().await?.into_iter().map(|provider| provider.name).collect();
            bail!("no lead provider is named '{text}'; known lead providers: {}", known.join(", "))
        }
    }
}

/// Runs one operator command against the store.
pub async fn run(store: Store, command: ApplicationCommand) -> Result<()> {
    let service = DecisionService::new(store.clone(), SystemClock);
    let user = || -> Result<String> {
        match command.user.as_deref().map(str::trim) {
            Some(user) if !user.is_empty() => Ok(user.to_owned()),
            _ => bail!("name the DfE staff member making the change with --user; it is recorded in the history"),
        }
    };
    let shown = match &command.action {
        ApplicationAction::Show { id } => service.admin_show(application_id(id)?).await,
        ApplicationAction::RevertToPending { id, note } => {
            service.revert_to_pending(&user()?, application_id(id)?, note.clone()).await
        }
        ApplicationAction::ChangeCohort { id, cohort, note } => {
            service.change_cohort(&user()?, application_id(id)?, cohort, note.clone()).await
        }
        ApplicationAction::ChangeFundingEligibility { id, eligible, reason } => {
            service.change_funding_eligibility(&user()?, application_id(id)?, *eligible, reason.clone()).await
        }
        ApplicationAction::ChangeLeadProvider { id, lead_provider: provider, note } => {
            let provider = lead_provider(&store, provider).await?;
            service.change_lead_provider(&user()?, application_id(id)?, provider, note.clone()).await
        }
        ApplicationAction::ChangeTrainingStatus { id, status, reason } => {
            service.change_training_status(&user()?, application_id(id)?, status, reason.as_deref()).await
        }
        ApplicationAction::Reject { id, reason, note } => {
            let rejection = match reason.trim() {
                "rejected_by_dfe" => DfeRejection::Rejected,
                "registration_expired" => DfeRejection::Expired,
                other => bail!("the reason '{other}' is not rejected_by_dfe or registration_expired"),
            };
            service.reject_by_dfe(&user()?, application_id(id)?, rejection, note.clone()).await
        }
        ApplicationAction::Expire { created_before, cohort, limit } => {
            let before = parse_timestamp_filter("created_before", Some(created_before))
                .map_err(|error| anyhow::anyhow!("{error}"))?
                .context("give --created-before")?;
            let cohort = cohort
                .as_deref()
                .map(|cohort| cohort.trim().parse())
                .transpose()
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let results = service.expire_stale(&user()?, before, cohort, *limit).await.map_err(explain)?;
            let expired = results.iter().filter(|result| result.refused.is_none()).count();
            for result in &results {
                match &result.refused {
                    None => println!("expired {}", result.application_id),
                    Some(errors) => {
                        let reasons: Vec<&str> = errors.iter().map(|error| error.message.as_str()).collect();
                        println!("kept    {}: {}", result.application_id, reasons.join(" "));
                    }
                }
            }
            tracing::info!(expired, kept = results.len() - expired, "expiry finished");
            return Ok(());
        }
    };
    print(&shown.map_err(explain)?);
    Ok(())
}
