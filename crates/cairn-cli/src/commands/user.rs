//! `cairn user create` and `cairn team ...`: accounts and teams, for server admins and team
//! admins.

use cairn_api::{Role, TeamSettings, TtlEditors, TtlSetting, UpdateTeamSettings};
use cairn_client::Client;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::commands::{UsageError, runtime};

/// `cairn user ...`
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user and print their first API key (server admins only).
    Create(CreateUserArgs),
    /// Mint another API key for a user (the user themselves or a server admin).
    Key(UserKeyArgs),
    /// Show who the current API key belongs to.
    Whoami {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `cairn user create`.
#[derive(Debug, Args)]
pub(crate) struct CreateUserArgs {
    /// The user name: lowercase letters, digits, `-` and `_`.
    username: String,
    /// Make the user a server admin.
    #[arg(long)]
    admin: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn user key`.
#[derive(Debug, Args)]
pub(crate) struct UserKeyArgs {
    /// The user name.
    username: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `cairn team ...`
#[derive(Debug, Subcommand)]
pub(crate) enum TeamCommand {
    /// Create a team; you become its admin.
    Create {
        /// The team name (an entity name, like a user name).
        name: String,
    },
    /// Add a member or change their role (team admins only).
    Add {
        /// The team.
        team: String,
        /// The user.
        username: String,
        /// The role to give.
        #[arg(long, value_enum, default_value = "member")]
        role: RoleArg,
    },
    /// Remove a member (team admins only).
    Remove {
        /// The team.
        team: String,
        /// The user.
        username: String,
    },
    /// Show or set the TTL versions inherit (team admins): `30d`, `12h`, ... or `none`.
    DefaultTtl {
        /// The team.
        team: String,
        /// The new default; shows the settings when absent.
        ttl: Option<String>,
    },
    /// Choose who may set or change TTLs in the team (team admins).
    TtlPermissions {
        /// The team.
        team: String,
        /// `admins` (only), or `members` (admins and members).
        #[arg(value_enum)]
        who: TtlEditorsArg,
    },
}

/// Who may set TTLs, on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum TtlEditorsArg {
    /// Team admins only.
    Admins,
    /// Team admins and members.
    Members,
}

/// A team role on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// Manages members and reads and writes every project.
    Admin,
    /// Reads and writes the team's projects.
    Member,
}

/// Runs a `user` subcommand.
#[expect(clippy::print_stdout, reason = "the command's result")]
pub(crate) fn run_user(command: UserCommand) -> anyhow::Result<()> {
    let client = Client::from_env()?;
    runtime()?.block_on(async move {
        match command {
            UserCommand::Create(args) => {
                let created = client.create_user(&args.username, args.admin).await?;
                if args.json {
                    println!(
                        "{}",
                        json!({"username": created.user.username, "admin": created.user.admin, "api_key": created.api_key})
                    );
                } else {
                    println!(
                        "created user `{}`; API key (shown once): {}",
                        created.user.username, created.api_key
                    );
                }
            }
            UserCommand::Key(args) => {
                let created = client.create_api_key(&args.username).await?;
                if args.json {
                    println!(
                        "{}",
                        json!({"username": created.user.username, "api_key": created.api_key})
                    );
                } else {
                    println!(
                        "new API key for `{}` (shown once): {}",
                        created.user.username, created.api_key
                    );
                }
            }
            UserCommand::Whoami { json } => {
                let viewer = client.viewer().await?;
                if json {
                    println!("{}", serde_json::to_string(&viewer)?);
                } else {
                    let teams: Vec<String> = viewer
                        .teams
                        .iter()
                        .map(|membership| format!("{} ({:?})", membership.team, membership.role))
                        .collect();
                    let admin = if viewer.user.admin { " (server admin)" } else { "" };
                    println!("{}{admin}", viewer.user.username);
                    if !teams.is_empty() {
                        println!("teams: {}", teams.join(", ").to_lowercase());
                    }
                }
            }
        }
        Ok(())
    })
}

/// Prints a team's retention settings.
#[expect(clippy::print_stdout, reason = "the command's result")]
fn print_settings(team: &str, settings: &TeamSettings) {
    let ttl = settings
        .default_ttl_seconds
        .map_or_else(|| "none".to_owned(), |seconds| format!("{seconds} s"));
    let who = match settings.ttl_editors {
        TtlEditors::Admins => "admins",
        TtlEditors::Members => "admins and members",
    };
    println!("team `{team}`: default TTL {ttl}; TTLs are set by {who}");
}

/// Runs a `team` subcommand.
#[expect(clippy::print_stdout, reason = "the command's result")]
pub(crate) fn run_team(command: TeamCommand) -> anyhow::Result<()> {
    let client = Client::from_env()?;
    runtime()?.block_on(async move {
        match command {
            TeamCommand::Create { name } => {
                let team = client.create_team(&name).await?;
                println!("created team `{}`; you are its admin", team.name);
            }
            TeamCommand::Add {
                team,
                username,
                role,
            } => {
                let role = match role {
                    RoleArg::Admin => Role::Admin,
                    RoleArg::Member => Role::Member,
                };
                client.set_team_member(&team, &username, role).await?;
                println!("`{username}` is now a {role:?} of `{team}`", role = role);
            }
            TeamCommand::Remove { team, username } => {
                client.remove_team_member(&team, &username).await?;
                println!("removed `{username}` from `{team}`");
            }
            TeamCommand::DefaultTtl { team, ttl: None } => {
                print_settings(&team, &client.team_settings(&team).await?);
            }
            TeamCommand::DefaultTtl {
                team,
                ttl: Some(ttl),
            } => {
                let default_ttl = if ttl == "none" {
                    TtlSetting::None
                } else {
                    TtlSetting::Seconds(super::parse_duration(&ttl).map_err(UsageError::new)?)
                };
                let edit = UpdateTeamSettings {
                    default_ttl: Some(default_ttl),
                    ttl_editors: None,
                };
                print_settings(&team, &client.update_team_settings(&team, &edit).await?);
            }
            TeamCommand::TtlPermissions { team, who } => {
                let edit = UpdateTeamSettings {
                    default_ttl: None,
                    ttl_editors: Some(match who {
                        TtlEditorsArg::Admins => TtlEditors::Admins,
                        TtlEditorsArg::Members => TtlEditors::Members,
                    }),
                };
                print_settings(&team, &client.update_team_settings(&team, &edit).await?);
            }
        }
        Ok(())
    })
}

/// `cairn project ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ProjectCommand {
    /// Create a project or change who may read and write it (owner or team admins).
    Set {
        /// `entity/project`.
        project: String,
        /// `private` (members only), `public` (everyone reads), `open` (every user writes).
        #[arg(long, value_enum)]
        visibility: VisibilityArg,
    },
    /// Delete a project: its versions, links and runs (admins of its entity); frees the name.
    Delete {
        /// `entity/project`.
        project: String,
    },
}

/// A project visibility on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum VisibilityArg {
    /// Only the owner or the team's members read and write.
    Private,
    /// Everyone reads; members write.
    Public,
    /// Everyone reads; every signed-in user writes.
    Open,
}

/// Runs a `project` subcommand.
#[expect(clippy::print_stdout, reason = "the command's result")]
pub(crate) fn run_project(command: ProjectCommand) -> anyhow::Result<()> {
    let client = Client::from_env()?;
    runtime()?.block_on(async move {
        match command {
            ProjectCommand::Delete { project } => {
                let Some((entity, name)) = project.split_once('/') else {
                    return Err(crate::commands::UsageError::new(format!(
                        "`{project}` is not `entity/project`"
                    ))
                    .into());
                };
                let deletion = cairn_client::Api::new(client.clone())
                    .delete_project(entity, name)
                    .await?;
                println!(
                    "deleted project `{project}`: {} version(s), {} link(s)",
                    deletion.versions_deleted, deletion.links_removed
                );
            }
            ProjectCommand::Set {
                project,
                visibility,
            } => {
                let Some((entity, name)) = project.split_once('/') else {
                    return Err(crate::commands::UsageError::new(format!(
                        "`{project}` is not `entity/project`"
                    ))
                    .into());
                };
                let visibility = match visibility {
                    VisibilityArg::Private => cairn_api::Visibility::Private,
                    VisibilityArg::Public => cairn_api::Visibility::Public,
                    VisibilityArg::Open => cairn_api::Visibility::Open,
                };
                let project = client.upsert_project(entity, name, visibility).await?;
                println!(
                    "{}/{} is {:?}",
                    project.entity, project.name, project.visibility
                );
            }
        }
        Ok(())
    })
}
