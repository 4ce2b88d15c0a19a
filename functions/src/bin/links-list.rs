//! `GET /v1/links`, `GET /compat/albato/credentials/grant-access-sharing`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("GET /v1/links", &linkgate::link::api::LIST),
        (
            "GET /compat/albato/credentials/grant-access-sharing",
            &linkgate::compat::albato::api::LIST,
        ),
    ])
    .await
}
