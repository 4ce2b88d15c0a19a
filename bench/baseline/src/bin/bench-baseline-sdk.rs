//! A second floor for cold starts: the bare `lambda_http` function plus the one thing every
//! function of ours needs before its first request, a DynamoDB client, built exactly as
//! ours are (`linkgate::aws::from_env`). What a function's init costs beyond this is ours;
//! what this costs beyond `bench-baseline` is the SDK's.

use lambda_http::{service_fn, Error, Request};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = linkgate::aws::from_env()?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    lambda_http::run(service_fn(|req: Request| {
        // Held, not called: the client is what init pays for.
        let _ = &dynamodb;
        bench_baseline::hello(req)
    }))
    .await
}
