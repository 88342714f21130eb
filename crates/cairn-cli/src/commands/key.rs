//! `cairn key create|list|revoke`: your API keys (or, for server admins, anyone's). A new key's
//! secret is printed once; listings show ids, names and dates, never secrets.

use cairn_api::{ApiKey, ApiKeyStatus, CreateApiKey};
use cairn_client::Client;
use clap::{Args, Subcommand};

use crate::commands::runtime;

/// `cairn key ...`
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Create an API key and print it (shown this once).
    Create(CreateKeyArgs),
    /// List API keys: ids, names, dates and status, never the secrets.
    List(ListKeysArgs),
    /// Revoke an API key by its id: it, and the signed URLs its requests obtained, stop
    /// working at once.
    Revoke(RevokeKeyArgs),
}

/// Arguments of `cairn key create`.
#[derive(Debug, Args)]
pub(crate) struct CreateKeyArgs {
    /// A name to tell the key by (the machine or job that uses it).
    #[arg(long)]
    name: Option<String>,
    /// How long the key stays valid: a number and a unit, `s`, `m`, `h`, `d`, `w` or `y`
    /// (`30d`, `12h`). Without it the key is valid until revoked.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    expires_in: Option<u64>,
    /// Whose key (server admins); yourself by default.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn key list`.
#[derive(Debug, Args)]
pub(crate) struct ListKeysArgs {
    /// Whose keys (server admins); yours by default.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn key revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeKeyArgs {
    /// The key's id, as `cairn key list` shows it (not the secret).
    key_id: String,
    /// Whose key (server admins); yours by default.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn status(key: &ApiKey) -> &'static str {
    match key.status {
        ApiKeyStatus::Active => "active",
        ApiKeyStatus::Expired => "expired",
        ApiKeyStatus::Revoked => "revoked",
    }
}

/// The user whose keys a command is about: `--user`, else the caller.
async fn whose(client: &Client, user: Option<String>) -> anyhow::Result<String> {
    match user {
        Some(user) => Ok(user),
        None => Ok(client.viewer().await?.user.username),
    }
}

/// Runs a `key` subcommand.
#[expect(clippy::print_stdout, reason = "the command's result")]
pub(crate) fn run(command: KeyCommand) -> anyhow::Result<()> {
    let client = Client::from_env()?;
    runtime()?.block_on(async move {
        match command {
            KeyCommand::Create(args) => {
                let username = whose(&client, args.user).await?;
                let request = CreateApiKey {
                    name: args.name,
                    expires_in_seconds: args.expires_in,
                };
                let created = client.create_api_key_with(&username, &request).await?;
                if args.json {
                    println!("{}", serde_json::to_string(&created)?);
                } else {
                    let expires = created
                        .key
                        .expires_at
                        .as_deref()
                        .map_or_else(|| "never expires".to_owned(), |at| format!("expires {at}"));
                    println!(
                        "created API key `{}` for `{}` ({expires})",
                        created.key.id, created.user.username
                    );
                    println!("API key (shown once): {}", created.api_key);
                }
            }
            KeyCommand::List(args) => {
                let username = whose(&client, args.user).await?;
                let list = client.api_keys(&username).await?;
                if args.json {
                    println!("{}", serde_json::to_string(&list)?);
                } else {
                    println!(
                        "{:<16}  {:<8}  {:<24}  {:<24}  {:<24}  NAME",
                        "ID", "STATUS", "CREATED", "EXPIRES", "LAST USED"
                    );
                    for key in &list.keys {
                        let when = |at: &Option<String>, none: &str| {
                            at.clone().unwrap_or_else(|| none.to_owned())
                        };
                        println!(
                            "{:<16}  {:<8}  {:<24}  {:<24}  {:<24}  {}",
                            key.id,
                            status(key),
                            key.created_at,
                            when(&key.expires_at, "never"),
                            when(&key.last_used_at, "never"),
                            key.name.as_deref().unwrap_or("")
                        );
                    }
                }
            }
            KeyCommand::Revoke(args) => {
                let username = whose(&client, args.user).await?;
                let key = client.revoke_api_key(&username, &args.key_id).await?;
                if args.json {
                    println!("{}", serde_json::to_string(&key)?);
                } else {
                    println!(
                        "revoked API key `{}` of `{username}` on {}",
                        key.id,
                        key.revoked_at.as_deref().unwrap_or("?")
                    );
                }
            }
        }
        Ok(())
    })
}
