//! Artifact versions: starting a log (`CreateVersion`), reading by id or by
//! `name:alias|vN|digest`, editing a committed version, and its lineage.

use cairn_hash::Md5Digest;
use cairn_manifest::LATEST_ALIAS;
use rusqlite::Connection;

use crate::access::{
    Caller, can_read, mint_id, project_for_read, project_for_write, required, version_for_read,
    version_for_write,
};
use crate::db::versions::{self, add_tags, load_version, move_alias, touch_version};
use crate::db::{links as db_links, projects, retention as db_retention, runs};
use crate::error::Error;
use crate::links;
use crate::model::{
    CollectionKind, CreateVersionStatus, CreatedVersion, Lineage, NewVersion, RunRef, Version,
    VersionEdit, VersionState,
};
use crate::retention;
use crate::service::Service;
use crate::validate;

impl Service {
    /// Starts logging a version into `entity/project` (created on first use when the caller may
    /// write to the entity): a new PENDING version, the interrupted one of the same digest, or the
    /// latest committed one when it has this digest already.
    pub async fn create_version(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        request: NewVersion,
    ) -> Result<CreatedVersion, Error> {
        let caller = required(caller)?.clone();
        validate::entity_name(entity)?;
        validate::project_name(project)?;
        let (entity, project) = (entity.to_owned(), project.to_owned());
        validate::artifact_name(&request.collection)?;
        validate::artifact_type(&request.artifact_type, &request.collection)?;
        let digest = request.digest;
        let aliases = validate::requested_aliases(&request.aliases)?;
        let tags = validate::tags(&request.tags)?;
        validate::metadata(&request.metadata)?;
        if let Some(distributed_id) = &request.distributed_id
            && (distributed_id.is_empty()
                || distributed_id.len() > 128
                || distributed_id.chars().any(char::is_control))
        {
            return Err(Error::invalid_name(
                "a distributed id must be 1 to 128 characters without control characters",
            ));
        }
        let new_id = mint_id()?;
        self.db()
            .write(move |transaction| {
                create_in(
                    transaction,
                    &caller,
                    &entity,
                    &project,
                    &request,
                    &digest,
                    &aliases,
                    &tags,
                    &new_id,
                )
            })
            .await
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the validated parts of one request"
)]
fn create_in(
    connection: &Connection,
    caller: &Caller,
    entity: &str,
    project_name: &str,
    request: &NewVersion,
    digest: &Md5Digest,
    aliases: &[String],
    tags: &[String],
    new_id: &str,
) -> Result<CreatedVersion, Error> {
    let project = project_for_write(connection, caller, entity, project_name)?;
    links::require_alias_admin(connection, caller, &project, aliases)?;
    // An explicit TTL needs the right to set one; asking to inherit is the default.
    let ttl = request
        .ttl
        .filter(|setting| *setting != crate::model::TtlSetting::Inherit);
    if let Some(setting) = ttl {
        retention::check_ttl_change(
            connection,
            caller,
            &project,
            &request.artifact_type,
            None,
            setting,
        )?;
    }
    let run = match &request.run {
        Some(run_id) => Some(
            runs::run_row_id(connection, project.id, run_id)?.ok_or_else(|| {
                Error::not_found(format!(
                    "run `{run_id}` not found in project `{}`; create it first",
                    project.path()
                ))
            })?,
        ),
        None => None,
    };
    let collection_id = collection(
        connection,
        project.id,
        &request.collection,
        &request.artifact_type,
    )?;
    if let Some(distributed_id) = &request.distributed_id {
        let mut created = distributed_in(
            connection,
            collection_id,
            distributed_id,
            request,
            digest,
            aliases,
            tags,
            run,
            new_id,
        )?;
        if let Some(setting) = ttl {
            db_retention::set_ttl(connection, &created.version.id, setting)?;
            created.version = loaded(connection, &created.version.id)?;
        }
        return Ok(created);
    }
    if let Some((latest_id, latest_digest)) = versions::latest_committed(connection, collection_id)?
        && latest_digest == *digest
    {
        apply_labels(connection, collection_id, &latest_id, aliases, tags)?;
        let version = loaded(connection, &latest_id)?;
        return Ok(CreatedVersion {
            status: CreateVersionStatus::Existing,
            version,
            manifest_uploaded: false,
        });
    }
    let metadata = serde_json::to_string(&request.metadata)
        .map_err(|error| Error::internal(format!("metadata: {error}")))?;
    let requested = serde_json::to_string(aliases)
        .map_err(|error| Error::internal(format!("aliases: {error}")))?;
    let details = versions::Details {
        description: request.description.as_deref(),
        metadata: &metadata,
        requested_aliases: &requested,
        logged_by: run,
    };
    let (status, id) = match versions::pending_with_digest(connection, collection_id, digest)? {
        Some(id) => {
            versions::update_pending(connection, &id, details)?;
            (CreateVersionStatus::Resumed, id)
        }
        None => {
            versions::insert_pending(connection, new_id, collection_id, digest, details)?;
            (CreateVersionStatus::Created, new_id.to_owned())
        }
    };
    add_tags(connection, &id, tags)?;
    if let Some(setting) = ttl {
        db_retention::set_ttl(connection, &id, setting)?;
    }
    let row = load_version(connection, &id)?
        .ok_or_else(|| Error::internal("a version just written is missing"))?;
    Ok(CreatedVersion {
        status,
        manifest_uploaded: status == CreateVersionStatus::Resumed && row.has_manifest,
        version: row.version,
    })
}

