//! The tenant's settings in the table: one item, `T#<tenant>` / `SETTINGS`.

use super::Settings;
use crate::id::TenantId;
use crate::store::{tenant_pk, Store, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

const SK: &str = "SETTINGS";

#[derive(Serialize, Deserialize)]
struct SettingsItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    settings: Settings,
}

pub async fn load(store: &Store, tenant: &TenantId) -> Result<Settings, StoreError> {
    match store.get(tenant_pk(tenant), SK).await? {
        None => Ok(Settings::default()),
        Some(item) => Ok(Store::from_item::<SettingsItem>(item)?.settings),
    }
}

/// The write of `next` over `previous`: a create when nothing was stored yet, else only
/// while the stored version is still `previous`'s.
pub fn replace_tx(
    store: &Store,
    tenant: &TenantId,
    next: &Settings,
    previous: &Settings,
) -> Result<TransactWriteItem, StoreError> {
    let item = Store::to_item(&SettingsItem {
        pk: tenant_pk(tenant),
        sk: SK.into(),
        settings: next.clone(),
    })?;
    if previous.version == 0 {
        store.put_tx(item, crate::store::IS_NEW, &[])
    } else {
        store.put_tx(
            item,
            "version = :v",
            &[(":v", crate::store::n(previous.version))],
        )
    }
}
