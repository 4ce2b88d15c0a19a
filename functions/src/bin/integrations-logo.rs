//! `GET /v1/integrations/{id}/logo`, `GET /compat/chift/integrations/{integrationid}/logo.json`, `GET /compat/chift/integrations/{integrationid}/icon.json`.
//! Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "GET /v1/integrations/{id}/logo",
            &linkgate::integration::api::LOGO,
        ),
        (
            "GET /compat/chift/integrations/{integrationid}/logo.json",
            &linkgate::compat::chift::api::LOGO,
        ),
        (
            "GET /compat/chift/integrations/{integrationid}/icon.json",
            &linkgate::compat::chift::api::ICON,
        ),
    ])
    .await
}
