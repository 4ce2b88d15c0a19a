//! `/v1/links` routes: list (with the bounded status filter), read, revoke.

use super::{Link, Status};
use crate::error::ApiError;
use crate::http::{json, list_body, Access, Call, Route};
use crate::id::LinkId;
use crate::redirect_url::RedirectUrl;
use crate::{time, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;

/// The link the path's `id` names, of the caller's tenant (404 otherwise).
pub(crate) async fn load(app: &App, call: &Call) -> Result<Link, ApiError> {
    let id = call.path_id("id", LinkId::parse, super::not_found)?;
    super::load(app, call.tenant()?, &id).await
}

pub const LIST: Route = Route {
    operation: "links.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_links(app, call)),
};
pub const READ: Route = Route {
    operation: "links.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_link(app, call)),
};
pub const REVOKE: Route = Route {
    operation: "links.revoke",
    access: Access::Write,
    handler: |app, call| Box::pin(revoke_link(app, call)),
};
async fn list_links(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor", "status"])?;
    let wanted = query
        .get("status")
        .map(|raw| {
            Status::parse(raw).ok_or_else(|| {
                ApiError::field(
                    "status",
                    "must be one of waiting, waiting_oauth, granted, revoked, expired",
                )
            })
        })
        .transpose()?;
    let tenant = call.tenant()?;
    let (limit, after) = query.page(|sk| LinkId::parse(sk).is_some())?;
    let (links, next) = super::page(app, tenant, wanted, limit, after).await?;
    let now = time::now();
    let data = links.iter().map(|l| l.to_json(now)).collect();
    Ok(json(StatusCode::OK, &list_body(data, next)))
}
async fn get_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let link = load(app, call).await?;
    let mut body = link.to_json(time::now());
    // Where the flow will send the customer (or offer a link back to): the link's URL, else
    // the consumer's, else the tenant default, as of now.
    let target = super::redirect_target(app, &link).await?;
    body["redirect_target"] = json!(target.as_ref().map(RedirectUrl::as_str));
    Ok(json(StatusCode::OK, &body))
}
async fn revoke_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let revoked = super::revoke(app, load(app, call).await?).await?;
    Ok(json(StatusCode::OK, &revoked.to_json(time::now())))
}
