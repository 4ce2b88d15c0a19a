//! The operator console's numbers: per tenant and day, links created, opened, granted,
//! expired and failed, and webhook attempts (succeeded, failed, their latency); per tenant,
//! connections active, needing re-authorization and revoked.
//!
//! Counting never reads what it counts, so a tenant with ten million connections costs what
//! a small one does. Counts are sharded daily items (`repo`), each change an `ADD` to one
//! shard picked at random, so no item is hot; the overview reads every shard of 30 days in
//! a bounded number of batched reads ([`repo::read`]). The relay counts from the stream:
//! each event (and each new link) once, by a marker written first (the stream delivers at
//! least once); the delivery function counts each attempt it makes. A count may be lost if a
//! function dies between marker and add; none is counted twice.

pub(crate) mod repo;

use crate::id::TenantId;
use crate::store::{Store, StoreError};
use chrono::NaiveDate;
use serde_json::Value;

/// Items per tenant and day (and for the totals): writes spread over this many partitions.
pub const SHARDS: u32 = 8;
/// The longest window the overview shows.
pub const MAX_DAYS: u32 = 30;

/// A daily counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daily {
    LinksCreated,
    LinksOpened,
    LinksGranted,
    LinksExpired,
    LinksFailed,
    WebhookSucceeded,
    WebhookFailed,
    /// The sum of attempts' latencies, in milliseconds (the mean is this over the attempts).
    WebhookMillis,
}

/// A counter of connections by status (a running total, never reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Active,
    NeedsReauth,
    Revoked,
}

impl Daily {
    pub const ALL: [Daily; 8] = [
        Daily::LinksCreated,
        Daily::LinksOpened,
        Daily::LinksGranted,
        Daily::LinksExpired,
        Daily::LinksFailed,
        Daily::WebhookSucceeded,
        Daily::WebhookFailed,
        Daily::WebhookMillis,
    ];

    pub fn attribute(self) -> &'static str {
        match self {
            Daily::LinksCreated => "links_created",
            Daily::LinksOpened => "links_opened",
            Daily::LinksGranted => "links_granted",
            Daily::LinksExpired => "links_expired",
            Daily::LinksFailed => "links_failed",
            Daily::WebhookSucceeded => "webhook_succeeded",
            Daily::WebhookFailed => "webhook_failed",
            Daily::WebhookMillis => "webhook_ms",
        }
    }
}

impl Total {
    pub const ALL: [Total; 3] = [Total::Active, Total::NeedsReauth, Total::Revoked];

    pub fn attribute(self) -> &'static str {
        match self {
            Total::Active => "active",
            Total::NeedsReauth => "needs_reauth",
            Total::Revoked => "revoked",
        }
    }

    fn of_status(status: &str) -> Option<Total> {
        match status {
            "active" => Some(Total::Active),
            "needs_reauth" => Some(Total::NeedsReauth),
            "revoked" => Some(Total::Revoked),
            _ => None,
        }
    }
}

/// What one thing adds to the day's counters and to the totals.
type Changes = (Vec<(Daily, i64)>, Vec<(Total, i64)>);

/// What one thing that happened adds: counted once, under `marker`.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    pub tenant: TenantId,
    pub day: NaiveDate,
    pub marker: String,
    pub daily: Vec<(Daily, i64)>,
    pub totals: Vec<(Total, i64)>,
}

fn day_of(at: &str) -> Option<NaiveDate> {
    crate::time::parse(at).map(|t| t.date_naive())
}

