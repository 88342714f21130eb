//! Lookups shared by the handlers: entities, projects and versions as rows, and the wire
//! [`Version`] built from them.

use crate::model::{Project, Role, Version, VersionState, Visibility};
use rusqlite::{Connection, OptionalExtension as _, Row, params};
use serde_json::{Map, Value};

pub(crate) use crate::db::enums::EntityKind;
use crate::db::enums::TextEnum as _;
use crate::db::enums::md5_from_row;
use crate::error::Error;
use cairn_hash::Md5Digest;

/// A row of `entities`.
#[derive(Debug, Clone)]
pub(crate) struct EntityRow {
    pub(crate) id: i64,
    pub(crate) kind: EntityKind,
}

/// A project with its entity.
#[derive(Debug, Clone)]
pub(crate) struct ProjectRow {
    pub(crate) id: i64,
    pub(crate) entity_id: i64,
    pub(crate) entity: String,
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) created_at: String,
}

impl ProjectRow {
    pub(crate) fn to_model(&self) -> Project {
        Project {
            entity: self.entity.clone(),
            name: self.name.clone(),
            visibility: self.visibility,
            created_at: self.created_at.clone(),
        }
    }

    /// `entity/project`, for messages.
    pub(crate) fn path(&self) -> String {
        format!("{}/{}", self.entity, self.name)
    }
}

/// A version with what access checks and the logging protocol need besides the wire form.
#[derive(Debug, Clone)]
pub(crate) struct VersionRow {
    pub(crate) version: Version,
    pub(crate) collection_id: i64,
    pub(crate) project: ProjectRow,
    pub(crate) has_manifest: bool,
    pub(crate) requested_aliases: Vec<String>,
}

/// The user's role in the team, if a member.
pub(crate) fn team_role(
    connection: &Connection,
    team_id: i64,
    user_id: i64,
) -> Result<Option<Role>, Error> {
    Ok(connection
        .prepare_cached("SELECT role FROM team_members WHERE team_id = ?1 AND user_id = ?2")?
        .query_row([team_id, user_id], |row| Role::from_row(row, 0))
        .optional()?)
}

pub(crate) fn find_entity(connection: &Connection, name: &str) -> Result<Option<EntityRow>, Error> {
    Ok(connection
        .prepare_cached("SELECT id, kind FROM entities WHERE name = ?1")?
        .query_row([name], |row| {
            Ok(EntityRow {
                id: row.get(0)?,
                kind: EntityKind::from_row(row, 1)?,
            })
        })
        .optional()?)
}

const PROJECT_COLUMNS: &str = "p.id, p.entity_id, e.name, p.name, p.visibility, p.created_at FROM projects p JOIN entities e ON e.id = p.entity_id";

fn project_from_row(row: &Row<'_>) -> rusqlite::Result<ProjectRow> {
    Ok(ProjectRow {
        id: row.get(0)?,
        entity_id: row.get(1)?,
        entity: row.get(2)?,
        name: row.get(3)?,
        visibility: Visibility::from_row(row, 4)?,
        created_at: row.get(5)?,
    })
}

pub(crate) fn find_project(
    connection: &Connection,
    entity: &str,
    project: &str,
) -> Result<Option<ProjectRow>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {PROJECT_COLUMNS} WHERE e.name = ?1 AND p.name = ?2"
        ))?
        .query_row([entity, project], project_from_row)
        .optional()?)
}

pub(crate) fn project_by_id(connection: &Connection, id: i64) -> Result<ProjectRow, Error> {
    Ok(connection
        .prepare_cached(&format!("SELECT {PROJECT_COLUMNS} WHERE p.id = ?1"))?
        .query_row([id], project_from_row)?)
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
                },
            ))
        })
        .optional()?)
}

/// Every project of an entity, sorted by name.
pub(crate) fn entity_projects(
    connection: &Connection,
    entity_id: i64,
) -> Result<Vec<ProjectRow>, Error> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {PROJECT_COLUMNS} WHERE p.entity_id = ?1 ORDER BY p.name"
    ))?;
    let rows = statement.query_map([entity_id], project_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

const VERSION_COLUMNS: &str = "v.id, v.collection_id, v.version_index, v.state, v.digest, v.size, v.file_count, \
     v.description, v.metadata, v.requested_aliases, r.run_id, v.created_at, v.updated_at, \
     v.committed_at, c.name, t.name, c.project_id, \
     EXISTS (SELECT 1 FROM manifests m WHERE m.version_id = v.id) \
     FROM versions v JOIN collections c ON c.id = v.collection_id \
     JOIN artifact_types t ON t.id = c.type_id LEFT JOIN runs r ON r.id = v.logged_by";

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
pub(crate) fn load_versions(
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
        },
        collection_id: row.get(1)?,
        project_id: row.get(16)?,
        has_manifest: row.get(17)?,
        requested_aliases,
    })
}

fn complete_version(connection: &Connection, partial: PartialVersion) -> Result<VersionRow, Error> {
    let project = project_by_id(connection, partial.project_id)?;
    let mut version = partial.version;
    version.entity = project.entity.clone();
    version.project = project.name.clone();
    version.aliases = strings(
        connection,
        "SELECT alias FROM aliases WHERE version_id = ?1 ORDER BY alias",
        &version.id,
    )?;
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
