//! Artifact versions: starting a log (`CreateVersion`), reading by id or by
//! `name:alias|vN|digest`, editing a committed version, and its lineage.

use cairn_hash::Md5Digest;
use cairn_manifest::LATEST_ALIAS;
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::access::{
    Caller, can_read, mint_id, project_for_read, project_for_write, required, version_for_read,
    version_for_write,
};
use crate::db::queries::{self, add_tags, load_version, move_alias, touch_version};
use crate::db::schema::NOW;
use crate::error::Error;
use crate::model::{
    CreateVersionStatus, CreatedVersion, Lineage, NewVersion, RunRef, Version, VersionEdit,
    VersionState,
};
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
    let run = match &request.run {
        Some(run_id) => Some(
            connection
                .query_row(
                    "SELECT id FROM runs WHERE project_id = ?1 AND run_id = ?2",
                    params![project.id, run_id],
                    |row| row.get::<_, i64>(0),
                )
                .optional()?
                .ok_or_else(|| {
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
    if let Some((latest_id, latest_digest)) = queries::latest_committed(connection, collection_id)?
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
    let pending: Option<String> = connection
        .query_row(
            "SELECT id FROM versions WHERE collection_id = ?1 AND digest = ?2 AND state = 'PENDING' \
             ORDER BY created_at DESC LIMIT 1",
            params![collection_id, digest.to_hex()],
            |row| row.get(0),
        )
        .optional()?;
    let (status, id) = match pending {
        Some(id) => {
            connection.execute(
                &format!(
                    "UPDATE versions SET description = ?2, metadata = ?3, requested_aliases = ?4, \
                     logged_by = ?5, updated_at = {NOW} WHERE id = ?1"
                ),
                params![id, request.description, metadata, requested, run],
            )?;
            (CreateVersionStatus::Resumed, id)
        }
        None => {
            connection.execute(
                &format!(
                    "INSERT INTO versions (id, collection_id, state, digest, description, metadata, \
                     requested_aliases, logged_by, created_at, updated_at) \
                     VALUES (?1, ?2, 'PENDING', ?3, ?4, ?5, ?6, ?7, {NOW}, {NOW})"
                ),
                params![new_id, collection_id, digest.to_hex(), request.description, metadata, requested, run],
            )?;
            (CreateVersionStatus::Created, new_id.to_owned())
        }
    };
    add_tags(connection, &id, tags)?;
    let row = load_version(connection, &id)?
        .ok_or_else(|| Error::internal("a version just written is missing"))?;
    Ok(CreatedVersion {
        status,
        manifest_uploaded: status == CreateVersionStatus::Resumed && row.has_manifest,
        version: row.version,
    })
}

/// The collection's id, created with its type on first use; a different type is a conflict.
fn collection(
    connection: &Connection,
    project_id: i64,
    name: &str,
    artifact_type: &str,
) -> Result<i64, Error> {
    let existing: Option<(i64, String)> = connection
        .query_row(
            "SELECT c.id, t.name FROM collections c JOIN artifact_types t ON t.id = c.type_id \
             WHERE c.project_id = ?1 AND c.name = ?2",
            params![project_id, name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((id, existing_type)) = existing {
        if existing_type != artifact_type {
            return Err(Error::conflict(format!(
                "artifact `{name}` has type `{existing_type}`, not `{artifact_type}`; use type `{existing_type}` or another artifact name"
            )));
        }
        return Ok(id);
    }
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
            "INSERT INTO collections (project_id, name, type_id, created_at, updated_at) \
             VALUES (?1, ?2, ?3, {NOW}, {NOW})"
        ),
        params![project_id, name, type_id],
    )?;
    Ok(connection.last_insert_rowid())
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
                let collection_id: i64 = connection
                    .query_row(
                        "SELECT id FROM collections WHERE project_id = ?1 AND name = ?2",
                        params![project.id, collection],
                        |row| row.get(0),
                    )
                    .optional()?
                    .ok_or_else(not_found)?;
                let id =
                    resolve_selector(connection, collection_id, selector)?.ok_or_else(not_found)?;
                loaded(connection, &id)
            })
            .await
    }
}

