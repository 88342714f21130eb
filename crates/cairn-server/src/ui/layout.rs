//! The page shell, the stylesheet, and the small pieces every page uses: links built from
//! escaped path segments, sizes, times, chips.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::ui::forms::{Ctx, SIGN_IN_COOKIE};

/// What a path segment keeps unescaped: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One URL path segment (or query value), percent-encoded: names may hold `/`, `?`, spaces.
pub(crate) fn seg(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// `/ui/{entity}`.
pub(crate) fn entity_url(entity: &str) -> String {
    format!("/ui/{}", seg(entity))
}

/// `/ui/{entity}/{project}`.
pub(crate) fn project_url(entity: &str, project: &str) -> String {
    format!("/ui/{}/{}", seg(entity), seg(project))
}

/// `/ui/{entity}/{project}/artifacts/{name}`.
pub(crate) fn collection_url(entity: &str, project: &str, name: &str) -> String {
    format!("{}/artifacts/{}", project_url(entity, project), seg(name))
}

/// `/ui/{entity}/{project}/artifacts/{name}/{selector}`.
pub(crate) fn version_url(entity: &str, project: &str, name: &str, selector: &str) -> String {
    format!(
        "{}/{}",
        collection_url(entity, project, name),
        seg(selector)
    )
}

/// `/ui/{entity}/{project}/runs/{run}`.
pub(crate) fn run_url(entity: &str, project: &str, run: &str) -> String {
    format!("{}/runs/{}", project_url(entity, project), seg(run))
}

/// A byte count for people: `1.5 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A stored timestamp (`2026-12-07T01:23:45.678Z`) shown to the minute, UTC.
pub(crate) fn when(timestamp: &str) -> String {
    match timestamp.split_once('T') {
        Some((date, time)) => format!("{date} {} UTC", time.get(..5).unwrap_or(time)),
        None => timestamp.to_owned(),
    }
}

/// A duration in words, at its largest two units: `3 d 4 h`.
pub(crate) fn duration(seconds: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (unit, name) in UNITS {
        if rest >= unit {
            parts.push(format!("{} {name}", rest / unit));
            rest %= unit;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        "0 s".to_owned()
    } else {
        parts.join(" ")
    }
}

/// Chips for aliases or tags.
pub(crate) fn chips(kind: &str, names: &[String]) -> Markup {
    html! {
        @for name in names {
            span class=(format!("chip {kind}")) { (name) }
            " "
        }
    }
}

/// A full page: header with navigation and who is signed in, the title, the body.
pub(crate) fn page(ctx: &Ctx, title: &str, crumbs: &[(String, String)], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Cairn" }
                link rel="stylesheet" href="/ui/_static/cairn.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Cairn" }
                    nav aria-label="Breadcrumbs" {
                        @for (label, url) in crumbs {
                            span.sep { "/" }
                            a href=(url) { (label) }
                        }
                    }
                    div.who {
                        @match ctx.username() {
                            Some(username) => {
                                a href=(entity_url(username)) data-test="signed-in-as" { (username) }
                                a href="/ui/_keys" { "API keys" }
                                form method="post" action="/ui/_sign-out" {
                                    input type="hidden" name="csrf" value=(ctx.form_token());
                                    button type="submit" { "Sign out" }
                                }
                            }
                            None => { a href="/ui/_sign-in" { "Sign in" } }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// An HTML answer with status 200.
pub(crate) fn html_response(markup: Markup) -> Response {
    let mut response = (StatusCode::OK, markup.into_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The page of a failed request: its words, and a way back.
pub(crate) fn error_page(ctx: &Ctx, status: StatusCode, message: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::UNAUTHORIZED => "Sign in needed",
        status if status.is_server_error() => "Server error",
        _ => "Refused",
    };
    let markup = page(
        ctx,
        title,
        &[],
        html! {
            p.error role="alert" data-test="error" { (message) }
            @if ctx.session.is_none() && status != StatusCode::NOT_FOUND {
                p { a href="/ui/_sign-in" { "Sign in" } " to see more." }
            }
            p { a href="/" { "Home" } }
        },
    );
    let mut response = html_response(markup);
    *response.status_mut() = status;
    response
}

/// The sign-in page, with a refusal or ended session's words when there was one. Sets the
/// sign-in form's CSRF cookie (`form_token`, or a new one).
pub(crate) fn sign_in_page(
    ctx: &Ctx,
    message: Option<&str>,
    form_token: Option<String>,
) -> Response {
    let token = form_token
        .or_else(|| {
            let mut bytes = [0_u8; 16];
            getrandom::fill(&mut bytes).ok()?;
            Some(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
        })
        .unwrap_or_default();
    let markup = page(
        ctx,
        "Sign in",
        &[],
        html! {
            @if let Some(message) = message {
                p.error role="alert" data-test="error" { (message) }
            }
            form.stack method="post" action="/ui/_sign-in" {
                input type="hidden" name="csrf" value=(token);
                label for="api_key" { "API key" }
                input #api_key type="password" name="api_key" autocomplete="current-password" required;
                p.hint { "Create one with " code { "cairn key create" } ", or ask a server admin. The key is sent once; the browser keeps only a session cookie." }
                button type="submit" { "Sign in" }
            }
            p { "Public and open projects can be browsed without signing in: " a href="/" { "home" } "." }
        },
    );
    let mut response = html_response(markup);
    set_cookie(
        &mut response,
        &format!("{SIGN_IN_COOKIE}={token}; Path=/ui/_sign-in; HttpOnly; SameSite=Strict"),
    );
    response
}

/// Adds a `Set-Cookie` header.
pub(crate) fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// A `Set-Cookie` value that removes cookie `name`.
pub(crate) fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// `303 See Other` to `location`: where a form goes after it did its work.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `GET /ui/_static/cairn.css`.
pub(crate) async fn stylesheet() -> Response {
    let mut response = (StatusCode::OK, include_str!("cairn.css")).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_escape_everything_that_could_change_a_url() {
        assert_eq!(seg("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
        assert_eq!(seg("v1-x_y.z~"), "v1-x_y.z~");
        assert_eq!(seg("\"><script>"), "%22%3E%3Cscript%3E");
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(90), "1 min 30 s");
        assert_eq!(duration(3 * 86_400 + 4 * 3_600 + 5), "3 d 4 h");
        assert_eq!(when("2026-12-07T01:23:45.678Z"), "2026-12-07 01:23 UTC");
    }
}
