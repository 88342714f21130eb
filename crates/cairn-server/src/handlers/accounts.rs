//! Users, API keys and teams: the viewer, user creation (server admins), new keys (the user or
//! an admin), and teams (any signed-in user creates one and becomes its admin; team admins
//! manage members; the last admin cannot leave or be demoted).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_api::{
    CreateTeam, CreateUser, CreatedApiKey, Role, SetTeamMember, Team, TeamMember, TeamMembership,
    User, Viewer,
};
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::auth::{Auth, Caller, mint_key, role_in};
use crate::db::enums::TextEnum as _;
use crate::db::queries::{EntityKind, find_entity, team_role};
use crate::db::schema::NOW;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, json, ok};
use crate::state::{AppState, add_key, create_user};
use crate::validate;

fn load_user(connection: &Connection, username: &str) -> Result<Option<(i64, User)>, ApiError> {
    Ok(connection
        .prepare_cached("SELECT id, username, admin, created_at FROM users WHERE username = ?1")?
        .query_row([username], |row| {
            Ok((
                row.get(0)?,
                User {
                    username: row.get(1)?,
                    admin: row.get(2)?,
                    created_at: row.get(3)?,
                },
            ))
        })
        .optional()?)
}

/// `GET /api/v1/viewer`.
pub(crate) async fn viewer(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let viewer = state
        .db()
        .read(move |connection| {
            let (_, user) = load_user(connection, &caller.username)?
                .ok_or_else(|| ApiError::internal("the caller's user vanished"))?;
            let mut statement = connection.prepare_cached(
                "SELECT e.name, m.role FROM team_members m JOIN entities e ON e.id = m.team_id \
                 WHERE m.user_id = ?1 ORDER BY e.name",
            )?;
            let teams = statement
                .query_map([caller.user_id], |row| {
                    Ok(TeamMembership {
                        team: row.get(0)?,
                        role: Role::from_row(row, 1)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Viewer { user, teams })
        })
        .await?;
    Ok(ok(&viewer))
}

fn name_taken(name: &str) -> ApiError {
    ApiError::new(
        cairn_api::ErrorCode::AlreadyExists,
        format!("the name `{name}` is already taken by a user or team; pick another"),
    )
}

/// `POST /api/v1/users` (server admins).
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(request): JsonBody<CreateUser>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    if !caller.admin {
        return Err(ApiError::denied(format!(
            "only server admins create users, and `{}` is not one",
            caller.username
        )));
    }
    validate::entity_name(&request.username)?;
    let key = mint_key()?;
    let created = state
        .db()
        .write(move |connection| {
            if find_entity(connection, &request.username)?.is_some() {
                return Err(name_taken(&request.username));
            }
            let user_id = create_user(connection, &request.username, request.admin)?;
            add_key(connection, user_id, &key)?;
            let (_, user) = load_user(connection, &request.username)?
                .ok_or_else(|| ApiError::internal("a user just created is missing"))?;
            Ok(CreatedApiKey {
                user,
                api_key: key.clone(),
            })
        })
        .await?;
    tracing::info!(username = created.user.username, "created user");
    Ok(json(StatusCode::CREATED, &created))
}

/// `POST /api/v1/users/{username}/api-keys` (the user or a server admin).
pub(crate) async fn create_key(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(username): PathParams<String>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    if !caller.admin && caller.username != username {
        return Err(ApiError::denied(format!(
            "`{}` may only create API keys for themselves, not for `{username}`",
            caller.username
        )));
    }
    let key = mint_key()?;
    let created = state
        .db()
        .write(move |connection| {
            let (user_id, user) = load_user(connection, &username)?
                .ok_or_else(|| ApiError::not_found(format!("user `{username}` not found")))?;
            add_key(connection, user_id, &key)?;
            Ok(CreatedApiKey {
                user,
                api_key: key.clone(),
            })
        })
        .await?;
    Ok(json(StatusCode::CREATED, &created))
}

fn load_team(connection: &Connection, team_id: i64, name: &str) -> Result<Team, ApiError> {
    let mut statement = connection.prepare_cached(
        "SELECT u.username, m.role FROM team_members m JOIN users u ON u.id = m.user_id \
         WHERE m.team_id = ?1 ORDER BY u.username",
    )?;
    let members = statement
        .query_map([team_id], |row| {
            Ok(TeamMember {
                username: row.get(0)?,
                role: Role::from_row(row, 1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Team {
        name: name.to_owned(),
        members,
    })
}

/// The team, if the caller may see it (members and server admins); else `not_found`.
fn visible_team(connection: &Connection, caller: &Caller, name: &str) -> Result<i64, ApiError> {
    let not_found =
        || ApiError::not_found(format!("team `{name}` not found (or you are not a member)"));
    let team = find_entity(connection, name)?
        .filter(|entity| entity.kind == EntityKind::Team)
        .ok_or_else(not_found)?;
    if caller.admin || role_in(connection, caller, team.id)?.is_some() {
        Ok(team.id)
    } else {
        Err(not_found())
    }
}

/// The team, if the caller administers it; `permission_denied` for plain members.
fn managed_team(connection: &Connection, caller: &Caller, name: &str) -> Result<i64, ApiError> {
    let team_id = visible_team(connection, caller, name)?;
    if caller.admin || role_in(connection, caller, team_id)? == Some(Role::Admin) {
        Ok(team_id)
    } else {
        Err(ApiError::denied(format!(
            "only admins of team `{name}` manage its members, and `{}` is a member",
            caller.username
        )))
    }
}

/// `POST /api/v1/teams`.
pub(crate) async fn create_team(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(request): JsonBody<CreateTeam>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    validate::entity_name(&request.name)?;
    let team = state
        .db()
        .write(move |connection| {
            if find_entity(connection, &request.name)?.is_some() {
                return Err(name_taken(&request.name));
            }
            connection.execute(
                &format!(
                    "INSERT INTO entities (name, kind, created_at) VALUES (?1, 'team', {NOW})"
                ),
                [&request.name],
            )?;
            let team_id = connection.last_insert_rowid();
            connection.execute(
                "INSERT INTO team_members (team_id, user_id, role) VALUES (?1, ?2, 'admin')",
                params![team_id, caller.user_id],
            )?;
            load_team(connection, team_id, &request.name)
        })
        .await?;
    Ok(json(StatusCode::CREATED, &team))
}

/// `GET /api/v1/teams/{team}`.
pub(crate) async fn get_team(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let team = state
        .db()
        .read(move |connection| {
            let team_id = visible_team(connection, &caller, &name)?;
            load_team(connection, team_id, &name)
        })
        .await?;
    Ok(ok(&team))
}

fn admin_count(connection: &Connection, team_id: i64) -> Result<i64, ApiError> {
    Ok(connection.query_row(
        "SELECT count(*) FROM team_members WHERE team_id = ?1 AND role = 'admin'",
        [team_id],
        |row| row.get(0),
    )?)
}

fn last_admin(team: &str, username: &str) -> ApiError {
    ApiError::conflict(format!(
        "`{username}` is the last admin of team `{team}`; make another member admin first"
    ))
}

/// `PUT /api/v1/teams/{team}/members/{username}` (team admins).
pub(crate) async fn set_member(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((team, username)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<SetTeamMember>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let answer = state
        .db()
        .write(move |connection| {
            let team_id = managed_team(connection, &caller, &team)?;
            let (user_id, _) = load_user(connection, &username)?
                .ok_or_else(|| ApiError::not_found(format!("user `{username}` not found")))?;
            let before = team_role(connection, team_id, user_id)?;
            if before == Some(Role::Admin)
                && request.role != Role::Admin
                && admin_count(connection, team_id)? <= 1
            {
                return Err(last_admin(&team, &username));
            }
            connection.execute(
                "INSERT INTO team_members (team_id, user_id, role) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
                params![team_id, user_id, request.role.as_sql()],
            )?;
            load_team(connection, team_id, &team)
        })
        .await?;
    Ok(ok(&answer))
}

/// `DELETE /api/v1/teams/{team}/members/{username}` (team admins, or members leaving).
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((team, username)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let answer = state
        .db()
        .write(move |connection| {
            let team_id = if caller.username == username {
                visible_team(connection, &caller, &team)?
            } else {
                managed_team(connection, &caller, &team)?
            };
            let not_member =
                || ApiError::not_found(format!("`{username}` is not a member of team `{team}`"));
            let (user_id, _) = load_user(connection, &username)?.ok_or_else(not_member)?;
            let role = team_role(connection, team_id, user_id)?.ok_or_else(not_member)?;
            if role == Role::Admin && admin_count(connection, team_id)? <= 1 {
                return Err(last_admin(&team, &username));
            }
            connection.execute(
                "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2",
                params![team_id, user_id],
            )?;
            load_team(connection, team_id, &team)
        })
        .await?;
    Ok(ok(&answer))
}
