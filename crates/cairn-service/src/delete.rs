//! Deleting versions — one, or every version of a collection, a run or a project: soft (state
//! `DELETED`), a single version refused while it carries aliases unless they go too, and
//! everything refused to everyone while a version beneath carries a protected alias.
//!
//! A deleted version vanishes from lookups and listings at once; its aliases are free again,
//! its links are removed from their portfolios, and its `vN` is never reused. Its blobs stay
//! until garbage collection finds no live version that references them.

use cairn_manifest::LATEST_ALIAS;
use rusqlite::Connection;

use crate::access::{Caller, can_manage, project_for_write, required, version_for_write};
use crate::db::links;
use crate::db::projects::{self, ProjectRow, project_by_id};
use crate::db::versions::{self, VersionRow, move_alias};
use crate::db::{retention, runs};
use crate::error::Error;
use crate::links::{end_link, protected_blocks};
use crate::model::{CollectionKind, Deletion, Version, VersionState};
use crate::service::Service;

impl Service {
    /// Soft-deletes the committed version `id`. With `delete_aliases` false a version that
    /// carries aliases (`latest` included) is refused, naming them; with it true they are
    /// removed (`latest` moves to the newest remaining version). A protected alias, in its
    /// collection or in a portfolio it is linked into, blocks the deletion for everyone until a
    /// registry admin removes it. Answers the version as it was.
    pub async fn delete_version(
        &self,
        caller: Option<&Caller>,
        id: &str,
        delete_aliases: bool,
    ) -> Result<Version, Error> {
        let caller = required(caller)?.clone();
        let id = id.to_owned();
        self.db()
            .write(move |connection| delete_in(connection, &caller, &id, delete_aliases))
            .await
    }
}

