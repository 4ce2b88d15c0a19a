//! Stored credentials in the table: `T#<tenant>` / `CRD#<id>`, with `ttl` so an unused one
//! is removed after it expires (reads check `expires_at`, since TTL removal is lazy).

use super::Stored;
use crate::id::{CredentialId, TenantId};
use crate::store::{key, n, s, tenant_pk, Store, StoreError};
use crate::time::{self, Timestamp};
use aws_sdk_dynamodb::types::TransactWriteItem;

const SK_PREFIX: &str = "CRD#";

fn sk(id: &CredentialId) -> String {
    format!("{SK_PREFIX}{id}")
}

/// A stored credential of `tenant`, if it exists and has not expired.
pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &CredentialId,
) -> Result<Option<Stored>, StoreError> {
    let Some(item) = store.get(tenant_pk(tenant), sk(id)).await? else {
        return Ok(None);
    };
    let text = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("credential without {k}")))
    };
    let expires_at = time::parse(&text("expires_at")?)
        .ok_or_else(|| StoreError::Corrupt("credential expires_at".into()))?;
    if expires_at <= time::now() {
        return Ok(None);
    }
    let verification = super::verify::Verification {
        verified: item
            .get("verified")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        last: match (
            item.get("last_check_result").and_then(|v| v.as_s().ok()),
            item.get("last_checked_at").and_then(|v| v.as_s().ok()),
        ) {
            (Some(result), Some(at)) => {
                super::verify::Outcome::parse(result).map(|o| (o, at.clone()))
            }
            _ => None,
        },
    };
    Ok(Some(Stored {
        id: id.clone(),
        provider: text("provider")?,
        sealed: text("sealed")?,
        expires_at,
        verification,
    }))
}

/// The write that stores a new credential.
pub fn create_tx(
    store: &Store,
    tenant: &TenantId,
    stored: &Stored,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = key(tenant_pk(tenant), sk(&stored.id));
    item.insert("provider".into(), s(&stored.provider));
    item.insert("sealed".into(), s(&stored.sealed));
    item.insert("created_at".into(), s(time::format(&now)));
    item.insert("expires_at".into(), s(time::format(&stored.expires_at)));
    item.insert("ttl".into(), n(stored.expires_at.timestamp()));
    item.insert(
        "verified".into(),
        aws_sdk_dynamodb::types::AttributeValue::Bool(stored.verification.verified),
    );
    if let Some((result, at)) = &stored.verification.last {
        item.insert("last_check_result".into(), s(result.as_str()));
        item.insert("last_checked_at".into(), s(at));
    }
    store.put_tx(item, crate::store::IS_NEW, &[])
}

/// The delete that uses a credential up (single use), only while it is there.
pub fn use_up_tx(
    store: &Store,
    tenant: &TenantId,
    id: &CredentialId,
) -> Result<TransactWriteItem, StoreError> {
    store.delete_tx(
        key(tenant_pk(tenant), sk(id)),
        Some(crate::store::EXISTS),
        &[],
    )
}
