//! Runs the real `cairn` binary and checks what a user sees: output, messages and exit codes.

#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot set up its fixture should panic right there"
)]

mod cache;
mod manifest;
