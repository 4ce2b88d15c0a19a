//! Connections: a consumer's account at one integration, activated through a link.
//!
//! Status `pending` → `active` (first completed link)
//! → `needs_reauth` → `active` again through a new link on the same id; any → `revoked`
//! (credentials destroyed, record kept as a tombstone).

use crate::credential::verify::{self, Verification};
use crate::credential::Credentials;
use crate::error::ApiError;
use crate::event;
use crate::fields::{object, string, Fields, Patch};
use crate::id::{ConnectionId, ConsumerId, IntegrationId, LinkId, TenantId};
use crate::idempotency::{self, Answer, Idempotency};
use crate::integration;
use crate::lang::Lang;
use crate::link::{LinkOptions, NewLink};
use crate::metadata::Metadata;
use crate::redirect_url::RedirectUrl;
use crate::settings;
use crate::store::{Step, StoreError};
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub mod activation;
pub mod api;
pub mod check;
pub mod refresh;
pub(crate) mod repo;

pub use repo::guard;
pub mod revocation;

pub use repo::{create_tx, get};
pub(crate) use repo::{of_owner, revoke_open_link};

use revocation::ProviderRevocation;

const CREATE_FIELDS: &[&str] = &[
    "name",
    "integration_id",
    "redirect_url",
    "redirect",
    "link_ttl_seconds",
    "lang",
    "scopes",
    "metadata",
];
const UPDATE_FIELDS: &[&str] = &["name", "redirect_url", "disabled", "metadata"];
const LINK_FIELDS: &[&str] = &[
    "redirect_url",
    "redirect",
    "link_ttl_seconds",
    "lang",
    "scopes",
];

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
    /// The provider confirmed the stored credentials (a `valid` check, or its OAuth grant).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified: bool,
    /// The last check of the credentials with the provider (`credential::verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_result: Option<crate::credential::verify::Outcome>,
    /// OAuth scopes asked for instead of the integration's (by the link that created it, or
    /// the last re-authentication's); reconnect links ask for them again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The scopes the provider granted at the last authorization (its `scope` answer, else
    /// what was asked for, as RFC 6749 reads a silent answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_scopes: Option<Vec<String>>,
    pub version: u64,
}

impl Connection {
    /// A new connection: pending, unconnected, version 1. Each flow sets what it knows
    /// (integration, first link, credentials) over it.
    pub fn new(
        id: ConnectionId,
        tenant: &TenantId,
        consumer: Option<&ConsumerId>,
        name: String,
        metadata: &Metadata,
        now: Timestamp,
    ) -> Connection {
        Connection {
            id,
            tenant_id: tenant.clone(),
            consumer_id: consumer.cloned(),
            name,
            integration_id: None,
            provider: None,
            status: Status::Pending,
            disabled: false,
            redirect_url: None,
            metadata: metadata.to_json_string(),
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
            verified: false,
            last_checked_at: None,
            last_check_result: None,
            scopes: None,
            granted_scopes: None,
            version: 1,
        }
    }

    /// The same connection, recording what its credentials' check found.
    pub fn with_verification(self, v: &crate::credential::verify::Verification) -> Connection {
        Connection {
            verified: v.verified,
            last_checked_at: v.last.as_ref().map(|(_, at)| at.clone()),
            last_check_result: v.last.as_ref().map(|(o, _)| *o),
            ..self
        }
    }

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
            "verified": self.verified,
            "last_checked_at": self.last_checked_at,
            "last_check_result": self.last_check_result,
            "scopes": self.scopes,
            "granted_scopes": self.granted_scopes,
        }))
    }
}

/// Whether the consumer has a connection that is not revoked.
pub async fn any_live(
    app: &App,
    tenant: &TenantId,
    consumer: &ConsumerId,
) -> Result<bool, ApiError> {
    Ok(of_owner(&app.store, tenant, Some(consumer))
        .await?
        .iter()
        .any(|c| c.status != Status::Revoked))
}

pub(crate) fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("connection", raw)
}

