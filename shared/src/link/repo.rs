//! Links in the table. `LINK#<id>` / `LINK` is the link itself (its own partition, so the
//! public connect page finds it by id in one read, then checks the token hash);
//! `LINK#<id>` / `EXPIRY` carries `ttl = expires_at` so DynamoDB's TTL removal can announce
//! `link.expired`. Listed per tenant through `gsi1` (`T#<tenant>#LINKS`); links with a
//! reminder to send through `gsi2` (`REMIND#<shard>`, next reminder time).

use super::{Link, LinkError, NewLink, Stored};
use crate::id::{IntegrationId, LinkId, TenantId};
use crate::store::{key, n, s, Item, Store, StoreError};
use crate::time::{self, Timestamp};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};

pub const SK: &str = "LINK";
const EXPIRY_SK: &str = "EXPIRY";

/// The condition "the link is still open" (waiting, with or without an OAuth flow started),
/// written once: use it with [`open_values`] and the name `#status` ([`STATUS_NAME`]).
pub const OPEN: &str = "#status IN (:waiting, :waiting_oauth)";
pub const STATUS_NAME: (&str, &str) = ("#status", "status");

/// The values [`OPEN`] names, from [`Stored`].
pub fn open_values() -> [(&'static str, AttributeValue); 2] {
    [
        (":waiting", s(Stored::Waiting.as_str())),
        (":waiting_oauth", s(Stored::WaitingOauth.as_str())),
    ]
}

/// `values` and those [`OPEN`] names.
pub fn with_open_values(
    values: &[(&'static str, AttributeValue)],
) -> Vec<(&'static str, AttributeValue)> {
    values.iter().cloned().chain(open_values()).collect()
}

/// The index partition of a link's reminders (sixteen, so no partition gets hot).
pub fn reminder_partition(id: &LinkId) -> String {
    let shard = id.as_str().chars().last().unwrap_or('0');
    format!("REMIND#{shard}")
}

#[derive(Serialize, Deserialize)]
struct LinkItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    /// The sparse index of due reminders (`REMIND#<shard>`, next reminder time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(flatten)]
    link: Link,
}

fn pk(id: &LinkId) -> String {
    format!("LINK#{id}")
}

/// The key of a link's own item.
pub fn item_key(id: &LinkId) -> Item {
    key(pk(id), SK)
}

/// Drops a link's expiry marker (it is used or revoked: no `link.expired` for it).
pub fn drop_expiry_tx(store: &Store, id: &LinkId) -> Result<TransactWriteItem, StoreError> {
    store.delete_tx(key(pk(id), EXPIRY_SK), None, &[])
}

fn list_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#LINKS")
}

impl Link {
    /// Marks this link revoked if it is still waiting, and drops its expiry marker.
    pub fn revoke_items(
        &self,
        store: &Store,
        now: Timestamp,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(vec![
            store.update_tx(
                item_key(&self.id),
                "SET #status = :revoked, revoked_at = :now",
                OPEN,
                &with_open_values(&[
                    (":revoked", s(Stored::Revoked.as_str())),
                    (":now", s(time::format(&now))),
                ]),
                &[STATUS_NAME],
            )?,
            drop_expiry_tx(store, &self.id)?,
        ])
    }
}

impl NewLink {
    pub fn items(&self, store: &Store) -> Result<Vec<TransactWriteItem>, StoreError> {
        let l = &self.link;
        let item = Store::to_item(&LinkItem {
            pk: pk(&l.id),
            sk: SK.into(),
            gsi1pk: list_pk(&l.tenant_id),
            gsi1sk: l.id.to_string(),
            gsi2pk: l
                .reminders_planned
                .first()
                .map(|_| reminder_partition(&l.id)),
            gsi2sk: l.reminders_planned.first().cloned(),
            link: l.clone(),
        })?;
        let mut expiry = key(pk(&l.id), EXPIRY_SK);
        expiry.insert("ttl".into(), n(l.expires_at.timestamp()));
        expiry.insert("tenant_id".into(), s(l.tenant_id.as_str()));
        expiry.insert("link_id".into(), s(l.id.as_str()));
        Ok(vec![
            store.put_tx(item, crate::store::IS_NEW, &[])?,
            store.put_tx(expiry, crate::store::IS_NEW, &[])?,
        ])
    }
}

pub fn from_item(item: Item) -> Result<Link, StoreError> {
    Ok(Store::from_item::<LinkItem>(item)?.link)
}

/// A link by id alone (the public pages know no tenant).
pub async fn get_any(store: &Store, id: &LinkId) -> Result<Option<Link>, StoreError> {
    store.get(pk(id), SK).await?.map(from_item).transpose()
}

/// A link of `tenant`; another tenant's link is as absent as a missing one.
pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &LinkId,
) -> Result<Option<Link>, StoreError> {
    Ok(get_any(store, id).await?.filter(|l| &l.tenant_id == tenant))
}

