//! The lineage graph: the bipartite graph of runs and committed versions around one version,
//! upstream (what it was made from), downstream (what was made from it) or both, to a depth.
//!
//! Nodes the caller may not read (runs and versions of private projects) are never shown and
//! never crossed: they are counted in [`LineageGraph::hidden`]. The graph is walked breadth
//! first, so its node order is stable; a page is a slice of that order, with the edges that
//! reach into it.

use std::collections::{HashMap, HashSet, VecDeque};

use rusqlite::Connection;

use crate::access::{Caller, can_read, version_for_read};
use crate::db::lineage::{self, RunNodeRow};
use crate::db::projects::{self, ProjectRow};
use crate::error::Error;
use crate::model::{
    LineageDirection, LineageEdge, LineageGraph, LineageNode, LineageNodeKind, LineageQuery,
    VersionState,
};
use crate::service::Service;

/// The deepest walk allowed.
pub const MAX_LINEAGE_DEPTH: u32 = 1000;

/// The most nodes on one page.
pub const MAX_LINEAGE_PAGE: usize = 10_000;

/// A node while walking: a version id or a run's row id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Version(String),
    Run(i64),
}

/// What the walk needs to remember: readable projects, by id, and the logging run of every
/// version shown (read with the version, so walking upstream needs no second query).
struct Walk<'a> {
    connection: &'a Connection,
    caller: Option<&'a Caller>,
    projects: HashMap<i64, Option<ProjectRow>>,
    logged_by: HashMap<String, Option<i64>>,
}

impl Walk<'_> {
    /// The project, if the caller may read it.
    fn readable(&mut self, project_id: i64) -> Result<Option<&ProjectRow>, Error> {
        if !self.projects.contains_key(&project_id) {
            let project = projects::project_by_id(self.connection, project_id)?;
            let readable = can_read(self.connection, self.caller, &project)?;
            self.projects
                .insert(project_id, readable.then_some(project));
        }
        Ok(self.projects.get(&project_id).and_then(Option::as_ref))
    }

    fn version(&mut self, id: &str) -> Result<Found, Error> {
        let Some(row) = lineage::version_node(self.connection, id)? else {
            return Ok(Found::Gone);
        };
        if row.state != VersionState::Committed {
            return Ok(Found::Gone);
        }
        let Some(project) = self.readable(row.project_id)? else {
            return Ok(Found::Hidden);
        };
        let node = LineageNode {
            key: version_key(id),
            depth: 0,
            kind: LineageNodeKind::Version {
                id: id.to_owned(),
                entity: project.entity.clone(),
                project: project.name.clone(),
                collection: row.collection.clone(),
                artifact_type: row.artifact_type.clone(),
                version_index: row
                    .version_index
                    .and_then(|index| u64::try_from(index).ok()),
            },
        };
        self.logged_by.insert(id.to_owned(), row.logged_by);
        Ok(Found::Node(node))
    }

    fn run(&mut self, run: i64) -> Result<Found, Error> {
        let Some(RunNodeRow {
            project_id,
            run_id,
            state,
            job_type,
        }) = lineage::run_node(self.connection, run)?
        else {
            return Ok(Found::Gone);
        };
        let Some(project) = self.readable(project_id)? else {
            return Ok(Found::Hidden);
        };
        Ok(Found::Node(LineageNode {
            key: run_key(&project.entity, &project.name, &run_id),
            depth: 0,
            kind: LineageNodeKind::Run {
                entity: project.entity.clone(),
                project: project.name.clone(),
                id: run_id,
                state,
                job_type,
            },
        }))
    }
}

/// What a neighbour in the lineage turned out to be.
enum Found {
    /// A node the caller may see.
    Node(LineageNode),
    /// Deleted (or never committed): not part of the lineage any more, and not counted.
    Gone,
    /// In a project the caller may not read: counted in [`LineageGraph::hidden`].
    Hidden,
}

/// A version node's key.
pub fn version_key(id: &str) -> String {
    format!("version:{id}")
}

/// A run node's key.
pub fn run_key(entity: &str, project: &str, run: &str) -> String {
    format!("run:{entity}/{project}/{run}")
}

