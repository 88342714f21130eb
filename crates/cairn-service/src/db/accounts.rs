//! The SQL of accounts: entities, users, teams and their members (API keys: `db::keys`).

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::access::Caller;
use crate::db::enums::{EntityKind, TextEnum as _};
use crate::db::schema::NOW;
use crate::error::Error;
use crate::model::{Role, TeamMember, TeamMembership, User};

/// A row of `entities`.
#[derive(Debug, Clone)]
pub(crate) struct EntityRow {
    pub(crate) id: i64,
    pub(crate) kind: EntityKind,
}

/// The entity (user or team) called `name`.
pub(crate) fn find_entity(connection: &Connection, name: &str) -> Result<Option<EntityRow>, Error> {
    Ok(connection
        .prepare_cached("SELECT id, kind FROM entities WHERE name = ?1")?
        .query_row([name], |row| {
            Ok(EntityRow {
                id: row.get(0)?,
                kind: EntityKind::from_row(row, 1)?,
            })
        })
        .optional()?)
}

/// The user called `username`, with their id.
pub(crate) fn load_user(
    connection: &Connection,
    username: &str,
) -> Result<Option<(i64, User)>, Error> {
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

/// The teams a user belongs to, by name.
pub(crate) fn user_teams(
    connection: &Connection,
    user_id: i64,
) -> Result<Vec<TeamMembership>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT e.name, m.role FROM team_members m JOIN entities e ON e.id = m.team_id \
         WHERE m.user_id = ?1 ORDER BY e.name",
    )?;
    let teams = statement
        .query_map([user_id], |row| {
            Ok(TeamMembership {
                team: row.get(0)?,
                role: Role::from_row(row, 1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(teams)
}

/// Creates a user and its entity; returns the user id.
pub(crate) fn insert_user(
    connection: &Connection,
    username: &str,
    admin: bool,
) -> Result<i64, Error> {
    connection.execute(
        &format!("INSERT INTO entities (name, kind, created_at) VALUES (?1, 'user', {NOW})"),
        [username],
    )?;
    let entity_id = connection.last_insert_rowid();
    connection.execute(
        &format!(
            "INSERT INTO users (entity_id, username, admin, created_at) VALUES (?1, ?2, ?3, {NOW})"
        ),
        params![entity_id, username, admin],
    )?;
    Ok(connection.last_insert_rowid())
}

/// A caller from the columns `id, entity_id, username, admin` of `users`.
fn caller_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Caller> {
    Ok(Caller {
        user_id: row.get(0)?,
        entity_id: row.get(1)?,
        username: row.get(2)?,
        admin: row.get(3)?,
        key_id: None,
    })
}

/// The user with this row id, as a caller.
pub(crate) fn caller_by_user_id(
    connection: &Connection,
    user_id: i64,
) -> Result<Option<Caller>, Error> {
    Ok(connection
        .prepare_cached("SELECT id, entity_id, username, admin FROM users WHERE id = ?1")?
        .query_row([user_id], caller_from_row)
        .optional()?)
}

/// How many users there are.
pub(crate) fn user_count(connection: &Connection) -> Result<i64, Error> {
    Ok(connection.query_row("SELECT count(*) FROM users", [], |row| row.get(0))?)
}

/// The user called `preferred` if it exists, else the first server admin.
pub(crate) fn admin_user_id(connection: &Connection, preferred: &str) -> Result<i64, Error> {
    let named: Option<i64> = connection
        .query_row(
            "SELECT id FROM users WHERE username = ?1",
            [preferred],
            |row| row.get(0),
        )
        .optional()?;
    match named {
        Some(id) => Ok(id),
        None => Ok(connection.query_row(
            "SELECT id FROM users WHERE admin = 1 ORDER BY id LIMIT 1",
            [],
            |row| row.get(0),
        )?),
    }
}

/// Creates a team with `admin_user_id` as its first admin; returns the team's entity id.
pub(crate) fn insert_team(
    connection: &Connection,
    name: &str,
    admin_user_id: i64,
) -> Result<i64, Error> {
    connection.execute(
        &format!("INSERT INTO entities (name, kind, created_at) VALUES (?1, 'team', {NOW})"),
        [name],
    )?;
    let team_id = connection.last_insert_rowid();
    connection.execute(
        "INSERT INTO team_members (team_id, user_id, role) VALUES (?1, ?2, 'admin')",
        params![team_id, admin_user_id],
    )?;
    Ok(team_id)
}

/// The members of a team, by user name.
pub(crate) fn team_members(
    connection: &Connection,
    team_id: i64,
) -> Result<Vec<TeamMember>, Error> {
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
    Ok(members)
}

/// The user's role in the team, if a member.
pub(crate) fn team_role(
    connection: &Connection,
    team_id: i64,
    user_id: i64,
) -> Result<Option<Role>, Error> {
    Ok(connection
        .prepare_cached("SELECT role FROM team_members WHERE team_id = ?1 AND user_id = ?2")?
        .query_row([team_id, user_id], |row| Role::from_row(row, 0))
        .optional()?)
}

/// How many admins a team has.
pub(crate) fn admin_count(connection: &Connection, team_id: i64) -> Result<i64, Error> {
    Ok(connection.query_row(
        "SELECT count(*) FROM team_members WHERE team_id = ?1 AND role = 'admin'",
        [team_id],
        |row| row.get(0),
    )?)
}

/// Adds the user to the team with `role`, or changes their role.
pub(crate) fn set_member(
    connection: &Connection,
    team_id: i64,
    user_id: i64,
    role: Role,
) -> Result<(), Error> {
    connection.execute(
        "INSERT INTO team_members (team_id, user_id, role) VALUES (?1, ?2, ?3) \
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
        params![team_id, user_id, role.as_sql()],
    )?;
    Ok(())
}

/// Removes the user from the team.
pub(crate) fn remove_member(
    connection: &Connection,
    team_id: i64,
    user_id: i64,
) -> Result<(), Error> {
    connection.execute(
        "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2",
        params![team_id, user_id],
    )?;
    Ok(())
}
