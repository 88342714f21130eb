//! Projects and collections: an entity's projects (only the readable ones), a project's
//! settings, its collections and a collection's committed versions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_api::{Collection, CollectionList, ProjectList, UpsertProject, VersionList};
use rusqlite::{Connection, OptionalExtension as _, Row, params};

use crate::auth::{Auth, can_manage, can_read};
use crate::db::enums::TextEnum as _;
use crate::db::queries::{self, ProjectRow, entity_projects, find_entity, find_project};
use crate::db::schema::NOW;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, json, ok};
use crate::handlers::project_for_read;
use crate::state::AppState;
use crate::validate;

/// `GET /api/v1/entities/{entity}/projects`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathParams(entity): PathParams<String>,
) -> Result<Response, ApiError> {
    let list = state
        .db()
        .read(move |connection| {
            let owner = find_entity(connection, &entity)?
                .ok_or_else(|| ApiError::not_found(format!("entity `{entity}` not found")))?;
            let mut projects = Vec::new();
            for project in entity_projects(connection, owner.id)? {
                if can_read(connection, caller.as_ref(), &project)? {
                    projects.push(project.to_wire());
                }
            }
            Ok(ProjectList { projects })
        })
        .await?;
    Ok(ok(&list))
}

/// `GET /api/v1/projects/{entity}/{project}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let project = state
        .db()
        .read(move |connection| project_for_read(connection, caller.as_ref(), &entity, &project))
        .await?;
    Ok(ok(&project.to_wire()))
}

/// `PUT /api/v1/projects/{entity}/{project}`: create or change settings (owner user, team
/// admins, server admins).
pub(crate) async fn put(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<UpsertProject>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    validate::entity_name(&entity)?;
    validate::project_name(&project)?;
    let (row, created) = state
        .db()
        .write(move |connection| {
            let owner = find_entity(connection, &entity)?
                .ok_or_else(|| ApiError::not_found(format!("entity `{entity}` not found")))?;
            if !can_manage(connection, &caller, owner.id)? {
                return Err(ApiError::denied(format!(
                    "only `{entity}` itself, its team admins and server admins change project settings; `{}` may not",
                    caller.username
                )));
            }
            let existing = find_project(connection, &entity, &project)?;
            let created = existing.is_none();
            match (existing, request.visibility) {
                (Some(row), Some(visibility)) => {
                    connection.execute(
                        "UPDATE projects SET visibility = ?2 WHERE id = ?1",
                        params![row.id, visibility.as_sql()],
                    )?;
                }
                (Some(_), None) => {}
                (None, visibility) => {
                    connection.execute(
                        &format!(
                            "INSERT INTO projects (entity_id, name, visibility, created_at) VALUES (?1, ?2, ?3, {NOW})"
                        ),
                        params![owner.id, project, visibility.unwrap_or_default().as_sql()],
                    )?;
                }
            }
            let row = find_project(connection, &entity, &project)?
                .ok_or_else(|| ApiError::internal("a project just written is missing"))?;
            Ok((row, created))
        })
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json(status, &row.to_wire()))
}

const COLLECTION_COLUMNS: &str = "c.id, c.name, t.name, c.created_at, c.updated_at, \
     (SELECT count(*) FROM versions v WHERE v.collection_id = c.id AND v.state = 'COMMITTED'), \
     (SELECT v.version_index FROM aliases a JOIN versions v ON v.id = a.version_id \
      WHERE a.collection_id = c.id AND a.alias = 'latest') \
     FROM collections c JOIN artifact_types t ON t.id = c.type_id";

fn collection_from_row(project: &ProjectRow, row: &Row<'_>) -> rusqlite::Result<(i64, Collection)> {
    let count: i64 = row.get(5)?;
    let latest: Option<i64> = row.get(6)?;
    Ok((
        row.get(0)?,
        Collection {
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

fn find_collection(
    connection: &Connection,
    project: &ProjectRow,
    name: &str,
) -> Result<(i64, Collection), ApiError> {
    connection
        .prepare_cached(&format!(
            "SELECT {COLLECTION_COLUMNS} WHERE c.project_id = ?1 AND c.name = ?2"
        ))?
        .query_row(params![project.id, name], |row| {
            collection_from_row(project, row)
        })
        .optional()?
        .ok_or_else(|| {
            ApiError::not_found(format!("artifact `{}/{name}` not found", project.path()))
        })
}

/// `GET /api/v1/projects/{entity}/{project}/collections`.
pub(crate) async fn collections(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let list = state
        .db()
        .read(move |connection| {
            let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
            let mut statement = connection.prepare_cached(&format!(
                "SELECT {COLLECTION_COLUMNS} WHERE c.project_id = ?1 ORDER BY c.name"
            ))?;
            let collections = statement
                .query_map([project.id], |row| {
                    collection_from_row(&project, row).map(|(_, c)| c)
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(CollectionList { collections })
        })
        .await?;
    Ok(ok(&list))
}

/// `GET /api/v1/projects/{entity}/{project}/collections/{collection}`.
pub(crate) async fn collection(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let collection = state
        .db()
        .read(move |connection| {
            let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
            Ok(find_collection(connection, &project, &name)?.1)
        })
        .await?;
    Ok(ok(&collection))
}

/// `GET /api/v1/projects/{entity}/{project}/collections/{collection}/versions`: committed
/// versions, newest first.
pub(crate) async fn versions(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let list = state
        .db()
        .read(move |connection| {
            let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
            let (collection_id, _) = find_collection(connection, &project, &name)?;
            let versions = queries::load_versions(
                connection,
                "WHERE v.collection_id = ?1 AND v.state = 'COMMITTED' ORDER BY v.version_index DESC",
                [collection_id],
            )?
            .into_iter()
            .map(|row| row.version)
            .collect();
            Ok(VersionList { versions })
        })
        .await?;
    Ok(ok(&list))
}
