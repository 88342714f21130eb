//! The object index: one SQLite database holding each object's size and last use, plus running
//! totals kept by triggers, so `stats()` and the size budget never walk the tree.
//!
//! The filesystem stays the source of truth: an object exists when its file does. The index is a
//! summary that may lag (a process that crashed between renaming an object into place and
//! recording it, or a user who deleted files by hand); every explicit cleanup walks the tree and
//! reconciles it. A database created over a non-empty `objects-v1/` starts *incomplete*, and
//! `stats()` walks until a reconcile has made it complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::{Error, ObjectKey, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS objects (
    path TEXT PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL,
    last_used INTEGER NOT NULL
) WITHOUT ROWID;
-- No index on `last_used`: only a cleanup orders by it, reading every row anyway (a sort), while
-- every recorded use had to move the row in the index too (a third of a warm download of
-- 50,000 small files went to recording uses). Dropped from caches made before.
DROP INDEX IF EXISTS objects_by_last_use;
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    objects INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    complete INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS objects_insert AFTER INSERT ON objects BEGIN
    UPDATE totals SET objects = objects + 1, bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS objects_delete AFTER DELETE ON objects BEGIN
    UPDATE totals SET objects = objects - 1, bytes = bytes - OLD.size;
END;
-- Only a real change of size touches the totals row: every recorded use sets the size again,
-- and an unconditional trigger was an extra statement per object of a download. A cache made
-- before has the unconditional one, which `Index::open` drops first.
CREATE TRIGGER IF NOT EXISTS objects_resize AFTER UPDATE OF size ON objects
WHEN OLD.size <> NEW.size BEGIN
    UPDATE totals SET bytes = bytes - OLD.size + NEW.size;
END;
";

/// One row of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexedObject {
    pub(crate) key: ObjectKey,
    pub(crate) size: u64,
    pub(crate) last_used: i64,
}

/// What the totals row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) objects: u64,
    pub(crate) bytes: u64,
    pub(crate) complete: bool,
}

#[derive(Debug)]
pub(crate) struct Index {
    database: Database,
}

/// One SQLite database file shared between threads (behind a mutex) and processes (through
/// SQLite's own locking); the index and the stat cache each keep one.
#[derive(Debug)]
pub(crate) struct Database {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl Database {
    /// Opens (creating) the database at `path`; see [`open_database`].
    pub(crate) fn open(
        path: &Path,
        setup: impl Fn(&mut Connection) -> rusqlite::Result<()>,
    ) -> Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            connection: Mutex::new(open_database(path, setup)?),
        })
    }

    /// Runs `run` on the connection; a failure names the database file.
    pub(crate) fn with<T>(
        &self,
        run: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut connection = match self.connection.lock() {
            Ok(connection) => connection,
            Err(poisoned) => poisoned.into_inner(),
        };
        run(&mut connection).map_err(Error::index(&self.path))
    }
}

/// Opens an SQLite database for sharing between processes: WAL journal (readers never block the
/// writer), `synchronous=NORMAL` (a commit is atomic; after a power loss the last commits may be
/// lost, which for a cache summary only means a reconcile), and a generous busy timeout.
///
/// `setup` runs once the database is open (creating tables). Opening is retried while another
/// process holds the database busy in ways SQLite's busy handler does not wait for (switching
/// the journal mode, recovering a WAL), for at most the busy timeout.
fn open_database(
    path: &Path,
    setup: impl Fn(&mut Connection) -> rusqlite::Result<()>,
) -> Result<Connection> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = Connection::open(path).and_then(|mut connection| {
            // Plans independent of bound values, so cached statements are not parsed again at
            // every reuse (rusqlite clears bindings when it caches a statement, which expires
            // one whose plan read a parameter).
            connection.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )?;
            connection.busy_timeout(BUSY_TIMEOUT)?;
            let mode: String =
                connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                connection.pragma_update(None, "journal_mode", "WAL")?;
            }
            connection.pragma_update(None, "synchronous", "NORMAL")?;
            setup(&mut connection)?;
            Ok(connection)
        });
        match attempt {
            Ok(connection) => return Ok(connection),
            Err(error) if is_busy(&error) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(error) => return Err(Error::index(path)(error)),
        }
    }
}

/// How long SQLite waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The index's name for an object: its path under `objects-v1/`, `/`-separated.
fn key_path(key: &ObjectKey) -> String {
    let hex = key.to_hex();
    format!("{}/{}/{}", key.algorithm(), &hex[..2], &hex[2..])
}

fn key_from_path(path: &str) -> Option<ObjectKey> {
    let mut parts = path.split('/');
    let key = ObjectKey::from_parts(parts.next()?, parts.next()?, parts.next()?)?;
    parts.next().is_none().then_some(key)
}

