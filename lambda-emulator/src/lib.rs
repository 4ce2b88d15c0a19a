//! One function process run the way Lambda runs it: a runtime API of our own on loopback,
//! the binary polling `/invocation/next` and posting its answer back. Each instance records
//! when the process was spawned and when it first asked for work (the end of init). The
//! tests feed a function one event (`invoke_once`); the benchmark harness keeps an instance
//! warm and times it.

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch, Mutex};

struct Shared {
    name: String,
    events: Mutex<mpsc::UnboundedReceiver<Value>>,
    first_next: watch::Sender<Option<Instant>>,
    answers: mpsc::UnboundedSender<(Instant, Result<Value, String>)>,
    invocations: AtomicU64,
}

async fn next(State(rt): State<Arc<Shared>>) -> Result<(HeaderMap, String), StatusCode> {
    rt.first_next.send_if_modified(|t| {
        let first = t.is_none();
        if first {
            *t = Some(Instant::now());
        }
        first
    });
    let event = rt.events.lock().await.recv().await;
    let Some(event) = event else {
        // Lambda freezes an idle function here; we simply never answer.
        std::future::pending::<()>().await;
        return Err(StatusCode::GONE);
    };
    let n = rt.invocations.fetch_add(1, Ordering::Relaxed);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(30);
    let mut headers = HeaderMap::new();
    for (k, v) in [
        (
            "lambda-runtime-aws-request-id",
            format!("00000000-0000-4000-8000-{n:012}"),
        ),
        (
            "lambda-runtime-deadline-ms",
            deadline.as_millis().to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:{}", rt.name),
        ),
        (
            "lambda-runtime-trace-id",
            format!(
                "Root=1-5759e988-bd862e3fe1be46a9942727{n:02x};Parent=53995c3f42cd8ad8;Sampled=1"
            ),
        ),
        ("content-type", "application/json".to_string()),
    ] {
        headers.insert(
            k,
            HeaderValue::from_str(&v).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?,
        );
    }
    Ok((headers, event.to_string()))
}

async fn response(
    State(rt): State<Arc<Shared>>,
    UrlPath(_id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let at = Instant::now();
    let parsed =
        serde_json::from_str(&body).map_err(|e| format!("answer is not JSON ({e}): {body}"));
    let _ = rt.answers.send((at, parsed));
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(rt): State<Arc<Shared>>,
    UrlPath(_id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let _ = rt
        .answers
        .send((Instant::now(), Err(format!("invocation error: {body}"))));
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Arc<Shared>>, body: String) -> StatusCode {
    let _ = rt
        .answers
        .send((Instant::now(), Err(format!("init error: {body}"))));
    StatusCode::ACCEPTED
}

/// A running function process and the runtime API it talks to.
pub struct Instance {
    name: String,
    child: tokio::process::Child,
    events: mpsc::UnboundedSender<Value>,
    answers: mpsc::UnboundedReceiver<(Instant, Result<Value, String>)>,
    first_next: watch::Receiver<Option<Instant>>,
    server: tokio::task::JoinHandle<()>,
    spawned_at: Instant,
}

impl Instance {
    /// Spawns `binary` with `env` (and nothing else of ours: pass `PATH` when it must find
    /// programs) plus what Lambda sets; its output goes to `log`.
    pub async fn start(
        binary: &Path,
        name: &str,
        env: &HashMap<String, String>,
        log: &Path,
    ) -> Result<Instance, String> {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (answers_tx, answers_rx) = mpsc::unbounded_channel();
        let (first_tx, first_rx) = watch::channel(None);
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            events: Mutex::new(events_rx),
            first_next: first_tx,
            answers: answers_tx,
            invocations: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/01/[$LATEST]emulator")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        Ok(Instance {
            name: name.to_owned(),
            child,
            events: events_tx,
            answers: answers_rx,
            first_next: first_rx,
            server,
            spawned_at,
        })
    }

    /// Time from spawn to the first `GET /invocation/next`: what Lambda bills as init.
    pub async fn init(&mut self) -> Result<Duration, String> {
        let wait = self.first_next.wait_for(|t| t.is_some());
        let at = tokio::select! {
            r = wait => r.map_err(|e| e.to_string())?.unwrap_or(self.spawned_at),
            status = self.child.wait() => return Err(format!("{} exited during init: {status:?}", self.name)),
            _ = tokio::time::sleep(Duration::from_secs(30)) => return Err(format!("{} did not finish init within 30 s", self.name)),
        };
        Ok(at - self.spawned_at)
    }

    /// Hands over one event; returns the answer, when it arrived, and how long it took from
    /// the hand-over.
    pub async fn invoke(&mut self, event: Value) -> Result<(Value, Instant, Duration), String> {
        let sent = Instant::now();
        self.events
            .send(event)
            .map_err(|_| "runtime API closed".to_string())?;
        tokio::select! {
            r = self.answers.recv() => match r {
                Some((at, Ok(v))) => Ok((v, at, at.saturating_duration_since(sent))),
                Some((_, Err(e))) => Err(format!("{}: {e}", self.name)),
                None => Err("runtime API closed".into()),
            },
            status = self.child.wait() => Err(format!("{} exited: {status:?}", self.name)),
            _ = tokio::time::sleep(Duration::from_secs(60)) => Err(format!("{} did not answer within 60 s", self.name)),
        }
    }

    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Peak resident set (VmHWM) so far, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Instance {
    /// Kills the process and waits for it to be gone, so the next spawn has the machine.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        self.server.abort();
    }
}

/// Runs `binary` (named `name`) with `env`, invokes it once with `event` and answers its
/// response; the process is stopped afterwards. Its output goes to `log`.
pub async fn invoke_once(
    binary: &Path,
    name: &str,
    event: Value,
    env: &HashMap<String, String>,
    log: &Path,
) -> Result<Value, String> {
    let mut instance = Instance::start(binary, name, env, log).await?;
    let outcome = instance.invoke(event).await.map(|(answer, _, _)| answer);
    instance.stop().await;
    outcome.map_err(|e| format!("{e} (log: {})", log.display()))
}
