//! `cargo xtask tidy`: checks of the tree that the compiler and clippy do not make.
//!
//! * The dependency edges between workspace crates follow the allowed-edge table below (the same
//!   table as in DESIGN.md and docs/ARCHITECTURE.md), and the pure layers keep out of
//!   `serde_json` and `tokio`.
//! * The file checks in [`files`]: `//!` headers, `[lints]`/edition inheritance, file sizes,
//!   build output in git, and machine-specific absolute paths.
//!
//! Every problem is printed with the file or crate it concerns and a `hint:` line saying what to
//! do; the run fails if there is at least one.

mod files;

use std::collections::BTreeSet;
use std::fmt;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::workspace::Workspace;

/// Which workspace crates a crate may depend on.
#[derive(Debug, Clone, Copy)]
enum Allowed {
    /// Exactly these workspace crates.
    Only(&'static [&'static str]),
    /// Any workspace crate (the end-to-end test crate sits above everything).
    Anything,
}

/// The allowed-edge table. A new edge is an architecture change: update DESIGN.md and
/// docs/ARCHITECTURE.md in the same change.
const ALLOWED_EDGES: &[(&str, Allowed)] = &[
    ("cairn-hash", Allowed::Only(&[])),
    ("cairn-manifest", Allowed::Only(&["cairn-hash"])),
    (
        "cairn-api",
        Allowed::Only(&["cairn-hash", "cairn-manifest"]),
    ),
    (
        "cairn-storage",
        Allowed::Only(&["cairn-hash", "cairn-manifest"]),
    ),
    ("cairn-cache", Allowed::Only(&["cairn-hash"])),
    (
        "cairn-client",
        Allowed::Only(&[
            "cairn-hash",
            "cairn-manifest",
            "cairn-api",
            "cairn-storage",
            "cairn-cache",
        ]),
    ),
    (
        "cairn-service",
        Allowed::Only(&["cairn-hash", "cairn-manifest", "cairn-storage"]),
    ),
    (
        "cairn-server",
        Allowed::Only(&["cairn-service", "cairn-api"]),
    ),
    (
        "cairn-cli",
        Allowed::Only(&[
            "cairn-client",
            "cairn-server",
            "cairn-hash",
            "cairn-manifest",
            "cairn-api",
            "cairn-storage",
            "cairn-cache",
        ]),
    ),
    ("cairn-tests", Allowed::Anything),
    ("xtask", Allowed::Only(&[])),
];

/// External crates a workspace crate must not depend on directly (normal or build dependencies),
/// with the reason.
const FORBIDDEN_EXTERNAL: &[(&str, &str, &str)] = &[
    (
        "cairn-hash",
        "serde_json",
        "cairn-hash is reusable without a JSON stack",
    ),
    (
        "cairn-hash",
        "tokio",
        "cairn-hash is a pure layer and is not async",
    ),
    (
        "cairn-manifest",
        "tokio",
        "cairn-manifest is a pure layer and is not async",
    ),
    (
        "cairn-service",
        "axum",
        "the domain knows nothing of HTTP; front-ends live in cairn-server",
    ),
    (
        "cairn-service",
        "http",
        "the domain knows nothing of HTTP; front-ends live in cairn-server",
    ),
    (
        "cairn-service",
        "hyper",
        "the domain knows nothing of HTTP; front-ends live in cairn-server",
    ),
    (
        "cairn-server",
        "rusqlite",
        "SQL lives only in cairn-service; the server calls domain functions",
    ),
];

/// External crates no workspace crate may depend on together (normal dependencies): a crate
/// that serves HTTP must not also hold SQL, so front-ends stay thin over the domain.
const FORBIDDEN_TOGETHER: &[(&str, &str)] = &[("axum", "rusqlite")];

/// One thing tidy found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The file or crate concerned.
    pub(crate) place: String,
    /// What is wrong.
    pub(crate) what: String,
    /// What to do about it.
    pub(crate) hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}\n    hint: {}", self.place, self.what, self.hint)
    }
}

/// A workspace package and its dependencies, reduced to what the edge check needs.
#[derive(Debug, Clone)]
struct Package {
    name: String,
    dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone)]
struct Dependency {
    /// The package name (not the `rename`d one).
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Build,
    Dev,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Normal => "dependencies",
            Self::Build => "build-dependencies",
            Self::Dev => "dev-dependencies",
        })
    }
}

