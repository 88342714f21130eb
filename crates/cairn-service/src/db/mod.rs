//! SQLite access: one writer connection, a small pool of readers, blocking work off the async
//! runtime, and retries when another process holds the database.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction on the single writer connection, so
//! writers of this process queue on a mutex instead of failing with `SQLITE_BUSY`; the database
//! runs in WAL mode, so readers are never blocked by the writer. `busy_timeout` covers other
//! processes (a backup, a second server by mistake), and a write that still finds the database
//! busy is retried a few times before it answers `storage_unavailable`, never a 500.

pub(crate) mod accounts;
pub(crate) mod enums;
pub(crate) mod gc;
pub(crate) mod keys;
pub(crate) mod lineage;
pub(crate) mod links;
pub(crate) mod manifests;
pub(crate) mod presence;
pub(crate) mod projects;
pub(crate) mod retention;
pub(crate) mod runs;
pub(crate) mod schema;
pub(crate) mod secrets;
pub(crate) mod sessions;
pub(crate) mod versions;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{Error, OpenError, join_error};

/// How long one statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a busy write transaction is retried.
const BUSY_RETRIES: u32 = 5;

/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// Turns an SQLite error while opening the database at `path` into an [`OpenError`] saying
/// what was being done.
pub(crate) fn database_error(
    path: &Path,
    action: &'static str,
) -> impl FnOnce(rusqlite::Error) -> OpenError + use<> {
    let path = path.to_owned();
    move |source| OpenError::Database {
        action,
        path,
        source,
    }
}

/// Whether the connection answers a trivial query.
pub(crate) fn ping(connection: &Connection) -> Result<(), Error> {
    Ok(connection.query_row("SELECT 1", [], |_| Ok(()))?)
}

/// One SQLite database file.
#[derive(Debug)]
pub(crate) struct Db {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

/// The page cache of the metadata database's writer connection (SQLite's default is 2 MiB).
/// Ingesting a manifest inserts every entry into the table and three indexes, two of them keyed
/// by MD5, so the inserts land on random pages: with 2 MiB, fetching pages was a sixth of a
/// 50,000-entry ingest. Readers, and the packed blobs' database (appends in key order), keep
/// the default.
pub(crate) const METADATA_WRITER_CACHE: PageCache = PageCache::Kib(32 * 1024);

/// The page cache of a database's writer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageCache {
    /// SQLite's default.
    Default,
    /// This many KiB.
    Kib(i64),
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `path`, its writer connection
    /// with `writer_cache`.
    pub(crate) fn open(
        path: &Path,
        migrations: &[&str],
        writer_cache: PageCache,
    ) -> Result<Self, OpenError> {
        let database_error = |action| database_error(path, action);
        let mut writer = open_connection(path).map_err(database_error("open"))?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(database_error("switch to WAL mode"))?;
        if let PageCache::Kib(kib) = writer_cache {
            // A negative size is in KiB, a positive one in pages.
            writer
                .pragma_update(None, "cache_size", -kib)
                .map_err(database_error("size the page cache of"))?;
        }
        schema::migrate(&mut writer, path, migrations)?;
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `work` on a reader connection, off the async runtime.
    pub(crate) async fn read<T, F>(self: &std::sync::Arc<Self>, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let db = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let idle = db
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let connection = match idle {
                Some(connection) => connection,
                None => open_connection(&db.path)?,
            };
            let result = work(&connection);
            let mut readers = db.readers.lock().unwrap_or_else(PoisonError::into_inner);
            if readers.len() < MAX_IDLE_READERS && connection.is_autocommit() {
                readers.push(connection);
            }
            result
        })
        .await
        .map_err(join_error)?
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction on the writer connection and commits
    /// it if `work` succeeds. A busy database is retried (so `work` may run more than once; it
    /// must not have effects outside the transaction).
    pub(crate) async fn write<T, F>(self: &std::sync::Arc<Self>, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnMut(&Transaction<'_>) -> Result<T, Error> + Send + 'static,
    {
        let db = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || db.write_blocking(work))
            .await
            .map_err(join_error)?
    }

    /// [`Db::write`] for code already off the runtime.
    pub(crate) fn write_blocking<T, F>(&self, mut work: F) -> Result<T, Error>
    where
        F: FnMut(&Transaction<'_>) -> Result<T, Error>,
    {
        let mut connection = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut attempt = 0;
        loop {
            let result = (|| -> Result<T, Error> {
                let transaction =
                    connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = work(&transaction)?;
                transaction.commit()?;
                Ok(value)
            })();
            match result {
                Err(error) if error.is_busy() && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
                }
                other => return other,
            }
        }
    }

    /// Folds the write-ahead log into the database file (on shutdown).
    pub(crate) async fn checkpoint(self: &std::sync::Arc<Self>) -> Result<(), Error> {
        let db = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let connection = db.writer.lock().unwrap_or_else(PoisonError::into_inner);
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
        .map_err(join_error)?
    }
}

pub(crate) fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    // Plans that never depend on bound values: otherwise SQLite marks a statement whose plan
    // read a parameter as expired when its bindings are cleared, and rusqlite clears them each
    // time a cached statement goes back to its cache, so every reuse parsed and planned the
    // statement again (profiled: half the server's CPU serving a 50,000-file download).
    connection.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // FULL: a committed transaction survives a power cut, so the metadata never points at
    // data that was lost.
    connection.pragma_update(None, "synchronous", "FULL")?;
    Ok(connection)
}
