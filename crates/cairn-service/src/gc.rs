//! Garbage collection: removing the bytes of blobs that no live version references, after a
//! grace period, and the storage live versions account for.
//!
//! # What is collected
//!
//! A stored blob (MD5, size) is *referenced* by a version whose entries list that content or
//! for which it was received (`version_blobs`; the W&B protocol sends files before the
//! manifest). A blob a user staged (sent before any version listed it) is kept for the grace
//! period from its staging, like a freshly stored one. Live versions are those not DELETED; a
//! PENDING version is live, it is being uploaded. A blob no live version references is
//! collected once it has been unreferenced for the grace period
//! ([`Config::gc_grace`](crate::Config::gc_grace), 1 hour by default), counted from the later
//! of its first storing and the last change (the deletion) of a version that referenced it, on
//! the service's [`Clock`](crate::Clock). Bytes in the blob store or the
//! packed database that the metadata does not record at all (left by an upload interrupted
//! between storing and recording them) are collected too.
//!
//! # Racing uploads and commits
//!
//! The metadata is the source of truth: a blob is stored when its `blobs` row exists, and every
//! decision that a blob is present (a receipt, a commit) reads that row. A collection therefore
//! (1) takes each blob out of `blobs` and into `gc_doomed` in one transaction, re-checking in
//! it that the blob is still collectable; (2) deletes the bytes; (3) forgets the `gc_doomed`
//! row. A commit after (1) finds the blob missing and is refused with `missing_blobs`, so the
//! client uploads it again; a version that references the blob before (1) keeps it, since (1)
//! re-checks. What remains is an upload that stores bytes and then records them: its bytes
//! could be written before (2) deletes them and its row after (1). Uploads and collections
//! meet in a `BlobGuard` for that: an upload *pins* its blobs before it writes their bytes
//! and unpins them after recording them, and a collection *dooms* the blobs it is about to
//! take out (pinned ones are skipped, they are being uploaded) until their bytes are gone. An
//! upload of a doomed blob waits for the collection to finish with it, then writes the bytes
//! afresh. So either the upload recorded first (and step 1's re-check keeps the blob), or the
//! collection doomed first (and the upload's bytes arrive after the deletion).
//!
//! # Crashes
//!
//! Every step is idempotent and the `gc_doomed` rows say what was in flight. On the next start
//! the service dooms them again in its guard (so no upload can store them before their
//! deletion finishes) and finishes deleting them; every collection starts by doing the same.
//! At no point does a live version reference a blob whose row is gone: (1) only takes blobs
//! without live references, and no version can come to reference one as present afterwards.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::access::{Caller, project_for_read, required, role_in};
use crate::blobs::Blobs;
use crate::clock::rfc3339_ms;
use crate::db::accounts::find_entity;
use crate::db::gc::{self as sql, Located, Totals, Unreferenced};
use crate::error::Error;
use crate::service::Service;

/// The grace period when none is configured.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// Freed blobs a report lists one by one at most; the totals count them all.
pub const FREED_LISTED: usize = 1000;

/// Stored blobs examined per database read.
const PAGE: usize = 1000;

/// How long an upload waits for a collection to finish with a blob it wants to store, before
/// it answers `storage_unavailable` (retry).
const PIN_WAIT: Duration = Duration::from_secs(60);

/// Blob deletions in flight at once on an object store.
const DELETE_CONCURRENCY: usize = 8;

/// What [`Service::collect_garbage`] should do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcOptions {
    /// Only report what would be freed; change nothing.
    pub dry_run: bool,
}

/// Why a collection frees a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreeReason {
    /// No live version has referenced it since this time (RFC 3339), longer than the grace
    /// period.
    Unreferenced {
        /// When the last version referencing it was deleted, or it was stored, if later.
        since: String,
    },
    /// The bytes are in the blob store or the packed database, but the metadata does not
    /// record them: an upload was interrupted between storing and recording them.
    Unrecorded,
    /// An earlier collection took it out of the metadata and was interrupted before its bytes
    /// were gone.
    Interrupted,
}

