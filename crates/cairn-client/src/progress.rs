//! Progress reporting: the library never prints; a front end (the CLI's progress bars) implements
//! [`Progress`] and hands it to [`Client::with_progress`](crate::Client::with_progress).

use std::fmt::Debug;

/// The phases of logging and downloading that report progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Reading local files to hash them (`verify`).
    Hash,
    /// Sending blobs to the server.
    Upload,
    /// Putting an artifact's entries in a download root: checking the files already there,
    /// fetching blobs and references, and copying or linking cached objects (items are entries,
    /// bytes their sizes).
    Download,
}

impl Phase {
    /// The phase's name in lower case (`upload`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hash => "hash",
            Self::Upload => "upload",
            Self::Download => "download",
        }
    }
}

/// Receives progress events. Calls come from several tasks at once, so implementations must
/// be cheap and thread-safe; they must not block.
pub trait Progress: Send + Sync + Debug {
    /// A phase begins with this much work (items and bytes; either may be 0 when unknown).
    fn start(&self, phase: Phase, total_items: u64, total_bytes: u64);
    /// Some work of the phase is done.
    fn advance(&self, phase: Phase, items: u64, bytes: u64);
    /// The phase is over (successfully or not).
    fn finish(&self, phase: Phase);
}

/// A [`Progress`] that ignores every event (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _phase: Phase, _total_items: u64, _total_bytes: u64) {}
    fn advance(&self, _phase: Phase, _items: u64, _bytes: u64) {}
    fn finish(&self, _phase: Phase) {}
}

/// Calls `finish` when dropped, so a phase that fails half-way is still closed.
pub(crate) struct PhaseGuard<'a> {
    progress: &'a dyn Progress,
    phase: Phase,
}

impl<'a> PhaseGuard<'a> {
    pub(crate) fn start(progress: &'a dyn Progress, phase: Phase, items: u64, bytes: u64) -> Self {
        progress.start(phase, items, bytes);
        Self { progress, phase }
    }

    pub(crate) fn advance(&self, items: u64, bytes: u64) {
        self.progress.advance(self.phase, items, bytes);
    }
}

impl Drop for PhaseGuard<'_> {
    fn drop(&mut self) {
        self.progress.finish(self.phase);
    }
}
