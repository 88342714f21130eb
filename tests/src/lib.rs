//! Cairn's end-to-end tests, as a workspace member (`cairn-tests`) that may depend on every other
//! crate. The library itself is empty; the tests live in the test targets:
//!
//! * `e2e` (`tests/e2e/`): scenarios that start the real `cairn server` and run the real `cairn`
//!   CLI against it, as a user would. They need the binary, so they are `#[ignore]`d under a
//!   plain `cargo test`; `cargo xtask e2e` (also a step of `cargo xtask test`) builds it and runs
//!   them with `CAIRN_E2E_BIN` pointing at it.
