//! The SQL of runs and their inputs (the lineage edges from versions to the runs that used them;
//! the edges to the runs that logged them are `versions.logged_by`).

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::db::enums::TextEnum as _;
use crate::db::projects::ProjectRow;
use crate::db::schema::NOW;
use crate::error::Error;
use crate::model::{Run, RunState, RunUpdate};
use serde_json::{Map, Value};

/// The run `run_id` of the project, with its row id.
pub(crate) fn load_run(
    connection: &Connection,
    project: &ProjectRow,
    run_id: &str,
) -> Result<Option<(i64, Run)>, Error> {
    Ok(connection
        .prepare_cached(
            &format!(
                "SELECT r.id, r.run_id, r.job_type, {STATE}, r.exit_code, u.username, r.created_at, \
                 r.finished_at, r.display_name, r.notes, r.config, r.summary, r.heartbeat_at \
                 FROM runs r JOIN users u ON u.id = r.user_id WHERE r.project_id = ?1 AND r.run_id = ?2"
            ),
        )?
        .query_row(params![project.id, run_id], |row| {
            Ok((
                row.get(0)?,
                Run {
                    id: row.get(1)?,
                    entity: project.entity.clone(),
                    project: project.name.clone(),
                    project_id: project.id,
                    job_type: row.get(2)?,
                    state: RunState::from_row(row, 3)?,
                    exit_code: row.get(4)?,
                    user: row.get(5)?,
                    created_at: row.get(6)?,
                    finished_at: row.get(7)?,
                    resumed: false,
                    display_name: row.get(8)?,
                    notes: row.get(9)?,
                    config: json_object(row, 10)?,
                    summary: json_object(row, 11)?,
                    heartbeat_at: row.get(12)?,
                },
            ))
        })
        .optional()?)
}

/// A run's state as read: a running run that reported heartbeats and then fell silent for
/// longer than [`CRASHED_AFTER`] reads as `crashed`. Runs that never send heartbeats (the
/// native client's) stay `running` until finished.
const STATE: &str = "CASE WHEN r.state = 'running' AND r.heartbeat_at IS NOT NULL \
     AND r.heartbeat_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-300 seconds') \
     THEN 'crashed' ELSE r.state END";

/// How long a run that sends heartbeats may stay silent before it reads as crashed (the
/// seconds in the `STATE` SQL expression).
pub const CRASHED_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// A JSON object stored as text; anything else reads as empty.
fn json_object(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Map<String, Value>> {
    let text: String = row.get(index)?;
    Ok(match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    })
}

/// Applies the present fields of `update` to a run.
pub(crate) fn update_run(
    connection: &Connection,
    id: i64,
    update: &RunUpdate,
) -> Result<(), Error> {
    let text = |map: &Option<Map<String, Value>>| -> Result<Option<String>, Error> {
        map.as_ref()
            .map(|map| {
                serde_json::to_string(map)
                    .map_err(|error| Error::internal(format!("run JSON: {error}")))
            })
            .transpose()
    };
    connection.execute(
        "UPDATE runs SET job_type = COALESCE(?2, job_type), display_name = COALESCE(?3, display_name), \
         notes = COALESCE(?4, notes), config = COALESCE(?5, config), summary = COALESCE(?6, summary) \
         WHERE id = ?1",
        params![
            id,
            update.job_type,
            update.display_name,
            update.notes,
            text(&update.config)?,
            text(&update.summary)?
        ],
    )?;
    Ok(())
}

/// Records a sign of life of a run.
pub(crate) fn heartbeat(connection: &Connection, id: i64) -> Result<(), Error> {
    connection.execute(
        &format!("UPDATE runs SET heartbeat_at = {NOW} WHERE id = ?1"),
        params![id],
    )?;
    Ok(())
}

/// The row id of the run `run_id` of the project.
pub(crate) fn run_row_id(
    connection: &Connection,
    project_id: i64,
    run_id: &str,
) -> Result<Option<i64>, Error> {
    Ok(connection
        .query_row(
            "SELECT id FROM runs WHERE project_id = ?1 AND run_id = ?2",
            params![project_id, run_id],
            |row| row.get(0),
        )
        .optional()?)
}

