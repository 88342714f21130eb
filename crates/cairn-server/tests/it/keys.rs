//! API keys: created with a name and a lifetime (or neither, as before), listed without their
//! secrets, revoked; revoked, expired and unknown keys refused with words, on the native API
//! and on `/graphql`. Expiry is reached by moving the server's test clock, never by sleeping.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use cairn_api::{ApiKey, ApiKeyList, ApiKeyStatus, CreatedApiKey, ErrorCode, routes};
use serde_json::{Value, json};

use crate::harness::Server;

async fn create(server: &Server, key: &str, user: &str, body: Option<Value>) -> CreatedApiKey {
    let answer = match body {
        Some(body) => {
            server
                .call_json(Method::POST, &routes::api_keys(user), Some(key), &body)
                .await
        }
        None => {
            server
                .call(Method::POST, &routes::api_keys(user), Some(key))
                .await
        }
    };
    answer.expect(StatusCode::CREATED).json()
}

async fn list(server: &Server, key: &str, user: &str) -> ApiKeyList {
    server
        .call(Method::GET, &routes::api_keys(user), Some(key))
        .await
        .expect(StatusCode::OK)
        .json()
}

/// The problem detail of a request with `key` that must be refused as unauthenticated.
async fn refused(server: &Server, key: &str) -> String {
    let answer = server.call(Method::GET, routes::VIEWER, Some(key)).await;
    answer
        .expect_problem(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated)
        .detail
}

