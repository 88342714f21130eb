//! RFC 9457 problem details: every error the server returns has this body, with a stable
//! machine-readable [`ErrorCode`] that clients and scripts match on instead of the text.

use serde::{Deserialize, Serialize};

/// The media type of a [`Problem`] body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// What went wrong, as a stable code. The set only grows; clients must treat an unknown code
/// (deserialised as [`ErrorCode::Unknown`]) by its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is malformed: bad JSON, a missing field, an out-of-range value.
    BadRequest,
    /// A user, team, project, artifact, alias or tag name breaks the naming rules.
    InvalidName,
    /// Metadata is not a JSON object or has too many keys.
    InvalidMetadata,
    /// The uploaded manifest does not parse, escapes the artifact root or does not hash to the
    /// version's digest.
    InvalidManifest,
    /// No API key, or an unknown one.
    Unauthenticated,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// The entity, project, collection, version, alias, run or blob does not exist (or the
    /// caller may not know it exists).
    NotFound,
    /// The thing to create exists already (a user, a team, a run that may not be resumed).
    AlreadyExists,
    /// The request conflicts with the current state: an alias held elsewhere, a type change.
    Conflict,
    /// The version is not PENDING (already committed or deleted), so it cannot change this way.
    NotPending,
    /// An uploaded blob does not hash to the digest it was sent under.
    DigestMismatch,
    /// An uploaded blob is shorter or longer than the manifest says.
    SizeMismatch,
    /// A commit was asked for while blobs are still missing; the body lists them.
    MissingBlobs,
    /// A manifest must be uploaded before blobs or the commit.
    ManifestMissing,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// A `Range` header asks for bytes the blob does not have.
    RangeNotSatisfiable,
    /// The server could not store the data (disk full, object store down); retry later.
    StorageUnavailable,
    /// A bug or an unexpected failure on the server; the body carries no detail.
    Internal,
    /// A code this client does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code a server sends, in documentation order ([`Self::Unknown`] is not one).
    pub const KNOWN: [Self; 18] = [
        Self::BadRequest,
        Self::InvalidName,
        Self::InvalidMetadata,
        Self::InvalidManifest,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::NotFound,
        Self::AlreadyExists,
        Self::Conflict,
        Self::NotPending,
        Self::DigestMismatch,
        Self::SizeMismatch,
        Self::MissingBlobs,
        Self::ManifestMissing,
        Self::PayloadTooLarge,
        Self::RangeNotSatisfiable,
        Self::StorageUnavailable,
        Self::Internal,
    ];

    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest
            | Self::InvalidName
            | Self::InvalidMetadata
            | Self::InvalidManifest => 400,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::AlreadyExists | Self::Conflict | Self::NotPending | Self::ManifestMissing => 409,
            Self::PayloadTooLarge => 413,
            Self::RangeNotSatisfiable => 416,
            Self::DigestMismatch | Self::SizeMismatch | Self::MissingBlobs => 422,
            Self::StorageUnavailable => 503,
            Self::Internal | Self::Unknown => 500,
        }
    }

    /// The code as it appears on the wire (`not_found`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidName => "invalid_name",
            Self::InvalidMetadata => "invalid_metadata",
            Self::InvalidManifest => "invalid_manifest",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::Conflict => "conflict",
            Self::NotPending => "not_pending",
            Self::DigestMismatch => "digest_mismatch",
            Self::SizeMismatch => "size_mismatch",
            Self::MissingBlobs => "missing_blobs",
            Self::ManifestMissing => "manifest_missing",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::StorageUnavailable => "storage_unavailable",
            Self::Internal => "internal",
            Self::Unknown => "unknown",
        }
    }

    /// A short, fixed summary of the code (the problem's `title`).
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad request",
            Self::InvalidName => "Invalid name",
            Self::InvalidMetadata => "Invalid metadata",
            Self::InvalidManifest => "Invalid manifest",
            Self::Unauthenticated => "Not authenticated",
            Self::PermissionDenied => "Permission denied",
            Self::NotFound => "Not found",
            Self::AlreadyExists => "Already exists",
            Self::Conflict => "Conflict",
            Self::NotPending => "Version is not pending",
            Self::DigestMismatch => "Digest mismatch",
            Self::SizeMismatch => "Size mismatch",
            Self::MissingBlobs => "Blobs missing",
            Self::ManifestMissing => "Manifest missing",
            Self::PayloadTooLarge => "Payload too large",
            Self::RangeNotSatisfiable => "Range not satisfiable",
            Self::StorageUnavailable => "Storage unavailable",
            Self::Internal => "Internal server error",
            Self::Unknown => "Unknown error",
        }
    }

    /// Whether repeating the same request later may succeed (the client retries these with
    /// backoff).
    pub fn is_transient(self) -> bool {
        matches!(self, Self::StorageUnavailable | Self::Internal)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An RFC 9457 problem body (`application/problem+json`) with Cairn's extension members. A 5xx
/// body carries no internal detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the problem type: `urn:cairn:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// [`ErrorCode::title`] of the code.
    pub title: String,
    /// The HTTP status, repeated in the body.
    pub status: u16,
    /// What happened and what to do about it, in words a user can act on.
    pub detail: String,
    /// The stable machine code.
    pub code: ErrorCode,
    /// For [`ErrorCode::MissingBlobs`]: the blobs the server still lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<crate::BlobRef>,
}