/// One writer's log of a distributed version: the PENDING version of this distributed id,
/// created by the first writer; every writer's aliases and tags are applied at the commit. Once
/// committed (or discarded), the id is finalized and further logs are refused.
#[expect(
    clippy::too_many_arguments,
    reason = "the validated parts of one request"
)]
fn distributed_in(
    connection: &Connection,
    collection_id: i64,
    distributed_id: &str,
    request: &NewVersion,
    digest: &Md5Digest,
    aliases: &[String],
    tags: &[String],
    run: Option<i64>,
    new_id: &str,
) -> Result<CreatedVersion, Error> {
    let metadata = serde_json::to_string(&request.metadata)
        .map_err(|error| Error::internal(format!("metadata: {error}")))?;
    match versions::with_distributed_id(connection, collection_id, distributed_id)? {
        Some(id) => {
            let row = load_version(connection, &id)?
                .ok_or_else(|| Error::internal("a distributed version vanished"))?;
            if row.version.state != VersionState::Pending {
                return Err(Error::refused(
                    crate::error::Kind::NotPending,
                    format!(
                        "distributed artifact `{}` (id `{distributed_id}`) was finished already as `{}`; it takes no more parts, start a new one with another distributed id",
                        request.collection,
                        row.version.qualified_name()
                    ),
                ));
            }
            if row.has_manifest {
                return Err(Error::conflict(format!(
                    "distributed artifact `{}` (id `{distributed_id}`) is being finished; it takes no more parts",
                    request.collection
                )));
            }
            let mut requested = row.requested_aliases.clone();
            for alias in aliases {
                if !requested.contains(alias) {
                    requested.push(alias.clone());
                }
            }
            let requested = serde_json::to_string(&requested)
                .map_err(|error| Error::internal(format!("aliases: {error}")))?;
            let description = request
                .description
                .as_deref()
                .or(row.version.description.as_deref());
            let details = versions::Details {
                description,
                metadata: &metadata,
                requested_aliases: &requested,
                logged_by: run,
            };
            versions::update_pending(connection, &id, details)?;
            add_tags(connection, &id, tags)?;
            Ok(CreatedVersion {
                status: CreateVersionStatus::Resumed,
                manifest_uploaded: false,
                version: loaded(connection, &id)?,
            })
        }
        None => {
            let requested = serde_json::to_string(aliases)
                .map_err(|error| Error::internal(format!("aliases: {error}")))?;
            let details = versions::Details {
                description: request.description.as_deref(),
                metadata: &metadata,
                requested_aliases: &requested,
                logged_by: run,
            };
            versions::insert_pending(connection, new_id, collection_id, digest, details)?;
            versions::set_distributed_id(connection, new_id, distributed_id)?;
            add_tags(connection, new_id, tags)?;
            Ok(CreatedVersion {
                status: CreateVersionStatus::Created,
                manifest_uploaded: false,
                version: loaded(connection, new_id)?,
            })
        }
    }
}