fn delete_in(
    connection: &Connection,
    caller: &Caller,
    id: &str,
    delete_aliases: bool,
) -> Result<Version, Error> {
    let row = version_for_write(connection, caller, id)?;
    let name = row.version.qualified_name();
    match row.version.state {
        VersionState::Committed => {}
        VersionState::Pending => {
            return Err(Error::conflict(format!(
                "artifact version `{id}` is still being logged; only committed versions can be deleted"
            )));
        }
        VersionState::Deleted => {
            return Err(Error::not_found(format!(
                "artifact version `{id}` not found (or you may not read it)"
            )));
        }
    }
    if let Some((alias, _, project_id)) = links::protected_alias_on(connection, id, None)? {
        let project = project_by_id(connection, project_id)?;
        return Err(protected_blocks(
            &alias,
            &project,
            &format!("delete `{name}`"),
        ));
    }
    let aliases = links::aliases_in(connection, row.collection_id, id)?;
    if !aliases.is_empty() && !delete_aliases {
        return Err(Error::conflict(format!(
            "cannot delete `{name}`: it has aliases {}; remove them first or delete with `delete_aliases` (`--delete-aliases`)",
            aliases
                .iter()
                .map(|alias| format!("`{alias}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    soft_delete(connection, &row)?;
    tracing::info!(version = id, name, user = caller.username, "deleted");
    let mut version = row.version;
    version.state = VersionState::Deleted;
    Ok(version)
}

/// Soft-deletes a committed version whose deletion was allowed: removes its aliases (moving
/// `latest` to the newest remaining version) and its links (moving each portfolio's
/// `latest`), and marks it `DELETED`.
pub(crate) fn soft_delete(connection: &Connection, row: &VersionRow) -> Result<(), Error> {
    let id = row.version.id.as_str();
    let aliases = links::aliases_in(connection, row.collection_id, id)?;
    for alias in &aliases {
        versions::remove_alias(connection, row.collection_id, alias, id)?;
    }
    for (portfolio_id, _) in links::links_of_version(connection, id)? {
        end_link(connection, portfolio_id, id)?;
    }
    versions::mark_deleted(connection, id)?;
    if aliases.iter().any(|alias| alias == LATEST_ALIAS)
        && let Some((newest, _)) = versions::latest_committed(connection, row.collection_id)?
    {
        move_alias(connection, row.collection_id, LATEST_ALIAS, &newest)?;
    }
    projects::touch_collection(connection, row.collection_id)?;
    Ok(())
}

impl Service {
    /// Deletes a collection: soft-deletes every version in it (committed or still being
    /// logged), or for a portfolio removes every link (the linked versions stay), and frees its
    /// name. Refused to everyone while anything in it carries a protected alias. Writers of
    /// the project may.
    pub async fn delete_collection(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        name: &str,
    ) -> Result<Deletion, Error> {
        let caller = required(caller)?.clone();
        let (entity, project, name) = (entity.to_owned(), project.to_owned(), name.to_owned());
        self.db()
            .write(move |connection| {
                let project = project_for_write(connection, &caller, &entity, &project)?;
                let Some((id, kind)) = projects::collection_kind(connection, project.id, &name)?
                else {
                    return Err(Error::not_found(format!(
                        "artifact `{}/{name}` not found",
                        project.path()
                    )));
                };
                let what = format!("delete `{}/{name}`", project.path());
                let deletion = match kind {
                    CollectionKind::Sequence => {
                        let ids = retention::live_in_collection(connection, id)?;
                        delete_all(connection, &ids, &what)?
                    }
                    CollectionKind::Portfolio => unlink_all(connection, &project, id, &what)?,
                };
                retention::tombstone_collection(connection, id)?;
                tracing::info!(
                    collection = what,
                    ?deletion,
                    user = caller.username,
                    "deleted"
                );
                Ok(deletion)
            })
            .await
    }

    /// Deletes a run; with `delete_artifacts` also soft-deletes every version it logged
    /// (otherwise they stay, without the run in their lineage). The run id is free again.
    pub async fn delete_run(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        run_id: &str,
        delete_artifacts: bool,
    ) -> Result<Deletion, Error> {
        let caller = required(caller)?.clone();
        let (entity, project, run_id) = (entity.to_owned(), project.to_owned(), run_id.to_owned());
        self.db()
            .write(move |connection| {
                let project = project_for_write(connection, &caller, &entity, &project)?;
                let Some(row_id) = runs::run_row_id(connection, project.id, &run_id)? else {
                    return Err(Error::not_found(format!(
                        "run `{run_id}` not found in project `{}`",
                        project.path()
                    )));
                };
                let what = format!("delete run `{}/{run_id}`", project.path());
                let deletion = if delete_artifacts {
                    let ids = retention::live_logged_by(connection, row_id)?;
                    delete_all(connection, &ids, &what)?
                } else {
                    Deletion::default()
                };
                retention::tombstone_run(connection, row_id)?;
                tracing::info!(run = what, ?deletion, user = caller.username, "deleted");
                Ok(deletion)
            })
            .await
    }

    /// Deletes a project: soft-deletes every version in it, removes the links in its
    /// portfolios, deletes its runs, and frees its name. Only admins of its entity may; refused
    /// to everyone while a version in it carries a protected alias.
    pub async fn delete_project(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
    ) -> Result<Deletion, Error> {
        let caller = required(caller)?.clone();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        self.db()
            .write(move |connection| {
                let project = project_for_write(connection, &caller, &entity, &project)?;
                if !can_manage(connection, &caller, project.entity_id)? {
                    return Err(Error::denied(format!(
                        "only admins of `{entity}` may delete project `{}`; you (`{}`) are not one",
                        project.path(),
                        caller.username
                    )));
                }
                let what = format!("delete project `{}`", project.path());
                let ids = retention::live_in_project(connection, project.id)?;
                let mut deletion = delete_all(connection, &ids, &what)?;
                for portfolio in retention::portfolios_of(connection, project.id)? {
                    deletion.links_removed +=
                        unlink_all(connection, &project, portfolio, &what)?.links_removed;
                }
                retention::tombstone_project(connection, project.id)?;
                tracing::info!(project = what, ?deletion, user = caller.username, "deleted");
                Ok(deletion)
            })
            .await
    }
}

/// Soft-deletes the live versions `ids` (committed ones as [`soft_delete`] does, PENDING ones
/// outright), after checking that none carries a protected alias: one that does refuses the
/// whole action (`what`).
fn delete_all(connection: &Connection, ids: &[String], what: &str) -> Result<Deletion, Error> {
    for id in ids {
        if let Some((alias, _, project_id)) = links::protected_alias_on(connection, id, None)? {
            let project = project_by_id(connection, project_id)?;
            let name = versions::load_version(connection, id)?
                .map_or_else(|| id.clone(), |row| row.version.qualified_name());
            return Err(protected_blocks(
                &alias,
                &project,
                &format!("{what}: `{name}`"),
            ));
        }
    }
    let mut deletion = Deletion::default();
    for id in ids {
        let Some(row) = versions::load_version(connection, id)? else {
            continue;
        };
        match row.version.state {
            VersionState::Committed => soft_delete(connection, &row)?,
            VersionState::Pending => versions::mark_deleted(connection, id)?,
            VersionState::Deleted => continue,
        }
        deletion.versions_deleted += 1;
    }
    Ok(deletion)
}

/// Removes every live link of portfolio `portfolio_id` (in `project`), after checking none
/// carries a protected alias.
fn unlink_all(
    connection: &Connection,
    project: &ProjectRow,
    portfolio_id: i64,
    what: &str,
) -> Result<Deletion, Error> {
    let linked = retention::live_links_of(connection, portfolio_id)?;
    for id in &linked {
        if let Some((alias, _, _)) = links::protected_alias_on(connection, id, Some(portfolio_id))?
        {
            return Err(protected_blocks(&alias, project, what));
        }
    }
    for id in &linked {
        links::mark_unlinked(connection, portfolio_id, id)?;
    }
    Ok(Deletion {
        versions_deleted: 0,
        links_removed: u64::try_from(linked.len()).unwrap_or(u64::MAX),
    })
}