/// `POST /graphql` `{ viewer { id } }` with the W&B SDK's Basic credentials.
async fn graphql_viewer(server: &Server, key: &str) -> (StatusCode, Value) {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"));
    let answer = server
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/graphql")
                .header(header::AUTHORIZATION, format!("Basic {basic}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"query": "{ viewer { username } }"}"#))
                .unwrap(),
        )
        .await;
    (answer.status, serde_json::from_slice(&answer.body).unwrap())
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_by_their_owner_or_an_admin() {
    let server = Server::start_with(cairn_server::ServerConfig::with_test_clock).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;

    // The old body-less POST still works: no name, no expiry.
    let plain = create(&server, &alice, "alice", None).await;
    assert_eq!(plain.user.username, "alice");
    assert!(plain.api_key.starts_with("cairn-"));
    assert_eq!(plain.key.name, None);
    assert_eq!(plain.key.expires_at, None);
    assert_eq!(plain.key.status, ApiKeyStatus::Active);
    assert_eq!(plain.key.id.len(), 16);
    let named = create(
        &server,
        &alice,
        "alice",
        Some(json!({"name": "  laptop ", "expires_in_seconds": 3600})),
    )
    .await;
    assert_eq!(named.key.name.as_deref(), Some("laptop"));
    let expires = named.key.expires_at.clone().unwrap();
    assert!(expires > named.key.created_at, "{expires}");
    // The admin creates one for alice.
    let by_admin = create(&server, &server.admin_key, "alice", Some(json!({}))).await;

    // Listed oldest first (the user's first key included), never with a secret.
    let answer = server
        .call(Method::GET, &routes::api_keys("alice"), Some(&alice))
        .await;
    answer.expect(StatusCode::OK);
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    for secret in [&alice, &plain.api_key, &named.api_key, &by_admin.api_key] {
        assert!(
            !text.contains(secret.as_str()),
            "a secret is listed: {text}"
        );
    }
    let listed: ApiKeyList = answer.json();
    let ids: Vec<&str> = listed.keys.iter().map(|key| key.id.as_str()).collect();
    assert_eq!(ids.len(), 4, "{listed:?}");
    assert_eq!(&ids[1..], [&plain.key.id, &named.key.id, &by_admin.key.id]);
    // The admin sees the same keys. (Not `last_used_at`: the listing above used alice's key,
    // and its use is recorded in the background, so it may land between the two listings.)
    let without_use = |list: ApiKeyList| {
        list.keys
            .into_iter()
            .map(|key| ApiKey {
                last_used_at: None,
                ..key
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        without_use(list(&server, &server.admin_key, "alice").await),
        without_use(listed.clone())
    );

    // Others may neither list, create nor revoke alice's keys.
    for (method, path) in [
        (Method::GET, routes::api_keys("alice")),
        (Method::POST, routes::api_keys("alice")),
        (Method::DELETE, routes::api_key("alice", &plain.key.id)),
    ] {
        server
            .call(method.clone(), &path, Some(&bob))
            .await
            .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
        server
            .call(method, &path, None)
            .await
            .expect_problem(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated);
    }
    server
        .call(
            Method::GET,
            &routes::api_keys("nobody"),
            Some(&server.admin_key),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);

    // Bad requests say what is wrong.
    for (body, code) in [
        (json!({"name": ""}), ErrorCode::InvalidName),
        (json!({"name": "a\nb"}), ErrorCode::InvalidName),
        (json!({"name": "x".repeat(101)}), ErrorCode::InvalidName),
        (json!({"expires_in_seconds": 0}), ErrorCode::BadRequest),
        (
            json!({"expires_in_seconds": 315_360_001_u64}),
            ErrorCode::BadRequest,
        ),
        (
            json!({"expires_in_seconds": u64::MAX}),
            ErrorCode::BadRequest,
        ),
        (json!({"expires_in_seconds": -5}), ErrorCode::BadRequest),
        (
            json!({"expires_at": "2030-01-01T00:00:00Z"}),
            ErrorCode::BadRequest,
        ),
    ] {
        server
            .call_json(
                Method::POST,
                &routes::api_keys("alice"),
                Some(&alice),
                &body,
            )
            .await
            .expect_problem(StatusCode::BAD_REQUEST, code);
    }

    // Each key works until revoked; revoking says when, and is idempotent.
    for key in [&plain.api_key, &named.api_key, &by_admin.api_key] {
        server
            .call(Method::GET, routes::VIEWER, Some(key))
            .await
            .expect(StatusCode::OK);
    }
    let revoked: ApiKey = server
        .call(
            Method::DELETE,
            &routes::api_key("alice", &plain.key.id),
            Some(&alice),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(revoked.status, ApiKeyStatus::Revoked);
    let at = revoked.revoked_at.clone().unwrap();
    let detail = refused(&server, &plain.api_key).await;
    assert!(
        detail.contains(&format!("`{}` was revoked on {at}", plain.key.id))
            && detail.contains("cairn key create"),
        "{detail}"
    );
    let again: ApiKey = server
        .call(
            Method::DELETE,
            &routes::api_key("alice", &plain.key.id),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(again.revoked_at.as_deref(), Some(at.as_str()));
    // A key id is only found under its own user; unknown ids are not found.
    server
        .call(
            Method::DELETE,
            &routes::api_key("bob", &named.key.id),
            Some(&server.admin_key),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call(
            Method::DELETE,
            &routes::api_key("alice", "0000000000000000"),
            Some(&alice),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    // Revoking a key does not touch the others; even on routes anonymous callers may use,
    // a revoked key is refused rather than treated as anonymous.
    server
        .call(Method::GET, routes::VIEWER, Some(&named.api_key))
        .await
        .expect(StatusCode::OK);
    server
        .call(
            Method::GET,
            &routes::entity_projects("alice"),
            Some(&plain.api_key),
        )
        .await
        .expect_problem(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated);

    // An hour later by the server's clock the named key has expired, in words.
    server.advance_clock(3601).await;
    let detail = refused(&server, &named.api_key).await;
    assert!(
        detail.contains(&format!("`{}` (laptop) expired on {expires}", named.key.id)),
        "{detail}"
    );
    let statuses: Vec<ApiKeyStatus> = list(&server, &alice, "alice")
        .await
        .keys
        .iter()
        .map(|key| key.status)
        .collect();
    assert_eq!(
        statuses,
        [
            ApiKeyStatus::Active,
            ApiKeyStatus::Revoked,
            ApiKeyStatus::Expired,
            ApiKeyStatus::Active
        ]
    );

    // The W&B front-end answers the same refusals as its 401 GraphQL error.
    for (key, words) in [
        (&plain.api_key, "was revoked on"),
        (&named.api_key, "expired on"),
        (
            &"cairn-000000000000000000000000000000000000000000000000".to_owned(),
            "not known",
        ),
    ] {
        let (status, body) = graphql_viewer(&server, key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{body}");
    }
    let (status, body) = graphql_viewer(&server, &by_admin.api_key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["username"], "alice");
}

#[tokio::test]
async fn a_key_records_when_it_was_last_used() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let created = create(&server, &alice, "alice", Some(json!({"name": "ci"}))).await;
    assert_eq!(created.key.last_used_at, None);
    server
        .call(Method::GET, routes::VIEWER, Some(&created.api_key))
        .await
        .expect(StatusCode::OK);
    // Recorded in the background, so the request never waits for the writer.
    let mut last_used = None;
    for _ in 0..100 {
        let keys = list(&server, &alice, "alice").await.keys;
        last_used = keys
            .iter()
            .find(|key| key.id == created.key.id)
            .and_then(|key| key.last_used_at.clone());
        if last_used.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last_used = last_used.expect("the key's use was never recorded");
    assert!(last_used >= created.key.created_at, "{last_used}");
}
