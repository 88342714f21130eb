//! When to retry a failed request and how long to wait: exponential backoff with jitter,
//! honouring the server's `Retry-After`.
//!
//! Retried: connection failures and timeouts, HTTP 408, 429 and 5xx, and problem codes the API
//! marks transient ([`cairn_api::ErrorCode::is_transient`]). Everything else (a 404, a refused
//! digest) fails at once, because repeating it cannot help.

use std::time::{Duration, SystemTime};

use crate::Error;

/// How often and how patiently requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The longest backoff (before jitter).
    pub max_backoff: Duration,
    /// The longest wait a `Retry-After` header may impose.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (for tests and for callers that retry themselves).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (0 for the first retry): `initial · 2^retry`, capped
    /// at `max_backoff`, of which the upper half is random (`jitter` in `[0, 1)`), so clients
    /// that failed together do not come back together. A `Retry-After` is honoured when longer,
    /// up to `max_retry_after`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let exponential = self
            .initial_backoff
            .saturating_mul(2_u32.saturating_pow(retry.min(16)))
            .min(self.max_backoff);
        let jitter = jitter.clamp(0.0, 1.0);
        let backoff = exponential / 2 + exponential.mul_f64(jitter / 2.0);
        match retry_after {
            Some(after) => backoff.max(after.min(self.max_retry_after)),
            None => backoff,
        }
    }
}

/// Whether an HTTP status is worth retrying.
pub(crate) fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

impl Error {
    /// Whether repeating the operation later may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Stalled { .. } => true,
            Self::Http { source, .. } => {
                source.is_timeout()
                    || source.is_connect()
                    || source.is_request()
                    || source.is_body()
            }
            Self::Server { code, status, .. } => {
                code.is_transient() || is_transient_status(*status)
            }
            _ => false,
        }
    }
}

/// A `Retry-After` value: delay seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A random number in `[0, 1)` without a random-number crate: the standard library seeds every
/// `RandomState` from the operating system's entropy.
pub(crate) fn jitter() -> f64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    // 53 random bits make every double in [0, 1) at that spacing equally likely.
    (hasher.finish() >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(retry: u32, retry_after: Option<u64>, jitter: f64, expect_ms: u64) {
        let policy = RetryPolicy::default();
        let delay = policy.delay(retry, retry_after.map(Duration::from_secs), jitter);
        assert_eq!(delay, Duration::from_millis(expect_ms), "retry {retry}");
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        check(0, None, 0.0, 100);
        check(0, None, 1.0, 200);
        check(1, None, 0.0, 200);
        check(2, None, 0.5, 600);
        check(4, None, 0.0, 1600);
        check(5, None, 0.0, 2500);
        check(5, None, 1.0, 5000);
        check(40, None, 0.0, 2500);
    }

    #[test]
    fn retry_after_is_honoured_within_limits() {
        check(0, Some(3), 0.0, 3000);
        check(5, Some(1), 1.0, 5000);
        check(0, Some(3600), 0.0, 60_000);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn transient_statuses() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!is_transient_status(status), "{status}");
        }
        let server = |code, status| Error::Server {
            code,
            status,
            detail: String::new(),
        };
        assert!(server(cairn_api::ErrorCode::StorageUnavailable, 503).is_transient());
        assert!(!server(cairn_api::ErrorCode::DigestMismatch, 422).is_transient());
        assert!(!server(cairn_api::ErrorCode::Unknown, 418).is_transient());
        assert!(server(cairn_api::ErrorCode::Unknown, 429).is_transient());
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..1000 {
            let value = jitter();
            assert!((0.0..1.0).contains(&value), "{value}");
        }
    }
}
