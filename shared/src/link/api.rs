//! `/v1/links` routes: list (with the bounded status filter), read, revoke.

use super::*;
use crate::http::{json, list_body, Access, Call, Route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

/// The link the path's `id` names, of the caller's tenant (404 otherwise).
pub(crate) async fn load(app: &App, call: &Call) -> Result<Link, ApiError> {
    let raw = call.path_param("id").unwrap_or_default();
    let id = LinkId::parse(raw).ok_or_else(|| not_found(raw))?;
    get(&app.store, call.tenant()?, &id)
        .await?
        .ok_or_else(|| not_found(raw))
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
    let now = time::now();
    let start_key = |id: &str| -> Item {
        let mut k = key(format!("LINK#{id}"), SK);
        k.insert("gsi1pk".into(), s(list_pk(tenant)));
        k.insert("gsi1sk".into(), s(id));
        k
    };
    let mut start = after.as_deref().map(start_key);
    let mut data = Vec::new();
    // Without a filter one query serves the page. With one, links are read a page of
    // FILTER_PAGE at a time until `limit` match or FILTER_READ_BUDGET were read: a rare
    // status cannot make a call read a tenant's whole history (and outrun the function's
    // timeout); a short, even empty, page then comes with the cursor to go on from.
    let page_size = if wanted.is_some() { FILTER_PAGE } else { limit };
    let mut read = 0;
    let next = loop {
        let size = page_size
            .min(FILTER_READ_BUDGET.saturating_sub(read))
            .max(1);
        let (items, more) = app.store.index_page(&list_pk(tenant), size, start).await?;
        let count = items.len();
        let mut last = None;
        let mut unread = false;
        for (i, item) in items.into_iter().enumerate() {
            let link = from_item(item)?;
            read += 1;
            last = Some(link.id.to_string());
            if wanted.is_none_or(|w| link.status_at(now) == w) {
                data.push(link.to_json(now));
                if data.len() == limit {
                    unread = i + 1 < count;
                    break;
                }
            }
        }
        let more_after_last = more || unread;
        if data.len() == limit || read >= FILTER_READ_BUDGET || !more_after_last {
            break last.filter(|_| more_after_last);
        }
        start = last.as_deref().map(start_key);
    };
    Ok(json(StatusCode::OK, &list_body(data, next)))
}
async fn get_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let link = load(app, call).await?;
    let mut body = link.to_json(time::now());
    // Where the flow will send the customer (or offer a link back to): the link's URL, else
    // the consumer's, else the tenant default, as of now.
    let target = crate::connect::redirect_target(app, &link).await?;
    body["redirect_target"] = json!(target.as_ref().map(RedirectUrl::as_str));
    Ok(json(StatusCode::OK, &body))
}
async fn revoke_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let link = load(app, call).await?;
    let now = time::now();
    match link.status_at(now) {
        Status::Revoked => return Ok(json(StatusCode::OK, &link.to_json(now))),
        Status::Granted => {
            return Err(ApiError::conflict(
                "the link was already used; revoke the connection instead",
            ))
        }
        _ => {}
    }
    if let TxOutcome::Committed = app
        .store
        .transact(link.revoke_items(&app.store, now)?)
        .await?
    {
        return Ok(json(StatusCode::OK, &link.revoked(now).to_json(now)));
    }
    // Cancelled means it was used or revoked meanwhile; either way, report what it is now.
    let now_link = load(app, call).await?;
    if now_link.status == Stored::Granted {
        return Err(ApiError::conflict(
            "the link was already used; revoke the connection instead",
        ));
    }
    Ok(json(StatusCode::OK, &now_link.to_json(time::now())))
}
