//! Operator commands for lead providers: the networks each one's requests may come from.

use anyhow::{Result, bail};
use clap::Subcommand;
use npq_domain::network::AllowList;
use npq_domain::ports::LeadProviderRepository;
use npq_store_seaorm::Store;

#[derive(Debug, Subcommand)]
pub enum LeadProviderCommand {
    /// Restrict a lead provider's requests to networks, or lift the restriction with --clear.
    /// The list given replaces the old one.
    AllowIps {
        /// Exact name of the lead provider, such as "Ambition Institute".
        #[arg(long)]
        lead_provider: String,
        /// Remove the restriction, so that requests may come from any address.
        #[arg(long, conflicts_with = "networks")]
        clear: bool,
        /// Networks in CIDR notation, such as 10.0.0.0/8 or 2001:db8::/32; a single address counts
        /// as its own network.
        #[arg(value_name = "CIDR", required_unless_present = "clear")]
        networks: Vec<String>,
    },
}

/// Runs one lead provider command against the store and prints the resulting allow-list.
pub async fn run(store: Store, command: LeadProviderCommand) -> Result<()> {
    let LeadProviderCommand::AllowIps { lead_provider, clear, networks } = command;
    let list = if clear {
        AllowList::default()
    } else {
        AllowList::parse(&networks).map_err(|error| anyhow::anyhow!("{error}"))?
    };
    let Some(provider) = store.find_lead_provider_by_name(&lead_provider).await? else {
        let known: Vec<String> = store.list_lead_providers().await?.into_iter().map(|provider| provider.name).collect();
        bail!("no lead provider is named '{lead_provider}'; known lead providers: {}", known.join(", "));
    };
    if !store.set_allowed_networks(provider.id, &list).await? {
        bail!("the lead provider '{lead_provider}' was removed while its allow-list was being changed");
    }
    let displayed: Vec<String> = list.networks().iter().map(ToString::to_string).collect();
    tracing::info!(lead_provider_id = %provider.id, networks = ?displayed, "replaced a lead provider's allow-list");
    if list.is_unrestricted() {
        println!("{}: requests may come from any address", provider.name);
    } else {
        println!("{}: requests may come only from {}", provider.name, displayed.join(", "));
    }
    Ok(())
}
