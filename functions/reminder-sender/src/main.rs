//! EventBridge Scheduler (every 5 minutes): email the reminders that are due. Wiring only:
//! build the app once per process, then delegate to `linkgate`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    linkgate::telemetry::init();
    let app = linkgate::App::from_env().await?;
    let app = &app;
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(linkgate::reminder::sweep(app).await?)
    }))
    .await
}
