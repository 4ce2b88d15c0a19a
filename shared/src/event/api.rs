//! `/v1/events` routes: the tenant's events, newest first, filtered; one event by id.

use super::{Filter, TYPES};
use crate::error::ApiError;
use crate::http::{json, list_body, Access, Call, Query, Route};
use crate::id::{ConnectionId, ConsumerId, EventId, LinkId};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const LIST: Route = Route {
    operation: "events.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_events(app, call)),
};
pub const READ: Route = Route {
    operation: "events.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_event(app, call)),
};

async fn list_events(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&[
        "limit",
        "cursor",
        "type",
        "connection_id",
        "consumer_id",
        "link_id",
        "since",
        "until",
    ])?;
    let mut filter = filter(&query)?;
    let (limit, after) = query.page(|id| EventId::parse(id).is_some())?;
    let before = after.as_deref().and_then(EventId::parse);
    let tenant = call.tenant()?;
    if let Some(link) = &filter.link {
        // a link's events are kept with its connection's; another tenant's link matches nothing
        match crate::link::find_of(app, tenant, link).await? {
            Some(l)
                if filter
                    .connection
                    .as_ref()
                    .is_none_or(|c| *c == l.connection_id) =>
            {
                filter.connection = Some(l.connection_id)
            }
            _ => return Ok(json(StatusCode::OK, &list_body(Vec::new(), None))),
        }
    }
    let (events, next) = super::page(app, tenant, filter, limit, before).await?;
    Ok(json(StatusCode::OK, &list_body(events, next)))
}

fn filter(query: &Query) -> Result<Filter, ApiError> {
    fn id<T>(
        query: &Query,
        name: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        query
            .get(name)
            .map(|raw| {
                parse(raw).ok_or_else(|| {
                    ApiError::field(name, &format!("is not a {}", name.trim_end_matches("_id")))
                })
            })
            .transpose()
    }
    fn at(query: &Query, name: &str) -> Result<Option<i64>, ApiError> {
        query
            .get(name)
            .map(|raw| {
                crate::time::parse(raw)
                    .map(|t| t.timestamp_millis())
                    .ok_or_else(|| ApiError::field(name, "must be an RFC 3339 time"))
            })
            .transpose()
    }
    let kind = query
        .get("type")
        .map(|raw| {
            TYPES.iter().copied().find(|t| *t == raw).ok_or_else(|| {
                ApiError::field("type", &format!("must be one of {}", TYPES.join(", ")))
            })
        })
        .transpose()?;
    let filter = Filter {
        kind,
        connection: id(query, "connection_id", ConnectionId::parse)?,
        consumer: id(query, "consumer_id", ConsumerId::parse)?,
        link: id(query, "link_id", LinkId::parse)?,
        since_ms: at(query, "since")?,
        until_ms: at(query, "until")?,
    };
    if let (Some(since), Some(until)) = (filter.since_ms, filter.until_ms) {
        if since >= until {
            return Err(ApiError::field("until", "must be later than since"));
        }
    }
    Ok(filter)
}

async fn get_event(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let id = call.path_id("id", EventId::parse, super::not_found)?;
    let event = super::load(app, call.tenant()?, &id).await?;
    Ok(json(StatusCode::OK, &event))
}
