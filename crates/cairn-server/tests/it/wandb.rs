//! The W&B protocol front-end, driven as the SDK drives it (GraphQL operations shaped like the
//! recorded ones, PUTs and GETs on the URLs the answers hand out), plus what an attacker would
//! try on it: altered, foreign and expired capability tokens, dedup probing across users, reads
//! of private projects, bad keys. The real SDK runs against the real server in
//! `cargo xtask wandb`; these tests pin the server's side without Python.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use cairn_service::capability::Grant;
use serde_json::{Value, json};

use crate::harness::{Answer, Files, Server};

const HOST: &str = "cairn.test";

fn basic(key: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"))
    )
}

async fn gql_answer(server: &Server, key: Option<&str>, query: &str, variables: Value) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, basic(key));
    }
    let body = serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap();
    server.send(request.body(Body::from(body)).unwrap()).await
}

/// Runs a GraphQL request that must answer 200; returns the body.
async fn gql(server: &Server, key: Option<&str>, query: &str, variables: Value) -> Value {
    let answer = gql_answer(server, key, query, variables).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    serde_json::from_slice(&answer.body).unwrap()
}

fn errors(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The path and query of a URL the server handed out.
fn local(url: &str) -> String {
    url.strip_prefix(&format!("http://{HOST}"))
        .unwrap_or_else(|| panic!("`{url}` is not on this server"))
        .to_owned()
}

async fn put(server: &Server, url: &str, bytes: Vec<u8>) -> Answer {
    let length = bytes.len();
    server
        .send(
            Request::builder()
                .method(Method::PUT)
                .uri(local(url))
                .header(header::CONTENT_LENGTH, length)
                .body(Body::from(bytes))
                .unwrap(),
        )
        .await
}

async fn get(server: &Server, url: &str) -> Answer {
    server
        .send(
            Request::builder()
                .method(Method::GET)
                .uri(local(url))
                .body(Body::empty())
                .unwrap(),
        )
        .await
}

const CREATE_ARTIFACT: &str = "mutation CreateArtifact($input: CreateArtifactInput!) {
    createArtifact(input: $input) { artifact { id state artifactSequence { latestArtifact { id } } } } }";

const CREATE_MANIFEST: &str = "mutation CreateArtifactManifest($artifactID: ID!, $includeUpload: Boolean!) {
    createArtifactManifest(input: {artifactID: $artifactID, name: \"wandb_manifest.json\", digest: \"\", entityName: \"e\", projectName: \"p\", runName: \"r\", type: FULL}) {
        artifactManifest { id file { id uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) } } } }";

const CREATE_FILES: &str = "mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
    createArtifactFiles(input: $input) { files { edges { node { storagePath uploadUrl uploadHeaders
        uploadMultipartUrls { uploadID } artifact { id } } } } } }";

const COMMIT: &str = "mutation CommitArtifact($artifactID: ID!) {
    commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } } }";

const MEMBERSHIP: &str = "query ArtifactMembershipByName($entity: String!, $project: String!, $name: String!) {
    project(name: $project, entityName: $entity) { artifactCollectionMembership(name: $name) {
        __typename versionIndex aliases { alias }
        artifactCollection { __typename name project { internalId name entity { name } } }
        artifact { __typename id versionIndex state size digest fileCount description metadata
            ttlDurationSeconds ttlIsInherited tags { name } aliases { alias }
            currentManifest { file { directUrl } } }
        files(first: 1) { pageInfo { endCursor hasNextPage } edges { node { name: displayName directUrl md5 sizeBytes } } } } } }";

/// What logging through the protocol gave.
struct Logged {
    artifact_id: String,
    upload_urls: Vec<Option<String>>,
}

