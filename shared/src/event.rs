//! Events, written to an outbox item in the same transaction as the change that causes
//! them (`T#<tenant>` / `EVT#<id>`); the stream relay publishes them to EventBridge, so a
//! slow or failing bus never loses one. Consumers de-duplicate on `id`.

use crate::id::{EventId, TenantId};
use crate::store::{n, s, tenant_pk, Store, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde_json::{json, Value};
use std::collections::HashMap;

pub const SK_PREFIX: &str = "EVT#";
/// How long events stay readable (and replayable) after they happened.
const RETENTION_SECONDS: i64 = 30 * 24 * 60 * 60;

pub const CONNECTION_CREATED: &str = "connection.created";
pub const CONNECTION_UPDATED: &str = "connection.updated";
pub const CONNECTION_REVOKED: &str = "connection.revoked";
pub const CONNECTION_NEEDS_REAUTH: &str = "connection.needs_reauth";
pub const LINK_OPENED: &str = "link.opened";
pub const LINK_EXPIRED: &str = "link.expired";
pub const LINK_FAILED: &str = "link.failed";
pub const LINK_REMINDER_SENT: &str = "link.reminder_sent";

/// The outbox item for one event; `data` is the event's payload.
pub fn outbox(
    store: &Store,
    tenant: &TenantId,
    kind: &str,
    data: Value,
) -> Result<TransactWriteItem, StoreError> {
    outbox_as(store, tenant, &EventId::generate(), kind, data)
}

/// As [`outbox`], under a given id: an event derived from something that may be seen twice
/// (a redelivered stream record) is then written once.
pub fn outbox_as(
    store: &Store,
    tenant: &TenantId,
    id: &EventId,
    kind: &str,
    data: Value,
) -> Result<TransactWriteItem, StoreError> {
    let now = chrono::Utc::now();
    let detail = json!({
        "id": id,
        "type": kind,
        "tenant_id": tenant,
        "occurred_at": crate::time::format(&now),
        "data": data,
    });
    let item = HashMap::from([
        ("pk".to_string(), s(tenant_pk(tenant))),
        ("sk".to_string(), s(format!("{SK_PREFIX}{id}"))),
        ("id".to_string(), s(id.as_str())),
        ("type".to_string(), s(kind)),
        ("detail".to_string(), s(detail.to_string())),
        ("ttl".to_string(), n(now.timestamp() + RETENTION_SECONDS)),
    ]);
    store.put_tx(item, crate::store::IS_NEW, &[])
}
