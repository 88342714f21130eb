//! The web UI: HTML pages over the same domain functions as the native API, served by the
//! server itself (no separate process, nothing to build with Node).
//!
//! # Shape
//!
//! * Pages are rendered on the server with `maud`, which escapes everything it interpolates, so
//!   user-written text (names, descriptions, metadata, file paths) can never become markup.
//!   The only unescaped HTML is what [`markdown`] produces (raw HTML in descriptions is shown
//!   as text, links are limited to safe schemes) and the lineage picture, built from escaped
//!   parts in [`lineage`].
//! * There is no JavaScript at all: navigation is links, actions are HTML forms that post and
//!   redirect (post/redirect/get), collapsible parts are `<details>`. So every page works by
//!   keyboard, and the Content-Security-Policy forbids scripts outright.
//! * Each handler calls the domain with the caller of the request, exactly as the native API
//!   does, so every action obeys the same permissions; a refusal is shown with the domain's
//!   own words.
//!
//! # Sessions and forms
//!
//! Signing in posts an API key once; the domain opens a session ([`cairn_service::sessions`])
//! and the browser keeps only its random token in an `HttpOnly`, `SameSite=Lax` cookie. Every
//! state-changing request is a `POST` whose form carries the session's CSRF token (the sign-in
//! form carries a token of its own cookie), and is also refused when the browser says it came
//! from another site (`Sec-Fetch-Site`, `Origin`).
//!
//! # Routes
//!
//! `/` is the home page; everything else is under `/ui/`. Entity names cannot start with `_`,
//! so `/ui/_…` paths (sign-in, static files, team settings) never shadow an entity.

mod forms;
mod keys;
mod layout;
mod lineage;
mod markdown;
mod pages;
mod session;
mod team;
mod version;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;

/// The web UI's routes.
pub(crate) fn routes() -> Router<AppState> {
    const VERSION: &str = "/ui/{entity}/{project}/artifacts/{name}/{version}";
    Router::new()
        .route("/", get(pages::home))
        .route("/ui", get(pages::to_home))
        .route("/ui/", get(pages::to_home))
        .route("/ui/_static/cairn.css", get(layout::stylesheet))
        .route(
            "/ui/_sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/ui/_sign-out", post(session::sign_out))
        .route("/ui/_go", get(pages::go))
        .route("/ui/_keys", get(keys::list).post(keys::create))
        .route("/ui/_keys/revoke", post(keys::revoke))
        .route("/ui/_teams/{team}", get(team::settings))
        .route("/ui/_teams/{team}/members", post(team::set_member))
        .route(
            "/ui/_teams/{team}/members/remove",
            post(team::remove_member),
        )
        .route("/ui/_teams/{team}/retention", post(team::retention))
        .route("/ui/{entity}", get(pages::entity))
        .route("/ui/{entity}/{project}", get(pages::project))
        .route("/ui/{entity}/{project}/visibility", post(pages::visibility))
        .route(
            "/ui/{entity}/{project}/types/{type}",
            get(pages::artifact_type),
        )
        .route("/ui/{entity}/{project}/runs/{run}", get(pages::run))
        .route(
            "/ui/{entity}/{project}/artifacts/{name}",
            get(pages::collection),
        )
        .route(VERSION, get(version::overview))
        .route(&format!("{VERSION}/files"), get(version::files))
        .route(&format!("{VERSION}/file"), get(version::download))
        .route(&format!("{VERSION}/diff"), get(version::diff))
        .route(&format!("{VERSION}/lineage"), get(version::lineage))
        .route(&format!("{VERSION}/edit"), post(version::edit))
        .route(&format!("{VERSION}/delete"), post(version::delete))
        .route(&format!("{VERSION}/link"), post(version::link))
        .layer(axum::middleware::from_fn(security_headers))
}

/// The policy of every UI answer: no scripts, no plugins, no framing, styles and images from
/// this server only, forms that post only here.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every UI answer (a file download adds `sandbox` of its own).
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
