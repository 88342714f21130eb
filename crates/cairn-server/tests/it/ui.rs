//! The web UI's security over the real router: sessions, CSRF, the Content-Security-Policy,
//! escaping of hostile text, and what outsiders see. (The screens themselves are driven in a
//! real browser by `cargo xtask ui`.)

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use cairn_api::routes;
use serde_json::json;

use crate::harness::{Answer, Files, Server, create_request, log};

const HOSTILE: &str = "<script>alert(1)</script> <img src=x onerror=alert(1)> \
                       [click](javascript:alert) \"'><svg onload=alert(1)>";

/// A browser's session: the cookie that signing in with `key` set.
async fn sign_in(server: &Server, key: &str) -> String {
    let page = get(server, "/ui/_sign-in", None).await;
    page.expect(StatusCode::OK);
    let token = cookie_value(&page, "cairn_sign_in");
    let answer = post(
        server,
        "/ui/_sign-in",
        Some(&format!("cairn_sign_in={token}")),
        &[("csrf", &token), ("api_key", key)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{answer:?}");
    format!("cairn_session={}", cookie_value(&answer, "cairn_session"))
}

fn cookie_value(answer: &Answer, name: &str) -> String {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no cookie {name} in {answer:?}"))
        .to_owned()
}

async fn get(server: &Server, path: &str, cookie: Option<&str>) -> Answer {
    let mut request = Request::builder().method(Method::GET).uri(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    server.send(request.body(Body::empty()).unwrap()).await
}

async fn post_with(
    server: &Server,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "cairn.test");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = serde_urlencoded::to_string(form).unwrap();
    server.send(request.body(Body::from(body)).unwrap()).await
}

async fn post(server: &Server, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
    post_with(
        server,
        path,
        cookie,
        form,
        &[("Sec-Fetch-Site", "same-origin")],
    )
    .await
}

/// The CSRF token of the session's forms, read off a page.
fn form_token(page: &Answer) -> String {
    let text = text(page);
    let start = text.find(r#"name="csrf" value=""#).unwrap() + 19;
    text[start..start + 64].to_owned()
}

fn text(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

/// alice's private project `vault` with `secret-data:v0` (hostile description, metadata and
/// file name), and bob, an outsider.
async fn world() -> (Server, String, String) {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let files = Files::new(&[
        ("<img src=x onerror=alert(1)>.txt", b"hello"),
        ("dir/a.txt", b"a"),
    ]);
    let mut request = create_request("secret-data", &files);
    request.description = Some(format!("# Notes\n\n{HOSTILE}"));
    request.metadata = json!({ HOSTILE: HOSTILE, "nested": { "k": [1, HOSTILE] } })
        .as_object()
        .cloned()
        .unwrap();
    log(&server, &alice, "alice", "vault", request, &files).await;
    (server, alice, bob)
}

const VERSION: &str = "/ui/alice/vault/artifacts/secret-data/v0";

#[tokio::test]
async fn pages_escape_hostile_text_and_allow_no_scripts() {
    let (server, alice, _) = world().await;
    let session = sign_in(&server, &alice).await;
    for path in [
        VERSION.to_owned(),
        format!("{VERSION}/files"),
        "/ui/alice/vault/artifacts/secret-data".to_owned(),
    ] {
        let page = get(&server, &path, Some(&session)).await;
        page.expect(StatusCode::OK);
        let csp = page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(!csp.contains("script-src"), "{csp}");
        assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
        let html = text(&page);
        for forbidden in ["<script", "<img", "<svg onload", "href=\"javascript"] {
            assert!(
                !html.contains(forbidden),
                "{path} holds {forbidden}: {html}"
            );
        }
    }
    let page = text(&get(&server, VERSION, Some(&session)).await);
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("<h1>Notes</h1>"),
        "Markdown is rendered: {page}"
    );
    let files = text(&get(&server, &format!("{VERSION}/files"), Some(&session)).await);
    assert!(
        files.contains("&lt;img src=x onerror=alert(1)&gt;.txt"),
        "{files}"
    );

    // A file downloads as an attachment that cannot run as a page of the site.
    let download = get(
        &server,
        &format!("{VERSION}/file?path=%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt"),
        Some(&session),
    )
    .await;
    download.expect(StatusCode::OK);
    assert_eq!(&download.body[..], b"hello");
    let disposition = download.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(
        download.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    let csp = download.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("sandbox"), "{csp}");
}

#[tokio::test]
async fn forms_need_the_sessions_token_and_this_site() {
    let (server, alice, _) = world().await;
    let session = sign_in(&server, &alice).await;
    let token = form_token(&get(&server, VERSION, Some(&session)).await);
    let edit = format!("{VERSION}/edit");
    let form = |csrf: &'static str| {
        vec![
            ("csrf", csrf),
            ("description", "changed"),
            ("metadata", "{}"),
            ("aliases", "latest"),
            ("tags", ""),
            ("ttl", "keep"),
        ]
    };
    let description = || async {
        let version: cairn_api::Version = server
            .call(
                Method::GET,
                &format!("{}/secret-data:v0", routes::versions("alice", "vault")),
                Some(&alice),
            )
            .await
            .json();
        version.description
    };
    let before = description().await;

    // No token, a wrong one, or the right one from another site: refused, nothing changes.
    let missing = post(&server, &edit, Some(&session), &form("")[1..]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{missing:?}");
    assert!(
        text(&missing).contains("not from your current session"),
        "{missing:?}"
    );
    let wrong = post(&server, &edit, Some(&session), &form("0000")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let mut right = form("");
    right[0].1 = &token;
    for headers in [
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Origin", "https://evil.example")],
    ] {
        let answer = post_with(&server, &edit, Some(&session), &right, &headers).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{headers:?}: {answer:?}"
        );
        assert!(text(&answer).contains("another site"), "{answer:?}");
    }
    // Without a session, the token does not help.
    let anonymous = post(&server, &edit, None, &right).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(description().await, before);

    // The right token from this site edits.
    let done = post_with(
        &server,
        &edit,
        Some(&session),
        &right,
        &[
            ("Origin", "http://cairn.test"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{done:?}");
    assert_eq!(description().await.as_deref(), Some("changed"));

    // Behind a proxy that rewrites `Host`, the browser's origin is the forwarded host.
    let mut again = right.clone();
    again[1].1 = "changed behind a proxy";
    let proxied = post_with(
        &server,
        &edit,
        Some(&session),
        &again,
        &[
            ("Origin", "https://cairn.example"),
            ("X-Forwarded-Host", "cairn.example"),
        ],
    )
    .await;
    assert_eq!(proxied.status, StatusCode::SEE_OTHER, "{proxied:?}");
    assert_eq!(
        description().await.as_deref(),
        Some("changed behind a proxy")
    );
}

#[tokio::test]
async fn sessions_start_with_a_key_and_end_on_sign_out_or_revocation() {
    let (server, alice, _) = world().await;

    // The sign-in form needs the token of its own cookie, and the key must be valid.
    let no_cookie = post(
        &server,
        "/ui/_sign-in",
        None,
        &[("csrf", "x"), ("api_key", &alice)],
    )
    .await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN);
    assert!(
        !no_cookie
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|value| value.to_str().unwrap().starts_with("cairn_session="))
    );
    let page = get(&server, "/ui/_sign-in", None).await;
    let token = cookie_value(&page, "cairn_sign_in");
    let wrong_key = post(
        &server,
        "/ui/_sign-in",
        Some(&format!("cairn_sign_in={token}")),
        &[("csrf", &token), ("api_key", "cairn-000")],
    )
    .await;
    assert_eq!(wrong_key.status, StatusCode::UNAUTHORIZED);
    assert!(
        text(&wrong_key).contains("not known to this server"),
        "{wrong_key:?}"
    );

    // The cookie is HttpOnly and holds no key.
    let session = sign_in(&server, &alice).await;
    assert!(!session.contains(&alice));
    let page = get(&server, VERSION, Some(&session)).await;
    page.expect(StatusCode::OK);
    assert!(text(&page).contains(r#"data-test="signed-in-as">alice<"#));

    // Signing out forgets the session: its cookie no longer works.
    let token = form_token(&page);
    let out = post(
        &server,
        "/ui/_sign-out",
        Some(&session),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(cookie_value(&out, "cairn_session").is_empty());
    let after = get(&server, VERSION, Some(&session)).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(text(&after).contains("sign in again"), "{after:?}");

    // Revoking the key ends the sessions opened with it, in words.
    let session = sign_in(&server, &alice).await;
    let keys: serde_json::Value = server
        .call(Method::GET, &routes::api_keys("alice"), Some(&alice))
        .await
        .json();
    let key_id = keys["keys"][0]["id"].as_str().unwrap();
    server
        .call(
            Method::DELETE,
            &routes::api_key("alice", key_id),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK);
    let revoked = get(&server, VERSION, Some(&session)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert!(text(&revoked).contains("was revoked"), "{revoked:?}");
}

#[tokio::test]
async fn outsiders_see_nothing_of_a_private_project() {
    let (server, _, bob) = world().await;
    let bob_session = sign_in(&server, &bob).await;
    for session in [None, Some(bob_session.as_str())] {
        for path in [
            "/ui/alice/vault".to_owned(),
            "/ui/alice/vault/types/dataset".to_owned(),
            "/ui/alice/vault/artifacts/secret-data".to_owned(),
            VERSION.to_owned(),
            format!("{VERSION}/files"),
            format!("{VERSION}/lineage"),
            format!("{VERSION}/diff?against=v0"),
            format!("{VERSION}/file?path=dir%2Fa.txt"),
        ] {
            let page = get(&server, &path, session).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {page:?}");
            let html = text(&page);
            for secret in ["secret-data", "Notes", "onerror", "dir/a.txt"] {
                assert!(!html.contains(secret), "{path} shows {secret}: {html}");
            }
        }
        let listing = text(&get(&server, "/ui/alice", session).await);
        assert!(!listing.contains("vault"), "{listing}");
    }
}

#[tokio::test]
async fn refusals_are_shown_in_the_domains_words() {
    let server = Server::start().await;
    let (alice, bob) = server.lab_team().await;
    let session = sign_in(&server, &bob).await;
    let page = get(&server, "/ui/_teams/lab", Some(&session)).await;
    page.expect(StatusCode::OK);
    let token = form_token(&page);
    let refused = post(
        &server,
        "/ui/_teams/lab/retention",
        Some(&session),
        &[
            ("csrf", &token),
            ("default_ttl_days", "3"),
            ("ttl_editors", "members"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    let html = text(&refused);
    assert!(
        html.contains(r#"data-test="error""#) && html.contains("admin"),
        "{html}"
    );
    assert!(html.contains(r#"data-test="signed-in-as">bob<"#), "{html}");

    // alice, the team's admin, may.
    let session = sign_in(&server, &alice).await;
    let token = form_token(&get(&server, "/ui/_teams/lab", Some(&session)).await);
    let done = post(
        &server,
        "/ui/_teams/lab/retention",
        Some(&session),
        &[
            ("csrf", &token),
            ("default_ttl_days", "3"),
            ("ttl_editors", "members"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{done:?}");
    let page = text(&get(&server, "/ui/_teams/lab", Some(&session)).await);
    assert!(page.contains(r#"value="3""#), "{page}");
}

#[tokio::test]
async fn keys_are_created_once_listed_without_secrets_and_revoked() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let session = sign_in(&server, &alice).await;
    let page = get(&server, "/ui/_keys", Some(&session)).await;
    page.expect(StatusCode::OK);
    assert!(!text(&page).contains(&alice), "a secret is listed");
    let token = form_token(&page);

    // The new secret is on the answer to the form, once, and works.
    let created = post(
        &server,
        "/ui/_keys",
        Some(&session),
        &[
            ("csrf", &token),
            ("name", "<laptop>"),
            ("expires_days", "2"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.headers[header::CACHE_CONTROL], "no-store");
    let html = text(&created);
    assert!(html.contains("&lt;laptop&gt;"), "{html}");
    let start = html.find(r#"data-test="new-key"><code>"#).unwrap() + 26;
    let secret = &html[start..html[start..].find('<').unwrap() + start];
    assert!(secret.starts_with("cairn-"), "{secret}");
    server
        .call(Method::GET, routes::VIEWER, Some(secret))
        .await
        .expect(StatusCode::OK);
    let listing = text(&get(&server, "/ui/_keys", Some(&session)).await);
    assert!(!listing.contains(secret), "the secret is shown again");

    // Revoking it from the page ends it.
    let keys: serde_json::Value = server
        .call(Method::GET, &routes::api_keys("alice"), Some(&alice))
        .await
        .json();
    let laptop = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["name"] == "<laptop>")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = post(
        &server,
        "/ui/_keys/revoke",
        Some(&session),
        &[("csrf", &token), ("id", &laptop)],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{revoked:?}");
    let refused = server.call(Method::GET, routes::VIEWER, Some(secret)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // A bad lifetime is refused in words, and another user's key cannot be revoked.
    let bad = post(
        &server,
        "/ui/_keys",
        Some(&session),
        &[("csrf", &token), ("expires_days", "-1")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(text(&bad).contains("more than 0"), "{bad:?}");
    let bob = server.user("bob").await;
    let bob_keys: serde_json::Value = server
        .call(Method::GET, &routes::api_keys("bob"), Some(&bob))
        .await
        .json();
    let bob_key = bob_keys["keys"][0]["id"].as_str().unwrap();
    let other = post(
        &server,
        "/ui/_keys/revoke",
        Some(&session),
        &[("csrf", &token), ("id", bob_key)],
    )
    .await;
    assert!(other.status.is_client_error(), "{other:?}");
    server
        .call(Method::GET, routes::VIEWER, Some(&bob))
        .await
        .expect(StatusCode::OK);
}