impl Index {
    pub(crate) fn open(path: &Path, objects_dir: &Path) -> Result<Self> {
        // A new index over an empty tree is complete; over existing objects it is not until the
        // first reconcile.
        let empty = tree_is_empty(objects_dir)?;
        let database = Database::open(path, |connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Changing the schema makes every other connection prepare its statements again, so
            // the old trigger goes only where it is still there.
            let trigger: Option<String> = transaction
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'objects_resize'",
                    [],
                    |row| row.get(0),
                )
                .optional()?;
            if trigger.is_some_and(|sql| !sql.contains("WHEN")) {
                transaction.execute_batch("DROP TRIGGER objects_resize;")?;
            }
            transaction.execute_batch(SCHEMA)?;
            transaction.execute(
                "INSERT OR IGNORE INTO totals (id, objects, bytes, complete) VALUES (0, 0, 0, ?1)",
                [empty],
            )?;
            transaction.commit()
        })?;
        Ok(Self { database })
    }

    /// Records objects as present with their size, used at the given time (one transaction).
    pub(crate) fn record(&self, objects: &[(ObjectKey, u64, i64)]) -> Result<()> {
        self.database.with(|connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut statement = transaction.prepare_cached(
                    "INSERT INTO objects (path, size, last_used) VALUES (?1, ?2, ?3)
                     ON CONFLICT (path) DO UPDATE SET size = excluded.size,
                         last_used = max(last_used, excluded.last_used)",
                )?;
                for (key, size, used) in objects {
                    statement.execute(params![key_path(key), to_i64(*size), used])?;
                }
            }
            transaction.commit()
        })
    }

    /// Forgets objects that were removed.
    pub(crate) fn forget(&self, keys: &[ObjectKey]) -> Result<()> {
        self.database.with(|connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut statement =
                    transaction.prepare_cached("DELETE FROM objects WHERE path = ?1")?;
                for key in keys {
                    statement.execute([key_path(key)])?;
                }
            }
            transaction.commit()
        })
    }

    pub(crate) fn totals(&self) -> Result<Totals> {
        self.database.with(|connection| {
            connection.query_row(
                "SELECT objects, bytes, complete FROM totals WHERE id = 0",
                [],
                |row| {
                    Ok(Totals {
                        objects: to_u64(row.get(0)?),
                        bytes: to_u64(row.get(1)?),
                        complete: row.get::<_, i64>(2)? != 0,
                    })
                },
            )
        })
    }

    /// Every indexed object, least recently used first.
    pub(crate) fn by_last_use(&self) -> Result<Vec<IndexedObject>> {
        self.database.with(|connection| {
            let mut statement = connection
                .prepare("SELECT path, size, last_used FROM objects ORDER BY last_used, path")?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    to_u64(row.get(1)?),
                    row.get::<_, i64>(2)?,
                ))
            })?;
            let mut objects = Vec::new();
            for row in rows {
                let (path, size, last_used) = row?;
                // A row the current version cannot parse is ignored, not an error.
                if let Some(key) = key_from_path(&path) {
                    objects.push(IndexedObject {
                        key,
                        size,
                        last_used,
                    });
                }
            }
            Ok(objects)
        })
    }

    /// Makes the index agree with a walk of the tree: objects found on disk but not indexed are
    /// added (last use = their mtime), rows whose object is confirmed gone are dropped. A row
    /// missing from the walk is re-checked with `exists` first, because another process may
    /// have inserted it after the walk passed its directory.
    pub(crate) fn reconcile(
        &self,
        found: &[IndexedObject],
        exists: impl Fn(&ObjectKey) -> bool,
    ) -> Result<()> {
        let on_disk: HashMap<String, &IndexedObject> = found
            .iter()
            .map(|object| (key_path(&object.key), object))
            .collect();
        self.database.with(|connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let indexed: Vec<(String, u64)> = {
                let mut statement = transaction.prepare("SELECT path, size FROM objects")?;
                statement
                    .query_map([], |row| Ok((row.get(0)?, to_u64(row.get(1)?))))?
                    .collect::<rusqlite::Result<_>>()?
            };
            let mut seen = std::collections::HashSet::with_capacity(indexed.len());
            {
                let mut delete = transaction.prepare("DELETE FROM objects WHERE path = ?1")?;
                let mut resize =
                    transaction.prepare("UPDATE objects SET size = ?2 WHERE path = ?1")?;
                for (path, size) in indexed {
                    match on_disk.get(&path) {
                        Some(object) if object.size != size => {
                            resize.execute(params![path, to_i64(object.size)])?;
                        }
                        Some(_) => {}
                        None => {
                            let gone = key_from_path(&path).is_none_or(|key| !exists(&key));
                            if gone {
                                delete.execute([&path])?;
                            }
                        }
                    }
                    seen.insert(path);
                }
                let mut insert = transaction.prepare(
                    "INSERT OR IGNORE INTO objects (path, size, last_used) VALUES (?1, ?2, ?3)",
                )?;
                for (path, object) in &on_disk {
                    if !seen.contains(path) {
                        insert.execute(params![path, to_i64(object.size), object.last_used])?;
                    }
                }
            }
            transaction.execute("UPDATE totals SET complete = 1 WHERE id = 0", [])?;
            transaction.commit()
        })
    }
}