/// Starts a log of `files` as `collection` in `entity/project`, asks for the files' upload
/// URLs, and returns them without uploading anything.
async fn begin(
    server: &Server,
    key: &str,
    entity: &str,
    project: &str,
    collection: &str,
    files: &Files,
) -> Logged {
    let created = gql(
        server,
        Some(key),
        CREATE_ARTIFACT,
        json!({ "input": {
            "entityName": entity, "projectName": project, "artifactCollectionName": collection,
            "artifactTypeName": "dataset", "digest": files.digest(), "digestAlgorithm": "MANIFEST_MD5",
            "description": "from the protocol", "metadata": "{\"k\":{\"n\":[1,2]}}",
            "aliases": [{"alias": "latest", "artifactCollectionName": collection}, {"alias": "best", "artifactCollectionName": collection}],
            "clientID": "c", "sequenceClientID": "s", "enableDigestDeduplication": true,
            "distributedID": null, "ttlDurationSeconds": null, "clientMutationId": null,
        }}),
    )
    .await;
    assert_eq!(errors(&created), Vec::<String>::new(), "{created}");
    let artifact = &created["data"]["createArtifact"]["artifact"];
    assert_eq!(artifact["state"], "PENDING", "{created}");
    let artifact_id = artifact["id"].as_str().unwrap().to_owned();
    let manifest = gql(
        server,
        Some(key),
        CREATE_MANIFEST,
        json!({ "artifactID": artifact_id, "includeUpload": false }),
    )
    .await;
    let manifest_id = manifest["data"]["createArtifactManifest"]["artifactManifest"]["id"].clone();
    let entries: Vec<Value> = files
        .files
        .iter()
        .map(|(path, bytes)| {
            json!({
                "artifactID": artifact_id, "artifactManifestID": manifest_id, "name": path,
                "md5": cairn_hash::md5(bytes).to_base64(), "mimetype": null, "uploadPartsInput": null,
            })
        })
        .collect();
    let answer = gql(
        server,
        Some(key),
        CREATE_FILES,
        json!({ "input": { "artifactFiles": entries, "storageLayout": "V2" } }),
    )
    .await;
    assert_eq!(errors(&answer), Vec::<String>::new(), "{answer}");
    let edges = answer["data"]["createArtifactFiles"]["files"]["edges"]
        .as_array()
        .unwrap();
    assert_eq!(edges.len(), files.files.len());
    let upload_urls = edges
        .iter()
        .map(|edge| {
            assert_eq!(edge["node"]["artifact"]["id"], artifact_id.as_str());
            edge["node"]["uploadUrl"].as_str().map(str::to_owned)
        })
        .collect();
    Logged {
        artifact_id,
        upload_urls,
    }
}

/// Uploads what was asked for and the manifest, then commits; answers the commit's body.
async fn finish(server: &Server, key: &str, files: &Files, logged: &Logged) -> Value {
    for ((_, bytes), url) in files.files.iter().zip(&logged.upload_urls) {
        if let Some(url) = url {
            put(server, url, bytes.clone()).await.expect(StatusCode::OK);
        }
    }
    let manifest = gql(
        server,
        Some(key),
        CREATE_MANIFEST,
        json!({ "artifactID": logged.artifact_id, "includeUpload": true }),
    )
    .await;
    let url = manifest["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    put(server, &url, files.manifest_bytes())
        .await
        .expect(StatusCode::OK);
    gql(
        server,
        Some(key),
        COMMIT,
        json!({ "artifactID": logged.artifact_id }),
    )
    .await
}

#[tokio::test]
async fn the_sdk_flow_logs_dedups_and_downloads() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let files = Files::new(&[("a.txt", b"hello artifact\n"), ("sub/b.csv", b"x,y\n1,2\n")]);
    let logged = begin(&server, &alice, "alice", "proj", "my-ds", &files).await;
    assert!(logged.upload_urls.iter().all(Option::is_some));
    let committed = finish(&server, &alice, &files, &logged).await;
    assert_eq!(errors(&committed), Vec::<String>::new(), "{committed}");
    assert_eq!(
        committed["data"]["commitArtifact"]["artifact"]["digest"],
        files.digest()
    );

    // The same content again: COMMITTED at once, nothing to upload.
    let again = gql(
        &server,
        Some(&alice),
        CREATE_ARTIFACT,
        json!({ "input": { "entityName": "alice", "projectName": "proj", "artifactCollectionName": "my-ds",
            "artifactTypeName": "dataset", "digest": files.digest() } }),
    )
    .await;
    assert_eq!(
        again["data"]["createArtifact"]["artifact"]["state"],
        "COMMITTED"
    );

    // One changed file: only it is asked for; the unchanged one is skipped.
    let changed = Files::new(&[("a.txt", b"hello artifact\n"), ("sub/b.csv", b"x,y\n3,4\n")]);
    let second = begin(&server, &alice, "alice", "proj", "my-ds", &changed).await;
    assert!(second.upload_urls[0].is_none(), "unchanged file asked for");
    assert!(second.upload_urls[1].is_some());
    let committed = finish(&server, &alice, &changed, &second).await;
    assert_eq!(errors(&committed), Vec::<String>::new(), "{committed}");

    // Reading back v0 as the SDK does, one file per page.
    let found = gql(
        &server,
        Some(&alice),
        MEMBERSHIP,
        json!({ "entity": "alice", "project": "proj", "name": "my-ds:v0" }),
    )
    .await;
    assert_eq!(errors(&found), Vec::<String>::new(), "{found}");
    let membership = &found["data"]["project"]["artifactCollectionMembership"];
    assert_eq!(membership["__typename"], "ArtifactCollectionMembership");
    assert_eq!(
        membership["artifactCollection"]["__typename"],
        "ArtifactSequence"
    );
    let artifact = &membership["artifact"];
    assert_eq!(artifact["state"], "COMMITTED");
    assert_eq!(artifact["versionIndex"], 0);
    assert_eq!(artifact["fileCount"], 2);
    assert_eq!(artifact["size"], 23);
    assert_eq!(artifact["digest"], files.digest());
    assert_eq!(artifact["metadata"], "{\"k\":{\"n\":[1,2]}}");
    // `best` moved to v1, which asked for it too.
    assert_eq!(artifact["aliases"], json!([]));
    let manifest_url = artifact["currentManifest"]["file"]["directUrl"]
        .as_str()
        .unwrap();
    let manifest = get(&server, manifest_url).await;
    manifest.expect(StatusCode::OK);
    assert_eq!(manifest.body.as_ref(), files.manifest_bytes().as_slice());
    let page = &membership["files"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["endCursor"], "a.txt");
    let node = &page["edges"][0]["node"];
    assert_eq!(node["name"], "a.txt");
    let blob = get(&server, node["directUrl"].as_str().unwrap()).await;
    blob.expect(StatusCode::OK);
    assert_eq!(blob.body.as_ref(), b"hello artifact\n");
}

