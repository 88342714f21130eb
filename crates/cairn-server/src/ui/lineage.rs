//! The lineage picture: the domain's graph laid out in columns (upstream left, downstream
//! right), drawn as SVG whose nodes are links. Without "explode", the versions of one
//! collection in one column are one node, and so are the runs of one job type; exploded, every
//! version and run is its own node.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use cairn_service::model::{LineageGraph, LineageNodeKind};
use maud::{Markup, html};

use crate::ui::layout::{collection_url, project_url, run_url, version_url};

const NODE_WIDTH: i64 = 190;
const NODE_HEIGHT: i64 = 44;
const COLUMN_GAP: i64 = 70;
const ROW_GAP: i64 = 18;
const MARGIN: i64 = 10;

/// A drawn node: one version or run, or a group of them.
#[derive(Debug, Clone)]
struct Node {
    title: String,
    detail: String,
    url: String,
    kind: &'static str,
    column: i64,
    root: bool,
}

/// The laid-out picture.
#[derive(Debug)]
pub(crate) struct Picture {
    nodes: Vec<Node>,
    edges: BTreeSet<(usize, usize)>,
}

/// Distances from `root` along `next`, breadth first.
fn distances(root: &str, next: &HashMap<&str, Vec<&str>>) -> HashMap<String, i64> {
    let mut seen = HashMap::from([(root.to_owned(), 0)]);
    let mut queue = VecDeque::from([root.to_owned()]);
    while let Some(key) = queue.pop_front() {
        let distance = seen[&key];
        for following in next.get(key.as_str()).into_iter().flatten() {
            if !seen.contains_key(*following) {
                seen.insert((*following).to_owned(), distance + 1);
                queue.push_back((*following).to_owned());
            }
        }
    }
    seen
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

impl Picture {
    pub(crate) fn new(graph: &LineageGraph, explode: bool) -> Self {
        let mut forward: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut backward: HashMap<&str, Vec<&str>> = HashMap::new();
        for edge in &graph.edges {
            forward.entry(&edge.from).or_default().push(&edge.to);
            backward.entry(&edge.to).or_default().push(&edge.from);
        }
        let down = distances(&graph.root, &forward);
        let up = distances(&graph.root, &backward);
        let mut nodes: Vec<Node> = Vec::new();
        // How many versions or runs each drawn node stands for.
        let mut counts: Vec<u64> = Vec::new();
        let mut index_of_group: HashMap<String, usize> = HashMap::new();
        let mut node_of_key: HashMap<&str, usize> = HashMap::new();
        for node in &graph.nodes {
            let column = match (down.get(&node.key), up.get(&node.key)) {
                (Some(distance), _) => *distance,
                (None, Some(distance)) => -distance,
                (None, None) => i64::from(node.depth),
            };
            let root = node.key == graph.root;
            let (group, drawn) = match &node.kind {
                LineageNodeKind::Version {
                    entity,
                    project,
                    collection,
                    artifact_type,
                    version_index,
                    ..
                } => {
                    let selector = format!("v{}", version_index.unwrap_or_default());
                    let group = format!("v|{column}|{entity}/{project}/{collection}");
                    (
                        group,
                        Node {
                            title: format!("{collection}:{selector}"),
                            detail: artifact_type.clone(),
                            url: version_url(entity, project, collection, &selector),
                            kind: "version",
                            column,
                            root,
                        },
                    )
                }
                LineageNodeKind::Run {
                    entity,
                    project,
                    id,
                    job_type,
                    ..
                } => {
                    let job = job_type.clone().unwrap_or_else(|| "run".to_owned());
                    let group = format!("r|{column}|{entity}/{project}|{job}");
                    (
                        group,
                        Node {
                            title: format!("run {id}"),
                            detail: job,
                            url: run_url(entity, project, id),
                            kind: "run",
                            column,
                            root,
                        },
                    )
                }
            };
            if explode || root {
                node_of_key.insert(&node.key, nodes.len());
                nodes.push(drawn);
                counts.push(1);
                continue;
            }
            match index_of_group.get(&group) {
                Some(&index) => {
                    counts[index] += 1;
                    let count = counts[index];
                    let grouped = &mut nodes[index];
                    match &node.kind {
                        LineageNodeKind::Version {
                            entity,
                            project,
                            collection,
                            ..
                        } => {
                            grouped.title = format!("{count} versions");
                            grouped.detail = collection.clone();
                            grouped.url = collection_url(entity, project, collection);
                        }
                        LineageNodeKind::Run {
                            entity, project, ..
                        } => {
                            grouped.title = format!("{count} runs");
                            grouped.url = project_url(entity, project);
                        }
                    }
                    node_of_key.insert(&node.key, index);
                }
                None => {
                    index_of_group.insert(group, nodes.len());
                    node_of_key.insert(&node.key, nodes.len());
                    nodes.push(drawn);
                    counts.push(1);
                }
            }
        }
        let edges = graph
            .edges
            .iter()
            .filter_map(|edge| {
                Some((
                    *node_of_key.get(edge.from.as_str())?,
                    *node_of_key.get(edge.to.as_str())?,
                ))
            })
            .filter(|(from, to)| from != to)
            .collect();
        Self { nodes, edges }
    }

    /// Each node's top-left corner.
    fn positions(&self) -> (Vec<(i64, i64)>, i64, i64) {
        let first = self.nodes.iter().map(|node| node.column).min().unwrap_or(0);
        let mut rows: BTreeMap<i64, i64> = BTreeMap::new();
        let positions: Vec<(i64, i64)> = self
            .nodes
            .iter()
            .map(|node| {
                let row = rows.entry(node.column).or_insert(0);
                let position = (
                    MARGIN + (node.column - first) * (NODE_WIDTH + COLUMN_GAP),
                    MARGIN + *row * (NODE_HEIGHT + ROW_GAP),
                );
                *row += 1;
                position
            })
            .collect();
        let columns = i64::try_from(rows.len()).unwrap_or(1).max(1);
        let tallest = rows.values().copied().max().unwrap_or(1).max(1);
        let width = 2 * MARGIN + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP;
        let height = 2 * MARGIN + tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP;
        (positions, width, height)
    }

    /// The picture: every node a link, every edge an arrow from producer to consumer.
    pub(crate) fn svg(&self) -> Markup {
        let (positions, width, height) = self.positions();
        html! {
            div.scroll.lineage {
                svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Lineage graph"
                    width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) data-test="lineage" {
                    defs {
                        marker #arrow viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse" {
                            path d="M 0 0 L 10 5 L 0 10 z" class="arrow" {}
                        }
                    }
                    @for (from, to) in &self.edges {
                        @let (x1, y1) = positions[*from];
                        @let (x2, y2) = positions[*to];
                        path.edge marker-end="url(#arrow)" d=(format!(
                            "M {} {} C {} {}, {} {}, {} {}",
                            x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2,
                            x1 + NODE_WIDTH + COLUMN_GAP / 2, y1 + NODE_HEIGHT / 2,
                            x2 - COLUMN_GAP / 2, y2 + NODE_HEIGHT / 2,
                            x2, y2 + NODE_HEIGHT / 2
                        )) {}
                    }
                    @for (node, (x, y)) in self.nodes.iter().zip(&positions) {
                        a href=(node.url) class=(format!("node {}{}", node.kind, if node.root { " root" } else { "" })) data-test="lineage-node" {
                            title { (node.title) " (" (node.detail) ")" }
                            rect x=(x) y=(y) width=(NODE_WIDTH) height=(NODE_HEIGHT) rx="6" {}
                            text x=(x + 10) y=(y + 18) { (shorten(&node.title, 24)) }
                            text.detail x=(x + 10) y=(y + 35) { (shorten(&node.detail, 26)) }
                        }
                    }
                }
            }
        }
    }

    /// The same nodes as a list of links, for screen readers and narrow screens.
    pub(crate) fn list(&self) -> Markup {
        html! {
            ul.list data-test="lineage-list" {
                @for node in &self.nodes {
                    li {
                        span class=(format!("chip {}", node.kind)) { (node.kind) } " "
                        a href=(node.url) { (node.title) } " "
                        span.muted { (node.detail) }
                        @if node.column < 0 { " · upstream" } @else if node.column > 0 { " · downstream" }
                    }
                }
            }
        }
    }
}
