//! Timing commands for the benchmarks: one untimed warm-up run, then N timed runs, median wall
//! time, and peak RSS from GNU time.
//!
//! The warm-up fills the page cache, so every timed run reads from memory and the numbers measure
//! hashing and file handling rather than the disk. When asked, the warm-up run goes through
//! `/usr/bin/time -f %M`, which reports the peak resident set size in KiB; without GNU time the
//! RSS is reported as unknown.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cmd::Cmd;

/// GNU time, used for peak RSS.
const GNU_TIME: &str = "/usr/bin/time";

/// The result of timing one command.
#[derive(Debug, Clone)]
pub(crate) struct Measurement {
    /// The median wall time of the timed runs.
    pub(crate) median: Duration,
    /// Peak resident set size of the warm-up run, in KiB, when GNU time is available.
    pub(crate) peak_rss_kib: Option<u64>,
}

/// Whether to measure peak memory, and where GNU time may write its report.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rss<'a> {
    /// Measure it; GNU time writes to this file.
    Measure(&'a Path),
    /// Do not measure it.
    Skip,
}

/// Runs `cmd` once untimed (measuring RSS if asked), then `runs` times timed, with stdout
/// discarded and stderr streamed through. Any failing run is an error.
pub(crate) fn measure(label: &str, cmd: &Cmd, runs: u32, rss: Rss<'_>) -> Result<Measurement> {
    println!("{label}: $ {cmd} > /dev/null");
    let peak_rss_kib = match rss {
        Rss::Measure(report) if Path::new(GNU_TIME).is_file() => {
            Some(warm_up_with_rss(cmd, report)?)
        }
        Rss::Measure(_) => {
            println!(
                "{label}: {GNU_TIME} not found, so peak RSS is n/a (install GNU time: apt-get install time)"
            );
            run_once(cmd)?;
            None
        }
        Rss::Skip => {
            run_once(cmd)?;
            None
        }
    };
    let mut times = Vec::new();
    for run in 1..=runs {
        let elapsed = run_once(cmd)?;
        println!("{label}: run {run}/{runs}: {:.3}s", elapsed.as_secs_f64());
        times.push(elapsed);
    }
    Ok(Measurement {
        median: median(&mut times),
        peak_rss_kib,
    })
}

/// Times two commands against each other: each is warmed up once (the first with RSS if
/// asked), then their timed runs alternate, so a burst of load from elsewhere on the machine hits
/// both sides alike instead of skewing one of them.
pub(crate) fn measure_pair(
    (label, cmd, rss): (&str, &Cmd, Rss<'_>),
    (baseline_label, baseline_cmd): (&str, &Cmd),
    runs: u32,
) -> Result<(Measurement, Measurement)> {
    let first = measure(label, cmd, 0, rss)?;
    let second = measure(baseline_label, baseline_cmd, 0, Rss::Skip)?;
    let (mut times, mut baseline_times) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let elapsed = run_once(cmd)?;
        let baseline_elapsed = run_once(baseline_cmd)?;
        println!(
            "run {run}/{runs}: {label} {:.3}s, {baseline_label} {:.3}s",
            elapsed.as_secs_f64(),
            baseline_elapsed.as_secs_f64()
        );
        times.push(elapsed);
        baseline_times.push(baseline_elapsed);
    }
    Ok((
        Measurement {
            median: median(&mut times),
            ..first
        },
        Measurement {
            median: median(&mut baseline_times),
            ..second
        },
    ))
}

/// Runs `cmd` once with stdout discarded and returns its wall time.
pub(crate) fn run_once(cmd: &Cmd) -> Result<Duration> {
    let mut command = cmd.to_command();
    command.stdin(Stdio::null()).stdout(Stdio::null());
    let start = Instant::now();
    let status = cmd.status(command)?;
    let elapsed = start.elapsed();
    cmd.check(status)?;
    Ok(elapsed)
}

/// The median of `times` (the mean of the middle two for an even count); zero when empty.
pub(crate) fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    match times.len() {
        0 => Duration::ZERO,
        len if len % 2 == 1 => times[len / 2],
        len => (times[len / 2 - 1] + times[len / 2]) / 2,
    }
}

/// Runs `cmd` under `/usr/bin/time -f %M -o REPORT` and returns the peak RSS in KiB.
fn warm_up_with_rss(cmd: &Cmd, report: &Path) -> Result<u64> {
    run_with_rss(cmd, report).map(|(_, kib)| kib)
}

/// Whether GNU time is there to measure peak RSS.
pub(crate) fn can_measure_rss() -> bool {
    Path::new(GNU_TIME).is_file()
}

/// Runs `cmd` once under `/usr/bin/time -f %M -o REPORT` with stdout discarded; returns its wall
/// time (GNU time's own start-up is a fork and an exec, well under a millisecond) and its peak
/// RSS in KiB. Check [`can_measure_rss`] first.
pub(crate) fn run_with_rss(cmd: &Cmd, report: &Path) -> Result<(Duration, u64)> {
    let timed = cmd.wrapped_in(Cmd::new(GNU_TIME).args(["-f", "%M", "-o"]).arg(report));
    let elapsed = run_once(&timed)?;
    let text = fs_err::read_to_string(report)?;
    // GNU time may prepend a line such as "Command exited with non-zero status"; the number is last.
    let last = text.lines().last().unwrap_or_default().trim();
    let kib = last.parse().with_context(|| {
        format!(
            "`{GNU_TIME}` wrote `{last}` to `{}`, not a KiB count",
            report.display()
        )
    })?;
    Ok((elapsed, kib))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let secs = Duration::from_secs;
        assert_eq!(median(&mut [secs(3), secs(1), secs(2)]), secs(2));
        assert_eq!(
            median(&mut [secs(4), secs(1), secs(2), secs(3)]),
            Duration::from_millis(2500)
        );
        assert_eq!(median(&mut []), Duration::ZERO);
    }
}
