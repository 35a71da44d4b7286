//! `cargo xtask fuzz-api`: schemathesis against a running `npq-server`.
//!
//! The task installs schemathesis into a virtual environment under the target directory. It builds
//! and starts the server on a loopback port with a new database, which the server seeds on first
//! start, and creates a lead provider, an admin and a registration token with the server's command
//! line. Then it runs schemathesis over the three OpenAPI documents the server publishes, in
//! rounds with the next seed each, until the server has responded to the requested number of
//! requests. It fails on any schemathesis failure and on any 5xx the server counted in `/metrics`.
//!
//! Dictionaries of real ids (applications, participants, delivery partners, lead providers) are
//! written into a schemathesis configuration for each document, so that most generated requests
//! name records that exist and reach the business rules instead of stopping at 404.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::{DEFAULT_TEST_POSTGRES_URL, cargo, workspace_root};

/// The schemathesis release the task installs. Newer releases add checks and change the output,
/// so a new version is a deliberate change here.
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// The checks schemathesis runs on every response.
///
/// Two of its checks are left out on purpose. `positive_data_acceptance` expects every request
/// that matches the schema to succeed, but business rules return 422 for many well-formed
/// requests. `unsupported_method` expects 405 for undocumented methods, where the API answers
/// 404 as the reference service does.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,negative_data_rejection,ignored_auth,\
missing_required_header";

/// The lead provider whose token the v3 document is fuzzed with.
const LEAD_PROVIDER: &str = "Ambition Institute";

/// Keys the digests of the run's tokens; the database and the tokens are thrown away after it.
const SECRET: &str = "fuzz-api secret for a throwaway database, at least 32 characters";

/// A database backend the server can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The options of one run.
#[derive(Debug)]
struct Options {
    requests: u64,
    backend: Backend,
    seed: u64,
}

const USAGE: &str = "usage: cargo xtask fuzz-api --requests N [--backend sqlite|postgres] [--seed S]

  --requests N   keep fuzzing until the server has responded to at least N requests
  --backend      the database the server runs on (default: sqlite)
  --seed S       schemathesis seed of the first round; later rounds use S+1, S+2, ...
                 (default: taken from the clock, and printed so that a run can be repeated)";

fn parse_options(arguments: &[String]) -> Result<Options, String> {
    let mut requests = None;
    let mut backend = Backend::Sqlite;
    let mut seed = None;
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        let mut value = || arguments.next().ok_or_else(|| format!("{argument} needs a value\n\n{USAGE}"));
        match argument.as_str() {
            "--requests" => {
                let text = value()?;
                let number = text.parse::<u64>().ok().filter(|number| *number > 0);
                requests =
                    Some(number.ok_or_else(|| format!("--requests must be a positive whole number, not {text}"))?);
            }
            "--backend" => {
                backend = match value()?.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" => Backend::Postgres,
                    other => return Err(format!("--backend must be sqlite or postgres, not {other}")),
                };
            }
            "--seed" => {
                let text = value()?;
                seed = Some(text.parse().map_err(|_| format!("--seed must be a whole number, not {text}"))?);
            }
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    let requests = requests.ok_or_else(|| format!("--requests is missing\n\n{USAGE}"))?;
    let seed = seed.unwrap_or_else(|| unix_seconds() % 1_000_000);
    Ok(Options { requests, backend, seed })
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or_default()
}

