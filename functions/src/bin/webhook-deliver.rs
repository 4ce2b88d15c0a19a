//! SQS event source (partial batch responses). Wiring only: build the app once per process, then delegate to
//! `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    linkgate::run::event(linkgate::webhook::delivery::DELIVER).await
}
