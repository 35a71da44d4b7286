//! Request metrics in the Prometheus text exposition format (version 0.0.4).
//!
//! Requests are counted by method, route template and status, and timed by route template in one
//! histogram. A route template is the path with its parameters named, such as
//! `/api/v3/npq-applications/:param0` (poem-openapi names path parameters by position). Route
//! templates, not paths, keep the number of series bounded: a path that matches no route counts as
//! `unmatched`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use npq_domain::ports::PoolStatus;

/// The content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Default)]
struct Histogram {
    /// Observations at or below each bound of [`LATENCY_BUCKETS`], not cumulative.
    buckets: [u64; LATENCY_BUCKETS.len()],
    sum_seconds: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Registry {
    requests: BTreeMap<(&'static str, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    rate_limited: BTreeMap<&'static str, u64>,
}

/// The server's request metrics. Shared by the middleware that records them and the `/metrics`
/// route that reports them.
#[derive(Debug, Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

/// Returns the method as a label, folding methods outside the standard set into `OTHER`.
fn method_label(method: &poem::http::Method) -> &'static str {
    use poem::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

impl Metrics {
    /// Records one completed request.
    pub fn record_request(&self, method: &poem::http::Method, route: &str, status: u16, duration: Duration) {
        let Ok(mut registry) = self.registry.lock() else { return };
        *registry.requests.entry((method_label(method), route.to_owned(), status)).or_insert(0) += 1;
        let histogram = registry.latency.entry(route.to_owned()).or_default();
        let seconds = duration.as_secs_f64();
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
            histogram.buckets[bucket] += 1;
        }
        histogram.sum_seconds += seconds;
        histogram.count += 1;
    }

    /// Records one request refused by a rate limit: `token` or `address`.
    pub fn record_rate_limited(&self, limit: &'static str) {
        let Ok(mut registry) = self.registry.lock() else { return };
        *registry.rate_limited.entry(limit).or_insert(0) += 1;
    }

    /// Renders every metric, with the database pool's figures when `pool` is given.
    pub fn render(&self, pool: Option<PoolStatus>) -> String {
        let mut output = String::new();
        let Ok(registry) = self.registry.lock() else { return output };

        output
            .push_str("# HELP npq_http_requests_total HTTP requests answered, by method, route template and status.\n");
        output.push_str("# TYPE npq_http_requests_total counter\n");
        for ((method, route, status), count) in &registry.requests {
            let _ = writeln!(
                output,
                "npq_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape_label(route)
            );
        }

        output.push_str(
            "# HELP npq_http_request_duration_seconds Time from receiving a request to sending its response headers, by route template.\n",
        );
        output.push_str("# TYPE npq_http_request_duration_seconds histogram\n");
        for (route, histogram) in &registry.latency {
            let route = escape_label(route);
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    output,
                    "npq_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = histogram.count;
            let _ =
                writeln!(output, "npq_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(
                output,
                "npq_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum_seconds
            );
            let _ = writeln!(output, "npq_http_request_duration_seconds_count{{route=\"{route}\"}} {count}");
        }

        output.push_str(
            "# HELP npq_rate_limited_requests_total Requests refused with 429, by the limit that refused them.\n",
        );
        output.push_str("# TYPE npq_rate_limited_requests_total counter\n");
        for (limit, count) in &registry.rate_limited {
            let _ = writeln!(output, "npq_rate_limited_requests_total{{limit=\"{limit}\"}} {count}");
        }

        if let Some(pool) = pool {
            output.push_str("# HELP npq_database_pool_connections Open database connections, idle or in use.\n");
            output.push_str("# TYPE npq_database_pool_connections gauge\n");
            let in_use = pool.open.saturating_sub(pool.idle);
            let _ = writeln!(output, "npq_database_pool_connections{{state=\"idle\"}} {}", pool.idle);
            let _ = writeln!(output, "npq_database_pool_connections{{state=\"in_use\"}} {in_use}");
            output.push_str("# HELP npq_database_pool_max_connections Maximum number of connections the pool opens.\n");
            output.push_str("# TYPE npq_database_pool_max_connections gauge\n");
            let _ = writeln!(output, "npq_database_pool_max_connections {}", pool.max);
        }
        output
    }
}

/// Escapes a label value as the text format requires: backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use poem::http::Method;

    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let metrics = Metrics::default();
        metrics.record_request(&Method::GET, "/api/v3/npq-applications", 200, Duration::from_millis(3));
        metrics.record_request(&Method::GET, "/api/v3/npq-applications", 200, Duration::from_millis(30));
        metrics.record_request(&Method::GET, UNMATCHED_ROUTE, 404, Duration::from_millis(1));
        let text = metrics.render(None);
        assert!(
            text.contains(r#"npq_http_requests_total{method="GET",route="/api/v3/npq-applications",status="200"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"npq_http_requests_total{method="GET",route="unmatched",status="404"} 1"#), "{text}");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.record_request(&Method::GET, "/health", 200, Duration::from_millis(3));
        metrics.record_request(&Method::GET, "/health", 200, Duration::from_millis(30));
        let text = metrics.render(None);
        assert!(text.contains(r#"npq_http_request_duration_seconds_bucket{route="/health",le="0.005"} 1"#), "{text}");
        assert!(text.contains(r#"npq_http_request_duration_seconds_bucket{route="/health",le="0.05"} 2"#), "{text}");
        assert!(text.contains(r#"npq_http_request_duration_seconds_bucket{route="/health",le="+Inf"} 2"#), "{text}");
        assert!(text.contains(r#"npq_http_request_duration_seconds_count{route="/health"} 2"#), "{text}");
    }

    #[test]
    fn pool_figures_are_reported_when_known() {
        let metrics = Metrics::default();
        let text = metrics.render(Some(PoolStatus { open: 3, idle: 1, max: 16 }));
        assert!(text.contains(r#"npq_database_pool_connections{state="in_use"} 2"#), "{text}");
        assert!(text.contains("npq_database_pool_max_connections 16"), "{text}");
        assert!(!Metrics::default().render(None).contains("npq_database_pool"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn unusual_methods_share_one_label() {
        let method = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&method), "OTHER");
    }
}
