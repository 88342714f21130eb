//! Byte sizes as people write them: `10GB`, `500MiB`, `1.5 gb`, `1234`.
//!
//! Decimal units are powers of 1000 and binary units powers of 1024, as W&B's
//! `wandb artifact cache cleanup` parses them (`10GB` = 10·10⁹ bytes). Units are case-insensitive
//! and may be separated from the number by spaces. Arithmetic is exact (integers, no floats), so
//! `1.5GB` is exactly 1,500,000,000 bytes; fractions of a byte are rounded down.

use std::fmt;
use std::str::FromStr;

/// A number of bytes, parsed from and displayed in human form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(u64);

/// Why a size was rejected. Every message shows the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseSizeError {
    /// Nothing was given.
    #[error("the size is empty; sizes look like 10GB, 500MiB or 1234")]
    Empty,
    /// A minus sign: a size cannot be negative.
    #[error("`{input}` is negative; sizes look like 10GB, 500MiB or 1234")]
    Negative {
        /// The rejected text.
        input: String,
    },
    /// The number part is not a decimal number.
    #[error("`{input}` does not start with a number; sizes look like 10GB, 500MiB or 1234")]
    Number {
        /// The rejected text.
        input: String,
    },
    /// The unit is not one of B, KB, MB, GB, TB, PB, EB, KiB, MiB, GiB, TiB, PiB, EiB.
    #[error(
        "`{unit}` in `{input}` is not a size unit; use B, KB, MB, GB, TB, PB, EB (powers of 1000) or KiB, MiB, GiB, TiB, PiB, EiB (powers of 1024), for example 10GB or 500MiB"
    )]
    Unit {
        /// The rejected text.
        input: String,
        /// The unit part.
        unit: String,
    },
    /// The size does not fit in 64 bits.
    #[error("`{input}` is too large; the largest size is 16EiB")]
    Overflow {
        /// The rejected text.
        input: String,
    },
}

const DECIMAL_UNITS: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
const BINARY_UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
/// Fraction digits beyond this are ignored (they are below a byte for every unit).
const MAX_FRACTION_DIGITS: usize = 20;

impl ByteSize {
    /// `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        Self(bytes)
    }

    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl From<u64> for ByteSize {
    fn from(bytes: u64) -> Self {
        Self(bytes)
    }
}

impl From<ByteSize> for u64 {
    fn from(size: ByteSize) -> Self {
        size.0
    }
}

fn multiplier(unit: &str) -> Option<u128> {
    if unit.is_empty() {
        return Some(1);
    }
    let position = |units: &[&str; 7]| {
        units
            .iter()
            .position(|candidate| candidate.eq_ignore_ascii_case(unit))
    };
    if let Some(power) = position(&DECIMAL_UNITS) {
        return Some(1000u128.pow(u32::try_from(power).ok()?));
    }
    position(&BINARY_UNITS).and_then(|power| Some(1024u128.pow(u32::try_from(power).ok()?)))
}

