//! Events, written to an outbox item in the same transaction as the change that causes
//! them; the stream relay publishes them to EventBridge, so a slow or failing bus never
//! loses one. Consumers de-duplicate on `id`. The same items answer `GET /v1/events`
//! until their retention ends (`repo` says how they are keyed so a busy tenant's events
//! never share one partition).

pub mod api;
pub mod repo;

use crate::id::{ConnectionId, ConsumerId, EventId, LinkId, TenantId};
use crate::store::{Store, StoreError, TxItem};
use serde_json::{json, Value};
use std::time::Duration;

pub use repo::SK_PREFIX;

/// How long events stay readable (and replayable) after they happened, unless the
/// deployment says otherwise (`LINKGATE_EVENT_RETENTION_DAYS`).
pub const DEFAULT_RETENTION: Duration = crate::config::DEFAULT_EVENT_RETENTION;

pub const CONNECTION_CREATED: &str = "connection.created";
pub const CONNECTION_UPDATED: &str = "connection.updated";
pub const CONNECTION_REVOKED: &str = "connection.revoked";
pub const CONNECTION_NEEDS_REAUTH: &str = "connection.needs_reauth";
pub const LINK_OPENED: &str = "link.opened";
pub const LINK_EXPIRED: &str = "link.expired";
pub const LINK_FAILED: &str = "link.failed";
pub const LINK_REMINDER_SENT: &str = "link.reminder_sent";
pub const WEBHOOK_DISABLED: &str = "webhook.disabled";

/// Every type an event can have (what `GET /v1/events?type=` accepts).
pub const TYPES: &[&str] = &[
    CONNECTION_CREATED,
    CONNECTION_UPDATED,
    CONNECTION_REVOKED,
    CONNECTION_NEEDS_REAUTH,
    LINK_OPENED,
    LINK_EXPIRED,
    LINK_FAILED,
    LINK_REMINDER_SENT,
    WEBHOOK_DISABLED,
];

/// The outbox item for one event; `data` is the event's payload.
pub fn outbox(
    store: &Store,
    tenant: &TenantId,
    kind: &str,
    data: Value,
) -> Result<TxItem, StoreError> {
    outbox_as(store, tenant, &EventId::generate(), kind, data)
}

/// As [`outbox`], under a given id: an event derived from something that may be seen twice
/// (a redelivered stream record) is then written once. The id's time is the event's
/// `occurred_at`.
pub fn outbox_as(
    store: &Store,
    tenant: &TenantId,
    id: &EventId,
    kind: &str,
    data: Value,
) -> Result<TxItem, StoreError> {
    // the id's own time: what lists order by and `since`/`until` compare
    let at = chrono::DateTime::from_timestamp_millis(id.millis()).unwrap_or_else(chrono::Utc::now);
    let owners = Owners::of(&data);
    let detail = json!({
        "id": id,
        "type": kind,
        "tenant_id": tenant,
        "occurred_at": crate::time::format(&at),
        "data": data,
    });
    let expires = at.timestamp() + i64::try_from(store.event_retention().as_secs()).unwrap_or(0);
    repo::put_tx(store, tenant, id, kind, &detail, &owners, expires)
}

/// What an event is about, for the filters of `GET /v1/events`: link events name their
/// link, connection and consumer; connection events carry the connection itself.
#[derive(Debug, Default, PartialEq)]
pub struct Owners {
    pub connection: Option<ConnectionId>,
    pub consumer: Option<ConsumerId>,
    pub link: Option<LinkId>,
}

impl Owners {
    pub fn of(data: &Value) -> Owners {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let connection = data.get("connection");
        Owners {
            connection: data
                .get("connection_id")
                .and_then(text)
                .or_else(|| connection.and_then(|c| c.get("id")).and_then(text))
                .and_then(|id| ConnectionId::parse(&id)),
            consumer: data
                .get("consumer_id")
                .and_then(text)
                .or_else(|| connection.and_then(|c| c.get("consumer_id")).and_then(text))
                .and_then(|id| ConsumerId::parse(&id)),
            link: data
                .get("link_id")
                .and_then(text)
                .and_then(|id| LinkId::parse(&id)),
        }
    }
}

/// The filters of a listing, each already parsed.
#[derive(Debug, Default)]
pub struct Filter {
    pub kind: Option<&'static str>,
    pub connection: Option<ConnectionId>,
    pub consumer: Option<ConsumerId>,
    pub link: Option<LinkId>,
    /// Inclusive lower and exclusive upper bounds, in milliseconds since the epoch.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

pub(crate) fn not_found(raw: &str) -> crate::error::ApiError {
    crate::error::ApiError::no_such("event", raw)
}

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// The tenant's event `id` (its `detail`, as published), or a 404 once its retention ended.
pub async fn load(
    app: &crate::App,
    tenant: &TenantId,
    id: &EventId,
) -> Result<Value, crate::error::ApiError> {
    let now = crate::time::now().timestamp_millis();
    repo::get(&app.store, tenant, id, now)
        .await?
        .ok_or_else(|| not_found(id.as_str()))
}

/// A page of the tenant's events matching `filter`, newest first, below the cursor's id. A
/// `link` filter needs the link's `connection` too (its events are kept with them).
/// A page may hold fewer than `limit` events and still name a next one (a filter is applied
/// to a bounded read); the cursor is `None` only when nothing older remains.
pub async fn page(
    app: &crate::App,
    tenant: &TenantId,
    filter: Filter,
    limit: usize,
    before: Option<EventId>,
) -> Result<(Vec<Value>, Option<String>), crate::error::ApiError> {
    let now = crate::time::now().timestamp_millis();
    let retention = i64::try_from(app.store.event_retention().as_millis()).unwrap_or(i64::MAX);
    let lowest = now.saturating_sub(retention);
    Ok(repo::page(&app.store, tenant, &filter, limit, before.as_ref(), lowest).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_come_from_link_events_and_from_the_connection_a_connection_event_carries() {
        let link = LinkId::generate();
        let conn = ConnectionId::generate();
        let csm = ConsumerId::generate();
        assert_eq!(
            Owners::of(&json!({"link_id": link, "connection_id": conn, "consumer_id": csm})),
            Owners {
                connection: Some(conn.clone()),
                consumer: Some(csm.clone()),
                link: Some(link.clone())
            }
        );
        assert_eq!(
            Owners::of(
                &json!({"connection": {"id": conn, "consumer_id": csm}, "link_id": link, "change": "activated"})
            ),
            Owners {
                connection: Some(conn),
                consumer: Some(csm),
                link: Some(link)
            }
        );
        // what is not an id of its kind names nothing
        assert_eq!(
            Owners::of(&json!({"connection_id": "csm_x", "consumer_id": 3})),
            Owners::default()
        );
    }

    #[test]
    fn every_type_is_listed_once() {
        let set: std::collections::BTreeSet<_> = TYPES.iter().collect();
        assert_eq!(set.len(), TYPES.len());
        // every type an endpoint may subscribe to is stored, but the test ping
        for t in crate::webhook::EVENT_TYPES {
            assert_eq!(TYPES.contains(t), *t != crate::webhook::TEST_EVENT, "{t}");
        }
    }
}
