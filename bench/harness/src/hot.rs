//! `make bench-hot`: the hot path only, compared with the last accepted run.
//!
//! A run's figures are compared with `bench/hot-baseline.json` figure by figure, as the
//! ratio now / accepted. What counts as worse is judged against the run's own noise, taken
//! two ways: the baseline binary is measured several times in the run, spread between the
//! functions, and how far its repeats disagree on init is how far the machine drifted; and
//! each function's samples are split four ways (every fourth sample), and how far the
//! quarters disagree on a figure is how far that figure moves by chance.

use crate::report::{self, Measured};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// What a connect link's life runs through, in the order the harness needs them (the connect
/// page and submit open and complete the links `connections-create` made).
pub const HOT: &[&str] = &[
    "consumers-create",
    "connections-create",
    "connect-page",
    "connect-submit",
    "links-get",
];

/// A reference measured with the hot path, not held to its goals: the baseline plus one
/// DynamoDB client built as ours are, so a run tells the SDK's share of init from ours.
pub const SDK_FLOOR: &str = "bench-baseline-sdk";

/// Functions the harness's fixtures are made with (not measured in a hot run).
pub const SETUP: &[&str] = &["integrations-create", "webhooks-create"];

/// The label of the baseline's `n`th repeat (0 is the baseline itself).
pub fn baseline_label(n: usize) -> String {
    if n == 0 {
        crate::BASELINE.to_owned()
    } else {
        format!("{}#{}", crate::BASELINE, n + 1)
    }
}

/// The binary a label runs (`bench-baseline#2` is `bench-baseline`).
pub fn binary_of(label: &str) -> &str {
    label.split('#').next().unwrap_or(label)
}

/// The figures compared, how each is judged, and the least change taken as real whatever
/// the run's noise (a 2% slower init on one run is not a finding).
#[derive(Clone, Copy)]
struct Figure {
    name: &'static str,
    /// The baseline figure whose spread over the repeats is drift this figure shares (init:
    /// the baseline's own; the others are too small in the baseline to tell anything).
    noise_of: Option<&'static str>,
    floor: f64,
    /// Compared per unit of the machine's speed (see [`HotRun::hop_ms`]).
    per_speed: bool,
}

const FIGURES: &[Figure] = &[
    Figure {
        name: "init_ratio",
        noise_of: Some("init_ms_p50"),
        floor: 0.05,
        per_speed: false,
    },
    Figure {
        name: "first_invoke_ms_p50",
        noise_of: None,
        floor: 0.10,
        per_speed: true,
    },
    Figure {
        name: "warm_ms_p50",
        noise_of: None,
        floor: 0.10,
        per_speed: true,
    },
    Figure {
        name: "warm_ms_p99",
        noise_of: None,
        floor: 0.25,
        per_speed: true,
    },
    Figure {
        name: "overhead_ms",
        noise_of: None,
        floor: 0.10,
        per_speed: true,
    },
    Figure {
        name: "peak_rss_mb",
        noise_of: Some("peak_rss_mb"),
        floor: 0.03,
        per_speed: false,
    },
    Figure {
        name: "zip_mb",
        noise_of: None,
        floor: 0.01,
        per_speed: false,
    },
    Figure {
        name: "dynamodb_calls",
        noise_of: None,
        floor: 0.0,
        per_speed: false,
    },
];

/// One run's figures: what `bench/hot-baseline.json` holds for the accepted run.
#[derive(Serialize, Deserialize)]
pub struct HotRun {
    pub measured_at: String,
    pub machine: Value,
    pub settings: Value,
    /// Function → figure → value.
    pub functions: BTreeMap<String, BTreeMap<String, f64>>,
    /// Figure → relative spread of the baseline's repeats in this run.
    pub noise: BTreeMap<String, f64>,
    /// Function → figure → relative spread of the quarters of its own samples.
    #[serde(default)]
    pub sample_noise: BTreeMap<String, BTreeMap<String, f64>>,
    /// The baseline's warm p50 (the median of its repeats), in ms: one runtime-API round
    /// trip over loopback, how fast this machine hands an event over and answers it, now.
    /// Warm and first-invoke times are compared per unit of it, so a run on a machine whose
    /// kernel has slowed down (a noisy neighbour, a throttled VM) does not read as code that
    /// got slower. (A CPU-bound probe did not see those slowdowns; this does.)
    #[serde(default)]
    pub hop_ms: Option<f64>,
}

