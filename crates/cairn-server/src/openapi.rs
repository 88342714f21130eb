//! The OpenAPI 3.1 document of the native API, generated with `utoipa` and served at
//! [`cairn_api::routes::OPENAPI`].
//!
//! * The schemas are derived from the wire types themselves (`cairn-api`'s `openapi` feature).
//! * Each operation is a `#[utoipa::path]` in [`operations`]; the route table
//!   (`crate::router`) pairs it with the route's handler, and [`document`] collects them in
//!   the table's order. A test checks that the document lists exactly the `(method, path)`
//!   pairs the router registers, and that every reference in it resolves.
//! * [`Frame`] holds the rest: info, tags, the security schemes (`Authorization: Bearer` and
//!   the W&B `Basic` form) and the reusable problem answers. [`document`] adds the two answers
//!   every route can give: `500 internal` (a bug) and `503 storage_unavailable` (storage down,
//!   database busy, or every connection busy).

pub(crate) mod operations;

use std::sync::LazyLock;

use cairn_api::{
    AdvanceClock, ApiKey, ApiKeyList, ApiKeyStatus, ArtifactType, ArtifactTypeList, BlobReceipt,
    BlobRef, CollectGarbage, Collection, CollectionKind, CollectionList, CommitVersion,
    CreateApiKey, CreateLink, CreateRun, CreateTeam, CreateUser, CreateVersion,
    CreateVersionStatus, CreatedApiKey, CreatedVersion, Deletion, EntityStorage, ErrorCode,
    FinishRun, FreeReason, FreedBlob, GarbageReport, KeptVersion, KnownSizes, Lineage,
    LineageDirection, LineageEdge, LineageGraph, LineageNode, LinkList, ManifestReceipt,
    PROBLEM_CONTENT_TYPE, PortfolioPath, Problem, Project, ProjectList, ProjectStorage,
    ProtectedAliases, ReadSmallBlobs, ResumeMode, Role, Run, RunArtifacts, RunRef, RunState,
    ServerClock, ServerInfo, ServerStats, SetTeamMember, Storage, SweepReport, Team, TeamMember,
    TeamMembership, TeamSettings, TtlEditors, TtlSetting, UpdateCollection, UpdateProtectedAliases,
    UpdateTeamSettings, UpdateVersion, UpsertProject, UseArtifact, User, Version, VersionList,
    VersionSource, VersionState, VersionTtl, Viewer, Visibility,
};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToResponse};

/// One route's entry in the document: what a `#[utoipa::path]` describes.
pub(crate) struct Doc {
    /// The methods it documents (one per route).
    pub(crate) methods: Vec<HttpMethod>,
    /// The documented path, `{name}` captures included.
    pub(crate) path: String,
    /// The operation.
    pub(crate) operation: Operation,
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // utoipa's types implement `Debug` only with its `debug` feature.
        formatter
            .debug_struct("Doc")
            .field("path", &self.path)
            .field("operation_id", &self.operation.operation_id)
            .finish_non_exhaustive()
    }
}

impl Doc {
    /// The entry of a `#[utoipa::path]`, under `tag`. (utoipa's own `tag = ...` reaches the
    /// operation only through its `OpenApi` derive.)
    pub(crate) fn of<P: utoipa::Path>(tag: Tag) -> Self {
        let mut operation = P::operation();
        operation.tags = Some(vec![tag.as_str().to_owned()]);
        drop_null_body(&mut operation);
        Self {
            methods: P::methods(),
            path: P::path(),
            operation,
        }
    }
}

/// utoipa describes an optional body (`Option<T>`) as `T` or `null`, but the server takes
/// either no body (which counts as `{}`) or a `T`, never `null`: keeps only `T`.
fn drop_null_body(operation: &mut Operation) {
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
        return;
    };
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else {
            continue;
        };
        if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
            let mut rest: Vec<RefOr<Schema>> = one_of
                .items
                .iter()
                .filter(|item| !is_null(item))
                .cloned()
                .collect();
            if rest.len() == 1 {
                content.schema = rest.pop();
            }
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(
        schema,
        RefOr::T(Schema::Object(object)) if object.schema_type == SchemaType::Type(Type::Null)
    )
}

/// The groups of operations, as the document's `tags` list them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tag {
    Server,
    Accounts,
    Projects,
    Versions,
    Blobs,
    Runs,
}

impl Tag {
    fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Accounts => "accounts",
            Self::Projects => "projects",
            Self::Versions => "versions",
            Self::Blobs => "blobs",
            Self::Runs => "runs",
        }
    }
}

