//! Webhook endpoints in the table: `T#<tenant>` / `WH#<id>`.

use super::Endpoint;
use crate::id::{TenantId, WebhookId};
use crate::store::{key, n, s, tenant_pk, Item, Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};

const SK_PREFIX: &str = "WH#";

#[derive(Serialize, Deserialize)]
struct EndpointItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    endpoint: Endpoint,
}

fn sk(id: &WebhookId) -> String {
    format!("{SK_PREFIX}{id}")
}

fn endpoint_key(endpoint: &Endpoint) -> Item {
    key(tenant_pk(&endpoint.tenant_id), sk(&endpoint.id))
}

/// Whether `sk` is an endpoint's sort key (a cursor must point at one).
pub fn is_endpoint_sk(sk: &str) -> bool {
    sk.strip_prefix(SK_PREFIX)
        .is_some_and(|id| WebhookId::parse(id).is_some())
}

impl Endpoint {
    fn item(&self) -> Result<Item, StoreError> {
        Store::to_item(&EndpointItem {
            pk: tenant_pk(&self.tenant_id),
            sk: sk(&self.id),
            endpoint: self.clone(),
        })
    }

    pub fn replace_tx(
        &self,
        store: &Store,
        previous: &Endpoint,
    ) -> Result<TransactWriteItem, StoreError> {
        store.put_tx(
            self.item()?,
            "version = :v",
            &[(":v", crate::store::n(previous.version))],
        )
    }
}

/// The write of a new endpoint.
pub fn create_tx(store: &Store, endpoint: &Endpoint) -> Result<TransactWriteItem, StoreError> {
    store.put_tx(endpoint.item()?, crate::store::IS_NEW, &[])
}

/// The delete of an endpoint, only while it is there.
pub fn delete_tx(store: &Store, endpoint: &Endpoint) -> Result<TransactWriteItem, StoreError> {
    store.delete_tx(
        key(tenant_pk(&endpoint.tenant_id), sk(&endpoint.id)),
        Some(crate::store::EXISTS),
        &[],
    )
}

/// A page of the tenant's endpoints after the sort key `after`.
pub async fn page(
    store: &Store,
    tenant: &TenantId,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<Endpoint>, Option<String>), StoreError> {
    let (items, next) = store
        .page(&tenant_pk(tenant), SK_PREFIX, limit, after)
        .await?;
    let endpoints = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((endpoints, next))
}

fn from_item(item: Item) -> Result<Endpoint, StoreError> {
    Ok(Store::from_item::<EndpointItem>(item)?.endpoint)
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &WebhookId,
) -> Result<Option<Endpoint>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(id))
        .await?
        .map(from_item)
        .transpose()
}

/// Every endpoint of a tenant (for fan-out).
pub async fn all(store: &Store, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
    store
        .page_all(&tenant_pk(tenant), SK_PREFIX)
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// The write that disables the endpoint, saying why: only while it is enabled and, given
/// `failing_since`, still in that run of failures.
pub fn disable_tx(
    store: &Store,
    endpoint: &Endpoint,
    reason: &str,
    now: crate::time::Timestamp,
    failing_since: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let mut vals = vec![
        (":false", AttributeValue::Bool(false)),
        (":true", AttributeValue::Bool(true)),
        (":reason", s(reason)),
        (":now", s(crate::time::format(&now))),
        (":one", n(1)),
    ];
    let mut condition = "enabled = :true".to_string();
    if let Some(since) = failing_since {
        condition.push_str(" AND failing_since = :since");
        vals.push((":since", s(since)));
    }
    store.update_tx(
        endpoint_key(endpoint),
        "SET enabled = :false, disabled_reason = :reason, updated_at = :now, version = version + :one REMOVE failing_since",
        &condition,
        &vals,
        &[],
    )
}

/// Notes the first failed attempt of a run (`failing_since`); a later one, or an endpoint
/// disabled meanwhile, changes nothing. Versioned, so a PATCH based on an older read retries.
pub async fn mark_failing(
    store: &Store,
    endpoint: &Endpoint,
    now: crate::time::Timestamp,
) -> Result<(), StoreError> {
    store
        .update(
            endpoint_key(endpoint),
            "SET failing_since = :now, version = version + :one",
            "attribute_not_exists(failing_since) AND enabled = :true",
            &[
                (":now", s(crate::time::format(&now))),
                (":one", n(1)),
                (":true", AttributeValue::Bool(true)),
            ],
            &[],
        )
        .await?;
    Ok(())
}

/// Ends the run of failures: a delivery succeeded.
pub async fn mark_healthy(store: &Store, endpoint: &Endpoint) -> Result<(), StoreError> {
    store
        .update(
            endpoint_key(endpoint),
            "REMOVE failing_since SET version = version + :one",
            "attribute_exists(failing_since)",
            &[(":one", n(1))],
            &[],
        )
        .await?;
    Ok(())
}
