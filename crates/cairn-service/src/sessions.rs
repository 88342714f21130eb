//! Web UI sessions: a browser signs in once with an API key and then sends a random session
//! token (in a cookie the web front-end sets), instead of the key itself.
//!
//! * The token is 32 random bytes, stored only as its SHA-256, like keys ([`crate::access`]).
//! * A session acts as the key it was opened with: revoking the key, or its expiry, ends the
//!   session at once, in the same words a request with the key would get.
//! * A session lasts [`SESSION_LIFETIME`] on the service's [`crate::Clock`]; signing out
//!   forgets it.
//! * Each session has a second random token, its CSRF token, that every state-changing form of
//!   the session must carry ([`SessionCaller::check_form_token`]), so another site cannot make
//!   the browser act with the cookie alone.

use std::time::Duration;

use crate::access::{Caller, hash_key, random_hex};
use crate::clock::rfc3339_ms;
use crate::db::sessions;
use crate::error::Error;
use crate::keys::refusal;
use crate::service::Service;

/// How long a web session lasts after signing in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// A session just opened: the token for the cookie, shown only here.
#[derive(Clone)]
pub struct NewSession {
    /// The session token, for the cookie.
    pub token: String,
    /// Who the session acts as, and its form token.
    pub session: SessionCaller,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("token", &"<redacted>")
            .field("session", &self.session)
            .finish()
    }
}

/// The caller of a session, and the token its forms carry.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCaller {
    /// Who the session acts as.
    pub caller: Caller,
    csrf: String,
}

impl std::fmt::Debug for SessionCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCaller")
            .field("caller", &self.caller)
            .field("csrf", &"<redacted>")
            .finish()
    }
}

impl SessionCaller {
    /// The token every state-changing form of this session carries.
    pub fn form_token(&self) -> &str {
        &self.csrf
    }

    /// Fails unless `given` is this session's form token, compared in constant time.
    pub fn check_form_token(&self, given: &str) -> Result<(), Error> {
        if constant_time_eq(self.csrf.as_bytes(), given.as_bytes()) {
            Ok(())
        } else {
            Err(Error::denied(
                "this form is not from your current session (it may be from another site, or from before you signed in again); reload the page and try again",
            ))
        }
    }
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn no_randomness(error: getrandom::Error) -> Error {
    Error::internal(format!("no randomness for a session: {error}"))
}

/// Where a user whose session ended is sent.
const SIGN_IN_AGAIN: &str = "sign in again with an API key";

impl Service {
    /// Opens a web session for `api_key` (refused in the words [`Service::authenticate`] uses
    /// for unknown, revoked and expired keys). Expired sessions are forgotten on the way.
    pub async fn sign_in(&self, api_key: &str) -> Result<NewSession, Error> {
        let caller = self.authenticate(api_key).await?;
        let key_id = caller.key_id.clone().ok_or_else(|| {
            Error::internal("an authenticated API key has no id to open a session with")
        })?;
        let token = random_hex(32).map_err(no_randomness)?;
        let csrf = random_hex(32).map_err(no_randomness)?;
        let now_ms = self.clock().now_ms();
        let now = rfc3339_ms(now_ms);
        let lifetime = i64::try_from(SESSION_LIFETIME.as_millis()).unwrap_or(i64::MAX);
        let expires_at = rfc3339_ms(now_ms.saturating_add(lifetime));
        let token_hash = hash_key(&token);
        {
            let csrf = csrf.clone();
            self.db()
                .write(move |connection| {
                    sessions::delete_expired(connection, &now)?;
                    sessions::insert(connection, &token_hash, &key_id, &csrf, &now, &expires_at)
                })
                .await?;
        }
        Ok(NewSession {
            token,
            session: SessionCaller { caller, csrf },
        })
    }

    /// The session of a token: `Unauthenticated`, in words, when it is unknown, expired, or
    /// its key was revoked or expired.
    pub async fn session(&self, token: &str) -> Result<SessionCaller, Error> {
        let token_hash = hash_key(token);
        let row = self
            .db()
            .read(move |connection| sessions::find(connection, &token_hash))
            .await?
            .ok_or_else(|| {
                Error::unauthenticated(format!(
                    "your session is not known to this server (you signed out, or the server forgot it); {SIGN_IN_AGAIN}"
                ))
            })?;
        let now_ms = self.clock().now_ms();
        let now = rfc3339_ms(now_ms);
        if row.expires_at <= now {
            return Err(Error::unauthenticated(format!(
                "your session expired on {}; {SIGN_IN_AGAIN}",
                row.expires_at
            )));
        }
        if let Some(refused) = refusal(&row.key, &now, "the API key of this session", SIGN_IN_AGAIN)
        {
            return Err(refused);
        }
        // A page seen through a session is a use of its key, as `cairn key list` shows it.
        self.note_use(&row.key, now_ms);
        Ok(SessionCaller {
            caller: row.caller,
            csrf: row.csrf,
        })
    }

    /// Ends the session of a token; ending an unknown one is not an error.
    pub async fn sign_out(&self, token: &str) -> Result<(), Error> {
        let token_hash = hash_key(token);
        self.db()
            .write(move |connection| sessions::delete(connection, &token_hash))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn form_tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
