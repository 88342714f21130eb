//! The native API's wire types from the domain's: one function per type, field by field, so a
//! change on either side is a compile error here rather than a silent difference on the wire.

use cairn_api as api;
use cairn_service::model;

pub(crate) fn visibility(value: model::Visibility) -> api::Visibility {
    match value {
        model::Visibility::Private => api::Visibility::Private,
        model::Visibility::Public => api::Visibility::Public,
        model::Visibility::Open => api::Visibility::Open,
    }
}

pub(crate) fn visibility_from(value: api::Visibility) -> model::Visibility {
    match value {
        api::Visibility::Private => model::Visibility::Private,
        api::Visibility::Public => model::Visibility::Public,
        api::Visibility::Open => model::Visibility::Open,
    }
}

pub(crate) fn role(value: model::Role) -> api::Role {
    match value {
        model::Role::Admin => api::Role::Admin,
        model::Role::Member => api::Role::Member,
    }
}

pub(crate) fn role_from(value: api::Role) -> model::Role {
    match value {
        api::Role::Admin => model::Role::Admin,
        api::Role::Member => model::Role::Member,
    }
}

pub(crate) fn user(value: model::User) -> api::User {
    api::User {
        username: value.username,
        admin: value.admin,
        created_at: value.created_at,
    }
}

pub(crate) fn viewer(value: model::Viewer) -> api::Viewer {
    api::Viewer {
        user: user(value.user),
        teams: value
            .teams
            .into_iter()
            .map(|membership| api::TeamMembership {
                team: membership.team,
                role: role(membership.role),
            })
            .collect(),
    }
}

pub(crate) fn created_api_key(value: model::CreatedApiKey) -> api::CreatedApiKey {
    api::CreatedApiKey {
        user: user(value.user),
        api_key: value.api_key,
        key: api_key(value.key),
    }
}

pub(crate) fn api_key(value: model::ApiKey) -> api::ApiKey {
    api::ApiKey {
        id: value.id,
        name: value.name,
        created_at: value.created_at,
        expires_at: value.expires_at,
        revoked_at: value.revoked_at,
        last_used_at: value.last_used_at,
        status: match value.status {
            model::ApiKeyStatus::Active => api::ApiKeyStatus::Active,
            model::ApiKeyStatus::Expired => api::ApiKeyStatus::Expired,
            model::ApiKeyStatus::Revoked => api::ApiKeyStatus::Revoked,
        },
    }
}

pub(crate) fn team(value: model::Team) -> api::Team {
    api::Team {
        name: value.name,
        members: value
            .members
            .into_iter()
            .map(|member| api::TeamMember {
                username: member.username,
                role: role(member.role),
            })
            .collect(),
    }
}

pub(crate) fn project(value: model::Project) -> api::Project {
    api::Project {
        entity: value.entity,
        name: value.name,
        visibility: visibility(value.visibility),
        created_at: value.created_at,
    }
}

pub(crate) fn collection(value: model::Collection) -> api::Collection {
    api::Collection {
        entity: value.entity,
        project: value.project,
        name: value.name,
        artifact_type: value.artifact_type,
        version_count: value.version_count,
        latest: value.latest,
        created_at: value.created_at,
        updated_at: value.updated_at,
        description: value.description,
        kind: match value.kind {
            model::CollectionKind::Sequence => api::CollectionKind::Sequence,
            model::CollectionKind::Portfolio => api::CollectionKind::Portfolio,
        },
    }
}

pub(crate) fn artifact_type(value: model::ArtifactType) -> api::ArtifactType {
    api::ArtifactType {
        name: value.name,
        collection_count: value.collection_count,
        created_at: value.created_at,
    }
}

pub(crate) fn version_state(value: model::VersionState) -> api::VersionState {
    match value {
        model::VersionState::Pending => api::VersionState::Pending,
        model::VersionState::Committed => api::VersionState::Committed,
        model::VersionState::Deleted => api::VersionState::Deleted,
    }
}

pub(crate) fn version(value: model::Version) -> api::Version {
    api::Version {
        id: value.id,
        entity: value.entity,
        project: value.project,
        collection: value.collection,
        artifact_type: value.artifact_type,
        version_index: value.version_index,
        state: version_state(value.state),
        digest: value.digest,
        size: value.size,
        file_count: value.file_count,
        description: value.description,
        metadata: value.metadata,
        aliases: value.aliases,
        tags: value.tags,
        logged_by: value.logged_by,
        created_at: value.created_at,
        updated_at: value.updated_at,
        committed_at: value.committed_at,
        source: value.source.map(|source| api::VersionSource {
            entity: source.entity,
            project: source.project,
            collection: source.collection,
            version_index: source.version_index,
            aliases: source.aliases,
            linked_at: source.linked_at,
        }),
        ttl: api::VersionTtl {
            setting: ttl_setting(value.ttl.setting),
            seconds: value.ttl.seconds,
            inherited: value.ttl.inherited,
            expires_at: value.ttl.expires_at,
        },
    }
}

