//! `/v1/webhooks/{id}/deliveries` and the test send: the delivery log, one more attempt, `webhook.test`.

use super::Delivery;
use crate::error::ApiError;
use crate::http::{json, list_body, Access, Call, Route};
use crate::id::DeliveryId;
use crate::webhook::api::load as load_endpoint;
use crate::webhook::TEST_EVENT;
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;

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
    let (limit, after) = query.page(|sk| super::is_delivery_sk(&endpoint.id, sk))?;
    let (deliveries, next) = super::page(app, &endpoint, limit, after.as_deref()).await?;
    Ok(json(
        StatusCode::OK,
        &list_body(deliveries.iter().map(Delivery::to_json).collect(), next),
    ))
}

async fn retry_delivery(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let endpoint = load_endpoint(app, call).await?;
    let id = call.path_id("delivery_id", DeliveryId::parse, super::not_found)?;
    let delivery = super::retry(app, &endpoint, id).await?;
    Ok(json(StatusCode::ACCEPTED, &delivery.to_json()))
}

async fn send_test(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let endpoint = load_endpoint(app, call).await?;
    let sent = super::send_test(app, &endpoint).await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &json!({"delivery_id": sent.delivery_id, "event_id": sent.event_id, "event_type": TEST_EVENT}),
    ))
}
