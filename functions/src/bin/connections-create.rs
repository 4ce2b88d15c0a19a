//! `POST /v1/consumers/{id}/connections`, `POST /compat/chift/consumers/{consumer_id}/connections`, `POST /compat/openint/v1/customer/{customer_id}/token`, `POST /compat/albato/credentials/grant-access-sharing`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "POST /v1/consumers/{id}/connections",
            &linkgate::connection::api::CREATE,
        ),
        (
            "POST /compat/chift/consumers/{consumer_id}/connections",
            &linkgate::compat::chift::api::CONNECTIONS_CREATE,
        ),
        (
            "POST /compat/openint/v1/customer/{customer_id}/token",
            &linkgate::compat::openint::api::TOKEN,
        ),
        (
            "POST /compat/albato/credentials/grant-access-sharing",
            &linkgate::compat::albato::api::CREATE,
        ),
    ])
    .await
}
