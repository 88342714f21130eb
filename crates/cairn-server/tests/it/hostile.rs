//! The hostile suite: what an attacker would try, table-driven, against the real server over
//! loopback HTTP. Every case also checks that nothing a client sends gets a 5xx.
//!
//! * Deduplication never grants bytes: a caller who lists someone else's private content in a
//!   manifest (in an open project, a team's project, their own project) is asked for the bytes,
//!   cannot commit without them and cannot read them through the pending version; the receipt
//!   is the same whether or not the server holds the content. A caller who can read the content
//!   is not asked again.
//! * Cross-tenant reads, bad keys (two `Authorization` headers included), malicious manifest
//!   keys, impossible sizes, blob integrity, body limits, `Range` abuse and percent-encoded
//!   traversal in routes.

use cairn_api::{
    CreateTeam, CreatedVersion, ErrorCode, ManifestReceipt, Problem, SetTeamMember, Version,
    Visibility, routes,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Files, Server, create_request, log};

/// The server on a loopback port, and the accounts of the scenarios.
struct World {
    server: Server,
    base: String,
    http: reqwest::Client,
    alice: String,
    bob: String,
    carol: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Alice,
    Bob,
    Carol,
}

/// An answer, read.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Answer {
    fn code(&self) -> Option<ErrorCode> {
        serde_json::from_slice::<Problem>(&self.body)
            .ok()
            .map(|problem| problem.code)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Private content of alice's (large: stored as a file) and of the team's (small: packed).
fn alice_secret() -> Files {
    Files::new(&[("weights.bin", &[7_u8; 100_000])])
}

fn alice_small_secret() -> Files {
    Files::new(&[("notes.txt", b"alice's private notes")])
}

fn team_secret() -> Files {
    Files::new(&[("labels.csv", b"team private labels")])
}

fn public_content() -> Files {
    Files::new(&[("readme.md", b"everyone may read this")])
}

impl World {
    /// alice owns `alice/private` (with her secrets), `alice/open` (open) and `alice/public`
    /// (public, with public content); team `vision` (alice admin, carol member) owns
    /// `vision/private` (with the team secret) and `vision/open`; bob belongs to nothing.
    async fn start() -> Self {
        let server = Server::start().await;
        let alice = server.user("alice").await;
        let bob = server.user("bob").await;
        let carol = server.user("carol").await;
        for (files, project) in [
            (alice_secret(), "private"),
            (alice_small_secret(), "private"),
        ] {
            let name = files.files[0].0.replace('.', "-");
            log(
                &server,
                &alice,
                "alice",
                project,
                create_request(&name, &files),
                &files,
            )
            .await;
        }
        log(
            &server,
            &alice,
            "alice",
            "public",
            create_request("docs", &public_content()),
            &public_content(),
        )
        .await;
        server
            .set_visibility("alice", "open", Visibility::Open)
            .await;
        server
            .set_visibility("alice", "public", Visibility::Public)
            .await;
        server
            .call_json(
                Method::POST,
                routes::TEAMS,
                Some(&alice),
                &CreateTeam {
                    name: "vision".to_owned(),
                },
            )
            .await
            .expect(StatusCode::CREATED);
        server
            .call_json(
                Method::PUT,
                &routes::team_member("vision", "carol"),
                Some(&alice),
                &SetTeamMember {
                    role: cairn_api::Role::Member,
                },
            )
            .await
            .expect(StatusCode::OK);
        log(
            &server,
            &alice,
            "vision",
            "private",
            create_request("labels", &team_secret()),
            &team_secret(),
        )
        .await;
        server
            .set_visibility("vision", "open", Visibility::Open)
            .await;
        server.set_visibility("bob", "open", Visibility::Open).await;
        server
            .set_visibility("bob", "public", Visibility::Public)
            .await;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = server.state.clone();
        tokio::spawn(async move {
            let _ = cairn_server::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await;
        });
        Self {
            server,
            base,
            http: reqwest::Client::new(),
            alice,
            bob,
            carol,
            stop: Some(stop),
        }
    }

    fn key(&self, who: Who) -> Option<&str> {
        match who {
            Who::Anonymous => None,
            Who::Alice => Some(&self.alice),
            Who::Bob => Some(&self.bob),
            Who::Carol => Some(&self.carol),
        }
    }

    /// Sends a request with `authorization` header values (none, one, or several).
    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        authorization: &[String],
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for value in authorization {
            request = request.header("authorization", value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body).send().await.unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap().to_vec();
        assert!(
            status.as_u16() < 500,
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Answer { status, body }
    }

    async fn send(&self, who: Who, method: Method, path: &str, body: Vec<u8>) -> Answer {
        let authorization: Vec<String> = self
            .key(who)
            .map(|key| format!("Bearer {key}"))
            .into_iter()
            .collect();
        let headers: &[(&str, &str)] = if body.first() == Some(&b'{') {
            &[("content-type", "application/json")]
        } else {
            &[]
        };
        self.send_raw(method, path, &authorization, headers, body)
            .await
    }

    /// Starts a version of `files` in `entity/project` as `who` and uploads its manifest.
    async fn begin(
        &self,
        who: Who,
        entity: &str,
        project: &str,
        files: &Files,
    ) -> (String, ManifestReceipt) {
        let request = serde_json::to_vec(&create_request("loot", files)).unwrap();
        let created = self
            .send(
                who,
                Method::POST,
                &routes::versions(entity, project),
                request,
            )
            .await;
        // `200` when an earlier attempt left a pending version of the same digest.
        assert!(created.status.is_success(), "{}", created.text());
        let created: CreatedVersion = serde_json::from_slice(&created.body).unwrap();
        let id = created.version.id;
        let receipt = self
            .send(
                who,
                Method::PUT,
                &routes::manifest(&id),
                files.manifest_bytes(),
            )
            .await;
        assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.text());
        (id, serde_json::from_slice(&receipt.body).unwrap())
    }
}

/// One deduplication attempt: `who` lists `files` (content they did not upload) in a version of
/// `entity/project`; `missing` says whether the server must ask for the bytes.
struct Dedup {
    what: &'static str,
    who: Who,
    entity: &'static str,
    project: &'static str,
    files: fn() -> Files,
    missing: bool,
}

#[tokio::test]
async fn deduplication_never_grants_bytes_the_caller_could_not_read() {
    let world = World::start().await;
    let cases = [
        Dedup {
            what: "bob lists alice's private file in alice's open project",
            who: Who::Bob,
            entity: "alice",
            project: "open",
            files: alice_secret,
            missing: true,
        },
        Dedup {
            what: "bob lists alice's small (packed) private file in alice's open project",
            who: Who::Bob,
            entity: "alice",
            project: "open",
            files: alice_small_secret,
            missing: true,
        },
        Dedup {
            what: "bob lists the team's private file in the team's open project",
            who: Who::Bob,
            entity: "vision",
            project: "open",
            files: team_secret,
            missing: true,
        },
        Dedup {
            what: "bob lists alice's private file in his own (open) project",
            who: Who::Bob,
            entity: "bob",
            project: "open",
            files: alice_secret,
            missing: true,
        },
        Dedup {
            what: "bob lists alice's private file in his own public project",
            who: Who::Bob,
            entity: "bob",
            project: "public",
            files: alice_secret,
            missing: true,
        },
        Dedup {
            what: "carol, a team member, lists alice's private file in the team's open project",
            who: Who::Carol,
            entity: "vision",
            project: "open",
            files: alice_secret,
            missing: true,
        },
        Dedup {
            what: "carol may read the team's file, so lists it in alice's open project for free",
            who: Who::Carol,
            entity: "alice",
            project: "open",
            files: team_secret,
            missing: false,
        },
        Dedup {
            what: "alice reuses her own private file in her open project",
            who: Who::Alice,
            entity: "alice",
            project: "open",
            files: alice_secret,
            missing: false,
        },
        Dedup {
            what: "bob reuses public content in his own project",
            who: Who::Bob,
            entity: "bob",
            project: "mine",
            files: public_content,
            missing: false,
        },
    ];
    for case in &cases {
        let files = (case.files)();
        let (md5, _) = (files.md5(&files.files[0].0), ());
        let (id, receipt) = world
            .begin(case.who, case.entity, case.project, &files)
            .await;
        let listed = receipt.missing.iter().any(|blob| blob.md5.to_hex() == md5);
        assert_eq!(listed, case.missing, "{}: {receipt:?}", case.what);
        let read = world
            .send(case.who, Method::GET, &routes::blob(&id, &md5), Vec::new())
            .await;
        let commit = world
            .send(case.who, Method::POST, &routes::commit(&id), Vec::new())
            .await;
        if case.missing {
            assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", case.what);
            assert_eq!(
                commit.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}",
                case.what
            );
            assert_eq!(
                commit.code(),
                Some(ErrorCode::MissingBlobs),
                "{}",
                case.what
            );
            for who in [Who::Anonymous, Who::Bob, Who::Carol] {
                let read = world
                    .send(who, Method::GET, &routes::blob(&id, &md5), Vec::new())
                    .await;
                assert_eq!(read.status, StatusCode::NOT_FOUND, "{}: {who:?}", case.what);
            }
        } else {
            assert_eq!(read.status, StatusCode::NOT_FOUND, "{}: pending", case.what);
            assert_eq!(
                commit.status,
                StatusCode::OK,
                "{}: {}",
                case.what,
                commit.text()
            );
            let version: Version = serde_json::from_slice(&commit.body).unwrap();
            let read = world
                .send(
                    case.who,
                    Method::GET,
                    &routes::blob(&version.id, &md5),
                    Vec::new(),
                )
                .await;
            assert_eq!(read.status, StatusCode::OK, "{}", case.what);
            assert_eq!(read.body, files.files[0].1, "{}", case.what);
        }
    }
}