/// A consumer created with a connection lost to one created concurrently for the same
/// customer: retrying finds that one.
fn new_consumer_raced() -> ApiError {
    ApiError::conflict("the customer was created by a concurrent request; retry")
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
/// A new link's options as a request gives them.
struct LinkFields {
    redirect_url: Option<RedirectUrl>,
    redirect: Option<bool>,
    ttl: Option<u64>,
    lang: Option<Lang>,
    /// OAuth scopes to ask for instead of the integration's (see [`scopes_for`]).
    scopes: Option<Vec<String>>,
}

fn link_options(f: &mut Fields, app: &App) -> LinkFields {
    LinkFields {
        redirect_url: f.optional("redirect_url", parse_redirect_url(app.config.stage)),
        redirect: f.optional("redirect", parse_bool),
        ttl: f.optional("link_ttl_seconds", settings::parse_link_ttl),
        lang: f.optional("lang", crate::lang::parse_lang),
        scopes: f.optional("scopes", integration::parse_scopes),
    }
}

/// Scopes a link asks for: only with an OAuth integration, and only among what it allows
/// (its `allowed_scopes`, else its own scopes): a field error on `scopes` otherwise.
fn scopes_for(
    asked: Option<Vec<String>>,
    integration: Option<&integration::Integration>,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(asked) = asked else {
        return Ok(None);
    };
    let Some(integration) = integration else {
        return Err(ApiError::field(
            "scopes",
            "need an integration: scopes are asked of one provider",
        ));
    };
    integration
        .allows(&asked)
        .map_err(|m: String| ApiError::field("scopes", &m))?;
    Ok(Some(asked))
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

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// The tenant's connection `id`, if it exists.
pub async fn find(
    app: &App,
    tenant: &TenantId,
    id: &ConnectionId,
) -> Result<Option<Connection>, ApiError> {
    Ok(get(&app.store, tenant, id).await?)
}

/// The tenant's connection `id`, or a 404.
pub async fn load(app: &App, tenant: &TenantId, id: &ConnectionId) -> Result<Connection, ApiError> {
    get(&app.store, tenant, id)
        .await?
        .ok_or_else(|| not_found(id.as_str()))
}

/// The tenant's integration `id`, which must be active (a field error on `field` otherwise).
async fn active_integration(
    app: &App,
    tenant: &TenantId,
    id: &IntegrationId,
) -> Result<integration::Integration, ApiError> {
    match integration::get(&app.store, tenant, id).await? {
        Some(i) if i.is_active() => Ok(i),
        Some(_) => Err(ApiError::field(
            "integration_id",
            "names an inactive integration; activate it first",
        )),
        None => Err(ApiError::field(
            "integration_id",
            "names no integration of this tenant",
        )),
    }
}

/// A connection to create for a consumer, as the request gives it.
pub struct NewConnection {
    name: String,
    integration_id: Option<IntegrationId>,
    link: LinkFields,
    metadata: Metadata,
    ids_as_uuid: bool,
    /// Written in the same transaction, last (a dialect's own item for the connection).
    also: Vec<crate::store::TxItem>,
    /// The connection's id when the caller drew it (to name it in `also`).
    id: Option<ConnectionId>,
}

impl NewConnection {
    pub fn parse(app: &App, body: Value) -> Result<NewConnection, ApiError> {
        let mut f = Fields::new(body, CREATE_FIELDS)?;
        let name = f.required("name", |v| string(v, 1, 200));
        let integration_id = f.optional("integration_id", |v| {
            v.as_str()
                .and_then(IntegrationId::parse)
                .ok_or_else(|| "must be an integration id (int_…)".to_string())
        });
        let link = link_options(&mut f, app);
        let metadata = f.optional("metadata", Metadata::parse).unwrap_or_default();
        f.finish()?;
        Ok(NewConnection {
            name: name.unwrap_or_default(),
            integration_id,
            link,
            metadata,
            ids_as_uuid: false,
            also: Vec::new(),
            id: None,
        })
    }

    /// `items` written with the connection, last in its transaction: when one fails, the
    /// create answers a retryable conflict and writes nothing.
    pub fn with_items(self, items: Vec<crate::store::TxItem>) -> NewConnection {
        NewConnection {
            also: items,
            ..self
        }
    }

    /// The connection takes `id` (drawn by the caller, which names it in `with_items`).
    pub fn with_id(self, id: ConnectionId) -> NewConnection {
        NewConnection {
            id: Some(id),
            ..self
        }
    }

    /// Its link's redirect names ids by UUID (see `link::Link::ids_as_uuid`).
    pub fn with_uuid_ids(self) -> NewConnection {
        NewConnection {
            ids_as_uuid: true,
            ..self
        }
    }
}

/// Creates a pending connection for the consumer with its first link. The consumer is not
/// read: the transaction checks it still exists (404 otherwise). `base_url` is the public
/// base of the link's page.
pub async fn create(
    app: &App,
    tenant: &TenantId,
    owner: crate::consumer::Owner,
    new: NewConnection,
    base_url: &str,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    let NewConnection {
        name,
        integration_id,
        link:
            LinkFields {
                redirect_url,
                redirect,
                ttl,
                lang,
                scopes,
            },
        metadata,
        ids_as_uuid,
        also,
        id: chosen_id,
    } = new;
    let integration = match &integration_id {
        None => None,
        Some(id) => Some(active_integration(app, tenant, id).await?),
    };
    let scopes = scopes_for(scopes, integration.as_ref())?;
    let settings = crate::settings::of(app, tenant).await?;
    let now = time::now();
    let id = chosen_id.unwrap_or_else(ConnectionId::generate);
    let consumer_id = &owner.id().clone();
    let mut new_link = NewLink::generate(
        tenant,
        &id,
        Some(consumer_id),
        integration_id.as_ref(),
        LinkOptions {
            redirect_url: redirect_url.clone(),
            redirect: redirect.unwrap_or(false),
            ttl_seconds: ttl.unwrap_or_else(|| settings.link_ttl_seconds()),
            reminders: Some(settings.reminders.schedule.clone()),
            lang,
            ids_as_uuid,
            scopes: scopes.clone(),
        },
    )?;
    let connection = Connection {
        scopes,
        integration_id,
        provider: integration.as_ref().map(|i| i.provider_id().to_owned()),
        redirect_url,
        open_link_id: Some(new_link.link.id.clone()),
        ..Connection::new(id, tenant, Some(consumer_id), name, &metadata, now)
    };
    let mut response = connection.to_json()?;
    response["link"] = new_link.to_json(base_url);

    // Without a `lang`, the link takes the consumer's locale. Most consumers have none, so
    // the write first bets on that (its consumer check also asks for no locale) and only
    // when it loses reads the consumer and writes again: one round trip in the common case.
    // A consumer created with the connection has none.
    let mut bet_on_no_locale = lang.is_none();
    loop {
        // the consumer must still exist when the connection is written (or is created now)
        let mut items = match &owner {
            crate::consumer::Owner::New(_) => owner.items(&app.store, tenant)?,
            crate::consumer::Owner::Existing(_) if bet_on_no_locale => {
                vec![crate::consumer::exists_without_locale_tx(
                    &app.store,
                    tenant,
                    consumer_id,
                )?]
            }
            crate::consumer::Owner::Existing(_) => {
                vec![crate::consumer::exists_tx(&app.store, tenant, consumer_id)?]
            }
        };
        let owner_items = items.len();
        items.push(repo::create_tx(&app.store, &connection)?);
        items.extend(new_link.items(&app.store)?);
        items.extend(also.iter().cloned());
        // The answer carries the link's token: a replay of it is stored sealed.
        let answer = Answer::created(response.clone());
        match idempotency::commit(
            &app.store,
            tenant,
            idempotency,
            items,
            answer,
            Some(app.sealer()?),
        )
        .await?
        {
            Ok(answer) => return Ok(answer),
            Err(failed)
                if matches!(owner, crate::consumer::Owner::New(_))
                    && (0..owner_items).any(|i| failed.failed_condition(i)) =>
            {
                return Err(new_consumer_raced());
            }
            Err(failed) if failed.failed_condition(0) => {
                if !bet_on_no_locale {
                    return Err(consumer_not_found(consumer_id.as_str()));
                }
                new_link.link.lang = link_lang(app, tenant, Some(consumer_id), None).await?;
                response["link"] = new_link.to_json(base_url);
                bet_on_no_locale = false;
            }
            Err(_) => return Err(ApiError::conflict("concurrent request; retry")),
        }
    }
}
/// A page of the consumer's connections after the cursor's id.
pub async fn page_of_consumer(
    app: &App,
    tenant: &TenantId,
    consumer: &ConsumerId,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Connection>, Option<String>), ApiError> {
    let (connections, more) =
        repo::page_of_owner(&app.store, tenant, Some(consumer), limit, after.as_deref()).await?;
    let next = if more {
        connections.last().map(|c| c.id.to_string())
    } else {
        None
    };
    Ok((connections, next))
}

/// A PATCH of a connection.
pub struct ConnectionPatch {
    name: Patch<String>,
    redirect_url: Patch<RedirectUrl>,
    disabled: Patch<bool>,
    metadata: Patch<Metadata>,
}

impl ConnectionPatch {
    pub fn parse(app: &App, body: Value) -> Result<ConnectionPatch, ApiError> {
        let mut f = Fields::new(body, UPDATE_FIELDS)?;
        let name = f.patch("name", false, |v| string(v, 1, 200));
        let redirect_url = f.patch("redirect_url", true, parse_redirect_url(app.config.stage));
        let disabled = f.patch("disabled", false, parse_bool);
        let metadata = f.patch("metadata", true, Metadata::parse);
        f.finish()?;
        Ok(ConnectionPatch {
            name,
            redirect_url,
            disabled,
            metadata,
        })
    }
}

/// Applies `patch` (refused once revoked); a metadata change of a connection past pending
/// is announced. Re-reads and re-applies when another write came first.
pub async fn update(
    app: &App,
    current: Connection,
    patch: &ConnectionPatch,
) -> Result<Connection, ApiError> {
    let ConnectionPatch {
        name,
        redirect_url,
        disabled,
        metadata,
    } = patch;
    let (tenant, id) = (&current.tenant_id.clone(), &current.id.clone());
    app.store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, tenant, id).await },
            move |current| async move {
                let current = &current;
                if current.status == Status::Revoked {
                    return Err(revoked_conflict());
                }
                let mut next = current.clone();
                if let Patch::Set(n) = &name {
                    next.name = n.clone();
                }
                match &redirect_url {
                    Patch::Set(u) => next.redirect_url = Some(u.clone()),
                    Patch::Clear => next.redirect_url = None,
                    Patch::Keep => {}
                }
                if let Patch::Set(d) = disabled {
                    next.disabled = *d;
                }
                match &metadata {
                    Patch::Set(m) => {
                        next.metadata = current
                            .metadata()?
                            .merge(m)
                            .map_err(|msg| ApiError::field("metadata", &msg))?
                            .to_json_string()
                    }
                    Patch::Clear => next.metadata = Metadata::default().to_json_string(),
                    Patch::Keep => {}
                }
                if next == *current {
                    return Ok(Step::Done(current.clone()));
                }
                next.updated_at = time::now();
                next.version = current.version + 1;
                let mut items = vec![next.replace_tx(&app.store, current)?];
                if *metadata != Patch::Keep && current.status != Status::Pending {
                    items.push(event::outbox(
                        &app.store,
                        tenant,
                        event::CONNECTION_UPDATED,
                        json!({"connection": next.to_json()?, "change": "metadata"}),
                    )?);
                }
                Ok(Step::Write(items, next))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)
}
/// Revokes the connection: its credentials erased, its open link revoked, its owner's place
/// for the provider freed, `connection.revoked` announced; then the provider is asked once
/// to end the grant. Revoking a revoked connection changes nothing.
pub async fn revoke(
    app: &App,
    current: Connection,
    base_url: &str,
) -> Result<(Connection, ProviderRevocation), ApiError> {
    let (tenant, id) = (&current.tenant_id.clone(), &current.id.clone());
    let (next, erased) = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, tenant, id).await },
            move |current| async move {
                let current = &current;
                if current.status == Status::Revoked {
                    return Ok(Step::Done((current.clone(), None)));
                }
                let now = time::now();
                let next = Connection {
                    status: Status::Revoked,
                    credentials_sealed: None,
                    open_link_id: None,
                    token_expires_at: None,
                    refreshable: false,
                    refresh_lease: None,
                    refresh_lease_until: None,
                    revoked_at: Some(time::format(&now)),
                    updated_at: now,
                    version: current.version + 1,
                    ..current.clone()
                };
                let mut items = vec![next.replace_tx(&app.store, current)?];
                items.extend(revoke_open_link(&app.store, current).await?);
                items.extend(guard::release_guard_tx(&app.store, current).await?);
                items.push(event::outbox(
                    &app.store,
                    tenant,
                    event::CONNECTION_REVOKED,
                    json!({"connection": next.to_json()?, "previous_status": current.status}),
                )?);
                // `current` is what the write replaces: the tokens it erases.
                Ok(Step::Write(items, (next, Some(current.clone()))))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)?;
    let outcome = match &erased {
        Some(erased) => revocation::revoke_grant(app, erased, base_url).await,
        None => ProviderRevocation::NotNeeded,
    };
    Ok((next, outcome))
}
/// The options of a new link for a connection (every one has a default).
pub struct LinkRequest(LinkFields, bool);

