//! The one DynamoDB table: client, key layout, and the few primitives every resource uses.
//!
//! Key layout (`pk` / `sk`):
//! - `T#<tenant>` / `TENANT`: the tenant
//! - `T#<tenant>` / `CONSUMER#<id>`: a consumer (listed newest first by `sk`)
//! - `T#<tenant>` / `CONSUMER_REF#<internal_reference>`: uniqueness guard for a reference
//! - `T#<tenant>` / `IDEM#<operation>#<key>`: an idempotent response, expires via `ttl`
//! - `KEY#<sha256 of secret>` / `KEY`: an API key, listed per tenant through `gsi1`
//!   (`gsi1pk = T#<tenant>#KEYS`, `gsi1sk = <key id>`)

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;
/// One write of a transaction, as the domain passes them around (built by the `repo.rs` files).
pub type TxItem = TransactWriteItem;

pub const GSI1: &str = "gsi1";
/// Sparse index the scheduled sweeps walk: refreshable OAuth connections by token expiry
/// (`gsi2pk = REFRESH#<shard>`, `gsi2sk = expires_at`) and open links by next reminder
/// (`REMIND#<shard>`, next reminder time).
pub const GSI2: &str = "gsi2";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB call failed: {0}")]
    Sdk(String),
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn sdk<E, R>(e: SdkError<E, R>) -> StoreError
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        StoreError::Sdk(DisplayErrorContext(&e).to_string())
    }
}

/// How a `TransactWriteItems` call ended.
#[derive(Debug)]
pub enum TxOutcome {
    Committed,
    /// One code per item, in request order (`"None"` for items that were fine).
    Cancelled(Vec<String>),
}

impl TxOutcome {
    /// Whether item `index` failed its condition.
    pub fn failed_condition(&self, index: usize) -> bool {
        matches!(self, TxOutcome::Cancelled(codes) if codes.get(index).is_some_and(|c| c == "ConditionalCheckFailed"))
    }

    /// Whether the last item failed its condition (a check appended after the rest).
    pub fn failed_last_condition(&self) -> bool {
        matches!(self, TxOutcome::Cancelled(codes) if codes.last().is_some_and(|c| c == "ConditionalCheckFailed"))
    }
}

/// The condition that makes a put create only: no item has this key yet.
pub const IS_NEW: &str = "attribute_not_exists(pk)";
/// The condition that makes a write touch only an item that is there.
pub const EXISTS: &str = "attribute_exists(pk)";

/// How many times an optimistic write reads again and retries before it gives up.
pub const WRITE_ATTEMPTS: usize = 3;
/// `BatchGetItem`'s most keys per call.
pub const BATCH_GET_MAX: usize = 100;
/// How many times a batch read asks for what DynamoDB left unprocessed.
pub const BATCH_ATTEMPTS: u32 = 4;

/// What one attempt of an optimistic write decided, from the version it read.
pub enum Step<T> {
    /// Nothing to write: the answer as things are.
    Done(T),
    /// Write these items (conditioned on what was read); `T` is the answer if they commit.
    Write(Vec<TransactWriteItem>, T),
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    event_retention: std::time::Duration,
}

