//! Server-wide secrets kept in the metadata database.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::error::Error;

/// Name of the URL-signing key in the `secrets` table.
const SIGNING_KEY: &str = "url-signing-key";

/// The key that signs capability URLs (`crate::capability`), created on first use.
pub(crate) fn signing_key(connection: &Connection) -> Result<Vec<u8>, Error> {
    let existing: Option<Vec<u8>> = connection
        .query_row(
            "SELECT value FROM secrets WHERE name = ?1",
            params![SIGNING_KEY],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(key) = existing {
        return Ok(key);
    }
    let mut key = vec![0_u8; 32];
    getrandom::fill(&mut key)
        .map_err(|error| Error::internal(format!("no randomness for the signing key: {error}")))?;
    connection.execute(
        "INSERT INTO secrets (name, value) VALUES (?1, ?2)",
        params![SIGNING_KEY, key],
    )?;
    Ok(key)
}
