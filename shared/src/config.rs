//! Process configuration, read once from the environment at cold start.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where the code runs. `Local` relaxes rules that only make sense on a developer machine
/// (plain `http` redirect URLs to loopback hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Local,
    Deployed,
}

impl Stage {
    pub fn parse(name: &str) -> Stage {
        if name.eq_ignore_ascii_case("local") {
            Stage::Local
        } else {
            Stage::Deployed
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub stage: Stage,
    /// How long a verified API key is trusted without re-reading it; bounds how late a
    /// revocation takes effect in a warm container.
    pub api_key_cache_ttl: Duration,
    /// KMS key that wraps the data keys sealing secrets at rest.
    pub kms_key_id: Option<String>,
    /// Base of public links (`https://connect.example.com`); empty means the domain the
    /// request came in on.
    pub public_base_url: Option<String>,
    /// Limit on one call to a provider's token endpoint (connect and refresh).
    pub oauth_timeout: Duration,
}

pub const DEFAULT_OAUTH_TIMEOUT_SECONDS: u64 = 5;

pub const DEFAULT_API_KEY_CACHE_SECONDS: u64 = 30;
/// Revocation must take effect within a minute, so the cache can never be set longer.
pub const MAX_API_KEY_CACHE_SECONDS: u64 = 60;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("LINKGATE_TABLE")
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing("LINKGATE_TABLE"))?;
        let stage = Stage::parse(&lookup("LINKGATE_STAGE").unwrap_or_default());
        let cache_seconds = match lookup("LINKGATE_API_KEY_CACHE_SECONDS") {
            None => DEFAULT_API_KEY_CACHE_SECONDS,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= MAX_API_KEY_CACHE_SECONDS)
                .ok_or_else(|| ConfigError::Invalid {
                    name: "LINKGATE_API_KEY_CACHE_SECONDS",
                    reason: format!("expected 0..={MAX_API_KEY_CACHE_SECONDS} seconds"),
                })?,
        };
        let oauth_timeout = match lookup("LINKGATE_OAUTH_TIMEOUT_SECONDS") {
            None => DEFAULT_OAUTH_TIMEOUT_SECONDS,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=60).contains(s))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "LINKGATE_OAUTH_TIMEOUT_SECONDS",
                    reason: "expected 1..=60 seconds".into(),
                })?,
        };
        Ok(Config {
            oauth_timeout: Duration::from_secs(oauth_timeout),
            table_name,
            stage,
            api_key_cache_ttl: Duration::from_secs(cache_seconds),
            kms_key_id: lookup("LINKGATE_KMS_KEY_ID").filter(|v| !v.is_empty()),
            public_base_url: lookup("LINKGATE_PUBLIC_BASE_URL")
                .map(|v| v.trim_end_matches('/').to_owned())
                .filter(|v| !v.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn table_is_required() {
        assert!(matches!(
            Config::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("LINKGATE_TABLE"))
        ));
    }

    #[test]
    fn defaults_to_deployed_stage_and_30s_cache() {
        let c = Config::from_lookup(lookup(&[("LINKGATE_TABLE", "t")])).unwrap();
        assert_eq!(c.stage, Stage::Deployed);
        assert_eq!(c.api_key_cache_ttl, Duration::from_secs(30));
    }

    #[test]
    fn cache_longer_than_a_minute_is_refused() {
        let r = Config::from_lookup(lookup(&[
            ("LINKGATE_TABLE", "t"),
            ("LINKGATE_API_KEY_CACHE_SECONDS", "61"),
        ]));
        assert!(matches!(r, Err(ConfigError::Invalid { .. })));
        let c = Config::from_lookup(lookup(&[
            ("LINKGATE_TABLE", "t"),
            ("LINKGATE_STAGE", "LOCAL"),
            ("LINKGATE_API_KEY_CACHE_SECONDS", "2"),
        ]))
        .unwrap();
        assert_eq!(c.stage, Stage::Local);
        assert_eq!(c.api_key_cache_ttl, Duration::from_secs(2));
    }
}
