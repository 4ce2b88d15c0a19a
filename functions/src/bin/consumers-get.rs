//! `GET /v1/consumers/{id}`, `GET /compat/chift/consumers/{consumer_id}`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("GET /v1/consumers/{id}", &linkgate::consumer::api::GET),
        (
            "GET /compat/chift/consumers/{consumer_id}",
            &linkgate::compat::chift::api::CONSUMERS_GET,
        ),
    ])
    .await
}
