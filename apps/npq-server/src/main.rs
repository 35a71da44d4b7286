//! The npq server and its operator command line. This file contains configuration and wiring only:
//! every rule lives in npq-domain, storage in npq-store-seaorm and HTTP in npq-api.

mod config;
mod lead_providers;
mod operator;
mod statements;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, FromArgMatches, Parser, Subcommand};
use npq_api::ApiState;
use npq_api::operations::time_travel::RequestClock;
use npq_domain::auth::{MIN_SECRET_BYTES, TokenKey};
use npq_domain::ports::{Clock, SystemClock};
use npq_domain::service::TokenService;
use npq_store_seaorm::{DEFAULT_DATABASE_URL, Store, redact_database_url, seed};
use rand::RngCore;

/// File that keeps a generated server secret when `NPQ_SECRET` is not set.
const SECRET_FILE: &str = ".npq-secret";

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
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST:PORT/DATABASE`. Default:
    /// `sqlite://npq.sqlite3?mode=rwc`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Secret that keys the stored token digests: at least 32 characters. When unset, a secret is
    /// generated once and kept in `.npq-secret` in the working directory.
    #[arg(long, env = "NPQ_SECRET", hide_env_values = true, global = true)]
    secret: Option<String>,
    /// TOML file with settings; flags and environment variables win over it. docs/operations.md
    /// lists its keys.
    #[arg(long, env = "NPQ_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Format of the log lines on standard error.
    #[arg(long, env = "NPQ_LOG_FORMAT", value_enum, global = true)]
    log_format: Option<config::LogFormat>,
}

impl GlobalOptions {
    fn database_url(&self) -> &str {
        self.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL)
    }
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
    /// Restrict where a lead provider's requests may come from.
    LeadProvider {
        #[command(subcommand)]
        command: lead_providers::LeadProviderCommand,
    },
    /// Merge a person's duplicate accounts, as DfE staff.
    Participant(operator::ParticipantCommand),
    /// Manage statements as DfE staff: create them, set their dates, contracts and adjustments,
    /// mark them payable and paid, and run the deadline job.
    Statement(statements::StatementCommand),
    /// Load the reference lists that decide funding eligibility.
    Reference {
        #[command(subcommand)]
        command: ReferenceCommand,
    },
    /// Print an OpenAPI document: the lead provider API v3, the DfE admin API or the registration API.
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
    /// The registration API.
    Registration,
}

#[derive(Debug, Args)]
struct ServeOptions {
    /// Address and port to listen on. Default: 127.0.0.1:8080.
    #[arg(long, env = "NPQ_BIND")]
    bind: Option<String>,
    /// Proxy whose X-Forwarded-For entries are believed, as an address or CIDR network; repeat for
    /// several. The environment variable takes a comma-separated list.
    #[arg(long = "trusted-proxy", value_name = "CIDR", env = "NPQ_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Requests allowed per API token, as N/DURATION such as 1000/5m, or `off`. Default: 1000/5m.
    #[arg(long, value_name = "RATE", env = "NPQ_RATE_LIMIT_PER_TOKEN")]
    rate_limit_per_token: Option<String>,
    /// Requests allowed per client address, as N/DURATION such as 3000/5m, or `off`. Default:
    /// 3000/5m.
    #[arg(long, value_name = "RATE", env = "NPQ_RATE_LIMIT_PER_IP")]
    rate_limit_per_ip: Option<String>,
    /// Seconds a request may take before it is abandoned with 503. Default: 30.
    #[arg(long, value_name = "SECONDS", env = "NPQ_REQUEST_TIMEOUT")]
    request_timeout: Option<u64>,
    /// Largest request body accepted, in bytes; larger ones get 413. Default and maximum: 65536.
    #[arg(long, value_name = "BYTES", env = "NPQ_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Sandbox mode: honours the X-With-Server-Date header. Never use it in production.
    #[arg(long, env = "NPQ_SANDBOX")]
    sandbox: bool,
    /// Honours the X-Sandbox-Delay-Ms header, for tests of slow requests. Needs --sandbox.
    #[arg(long, hide = true)]
    sandbox_delay_header: bool,
    /// First cohort start year whose declarations must come in milestone order (no retained-1
    /// before started, and so on). Default: 2025. Older cohorts accept any allowed type at any time.
    #[arg(long, value_name = "YEAR", env = "NPQ_DECLARATION_ORDER_FROM")]
    declaration_order_from: Option<u16>,
    /// Seconds between runs of the statement deadline job, which marks payable every open
    /// statement whose deadline has passed; 0 turns it off. Default: 3600.
    #[arg(long, value_name = "SECONDS", env = "NPQ_DEADLINE_JOB_INTERVAL")]
    deadline_job_interval: Option<u64>,
}