pub fn tenant_pk(tenant: &crate::id::TenantId) -> String {
    format!("T#{tenant}")
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
            event_retention: crate::config::DEFAULT_EVENT_RETENTION,
        }
    }

    /// How long the events written through this store stay readable (their `ttl`).
    pub fn with_event_retention(mut self, retention: std::time::Duration) -> Self {
        self.event_retention = retention;
        self
    }

    pub fn event_retention(&self) -> std::time::Duration {
        self.event_retention
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
        serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    pub fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
        serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Strongly consistent read of one item.
    pub async fn get(
        &self,
        pk: impl Into<String>,
        sk: impl Into<String>,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(out.item)
    }

    /// Optimistic concurrency, written once: `decide` looks at (a copy of) `current` and says
    /// what to write; when the transaction is cancelled (another writer got in first),
    /// `reload` reads again (it sees why the write was cancelled, to stop or change course)
    /// and `decide` runs on what it read, at most [`WRITE_ATTEMPTS`] times in all. `Ok(None)`
    /// when every attempt lost its race.
    ///
    /// Plain closures returning futures (`move |c| async move {…}`), not async closures:
    /// those make the handlers' futures fail to prove `Send` for every lifetime.
    pub async fn retry_versioned<S, T, E, D, DF, R, RF>(
        &self,
        mut current: S,
        mut reload: R,
        mut decide: D,
    ) -> Result<Option<T>, E>
    where
        S: Clone,
        E: From<StoreError>,
        D: FnMut(S) -> DF,
        DF: std::future::Future<Output = Result<Step<T>, E>>,
        R: FnMut(S, TxOutcome) -> RF,
        RF: std::future::Future<Output = Result<S, E>>,
    {
        for _ in 0..WRITE_ATTEMPTS {
            match decide(current.clone()).await? {
                Step::Done(answer) => return Ok(Some(answer)),
                Step::Write(items, answer) => match self.transact(items).await? {
                    TxOutcome::Committed => return Ok(Some(answer)),
                    cancelled => current = reload(current, cancelled).await?,
                },
            }
        }
        Ok(None)
    }

    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<TxOutcome, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(TxOutcome::Committed),
            Err(SdkError::ServiceError(ctx)) => match ctx.into_err() {
                TransactWriteItemsError::TransactionCanceledException(e) => {
                    Ok(TxOutcome::Cancelled(
                        e.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_string())
                            .collect(),
                    ))
                }
                other => Err(StoreError::Sdk(format!(
                    "{}: {}",
                    other.code().unwrap_or("unknown"),
                    other.message().unwrap_or_default()
                ))),
            },
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// One page of a partition's items whose `sk` starts with `prefix`, newest (highest `sk`)
    /// first, starting after `after`. Reads one item more than asked so the next cursor is
    /// only offered when there really is a next page.
    pub async fn page(
        &self,
        pk: &str,
        prefix: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(after) = after {
            query = query.set_exclusive_start_key(Some(key(pk, after)));
        }
        let out = query.send().await.map_err(StoreError::sdk)?;
        let mut items = out.items.unwrap_or_default();
        let next = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .and_then(|i| i.get("sk"))
                .and_then(|v| v.as_s().ok())
                .cloned()
        } else {
            None
        };
        Ok((items, next))
    }
}

fn values(pairs: &[(&str, AttributeValue)]) -> Option<HashMap<String, AttributeValue>> {
    (!pairs.is_empty()).then(|| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    })
}

