//! A version: overview (description, metadata, digest, snippets), files with per-file
//! download, a diff against another version, its lineage picture, and the forms that edit,
//! delete and link it.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use cairn_service::logging::BlobBytes;
use cairn_service::model::{
    CollectionPath, FileEntry, LineageDirection, LineageQuery, LinkRequest, TtlSetting, Version,
    VersionEdit,
};
use futures_util::StreamExt as _;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::extract::PathParams;
use crate::state::AppState;
use crate::ui::forms::{Ctx, OrPage, Posted, UiError, UiQuery, days_to_seconds};
use crate::ui::layout::{
    self, chips, collection_url, entity_url, html_response, page, project_url, seg, size,
    version_url, when,
};
use crate::ui::pages::{logged_by, ttl_left};

/// The path parameters of every version page.
type VersionPath = PathParams<(String, String, String, String)>;

/// How many entries a page of the file browser lists.
const FILES_PER_PAGE: usize = 200;

/// How many changes of each kind a diff lists (all are counted).
const DIFF_LISTED: usize = 500;

/// A version page's identity: where it is and what it is.
struct Here {
    entity: String,
    project: String,
    name: String,
    selector: String,
    version: Version,
}

impl Here {
    async fn load(state: &AppState, ctx: &Ctx, path: VersionPath) -> Result<Self, UiError> {
        let PathParams((entity, project, name, selector)) = path;
        let version = state
            .service()
            .version_by_name(
                ctx.caller(),
                &entity,
                &project,
                &format!("{name}:{selector}"),
            )
            .await
            .page(ctx)?;
        Ok(Self {
            entity,
            project,
            name,
            selector,
            version,
        })
    }

    /// The version's page, or one of its tabs (`""`, `"files"`, ...).
    fn url(&self, tab: &str) -> String {
        let base = version_url(&self.entity, &self.project, &self.name, &self.selector);
        if tab.is_empty() {
            base
        } else {
            format!("{base}/{tab}")
        }
    }

    /// `name:vN`, the version's own index (the selector may be an alias).
    fn label(&self) -> String {
        format!(
            "{}:v{}",
            self.name,
            self.version.version_index.unwrap_or_default()
        )
    }

    fn full_name(&self) -> String {
        format!(
            "{}/{}/{}:v{}",
            self.entity,
            self.project,
            self.name,
            self.version.version_index.unwrap_or_default()
        )
    }

    fn crumbs(&self) -> Vec<(String, String)> {
        vec![
            (self.entity.clone(), entity_url(&self.entity)),
            (
                self.project.clone(),
                project_url(&self.entity, &self.project),
            ),
            (
                self.name.clone(),
                collection_url(&self.entity, &self.project, &self.name),
            ),
            (self.label(), self.url("")),
        ]
    }

    /// The page shell with the version's header and tabs.
    fn render(&self, ctx: &Ctx, tab: &str, body: Markup) -> Response {
        let version = &self.version;
        let tabs = [
            ("", "Overview"),
            ("files", "Files"),
            ("lineage", "Lineage"),
            ("diff", "Diff"),
        ];
        let markup = page(
            ctx,
            &self.label(),
            &self.crumbs(),
            html! {
                p.chips data-test="version-chips" {
                    span.chip { (version.artifact_type) } " "
                    (chips("alias", &version.aliases))
                    (chips("tag", &version.tags))
                }
                nav.tabs aria-label="Version" {
                    @for (name, label) in tabs {
                        @if name == tab {
                            a.current href=(self.url(name)) aria-current="page" { (label) }
                        } @else {
                            a href=(self.url(name)) { (label) }
                        }
                    }
                }
                (body)
            },
        );
        html_response(markup)
    }

    /// Where the version is edited through: its portfolio when seen as a link.
    fn through(&self) -> Option<CollectionPath> {
        self.version.source.as_ref().map(|_| CollectionPath {
            entity: self.entity.clone(),
            project: self.project.clone(),
            name: self.name.clone(),
        })
    }
}

