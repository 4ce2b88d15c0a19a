//! `GET /v1/consumers`, `GET /compat/chift/consumers`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("GET /v1/consumers", &linkgate::consumer::api::LIST),
        (
            "GET /compat/chift/consumers",
            &linkgate::compat::chift::api::CONSUMERS_LIST,
        ),
    ])
    .await
}
