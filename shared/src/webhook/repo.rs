//! Webhook endpoints in the table: `T#<tenant>` / `WH#<id>`.

use super::Endpoint;
use crate::id::{TenantId, WebhookId};
use crate::store::{key, tenant_pk, Item, Store, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
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

/// Disables the endpoint (a receiver answered 410 Gone), saying why.
pub async fn disable(
    store: &Store,
    endpoint: &Endpoint,
    reason: &str,
    now: crate::time::Timestamp,
) -> Result<(), StoreError> {
    store
        .update(
            key(tenant_pk(&endpoint.tenant_id), sk(&endpoint.id)),
            "SET enabled = :false, disabled_reason = :reason, updated_at = :now, version = version + :one",
            crate::store::EXISTS,
            &[
                (":false", aws_sdk_dynamodb::types::AttributeValue::Bool(false)),
                (":reason", crate::store::s(reason)),
                (":now", crate::store::s(crate::time::format(&now))),
                (":one", crate::store::n(1)),
            ],
            &[],
        )
        .await?;
    Ok(())
}