/// The document without its paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn native API",
        description = "Versioned datasets and models: artifact versions, manifests, blobs, runs, \
            users, teams and projects. Every error body is an RFC 9457 problem \
            (`application/problem+json`) with a stable `code`. See `docs/api.md`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "server", description = "Health, server information, counters, this document."),
        (name = "accounts", description = "Users, API keys and teams."),
        (name = "projects", description = "Projects, their collections and committed versions."),
        (name = "versions", description = "Logging, finding and editing artifact versions."),
        (name = "blobs", description = "Manifests and file contents of artifact versions."),
        (name = "runs", description = "Runs and lineage."),
    ),
    security(("bearer" = []), ("basic" = [])),
    modifiers(&SecuritySchemes),
    components(
        schemas(
            ServerInfo, ServerStats, User, Role, TeamMembership, Viewer, CreateUser,
            CreatedApiKey, CreateTeam, TeamMember, Team, SetTeamMember, Visibility, Project,
            UpsertProject, ProjectList, Collection, CollectionList, VersionState, Version,
            VersionList, CreateVersion, CreateVersionStatus, CreatedVersion, BlobRef,
            ManifestReceipt, BlobReceipt, KnownSizes, CommitVersion, UpdateVersion, RunState, ResumeMode,
            CreateRun, Run, FinishRun, UseArtifact, RunArtifacts, RunRef, Lineage, ErrorCode,
            Problem, ArtifactType, ArtifactTypeList, UpdateCollection, LineageDirection,
            LineageNode, LineageEdge, LineageGraph, ReadSmallBlobs, CollectionKind, VersionSource,
            CreateLink, LinkList, ProtectedAliases, UpdateProtectedAliases, PortfolioPath,
            AdvanceClock, ApiKey, ApiKeyList, ApiKeyStatus, CollectGarbage, CreateApiKey, Deletion, EntityStorage, FreeReason, FreedBlob, GarbageReport, KeptVersion, ProjectStorage, ServerClock, Storage, SweepReport, TeamSettings, TtlEditors, TtlSetting, UpdateTeamSettings, VersionTtl,
        ),
        responses(
            BadRequest, Unauthenticated, PermissionDenied, NotFound, Conflict, PayloadTooLarge,
            RangeNotSatisfiable, Unprocessable, Internal, Unavailable,
        ),
    ),
)]
struct Frame;

/// Adds the security schemes the document's `security` names.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some("`Authorization: Bearer <api key>`".to_owned());
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description =
            Some("The W&B form: `Authorization: Basic base64(\"api:<api key>\")`".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.add_security_scheme("basic", SecurityScheme::Http(basic));
    }
}

/// The whole document: the [`Frame`] plus every route of the route table.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    let mut document = Frame::openapi();
    document.info.version = cairn_api::API_VERSION.to_string();
    for route in crate::router::table() {
        let Doc {
            methods,
            path,
            mut operation,
        } = (route.doc)();
        for (status, name) in [("500", Internal::NAME), ("503", Unavailable::NAME)] {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| response_ref(name));
        }
        document.paths.add_path_operation(path, methods, operation);
    }
    document
}

/// The document as served: serialised once, on first use.
pub(crate) fn json() -> Result<&'static str, &'static serde_json::Error> {
    static JSON: LazyLock<Result<String, serde_json::Error>> =
        LazyLock::new(|| document().to_json());
    JSON.as_deref()
}

fn response_ref(name: &str) -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(name))
}

