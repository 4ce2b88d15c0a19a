//! `POST /v1/connections`, `POST /compat/openint/v2/connection`, `POST /compat/openint/connection`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("POST /v1/connections", &linkgate::connection::api::IMPORT),
        (
            "POST /compat/openint/v2/connection",
            &linkgate::compat::openint::api::CREATE,
        ),
        (
            "POST /compat/openint/connection",
            &linkgate::compat::openint::api::CREATE_SEED,
        ),
    ])
    .await
}
