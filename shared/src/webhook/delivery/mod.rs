//! Deliveries: every event to every enabled endpoint that wants it, signed, retried on a
//! schedule, logged attempt by attempt, and never lost.
//!
//! EventBridge rule → `webhook-fanout` writes one delivery per endpoint (`T#<tenant>` /
//! `DLV#<endpoint>#<delivery>`, its id derived from the event's, so a repeated fan-out finds
//! it) and queues one message each → `webhook-deliver` makes one attempt per message. A
//! failed attempt queues the next with its delay (SQS holds a message at most 15 minutes, so
//! longer waits hop through the queue); 410 disables the endpoint; after the last attempt the
//! message goes to the dead-letter queue and the delivery is `failed`.

use super::{signing, Endpoint, TEST_EVENT};
use crate::error::ApiError;
use crate::id::{DeliveryId, EventId, RecoveryId, TenantId, WebhookId};
use crate::outbound::OutboundUrl;
use crate::time;
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Instant;

pub mod api;
mod repo;

pub use repo::RETENTION_SECONDS;

/// SQS's longest message delay.
const MAX_QUEUE_DELAY: u64 = 900;
/// A receiver's `Retry-After` is honoured up to this.
const MAX_RETRY_AFTER: u64 = 10 * 60 * 60;

/// One queued attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookId,
    pub delivery_id: DeliveryId,
    /// 1-based.
    pub attempt: u32,
    /// Epoch milliseconds before which the attempt must not run.
    pub not_before: i64,
    /// A retry asked for through the API: one attempt, no schedule after it.
    #[serde(default)]
    pub manual: bool,
}

impl Message {
    /// One attempt of `delivery` now, outside its schedule (a retry or a recovery), numbered
    /// after the attempts it has logged.
    fn one_more(endpoint: &Endpoint, delivery: DeliveryId, logged: &repo::Record) -> Message {
        Message {
            tenant_id: endpoint.tenant_id.clone(),
            endpoint_id: endpoint.id.clone(),
            delivery_id: delivery,
            attempt: u32::try_from(logged.attempts().len() + 1).unwrap_or(u32::MAX),
            not_before: 0,
            manual: true,
        }
    }
}

fn sqs_error<E: std::fmt::Display>(e: E) -> ApiError {
    ApiError::internal(format!("SQS: {e}"))
}

/// What an event looks like on the wire (the body of every attempt, byte for byte).
pub fn payload(id: &EventId, kind: &str, timestamp: &str, data: &Value) -> String {
    json!({"id": id, "type": kind, "timestamp": timestamp, "data": data}).to_string()
}

/// Writes the delivery (unless a previous fan-out did) and tells whether it still needs its
/// first message.
async fn record_delivery(
    app: &App,
    endpoint: &Endpoint,
    event_id: &EventId,
    kind: &str,
    body: &str,
) -> Result<Option<DeliveryId>, ApiError> {
    let delivery = DeliveryId::of(event_id);
    let new = repo::New {
        endpoint,
        delivery: &delivery,
        event_id,
        kind,
        body,
    };
    if repo::create(&app.store, &new, chrono::Utc::now()).await? {
        return Ok(Some(delivery));
    }
    // Fanned out before: queue again only if the message never left.
    let existing = repo::get(&app.store, &endpoint.tenant_id, &endpoint.id, &delivery).await?;
    let queued = existing.is_some_and(|d| d.was_enqueued());
    Ok((!queued).then_some(delivery))
}

async fn enqueue(app: &App, messages: &[(Message, u64)]) -> Result<(), ApiError> {
    let queue = app
        .config
        .webhook_queue_url
        .as_deref()
        .ok_or_else(|| ApiError::internal("LINKGATE_WEBHOOK_QUEUE_URL is not set"))?;
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, (m, delay))| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::to_string(m).unwrap_or_default())
                    .delay_seconds(i32::try_from((*delay).min(MAX_QUEUE_DELAY)).unwrap_or(0))
                    .build()
                    .map_err(sqs_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = app
            .sqs()?
            .send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sqs_error(aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        if !out.failed().is_empty() {
            return Err(sqs_error(format!(
                "{} messages refused",
                out.failed().len()
            )));
        }
    }
    Ok(())
}

async fn mark_enqueued(app: &App, m: &Message) -> Result<(), ApiError> {
    Ok(repo::mark_enqueued(&app.store, m, time::now()).await?)
}

