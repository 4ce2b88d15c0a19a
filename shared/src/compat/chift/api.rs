//! Chift's routes, served by the functions of the native operations they map to (the token
//! by its own): bodies in Chift's names, UUID ids, bare arrays, `ChiftError`s (`dialect`).

use super::{connection_item, consumer_item, integration_item, provider_numbered};
use crate::connection::{self, Connection, LinkRequest, NewConnection};
use crate::consumer::{self, Consumer, ConsumerPatch, InternalReference, NewConsumer};
use crate::error::ApiError;
use crate::http::{json, no_content, Access, Call, Route};
use crate::id::{ConnectionId, ConsumerId};
use crate::App;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

pub const TOKEN: Route = Route {
    operation: "chift.token",
    access: Access::Public,
    handler: |app, call| Box::pin(token(app, call)),
};
pub const INTEGRATIONS: Route = Route {
    operation: "chift.integrations.list",
    access: Access::Read,
    handler: |app, call| Box::pin(integrations(app, call)),
};
pub const LOGO: Route = Route {
    operation: "chift.integrations.logo",
    access: Access::Read,
    handler: |app, call| Box::pin(image(app, call)),
};
pub const ICON: Route = Route {
    operation: "chift.integrations.icon",
    access: Access::Read,
    handler: |app, call| Box::pin(image(app, call)),
};
pub const CONSUMERS_CREATE: Route = Route {
    operation: "chift.consumers.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_consumer(app, call)),
};
pub const CONSUMERS_LIST: Route = Route {
    operation: "chift.consumers.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_consumers(app, call)),
};
pub const CONSUMERS_GET: Route = Route {
    operation: "chift.consumers.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_consumer(app, call)),
};
pub const CONSUMERS_UPDATE: Route = Route {
    operation: "chift.consumers.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_consumer(app, call)),
};
pub const CONSUMERS_DELETE: Route = Route {
    operation: "chift.consumers.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete_consumer(app, call)),
};
pub const CONNECTIONS_LIST: Route = Route {
    operation: "chift.connections.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_connections(app, call)),
};
pub const CONNECTIONS_CREATE: Route = Route {
    operation: "chift.connections.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_connection(app, call)),
};
pub const CONNECTIONS_GET: Route = Route {
    operation: "chift.connections.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_connection(app, call)),
};
pub const CONNECTIONS_UPDATE: Route = Route {
    operation: "chift.connections.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_connection(app, call)),
};
pub const CONNECTIONS_DELETE: Route = Route {
    operation: "chift.connections.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete_connection(app, call)),
};

/// The most a list answers at once: Chift's lists are bare arrays without paging, ours are
/// bounded, so the rest is one `cursor` away (its value in `X-Next-Cursor`).
const PAGE: usize = 100;

/// `POST /token`.
async fn token(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let request = super::TokenRequest::parse(call.json_body()?)?;
    Ok(json(
        StatusCode::OK,
        &super::issue_token(app, request).await?,
    ))
}

/// `GET /integrations?status=`: every connector of the catalog, `active` where the tenant
/// has enabled it.
async fn integrations(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["status", "include_coverage"])?;
    let wanted = match query.get("status") {
        None => None,
        Some("active") => Some(true),
        Some("inactive") => Some(false),
        Some(_) => {
            return Err(ApiError::field("status", "must be active or inactive"));
        }
    };
    let enabled = crate::integration::active_of(app, call.tenant()?).await?;
    let base = call.public_base_url(&app.config);
    let catalog = crate::provider::catalog()?;
    let items: Vec<Value> = catalog
        .providers()
        .filter(|p| catalog.available(&p.id, app.config.stage).is_some())
        .map(|p| (p, enabled.iter().any(|i| i.provider_id() == p.id)))
        .filter(|(_, active)| wanted.is_none_or(|w| w == *active))
        .map(|(p, active)| integration_item(p, active, &base))
        .collect();
    Ok(json(StatusCode::OK, &Value::Array(items)))
}

