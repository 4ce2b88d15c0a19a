//! `GET /health`: liveness without authentication.

use crate::error::ApiError;
use crate::http::{json, serve, Access, Call};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    serve(app, req, "health", Access::Public, check).await
}

async fn check(_app: &App, _call: &Call) -> Result<Response<Body>, ApiError> {
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
    ))
}
