//! Connections: a consumer's account at one integration, activated through a link.
//!
//! Item: `T#<tenant>` / `CONN#<id>`, listed per consumer through `gsi1`
//! (`T#<tenant>#CSM#<consumer>#CONNS`). Status `pending` → `active` (first completed link)
//! → `needs_reauth` → `active` again through a new link on the same id; any → `revoked`
//! (credentials destroyed, record kept as a tombstone).

use crate::credential::Credentials;
use crate::error::ApiError;
use crate::event;
use crate::fields::{object, string, Fields, Patch};
use crate::id::{ConnectionId, ConsumerId, IntegrationId, LinkId, TenantId};
use crate::idempotency::{self, Idempotency};
use crate::integration;
use crate::lang::Lang;
use crate::link::{self, LinkOptions, NewLink};
use crate::metadata::Metadata;
use crate::oauth::revocation::ProviderRevocation;
use crate::redirect_url::RedirectUrl;
use crate::refresh;
use crate::settings;
use crate::store::{key, n, s, tenant_pk, Item, Step, Store, StoreError};
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub mod api;

const SK_PREFIX: &str = "CONN#";
const CREATE_FIELDS: &[&str] = &[
    "name",
    "integration_id",
    "redirect_url",
    "redirect",
    "link_ttl_seconds",
    "lang",
    "metadata",
];
const UPDATE_FIELDS: &[&str] = &["name", "redirect_url", "disabled", "metadata"];
const LINK_FIELDS: &[&str] = &["redirect_url", "redirect", "link_ttl_seconds", "lang"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Active,
    NeedsReauth,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub tenant_id: TenantId,
    /// Absent for connections the tenant owns itself (direct connect without a consumer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_id: Option<ConsumerId>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<IntegrationId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub status: Status,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<RedirectUrl>,
    /// JSON text, as for consumers.
    pub metadata: String,
    /// Sealed credentials (see `seal`); absent until activation and after revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_link_id: Option<LinkId>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// When the stored OAuth access token expires (not secret; drives refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<String>,
    /// The stored OAuth credentials carry a refresh token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refreshable: bool,
    /// Single-flight refresh: who holds the lease, and until when (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lease: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lease_until: Option<i64>,
    /// Why the provider stopped accepting the grant (`invalid_grant`…), while `needs_reauth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauth_reason: Option<String>,
    pub version: u64,
}

#[derive(Serialize, Deserialize)]
struct ConnectionItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(flatten)]
    connection: Connection,
}

pub(crate) fn sk(id: &ConnectionId) -> String {
    format!("{SK_PREFIX}{id}")
}

fn consumer_list_pk(tenant: &TenantId, consumer: &ConsumerId) -> String {
    format!("T#{tenant}#CSM#{consumer}#CONNS")
}

/// The index partition listing an owner's connections: a consumer's, or the tenant's own.
pub(crate) fn owner_list_pk(tenant: &TenantId, consumer: Option<&ConsumerId>) -> String {
    match consumer {
        Some(c) => consumer_list_pk(tenant, c),
        None => format!("T#{tenant}#OWN#CONNS"),
    }
}

impl Connection {
    pub fn metadata(&self) -> Result<Metadata, StoreError> {
        Metadata::from_json_string(&self.metadata).map_err(StoreError::Corrupt)
    }

    pub fn to_json(&self) -> Result<Value, StoreError> {
        Ok(json!({
            "id": self.id,
            "consumer_id": self.consumer_id,
            "name": self.name,
            "integration_id": self.integration_id,
            "provider": self.provider,
            "status": self.status,
            "disabled": self.disabled,
            "redirect_url": self.redirect_url.as_ref().map(RedirectUrl::as_str),
            "metadata": self.metadata()?,
            "has_credentials": self.credentials_sealed.is_some(),
            "created_at": time::format(&self.created_at),
            "updated_at": time::format(&self.updated_at),
            "activated_at": self.activated_at,
            "revoked_at": self.revoked_at,
            "token_expires_at": self.token_expires_at,
            "reauth_reason": self.reauth_reason,
        }))
    }

    /// The refresher's index entry: only active connections with a refresh token and a known
    /// expiry, spread over 16 partitions by the id's random tail.
    fn refresh_index(&self) -> (Option<String>, Option<String>) {
        match (&self.status, self.refreshable, &self.token_expires_at) {
            (Status::Active, true, Some(expires)) => {
                let shard = self.id.as_str().chars().last().unwrap_or('0');
                (Some(format!("REFRESH#{shard}")), Some(expires.clone()))
            }
            _ => (None, None),
        }
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        Store::to_item(&ConnectionItem {
            pk: tenant_pk(&self.tenant_id),
            sk: sk(&self.id),
            gsi1pk: owner_list_pk(&self.tenant_id, self.consumer_id.as_ref()),
            gsi1sk: self.id.to_string(),
            gsi2pk: self.refresh_index().0,
            gsi2sk: self.refresh_index().1,
            connection: self.clone(),
        })
    }

    /// A put of `self` that only succeeds over `previous` (optimistic concurrency).
    pub fn replace_tx(
        &self,
        store: &Store,
        previous: &Connection,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        store.put_tx(self.item()?, "version = :v", &[(":v", n(previous.version))])
    }
}

pub(crate) fn from_item(item: Item) -> Result<Connection, StoreError> {
    Ok(Store::from_item::<ConnectionItem>(item)?.connection)
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &ConnectionId,
) -> Result<Option<Connection>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(id))
        .await?
        .map(from_item)
        .transpose()
}

