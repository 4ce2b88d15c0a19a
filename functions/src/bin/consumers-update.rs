//! `PATCH /v1/consumers/{id}`, `PATCH /compat/chift/consumers/{consumer_id}`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("PATCH /v1/consumers/{id}", &linkgate::consumer::api::UPDATE),
        (
            "PATCH /compat/chift/consumers/{consumer_id}",
            &linkgate::compat::chift::api::CONSUMERS_UPDATE,
        ),
    ])
    .await
}