/// What an event (its `detail`, as published) counts for, if anything.
pub fn of_event(detail: &Value) -> Option<Counted> {
    let tenant = detail["tenant_id"].as_str().and_then(TenantId::parse)?;
    let day = detail["occurred_at"].as_str().and_then(day_of)?;
    let marker = detail["id"].as_str()?.to_owned();
    let data = &detail["data"];
    let previous = data["previous_status"].as_str().and_then(Total::of_status);
    let from_link = data["link_id"].is_string();
    let (daily, totals): Changes = match detail["type"].as_str()? {
        crate::event::LINK_OPENED => (vec![(Daily::LinksOpened, 1)], vec![]),
        crate::event::LINK_EXPIRED => (vec![(Daily::LinksExpired, 1)], vec![]),
        crate::event::LINK_FAILED => (vec![(Daily::LinksFailed, 1)], vec![]),
        crate::event::CONNECTION_CREATED => (
            if from_link {
                vec![(Daily::LinksGranted, 1)]
            } else {
                vec![]
            },
            vec![(Total::Active, 1)],
        ),
        // a re-authorization through a link: granted, and back to active
        crate::event::CONNECTION_UPDATED if data["change"] == "reauthenticated" => (
            if from_link {
                vec![(Daily::LinksGranted, 1)]
            } else {
                vec![]
            },
            match previous {
                Some(Total::Active) | None => vec![],
                Some(p) => vec![(p, -1), (Total::Active, 1)],
            },
        ),
        crate::event::CONNECTION_NEEDS_REAUTH => {
            (vec![], vec![(Total::Active, -1), (Total::NeedsReauth, 1)])
        }
        crate::event::CONNECTION_REVOKED => (
            vec![],
            match previous {
                Some(Total::Revoked) => vec![],
                Some(p) => vec![(p, -1), (Total::Revoked, 1)],
                // revoked while pending: it was never counted
                None => vec![(Total::Revoked, 1)],
            },
        ),
        _ => return None,
    };
    (!daily.is_empty() || !totals.is_empty()).then_some(Counted {
        tenant,
        day,
        marker,
        daily,
        totals,
    })
}

/// A new link (its item as the stream shows it, plain values): created that day.
pub fn of_new_link(tenant: &str, id: &str, created_at: &str) -> Option<Counted> {
    Some(Counted {
        tenant: TenantId::parse(tenant)?,
        day: day_of(created_at)?,
        marker: crate::id::LinkId::parse(id)?.to_string(),
        daily: vec![(Daily::LinksCreated, 1)],
        totals: vec![],
    })
}

/// Adds each of `counted` once (a marker already written means a repeat); answers how many
/// were new. Errors are the caller's to log: a lost count must not hold up what it counts.
pub async fn record(store: &Store, counted: &[Counted]) -> Result<usize, StoreError> {
    use futures_util::StreamExt;
    let results: Vec<Result<bool, StoreError>> = futures_util::stream::iter(counted)
        .map(|c| repo::add_once(store, c))
        .buffer_unordered(8)
        .collect()
        .await;
    let mut new = 0;
    for r in results {
        new += usize::from(r?);
    }
    Ok(new)
}

/// One webhook attempt, as it ended: counted as it happens (each attempt is a real one,
/// so a repeated message's attempt is counted as the attempt it is).
pub async fn webhook_attempt(
    store: &Store,
    tenant: &TenantId,
    succeeded: bool,
    latency_ms: u64,
) -> Result<(), StoreError> {
    let outcome = if succeeded {
        Daily::WebhookSucceeded
    } else {
        Daily::WebhookFailed
    };
    let ms = i64::try_from(latency_ms).unwrap_or(i64::MAX);
    repo::add(
        store,
        tenant,
        crate::time::now().date_naive(),
        &[(outcome, 1), (Daily::WebhookMillis, ms)],
        &[],
    )
    .await
}

/// One day's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Day {
    pub date: Option<NaiveDate>,
    values: [i64; 8],
}

impl Day {
    pub fn get(&self, d: Daily) -> i64 {
        self.values[Daily::ALL.iter().position(|x| *x == d).unwrap_or(0)]
    }

    fn add(&mut self, d: Daily, v: i64) {
        if let Some(i) = Daily::ALL.iter().position(|x| *x == d) {
            self.values[i] = self.values[i].saturating_add(v);
        }
    }
}

/// What the overview shows: the last `MAX_DAYS` days, oldest first, and the totals.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub days: Vec<Day>,
    totals: [i64; 3],
}

impl Overview {
    pub fn total(&self, t: Total) -> i64 {
        self.totals[Total::ALL.iter().position(|x| *x == t).unwrap_or(0)].max(0)
    }

    /// The last `n` days (at most what was read), oldest first.
    pub fn last(&self, n: usize) -> &[Day] {
        &self.days[self.days.len().saturating_sub(n)..]
    }
}

