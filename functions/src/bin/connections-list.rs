//! `GET /v1/consumers/{id}/connections`, `GET /compat/chift/consumers/{consumer_id}/connections`, `GET /compat/openint/v2/connection`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "GET /v1/consumers/{id}/connections",
            &linkgate::connection::api::LIST_FOR_CONSUMER,
        ),
        (
            "GET /compat/chift/consumers/{consumer_id}/connections",
            &linkgate::compat::chift::api::CONNECTIONS_LIST,
        ),
        (
            "GET /compat/openint/v2/connection",
            &linkgate::compat::openint::api::LIST,
        ),
    ])
    .await
}