/// (max − min) / median of `p` over the four interleaved quarters of `samples`.
fn quarters_spread(samples: &[Duration], p: f64) -> Option<f64> {
    const PARTS: usize = 4;
    if samples.len() < PARTS * 2 {
        return None;
    }
    let mut values: Vec<f64> = (0..PARTS)
        .filter_map(|k| {
            let part: Vec<Duration> = samples.iter().skip(k).step_by(PARTS).copied().collect();
            report::percentile(&part, p)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let median = (values[PARTS / 2 - 1] + values[PARTS / 2]) / 2.0;
    (median > 0.0).then(|| (values[PARTS - 1] - values[0]) / median)
}

fn sample_noise_of(m: &Measured) -> BTreeMap<String, f64> {
    let first: Vec<Duration> = m.cold.iter().map(|c| c.first_invoke).collect();
    let own = report::own_time(&m.warm.latencies, &m.warm.floor);
    [
        ("init_ratio", quarters_spread(&m.init, 50.0)),
        ("first_invoke_ms_p50", quarters_spread(&first, 50.0)),
        ("warm_ms_p50", quarters_spread(&m.warm.latencies, 50.0)),
        ("warm_ms_p99", quarters_spread(&m.warm.latencies, 99.0)),
        ("overhead_ms", quarters_spread(&own, 50.0)),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect()
}

fn figures_of(m: &Measured, base_init: Option<f64>) -> BTreeMap<String, f64> {
    let mut f = BTreeMap::new();
    let mut put = |k: &str, v: Option<f64>| {
        if let Some(v) = v {
            f.insert(k.to_owned(), v);
        }
    };
    let init = m.init_p(50.0);
    put("init_ms_p50", init);
    put(
        "init_ratio",
        init.zip(base_init)
            .filter(|(_, b)| *b > 0.0)
            .map(|(i, b)| i / b),
    );
    put("first_invoke_ms_p50", m.first_p(50.0));
    put("warm_ms_p50", report::percentile(&m.warm.latencies, 50.0));
    put("warm_ms_p99", report::percentile(&m.warm.latencies, 99.0));
    put("overhead_ms", m.overhead_ms());
    put("peak_rss_mb", Some(m.peak_rss_bytes() as f64 / 1e6));
    put("zip_mb", m.zip_bytes.map(|z| z as f64 / 1e6));
    put(
        "dynamodb_calls",
        Some(report::count(&m.warm.steady_calls, "dynamodb") as f64),
    );
    f
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// (max − min) / median of each figure over the baseline's repeats.
fn spread(repeats: &[BTreeMap<String, f64>]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Some(first) = repeats.first() else {
        return out;
    };
    for key in first.keys() {
        let v: Vec<f64> = repeats.iter().filter_map(|r| r.get(key).copied()).collect();
        if v.len() < 2 {
            continue;
        }
        let (min, max) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(*x), hi.max(*x))
            });
        if let Some(m) = median(v).filter(|m| *m > 0.0) {
            out.insert(key.clone(), (max - min) / m);
        }
    }
    out
}

/// The run's figures: the functions (the first baseline is the ratio's reference, as in the
/// full report) and the noise its baseline repeats show.
pub fn figures(
    results: &[Measured],
    measured_at: String,
    machine: Value,
    settings: Value,
) -> HotRun {
    let base_init = results
        .iter()
        .find(|m| m.function == crate::BASELINE)
        .and_then(|b| b.init_p(50.0));
    let repeats: Vec<BTreeMap<String, f64>> = results
        .iter()
        .filter(|m| binary_of(&m.function) == crate::BASELINE)
        .map(|m| figures_of(m, base_init))
        .collect();
    let measured = || {
        results
            .iter()
            .filter(|m| binary_of(&m.function) != crate::BASELINE)
    };
    HotRun {
        measured_at,
        machine,
        settings,
        functions: measured()
            .map(|m| (m.function.clone(), figures_of(m, base_init)))
            .collect(),
        noise: spread(&repeats),
        sample_noise: measured()
            .map(|m| (m.function.clone(), sample_noise_of(m)))
            .collect(),
        hop_ms: median(
            repeats
                .iter()
                .filter_map(|r| r.get("warm_ms_p50").copied())
                .collect(),
        ),
    }
}

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Worse,
    Better,
    Same,
}

