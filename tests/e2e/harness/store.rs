//! Reading a server's data directory directly, to check the invariant every crash must keep: no
//! COMMITTED version refers to a blob the server does not hold.
//!
//! The metadata lives in `cairn.sqlite` (`versions` with their `state`, `entries` with each
//! file's `md5_hex` and `size`); small blobs are rows of `packed_blobs` in `packed.sqlite`, large
//! ones are files `blobs/<aa>/<md5hex>-<size>` (the local blob store). Both databases are opened
//! read-only, so this also works while the server runs.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use rusqlite::{Connection, OpenFlags};

/// What [`check_committed_blobs`] looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreReport {
    /// COMMITTED versions.
    pub(crate) committed_versions: u64,
    /// Distinct blobs they refer to, all present.
    pub(crate) blobs: u64,
}

/// Fails if a COMMITTED version in `data_dir` refers to a blob that is neither packed nor a file.
pub(crate) fn check_committed_blobs(data_dir: &Path) -> Result<StoreReport> {
    let metadata = open(&data_dir.join("cairn.sqlite"))?;
    let committed_versions: i64 = metadata
        .query_row(
            "SELECT COUNT(*) FROM versions WHERE state = 'COMMITTED'",
            [],
            |row| row.get(0),
        )
        .context("cannot count the committed versions in `cairn.sqlite`")?;
    let mut statement = metadata.prepare(
        "SELECT DISTINCT e.md5_hex, e.size FROM entries e JOIN versions v ON v.id = e.version_id \
         WHERE v.state = 'COMMITTED' AND e.md5_hex IS NOT NULL",
    )?;
    let blobs = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<BTreeSet<_>>>()
        .context("cannot read the entries of committed versions from `cairn.sqlite`")?;
    let packed_path = data_dir.join("packed.sqlite");
    let packed = if packed_path.is_file() {
        Some(open(&packed_path)?)
    } else {
        None
    };
    let mut missing = Vec::new();
    for (md5_hex, size) in &blobs {
        let size = u64::try_from(*size).unwrap_or(u64::MAX);
        if !is_packed(packed.as_ref(), md5_hex, size)? && !is_file(data_dir, md5_hex, size)? {
            missing.push(format!("{md5_hex} ({size} bytes)"));
        }
    }
    ensure!(
        missing.is_empty(),
        "committed versions in `{}` refer to {} blob(s) the server does not hold: {missing:?}",
        data_dir.display(),
        missing.len()
    );
    Ok(StoreReport {
        committed_versions: u64::try_from(committed_versions).unwrap_or_default(),
        blobs: blobs.len() as u64,
    })
}

/// Fails unless every blob a live (not DELETED) version needs is held and whole: each file
/// entry of a COMMITTED version and each blob received for a PENDING one is read back, packed
/// or from the blob store, and hashed again. Returns how many distinct blobs were re-hashed.
pub(crate) fn check_live_blobs_rehashed(data_dir: &Path) -> Result<u64> {
    let metadata = open(&data_dir.join("cairn.sqlite"))?;
    let mut statement = metadata.prepare(
        "SELECT e.md5_hex, e.size FROM entries e JOIN versions v ON v.id = e.version_id \
         WHERE v.state = 'COMMITTED' AND e.md5_hex IS NOT NULL AND e.ref IS NULL \
         UNION SELECT r.md5_hex, r.size FROM version_blobs r JOIN versions v ON v.id = r.version_id \
         WHERE v.state = 'PENDING'",
    )?;
    let blobs = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<BTreeSet<_>>>()
        .context("cannot read the blobs of live versions from `cairn.sqlite`")?;
    let packed_path = data_dir.join("packed.sqlite");
    let packed = if packed_path.is_file() {
        Some(open(&packed_path)?)
    } else {
        None
    };
    let mut bad = Vec::new();
    for (md5_hex, size) in &blobs {
        let content = match read_packed(packed.as_ref(), md5_hex, *size)? {
            Some(content) => Some(content),
            None => {
                let path = data_dir
                    .join("blobs")
                    .join(md5_hex.get(..2).unwrap_or_default())
                    .join(format!("{md5_hex}-{size}"));
                match fs_err::read(&path) {
                    Ok(content) => Some(content),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                    Err(error) => return Err(error.into()),
                }
            }
        };
        match content {
            None => bad.push(format!("{md5_hex} ({size} bytes): missing")),
            Some(content) => {
                let actual = cairn_hash::md5(&content).to_hex();
                if actual != *md5_hex || i64::try_from(content.len()).ok() != Some(*size) {
                    bad.push(format!(
                        "{md5_hex} ({size} bytes): holds {} bytes hashing to {actual}",
                        content.len()
                    ));
                }
            }
        }
    }
    ensure!(
        bad.is_empty(),
        "live versions in `{}` need {} blob(s) the server does not hold whole: {bad:?}",
        data_dir.display(),
        bad.len()
    );
    Ok(blobs.len() as u64)
}

