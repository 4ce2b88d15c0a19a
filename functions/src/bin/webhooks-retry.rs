//! `POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry`. Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http(&linkgate::webhook::delivery::api::RETRY).await
}
