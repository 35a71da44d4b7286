//! `cargo xtask bench`: builds the release binaries, seeds a database per backend, starts the
//! server on 127.0.0.1, runs the `bench_probe` example against it, and writes
//! `target/bench/report.json` and `target/bench/report.md`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::workspace_root;

/// The lead provider whose token the workloads use.
const LEAD_PROVIDER: &str = "Teach First";

/// The PostgreSQL server of the benchmark; its database `npq_bench` is dropped and created.
const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchOptions {
    pub applications: usize,
    pub backends: Vec<&'static str>,
    pub quick: bool,
}

/// Parses the arguments after `bench`.
pub fn parse_options(arguments: &[String]) -> Result<BenchOptions, String> {
    let mut options = BenchOptions { applications: 250_000, backends: vec!["sqlite", "postgres"], quick: false };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--quick" => options.quick = true,
            "--applications" => {
                let value = arguments.next().ok_or("--applications needs a number, such as --applications 5000")?;
                options.applications =
                    value.parse().map_err(|_| format!("--applications must be a whole number, not '{value}'"))?;
            }
            "--backend" => {
                let value = arguments.next().ok_or("--backend needs sqlite, postgres or both")?;
                options.backends = match value.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["sqlite", "postgres"],
                    other => return Err(format!("--backend must be sqlite, postgres or both, not '{other}'")),
                };
            }
            other => {
                return Err(format!(
                    "unknown bench option '{other}'; options: --applications N, --backend sqlite|postgres|both, --quick"
                ));
            }
        }
    }
    Ok(options)
}

fn progress(started: Instant, message: &str) {
    eprintln!("[bench {:>6.1}s] {message}", started.elapsed().as_secs_f64());
}

/// Runs the benchmark and writes the reports.
pub fn run(options: &BenchOptions) -> Result<(), String> {
    let started = Instant::now();
    let root = workspace_root();
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    let out = target.join("bench");
    std::fs::create_dir_all(&out).map_err(|error| format!("cannot create {}: {error}", out.display()))?;

    progress(started, "building release binaries (npq-server and the bench_probe example)");
    crate::cargo(&[
        "build",
        "--release",
        "--package",
        "npq-server",
        "--bin",
        "npq-server",
        "--example",
        "bench_probe",
    ])?;
    let server = target.join("release/npq-server");
    let probe = target.join("release/examples/bench_probe");

    let mut sections = Vec::new();
    for backend in &options.backends {
        let figures = run_backend(options, backend, &server, &probe, &out, started)?;
        sections.push((*backend, figures));
    }

    let body: Vec<String> = sections.iter().map(|(backend, figures)| format!("  \"{backend}\": {figures}")).collect();
    let report = format!(
        "{{\n  \"applications\": {},\n  \"quick\": {},\n{}\n}}\n",
        options.applications,
        options.quick,
        body.join(",\n")
    );
    let json_path = out.join("report.json");
    std::fs::write(&json_path, report).map_err(|error| format!("cannot write {}: {error}", json_path.display()))?;
    for (backend, figures) in &sections {
        let missing = missing_figures(figures);
        if !missing.is_empty() {
            return Err(format!("the {backend} report lacks {}", missing.join(", ")));
        }
    }
    let markdown = markdown_table(&sections);
    let markdown_path = out.join("report.md");
    std::fs::write(&markdown_path, &markdown)
        .map_err(|error| format!("cannot write {}: {error}", markdown_path.display()))?;
    println!("{markdown}");
    progress(started, &format!("wrote {} and {}", json_path.display(), markdown_path.display()));
    Ok(())
}