#[tokio::test]
async fn receipts_do_not_tell_whether_the_server_holds_content() {
    let world = World::start().await;
    // Same size and shape: one is alice's private file, one was never uploaded by anyone.
    let held = alice_small_secret();
    let unknown = Files::new(&[("notes.txt", b"nobody has the bytes!")]);
    assert_eq!(held.files[0].1.len(), unknown.files[0].1.len());
    let mut receipts = Vec::new();
    for files in [&held, &unknown] {
        let (id, receipt) = world.begin(Who::Bob, "alice", "open", files).await;
        assert_eq!(receipt.missing.len(), 1);
        let commit = world
            .send(Who::Bob, Method::POST, &routes::commit(&id), Vec::new())
            .await;
        assert_eq!(commit.code(), Some(ErrorCode::MissingBlobs));
        receipts.push((receipt.missing[0].size, commit.status));
    }
    assert_eq!(receipts[0], receipts[1]);
}

#[tokio::test]
async fn sending_the_bytes_makes_the_version_whole_and_stores_them_once() {
    let world = World::start().await;
    let files = alice_secret();
    let md5 = files.md5("weights.bin");
    let (id, receipt) = world.begin(Who::Bob, "alice", "open", &files).await;
    assert_eq!(receipt.missing.len(), 1);
    // Wrong bytes of the right size are refused; the right ones are accepted.
    let wrong = world
        .send(
            Who::Bob,
            Method::PUT,
            &routes::blob(&id, &md5),
            vec![8_u8; 100_000],
        )
        .await;
    assert_eq!(wrong.code(), Some(ErrorCode::DigestMismatch));
    let right = world
        .send(
            Who::Bob,
            Method::PUT,
            &routes::blob(&id, &md5),
            files.blob(&md5),
        )
        .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text());
    // Pending: bob reads what he sent; then the commit succeeds and anyone reads it.
    let pending = world
        .send(Who::Bob, Method::GET, &routes::blob(&id, &md5), Vec::new())
        .await;
    assert_eq!(pending.body, files.blob(&md5));
    let commit = world
        .send(Who::Bob, Method::POST, &routes::commit(&id), Vec::new())
        .await;
    assert_eq!(commit.status, StatusCode::OK, "{}", commit.text());
    let anonymous = world
        .send(
            Who::Anonymous,
            Method::GET,
            &routes::blob(&id, &md5),
            Vec::new(),
        )
        .await;
    assert_eq!(anonymous.body, files.blob(&md5));
    let stored = fs_err::read_dir(world.server.data_dir().join("blobs"))
        .unwrap()
        .flat_map(|dir| fs_err::read_dir(dir.unwrap().path()).unwrap())
        .count();
    assert_eq!(stored, 1);
}

