//! The server binary end to end, on SQLite and PostgreSQL: seed, create a token, serve, and sync
//! every application of a lead provider over HTTP the way a lead provider's client does.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use npq_store_seaorm::backend_tests;
use npq_store_seaorm::test_support::{Backend, TestDatabase};

const SECRET: &str = "a test secret that is long enough to key digests";
const LEAD_PROVIDER: &str = "Ambition Institute";

fn npq_server(database_url: &str, arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_npq-server"));
    command.args(arguments).env("DATABASE_URL", database_url).env("NPQ_SECRET", SECRET).env("RUST_LOG", "warn");
    command
}

fn run(database_url: &str, arguments: &[&str]) -> Output {
    let output = npq_server(database_url, arguments).output().expect("npq-server runs");
    assert!(output.status.success(), "npq-server {arguments:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
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

fn start_server(database_url: &str) -> Server {
    let port = free_port();
    let child = npq_server(database_url, &["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if get(server.port, "/api/docs/v3/openapi.json", None).map(|(status, _)| status == 200).unwrap_or(false) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not answer on port {port} within 60 seconds");
}

/// Sends one HTTP/1.0 GET request on loopback and returns the status and body.
fn get(port: u16, path: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{authorization}\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    Ok((status, body.to_owned()))
}

fn data(body: &str) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|error| panic!("invalid JSON ({error}): {body}"));
    json["data"].as_array().cloned().unwrap_or_else(|| panic!("no data array: {body}"))
}

async fn lead_provider_syncs_every_application_from_a_running_server(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    run(&database.url, &["seed", "--applications", "12000", "--seed", "7"]);
    let output = run(&database.url, &["token", "create", "--lead-provider", LEAD_PROVIDER]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout.lines().last().expect("the token is printed").trim().to_owned();
    assert_eq!(token.len(), 64, "the last line is the token alone: {stdout:?}");

    let server = start_server(&database.url);

    let (status, body) = get(server.port, "/api/v3/npq-applications?page[per_page]=5000", Some(&token)).unwrap();
    assert_eq!(status, 200, "{body}");
    let first_page = data(&body);
    assert_eq!(first_page.len(), 1000, "a page holds at most 1000 applications");

    let mut seen = HashSet::new();
    let mut total = 0;
    for page in 1.. {
        let (status, body) =
            get(server.port, &format!("/api/v3/npq-applications?page[per_page]=700&page[page]={page}"), Some(&token))
                .unwrap();
        assert_eq!(status, 200, "{body}");
        let items = data(&body);
        if items.is_empty() {
            break;
        }
        for item in items {
            assert_eq!(item["type"], "npq_application");
            seen.insert(item["id"].as_str().expect("id").to_owned());
            total += 1;
        }
    }
    assert_eq!(seen.len(), total, "no application appears on two pages");
    assert!(total > 1000, "the provider has more than one page of 1000");

    let provider =
        npq_domain::ports::LeadProviderRepository::find_lead_provider_by_name(&database.store, LEAD_PROVIDER)
            .await
            .unwrap()
            .unwrap();
    let mut stored = 0;
    for page in 1.. {
        let query = npq_domain::listing::ApplicationQuery {
            page: npq_domain::listing::PageRequest::new(Some(page), Some(1000)).unwrap(),
            ..Default::default()
        };
        let rows = npq_domain::ports::ApplicationRepository::list_applications(&database.store, provider.id, &query)
            .await
            .unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.iter().all(|(application, _)| seen.contains(&application.id.to_string())));
        stored += rows.len();
    }
    assert_eq!(stored, total, "the walk returned each of the provider's applications once");

    let (status, body) = get(server.port, "/api/v3/npq-applications", None).unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, _) = get(server.port, "/api/v3/npq-applications", Some("not-a-token")).unwrap();
    assert_eq!(status, 401);
}

async fn token_create_names_known_providers_when_the_name_is_wrong(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    run(&database.url, &["seed", "--applications", "0"]);
    let output = npq_server(&database.url, &["token", "create", "--lead-provider", "Ambition"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Ambition Institute"), "{stderr}");
    assert!(output.stdout.is_empty(), "no token is printed");
}

async fn statement_commands_create_and_pay_a_statement(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    run(&database.url, &["seed", "--applications", "0"]);
    let created = run(
        &database.url,
        &[
            "statement",
            "create",
            "--user",
            "priya.shah@education.gov.uk",
            "--lead-provider",
            LEAD_PROVIDER,
            // A cohort and month that sandbox statements do not cover, whatever the seed creates.
            "--cohort",
            "2021",
            "--year",
            "2025",
            "--month",
            "9",
            "--deadline",
            "2025-08-25",
            "--payment-date",
            "2025-09-25",
        ],
    );
    let shown = String::from_utf8_lossy(&created.stdout).into_owned();
    let id =
        shown.lines().next().and_then(|line| line.strip_prefix("statement ")).expect("the statement id").to_owned();
    assert!(shown.contains("state           open"), "{shown}");

    let contract = run(
        &database.url,
        &[
            "statement",
            "contract",
            &id,
            "--user",
            "priya.shah@education.gov.uk",
            "--course",
            "npq-senior-leadership",
            "--per-participant-pence",
            "80000",
            "--recruitment-target",
            "72",
            "--service-fee-instalments",
            "19",
            "--number-of-payment-periods",
            "3",
        ],
    );
    let shown = String::from_utf8_lossy(&contract.stdout).into_owned();
    assert!(shown.contains("£1212.63"), "the worked example's monthly service fee: {shown}");

    let deadlines = run(&database.url, &["statement", "run-deadlines"]);
    let printed = String::from_utf8_lossy(&deadlines.stdout).into_owned();
    assert!(printed.contains(&format!("marked payable {id}")), "{printed}");
    let unpaid = npq_server(&database.url, &["statement", "mark-paid", &id, "--user", "priya"]).output().unwrap();
    assert!(!unpaid.status.success(), "a statement without declarations is not paid");
    assert!(String::from_utf8_lossy(&unpaid.stderr).contains("nothing to pay"));
    let missing_user = npq_server(&database.url, &["statement", "mark-payable", &id]).output().unwrap();
    assert!(String::from_utf8_lossy(&missing_user.stderr).contains("--user"));
}

backend_tests!(
    lead_provider_syncs_every_application_from_a_running_server,
    token_create_names_known_providers_when_the_name_is_wrong,
    statement_commands_create_and_pay_a_statement
);
