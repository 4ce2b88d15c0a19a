//! A webhook receiver on loopback: a real HTTP server that answers from a script (status and
//! headers, one per request, then 200s) and records what it got.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

impl Hit {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
        }
    }

    pub fn with(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

#[derive(Default)]
struct Shared {
    hits: Vec<Hit>,
    script: VecDeque<Answer>,
    /// Answer this forever once the script is used up (default 200).
    then: Option<Answer>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

async fn hook(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    let answer = {
        let mut s = shared.lock().unwrap();
        s.hits.push(Hit {
            headers,
            body,
            at: Instant::now(),
        });
        s.script
            .pop_front()
            .or_else(|| s.then.clone())
            .unwrap_or(Answer::status(200))
    };
    let mut out = HeaderMap::new();
    for (k, v) in &answer.headers {
        out.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    (StatusCode::from_u16(answer.status).unwrap(), out, "")
}

impl Receiver {
    /// Answers `script` in order, then `then` (200 when `None`) for ever.
    pub async fn start(script: Vec<Answer>, then: Option<Answer>) -> Receiver {
        let shared = Arc::new(Mutex::new(Shared {
            hits: Vec::new(),
            script: script.into(),
            then,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/{*path}", post(hook))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hooks/linkgate"),
            shared,
        }
    }

    /// From now on answers `then` (200 when `None`) for ever: a receiver going down or
    /// coming back.
    pub fn answer_from_now(&self, then: Option<Answer>) {
        let mut s = self.shared.lock().unwrap();
        s.script.clear();
        s.then = then;
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.lock().unwrap().hits.clone()
    }

    /// Waits until at least `n` requests arrived (or `limit` passed) and returns them all.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Hit> {
        crate::eventually(limit, async || self.hits(), |hits| hits.len() >= n).await
    }
}
