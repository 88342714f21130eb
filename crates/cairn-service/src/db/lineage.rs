//! The SQL of the lineage graph: the few columns a graph node needs, and each node's neighbours
//! (a version's logging run and using runs, a run's input and output versions), all by index.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::db::enums::TextEnum as _;
use crate::error::Error;
use crate::model::{RunState, VersionState};

/// A version as a graph node.
pub(crate) struct VersionNodeRow {
    pub(crate) project_id: i64,
    pub(crate) collection: String,
    pub(crate) artifact_type: String,
    pub(crate) version_index: Option<i64>,
    pub(crate) state: VersionState,
    pub(crate) logged_by: Option<i64>,
}

/// A run as a graph node.
pub(crate) struct RunNodeRow {
    pub(crate) project_id: i64,
    pub(crate) run_id: String,
    pub(crate) state: RunState,
    pub(crate) job_type: Option<String>,
}

pub(crate) fn version_node(
    connection: &Connection,
    id: &str,
) -> Result<Option<VersionNodeRow>, Error> {
    Ok(connection
        .prepare_cached(
            "SELECT c.project_id, c.name, t.name, v.version_index, v.state, v.logged_by \
             FROM versions v JOIN collections c ON c.id = v.collection_id \
             JOIN artifact_types t ON t.id = c.type_id WHERE v.id = ?1",
        )?
        .query_row([id], |row| {
            Ok(VersionNodeRow {
                project_id: row.get(0)?,
                collection: row.get(1)?,
                artifact_type: row.get(2)?,
                version_index: row.get(3)?,
                state: VersionState::from_row(row, 4)?,
                logged_by: row.get(5)?,
            })
        })
        .optional()?)
}

pub(crate) fn run_node(connection: &Connection, run: i64) -> Result<Option<RunNodeRow>, Error> {
    Ok(connection
        .prepare_cached(
            "SELECT project_id, run_id, state, job_type FROM runs WHERE id = ?1 \
             AND deleted_at IS NULL",
        )?
        .query_row([run], |row| {
            Ok(RunNodeRow {
                project_id: row.get(0)?,
                run_id: row.get(1)?,
                state: RunState::from_row(row, 2)?,
                job_type: row.get(3)?,
            })
        })
        .optional()?)
}

/// The runs (row ids) that used a version, in the order they did.
pub(crate) fn users_of(connection: &Connection, version_id: &str) -> Result<Vec<i64>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT run_id FROM run_inputs WHERE version_id = ?1 ORDER BY used_at, run_id",
    )?;
    let rows = statement.query_map([version_id], |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The versions a run used, in the order it did.
pub(crate) fn inputs_of(connection: &Connection, run: i64) -> Result<Vec<String>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT version_id FROM run_inputs WHERE run_id = ?1 ORDER BY used_at, version_id",
    )?;
    let rows = statement.query_map(params![run], |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The committed versions a run logged, oldest first.
pub(crate) fn outputs_of(connection: &Connection, run: i64) -> Result<Vec<String>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT id FROM versions WHERE logged_by = ?1 AND state = 'COMMITTED' \
         ORDER BY committed_at, id",
    )?;
    let rows = statement.query_map(params![run], |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
