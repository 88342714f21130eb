//! The W&B-shaped GraphQL types, resolved on the domain (`cairn_service::Service`).
//!
//! Each object answers the fields the pinned SDK selects (see `docs/wandb.md` for the list of
//! operations). Lookups that find nothing the caller may read answer `null`, as W&B does (the
//! SDK turns that into its own "not found" error); refused writes answer a GraphQL error with
//! the domain's words. Nothing here decides access: every read and write goes through the same
//! `Service` function as the native API.

use std::sync::Arc;

use cairn_service::capability::{DEFAULT_GRANT_TTL, Grant};
use cairn_service::model::{
    CollectionPath, LinkRequest, NewVersion, Run, RunState, RunUpdate, TtlSetting, Version,
    VersionEdit, VersionState,
};
use cairn_service::{Caller, Kind, LATEST_ALIAS, Md5Digest};
use serde_json::{Map, Value, json};

use super::exec::{Args, FieldError, Object, Out, Roots};
use super::ids;
use crate::state::AppState;

/// What every resolver of one request shares.
pub(crate) struct Cx {
    pub(crate) state: AppState,
    pub(crate) caller: Option<Caller>,
    /// `http://host:port` as the client reached us, for the URLs handed out.
    pub(crate) base_url: String,
}

type Cxr = Arc<Cx>;

impl Cx {
    fn service(&self) -> &cairn_service::Service {
        self.state.service()
    }

    fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// A signed URL for `grant` under `path` (which holds the grant's fields).
    fn signed_url(&self, path: &str, grant: &Grant) -> Result<String, FieldError> {
        let token = self
            .service()
            .grant(self.caller(), grant, DEFAULT_GRANT_TTL)
            .map_err(domain)?;
        Ok(format!("{}{path}?token={token}", self.base_url))
    }
}

/// A domain error as a GraphQL error.
pub(crate) fn domain(error: cairn_service::Error) -> FieldError {
    match &error {
        cairn_service::Error::Refused(refusal) => FieldError::new(refusal.message.clone()),
        cairn_service::Error::Unavailable(message) => FieldError {
            message: format!("the server cannot answer now: {message}; retrying"),
            unavailable: true,
        },
        other => {
            tracing::error!(error = %cairn_service::error_chain(other), "a W&B request failed");
            FieldError::new(
                "the server failed to answer this request (the error is in its log); this is a bug in Cairn, please report it",
            )
        }
    }
}

/// `Ok(None)` for what the caller cannot see, so lookups answer `null`.
fn found<T>(result: Result<T, cairn_service::Error>) -> Result<Option<T>, FieldError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.kind() == Some(Kind::NotFound) => Ok(None),
        Err(error) => Err(domain(error)),
    }
}

fn some(value: impl Into<Out>) -> Result<Option<Out>, FieldError> {
    Ok(Some(value.into()))
}

// ----- argument helpers -----

fn arg_str<'a>(args: &'a Args, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn required_str<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, FieldError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| FieldError::new(format!("argument `{name}` is required")))
}

fn input(args: &Args) -> Result<&Map<String, Value>, FieldError> {
    args.get("input")
        .and_then(Value::as_object)
        .ok_or_else(|| FieldError::new("argument `input` is required"))
}

/// A `JSONString` argument as an object (`null` and absent are `None`).
fn json_string_object(
    args: &Map<String, Value>,
    name: &str,
) -> Result<Option<Map<String, Value>>, FieldError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(Value::Null) => Ok(None),
            Ok(_) => Err(FieldError::new(format!("`{name}` must be a JSON object"))),
            Err(error) => Err(FieldError::new(format!(
                "`{name}` is not valid JSON: {error}"
            ))),
        },
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(FieldError::new(format!("`{name}` must be a JSON string"))),
    }
}

/// `first` / `after` of a connection.
fn page(args: &Args, default: usize) -> (Option<String>, usize) {
    let after = arg_str(args, "after").map(str::to_owned);
    let first = args
        .get("first")
        .and_then(Value::as_u64)
        .map_or(default, |first| usize::try_from(first).unwrap_or(default))
        .clamp(1, 10_000);
    (after, first)
}

fn connection(
    nodes: Vec<Out>,
    cursors: Vec<String>,
    end: Option<String>,
    has_next: bool,
    total: Option<u64>,
) -> Out {
    let edges: Vec<Out> = nodes
        .into_iter()
        .zip(cursors)
        .map(|(node, cursor)| Record::out([("node", node), ("cursor", json!(cursor).into())]))
        .collect();
    Record::out([
        ("edges", Out::List(edges)),
        (
            "pageInfo",
            json!({ "__typename": "PageInfo", "endCursor": end, "hasNextPage": has_next }).into(),
        ),
        ("totalCount", json!(total).into()),
    ])
}

/// An object of already resolved fields: connections, edges, mutation payloads. It takes any
/// fragment's type condition (the SDK's fragments on payload types name W&B's own types).
struct Record {
    fields: Vec<(&'static str, Out)>,
}

impl Record {
    fn out<const N: usize>(fields: [(&'static str, Out); N]) -> Out {
        Out::object(Self {
            fields: Vec::from(fields),
        })
    }
}

#[async_trait::async_trait]
impl Object for Record {
    fn typename(&self) -> &'static str {
        "Record"
    }

    fn satisfies(&self, _condition: &str) -> bool {
        true
    }

    async fn field(&self, name: &str, _args: &Args) -> Result<Option<Out>, FieldError> {
        Ok(self
            .fields
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value.clone()))
    }
}

// ----- plain JSON shapes -----

fn project_json(entity: &str, name: &str, id: i64) -> Value {
    json!({
        "__typename": "Project",
        "id": ids::encode("Project", &id.to_string()),
        "internalId": id.to_string(),
        "name": name,
        "entityName": entity,
        "entity": entity_json(entity),
    })
}

fn entity_json(name: &str) -> Value {
    json!({
        "__typename": "Entity",
        "id": ids::encode("Entity", name),
        "name": name,
        "organization": null,
    })
}

fn state_name(state: VersionState) -> &'static str {
    match state {
        VersionState::Pending => "PENDING",
        VersionState::Committed => "COMMITTED",
        VersionState::Deleted => "DELETED",
    }
}

fn run_state_name(state: RunState) -> &'static str {
    match state {
        RunState::Running => "running",
        RunState::Finished => "finished",
        RunState::Failed => "failed",
        RunState::Crashed => "crashed",
    }
}

