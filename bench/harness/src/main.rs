//! `make bench`: every function measured the way Lambda runs it, against a bare `lambda_http`
//! baseline in the same run. See bench/README.md for what each number means.

mod aws;
mod hot;
mod report;
mod scenarios;

use clap::Parser;
use report::{Cold, Measured, Warm};
use scenarios::{check, produced_body, Ctx};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Functions in the order they are measured: later scenarios reuse what earlier ones made
/// (connect pages open the links connections-create made, and so on). Scans of a whole
/// table (the refresher's index queries) and lists come before the bulk creations, because
/// moto's reads grow with what is stored.
const ORDER: &[&str] = &[
    "health",
    "chift-token",
    "route-fallback",
    "providers-list",
    "providers-custom-list",
    "providers-custom-get",
    "providers-custom-update",
    "providers-custom-create",
    "providers-custom-delete",
    "token-refresher",
    "reminder-sender",
    "event-relay",
    "settings-get",
    "settings-update",
    "integrations-list",
    "integrations-get",
    "integrations-update",
    "integrations-logo",
    "integrations-create",
    "webhooks-create",
    "webhooks-delete",
    "webhooks-list",
    "webhooks-get",
    "webhooks-update",
    "webhooks-rotate-secret",
    "webhooks-test",
    "webhooks-deliveries",
    "webhooks-retry",
    "webhooks-recover",
    "webhooks-recovery",
    "webhook-recover",
    "webhook-deliver",
    "webhook-fanout",
    "consumers-list",
    "consumers-get",
    "consumers-update",
    "consumers-create",
    "consumers-delete",
    "connections-list",
    "links-list",
    "connections-create",
    "connect-page",
    "connect-submit",
    "connections-get",
    "connections-update",
    "connections-credentials",
    "connections-check",
    "connection-links-create",
    "portal-links-create",
    "portal-page",
    "portal-action",
    "console-action",
    "console-page",
    "links-get",
    "events-list",
    "events-get",
    "links-send",
    "links-revoke",
    "connections-revoke",
    "credentials-create",
    "connections-import",
    "integrations-connect",
    "connect-oauth",
    "oauth-callback",
];

pub const BASELINE: &str = "bench-baseline";

#[derive(Parser)]
#[command(about = "Measure every Linkgate function against a bare lambda_http baseline")]
struct Args {
    /// Directory holding the function binaries (`<name>` or `<name>/bootstrap`).
    #[arg(long, default_value = "target/lambda")]
    bins: PathBuf,
    /// Directory holding cargo-lambda's `<function>/bootstrap.zip`; sizes are only reported
    /// when given.
    #[arg(long)]
    zips: Option<PathBuf>,
    /// Cold starts per function (and for the baseline).
    #[arg(long, default_value_t = 20)]
    spawns: usize,
    /// Warm invocations per function.
    #[arg(long, default_value_t = 1000)]
    invocations: usize,
    /// Only these functions (comma-separated); the ones they depend on run too.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where RESULTS.md and results.json go.
    #[arg(long, default_value = "bench")]
    out: PathBuf,
    /// Python with moto installed (the local stack's virtualenv).
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// What the binaries are, for the report (e.g. "release, x86_64, cargo lambda build").
    #[arg(
        long,
        default_value = "release profile, cargo lambda build --release --x86-64"
    )]
    build: String,
    /// Only the hot path (`hot::HOT`), compared with `--accepted` (see bench/README.md).
    #[arg(long)]
    hot: bool,
    /// How many times the baseline is measured, spread over the run: how far its repeats
    /// disagree is the run's noise.
    #[arg(long, default_value_t = 1)]
    baseline_repeats: usize,
    /// The accepted hot run, compared with in `--hot` runs.
    #[arg(long, default_value = "bench/hot-baseline.json")]
    accepted: PathBuf,
    /// Make this hot run the accepted one (writes `--accepted`).
    #[arg(long)]
    accept: bool,
}