/// The tenant's last [`MAX_DAYS`] days up to `today` and its totals: every shard of each,
/// read in batches (three calls for 30 days of eight shards and the totals).
pub async fn overview(
    app: &crate::App,
    tenant: &TenantId,
    today: NaiveDate,
) -> Result<Overview, StoreError> {
    let store = &app.store;
    let dates: Vec<NaiveDate> = (0..MAX_DAYS)
        .rev()
        .filter_map(|back| today.checked_sub_days(chrono::Days::new(u64::from(back))))
        .collect();
    let read = repo::read(store, tenant, &dates).await?;
    let mut overview = Overview {
        days: dates
            .iter()
            .map(|d| Day {
                date: Some(*d),
                ..Day::default()
            })
            .collect(),
        totals: [0; 3],
    };
    for (date, values) in read.days {
        if let Some(day) = overview.days.iter_mut().find(|d| d.date == Some(date)) {
            for (d, v) in values {
                day.add(d, v);
            }
        }
    }
    for (t, v) in read.totals {
        if let Some(i) = Total::ALL.iter().position(|x| *x == t) {
            overview.totals[i] = overview.totals[i].saturating_add(v);
        }
    }
    Ok(overview)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, data: Value) -> Value {
        json!({"id": "evt_0193a1b2c3d47000800000000000000e", "type": kind,
               "tenant_id": "ten_0193a1b2c3d470008000000000000012",
               "occurred_at": "2026-12-03T10:00:00.000Z", "data": data})
    }

    fn counts(kind: &str, data: Value) -> Changes {
        of_event(&event(kind, data))
            .map(|c| (c.daily, c.totals))
            .unwrap_or_default()
    }

    #[test]
    fn each_event_counts_for_its_day_and_the_running_totals() {
        let c = of_event(&event("link.opened", json!({}))).unwrap();
        assert_eq!(c.day, NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
        assert_eq!(c.marker, "evt_0193a1b2c3d47000800000000000000e");
        assert_eq!(c.daily, vec![(Daily::LinksOpened, 1)]);
        assert_eq!(
            counts("link.expired", json!({})).0,
            vec![(Daily::LinksExpired, 1)]
        );
        assert_eq!(
            counts("link.failed", json!({})).0,
            vec![(Daily::LinksFailed, 1)]
        );
        // activated through a link: granted, and one more active
        assert_eq!(
            counts(
                "connection.created",
                json!({"link_id": "lnk_1", "previous_status": "pending"})
            ),
            (vec![(Daily::LinksGranted, 1)], vec![(Total::Active, 1)])
        );
        // imported: active, no link granted
        assert_eq!(
            counts("connection.created", json!({})),
            (vec![], vec![(Total::Active, 1)])
        );
        assert_eq!(
            counts("connection.needs_reauth", json!({})),
            (vec![], vec![(Total::Active, -1), (Total::NeedsReauth, 1)])
        );
        assert_eq!(
            counts(
                "connection.updated",
                json!({"change": "reauthenticated", "link_id": "lnk_1", "previous_status": "needs_reauth"})
            ),
            (
                vec![(Daily::LinksGranted, 1)],
                vec![(Total::NeedsReauth, -1), (Total::Active, 1)]
            )
        );
        // re-authenticated while still active: granted, no move
        assert_eq!(
            counts(
                "connection.updated",
                json!({"change": "reauthenticated", "link_id": "lnk_1", "previous_status": "active"})
            ),
            (vec![(Daily::LinksGranted, 1)], vec![])
        );
        for (previous, moved) in [
            (
                json!("active"),
                vec![(Total::Active, -1), (Total::Revoked, 1)],
            ),
            (
                json!("needs_reauth"),
                vec![(Total::NeedsReauth, -1), (Total::Revoked, 1)],
            ),
            (json!("pending"), vec![(Total::Revoked, 1)]),
        ] {
            assert_eq!(
                counts("connection.revoked", json!({"previous_status": previous})).1,
                moved,
                "{previous}"
            );
        }
    }

    #[test]
    fn what_changes_no_count_counts_nothing() {
        assert!(of_event(&event("connection.updated", json!({"change": "metadata"}))).is_none());
        assert!(of_event(&event("link.reminder_sent", json!({}))).is_none());
        assert!(of_event(&event("webhook.disabled", json!({}))).is_none());
        let mut no_tenant = event("link.opened", json!({}));
        no_tenant["tenant_id"] = json!("nobody");
        assert!(of_event(&no_tenant).is_none());
    }

    #[test]
    fn a_new_link_counts_on_the_day_it_was_created() {
        let c = of_new_link(
            "ten_0193a1b2c3d470008000000000000012",
            "lnk_0193a1b2c3d47000800000000000000d",
            "2026-11-30T23:59:59Z",
        )
        .unwrap();
        assert_eq!(c.day, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(c.daily, vec![(Daily::LinksCreated, 1)]);
        assert!(of_new_link(
            "ten_x",
            "lnk_0193a1b2c3d47000800000000000000d",
            "2026-11-30T23:59:59Z"
        )
        .is_none());
    }
}
