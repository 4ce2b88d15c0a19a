//! API keys: how a tenant's servers authenticate. A key is 256 random bits behind a
//! recognisable prefix, shown once at creation, stored only as its SHA-256.

use crate::error::ApiError;
use crate::id::{ApiKeyId, TenantId};
use crate::secret::{random_bytes, sha256_hex, Secret};
use crate::store::{s, tenant_pk, Store, StoreError, GSI1};
use crate::time::{self, Timestamp};
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Every key starts with this, so leaked keys are easy to recognise and scan for.
pub const PREFIX: &str = "lgk_";
/// 32 random bytes in unpadded base64url.
const BODY_LEN: usize = 43;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May read and write everything of its tenant.
    Admin,
    /// May only read.
    Member,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// Who is calling: established once per request by [`Authenticator::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub key_id: ApiKeyId,
    pub role: Role,
}

/// The listing form of a key: everything but the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub role: Role,
    #[serde(default)]
    pub name: Option<String>,
    /// The secret's last four characters, to tell keys apart in a list.
    pub last4: String,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ApiKeyItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(flatten)]
    key: ApiKey,
}

const SK: &str = "KEY";

fn key_pk(hash: &str) -> String {
    format!("KEY#{hash}")
}

fn list_pk(tenant: &TenantId) -> String {
    format!("{}#KEYS", tenant_pk(tenant))
}

/// Whether `raw` has the shape of a key we issue; anything else is refused without a read.
pub fn well_formed(raw: &str) -> bool {
    raw.strip_prefix(PREFIX).is_some_and(|body| {
        body.len() == BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn generate_secret() -> Result<Secret, StoreError> {
    let bytes = random_bytes::<32>().map_err(|e| StoreError::Sdk(format!("no randomness: {e}")))?;
    Ok(Secret::new(format!(
        "{PREFIX}{}",
        URL_SAFE_NO_PAD.encode(bytes)
    )))
}

#[derive(Debug, thiserror::Error)]
pub enum KeyAdminError {
    #[error("no tenant with id {0}")]
    TenantNotFound(TenantId),
    #[error("tenant {tenant} has no API key {key}")]
    KeyNotFound { tenant: TenantId, key: ApiKeyId },
    #[error("key name must be 1 to 100 characters without control characters")]
    InvalidName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Issues a key for an existing tenant. The secret is returned once and never stored.
pub async fn create(
    store: &Store,
    tenant: &TenantId,
    role: Role,
    name: Option<&str>,
) -> Result<(ApiKey, Secret), KeyAdminError> {
    let name = name
        .map(|n| {
            crate::fields::string(&serde_json::Value::String(n.to_owned()), 1, 100)
                .map_err(|_| KeyAdminError::InvalidName)
        })
        .transpose()?;
    let secret = generate_secret()?;
    let exposed = secret.expose();
    let key = ApiKey {
        id: ApiKeyId::generate(),
        tenant_id: tenant.clone(),
        role,
        name,
        last4: exposed[exposed.len() - 4..].to_string(),
        created_at: time::now(),
        revoked_at: None,
    };
    let item = Store::to_item(&ApiKeyItem {
        pk: key_pk(&sha256_hex(exposed.as_bytes())),
        sk: SK.into(),
        gsi1pk: list_pk(tenant),
        gsi1sk: key.id.to_string(),
        key: key.clone(),
    })?;
    let tenant_exists = ConditionCheck::builder()
        .table_name(store.table())
        .set_key(Some(crate::store::key(
            tenant_pk(tenant),
            crate::tenant::SK,
        )))
        .condition_expression(crate::store::EXISTS)
        .build()
        .map_err(|e| StoreError::Sdk(e.to_string()))?;
    let put = Put::builder()
        .table_name(store.table())
        .set_item(Some(item))
        .condition_expression(crate::store::IS_NEW)
        .build()
        .map_err(|e| StoreError::Sdk(e.to_string()))?;
    let outcome = store
        .transact(vec![
            TransactWriteItem::builder()
                .condition_check(tenant_exists)
                .build(),
            TransactWriteItem::builder().put(put).build(),
        ])
        .await?;
    if outcome.failed_condition(0) {
        return Err(KeyAdminError::TenantNotFound(tenant.clone()));
    }
    match outcome {
        crate::store::TxOutcome::Committed => Ok((key, secret)),
        crate::store::TxOutcome::Cancelled(codes) => {
            Err(StoreError::Sdk(format!("key write cancelled: {codes:?}")).into())
        }
    }
}

async fn list_items(
    store: &Store,
    tenant: &TenantId,
    key_id: Option<&ApiKeyId>,
) -> Result<Vec<ApiKeyItem>, StoreError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let mut q = store
            .client()
            .query()
            .table_name(store.table())
            .index_name(GSI1)
            .expression_attribute_values(":pk", s(list_pk(tenant)))
            .set_exclusive_start_key(start);
        q = match key_id {
            Some(id) => q
                .key_condition_expression("gsi1pk = :pk AND gsi1sk = :sk")
                .expression_attribute_values(":sk", s(id.as_str())),
            None => q.key_condition_expression("gsi1pk = :pk"),
        };
        let page = q.send().await.map_err(StoreError::sdk)?;
        for item in page.items.unwrap_or_default() {
            out.push(Store::from_item::<ApiKeyItem>(item)?);
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(out);
        }
    }
}

pub async fn list(store: &Store, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
    Ok(list_items(store, tenant, None)
        .await?
        .into_iter()
        .map(|i| i.key)
        .collect())
}

/// Marks a key revoked; it stops authenticating once warm containers' caches lapse (at most
/// [`crate::config::MAX_API_KEY_CACHE_SECONDS`]). Revoking twice keeps the first time.
pub async fn revoke(
    store: &Store,
    tenant: &TenantId,
    key_id: &ApiKeyId,
) -> Result<ApiKey, KeyAdminError> {
    let not_found = || KeyAdminError::KeyNotFound {
        tenant: tenant.clone(),
        key: key_id.clone(),
    };
    let item = list_items(store, tenant, Some(key_id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(not_found)?;
    let out = store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(crate::store::key(item.pk, item.sk)))
        .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
        .condition_expression(crate::store::EXISTS)
        .expression_attribute_values(":now", s(time::format(&time::now())))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
        .send()
        .await
        .map_err(StoreError::sdk)?;
    let item = out.attributes.ok_or_else(not_found)?;
    Ok(Store::from_item::<ApiKeyItem>(item)?.key)
}

async fn lookup(store: &Store, hash: &str) -> Result<Option<Principal>, StoreError> {
    let Some(item) = store.get(key_pk(hash), SK).await? else {
        return Ok(None);
    };
    let item: ApiKeyItem = Store::from_item(item)?;
    if item.key.revoked_at.is_some() {
        return Ok(None);
    }
    Ok(Some(Principal {
        tenant_id: item.key.tenant_id,
        key_id: item.key.id,
        role: item.key.role,
    }))
}

/// Verified keys, remembered for a bounded time so a warm container skips the read.
/// Failures are never cached: a key that was just created works at once.
pub struct KeyCache {
    ttl: Duration,
    entries: HashMap<String, (Principal, Instant)>,
}

const CACHE_CAPACITY: usize = 1024;

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl,
            entries: HashMap::new(),
        }
    }

    pub fn get(&self, hash: &str, now: Instant) -> Option<Principal> {
        self.entries
            .get(hash)
            .filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl)
            .map(|(p, _)| p.clone())
    }

    pub fn put(&mut self, hash: String, principal: Principal, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        if self.entries.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            self.entries
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
            if self.entries.len() >= CACHE_CAPACITY {
                self.entries.clear();
            }
        }
        self.entries.insert(hash, (principal, now));
    }
}

