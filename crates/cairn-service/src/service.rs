//! The service: the metadata database, the blob storage and the counters, opened from a data
//! directory (with the first start's bootstrap), and the handle every domain function hangs
//! off ([`Service`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::access::hash_key;
use crate::blobs::{Blobs, clean_tmp};
use crate::clock::Clock;
use crate::db::Db;
use crate::db::schema::{METADATA, PACKED};
use crate::db::{accounts, keys};
use crate::error::{Error, OpenError};
use crate::gc::GcState;
use crate::model::Stats;
pub use crate::store::BlobStoreConfig;

/// The name of the server admin created on the first start.
pub const ADMIN_USERNAME: &str = "admin";

/// How many manifests over [`crate::db::manifests::LARGE_MANIFEST_BYTES`] are spooled and ingested
/// at once; more wait their turn. Ingesting holds the single writer anyway, so more would only
/// pile up spooled uploads on disk.
const LARGE_MANIFEST_PERMITS: usize = 2;

/// What the service needs to open.
#[derive(Clone)]
pub struct Config {
    /// Where the databases, local blobs and temporary uploads live.
    pub data_dir: PathBuf,
    /// Where blobs larger than [`crate::blobs::PACK_MAX_SIZE`] bytes are stored.
    pub blob_store: BlobStoreConfig,
    /// On the first start, the `admin` user's key (instead of a minted one); on later starts,
    /// added as another key of `admin` if the service does not know it yet.
    pub admin_api_key: Option<String>,
    /// Whether the clock may be moved forward ([`crate::Clock::advance`]): for tests only.
    pub test_clock: bool,
    /// How long a blob must have been unreferenced before garbage collection removes it
    /// (see [`crate::gc`]); [`crate::gc::DEFAULT_GRACE`] is a safe choice.
    pub gc_grace: std::time::Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("blob_store", &self.blob_store)
            .field(
                "admin_api_key",
                &self.admin_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("test_clock", &self.test_clock)
            .field("gc_grace", &self.gc_grace)
            .finish()
    }
}

/// The domain: every operation of the server is a method of this handle (in the modules
/// beside this one). Cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Db>,
    manifest_permits: Arc<tokio::sync::Semaphore>,
    blobs: Blobs,
    counters: Counters,
    data_dir: PathBuf,
    signing_key: Vec<u8>,
    clock: Clock,
    gc: GcState,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("data_dir", &self.inner.data_dir)
            .field("blob_store", &self.inner.blobs.kind())
            .finish_non_exhaustive()
    }
}

/// What opening the data directory did about the admin account.
#[derive(Clone, PartialEq, Eq)]
pub struct Bootstrap {
    /// The server admin's user name.
    pub admin_username: String,
    /// The admin's API key, only on the first start and only when the service minted it: print
    /// it once, it cannot be shown again.
    pub new_admin_api_key: Option<String>,
}

impl fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bootstrap")
            .field("admin_username", &self.admin_username)
            .field(
                "new_admin_api_key",
                &self.new_admin_api_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Counters since the process started ([`Stats`]).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) blobs_received: AtomicU64,
    pub(crate) blob_bytes_received: AtomicU64,
    pub(crate) blobs_rejected: AtomicU64,
    pub(crate) versions_committed: AtomicU64,
    pub(crate) blobs_served: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }
}

impl Service {
    /// Opens (creating on the first start) the data directory of `config`: the metadata and
    /// packed-blob databases, migrated to this version's schema, and the blob store. Leftover
    /// temporary uploads are removed. On the first start the server admin `admin` is created,
    /// with `config.admin_api_key` or a minted key (returned in [`Bootstrap`] to print once).
    pub async fn open(config: &Config) -> Result<(Self, Bootstrap), OpenError> {
        let data_dir = config.data_dir.clone();
        let admin_key = config.admin_api_key.clone();
        if let Some(key) = &admin_key {
            check_admin_key(key)?;
        }
        let opened = tokio::task::spawn_blocking(move || open_databases(&data_dir))
            .await
            .map_err(|error| OpenError::Task(error.to_string()))??;
        let (db, packed, tmp) = opened;
        let (store, local_root, prefix, kind) =
            crate::store::open_store(&config.data_dir, &config.blob_store)?;
        let blobs = Blobs::new(store, local_root, prefix, packed, tmp, kind);
        let bootstrap = {
            let db = Arc::clone(&db);
            tokio::task::spawn_blocking(move || bootstrap(&db, admin_key.as_deref()))
                .await
                .map_err(|error| OpenError::Task(error.to_string()))??
        };
        let signing_key = {
            let db = Arc::clone(&db);
            tokio::task::spawn_blocking(move || {
                db.write_blocking(|transaction| crate::db::secrets::signing_key(transaction))
            })
            .await
            .map_err(|error| OpenError::Task(error.to_string()))?
            .map_err(|error| OpenError::Task(format!("the URL-signing key: {error:?}")))?
        };
        let service = Self {
            inner: Arc::new(Inner {
                db,
                manifest_permits: Arc::new(tokio::sync::Semaphore::new(LARGE_MANIFEST_PERMITS)),
                blobs,
                counters: Counters::default(),
                data_dir: config.data_dir.clone(),
                signing_key,
                clock: if config.test_clock {
                    Clock::adjustable()
                } else {
                    Clock::system()
                },
                gc: GcState::new(config.gc_grace),
            }),
        };
        service.resume_collection().await?;
        Ok((service, bootstrap))
    }

