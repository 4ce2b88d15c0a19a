//! `DELETE /v1/connections/{id}`, `DELETE /compat/chift/consumers/{consumer_id}/connections/{connectionid}`, `DELETE /compat/openint/v2/connection/{id}`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "DELETE /v1/connections/{id}",
            &linkgate::connection::api::REVOKE,
        ),
        (
            "DELETE /compat/chift/consumers/{consumer_id}/connections/{connectionid}",
            &linkgate::compat::chift::api::CONNECTIONS_DELETE,
        ),
        (
            "DELETE /compat/openint/v2/connection/{id}",
            &linkgate::compat::openint::api::DELETE,
        ),
    ])
    .await
}
