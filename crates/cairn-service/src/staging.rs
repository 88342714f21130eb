//! Staged uploads: a large file sent before any version lists it, so that the client hashes it
//! while it sends it instead of reading it once to hash and once more to upload, and the
//! server's hash of the same bytes runs at the same time as the client's.
//!
//! The server hashes what arrives and answers its MD5; the client checks that against its own.
//! The blob is then *staged* by the caller for the garbage collector's grace period, which keeps
//! its bytes that long (see `db::gc`). When a manifest (or part) of the caller's lists it, or
//! the caller asks what a version is missing or commits it, within that period, the blob is
//! recorded as received for that version (`db::presence::adopt_staged`) and belongs to it from
//! then on, whoever commits. Sending the bytes proves the caller holds them, so a staged blob
//! grants nothing the caller did not already have. Each staging also forgets the caller's
//! stagings older than the grace period, so they do not pile up where no collection runs.
//!
//! Before it stages a file, a client asks which of its sizes it already has a usable blob of
//! ([`Service::known_sizes`]): content the server may already hold for the caller is hashed
//! first and deduplicated as usual instead of being sent. The question reveals only what the
//! caller could learn by reading manifests it may read.

use bytes::Bytes;
use futures_util::Stream;

use crate::access::{Caller, project_for_write, required};
use crate::blobs::Blobs;
use crate::db::presence;
use crate::error::Error;
use crate::service::Service;

/// The most sizes one [`Service::known_sizes`] question may ask about.
pub const KNOWN_SIZES_PER_ASK: usize = 10_000;

/// A staged blob: the content the server received and hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staged {
    /// The MD5 of the bytes received.
    pub md5: cairn_hash::Md5Digest,
    /// How many bytes were received.
    pub size: u64,
}

impl Service {
    /// Receives a blob of `declared_length` bytes from `bytes` for the caller, who must be
    /// allowed to write to `entity/project`: hashes it while it is written, stores it, and
    /// stages it for the caller. Answers its MD5 and size.
    ///
    /// # Errors
    ///
    /// Without a signed-in caller with write access to the project, without a declared length
    /// or with an empty body, or when the body does not hold exactly the declared number of
    /// bytes (nothing is stored then).
    pub async fn stage_blob<S, E>(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        declared_length: Option<u64>,
        bytes: S,
    ) -> Result<Staged, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let caller = required(caller)?.clone();
        self.check_staging(&caller, entity, project).await?;
        let size = match declared_length {
            None => {
                return Err(Error::bad_request(
                    "a staged blob's size must be announced: send a `Content-Length`",
                ));
            }
            Some(0) => {
                return Err(Error::bad_request(
                    "the body is empty: there is nothing to stage (an empty file needs no upload)",
                ));
            }
            Some(size) => size,
        };
        let expected = crate::logging::Expected {
            what: "the staged blob",
            size,
            size_from: "as announced",
        };
        let (incoming, md5) = self.receive_body(&expected, bytes).await?;
        let md5_hex = md5.to_hex();
        let (user_id, now, cutoff) = (caller.user_id, self.clock().now_text(), self.grace_cutoff());
        let recorded = md5_hex.clone();
        self.store_received(&md5_hex, size, incoming, move |connection| {
            let blob = (recorded.as_str(), size, Blobs::location(size));
            presence::record_staged(connection, user_id, blob, &now, &cutoff)
        })
        .await?;
        Ok(Staged { md5, size })
    }

    /// Of `sizes`, those the caller already has a usable blob of: one they staged, or one a
    /// committed version they may read lists. The caller must be allowed to write to
    /// `entity/project`, where they are about to log.
    ///
    /// # Errors
    ///
    /// Without a signed-in caller with write access to the project, with more than
    /// [`KNOWN_SIZES_PER_ASK`] sizes, or with a size over 2^63 - 1.
    pub async fn known_sizes(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        sizes: Vec<u64>,
    ) -> Result<Vec<u64>, Error> {
        let caller = required(caller)?.clone();
        if sizes.len() > KNOWN_SIZES_PER_ASK {
            return Err(Error::bad_request(format!(
                "{} sizes were asked about at once; ask about at most {KNOWN_SIZES_PER_ASK}",
                sizes.len()
            )));
        }
        if let Some(size) = sizes.iter().find(|size| i64::try_from(**size).is_err()) {
            return Err(Error::bad_request(format!(
                "size {size} is over the largest a blob may have, 2^63 - 1 bytes"
            )));
        }
        self.check_staging(&caller, entity, project).await?;
        let cutoff = self.grace_cutoff();
        self.db()
            .read(move |connection| presence::known_sizes(connection, &caller, &sizes, &cutoff))
            .await
    }

    /// Staging is for callers about to log into a project they may write to (created on first
    /// use, as when a version is created; the names are checked there).
    async fn check_staging(
        &self,
        caller: &Caller,
        entity: &str,
        project: &str,
    ) -> Result<(), Error> {
        let (caller, entity, project) = (caller.clone(), entity.to_owned(), project.to_owned());
        self.db()
            .write(move |connection| {
                project_for_write(connection, &caller, &entity, &project).map(|_| ())
            })
            .await
    }
}
