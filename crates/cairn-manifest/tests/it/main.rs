//! Integration tests of the public API against the W&B compatibility vectors.
//!
//! The vectors are read from `$CAIRN_VECTORS_DIR` when it is set, so a held-out set in the same
//! format can be run without recompiling, and otherwise from the copy of the public set under
//! `fixtures/wandb-vectors/public`. Every test iterates over whatever records the files hold and
//! takes its expectations from them; nothing expected is written down here.

mod cases;
mod core_vectors;
mod hashes;
mod parse;
mod properties;
mod validation;
mod vectors;