fn run_backend(
    options: &BenchOptions,
    backend: &str,
    server: &Path,
    probe: &Path,
    out: &Path,
    started: Instant,
) -> Result<String, String> {
    let url = match backend {
        "sqlite" => {
            let file = out.join("bench.sqlite3");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            format!("sqlite://{}?mode=rwc", file.display())
        }
        _ => {
            run_quiet(
                Command::new("psql").args([POSTGRES_SERVER, "-q", "-c", "DROP DATABASE IF EXISTS npq_bench"]),
                "psql",
            )?;
            run_quiet(Command::new("psql").args([POSTGRES_SERVER, "-q", "-c", "CREATE DATABASE npq_bench"]), "psql")?;
            format!("{POSTGRES_SERVER}/npq_bench")
        }
    };
    let secret = "bench-secret-of-at-least-thirty-two-characters";
    let server_command = |arguments: &[&str]| {
        let mut command = Command::new(server);
        command.args(["--database-url", &url, "--secret", secret]).args(arguments).current_dir(out);
        command.env("RUST_LOG", "warn");
        command
    };

    progress(
        started,
        &format!("{backend}: seeding {} applications with statements and declarations", options.applications),
    );
    let applications = options.applications.to_string();
    run_quiet(&mut server_command(&["seed", "--applications", &applications]), "npq-server seed")?;
    let token = run_output(&mut server_command(&["token", "create", "--lead-provider", LEAD_PROVIDER]), "token")?;
    let token = token.lines().last().unwrap_or_default().trim().to_owned();

    let port = free_port()?;
    let address = format!("127.0.0.1:{port}");
    progress(started, &format!("{backend}: starting the server on {address}"));
    let launched = Instant::now();
    let mut child =
        server_command(&["serve", "--bind", &address, "--rate-limit-per-token", "off", "--rate-limit-per-ip", "off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", server.display()))?;
    let result = measure_running(&mut child, launched, &address, &url, &token, options, probe, started, backend);
    let _ = child.kill();
    let _ = child.wait();
    result
}

#[allow(clippy::too_many_arguments)]
fn measure_running(
    child: &mut Child,
    launched: Instant,
    address: &str,
    url: &str,
    token: &str,
    options: &BenchOptions,
    probe: &Path,
    started: Instant,
    backend: &str,
) -> Result<String, String> {
    let startup = wait_until_healthy(address, child)?;
    let startup_ms = startup.duration_since(launched).as_secs_f64() * 1000.0;
    progress(started, &format!("{backend}: server answered /health after {startup_ms:.0} ms; measuring"));
    let pid = child.id().to_string();
    let mut arguments = vec!["measure", url, address, token, LEAD_PROVIDER, "--server-pid", &pid];
    if options.quick {
        arguments.push("--quick");
    }
    let figures = run_output(Command::new(probe).args(&arguments).stderr(Stdio::inherit()), "bench_probe measure")?;
    let rss_peak_mib = peak_resident_mib(child.id())?;
    progress(started, &format!("{backend}: done; server peak resident memory {rss_peak_mib:.1} MiB"));
    let figures = figures.trim();
    let figures = figures.strip_suffix('}').ok_or("bench_probe printed no JSON object")?;
    Ok(format!("{figures},\"rss_peak_mib\":{rss_peak_mib:.1},\"startup_ms\":{startup_ms:.0}}}"))
}

/// Polls `/health` until it answers 200 and returns when it did.
fn wait_until_healthy(address: &str, child: &mut Child) -> Result<Instant, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the server exited before it answered /health ({status})"));
        }
        if let Ok(mut stream) = TcpStream::connect(address) {
            let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            let mut reply = String::new();
            let _ = stream.read_to_string(&mut reply);
            if reply.starts_with("HTTP/1.1 200") {
                return Ok(Instant::now());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(format!("the server on {address} did not answer /health within 60 seconds"))
}

/// Reads the peak resident set size (`VmHWM`) of a process, in MiB.
fn peak_resident_mib(pid: u32) -> Result<f64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|error| format!("cannot read /proc/{pid}/status: {error}"))?;
    parse_vm_hwm_mib(&status).ok_or_else(|| format!("no VmHWM line in /proc/{pid}/status"))
}

/// Returns the `VmHWM` of a `/proc/PID/status` text in MiB.
pub fn parse_vm_hwm_mib(status: &str) -> Option<f64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| format!("cannot find a free port: {error}"))?;
    listener.local_addr().map(|address| address.port()).map_err(|error| error.to_string())
}

fn run_quiet(command: &mut Command, name: &str) -> Result<(), String> {
    run_output(command, name).map(|_| ())
}

