//! Options for the `Artifact::add_*` methods, mirroring the W&B SDK's keyword arguments.

use std::str::FromStr;

use crate::Error;

/// What happens to a local file between adding it and uploading it (the SDK's `policy`).
///
/// The W&B SDK copies every `mutable` file into a staging directory so later edits cannot change
/// what gets uploaded. Cairn never makes that copy, so both policies behave the same: the
/// original path is recorded, and the upload re-checks each file's digest, so an edited file is
/// reported instead of silently uploaded. The option is accepted (and an invalid value refused
/// with the SDK's message) so that code written for the SDK carries over unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Policy {
    /// The file may change after it is added (the SDK default).
    #[default]
    Mutable,
    /// The caller promises not to change the file.
    Immutable,
}

impl FromStr for Policy {
    type Err = Error;

    fn from_str(policy: &str) -> Result<Self, Self::Err> {
        match policy {
            "mutable" => Ok(Self::Mutable),
            "immutable" => Ok(Self::Immutable),
            other => Err(Error::InvalidPolicy(other.to_owned())),
        }
    }
}

/// Options of [`Artifact::add_file`](crate::Artifact::add_file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddFileOptions {
    /// The logical path; defaults to the file's name.
    pub name: Option<String>,
    /// Replace an entry at the same path even when its digest differs.
    pub overwrite: bool,
    /// Replace the part of the file name before its first `.` with the digest's first 20 hex
    /// digits, as the SDK does for temporary media files.
    pub is_tmp: bool,
    /// Do not keep a copy of this file in the local cache after upload.
    pub skip_cache: bool,
    /// See [`Policy`].
    pub policy: Policy,
}

impl AddFileOptions {
    /// Sets the logical path.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets [`AddFileOptions::overwrite`].
    #[must_use]
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }
}

/// Options of [`Artifact::add_dir`](crate::Artifact::add_dir).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddDirOptions {
    /// A prefix for every logical path; defaults to the artifact root.
    pub name: Option<String>,
    /// Let changed files replace existing entries (nothing is ever removed).
    pub merge: bool,
    /// Do not keep copies of these files in the local cache after upload.
    pub skip_cache: bool,
    /// See [`Policy`].
    pub policy: Policy,
}

impl AddDirOptions {
    /// Sets the logical path prefix.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets [`AddDirOptions::merge`].
    #[must_use]
    pub fn with_merge(mut self, merge: bool) -> Self {
        self.merge = merge;
        self
    }
}

/// The default cap on objects one reference may expand to, as in the W&B SDK.
pub const DEFAULT_MAX_OBJECTS: u64 = 10_000_000;

/// Options of [`Artifact::add_reference`](crate::Artifact::add_reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceOptions {
    /// The logical path (single object) or prefix (directory); defaults depend on the scheme.
    pub name: Option<String>,
    /// Read the referenced content to digest it. When off, the digest is derived from the URI and
    /// the content is never read.
    pub checksum: bool,
    /// More objects than this is an error; [`DEFAULT_MAX_OBJECTS`] when unset.
    pub max_objects: Option<u64>,
}

impl Default for ReferenceOptions {
    fn default() -> Self {
        Self {
            name: None,
            checksum: true,
            max_objects: None,
        }
    }
}

impl ReferenceOptions {
    /// Sets the logical path or prefix.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets [`ReferenceOptions::checksum`].
    #[must_use]
    pub fn with_checksum(mut self, checksum: bool) -> Self {
        self.checksum = checksum;
        self
    }

    /// Sets [`ReferenceOptions::max_objects`].
    #[must_use]
    pub fn with_max_objects(mut self, max_objects: u64) -> Self {
        self.max_objects = Some(max_objects);
        self
    }
}
