//! The SQL of projects and collections (with their artifact types).

use rusqlite::{Connection, OptionalExtension as _, Row, params};

use crate::db::enums::TextEnum as _;
use crate::db::schema::NOW;
use crate::error::Error;
use crate::model::{ArtifactType, Collection, CollectionKind, Project, Visibility};

/// A project with its entity.
#[derive(Debug, Clone)]
pub(crate) struct ProjectRow {
    pub(crate) id: i64,
    pub(crate) entity_id: i64,
    pub(crate) entity: String,
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) created_at: String,
    /// Deleted: nobody reads or writes it any more.
    pub(crate) deleted: bool,
}

impl ProjectRow {
    pub(crate) fn to_model(&self) -> Project {
        Project {
            id: self.id,
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

pub(crate) const PROJECT_COLUMNS: &str = "p.id, p.entity_id, e.name, p.name, p.visibility, p.created_at, p.deleted_at IS NOT NULL FROM projects p JOIN entities e ON e.id = p.entity_id";

fn project_from_row(row: &Row<'_>) -> rusqlite::Result<ProjectRow> {
    Ok(ProjectRow {
        id: row.get(0)?,
        entity_id: row.get(1)?,
        entity: row.get(2)?,
        name: row.get(3)?,
        visibility: Visibility::from_row(row, 4)?,
        created_at: row.get(5)?,
        deleted: row.get(6)?,
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

/// Every project of an entity, sorted by name.
pub(crate) fn entity_projects(
    connection: &Connection,
    entity_id: i64,
) -> Result<Vec<ProjectRow>, Error> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {PROJECT_COLUMNS} WHERE p.entity_id = ?1 AND p.deleted_at IS NULL ORDER BY p.name"
    ))?;
    let rows = statement.query_map([entity_id], project_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Creates a project.
pub(crate) fn insert_project(
    connection: &Connection,
    entity_id: i64,
    name: &str,
    visibility: Visibility,
) -> Result<(), Error> {
    connection.execute(
        &format!(
            "INSERT INTO projects (entity_id, name, visibility, created_at) VALUES (?1, ?2, ?3, {NOW})"
        ),
        params![entity_id, name, visibility.as_sql()],
    )?;
    Ok(())
}

/// Changes a project's visibility.
pub(crate) fn set_visibility(
    connection: &Connection,
    project_id: i64,
    visibility: Visibility,
) -> Result<(), Error> {
    connection.execute(
        "UPDATE projects SET visibility = ?2 WHERE id = ?1",
        params![project_id, visibility.as_sql()],
    )?;
    Ok(())
}

/// A collection's columns; a portfolio counts its live links of committed versions, and its
/// `latest` is the index of the link it points at.
const COLLECTION_COLUMNS: &str = "c.id, c.name, t.name, c.created_at, c.updated_at, c.description, \
     CASE c.kind WHEN 'portfolio' THEN \
       (SELECT count(*) FROM links l JOIN versions v ON v.id = l.version_id \
        WHERE l.portfolio_id = c.id AND l.unlinked_at IS NULL AND v.state = 'COMMITTED') \
     ELSE (SELECT count(*) FROM versions v WHERE v.collection_id = c.id AND v.state = 'COMMITTED') END, \
     CASE c.kind WHEN 'portfolio' THEN \
       (SELECT l.link_index FROM aliases a JOIN links l ON l.portfolio_id = a.collection_id \
        AND l.version_id = a.version_id AND l.unlinked_at IS NULL \
        WHERE a.collection_id = c.id AND a.alias = 'latest') \
     ELSE (SELECT v.version_index FROM aliases a JOIN versions v ON v.id = a.version_id \
      WHERE a.collection_id = c.id AND a.alias = 'latest') END, \
     c.kind \
     FROM collections c JOIN artifact_types t ON t.id = c.type_id";

fn collection_from_row(project: &ProjectRow, row: &Row<'_>) -> rusqlite::Result<(i64, Collection)> {
    let count: i64 = row.get(6)?;
    let latest: Option<i64> = row.get(7)?;
    Ok((
        row.get(0)?,
        Collection {
            id: row.get(0)?,
            kind: CollectionKind::from_row(row, 8)?,
            description: row.get(5)?,
            entity: project.entity.clone(),
            project: project.name.clone(),
            name: row.get(1)?,
            artifact_type: row.get(2)?,
            version_count: u64::try_from(count).unwrap_or_default(),
            latest: latest.map(|index| format!("v{index}")),
            created_at: row.get(3)?,
            updated_at: row.get(4)?,
        },
    ))
}

/// The collection `name` of the project, with its id.
pub(crate) fn find_collection(
    connection: &Connection,
    project: &ProjectRow,
    name: &str,
) -> Result<Option<(i64, Collection)>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {COLLECTION_COLUMNS} WHERE c.project_id = ?1 AND c.name = ?2"
        ))?
        .query_row(params![project.id, name], |row| {
            collection_from_row(project, row)
        })
        .optional()?)
}

/// The collection with this id and its project.
pub(crate) fn collection_by_id(
    connection: &Connection,
    id: i64,
) -> Result<Option<(ProjectRow, Collection)>, Error> {
    let project_id: Option<i64> = connection
        .query_row(
            "SELECT project_id FROM collections WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?;
    let Some(project_id) = project_id else {
        return Ok(None);
    };
    let project = project_by_id(connection, project_id)?;
    let collection = connection
        .prepare_cached(&format!(
            "SELECT {COLLECTION_COLUMNS} WHERE c.id = ?1 AND c.deleted_at IS NULL"
        ))?
        .query_row([id], |row| collection_from_row(&project, row))
        .optional()?;
    Ok(collection.map(|(_, collection)| (project, collection)))
}

/// The project's artifact types with their collection counts, by name.
pub(crate) fn artifact_types(
    connection: &Connection,
    project: &ProjectRow,
) -> Result<Vec<ArtifactType>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT t.name, count(c.id), min(c.created_at) FROM artifact_types t \
         JOIN collections c ON c.type_id = t.id WHERE t.project_id = ?1 \
         AND c.deleted_at IS NULL GROUP BY t.id ORDER BY t.name",
    )?;
    let types = statement
        .query_map([project.id], |row| {
            let count: i64 = row.get(1)?;
            Ok(ArtifactType {
                name: row.get(0)?,
                collection_count: u64::try_from(count).unwrap_or_default(),
                created_at: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(types)
}

/// Renames a collection and/or sets its description (`Some("")` clears it).
pub(crate) fn update_collection(
    connection: &Connection,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<(), Error> {
    connection.execute(
        &format!(
            "UPDATE collections SET name = COALESCE(?2, name), \
             description = CASE WHEN ?3 IS NULL THEN description WHEN ?3 = '' THEN NULL ELSE ?3 END, \
             updated_at = {NOW} WHERE id = ?1"
        ),
        params![id, name, description],
    )?;
    Ok(())
}

/// The project's collections (of `artifact_type` when given), by name.
pub(crate) fn list_collections(
    connection: &Connection,
    project: &ProjectRow,
    artifact_type: Option<&str>,
    after: Option<&str>,
    limit: Option<usize>,
) -> Result<Vec<Collection>, Error> {
    // SQLite reads a negative limit as none.
    let limit = limit.map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {COLLECTION_COLUMNS} WHERE c.project_id = ?1 AND (?2 IS NULL OR t.name = ?2) \
         AND c.deleted_at IS NULL AND (?3 IS NULL OR c.name > ?3) ORDER BY c.name LIMIT ?4"
    ))?;
    let collections = statement
        .query_map(params![project.id, artifact_type, after, limit], |row| {
            collection_from_row(project, row).map(|(_, collection)| collection)
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(collections)
}

/// The id, type and kind of the collection `name` of the project, if it exists.
pub(crate) fn collection_type(
    connection: &Connection,
    project_id: i64,
    name: &str,
) -> Result<Option<(i64, String, CollectionKind)>, Error> {
    Ok(connection
        .query_row(
            "SELECT c.id, t.name, c.kind FROM collections c JOIN artifact_types t ON t.id = c.type_id \
             WHERE c.project_id = ?1 AND c.name = ?2",
            params![project_id, name],
            |row| Ok((row.get(0)?, row.get(1)?, CollectionKind::from_row(row, 2)?)),
        )
        .optional()?)
}

/// Creates the collection `name` of type `artifact_type` (creating the type on first use);
/// returns its id.
pub(crate) fn insert_collection(
    connection: &Connection,
    project_id: i64,
    name: &str,
    artifact_type: &str,
    kind: CollectionKind,
) -> Result<i64, Error> {
    connection.execute(
        "INSERT OR IGNORE INTO artifact_types (project_id, name) VALUES (?1, ?2)",
        params![project_id, artifact_type],
    )?;
    let type_id: i64 = connection.query_row(
        "SELECT id FROM artifact_types WHERE project_id = ?1 AND name = ?2",
        params![project_id, artifact_type],
        |row| row.get(0),
    )?;
    connection.execute(
        &format!(
            "INSERT INTO collections (project_id, name, type_id, kind, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, {NOW}, {NOW})"
        ),
        params![project_id, name, type_id, kind.as_sql()],
    )?;
    Ok(connection.last_insert_rowid())
}

/// The id of the collection `name` of the project, if it exists.
pub(crate) fn collection_id(
    connection: &Connection,
    project_id: i64,
    name: &str,
) -> Result<Option<i64>, Error> {
    Ok(connection
        .query_row(
            "SELECT id FROM collections WHERE project_id = ?1 AND name = ?2",
            params![project_id, name],
            |row| row.get(0),
        )
        .optional()?)
}

/// The id and kind of the collection `name` of the project, if it exists.
pub(crate) fn collection_kind(
    connection: &Connection,
    project_id: i64,
    name: &str,
) -> Result<Option<(i64, CollectionKind)>, Error> {
    Ok(connection
        .query_row(
            "SELECT id, kind FROM collections WHERE project_id = ?1 AND name = ?2",
            params![project_id, name],
            |row| Ok((row.get(0)?, CollectionKind::from_row(row, 1)?)),
        )
        .optional()?)
}

/// Marks a collection changed now.
pub(crate) fn touch_collection(connection: &Connection, collection_id: i64) -> Result<(), Error> {
    connection.execute(
        &format!("UPDATE collections SET updated_at = {NOW} WHERE id = ?1"),
        [collection_id],
    )?;
    Ok(())
}

/// The aliases in use in a collection, sorted.
pub(crate) fn collection_aliases(
    connection: &Connection,
    collection_id: i64,
) -> Result<Vec<String>, Error> {
    let mut statement = connection
        .prepare_cached("SELECT alias FROM aliases WHERE collection_id = ?1 ORDER BY alias")?;
    let aliases = statement
        .query_map([collection_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(aliases)
}
