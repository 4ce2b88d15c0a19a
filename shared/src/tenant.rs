//! Tenants: the platforms that use Linkgate.

use crate::id::TenantId;
use crate::store::{tenant_pk, Store, StoreError};
use crate::time::{self, Timestamp};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

pub const SK: &str = "TENANT";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
struct TenantItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    tenant: Tenant,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("tenant name must be 1 to 200 characters without control characters")]
    InvalidName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create(store: &Store, name: &str) -> Result<Tenant, TenantError> {
    let name = crate::fields::string(&serde_json::Value::String(name.to_owned()), 1, 200)
        .map_err(|_| TenantError::InvalidName)?;
    let tenant = Tenant {
        id: TenantId::generate(),
        name,
        created_at: time::now(),
    };
    let item = Store::to_item(&TenantItem {
        pk: tenant_pk(&tenant.id),
        sk: SK.into(),
        tenant: tenant.clone(),
    })?;
    let put = Put::builder()
        .table_name(store.table())
        .set_item(Some(item))
        .condition_expression(crate::store::IS_NEW)
        .build()
        .map_err(|e| StoreError::Sdk(e.to_string()))?;
    match store
        .transact(vec![TransactWriteItem::builder().put(put).build()])
        .await?
    {
        crate::store::TxOutcome::Committed => Ok(tenant),
        crate::store::TxOutcome::Cancelled(codes) => {
            Err(StoreError::Sdk(format!("tenant write cancelled: {codes:?}")).into())
        }
    }
}

pub async fn get(store: &Store, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
    match store.get(tenant_pk(id), SK).await? {
        None => Ok(None),
        Some(item) => Ok(Some(Store::from_item::<TenantItem>(item)?.tenant)),
    }
}
