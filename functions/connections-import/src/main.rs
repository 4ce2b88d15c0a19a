//! `POST /v1/connections`. Wiring only: build the app once per process, then delegate to `linkgate`.

use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    linkgate::telemetry::init();
    let app = linkgate::App::from_env().await?;
    let app = &app;
    run(service_fn(move |req| {
        linkgate::connection::import(app, req)
    }))
    .await
}
