//! Connections in the table: `T#<tenant>` / `CONN#<id>`, listed per owner through `gsi1`
//! (`T#<tenant>#CSM#<consumer>#CONNS`, or `T#<tenant>#OWN#CONNS` for the tenant's own), and
//! those with a refresh token through `gsi2` (`REFRESH#<shard>`, token expiry). Credential
//! reads leave `CREDREAD#<connection>#<uuid>` items (90 days).

pub mod guard;

use super::{Connection, Reader, Status};
use crate::id::{ConnectionId, ConsumerId, TenantId};
use crate::link;
use crate::store::{key, n, s, tenant_pk, Item, Store, StoreError};
use crate::time;
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

const SK_PREFIX: &str = "CONN#";
/// How long the record of a credentials read is kept.
const CREDENTIAL_READ_RETENTION_SECONDS: i64 = 90 * 24 * 60 * 60;

#[derive(Serialize, Deserialize)]
struct ConnectionItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(flatten)]
    connection: Connection,
}

pub fn sk(id: &ConnectionId) -> String {
    format!("{SK_PREFIX}{id}")
}

fn consumer_list_pk(tenant: &TenantId, consumer: &ConsumerId) -> String {
    format!("T#{tenant}#CSM#{consumer}#CONNS")
}

/// The index partition listing an owner's connections: a consumer's, or the tenant's own.
pub fn owner_list_pk(tenant: &TenantId, consumer: Option<&ConsumerId>) -> String {
    match consumer {
        Some(c) => consumer_list_pk(tenant, c),
        None => format!("T#{tenant}#OWN#CONNS"),
    }
}

impl Connection {
    /// The refresher's index entry: only active connections with a refresh token and a known
    /// expiry, spread over 16 partitions by the id's random tail.
    fn refresh_index(&self) -> (Option<String>, Option<String>) {
        match (&self.status, self.refreshable, &self.token_expires_at) {
            (Status::Active, true, Some(expires)) => {
                let shard = self.id.as_str().chars().last().unwrap_or('0');
                (Some(format!("REFRESH#{shard}")), Some(expires.clone()))
            }
            _ => (None, None),
        }
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        Store::to_item(&ConnectionItem {
            pk: tenant_pk(&self.tenant_id),
            sk: sk(&self.id),
            gsi1pk: owner_list_pk(&self.tenant_id, self.consumer_id.as_ref()),
            gsi1sk: self.id.to_string(),
            gsi2pk: self.refresh_index().0,
            gsi2sk: self.refresh_index().1,
            connection: self.clone(),
        })
    }

    /// A put of `self` that only succeeds over `previous` (optimistic concurrency).
    pub fn replace_tx(
        &self,
        store: &Store,
        previous: &Connection,
    ) -> Result<TransactWriteItem, StoreError> {
        store.put_tx(self.item()?, "version = :v", &[(":v", n(previous.version))])
    }
}

/// The write of a new connection.
pub fn create_tx(store: &Store, connection: &Connection) -> Result<TransactWriteItem, StoreError> {
    store.put_tx(connection.item()?, crate::store::IS_NEW, &[])
}

pub fn from_item(item: Item) -> Result<Connection, StoreError> {
    Ok(Store::from_item::<ConnectionItem>(item)?.connection)
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &ConnectionId,
) -> Result<Option<Connection>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(id))
        .await?
        .map(from_item)
        .transpose()
}

/// Every connection of an owner (a consumer, or the tenant itself), newest first.
pub async fn of_owner(
    store: &Store,
    tenant: &TenantId,
    consumer: Option<&ConsumerId>,
) -> Result<Vec<Connection>, StoreError> {
    let list_pk = owner_list_pk(tenant, consumer);
    let mut start = None;
    let mut all = Vec::new();
    loop {
        let (items, more) = store.index_page(&list_pk, 100, start).await?;
        for item in items {
            all.push(from_item(item)?);
        }
        match (more, all.last()) {
            (true, Some(last)) => {
                let mut k = key(tenant_pk(tenant), sk(&last.id));
                k.insert("gsi1pk".into(), s(&list_pk));
                k.insert("gsi1sk".into(), s(last.id.as_str()));
                start = Some(k);
            }
            _ => return Ok(all),
        }
    }
}

