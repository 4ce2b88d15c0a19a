//! `/v1/webhooks` routes: endpoints, their secrets and rotation.

use super::*;
use crate::http::{json, list_body, no_content, Access, Call, Route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub(crate) async fn load(app: &App, call: &Call) -> Result<Endpoint, ApiError> {
    let raw = call.path_param("id").unwrap_or_default();
    let id = WebhookId::parse(raw).ok_or_else(|| not_found(raw))?;
    get(&app.store, call.tenant()?, &id)
        .await?
        .ok_or_else(|| not_found(raw))
}
pub const CREATE: Route = Route {
    operation: "webhooks.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_endpoint(app, call)),
};
pub const LIST: Route = Route {
    operation: "webhooks.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_endpoints(app, call)),
};
pub const READ: Route = Route {
    operation: "webhooks.get",
    access: Access::Read,
    handler: |app, call| {
        Box::pin(async move {
            {
                call.query(&[])?;
                Ok(json(StatusCode::OK, &load(app, call).await?.to_json()))
            }
        })
    },
};
pub const UPDATE: Route = Route {
    operation: "webhooks.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_endpoint(app, call)),
};
pub const DELETE: Route = Route {
    operation: "webhooks.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete_endpoint(app, call)),
};
pub const ROTATE_SECRET: Route = Route {
    operation: "webhooks.rotate_secret",
    access: Access::Write,
    handler: |app, call| Box::pin(rotate(app, call)),
};
async fn create_endpoint(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "webhooks.create", &body)?;
    let mut f = Fields::new(body, CREATE_FIELDS)?;
    let url = f.required("url", parse_url(app));
    let events = f.required("events", parse_events);
    let description = f.optional("description", |v| string(v, 0, 500));
    f.finish()?;
    let (Some(url), Some(events)) = (url, events) else {
        return Err(ApiError::internal("required fields parsed without values"));
    };
    url.check_now(&app.config.webhook_allowed_private)
        .await
        .map_err(|m| ApiError::field("url", &m))?;
    let id = WebhookId::generate();
    let (secret, signing) = new_secret(app, tenant, &id).await?;
    let now = time::now();
    let endpoint = Endpoint {
        id,
        tenant_id: tenant.clone(),
        url: url.as_str().to_owned(),
        events,
        description,
        enabled: true,
        disabled_reason: None,
        secrets: vec![signing],
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut response = endpoint.to_json();
    response["secret"] = json!(secret.expose());
    let max = app.config.max_webhook_endpoints;
    let items = vec![
        app.store
            .put_tx(endpoint.item()?, crate::store::IS_NEW, &[])?,
        crate::quota::webhook_place_tx(&app.store, tenant, max)?,
    ];
    // The answer carries the secret: a replay of it is stored sealed.
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
        Ok(resp) => Ok(resp),
        Err(failed) if failed.failed_condition(1) => Err(crate::quota::webhooks_full(max)),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}
async fn list_endpoints(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor"])?;
    let tenant = call.tenant()?;
    let (limit, after) = query.page(|sk| {
        sk.strip_prefix(SK_PREFIX)
            .is_some_and(|id| WebhookId::parse(id).is_some())
    })?;
    let (items, next) = app
        .store
        .page(&tenant_pk(tenant), SK_PREFIX, limit, after.as_deref())
        .await?;
    let data = items
        .into_iter()
        .map(|i| from_item(i).map(|e| e.to_json()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json(StatusCode::OK, &list_body(data, next)))
}
async fn update_endpoint(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load(app, call).await?;
    let mut f = Fields::new(call.json_body()?, UPDATE_FIELDS)?;
    let url = f.patch("url", false, parse_url(app));
    let events = f.patch("events", false, parse_events);
    let description = f.patch("description", true, |v| string(v, 0, 500));
    let enabled = f.patch("enabled", false, |v| {
        v.as_bool()
            .ok_or_else(|| "must be true or false".to_string())
    });
    f.finish()?;
    if let Patch::Set(u) = &url {
        u.check_now(&app.config.webhook_allowed_private)
            .await
            .map_err(|m| ApiError::field("url", &m))?;
    }
    let (url, events, description, enabled) = (&url, &events, &description, &enabled);
    let answer = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
            move |current| async move {
                let current = &current;
                let mut next = current.clone();
                if let Patch::Set(u) = &url {
                    next.url = u.as_str().to_owned();
                }
                if let Patch::Set(e) = &events {
                    next.events = e.clone();
                }
                match &description {
                    Patch::Set(d) => next.description = Some(d.clone()),
                    Patch::Clear => next.description = None,
                    Patch::Keep => {}
                }
                if let Patch::Set(e) = enabled {
                    next.enabled = *e;
                    if *e {
                        next.disabled_reason = None;
                    } else if current.enabled {
                        next.disabled_reason = Some("disabled by the tenant".into());
                    }
                }
                if next == *current {
                    return Ok(Step::Done(current.to_json()));
                }
                next.updated_at = time::now();
                next.version = current.version + 1;
                Ok(Step::Write(
                    vec![next.replace_tx(&app.store, current)?],
                    next.to_json(),
                ))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)?;
    Ok(json(StatusCode::OK, &answer))
}
async fn delete_endpoint(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let endpoint = load(app, call).await?;
    // Deliveries already queued find no endpoint and stop; their log stays until it expires.
    // The endpoint's place is given back with it, once: a second delete finds no endpoint.
    let delete = || {
        app.store.delete_tx(
            key(tenant_pk(&endpoint.tenant_id), sk(&endpoint.id)),
            Some(crate::store::EXISTS),
            &[],
        )
    };
    let outcome = app
        .store
        .transact(vec![
            delete()?,
            crate::quota::webhook_release_tx(&app.store, &endpoint.tenant_id)?,
        ])
        .await?;
    match outcome {
        TxOutcome::Committed => Ok(no_content()),
        TxOutcome::Cancelled(_) if outcome.failed_condition(0) => {
            Err(not_found(endpoint.id.as_str()))
        }
        // No place counted (an endpoint older than the counter): delete it alone.
        TxOutcome::Cancelled(_) => match app.store.transact(vec![delete()?]).await? {
            TxOutcome::Committed => Ok(no_content()),
            TxOutcome::Cancelled(_) => Err(not_found(endpoint.id.as_str())),
        },
    }
}
async fn rotate(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let current = load(app, call).await?;
    let body = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
            move |current| async move {
                let current = &current;
                let now = time::now();
                let overlap_end =
                    time::format(&(now + chrono::Duration::seconds(ROTATION_OVERLAP_SECONDS)));
                let (secret, signing) = new_secret(app, tenant, &current.id).await?;
                let secrets = rotated(&current.secrets, signing, now, &overlap_end);
                let next = Endpoint {
                    secrets,
                    updated_at: now,
                    version: current.version + 1,
                    ..current.clone()
                };
                let mut body = next.to_json();
                body["secret"] = json!(secret.expose());
                body["previous_secrets_expire_at"] = json!(overlap_end);
                Ok(Step::Write(
                    vec![next.replace_tx(&app.store, current)?],
                    body,
                ))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)?;
    Ok(json(StatusCode::OK, &body))
}
