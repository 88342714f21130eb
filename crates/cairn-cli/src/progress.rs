//! Progress bars on stderr for transfers, through `cairn_client::Progress`. They draw only when
//! stderr is a terminal, so scripts and `--json` output stay clean.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use cairn_client::{Phase, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One bar per phase (hashing, upload, download, checkout).
#[derive(Debug)]
pub(crate) struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<&'static str, ProgressBar>>,
}

impl Bars {
    /// Bars drawn on stderr, hidden when `quiet` (for `--json`) or when stderr is not a terminal.
    pub(crate) fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn with_bar(&self, phase: Phase, action: impl FnOnce(&ProgressBar)) {
        let bars = match self.bars.lock() {
            Ok(bars) => bars,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(bar) = bars.get(phase_name(phase)) {
            action(bar);
        }
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Hash => "hashing",
        Phase::Upload => "uploading",
        Phase::Download => "downloading",
        _ => "working",
    }
}

impl Progress for Bars {
    fn start(&self, phase: Phase, total_items: u64, total_bytes: u64) {
        let name = phase_name(phase);
        let bar = if total_bytes > 0 {
            let bar = ProgressBar::new(total_bytes);
            let style = ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        } else {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        };
        bar.set_prefix(name);
        bar.set_message(format!("{total_items} files"));
        let bar = self.multi.add(bar);
        let mut bars = match self.bars.lock() {
            Ok(bars) => bars,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(old) = bars.insert(name, bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, phase: Phase, _items: u64, bytes: u64) {
        self.with_bar(phase, |bar| bar.inc(bytes));
    }

    fn finish(&self, phase: Phase) {
        self.with_bar(phase, ProgressBar::finish_and_clear);
    }
}
