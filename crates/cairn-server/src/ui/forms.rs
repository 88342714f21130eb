//! Who is browsing, and the checks every posted form passes.
//!
//! [`Ctx`] is the session of a request (or none: an anonymous visit). [`Posted`] is a form
//! posted by a signed-in session: it is refused unless it comes from this site and carries the
//! session's CSRF token, before any handler sees it.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_service::Caller;
use cairn_service::sessions::SessionCaller;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::extract::read_limited;
use crate::state::AppState;
use crate::ui::layout;

/// The cookie that holds a session's token.
pub(crate) const SESSION_COOKIE: &str = "cairn_session";

/// The cookie that holds the sign-in form's own CSRF token (there is no session yet).
pub(crate) const SIGN_IN_COOKIE: &str = "cairn_sign_in";

/// The largest form body: descriptions and metadata are edited through forms.
const FORM_MAX_BYTES: u64 = 1024 * 1024;

/// The session of a request, if it has one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ctx {
    pub(crate) session: Option<SessionCaller>,
}

impl Ctx {
    /// The caller, when signed in.
    pub(crate) fn caller(&self) -> Option<&Caller> {
        self.session.as_ref().map(|session| &session.caller)
    }

    /// The signed-in user's name.
    pub(crate) fn username(&self) -> Option<&str> {
        self.caller().map(Caller::username)
    }

    /// The token the session's forms carry (empty when anonymous: such forms are refused).
    pub(crate) fn form_token(&self) -> &str {
        self.session.as_ref().map_or("", SessionCaller::form_token)
    }
}

/// A failed UI request: shown as a page with the refusal's words, the status of the native
/// API's mapping, and the page's session (so the navigation still says who is signed in).
#[derive(Debug)]
pub(crate) struct UiError(Box<Failure>);

#[derive(Debug)]
struct Failure {
    error: ApiError,
    ctx: Ctx,
    /// The session cookie named an ended session: the answer is the sign-in page, and clears it.
    session_ended: bool,
}

impl UiError {
    pub(crate) fn new(error: impl Into<ApiError>, ctx: &Ctx) -> Self {
        Self(Box::new(Failure {
            error: error.into(),
            ctx: ctx.clone(),
            session_ended: false,
        }))
    }

    pub(crate) fn bad_request(message: impl Into<String>, ctx: &Ctx) -> Self {
        Self::new(ApiError::bad_request(message), ctx)
    }
}

/// Attaches the page's session to a domain failure.
pub(crate) trait OrPage<T> {
    /// This result, its error shown as a page for `ctx`.
    fn page(self, ctx: &Ctx) -> Result<T, UiError>;
}

impl<T, E: Into<ApiError>> OrPage<T> for Result<T, E> {
    fn page(self, ctx: &Ctx) -> Result<T, UiError> {
        self.map_err(|error| UiError::new(error, ctx))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let failure = *self.0;
        let status = failure.error.status();
        let message = failure.error.message();
        if failure.session_ended {
            let mut response = layout::sign_in_page(&Ctx::default(), Some(&message), None);
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            layout::set_cookie(&mut response, &layout::clear_cookie(SESSION_COOKIE));
            return response;
        }
        if status == StatusCode::UNAUTHORIZED && failure.ctx.session.is_none() {
            // The domain's words are about API headers; a visitor needs to sign in.
            let mut response = layout::sign_in_page(
                &failure.ctx,
                Some("sign in with an API key to see this page or do this"),
                None,
            );
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            return response;
        }
        let mut response = layout::error_page(&failure.ctx, status, &message);
        if status.is_server_error() {
            // The page says nothing internal; the detail goes to the log like the API's.
            let detail = format!("{:?}", failure.error);
            response
                .extensions_mut()
                .insert(crate::error::FailureDetail(detail));
        }
        response
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(Self::default());
        };
        match state.service().session(token).await {
            Ok(session) => Ok(Self {
                session: Some(session),
            }),
            Err(error) if error.kind() == Some(cairn_service::Kind::Unauthenticated) => {
                Err(UiError(Box::new(Failure {
                    error: error.into(),
                    ctx: Self::default(),
                    session_ended: true,
                })))
            }
            Err(error) => Err(UiError::new(error, &Self::default())),
        }
    }
}

