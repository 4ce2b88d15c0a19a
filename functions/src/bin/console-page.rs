//! `GET /console`, `GET /console/{page}`, `GET /console/{page}/{id}`: the operator console's
//! pages. Wiring only: build the app once per process, then delegate to `linkgate`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    linkgate::run::http_routes(&[
        ("GET /console", &linkgate::connect::api::console::HOME),
        (
            "GET /console/{page}",
            &linkgate::connect::api::console::PAGE,
        ),
        (
            "GET /console/{page}/{id}",
            &linkgate::connect::api::console::ITEM,
        ),
    ])
    .await
}