impl LinkRequest {
    pub fn parse(app: &App, body: Value) -> Result<LinkRequest, ApiError> {
        let mut f = Fields::new(body, LINK_FIELDS)?;
        let options = link_options(&mut f, app);
        f.finish()?;
        Ok(LinkRequest(options, false))
    }

    /// The consumer portal's reconnect: back to the portal (`return_to`) once done, in the
    /// portal's language; every other option as the connection's.
    pub fn from_portal(return_to: Option<RedirectUrl>, lang: Option<Lang>) -> LinkRequest {
        LinkRequest(
            LinkFields {
                redirect: Some(return_to.is_some()),
                redirect_url: return_to,
                ttl: None,
                lang,
                scopes: None,
            },
            false,
        )
    }

    /// The link's redirect names ids by UUID (see `link::Link::ids_as_uuid`).
    pub fn with_uuid_ids(self) -> LinkRequest {
        LinkRequest(self.0, true)
    }
}

/// A new link for the connection, replacing its open one (refused once revoked or while
/// disabled).
pub async fn new_link(
    app: &App,
    current: Connection,
    request: LinkRequest,
) -> Result<NewLink, ApiError> {
    let LinkRequest(
        LinkFields {
            redirect_url,
            redirect,
            ttl,
            lang,
            scopes,
        },
        ids_as_uuid,
    ) = request;
    let (tenant, id) = (&current.tenant_id.clone(), &current.id.clone());
    // Asked for: checked against the connection's integration now; else the link asks for
    // what the connection was granted with last time.
    let asked = match (&scopes, &current.integration_id) {
        (None, _) => None,
        (Some(_), None) => scopes_for(scopes.clone(), None)?,
        (Some(_), Some(i)) => {
            let integration = integration::get(&app.store, tenant, i).await?;
            scopes_for(scopes.clone(), integration.as_ref())?
        }
    };
    let asked = &asked;
    let settings = crate::settings::of(app, tenant).await?;
    // As on creation: bet the consumer has no locale (checked in the same transaction), and
    // read it only when the bet loses.
    let bet_on_no_locale = lang.is_none() && current.consumer_id.is_some();
    let (redirect_url, settings) = (&redirect_url, &settings);
    app.store
        .retry_versioned(
            (current, lang, bet_on_no_locale),
            move |(current, mut lang, mut bet), cancelled| async move {
                if bet && cancelled.failed_last_condition() {
                    lang = link_lang(app, tenant, current.consumer_id.as_ref(), None).await?;
                    bet = false;
                }
                Ok((load(app, tenant, id).await?, lang, bet))
            },
            move |(current, lang, bet)| async move {
                let (current, lang, bet) = (&current, &lang, &bet);
                if current.status == Status::Revoked {
                    return Err(revoked_conflict());
                }
                if current.disabled {
                    return Err(disabled_conflict());
                }
                let new_link = NewLink::generate(
                    tenant,
                    &current.id,
                    current.consumer_id.as_ref(),
                    current.integration_id.as_ref(),
                    LinkOptions {
                        redirect_url: redirect_url.clone(),
                        redirect: redirect.unwrap_or(false),
                        ttl_seconds: ttl.unwrap_or_else(|| settings.link_ttl_seconds()),
                        reminders: Some(settings.reminders.schedule.clone()),
                        lang: *lang,
                        ids_as_uuid,
                        scopes: asked.clone().or_else(|| current.scopes.clone()),
                    },
                )?;
                let next = Connection {
                    open_link_id: Some(new_link.link.id.clone()),
                    updated_at: time::now(),
                    version: current.version + 1,
                    ..current.clone()
                };
                let mut items = vec![next.replace_tx(&app.store, current)?];
                items.extend(revoke_open_link(&app.store, current).await?);
                items.extend(new_link.items(&app.store)?);
                if let (true, Some(consumer)) = (*bet, &current.consumer_id) {
                    // last, so a lost bet is the last condition that failed
                    items.push(crate::consumer::without_locale_tx(
                        &app.store, tenant, consumer,
                    )?);
                }
                Ok(Step::Write(items, new_link))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)
}
/// The decrypted credentials, for the platform to call the provider. Every read is recorded
/// (who, when, which request) before the secret leaves.
/// Who reads credentials: the API key and the request, for the audit record.
pub struct Reader<'a> {
    pub api_key_id: &'a str,
    pub request_id: &'a str,
}

