//! One live connection per owner (a consumer, or the tenant itself) and provider: a guard
//! item `T#<tenant>` / `CONNECTED#<owner>#<provider>` written in the same transaction makes
//! two concurrent connects end in one connection and one `409 already_connected`. An OAuth
//! connect holds it from its start (with `pending_until`, its link's expiry, so an abandoned
//! one gives way) and the callback's activation confirms it is still its own; revocation
//! releases it.

use crate::connection::Connection;
use crate::id::ConsumerId;
use crate::store::{key, s, tenant_pk, Store, StoreError};
use crate::time;
use aws_sdk_dynamodb::types::TransactWriteItem;

fn guard_sk(consumer: Option<&ConsumerId>, provider: &str) -> String {
    let owner = consumer.map_or("TENANT", ConsumerId::as_str);
    format!("CONNECTED#{owner}#{provider}")
}

/// At an OAuth start: the guard, held for the pending `connection` until `until` (its
/// link's expiry), unless a live connection or an unexpired start holds it.
pub(crate) fn hold_tx(
    store: &Store,
    connection: &Connection,
    until: time::Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    let provider = connection.provider.as_deref().unwrap_or_default();
    let mut guard = key(
        tenant_pk(&connection.tenant_id),
        guard_sk(connection.consumer_id.as_ref(), provider),
    );
    guard.insert("connection_id".into(), s(connection.id.as_str()));
    guard.insert("pending_until".into(), crate::store::n(until.timestamp()));
    store.put_tx(
        guard,
        "attribute_not_exists(pk) OR pending_until < :now",
        &[(":now", crate::store::n(time::now().timestamp()))],
    )
}

/// At the callback's activation: the guard becomes the live connection's, if it is still
/// held for this one.
pub(crate) fn confirm_hold_tx(
    store: &Store,
    connection: &Connection,
) -> Result<TransactWriteItem, StoreError> {
    let provider = connection.provider.as_deref().unwrap_or_default();
    store.update_tx(
        key(
            tenant_pk(&connection.tenant_id),
            guard_sk(connection.consumer_id.as_ref(), provider),
        ),
        "REMOVE pending_until",
        "connection_id = :id",
        &[(":id", s(connection.id.as_str()))],
        &[],
    )
}

/// The delete of a connection's guard, if the guard is this connection's (for revocation).
pub(crate) async fn release_guard_tx(
    store: &Store,
    c: &Connection,
) -> Result<Option<TransactWriteItem>, StoreError> {
    let Some(provider) = &c.provider else {
        return Ok(None);
    };
    let sk = guard_sk(c.consumer_id.as_ref(), provider);
    let Some(guard) = store.get(tenant_pk(&c.tenant_id), sk.clone()).await? else {
        return Ok(None);
    };
    if guard.get("connection_id").and_then(|v| v.as_s().ok()) != Some(&c.id.to_string()) {
        return Ok(None);
    }
    Ok(Some(store.delete_tx(
        key(tenant_pk(&c.tenant_id), sk),
        Some("connection_id = :id"),
        &[(":id", s(c.id.as_str()))],
    )?))
}

/// For a connection that is live at once: the guard, unless another connection holds it.
pub(crate) fn claim_tx(
    store: &Store,
    connection: &Connection,
) -> Result<TransactWriteItem, StoreError> {
    let provider = connection.provider.as_deref().unwrap_or_default();
    let mut guard = key(
        tenant_pk(&connection.tenant_id),
        guard_sk(connection.consumer_id.as_ref(), provider),
    );
    guard.insert("connection_id".into(), s(connection.id.as_str()));
    store.put_tx(guard, crate::store::IS_NEW, &[])
}