/// A function's binary: `<dir>/<name>` (cargo's layout) or `<dir>/<name>/bootstrap`
/// (cargo lambda's, which moves release binaries there).
pub fn binary(dir: &Path, name: &str) -> PathBuf {
    let plain = dir.join(name);
    if plain.is_file() {
        plain
    } else {
        plain.join("bootstrap")
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// function → (method, path) from the router in Cargo.toml (itself checked against
/// template.yaml by the contract tests).
fn routes() -> Result<HashMap<String, (String, String)>, String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let doc: toml::Value = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let router = doc
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("lambda"))
        .and_then(|l| l.get("watch"))
        .and_then(|w| w.get("router"))
        .and_then(|r| r.as_table())
        .ok_or("no [workspace.metadata.lambda.watch.router] in Cargo.toml")?;
    let mut out = HashMap::new();
    for (path, entries) in router {
        for e in entries.as_array().into_iter().flatten() {
            if let (Some(m), Some(f)) = (
                e.get("method").and_then(|v| v.as_str()),
                e.get("function").and_then(|v| v.as_str()),
            ) {
                // A function serving a dialect's route too is measured on its own (the
                // dialects are measured against it afterwards, see `dialects`).
                let dialect = path.starts_with("/compat/");
                if !dialect || !out.contains_key(f) {
                    out.insert(f.to_owned(), (m.to_owned(), path.clone()));
                }
            }
        }
    }
    // The baseline answers any path; give it one. The `$default` route's function is not in
    // the router (it takes what no route does): a request for a path with another method.
    out.insert(BASELINE.to_owned(), ("GET".into(), "/".into()));
    out.insert(hot::SDK_FLOOR.to_owned(), ("GET".into(), "/".into()));
    out.insert(
        "route-fallback".to_owned(),
        ("DELETE".into(), "/v1/settings".into()),
    );
    Ok(out)
}

