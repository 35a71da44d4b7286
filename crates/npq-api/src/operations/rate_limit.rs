//! Rate limits: fixed-window request counters per API token and per client address.
//!
//! The counters live in the server's memory, so each server process counts on its own and a
//! restart resets them. A window starts for every key at once, at multiples of the window's
//! length after the limiter was created; when a window ends, every counter of the ended window is
//! dropped, so memory contains at most the keys seen in one window.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most distinct keys one limiter counts in one window. Requests with further keys in that
/// window pass uncounted, so a flood of new addresses cannot exhaust memory.
pub const MAX_KEYS_PER_WINDOW: usize = 200_000;

/// A number of requests allowed in a window of time, written as `1000/5m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one window; at least 1.
    pub requests: u32,
    /// Length of the window; at least one second.
    pub window: Duration,
}

/// Error for text that is not a rate limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a rate limit; write requests per window as N/DURATION, such as 1000/5m, 50/30s or 10000/1h, or 'off'"
)]
pub struct RateLimitParseError(pub String);

impl RateLimit {
    /// Parses a rate limit such as `1000/5m`, or `off` for none. The window is a whole number of
    /// seconds (`s`), minutes (`m`) or hours (`h`); a bare number is seconds.
    pub fn parse_optional(text: &str) -> Result<Option<Self>, RateLimitParseError> {
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        text.parse().map(Some)
    }
}

impl FromStr for RateLimit {
    type Err = RateLimitParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || RateLimitParseError(text.to_owned());
        let (requests, window) = text.trim().split_once('/').ok_or_else(invalid)?;
        let requests: u32 = digits(requests.trim()).ok_or_else(invalid)?;
        let window = window.trim();
        let (amount, unit_seconds) = match window.char_indices().last() {
            Some((index, 's')) => (&window[..index], 1),
            Some((index, 'm')) => (&window[..index], 60),
            Some((index, 'h')) => (&window[..index], 3600),
            _ => (window, 1),
        };
        let amount: u64 = digits(amount).ok_or_else(invalid)?;
        let seconds = amount.checked_mul(unit_seconds).ok_or_else(invalid)?;
        if requests == 0 || seconds == 0 {
            return Err(invalid());
        }
        Ok(Self { requests, window: Duration::from_secs(seconds) })
    }
}

/// Parses a number written with ASCII digits only (no sign, no spaces).
fn digits<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for RateLimit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.window.as_secs();
        if seconds.is_multiple_of(3600) {
            write!(formatter, "{}/{}h", self.requests, seconds / 3600)
        } else if seconds.is_multiple_of(60) {
            write!(formatter, "{}/{}m", self.requests, seconds / 60)
        } else {
            write!(formatter, "{}/{}s", self.requests, seconds)
        }
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit.
    Allowed,
    /// Over the limit. `first` is true for the first refusal of this key in this window, so that
    /// only one log line is written per key and window.
    Refused { retry_after: Duration, first: bool },
}

/// Fixed-window counters for one [`RateLimit`], keyed by a hash of the caller's token or address.
#[derive(Debug)]
pub struct FixedWindowLimiter {
    limit: RateLimit,
    started: Instant,
    hasher: RandomState,
    counters: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    window: u64,
    counts: HashMap<u64, u32>,
    /// Whether a request passed uncounted in this window because the table was full.
    overflowed: bool,
}

