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
    /// How long a tenant's settings and active integrations are reused without re-reading
    /// them; bounds how late a settings change or a paused integration shows on new links
    /// and connect pages (a submission still checks the integration in its transaction).
    pub tenant_cache_ttl: Duration,
    /// KMS key that wraps the data keys sealing secrets at rest.
    pub kms_key_id: Option<String>,
    /// Base of public links (`https://connect.example.com`); empty means the domain the
    /// request came in on.
    pub public_base_url: Option<String>,
    /// Limit on one call to a provider: its token endpoint (connect and refresh) or its
    /// credential check (`credential::verify`).
    pub oauth_timeout: Duration,
    /// Whether calls to providers may leave for public hosts. Off in the local stack
    /// (`LINKGATE_OUTBOUND_PUBLIC=off`), so its tests give the same answers with or without a
    /// network: a catalogue provider's check is then "unreachable", a local one still runs.
    pub outbound_public: bool,
    /// Webhooks: the delivery queue, its dead-letter queue, the retry schedule (seconds to
    /// wait before each attempt; its length is the number of attempts), the per-attempt
    /// timeout, and the private addresses a local stack may deliver to.
    pub webhook_queue_url: Option<String>,
    pub webhook_dlq_url: Option<String>,
    pub webhook_retry_schedule: Vec<u64>,
    pub webhook_timeout: Duration,
    pub webhook_allowed_private: Vec<std::net::IpAddr>,
    /// The queue of recovery steps (`webhook::recovery`).
    pub webhook_recovery_queue_url: Option<String>,
    /// An endpoint whose attempts all failed for this long is disabled.
    pub webhook_disable_after: Duration,
    /// The address links are emailed from (on the template's verified SES identity).
    pub email_from: Option<crate::email::Email>,
    /// What one tenant may not exceed (see `quota`).
    pub max_webhook_endpoints: u32,
    pub max_emails_per_hour: u32,
    /// How long events stay readable through `GET /v1/events` (their items' `ttl`).
    pub event_retention: Duration,
}

pub const DEFAULT_MAX_WEBHOOK_ENDPOINTS: u32 = 20;
pub const DEFAULT_MAX_EMAILS_PER_HOUR: u32 = 500;
pub const DEFAULT_EVENT_RETENTION_DAYS: u32 = 30;
pub const DEFAULT_EVENT_RETENTION: Duration =
    Duration::from_secs(DEFAULT_EVENT_RETENTION_DAYS as u64 * 24 * 60 * 60);
pub const MAX_EVENT_RETENTION_DAYS: u32 = 365;

/// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Svix's schedule).
pub const DEFAULT_WEBHOOK_RETRY_SCHEDULE: &[u64] = &[0, 5, 300, 1800, 7200, 18000, 36000, 36000];
pub const DEFAULT_WEBHOOK_TIMEOUT_SECONDS: u64 = 15;
/// Five days without one success, as Svix does.
pub const DEFAULT_WEBHOOK_DISABLE_AFTER_SECONDS: u32 = 5 * 24 * 60 * 60;
pub const MAX_WEBHOOK_DISABLE_AFTER_SECONDS: u32 = 30 * 24 * 60 * 60;

fn parse_schedule(raw: &str) -> Option<Vec<u64>> {
    let steps: Option<Vec<u64>> = raw.split(',').map(|s| s.trim().parse().ok()).collect();
    steps.filter(|s| !s.is_empty() && s.len() <= 20 && s.iter().all(|d| *d <= 86_400))
}

pub const DEFAULT_OAUTH_TIMEOUT_SECONDS: u64 = 5;