/// `webhook-fanout`: one EventBridge event (`detail = {id, type, tenant_id, occurred_at,
/// data}`) to every enabled endpoint of its tenant that wants its type. An error makes the
/// invocation fail, and the caller's retry finds the deliveries already written.
/// The `webhook-fanout` function (see `run::event`).
pub const FAN_OUT: crate::app::EventHandler = |app, event| Box::pin(fan_out(app, event));

/// The `webhook-deliver` function: its answer is the batch's failures, never an error.
pub const DELIVER: crate::app::EventHandler =
    |app, event| Box::pin(async move { Ok(deliver(app, event).await) });

pub async fn fan_out(app: &App, event: &Value) -> Result<Value, ApiError> {
    let detail = &event["detail"];
    let (Some(tenant), Some(event_id), Some(kind)) = (
        detail["tenant_id"].as_str().and_then(TenantId::parse),
        detail["id"].as_str().and_then(EventId::parse),
        detail["type"].as_str(),
    ) else {
        tracing::warn!("not a Linkgate event; ignored");
        return Ok(json!({"deliveries": 0}));
    };
    let timestamp = detail["occurred_at"].as_str().unwrap_or_default();
    let body = payload(&event_id, kind, timestamp, &detail["data"]);
    let endpoints = super::all(&app.store, &tenant).await?;
    let mut messages = Vec::new();
    for endpoint in endpoints.iter().filter(|e| e.wants(kind)) {
        if let Some(delivery) = record_delivery(app, endpoint, &event_id, kind, &body).await? {
            messages.push((
                Message {
                    tenant_id: tenant.clone(),
                    endpoint_id: endpoint.id.clone(),
                    delivery_id: delivery,
                    attempt: 1,
                    not_before: 0,
                    manual: false,
                },
                0,
            ));
        }
    }
    enqueue(app, &messages).await?;
    for (m, _) in &messages {
        mark_enqueued(app, m).await?;
    }
    tracing::info!(event_id = %event_id, deliveries = messages.len(), "fanned out");
    Ok(json!({"deliveries": messages.len()}))
}

/// How one attempt ended.
#[derive(Debug)]
enum Attempt {
    Delivered,
    Gone,
    Failed { retry_after: Option<u64> },
}

struct AttemptLog {
    outcome: Attempt,
    status_code: Option<u16>,
    error: Option<String>,
    latency_ms: u64,
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    Some(u64::try_from((at.timestamp() - chrono::Utc::now().timestamp()).max(0)).unwrap_or(0))
}