pub struct Change {
    pub function: String,
    pub figure: &'static str,
    /// The accepted figure, at this run's machine speed for times.
    pub accepted: f64,
    pub now: f64,
    pub threshold: f64,
    pub verdict: Verdict,
}

/// Every figure both runs have, judged against the larger of its floor and this run's noise
/// (a lower figure is better for all of them).
pub fn compare(accepted: &HotRun, now: &HotRun) -> Vec<Change> {
    let mut out = Vec::new();
    // now / accepted time for the same work: > 1 when this machine runs slower today
    let slower = match (now.hop_ms, accepted.hop_ms) {
        (Some(n), Some(a)) if n > 0.0 && a > 0.0 => n / a,
        _ => 1.0,
    };
    for (function, figures) in &now.functions {
        let Some(before) = accepted.functions.get(function) else {
            continue;
        };
        for fig in FIGURES {
            let (Some(&a), Some(&n)) = (before.get(fig.name), figures.get(fig.name)) else {
                continue;
            };
            let a = if fig.per_speed { a * slower } else { a };
            let drift = fig
                .noise_of
                .and_then(|k| now.noise.get(k))
                .copied()
                .unwrap_or(0.0);
            let chance = now
                .sample_noise
                .get(function)
                .and_then(|f| f.get(fig.name))
                .copied()
                .unwrap_or(0.0);
            let threshold = fig.floor.max(drift).max(chance);
            let verdict = if n > a * (1.0 + threshold) {
                Verdict::Worse
            } else if n < a * (1.0 - threshold) {
                Verdict::Better
            } else {
                Verdict::Same
            };
            out.push(Change {
                function: function.clone(),
                figure: fig.name,
                accepted: a,
                now: n,
                threshold,
                verdict,
            });
        }
    }
    out
}

/// What one DynamoDB call adds to an invocation's overhead in this run (the SDK's work for
/// it and the hop to the counting proxy): the median, over the functions that make exactly
/// one, of their overhead less the baseline's (its round trip, `hop_ms`: it makes no call,
/// so its overhead is its warm time).
pub fn per_call_ms(now: &HotRun) -> Option<f64> {
    let baseline = now.hop_ms.unwrap_or(0.0);
    median(
        now.functions
            .values()
            .filter(|f| f.get("dynamodb_calls") == Some(&1.0))
            .filter_map(|f| f.get("overhead_ms"))
            .map(|o| (o - baseline).max(0.0))
            .collect(),
    )
}

/// The goals the hot path is held to, failed ones by name: init ≤ 1.3× the baseline; an
/// overhead under 1 ms, or, for a function that needs several DynamoDB calls, under 1 ms
/// beyond what its calls cost apart (`per_call`).
pub fn missed_goals(now: &HotRun, per_call: Option<f64>) -> Vec<String> {
    let mut out = Vec::new();
    for (function, f) in hot_path(now) {
        if let Some(r) = f
            .get("init_ratio")
            .filter(|r| **r > report::TARGET_INIT_RATIO)
        {
            out.push(format!(
                "{function}: init {r:.2}× the baseline (goal ≤ {}×)",
                report::TARGET_INIT_RATIO
            ));
        }
        let calls = f.get("dynamodb_calls").copied().unwrap_or(0.0);
        let Some(&o) = f.get("overhead_ms") else {
            continue;
        };
        let beyond = match per_call {
            Some(c) if calls > 1.0 => o - c * calls,
            _ => o,
        };
        if beyond >= report::TARGET_OVERHEAD_MS {
            out.push(if calls > 1.0 {
                format!(
                    "{function}: overhead {o:.2} ms, {beyond:.2} beyond its {calls} calls (goal < {} ms)",
                    report::TARGET_OVERHEAD_MS
                )
            } else {
                format!(
                    "{function}: overhead {o:.2} ms (goal < {} ms)",
                    report::TARGET_OVERHEAD_MS
                )
            });
        }
    }
    out
}

