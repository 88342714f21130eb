//! The browsing pages: home, an entity's projects, a project's types, a type's collections, a
//! collection's versions (paginated), a run; and the project visibility form.

use axum::extract::State;
use axum::response::Response;
use cairn_service::model::{CollectionKind, Role, Version, VersionQuery, Visibility};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::PathParams;
use crate::state::AppState;
use crate::ui::forms::{Ctx, OrPage, Posted, UiError, UiQuery};
use crate::ui::layout::{
    self, chips, collection_url, entity_url, html_response, page, project_url, run_url, seg, size,
    version_url, when,
};

/// How many collections a type's page shows at a time.
const COLLECTIONS_PER_PAGE: usize = 50;

/// How many versions a collection's page shows at a time.
pub(crate) const VERSIONS_PER_PAGE: usize = 50;

/// `GET /ui` and `GET /ui/`: the home page is `/`.
pub(crate) async fn to_home() -> Response {
    layout::see_other("/")
}

/// `GET /`: the signed-in user's entities, or a way in for visitors.
pub(crate) async fn home(State(state): State<AppState>, ctx: Ctx) -> Result<Response, UiError> {
    let viewer = match ctx.caller() {
        Some(caller) => Some(state.service().viewer(Some(caller)).await.page(&ctx)?),
        None => None,
    };
    let body = html! {
        @if let Some(viewer) = &viewer {
            h2 { "Your entities" }
            ul.list data-test="entities" {
                li { a href=(entity_url(&viewer.user.username)) { (viewer.user.username) } " " span.muted { "you" } }
                @for team in &viewer.teams {
                    li {
                        a href=(entity_url(&team.team)) { (team.team) } " "
                        span.muted { "team, " (role_name(team.role)) }
                    }
                }
            }
        } @else {
            p { a href="/ui/_sign-in" { "Sign in with an API key" } " to see your projects." }
        }
        h2 { "Open an entity" }
        form.inline method="get" action="/ui/_go" {
            label for="entity" { "Entity (user or team)" }
            input #entity name="entity" required;
            button type="submit" { "Open" }
        }
        @if viewer.is_none() {
            p.hint { "Without signing in you see the public and open projects of an entity." }
        }
    };
    Ok(html_response(page(&ctx, "Cairn", &[], body)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Go {
    entity: String,
}

/// `GET /ui/_go?entity=`: to an entity's page.
pub(crate) async fn go(UiQuery(go): UiQuery<Go>) -> Response {
    layout::see_other(&entity_url(go.entity.trim()))
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

pub(crate) fn visibility_name(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Private => "private",
        Visibility::Public => "public",
        Visibility::Open => "open",
    }
}

/// `GET /ui/{entity}`: the projects the visitor may read.
pub(crate) async fn entity(
    State(state): State<AppState>,
    ctx: Ctx,
    PathParams((entity,)): PathParams<(String,)>,
) -> Result<Response, UiError> {
    let projects = state
        .service()
        .projects(ctx.caller(), &entity)
        .await
        .page(&ctx)?;
    let team = match ctx.caller() {
        Some(caller) if caller.username() != entity => {
            state.service().team(Some(caller), &entity).await.ok()
        }
        _ => None,
    };
    let body = html! {
        @if team.is_some() {
            p { a href=(format!("/ui/_teams/{}", seg(&entity))) data-test="team-settings" { "Team settings" } " (members, roles, retention)" }
        }
        h2 { "Projects" }
        @if projects.is_empty() {
            p.muted { "No projects you can see." }
        } @else {
            table data-test="projects" {
                thead { tr { th { "Project" } th { "Visibility" } th { "Created" } } }
                tbody {
                    @for project in &projects {
                        tr {
                            td { a href=(project_url(&entity, &project.name)) { (project.name) } }
                            td { span class=(format!("chip vis-{}", visibility_name(project.visibility))) { (visibility_name(project.visibility)) } }
                            td { (when(&project.created_at)) }
                        }
                    }
                }
            }
        }
    };
    let crumbs = [(entity.clone(), entity_url(&entity))];
    Ok(html_response(page(&ctx, &entity, &crumbs, body)))
}

/// `GET /ui/{entity}/{project}`: its artifact types and visibility.
pub(crate) async fn project(
    State(state): State<AppState>,
    ctx: Ctx,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, UiError> {
    let service = state.service();
    let found = service
        .project(ctx.caller(), &entity, &project)
        .await
        .page(&ctx)?;
    let types = service
        .artifact_types(ctx.caller(), &entity, &project)
        .await
        .page(&ctx)?;
    let protected = service
        .protected_aliases(ctx.caller(), &entity, &project)
        .await
        .unwrap_or_default();
    let base = project_url(&entity, &project);
    let body = html! {
        p {
            "Visibility: "
            span class=(format!("chip vis-{}", visibility_name(found.visibility))) data-test="visibility" { (visibility_name(found.visibility)) }
            " · created " (when(&found.created_at))
        }
        @if !protected.is_empty() {
            p { "Protected aliases: " (chips("alias", &protected)) }
        }
        h2 { "Artifact types" }
        @if types.is_empty() {
            p.muted { "No artifacts logged yet." }
        } @else {
            table data-test="types" {
                thead { tr { th { "Type" } th { "Artifacts" } th { "Created" } } }
                tbody {
                    @for artifact_type in &types {
                        tr {
                            td { a href=(format!("{base}/types/{}", seg(&artifact_type.name))) { (artifact_type.name) } }
                            td.num { (artifact_type.collection_count) }
                            td { (when(&artifact_type.created_at)) }
                        }
                    }
                }
            }
        }
        @if ctx.session.is_some() {
            details.panel {
                summary { "Change visibility" }
                form.inline method="post" action=(format!("{base}/visibility")) {
                    input type="hidden" name="csrf" value=(ctx.form_token());
                    label for="visibility" { "Visibility" }
                    select #visibility name="visibility" {
                        @for choice in [Visibility::Private, Visibility::Public, Visibility::Open] {
                            option value=(visibility_name(choice)) selected[choice == found.visibility] { (visibility_name(choice)) }
                        }
                    }
                    button type="submit" { "Save" }
                }
                p.hint { "Private: members only. Public: anyone may read. Open: anyone signed in may also write." }
            }
        }
    };
    let crumbs = [
        (entity.clone(), entity_url(&entity)),
        (project.clone(), base.clone()),
    ];
    Ok(html_response(page(&ctx, &project, &crumbs, body)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct VisibilityForm {
    visibility: String,
}

/// `POST /ui/{entity}/{project}/visibility`.
pub(crate) async fn visibility(
    State(state): State<AppState>,
    PathParams((entity, project)): PathParams<(String, String)>,
    posted: Posted<VisibilityForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    let visibility = match posted.form.visibility.as_str() {
        "private" => Visibility::Private,
        "public" => Visibility::Public,
        "open" => Visibility::Open,
        other => {
            return Err(UiError::bad_request(
                format!("`{other}` is not a visibility: choose private, public or open"),
                ctx,
            ));
        }
    };
    state
        .service()
        .upsert_project(ctx.caller(), &entity, &project, Some(visibility))
        .await
        .page(ctx)?;
    Ok(layout::see_other(&project_url(&entity, &project)))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AfterQuery {
    /// Continue after this collection name.
    after: Option<String>,
}

/// `GET /ui/{entity}/{project}/types/{type}?after=`: the type's collections, 50 at a time.
pub(crate) async fn artifact_type(
    State(state): State<AppState>,
    ctx: Ctx,
    PathParams((entity, project, artifact_type)): PathParams<(String, String, String)>,
    UiQuery(query): UiQuery<AfterQuery>,
) -> Result<Response, UiError> {
    let mut collections = state
        .service()
        .collections_page(
            ctx.caller(),
            &entity,
            &project,
            Some(&artifact_type),
            query.after.as_deref(),
            COLLECTIONS_PER_PAGE + 1,
        )
        .await
        .page(&ctx)?;
    if collections.is_empty() && query.after.is_none() {
        let types = state
            .service()
            .artifact_types(ctx.caller(), &entity, &project)
            .await
            .page(&ctx)?;
        if !types.iter().any(|known| known.name == artifact_type) {
            return Err(UiError::new(
                ApiError::not_found(format!(
                    "project `{entity}/{project}` has no artifacts of type `{artifact_type}`"
                )),
                &ctx,
            ));
        }
    }
    let more = collections.len() > COLLECTIONS_PER_PAGE;
    collections.truncate(COLLECTIONS_PER_PAGE);
    let here = format!(
        "{}/types/{}",
        project_url(&entity, &project),
        seg(&artifact_type)
    );
    let body = html! {
        @if collections.is_empty() {
            p.muted { "No artifacts of this type here." }
        }
        table data-test="collections" {
            thead { tr { th { "Artifact" } th { "Versions" } th { "Latest" } th { "Updated" } } }
            tbody {
                @for collection in &collections {
                    tr {
                        td {
                            a href=(collection_url(&entity, &project, &collection.name)) { (collection.name) }
                            @if collection.kind == CollectionKind::Portfolio { " " span.chip.link { "registry" } }
                        }
                        td.num { (collection.version_count) }
                        td { (collection.latest.as_deref().unwrap_or("—")) }
                        td { (when(&collection.updated_at)) }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if query.after.is_some() { a href=(here.clone()) { "← First" } }
            @if let (true, Some(last)) = (more, collections.last()) {
                a href=(format!("{here}?after={}", seg(&last.name))) rel="next" data-test="next" { "Next →" }
            }
        }
    };
    let crumbs = [
        (entity.clone(), entity_url(&entity)),
        (project.clone(), project_url(&entity, &project)),
        (artifact_type.clone(), here.clone()),
    ];
    Ok(html_response(page(&ctx, &artifact_type, &crumbs, body)))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct VersionsQuery {
    before: Option<u64>,
}

/// TTL left of a version, in words.
pub(crate) fn ttl_left(version: &Version, clock: &cairn_service::Clock) -> String {
    let Some(expires_at) = &version.ttl.expires_at else {
        return "kept forever".to_owned();
    };
    let inherited = if version.ttl.inherited {
        " (team default)"
    } else {
        ""
    };
    match clock.seconds_until(expires_at) {
        Some(0) => format!("expired, deleted at the next sweep{inherited}"),
        Some(left) => format!("{} left{inherited}", layout::duration(left)),
        None => format!("until {expires_at}{inherited}"),
    }
}

/// `GET /ui/{entity}/{project}/artifacts/{name}`: the versions, newest first, 50 at a time.
pub(crate) async fn collection(
    State(state): State<AppState>,
    ctx: Ctx,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
    UiQuery(query): UiQuery<VersionsQuery>,
) -> Result<Response, UiError> {
    let service = state.service();
    let collection = service
        .collection(ctx.caller(), &entity, &project, &name)
        .await
        .page(&ctx)?;
    let versions = service
        .collection_versions(
            ctx.caller(),
            &entity,
            &project,
            &name,
            VersionQuery {
                alias: None,
                before: query.before,
                limit: VERSIONS_PER_PAGE,
            },
        )
        .await
        .page(&ctx)?;
    let clock = service.clock();
    let here = collection_url(&entity, &project, &name);
    let body = html! {
        p {
            span.chip { (collection.artifact_type) } " "
            @if collection.kind == CollectionKind::Portfolio { span.chip.link { "registry collection" } " " }
            (versions.total) " versions"
        }
        @if let Some(description) = &collection.description {
            div.markdown { (crate::ui::markdown::render(description)) }
        }
        div.scroll {
            table data-test="versions" {
                thead { tr { th { "Version" } th { "Aliases" } th { "Tags" } th { "Size" } th { "Files" } th { "Created" } th { "Logged by" } th { "TTL" } } }
                tbody {
                    @for version in &versions.versions {
                        @let selector = format!("v{}", version.version_index.unwrap_or_default());
                        tr {
                            td { a href=(version_url(&entity, &project, &name, &selector)) { (selector) } }
                            td { (chips("alias", &version.aliases)) }
                            td { (chips("tag", &version.tags)) }
                            td.num { (size(version.size)) }
                            td.num { (version.file_count) }
                            td { (when(&version.created_at)) }
                            td { (logged_by(version)) }
                            td { (ttl_left(version, clock)) }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if query.before.is_some() { a href=(here.clone()) { "← Newest" } }
            @if let Some(next) = versions.next { a href=(format!("{here}?before={next}")) rel="next" data-test="older" { "Older versions →" } }
        }
    };
    let crumbs = [
        (entity.clone(), entity_url(&entity)),
        (project.clone(), project_url(&entity, &project)),
        (
            collection.artifact_type.clone(),
            format!(
                "{}/types/{}",
                project_url(&entity, &project),
                seg(&collection.artifact_type)
            ),
        ),
        (name.clone(), here.clone()),
    ];
    Ok(html_response(page(&ctx, &name, &crumbs, body)))
}

/// The run that logged a version, linked (in the project it was logged in).
pub(crate) fn logged_by(version: &Version) -> Markup {
    let (entity, project) = match &version.source {
        Some(source) => (&source.entity, &source.project),
        None => (&version.entity, &version.project),
    };
    html! {
        @match &version.logged_by {
            Some(run) => a href=(run_url(entity, project, run)) { (run) },
            None => span.muted { "—" },
        }
    }
}

/// `GET /ui/{entity}/{project}/runs/{run}`: a run and what it logged and used.
pub(crate) async fn run(
    State(state): State<AppState>,
    ctx: Ctx,
    PathParams((entity, project, run_id)): PathParams<(String, String, String)>,
) -> Result<Response, UiError> {
    let service = state.service();
    let run = service
        .run(ctx.caller(), &entity, &project, &run_id)
        .await
        .page(&ctx)?;
    let artifacts = service
        .run_artifacts(ctx.caller(), &entity, &project, &run_id)
        .await
        .page(&ctx)?;
    let list = |versions: &[Version]| {
        html! {
            @if versions.is_empty() { p.muted { "None." } } @else {
                ul.list {
                    @for version in versions {
                        @let selector = format!("v{}", version.version_index.unwrap_or_default());
                        li {
                            a href=(version_url(&version.entity, &version.project, &version.collection, &selector)) { (version.qualified_name()) }
                            " " span.chip { (version.artifact_type) }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        p {
            "State: " (format!("{:?}", run.state).to_lowercase())
            " · by " (run.user)
            " · started " (when(&run.created_at))
            @if let Some(job_type) = &run.job_type { " · job type " (job_type) }
        }
        @if let Some(name) = &run.display_name { p { "Name: " (name) } }
        h2 { "Logged" }
        (list(&artifacts.logged))
        h2 { "Used" }
        (list(&artifacts.used))
    };
    let crumbs = [
        (entity.clone(), entity_url(&entity)),
        (project.clone(), project_url(&entity, &project)),
        (format!("run {run_id}"), run_url(&entity, &project, &run_id)),
    ];
    Ok(html_response(page(
        &ctx,
        &format!("Run {run_id}"),
        &crumbs,
        body,
    )))
}
