//! Recovery: every failed delivery of one endpoint since a time, sent again as a background
//! job whose progress the API reads.
//!
//! `POST /v1/webhooks/{id}/recover` writes the job (`T#<tenant>` / `RCV#<endpoint>#<id>`)
//! and queues its first step; `webhook-recover` runs one step per message: one bounded page
//! of the endpoint's deliveries in the window, oldest first; each failed one is claimed (a
//! conditional write, so two recoveries never send one delivery twice) and gets one attempt
//! on the delivery queue; then the job's progress is saved, guarded by its step number (a
//! repeated message finds the step done and stops), and the next step queued. An attempt
//! carries the delivery's own `webhook-id`, so a receiver de-duplicates what it already has.

pub mod api;
mod repo;

use super::delivery;
use super::Endpoint;
use crate::error::ApiError;
use crate::fields::Fields;
use crate::id::{RecoveryId, TenantId, WebhookId};
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Deliveries one step examines: a step is one Query, its claims and one batch of sends,
/// well inside the function's timeout.
const PAGE: usize = 50;
/// How far back a recovery reaches: deliveries are kept this long.
const MAX_AGE_SECONDS: i64 = delivery::RETENTION_SECONDS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Completed,
    /// Stopped before the end: the endpoint was disabled or deleted meanwhile.
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recovery {
    pub id: RecoveryId,
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookId,
    #[serde(with = "time::rfc3339")]
    pub since: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub until: Timestamp,
    pub status: Status,
    /// Deliveries of the window looked at so far, and those of them sent again.
    pub examined: u64,
    pub resent: u64,
    /// Steps done; the next step's message carries this number.
    pub step: u64,
    /// The last delivery's sort key examined: the next step starts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

impl Recovery {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "endpoint_id": self.endpoint_id,
            "since": time::format(&self.since),
            "until": time::format(&self.until),
            "status": self.status,
            "examined": self.examined,
            "resent": self.resent,
            "error": self.error,
            "created_at": time::format(&self.created_at),
            "updated_at": time::format(&self.updated_at),
            "completed_at": self.completed_at,
        })
    }
}

/// One step of a job, as queued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepMessage {
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookId,
    pub recovery_id: RecoveryId,
    pub step: u64,
}

/// The window asked for: `since` within the deliveries' retention and in the past, `until`
/// (optional, at most now) after it.
pub struct Window {
    since: Timestamp,
    until: Timestamp,
}

impl Window {
    pub fn parse(body: Value, now: Timestamp) -> Result<Window, ApiError> {
        let mut f = Fields::new(body, &["since", "until"])?;
        let at = |v: &Value| {
            v.as_str()
                .and_then(time::parse)
                .ok_or_else(|| "must be an RFC 3339 time".to_string())
        };
        let oldest = now - chrono::Duration::seconds(MAX_AGE_SECONDS);
        let since = f.required("since", |v| {
            let t = at(v)?;
            if t < oldest {
                return Err(format!(
                    "must be within the last {} days: deliveries are kept that long",
                    MAX_AGE_SECONDS / 86_400
                ));
            }
            if t >= now {
                return Err("must be in the past".into());
            }
            Ok(t)
        });
        let until = f.optional("until", at);
        f.finish()?;
        let Some(since) = since else {
            return Err(ApiError::internal("required fields parsed without values"));
        };
        // Deliveries made later than now are not failed yet: the window ends now at the latest.
        let until = until.map_or(now, |u| u.min(now));
        if until <= since {
            return Err(ApiError::field("until", "must be later than since"));
        }
        Ok(Window { since, until })
    }
}

fn queue(app: &App) -> Result<&str, ApiError> {
    app.config
        .webhook_recovery_queue_url
        .as_deref()
        .ok_or_else(|| ApiError::internal("LINKGATE_WEBHOOK_RECOVERY_QUEUE_URL is not set"))
}

