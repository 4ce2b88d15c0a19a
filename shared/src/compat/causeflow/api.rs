//! CauseFlow's routes, served by the functions of the native operations they map to:
//! bodies in camelCase, answers in CauseFlow's names, errors in its shape (`dialect`).

use crate::dialect::{camel, camel_fields, from_camel, rename_keys};
use crate::error::ApiError;
use crate::http::{json, Access, Call, Route};
use crate::idempotency::Answer;
use crate::integration;
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

pub const LIST_INTEGRATIONS: Route = Route {
    operation: "causeflow.integrations.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_integrations(app, call)),
};

pub const STORE_CREDENTIALS: Route = Route {
    operation: "causeflow.credentials.create",
    access: Access::Write,
    handler: |app, call| Box::pin(store_credentials(app, call)),
};

pub const CONNECT: Route = Route {
    operation: "causeflow.integrations.connect",
    access: Access::Write,
    handler: |app, call| Box::pin(connect(app, call)),
};

/// A native answer body in CauseFlow's names: camelCase keys, our `id` as `id_as`.
fn in_causeflow_names(body: &Value, id_as: &str) -> Value {
    let mut out = rename_keys(body.clone(), camel);
    if let Some(map) = out.as_object_mut() {
        if let Some(id) = map.remove("id") {
            map.insert(id_as.to_owned(), id);
        }
    }
    out
}

fn answer(answer: &Answer, id_as: &str) -> Response<Body> {
    crate::http::answer(&Answer {
        body: in_causeflow_names(&answer.body, id_as),
        ..answer.clone()
    })
}

/// `GET /v1/integrations`: the tenant's active integrations (`status=inactive` for the
/// others), cursor-paged like ours.
async fn list_integrations(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor", "status"])?;
    let status = integration::parse_status(&Value::String(
        query.get("status").unwrap_or("active").to_owned(),
    ))
    .map_err(|m| ApiError::field("status", &m))?;
    let (limit, after) = query.page(integration::is_integration_sk)?;
    let (integrations, next) =
        integration::page(app, call.tenant()?, Some(status), limit, after).await?;
    let data = integrations
        .iter()
        .map(|i| Ok(in_causeflow_names(&i.to_json()?, "integrationId")))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let next = crate::http::list_body(Vec::new(), next)["next_cursor"].clone();
    Ok(json(
        StatusCode::OK,
        &json!({"data": data, "nextCursor": next}),
    ))
}

/// `POST /v1/credentials`: `{provider, values, connectionFields?}` → `{credentialId, …}`.
async fn store_credentials(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("causeflow.credentials.create", &body)?;
    let new = crate::credential::NewCredential::parse(from_camel(body)?).map_err(camel_fields)?;
    let created = crate::credential::create(app, call.tenant()?, new, idempotency.as_ref())
        .await
        .map_err(camel_fields)?;
    Ok(answer(&created, "credentialId"))
}

/// `POST /v1/integrations/{provider}/connect`: enables the provider if the tenant has not,
/// then connects it like ours; `integrationId` names the integration.
async fn connect(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("causeflow.integrations.connect", &body)?;
    let request = crate::direct_connect::ConnectRequest::parse(from_camel(body)?, app.config.stage)
        .map_err(camel_fields)?;
    let (connected, integration) = super::connect(
        app,
        call.tenant()?,
        call.path_param("provider").unwrap_or_default(),
        request,
        &call.public_base_url(&app.config),
        idempotency.as_ref(),
    )
    .await
    .map_err(camel_fields)?;
    let mut body = in_causeflow_names(&connected.body, "id");
    body["integrationId"] = json!(integration);
    Ok(crate::http::answer(&Answer { body, ..connected }))
}
