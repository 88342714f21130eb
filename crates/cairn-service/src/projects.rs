//! Projects and collections: an entity's projects (only the readable ones), a project's
//! settings, its collections and a collection's committed versions.

use rusqlite::Connection;

use crate::access::{
    Caller, can_manage, can_read, can_write, project_for_read, project_for_write, required,
};
use crate::db::accounts::find_entity;
use crate::db::projects::{self, ProjectRow, entity_projects, find_project};
use crate::db::{links as db_links, versions};
use crate::error::{Error, Kind};
use crate::links::seen_through;
use crate::model::{
    ArtifactType, Collection, CollectionEdit, CollectionKind, Project, VersionPage, VersionQuery,
    Visibility,
};
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

    /// Whether the caller may write to a project it may read (log into it, edit its versions).
    pub async fn may_write_project(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
    ) -> Result<bool, Error> {
        let caller = caller.cloned();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                can_write(connection, caller.as_ref(), &project)
            })
            .await
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

/// The collection with this number, if the caller may read its project (else `NotFound`, as
/// for one that does not exist).
fn readable_collection(
    connection: &Connection,
    caller: Option<&Caller>,
    id: i64,
) -> Result<Collection, Error> {
    let not_found = || Error::not_found(format!("artifact collection `{id}` not found"));
    let (project, collection) =
        projects::collection_by_id(connection, id)?.ok_or_else(not_found)?;
    if !can_read(connection, caller, &project)? {
        return Err(not_found());
    }
    Ok(collection)
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
    /// The artifact types of a project the caller may read, sorted by name.
    pub async fn artifact_types(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
    ) -> Result<Vec<ArtifactType>, Error> {
        let caller = caller.cloned();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                projects::artifact_types(connection, &project)
            })
            .await
    }

    /// The collections of a project the caller may read (of `artifact_type` when given),
    /// sorted by name.
    pub async fn collections(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Collection>, Error> {
        self.list_collections(caller, entity, project, artifact_type, None, None)
            .await
    }

    /// At most `limit` (capped at 1,000) collections of a project the caller may read (of
    /// `artifact_type` when given) whose names sort after `after`, sorted by name: a page of
    /// [`Service::collections`].
    pub async fn collections_page(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        artifact_type: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Collection>, Error> {
        self.list_collections(
            caller,
            entity,
            project,
            artifact_type,
            after,
            Some(limit.clamp(1, 1000)),
        )
        .await
    }

    /// The collections of [`Service::collections_page`], all of them when `limit` is `None`.
    async fn list_collections(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        artifact_type: Option<&str>,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Collection>, Error> {
        let caller = caller.cloned();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        let artifact_type = artifact_type.map(str::to_owned);
        let after = after.map(str::to_owned);
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                projects::list_collections(
                    connection,
                    &project,
                    artifact_type.as_deref(),
                    after.as_deref(),
                    limit,
                )
            })
            .await
    }

    /// A collection by its number, if the caller may read its project.
    pub async fn collection_by_id(
        &self,
        caller: Option<&Caller>,
        id: i64,
    ) -> Result<Collection, Error> {
        let caller = caller.cloned();
        self.db()
            .read(move |connection| readable_collection(connection, caller.as_ref(), id))
            .await
    }

    /// The aliases in use in a collection (by its number), sorted, if the caller may read it.
    pub async fn collection_aliases(
        &self,
        caller: Option<&Caller>,
        id: i64,
    ) -> Result<Vec<String>, Error> {
        let caller = caller.cloned();
        self.db()
            .read(move |connection| {
                readable_collection(connection, caller.as_ref(), id)?;
                projects::collection_aliases(connection, id)
            })
            .await
    }

    /// Renames a collection and/or changes its description. The old name stops resolving at
    /// once; versions keep their numbers, aliases and ids.
    pub async fn update_collection(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        name: &str,
        edit: CollectionEdit,
    ) -> Result<Collection, Error> {
        let caller = required(caller)?.clone();
        if let Some(new_name) = &edit.name {
            validate::artifact_name(new_name)?;
        }
        if edit
            .description
            .as_ref()
            .is_some_and(|description| description.len() > 64 * 1024)
        {
            return Err(Error::bad_request(
                "a collection's description must be at most 64 KiB",
            ));
        }
        let (entity, project, name) = (entity.to_owned(), project.to_owned(), name.to_owned());
        self.db()
            .write(move |connection| {
                let project = project_for_write(connection, &caller, &entity, &project)?;
                let (id, _) = find_collection(connection, &project, &name)?;
                if let Some(new_name) = &edit.name
                    && *new_name != name
                    && projects::collection_id(connection, project.id, new_name)?.is_some()
                {
                    return Err(Error::refused(
                        Kind::AlreadyExists,
                        format!(
                            "artifact `{}/{new_name}` already exists; pick another name",
                            project.path()
                        ),
                    ));
                }
                projects::update_collection(
                    connection,
                    id,
                    edit.name.as_deref(),
                    edit.description.as_deref(),
                )?;
                let final_name = edit.name.as_deref().unwrap_or(&name);
                Ok(find_collection(connection, &project, final_name)?.1)
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

    /// A page of the committed versions of a collection, newest first (see [`VersionQuery`]).
    pub async fn collection_versions(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        name: &str,
        query: VersionQuery,
    ) -> Result<VersionPage, Error> {
        let caller = caller.cloned();
        let (entity, project, name) = (entity.to_owned(), project.to_owned(), name.to_owned());
        let limit = query.limit.clamp(1, 1000);
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                let (collection_id, collection) = find_collection(connection, &project, &name)?;
                let (mut versions, total) = match collection.kind {
                    CollectionKind::Sequence => {
                        let (rows, total) = versions::committed_page(
                            connection,
                            collection_id,
                            query.alias.as_deref(),
                            query.before,
                            limit + 1,
                        )?;
                        (
                            rows.into_iter().map(|row| row.version).collect::<Vec<_>>(),
                            total,
                        )
                    }
                    CollectionKind::Portfolio => {
                        let (links, total) = db_links::link_page(
                            connection,
                            collection_id,
                            query.alias.as_deref(),
                            query.before,
                            limit + 1,
                        )?;
                        let versions = links
                            .iter()
                            .map(|link| {
                                seen_through(connection, &project, collection_id, &name, link)
                                    .map(|row| row.version)
                            })
                            .collect::<Result<Vec<_>, Error>>()?;
                        (versions, total)
                    }
                };
                let next = if versions.len() > limit {
                    versions.truncate(limit);
                    versions.last().and_then(|version| version.version_index)
                } else {
                    None
                };
                Ok(VersionPage {
                    versions,
                    total,
                    next,
                })
            })
            .await
    }
}
