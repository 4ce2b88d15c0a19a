//! `POST /console/{page}`, `POST /console/{page}/{id}`: the operator console's forms (sign-in,
//! sign-out, a webhook endpoint's retry and recover). Wiring only: build the app once per
//! process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        (
            "POST /console/{page}",
            &linkgate::connect::api::console::FORM,
        ),
        (
            "POST /console/{page}/{id}",
            &linkgate::connect::api::console::ITEM_FORM,
        ),
    ])
    .await
}