/// A request of the generic table: who, what, and the status (and code) it must get.
struct Case {
    what: &'static str,
    who: Who,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    code: Option<ErrorCode>,
}

fn case(what: &'static str, who: Who, method: Method, path: String, status: u16) -> Case {
    Case {
        what,
        who,
        method,
        path,
        headers: Vec::new(),
        body: Vec::new(),
        status,
        code: None,
    }
}

impl Case {
    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn code(mut self, code: ErrorCode) -> Self {
        self.code = Some(code);
        self
    }
}

async fn run(world: &World, cases: Vec<Case>) {
    for case in cases {
        let mut authorization = Vec::new();
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for (name, value) in &case.headers {
            if *name == "authorization" {
                authorization.push(value.clone());
            } else {
                headers.push((name, value.as_str()));
            }
        }
        if let Some(key) = world.key(case.who) {
            authorization.push(format!("Bearer {key}"));
        }
        let answer = world
            .send_raw(
                case.method.clone(),
                &case.path,
                &authorization,
                &headers,
                case.body.clone(),
            )
            .await;
        assert_eq!(
            answer.status.as_u16(),
            case.status,
            "{}: {} {} answered {}",
            case.what,
            case.method,
            case.path,
            answer.text()
        );
        if let Some(code) = case.code {
            assert_eq!(
                answer.code(),
                Some(code),
                "{}: {}",
                case.what,
                answer.text()
            );
        }
    }
}

