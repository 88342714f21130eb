//! The SQL of registry links (a portfolio's members), their aliases, and protected aliases.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::db::projects::{ProjectRow, project_by_id};
use crate::db::schema::NOW;
use crate::db::versions::VersionRow;
use crate::error::Error;
use crate::model::VersionSource;

/// A live link: the version, its index in the portfolio and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkRow {
    pub(crate) version_id: String,
    pub(crate) index: u64,
    pub(crate) linked_at: String,
}

fn link_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LinkRow> {
    let index: i64 = row.get(1)?;
    Ok(LinkRow {
        version_id: row.get(0)?,
        index: u64::try_from(index).unwrap_or_default(),
        linked_at: row.get(2)?,
    })
}

/// Live links whose version is committed, by a `WHERE` clause over `l` (and `v`).
const LIVE: &str = "SELECT l.version_id, l.link_index, l.linked_at FROM links l \
     JOIN versions v ON v.id = l.version_id \
     WHERE l.unlinked_at IS NULL AND v.state = 'COMMITTED'";

/// The live link of `version_id` in the portfolio, if any.
pub(crate) fn live_link(
    connection: &Connection,
    portfolio_id: i64,
    version_id: &str,
) -> Result<Option<LinkRow>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "{LIVE} AND l.portfolio_id = ?1 AND l.version_id = ?2"
        ))?
        .query_row(params![portfolio_id, version_id], link_from_row)
        .optional()?)
}

/// The live link with index `index` of the portfolio.
pub(crate) fn link_by_index(
    connection: &Connection,
    portfolio_id: i64,
    index: i64,
) -> Result<Option<LinkRow>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "{LIVE} AND l.portfolio_id = ?1 AND l.link_index = ?2"
        ))?
        .query_row(params![portfolio_id, index], link_from_row)
        .optional()?)
}

/// The live link the portfolio's alias points at.
pub(crate) fn link_by_alias(
    connection: &Connection,
    portfolio_id: i64,
    alias: &str,
) -> Result<Option<LinkRow>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "{LIVE} AND l.portfolio_id = ?1 AND l.version_id = \
             (SELECT a.version_id FROM aliases a WHERE a.collection_id = ?1 AND a.alias = ?2)"
        ))?
        .query_row(params![portfolio_id, alias], link_from_row)
        .optional()?)
}

/// The newest live link of a portfolio with this artifact digest.
pub(crate) fn link_by_digest(
    connection: &Connection,
    portfolio_id: i64,
    digest: &str,
) -> Result<Option<LinkRow>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "{LIVE} AND l.portfolio_id = ?1 AND v.digest = ?2 ORDER BY l.link_index DESC LIMIT 1"
        ))?
        .query_row(params![portfolio_id, digest], link_from_row)
        .optional()?)
}

/// The newest live link of a portfolio.
pub(crate) fn newest_link(
    connection: &Connection,
    portfolio_id: i64,
) -> Result<Option<LinkRow>, Error> {
    Ok(connection
        .prepare_cached(&format!(
            "{LIVE} AND l.portfolio_id = ?1 ORDER BY l.link_index DESC LIMIT 1"
        ))?
        .query_row([portfolio_id], link_from_row)
        .optional()?)
}

/// A page of a portfolio's live links, newest first: those older than `before`, at most
/// `limit`, only the one `alias` points at when given; and how many match in all.
pub(crate) fn link_page(
    connection: &Connection,
    portfolio_id: i64,
    alias: Option<&str>,
    before: Option<u64>,
    limit: usize,
) -> Result<(Vec<LinkRow>, u64), Error> {
    const MATCHES: &str = "AND l.portfolio_id = ?1 AND (?2 IS NULL OR EXISTS (SELECT 1 FROM aliases a \
         WHERE a.collection_id = l.portfolio_id AND a.alias = ?2 AND a.version_id = l.version_id))";
    let before = before.and_then(|index| i64::try_from(index).ok());
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let total: i64 = connection
        .prepare_cached(&format!("SELECT count(*) FROM ({LIVE} {MATCHES})"))?
        .query_row(params![portfolio_id, alias], |row| row.get(0))?;
    let mut statement = connection.prepare_cached(&format!(
        "{LIVE} {MATCHES} AND (?3 IS NULL OR l.link_index < ?3) ORDER BY l.link_index DESC LIMIT ?4"
    ))?;
    let rows = statement
        .query_map(params![portfolio_id, alias, before, limit], link_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, u64::try_from(total).unwrap_or_default()))
}

