//! The access rules as one table: every route × every kind of caller × every project
//! visibility, and the outcome each must get. A new route or rule is a new row, not a new test.
//! The routes are the native API's and the W&B protocol's (`/graphql` queries and mutations,
//! `/files/.../file_stream`, the SDK's `/artifactsV2/...` fallback download); signed URLs are
//! covered in `wandb.rs`, since who may redeem one is decided when it is handed out.
//!
//! The world: team `lab` (alice its admin, carol a member) owns `lab/private`, `lab/public` and
//! `lab/open`, each with a committed version `data:v0` and a run; bob belongs to nothing; dave
//! administers another team, `rivals`; `admin` administers the server; and one of carol's keys
//! has been revoked (it must get nothing anywhere, even what anonymous callers get). Writes are
//! chosen so that repeating them is harmless (the same tags, the same visibility, new runs), so
//! the order of the table does not matter.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use base64::Engine as _;
use cairn_api::{CreateTeam, CreatedApiKey, ErrorCode, Role, SetTeamMember, Visibility, routes};
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
    /// The admin of another team, `rivals`.
    OtherTeamAdmin,
    /// A revoked key of a member.
    RevokedKey,
}

const CALLERS: [Caller; 7] = [
    Caller::Anonymous,
    Caller::Outsider,
    Caller::Member,
    Caller::TeamAdmin,
    Caller::ServerAdmin,
    Caller::OtherTeamAdmin,
    Caller::RevokedKey,
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

/// How a row's answer is read.
#[derive(Debug, Clone)]
enum Probe {
    /// The native API (and the W&B routes that answer problems): by status and problem code,
    /// with the key as a bearer token.
    Native,
    /// The same, with the key in the W&B SDK's Basic form.
    WandbHttp,
    /// `POST /graphql` with the SDK's Basic credentials: 401 is `Unauthenticated`; an answer
    /// with errors is `Denied` (GraphQL refuses in words, whatever the reason); otherwise the
    /// value at this JSON pointer says `Ok` (present) or `Hidden` (`null`).
    GraphQl(&'static str),
}

/// One row: a route, and the outcome per caller in [`CALLERS`] order.
struct Row {
    what: String,
    method: Method,
    path: String,
    body: Option<Value>,
    probe: Probe,
    expect: [Outcome; 7],
}

/// The outcomes of the five main callers, plus those of the admin of another team (an
/// outsider here) and of a revoked key (refused everywhere).
fn widen(expect: [Outcome; 5]) -> [Outcome; 7] {
    let [anonymous, outsider, member, team_admin, server_admin] = expect;
    [
        anonymous,
        outsider,
        member,
        team_admin,
        server_admin,
        outsider,
        Outcome::Unauthenticated,
    ]
}

/// What a GraphQL mutation gets where a native write gets `expect`: every refusal is a
/// GraphQL error.
fn as_mutation(expect: [Outcome; 7]) -> [Outcome; 7] {
    let mut expect = expect;
    for (caller, outcome) in CALLERS.iter().zip(expect.iter_mut()) {
        if *caller != Caller::RevokedKey && *outcome != Outcome::Ok {
            *outcome = Outcome::Denied;
        }
    }
    expect
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
    dave: String,
    revoked: String,
}

impl World {
    fn key(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::Outsider => Some(&self.bob),
            Caller::Member => Some(&self.carol),
            Caller::TeamAdmin => Some(&self.alice),
            Caller::ServerAdmin => Some(&self.server.admin_key),
            Caller::OtherTeamAdmin => Some(&self.dave),
            Caller::RevokedKey => Some(&self.revoked),
        }
    }
}

/// A new key of `user`, created by the admin.
async fn new_key(server: &Server, user: &str) -> CreatedApiKey {
    server
        .call_json(
            Method::POST,
            &routes::api_keys(user),
            Some(&server.admin_key),
            &json!({"name": "matrix"}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json()
}

async fn world() -> (World, Vec<Row>) {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let dave = server.user("dave").await;
    for (admin, team) in [(&alice, "lab"), (&dave, "rivals")] {
        server
            .call_json(
                Method::POST,
                routes::TEAMS,
                Some(admin),
                &CreateTeam {
                    name: team.to_owned(),
                },
            )
            .await
            .expect(StatusCode::CREATED);
    }
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
            probe: Probe::Native,
            expect: widen(expect(kind, visibility)),
        };
        let graphql = |kind: Kind, pointer: &'static str, query: &str, variables: Value| {
            let read = expect(kind, visibility);
            Row {
                what: format!("{project}: graphql {query}"),
                method: Method::POST,
                path: "/graphql".to_owned(),
                body: Some(json!({ "query": query, "variables": variables })),
                probe: Probe::GraphQl(pointer),
                expect: match kind {
                    Kind::Read => widen(read),
                    _ => as_mutation(widen(read)),
                },
            }
        };
        let wandb = |kind: Kind, method: Method, path: String, body: Option<Value>| Row {
            what: format!("{project}: W&B {method} {path}"),
            method,
            path,
            body,
            probe: Probe::WandbHttp,
            expect: widen(expect(kind, visibility)),
        };
        let artifact_id =
            base64::engine::general_purpose::STANDARD.encode(format!("Artifact:{id}"));
        let in_project = json!({ "entity": "lab", "project": project });
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
                routes::known_sizes("lab", project),
                Some(json!({ "sizes": [3] })),
            ),
            // Any bytes may be staged; these happen to be JSON.
            row(
                Kind::Write,
                Method::POST,
                routes::staged_blobs("lab", project),
                Some(json!({ "staged": true })),
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
        rows.extend([
            graphql(
                Kind::Read,
                "/data/project",
                "query($entity: String!, $project: String!) { project(name: $project, entityName: $entity) { name } }",
                in_project.clone(),
            ),
            graphql(
                Kind::Read,
                "/data/project/artifactCollectionMembership/artifact",
                "query($entity: String!, $project: String!) { project(name: $project, entityName: $entity) { artifactCollectionMembership(name: \"data:v0\") { artifact { id digest } } } }",
                in_project.clone(),
            ),
            graphql(
                Kind::Read,
                "/data/project/run",
                "query($entity: String!, $project: String!) { project(name: $project, entityName: $entity) { run(name: \"run-0001\") { name outputArtifacts { edges { node { id } } } } } }",
                in_project.clone(),
            ),
            graphql(
                Kind::Read,
                "/data/artifact",
                "query($id: ID!) { artifact(id: $id) { id digest createdBy { __typename } usedBy { edges { node { name } } } artifactMemberships { edges { node { id } } } currentManifest { file { directUrl } } files { edges { node { directUrl } } } } }",
                json!({ "id": artifact_id }),
            ),
            graphql(
                Kind::Read,
                "/data/project/artifactType",
                "query($entity: String!, $project: String!) { project(name: $project, entityName: $entity) { artifactType(name: \"dataset\") { artifactCollections { edges { node { name } } } } } }",
                in_project.clone(),
            ),
            graphql(
                Kind::Write,
                "/data/createArtifact/artifact",
                "mutation($input: CreateArtifactInput!) { createArtifact(input: $input) { artifact { id state } } }",
                json!({ "input": {
                    "entityName": "lab", "projectName": project, "artifactCollectionName": "data",
                    "artifactTypeName": "dataset", "digest": new_version.digest(),
                }}),
            ),
            graphql(
                Kind::WriteById,
                "/data/updateArtifact/artifact",
                "mutation($id: ID!) { updateArtifact(input: {artifactID: $id, description: \"seen\"}) { artifact { id } } }",
                json!({ "id": artifact_id }),
            ),
            graphql(
                Kind::WriteById,
                "/data/addAliases",
                "mutation($id: ID!) { addAliases(input: {artifactID: $id, aliases: [{alias: \"seen\", artifactCollectionName: \"data\", entityName: \"lab\", projectName: \"PROJECT\"}]}) { success } }".replace("PROJECT", project).leak(),
                json!({ "id": artifact_id }),
            ),
            graphql(
                Kind::Write,
                "/data/useArtifact/artifact",
                "mutation($id: ID!, $project: String!) { useArtifact(input: {entityName: \"lab\", projectName: $project, runName: \"run-0001\", artifactID: $id}) { artifact { id } } }",
                json!({ "id": artifact_id, "project": project }),
            ),
            wandb(
                Kind::Write,
                Method::POST,
                format!("/files/lab/{project}/run-0001/file_stream"),
                Some(json!({})),
            ),
            wandb(
                Kind::Read,
                Method::GET,
                format!("/artifactsV2/default/lab/{project}/data/{artifact_id}/{id}/{md5}/big.bin"),
                None,
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
        probe: Probe::Native,
        expect: widen(expect),
    };
    // A key of carol's that the table revokes again and again (revoking is idempotent), and
    // the one that was revoked before.
    let spare = new_key(&server, "carol").await;
    let revoked = new_key(&server, "carol").await;
    server
        .call(
            Method::DELETE,
            &routes::api_key("carol", &revoked.key.id),
            Some(&carol),
        )
        .await
        .expect(StatusCode::OK);
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
            routes::api_keys("carol"),
            None,
            [Unauthenticated, Denied, Ok, Denied, Ok],
        ),
        plain(
            Method::DELETE,
            routes::api_key("carol", &spare.key.id),
            None,
            [Unauthenticated, Denied, Ok, Denied, Ok],
        ),
        plain(
            Method::GET,
            routes::entity_projects("lab"),
            None,
            [Ok, Ok, Ok, Ok, Ok],
        ),
    ]);
    // Health checks and the server's description read no key at all (a load balancer's probe
    // carries none), so even a revoked one gets them; they say nothing about anyone's data.
    for path in [routes::HEALTHZ, routes::SERVER] {
        rows.push(Row {
            what: format!("GET {path}"),
            method: Method::GET,
            path: path.to_owned(),
            body: None,
            probe: Probe::Native,
            expect: [Ok; 7],
        });
    }
    (
        World {
            server,
            alice,
            bob,
            carol,
            dave,
            revoked: revoked.api_key,
        },
        rows,
    )
}

