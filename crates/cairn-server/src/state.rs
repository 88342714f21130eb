//! The server's shared state: the metadata database, the blob storage, the counters, the
//! connection limits [`crate::serve`] applies, and opening all of it from a data directory
//! (with the first start's bootstrap).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_api::ServerStats;
use cairn_storage::BlobStore;
use rusqlite::{OptionalExtension as _, params};

use crate::auth::hash_key;
use crate::blobs::{Blobs, clean_tmp};
use crate::config::{BlobStoreConfig, ConnectionLimits, ServerConfig, StoreUrl};
use crate::db::Db;
use crate::db::schema::{METADATA, NOW, PACKED};
use crate::error::{ApiError, Error, Result};

/// The name of the server admin created on the first start.
pub const ADMIN_USERNAME: &str = "admin";

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// How many manifests over [`crate::ingest::LARGE_MANIFEST_BYTES`] are spooled and ingested
/// at once; more wait their turn. Ingesting holds the single writer anyway, so more would only
/// pile up spooled uploads on disk.
const LARGE_MANIFEST_PERMITS: usize = 2;

struct Inner {
    db: Arc<Db>,
    manifest_permits: Arc<tokio::sync::Semaphore>,
    blobs: Blobs,
    counters: Counters,
    data_dir: PathBuf,
    limits: ConnectionLimits,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.inner.data_dir)
            .field("blob_store", &self.inner.blobs.kind())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

/// What opening the data directory did about the admin account.
#[derive(Clone, PartialEq, Eq)]
pub struct Bootstrap {
    /// The server admin's user name.
    pub admin_username: String,
    /// The admin's API key, only on the first start and only when the server minted it: print
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

/// Counters since the process started ([`ServerStats`]).
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

impl AppState {
    /// Opens (creating on the first start) the data directory of `config`: the metadata and
    /// packed-blob databases, migrated to this version's schema, and the blob store. Leftover
    /// temporary uploads are removed. On the first start the server admin `admin` is created,
    /// with `config.admin_api_key` or a minted key (returned in [`Bootstrap`] to print once).
    /// The state keeps `config`'s connection limits for [`crate::serve`]; a zero timeout or cap
    /// is refused here.
    pub async fn open(config: &ServerConfig) -> Result<(Self, Bootstrap)> {
        let data_dir = config.data_dir.clone();
        let admin_key = config.admin_api_key.clone();
        if let Some(key) = &admin_key {
            check_admin_key(key)?;
        }
        let limits = config.connection_limits()?;
        let opened = tokio::task::spawn_blocking(move || open_databases(&data_dir))
            .await
            .map_err(|error| Error::Task(error.to_string()))??;
        let (db, packed, tmp) = opened;
        let (store, local_root, prefix, kind) = open_store(config)?;
        let blobs = Blobs::new(store, local_root, prefix, packed, tmp, kind);
        let bootstrap = {
            let db = Arc::clone(&db);
            tokio::task::spawn_blocking(move || bootstrap(&db, admin_key.as_deref()))
                .await
                .map_err(|error| Error::Task(error.to_string()))??
        };
        let state = Self {
            inner: Arc::new(Inner {
                db,
                manifest_permits: Arc::new(tokio::sync::Semaphore::new(LARGE_MANIFEST_PERMITS)),
                blobs,
                counters: Counters::default(),
                data_dir: config.data_dir.clone(),
                limits,
            }),
        };
        Ok((state, bootstrap))
    }

    pub(crate) fn db(&self) -> &Arc<Db> {
        &self.inner.db
    }