fn read_packed(packed: Option<&Connection>, md5_hex: &str, size: i64) -> Result<Option<Vec<u8>>> {
    let Some(packed) = packed else {
        return Ok(None);
    };
    packed
        .query_row(
            "SELECT data FROM packed_blobs WHERE md5_hex = ?1 AND size = ?2",
            rusqlite::params![md5_hex, size],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|error| match error {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })
        .context("cannot read a blob from `packed.sqlite`")
}

fn open(path: &Path) -> Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open `{}` read-only", path.display()))
}

fn is_packed(packed: Option<&Connection>, md5_hex: &str, size: u64) -> Result<bool> {
    let Some(packed) = packed else {
        return Ok(false);
    };
    let found: Option<i64> = packed
        .query_row(
            "SELECT length(data) FROM packed_blobs WHERE md5_hex = ?1 AND size = ?2",
            rusqlite::params![md5_hex, i64::try_from(size).unwrap_or(i64::MAX)],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|error| match error {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })
        .context("cannot look a blob up in `packed.sqlite`")?;
    Ok(found.and_then(|length| u64::try_from(length).ok()) == Some(size))
}

fn is_file(data_dir: &Path, md5_hex: &str, size: u64) -> Result<bool> {
    let path = data_dir
        .join("blobs")
        .join(md5_hex.get(..2).unwrap_or_default())
        .join(format!("{md5_hex}-{size}"));
    match fs_err::metadata(&path) {
        Ok(metadata) => Ok(metadata.is_file() && metadata.len() == size),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Fails unless every file in the local blob store is whole: a file `<md5hex>-<size>` has
/// `size` bytes whose MD5 is `md5hex`. A crash may leave debris in `tmp/`, never here. Returns
/// how many blob files there are.
pub(crate) fn check_blob_files(data_dir: &Path) -> Result<u64> {
    let mut count = 0;
    let mut stack = vec![data_dir.join("blobs")];
    while let Some(dir) = stack.pop() {
        if !dir.is_dir() {
            continue;
        }
        // A restarted server finishes an interrupted collection while this runs: a directory
        // may go between the check above and the listing (then it held no blob).
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error.into()),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((md5_hex, size)) = name.rsplit_once('-') else {
                anyhow::bail!("`{}` is not named `<md5hex>-<size>`", path.display());
            };
            let content = match fs_err::read(&path) {
                Ok(content) => content,
                // Collected between the listing and the read: gone whole, not partial.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            };
            ensure!(
                size.parse::<usize>().ok() == Some(content.len()),
                "`{}` has {} bytes: a partial blob is visible in the blob store",
                path.display(),
                content.len()
            );
            let actual = cairn_hash::md5(&content).to_hex();
            ensure!(
                actual == md5_hex,
                "`{}` holds content with MD5 {actual}: a torn blob is visible in the blob store",
                path.display()
            );
            count += 1;
        }
    }
    Ok(count)
}
