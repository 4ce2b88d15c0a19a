//! Consumers in the table: `T#<tenant>` / `CONSUMER#<id>`, plus a `CONSUMER_REF#<ref>` guard
//! item per internal reference, always written in the same transaction as the consumer.

use super::{Consumer, InternalReference};
use crate::email::Email;
use crate::id::{ConsumerId, TenantId};
use crate::metadata::Metadata;
use crate::redirect_url::RedirectUrl;
use crate::store::{key, n, s, tenant_pk, Item, Store, StoreError, TxOutcome};
use crate::time::{self, Timestamp};
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

pub const SK_PREFIX: &str = "CONSUMER#";
const REF_PREFIX: &str = "CONSUMER_REF#";

pub fn sk(id: &ConsumerId) -> String {
    format!("{SK_PREFIX}{id}")
}

/// A transaction item that holds only while the consumer exists: whatever is written
/// beside it for the consumer (a connection) never outlives a concurrent deletion.
pub fn exists_tx(
    store: &crate::store::Store,
    tenant: &crate::id::TenantId,
    id: &ConsumerId,
) -> Result<TransactWriteItem, crate::store::StoreError> {
    check_tx(store, tenant, id, crate::store::EXISTS)
}

/// A transaction's check that the consumer's item meets `condition`.
pub fn check_tx(
    store: &crate::store::Store,
    tenant: &crate::id::TenantId,
    id: &ConsumerId,
    condition: &str,
) -> Result<TransactWriteItem, crate::store::StoreError> {
    store.check_tx(
        crate::store::key(crate::store::tenant_pk(tenant), sk(id)),
        condition,
    )
}

/// A transaction's check that the consumer exists and has no locale (a link made beside it
/// bets on following the browser's language).
pub fn exists_without_locale_tx(
    store: &Store,
    tenant: &TenantId,
    id: &ConsumerId,
) -> Result<TransactWriteItem, StoreError> {
    check_tx(
        store,
        tenant,
        id,
        "attribute_exists(pk) AND attribute_not_exists(locale)",
    )
}

/// A transaction's check that the consumer has no locale (or is gone).
pub fn without_locale_tx(
    store: &Store,
    tenant: &TenantId,
    id: &ConsumerId,
) -> Result<TransactWriteItem, StoreError> {
    check_tx(store, tenant, id, "attribute_not_exists(locale)")
}

fn ref_sk(r: &InternalReference) -> String {
    format!("{REF_PREFIX}{}", r.as_str())
}

/// Whether `sk` is a consumer's sort key: the only thing a list cursor may carry.
pub fn is_consumer_sk(sk: &str) -> bool {
    sk.strip_prefix(SK_PREFIX)
        .and_then(ConsumerId::parse)
        .is_some()
}

#[derive(Serialize, Deserialize)]
struct ConsumerItem {
    pk: String,
    sk: String,
    id: ConsumerId,
    tenant_id: TenantId,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redirect_url: Option<RedirectUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    internal_reference: Option<InternalReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locale: Option<crate::lang::Locale>,
    /// JSON text: keeps every JSON type exactly as sent.
    metadata: String,
    #[serde(with = "time::rfc3339")]
    created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    updated_at: Timestamp,
    version: u64,
}

fn to_item(c: &Consumer) -> Result<Item, StoreError> {
    Store::to_item(&ConsumerItem {
        pk: tenant_pk(&c.tenant_id),
        sk: sk(&c.id),
        id: c.id.clone(),
        tenant_id: c.tenant_id.clone(),
        name: c.name.clone(),
        redirect_url: c.redirect_url.clone(),
        internal_reference: c.internal_reference.clone(),
        email: c.email.clone(),
        locale: c.locale.clone(),
        metadata: c.metadata.to_json_string(),
        created_at: c.created_at,
        updated_at: c.updated_at,
        version: c.version,
    })
}

fn from_item(item: Item) -> Result<Consumer, StoreError> {
    let i: ConsumerItem = Store::from_item(item)?;
    Ok(Consumer {
        metadata: Metadata::from_json_string(&i.metadata).map_err(StoreError::Corrupt)?,
        id: i.id,
        tenant_id: i.tenant_id,
        name: i.name,
        redirect_url: i.redirect_url,
        internal_reference: i.internal_reference,
        email: i.email,
        locale: i.locale,
        created_at: i.created_at,
        updated_at: i.updated_at,
        version: i.version,
    })
}

