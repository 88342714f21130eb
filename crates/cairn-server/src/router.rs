//! The route table: every `(method, path)` the server answers, its handler and its OpenAPI
//! operation. [`crate::app`] builds the router from it and `crate::openapi` the document, and a
//! test checks that the operations describe exactly these methods and paths, so the two cannot
//! drift apart.

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use cairn_api::routes;

use crate::handlers::{
    accounts, download, links, projects, receive, runs, server, upload, versions,
};
use crate::openapi::{Doc, operations};
use crate::state::AppState;

/// One route.
#[derive(Debug)]
pub(crate) struct Route {
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "checked against the OpenAPI document")
    )]
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) handler: MethodRouter<AppState>,
    /// The OpenAPI entry, whose own method and path the document uses.
    pub(crate) doc: fn() -> Doc,
}

fn route(
    method: Method,
    path: &'static str,
    handler: MethodRouter<AppState>,
    doc: fn() -> Doc,
) -> Route {
    Route {
        method,
        path,
        handler,
        doc,
    }
}

/// Every route. Bodies are read by the handlers with their own limits (1 MiB of JSON, 64 MiB
/// of manifest, a batch's limit), and blob uploads stream without any, so axum's default limit
/// is off everywhere.
pub(crate) fn table() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            routes::HEALTHZ,
            get(server::healthz),
            operations::healthz,
        ),
        route(
            Method::GET,
            routes::OPENAPI,
            get(server::openapi),
            operations::openapi,
        ),
        route(
            Method::GET,
            routes::SERVER,
            get(server::server),
            operations::server_info,
        ),
        route(
            Method::GET,
            routes::SERVER_STATS,
            get(server::stats),
            operations::server_stats,
        ),
        route(
            Method::POST,
            routes::SERVER_SWEEP,
            post(server::sweep),
            operations::sweep,
        ),
        route(
            Method::GET,
            routes::PATTERN_TEAM_SETTINGS,
            get(accounts::team_settings),
            operations::team_settings,
        ),
        route(
            Method::PATCH,
            routes::PATTERN_TEAM_SETTINGS,
            patch(accounts::update_team_settings),
            operations::update_team_settings,
        ),
        route(
            Method::POST,
            routes::SERVER_CLOCK,
            post(server::advance_clock),
            operations::advance_clock,
        ),
        route(
            Method::POST,
            routes::SERVER_GC,
            post(server::collect_garbage),
            operations::collect_garbage,
        ),
        route(
            Method::GET,
            routes::VIEWER,
            get(accounts::viewer),
            operations::viewer,
        ),
        route(
            Method::POST,
            routes::USERS,
            post(accounts::create),
            operations::create_user,
        ),
        route(
            Method::POST,
            routes::PATTERN_API_KEYS,
            post(accounts::create_key),
            operations::create_api_key,
        ),
        route(
            Method::GET,
            routes::PATTERN_API_KEYS,
            get(accounts::list_keys),
            operations::list_api_keys,
        ),
        route(
            Method::DELETE,
            routes::PATTERN_API_KEY,
            delete(accounts::revoke_key),
            operations::revoke_api_key,
        ),
        route(
            Method::POST,
            routes::TEAMS,
            post(accounts::create_team),
            operations::create_team,
        ),
        route(
            Method::GET,
            routes::PATTERN_TEAM,
            get(accounts::get_team),
            operations::get_team,
        ),
        route(
            Method::PUT,
            routes::PATTERN_TEAM_MEMBER,
            put(accounts::set_member),
            operations::set_team_member,
        ),
        route(
            Method::DELETE,
            routes::PATTERN_TEAM_MEMBER,
            delete(accounts::remove_member),
            operations::remove_team_member,
        ),
        route(
            Method::GET,
            routes::PATTERN_ENTITY_PROJECTS,
            get(projects::list),
            operations::list_projects,
        ),
        route(
            Method::GET,
            routes::PATTERN_ENTITY_STORAGE,
            get(projects::entity_storage),
            operations::entity_storage,
        ),
        route(
            Method::GET,
            routes::PATTERN_PROJECT_STORAGE,
            get(projects::storage),
            operations::project_storage,
        ),
        route(
            Method::POST,
            routes::PATTERN_STAGED_BLOBS,
            post(receive::stage_blob),
            operations::stage_blob,
        ),
        route(
            Method::POST,
            routes::PATTERN_KNOWN_SIZES,
            post(receive::known_sizes),
            operations::known_sizes,
        ),
        route(
            Method::GET,
            routes::PATTERN_PROJECT,
            get(projects::get),
            operations::get_project,
        ),
        route(
            Method::PUT,
            routes::PATTERN_PROJECT,
            put(projects::put),
            operations::upsert_project,
        ),
        route(
            Method::DELETE,
            routes::PATTERN_PROJECT,
            delete(projects::delete),
            operations::delete_project,
        ),
        route(
            Method::GET,
            routes::PATTERN_COLLECTIONS,
            get(projects::collections),
            operations::list_collections,
        ),
        route(
            Method::GET,
            routes::PATTERN_ARTIFACT_TYPES,
            get(projects::types),
            operations::list_artifact_types,
        ),
        route(
            Method::GET,
            routes::PATTERN_COLLECTION,
            get(projects::collection),
            operations::get_collection,
        ),
        route(
            Method::PATCH,
            routes::PATTERN_COLLECTION,
            patch(projects::update_collection),
            operations::update_collection,
        ),
        route(
            Method::DELETE,
            routes::PATTERN_COLLECTION,
            delete(projects::delete_collection),
            operations::delete_collection,
        ),
        route(
            Method::GET,
            routes::PATTERN_COLLECTION_VERSIONS,
            get(projects::versions),
            operations::list_versions,
        ),
        route(
            Method::POST,
            routes::PATTERN_VERSIONS,
            post(versions::create),
            operations::create_version,
        ),
        route(
            Method::GET,
            routes::PATTERN_VERSION_BY_NAME,
            get(versions::by_name),
            operations::get_version_by_name,
        ),
        route(
            Method::POST,
            routes::PATTERN_RUNS,
            post(runs::create),
            operations::create_run,
        ),
        route(
            Method::GET,
            routes::PATTERN_RUN,
            get(runs::get),
            operations::get_run,
        ),
        route(
            Method::DELETE,
            routes::PATTERN_RUN,
            delete(runs::delete),
            operations::delete_run,
        ),
        route(
            Method::POST,
            routes::PATTERN_RUN_FINISH,
            post(runs::finish),
            operations::finish_run,
        ),
        route(
            Method::POST,
            routes::PATTERN_RUN_INPUTS,
            post(runs::use_artifact),
            operations::use_artifact,
        ),
        route(
            Method::GET,
            routes::PATTERN_RUN_ARTIFACTS,
            get(runs::artifacts),
            operations::run_artifacts,
        ),
        route(
            Method::GET,
            routes::PATTERN_VERSION,
            get(versions::get),
            operations::get_version,
        ),
        route(
            Method::PATCH,
            routes::PATTERN_VERSION,
            patch(versions::update),
            operations::update_version,
        ),
        route(
            Method::DELETE,
            routes::PATTERN_VERSION,
            delete(versions::delete),
            operations::delete_version,
        ),
        route(
            Method::PUT,
            routes::PATTERN_MANIFEST,
            put(upload::put_manifest),
            operations::put_manifest,
        ),
        route(
            Method::GET,
            routes::PATTERN_MANIFEST,
            get(upload::get_manifest),
            operations::get_manifest,
        ),
        route(
            Method::GET,
            routes::PATTERN_MISSING_BLOBS,
            get(upload::get_missing),
            operations::missing_blobs,
        ),
        route(
            Method::POST,
            routes::PATTERN_BLOB_BATCH,
            post(receive::put_batch),
            operations::put_blob_batch,
        ),
        route(
            Method::PUT,
            routes::PATTERN_BLOB,
            put(receive::put_blob),
            operations::put_blob,
        ),
        route(
            Method::GET,
            routes::PATTERN_BLOB,
            get(download::get_blob),
            operations::get_blob,
        ),
        route(
            Method::POST,
            routes::PATTERN_SMALL_BLOBS,
            post(download::small_blobs),
            operations::read_small_blobs,
        ),
        route(
            Method::POST,
            routes::PATTERN_COMMIT,
            post(upload::commit),
            operations::commit_version,
        ),
        route(
            Method::GET,
            routes::PATTERN_LINEAGE,
            get(versions::lineage),
            operations::lineage,
        ),
        route(
            Method::GET,
            routes::PATTERN_LINEAGE_GRAPH,
            get(versions::lineage_graph),
            operations::lineage_graph,
        ),
        route(
            Method::POST,
            routes::PATTERN_LINKS,
            post(links::link),
            operations::link_version,
        ),
        route(
            Method::GET,
            routes::PATTERN_LINKS,
            get(links::list),
            operations::version_links,
        ),
        route(
            Method::DELETE,
            routes::PATTERN_LINK,
            delete(links::unlink),
            operations::unlink_version,
        ),
        route(
            Method::GET,
            routes::PATTERN_PROTECTED_ALIASES,
            get(links::protected),
            operations::protected_aliases,
        ),
        route(
            Method::PATCH,
            routes::PATTERN_PROTECTED_ALIASES,
            patch(links::update_protected),
            operations::update_protected_aliases,
        ),
    ]
}

/// The router of [`table`], with problem answers for unknown routes and methods.
pub(crate) fn router(state: AppState) -> axum::Router {
    let mut router = axum::Router::new();
    for Route { path, handler, .. } in table() {
        router = router.route(path, handler);
    }
    router
        .merge(crate::wandb::routes())
        .merge(crate::ui::routes())
        .fallback(server::no_route)
        .method_not_allowed_fallback(server::wrong_method)
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
