//! The server as a process: bootstrap, restarts, the admin key from the environment, real HTTP
//! on loopback with concurrent logs into one collection, and graceful shutdown.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use cairn_api::{
    CreatedVersion, ManifestReceipt, ServerInfo, ServerStats, Version, VersionList, Viewer, routes,
};
use cairn_server::{AppState, ServerConfig};

use crate::harness::{Files, Server, create_request, log};

/// JSON answers of reqwest (built without its `json` feature).
trait Parse {
    async fn parse<T: serde::de::DeserializeOwned>(self) -> T;
}

impl Parse for reqwest::Response {
    async fn parse<T: serde::de::DeserializeOwned>(self) -> T {
        let status = self.status();
        let bytes = self.bytes().await.unwrap();
        serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!("{status}: {error}: {}", String::from_utf8_lossy(&bytes))
        })
    }
}

#[tokio::test]
async fn first_start_mints_an_admin_key_once_and_restarts_keep_everything() {
    let server = Server::start().await;
    assert_eq!(server.bootstrap.admin_username, "admin");
    let key = server.bootstrap.new_admin_api_key.clone().unwrap();
    assert!(key.starts_with(cairn_api::API_KEY_PREFIX));
    assert!(!format!("{:?}", server.bootstrap).contains(&key));
    let viewer: Viewer = server
        .call(Method::GET, routes::VIEWER, Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(viewer.user.admin);
    let alice = server.user("alice").await;
    let files = Files::new(&[("a", b"a"), ("big", &[5_u8; 100_000])]);
    let version = log(
        &server,
        &key,
        "admin",
        "p",
        create_request("data", &files),
        &files,
    )
    .await;

    let server = server.restart().await;
    assert_eq!(
        server.bootstrap.new_admin_api_key, None,
        "the key is shown only once"
    );
    server
        .call(Method::GET, routes::VIEWER, Some(&alice))
        .await
        .expect(StatusCode::OK);
    let again: Version = server
        .call(
            Method::GET,
            &routes::version_by_name("admin", "p", "data", "v0"),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(again, version);
    for (name, bytes) in &files.files {
        let answer = server
            .call(
                Method::GET,
                &routes::blob(&version.id, &files.md5(name)),
                Some(&key),
            )
            .await;
        assert_eq!(
            answer.expect(StatusCode::OK).body.as_ref(),
            bytes.as_slice()
        );
    }
    // Logging the same content again after the restart is still deduplicated.
    let relog: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &create_request("data", &files),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(relog.version.id, version.id);
}

#[tokio::test]
async fn the_configured_admin_key_is_used_and_later_added() {
    let first_key = "cairn-configured-admin-key-0001";
    let server = Server::start_with(|config| config.with_admin_api_key(first_key)).await;
    assert_eq!(server.bootstrap.new_admin_api_key, None);
    let viewer: Viewer = server
        .call(Method::GET, routes::VIEWER, Some(first_key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(viewer.user.username, "admin");
    let data = server.data_dir();
    let dir = server.dir;
    drop(server.state);
    // A later start with another key adds it; the first keeps working.
    let second_key = "cairn-configured-admin-key-0002";
    let config = ServerConfig::new(&data).with_admin_api_key(second_key);
    let (state, bootstrap) = AppState::open(&config).await.unwrap();
    assert_eq!(bootstrap.new_admin_api_key, None);
    let server = Server {
        app: cairn_server::app(state.clone()),
        state,
        dir,
        admin_key: second_key.to_owned(),
        bootstrap,
    };
    for key in [first_key, second_key] {
        server
            .call(Method::GET, routes::SERVER_STATS, Some(key))
            .await
            .expect(StatusCode::OK);
    }
    // A key too short to be safe is refused at startup.
    let config = ServerConfig::new(&data).with_admin_api_key("short");
    assert!(AppState::open(&config).await.is_err());
}

/// Serves `server`'s state on a loopback port until the returned sender fires.
async fn serve(
    state: AppState,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        cairn_server::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (base, stop, task)
}

/// The logging protocol over real HTTP. A concurrent identical log may commit the shared
/// PENDING version first; then the steps answer `not_pending` and the committed version is
/// fetched instead.
async fn log_over_http(client: &reqwest::Client, base: &str, key: &str, files: &Files) -> Version {
    let created: CreatedVersion = client
        .post(format!("{base}{}", routes::versions("admin", "race")))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&create_request("shared", files)).unwrap())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .parse()
        .await;
    let id = created.version.id;
    let committed_meanwhile =
        |response: &reqwest::Response| response.status() == reqwest::StatusCode::CONFLICT;
    let response = client
        .put(format!("{base}{}", routes::manifest(&id)))
        .bearer_auth(key)
        .body(files.manifest_bytes())
        .send()
        .await
        .unwrap();
    if !committed_meanwhile(&response) {
        let receipt: ManifestReceipt = response.error_for_status().unwrap().parse().await;
        for blob in receipt.missing {
            let response = client
                .put(format!("{base}{}", routes::blob(&id, &blob.md5.to_hex())))
                .bearer_auth(key)
                .body(files.blob(&blob.md5.to_hex()))
                .send()
                .await
                .unwrap();
            if committed_meanwhile(&response) {
                break;
            }
            response.error_for_status().unwrap();
        }
        let response = client
            .post(format!("{base}{}", routes::commit(&id)))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        if !committed_meanwhile(&response) {
            return response.error_for_status().unwrap().parse().await;
        }
    }
    client
        .get(format!("{base}{}", routes::version(&id)))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .parse()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_logs_get_dense_unique_versions() {
    let server = Server::start().await;
    let (base, stop, task) = serve(server.state.clone()).await;
    let client = reqwest::Client::new();
    let info: ServerInfo = client
        .get(format!("{base}{}", routes::HEALTHZ))
        .send()
        .await
        .unwrap()
        .parse()
        .await;
    assert_eq!(info.api_version, cairn_api::API_VERSION);
    assert_eq!(info.blob_store, "local");
    let key = Arc::new(server.admin_key.clone());
    let mut tasks = Vec::new();
    for index in 0..16_u32 {
        let (client, base, key) = (client.clone(), base.clone(), Arc::clone(&key));
        tasks.push(tokio::spawn(async move {
            let files = Files::new(&[
                ("shared.txt", b"the same in every version"),
                ("own.txt", format!("content {index}").as_bytes()),
                ("big.bin", &vec![u8::try_from(index).unwrap(); 80_000]),
            ]);
            log_over_http(&client, &base, &key, &files).await
        }));
    }
    let mut indexes = Vec::new();
    for task in tasks {
        indexes.push(task.await.unwrap().version_index.unwrap());
    }
    indexes.sort_unstable();
    assert_eq!(indexes, (0..16).collect::<Vec<u64>>());
    let listed: VersionList = client
        .get(format!(
            "{base}{}",
            routes::collection_versions("admin", "race", "shared")
        ))
        .bearer_auth(key.as_str())
        .send()
        .await
        .unwrap()
        .parse()
        .await;
    assert_eq!(listed.versions.len(), 16);
    assert_eq!(listed.versions[0].aliases, vec!["latest"]);
    let stats: ServerStats = client
        .get(format!("{base}{}", routes::SERVER_STATS))
        .bearer_auth(key.as_str())
        .send()
        .await
        .unwrap()
        .parse()
        .await;
    assert_eq!(stats.versions_committed, 16);
    stop.send(()).unwrap();
    task.await.unwrap();
    // After a graceful shutdown the data directory opens again with everything in it.
    let server = server.restart().await;
    let listed: VersionList = server
        .call(
            Method::GET,
            &routes::collection_versions("admin", "race", "shared"),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(listed.versions.len(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_logs_commit_one_version() {
    let server = Server::start().await;
    let (base, stop, task) = serve(server.state.clone()).await;
    // A fresh connection per request: an upload refused before its body was read (the
    // version was discarded meanwhile) closes its connection, and a pooled client can race
    // that close with its next request (`IncompleteMessage`).
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let files = Files::new(&[("a", b"same"), ("b", &[3_u8; 90_000])]);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (client, base, key, files) = (
            client.clone(),
            base.clone(),
            server.admin_key.clone(),
            files.clone(),
        );
        tasks.push(tokio::spawn(async move {
            log_over_http(&client, &base, &key, &files).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().version_index, Some(0));
    }
    stop.send(()).unwrap();
    task.await.unwrap();
    let listed: VersionList = server
        .call(
            Method::GET,
            &routes::collection_versions("admin", "race", "shared"),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(listed.versions.len(), 1);
}
