//! The SQL of API keys: stored by the SHA-256 of the secret, shown and revoked by an id.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::access::Caller;
use crate::db::schema::NOW;
use crate::error::Error;

/// A row of `api_keys`, without the hash.
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) name: Option<String>,
    pub(crate) created_at: String,
    pub(crate) expires_at: Option<String>,
    pub(crate) revoked_at: Option<String>,
    pub(crate) last_used_at: Option<String>,
}

const KEY_COLUMNS: &str =
    "k.id, k.user_id, k.name, k.created_at, k.expires_at, k.revoked_at, k.last_used_at";

pub(crate) fn key_from_row(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        id: row.get(first)?,
        user_id: row.get(first + 1)?,
        name: row.get(first + 2)?,
        created_at: row.get(first + 3)?,
        expires_at: row.get(first + 4)?,
        revoked_at: row.get(first + 5)?,
        last_used_at: row.get(first + 6)?,
    })
}

/// Stores a key's hash for the user under `id`.
pub(crate) fn insert_key(
    connection: &Connection,
    user_id: i64,
    key_hash: &str,
    id: &str,
    name: Option<&str>,
    expires_at: Option<&str>,
) -> Result<(), Error> {
    connection.execute(
        &format!(
            "INSERT INTO api_keys (key_hash, user_id, created_at, id, name, expires_at) \
             VALUES (?1, ?2, {NOW}, ?3, ?4, ?5)"
        ),
        params![key_hash, user_id, id, name, expires_at],
    )?;
    Ok(())
}

/// The user a key hash belongs to, as a caller of that key, and the key's row.
pub(crate) fn caller_by_key_hash(
    connection: &Connection,
    hash: &str,
) -> Result<Option<(Caller, KeyRow)>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT u.id, u.entity_id, u.username, u.admin, {KEY_COLUMNS} FROM api_keys k \
             JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?1"
        ))?
        .query_row([hash], |row| {
            let key = key_from_row(row, 4)?;
            Ok((caller_from_row(row, &key)?, key))
        })
        .optional()?)
}

/// The caller of `key`, from `u.id, u.entity_id, u.username, u.admin` in the row's first
/// four columns.
pub(crate) fn caller_from_row(row: &rusqlite::Row<'_>, key: &KeyRow) -> rusqlite::Result<Caller> {
    Ok(Caller {
        user_id: row.get(0)?,
        entity_id: row.get(1)?,
        username: row.get(2)?,
        admin: row.get(3)?,
        key_id: Some(key.id.clone()),
    })
}

/// The key with this id.
pub(crate) fn key_by_id(connection: &Connection, id: &str) -> Result<Option<KeyRow>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1"
        ))?
        .query_row([id], |row| key_from_row(row, 0))
        .optional()?)
}

/// The keys of a user, oldest first (keys made in the same millisecond in the order they were
/// made, not by their random ids).
pub(crate) fn user_keys(connection: &Connection, user_id: i64) -> Result<Vec<KeyRow>, Error> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = ?1 ORDER BY k.created_at, k.rowid"
    ))?;
    let keys = statement
        .query_map([user_id], |row| key_from_row(row, 0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(keys)
}

/// Marks a key revoked at `at`, unless it already is.
pub(crate) fn revoke(connection: &Connection, id: &str, at: &str) -> Result<(), Error> {
    connection.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, at],
    )?;
    Ok(())
}

/// Records that a key authenticated a request at `at`.
pub(crate) fn touch(connection: &Connection, id: &str, at: &str) -> Result<(), Error> {
    connection.execute(
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
        params![id, at],
    )?;
    Ok(())
}

/// The row of a key hash, if known.
pub(crate) fn key_by_hash(connection: &Connection, hash: &str) -> Result<Option<KeyRow>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.key_hash = ?1"
        ))?
        .query_row([hash], |row| key_from_row(row, 0))
        .optional()?)
}