/// The run's hot-path functions and their figures: everything measured but the SDK floor.
fn hot_path(now: &HotRun) -> impl Iterator<Item = (&String, &BTreeMap<String, f64>)> {
    now.functions.iter().filter(|(f, _)| *f != SDK_FLOOR)
}

/// Where the SDK floor's init sits against the baseline, and the hot path's against it.
pub fn sdk_floor_line(now: &HotRun) -> Option<String> {
    let floor = now.functions.get(SDK_FLOOR)?;
    let floor_ratio = *floor.get("init_ratio")?;
    let init = *floor.get("init_ms_p50")?;
    let ours: Vec<f64> = hot_path(now)
        .filter_map(|(_, v)| v.get("init_ms_p50"))
        .map(|ms| ms / init)
        .collect();
    let lo = ours.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ours.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (!ours.is_empty()).then(|| {
        format!(
            "\nThe baseline plus one DynamoDB client built as ours are ({SDK_FLOOR}) starts in {floor_ratio:.2}× the baseline's init; the hot path starts in {lo:.2}–{hi:.2}× that.\n"
        )
    })
}

/// The comparison as a table for the terminal and `hot.md`.
pub fn render(accepted: Option<&HotRun>, now: &HotRun, changes: &[Change]) -> String {
    let mut s = String::new();
    s.push_str("| Function | Init × base | First invoke ms | Warm p50 / p99 ms | Overhead ms | RSS MB | Zip MB | DynamoDB |\n");
    s.push_str("|---|---|---|---|---|---|---|---|\n");
    for (function, f) in &now.functions {
        let g = |k: &str| f.get(k).map(|v| format!("{v:.2}")).unwrap_or("–".into());
        s.push_str(&format!(
            "| {function} | {} | {} | {} / {} | {} | {} | {} | {} |\n",
            g("init_ratio"),
            g("first_invoke_ms_p50"),
            g("warm_ms_p50"),
            g("warm_ms_p99"),
            g("overhead_ms"),
            g("peak_rss_mb"),
            g("zip_mb"),
            f.get("dynamodb_calls")
                .map(|v| v.to_string())
                .unwrap_or_default(),
        ));
    }
    s.push_str("\nDrift (spread of the baseline's repeats): ");
    s.push_str(
        &now.noise
            .iter()
            .map(|(k, v)| format!("{k} {:.1}%", v * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push('\n');
    match accepted {
        None => s.push_str("\nNo accepted run to compare with (bench/hot-baseline.json).\n"),
        Some(a) => {
            s.push_str(&format!(
                "\nAgainst the accepted run of {} (commit `{}`):\n\n",
                a.measured_at,
                a.machine["commit"].as_str().unwrap_or("?")
            ));
            if a.machine["cpu"] != now.machine["cpu"] || a.machine["cores"] != now.machine["cores"]
            {
                s.push_str("Note: it was measured on another machine; only the ratios to the baseline compare across machines.\n\n");
            }
            if let (Some(n), Some(p)) = (now.hop_ms, a.hop_ms) {
                s.push_str(&format!(
                    "The baseline's warm round trip took {n:.3} ms, against {p:.3} ms then: the accepted times below are scaled by {:.2}. Only a comparison within one run is exact: to compare two builds, measure both in one run (see bench/README.md).\n\n",
                    n / p
                ));
            }
            let moved: Vec<&Change> = changes
                .iter()
                .filter(|c| c.verdict != Verdict::Same)
                .collect();
            if moved.is_empty() {
                s.push_str("Every figure is within the noise.\n");
            }
            for c in moved {
                s.push_str(&format!(
                    "- {} {}: {:.2} → {:.2} ({:+.0}%, noise ±{:.0}%): {}\n",
                    c.function,
                    c.figure,
                    c.accepted,
                    c.now,
                    (c.now / c.accepted - 1.0) * 100.0,
                    c.threshold * 100.0,
                    if c.verdict == Verdict::Worse {
                        "WORSE"
                    } else {
                        "better"
                    }
                ));
            }
        }
    }
    s
}

pub fn load(path: &Path) -> Result<Option<HotRun>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub fn save(path: &Path, run: &HotRun) -> Result<(), String> {
    let text = serde_json::to_string_pretty(run).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(functions: &[(&str, &[(&str, f64)])], noise: &[(&str, f64)]) -> HotRun {
        HotRun {
            measured_at: "t".into(),
            machine: json!({"cpu": "x", "cores": 2, "commit": "c"}),
            settings: json!({}),
            functions: functions
                .iter()
                .map(|(f, figs)| {
                    (
                        f.to_string(),
                        figs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                    )
                })
                .collect(),
            noise: noise.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            sample_noise: BTreeMap::new(),
            hop_ms: None,
        }
    }

    #[test]
    fn a_figure_is_worse_only_beyond_the_larger_of_its_floor_and_the_noise() {
        let accepted = run(
            &[("f", &[("init_ratio", 1.20), ("overhead_ms", 0.80)])],
            &[],
        );
        // init noise 8%: 1.20 → 1.29 is +7.5%, within; overhead floor 10%: 0.80 → 0.90 is worse
        let now = run(
            &[("f", &[("init_ratio", 1.29), ("overhead_ms", 0.90)])],
            &[("init_ms_p50", 0.08), ("overhead_ms", 0.02)],
        );
        let changes = compare(&accepted, &now);
        let verdict = |fig: &str| {
            changes
                .iter()
                .find(|c| c.figure == fig)
                .map(|c| &c.verdict)
                .unwrap()
        };
        assert_eq!(verdict("init_ratio"), &Verdict::Same);
        assert_eq!(verdict("overhead_ms"), &Verdict::Worse);
    }

    #[test]
    fn one_more_dynamodb_call_is_always_worse_and_one_fewer_better() {
        let accepted = run(
            &[
                ("f", &[("dynamodb_calls", 3.0)]),
                ("g", &[("dynamodb_calls", 1.0)]),
            ],
            &[],
        );
        let now = run(
            &[
                ("f", &[("dynamodb_calls", 4.0)]),
                ("g", &[("dynamodb_calls", 0.0)]),
            ],
            &[],
        );
        let changes = compare(&accepted, &now);
        assert_eq!(changes[0].verdict, Verdict::Worse);
        assert_eq!(changes[1].verdict, Verdict::Better);
    }

    #[test]
    fn a_function_whose_own_samples_disagree_is_judged_more_leniently() {
        let accepted = run(&[("f", &[("overhead_ms", 0.80)])], &[]);
        let mut now = run(&[("f", &[("overhead_ms", 0.95)])], &[]);
        assert_eq!(compare(&accepted, &now)[0].verdict, Verdict::Worse);
        now.sample_noise
            .insert("f".into(), BTreeMap::from([("overhead_ms".into(), 0.3)]));
        assert_eq!(compare(&accepted, &now)[0].verdict, Verdict::Same);
    }

    #[test]
    fn times_are_compared_at_the_machine_speed_of_the_run_and_sizes_as_they_are() {
        let mut accepted = run(&[("f", &[("overhead_ms", 0.50), ("zip_mb", 3.0)])], &[]);
        let mut now = run(&[("f", &[("overhead_ms", 0.95), ("zip_mb", 3.1)])], &[]);
        accepted.hop_ms = Some(0.07);
        // the machine hands events over twice as slowly today: 0.95 is within 2 × 0.50
        now.hop_ms = Some(0.14);
        let changes = compare(&accepted, &now);
        let of = |fig: &str| changes.iter().find(|c| c.figure == fig).unwrap();
        assert_eq!(of("overhead_ms").verdict, Verdict::Same);
        assert_eq!(of("zip_mb").verdict, Verdict::Worse);
        // at the same speed it is worse
        now.hop_ms = Some(0.07);
        assert_eq!(compare(&accepted, &now)[0].verdict, Verdict::Worse);
    }

    #[test]
    fn quarters_spread_compares_every_fourth_sample() {
        let ms = Duration::from_millis;
        // quarters: [1,1], [2,2], [3,3], [4,4] → medians 1..4, spread 3 / 2.5
        let samples: Vec<Duration> = [1, 2, 3, 4, 1, 2, 3, 4].map(ms).to_vec();
        assert!((quarters_spread(&samples, 50.0).unwrap() - 3.0 / 2.5).abs() < 1e-9);
        assert_eq!(quarters_spread(&samples[..7], 50.0), None);
        let steady = vec![ms(2); 40];
        assert_eq!(quarters_spread(&steady, 50.0), Some(0.0));
    }

    #[test]
    fn noise_is_the_spread_of_the_repeats_over_their_median() {
        let r = |v: f64| BTreeMap::from([("init_ms_p50".to_string(), v)]);
        let noise = spread(&[r(2.0), r(2.2), r(2.1)]);
        assert!((noise["init_ms_p50"] - 0.2 / 2.1).abs() < 1e-9);
        assert!(spread(&[r(2.0)]).is_empty());
    }

    #[test]
    fn goals_name_the_functions_that_miss_them() {
        let now = run(
            &[
                ("ok", &[("init_ratio", 1.25), ("overhead_ms", 0.9)]),
                ("slow", &[("init_ratio", 1.4), ("overhead_ms", 1.2)]),
            ],
            &[],
        );
        let missed = missed_goals(&now, None);
        assert_eq!(missed.len(), 2);
        assert!(missed.iter().all(|m| m.starts_with("slow:")));
    }

    #[test]
    fn the_sdk_floor_is_reported_but_held_to_no_goal() {
        let now = run(
            &[
                (
                    SDK_FLOOR,
                    &[
                        ("init_ratio", 1.5),
                        ("init_ms_p50", 1.5),
                        ("overhead_ms", 1.2),
                    ],
                ),
                ("a", &[("init_ratio", 1.65), ("init_ms_p50", 1.65)]),
                ("b", &[("init_ratio", 1.8), ("init_ms_p50", 1.8)]),
            ],
            &[],
        );
        let missed = missed_goals(&now, None);
        assert_eq!(missed.len(), 2, "{missed:?}");
        assert!(missed.iter().all(|m| !m.starts_with(SDK_FLOOR)));
        let line = sdk_floor_line(&now).expect("a floor was measured");
        assert!(line.contains("1.50× the baseline's init"), "{line}");
        assert!(line.contains("1.10–1.20× that"), "{line}");
        let without = run(&[("a", &[("init_ms_p50", 1.65)])], &[]);
        assert_eq!(sdk_floor_line(&without), None);
    }

    #[test]
    fn several_calls_are_judged_beyond_what_they_cost_apart() {
        let mut now = run(
            &[
                ("one", &[("dynamodb_calls", 1.0), ("overhead_ms", 0.45)]),
                (
                    "one-more",
                    &[("dynamodb_calls", 1.0), ("overhead_ms", 0.55)],
                ),
                ("three", &[("dynamodb_calls", 3.0), ("overhead_ms", 1.6)]),
            ],
            &[],
        );
        now.hop_ms = Some(0.1);
        // per call: median of 0.35 and 0.45 over the baseline's 0.1 → the upper one, 0.45
        let per_call = per_call_ms(&now).unwrap();
        assert!((per_call - 0.45).abs() < 1e-9);
        // 1.6 − 3 × 0.45 = 0.25 beyond its calls: within
        assert!(missed_goals(&now, Some(per_call)).is_empty());
        assert_eq!(missed_goals(&now, None).len(), 1);
    }

    #[test]
    fn repeats_of_the_baseline_run_its_binary() {
        assert_eq!(baseline_label(0), "bench-baseline");
        assert_eq!(baseline_label(2), "bench-baseline#3");
        assert_eq!(binary_of("bench-baseline#3"), "bench-baseline");
        assert_eq!(binary_of("connect-page"), "connect-page");
    }
}