/// One signed POST, to addresses checked just now (not to whatever the name resolves to a
/// moment later), redirects not followed.
async fn attempt(app: &App, endpoint: &Endpoint, event_id: &str, body: &str) -> AttemptLog {
    let started = Instant::now();
    let failed = |error: String| AttemptLog {
        outcome: Attempt::Failed { retry_after: None },
        status_code: None,
        error: Some(error),
        latency_ms: 0,
    };
    let allow = app.outbound_allowed(false);
    let url = match OutboundUrl::parse(&endpoint.url, &allow) {
        Ok(u) => u,
        Err(e) => return failed(format!("refused: the URL {e}")),
    };
    let secrets = match endpoint.live_secrets(app).await {
        Ok(s) => s,
        Err(e) => return failed(format!("internal: {e}")),
    };
    // Shared, so deliveries to one receiver reuse the connection; its resolver checks the
    // addresses connected to.
    let client = match app.outbound(false) {
        Ok(c) => c,
        Err(e) => return failed(format!("internal: {e}")),
    };
    let timestamp = chrono::Utc::now().timestamp();
    let sent = client
        .post(url.as_str())
        .timeout(app.config.webhook_timeout)
        .header("user-agent", "Linkgate-Webhooks/1")
        .header("content-type", "application/json")
        .header("webhook-id", event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signing::sign(&secrets, event_id, timestamp, body.as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match sent {
        Err(e) => AttemptLog {
            error: Some(crate::outbound::failure(&e)),
            latency_ms,
            ..failed(String::new())
        },
        Ok(resp) => {
            let status = resp.status();
            let outcome = if status.is_success() {
                Attempt::Delivered
            } else if status.as_u16() == 410 {
                Attempt::Gone
            } else if status.as_u16() == 429 || status.as_u16() == 503 {
                Attempt::Failed {
                    retry_after: retry_after(resp.headers()),
                }
            } else {
                Attempt::Failed { retry_after: None }
            };
            AttemptLog {
                outcome,
                status_code: Some(status.as_u16()),
                error: status
                    .is_redirection()
                    .then(|| "redirect not followed".to_string()),
                latency_ms,
            }
        }
    }
}

/// The delay before attempt `next` (1-based), or `None` when the schedule is done.
pub fn next_delay(schedule: &[u64], next: u32, retry_after: Option<u64>) -> Option<u64> {
    let planned = *schedule.get(usize::try_from(next).ok()?.checked_sub(1)?)?;
    Some(retry_after.map_or(planned, |r| r.min(MAX_RETRY_AFTER).max(planned)))
}

async fn requeue(app: &App, m: Message, delay: u64) -> Result<(), ApiError> {
    enqueue(app, &[(m, delay)]).await
}

async fn to_dead_letters(app: &App, m: &Message, reason: &str) -> Result<(), ApiError> {
    let Some(dlq) = app.config.webhook_dlq_url.as_deref() else {
        return Err(ApiError::internal("LINKGATE_WEBHOOK_DLQ_URL is not set"));
    };
    app.sqs()?
        .send_message()
        .queue_url(dlq)
        .message_body(json!({"message": m, "reason": reason}).to_string())
        .send()
        .await
        .map_err(|e| sqs_error(aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    Ok(())
}

async fn set_status(
    app: &App,
    m: &Message,
    status: &str,
    log: Option<&AttemptLog>,
    next_retry_at: Option<String>,
) -> Result<(), ApiError> {
    let attempt = log.map(|l| repo::AttemptRecord {
        attempt: m.attempt,
        status_code: l.status_code,
        error: l.error.as_deref(),
        latency_ms: l.latency_ms,
    });
    Ok(repo::set_status(
        &app.store,
        m,
        status,
        attempt.as_ref(),
        next_retry_at,
        time::now(),
    )
    .await?)
}

/// The endpoint's run of failures after an attempt. Logged, not raised: the attempt and
/// its next step are recorded already, and SQS running the message again would repeat them.
async fn record_health(app: &App, endpoint: &Endpoint, succeeded: bool) {
    if let Err(e) = super::record_attempt(app, endpoint, succeeded).await {
        tracing::error!(endpoint_id = %endpoint.id, error = %e, "endpoint health not recorded");
    }
}

/// The attempt, in the console's counts. Logged, not raised, like the endpoint's health.
async fn count_attempt(app: &App, m: &Message, log: &AttemptLog) {
    let succeeded = matches!(log.outcome, Attempt::Delivered);
    if let Err(e) =
        crate::stats::webhook_attempt(&app.store, &m.tenant_id, succeeded, log.latency_ms).await
    {
        tracing::error!(delivery_id = %m.delivery_id, error = %e, "attempt not counted");
    }
}

/// One message: wait if early, attempt, log, and queue what comes next.
async fn handle(app: &App, m: Message) -> Result<(), ApiError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    if m.not_before > now_ms + 500 {
        let wait = u64::try_from((m.not_before - now_ms) / 1000)
            .unwrap_or(0)
            .max(1);
        return requeue(app, m, wait).await;
    }
    let Some(delivery) =
        repo::get(&app.store, &m.tenant_id, &m.endpoint_id, &m.delivery_id).await?
    else {
        tracing::warn!(delivery_id = %m.delivery_id, "delivery gone; message dropped");
        return Ok(());
    };
    let text = |k: &str| delivery.text(k).unwrap_or_default();
    if text("status") == "succeeded" && !m.manual {
        return Ok(()); // a duplicate message after success
    }
    let endpoint = super::get(&app.store, &m.tenant_id, &m.endpoint_id).await?;
    let endpoint = match endpoint {
        Some(e) if e.enabled => e,
        Some(_) => return set_status(app, &m, "failed", None, None).await,
        None => return set_status(app, &m, "failed", None, None).await,
    };
    let event_id = text("event_id");
    let log = attempt(app, &endpoint, &event_id, &text("payload")).await;
    tracing::info!(delivery_id = %m.delivery_id, attempt = m.attempt, status = ?log.status_code, error = ?log.error, "webhook attempt");
    count_attempt(app, &m, &log).await;
    match log.outcome {
        Attempt::Delivered => {
            set_status(app, &m, "succeeded", Some(&log), None).await?;
            record_health(app, &endpoint, true).await;
            Ok(())
        }
        Attempt::Gone => {
            set_status(app, &m, "failed", Some(&log), None).await?;
            super::disable_failing(app, &endpoint, "the endpoint answered 410 Gone", None)
                .await
                .map(|_| ())
        }
        Attempt::Failed { retry_after } => {
            let next = m.attempt + 1;
            let delay = (!m.manual)
                .then(|| next_delay(&app.config.webhook_retry_schedule, next, retry_after))
                .flatten();
            match delay {
                Some(delay) => {
                    let at = time::after(time::now(), std::time::Duration::from_secs(delay));
                    set_status(app, &m, "retrying", Some(&log), Some(time::format(&at))).await?;
                    requeue(
                        app,
                        Message {
                            attempt: next,
                            not_before: at.timestamp_millis(),
                            ..m.clone()
                        },
                        delay,
                    )
                    .await?;
                }
                None => {
                    set_status(app, &m, "failed", Some(&log), None).await?;
                    to_dead_letters(app, &m, log.error.as_deref().unwrap_or("non-2xx answer"))
                        .await?;
                }
            }
            // Last: an endpoint disabled now keeps this delivery's log and schedule as they
            // are (its next attempt finds it disabled and ends it as failed).
            record_health(app, &endpoint, false).await;
            Ok(())
        }
    }
}

/// `webhook-deliver`: an SQS batch; answers the messages to retry (partial batch response).
pub async fn deliver(app: &App, event: &Value) -> Value {
    use futures_util::StreamExt;
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    let failures: Vec<Value> = futures_util::stream::iter(records)
        .map(|r| async move {
            let id = r["messageId"].as_str().unwrap_or_default().to_owned();
            let Ok(m) = serde_json::from_str::<Message>(r["body"].as_str().unwrap_or_default()) else {
                tracing::error!(message_id = %id, "malformed delivery message dropped");
                return None;
            };
            match handle(app, m).await {
                Ok(()) => None,
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e, "delivery failed; SQS will retry it");
                    Some(json!({"itemIdentifier": id}))
                }
            }
        })
        .buffer_unordered(10)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    json!({"batchItemFailures": failures})
}

// Operations for the delivery log's routes.

/// One delivery as logged: its event, status and attempts.
pub struct Delivery(repo::Record);

impl Delivery {
    pub fn to_json(&self) -> Value {
        let r = &self.0;
        let attempts: Vec<Value> = r
            .attempts()
            .iter()
            .map(|a| {
                json!({
                    "attempt": a.attempt,
                    "at": a.at,
                    "status_code": a.status_code,
                    "latency_ms": a.latency_ms,
                    "error": a.error,
                })
            })
            .collect();
        json!({
            "id": r.text("id"),
            "endpoint_id": r.text("endpoint_id"),
            "event_id": r.text("event_id"),
            "event_type": r.text("event_type"),
            "status": r.text("status"),
            "attempts": attempts,
            "next_retry_at": r.text("next_retry_at"),
            "created_at": r.text("created_at"),
            "updated_at": r.text("updated_at"),
        })
    }
}

pub use repo::is_delivery_sk;

/// A page of the endpoint's deliveries after the sort key `after`.
pub async fn page(
    app: &App,
    endpoint: &Endpoint,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<Delivery>, Option<String>), ApiError> {
    let (records, next) = repo::page(&app.store, endpoint, limit, after).await?;
    Ok((records.into_iter().map(Delivery).collect(), next))
}

/// The deliveries of `events` to each of the tenant's endpoints (those that exist): at most
/// `events` × the tenant's endpoints (a quota) keys, read in batches.
pub async fn of_events(
    app: &App,
    tenant: &TenantId,
    events: &[EventId],
) -> Result<Vec<Delivery>, ApiError> {
    let endpoints = super::all(&app.store, tenant).await?;
    let wanted: Vec<(WebhookId, DeliveryId)> = endpoints
        .iter()
        .flat_map(|e| events.iter().map(|ev| (e.id.clone(), DeliveryId::of(ev))))
        .collect();
    let records = repo::get_many(&app.store, tenant, &wanted).await?;
    Ok(records.into_iter().map(Delivery).collect())
}

/// One more attempt at a delivery of an enabled endpoint, now and outside its schedule.
pub async fn retry(app: &App, endpoint: &Endpoint, id: DeliveryId) -> Result<Delivery, ApiError> {
    let missing = || not_found(id.as_str());
    let record = repo::get(&app.store, &endpoint.tenant_id, &endpoint.id, &id)
        .await?
        .ok_or_else(missing)?;
    if !endpoint.enabled {
        return Err(endpoint_disabled());
    }
    let m = Message::one_more(endpoint, id, &record);
    enqueue(app, &[(m, 0)]).await?;
    Ok(Delivery(record))
}

/// A `webhook.test` event, delivered to this endpoint alone.
pub struct TestSent {
    pub delivery_id: DeliveryId,
    pub event_id: EventId,
}

pub async fn send_test(app: &App, endpoint: &Endpoint) -> Result<TestSent, ApiError> {
    if !endpoint.enabled {
        return Err(endpoint_disabled());
    }
    let event_id = EventId::generate();
    let body = payload(
        &event_id,
        TEST_EVENT,
        &time::format(&time::now()),
        &json!({"endpoint_id": endpoint.id, "message": "A test event from Linkgate."}),
    );
    let Some(delivery) = record_delivery(app, endpoint, &event_id, TEST_EVENT, &body).await? else {
        return Err(ApiError::internal("a fresh event already had a delivery"));
    };
    let m = Message {
        tenant_id: endpoint.tenant_id.clone(),
        endpoint_id: endpoint.id.clone(),
        delivery_id: delivery.clone(),
        attempt: 1,
        not_before: 0,
        manual: false,
    };
    enqueue(app, &[(m.clone(), 0)]).await?;
    mark_enqueued(app, &m).await?;
    Ok(TestSent {
        delivery_id: delivery,
        event_id,
    })
}

pub fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("delivery", raw)
}

