//! The lineage graph: runs and versions upstream and downstream of a version, to a depth, a page
//! at a time, without showing (or walking past) what the caller may not read.

use axum::http::{Method, StatusCode};
use cairn_api::{
    CreateRun, ErrorCode, LineageDirection, LineageGraph, LineageNode, ResumeMode, UseArtifact,
    Version, Visibility, routes,
};

use crate::harness::{Files, Server, create_request, log};

async fn run(server: &Server, key: &str, entity: &str, project: &str, id: &str) {
    server
        .call_json(
            Method::POST,
            &routes::runs(entity, project),
            Some(key),
            &CreateRun {
                id: Some(id.to_owned()),
                job_type: Some("job".to_owned()),
                resume: ResumeMode::Never,
            },
        )
        .await
        .expect(StatusCode::CREATED);
}

async fn output(
    server: &Server,
    key: &str,
    entity: &str,
    project: &str,
    run_id: &str,
    collection: &str,
) -> Version {
    let files = Files::new(&[("data", collection.as_bytes())]);
    let mut request = create_request(collection, &files);
    request.run = Some(run_id.to_owned());
    log(server, key, entity, project, request, &files).await
}

async fn input(
    server: &Server,
    key: &str,
    entity: &str,
    project: &str,
    run_id: &str,
    version: &Version,
) {
    server
        .call_json(
            Method::POST,
            &routes::run_inputs(entity, project, run_id),
            Some(key),
            &UseArtifact {
                artifact_id: version.id.clone(),
            },
        )
        .await
        .expect(StatusCode::OK);
}

async fn graph(
    server: &Server,
    key: Option<&str>,
    id: &str,
    depth: u32,
    direction: LineageDirection,
    after: usize,
    limit: usize,
) -> LineageGraph {
    server
        .call(
            Method::GET,
            &routes::lineage_graph(id, depth, direction, after, limit),
            key,
        )
        .await
        .expect(StatusCode::OK)
        .json()
}

fn keys(graph: &LineageGraph) -> Vec<String> {
    graph
        .nodes
        .iter()
        .map(|node| node.key().to_owned())
        .collect()
}

fn edges(graph: &LineageGraph) -> Vec<(String, String)> {
    let mut edges: Vec<_> = graph
        .edges
        .iter()
        .map(|edge| (edge.from.clone(), edge.to.clone()))
        .collect();
    edges.sort();
    edges
}

#[tokio::test]
async fn the_graph_walks_up_and_down_hides_private_nodes_and_pages() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    // alice/pub (public): prep logs raw; train uses raw and logs model; eval uses model.
    run(&server, &alice, "alice", "pub", "prep").await;
    let raw = output(&server, &alice, "alice", "pub", "prep", "raw").await;
    server
        .set_visibility("alice", "pub", Visibility::Public)
        .await;
    run(&server, &alice, "alice", "pub", "train").await;
    input(&server, &alice, "alice", "pub", "train", &raw).await;
    let model = output(&server, &alice, "alice", "pub", "train", "model").await;
    run(&server, &alice, "alice", "pub", "eval").await;
    input(&server, &alice, "alice", "pub", "eval", &model).await;
    // A private run of alice's also uses the model, and logs a private report.
    run(&server, &alice, "alice", "secret", "audit").await;
    input(&server, &alice, "alice", "secret", "audit", &model).await;
    let report = output(&server, &alice, "alice", "secret", "audit", "report").await;

    let v = |version: &Version| format!("version:{}", version.id);
    let r = |project: &str, id: &str| format!("run:alice/{project}/{id}");

    // Up from the model, two hops: its run and that run's input.
    let up = graph(
        &server,
        Some(&alice),
        &model.id,
        2,
        LineageDirection::Up,
        0,
        100,
    )
    .await;
    assert_eq!(keys(&up), [v(&model), r("pub", "train"), v(&raw)]);
    assert_eq!(
        edges(&up),
        [(r("pub", "train"), v(&model)), (v(&raw), r("pub", "train"))]
    );
    assert_eq!((up.hidden, up.total, up.next), (0, 3, None));
    assert!(matches!(&up.nodes[1], LineageNode::Run { id, depth: 1, .. } if id == "train"));

    // Down, as alice: both users, and the private report two hops away.
    let down = graph(
        &server,
        Some(&alice),
        &model.id,
        2,
        LineageDirection::Down,
        0,
        100,
    )
    .await;
    assert_eq!(
        keys(&down),
        [
            v(&model),
            r("pub", "eval"),
            r("secret", "audit"),
            v(&report)
        ]
    );
    // Anonymous and an outsider see the public part only, and how much is hidden.
    let bob = server.user("bob").await;
    for key in [None, Some(bob.as_str())] {
        let seen = graph(&server, key, &model.id, 3, LineageDirection::Both, 0, 100).await;
        assert_eq!(
            keys(&seen),
            [
                v(&model),
                r("pub", "train"),
                v(&raw),
                r("pub", "prep"),
                r("pub", "eval")
            ],
            "{key:?}"
        );
        assert_eq!(
            seen.hidden, 1,
            "the private run, not walked past to its report"
        );
        assert!(
            seen.edges
                .iter()
                .all(|edge| !edge.from.contains("secret") && !edge.to.contains("secret"))
        );
    }
    // Nobody outside sees the private version's graph at all.
    server
        .call(
            Method::GET,
            &routes::lineage_graph(&report.id, 2, LineageDirection::Both, 0, 10),
            Some(&bob),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);

    // Pages of two: every node once, and each edge on the page where its second end appears.
    let whole = graph(
        &server,
        Some(&alice),
        &model.id,
        3,
        LineageDirection::Both,
        0,
        100,
    )
    .await;
    let mut paged_nodes = Vec::new();
    let mut paged_edges = Vec::new();
    let mut after = 0;
    loop {
        let page = graph(
            &server,
            Some(&alice),
            &model.id,
            3,
            LineageDirection::Both,
            after,
            2,
        )
        .await;
        assert!(page.nodes.len() <= 2);
        assert_eq!(page.total, whole.total);
        paged_nodes.extend(keys(&page));
        paged_edges.extend(edges(&page));
        match page.next {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(paged_nodes, keys(&whole));
    paged_edges.sort();
    assert_eq!(paged_edges, edges(&whole));

    // Depth 0 and absurd depths are refused in words.
    for depth in [0, 5000] {
        server
            .call(
                Method::GET,
                &routes::lineage_graph(&model.id, depth, LineageDirection::Both, 0, 10),
                Some(&alice),
            )
            .await
            .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    }
}

#[tokio::test]
async fn deleted_neighbours_leave_the_graph_without_counting_as_hidden() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    run(&server, &alice, "alice", "p", "prep").await;
    let raw = output(&server, &alice, "alice", "p", "prep", "raw").await;
    run(&server, &alice, "alice", "p", "train").await;
    input(&server, &alice, "alice", "p", "train", &raw).await;
    let model = output(&server, &alice, "alice", "p", "train", "model").await;
    server
        .call(
            Method::DELETE,
            &routes::delete_version(&model.id, true),
            Some(&alice),
        )
        .await
        .expect(StatusCode::OK);

    let down = graph(
        &server,
        Some(&alice),
        &raw.id,
        3,
        LineageDirection::Down,
        0,
        100,
    )
    .await;
    assert_eq!(
        keys(&down),
        [
            format!("version:{}", raw.id),
            "run:alice/p/train".to_owned()
        ]
    );
    assert_eq!(down.hidden, 0, "a deleted version is gone, not hidden");
}
