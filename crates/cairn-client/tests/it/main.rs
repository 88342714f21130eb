//! Integration tests of `cairn-client`'s public API: the W&B compatibility vectors replayed
//! through [`cairn_client::Artifact`], and the error cases a user can hit.

#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot set up its fixture should panic right there"
)]

#[cfg(unix)]
mod errors;
mod send;
mod stat_cache;
mod transport;
mod vectors;
