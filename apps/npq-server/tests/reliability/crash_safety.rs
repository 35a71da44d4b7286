//! Crash safety of the server binary, on SQLite and PostgreSQL. Several clients accept
//! applications, submit declarations and void them, and the server is killed with SIGKILL in the
//! middle of it. After a restart on the same database, every write that got a 200 response is
//! there and no write is half done.
//!
//! Half done means a funded declaration without its payment line on the statement, a voided one
//! whose line was not voided, or an accepted application without the history entry of its
//! acceptance. A write cut off by the kill may be there or not, but only whole.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use npq_store_seaorm::backend_tests;
use npq_store_seaorm::entity::{application, application_history, declaration, statement_item};
use npq_store_seaorm::test_support::Backend;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::{Api, Enrolment, declaration as declaration_attributes};

const SECRET: &str = "a test secret that is long enough to key digests";

/// Acknowledged writes after which the server is killed. Each client has more work than this,
/// so the kill lands while all of them are still writing.
const KILL_AFTER_WRITES: usize = 30;

/// Applications to accept and participants to declare for, per client.
const WORK_PER_CLIENT: usize = 30;

const STARTED: &str = "2025-11-03T10:00:00Z";

fn npq_server(database_url: &str, arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_npq-server"));
    command.args(arguments).env("DATABASE_URL", database_url).env("NPQ_SECRET", SECRET).env("RUST_LOG", "warn");
    for variable in
        ["NPQ_BIND", "NPQ_TRUSTED_PROXIES", "NPQ_RATE_LIMIT_PER_TOKEN", "NPQ_RATE_LIMIT_PER_IP", "NPQ_CONFIG"]
    {
        command.env_remove(variable);
    }
    command
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

impl Server {
    /// Starts `serve` on a free loopback port without rate limits and waits until `/health`
    /// responds.
    fn start(database_url: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free port");
        let child = npq_server(database_url, &["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--rate-limit-per-token", "off", "--rate-limit-per-ip", "off"])
            .stdout(Stdio::null())
            .spawn()
            .expect("the server starts");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if matches!(request(port, "GET", "/health", None, None), Ok((200, _))) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not respond on port {port} within 60 seconds");
    }

    /// Kills the process with SIGKILL, so that it finishes and rolls back nothing that is in flight.
    fn kill(mut self) {
        self.child.kill().expect("the server can be killed");
        self.child.wait().expect("the killed server is reaped");
    }
}

/// Sends one HTTP/1.0 request on loopback and returns the status and body. An error means no
/// response arrived, as when the server was killed.
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").ok_or(std::io::ErrorKind::UnexpectedEof)?;
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).ok_or(std::io::ErrorKind::InvalidData)?;
    Ok((status, body.to_owned()))
}

/// A write that got a 200 response.
#[derive(Debug, Clone)]
enum Acknowledged {
    Accepted {
        application: String,
    },
    /// A `started` declaration; `void_requested` when the client went on to void it.
    Declared {
        declaration: String,
        void_requested: bool,
    },
    Voided {
        declaration: String,
    },
}

/// What the clients saw: the writes that got a 200 response, and any 5xx.
#[derive(Default)]
struct Observed {
    acknowledged: Vec<Acknowledged>,
    server_errors: Vec<String>,
}

