//! The signed-in user's API keys: listed (never their secrets), created (the secret shown
//! once, on the answer to the form, never stored in the page's address or the session), and
//! revoked. Revoking the key of the current session signs it out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_service::model::{ApiKeyStatus, NewApiKey};
use maud::{Markup, html};
use serde::Deserialize;

use crate::state::AppState;
use crate::ui::forms::{Ctx, OrPage, Posted, UiError, days_to_seconds};
use crate::ui::layout::{self, html_response, page, when};

const KEYS_URL: &str = "/ui/_keys";

/// The keys page, with a just-created secret when there is one.
async fn render(state: &AppState, ctx: &Ctx, created: Option<&str>) -> Result<Response, UiError> {
    let Some(username) = ctx.username() else {
        return Err(UiError::new(
            crate::error::ApiError::unauthenticated("sign in to manage your API keys"),
            ctx,
        ));
    };
    let keys = state
        .service()
        .api_keys(ctx.caller(), username)
        .await
        .page(ctx)?;
    let current = ctx.caller().and_then(cairn_service::Caller::key_id);
    let body: Markup = html! {
        @if let Some(secret) = created {
            div.notice role="status" {
                p { strong { "Your new API key. Copy it now: it is shown only once." } }
                pre data-test="new-key" { code { (secret) } }
            }
        }
        div.scroll {
            table data-test="keys" {
                thead { tr { th { "Id" } th { "Name" } th { "Created" } th { "Expires" } th { "Last used" } th { "Status" } th { "" } } }
                tbody {
                    @for key in &keys {
                        tr {
                            td { code { (key.id) } @if current == Some(key.id.as_str()) { " " span.chip { "this session" } } }
                            td { (key.name.as_deref().unwrap_or("—")) }
                            td { (when(&key.created_at)) }
                            td { (key.expires_at.as_deref().map_or_else(|| "never".to_owned(), when)) }
                            td { (key.last_used_at.as_deref().map_or_else(|| "—".to_owned(), when)) }
                            td { (match key.status { ApiKeyStatus::Active => "active", ApiKeyStatus::Expired => "expired", ApiKeyStatus::Revoked => "revoked" }) }
                            td {
                                @if key.status == ApiKeyStatus::Active {
                                    form.inline method="post" action="/ui/_keys/revoke" {
                                        input type="hidden" name="csrf" value=(ctx.form_token());
                                        input type="hidden" name="id" value=(key.id);
                                        button.small.secondary type="submit" aria-label=(format!("Revoke {}", key.id)) { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Create a key" }
        form.stack method="post" action="/ui/_keys" {
            input type="hidden" name="csrf" value=(ctx.form_token());
            label for="key_name" { "Name (optional)" }
            input #key_name name="name" maxlength="100";
            label for="expires_days" { "Expires after (days; empty: never)" }
            input #expires_days name="expires_days" type="number" min="0" step="any";
            button type="submit" { "Create key" }
        }
    };
    let crumbs = [("API keys".to_owned(), KEYS_URL.to_owned())];
    Ok(html_response(page(ctx, "Your API keys", &crumbs, body)))
}

/// `GET /ui/_keys`.
pub(crate) async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<Response, UiError> {
    render(&state, &ctx, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_days: String,
}

/// `POST /ui/_keys`: creates a key and shows its secret once (the answer is the page itself,
/// not a redirect, so the secret never lands in an address or a history entry).
pub(crate) async fn create(
    State(state): State<AppState>,
    posted: Posted<CreateForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    let form = &posted.form;
    let expires_in = match form.expires_days.trim() {
        "" => None,
        days => Some(std::time::Duration::from_secs(
            days_to_seconds(days, "a key's lifetime")
                .map_err(|message| UiError::bad_request(message, ctx))?,
        )),
    };
    let name = form.name.trim();
    let username = ctx.username().unwrap_or_default().to_owned();
    let created = state
        .service()
        .create_api_key(
            ctx.caller(),
            &username,
            &NewApiKey {
                name: (!name.is_empty()).then(|| name.to_owned()),
                expires_in,
            },
        )
        .await
        .page(ctx)?;
    let mut response = render(&state, ctx, Some(&created.api_key)).await?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    id: String,
}

/// `POST /ui/_keys/revoke`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    posted: Posted<RevokeForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    let username = ctx.username().unwrap_or_default().to_owned();
    state
        .service()
        .revoke_api_key(ctx.caller(), &username, &posted.form.id)
        .await
        .page(ctx)?;
    // Revoking this session's own key ended the session: the next page says so.
    Ok(layout::see_other(KEYS_URL))
}