/// A problem answer: an `application/problem+json` body of the `Problem` schema.
fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// The reusable problem answers, named `Problem<status>` in the document.
macro_rules! problem_responses {
    ($($(#[doc = $doc:literal])* $type:ident = $name:literal, $description:literal;)*) => {$(
        $(#[doc = $doc])*
        pub(crate) struct $type;

        impl $type {
            const NAME: &'static str = $name;
        }

        impl<'r> ToResponse<'r> for $type {
            fn response() -> (&'r str, RefOr<Response>) {
                (Self::NAME, problem($description))
            }
        }
    )*};
}

problem_responses! {
    /// `400`: `bad_request`, `invalid_name`, `invalid_metadata`, `invalid_manifest`.
    BadRequest = "Problem400",
        "Malformed request (bad JSON, wrong content type, bad path, truncated upload), or an \
         invalid name, metadata or manifest (`bad_request`, `invalid_name`, `invalid_metadata`, \
         `invalid_manifest`).";
    /// `401`: `unauthenticated`.
    Unauthenticated = "Problem401",
        "No API key where one is needed, or an unknown or malformed key, or two `Authorization` \
         headers (`unauthenticated`).";
    /// `403`: `permission_denied`.
    PermissionDenied = "Problem403",
        "Signed in, but not allowed to do this (`permission_denied`).";
    /// `404`: `not_found`.
    NotFound = "Problem404",
        "Does not exist, or the caller may not read it (`not_found`).";
    /// `409`: `already_exists`, `conflict`, `not_pending`, `manifest_missing`.
    Conflict = "Problem409",
        "Conflicts with the current state: a name taken or a run id in use (`already_exists`), a \
         type or alias conflict or the last team admin (`conflict`), a version no longer \
         pending (`not_pending`), no manifest yet (`manifest_missing`).";
    /// `413`: `payload_too_large`.
    PayloadTooLarge = "Problem413",
        "The body is larger than the route accepts (`payload_too_large`).";
    /// `416`: `range_not_satisfiable`.
    RangeNotSatisfiable = "Problem416",
        "The range lies outside the blob (`range_not_satisfiable`); `Content-Range: bytes \
         */<size>` gives the blob's size.";
    /// `422`: `digest_mismatch`, `size_mismatch`, `missing_blobs`.
    Unprocessable = "Problem422",
        "An uploaded blob is not what the manifest says (`digest_mismatch`, `size_mismatch`), \
         or blobs are missing at commit (`missing_blobs`, listed in `missing`).";
    /// `500`: `internal`.
    Internal = "Problem500",
        "A bug (`internal`); the body has no detail, the server log has it.";
    /// `503`: `storage_unavailable`.
    Unavailable = "Problem503",
        "The disk or object store failed, the database stayed busy, or every connection is \
         busy (`storage_unavailable`, with `Retry-After`); nothing was stored, retry.";
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn served() -> Value {
        let text = json().unwrap();
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn documents_exactly_the_registered_routes() {
        let document = served();
        assert_eq!(
            document["openapi"].as_str().map(|v| v.starts_with("3.1")),
            Some(true)
        );
        let registered: BTreeSet<(String, String)> = crate::router::table()
            .into_iter()
            .map(|route| {
                (
                    route.method.as_str().to_ascii_lowercase(),
                    route.path.to_owned(),
                )
            })
            .collect();
        let mut documented = BTreeSet::new();
        let mut operations = 0;
        if let Some(paths) = document["paths"].as_object() {
            for (path, item) in paths {
                for method in [
                    "get", "put", "post", "delete", "patch", "head", "options", "trace",
                ] {
                    if item.get(method).is_some() {
                        documented.insert((method.to_owned(), path.clone()));
                        operations += 1;
                    }
                }
            }
        }
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let unregistered: Vec<_> = documented.difference(&registered).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?}"
        );
        assert!(
            unregistered.is_empty(),
            "the OpenAPI document describes unknown routes: {unregistered:?}"
        );
        // No route is documented twice (the later would silently replace the earlier).
        assert_eq!(operations, crate::router::table().len());
    }

    /// Every `$ref` names something the document defines.
    #[test]
    fn every_reference_resolves() {
        fn walk(value: &Value, document: &Value, unresolved: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.trim_start_matches('#');
                        if document.pointer(pointer).is_none() {
                            unresolved.push(target.clone());
                        }
                    }
                    for child in map.values() {
                        walk(child, document, unresolved);
                    }
                }
                Value::Array(items) => {
                    for child in items {
                        walk(child, document, unresolved);
                    }
                }
                _ => {}
            }
        }
        let document = served();
        let mut unresolved = Vec::new();
        walk(&document, &document, &mut unresolved);
        assert!(
            unresolved.is_empty(),
            "unresolved references: {unresolved:?}"
        );
    }

    #[test]
    fn operations_have_unique_ids_summaries_and_tags() {
        let document = served();
        let mut ids = BTreeSet::new();
        for item in document["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
        {
            for operation in item.as_object().into_iter().flat_map(|item| item.values()) {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.insert(id.to_owned()),
                    "operation id `{id}` is used twice"
                );
                assert!(operation["summary"].is_string(), "`{id}` has no summary");
                let tag = &operation["tags"][0];
                assert_eq!(
                    operation["tags"].as_array().map(Vec::len),
                    Some(1),
                    "`{id}`"
                );
                assert!(
                    document["tags"]
                        .as_array()
                        .is_some_and(|tags| tags.iter().any(|known| &known["name"] == tag)),
                    "`{id}` has the unknown tag {tag}"
                );
                assert!(operation["responses"]["500"].is_object(), "`{id}`");
            }
        }
    }

    #[test]
    fn problems_are_documented_with_every_code_and_both_security_schemes() {
        let document = served();
        let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
        assert_eq!(codes.as_array().map(Vec::len), Some(ErrorCode::KNOWN.len()));
        let schemes = &document["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["basic"]["scheme"], "basic");
        assert_eq!(
            document["components"]["responses"]["Problem404"]["content"][PROBLEM_CONTENT_TYPE]["schema"]
                ["$ref"],
            "#/components/schemas/Problem"
        );
    }
}
