//! `GET /v1/integrations`, `GET /compat/causeflow/v1/integrations`, `GET /compat/chift/integrations`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("GET /v1/integrations", &linkgate::integration::api::LIST),
        (
            "GET /compat/causeflow/v1/integrations",
            &linkgate::compat::causeflow::api::LIST_INTEGRATIONS,
        ),
        (
            "GET /compat/chift/integrations",
            &linkgate::compat::chift::api::INTEGRATIONS,
        ),
    ])
    .await
}
