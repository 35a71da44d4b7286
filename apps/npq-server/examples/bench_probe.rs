//! The measuring half of `cargo xtask bench`: run against a seeded database and a server that
//! `xtask` started on the loopback address, it times each workload over HTTP and the same work
//! done in-process or by the database alone, and prints the figures as one JSON object.
//!
//! `bench_probe measure DATABASE_URL ADDRESS TOKEN LEAD_PROVIDER [--quick] [--server-pid PID]` measures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use npq_api::ApiState;
use npq_api::resources::applications::{ApplicationResource, ApplicationsResponse};
use npq_domain::auth::TokenKey;
use npq_domain::listing::{ApplicationQuery, PageRequest};
use npq_domain::ports::{LeadProviderRepository, SystemClock};
use npq_store_seaorm::Store;
use poem_openapi::types::ToJSON;
use sea_orm::{ConnectionTrait, DatabaseBackend, TransactionTrait};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Concurrent clients of the declaration write workload and of the database's own insert rate.
const WRITERS: usize = 32;

#[tokio::main]
async fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.first().map(String::as_str) {
        Some("measure") => {
            let [_, url, address, token, lead_provider, rest @ ..] = arguments.as_slice() else {
                bail!("usage: measure DATABASE_URL ADDRESS TOKEN LEAD_PROVIDER [--quick] [--server-pid PID]")
            };
            let quick = rest.iter().any(|argument| argument == "--quick");
            let server_pid = rest
                .iter()
                .position(|argument| argument == "--server-pid")
                .and_then(|at| rest.get(at + 1))
                .map(|pid| pid.parse::<u32>().context("--server-pid must be a process id"))
                .transpose()?;
            let probe = Probe { url: url.clone(), address: address.clone(), token: token.clone(), quick, server_pid };
            let figures = probe.measure(lead_provider).await?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(())
        }
        _ => bail!("usage: bench_probe measure ..."),
    }
}

struct Probe {
    url: String,
    address: String,
    token: String,
    quick: bool,
    /// The server's process id, to read the processor time it spends on the write workload.
    server_pid: Option<u32>,
}

/// A response: status and body.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection to the server under test.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(address: &str) -> Result<Self> {
        let stream = TcpStream::connect(address).await.with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, buffer: Vec::with_capacity(1 << 16) })
    }

    async fn send(&mut self, method: &str, target: &str, token: &str, body: Option<&str>) -> Result<Reply> {
        let body = body.unwrap_or_default();
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await?;
        self.read_reply().await
    }

    async fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 65536];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            bail!("the server closed the connection");
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }

    async fn read_reply(&mut self) -> Result<Reply> {
        let header_end = loop {
            if let Some(position) = self.buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break position + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buffer[..header_end]).to_ascii_lowercase();
        let status: u16 =
            head.split(' ').nth(1).and_then(|code| code.parse().ok()).ok_or_else(|| anyhow!("bad status line"))?;
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map(|value| value.trim().parse::<usize>())
            .transpose()?;
        let body = match length {
            Some(length) => {
                while self.buffer.len() < header_end + length {
                    self.fill().await?;
                }
                let body = self.buffer[header_end..header_end + length].to_vec();
                self.buffer.drain(..header_end + length);
                body
            }
            None if head.contains("transfer-encoding: chunked") => {
                self.buffer.drain(..header_end);
                self.read_chunked().await?
            }
            None => bail!("a response without a length"),
        };
        Ok(Reply { status, body })
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(position) = self.buffer.windows(2).position(|window| window == b"\r\n") {
                    break position;
                }
                self.fill().await?;
            };
            let size = usize::from_str_radix(String::from_utf8_lossy(&self.buffer[..line_end]).trim(), 16)?;
            while self.buffer.len() < line_end + 2 + size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buffer[line_end + 2..line_end + 2 + size]);
            self.buffer.drain(..line_end + 2 + size + 2);
            if size == 0 {
                return Ok(body);
            }
        }
    }
}

