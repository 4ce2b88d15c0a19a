//! EventBridge Scheduler (every 5 minutes): refresh the OAuth tokens that expire soon. Wiring only:
//! build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    linkgate::run::scheduled(linkgate::connection::refresh::sweep).await
}
