//! `GET/PATCH /v1/settings`: the tenant's settings, read and merged.

use crate::error::ApiError;
use crate::http::{json, Access, Call, Route};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const GET: Route = Route {
    operation: "settings.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_settings(app, call)),
};

pub const UPDATE: Route = Route {
    operation: "settings.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_settings(app, call)),
};

async fn get_settings(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let settings = super::read(app, call.tenant()?).await?;
    Ok(json(StatusCode::OK, &settings.to_json()))
}

async fn update_settings(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let updated = super::update(app, call.tenant()?, call.json_body()?).await?;
    Ok(json(StatusCode::OK, &updated.to_json()))
}
