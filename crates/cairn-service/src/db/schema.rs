//! The database schemas and their migrations.
//!
//! `PRAGMA user_version` holds how many migrations a database has had. Opening runs the missing
//! ones in order, each in its own transaction, and refuses a database from a newer server. A
//! migration, once released, never changes: a schema change is a new entry at the end.
//!
//! Timestamps are RFC 3339 UTC text written by SQLite itself (`NOW` below), so they sort as
//! text and need no date library.

use std::path::Path;

use rusqlite::Connection;

use crate::error::OpenError;

/// The SQL for "now" as RFC 3339 UTC with milliseconds.
pub(crate) const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Migrations of the metadata database, `cairn.sqlite`.
pub(crate) const METADATA: &[&str] = &[
    r"
CREATE TABLE entities (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'team')),
    created_at  TEXT NOT NULL
);
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    entity_id   INTEGER NOT NULL UNIQUE REFERENCES entities(id),
    username    TEXT NOT NULL UNIQUE,
    admin       INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE TABLE api_keys (
    key_hash    TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL
);
CREATE TABLE team_members (
    team_id     INTEGER NOT NULL REFERENCES entities(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members(user_id);
CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    entity_id   INTEGER NOT NULL REFERENCES entities(id),
    name        TEXT NOT NULL,
    visibility  TEXT NOT NULL CHECK (visibility IN ('private', 'public', 'open')),
    created_at  TEXT NOT NULL,
    UNIQUE (entity_id, name)
);
CREATE TABLE artifact_types (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id),
    name        TEXT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE collections (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id),
    name        TEXT NOT NULL,
    type_id     INTEGER NOT NULL REFERENCES artifact_types(id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id),
    run_id      TEXT NOT NULL,
    job_type    TEXT,
    state       TEXT NOT NULL CHECK (state IN ('running', 'finished', 'failed')),
    exit_code   INTEGER,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (project_id, run_id)
);
CREATE TABLE versions (
    id                TEXT PRIMARY KEY,
    collection_id     INTEGER NOT NULL REFERENCES collections(id),
    version_index     INTEGER,
    state             TEXT NOT NULL CHECK (state IN ('PENDING', 'COMMITTED', 'DELETED')),
    digest            TEXT NOT NULL,
    size              INTEGER NOT NULL DEFAULT 0,
    file_count        INTEGER NOT NULL DEFAULT 0,
    description       TEXT,
    metadata          TEXT NOT NULL DEFAULT '{}',
    requested_aliases TEXT NOT NULL DEFAULT '[]',
    logged_by         INTEGER REFERENCES runs(id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    committed_at      TEXT,
    UNIQUE (collection_id, version_index)
);
CREATE INDEX versions_by_digest ON versions(collection_id, digest, state);
CREATE INDEX versions_by_run ON versions(logged_by);
CREATE TABLE manifests (
    version_id  TEXT PRIMARY KEY REFERENCES versions(id),
    bytes       BLOB NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE TABLE entries (
    version_id        TEXT NOT NULL REFERENCES versions(id),
    path              TEXT NOT NULL,
    digest            TEXT NOT NULL,
    md5_hex           TEXT,
    size              INTEGER NOT NULL,
    ref               TEXT,
    birth_artifact_id TEXT NOT NULL,
    UNIQUE (version_id, path)
);
-- A rowid table: with `WITHOUT ROWID`, SQLite's planner scans the primary key by
-- `version_id` instead of using this index, which made blob lookups linear in the manifest.
CREATE INDEX entries_by_blob ON entries(version_id, md5_hex);
CREATE TABLE aliases (
    collection_id INTEGER NOT NULL REFERENCES collections(id),
    alias         TEXT NOT NULL,
    version_id    TEXT NOT NULL REFERENCES versions(id),
    PRIMARY KEY (collection_id, alias)
);
CREATE INDEX aliases_by_version ON aliases(version_id);
CREATE TABLE tags (
    version_id  TEXT NOT NULL REFERENCES versions(id),
    tag         TEXT NOT NULL,
    PRIMARY KEY (version_id, tag)
);
CREATE TABLE run_inputs (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    version_id  TEXT NOT NULL REFERENCES versions(id),
    used_at     TEXT NOT NULL,
    PRIMARY KEY (run_id, version_id)
);
CREATE INDEX run_inputs_by_version ON run_inputs(version_id);
CREATE TABLE blobs (
    md5_hex     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    location    TEXT NOT NULL CHECK (location IN ('packed', 'store')),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (md5_hex, size)
) WITHOUT ROWID;
CREATE TABLE entity_blobs (
    entity_id   INTEGER NOT NULL REFERENCES entities(id),
    md5_hex     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    first_version_id TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (entity_id, md5_hex, size)
) WITHOUT ROWID;
",
    r"
-- Deduplication by caller, not by entity: a blob counts as present for a version only when its
-- bytes were received for that version, or the caller could already read them through another
-- committed version. `entity_blobs` granted every writer of an entity's open project the
-- entity's private content, so it goes.
CREATE TABLE version_blobs (
    version_id  TEXT NOT NULL REFERENCES versions(id),
    md5_hex     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    PRIMARY KEY (version_id, md5_hex, size)
) WITHOUT ROWID;
INSERT OR IGNORE INTO version_blobs (version_id, md5_hex, size)
    SELECT b.first_version_id, b.md5_hex, b.size FROM entity_blobs b
    JOIN versions v ON v.id = b.first_version_id WHERE v.state = 'PENDING';
DROP TABLE entity_blobs;
CREATE INDEX entries_by_content ON entries(md5_hex, size);
-- Manifests get their MD5 (the ETag; NULL for old rows until read) and length from the upload,
-- so a download can stream them. `bytes` must stay the last column: only then does SQLite write
-- a `zeroblob` without building it in memory, and the server writes manifests in pieces into
-- a zeroblob of their length.
CREATE TABLE manifests_v2 (
    version_id  TEXT PRIMARY KEY REFERENCES versions(id),
    uploaded_at TEXT NOT NULL,
    md5_hex     TEXT,
    length      INTEGER NOT NULL,
    bytes       BLOB NOT NULL
);
INSERT INTO manifests_v2 (version_id, uploaded_at, md5_hex, length, bytes)
    SELECT version_id, uploaded_at, NULL, length(bytes), bytes FROM manifests;
DROP TABLE manifests;
ALTER TABLE manifests_v2 RENAME TO manifests;
",
    r"
-- What the W&B protocol keeps of a run: its display name, notes, config and summary (JSON
-- object texts) and the last sign of life, which tells a running run from a crashed one.
ALTER TABLE runs ADD COLUMN display_name TEXT;
ALTER TABLE runs ADD COLUMN notes TEXT;
ALTER TABLE runs ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN summary TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
-- Server-wide secrets, such as the key that signs upload and download URLs.
CREATE TABLE secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);
",
    r"
-- Collections get a description, and their versions are listed newest first, by alias too.
ALTER TABLE collections ADD COLUMN description TEXT;
CREATE INDEX versions_by_collection ON versions(collection_id, state, version_index);
",
    r"
-- Distributed versions: several writers upsert parts (patches) of one PENDING version under a
-- distributed id, and finishing it merges them into its manifest. Each entry remembers its
-- writer, so two writers giving one path different contents can be named.
ALTER TABLE versions ADD COLUMN distributed_id TEXT;
CREATE UNIQUE INDEX versions_by_distributed_id ON versions(collection_id, distributed_id)
    WHERE distributed_id IS NOT NULL;
ALTER TABLE entries ADD COLUMN writer TEXT;
CREATE TABLE manifest_patches (
    version_id  TEXT NOT NULL REFERENCES versions(id),
    seq         INTEGER NOT NULL,
    writer      TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    PRIMARY KEY (version_id, seq)
);
",
    r"
-- Registry links: a portfolio is a collection whose members are links to versions logged in
-- other collections. A link keeps its index in the portfolio for ever (an unlinked row stays,
-- marked, so indexes are never reused); a portfolio's aliases live in `aliases` under the
-- portfolio's id and point at the linked version's id.
ALTER TABLE collections ADD COLUMN kind TEXT NOT NULL DEFAULT 'sequence'
    CHECK (kind IN ('sequence', 'portfolio'));
CREATE TABLE links (
    portfolio_id INTEGER NOT NULL REFERENCES collections(id),
    link_index   INTEGER NOT NULL,
    version_id   TEXT NOT NULL REFERENCES versions(id),
    linked_by    INTEGER REFERENCES users(id),
    linked_at    TEXT NOT NULL,
    unlinked_at  TEXT,
    PRIMARY KEY (portfolio_id, link_index)
);
CREATE UNIQUE INDEX live_links ON links(version_id, portfolio_id) WHERE unlinked_at IS NULL;
CREATE INDEX aliases_by_collection_version ON aliases(version_id, collection_id);
-- Aliases that only the project's admins may add or remove, and that keep the version (or
-- link) carrying them from being deleted.
CREATE TABLE protected_aliases (
    project_id INTEGER NOT NULL REFERENCES projects(id),
    alias      TEXT NOT NULL,
    PRIMARY KEY (project_id, alias)
);
",
    r"
