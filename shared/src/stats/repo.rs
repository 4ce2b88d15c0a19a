//! Counters in the table, each shard its own partition so no partition takes every write:
//! `ST#<tenant>#<yyyy-mm-dd>#<shard>` / `ST` holds a day's counters (kept [`KEEP_DAYS`],
//! then TTL removes it), `ST#<tenant>#total#<shard>` / `ST` the connections by status, and
//! `STM#<event or link id>` / `STM` marks what was counted (a week, TTL), so a record the
//! stream delivers again adds nothing.

use super::{Counted, Daily, Total, SHARDS};
use crate::id::TenantId;
use crate::store::{key, n, s, Item, Store, StoreError};
use chrono::NaiveDate;

const SK: &str = "ST";
const MARKER_SK: &str = "STM";
/// How long a day's counters stay (the overview shows 30).
pub const KEEP_DAYS: i64 = 40;
/// How long a marker stays: longer than the stream keeps a record (24 hours).
const MARKER_SECONDS: i64 = 7 * 86_400;

fn day_pk(tenant: &TenantId, day: NaiveDate, shard: u32) -> String {
    format!("ST#{tenant}#{}#{shard}", day.format("%Y-%m-%d"))
}

fn total_pk(tenant: &TenantId, shard: u32) -> String {
    format!("ST#{tenant}#total#{shard}")
}

fn any_shard() -> u32 {
    crate::secret::random_bytes::<4>()
        .map(|b| u32::from_le_bytes(b) % SHARDS)
        .unwrap_or(0)
}

/// `ADD` of each value to one shard's item (and `ttl` set on a day's).
async fn add_to(
    store: &Store,
    pk: String,
    values: &[(&'static str, i64)],
    ttl: Option<i64>,
) -> Result<(), StoreError> {
    if values.is_empty() {
        return Ok(());
    }
    let mut update = format!(
        "ADD {}",
        values
            .iter()
            .enumerate()
            .map(|(i, (name, _))| format!("{name} :v{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut vals: Vec<(String, aws_sdk_dynamodb::types::AttributeValue)> = values
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (format!(":v{i}"), n(v)))
        .collect();
    if let Some(ttl) = ttl {
        update.push_str(" SET #ttl = :ttl");
        vals.push((":ttl".into(), n(ttl)));
    }
    let vals: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)> =
        vals.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let names: &[(&str, &str)] = if ttl.is_some() {
        &[("#ttl", "ttl")]
    } else {
        &[]
    };
    store
        .update_always(key(pk, SK), &update, &vals, names)
        .await
}

/// Adds `daily` to one shard of the tenant's `day`, and `totals` to one of its totals.
pub async fn add(
    store: &Store,
    tenant: &TenantId,
    day: NaiveDate,
    daily: &[(Daily, i64)],
    totals: &[(Total, i64)],
) -> Result<(), StoreError> {
    let ttl = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp() + KEEP_DAYS * 86_400);
    let daily: Vec<(&'static str, i64)> = daily.iter().map(|(d, v)| (d.attribute(), *v)).collect();
    add_to(store, day_pk(tenant, day, any_shard()), &daily, ttl).await?;
    let totals: Vec<(&'static str, i64)> =
        totals.iter().map(|(t, v)| (t.attribute(), *v)).collect();
    add_to(store, total_pk(tenant, any_shard()), &totals, None).await
}

/// Adds `c` unless its marker is there already; `true` when it was new.
pub async fn add_once(store: &Store, c: &Counted) -> Result<bool, StoreError> {
    let mut marker = Item::new();
    marker.insert("pk".into(), s(format!("STM#{}", c.marker)));
    marker.insert("sk".into(), s(MARKER_SK));
    marker.insert(
        "ttl".into(),
        n(crate::time::now().timestamp() + MARKER_SECONDS),
    );
    if !store.put_new(marker).await? {
        return Ok(false);
    }
    add(store, &c.tenant, c.day, &c.daily, &c.totals).await?;
    Ok(true)
}

/// What [`read`] found: each day's shards' values, and the totals' shards' values.
pub struct Read {
    pub days: Vec<(NaiveDate, Vec<(Daily, i64)>)>,
    pub totals: Vec<(Total, i64)>,
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Every shard of each of `dates` and of the totals, in batched reads.
pub async fn read(
    store: &Store,
    tenant: &TenantId,
    dates: &[NaiveDate],
) -> Result<Read, StoreError> {
    let mut keys: Vec<Item> = Vec::with_capacity((dates.len() + 1) * SHARDS as usize);
    for shard in 0..SHARDS {
        keys.push(key(total_pk(tenant, shard), SK));
        for d in dates {
            keys.push(key(day_pk(tenant, *d, shard), SK));
        }
    }
    let items = store.batch_get(keys).await?;
    let total_prefix = format!("ST#{tenant}#total#");
    let day_prefix = format!("ST#{tenant}#");
    let mut out = Read {
        days: Vec::new(),
        totals: Vec::new(),
    };
    for item in items {
        let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) else {
            continue;
        };
        if pk.starts_with(&total_prefix) {
            out.totals.extend(
                Total::ALL
                    .iter()
                    .map(|t| (*t, number(&item, t.attribute()))),
            );
        } else if let Some(date) = pk
            .strip_prefix(&day_prefix)
            .and_then(|rest| rest.split('#').next())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            out.days.push((
                date,
                Daily::ALL
                    .iter()
                    .map(|d| (*d, number(&item, d.attribute())))
                    .collect(),
            ));
        }
    }
    Ok(out)
}
