//! Who is calling and what they may do.
//!
//! A request authenticates with `Authorization: Bearer <key>` or the W&B form
//! `Basic base64("api:<key>")`. Keys are stored as their SHA-256, never as given. A request
//! without the header is anonymous; a header with an unknown or malformed key is refused with
//! `unauthenticated` even where anonymous access would be allowed, so a typo is never silently
//! downgraded. So is a request with two `Authorization` headers: which one counts would be a
//! guess.
//!
//! # Access rules
//!
//! | project visibility | read                              | write                          |
//! |--------------------|-----------------------------------|--------------------------------|
//! | private            | owner user, team members, admins  | owner user, team members, admins |
//! | public             | everyone, even anonymous          | owner user, team members, admins |
//! | open               | everyone, even anonymous          | every signed-in user           |
//!
//! Visibility is managed by the owning user, the team's admins and server admins. Projects are
//! created on first write by anyone who may write to the entity (its user, its team members).
//!
//! What a caller may not read does not exist for them: such reads answer `not_found`, exactly
//! like a missing project. A refused write answers `permission_denied` whether or not the project
//! exists (entity names are public, project names are not leaked either way); an anonymous
//! write answers `unauthenticated`. Routes that name a version by its opaque id answer
//! `not_found` when the caller may not read the version's project and `permission_denied`
//! when they may read but not write it.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use cairn_api::{API_KEY_PREFIX, Role, Visibility};
use rusqlite::{Connection, OptionalExtension as _};
use sha2::Digest as _;

use crate::db::queries::ProjectRow;
use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    pub(crate) user_id: i64,
    pub(crate) entity_id: i64,
    pub(crate) username: String,
    pub(crate) admin: bool,
}

/// The caller of a request: `None` when anonymous.
#[derive(Debug, Clone)]
pub(crate) struct Auth(pub(crate) Option<Caller>);

impl Auth {
    /// The caller, or `unauthenticated` when anonymous.
    pub(crate) fn required(self) -> Result<Caller, ApiError> {
        self.0.ok_or_else(|| {
            ApiError::unauthenticated(
                "this request needs an API key: send `Authorization: Bearer <key>`",
            )
        })
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
        let Some(header) = headers.next() else {
            return Ok(Self(None));
        };
        if headers.next().is_some() {
            // Proxies and servers disagree on which of two credentials wins; guessing could
            // act as the wrong user, so neither is used.
            return Err(ApiError::unauthenticated(
                "the request has more than one `Authorization` header; send exactly one",
            ));
        }
        let key = parse_authorization(header.as_bytes()).ok_or_else(|| {
            ApiError::unauthenticated(
                "the `Authorization` header is malformed: send `Bearer <key>` or `Basic base64(api:<key>)`",
            )
        })?;
        let hash = hash_key(&key);
        let caller = state
            .db()
            .read(move |connection| caller_by_key_hash(connection, &hash))
            .await?;
        match caller {
            Some(caller) => Ok(Self(Some(caller))),
            None => Err(ApiError::unauthenticated(
                "the API key is not known to this server; check it, or ask an admin for a new one",
            )),
        }
    }
}

/// The key in an `Authorization` header value.
fn parse_authorization(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    let rest = rest.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, key) = decoded.split_once(':')?;
        key.to_owned()
    } else {
        return None;
    };
    (!key.is_empty()).then_some(key)
}

fn caller_by_key_hash(connection: &Connection, hash: &str) -> Result<Option<Caller>, ApiError> {
    Ok(connection
        .prepare_cached(
            "SELECT u.id, u.entity_id, u.username, u.admin FROM api_keys k \
             JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?1",
        )?
        .query_row([hash], |row| {
            Ok(Caller {
                user_id: row.get(0)?,
                entity_id: row.get(1)?,
                username: row.get(2)?,
                admin: row.get(3)?,
            })
        })
        .optional()?)
}

/// The stored form of an API key: its SHA-256 in hex.
pub(crate) fn hash_key(key: &str) -> String {
    hex(&sha2::Sha256::digest(key.as_bytes()))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// `bytes` random bytes as hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buffer = vec![0_u8; bytes];
    getrandom::fill(&mut buffer)?;
    Ok(hex(&buffer))
}

/// A new API key: [`API_KEY_PREFIX`] and 48 hex digits.
pub(crate) fn mint_key() -> Result<String, ApiError> {
    random_hex(24)
        .map(|random| format!("{API_KEY_PREFIX}{random}"))
        .map_err(|error| ApiError::internal(format!("no randomness for an API key: {error}")))
}

/// A new opaque id of 24 hex digits.
pub(crate) fn mint_id() -> Result<String, ApiError> {
    random_hex(12).map_err(|error| ApiError::internal(format!("no randomness for an id: {error}")))
}

/// The caller's role in an entity: the user's own entity counts as admin.
pub(crate) fn role_in(
    connection: &Connection,
    caller: &Caller,
    entity_id: i64,
) -> Result<Option<Role>, ApiError> {
    if caller.entity_id == entity_id {
        return Ok(Some(Role::Admin));
    }
    crate::db::queries::team_role(connection, entity_id, caller.user_id)
}

/// Whether the caller may create projects in and write to the entity's private projects.
pub(crate) fn can_write_entity(
    connection: &Connection,
    caller: &Caller,
    entity_id: i64,
) -> Result<bool, ApiError> {
    Ok(caller.admin || role_in(connection, caller, entity_id)?.is_some())
}

/// Whether the caller may read the project.
pub(crate) fn can_read(
    connection: &Connection,
    caller: Option<&Caller>,
    project: &ProjectRow,
) -> Result<bool, ApiError> {
    match (project.visibility, caller) {
        (Visibility::Public | Visibility::Open, _) => Ok(true),
        (Visibility::Private, None) => Ok(false),
        (Visibility::Private, Some(caller)) => {
            can_write_entity(connection, caller, project.entity_id)
        }
    }
}

/// Whether the caller may write to the project.
pub(crate) fn can_write(
    connection: &Connection,
    caller: Option<&Caller>,
    project: &ProjectRow,
) -> Result<bool, ApiError> {
    match (project.visibility, caller) {
        (_, None) => Ok(false),
        (Visibility::Open, Some(_)) => Ok(true),
        (Visibility::Private | Visibility::Public, Some(caller)) => {
            can_write_entity(connection, caller, project.entity_id)
        }
    }
}

/// Whether the caller may change the project's settings.
pub(crate) fn can_manage(
    connection: &Connection,
    caller: &Caller,
    entity_id: i64,
) -> Result<bool, ApiError> {
    Ok(caller.admin || role_in(connection, caller, entity_id)? == Some(Role::Admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, expect: Option<&str>) {
        assert_eq!(
            parse_authorization(header.as_bytes()).as_deref(),
            expect,
            "{header}"
        );
    }

    #[test]
    fn authorization_headers() {
        check("Bearer cairn-abc", Some("cairn-abc"));
        check("bearer   cairn-abc ", Some("cairn-abc"));
        // base64("api:cairn-abc")
        check("Basic YXBpOmNhaXJuLWFiYw==", Some("cairn-abc"));
        check("Basic !!!", None);
        check("Bearer", None);
        check("Token x", None);
        check("Basic YXBp", None);
    }

    #[test]
    fn keys_hash_to_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let key = mint_key().unwrap_or_default();
        assert!(key.starts_with(API_KEY_PREFIX));
        assert_eq!(key.len(), API_KEY_PREFIX.len() + 48);
    }
}
