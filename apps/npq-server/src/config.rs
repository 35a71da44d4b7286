//! Server configuration: command-line flags, environment variables and an optional TOML file,
//! merged and checked once at start.
//!
//! A flag wins over its environment variable (clap reads both), and either wins over the file.
//! Every value is validated before the server starts, and an invalid one stops it with a message
//! that names the value, where it came from and the expected form.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use npq_api::HttpOptions;
use npq_api::operations::rate_limit::RateLimit;
use npq_domain::declaration::SequencingFrom;
use npq_domain::network::IpNetwork;
use serde::Deserialize;

/// Address the server listens on when none is configured.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// Settings read from the `--config` file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Same as `--database-url`.
    pub database_url: Option<String>,
    /// Same as `--secret`. Keep the file readable by the server's user only.
    pub secret: Option<String>,
    /// Same as `--log-format`: `text` or `json`.
    pub log_format: Option<String>,
    /// Same as `serve --bind`.
    pub bind: Option<String>,
    /// Same as `serve --trusted-proxy`, as a list.
    pub trusted_proxies: Option<Vec<String>>,
    /// Same as `serve --rate-limit-per-token`, such as `"1000/5m"` or `"off"`.
    pub rate_limit_per_token: Option<String>,
    /// Same as `serve --rate-limit-per-ip`.
    pub rate_limit_per_ip: Option<String>,
    /// Same as `serve --request-timeout`, in seconds.
    pub request_timeout: Option<u64>,
    /// Same as `serve --max-body-bytes`.
    pub max_body_bytes: Option<usize>,
    /// Same as `serve --sandbox`.
    pub sandbox: Option<bool>,
    /// Same as `serve --declaration-order-from`.
    pub declaration_order_from: Option<u16>,
    /// Same as `serve --deadline-job-interval`, in seconds; 0 turns the job off.
    pub deadline_job_interval: Option<u64>,
}

impl FileConfig {
    /// Reads and parses the TOML file at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("the configuration file {} is invalid: {error}", path.display()))
    }

    /// Reads the file when a path is given, and returns an empty configuration otherwise.
    pub fn read_optional(path: Option<&PathBuf>) -> Result<Self> {
        path.map(|path| Self::read(path)).transpose().map(Option::unwrap_or_default)
    }
}

/// The format of log lines on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the request's span fields.
    Json,
}

/// Returns the log format from the flag or environment, else the file, else text.
pub fn log_format(flag: Option<LogFormat>, file: &FileConfig) -> Result<LogFormat> {
    if let Some(format) = flag {
        return Ok(format);
    }
    match file.log_format.as_deref().map(str::trim) {
        None => Ok(LogFormat::Text),
        Some(text) if text.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
        Some(text) if text.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
        Some(text) => bail!("log_format '{text}' in the configuration file is invalid; use 'text' or 'json'"),
    }
}

/// The `serve` settings as given on the command line or in the environment, before the file and
/// the defaults fill the gaps.
#[derive(Debug, Default, Clone)]
pub struct ServeSettings {
    pub bind: Option<String>,
    pub trusted_proxies: Vec<String>,
    pub rate_limit_per_token: Option<String>,
    pub rate_limit_per_ip: Option<String>,
    pub request_timeout: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub sandbox: bool,
    pub sandbox_delay_header: bool,
    pub declaration_order_from: Option<u16>,
    pub deadline_job_interval: Option<u64>,
}

/// The checked `serve` configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub bind: SocketAddr,
    pub trusted_proxies: Vec<IpNetwork>,
    pub rate_limit_per_token: Option<RateLimit>,
    pub rate_limit_per_ip: Option<RateLimit>,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    pub sandbox: bool,
    pub sandbox_delay_header: bool,
    /// The first cohort start year whose declarations must come in milestone order.
    pub declaration_order_from: SequencingFrom,
    /// Time between runs of the statement deadline job, or `None` when it is off.
    pub deadline_job_interval: Option<Duration>,
}

