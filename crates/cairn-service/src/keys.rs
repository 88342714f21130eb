//! API keys: authenticating a request by its key, and creating, listing and revoking keys (a
//! user their own, server admins anyone's).
//!
//! The secret is shown once, when the key is created, and stored only as its SHA-256
//! ([`crate::access`]). A key has an id (16 hex digits) to be listed and revoked by, an optional
//! name, an optional expiry, and a revocation time: revoking keeps the row, so a revoked key is
//! refused in words ("revoked on ...") instead of as unknown. Expiry is read on the service's
//! [`crate::Clock`], so tests move time instead of waiting.
//!
//! Signed URLs ([`crate::capability`]) carry the id of the key whose request obtained them:
//! revoking a key, or its expiry, also ends the URLs it obtained, so a leaked key cannot be
//! kept alive through URLs handed out before it was revoked.

use std::time::Duration;

use crate::access::{Caller, hash_key, mint_key, random_hex, required};
use crate::clock::rfc3339_ms;
use crate::db::accounts;
use crate::db::keys::{self, KeyRow};
use crate::error::Error;
use crate::model::{ApiKey, ApiKeyStatus, CreatedApiKey, NewApiKey};
use crate::service::Service;

/// The longest name an API key may have, in characters.
pub const MAX_API_KEY_NAME: usize = 100;

/// The longest an API key may be valid for: ten years (leave the expiry out for a key that
/// never expires).
pub const MAX_API_KEY_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);

/// How stale a key's `last_used_at` may get before a request records a new one: the time is
/// kept to the minute, so authenticating is not a database write per request.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// Where the user is told to get a new key.
const NEW_KEY_HINT: &str = "sign in with another key and create a new one with `cairn key create`, or ask a server admin for one";

/// Whether a key authenticates at `now` (RFC 3339 text of the service's clock).
pub(crate) fn status(row: &KeyRow, now: &str) -> ApiKeyStatus {
    if row.revoked_at.is_some() {
        ApiKeyStatus::Revoked
    } else if row.expires_at.as_deref().is_some_and(|at| at <= now) {
        ApiKeyStatus::Expired
    } else {
        ApiKeyStatus::Active
    }
}

/// Why a key no longer authenticates, in words the holder can act on; `None` when it does.
/// The message is `{subject} `{id}` (name) was revoked on ...; {hint}`.
pub(crate) fn refusal(row: &KeyRow, now: &str, subject: &str, hint: &str) -> Option<Error> {
    let named = match &row.name {
        Some(name) => format!("`{}` ({name})", row.id),
        None => format!("`{}`", row.id),
    };
    let what = match status(row, now) {
        ApiKeyStatus::Active => return None,
        ApiKeyStatus::Revoked => format!(
            "was revoked on {}",
            row.revoked_at.as_deref().unwrap_or_default()
        ),
        ApiKeyStatus::Expired => format!(
            "expired on {}",
            row.expires_at.as_deref().unwrap_or_default()
        ),
    };
    Some(Error::unauthenticated(format!(
        "{subject} {named} {what}; {hint}"
    )))
}

/// A key's record as shown, its status read at `now`.
pub(crate) fn record(row: KeyRow, now: &str) -> ApiKey {
    let status = status(&row, now);
    ApiKey {
        id: row.id,
        name: row.name,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
        status,
    }
}

/// A new key id: 16 hex digits.
pub(crate) fn mint_key_id() -> Result<String, Error> {
    random_hex(8).map_err(|error| Error::internal(format!("no randomness for a key id: {error}")))
}

/// The name, trimmed, if it is one a key may have.
fn check_name(name: Option<&str>) -> Result<Option<String>, Error> {
    let Some(name) = name else {
        return Ok(None);
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid_name(
            "an API key's name cannot be empty; give one or leave it out",
        ));
    }
    if name.chars().count() > MAX_API_KEY_NAME {
        return Err(Error::invalid_name(format!(
            "an API key's name has at most {MAX_API_KEY_NAME} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_name(
            "an API key's name cannot hold control characters (newlines, tabs, ...)",
        ));
    }
    Ok(Some(name.to_owned()))
}

/// Fails unless `caller` may manage `username`'s keys: themselves, or a server admin.
fn may_manage(caller: &Caller, username: &str, action: &str) -> Result<(), Error> {
    if caller.admin || caller.username == username {
        Ok(())
    } else {
        Err(Error::denied(format!(
            "`{}` may only {action} their own API keys, not those of `{username}`",
            caller.username
        )))
    }
}

fn user_not_found(username: &str) -> Error {
    Error::not_found(format!("user `{username}` not found"))
}

