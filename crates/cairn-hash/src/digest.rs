//! Fixed-size digest values and their text forms.
//!
//! Parsing is strict on purpose: a digest read from a manifest, a URL or a cache path either
//! round-trips to exactly the same text or is rejected. That keeps two spellings of one digest
//! from ever naming two different objects.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a digest string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseDigestError {
    /// The text is not canonical padded standard base64 of the right number of bytes.
    #[error(
        "`{input}` is not a base64 {algorithm} digest ({expected} characters, standard alphabet, `=` padding)"
    )]
    Base64 {
        /// The algorithm whose digest was expected.
        algorithm: &'static str,
        /// The rejected text.
        input: String,
        /// The length a valid digest has.
        expected: usize,
    },
    /// The text is not hex of the right number of bytes.
    #[error("`{input}` is not a hex {algorithm} digest ({expected} hex digits)")]
    Hex {
        /// The algorithm whose digest was expected.
        algorithm: &'static str,
        /// The rejected text.
        input: String,
        /// The length a valid digest has.
        expected: usize,
    },
}

/// Longest input echoed back in an error message; longer inputs are cut with `...`.
const ECHO_LIMIT: usize = 80;

fn echo(input: &str) -> String {
    match input.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}...", &input[..cut]),
        None => input.to_owned(),
    }
}

fn decode_base64<const N: usize>(
    algorithm: &'static str,
    input: &str,
) -> Result<[u8; N], ParseDigestError> {
    let expected = N.div_ceil(3) * 4;
    let error = || ParseDigestError::Base64 {
        algorithm,
        input: echo(input),
        expected,
    };
    if input.len() != expected {
        return Err(error());
    }
    // The STANDARD engine requires canonical padding and rejects non-zero trailing bits, so only
    // the one canonical spelling of each digest is accepted.
    let bytes = STANDARD.decode(input).map_err(|_| error())?;
    bytes.try_into().map_err(|_| error())
}