impl std::fmt::Display for FreeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreferenced { since } => {
                write!(f, "no live version references it since {since}")
            }
            Self::Unrecorded => f.write_str(
                "its bytes are stored but not recorded (an upload was interrupted before recording them)",
            ),
            Self::Interrupted => {
                f.write_str("an interrupted collection had already taken it out of the metadata")
            }
        }
    }
}

/// A blob a collection frees (or would free, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreedBlob {
    /// MD5, lowercase hex.
    pub md5_hex: String,
    /// Size in bytes.
    pub size: u64,
    /// `packed` (in `packed.sqlite`) or `store` (the blob store).
    pub location: String,
    /// Why.
    pub reason: FreeReason,
}

/// Storage that live versions account for: the distinct stored blobs they reference (as files
/// of their manifests, or received for them while PENDING), their bytes, and the live versions.
/// A blob shared by several versions, projects or entities counts once in each total that
/// holds it, so the totals of different entities may add up to more than the server stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Storage {
    /// Distinct blobs.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Versions that are not DELETED.
    pub live_versions: u64,
}

impl From<Totals> for Storage {
    fn from(totals: Totals) -> Self {
        Self {
            blobs: totals.blobs,
            bytes: totals.bytes,
            live_versions: totals.live_versions,
        }
    }
}

/// The storage of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectStorage {
    /// The project's name.
    pub project: String,
    /// Its storage.
    pub storage: Storage,
}

/// The storage of one entity and of each of its projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityStorage {
    /// The entity's name.
    pub entity: String,
    /// Its storage (blobs shared by its projects count once).
    pub storage: Storage,
    /// Each project with live versions or storage, by name.
    pub projects: Vec<ProjectStorage>,
}

/// What a collection did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// When it started, on the service's clock.
    pub started_at: String,
    /// When it finished.
    pub finished_at: String,
    /// The grace period.
    pub grace: Duration,
    /// Blobs unreferenced since this time or earlier were collectable.
    pub cutoff: String,
    /// The first [`FREED_LISTED`] blobs freed, with why.
    pub freed: Vec<FreedBlob>,
    /// How many blobs were freed.
    pub freed_blobs: u64,
    /// Their bytes.
    pub freed_bytes: u64,
    /// Unreferenced blobs kept because the grace period has not passed.
    pub kept_in_grace_blobs: u64,
    /// Their bytes.
    pub kept_in_grace_bytes: u64,
    /// Collectable blobs kept because an upload was storing them at that moment.
    pub kept_uploading: u64,
    /// Blobs whose deletion failed (the store answered an error); they are out of the
    /// metadata and the next collection deletes them.
    pub failed: u64,
    /// Blobs stored after the collection (in a dry run: before it), and their bytes.
    pub stored_blobs: u64,
    /// Bytes of [`GcReport::stored_blobs`].
    pub stored_bytes: u64,
    /// Storage per entity and project after the collection, by name.
    pub entities: Vec<EntityStorage>,
}

impl GcReport {
    fn free(&mut self, blob: FreedBlob) {
        self.freed_blobs += 1;
        self.freed_bytes = self.freed_bytes.saturating_add(blob.size);
        if self.freed.len() < FREED_LISTED {
            self.freed.push(blob);
        }
    }
}

/// A blob key: (MD5 hex, size).
type Key = (String, u64);

/// Where uploads and collections meet (see the module documentation): uploads pin the blobs
/// they are storing, collections doom the blobs they are deleting, and neither gets a blob the
/// other holds.
#[derive(Debug, Default)]
pub(crate) struct BlobGuard {
    state: Mutex<GuardState>,
    released: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct GuardState {
    pinned: HashMap<Key, usize>,
    doomed: HashSet<Key>,
}

/// Blobs pinned by an upload; unpinned when dropped.
#[derive(Debug)]
pub(crate) struct Pin<'a> {
    guard: &'a BlobGuard,
    keys: Vec<Key>,
}

