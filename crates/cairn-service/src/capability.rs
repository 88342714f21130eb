//! Capability URLs: what the W&B SDK uploads to and downloads from without credentials.
//!
//! The SDK sends no `Authorization` header on the upload and download URLs the server hands out
//! (it treats them as a cloud store's pre-signed URLs), so such a URL must carry its own proof.
//! [`Service::grant`] signs one [`Grant`] (an action on one object) for one caller with a key
//! kept in the metadata database, for a limited time; [`Service::redeem`] checks the signature
//! and the expiry and answers the caller, whose access the domain then checks again as for any
//! request: a URL never outlives the caller's rights, and one signed for a blob of one version is
//! worthless for another blob or version.
//!
//! A URL is also bound to the API key whose request obtained it: once that key is revoked or
//! expired, its URLs are refused too (in words), even though they have not expired yet. Expiry
//! is read on the service's [`crate::Clock`], like every other time rule.
//!
//! A token is `<expiry>~<holder>~<signature>`: the expiry in Unix seconds; the holder, which is
//! `anon`, or the user's number and the key's id as `<user>.<key id>` (the user's number alone
//! in URLs signed before keys had ids); and the hex HMAC-SHA256 of the grant, expiry and holder
//! under the server's key.

use std::time::Duration;

use hmac::{KeyInit as _, Mac as _};

use crate::access::{Caller, hex};
use crate::db::accounts;
use crate::error::Error;
use crate::service::Service;

/// How long a signed URL stays valid unless the caller of [`Service::grant`] says otherwise.
pub const DEFAULT_GRANT_TTL: Duration = Duration::from_secs(3600);

/// One action on one object that a signed URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Upload the blob with this MD5 (lowercase hex) to a PENDING version.
    UploadBlob {
        /// The version's id.
        version: String,
        /// The blob's MD5.
        md5_hex: String,
    },
    /// Upload a PENDING version's manifest.
    UploadManifest {
        /// The version's id.
        version: String,
    },
    /// Upload one writer's part of a distributed PENDING version's manifest.
    UploadPart {
        /// The version's id.
        version: String,
        /// Who writes the part (a run).
        writer: String,
    },
    /// Read a blob of a version.
    ReadBlob {
        /// The version's id.
        version: String,
        /// The blob's MD5.
        md5_hex: String,
    },
    /// Read a version's manifest.
    ReadManifest {
        /// The version's id.
        version: String,
    },
    /// Upload one of a run's own files (logs, requirements, config).
    UploadRunFile {
        /// The owning entity.
        entity: String,
        /// The project.
        project: String,
        /// The run id.
        run: String,
        /// The file's name.
        name: String,
    },
}

impl Grant {
    /// The signed text: a kind and the fields, each on its own line (no field holds a newline:
    /// ids, MD5s and validated names; a part's writer is a run path, refused with control
    /// characters).
    fn message(&self, expires: u64, user: &str) -> String {
        let fields: Vec<&str> = match self {
            Self::UploadBlob { version, md5_hex } => vec!["upload-blob", version, md5_hex],
            Self::UploadManifest { version } => vec!["upload-manifest", version],
            Self::UploadPart { version, writer } => vec!["upload-part", version, writer],
            Self::ReadBlob { version, md5_hex } => vec!["read-blob", version, md5_hex],
            Self::ReadManifest { version } => vec!["read-manifest", version],
            Self::UploadRunFile {
                entity,
                project,
                run,
                name,
            } => vec!["upload-run-file", entity, project, run, name],
        };
        format!("cairn-grant-v1\n{}\n{expires}\n{user}", fields.join("\n"))
    }
}

fn invalid() -> Error {
    Error::unauthenticated(
        "this signed URL is not valid for this request (altered, or signed for another object); ask the server for a new one",
    )
}

impl Service {
    /// Now in Unix seconds, on the service's clock.
    fn unix_now(&self) -> u64 {
        u64::try_from(self.clock().now_ms() / 1000).unwrap_or(0)
    }

    fn mac(&self) -> Result<hmac::Hmac<sha2::Sha256>, Error> {
        hmac::Hmac::<sha2::Sha256>::new_from_slice(self.signing_key())
            .map_err(|error| Error::internal(format!("signing key: {error}")))
    }

    /// A token that lets whoever holds it do `grant` as `caller` (anonymously when `None`)
    /// for `ttl`. Put it in the URL next to the grant's own fields.
    pub fn grant(
        &self,
        caller: Option<&Caller>,
        grant: &Grant,
        ttl: Duration,
    ) -> Result<String, Error> {
        let expires = self.unix_now().saturating_add(ttl.as_secs().max(1));
        let user = caller.map_or_else(
            || "anon".to_owned(),
            |caller| match &caller.key_id {
                Some(key) => format!("{}.{key}", caller.user_id),
                None => caller.user_id.to_string(),
            },
        );
        let mut mac = self.mac()?;
        mac.update(grant.message(expires, &user).as_bytes());
        Ok(format!(
            "{expires}~{user}~{}",
            hex(&mac.finalize().into_bytes())
        ))
    }

    /// Checks a token of [`Service::grant`] for `grant`: answers the caller it was signed for
    /// (`None`: anonymous). Altered, foreign and expired tokens are `Unauthenticated`.
    pub async fn redeem(&self, grant: &Grant, token: &str) -> Result<Option<Caller>, Error> {
        let mut parts = token.split('~');
        let (Some(expires), Some(user), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let expires_at: u64 = expires.parse().map_err(|_| invalid())?;
        let signature = decode_hex(signature).ok_or_else(invalid)?;
        let mut mac = self.mac()?;
        mac.update(grant.message(expires_at, user).as_bytes());
        mac.verify_slice(&signature).map_err(|_| invalid())?;
        if self.unix_now() > expires_at {
            return Err(Error::unauthenticated(
                "this signed URL has expired; ask the server for a new one (look the artifact up again)",
            ));
        }
        if user == "anon" {
            return Ok(None);
        }
        let (user, key_id) = match user.split_once('.') {
            Some((user, key)) => (user, Some(key.to_owned())),
            None => (user, None),
        };
        let user_id: i64 = user.parse().map_err(|_| invalid())?;
        if let Some(key) = &key_id
            && let Some(refused) = self.key_still_valid(key).await?
        {
            return Err(refused);
        }
        let caller = self
            .db()
            .read(move |connection| accounts::caller_by_user_id(connection, user_id))
            .await?;
        caller
            .map(|caller| Some(Caller { key_id, ..caller }))
            .ok_or_else(|| {
                Error::unauthenticated("the user this URL was signed for no longer exists")
            })
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ_for_every_field() {
        let blob = |version: &str, md5: &str| Grant::ReadBlob {
            version: version.to_owned(),
            md5_hex: md5.to_owned(),
        };
        let base = blob("v1", "aa").message(10, "1");
        assert_ne!(base, blob("v2", "aa").message(10, "1"));
        assert_ne!(base, blob("v1", "ab").message(10, "1"));
        assert_ne!(base, blob("v1", "aa").message(11, "1"));
        assert_ne!(base, blob("v1", "aa").message(10, "2"));
        let upload = Grant::UploadBlob {
            version: "v1".to_owned(),
            md5_hex: "aa".to_owned(),
        };
        assert_ne!(base, upload.message(10, "1"));
    }

    #[test]
    fn hex_decoding_refuses_junk() {
        assert_eq!(decode_hex("00ff"), Some(vec![0, 255]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
