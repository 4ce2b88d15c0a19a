//! `/v1/connections` and `/v1/consumers/{id}/connections` routes: create, list, read, update, revoke, import, new links, credentials.

use super::*;
use crate::http::{json, list_body, Access, Call, Route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

async fn load(app: &App, call: &Call) -> Result<Connection, ApiError> {
    let raw = call.path_param("id").unwrap_or_default();
    let id = ConnectionId::parse(raw).ok_or_else(|| not_found(raw))?;
    get(&app.store, call.tenant()?, &id)
        .await?
        .ok_or_else(|| not_found(raw))
}
async fn load_consumer(app: &App, call: &Call) -> Result<crate::consumer::Consumer, ApiError> {
    let raw = call.path_param("id").unwrap_or_default();
    let id = ConsumerId::parse(raw).ok_or_else(|| consumer_not_found(raw))?;
    crate::consumer::find(&app.store, call.tenant()?, &id)
        .await?
        .ok_or_else(|| consumer_not_found(raw))
}
pub const CREATE: Route = Route {
    operation: "connections.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_connection(app, call)),
};
pub const LIST_FOR_CONSUMER: Route = Route {
    operation: "connections.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_connections(app, call)),
};
pub const READ: Route = Route {
    operation: "connections.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_connection(app, call)),
};
pub const UPDATE: Route = Route {
    operation: "connections.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_connection(app, call)),
};
pub const REVOKE: Route = Route {
    operation: "connections.revoke",
    access: Access::Write,
    handler: |app, call| Box::pin(revoke_connection(app, call)),
};
pub const IMPORT: Route = Route {
    operation: "connections.import",
    access: Access::Write,
    handler: |app, call| Box::pin(import_connection(app, call)),
};
pub const CREDENTIALS: Route = Route {
    operation: "connections.credentials",
    access: Access::Admin,
    handler: |app, call| Box::pin(read_credentials(app, call)),
};
pub const NEW_LINK: Route = Route {
    operation: "connections.new_link",
    access: Access::Write,
    handler: |app, call| Box::pin(create_link(app, call)),
};
async fn create_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    // The consumer is not read: the transaction checks it still exists (404 otherwise).
    let raw = call.path_param("id").unwrap_or_default();
    let consumer_id = ConsumerId::parse(raw).ok_or_else(|| consumer_not_found(raw))?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "connections.create", &body)?;
    let mut f = Fields::new(body, CREATE_FIELDS)?;
    let name = f.required("name", |v| string(v, 1, 200));
    let integration_id = f.optional("integration_id", |v| {
        v.as_str()
            .and_then(IntegrationId::parse)
            .ok_or_else(|| "must be an integration id (int_…)".to_string())
    });
    let (redirect_url, redirect, ttl, lang) = link_options(&mut f, app);
    let metadata = f.optional("metadata", Metadata::parse).unwrap_or_default();
    f.finish()?;
    let name = name.unwrap_or_default();

    let integration = match &integration_id {
        None => None,
        Some(id) => {
            let found = integration::get(&app.store, tenant, id).await?;
            match found {
                Some(i) if i.is_active() => Some(i),
                Some(_) => {
                    return Err(ApiError::field(
                        "integration_id",
                        "names an inactive integration; activate it first",
                    ))
                }
                None => {
                    return Err(ApiError::field(
                        "integration_id",
                        "names no integration of this tenant",
                    ))
                }
            }
        }
    };
    let settings = crate::settings::of(app, tenant).await?;
    let now = time::now();
    let id = ConnectionId::generate();
    let mut new_link = NewLink::generate(
        tenant,
        &id,
        Some(&consumer_id),
        integration_id.as_ref(),
        LinkOptions {
            redirect_url: redirect_url.clone(),
            redirect: redirect.unwrap_or(false),
            ttl_seconds: ttl.unwrap_or_else(|| settings.link_ttl_seconds()),
            reminders: Some(settings.reminders.schedule.clone()),
            lang,
        },
    )?;
    let connection = Connection {
        id,
        tenant_id: tenant.clone(),
        consumer_id: Some(consumer_id.clone()),
        name,
        integration_id,
        provider: integration.as_ref().map(|i| i.provider_id().to_owned()),
        status: Status::Pending,
        disabled: false,
        redirect_url,
        metadata: metadata.to_json_string(),
        credentials_sealed: None,
        open_link_id: Some(new_link.link.id.clone()),
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
    };
    let mut response = connection.to_json()?;
    let base = call.public_base_url(&app.config);
    response["link"] = new_link.to_json(&base);

    // Without a `lang`, the link takes the consumer's locale. Most consumers have none, so
    // the write first bets on that (its consumer check also asks for no locale) and only
    // when it loses reads the consumer and writes again: one round trip in the common case.
    let mut bet_on_no_locale = lang.is_none();
    loop {
        let consumer_check = if bet_on_no_locale {
            "attribute_exists(pk) AND attribute_not_exists(locale)"
        } else {
            crate::store::EXISTS
        };
        let mut items = vec![
            // the consumer must still exist when the connection is written
            crate::consumer::check_tx(&app.store, tenant, &consumer_id, consumer_check)?,
            app.store
                .put_tx(connection.item()?, crate::store::IS_NEW, &[])?,
        ];
        items.extend(new_link.items(&app.store)?);
        match idempotency::commit_create(
            &app.store,
            tenant,
            idempotency.as_ref(),
            items,
            &response,
            Some(app.sealer()?),
        )
        .await?
        {
            Ok(resp) => return Ok(resp),
            Err(failed) if failed.failed_condition(0) => {
                if !bet_on_no_locale {
                    return Err(consumer_not_found(consumer_id.as_str()));
                }
                new_link.link.lang = link_lang(app, tenant, Some(&consumer_id), None).await?;
                response["link"] = new_link.to_json(&base);
                bet_on_no_locale = false;
            }
            Err(_) => return Err(ApiError::conflict("concurrent request; retry")),
        }
    }
}
async fn list_connections(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor"])?;
    let tenant = call.tenant()?;
    let consumer = load_consumer(app, call).await?;
    let (limit, after) = query.page(|sk| ConnectionId::parse(sk).is_some())?;
    let list_pk = consumer_list_pk(tenant, &consumer.id);
    let start = after.map(|id| {
        let mut k = key(tenant_pk(tenant), format!("{SK_PREFIX}{id}"));
        k.insert("gsi1pk".into(), s(&list_pk));
        k.insert("gsi1sk".into(), s(id));
        k
    });
    let (items, more) = app.store.index_page(&list_pk, limit, start).await?;
    let connections = items
        .into_iter()
        .map(from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        connections.last().map(|c| c.id.to_string())
    } else {
        None
    };
    let data = connections
        .iter()
        .map(Connection::to_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json(StatusCode::OK, &list_body(data, next)))
}
async fn get_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    Ok(json(StatusCode::OK, &load(app, call).await?.to_json()?))
}
async fn update_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let current = load(app, call).await?;
    let mut f = Fields::new(call.json_body()?, UPDATE_FIELDS)?;
    let name = f.patch("name", false, |v| string(v, 1, 200));
    let redirect_url = f.patch("redirect_url", true, parse_redirect_url(app.config.stage));
    let disabled = f.patch("disabled", false, parse_bool);
    let metadata = f.patch("metadata", true, Metadata::parse);
    f.finish()?;
    let (name, redirect_url, disabled, metadata) = (&name, &redirect_url, &disabled, &metadata);
    let answer = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
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
                    return Ok(Step::Done(current.to_json()?));
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
                Ok(Step::Write(items, next.to_json()?))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)?;
    Ok(json(StatusCode::OK, &answer))
}
async fn revoke_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let current = load(app, call).await?;
    let (next, erased) = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
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
                items.extend(crate::direct_connect::release_guard_tx(&app.store, current).await?);
                items.push(event::outbox(
                    &app.store,
                    tenant,
                    event::CONNECTION_REVOKED,
                    json!({"connection": next.to_json()?}),
                )?);
                // `current` is what the write replaces: the tokens it erases.
                Ok(Step::Write(items, (next, Some(current.clone()))))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)?;
    let outcome = match &erased {
        Some(erased) => {
            crate::oauth::revocation::revoke_grant(app, erased, &call.public_base_url(&app.config))
                .await
        }
        None => ProviderRevocation::NotNeeded,
    };
    let mut answer = next.to_json()?;
    answer["provider_revocation"] = json!(outcome);
    Ok(json(StatusCode::OK, &answer))
}
async fn create_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let current = load(app, call).await?;
    // An empty body is allowed: every field has a default.
    let body = match call.json_body() {
        Err(ApiError::Validation { message, .. }) if message == "request body is required" => {
            json!({})
        }
        Err(ApiError::UnsupportedMediaType) if call.body_is_empty() => json!({}),
        other => other?,
    };
    let mut f = Fields::new(body, LINK_FIELDS)?;
    let (redirect_url, redirect, ttl, lang) = link_options(&mut f, app);
    f.finish()?;
    let settings = crate::settings::of(app, tenant).await?;
    // As on creation: bet the consumer has no locale (checked in the same transaction), and
    // read it only when the bet loses.
    let bet_on_no_locale = lang.is_none() && current.consumer_id.is_some();
    let (redirect_url, settings) = (&redirect_url, &settings);
    let new_link = app
        .store
        .retry_versioned(
            (current, lang, bet_on_no_locale),
            move |(current, mut lang, mut bet), cancelled| async move {
                if bet && cancelled.failed_last_condition() {
                    lang = link_lang(app, tenant, current.consumer_id.as_ref(), None).await?;
                    bet = false;
                }
                Ok((load(app, call).await?, lang, bet))
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
                    items.push(crate::consumer::check_tx(
                        &app.store,
                        tenant,
                        consumer,
                        "attribute_not_exists(locale)",
                    )?);
                }
                Ok(Step::Write(items, new_link))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)?;
    Ok(json(
        StatusCode::CREATED,
        &new_link.to_json(&call.public_base_url(&app.config)),
    ))
}
/// The decrypted credentials, for the platform to call the provider. Every read is recorded
/// (who, when, which request) before the secret leaves.
async fn read_credentials(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let principal = call.principal()?;
    let connection = load(app, call).await?;
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
    let base = call.public_base_url(&app.config);
    let stored = match refresh::ensure_fresh(
        app,
        connection.clone(),
        refresh::READ_WINDOW,
        &base,
        call.deadline(),
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
    let audit = std::collections::HashMap::from([
        ("pk".to_string(), s(tenant_pk(tenant))),
        (
            "sk".to_string(),
            s(format!(
                "CREDREAD#{}#{}",
                connection.id,
                uuid::Uuid::now_v7().simple()
            )),
        ),
        ("connection_id".to_string(), s(connection.id.as_str())),
        ("api_key_id".to_string(), s(principal.key_id.as_str())),
        ("request_id".to_string(), s(&call.request_id)),
        ("read_at".to_string(), s(time::format(&now))),
        (
            "ttl".to_string(),
            n(now.timestamp() + CREDENTIAL_READ_RETENTION_SECONDS),
        ),
    ]);
    app.store
        .client()
        .put_item()
        .table_name(app.store.table())
        .set_item(Some(audit))
        .send()
        .await
        .map_err(StoreError::sdk)?;
    tracing::info!(connection_id = %connection.id, api_key_id = %principal.key_id, "credentials read");
    Ok(json(
        StatusCode::OK,
        &json!({
            "connection_id": connection.id,
            "provider": connection.provider,
            "auth_mode": stored.auth_mode,
            "credentials": stored.public_values(),
            "connection_fields": stored.connection_fields,
            "read_at": time::format(&now),
        }),
    ))
}
/// `POST /v1/connections`: an active connection from credentials the caller already holds.
async fn import_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "connections.import", &body)?;
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

    let integration = match integration::get(&app.store, tenant, &integration_id).await? {
        Some(i) if i.is_active() => i,
        Some(_) => {
            return Err(ApiError::field(
                "integration_id",
                "names an inactive integration; activate it first",
            ))
        }
        None => {
            return Err(ApiError::field(
                "integration_id",
                "names no integration of this tenant",
            ))
        }
    };
    let provider = integration.provider()?;
    let catalog = crate::provider::catalog()?;
    let mut errors = Vec::new();
    let values = match provider.auth_mode {
        crate::provider::AuthMode::Oauth2 => parse_oauth_tokens(&Value::Object(credentials))
            .map_err(|m| errors.push(crate::error::FieldError::new("credentials", m)))
            .ok()
            .map(Value::Object),
        _ => catalog
            .check_values(
                provider,
                &provider.credential_fields,
                "credentials.",
                &credentials,
            )
            .map_err(|e| errors.extend(e))
            .ok()
            .map(|v| json!(v)),
    };
    let fields = catalog
        .check_values(
            provider,
            &provider.connection_fields,
            "connection_fields.",
            &connection_fields,
        )
        .map_err(|e| errors.extend(e))
        .ok();
    let (Some(values), Some(fields)) = (values, fields) else {
        return Err(ApiError::validation("invalid request body", errors));
    };
    if crate::consumer::find(&app.store, tenant, &consumer_id)
        .await?
        .is_none()
    {
        return Err(ApiError::field(
            "consumer_id",
            "names no consumer of this tenant",
        ));
    }

    let id = ConnectionId::generate();
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
    let sealed = credentials.seal(app.sealer()?, tenant, id.as_str()).await?;
    let now = time::now();
    let connection = Connection {
        id,
        tenant_id: tenant.clone(),
        consumer_id: Some(consumer_id.clone()),
        name,
        integration_id: Some(integration_id),
        provider: Some(provider.id.clone()),
        status: Status::Active,
        disabled: false,
        redirect_url: None,
        metadata: metadata.to_json_string(),
        credentials_sealed: Some(sealed),
        open_link_id: None,
        created_at: now,
        updated_at: now,
        activated_at: Some(time::format(&now)),
        revoked_at: None,
        token_expires_at: credentials.expires_at().map(|e| time::format(&e)),
        refreshable: credentials.refresh_token().is_some(),
        refresh_lease: None,
        refresh_lease_until: None,
        reauth_reason: None,
        version: 1,
    };
    let response = connection.to_json()?;
    let items = vec![
        crate::consumer::exists_tx(&app.store, tenant, &consumer_id)?,
        app.store
            .put_tx(connection.item()?, crate::store::IS_NEW, &[])?,
        event::outbox(
            &app.store,
            tenant,
            event::CONNECTION_CREATED,
            json!({"connection": response, "change": "imported"}),
        )?,
    ];
    match idempotency::commit_create(
        &app.store,
        tenant,
        idempotency.as_ref(),
        items,
        &response,
        None,
    )
    .await?
    {
        Ok(resp) => Ok(resp),
        Err(failed) if failed.failed_condition(0) => Err(ApiError::field(
            "consumer_id",
            "names no consumer of this tenant",
        )),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}