fn json_text(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

// ----- roots -----

/// The query and mutation roots of one request.
pub(crate) struct Schema(pub(crate) Cxr);

impl Roots for Schema {
    fn query(&self) -> Arc<dyn Object> {
        Arc::new(Query(Arc::clone(&self.0)))
    }

    fn mutation(&self) -> Arc<dyn Object> {
        Arc::new(Mutation(Arc::clone(&self.0)))
    }
}

struct Query(Cxr);

#[async_trait::async_trait]
impl Object for Query {
    fn typename(&self) -> &'static str {
        "Query"
    }

    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
        let cx = &self.0;
        match name {
            "viewer" => {
                if cx.caller().is_none() {
                    return some(Value::Null);
                }
                let viewer = cx.service().viewer(cx.caller()).await.map_err(domain)?;
                let username = viewer.user.username.clone();
                let teams: Vec<Value> = viewer
                    .teams
                    .iter()
                    .map(|team| json!({ "node": { "__typename": "Entity", "name": team.team, "id": ids::encode("Entity", &team.team) } }))
                    .collect();
                some(json!({
                    "__typename": "User",
                    "id": ids::encode("User", &username),
                    "entity": username,
                    "username": username,
                    "name": username,
                    "email": null,
                    "admin": viewer.user.admin,
                    "flags": "{}",
                    "teams": { "edges": teams },
                    "apiKeys": null,
                }))
            }
            "serverInfo" => some(json!({
                "__typename": "ServerInfo",
                // Cairn advertises no optional W&B feature: the SDK then takes its most
                // conservative code paths, which are the ones this server implements.
                "features": [],
                "cliVersionInfo": {},
                "latestLocalVersionInfo": null,
                "availableBucketProviders": [],
                "isGoogleCloudCredentialsEnabled": false,
            })),
            "entity" => {
                let name = required_str(args, "name")?;
                match found(cx.service().projects(cx.caller(), name).await)? {
                    Some(_) => some(entity_json(name)),
                    None => some(Value::Null),
                }
            }
            "project" | "model" => {
                let entity = match arg_str(args, "entityName") {
                    Some(entity) => entity.to_owned(),
                    None => match cx.caller() {
                        Some(caller) => caller.username().to_owned(),
                        None => return some(Value::Null),
                    },
                };
                let name = arg_str(args, "name").unwrap_or("uncategorized");
                match found(cx.service().project(cx.caller(), &entity, name).await)? {
                    Some(project) => some(Out::object(ProjectObj {
                        cx: Arc::clone(cx),
                        entity: project.entity,
                        name: project.name,
                        id: project.id,
                    })),
                    None => some(Value::Null),
                }
            }
            "artifactCollection" | "artifactSequence" => {
                let Some(id) = collection_number(required_str(args, "id")?) else {
                    return some(Value::Null);
                };
                let collection = found(cx.service().collection_by_id(cx.caller(), id).await)?;
                match collection {
                    Some(collection) => {
                        let project = cx
                            .service()
                            .project(cx.caller(), &collection.entity, &collection.project)
                            .await
                            .map_err(domain)?;
                        some(Out::object(CollectionObj::listed(
                            cx, project.id, collection,
                        )))
                    }
                    None => some(Value::Null),
                }
            }
            "artifact" => {
                let id = ids::version_of(required_str(args, "id")?);
                let version = found(cx.service().version(cx.caller(), &id).await)?;
                some(Out::optional(
                    version.map(|version| ArtifactObj::new(cx, version)),
                ))
            }
            _ => Ok(None),
        }
    }
}

struct Mutation(Cxr);

#[async_trait::async_trait]
impl Object for Mutation {
    fn typename(&self) -> &'static str {
        "Mutation"
    }

    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
        let cx = &self.0;
        match name {
            "upsertBucket" => upsert_bucket(cx, input(args)?).await.map(Some),
            "createRunFiles" => create_run_files(cx, input(args)?).await.map(Some),
            "createArtifact" => create_artifact(cx, input(args)?).await.map(Some),
            "createArtifactManifest" | "updateArtifactManifest" => {
                create_manifest(cx, input(args)?).await.map(Some)
            }
            "createArtifactFiles" => create_files(cx, input(args)?).await.map(Some),
            "commitArtifact" => {
                let id = ids::version_of(required_str(input(args)?, "artifactID")?);
                let version = cx
                    .service()
                    .commit(cx.caller(), &id)
                    .await
                    .map_err(domain)?;
                some(payload(
                    "artifact",
                    Out::object(ArtifactObj::new(cx, version)),
                ))
            }
            "useArtifact" => use_artifact(cx, input(args)?).await.map(Some),
            "addAliases" | "deleteAliases" => {
                let input = input(args)?;
                let id = ids::version_of(required_str(input, "artifactID")?);
                let inputs: &[Value] = input
                    .get("aliases")
                    .and_then(Value::as_array)
                    .map_or(&[], Vec::as_slice);
                // Each alias names its collection; one in a portfolio the version is linked
                // into is the link's alias there.
                let version = cx
                    .service()
                    .version(cx.caller(), &id)
                    .await
                    .map_err(domain)?;
                let mut by_place: Vec<(Option<CollectionPath>, Vec<String>)> = Vec::new();
                for alias_input in inputs {
                    let Some(alias) = alias_input.get("alias").and_then(Value::as_str) else {
                        continue;
                    };
                    let place = alias_place(alias_input, &version);
                    match by_place.iter_mut().find(|(existing, _)| *existing == place) {
                        Some((_, aliases)) => aliases.push(alias.to_owned()),
                        None => by_place.push((place, vec![alias.to_owned()])),
                    }
                }
                for (through, aliases) in by_place {
                    let edit = if name == "addAliases" {
                        VersionEdit {
                            add_aliases: aliases,
                            through,
                            ..VersionEdit::default()
                        }
                    } else {
                        VersionEdit {
                            remove_aliases: aliases,
                            through,
                            ..VersionEdit::default()
                        }
                    };
                    cx.service()
                        .update_version(cx.caller(), &id, edit)
                        .await
                        .map_err(domain)?;
                }
                some(json!({ "success": true, "clientMutationId": null }))
            }
            "updateArtifact" => update_artifact(cx, input(args)?).await.map(Some),
            "updateArtifactSequence" | "updateArtifactCollection" | "updateArtifactPortfolio" => {
                let input = input(args)?;
                let current = input_collection(cx, input).await?;
                let edit = cairn_service::model::CollectionEdit {
                    name: arg_str(input, "name")
                        .filter(|name| *name != current.name)
                        .map(str::to_owned),
                    description: match input.get("description") {
                        Some(Value::String(text)) => Some(text.clone()),
                        Some(Value::Null) => Some(String::new()),
                        _ => None,
                    },
                };
                let updated = cx
                    .service()
                    .update_collection(
                        cx.caller(),
                        &current.entity,
                        &current.project,
                        &current.name,
                        edit,
                    )
                    .await
                    .map_err(domain)?;
                let project = cx
                    .service()
                    .project(cx.caller(), &updated.entity, &updated.project)
                    .await
                    .map_err(domain)?;
                some(payload(
                    "artifactCollection",
                    Out::object(CollectionObj::listed(cx, project.id, updated)),
                ))
            }
            "moveArtifactSequence" | "updateArtifactSequenceType" => Err(FieldError::new(
                "this Cairn server cannot change a collection's type; log it under a new name instead",
            )),
            "deleteArtifact" => {
                let input = input(args)?;
                let id = ids::version_of(required_str(input, "artifactID")?);
                let delete_aliases = input
                    .get("deleteAliases")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let deleted = cx
                    .service()
                    .delete_version(cx.caller(), &id, delete_aliases)
                    .await
                    .map_err(domain)?;
                some(payload(
                    "artifact",
                    Out::object(ArtifactObj::new(cx, deleted)),
                ))
            }
            "completeMultipartUploadArtifact" => Err(FieldError::new(
                "this Cairn server never offers multipart uploads; upload the file in one PUT",
            )),
            "deleteArtifactSequence" | "deleteArtifactPortfolio" | "deleteArtifactCollection" => {
                let collection = input_collection(cx, input(args)?).await?;
                cx.service()
                    .delete_collection(
                        cx.caller(),
                        &collection.entity,
                        &collection.project,
                        &collection.name,
                    )
                    .await
                    .map_err(domain)?;
                let typename = match collection.kind {
                    cairn_service::model::CollectionKind::Sequence => "ArtifactSequence",
                    cairn_service::model::CollectionKind::Portfolio => "ArtifactPortfolio",
                };
                some(json!({
                    "artifactCollection": { "__typename": typename, "state": "DELETED" },
                    "clientMutationId": null,
                }))
            }
            "deleteRun" => {
                let input = input(args)?;
                let key = ids::decode("Run", required_str(input, "id")?);
                let mut parts = key.splitn(3, '/');
                let (Some(entity), Some(project), Some(run)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(FieldError::new("`id` is not a run id"));
                };
                let delete_artifacts = input
                    .get("deleteArtifacts")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                cx.service()
                    .delete_run(cx.caller(), entity, project, run, delete_artifacts)
                    .await
                    .map_err(domain)?;
                some(json!({ "clientMutationId": null }))
            }
            "linkArtifact" => link_artifact(cx, input(args)?).await.map(Some),
            "unlinkArtifact" => {
                let input = input(args)?;
                let id = ids::version_of(required_str(input, "artifactID")?);
                let portfolio =
                    portfolio_path(cx, required_str(input, "artifactPortfolioID")?).await?;
                cx.service()
                    .unlink_version(cx.caller(), &id, portfolio)
                    .await
                    .map_err(domain)?;
                some(json!({ "success": true, "clientMutationId": null }))
            }
            _ => Ok(None),
        }
    }
}