fn run_output(command: &mut Command, name: &str) -> Result<String, String> {
    let output = command.stdin(Stdio::null()).output().map_err(|error| format!("cannot run {name}: {error}"))?;
    if !output.status.success() {
        return Err(format!("{name} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim()));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("{name} printed text that is not UTF-8"))
}

/// The figures of the table: JSON key, label, limit and whether the limit is a maximum.
const TABLE: [(&str, &str, f64, bool); 8] = [
    ("full_sync_ratio", "Full sync, HTTP time / in-process time", 1.3, true),
    ("deep_page_ratio", "Last cursor page / first cursor page", 1.2, true),
    ("change_poll_ms", "Change poll that matches nothing (ms)", f64::INFINITY, true),
    ("declaration_post_ratio", "Declaration POSTs per second / database inserts per second", 0.5, false),
    ("p99_ms", "Declaration POST p99 (ms)", 50.0, true),
    ("declaration_server_cpu_ms", "Server processor time per declaration POST (ms)", f64::INFINITY, true),
    ("rss_peak_mib", "Server peak resident memory (MiB)", 64.0, true),
    ("startup_ms", "Server start-up to first /health (ms)", 1000.0, true),
];

/// The figures every backend's report must contain.
const REQUIRED: [&str; 8] = [
    "full_sync_ratio",
    "deep_page_ratio",
    "change_poll_ms",
    "declaration_post_ratio",
    "declarations_per_second",
    "p99_ms",
    "rss_peak_mib",
    "startup_ms",
];

/// Returns the required figures that a backend's report lacks or gives as no number.
pub fn missing_figures(figures: &str) -> Vec<&'static str> {
    REQUIRED.into_iter().filter(|key| json_number(figures, key).is_none_or(|value| !value.is_finite())).collect()
}

/// Finds a number by key in the flat JSON object the probe prints.
pub fn json_number(json: &str, key: &str) -> Option<f64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// Builds the Markdown table of the report: each figure beside its limit and whether it is met.
pub fn markdown_table(sections: &[(&str, String)]) -> String {
    let mut table = String::from("| Backend | Figure | Measured | Limit | Met |\n| --- | --- | ---: | ---: | --- |\n");
    for (backend, figures) in sections {
        for (key, label, limit, is_maximum) in TABLE {
            let Some(value) = json_number(figures, key) else { continue };
            let (limit_text, met) = if limit.is_infinite() {
                ("none".to_owned(), "n/a")
            } else if is_maximum {
                (format!("≤ {limit}"), if value <= limit { "yes" } else { "no" })
            } else {
                (format!("≥ {limit}"), if value >= limit { "yes" } else { "no" })
            };
            table.push_str(&format!("| {backend} | {label} | {value:.2} | {limit_text} | {met} |\n"));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_figures_finds_absent_keys() {
        let complete = r#"{"full_sync_ratio":1.1,"deep_page_ratio":0.9,"change_poll_ms":1.5,"declaration_post_ratio":0.1,"declarations_per_second":400,"p99_ms":120,"rss_peak_mib":60.5,"startup_ms":31}"#;
        assert!(missing_figures(complete).is_empty());
        let without_p99 = complete.replace(r#""p99_ms":120,"#, "");
        assert_eq!(missing_figures(&without_p99), ["p99_ms"]);
        let not_a_number = complete.replace("400", "null");
        assert_eq!(missing_figures(&not_a_number), ["declarations_per_second"]);
    }

    #[test]
    fn options_default_to_both_backends() {
        let options = parse_options(&[]).unwrap();
        assert_eq!(options.applications, 250_000);
        assert_eq!(options.backends, vec!["sqlite", "postgres"]);
        assert!(!options.quick);
    }

    #[test]
    fn options_parse_every_flag() {
        let arguments: Vec<String> = ["--quick", "--applications", "5000", "--backend", "postgres"]
            .iter()
            .map(|text| text.to_string())
            .collect();
        let options = parse_options(&arguments).unwrap();
        assert_eq!(options, BenchOptions { applications: 5000, backends: vec!["postgres"], quick: true });
    }

    #[test]
    fn bad_options_are_rejected() {
        for arguments in [&["--applications", "many"][..], &["--backend", "mysql"], &["--fast"], &["--applications"]] {
            let arguments: Vec<String> = arguments.iter().map(|text| text.to_string()).collect();
            assert!(parse_options(&arguments).is_err(), "{arguments:?}");
        }
    }

    #[test]
    fn vm_hwm_is_read_in_mib() {
        let status = "Name:\tnpq-server\nVmPeak:\t  100000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(parse_vm_hwm_mib(status), Some(50.0));
        assert_eq!(parse_vm_hwm_mib("Name:\tx\n"), None);
    }

    #[test]
    fn table_marks_each_limit() {
        let figures =
            "{\"full_sync_ratio\":1.1,\"deep_page_ratio\":1.5,\"declaration_post_ratio\":0.7,\"p99_ms\":12.0}";
        let table = markdown_table(&[("sqlite", figures.to_owned())]);
        assert!(table.contains("| sqlite | Full sync, HTTP time / in-process time | 1.10 | ≤ 1.3 | yes |"), "{table}");
        assert!(table.contains("| sqlite | Last cursor page / first cursor page | 1.50 | ≤ 1.2 | no |"), "{table}");
        assert!(table.contains("| 0.70 | ≥ 0.5 | yes |"), "{table}");
        assert!(!table.contains("rss"), "absent figures are left out");
    }
}