fn functions() -> Result<Vec<String>, String> {
    let mut found: Vec<String> = std::fs::read_dir(root().join("functions/src/bin"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    found.sort();
    let missing: Vec<&String> = found
        .iter()
        .filter(|f| !ORDER.contains(&f.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "functions without a place in the bench's ORDER: {missing:?}"
        ));
    }
    Ok(ORDER.iter().map(|s| s.to_string()).collect())
}

async fn local_env(python: &Path, moto_port: u16) -> Result<HashMap<String, String>, String> {
    let out = tokio::process::Command::new(python)
        .arg(root().join("scripts/stack.py"))
        .arg("resources")
        .env("LINKGATE_MOTO_PORT", moto_port.to_string())
        .current_dir(root())
        .output()
        .await
        .map_err(|e| format!("stack.py resources: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "stack.py resources failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let mut env: HashMap<String, String> = v["function_env"]
        .as_object()
        .ok_or("no function_env")?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    // Deployed settings, not the developer machine's: the default key cache, JSON logs.
    env.remove("LINKGATE_API_KEY_CACHE_SECONDS");
    env.remove("LINKGATE_TENANT_CACHE_SECONDS");
    env.insert("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into());
    // The bench measures the functions, not the tenant limits: its one tenant creates an
    // endpoint and sends an email per invocation, far past what a tenant may.
    env.insert("LINKGATE_MAX_WEBHOOK_ENDPOINTS".into(), "100000".into());
    env.insert("LINKGATE_MAX_EMAILS_PER_HOUR".into(), "1000000".into());
    Ok(env)
}

/// Init of every function and the baseline, `spawns` times each, taken in turn (one spawn of
/// each per round, so drift on the machine falls on all alike) while moto is idle and empty.
async fn quiet_inits(
    ctx: &Ctx,
    args: &Args,
    functions: &[&str],
) -> Result<HashMap<String, Vec<Duration>>, String> {
    let mut inits: HashMap<String, Vec<Duration>> = HashMap::new();
    for _ in 0..args.spawns {
        for f in functions {
            let log = ctx.logs.join(format!("{f}.log"));
            let mut instance = lambda_emulator::Instance::start(
                &binary(&args.bins, hot::binary_of(f)),
                f,
                &ctx.env,
                &log,
            )
            .await?;
            let init = instance.init().await?;
            instance.stop().await;
            inits.entry((*f).to_owned()).or_default().push(init);
        }
    }
    Ok(inits)
}

async fn measure(
    ctx: &mut Ctx,
    proxy: &aws::Proxy,
    args: &Args,
    label: &str,
    init: Vec<Duration>,
) -> Result<Measured, String> {
    // a label is the function, or a repeat of the baseline (`bench-baseline#2`)
    let function = hot::binary_of(label);
    let scenario = ctx
        .scenario(function, args.invocations + args.spawns)
        .await?;
    ctx.stop_setup();
    let binary = binary(&args.bins, function);
    let log = ctx.logs.join(format!("{function}.log"));
    let mut produced = Vec::new();

    // Warm: one process, every invocation timed from hand-over to answer.
    proxy.take();
    let mut instance = lambda_emulator::Instance::start(&binary, function, &ctx.env, &log).await?;
    instance.init().await?;
    let mut latencies = Vec::with_capacity(args.invocations);
    let mut floor = Vec::with_capacity(args.invocations);
    let mut first_calls = Vec::new();
    let mut last_calls = Vec::new();
    for (i, event) in scenario.events[..args.invocations].iter().enumerate() {
        proxy.take();
        let (answer, _, took) = instance.invoke(event.clone()).await?;
        check(scenario.expect, &answer).map_err(|e| format!("{function} (warm #{i}): {e}"))?;
        produced.push(produced_body(&answer));
        latencies.push(took);
        let calls = proxy.take();
        floor.push(aws::held_by_proxy(&calls));
        if i == 0 {
            first_calls = calls.clone();
        }
        last_calls = calls;
    }
    let rss_kib = instance.peak_rss_kib().unwrap_or(0);
    drop(instance);

    // Cold: a fresh process per event.
    let mut cold = Vec::with_capacity(args.spawns);
    for (j, event) in scenario.events[args.invocations..].iter().enumerate() {
        proxy.take();
        let mut instance =
            lambda_emulator::Instance::start(&binary, function, &ctx.env, &log).await?;
        instance.init().await?;
        let (answer, at, _) = instance.invoke(event.clone()).await?;
        check(scenario.expect, &answer).map_err(|e| format!("{function} (cold #{j}): {e}"))?;
        produced.push(produced_body(&answer));
        cold.push(Cold {
            first_invoke: at - instance.spawned_at(),
            rss_kib: instance.peak_rss_kib().unwrap_or(0),
        });
    }
    proxy.take();
    ctx.produced.insert(function.to_owned(), produced);

    let zip_bytes = args
        .zips
        .as_ref()
        .and_then(|z| std::fs::metadata(z.join(function).join("bootstrap.zip")).ok())
        .map(|m| m.len());
    Ok(Measured {
        function: label.to_owned(),
        what: scenario.what.to_owned(),
        binary_bytes: std::fs::metadata(&binary).map(|m| m.len()).ok(),
        zip_bytes,
        init,
        cold,
        warm: Warm {
            latencies,
            floor,
            rss_kib,
            first_calls: aws::tally(&first_calls),
            steady_calls: aws::tally(&last_calls),
        },
        minimum: scenario.minimum,
    })
}

/// Each dialect's form of an operation, invoked on a warm instance of its function: the
/// steady DynamoDB calls against the native scenarios' (a count, not a time).
async fn dialects(
    ctx: &mut Ctx,
    proxy: &aws::Proxy,
    args: &Args,
    results: &[Measured],
) -> Result<Vec<report::DialectRow>, String> {
    const COUNT: usize = 3;
    let scenarios = ctx.dialect_scenarios(COUNT).await?;
    ctx.stop_setup();
    let mut rows = Vec::new();
    for sc in scenarios {
        let mut native = 0;
        for n in sc.native {
            let m = results
                .iter()
                .find(|m| m.function == *n)
                .ok_or_else(|| format!("{}: {n} was not measured", sc.what))?;
            native += report::count(&m.warm.steady_calls, "dynamodb");
        }
        let log = ctx.logs.join(format!("{}-dialect.log", sc.function));
        let mut instance = lambda_emulator::Instance::start(
            &binary(&args.bins, sc.function),
            sc.function,
            &ctx.env,
            &log,
        )
        .await?;
        instance.init().await?;
        let mut last = Vec::new();
        for (i, event) in sc.events.into_iter().enumerate() {
            proxy.take();
            let (answer, _, _) = instance.invoke(event).await?;
            match scenarios::status(&answer) {
                Some(200..=299) => {}
                _ => return Err(format!("{} (#{i}) answered {answer}", sc.what)),
            }
            last = proxy.take();
        }
        rows.push(report::DialectRow {
            what: sc.what.to_owned(),
            function: sc.function.to_owned(),
            dynamodb: report::count(&aws::tally(&last), "dynamodb"),
            native,
            native_of: sc.native.iter().map(|s| s.to_string()).collect(),
            lookups: sc.lookups,
            why: sc.why.to_owned(),
        });
    }
    Ok(rows)
}

/// How a run ended, when it ran to the end.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Measured,
    /// Some functions failed to build, start or answer (printed as they failed).
    Unmeasured,
    /// A hot run in which a figure got worse than the accepted run's beyond the noise.
    Worse,
}

async fn run(args: Args) -> Result<Outcome, String> {
    let root = root();
    std::env::set_current_dir(&root).map_err(|e| e.to_string())?;
    let logs = root.join("target/bench/logs");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let all = functions()?;
    let wanted: Vec<String> = if args.hot {
        hot::HOT
            .iter()
            .chain([&hot::SDK_FLOOR])
            .map(|s| s.to_string())
            .collect()
    } else if args.only.is_empty() {
        all
    } else {
        // Everything up to the last wanted function: later scenarios reuse earlier fixtures.
        let last = all
            .iter()
            .rposition(|f| args.only.contains(f))
            .ok_or("--only names no function")?;
        all[..=last].to_vec()
    };
    let setup: &[&str] = if args.hot { hot::SETUP } else { &[] };
    for f in wanted
        .iter()
        .map(String::as_str)
        .chain([BASELINE])
        .chain(setup.iter().copied())
    {
        if !binary(&args.bins, f).is_file() {
            return Err(format!(
                "{} is missing: build first (make bench builds everything)",
                binary(&args.bins, f).display()
            ));
        }
    }

    let moto = aws::Moto::start(&args.python, &root, &logs.join("moto.log")).await?;
    let port = moto
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("moto URL without port")?;
    let mut env = local_env(&args.python, port).await?;
    let proxy = aws::Proxy::start(&moto.url).await?;
    env.insert("AWS_ENDPOINT_URL".into(), proxy.url.clone());

    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(linkgate::aws::http_client())
        .endpoint_url(&moto.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .load()
        .await;
    let table = env
        .get("LINKGATE_TABLE")
        .cloned()
        .ok_or("no LINKGATE_TABLE")?;
    let store = linkgate::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let receiver = aws::receiver().await?;
    let mut ctx = Ctx::new(
        args.bins.clone(),
        env,
        logs.clone(),
        routes()?,
        store,
        receiver,
    )
    .await?;

    // The baseline's repeats are spread over the run, so drift on the machine shows in them.
    let repeats = args.baseline_repeats.max(1);
    let baselines: Vec<String> = (0..repeats).map(hot::baseline_label).collect();
    let every = wanted.len().div_ceil(repeats).max(1);
    let mut order: Vec<String> = Vec::new();
    for (i, f) in wanted.iter().enumerate() {
        if i % every == 0 {
            order.push(baselines[i / every].clone());
        }
        order.push(f.clone());
    }
    for b in &baselines {
        if !order.contains(b) {
            order.push(b.clone());
        }
    }
    let everything: Vec<&str> = order.iter().map(String::as_str).collect();
    eprintln!(
        "[bench] init of {} binaries, {} rounds",
        everything.len(),
        args.spawns
    );
    let mut inits = quiet_inits(&ctx, &args, &everything).await?;
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for f in &order {
        eprintln!("[bench] {f}");
        let init = inits.remove(f.as_str()).unwrap_or_default();
        match measure(&mut ctx, &proxy, &args, f, init).await {
            Ok(m) => results.push(m),
            Err(e) if hot::binary_of(f) == BASELINE => return Err(format!("{f}: {e}")),
            Err(e) => {
                eprintln!("[bench] {f} FAILED: {e}");
                failed.push((f.clone(), e));
            }
        }
    }
    let dialects = if args.only.is_empty() && !args.hot {
        eprintln!("[bench] dialects");
        match dialects(&mut ctx, &proxy, &args, &results).await {
            Ok(rows) => rows,
            Err(e) => {
                failed.push(("dialects".into(), e));
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    for d in dialects.iter().filter(|d| !d.within()) {
        failed.push((
            d.function.clone(),
            format!(
                "{}: {} DynamoDB calls, more than the native {} and {} lookup(s)",
                d.what, d.dynamodb, d.native, d.lookups
            ),
        ));
    }
    let keep: Vec<Measured> = if args.only.is_empty() {
        results
    } else {
        results
            .into_iter()
            .filter(|m| hot::binary_of(&m.function) == BASELINE || args.only.contains(&m.function))
            .collect()
    };
    let settings = report::Settings {
        spawns: args.spawns,
        invocations: args.invocations,
        build: args.build.clone(),
    };
    std::fs::create_dir_all(&args.out).map_err(|e| e.to_string())?;
    report::write(&args.out, &settings, &keep, &dialects, &failed)?;
    eprintln!(
        "[bench] wrote {} and {}",
        args.out.join("RESULTS.md").display(),
        args.out.join("results.json").display()
    );
    let mut worse = false;
    if args.hot {
        worse = hot_verdict(&args, &keep)?;
    }
    drop(moto);
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(if !failed.is_empty() {
        Outcome::Unmeasured
    } else if worse {
        Outcome::Worse
    } else {
        Outcome::Measured
    })
}

/// A hot run against the accepted one: the table and what moved, printed and kept in
/// `--out` (hot.md, hot.json); `--accept` makes it the accepted run. True if a figure got
/// worse beyond the noise (and the run was not accepted).
fn hot_verdict(args: &Args, results: &[Measured]) -> Result<bool, String> {
    let now = hot::figures(
        results,
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        report::machine(),
        serde_json::json!({"spawns": args.spawns, "invocations": args.invocations,
                           "baseline_repeats": args.baseline_repeats, "build": args.build}),
    );
    let accepted = hot::load(&args.accepted)?;
    let changes = accepted
        .as_ref()
        .map(|a| hot::compare(a, &now))
        .unwrap_or_default();
    let mut text = hot::render(accepted.as_ref(), &now, &changes);
    let per_call = hot::per_call_ms(&now);
    if let Some(c) = per_call {
        text.push_str(&format!(
            "\nOne DynamoDB call adds {c:.2} ms of overhead in this run (the SDK's work and the hop to the counting proxy).\n"
        ));
    }
    if let Some(line) = hot::sdk_floor_line(&now) {
        text.push_str(&line);
    }
    let missed = hot::missed_goals(&now, per_call);
    if missed.is_empty() {
        text.push_str("\nEvery hot-path function meets its goals.\n");
    } else {
        text.push_str("\nGoals missed:\n");
        for m in &missed {
            text.push_str(&format!("- {m}\n"));
        }
    }
    println!("{text}");
    std::fs::write(args.out.join("hot.md"), &text).map_err(|e| e.to_string())?;
    hot::save(&args.out.join("hot.json"), &now)?;
    if args.accept {
        hot::save(&args.accepted, &now)?;
        eprintln!("[bench] accepted: wrote {}", args.accepted.display());
        return Ok(false);
    }
    Ok(changes.iter().any(|c| c.verdict == hot::Verdict::Worse))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(Outcome::Measured) => std::process::ExitCode::SUCCESS,
        Ok(Outcome::Unmeasured) => {
            eprintln!("[bench] some functions could not be measured (see above)");
            std::process::ExitCode::FAILURE
        }
        Ok(Outcome::Worse) => {
            eprintln!("[bench] figures got worse than the accepted run's (listed above)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("[bench] {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
