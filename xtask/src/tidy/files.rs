//! Tidy's file checks: `//!` headers, inherited lints and edition, file sizes, build output in
//! git, and absolute paths that only exist on one machine.
//!
//! "Files in git" means what `git ls-files --cached --others --exclude-standard` lists: the files
//! git tracks plus the new ones it would pick up, so a check also covers a change not yet added.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::tidy::Problem;
use crate::workspace::Workspace;

/// Files larger than this must live under `fixtures/`.
const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Top-level directories whose `.rs` files must open with a `//!` comment.
const SOURCE_ROOTS: &[&str] = &["crates", "xtask", "tests"];

/// Files allowed to mention machine-specific absolute paths, with the reason. Everything under
/// `fixtures/` is allowed as a whole: recorded vectors hold the paths they were made with.
const MACHINE_PATH_ALLOWED: &[(&str, &str)] = &[];

/// Checks that every member manifest inherits the workspace lints and edition.
pub(crate) fn check_manifests(workspace: &Workspace, packages: &[Value]) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for package in packages {
        let Some(path) = package["manifest_path"].as_str().map(PathBuf::from) else {
            anyhow::bail!("`cargo metadata` printed a package without a `manifest_path`");
        };
        let text = fs_err::read_to_string(&path)?;
        let place = workspace.relative(&path).display().to_string();
        for (what, hint) in manifest_problems(&text) {
            problems.push(Problem {
                place: place.clone(),
                what: what.to_owned(),
                hint: hint.to_owned(),
            });
        }
    }
    Ok(problems)
}

/// Checks that every `.rs` file under the source roots opens with a `//!` line.
pub(crate) fn check_doc_headers(workspace: &Workspace) -> Result<Vec<Problem>> {
    let mut files = Vec::new();
    for root in SOURCE_ROOTS {
        let dir = workspace.root().join(root);
        if dir.is_dir() {
            collect_rust_files(&dir, &mut files)?;
        }
    }
    let mut problems = Vec::new();
    for file in files {
        let text = fs_err::read_to_string(&file)?;
        if !text.starts_with("//!") {
            problems.push(Problem {
                place: workspace.relative(&file).display().to_string(),
                what: "does not open with a `//!` doc comment".to_owned(),
                hint: "start the file with `//! <what this module is for>` (STYLE.md rule 15)"
                    .to_owned(),
            });
        }
    }
    Ok(problems)
}

/// Lists the files git tracks or would track, relative to the workspace root.
pub(crate) fn tracked_files(workspace: &Workspace) -> Result<Vec<PathBuf>> {
    let cmd = workspace.command("git").args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]);
    let listing = cmd.read_stdout().context(
        "tidy needs git and a git checkout of the workspace (install git, or `git init`)",
    )?;
    let mut files: Vec<PathBuf> = listing
        .split('\0')
        .filter(|name| !name.is_empty())
        .map(PathBuf::from)
        .collect();
    files.sort();
    files.dedup();
    // A file deleted in the work tree but not yet in the index is listed; it will not be committed.
    files.retain(|file| workspace.root().join(file).exists());
    Ok(files)
}

/// Checks that no file in git is build output or larger than [`MAX_FILE_SIZE`] outside `fixtures/`.
pub(crate) fn check_tracked_sizes(
    workspace: &Workspace,
    tracked: &[PathBuf],
) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for file in tracked {
        let place = file.display().to_string();
        if file
            .components()
            .any(|component| component.as_os_str() == "target")
        {
            problems.push(Problem {
                place: place.clone(),
                what: "is build output under a `target/` directory".to_owned(),
                hint: "remove it from git (`git rm --cached`) and keep `/target` in .gitignore"
                    .to_owned(),
            });
        }
        let size = fs_err::metadata(workspace.root().join(file))?.len();
        if size > MAX_FILE_SIZE && !file.starts_with("fixtures") {
            problems.push(Problem {
                place,
                what: format!(
                    "is {size} bytes, over the 1 MiB limit for files outside `fixtures/`"
                ),
                hint: "generate it at test time, shrink it, or move test data under `fixtures/`"
                    .to_owned(),
            });
        }
    }
    Ok(problems)
}

/// Checks that `.rs`, `.md` and `.toml` files in git mention no machine-specific absolute path.
pub(crate) fn check_machine_paths(
    workspace: &Workspace,
    tracked: &[PathBuf],
) -> Result<Vec<Problem>> {
    let patterns = machine_path_patterns();
    let mut problems = Vec::new();
    for file in tracked {
        let checked = file
            .extension()
            .is_some_and(|extension| ["rs", "md", "toml"].iter().any(|e| extension == *e));
        if !checked || file.starts_with("fixtures") || is_allowed(file) {
            continue;
        }
        let bytes = fs_err::read(workspace.root().join(file))?;
        let text = String::from_utf8_lossy(&bytes);
        for (line, pattern) in find_machine_paths(&text, &patterns) {
            problems.push(Problem {
                place: format!("{}:{line}", file.display()),
                what: format!("mentions the machine-specific path `{pattern}`"),
                hint: "use a path relative to the workspace, `env!(\"CARGO_MANIFEST_DIR\")` or a temp dir; \
                       if it must stay, add the file to MACHINE_PATH_ALLOWED in xtask/src/tidy/files.rs \
                       with a reason"
                    .to_owned(),
            });
        }
    }
    Ok(problems)
}

