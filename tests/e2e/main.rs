//! End-to-end scenarios: the real `cairn` binary as the server and as the CLI, driven the way a
//! user and an operator would, with the server's own counters (`GET /api/v1/server/stats`) and
//! its data directory as the witnesses of what really happened.
//!
//! Run them with `cargo xtask e2e` (also a step of `cargo xtask test`), which builds `cairn` and
//! sets `CAIRN_E2E_BIN`. Under a plain `cargo test` they are ignored, because they need that
//! binary. By hand: `CAIRN_E2E_BIN=target/debug/cairn cargo nextest run -p cairn-tests --test
//! e2e --run-ignored only`.
//!
//! * [`roundtrip`]: put then get gives the same bytes; re-putting unchanged content sends
//!   nothing; changing one file sends exactly that file; the same through an S3 blob store
//!   (moto, when `cargo xtask test` started it).
//! * [`incremental`]: `put --base NAME:ALIAS --remove PATH [PATH...]` makes the next version
//!   from the changed files only (the base's files may be gone), sends only new contents, and
//!   refuses an unknown base, a removal of what the base lacks, another type or collection.
//! * [`distributed`]: eight `put --distributed-id` processes at once build one version, a
//!   ninth `--finish`es it; the union downloads byte-identical, tables read back, a late part
//!   and a two-writer conflict are refused.
//! * [`access`]: another user cannot read or write a private project.
//! * [`keys`]: `cairn key create|list|revoke`; a revoked key and (on a moved server clock) an
//!   expired key fail at once, in words, with exit code 4.
//! * [`crash`]: killing the client or the server in the middle of an upload loses nothing and
//!   stores nothing twice; the put resumes.
//! * [`gc`]: `cairn server gc` racing puts of the content it collects, and `kill -9` of the
//!   server at random points of a collection (20 rounds); every live blob re-hashed after.
//! * [`exit_codes`]: the documented exit codes and messages for the common failures, and a clean
//!   shutdown on SIGTERM.
//! * [`connections`]: under `ulimit -n 128`, 150 idle and half-sent connections neither starve
//!   `/healthz` nor stay open.

mod access;
mod connections;
mod crash;
mod distributed;
mod exit_codes;
mod gc;
mod harness;
mod incremental;
mod keys;
mod links;
mod retention;
mod roundtrip;
