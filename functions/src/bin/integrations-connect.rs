//! POST /v1/integrations/{id}/connect, POST /compat/causeflow/v1/integrations/{provider}/connect. Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "POST /v1/integrations/{id}/connect",
            &linkgate::direct_connect::api::CONNECT,
        ),
        (
            "POST /compat/causeflow/v1/integrations/{provider}/connect",
            &linkgate::compat::causeflow::api::CONNECT,
        ),
    ])
    .await
}
