//! DynamoDB stream consumer. Wiring only: build the relay once per process, then delegate.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    linkgate::telemetry::init();
    let relay = linkgate::relay::Relay::from_env().await?;
    let relay = &relay;
    run(service_fn(move |event: LambdaEvent<Value>| {
        relay.handle(event)
    }))
    .await
}
