//! The SQL of artifact versions: loading them (with their project, aliases and tags),
//! creating, resuming, committing and editing them, their aliases and tags, and lineage.

use cairn_hash::Md5Digest;
use rusqlite::{Connection, OptionalExtension as _, Row, params};
use serde_json::{Map, Value};

use crate::db::enums::{TextEnum as _, md5_from_row};
use crate::db::projects::{PROJECT_COLUMNS, ProjectRow, project_by_id};
use crate::db::schema::NOW;
use crate::error::Error;
use crate::model::{TtlSetting, Version, VersionState, VersionTtl, Visibility};

/// A version with what access checks and the logging protocol need besides the wire form.
#[derive(Debug, Clone)]
pub(crate) struct VersionRow {
    pub(crate) version: Version,
    pub(crate) collection_id: i64,
    pub(crate) project: ProjectRow,
    pub(crate) has_manifest: bool,
    pub(crate) requested_aliases: Vec<String>,
    /// Set on a distributed version, whose parts several writers upload.
    pub(crate) distributed_id: Option<String>,
}

/// A version's state and project, in one query: what an access check needs, without the
/// aliases, tags and counts of a whole [`VersionRow`] (blob reads ask this once per request).
pub(crate) fn version_place(
    connection: &Connection,
    id: &str,
) -> Result<Option<(VersionState, ProjectRow)>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT v.state, {PROJECT_COLUMNS} JOIN collections c ON c.project_id = p.id \
             JOIN versions v ON v.collection_id = c.id WHERE v.id = ?1"
        ))?
        .query_row([id], |row| {
            Ok((
                VersionState::from_row(row, 0)?,
                ProjectRow {
                    id: row.get(1)?,
                    entity_id: row.get(2)?,
                    entity: row.get(3)?,
                    name: row.get(4)?,
                    visibility: Visibility::from_row(row, 5)?,
                    created_at: row.get(6)?,
                    deleted: row.get(7)?,
                },
            ))
        })
        .optional()?)
}

/// The TTL that applies to version `v` (of type `t`, in collection `c`), in seconds, or NULL:
/// its own, or its entity's default unless it switched TTL off or has an auto-generated type
/// (`run_table`, `code`, `job`, `wandb-*`), which never inherit one.
macro_rules! effective_ttl {
    () => {
        "CASE v.ttl_mode WHEN 'duration' THEN v.ttl_seconds WHEN 'none' THEN NULL \
         ELSE (SELECT CASE WHEN t.name IN ('run_table', 'code', 'job') OR t.name LIKE 'wandb-%' \
               THEN NULL ELSE e.default_ttl_seconds END \
               FROM projects p JOIN entities e ON e.id = p.entity_id WHERE p.id = c.project_id) END"
    };
}
pub(crate) use effective_ttl;

const VERSION_COLUMNS: &str = concat!(
    "v.id, v.collection_id, v.version_index, v.state, v.digest, v.size, v.file_count, \
     v.description, v.metadata, v.requested_aliases, r.run_id, v.created_at, v.updated_at, \
     v.committed_at, c.name, t.name, c.project_id, \
     EXISTS (SELECT 1 FROM manifests m WHERE m.version_id = v.id), v.distributed_id, \
     v.ttl_mode, v.ttl_seconds, ",
    effective_ttl!(),
    " FROM versions v JOIN collections c ON c.id = v.collection_id \
     JOIN artifact_types t ON t.id = c.type_id \
     LEFT JOIN runs r ON r.id = v.logged_by AND r.deleted_at IS NULL"
);

/// The version with this id, if any.
pub(crate) fn load_version(connection: &Connection, id: &str) -> Result<Option<VersionRow>, Error> {
    let found = connection
        .prepare_cached(&format!("SELECT {VERSION_COLUMNS} WHERE v.id = ?1"))?
        .query_row([id], partial_version)
        .optional()?;
    found
        .map(|partial| complete_version(connection, partial))
        .transpose()
}

