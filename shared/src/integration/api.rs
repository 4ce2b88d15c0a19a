//! `/v1/integrations` routes: enable providers, set OAuth apps, logos.

use super::Integration;
use crate::error::ApiError;
use crate::http::{answer, json, list_body, Access, Call, Route};
use crate::id::IntegrationId;
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::Value;

async fn load(app: &App, call: &Call) -> Result<Integration, ApiError> {
    let id = call.path_id("id", IntegrationId::parse, super::not_found)?;
    super::load(app, call.tenant()?, &id).await
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
    let body = call.json_body()?;
    let idempotency = call.idempotency("integrations.create", &body)?;
    let tenant = call.tenant()?;
    // a custom provider is the tenant's own: read it, to copy into the integration
    let custom = match body.get("provider").and_then(Value::as_str) {
        Some(id) if crate::custom_provider::is_custom_id(id) => {
            crate::custom_provider::for_integration(app, tenant, id).await?
        }
        _ => None,
    };
    let new = super::NewIntegration::parse(app, body, custom)?;
    let created = super::create(app, tenant, new, idempotency.as_ref()).await?;
    Ok(answer(&created))
}
async fn list_integrations(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor", "status"])?;
    let status = query
        .get("status")
        .map(|s| {
            super::parse_status(&Value::String(s.to_owned()))
                .map_err(|m| ApiError::field("status", &m))
        })
        .transpose()?;
    let (limit, after) = query.page(super::is_integration_sk)?;
    let (integrations, next) = super::page(app, call.tenant()?, status, limit, after).await?;
    let data = integrations
        .iter()
        .map(Integration::to_json)
        .collect::<Result<Vec<_>, _>>()?;
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
    let current = load(app, call).await?;
    let patch = super::IntegrationPatch::parse(call.json_body()?)?;
    let updated = super::update(app, current, patch).await?;
    Ok(json(StatusCode::OK, &updated.to_json()?))
}
