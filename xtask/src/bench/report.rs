//! The table and the targets `bench transfer` prints, in the style of the other benchmarks: times,
//! ratios to the baseline measured in the same run, and PASS or MISS per target (informational:
//! a MISS never fails the run).

use std::time::Duration;

use crate::bench::data::{Dataset, DatasetId, mebibytes};
use crate::bench::measure::median;
use crate::bench::sdk_transfer::SdkTimes;
use crate::bench::transfer::ISSUE_BASELINE;

/// The target ratio of a put to md5sum + curl (A and B), of a cold get to `cp -r`, and of both
/// to issue 16's baseline (md5sum on all cores + `cp -r`).
const TRANSFER_RATIO: f64 = 1.3;
/// The target ratio of a get from a filled cache by hardlink or reflink to `cp -r`.
const LINKED_RATIO: f64 = 1.05;
/// The target put rate on many small files (C).
const SMALL_FILES_PER_SECOND: f64 = 5_000.0;
/// How many times faster than the W&B SDK cairn's put and get must be.
const SDK_SPEEDUP: f64 = 3.0;
/// The peak resident set each process must stay under, in MiB.
const PEAK_RSS_MIB: f64 = 200.0;

/// Median times of cairn and of its baseline, alternated run by run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Comparison {
    /// Median seconds of the cairn command.
    pub(crate) cairn: f64,
    /// Median seconds of the baseline.
    pub(crate) baseline: f64,
}

impl Comparison {
    /// The medians of both sides' runs.
    pub(crate) fn new(times: &mut [Duration], baseline: &mut [Duration]) -> Self {
        Self {
            cairn: median(times).as_secs_f64(),
            baseline: median(baseline).as_secs_f64(),
        }
    }

    /// cairn's time over the baseline's: 1.00x is as fast as the baseline, lower is faster.
    fn ratio(&self) -> f64 {
        self.cairn / self.baseline.max(f64::MIN_POSITIVE)
    }
}

/// Everything measured on one dataset.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) dataset: Dataset,
    /// Put vs md5sum + curl.
    pub(crate) put: Comparison,
    /// Put vs issue 16's baseline, md5sum on all cores + `cp -r`.
    pub(crate) put_issue: Comparison,
    /// Get with an empty cache vs `cp -r`.
    pub(crate) get_cold: Comparison,
    /// Get with an empty cache vs issue 16's baseline, md5sum on all cores + `cp -r`.
    pub(crate) get_cold_issue: Comparison,
    /// Get from a filled cache per link mode vs `cp -r`, or why the mode is unavailable.
    pub(crate) linked: Vec<(&'static str, Result<Comparison, String>)>,
    /// Peak RSS of the put client, KiB.
    pub(crate) client_put_peak: Option<u64>,
    /// Peak RSS of the cold get client, KiB.
    pub(crate) client_get_peak: Option<u64>,
    /// Peak RSS of the servers, KiB.
    pub(crate) server_peak: Option<u64>,
    /// The W&B SDK's times on the same data and server binary (`--vs-wandb`).
    pub(crate) sdk: Option<SdkTimes>,
}

/// Prints the table and the targets.
pub(crate) fn print(reports: &[Report], runs: u32, scale: f64) {
    println!();
    println!(
        "bench transfer: median of {runs} run(s) after one warm-up run; `cairn server` on \
         loopback, a fresh server data dir for every put; `sync` before each timed command"
    );
    println!(
        "{:<7} {:>7} {:>11}  {:<19} {:>9}  {:<17} {:>10} {:>7} {:>9} {:>9}",
        "dataset",
        "files",
        "size",
        "step",
        "cairn s",
        "baseline",
        "baseline s",
        "ratio*",
        "MB/s",
        "files/s"
    );
    for report in reports {
        let dataset = &report.dataset;
        let mut rows = vec![
            ("put", Ok(report.put), "md5sum + curl -T"),
            ("put", Ok(report.put_issue), ISSUE_BASELINE),
            ("get (empty cache)", Ok(report.get_cold), "cp -r"),
            (
                "get (empty cache)",
                Ok(report.get_cold_issue),
                ISSUE_BASELINE,
            ),
        ];
        for (mode, outcome) in &report.linked {
            let label = if *mode == "hardlink" {
                "get --link hardlink"
            } else {
                "get --link reflink"
            };
            rows.push((label, outcome.clone(), "cp -r"));
        }
        for (index, (step, outcome, baseline)) in rows.into_iter().enumerate() {
            let (name, files, size) = if index == 0 {
                (
                    dataset.spec.id.name().to_owned(),
                    dataset.spec.file_count.to_string(),
                    mebibytes(dataset.bytes),
                )
            } else {
                (String::new(), String::new(), String::new())
            };
            match outcome {
                Ok(comparison) => {
                    let seconds = comparison.cairn.max(f64::MIN_POSITIVE);
                    println!(
                        "{name:<7} {files:>7} {size:>11}  {step:<19} {:>9.3}  {baseline:<17} {:>10.3} {:>6.2}x {:>9.1} {:>9.0}",
                        comparison.cairn,
                        comparison.baseline,
                        comparison.ratio(),
                        dataset.bytes as f64 / 1e6 / seconds,
                        dataset.spec.file_count as f64 / seconds,
                    );
                }
                Err(_) => println!(
                    "{name:<7} {files:>7} {size:>11}  {step:<19} {:>9}  not available on this filesystem",
                    "-"
                ),
            }
        }
        println!(
            "{:<7} peak RSS: put client {}, get client {}, server {}",
            "",
            mib(report.client_put_peak),
            mib(report.client_get_peak),
            mib(report.server_peak)
        );
        if let Some(sdk) = &report.sdk {
            println!(
                "{:<7} W&B SDK {}: log_artifact + wait {:.3}s (process {:.3}s) = {:.1}x cairn put; \
                 Artifact.download {:.3}s (process {:.3}s) = {:.1}x cairn get",
                "",
                crate::bench::wandb::WANDB_VERSION,
                sdk.put,
                sdk.put_process,
                sdk.put / report.put.cairn.max(f64::MIN_POSITIVE),
                sdk.get,
                sdk.get_process,
                sdk.get / report.get_cold.cairn.max(f64::MIN_POSITIVE),
            );
        }
    }
    println!(
        "* ratio = cairn time / baseline time: 1.00x is as fast as the baseline, lower is faster"
    );
    println!(
        "  {ISSUE_BASELINE} = md5sum of every file on all cores (xargs -P) + cp -r, the baseline \
         issue 16 sets; the other baselines are stricter"
    );
    if reports.iter().any(|report| report.sdk.is_some()) {
        println!(
            "  W&B SDK times are inside Python around the calls (no interpreter start, import or \
             wandb.init); its ratio is SDK time / cairn time, so higher means cairn is faster"
        );
    }
    print_targets(reports, scale);
}

