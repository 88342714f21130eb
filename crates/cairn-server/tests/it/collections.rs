//! Collections: a project's artifact types, its collections by type, a collection's versions a
//! page at a time (and by alias), renaming a collection and describing it.

use axum::http::{Method, StatusCode};
use cairn_api::{
    ArtifactTypeList, Collection, CollectionList, ErrorCode, UpdateCollection, Version,
    VersionList, routes,
};

use crate::harness::{Files, Server, create_request, log};

fn generation(index: u8) -> Files {
    Files::new(&[("data.bin", &[index; 10])])
}

/// Logs `count` versions of `collection` (type `artifact_type`) in `admin/p`; `best` on v1.
async fn log_versions(server: &Server, collection: &str, artifact_type: &str, count: u8) {
    let key = server.admin_key.clone();
    for index in 0..count {
        let files = generation(index);
        let mut request = create_request(collection, &files);
        request.artifact_type = artifact_type.to_owned();
        if index == 1 {
            request.aliases = vec!["best".to_owned()];
        }
        log(server, &key, "admin", "p", request, &files).await;
    }
}

async fn versions(server: &Server, path: &str) -> VersionList {
    server
        .call(Method::GET, path, Some(&server.admin_key))
        .await
        .expect(StatusCode::OK)
        .json()
}

fn names(list: &VersionList) -> Vec<String> {
    list.versions
        .iter()
        .filter_map(Version::version_name)
        .collect()
}

#[tokio::test]
async fn types_collections_by_type_and_paged_versions() {
    let server = Server::start().await;
    log_versions(&server, "cats", "dataset", 5).await;
    log_versions(&server, "dogs", "dataset", 1).await;
    log_versions(&server, "resnet", "model", 2).await;
    let key = Some(server.admin_key.as_str());

    let types: ArtifactTypeList = server
        .call(Method::GET, &routes::artifact_types("admin", "p"), key)
        .await
        .expect(StatusCode::OK)
        .json();
    let summary: Vec<(String, u64)> = types
        .types
        .iter()
        .map(|artifact_type| (artifact_type.name.clone(), artifact_type.collection_count))
        .collect();
    assert_eq!(
        summary,
        [("dataset".to_owned(), 2), ("model".to_owned(), 1)]
    );

    let models: CollectionList = server
        .call(
            Method::GET,
            &routes::collections_of_type("admin", "p", "model"),
            key,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    let model_names: Vec<&str> = models.collections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(model_names, ["resnet"]);
    let none: CollectionList = server
        .call(
            Method::GET,
            &routes::collections_of_type("admin", "p", "nothing"),
            key,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(none.collections.is_empty());

    // Pages of two, newest first, until `next` runs out.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = versions(
            &server,
            &routes::collection_versions_page("admin", "p", "cats", None, before, Some(2)),
        )
        .await;
        assert_eq!(page.total, 5);
        assert!(page.versions.len() <= 2);
        seen.extend(names(&page));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["v4", "v3", "v2", "v1", "v0"]);
    let everything = versions(&server, &routes::collection_versions("admin", "p", "cats")).await;
    assert_eq!(names(&everything), seen);
    assert_eq!(everything.next, None);

    let best = versions(
        &server,
        &routes::collection_versions_page("admin", "p", "cats", Some("best"), None, None),
    )
    .await;
    assert_eq!((names(&best), best.total), (vec!["v1".to_owned()], 1));
    let nobody = versions(
        &server,
        &routes::collection_versions_page("admin", "p", "cats", Some("prod"), None, None),
    )
    .await;
    assert_eq!((nobody.versions.len(), nobody.total), (0, 0));

    // A bad query is a 400, not a 500.
    server
        .call(
            Method::GET,
            &format!(
                "{}?limit=many",
                routes::collection_versions("admin", "p", "cats")
            ),
            key,
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
}

#[tokio::test]
async fn renaming_keeps_versions_and_frees_the_old_name() {
    let server = Server::start().await;
    log_versions(&server, "cats", "dataset", 3).await;
    log_versions(&server, "dogs", "dataset", 1).await;
    let key = Some(server.admin_key.as_str());
    let before: Vec<String> = versions(&server, &routes::collection_versions("admin", "p", "cats"))
        .await
        .versions
        .iter()
        .map(|version| version.id.clone())
        .collect();

    let renamed: Collection = server
        .call_json(
            Method::PATCH,
            &routes::collection("admin", "p", "cats"),
            key,
            &UpdateCollection {
                name: Some("felines".to_owned()),
                description: Some("Cats, **all** of them".to_owned()),
            },
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(renamed.name, "felines");
    assert_eq!(renamed.version_count, 3);
    assert_eq!(
        renamed.description.as_deref(),
        Some("Cats, **all** of them")
    );

    // The old name no longer resolves, for the collection or its versions.
    server
        .call(Method::GET, &routes::collection("admin", "p", "cats"), key)
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call(
            Method::GET,
            &routes::version_by_name("admin", "p", "cats", "best"),
            key,
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    // The new name has the same versions, numbers and aliases.
    let after = versions(
        &server,
        &routes::collection_versions("admin", "p", "felines"),
    )
    .await;
    let ids: Vec<String> = after
        .versions
        .iter()
        .map(|version| version.id.clone())
        .collect();
    assert_eq!(ids, before);
    assert_eq!(names(&after), ["v2", "v1", "v0"]);
    assert!(
        after
            .versions
            .iter()
            .all(|version| version.collection == "felines")
    );
    let best: Version = server
        .call(
            Method::GET,
            &routes::version_by_name("admin", "p", "felines", "best"),
            key,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(best.version_name().as_deref(), Some("v1"));
    // Logging under the old name starts a new collection at v0.
    log_versions(&server, "cats", "dataset", 1).await;
    let fresh = versions(&server, &routes::collection_versions("admin", "p", "cats")).await;
    assert_eq!(names(&fresh), ["v0"]);

    // An empty description clears it; a taken name is a conflict; a bad name is refused.
    let cleared: Collection = server
        .call_json(
            Method::PATCH,
            &routes::collection("admin", "p", "felines"),
            key,
            &UpdateCollection {
                name: None,
                description: Some(String::new()),
            },
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(cleared.description, None);
    server
        .call_json(
            Method::PATCH,
            &routes::collection("admin", "p", "felines"),
            key,
            &UpdateCollection {
                name: Some("dogs".to_owned()),
                description: None,
            },
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::AlreadyExists);
    server
        .call_json(
            Method::PATCH,
            &routes::collection("admin", "p", "felines"),
            key,
            &UpdateCollection {
                name: Some("../up".to_owned()),
                description: None,
            },
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidName);

    // Someone who cannot write to the project cannot rename (a refused write is
    // `permission_denied` whether or not the project exists), nor list its types.
    let bob = server.user("bob").await;
    server
        .call_json(
            Method::PATCH,
            &routes::collection("admin", "p", "felines"),
            Some(&bob),
            &UpdateCollection {
                name: Some("mine".to_owned()),
                description: None,
            },
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call(
            Method::GET,
            &routes::artifact_types("admin", "p"),
            Some(&bob),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
}