/// Seconds between runs of the statement deadline job when none is configured: one hour.
pub const DEFAULT_DEADLINE_JOB_INTERVAL_SECONDS: u64 = 3600;

/// Minimum interval of the deadline job, in seconds. Each run reads every open statement, and
/// deadlines are whole days, so a shorter interval would load the database for no gain.
pub const MIN_DEADLINE_JOB_INTERVAL_SECONDS: u64 = 60;

/// Maximum interval of the deadline job, in seconds: one day. A statement whose deadline has
/// passed then waits at most one day for the next run while the server runs.
pub const MAX_DEADLINE_JOB_INTERVAL_SECONDS: u64 = 86_400;

impl ServeConfig {
    /// Merges the command line and environment with the file and the defaults, and checks every
    /// value.
    pub fn resolve(settings: ServeSettings, file: &FileConfig) -> Result<Self> {
        let (bind_text, bind_source) = pick(settings.bind, "--bind or NPQ_BIND", file.bind.clone(), "bind")
            .unwrap_or_else(|| (DEFAULT_BIND.to_owned(), "the default"));
        let bind: SocketAddr = bind_text.trim().parse().map_err(|_| {
            anyhow::anyhow!("the listen address '{bind_text}' from {bind_source} is invalid; write an IP address and port such as 127.0.0.1:8080 or [::]:8080")
        })?;

        let (proxy_texts, proxy_source) = if settings.trusted_proxies.is_empty() {
            (file.trusted_proxies.clone().unwrap_or_default(), "trusted_proxies in the configuration file")
        } else {
            (settings.trusted_proxies, "--trusted-proxy or NPQ_TRUSTED_PROXIES")
        };
        let trusted_proxies = proxy_texts
            .iter()
            .filter(|text| !text.trim().is_empty())
            .map(|text| {
                text.parse::<IpNetwork>()
                    .map_err(|error| anyhow::anyhow!("invalid trusted proxy in {proxy_source}: {error}"))
            })
            .collect::<Result<Vec<_>>>()?;

        let rate_limit_per_token = rate_limit(
            pick(
                settings.rate_limit_per_token,
                "--rate-limit-per-token or NPQ_RATE_LIMIT_PER_TOKEN",
                file.rate_limit_per_token.clone(),
                "rate_limit_per_token",
            ),
            npq_api::operations::DEFAULT_RATE_LIMIT_PER_TOKEN,
        )?;
        let rate_limit_per_ip = rate_limit(
            pick(
                settings.rate_limit_per_ip,
                "--rate-limit-per-ip or NPQ_RATE_LIMIT_PER_IP",
                file.rate_limit_per_ip.clone(),
                "rate_limit_per_ip",
            ),
            npq_api::operations::DEFAULT_RATE_LIMIT_PER_ADDRESS,
        )?;

        let timeout_seconds = settings
            .request_timeout
            .or(file.request_timeout)
            .unwrap_or(npq_api::operations::DEFAULT_REQUEST_TIMEOUT.as_secs());
        if !(1..=3600).contains(&timeout_seconds) {
            bail!("the request timeout of {timeout_seconds} seconds is invalid; give 1 to 3600 seconds");
        }

        let max_body_bytes = settings.max_body_bytes.or(file.max_body_bytes).unwrap_or(npq_api::body::MAX_BODY_BYTES);
        if !(1..=npq_api::body::MAX_BODY_BYTES).contains(&max_body_bytes) {
            bail!(
                "the maximum body size of {max_body_bytes} bytes is invalid; give 1 to {} bytes, the most the JSON reader accepts",
                npq_api::body::MAX_BODY_BYTES
            );
        }

        let interval_seconds = settings
            .deadline_job_interval
            .or(file.deadline_job_interval)
            .unwrap_or(DEFAULT_DEADLINE_JOB_INTERVAL_SECONDS);
        let deadline_job_interval = match interval_seconds {
            0 => None,
            seconds if (MIN_DEADLINE_JOB_INTERVAL_SECONDS..=MAX_DEADLINE_JOB_INTERVAL_SECONDS).contains(&seconds) => {
                Some(Duration::from_secs(seconds))
            }
            seconds => bail!(
                "the deadline job interval of {seconds} seconds is invalid; give {MIN_DEADLINE_JOB_INTERVAL_SECONDS} to {MAX_DEADLINE_JOB_INTERVAL_SECONDS} seconds, or 0 to turn the job off"
            ),
        };

        let sandbox = settings.sandbox || file.sandbox.unwrap_or(false);
        if settings.sandbox_delay_header && !sandbox {
            bail!("--sandbox-delay-header works only in sandbox mode; add --sandbox");
        }
        let declaration_order_from = settings
            .declaration_order_from
            .or(file.declaration_order_from)
            .map_or_else(SequencingFrom::default, SequencingFrom);
        if !(2021..=2100).contains(&declaration_order_from.0) {
            bail!(
                "the declaration order start year {} is invalid; give a cohort start year from 2021, or 2100 to turn the rule off",
                declaration_order_from.0
            );
        }
        Ok(Self {
            declaration_order_from,
            bind,
            trusted_proxies,
            rate_limit_per_token,
            rate_limit_per_ip,
            request_timeout: Duration::from_secs(timeout_seconds),
            max_body_bytes,
            sandbox,
            sandbox_delay_header: settings.sandbox_delay_header,
            deadline_job_interval,
        })
    }

