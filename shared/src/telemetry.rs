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
/// else, or when either cannot be read, `INFO`. Then capped: see [`OTHERS_AT_MOST`].
fn filter(lookup: impl Fn(&str) -> Option<String>) -> Targets {
    let everything = |level: LevelFilter| Targets::new().with_default(level);
    let asked = if let Some(level) = lookup("AWS_LAMBDA_LOG_LEVEL") {
        // Lambda's levels are TRACE…ERROR plus FATAL, which tracing calls ERROR.
        let level = if level.eq_ignore_ascii_case("fatal") {
            Some(LevelFilter::ERROR)
        } else {
            level.parse().ok()
        };
        everything(level.unwrap_or(LevelFilter::INFO))
    } else {
        lookup("RUST_LOG")
            .and_then(|directives| directives.parse().ok())
            .unwrap_or_else(|| everything(LevelFilter::INFO))
    };
    capped(&asked)
}

/// The most any crate but Linkgate logs, whatever level is asked for. Below it the Lambda
/// runtime logs every raw event (API keys, link tokens, submitted keys, OAuth codes) and
/// the HTTP stacks their traffic; Linkgate's own code logs no secret at any level, so it
/// alone gets DEBUG and TRACE.
const OTHERS_AT_MOST: LevelFilter = LevelFilter::INFO;
const OURS: &str = "linkgate";

fn capped(asked: &Targets) -> Targets {
    let default = asked.default_level().unwrap_or(LevelFilter::OFF);
    let mut out = Targets::new()
        .with_default(default.min(OTHERS_AT_MOST))
        .with_target(OURS, default);
    for (target, level) in asked {
        let ours = target == OURS || target.starts_with("linkgate::");
        out = out.with_target(
            target,
            if ours {
                level
            } else {
                level.min(OTHERS_AT_MOST)
            },
        );
    }
    out
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

    /// Below INFO the Lambda runtime logs every raw event (API keys, link tokens, submitted
    /// keys, OAuth codes) and the HTTP stacks their traffic: whatever is asked, they stay at
    /// INFO; Linkgate's own code, which logs no secret at any level, gets what was asked.
    #[test]
    fn other_crates_never_log_below_info() {
        for f in [
            with(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]),
            with(&[("AWS_LAMBDA_LOG_LEVEL", "debug")]),
            with(&[("RUST_LOG", "trace")]),
            with(&[(
                "RUST_LOG",
                "info,lambda_runtime=trace,hyper=debug,linkgate=trace",
            )]),
        ] {
            assert!(f.would_enable("linkgate::connect", &Level::DEBUG));
            for other in [
                "lambda_runtime::layers::api_response",
                "hyper",
                "aws_smithy_runtime",
                "reqwest",
            ] {
                assert!(f.would_enable(other, &Level::INFO), "{other}");
                assert!(!f.would_enable(other, &Level::DEBUG), "{other} at DEBUG");
                assert!(!f.would_enable(other, &Level::TRACE), "{other} at TRACE");
            }
        }
        let quiet = with(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        assert!(
            !quiet.would_enable("hyper", &Level::INFO),
            "a quieter level applies to all"
        );
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
