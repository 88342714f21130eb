//! Reading and editing: selectors, collection listings, `PATCH` of a version, runs and lineage.

use axum::http::{Method, StatusCode};
use cairn_api::{
    Collection, CollectionList, CreateRun, ErrorCode, Lineage, ResumeMode, Run, RunArtifacts,
    RunState, UpdateVersion, Version, VersionList, routes,
};
use serde_json::json;

use crate::harness::{Files, Server, create_request, log};

fn generation(index: u8) -> Files {
    Files::new(&[("data.bin", &[index; 10]), ("same.txt", b"unchanged")])
}

#[tokio::test]
async fn selectors_resolve_aliases_indexes_and_digests() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let mut versions = Vec::new();
    for index in 0..3 {
        let mut request = create_request("cats", &generation(index));
        if index == 1 {
            request.aliases = vec!["best".to_owned()];
        }
        versions.push(log(&server, &key, "admin", "p", request, &generation(index)).await);
    }
    let get = |selector: String| {
        let server = &server;
        let key = key.clone();
        async move {
            server
                .call(
                    Method::GET,
                    &routes::version_by_name("admin", "p", "cats", &selector),
                    Some(&key),
                )
                .await
        }
    };
    for (selector, expected) in [
        ("latest".to_owned(), 2),
        ("best".to_owned(), 1),
        ("v0".to_owned(), 0),
        ("v2".to_owned(), 2),
        (versions[1].digest.to_hex(), 1),
        (versions[0].digest.to_hex().to_ascii_uppercase(), 0),
    ] {
        let version: Version = get(selector.clone()).await.expect(StatusCode::OK).json();
        assert_eq!(version.version_index, Some(expected), "{selector}");
    }
    // Without a selector the name means `latest`.
    let answer = server
        .call(
            Method::GET,
            "/api/v1/projects/admin/p/artifacts/cats",
            Some(&key),
        )
        .await;
    assert_eq!(
        answer
            .expect(StatusCode::OK)
            .json::<Version>()
            .version_index,
        Some(2)
    );
    for selector in ["nope", "v3", "v-1", "0123456789abcdef0123456789abcdef"] {
        get(selector.to_owned())
            .await
            .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
    server
        .call(
            Method::GET,
            &routes::version_by_name("admin", "p", "dogs", "latest"),
            Some(&key),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);

    // Collections and their versions.
    let list: CollectionList = server
        .call(Method::GET, &routes::collections("admin", "p"), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(list.collections.len(), 1);
    let collection: Collection = server
        .call(
            Method::GET,
            &routes::collection("admin", "p", "cats"),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(collection.version_count, 3);
    assert_eq!(collection.latest.as_deref(), Some("v2"));
    assert_eq!(collection.artifact_type, "dataset");
    let listed: VersionList = server
        .call(
            Method::GET,
            &routes::collection_versions("admin", "p", "cats"),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    let indexes: Vec<_> = listed
        .versions
        .iter()
        .map(|version| version.version_index)
        .collect();
    assert_eq!(indexes, vec![Some(2), Some(1), Some(0)]);
    assert_eq!(listed.versions[1].aliases, vec!["best"]);
}

#[tokio::test]
async fn patch_edits_a_committed_version_in_one_go() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let first = log(
        &server,
        &key,
        "admin",
        "p",
        create_request("cats", &generation(0)),
        &generation(0),
    )
    .await;
    let second = log(
        &server,
        &key,
        "admin",
        "p",
        create_request("cats", &generation(1)),
        &generation(1),
    )
    .await;
    let update = UpdateVersion {
        description: Some("the first one".to_owned()),
        metadata: Some(serde_json::Map::from_iter([("acc".to_owned(), json!(0.9))])),
        add_aliases: vec!["best".to_owned(), "prod".to_owned()],
        add_tags: vec!["gold".to_owned()],
        ..UpdateVersion::default()
    };
    let edited: Version = server
        .call_json(
            Method::PATCH,
            &routes::version(&first.id),
            Some(&key),
            &update,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(edited.description.as_deref(), Some("the first one"));
    assert_eq!(edited.metadata["acc"], 0.9);
    assert_eq!(edited.aliases, vec!["best", "prod"]);
    assert_eq!(edited.tags, vec!["gold"]);
    // Aliases move between versions; removals apply.
    let moved: Version = server
        .call_json(
            Method::PATCH,
            &routes::version(&second.id),
            Some(&key),
            &UpdateVersion {
                add_aliases: vec!["prod".to_owned()],
                ..UpdateVersion::default()
            },
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(moved.aliases, vec!["latest", "prod"]);
    let first_now: Version = server
        .call_json(
            Method::PATCH,
            &routes::version(&first.id),
            Some(&key),
            &UpdateVersion {
                description: Some(String::new()),
                remove_aliases: vec!["best".to_owned()],
                remove_tags: vec!["gold".to_owned()],
                ..UpdateVersion::default()
            },
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(first_now.aliases.is_empty() && first_now.tags.is_empty());
    assert_eq!(first_now.description, None);
    // What may not be done by hand.
    for update in [
        UpdateVersion {
            remove_aliases: vec!["latest".to_owned()],
            ..UpdateVersion::default()
        },
        UpdateVersion {
            add_aliases: vec!["latest".to_owned()],
            ..UpdateVersion::default()
        },
    ] {
        server
            .call_json(
                Method::PATCH,
                &routes::version(&first.id),
                Some(&key),
                &update,
            )
            .await
            .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    }
    server
        .call_json(
            Method::PATCH,
            &routes::version(&first.id),
            Some(&key),
            &UpdateVersion {
                add_aliases: vec!["v9".to_owned()],
                ..UpdateVersion::default()
            },
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidName);
    let too_many: serde_json::Map<_, _> = (0..101)
        .map(|index| (format!("k{index}"), json!(index)))
        .collect();
    server
        .call_json(
            Method::PATCH,
            &routes::version(&first.id),
            Some(&key),
            &UpdateVersion {
                metadata: Some(too_many),
                ..UpdateVersion::default()
            },
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidMetadata);
}

#[tokio::test]
async fn runs_record_lineage() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let run: Run = server
        .call_json(
            Method::POST,
            &routes::runs("admin", "p"),
            Some(&key),
            &CreateRun {
                id: Some("train-001".to_owned()),
                job_type: Some("train".to_owned()),
                resume: ResumeMode::Never,
            },
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(run.state, RunState::Running);
    assert_eq!(run.user, "admin");
    for (mode, status, code) in [
        (
            ResumeMode::Never,
            StatusCode::CONFLICT,
            Some(ErrorCode::AlreadyExists),
        ),
        (ResumeMode::Allow, StatusCode::OK, None),
        (ResumeMode::Must, StatusCode::OK, None),
    ] {
        let answer = server
            .call_json(
                Method::POST,
                &routes::runs("admin", "p"),
                Some(&key),
                &CreateRun {
                    id: Some("train-001".to_owned()),
                    job_type: None,
                    resume: mode,
                },
            )
            .await;
        match code {
            Some(code) => {
                answer.expect_problem(status, code);
            }
            None => assert!(answer.expect(status).json::<Run>().resumed),
        }
    }
    server
        .call_json(
            Method::POST,
            &routes::runs("admin", "p"),
            Some(&key),
            &CreateRun {
                id: Some("missing-run".to_owned()),
                job_type: None,
                resume: ResumeMode::Must,
            },
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let generated: Run = server
        .call_json(
            Method::POST,
            &routes::runs("admin", "p"),
            Some(&key),
            &CreateRun::default(),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert!(generated.id.len() >= 8);

    let mut request = create_request("cats", &generation(0));
    request.run = Some("train-001".to_owned());
    let logged = log(&server, &key, "admin", "p", request, &generation(0)).await;
    assert_eq!(logged.logged_by.as_deref(), Some("train-001"));
    let used: Version = server
        .call_json(
            Method::POST,
            &routes::run_inputs("admin", "p", &generated.id),
            Some(&key),
            &json!({"artifact_id": logged.id}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(used.id, logged.id);
    let finished: Run = server
        .call_json(
            Method::POST,
            &routes::run_finish("admin", "p", "train-001"),
            Some(&key),
            &json!({"exit_code": 3}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(finished.state, RunState::Failed);
    assert_eq!(finished.exit_code, Some(3));
    assert!(finished.finished_at.is_some());

    let lineage: Lineage = server
        .call(Method::GET, &routes::lineage(&logged.id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        lineage.logged_by.map(|run| run.id).as_deref(),
        Some("train-001")
    );
    assert_eq!(lineage.used_by.len(), 1);
    assert_eq!(lineage.used_by[0].id, generated.id);
    let outputs: RunArtifacts = server
        .call(
            Method::GET,
            &routes::run_artifacts("admin", "p", "train-001"),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(outputs.logged.len(), 1);
    assert!(outputs.used.is_empty());
    let inputs: RunArtifacts = server
        .call(
            Method::GET,
            &routes::run_artifacts("admin", "p", &generated.id),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(inputs.used.len(), 1);
    let fetched: Run = server
        .call(
            Method::GET,
            &routes::run("admin", "p", "train-001"),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(fetched.job_type.as_deref(), Some("train"));
}