impl ServeOptions {
    /// Reads the options of `serve` from the environment alone, for when no command is given.
    fn from_environment() -> Result<Self> {
        let command = <Self as Args>::augment_args(clap::Command::new("serve"));
        let matches = command.try_get_matches_from(["serve"])?;
        Ok(<Self as FromArgMatches>::from_arg_matches(&matches)?)
    }

    fn into_settings(self) -> config::ServeSettings {
        config::ServeSettings {
            bind: self.bind,
            trusted_proxies: self.trusted_proxies,
            rate_limit_per_token: self.rate_limit_per_token,
            rate_limit_per_ip: self.rate_limit_per_ip,
            request_timeout: self.request_timeout,
            max_body_bytes: self.max_body_bytes,
            sandbox: self.sandbox,
            sandbox_delay_header: self.sandbox_delay_header,
            declaration_order_from: self.declaration_order_from,
            deadline_job_interval: self.deadline_job_interval,
        }
    }
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
    /// Create a token for the registration front end. The token is printed once, alone on the last
    /// line.
    CreateRegistration {
        /// Note on who uses the token.
        #[arg(long)]
        description: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ReferenceCommand {
    /// Import a reference list from a CSV file with a header row; rows replace stored rows with the
    /// same key.
    Import {
        /// Which list the file holds.
        #[arg(value_enum)]
        list: ReferenceList,
        /// The CSV file.
        file: std::path::PathBuf,
    },
}

/// A reference list that can be imported.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReferenceList {
    /// Schools and colleges: urn, name, ukprn, establishment_type, on_rise_list, on_pp50_list.
    Schools,
    /// Private childcare providers: urn, name, on_childminder_list.
    ChildcareProviders,
    /// Initial teacher training providers: legal_name, approved.
    IttProviders,
}

fn main() -> Result<()> {
    limit_allocator_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(run())
}

/// Caps glibc's allocator at two arenas. By default each thread that allocates under contention
/// gets an arena of its own, up to eight per core, and an arena keeps what it freed. With two
/// arenas, a SQLite server walking six pages of 1,000 applications peaked at 52 MiB instead of
/// 64 MiB (`docs/performance.md`).
fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting, and it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

async fn run() -> Result<()> {
    let mut cli = Cli::parse();
    let file = config::FileConfig::read_optional(cli.global.config.as_ref())?;
    init_logging(config::log_format(cli.global.log_format, &file)?);
    if cli.global.database_url.is_none() {
        cli.global.database_url = file.database_url.clone();
    }
    if cli.global.secret.is_none() {
        cli.global.secret = file.secret.clone();
    }

    let command = match cli.command {
        Some(command) => command,
        None => Command::Serve(ServeOptions::from_environment()?),
    };
    match command {
        Command::Serve(options) => serve(&cli.global, options, &file).await,
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
                declarations = summary.declarations,
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
        Command::Token { command: TokenCommand::CreateRegistration { description } } => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            let tokens = TokenService::new(store, token_key(&cli.global)?, SystemClock);
            let (token, plain) = tokens
                .issue_registration_token(description, &mut rand::rng())
                .await
                .context("cannot create the token")?;
            tracing::info!(token_id = %token.id, "created a registration token; it is shown once");
            println!("{}", plain.expose());
            Ok(())
        }
        Command::Reference { command: ReferenceCommand::Import { list, file } } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            let invalid = |error: npq_store_seaorm::reference_lists::ImportError| {
                anyhow::anyhow!("{}: {error}; nothing was imported", file.display())
            };
            let count = match list {
                ReferenceList::Schools => {
                    let rows = npq_store_seaorm::reference_lists::parse_schools(&text).map_err(invalid)?;
                    store.import_schools(&rows).await?;
                    rows.len()
                }
                ReferenceList::ChildcareProviders => {
                    let rows = npq_store_seaorm::reference_lists::parse_childcare_providers(&text).map_err(invalid)?;
                    store.import_childcare_providers(&rows).await?;
                    rows.len()
                }
                ReferenceList::IttProviders => {
                    let rows = npq_store_seaorm::reference_lists::parse_itt_providers(&text).map_err(invalid)?;
                    store.import_itt_providers(&rows).await?;
                    rows.len()
                }
            };
            tracing::info!(rows = count, list = ?list, "imported");
            Ok(())
        }
        Command::Application(command) => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            operator::run(store, command).await
        }
        Command::LeadProvider { command } => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            lead_providers::run(store, command).await
        }
        Command::Participant(command) => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            operator::run_participant(store, command).await
        }
        Command::Statement(command) => {
            let store = open_store(&cli.global).await?;
            store.migrate().await.context("migration failed")?;
            statements::run(store, command).await
        }
        Command::Openapi { document, output } => {
            let document = match document {
                Document::V3 => npq_api::openapi_document_json(),
                Document::Admin => npq_api::admin_openapi_document_json(),
                Document::Registration => npq_api::registration_openapi_document_json(),
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, document).with_context(|| format!("cannot write {}", path.display()))
                }
                None => {
                    use std::io::Write;
                    // A closed pipe (`npq-server openapi | head`) ends the output quietly.
                    match writeln!(std::io::stdout(), "{document}") {
                        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                            Err(anyhow::anyhow!("cannot write the document: {error}"))
                        }
                        _ => Ok(()),
                    }
                }
            }
        }
    }
}