/// A mutation's payload object with one field.
fn payload(field: &'static str, value: Out) -> Out {
    Record::out([(field, value), ("clientMutationId", Out::null())])
}

// ----- runs -----

async fn upsert_bucket(cx: &Cxr, input: &Map<String, Value>) -> Result<Out, FieldError> {
    let entity = match arg_str(input, "entityName") {
        Some(entity) => entity.to_owned(),
        None => cx
            .caller()
            .map(|caller| caller.username().to_owned())
            .ok_or_else(|| FieldError::new("creating a run needs an API key"))?,
    };
    let project = arg_str(input, "modelName")
        .unwrap_or("uncategorized")
        .to_owned();
    let run_id = arg_str(input, "name").map(str::to_owned);
    let update = RunUpdate {
        job_type: arg_str(input, "jobType").map(str::to_owned),
        display_name: arg_str(input, "displayName").map(str::to_owned),
        notes: arg_str(input, "notes").map(str::to_owned),
        config: json_string_object(input, "config")?,
        summary: json_string_object(input, "summaryMetrics")?,
    };
    let (run, inserted) = cx
        .service()
        .upsert_run(cx.caller(), &entity, &project, run_id.as_deref(), update)
        .await
        .map_err(domain)?;
    Ok(Record::out([
        (
            "bucket",
            Out::object(RunObj {
                cx: Arc::clone(cx),
                run,
            }),
        ),
        ("inserted", json!(inserted).into()),
        ("clientMutationId", Out::null()),
    ]))
}

async fn create_run_files(cx: &Cxr, input: &Map<String, Value>) -> Result<Out, FieldError> {
    let entity = required_str(input, "entityName")?;
    let project = required_str(input, "projectName")?;
    let run_id = required_str(input, "runName")?;
    let run = cx
        .service()
        .run(cx.caller(), entity, project, run_id)
        .await
        .map_err(domain)?;
    let names: Vec<&str> = input
        .get("files")
        .and_then(Value::as_array)
        .map(|files| files.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let grant = Grant::UploadRunFile {
            entity: run.entity.clone(),
            project: run.project.clone(),
            run: run.id.clone(),
            name: name.to_owned(),
        };
        let path = super::run_file_path(&run.entity, &run.project, &run.id, name);
        files.push(json!({
            "__typename": "File",
            "name": name,
            "uploadUrl": cx.signed_url(&path, &grant)?,
        }));
    }
    Ok(json!({
        "runID": ids::encode("Run", &format!("{}/{}/{}", run.entity, run.project, run.id)),
        "uploadHeaders": [],
        "files": files,
        "clientMutationId": null,
    })
    .into())
}

struct RunObj {
    cx: Cxr,
    run: Run,
}

#[async_trait::async_trait]
impl Object for RunObj {
    fn typename(&self) -> &'static str {
        "Run"
    }

    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
        let run = &self.run;
        let value = match name {
            "id" => json!(ids::encode(
                "Run",
                &format!("{}/{}/{}", run.entity, run.project, run.id)
            )),
            "name" => json!(run.id),
            "displayName" => json!(run.display_name.clone().unwrap_or_else(|| run.id.clone())),
            "projectId" => json!(run.project_id.to_string()),
            "project" => project_json(&run.entity, &run.project, run.project_id),
            "state" => json!(run_state_name(run.state)),
            "jobType" => json!(run.job_type),
            "createdAt" => json!(run.created_at),
            "heartbeatAt" => json!(
                run.heartbeat_at
                    .clone()
                    .or_else(|| run.finished_at.clone())
                    .unwrap_or_else(|| run.created_at.clone())
            ),
            "notes" | "description" => json!(run.notes),
            "user" => json!({ "__typename": "User", "name": run.user, "username": run.user }),
            "config" => json!(json_text(&run.config)),
            "summaryMetrics" => json!(json_text(&run.summary)),
            "systemMetrics" => json!("{}"),
            "wandbConfig" => {
                let wanted: Vec<&str> = args
                    .get("keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let wandb = run
                    .config
                    .get("_wandb")
                    .and_then(|entry| entry.get("value"))
                    .and_then(Value::as_object);
                let mut picked = Map::new();
                if let Some(wandb) = wandb {
                    for (key, value) in wandb {
                        if wanted.is_empty() || wanted.contains(&key.as_str()) {
                            picked.insert(key.clone(), value.clone());
                        }
                    }
                }
                json!(json_text(&picked))
            }
            "tags" => json!([]),
            "sweepName" | "group" | "commit" | "host" | "sweep" | "historyKeys" => Value::Null,
            "readOnly" => json!(false),
            // Cairn keeps a run's summary and config, not its history or console lines.
            "historyLineCount" | "logLineCount" | "eventsLineCount" => json!(0),
            "historyTail" | "eventsTail" => json!("[]"),
            "exitcode" => json!(run.exit_code),
            "outputArtifacts" | "inputArtifacts" => {
                let artifacts = self
                    .cx
                    .service()
                    .run_artifacts(self.cx.caller(), &run.entity, &run.project, &run.id)
                    .await
                    .map_err(domain)?;
                let list = if name == "outputArtifacts" {
                    artifacts.logged
                } else {
                    artifacts.used
                };
                return some(version_connection(&self.cx, list, args));
            }
            _ => return Ok(None),
        };
        some(value)
    }
}