/// The connections whose tokens expire by `upto` (the refresher's index).
pub async fn due_for_refresh(store: &Store, upto: &str) -> Result<Vec<Connection>, StoreError> {
    store
        .due_all("REFRESH#", upto)
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// A page of an owner's connections (newest first) after the connection `after`; whether
/// more follow.
pub async fn page_of_owner(
    store: &Store,
    tenant: &TenantId,
    consumer: Option<&ConsumerId>,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<Connection>, bool), StoreError> {
    let list_pk = owner_list_pk(tenant, consumer);
    let start = after.map(|id| {
        let mut k = key(tenant_pk(tenant), format!("{SK_PREFIX}{id}"));
        k.insert("gsi1pk".into(), s(&list_pk));
        k.insert("gsi1sk".into(), s(id));
        k
    });
    let (items, more) = store.index_page(&list_pk, limit, start).await?;
    let connections = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((connections, more))
}

/// Who read the connection's credentials, when, with which request (kept 90 days).
pub async fn record_credentials_read(
    store: &Store,
    connection: &Connection,
    reader: &Reader<'_>,
    now: time::Timestamp,
) -> Result<(), StoreError> {
    let audit = std::collections::HashMap::from([
        ("pk".to_string(), s(tenant_pk(&connection.tenant_id))),
        (
            "sk".to_string(),
            s(format!(
                "CREDREAD#{}#{}",
                connection.id,
                uuid::Uuid::now_v7().simple()
            )),
        ),
        ("connection_id".to_string(), s(connection.id.as_str())),
        ("api_key_id".to_string(), s(reader.api_key_id)),
        ("request_id".to_string(), s(reader.request_id)),
        ("read_at".to_string(), s(time::format(&now))),
        (
            "ttl".to_string(),
            n(now.timestamp() + CREDENTIAL_READ_RETENTION_SECONDS),
        ),
    ]);
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(audit))
        .send()
        .await
        .map_err(StoreError::sdk)?;
    Ok(())
}

/// Takes the refresh lease on an active connection still at `version` whose lease is free
/// (or lapsed): `false` when another holder or a change came first.
pub async fn take_lease(
    store: &Store,
    connection: &Connection,
    lease: &str,
    until: i64,
    now: i64,
) -> Result<bool, StoreError> {
    store
        .update(
            key(tenant_pk(&connection.tenant_id), sk(&connection.id)),
            "SET refresh_lease = :lease, refresh_lease_until = :until, version = version + :one",
            "#status = :active AND version = :v AND (attribute_not_exists(refresh_lease_until) OR refresh_lease_until <= :now)",
            &[
                (":lease", s(lease)),
                (":until", n(until)),
                (":one", n(1)),
                (":active", s("active")),
                (":v", n(connection.version)),
                (":now", n(now)),
            ],
            &[("#status", "status")],
        )
        .await
}

/// Gives the lease back, if it is still `lease`.
pub async fn release_lease(
    store: &Store,
    connection: &Connection,
    lease: &str,
) -> Result<(), StoreError> {
    store
        .update(
            key(tenant_pk(&connection.tenant_id), sk(&connection.id)),
            "REMOVE refresh_lease, refresh_lease_until SET version = version + :one",
            "refresh_lease = :lease",
            &[(":lease", s(lease)), (":one", n(1))],
            &[],
        )
        .await?;
    Ok(())
}

/// The items that revoke the connection's open link, if it still has one.
pub async fn revoke_open_link(
    store: &Store,
    connection: &Connection,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let Some(open) = &connection.open_link_id else {
        return Ok(Vec::new());
    };
    let now = time::now();
    match link::get(store, &connection.tenant_id, open).await? {
        Some(l) if l.is_open(now) => l.revoke_items(store, now),
        _ => Ok(Vec::new()),
    }
}
