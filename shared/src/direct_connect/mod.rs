//! The server-to-server connect API (`POST /v1/integrations/{id}/connect`), for platforms
//! that collect credentials themselves: API-key providers connect at once from a stored
//! credential (`POST /v1/credentials`); OAuth providers answer the authorization URL the
//! platform sends its user to, and our callback completes the connection and then
//! redirects to the platform's `redirect_url`.
//!
//! One live connection per owner and provider is held by `connection::guard`.

use crate::connection::guard::{claim_tx, hold_tx};
use crate::connection::{self, Connection, Status};
use crate::credential::verify;
use crate::credential::{self, Credentials};
use crate::error::{ApiError, FieldError};
use crate::event;
use crate::fields::{string, Fields};
use crate::id::{ConnectionId, ConsumerId, CredentialId, IntegrationId, TenantId};
use crate::idempotency::{self, Answer, Idempotency};
use crate::integration::{self, Integration};
use crate::link::{LinkOptions, NewLink, Stored};
use crate::metadata::Metadata;
use crate::oauth::state::{self, Pending};
use crate::oauth::{callback_url, OAuthApp};
use crate::provider::{catalog, AuthMode};
use crate::redirect_url::RedirectUrl;
use crate::store::TxItem;
use crate::{time, App};
use serde_json::json;

pub mod api;

