//! Projects and collections: an entity's projects (only the readable ones), a project's
//! settings, its collections and a collection's committed versions.

use rusqlite::Connection;

use crate::access::{Caller, can_manage, can_read, project_for_read, required};
use crate::db::accounts::find_entity;
use crate::db::projects::{self, ProjectRow, entity_projects, find_project};
use crate::db::versions;
use crate::error::Error;
use crate::model::{Collection, Project, Version, Visibility};
use crate::service::Service;
use crate::validate;

impl Service {
    /// The projects of `entity` the caller may read, sorted by name.
    pub async fn projects(
        &self,
        caller: Option<&Caller>,
        entity: &str,
    ) -> Result<Vec<Project>, Error> {
        let caller = caller.cloned();
        let entity = entity.to_owned();
        self.db()
            .read(move |connection| {
                let owner = find_entity(connection, &entity)?
                    .ok_or_else(|| Error::not_found(format!("entity `{entity}` not found")))?;
                let mut projects = Vec::new();
                for project in entity_projects(connection, owner.id)? {
                    if can_read(connection, caller.as_ref(), &project)? {
                        projects.push(project.to_model());
                    }
                }
                Ok(projects)
            })
            .await
    }

    /// A project the caller may read.
    pub async fn project(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
    ) -> Result<Project, Error> {
        let caller = caller.cloned();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        let project = self
            .db()
            .read(move |connection| {
                project_for_read(connection, caller.as_ref(), &entity, &project)
            })
            .await?;
        Ok(project.to_model())
    }

    /// Creates a project or changes its visibility (owner user, team admins, server admins);
    /// answers it and whether it was created.
    pub async fn upsert_project(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        visibility: Option<Visibility>,
    ) -> Result<(Project, bool), Error> {
        let caller = required(caller)?.clone();
        validate::entity_name(entity)?;
        validate::project_name(project)?;
        let (entity, project) = (entity.to_owned(), project.to_owned());
        let (row, created) = self
        .db()
        .write(move |connection| {
            let owner = find_entity(connection, &entity)?
                .ok_or_else(|| Error::not_found(format!("entity `{entity}` not found")))?;
            if !can_manage(connection, &caller, owner.id)? {
                return Err(Error::denied(format!(
                    "only `{entity}` itself, its team admins and server admins change project settings; `{}` may not",
                    caller.username
                )));
            }
            let existing = find_project(connection, &entity, &project)?;
            let created = existing.is_none();
            match (existing, visibility) {
                (Some(row), Some(visibility)) => projects::set_visibility(connection, row.id, visibility)?,
                (Some(_), None) => {}
                (None, visibility) => projects::insert_project(
                    connection,
                    owner.id,
                    &project,
                    visibility.unwrap_or_default(),
                )?,
            }
            let row = find_project(connection, &entity, &project)?
                .ok_or_else(|| Error::internal("a project just written is missing"))?;
            Ok((row, created))
        })
        .await?;
        Ok((row.to_model(), created))
    }
}

fn find_collection(
    connection: &Connection,
    project: &ProjectRow,
    name: &str,
) -> Result<(i64, Collection), Error> {
    projects::find_collection(connection, project, name)?
        .ok_or_else(|| Error::not_found(format!("artifact `{}/{name}` not found", project.path())))
}

impl Service {
    /// The collections of a project the caller may read, sorted by name.
    pub async fn collections(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
    ) -> Result<Vec<Collection>, Error> {
        let caller = caller.cloned();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                projects::list_collections(connection, &project)
            })
            .await
    }

    /// One collection of a project the caller may read.
    pub async fn collection(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        name: &str,
    ) -> Result<Collection, Error> {
        let caller = caller.cloned();
        let (entity, project, name) = (entity.to_owned(), project.to_owned(), name.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                Ok(find_collection(connection, &project, &name)?.1)
            })
            .await
    }

    /// The committed versions of a collection, newest first.
    pub async fn collection_versions(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        name: &str,
    ) -> Result<Vec<Version>, Error> {
        let caller = caller.cloned();
        let (entity, project, name) = (entity.to_owned(), project.to_owned(), name.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                let (collection_id, _) = find_collection(connection, &project, &name)?;
                let versions = versions::committed_of_collection(connection, collection_id)?
                    .into_iter()
                    .map(|row| row.version)
                    .collect();
                Ok(versions)
            })
            .await
    }
}