/// `GET /integrations/{integrationid}/logo.json` (and `icon.json`): the image as base64.
async fn image(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let raw = call.path_param("integrationid").unwrap_or_default();
    let provider = raw
        .parse::<u64>()
        .ok()
        .map(|n| provider_numbered(n, app.config.stage))
        .transpose()?
        .flatten()
        .ok_or_else(|| ApiError::no_such("integration", raw))?;
    let logo = provider.logo_json();
    Ok(json(
        StatusCode::OK,
        &json!({"integrationid": super::integration_number(&provider.id), "data": logo["data"]}),
    ))
}

fn consumer_id(call: &Call) -> Result<ConsumerId, ApiError> {
    call.path_id(
        "consumer_id",
        |raw| ConsumerId::from_uuid(raw).or_else(|| ConsumerId::parse(raw)),
        crate::consumer::not_found,
    )
}

async fn load_consumer(app: &App, call: &Call) -> Result<Consumer, ApiError> {
    consumer::load(app, call.tenant()?, &consumer_id(call)?).await
}

/// `POST /consumers`: Chift answers 200 with the consumer.
async fn create_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("chift.consumers.create", &body)?;
    let new = NewConsumer::parse(body, app.config.stage)?;
    let created = consumer::create(app, call.tenant()?, new, idempotency.as_ref()).await?;
    Ok(json(StatusCode::OK, &consumer_item(&created.body)))
}

/// `GET /consumers?internal_reference=&search=`: `search` matches within the page.
async fn list_consumers(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["internal_reference", "search", "include_account", "cursor"])?;
    let (_, after) = query.page(crate::consumer::repo::is_consumer_sk)?;
    let tenant = call.tenant()?;
    if let Some(raw) = query.get("internal_reference") {
        let reference = InternalReference::parse(&Value::String(raw.to_owned()))
            .map_err(|m| ApiError::field("internal_reference", &m))?;
        let found = consumer::with_reference(app, tenant, &reference).await?;
        let items: Vec<Value> = found.iter().map(|c| consumer_item(&c.to_json())).collect();
        return Ok(json(StatusCode::OK, &Value::Array(items)));
    }
    let (consumers, next) = consumer::page(app, tenant, PAGE, after.as_deref()).await?;
    let search = query.get("search").map(str::to_lowercase);
    let items: Vec<Value> = consumers
        .iter()
        .filter(|c| {
            search
                .as_deref()
                .is_none_or(|s| c.name.to_lowercase().contains(s))
        })
        .map(|c| consumer_item(&c.to_json()))
        .collect();
    let mut resp = json(StatusCode::OK, &Value::Array(items));
    if let Some(next) = next {
        if let Ok(v) = HeaderValue::from_str(&crate::cursor::encode(&next)) {
            resp.headers_mut().insert("x-next-cursor", v);
        }
    }
    Ok(resp)
}

async fn get_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&["include_account"])?;
    let found = load_consumer(app, call).await?;
    Ok(json(StatusCode::OK, &consumer_item(&found.to_json())))
}

async fn update_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load_consumer(app, call).await?;
    let patch = ConsumerPatch::parse(call.json_body()?, app.config.stage)?;
    let updated = consumer::update(app, current, &patch).await?;
    Ok(json(StatusCode::OK, &consumer_item(&updated.to_json())))
}

async fn delete_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let found = load_consumer(app, call).await?;
    consumer::delete(app, found, |c| async move {
        connection::any_live(app, &c.tenant_id, &c.id).await
    })
    .await?;
    Ok(no_content())
}

