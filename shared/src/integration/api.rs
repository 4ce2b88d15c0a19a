//! `/v1/integrations` routes: enable providers, set OAuth apps, logos.

use super::*;
use crate::http::{json, list_body, Access, Call, Route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

async fn load(app: &App, call: &Call) -> Result<Integration, ApiError> {
    let raw = call.path_param("id").unwrap_or_default();
    let id = IntegrationId::parse(raw).ok_or_else(|| not_found(raw))?;
    get(&app.store, call.tenant()?, &id)
        .await?
        .ok_or_else(|| not_found(raw))
}
pub const CREATE: Route = Route {
    operation: "integrations.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_integration(app, call)),
};
pub const LIST: Route = Route {
    operation: "integrations.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_integrations(app, call)),
};
pub const READ: Route = Route {
    operation: "integrations.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_integration(app, call)),
};
pub const UPDATE: Route = Route {
    operation: "integrations.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_integration(app, call)),
};
pub const LOGO: Route = Route {
    operation: "integrations.logo",
    access: Access::Read,
    handler: |app, call| Box::pin(integration_logo(app, call)),
};
async fn create_integration(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "integrations.create", &body)?;
    let touched: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| body.get(*f).is_some_and(|v| !v.is_null()))
        .collect();
    let mut f = Fields::new(body.clone(), FIELDS)?;
    let provider = f.required("provider", |v| {
        let id = v.as_str().ok_or("must be a string")?;
        catalog()
            .map_err(|_| "catalog unavailable".to_string())?
            .available(id, app.config.stage)
            .ok_or_else(|| "is not a provider of the catalog (see GET /v1/providers)".to_string())
    });
    let display_name = f.optional("display_name", parse_display_name);
    let status = f.optional("status", parse_status).unwrap_or(Status::Active);
    let client_id = f.optional("client_id", parse_client_id);
    let client_secret = f.optional("client_secret", parse_client_secret);
    let scopes = f.optional("scopes", parse_scopes);
    f.finish()?;
    let Some(provider) = provider else {
        return Err(ApiError::internal("provider parsed without a value"));
    };

    let id = IntegrationId::generate();
    let client_secret_sealed = match &client_secret {
        Some(secret) => Some(
            app.sealer()?
                .seal(tenant.as_str(), id.as_str(), secret.as_bytes())
                .await
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let now = time::now();
    let item = IntegrationItem {
        pk: tenant_pk(tenant),
        sk: sk(&id),
        id: id.clone(),
        tenant_id: tenant.clone(),
        provider: provider.id.clone(),
        display_name,
        status,
        client_id,
        client_secret_sealed,
        scopes,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    check_oauth_fields(provider, &item, &touched)?;
    let integration = Integration(item);
    let response = integration.to_json()?;

    let mut guard = key(
        tenant_pk(tenant),
        format!("{PROVIDER_PREFIX}{}", provider.id),
    );
    guard.insert("integration_id".into(), s(id.as_str()));
    let items = vec![
        app.store
            .put_tx(Store::to_item(&integration.0)?, crate::store::IS_NEW, &[])?,
        app.store.put_tx(guard, crate::store::IS_NEW, &[])?,
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
        Err(failed) if failed.failed_condition(1) => Err(ApiError::Conflict {
            message: format!(
                "{} is already enabled for this tenant; update that integration instead",
                provider.name
            ),
            details: vec![FieldError::new("provider", "already has an integration")],
        }),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}
async fn list_integrations(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor", "status"])?;
    let status = query
        .get("status")
        .map(|s| {
            parse_status(&Value::String(s.to_owned())).map_err(|m| ApiError::field("status", &m))
        })
        .transpose()?;
    let (limit, after) = query.page(is_integration_sk)?;
    let tenant = call.tenant()?;
    // A status filter reads on until the page is full, so pages are never short.
    let mut data = Vec::new();
    let mut after = after;
    let next = loop {
        let (items, next) = app
            .store
            .page(&tenant_pk(tenant), SK_PREFIX, limit, after.as_deref())
            .await?;
        let last_sk = items
            .last()
            .and_then(|i| i.get("sk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        for item in items {
            let integration = from_item(item)?;
            if data.len() < limit && status.is_none_or(|s| integration.0.status == s) {
                data.push(integration.to_json()?);
            }
        }
        match next {
            Some(_) if data.len() >= limit => break last_sk,
            Some(sk) => after = Some(sk),
            None => break None,
        }
    };
    Ok(json(StatusCode::OK, &list_body(data, next)))
}
async fn get_integration(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    Ok(json(StatusCode::OK, &load(app, call).await?.to_json()?))
}
async fn integration_logo(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    Ok(json(
        StatusCode::OK,
        &load(app, call).await?.provider()?.logo_json(),
    ))
}
async fn update_integration(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?.clone();
    let current = load(app, call).await?;
    let body = call.json_body()?;
    let touched: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| body.get(*f).is_some())
        .collect();
    let mut f = Fields::new(body, &FIELDS[1..])?;
    let display_name = f.patch("display_name", true, parse_display_name);
    let status = f.patch("status", false, parse_status);
    let client_id = f.patch("client_id", false, parse_client_id);
    let client_secret = f.patch("client_secret", false, parse_client_secret);
    let scopes = f.patch("scopes", true, parse_scopes);
    f.finish()?;
    let sealed = match &client_secret {
        Patch::Set(secret) => Some(
            app.sealer()?
                .seal(tenant.as_str(), current.id().as_str(), secret.as_bytes())
                .await
                .map_err(ApiError::internal)?,
        ),
        _ => None,
    };
    let (display_name, status, client_id, sealed, scopes, touched) = (
        &display_name,
        &status,
        &client_id,
        &sealed,
        &scopes,
        &touched,
    );
    let answer = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
            move |current| async move {
                let current = &current;
                let provider = current.provider()?;
                let mut next = current.0.clone();
                match &display_name {
                    Patch::Set(n) => next.display_name = Some(n.clone()),
                    Patch::Clear => next.display_name = None,
                    Patch::Keep => {}
                }
                if let Patch::Set(s) = status {
                    next.status = *s;
                }
                if let Patch::Set(c) = &client_id {
                    next.client_id = Some(c.clone());
                }
                if let Some(sealed) = &sealed {
                    next.client_secret_sealed = Some(sealed.clone());
                }
                match &scopes {
                    Patch::Set(s) => next.scopes = Some(s.clone()),
                    Patch::Clear => next.scopes = None,
                    Patch::Keep => {}
                }
                check_oauth_fields(provider, &next, touched)?;
                if next == current.0 {
                    return Ok(Step::Done(current.to_json()?));
                }
                next.updated_at = time::now();
                next.version = current.0.version + 1;
                let put = app.store.put_tx(
                    Store::to_item(&next)?,
                    "version = :v",
                    &[(":v", n(current.0.version))],
                )?;
                Ok(Step::Write(vec![put], Integration(next).to_json()?))
            },
        )
        .await?
        .ok_or_else(|| {
            ApiError::conflict("the integration was modified concurrently; retry the request")
        })?;
    Ok(json(StatusCode::OK, &answer))
}