/// Credentials as read, and when.
pub struct CredentialsRead {
    pub credentials: Credentials,
    pub read_at: String,
}

pub async fn read_credentials(
    app: &App,
    connection: &Connection,
    reader: Reader<'_>,
    base_url: &str,
    deadline: Option<std::time::SystemTime>,
) -> Result<CredentialsRead, ApiError> {
    let tenant = &connection.tenant_id;
    match (connection.status, &connection.credentials_sealed) {
        (Status::Revoked, _) => {
            return Err(ApiError::conflict(
                "the connection is revoked; its credentials were destroyed",
            ))
        }
        (Status::NeedsReauth, _) => return Err(needs_reauth()),
        _ if connection.disabled => return Err(disabled_conflict()),
        (_, None) => {
            return Err(ApiError::conflict(
                "the connection has no credentials yet: its link was not completed",
            ))
        }
        _ => {}
    }
    let stored = match refresh::ensure_fresh(
        app,
        connection.clone(),
        refresh::READ_WINDOW,
        base_url,
        deadline,
    )
    .await
    {
        Ok((_, credentials, _)) => credentials,
        Err(refresh::RefreshError::NeedsReauth(_)) => return Err(needs_reauth()),
        Err(refresh::RefreshError::Unavailable(reason)) => {
            // The provider is down: a token that still works is better than none.
            let sealed = connection.credentials_sealed.as_deref().unwrap_or_default();
            let current =
                Credentials::open(app.sealer()?, tenant, connection.id.as_str(), sealed).await?;
            match current.expires_at() {
                Some(e) if e > time::now() => current,
                _ => {
                    return Err(ApiError::ProviderUnavailable(format!(
                        "the provider could not refresh the expired token ({reason}); retry later"
                    )))
                }
            }
        }
        Err(refresh::RefreshError::Api(e)) => return Err(e),
    };
    let now = chrono::Utc::now();
    repo::record_credentials_read(&app.store, connection, &reader, now).await?;
    tracing::info!(connection_id = %connection.id, api_key_id = %reader.api_key_id, "credentials read");
    Ok(CredentialsRead {
        credentials: stored,
        read_at: time::format(&now),
    })
}
/// A connection to import, as the request gives it.
pub struct ImportRequest {
    owner: crate::consumer::Owner,
    /// The integration, when the caller read it already (checked again, not re-read).
    read: Option<integration::Integration>,
    integration_id: IntegrationId,
    name: String,
    credentials: serde_json::Map<String, Value>,
    connection_fields: serde_json::Map<String, Value>,
    metadata: Metadata,
}