/// The committed version `selector` names: `vN`, an alias, or an artifact digest.
fn resolve_selector(
    connection: &Connection,
    collection_id: i64,
    selector: &str,
) -> Result<Option<String>, Error> {
    let committed = "state = 'COMMITTED' AND collection_id = ?1";
    if let Some(index) = selector
        .strip_prefix('v')
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .and_then(|digits| digits.parse::<i64>().ok())
    {
        return Ok(connection
            .query_row(
                &format!("SELECT id FROM versions WHERE {committed} AND version_index = ?2"),
                params![collection_id, index],
                |row| row.get(0),
            )
            .optional()?);
    }
    let by_alias: Option<String> = connection
        .query_row(
            "SELECT v.id FROM aliases a JOIN versions v ON v.id = a.version_id \
             WHERE a.collection_id = ?1 AND a.alias = ?2 AND v.state = 'COMMITTED'",
            params![collection_id, selector],
            |row| row.get(0),
        )
        .optional()?;
    if by_alias.is_some() || !validate::is_hex32(selector) {
        return Ok(by_alias);
    }
    Ok(connection
        .query_row(
            &format!(
                "SELECT id FROM versions WHERE {committed} AND digest = ?2 ORDER BY version_index DESC LIMIT 1"
            ),
            params![collection_id, selector.to_ascii_lowercase()],
            |row| row.get(0),
        )
        .optional()?)
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
        self.db()
        .write(move |connection| {
            let row = version_for_write(connection, &caller, &id)?;
            if row.version.state != VersionState::Committed {
                return Err(Error::conflict(format!(
                    "artifact version `{id}` is {:?}; only committed versions can be edited",
                    row.version.state
                )));
            }
            if latest_requested && !row.version.aliases.iter().any(|alias| alias == LATEST_ALIAS) {
                return Err(Error::bad_request(
                    "alias `latest` cannot be set by hand: it always points at the newest version",
                ));
            }
            if let Some(description) = &request.description {
                let description = (!description.is_empty()).then_some(description);
                connection.execute(
                    "UPDATE versions SET description = ?2 WHERE id = ?1",
                    params![id, description],
                )?;
            }
            if let Some(metadata) = &request.metadata {
                let text = serde_json::to_string(metadata)
                    .map_err(|error| Error::internal(format!("metadata: {error}")))?;
                connection.execute("UPDATE versions SET metadata = ?2 WHERE id = ?1", params![id, text])?;
            }
            for alias in &request.remove_aliases {
                connection.execute(
                    "DELETE FROM aliases WHERE collection_id = ?1 AND alias = ?2 AND version_id = ?3",
                    params![row.collection_id, alias, id],
                )?;
            }
            for tag in &request.remove_tags {
                connection.execute("DELETE FROM tags WHERE version_id = ?1 AND tag = ?2", params![id, tag])?;
            }
            apply_labels(connection, row.collection_id, &id, &add_aliases, &add_tags_list)?;
            touch_version(connection, &id)?;
            connection.execute(
                &format!("UPDATE collections SET updated_at = {NOW} WHERE id = ?1"),
                [row.collection_id],
            )?;
            loaded(connection, &id)
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
            let run_of = |sql: &str| -> Result<Vec<(i64, String)>, Error> {
                let mut statement = connection.prepare_cached(sql)?;
                let rows = statement.query_map([&id], |row| Ok((row.get(0)?, row.get(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            };
            let readable = |runs: Vec<(i64, String)>| -> Result<Vec<RunRef>, Error> {
                let mut refs = Vec::new();
                for (project_id, run_id) in runs {
                    let project = queries::project_by_id(connection, project_id)?;
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
            let logged_by = readable(run_of(
                "SELECT r.project_id, r.run_id FROM versions v JOIN runs r ON r.id = v.logged_by WHERE v.id = ?1",
            )?)?
            .into_iter()
            .next();
            let used_by = readable(run_of(
                "SELECT r.project_id, r.run_id FROM run_inputs i JOIN runs r ON r.id = i.run_id \
                 WHERE i.version_id = ?1 ORDER BY i.used_at, r.run_id",
            )?)?;
            Ok(Lineage { logged_by, used_by })
        })
        .await
    }
}
