//! Runs: creating (or resuming) one, reading it, finishing it, recording the versions it used,
//! and listing what it logged and used. Together with `versions.logged_by` these records are the
//! lineage graph.

use rusqlite::Connection;

use crate::access::{
    Caller, can_read, project_for_read, project_for_write, random_hex, required, version_for_read,
};
use crate::db::projects::ProjectRow;
use crate::db::{runs, versions};
use crate::error::{Error, Kind};
use crate::model::{
    NewRun, ResumeMode, Run, RunArtifacts, RunReport, RunState, RunUpdate, Version, VersionState,
};
use crate::service::Service;
use crate::validate;

fn run_not_found(project: &ProjectRow, run_id: &str) -> Error {
    Error::not_found(format!(
        "run `{run_id}` not found in project `{}`",
        project.path()
    ))
}

impl Service {
    /// Creates a run in `entity/project` or resumes it (per `request.resume`); the answer's
    /// `resumed` says which.
    pub async fn create_run(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        request: NewRun,
    ) -> Result<Run, Error> {
        let caller = required(caller)?.clone();
        let (entity, project) = (entity.to_owned(), project.to_owned());
        let run_id = match &request.id {
            Some(id) => {
                validate::run_id(id)?;
                id.clone()
            }
            None => {
                random_hex(6).map_err(|error| Error::internal(format!("no randomness: {error}")))?
            }
        };
        let job_type = request.job_type.clone();
        if job_type
            .as_deref()
            .is_some_and(|job| job.len() > 128 || job.chars().any(char::is_control))
        {
            return Err(Error::invalid_name(
                "a job type must be at most 128 characters without control characters",
            ));
        }
        self.db()
        .write(move |connection| {
            let project = project_for_write(connection, &caller, &entity, &project)?;
            match (runs::load_run(connection, &project, &run_id)?, request.resume) {
                (Some(_), ResumeMode::Never) => Err(Error::refused(
                    Kind::AlreadyExists,
                    format!(
                        "run `{run_id}` already exists in project `{}`; resume it (resume `allow` or `must`) or pick another id",
                        project.path()
                    ),
                )),
                (Some((id, _)), ResumeMode::Allow | ResumeMode::Must) => {
                    runs::resume_run(connection, id, job_type.as_deref())?;
                    let (_, mut run) = runs::load_run(connection, &project, &run_id)?
                        .ok_or_else(|| run_not_found(&project, &run_id))?;
                    run.resumed = true;
                    Ok(run)
                }
                (None, ResumeMode::Must) => Err(Error::not_found(format!(
                    "run `{run_id}` does not exist in project `{}`, and resume `must` requires it",
                    project.path()
                ))),
                (None, ResumeMode::Never | ResumeMode::Allow) => {
                    runs::insert_run(
                        connection,
                        project.id,
                        &run_id,
                        job_type.as_deref(),
                        caller.user_id,
                    )?;
                    let (_, run) = runs::load_run(connection, &project, &run_id)?
                        .ok_or_else(|| run_not_found(&project, &run_id))?;
                    Ok(run)
                }
            }
        })
        .await
    }

    /// A run of a project the caller may read.
    pub async fn run(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        run_id: &str,
    ) -> Result<Run, Error> {
        let caller = caller.cloned();
        let (entity, project, run_id) = (entity.to_owned(), project.to_owned(), run_id.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                let (_, run) = runs::load_run(connection, &project, &run_id)?
                    .ok_or_else(|| run_not_found(&project, &run_id))?;
                Ok(run)
            })
            .await
    }
}

/// The largest config or summary of a run, as JSON text.
const RUN_JSON_MAX_BYTES: usize = 4 * 1024 * 1024;

