//! The server binary's operations, on SQLite and PostgreSQL: allow-lists set from the command
//! line and enforced behind a trusted proxy, the operational routes, settings checked at start,
//! and a graceful shutdown that finishes a request in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use npq_store_seaorm::backend_tests;
use npq_store_seaorm::test_support::{Backend, TestDatabase};

const SECRET: &str = "a test secret that is long enough to key digests";
const LEAD_PROVIDER: &str = "Ambition Institute";
const LIST: &str = "/api/v3/npq-applications";

fn npq_server(database_url: &str, arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_npq-server"));
    command.args(arguments).env("DATABASE_URL", database_url).env("NPQ_SECRET", SECRET).env("RUST_LOG", "warn");
    for variable in [
        "NPQ_BIND",
        "NPQ_TRUSTED_PROXIES",
        "NPQ_RATE_LIMIT_PER_TOKEN",
        "NPQ_RATE_LIMIT_PER_IP",
        "NPQ_SANDBOX",
        "NPQ_CONFIG",
    ] {
        command.env_remove(variable);
    }
    command
}

fn run(database_url: &str, arguments: &[&str]) -> Output {
    let output = npq_server(database_url, arguments).output().expect("npq-server runs");
    assert!(output.status.success(), "npq-server {arguments:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Seeds reference data and returns a lead provider token.
fn seed_and_token(database_url: &str) -> String {
    run(database_url, &["seed", "--applications", "0"]);
    let output = run(database_url, &["token", "create", "--lead-provider", LEAD_PROVIDER]);
    String::from_utf8_lossy(&output.stdout).lines().last().expect("the token is printed").trim().to_owned()
}

/// A server process that is killed when the test ends, pass or fail.
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Starts `serve` on a free loopback port with `arguments` and waits until `/health` responds.
fn start_server(mut command: Command, arguments: &[&str]) -> Server {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let child =
        command.args(["serve", "--bind", &bind]).args(arguments).stdout(Stdio::null()).spawn().expect("server starts");
    let server = Server { child, port };
    wait_until_healthy(port);
    server
}

fn wait_until_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if get(port, "/health", None, &[]).map(|(status, _)| status == 200).unwrap_or(false) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not answer on port {port} within 60 seconds");
}

/// Sends one HTTP/1.0 GET request on loopback and returns the status and body.
fn get(port: u16, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    Ok((status, body.to_owned()))
}

async fn allow_ips_command_restricts_and_clears(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let token = seed_and_token(&database.url);

    let output = run(
        &database.url,
        &["lead-provider", "allow-ips", "--lead-provider", LEAD_PROVIDER, "10.0.0.0/8", "2001:db8::/32"],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("10.0.0.0/8, 2001:db8::/32"), "{stdout}");

    let server = start_server(npq_server(&database.url, &[]), &["--trusted-proxy", "127.0.0.1/32"]);
    let (status, body) = get(server.port, LIST, Some(&token), &[]).unwrap();
    assert_eq!(status, 403, "a request from the proxy itself is refused: {body}");
    assert!(body.contains("127.0.0.1"), "{body}");
    let (status, body) = get(server.port, LIST, Some(&token), &[("X-Forwarded-For", "10.1.2.3")]).unwrap();
    assert_eq!(status, 200, "a client the proxy forwards from 10.1.2.3 is allowed: {body}");

    run(&database.url, &["lead-provider", "allow-ips", "--lead-provider", LEAD_PROVIDER, "--clear"]);
    let (status, body) = get(server.port, LIST, Some(&token), &[]).unwrap();
    assert_eq!(status, 200, "the cleared list allows any address: {body}");
}

async fn allow_ips_command_rejects_bad_input(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    run(&database.url, &["seed", "--applications", "0"]);
    for (arguments, expected) in [
        (vec!["--lead-provider", LEAD_PROVIDER, "10.0.0.0/33"], "10.0.0.0/33"),
        (vec!["--lead-provider", "Ambition", "10.0.0.0/8"], "Ambition Institute"),
        (vec!["--lead-provider", LEAD_PROVIDER], "CIDR"),
    ] {
        let output = npq_server(&database.url, &[["lead-provider", "allow-ips"].as_slice(), &arguments].concat())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{arguments:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{arguments:?}: {stderr}");
    }
}

async fn operational_routes_answer(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let token = seed_and_token(&database.url);
    let server = start_server(npq_server(&database.url, &[]), &[]);

    let (status, body) = get(server.port, "/ready", None, &[]).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ready"), "{body}");
    let (status, _) = get(server.port, LIST, Some(&token), &[]).unwrap();
    assert_eq!(status, 200);
    let (status, body) = get(server.port, "/api/v2/npq-applications", Some(&token), &[]).unwrap();
    assert_eq!(status, 410, "{body}");

    let (status, metrics) = get(server.port, "/metrics", None, &[]).unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"npq_http_requests_total{method="GET",route="/api/v3/npq-applications",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("npq_database_pool_max_connections"), "{metrics}");
}

async fn sigterm_lets_a_slow_request_finish(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let token = seed_and_token(&database.url);
    let mut command = npq_server(&database.url, &[]);
    command.env("RUST_LOG", "info").stderr(Stdio::piped());
    let mut server = start_server(command, &["--sandbox", "--sandbox-delay-header"]);

    // Every log line goes through a channel, so the server never blocks on a full pipe.
    let stderr = server.child.stderr.take().expect("stderr is piped");
    let (lines_sender, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });

    let port = server.port;
    let request = std::thread::spawn(move || get(port, LIST, Some(&token), &[("X-Sandbox-Delay-Ms", "5000")]));
    let mut seen = Vec::new();
    loop {
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("the server logs the delayed request");
        let delaying = line.contains("delaying the response");
        seen.push(line);
        if delaying {
            break;
        }
    }

    let signal = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill runs");
    assert!(signal.success());
    let (status, body) = request.join().expect("the request thread ends").expect("the response arrives");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"data\""), "{body}");
    let exit = server.child.wait().expect("the server exits");
    assert!(exit.success(), "the server exits cleanly after SIGTERM: {exit:?}");

    seen.extend(lines.try_iter());
    let shutting_down = seen.iter().position(|line| line.contains("shutting down"));
    let finished = seen.iter().position(|line| line.contains("request finished") && line.contains(LIST));
    assert!(shutting_down.is_some(), "{seen:#?}");
    assert!(finished.is_some(), "{seen:#?}");
    assert!(shutting_down < finished, "the request finished after the shutdown began: {seen:#?}");
}

