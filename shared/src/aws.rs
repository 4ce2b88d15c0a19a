//! AWS settings for every client, loaded once per process.

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Builder;

/// HTTPS for the SDK: rustls on ring, the crypto reqwest already links (see Cargo.toml).
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Region, credentials and endpoint from the environment (`AWS_ENDPOINT_URL` points the
/// local stack at moto), with our HTTP client.
pub async fn load() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}
