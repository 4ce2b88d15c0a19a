//! `GET /v1/links/{id}`, `GET /compat/albato/credentials/grant-access-sharing/{id}`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("GET /v1/links/{id}", &linkgate::link::api::READ),
        (
            "GET /compat/albato/credentials/grant-access-sharing/{id}",
            &linkgate::compat::albato::api::GET,
        ),
    ])
    .await
}
