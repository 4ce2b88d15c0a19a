//! `GET /health`: liveness without authentication.

use crate::error::ApiError;
use crate::http::{json, Access, Call, Route};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const HANDLE: Route = Route {
    operation: "health",
    access: Access::Public,
    handler: |app, call| Box::pin(check(app, call)),
};

async fn check(_app: &App, _call: &Call) -> Result<Response<Body>, ApiError> {
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
    ))
}