fn tree_is_empty(objects_dir: &Path) -> Result<bool> {
    for algorithm in fs_err::read_dir(objects_dir).map_err(Error::io("list", objects_dir))? {
        let algorithm = algorithm.map_err(Error::io("list", objects_dir))?.path();
        if !algorithm.is_dir() {
            continue;
        }
        for fan_out in fs_err::read_dir(&algorithm).map_err(Error::io("list", &algorithm))? {
            let fan_out = fan_out.map_err(Error::io("list", &algorithm))?.path();
            if fan_out.is_dir()
                && fs_err::read_dir(&fan_out)
                    .map_err(Error::io("list", &fan_out))?
                    .next()
                    .is_some()
            {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index made before: the last-use index goes, the trigger becomes conditional, the
    /// totals stay right, and a second open changes nothing more.
    #[test]
    fn an_older_index_is_brought_up_to_date() -> std::result::Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("index.sqlite");
        let objects = dir.path().join("objects");
        fs_err::create_dir_all(&objects)?;
        {
            let connection = Connection::open(&path)?;
            connection.execute_batch(
                "CREATE TABLE objects (path TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL,
                     last_used INTEGER NOT NULL) WITHOUT ROWID;
                 CREATE INDEX objects_by_last_use ON objects (last_used);
                 CREATE TABLE totals (id INTEGER PRIMARY KEY CHECK (id = 0), objects INTEGER NOT NULL,
                     bytes INTEGER NOT NULL, complete INTEGER NOT NULL);
                 CREATE TRIGGER objects_resize AFTER UPDATE OF size ON objects BEGIN
                     UPDATE totals SET bytes = bytes - OLD.size + NEW.size;
                 END;",
            )?;
        }
        let key = ObjectKey::md5(cairn_hash::md5(b"hello"));
        for round in 0..2 {
            let index = Index::open(&path, &objects)?;
            index.record(&[(key.clone(), 5, round), (key.clone(), 5, round + 10)])?;
            index.record(&[(key.clone(), 7, round + 20)])?;
            let totals = index.totals()?;
            assert_eq!((totals.objects, totals.bytes), (1, 7), "round {round}");
            index.record(&[(key.clone(), 5, round + 30)])?;
        }
        let connection = Connection::open(&path)?;
        let names: Vec<String> = connection
            .prepare("SELECT name FROM sqlite_master WHERE name LIKE 'objects_%' ORDER BY name")?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(
            names,
            ["objects_delete", "objects_insert", "objects_resize"]
        );
        let trigger: String = connection.query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'objects_resize'",
            [],
            |row| row.get(0),
        )?;
        assert!(trigger.contains("WHEN"), "{trigger}");
        Ok(())
    }

    #[test]
    fn key_paths_round_trip() {
        let key = ObjectKey::md5(cairn_hash::md5(b"hello"));
        assert_eq!(key_path(&key), "md5/5d/41402abc4b2a76b9719d911017c592");
        assert_eq!(key_from_path(&key_path(&key)), Some(key));
        let etag = ObjectKey::etag("s3://bucket/a", "etag");
        assert_eq!(key_from_path(&key_path(&etag)), Some(etag));
        assert_eq!(key_from_path("md5/5d"), None);
        assert_eq!(
            key_from_path("md5/5d/41402abc4b2a76b9719d911017c592/x"),
            None
        );
    }

    #[test]
    fn totals_follow_records_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        fs_err::create_dir_all(&objects).unwrap();
        let index = Index::open(&dir.path().join("index.sqlite"), &objects).unwrap();
        let a = ObjectKey::md5(cairn_hash::md5(b"a"));
        let b = ObjectKey::md5(cairn_hash::md5(b"b"));
        index
            .record(&[(a.clone(), 10, 1), (b.clone(), 5, 2)])
            .unwrap();
        index.record(&[(a.clone(), 10, 3)]).unwrap();
        let totals = index.totals().unwrap();
        assert_eq!(
            (totals.objects, totals.bytes, totals.complete),
            (2, 15, true)
        );
        let order: Vec<_> = index
            .by_last_use()
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(order, [b.clone(), a.clone()]);
        index.forget(&[a]).unwrap();
        assert_eq!(index.totals().unwrap().bytes, 5);
    }
}
