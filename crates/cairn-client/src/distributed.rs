//! Distributed versions: many writers (runs, often separate processes or machines) each add
//! their own files to one version, named by a distributed id, and one of them finishes it.
//!
//! Each writer creates the version with the distributed id (the server answers the same PENDING
//! version to all of them), uploads its part of the manifest with `?writer=` and the blobs the
//! server lacks for it. Finishing does the same and then commits: the server merges the parts
//! into one manifest (their union) and commits it. A path that two writers give different
//! contents is refused when the second part arrives, naming both writers.

use cairn_api::{
    CreateVersion, CreateVersionStatus, CreatedVersion, ErrorCode, ManifestReceipt, Version,
    VersionState, routes,
};
use cairn_hash::Md5Digest;
use cairn_manifest::DigestAlgorithm;
use reqwest::Method;

use crate::upload::{self, Sources, Uploaded};
use crate::{Artifact, Client, Error, Logged, LoggedArtifact, Result};

/// How many times a finish that found blobs missing uploads this writer's and tries again.
const COMMIT_ROUNDS: usize = 3;

/// What [`Run::upsert_artifact`](crate::Run::upsert_artifact) did: this writer's part is on the
/// server; the version stays PENDING until a writer finishes it.
#[derive(Debug, Clone)]
pub struct Upserted {
    /// The PENDING version every writer of the distributed id adds to.
    pub version: Version,
    /// `Created` for the first writer, `Resumed` for the others.
    pub status: CreateVersionStatus,
    /// The name this part was uploaded under (it names the run).
    pub writer: String,
    /// Entries in this part.
    pub files: u64,
    /// Blobs sent to the server by this call.
    pub uploaded_blobs: u64,
    /// Bytes of blob content sent by this call.
    pub uploaded_bytes: u64,
    /// Distinct blobs of this part the server already had (from this version's other writers,
    /// or from versions the caller can read).
    pub reused_blobs: u64,
}

/// One writer's part: who writes it, into which distributed version.
pub(crate) struct Part<'a> {
    pub(crate) entity: &'a str,
    pub(crate) project: &'a str,
    pub(crate) run: &'a str,
    pub(crate) distributed_id: &'a str,
    pub(crate) writer: &'a str,
}

/// Uploads the part and leaves the version PENDING.
pub(crate) async fn upsert(
    client: &Client,
    part: &Part<'_>,
    artifact: &mut Artifact,
    aliases: &[String],
) -> Result<Upserted> {
    let (upserted, _) = send_part(client, part, artifact, aliases, "upsert_artifact").await?;
    artifact.finalize();
    Ok(upserted)
}

/// Uploads the part, then commits the version with every writer's parts merged.
pub(crate) async fn finish(
    client: &Client,
    part: &Part<'_>,
    artifact: &mut Artifact,
    aliases: &[String],
) -> Result<Logged> {
    let (upserted, sources) = send_part(client, part, artifact, aliases, "finish_artifact").await?;
    let mut uploaded = Uploaded {
        blobs: upserted.uploaded_blobs,
        bytes: upserted.uploaded_bytes,
    };
    let version = commit(client, &upserted.version.id, &sources, &mut uploaded).await?;
    artifact.mark_logged(version.clone());
    Ok(Logged {
        // The draft holds this writer's part only; the manifest is the union, read on demand.
        artifact: LoggedArtifact::new(client.clone(), version),
        status: upserted.status,
        uploaded_blobs: uploaded.blobs,
        uploaded_bytes: uploaded.bytes,
        reused_blobs: upserted.reused_blobs,
    })
}