backend_tests!(
    allow_ips_command_restricts_and_clears,
    allow_ips_command_rejects_bad_input,
    operational_routes_answer,
    sigterm_lets_a_slow_request_finish
);

/// Runs `serve` with settings that must be rejected, and returns its error output.
fn rejected_serve(arguments: &[&str], config: Option<&str>) -> String {
    let directory = std::env::temp_dir().join(format!("npq-config-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let mut command = npq_server("sqlite::memory:", &["serve"]);
    command.args(arguments).current_dir(&directory);
    if let Some(config) = config {
        let path = directory.join(format!("{}.toml", free_port()));
        std::fs::write(&path, config).unwrap();
        command.arg("--config").arg(path);
    }
    let output = command.output().expect("npq-server runs");
    assert!(!output.status.success(), "{arguments:?} {config:?} was accepted");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_settings_stop_the_server_with_clear_messages() {
    let cases: [(&[&str], Option<&str>, &str); 6] = [
        (&["--trusted-proxy", "10.0.0.0/33"], None, "invalid trusted proxy"),
        (&["--rate-limit-per-token", "lots"], None, "invalid rate limit"),
        (&["--rate-limit-per-ip", "0/5m"], None, "N/DURATION"),
        (&["--bind", "localhost"], None, "listen address 'localhost'"),
        (&[], Some("bind = \"nowhere\""), "bind in the configuration file"),
        (&[], Some("unknown_key = 1"), "unknown field"),
    ];
    for (arguments, config, expected) in cases {
        let stderr = rejected_serve(arguments, config);
        assert!(stderr.contains(expected), "{arguments:?} {config:?}: {stderr}");
    }
}

#[test]
fn config_file_sets_the_listen_address() {
    let directory = std::env::temp_dir().join(format!("npq-config-file-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let port = free_port();
    let database = directory.join("npq.sqlite3");
    let path = directory.join("npq.toml");
    let config = format!(
        "database_url = \"sqlite://{}?mode=rwc\"\nbind = \"127.0.0.1:{port}\"\nrate_limit_per_ip = \"off\"\n",
        database.display()
    );
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_npq-server"));
    command.env_remove("DATABASE_URL").env_remove("NPQ_BIND").env("NPQ_SECRET", SECRET).env("RUST_LOG", "warn");
    let child = command.arg("--config").arg(&path).current_dir(&directory).stdout(Stdio::null()).spawn().unwrap();
    let server = Server { child, port };
    wait_until_healthy(server.port);
    drop(server);
    let _ = std::fs::remove_dir_all(&directory);
}
