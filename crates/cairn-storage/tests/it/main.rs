//! Integration tests of `cairn-storage`: the conformance suite on every backend (local files,
//! and S3, GCS and Azure on real emulators), plus each handler's own semantics.

#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot set up its fixture should panic right there"
)]

mod azure;
mod file;
mod gcs;
mod http;
mod s3;

/// A multi-threaded runtime, as handlers run under in real use.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