/// The portfolios (ids) a version is live-linked into, with the links, oldest link first.
pub(crate) fn links_of_version(
    connection: &Connection,
    version_id: &str,
) -> Result<Vec<(i64, LinkRow)>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT l.portfolio_id, l.version_id, l.link_index, l.linked_at FROM links l \
         WHERE l.version_id = ?1 AND l.unlinked_at IS NULL ORDER BY l.linked_at, l.portfolio_id",
    )?;
    let rows = statement
        .query_map([version_id], |row| {
            let index: i64 = row.get(2)?;
            Ok((
                row.get(0)?,
                LinkRow {
                    version_id: row.get(1)?,
                    index: u64::try_from(index).unwrap_or_default(),
                    linked_at: row.get(3)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The projects of the portfolios a version is live-linked into.
pub(crate) fn linking_projects(
    connection: &Connection,
    version_id: &str,
) -> Result<Vec<ProjectRow>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT DISTINCT c.project_id FROM links l JOIN collections c ON c.id = l.portfolio_id \
         WHERE l.version_id = ?1 AND l.unlinked_at IS NULL",
    )?;
    let ids = statement
        .query_map([version_id], |row| row.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids.into_iter()
        .map(|id| project_by_id(connection, id))
        .collect()
}

/// Links a version into a portfolio with the next index (indexes are never reused).
pub(crate) fn insert_link(
    connection: &Connection,
    portfolio_id: i64,
    version_id: &str,
    user_id: i64,
) -> Result<u64, Error> {
    let index: i64 = connection.query_row(
        "SELECT COALESCE(MAX(link_index) + 1, 0) FROM links WHERE portfolio_id = ?1",
        [portfolio_id],
        |row| row.get(0),
    )?;
    connection.execute(
        &format!(
            "INSERT INTO links (portfolio_id, link_index, version_id, linked_by, linked_at) \
             VALUES (?1, ?2, ?3, ?4, {NOW})"
        ),
        params![portfolio_id, index, version_id, user_id],
    )?;
    Ok(u64::try_from(index).unwrap_or_default())
}

/// Ends a live link and drops its aliases in the portfolio.
pub(crate) fn mark_unlinked(
    connection: &Connection,
    portfolio_id: i64,
    version_id: &str,
) -> Result<(), Error> {
    connection.execute(
        &format!(
            "UPDATE links SET unlinked_at = {NOW} WHERE portfolio_id = ?1 AND version_id = ?2 \
             AND unlinked_at IS NULL"
        ),
        params![portfolio_id, version_id],
    )?;
    connection.execute(
        "DELETE FROM aliases WHERE collection_id = ?1 AND version_id = ?2",
        params![portfolio_id, version_id],
    )?;
    Ok(())
}

/// The aliases of `version_id` in collection `collection_id`, sorted.
pub(crate) fn aliases_in(
    connection: &Connection,
    collection_id: i64,
    version_id: &str,
) -> Result<Vec<String>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT alias FROM aliases WHERE version_id = ?1 AND collection_id = ?2 ORDER BY alias",
    )?;
    let aliases = statement
        .query_map(params![version_id, collection_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(aliases)
}

/// The version as seen through the portfolio `portfolio_id` (named `portfolio`, in `project`),
/// by its live `link`.
pub(crate) fn through(
    connection: &Connection,
    mut row: VersionRow,
    project: &ProjectRow,
    portfolio_id: i64,
    portfolio: &str,
    link: &LinkRow,
) -> Result<VersionRow, Error> {
    let aliases = aliases_in(connection, portfolio_id, &row.version.id)?;
    let version = &mut row.version;
    version.source = Some(VersionSource {
        entity: std::mem::replace(&mut version.entity, project.entity.clone()),
        project: std::mem::replace(&mut version.project, project.name.clone()),
        project_id: std::mem::replace(&mut version.project_id, project.id),
        collection_id: std::mem::replace(&mut version.collection_id, portfolio_id),
        collection: std::mem::replace(&mut version.collection, portfolio.to_owned()),
        version_index: version.version_index.replace(link.index),
        aliases: std::mem::replace(&mut version.aliases, aliases),
        linked_at: link.linked_at.clone(),
    });
    Ok(row)
}

/// The aliases declared protected in a project, sorted.
pub(crate) fn protected_aliases(
    connection: &Connection,
    project_id: i64,
) -> Result<Vec<String>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT alias FROM protected_aliases WHERE project_id = ?1 ORDER BY alias",
    )?;
    let aliases = statement
        .query_map([project_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(aliases)
}

/// Declares aliases protected in a project, or no longer protected.
pub(crate) fn set_protected(
    connection: &Connection,
    project_id: i64,
    add: &[String],
    remove: &[String],
) -> Result<(), Error> {
    let mut insert = connection.prepare_cached(
        "INSERT OR IGNORE INTO protected_aliases (project_id, alias) VALUES (?1, ?2)",
    )?;
    for alias in add {
        insert.execute(params![project_id, alias])?;
    }
    let mut delete = connection
        .prepare_cached("DELETE FROM protected_aliases WHERE project_id = ?1 AND alias = ?2")?;
    for alias in remove {
        delete.execute(params![project_id, alias])?;
    }
    Ok(())
}

/// A protected alias `version_id` carries, in its own collection or any portfolio it is
/// linked into (only in `collection_id` when given): the alias, the collection's id and the
/// id of the project that protects it.
pub(crate) fn protected_alias_on(
    connection: &Connection,
    version_id: &str,
    collection_id: Option<i64>,
) -> Result<Option<(String, i64, i64)>, Error> {
    Ok(connection
        .prepare_cached(
            "SELECT a.alias, a.collection_id, c.project_id FROM aliases a \
             JOIN collections c ON c.id = a.collection_id \
             JOIN protected_aliases p ON p.project_id = c.project_id AND p.alias = a.alias \
             WHERE a.version_id = ?1 AND (?2 IS NULL OR a.collection_id = ?2) \
             ORDER BY a.alias LIMIT 1",
        )?
        .query_row(params![version_id, collection_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?)
}
