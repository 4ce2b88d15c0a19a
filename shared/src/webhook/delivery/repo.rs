//! Deliveries in the table: `T#<tenant>` / `DLV#<endpoint>#<delivery>`, kept 30 days, each
//! with its attempts as a list.

use super::Message;
use crate::id::{DeliveryId, EventId, RecoveryId, TenantId, WebhookId};
use crate::store::{key, n, s, tenant_pk, Item, Store, StoreError};
use crate::time::{self, Timestamp};
use crate::webhook::Endpoint;
use aws_sdk_dynamodb::types::AttributeValue;

/// How long the delivery log is kept (and so how far back a recovery reaches).
pub const RETENTION_SECONDS: i64 = 30 * 24 * 60 * 60;

fn sk(endpoint: &WebhookId, delivery: &DeliveryId) -> String {
    format!("DLV#{endpoint}#{delivery}")
}

fn delivery_key(tenant: &TenantId, endpoint: &WebhookId, delivery: &DeliveryId) -> Item {
    key(tenant_pk(tenant), sk(endpoint, delivery))
}

fn prefix(endpoint: &WebhookId) -> String {
    format!("DLV#{endpoint}#")
}

/// Whether `sk` is one of the endpoint's deliveries (a cursor must point at one).
pub fn is_delivery_sk(endpoint: &WebhookId, sk: &str) -> bool {
    sk.strip_prefix(&prefix(endpoint))
        .is_some_and(|id| DeliveryId::parse(id).is_some())
}

/// A delivery as stored.
pub struct Record(Item);

/// One attempt as the log keeps it.
pub struct AttemptRecord<'a> {
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
    pub latency_ms: u64,
}

/// One attempt as read back.
pub struct LoggedAttempt {
    pub attempt: Option<u64>,
    pub at: Option<String>,
    pub status_code: Option<u64>,
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
}

