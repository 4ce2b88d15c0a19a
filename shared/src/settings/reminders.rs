//! The tenant's reminder settings (`settings.reminders`) and the schedule a link is created
//! with. Kept with the settings, below links and the reminder sender, since both read it.

use crate::email::Email;
use crate::fields::{whole_number, Fields, Patch};
use crate::time::Timestamp;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Reminders closer than this to creation or expiry are not planned, nor two reminders
/// closer than [`MIN_GAP_HOURS`] to each other: a link must live long enough to be reminded of.
const EDGE_HOURS: i64 = 1;
const MIN_GAP_HOURS: i64 = 6;
const MAX_HOURS: u64 = 168;
const MAX_PER_LIST: usize = 5;
const MAX_SENDER_NAME: usize = 64;

/// When reminders go out, in hours after creation and before expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub after_creation_hours: Vec<u64>,
    pub before_expiry_hours: Vec<u64>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            after_creation_hours: vec![24],
            before_expiry_hours: vec![4],
        }
    }
}

impl Schedule {
    /// The reminder times of a link living from `created` to `expires`, earliest first: none
    /// within an hour of either end, none within six hours of the previous one.
    pub fn plan(&self, created: Timestamp, expires: Timestamp) -> Vec<Timestamp> {
        let hours = |h: u64| Duration::hours(i64::try_from(h).unwrap_or(i64::MAX / 7200));
        let mut times: Vec<Timestamp> = self
            .after_creation_hours
            .iter()
            .map(|h| created + hours(*h))
            .chain(self.before_expiry_hours.iter().map(|h| expires - hours(*h)))
            .filter(|t| {
                *t >= created + Duration::hours(EDGE_HOURS)
                    && *t <= expires - Duration::hours(EDGE_HOURS)
            })
            .collect();
        times.sort();
        let mut planned: Vec<Timestamp> = Vec::new();
        for t in times {
            if planned
                .last()
                .is_none_or(|last| t - *last >= Duration::hours(MIN_GAP_HOURS))
            {
                planned.push(t);
            }
        }
        planned
    }
}

/// The tenant's reminder settings (`settings.reminders`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Email>,
    #[serde(default)]
    pub schedule: Schedule,
}

impl Settings {
    pub fn to_json(&self) -> Value {
        json!({
            "enabled": self.enabled,
            "sender_name": self.sender_name,
            "reply_to": self.reply_to,
            "schedule": self.schedule,
        })
    }

    /// A PATCH of `reminders`: the fields given replace the current ones (`null` resets
    /// one to its default); `schedule` lists given replace that list.
    pub fn patch(&self, f: &mut Fields) -> Settings {
        let mut next = self.clone();
        match f.patch("enabled", false, |v| {
            v.as_bool()
                .ok_or_else(|| "must be true or false".to_string())
        }) {
            Patch::Set(on) => next.enabled = on,
            Patch::Clear | Patch::Keep => {}
        }
        match f.patch("sender_name", true, sender_name) {
            Patch::Set(name) => next.sender_name = Some(name),
            Patch::Clear => next.sender_name = None,
            Patch::Keep => {}
        }
        match f.patch("reply_to", true, |v| match v {
            Value::String(raw) => Email::parse(raw),
            _ => Err("must be a string".into()),
        }) {
            Patch::Set(e) => next.reply_to = Some(e),
            Patch::Clear => next.reply_to = None,
            Patch::Keep => {}
        }
        let lists = ["after_creation_hours", "before_expiry_hours"];
        match f.patch_object("schedule", &lists, |s| {
            let mut schedule = next.schedule.clone();
            let defaults = Schedule::default();
            for (name, current, default) in [
                (
                    lists[0],
                    &mut schedule.after_creation_hours,
                    defaults.after_creation_hours,
                ),
                (
                    lists[1],
                    &mut schedule.before_expiry_hours,
                    defaults.before_expiry_hours,
                ),
            ] {
                match s.patch(name, true, hours) {
                    Patch::Set(h) => *current = h,
                    Patch::Clear => *current = default,
                    Patch::Keep => {}
                }
            }
            schedule
        }) {
            Patch::Set(schedule) => next.schedule = schedule,
            Patch::Clear => next.schedule = Schedule::default(),
            Patch::Keep => {}
        }
        next
    }
}

/// The fields `reminders` takes in a settings PATCH.
pub const SETTINGS_FIELDS: &[&str] = &["enabled", "sender_name", "reply_to", "schedule"];

fn sender_name(v: &Value) -> Result<String, String> {
    let name = crate::fields::string(v, 1, MAX_SENDER_NAME)?;
    // Quotes, brackets and backslashes would need escaping in the From header that mail
    // clients render inconsistently (control characters are already refused).
    if name.chars().any(|c| matches!(c, '"' | '<' | '>' | '\\')) {
        return Err("may not contain quotes, angle brackets or backslashes".into());
    }
    Ok(name)
}