-- Retention. A version's TTL is inherited from its entity's default (`inherit`), switched off
-- (`none`, even with a default) or its own (`duration`, `ttl_seconds`), counted from
-- `created_at`. Teams keep a default TTL and who may set TTLs (admins, or admins and members).
ALTER TABLE versions ADD COLUMN ttl_mode TEXT NOT NULL DEFAULT 'inherit'
    CHECK (ttl_mode IN ('inherit', 'none', 'duration'));
ALTER TABLE versions ADD COLUMN ttl_seconds INTEGER;
ALTER TABLE entities ADD COLUMN default_ttl_seconds INTEGER;
ALTER TABLE entities ADD COLUMN ttl_editors TEXT NOT NULL DEFAULT 'admins'
    CHECK (ttl_editors IN ('admins', 'members'));
CREATE INDEX versions_by_state ON versions(state, collection_id);
-- Deleted collections, runs and projects keep their rows (lineage and version numbers stay
-- intact) under a tombstone name no valid name can equal, so the name is free again.
ALTER TABLE collections ADD COLUMN deleted_at TEXT;
ALTER TABLE runs ADD COLUMN deleted_at TEXT;
ALTER TABLE projects ADD COLUMN deleted_at TEXT;
",
    r"
-- API keys get an id to show and revoke them by (existing keys get a random one), an optional
-- name and expiry, and when they were revoked (the row stays, so a revoked key is refused in
-- words rather than as unknown) and last used.
ALTER TABLE api_keys ADD COLUMN id TEXT;
UPDATE api_keys SET id = lower(hex(randomblob(8)));
CREATE UNIQUE INDEX api_keys_by_id ON api_keys(id);
CREATE INDEX api_keys_by_user ON api_keys(user_id);
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN revoked_at TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
",
    r"
