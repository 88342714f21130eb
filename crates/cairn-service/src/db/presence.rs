//! Which blobs a version may use without uploading them: the deduplication rule.
//!
//! A blob (MD5, size) of a version's manifest is *present* for that version when its bytes are
//! stored and either
//!
//! * they were received, verified, for this very version (`version_blobs`), or
//! * the caller could already read them: a COMMITTED version of a project the caller may read
//!   lists the same content as an uploaded file.
//!
//! A blob the caller *staged* (sent before any version listed it, `staged_blobs`, within the
//! garbage collector's grace period) is received for a version as soon as the caller's manifest
//! (or part of one) lists it, or the caller asks what is missing or commits: [`adopt_staged`]
//! records it in `version_blobs`. From then on it belongs to the version, whoever commits it and
//! however long that takes, exactly as if it had been uploaded to it.
//!
//! Anything else is *missing*: the caller must send the bytes, and the server verifies them
//! (storing the content once, whoever else holds it). So the `missing` list of a receipt only
//! ever reflects what the caller can read, and committing a version never grants access to
//! bytes its author could not already read. Blob reads follow the same rule: a committed
//! version serves every blob of its manifest (the commit checked them), a pending one only the
//! blobs received for it.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::db::schema::NOW;

use crate::access::Caller;
use crate::db::enums::md5_from_row;
use crate::error::Error;
use crate::model::BlobRef;
use cairn_hash::Md5Digest;

/// The condition "the caller could already read the stored blob `({blob}.md5_hex,
/// {blob}.size)`", over the parameters `?2` (the caller is a server admin), `?3` (the caller's
/// user id) and `?4` (the caller's own entity id): a COMMITTED version of a project they may
/// read lists the content as an uploaded file. The readable-project test is the one of
/// `auth::can_read` for a signed-in caller: public and open projects, the caller's own, their
/// teams', or any for an admin.
fn readable_by_caller(blob: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM entries o JOIN versions v ON v.id = o.version_id \
                 JOIN collections c ON c.id = v.collection_id \
                 JOIN projects p ON p.id = c.project_id \
                 WHERE o.md5_hex = {blob}.md5_hex AND o.size = {blob}.size AND o.ref IS NULL \
                 AND v.state = 'COMMITTED' \
                 AND (p.visibility <> 'private' OR ?2 OR p.entity_id = ?4 \
                      OR p.entity_id IN (SELECT team_id FROM team_members WHERE user_id = ?3)))"
    )
}

/// The condition "user `?3` staged the blob `({blob}.md5_hex, {blob}.size)` after `?5` (the
/// start of the garbage collector's grace period, RFC 3339)".
fn staged_by_caller(blob: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM staged_blobs s WHERE s.user_id = ?3 AND s.staged_at > ?5 \
                 AND s.md5_hex = {blob}.md5_hex AND s.size = {blob}.size)"
    )
}

/// The condition "blob `(e.md5_hex, e.size)` of version `e.version_id` is present" (parameters
/// as in [`readable_by_caller`]): its bytes are stored, and it was received for this version or
/// the caller could already read it.
fn present_sql() -> String {
    format!(
        "EXISTS (SELECT 1 FROM blobs b WHERE b.md5_hex = e.md5_hex AND b.size = e.size) \
         AND (EXISTS (SELECT 1 FROM version_blobs r WHERE r.version_id = e.version_id \
                      AND r.md5_hex = e.md5_hex AND r.size = e.size) \
              OR {})",
        readable_by_caller("e")
    )
}

/// Records as received for version `version_id` every stored blob its manifest (only writer
/// `writer`'s part, when given) lists that `caller` staged after `cutoff` (the start of the
/// grace period): the caller sent those bytes, verified, so the version now holds them as if
/// they had been uploaded to it. Answers how many were recorded.
pub(crate) fn adopt_staged(
    connection: &Connection,
    version_id: &str,
    caller: &Caller,
    writer: Option<&str>,
    cutoff: &str,
) -> Result<u64, Error> {
    // Driven by the caller's few stagings, each looked up in the version's entries by index:
    // a manifest of 500,000 entries is not walked.
    let adopted = connection
        .prepare_cached(
            "INSERT OR IGNORE INTO version_blobs (version_id, md5_hex, size) \
             SELECT ?1, s.md5_hex, s.size FROM staged_blobs s \
             WHERE s.user_id = ?2 AND s.staged_at > ?3 \
             AND EXISTS (SELECT 1 FROM entries e WHERE e.version_id = ?1 \
                         AND e.md5_hex = s.md5_hex AND e.size = s.size AND e.ref IS NULL \
                         AND (?4 IS NULL OR e.writer = ?4)) \
             AND EXISTS (SELECT 1 FROM blobs b WHERE b.md5_hex = s.md5_hex AND b.size = s.size)",
        )?
        .execute(params![version_id, caller.user_id, cutoff, writer])?;
    Ok(adopted as u64)
}