    /// Dooms the blobs an interrupted garbage collection took out of the metadata, so that no
    /// upload stores them again before their deletion finishes, and finishes it in the
    /// background.
    async fn resume_collection(&self) -> Result<(), OpenError> {
        let doomed = self
            .db()
            .read(crate::db::gc::doomed)
            .await
            .map_err(|error| {
                OpenError::Task(format!("reading interrupted collections: {error:?}"))
            })?;
        if doomed.is_empty() {
            return Ok(());
        }
        self.gc()
            .guard
            .doom_interrupted(doomed.into_iter().map(|(md5_hex, size, _)| (md5_hex, size)));
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(error) = service.finish_interrupted().await {
                tracing::warn!(error = %crate::error_chain(&error), "could not finish an interrupted garbage collection; the next one will");
            }
        });
        Ok(())
    }

    pub(crate) fn gc(&self) -> &GcState {
        &self.inner.gc
    }

    pub(crate) fn db(&self) -> &Arc<Db> {
        &self.inner.db
    }

    /// Runs `job` every `interval` (the first time at once, or one interval after the start)
    /// until the returned task is aborted; a failure is logged as `what` failing and the job is
    /// tried again at the next tick.
    pub(crate) fn spawn_every<F, Fut>(
        &self,
        interval: std::time::Duration,
        at_once: bool,
        what: &'static str,
        job: F,
    ) -> tokio::task::JoinHandle<()>
    where
        F: Fn(Self) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), Error>> + Send,
    {
        let service = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            if !at_once {
                // The first tick completes at once.
                ticks.tick().await;
            }
            loop {
                ticks.tick().await;
                if let Err(error) = job(service.clone()).await {
                    tracing::warn!(error = %crate::error_chain(&error), "{what} failed; retrying at the next interval");
                }
            }
        })
    }

    /// The clock time-dependent rules (TTL, key expiry) read.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Waits for a turn to ingest a large manifest; the turn ends when the permit is dropped.
    pub(crate) async fn manifest_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        Arc::clone(&self.inner.manifest_permits)
            .acquire_owned()
            .await
            .map_err(|error| Error::internal(format!("manifest permits: {error}")))
    }

    pub(crate) fn signing_key(&self) -> &[u8] {
        &self.inner.signing_key
    }

    pub(crate) fn blobs(&self) -> &Blobs {
        &self.inner.blobs
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Where blobs are kept: `local`, `s3`, `gs` or `azure`.
    pub fn blob_store_kind(&self) -> &'static str {
        self.inner.blobs.kind()
    }

    /// The counters since the process started.
    pub fn stats(&self) -> Stats {
        let counters = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            blobs_received: load(&counters.blobs_received),
            blob_bytes_received: load(&counters.blob_bytes_received),
            blobs_rejected: load(&counters.blobs_rejected),
            versions_committed: load(&counters.versions_committed),
            blobs_served: load(&counters.blobs_served),
        }
    }

    /// The counters, for server admins only.
    pub fn stats_for(&self, caller: Option<&crate::Caller>) -> Result<Stats, Error> {
        let caller = crate::access::required(caller)?;
        if !caller.admin {
            return Err(Error::denied(format!(
                "server statistics are for server admins, and `{}` is not one",
                caller.username
            )));
        }
        Ok(self.stats())
    }

    /// Moves the clock forward by `by` (server admins, on a test clock only); answers how far
    /// ahead of the system clock it is now and what it reads.
    pub fn advance_clock(
        &self,
        caller: Option<&crate::Caller>,
        by: std::time::Duration,
    ) -> Result<(std::time::Duration, String), Error> {
        let caller = crate::access::required(caller)?;
        if !caller.admin {
            return Err(Error::denied(format!(
                "only server admins may move the clock, and `{}` is not one",
                caller.username
            )));
        }
        let offset = self.clock().advance(by)?;
        tracing::warn!(?by, ?offset, "test clock moved forward");
        Ok((offset, self.clock().now_text()))
    }

    /// Whether the metadata database answers a trivial query (for health checks).
    pub async fn check_health(&self) -> Result<(), Error> {
        self.inner.db.read(crate::db::ping).await
    }

    /// Folds both databases' write-ahead logs into their files; called after the last request
    /// on shutdown (the databases are consistent without it).
    pub async fn checkpoint(&self) -> Result<(), Error> {
        self.inner.db.checkpoint().await?;
        self.inner.blobs.checkpoint().await
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OpenError {
    let path = path.to_owned();
    move |source| OpenError::Io {
        action,
        path,
        source,
    }
}

type Opened = (Arc<Db>, Arc<Db>, PathBuf);

fn open_databases(data_dir: &Path) -> Result<Opened, OpenError> {
    fs_err::create_dir_all(data_dir).map_err(io_error("create the data directory", data_dir))?;
    let tmp = data_dir.join("tmp");
    fs_err::create_dir_all(&tmp).map_err(io_error("create the temporary directory", &tmp))?;
    let removed = clean_tmp(&tmp).map_err(io_error("clean the temporary directory", &tmp))?;
    if removed > 0 {
        tracing::info!(removed, "removed leftover temporary uploads");
    }
    let db = Db::open(
        &data_dir.join("cairn.sqlite"),
        METADATA,
        crate::db::METADATA_WRITER_CACHE,
    )?;
    let packed = Db::open(
        &data_dir.join("packed.sqlite"),
        PACKED,
        crate::db::PageCache::Default,
    )?;
    Ok((Arc::new(db), Arc::new(packed), tmp))
}

fn check_admin_key(key: &str) -> Result<(), OpenError> {
    let fail = |reason: &str| OpenError::Config {
        what: "admin API key (CAIRN_ADMIN_API_KEY)",
        value: "<redacted>".to_owned(),
        reason: reason.to_owned(),
    };
    if key.len() < 16 || key.len() > 256 {
        return Err(fail("it must be 16 to 256 characters long"));
    }
    if !key.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(fail("it may only hold printable ASCII without spaces"));
    }
    Ok(())
}

