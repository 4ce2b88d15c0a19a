//! Event items. One item per event, keyed three ways:
//!
//! - `pk = EV#<tenant>#<shard>`, `sk = EVT#<event id>`: the tenant's events spread over
//!   [`SHARDS`] partitions by the id's random bits, so no single partition takes every
//!   write of a busy tenant; a listing reads the shards side by side and merges them, newest
//!   (highest id: ids are time-ordered) first.
//! - `gsi1pk = EVC#<tenant>#<connection>`: a connection's events (its links' too).
//! - `gsi2pk = EVU#<tenant>#<consumer>`: a consumer's events.
//!
//! A link's events are read from its connection's partition, filtered by `link_id`. Every
//! read is one Query per partition (at most [`SHARDS`]) of at most one page.

use super::{Filter, Owners};
use crate::id::{EventId, TenantId};
use crate::store::{n, s, Item, Store, StoreError, GSI1, GSI2};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde_json::Value;
use std::collections::HashMap;

pub const SK_PREFIX: &str = "EVT#";
/// Partitions per tenant. Fixed: the shard of an event is derived from its id when it is
/// read back.
pub const SHARDS: u8 = 4;

fn shard(id: &EventId) -> u8 {
    let last = id.as_str().as_bytes().last().copied().unwrap_or(b'0');
    let nibble = (last as char).to_digit(16).unwrap_or(0) as u8;
    nibble % SHARDS
}

fn shard_pk(tenant: &TenantId, shard: u8) -> String {
    format!("EV#{tenant}#{shard}")
}

fn connection_pk(tenant: &TenantId, id: &str) -> String {
    format!("EVC#{tenant}#{id}")
}

fn consumer_pk(tenant: &TenantId, id: &str) -> String {
    format!("EVU#{tenant}#{id}")
}

fn sk(id: &EventId) -> String {
    format!("{SK_PREFIX}{id}")
}

/// The sort key of the first id made at `ms` (ids start with their millisecond in hex).
fn time_sk(ms: i64) -> String {
    format!("{SK_PREFIX}{}", EventId::bound(ms))
}

pub fn put_tx(
    store: &Store,
    tenant: &TenantId,
    id: &EventId,
    kind: &str,
    detail: &Value,
    owners: &Owners,
    expires: i64,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = HashMap::from([
        ("pk".to_string(), s(shard_pk(tenant, shard(id)))),
        ("sk".to_string(), s(sk(id))),
        ("id".to_string(), s(id.as_str())),
        ("type".to_string(), s(kind)),
        ("detail".to_string(), s(detail.to_string())),
        ("ttl".to_string(), n(expires)),
    ]);
    if let Some(c) = &owners.connection {
        item.insert("connection_id".into(), s(c.as_str()));
        item.insert("gsi1pk".into(), s(connection_pk(tenant, c.as_str())));
        item.insert("gsi1sk".into(), s(sk(id)));
    }
    if let Some(c) = &owners.consumer {
        item.insert("consumer_id".into(), s(c.as_str()));
        item.insert("gsi2pk".into(), s(consumer_pk(tenant, c.as_str())));
        item.insert("gsi2sk".into(), s(sk(id)));
    }
    if let Some(l) = &owners.link {
        item.insert("link_id".into(), s(l.as_str()));
    }
    store.put_tx(item, crate::store::IS_NEW, &[])
}

/// One event of the tenant, unless its retention has ended.
pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &EventId,
    now_ms: i64,
) -> Result<Option<Value>, StoreError> {
    let Some(item) = store.get(shard_pk(tenant, shard(id)), sk(id)).await? else {
        return Ok(None);
    };
    if expired(&item, now_ms) {
        return Ok(None);
    }
    detail(&item).map(Some)
}

fn expired(item: &Item, now_ms: i64) -> bool {
    // DynamoDB deletes expired items late (and moto never): the ttl decides, not presence
    item.get("ttl")
        .and_then(|v| v.as_n().ok())
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|ttl| ttl * 1000 <= now_ms)
}

fn detail(item: &Item) -> Result<Value, StoreError> {
    item.get("detail")
        .and_then(|v| v.as_s().ok())
        .and_then(|d| serde_json::from_str(d).ok())
        .ok_or_else(|| StoreError::Corrupt("event detail".into()))
}

/// Where a partition's read stopped: its items, and the sort key it would resume after
/// when there are more.
struct Read {
    items: Vec<Item>,
    more_after: Option<String>,
}

