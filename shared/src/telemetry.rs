//! Logging set-up shared by every function.

/// Structured logs that follow Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT`
/// (`JSON` or text) and `AWS_LAMBDA_LOG_LEVEL` (falling back to `RUST_LOG`).
pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}