/// Seconds in a number of days typed into a form (fractions allowed), more than 0 and at
/// most 100 years; `what` names the field in the refusal.
pub(crate) fn days_to_seconds(text: &str, what: &str) -> Result<u64, String> {
    let days: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a number of days for {what}", text.trim()))?;
    if !days.is_finite() || days <= 0.0 || days > 36_500.0 {
        return Err(format!(
            "{what} is more than 0 and at most 36,500 days, not {days}"
        ));
    }
    // In range, so the product fits: at most 3.2e9 seconds.
    Ok((days * 86_400.0).round() as u64)
}

/// A query string read as `T`; a malformed one is refused with a page, like any refusal.
#[derive(Debug)]
pub(crate) struct UiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for UiQuery<T> {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let parsed = serde_urlencoded::from_str::<T>(parts.uri.query().unwrap_or_default())
            .map_err(|error| format!("the address's query is not valid: {error}"));
        match parsed {
            Ok(value) => Ok(Self(value)),
            Err(message) => {
                let ctx = Ctx::from_request_parts(parts, state).await?;
                Err(UiError::bad_request(message, &ctx))
            }
        }
    }
}

/// Fails when the browser says the request came from another site: `Sec-Fetch-Site` other
/// than `same-origin` (or `none`, typed by the user), or an `Origin` whose host is neither the
/// request's `Host` nor, behind a proxy that rewrites it, its `X-Forwarded-Host`. (The
/// session's CSRF token is the main defence; this one needs no state.)
pub(crate) fn require_same_site(headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = || {
        ApiError::new(
            cairn_api::ErrorCode::PermissionDenied,
            "this form was posted from another site; Cairn only accepts forms from its own pages",
        )
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default();
        if site != "same-origin" && site != "none" {
            return Err(refused());
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let origin_host = origin
            .split_once("://")
            .map_or("", |(_, rest)| rest.trim_end_matches('/'));
        let ours = [header::HOST.as_str(), "x-forwarded-host"]
            .into_iter()
            .filter_map(|name| headers.get(name)?.to_str().ok())
            .any(|host| !origin_host.is_empty() && origin_host.eq_ignore_ascii_case(host.trim()));
        if !ours {
            return Err(refused());
        }
    }
    Ok(())
}

/// Reads an URL-encoded form body of at most 1 MiB as `T`, and its `csrf` field.
pub(crate) async fn read_form<T: DeserializeOwned>(
    request: Request,
    ctx: &Ctx,
) -> Result<(T, String), UiError> {
    let bytes = read_limited(request.into_body(), FORM_MAX_BYTES, "a form")
        .await
        .page(ctx)?;
    let csrf = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find_map(|(key, value)| (key == "csrf").then_some(value))
        })
        .unwrap_or_default();
    let form = serde_urlencoded::from_bytes::<T>(&bytes)
        .map_err(|error| UiError::bad_request(format!("the form is not valid: {error}"), ctx))?;
    Ok((form, csrf))
}

/// A form posted by a signed-in session, from this site, with the session's CSRF token.
#[derive(Debug)]
pub(crate) struct Posted<T> {
    pub(crate) ctx: Ctx,
    pub(crate) form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, UiError> {
        let (mut parts, body) = request.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, state).await?;
        require_same_site(&parts.headers).page(&ctx)?;
        let Some(session) = ctx.session.clone() else {
            return Err(UiError::new(
                ApiError::unauthenticated("sign in with an API key to change anything"),
                &ctx,
            ));
        };
        let (form, csrf) = read_form(Request::from_parts(parts, body), &ctx).await?;
        session.check_form_token(&csrf).page(&ctx)?;
        Ok(Self { ctx, form })
    }
}
