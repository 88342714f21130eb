//! Who is calling and what they may do: API keys, the [`Caller`] they identify, and every
//! access decision of the domain.
//!
//! Keys are stored as their SHA-256, never as given. A front-end turns a request's credentials
//! into a key and asks [`crate::Service::authenticate`] (in `keys.rs`); an unknown, revoked or
//! expired key is refused with `Unauthenticated` even where anonymous access would be allowed,
//! so a typo is never silently downgraded.
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

use rusqlite::Connection;
use sha2::Digest as _;

use crate::db::accounts::{self, find_entity};
use crate::db::projects::{self, ProjectRow, find_project};
use crate::db::versions::{self, VersionRow};
use crate::error::{Error, Kind};
use crate::model::{Role, VersionState, Visibility};
use crate::validate;

/// The prefix of the API keys the service mints: `cairn-` and 48 lowercase hex digits, which
/// the W&B SDK's key check (a prefix, `-`, then at least 40 word characters) accepts.
pub const API_KEY_PREFIX: &str = "cairn-";

/// A signed-in user, as [`crate::Service::authenticate`] found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub(crate) user_id: i64,
    pub(crate) entity_id: i64,
    pub(crate) username: String,
    pub(crate) admin: bool,
    /// The API key the request came with (for a signed URL, the key whose request obtained
    /// it); `None` for URLs signed before keys had ids.
    pub(crate) key_id: Option<String>,
}

impl Caller {
    /// The user's name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Whether the user administers the whole server.
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// The id of the API key the caller came with, if known.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }
}

