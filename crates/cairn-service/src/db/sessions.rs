//! The SQL of web UI sessions: stored by the SHA-256 of their token, each acting as one API key.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::access::Caller;
use crate::db::keys::{self, KeyRow};
use crate::error::Error;

/// A session found by its token: who it acts as, through which key, and its form token.
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub(crate) caller: Caller,
    pub(crate) key: KeyRow,
    pub(crate) csrf: String,
    pub(crate) expires_at: String,
}

/// Stores a new session.
pub(crate) fn insert(
    connection: &Connection,
    token_hash: &str,
    key_id: &str,
    csrf: &str,
    created_at: &str,
    expires_at: &str,
) -> Result<(), Error> {
    connection.execute(
        "INSERT INTO ui_sessions (token_hash, key_id, csrf, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, key_id, csrf, created_at, expires_at],
    )?;
    Ok(())
}

/// The session with this token hash, with its key and user.
pub(crate) fn find(connection: &Connection, token_hash: &str) -> Result<Option<SessionRow>, Error> {
    Ok(connection
        .prepare_cached(
            "SELECT u.id, u.entity_id, u.username, u.admin, \
                    k.id, k.user_id, k.name, k.created_at, k.expires_at, k.revoked_at, \
                    k.last_used_at, s.csrf, s.expires_at \
             FROM ui_sessions s JOIN api_keys k ON k.id = s.key_id \
             JOIN users u ON u.id = k.user_id WHERE s.token_hash = ?1",
        )?
        .query_row([token_hash], |row| {
            let key = keys::key_from_row(row, 4)?;
            Ok(SessionRow {
                caller: keys::caller_from_row(row, &key)?,
                key,
                csrf: row.get(11)?,
                expires_at: row.get(12)?,
            })
        })
        .optional()?)
}

/// Ends the session with this token hash, if there is one.
pub(crate) fn delete(connection: &Connection, token_hash: &str) -> Result<(), Error> {
    connection.execute(
        "DELETE FROM ui_sessions WHERE token_hash = ?1",
        [token_hash],
    )?;
    Ok(())
}

/// Forgets every session that expired before `now`.
pub(crate) fn delete_expired(connection: &Connection, now: &str) -> Result<usize, Error> {
    Ok(connection.execute("DELETE FROM ui_sessions WHERE expires_at <= ?1", [now])?)
}
