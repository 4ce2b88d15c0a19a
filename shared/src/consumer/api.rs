//! `/v1/consumers` routes.

use super::{repo, Consumer, ConsumerPatch, InternalReference, NewConsumer};
use crate::error::{ApiError, FieldError};
use crate::http::{json, list_body, no_content, Access, Call, Route};
use crate::id::ConsumerId;
use crate::idempotency::{self, Idempotency};
use crate::{time, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

use crate::store::Step;

pub const CREATE: Route = Route {
    operation: "consumers.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_consumer(app, call)),
};

pub const LIST: Route = Route {
    operation: "consumers.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_consumers(app, call)),
};

pub const GET: Route = Route {
    operation: "consumers.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_consumer(app, call)),
};

pub const UPDATE: Route = Route {
    operation: "consumers.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_consumer(app, call)),
};

pub const DELETE: Route = Route {
    operation: "consumers.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete_consumer(app, call)),
};

fn reference_taken() -> ApiError {
    ApiError::Conflict {
        message: "another consumer already has this internal_reference".into(),
        details: vec![FieldError::new("internal_reference", "already in use")],
    }
}

fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("consumer", raw)
}

fn busy() -> ApiError {
    ApiError::conflict("the consumer was modified concurrently; retry the request")
}

/// The consumer named by the path, which must belong to the caller's tenant.
async fn load(app: &App, call: &Call) -> Result<Consumer, ApiError> {
    let raw = call.path_param("id").unwrap_or_default();
    let id = ConsumerId::parse(raw).ok_or_else(|| not_found(raw))?;
    repo::get(&app.store, call.tenant()?, &id)
        .await?
        .ok_or_else(|| not_found(raw))
}

async fn create_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "consumers.create", &body)?;
    let consumer =
        NewConsumer::parse(body, app.config.stage)?.into_consumer(tenant.clone(), time::now());
    let response = consumer.to_json();

    let items = repo::create_items(&app.store, &consumer)?;
    let outcome = idempotency::commit_create(
        &app.store,
        tenant,
        idempotency.as_ref(),
        items,
        &response,
        None,
    )
    .await?;
    match outcome {
        Ok(response) => Ok(response),
        // the reference guard is the second item
        Err(failed) if failed.failed_condition(1) => Err(reference_taken()),
        Err(_) => Err(busy()),
    }
}

async fn list_consumers(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor", "internal_reference"])?;
    // Checked before the filter branch too: a bad cursor is a 400 whichever path answers.
    let (limit, after) = query.page(repo::is_consumer_sk)?;
    let tenant = call.tenant()?;
    if let Some(raw) = query.get("internal_reference") {
        let reference = InternalReference::parse(&Value::String(raw.to_owned()))
            .map_err(|m| ApiError::field("internal_reference", &m))?;
        let found = repo::find_by_reference(&app.store, tenant, &reference).await?;
        let data: Vec<Value> = found.iter().map(Consumer::to_json).collect();
        return Ok(json(
            StatusCode::OK,
            &json!({"data": data, "next_cursor": null}),
        ));
    }
    let (consumers, next) = repo::page(&app.store, tenant, limit, after.as_deref()).await?;
    Ok(json(
        StatusCode::OK,
        &list_body(consumers.iter().map(Consumer::to_json).collect(), next),
    ))
}

async fn get_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    Ok(json(StatusCode::OK, &load(app, call).await?.to_json()))
}

async fn update_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    // Resolve the target first: a patch to a consumer that is not there is a 404 whatever
    // the body says.
    let current = load(app, call).await?;
    let patch = &ConsumerPatch::parse(call.json_body()?, app.config.stage)?;
    let answer = app
        .store
        .retry_versioned(
            current,
            move |_, cancelled| async move {
                if repo::reference_taken(&cancelled) {
                    return Err(reference_taken());
                }
                load(app, call).await
            },
            move |current| async move {
                let Some(next) = patch.apply(&current, time::now())? else {
                    return Ok(Step::Done(current.to_json()));
                };
                Ok(Step::Write(
                    repo::replace_items(&app.store, &current, &next)?,
                    next.to_json(),
                ))
            },
        )
        .await?
        .ok_or_else(busy)?;
    Ok(json(StatusCode::OK, &answer))
}

async fn delete_consumer(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load(app, call).await?;
    app.store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
            move |current| async move {
                // Its connections would lose their owner: they must be revoked first.
                if crate::connection::has_live(&app.store, &current.tenant_id, &current.id).await? {
                    return Err(ApiError::conflict(
                        "the consumer still has connections that are not revoked; revoke them first",
                    ));
                }
                Ok(Step::Write(repo::delete_items(&app.store, &current)?, ()))
            },
        )
        .await?
        .ok_or_else(busy)?;
    Ok(no_content())
}