const FIELDS: &[&str] = &[
    "credential_id",
    "redirect_url",
    "consumer_id",
    "name",
    "metadata",
];

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
    } else if catalog()?.available(raw, app.config.stage).is_some()
        || raw.starts_with(crate::provider::CUSTOM_PREFIX)
    {
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

/// What a connect connects: an integration named by its id or provider id, or one it
/// enables in the same transaction (CauseFlow's connect, see `compat::causeflow`).
pub enum Target {
    Named(String),
    Enabling(Box<integration::Enabling>),
}

#[derive(Clone)]
pub struct ConnectRequest {
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
    let name = request
        .name
        .clone()
        .unwrap_or_else(|| provider.name.clone());
    Ok(Connection {
        integration_id: Some(integration.id().clone()),
        provider: Some(provider.id.clone()),
        status,
        ..Connection::new(
            ConnectionId::generate(),
            tenant,
            request.consumer_id.as_ref(),
            name,
            &request.metadata,
            time::now(),
        )
    })
}

fn consumer_check(
    app: &App,
    tenant: &TenantId,
    consumer: Option<&ConsumerId>,
) -> Result<Option<TxItem>, ApiError> {
    consumer
        .map(|c| crate::consumer::exists_tx(&app.store, tenant, c))
        .transpose()
        .map_err(ApiError::from)
}

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

impl ConnectRequest {
    pub fn parse(
        body: serde_json::Value,
        stage: crate::config::Stage,
    ) -> Result<ConnectRequest, ApiError> {
        let mut f = Fields::new(body, FIELDS)?;
        let request = ConnectRequest {
            credential_id: f.optional("credential_id", |v| {
                v.as_str()
                    .and_then(CredentialId::parse)
                    .ok_or_else(|| "must be a credential id (crd_…)".to_string())
            }),
            redirect_url: f.optional("redirect_url", move |v| match v {
                serde_json::Value::String(s) => RedirectUrl::parse(s, stage),
                _ => Err("must be a string".into()),
            }),
            consumer_id: f.optional("consumer_id", |v| {
                v.as_str()
                    .and_then(ConsumerId::parse)
                    .ok_or_else(|| "must be a consumer id (csm_…)".to_string())
            }),
            name: f.optional("name", |v| string(v, 1, 200)),
            metadata: f.optional("metadata", Metadata::parse).unwrap_or_default(),
        };
        f.finish()?;
        Ok(request)
    }
}

/// Connects the integration named by `integration` (an id or a provider id): from a stored
/// credential at once, or by starting an OAuth consent whose URL the answer carries.
/// `base_url` is the public base of our pages.
pub async fn connect(
    app: &App,
    tenant: &TenantId,
    target: Target,
    request: ConnectRequest,
    base_url: &str,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    // A retry of a connect that went through: its checks (credential used up, already
    // connected) would now fail, so the stored answer comes first.
    if let Some(i) = idempotency {
        if let Some(replayed) = i.replay(&app.store, tenant, app.sealer().ok()).await? {
            return Ok(replayed);
        }
    }
    let (integration, enabling) = match target {
        Target::Named(raw) => (named_integration(app, tenant, &raw).await?, Vec::new()),
        Target::Enabling(e) => {
            let integration::Enabling { integration, items } = *e;
            (integration, items)
        }
    };
    let provider = integration.provider()?;
    let oauth = provider.auth_mode == AuthMode::Oauth2;
    let mut errors = Vec::new();
    match (oauth, &request.credential_id, &request.redirect_url) {
        (false, None, _) => errors.push(FieldError::new(
            "credential_id",
            format!(
                "is required: {} connects with API credentials (POST /v1/credentials)",
                provider.id
            ),
        )),
        (false, _, Some(_)) => errors.push(FieldError::new(
            "redirect_url",
            "is only for OAuth providers",
        )),
        (true, _, None) => errors.push(FieldError::new(
            "redirect_url",
            format!("is required: {} connects with OAuth", provider.id),
        )),
        (true, Some(_), _) => errors.push(FieldError::new(
            "credential_id",
            "is only for API-key and basic providers",
        )),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid request body", errors));
    }
    if let Some(c) = &request.consumer_id {
        if crate::consumer::find(&app.store, tenant, c)
            .await?
            .is_none()
        {
            return Err(ApiError::field(
                "consumer_id",
                "names no consumer of this tenant",
            ));
        }
    }
    let owner = request.consumer_id.as_ref();
    if let Some(live) = connection::of_owner(&app.store, tenant, owner)
        .await?
        .into_iter()
        .find(|c| {
            c.provider.as_deref() == Some(provider.id.as_str())
                && matches!(c.status, Status::Active | Status::NeedsReauth)
        })
    {
        return Err(already_connected(owner, &provider.id, Some(&live.id)));
    }
    if oauth {
        start_oauth(
            app,
            base_url,
            tenant,
            &integration,
            request,
            enabling,
            idempotency,
        )
        .await
    } else {
        connect_with_credential(app, tenant, &integration, request, enabling, idempotency).await
    }
}
async fn connect_with_credential(
    app: &App,
    tenant: &TenantId,
    integration: &Integration,
    request: ConnectRequest,
    enabling: Vec<TxItem>,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    let provider = integration.provider()?;
    let Some(credential_id) = request.credential_id.clone() else {
        return Err(ApiError::internal("credential_id checked above"));
    };
    let not_found = || {
        ApiError::CredentialNotFound(format!(
            "no unused credential with id '{credential_id}' (credentials are single-use and expire after a day)"
        ))
    };
    let stored = credential::get(&app.store, tenant, &credential_id)
        .await?
        .ok_or_else(not_found)?;
    if stored.provider != provider.id {
        return Err(ApiError::field(
            "credential_id",
            &format!("holds {} credentials, not {}", stored.provider, provider.id),
        ));
    }
    let credentials = Credentials::open(
        app.sealer()?,
        tenant,
        credential_id.as_str(),
        &stored.sealed,
    )
    .await?;
    // Stored without a verdict, and now for an integration that refuses that: asked again.
    let verification = if !stored.verification.verified
        && integration.unverified_credentials() == verify::Unverified::Refuse
    {
        verify::judge(
            app,
            provider,
            Some(integration),
            &credentials.credential_values(),
            &credentials.connection_values(),
            "values.",
        )
        .await?
    } else {
        stored.verification.clone()
    };
    let mut connection = new_connection(tenant, integration, &request, Status::Active)?
        .with_verification(&verification);
    connection.credentials_sealed = Some(
        credentials
            .seal(app.sealer()?, tenant, connection.id.as_str())
            .await?,
    );
    connection.activated_at = Some(time::format(&connection.created_at));
    let answer = Answer::ok(json!({
        "connection_id": connection.id,
        "provider": provider.id,
        "status": "connected",
        "connected_at": connection.activated_at,
        "consumer_id": connection.consumer_id,
    }));

    let mut items = vec![
        claim_tx(&app.store, &connection)?,
        credential::use_up_tx(&app.store, tenant, &credential_id)?,
        connection::create_tx(&app.store, &connection)?,
        event::outbox(
            &app.store,
            tenant,
            event::CONNECTION_CREATED,
            json!({"connection": connection.to_json()?, "change": "connected"}),
        )?,
    ];
    items.extend(consumer_check(app, tenant, request.consumer_id.as_ref())?);
    // Last, so the indexes above hold: when they fail, the provider was enabled meanwhile.
    items.extend(enabling);
    match idempotency::commit(&app.store, tenant, idempotency, items, answer, None).await? {
        Ok(answer) => Ok(answer),
        Err(failed) if failed.failed_condition(0) => Err(already_connected(
            request.consumer_id.as_ref(),
            &provider.id,
            None,
        )),
        Err(failed) if failed.failed_condition(1) => Err(not_found()),
        Err(failed) if failed.failed_condition(4) => Err(ApiError::field(
            "consumer_id",
            "names no consumer of this tenant",
        )),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}
/// A pending connection and an internal link (already `waiting_oauth`, redirecting to the
/// platform's URL) that the callback completes like any other.
async fn start_oauth(
    app: &App,
    base: &str,
    tenant: &TenantId,
    integration: &Integration,
    request: ConnectRequest,
    enabling: Vec<TxItem>,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    let connection = new_connection(tenant, integration, &request, Status::Pending)?;
    let mut new_link = NewLink::generate(
        tenant,
        &connection.id,
        request.consumer_id.as_ref(),
        Some(integration.id()),
        LinkOptions {
            redirect_url: request.redirect_url.clone(),
            redirect: true,
            ttl_seconds: u64::try_from(state::LIFETIME_SECONDS).unwrap_or(600),
            reminders: None,
            lang: None,
            ids_as_uuid: false,
            scopes: None,
        },
    )?;
    new_link.link.status = Stored::WaitingOauth;
    let connection = Connection {
        open_link_id: Some(new_link.link.id.clone()),
        ..connection
    };
    let redirect_uri = callback_url(base);
    let oauth = OAuthApp::new(
        app,
        integration,
        &std::collections::BTreeMap::new(),
        &redirect_uri,
    )
    .await?;
    let state_value = state::generate()?;
    let (url, verifier) = oauth.authorize_url(&state_value);
    let pending = Pending {
        link_id: new_link.link.id.clone(),
        tenant_id: tenant.clone(),
        connection_id: connection.id.clone(),
        integration_id: integration.id().clone(),
        redirect_uri,
        verifier,
        connection_fields: serde_json::Map::new(),
        direct: true,
        // No browser yet: the first to open `authorization_url` on our domain is bound to
        // the consent, then sent to the provider.
        browser: None,
        authorize_url: Some(url),
    };
    let mut start = url::Url::parse(&format!("{base}/connect/{}/oauth", new_link.link.id))
        .map_err(|e| ApiError::internal(format!("public base URL: {e}")))?;
    start
        .query_pairs_mut()
        .append_pair("state", state_value.expose());
    let answer = Answer::ok(json!({
        "authorization_url": start.as_str(),
        "state": state_value.expose(),
        "connection_id": connection.id,
        "expires_at": time::format(&new_link.link.expires_at),
    }));
    let mut items = vec![
        hold_tx(&app.store, &connection, new_link.link.expires_at)?,
        connection::create_tx(&app.store, &connection)?,
    ];
    items.extend(new_link.items(&app.store)?);
    items.push(state::put_tx(app, &state_value, &pending, time::now()).await?);
    let consumer_index = items.len();
    items.extend(consumer_check(app, tenant, request.consumer_id.as_ref())?);
    items.extend(enabling);
    // The answer carries the state, a secret: a replay of it is stored sealed.
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
        Ok(answer) => Ok(answer),
        Err(failed) if failed.failed_condition(0) => Err(already_connected(
            request.consumer_id.as_ref(),
            &integration.provider()?.id,
            None,
        )),
        Err(failed) if failed.failed_condition(consumer_index) => Err(ApiError::field(
            "consumer_id",
            "names no consumer of this tenant",
        )),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}
