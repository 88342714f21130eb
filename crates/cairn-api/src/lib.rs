//! The wire types of Cairn's reference server: routes, request and response JSON, problem+json
//! errors and the blob-batch framing. Serde only: no HTTP client, no server framework, no IO.
//!
//! `cairn-server` answers with these types and `cairn-client` sends and parses them, so the two
//! cannot drift apart. Everything here is a stable format (house style rule 6): the native API
//! lives under [`API_PREFIX`] (`/api/v1`), and an incompatible change needs `/api/v2`.
//!
//! # Key types
//!
//! * [`routes`]: every path of the API, as axum route patterns and as functions that build the
//!   concrete path with each segment percent-encoded.
//! * [`Version`], [`CreateVersion`], [`ManifestReceipt`], [`BlobRef`]: the logging protocol.
//! * [`Problem`] and [`ErrorCode`]: RFC 9457 error bodies with a stable machine code.
//! * [`ArtifactPath`]: `entity/project/name:alias` as users type it.
//! * [`batch`]: the framing of `application/vnd.cairn.blob-batch` uploads of many small blobs.
//!
//! With the `openapi` feature (off by default, on in `cairn-server`), the wire types derive
//! `utoipa::ToSchema`, and the server generates its OpenAPI document from them.
//!
//! # Example
//!
//! ```
//! use cairn_api::{ArtifactPath, ErrorCode, Problem, routes};
//!
//! let path = ArtifactPath::parse("acme/vision/cats:v3")?;
//! assert_eq!(path.entity.as_deref(), Some("acme"));
//! assert_eq!(path.selector(), "v3");
//! assert_eq!(
//!     routes::version_by_name("acme", "vision", "cats", "v3"),
//!     "/api/v1/projects/acme/vision/artifacts/cats:v3"
//! );
//!
//! let problem = Problem::new(ErrorCode::NotFound, "artifact `acme/vision/cats:v9` not found");
//! assert_eq!(problem.status, 404);
//! let body = serde_json::to_string(&problem)?;
//! assert!(body.contains(r#""code":"not_found""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The logging protocol
//!
//! 1. `POST routes::versions(entity, project)` with [`CreateVersion`] (collection, type, the
//!    artifact digest, aliases, run). The answer's [`CreateVersionStatus`] says whether a new
//!    PENDING version was made, an interrupted PENDING one with the same digest is resumed, or
//!    the latest committed version already has this digest (then the client stops: nothing new
//!    is created).
//! 2. `PUT routes::manifest(id)` with the manifest bytes. The server keeps them verbatim, parses
//!    them (rejecting traversal), checks that they hash to the declared digest and answers a
//!    [`ManifestReceipt`] listing the blobs the entity does not hold yet. `GET
//!    routes::missing_blobs(id)` asks again later.
//! 3. Each missing blob goes up by `PUT routes::blob(id, md5)` (streamed) or, when small, many at
//!    once by `POST routes::blob_batch(id)` ([`batch`]). The server hashes while it writes and
//!    refuses a digest or size that differs from the manifest.
//! 4. `POST routes::commit(id)`: the server checks every blob is present, assigns the next `vN`
//!    and moves `latest` and the requested aliases in one transaction.

#![warn(missing_docs)]

pub mod batch;
#[cfg(feature = "openapi")]
mod openapi;
mod path;
mod problem;
pub mod routes;
mod types;

pub use path::{
    ArtifactPath, MAX_ENTITY_NAME_LENGTH, ParseArtifactPathError, validate_entity_name,
};
pub use problem::{ErrorCode, PROBLEM_CONTENT_TYPE, Problem};
pub use types::*;

/// The prefix of every native API route.
pub const API_PREFIX: &str = "/api/v1";

/// The API version, as served in [`ServerInfo::api_version`].
pub const API_VERSION: u32 = 1;

/// The header a request authenticates with: `Authorization: Bearer <api key>`. The W&B form,
/// `Basic base64("api:<key>")`, is accepted too.
pub const AUTHORIZATION: &str = "authorization";

/// Prefix of the API keys the server mints. Keys are this prefix followed by 48 lowercase hex
/// digits, which the W&B SDK's key check (`prefix-` then at least 40 word characters) accepts.
pub const API_KEY_PREFIX: &str = "cairn-";

/// Blobs up to this size are packed by the server instead of stored one file per blob. Servers
/// that do not announce [`ServerInfo::batch_blob_max_size`] take only blobs this small in a
/// batch ([`batch`]).
pub const SMALL_BLOB_MAX_SIZE: u64 = 64 * 1024;

/// Blobs up to this size may travel in a batch: up, in a [`batch`] body, and down, in the
/// answer to [`ReadSmallBlobs`]. This server announces it as
/// [`ServerInfo::batch_blob_max_size`].
///
/// A batch is hashed frame by frame on both sides, several frames at once
/// ([`cairn_hash::md5_many`]), where a blob streamed alone is one MD5 after another: 2,000 blobs
/// of 512 KiB cost the server's check and the client's several times less CPU in batches.
pub const BATCH_BLOB_MAX_SIZE: u64 = 1024 * 1024;

/// The largest batch body the server accepts.
pub const BATCH_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The most metadata keys a version may carry (the SDK's limit).
pub const MAX_METADATA_KEYS: usize = cairn_manifest::MAX_METADATA_KEYS;