/// The caller, or `Unauthenticated` when anonymous.
pub(crate) fn required(caller: Option<&Caller>) -> Result<&Caller, Error> {
    caller.ok_or_else(|| {
        Error::unauthenticated("this request needs an API key: send `Authorization: Bearer <key>`")
    })
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
pub(crate) fn mint_key() -> Result<String, Error> {
    random_hex(24)
        .map(|random| format!("{API_KEY_PREFIX}{random}"))
        .map_err(|error| Error::internal(format!("no randomness for an API key: {error}")))
}

/// A new opaque id of 24 hex digits.
pub(crate) fn mint_id() -> Result<String, Error> {
    random_hex(12).map_err(|error| Error::internal(format!("no randomness for an id: {error}")))
}

/// The caller's role in an entity: the user's own entity counts as admin.
pub(crate) fn role_in(
    connection: &Connection,
    caller: &Caller,
    entity_id: i64,
) -> Result<Option<Role>, Error> {
    if caller.entity_id == entity_id {
        return Ok(Some(Role::Admin));
    }
    accounts::team_role(connection, entity_id, caller.user_id)
}

/// Whether the caller may create projects in and write to the entity's private projects.
pub(crate) fn can_write_entity(
    connection: &Connection,
    caller: &Caller,
    entity_id: i64,
) -> Result<bool, Error> {
    Ok(caller.admin || role_in(connection, caller, entity_id)?.is_some())
}

/// Whether the caller may read the project.
pub(crate) fn can_read(
    connection: &Connection,
    caller: Option<&Caller>,
    project: &ProjectRow,
) -> Result<bool, Error> {
    if project.deleted {
        return Ok(false);
    }
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
) -> Result<bool, Error> {
    if project.deleted {
        return Ok(false);
    }
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
) -> Result<bool, Error> {
    Ok(caller.admin || role_in(connection, caller, entity_id)? == Some(Role::Admin))
}

/// The project, if the caller may read it; otherwise `not_found`, as if it did not exist.
pub(crate) fn project_for_read(
    connection: &Connection,
    caller: Option<&Caller>,
    entity: &str,
    project: &str,
) -> Result<ProjectRow, Error> {
    match find_project(connection, entity, project)? {
        Some(row) if can_read(connection, caller, &row)? => Ok(row),
        _ => Err(Error::not_found(format!(
            "project `{entity}/{project}` not found (or you may not read it)"
        ))),
    }
}

/// The project, if the caller may write to it, created (private) on first use when the caller
/// may write to the entity. A refused write is `permission_denied` whether or not the project
/// exists.
pub(crate) fn project_for_write(
    connection: &Connection,
    caller: &Caller,
    entity: &str,
    project: &str,
) -> Result<ProjectRow, Error> {
    validate::entity_name(entity)?;
    validate::project_name(project)?;
    let denied = || {
        Error::denied(format!(
            "you (`{}`) may not write to project `{entity}/{project}`; ask a member of `{entity}` for access",
            caller.username
        ))
    };
    if let Some(row) = find_project(connection, entity, project)? {
        return if can_write(connection, Some(caller), &row)? {
            Ok(row)
        } else {
            Err(denied())
        };
    }
    let Some(owner) = find_entity(connection, entity)? else {
        return Err(Error::not_found(format!(
            "entity `{entity}` not found; users are created by a server admin, teams with `POST /api/v1/teams`"
        )));
    };
    if !can_write_entity(connection, caller, owner.id)? {
        return Err(denied());
    }
    projects::insert_project(connection, owner.id, project, Visibility::Private)?;
    tracing::info!(
        entity,
        project,
        user = caller.username,
        "created project on first use"
    );
    find_project(connection, entity, project)?
        .ok_or_else(|| Error::internal("a project just created is missing"))
}

fn version_not_found(id: &str) -> Error {
    Error::not_found(format!(
        "artifact version `{id}` not found (or you may not read it)"
    ))
}

/// The version, if the caller may read it: its project is readable and, while PENDING, the
/// caller may also write to it.
pub(crate) fn version_for_read(
    connection: &Connection,
    caller: Option<&Caller>,
    id: &str,
) -> Result<VersionRow, Error> {
    let Some(row) = versions::load_version(connection, id)? else {
        return Err(version_not_found(id));
    };
    if !may_read_version(connection, caller, row.version.state, &row.project)?
        && !readable_through_link(connection, caller, row.version.state, id)?
    {
        return Err(version_not_found(id));
    }
    Ok(row)
}

/// Whether a committed version is readable through a portfolio it is linked into: a
/// registry's readers read what is linked into it, even when the source project is private.
fn readable_through_link(
    connection: &Connection,
    caller: Option<&Caller>,
    state: VersionState,
    id: &str,
) -> Result<bool, Error> {
    if state != VersionState::Committed {
        return Ok(false);
    }
    for project in crate::db::links::linking_projects(connection, id)? {
        if can_read(connection, caller, &project)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The state of a version the caller may read (the rule of [`version_for_read`], in one query
/// instead of loading the whole version).
pub(crate) fn readable_state(
    connection: &Connection,
    caller: Option<&Caller>,
    id: &str,
) -> Result<VersionState, Error> {
    match versions::version_place(connection, id)? {
        Some((state, project))
            if may_read_version(connection, caller, state, &project)?
                || readable_through_link(connection, caller, state, id)? =>
        {
            Ok(state)
        }
        _ => Err(version_not_found(id)),
    }
}

/// A version is readable when its project is, and, while PENDING, writable too; a deleted
/// version is not readable at all.
fn may_read_version(
    connection: &Connection,
    caller: Option<&Caller>,
    state: VersionState,
    project: &ProjectRow,
) -> Result<bool, Error> {
    Ok(state != VersionState::Deleted
        && can_read(connection, caller, project)?
        && (state != VersionState::Pending || can_write(connection, caller, project)?))
}

/// The version, if the caller may write to its project: `not_found` when they cannot read it,
/// `permission_denied` when they can read but not write.
pub(crate) fn version_for_write(
    connection: &Connection,
    caller: &Caller,
    id: &str,
) -> Result<VersionRow, Error> {
    let Some(row) = versions::load_version(connection, id)? else {
        return Err(version_not_found(id));
    };
    if !can_read(connection, Some(caller), &row.project)? {
        return Err(version_not_found(id));
    }
    if !can_write(connection, Some(caller), &row.project)? {
        if row.version.state == VersionState::Pending {
            return Err(version_not_found(id));
        }
        return Err(Error::denied(format!(
            "you (`{}`) may read but not change artifact versions of project `{}`",
            caller.username,
            row.project.path()
        )));
    }
    Ok(row)
}

/// Fails with `not_pending` unless the version is PENDING.
pub(crate) fn require_pending(row: &VersionRow) -> Result<(), Error> {
    match row.version.state {
        VersionState::Pending => Ok(()),
        VersionState::Committed => Err(Error::refused(
            Kind::NotPending,
            format!(
                "artifact version `{}` is already committed as `{}`; committed versions never change, log a new version instead",
                row.version.id,
                row.version.qualified_name()
            ),
        )),
        VersionState::Deleted => Err(Error::refused(
            Kind::NotPending,
            format!(
                "artifact version `{}` was deleted (or discarded as a duplicate); log the artifact again",
                row.version.id
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