/// Runs every tidy check and fails if any found a problem.
pub(crate) fn run(workspace: &Workspace) -> Result<()> {
    let metadata = workspace.metadata()?;
    let packages = metadata
        .packages
        .iter()
        .map(parse_package)
        .collect::<Result<Vec<_>>>()?;
    let mut problems = check_dependencies(&packages);
    problems.extend(files::check_manifests(workspace, &metadata.packages)?);
    problems.extend(files::check_doc_headers(workspace)?);
    let tracked = files::tracked_files(workspace)?;
    problems.extend(files::check_tracked_sizes(workspace, &tracked)?);
    problems.extend(files::check_machine_paths(workspace, &tracked)?);
    if problems.is_empty() {
        println!(
            "tidy: all checks passed ({} crates, {} files in git)",
            packages.len(),
            tracked.len()
        );
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("tidy found {} problem(s); see above", problems.len())
}

fn parse_package(package: &Value) -> Result<Package> {
    let name = package["name"]
        .as_str()
        .context("`cargo metadata` printed a package without a name")?;
    let Some(dependencies) = package["dependencies"].as_array() else {
        bail!("`cargo metadata` printed no dependency list for `{name}`");
    };
    let dependencies = dependencies
        .iter()
        .map(|dependency| {
            let dependency_name = dependency["name"].as_str().with_context(|| {
                format!("`cargo metadata` printed a nameless dependency of `{name}`")
            })?;
            let kind = match dependency["kind"].as_str() {
                None => Kind::Normal,
                Some("build") => Kind::Build,
                Some("dev") => Kind::Dev,
                Some(other) => bail!("unknown dependency kind `{other}` in `{name}`"),
            };
            Ok(Dependency {
                name: dependency_name.to_owned(),
                kind,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Package {
        name: name.to_owned(),
        dependencies,
    })
}

fn allowed_for(name: &str) -> Option<Allowed> {
    ALLOWED_EDGES
        .iter()
        .find(|(crate_name, _)| *crate_name == name)
        .map(|&(_, allowed)| allowed)
}

/// Everything `name` may reach through allowed edges: what its dev-dependencies may use, since a
/// test depending on a crate already in the build graph adds no new edge.
fn reachable(name: &str) -> BTreeSet<&'static str> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![name];
    while let Some(current) = stack.pop() {
        if let Some(Allowed::Only(targets)) = allowed_for(current) {
            for &target in targets {
                if seen.insert(target) {
                    stack.push(target);
                }
            }
        }
    }
    seen
}

/// The edge check proper: pure over the package list, so it is unit-tested below.
fn check_dependencies(packages: &[Package]) -> Vec<Problem> {
    let members: BTreeSet<&str> = packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package.name.as_str();
        for dependency in &package.dependencies {
            if let Some((_, _, reason)) = FORBIDDEN_EXTERNAL.iter().find(|(from, to, _)| {
                *from == name && *to == dependency.name && dependency.kind != Kind::Dev
            }) {
                problems.push(Problem {
                    place: format!("crate `{name}`"),
                    what: format!(
                        "[{}] has `{}`, which is forbidden: {reason}",
                        dependency.kind, dependency.name
                    ),
                    hint: format!(
                        "remove `{}`; move the code that needs it to a higher crate",
                        dependency.name
                    ),
                });
            }
        }
        for (first, second) in FORBIDDEN_TOGETHER {
            let normal = |wanted: &str| {
                package
                    .dependencies
                    .iter()
                    .any(|dependency| dependency.name == wanted && dependency.kind == Kind::Normal)
            };
            if normal(first) && normal(second) {
                problems.push(Problem {
                    place: format!("crate `{name}`"),
                    what: format!("[dependencies] has both `{first}` and `{second}`"),
                    hint: "serve HTTP in cairn-server and keep SQL in cairn-service; the server calls domain functions".to_owned(),
                });
            }
        }
        let Some(allowed) = allowed_for(name) else {
            problems.push(Problem {
                place: format!("crate `{name}`"),
                what: "is not in the allowed-edge table".to_owned(),
                hint: "add it to the table in xtask/src/tidy.rs and to DESIGN.md and docs/ARCHITECTURE.md"
                    .to_owned(),
            });
            continue;
        };
        let Allowed::Only(direct) = allowed else {
            continue;
        };
        let closure = reachable(name);
        for dependency in &package.dependencies {
            let target = dependency.name.as_str();
            if !members.contains(target) {
                continue;
            }
            let permitted = direct.contains(&target)
                || (dependency.kind == Kind::Dev && closure.contains(target));
            if !permitted {
                problems.push(Problem {
                    place: format!("crate `{name}`"),
                    what: format!("[{}] has `{target}`, an edge the architecture does not allow", dependency.kind),
                    hint: format!(
                        "`{name}` may use only {}; break the cycle with a trait in the lower crate, or \
                         change the table in xtask/src/tidy.rs, DESIGN.md and docs/ARCHITECTURE.md together",
                        describe(direct)
                    ),
                });
            }
        }
    }
    problems
}

fn describe(crates: &[&str]) -> String {
    if crates.is_empty() {
        return "no workspace crate".to_owned();
    }
    crates
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds packages from `(name, [(dependency, kind)])` and returns `crate: dependency` for each
    /// problem found.
    fn check(packages: &[(&str, &[(&str, Kind)])], expect: &[&str]) {
        let packages: Vec<Package> = packages
            .iter()
            .map(|(name, dependencies)| Package {
                name: (*name).to_owned(),
                dependencies: dependencies
                    .iter()
                    .map(|(dependency, kind)| Dependency {
                        name: (*dependency).to_owned(),
                        kind: *kind,
                    })
                    .collect(),
            })
            .collect();
        let found: Vec<String> = check_dependencies(&packages)
            .iter()
            .map(|problem| format!("{}: {}", problem.place, problem.what))
            .collect();
        let expect: Vec<String> = expect.iter().map(|line| (*line).to_owned()).collect();
        assert_eq!(found, expect);
    }

    use Kind::{Build, Dev, Normal};

    #[test]
    fn allowed_edges_pass() {
        check(
            &[
                ("cairn-hash", &[("md-5", Normal)]),
                (
                    "cairn-manifest",
                    &[("cairn-hash", Normal), ("serde_json", Normal)],
                ),
                (
                    "cairn-cli",
                    &[("cairn-client", Normal), ("cairn-hash", Build)],
                ),
                ("cairn-client", &[("cairn-hash", Normal)]),
                ("cairn-tests", &[("cairn-cli", Normal), ("cairn-hash", Dev)]),
                ("xtask", &[("anyhow", Normal)]),
            ],
            &[],
        );
    }

    #[test]
    fn back_edges_are_reported_for_every_kind() {
        check(
            &[
                ("cairn-hash", &[("cairn-manifest", Normal)]),
                (
                    "cairn-manifest",
                    &[("cairn-hash", Normal), ("cairn-client", Build)],
                ),
                ("cairn-client", &[("cairn-cli", Dev)]),
                ("cairn-cli", &[]),
            ],
            &[
                "crate `cairn-hash`: [dependencies] has `cairn-manifest`, an edge the architecture does not allow",
                "crate `cairn-manifest`: [build-dependencies] has `cairn-client`, an edge the architecture does not allow",
                "crate `cairn-client`: [dev-dependencies] has `cairn-cli`, an edge the architecture does not allow",
            ],
        );
    }

    #[test]
    fn xtask_depends_on_no_workspace_crate() {
        check(
            &[("xtask", &[("cairn-hash", Dev)]), ("cairn-hash", &[])],
            &[
                "crate `xtask`: [dev-dependencies] has `cairn-hash`, an edge the architecture does not allow",
            ],
        );
    }

    #[test]
    fn dependencies_outside_the_workspace_are_not_edges() {
        // `cairn-storage` is in the table but not a member here, so it is an external crate.
        check(&[("cairn-hash", &[("cairn-storage", Normal)])], &[]);
    }

    #[test]
    fn unknown_crates_must_be_added_to_the_table() {
        check(
            &[("cairn-gui", &[])],
            &["crate `cairn-gui`: is not in the allowed-edge table"],
        );
    }

    #[test]
    fn pure_layers_keep_out_of_json_and_async() {
        check(
            &[
                (
                    "cairn-hash",
                    &[
                        ("serde_json", Normal),
                        ("tokio", Build),
                        ("serde_json", Dev),
                    ],
                ),
                ("cairn-manifest", &[("tokio", Normal)]),
            ],
            &[
                "crate `cairn-hash`: [dependencies] has `serde_json`, which is forbidden: cairn-hash is reusable without a JSON stack",
                "crate `cairn-hash`: [build-dependencies] has `tokio`, which is forbidden: cairn-hash is a pure layer and is not async",
                "crate `cairn-manifest`: [dependencies] has `tokio`, which is forbidden: cairn-manifest is a pure layer and is not async",
            ],
        );
    }

    #[test]
    fn http_and_sql_stay_in_their_own_crates() {
        check(
            &[
                ("cairn-service", &[("rusqlite", Normal), ("axum", Normal)]),
                ("cairn-server", &[("axum", Normal), ("rusqlite", Dev)]),
                ("cairn-gui", &[("axum", Normal), ("rusqlite", Normal)]),
            ],
            &[
                "crate `cairn-service`: [dependencies] has `axum`, which is forbidden: the domain knows nothing of HTTP; front-ends live in cairn-server",
                "crate `cairn-service`: [dependencies] has both `axum` and `rusqlite`",
                "crate `cairn-gui`: [dependencies] has both `axum` and `rusqlite`",
                "crate `cairn-gui`: is not in the allowed-edge table",
            ],
        );
    }

    #[test]
    fn dev_dependencies_may_use_what_the_crate_reaches() {
        assert_eq!(reachable("cairn-cache"), BTreeSet::from(["cairn-hash"]));
        assert!(reachable("cairn-client").contains("cairn-hash"));
        assert!(reachable("xtask").is_empty());
    }

    #[test]
    fn every_table_entry_names_only_table_crates() {
        for (name, allowed) in ALLOWED_EDGES {
            if let Allowed::Only(targets) = allowed {
                for target in *targets {
                    assert!(
                        allowed_for(target).is_some(),
                        "{name} -> {target} is not in the table"
                    );
                    assert_ne!(name, target, "{name} may not depend on itself");
                }
            }
        }
    }
}
