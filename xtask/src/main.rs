//! Developer tasks, run as `cargo xtask TASK`.
//!
//! - `ci`: the command CI runs. It checks formatting and lints, runs the whole test suite on
//!   SQLite and PostgreSQL, then a short API fuzzing run and a quick benchmark of 5,000 applications.
//! - `openapi`: writes the OpenAPI documents to `docs/openapi/`: `v3.json` for lead providers and
//!   `admin-v1.json` for DfE staff and `registration-v1.json` for the registration front end.
//! - `fuzz-api`: runs schemathesis against a running server until it has responded to a number of
//!   requests (see [`fuzz_api`] and `docs/reliability.md`).
//! - `bench [--applications N] [--backend sqlite|postgres|both] [--quick]`: the benchmark, whose
//!   report goes to `target/bench/` (see `docs/performance.md`).

mod bench;
mod fuzz_api;

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("ci") => ci(),
        Some("openapi") => openapi(),
        Some("fuzz-api") => fuzz_api::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        Some("bench") => {
            let arguments: Vec<String> = std::env::args().skip(2).collect();
            bench::parse_options(&arguments).and_then(|options| bench::run(&options))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  ci        check formatting, run clippy and every test (SQLite and PostgreSQL), fuzz the API briefly, then run a quick benchmark\n  openapi   write the OpenAPI documents in docs/openapi/ from the code\n  fuzz-api  fuzz the running server with schemathesis: fuzz-api --requests N [--backend sqlite|postgres] [--seed S]\n  bench     measure the server against its speed targets: [--applications N] [--backend sqlite|postgres|both] [--quick]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

fn cargo(arguments: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: cargo {}", arguments.join(" "));
    let status = Command::new(&cargo)
        .args(arguments)
        .current_dir(workspace_root())
        .status()
        .map_err(|error| format!("cannot run {cargo}: {error}"))?;
    if status.success() { Ok(()) } else { Err(format!("cargo {} failed ({status})", arguments.join(" "))) }
}

/// Checks that the PostgreSQL server the tests use accepts TCP connections, so a stopped server
/// fails the run at once with advice instead of failing every PostgreSQL test separately.
fn check_postgres() -> Result<(), String> {
    let url = std::env::var("NPQ_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
    let authority = url.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host_port = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:5432") };
    let reachable = host_port
        .to_socket_addrs()
        .map(|mut addresses| {
            addresses.any(|address| TcpStream::connect_timeout(&address, Duration::from_secs(3)).is_ok())
        })
        .unwrap_or(false);
    if reachable {
        Ok(())
    } else {
        Err(format!(
            "PostgreSQL is not reachable at {host_port}; the store and API tests need it. Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or set NPQ_TEST_POSTGRES_URL"
        ))
    }
}

fn ci() -> Result<(), String> {
    check_postgres()?;
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    cargo(&["test", "--workspace", "--locked"])?;
    // A short, repeatable fuzzing run on SQLite with a fixed seed: 3,384 requests in 158 seconds
    // on two cores in a recent CI run. Long runs are `cargo xtask fuzz-api` on their own
    // (docs/reliability.md).
    let fuzzing: Vec<String> = ["--requests", "1000", "--seed", "1"].map(str::to_owned).to_vec();
    fuzz_api::run(&fuzzing)?;
    // The benchmark must run and report every figure on both backends. Its figures are not
    // checked here, because timings on a shared machine make no test (docs/performance.md).
    bench::run(&bench::BenchOptions { applications: 5_000, backends: vec!["sqlite", "postgres"], quick: true })
}

fn openapi() -> Result<(), String> {
    let documents = [
        ("v3", "docs/openapi/v3.json"),
        ("admin", "docs/openapi/admin-v1.json"),
        ("registration", "docs/openapi/registration-v1.json"),
    ];
    for (document, file) in documents {
        let output = workspace_root().join(file);
        let output = output.to_str().ok_or("the workspace path is not UTF-8")?;
        cargo(&[
            "run",
            "--quiet",
            "--package",
            "npq-server",
            "--",
            "openapi",
            "--document",
            document,
            "--output",
            output,
        ])?;
        eprintln!("xtask: wrote {output}");
    }
    Ok(())
}
