//! `cairn user create` and `cairn team ...`: accounts and teams, for server admins and team
//! admins.

use cairn_api::Role;
use cairn_client::Client;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::commands::runtime;

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
