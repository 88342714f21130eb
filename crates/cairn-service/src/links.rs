//! Registry links: linking a committed version into a portfolio (a registry collection) and
//! unlinking it, looking versions up through portfolios, and protected aliases.
//!
//! A link is not a copy: the version keeps its id, content, digest, lineage and source
//! collection, and is listed in the portfolio under the portfolio's own `vN` (the link's index,
//! never reused) and aliases. The *model registry* of an entity is its project
//! [`MODEL_REGISTRY_PROJECT`], whose portfolios take only types containing `model`.
//!
//! A project's admins (the admins of its entity) declare *protected* aliases: only they may
//! add or remove those aliases in the project's collections, and a version or link carrying
//! one cannot be unlinked or deleted by anyone until an admin removes the alias.

use cairn_manifest::LATEST_ALIAS;
use rusqlite::Connection;

use crate::access::{
    Caller, can_manage, can_read, project_for_read, project_for_write, required, version_for_read,
};
use crate::db::links::{self, LinkRow};
use crate::db::projects::{self, ProjectRow};
use crate::db::versions::{self, VersionRow, load_version, move_alias};
use crate::error::{Error, Kind};
use crate::model::{CollectionKind, CollectionPath, LinkRequest, Version, VersionState};
use crate::service::Service;
use crate::validate;

/// The project that is an entity's model registry: `{entity}/model-registry/{name}`.
pub const MODEL_REGISTRY_PROJECT: &str = "model-registry";

impl Service {
    /// Links the committed version `id` into the portfolio `request.target`, created on first
    /// link (with its project, when the caller may write to the entity). Linking a version that
    /// is linked there already only adds the aliases. `latest` moves to the newest link.
    ///
    /// The caller must read the version and write to the portfolio's project; a portfolio holds
    /// one artifact type, and the model registry only types containing `model`.
    pub async fn link_version(
        &self,
        caller: Option<&Caller>,
        id: &str,
        request: LinkRequest,
    ) -> Result<Version, Error> {
        let caller = required(caller)?.clone();
        let target = request.target;
        validate::entity_name(&target.entity)?;
        validate::project_name(&target.project)?;
        validate::artifact_name(&target.name)?;
        let aliases = validate::requested_aliases(&request.aliases)?;
        let id = id.to_owned();
        self.db()
            .write(move |connection| link_in(connection, &caller, &id, &target, &aliases))
            .await
    }

    /// Unlinks version `id` from the portfolio `portfolio`, removing the link and its aliases
    /// there (the version itself is untouched). `latest` moves to the newest remaining link.
    /// Answers the removed link as it was (the version seen through the portfolio: its
    /// `source` says where the version stays; the caller may not be able to read it there).
    pub async fn unlink_version(
        &self,
        caller: Option<&Caller>,
        id: &str,
        portfolio: CollectionPath,
    ) -> Result<Version, Error> {
        let caller = required(caller)?.clone();
        let id = id.to_owned();
        self.db()
            .write(move |connection| {
                let (project, portfolio_id, name) =
                    portfolio_for_write(connection, &caller, &portfolio)?;
                let Some(link) = links::live_link(connection, portfolio_id, &id)? else {
                    return Err(Error::not_found(format!(
                        "artifact version `{id}` is not linked into `{portfolio}`"
                    )));
                };
                if let Some((alias, _, _)) =
                    links::protected_alias_on(connection, &id, Some(portfolio_id))?
                {
                    return Err(protected_blocks(
                        &alias,
                        &project,
                        &format!("unlink `{portfolio}:v{}`", link.index),
                    ));
                }
                let removed = seen_through(connection, &project, portfolio_id, &name, &link)?;
                end_link(connection, portfolio_id, &id)?;
                tracing::info!(version = id, portfolio = %portfolio, user = caller.username, "unlinked");
                Ok(removed.version)
            })
            .await
    }

