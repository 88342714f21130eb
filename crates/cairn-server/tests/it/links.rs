//! Registry links: linking versions into portfolios and the model registry, one identity seen
//! in two places, unlinking, indexes never reused, and protected aliases.

use axum::http::{Method, StatusCode};
use cairn_api::{
    CollectionKind, CollectionList, CreateLink, ErrorCode, LinkList, PortfolioPath,
    ProtectedAliases, UpdateProtectedAliases, UpdateVersion, Version, VersionList, Visibility,
    routes,
};

use crate::harness::{Files, Server, create_request, log};

fn link_to(entity: &str, project: &str, portfolio: &str, aliases: &[&str]) -> CreateLink {
    CreateLink {
        entity: entity.to_owned(),
        project: project.to_owned(),
        portfolio: portfolio.to_owned(),
        aliases: aliases.iter().map(|alias| (*alias).to_owned()).collect(),
    }
}

/// Logs one version of `collection` (type `artifact_type`) with `bytes` into `entity/project`.
async fn log_one(
    server: &Server,
    key: &str,
    entity: &str,
    project: &str,
    collection: &str,
    artifact_type: &str,
    bytes: &[u8],
) -> Version {
    let files = Files::new(&[("weights.bin", bytes)]);
    let mut request = create_request(collection, &files);
    request.artifact_type = artifact_type.to_owned();
    log(server, key, entity, project, request, &files).await
}

async fn by_name(server: &Server, key: Option<&str>, path: (&str, &str, &str, &str)) -> Version {
    server
        .call(
            Method::GET,
            &routes::version_by_name(path.0, path.1, path.2, path.3),
            key,
        )
        .await
        .expect(StatusCode::OK)
        .json()
}

