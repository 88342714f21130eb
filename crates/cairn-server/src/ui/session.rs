//! Signing in and out.

use axum::extract::{FromRequestParts, Request, State};
use axum::response::Response;
use serde::Deserialize;

use crate::state::AppState;
use crate::ui::forms::{
    Ctx, OrPage, Posted, SESSION_COOKIE, SIGN_IN_COOKIE, UiError, cookie, read_form,
    require_same_site,
};
use crate::ui::layout;

/// `GET /ui/_sign-in`.
pub(crate) async fn sign_in_page(ctx: Ctx) -> Response {
    layout::sign_in_page(&ctx, None, None)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignIn {
    api_key: String,
}

/// `POST /ui/_sign-in`: opens a session for the key and sets its cookie. The form must carry
/// the token of the sign-in cookie its page set (so another site cannot sign a browser in to
/// an account of its choosing).
pub(crate) async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    match try_sign_in(&state, request).await {
        Ok(response) | Err(response) => response,
    }
}

async fn try_sign_in(state: &AppState, request: Request) -> Result<Response, Response> {
    let (mut parts, body) = request.into_parts();
    let ctx = Ctx::from_request_parts(&mut parts, state)
        .await
        .unwrap_or_default();
    let refuse = |message: &str| {
        let mut response = layout::sign_in_page(&ctx, Some(message), None);
        *response.status_mut() = axum::http::StatusCode::FORBIDDEN;
        response
    };
    if let Err(error) = require_same_site(&parts.headers) {
        return Err(refuse(&error.message()));
    }
    let expected = cookie(&parts.headers, SIGN_IN_COOKIE)
        .unwrap_or_default()
        .to_owned();
    let (form, token) = read_form::<SignIn>(Request::from_parts(parts, body), &ctx)
        .await
        .map_err(axum::response::IntoResponse::into_response)?;
    if expected.is_empty() || expected != token {
        return Err(refuse(
            "the sign-in form expired or came from another site; sign in again from this page",
        ));
    }
    let opened = match state.service().sign_in(form.api_key.trim()).await {
        Ok(opened) => opened,
        Err(error) if error.kind().is_some() => {
            let mut response =
                layout::sign_in_page(&ctx, Some(&error.to_string()), Some(token.clone()));
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            return Err(response);
        }
        Err(error) => {
            return Err(axum::response::IntoResponse::into_response(UiError::new(
                error, &ctx,
            )));
        }
    };
    let home = layout::entity_url(opened.session.caller.username());
    let mut response = layout::see_other(&home);
    let max_age = cairn_service::sessions::SESSION_LIFETIME.as_secs();
    layout::set_cookie(
        &mut response,
        &format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}",
            opened.token
        ),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignOut {}

/// `POST /ui/_sign-out`: forgets the session and clears its cookie.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    posted: Posted<SignOut>,
) -> Result<Response, UiError> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.service().sign_out(token).await.page(&posted.ctx)?;
    }
    let mut response = layout::see_other("/");
    layout::set_cookie(&mut response, &layout::clear_cookie(SESSION_COOKIE));
    Ok(response)
}