/// The write that marks an open link as waiting for the provider's sign-in.
pub fn oauth_started_tx(
    store: &Store,
    id: &LinkId,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    store.update_tx(
        item_key(id),
        "SET #status = :waiting_oauth, oauth_started_at = :now",
        &format!("{OPEN} AND expires_at > :now"),
        &with_open_values(&[(":now", s(time::format(&now)))]),
        &[STATUS_NAME],
    )
}

/// The write that uses an open link up: granted, for `integration`.
pub fn granted_tx(
    store: &Store,
    id: &LinkId,
    integration: &IntegrationId,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    store.update_tx(
        item_key(id),
        "SET #status = :granted, granted_at = :now, integration_id = :integration",
        &format!("{OPEN} AND expires_at > :now"),
        &with_open_values(&[
            (":granted", s(Stored::Granted.as_str())),
            (":now", s(time::format(&now))),
            (":integration", s(integration.as_str())),
        ]),
        &[STATUS_NAME],
    )
}

/// Records a refused submission on the link, in one write.
pub async fn record_failure(
    store: &Store,
    id: &LinkId,
    error: &LinkError,
) -> Result<(), StoreError> {
    let error =
        serde_dynamo::to_attribute_value(error).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .update(
            item_key(id),
            "SET last_error = :error ADD failed_attempts :one",
            crate::store::EXISTS,
            &[(":error", error), (":one", n(1))],
            &[],
        )
        .await?;
    Ok(())
}

/// The link, with its first open recorded, if `hash` is one of its tokens' and it is open:
/// one conditional write that answers the item (an emailed link carries a token of its own,
/// see `reminder`).
pub async fn record_open(
    store: &Store,
    id: &LinkId,
    hash: &str,
    now: Timestamp,
) -> Result<Option<Link>, StoreError> {
    let now = time::format(&now);
    let opened = store
        .update_returning(
            item_key(id),
            "SET opened_at = if_not_exists(opened_at, :now) ADD open_count :one",
            &format!(
                "(token_hash = :hash OR contains(email_token_hashes, :hash)) \
                 AND {OPEN} AND expires_at > :now"
            ),
            &with_open_values(&[(":now", s(&now)), (":one", n(1)), (":hash", s(hash))]),
            &[STATUS_NAME],
        )
        .await?;
    opened.map(from_item).transpose()
}

/// A sign-in that did not complete: back to waiting, if the link is still waiting for one.
pub async fn oauth_abandoned(store: &Store, id: &LinkId, now: Timestamp) -> Result<(), StoreError> {
    store
        .update(
            item_key(id),
            "SET #status = :waiting",
            "#status = :waiting_oauth AND expires_at > :now",
            &with_open_values(&[(":now", s(time::format(&now)))]),
            &[STATUS_NAME],
        )
        .await?;
    Ok(())
}

/// A page of the tenant's links (newest first) after the link `after`; whether more follow.
pub async fn page(
    store: &Store,
    tenant: &TenantId,
    size: usize,
    after: Option<&str>,
) -> Result<(Vec<Link>, bool), StoreError> {
    let start = after.map(|id| {
        let mut k = key(format!("LINK#{id}"), SK);
        k.insert("gsi1pk".into(), s(list_pk(tenant)));
        k.insert("gsi1sk".into(), s(id));
        k
    });
    let (items, more) = store.index_page(&list_pk(tenant), size, start).await?;
    let links = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((links, more))
}