#[tokio::test]
async fn a_linked_version_keeps_one_identity_and_is_listed_in_both_places() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let k = Some(key.as_str());
    let v0 = log_one(&server, &key, "admin", "train", "resnet", "model", b"zero").await;
    let v1 = log_one(&server, &key, "admin", "train", "resnet", "model", b"one").await;

    // Link v1 into the model registry with an alias: the portfolio and project are created.
    let linked: Version = server
        .call_json(
            Method::POST,
            &routes::links(&v1.id),
            k,
            &link_to("admin", "model-registry", "classifier", &["staging"]),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(linked.id, v1.id);
    assert_eq!(linked.digest, v1.digest);
    assert_eq!(
        linked.qualified_name(),
        "admin/model-registry/classifier:v0"
    );
    assert_eq!(linked.aliases, ["latest", "staging"]);
    let source = linked.source.clone().unwrap();
    assert_eq!(source.qualified_name(), "admin/train/resnet:v1");
    assert_eq!(source.aliases, ["latest"]);

    // Link v0 too: it becomes v1 of the portfolio and takes `latest` there, not in `resnet`.
    let second: Version = server
        .call_json(
            Method::POST,
            &routes::links(&v0.id),
            k,
            &link_to("admin", "model-registry", "classifier", &[]),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(second.version_index, Some(1));
    assert_eq!(second.aliases, ["latest"]);
    let own = by_name(&server, k, ("admin", "train", "resnet", "latest")).await;
    assert_eq!(own.id, v1.id);
    assert!(own.source.is_none());
    assert_eq!(
        own.aliases,
        ["latest"],
        "portfolio aliases stay in the portfolio"
    );

    // Lookups through the portfolio by index, alias and digest.
    let staged = by_name(
        &server,
        k,
        ("admin", "model-registry", "classifier", "staging"),
    )
    .await;
    assert_eq!(
        (staged.id.as_str(), staged.version_index),
        (v1.id.as_str(), Some(0))
    );
    let by_index = by_name(&server, k, ("admin", "model-registry", "classifier", "v1")).await;
    assert_eq!(by_index.id, v0.id);
    let by_digest = by_name(
        &server,
        k,
        ("admin", "model-registry", "classifier", &v1.digest.to_hex()),
    )
    .await;
    assert_eq!(by_digest.id, v1.id);

    // Listed in both places; the portfolio is marked as such.
    let portfolio: VersionList = server
        .call(
            Method::GET,
            &routes::collection_versions("admin", "model-registry", "classifier"),
            k,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    let listed: Vec<(String, Option<u64>)> = portfolio
        .versions
        .iter()
        .map(|version| (version.id.clone(), version.version_index))
        .collect();
    assert_eq!(listed, [(v0.id.clone(), Some(1)), (v1.id.clone(), Some(0))]);
    assert_eq!(portfolio.total, 2);
    let collections: CollectionList = server
        .call(
            Method::GET,
            &routes::collections("admin", "model-registry"),
            k,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(collections.collections.len(), 1);
    assert_eq!(collections.collections[0].kind, CollectionKind::Portfolio);
    assert_eq!(collections.collections[0].version_count, 2);
    assert_eq!(collections.collections[0].latest.as_deref(), Some("v1"));

    // The version lists its links; linking again only adds aliases.
    let again: Version = server
        .call_json(
            Method::POST,
            &routes::links(&v1.id),
            k,
            &link_to("admin", "model-registry", "classifier", &["prod"]),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(again.version_index, Some(0));
    assert_eq!(again.aliases, ["prod", "staging"]);
    let links: LinkList = server
        .call(Method::GET, &routes::links(&v1.id), k)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(links.links.len(), 1);
    assert_eq!(
        links.links[0].qualified_name(),
        "admin/model-registry/classifier:v0"
    );

    // Alias edits through the portfolio stay in the portfolio.
    let edited: Version = server
        .call_json(
            Method::PATCH,
            &routes::version(&v1.id),
            k,
            &UpdateVersion {
                remove_aliases: vec!["staging".to_owned()],
                add_aliases: vec!["candidate".to_owned()],
                through: Some(PortfolioPath {
                    entity: "admin".to_owned(),
                    project: "model-registry".to_owned(),
                    name: "classifier".to_owned(),
                }),
                ..UpdateVersion::default()
            },
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(edited.aliases, ["candidate", "prod"]);
    assert!(edited.source.is_some());
    let own = by_name(&server, k, ("admin", "train", "resnet", "v1")).await;
    assert_eq!(own.aliases, ["latest"]);

    // Unlinking the newest link moves `latest` back; the version itself is untouched and its
    // index in the portfolio is never reused.
    let kept: Version = server
        .call(
            Method::DELETE,
            &routes::link(&v0.id, "admin", "model-registry", "classifier"),
            k,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(kept.qualified_name(), "admin/model-registry/classifier:v1");
    assert_eq!(
        kept.source.map(|source| source.qualified_name()),
        Some("admin/train/resnet:v0".to_owned())
    );
    let latest = by_name(
        &server,
        k,
        ("admin", "model-registry", "classifier", "latest"),
    )
    .await;
    assert_eq!(latest.id, v1.id);
    server
        .call(
            Method::GET,
            &routes::version_by_name("admin", "model-registry", "classifier", "v1"),
            k,
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let relinked: Version = server
        .call_json(
            Method::POST,
            &routes::links(&v0.id),
            k,
            &link_to("admin", "model-registry", "classifier", &[]),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(relinked.version_index, Some(2));
    // Unlinking what is not linked says so.
    let problem = server
        .call(
            Method::DELETE,
            &routes::link(&v0.id, "admin", "model-registry", "nothing"),
            k,
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    assert!(problem.detail.contains("not found"), "{problem:?}");
}

#[tokio::test]
async fn links_refuse_wrong_types_and_targets_in_words() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let k = Some(key.as_str());
    let data = log_one(&server, &key, "admin", "p", "cats", "dataset", b"cats").await;
    let model = log_one(&server, &key, "admin", "p", "net", "model", b"net").await;

    // The model registry takes only types containing `model`.
    let problem = server
        .call_json(
            Method::POST,
            &routes::links(&data.id),
            k,
            &link_to("admin", "model-registry", "cats", &[]),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    assert!(problem.detail.contains("containing `model`"), "{problem:?}");
    assert!(problem.detail.contains("`dataset`"), "{problem:?}");

    // A portfolio holds one type.
    server
        .call_json(
            Method::POST,
            &routes::links(&model.id),
            k,
            &link_to("admin", "registry", "mixed", &[]),
        )
        .await
        .expect(StatusCode::CREATED);
    let problem = server
        .call_json(
            Method::POST,
            &routes::links(&data.id),
            k,
            &link_to("admin", "registry", "mixed", &[]),
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(
        problem.detail.contains("holds artifacts of type `model`"),
        "{problem:?}"
    );

    // A collection of logged versions is not a portfolio, and a portfolio takes no logs.
    let problem = server
        .call_json(
            Method::POST,
            &routes::links(&model.id),
            k,
            &link_to("admin", "p", "cats", &[]),
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(problem.detail.contains("not a portfolio"), "{problem:?}");
    let files = Files::new(&[("x", b"x")]);
    let mut request = create_request("mixed", &files);
    request.artifact_type = "model".to_owned();
    let problem = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "registry"),
            k,
            &request,
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(
        problem.detail.contains("portfolio of linked versions"),
        "{problem:?}"
    );

    // `vN` aliases are the server's; bad portfolio names are refused.
    server
        .call_json(
            Method::POST,
            &routes::links(&model.id),
            k,
            &link_to("admin", "registry", "mixed", &["v7"]),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidName);
    server
        .call_json(
            Method::POST,
            &routes::links(&model.id),
            k,
            &link_to("admin", "registry", "bad/name", &[]),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidName);
}

/// Team `lab` (alice admin, bob member) and an outsider, carol; answers their keys.
async fn team(server: &Server) -> (String, String, String) {
    let (alice, bob) = server.lab_team().await;
    let carol = server.user("carol").await;
    (alice, bob, carol)
}

#[tokio::test]
async fn linking_needs_read_of_the_source_and_write_of_the_portfolio() {
    let server = Server::start().await;
    let (alice, bob, carol) = team(&server).await;
    let version = log_one(&server, &bob, "lab", "private", "net", "model", b"secret").await;
    // Carol (an outsider) can neither see the version nor write to the team's registry.
    server
        .call_json(
            Method::POST,
            &routes::links(&version.id),
            Some(&carol),
            &link_to("carol", "mine", "stolen", &[]),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call_json(
            Method::POST,
            &routes::links(&version.id),
            Some(&bob),
            &link_to("carol", "mine", "given", &[]),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    // Bob links it into the team's public registry: its readers read the linked version, and
    // only through the link (the private source project stays hidden).
    server
        .call_json(
            Method::POST,
            &routes::links(&version.id),
            Some(&bob),
            &link_to("lab", "registry", "net", &[]),
        )
        .await
        .expect(StatusCode::CREATED);
    server
        .set_visibility("lab", "registry", Visibility::Public)
        .await;
    let seen = by_name(&server, Some(&carol), ("lab", "registry", "net", "v0")).await;
    assert_eq!(seen.id, version.id);
    let files = Files::new(&[("weights.bin", b"secret")]);
    let blob = server
        .call(
            Method::GET,
            &routes::blob(&version.id, &files.md5("weights.bin")),
            Some(&carol),
        )
        .await;
    blob.expect(StatusCode::OK);
    assert_eq!(blob.body.as_ref(), b"secret");
    server
        .call(
            Method::GET,
            &routes::version_by_name("lab", "private", "net", "v0"),
            Some(&carol),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    // Once unlinked, the version is out of her reach again.
    server
        .call(
            Method::DELETE,
            &routes::link(&version.id, "lab", "registry", "net"),
            Some(&alice),
        )
        .await
        .expect(StatusCode::OK);
    server
        .call(Method::GET, &routes::version(&version.id), Some(&carol))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
}

#[tokio::test]
async fn protected_aliases_are_for_registry_admins_and_block_unlinking() {
    let server = Server::start().await;
    let (alice, bob, _carol) = team(&server).await;
    let version = log_one(&server, &bob, "lab", "train", "net", "model", b"weights").await;
    server
        .call_json(
            Method::POST,
            &routes::links(&version.id),
            Some(&bob),
            &link_to("lab", "model-registry", "net", &[]),
        )
        .await
        .expect(StatusCode::CREATED);
    let protect = |add: &[&str], remove: &[&str]| UpdateProtectedAliases {
        add: add.iter().map(|alias| (*alias).to_owned()).collect(),
        remove: remove.iter().map(|alias| (*alias).to_owned()).collect(),
    };
    let route = routes::protected_aliases("lab", "model-registry");

    // Only admins of `lab` declare protected aliases.
    let problem = server
        .call_json(
            Method::PATCH,
            &route,
            Some(&bob),
            &protect(&["production"], &[]),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    assert!(
        problem.detail.contains("only admins of `lab`"),
        "{problem:?}"
    );
    let declared: ProtectedAliases = server
        .call_json(
            Method::PATCH,
            &route,
            Some(&alice),
            &protect(&["production"], &[]),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(declared.aliases, ["production"]);
    server
        .call_json(
            Method::PATCH,
            &route,
            Some(&alice),
            &protect(&["latest"], &[]),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    let listed: ProtectedAliases = server
        .call(Method::GET, &route, Some(&bob))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(listed.aliases, ["production"]);

    // A member may not set it, on a link or a log; an admin may.
    let through = PortfolioPath {
        entity: "lab".to_owned(),
        project: "model-registry".to_owned(),
        name: "net".to_owned(),
    };
    let add_production = UpdateVersion {
        add_aliases: vec!["production".to_owned()],
        through: Some(through.clone()),
        ..UpdateVersion::default()
    };
    let problem = server
        .call_json(
            Method::PATCH,
            &routes::version(&version.id),
            Some(&bob),
            &add_production,
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    assert!(
        problem.detail.contains("alias `production` is protected")
            && problem.detail.contains("only admins of `lab`"),
        "{problem:?}"
    );
    server
        .call_json(
            Method::POST,
            &routes::links(&version.id),
            Some(&bob),
            &link_to("lab", "model-registry", "net", &["production"]),
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call_json(
            Method::PATCH,
            &routes::version(&version.id),
            Some(&alice),
            &add_production,
        )
        .await
        .expect(StatusCode::OK);

    // Nobody unlinks it while it carries the alias, not even an admin; the refusal says which
    // alias and who may remove it.
    for key in [&bob, &alice] {
        let problem = server
            .call(
                Method::DELETE,
                &routes::link(&version.id, "lab", "model-registry", "net"),
                Some(key),
            )
            .await
            .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
        assert!(
            problem.detail.contains("alias `production`")
                && problem.detail.contains("an admin of `lab` must remove"),
            "{problem:?}"
        );
    }
    // A member cannot remove it either; once the admin has, the member unlinks.
    let remove_production = UpdateVersion {
        remove_aliases: vec!["production".to_owned()],
        through: Some(through),
        ..UpdateVersion::default()
    };
    server
        .call_json(
            Method::PATCH,
            &routes::version(&version.id),
            Some(&bob),
            &remove_production,
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call_json(
            Method::PATCH,
            &routes::version(&version.id),
            Some(&alice),
            &remove_production,
        )
        .await
        .expect(StatusCode::OK);
    server
        .call(
            Method::DELETE,
            &routes::link(&version.id, "lab", "model-registry", "net"),
            Some(&bob),
        )
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn deleting_a_version_frees_its_aliases_and_honours_protected_ones() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let k = Some(key.as_str());
    let v0 = log_one(&server, &key, "admin", "p", "net", "model", b"zero").await;
    let v1 = log_one(&server, &key, "admin", "p", "net", "model", b"one").await;

    // v1 carries `latest`: refused without delete_aliases, naming the alias.
    let problem = server
        .call(Method::DELETE, &routes::delete_version(&v1.id, false), k)
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(problem.detail.contains("`latest`"), "{problem:?}");

    // A protected alias on a link blocks deleting the version for everyone.
    server
        .call_json(
            Method::PATCH,
            &routes::protected_aliases("admin", "model-registry"),
            k,
            &UpdateProtectedAliases {
                add: vec!["production".to_owned()],
                remove: Vec::new(),
            },
        )
        .await
        .expect(StatusCode::OK);
    server
        .call_json(
            Method::POST,
            &routes::links(&v1.id),
            k,
            &link_to("admin", "model-registry", "net", &["production"]),
        )
        .await
        .expect(StatusCode::CREATED);
    let problem = server
        .call(Method::DELETE, &routes::delete_version(&v1.id, true), k)
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(
        problem.detail.contains("alias `production`")
            && problem.detail.contains("admin/model-registry"),
        "{problem:?}"
    );
    server
        .call_json(
            Method::PATCH,
            &routes::protected_aliases("admin", "model-registry"),
            k,
            &UpdateProtectedAliases {
                add: Vec::new(),
                remove: vec!["production".to_owned()],
            },
        )
        .await
        .expect(StatusCode::OK);

    // Deleted with its aliases: it vanishes, `latest` moves back, its link goes.
    let deleted: Version = server
        .call(Method::DELETE, &routes::delete_version(&v1.id, true), k)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(deleted.state, cairn_api::VersionState::Deleted);
    server
        .call(Method::GET, &routes::version(&v1.id), k)
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call(
            Method::GET,
            &routes::version_by_name("admin", "model-registry", "net", "production"),
            k,
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let latest = by_name(&server, k, ("admin", "p", "net", "latest")).await;
    assert_eq!(latest.id, v0.id);
    let listed: VersionList = server
        .call(
            Method::GET,
            &routes::collection_versions("admin", "p", "net"),
            k,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(listed.total, 1);

    // The same content logged again is a new version with a new number.
    let again = log_one(&server, &key, "admin", "p", "net", "model", b"one").await;
    assert_ne!(again.id, v1.id);
    assert_eq!(again.version_index, Some(2));
    server
        .call(Method::DELETE, &routes::delete_version(&v1.id, true), k)
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
}