pub struct Authenticator {
    cache: Mutex<KeyCache>,
}

impl Authenticator {
    pub fn new(ttl: Duration) -> Self {
        Authenticator {
            cache: Mutex::new(KeyCache::new(ttl)),
        }
    }

    /// Resolves an `Authorization: Bearer <key>` header to its principal.
    pub async fn authenticate(
        &self,
        store: &Store,
        authorization: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let raw = authorization
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .filter(|key| well_formed(key))
            .ok_or(ApiError::Unauthorized)?;
        self.key_of_hash(store, sha256_hex(raw.as_bytes())).await
    }

    /// The live key whose secret hashes to `hash` (cached as `authenticate` caches it): the
    /// check behind an access token that stands for a key (`access_token`).
    pub async fn key_of_hash(&self, store: &Store, hash: String) -> Result<Principal, ApiError> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash, Instant::now());
        if let Some(principal) = cached {
            return Ok(principal);
        }
        let principal = lookup(store, &hash).await?.ok_or(ApiError::Unauthorized)?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).put(
            hash,
            principal.clone(),
            Instant::now(),
        );
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            tenant_id: TenantId::generate(),
            key_id: ApiKeyId::generate(),
            role: Role::Member,
        }
    }

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert!(well_formed(a.expose()), "{}", a.expose().len());
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "lgk_",
            "sk_live_abc",
            &format!("lgk_{}", "a".repeat(42)),
            &format!("lgk_{}!", "a".repeat(42)),
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn cache_forgets_after_ttl() {
        let mut c = KeyCache::new(Duration::from_secs(30));
        let t0 = Instant::now();
        c.put("h".into(), principal(), t0);
        assert!(c.get("h", t0 + Duration::from_secs(29)).is_some());
        assert!(c.get("h", t0 + Duration::from_secs(30)).is_none());
        assert!(c.get("other", t0).is_none());
    }

    #[test]
    fn zero_ttl_disables_caching_and_capacity_is_bounded() {
        let t0 = Instant::now();
        let mut off = KeyCache::new(Duration::ZERO);
        off.put("h".into(), principal(), t0);
        assert!(off.get("h", t0).is_none());
        let mut c = KeyCache::new(Duration::from_secs(30));
        for i in 0..(CACHE_CAPACITY + 10) {
            c.put(format!("h{i}"), principal(), t0);
        }
        assert!(c.entries.len() <= CACHE_CAPACITY);
    }

    #[test]
    fn roles_parse() {
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("member"), Some(Role::Member));
        assert_eq!(Role::parse("owner"), None);
    }
}
