//! The server's checks of names, aliases, tags, metadata and digests, on top of the SDK's rules
//! in `cairn-manifest`: the server trusts no client, so every name in a request is checked
//! here before it touches the database.

use serde_json::{Map, Value};

use crate::error::{Error, Kind};

/// A user or team name.
pub(crate) fn entity_name(name: &str) -> Result<(), Error> {
    cairn_manifest::validate_entity_name(name).map_err(Error::invalid_name)
}

/// A project name.
pub(crate) fn project_name(name: &str) -> Result<(), Error> {
    cairn_manifest::validate_project_name(name)
        .map_err(|error| Error::invalid_name(format!("project name `{name}`: {error}")))?;
    if name.trim() != name || name.chars().any(char::is_control) {
        return Err(Error::invalid_name(format!(
            "project name `{name}` must not start or end with spaces or hold control characters"
        )));
    }
    Ok(())
}

/// An artifact (collection) name. Stricter than the SDK in one place: the trailing newline its
/// regular expression lets through is refused.
pub(crate) fn artifact_name(name: &str) -> Result<(), Error> {
    if name.ends_with('\n') {
        return Err(Error::invalid_name(format!(
            "artifact name `{}` ends with a newline; remove it",
            name.trim_end()
        )));
    }
    cairn_manifest::validate_artifact_name(name)
        .map_err(|error| Error::invalid_name(error.to_string()))
}

/// An artifact type for an artifact name.
pub(crate) fn artifact_type(artifact_type: &str, name: &str) -> Result<(), Error> {
    if artifact_type.is_empty()
        || artifact_type.len() > 128
        || artifact_type.chars().any(char::is_control)
    {
        return Err(Error::invalid_name(format!(
            "artifact type `{artifact_type}` must be 1 to 128 characters without control characters"
        )));
    }
    cairn_manifest::validate_artifact_type(artifact_type, name)
        .map_err(|error| Error::invalid_name(error.to_string()))
}

/// Aliases a client asks to set: the SDK's rule, not empty, not `vN` (reserved for version
/// indexes). Returns them without duplicates and without `latest` (which always moves).
pub(crate) fn requested_aliases(aliases: &[String]) -> Result<Vec<String>, Error> {
    cairn_manifest::validate_aliases(aliases)
        .map_err(|error| Error::invalid_name(error.to_string()))?;
    let mut unique: Vec<String> = Vec::new();
    for alias in aliases {
        if alias.trim().is_empty() || alias.len() > 128 || alias.chars().any(char::is_control) {
            return Err(Error::invalid_name(format!(
                "alias `{alias}` must be 1 to 128 characters, not only spaces, without control characters"
            )));
        }
        if cairn_manifest::is_version_alias(alias) {
            return Err(Error::invalid_name(format!(
                "alias `{alias}` looks like a version index; `vN` names are assigned by the server, pick another alias"
            )));
        }
        if alias != cairn_manifest::LATEST_ALIAS && !unique.contains(alias) {
            unique.push(alias.clone());
        }
    }
    Ok(unique)
}

/// Tags, deduplicated.
pub(crate) fn tags(tags: &[String]) -> Result<Vec<String>, Error> {
    cairn_manifest::validate_tags(tags).map_err(|error| Error::invalid_name(error.to_string()))
}

/// Metadata: an object of at most [`cairn_manifest::MAX_METADATA_KEYS`] keys.
pub(crate) fn metadata(metadata: &Map<String, Value>) -> Result<(), Error> {
    cairn_manifest::validate_metadata(Value::Object(metadata.clone()))
        .map(|_| ())
        .map_err(|error| Error::refused(Kind::InvalidMetadata, error.to_string()))
}

/// Whether `text` is 32 hex digits.
pub(crate) fn is_hex32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// An MD5 in a blob route: 32 hex digits, returned in lowercase.
pub(crate) fn blob_md5(md5: &str) -> Result<String, Error> {
    if is_hex32(md5) {
        Ok(md5.to_ascii_lowercase())
    } else {
        Err(Error::bad_request(format!(
            "`{md5}` is not a blob id: it must be the content's MD5 as 32 hex digits"
        )))
    }
}

/// A run id: 1–64 of `[A-Za-z0-9._-]`, not starting with `.` (the W&B SDK lets users pick ids
/// such as `exp-1`, and refuses `/ \\ # ? % :` in them).
pub(crate) fn run_id(id: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&id.len())
        && !id.starts_with('.')
        && id.bytes().all(|byte| {
            byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' || byte == b'.'
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_name(format!(
            "run id `{id}` must be 1 to 64 of letters, digits, `.`, `_` and `-`, not starting with `.`"
        )))
    }
}

/// The writer of a distributed version's part: 1 to 256 bytes without control characters.
pub(crate) fn writer(writer: &str) -> Result<(), Error> {
    if writer.is_empty() || writer.len() > 256 || writer.chars().any(char::is_control) {
        return Err(Error::bad_request(
            "a writer's name must be 1 to 256 bytes without control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn aliases() {
        assert_eq!(
            requested_aliases(&strings(&["best", "latest", "best"])).ok(),
            Some(strings(&["best"]))
        );
        for bad in ["v3", "", "  ", "a/b", "a:b"] {
            assert!(requested_aliases(&strings(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert!(artifact_name("cats-1.0_x").is_ok());
        assert!(artifact_name("cats\n").is_err());
        assert!(artifact_name("../x").is_err());
        assert!(project_name("vision").is_ok());
        assert!(project_name("a/b").is_err());
        assert!(artifact_type("dataset", "cats").is_ok());
        assert!(artifact_type("wandb-x", "cats").is_err());
        assert!(artifact_type("", "cats").is_err());
        assert!(run_id("abcdefgh").is_ok());
        assert!(run_id("exp-1.B_2").is_ok());
        assert!(run_id("").is_err());
        assert!(run_id(".hidden").is_err());
        assert!(run_id("a/b").is_err());
        assert!(run_id("a:b").is_err());
        assert!(run_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn digests() {
        assert!(blob_md5(&"g".repeat(32)).is_err());
    }
}