/// The collection's id, created with its type on first use; a different type is a conflict.
fn collection(
    connection: &Connection,
    project_id: i64,
    name: &str,
    artifact_type: &str,
) -> Result<i64, Error> {
    if let Some((id, existing_type, kind)) =
        projects::collection_type(connection, project_id, name)?
    {
        if kind == CollectionKind::Portfolio {
            return Err(Error::conflict(format!(
                "`{name}` is a portfolio of linked versions: nothing can be logged into it; log under another artifact name and link the version with `link`"
            )));
        }
        if existing_type != artifact_type {
            return Err(Error::conflict(format!(
                "artifact `{name}` has type `{existing_type}`, not `{artifact_type}`; use type `{existing_type}` or another artifact name"
            )));
        }
        return Ok(id);
    }
    projects::insert_collection(
        connection,
        project_id,
        name,
        artifact_type,
        CollectionKind::Sequence,
    )
}

/// Points the aliases at a committed version and adds the tags.
pub(crate) fn apply_labels(
    connection: &Connection,
    collection_id: i64,
    version_id: &str,
    aliases: &[String],
    tags: &[String],
) -> Result<(), Error> {
    for alias in aliases {
        move_alias(connection, collection_id, alias, version_id)?;
    }
    add_tags(connection, version_id, tags)?;
    if !aliases.is_empty() || !tags.is_empty() {
        touch_version(connection, version_id)?;
    }
    Ok(())
}

fn loaded(connection: &Connection, id: &str) -> Result<Version, Error> {
    load_version(connection, id)?
        .map(|row| row.version)
        .ok_or_else(|| Error::internal(format!("version `{id}` vanished")))
}

impl Service {
    /// A version by its id, if the caller may read it.
    pub async fn version(&self, caller: Option<&Caller>, id: &str) -> Result<Version, Error> {
        let caller = caller.cloned();
        let id = id.to_owned();
        let row = self
            .db()
            .read(move |connection| version_for_read(connection, caller.as_ref(), &id))
            .await?;
        Ok(row.version)
    }

    /// The committed version `name:selector` (`vN`, an alias or a digest; `latest` when no
    /// selector) names in a project the caller may read.
    pub async fn version_by_name(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        name: &str,
    ) -> Result<Version, Error> {
        let caller = caller.cloned();
        let (entity, project, name) = (entity.to_owned(), project.to_owned(), name.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                let (collection, selector) = name.split_once(':').unwrap_or((&name, LATEST_ALIAS));
                let not_found = || {
                    Error::not_found(format!(
                        "artifact `{}/{collection}:{selector}` not found",
                        project.path()
                    ))
                };
                let (collection_id, kind) =
                    projects::collection_kind(connection, project.id, collection)?
                        .ok_or_else(not_found)?;
                let row = links::resolve_in(
                    connection,
                    &project,
                    collection_id,
                    kind,
                    collection,
                    selector,
                )?
                .ok_or_else(not_found)?;
                Ok(row.version)
            })
            .await
    }
}

