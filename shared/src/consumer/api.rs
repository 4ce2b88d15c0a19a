//! `/v1/consumers` routes.

use super::{Consumer, ConsumerPatch, InternalReference, NewConsumer};
use crate::error::ApiError;
use crate::http::{answer, json, list_body, no_content, Access, Call, Route};
use crate::id::ConsumerId;
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

pub const CREATE: Route = Route {
    operation: "consumers.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_consumer(app, call)),
};

pub const LIST: Route = Route {
    operation: "consumers.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_consumers(app, call)),
};

pub const GET: Route = Route {
    operation: "consumers.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_consumer(app, call)),
};

pub const UPDATE: Route = Route {
    operation: "consumers.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_consumer(app, call)),
};

pub const DELETE: Route = Route {
    operation: "consumers.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete_consumer(app, call)),
};

/// The consumer named by the path, which must belong to the caller's tenant.
async fn load(app: &App, call: &Call) -> Result<Consumer, ApiError> {
    let id = call.path_id("id", ConsumerId::parse, super::not_found)?;
    super::load(app, call.tenant()?, &id).await
}

async fn create_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("consumers.create", &body)?;
    let new = NewConsumer::parse(body, app.config.stage)?;
    let created = super::create(app, call.tenant()?, new, idempotency.as_ref()).await?;
    Ok(answer(&created))
}

async fn list_consumers(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor", "internal_reference"])?;
    // Checked before the filter branch too: a bad cursor is a 400 whichever path answers.
    let (limit, after) = query.page(super::repo::is_consumer_sk)?;
    let tenant = call.tenant()?;
    if let Some(raw) = query.get("internal_reference") {
        let reference = InternalReference::parse(&Value::String(raw.to_owned()))
            .map_err(|m| ApiError::field("internal_reference", &m))?;
        let found = super::with_reference(app, tenant, &reference).await?;
        let data: Vec<Value> = found.iter().map(Consumer::to_json).collect();
        return Ok(json(
            StatusCode::OK,
            &json!({"data": data, "next_cursor": null}),
        ));
    }
    let (consumers, next) = super::page(app, tenant, limit, after.as_deref()).await?;
    Ok(json(
        StatusCode::OK,
        &list_body(consumers.iter().map(Consumer::to_json).collect(), next),
    ))
}

async fn get_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    Ok(json(StatusCode::OK, &load(app, call).await?.to_json()))
}

async fn update_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    // Resolve the target first: a patch to a consumer that is not there is a 404 whatever
    // the body says.
    let current = load(app, call).await?;
    let patch = ConsumerPatch::parse(call.json_body()?, app.config.stage)?;
    let updated = super::update(app, current, &patch).await?;
    Ok(json(StatusCode::OK, &updated.to_json()))
}

async fn delete_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let consumer = load(app, call).await?;
    super::delete(app, consumer, |c| async move {
        crate::connection::any_live(app, &c.tenant_id, &c.id).await
    })
    .await?;
    Ok(no_content())
}
