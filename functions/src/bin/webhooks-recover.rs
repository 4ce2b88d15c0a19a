//! `POST /v1/webhooks/{id}/recover`. Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http(&linkgate::webhook::recovery::api::START).await
}