fn hours(v: &Value) -> Result<Vec<u64>, String> {
    let message = format!(
        "must be a list of at most {MAX_PER_LIST} different whole numbers of hours from 1 to {MAX_HOURS}"
    );
    let Value::Array(items) = v else {
        return Err(message);
    };
    let mut out = Vec::new();
    for item in items {
        match whole_number(item).filter(|h| (1..=MAX_HOURS).contains(h)) {
            Some(h) if !out.contains(&h) => out.push(h),
            _ => return Err(message),
        }
    }
    if out.len() > MAX_PER_LIST {
        return Err(message);
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use chrono::TimeZone;

    fn at(h: i64) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn the_default_schedule_reminds_after_a_day_and_before_expiry() {
        let plan = Schedule::default().plan(at(0), at(168));
        assert_eq!(plan, vec![at(24), at(164)]);
    }

    #[test]
    fn short_links_get_no_reminders() {
        let s = Schedule::default();
        assert!(s.plan(at(0), at(0) + Duration::minutes(30)).is_empty());
        // 4 h before expiry would be 1 h after creation: too close to both ends at 5 h.
        assert!(s.plan(at(0), at(4)).is_empty());
        assert_eq!(s.plan(at(0), at(6)), vec![at(2)], "expiry reminder only");
    }

    #[test]
    fn reminders_closer_than_six_hours_keep_the_earlier() {
        // 26 h: before-expiry at 22 h, after-creation at 24 h.
        assert_eq!(Schedule::default().plan(at(0), at(26)), vec![at(22)]);
        let s = Schedule {
            after_creation_hours: vec![2, 12, 48],
            before_expiry_hours: vec![1, 10, 20],
        };
        // 2 h, 12 h, expiry-20 = 52 h is 4 h after 48 h (dropped), expiry-10 = 62 h,
        // expiry-1 = 71 h (an hour before the end is still allowed).
        assert_eq!(
            s.plan(at(0), at(72)),
            vec![at(2), at(12), at(48), at(62), at(71)]
        );
    }

    #[test]
    fn schedule_lists_are_whole_distinct_bounded_hours() {
        assert_eq!(hours(&json!([24, 4])), Ok(vec![4, 24]));
        assert_eq!(hours(&json!([])), Ok(vec![]));
        assert_eq!(hours(&json!([24.0])), Ok(vec![24]));
        for bad in [
            json!([0]),
            json!([169]),
            json!([1.5]),
            json!(["24"]),
            json!([4, 4]),
            json!([1, 2, 3, 4, 5, 6]),
            json!(24),
            json!(null),
        ] {
            assert!(hours(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sender_names_cannot_break_headers() {
        assert_eq!(
            sender_name(&json!("Acme Billing")),
            Ok("Acme Billing".into())
        );
        assert_eq!(sender_name(&json!("Zoë & Co")), Ok("Zoë & Co".into()));
        for bad in [
            json!(""),
            json!("   "),
            json!("Acme\r\nBcc: x@y.com"),
            json!("Acme <x@y.com>"),
            json!("\"Acme\""),
            json!("a".repeat(65)),
            json!(7),
        ] {
            assert!(sender_name(&bad).is_err(), "{bad}");
        }
    }

    fn patched(current: &Settings, body: Value) -> Result<Settings, ApiError> {
        let mut f = Fields::new(json!({ "reminders": body }), &["reminders"])?;
        let out = f.patch_object("reminders", SETTINGS_FIELDS, |r| current.patch(r));
        f.finish()?;
        match out {
            Patch::Set(s) => Ok(s),
            _ => Ok(Settings::default()),
        }
    }

    #[test]
    fn a_reminders_patch_merges_over_the_current_settings() {
        let current = Settings {
            enabled: true,
            sender_name: Some("Acme".into()),
            reply_to: Some(Email::parse("help@acme.example").unwrap()),
            schedule: Schedule::default(),
        };
        let next = patched(
            &current,
            json!({"schedule": {"before_expiry_hours": [2, 8]}}),
        )
        .unwrap();
        assert!(next.enabled);
        assert_eq!(next.sender_name.as_deref(), Some("Acme"));
        assert_eq!(next.schedule.after_creation_hours, vec![24], "kept");
        assert_eq!(next.schedule.before_expiry_hours, vec![2, 8]);
        let next = patched(
            &next,
            json!({"reply_to": null, "schedule": {"before_expiry_hours": null}}),
        )
        .unwrap();
        assert_eq!(next.reply_to, None);
        assert_eq!(
            next.schedule,
            Schedule::default(),
            "null resets to the default"
        );
    }

    #[test]
    fn a_bad_reminders_patch_names_each_nested_field() {
        let err = patched(
        &Settings::default(),
        json!({"enabled": "yes", "reply_to": "nope", "schedule": {"after_creation_hours": [0], "every": 1}, "colour": 1}),
    )
    .unwrap_err();
        let ApiError::Validation { details, .. } = err else {
            panic!("a validation error")
        };
        let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        for f in [
            "reminders.enabled",
            "reminders.reply_to",
            "reminders.schedule.after_creation_hours",
            "reminders.schedule.every",
            "reminders.colour",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
    }
}
