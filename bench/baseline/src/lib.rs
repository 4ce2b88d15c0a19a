//! The baselines' one handler: a fixed JSON answer, so they time nothing but the runtime.

use lambda_http::{Body, Error, Request, Response};

pub async fn hello(_req: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"status":"ok"}"#))?)
}