/// The version's (`?1`) file entries whose blob is not present for the caller, by MD5; only
/// those of writer `?5` when it is not NULL (a distributed version's part).
pub(crate) fn missing_sql() -> String {
    format!(
        "SELECT e.md5_hex, e.size FROM entries e WHERE e.version_id = ?1 \
         AND e.md5_hex IS NOT NULL AND e.ref IS NULL AND (?5 IS NULL OR e.writer = ?5) \
         AND NOT ({}) ORDER BY e.md5_hex",
        present_sql()
    )
}

/// The size of file `?2` (hex MD5) in version `?1`'s manifest, if the version may serve it:
/// the bytes are stored, and the version is committed (`?3`) or received them itself.
pub(crate) const SERVABLE_SIZE: &str = "SELECT e.size FROM entries e WHERE e.version_id = ?1 \
     AND e.md5_hex = ?2 AND e.ref IS NULL \
     AND EXISTS (SELECT 1 FROM blobs b WHERE b.md5_hex = e.md5_hex AND b.size = e.size) \
     AND (?3 OR EXISTS (SELECT 1 FROM version_blobs r WHERE r.version_id = e.version_id \
                        AND r.md5_hex = e.md5_hex AND r.size = e.size)) \
     LIMIT 1";

/// The size version `?1`'s manifest gives the uploaded file with MD5 `?2` (hex).
pub(crate) const FILE_SIZE: &str =
    "SELECT size FROM entries WHERE version_id = ?1 AND md5_hex = ?2 AND ref IS NULL LIMIT 1";

/// Calls `found` once for each distinct missing blob of the version, ordered by MD5; returns
/// how many there were.
pub(crate) fn for_each_missing(
    connection: &Connection,
    version_id: &str,
    caller: &Caller,
    writer: Option<&str>,
    mut found: impl FnMut(Md5Digest, u64) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut statement = connection.prepare_cached(&missing_sql())?;
    let mut rows = statement.query(params![
        version_id,
        caller.admin,
        caller.user_id,
        caller.entity_id,
        writer
    ])?;
    // Rows of one MD5 are adjacent; a manifest may list the same content at many paths.
    let mut current: Option<Md5Digest> = None;
    let mut sizes: Vec<u64> = Vec::new();
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let md5 = md5_from_row(row, 0)?;
        let size = u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default();
        if current != Some(md5) {
            current = Some(md5);
            sizes.clear();
        }
        if sizes.contains(&size) {
            continue;
        }
        sizes.push(size);
        found(md5, size)?;
        count += 1;
    }
    Ok(count)
}

/// At most `limit` missing blobs of the version, and how many there are in all.
pub(crate) fn first_missing(
    connection: &Connection,
    version_id: &str,
    caller: &Caller,
    limit: usize,
) -> Result<(Vec<BlobRef>, u64), Error> {
    let mut first = Vec::new();
    let total = for_each_missing(connection, version_id, caller, None, |md5, size| {
        if first.len() < limit {
            first.push(BlobRef { md5, size });
        }
        Ok(())
    })?;
    Ok((first, total))
}

/// The size of blob `md5_hex` of the version, if the version may serve it: its manifest lists
/// the content as an uploaded file, the bytes are stored, and the version is committed or
/// received them itself.
pub(crate) fn servable_size(
    connection: &Connection,
    version_id: &str,
    md5_hex: &str,
    committed: bool,
) -> Result<Option<u64>, Error> {
    let size: Option<i64> = connection
        .prepare_cached(SERVABLE_SIZE)?
        .query_row(params![version_id, md5_hex, committed], |row| row.get(0))
        .optional()?;
    Ok(size.and_then(|size| u64::try_from(size).ok()))
}

/// Records verified blobs as stored (at `location`: `packed` or `store`) and as received for
/// the version, which makes them present for it.
pub(crate) fn record_received(
    connection: &Connection,
    version_id: &str,
    blobs: &[(String, u64, &'static str)],
) -> Result<(), Error> {
    let mut received = connection.prepare_cached(
        "INSERT OR IGNORE INTO version_blobs (version_id, md5_hex, size) VALUES (?1, ?2, ?3)",
    )?;
    for (md5, size, location) in blobs {
        let size = record_stored(connection, md5, *size, location)?;
        received.execute(params![version_id, md5, size])?;
    }
    Ok(())
}

/// Records a verified blob as stored (at `location`: `packed` or `store`) unless it is already;
/// answers its size as the database holds it.
fn record_stored(
    connection: &Connection,
    md5_hex: &str,
    size: u64,
    location: &str,
) -> Result<i64, Error> {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    connection
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO blobs (md5_hex, size, location, created_at) VALUES (?1, ?2, ?3, {NOW})"
        ))?
        .execute(params![md5_hex, size, location])?;
    Ok(size)
}

