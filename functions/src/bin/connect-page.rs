//! `GET /connect/{link_id}`, `GET /compat/albato/connect`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("GET /connect/{link_id}", &linkgate::connect::api::SHOW),
        (
            "GET /compat/albato/connect",
            &linkgate::compat::albato::api::CONNECT,
        ),
    ])
    .await
}