/// Versions chosen by a `WHERE` clause over `v` (and `c`), in the order given.
fn load_versions(
    connection: &Connection,
    condition: &str,
    parameters: impl rusqlite::Params,
) -> Result<Vec<VersionRow>, Error> {
    let mut statement =
        connection.prepare_cached(&format!("SELECT {VERSION_COLUMNS} {condition}"))?;
    let partials = statement
        .query_map(parameters, partial_version)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    partials
        .into_iter()
        .map(|partial| complete_version(connection, partial))
        .collect()
}

struct PartialVersion {
    version: Version,
    collection_id: i64,
    project_id: i64,
    has_manifest: bool,
    requested_aliases: Vec<String>,
    distributed_id: Option<String>,
}

fn partial_version(row: &Row<'_>) -> rusqlite::Result<PartialVersion> {
    let metadata: String = row.get(8)?;
    let metadata = serde_json::from_str::<Map<String, Value>>(&metadata).unwrap_or_default();
    let requested: String = row.get(9)?;
    let requested_aliases = serde_json::from_str::<Vec<String>>(&requested).unwrap_or_default();
    let index: Option<i64> = row.get(2)?;
    let size: i64 = row.get(5)?;
    let file_count: i64 = row.get(6)?;
    Ok(PartialVersion {
        version: Version {
            id: row.get(0)?,
            entity: String::new(),
            project: String::new(),
            project_id: 0,
            collection_id: row.get(1)?,
            collection: row.get(14)?,
            artifact_type: row.get(15)?,
            version_index: index.and_then(|index| u64::try_from(index).ok()),
            state: VersionState::from_row(row, 3)?,
            digest: md5_from_row(row, 4)?,
            size: u64::try_from(size).unwrap_or_default(),
            file_count: u64::try_from(file_count).unwrap_or_default(),
            description: row.get(7)?,
            metadata,
            aliases: Vec::new(),
            tags: Vec::new(),
            logged_by: row.get(10)?,
            created_at: row.get(11)?,
            updated_at: row.get(12)?,
            committed_at: row.get(13)?,
            distributed_id: row.get(18)?,
            source: None,
            ttl: ttl_from_row(row, 11)?,
        },
        collection_id: row.get(1)?,
        project_id: row.get(16)?,
        has_manifest: row.get(17)?,
        requested_aliases,
        distributed_id: row.get(18)?,
    })
}

/// The TTL columns (19: mode, 20: own seconds, 21: effective seconds) with `created_at` at
/// `created`.
fn ttl_from_row(row: &Row<'_>, created: usize) -> rusqlite::Result<VersionTtl> {
    let mode: String = row.get(19)?;
    let own: Option<i64> = row.get(20)?;
    let effective: Option<i64> = row.get(21)?;
    let setting = match (mode.as_str(), own) {
        ("duration", Some(seconds)) => TtlSetting::Seconds(u64::try_from(seconds).unwrap_or(0)),
        ("none", _) => TtlSetting::Never,
        _ => TtlSetting::Inherit,
    };
    let seconds = effective.and_then(|seconds| u64::try_from(seconds).ok());
    let created_at: String = row.get(created)?;
    Ok(VersionTtl {
        setting,
        seconds,
        inherited: setting == TtlSetting::Inherit,
        expires_at: seconds.map(|seconds| add_seconds(&created_at, seconds)),
    })
}

/// `at` (RFC 3339 as stored) plus `seconds`, in the same form; `at` itself if it does not parse.
pub(crate) fn add_seconds(at: &str, seconds: u64) -> String {
    crate::clock::parse_rfc3339_ms(at).map_or_else(
        || at.to_owned(),
        |ms| {
            let offset = i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
            crate::clock::rfc3339_ms(ms.saturating_add(offset))
        },
    )
}

fn complete_version(connection: &Connection, partial: PartialVersion) -> Result<VersionRow, Error> {
    let project = project_by_id(connection, partial.project_id)?;
    let mut version = partial.version;
    version.entity = project.entity.clone();
    version.project = project.name.clone();
    version.project_id = project.id;
    version.aliases = super::links::aliases_in(connection, partial.collection_id, &version.id)?;
    version.tags = strings(
        connection,
        "SELECT tag FROM tags WHERE version_id = ?1 ORDER BY tag",
        &version.id,
    )?;
    Ok(VersionRow {
        version,
        collection_id: partial.collection_id,
        project,
        has_manifest: partial.has_manifest,
        requested_aliases: partial.requested_aliases,
        distributed_id: partial.distributed_id,
    })
}