fn print_targets(reports: &[Report], scale: f64) {
    println!();
    if scale == 1.0 {
        println!("targets (informational; a MISS does not fail the benchmark):");
    } else {
        println!(
            "targets (set for the full-size datasets; --scale {scale} results are only indicative):"
        );
    }
    let verdict = |pass: bool| if pass { "PASS" } else { "MISS" };
    for report in reports {
        let name = report.dataset.spec.id.name();
        let put = report.put.ratio();
        match report.dataset.spec.id {
            DatasetId::A | DatasetId::B => println!(
                "  {name}: put <= {TRANSFER_RATIO:.2}x md5sum + curl: {put:.2}x {}",
                verdict(put <= TRANSFER_RATIO)
            ),
            DatasetId::C => {
                let rate =
                    report.dataset.spec.file_count as f64 / report.put.cairn.max(f64::MIN_POSITIVE);
                println!(
                    "  {name}: put >= {SMALL_FILES_PER_SECOND:.0} files/s: {rate:.0} files/s {}",
                    verdict(rate >= SMALL_FILES_PER_SECOND)
                );
            }
        }
        let put_issue = report.put_issue.ratio();
        println!(
            "  {name}: put <= {TRANSFER_RATIO:.2}x {ISSUE_BASELINE} (issue 16): {put_issue:.2}x {}",
            verdict(put_issue <= TRANSFER_RATIO)
        );
        let cold = report.get_cold.ratio();
        println!(
            "  {name}: get with an empty cache <= {TRANSFER_RATIO:.2}x cp -r: {cold:.2}x {}",
            verdict(cold <= TRANSFER_RATIO)
        );
        let cold_issue = report.get_cold_issue.ratio();
        println!(
            "  {name}: get with an empty cache <= {TRANSFER_RATIO:.2}x {ISSUE_BASELINE} (issue 16): {cold_issue:.2}x {}",
            verdict(cold_issue <= TRANSFER_RATIO)
        );
        for (mode, outcome) in &report.linked {
            match outcome {
                Ok(comparison) => {
                    let ratio = comparison.ratio();
                    println!(
                        "  {name}: get --link {mode} from the cache <= {LINKED_RATIO:.2}x cp -r: {ratio:.2}x {}",
                        verdict(ratio <= LINKED_RATIO)
                    );
                }
                Err(_) => println!("  {name}: get --link {mode}: n/a (refused here, see above)"),
            }
        }
        if let Some(sdk) = &report.sdk {
            for (step, theirs, ours) in [
                ("put vs log_artifact + wait", sdk.put, report.put.cairn),
                ("get vs Artifact.download", sdk.get, report.get_cold.cairn),
            ] {
                let speedup = theirs / ours.max(f64::MIN_POSITIVE);
                println!(
                    "  {name}: {step} >= {SDK_SPEEDUP:.0}x faster than the W&B SDK: {speedup:.1}x {}",
                    verdict(speedup >= SDK_SPEEDUP)
                );
            }
        }
        for (who, peak) in [
            ("put client", report.client_put_peak),
            ("get client", report.client_get_peak),
            ("server", report.server_peak),
        ] {
            match peak {
                Some(kib) => {
                    let used = kib as f64 / 1024.0;
                    println!(
                        "  {name}: {who} peak RSS < {PEAK_RSS_MIB:.0} MiB: {used:.1} MiB {}",
                        verdict(used < PEAK_RSS_MIB)
                    );
                }
                None => println!("  {name}: {who} peak RSS < {PEAK_RSS_MIB:.0} MiB: n/a"),
            }
        }
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_owned(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    )
}