/// Every connection of an owner (a consumer, or the tenant itself), newest first.
pub(crate) async fn of_owner(
    store: &Store,
    tenant: &TenantId,
    consumer: Option<&ConsumerId>,
) -> Result<Vec<Connection>, StoreError> {
    let list_pk = owner_list_pk(tenant, consumer);
    let mut start = None;
    let mut all = Vec::new();
    loop {
        let (items, more) = store.index_page(&list_pk, 100, start).await?;
        for item in items {
            all.push(from_item(item)?);
        }
        match (more, all.last()) {
            (true, Some(last)) => {
                let mut k = key(tenant_pk(tenant), sk(&last.id));
                k.insert("gsi1pk".into(), s(&list_pk));
                k.insert("gsi1sk".into(), s(last.id.as_str()));
                start = Some(k);
            }
            _ => return Ok(all),
        }
    }
}

/// Whether the consumer has any connection that is not revoked.
pub async fn has_live(
    store: &Store,
    tenant: &TenantId,
    consumer: &ConsumerId,
) -> Result<bool, StoreError> {
    Ok(of_owner(store, tenant, Some(consumer))
        .await?
        .iter()
        .any(|c| c.status != Status::Revoked))
}

/// The items that revoke the connection's open link, if it still has one.
pub(crate) async fn revoke_open_link(
    store: &Store,
    connection: &Connection,
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
    let Some(open) = &connection.open_link_id else {
        return Ok(Vec::new());
    };
    let now = time::now();
    match link::get(store, &connection.tenant_id, open).await? {
        Some(l) if l.is_open(now) => l.revoke_items(store, now),
        _ => Ok(Vec::new()),
    }
}

fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("connection", raw)
}

fn consumer_not_found(raw: &str) -> ApiError {
    ApiError::no_such("consumer", raw)
}

fn parse_redirect_url(
    stage: crate::config::Stage,
) -> impl Fn(&Value) -> Result<RedirectUrl, String> {
    move |v| match v {
        Value::String(s) => RedirectUrl::parse(s, stage),
        _ => Err("must be a string".into()),
    }
}

fn parse_bool(v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| "must be true or false".into())
}

/// Reads the link options of a body (`redirect_url`, `redirect`, `link_ttl_seconds`).
type LinkFields = (Option<RedirectUrl>, Option<bool>, Option<u64>, Option<Lang>);

fn link_options(f: &mut Fields, app: &App) -> LinkFields {
    let redirect_url = f.optional("redirect_url", parse_redirect_url(app.config.stage));
    let redirect = f.optional("redirect", parse_bool);
    let ttl = f.optional("link_ttl_seconds", settings::parse_link_ttl);
    let lang = f.optional("lang", crate::lang::parse_lang);
    (redirect_url, redirect, ttl, lang)
}

/// A new link's language: the one asked for, else its consumer's `locale` now (one read,
/// at creation, so opening the page stays one write).
pub(crate) async fn link_lang(
    app: &App,
    tenant: &TenantId,
    consumer: Option<&ConsumerId>,
    asked: Option<Lang>,
) -> Result<Option<Lang>, ApiError> {
    if asked.is_some() {
        return Ok(asked);
    }
    let Some(id) = consumer else {
        return Ok(None);
    };
    Ok(crate::consumer::get(&app.store, tenant, id)
        .await?
        .and_then(|c| c.locale)
        .and_then(|l| l.lang()))
}

fn revoked_conflict() -> ApiError {
    ApiError::conflict("the connection is revoked; create a new connection instead")
}

fn disabled_conflict() -> ApiError {
    ApiError::conflict("the connection is disabled; enable it first (PATCH disabled: false)")
}

fn modified_concurrently() -> ApiError {
    ApiError::conflict("the connection was modified concurrently; retry the request")
}

fn needs_reauth() -> ApiError {
    ApiError::NeedsReauth(
        "the provider no longer accepts this connection's grant; the customer must reconnect: send the link named in connection.needs_reauth (POST /v1/links/{id}/send) or make a new one (POST /v1/connections/{id}/links)".into(),
    )
}

/// How long the record of a credentials read is kept.
const CREDENTIAL_READ_RETENTION_SECONDS: i64 = 90 * 24 * 60 * 60;

const IMPORT_FIELDS: &[&str] = &[
    "consumer_id",
    "integration_id",
    "name",
    "credentials",
    "connection_fields",
    "metadata",
];
const OAUTH_TOKEN_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "expires_at",
    "token_type",
    "scope",
];

/// OAuth tokens the caller already holds: an access token, and optionally what keeps it alive.
fn parse_oauth_tokens(v: &Value) -> Result<serde_json::Map<String, Value>, String> {
    let Value::Object(map) = v else {
        return Err("must be an object".into());
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !OAUTH_TOKEN_FIELDS.contains(&k.as_str()))
    {
        return Err(format!(
            "has an unknown field {unknown} (allowed: {})",
            OAUTH_TOKEN_FIELDS.join(", ")
        ));
    }
    let text = |k: &str, required: bool| -> Result<(), String> {
        match map.get(k) {
            None | Some(Value::Null) if !required => Ok(()),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 8192 => Ok(()),
            _ => Err(format!("{k} must be a non-empty string")),
        }
    };
    text("access_token", true)?;
    text("refresh_token", false)?;
    text("token_type", false)?;
    text("scope", false)?;
    if let Some(v) = map.get("expires_at").filter(|v| !v.is_null()) {
        if v.as_str().and_then(time::parse).is_none() {
            return Err("expires_at must be an RFC 3339 timestamp".into());
        }
    }
    Ok(map.clone())
}