/// Versions as a connection paginated by id cursors.
fn version_connection(cx: &Cxr, versions: Vec<Version>, args: &Args) -> Out {
    let (after, first) = page(args, 100);
    let total = versions.len() as u64;
    let start = after
        .as_deref()
        .and_then(|cursor| {
            versions
                .iter()
                .position(|version| ids::artifact(&version.id) == cursor)
        })
        .map_or(0, |index| index + 1);
    let page: Vec<Version> = versions.into_iter().skip(start).collect();
    let has_next = page.len() > first;
    let (nodes, cursors): (Vec<Out>, Vec<String>) = page
        .into_iter()
        .take(first)
        .map(|version| {
            let cursor = ids::artifact(&version.id);
            (Out::object(ArtifactObj::new(cx, version)), cursor)
        })
        .unzip();
    let end = cursors.last().cloned();
    connection(nodes, cursors, end, has_next, Some(total))
}

// ----- projects, collections, memberships -----

struct ProjectObj {
    cx: Cxr,
    entity: String,
    name: String,
    id: i64,
}

impl ProjectObj {
    async fn version_named(&self, name: &str) -> Result<Option<Version>, FieldError> {
        found(
            self.cx
                .service()
                .version_by_name(self.cx.caller(), &self.entity, &self.name, name)
                .await,
        )
    }
}

#[async_trait::async_trait]
impl Object for ProjectObj {
    fn typename(&self) -> &'static str {
        "Project"
    }

    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
        let cx = &self.cx;
        match name {
            "id" => some(json!(ids::encode("Project", &self.id.to_string()))),
            "internalId" => some(json!(self.id.to_string())),
            "name" => some(json!(self.name)),
            "entityName" => some(json!(self.entity)),
            "entity" => some(entity_json(&self.entity)),
            "readOnly" => {
                let writable = cx
                    .service()
                    .may_write_project(cx.caller(), &self.entity, &self.name)
                    .await
                    .map_err(domain)?;
                some(json!(!writable))
            }
            "artifact" => {
                let version = self.version_named(required_str(args, "name")?).await?;
                some(Out::optional(
                    version.map(|version| ArtifactObj::new(cx, version)),
                ))
            }
            "artifactCollectionMembership" => {
                let version = self.version_named(required_str(args, "name")?).await?;
                some(Out::optional(version.map(|version| Membership {
                    cx: Arc::clone(cx),
                    version,
                })))
            }
            "artifactCollection" | "artifactSequence" => {
                let collection = required_str(args, "name")?;
                let found = found(
                    cx.service()
                        .collection(cx.caller(), &self.entity, &self.name, collection)
                        .await,
                )?;
                some(Out::optional(found.map(|collection| {
                    CollectionObj::listed(cx, self.id, collection)
                })))
            }
            "artifactCollections" | "artifactSequences" => {
                let collections = cx
                    .service()
                    .collections(cx.caller(), &self.entity, &self.name, None)
                    .await
                    .map_err(domain)?;
                some(collections_connection(cx, self.id, collections, args))
            }
            "artifactTypes" => {
                let types = cx
                    .service()
                    .artifact_types(cx.caller(), &self.entity, &self.name)
                    .await
                    .map_err(domain)?;
                some(sorted_page(types, args, 50, false, |artifact_type| {
                    (
                        artifact_type.name.clone(),
                        Out::Json(type_json(&artifact_type)),
                    )
                }))
            }
            "run" | "bucket" => {
                let run_id = required_str(args, "name")?;
                let run = found(
                    cx.service()
                        .run(cx.caller(), &self.entity, &self.name, run_id)
                        .await,
                )?;
                some(Out::optional(run.map(|run| RunObj {
                    cx: Arc::clone(cx),
                    run,
                })))
            }
            "artifactType" => {
                let wanted = required_str(args, "name")?;
                let types = cx
                    .service()
                    .artifact_types(cx.caller(), &self.entity, &self.name)
                    .await
                    .map_err(domain)?;
                let found = types
                    .into_iter()
                    .find(|artifact_type| artifact_type.name == wanted);
                some(Out::optional(found.map(|artifact_type| TypeObj {
                    cx: Arc::clone(cx),
                    entity: self.entity.clone(),
                    project: self.name.clone(),
                    project_id: self.id,
                    artifact_type,
                })))
            }
            _ => Ok(None),
        }
    }
}

/// The number of a collection's global id.
fn collection_number(id: &str) -> Option<i64> {
    ids::decode("ArtifactSequence", id).parse().ok()
}

/// A collection's global id: its number, which a rename keeps.
fn collection_id(id: i64) -> String {
    ids::encode("ArtifactSequence", &id.to_string())
}

/// A collection as `ArtifactSequence`. Built from a listing (everything known) or from a
/// version (names only; the rest is looked up when selected).
struct CollectionObj {
    cx: Cxr,
    id: i64,
    entity: String,
    project: String,
    project_id: i64,
    name: String,
    artifact_type: String,
    /// A portfolio of links (W&B's `ArtifactPortfolio`) rather than a sequence.
    portfolio: bool,
    /// The whole collection: given by a listing, or looked up once when a field needs it.
    loaded: tokio::sync::OnceCell<cairn_service::model::Collection>,
}

impl CollectionObj {
    fn listed(cx: &Cxr, project_id: i64, collection: cairn_service::model::Collection) -> Self {
        Self {
            cx: Arc::clone(cx),
            id: collection.id,
            entity: collection.entity.clone(),
            project: collection.project.clone(),
            project_id,
            name: collection.name.clone(),
            artifact_type: collection.artifact_type.clone(),
            portfolio: collection.kind == cairn_service::model::CollectionKind::Portfolio,
            loaded: tokio::sync::OnceCell::new_with(Some(collection)),
        }
    }

    fn of_version(cx: &Cxr, version: &Version) -> Self {
        Self {
            cx: Arc::clone(cx),
            id: version.collection_id,
            entity: version.entity.clone(),
            project: version.project.clone(),
            project_id: version.project_id,
            name: version.collection.clone(),
            artifact_type: version.artifact_type.clone(),
            portfolio: version.is_link(),
            loaded: tokio::sync::OnceCell::new(),
        }
    }

    async fn load(&self) -> Result<&cairn_service::model::Collection, FieldError> {
        self.loaded
            .get_or_try_init(|| async {
                self.cx
                    .service()
                    .collection_by_id(self.cx.caller(), self.id)
                    .await
                    .map_err(domain)
            })
            .await
    }
}

#[async_trait::async_trait]
impl Object for CollectionObj {
    fn typename(&self) -> &'static str {
        if self.portfolio {
            "ArtifactPortfolio"
        } else {
            "ArtifactSequence"
        }
    }

    fn satisfies(&self, condition: &str) -> bool {
        condition == self.typename() || condition == "ArtifactCollection"
    }

    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
        let cx = &self.cx;
        let named = |selector: &str| format!("{}:{selector}", self.name);
        match name {
            "id" => some(json!(collection_id(self.id))),
            "name" => some(json!(self.name)),
            "description" => some(json!(self.load().await?.description)),
            "createdAt" => some(json!(self.load().await?.created_at)),
            "updatedAt" => some(json!(self.load().await?.updated_at)),
            "state" => some(json!("READY")),
            "project" => some(project_json(&self.entity, &self.project, self.project_id)),
            "defaultArtifactType" | "artifactType" => some(json!({
                "__typename": "ArtifactType",
                "id": ids::encode("ArtifactType", &self.artifact_type),
                "name": self.artifact_type,
            })),
            "tags" => some(json!({ "edges": [] })),
            "aliases" => {
                let aliases = cx
                    .service()
                    .collection_aliases(cx.caller(), self.id)
                    .await
                    .map_err(domain)?;
                some(sorted_page(aliases, args, 1000, false, |alias| {
                    let node = Out::Json(json!({
                        "__typename": "ArtifactAlias",
                        "id": ids::encode("ArtifactAlias", &format!("{}:{alias}", self.id)),
                        "alias": alias,
                        "artifactCollectionName": self.name,
                    }));
                    (alias, node)
                }))
            }
            "artifacts" => self.artifacts(args).await.map(Some),
            "latestArtifact" | "artifactMembership" => {
                let selector = if name == "latestArtifact" {
                    LATEST_ALIAS
                } else {
                    arg_str(args, "aliasName").unwrap_or(LATEST_ALIAS)
                };
                let version = found(
                    cx.service()
                        .version_by_name(cx.caller(), &self.entity, &self.project, &named(selector))
                        .await,
                )?;
                some(match (name, version) {
                    (_, None) => Out::null(),
                    ("latestArtifact", Some(version)) => Out::object(ArtifactObj::new(cx, version)),
                    (_, Some(version)) => Out::object(Membership {
                        cx: Arc::clone(cx),
                        version,
                    }),
                })
            }
            _ => Ok(None),
        }
    }
}