fn attribute_names(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    (!pairs.is_empty()).then(|| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

impl Store {
    /// A conditional put inside a transaction.
    pub fn put_tx(
        &self,
        item: Item,
        condition: &str,
        vals: &[(&str, AttributeValue)],
    ) -> Result<TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values(vals))
            .build()
            .map_err(|e| StoreError::Sdk(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A delete inside a transaction, conditional when `condition` is given.
    pub fn delete_tx(
        &self,
        key: Item,
        condition: Option<&str>,
        vals: &[(&str, AttributeValue)],
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(String::from))
            .set_expression_attribute_values(values(vals))
            .build()
            .map_err(|e| StoreError::Sdk(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

impl Store {
    /// One page of a `gsi1` partition, newest (highest `gsi1sk`) first, starting after the
    /// full key `start` (index and table keys). `true` when there is a further page.
    pub async fn index_page(
        &self,
        gsi1pk: &str,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(gsi1pk))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let mut items = out.items.unwrap_or_default();
        let more = items.len() > limit;
        items.truncate(limit);
        Ok((items, more))
    }

    /// A conditional update inside a transaction.
    pub fn update_tx(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        vals: &[(&str, AttributeValue)],
        names: &[(&str, &str)],
    ) -> Result<TransactWriteItem, StoreError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_values(values(vals))
            .set_expression_attribute_names(attribute_names(names))
            .build()
            .map_err(|e| StoreError::Sdk(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A condition on another item inside a transaction.
    pub fn check_tx(&self, key: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        self.check_tx_with(key, condition, &[], &[])
    }

    /// A condition with values and attribute names on another item inside a transaction.
    pub fn check_tx_with(
        &self,
        key: Item,
        condition: &str,
        vals: &[(&str, AttributeValue)],
        names: &[(&str, &str)],
    ) -> Result<TransactWriteItem, StoreError> {
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_values(values(vals))
            .set_expression_attribute_names(attribute_names(names))
            .build()
            .map_err(|e| StoreError::Sdk(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Every item of a partition whose `sk` starts with `prefix`, newest first, all pages.
    pub async fn page_all(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (items, next) = self.page(pk, prefix, 100, after.as_deref()).await?;
            out.extend(items);
            match next {
                Some(sk) => after = Some(sk),
                None => return Ok(out),
            }
        }
    }

    /// Every item of `keys` that exists (eventually consistent), 100 keys a call; keys
    /// DynamoDB leaves unprocessed are asked again, at most [`BATCH_ATTEMPTS`] times, so the
    /// calls are bounded by the keys' number, never by what the items hold.
    pub async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = chunk.to_vec();
            for attempt in 0..BATCH_ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                let wanted = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .build()
                    .map_err(|e| StoreError::Sdk(e.to_string()))?;
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, wanted)
                    .send()
                    .await
                    .map_err(StoreError::sdk)?;
                if let Some(items) = answer.responses.and_then(|mut r| r.remove(&self.table)) {
                    out.extend(items);
                }
                pending = answer
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Sdk(format!(
                    "{} keys still unprocessed after {BATCH_ATTEMPTS} batch reads",
                    pending.len()
                )));
            }
        }
        Ok(out)
    }

    /// Puts an item that must not exist yet; `false` when it already did.
    pub async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(IS_NEW)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(ctx))
                if ctx.err().is_conditional_check_failed_exception() =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// One `UpdateItem` with no condition (counters: an `ADD` creates what is missing).
    pub async fn update_always(
        &self,
        key: Item,
        update: &str,
        vals: &[(&str, AttributeValue)],
        names: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .set_expression_attribute_values(values(vals))
            .set_expression_attribute_names(attribute_names(names))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    /// One conditional `UpdateItem`; `false` when the condition did not hold.
    pub async fn update(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        vals: &[(&str, AttributeValue)],
        names: &[(&str, &str)],
    ) -> Result<bool, StoreError> {
        let done = self
            .update_item(key, update, condition, vals, names, ReturnValue::None)
            .await?;
        Ok(done.is_some())
    }

    /// One conditional `UpdateItem` that answers the item as it is afterwards: a read and a
    /// write in one round trip (`None` when absent or the condition failed).
    pub async fn update_returning(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        vals: &[(&str, AttributeValue)],
        names: &[(&str, &str)],
    ) -> Result<Option<Item>, StoreError> {
        let done = self
            .update_item(key, update, condition, vals, names, ReturnValue::AllNew)
            .await?;
        Ok(done.and_then(|out| out.attributes))
    }

    /// `None` when the condition did not hold.
    async fn update_item(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        vals: &[(&str, AttributeValue)],
        names: &[(&str, &str)],
        returning: ReturnValue,
    ) -> Result<Option<aws_sdk_dynamodb::operation::update_item::UpdateItemOutput>, StoreError>
    {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_values(values(vals))
            .set_expression_attribute_names(attribute_names(names))
            .return_values(returning)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(out)),
            Err(SdkError::ServiceError(ctx))
                if ctx.err().is_conditional_check_failed_exception() =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// Deletes an item if `condition` holds and returns what it was: a single-use read in one
    /// round trip (`None` when absent or the condition failed).
    pub async fn take(
        &self,
        key: Item,
        condition: &str,
        vals: &[(&str, AttributeValue)],
    ) -> Result<Option<Item>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_values(values(vals))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.attributes),
            Err(SdkError::ServiceError(ctx))
                if ctx.err().is_conditional_check_failed_exception() =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// Every item of the sixteen `gsi2` partitions `<prefix><hex digit>` with `gsi2sk <= upto`
    /// (the sweeps' sparse indexes, sharded so no partition is hot).
    pub async fn due_all(&self, prefix: &str, upto: &str) -> Result<Vec<Item>, StoreError> {
        let mut due = Vec::new();
        for shard in "0123456789abcdef".chars() {
            let mut start = None;
            loop {
                let (items, next) = self
                    .due_page(&format!("{prefix}{shard}"), upto, start)
                    .await?;
                due.extend(items);
                match next {
                    Some(k) => start = Some(k),
                    None => break,
                }
            }
        }
        Ok(due)
    }

    /// One page of a `gsi2` partition with `gsi2sk <= upto`, earliest first.
    pub async fn due_page(
        &self,
        gsi2pk: &str,
        upto: &str,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI2)
            .key_condition_expression("gsi2pk = :pk AND gsi2sk <= :upto")
            .expression_attribute_values(":pk", s(gsi2pk))
            .expression_attribute_values(":upto", s(upto))
            .limit(100)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }
}

/// A kind of item alone in its partition, found by key in one read: `<kind>#<id>` /
/// `<kind>`, the value's attributes beside the keys, and `ttl` so DynamoDB removes it once
/// it is over (readers still check the value's own times: TTL removal may lag by hours).
pub struct Single(pub &'static str);

#[derive(serde::Serialize, serde::Deserialize)]
struct Keyed<T> {
    pk: String,
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    value: T,
}

impl Single {
    fn pk(&self, id: &str) -> String {
        format!("{}#{id}", self.0)
    }

    pub fn key(&self, id: &str) -> Item {
        key(self.pk(id), self.0)
    }

    /// The item of `value` under `id`, removed by TTL at `ttl`.
    fn item<T: serde::Serialize>(&self, id: &str, ttl: i64, value: &T) -> Result<Item, StoreError> {
        Store::to_item(&Keyed {
            pk: self.pk(id),
            sk: self.0.to_owned(),
            ttl,
            value,
        })
    }

    /// Puts a new one; an `id` already taken is a fault (ids and hashes are random).
    pub async fn put_new<T: serde::Serialize>(
        &self,
        store: &Store,
        id: &str,
        ttl: i64,
        value: &T,
    ) -> Result<(), StoreError> {
        if store.put_new(self.item(id, ttl, value)?).await? {
            Ok(())
        } else {
            Err(StoreError::Corrupt(format!("a new {} was taken", self.0)))
        }
    }

    pub fn put_new_tx<T: serde::Serialize>(
        &self,
        store: &Store,
        id: &str,
        ttl: i64,
        value: &T,
    ) -> Result<TransactWriteItem, StoreError> {
        store.put_tx(self.item(id, ttl, value)?, IS_NEW, &[])
    }

    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        store: &Store,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        store
            .get(self.pk(id), self.0)
            .await?
            .map(|item| Store::from_item::<Keyed<T>>(item).map(|k| k.value))
            .transpose()
    }

    /// Deletes a one-time item only if it still holds `token_hash` (the one read): of two
    /// uses racing, one commits.
    pub fn spend_tx(
        &self,
        store: &Store,
        id: &str,
        token_hash: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        store.delete_tx(
            self.key(id),
            Some("token_hash = :hash"),
            &[(":hash", s(token_hash))],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Thing {
        token_hash: String,
        uses: u32,
    }

    #[test]
    fn a_single_item_holds_its_keys_ttl_and_value_side_by_side() {
        let thing = Thing {
            token_hash: "abc".into(),
            uses: 2,
        };
        let item = Single("THG").item("id1", 1_700_000_000, &thing).unwrap();
        assert_eq!(item["pk"], s("THG#id1"));
        assert_eq!(item["sk"], s("THG"));
        assert_eq!(item["ttl"], n(1_700_000_000));
        assert_eq!(item["token_hash"], s("abc"));
        assert_eq!(item["uses"], n(2));
        assert_eq!(item.len(), 5);
        assert_eq!(Single("THG").key("id1"), key("THG#id1", "THG"));
        let back: Keyed<Thing> = Store::from_item(item).unwrap();
        assert_eq!(back.value, thing);
    }
}