/// The absolute prefixes that name one machine's layout. Built at run time so that this file does
/// not flag itself.
fn machine_path_patterns() -> Vec<String> {
    ["work", "root", "home"]
        .iter()
        .map(|dir| format!("/{dir}/"))
        .collect()
}

fn is_allowed(file: &Path) -> bool {
    MACHINE_PATH_ALLOWED
        .iter()
        .any(|(allowed, _reason)| file == Path::new(allowed))
}

/// Returns `(line number, pattern)` for each line of `text` holding one of `patterns`.
fn find_machine_paths<'p>(text: &str, patterns: &'p [String]) -> Vec<(usize, &'p str)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(pattern) = patterns
            .iter()
            .find(|pattern| contains_absolute(line, pattern))
        {
            found.push((index + 1, pattern.as_str()));
        }
    }
    found
}

/// Whether `line` holds `pattern` as the start of an absolute path, not inside a relative one
/// (`data/home/x` is fine).
fn contains_absolute(line: &str, pattern: &str) -> bool {
    line.match_indices(pattern).any(|(start, _)| {
        line[..start]
            .chars()
            .next_back()
            .is_none_or(|before| !(before.is_alphanumeric() || "_-.".contains(before)))
    })
}

/// What is wrong with a member's `Cargo.toml`, as `(problem, hint)` pairs.
fn manifest_problems(text: &str) -> Vec<(&'static str, &'static str)> {
    let mut section = String::new();
    let mut lints_inherited = false;
    let mut edition_inherited = false;
    for line in text.lines() {
        let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(header) = compact.strip_prefix('[') {
            section = header.trim_end_matches(']').to_owned();
            continue;
        }
        match section.as_str() {
            "" => lints_inherited |= compact.starts_with("lints.workspace=true"),
            "lints" => lints_inherited |= compact.starts_with("workspace=true"),
            "package" => {
                edition_inherited |= compact.starts_with("edition.workspace=true")
                    || compact.starts_with("edition={workspace=true}");
            }
            "package.edition" => edition_inherited |= compact.starts_with("workspace=true"),
            _ => {}
        }
    }
    let mut problems = Vec::new();
    if !lints_inherited {
        problems.push((
            "does not inherit the workspace lints",
            "add `[lints]` with `workspace = true` (STYLE.md rule 2)",
        ));
    }
    if !edition_inherited {
        problems.push((
            "does not inherit the workspace edition",
            "write `edition.workspace = true` under `[package]`",
        ));
    }
    problems
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .with_context(|| format!("cannot stat `{}`", path.display()))?;
        if file_type.is_dir() {
            if entry.file_name() != "target" {
                collect_rust_files(&path, files)?;
            }
        } else if file_type.is_file() && path.extension().is_some_and(|extension| extension == "rs")
        {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_manifest(text: &str, expect: &[&str]) {
        let found: Vec<&str> = manifest_problems(text)
            .into_iter()
            .map(|(what, _)| what)
            .collect();
        assert_eq!(found, expect);
    }

    #[test]
    fn manifests_must_inherit_lints_and_edition() {
        check_manifest(
            "[package]\nname = \"a\"\nedition.workspace = true\n\n[lints]\nworkspace = true\n",
            &[],
        );
        check_manifest(
            "lints.workspace = true\n[package]\nedition = { workspace = true }\n",
            &[],
        );
        check_manifest(
            "[package]\nedition = \"2021\"\n[lints.clippy]\nworkspace = true\n",
            &[
                "does not inherit the workspace lints",
                "does not inherit the workspace edition",
            ],
        );
        check_manifest(
            "[package]\nedition.workspace = true\n[dependencies]\nworkspace = true\n",
            &["does not inherit the workspace lints"],
        );
    }

    #[test]
    fn machine_paths_are_found_by_line() {
        let patterns = machine_path_patterns();
        let home = format!("let p = \"/{}/u/data\";", "home");
        let root = format!("file:///{}/x", "root");
        let text = format!("fine /tmp/x\n{home}\nrelative/work/ok and data/home/x\n{root}\n");
        assert_eq!(
            find_machine_paths(&text, &patterns),
            [(2, patterns[2].as_str()), (4, patterns[1].as_str())]
        );
    }
}
