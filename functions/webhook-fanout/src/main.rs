//! EventBridge rule target. Wiring only: build the app once per process, then delegate to
//! `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    linkgate::app::run_event(linkgate::webhook::delivery::FAN_OUT).await
}
