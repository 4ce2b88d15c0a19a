//! Where a sharing lives: one small item per sharing, keyed by its number alone (the public
//! link names only the number and the token), listed per tenant through `gsi1`, newest first.

use super::Sharing;
use crate::id::TenantId;
use crate::store::{key, s, tenant_pk, Store, StoreError, TxItem};

const SK: &str = "SHARING";

fn pk(number: u64) -> String {
    format!("ALBATO#{number}")
}

fn list_pk(tenant: &TenantId) -> String {
    format!("{}#ALBATO", tenant_pk(tenant))
}

/// The sharing's item, created with its connection; fails if the number is taken.
pub fn create_tx(store: &Store, sharing: &Sharing) -> Result<TxItem, StoreError> {
    let mut item = Store::to_item(sharing)?;
    item.extend(key(pk(sharing.number), SK));
    item.insert("gsi1pk".into(), s(list_pk(&sharing.tenant_id)));
    item.insert(
        "gsi1sk".into(),
        s(format!(
            "{}#{:016}",
            crate::time::format(&sharing.created_at),
            sharing.number
        )),
    );
    store.put_tx(item, crate::store::IS_NEW, &[])
}

pub async fn get(store: &Store, number: u64) -> Result<Option<Sharing>, StoreError> {
    store
        .get(pk(number), SK)
        .await?
        .map(Store::from_item)
        .transpose()
}

/// Up to `limit` of the tenant's sharings, newest first, and whether more exist.
pub async fn newest(
    store: &Store,
    tenant: &TenantId,
    limit: usize,
) -> Result<(Vec<Sharing>, bool), StoreError> {
    let (items, more) = store.index_page(&list_pk(tenant), limit, None).await?;
    let sharings = items
        .into_iter()
        .map(Store::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((sharings, more))
}

/// Marks the sharing revoked (once); `false` when it is gone.
pub async fn mark_revoked(store: &Store, number: u64, at: &str) -> Result<bool, StoreError> {
    store
        .update(
            key(pk(number), SK),
            "SET revoked_at = if_not_exists(revoked_at, :at)",
            crate::store::EXISTS,
            &[(":at", s(at))],
            &[],
        )
        .await
}

/// Lifts the mark (a sharing renewed after it was deleted).
pub async fn unmark_revoked(store: &Store, number: u64) -> Result<bool, StoreError> {
    store
        .update(
            key(pk(number), SK),
            "REMOVE revoked_at",
            crate::store::EXISTS,
            &[],
            &[],
        )
        .await
}