impl FromStr for ByteSize {
    type Err = ParseSizeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let owned = || input.to_owned();
        if text.is_empty() {
            return Err(ParseSizeError::Empty);
        }
        if text.starts_with('-') {
            return Err(ParseSizeError::Negative { input: owned() });
        }
        let text = text.strip_prefix('+').unwrap_or(text);
        let number_end = text
            .find(|char: char| !(char.is_ascii_digit() || char == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(number_end);
        let unit = unit.trim_start();
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(ParseSizeError::Number { input: owned() });
        }
        let multiplier = multiplier(unit).ok_or_else(|| ParseSizeError::Unit {
            input: owned(),
            unit: unit.to_owned(),
        })?;
        let overflow = || ParseSizeError::Overflow { input: owned() };
        let whole_value: u128 = if whole.is_empty() {
            0
        } else {
            // Leading zeros cannot overflow; strip them so `u128` parsing sees the real length.
            let significant = whole.trim_start_matches('0');
            if significant.len() > 30 {
                return Err(overflow());
            }
            if significant.is_empty() {
                0
            } else {
                significant.parse().map_err(|_| overflow())?
            }
        };
        let fraction = &fraction[..fraction.len().min(MAX_FRACTION_DIGITS)];
        let fraction_value: u128 = if fraction.is_empty() {
            0
        } else {
            let digits: u128 = fraction.parse().map_err(|_| overflow())?;
            let scale = 10u128.pow(u32::try_from(fraction.len()).map_err(|_| overflow())?);
            // digits < 10^20 and multiplier <= 1024^6 < 2^60, so this fits in 128 bits.
            digits * multiplier / scale
        };
        let bytes = whole_value
            .checked_mul(multiplier)
            .and_then(|bytes| bytes.checked_add(fraction_value))
            .and_then(|bytes| u64::try_from(bytes).ok())
            .ok_or_else(overflow)?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for ByteSize {
    /// Plain bytes below 1 KB, else the largest decimal unit with up to two decimals
    /// (`1.5 GB`, `10 GB`, `999 B`), the form `wandb artifact cache cleanup` reports in.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut unit = 0;
        let mut scale = 1u64;
        while unit + 1 < DECIMAL_UNITS.len() && self.0 / scale >= 1000 {
            unit += 1;
            scale *= 1000;
        }
        if unit == 0 {
            return write!(formatter, "{} B", self.0);
        }
        // Hundredths, rounded half up, in integers.
        let hundredths = (u128::from(self.0) * 100 + u128::from(scale) / 2) / u128::from(scale);
        let (whole, fraction) = (hundredths / 100, hundredths % 100);
        let name = DECIMAL_UNITS[unit];
        match fraction {
            0 => write!(formatter, "{whole} {name}"),
            fraction if fraction % 10 == 0 => write!(formatter, "{whole}.{} {name}", fraction / 10),
            fraction => write!(formatter, "{whole}.{fraction:02} {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn check(input: &str, expect: Result<u64, &str>) {
        let parsed = input.parse::<ByteSize>().map(ByteSize::bytes);
        match expect {
            Ok(bytes) => assert_eq!(parsed, Ok(bytes), "{input:?}"),
            Err(message) => {
                let error = parsed.expect_err(input).to_string();
                assert!(error.contains(message), "{input:?}: {error}");
            }
        }
    }

    #[test]
    fn parses_what_people_write() {
        check("1234", Ok(1234));
        check("0", Ok(0));
        check("10GB", Ok(10_000_000_000));
        check("10gb", Ok(10_000_000_000));
        check("10 GB", Ok(10_000_000_000));
        check(" 10 Gb ", Ok(10_000_000_000));
        check("500MiB", Ok(500 * 1024 * 1024));
        check("500 mib", Ok(500 * 1024 * 1024));
        check("1.5GB", Ok(1_500_000_000));
        check("1.5KiB", Ok(1536));
        check(".5KB", Ok(500));
        check("1.KB", Ok(1000));
        check("1.0001B", Ok(1));
        check("7B", Ok(7));
        check("1EB", Ok(1_000_000_000_000_000_000));
        check("15EiB", Ok(15 * 1024u64.pow(6)));
        check("18446744073709551615", Ok(u64::MAX));
        check("+5KB", Ok(5000));
    }

    #[test]
    fn rejects_with_a_clear_message() {
        check("", Err("empty"));
        check("   ", Err("empty"));
        check("-1GB", Err("negative"));
        check("GB", Err("does not start with a number"));
        check(".", Err("does not start with a number"));
        check("1.2.3GB", Err("does not start with a number"));
        check("10 gigs", Err("`gigs` in `10 gigs` is not a size unit"));
        check("10K", Err("not a size unit"));
        check("16EiB", Err("too large"));
        check("18446744073709551616", Err("too large"));
        check(&"9".repeat(60), Err("too large"));
    }

    #[test]
    fn displays_in_human_form() {
        let show = |bytes: u64| ByteSize(bytes).to_string();
        assert_eq!(show(0), "0 B");
        assert_eq!(show(999), "999 B");
        assert_eq!(show(1000), "1 KB");
        assert_eq!(show(1_500_000_000), "1.5 GB");
        assert_eq!(show(10_000_000_000), "10 GB");
        assert_eq!(show(1_234_567), "1.23 MB");
        assert_eq!(show(999_999), "1000 KB");
        assert_eq!(show(u64::MAX), "18.45 EB");
    }

    proptest! {
        #[test]
        fn plain_bytes_round_trip(bytes in any::<u64>()) {
            prop_assert_eq!(bytes.to_string().parse::<ByteSize>(), Ok(ByteSize(bytes)));
        }

        #[test]
        fn units_multiply_exactly(count in 0u64..100_000, unit in 0usize..7, binary in any::<bool>(), lower in any::<bool>()) {
            let (name, base) = if binary { (BINARY_UNITS[unit], 1024u128) } else { (DECIMAL_UNITS[unit], 1000u128) };
            let name = if lower { name.to_lowercase() } else { name.to_owned() };
            let expected = u128::from(count) * base.pow(unit as u32);
            let parsed = format!("{count}{name}").parse::<ByteSize>();
            match u64::try_from(expected) {
                Ok(expected) => prop_assert_eq!(parsed, Ok(ByteSize(expected))),
                Err(_) => {
                    let overflowed = matches!(parsed, Err(ParseSizeError::Overflow { .. }));
                    prop_assert!(overflowed);
                }
            }
        }

        #[test]
        fn display_parses_back_within_rounding(bytes in 0..u64::MAX / 2) {
            let shown = ByteSize(bytes).to_string();
            let parsed = shown.parse::<ByteSize>().unwrap().bytes();
            // Two decimals of the largest unit: within 0.5% (plus one unit of rounding).
            let error = parsed.abs_diff(bytes);
            prop_assert!(error <= bytes / 200 + 1, "{bytes} -> {shown} -> {parsed}");
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,30}") {
            let _ = text.parse::<ByteSize>();
        }
    }
}