impl ImportRequest {
    pub fn parse(body: Value) -> Result<ImportRequest, ApiError> {
        let mut f = Fields::new(body, IMPORT_FIELDS)?;
        let consumer_id = f.required("consumer_id", |v| {
            v.as_str()
                .and_then(ConsumerId::parse)
                .ok_or_else(|| "must be a consumer id (csm_…)".to_string())
        });
        let integration_id = f.required("integration_id", |v| {
            v.as_str()
                .and_then(IntegrationId::parse)
                .ok_or_else(|| "must be an integration id (int_…)".to_string())
        });
        let name = f.required("name", |v| string(v, 1, 200));
        let credentials = f.required("credentials", object);
        let connection_fields = f.optional("connection_fields", object).unwrap_or_default();
        let metadata = f.optional("metadata", Metadata::parse).unwrap_or_default();
        f.finish()?;
        let (Some(consumer_id), Some(integration_id), Some(name), Some(credentials)) =
            (consumer_id, integration_id, name, credentials)
        else {
            return Err(ApiError::internal("required fields parsed without values"));
        };
        Ok(ImportRequest {
            owner: crate::consumer::Owner::Existing(consumer_id),
            read: None,
            integration_id,
            name,
            credentials,
            connection_fields,
            metadata,
        })
    }
}

