//! The npq server and its operator command line. This file contains configuration and wiring only:
//! every rule lives in npq-domain, storage in npq-store-seaorm and HTTP in npq-api.

mod operator;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use npq_api::ApiState;
use npq_domain::auth::{MIN_SECRET_BYTES, TokenKey};
use npq_domain::ports::SystemClock;
use npq_domain::service::TokenService;
use npq_store_seaorm::{DEFAULT_DATABASE_URL, Store, redact_database_url, seed};
use rand::RngCore;

/// File that keeps a generated server secret when `NPQ_SECRET` is not set.
const SECRET_FILE: &str = ".npq-secret";

/// Address the server listens on when neither `--bind` nor `NPQ_BIND` is given.
const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(name = "npq-server", version, about = "The NPQ lead provider API server and its operator commands")]
struct Cli {
    #[command(flatten)]
    global: GlobalOptions,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args)]
struct GlobalOptions {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST:PORT/DATABASE`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    /// Secret that keys the stored token digests: at least 32 characters. When unset, a secret is
    /// generated once and kept in `.npq-secret` in the working directory.
    #[arg(long, env = "NPQ_SECRET", hide_env_values = true, global = true)]
    secret: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default command). An empty database is migrated and seeded first.
    Serve(ServeOptions),
    /// Apply pending database migrations.
    Migrate,
    /// Add sandbox data: reference data when missing, and invented applicants when there are none.
    Seed(SeedOptions),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Correct an application as DfE staff: the admin API's actions from the command line.
    Application(operator::ApplicationCommand),
    /// Merge a person's duplicate accounts, as DfE staff.
    Participant(operator::ParticipantCommand),
    /// Print an OpenAPI document: the lead provider API v3, or the DfE admin API.
    Openapi {
        /// Which document to print.
        #[arg(long, value_enum, default_value_t = Document::V3)]
        document: Document,
        /// Write the document to this file instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

/// An OpenAPI document the server publishes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Document {
    /// The lead provider API v3.
    V3,
    /// The DfE admin API.
    Admin,
}

#[derive(Debug, Args)]
struct ServeOptions {
    /// Address and port to listen on.
    #[arg(long, env = "NPQ_BIND", default_value = DEFAULT_BIND)]
    bind: SocketAddr,
}

#[derive(Debug, Args)]
struct SeedOptions {
    /// Number of invented applications to create.
    #[arg(long, default_value_t = seed::DEFAULT_APPLICATIONS)]
    applications: usize,
    /// Seed number: the same number gives the same data.
    #[arg(long, default_value_t = seed::DEFAULT_SEED)]
    seed: u64,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a lead provider token. The token is printed once, alone on the last line.
    Create {
        /// Exact name of the lead provider, such as "Ambition Institute".
        #[arg(long)]
        lead_provider: String,
        /// Note on who uses the token, such as the provider's integration name.
        #[arg(long)]
        description: Option<String>,
    },
    /// Create a DfE admin token for one staff member. The token is printed once, alone on the last
    /// line.
    CreateAdmin {
        /// Name of the staff member, such as their email address; every change they make records it.
        #[arg(long)]
        user: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeOptions { bind: default_bind()? })) {
        Command::Serve(options) => serve(&cli.global, options).await,
        Command::Migrate => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            tracing::info!("database is up to date");
            Ok(())
        }
        Command::Seed(options) => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            let summary = seed::seed(&store, options.applications, options.seed).await.context("seeding failed")?;
            if summary.applications == 0 && options.applications > 0 {
                tracing::info!(
                    "the database already has applicants, so no applicants were added; seed an empty database to get new ones"
                );
            }
            tracing::info!(
                reference_data_created = summary.reference_data_created,
                people = summary.people,
                applications = summary.applications,
                "seeded"
            );
            Ok(())
        }
        Command::Token { command: TokenCommand::Create { lead_provider, description } } => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            let tokens = TokenService::new(store, token_key(&cli.global)?, SystemClock);
            let (token, provider, plain) = tokens
                .issue_lead_provider_token(&lead_provider, description, &mut rand::rng())
                .await
                .context("cannot create the token")?;
            tracing::info!(token_id = %token.id, lead_provider = %provider.name, "created a lead provider token; it is shown once");
            println!("{}", plain.expose());
            Ok(())
        }
        Command::Token { command: TokenCommand::CreateAdmin { user } } => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            let tokens = TokenService::new(store, token_key(&cli.global)?, SystemClock);
            let (token, plain) =
                tokens.issue_admin_token(&user, &mut rand::rng()).await.context("cannot create the token")?;
            tracing::info!(token_id = %token.id, user = %user.trim(), "created a DfE admin token; it is shown once");
            println!("{}", plain.expose());
            Ok(())
        }
        Command::Application(command) => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            operator::run(store, command).await
        }
        Command::Participant(command) => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            operator::run_participant(store, command).await
        }
        Command::Openapi { document, output } => {
            let document = match document {
                Document::V3 => npq_api::openapi_document_json(),
                Document::Admin => npq_api::admin_openapi_document_json(),
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, document).with_context(|| format!("cannot write {}", path.display()))
                }
                None => {
                    println!("{document}");
                    Ok(())
                }
            }
        }
    }
}

/// Returns the listen address when no subcommand is given: clap parses `serve`'s options only for
/// an explicit `serve`, so `NPQ_BIND` is read here for the default command.
fn default_bind() -> Result<SocketAddr> {
    let text = std::env::var("NPQ_BIND").unwrap_or_else(|_| DEFAULT_BIND.to_owned());
    text.parse().with_context(|| format!("NPQ_BIND '{text}' is not an address such as 127.0.0.1:8080"))
}

async fn open_store(options: &GlobalOptions) -> Result<Store> {
    let url = &options.database_url;
    Store::connect(url).await.map_err(|error| {
        // The driver's message can quote an unparseable URL whole, so it is redacted here as well.
        let message = error.to_string().replace(url.as_str(), &redact_database_url(url));
        anyhow::anyhow!("cannot open the database at {}: {message}", redact_database_url(url))
    })
}

/// Returns the token key from `NPQ_SECRET`, or from the secret file, creating the file with a
/// random secret on first use.
fn token_key(options: &GlobalOptions) -> Result<TokenKey> {
    let secret = match &options.secret {
        Some(secret) => secret.clone(),
        None => read_or_create_secret_file(Path::new(SECRET_FILE))?,
    };
    if secret.len() < MIN_SECRET_BYTES {
        bail!("NPQ_SECRET is {} characters long; it must be at least {MIN_SECRET_BYTES}", secret.len());
    }
    TokenKey::derive(secret.as_bytes()).map_err(|error| anyhow::anyhow!("{error}"))
}

fn read_or_create_secret_file(path: &Path) -> Result<String> {
    if let Ok(secret) = std::fs::read_to_string(path) {
        return Ok(secret.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    write_private_file(path, &secret)
        .with_context(|| format!("cannot write the server secret to {}", path.display()))?;
    tracing::warn!(file = %path.display(), "NPQ_SECRET is not set, so a new secret was generated and kept in this file; set NPQ_SECRET in production");
    Ok(secret)
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

async fn serve(options: &GlobalOptions, serve: ServeOptions) -> Result<()> {
    let store = open_store(options).await?;
    store.migrate().await.context("migration failed")?;
    tracing::info!("database migrations are up to date");
    if store.count_lead_providers().await? == 0 {
        tracing::info!("the database is empty, so it is being seeded with sandbox data");
        let summary =
            seed::seed(&store, seed::DEFAULT_APPLICATIONS, seed::DEFAULT_SEED).await.context("seeding failed")?;
        tracing::info!(people = summary.people, applications = summary.applications, "seeded sandbox data");
    }
    let key = token_key(options)?;

    let state = ApiState::over(store.clone(), key, Arc::new(SystemClock));

    let listener = poem::listener::TcpListener::bind(serve.bind);
    tracing::info!(
        address = %serve.bind,
        database = %redact_database_url(&options.database_url),
        "serving the NPQ API; documentation at http://{}/api/docs/v3",
        serve.bind
    );
    tracing::info!(
        "to get a token, run in this directory: cargo run -p npq-server -- token create --lead-provider \"Ambition Institute\" \
         (an installed binary: npq-server token create ...; keep the same DATABASE_URL and NPQ_SECRET)"
    );
    poem::Server::new(listener)
        .run_with_graceful_shutdown(npq_api::routes(state), shutdown_signal(), Some(std::time::Duration::from_secs(30)))
        .await
        .context("the server stopped with an error")
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
