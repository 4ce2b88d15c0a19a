//! Custom providers in the table: `T#<tenant>` / `PROVIDER#<id>`.

use super::CustomProvider;
use crate::id::TenantId;
use crate::store::{key, n, tenant_pk, Item, Store, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

const SK_PREFIX: &str = "PROVIDER#";

#[derive(Serialize, Deserialize)]
struct ProviderItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    custom: CustomProvider,
}

fn sk(id: &str) -> String {
    format!("{SK_PREFIX}{id}")
}

/// Whether `sk` is a custom provider's sort key (a cursor must point at one).
pub fn is_provider_sk(sk: &str) -> bool {
    sk.strip_prefix(SK_PREFIX).is_some_and(super::is_custom_id)
}

fn item(custom: &CustomProvider) -> Result<Item, StoreError> {
    Store::to_item(&ProviderItem {
        pk: tenant_pk(&custom.tenant_id),
        sk: sk(&custom.provider.id),
        custom: custom.clone(),
    })
}

fn from_item(item: Item) -> Result<CustomProvider, StoreError> {
    Ok(Store::from_item::<ProviderItem>(item)?.custom)
}

/// The write of a new definition (fails when the id is taken).
pub fn create_tx(store: &Store, custom: &CustomProvider) -> Result<TransactWriteItem, StoreError> {
    store.put_tx(item(custom)?, crate::store::IS_NEW, &[])
}

/// The write of `next` over `previous`, only while the stored version is `previous`'s.
pub fn replace_tx(
    store: &Store,
    next: &CustomProvider,
    previous: &CustomProvider,
) -> Result<TransactWriteItem, StoreError> {
    store.put_tx(item(next)?, "version = :v", &[(":v", n(previous.version))])
}

/// The delete of a definition, only while it is there.
pub fn delete_tx(store: &Store, custom: &CustomProvider) -> Result<TransactWriteItem, StoreError> {
    store.delete_tx(
        key(tenant_pk(&custom.tenant_id), sk(&custom.provider.id)),
        Some(crate::store::EXISTS),
        &[],
    )
}

/// Inside a transaction: the definition is still at `version` (an integration copies it).
pub fn unchanged_tx(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    version: u64,
) -> Result<TransactWriteItem, StoreError> {
    store.check_tx_with(
        key(tenant_pk(tenant), sk(id)),
        "version = :v",
        &[(":v", n(version))],
        &[],
    )
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CustomProvider>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(id))
        .await?
        .map(from_item)
        .transpose()
}

/// A page of the tenant's definitions after the sort key `after`.
pub async fn page(
    store: &Store,
    tenant: &TenantId,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<CustomProvider>, Option<String>), StoreError> {
    let (items, next) = store
        .page(&tenant_pk(tenant), SK_PREFIX, limit, after)
        .await?;
    let found = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((found, next))
}