/// `GET /consumers/{consumer_id}/connections`: those Chift would show (see
/// `connection_item`), from one page of the consumer's connections.
async fn list_connections(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let owner = load_consumer(app, call).await?;
    let (connections, _) =
        connection::page_of_consumer(app, &owner.tenant_id, &owner.id, PAGE, None).await?;
    let mut items = Vec::new();
    for c in &connections {
        items.extend(connection_item(c)?);
    }
    Ok(json(StatusCode::OK, &Value::Array(items)))
}

/// A Chift connection body's `redirect` (in the body, or `?redirect=true` as its guide
/// says): whether the customer goes back to the consumer's `redirect_url` when done.
fn redirect_asked(call: &Call, body: &Value, allowed: &[&str]) -> Result<bool, ApiError> {
    let query = call.query(allowed)?;
    let in_query = match query.get("redirect") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(ApiError::field("redirect", "must be true or false")),
    };
    let in_body = match body.get("redirect") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::field("redirect", "must be a boolean")),
    };
    Ok(in_query || in_body)
}

/// The body, or `{}` when there is none (Chift's connection bodies are optional).
fn optional_body(call: &Call) -> Result<Value, ApiError> {
    if call.body_is_empty() {
        return Ok(json!({}));
    }
    match call.json_body()? {
        Value::Null => Ok(json!({})),
        body => Ok(body),
    }
}

/// `POST /consumers/{consumer_id}/connections`: a pending connection and its link, `{url}`.
async fn create_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let body = optional_body(call)?;
    let redirect = redirect_asked(call, &body, &["redirect"])?;
    let idempotency = call.idempotency("chift.connections.create", &body)?;
    let owner = consumer_id(call)?;
    let tenant = call.tenant()?;
    let native = super::native_connection(app, tenant, body, redirect).await?;
    let new = NewConnection::parse(app, native)?.with_uuid_ids();
    let base = call.public_base_url(&app.config);
    let created = connection::create(
        app,
        tenant,
        crate::consumer::Owner::Existing(owner),
        new,
        &base,
        idempotency.as_ref(),
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &json!({"url": created.body["link"]["url"]}),
    ))
}

/// The consumer's connection the path names (a connection of another consumer is as
/// unknown as one that does not exist).
async fn load_connection(app: &App, call: &Call) -> Result<Connection, ApiError> {
    let owner = consumer_id(call)?;
    let id = call.path_id(
        "connectionid",
        |raw| ConnectionId::from_uuid(raw).or_else(|| ConnectionId::parse(raw)),
        crate::connection::not_found,
    )?;
    let found = connection::load(app, call.tenant()?, &id).await?;
    if found.consumer_id.as_ref() != Some(&owner) {
        return Err(crate::connection::not_found(
            call.path_param("connectionid").unwrap_or_default(),
        ));
    }
    Ok(found)
}

async fn get_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let found = load_connection(app, call).await?;
    let item = connection_item(&found)?.ok_or_else(|| {
        crate::connection::not_found(call.path_param("connectionid").unwrap_or_default())
    })?;
    Ok(json(StatusCode::OK, &item))
}

/// `PATCH /consumers/{consumer_id}/connections/{connectionid}`: Chift's resend, a fresh
/// link for the same connection (the old one dies), `{url}`.
async fn update_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let body = optional_body(call)?;
    let redirect = redirect_asked(call, &body, &["redirect"])?;
    let current = load_connection(app, call).await?;
    let native = super::native_link_request(body, redirect)?;
    let request = LinkRequest::parse(app, native)?.with_uuid_ids();
    let link = connection::new_link(app, current, request).await?;
    let base = call.public_base_url(&app.config);
    Ok(json(
        StatusCode::OK,
        &json!({"url": link.to_json(&base)["url"]}),
    ))
}

async fn delete_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load_connection(app, call).await?;
    if current.status == crate::connection::Status::Revoked {
        return Err(crate::connection::not_found(
            call.path_param("connectionid").unwrap_or_default(),
        ));
    }
    connection::revoke(app, current, &call.public_base_url(&app.config)).await?;
    Ok(no_content())
}