impl CollectionObj {
    /// `artifacts(after, first, order, filters)`: committed versions, newest first; each edge
    /// also carries its `version` (`vN`). The cursor is the version's number.
    async fn artifacts(&self, args: &Args) -> Result<Out, FieldError> {
        let filters = json_string_object(args, "filters")?.unwrap_or_default();
        for (key, value) in &filters {
            if !(key == "state" && value == "COMMITTED") {
                return Err(FieldError::new(format!(
                    "this Cairn server lists committed versions only and cannot filter on `{key}`"
                )));
            }
        }
        if let Some(order) = arg_str(args, "order")
            && !matches!(order, "-createdAt" | "-versionIndex")
        {
            return Err(FieldError::new(format!(
                "this Cairn server lists versions newest first and cannot order by `{order}`"
            )));
        }
        let (after, first) = page(args, 50);
        let query = cairn_service::model::VersionQuery {
            alias: None,
            before: after.as_deref().and_then(|cursor| cursor.parse().ok()),
            limit: first,
        };
        let page = self
            .cx
            .service()
            .collection_versions(
                self.cx.caller(),
                &self.entity,
                &self.project,
                &self.name,
                query,
            )
            .await
            .map_err(domain)?;
        let mut edges = Vec::with_capacity(page.versions.len());
        let mut end = None;
        for version in page.versions {
            let index = version.version_index.unwrap_or_default();
            end = Some(index.to_string());
            edges.push(Record::out([
                ("version", json!(format!("v{index}")).into()),
                ("cursor", json!(index.to_string()).into()),
                ("node", Out::object(ArtifactObj::new(&self.cx, version))),
            ]));
        }
        Ok(Record::out([
            ("edges", Out::List(edges)),
            (
                "pageInfo",
                json!({ "__typename": "PageInfo", "endCursor": end, "hasNextPage": page.next.is_some() })
                    .into(),
            ),
            ("totalCount", json!(page.total).into()),
        ]))
    }
}

/// An artifact type of a project.
struct TypeObj {
    cx: Cxr,
    entity: String,
    project: String,
    project_id: i64,
    artifact_type: cairn_service::model::ArtifactType,
}

fn type_json(artifact_type: &cairn_service::model::ArtifactType) -> Value {
    json!({
        "__typename": "ArtifactType",
        "id": ids::encode("ArtifactType", &artifact_type.name),
        "name": artifact_type.name,
        "description": null,
        "createdAt": artifact_type.created_at,
    })
}

#[async_trait::async_trait]
impl Object for TypeObj {
    fn typename(&self) -> &'static str {
        "ArtifactType"
    }

    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
        let cx = &self.cx;
        match name {
            "id" | "name" | "description" | "createdAt" => {
                some(type_json(&self.artifact_type)[name].clone())
            }
            "artifactCollections" | "artifactSequences" => {
                let collections = cx
                    .service()
                    .collections(
                        cx.caller(),
                        &self.entity,
                        &self.project,
                        Some(&self.artifact_type.name),
                    )
                    .await
                    .map_err(domain)?;
                some(collections_connection(
                    cx,
                    self.project_id,
                    collections,
                    args,
                ))
            }
            "artifactCollection" | "artifactSequence" => {
                let wanted = required_str(args, "name")?;
                let collection = found(
                    cx.service()
                        .collection(cx.caller(), &self.entity, &self.project, wanted)
                        .await,
                )?
                .filter(|collection| collection.artifact_type == self.artifact_type.name);
                some(Out::optional(collection.map(|collection| {
                    CollectionObj::listed(cx, self.project_id, collection)
                })))
            }
            _ => Ok(None),
        }
    }
}

/// Collections as a connection paginated by name cursors.
fn collections_connection(
    cx: &Cxr,
    project_id: i64,
    collections: Vec<cairn_service::model::Collection>,
    args: &Args,
) -> Out {
    sorted_page(collections, args, 50, true, |collection| {
        (
            collection.name.clone(),
            Out::object(CollectionObj::listed(cx, project_id, collection)),
        )
    })
}

/// A connection over items sorted by a unique name, which is also the cursor: the page after
/// `after`, `first` long (`default` when absent), with `totalCount` when `with_total`.
fn sorted_page<T>(
    items: Vec<T>,
    args: &Args,
    default: usize,
    with_total: bool,
    mut node: impl FnMut(T) -> (String, Out),
) -> Out {
    let (after, first) = page(args, default);
    let total = with_total.then_some(items.len() as u64);
    let mut rest: Vec<(String, Out)> = Vec::new();
    let mut has_next = false;
    for item in items {
        let (cursor, out) = node(item);
        if after
            .as_deref()
            .is_some_and(|after| cursor.as_str() <= after)
        {
            continue;
        }
        if rest.len() == first {
            has_next = true;
            break;
        }
        rest.push((cursor, out));
    }
    let (cursors, nodes): (Vec<String>, Vec<Out>) = rest.into_iter().unzip();
    let end = cursors.last().cloned();
    connection(nodes, cursors, end, has_next, total)
}

fn collection_json(version: &Version) -> Value {
    json!({
        "__typename": if version.is_link() { "ArtifactPortfolio" } else { "ArtifactSequence" },
        "__kinds": ["ArtifactCollection"],
        "id": collection_id(version.collection_id),
        "name": version.collection,
        "project": project_json(&version.entity, &version.project, version.project_id),
    })
}

fn aliases_json(version: &Version) -> Vec<Value> {
    version
        .aliases
        .iter()
        .map(|alias| {
            json!({
                "__typename": "ArtifactAlias",
                "id": ids::encode("ArtifactAlias", &format!("{}:{alias}", version.id)),
                "alias": alias,
                "artifactCollectionName": version.collection,
                "artifactCollection": collection_json(version),
            })
        })
        .collect()
}

/// A version as a member of its collection.
struct Membership {
    cx: Cxr,
    version: Version,
}

