//! A small Lambda runtime API emulator: runs a real function binary the way Lambda does
//! (the binary polls `/invocation/next` and posts its response back), feeds it one event,
//! and returns what the function answered.

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

#[derive(Clone)]
struct Runtime {
    event: Arc<Mutex<Option<Value>>>,
    results: mpsc::UnboundedSender<Result<Value, String>>,
}

async fn next(State(rt): State<Runtime>) -> Result<(HeaderMap, String), StatusCode> {
    let event = rt.event.lock().map(|mut e| e.take()).ok().flatten();
    let Some(event) = event else {
        // Lambda freezes an idle function here; we simply never answer.
        std::future::pending::<()>().await;
        return Err(StatusCode::GONE);
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(30);
    let mut headers = HeaderMap::new();
    let pairs = [
        (
            "lambda-runtime-aws-request-id",
            "3f7c4a2e-8d0b-4f5e-9a61-0c2b7d9e1f34".to_string(),
        ),
        (
            "lambda-runtime-deadline-ms",
            deadline.as_millis().to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:test".to_string(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                .to_string(),
        ),
        ("content-type", "application/json".to_string()),
    ];
    for (k, v) in pairs {
        headers.insert(
            k,
            HeaderValue::from_str(&v).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?,
        );
    }
    Ok((headers, event.to_string()))
}

async fn response(
    State(rt): State<Runtime>,
    UrlPath(_id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let parsed = serde_json::from_str(&body)
        .map_err(|e| format!("function answered non-JSON ({e}): {body}"));
    let _ = rt.results.send(parsed);
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(rt): State<Runtime>,
    UrlPath(_id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let _ = rt.results.send(Err(format!(
        "function reported an invocation error: {body}"
    )));
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Runtime>, body: String) -> StatusCode {
    let _ = rt
        .results
        .send(Err(format!("function failed to initialise: {body}")));
    StatusCode::ACCEPTED
}

/// Runs `binary` with `env` (plus the variables Lambda sets), invokes it once with `event`,
/// and returns its response. The process is killed afterwards.
pub async fn invoke(
    binary: &Path,
    event: Value,
    env: &HashMap<String, String>,
) -> Result<Value, String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let rt = Runtime {
        event: Arc::new(Mutex::new(Some(event))),
        results: tx,
    };
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
        .with_state(rt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function")
        .to_owned();
    let log_path = crate::root().join(format!("target/dev/runtime-{name}.log"));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/21/[$LATEST]test")
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;

    let outcome = tokio::select! {
        r = rx.recv() => r.unwrap_or_else(|| Err("runtime API closed".into())),
        status = child.wait() => Err(format!("{name} exited before answering: {status:?}")),
        _ = tokio::time::sleep(Duration::from_secs(60)) => Err(format!("{name} did not answer within 60 s")),
    };
    let _ = child.kill().await;
    server.abort();
    outcome.map_err(|e| format!("{e} (log: {})", log_path.display()))
}
