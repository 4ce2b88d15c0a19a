//! The floor for cold starts: what `lambda_http` alone costs, with no SDK, config or catalog.

use lambda_http::{service_fn, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(bench_baseline::hello)).await
}
