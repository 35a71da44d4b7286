//! Sandbox time travel: the `X-With-Server-Date` header makes one request run as if the current
//! time were the instant it names, so that lead providers can test date rules in the sandbox.
//!
//! The header sets a tokio task-local for the duration of the request, and [`RequestClock`], the
//! clock the services read, returns that instant while it is set. Work the request spawns onto
//! other tasks would read the real time; no service spawns tasks.

use npq_domain::Timestamp;
use npq_domain::ports::Clock;
use poem::Request;

use crate::error::ApiError;

/// Header that names the instant a sandbox request runs at, in RFC 3339.
pub const SERVER_DATE_HEADER: &str = "x-with-server-date";

tokio::task_local! {
    /// The instant the current request runs at, when its `X-With-Server-Date` header set one.
    static SERVER_DATE: Timestamp;
}

/// A clock that returns the instant of the current request's `X-With-Server-Date` header while
/// one is set, and otherwise the time of the clock it wraps.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestClock<C> {
    inner: C,
}

impl<C: Clock> RequestClock<C> {
    pub fn new(inner: C) -> Self {
        Self { inner }
    }
}

impl<C: Clock> Clock for RequestClock<C> {
    fn now(&self) -> Timestamp {
        SERVER_DATE.try_with(|instant| *instant).unwrap_or_else(|_| self.inner.now())
    }
}

/// Returns the instant the request's `X-With-Server-Date` header names, `None` without the
/// header, or a 400 when the value is not an RFC 3339 timestamp.
pub fn requested_server_date(request: &Request) -> Result<Option<Timestamp>, ApiError> {
    let Some(value) = request.headers().get(SERVER_DATE_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    chrono::DateTime::parse_from_rfc3339(text).map(|instant| Some(instant.to_utc())).map_err(|_| {
        ApiError::BadRequest(format!(
            "The X-With-Server-Date header '{}' is not an RFC 3339 timestamp; send one such as 2025-01-31T12:00:00Z.",
            text.chars().take(64).collect::<String>()
        ))
    })
}

/// Runs `future` with the current time of [`RequestClock`] set to `instant`.
pub async fn at_server_date<F: Future>(instant: Timestamp, future: F) -> F::Output {
    SERVER_DATE.scope(instant, future).await
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use npq_domain::testing::FixedClock;

    use super::*;

    fn instant(year: i32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(year, 3, 1, 12, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn clock_reads_the_request_instant_inside_the_scope() {
        let clock = RequestClock::new(FixedClock(instant(2026)));
        assert_eq!(clock.now(), instant(2026));
        let inside = at_server_date(instant(2030), async { clock.now() }).await;
        assert_eq!(inside, instant(2030));
        assert_eq!(clock.now(), instant(2026), "the instant applies only inside the scope");
    }

    #[test]
    fn header_is_parsed_as_rfc_3339() {
        let request = Request::builder().header(SERVER_DATE_HEADER, "2030-03-01T13:00:00+01:00").finish();
        assert_eq!(requested_server_date(&request), Ok(Some(instant(2030))));
        let request = Request::builder().finish();
        assert_eq!(requested_server_date(&request), Ok(None));
    }

    #[test]
    fn unparseable_header_is_a_bad_request() {
        let request = Request::builder().header(SERVER_DATE_HEADER, "next tuesday").finish();
        let Err(ApiError::BadRequest(detail)) = requested_server_date(&request) else {
            panic!("expected a bad request");
        };
        assert!(detail.contains("next tuesday"), "{detail}");
    }
}
