//! EventBridge Scheduler (every 5 minutes): email the reminders that are due. Wiring only:
//! build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    linkgate::run::scheduled(linkgate::reminder::sweep).await
}