#[tokio::test]
async fn capability_urls_refuse_altered_foreign_and_expired_tokens() {
    let server = Server::start_with(cairn_server::ServerConfig::with_test_clock).await;
    let alice = server.user("alice").await;
    let files = Files::new(&[("a.txt", b"alpha"), ("b.txt", b"beta")]);
    let logged = begin(&server, &alice, "alice", "proj", "ds", &files).await;
    let url_a = logged.upload_urls[0].clone().unwrap();
    let url_b = logged.upload_urls[1].clone().unwrap();
    let (path_b, token_a) = (
        url_b.split('?').next().unwrap().to_owned(),
        url_a.split("token=").nth(1).unwrap().to_owned(),
    );
    // A's token on B's path, a flipped signature, no token, junk.
    let flipped = {
        let mut token = token_a.clone();
        let last = token.pop().unwrap();
        token.push(if last == '0' { '1' } else { '0' });
        token
    };
    for url in [
        format!("{path_b}?token={token_a}"),
        format!("{}?token={flipped}", url_a.split('?').next().unwrap()),
        path_b.clone(),
        format!("{path_b}?token=1~2~zz"),
    ] {
        let answer = put(&server, &url, b"beta".to_vec()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{url}: {answer:?}");
    }
    // The wrong bytes under a valid token: refused, nothing stored.
    let answer = put(&server, &url_a, b"not alpha".to_vec()).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    let retry = gql(
        &server,
        Some(&alice),
        CREATE_FILES,
        json!({ "input": { "artifactFiles": [{ "artifactID": logged.artifact_id, "md5": cairn_hash::md5(b"alpha").to_base64(), "name": "a.txt" }] } }),
    )
    .await;
    assert!(
        retry["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"].is_string()
    );

    // An expired token: signed for one second by the domain itself, then the server's clock
    // (which signed URLs read, like every time rule) moves on.
    let version = logged.artifact_id.clone();
    let version = {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&version)
            .unwrap();
        String::from_utf8(decoded)
            .unwrap()
            .trim_start_matches("Artifact:")
            .to_owned()
    };
    let caller = server.state.service().authenticate(&alice).await.unwrap();
    let md5 = cairn_hash::md5(b"alpha").to_hex();
    let grant = Grant::UploadBlob {
        version: version.clone(),
        md5_hex: md5.clone(),
    };
    let token = server
        .state
        .service()
        .grant(Some(&caller), &grant, Duration::from_secs(1))
        .unwrap();
    server.advance_clock(2).await;
    let answer = put(
        &server,
        &format!("http://{HOST}/wandb/v1/artifacts/{version}/blobs/{md5}?token={token}"),
        b"alpha".to_vec(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert!(String::from_utf8_lossy(&answer.body).contains("expired"));
}

#[tokio::test]
async fn outsiders_see_nothing_and_dedup_grants_nothing() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let secret = Files::new(&[("secret.bin", b"alice's private bytes")]);
    let logged = begin(&server, &alice, "alice", "private", "secret", &secret).await;
    let committed = finish(&server, &alice, &secret, &logged).await;
    assert_eq!(errors(&committed), Vec::<String>::new(), "{committed}");

    // Bob cannot see the project, the version by id, or its membership.
    for (query, variables) in [
        (
            "query($e: String, $p: String) { project(name: $p, entityName: $e) { name } }",
            json!({ "e": "alice", "p": "private" }),
        ),
        (
            "query($id: ID!) { artifact(id: $id) { id } }",
            json!({ "id": logged.artifact_id }),
        ),
    ] {
        for key in [Some(bob.as_str()), None] {
            let body = gql(&server, key, query, variables.clone()).await;
            assert_eq!(errors(&body), Vec::<String>::new());
            let data = body["data"].as_object().unwrap();
            assert!(data.values().all(Value::is_null), "{body}");
        }
    }
    // Bob lists alice's content in his own project: he is asked for the bytes, and cannot
    // commit without them.
    let probe = begin(&server, &bob, "bob", "mine", "copy", &secret).await;
    assert!(
        probe.upload_urls[0].is_some(),
        "dedup revealed alice's content"
    );
    let manifest = gql(
        &server,
        Some(&bob),
        CREATE_MANIFEST,
        json!({ "artifactID": probe.artifact_id, "includeUpload": true }),
    )
    .await;
    let url = manifest["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    put(&server, &url, secret.manifest_bytes())
        .await
        .expect(StatusCode::OK);
    let commit = gql(
        &server,
        Some(&bob),
        COMMIT,
        json!({ "artifactID": probe.artifact_id }),
    )
    .await;
    let refused = errors(&commit);
    assert!(
        refused.len() == 1 && refused[0].contains("not been uploaded"),
        "{commit}"
    );
    // Bob cannot write to alice's project either, and says so in words.
    let denied = gql(
        &server,
        Some(&bob),
        CREATE_ARTIFACT,
        json!({ "input": { "entityName": "alice", "projectName": "private", "artifactCollectionName": "x",
            "artifactTypeName": "dataset", "digest": secret.digest() } }),
    )
    .await;
    assert_eq!(denied["data"]["createArtifact"], Value::Null);
    assert!(!errors(&denied).is_empty(), "{denied}");

    // A key the server does not know: 401 with a GraphQL error in words, never a retry.
    let answer = gql_answer(
        &server,
        Some("cairn-0000000000000000000000000000000000000000"),
        "{ viewer { id } }",
        Value::Null,
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert!(errors(&body)[0].contains("API key"), "{body}");
}

#[tokio::test]
async fn runs_keep_config_and_summary_and_end_with_their_exit_code() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let upsert = "mutation UpsertBucket($name: String, $project: String, $entity: String, $config: JSONString, $jobType: String) {
        upsertBucket(input: {name: $name, modelName: $project, entityName: $entity, config: $config, jobType: $jobType}) {
            bucket { id name displayName config project { id name entity { id name } } historyLineCount } inserted } }";
    let first = gql(
        &server,
        Some(&alice),
        upsert,
        json!({ "name": "r1", "project": "proj", "entity": "alice", "config": "{\"lr\":{\"value\":0.1}}", "jobType": "train" }),
    )
    .await;
    assert_eq!(first["data"]["upsertBucket"]["inserted"], true, "{first}");
    let again = gql(
        &server,
        Some(&alice),
        upsert,
        json!({ "name": "r1", "project": "proj", "entity": "alice" }),
    )
    .await;
    assert_eq!(again["data"]["upsertBucket"]["inserted"], false);
    assert_eq!(
        again["data"]["upsertBucket"]["bucket"]["config"],
        "{\"lr\":{\"value\":0.1}}"
    );

    let stream = |body: Value| {
        Request::builder()
            .method(Method::POST)
            .uri("/files/alice/proj/r1/file_stream")
            .header(header::AUTHORIZATION, basic(&alice))
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap()
    };
    server
        .send(stream(json!({ "files": { "wandb-summary.json": { "offset": 0, "content": ["{\"loss\":0.5}"] } } })))
        .await
        .expect(StatusCode::OK);
    let run = "query Run($entity: String!, $project: String!, $name: String!) {
        project(name: $project, entityName: $entity) { run(name: $name) { projectId state summaryMetrics config jobType user { username } } } }";
    let read = gql(
        &server,
        Some(&alice),
        run,
        json!({ "entity": "alice", "project": "proj", "name": "r1" }),
    )
    .await;
    let record = &read["data"]["project"]["run"];
    assert_eq!(record["state"], "running", "{read}");
    assert_eq!(record["summaryMetrics"], "{\"loss\":0.5}");
    assert!(record["projectId"].as_str().unwrap().parse::<i64>().is_ok());
    server
        .send(stream(
            json!({ "files": {}, "complete": true, "exitcode": 3 }),
        ))
        .await
        .expect(StatusCode::OK);
    let read = gql(
        &server,
        Some(&alice),
        run,
        json!({ "entity": "alice", "project": "proj", "name": "r1" }),
    )
    .await;
    assert_eq!(read["data"]["project"]["run"]["state"], "failed");
    assert_eq!(
        read["data"]["project"]["run"]["summaryMetrics"],
        "{\"loss\":0.5}"
    );

    // Another user cannot report for it.
    let bob = server.user("bob").await;
    let answer = server
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/files/alice/proj/r1/file_stream")
                .header(header::AUTHORIZATION, basic(&bob))
                .body(Body::from("{\"complete\": true, \"exitcode\": 0}"))
                .unwrap(),
        )
        .await;
    assert!(answer.status.is_client_error(), "{answer:?}");
}