fn strings(connection: &Connection, sql: &str, id: &str) -> Result<Vec<String>, Error> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map([id], |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The latest COMMITTED version of a collection (highest `vN`), if any.
pub(crate) fn latest_committed(
    connection: &Connection,
    collection_id: i64,
) -> Result<Option<(String, Md5Digest)>, Error> {
    Ok(connection
        .prepare_cached(
            "SELECT id, digest FROM versions WHERE collection_id = ?1 AND state = 'COMMITTED' \
             ORDER BY version_index DESC LIMIT 1",
        )?
        .query_row([collection_id], |row| {
            Ok((row.get(0)?, md5_from_row(row, 1)?))
        })
        .optional()?)
}

/// Points `alias` of the collection at `version_id`, moving it from wherever it was.
pub(crate) fn move_alias(
    connection: &Connection,
    collection_id: i64,
    alias: &str,
    version_id: &str,
) -> Result<(), Error> {
    connection
        .prepare_cached(
            "INSERT INTO aliases (collection_id, alias, version_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (collection_id, alias) DO UPDATE SET version_id = excluded.version_id",
        )?
        .execute(params![collection_id, alias, version_id])?;
    Ok(())
}

/// Adds tags to a version (existing ones are kept).
pub(crate) fn add_tags(
    connection: &Connection,
    version_id: &str,
    tags: &[String],
) -> Result<(), Error> {
    let mut statement = connection
        .prepare_cached("INSERT OR IGNORE INTO tags (version_id, tag) VALUES (?1, ?2)")?;
    for tag in tags {
        statement.execute(params![version_id, tag])?;
    }
    Ok(())
}

/// Marks a version changed now.
pub(crate) fn touch_version(connection: &Connection, version_id: &str) -> Result<(), Error> {
    connection
        .prepare_cached(&format!(
            "UPDATE versions SET updated_at = {} WHERE id = ?1",
            super::schema::NOW
        ))?
        .execute([version_id])?;
    Ok(())
}

/// The id of the newest PENDING version of the collection with this digest (an interrupted log).
pub(crate) fn pending_with_digest(
    connection: &Connection,
    collection_id: i64,
    digest: &Md5Digest,
) -> Result<Option<String>, Error> {
    Ok(connection
        .query_row(
            "SELECT id FROM versions WHERE collection_id = ?1 AND digest = ?2 AND state = 'PENDING' \
             ORDER BY created_at DESC LIMIT 1",
            params![collection_id, digest.to_hex()],
            |row| row.get(0),
        )
        .optional()?)
}

/// What a log records about a version besides its content.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Details<'a> {
    pub(crate) description: Option<&'a str>,
    /// Metadata as JSON text.
    pub(crate) metadata: &'a str,
    /// The requested aliases as a JSON array.
    pub(crate) requested_aliases: &'a str,
    /// The logging run's row id.
    pub(crate) logged_by: Option<i64>,
}

/// Records a resumed log's details on its PENDING version.
pub(crate) fn update_pending(
    connection: &Connection,
    id: &str,
    details: Details<'_>,
) -> Result<(), Error> {
    connection.execute(
        &format!(
            "UPDATE versions SET description = ?2, metadata = ?3, requested_aliases = ?4, \
             logged_by = ?5, updated_at = {NOW} WHERE id = ?1"
        ),
        params![
            id,
            details.description,
            details.metadata,
            details.requested_aliases,
            details.logged_by
        ],
    )?;
    Ok(())
}

/// The version of a collection with this distributed id (any state), if any.
pub(crate) fn with_distributed_id(
    connection: &Connection,
    collection_id: i64,
    distributed_id: &str,
) -> Result<Option<String>, Error> {
    Ok(connection
        .query_row(
            "SELECT id FROM versions WHERE collection_id = ?1 AND distributed_id = ?2",
            params![collection_id, distributed_id],
            |row| row.get(0),
        )
        .optional()?)
}