/// Runs `cargo xtask fuzz-api` with the arguments after the task name.
pub fn run(arguments: &[String]) -> Result<(), String> {
    let options = parse_options(arguments)?;
    let started = Instant::now();
    let target = target_directory();
    let schemathesis = install_schemathesis(&target)?;
    cargo(&["build", "--package", "npq-server", "--locked"])?;
    let server_binary = target.join("debug").join("npq-server");

    let run_directory = target.join("fuzz-api").join(format!("{}-{}", backend_name(options.backend), unix_seconds()));
    std::fs::create_dir_all(&run_directory)
        .map_err(|error| format!("cannot create {}: {error}", run_directory.display()))?;
    let database = Database::create(options.backend, &run_directory)?;

    let outcome = fuzz(&options, &server_binary, &schemathesis, &run_directory, &database.url);
    database.drop_if_temporary();
    let summary = outcome?;

    println!("{}", summary.report(&options, started.elapsed(), &run_directory));
    if summary.passed() {
        Ok(())
    } else {
        Err("the API fuzzing run found failures; see the schemathesis output above and the server log".to_owned())
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn target_directory() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// Creates the virtual environment and installs the pinned schemathesis into it, unless it is
/// there already. Returns the path of the `st` command.
fn install_schemathesis(target: &Path) -> Result<PathBuf, String> {
    let environment = target.join("fuzz-venv");
    let command = environment.join("bin").join("st");
    let installed = Command::new(&command)
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).contains(SCHEMATHESIS_VERSION))
        .unwrap_or(false);
    if installed {
        return Ok(command);
    }

    eprintln!("xtask: installing schemathesis {SCHEMATHESIS_VERSION} into {}", environment.display());
    let status =
        Command::new("python3").args(["-m", "venv"]).arg(&environment).status().map_err(|error| {
            format!("cannot run python3 to create a virtual environment ({error}); install Python 3")
        })?;
    if !status.success() {
        return Err(format!("python3 -m venv {} failed ({status})", environment.display()));
    }
    let status = Command::new(environment.join("bin").join("pip"))
        .args(["install", "--quiet", &format!("schemathesis=={SCHEMATHESIS_VERSION}")])
        .status()
        .map_err(|error| format!("cannot run pip in {} ({error})", environment.display()))?;
    if !status.success() {
        return Err(format!(
            "pip could not install schemathesis {SCHEMATHESIS_VERSION} ({status}); check that PyPI is reachable"
        ));
    }
    Ok(command)
}

/// The database of one run: a SQLite file in the run directory, or a new PostgreSQL database that
/// is dropped afterwards.
struct Database {
    url: String,
    /// The server URL and the name of a PostgreSQL database to drop at the end.
    temporary: Option<(String, String)>,
}

