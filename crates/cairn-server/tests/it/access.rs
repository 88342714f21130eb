//! Authentication and authorisation: every route without a key, with a bad key and as a user
//! without access; project visibility; team roles.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use cairn_api::{
    CreateTeam, CreatedVersion, ErrorCode, ProjectList, Role, SetTeamMember, Team, Version, Viewer,
    Visibility, routes,
};
use serde_json::json;

use crate::harness::{Files, Server, create_request, log};

/// A route, concretely, with a body where it needs one.
struct Call {
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
}

fn call(method: Method, path: String, body: Option<serde_json::Value>) -> Call {
    Call { method, path, body }
}

async fn send(server: &Server, call: &Call, authorization: Option<&str>) -> crate::harness::Answer {
    let mut request = axum::http::Request::builder()
        .method(call.method.clone())
        .uri(&call.path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let body = match &call.body {
        Some(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    server.send(request.body(body).unwrap()).await
}

/// Every route of the API against a private project of `admin`, with a committed version.
async fn every_route(server: &Server) -> Vec<Call> {
    let key = server.admin_key.clone();
    let files = Files::new(&[("a.txt", b"alpha")]);
    let version = log(
        server,
        &key,
        "admin",
        "secret",
        create_request("data", &files),
        &files,
    )
    .await;
    let md5 = files.md5("a.txt");
    server
        .call_json(
            Method::POST,
            &routes::runs("admin", "secret"),
            Some(&key),
            &json!({"id": "run-0001"}),
        )
        .await
        .expect(StatusCode::CREATED);
    server
        .call_json(
            Method::POST,
            routes::TEAMS,
            Some(&key),
            &CreateTeam {
                name: "crew".to_owned(),
            },
        )
        .await
        .expect(StatusCode::CREATED);
    let id = version.id.as_str();
    vec![
        call(Method::GET, routes::SERVER_STATS.to_owned(), None),
        call(Method::GET, routes::VIEWER.to_owned(), None),
        call(
            Method::POST,
            routes::USERS.to_owned(),
            Some(json!({"username": "eve"})),
        ),
        call(Method::POST, routes::api_keys("admin"), None),
        call(
            Method::POST,
            routes::TEAMS.to_owned(),
            Some(json!({"name": "eves"})),
        ),
        call(Method::GET, routes::team("crew"), None),
        call(
            Method::PUT,
            routes::team_member("crew", "admin"),
            Some(json!({"role": "member"})),
        ),
        call(Method::DELETE, routes::team_member("crew", "admin"), None),
        call(Method::GET, routes::entity_projects("admin"), None),
        call(Method::GET, routes::project("admin", "secret"), None),
        call(
            Method::PUT,
            routes::project("admin", "secret"),
            Some(json!({"visibility": "open"})),
        ),
        call(Method::GET, routes::collections("admin", "secret"), None),
        call(
            Method::GET,
            routes::collection("admin", "secret", "data"),
            None,
        ),
        call(
            Method::GET,
            routes::collection_versions("admin", "secret", "data"),
            None,
        ),
        call(
            Method::POST,
            routes::versions("admin", "secret"),
            Some(
                serde_json::to_value(create_request("data", &Files::new(&[("b", b"b")]))).unwrap(),
            ),
        ),
        call(
            Method::GET,
            routes::version_by_name("admin", "secret", "data", "v0"),
            None,
        ),
        call(
            Method::POST,
            routes::runs("admin", "secret"),
            Some(json!({})),
        ),
        call(
            Method::GET,
            routes::run("admin", "secret", "run-0001"),
            None,
        ),
        call(
            Method::POST,
            routes::run_finish("admin", "secret", "run-0001"),
            Some(json!({})),
        ),
        call(
            Method::POST,
            routes::run_inputs("admin", "secret", "run-0001"),
            Some(json!({"artifact_id": id})),
        ),
        call(
            Method::GET,
            routes::run_artifacts("admin", "secret", "run-0001"),
            None,
        ),
        call(Method::GET, routes::version(id), None),
        call(
            Method::PATCH,
            routes::version(id),
            Some(json!({"add_tags": ["x"]})),
        ),
        call(Method::PUT, routes::manifest(id), Some(json!({}))),
        call(Method::GET, routes::manifest(id), None),
        call(Method::GET, routes::missing_blobs(id), None),
        call(Method::POST, routes::blob_batch(id), None),
        call(Method::PUT, routes::blob(id, &md5), None),
        call(Method::GET, routes::blob(id, &md5), None),
        call(Method::POST, routes::commit(id), None),
        call(Method::GET, routes::lineage(id), None),
    ]
}

#[tokio::test]
async fn every_route_checks_the_key_and_hides_private_projects() {
    let server = Server::start().await;
    let calls = every_route(&server).await;
    let bob = server.user("bob").await;
    let bob_header = format!("Bearer {bob}");
    for call in &calls {
        let what = format!("{} {}", call.method, call.path);
        // An unknown or malformed key is always refused.
        for bad in [
            "Bearer cairn-000000000000000000000000000000000000000000000000",
            "Bearer",
            "Token abc",
        ] {
            let answer = send(&server, call, Some(bad)).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{what} with `{bad}`"
            );
            assert_eq!(answer.problem().code, ErrorCode::Unauthenticated, "{what}");
        }
        if call.path == routes::entity_projects("admin") {
            // Listing answers, but without the private project.
            for caller in [None, Some(bob_header.as_str())] {
                let listed: ProjectList = send(&server, call, caller)
                    .await
                    .expect(StatusCode::OK)
                    .json();
                assert!(listed.projects.is_empty(), "{what}: {listed:?}");
            }
            continue;
        }
        // Anonymous: reads of the private project are not found, everything else needs a key.
        let answer = send(&server, call, None).await;
        assert!(
            matches!(
                answer.status,
                StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND
            ),
            "{what} anonymously: {answer:?}"
        );
        // Another user: never sees or changes anything of admin's private project (bob may of
        // course see himself and found teams of his own).
        if call.path == routes::VIEWER || call.path == routes::TEAMS {
            continue;
        }
        let answer = send(&server, call, Some(&bob_header)).await;
        let problem = answer.problem();
        assert!(
            matches!(
                problem.code,
                ErrorCode::NotFound | ErrorCode::PermissionDenied
            ),
            "{what} as bob: {answer:?}"
        );
        if call.method == Method::GET {
            // Reads never reveal that something exists: except bob's own-key routes, they 404.
            if !matches!(call.path.as_str(), routes::SERVER_STATS) {
                assert_eq!(problem.code, ErrorCode::NotFound, "{what} as bob");
            }
        }
    }
    // Public routes need no key.
    for path in [routes::HEALTHZ, routes::SERVER, routes::OPENAPI] {
        server
            .call(Method::GET, path, None)
            .await
            .expect(StatusCode::OK);
    }
    // bob's own viewer works, and the W&B basic form authenticates too.
    let viewer: Viewer = server
        .send(
            Server::request(Method::GET, routes::VIEWER, None)
                .header(
                    header::AUTHORIZATION,
                    format!("Basic {}", base64_api_key(&bob)),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(viewer.user.username, "bob");
    assert!(!viewer.user.admin);
}

fn base64_api_key(key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"))
}

#[tokio::test]
async fn public_projects_are_read_by_all_and_open_ones_written_by_all() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let bob = server.user("bob").await;
    let files = Files::new(&[("a.txt", b"alpha"), ("b.bin", &[1_u8; 70_000])]);
    let version = log(
        &server,
        &key,
        "admin",
        "shared",
        create_request("data", &files),
        &files,
    )
    .await;
    let path = routes::version_by_name("admin", "shared", "data", "latest");
    server
        .call(Method::GET, &path, None)
        .await
        .expect(StatusCode::NOT_FOUND);

    server
        .set_visibility("admin", "shared", Visibility::Public)
        .await;
    for caller in [None, Some(bob.as_str())] {
        server
            .call(Method::GET, &path, caller)
            .await
            .expect(StatusCode::OK);
        for (name, bytes) in &files.files {
            let answer = server
                .call(
                    Method::GET,
                    &routes::blob(&version.id, &files.md5(name)),
                    caller,
                )
                .await;
            assert_eq!(
                answer.expect(StatusCode::OK).body.as_ref(),
                bytes.as_slice()
            );
        }
        server
            .call(Method::GET, &routes::manifest(&version.id), caller)
            .await
            .expect(StatusCode::OK);
    }
    let listed: ProjectList = server
        .call(Method::GET, &routes::entity_projects("admin"), None)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(listed.projects.len(), 1);
    // Public: bob reads but may not write.
    let new = Files::new(&[("c", b"c")]);
    server
        .call_json(
            Method::POST,
            &routes::versions("admin", "shared"),
            Some(&bob),
            &create_request("data", &new),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call_json(
            Method::PATCH,
            &routes::version(&version.id),
            Some(&bob),
            &json!({"add_tags": ["x"]}),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call_json(
            Method::PUT,
            &routes::project("admin", "shared"),
            Some(&bob),
            &json!({"visibility": "open"}),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);

    // Open: bob logs into it; anonymous callers still cannot write.
    server
        .set_visibility("admin", "shared", Visibility::Open)
        .await;
    let logged: Version = log(
        &server,
        &bob,
        "admin",
        "shared",
        create_request("data", &new),
        &new,
    )
    .await;
    assert_eq!(logged.version_index, Some(1));
    server
        .call_json(
            Method::POST,
            &routes::versions("admin", "shared"),
            None,
            &create_request("data", &files),
        )
        .await
        .expect_problem(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated);
    // Nobody but admin creates projects in admin's entity, whether the project exists or not.
    server
        .call_json(
            Method::POST,
            &routes::versions("admin", "fresh"),
            Some(&bob),
            &create_request("data", &new),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
}

#[tokio::test]
async fn team_roles_decide_who_writes_and_who_manages() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let team: Team = server
        .call_json(
            Method::POST,
            routes::TEAMS,
            Some(&alice),
            &CreateTeam {
                name: "lab".to_owned(),
            },
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(team.members.len(), 1);
    assert_eq!(team.members[0].role, Role::Admin);
    // Names are unique across users and teams.
    server
        .call_json(
            Method::POST,
            routes::TEAMS,
            Some(&bob),
            &CreateTeam {
                name: "alice".to_owned(),
            },
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::AlreadyExists);
    // Only team admins add members.
    server
        .call_json(
            Method::PUT,
            &routes::team_member("lab", "carol"),
            Some(&bob),
            &SetTeamMember { role: Role::Member },
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call_json(
            Method::PUT,
            &routes::team_member("lab", "bob"),
            Some(&alice),
            &SetTeamMember { role: Role::Member },
        )
        .await
        .expect(StatusCode::OK);
    server
        .call_json(
            Method::PUT,
            &routes::team_member("lab", "carol"),
            Some(&bob),
            &SetTeamMember { role: Role::Member },
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);

    // Members write (creating the project on first use); outsiders neither read nor write.
    let files = Files::new(&[("w", b"weights")]);
    let version = log(
        &server,
        &bob,
        "lab",
        "models",
        create_request("net", &files),
        &files,
    )
    .await;
    server
        .call(Method::GET, &routes::version(&version.id), Some(&carol))
        .await
        .expect(StatusCode::NOT_FOUND);
    server
        .call_json(
            Method::POST,
            &routes::versions("lab", "models"),
            Some(&carol),
            &create_request("net", &files),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    // Members may not change visibility; team admins may.
    server
        .call_json(
            Method::PUT,
            &routes::project("lab", "models"),
            Some(&bob),
            &json!({"visibility": "public"}),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call_json(
            Method::PUT,
            &routes::project("lab", "models"),
            Some(&alice),
            &json!({"visibility": "public"}),
        )
        .await
        .expect(StatusCode::OK);
    server
        .call(Method::GET, &routes::version(&version.id), Some(&carol))
        .await
        .expect(StatusCode::OK);

    // The last admin can neither leave nor be demoted; after promoting bob, alice may leave.
    server
        .call(
            Method::DELETE,
            &routes::team_member("lab", "alice"),
            Some(&alice),
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    server
        .call_json(
            Method::PUT,
            &routes::team_member("lab", "alice"),
            Some(&alice),
            &SetTeamMember { role: Role::Member },
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    server
        .call_json(
            Method::PUT,
            &routes::team_member("lab", "bob"),
            Some(&alice),
            &SetTeamMember { role: Role::Admin },
        )
        .await
        .expect(StatusCode::OK);
    let team: Team = server
        .call(
            Method::DELETE,
            &routes::team_member("lab", "alice"),
            Some(&alice),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(team.members.len(), 1);
    assert_eq!(team.members[0].username, "bob");
    let viewer: Viewer = server
        .call(Method::GET, routes::VIEWER, Some(&bob))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(viewer.teams[0].team, "lab");
    assert_eq!(viewer.teams[0].role, Role::Admin);
    // alice is out: the team's private projects are gone for her.
    server
        .call_json(
            Method::PUT,
            &routes::project("lab", "models"),
            Some(&bob),
            &json!({"visibility": "private"}),
        )
        .await
        .expect(StatusCode::OK);
    server
        .call(Method::GET, &routes::version(&version.id), Some(&alice))
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_admins_create_users_and_keys_belong_to_their_user() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    server
        .call_json(
            Method::POST,
            routes::USERS,
            Some(&alice),
            &json!({"username": "mallory"}),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call_json(
            Method::POST,
            routes::USERS,
            Some(&server.admin_key),
            &json!({"username": "alice"}),
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::AlreadyExists);
    server
        .call_json(
            Method::POST,
            routes::USERS,
            Some(&server.admin_key),
            &json!({"username": "Not Valid"}),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidName);
    server
        .call(Method::POST, &routes::api_keys("admin"), Some(&alice))
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    let created: cairn_api::CreatedApiKey = server
        .call(Method::POST, &routes::api_keys("alice"), Some(&alice))
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_ne!(created.api_key, alice);
    let viewer: Viewer = server
        .call(Method::GET, routes::VIEWER, Some(&created.api_key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(viewer.user.username, "alice");
    server
        .call(Method::GET, routes::SERVER_STATS, Some(&alice))
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("alice", "mine"),
            Some(&alice),
            &create_request("data", &Files::new(&[("x", b"x")])),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    // A pending version is invisible to other readers, even server admins see it (they write).
    server
        .call(
            Method::GET,
            &routes::version(&created.version.id),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK);
}