/// Marks a PENDING version as distributed.
pub(crate) fn set_distributed_id(
    connection: &Connection,
    id: &str,
    distributed_id: &str,
) -> Result<(), Error> {
    connection.execute(
        "UPDATE versions SET distributed_id = ?2 WHERE id = ?1",
        params![id, distributed_id],
    )?;
    Ok(())
}

/// Creates a PENDING version.
pub(crate) fn insert_pending(
    connection: &Connection,
    id: &str,
    collection_id: i64,
    digest: &Md5Digest,
    details: Details<'_>,
) -> Result<(), Error> {
    connection.execute(
        &format!(
            "INSERT INTO versions (id, collection_id, state, digest, description, metadata, \
             requested_aliases, logged_by, created_at, updated_at) \
             VALUES (?1, ?2, 'PENDING', ?3, ?4, ?5, ?6, ?7, {NOW}, {NOW})"
        ),
        params![
            id,
            collection_id,
            digest.to_hex(),
            details.description,
            details.metadata,
            details.requested_aliases,
            details.logged_by
        ],
    )?;
    Ok(())
}

/// The committed version of the collection with index `index`.
pub(crate) fn committed_by_index(
    connection: &Connection,
    collection_id: i64,
    index: i64,
) -> Result<Option<String>, Error> {
    Ok(connection
        .query_row(
            "SELECT id FROM versions WHERE state = 'COMMITTED' AND collection_id = ?1 AND version_index = ?2",
            params![collection_id, index],
            |row| row.get(0),
        )
        .optional()?)
}

/// The committed version the collection's alias points at.
pub(crate) fn committed_by_alias(
    connection: &Connection,
    collection_id: i64,
    alias: &str,
) -> Result<Option<String>, Error> {
    Ok(connection
        .query_row(
            "SELECT v.id FROM aliases a JOIN versions v ON v.id = a.version_id \
             WHERE a.collection_id = ?1 AND a.alias = ?2 AND v.state = 'COMMITTED'",
            params![collection_id, alias],
            |row| row.get(0),
        )
        .optional()?)
}

/// The newest committed version of the collection with this digest.
pub(crate) fn committed_by_digest(
    connection: &Connection,
    collection_id: i64,
    digest: &Md5Digest,
) -> Result<Option<String>, Error> {
    Ok(connection
        .query_row(
            "SELECT id FROM versions WHERE state = 'COMMITTED' AND collection_id = ?1 AND digest = ?2 \
             ORDER BY version_index DESC LIMIT 1",
            params![collection_id, digest.to_hex()],
            |row| row.get(0),
        )
        .optional()?)
}

/// Sets (or, with `None`, clears) a version's description.
pub(crate) fn set_description(
    connection: &Connection,
    id: &str,
    description: Option<&str>,
) -> Result<(), Error> {
    connection.execute(
        "UPDATE versions SET description = ?2 WHERE id = ?1",
        params![id, description],
    )?;
    Ok(())
}

/// Replaces a version's metadata (JSON text).
pub(crate) fn set_metadata(connection: &Connection, id: &str, metadata: &str) -> Result<(), Error> {
    connection.execute(
        "UPDATE versions SET metadata = ?2 WHERE id = ?1",
        params![id, metadata],
    )?;
    Ok(())
}

/// Removes an alias from a version (if it points there).
pub(crate) fn remove_alias(
    connection: &Connection,
    collection_id: i64,
    alias: &str,
    id: &str,
) -> Result<(), Error> {
    connection.execute(
        "DELETE FROM aliases WHERE collection_id = ?1 AND alias = ?2 AND version_id = ?3",
        params![collection_id, alias, id],
    )?;
    Ok(())
}

/// Removes a tag from a version.
pub(crate) fn remove_tag(connection: &Connection, id: &str, tag: &str) -> Result<(), Error> {
    connection.execute(
        "DELETE FROM tags WHERE version_id = ?1 AND tag = ?2",
        params![id, tag],
    )?;
    Ok(())
}

/// The next version index of a collection (indexes are never reused).
pub(crate) fn next_index(connection: &Connection, collection_id: i64) -> Result<i64, Error> {
    Ok(connection.query_row(
        "SELECT COALESCE(MAX(version_index) + 1, 0) FROM versions WHERE collection_id = ?1",
        [collection_id],
        |row| row.get(0),
    )?)
}