/// What a call got, read the way its row says.
fn outcome(probe: &Probe, answer: &crate::harness::Answer) -> Option<Outcome> {
    if let Probe::GraphQl(pointer) = probe {
        let body: Value = serde_json::from_slice(&answer.body).ok()?;
        return match answer.status.as_u16() {
            401 if body["errors"][0]["message"].is_string() => Some(Outcome::Unauthenticated),
            200 if body["errors"]
                .as_array()
                .is_some_and(|errors| !errors.is_empty()) =>
            {
                Some(Outcome::Denied)
            }
            200 => match body.pointer(pointer) {
                None | Some(Value::Null) => Some(Outcome::Hidden),
                Some(_) => Some(Outcome::Ok),
            },
            _ => None,
        };
    }
    let code = serde_json::from_slice::<cairn_api::Problem>(&answer.body)
        .ok()
        .map(|problem| problem.code);
    match (answer.status.as_u16(), code) {
        (200..=299, _) => Some(Outcome::Ok),
        (401, Some(ErrorCode::Unauthenticated)) => Some(Outcome::Unauthenticated),
        (403, Some(ErrorCode::PermissionDenied)) => Some(Outcome::Denied),
        (404, Some(ErrorCode::NotFound)) => Some(Outcome::Hidden),
        _ => None,
    }
}

#[tokio::test]
async fn every_route_for_every_caller_and_visibility() {
    let (world, rows) = world().await;
    let mut failures = Vec::new();
    for row in &rows {
        for (caller, expected) in CALLERS.iter().zip(row.expect) {
            let key = world.key(*caller);
            let mut request = Server::request(row.method.clone(), &row.path, None);
            if let Some(key) = key {
                let value = match row.probe {
                    Probe::Native => format!("Bearer {key}"),
                    Probe::WandbHttp | Probe::GraphQl(_) => format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"))
                    ),
                };
                request = request.header(header::AUTHORIZATION, value);
            }
            let body = match &row.body {
                Some(value) => {
                    let text = value.to_string();
                    request = request
                        .header(header::CONTENT_TYPE, "application/json")
                        .header(header::CONTENT_LENGTH, text.len());
                    Body::from(text)
                }
                None => Body::empty(),
            };
            let answer = world.server.send(request.body(body).unwrap()).await;
            let got = outcome(&row.probe, &answer);
            if got != Some(expected) {
                failures.push(format!(
                    "{} as {caller:?}: expected {expected:?}, got {} {}",
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
