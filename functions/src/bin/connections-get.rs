//! `GET /v1/connections/{id}`, `GET /compat/chift/consumers/{consumer_id}/connections/{connectionid}`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("GET /v1/connections/{id}", &linkgate::connection::api::READ),
        (
            "GET /compat/chift/consumers/{consumer_id}/connections/{connectionid}",
            &linkgate::compat::chift::api::CONNECTIONS_GET,
        ),
    ])
    .await
}
