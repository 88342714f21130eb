//! The SQL of garbage collection: which stored blobs no live version references (and since
//! when), taking them out of `blobs` into `gc_doomed` before their bytes go, and the storage
//! that live versions account for per entity and project.
//!
//! A version *references* a blob (MD5, size) when its entries list that content or the blob
//! was received for it (`version_blobs`: the W&B protocol uploads files before the manifest).
//! A version is *live* unless it is DELETED; PENDING versions are live, they are being
//! uploaded. A blob is *collectable* at `cutoff` when it was first stored at or before
//! `cutoff` and every version that references it is DELETED and was last changed (deleted) at
//! or before `cutoff`: the grace period runs from the blob's last reference.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::error::Error;

/// A stored blob no live version references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreferenced {
    pub(crate) md5_hex: String,
    pub(crate) size: u64,
    /// `packed` or `store`.
    pub(crate) location: String,
    /// When it stopped being referenced: its first storing, or the last change (deletion) of a
    /// version that referenced it, whichever is later.
    pub(crate) since: String,
}

/// A blob (MD5 hex, size) with where it lives (`packed` or `store`).
pub(crate) type Located = (String, u64, String);

/// Live references of blob `(?1, ?2)`: entries of versions, and blobs received for them.
/// Reference entries have no `md5_hex`, so they never match.
const NO_LIVE_REFERENCE: &str = "NOT EXISTS (SELECT 1 FROM entries e JOIN versions v ON v.id = e.version_id \
                WHERE e.md5_hex = b.md5_hex AND e.size = b.size AND v.state <> 'DELETED') \
     AND NOT EXISTS (SELECT 1 FROM version_blobs r JOIN versions v ON v.id = r.version_id \
                WHERE r.md5_hex = b.md5_hex AND r.size = b.size AND v.state <> 'DELETED')";

fn size_of(size: i64) -> u64 {
    u64::try_from(size).unwrap_or_default()
}

