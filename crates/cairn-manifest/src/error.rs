//! The crate's error type.
//!
//! Where the W&B SDK has a message for the same failure, `Display` prints exactly that message, so
//! a user who knows the SDK recognises it and the compatibility vectors can compare text. Values
//! the SDK quotes with Python's `repr()` are quoted the same way (see the `python_repr` module).
//! Failures the SDK reports badly or not at all (control characters in paths, negative sizes,
//! malformed JSON) get Cairn's own messages, which name the offending value in backticks.

use crate::python_repr::python_repr;

/// Shorthand for results whose error is this crate's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building, validating or parsing a manifest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A logical path is empty, absolute, drive-relative or contains a `..` component.
    #[error("Invalid artifact path: {}", python_repr(input))]
    InvalidPath {
        /// The path as it was given, before normalisation.
        input: String,
    },
    /// A logical path contains a control character (Cairn rejects these; the SDK does not).
    #[error(
        "Invalid artifact path: {}: control character U+{:04X} is not allowed in a path",
        python_repr(input),
        u32::from(*character)
    )]
    ControlCharacterInPath {
        /// The path as it was given.
        input: String,
        /// The first control character found.
        character: char,
    },
    /// A manifest key is valid but not in the normal form Cairn and the SDK write.
    #[error("manifest key `{key}` is not a normalised path (expected `{normalized}`)")]
    NonNormalizedKey {
        /// The key as it appears in the manifest.
        key: String,
        /// What the key normalises to.
        normalized: String,
    },
    /// An entry with a different digest already exists at this path (FORMAT.md §9.1).
    #[error("Cannot add the same path twice: {}", python_repr(path))]
    DuplicatePath {
        /// The contested logical path.
        path: String,
    },
    /// `remove` matched neither an entry nor a directory of entries.
    #[error("No such file or directory: {item}")]
    NotFound {
        /// The normalised path that was looked for.
        item: String,
    },
    /// An artifact name contains characters other than ASCII letters, digits, `_`, `-` and `.`.
    #[error(
        "Artifact name may only contain alphanumeric characters, dashes, underscores, and dots. \
         Invalid name: {}",
        python_repr(name)
    )]
    InvalidArtifactName {
        /// The rejected name.
        name: String,
    },
    /// An artifact name is longer than 128 characters.
    #[error("Artifact name is longer than 128 characters: {}", python_repr(&truncate_name(name)))]
    ArtifactNameTooLong {
        /// The rejected name.
        name: String,
    },
    /// An artifact type is reserved for W&B's internal use.
    #[error(
        "Artifact type {} is reserved for internal use. Please use a different type.",
        python_repr(artifact_type)
    )]
    ReservedArtifactType {
        /// The rejected type.
        artifact_type: String,
    },
    /// An alias contains `/` or `:`.
    #[error("Aliases must not contain any of the following characters: '/', ':'")]
    InvalidAlias {
        /// The first rejected alias.
        alias: String,
    },
    /// One or more tags are not words separated by spaces.
    #[error(
        "Invalid tag(s).  Tags must only contain alphanumeric characters separated by hyphens, \
         underscores, and/or spaces."
    )]
    InvalidTags {
        /// Every rejected tag, in input order.
        tags: Vec<String>,
    },
    /// Metadata contains a positive or negative infinity.
    #[error("Out of range float values are not JSON compliant")]
    NonFiniteMetadata,
    /// Metadata has more than 100 top-level keys.
    #[error("Artifact must not have more than 100 metadata keys.")]
    TooManyMetadataKeys {
        /// How many top-level keys the metadata has.
        count: usize,
    },
    /// Metadata is neither an object, a JSON string holding one, an empty string nor null.
    #[error("Cannot parse <class '{found}'> as artifact metadata")]
    MetadataNotObject {
        /// The Python type name of what was found instead (`list`, `int`, `float`, `bool`).
        found: &'static str,
    },
    /// Metadata given as a string is not valid JSON.
    #[error("artifact metadata string is not valid JSON")]
    MetadataJson {
        /// Why the string did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A download-root name (`name[:version]`) would escape the download directory.
    #[error("Invalid artifact name: {}", python_repr(name))]
    InvalidDownloadRootName {
        /// The rejected name.
        name: String,
    },
    /// A project or registry name is empty, too long or contains a forbidden character.
    #[error("{message}")]
    InvalidProjectName {
        /// The rejected name.
        name: String,
        /// The SDK's message, which names the rule that was broken.
        message: String,
    },
    /// A digest algorithm name is neither `MANIFEST_MD5` nor `MANIFEST_XXH128`.
    #[error("unknown digest algorithm `{input}` (expected `MANIFEST_MD5` or `MANIFEST_XXH128`)")]
    UnknownDigestAlgorithm {
        /// The rejected name.
        input: String,
    },
    /// A storage layout is neither `V1` nor `V2`.
    #[error("unknown storage layout `{input}` (expected `V1` or `V2`)")]
    UnknownStorageLayout {
        /// The rejected value.
        input: String,
    },
    /// The manifest text is not JSON.
    #[error("manifest is not valid JSON")]
    Json {
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The manifest object has no `version` key, or it is null.
    #[error("Invalid manifest format. Must contain version field.")]
    MissingVersion,
    /// The manifest `version` is not the integer 1.
    #[error("Invalid manifest version.")]
    InvalidVersion,
    /// The manifest names a storage policy other than `wandb-storage-policy-v1`.
    #[error("Failed to find storage policy {}", python_repr(name))]
    UnknownStoragePolicy {
        /// The storage policy named by the manifest.
        name: String,
    },
    /// An entry's `size` is negative.
    #[error("entry `{path}` has negative size {size}; sizes must be at least 0")]
    NegativeSize {
        /// The entry's key.
        path: String,
        /// The rejected size.
        size: i64,
    },
    /// An entry's `size` is larger than any file can be (over 2^63 - 1 bytes, the largest size
    /// W&B's servers and SQLite store).
    #[error(
        "entry `{path}` has size {size}, more than the largest possible file (2^63 - 1 bytes); the manifest is corrupt"
    )]
    SizeTooLarge {
        /// The entry's key.
        path: String,
        /// The rejected size.
        size: u64,
    },
    /// The manifest does not have the shape of a version 1 manifest.
    #[error("invalid manifest: {reason}")]
    InvalidManifest {
        /// What is wrong, naming the key concerned.
        reason: String,
    },
}

/// The SDK cuts a long name to 128 characters and appends ` ...` before quoting it.
fn truncate_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .take(crate::validate::MAX_NAME_LENGTH)
        .collect();
    format!("{kept} ...")
}
