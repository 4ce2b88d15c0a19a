//! Statistics and the two outputs: `RESULTS.md` for people, `results.json` for comparing runs.

use crate::scenarios::Minimum;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub const TARGET_INIT_RATIO: f64 = 1.3;
pub const TARGET_ZIP_BYTES: u64 = 4_000_000;
pub const TARGET_RSS_BYTES: u64 = 32_000_000;
pub const TARGET_OVERHEAD_MS: f64 = 1.0;

pub struct Cold {
    pub first_invoke: Duration,
    pub rss_kib: u64,
}

pub struct Warm {
    pub latencies: Vec<Duration>,
    /// Per invocation, index for index with `latencies`: how long AWS took to answer its calls.
    pub floor: Vec<Duration>,
    pub rss_kib: u64,
    pub first_calls: BTreeMap<String, BTreeMap<String, u32>>,
    pub steady_calls: BTreeMap<String, BTreeMap<String, u32>>,
}

pub struct Measured {
    pub function: String,
    pub what: String,
    pub binary_bytes: Option<u64>,
    pub zip_bytes: Option<u64>,
    /// Spawn → first `GET /invocation/next`, taken in the quiet phase before any scenario.
    pub init: Vec<Duration>,
    pub cold: Vec<Cold>,
    pub warm: Warm,
    pub minimum: Minimum,
}

pub struct Settings {
    pub spawns: usize,
    pub invocations: usize,
    pub build: String,
}

/// Nearest-rank percentile in milliseconds; `None` for no samples.
pub fn percentile(samples: &[Duration], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * ms.len() as f64).ceil() as usize;
    Some(ms[rank.clamp(1, ms.len()) - 1])
}

pub fn count(calls: &BTreeMap<String, BTreeMap<String, u32>>, service: &str) -> u32 {
    calls
        .get(service)
        .map(|ops| ops.values().sum())
        .unwrap_or(0)
}

fn describe(calls: &BTreeMap<String, BTreeMap<String, u32>>) -> String {
    let parts: Vec<String> = calls
        .iter()
        .flat_map(|(service, ops)| {
            ops.iter().map(move |(op, n)| {
                if *n == 1 {
                    format!("{service}:{op}")
                } else {
                    format!("{service}:{op}×{n}")
                }
            })
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

impl Measured {
    pub fn init_p(&self, p: f64) -> Option<f64> {
        percentile(&self.init, p)
    }
    pub fn first_p(&self, p: f64) -> Option<f64> {
        percentile(
            &self.cold.iter().map(|c| c.first_invoke).collect::<Vec<_>>(),
            p,
        )
    }
    pub fn peak_rss_bytes(&self) -> u64 {
        let cold = self.cold.iter().map(|c| c.rss_kib).max().unwrap_or(0);
        cold.max(self.warm.rss_kib) * 1024
    }
    /// The median of each invocation's own time: its latency less the time AWS took.
    pub fn overhead_ms(&self) -> Option<f64> {
        percentile(&own_time(&self.warm.latencies, &self.warm.floor), 50.0)
    }
}

/// Latency less AWS time, invocation by invocation (AWS time ≤ latency: its calls are made
/// inside the invocation).
pub fn own_time(latencies: &[Duration], aws: &[Duration]) -> Vec<Duration> {
    latencies
        .iter()
        .zip(aws.iter().copied().chain(std::iter::repeat(Duration::ZERO)))
        .map(|(l, a)| l.saturating_sub(a))
        .collect()
}

fn ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "–".into())
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let commit = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=7"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    json!({
        "cpu": cpu, "cores": cores, "memory_gib": (mem_kib as f64 / 1048576.0).round(),
        "kernel": kernel, "arch": std::env::consts::ARCH, "rustc": rustc, "commit": commit,
    })
}

/// A dialect's form of an operation against the native scenarios it stands for.
#[derive(serde::Serialize)]
pub struct DialectRow {
    pub what: String,
    pub function: String,
    pub dynamodb: u32,
    pub native: u32,
    pub native_of: Vec<String>,
    pub lookups: u32,
    pub why: String,
}

impl DialectRow {
    /// Whether it costs at most the native calls and the lookups its id form needs.
    pub fn within(&self) -> bool {
        self.dynamodb <= self.native + self.lookups
    }
}

