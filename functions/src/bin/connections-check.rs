//! `POST /v1/connections/{id}/check`, `POST /compat/openint/v1/connection/{id}/check`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "POST /v1/connections/{id}/check",
            &linkgate::connection::api::CHECK,
        ),
        (
            "POST /compat/openint/v1/connection/{id}/check",
            &linkgate::compat::openint::api::CHECK,
        ),
    ])
    .await
}