/// One page of the tenant's events matching `filter`, newest first, below `before` (an
/// event id: the cursor). `lowest_ms` is the retention's start. Returns the events and the
/// position to resume below, if anything may remain.
pub async fn page(
    store: &Store,
    tenant: &TenantId,
    filter: &Filter,
    limit: usize,
    before: Option<&EventId>,
    lowest_ms: i64,
) -> Result<(Vec<Value>, Option<String>), StoreError> {
    let lo = time_sk(filter.since_ms.unwrap_or(lowest_ms).max(lowest_ms));
    let mut hi = filter
        .until_ms
        .map(time_sk)
        .unwrap_or_else(|| format!("{SK_PREFIX}~"));
    if let Some(b) = before {
        hi = hi.min(sk(b));
    }
    if lo >= hi {
        return Ok((Vec::new(), None));
    }
    let mut conditions: Vec<(&str, &str, AttributeValue)> = Vec::new();
    if let Some(kind) = filter.kind {
        conditions.push(("#type", ":type", s(kind)));
    }
    // the most selective partition, and the other owners as conditions on it
    let partitions: Vec<(Option<&str>, String)> = match (&filter.connection, &filter.consumer) {
        (Some(c), consumer) => {
            if let Some(u) = consumer {
                conditions.push(("consumer_id", ":consumer", s(u.as_str())));
            }
            vec![(Some(GSI1), connection_pk(tenant, c.as_str()))]
        }
        (None, Some(u)) => vec![(Some(GSI2), consumer_pk(tenant, u.as_str()))],
        (None, None) => (0..SHARDS).map(|i| (None, shard_pk(tenant, i))).collect(),
    };
    if let Some(l) = &filter.link {
        conditions.push(("link_id", ":link", s(l.as_str())));
    }
    let reads = futures_util::future::try_join_all(
        partitions
            .iter()
            .map(|(index, pk)| query(store, *index, pk, &lo, &hi, limit, &conditions)),
    )
    .await?;
    // Everything above the highest point where a partition stopped is complete in every
    // partition: only that may be served, else an event of a slower shard could be skipped.
    let horizon = reads.iter().filter_map(|r| r.more_after.clone()).max();
    let mut items: Vec<Item> = reads.into_iter().flat_map(|r| r.items).collect();
    items.retain(|i| {
        let key = sort_key(i);
        key < hi.as_str() && horizon.as_deref().is_none_or(|h| key >= h)
    });
    items.sort_by(|a, b| sort_key(b).cmp(sort_key(a)));
    let now_ms = crate::time::now().timestamp_millis();
    let more_items = items.len() > limit;
    items.truncate(limit);
    let next = if more_items || (items.len() == limit && horizon.is_some()) {
        items.last().map(|i| sort_key(i).to_owned())
    } else {
        horizon
    };
    let events = items
        .iter()
        .filter(|i| !expired(i, now_ms))
        .map(detail)
        .collect::<Result<Vec<_>, _>>()?;
    let next = next.and_then(|k| k.strip_prefix(SK_PREFIX).map(str::to_owned));
    Ok((events, next))
}

fn sort_key(item: &Item) -> &str {
    item.get("sk")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_default()
}

async fn query(
    store: &Store,
    index: Option<&str>,
    pk: &str,
    lo: &str,
    hi: &str,
    limit: usize,
    conditions: &[(&str, &str, AttributeValue)],
) -> Result<Read, StoreError> {
    let (pk_name, sk_name) = match index {
        Some(GSI1) => ("gsi1pk", "gsi1sk"),
        Some(_) => ("gsi2pk", "gsi2sk"),
        None => ("pk", "sk"),
    };
    let mut q = store
        .client()
        .query()
        .table_name(store.table())
        .set_index_name(index.map(str::to_owned))
        .key_condition_expression(format!("{pk_name} = :pk AND {sk_name} BETWEEN :lo AND :hi"))
        .expression_attribute_values(":pk", s(pk))
        .expression_attribute_values(":lo", s(lo))
        .expression_attribute_values(":hi", s(hi))
        .scan_index_forward(false)
        // one more than a page, and one for the item the upper bound may name itself
        .limit(i32::try_from(limit + 2).unwrap_or(i32::MAX));
    if index.is_none() {
        q = q.consistent_read(true);
    }
    if !conditions.is_empty() {
        let expression = conditions
            .iter()
            .map(|(name, value, _)| format!("{name} = {value}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        q = q.filter_expression(expression);
        for (name, value, v) in conditions {
            if name.starts_with('#') {
                q = q.expression_attribute_names(*name, name.trim_start_matches('#'));
            }
            q = q.expression_attribute_values(*value, v.clone());
        }
    }
    let out = q.send().await.map_err(StoreError::sdk)?;
    let more_after = out
        .last_evaluated_key
        .as_ref()
        .and_then(|k| k.get("sk"))
        .and_then(|v| v.as_s().ok())
        .cloned();
    Ok(Read {
        items: out.items.unwrap_or_default(),
        more_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_always_lands_in_the_same_one_of_the_shards() {
        let mut seen = [0u32; SHARDS as usize];
        for _ in 0..400 {
            let id = EventId::generate();
            assert_eq!(shard(&id), shard(&id));
            seen[usize::from(shard(&id))] += 1;
        }
        // random bits: every shard takes a share
        assert!(seen.iter().all(|n| *n > 40), "{seen:?}");
    }

    #[test]
    fn time_bounds_sort_with_the_ids_made_then() {
        let id = EventId::generate();
        let ms = crate::time::now().timestamp_millis();
        assert!(time_sk(ms - 1000) < sk(&id));
        assert!(time_sk(ms + 1000) > sk(&id));
        assert!(time_sk(0).as_str() > SK_PREFIX);
    }
}
