//! Object keys: what an object in the cache is named by, and the path that name maps to.
//!
//! * A content object is named by the MD5 of its bytes (the digest of a W&B file entry): base64
//!   `XUFAKrxLKna5cZ2REBfFkg==` → hex `5d41402abc4b2a76b9719d911017c592` →
//!   `objects-v1/md5/5d/41402abc4b2a76b9719d911017c592`.
//! * A reference object (an http/s3/gs/azure reference) is named, as W&B names it, by
//!   `hex(SHA256(SHA256(url) ‖ SHA256(etag)))` → `objects-v1/etag/<h[:2]>/<h[2:]>`. There is no
//!   content digest to check such an object against; its size is checked when known.

use std::fmt;
use std::path::PathBuf;

use cairn_hash::Md5Digest;
use sha2::{Digest as _, Sha256};

/// The name of one object in the cache. Its path is a pure function of the key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(Kind);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Md5(Md5Digest),
    /// The 32-byte SHA-256 key of a reference.
    Etag([u8; 32]),
}

impl ObjectKey {
    /// The key of content whose MD5 is `digest`.
    pub fn md5(digest: Md5Digest) -> Self {
        Self(Kind::Md5(digest))
    }

    /// The key W&B gives a reference object: `SHA256(SHA256(url) ‖ SHA256(etag))`.
    pub fn etag(url: &str, etag: &str) -> Self {
        let mut outer = Sha256::new();
        outer.update(Sha256::digest(url.as_bytes()));
        outer.update(Sha256::digest(etag.as_bytes()));
        Self(Kind::Etag(outer.finalize().into()))
    }

    /// The MD5 this object must hash to, for content objects.
    pub fn as_md5(&self) -> Option<Md5Digest> {
        match &self.0 {
            Kind::Md5(digest) => Some(*digest),
            Kind::Etag(_) => None,
        }
    }

    /// `md5` or `etag`: the directory under `objects-v1/`.
    pub fn algorithm(&self) -> &'static str {
        match self.0 {
            Kind::Md5(_) => "md5",
            Kind::Etag(_) => "etag",
        }
    }

    /// Lowercase hex of the key.
    pub fn to_hex(&self) -> String {
        match &self.0 {
            Kind::Md5(digest) => digest.to_hex(),
            Kind::Etag(bytes) => {
                use fmt::Write as _;
                bytes
                    .iter()
                    .fold(String::with_capacity(64), |mut hex, byte| {
                        let _ = write!(hex, "{byte:02x}");
                        hex
                    })
            }
        }
    }

    /// The object's path relative to the cache root: `objects-v1/<algorithm>/<hex[:2]>/<hex[2:]>`.
    pub fn relative_path(&self) -> PathBuf {
        let hex = self.to_hex();
        let (fan_out, rest) = hex.split_at(2);
        [crate::OBJECTS_DIR, self.algorithm(), fan_out, rest]
            .iter()
            .collect()
    }

    /// Parses the path of an object relative to `objects-v1/` (`md5/5d/4140...`), as a walk of
    /// the tree finds it. Anything else (a stray file, a temp name) is `None`.
    pub(crate) fn from_parts(algorithm: &str, fan_out: &str, rest: &str) -> Option<Self> {
        let hex = format!("{fan_out}{rest}");
        if fan_out.len() != 2 || hex.bytes().any(|byte| byte.is_ascii_uppercase()) {
            return None;
        }
        match algorithm {
            "md5" => Md5Digest::from_hex(&hex).ok().map(Self::md5),
            "etag" => {
                let digest = cairn_hash::Blake3Digest::from_hex(&hex).ok()?;
                Some(Self(Kind::Etag(*digest.as_bytes())))
            }
            _ => None,
        }
    }
}

impl fmt::Display for ObjectKey {
    /// `md5:<base64>` for content (the digest as manifests spell it), `etag:<hex>` for references.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Md5(digest) => write!(formatter, "md5:{digest}"),
            Kind::Etag(_) => write!(formatter, "etag:{}", self.to_hex()),
        }
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ObjectKey({self})")
    }
}

impl From<Md5Digest> for ObjectKey {
    fn from(digest: Md5Digest) -> Self {
        Self::md5(digest)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn md5_paths_follow_the_hex_digest() {
        let digest = Md5Digest::from_base64("XUFAKrxLKna5cZ2REBfFkg==").unwrap();
        let key = ObjectKey::md5(digest);
        assert_eq!(
            key.relative_path(),
            Path::new("objects-v1/md5/5d/41402abc4b2a76b9719d911017c592")
        );
        assert_eq!(key.to_string(), "md5:XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(key.as_md5(), Some(digest));
    }

    #[test]
    fn etag_keys_hash_url_and_etag_as_wandb_does() {
        // h = SHA256(SHA256("https://example.com/a") || SHA256("\"abc\"")), computed independently
        // with Python's hashlib.
        let key = ObjectKey::etag("https://example.com/a", "\"abc\"");
        assert_eq!(
            key.to_hex(),
            "add8c0c793b9740696933004aacb8677ab1613bfd3e375bba99ec0a999b68847"
        );
        let path = key.relative_path();
        assert_eq!(
            path,
            Path::new(
                "objects-v1/etag/ad/d8c0c793b9740696933004aacb8677ab1613bfd3e375bba99ec0a999b68847"
            )
        );
        assert_eq!(key.as_md5(), None);
        assert_ne!(key, ObjectKey::etag("https://example.com/a", "\"abd\""));
    }

    proptest! {
        #[test]
        fn paths_parse_back_to_their_key(bytes in any::<[u8; 16]>(), url in ".{0,20}", etag in ".{0,20}") {
            for key in [ObjectKey::md5(Md5Digest::from_bytes(bytes)), ObjectKey::etag(&url, &etag)] {
                let path = key.relative_path();
                let parts: Vec<_> = path.iter().map(|part| part.to_str().unwrap()).collect();
                prop_assert_eq!(parts.len(), 4);
                prop_assert_eq!(parts[0], "objects-v1");
                prop_assert_eq!(parts[2].len(), 2);
                prop_assert_eq!(ObjectKey::from_parts(parts[1], parts[2], parts[3]), Some(key.clone()));
            }
        }

        #[test]
        fn stray_names_are_not_objects(name in "[0-9a-zA-Z.-]{0,40}") {
            if let Some(key) = ObjectKey::from_parts("md5", "ab", &name) {
                prop_assert_eq!(key.to_hex(), format!("ab{name}"));
            }
        }
    }
}