/// The ids of alice's committed private version and of the blob in it.
async fn alice_private(world: &World) -> (String, String) {
    let answer = world
        .send(
            Who::Alice,
            Method::GET,
            &routes::version_by_name("alice", "private", "weights-bin", "latest"),
            Vec::new(),
        )
        .await;
    let version: Version = serde_json::from_slice(&answer.body).unwrap();
    (version.id, alice_secret().md5("weights.bin"))
}

#[tokio::test]
async fn cross_tenant_reads_and_bad_keys_are_refused() {
    let world = World::start().await;
    let (id, md5) = alice_private(&world).await;
    let mut cases = Vec::new();
    for who in [Who::Anonymous, Who::Bob] {
        for path in [
            routes::project("alice", "private"),
            routes::collections("alice", "private"),
            routes::collection("alice", "private", "weights-bin"),
            routes::collection_versions("alice", "private", "weights-bin"),
            routes::version_by_name("alice", "private", "weights-bin", "v0"),
            routes::version(&id),
            routes::manifest(&id),
            routes::blob(&id, &md5),
            routes::lineage(&id),
            routes::team("vision"),
        ] {
            let status = if who == Who::Anonymous && path == routes::team("vision") {
                401
            } else {
                404
            };
            cases.push(case(
                "another tenant's private data",
                who,
                Method::GET,
                path,
                status,
            ));
        }
    }
    let blob = routes::blob(&id, &md5);
    let basic = |text: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    };
    for (what, value) in [
        (
            "unknown key",
            "Bearer cairn-0000000000000000000000000000000000000000000000ff".to_owned(),
        ),
        ("empty bearer", "Bearer ".to_owned()),
        ("unknown scheme", "Digest abc".to_owned()),
        ("basic without a colon", basic("cairn-abc")),
        ("basic with an empty key", basic("api:")),
        ("basic that is not base64", "Basic ***".to_owned()),
    ] {
        cases.push(
            case(what, Who::Anonymous, Method::GET, blob.clone(), 401)
                .header("authorization", value)
                .code(ErrorCode::Unauthenticated),
        );
    }
    // Two credentials: neither is used, even when both are valid or one is alice's own.
    let alice = format!("Bearer {}", world.alice);
    let bob = format!("Bearer {}", world.bob);
    for (first, second) in [
        (alice.clone(), bob.clone()),
        (bob, alice.clone()),
        (alice.clone(), alice),
    ] {
        cases.push(
            case(
                "two authorization headers",
                Who::Anonymous,
                Method::GET,
                blob.clone(),
                401,
            )
            .header("authorization", first)
            .header("authorization", second)
            .code(ErrorCode::Unauthenticated),
        );
    }
    run(&world, cases).await;
}