impl Drop for Pin<'_> {
    fn drop(&mut self) {
        let mut state = self.guard.lock();
        for key in &self.keys {
            if let Some(count) = state.pinned.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    state.pinned.remove(key);
                }
            }
        }
    }
}

impl BlobGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, GuardState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pins `keys` for an upload that is about to store their bytes, waiting while a
    /// collection is deleting any of them; `storage_unavailable` after [`PIN_WAIT`].
    pub(crate) async fn pin(&self, keys: Vec<Key>) -> Result<Pin<'_>, Error> {
        let deadline = tokio::time::Instant::now() + PIN_WAIT;
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if !keys.iter().any(|key| state.doomed.contains(key)) {
                    for key in &keys {
                        *state.pinned.entry(key.clone()).or_default() += 1;
                    }
                    return Ok(Pin { guard: self, keys });
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(Error::Unavailable(
                    "the blob is being garbage collected and its deletion has not finished; retry the upload later".to_owned(),
                ));
            }
        }
    }

    /// Dooms those of `keys` no upload has pinned; answers them.
    fn doom(&self, keys: Vec<Key>) -> Vec<Key> {
        let mut state = self.lock();
        let allowed: Vec<Key> = keys
            .into_iter()
            .filter(|key| !state.pinned.contains_key(key))
            .collect();
        state.doomed.extend(allowed.iter().cloned());
        allowed
    }

    /// Dooms `keys` whatever the pins say: blobs an interrupted collection took out of the
    /// metadata, before anything is served.
    pub(crate) fn doom_interrupted(&self, keys: impl IntoIterator<Item = Key>) {
        self.lock().doomed.extend(keys);
    }

    /// Lets uploads of `keys` proceed again.
    fn release<'a>(&self, keys: impl IntoIterator<Item = &'a Key>) {
        {
            let mut state = self.lock();
            for key in keys {
                state.doomed.remove(key);
            }
        }
        self.released.notify_waiters();
    }
}

/// Environment variable that slows every blob deletion of a collection down by this many
/// milliseconds: for tests that race uploads against a collection and need its deletion phase
/// to last long enough to be hit. Never for production.
pub const TEST_DELETE_DELAY_ENV: &str = "CAIRN_TEST_GC_DELETE_DELAY_MS";

/// The service's garbage-collection state.
#[derive(Debug)]
pub(crate) struct GcState {
    pub(crate) guard: BlobGuard,
    running: tokio::sync::Mutex<()>,
    grace: Duration,
    /// See [`TEST_DELETE_DELAY_ENV`].
    delete_delay: Option<Duration>,
}

