//! The route table: every `(method, path)` the server answers and its handler. [`crate::app`]
//! builds the router from it, and a test checks it against the OpenAPI document, so the two
//! cannot drift apart.

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use cairn_api::routes;

use crate::handlers::{accounts, download, projects, receive, runs, server, upload, versions};
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
}

fn route(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        handler,
    }
}

/// Every route. Bodies are read by the handlers with their own limits (1 MiB of JSON, 64 MiB
/// of manifest, a batch's limit), and blob uploads stream without any, so axum's default limit
/// is off everywhere.
pub(crate) fn table() -> Vec<Route> {
    vec![
        route(Method::GET, routes::HEALTHZ, get(server::healthz)),
        route(Method::GET, routes::OPENAPI, get(server::openapi)),
        route(Method::GET, routes::SERVER, get(server::server)),
        route(Method::GET, routes::SERVER_STATS, get(server::stats)),
        route(Method::GET, routes::VIEWER, get(accounts::viewer)),
        route(Method::POST, routes::USERS, post(accounts::create)),
        route(
            Method::POST,
            routes::PATTERN_API_KEYS,
            post(accounts::create_key),
        ),
        route(Method::POST, routes::TEAMS, post(accounts::create_team)),
        route(Method::GET, routes::PATTERN_TEAM, get(accounts::get_team)),
        route(
            Method::PUT,
            routes::PATTERN_TEAM_MEMBER,
            put(accounts::set_member),
        ),
        route(
            Method::DELETE,
            routes::PATTERN_TEAM_MEMBER,
            delete(accounts::remove_member),
        ),
        route(
            Method::GET,
            routes::PATTERN_ENTITY_PROJECTS,
            get(projects::list),
        ),
        route(Method::GET, routes::PATTERN_PROJECT, get(projects::get)),
        route(Method::PUT, routes::PATTERN_PROJECT, put(projects::put)),
        route(
            Method::GET,
            routes::PATTERN_COLLECTIONS,
            get(projects::collections),
        ),
        route(
            Method::GET,
            routes::PATTERN_COLLECTION,
            get(projects::collection),
        ),
        route(
            Method::GET,
            routes::PATTERN_COLLECTION_VERSIONS,
            get(projects::versions),
        ),
        route(
            Method::POST,
            routes::PATTERN_VERSIONS,
            post(versions::create),
        ),
        route(
            Method::GET,
            routes::PATTERN_VERSION_BY_NAME,
            get(versions::by_name),
        ),
        route(Method::POST, routes::PATTERN_RUNS, post(runs::create)),
        route(Method::GET, routes::PATTERN_RUN, get(runs::get)),
        route(Method::POST, routes::PATTERN_RUN_FINISH, post(runs::finish)),
        route(
            Method::POST,
            routes::PATTERN_RUN_INPUTS,
            post(runs::use_artifact),
        ),
        route(
            Method::GET,
            routes::PATTERN_RUN_ARTIFACTS,
            get(runs::artifacts),
        ),
        route(Method::GET, routes::PATTERN_VERSION, get(versions::get)),
        route(
            Method::PATCH,
            routes::PATTERN_VERSION,
            patch(versions::update),
        ),
        route(
            Method::PUT,
            routes::PATTERN_MANIFEST,
            put(upload::put_manifest),
        ),
        route(
            Method::GET,
            routes::PATTERN_MANIFEST,
            get(upload::get_manifest),
        ),
        route(
            Method::GET,
            routes::PATTERN_MISSING_BLOBS,
            get(upload::get_missing),
        ),
        route(
            Method::POST,
            routes::PATTERN_BLOB_BATCH,
            post(receive::put_batch),
        ),
        route(Method::PUT, routes::PATTERN_BLOB, put(receive::put_blob)),
        route(Method::GET, routes::PATTERN_BLOB, get(download::get_blob)),
        route(Method::POST, routes::PATTERN_COMMIT, post(upload::commit)),
        route(Method::GET, routes::PATTERN_LINEAGE, get(versions::lineage)),
    ]
}

/// The router of [`table`], with problem answers for unknown routes and methods.
pub(crate) fn router(state: AppState) -> axum::Router {
    let mut router = axum::Router::new();
    for Route { path, handler, .. } in table() {
        router = router.route(path, handler);
    }
    router
        .fallback(server::no_route)
        .method_not_allowed_fallback(server::wrong_method)
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