/// Metadata as a tree of `<details>`, every key and value escaped.
fn json_tree(value: &Value) -> Markup {
    match value {
        Value::Object(map) => html! {
            ul.tree {
                @for (key, value) in map {
                    li { (entry(key, value)) }
                }
            }
        },
        Value::Array(items) => html! {
            ol.tree start="0" {
                @for item in items { li { (entry("", item)) } }
            }
        },
        scalar => html! { code { (scalar.to_string()) } },
    }
}

fn entry(key: &str, value: &Value) -> Markup {
    let count = match value {
        Value::Object(map) => Some(format!("{{{}}}", map.len())),
        Value::Array(items) => Some(format!("[{}]", items.len())),
        _ => None,
    };
    html! {
        @match count {
            Some(count) => details open {
                summary { span.key { (key) } " " span.muted { (count) } }
                (json_tree(value))
            },
            None => { span.key { (key) } @if !key.is_empty() { ": " } (json_tree(value)) },
        }
    }
}

/// `GET .../{version}`: the overview, the snippets, and the edit forms.
pub(crate) async fn overview(
    State(state): State<AppState>,
    ctx: Ctx,
    path: VersionPath,
) -> Result<Response, UiError> {
    let here = Here::load(&state, &ctx, path).await?;
    let version = &here.version;
    let clock = state.service().clock();
    let links = state
        .service()
        .version_links(ctx.caller(), &version.id)
        .await
        .unwrap_or_default();
    let full = here.full_name();
    let metadata = Value::Object(version.metadata.clone());
    let metadata_text = serde_json::to_string_pretty(&version.metadata).unwrap_or_default();
    let signed_in = ctx.session.is_some();
    let body = html! {
        section.overview {
            @if let Some(description) = &version.description {
                div.markdown data-test="description" { (crate::ui::markdown::render(description)) }
            } @else {
                p.muted { "No description." }
            }
            dl.facts {
                dt { "Digest" } dd { code data-test="digest" { (version.digest.to_hex()) } }
                dt { "Size" } dd { (size(version.size)) " in " (version.file_count) @if version.file_count == 1 { " file" } @else { " files" } }
                dt { "Created" } dd { (when(&version.created_at)) }
                dt { "Logged by" } dd { (logged_by(version)) }
                dt { "TTL" } dd data-test="ttl" { (ttl_left(version, clock)) }
                @if let Some(source) = &version.source {
                    dt { "Linked from" }
                    dd { a href=(version_url(&source.entity, &source.project, &source.collection, &format!("v{}", source.version_index.unwrap_or_default()))) { (version.source_qualified_name()) } }
                }
                @if !links.is_empty() {
                    dt { "Linked into" }
                    dd {
                        @for link in &links {
                            a href=(version_url(&link.entity, &link.project, &link.collection, &format!("v{}", link.version_index.unwrap_or_default()))) { (link.qualified_name()) } " "
                        }
                    }
                }
            }
            h2 { "Metadata" }
            @if version.metadata.is_empty() { p.muted { "None." } } @else {
                div.metadata data-test="metadata" { (json_tree(&metadata)) }
            }
            h2 { "Use it" }
            p { "With the " code { "cairn" } " CLI:" }
            pre data-test="snippet-cli" { code { "cairn artifact get " (full) " --root ./" (here.name) } }
            p { "With the W&B SDK (pointed at this server with " code { "WANDB_BASE_URL" } "):" }
            pre data-test="snippet-wandb" { code {
                "import wandb\n\n"
                "# in a run, which records the use in its lineage:\n"
                "with wandb.init(project=\"" (here.project) "\", entity=\"" (here.entity) "\") as run:\n"
                "    path = run.use_artifact(\"" (full) "\").download()\n\n"
                "# or outside a run:\n"
                "path = wandb.Api().artifact(\"" (full) "\").download()"
            } }
        }
        @if signed_in {
            h2 { "Change" }
            details.panel {
                summary { "Edit description, metadata, aliases, tags, TTL" }
                form.stack method="post" action=(here.url("edit")) {
                    input type="hidden" name="csrf" value=(ctx.form_token());
                    label for="description" { "Description (Markdown)" }
                    textarea #description name="description" rows="5" { (version.description.as_deref().unwrap_or("")) }
                    label for="metadata" { "Metadata (a JSON object)" }
                    textarea #metadata name="metadata" rows="8" spellcheck="false" { (metadata_text) }
                    label for="aliases" { "Aliases (separated by spaces or commas)" }
                    input #aliases name="aliases" value=(version.aliases.join(", "));
                    label for="tags" { "Tags (separated by spaces or commas)" }
                    input #tags name="tags" value=(version.tags.join(", "));
                    fieldset {
                        legend { "Time to live" }
                        @for (value, label) in [("keep", "keep as it is"), ("inherit", "team default"), ("never", "keep forever"), ("days", "delete after (days from creation):")] {
                            label.choice {
                                input type="radio" name="ttl" value=(value) checked[value == "keep"];
                                " " (label)
                            }
                        }
                        input #ttl_days name="ttl_days" type="number" min="0" step="any" aria-label="TTL in days";
                    }
                    button type="submit" { "Save changes" }
                }
            }
            details.panel {
                summary { "Link to a registry collection" }
                form.stack method="post" action=(here.url("link")) {
                    input type="hidden" name="csrf" value=(ctx.form_token());
                    label for="target" { "Target (entity/project/collection)" }
                    input #target name="target" required placeholder="my-team/model-registry/classifier";
                    label for="link_aliases" { "Aliases there (optional)" }
                    input #link_aliases name="aliases";
                    button type="submit" { "Link" }
                }
            }
            details.panel.danger {
                summary { @if version.is_link() { "Unlink" } @else { "Delete this version" } }
                form.stack method="post" action=(here.url("delete")) {
                    input type="hidden" name="csrf" value=(ctx.form_token());
                    @if version.is_link() {
                        p { "Removes the link from " (here.entity) "/" (here.project) "/" (here.name) "; the version it points at stays." }
                    } @else {
                        p { "Deletes " (full) ". Its files stay while another version uses them." }
                        label.choice { input type="checkbox" name="delete_aliases" value="true"; " also remove its aliases (a version with aliases is not deleted otherwise)" }
                    }
                    button.danger type="submit" { @if version.is_link() { "Unlink" } @else { "Delete" } }
                }
            }
        }
    };
    Ok(here.render(&ctx, "", body))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct FilesQuery {
    /// The folder shown, without a trailing `/` (the root when empty).
    dir: Option<String>,
    /// Continue after this path.
    after: Option<String>,
}

/// One row of the file browser.
enum Row {
    Folder(String),
    File(FileEntry),
}

/// The next path after every path under `folder/` in the manifest's order.
fn past_folder(folder: &str) -> String {
    format!("{folder}/\u{10FFFF}")
}

/// `GET .../{version}/files?dir=&after=`: a folder of the version, a page at a time.
pub(crate) async fn files(
    State(state): State<AppState>,
    ctx: Ctx,
    path: VersionPath,
    UiQuery(query): UiQuery<FilesQuery>,
) -> Result<Response, UiError> {
    let here = Here::load(&state, &ctx, path).await?;
    let service = state.service();
    let dir = query
        .dir
        .as_deref()
        .unwrap_or("")
        .trim_matches('/')
        .to_owned();
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    // Entries come in path order: a folder's contents are contiguous, so each subfolder is
    // listed once and skipped past with one more query.
    let mut rows = Vec::new();
    let mut cursor = query.after.clone().or_else(|| {
        (!prefix.is_empty()).then(|| {
            // Just before the first path under the folder.
            dir.clone() + "/"
        })
    });
    let mut more = None;
    'pages: loop {
        let page = service
            .files(
                ctx.caller(),
                &here.version.id,
                cursor.as_deref(),
                FILES_PER_PAGE,
            )
            .await
            .page(&ctx)?;
        let exhausted = page.len() < FILES_PER_PAGE;
        let mut skipped_to = None;
        for entry in page {
            let Some(rest) = entry.path.strip_prefix(&prefix) else {
                break 'pages;
            };
            if rows.len() == FILES_PER_PAGE {
                more = cursor.clone();
                break 'pages;
            }
            match rest.split_once('/') {
                Some((folder, _)) => {
                    let folder = format!("{prefix}{folder}");
                    let skip = past_folder(&folder);
                    rows.push(Row::Folder(folder));
                    cursor = Some(skip.clone());
                    skipped_to = Some(skip);
                    break;
                }
                None => {
                    cursor = Some(entry.path.clone());
                    rows.push(Row::File(entry));
                }
            }
        }
        if skipped_to.is_none() && exhausted {
            break;
        }
    }
    let files_url = here.url("files");
    let dir_url = |folder: &str| format!("{files_url}?dir={}", seg(folder));
    let mut crumbs_in_dir = Vec::new();
    let mut walked = String::new();
    for part in dir.split('/').filter(|part| !part.is_empty()) {
        if !walked.is_empty() {
            walked.push('/');
        }
        walked.push_str(part);
        crumbs_in_dir.push((part.to_owned(), dir_url(&walked)));
    }
    let body = html! {
        nav.folder aria-label="Folder" {
            a href=(files_url) { "(root)" }
            @for (part, url) in &crumbs_in_dir { " / " a href=(url) { (part) } }
        }
        div.scroll {
            table data-test="files" {
                thead { tr { th { "Name" } th { "Size" } th { "Digest" } th { "" } } }
                tbody {
                    @for row in &rows {
                        @match row {
                            Row::Folder(folder) => tr {
                                td.folder { a href=(dir_url(folder)) { (folder.strip_prefix(&prefix).unwrap_or(folder)) "/" } }
                                td {} td {} td {}
                            },
                            Row::File(entry) => tr {
                                td { (entry.path.strip_prefix(&prefix).unwrap_or(&entry.path)) }
                                td.num { (size(entry.size)) }
                                td { code.digest { (entry.digest) } }
                                td {
                                    @match &entry.reference {
                                        Some(reference) => span.reference { "reference: " code { (reference) } },
                                        None => a href=(format!("{}?path={}", here.url("file"), seg(&entry.path))) download { "Download" },
                                    }
                                }
                            },
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted { "No files here." } }
        @if let Some(after) = &more {
            nav.pager { a href=(format!("{files_url}?dir={}&after={}", seg(&dir), seg(after))) rel="next" { "More →" } }
        }
    };
    Ok(here.render(&ctx, "files", body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct FileQuery {
    path: String,
}

/// `GET .../{version}/file?path=`: one file's bytes, as an attachment (never shown as a page
/// of this site: a stored `.html` file must not run here).
pub(crate) async fn download(
    State(state): State<AppState>,
    ctx: Ctx,
    path: VersionPath,
    UiQuery(query): UiQuery<FileQuery>,
) -> Result<Response, UiError> {
    let here = Here::load(&state, &ctx, path).await?;
    let service = state.service();
    let entry = match service
        .file(ctx.caller(), &here.version.id, &query.path)
        .await
    {
        Err(error) if error.kind() == Some(cairn_service::Kind::NotFound) => {
            return Err(UiError::new(
                ApiError::not_found(format!("{} has no file `{}`", here.label(), query.path)),
                &ctx,
            ));
        }
        found => found.page(&ctx)?,
    };
    if let Some(reference) = &entry.reference {
        return Err(UiError::bad_request(
            format!(
                "`{}` is a reference to `{reference}`; Cairn does not hold its bytes",
                entry.path
            ),
            &ctx,
        ));
    }
    let Some(md5) = &entry.md5 else {
        return Err(UiError::bad_request(
            format!("`{}` has no stored content", entry.path),
            &ctx,
        ));
    };
    let blob = service
        .find_blob(ctx.caller(), &here.version.id, &md5.to_hex())
        .await
        .page(&ctx)?;
    let body = match service.read_blob(&blob, None).await.page(&ctx)? {
        BlobBytes::Whole(bytes) => Body::from(bytes),
        BlobBytes::Stream(stream) => Body::from_stream(stream.map(|chunk| {
            chunk.map_err(|error| std::io::Error::other(cairn_service::error_chain(&error)))
        })),
    };
    let file_name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{}", seg(file_name)))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.size));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DiffQuery {
    /// The other version: `vN` or an alias of the same collection.
    against: Option<String>,
}

/// Entries of a manifest, one at a time, in path order.
trait Entries {
    async fn next(&mut self) -> Result<Option<FileEntry>, UiError>;
}

/// A version's entries, read from the domain a page at a time: a diff of two huge versions
/// holds two pages, never two manifests.
struct Paged<'a> {
    state: &'a AppState,
    ctx: &'a Ctx,
    id: String,
    page: std::vec::IntoIter<FileEntry>,
    after: Option<String>,
    done: bool,
}

impl<'a> Paged<'a> {
    fn new(state: &'a AppState, ctx: &'a Ctx, id: &str) -> Self {
        Self {
            state,
            ctx,
            id: id.to_owned(),
            page: Vec::new().into_iter(),
            after: None,
            done: false,
        }
    }
}

impl Entries for Paged<'_> {
    async fn next(&mut self) -> Result<Option<FileEntry>, UiError> {
        const PAGE: usize = 10_000;
        if let Some(entry) = Iterator::next(&mut self.page) {
            return Ok(Some(entry));
        }
        if self.done {
            return Ok(None);
        }
        let page = self
            .state
            .service()
            .files(self.ctx.caller(), &self.id, self.after.as_deref(), PAGE)
            .await
            .page(self.ctx)?;
        self.done = page.len() < PAGE;
        self.after = page.last().map(|entry| entry.path.clone());
        self.page = page.into_iter();
        Ok(Iterator::next(&mut self.page))
    }
}

/// What changed between two manifests: every change counted, the first [`DIFF_LISTED`] of
/// each kind kept.
#[derive(Debug, Default, PartialEq, Eq)]
struct Diff {
    added: Vec<FileEntry>,
    removed: Vec<FileEntry>,
    changed: Vec<(FileEntry, FileEntry)>,
    counts: DiffCounts,
}

#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct DiffCounts {
    added: usize,
    removed: usize,
    changed: usize,
    unchanged: usize,
}

/// Walks two manifests in path order side by side.
async fn diff_entries(old: &mut impl Entries, new: &mut impl Entries) -> Result<Diff, UiError> {
    let mut diff = Diff::default();
    let mut left = old.next().await?;
    let mut right = new.next().await?;
    loop {
        match (left.take(), right.take()) {
            (None, None) => return Ok(diff),
            (Some(before), None) => {
                diff.counts.removed += 1;
                keep(&mut diff.removed, before);
                left = old.next().await?;
            }
            (None, Some(after)) => {
                diff.counts.added += 1;
                keep(&mut diff.added, after);
                right = new.next().await?;
            }
            (Some(before), Some(after)) => match before.path.cmp(&after.path) {
                std::cmp::Ordering::Less => {
                    diff.counts.removed += 1;
                    keep(&mut diff.removed, before);
                    left = old.next().await?;
                    right = Some(after);
                }
                std::cmp::Ordering::Greater => {
                    diff.counts.added += 1;
                    keep(&mut diff.added, after);
                    right = new.next().await?;
                    left = Some(before);
                }
                std::cmp::Ordering::Equal => {
                    if before.digest != after.digest || before.reference != after.reference {
                        diff.counts.changed += 1;
                        keep(&mut diff.changed, (before, after));
                    } else {
                        diff.counts.unchanged += 1;
                    }
                    left = old.next().await?;
                    right = new.next().await?;
                }
            },
        }
    }
}

fn keep<T>(list: &mut Vec<T>, item: T) {
    if list.len() < DIFF_LISTED {
        list.push(item);
    }
}

/// `GET .../{version}/diff?against=`: added, removed and changed files against another version
/// of the collection (the previous one by default).
pub(crate) async fn diff(
    State(state): State<AppState>,
    ctx: Ctx,
    path: VersionPath,
    UiQuery(query): UiQuery<DiffQuery>,
) -> Result<Response, UiError> {
    let here = Here::load(&state, &ctx, path).await?;
    let index = here.version.version_index.unwrap_or_default();
    let against = query
        .against
        .filter(|text| !text.trim().is_empty())
        .or_else(|| index.checked_sub(1).map(|previous| format!("v{previous}")));
    let Some(against) = against else {
        let body = html! {
            (diff_form(&here, ""))
            p.muted { "This is the first version; choose another version to compare with." }
        };
        return Ok(here.render(&ctx, "diff", body));
    };
    let other = state
        .service()
        .version_by_name(
            ctx.caller(),
            &here.entity,
            &here.project,
            &format!("{}:{}", here.name, against.trim()),
        )
        .await
        .page(&ctx)?;
    let diff = diff_entries(
        &mut Paged::new(&state, &ctx, &other.id),
        &mut Paged::new(&state, &ctx, &here.version.id),
    )
    .await?;
    let other_label = format!("v{}", other.version_index.unwrap_or_default());
    let listed = |entries: &[FileEntry], count: usize| {
        html! {
            ul.list.files {
                @for entry in entries {
                    li { code { (entry.path) } " " span.muted { (size(entry.size)) } }
                }
            }
            @if count > entries.len() { p.muted { "… and " (count - entries.len()) " more." } }
        }
    };
    let counts = diff.counts;
    let body = html! {
        (diff_form(&here, &against))
        p data-test="diff-summary" {
            "From " a href=(version_url(&here.entity, &here.project, &here.name, &other_label)) { (other_label) }
            " to " (here.label()) ": "
            strong { (counts.added) " added" } ", "
            strong { (counts.removed) " removed" } ", "
            strong { (counts.changed) " changed" } ", "
            (counts.unchanged) " unchanged."
        }
        @if !diff.added.is_empty() { h2 { "Added" } div data-test="diff-added" { (listed(&diff.added, counts.added)) } }
        @if !diff.removed.is_empty() { h2 { "Removed" } div data-test="diff-removed" { (listed(&diff.removed, counts.removed)) } }
        @if !diff.changed.is_empty() {
            h2 { "Changed" }
            ul.list.files data-test="diff-changed" {
                @for (before, after) in &diff.changed {
                    li { code { (after.path) } " " span.muted { (size(before.size)) " → " (size(after.size)) } }
                }
            }
            @if counts.changed > diff.changed.len() { p.muted { "… and " (counts.changed - diff.changed.len()) " more." } }
        }
    };
    Ok(here.render(&ctx, "diff", body))
}

fn diff_form(here: &Here, against: &str) -> Markup {
    html! {
        form.inline method="get" action=(here.url("diff")) {
            label for="against" { "Compare with (vN or alias)" }
            input #against name="against" value=(against) required;
            button type="submit" { "Compare" }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LineageParams {
    depth: Option<u32>,
    explode: Option<String>,
}

/// `GET .../{version}/lineage?depth=&explode=`: the lineage picture.
pub(crate) async fn lineage(
    State(state): State<AppState>,
    ctx: Ctx,
    path: VersionPath,
    UiQuery(params): UiQuery<LineageParams>,
) -> Result<Response, UiError> {
    let here = Here::load(&state, &ctx, path).await?;
    let depth = params.depth.unwrap_or(2).clamp(1, 10);
    let explode = params.explode.as_deref() == Some("1");
    let graph = state
        .service()
        .lineage_graph(
            ctx.caller(),
            &here.version.id,
            LineageQuery {
                depth,
                direction: LineageDirection::Both,
                after: 0,
                limit: 1000,
            },
        )
        .await
        .page(&ctx)?;
    let picture = crate::ui::lineage::Picture::new(&graph, explode);
    let lineage_url = here.url("lineage");
    let body = html! {
        form.inline method="get" action=(lineage_url) {
            label for="depth" { "Depth" }
            input #depth name="depth" type="number" min="1" max="10" value=(depth);
            label.choice { input type="checkbox" name="explode" value="1" checked[explode]; " Explode (each version on its own)" }
            button type="submit" { "Show" }
        }
        @if graph.hidden > 0 { p.muted { (graph.hidden) " neighbours are hidden: you may not read them." } }
        @if graph.next.is_some() { p.muted { "Only the first 1,000 nodes are drawn." } }
        (picture.svg())
        h2 { "Nodes" }
        (picture.list())
    };
    Ok(here.render(&ctx, "lineage", body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditForm {
    description: String,
    metadata: String,
    aliases: String,
    tags: String,
    ttl: String,
    #[serde(default)]
    ttl_days: String,
}

/// Names typed into one field, separated by commas or whitespace.
fn names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What to add and what to remove to go from `before` to `after`.
fn changes(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let add = after
        .iter()
        .filter(|name| !before.contains(name))
        .cloned()
        .collect();
    let remove = before
        .iter()
        .filter(|name| !after.contains(name))
        .cloned()
        .collect();
    (add, remove)
}

/// The TTL a form asks for: `None` to leave it.
fn ttl_of(form: &EditForm) -> Result<Option<TtlSetting>, String> {
    match form.ttl.as_str() {
        "keep" => Ok(None),
        "inherit" => Ok(Some(TtlSetting::Inherit)),
        "never" => Ok(Some(TtlSetting::Never)),
        "days" => days_to_seconds(&form.ttl_days, "a TTL")
            .map(|seconds| Some(TtlSetting::Seconds(seconds))),
        other => Err(format!("`{other}` is not a TTL choice")),
    }
}

/// `POST .../{version}/edit`: one edit of everything the form changed.
pub(crate) async fn edit(
    State(state): State<AppState>,
    path: VersionPath,
    posted: Posted<EditForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    let form = &posted.form;
    let here = Here::load(&state, ctx, path).await?;
    let version = &here.version;
    let metadata: Map<String, Value> = if form.metadata.trim().is_empty() {
        Map::new()
    } else {
        serde_json::from_str(&form.metadata).map_err(|error| {
            UiError::bad_request(format!("the metadata is not a JSON object: {error}"), ctx)
        })?
    };
    let ttl = ttl_of(form).map_err(|message| UiError::bad_request(message, ctx))?;
    let description = form.description.replace("\r\n", "\n");
    let (add_aliases, remove_aliases) = changes(&version.aliases, &names(&form.aliases));
    let (add_tags, remove_tags) = changes(&version.tags, &names(&form.tags));
    let edit = VersionEdit {
        description: (Some(description.as_str()) != version.description.as_deref()
            && !(description.is_empty() && version.description.is_none()))
        .then(|| description.clone()),
        metadata: (metadata != version.metadata).then_some(metadata),
        add_aliases,
        remove_aliases,
        add_tags,
        remove_tags,
        through: here.through(),
        ttl,
    };
    if edit
        == (VersionEdit {
            through: here.through(),
            ..VersionEdit::default()
        })
    {
        return Ok(layout::see_other(&here.url("")));
    }
    let edited = state
        .service()
        .update_version(ctx.caller(), &version.id, edit)
        .await
        .page(ctx)?;
    // An alias the page was reached by may have moved: go to the version's number.
    let selector = format!("v{}", edited.version_index.unwrap_or_default());
    Ok(layout::see_other(&version_url(
        &here.entity,
        &here.project,
        &here.name,
        &selector,
    )))
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    delete_aliases: Option<String>,
}

/// `POST .../{version}/delete`: deletes the version, or unlinks it when seen through a
/// registry collection.
pub(crate) async fn delete(
    State(state): State<AppState>,
    path: VersionPath,
    posted: Posted<DeleteForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    let here = Here::load(&state, ctx, path).await?;
    let service = state.service();
    match here.through() {
        Some(portfolio) => {
            service
                .unlink_version(ctx.caller(), &here.version.id, portfolio)
                .await
                .page(ctx)?;
        }
        None => {
            let delete_aliases = posted.form.delete_aliases.as_deref() == Some("true");
            service
                .delete_version(ctx.caller(), &here.version.id, delete_aliases)
                .await
                .page(ctx)?;
        }
    }
    Ok(layout::see_other(&collection_url(
        &here.entity,
        &here.project,
        &here.name,
    )))
}

#[derive(Debug, Deserialize)]
pub(crate) struct LinkForm {
    target: String,
    #[serde(default)]
    aliases: String,
}

/// `POST .../{version}/link`: links the version into a registry collection.
pub(crate) async fn link(
    State(state): State<AppState>,
    path: VersionPath,
    posted: Posted<LinkForm>,
) -> Result<Response, UiError> {
    let ctx = &posted.ctx;
    let here = Here::load(&state, ctx, path).await?;
    let parts: Vec<&str> = posted.form.target.trim().split('/').collect();
    let [entity, project, name] = parts.as_slice() else {
        return Err(UiError::new(
            ApiError::bad_request(format!(
                "`{}` is not `entity/project/collection`",
                posted.form.target.trim()
            )),
            ctx,
        ));
    };
    let linked = state
        .service()
        .link_version(
            ctx.caller(),
            &here.version.id,
            LinkRequest {
                target: CollectionPath {
                    entity: (*entity).to_owned(),
                    project: (*project).to_owned(),
                    name: (*name).to_owned(),
                },
                aliases: names(&posted.form.aliases),
            },
        )
        .await
        .page(ctx)?;
    Ok(layout::see_other(&version_url(
        &linked.entity,
        &linked.project,
        &linked.collection,
        &format!("v{}", linked.version_index.unwrap_or_default()),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, digest: &str) -> FileEntry {
        FileEntry {
            path: path.to_owned(),
            digest: digest.to_owned(),
            md5: None,
            size: 1,
            reference: None,
            birth_artifact_id: String::new(),
        }
    }

    impl Entries for std::vec::IntoIter<FileEntry> {
        async fn next(&mut self) -> Result<Option<FileEntry>, UiError> {
            Ok(Iterator::next(self))
        }
    }

    fn diff_of(old: Vec<FileEntry>, new: Vec<FileEntry>) -> Diff {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(diff_entries(&mut old.into_iter(), &mut new.into_iter()))
            .unwrap()
    }

    #[test]
    fn diffs_sort_files_into_added_removed_changed() {
        let diff = diff_of(
            vec![
                entry("a", "1"),
                entry("b", "2"),
                entry("c", "3"),
                entry("e", "5"),
            ],
            vec![
                entry("0", "0"),
                entry("a", "1"),
                entry("b", "9"),
                entry("d", "4"),
            ],
        );
        let paths =
            |entries: &[FileEntry]| entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
        assert_eq!(paths(&diff.added), ["0", "d"]);
        assert_eq!(paths(&diff.removed), ["c", "e"]);
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(diff.changed[0].1.path, "b");
        assert_eq!(
            diff.counts,
            DiffCounts {
                added: 2,
                removed: 2,
                changed: 1,
                unchanged: 1
            }
        );
    }

    #[test]
    fn diffs_count_everything_and_list_the_first() {
        let new: Vec<_> = (0..DIFF_LISTED + 7)
            .map(|index| entry(&format!("{index:05}"), "x"))
            .collect();
        let diff = diff_of(Vec::new(), new);
        assert_eq!(diff.counts.added, DIFF_LISTED + 7);
        assert_eq!(diff.added.len(), DIFF_LISTED);
        assert_eq!(diff_of(Vec::new(), Vec::new()), Diff::default());
    }

    #[test]
    fn name_fields_split_and_change() {
        assert_eq!(
            names(" best, prod  staging,,best "),
            ["best", "prod", "staging"]
        );
        let (add, remove) = changes(
            &["latest".into(), "old".into()],
            &["latest".into(), "new".into()],
        );
        assert_eq!(add, ["new"]);
        assert_eq!(remove, ["old"]);
    }

    #[test]
    fn folders_are_skipped_past_whole() {
        let past = past_folder("data");
        assert!("data/zzz/ÿ" < past.as_str());
        assert!("data0" > past.as_str());
        assert!("data/x" < past.as_str());
    }
}