impl GcState {
    pub(crate) fn new(grace: Duration) -> Self {
        let delete_delay = std::env::var(TEST_DELETE_DELAY_ENV)
            .ok()
            .and_then(|millis| millis.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        if let Some(delay) = delete_delay {
            tracing::warn!(?delay, "garbage collection slowed down for tests");
        }
        Self {
            guard: BlobGuard::default(),
            running: tokio::sync::Mutex::new(()),
            grace,
            delete_delay,
        }
    }

    async fn test_delay(&self) {
        if let Some(delay) = self.delete_delay {
            tokio::time::sleep(delay).await;
        }
    }
}

fn key_of(located: &Located) -> Key {
    (located.0.clone(), located.1)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Service {
    /// The start of the grace period now, on the service's clock (RFC 3339): what was stored,
    /// staged or unreferenced at or before it may be collected. Stagings made before it no
    /// longer make a blob present for a version.
    pub(crate) fn grace_cutoff(&self) -> String {
        rfc3339_ms(
            self.clock()
                .now_ms()
                .saturating_sub(millis(self.gc().grace)),
        )
    }

    /// Runs one garbage collection (server admins only): see the module documentation. Only
    /// one runs at a time; a second waits for the first.
    pub async fn collect_garbage(
        &self,
        caller: Option<&Caller>,
        options: GcOptions,
    ) -> Result<GcReport, Error> {
        let caller = required(caller)?;
        if !caller.admin {
            return Err(Error::denied(format!(
                "garbage collection is for server admins, and `{}` is not one",
                caller.username
            )));
        }
        self.run_collection(options).await
    }

    /// Runs one garbage collection, for the server's own schedule.
    pub async fn run_collection(&self, options: GcOptions) -> Result<GcReport, Error> {
        let _running = self.gc().running.lock().await;
        let grace = self.gc().grace;
        let now_ms = self.clock().now_ms();
        let cutoff_ms = now_ms.saturating_sub(millis(grace));
        let mut report = GcReport {
            dry_run: options.dry_run,
            started_at: rfc3339_ms(now_ms),
            finished_at: String::new(),
            grace,
            cutoff: rfc3339_ms(cutoff_ms),
            freed: Vec::new(),
            freed_blobs: 0,
            freed_bytes: 0,
            kept_in_grace_blobs: 0,
            kept_in_grace_bytes: 0,
            kept_uploading: 0,
            failed: 0,
            stored_blobs: 0,
            stored_bytes: 0,
            entities: Vec::new(),
        };
        self.collect_interrupted(&mut report).await?;
        self.collect_unreferenced(&mut report).await?;
        if !options.dry_run {
            let cutoff = report.cutoff.clone();
            self.db()
                .write(move |connection| sql::expire_staged(connection, &cutoff))
                .await?;
        }
        self.collect_unrecorded_stored(&mut report, cutoff_ms)
            .await?;
        self.collect_unrecorded_packed(&mut report).await?;
        let (stored, storage) = self
            .db()
            .read(|connection| {
                Ok((
                    sql::stored_totals(connection)?,
                    sql::all_totals(connection)?,
                ))
            })
            .await?;
        (report.stored_blobs, report.stored_bytes) = stored;
        report.entities = group_storage(storage);
        report.finished_at = self.clock().now_text();
        if !options.dry_run {
            tracing::info!(
                freed_blobs = report.freed_blobs,
                freed_bytes = report.freed_bytes,
                kept_in_grace = report.kept_in_grace_blobs,
                failed = report.failed,
                "garbage collected"
            );
        }
        Ok(report)
    }

    /// Finishes what an interrupted collection left in `gc_doomed` (reported, in a dry run).
    async fn collect_interrupted(&self, report: &mut GcReport) -> Result<(), Error> {
        let doomed = self.db().read(sql::doomed).await?;
        if doomed.is_empty() {
            return Ok(());
        }
        if report.dry_run {
            for (md5_hex, size, location) in doomed {
                report.free(FreedBlob {
                    md5_hex,
                    size,
                    location,
                    reason: FreeReason::Interrupted,
                });
            }
            return Ok(());
        }
        self.gc().guard.doom_interrupted(doomed.iter().map(key_of));
        let reasons = doomed
            .iter()
            .map(|blob| (key_of(blob), FreeReason::Interrupted))
            .collect();
        self.delete_doomed(doomed, &reasons, report).await
    }

    /// Collects the stored blobs no live version references, a page at a time.
    async fn collect_unreferenced(&self, report: &mut GcReport) -> Result<(), Error> {
        let mut after: Option<Key> = None;
        loop {
            let page = {
                let after = after.clone();
                self.db()
                    .read(move |connection| {
                        sql::unreferenced_after(connection, after.as_ref(), PAGE)
                    })
                    .await?
            };
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some((last.md5_hex.clone(), last.size));
            let (collectable, in_grace): (Vec<Unreferenced>, Vec<Unreferenced>) = page
                .into_iter()
                .partition(|blob| blob.since <= report.cutoff);
            report.kept_in_grace_blobs += in_grace.len() as u64;
            report.kept_in_grace_bytes = in_grace
                .iter()
                .fold(report.kept_in_grace_bytes, |sum, blob| {
                    sum.saturating_add(blob.size)
                });
            let reasons: HashMap<Key, FreeReason> = collectable
                .iter()
                .map(|blob| {
                    (
                        (blob.md5_hex.clone(), blob.size),
                        FreeReason::Unreferenced {
                            since: blob.since.clone(),
                        },
                    )
                })
                .collect();
            if report.dry_run {
                for blob in collectable {
                    let reason = FreeReason::Unreferenced { since: blob.since };
                    report.free(FreedBlob {
                        md5_hex: blob.md5_hex,
                        size: blob.size,
                        location: blob.location,
                        reason,
                    });
                }
                continue;
            }
            let keys: Vec<Key> = collectable
                .into_iter()
                .map(|blob| (blob.md5_hex, blob.size))
                .collect();
            let wanted = keys.len();
            let allowed = self.gc().guard.doom(keys);
            report.kept_uploading += (wanted - allowed.len()) as u64;
            let (cutoff, now) = (report.cutoff.clone(), self.clock().now_text());
            let taken = {
                let allowed = allowed.clone();
                self.db()
                    .write(move |transaction| sql::doom(transaction, &allowed, &cutoff, &now))
                    .await
            };
            let taken = match taken {
                Ok(taken) => taken,
                Err(error) => {
                    self.gc().guard.release(&allowed);
                    return Err(error);
                }
            };
            let taken_keys: HashSet<Key> = taken.iter().map(key_of).collect();
            self.gc()
                .guard
                .release(allowed.iter().filter(|key| !taken_keys.contains(*key)));
            self.delete_doomed(taken, &reasons, report).await?;
        }
    }

    /// Collects blob-store objects the metadata does not record, once they are older than the
    /// grace period.
    async fn collect_unrecorded_stored(
        &self,
        report: &mut GcReport,
        cutoff_ms: i64,
    ) -> Result<(), Error> {
        let mut listing = self.blobs().list_stored().try_chunks(PAGE);
        while let Some(chunk) = listing.next().await {
            let chunk = chunk.map_err(|error| error.1)?;
            let old: Vec<Located> = chunk
                .into_iter()
                .filter(|(_, _, written)| system_ms(*written) <= cutoff_ms)
                .filter(|(_, size, _)| !Blobs::is_small(*size))
                .map(|(md5_hex, size, _)| (md5_hex, size, "store".to_owned()))
                .collect();
            self.collect_unrecorded(old, report).await?;
        }
        Ok(())
    }

    /// Collects packed blobs the metadata does not record.
    async fn collect_unrecorded_packed(&self, report: &mut GcReport) -> Result<(), Error> {
        let mut after: Option<Key> = None;
        loop {
            let page = self.blobs().packed_after(after.clone(), PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.clone());
            let page = page
                .into_iter()
                .map(|(md5_hex, size)| (md5_hex, size, "packed".to_owned()))
                .collect();
            self.collect_unrecorded(page, report).await?;
        }
    }

    /// Frees those of `candidates` the metadata does not record.
    async fn collect_unrecorded(
        &self,
        candidates: Vec<Located>,
        report: &mut GcReport,
    ) -> Result<(), Error> {
        if candidates.is_empty() {
            return Ok(());
        }
        let unrecorded = self
            .db()
            .read(move |connection| sql::unrecorded(connection, &candidates))
            .await?;
        if unrecorded.is_empty() {
            return Ok(());
        }
        if report.dry_run {
            for (md5_hex, size, location) in unrecorded {
                report.free(FreedBlob {
                    md5_hex,
                    size,
                    location,
                    reason: FreeReason::Unrecorded,
                });
            }
            return Ok(());
        }
        let locations: HashMap<Key, String> = unrecorded
            .iter()
            .map(|blob| (key_of(blob), blob.2.clone()))
            .collect();
        let wanted = unrecorded.len();
        let allowed = self
            .gc()
            .guard
            .doom(unrecorded.iter().map(key_of).collect());
        report.kept_uploading += (wanted - allowed.len()) as u64;
        let allowed_located: Vec<Located> = allowed
            .iter()
            .filter_map(|key| {
                locations
                    .get(key)
                    .map(|location| (key.0.clone(), key.1, location.clone()))
            })
            .collect();
        let now = self.clock().now_text();
        let taken = self
            .db()
            .write(move |transaction| sql::doom_unrecorded(transaction, &allowed_located, &now))
            .await;
        let taken = match taken {
            Ok(taken) => taken,
            Err(error) => {
                self.gc().guard.release(&allowed);
                return Err(error);
            }
        };
        let taken_keys: HashSet<Key> = taken.iter().map(key_of).collect();
        self.gc()
            .guard
            .release(allowed.iter().filter(|key| !taken_keys.contains(*key)));
        let reasons = taken
            .iter()
            .map(|blob| (key_of(blob), FreeReason::Unrecorded))
            .collect();
        self.delete_doomed(taken, &reasons, report).await
    }

    /// Deletes the bytes of doomed blobs, forgets those that are gone and lets uploads of
    /// them proceed. A blob whose deletion failed stays doomed (in `gc_doomed` and the guard)
    /// for the next collection.
    async fn delete_doomed(
        &self,
        doomed: Vec<Located>,
        reasons: &HashMap<Key, FreeReason>,
        report: &mut GcReport,
    ) -> Result<(), Error> {
        if doomed.is_empty() {
            return Ok(());
        }
        let (packed, stored): (Vec<Located>, Vec<Located>) = doomed
            .into_iter()
            .partition(|(_, _, location)| location == "packed");
        let mut gone: Vec<Located> = Vec::new();
        let packed_keys: Vec<Key> = packed.iter().map(key_of).collect();
        if !packed_keys.is_empty() {
            self.gc().test_delay().await;
        }
        match self.blobs().delete_packed(packed_keys).await {
            Ok(()) => gone.extend(packed),
            Err(error) => {
                tracing::warn!(error = %crate::error_chain(&error), blobs = packed.len(), "could not delete packed blobs; the next collection retries");
                report.failed += packed.len() as u64;
            }
        }
        let results: Vec<(Located, Result<(), Error>)> =
            futures_util::stream::iter(stored.into_iter().map(|blob| async move {
                self.gc().test_delay().await;
                let result = self.blobs().delete_stored(&blob.0, blob.1).await;
                (blob, result)
            }))
            .buffer_unordered(DELETE_CONCURRENCY)
            .collect()
            .await;
        for (blob, result) in results {
            match result {
                Ok(()) => gone.push(blob),
                Err(error) => {
                    tracing::warn!(md5 = blob.0, size = blob.1, error = %crate::error_chain(&error), "could not delete a blob; the next collection retries");
                    report.failed += 1;
                }
            }
        }
        let keys: Vec<Key> = gone.iter().map(key_of).collect();
        {
            let keys = keys.clone();
            self.db()
                .write(move |transaction| sql::forget_doomed(transaction, &keys))
                .await?;
        }
        self.gc().guard.release(&keys);
        for (md5_hex, size, location) in gone {
            let reason = reasons
                .get(&(md5_hex.clone(), size))
                .cloned()
                .unwrap_or(FreeReason::Interrupted);
            report.free(FreedBlob {
                md5_hex,
                size,
                location,
                reason,
            });
        }
        Ok(())
    }

    /// Finishes the deletions an interrupted collection left behind (on start); uploads of
    /// those blobs wait until then.
    pub(crate) async fn finish_interrupted(&self) -> Result<(), Error> {
        let _running = self.gc().running.lock().await;
        let doomed = self.db().read(sql::doomed).await?;
        if doomed.is_empty() {
            return Ok(());
        }
        let count = doomed.len();
        let mut report = GcReport {
            dry_run: false,
            started_at: String::new(),
            finished_at: String::new(),
            grace: Duration::ZERO,
            cutoff: String::new(),
            freed: Vec::new(),
            freed_blobs: 0,
            freed_bytes: 0,
            kept_in_grace_blobs: 0,
            kept_in_grace_bytes: 0,
            kept_uploading: 0,
            failed: 0,
            stored_blobs: 0,
            stored_bytes: 0,
            entities: Vec::new(),
        };
        self.delete_doomed(doomed, &HashMap::new(), &mut report)
            .await?;
        tracing::info!(
            count,
            freed = report.freed_blobs,
            "finished the deletions of an interrupted garbage collection"
        );
        Ok(())
    }

    /// Runs a collection every `interval` until the returned task is aborted; failures are
    /// logged and retried at the next tick.
    pub fn spawn_collector(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        // One interval after the start: the start itself finishes interrupted collections.
        self.spawn_every(
            interval,
            false,
            "garbage collection",
            |service| async move { service.run_collection(GcOptions::default()).await.map(drop) },
        )
    }

    /// The storage of a project the caller may read.
    pub async fn project_storage(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
    ) -> Result<Storage, Error> {
        let caller = caller.cloned();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        self.db()
            .read(move |connection| {
                let row = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                Ok(sql::project_totals(connection, row.id)?.into())
            })
            .await
    }

    /// The storage of an entity (blobs shared by its projects count once): for the user
    /// themselves, the team's members and server admins.
    pub async fn entity_storage(
        &self,
        caller: Option<&Caller>,
        entity: &str,
    ) -> Result<Storage, Error> {
        let caller = required(caller)?.clone();
        let entity = entity.to_owned();
        self.db()
            .read(move |connection| {
                let Some(row) = find_entity(connection, &entity)? else {
                    return Err(Error::not_found(format!("entity `{entity}` not found")));
                };
                if !caller.admin && role_in(connection, &caller, row.id)?.is_none() {
                    return Err(Error::denied(format!(
                        "the storage of `{entity}` is for its members and server admins, and `{}` is not one",
                        caller.username
                    )));
                }
                Ok(sql::entity_totals(connection, row.id)?.into())
            })
            .await
    }
}

/// Milliseconds since the Unix epoch of a store's timestamp.
fn system_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

/// Groups `(entity, project or None, totals)` rows, sorted by entity then project, into
/// entities with their projects.
fn group_storage(rows: Vec<(String, Option<String>, Totals)>) -> Vec<EntityStorage> {
    let mut entities: Vec<EntityStorage> = Vec::new();
    for (entity, project, totals) in rows {
        if entities.last().is_none_or(|last| last.entity != entity) {
            entities.push(EntityStorage {
                entity: entity.clone(),
                storage: Storage::default(),
                projects: Vec::new(),
            });
        }
        let Some(current) = entities.last_mut() else {
            continue;
        };
        match project {
            None => current.storage = totals.into(),
            Some(project) => current.projects.push(ProjectStorage {
                project,
                storage: totals.into(),
            }),
        }
    }
    entities
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        (name.to_owned(), 1)
    }

    /// A collection skips pinned blobs, and an upload of a doomed blob waits until the
    /// collection releases it.
    #[tokio::test]
    async fn pins_and_dooms_exclude_each_other() -> Result<(), Error> {
        let guard = std::sync::Arc::new(BlobGuard::default());
        let pin = guard.pin(vec![key("a")]).await?;
        assert_eq!(guard.doom(vec![key("a"), key("b")]), vec![key("b")]);
        drop(pin);
        let waiting = {
            let guard = std::sync::Arc::clone(&guard);
            tokio::spawn(async move { guard.pin(vec![key("b")]).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "an upload of a doomed blob waits");
        guard.release(&[key("b")]);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .map_err(|_| Error::internal("the upload was not released"))?
            .map_err(crate::error::join_error)??;
        assert_eq!(guard.doom(vec![key("a")]), vec![key("a")], "unpinned");
        Ok(())
    }

    #[test]
    fn storage_groups_by_entity() {
        let totals = |blobs| Totals {
            blobs,
            bytes: blobs * 10,
            live_versions: 1,
        };
        let grouped = group_storage(vec![
            ("a".to_owned(), None, totals(3)),
            ("a".to_owned(), Some("p".to_owned()), totals(2)),
            ("a".to_owned(), Some("q".to_owned()), totals(2)),
            ("b".to_owned(), None, totals(1)),
            ("b".to_owned(), Some("r".to_owned()), totals(1)),
        ]);
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].storage.blobs, 3);
        assert_eq!(grouped[0].projects.len(), 2);
        assert_eq!(grouped[1].projects[0].project, "r");
    }
}
