//! The access rules as one table: every route × every kind of caller × every project
//! visibility, and the outcome each must get. A new route or rule is a new row, not a new test.
//!
//! The world: team `lab` (alice its admin, carol a member) owns `lab/private`, `lab/public` and
//! `lab/open`, each with a committed version `data:v0` and a run; bob belongs to nothing; `admin`
//! administers the server. Writes are chosen so that repeating them is harmless (the same tags,
//! the same visibility, new runs), so the order of the table does not matter.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use cairn_api::{CreateTeam, ErrorCode, Role, SetTeamMember, Visibility, routes};
use serde_json::{Value, json};

use crate::harness::{Files, Server, create_request, log};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Outsider,
    Member,
    TeamAdmin,
    ServerAdmin,
}

const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::Outsider,
    Caller::Member,
    Caller::TeamAdmin,
    Caller::ServerAdmin,
];

/// What a call must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Any 2xx.
    Ok,
    /// 401 `unauthenticated`.
    Unauthenticated,
    /// 403 `permission_denied`.
    Denied,
    /// 404 `not_found`: the caller may not know the thing exists.
    Hidden,
}

/// One row: a route, and the outcome per caller in [`CALLERS`] order.
struct Row {
    what: String,
    method: Method,
    path: String,
    body: Option<Value>,
    expect: [Outcome; 5],
}

/// What a kind of route expects, by project visibility.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Reading the project's content.
    Read,
    /// Writing into the project (new versions, runs, edits).
    Write,
    /// Writing through a version id: an unreadable version is hidden rather than denied.
    WriteById,
    /// Changing the project's settings (owner, team admins, server admins).
    Manage,
}

fn expect(kind: Kind, visibility: Visibility) -> [Outcome; 5] {
    use Outcome::{Denied, Hidden, Ok, Unauthenticated};
    match (kind, visibility) {
        (Kind::Read, Visibility::Private) => [Hidden, Hidden, Ok, Ok, Ok],
        (Kind::Read, Visibility::Public | Visibility::Open) => [Ok, Ok, Ok, Ok, Ok],
        (Kind::Write, Visibility::Private | Visibility::Public) => {
            [Unauthenticated, Denied, Ok, Ok, Ok]
        }
        (Kind::WriteById, Visibility::Private) => [Unauthenticated, Hidden, Ok, Ok, Ok],
        (Kind::WriteById, Visibility::Public) => [Unauthenticated, Denied, Ok, Ok, Ok],
        (Kind::Write | Kind::WriteById, Visibility::Open) => [Unauthenticated, Ok, Ok, Ok, Ok],
        (Kind::Manage, _) => [Unauthenticated, Denied, Denied, Ok, Ok],
    }
}

struct World {
    server: Server,
    alice: String,
    bob: String,
    carol: String,
}

impl World {
    fn key(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::Outsider => Some(&self.bob),
            Caller::Member => Some(&self.carol),
            Caller::TeamAdmin => Some(&self.alice),
            Caller::ServerAdmin => Some(&self.server.admin_key),
        }
    }
}

