//! `POST /v1/integrations/{id}/connect`: server-to-server connect from a stored credential, or the start of an OAuth consent.

use super::*;
use crate::http::{Access, Call, Route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const CONNECT: Route = Route {
    operation: "integrations.connect",
    access: Access::Write,
    handler: |app, call| Box::pin(connect_integration(app, call)),
};
async fn connect_integration(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "integrations.connect", &body)?;
    let mut f = Fields::new(body, FIELDS)?;
    let stage = app.config.stage;
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
    // A retry of a connect that went through: its checks (credential used up, already
    // connected) would now fail, so the stored answer comes first.
    if let Some(i) = &idempotency {
        if let Some(replayed) = i.replay(&app.store, tenant, app.sealer().ok()).await? {
            return Ok(replayed);
        }
    }
    let integration =
        named_integration(app, tenant, call.path_param("id").unwrap_or_default()).await?;
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
            call,
            tenant,
            &integration,
            request,
            idempotency.as_ref(),
        )
        .await
    } else {
        connect_with_credential(app, tenant, &integration, request, idempotency.as_ref()).await
    }
}
async fn connect_with_credential(
    app: &App,
    tenant: &TenantId,
    integration: &Integration,
    request: ConnectRequest,
    idempotency: Option<&Idempotency>,
) -> Result<Response<Body>, ApiError> {
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
    let mut connection = new_connection(tenant, integration, &request, Status::Active)?;
    connection.credentials_sealed = Some(
        credentials
            .seal(app.sealer()?, tenant, connection.id.as_str())
            .await?,
    );
    connection.activated_at = Some(time::format(&connection.created_at));
    let response = json!({
        "connection_id": connection.id,
        "provider": provider.id,
        "status": "connected",
        "connected_at": connection.activated_at,
        "consumer_id": connection.consumer_id,
    });

    let guard_sk = guard_sk(request.consumer_id.as_ref(), &provider.id);
    let mut guard = key(tenant_pk(tenant), guard_sk);
    guard.insert("connection_id".into(), s(connection.id.as_str()));
    let mut items = vec![
        app.store.put_tx(guard, crate::store::IS_NEW, &[])?,
        app.store.delete_tx(
            key(tenant_pk(tenant), credential::sk(&credential_id)),
            Some(crate::store::EXISTS),
            &[],
        )?,
        app.store
            .put_tx(connection.item()?, crate::store::IS_NEW, &[])?,
        event::outbox(
            &app.store,
            tenant,
            event::CONNECTION_CREATED,
            json!({"connection": connection.to_json()?, "change": "connected"}),
        )?,
    ];
    items.extend(consumer_check(app, tenant, request.consumer_id.as_ref())?);
    match idempotency::commit(
        &app.store,
        tenant,
        idempotency,
        items,
        (StatusCode::OK, &response),
        None,
    )
    .await?
    {
        Ok(resp) => Ok(resp),
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
    call: &Call,
    tenant: &TenantId,
    integration: &Integration,
    request: ConnectRequest,
    idempotency: Option<&Idempotency>,
) -> Result<Response<Body>, ApiError> {
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
        },
    )?;
    new_link.link.status = Stored::WaitingOauth;
    let connection = Connection {
        open_link_id: Some(new_link.link.id.clone()),
        ..connection
    };
    let base = call.public_base_url(&app.config);
    let redirect_uri = callback_url(&base);
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
    let response = json!({
        "authorization_url": start.as_str(),
        "state": state_value.expose(),
        "connection_id": connection.id,
        "expires_at": time::format(&new_link.link.expires_at),
    });
    let mut items = vec![
        hold_tx(&app.store, &connection, new_link.link.expires_at)?,
        app.store
            .put_tx(connection.item()?, crate::store::IS_NEW, &[])?,
    ];
    items.extend(new_link.items(&app.store)?);
    items.push(state::put_tx(app, &state_value, &pending, time::now()).await?);
    let consumer_index = items.len();
    items.extend(consumer_check(app, tenant, request.consumer_id.as_ref())?);
    // The answer carries the state, a secret: a replay of it is stored sealed.
    match idempotency::commit(
        &app.store,
        tenant,
        idempotency,
        items,
        (StatusCode::OK, &response),
        Some(app.sealer()?),
    )
    .await?
    {
        Ok(resp) => Ok(resp),
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