/// Sets up logging to standard error in `format`. `RUST_LOG` sets the levels.
fn init_logging(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        config::LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        config::LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}

async fn open_store(options: &GlobalOptions) -> Result<Store> {
    let url = options.database_url();
    Store::connect(url).await.map_err(|error| {
        // The driver's message can quote an unparseable URL whole, so it is redacted here as well.
        let message = error.to_string().replace(url, &redact_database_url(url));
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

async fn serve(options: &GlobalOptions, serve: ServeOptions, file: &config::FileConfig) -> Result<()> {
    // Settings are checked before anything else, so a mistake stops the server at once.
    let config = config::ServeConfig::resolve(serve.into_settings(), file)?;
    let store = open_store(options).await?;
    store.migrate().await.context("migration failed")?;
    tracing::info!("database migrations are up to date");
    if store.count_lead_providers().await? == 0 {
        tracing::info!("the database is empty, so it is being seeded with sandbox data");
        let summary =
            seed::seed(&store, seed::DEFAULT_APPLICATIONS, seed::DEFAULT_SEED).await.context("seeding failed")?;
        tracing::info!(
            people = summary.people,
            applications = summary.applications,
            declarations = summary.declarations,
            "seeded sandbox data"
        );
    }
    let key = token_key(options)?;

    // Services read the time through a clock that sandbox requests can move with
    // X-With-Server-Date; outside sandbox mode the header is never read, so it is the system time.
    let clock: Arc<dyn Clock> = Arc::new(RequestClock::new(SystemClock));
    let mut state = ApiState::over(store.clone(), key, clock);
    state.declarations = state.declarations.with_sequencing(config.declaration_order_from);
    let mut http = config.http_options();
    http.database = Some(Arc::new(store.clone()));

    match config.deadline_job_interval {
        Some(interval) => {
            let service = npq_domain::statement_service::StatementService::new(store.clone(), SystemClock);
            tokio::spawn(statements::run_deadline_job(service, interval));
            tracing::info!(
                interval_seconds = interval.as_secs(),
                "the statement deadline job runs now and on this interval"
            );
        }
        None => tracing::info!(
            "the statement deadline job is off; run `npq-server statement run-deadlines` to mark statements payable"
        ),
    }

    let listener = poem::listener::TcpListener::bind(config.bind);
    let describe_limit = |limit: Option<npq_api::operations::rate_limit::RateLimit>| {
        limit.map_or_else(|| "off".to_owned(), |limit| limit.to_string())
    };
    tracing::info!(
        address = %config.bind,
        database = %redact_database_url(options.database_url()),
        trusted_proxies = ?config.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>(),
        rate_limit_per_token = %describe_limit(config.rate_limit_per_token),
        rate_limit_per_ip = %describe_limit(config.rate_limit_per_ip),
        request_timeout_seconds = config.request_timeout.as_secs(),
        max_body_bytes = config.max_body_bytes,
        sandbox = config.sandbox,
        "serving the NPQ API; documentation at http://{}/api/docs/v3",
        config.bind
    );
    if config.sandbox {
        tracing::warn!(
            "sandbox mode is on: X-With-Server-Date moves the clock of each request; never use it in production"
        );
    }
    tracing::info!(
        "to get a token, run in this directory: cargo run -p npq-server -- token create --lead-provider \"Ambition Institute\" \
         (an installed binary: npq-server token create ...; keep the same DATABASE_URL and NPQ_SECRET)"
    );
    poem::Server::new(listener)
        .run_with_graceful_shutdown(
            npq_api::serve(state, http),
            shutdown_signal(),
            Some(std::time::Duration::from_secs(30)),
        )
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