-- Garbage collection. A collection first moves each blob it frees from `blobs` to
-- `gc_doomed` (one transaction: from then on nothing counts the blob as stored), then deletes
-- the bytes, then the `gc_doomed` row. A crash in between leaves the row, and the next start
-- finishes the deletion before any upload of that content may store it again.
CREATE TABLE gc_doomed (
    md5_hex     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    location    TEXT NOT NULL CHECK (location IN ('packed', 'store')),
    doomed_at   TEXT NOT NULL,
    PRIMARY KEY (md5_hex, size)
) WITHOUT ROWID;
-- Which versions received a blob, by content: a collection asks this of every stored blob.
CREATE INDEX version_blobs_by_content ON version_blobs(md5_hex, size);
",
    r"
-- Web UI sessions: a browser signs in with an API key and gets a random session token in a
-- cookie. The token is stored as its SHA-256, like keys; a session acts as its key, so revoking
-- or expiring the key ends the session. `csrf` is the token every form of the session carries.
CREATE TABLE ui_sessions (
    token_hash  TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX ui_sessions_by_expiry ON ui_sessions(expires_at);
",
    r"
-- Blobs a user sent before any version listed them (a staged upload: the server hashed the bytes
-- and told the client their MD5, so the client need not hash a large file before sending it).
-- Sending the bytes proves the user holds them, so a staged blob is present for every version
-- that user logs (see `db::presence`) until the row expires with the garbage collector's grace
-- period, which keeps the bytes that long (see `db::gc`).
CREATE TABLE staged_blobs (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    md5_hex     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    staged_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, md5_hex, size)
) WITHOUT ROWID;
CREATE INDEX staged_blobs_by_content ON staged_blobs(md5_hex, size);
CREATE INDEX staged_blobs_by_time ON staged_blobs(staged_at);
-- Which stored blobs have a size: a client asks whether it could already read a blob of a
-- large file's size before it stages that file.
CREATE INDEX blobs_by_size ON blobs(size);
",
];

