//! The SQL of retention: a team's TTL settings, a version's TTL, and which versions expired.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::db::enums::TextEnum as _;
use crate::db::schema::NOW;
use crate::db::versions::effective_ttl;
use crate::error::Error;
use crate::model::{TeamSettings, TeamSettingsEdit, TtlEditors, TtlSetting};

/// The retention settings of entity `entity_id` (a user's are the defaults).
pub(crate) fn team_settings(
    connection: &Connection,
    entity_id: i64,
) -> Result<TeamSettings, Error> {
    Ok(connection
        .prepare_cached("SELECT default_ttl_seconds, ttl_editors FROM entities WHERE id = ?1")?
        .query_row([entity_id], |row| {
            let seconds: Option<i64> = row.get(0)?;
            Ok(TeamSettings {
                default_ttl_seconds: seconds.and_then(|seconds| u64::try_from(seconds).ok()),
                ttl_editors: TtlEditors::from_row(row, 1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Applies `edit` to entity `entity_id`.
pub(crate) fn set_team_settings(
    connection: &Connection,
    entity_id: i64,
    edit: TeamSettingsEdit,
) -> Result<(), Error> {
    if let Some(seconds) = edit.default_ttl_seconds {
        let seconds = seconds.map(|seconds| i64::try_from(seconds).unwrap_or(i64::MAX));
        connection.execute(
            "UPDATE entities SET default_ttl_seconds = ?2 WHERE id = ?1",
            params![entity_id, seconds],
        )?;
    }
    if let Some(editors) = edit.ttl_editors {
        connection.execute(
            "UPDATE entities SET ttl_editors = ?2 WHERE id = ?1",
            params![entity_id, editors.as_sql()],
        )?;
    }
    Ok(())
}

/// Sets version `id`'s TTL.
pub(crate) fn set_ttl(connection: &Connection, id: &str, setting: TtlSetting) -> Result<(), Error> {
    let (mode, seconds) = match setting {
        TtlSetting::Inherit => ("inherit", None),
        TtlSetting::Never => ("none", None),
        TtlSetting::Seconds(seconds) => {
            ("duration", Some(i64::try_from(seconds).unwrap_or(i64::MAX)))
        }
    };
    connection
        .prepare_cached("UPDATE versions SET ttl_mode = ?2, ttl_seconds = ?3 WHERE id = ?1")?
        .execute(params![id, mode, seconds])?;
    Ok(())
}

/// The committed versions whose TTL ran out at `now` (RFC 3339 text), oldest expiry first.
pub(crate) fn expired(connection: &Connection, now: &str) -> Result<Vec<String>, Error> {
    let mut statement = connection.prepare_cached(concat!(
        "SELECT id FROM (SELECT v.id AS id, v.created_at AS created_at, ",
        effective_ttl!(),
        " AS ttl FROM versions v JOIN collections c ON c.id = v.collection_id \
          JOIN artifact_types t ON t.id = c.type_id WHERE v.state = 'COMMITTED') \
          WHERE ttl IS NOT NULL \
          AND strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '+' || ttl || ' seconds') <= ?1 \
          ORDER BY strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '+' || ttl || ' seconds'), id"
    ))?;
    let ids = statement
        .query_map([now], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

fn ids(
    connection: &Connection,
    sql: &str,
    key: impl rusqlite::ToSql,
) -> Result<Vec<String>, Error> {
    let mut statement = connection.prepare_cached(sql)?;
    let ids = statement
        .query_map([key], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// The live (not deleted) versions of a collection.
pub(crate) fn live_in_collection(
    connection: &Connection,
    collection_id: i64,
) -> Result<Vec<String>, Error> {
    ids(
        connection,
        "SELECT id FROM versions WHERE collection_id = ?1 AND state != 'DELETED' ORDER BY id",
        collection_id,
    )
}

/// The live versions a run (row id) logged.
pub(crate) fn live_logged_by(connection: &Connection, run: i64) -> Result<Vec<String>, Error> {
    ids(
        connection,
        "SELECT id FROM versions WHERE logged_by = ?1 AND state != 'DELETED' ORDER BY id",
        run,
    )
}

/// The live versions of a project's collections.
pub(crate) fn live_in_project(
    connection: &Connection,
    project_id: i64,
) -> Result<Vec<String>, Error> {
    ids(
        connection,
        "SELECT v.id FROM versions v JOIN collections c ON c.id = v.collection_id \
         WHERE c.project_id = ?1 AND v.state != 'DELETED' ORDER BY v.id",
        project_id,
    )
}

/// The versions live-linked into a portfolio.
pub(crate) fn live_links_of(
    connection: &Connection,
    portfolio_id: i64,
) -> Result<Vec<String>, Error> {
    ids(
        connection,
        "SELECT version_id FROM links WHERE portfolio_id = ?1 AND unlinked_at IS NULL \
         ORDER BY link_index",
        portfolio_id,
    )
}

/// The portfolios (ids) of a project.
pub(crate) fn portfolios_of(connection: &Connection, project_id: i64) -> Result<Vec<i64>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT id FROM collections WHERE project_id = ?1 AND kind = 'portfolio' \
         AND deleted_at IS NULL",
    )?;
    let ids = statement
        .query_map([project_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Marks a collection deleted and renames it to a name no valid name equals (`name~deleted~id`),
/// so the name is free again while its versions keep their rows.
pub(crate) fn tombstone_collection(connection: &Connection, id: i64) -> Result<(), Error> {
    connection.execute(
        &format!(
            "UPDATE collections SET name = name || '~deleted~' || id, deleted_at = {NOW} \
             WHERE id = ?1"
        ),
        [id],
    )?;
    Ok(())
}

/// Marks a run (row id) deleted under a name no valid run id equals.
pub(crate) fn tombstone_run(connection: &Connection, id: i64) -> Result<(), Error> {
    connection.execute(
        &format!(
            "UPDATE runs SET run_id = run_id || '~deleted~' || id, deleted_at = {NOW} WHERE id = ?1"
        ),
        [id],
    )?;
    Ok(())
}

/// Marks a project deleted under a name no valid project name equals; its runs and
/// collections go with it.
pub(crate) fn tombstone_project(connection: &Connection, id: i64) -> Result<(), Error> {
    connection.execute(
        &format!(
            "UPDATE projects SET name = name || '~deleted~' || id, deleted_at = {NOW} WHERE id = ?1"
        ),
        [id],
    )?;
    connection.execute(
        &format!("UPDATE runs SET deleted_at = {NOW} WHERE project_id = ?1 AND deleted_at IS NULL"),
        [id],
    )?;
    connection.execute(
        &format!(
            "UPDATE collections SET deleted_at = {NOW} WHERE project_id = ?1 AND deleted_at IS NULL"
        ),
        [id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The clock's text form must sort and compare like the timestamps SQLite writes.
    #[test]
    fn clock_text_agrees_with_sqlite_over_the_years() {
        let connection = rusqlite::Connection::open_in_memory().unwrap_or_else(|_| unreachable!());
        for ms in (0..4_102_444_800_000_i64).step_by(86_400_000 * 37 + 3_601_000) {
            let sqlite: String = connection
                .query_row(
                    "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1 / 1000.0, 'unixepoch')",
                    [ms],
                    |row| row.get(0),
                )
                .unwrap_or_default();
            assert_eq!(crate::clock::rfc3339_ms(ms), sqlite, "{ms}");
        }
    }
}
