//! Integration tests of `cairn-server`: the real router over a real data directory (SQLite
//! files in a temporary directory), driven in-process with `tower::ServiceExt::oneshot`, plus
//! loopback HTTP where concurrency, connection limits or the network stack matter, plus the
//! blob store on the S3, GCS and Azure emulators when they run.

#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot set up its fixture should panic right there"
)]

mod access;
mod access_matrix;
mod blobs;
mod collections;
mod connections;
mod distributed;
mod emulators;
mod fuzzed;
mod gc;
mod harness;
mod hostile;
mod keys;
mod limits;
mod lineage;
mod links;
mod logging;
mod reading;
mod retention;
mod serving;
mod staging;
mod ui;
mod wandb;
