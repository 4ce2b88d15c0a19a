//! `POST /v1/links/{id}/send`: email a link now, within its limits and the tenant's hourly allowance.

use crate::error::ApiError;
use crate::fields::Fields;
use crate::http::{json, Access, Call, Route};
use crate::id::LinkId;
use crate::link;
use crate::{time, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const SEND: Route = Route {
    operation: "links.send",
    access: Access::Write,
    handler: |app, call| Box::pin(send_link(app, call)),
};
async fn send_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    // No options yet; an empty body or `{}` is what a caller sends.
    if !call.body_is_empty() {
        Fields::new(call.json_body()?, &[])?.finish()?;
    }
    let id = call.path_id("id", LinkId::parse, link::not_found)?;
    let link = link::load(app, call.tenant()?, &id).await?;
    let sent = super::send_now(app, link, &call.public_base_url(&app.config)).await?;
    Ok(json(StatusCode::OK, &sent.to_json(time::now())))
}
