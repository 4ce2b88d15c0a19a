//! `/v1/webhooks/{id}/deliveries` and the test send: the delivery log, one more attempt, `webhook.test`.

use super::*;
use crate::http::{json, list_body, Access, Call, Route};
use crate::webhook::api::load as load_endpoint;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const LIST: Route = Route {
    operation: "webhooks.deliveries",
    access: Access::Read,
    handler: |app, call| Box::pin(list_deliveries(app, call)),
};
pub const RETRY: Route = Route {
    operation: "webhooks.retry",
    access: Access::Write,
    handler: |app, call| Box::pin(retry_delivery(app, call)),
};
pub const TEST: Route = Route {
    operation: "webhooks.test",
    access: Access::Write,
    handler: |app, call| Box::pin(send_test(app, call)),
};
async fn list_deliveries(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor"])?;
    let endpoint = load_endpoint(app, call).await?;
    let prefix = format!("DLV#{}#", endpoint.id);
    let (limit, after) = query.page(|sk| {
        sk.strip_prefix(&prefix)
            .is_some_and(|id| DeliveryId::parse(id).is_some())
    })?;
    let (items, next) = app
        .store
        .page(
            &tenant_pk(&endpoint.tenant_id),
            &prefix,
            limit,
            after.as_deref(),
        )
        .await?;
    Ok(json(
        StatusCode::OK,
        &list_body(items.iter().map(delivery_json).collect(), next),
    ))
}
async fn retry_delivery(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let endpoint = load_endpoint(app, call).await?;
    let raw = call.path_param("delivery_id").unwrap_or_default();
    let missing = || ApiError::no_such("delivery", raw);
    let id = DeliveryId::parse(raw).ok_or_else(missing)?;
    let item = app
        .store
        .get(tenant_pk(&endpoint.tenant_id), sk(&endpoint.id, &id))
        .await?
        .ok_or_else(missing)?;
    if !endpoint.enabled {
        return Err(endpoint_disabled());
    }
    let attempts = item
        .get("attempts")
        .and_then(|v| v.as_l().ok())
        .map_or(0, Vec::len);
    let m = Message {
        tenant_id: endpoint.tenant_id.clone(),
        endpoint_id: endpoint.id.clone(),
        delivery_id: id,
        attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
        not_before: 0,
        manual: true,
    };
    enqueue(app, &[(m, 0)]).await?;
    Ok(json(StatusCode::ACCEPTED, &delivery_json(&item)))
}
async fn send_test(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let endpoint = load_endpoint(app, call).await?;
    if !endpoint.enabled {
        return Err(endpoint_disabled());
    }
    let event_id = EventId::generate();
    let body = payload(
        &event_id,
        TEST_EVENT,
        &time::format(&time::now()),
        &json!({"endpoint_id": endpoint.id, "message": "A test event from Linkgate."}),
    );
    let Some(delivery) = record_delivery(app, &endpoint, &event_id, TEST_EVENT, &body).await?
    else {
        return Err(ApiError::internal("a fresh event already had a delivery"));
    };
    let m = Message {
        tenant_id: endpoint.tenant_id.clone(),
        endpoint_id: endpoint.id.clone(),
        delivery_id: delivery.clone(),
        attempt: 1,
        not_before: 0,
        manual: false,
    };
    enqueue(app, &[(m.clone(), 0)]).await?;
    mark_enqueued(app, &m).await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &json!({"delivery_id": delivery, "event_id": event_id, "event_type": TEST_EVENT}),
    ))
}
