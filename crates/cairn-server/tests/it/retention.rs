//! Retention: TTLs (own, inherited from the team default, switched off), who may set them,
//! the refusals for auto-generated types and the model registry, and sweeping expired versions
//! with a clock the test moves.

use axum::http::{Method, StatusCode};
use cairn_api::{
    AdvanceClock, CreateLink, ErrorCode, SweepReport, TeamSettings, TtlEditors, TtlSetting,
    UpdateProtectedAliases, UpdateTeamSettings, UpdateVersion, Version, routes,
};

use crate::harness::{Files, Server, create_request, log};

fn request(
    name: &str,
    artifact_type: &str,
    bytes: &[u8],
    ttl: Option<TtlSetting>,
) -> (cairn_api::CreateVersion, Files) {
    let files = Files::new(&[("data.bin", bytes)]);
    let mut request = create_request(name, &files);
    request.artifact_type = artifact_type.to_owned();
    request.ttl = ttl;
    (request, files)
}

async fn log_with(
    server: &Server,
    key: &str,
    name: &str,
    artifact_type: &str,
    bytes: &[u8],
    ttl: Option<TtlSetting>,
) -> Version {
    let (request, files) = request(name, artifact_type, bytes, ttl);
    log(server, key, "lab", "p", request, &files).await
}

async fn settings(server: &Server, key: &str, edit: UpdateTeamSettings) -> TeamSettings {
    server
        .call_json(
            Method::PATCH,
            &routes::team_settings("lab"),
            Some(key),
            &edit,
        )
        .await
        .expect(StatusCode::OK)
        .json()
}