impl FixedWindowLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self { limit, started: Instant::now(), hasher: RandomState::new(), counters: Mutex::new(Counters::default()) }
    }

    /// Returns the limit this limiter enforces.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Counts one request for `key` now.
    pub fn admit(&self, key: &[u8]) -> Admission {
        self.admit_at(key, Instant::now())
    }

    /// Counts one request for `key` at `now`. Keys are hashed with a random key per limiter, so
    /// the table contains no token and collisions cannot be chosen by a client.
    pub fn admit_at(&self, key: &[u8], now: Instant) -> Admission {
        let window_length = self.limit.window.as_nanos().max(1);
        let elapsed = now.saturating_duration_since(self.started).as_nanos();
        let window = u64::try_from(elapsed / window_length).unwrap_or(u64::MAX);
        let window_end = self.started + self.limit.window.saturating_mul(u32::try_from(window + 1).unwrap_or(u32::MAX));
        let retry_after = window_end.saturating_duration_since(now);

        let hash = self.hasher.hash_one(key);
        let Ok(mut counters) = self.counters.lock() else {
            // A panic while the lock was held leaves the counts unknown; letting requests through
            // is safer than refusing every client.
            return Admission::Allowed;
        };
        if counters.window != window {
            counters.window = window;
            counters.counts.clear();
            counters.overflowed = false;
        }
        if !counters.counts.contains_key(&hash) && counters.counts.len() >= MAX_KEYS_PER_WINDOW {
            if !counters.overflowed {
                counters.overflowed = true;
                tracing::warn!(
                    max_keys = MAX_KEYS_PER_WINDOW,
                    "the rate limiter is tracking its maximum number of clients; new clients pass uncounted until the window ends"
                );
            }
            return Admission::Allowed;
        }
        let count = counters.counts.entry(hash).or_insert(0);
        *count = count.saturating_add(1);
        if *count <= self.limit.requests {
            Admission::Allowed
        } else {
            Admission::Refused { retry_after, first: *count == self.limit.requests.saturating_add(1) }
        }
    }

    /// Returns the number of keys counted in the current window.
    pub fn tracked_keys(&self) -> usize {
        self.counters.lock().map(|counters| counters.counts.len()).unwrap_or(0)
    }
}

/// Rounds a wait up to whole seconds, at least 1, for a `Retry-After` header.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(text: &str) -> RateLimit {
        text.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn rate_limits_parse_with_units() {
        assert_eq!(limit("1000/5m"), RateLimit { requests: 1000, window: Duration::from_secs(300) });
        assert_eq!(limit(" 50 / 30s "), RateLimit { requests: 50, window: Duration::from_secs(30) });
        assert_eq!(limit("10/1h").window, Duration::from_secs(3600));
        assert_eq!(limit("10/90").window, Duration::from_secs(90));
        assert_eq!(RateLimit::parse_optional("off"), Ok(None));
    }

    #[test]
    fn malformed_rate_limits_are_rejected() {
        for text in ["", "1000", "0/5m", "10/0s", "-1/5m", "10/5d", "ten/5m", "10/m", "+10/5m", "10/5m/2"] {
            assert_eq!(text.parse::<RateLimit>(), Err(RateLimitParseError(text.to_owned())), "{text:?}");
        }
    }

    #[test]
    fn rate_limits_display_in_the_largest_whole_unit() {
        for text in ["1000/5m", "10/1h", "50/30s", "7/90s"] {
            assert_eq!(limit(text).to_string(), text);
        }
    }

    #[test]
    fn limiter_refuses_past_the_limit_within_a_window() {
        let limiter = FixedWindowLimiter::new(limit("2/5m"));
        let now = limiter.started;
        assert_eq!(limiter.admit_at(b"a", now), Admission::Allowed);
        assert_eq!(limiter.admit_at(b"a", now), Admission::Allowed);
        assert!(matches!(limiter.admit_at(b"a", now), Admission::Refused { first: true, .. }));
        assert!(matches!(limiter.admit_at(b"a", now), Admission::Refused { first: false, .. }));
        assert_eq!(limiter.admit_at(b"b", now), Admission::Allowed, "each key has its own counter");
    }

    #[test]
    fn refusal_says_when_the_window_ends() {
        let limiter = FixedWindowLimiter::new(limit("1/5m"));
        let now = limiter.started + Duration::from_secs(100);
        limiter.admit_at(b"a", now);
        let Admission::Refused { retry_after, .. } = limiter.admit_at(b"a", now) else {
            panic!("the second request is refused");
        };
        assert_eq!(retry_after, Duration::from_secs(200));
        assert_eq!(retry_after_seconds(retry_after), 200);
    }

    #[test]
    fn new_window_drops_old_counters() {
        let limiter = FixedWindowLimiter::new(limit("1/5m"));
        let start = limiter.started;
        limiter.admit_at(b"a", start);
        limiter.admit_at(b"b", start);
        assert_eq!(limiter.tracked_keys(), 2);
        let next_window = start + Duration::from_secs(300);
        assert_eq!(limiter.admit_at(b"a", next_window), Admission::Allowed);
        assert_eq!(limiter.tracked_keys(), 1, "the ended window's counters are dropped");
    }

    #[test]
    fn retry_after_rounds_up_to_a_whole_second() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
    }
}
