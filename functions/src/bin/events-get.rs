//! `GET /v1/events/{id}`. Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http(&linkgate::event::api::READ).await
}
