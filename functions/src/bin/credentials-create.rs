//! POST /v1/credentials, POST /compat/causeflow/v1/credentials. Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("POST /v1/credentials", &linkgate::credential::api::CREATE),
        (
            "POST /compat/causeflow/v1/credentials",
            &linkgate::compat::causeflow::api::STORE_CREDENTIALS,
        ),
    ])
    .await
}
