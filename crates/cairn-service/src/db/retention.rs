//! The SQL of retention: a team's TTL settings, a version's TTL, and which versions expired.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::db::enums::TextEnum as _;
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
