//! What reminders write on a link's item: the sparse index of due reminders (`gsi2pk =
//! REMIND#<shard>`, `gsi2sk` = the next reminder's time), the claim of a send (the email's
//! token hash, `last_sent_at`), and the record of what was sent. Every claim is conditional,
//! so overlapping sweeps or repeated requests never send twice.

use super::{MAX_EMAILS, MIN_INTERVAL_SECONDS};
use crate::id::LinkId;
use crate::link::{self, Link, Sent};
use crate::secret::Secret;
use crate::store::{n, s, Item, Store, StoreError};
use crate::time::{self, Timestamp};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

/// How the index moves on from `seen`: to the next planned reminder, or out of the index.
pub(super) struct Advance {
    pub(super) rest: Vec<String>,
}

impl Advance {
    pub(super) fn from(link: &Link, seen: &str) -> Advance {
        Advance {
            rest: link
                .reminders_planned
                .iter()
                .filter(|t| t.as_str() > seen)
                .cloned()
                .collect(),
        }
    }

    /// The update expression, with `also` (`, a = :b…`) set in the same write.
    pub(super) fn expression(&self, also: &str) -> String {
        match self.rest.first() {
            Some(_) => format!("SET reminders_planned = :rest, gsi2sk = :next{also}"),
            None => format!("SET reminders_planned = :rest{also} REMOVE gsi2pk, gsi2sk"),
        }
    }

    pub(super) fn values(&self, seen: &str) -> Vec<(&'static str, AttributeValue)> {
        let mut v = vec![
            (
                ":rest",
                AttributeValue::L(self.rest.iter().map(s).collect()),
            ),
            (":seen", s(seen)),
        ];
        if let Some(next) = self.rest.first() {
            v.push((":next", s(next)));
        }
        v
    }
}

fn token_hash_value(token: &Secret) -> AttributeValue {
    AttributeValue::L(vec![s(link::token_hash(token.expose()))])
}

/// The links whose next reminder is due by `upto`.
pub async fn due(store: &Store, upto: &str) -> Result<Vec<Item>, StoreError> {
    store.due_all("REMIND#", upto).await
}

/// A closed link leaves the index, if the sweep that saw it at `seen` is first.
pub async fn leave_index(store: &Store, id: &LinkId, seen: &str) -> Result<bool, StoreError> {
    store
        .update(
            link::item_key(id),
            "SET reminders_planned = :none REMOVE gsi2pk, gsi2sk",
            "gsi2sk = :seen",
            &[(":none", AttributeValue::L(vec![])), (":seen", s(seen))],
            &[],
        )
        .await
}

/// The index moves on without an email, if the sweep that saw it at `seen` is first.
pub async fn move_on(
    store: &Store,
    id: &LinkId,
    advance: &Advance,
    seen: &str,
) -> Result<bool, StoreError> {
    store
        .update(
            link::item_key(id),
            &advance.expression(""),
            "gsi2sk = :seen",
            &advance.values(seen),
            &[],
        )
        .await
}

/// A scheduled reminder's claim: the index moves on and the email's token becomes valid, only
/// for the sweep that saw it at `seen`, on an open link under the cap.
pub async fn claim_scheduled(
    store: &Store,
    id: &LinkId,
    advance: &Advance,
    seen: &str,
    token: &Secret,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut values = advance.values(seen);
    values.extend([
        (":hash", token_hash_value(token)),
        (":none", AttributeValue::L(vec![])),
        (":now", n(now.timestamp())),
        (":max", n(MAX_EMAILS)),
    ]);
    values.extend(link::open_values());
    store
        .update(
            link::item_key(id),
            &advance.expression(
                ", email_token_hashes = list_append(if_not_exists(email_token_hashes, :none), :hash), \
                 last_sent_at = :now",
            ),
            &format!(
                "gsi2sk = :seen AND {} \
                 AND (attribute_not_exists(email_token_hashes) OR size(email_token_hashes) < :max)",
                link::OPEN
            ),
            &values,
            &[link::STATUS_NAME],
        )
        .await
}

/// A reminder that could not go out goes back where the next sweep finds it.
pub async fn put_back(
    store: &Store,
    id: &LinkId,
    planned: &[String],
    seen: &str,
) -> Result<(), StoreError> {
    store
        .update(
            link::item_key(id),
            "SET reminders_planned = :back, gsi2pk = :pk, gsi2sk = :seen",
            crate::store::EXISTS,
            &[
                (":back", AttributeValue::L(planned.iter().map(s).collect())),
                (":pk", s(link::reminder_partition(id))),
                (":seen", s(seen)),
            ],
            &[],
        )
        .await?;
    Ok(())
}

/// A requested send's claim: the link usable, not emailed in the last five minutes, under the
/// cap; the email's token becomes valid with it.
pub async fn claim_request(
    store: &Store,
    id: &LinkId,
    token: &Secret,
    now: Timestamp,
) -> Result<bool, StoreError> {
    store
        .update(
            link::item_key(id),
            "SET email_token_hashes = list_append(if_not_exists(email_token_hashes, :none), :hash), \
             last_sent_at = :now",
            &format!(
                "{} AND expires_at > :at \
                 AND (attribute_not_exists(last_sent_at) OR last_sent_at <= :cutoff) \
                 AND (attribute_not_exists(email_token_hashes) OR size(email_token_hashes) < :max)",
                link::OPEN
            ),
            &link::with_open_values(&[
                (":hash", token_hash_value(token)),
                (":none", AttributeValue::L(vec![])),
                (":now", n(now.timestamp())),
                (":at", s(time::format(&now))),
                (":cutoff", n(now.timestamp() - MIN_INTERVAL_SECONDS)),
                (":max", n(MAX_EMAILS)),
            ]),
            &[link::STATUS_NAME],
        )
        .await
}

/// A claimed send that did not go out frees the rate limit again (the unused token is
/// harmless), if nothing claimed since.
pub async fn unclaim(
    store: &Store,
    link: &Link,
    claimed_at: Timestamp,
) -> Result<bool, StoreError> {
    let (restore, mut values) = match link.last_sent_at {
        Some(previous) => (
            "SET last_sent_at = :previous",
            vec![(":previous", n(previous))],
        ),
        None => ("REMOVE last_sent_at", vec![]),
    };
    values.push((":now", n(claimed_at.timestamp())));
    store
        .update(
            link::item_key(&link.id),
            restore,
            "last_sent_at = :now",
            &values,
            &[],
        )
        .await
}

/// The write that records a sent email on the link.
pub fn sent_tx(store: &Store, id: &LinkId, sent: &Sent) -> Result<TransactWriteItem, StoreError> {
    let entry = serde_dynamo::to_attribute_value(vec![sent])
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.update_tx(
        link::item_key(id),
        "SET reminders_sent = list_append(if_not_exists(reminders_sent, :none), :entry)",
        crate::store::EXISTS,
        &[(":entry", entry), (":none", AttributeValue::L(vec![]))],
        &[],
    )
}
