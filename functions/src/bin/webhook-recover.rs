//! SQS event source: one step of a webhook recovery per message. Wiring only: build the app once per process, then delegate to
//! `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    linkgate::run::event(linkgate::webhook::recovery::RECOVER).await
}
