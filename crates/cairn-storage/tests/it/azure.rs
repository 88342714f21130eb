//! Azure blob references and the Azure blob store, against Azurite.

use std::sync::Arc;
use std::time::Duration;

use cairn_storage::conformance::{Fixture, run_all};
use cairn_storage::testing::{AZURITE_ACCOUNT, AZURITE_KEY, Emulator, create_azure_container};
use cairn_storage::{AzureConfig, CloudHandler, Handlers, ResolveOptions};

use crate::runtime;

#[test]
fn conformance() {
    let Some(endpoint) = Emulator::Azurite.endpoint() else {
        return;
    };
    runtime().block_on(async {
        let container = create_azure_container(&endpoint).await;
        let root = format!("{endpoint}/{AZURITE_ACCOUNT}");
        let handler = CloudHandler::azure(
            AzureConfig::with_endpoint(&root, AZURITE_ACCOUNT, AZURITE_KEY)
                .with_retries(1, Duration::from_secs(5)),
        );
        let blobs = handler.blob_store(&container).unwrap();
        let fixture = Fixture {
            name: "azure",
            handlers: Handlers::new().with(Arc::new(handler)),
            blobs,
            base: format!("{root}/{container}"),
            // Azurite has no blob versioning: only the changed-object error can be shown here.
            versioned: false,
            enforces_create: true,
            multipart: true,
            remote: true,
        };
        run_all(&fixture).await;
    });
}

#[test]
fn checksum_off_matches_the_vectors() {
    let handlers = Handlers::new().with(Arc::new(CloudHandler::azure(AzureConfig::from_env())));
    let runtime = runtime();
    let off = ResolveOptions::new().with_checksum(false);
    let uri = "https://myaccount.blob.core.windows.net/my-container/path/to/blob.bin?versionId=2024-01-01T00:00:00.0000000Z";
    let objects = runtime.block_on(handlers.resolve_all(uri, &off)).unwrap();
    assert_eq!(objects[0].path.as_str(), "path/to/blob.bin");
    assert_eq!(
        objects[0].entry.digest,
        "https://myaccount.blob.core.windows.net/my-container/path/to/blob.bin"
    );
    let objects = runtime
        .block_on(handlers.resolve_all(
            "https://myaccount.blob.core.windows.net/my-container/dir/x.txt",
            &off.clone().with_name("named.txt"),
        ))
        .unwrap();
    assert_eq!(objects[0].path.as_str(), "named.txt");
}