    /// The version `id` as seen through each portfolio it is linked into that the caller may
    /// read, oldest link first (W&B's `linked_artifacts`).
    pub async fn version_links(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> Result<Vec<Version>, Error> {
        let caller = caller.cloned();
        let id = id.to_owned();
        self.db()
            .read(move |connection| {
                let row = version_for_read(connection, caller.as_ref(), &id)?;
                let mut seen = Vec::new();
                for (portfolio_id, link) in links::links_of_version(connection, &id)? {
                    let Some((project, portfolio)) =
                        projects::collection_by_id(connection, portfolio_id)?
                    else {
                        continue;
                    };
                    if can_read(connection, caller.as_ref(), &project)? {
                        let through = links::through(
                            connection,
                            row.clone(),
                            &project,
                            portfolio_id,
                            &portfolio.name,
                            &link,
                        )?;
                        seen.push(through.version);
                    }
                }
                Ok(seen)
            })
            .await
    }

    /// The aliases declared protected in a project the caller may read, sorted.
    pub async fn protected_aliases(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
    ) -> Result<Vec<String>, Error> {
        let caller = caller.cloned();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                links::protected_aliases(connection, project.id)
            })
            .await
    }

    /// Declares aliases protected in a project (`add`) or no longer protected (`remove`);
    /// only the project's admins may. Answers the protected aliases afterwards.
    pub async fn update_protected_aliases(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> Result<Vec<String>, Error> {
        let caller = required(caller)?.clone();
        if add.iter().chain(&remove).any(|alias| alias == LATEST_ALIAS) {
            return Err(Error::bad_request(
                "`latest` cannot be protected: it always moves to the newest version",
            ));
        }
        let add = validate::requested_aliases(&add)?;
        let (entity, project) = (entity.to_owned(), project.to_owned());
        self.db()
            .write(move |connection| {
                // Created on first use, so a registry's rules can precede its first link (a
                // refusal below rolls the creation back).
                let project = project_for_write(connection, &caller, &entity, &project)?;
                if !can_manage(connection, &caller, project.entity_id)? {
                    return Err(Error::denied(format!(
                        "only admins of `{entity}` may declare protected aliases of registry `{}`; you (`{}`) are not one",
                        project.path(),
                        caller.username
                    )));
                }
                links::set_protected(connection, project.id, &add, &remove)?;
                tracing::info!(project = project.path(), ?add, ?remove, user = caller.username, "protected aliases changed");
                links::protected_aliases(connection, project.id)
            })
            .await
    }
}

fn link_in(
    connection: &Connection,
    caller: &Caller,
    id: &str,
    target: &CollectionPath,
    aliases: &[String],
) -> Result<Version, Error> {
    let source = version_for_read(connection, Some(caller), id)?;
    if source.version.state != VersionState::Committed {
        return Err(Error::refused(
            Kind::NotPending,
            format!(
                "artifact version `{id}` is not committed; only committed versions can be linked"
            ),
        ));
    }
    let artifact_type = source.version.artifact_type.clone();
    let project = project_for_write(connection, caller, &target.entity, &target.project)?;
    if project.name == MODEL_REGISTRY_PROJECT && !artifact_type.contains("model") {
        return Err(Error::bad_request(format!(
            "the model registry `{}` holds only artifact types containing `model`; `{}` has type `{artifact_type}`",
            project.path(),
            source.version.qualified_name()
        )));
    }
    let portfolio_id = match projects::collection_type(connection, project.id, &target.name)? {
        Some((_, _, CollectionKind::Sequence)) => {
            return Err(Error::conflict(format!(
                "`{target}` is a collection of logged versions, not a portfolio; link into another name"
            )));
        }
        Some((_, existing, CollectionKind::Portfolio)) if existing != artifact_type => {
            return Err(Error::conflict(format!(
                "portfolio `{target}` holds artifacts of type `{existing}`; `{}` has type `{artifact_type}`",
                source.version.qualified_name()
            )));
        }
        Some((portfolio_id, _, CollectionKind::Portfolio)) => portfolio_id,
        None => projects::insert_collection(
            connection,
            project.id,
            &target.name,
            &artifact_type,
            CollectionKind::Portfolio,
        )?,
    };
    require_alias_admin(connection, caller, &project, aliases)?;
    let link = match links::live_link(connection, portfolio_id, id)? {
        Some(link) => link,
        None => {
            links::insert_link(connection, portfolio_id, id, caller.user_id)?;
            move_alias(connection, portfolio_id, LATEST_ALIAS, id)?;
            links::live_link(connection, portfolio_id, id)?
                .ok_or_else(|| Error::internal("a link just made is missing"))?
        }
    };
    for alias in aliases {
        move_alias(connection, portfolio_id, alias, id)?;
    }
    projects::touch_collection(connection, portfolio_id)?;
    tracing::info!(
        version = id,
        portfolio = %target,
        index = link.index,
        user = caller.username,
        "linked"
    );
    Ok(links::through(
        connection,
        source,
        &project,
        portfolio_id,
        &target.name,
        &link,
    )?
    .version)
}

/// Ends the live link of `version_id` in portfolio `portfolio_id` with its aliases there;
/// `latest` moves to the newest remaining link if the link carried it.
pub(crate) fn end_link(
    connection: &Connection,
    portfolio_id: i64,
    version_id: &str,
) -> Result<(), Error> {
    let had_latest = links::aliases_in(connection, portfolio_id, version_id)?
        .iter()
        .any(|alias| alias == LATEST_ALIAS);
    links::mark_unlinked(connection, portfolio_id, version_id)?;
    if had_latest && let Some(newest) = links::newest_link(connection, portfolio_id)? {
        move_alias(connection, portfolio_id, LATEST_ALIAS, &newest.version_id)?;
    }
    projects::touch_collection(connection, portfolio_id)
}