pub const DEFAULT_API_KEY_CACHE_SECONDS: u64 = 30;
pub const DEFAULT_TENANT_CACHE_SECONDS: u64 = 30;
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
        let cache = |name: &'static str, default: u64| match lookup(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= MAX_API_KEY_CACHE_SECONDS)
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    reason: format!("expected 0..={MAX_API_KEY_CACHE_SECONDS} seconds"),
                }),
        };
        let cache_seconds = cache(
            "LINKGATE_API_KEY_CACHE_SECONDS",
            DEFAULT_API_KEY_CACHE_SECONDS,
        )?;
        let tenant_cache_seconds = cache(
            "LINKGATE_TENANT_CACHE_SECONDS",
            DEFAULT_TENANT_CACHE_SECONDS,
        )?;
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
        let webhook_retry_schedule = match lookup("LINKGATE_WEBHOOK_RETRY_SCHEDULE") {
            None => DEFAULT_WEBHOOK_RETRY_SCHEDULE.to_vec(),
            Some(raw) => parse_schedule(&raw).ok_or_else(|| ConfigError::Invalid {
                name: "LINKGATE_WEBHOOK_RETRY_SCHEDULE",
                reason: "expected 1 to 20 comma-separated delays in seconds, each at most a day"
                    .into(),
            })?,
        };
        let webhook_timeout = match lookup("LINKGATE_WEBHOOK_TIMEOUT_SECONDS") {
            None => DEFAULT_WEBHOOK_TIMEOUT_SECONDS,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=30).contains(s))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "LINKGATE_WEBHOOK_TIMEOUT_SECONDS",
                    reason: "expected 1..=30 seconds".into(),
                })?,
        };
        let webhook_allowed_private = match lookup("LINKGATE_WEBHOOK_ALLOWED_PRIVATE") {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<std::net::IpAddr>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ConfigError::Invalid {
                    name: "LINKGATE_WEBHOOK_ALLOWED_PRIVATE",
                    reason: "expected comma-separated IP addresses".into(),
                })?,
        };
        let bounded = |name: &'static str, default: u32, max: u32| match lookup(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|v| (1..=max).contains(v))
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    reason: format!("expected 1..={max}"),
                }),
        };
        let max_webhook_endpoints = bounded(
            "LINKGATE_MAX_WEBHOOK_ENDPOINTS",
            DEFAULT_MAX_WEBHOOK_ENDPOINTS,
            100_000,
        )?;
        let max_emails_per_hour = bounded(
            "LINKGATE_MAX_EMAILS_PER_HOUR",
            DEFAULT_MAX_EMAILS_PER_HOUR,
            1_000_000,
        )?;
        let retention_days = bounded(
            "LINKGATE_EVENT_RETENTION_DAYS",
            DEFAULT_EVENT_RETENTION_DAYS,
            MAX_EVENT_RETENTION_DAYS,
        )?;
        let webhook_disable_after = bounded(
            "LINKGATE_WEBHOOK_DISABLE_AFTER_SECONDS",
            DEFAULT_WEBHOOK_DISABLE_AFTER_SECONDS,
            MAX_WEBHOOK_DISABLE_AFTER_SECONDS,
        )?;
        let outbound_public = match lookup("LINKGATE_OUTBOUND_PUBLIC").as_deref() {
            None | Some("" | "on") => true,
            Some("off") => false,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "LINKGATE_OUTBOUND_PUBLIC",
                    reason: "expected on or off".into(),
                })
            }
        };
        let non_empty = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let email_from = non_empty("LINKGATE_EMAIL_FROM")
            .map(|raw| crate::email::Email::parse(&raw))
            .transpose()
            .map_err(|reason| ConfigError::Invalid {
                name: "LINKGATE_EMAIL_FROM",
                reason,
            })?;
        Ok(Config {
            event_retention: Duration::from_secs(u64::from(retention_days) * 24 * 60 * 60),
            email_from,
            max_webhook_endpoints,
            max_emails_per_hour,
            webhook_queue_url: non_empty("LINKGATE_WEBHOOK_QUEUE_URL"),
            webhook_dlq_url: non_empty("LINKGATE_WEBHOOK_DLQ_URL"),
            webhook_retry_schedule,
            webhook_timeout: Duration::from_secs(webhook_timeout),
            webhook_allowed_private,
            webhook_recovery_queue_url: non_empty("LINKGATE_WEBHOOK_RECOVERY_QUEUE_URL"),
            webhook_disable_after: Duration::from_secs(u64::from(webhook_disable_after)),
            oauth_timeout: Duration::from_secs(oauth_timeout),
            outbound_public,
            table_name,
            stage,
            api_key_cache_ttl: Duration::from_secs(cache_seconds),
            tenant_cache_ttl: Duration::from_secs(tenant_cache_seconds),
            kms_key_id: lookup("LINKGATE_KMS_KEY_ID").filter(|v| !v.is_empty()),
            public_base_url: lookup("LINKGATE_PUBLIC_BASE_URL")
                .map(|v| v.trim_end_matches('/').to_owned())
                .filter(|v| !v.is_empty()),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An environment holding just `pairs`, for the `from_lookup`-style readers.
    pub(crate) fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn webhook_settings_parse_or_fail_loudly() {
        let c = Config::from_lookup(lookup(&[("LINKGATE_TABLE", "t")])).unwrap();
        assert_eq!(c.webhook_retry_schedule, DEFAULT_WEBHOOK_RETRY_SCHEDULE);
        assert!(c.webhook_allowed_private.is_empty());
        assert_eq!(
            c.webhook_disable_after,
            Duration::from_secs(5 * 24 * 60 * 60)
        );
        let c = Config::from_lookup(lookup(&[
            ("LINKGATE_TABLE", "t"),
            ("LINKGATE_WEBHOOK_RETRY_SCHEDULE", "0, 1,2"),
            ("LINKGATE_WEBHOOK_ALLOWED_PRIVATE", "127.0.0.1"),
        ]))
        .unwrap();
        assert_eq!(c.webhook_retry_schedule, vec![0, 1, 2]);
        assert_eq!(c.webhook_allowed_private.len(), 1);
        for (k, v) in [
            ("LINKGATE_WEBHOOK_RETRY_SCHEDULE", ""),
            ("LINKGATE_WEBHOOK_RETRY_SCHEDULE", "1,x"),
            ("LINKGATE_WEBHOOK_RETRY_SCHEDULE", "90000"),
            ("LINKGATE_WEBHOOK_ALLOWED_PRIVATE", "localhost"),
            ("LINKGATE_WEBHOOK_TIMEOUT_SECONDS", "0"),
            ("LINKGATE_MAX_WEBHOOK_ENDPOINTS", "0"),
            ("LINKGATE_MAX_WEBHOOK_ENDPOINTS", "100001"),
            ("LINKGATE_MAX_EMAILS_PER_HOUR", "many"),
            ("LINKGATE_EVENT_RETENTION_DAYS", "0"),
            ("LINKGATE_EVENT_RETENTION_DAYS", "366"),
            ("LINKGATE_WEBHOOK_DISABLE_AFTER_SECONDS", "0"),
            ("LINKGATE_WEBHOOK_DISABLE_AFTER_SECONDS", "2592001"),
        ] {
            assert!(
                Config::from_lookup(lookup(&[("LINKGATE_TABLE", "t"), (k, v)])).is_err(),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn event_retention_is_days_thirty_unless_set() {
        let c = Config::from_lookup(lookup(&[("LINKGATE_TABLE", "t")])).unwrap();
        assert_eq!(c.event_retention, DEFAULT_EVENT_RETENTION);
        let c = Config::from_lookup(lookup(&[
            ("LINKGATE_TABLE", "t"),
            ("LINKGATE_EVENT_RETENTION_DAYS", "7"),
        ]))
        .unwrap();
        assert_eq!(c.event_retention, Duration::from_secs(7 * 86_400));
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
