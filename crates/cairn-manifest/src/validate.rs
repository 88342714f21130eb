//! Name rules: artifact names and types, download-root names and project names (FORMAT.md §6).
//!
//! These mirror the SDK's client-side checks so that Cairn refuses exactly what the SDK
//! refuses, with the same message; the server may apply further rules of its own.

use crate::error::{Error, Result};
use crate::path::is_unsafe_relative_path;
use crate::python_repr::python_repr;

/// Longest artifact, project or registry name the SDK accepts, in characters.
pub const MAX_NAME_LENGTH: usize = 128;

/// The prefix of registry project names.
pub const REGISTRY_PREFIX: &str = "wandb-registry-";

/// Characters a project or registry name must not contain.
const PROJECT_FORBIDDEN: &[char] = &['/', '\\', '#', '?', '%', ':', '\r', '\n'];

/// Checks an artifact name: ASCII letters, digits, `_`, `-` and `.`, at most 128 characters.
///
/// Like the SDK's regular expression (`^...+$` used with `re.match`, where `$` also matches
/// before a final newline), one trailing `\n` is accepted: `"abc\n"` passes, `"abc\n\n"` does
/// not. The character check comes first, then the length check.
pub fn validate_artifact_name(name: &str) -> Result<()> {
    let body = name.strip_suffix('\n').unwrap_or(name);
    let allowed =
        |character: char| character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.');
    if body.is_empty() || !body.chars().all(allowed) {
        return Err(Error::InvalidArtifactName {
            name: name.to_owned(),
        });
    }
    if name.chars().count() > MAX_NAME_LENGTH {
        return Err(Error::ArtifactNameTooLong {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Checks that `artifact_type` is not reserved for W&B's internal use, given the artifact's name.
///
/// Reserved: any type starting with `wandb-`; `job`; `run_table` for names starting with
/// `run-`; `code` for names starting with `source-`. Every other string, even empty, is fine.
pub fn validate_artifact_type(artifact_type: &str, name: &str) -> Result<()> {
    let reserved = artifact_type.starts_with("wandb-")
        || artifact_type == "job"
        || (artifact_type == "run_table" && name.starts_with("run-"))
        || (artifact_type == "code" && name.starts_with("source-"));
    if reserved {
        return Err(Error::ReservedArtifactType {
            artifact_type: artifact_type.to_owned(),
        });
    }
    Ok(())
}

/// Checks a download-root name, `name[:version]`, before it is joined onto a directory.
///
/// When the second character is `:`, the first two characters are skipped (a one-character
/// collection name followed by its version separator, `a:v0`, is not a drive); the rest must
/// pass the same relative-path check as an entry path, minus the control-character rule. So
/// `../evil:v0`, `/abs:v1`, `x:..`, `a:C:\evil` and the empty name are rejected.
pub fn validate_download_root_name(name: &str) -> Result<()> {
    let mut characters = name.chars();
    let rest = match (characters.next(), characters.next()) {
        (Some(_), Some(':')) => characters.as_str(),
        _ => name,
    };
    if is_unsafe_relative_path(rest) {
        return Err(Error::InvalidDownloadRootName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Checks a project or registry (`wandb-registry-<name>`) name: not empty, at most 128
/// characters including the registry prefix, and none of `/ \ # ? % :` or a line break. The
/// messages are the SDK's.
pub fn validate_project_name(name: &str) -> Result<()> {
    let reject = |message: String| {
        Err(Error::InvalidProjectName {
            name: name.to_owned(),
            message,
        })
    };
    if name.is_empty() {
        return reject("Project name cannot be empty".to_owned());
    }
    let registry_name = name.strip_prefix(REGISTRY_PREFIX).unwrap_or(name);
    if registry_name.is_empty() {
        return reject("Registry name cannot be empty".to_owned());
    }
    if name.chars().count() > MAX_NAME_LENGTH {
        return reject(if registry_name.len() == name.len() {
            format!(
                "Invalid project name {}, must be {MAX_NAME_LENGTH} characters or less",
                python_repr(name)
            )
        } else {
            format!(
                "Invalid registry name {}, must be {} characters or less",
                python_repr(registry_name),
                MAX_NAME_LENGTH - REGISTRY_PREFIX.len()
            )
        });
    }
    let mut forbidden: Vec<char> = name
        .chars()
        .filter(|character| PROJECT_FORBIDDEN.contains(character))
        .collect();
    if !forbidden.is_empty() {
        forbidden.sort_unstable();
        forbidden.dedup();
        let listed: Vec<String> = forbidden
            .iter()
            .map(|character| python_repr(&character.to_string()))
            .collect();
        return reject(format!(
            "Invalid project/registry name {}, cannot contain characters: {}",
            python_repr(registry_name),
            listed.join(", ")
        ));
    }
    Ok(())
}

/// The longest entity (user or team) name.
pub const MAX_ENTITY_NAME_LENGTH: usize = 64;

/// Checks a user or team name: 1–64 of lowercase ASCII letters, digits, `-` and `_`, starting
/// with a letter or digit. Returns a message a user can act on.
pub fn validate_entity_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_ENTITY_NAME_LENGTH {
        return Err(format!(
            "entity name `{name}` must be 1 to {MAX_ENTITY_NAME_LENGTH} characters long"
        ));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !first_ok || !rest_ok {
        return Err(format!(
            "entity name `{name}` may only hold lowercase letters, digits, `-` and `_`, and must start with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{
        validate_artifact_name, validate_artifact_type, validate_download_root_name,
        validate_project_name,
    };

    fn check(result: crate::Result<()>, expect: Result<(), &str>) {
        assert_eq!(
            result.map_err(|error| error.to_string()),
            expect.map_err(str::to_owned)
        );
    }

    #[test]
    fn artifact_names() {
        check(validate_artifact_name("model_v1.2"), Ok(()));
        check(validate_artifact_name("abc\n"), Ok(()));
        check(
            validate_artifact_name("abc\n\n"),
            Err(
                "Artifact name may only contain alphanumeric characters, dashes, underscores, and dots. Invalid name: 'abc\\n\\n'",
            ),
        );
        check(
            validate_artifact_name("\n"),
            Err(
                "Artifact name may only contain alphanumeric characters, dashes, underscores, and dots. Invalid name: '\\n'",
            ),
        );
        check(validate_artifact_name(&"a".repeat(128)), Ok(()));
        check(
            validate_artifact_name(&"b".repeat(130)),
            Err(&format!(
                "Artifact name is longer than 128 characters: '{} ...'",
                "b".repeat(128)
            )),
        );
        // One trailing newline counts towards the length, as Python's `len` does.
        assert!(validate_artifact_name(&format!("{}\n", "a".repeat(128))).is_err());
    }

    #[test]
    fn artifact_types() {
        check(validate_artifact_type("dataset", "x"), Ok(()));
        check(validate_artifact_type("Job", "x"), Ok(()));
        check(validate_artifact_type("code", "src-x"), Ok(()));
        check(
            validate_artifact_type("wandb-", "x"),
            Err(
                "Artifact type 'wandb-' is reserved for internal use. Please use a different type.",
            ),
        );
        check(
            validate_artifact_type("run_table", "run-1"),
            Err(
                "Artifact type 'run_table' is reserved for internal use. Please use a different type.",
            ),
        );
    }

    #[test]
    fn download_roots() {
        for name in ["é:v0", "1:v0", "a", "name:v0:extra", "..notevil", "a/b:v2"] {
            check(validate_download_root_name(name), Ok(()));
        }
        check(
            validate_download_root_name(""),
            Err("Invalid artifact name: ''"),
        );
        check(
            validate_download_root_name(".."),
            Err("Invalid artifact name: '..'"),
        );
        check(
            validate_download_root_name("a:"),
            Err("Invalid artifact name: 'a:'"),
        );
        check(
            validate_download_root_name("dir\\..\\x:v0"),
            Err("Invalid artifact name: 'dir\\\\..\\\\x:v0'"),
        );
        check(
            validate_download_root_name("\\share"),
            Err("Invalid artifact name: '\\\\share'"),
        );
        check(
            validate_download_root_name("a:C:\\evil"),
            Err("Invalid artifact name: 'a:C:\\\\evil'"),
        );
        check(
            validate_download_root_name("a:v0/../../evil"),
            Err("Invalid artifact name: 'a:v0/../../evil'"),
        );
    }

    #[test]
    fn project_names() {
        // Messages as written by the SDK's `validate_project_name`.
        check(validate_project_name("my-project"), Ok(()));
        check(validate_project_name("wandb-registry-a"), Ok(()));
        check(validate_project_name(&"p".repeat(128)), Ok(()));
        check(
            validate_project_name(""),
            Err("Project name cannot be empty"),
        );
        check(
            validate_project_name("wandb-registry-"),
            Err("Registry name cannot be empty"),
        );
        check(
            validate_project_name("my-?:/-project"),
            Err(
                "Invalid project/registry name 'my-?:/-project', cannot contain characters: '/', ':', '?'",
            ),
        );
        check(
            validate_project_name("my-project-\n"),
            Err("Invalid project/registry name 'my-project-\\n', cannot contain characters: '\\n'"),
        );
        check(
            validate_project_name("wandb-registry-a#"),
            Err("Invalid project/registry name 'a#', cannot contain characters: '#'"),
        );
        check(
            validate_project_name(&"p".repeat(129)),
            Err(&format!(
                "Invalid project name '{}', must be 128 characters or less",
                "p".repeat(129)
            )),
        );
        check(
            validate_project_name(&format!("wandb-registry-{}", "a".repeat(128))),
            Err(&format!(
                "Invalid registry name '{}', must be 113 characters or less",
                "a".repeat(128)
            )),
        );
    }
}
