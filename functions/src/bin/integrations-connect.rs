//! `POST /v1/integrations/{id}/connect`. Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http(&linkgate::direct_connect::api::CONNECT).await
}