/// What one recovery step did: deliveries looked at, those sent again, and where the next
/// step starts (none: the window is done).
pub struct Resent {
    pub examined: u64,
    pub resent: u64,
    pub next: Option<String>,
}

/// One page of a recovery: the endpoint's failed deliveries made in `window`, after
/// `after`, each claimed for `recovery` and given one attempt now (its schedule was used up).
pub async fn resend_failed(
    app: &App,
    endpoint: &Endpoint,
    recovery: &RecoveryId,
    window: (time::Timestamp, time::Timestamp),
    after: Option<&str>,
    limit: usize,
) -> Result<Resent, ApiError> {
    let span = (window.0.timestamp_millis(), window.1.timestamp_millis());
    let page = repo::failed_page(&app.store, endpoint, recovery, span, after, limit).await?;
    let mut messages = Vec::new();
    for record in &page.items {
        let Some(id) = record.text("id").and_then(|i| DeliveryId::parse(&i)) else {
            continue;
        };
        if repo::claim(&app.store, endpoint, &id, recovery, time::now()).await? {
            messages.push((Message::one_more(endpoint, id, record), 0));
        }
    }
    enqueue(app, &messages).await?;
    Ok(Resent {
        examined: page.examined,
        resent: u64::try_from(messages.len()).unwrap_or(u64::MAX),
        next: page.next,
    })
}

