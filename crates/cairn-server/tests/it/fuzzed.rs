//! Regressions of what `schemathesis` found when it fuzzed the server from its OpenAPI document
//! (the `api fuzz` step of `cargo xtask test`, see `docs/testing.md`): one test per finding.

use axum::http::{Method, StatusCode};
use cairn_api::{ErrorCode, Run, routes};

use crate::harness::Server;

/// Every JSON body is an object. serde alone also takes a struct from an array of its fields
/// (`[null, null]` made a run) and a struct without fields from `null` or an array (which
/// committed a version); anything but an object is now `bad_request`, as the document says.
#[tokio::test]
async fn json_bodies_must_be_objects() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let cases = [
        (Method::POST, routes::runs("admin", "p"), "[null, null]"),
        (Method::POST, routes::runs("admin", "p"), "null"),
        (Method::POST, routes::TEAMS.to_owned(), r#"["crew"]"#),
        (Method::PATCH, routes::version("0"), "[null]"),
        (Method::POST, routes::commit("0"), "null"),
        (Method::POST, routes::commit("0"), "[]"),
        (Method::POST, routes::commit("0"), "\0"),
        (Method::POST, routes::commit("0"), "\"{}\""),
    ];
    for (method, path, body) in cases {
        let answer = server
            .call_bytes(method.clone(), &path, Some(&key), body)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{method} {path} with {body:?}"
        );
        assert_eq!(answer.problem().code, ErrorCode::BadRequest);
    }
    // An empty body still counts as `{}`, and objects work as before.
    let run: Run = server
        .call_bytes(Method::POST, &routes::runs("admin", "p"), Some(&key), " \n")
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(run.project, "p");
    server
        .call_bytes(
            Method::POST,
            &routes::runs("admin", "p"),
            Some(&key),
            r#" {"job_type": "eval"}"#,
        )
        .await
        .expect(StatusCode::CREATED);
}
