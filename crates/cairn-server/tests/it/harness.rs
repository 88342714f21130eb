//! The test harness: a server on a temporary data directory, requests through `oneshot`, and
//! helpers that build manifests and run the whole logging protocol.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use bytes::Bytes;
use cairn_api::{
    CreateVersion, CreatedApiKey, CreatedVersion, ManifestReceipt, Problem, Version, routes,
};
use cairn_manifest::{DigestAlgorithm, Entry, LogicalPath, Manifest};
use cairn_server::{AppState, Bootstrap, ServerConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tempfile::TempDir;
use tower::ServiceExt as _;

/// A server on its own data directory.
pub(crate) struct Server {
    pub(crate) dir: TempDir,
    pub(crate) state: AppState,
    pub(crate) app: axum::Router,
    pub(crate) admin_key: String,
    pub(crate) bootstrap: Bootstrap,
}

/// An answer, fully read.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "answer {} is not the expected JSON ({error}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The problem body, checking the content type and that the status matches.
    pub(crate) fn problem(&self) -> Problem {
        assert_eq!(
            self.headers.get(header::CONTENT_TYPE).unwrap(),
            cairn_api::PROBLEM_CONTENT_TYPE,
            "{self:?}"
        );
        let problem: Problem = self.json();
        assert_eq!(problem.status, self.status.as_u16());
        problem
    }

    /// Asserts the status and the problem code.
    pub(crate) fn expect_problem(&self, status: StatusCode, code: cairn_api::ErrorCode) -> Problem {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let problem = self.problem();
        assert_eq!(problem.code, code, "{problem:?}");
        problem
    }

    pub(crate) fn expect(&self, status: StatusCode) -> &Self {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

impl Server {
    pub(crate) async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    pub(crate) async fn start_with(configure: impl FnOnce(ServerConfig) -> ServerConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = configure(ServerConfig::new(dir.path().join("data")));
        let (state, bootstrap) = AppState::open(&config).await.unwrap();
        let admin_key = bootstrap
            .new_admin_api_key
            .clone()
            .or(config.admin_api_key.clone())
            .unwrap();
        Self {
            dir,
            app: cairn_server::app(state.clone()),
            state,
            admin_key,
            bootstrap,
        }
    }

    /// Opens the same data directory again, as a restarted server would.
    pub(crate) async fn restart(self) -> Self {
        let Self {
            dir,
            state,
            admin_key,
            ..
        } = self;
        drop(state);
        let (state, bootstrap) = AppState::open(&ServerConfig::new(dir.path().join("data")))
            .await
            .unwrap();
        Self {
            app: cairn_server::app(state.clone()),
            dir,
            state,
            admin_key,
            bootstrap,
        }
    }

    pub(crate) fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn request(
        method: Method,
        path: &str,
        key: Option<&str>,
    ) -> axum::http::request::Builder {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        builder
    }

    pub(crate) async fn call(&self, method: Method, path: &str, key: Option<&str>) -> Answer {
        self.send(
            Self::request(method, path, key)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub(crate) async fn call_json(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        value: &impl Serialize,
    ) -> Answer {
        let body = serde_json::to_vec(value).unwrap();
        self.send(
            Self::request(method, path, key)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    pub(crate) async fn call_bytes(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        bytes: impl Into<Bytes>,
    ) -> Answer {
        self.send(
            Self::request(method, path, key)
                .body(Body::from(bytes.into()))
                .unwrap(),
        )
        .await
    }

    /// Creates a user; returns their key.
    pub(crate) async fn user(&self, username: &str) -> String {
        let answer = self
            .call_json(
                Method::POST,
                routes::USERS,
                Some(&self.admin_key),
                &cairn_api::CreateUser {
                    username: username.to_owned(),
                    admin: false,
                },
            )
            .await;
        answer.expect(StatusCode::CREATED);
        answer.json::<CreatedApiKey>().api_key
    }

    /// Moves the clock of a server started `with_test_clock` forward (as the admin).
    pub(crate) async fn advance_clock(&self, seconds: u64) {
        self.call_json(
            Method::POST,
            routes::SERVER_CLOCK,
            Some(&self.admin_key),
            &cairn_api::AdvanceClock { seconds },
        )
        .await
        .expect(StatusCode::OK);
    }

    /// Runs one garbage collection now (as the admin) and answers its report.
    pub(crate) async fn collect_garbage(&self, dry_run: bool) -> cairn_api::GarbageReport {
        self.call_json(
            Method::POST,
            routes::SERVER_GC,
            Some(&self.admin_key),
            &cairn_api::CollectGarbage { dry_run },
        )
        .await
        .expect(StatusCode::OK)
        .json()
    }

    /// Users `alice` and `bob`, and team `lab` with alice as its admin and bob as a member;
    /// answers their keys.
    pub(crate) async fn lab_team(&self) -> (String, String) {
        let alice = self.user("alice").await;
        let bob = self.user("bob").await;
        self.call_json(
            Method::POST,
            cairn_api::routes::TEAMS,
            Some(&alice),
            &cairn_api::CreateTeam {
                name: "lab".to_owned(),
            },
        )
        .await
        .expect(StatusCode::CREATED);
        self.call_json(
            Method::PUT,
            &cairn_api::routes::team_member("lab", "bob"),
            Some(&alice),
            &cairn_api::SetTeamMember {
                role: cairn_api::Role::Member,
            },
        )
        .await
        .expect(StatusCode::OK);
        (alice, bob)
    }

    /// Sets a project's visibility (as the admin).
    pub(crate) async fn set_visibility(
        &self,
        entity: &str,
        project: &str,
        visibility: cairn_api::Visibility,
    ) {
        let answer = self
            .call_json(
                Method::PUT,
                &routes::project(entity, project),
                Some(&self.admin_key),
                &cairn_api::UpsertProject {
                    visibility: Some(visibility),
                },
            )
            .await;
        assert!(answer.status.is_success(), "{answer:?}");
    }
}

/// Files of an artifact, and the manifest and digest they make.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    pub(crate) files: Vec<(String, Vec<u8>)>,
}

impl Files {
    pub(crate) fn new(files: &[(&str, &[u8])]) -> Self {
        Self {
            files: files
                .iter()
                .map(|(path, bytes)| ((*path).to_owned(), bytes.to_vec()))
                .collect(),
        }
    }

    pub(crate) fn manifest(&self) -> Manifest {
        let mut manifest = Manifest::new();
        for (path, bytes) in &self.files {
            let digest = cairn_hash::md5(bytes).to_base64();
            manifest
                .add(
                    LogicalPath::new(path).unwrap(),
                    Entry::file(digest, bytes.len() as u64),
                    true,
                )
                .unwrap();
        }
        manifest
    }

    pub(crate) fn manifest_bytes(&self) -> Vec<u8> {
        self.manifest().to_core_json().into_bytes()
    }

    pub(crate) fn digest(&self) -> String {
        self.manifest().digest(DigestAlgorithm::Md5)
    }

    /// The bytes of the blob with this MD5.
    pub(crate) fn blob(&self, md5: &str) -> Vec<u8> {
        self.files
            .iter()
            .find(|(_, bytes)| cairn_hash::md5(bytes).to_hex() == md5)
            .map(|(_, bytes)| bytes.clone())
            .unwrap()
    }

    pub(crate) fn md5(&self, path: &str) -> String {
        self.files
            .iter()
            .find(|(name, _)| name == path)
            .map(|(_, bytes)| cairn_hash::md5(bytes).to_hex())
            .unwrap()
    }
}

pub(crate) fn create_request(collection: &str, files: &Files) -> CreateVersion {
    CreateVersion {
        collection: collection.to_owned(),
        artifact_type: "dataset".to_owned(),
        digest: cairn_hash::Md5Digest::from_hex(&files.digest()).unwrap(),
        description: None,
        metadata: serde_json::Map::new(),
        aliases: Vec::new(),
        tags: Vec::new(),
        run: None,
        distributed_id: None,
        ttl: None,
    }
}

/// The first two steps of the protocol for a new version: create it (expecting `201 Created`)
/// and upload its manifest; answers the new version and the blobs the server asks for.
pub(crate) async fn begin_log(
    server: &Server,
    key: &str,
    entity: &str,
    project: &str,
    request: &CreateVersion,
    files: &Files,
) -> (CreatedVersion, ManifestReceipt) {
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions(entity, project),
            Some(key),
            request,
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let receipt = upload_manifest(server, key, &created.version.id, files).await;
    (created, receipt)
}

/// Uploads the manifest of `files` to version `id`, expecting `200 OK`.
pub(crate) async fn upload_manifest(
    server: &Server,
    key: &str,
    id: &str,
    files: &Files,
) -> ManifestReceipt {
    server
        .call_bytes(
            Method::PUT,
            &routes::manifest(id),
            Some(key),
            files.manifest_bytes(),
        )
        .await
        .expect(StatusCode::OK)
        .json()
}

/// Runs the whole protocol: create, manifest, upload every missing blob one by one, commit.
pub(crate) async fn log(
    server: &Server,
    key: &str,
    entity: &str,
    project: &str,
    request: CreateVersion,
    files: &Files,
) -> Version {
    let answer = server
        .call_json(
            Method::POST,
            &routes::versions(entity, project),
            Some(key),
            &request,
        )
        .await;
    assert!(answer.status.is_success(), "{answer:?}");
    let created: CreatedVersion = answer.json();
    if created.status == cairn_api::CreateVersionStatus::Existing {
        return created.version;
    }
    let id = created.version.id.clone();
    let receipt = upload_manifest(server, key, &id, files).await;
    for blob in &receipt.missing {
        server
            .call_bytes(
                Method::PUT,
                &routes::blob(&id, &blob.md5.to_hex()),
                Some(key),
                files.blob(&blob.md5.to_hex()),
            )
            .await
            .expect(StatusCode::OK);
    }
    server
        .call(Method::POST, &routes::commit(&id), Some(key))
        .await
        .expect(StatusCode::OK)
        .json()
}