impl Service {
    /// Edits a committed version (description, metadata, aliases, tags) in one transaction.
    pub async fn update_version(
        &self,
        caller: Option<&Caller>,
        id: &str,
        request: VersionEdit,
    ) -> Result<Version, Error> {
        let caller = required(caller)?.clone();
        let id = id.to_owned();
        let latest_requested = request
            .add_aliases
            .iter()
            .any(|alias| alias == LATEST_ALIAS);
        let add_aliases = validate::requested_aliases(&request.add_aliases)?;
        if request
            .remove_aliases
            .iter()
            .any(|alias| alias == LATEST_ALIAS)
        {
            return Err(Error::bad_request(
                "alias `latest` cannot be removed by hand: it always points at the newest version",
            ));
        }
        let add_tags_list = validate::tags(&request.add_tags)?;
        if let Some(metadata) = &request.metadata {
            validate::metadata(metadata)?;
        }
        if let Some(setting) = request.ttl {
            retention::validate_ttl(setting)?;
        }
        let edits_version = request.description.is_some()
            || request.metadata.is_some()
            || request.ttl.is_some()
            || !request.add_tags.is_empty()
            || !request.remove_tags.is_empty();
        self.db()
            .write(move |connection| {
                // Alias edits through a portfolio need write access to the portfolio's
                // project; changes of the version itself need its own project's.
                let row = if request.through.is_some() && !edits_version {
                    version_for_read(connection, Some(&caller), &id)?
                } else {
                    version_for_write(connection, &caller, &id)?
                };
                if row.version.state != VersionState::Committed {
                    return Err(Error::conflict(format!(
                        "artifact version `{id}` is {:?}; only committed versions can be edited",
                        row.version.state
                    )));
                }
                let (alias_project, alias_collection, portfolio) = match &request.through {
                    None => (row.project.clone(), row.collection_id, None),
                    Some(path) => {
                        let (project, portfolio_id, name) =
                            links::portfolio_for_write(connection, &caller, path)?;
                        let link = db_links::live_link(connection, portfolio_id, &id)?
                            .ok_or_else(|| {
                                Error::not_found(format!(
                                    "artifact version `{id}` is not linked into `{path}`"
                                ))
                            })?;
                        (project, portfolio_id, Some((name, link)))
                    }
                };
                let current = db_links::aliases_in(connection, alias_collection, &id)?;
                if latest_requested && !current.iter().any(|alias| alias == LATEST_ALIAS) {
                    return Err(Error::bad_request(
                        "alias `latest` cannot be set by hand: it always points at the newest version",
                    ));
                }
                let touched: Vec<String> = add_aliases
                    .iter()
                    .chain(request.remove_aliases.iter().filter(|alias| current.contains(alias)))
                    .cloned()
                    .collect();
                links::require_alias_admin(connection, &caller, &alias_project, &touched)?;
                if let Some(description) = &request.description {
                    let description = (!description.is_empty()).then_some(description);
                    versions::set_description(connection, &id, description.map(String::as_str))?;
                }
                if let Some(metadata) = &request.metadata {
                    let text = serde_json::to_string(metadata)
                        .map_err(|error| Error::internal(format!("metadata: {error}")))?;
                    versions::set_metadata(connection, &id, &text)?;
                }
                if let Some(setting) = request.ttl {
                    if request.through.is_some() {
                        return Err(Error::bad_request(
                            "a link has no TTL of its own; set the TTL on the version where it was logged",
                        ));
                    }
                    retention::check_ttl_change(
                        connection,
                        &caller,
                        &row.project,
                        &row.version.artifact_type,
                        Some((&id, &row.version.qualified_name())),
                        setting,
                    )?;
                    db_retention::set_ttl(connection, &id, setting)?;
                }
                for alias in &request.remove_aliases {
                    versions::remove_alias(connection, alias_collection, alias, &id)?;
                }
                for tag in &request.remove_tags {
                    versions::remove_tag(connection, &id, tag)?;
                }
                for alias in &add_aliases {
                    move_alias(connection, alias_collection, alias, &id)?;
                }
                add_tags(connection, &id, &add_tags_list)?;
                touch_version(connection, &id)?;
                projects::touch_collection(connection, alias_collection)?;
                match portfolio {
                    None => loaded(connection, &id),
                    Some((name, link)) => Ok(links::seen_through(
                        connection,
                        &alias_project,
                        alias_collection,
                        &name,
                        &link,
                    )?
                    .version),
                }
            })
            .await
    }

    /// The runs that logged and used a version, those the caller may read.
    pub async fn lineage(&self, caller: Option<&Caller>, id: &str) -> Result<Lineage, Error> {
        let caller = caller.cloned();
        let id = id.to_owned();
        self.db()
            .read(move |connection| {
                version_for_read(connection, caller.as_ref(), &id)?;
                let readable = |runs: Vec<(i64, String)>| -> Result<Vec<RunRef>, Error> {
                    let mut refs = Vec::new();
                    for (project_id, run_id) in runs {
                        let project = projects::project_by_id(connection, project_id)?;
                        if can_read(connection, caller.as_ref(), &project)? {
                            refs.push(RunRef {
                                entity: project.entity,
                                project: project.name,
                                id: run_id,
                            });
                        }
                    }
                    Ok(refs)
                };
                let logged_by = readable(
                    versions::logging_run(connection, &id)?
                        .into_iter()
                        .collect(),
                )?
                .into_iter()
                .next();
                let used_by = readable(versions::using_runs(connection, &id)?)?;
                Ok(Lineage { logged_by, used_by })
            })
            .await
    }
}
