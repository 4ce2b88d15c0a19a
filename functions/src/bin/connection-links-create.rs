//! `POST /v1/connections/{id}/links`, `PATCH /compat/chift/consumers/{consumer_id}/connections/{connectionid}`, `PUT /compat/albato/credentials/grant-access-sharing/{id}`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "POST /v1/connections/{id}/links",
            &linkgate::connection::api::NEW_LINK,
        ),
        (
            "PATCH /compat/chift/consumers/{consumer_id}/connections/{connectionid}",
            &linkgate::compat::chift::api::CONNECTIONS_UPDATE,
        ),
        (
            "PUT /compat/albato/credentials/grant-access-sharing/{id}",
            &linkgate::compat::albato::api::RENEW,
        ),
    ])
    .await
}