impl Problem {
    /// A problem with the code's status and title.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("urn:cairn:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status(),
            detail: detail.into(),
            code,
            missing: Vec::new(),
        }
    }

    /// Attaches the list of missing blobs.
    pub fn with_missing(mut self, missing: Vec<crate::BlobRef>) -> Self {
        self.missing = missing;
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} ({}): {}", self.title, self.code, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_tolerated() {
        for code in [
            ErrorCode::NotFound,
            ErrorCode::MissingBlobs,
            ErrorCode::Internal,
        ] {
            let text = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(text, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&text).unwrap_or(ErrorCode::Unknown);
            assert_eq!(back, code);
        }
        let unknown: Result<ErrorCode, _> = serde_json::from_str("\"from_the_future\"");
        assert!(matches!(unknown, Ok(ErrorCode::Unknown)));
    }

    #[test]
    fn known_lists_every_code_a_server_sends() {
        // A new code fails to compile here until it is sorted, and then listed in `KNOWN`.
        let sent_by_servers = |code: ErrorCode| match code {
            ErrorCode::BadRequest
            | ErrorCode::InvalidName
            | ErrorCode::InvalidMetadata
            | ErrorCode::InvalidManifest
            | ErrorCode::Unauthenticated
            | ErrorCode::PermissionDenied
            | ErrorCode::NotFound
            | ErrorCode::AlreadyExists
            | ErrorCode::Conflict
            | ErrorCode::NotPending
            | ErrorCode::DigestMismatch
            | ErrorCode::SizeMismatch
            | ErrorCode::MissingBlobs
            | ErrorCode::ManifestMissing
            | ErrorCode::PayloadTooLarge
            | ErrorCode::RangeNotSatisfiable
            | ErrorCode::StorageUnavailable
            | ErrorCode::Internal => true,
            ErrorCode::Unknown => false,
        };
        assert!(ErrorCode::KNOWN.into_iter().all(sent_by_servers));
        let distinct: std::collections::BTreeSet<&str> =
            ErrorCode::KNOWN.iter().map(|code| code.as_str()).collect();
        assert_eq!(distinct.len(), ErrorCode::KNOWN.len());
    }

    #[test]
    fn problem_body_has_the_rfc_members() {
        let problem = Problem::new(ErrorCode::PermissionDenied, "no write access to `a/b`");
        let value = serde_json::to_value(&problem).unwrap_or_default();
        assert_eq!(value["type"], "urn:cairn:problem:permission_denied");
        assert_eq!(value["status"], 403);
        assert_eq!(value["code"], "permission_denied");
        assert!(value.get("missing").is_none());
    }
}
