//! Albato's sharing routes, served by the functions of the native operations they map to:
//! `{success, data}` envelopes, integer ids, statuses 0 to 3, and its link form.

use super::Shown;
use crate::error::ApiError;
use crate::http::{json, Access, Call, Route};
use crate::App;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

pub const CREATE: Route = Route {
    operation: "albato.sharing.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create(app, call)),
};
pub const LIST: Route = Route {
    operation: "albato.sharing.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list(app, call)),
};
pub const GET: Route = Route {
    operation: "albato.sharing.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get(app, call)),
};
pub const RENEW: Route = Route {
    operation: "albato.sharing.renew",
    access: Access::Write,
    handler: |app, call| Box::pin(renew(app, call)),
};
pub const DELETE: Route = Route {
    operation: "albato.sharing.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete(app, call)),
};
/// Albato's link form, `…/connect?id=&token=`: to our hosted page.
pub const CONNECT: Route = Route {
    operation: "albato.connect",
    access: Access::Public,
    handler: |app, call| Box::pin(connect(app, call)),
};

/// Sharings one list reads at most (newest first); `meta` counts those.
const MAX_LISTED: usize = 1000;

fn envelope(status: StatusCode, data: Value) -> Response<Body> {
    json(status, &json!({"success": true, "data": data}))
}

fn number(call: &Call) -> Result<u64, ApiError> {
    call.path_id(
        "id",
        |raw| raw.parse::<u64>().ok(),
        |raw| super::not_found(raw.chars().take(32).collect::<String>()),
    )
}

async fn create(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let new = super::NewSharing::parse(app, call.json_body()?)?;
    let base = call.public_base_url(&app.config);
    let created = super::create(app, call.tenant()?, new, &base).await?;
    Ok(envelope(StatusCode::OK, with_link(&created, &base)))
}

/// The sharing, with the link to share when its token was just issued.
fn with_link(shown: &Shown, base: &str) -> Value {
    let mut data = shown.to_json();
    if let Some(token) = &shown.token {
        if let Ok(mut url) = url::Url::parse(&format!("{base}/compat/albato/connect")) {
            url.query_pairs_mut()
                .append_pair("id", &shown.sharing.number.to_string())
                .append_pair("token", token);
            data["url"] = json!(url.as_str());
        }
    }
    data
}

async fn list(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["page", "limit"])?;
    let whole = |name: &str, default: usize, max: usize| -> Result<usize, ApiError> {
        match query.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::field(name, &format!("must be an integer from 1 to {max}"))
                }),
        }
    };
    let size = whole("limit", 20, 100)?;
    let page = whole("page", 1, MAX_LISTED)?;
    let (shown, total, more) = super::page(app, call.tenant()?, page, size, MAX_LISTED).await?;
    let mut meta = json!({
        "page": page,
        "totalPages": total.div_ceil(size).max(1),
        "totalItemsCount": total,
    });
    if more {
        // Counted from one bounded read: the newest sharings only.
        meta["totalIsLowerBound"] = json!(true);
    }
    let data: Vec<Value> = shown.iter().map(Shown::to_json).collect();
    Ok(json(
        StatusCode::OK,
        &json!({"success": true, "data": data, "meta": meta}),
    ))
}

async fn get(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let shown = super::show(app, call.tenant()?, number(call)?).await?;
    Ok(envelope(StatusCode::OK, shown.to_json()))
}

async fn renew(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let base = call.public_base_url(&app.config);
    let shown = super::renew(app, call.tenant()?, number(call)?, &base).await?;
    Ok(envelope(StatusCode::OK, with_link(&shown, &base)))
}

async fn delete(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let shown = super::revoke(app, call.tenant()?, number(call)?).await?;
    Ok(envelope(StatusCode::OK, shown.to_json()))
}

async fn connect(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let number = call
        .query_param("id")
        .and_then(|raw| raw.parse::<u64>().ok())
        .ok_or_else(|| ApiError::field("id", "must be a sharing id"))?;
    let token = call
        .query_param("token")
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or_else(|| ApiError::field("token", "is required"))?;
    let to = super::page_url(app, number, &token, &call.public_base_url(&app.config)).await?;
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::FOUND;
    let location =
        HeaderValue::from_str(&to).map_err(|e| ApiError::internal(format!("location: {e}")))?;
    resp.headers_mut().insert(header::LOCATION, location);
    Ok(resp)
}