/// Creates the admin on the first start; on later starts, adds a configured key it lacks.
fn bootstrap(db: &Db, admin_key: Option<&str>) -> Result<Bootstrap, OpenError> {
    let minted = match admin_key {
        Some(_) => None,
        None => {
            Some(crate::access::mint_key().map_err(|error| OpenError::Task(format!("{error:?}")))?)
        }
    };
    let admin_key = admin_key.map(str::to_owned);
    let key_id =
        crate::keys::mint_key_id().map_err(|error| OpenError::Task(format!("{error:?}")))?;
    let created = db
        .write_blocking(|transaction| {
            if accounts::user_count(transaction)? == 0 {
                let key = admin_key
                    .clone()
                    .or_else(|| minted.clone())
                    .unwrap_or_default();
                let user_id = accounts::insert_user(transaction, ADMIN_USERNAME, true)?;
                keys::insert_key(transaction, user_id, &hash_key(&key), &key_id, None, None)?;
                return Ok(admin_key.is_none());
            }
            if let Some(key) = &admin_key {
                let hash = hash_key(key);
                match keys::key_by_hash(transaction, &hash)? {
                    None => {
                        let admin = accounts::admin_user_id(transaction, ADMIN_USERNAME)?;
                        keys::insert_key(transaction, admin, &hash, &key_id, None, None)?;
                    }
                    // Revocation sticks: a restart must not bring back a key revoked because
                    // it leaked.
                    Some(row) if row.revoked_at.is_some() => tracing::warn!(
                        key = row.id,
                        "the configured admin API key (CAIRN_ADMIN_API_KEY) was revoked; it stays revoked"
                    ),
                    Some(_) => {}
                }
            }
            Ok(false)
        })
        .map_err(|error| OpenError::Task(format!("bootstrapping the admin failed: {error:?}")))?;
    Ok(Bootstrap {
        admin_username: ADMIN_USERNAME.to_owned(),
        new_admin_api_key: if created { minted } else { None },
    })
}