async fn world() -> (World, Vec<Row>) {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    server
        .call_json(
            Method::POST,
            routes::TEAMS,
            Some(&alice),
            &CreateTeam {
                name: "lab".to_owned(),
            },
        )
        .await
        .expect(StatusCode::CREATED);
    server
        .call_json(
            Method::PUT,
            &routes::team_member("lab", "carol"),
            Some(&alice),
            &SetTeamMember { role: Role::Member },
        )
        .await
        .expect(StatusCode::OK);
    let files = Files::new(&[("a.txt", b"alpha"), ("big.bin", &[5_u8; 70_000])]);
    let md5 = files.md5("big.bin");
    let mut rows = Vec::new();
    for (project, visibility) in [
        ("private", Visibility::Private),
        ("public", Visibility::Public),
        ("open", Visibility::Open),
    ] {
        let version = log(
            &server,
            &alice,
            "lab",
            project,
            create_request("data", &files),
            &files,
        )
        .await;
        server.set_visibility("lab", project, visibility).await;
        server
            .call_json(
                Method::POST,
                &routes::runs("lab", project),
                Some(&alice),
                &json!({"id": "run-0001"}),
            )
            .await
            .expect(StatusCode::CREATED);
        let id = version.id.as_str();
        let row = |kind: Kind, method: Method, path: String, body: Option<Value>| Row {
            what: format!("{project}: {method} {path}"),
            method,
            path,
            body,
            expect: expect(kind, visibility),
        };
        let new_version = Files::new(&[("new.txt", b"new")]);
        rows.extend([
            row(
                Kind::Read,
                Method::GET,
                routes::project("lab", project),
                None,
            ),
            row(
                Kind::Read,
                Method::GET,
                routes::collections("lab", project),
                None,
            ),
            row(
                Kind::Read,
                Method::GET,
                routes::collection("lab", project, "data"),
                None,
            ),
            row(
                Kind::Read,
                Method::GET,
                routes::collection_versions("lab", project, "data"),
                None,
            ),
            row(
                Kind::Read,
                Method::GET,
                routes::version_by_name("lab", project, "data", "v0"),
                None,
            ),
            row(Kind::Read, Method::GET, routes::version(id), None),
            row(Kind::Read, Method::GET, routes::manifest(id), None),
            row(Kind::Read, Method::GET, routes::blob(id, &md5), None),
            row(Kind::Read, Method::GET, routes::lineage(id), None),
            row(
                Kind::Read,
                Method::GET,
                routes::run("lab", project, "run-0001"),
                None,
            ),
            row(
                Kind::Read,
                Method::GET,
                routes::run_artifacts("lab", project, "run-0001"),
                None,
            ),
            row(
                Kind::Write,
                Method::POST,
                routes::versions("lab", project),
                Some(serde_json::to_value(create_request("data", &new_version)).unwrap()),
            ),
            row(
                Kind::Write,
                Method::POST,
                routes::runs("lab", project),
                Some(json!({})),
            ),
            row(
                Kind::Write,
                Method::POST,
                routes::run_finish("lab", project, "run-0001"),
                Some(json!({})),
            ),
            row(
                Kind::Write,
                Method::POST,
                routes::run_inputs("lab", project, "run-0001"),
                Some(json!({"artifact_id": id})),
            ),
            row(
                Kind::WriteById,
                Method::PATCH,
                routes::version(id),
                Some(json!({"add_tags": ["seen"]})),
            ),
            row(
                Kind::Manage,
                Method::PUT,
                routes::project("lab", project),
                Some(json!({"visibility": visibility})),
            ),
        ]);
    }
    // Team and account routes, the same whatever the project.
    use Outcome::{Denied, Hidden, Ok, Unauthenticated};
    let plain = |method: Method, path: String, body: Option<Value>, expect| Row {
        what: format!("{method} {path}"),
        method,
        path,
        body,
        expect,
    };
    rows.extend([
        plain(
            Method::GET,
            routes::team("lab"),
            None,
            [Unauthenticated, Hidden, Ok, Ok, Ok],
        ),
        plain(
            Method::PUT,
            routes::team_member("lab", "carol"),
            Some(json!({"role": "member"})),
            [Unauthenticated, Hidden, Denied, Ok, Ok],
        ),
        plain(
            Method::GET,
            routes::VIEWER.to_owned(),
            None,
            [Unauthenticated, Ok, Ok, Ok, Ok],
        ),
        plain(
            Method::GET,
            routes::SERVER_STATS.to_owned(),
            None,
            [Unauthenticated, Denied, Denied, Denied, Ok],
        ),
        plain(
            Method::POST,
            routes::api_keys("carol"),
            None,
            [Unauthenticated, Denied, Ok, Denied, Ok],
        ),
        plain(
            Method::GET,
            routes::HEALTHZ.to_owned(),
            None,
            [Ok, Ok, Ok, Ok, Ok],
        ),
        plain(
            Method::GET,
            routes::SERVER.to_owned(),
            None,
            [Ok, Ok, Ok, Ok, Ok],
        ),
    ]);
    (
        World {
            server,
            alice,
            bob,
            carol,
        },
        rows,
    )
}

#[tokio::test]
async fn every_route_for_every_caller_and_visibility() {
    let (world, rows) = world().await;
    let mut failures = Vec::new();
    for row in &rows {
        for (caller, outcome) in CALLERS.iter().zip(row.expect) {
            let mut request = Server::request(row.method.clone(), &row.path, world.key(*caller));
            let body = match &row.body {
                Some(value) => {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                    Body::from(value.to_string())
                }
                None => Body::empty(),
            };
            let answer = world.server.send(request.body(body).unwrap()).await;
            let code = serde_json::from_slice::<cairn_api::Problem>(&answer.body)
                .ok()
                .map(|problem| problem.code);
            let got = match (answer.status.as_u16(), code) {
                (200..=299, _) => Some(Outcome::Ok),
                (401, Some(ErrorCode::Unauthenticated)) => Some(Outcome::Unauthenticated),
                (403, Some(ErrorCode::PermissionDenied)) => Some(Outcome::Denied),
                (404, Some(ErrorCode::NotFound)) => Some(Outcome::Hidden),
                _ => None,
            };
            if got != Some(outcome) {
                failures.push(format!(
                    "{} as {caller:?}: expected {outcome:?}, got {} {}",
                    row.what,
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} calls broke the access rules:\n{}",
        failures.len(),
        rows.len() * CALLERS.len(),
        failures.join("\n")
    );
}