#[tokio::test]
async fn malformed_requests_answer_4xx_or_graphql_errors_never_5xx() {
    let server = Server::start().await;
    let cases: Vec<(&str, Value)> = vec![
        ("{ nope }", Value::Null),
        ("query {", Value::Null),
        (
            "mutation { createArtifact { artifact { id } } }",
            Value::Null,
        ),
        (
            "mutation($i: CreateArtifactInput!) { createArtifact(input: $i) { artifact { id } } }",
            json!({ "i": { "digest": "zz" } }),
        ),
        (
            "mutation { commitArtifact(input: {artifactID: \"QXJ0aWZhY3Q6eA==\"}) { artifact { id } } }",
            Value::Null,
        ),
        ("query { artifact(id: \"../../etc\") { id } }", Value::Null),
        ("subscription { x }", Value::Null),
        (
            "query A { viewer { id } } query B { viewer { id } }",
            Value::Null,
        ),
    ];
    for (query, variables) in cases {
        for key in [Some(server.admin_key.as_str()), None] {
            let answer = gql_answer(&server, key, query, variables.clone()).await;
            assert!(answer.status.as_u16() < 500, "{query}: {answer:?}");
        }
    }
    for body in ["not json", "[]", "{\"query\": 5}"] {
        let answer = server
            .send(
                Request::builder()
                    .method(Method::POST)
                    .uri("/graphql")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn graphql_never_walks_from_a_public_object_into_a_private_one() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let files = Files::new(&[("open.txt", b"shared with the world")]);
    let logged = begin(&server, &alice, "alice", "showcase", "data", &files).await;
    let committed = finish(&server, &alice, &files, &logged).await;
    assert_eq!(errors(&committed), Vec::<String>::new(), "{committed}");
    server
        .set_visibility("alice", "showcase", cairn_api::Visibility::Public)
        .await;
    // A run in alice's private project uses the public version.
    let upsert = "mutation($name: String, $project: String, $entity: String) {
        upsertBucket(input: {name: $name, modelName: $project, entityName: $entity}) { bucket { id } } }";
    let made = gql(
        &server,
        Some(&alice),
        upsert,
        json!({ "name": "secret-run", "project": "hidden", "entity": "alice" }),
    )
    .await;
    assert_eq!(errors(&made), Vec::<String>::new(), "{made}");
    let used = gql(
        &server,
        Some(&alice),
        "mutation($id: ID!) { useArtifact(input: {entityName: \"alice\", projectName: \"hidden\", runName: \"secret-run\", artifactID: $id}) { artifact { id } } }",
        json!({ "id": logged.artifact_id }),
    )
    .await;
    assert_eq!(errors(&used), Vec::<String>::new(), "{used}");

    let lineage = "query($id: ID!) { artifact(id: $id) { id usedBy { edges { node { name project { name } } } } } }";
    let seen_by_alice = gql(
        &server,
        Some(&alice),
        lineage,
        json!({ "id": logged.artifact_id }),
    )
    .await;
    assert_eq!(
        seen_by_alice["data"]["artifact"]["usedBy"]["edges"][0]["node"]["name"],
        "secret-run"
    );
    for key in [Some(bob.as_str()), None] {
        let seen = gql(&server, key, lineage, json!({ "id": logged.artifact_id })).await;
        assert_eq!(errors(&seen), Vec::<String>::new(), "{seen}");
        assert!(
            seen["data"]["artifact"]["id"].is_string(),
            "the public version is readable: {seen}"
        );
        assert_eq!(
            seen["data"]["artifact"]["usedBy"]["edges"],
            json!([]),
            "{seen}"
        );
        // Nor can the private run be named directly.
        let run = gql(
            &server,
            key,
            "{ project(name: \"hidden\", entityName: \"alice\") { run(name: \"secret-run\") { name } } }",
            Value::Null,
        )
        .await;
        assert_eq!(run["data"]["project"], Value::Null, "{run}");
    }
}

/// The `directUrl` of the first file and of the manifest of `alice/proj/ds:v0`, as `key` reads
/// them.
async fn download_urls(server: &Server, key: &str, name: &str) -> (String, String) {
    let found = gql(
        server,
        Some(key),
        MEMBERSHIP,
        json!({ "entity": "alice", "project": "proj", "name": name }),
    )
    .await;
    assert_eq!(errors(&found), Vec::<String>::new(), "{found}");
    let membership = &found["data"]["project"]["artifactCollectionMembership"];
    let file = membership["files"]["edges"][0]["node"]["directUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("no file URL: {found}"))
        .to_owned();
    let manifest = membership["artifact"]["currentManifest"]["file"]["directUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    (file, manifest)
}

/// Signed URLs are per user, and also bound to the key whose request obtained them: revoking
/// that key, or its expiry, ends them at once, in words; other keys' URLs keep working until
/// their own hour is up (by the server's clock). A URL never serves another version.
#[tokio::test]
async fn signed_urls_end_with_the_key_that_obtained_them() {
    let server = Server::start_with(cairn_server::ServerConfig::with_test_clock).await;
    let alice = server.user("alice").await;
    let new_key = |body: Value| {
        let server = &server;
        let alice = alice.clone();
        async move {
            server
                .call_json(
                    Method::POST,
                    &cairn_api::routes::api_keys("alice"),
                    Some(&alice),
                    &body,
                )
                .await
                .expect(StatusCode::CREATED)
                .json::<cairn_api::CreatedApiKey>()
        }
    };
    let uploader = new_key(json!({"name": "uploader"})).await;
    let files = Files::new(&[("a.txt", b"alpha"), ("b.txt", b"beta")]);
    let logged = begin(&server, &uploader.api_key, "alice", "proj", "ds", &files).await;
    let (url_a, url_b) = (
        logged.upload_urls[0].clone().unwrap(),
        logged.upload_urls[1].clone().unwrap(),
    );
    put(&server, &url_a, b"alpha".to_vec())
        .await
        .expect(StatusCode::OK);
    server
        .call(
            Method::DELETE,
            &cairn_api::routes::api_key("alice", &uploader.key.id),
            Some(&alice),
        )
        .await
        .expect(StatusCode::OK);
    let answer = put(&server, &url_b, b"beta".to_vec()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    let text = String::from_utf8_lossy(&answer.body);
    assert!(
        text.contains(&format!(
            "API key `{}` (uploader) was revoked on",
            uploader.key.id
        )),
        "{text}"
    );
    // alice's other key carries on with the same version.
    let resumed = begin(&server, &alice, "alice", "proj", "ds", &files).await;
    assert_eq!(resumed.artifact_id, logged.artifact_id);
    let committed = finish(&server, &alice, &files, &resumed).await;
    assert_eq!(errors(&committed), Vec::<String>::new(), "{committed}");

    // A key valid for ten minutes: its URLs end with it, alice's main key's do not.
    let short = new_key(json!({"expires_in_seconds": 600})).await;
    let (short_file, short_manifest) = download_urls(&server, &short.api_key, "ds:v0").await;
    let (file, manifest) = download_urls(&server, &alice, "ds:v0").await;
    for url in [&short_file, &short_manifest, &file, &manifest] {
        get(&server, url).await.expect(StatusCode::OK);
    }
    server.advance_clock(601).await;
    for url in [&short_file, &short_manifest] {
        let answer = get(&server, url).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
        assert!(
            String::from_utf8_lossy(&answer.body).contains("expired on"),
            "{answer:?}"
        );
    }
    for url in [&file, &manifest] {
        get(&server, url).await.expect(StatusCode::OK);
    }
    // An hour after they were handed out, the URLs themselves have expired.
    server.advance_clock(3000).await;
    for url in [&file, &manifest] {
        let answer = get(&server, url).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
        assert!(
            String::from_utf8_lossy(&answer.body).contains("signed URL has expired"),
            "{answer:?}"
        );
    }

    // A fresh URL for `a.txt` of v0 is worthless on v1, which holds the same file.
    let changed = Files::new(&[("a.txt", b"alpha"), ("b.txt", b"gamma")]);
    let second = begin(&server, &alice, "alice", "proj", "ds", &changed).await;
    let committed = finish(&server, &alice, &changed, &second).await;
    assert_eq!(errors(&committed), Vec::<String>::new(), "{committed}");
    let (file, _) = download_urls(&server, &alice, "ds:v0").await;
    get(&server, &file).await.expect(StatusCode::OK);
    let v0 = version_of(&logged.artifact_id);
    let v1 = version_of(&second.artifact_id);
    assert_ne!(v0, v1);
    let moved = file.replace(&v0, &v1);
    assert_ne!(moved, file);
    let answer = get(&server, &moved).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
}

/// The version id inside a W&B artifact id.
fn version_of(artifact_id: &str) -> String {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(artifact_id)
        .unwrap();
    String::from_utf8(decoded)
        .unwrap()
        .trim_start_matches("Artifact:")
        .to_owned()
}

/// The walks the SDK's reads allow, tried from the public side of a registry: a version logged
/// by a run in alice's private project and linked into her public registry (readable through
/// the link), also linked into a private registry, and used by a public run and a private one.
/// An outsider reads the version, the public link and the public run, and nothing private
/// behind them: no creating run, no private using run, no private link, no private input.
#[tokio::test]
async fn graphql_never_walks_from_a_registry_link_into_private_projects() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let upsert = "mutation($name: String, $project: String, $entity: String) {
        upsertBucket(input: {name: $name, modelName: $project, entityName: $entity}) { bucket { id } } }";
    for (run, project) in [
        ("maker", "lab"),
        ("user-public", "showcase"),
        ("user-private", "lab"),
    ] {
        let made = gql(
            &server,
            Some(&alice),
            upsert,
            json!({ "name": run, "project": project, "entity": "alice" }),
        )
        .await;
        assert_eq!(errors(&made), Vec::<String>::new(), "{made}");
    }
    let files = Files::new(&[("model.bin", b"private weights")]);
    let mut request = crate::harness::create_request("weights", &files);
    request.artifact_type = "model".to_owned();
    request.run = Some("maker".to_owned());
    let version = crate::harness::log(&server, &alice, "alice", "lab", request, &files).await;
    let artifact_id = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("Artifact:{}", version.id))
    };
    for (project, portfolio) in [("registry", "best"), ("secret-registry", "candidates")] {
        server
            .call_json(
                Method::POST,
                &cairn_api::routes::links(&version.id),
                Some(&alice),
                &cairn_api::CreateLink {
                    entity: "alice".to_owned(),
                    project: project.to_owned(),
                    portfolio: portfolio.to_owned(),
                    aliases: Vec::new(),
                },
            )
            .await
            .expect(StatusCode::CREATED);
    }
    for project in ["registry", "showcase"] {
        server
            .set_visibility("alice", project, cairn_api::Visibility::Public)
            .await;
    }
    for (run, project) in [("user-public", "showcase"), ("user-private", "lab")] {
        let used = gql(
            &server,
            Some(&alice),
            "mutation($id: ID!, $run: String!, $project: String!) { useArtifact(input: {entityName: \"alice\", projectName: $project, runName: $run, artifactID: $id}) { artifact { id } } }",
            json!({ "id": artifact_id, "run": run, "project": project }),
        )
        .await;
        assert_eq!(errors(&used), Vec::<String>::new(), "{used}");
    }

    let walk = "query($id: ID!) { artifact(id: $id) { id
        createdBy { __typename ... on Run { name project { name } } }
        usedBy { edges { node { name project { name } } } }
        artifactMemberships { edges { node { artifactCollection { name project { name } } } } } } }";
    let public_run =
        "{ project(name: \"showcase\", entityName: \"alice\") { run(name: \"user-public\") { name
        inputArtifacts { edges { node { id } } } outputArtifacts { edges { node { id } } } } } }";
    let names = |value: &Value, pointer: &str, field: &str| -> Vec<String> {
        value
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("no `{pointer}` in {value}"))
            .iter()
            .map(|edge| {
                edge.pointer(field)
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect()
    };
    // alice sees everything.
    let seen = gql(&server, Some(&alice), walk, json!({ "id": artifact_id })).await;
    assert_eq!(errors(&seen), Vec::<String>::new(), "{seen}");
    assert_eq!(
        seen["data"]["artifact"]["createdBy"]["name"], "maker",
        "{seen}"
    );
    let mut used_by = names(&seen, "/data/artifact/usedBy/edges", "/node/name");
    used_by.sort();
    assert_eq!(used_by, ["user-private", "user-public"]);
    let mut portfolios = names(
        &seen,
        "/data/artifact/artifactMemberships/edges",
        "/node/artifactCollection/name",
    );
    portfolios.sort();
    assert_eq!(portfolios, ["best", "candidates", "weights"]);
    let run = gql(&server, Some(&alice), public_run, Value::Null).await;
    assert_eq!(
        names(&run, "/data/project/run/inputArtifacts/edges", "/node/id"),
        std::slice::from_ref(&artifact_id)
    );

    for key in [Some(bob.as_str()), None] {
        let seen = gql(&server, key, walk, json!({ "id": artifact_id })).await;
        assert_eq!(errors(&seen), Vec::<String>::new(), "{seen}");
        let artifact = &seen["data"]["artifact"];
        assert!(
            artifact["id"].is_string(),
            "readable through the public link: {seen}"
        );
        assert_eq!(artifact["createdBy"], Value::Null, "{seen}");
        assert_eq!(
            names(&seen, "/data/artifact/usedBy/edges", "/node/name"),
            ["user-public"]
        );
        let portfolios = names(
            &seen,
            "/data/artifact/artifactMemberships/edges",
            "/node/artifactCollection/name",
        );
        assert!(
            portfolios.contains(&"best".to_owned())
                && !portfolios.contains(&"candidates".to_owned()),
            "{seen}"
        );
        // The public run that used it does not list it: a run's inputs show only versions of
        // projects the caller may read, the stricter rule.
        let run = gql(&server, key, public_run, Value::Null).await;
        assert_eq!(errors(&run), Vec::<String>::new(), "{run}");
        assert_eq!(
            run["data"]["project"]["run"]["name"], "user-public",
            "{run}"
        );
        assert_eq!(
            names(&run, "/data/project/run/inputArtifacts/edges", "/node/id"),
            Vec::<String>::new(),
            "{run}"
        );
        // The native lineage agrees: no logging run, only the public user.
        let lineage: cairn_api::Lineage = server
            .call(Method::GET, &cairn_api::routes::lineage(&version.id), key)
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(lineage.logged_by, None);
        let used: Vec<&str> = lineage.used_by.iter().map(|run| run.id.as_str()).collect();
        assert_eq!(used, ["user-public"]);
    }
}
