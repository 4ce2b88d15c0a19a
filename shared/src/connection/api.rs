//! `/v1/connections` and `/v1/consumers/{id}/connections` routes: create, list, read, update, revoke, import, new links, credentials.

use super::Connection;
use crate::error::ApiError;
use crate::http::{answer, json, list_body, Access, Call, Route};
use crate::id::{ConnectionId, ConsumerId};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;

async fn load(app: &App, call: &Call) -> Result<Connection, ApiError> {
    let id = call.path_id("id", ConnectionId::parse, super::not_found)?;
    super::load(app, call.tenant()?, &id).await
}
async fn load_consumer(app: &App, call: &Call) -> Result<crate::consumer::Consumer, ApiError> {
    let id = call.path_id("id", ConsumerId::parse, crate::consumer::not_found)?;
    crate::consumer::load(app, call.tenant()?, &id).await
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
pub const CHECK: Route = Route {
    operation: "connections.check",
    access: Access::Write,
    handler: |app, call| Box::pin(check_connection(app, call)),
};
pub const NEW_LINK: Route = Route {
    operation: "connections.new_link",
    access: Access::Write,
    handler: |app, call| Box::pin(create_link(app, call)),
};
async fn create_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let consumer_id = call.path_id("id", ConsumerId::parse, crate::consumer::not_found)?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("connections.create", &body)?;
    let new = super::NewConnection::parse(app, body)?;
    let created = super::create(
        app,
        call.tenant()?,
        crate::consumer::Owner::Existing(consumer_id),
        new,
        &call.public_base_url(&app.config),
        idempotency.as_ref(),
    )
    .await?;
    Ok(answer(&created))
}
async fn list_connections(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor"])?;
    let tenant = call.tenant()?;
    let consumer = load_consumer(app, call).await?;
    let (limit, after) = query.page(|sk| ConnectionId::parse(sk).is_some())?;
    let (connections, next) =
        super::page_of_consumer(app, tenant, &consumer.id, limit, after).await?;
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
    let current = load(app, call).await?;
    let patch = super::ConnectionPatch::parse(app, call.json_body()?)?;
    let updated = super::update(app, current, &patch).await?;
    Ok(json(StatusCode::OK, &updated.to_json()?))
}
async fn revoke_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load(app, call).await?;
    let base = call.public_base_url(&app.config);
    let (revoked, provider_revocation) = super::revoke(app, current, &base).await?;
    let mut body = revoked.to_json()?;
    body["provider_revocation"] = json!(provider_revocation);
    Ok(json(StatusCode::OK, &body))
}
async fn create_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load(app, call).await?;
    // An empty body is allowed: every field has a default.
    let body = match call.json_body() {
        Err(ApiError::Validation { message, .. }) if message == "request body is required" => {
            json!({})
        }
        Err(ApiError::UnsupportedMediaType) if call.body_is_empty() => json!({}),
        other => other?,
    };
    let request = super::LinkRequest::parse(app, body)?;
    let new_link = super::new_link(app, current, request).await?;
    Ok(json(
        StatusCode::CREATED,
        &new_link.to_json(&call.public_base_url(&app.config)),
    ))
}
/// The decrypted credentials, for the platform to call the provider. Every read is recorded
/// (who, when, which request) before the secret leaves.
async fn read_credentials(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let principal = call.principal()?;
    let connection = load(app, call).await?;
    let reader = super::Reader {
        api_key_id: principal.key_id.as_str(),
        request_id: &call.request_id,
    };
    let read = super::read_credentials(
        app,
        &connection,
        reader,
        &call.public_base_url(&app.config),
        call.deadline(),
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "connection_id": connection.id,
            "provider": connection.provider,
            "auth_mode": read.credentials.auth_mode,
            "credentials": read.credentials.public_values(),
            "connection_fields": read.credentials.connection_fields,
            "read_at": read.read_at,
        }),
    ))
}
/// `POST /v1/connections/{id}/check`: the stored credentials asked of the provider again.
async fn check_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    if !call.body_is_empty() {
        crate::fields::Fields::new(call.json_body()?, &[])?.finish()?;
    }
    let connection = load(app, call).await?;
    let report = super::check::run(
        app,
        connection,
        &call.public_base_url(&app.config),
        call.deadline(),
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "result": report.result,
            "detail": report.detail,
            "method": report.method.as_str(),
            "checked_at": report.checked_at,
            "connection": report.connection.to_json()?,
        }),
    ))
}
/// `POST /v1/connections`: an active connection from credentials the caller already holds.
async fn import_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("connections.import", &body)?;
    let request = super::ImportRequest::parse(body)?;
    let imported = super::import(app, call.tenant()?, request, idempotency.as_ref()).await?;
    Ok(answer(&imported))
}