/// Returns the processor time, user and system, that process `pid` has used so far.
fn processor_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("cannot read the server's /proc stat")?;
    // The command name in parentheses may contain spaces, so fields are counted after it. User
    // and system time, in clock ticks, are then the 12th and 13th.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> Result<u64> {
        fields.get(index).and_then(|field| field.parse().ok()).context("unexpected /proc stat layout")
    };
    // SAFETY: sysconf only reads a system setting.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(Duration::from_secs_f64((ticks(11)? + ticks(12)?) as f64 / per_second))
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

impl Probe {
    async fn get_json(&self, connection: &mut Connection, target: &str) -> Result<Value> {
        let reply = connection.send("GET", target, &self.token, None).await?;
        if reply.status != 200 {
            bail!("GET {target} returned {}: {}", reply.status, String::from_utf8_lossy(&reply.body));
        }
        Ok(serde_json::from_slice(&reply.body)?)
    }

    /// Times `target` `repeats` times and returns the median in milliseconds.
    async fn time_get(&self, connection: &mut Connection, target: &str, repeats: usize) -> Result<f64> {
        let mut times = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let start = Instant::now();
            let reply = connection.send("GET", target, &self.token, None).await?;
            times.push(milliseconds(start.elapsed()));
            if reply.status != 200 {
                bail!("GET {target} returned {}", reply.status);
            }
        }
        Ok(median(times))
    }

    async fn measure(&self, lead_provider: &str) -> Result<Value> {
        let store = Store::connect(&self.url).await?;
        let provider = store
            .find_lead_provider_by_name(lead_provider)
            .await?
            .ok_or_else(|| anyhow!("no lead provider named {lead_provider}"))?;
        let mut connection = Connection::open(&self.address).await?;
        let repeats = if self.quick { 5 } else { 9 };

        // Full sync over HTTP: every page of 1000, by page number. The time counts each request
        // until its whole body has arrived, not the probe's own parsing of the page.
        let mut http_time = Duration::ZERO;
        let mut rows = 0usize;
        let mut pages = 0u32;
        let mut http_bytes = 0usize;
        loop {
            let target = format!("/api/v3/npq-applications?page%5Bper_page%5D=1000&page%5Bpage%5D={}", pages + 1);
            let start = Instant::now();
            let reply = connection.send("GET", &target, &self.token, None).await?;
            http_time += start.elapsed();
            if reply.status != 200 {
                bail!("GET {target} returned {}", reply.status);
            }
            let count = serde_json::from_slice::<Value>(&reply.body)?["data"].as_array().map_or(0, Vec::len);
            if count == 0 {
                break;
            }
            rows += count;
            pages += 1;
            http_bytes += reply.body.len();
        }
        let full_sync_http_ms = milliseconds(http_time);

        // The same pages read through the same service and serialised to the same JSON in-process.
        let key = TokenKey::derive(&[0u8; 32]).map_err(|error| anyhow!("{error}"))?;
        let state = ApiState::over(store.clone(), key, Arc::new(SystemClock));
        let start = Instant::now();
        let mut direct_bytes = 0usize;
        for page in 1..=pages + 1 {
            let query = ApplicationQuery {
                page: PageRequest::new(Some(i64::from(page)), Some(1000)).map_err(|error| anyhow!("{error}"))?,
                ..ApplicationQuery::default()
            };
            let views = state.applications.list(provider.id, &query).await?;
            let data = views.into_iter().map(ApplicationResource::from).collect();
            let json = serde_json::to_vec(&ApplicationsResponse { data, meta: None }.to_json())?;
            direct_bytes += json.len();
        }
        let full_sync_direct_ms = milliseconds(start.elapsed());
        eprintln!(
            "bench: full sync of {rows} applications in {pages} pages: HTTP {full_sync_http_ms:.0} ms, in-process {full_sync_direct_ms:.0} ms"
        );

        // Cursor walk over HTTP, keeping the cursor of the last page.
        let start = Instant::now();
        let mut cursor = String::new();
        let mut last_page_cursor = String::new();
        loop {
            let target = format!("/api/v3/npq-applications?page%5Bper_page%5D=1000&page%5Bcursor%5D={cursor}");
            let body = self.get_json(&mut connection, &target).await?;
            if body["data"].as_array().is_none_or(Vec::is_empty) {
                break;
            }
            last_page_cursor = cursor;
            cursor = body["meta"]["next_cursor"].as_str().unwrap_or_default().to_owned();
        }
        let cursor_walk_http_ms = milliseconds(start.elapsed());

        // Deep pages: the last page against the first, by page number and by cursor.
        let first = "/api/v3/npq-applications?page%5Bper_page%5D=1000&page%5Bpage%5D=1";
        let last = format!("/api/v3/npq-applications?page%5Bper_page%5D=1000&page%5Bpage%5D={}", pages.max(1));
        let offset_first_ms = self.time_get(&mut connection, first, repeats).await?;
        let offset_last_ms = self.time_get(&mut connection, &last, repeats).await?;
        let cursor_first = "/api/v3/npq-applications?page%5Bper_page%5D=1000&page%5Bcursor%5D=";
        let cursor_last =
            format!("/api/v3/npq-applications?page%5Bper_page%5D=1000&page%5Bcursor%5D={last_page_cursor}");
        let cursor_first_ms = self.time_get(&mut connection, cursor_first, repeats).await?;
        let cursor_last_ms = self.time_get(&mut connection, &cursor_last, repeats).await?;
        eprintln!(
            "bench: deep pages: offset {offset_first_ms:.1} → {offset_last_ms:.1} ms, cursor {cursor_first_ms:.1} → {cursor_last_ms:.1} ms"
        );

        // Change poll: an updated_since that matches nothing.
        let poll = "/api/v3/npq-applications?filter%5Bupdated_since%5D=2999-01-01T00:00:00Z";
        let change_poll_ms = self.time_get(&mut connection, poll, repeats * 3).await?;

        let writes = self.declaration_writes(&mut connection).await?;
        let inserts = self.database_inserts(&store, writes.requests.max(500)).await?;
        eprintln!(
            "bench: declarations {:.0}/s ({} of {} accepted), p99 {:.1} ms; database inserts {inserts:.0}/s",
            writes.per_second, writes.accepted, writes.requests, writes.p99_ms
        );

        Ok(json!({
            "applications_synced": rows,
            "pages": pages,
            "full_sync_ratio": full_sync_http_ms / full_sync_direct_ms,
            "full_sync_http_ms": full_sync_http_ms,
            "full_sync_direct_ms": full_sync_direct_ms,
            "full_sync_http_bytes": http_bytes,
            "full_sync_direct_bytes": direct_bytes,
            "cursor_walk_http_ms": cursor_walk_http_ms,
            "deep_page_ratio": cursor_last_ms / cursor_first_ms,
            "deep_page_offset_ratio": offset_last_ms / offset_first_ms,
            "offset_first_page_ms": offset_first_ms,
            "offset_last_page_ms": offset_last_ms,
            "cursor_first_page_ms": cursor_first_ms,
            "cursor_last_page_ms": cursor_last_ms,
            "change_poll_ms": change_poll_ms,
            "declaration_post_ratio": writes.per_second / inserts,
            "declarations_per_second": writes.per_second,
            "declaration_requests": writes.requests,
            "declarations_accepted": writes.accepted,
            "declaration_statuses": writes.statuses,
            "p50_ms": writes.p50_ms,
            "p99_ms": writes.p99_ms,
            "database_inserts_per_second": inserts,
            "declaration_server_cpu_ms": writes.server_cpu_ms_per_request,
        }))
    }

    /// Builds declaration bodies: a `started` declaration for each enrolment of the provider's
    /// participants, with a delivery partner of the enrolment's cohort.
    async fn declaration_bodies(&self, connection: &mut Connection, limit: usize) -> Result<Vec<String>> {
        let partners = self.get_json(connection, "/api/v3/delivery-partners?page%5Bper_page%5D=1000").await?;
        let partner_of = |cohort: i64| -> Option<String> {
            partners["data"].as_array()?.iter().find_map(|partner| {
                let cohorts = partner["attributes"]["cohort"].as_array()?;
                cohorts
                    .iter()
                    .any(|value| value.as_i64() == Some(cohort))
                    .then(|| partner["id"].as_str().map(str::to_owned))?
            })
        };
        let date = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut bodies = Vec::new();
        let mut cursor = String::new();
        while bodies.len() < limit {
            let target = format!("/api/v3/participants/npq?page%5Bper_page%5D=1000&page%5Bcursor%5D={cursor}");
            let page = self.get_json(connection, &target).await?;
            let participants = page["data"].as_array().cloned().unwrap_or_default();
            if participants.is_empty() {
                break;
            }
            cursor = page["meta"]["next_cursor"].as_str().unwrap_or_default().to_owned();
            for participant in participants {
                for enrolment in participant["attributes"]["npq_enrolments"].as_array().cloned().unwrap_or_default() {
                    let cohort: i64 = enrolment["cohort"].as_str().and_then(|text| text.parse().ok()).unwrap_or(0);
                    let mut attributes = json!({
                        "participant_id": participant["id"],
                        "declaration_type": "started",
                        "declaration_date": date,
                        "course_identifier": enrolment["course_identifier"],
                    });
                    if let Some(partner) = partner_of(cohort) {
                        attributes["delivery_partner_id"] = json!(partner);
                    }
                    bodies.push(
                        json!({"data": {"type": "participant-declaration", "attributes": attributes}}).to_string(),
                    );
                }
            }
        }
        bodies.truncate(limit);
        Ok(bodies)
    }

    async fn declaration_writes(&self, connection: &mut Connection) -> Result<Writes> {
        let limit = if self.quick { 1_000 } else { 8_000 };
        let bodies = Arc::new(self.declaration_bodies(connection, limit).await?);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cpu_before = self.server_pid.map(processor_time).transpose()?;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let (bodies, next, address, token) =
                (bodies.clone(), next.clone(), self.address.clone(), self.token.clone());
            tasks.push(tokio::spawn(async move {
                let mut connection = Connection::open(&address).await?;
                let mut results = Vec::new();
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = bodies.get(index) else { break };
                    let sent = Instant::now();
                    let reply = connection.send("POST", "/api/v3/participant-declarations", &token, Some(body)).await?;
                    if reply.status != 200 && index == 0 {
                        eprintln!(
                            "bench: the first declaration returned {}: {}",
                            reply.status,
                            String::from_utf8_lossy(&reply.body)
                        );
                    }
                    results.push((reply.status, milliseconds(sent.elapsed())));
                }
                anyhow::Ok(results)
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.extend(task.await??);
        }
        let elapsed = start.elapsed();
        let cpu_after = self.server_pid.map(processor_time).transpose()?;
        let server_cpu = cpu_before.zip(cpu_after).map(|(before, after)| after.saturating_sub(before));
        let mut latencies: Vec<f64> = results.iter().map(|(_, latency)| *latency).collect();
        latencies.sort_by(f64::total_cmp);
        let mut statuses = std::collections::BTreeMap::new();
        for (status, _) in &results {
            *statuses.entry(status.to_string()).or_insert(0usize) += 1;
        }
        Ok(Writes {
            requests: results.len(),
            accepted: results.iter().filter(|(status, _)| *status == 200).count(),
            per_second: results.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            server_cpu_ms_per_request: server_cpu.map(|cpu| milliseconds(cpu) / results.len().max(1) as f64),
            statuses,
        })
    }

    /// Measures the database's own rate of single-row insert transactions from `WRITERS` clients.
    async fn database_inserts(&self, store: &Store, count: usize) -> Result<f64> {
        let db = store.connection().clone();
        let create = match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                "CREATE TABLE IF NOT EXISTS bench_inserts (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            }
            _ => {
                "CREATE TABLE IF NOT EXISTS bench_inserts (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            }
        };
        db.execute_unprepared(create).await?;
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let (db, next) = (db.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                    let txn = db.begin().await?;
                    txn.execute_unprepared(
                        "INSERT INTO bench_inserts (payload) VALUES ('a declaration-sized row of text')",
                    )
                    .await?;
                    txn.commit().await?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let per_second = count as f64 / start.elapsed().as_secs_f64().max(f64::EPSILON);
        db.execute_unprepared("DROP TABLE bench_inserts").await?;
        Ok(per_second)
    }
}

struct Writes {
    requests: usize,
    accepted: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Processor time the server spent per request, when its process id is known.
    server_cpu_ms_per_request: Option<f64>,
    statuses: std::collections::BTreeMap<String, usize>,
}
