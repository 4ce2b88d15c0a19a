//! EventBridge rule target. Wiring only: build the app once per process, then delegate to
//! `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    linkgate::run::event(linkgate::webhook::delivery::FAN_OUT).await
}