/// Creates (or resumes) the distributed version, uploads this part's manifest and its missing
/// blobs.
async fn send_part<'a>(
    client: &Client,
    part: &Part<'_>,
    artifact: &'a Artifact,
    aliases: &[String],
    method: &'static str,
) -> Result<(Upserted, Sources<'a>)> {
    artifact.ensure_draft(method)?;
    if artifact.digest_algorithm() != DigestAlgorithm::Md5 {
        return Err(Error::NotSupported {
            what: format!("logging the XXH128 artifact `{}`", artifact.name()),
            hint: "the server deduplicates blobs by MD5; create the artifact with the default MD5 digest algorithm",
        });
    }
    if artifact.base().is_some() {
        return Err(Error::NotSupported {
            what: format!(
                "a part of distributed artifact `{}` started from a committed version",
                artifact.name()
            ),
            hint: "a part holds only its writer's own files; build it with `Artifact::new`",
        });
    }
    let aliases = cairn_manifest::validate_aliases(aliases)?;
    let manifest = artifact.manifest();
    let sources = Sources::of(manifest)?;
    let versions = routes::versions(part.entity, part.project);
    let request = CreateVersion {
        collection: artifact.name().to_owned(),
        artifact_type: artifact.artifact_type().to_owned(),
        // This part's own digest: the server computes the version's from the merged parts.
        digest: Md5Digest::from_hex(&artifact.digest()).map_err(|error| Error::Protocol {
            url: client.url(&versions),
            reason: format!("the artifact digest is not 32 hex digits: {error}"),
        })?,
        description: artifact.description().map(str::to_owned),
        metadata: artifact.metadata().clone(),
        aliases,
        tags: Vec::new(),
        run: Some(part.run.to_owned()),
        distributed_id: Some(part.distributed_id.to_owned()),
        ttl: artifact.ttl(),
    };
    let finished = |detail: String| Error::DistributedFinished {
        name: artifact.name().to_owned(),
        distributed_id: part.distributed_id.to_owned(),
        detail,
    };
    let created: CreatedVersion = match client.send_json(Method::POST, &versions, &request).await {
        Ok(created) => created,
        Err(Error::Server {
            code: ErrorCode::NotPending,
            detail,
            ..
        }) => return Err(finished(detail)),
        Err(error) => return Err(error),
    };
    if created.version.state != VersionState::Pending {
        return Err(finished(format!(
            "the server answered `{}`, which is {:?}",
            created.version.qualified_name(),
            created.version.state
        )));
    }
    let id = created.version.id.clone();
    // This writer's part, without local paths.
    let part_route = format!(
        "{}?writer={}",
        routes::manifest(&id),
        routes::segment(part.writer)
    );
    let receipt: ManifestReceipt = match upload::send_manifest(client, &part_route, manifest).await
    {
        Ok(receipt) => receipt,
        Err(Error::Server {
            code: ErrorCode::Conflict,
            detail,
            ..
        }) if detail.contains("written twice") => {
            return Err(Error::DistributedConflict {
                name: artifact.name().to_owned(),
                distributed_id: part.distributed_id.to_owned(),
                detail,
            });
        }
        Err(Error::Server {
            code: ErrorCode::NotPending,
            detail,
            ..
        }) => return Err(finished(detail)),
        Err(error) => return Err(error),
    };
    let uploaded = upload::upload_blobs(client, &id, &receipt.missing, &sources).await?;
    let distinct = sources.distinct_blobs();
    let upserted = Upserted {
        version: created.version,
        status: created.status,
        writer: part.writer.to_owned(),
        files: manifest.len() as u64,
        uploaded_blobs: uploaded.blobs,
        uploaded_bytes: uploaded.bytes,
        reused_blobs: distinct.saturating_sub(uploaded.blobs),
    };
    Ok((upserted, sources))
}

/// Commits the merged version. Blobs the commit finds missing are uploaded when this writer has
/// them; blobs of other writers' parts that are still missing mean those writers have not
/// finished uploading, which is said in words.
async fn commit(
    client: &Client,
    id: &str,
    sources: &Sources<'_>,
    uploaded: &mut Uploaded,
) -> Result<Version> {
    let mut round = 0;
    loop {
        match upload::commit(client, id).await {
            Err(Error::Server {
                code: ErrorCode::MissingBlobs,
                status,
                detail,
            }) if round + 1 < COMMIT_ROUNDS => {
                round += 1;
                let receipt: ManifestReceipt = client.get_json(&routes::missing_blobs(id)).await?;
                let (ours, theirs): (Vec<_>, Vec<_>) = receipt
                    .missing
                    .into_iter()
                    .partition(|blob| sources.path(&blob.md5).is_some());
                if !theirs.is_empty() {
                    return Err(Error::Server {
                        code: ErrorCode::MissingBlobs,
                        status,
                        detail: format!(
                            "{} blobs of other writers' parts are not uploaded yet (for example `{}`); wait until every writer's upsert has returned, then finish again ({detail})",
                            theirs.len(),
                            theirs[0].md5
                        ),
                    });
                }
                uploaded.add(upload::upload_blobs(client, id, &ours, sources).await?);
            }
            other => return other,
        }
    }
}