/// Records a verified blob as stored (at `location`) and as staged by user `user_id` at `now`
/// (the service's clock, which the garbage collector's grace period is counted on); a blob
/// staged again is staged anew. The user's stagings from before `cutoff` (the start of the
/// grace period) are forgotten on the way, so they do not pile up where no collection runs.
pub(crate) fn record_staged(
    connection: &Connection,
    user_id: i64,
    (md5_hex, size, location): (&str, u64, &'static str),
    now: &str,
    cutoff: &str,
) -> Result<(), Error> {
    let size = record_stored(connection, md5_hex, size, location)?;
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO staged_blobs (user_id, md5_hex, size, staged_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![user_id, md5_hex, size, now])?;
    connection
        .prepare_cached("DELETE FROM staged_blobs WHERE user_id = ?1 AND staged_at <= ?2")?
        .execute(params![user_id, cutoff])?;
    Ok(())
}

/// Whether the caller (parameters `?2` to `?4` as in [`readable_by_caller`], `?5` as in
/// [`staged_by_caller`]) may already use a stored blob of size `?1`: they staged it, or could
/// read it. It says only what the caller sent or could learn by reading the manifests they may
/// read, so it reveals nothing about other blobs.
pub(crate) fn known_size_sql() -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM blobs b WHERE b.size = ?1 AND ({} OR {}))",
        staged_by_caller("b"),
        readable_by_caller("b")
    )
}

/// Of `sizes`, those the caller already has a usable blob of (see [`known_size_sql`]).
pub(crate) fn known_sizes(
    connection: &Connection,
    caller: &Caller,
    sizes: &[u64],
    cutoff: &str,
) -> Result<Vec<u64>, Error> {
    let mut statement = connection.prepare_cached(&known_size_sql())?;
    let mut known = Vec::new();
    for &size in sizes {
        let Ok(value) = i64::try_from(size) else {
            continue;
        };
        if statement.query_row(
            params![
                value,
                caller.admin,
                caller.user_id,
                caller.entity_id,
                cutoff
            ],
            |row| row.get::<_, bool>(0),
        )? {
            known.push(size);
        }
    }
    Ok(known)
}

/// The size the version's manifest gives the uploaded file with this MD5 (hex), if it lists one.
pub(crate) fn file_size(
    connection: &Connection,
    version_id: &str,
    md5_hex: &str,
) -> Result<Option<u64>, Error> {
    let size: Option<i64> = connection
        .prepare_cached(FILE_SIZE)?
        .query_row(params![version_id, md5_hex], |row| row.get(0))
        .optional()?;
    Ok(size.and_then(|size| u64::try_from(size).ok()))
}

/// Whether content with MD5 `?5` (hex, any size) is present for version `?1` before its
/// manifest is known (the W&B protocol asks per file before it uploads the manifest): it was
/// received for the version, or a COMMITTED version the caller may read (parameters as in
/// [`readable_by_caller`]) lists it as an uploaded file whose bytes are stored. The commit still
/// checks every (MD5, size) of the manifest with [`present_sql`].
const PRESENT_BY_MD5: &str = "SELECT EXISTS (SELECT 1 FROM version_blobs r WHERE r.version_id = ?1 AND r.md5_hex = ?5) \
     OR EXISTS (SELECT 1 FROM entries o JOIN versions v ON v.id = o.version_id \
                JOIN collections c ON c.id = v.collection_id \
                JOIN projects p ON p.id = c.project_id \
                WHERE o.md5_hex = ?5 AND o.ref IS NULL AND v.state = 'COMMITTED' \
                AND EXISTS (SELECT 1 FROM blobs b WHERE b.md5_hex = o.md5_hex AND b.size = o.size) \
                AND (p.visibility <> 'private' OR ?2 OR p.entity_id = ?4 \
                     OR p.entity_id IN (SELECT team_id FROM team_members WHERE user_id = ?3)))";

/// For each MD5 (hex), whether its content is present for the version (see
/// [`PRESENT_BY_MD5`]).
pub(crate) fn present_by_md5(
    connection: &Connection,
    version_id: &str,
    caller: &Caller,
    md5s: &[String],
) -> Result<Vec<bool>, Error> {
    let mut statement = connection.prepare_cached(PRESENT_BY_MD5)?;
    let mut present = Vec::with_capacity(md5s.len());
    for md5 in md5s {
        present.push(statement.query_row(
            params![
                version_id,
                caller.admin,
                caller.user_id,
                caller.entity_id,
                md5
            ],
            |row| row.get::<_, bool>(0),
        )?);
    }
    Ok(present)
}