pub fn write(
    out: &Path,
    settings: &Settings,
    results: &[Measured],
    dialects: &[DialectRow],
    failed: &[(String, String)],
) -> Result<(), String> {
    let when = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let machine = machine();
    let baseline = results.iter().find(|m| m.function == crate::BASELINE);
    let base_init = baseline.and_then(|b| b.init_p(50.0));

    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for m in results {
        let init50 = m.init_p(50.0);
        let ratio = match (init50, base_init) {
            (Some(i), Some(b)) if b > 0.0 => Some(i / b),
            _ => None,
        };
        let ddb = count(&m.warm.steady_calls, "dynamodb");
        let overhead = m.overhead_ms();
        let rss = m.peak_rss_bytes();
        let is_base = m.function == crate::BASELINE;
        let zip = m
            .zip_bytes
            .map(|z| {
                format!(
                    "{:.2} {}",
                    z as f64 / 1e6,
                    mark(is_base || z <= TARGET_ZIP_BYTES)
                )
            })
            .unwrap_or_else(|| "–".into());
        let ratio_text = ratio
            .map(|r| format!("{r:.2}× {}", mark(is_base || r <= TARGET_INIT_RATIO)))
            .unwrap_or_else(|| "–".into());
        let others = ["kms", "events", "sqs"]
            .iter()
            .map(|s| count(&m.warm.steady_calls, s).to_string())
            .collect::<Vec<_>>()
            .join("/");
        let min_others = format!("{}/{}/{}", m.minimum.kms, m.minimum.events, m.minimum.sqs);
        rows.push(format!(
            "| {} | {} | {} / {} | {} | {} / {} | {} / {} | {} | {} | {} of {} {} | {} of {} | {:.1} {} |",
            m.function,
            zip,
            ms(init50),
            ms(m.init_p(90.0)),
            ratio_text,
            ms(m.first_p(50.0)),
            ms(m.first_p(90.0)),
            ms(percentile(&m.warm.latencies, 50.0)),
            ms(percentile(&m.warm.latencies, 99.0)),
            ms(percentile(&m.warm.floor, 50.0)),
            overhead
                .map(|o| format!("{o:.2} {}", mark(o < TARGET_OVERHEAD_MS)))
                .unwrap_or_else(|| "–".into()),
            ddb,
            m.minimum.dynamodb,
            mark(ddb <= m.minimum.dynamodb),
            others,
            min_others,
            rss as f64 / 1e6,
            mark(rss < TARGET_RSS_BYTES),
        ));
        json_rows.push(json!({
            "function": m.function,
            "scenario": m.what,
            "binary_bytes": m.binary_bytes,
            "zip_bytes": m.zip_bytes,
            "init_ms": {"p50": init50, "p90": m.init_p(90.0)},
            "init_ratio_to_baseline": ratio,
            "first_invoke_ms": {"p50": m.first_p(50.0), "p90": m.first_p(90.0)},
            "warm_ms": {"p50": percentile(&m.warm.latencies, 50.0), "p90": percentile(&m.warm.latencies, 90.0),
                        "p99": percentile(&m.warm.latencies, 99.0), "samples": m.warm.latencies.len()},
            "floor_ms": {"p50": percentile(&m.warm.floor, 50.0), "samples": m.warm.floor.len()},
            "overhead_ms_p50": overhead,
            "aws_calls": {"first_invocation": m.warm.first_calls, "steady": m.warm.steady_calls},
            "minimum": m.minimum,
            "peak_rss_bytes": rss,
            "cold_samples": m.cold.len(),
        }));
    }

    let mut md = String::new();
    md.push_str("# Benchmark results\n\n");
    md.push_str(&format!(
        "Measured {when} on {} ({} cores, {} GiB, Linux {}, {}), commit `{}`, {}. Written by `make bench` \
         (bench/harness); see bench/README.md for how each number is taken.\n\n",
        machine["cpu"].as_str().unwrap_or_default(),
        machine["cores"],
        machine["memory_gib"],
        machine["kernel"].as_str().unwrap_or_default(),
        machine["rustc"].as_str().unwrap_or_default(),
        machine["commit"].as_str().unwrap_or_default(),
        settings.build,
    ));
    md.push_str(&format!(
        "Cold: {} spawns per function. Init = spawn → first `GET /invocation/next`, taken for every function and the baseline \
         in turn before any scenario runs (init touches no AWS, so a busy moto must not weigh on it); first invoke = spawn \
         → first answer, taken after the function's warm run. \
         Warm: {} invocations on one process, hand-over → answer; floor = the p50 of the time the counting proxy held \
         an invocation's calls (AWS's answer and the proxy's own forwarding), during that invocation; overhead = the p50 of each \
         invocation's latency less its AWS time. AWS calls are a steady-state invocation's \
         (API key, settings and KMS data key cached), next to the fewest the data model allows. Targets: init ≤ {}× the \
         baseline, zip ≤ {} MB, peak RSS < {} MB, overhead < {} ms, DynamoDB calls at the minimum.\n\n",
        settings.spawns,
        settings.invocations,
        TARGET_INIT_RATIO,
        TARGET_ZIP_BYTES / 1_000_000,
        TARGET_RSS_BYTES / 1_000_000,
        TARGET_OVERHEAD_MS,
    ));
    md.push_str("| Function | Zip MB | Init p50 / p90 ms | × baseline | First invoke p50 / p90 ms | Warm p50 / p99 ms | Floor p50 ms | Overhead ms | DynamoDB calls | KMS/EB/SQS (min) | Peak RSS MB |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &rows {
        md.push_str(r);
        md.push('\n');
    }
    md.push_str("\n## Scenarios and calls\n\n| Function | Event | Calls per invocation (steady) | Fewest possible |\n|---|---|---|---|\n");
    for m in results {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            m.function,
            m.what,
            describe(&m.warm.steady_calls),
            m.minimum.why
        ));
    }
    if !dialects.is_empty() {
        md.push_str("\n## Dialects\n\nEach dialect's form of an operation (`/compat/<name>`, docs/compat.md) on the same function, held to the steady DynamoDB calls of the native scenarios it stands for plus the lookups its id form needs.\n\n| Dialect call | Function | DynamoDB calls | Native (scenarios) | + lookups | Why |\n|---|---|---|---|---|---|\n");
        for d in dialects {
            md.push_str(&format!(
                "| {} | {} | {} {} | {} ({}) | {} | {} |\n",
                d.what,
                d.function,
                d.dynamodb,
                mark(d.within()),
                d.native,
                d.native_of.join(" + "),
                d.lookups,
                d.why
            ));
        }
    }
    if !failed.is_empty() {
        md.push_str("\n## Not measured\n\n");
        for (f, e) in failed {
            md.push_str(&format!("- {f}: {e}\n"));
        }
    }
    std::fs::write(out.join("RESULTS.md"), md).map_err(|e| e.to_string())?;
    let doc = json!({
        "measured_at": when,
        "machine": machine,
        "settings": {"spawns": settings.spawns, "invocations": settings.invocations,
                     "build": settings.build},
        "targets": {"init_ratio": TARGET_INIT_RATIO, "zip_bytes": TARGET_ZIP_BYTES,
                    "rss_bytes": TARGET_RSS_BYTES, "overhead_ms": TARGET_OVERHEAD_MS},
        "functions": json_rows,
        "dialects": dialects,
        "failed": failed.iter().map(|(f, e)| json!({"function": f, "error": e})).collect::<Vec<_>>(),
    });
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dialect_may_cost_the_native_calls_and_its_lookups_no_more() {
        let row = |dynamodb| DialectRow {
            what: "x".into(),
            function: "f".into(),
            dynamodb,
            native: 2,
            native_of: vec!["f".into()],
            lookups: 1,
            why: "y".into(),
        };
        assert!(row(3).within());
        assert!(row(2).within());
        assert!(!row(4).within());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50.0), Some(50.0));
        assert_eq!(percentile(&d, 99.0), Some(99.0));
        assert_eq!(percentile(&d, 100.0), Some(100.0));
        assert_eq!(percentile(&d[..1], 90.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn own_time_is_latency_less_aws_time_per_invocation() {
        let ms = Duration::from_millis;
        let own = own_time(&[ms(10), ms(4), ms(7)], &[ms(8), ms(1)]);
        assert_eq!(own, vec![ms(2), ms(3), ms(7)]);
        assert_eq!(own_time(&[ms(1)], &[ms(5)]), vec![Duration::ZERO]);
    }
}
