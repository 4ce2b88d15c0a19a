//! `POST /v1/integrations/{id}/connect`: server-to-server connect from a stored credential, or the start of an OAuth consent.

use crate::error::ApiError;
use crate::http::{answer, Access, Call, Route};
use crate::App;
use lambda_http::{Body, Response};

pub const CONNECT: Route = Route {
    operation: "integrations.connect",
    access: Access::Write,
    handler: |app, call| Box::pin(connect_integration(app, call)),
};
async fn connect_integration(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("integrations.connect", &body)?;
    let request = super::ConnectRequest::parse(body, app.config.stage)?;
    let connected = super::connect(
        app,
        call.tenant()?,
        super::Target::Named(call.path_param("id").unwrap_or_default().to_owned()),
        request,
        &call.public_base_url(&app.config),
        idempotency.as_ref(),
    )
    .await?;
    Ok(answer(&connected))
}