/// Marks a run running again (resumed), keeping its job type unless a new one is given.
pub(crate) fn resume_run(
    connection: &Connection,
    id: i64,
    job_type: Option<&str>,
) -> Result<(), Error> {
    connection.execute(
        "UPDATE runs SET state = 'running', exit_code = NULL, finished_at = NULL, \
         job_type = COALESCE(?2, job_type) WHERE id = ?1",
        params![id, job_type],
    )?;
    Ok(())
}

/// Creates a running run.
pub(crate) fn insert_run(
    connection: &Connection,
    project_id: i64,
    run_id: &str,
    job_type: Option<&str>,
    user_id: i64,
) -> Result<(), Error> {
    connection.execute(
        &format!(
            "INSERT INTO runs (project_id, run_id, job_type, state, user_id, created_at) \
             VALUES (?1, ?2, ?3, 'running', ?4, {NOW})"
        ),
        params![project_id, run_id, job_type, user_id],
    )?;
    Ok(())
}

/// Finishes a run in `state` with `exit_code`.
pub(crate) fn finish_run(
    connection: &Connection,
    id: i64,
    state: RunState,
    exit_code: i32,
) -> Result<(), Error> {
    connection.execute(
        &format!("UPDATE runs SET state = ?2, exit_code = ?3, finished_at = {NOW} WHERE id = ?1"),
        params![id, state.as_sql(), exit_code],
    )?;
    Ok(())
}

/// Records that a run used a version (once).
pub(crate) fn record_input(
    connection: &Connection,
    run: i64,
    version_id: &str,
) -> Result<(), Error> {
    connection.execute(
        &format!(
            "INSERT OR IGNORE INTO run_inputs (run_id, version_id, used_at) VALUES (?1, ?2, {NOW})"
        ),
        params![run, version_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::{METADATA, migrate};
    use crate::db::{accounts, projects};
    use crate::model::Visibility;

    /// A running run reads as crashed once its heartbeats stop for longer than
    /// [`CRASHED_AFTER`]; one that never sent any stays running; a finished one stays finished.
    #[test]
    fn silent_runs_read_as_crashed() -> Result<(), Box<dyn std::error::Error>> {
        let mut connection = Connection::open_in_memory()?;
        migrate(&mut connection, std::path::Path::new(":memory:"), METADATA)?;
        let user = accounts::insert_user(&connection, "alice", false)?;
        let entity: i64 =
            connection.query_row("SELECT entity_id FROM users WHERE id = ?1", [user], |row| {
                row.get(0)
            })?;
        projects::insert_project(&connection, entity, "p", Visibility::Private)?;
        let project = projects::find_project(&connection, "alice", "p")?.ok_or("no project")?;
        for run in ["quiet", "beating", "silent", "done"] {
            insert_run(&connection, project.id, run, None, user)?;
        }
        let id = |run: &str| run_row_id(&connection, project.id, run);
        heartbeat(&connection, id("beating")?.ok_or("no run")?)?;
        let silent = id("silent")?.ok_or("no run")?;
        let seconds = CRASHED_AFTER.as_secs() + 60;
        connection.execute(
            &format!(
                "UPDATE runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{seconds} seconds') WHERE id = ?1"
            ),
            [silent],
        )?;
        let done = id("done")?.ok_or("no run")?;
        connection.execute(
            "UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1",
            [done],
        )?;
        finish_run(&connection, done, RunState::Finished, 0)?;
        let state = |run: &str| -> Result<RunState, Box<dyn std::error::Error>> {
            Ok(load_run(&connection, &project, run)?
                .ok_or("no run")?
                .1
                .state)
        };
        assert_eq!(state("quiet")?, RunState::Running);
        assert_eq!(state("beating")?, RunState::Running);
        assert_eq!(state("silent")?, RunState::Crashed);
        assert_eq!(state("done")?, RunState::Finished);
        Ok(())
    }
}
