//! Timestamps: UTC, RFC 3339 with millisecond precision on the wire and in storage.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    Utc::now()
}

pub fn format(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The furthest any duration someone else chose (a provider's `expires_in`, a configured
/// delay) moves a time: beyond it a token or a retry is "never" in practice, and an
/// unbounded one would overflow the clock (chrono panics; release builds abort).
pub const FURTHEST: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 24 * 3600);

/// `at` moved forward by `by`, at most by [`FURTHEST`]: never panics.
pub fn after(at: Timestamp, by: std::time::Duration) -> Timestamp {
    chrono::Duration::from_std(by.min(FURTHEST))
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(at)
}

/// Serde adapter so records keep the same text form everywhere.
pub mod rfc3339 {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse(&raw).ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_duration_from_outside_moves_a_time_at_most_ten_years() {
        let t = super::parse("2026-11-21T10:11:12.345Z").unwrap();
        let year = std::time::Duration::from_secs(365 * 24 * 3600);
        assert_eq!(super::after(t, year), t + chrono::Duration::days(365));
        for absurd in [
            std::time::Duration::from_secs(100_000_000_000_000),
            std::time::Duration::MAX,
        ] {
            assert_eq!(super::after(t, absurd), t + chrono::Duration::days(3650));
        }
    }

    #[test]
    fn round_trips_with_millis_and_z() {
        let t = super::parse("2026-11-21T10:11:12.345Z").unwrap();
        assert_eq!(super::format(&t), "2026-11-21T10:11:12.345Z");
        assert!(super::parse("yesterday").is_none());
    }
}