pub(crate) fn endpoint_disabled() -> ApiError {
    ApiError::conflict("the endpoint is disabled; enable it first (PATCH enabled: true)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_and_retry_after() {
        let schedule = [0, 5, 300];
        assert_eq!(next_delay(&schedule, 1, None), Some(0));
        assert_eq!(next_delay(&schedule, 2, None), Some(5));
        assert_eq!(
            next_delay(&schedule, 2, Some(60)),
            Some(60),
            "Retry-After lengthens"
        );
        assert_eq!(
            next_delay(&schedule, 3, Some(1)),
            Some(300),
            "but never shortens"
        );
        assert_eq!(
            next_delay(&schedule, 4, None),
            None,
            "done after three attempts"
        );
        assert_eq!(
            next_delay(&schedule, 2, Some(u64::MAX)),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn messages_round_trip() {
        let m = Message {
            tenant_id: TenantId::generate(),
            endpoint_id: WebhookId::generate(),
            delivery_id: DeliveryId::of(&EventId::generate()),
            attempt: 2,
            not_before: 5,
            manual: false,
        };
        let back: Message = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back.delivery_id, m.delivery_id);
        assert_eq!(
            back.delivery_id.event_id().map(|e| DeliveryId::of(&e)),
            Some(m.delivery_id)
        );
    }
}
