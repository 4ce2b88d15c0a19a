//! `/v1/webhooks` routes: endpoints, their secrets and rotation.

use super::{Endpoint, EndpointPatch, NewEndpoint};
use crate::error::ApiError;
use crate::http::{answer, json, list_body, no_content, Access, Call, Route};
use crate::id::WebhookId;
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;

/// The endpoint named by the path, which must belong to the caller's tenant.
pub(crate) async fn load(app: &App, call: &Call) -> Result<Endpoint, ApiError> {
    let id = call.path_id("id", WebhookId::parse, super::not_found)?;
    super::load(app, call.tenant()?, &id).await
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
            call.query(&[])?;
            Ok(json(StatusCode::OK, &load(app, call).await?.to_json()))
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
    let body = call.json_body()?;
    let idempotency = call.idempotency("webhooks.create", &body)?;
    let new = NewEndpoint::parse(app, body)?;
    let created = super::create(app, call.tenant()?, new, idempotency.as_ref()).await?;
    Ok(answer(&created))
}

async fn list_endpoints(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor"])?;
    let tenant = call.tenant()?;
    let (limit, after) = query.page(super::is_endpoint_sk)?;
    let (endpoints, next) = super::page(app, tenant, limit, after.as_deref()).await?;
    let data = endpoints.iter().map(Endpoint::to_json).collect();
    Ok(json(StatusCode::OK, &list_body(data, next)))
}

async fn update_endpoint(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load(app, call).await?;
    let patch = EndpointPatch::parse(app, call.json_body()?)?;
    let updated = super::update(app, current, &patch).await?;
    Ok(json(StatusCode::OK, &updated.to_json()))
}

async fn delete_endpoint(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    super::delete(app, &load(app, call).await?).await?;
    Ok(no_content())
}

async fn rotate(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let rotated = super::rotate(app, load(app, call).await?).await?;
    let mut body = rotated.endpoint.to_json();
    body["secret"] = json!(rotated.secret.expose());
    body["previous_secrets_expire_at"] = json!(rotated.previous_secrets_expire_at);
    Ok(json(StatusCode::OK, &body))
}