impl Service {
    /// The lineage graph around a committed version the caller may read (see the module
    /// documentation), one page of nodes at a time.
    pub async fn lineage_graph(
        &self,
        caller: Option<&Caller>,
        id: &str,
        query: LineageQuery,
    ) -> Result<LineageGraph, Error> {
        let caller = caller.cloned();
        let id = id.to_owned();
        if query.depth == 0 || query.depth > MAX_LINEAGE_DEPTH {
            return Err(Error::bad_request(format!(
                "the lineage depth must be 1 to {MAX_LINEAGE_DEPTH}"
            )));
        }
        let limit = query.limit.clamp(1, MAX_LINEAGE_PAGE);
        self.db()
            .read(move |connection| {
                let root = version_for_read(connection, caller.as_ref(), &id)?;
                if root.version.state != VersionState::Committed {
                    return Err(Error::conflict(format!(
                        "artifact version `{id}` is not committed; only committed versions have lineage"
                    )));
                }
                let mut walk = Walk {
                    connection,
                    caller: caller.as_ref(),
                    projects: HashMap::new(),
                    logged_by: HashMap::new(),
                };
                walk_graph(&mut walk, &id, &query, limit)
            })
            .await
    }
}

/// Walks breadth first in the query's direction(s), then slices the page.
fn walk_graph(
    walk: &mut Walk<'_>,
    root: &str,
    query: &LineageQuery,
    limit: usize,
) -> Result<LineageGraph, Error> {
    let Found::Node(mut root_node) = walk.version(root)? else {
        return Err(Error::not_found(format!(
            "artifact version `{root}` not found"
        )));
    };
    root_node.depth = 0;
    let mut nodes: Vec<LineageNode> = vec![root_node];
    let mut edges: Vec<LineageEdge> = Vec::new();
    let mut seen: HashSet<Key> = HashSet::from([Key::Version(root.to_owned())]);
    let mut hidden: HashSet<Key> = HashSet::new();
    let mut gone: HashSet<Key> = HashSet::new();
    let directions: &[bool] = match query.direction {
        LineageDirection::Up => &[true],
        LineageDirection::Down => &[false],
        LineageDirection::Both => &[true, false],
    };
    for &upstream in directions {
        let mut queue: VecDeque<(Key, String, u32)> =
            VecDeque::from([(Key::Version(root.to_owned()), version_key(root), 0)]);
        while let Some((key, node_key, depth)) = queue.pop_front() {
            if depth >= query.depth {
                continue;
            }
            let neighbours: Vec<Key> = match (&key, upstream) {
                (Key::Version(id), true) => walk
                    .logged_by
                    .get(id)
                    .copied()
                    .flatten()
                    .map(Key::Run)
                    .into_iter()
                    .collect(),
                (Key::Version(id), false) => lineage::users_of(walk.connection, id)?
                    .into_iter()
                    .map(Key::Run)
                    .collect(),
                (Key::Run(run), true) => lineage::inputs_of(walk.connection, *run)?
                    .into_iter()
                    .map(Key::Version)
                    .collect(),
                (Key::Run(run), false) => lineage::outputs_of(walk.connection, *run)?
                    .into_iter()
                    .map(Key::Version)
                    .collect(),
            };
            for neighbour in neighbours {
                if hidden.contains(&neighbour) || gone.contains(&neighbour) {
                    continue;
                }
                let found = match &neighbour {
                    Key::Version(id) => walk.version(id)?,
                    Key::Run(run) => walk.run(*run)?,
                };
                let mut node = match found {
                    Found::Node(node) => node,
                    Found::Gone => {
                        gone.insert(neighbour);
                        continue;
                    }
                    Found::Hidden => {
                        hidden.insert(neighbour);
                        continue;
                    }
                };
                // Upstream edges point from the older node to the newer one: run → version it
                // logged, version → run that used it.
                let edge = if upstream {
                    LineageEdge {
                        from: node.key.clone(),
                        to: node_key.clone(),
                    }
                } else {
                    LineageEdge {
                        from: node_key.clone(),
                        to: node.key.clone(),
                    }
                };
                if !edges.contains(&edge) {
                    edges.push(edge);
                }
                if seen.insert(neighbour.clone()) {
                    node.depth = depth + 1;
                    let next_key = node.key.clone();
                    nodes.push(node);
                    queue.push_back((neighbour, next_key, depth + 1));
                }
            }
        }
    }
    let total = nodes.len() as u64;
    let start = query.after.min(nodes.len());
    let end = start.saturating_add(limit).min(nodes.len());
    let known: HashSet<&str> = nodes[..end].iter().map(|node| node.key.as_str()).collect();
    let page: HashSet<&str> = nodes[start..end]
        .iter()
        .map(|node| node.key.as_str())
        .collect();
    let edges: Vec<LineageEdge> = edges
        .into_iter()
        .filter(|edge| {
            known.contains(edge.from.as_str())
                && known.contains(edge.to.as_str())
                && (page.contains(edge.from.as_str()) || page.contains(edge.to.as_str()))
        })
        .collect();
    let next = (end < nodes.len()).then_some(end);
    let nodes = nodes.drain(start..end).collect();
    Ok(LineageGraph {
        root: version_key(root),
        nodes,
        edges,
        hidden: hidden.len() as u64,
        total,
        next,
    })
}