pub(crate) fn ttl_setting(value: model::TtlSetting) -> api::TtlSetting {
    match value {
        model::TtlSetting::Inherit => api::TtlSetting::Inherit,
        model::TtlSetting::Never => api::TtlSetting::None,
        model::TtlSetting::Seconds(seconds) => api::TtlSetting::Seconds(seconds),
    }
}

pub(crate) fn model_ttl(value: api::TtlSetting) -> model::TtlSetting {
    match value {
        api::TtlSetting::Inherit => model::TtlSetting::Inherit,
        api::TtlSetting::None => model::TtlSetting::Never,
        api::TtlSetting::Seconds(seconds) => model::TtlSetting::Seconds(seconds),
    }
}

pub(crate) fn ttl_editors(value: model::TtlEditors) -> api::TtlEditors {
    match value {
        model::TtlEditors::Admins => api::TtlEditors::Admins,
        model::TtlEditors::Members => api::TtlEditors::Members,
    }
}

pub(crate) fn model_ttl_editors(value: api::TtlEditors) -> model::TtlEditors {
    match value {
        api::TtlEditors::Admins => model::TtlEditors::Admins,
        api::TtlEditors::Members => model::TtlEditors::Members,
    }
}

pub(crate) fn team_settings(value: model::TeamSettings) -> api::TeamSettings {
    api::TeamSettings {
        default_ttl_seconds: value.default_ttl_seconds,
        ttl_editors: ttl_editors(value.ttl_editors),
    }
}

pub(crate) fn sweep_report(value: cairn_service::retention::SweepReport) -> api::SweepReport {
    api::SweepReport {
        deleted: value.deleted,
        kept: value
            .kept
            .into_iter()
            .map(|(name, reason)| api::KeptVersion { name, reason })
            .collect(),
    }
}

pub(crate) fn versions(values: Vec<model::Version>) -> Vec<api::Version> {
    values.into_iter().map(version).collect()
}

pub(crate) fn created_version(value: model::CreatedVersion) -> api::CreatedVersion {
    api::CreatedVersion {
        status: match value.status {
            model::CreateVersionStatus::Created => api::CreateVersionStatus::Created,
            model::CreateVersionStatus::Resumed => api::CreateVersionStatus::Resumed,
            model::CreateVersionStatus::Existing => api::CreateVersionStatus::Existing,
        },
        version: version(value.version),
        manifest_uploaded: value.manifest_uploaded,
    }
}

pub(crate) fn new_version(value: api::CreateVersion) -> model::NewVersion {
    model::NewVersion {
        collection: value.collection,
        artifact_type: value.artifact_type,
        digest: value.digest,
        description: value.description,
        metadata: value.metadata,
        aliases: value.aliases,
        tags: value.tags,
        run: value.run,
        distributed_id: value.distributed_id,
        ttl: value.ttl.map(model_ttl),
    }
}

pub(crate) fn version_edit(value: api::UpdateVersion) -> model::VersionEdit {
    model::VersionEdit {
        description: value.description,
        metadata: value.metadata,
        add_aliases: value.add_aliases,
        remove_aliases: value.remove_aliases,
        add_tags: value.add_tags,
        remove_tags: value.remove_tags,
        through: value.through.map(|path| model::CollectionPath {
            entity: path.entity,
            project: path.project,
            name: path.name,
        }),
        ttl: value.ttl.map(model_ttl),
    }
}

pub(crate) fn blob_ref(value: model::BlobRef) -> api::BlobRef {
    api::BlobRef {
        md5: value.md5,
        size: value.size,
    }
}

pub(crate) fn run_state(value: model::RunState) -> api::RunState {
    match value {
        model::RunState::Running => api::RunState::Running,
        model::RunState::Finished => api::RunState::Finished,
        model::RunState::Failed => api::RunState::Failed,
        model::RunState::Crashed => api::RunState::Crashed,
    }
}

pub(crate) fn run(value: model::Run) -> api::Run {
    api::Run {
        id: value.id,
        entity: value.entity,
        project: value.project,
        job_type: value.job_type,
        state: run_state(value.state),
        exit_code: value.exit_code,
        user: value.user,
        created_at: value.created_at,
        finished_at: value.finished_at,
        resumed: value.resumed,
        display_name: value.display_name,
        notes: value.notes,
        config: value.config,
        summary: value.summary,
        heartbeat_at: value.heartbeat_at,
    }
}

pub(crate) fn new_run(value: api::CreateRun) -> model::NewRun {
    model::NewRun {
        id: value.id,
        job_type: value.job_type,
        resume: match value.resume {
            api::ResumeMode::Never => model::ResumeMode::Never,
            api::ResumeMode::Allow => model::ResumeMode::Allow,
            api::ResumeMode::Must => model::ResumeMode::Must,
        },
    }
}

