//! `GET /v1/webhooks/{id}/recoveries/{recovery_id}`. Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http(&linkgate::webhook::recovery::api::READ).await
}