/// The portfolio `path`, if the caller may write to its project: its project, id and name.
pub(crate) fn portfolio_for_write(
    connection: &Connection,
    caller: &Caller,
    path: &CollectionPath,
) -> Result<(ProjectRow, i64, String), Error> {
    let project = project_for_write(connection, caller, &path.entity, &path.project)?;
    match projects::collection_kind(connection, project.id, &path.name)? {
        Some((id, CollectionKind::Portfolio)) => Ok((project, id, path.name.clone())),
        Some((_, CollectionKind::Sequence)) => Err(Error::bad_request(format!(
            "`{path}` is a collection of logged versions, not a portfolio of links"
        ))),
        None => Err(Error::not_found(format!("portfolio `{path}` not found"))),
    }
}

/// Fails unless the caller may add or remove `aliases` in the project's collections: a
/// protected alias needs an admin of the project's entity.
pub(crate) fn require_alias_admin(
    connection: &Connection,
    caller: &Caller,
    project: &ProjectRow,
    aliases: &[String],
) -> Result<(), Error> {
    let protected = links::protected_aliases(connection, project.id)?;
    let Some(alias) = aliases.iter().find(|alias| protected.contains(alias)) else {
        return Ok(());
    };
    if can_manage(connection, caller, project.entity_id)? {
        return Ok(());
    }
    Err(Error::denied(format!(
        "alias `{alias}` is protected in registry `{}`: only admins of `{}` may add or remove it; you (`{}`) are not one",
        project.path(),
        project.entity,
        caller.username
    )))
}

/// The refusal of an action (`what`) blocked by protected alias `alias` of `project`.
pub(crate) fn protected_blocks(alias: &str, project: &ProjectRow, what: &str) -> Error {
    Error::conflict(format!(
        "cannot {what}: it carries alias `{alias}`, protected in registry `{}`; an admin of `{}` must remove the alias first",
        project.path(),
        project.entity
    ))
}

/// The committed version `selector` names in collection `collection_id` (named `name`) of
/// `project`: `vN`, an alias, or an artifact digest. In a portfolio, the linked version is
/// seen through it.
pub(crate) fn resolve_in(
    connection: &Connection,
    project: &ProjectRow,
    collection_id: i64,
    kind: CollectionKind,
    name: &str,
    selector: &str,
) -> Result<Option<VersionRow>, Error> {
    match kind {
        CollectionKind::Sequence => {
            let Some(id) = resolve_selector(connection, collection_id, selector)? else {
                return Ok(None);
            };
            load_version(connection, &id)
        }
        CollectionKind::Portfolio => {
            let link = match version_index(selector) {
                Some(index) => links::link_by_index(connection, collection_id, index)?,
                None => match links::link_by_alias(connection, collection_id, selector)? {
                    Some(link) => Some(link),
                    None if validate::is_hex32(selector) => {
                        links::link_by_digest(connection, collection_id, selector)?
                    }
                    None => None,
                },
            };
            let Some(link) = link else {
                return Ok(None);
            };
            seen_through(connection, project, collection_id, name, &link).map(Some)
        }
    }
}

/// The linked version of `link` seen through portfolio `portfolio_id` (named `name`).
pub(crate) fn seen_through(
    connection: &Connection,
    project: &ProjectRow,
    portfolio_id: i64,
    name: &str,
    link: &LinkRow,
) -> Result<VersionRow, Error> {
    let row = load_version(connection, &link.version_id)?
        .ok_or_else(|| Error::internal(format!("linked version `{}` vanished", link.version_id)))?;
    links::through(connection, row, project, portfolio_id, name, link)
}

/// `N` of a `vN` selector.
fn version_index(selector: &str) -> Option<i64> {
    selector
        .strip_prefix('v')
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .and_then(|digits| digits.parse::<i64>().ok())
}

/// The committed version `selector` names in a sequence: `vN`, an alias, or a digest.
fn resolve_selector(
    connection: &Connection,
    collection_id: i64,
    selector: &str,
) -> Result<Option<String>, Error> {
    if let Some(index) = version_index(selector) {
        return versions::committed_by_index(connection, collection_id, index);
    }
    let by_alias = versions::committed_by_alias(connection, collection_id, selector)?;
    match cairn_hash::Md5Digest::from_hex(selector) {
        Ok(digest) if by_alias.is_none() => {
            versions::committed_by_digest(connection, collection_id, &digest)
        }
        _ => Ok(by_alias),
    }
}