    /// Waits for a turn to ingest a large manifest; the turn ends when the permit is dropped.
    pub(crate) async fn manifest_permit(
        &self,
    ) -> std::result::Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.inner.manifest_permits)
            .acquire_owned()
            .await
            .map_err(|error| ApiError::internal(format!("manifest permits: {error}")))
    }

    pub(crate) fn blobs(&self) -> &Blobs {
        &self.inner.blobs
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// The timeouts and the connection cap [`crate::serve`] applies.
    pub(crate) fn connection_limits(&self) -> ConnectionLimits {
        self.inner.limits
    }

    /// The counters since the process started.
    pub fn stats(&self) -> ServerStats {
        let counters = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ServerStats {
            blobs_received: load(&counters.blobs_received),
            blob_bytes_received: load(&counters.blob_bytes_received),
            blobs_rejected: load(&counters.blobs_rejected),
            versions_committed: load(&counters.versions_committed),
            blobs_served: load(&counters.blobs_served),
        }
    }

    /// Folds both databases' write-ahead logs into their files; called after the last request
    /// on shutdown (the databases are consistent without it).
    pub(crate) async fn checkpoint(&self) -> std::result::Result<(), ApiError> {
        self.inner.db.checkpoint().await?;
        self.inner.blobs.checkpoint().await
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

type Opened = (Arc<Db>, Arc<Db>, PathBuf);

fn open_databases(data_dir: &Path) -> Result<Opened> {
    fs_err::create_dir_all(data_dir).map_err(io_error("create the data directory", data_dir))?;
    let tmp = data_dir.join("tmp");
    fs_err::create_dir_all(&tmp).map_err(io_error("create the temporary directory", &tmp))?;
    let removed = clean_tmp(&tmp).map_err(io_error("clean the temporary directory", &tmp))?;
    if removed > 0 {
        tracing::info!(removed, "removed leftover temporary uploads");
    }
    let db = Db::open(&data_dir.join("cairn.sqlite"), METADATA)?;
    let packed = Db::open(&data_dir.join("packed.sqlite"), PACKED)?;
    Ok((Arc::new(db), Arc::new(packed), tmp))
}

type OpenedStore = (BlobStore, Option<PathBuf>, Option<String>, &'static str);

fn open_store(config: &ServerConfig) -> Result<OpenedStore> {
    match &config.blob_store {
        BlobStoreConfig::Local => {
            let root = config.data_dir.join("blobs");
            Ok((BlobStore::local(&root)?, Some(root), None, "local"))
        }
        BlobStoreConfig::Store(store) => {
            // `Display` starts with the backend's name: `s3 blob store at s3://bucket`.
            let kind = match store.to_string().split_whitespace().next() {
                Some("s3") => "s3",
                Some("gs") => "gs",
                Some("azure") => "azure",
                _ => "local",
            };
            Ok((store.clone(), None, None, kind))
        }
        BlobStoreConfig::Url(url) => {
            let parsed = StoreUrl::parse(url)?;
            let (store, kind) = cloud_store(url, &parsed)?;
            Ok((store, None, parsed.prefix, kind))
        }
    }
}

fn cloud_store(url: &str, parsed: &StoreUrl) -> Result<(BlobStore, &'static str)> {
    match parsed.scheme.as_str() {
        #[cfg(feature = "s3")]
        "s3" => Ok((
            cairn_storage::CloudHandler::s3(cairn_storage::S3Config::from_env())
                .blob_store(&parsed.bucket)?,
            "s3",
        )),
        #[cfg(feature = "gs")]
        "gs" => Ok((
            cairn_storage::CloudHandler::gcs(cairn_storage::GcsConfig::from_env())
                .blob_store(&parsed.bucket)?,
            "gs",
        )),
        #[cfg(feature = "azure")]
        "az" => Ok((
            cairn_storage::CloudHandler::azure(cairn_storage::AzureConfig::from_env())
                .blob_store(&parsed.bucket)?,
            "azure",
        )),
        #[cfg(not(feature = "s3"))]
        "s3" => Err(not_built(url, "s3")),
        #[cfg(not(feature = "gs"))]
        "gs" => Err(not_built(url, "gs")),
        #[cfg(not(feature = "azure"))]
        "az" => Err(not_built(url, "azure")),
        other => Err(Error::BlobStore {
            url: url.to_owned(),
            reason: format!("`{other}://` is not a blob store scheme; use `s3`, `gs` or `az`"),
        }),
    }
}

#[cfg_attr(
    all(feature = "s3", feature = "gs", feature = "azure"),
    expect(dead_code, reason = "every backend is built")
)]
fn not_built(url: &str, feature: &str) -> Error {
    Error::BlobStore {
        url: url.to_owned(),
        reason: format!(
            "this build has no `{feature}` support; rebuild cairn-server with `--features {feature}`"
        ),
    }
}

fn check_admin_key(key: &str) -> Result<()> {
    let fail = |reason: &str| Error::Config {
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
fn bootstrap(db: &Db, admin_key: Option<&str>) -> Result<Bootstrap> {
    let minted = match admin_key {
        Some(_) => None,
        None => Some(crate::auth::mint_key().map_err(|error| Error::Task(format!("{error:?}")))?),
    };
    let admin_key = admin_key.map(str::to_owned);
    let created = db
        .write_blocking(|transaction| {
            let users: i64 =
                transaction.query_row("SELECT count(*) FROM users", [], |row| row.get(0))?;
            if users == 0 {
                let key = admin_key
                    .clone()
                    .or_else(|| minted.clone())
                    .unwrap_or_default();
                let user_id = create_user(transaction, ADMIN_USERNAME, true)?;
                add_key(transaction, user_id, &key)?;
                return Ok(admin_key.is_none());
            }
            if let Some(key) = &admin_key {
                let hash = hash_key(key);
                let known: Option<i64> = transaction
                    .query_row(
                        "SELECT user_id FROM api_keys WHERE key_hash = ?1",
                        [&hash],
                        |row| row.get(0),
                    )
                    .optional()?;
                if known.is_none() {
                    let admin: Option<i64> = transaction
                        .query_row(
                            "SELECT id FROM users WHERE username = ?1",
                            [ADMIN_USERNAME],
                            |row| row.get(0),
                        )
                        .optional()?;
                    let admin = match admin {
                        Some(admin) => admin,
                        None => transaction.query_row(
                            "SELECT id FROM users WHERE admin = 1 ORDER BY id LIMIT 1",
                            [],
                            |row| row.get(0),
                        )?,
                    };
                    add_key(transaction, admin, key)?;
                }
            }
            Ok(false)
        })
        .map_err(|error| Error::Task(format!("bootstrapping the admin failed: {error:?}")))?;
    Ok(Bootstrap {
        admin_username: ADMIN_USERNAME.to_owned(),
        new_admin_api_key: if created { minted } else { None },
    })
}

/// Creates a user and its entity; returns the user id.
pub(crate) fn create_user(
    connection: &rusqlite::Connection,
    username: &str,
    admin: bool,
) -> std::result::Result<i64, ApiError> {
    connection.execute(
        &format!("INSERT INTO entities (name, kind, created_at) VALUES (?1, 'user', {NOW})"),
        [username],
    )?;
    let entity_id = connection.last_insert_rowid();
    connection.execute(
        &format!(
            "INSERT INTO users (entity_id, username, admin, created_at) VALUES (?1, ?2, ?3, {NOW})"
        ),
        params![entity_id, username, admin],
    )?;
    Ok(connection.last_insert_rowid())
}

/// Stores the hash of `key` for the user.
pub(crate) fn add_key(
    connection: &rusqlite::Connection,
    user_id: i64,
    key: &str,
) -> std::result::Result<(), ApiError> {
    connection.execute(
        &format!("INSERT INTO api_keys (key_hash, user_id, created_at) VALUES (?1, ?2, {NOW})"),
        params![hash_key(key), user_id],
    )?;
    Ok(())
}
