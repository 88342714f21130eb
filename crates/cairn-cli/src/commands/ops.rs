//! The `--ops` file: SDK calls written as JSON, in the shape of the W&B vectors' `spec.json`.
//!
//! ```json
//! [
//!   {"op": "add_file", "local_path": "model.bin", "name": "weights/model.bin", "overwrite": false},
//!   {"op": "add_dir", "local_path": "data", "name": "data"},
//!   {"op": "add_reference", "uri": "file:///mnt/shared/labels.csv", "checksum": true, "max_objects": 10},
//!   {"op": "new_file", "name": "notes.md", "text": "# Notes\n"},
//!   {"op": "remove", "item": "data/tmp"}
//! ]
//! ```
//!
//! Relative local paths are resolved against the current directory. Unknown keys are errors, so
//! a misspelt option is never silently ignored.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cairn_client::{AddDirOptions, AddFileOptions, Artifact, ReferenceOptions};
use serde::Deserialize;

/// One SDK call.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum Op {
    /// `artifact.add_file(local_path, name=None, is_tmp=False, skip_cache=False, policy="mutable", overwrite=False)`
    AddFile {
        local_path: PathBuf,
        name: Option<String>,
        #[serde(default)]
        overwrite: bool,
        #[serde(default)]
        is_tmp: bool,
        #[serde(default)]
        skip_cache: bool,
        policy: Option<String>,
    },
    /// `artifact.add_dir(local_path, name=None, skip_cache=False, policy="mutable", merge=False)`
    AddDir {
        local_path: PathBuf,
        name: Option<String>,
        #[serde(default)]
        merge: bool,
        #[serde(default)]
        skip_cache: bool,
        policy: Option<String>,
    },
    /// `artifact.add_reference(uri, name=None, checksum=True, max_objects=None)`
    AddReference {
        uri: String,
        name: Option<String>,
        checksum: Option<bool>,
        max_objects: Option<u64>,
    },
    /// `with artifact.new_file(name, mode="x", encoding="utf-8") as f: f.write(text)`
    NewFile {
        name: String,
        text: String,
        mode: Option<String>,
        encoding: Option<String>,
    },
    /// `artifact.remove(item)`
    Remove { item: String },
}

impl Op {
    /// A short description for error context: the op and what it names.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::AddFile { local_path, .. } => format!("add_file `{}`", local_path.display()),
            Self::AddDir { local_path, .. } => format!("add_dir `{}`", local_path.display()),
            Self::AddReference { uri, .. } => format!("add_reference `{uri}`"),
            Self::NewFile { name, .. } => format!("new_file `{name}`"),
            Self::Remove { item } => format!("remove `{item}`"),
        }
    }
}

/// Reads and parses an ops file (`-` is standard input).
pub(super) fn read(path: &Path) -> anyhow::Result<Vec<Op>> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read operations from standard input")?;
        text
    } else {
        fs_err::read_to_string(path)?
    };
    serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not a valid operations file: expected a JSON array of objects like {{\"op\": \"add_dir\", \"local_path\": \"data\"}}",
            path.display()
        )
    })
}

/// Applies one op to the artifact.
pub(super) fn apply(artifact: &mut Artifact, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::AddFile {
            local_path,
            name,
            overwrite,
            is_tmp,
            skip_cache,
            policy,
        } => {
            let options = AddFileOptions {
                name: name.clone(),
                overwrite: *overwrite,
                is_tmp: *is_tmp,
                skip_cache: *skip_cache,
                policy: policy.as_deref().unwrap_or("mutable").parse()?,
            };
            artifact.add_file(local_path, &options)?;
        }
        Op::AddDir {
            local_path,
            name,
            merge,
            skip_cache,
            policy,
        } => {
            let options = AddDirOptions {
                name: name.clone(),
                merge: *merge,
                skip_cache: *skip_cache,
                policy: policy.as_deref().unwrap_or("mutable").parse()?,
            };
            artifact.add_dir(local_path, &options)?;
        }
        Op::AddReference {
            uri,
            name,
            checksum,
            max_objects,
        } => {
            let options = ReferenceOptions {
                name: name.clone(),
                checksum: checksum.unwrap_or(true),
                max_objects: *max_objects,
            };
            artifact.add_reference(uri, &options)?;
        }
        Op::NewFile {
            name,
            text,
            mode,
            encoding,
        } => {
            let exclusive = match mode.as_deref().unwrap_or("x") {
                mode if mode.contains('x') => true,
                mode if mode.contains('w') => false,
                other => anyhow::bail!(
                    "new_file mode `{other}` is not supported: use `x` (refuse to overwrite) or `w`"
                ),
            };
            artifact.new_file(name, &encode(text, encoding.as_deref())?, exclusive)?;
        }
        Op::Remove { item } => {
            artifact.remove(item)?;
        }
    }
    Ok(())
}

/// Encodes `text` the way Python's `open(..., encoding=...)` would write it.
fn encode(text: &str, encoding: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let normalised = encoding
        .unwrap_or("utf-8")
        .to_ascii_lowercase()
        .replace('_', "-");
    Ok(match normalised.as_str() {
        "utf-8" | "utf8" => text.as_bytes().to_vec(),
        "utf-16-le" | "utf-16le" => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        "utf-16-be" | "utf-16be" => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        "ascii" | "latin-1" | "latin1" | "iso-8859-1" => {
            let limit = if normalised == "ascii" { 0x7f } else { 0xff };
            text.chars()
                .map(|char| {
                    u8::try_from(u32::from(char))
                        .ok()
                        .filter(|byte| u32::from(*byte) <= limit)
                })
                .collect::<Option<Vec<u8>>>()
                .with_context(|| format!("`{text}` cannot be encoded as {normalised}"))?
        }
        other => anyhow::bail!(
            "encoding `{other}` is not supported: use utf-8, utf-16-le, utf-16-be, latin-1 or ascii"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(encode("hi", Some("utf-16-le")).unwrap(), b"h\0i\0");
        assert_eq!(encode("hi", None).unwrap(), b"hi");
        assert_eq!(encode("é", Some("latin-1")).unwrap(), [0xe9]);
        assert!(encode("é", Some("ascii")).is_err());
        assert!(encode("x", Some("ebcdic")).is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let parsed: Result<Vec<Op>, _> =
            serde_json::from_str(r#"[{"op": "add_file", "local_path": "x", "overwirte": true}]"#);
        assert!(parsed.is_err());
        let parsed: Vec<Op> = serde_json::from_str(
            r#"[{"op": "add_reference", "uri": "file:///x", "max_objects": 3}]"#,
        )
        .unwrap();
        assert!(matches!(
            &parsed[0],
            Op::AddReference {
                max_objects: Some(3),
                ..
            }
        ));
    }
}