impl Service {
    /// The user an API key belongs to. Unknown, revoked and expired keys are
    /// `Unauthenticated`, each with words saying what happened and what to do.
    pub async fn authenticate(&self, key: &str) -> Result<Caller, Error> {
        let hash = hash_key(key);
        let found = self
            .db()
            .read(move |connection| keys::caller_by_key_hash(connection, &hash))
            .await?;
        let Some((caller, row)) = found else {
            return Err(Error::unauthenticated(
                "the API key is not known to this server; check it, or ask an admin for a new one",
            ));
        };
        let now_ms = self.clock().now_ms();
        let now = rfc3339_ms(now_ms);
        if let Some(refused) = refusal(&row, &now, "this API key", NEW_KEY_HINT) {
            return Err(refused);
        }
        self.note_use(&row, now_ms);
        Ok(caller)
    }

    /// Records that a key was used at `now_ms`, unless its last use is recent enough already.
    pub(crate) fn note_use(&self, row: &KeyRow, now_ms: i64) {
        let stale = rfc3339_ms(now_ms.saturating_sub(LAST_USED_GRANULARITY_MS));
        if row
            .last_used_at
            .as_deref()
            .is_none_or(|at| at < stale.as_str())
        {
            self.record_use(row.id.clone(), rfc3339_ms(now_ms));
        }
    }

    /// Records, in the background, that key `id` was used at `now`: the request does not wait
    /// for the writer, and a failure only loses the time.
    fn record_use(&self, id: String, now: String) {
        let db = std::sync::Arc::clone(self.db());
        tokio::spawn(async move {
            if let Err(error) = db
                .write(move |connection| keys::touch(connection, &id, &now))
                .await
            {
                tracing::debug!(?error, "could not record an API key's last use");
            }
        });
    }

    /// A new API key for `username` (the user or a server admin), with an optional name and
    /// lifetime. The secret is in the answer only.
    pub async fn create_api_key(
        &self,
        caller: Option<&Caller>,
        username: &str,
        new: &NewApiKey,
    ) -> Result<CreatedApiKey, Error> {
        let caller = required(caller)?;
        may_manage(caller, username, "create")?;
        let name = check_name(new.name.as_deref())?;
        let expires_at = match new.expires_in {
            None => None,
            Some(lifetime) if lifetime.is_zero() || lifetime > MAX_API_KEY_LIFETIME => {
                return Err(Error::bad_request(format!(
                    "an API key's lifetime is 1 second to {} seconds (ten years); leave it out for a key that never expires",
                    MAX_API_KEY_LIFETIME.as_secs()
                )));
            }
            Some(lifetime) => {
                let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
                Some(rfc3339_ms(
                    self.clock().now_ms().saturating_add(lifetime_ms),
                ))
            }
        };
        let key = mint_key()?;
        let id = mint_key_id()?;
        let username = username.to_owned();
        let now = self.clock().now_text();
        let created = self
            .db()
            .write(move |connection| {
                let (user_id, user) = accounts::load_user(connection, &username)?
                    .ok_or_else(|| user_not_found(&username))?;
                keys::insert_key(
                    connection,
                    user_id,
                    &hash_key(&key),
                    &id,
                    name.as_deref(),
                    expires_at.as_deref(),
                )?;
                let row = keys::key_by_id(connection, &id)?
                    .ok_or_else(|| Error::internal("a key just created is missing"))?;
                Ok(CreatedApiKey {
                    user,
                    api_key: key.clone(),
                    key: record(row, &now),
                })
            })
            .await?;
        tracing::info!(
            username = created.user.username,
            key = created.key.id,
            "created API key"
        );
        Ok(created)
    }

    /// The API keys of `username` (the user or a server admin), oldest first, revoked and
    /// expired ones included; never their secrets.
    pub async fn api_keys(
        &self,
        caller: Option<&Caller>,
        username: &str,
    ) -> Result<Vec<ApiKey>, Error> {
        let caller = required(caller)?;
        may_manage(caller, username, "list")?;
        let username = username.to_owned();
        let now = self.clock().now_text();
        self.db()
            .read(move |connection| {
                let (user_id, _) = accounts::load_user(connection, &username)?
                    .ok_or_else(|| user_not_found(&username))?;
                Ok(keys::user_keys(connection, user_id)?
                    .into_iter()
                    .map(|row| record(row, &now))
                    .collect())
            })
            .await
    }

