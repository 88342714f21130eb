//! The route handlers, one module per area, and the access checks they share (the rules are in
//! the `auth` module's docs).

pub(crate) mod accounts;
pub(crate) mod download;
pub(crate) mod projects;
pub(crate) mod receive;
pub(crate) mod runs;
pub(crate) mod server;
pub(crate) mod upload;
pub(crate) mod versions;

use cairn_api::VersionState;
use rusqlite::Connection;

use crate::auth::{Caller, can_read, can_write, can_write_entity};
use crate::db::queries::{self, ProjectRow, VersionRow, find_entity, find_project};
use crate::db::schema::NOW;
use crate::error::ApiError;
use crate::validate;

/// The project, if the caller may read it; otherwise `not_found`, as if it did not exist.
pub(crate) fn project_for_read(
    connection: &Connection,
    caller: Option<&Caller>,
    entity: &str,
    project: &str,
) -> Result<ProjectRow, ApiError> {
    match find_project(connection, entity, project)? {
        Some(row) if can_read(connection, caller, &row)? => Ok(row),
        _ => Err(ApiError::not_found(format!(
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
) -> Result<ProjectRow, ApiError> {
    validate::entity_name(entity)?;
    validate::project_name(project)?;
    let denied = || {
        ApiError::denied(format!(
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
        return Err(ApiError::not_found(format!(
            "entity `{entity}` not found; users are created by a server admin, teams with `POST /api/v1/teams`"
        )));
    };
    if !can_write_entity(connection, caller, owner.id)? {
        return Err(denied());
    }
    connection.execute(
        &format!(
            "INSERT INTO projects (entity_id, name, visibility, created_at) VALUES (?1, ?2, 'private', {NOW})"
        ),
        rusqlite::params![owner.id, project],
    )?;
    tracing::info!(
        entity,
        project,
        user = caller.username,
        "created project on first use"
    );
    find_project(connection, entity, project)?
        .ok_or_else(|| ApiError::internal("a project just created is missing"))
}

fn version_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "artifact version `{id}` not found (or you may not read it)"
    ))
}

/// The version, if the caller may read it: its project is readable and, while PENDING, the
/// caller may also write to it.
pub(crate) fn version_for_read(
    connection: &Connection,
    caller: Option<&Caller>,
    id: &str,
) -> Result<VersionRow, ApiError> {
    let Some(row) = queries::load_version(connection, id)? else {
        return Err(version_not_found(id));
    };
    if !can_read(connection, caller, &row.project)? {
        return Err(version_not_found(id));
    }
    if row.version.state == VersionState::Pending && !can_write(connection, caller, &row.project)? {
        return Err(version_not_found(id));
    }
    Ok(row)
}

/// The version, if the caller may write to its project: `not_found` when they cannot read it,
/// `permission_denied` when they can read but not write.
pub(crate) fn version_for_write(
    connection: &Connection,
    caller: &Caller,
    id: &str,
) -> Result<VersionRow, ApiError> {
    let Some(row) = queries::load_version(connection, id)? else {
        return Err(version_not_found(id));
    };
    if !can_read(connection, Some(caller), &row.project)? {
        return Err(version_not_found(id));
    }
    if !can_write(connection, Some(caller), &row.project)? {
        if row.version.state == VersionState::Pending {
            return Err(version_not_found(id));
        }
        return Err(ApiError::denied(format!(
            "you (`{}`) may read but not change artifact versions of project `{}`",
            caller.username,
            row.project.path()
        )));
    }
    Ok(row)
}

/// Fails with `not_pending` unless the version is PENDING.
pub(crate) fn require_pending(row: &VersionRow) -> Result<(), ApiError> {
    match row.version.state {
        VersionState::Pending => Ok(()),
        VersionState::Committed => Err(ApiError::new(
            cairn_api::ErrorCode::NotPending,
            format!(
                "artifact version `{}` is already committed as `{}`; committed versions never change, log a new version instead",
                row.version.id,
                row.version.qualified_name()
            ),
        )),
        VersionState::Deleted => Err(ApiError::new(
            cairn_api::ErrorCode::NotPending,
            format!(
                "artifact version `{}` was deleted (or discarded as a duplicate); log the artifact again",
                row.version.id
            ),
        )),
    }
}