fn decode_hex<const N: usize>(
    algorithm: &'static str,
    input: &str,
) -> Result<[u8; N], ParseDigestError> {
    let error = || ParseDigestError::Hex {
        algorithm,
        input: echo(input),
        expected: N * 2,
    };
    let digits = input.as_bytes();
    if digits.len() != N * 2 {
        return Err(error());
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = hex_value(pair[0]).ok_or_else(error)?;
        let low = hex_value(pair[1]).ok_or_else(error)?;
        *byte = (high << 4) | low;
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

macro_rules! digest_type {
    (
        $(#[$meta:meta])*
        $name:ident, $len:literal, $algorithm:literal, display = $display:ident, parse = $parse:ident
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Number of bytes in this digest.
            pub const LEN: usize = $len;
            /// The algorithm's name as W&B and Cairn spell it.
            pub const ALGORITHM: &'static str = $algorithm;

            /// Wraps raw digest bytes.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// The raw digest bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Padded standard base64 (RFC 4648 §4), the form W&B manifests use.
            pub fn to_base64(&self) -> String {
                STANDARD.encode(self.0)
            }

            /// Lowercase hex.
            pub fn to_hex(&self) -> String {
                encode_hex(&self.0)
            }

            /// Parses padded standard base64; anything but the canonical spelling is rejected.
            pub fn from_base64(input: &str) -> Result<Self, ParseDigestError> {
                decode_base64($algorithm, input).map(Self)
            }

            /// Parses hex of exactly the right length (either case; no prefix, no whitespace).
            pub fn from_hex(input: &str) -> Result<Self, ParseDigestError> {
                decode_hex($algorithm, input).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.$display())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self.$display())
            }
        }

        impl FromStr for $name {
            type Err = ParseDigestError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Self::$parse(input)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.$display())
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                Self::$parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

digest_type! {
    /// An MD5 digest: the content digest of W&B file entries.
    ///
    /// `Display` and `FromStr` use padded standard base64, as manifests do.
    Md5Digest, 16, "MD5", display = to_base64, parse = from_base64
}

digest_type! {
    /// An XXH3-128 (seed 0) digest, in canonical big-endian byte order: the SDK's newer file digest.
    ///
    /// `Display` and `FromStr` use padded standard base64, as manifests do.
    Xxh128Digest, 16, "XXH128", display = to_base64, parse = from_base64
}

digest_type! {
    /// A BLAKE3 digest (32 bytes), for Cairn's own integrity checks.
    ///
    /// `Display` and `FromStr` use lowercase hex, BLAKE3's customary form.
    Blake3Digest, 32, "BLAKE3", display = to_hex, parse = from_hex
}

/// Serde of an [`Md5Digest`] as 32 lowercase hex digits instead of its base64 `Display` form,
/// for wire fields that carry MD5s in hex: `#[serde(with = "cairn_hash::serde_hex")]`.
/// Uppercase digits are accepted on input.
#[cfg(feature = "serde")]
pub mod serde_hex {
    use super::Md5Digest;

    /// Writes the digest as lowercase hex.
    pub fn serialize<S: serde::Serializer>(
        digest: &Md5Digest,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&digest.to_hex())
    }

    /// Reads 32 hex digits.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Md5Digest, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        Md5Digest::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn check_base64(input: &str, expect_ok: bool) {
        assert_eq!(
            Md5Digest::from_base64(input).is_ok(),
            expect_ok,
            "{input:?}"
        );
    }

    #[test]
    fn base64_is_strict() {
        check_base64("XUFAKrxLKna5cZ2REBfFkg==", true);
        check_base64("1B2M2Y8AsgTpgAmY7PhCfg==", true);
        // Missing padding, URL-safe alphabet, whitespace, wrong length, non-zero trailing bits.
        check_base64("XUFAKrxLKna5cZ2REBfFkg", false);
        check_base64("XUFAKrxLKna5cZ2REBfFkg=", false);
        check_base64("XUFAKrxLKna5cZ2REBfFk_==", false);
        check_base64(" XUFAKrxLKna5cZ2REBfFkg==", false);
        check_base64("XUFAKrxLKna5cZ2REBfFkh==", false);
        check_base64("", false);
        check_base64("XUFAKrxLKna5cZ2REBfFkgAA", false);
    }

    #[test]
    fn hex_is_strict() {
        let digest = Md5Digest::from_hex("5d41402abc4b2a76b9719d911017c592").unwrap();
        assert_eq!(digest.to_base64(), "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(
            Md5Digest::from_hex("5D41402ABC4B2A76B9719D911017C592").unwrap(),
            digest
        );
        for bad in [
            "",
            "5d41",
            "0x5d41402abc4b2a76b9719d911017c5",
            "5d41402abc4b2a76b9719d911017c59g",
            "5d41402abc4b2a76b9719d911017c5920",
        ] {
            assert!(Md5Digest::from_hex(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        let error = Md5Digest::from_base64("nope").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`nope` is not a base64 MD5 digest (24 characters, standard alphabet, `=` padding)"
        );
        let long = "x".repeat(500);
        assert!(Blake3Digest::from_hex(&long).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn display_forms() {
        let md5 = Md5Digest::from_base64("XUFAKrxLKna5cZ2REBfFkg==").unwrap();
        assert_eq!(md5.to_string(), "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(format!("{md5:?}"), "Md5Digest(XUFAKrxLKna5cZ2REBfFkg==)");
        let blake = Blake3Digest::from_bytes([0xab; 32]);
        assert_eq!(blake.to_string(), "ab".repeat(32));
        assert_eq!(blake.to_string().parse::<Blake3Digest>().unwrap(), blake);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_uses_the_text_forms() {
        let digest = Md5Digest::from_base64("XUFAKrxLKna5cZ2REBfFkg==").unwrap();
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, r#""XUFAKrxLKna5cZ2REBfFkg==""#);
        assert_eq!(serde_json::from_str::<Md5Digest>(&json).unwrap(), digest);
        assert!(serde_json::from_str::<Md5Digest>(r#""XUFAKrxLKna5cZ2REBfFkg""#).is_err());
        let blake = Blake3Digest::from_bytes([7; 32]);
        let json = serde_json::to_string(&blake).unwrap();
        assert_eq!(json, format!("\"{}\"", "07".repeat(32)));
        assert_eq!(serde_json::from_str::<Blake3Digest>(&json).unwrap(), blake);
    }

    proptest! {
        #[test]
        fn md5_text_forms_round_trip(bytes in any::<[u8; 16]>()) {
            let digest = Md5Digest::from_bytes(bytes);
            prop_assert_eq!(Md5Digest::from_base64(&digest.to_base64()).unwrap(), digest);
            prop_assert_eq!(Md5Digest::from_hex(&digest.to_hex()).unwrap(), digest);
            prop_assert_eq!(digest.to_base64().len(), 24);
        }

        #[test]
        fn blake3_text_forms_round_trip(bytes in any::<[u8; 32]>()) {
            let digest = Blake3Digest::from_bytes(bytes);
            prop_assert_eq!(Blake3Digest::from_hex(&digest.to_hex()).unwrap(), digest);
            prop_assert_eq!(Blake3Digest::from_base64(&digest.to_base64()).unwrap(), digest);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = Md5Digest::from_base64(&text);
            let _ = Xxh128Digest::from_hex(&text);
            if let Ok(digest) = Md5Digest::from_base64(&text) {
                prop_assert_eq!(digest.to_base64(), text);
            }
        }
    }
}