/// A manifest whose single entry has `key` and `entry` JSON, and its artifact digest.
fn raw_manifest(contents: &str) -> (Vec<u8>, String) {
    let text = format!(
        r#"{{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {{}}, "contents": {{{contents}}}}}"#
    );
    // The digest the attacker declares: the preimage of the raw keys, as a client would hash
    // them (the server must refuse the keys, not trip over the digest).
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let pairs: Vec<(String, String)> = value["contents"]
        .as_object()
        .map(|contents| {
            contents
                .iter()
                .map(|(key, entry)| {
                    (
                        key.clone(),
                        entry["digest"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let digest = cairn_manifest::artifact_digest_of(
        pairs
            .iter()
            .map(|(key, digest)| (key.as_str(), digest.as_str())),
        cairn_manifest::DigestAlgorithm::Md5,
    );
    (text.into_bytes(), digest)
}

#[tokio::test]
async fn malicious_manifests_are_refused_and_leave_nothing_behind() {
    let world = World::start().await;
    let digest = "1B2M2Y8AsgTpgAmY7PhCfg==";
    let mut cases = Vec::new();
    let bad: Vec<(&'static str, String)> = vec![
        (
            "parent traversal",
            format!(r#""../escape": {{"digest": "{digest}", "size": 0}}"#),
        ),
        (
            "inner traversal",
            format!(r#""a/../../b": {{"digest": "{digest}", "size": 0}}"#),
        ),
        (
            "absolute path",
            format!(r#""/etc/passwd": {{"digest": "{digest}", "size": 0}}"#),
        ),
        (
            "windows drive",
            format!(r#""C:\\x": {{"digest": "{digest}", "size": 0}}"#),
        ),
        (
            "windows traversal",
            format!(r#""a\\..\\..\\b": {{"digest": "{digest}", "size": 0}}"#),
        ),
        (
            "NUL in a key",
            format!(r#""a\u0000b": {{"digest": "{digest}", "size": 0}}"#),
        ),
        (
            "non-normal key",
            format!(r#""a//b": {{"digest": "{digest}", "size": 0}}"#),
        ),
        (
            "empty key",
            format!(r#""": {{"digest": "{digest}", "size": 0}}"#),
        ),
        (
            "size 2^63",
            format!(r#""a": {{"digest": "{digest}", "size": 9223372036854775808}}"#),
        ),
        (
            "size 2^64-1",
            format!(r#""a": {{"digest": "{digest}", "size": 18446744073709551615}}"#),
        ),
        (
            "size past u64",
            format!(r#""a": {{"digest": "{digest}", "size": 18446744073709551616}}"#),
        ),
        (
            "negative size",
            format!(r#""a": {{"digest": "{digest}", "size": -1}}"#),
        ),
        (
            "sizes that add up past 2^63-1",
            format!(
                r#""a": {{"digest": "{digest}", "size": 9223372036854775807}}, "b": {{"digest": "{digest}", "size": 1}}"#
            ),
        ),
        (
            "digest not base64",
            r#""a": {"digest": "not an md5", "size": 1}"#.to_owned(),
        ),
        (
            "file without size",
            format!(r#""a": {{"digest": "{digest}"}}"#),
        ),
    ];
    for (what, contents) in bad {
        let (bytes, artifact_digest) = raw_manifest(&contents);
        let request = json!({
            "collection": "evil",
            "artifact_type": "dataset",
            "digest": artifact_digest,
        });
        let created = world
            .send(
                Who::Bob,
                Method::POST,
                &routes::versions("bob", "evil"),
                request.to_string().into_bytes(),
            )
            .await;
        let id = match created.status {
            StatusCode::CREATED | StatusCode::OK => {
                serde_json::from_slice::<CreatedVersion>(&created.body)
                    .unwrap()
                    .version
                    .id
            }
            other => panic!("{what}: creating the version answered {other}"),
        };
        cases.push(
            case(what, Who::Bob, Method::PUT, routes::manifest(&id), 400)
                .body(bytes)
                .code(ErrorCode::InvalidManifest),
        );
        // Nothing was kept: the version still has no manifest.
        cases.push(
            case(what, Who::Bob, Method::GET, routes::manifest(&id), 409)
                .code(ErrorCode::ManifestMissing),
        );
    }
    run(&world, cases).await;
}

#[tokio::test]
async fn blob_integrity_limits_ranges_and_encoded_traversal() {
    let world = World::start().await;
    let files = Files::new(&[("big.bin", &[3_u8; 70_000]), ("small.txt", b"small")]);
    let (id, _) = world.begin(Who::Bob, "bob", "data", &files).await;
    let big = files.md5("big.bin");
    let small = files.md5("small.txt");
    let (private_id, private_md5) = alice_private(&world).await;
    let mut cases = vec![
        case(
            "wrong bytes",
            Who::Bob,
            Method::PUT,
            routes::blob(&id, &big),
            422,
        )
        .body(vec![4_u8; 70_000])
        .code(ErrorCode::DigestMismatch),
        case(
            "short body",
            Who::Bob,
            Method::PUT,
            routes::blob(&id, &big),
            422,
        )
        .body(vec![3_u8; 69_999])
        .code(ErrorCode::SizeMismatch),
        case(
            "long body",
            Who::Bob,
            Method::PUT,
            routes::blob(&id, &small),
            422,
        )
        .body(b"small!".to_vec())
        .code(ErrorCode::SizeMismatch),
        case(
            "a blob the manifest does not list",
            Who::Bob,
            Method::PUT,
            routes::blob(&id, &private_md5),
            404,
        )
        .body(vec![7_u8; 100_000]),
        case(
            "a malformed blob id",
            Who::Bob,
            Method::PUT,
            routes::blob(&id, "../../x"),
            400,
        ),
        // Nothing of the refused uploads is readable.
        case(
            "refused upload",
            Who::Bob,
            Method::GET,
            routes::blob(&id, &big),
            404,
        ),
    ];
    for (what, range, status) in [
        ("a range past the end", "bytes=100000-", 416),
        ("an empty suffix", "bytes=-0", 416),
        ("a range to u64::MAX", "bytes=0-18446744073709551615", 206),
        ("numbers past u64", "bytes=0-99999999999999999999999", 200),
        ("a start past u64", "bytes=99999999999999999999999-", 200),
        ("a suffix past u64", "bytes=-99999999999999999999999", 200),
        ("many ranges", "bytes=0-1,2-3,4-5,6-7", 200),
        ("a reversed range", "bytes=9-2", 200),
        ("another unit", "items=0-1", 200),
        ("garbage", "bytes=a-", 200),
    ] {
        cases.push(
            case(
                what,
                Who::Alice,
                Method::GET,
                routes::blob(&private_id, &private_md5),
                status,
            )
            .header("range", range),
        );
    }
    for path in [
        "/api/v1/projects/alice/..%2Fprivate/collections".to_owned(),
        "/api/v1/projects/bob/..%2F..%2Falice%2Fprivate/collections".to_owned(),
        "/api/v1/projects/alice/private%00/collections".to_owned(),
        "/api/v1/projects/%2e%2e/private/collections".to_owned(),
        format!("/api/v1/artifacts/{private_id}%2F..%2F{private_id}/manifest"),
        format!("/api/v1/artifacts/..%2F{private_id}/manifest"),
        format!("/api/v1/artifacts/{private_id}/blobs/..%2F{private_md5}"),
        "/api/v1/projects/alice/private/artifacts/..%2F..%2Fweights-bin:v0".to_owned(),
    ] {
        let status = if path.contains("/blobs/") { 400 } else { 404 };
        cases.push(case(
            "percent-encoded traversal",
            Who::Bob,
            Method::GET,
            path,
            status,
        ));
    }
    run(&world, cases).await;
    // Bodies declared over the limits are refused from their headers, before any byte of them.
    for (what, method, path, content_type, length) in [
        (
            "a JSON body over 1 MiB",
            "POST",
            routes::versions("bob", "data"),
            "application/json",
            1024 * 1024 + 1,
        ),
        (
            "a manifest over 64 MiB",
            "PUT",
            routes::manifest(&id),
            "application/json",
            64 * 1024 * 1024 + 1,
        ),
        (
            "a batch over 16 MiB",
            "POST",
            routes::blob_batch(&id),
            cairn_api::batch::CONTENT_TYPE,
            16 * 1024 * 1024 + 1,
        ),
        (
            "a manifest of 2^63 bytes",
            "PUT",
            routes::manifest(&id),
            "application/json",
            1 << 63,
        ),
    ] {
        let (status, body) = declared(&world, method, &path, content_type, length).await;
        assert_eq!(status, 413, "{what}: {body}");
        assert!(body.contains("payload_too_large"), "{what}: {body}");
    }
}

/// Sends only the head of a request whose `Content-Length` is `length`, as bob, and reads the
/// answer's status and body.
async fn declared(
    world: &World,
    method: &str,
    path: &str,
    content_type: &str,
    length: u64,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = world.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n",
        world.bob
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut piece = [0_u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let read = stream.read(&mut piece).await?;
            if read == 0 {
                return Ok::<_, std::io::Error>(());
            }
            answer.extend_from_slice(&piece[..read]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n")
                && let Some(length) = head
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|value| value.parse::<usize>().ok())
                && body.len() >= length
            {
                return Ok(());
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "{path}: no answer to a declared body of {length} bytes"
    );
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0);
    (status, text)
}
