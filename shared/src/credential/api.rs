//! `POST /v1/credentials`: validate and seal API-key values for a later direct connect.

use crate::error::ApiError;
use crate::http::{answer, Access, Call, Route};
use crate::App;
use lambda_http::{Body, Response};

pub const CREATE: Route = Route {
    operation: "credentials.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_credential(app, call)),
};

async fn create_credential(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("credentials.create", &body)?;
    let new = super::NewCredential::parse(body)?;
    let created = super::create(app, call.tenant()?, new, idempotency.as_ref()).await?;
    Ok(answer(&created))
}
