//! The server-to-server connect API (`POST /v1/integrations/{id}/connect`), for platforms
//! that collect credentials themselves: API-key providers connect at once from a stored
//! credential (`POST /v1/credentials`); OAuth providers answer the authorization URL the
//! platform sends its user to, and our callback completes the connection and then
//! redirects to the platform's `redirect_url`.
//!
//! One live connection per owner (a consumer, or the tenant itself) and provider: a guard
//! item `T#<tenant>` / `CONNECTED#<owner>#<provider>` written in the same transaction makes
//! two concurrent connects end in one connection and one `409 already_connected`. An OAuth
//! connect holds it from its start (with `pending_until`, its link's expiry, so an abandoned
//! one gives way) and the callback's activation confirms it is still its own.

use crate::connection::{self, Connection, Status};
use crate::credential::{self, Credentials};
use crate::error::{ApiError, FieldError};
use crate::event;
use crate::fields::{string, Fields};
use crate::id::{ConnectionId, ConsumerId, CredentialId, IntegrationId, TenantId};
use crate::idempotency::{self, Idempotency};
use crate::integration::{self, Integration};
use crate::link::{LinkOptions, NewLink, Stored};
use crate::metadata::Metadata;
use crate::oauth::state::{self, Pending};
use crate::oauth::{callback_url, OAuthApp};
use crate::provider::{catalog, AuthMode};
use crate::redirect_url::RedirectUrl;
use crate::store::{key, s, tenant_pk, Store, StoreError};
use crate::{time, App};
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde_json::json;

pub mod api;

const FIELDS: &[&str] = &[
    "credential_id",
    "redirect_url",
    "consumer_id",
    "name",
    "metadata",
];

fn guard_sk(consumer: Option<&ConsumerId>, provider: &str) -> String {
    let owner = consumer.map_or("TENANT", ConsumerId::as_str);
    format!("CONNECTED#{owner}#{provider}")
}

/// At an OAuth start: the guard, held for the pending `connection` until `until` (its
/// link's expiry), unless a live connection or an unexpired start holds it.
fn hold_tx(
    store: &Store,
    connection: &Connection,
    until: time::Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    let provider = connection.provider.as_deref().unwrap_or_default();
    let mut guard = key(
        tenant_pk(&connection.tenant_id),
        guard_sk(connection.consumer_id.as_ref(), provider),
    );
    guard.insert("connection_id".into(), s(connection.id.as_str()));
    guard.insert("pending_until".into(), crate::store::n(until.timestamp()));
    store.put_tx(
        guard,
        "attribute_not_exists(pk) OR pending_until < :now",
        &[(":now", crate::store::n(time::now().timestamp()))],
    )
}

/// At the callback's activation: the guard becomes the live connection's, if it is still
/// held for this one.
pub(crate) fn confirm_hold_tx(
    store: &Store,
    connection: &Connection,
) -> Result<TransactWriteItem, StoreError> {
    let provider = connection.provider.as_deref().unwrap_or_default();
    store.update_tx(
        key(
            tenant_pk(&connection.tenant_id),
            guard_sk(connection.consumer_id.as_ref(), provider),
        ),
        "REMOVE pending_until",
        "connection_id = :id",
        &[(":id", s(connection.id.as_str()))],
        &[],
    )
}

/// The delete of a connection's guard, if the guard is this connection's (for revocation).
pub(crate) async fn release_guard_tx(
    store: &Store,
    c: &Connection,
) -> Result<Option<TransactWriteItem>, StoreError> {
    let Some(provider) = &c.provider else {
        return Ok(None);
    };
    let sk = guard_sk(c.consumer_id.as_ref(), provider);
    let Some(guard) = store.get(tenant_pk(&c.tenant_id), sk.clone()).await? else {
        return Ok(None);
    };
    if guard.get("connection_id").and_then(|v| v.as_s().ok()) != Some(&c.id.to_string()) {
        return Ok(None);
    }
    Ok(Some(store.delete_tx(
        key(tenant_pk(&c.tenant_id), sk),
        Some("connection_id = :id"),
        &[(":id", s(c.id.as_str()))],
    )?))
}

/// `{id}` is an integration id or a provider id (`datadog`) of the tenant's integrations.
async fn named_integration(
    app: &App,
    tenant: &TenantId,
    raw: &str,
) -> Result<Integration, ApiError> {
    let found = if let Some(id) = IntegrationId::parse(raw) {
        integration::get(&app.store, tenant, &id)
            .await?
            .ok_or_else(|| ApiError::no_such("integration", raw))?
    } else if catalog()?.available(raw, app.config.stage).is_some() {
        integration::find_by_provider(&app.store, tenant, raw)
            .await?
            .ok_or_else(|| {
                ApiError::field(
                    "provider",
                    "is not enabled for this tenant: create an integration for it first (POST /v1/integrations)",
                )
            })?
    } else {
        return Err(ApiError::field(
            "provider",
            "is not a provider of the catalog (see GET /v1/providers)",
        ));
    };
    if !found.is_active() {
        return Err(ApiError::field(
            "provider",
            "names an inactive integration; activate it first",
        ));
    }
    Ok(found)
}

struct ConnectRequest {
    credential_id: Option<CredentialId>,
    redirect_url: Option<RedirectUrl>,
    consumer_id: Option<ConsumerId>,
    name: Option<String>,
    metadata: Metadata,
}

fn already_connected(
    owner: Option<&ConsumerId>,
    provider: &str,
    existing: Option<&ConnectionId>,
) -> ApiError {
    let who = owner.map_or_else(|| "the tenant".to_string(), |c| format!("consumer {c}"));
    let which = existing.map_or_else(String::new, |id| format!(" ({id})"));
    ApiError::AlreadyConnected {
        message: format!(
            "{who} already has a live connection to {provider}{which}, or a connect to it in progress; revoke it or re-authorize it with POST /v1/connections/{{id}}/links"
        ),
        details: Vec::new(),
    }
}

fn new_connection(
    tenant: &TenantId,
    integration: &Integration,
    request: &ConnectRequest,
    status: Status,
) -> Result<Connection, ApiError> {
    let provider = integration.provider()?;
    let now = time::now();
    Ok(Connection {
        id: ConnectionId::generate(),
        tenant_id: tenant.clone(),
        consumer_id: request.consumer_id.clone(),
        name: request
            .name
            .clone()
            .unwrap_or_else(|| provider.name.clone()),
        integration_id: Some(integration.id().clone()),
        provider: Some(provider.id.clone()),
        status,
        disabled: false,
        redirect_url: None,
        metadata: request.metadata.to_json_string(),
        credentials_sealed: None,
        open_link_id: None,
        created_at: now,
        updated_at: now,
        activated_at: None,
        revoked_at: None,
        token_expires_at: None,
        refreshable: false,
        refresh_lease: None,
        refresh_lease_until: None,
        reauth_reason: None,
        version: 1,
    })
}

fn consumer_check(
    app: &App,
    tenant: &TenantId,
    consumer: Option<&ConsumerId>,
) -> Result<Option<TransactWriteItem>, ApiError> {
    consumer
        .map(|c| crate::consumer::exists_tx(&app.store, tenant, c))
        .transpose()
        .map_err(ApiError::from)
}
