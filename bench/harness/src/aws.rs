//! The AWS side of the bench: a moto server of its own, and a proxy in front of it that
//! counts every call a function makes and times how long AWS took to answer it (the floor).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request a function sent to AWS, and how long the proxy held it: from having the
/// whole request to handing its answer back. The proxy's own work (reading headers,
/// forwarding, copying the answer) is the bench's, not the function's, so it counts with
/// AWS's time in the floor; what is left to the function is its own work and the hop.
#[derive(Clone, Debug)]
pub struct Call {
    pub service: String,
    pub operation: String,
    held: (Instant, Instant),
}

/// `DynamoDB_20120810.GetItem` → (`dynamodb`, `GetItem`); query-protocol calls by `Action`.
fn classify(headers: &HeaderMap, body: &[u8]) -> (String, String) {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let service = match prefix {
            p if p.starts_with("DynamoDB") => "dynamodb",
            "TrentService" => "kms",
            "AWSEvents" => "events",
            "AmazonSQS" => "sqs",
            other => other,
        };
        return (service.to_owned(), op.to_owned());
    }
    let text = String::from_utf8_lossy(body);
    let action = text
        .split('&')
        .find_map(|p| p.strip_prefix("Action="))
        .unwrap_or("unknown");
    ("other".to_owned(), action.to_owned())
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    calls: Arc<Mutex<Vec<Call>>>,
}

async fn forward(
    State(st): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    let (service, operation) = classify(&headers, &body);
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = st
        .client
        .request(method, format!("{}{path_and_query}", st.upstream));
    for (k, v) in &headers {
        if !matches!(k.as_str(), "host" | "content-length" | "connection") {
            req = req.header(k, v);
        }
    }
    let answer = answer(req.body(body)).await;
    let resp = match answer {
        Ok((status, headers, body)) => {
            let mut resp = (status, body).into_response();
            for (k, v) in headers.iter() {
                if !matches!(
                    k.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    resp.headers_mut().insert(k.clone(), v.clone());
                }
            }
            resp
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
    };
    let call = Call {
        service,
        operation,
        held: (received, Instant::now()),
    };
    if let Ok(mut calls) = st.calls.lock() {
        calls.push(call);
    }
    resp
}

async fn answer(req: reqwest::RequestBuilder) -> Result<(StatusCode, HeaderMap, Bytes), String> {
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, headers, body))
}

/// The proxy functions use as their AWS endpoint.
pub struct Proxy {
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Result<Proxy, String> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| e.to_string())?;
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            upstream: upstream.to_owned(),
            client,
            calls: calls.clone(),
        };
        let app = Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Proxy { url, calls, server })
    }

    /// The calls made since the last `take`.
    pub fn take(&self) -> Vec<Call> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// How long at least one of `calls` was held by the proxy: the union of their intervals,
/// so calls a function makes concurrently are not counted twice.
pub fn held_by_proxy(calls: &[Call]) -> Duration {
    let mut spans: Vec<(Instant, Instant)> = calls.iter().map(|c| c.held).collect();
    spans.sort_by_key(|s| s.0);
    let mut total = Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (start, end) in spans {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total
}

/// Calls per service and operation, e.g. `dynamodb` → {`GetItem`: 1}.
pub fn tally(calls: &[Call]) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut out: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    for c in calls {
        *out.entry(c.service.clone())
            .or_default()
            .entry(c.operation.clone())
            .or_default() += 1;
    }
    out
}

/// A moto server on a free port, stopped when dropped.
pub struct Moto {
    pub url: String,
    child: tokio::process::Child,
}

impl Moto {
    pub async fn start(python: &Path, root: &Path, log: &Path) -> Result<Moto, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let out = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new(python)
            .arg(root.join("scripts/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start moto with {}: {e}", python.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client.get(format!("{url}/moto-api/")).send().await {
                if r.status().is_success() {
                    return Ok(Moto { url, child });
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "moto did not start within 30 s (see {})",
            log.display()
        ))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A webhook receiver on loopback that accepts everything.
pub async fn receiver() -> Result<String, String> {
    let app = Router::new().fallback(|| async { StatusCode::NO_CONTENT });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_between(base: Instant, from_ms: u64, to_ms: u64) -> Call {
        Call {
            service: "dynamodb".into(),
            operation: "GetItem".into(),
            held: (
                base + Duration::from_millis(from_ms),
                base + Duration::from_millis(to_ms),
            ),
        }
    }

    #[test]
    fn overlapping_calls_count_once_and_gaps_not_at_all() {
        let t = Instant::now();
        let calls = [
            call_between(t, 10, 14),
            call_between(t, 0, 3),
            call_between(t, 12, 20), // concurrent with the first
            call_between(t, 5, 6),
        ];
        assert_eq!(held_by_proxy(&calls), Duration::from_millis(3 + 1 + 10));
        assert_eq!(held_by_proxy(&[]), Duration::ZERO);
    }
}