/// Runs one client's work until it is done or the server stops responding. Every 200 is counted
/// in `writes`.
fn client(port: u16, token: &str, work: &[Work], writes: &AtomicUsize) -> Observed {
    let mut observed = Observed::default();
    let mut record = |status: u16, body: &str, acknowledged: Acknowledged| {
        if status == 200 {
            observed.acknowledged.push(acknowledged);
            writes.fetch_add(1, Ordering::SeqCst);
        } else if status >= 500 {
            observed.server_errors.push(format!("{status}: {body}"));
        }
        status == 200
    };
    for item in work {
        let result = match item {
            Work::Accept(id) => {
                let body = json!({"data": {"type": "npq-application-accept", "attributes": {"funded_place": true}}});
                request(port, "POST", &format!("/api/v3/npq-applications/{id}/accept"), Some(token), Some(&body))
                    .map(|(status, text)| record(status, &text, Acknowledged::Accepted { application: id.clone() }))
            }
            Work::DeclareAndVoid { attributes, void } => {
                let body = json!({"data": {"type": "participant-declaration", "attributes": attributes}});
                match request(port, "POST", "/api/v3/participant-declarations", Some(token), Some(&body)) {
                    Ok((status, text)) => {
                        let id = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|json| json["data"]["id"].as_str().map(str::to_owned))
                            .unwrap_or_default();
                        let acknowledged = Acknowledged::Declared { declaration: id.clone(), void_requested: *void };
                        let declared = record(status, &text, acknowledged);
                        if declared && *void {
                            let path = format!("/api/v3/participant-declarations/{id}/void");
                            request(port, "PUT", &path, Some(token), None).map(|(status, text)| {
                                record(status, &text, Acknowledged::Voided { declaration: id.clone() })
                            })
                        } else {
                            Ok(declared)
                        }
                    }
                    Err(error) => Err(error),
                }
            }
        };
        if result.is_err() {
            // The server is gone: the rest of the work cannot be sent.
            break;
        }
    }
    observed
}

/// One write of a client's work.
#[derive(Debug, Clone)]
enum Work {
    Accept(String),
    /// Declare `started`, and void the declaration when `void` is set.
    DeclareAndVoid {
        attributes: Value,
        void: bool,
    },
}

async fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let api = Api::new(backend, 1).await;
    let provider_name = api.reference.lead_providers[0].name.clone();
    let partner = api.partners(0, "2025a")[0];

    // Pending applications to accept, each of its own person, and participants to declare for.
    let mut pending = Vec::new();
    let mut people = Vec::new();
    for _ in 0..WORK_PER_CLIENT {
        let person = api.person();
        let application = npq_domain::testing::application(&person, api.tokens[0].0, chrono::Utc::now());
        people.push(person);
        pending.push(application);
    }
    api.database.store.insert_people(&people).await.expect("people are stored");
    api.database.store.insert_applications(&pending).await.expect("applications are stored");
    let mut declaring = Vec::new();
    for _ in 0..2 * WORK_PER_CLIENT {
        declaring.push(api.participant(Enrolment::default()).await.0);
    }

    let token_output = npq_server(&api.database.url, &["token", "create", "--lead-provider", &provider_name])
        .output()
        .expect("npq-server token create runs");
    assert!(token_output.status.success(), "{}", String::from_utf8_lossy(&token_output.stderr));
    let token = String::from_utf8_lossy(&token_output.stdout).lines().last().unwrap_or_default().trim().to_owned();

    let accepts: Vec<Work> = pending.iter().map(|application| Work::Accept(application.id.to_string())).collect();
    let declarations: Vec<Vec<Work>> = declaring
        .chunks(WORK_PER_CLIENT)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(index, person)| Work::DeclareAndVoid {
                    attributes: declaration_attributes(person, "started", STARTED, Some(partner)),
                    void: index % 2 == 0,
                })
                .collect()
        })
        .collect();

    // Three clients write at once; the server is killed once enough writes were acknowledged.
    let server = Server::start(&api.database.url);
    let port = server.port;
    let writes = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = std::iter::once(accepts)
        .chain(declarations)
        .map(|work| {
            let (token, writes) = (token.clone(), writes.clone());
            std::thread::spawn(move || client(port, &token, &work, &writes))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while writes.load(Ordering::SeqCst) < KILL_AFTER_WRITES && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    let mut observed = Observed::default();
    for client in clients {
        let seen = client.join().expect("a client thread ran");
        observed.acknowledged.extend(seen.acknowledged);
        observed.server_errors.extend(seen.server_errors);
    }
    assert!(observed.server_errors.is_empty(), "5xx during the load: {:?}", observed.server_errors);
    assert!(observed.acknowledged.len() >= KILL_AFTER_WRITES, "the load ran before the kill");
    let total_work = 3 * WORK_PER_CLIENT;
    assert!(observed.acknowledged.len() < total_work, "the kill came before the clients finished");

    // After a restart on the same database, every acknowledged write is served back.
    let server = Server::start(&api.database.url);
    let mut voided = HashSet::new();
    for acknowledged in &observed.acknowledged {
        if let Acknowledged::Voided { declaration } = acknowledged {
            voided.insert(declaration.clone());
        }
    }
    for acknowledged in &observed.acknowledged {
        // A void that was sent but not answered may have been stored or not.
        let (path, field, expected) = match acknowledged {
            Acknowledged::Accepted { application } => {
                (format!("/api/v3/npq-applications/{application}"), "status", &["accepted"][..])
            }
            Acknowledged::Declared { declaration, .. } if voided.contains(declaration) => continue,
            Acknowledged::Declared { declaration, void_requested: true } => {
                (format!("/api/v3/participant-declarations/{declaration}"), "state", &["eligible", "voided"][..])
            }
            Acknowledged::Declared { declaration, void_requested: false } => {
                (format!("/api/v3/participant-declarations/{declaration}"), "state", &["eligible"][..])
            }
            Acknowledged::Voided { declaration } => {
                (format!("/api/v3/participant-declarations/{declaration}"), "state", &["voided"][..])
            }
        };
        let (status, body) =
            request(server.port, "GET", &path, Some(&token), None).expect("the restarted server responds");
        assert_eq!(status, 200, "{acknowledged:?} after the restart: {body}");
        let json: Value = serde_json::from_str(&body).expect("a JSON body");
        let stored = json["data"]["attributes"][field].as_str().unwrap_or_default();
        assert!(expected.contains(&stored), "{acknowledged:?} is {stored} after the restart, not one of {expected:?}");
    }
    drop(server);

    // Nothing is half written, acknowledged or not.
    let connection = api.database.store.connection();
    let lines = statement_item::Entity::find().all(connection).await.expect("statement lines can be read");
    let mut output_line_states: HashMap<i64, Vec<String>> = HashMap::new();
    for line in lines.into_iter().filter(|line| line.kind == "output") {
        output_line_states.entry(line.declaration_id).or_default().push(line.state);
    }
    let declarations = declaration::Entity::find().all(connection).await.expect("declarations can be read");
    for row in &declarations {
        let states = output_line_states.get(&row.id).cloned().unwrap_or_default();
        let expected_line = match row.state.as_str() {
            "eligible" => "eligible",
            "voided" => "voided",
            other => panic!("declaration {} is {other}, which this load never makes", row.public_id),
        };
        assert_eq!(states, [expected_line], "the payment line of {} declaration {}", row.state, row.public_id);
    }
    let pending_ids: Vec<uuid::Uuid> = pending.iter().map(|application| application.id.as_uuid()).collect();
    let accepted = application::Entity::find()
        .filter(application::Column::PublicId.is_in(pending_ids))
        .filter(application::Column::Status.eq("accepted"))
        .all(connection)
        .await
        .expect("applications can be read");
    for row in &accepted {
        let entries = application_history::Entity::find()
            .filter(application_history::Column::ApplicationId.eq(row.id))
            .filter(application_history::Column::Field.eq("status"))
            .filter(application_history::Column::ToValue.eq("accepted"))
            .all(connection)
            .await
            .expect("history can be read");
        assert_eq!(entries.len(), 1, "accepted application {} has one history entry of its acceptance", row.public_id);
    }
    let acknowledged_accepts =
        observed.acknowledged.iter().filter(|write| matches!(write, Acknowledged::Accepted { .. })).count();
    assert!(accepted.len() >= acknowledged_accepts, "every acknowledged acceptance is stored");
}

backend_tests!(acknowledged_writes_survive_sigkill);
