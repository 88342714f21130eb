//! Users and teams: the viewer, user creation (server admins, with the user's first API key;
//! keys themselves are `keys.rs`), and teams (any signed-in user creates one and becomes its admin; team admins
//! manage members; the last admin cannot leave or be demoted).

use rusqlite::Connection;

use crate::access::{Caller, hash_key, mint_key, required, role_in};
use crate::db::enums::EntityKind;
use crate::db::{accounts, keys};
use crate::error::{Error, Kind};
use crate::model::{CreatedApiKey, Role, Team, Viewer};
use crate::service::Service;
use crate::validate;

fn name_taken(name: &str) -> Error {
    Error::refused(
        Kind::AlreadyExists,
        format!("the name `{name}` is already taken by a user or team; pick another"),
    )
}

impl Service {
    /// Who the caller is, with their teams.
    pub async fn viewer(&self, caller: Option<&Caller>) -> Result<Viewer, Error> {
        let caller = required(caller)?.clone();
        self.db()
            .read(move |connection| {
                let (_, user) = accounts::load_user(connection, &caller.username)?
                    .ok_or_else(|| Error::internal("the caller's user vanished"))?;
                let teams = accounts::user_teams(connection, caller.user_id)?;
                Ok(Viewer { user, teams })
            })
            .await
    }

    /// Creates a user (server admins only) and their first API key.
    pub async fn create_user(
        &self,
        caller: Option<&Caller>,
        username: &str,
        admin: bool,
    ) -> Result<CreatedApiKey, Error> {
        let caller = required(caller)?;
        if !caller.admin {
            return Err(Error::denied(format!(
                "only server admins create users, and `{}` is not one",
                caller.username
            )));
        }
        validate::entity_name(username)?;
        let key = mint_key()?;
        let key_id = crate::keys::mint_key_id()?;
        let now = self.clock().now_text();
        let username = username.to_owned();
        let created = self
            .db()
            .write(move |connection| {
                if accounts::find_entity(connection, &username)?.is_some() {
                    return Err(name_taken(&username));
                }
                let user_id = accounts::insert_user(connection, &username, admin)?;
                keys::insert_key(connection, user_id, &hash_key(&key), &key_id, None, None)?;
                let (_, user) = accounts::load_user(connection, &username)?
                    .ok_or_else(|| Error::internal("a user just created is missing"))?;
                let row = keys::key_by_id(connection, &key_id)?
                    .ok_or_else(|| Error::internal("a key just created is missing"))?;
                Ok(CreatedApiKey {
                    user,
                    api_key: key.clone(),
                    key: crate::keys::record(row, &now),
                })
            })
            .await?;
        tracing::info!(username = created.user.username, "created user");
        Ok(created)
    }
}

fn load_team(connection: &Connection, team_id: i64, name: &str) -> Result<Team, Error> {
    Ok(Team {
        name: name.to_owned(),
        members: accounts::team_members(connection, team_id)?,
    })
}

/// The team, if the caller may see it (members and server admins); else `not_found`.
pub(crate) fn visible_team(
    connection: &Connection,
    caller: &Caller,
    name: &str,
) -> Result<i64, Error> {
    let not_found =
        || Error::not_found(format!("team `{name}` not found (or you are not a member)"));
    let team = accounts::find_entity(connection, name)?
        .filter(|entity| entity.kind == EntityKind::Team)
        .ok_or_else(not_found)?;
    if caller.admin || role_in(connection, caller, team.id)?.is_some() {
        Ok(team.id)
    } else {
        Err(not_found())
    }
}

/// The team, if the caller administers it; `permission_denied` for plain members, saying that
/// only admins `action` (`manage its members`).
pub(crate) fn managed_team(
    connection: &Connection,
    caller: &Caller,
    name: &str,
    action: &str,
) -> Result<i64, Error> {
    let team_id = visible_team(connection, caller, name)?;
    if caller.admin || role_in(connection, caller, team_id)? == Some(Role::Admin) {
        Ok(team_id)
    } else {
        Err(Error::denied(format!(
            "only admins of team `{name}` {action}, and `{}` is a member",
            caller.username
        )))
    }
}

impl Service {
    /// Creates a team; the caller becomes its first admin.
    pub async fn create_team(&self, caller: Option<&Caller>, name: &str) -> Result<Team, Error> {
        let caller = required(caller)?.clone();
        validate::entity_name(name)?;
        let name = name.to_owned();
        self.db()
            .write(move |connection| {
                if accounts::find_entity(connection, &name)?.is_some() {
                    return Err(name_taken(&name));
                }
                let team_id = accounts::insert_team(connection, &name, caller.user_id)?;
                load_team(connection, team_id, &name)
            })
            .await
    }

    /// A team the caller belongs to (or any, for server admins).
    pub async fn team(&self, caller: Option<&Caller>, name: &str) -> Result<Team, Error> {
        let caller = required(caller)?.clone();
        let name = name.to_owned();
        self.db()
            .read(move |connection| {
                let team_id = visible_team(connection, &caller, &name)?;
                load_team(connection, team_id, &name)
            })
            .await
    }
}

fn last_admin(team: &str, username: &str) -> Error {
    Error::conflict(format!(
        "`{username}` is the last admin of team `{team}`; make another member admin first"
    ))
}

impl Service {
    /// Adds `username` to the team or changes their role (team admins).
    pub async fn set_team_member(
        &self,
        caller: Option<&Caller>,
        team: &str,
        username: &str,
        role: Role,
    ) -> Result<Team, Error> {
        let caller = required(caller)?.clone();
        let (team, username) = (team.to_owned(), username.to_owned());
        self.db()
            .write(move |connection| {
                let team_id = managed_team(connection, &caller, &team, "manage its members")?;
                let (user_id, _) = accounts::load_user(connection, &username)?
                    .ok_or_else(|| Error::not_found(format!("user `{username}` not found")))?;
                let before = accounts::team_role(connection, team_id, user_id)?;
                if before == Some(Role::Admin)
                    && role != Role::Admin
                    && accounts::admin_count(connection, team_id)? <= 1
                {
                    return Err(last_admin(&team, &username));
                }
                accounts::set_member(connection, team_id, user_id, role)?;
                load_team(connection, team_id, &team)
            })
            .await
    }

    /// Removes `username` from the team (team admins, or members leaving).
    pub async fn remove_team_member(
        &self,
        caller: Option<&Caller>,
        team: &str,
        username: &str,
    ) -> Result<Team, Error> {
        let caller = required(caller)?.clone();
        let (team, username) = (team.to_owned(), username.to_owned());
        self.db()
            .write(move |connection| {
                let team_id = if caller.username == username {
                    visible_team(connection, &caller, &team)?
                } else {
                    managed_team(connection, &caller, &team, "manage its members")?
                };
                let not_member =
                    || Error::not_found(format!("`{username}` is not a member of team `{team}`"));
                let (user_id, _) =
                    accounts::load_user(connection, &username)?.ok_or_else(not_member)?;
                let role =
                    accounts::team_role(connection, team_id, user_id)?.ok_or_else(not_member)?;
                if role == Role::Admin && accounts::admin_count(connection, team_id)? <= 1 {
                    return Err(last_admin(&team, &username));
                }
                accounts::remove_member(connection, team_id, user_id)?;
                load_team(connection, team_id, &team)
            })
            .await
    }
}
