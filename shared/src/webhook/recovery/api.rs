//! `POST /v1/webhooks/{id}/recover` and `GET /v1/webhooks/{id}/recoveries/{recovery_id}`.

use super::Window;
use crate::error::ApiError;
use crate::http::{json, Access, Call, Route};
use crate::id::RecoveryId;
use crate::webhook::api::load as load_endpoint;
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const START: Route = Route {
    operation: "webhooks.recover",
    access: Access::Write,
    handler: |app, call| Box::pin(start(app, call)),
};
pub const READ: Route = Route {
    operation: "webhooks.recovery",
    access: Access::Read,
    handler: |app, call| Box::pin(read(app, call)),
};

async fn start(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let window = Window::parse(body, crate::time::now())?;
    let endpoint = load_endpoint(app, call).await?;
    let recovery = super::start(app, &endpoint, window).await?;
    Ok(json(StatusCode::ACCEPTED, &recovery.to_json()))
}

async fn read(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let endpoint = load_endpoint(app, call).await?;
    let id = call.path_id("recovery_id", RecoveryId::parse, super::not_found)?;
    let recovery = super::load(app, &endpoint, &id).await?;
    Ok(json(StatusCode::OK, &recovery.to_json()))
}