fn check_run_json(
    what: &str,
    map: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<(), Error> {
    let Some(map) = map else { return Ok(()) };
    let length = serde_json::to_vec(map)
        .map_err(|error| Error::internal(format!("run {what}: {error}")))?
        .len();
    if length > RUN_JSON_MAX_BYTES {
        return Err(Error::bad_request(format!(
            "the run's {what} is {length} bytes of JSON; at most {RUN_JSON_MAX_BYTES} are kept"
        )));
    }
    Ok(())
}

fn check_text(what: &str, text: Option<&str>, max: usize) -> Result<(), Error> {
    if text.is_some_and(|text| text.len() > max) {
        return Err(Error::bad_request(format!(
            "a run's {what} must be at most {max} bytes"
        )));
    }
    Ok(())
}

impl Service {
    /// Creates the run `run_id` in `entity/project` (created on first use like any write), or
    /// updates it when it exists; answers the run and whether it was created. This is the W&B
    /// protocol's `upsertBucket`: a run is created and later updated through the same call.
    pub async fn upsert_run(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        run_id: Option<&str>,
        update: RunUpdate,
    ) -> Result<(Run, bool), Error> {
        let caller = required(caller)?.clone();
        let run_id = match run_id {
            Some(id) => {
                validate::run_id(id)?;
                id.to_owned()
            }
            None => {
                random_hex(6).map_err(|error| Error::internal(format!("no randomness: {error}")))?
            }
        };
        check_text("job type", update.job_type.as_deref(), 128)?;
        check_text("display name", update.display_name.as_deref(), 1024)?;
        check_text("notes", update.notes.as_deref(), 64 * 1024)?;
        check_run_json("config", update.config.as_ref())?;
        check_run_json("summary", update.summary.as_ref())?;
        let (entity, project) = (entity.to_owned(), project.to_owned());
        self.db()
            .write(move |connection| {
                let project = project_for_write(connection, &caller, &entity, &project)?;
                let inserted = match runs::load_run(connection, &project, &run_id)? {
                    Some(_) => false,
                    None => {
                        runs::insert_run(
                            connection,
                            project.id,
                            &run_id,
                            update.job_type.as_deref(),
                            caller.user_id,
                        )?;
                        true
                    }
                };
                let (id, _) = runs::load_run(connection, &project, &run_id)?
                    .ok_or_else(|| run_not_found(&project, &run_id))?;
                runs::update_run(connection, id, &update)?;
                let (_, run) = runs::load_run(connection, &project, &run_id)?
                    .ok_or_else(|| run_not_found(&project, &run_id))?;
                Ok((run, inserted))
            })
            .await
    }

    /// Records what a running run reports: a heartbeat, a new summary, and when `exit_code` is
    /// there, its end (0 finished, anything else failed).
    pub async fn report_run(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        run_id: &str,
        report: RunReport,
    ) -> Result<Run, Error> {
        let caller = required(caller)?.clone();
        check_run_json("summary", report.summary.as_ref())?;
        let (entity, project, run_id) = (entity.to_owned(), project.to_owned(), run_id.to_owned());
        self.db()
            .write(move |connection| {
                let (project, id) = writable_run(connection, &caller, &entity, &project, &run_id)?;
                runs::heartbeat(connection, id)?;
                if report.summary.is_some() {
                    let update = RunUpdate {
                        summary: report.summary.clone(),
                        ..RunUpdate::default()
                    };
                    runs::update_run(connection, id, &update)?;
                }
                match report.exit_code {
                    Some(exit_code) => finish_in(connection, &project, &run_id, id, exit_code),
                    None => runs::load_run(connection, &project, &run_id)?
                        .map(|(_, run)| run)
                        .ok_or_else(|| run_not_found(&project, &run_id)),
                }
            })
            .await
    }
}

/// Ends run `id`: exit code 0 marks it finished, anything else failed. Answers the run.
fn finish_in(
    connection: &Connection,
    project: &ProjectRow,
    run_id: &str,
    id: i64,
    exit_code: i32,
) -> Result<Run, Error> {
    let state = if exit_code == 0 {
        RunState::Finished
    } else {
        RunState::Failed
    };
    runs::finish_run(connection, id, state, exit_code)?;
    let (_, run) = runs::load_run(connection, project, run_id)?
        .ok_or_else(|| run_not_found(project, run_id))?;
    Ok(run)
}

/// The run of a write request: the project must be writable and the run must exist.
fn writable_run(
    connection: &Connection,
    caller: &Caller,
    entity: &str,
    project: &str,
    run_id: &str,
) -> Result<(ProjectRow, i64), Error> {
    let project = project_for_write(connection, caller, entity, project)?;
    let (id, _) = runs::load_run(connection, &project, run_id)?
        .ok_or_else(|| run_not_found(&project, run_id))?;
    Ok((project, id))
}

impl Service {
    /// Finishes a run: exit code 0 marks it finished, anything else failed.
    pub async fn finish_run(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        run_id: &str,
        exit_code: i32,
    ) -> Result<Run, Error> {
        let caller = required(caller)?.clone();
        let (entity, project, run_id) = (entity.to_owned(), project.to_owned(), run_id.to_owned());
        self.db()
            .write(move |connection| {
                let (project, id) = writable_run(connection, &caller, &entity, &project, &run_id)?;
                finish_in(connection, &project, &run_id, id, exit_code)
            })
            .await
    }

    /// Records that the run used a committed version the caller may read; answers that version.
    pub async fn use_artifact(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        run_id: &str,
        artifact_id: &str,
    ) -> Result<Version, Error> {
        let caller = required(caller)?.clone();
        let (entity, project, run_id) = (entity.to_owned(), project.to_owned(), run_id.to_owned());
        let artifact_id = artifact_id.to_owned();
        self.db()
        .write(move |connection| {
            let (_, id) = writable_run(connection, &caller, &entity, &project, &run_id)?;
            let row = version_for_read(connection, Some(&caller), &artifact_id)?;
            if row.version.state != VersionState::Committed {
                return Err(Error::conflict(format!(
                    "artifact version `{}` is not committed; a run can only use committed versions",
                    artifact_id
                )));
            }
            runs::record_input(connection, id, &artifact_id)?;
            Ok(row.version)
        })
        .await
    }

    /// The committed versions a run logged and used (those the caller may read), newest first.
    pub async fn run_artifacts(
        &self,
        caller: Option<&Caller>,
        entity: &str,
        project: &str,
        run_id: &str,
    ) -> Result<RunArtifacts, Error> {
        let caller = caller.cloned();
        let (entity, project, run_id) = (entity.to_owned(), project.to_owned(), run_id.to_owned());
        self.db()
            .read(move |connection| {
                let project = project_for_read(connection, caller.as_ref(), &entity, &project)?;
                let (id, _) = runs::load_run(connection, &project, &run_id)?
                    .ok_or_else(|| run_not_found(&project, &run_id))?;
                let logged = versions::logged_by_run(connection, id)?
                    .into_iter()
                    .map(|row| row.version)
                    .collect();
                let mut used = Vec::new();
                for row in versions::used_by_run(connection, id)? {
                    if can_read(connection, caller.as_ref(), &row.project)? {
                        used.push(row.version);
                    }
                }
                Ok(RunArtifacts { logged, used })
            })
            .await
    }
}
