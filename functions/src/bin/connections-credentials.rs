//! `GET /v1/connections/{id}/credentials`, `GET /compat/openint/v2/connection/{id}`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "GET /v1/connections/{id}/credentials",
            &linkgate::connection::api::CREDENTIALS,
        ),
        (
            "GET /compat/openint/v2/connection/{id}",
            &linkgate::compat::openint::api::GET,
        ),
    ])
    .await
}