/// Migrations of the packed small-blob database, `packed.sqlite`.
pub(crate) const PACKED: &[&str] = &[
    r"
CREATE TABLE packed_blobs (
    md5_hex TEXT NOT NULL,
    size    INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (md5_hex, size)
) WITHOUT ROWID;
",
    r"
-- The same rows in a rowid table, found through its (md5_hex, size) index. In the WITHOUT ROWID
-- table a row holding a blob of about 1 KiB or more overflowed its index page, and SQLite reads
-- the whole of an overflowing row to compare it with a key: every lookup read the overflow
-- pages of every row its search passed (half of the server's time serving small blobs). A
-- rowid table keeps rows up to about 4 KiB on their leaf page and the index holds only keys.
CREATE TABLE packed_blobs_by_rowid (
    md5_hex TEXT NOT NULL,
    size    INTEGER NOT NULL,
    data    BLOB NOT NULL,
    UNIQUE (md5_hex, size)
);
INSERT INTO packed_blobs_by_rowid (md5_hex, size, data)
    SELECT md5_hex, size, data FROM packed_blobs;
DROP TABLE packed_blobs;
ALTER TABLE packed_blobs_by_rowid RENAME TO packed_blobs;
",
];

/// Brings the database at `path` up to date with `migrations`.
pub(crate) fn migrate(
    connection: &mut Connection,
    path: &Path,
    migrations: &[&str],
) -> Result<(), OpenError> {
    let database_error = |action| super::database_error(path, action);
    let supported = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    let found: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(database_error("read the schema version of"))?;
    if found > supported {
        return Err(OpenError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    for (index, migration) in migrations.iter().enumerate().skip(found.max(0) as usize) {
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
            .map_err(database_error("migrate"))?;
        transaction
            .execute_batch(migration)
            .map_err(database_error("migrate"))?;
        transaction
            .pragma_update(None, "user_version", index as i64 + 1)
            .map_err(database_error("migrate"))?;
        transaction.commit().map_err(database_error("migrate"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query plans of the per-blob lookups (the real queries, not copies) use the blob
    /// index: a full scan of a version's entries per blob made batch uploads of large manifests
    /// quadratic.
    /// The per-blob lookups, as the service caches and reuses them with new bindings, are not
    /// prepared again at each reuse (see `open_connection`).
    #[test]
    fn cached_lookups_are_prepared_once() -> Result<(), Box<dyn std::error::Error>> {
        use rusqlite::OptionalExtension as _;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cairn.sqlite");
        let mut connection = crate::db::open_connection(&path)?;
        migrate(&mut connection, &path, METADATA)?;
        for query in [
            crate::db::presence::FILE_SIZE,
            crate::db::presence::SERVABLE_SIZE,
        ] {
            for round in 0..4 {
                let mut statement = connection.prepare_cached(query)?;
                let count = statement.parameter_count();
                let md5 = format!("{round:032x}");
                let values: Vec<&dyn rusqlite::ToSql> = [&"v" as &dyn rusqlite::ToSql, &md5, &true]
                    .into_iter()
                    .take(count)
                    .collect();
                let _: Option<i64> = statement
                    .query_row(values.as_slice(), |row| row.get(0))
                    .optional()?;
                assert_eq!(
                    statement.get_status(rusqlite::StatementStatus::RePrepare),
                    0,
                    "{query}, use {round}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn blob_lookups_use_the_index() -> Result<(), Box<dyn std::error::Error>> {
        let mut connection = Connection::open_in_memory()?;
        migrate(&mut connection, Path::new(":memory:"), METADATA)?;
        for query in [
            crate::db::presence::FILE_SIZE.to_owned(),
            crate::db::presence::SERVABLE_SIZE.to_owned(),
            crate::db::presence::missing_sql(),
        ] {
            let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {query}"))?;
            let count = statement.parameter_count();
            let no_writer: Option<String> = None;
            let values: Vec<&dyn rusqlite::ToSql> =
                [&"v" as &dyn rusqlite::ToSql, &"m", &1, &1, &no_writer]
                    .into_iter()
                    .take(count)
                    .collect();
            let plan: Vec<String> = statement
                .query_map(values.as_slice(), |row| row.get(3))?
                .collect::<rusqlite::Result<_>>()?;
            assert!(
                plan.iter().any(|step| step.contains("entries_by_blob")),
                "{query}: {plan:?}"
            );
        }
        // Which sizes a caller knows: by the size index, then by content, never a scan of every
        // blob or entry.
        let query = crate::db::presence::known_size_sql();
        let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {query}"))?;
        let plan: Vec<String> = statement
            .query_map(rusqlite::params![1, false, 1, 1, ""], |row| row.get(3))?
            .collect::<rusqlite::Result<_>>()?;
        assert!(
            plan.iter().any(|step| step.contains("blobs_by_size")),
            "{plan:?}"
        );
        assert!(
            plan.iter()
                .all(|step| !step.starts_with("SCAN") || step == "SCAN CONSTANT ROW"),
            "{plan:?}"
        );
        Ok(())
    }

    /// Packed blobs stored under the first schema are all there after the move to a rowid
    /// table, the key stays unique, and a lookup by key uses the index, not a scan.
    #[test]
    fn packed_blobs_survive_the_move_to_a_rowid_table() -> Result<(), Box<dyn std::error::Error>> {
        let mut connection = Connection::open_in_memory()?;
        migrate(&mut connection, Path::new(":memory:"), &PACKED[..1])?;
        let big = vec![7_u8; 5000];
        connection.execute(
            "INSERT INTO packed_blobs (md5_hex, size, data) VALUES ('aa', 1, x'01'), ('bb', 5000, ?1)",
            [&big],
        )?;
        migrate(&mut connection, Path::new(":memory:"), PACKED)?;
        let read = |md5: &str, size: i64| -> rusqlite::Result<Vec<u8>> {
            connection.query_row(
                "SELECT data FROM packed_blobs WHERE md5_hex = ?1 AND size = ?2",
                rusqlite::params![md5, size],
                |row| row.get(0),
            )
        };
        assert_eq!(read("aa", 1)?, vec![1]);
        assert_eq!(read("bb", 5000)?, big);
        let inserted = connection.execute(
            "INSERT OR IGNORE INTO packed_blobs (md5_hex, size, data) VALUES ('aa', 1, x'02')",
            [],
        )?;
        assert_eq!(inserted, 0, "a stored blob is never replaced");
        let plan: String = connection.query_row(
            "EXPLAIN QUERY PLAN SELECT data FROM packed_blobs WHERE md5_hex = 'aa' AND size = 1",
            [],
            |row| row.get(3),
        )?;
        assert!(plan.contains("USING INDEX"), "{plan}");
        Ok(())
    }

    /// A database of the first schema keeps its manifests (now with their length, `bytes`
    /// last) and the blobs its pending versions had received.
    #[test]
    fn the_second_migration_keeps_manifests_and_received_blobs()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut connection = Connection::open_in_memory()?;
        migrate(&mut connection, Path::new(":memory:"), &METADATA[..1])?;
        connection.execute_batch(
            "INSERT INTO entities (id, name, kind, created_at) VALUES (1, 'e', 'user', 'now');
             INSERT INTO projects (id, entity_id, name, visibility, created_at) VALUES (1, 1, 'p', 'private', 'now');
             INSERT INTO artifact_types (id, project_id, name) VALUES (1, 1, 'dataset');
             INSERT INTO collections (id, project_id, name, type_id, created_at, updated_at) VALUES (1, 1, 'c', 1, 'now', 'now');
             INSERT INTO versions (id, collection_id, state, digest, created_at, updated_at) VALUES ('pending', 1, 'PENDING', 'd', 'now', 'now');
             INSERT INTO versions (id, collection_id, version_index, state, digest, created_at, updated_at) VALUES ('done', 1, 0, 'COMMITTED', 'd', 'now', 'now');
             INSERT INTO manifests (version_id, bytes, uploaded_at) VALUES ('done', x'7b7d', 'now');
             INSERT INTO entity_blobs (entity_id, md5_hex, size, first_version_id, created_at) VALUES (1, 'aa', 1, 'pending', 'now');
             INSERT INTO entity_blobs (entity_id, md5_hex, size, first_version_id, created_at) VALUES (1, 'bb', 2, 'done', 'now');",
        )?;
        migrate(&mut connection, Path::new(":memory:"), METADATA)?;
        let (length, bytes): (i64, Vec<u8>) = connection.query_row(
            "SELECT length, bytes FROM manifests WHERE version_id = 'done'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        assert_eq!((length, bytes), (2, b"{}".to_vec()));
        let received: Vec<String> = connection
            .prepare("SELECT version_id || ':' || md5_hex FROM version_blobs")?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(received, ["pending:aa"]);
        let last: String = connection.query_row(
            "SELECT name FROM pragma_table_info('manifests') ORDER BY cid DESC LIMIT 1",
            [],
            |row| row.get(0),
        )?;
        assert_eq!(last, "bytes");
        Ok(())
    }

    /// Keys stored before keys had ids get a distinct id each, and no name, expiry or
    /// revocation, so they keep working and can be listed and revoked.
    #[test]
    fn existing_api_keys_get_ids() -> Result<(), Box<dyn std::error::Error>> {
        let mut connection = Connection::open_in_memory()?;
        // The database as it was just before the migration that gave keys their ids.
        let before = METADATA
            .iter()
            .position(|migration| migration.contains("ALTER TABLE api_keys ADD COLUMN id"))
            .ok_or("no migration adds key ids")?;
        migrate(&mut connection, Path::new(":memory:"), &METADATA[..before])?;
        connection.execute_batch(
            "INSERT INTO entities (id, name, kind, created_at) VALUES (1, 'u', 'user', 'now');
             INSERT INTO users (id, entity_id, username, created_at) VALUES (1, 1, 'u', 'now');
             INSERT INTO api_keys (key_hash, user_id, created_at) VALUES ('h1', 1, 'now');
             INSERT INTO api_keys (key_hash, user_id, created_at) VALUES ('h2', 1, 'now');",
        )?;
        migrate(&mut connection, Path::new(":memory:"), METADATA)?;
        let rows: Vec<(String, bool)> = connection
            .prepare(
                "SELECT id, name IS NULL AND expires_at IS NULL AND revoked_at IS NULL \
                 FROM api_keys ORDER BY key_hash",
            )?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(rows.len(), 2);
        assert_ne!(rows[0].0, rows[1].0);
        for (id, plain) in &rows {
            assert!(
                id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_hexdigit()),
                "{id}"
            );
            assert!(plain, "{id}: no name, expiry or revocation");
        }
        Ok(())
    }

    #[test]
    fn migrations_are_idempotent_and_refuse_newer_databases()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut connection = Connection::open_in_memory()?;
        migrate(&mut connection, Path::new(":memory:"), METADATA)?;
        migrate(&mut connection, Path::new(":memory:"), METADATA)?;
        connection.pragma_update(None, "user_version", 99)?;
        assert!(matches!(
            migrate(&mut connection, Path::new(":memory:"), METADATA),
            Err(OpenError::SchemaTooNew { found: 99, .. })
        ));
        Ok(())
    }
}