/// Marks a PENDING version committed as `vN`.
pub(crate) fn mark_committed(connection: &Connection, id: &str, index: i64) -> Result<(), Error> {
    connection.execute(
        &format!(
            "UPDATE versions SET state = 'COMMITTED', version_index = ?2, committed_at = {NOW}, \
             updated_at = {NOW} WHERE id = ?1"
        ),
        params![id, index],
    )?;
    Ok(())
}

/// Marks a version deleted.
pub(crate) fn mark_deleted(connection: &Connection, id: &str) -> Result<(), Error> {
    connection.execute(
        &format!("UPDATE versions SET state = 'DELETED', updated_at = {NOW} WHERE id = ?1"),
        [id],
    )?;
    Ok(())
}

/// The run (project id, run id) that logged a version.
pub(crate) fn logging_run(
    connection: &Connection,
    id: &str,
) -> Result<Option<(i64, String)>, Error> {
    Ok(connection
        .prepare_cached(
            "SELECT r.project_id, r.run_id FROM versions v JOIN runs r ON r.id = v.logged_by \
             WHERE v.id = ?1 AND r.deleted_at IS NULL",
        )?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// The runs (project id, run id) that used a version, in the order they did.
pub(crate) fn using_runs(connection: &Connection, id: &str) -> Result<Vec<(i64, String)>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT r.project_id, r.run_id FROM run_inputs i JOIN runs r ON r.id = i.run_id \
         AND r.deleted_at IS NULL \
         WHERE i.version_id = ?1 ORDER BY i.used_at, r.run_id",
    )?;
    let rows = statement.query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A page of the committed versions of a collection, newest first: those older than `before`
/// (a version index), at most `limit`, only the one `alias` points at when given. Answers the
/// page and how many match in all.
pub(crate) fn committed_page(
    connection: &Connection,
    collection_id: i64,
    alias: Option<&str>,
    before: Option<u64>,
    limit: usize,
) -> Result<(Vec<VersionRow>, u64), Error> {
    const MATCHES: &str = "v.collection_id = ?1 AND v.state = 'COMMITTED' \
         AND (?2 IS NULL OR EXISTS (SELECT 1 FROM aliases a WHERE a.collection_id = v.collection_id \
              AND a.alias = ?2 AND a.version_id = v.id))";
    let before = before.and_then(|index| i64::try_from(index).ok());
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let total: i64 = connection
        .prepare_cached(&format!("SELECT count(*) FROM versions v WHERE {MATCHES}"))?
        .query_row(params![collection_id, alias], |row| row.get(0))?;
    let rows = load_versions(
        connection,
        &format!(
            "WHERE {MATCHES} AND (?3 IS NULL OR v.version_index < ?3) \
             ORDER BY v.version_index DESC LIMIT ?4"
        ),
        params![collection_id, alias, before, limit],
    )?;
    Ok((rows, u64::try_from(total).unwrap_or_default()))
}

/// The committed versions a run logged, newest first.
pub(crate) fn logged_by_run(connection: &Connection, run: i64) -> Result<Vec<VersionRow>, Error> {
    load_versions(
        connection,
        "WHERE v.logged_by = ?1 AND v.state = 'COMMITTED' ORDER BY v.committed_at DESC, v.id",
        [run],
    )
}

/// The versions a run used, most recently used first.
pub(crate) fn used_by_run(connection: &Connection, run: i64) -> Result<Vec<VersionRow>, Error> {
    load_versions(
        connection,
        "JOIN run_inputs i ON i.version_id = v.id WHERE i.run_id = ?1 AND v.state = 'COMMITTED' \
         ORDER BY i.used_at DESC, v.id",
        [run],
    )
}

/// A version's digest (hex, as declared), total size and entry count.
pub(crate) fn totals(connection: &Connection, id: &str) -> Result<(String, u64, u64), Error> {
    let (digest, size, count): (String, i64, i64) = connection.query_row(
        "SELECT digest, size, file_count FROM versions WHERE id = ?1",
        [id],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    Ok((
        digest,
        u64::try_from(size).unwrap_or_default(),
        u64::try_from(count).unwrap_or_default(),
    ))
}