#[async_trait::async_trait]
impl Object for Membership {
    fn typename(&self) -> &'static str {
        "ArtifactCollectionMembership"
    }

    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
        let version = &self.version;
        match name {
            "id" => some(json!(ids::encode(
                "ArtifactCollectionMembership",
                &format!("{}:{}", version.collection_id, version.id)
            ))),
            "versionIndex" => some(json!(version.version_index)),
            "createdAt" => some(json!(
                version
                    .source
                    .as_ref()
                    .map_or(&version.created_at, |source| &source.linked_at)
            )),
            "aliases" => some(Value::Array(aliases_json(version))),
            "artifactCollection" => some(collection_json(version)),
            "artifact" => some(Out::object(ArtifactObj::new(&self.cx, version.clone()))),
            "files" => files_connection(&self.cx, version, args).await.map(Some),
            _ => Ok(None),
        }
    }
}

/// The portfolio an alias input (`entityName`, `projectName`, `artifactCollectionName`)
/// names, when it is not the version's own collection.
fn alias_place(alias_input: &Value, version: &Version) -> Option<CollectionPath> {
    let field = |key: &str| alias_input.get(key).and_then(Value::as_str);
    let collection = field("artifactCollectionName")?;
    let entity = field("entityName").unwrap_or(&version.entity);
    let project = field("projectName").unwrap_or(&version.project);
    let own =
        entity == version.entity && project == version.project && collection == version.collection;
    (!own).then(|| CollectionPath {
        entity: entity.to_owned(),
        project: project.to_owned(),
        name: collection.to_owned(),
    })
}

/// The collection an input names by `artifactSequenceID`, `artifactCollectionID` or
/// `artifactPortfolioID` (one the caller may read).
async fn input_collection(
    cx: &Cxr,
    input: &Map<String, Value>,
) -> Result<cairn_service::model::Collection, FieldError> {
    let id = ["artifactSequenceID", "artifactCollectionID", "artifactPortfolioID"]
        .iter()
        .find_map(|key| input.get(*key))
        .and_then(Value::as_str)
        .and_then(collection_number)
        .ok_or_else(|| {
            FieldError::new(
                "no collection id given (`artifactSequenceID`, `artifactCollectionID` or `artifactPortfolioID`)",
            )
        })?;
    cx.service()
        .collection_by_id(cx.caller(), id)
        .await
        .map_err(domain)
}

/// The path of the portfolio with global id `id` (one the caller may read).
async fn portfolio_path(cx: &Cxr, id: &str) -> Result<CollectionPath, FieldError> {
    let number = collection_number(id)
        .ok_or_else(|| FieldError::new("`artifactPortfolioID` is not a portfolio id"))?;
    let portfolio = cx
        .service()
        .collection_by_id(cx.caller(), number)
        .await
        .map_err(domain)?;
    Ok(CollectionPath {
        entity: portfolio.entity,
        project: portfolio.project,
        name: portfolio.name,
    })
}