impl Record {
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.as_s().ok()).cloned()
    }

    /// Whether its first message was queued.
    pub fn was_enqueued(&self) -> bool {
        self.0.contains_key("enqueued_at")
    }

    pub fn attempts(&self) -> Vec<LoggedAttempt> {
        self.0
            .get("attempts")
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|a| a.as_m().ok())
                    .map(|a| {
                        let num = |k: &str| {
                            a.get(k)
                                .and_then(|v| v.as_n().ok())
                                .and_then(|n| n.parse::<u64>().ok())
                        };
                        let text = |k: &str| a.get(k).and_then(|v| v.as_s().ok()).cloned();
                        LoggedAttempt {
                            attempt: num("attempt"),
                            at: text("at"),
                            status_code: num("status_code"),
                            latency_ms: num("latency_ms"),
                            error: text("error"),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A delivery to write: one event to one endpoint.
pub struct New<'a> {
    pub endpoint: &'a Endpoint,
    pub delivery: &'a DeliveryId,
    pub event_id: &'a EventId,
    pub kind: &'a str,
    pub body: &'a str,
}

/// Writes the delivery, pending; `false` when it was written before.
pub async fn create(
    store: &Store,
    new: &New<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let mut item = delivery_key(&new.endpoint.tenant_id, &new.endpoint.id, new.delivery);
    item.insert("id".into(), s(new.delivery.as_str()));
    item.insert("endpoint_id".into(), s(new.endpoint.id.as_str()));
    item.insert("event_id".into(), s(new.event_id.as_str()));
    item.insert("event_type".into(), s(new.kind));
    item.insert("payload".into(), s(new.body));
    item.insert("status".into(), s("pending"));
    item.insert("attempts".into(), AttributeValue::L(Vec::new()));
    item.insert("created_at".into(), s(time::format(&now)));
    item.insert("updated_at".into(), s(time::format(&now)));
    item.insert("ttl".into(), n(now.timestamp() + RETENTION_SECONDS));
    store.put_new(item).await
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    endpoint: &WebhookId,
    delivery: &DeliveryId,
) -> Result<Option<Record>, StoreError> {
    Ok(store
        .get(tenant_pk(tenant), sk(endpoint, delivery))
        .await?
        .map(Record))
}

/// The deliveries of each `(endpoint, delivery)` that exist, in batched reads.
pub async fn get_many(
    store: &Store,
    tenant: &TenantId,
    wanted: &[(WebhookId, DeliveryId)],
) -> Result<Vec<Record>, StoreError> {
    let keys = wanted
        .iter()
        .map(|(e, d)| delivery_key(tenant, e, d))
        .collect();
    Ok(store
        .batch_get(keys)
        .await?
        .into_iter()
        .map(Record)
        .collect())
}

/// A page of the endpoint's deliveries after the sort key `after`.
pub async fn page(
    store: &Store,
    endpoint: &Endpoint,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<Record>, Option<String>), StoreError> {
    let (items, next) = store
        .page(
            &tenant_pk(&endpoint.tenant_id),
            &prefix(&endpoint.id),
            limit,
            after,
        )
        .await?;
    Ok((items.into_iter().map(Record).collect(), next))
}

/// Notes that the delivery's first message left.
pub async fn mark_enqueued(store: &Store, m: &Message, now: Timestamp) -> Result<(), StoreError> {
    store
        .update(
            delivery_key(&m.tenant_id, &m.endpoint_id, &m.delivery_id),
            "SET enqueued_at = :now",
            crate::store::EXISTS,
            &[(":now", s(time::format(&now)))],
            &[],
        )
        .await?;
    Ok(())
}

/// The delivery's status, with the attempt that led to it appended to its log and when the
/// next one runs.
pub async fn set_status(
    store: &Store,
    m: &Message,
    status: &str,
    attempt: Option<&AttemptRecord<'_>>,
    next_retry_at: Option<String>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let now = time::format(&now);
    let mut update = "SET #status = :status, updated_at = :now".to_string();
    let mut vals = vec![(":status", s(status)), (":now", s(&now))];
    if let Some(l) = attempt {
        let mut a = std::collections::HashMap::new();
        a.insert("attempt".to_string(), n(l.attempt));
        a.insert("at".to_string(), s(&now));
        a.insert("latency_ms".to_string(), n(l.latency_ms));
        if let Some(code) = l.status_code {
            a.insert("status_code".to_string(), n(code));
        }
        if let Some(e) = l.error {
            a.insert("error".to_string(), s(e));
        }
        update.push_str(", attempts = list_append(if_not_exists(attempts, :none), :attempt)");
        vals.push((":none", AttributeValue::L(Vec::new())));
        vals.push((":attempt", AttributeValue::L(vec![AttributeValue::M(a)])));
    }
    match next_retry_at {
        Some(at) => {
            update.push_str(", next_retry_at = :next");
            vals.push((":next", s(at)));
        }
        None => update.push_str(" REMOVE next_retry_at"),
    }
    store
        .update(
            delivery_key(&m.tenant_id, &m.endpoint_id, &m.delivery_id),
            &update,
            crate::store::EXISTS,
            &vals,
            &[("#status", "status")],
        )
        .await?;
    Ok(())
}

/// One page of a recovery's reading: the endpoint's deliveries made in `[since, until)`
/// (milliseconds), oldest first, after the sort key `after`; of them, those that failed, and
/// those this recovery claimed before (a step that is run again sends them again).
pub struct FailedPage {
    pub items: Vec<Record>,
    pub examined: u64,
    pub next: Option<String>,
}

pub async fn failed_page(
    store: &Store,
    endpoint: &Endpoint,
    recovery: &RecoveryId,
    (since_ms, until_ms): (i64, i64),
    after: Option<&str>,
    limit: usize,
) -> Result<FailedPage, StoreError> {
    let pk = tenant_pk(&endpoint.tenant_id);
    let bound = |ms| format!("{}{}", prefix(&endpoint.id), DeliveryId::bound(ms));
    let mut q = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
        .filter_expression("#status = :failed OR (recovery_id = :rid AND #status = :pending)")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":pk", s(&pk))
        .expression_attribute_values(":lo", s(bound(since_ms)))
        .expression_attribute_values(":hi", s(bound(until_ms)))
        .expression_attribute_values(":failed", s("failed"))
        .expression_attribute_values(":pending", s("pending"))
        .expression_attribute_values(":rid", s(recovery.as_str()))
        .scan_index_forward(true)
        .consistent_read(true)
        .limit(i32::try_from(limit).unwrap_or(i32::MAX));
    if let Some(after) = after {
        q = q.set_exclusive_start_key(Some(key(&pk, after)));
    }
    let out = q.send().await.map_err(StoreError::sdk)?;
    Ok(FailedPage {
        examined: u64::try_from(out.scanned_count).unwrap_or(0),
        next: out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .cloned(),
        items: out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Record)
            .collect(),
    })
}

/// Takes a failed delivery for `recovery`: `false` when it is no longer failed (another
/// recovery or a retry took it first).
pub async fn claim(
    store: &Store,
    endpoint: &Endpoint,
    delivery: &DeliveryId,
    recovery: &RecoveryId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    store
        .update(
            delivery_key(&endpoint.tenant_id, &endpoint.id, delivery),
            "SET #status = :pending, recovery_id = :rid, updated_at = :now REMOVE next_retry_at",
            "#status = :failed OR (recovery_id = :rid AND #status = :pending)",
            &[
                (":pending", s("pending")),
                (":failed", s("failed")),
                (":rid", s(recovery.as_str())),
                (":now", s(time::format(&now))),
            ],
            &[("#status", "status")],
        )
        .await
}
