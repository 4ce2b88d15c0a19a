//! The event relay: fed the table's stream, it publishes every outbox event to EventBridge,
//! turns the TTL removal of a link's expiry marker into a `link.expired` outbox event, and a
//! link's first `opened_at` into `link.opened` (the connect page records the open in the same
//! single write that reads the link, so the event is written here, once), and a link's
//! `failed_attempts` reaching `link::FAILED_AFTER` into `link.failed`. It counts, too, what
//! the console's overview shows (`stats`): each event, and each new link.
//!
//! Delivery is at least once. Entries EventBridge refuses are retried here a few times;
//! what still fails is reported as a batch item failure, so Lambda retries the stream from
//! that record on (earlier records are done). Consumers de-duplicate on the event `id`.

use crate::config::{Config, ConfigError};
use crate::event;
use crate::id::{EventId, LinkId, TenantId};
use crate::link::{self, Status};
use crate::stats;
use crate::store::{s, Store, StoreError, TxOutcome};
use crate::time;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use std::time::Duration;

pub const SOURCE: &str = "linkgate";
/// PutEvents takes at most 10 entries.
const PUT_EVENTS_MAX: usize = 10;
const PUBLISH_ATTEMPTS: u32 = 3;

pub struct Relay {
    store: Store,
    events: aws_sdk_eventbridge::Client,
    bus: String,
}

impl Relay {
    pub async fn from_env() -> Result<Relay, ConfigError> {
        let config = Config::from_env()?;
        let bus = std::env::var("LINKGATE_EVENT_BUS")
            .ok()
            .filter(|b| !b.is_empty())
            .ok_or(ConfigError::Missing("LINKGATE_EVENT_BUS"))?;
        let aws = crate::aws::from_env()?;
        Ok(Relay {
            store: Store::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name)
                .with_event_retention(config.event_retention),
            events: aws_sdk_eventbridge::Client::new(&aws),
            bus,
        })
    }
}

/// The id of the one `kind` event a link can have, made at `at` (when the link was opened,
/// or refused its last submission: data of the record, so a redelivered record gives the same
/// id): that time, then the link's random bits, the last hex digit's low bit flipped for
/// `link.failed`. Unique per link and kind, and time-ordered with the events around it.
fn announcement_id(link: &LinkId, kind: &str, at: &str) -> Option<EventId> {
    let ms = u64::try_from(time::parse(at)?.timestamp_millis()).ok()?;
    let random = &link.as_str()[LinkId::PREFIX.len() + 12..];
    let mut id = format!("{}{:012x}{random}", EventId::PREFIX, ms & 0xFFFF_FFFF_FFFF);
    if kind == event::LINK_FAILED {
        let last = id.pop()?.to_digit(16)?;
        id.push(char::from_digit(last ^ 1, 16)?);
    }
    EventId::parse(&id)
}

/// What one stream record asks of the relay.
#[derive(Debug, PartialEq)]
enum Work {
    /// An outbox event to publish: detail-type and detail.
    Publish { kind: String, detail: String },
    /// A link's expiry marker was removed by TTL.
    Expired { tenant: TenantId, link: LinkId },
    /// A link was opened for the first time, or refused its `FAILED_AFTER`th submission:
    /// `kind` is `link.opened` or `link.failed`.
    Announce {
        kind: &'static str,
        tenant: TenantId,
        data: Value,
        id: LinkId,
        /// When it happened, from the record (RFC 3339).
        at: String,
    },
    /// A new link: counted, nothing to publish.
    Count(stats::Counted),
    /// Anything else on the stream.
    Nothing,
}

fn attr<'a>(image: &'a Value, name: &str) -> Option<&'a str> {
    image
        .get(name)
        .and_then(|a| a.get("S"))
        .and_then(Value::as_str)
}