/// `linkArtifact`: links a version into a portfolio; answers its index there (and, when
/// selected, the membership).
async fn link_artifact(cx: &Cxr, input: &Map<String, Value>) -> Result<Out, FieldError> {
    let id = ids::version_of(required_str(input, "artifactID")?);
    let target = match input.get("artifactPortfolioID").and_then(Value::as_str) {
        Some(portfolio) => portfolio_path(cx, portfolio).await?,
        None => {
            let name = required_str(input, "artifactPortfolioName")?;
            if name.contains(':') {
                return Err(FieldError::new(format!(
                    "`{name}`: link into a portfolio name without `:version`"
                )));
            }
            CollectionPath {
                entity: required_str(input, "entityName")?.to_owned(),
                project: required_str(input, "projectName")?.to_owned(),
                name: name.to_owned(),
            }
        }
    };
    let aliases: Vec<String> = input
        .get("aliases")
        .and_then(Value::as_array)
        .map(|aliases| {
            aliases
                .iter()
                .filter_map(|alias| alias.get("alias").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let linked = cx
        .service()
        .link_version(cx.caller(), &id, LinkRequest { target, aliases })
        .await
        .map_err(domain)?;
    Ok(Record::out([
        ("versionIndex", json!(linked.version_index).into()),
        (
            "artifactMembership",
            Out::object(Membership {
                cx: Arc::clone(cx),
                version: linked,
            }),
        ),
        ("clientMutationId", Value::Null.into()),
    ]))
}

// ----- artifacts -----

/// An artifact version as W&B's `Artifact`: always described where it was logged (its
/// `artifactSequence` and `versionIndex` are the source's, as the SDK's `source_*` attributes
/// need); when it was reached through a portfolio, that link's aliases are listed too.
struct ArtifactObj {
    cx: Cxr,
    version: Version,
    link: Option<Version>,
}

impl ArtifactObj {
    fn new(cx: &Cxr, version: Version) -> Self {
        match source_view(&version) {
            Some(source) => Self {
                cx: Arc::clone(cx),
                version: source,
                link: Some(version),
            },
            None => Self {
                cx: Arc::clone(cx),
                version,
                link: None,
            },
        }
    }
}

/// A version seen through a portfolio, as seen in its own collection (`None` when it is
/// seen there already).
fn source_view(version: &Version) -> Option<Version> {
    let source = version.source.as_ref()?;
    Some(Version {
        entity: source.entity.clone(),
        project: source.project.clone(),
        project_id: source.project_id,
        collection_id: source.collection_id,
        collection: source.collection.clone(),
        version_index: source.version_index,
        aliases: source.aliases.clone(),
        source: None,
        ..version.clone()
    })
}

#[async_trait::async_trait]
impl Object for ArtifactObj {
    fn typename(&self) -> &'static str {
        "Artifact"
    }

    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
        let cx = &self.cx;
        let version = &self.version;
        let value = match name {
            "id" => json!(ids::artifact(&version.id)),
            "versionIndex" => json!(version.version_index),
            "description" => json!(version.description),
            "metadata" => json!(json_text(&version.metadata)),
            // The SDK reads a value <= 0 as "no TTL".
            "ttlDurationSeconds" => json!(
                version
                    .ttl
                    .seconds
                    .map_or(-2, |seconds| { i64::try_from(seconds).unwrap_or(i64::MAX) })
            ),
            "ttlIsInherited" => json!(version.ttl.inherited),
            "tags" => Value::Array(
                version
                    .tags
                    .iter()
                    .map(|tag| {
                        json!({
                            "__typename": "Tag",
                            "id": ids::encode("Tag", tag),
                            "name": tag,
                            "tagCategoryName": "",
                            "attributes": "{}",
                        })
                    })
                    .collect(),
            ),
            "historyStep" => Value::Null,
            "state" => json!(state_name(version.state)),
            "size" => json!(version.size),
            "digest" => json!(version.digest.to_hex()),
            "digestAlgorithm" => json!("MANIFEST_MD5"),
            "commitHash" => json!(version.digest.to_hex().get(..12)),
            "fileCount" => json!(version.file_count),
            "createdAt" => json!(version.created_at),
            "updatedAt" => json!(version.updated_at),
            "artifactType" => json!({
                "__typename": "ArtifactType",
                "id": ids::encode("ArtifactType", &version.artifact_type),
                "name": version.artifact_type,
            }),
            "artifactSequence" | "artifactCollection" => {
                return some(Out::object(CollectionObj::of_version(cx, version)));
            }
            "aliases" => {
                let mut aliases = aliases_json(version);
                if let Some(link) = &self.link {
                    // With its `vN` there: the SDK takes a listed link's version from the
                    // version alias of the collection it listed (else from `versionIndex`,
                    // which is the source's).
                    let mut link = link.clone();
                    if let Some(index) = link.version_index {
                        link.aliases.push(format!("v{index}"));
                    }
                    aliases.extend(aliases_json(&link));
                }
                Value::Array(aliases)
            }
            "artifactMemberships" => {
                let mut memberships = vec![version.clone()];
                memberships.extend(
                    cx.service()
                        .version_links(cx.caller(), &version.id)
                        .await
                        .map_err(domain)?,
                );
                let total = memberships.len() as u64;
                let cursors: Vec<String> = memberships
                    .iter()
                    .map(|membership| membership.collection_id.to_string())
                    .collect();
                let nodes = memberships
                    .into_iter()
                    .map(|membership| {
                        Out::object(Membership {
                            cx: Arc::clone(cx),
                            version: membership,
                        })
                    })
                    .collect();
                let end = cursors.last().cloned();
                return some(connection(nodes, cursors, end, false, Some(total)));
            }
            "currentManifest" => {
                let grant = Grant::ReadManifest {
                    version: version.id.clone(),
                };
                let url = cx.signed_url(&super::manifest_path(&version.id), &grant)?;
                json!({
                    "__typename": "ArtifactManifest",
                    "id": ids::encode("ArtifactManifest", &version.id),
                    "file": {
                        "__typename": "File",
                        "id": ids::encode("File", &format!("{}/wandb_manifest.json", version.id)),
                        "name": "wandb_manifest.json",
                        "directUrl": url,
                        "url": url,
                    },
                })
            }
            "createdBy" => {
                let lineage = cx
                    .service()
                    .lineage(cx.caller(), &version.id)
                    .await
                    .map_err(domain)?;
                let Some(run) = lineage.logged_by else {
                    return some(Value::Null);
                };
                let run = found(
                    cx.service()
                        .run(cx.caller(), &run.entity, &run.project, &run.id)
                        .await,
                )?;
                return some(Out::optional(run.map(|run| RunObj {
                    cx: Arc::clone(cx),
                    run,
                })));
            }
            "usedBy" => {
                let lineage = cx
                    .service()
                    .lineage(cx.caller(), &version.id)
                    .await
                    .map_err(domain)?;
                let mut nodes = Vec::new();
                let mut cursors = Vec::new();
                for used in lineage.used_by {
                    if let Some(run) = found(
                        cx.service()
                            .run(cx.caller(), &used.entity, &used.project, &used.id)
                            .await,
                    )? {
                        cursors.push(run.id.clone());
                        nodes.push(Out::object(RunObj {
                            cx: Arc::clone(cx),
                            run,
                        }));
                    }
                }
                let total = nodes.len() as u64;
                let end = cursors.last().cloned();
                return some(connection(nodes, cursors, end, false, Some(total)));
            }
            "files" => return files_connection(cx, version, args).await.map(Some),
            _ => return Ok(None),
        };
        some(value)
    }
}

/// A version's uploaded files as a connection (references are not files), paginated by path.
async fn files_connection(cx: &Cxr, version: &Version, args: &Args) -> Result<Out, FieldError> {
    let (after, first) = page(args, 50);
    let names: Option<Vec<String>> = args.get("names").and_then(Value::as_array).map(|names| {
        names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    });
    let entries = cx
        .service()
        .files(cx.caller(), &version.id, after.as_deref(), first + 1)
        .await
        .map_err(domain)?;
    let has_next = entries.len() > first;
    let mut nodes = Vec::new();
    let mut cursors = Vec::new();
    let mut end = None;
    for entry in entries.into_iter().take(first) {
        end = Some(entry.path.clone());
        if names
            .as_ref()
            .is_some_and(|names| !names.contains(&entry.path))
        {
            continue;
        }
        // A reference is listed with its URI as the URL: the SDK lists every entry and reads
        // references through its own storage handlers, never from this server.
        let (url, md5, storage_path) = match (entry.md5, &entry.reference) {
            (Some(md5), _) => {
                let grant = Grant::ReadBlob {
                    version: version.id.clone(),
                    md5_hex: md5.to_hex(),
                };
                let url = cx.signed_url(&super::blob_path(&version.id, &md5.to_hex()), &grant)?;
                (
                    url,
                    json!(md5.to_base64()),
                    json!(format!("{}/{}", version.id, md5.to_hex())),
                )
            }
            (None, Some(reference)) => (reference.clone(), Value::Null, Value::Null),
            (None, None) => continue,
        };
        cursors.push(entry.path.clone());
        nodes.push(Out::Json(json!({
            "__typename": "File",
            "id": ids::encode("File", &format!("{}/{}", version.id, entry.path)),
            "name": entry.path,
            "displayName": entry.path,
            "directUrl": url,
            "url": url,
            "digest": entry.digest,
            "md5": md5,
            "sizeBytes": entry.size,
            "mimetype": "application/octet-stream",
            "storagePath": storage_path,
            "updatedAt": version.updated_at,
        })));
    }
    let total = version.file_count;
    // The end cursor is the last path read, references included, so the next page starts
    // after it and nothing is skipped or repeated.
    Ok(connection(nodes, cursors, end, has_next, Some(total)))
}

async fn create_artifact(cx: &Cxr, input: &Map<String, Value>) -> Result<Out, FieldError> {
    let entity = required_str(input, "entityName")?;
    let project = required_str(input, "projectName")?;
    if let Some(algorithm) = arg_str(input, "digestAlgorithm")
        && algorithm != "MANIFEST_MD5"
    {
        return Err(FieldError::new(format!(
            "digest algorithm `{algorithm}` is not supported by this Cairn server; artifacts are hashed with MD5 (MANIFEST_MD5)"
        )));
    }
    let ttl = ttl_setting(input)?;
    let digest = Md5Digest::from_hex(required_str(input, "digest")?)
        .map_err(|error| FieldError::new(format!("`digest` is not an MD5 in hex: {error}")))?;
    let aliases: Vec<String> = input
        .get("aliases")
        .and_then(Value::as_array)
        .map(|aliases| {
            aliases
                .iter()
                .filter_map(|alias| alias.get("alias").and_then(Value::as_str))
                .filter(|alias| *alias != LATEST_ALIAS)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let tags: Vec<String> = input
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(tag_name).collect())
        .unwrap_or_default();
    let request = NewVersion {
        collection: required_str(input, "artifactCollectionName")?.to_owned(),
        artifact_type: required_str(input, "artifactTypeName")?.to_owned(),
        digest,
        description: arg_str(input, "description").map(str::to_owned),
        metadata: json_string_object(input, "metadata")?.unwrap_or_default(),
        aliases,
        tags,
        run: arg_str(input, "runName").map(str::to_owned),
        distributed_id: arg_str(input, "distributedID").map(str::to_owned),
        ttl,
    };
    let created = cx
        .service()
        .create_version(cx.caller(), entity, project, request)
        .await
        .map_err(domain)?;
    some_payload_artifact(cx, created.version)
}

fn some_payload_artifact(cx: &Cxr, version: Version) -> Result<Out, FieldError> {
    Ok(payload(
        "artifact",
        Out::object(ArtifactObj::new(cx, version)),
    ))
}

fn tag_name(tag: &Value) -> Option<String> {
    match tag {
        Value::String(name) => Some(name.clone()),
        Value::Object(map) => map
            .get("tagName")
            .or_else(|| map.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// The SDK's `ttlDurationSeconds`: absent (unchanged), `-1` (inherit the team default), `-2`
/// (no TTL) or a positive number of seconds.
fn ttl_setting(input: &Map<String, Value>) -> Result<Option<TtlSetting>, FieldError> {
    match input.get("ttlDurationSeconds") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_i64() {
            Some(-1) => Ok(Some(TtlSetting::Inherit)),
            Some(-2) => Ok(Some(TtlSetting::Never)),
            Some(seconds) if seconds > 0 => Ok(Some(TtlSetting::Seconds(seconds.unsigned_abs()))),
            _ => Err(FieldError::new(format!(
                "`ttlDurationSeconds` must be a positive number of seconds, -1 (inherit) or -2 (none), not {value}"
            ))),
        },
    }
}

async fn create_manifest(cx: &Cxr, input: &Map<String, Value>) -> Result<Out, FieldError> {
    // `updateArtifactManifest` names the manifest by the id this answer gave: for a distributed
    // version's part it holds the writer too (`<version>/<writer>`), since that call carries no
    // run name.
    let (id, known_writer) = match arg_str(input, "artifactID") {
        Some(id) => (ids::version_of(id), None),
        None => {
            let key = ids::decode(
                "ArtifactManifest",
                required_str(input, "artifactManifestID")?,
            );
            match key.split_once('/') {
                Some((version, writer)) => (version.to_owned(), Some(writer.to_owned())),
                None => (key, None),
            }
        }
    };
    let version = cx
        .service()
        .pending_version(cx.caller(), &id)
        .await
        .map_err(domain)?;
    // A distributed version's manifest comes in parts, one per writer (run).
    let (url, manifest_id) = match &version.distributed_id {
        Some(_) => {
            let writer = match (known_writer, arg_str(input, "runName"), cx.caller()) {
                (Some(writer), _, _) => writer,
                (None, Some(run), _) => format!(
                    "run `{}/{}/{run}`",
                    arg_str(input, "entityName").unwrap_or(&version.entity),
                    arg_str(input, "projectName").unwrap_or(&version.project)
                ),
                (None, None, Some(caller)) => format!("user `{}`", caller.username()),
                (None, None, None) => {
                    return Err(FieldError::new("uploading a part needs an API key"));
                }
            };
            let grant = Grant::UploadPart {
                version: version.id.clone(),
                writer: writer.clone(),
            };
            (
                cx.signed_url(&super::part_path(&version.id, &writer), &grant)?,
                ids::encode("ArtifactManifest", &format!("{}/{writer}", version.id)),
            )
        }
        None => {
            let grant = Grant::UploadManifest {
                version: version.id.clone(),
            };
            (
                cx.signed_url(&super::manifest_path(&version.id), &grant)?,
                ids::encode("ArtifactManifest", &version.id),
            )
        }
    };
    Ok(payload(
        "artifactManifest",
        json!({
            "__typename": "ArtifactManifest",
            "id": manifest_id,
            "file": {
                "__typename": "File",
                "id": ids::encode("File", &format!("{}/wandb_manifest.json", version.id)),
                "name": "wandb_manifest.json",
                "uploadUrl": url,
                "uploadHeaders": [],
                "directUrl": null,
            },
        })
        .into(),
    ))
}

async fn create_files(cx: &Cxr, input: &Map<String, Value>) -> Result<Out, FieldError> {
    let files = input
        .get("artifactFiles")
        .and_then(Value::as_array)
        .ok_or_else(|| FieldError::new("`artifactFiles` is required"))?;
    if files.len() > 100_000 {
        return Err(FieldError::new(
            "at most 100,000 files per `createArtifactFiles` request",
        ));
    }
    // Ask the domain once per artifact (normally all files belong to one).
    let mut parsed: Vec<(String, Md5Digest)> = Vec::with_capacity(files.len());
    for file in files {
        let artifact = file
            .get("artifactID")
            .and_then(Value::as_str)
            .ok_or_else(|| FieldError::new("every file needs its `artifactID`"))?;
        let md5 = file
            .get("md5")
            .and_then(Value::as_str)
            .ok_or_else(|| FieldError::new("every file needs its `md5`"))?;
        let md5 = Md5Digest::from_base64(md5).map_err(|error| {
            FieldError::new(format!("`md5` `{md5}` is not a base64 MD5: {error}"))
        })?;
        parsed.push((ids::version_of(artifact), md5));
    }
    let mut present = vec![false; parsed.len()];
    let mut versions: Vec<&str> = parsed.iter().map(|(id, _)| id.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    for version in versions {
        let indices: Vec<usize> = (0..parsed.len())
            .filter(|&index| parsed[index].0 == version)
            .collect();
        let md5s: Vec<Md5Digest> = indices.iter().map(|&index| parsed[index].1).collect();
        let answers = cx
            .service()
            .present_contents(cx.caller(), version, &md5s)
            .await
            .map_err(domain)?;
        for (index, answer) in indices.into_iter().zip(answers) {
            present[index] = answer;
        }
    }
    let mut edges = Vec::with_capacity(parsed.len());
    for ((version, md5), present) in parsed.iter().zip(present) {
        let hex = md5.to_hex();
        let upload_url = if present {
            Value::Null
        } else {
            let grant = Grant::UploadBlob {
                version: version.clone(),
                md5_hex: hex.clone(),
            };
            json!(cx.signed_url(&super::blob_path(version, &hex), &grant)?)
        };
        edges.push(json!({ "node": {
            "__typename": "File",
            "id": ids::encode("File", &format!("{version}/{hex}")),
            "storagePath": format!("{version}/{hex}"),
            "uploadUrl": upload_url,
            "uploadHeaders": [],
            "uploadMultipartUrls": null,
            "artifact": { "__typename": "Artifact", "id": ids::artifact(version) },
        }}));
    }
    Ok(json!({ "files": { "edges": edges }, "clientMutationId": null }).into())
}

async fn use_artifact(cx: &Cxr, input: &Map<String, Value>) -> Result<Out, FieldError> {
    let entity = required_str(input, "entityName")?;
    let project = required_str(input, "projectName")?;
    let run = required_str(input, "runName")?;
    let id = ids::version_of(required_str(input, "artifactID")?);
    let version = cx
        .service()
        .use_artifact(cx.caller(), entity, project, run, &id)
        .await
        .map_err(domain)?;
    some_payload_artifact(cx, version)
}

async fn update_artifact(cx: &Cxr, input: &Map<String, Value>) -> Result<Out, FieldError> {
    let id = ids::version_of(required_str(input, "artifactID")?);
    let ttl = ttl_setting(input)?;
    let tags = |name: &str| -> Vec<String> {
        input
            .get(name)
            .and_then(Value::as_array)
            .map(|tags| tags.iter().filter_map(tag_name).collect())
            .unwrap_or_default()
    };
    let edit = VersionEdit {
        description: match input.get("description") {
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Null) => None,
            _ => None,
        },
        metadata: json_string_object(input, "metadata")?,
        add_tags: tags("tagsToAdd"),
        remove_tags: tags("tagsToDelete"),
        ttl,
        ..VersionEdit::default()
    };
    let version = cx
        .service()
        .update_version(cx.caller(), &id, edit)
        .await
        .map_err(domain)?;
    some_payload_artifact(cx, version)
}