pub(crate) fn run_artifacts(value: model::RunArtifacts) -> api::RunArtifacts {
    api::RunArtifacts {
        logged: versions(value.logged),
        used: versions(value.used),
    }
}

fn run_ref(value: model::RunRef) -> api::RunRef {
    api::RunRef {
        entity: value.entity,
        project: value.project,
        id: value.id,
    }
}

pub(crate) fn lineage(value: model::Lineage) -> api::Lineage {
    api::Lineage {
        logged_by: value.logged_by.map(run_ref),
        used_by: value.used_by.into_iter().map(run_ref).collect(),
    }
}

pub(crate) fn stats(value: model::Stats) -> api::ServerStats {
    api::ServerStats {
        blobs_received: value.blobs_received,
        blob_bytes_received: value.blob_bytes_received,
        blobs_rejected: value.blobs_rejected,
        versions_committed: value.versions_committed,
        blobs_served: value.blobs_served,
    }
}

pub(crate) fn lineage_direction(value: api::LineageDirection) -> model::LineageDirection {
    match value {
        api::LineageDirection::Up => model::LineageDirection::Up,
        api::LineageDirection::Down => model::LineageDirection::Down,
        api::LineageDirection::Both => model::LineageDirection::Both,
    }
}

pub(crate) fn lineage_graph(value: model::LineageGraph) -> api::LineageGraph {
    api::LineageGraph {
        root: value.root,
        nodes: value
            .nodes
            .into_iter()
            .map(|node| match node.kind {
                model::LineageNodeKind::Version {
                    id,
                    entity,
                    project,
                    collection,
                    artifact_type,
                    version_index,
                } => api::LineageNode::Version {
                    key: node.key,
                    depth: node.depth,
                    id,
                    entity,
                    project,
                    collection,
                    artifact_type,
                    version_index,
                },
                model::LineageNodeKind::Run {
                    entity,
                    project,
                    id,
                    state,
                    job_type,
                } => api::LineageNode::Run {
                    key: node.key,
                    depth: node.depth,
                    entity,
                    project,
                    id,
                    state: run_state(state),
                    job_type,
                },
            })
            .collect(),
        edges: value
            .edges
            .into_iter()
            .map(|edge| api::LineageEdge {
                from: edge.from,
                to: edge.to,
            })
            .collect(),
        hidden: value.hidden,
        total: value.total,
        next: value.next,
    }
}

pub(crate) fn deletion(value: model::Deletion) -> api::Deletion {
    api::Deletion {
        versions_deleted: value.versions_deleted,
        links_removed: value.links_removed,
    }
}

/// The wire form of a garbage collection's report.
pub(crate) fn garbage_report(report: cairn_service::gc::GcReport) -> cairn_api::GarbageReport {
    use cairn_service::gc::FreeReason;
    cairn_api::GarbageReport {
        dry_run: report.dry_run,
        started_at: report.started_at,
        finished_at: report.finished_at,
        grace_seconds: report.grace.as_secs(),
        cutoff: report.cutoff,
        freed: report
            .freed
            .into_iter()
            .map(|blob| {
                let why = blob.reason.to_string();
                let (reason, unreferenced_since) = match blob.reason {
                    FreeReason::Unreferenced { since } => {
                        (cairn_api::FreeReason::Unreferenced, Some(since))
                    }
                    FreeReason::Unrecorded => (cairn_api::FreeReason::Unrecorded, None),
                    FreeReason::Interrupted => (cairn_api::FreeReason::Interrupted, None),
                };
                cairn_api::FreedBlob {
                    md5: blob.md5_hex,
                    size: blob.size,
                    location: blob.location,
                    reason,
                    unreferenced_since,
                    why,
                }
            })
            .collect(),
        freed_blobs: report.freed_blobs,
        freed_bytes: report.freed_bytes,
        kept_in_grace_blobs: report.kept_in_grace_blobs,
        kept_in_grace_bytes: report.kept_in_grace_bytes,
        kept_uploading: report.kept_uploading,
        failed: report.failed,
        stored_blobs: report.stored_blobs,
        stored_bytes: report.stored_bytes,
        entities: report
            .entities
            .into_iter()
            .map(|entity| cairn_api::EntityStorage {
                entity: entity.entity,
                storage: storage(entity.storage),
                projects: entity
                    .projects
                    .into_iter()
                    .map(|project| cairn_api::ProjectStorage {
                        project: project.project,
                        storage: storage(project.storage),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The wire form of storage totals.
pub(crate) fn storage(storage: cairn_service::gc::Storage) -> cairn_api::Storage {
    cairn_api::Storage {
        blobs: storage.blobs,
        bytes: storage.bytes,
        live_versions: storage.live_versions,
    }
}
