//! Integrations in the table: `T#<tenant>` / `INTEGRATION#<id>`, and a guard
//! `INTEGRATION_PROVIDER#<provider>` naming it, written in the same transaction: one
//! integration per provider and tenant.

use super::Integration;
use crate::id::{IntegrationId, TenantId};
use crate::store::{key, n, s, tenant_pk, Item, Store, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;

const SK_PREFIX: &str = "INTEGRATION#";
const PROVIDER_PREFIX: &str = "INTEGRATION_PROVIDER#";

pub fn pk(tenant: &TenantId) -> String {
    tenant_pk(tenant)
}

pub fn sk(id: &IntegrationId) -> String {
    format!("{SK_PREFIX}{id}")
}

pub fn is_integration_sk(sk: &str) -> bool {
    sk.strip_prefix(SK_PREFIX)
        .and_then(IntegrationId::parse)
        .is_some()
}

pub(super) fn from_item(item: Item) -> Result<Integration, StoreError> {
    Store::from_item(item).map(Integration)
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &IntegrationId,
) -> Result<Option<Integration>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(id))
        .await?
        .map(from_item)
        .transpose()
}

/// The tenant's integration of `provider`, if it enabled one.
/// The id of the tenant's integration of `provider`, from its guard item alone (one read).
pub async fn id_for_provider(
    store: &Store,
    tenant: &TenantId,
    provider: &str,
) -> Result<Option<IntegrationId>, StoreError> {
    let Some(guard) = store
        .get(tenant_pk(tenant), format!("{PROVIDER_PREFIX}{provider}"))
        .await?
    else {
        return Ok(None);
    };
    guard
        .get("integration_id")
        .and_then(|v| v.as_s().ok())
        .and_then(|id| IntegrationId::parse(id))
        .map(Some)
        .ok_or_else(|| StoreError::Corrupt("provider guard without integration_id".into()))
}

pub async fn find_by_provider(
    store: &Store,
    tenant: &TenantId,
    provider: &str,
) -> Result<Option<Integration>, StoreError> {
    match id_for_provider(store, tenant, provider).await? {
        Some(id) => get(store, tenant, &id).await,
        None => Ok(None),
    }
}

/// Inside a transaction: the integration still exists and is active.
pub fn active_tx(
    store: &Store,
    tenant: &TenantId,
    id: &IntegrationId,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    store.check_tx_with(
        crate::store::key(tenant_pk(tenant), sk(id)),
        "#status = :active",
        &[(":active", crate::store::s("active"))],
        &[("#status", "status")],
    )
}

/// Every active integration of `tenant`, newest first (the connect page's marketplace).
pub async fn active(store: &Store, tenant: &TenantId) -> Result<Vec<Integration>, StoreError> {
    let mut out = Vec::new();
    for item in store.page_all(&tenant_pk(tenant), SK_PREFIX).await? {
        let i = from_item(item)?;
        if i.is_active() {
            out.push(i);
        }
    }
    Ok(out)
}

/// The new integration and its provider guard (the guard is the second item).
pub fn create_items(
    store: &Store,
    integration: &Integration,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let i = &integration.0;
    let mut guard = key(
        tenant_pk(&i.tenant_id),
        format!("{PROVIDER_PREFIX}{}", i.provider),
    );
    guard.insert("integration_id".into(), s(i.id.as_str()));
    Ok(vec![
        store.put_tx(Store::to_item(i)?, crate::store::IS_NEW, &[])?,
        store.put_tx(guard, crate::store::IS_NEW, &[])?,
    ])
}

/// The write of `next` over `previous`, only while the stored version is `previous`'s.
pub fn replace_tx(
    store: &Store,
    next: &Integration,
    previous: &Integration,
) -> Result<TransactWriteItem, StoreError> {
    store.put_tx(
        Store::to_item(&next.0)?,
        "version = :v",
        &[(":v", n(previous.0.version))],
    )
}

/// A page of the tenant's integrations after the sort key `after`.
pub async fn page(
    store: &Store,
    tenant: &TenantId,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<Integration>, Option<String>), StoreError> {
    let (items, next) = store
        .page(&tenant_pk(tenant), SK_PREFIX, limit, after)
        .await?;
    let integrations = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((integrations, next))
}

/// Inside a transaction: the tenant has no integration of `provider`.
pub fn no_integration_tx(
    store: &Store,
    tenant: &TenantId,
    provider: &str,
) -> Result<TransactWriteItem, StoreError> {
    store.check_tx(
        key(tenant_pk(tenant), format!("{PROVIDER_PREFIX}{provider}")),
        crate::store::IS_NEW,
    )
}

/// Inside a custom provider's change: the integration's copy of it becomes `provider` (a
/// new version of the integration, so a racing PATCH of it re-reads).
pub fn set_custom_provider_tx(
    store: &Store,
    tenant: &TenantId,
    id: &IntegrationId,
    provider: &crate::provider::Provider,
) -> Result<TransactWriteItem, StoreError> {
    let copy = serde_dynamo::to_attribute_value(provider)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.update_tx(
        key(tenant_pk(tenant), sk(id)),
        "SET custom_provider = :p, version = version + :one",
        "attribute_exists(pk) AND provider = :id",
        &[(":p", copy), (":one", n(1)), (":id", s(&provider.id))],
        &[],
    )
}
