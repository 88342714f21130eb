//! Deleting a version: soft (state `DELETED`), refused while it carries aliases unless they go
//! too, and refused to everyone while it carries a protected alias.
//!
//! A deleted version vanishes from lookups and listings at once; its aliases are free again,
//! its links are removed from their portfolios, and its `vN` is never reused. Its blobs stay
//! until garbage collection finds no live version that references them.

use cairn_manifest::LATEST_ALIAS;
use rusqlite::Connection;

use crate::access::{Caller, required, version_for_write};
use crate::db::links;
use crate::db::projects::{self, project_by_id};
use crate::db::versions::{self, VersionRow, move_alias};
use crate::error::Error;
use crate::links::protected_blocks;
use crate::model::{Version, VersionState};
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
        let had_latest = links::aliases_in(connection, portfolio_id, id)?
            .iter()
            .any(|alias| alias == LATEST_ALIAS);
        links::mark_unlinked(connection, portfolio_id, id)?;
        if had_latest && let Some(newest) = links::newest_link(connection, portfolio_id)? {
            move_alias(connection, portfolio_id, LATEST_ALIAS, &newest.version_id)?;
        }
        projects::touch_collection(connection, portfolio_id)?;
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
