//! `POST /v1/consumers/{id}/portal-links`: the platform asks for a link to a consumer's
//! portal. The portal's own pages are hosted pages, served beside the connect pages.

use crate::error::ApiError;
use crate::http::{json, Access, Call, Route};
use crate::id::ConsumerId;
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const CREATE: Route = Route {
    operation: "portal_links.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_link(app, call)),
};

async fn create_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let consumer = call.path_id("id", ConsumerId::parse, crate::consumer::not_found)?;
    let request = super::PortalRequest::parse(app, call.json_body()?)?;
    let created = super::create(app, call.tenant()?, &consumer, request).await?;
    Ok(json(
        StatusCode::CREATED,
        &created.to_json(&call.public_base_url(&app.config)),
    ))
}