impl ImportRequest {
    /// The same import of an integration the caller has read (it must be the one named).
    pub fn with_integration(self, read: integration::Integration) -> ImportRequest {
        ImportRequest {
            read: Some(read),
            ..self
        }
    }

    /// The same import for a consumer created with it (see `consumer::Owner`).
    pub fn for_new_consumer(self, consumer: crate::consumer::Consumer) -> ImportRequest {
        ImportRequest {
            owner: crate::consumer::Owner::New(Box::new(consumer)),
            ..self
        }
    }
}

/// An active connection from credentials the caller already holds (`connection.created`
/// with `change: imported`).
pub async fn import(
    app: &App,
    tenant: &TenantId,
    request: ImportRequest,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    let ImportRequest {
        owner,
        read,
        integration_id,
        name,
        credentials,
        connection_fields,
        metadata,
    } = request;
    let integration = match read.filter(|i| i.id() == &integration_id) {
        Some(i) if i.is_active() => i,
        Some(_) => {
            return Err(ApiError::field(
                "integration_id",
                "names an inactive integration; activate it first",
            ))
        }
        None => active_integration(app, tenant, &integration_id).await?,
    };
    let provider = integration.provider()?;
    let mut errors = Vec::new();
    let values = match provider.auth_mode {
        crate::provider::AuthMode::Oauth2 => parse_oauth_tokens(&Value::Object(credentials))
            .map_err(|m| errors.push(crate::error::FieldError::new("credentials", m)))
            .ok()
            .map(Value::Object),
        _ => {
            crate::provider::check_values(&provider.credential_fields, "credentials.", &credentials)
                .map_err(|e| errors.extend(e))
                .ok()
                .map(|v| json!(v))
        }
    };
    let fields = crate::provider::check_values(
        &provider.connection_fields,
        "connection_fields.",
        &connection_fields,
    )
    .map_err(|e| errors.extend(e))
    .ok();
    let (Some(values), Some(fields)) = (values, fields) else {
        return Err(ApiError::validation("invalid request body", errors));
    };
    let credentials = Credentials {
        auth_mode: provider.auth_mode,
        provider: provider.id.clone(),
        values: match values {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        },
        connection_fields: fields.into_iter().map(|(k, v)| (k, json!(v))).collect(),
        raw: None,
    };
    // API-key values are asked of the provider before anything is written (OAuth tokens
    // handed over by the caller are stored as given, unverified).
    let verification = match provider.auth_mode {
        crate::provider::AuthMode::Oauth2 => Verification::default(),
        _ => {
            verify::judge(
                app,
                provider,
                Some(&integration),
                &credentials.credential_values(),
                &credentials.connection_values(),
                "credentials.",
            )
            .await?
        }
    };
    let consumer_id = owner.id().clone();
    if let crate::consumer::Owner::Existing(existing) = &owner {
        if crate::consumer::find(&app.store, tenant, existing)
            .await?
            .is_none()
        {
            return Err(ApiError::field(
                "consumer_id",
                "names no consumer of this tenant",
            ));
        }
    }

    let id = ConnectionId::generate();
    let sealed = credentials.seal(app.sealer()?, tenant, id.as_str()).await?;
    let now = time::now();
    let connection = Connection {
        integration_id: Some(integration_id),
        provider: Some(provider.id.clone()),
        status: Status::Active,
        credentials_sealed: Some(sealed),
        activated_at: Some(time::format(&now)),
        token_expires_at: credentials.expires_at().map(|e| time::format(&e)),
        refreshable: credentials.renewable(),
        ..Connection::new(id, tenant, Some(&consumer_id), name, &metadata, now)
    }
    .with_verification(&verification);
    let response = connection.to_json()?;
    let mut items = owner.items(&app.store, tenant)?;
    let owner_items = items.len();
    items.push(repo::create_tx(&app.store, &connection)?);
    items.push(event::outbox(
        &app.store,
        tenant,
        event::CONNECTION_CREATED,
        json!({"connection": response.clone(), "change": "imported"}),
    )?);
    let answer = Answer::created(response);
    match idempotency::commit(&app.store, tenant, idempotency, items, answer, None).await? {
        Ok(answer) => Ok(answer),
        Err(failed) if (0..owner_items).any(|i| failed.failed_condition(i)) => match owner {
            crate::consumer::Owner::Existing(_) => Err(ApiError::field(
                "consumer_id",
                "names no consumer of this tenant",
            )),
            crate::consumer::Owner::New(_) => Err(new_consumer_raced()),
        },
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}
