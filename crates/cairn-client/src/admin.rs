//! Accounts, teams and project settings: what server admins, team admins and project owners do
//! besides logging and using artifacts.

use cairn_api::{
    ApiKey, ApiKeyList, CollectGarbage, CreateApiKey, CreateTeam, CreateUser, CreatedApiKey,
    GarbageReport, Project, Role, SetTeamMember, Storage, SweepReport, Team, TeamSettings,
    UpdateTeamSettings, UpsertProject, Visibility, routes,
};
use reqwest::Method;

use crate::{Client, Result};

impl Client {
    /// Creates a user and mints their first API key (server admins only). The key is shown
    /// this once; the server keeps only its hash.
    pub async fn create_user(&self, username: &str, admin: bool) -> Result<CreatedApiKey> {
        let body = CreateUser {
            username: username.to_owned(),
            admin,
        };
        self.send_json(Method::POST, routes::USERS, &body).await
    }

    /// Mints another API key for `username` (the user themselves or a server admin), with no
    /// name and no expiry. The secret is in the answer only.
    pub async fn create_api_key(&self, username: &str) -> Result<CreatedApiKey> {
        self.create_api_key_with(username, &CreateApiKey::default())
            .await
    }

    /// Mints another API key for `username` (the user themselves or a server admin) with a
    /// name and a lifetime (`expires_in_seconds`, counted on the server's clock). The secret
    /// is in the answer only.
    pub async fn create_api_key_with(
        &self,
        username: &str,
        request: &CreateApiKey,
    ) -> Result<CreatedApiKey> {
        self.send_json(Method::POST, &routes::api_keys(username), request)
            .await
    }

    /// The API keys of `username` (the user themselves or a server admin), oldest first,
    /// revoked and expired ones included; never their secrets.
    pub async fn api_keys(&self, username: &str) -> Result<ApiKeyList> {
        self.get_json(&routes::api_keys(username)).await
    }

    /// Revokes `username`'s API key `key_id` (the user themselves or a server admin); answers
    /// the key as it is now. The key, and the signed URLs its requests obtained, stop working
    /// at once.
    pub async fn revoke_api_key(&self, username: &str, key_id: &str) -> Result<ApiKey> {
        self.send_json(
            Method::DELETE,
            &routes::api_key(username, key_id),
            &serde_json::json!({}),
        )
        .await
    }

    /// A team's retention settings: its default TTL and who may set TTLs (members).
    pub async fn team_settings(&self, team: &str) -> Result<TeamSettings> {
        self.get_json(&routes::team_settings(team)).await
    }

    /// Changes a team's default TTL and/or who may set TTLs (team admins only).
    pub async fn update_team_settings(
        &self,
        team: &str,
        edit: &UpdateTeamSettings,
    ) -> Result<TeamSettings> {
        self.send_json(Method::PATCH, &routes::team_settings(team), edit)
            .await
    }

    /// Soft-deletes every expired version now (server admins only), as the server's sweeper
    /// does on its interval.
    pub async fn sweep(&self) -> Result<SweepReport> {
        self.send_json(Method::POST, routes::SERVER_SWEEP, &serde_json::json!({}))
            .await
    }

    /// Creates a team; the caller becomes its first admin.
    pub async fn create_team(&self, name: &str) -> Result<Team> {
        let body = CreateTeam {
            name: name.to_owned(),
        };
        self.send_json(Method::POST, routes::TEAMS, &body).await
    }

    /// Adds `username` to `team` with `role`, or changes their role (team admins only).
    pub async fn set_team_member(&self, team: &str, username: &str, role: Role) -> Result<Team> {
        self.send_json(
            Method::PUT,
            &routes::team_member(team, username),
            &SetTeamMember { role },
        )
        .await
    }

    /// Removes `username` from `team` (team admins only; the last admin stays).
    pub async fn remove_team_member(&self, team: &str, username: &str) -> Result<()> {
        self.send_ignore(
            Method::DELETE,
            &routes::team_member(team, username),
            &serde_json::json!({}),
        )
        .await
    }

    /// Creates `entity/project` or changes its visibility (the owning user or team admins).
    pub async fn upsert_project(
        &self,
        entity: &str,
        project: &str,
        visibility: Visibility,
    ) -> Result<Project> {
        let body = UpsertProject {
            visibility: Some(visibility),
        };
        self.send_json(Method::PUT, &routes::project(entity, project), &body)
            .await
    }

    /// Runs one garbage collection on the server (server admins only), or with `dry_run` only
    /// reports what it would free. See `docs/api.md` for what is collected.
    pub async fn collect_garbage(&self, dry_run: bool) -> Result<GarbageReport> {
        self.send_json(Method::POST, routes::SERVER_GC, &CollectGarbage { dry_run })
            .await
    }

    /// The storage live versions of `entity/project` account for.
    pub async fn project_storage(&self, entity: &str, project: &str) -> Result<Storage> {
        self.get_json(&routes::project_storage(entity, project))
            .await
    }

    /// The storage live versions of all of `entity`'s projects account for (its members and
    /// server admins).
    pub async fn entity_storage(&self, entity: &str) -> Result<Storage> {
        self.get_json(&routes::entity_storage(entity)).await
    }
}
