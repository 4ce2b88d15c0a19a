//! `POST /compat/chift/token`: Chift's token, an access token for an API key. Wiring only:
//! build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http(&linkgate::compat::chift::api::TOKEN).await
}
