//! Logging set-up shared by every function.

use lambda_http::tracing::subscriber::filter::{LevelFilter, Targets};

/// Structured logs that follow Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT`
/// (`JSON` or text) and `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`.
///
/// lambda_http's default subscriber does the same with an `EnvFilter`, which links two regex
/// engines (~0.2 MB per binary) for per-span filtering we never use; `Targets` reads the
/// same `RUST_LOG` directives (`info`, `linkgate=debug,warn`) without them.
pub fn init() {
    let filter = filter(|name| std::env::var(name).ok());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    use lambda_http::tracing::subscriber::prelude::*;
    let fmt = lambda_http::tracing::subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let registry = lambda_http::tracing::subscriber::registry();
    // A second initialisation (tests) keeps the first subscriber.
    let _ = if json {
        registry.with(fmt.json().with_filter(filter)).try_init()
    } else {
        registry.with(fmt.with_filter(filter)).try_init()
    };
}

/// `AWS_LAMBDA_LOG_LEVEL` (one level for everything) wins; else `RUST_LOG`'s directives;
/// else, or when either cannot be read, `INFO`.
fn filter(lookup: impl Fn(&str) -> Option<String>) -> Targets {
    let everything = |level: LevelFilter| Targets::new().with_default(level);
    if let Some(level) = lookup("AWS_LAMBDA_LOG_LEVEL") {
        // Lambda's levels are TRACE…ERROR plus FATAL, which tracing calls ERROR.
        let level = if level.eq_ignore_ascii_case("fatal") {
            Some(LevelFilter::ERROR)
        } else {
            level.parse().ok()
        };
        return everything(level.unwrap_or(LevelFilter::INFO));
    }
    lookup("RUST_LOG")
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| everything(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::tracing::Level;

    fn with(pairs: &[(&str, &str)]) -> Targets {
        filter(crate::config::tests::lookup(pairs))
    }

    #[test]
    fn info_by_default() {
        let f = with(&[]);
        assert!(f.would_enable("linkgate", &Level::INFO));
        assert!(!f.would_enable("linkgate", &Level::DEBUG));
    }

    #[test]
    fn lambda_level_wins_over_rust_log() {
        let f = with(&[
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("RUST_LOG", "linkgate=trace"),
        ]);
        assert!(f.would_enable("linkgate", &Level::WARN));
        assert!(!f.would_enable("linkgate", &Level::INFO));
        let fatal = with(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]);
        assert!(fatal.would_enable("linkgate", &Level::ERROR));
        assert!(!fatal.would_enable("linkgate", &Level::WARN));
    }

    #[test]
    fn rust_log_directives_per_target() {
        let f = with(&[("RUST_LOG", "linkgate=debug,warn")]);
        assert!(f.would_enable("linkgate::connect", &Level::DEBUG));
        assert!(!f.would_enable("hyper", &Level::INFO));
        assert!(f.would_enable("hyper", &Level::WARN));
    }

    #[test]
    fn unreadable_settings_fall_back_to_info() {
        for f in [
            with(&[("AWS_LAMBDA_LOG_LEVEL", "loud")]),
            with(&[("RUST_LOG", "linkgate=[span]")]),
        ] {
            assert!(f.would_enable("linkgate", &Level::INFO));
            assert!(!f.would_enable("linkgate", &Level::DEBUG));
        }
    }
}
