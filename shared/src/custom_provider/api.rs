//! `/v1/providers/custom` routes: a tenant's own provider definitions.

use super::CustomProvider;
use crate::error::ApiError;
use crate::http::{answer, json, list_body, no_content, Access, Call, Route};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

/// The definition named by the path, which must be the caller's tenant's.
async fn load(app: &App, call: &Call) -> Result<CustomProvider, ApiError> {
    let id = call.path_param("id").unwrap_or_default();
    super::load(app, call.tenant()?, id).await
}

pub const CREATE: Route = Route {
    operation: "providers.custom.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create(app, call)),
};
pub const LIST: Route = Route {
    operation: "providers.custom.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list(app, call)),
};
pub const READ: Route = Route {
    operation: "providers.custom.get",
    access: Access::Read,
    handler: |app, call| {
        Box::pin(async move {
            call.query(&[])?;
            Ok(json(StatusCode::OK, &load(app, call).await?.to_json()))
        })
    },
};
pub const UPDATE: Route = Route {
    operation: "providers.custom.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update(app, call)),
};
pub const DELETE: Route = Route {
    operation: "providers.custom.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete(app, call)),
};

async fn create(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("providers.custom.create", &body)?;
    let provider = super::parse_definition(&app.outbound_allowed(false), body)?;
    let created = super::create(app, call.tenant()?, provider, idempotency.as_ref()).await?;
    Ok(answer(&created))
}

async fn list(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor"])?;
    let (limit, after) = query.page(super::is_provider_sk)?;
    let (found, next) = super::page(app, call.tenant()?, limit, after.as_deref()).await?;
    let data = found.iter().map(CustomProvider::to_json).collect();
    Ok(json(StatusCode::OK, &list_body(data, next)))
}

async fn update(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load(app, call).await?;
    let body = call.json_body()?;
    let updated = super::update(app, current, body).await?;
    Ok(json(StatusCode::OK, &updated.to_json()))
}

async fn delete(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    super::delete(app, &load(app, call).await?).await?;
    Ok(no_content())
}
