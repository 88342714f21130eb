//! Team settings: members and roles, the default TTL and who may set TTLs. Members see them;
//! the domain lets only the team's admins change them, and its refusal is what the page shows.

use axum::extract::State;
use axum::response::Response;
use cairn_service::model::{Role, TeamSettingsEdit, TtlEditors};
use maud::html;
use serde::Deserialize;

use crate::extract::PathParams;
use crate::state::AppState;
use crate::ui::forms::{Ctx, OrPage, Posted, UiError, days_to_seconds};
use crate::ui::layout::{self, entity_url, html_response, page, seg};
use crate::ui::pages::role_name;

fn settings_url(team: &str) -> String {
    format!("/ui/_teams/{}", seg(team))
}

/// `GET /ui/_teams/{team}`.
pub(crate) async fn settings(
    State(state): State<AppState>,
    ctx: Ctx,
    PathParams((team,)): PathParams<(String,)>,
) -> Result<Response, UiError> {
    let service = state.service();
    let found = service.team(ctx.caller(), &team).await.page(&ctx)?;
    let retention = service
        .team_settings(ctx.caller(), &team)
        .await
        .page(&ctx)?;
    let base = settings_url(&team);
    let me = ctx.username().unwrap_or_default();
    let admin = found
        .members
        .iter()
        .any(|member| member.username == me && member.role == Role::Admin);
    let default_days = retention
        .default_ttl_seconds
        .map(|seconds| format!("{}", seconds as f64 / 86_400.0));
    let body = html! {
        h2 { "Members" }
        table data-test="members" {
            thead { tr { th { "User" } th { "Role" } th { "" } } }
            tbody {
                @for member in &found.members {
                    tr {
                        td { a href=(entity_url(&member.username)) { (member.username) } }
                        td { (role_name(member.role)) }
                        td {
                            @if admin || member.username == me {
                                form.inline method="post" action=(format!("{base}/members/remove")) {
                                    input type="hidden" name="csrf" value=(ctx.form_token());
                                    input type="hidden" name="username" value=(member.username);
                                    button.small.secondary type="submit" aria-label=(format!("Remove {}", member.username)) {
                                        @if member.username == me { "Leave" } @else { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !admin {
            p.hint data-test="admins-only" { "Only the team's admins may change members and retention; the server refuses others." }
        }
        h3 { "Add a member or change a role" }
        form.inline method="post" action=(format!("{base}/members")) {
            input type="hidden" name="csrf" value=(ctx.form_token());
            label for="username" { "User" }
            input #username name="username" required;
            label for="role" { "Role" }
            select #role name="role" {
                option value="member" { "member" }
                option value="admin" { "admin" }
            }
            button type="submit" { "Save" }
        }
        h2 { "Retention" }
        form.stack method="post" action=(format!("{base}/retention")) {
            input type="hidden" name="csrf" value=(ctx.form_token());
            label for="default_ttl_days" { "Default TTL of new versions, in days (empty: kept forever)" }
            input #default_ttl_days name="default_ttl_days" type="number" min="0" step="any" value=[default_days];
            label for="ttl_editors" { "Who may set a version's TTL" }
            select #ttl_editors name="ttl_editors" {
                option value="admins" selected[retention.ttl_editors == TtlEditors::Admins] { "team admins" }
                option value="members" selected[retention.ttl_editors == TtlEditors::Members] { "every member" }
            }
            button type="submit" { "Save retention" }
        }
    };
    let crumbs = [
        (team.clone(), entity_url(&team)),
        ("settings".to_owned(), base.clone()),
    ];
    Ok(html_response(page(
        &ctx,
        &format!("{team} · team settings"),
        &crumbs,
        body,
    )))
}

#[derive(Debug, Deserialize)]
pub(crate) struct MemberForm {
    username: String,
    #[serde(default)]
    role: Option<String>,
}

/// `POST /ui/_teams/{team}/members`: adds a member or changes a role.
pub(crate) async fn set_member(
    State(state): State<AppState>,
    PathParams((team,)): PathParams<(String,)>,
    posted: Posted<MemberForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    let role = match posted.form.role.as_deref() {
        Some("admin") => Role::Admin,
        Some("member") | None => Role::Member,
        Some(other) => {
            return Err(UiError::bad_request(
                format!("`{other}` is not a role: choose member or admin"),
                ctx,
            ));
        }
    };
    state
        .service()
        .set_team_member(ctx.caller(), &team, posted.form.username.trim(), role)
        .await
        .page(ctx)?;
    Ok(layout::see_other(&settings_url(&team)))
}

/// `POST /ui/_teams/{team}/members/remove`.
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    PathParams((team,)): PathParams<(String,)>,
    posted: Posted<MemberForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    state
        .service()
        .remove_team_member(ctx.caller(), &team, posted.form.username.trim())
        .await
        .page(ctx)?;
    Ok(layout::see_other(&settings_url(&team)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RetentionForm {
    #[serde(default)]
    default_ttl_days: String,
    ttl_editors: String,
}

/// `POST /ui/_teams/{team}/retention`: the default TTL and who may set TTLs.
pub(crate) async fn retention(
    State(state): State<AppState>,
    PathParams((team,)): PathParams<(String,)>,
    posted: Posted<RetentionForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    let form = &posted.form;
    let days = form.default_ttl_days.trim();
    let default_ttl_seconds = if days.is_empty() {
        None
    } else {
        Some(
            days_to_seconds(days, "a default TTL")
                .map_err(|message| UiError::bad_request(message, ctx))?,
        )
    };
    let ttl_editors = match form.ttl_editors.as_str() {
        "admins" => TtlEditors::Admins,
        "members" => TtlEditors::Members,
        other => {
            return Err(UiError::bad_request(
                format!("`{other}` is not a choice: admins or members"),
                ctx,
            ));
        }
    };
    state
        .service()
        .update_team_settings(
            ctx.caller(),
            &team,
            TeamSettingsEdit {
                default_ttl_seconds: Some(default_ttl_seconds),
                ttl_editors: Some(ttl_editors),
            },
        )
        .await
        .page(ctx)?;
    Ok(layout::see_other(&settings_url(&team)))
}