fn size_param(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// At most `limit` stored blobs after `(md5_hex, size)` in key order that no live version
/// references, with the time since which that holds.
pub(crate) fn unreferenced_after(
    connection: &Connection,
    after: Option<&(String, u64)>,
    limit: usize,
) -> Result<Vec<Unreferenced>, Error> {
    let (md5_hex, size) = after.map_or((String::new(), -1), |(md5_hex, size)| {
        (md5_hex.clone(), size_param(*size))
    });
    let mut statement = connection.prepare_cached(&format!(
        "SELECT b.md5_hex, b.size, b.location, max(b.created_at, \
             COALESCE((SELECT max(v.updated_at) FROM entries e JOIN versions v ON v.id = e.version_id \
                       WHERE e.md5_hex = b.md5_hex AND e.size = b.size), ''), \
             COALESCE((SELECT max(v.updated_at) FROM version_blobs r JOIN versions v ON v.id = r.version_id \
                       WHERE r.md5_hex = b.md5_hex AND r.size = b.size), ''), \
             COALESCE((SELECT max(s.staged_at) FROM staged_blobs s \
                       WHERE s.md5_hex = b.md5_hex AND s.size = b.size), '')) \
         FROM blobs b WHERE (b.md5_hex, b.size) > (?1, ?2) AND {NO_LIVE_REFERENCE} \
         ORDER BY b.md5_hex, b.size LIMIT ?3"
    ))?;
    let rows = statement.query_map(
        params![md5_hex, size, i64::try_from(limit).unwrap_or(i64::MAX)],
        |row| {
            Ok(Unreferenced {
                md5_hex: row.get(0)?,
                size: size_of(row.get(1)?),
                location: row.get(2)?,
                since: row.get(3)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Takes the blobs of `keys` that are still collectable at `cutoff` out of `blobs` and into
/// `gc_doomed` (stamped `now`), in the caller's transaction; answers those it took. From the
/// commit of that transaction on, no version can find these blobs present, so a commit that
/// needs one refuses with `missing_blobs` and the client uploads it again.
pub(crate) fn doom(
    connection: &Connection,
    keys: &[(String, u64)],
    cutoff: &str,
    now: &str,
) -> Result<Vec<Located>, Error> {
    let mut check = connection.prepare_cached(
        "SELECT b.location FROM blobs b WHERE b.md5_hex = ?1 AND b.size = ?2 AND b.created_at <= ?3 \
         AND NOT EXISTS (SELECT 1 FROM entries e JOIN versions v ON v.id = e.version_id \
                WHERE e.md5_hex = b.md5_hex AND e.size = b.size \
                AND (v.state <> 'DELETED' OR v.updated_at > ?3)) \
         AND NOT EXISTS (SELECT 1 FROM version_blobs r JOIN versions v ON v.id = r.version_id \
                WHERE r.md5_hex = b.md5_hex AND r.size = b.size \
                AND (v.state <> 'DELETED' OR v.updated_at > ?3)) \
         AND NOT EXISTS (SELECT 1 FROM staged_blobs s \
                WHERE s.md5_hex = b.md5_hex AND s.size = b.size AND s.staged_at > ?3)",
    )?;
    let mut insert = connection.prepare_cached(
        "INSERT OR REPLACE INTO gc_doomed (md5_hex, size, location, doomed_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut delete =
        connection.prepare_cached("DELETE FROM blobs WHERE md5_hex = ?1 AND size = ?2")?;
    let mut doomed = Vec::new();
    for (md5_hex, size) in keys {
        let size_value = size_param(*size);
        let location: Option<String> = check
            .query_row(params![md5_hex, size_value, cutoff], |row| row.get(0))
            .optional()?;
        if let Some(location) = location {
            insert.execute(params![md5_hex, size_value, location, now])?;
            delete.execute(params![md5_hex, size_value])?;
            doomed.push((md5_hex.clone(), *size, location));
        }
    }
    Ok(doomed)
}

/// Forgets staged uploads made at or before `cutoff`: from then on their blobs are present
/// for a version only as any other stored blob is. Answers how many were forgotten.
pub(crate) fn expire_staged(connection: &Connection, cutoff: &str) -> Result<u64, Error> {
    let expired = connection
        .prepare_cached("DELETE FROM staged_blobs WHERE staged_at <= ?1")?
        .execute(params![cutoff])?;
    Ok(expired as u64)
}

/// Of `candidates`, the blobs the metadata does not record at all (neither stored nor
/// doomed): bytes an interrupted upload left behind.
pub(crate) fn unrecorded(
    connection: &Connection,
    candidates: &[Located],
) -> Result<Vec<Located>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM blobs WHERE md5_hex = ?1 AND size = ?2) \
             OR EXISTS (SELECT 1 FROM gc_doomed WHERE md5_hex = ?1 AND size = ?2)",
    )?;
    let mut found = Vec::new();
    for candidate in candidates {
        let recorded: bool = statement
            .query_row(params![candidate.0, size_param(candidate.1)], |row| {
                row.get(0)
            })?;
        if !recorded {
            found.push(candidate.clone());
        }
    }
    Ok(found)
}

/// [`unrecorded`] in the caller's transaction, recording those still unrecorded in
/// `gc_doomed` (stamped `now`) so that their deletion resumes after a crash; answers them.
pub(crate) fn doom_unrecorded(
    connection: &Connection,
    candidates: &[Located],
    now: &str,
) -> Result<Vec<Located>, Error> {
    let found = unrecorded(connection, candidates)?;
    let mut insert = connection.prepare_cached(
        "INSERT OR REPLACE INTO gc_doomed (md5_hex, size, location, doomed_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (md5_hex, size, location) in &found {
        insert.execute(params![md5_hex, size_param(*size), location, now])?;
    }
    Ok(found)
}

/// Every blob a collection took out of `blobs` whose bytes may still exist.
pub(crate) fn doomed(connection: &Connection) -> Result<Vec<Located>, Error> {
    let mut statement = connection
        .prepare_cached("SELECT md5_hex, size, location FROM gc_doomed ORDER BY md5_hex, size")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get(0)?, size_of(row.get(1)?), row.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Forgets doomed blobs whose bytes are gone.
pub(crate) fn forget_doomed(connection: &Connection, keys: &[(String, u64)]) -> Result<(), Error> {
    let mut statement =
        connection.prepare_cached("DELETE FROM gc_doomed WHERE md5_hex = ?1 AND size = ?2")?;
    for (md5_hex, size) in keys {
        statement.execute(params![md5_hex, size_param(*size)])?;
    }
    Ok(())
}

/// How many blobs are recorded as stored, and their bytes.
pub(crate) fn stored_totals(connection: &Connection) -> Result<(u64, u64), Error> {
    Ok(connection
        .prepare_cached("SELECT count(*), COALESCE(sum(size), 0) FROM blobs")?
        .query_row([], |row| Ok((size_of(row.get(0)?), size_of(row.get(1)?))))?)
}

/// Storage accounted to some projects or entities: distinct stored blobs their live versions
/// reference, their bytes, and the live versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) blobs: u64,
    pub(crate) bytes: u64,
    pub(crate) live_versions: u64,
}

/// `(group, md5_hex, size)` of the stored blobs live versions reference, where `group` is
/// `GROUP` (a column of `projects p`) and `FILTER` (a condition on `p`) narrows the projects.
fn live_blobs(group: &str, filter: &str) -> String {
    format!(
        "SELECT {group} AS owner, e.md5_hex AS md5_hex, e.size AS size FROM entries e \
             JOIN versions v ON v.id = e.version_id JOIN collections c ON c.id = v.collection_id \
             JOIN projects p ON p.id = c.project_id \
             WHERE v.state <> 'DELETED' AND e.md5_hex IS NOT NULL AND e.ref IS NULL AND {filter} \
         UNION \
         SELECT {group}, r.md5_hex, r.size FROM version_blobs r \
             JOIN versions v ON v.id = r.version_id JOIN collections c ON c.id = v.collection_id \
             JOIN projects p ON p.id = c.project_id \
             WHERE v.state <> 'DELETED' AND {filter}"
    )
}

/// Totals per `group` (`p.id` or `p.entity_id`) over the projects `filter` selects, with
/// `parameters` bound to the filter's `?1`.
fn totals_by(
    connection: &Connection,
    group: &str,
    filter: &str,
    parameter: Option<i64>,
) -> Result<Vec<(i64, Totals)>, Error> {
    let blobs = live_blobs(group, filter);
    let sql = format!(
        "WITH live AS ({blobs}), \
         stored AS (SELECT owner, count(*) AS blobs, sum(size) AS bytes FROM live \
                    WHERE EXISTS (SELECT 1 FROM blobs b WHERE b.md5_hex = live.md5_hex AND b.size = live.size) \
                    GROUP BY owner), \
         versions_live AS (SELECT {group} AS owner, count(*) AS count FROM versions v \
                    JOIN collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id \
                    WHERE v.state <> 'DELETED' AND {filter} GROUP BY owner) \
         SELECT o.owner, COALESCE(s.blobs, 0), COALESCE(s.bytes, 0), COALESCE(l.count, 0) \
         FROM (SELECT owner FROM stored UNION SELECT owner FROM versions_live) o \
         LEFT JOIN stored s ON s.owner = o.owner LEFT JOIN versions_live l ON l.owner = o.owner"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let map = |row: &rusqlite::Row<'_>| {
        Ok((
            row.get::<_, i64>(0)?,
            Totals {
                blobs: size_of(row.get(1)?),
                bytes: size_of(row.get(2)?),
                live_versions: size_of(row.get(3)?),
            },
        ))
    };
    let rows = match parameter {
        Some(value) => statement.query_map([value], map)?,
        None => statement.query_map([], map)?,
    };
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The storage of one project.
pub(crate) fn project_totals(connection: &Connection, project_id: i64) -> Result<Totals, Error> {
    Ok(
        totals_by(connection, "p.id", "p.id = ?1", Some(project_id))?
            .into_iter()
            .next()
            .map(|(_, totals)| totals)
            .unwrap_or_default(),
    )
}

/// The storage of one entity (blobs shared by its projects count once).
pub(crate) fn entity_totals(connection: &Connection, entity_id: i64) -> Result<Totals, Error> {
    Ok(totals_by(
        connection,
        "p.entity_id",
        "p.entity_id = ?1",
        Some(entity_id),
    )?
    .into_iter()
    .next()
    .map(|(_, totals)| totals)
    .unwrap_or_default())
}

/// The storage of every project and entity that has live versions or stored blobs, as
/// `(entity name, project name or None for the entity's total, totals)`, sorted by name.
pub(crate) fn all_totals(
    connection: &Connection,
) -> Result<Vec<(String, Option<String>, Totals)>, Error> {
    let by_project = totals_by(connection, "p.id", "1", None)?;
    let by_entity = totals_by(connection, "p.entity_id", "1", None)?;
    let mut names = connection.prepare_cached(
        "SELECT e.name, p.name FROM projects p JOIN entities e ON e.id = p.entity_id WHERE p.id = ?1",
    )?;
    let mut entity_name = connection.prepare_cached("SELECT name FROM entities WHERE id = ?1")?;
    let mut all = Vec::with_capacity(by_project.len() + by_entity.len());
    for (entity_id, totals) in by_entity {
        let name: String = entity_name.query_row([entity_id], |row| row.get(0))?;
        all.push((name, None, totals));
    }
    for (project_id, totals) in by_project {
        let (entity, project): (String, String) =
            names.query_row([project_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        all.push((entity, Some(project), totals));
    }
    all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(all)
}