#[tokio::test]
async fn ttls_need_the_teams_permission_and_inherit_its_default() {
    let server = Server::start().await;
    let (alice, bob) = server.lab_team().await;

    // By default only team admins set TTLs; the refusal names the setting to change.
    let (refused, _) = request("data", "dataset", b"one", Some(TtlSetting::Seconds(3600)));
    let problem = server
        .call_json(
            Method::POST,
            &routes::versions("lab", "p"),
            Some(&bob),
            &refused,
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    assert!(
        problem.detail.contains("its admins") && problem.detail.contains("ttl-permissions"),
        "{problem:?}"
    );
    // Only admins change the settings.
    server
        .call_json(
            Method::PATCH,
            &routes::team_settings("lab"),
            Some(&bob),
            &UpdateTeamSettings {
                ttl_editors: Some(TtlEditors::Members),
                ..UpdateTeamSettings::default()
            },
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    let allowed = settings(
        &server,
        &alice,
        UpdateTeamSettings {
            ttl_editors: Some(TtlEditors::Members),
            ..UpdateTeamSettings::default()
        },
    )
    .await;
    assert_eq!(allowed.ttl_editors, TtlEditors::Members);

    // Now bob may: the TTL counts from creation.
    let own = log_with(
        &server,
        &bob,
        "data",
        "dataset",
        b"one",
        Some(TtlSetting::Seconds(3600)),
    )
    .await;
    assert_eq!(own.ttl.setting, TtlSetting::Seconds(3600));
    assert_eq!(own.ttl.seconds, Some(3600));
    assert!(!own.ttl.inherited);
    let created = own.created_at.clone();
    let expires = own.ttl.expires_at.clone().unwrap();
    assert!(expires > created, "{created} .. {expires}");

    // A team default applies to inheriting versions at once, not to `none` ones.
    let inheriting = log_with(&server, &bob, "data", "dataset", b"two", None).await;
    assert_eq!(inheriting.ttl.seconds, None);
    let switched_off = log_with(
        &server,
        &bob,
        "data",
        "dataset",
        b"three",
        Some(TtlSetting::None),
    )
    .await;
    let defaults = settings(
        &server,
        &alice,
        UpdateTeamSettings {
            default_ttl: Some(TtlSetting::Seconds(7200)),
            ..UpdateTeamSettings::default()
        },
    )
    .await;
    assert_eq!(defaults.default_ttl_seconds, Some(7200));
    let reread: Version = server
        .call(Method::GET, &routes::version(&inheriting.id), Some(&bob))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (reread.ttl.seconds, reread.ttl.inherited),
        (Some(7200), true)
    );
    let reread: Version = server
        .call(Method::GET, &routes::version(&switched_off.id), Some(&bob))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((reread.ttl.seconds, reread.ttl.inherited), (None, false));

    // Changing a TTL later still counts from creation.
    let changed: Version = server
        .call_json(
            Method::PATCH,
            &routes::version(&own.id),
            Some(&bob),
            &UpdateVersion {
                ttl: Some(TtlSetting::Seconds(60)),
                ..UpdateVersion::default()
            },
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(changed.created_at, created);
    assert!(changed.ttl.expires_at.unwrap() < expires);

    // Auto-generated types never get one, not even the default.
    let table = log_with(&server, &bob, "table", "run_table", b"rows", None).await;
    assert_eq!(table.ttl.seconds, None);
    let (bad, _) = request(
        "table",
        "run_table",
        b"rows2",
        Some(TtlSetting::Seconds(60)),
    );
    let problem = server
        .call_json(
            Method::POST,
            &routes::versions("lab", "p"),
            Some(&bob),
            &bad,
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    assert!(problem.detail.contains("`run_table`"), "{problem:?}");
    // Nor does a zero TTL pass.
    let (zero, _) = request("data", "dataset", b"four", Some(TtlSetting::Seconds(0)));
    server
        .call_json(
            Method::POST,
            &routes::versions("lab", "p"),
            Some(&bob),
            &zero,
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
}

#[tokio::test]
async fn the_sweep_deletes_what_expired_and_keeps_what_is_protected() {
    let server = Server::start_with(cairn_server::ServerConfig::with_test_clock).await;
    let (alice, bob) = server.lab_team().await;
    settings(
        &server,
        &alice,
        UpdateTeamSettings {
            default_ttl: Some(TtlSetting::Seconds(86_400)),
            ttl_editors: Some(TtlEditors::Members),
        },
    )
    .await;
    let short = log_with(
        &server,
        &bob,
        "data",
        "dataset",
        b"a",
        Some(TtlSetting::Seconds(60)),
    )
    .await;
    let inherits = log_with(&server, &bob, "data", "dataset", b"b", None).await;
    let forever = log_with(
        &server,
        &bob,
        "data",
        "dataset",
        b"c",
        Some(TtlSetting::None),
    )
    .await;
    let model = log_with(&server, &bob, "net", "model", b"m", None).await;
    let guarded = log_with(&server, &bob, "guarded", "dataset", b"g", None).await;

    // The model goes into the registry: its TTL cannot be set, and the sweep leaves it.
    server
        .call_json(
            Method::POST,
            &routes::links(&model.id),
            Some(&bob),
            &CreateLink {
                entity: "lab".to_owned(),
                project: "model-registry".to_owned(),
                portfolio: "net".to_owned(),
                aliases: Vec::new(),
            },
        )
        .await
        .expect(StatusCode::CREATED);
    let problem = server
        .call_json(
            Method::PATCH,
            &routes::version(&model.id),
            Some(&bob),
            &UpdateVersion {
                ttl: Some(TtlSetting::Seconds(60)),
                ..UpdateVersion::default()
            },
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    assert!(problem.detail.contains("model registry"), "{problem:?}");
    // `guarded` carries a protected alias.
    server
        .call_json(
            Method::PATCH,
            &routes::protected_aliases("lab", "p"),
            Some(&alice),
            &UpdateProtectedAliases {
                add: vec!["keep".to_owned()],
                remove: Vec::new(),
            },
        )
        .await
        .expect(StatusCode::OK);
    server
        .call_json(
            Method::PATCH,
            &routes::version(&guarded.id),
            Some(&alice),
            &UpdateVersion {
                add_aliases: vec!["keep".to_owned()],
                ..UpdateVersion::default()
            },
        )
        .await
        .expect(StatusCode::OK);

    // Nothing has expired yet; only admins sweep.
    let sweep = |key: String| {
        let server = &server;
        async move {
            server
                .call(Method::POST, routes::SERVER_SWEEP, Some(&key))
                .await
        }
    };
    sweep(bob.clone())
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    let report: SweepReport = sweep(server.admin_key.clone())
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(report, SweepReport::default());

    // Two minutes later `short` is gone, and `latest` moved off it.
    let advance = |seconds: u64| {
        let server = &server;
        async move {
            server
                .call_json(
                    Method::POST,
                    routes::SERVER_CLOCK,
                    Some(&server.admin_key),
                    &AdvanceClock { seconds },
                )
                .await
                .expect(StatusCode::OK);
        }
    };
    advance(120).await;
    let report: SweepReport = sweep(server.admin_key.clone())
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(report.deleted, ["lab/p/data:v0"]);
    server
        .call(Method::GET, &routes::version(&short.id), Some(&bob))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);

    // A day later the inheriting ones go too; the forever one, the registry model and the
    // protected one stay, and the report says why.
    advance(86_400).await;
    let report: SweepReport = sweep(server.admin_key.clone())
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(report.deleted, ["lab/p/data:v1"]);
    let kept: Vec<(&str, bool)> = report
        .kept
        .iter()
        .map(|kept| {
            (
                kept.name.as_str(),
                kept.reason.contains("model registry") || kept.reason.contains("`keep`"),
            )
        })
        .collect();
    assert_eq!(kept.len(), 2, "{report:?}");
    assert!(kept.iter().all(|(_, why)| *why), "{report:?}");
    for (id, alive) in [
        (&inherits.id, false),
        (&forever.id, true),
        (&model.id, true),
        (&guarded.id, true),
    ] {
        let status = server
            .call(Method::GET, &routes::version(id), Some(&bob))
            .await
            .status;
        assert_eq!(status == StatusCode::OK, alive, "{id}");
    }
    let latest: Version = server
        .call(
            Method::GET,
            &routes::version_by_name("lab", "p", "data", "latest"),
            Some(&bob),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(latest.id, forever.id);
}

#[tokio::test]
async fn only_a_test_server_moves_its_clock() {
    let server = Server::start().await;
    let problem = server
        .call_json(
            Method::POST,
            routes::SERVER_CLOCK,
            Some(&server.admin_key),
            &AdvanceClock { seconds: 60 },
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    assert!(problem.detail.contains("--test-clock"), "{problem:?}");
}

async fn create_run(server: &Server, key: &str, id: &str) {
    server
        .call_json(
            Method::POST,
            &routes::runs("lab", "p"),
            Some(key),
            &cairn_api::CreateRun {
                id: Some(id.to_owned()),
                job_type: Some("train".to_owned()),
                resume: cairn_api::ResumeMode::Never,
            },
        )
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn deleting_collections_runs_and_projects_deletes_the_versions_beneath() {
    let server = Server::start().await;
    let (alice, bob) = server.lab_team().await;

    // A collection: protected aliases block it; afterwards its name is free, for another type.
    let first = log_with(&server, &bob, "data", "dataset", b"1", None).await;
    log_with(&server, &bob, "data", "dataset", b"2", None).await;
    server
        .call_json(
            Method::PATCH,
            &routes::protected_aliases("lab", "p"),
            Some(&alice),
            &UpdateProtectedAliases {
                add: vec!["gold".to_owned()],
                remove: Vec::new(),
            },
        )
        .await
        .expect(StatusCode::OK);
    server
        .call_json(
            Method::PATCH,
            &routes::version(&first.id),
            Some(&alice),
            &UpdateVersion {
                add_aliases: vec!["gold".to_owned()],
                ..UpdateVersion::default()
            },
        )
        .await
        .expect(StatusCode::OK);
    let problem = server
        .call(
            Method::DELETE,
            &routes::collection("lab", "p", "data"),
            Some(&bob),
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(problem.detail.contains("`gold`"), "{problem:?}");
    server
        .call_json(
            Method::PATCH,
            &routes::version(&first.id),
            Some(&alice),
            &UpdateVersion {
                remove_aliases: vec!["gold".to_owned()],
                ..UpdateVersion::default()
            },
        )
        .await
        .expect(StatusCode::OK);
    let deletion: cairn_api::Deletion = server
        .call(
            Method::DELETE,
            &routes::collection("lab", "p", "data"),
            Some(&bob),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(deletion.versions_deleted, 2);
    server
        .call(
            Method::GET,
            &routes::collection("lab", "p", "data"),
            Some(&bob),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call(Method::GET, &routes::version(&first.id), Some(&bob))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let listed: cairn_api::CollectionList = server
        .call(Method::GET, &routes::collections("lab", "p"), Some(&bob))
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(listed.collections.is_empty(), "{listed:?}");
    let reborn = log_with(&server, &bob, "data", "model", b"1", None).await;
    assert_eq!(
        (reborn.version_index, reborn.artifact_type.as_str()),
        (Some(0), "model")
    );

    // A run with its artifacts; its id is free again. Without them, they stay.
    create_run(&server, &bob, "r1").await;
    let (mut logged, files) = request("outputs", "dataset", b"out", None);
    logged.run = Some("r1".to_owned());
    let output = log(&server, &bob, "lab", "p", logged, &files).await;
    let deletion: cairn_api::Deletion = server
        .call(
            Method::DELETE,
            &routes::delete_run("lab", "p", "r1", true),
            Some(&bob),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(deletion.versions_deleted, 1);
    server
        .call(Method::GET, &routes::version(&output.id), Some(&bob))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call(Method::GET, &routes::run("lab", "p", "r1"), Some(&bob))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    create_run(&server, &bob, "r1").await;
    let (mut logged, files) = request("outputs", "dataset", b"kept", None);
    logged.run = Some("r1".to_owned());
    let kept = log(&server, &bob, "lab", "p", logged, &files).await;
    assert_eq!(kept.version_index, Some(1), "numbers are never reused");
    server
        .call(
            Method::DELETE,
            &routes::delete_run("lab", "p", "r1", false),
            Some(&bob),
        )
        .await
        .expect(StatusCode::OK);
    let kept: Version = server
        .call(Method::GET, &routes::version(&kept.id), Some(&bob))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(kept.logged_by, None, "the deleted run leaves the lineage");

    // A project: its admins only; everything beneath goes, the name is free again.
    server
        .call(Method::DELETE, &routes::project("lab", "p"), Some(&bob))
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    let deletion: cairn_api::Deletion = server
        .call(Method::DELETE, &routes::project("lab", "p"), Some(&alice))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(deletion.versions_deleted, 2);
    server
        .call(Method::GET, &routes::project("lab", "p"), Some(&alice))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call(Method::GET, &routes::version(&kept.id), Some(&alice))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let projects: cairn_api::ProjectList = server
        .call(Method::GET, &routes::entity_projects("lab"), Some(&alice))
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(projects.projects.is_empty(), "{projects:?}");
    let again = log_with(&server, &bob, "data", "dataset", b"1", None).await;
    assert_eq!(again.version_index, Some(0));
}