fn number(image: &Value, name: &str) -> u64 {
    image
        .get(name)
        .and_then(|a| a.get("N"))
        .and_then(Value::as_str)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn classify(record: &Value) -> Work {
    let ddb = &record["dynamodb"];
    match record["eventName"].as_str() {
        Some("INSERT") => {
            let image = &ddb["NewImage"];
            match (
                attr(image, "sk"),
                attr(image, "type"),
                attr(image, "detail"),
            ) {
                (Some(sk), Some(kind), Some(detail)) if sk.starts_with(event::SK_PREFIX) => {
                    Work::Publish {
                        kind: kind.to_owned(),
                        detail: detail.to_owned(),
                    }
                }
                (Some(link::SK), _, _) => match (
                    attr(image, "tenant_id"),
                    attr(image, "id"),
                    attr(image, "created_at"),
                ) {
                    (Some(tenant), Some(id), Some(created_at)) => {
                        stats::of_new_link(tenant, id, created_at)
                            .map_or(Work::Nothing, Work::Count)
                    }
                    _ => Work::Nothing,
                },
                _ => Work::Nothing,
            }
        }
        Some("MODIFY") => {
            let (old, new) = (&ddb["OldImage"], &ddb["NewImage"]);
            let is_link = attr(new, "sk") == Some(link::SK);
            let first_open = attr(old, "opened_at").is_none() && attr(new, "opened_at").is_some();
            let failed = number(old, "failed_attempts") < link::FAILED_AFTER
                && number(new, "failed_attempts") >= link::FAILED_AFTER;
            let (Some(tenant), Some(id), true) = (
                attr(new, "tenant_id").and_then(TenantId::parse),
                attr(new, "id").and_then(LinkId::parse),
                is_link,
            ) else {
                return Work::Nothing;
            };
            let mut data = json!({
                "link_id": id,
                "connection_id": attr(new, "connection_id"),
                "consumer_id": attr(new, "consumer_id"),
            });
            // the record's own time where the image has none (it always has, since both
            // writes record their moment)
            let approximate = ddb["ApproximateCreationDateTime"]
                .as_f64()
                .and_then(|s| chrono::DateTime::from_timestamp_millis((s * 1000.0) as i64))
                .map(|t| time::format(&t));
            if first_open {
                data["opened_at"] = json!(attr(new, "opened_at"));
                let Some(at) = attr(new, "opened_at").map(str::to_owned).or(approximate) else {
                    return Work::Nothing;
                };
                Work::Announce {
                    kind: event::LINK_OPENED,
                    tenant,
                    data,
                    id,
                    at,
                }
            } else if failed {
                let Some(at) = new["last_error"]["M"]["at"]["S"]
                    .as_str()
                    .map(str::to_owned)
                    .or(approximate)
                else {
                    return Work::Nothing;
                };
                data["failed_attempts"] = json!(number(new, "failed_attempts"));
                data["last_error_fields"] = json!(new["last_error"]["M"]["fields"]["L"]
                    .as_array()
                    .map(|l| l.iter().filter_map(|f| f["S"].as_str()).collect::<Vec<_>>())
                    .unwrap_or_default());
                Work::Announce {
                    kind: event::LINK_FAILED,
                    tenant,
                    data,
                    id,
                    at,
                }
            } else {
                Work::Nothing
            }
        }
        Some("REMOVE") => {
            // Only DynamoDB's own TTL sweep announces expiry; our deletes (a link used or
            // revoked) remove the marker too and must not.
            let by_ttl =
                record["userIdentity"]["principalId"].as_str() == Some("dynamodb.amazonaws.com");
            let image = &ddb["OldImage"];
            match (
                by_ttl,
                attr(image, "sk"),
                attr(image, "tenant_id"),
                attr(image, "link_id"),
            ) {
                (true, Some("EXPIRY"), Some(t), Some(l)) => {
                    match (TenantId::parse(t), LinkId::parse(l)) {
                        (Some(tenant), Some(link)) => Work::Expired { tenant, link },
                        _ => Work::Nothing,
                    }
                }
                _ => Work::Nothing,
            }
        }
        _ => Work::Nothing,
    }
}

/// Writes `link.expired` once, if the link was still waiting when it expired.
async fn announce_expiry(store: &Store, tenant: &TenantId, id: &LinkId) -> Result<(), StoreError> {
    let Some(link) = link::get(store, tenant, id).await? else {
        return Ok(());
    };
    if link.status_at(time::now()) != Status::Expired {
        return Ok(());
    }
    let now = time::format(&time::now());
    let items = vec![
        store.update_tx(
            link::item_key(id),
            "SET expiry_announced_at = :now",
            &format!(
                "attribute_not_exists(expiry_announced_at) AND {}",
                link::OPEN
            ),
            &link::with_open_values(&[(":now", s(&now))]),
            &[link::STATUS_NAME],
        )?,
        event::outbox(
            store,
            tenant,
            event::LINK_EXPIRED,
            json!({"link_id": link.id, "connection_id": link.connection_id, "consumer_id": link.consumer_id,
                   "expires_at": time::format(&link.expires_at)}),
        )?,
    ];
    // Cancelled: announced already (a redelivered record) or used meanwhile.
    let _: TxOutcome = store.transact(items).await?;
    Ok(())
}

impl Relay {
    /// Publishes `entries` (record index, entry); answers the indexes that still failed.
    async fn publish(&self, entries: Vec<(usize, PutEventsRequestEntry)>) -> Vec<usize> {
        let mut failed = Vec::new();
        for chunk in entries.chunks(PUT_EVENTS_MAX) {
            let mut pending: Vec<(usize, PutEventsRequestEntry)> = chunk.to_vec();
            for attempt in 0..PUBLISH_ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1))).await;
                }
                let sent = self
                    .events
                    .put_events()
                    .set_entries(Some(pending.iter().map(|(_, e)| e.clone()).collect()))
                    .send()
                    .await;
                pending = match sent {
                    Ok(out) => pending
                        .into_iter()
                        .zip(out.entries())
                        .filter(|(_, result)| result.error_code().is_some())
                        .map(|((i, e), result)| {
                            tracing::warn!(record = i, code = ?result.error_code(), "EventBridge refused an entry");
                            (i, e)
                        })
                        .collect(),
                    Err(e) => {
                        tracing::warn!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e), "PutEvents failed");
                        pending
                    }
                };
                if pending.is_empty() {
                    break;
                }
            }
            failed.extend(pending.into_iter().map(|(i, _)| i));
        }
        failed
    }

    /// One stream batch. Answers the partial-batch response Lambda expects.
    #[tracing::instrument(skip_all, fields(records))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let records = event.payload["Records"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        tracing::Span::current().record("records", records.len());
        let mut failed: Vec<usize> = Vec::new();
        let mut entries = Vec::new();
        let mut counted = Vec::new();
        for (i, record) in records.iter().enumerate() {
            match classify(record) {
                Work::Publish { kind, detail } => {
                    counted.extend(
                        serde_json::from_str::<Value>(&detail)
                            .ok()
                            .as_ref()
                            .and_then(stats::of_event),
                    );
                    entries.push((
                        i,
                        PutEventsRequestEntry::builder()
                            .source(SOURCE)
                            .detail_type(kind)
                            .detail(detail)
                            .event_bus_name(&self.bus)
                            .build(),
                    ))
                }
                Work::Count(c) => counted.push(c),
                Work::Expired { tenant, link } => {
                    if let Err(e) = announce_expiry(&self.store, &tenant, &link).await {
                        tracing::warn!(error = %e, "could not announce an expired link");
                        failed.push(i);
                    }
                }
                Work::Announce {
                    kind,
                    tenant,
                    data,
                    id,
                    at,
                } => {
                    // The event id derives from the link and the record's moment: a
                    // redelivered record writes nothing new.
                    let written = announcement_id(&id, kind, &at)
                        .ok_or_else(|| StoreError::Corrupt("link id".into()))
                        .and_then(|eid| event::outbox_as(&self.store, &tenant, &eid, kind, data));
                    let outcome = match written {
                        Ok(item) => self.store.transact(vec![item]).await.map(|_| ()),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = outcome {
                        tracing::warn!(error = %e, kind, "could not announce a link event");
                        failed.push(i);
                    }
                }
                Work::Nothing => {}
            }
        }
        // Counted beside the publishing, once each (a record seen again finds its marker); a
        // count lost to an error is the overview's loss alone, so it never holds the stream up.
        let (unpublished, recorded) =
            tokio::join!(self.publish(entries), stats::record(&self.store, &counted));
        failed.extend(unpublished);
        if let Err(e) = recorded {
            tracing::error!(error = %e, "console counts not recorded");
        }
        // Lambda resumes the stream at the earliest reported record.
        let first = failed.into_iter().min();
        let failures: Vec<Value> = first
            .and_then(|i| records.get(i))
            .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
            .map(|seq| vec![json!({"itemIdentifier": seq})])
            .unwrap_or_default();
        if !failures.is_empty() {
            tracing::warn!(
                ?failures,
                "batch partly failed; the stream will be retried from there"
            );
        }
        Ok(json!({"batchItemFailures": failures}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(sk: &str) -> Value {
        json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1", "NewImage": {
            "pk": {"S": "T#x"}, "sk": {"S": sk}, "type": {"S": "connection.created"}, "detail": {"S": "{\"id\":\"evt_1\"}"}}}})
    }

    fn removal(principal: &str) -> Value {
        json!({"eventName": "REMOVE", "userIdentity": {"type": "Service", "principalId": principal},
               "dynamodb": {"SequenceNumber": "2", "OldImage": {
                 "pk": {"S": "LINK#lnk_0193a1b2c3d47000800000000000000d"}, "sk": {"S": "EXPIRY"},
                 "tenant_id": {"S": "ten_0193a1b2c3d47000800000000000000a"},
                 "link_id": {"S": "lnk_0193a1b2c3d47000800000000000000d"}}}})
    }

    #[test]
    fn outbox_inserts_are_published() {
        assert_eq!(
            classify(&insert("EVT#evt_1")),
            Work::Publish {
                kind: "connection.created".into(),
                detail: "{\"id\":\"evt_1\"}".into()
            }
        );
        assert_eq!(classify(&insert("CONSUMER#csm_1")), Work::Nothing);
    }

    #[test]
    fn a_new_link_is_counted_for_its_day() {
        let link = |id: &str| {
            json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "4", "NewImage": {
                "pk": {"S": format!("LINK#{id}")}, "sk": {"S": "LINK"}, "id": {"S": id},
                "tenant_id": {"S": "ten_0193a1b2c3d47000800000000000000a"},
                "created_at": {"S": "2026-11-22T10:00:00Z"}}}})
        };
        let Work::Count(c) = classify(&link("lnk_0193a1b2c3d47000800000000000000d")) else {
            panic!("a new link is counted");
        };
        assert_eq!(c.daily, vec![(stats::Daily::LinksCreated, 1)]);
        assert_eq!(c.day.to_string(), "2026-11-22");
        assert_eq!(c.marker, "lnk_0193a1b2c3d47000800000000000000d");
        assert_eq!(classify(&link("not-a-link-id")), Work::Nothing);
    }

    fn link_update(old_opened: Option<&str>, new_opened: Option<&str>) -> Value {
        let image = |opened: Option<&str>| {
            let mut i = json!({"pk": {"S": "LINK#lnk_0193a1b2c3d47000800000000000000d"}, "sk": {"S": "LINK"},
                "id": {"S": "lnk_0193a1b2c3d47000800000000000000d"},
                "tenant_id": {"S": "ten_0193a1b2c3d47000800000000000000a"},
                "connection_id": {"S": "conn_0193a1b2c3d47000800000000000000c"}});
            if let Some(at) = opened {
                i["opened_at"] = json!({"S": at});
            }
            i
        };
        json!({"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "3",
               "OldImage": image(old_opened), "NewImage": image(new_opened)}})
    }

    #[test]
    fn only_a_links_first_open_announces_it() {
        match classify(&link_update(None, Some("2026-11-22T10:00:00.000Z"))) {
            Work::Announce {
                kind: event::LINK_OPENED,
                tenant,
                data,
                id,
                at,
            } => {
                assert_eq!(at, "2026-11-22T10:00:00.000Z");
                assert_eq!(tenant.as_str(), "ten_0193a1b2c3d47000800000000000000a");
                assert_eq!(id.as_str(), "lnk_0193a1b2c3d47000800000000000000d");
                assert_eq!(
                    data["connection_id"],
                    "conn_0193a1b2c3d47000800000000000000c"
                );
                assert_eq!(data["opened_at"], "2026-11-22T10:00:00.000Z");
                assert_eq!(data["consumer_id"], Value::Null);
            }
            other => panic!("{other:?}"),
        }
        let again = link_update(
            Some("2026-11-22T10:00:00.000Z"),
            Some("2026-11-22T10:00:00.000Z"),
        );
        assert_eq!(classify(&again), Work::Nothing);
        assert_eq!(classify(&link_update(None, None)), Work::Nothing);
    }

    fn failures(old: u64, new: u64) -> Value {
        let mut record = link_update(
            Some("2026-11-22T10:00:00.000Z"),
            Some("2026-11-22T10:00:00.000Z"),
        );
        let error = json!({"M": {"at": {"S": "2026-11-22T10:01:00.000Z"}, "code": {"S": "validation_error"},
                                 "fields": {"L": [{"S": "secret_key"}]}}});
        for (image, count) in [("OldImage", old), ("NewImage", new)] {
            if count > 0 {
                record["dynamodb"][image]["failed_attempts"] = json!({"N": count.to_string()});
                record["dynamodb"][image]["last_error"] = error.clone();
            }
        }
        record
    }

    #[test]
    fn the_third_refused_submission_announces_a_failed_link_once() {
        match classify(&failures(2, 3)) {
            Work::Announce {
                kind: event::LINK_FAILED,
                data,
                id,
                at,
                ..
            } => {
                // when the last refused submission happened
                assert_eq!(at, "2026-11-22T10:01:00.000Z");
                assert_eq!(id.as_str(), "lnk_0193a1b2c3d47000800000000000000d");
                assert_eq!(data["failed_attempts"], 3);
                assert_eq!(data["last_error_fields"], json!(["secret_key"]));
            }
            other => panic!("{other:?}"),
        }
        for (old, new) in [(0, 1), (1, 2), (3, 4), (7, 8)] {
            assert_eq!(
                classify(&failures(old, new)),
                Work::Nothing,
                "{old} → {new}"
            );
        }
    }

    #[test]
    fn a_links_two_announcements_have_distinct_stable_ids() {
        let link = LinkId::parse("lnk_0193a1b2c3d47000800000000000000d").unwrap();
        let at = "2026-11-22T10:00:00.000Z";
        let opened = announcement_id(&link, event::LINK_OPENED, at).unwrap();
        let failed = announcement_id(&link, event::LINK_FAILED, at).unwrap();
        // the moment's milliseconds, then the link's random bits
        let ms = time::parse(at).unwrap().timestamp_millis();
        assert_eq!(opened.millis(), ms);
        assert_eq!(
            opened.as_str(),
            format!("evt_{ms:012x}7000800000000000000d")
        );
        assert_eq!(
            failed.as_str(),
            format!("evt_{ms:012x}7000800000000000000c")
        );
        assert_eq!(announcement_id(&link, event::LINK_FAILED, at), Some(failed));
        assert_eq!(announcement_id(&link, event::LINK_OPENED, "soon"), None);
    }

    #[test]
    fn only_ttl_removals_of_expiry_markers_announce_expiry() {
        assert!(matches!(
            classify(&removal("dynamodb.amazonaws.com")),
            Work::Expired { .. }
        ));
        assert_eq!(classify(&removal("arn:aws:iam::123:role/x")), Work::Nothing);
        let mut modify = removal("dynamodb.amazonaws.com");
        modify["eventName"] = json!("MODIFY");
        assert_eq!(classify(&modify), Work::Nothing);
        assert_eq!(classify(&json!({})), Work::Nothing);
    }
}