    /// Revokes `username`'s key `id` (the user or a server admin): from now on it, and every
    /// URL signed for its requests, is refused. Revoking a revoked key answers it unchanged.
    pub async fn revoke_api_key(
        &self,
        caller: Option<&Caller>,
        username: &str,
        id: &str,
    ) -> Result<ApiKey, Error> {
        let caller = required(caller)?;
        may_manage(caller, username, "revoke")?;
        let (username, id) = (username.to_owned(), id.to_owned());
        let now = self.clock().now_text();
        let revoked = self
            .db()
            .write(move |connection| {
                let (user_id, _) = accounts::load_user(connection, &username)?
                    .ok_or_else(|| user_not_found(&username))?;
                let not_found = || {
                    Error::not_found(format!(
                        "API key `{id}` of `{username}` not found; `cairn key list` shows their keys"
                    ))
                };
                let row = keys::key_by_id(connection, &id)?
                    .filter(|row| row.user_id == user_id)
                    .ok_or_else(not_found)?;
                if row.revoked_at.is_none() {
                    keys::revoke(connection, &id, &now)?;
                }
                let row = keys::key_by_id(connection, &id)?.ok_or_else(not_found)?;
                Ok(record(row, &now))
            })
            .await?;
        tracing::info!(key = revoked.id, by = caller.username, "revoked API key");
        Ok(revoked)
    }

    /// Checks that the key of a signed URL's token still authenticates: answers `None` when it
    /// does, else why not.
    pub(crate) async fn key_still_valid(&self, id: &str) -> Result<Option<Error>, Error> {
        let id = id.to_owned();
        let row = self
            .db()
            .read(move |connection| keys::key_by_id(connection, &id))
            .await?;
        let now = self.clock().now_text();
        Ok(match row {
            Some(row) => refusal(
                &row,
                &now,
                "this signed URL was obtained with API key",
                "signed URLs end with the key that obtained them; look the artifact up again with a valid key",
            ),
            None => Some(Error::unauthenticated(
                "the API key this signed URL was handed out to no longer exists; look the artifact up again",
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(expires_at: Option<&str>, revoked_at: Option<&str>) -> KeyRow {
        KeyRow {
            id: "00112233aabbccdd".to_owned(),
            user_id: 1,
            name: Some("ci".to_owned()),
            created_at: "2026-01-01T00:00:00.000Z".to_owned(),
            expires_at: expires_at.map(str::to_owned),
            revoked_at: revoked_at.map(str::to_owned),
            last_used_at: None,
        }
    }

    #[test]
    fn status_follows_revocation_then_expiry() {
        let now = "2026-06-01T00:00:00.000Z";
        let check = |expires, revoked, expect| {
            assert_eq!(
                status(&row(expires, revoked), now),
                expect,
                "{expires:?} {revoked:?}"
            );
        };
        check(None, None, ApiKeyStatus::Active);
        check(Some("2026-06-01T00:00:00.001Z"), None, ApiKeyStatus::Active);
        check(Some(now), None, ApiKeyStatus::Expired);
        check(
            Some("2026-05-01T00:00:00.000Z"),
            None,
            ApiKeyStatus::Expired,
        );
        check(
            None,
            Some("2026-05-02T00:00:00.000Z"),
            ApiKeyStatus::Revoked,
        );
        check(
            Some("2026-05-01T00:00:00.000Z"),
            Some("2026-04-02T00:00:00.000Z"),
            ApiKeyStatus::Revoked,
        );
    }

    #[test]
    fn refusals_say_when_and_what_to_do() {
        let now = "2026-06-01T00:00:00.000Z";
        assert!(refusal(&row(None, None), now, "this API key", NEW_KEY_HINT).is_none());
        let revoked = refusal(
            &row(None, Some("2026-05-02T00:00:00.000Z")),
            now,
            "this API key",
            NEW_KEY_HINT,
        )
        .map(|error| format!("{error}"))
        .unwrap_or_default();
        assert!(
            revoked.contains("`00112233aabbccdd` (ci) was revoked on 2026-05-02T00:00:00.000Z")
                && revoked.contains("cairn key create"),
            "{revoked}"
        );
        let expired = refusal(
            &row(Some("2026-05-01T00:00:00.000Z"), None),
            now,
            "this API key",
            NEW_KEY_HINT,
        )
        .map(|error| format!("{error}"))
        .unwrap_or_default();
        assert!(
            expired.contains("expired on 2026-05-01T00:00:00.000Z"),
            "{expired}"
        );
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(check_name(None).ok(), Some(None));
        assert_eq!(
            check_name(Some("  laptop ")).ok(),
            Some(Some("laptop".to_owned()))
        );
        assert!(check_name(Some(" ")).is_err());
        assert!(check_name(Some("a\nb")).is_err());
        assert!(check_name(Some(&"x".repeat(MAX_API_KEY_NAME + 1))).is_err());
        assert!(check_name(Some(&"é".repeat(MAX_API_KEY_NAME))).is_ok());
    }
}
