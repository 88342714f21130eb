//! `gs://` references and the GCS blob store, against fake-gcs-server (through the write shim).

use std::sync::Arc;
use std::time::Duration;

use cairn_storage::conformance::{Fixture, run_all};
use cairn_storage::testing::{Emulator, GcsWriteShim, create_gcs_bucket};
use cairn_storage::{CloudHandler, GcsConfig, Handlers, ResolveOptions};

use crate::runtime;

#[test]
fn conformance() {
    let Some(endpoint) = Emulator::Gcs.endpoint() else {
        return;
    };
    runtime().block_on(async {
        let shim = GcsWriteShim::start(&endpoint).await.unwrap();
        let bucket = create_gcs_bucket(&endpoint).await;
        let handler = CloudHandler::gcs(
            GcsConfig::emulator(&shim.url).with_retries(1, Duration::from_secs(5)),
        );
        let blobs = handler.blob_store(&bucket).unwrap();
        let fixture = Fixture {
            name: "gs",
            handlers: Handlers::new().with(Arc::new(handler)),
            blobs,
            base: format!("gs://{bucket}"),
            versioned: true,
            // fake-gcs-server ignores `ifGenerationMatch`, so create-only puts cannot be shown.
            enforces_create: false,
            // Nor does it have the XML-API multipart calls object_store uses for large blobs.
            multipart: false,
            remote: true,
        };
        run_all(&fixture).await;
    });
}

#[test]
fn checksum_off_matches_the_vectors() {
    let handlers = Handlers::new().with(Arc::new(CloudHandler::gcs(GcsConfig::emulator(
        "http://127.0.0.1:9",
    ))));
    let runtime = runtime();
    let off = ResolveOptions::new().with_checksum(false);
    let objects = runtime
        .block_on(handlers.resolve_all("gs://my-gcs-bucket/models/model.pt#1700000000000000", &off))
        .unwrap();
    assert_eq!(objects[0].path.as_str(), "models/model.pt");
    assert_eq!(
        objects[0].entry.digest,
        "gs://my-gcs-bucket/models/model.pt"
    );
    let objects = runtime
        .block_on(handlers.resolve_all("gs://my-gcs-bucket/models/", &off))
        .unwrap();
    assert_eq!(objects[0].path.as_str(), "models");
    assert_eq!(objects[0].entry.digest, "gs://my-gcs-bucket/models/");
}