    /// Returns the HTTP options for these settings, without a database.
    pub fn http_options(&self) -> HttpOptions {
        HttpOptions {
            trusted_proxies: self.trusted_proxies.clone(),
            rate_limit_per_token: self.rate_limit_per_token,
            rate_limit_per_address: self.rate_limit_per_ip,
            max_body_bytes: self.max_body_bytes,
            request_timeout: self.request_timeout,
            sandbox: self.sandbox,
            sandbox_delay_header: self.sandbox_delay_header,
            database: None,
        }
    }
}

/// Returns the command-line or environment value with its source, else the file's.
fn pick(
    given: Option<String>,
    given_source: &'static str,
    from_file: Option<String>,
    file_key: &'static str,
) -> Option<(String, &'static str)> {
    match (given, from_file) {
        (Some(value), _) => Some((value, given_source)),
        (None, Some(value)) => Some((value, file_key_source(file_key))),
        (None, None) => None,
    }
}

fn file_key_source(key: &'static str) -> &'static str {
    match key {
        "bind" => "bind in the configuration file",
        "rate_limit_per_token" => "rate_limit_per_token in the configuration file",
        "rate_limit_per_ip" => "rate_limit_per_ip in the configuration file",
        _ => "the configuration file",
    }
}

fn rate_limit(value: Option<(String, &'static str)>, default: RateLimit) -> Result<Option<RateLimit>> {
    match value {
        None => Ok(Some(default)),
        Some((text, source)) => {
            RateLimit::parse_optional(&text).map_err(|error| anyhow::anyhow!("invalid rate limit in {source}: {error}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(settings: ServeSettings, file: &str) -> Result<ServeConfig> {
        let file: FileConfig = toml::from_str(file).expect("valid TOML");
        ServeConfig::resolve(settings, &file)
    }

    #[test]
    fn defaults_apply_without_settings() {
        let config = resolve(ServeSettings::default(), "").unwrap();
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert_eq!(config.rate_limit_per_token.map(|limit| limit.to_string()).as_deref(), Some("1000/5m"));
        assert_eq!(config.rate_limit_per_ip.map(|limit| limit.to_string()).as_deref(), Some("3000/5m"));
        assert!(config.trusted_proxies.is_empty());
        assert!(!config.sandbox);
        assert_eq!(config.deadline_job_interval, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn deadline_job_interval_is_checked() {
        let off = ServeSettings { deadline_job_interval: Some(0), ..ServeSettings::default() };
        assert_eq!(resolve(off, "").unwrap().deadline_job_interval, None);
        let from_file = resolve(ServeSettings::default(), "deadline_job_interval = 600").unwrap();
        assert_eq!(from_file.deadline_job_interval, Some(Duration::from_secs(600)));
        for seconds in [59, 86_401] {
            let settings = ServeSettings { deadline_job_interval: Some(seconds), ..ServeSettings::default() };
            let message = resolve(settings, "").unwrap_err().to_string();
            assert!(message.contains("deadline job interval"), "{message}");
        }
    }

    #[test]
    fn file_fills_what_flags_leave_out() {
        let settings = ServeSettings { rate_limit_per_token: Some("10/1m".to_owned()), ..ServeSettings::default() };
        let file = r#"
            bind = "0.0.0.0:9000"
            trusted_proxies = ["10.0.0.0/8", "2001:db8::1"]
            rate_limit_per_token = "99/5m"
            rate_limit_per_ip = "off"
            request_timeout = 5
            sandbox = true
        "#;
        let config = resolve(settings, file).unwrap();
        assert_eq!(config.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(
            config.rate_limit_per_token.map(|limit| limit.to_string()).as_deref(),
            Some("10/1m"),
            "the flag wins"
        );
        assert_eq!(config.rate_limit_per_ip, None);
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert!(config.sandbox);
        assert_eq!(config.declaration_order_from, SequencingFrom::default());
    }

    #[test]
    fn declaration_order_year_comes_from_flag_then_file() {
        let from_file = resolve(ServeSettings::default(), "declaration_order_from = 2026").unwrap();
        assert_eq!(from_file.declaration_order_from, SequencingFrom(2026));
        let settings = ServeSettings { declaration_order_from: Some(2100), ..ServeSettings::default() };
        let from_flag = resolve(settings, "declaration_order_from = 2026").unwrap();
        assert_eq!(from_flag.declaration_order_from, SequencingFrom(2100));
    }

    #[test]
    fn bad_values_are_reported_with_their_source() {
        let cases = [
            (
                ServeSettings { trusted_proxies: vec!["10.0.0.0/33".to_owned()], ..ServeSettings::default() },
                "",
                "--trusted-proxy",
            ),
            (
                ServeSettings { rate_limit_per_ip: Some("lots".to_owned()), ..ServeSettings::default() },
                "",
                "NPQ_RATE_LIMIT_PER_IP",
            ),
            (ServeSettings { bind: Some("localhost".to_owned()), ..ServeSettings::default() }, "", "listen address"),
            (
                ServeSettings::default(),
                "rate_limit_per_token = \"5 per minute\"",
                "rate_limit_per_token in the configuration file",
            ),
            (ServeSettings::default(), "request_timeout = 0", "request timeout"),
            (ServeSettings { sandbox_delay_header: true, ..ServeSettings::default() }, "", "--sandbox"),
            (ServeSettings { declaration_order_from: Some(1999), ..ServeSettings::default() }, "", "1999"),
            (ServeSettings::default(), "declaration_order_from = 2200", "2200"),
        ];
        for (settings, file, expected) in cases {
            let message = resolve(settings, file).unwrap_err().to_string();
            assert!(message.contains(expected), "{message:?} should mention {expected:?}");
        }
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        assert!(toml::from_str::<FileConfig>("rate_limit = \"1/5m\"").is_err());
    }

    #[test]
    fn log_format_comes_from_flag_then_file() {
        let file: FileConfig = toml::from_str("log_format = \"json\"").unwrap();
        assert_eq!(log_format(None, &file).unwrap(), LogFormat::Json);
        assert_eq!(log_format(Some(LogFormat::Text), &file).unwrap(), LogFormat::Text);
        let bad: FileConfig = toml::from_str("log_format = \"xml\"").unwrap();
        assert!(log_format(None, &bad).is_err());
    }
}