impl Database {
    fn create(backend: Backend, run_directory: &Path) -> Result<Self, String> {
        match backend {
            Backend::Sqlite => {
                let file = run_directory.join("npq.sqlite3");
                Ok(Self { url: format!("sqlite://{}?mode=rwc", file.display()), temporary: None })
            }
            Backend::Postgres => {
                let server =
                    std::env::var("NPQ_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
                let name = format!("npq_fuzz_{}_{}", std::process::id(), unix_seconds());
                psql(&server, &format!("CREATE DATABASE {name}"))?;
                let (prefix, _) = server.rsplit_once('/').ok_or_else(|| format!("{server} names no database"))?;
                Ok(Self { url: format!("{prefix}/{name}"), temporary: Some((server, name)) })
            }
        }
    }

    fn drop_if_temporary(&self) {
        if let Some((server, name)) = &self.temporary
            && let Err(error) = psql(server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        {
            eprintln!("xtask: could not drop the fuzzing database {name}: {error}");
        }
    }
}

fn psql(server: &str, statement: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .args([server, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", statement])
        .output()
        .map_err(|error| format!("cannot run psql ({error}); install the PostgreSQL client"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("psql failed on `{statement}`: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// The server process of a run, killed when the run ends, pass or fail.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free loopback port: {error}"))
}

fn server_command(binary: &Path, database_url: &str, run_directory: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .current_dir(run_directory)
        .env("DATABASE_URL", database_url)
        .env("NPQ_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .env_remove("NPQ_CONFIG")
        .env_remove("NPQ_BIND");
    command
}

fn start_server(binary: &Path, database_url: &str, run_directory: &Path) -> Result<Server, String> {
    let port = free_port()?;
    let log_path = run_directory.join("server.log");
    let log =
        std::fs::File::create(&log_path).map_err(|error| format!("cannot create {}: {error}", log_path.display()))?;
    let child = server_command(binary, database_url, run_directory)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--rate-limit-per-token", "off", "--rate-limit-per-ip", "off"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
    let mut server = Server { child, port };

    // Seeding a new database takes a few seconds on SQLite and longer on PostgreSQL.
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http_get(port, "/health", None) {
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("the server exited ({status}) before it was ready; see {}", log_path.display()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("the server was not ready on port {port} within 180 seconds; see {}", log_path.display()))
}

/// Creates a token with `npq-server token ARGS` and returns it: the last line of the output.
fn create_token(binary: &Path, database_url: &str, run_directory: &Path, arguments: &[&str]) -> Result<String, String> {
    let output = server_command(binary, database_url, run_directory)
        .arg("token")
        .args(arguments)
        .output()
        .map_err(|error| format!("cannot run npq-server token: {error}"))?;
    if !output.status.success() {
        return Err(format!("npq-server token {arguments:?} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout.lines().last().unwrap_or_default().trim().to_owned();
    if token.is_empty() { Err(format!("npq-server token {arguments:?} printed no token")) } else { Ok(token) }
}

/// Sends one HTTP/1.0 GET request on loopback and returns the status and body.
fn http_get(port: u16, path: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{authorization}\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// Returns the `id` of every record in the `data` array of a list response.
fn list_ids(port: u16, path: &str, token: &str) -> Result<Vec<String>, String> {
    let (status, body) = http_get(port, path, Some(token)).map_err(|error| format!("GET {path} failed: {error}"))?;
    if status != 200 {
        return Err(format!("GET {path} answered {status}: {body}"));
    }
    let json: Value = serde_json::from_str(&body).map_err(|error| format!("GET {path} sent invalid JSON: {error}"))?;
    let records = json["data"].as_array().ok_or_else(|| format!("GET {path} sent no data array"))?;
    Ok(records.iter().filter_map(|record| record["id"].as_str().map(str::to_owned)).collect())
}

/// Requests the server responded to, by status class, from its `/metrics` counters.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    by_class: [u64; 6],
}

impl Counts {
    fn read(port: u16) -> Result<Self, String> {
        let (status, body) =
            http_get(port, "/metrics", None).map_err(|error| format!("GET /metrics failed: {error}"))?;
        if status != 200 {
            return Err(format!("GET /metrics answered {status}"));
        }
        Ok(Self::parse(&body))
    }

    /// Adds up the `npq_http_requests_total` counters of routes under `/api/`. Requests of the
    /// task itself (health checks and metrics) are not part of the run.
    fn parse(metrics: &str) -> Self {
        let mut counts = Self::default();
        for line in metrics.lines().filter(|line| line.starts_with("npq_http_requests_total{")) {
            let Some((labels, value)) = line.rsplit_once(' ') else { continue };
            if !labels.contains("route=\"/api/") {
                continue;
            }
            let class = labels
                .split("status=\"")
                .nth(1)
                .and_then(|status| status.chars().next())
                .and_then(|digit| digit.to_digit(10))
                .unwrap_or(0);
            counts.by_class[class as usize % 6] += value.trim().parse::<u64>().unwrap_or(0);
        }
        counts
    }

    fn total(&self) -> u64 {
        self.by_class.iter().sum()
    }

    fn server_errors(&self) -> u64 {
        self.by_class[5]
    }
}

/// One of the three documents the server publishes, with the token it is fuzzed with.
struct Document {
    name: &'static str,
    path: &'static str,
    token: String,
    config: PathBuf,
}

/// The findings of a run.
struct Summary {
    rounds: u64,
    counts: Counts,
    failed_documents: Vec<String>,
}

impl Summary {
    fn passed(&self) -> bool {
        self.failed_documents.is_empty() && self.counts.server_errors() == 0
    }

    fn report(&self, options: &Options, elapsed: Duration, run_directory: &Path) -> String {
        let [_, informational, success, redirect, client_error, server_error] = self.counts.by_class;
        let mut report = String::new();
        let _ = writeln!(report, "\nfuzz-api summary");
        let _ = writeln!(report, "  backend:          {}", backend_name(options.backend));
        let _ = writeln!(
            report,
            "  seeds:            {} to {}",
            options.seed,
            options.seed + self.rounds.saturating_sub(1)
        );
        let _ = writeln!(report, "  rounds:           {}", self.rounds);
        let _ =
            writeln!(report, "  requests:         {} (at least {} requested)", self.counts.total(), options.requests);
        let _ = writeln!(
            report,
            "  responses:        {success} 2xx, {client_error} 4xx, {server_error} 5xx, {} other",
            informational + redirect + self.counts.by_class[0]
        );
        let _ = writeln!(report, "  duration:         {:.0} s", elapsed.as_secs_f64());
        let failed =
            if self.failed_documents.is_empty() { "none".to_owned() } else { self.failed_documents.join(", ") };
        let _ = writeln!(report, "  failed documents: {failed}");
        let _ = write!(report, "  logs and reports: {}", run_directory.display());
        report
    }
}

fn fuzz(
    options: &Options,
    server_binary: &Path,
    schemathesis: &Path,
    run_directory: &Path,
    database_url: &str,
) -> Result<Summary, String> {
    let server = start_server(server_binary, database_url, run_directory)?;
    let port = server.port;
    let token = |arguments: &[&str]| create_token(server_binary, database_url, run_directory, arguments);
    let lead_provider = token(&["create", "--lead-provider", LEAD_PROVIDER])?;
    let admin = token(&["create-admin", "--user", "fuzz-api"])?;
    let registration = token(&["create-registration", "--description", "fuzz-api"])?;

    let ids = RecordIds {
        applications: list_ids(port, "/api/v3/npq-applications?page%5Bper_page%5D=1000", &lead_provider)?,
        participants: list_ids(port, "/api/v3/participants/npq?page%5Bper_page%5D=1000", &lead_provider)?,
        delivery_partners: list_ids(port, "/api/v3/delivery-partners?page%5Bper_page%5D=1000", &lead_provider)?,
        lead_providers: list_ids(port, "/api/registration/v1/lead-providers", &registration)?,
    };
    let documents = [
        ("v3", "/api/docs/v3/openapi.json", lead_provider),
        ("admin", "/api/docs/admin/v1/openapi.json", admin),
        ("registration", "/api/docs/registration/v1/openapi.json", registration),
    ]
    .map(|(name, path, token)| Document { name, path, token, config: run_directory.join(format!("{name}.toml")) });
    for document in &documents {
        std::fs::write(&document.config, ids.configuration())
            .map_err(|error| format!("cannot write {}: {error}", document.config.display()))?;
    }

    // A round over the three documents sends about 50 requests per example allowed for each
    // operation (measured with schemathesis 4.32.5 on this API, 250 examples giving 12,528
    // requests), so the first round aims at the whole budget. Later rounds, each with the next
    // seed, make up any shortfall.
    let max_examples = (options.requests / 50).clamp(5, 2000);
    // NOTE: one worker, because with several threads schemathesis 4.32.5 on CPython 3.11.7 now
    // and then stops with an internal `SystemError: AST constructor recursion depth mismatch`
    // (CPython issue 106905), which reads as a failed run but is no fault of the server.
    let workers = 1;
    let base_url = format!("http://127.0.0.1:{port}");
    let mut failed_documents = Vec::new();
    let mut rounds = 0;
    let mut counts = Counts::read(port)?;
    while counts.total() < options.requests && failed_documents.is_empty() {
        let seed = options.seed + rounds;
        rounds += 1;
        for document in &documents {
            eprintln!(
                "xtask: round {rounds}, {} document, seed {seed}, {max_examples} examples per operation",
                document.name
            );
            let status = Command::new(schemathesis)
                .arg("--config-file")
                .arg(&document.config)
                .args(["run", &format!("{base_url}{}", document.path), "--url", &base_url])
                .args(["--header", &format!("Authorization: Bearer {}", document.token)])
                .args(["--checks", CHECKS, "--max-examples", &max_examples.to_string()])
                .args(["--seed", &seed.to_string(), "--workers", &workers.to_string()])
                .args(["--no-color", "--report", "junit", "--report-dir"])
                .arg(run_directory.join("reports").join(format!("round-{rounds}-{}", document.name)))
                .current_dir(run_directory)
                .status()
                .map_err(|error| format!("cannot run {}: {error}", schemathesis.display()))?;
            if !status.success() {
                failed_documents.push(format!("{} (round {rounds}, seed {seed})", document.name));
            }
        }
        let before = counts.total();
        counts = Counts::read(port)?;
        eprintln!("xtask: the server has responded to {} requests so far", counts.total());
        if counts.total() == before {
            return Err(format!("round {rounds} sent no request to the server, so the run cannot reach its budget"));
        }
    }
    // The counters by route and status stay with the logs, to show which operations were reached.
    if let Ok((200, metrics)) = http_get(port, "/metrics", None) {
        let path = run_directory.join("metrics.txt");
        std::fs::write(&path, metrics).map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    drop(server);
    Ok(Summary { rounds, counts, failed_documents })
}

/// Ids of records in the new database, offered to schemathesis as dictionaries.
struct RecordIds {
    applications: Vec<String>,
    participants: Vec<String>,
    delivery_partners: Vec<String>,
    lead_providers: Vec<String>,
}

impl RecordIds {
    /// Returns a schemathesis configuration that draws path ids and body ids from the records, with
    /// a probability below one so that unknown ids are still tried.
    fn configuration(&self) -> String {
        let list = |values: &[String]| {
            // Schemathesis rejects a binding to a missing or empty dictionary, so a kind of record
            // the database lacks gets one id that finds nothing.
            let values = if values.is_empty() { &[UNKNOWN_ID.to_owned()][..] } else { values };
            let quoted: Vec<String> = values.iter().map(|value| format!("\"{value}\"")).collect();
            format!("[{}]", quoted.join(", "))
        };
        let mut config = String::from("# Written by `cargo xtask fuzz-api` for one run.\n\n");
        for (name, values) in [
            ("applications", &self.applications),
            ("participants", &self.participants),
            ("delivery_partners", &self.delivery_partners),
            ("lead_providers", &self.lead_providers),
        ] {
            let _ = writeln!(config, "[dictionaries.{name}]\nvalues = {}\n", list(values));
        }
        let _ = writeln!(config, "{OPERATIONS}");
        config
    }
}

/// A well-formed id that no record has.
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";

/// The dictionaries of fixed values, and the bindings of parameters to dictionaries.
const OPERATIONS: &str = r#"[dictionaries.courses]
values = ["npq-headship", "npq-senior-leadership", "npq-leading-teaching", "npq-senco", "npq-early-headship-coaching-offer", "npq-additional-support-offer"]

[dictionaries.declaration_types]
values = ["started", "retained-1", "retained-2", "completed"]

[dictionaries.declaration_dates]
values = ["2024-10-01T10:00:00Z", "2025-10-02T10:00:00Z", "2026-01-05T09:30:00+01:00"]

[[operations]]
include-path-regex = '/npq-applications/\{id\}|/admin/v1/applications/\{id\}'
parameters = { "path.id" = { dictionary = "applications", probability = 0.9 } }

[[operations]]
include-path-regex = '/participants/npq/\{id\}|/admin/v1/participants/\{id\}'
parameters = { "path.id" = { dictionary = "participants", probability = 0.9 }, "body.data.attributes.course_identifier" = { dictionary = "courses", probability = 0.5 }, "body.data.attributes.from_participant_id" = { dictionary = "participants", probability = 0.5 } }

[[operations]]
include-path-regex = '/lead-providers/\{id\}'
parameters = { "path.id" = { dictionary = "lead_providers", probability = 0.9 } }

[[operations]]
include-path-regex = '/admin/v1/applications/\{id\}/change-lead-provider'
parameters = { "body.data.attributes.lead_provider_id" = { dictionary = "lead_providers", probability = 0.9 } }

[[operations]]
include-path = "/api/v3/participant-declarations"
include-method = "POST"
parameters = { "body.data.attributes.participant_id" = { dictionary = "participants", probability = 0.9 }, "body.data.attributes.course_identifier" = { dictionary = "courses", probability = 0.8 }, "body.data.attributes.declaration_type" = { dictionary = "declaration_types", probability = 0.8 }, "body.data.attributes.declaration_date" = { dictionary = "declaration_dates", probability = 0.8 }, "body.data.attributes.delivery_partner_id" = { dictionary = "delivery_partners", probability = 0.8 } }

[[operations]]
include-path-regex = '/change-delivery-partner'
parameters = { "body.data.attributes.delivery_partner_id" = { dictionary = "delivery_partners", probability = 0.8 } }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_parse_requests_backend_and_seed() {
        let options = parse_options(&arguments("--requests 500 --backend postgres --seed 7")).unwrap();
        assert_eq!(options.requests, 500);
        assert_eq!(options.backend, Backend::Postgres);
        assert_eq!(options.seed, 7);
    }

    #[test]
    fn options_reject_missing_or_invalid_values() {
        for text in ["", "--requests", "--requests 0", "--requests ten", "--requests 5 --backend mysql", "--fast"] {
            assert!(parse_options(&arguments(text)).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn metrics_counts_api_requests_by_status_class() {
        let line = |route: &str, status: u16, count: u64| {
            format!("npq_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"{status}\"}} {count}")
        };
        let body = [
            line("/api/v3/npq-applications", 200, 5),
            line("/api/v3/npq-applications", 500, 1),
            line("/health", 200, 9),
        ]
        .join("\n");
        let counts = Counts::parse(&body);
        assert_eq!(counts.total(), 6);
        assert_eq!(counts.server_errors(), 1);
    }
}
