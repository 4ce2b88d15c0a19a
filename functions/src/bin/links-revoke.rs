//! `DELETE /v1/links/{id}`, `DELETE /compat/albato/credentials/grant-access-sharing/{id}`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("DELETE /v1/links/{id}", &linkgate::link::api::REVOKE),
        (
            "DELETE /compat/albato/credentials/grant-access-sharing/{id}",
            &linkgate::compat::albato::api::DELETE,
        ),
    ])
    .await
}
