//! `POST /v1/consumers`, `POST /compat/chift/consumers`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("POST /v1/consumers", &linkgate::consumer::api::CREATE),
        (
            "POST /compat/chift/consumers",
            &linkgate::compat::chift::api::CONSUMERS_CREATE,
        ),
    ])
    .await
}
