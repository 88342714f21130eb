//! The service's clock: what "now" is for rules that depend on time (TTL expiry, key expiry).
//!
//! It is the system clock, shifted by an offset that only an *adjustable* clock lets anyone
//! change — tests (and `cairn server --test-clock`) move time forward instead of waiting.
//! Record timestamps (`created_at`, ...) are written by SQLite from the system clock; rules
//! compare them with [`Clock::now_text`], so moving the clock forward makes things expire.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// The service's notion of now.
#[derive(Debug, Default)]
pub struct Clock {
    /// Milliseconds added to the system clock.
    offset_ms: AtomicI64,
    /// Whether [`Clock::advance`] is allowed.
    adjustable: bool,
}

impl Clock {
    /// The system clock, which nobody can move.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock that tests may move forward with [`Clock::advance`].
    pub fn adjustable() -> Self {
        Self {
            offset_ms: AtomicI64::new(0),
            adjustable: true,
        }
    }

    /// Whether this clock can be moved.
    pub fn is_adjustable(&self) -> bool {
        self.adjustable
    }

    /// Moves the clock forward by `by`; refused on the system clock. Answers the offset from
    /// the system clock afterwards.
    pub fn advance(&self, by: Duration) -> Result<Duration, Error> {
        if !self.adjustable {
            return Err(Error::bad_request(
                "this server's clock cannot be moved; start it with `--test-clock` (tests only)",
            ));
        }
        let by = i64::try_from(by.as_millis())
            .map_err(|_| Error::bad_request("that is too far to move the clock"))?;
        let after = self
            .offset_ms
            .fetch_add(by, Ordering::SeqCst)
            .saturating_add(by);
        Ok(Duration::from_millis(u64::try_from(after).unwrap_or(0)))
    }

    /// Now, as milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            });
        system.saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Now as RFC 3339 UTC text with milliseconds, the form the database stores
    /// (`2026-12-07T01:23:45.678Z`), so the two compare as text.
    pub fn now_text(&self) -> String {
        rfc3339_ms(self.now_ms())
    }

    /// Whole seconds from now until a stored timestamp (`2026-12-07T01:23:45.678Z`): 0 once it
    /// has passed, `None` for text that is not such a timestamp.
    pub fn seconds_until(&self, timestamp: &str) -> Option<u64> {
        let at = parse_rfc3339_ms(timestamp)?;
        Some(u64::try_from(at.saturating_sub(self.now_ms()) / 1000).unwrap_or(0))
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (hours, rest) = (in_day / 3_600_000, in_day % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z")
}

/// Milliseconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS[.fff]Z`, as the database stores
/// timestamps; `None` for anything else.
pub(crate) fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-');
    let year: i64 = date.next()?.parse().ok()?;
    let month: i64 = date.next()?.parse().ok()?;
    let day: i64 = date.next()?.parse().ok()?;
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut hms = hms.splitn(3, ':');
    let hours: i64 = hms.next()?.parse().ok()?;
    let minutes: i64 = hms.next()?.parse().ok()?;
    let seconds: i64 = hms.next()?.parse().ok()?;
    let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
    let millis: i64 = digits.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hours > 23
        || minutes > 59
        || seconds > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a calendar date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_sqlite() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_796_606_625_678), "2026-12-07T01:23:45.678Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [0, 951_782_400_000, 1_796_606_625_678, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms));
        }
        assert_eq!(
            parse_rfc3339_ms("2026-12-07T01:23:45Z"),
            Some(1_796_606_625_000)
        );
        assert_eq!(parse_rfc3339_ms("2026-13-07T01:23:45Z"), None);
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn only_an_adjustable_clock_moves() {
        assert!(Clock::system().advance(Duration::from_secs(1)).is_err());
        let clock = Clock::adjustable();
        let before = clock.now_ms();
        let offset = clock
            .advance(Duration::from_secs(86_400))
            .unwrap_or_default();
        assert_eq!(offset, Duration::from_secs(86_400));
        assert!(clock.now_ms() - before >= 86_400_000);
    }
}