fn reference_guard(
    store: &Store,
    c: &Consumer,
    r: &InternalReference,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = key(tenant_pk(&c.tenant_id), ref_sk(r));
    item.insert("consumer_id".into(), s(c.id.as_str()));
    store.put_tx(item, crate::store::IS_NEW, &[])
}

/// The items that create `c`; the reference guard, when there is one, is the second item.
pub fn create_items(store: &Store, c: &Consumer) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut items = vec![store.put_tx(to_item(c)?, crate::store::IS_NEW, &[])?];
    if let Some(r) = &c.internal_reference {
        items.push(reference_guard(store, c, r)?);
    }
    Ok(items)
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &ConsumerId,
) -> Result<Option<Consumer>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(id))
        .await?
        .map(from_item)
        .transpose()
}

/// The id of the consumer with internal reference `r`, from its guard alone (one read).
pub async fn id_by_reference(
    store: &Store,
    tenant: &TenantId,
    r: &InternalReference,
) -> Result<Option<ConsumerId>, StoreError> {
    let Some(guard) = store.get(tenant_pk(tenant), ref_sk(r)).await? else {
        return Ok(None);
    };
    guard
        .get("consumer_id")
        .and_then(|v| v.as_s().ok())
        .and_then(|id| ConsumerId::parse(id))
        .map(Some)
        .ok_or_else(|| StoreError::Corrupt("reference guard without consumer_id".into()))
}

pub async fn find_by_reference(
    store: &Store,
    tenant: &TenantId,
    r: &InternalReference,
) -> Result<Option<Consumer>, StoreError> {
    match id_by_reference(store, tenant, r).await? {
        Some(id) => get(store, tenant, &id).await,
        None => Ok(None),
    }
}

pub async fn page(
    store: &Store,
    tenant: &TenantId,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<Consumer>, Option<String>), StoreError> {
    let (items, next) = store
        .page(&tenant_pk(tenant), SK_PREFIX, limit, after)
        .await?;
    let consumers = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((consumers, next))
}

fn version_guard(c: &Consumer) -> [(&'static str, aws_sdk_dynamodb::types::AttributeValue); 1] {
    [(":v", n(c.version))]
}

/// The write that replaces `current` with `next` if nobody changed it meanwhile, moving the
/// reference guard when the reference changes. The versioned put is first and a new
/// reference's guard last, so [`reference_taken`] can tell the two refusals apart.
pub fn replace_items(
    store: &Store,
    current: &Consumer,
    next: &Consumer,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut items = vec![store.put_tx(to_item(next)?, "version = :v", &version_guard(current))?];
    if current.internal_reference != next.internal_reference {
        if let Some(old) = &current.internal_reference {
            items.push(store.delete_tx(
                key(tenant_pk(&current.tenant_id), ref_sk(old)),
                Some("consumer_id = :id"),
                &[(":id", s(current.id.as_str()))],
            )?);
        }
        if let Some(new) = &next.internal_reference {
            items.push(reference_guard(store, next, new)?);
        }
    }
    Ok(items)
}

/// Whether a cancelled [`replace_items`] write lost on the new reference (another consumer
/// holds it) rather than on the version.
pub fn reference_taken(cancelled: &TxOutcome) -> bool {
    !cancelled.failed_condition(0) && cancelled.failed_last_condition()
}

/// The write that deletes `current` and frees its reference, if nobody changed it meanwhile.
pub fn delete_items(
    store: &Store,
    current: &Consumer,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut items = vec![store.delete_tx(
        key(tenant_pk(&current.tenant_id), sk(&current.id)),
        Some("version = :v"),
        &version_guard(current),
    )?];
    if let Some(r) = &current.internal_reference {
        items.push(store.delete_tx(
            key(tenant_pk(&current.tenant_id), ref_sk(r)),
            Some("consumer_id = :id"),
            &[(":id", s(current.id.as_str()))],
        )?);
    }
    Ok(items)
}