async fn send_step(app: &App, m: &StepMessage) -> Result<(), ApiError> {
    let body = serde_json::to_string(m).map_err(ApiError::internal)?;
    app.sqs()?
        .send_message()
        .queue_url(queue(app)?)
        .message_body(body)
        .send()
        .await
        .map_err(|e| {
            ApiError::internal(format!(
                "SQS: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            ))
        })?;
    Ok(())
}

fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("recovery", raw)
}

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// Starts a recovery of the endpoint's failed deliveries in `window`.
pub async fn start(app: &App, endpoint: &Endpoint, window: Window) -> Result<Recovery, ApiError> {
    if !endpoint.enabled {
        return Err(delivery::endpoint_disabled());
    }
    let now = time::now();
    let recovery = Recovery {
        id: RecoveryId::generate(),
        tenant_id: endpoint.tenant_id.clone(),
        endpoint_id: endpoint.id.clone(),
        since: window.since,
        until: window.until,
        status: Status::Running,
        examined: 0,
        resent: 0,
        step: 0,
        cursor: None,
        error: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    repo::create(&app.store, &recovery).await?;
    let first = StepMessage {
        tenant_id: recovery.tenant_id.clone(),
        endpoint_id: recovery.endpoint_id.clone(),
        recovery_id: recovery.id.clone(),
        step: 0,
    };
    if let Err(e) = send_step(app, &first).await {
        // Nothing was sent: say so on the job rather than leave it running forever.
        let _ = repo::finish(
            &app.store,
            &recovery,
            Status::Failed,
            Some("could not be queued; start it again"),
            time::now(),
        )
        .await;
        return Err(e);
    }
    Ok(recovery)
}

/// The endpoint's recovery `id`, or a 404.
pub async fn load(app: &App, endpoint: &Endpoint, id: &RecoveryId) -> Result<Recovery, ApiError> {
    repo::get(&app.store, &endpoint.tenant_id, &endpoint.id, id)
        .await?
        .ok_or_else(|| not_found(id.as_str()))
}

/// `webhook-recover`: one step per SQS message (batch size 1); an error makes SQS deliver
/// the message again, and the step runs again from the progress saved before it.
pub const RECOVER: crate::app::EventHandler =
    |app, event| Box::pin(async move { Ok(recover(app, event).await) });

pub async fn recover(app: &App, event: &Value) -> Value {
    let mut failures = Vec::new();
    for r in event["Records"].as_array().into_iter().flatten() {
        let id = r["messageId"].as_str().unwrap_or_default().to_owned();
        let Ok(m) = serde_json::from_str::<StepMessage>(r["body"].as_str().unwrap_or_default())
        else {
            tracing::error!(message_id = %id, "malformed recovery message dropped");
            continue;
        };
        if let Err(e) = step(app, &m).await {
            tracing::error!(message_id = %id, recovery_id = %m.recovery_id, error = %e, "recovery step failed; SQS will retry it");
            failures.push(json!({"itemIdentifier": id}));
        }
    }
    json!({"batchItemFailures": failures})
}

#[derive(Debug, PartialEq)]
enum StepAction {
    Run,
    QueueNext,
    Skip,
}

/// What a step message does, given the job as saved: run when it is the job's next step;
/// queue its successor when it is the step saved last (its successor's message may be
/// lost); nothing for a finished job or an older copy.
fn what_to_do(recovery: &Recovery, step: u64) -> StepAction {
    if recovery.status != Status::Running {
        StepAction::Skip
    } else if recovery.step == step {
        StepAction::Run
    } else if recovery.step == step + 1 {
        StepAction::QueueNext
    } else {
        StepAction::Skip
    }
}

async fn step(app: &App, m: &StepMessage) -> Result<(), ApiError> {
    let store = &app.store;
    let Some(recovery) = repo::get(store, &m.tenant_id, &m.endpoint_id, &m.recovery_id).await?
    else {
        tracing::warn!(recovery_id = %m.recovery_id, "recovery gone; message dropped");
        return Ok(());
    };
    match what_to_do(&recovery, m.step) {
        StepAction::Skip => return Ok(()),
        // Saved, but the next step may never have been queued (the send failed after the
        // save): queue it again; the step number keeps a second copy from doing anything.
        StepAction::QueueNext => {
            return send_step(
                app,
                &StepMessage {
                    step: m.step + 1,
                    ..m.clone()
                },
            )
            .await
        }
        StepAction::Run => {}
    }
    let endpoint = match super::get(store, &m.tenant_id, &m.endpoint_id).await? {
        Some(e) if e.enabled => e,
        found => {
            let why = if found.is_some() {
                "the endpoint was disabled"
            } else {
                "the endpoint was deleted"
            };
            repo::finish(store, &recovery, Status::Failed, Some(why), time::now()).await?;
            return Ok(());
        }
    };
    let page = delivery::resend_failed(
        app,
        &endpoint,
        &recovery.id,
        (recovery.since, recovery.until),
        recovery.cursor.as_deref(),
        PAGE,
    )
    .await?;
    let advanced = repo::advance(store, &recovery, &page, time::now()).await?;
    tracing::info!(recovery_id = %recovery.id, step = m.step, examined = page.examined, resent = page.resent, done = page.next.is_none(), "recovery step");
    if advanced && page.next.is_some() {
        send_step(
            app,
            &StepMessage {
                step: m.step + 1,
                ..m.clone()
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> Timestamp {
        time::parse(raw).unwrap()
    }

    #[test]
    fn a_window_is_in_the_past_and_within_retention() {
        let now = at("2026-12-03T12:00:00.000Z");
        let w = Window::parse(json!({"since": "2026-12-02T12:00:00Z"}), now).unwrap();
        assert_eq!((w.since, w.until), (at("2026-12-02T12:00:00Z"), now));
        let w = Window::parse(
            json!({"since": "2026-12-02T12:00:00Z", "until": "2026-12-05T00:00:00Z"}),
            now,
        )
        .unwrap();
        assert_eq!(w.until, now, "a future end is now");
        for (body, field) in [
            (json!({}), "since"),
            (json!({"since": "yesterday"}), "since"),
            (json!({"since": "2026-12-03T13:00:00Z"}), "since"),
            (json!({"since": "2026-10-01T00:00:00Z"}), "since"),
            (
                json!({"since": "2026-12-02T12:00:00Z", "until": "2026-12-01T00:00:00Z"}),
                "until",
            ),
            (
                json!({"since": "2026-12-02T12:00:00Z", "until": 5}),
                "until",
            ),
            (
                json!({"since": "2026-12-02T12:00:00Z", "from": "x"}),
                "from",
            ),
        ] {
            let e = Window::parse(body.clone(), now).err().unwrap();
            assert!(
                format!("{e:?}").contains(field),
                "{body} should name {field}: {e:?}"
            );
        }
    }

    #[test]
    fn a_step_runs_once_and_a_lost_successor_is_queued_again() {
        let now = time::now();
        let mut r = Recovery {
            id: RecoveryId::generate(),
            tenant_id: TenantId::generate(),
            endpoint_id: WebhookId::generate(),
            since: now,
            until: now,
            status: Status::Running,
            examined: 0,
            resent: 0,
            step: 3,
            cursor: None,
            error: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        assert_eq!(what_to_do(&r, 3), StepAction::Run);
        assert_eq!(what_to_do(&r, 2), StepAction::QueueNext);
        assert_eq!(what_to_do(&r, 1), StepAction::Skip);
        assert_eq!(what_to_do(&r, 4), StepAction::Skip);
        r.status = Status::Completed;
        assert_eq!(what_to_do(&r, 3), StepAction::Skip);
        assert_eq!(what_to_do(&r, 2), StepAction::Skip);
    }

    #[test]
    fn step_messages_round_trip() {
        let m = StepMessage {
            tenant_id: TenantId::generate(),
            endpoint_id: WebhookId::generate(),
            recovery_id: RecoveryId::generate(),
            step: 3,
        };
        let back: StepMessage = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!((back.recovery_id, back.step), (m.recovery_id, 3));
    }
}
