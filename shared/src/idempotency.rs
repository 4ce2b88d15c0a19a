//! `Idempotency-Key` on create routes: the first response is stored in the same transaction
//! as the write it describes, so a retry either replays it or, with a different body, is
//! refused. Records expire after 24 hours.

use crate::error::ApiError;
use crate::id::TenantId;
use crate::seal::Sealer;
use crate::secret::sha256_hex;
use crate::store::{n, s, tenant_pk, Store, StoreError};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde_json::Value;

pub const HEADER: &str = "idempotency-key";
const RETENTION_SECONDS: i64 = 24 * 60 * 60;

pub struct Idempotency {
    sk: String,
    fingerprint: String,
}

/// What an operation answers: its status and body, fresh or replayed from the record of an
/// earlier request with the same key. Boundaries render it (`http::answer`).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

impl Answer {
    pub fn created(body: Value) -> Answer {
        Answer {
            status: 201,
            body,
            replayed: false,
        }
    }

    pub fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body,
            replayed: false,
        }
    }
}

/// JSON with object keys sorted at every level, so formatting and key order don't matter.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

impl Idempotency {
    /// The caller's key for `operation`, if it sent one (`raw`, or `present` without a
    /// readable value); a malformed key is a 400.
    pub fn parse(
        raw: Option<&str>,
        present: bool,
        operation: &str,
        body: &Value,
    ) -> Result<Option<Idempotency>, ApiError> {
        let Some(raw) = raw else {
            // Present but not visible ASCII is refused rather than ignored.
            return match present {
                true => Err(bad_key()),
                false => Ok(None),
            };
        };
        if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(bad_key());
        }
        Ok(Some(Idempotency {
            sk: format!("IDEM#{operation}#{raw}"),
            fingerprint: sha256_hex(format!("{operation}\n{}", canonical(body)).as_bytes()),
        }))
    }

    /// The record to write with the operation's own items. A response that carries a secret
    /// (a link's token) is kept sealed, never as plain text.
    pub async fn record(
        &self,
        store: &Store,
        tenant: &TenantId,
        status: u16,
        body: &Value,
        sealer: Option<&Sealer>,
    ) -> Result<TransactWriteItem, ApiError> {
        let (attribute, stored) = match sealer {
            None => ("body", body.to_string()),
            Some(sealer) => (
                "body_sealed",
                sealer
                    .seal(tenant.as_str(), &self.sk, body.to_string().as_bytes())
                    .await
                    .map_err(ApiError::internal)?,
            ),
        };
        let now = chrono::Utc::now().timestamp();
        let put = Put::builder()
            .table_name(store.table())
            .item("pk", s(tenant_pk(tenant)))
            .item("sk", s(&self.sk))
            .item("fingerprint", s(&self.fingerprint))
            .item("status", n(status))
            .item(attribute, s(stored))
            .item("ttl", n(now + RETENTION_SECONDS))
            .condition_expression(crate::store::IS_NEW)
            .build()
            .map_err(|e| ApiError::from(StoreError::Sdk(e.to_string())))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The stored response for this key, if there is one: replayed when the request is the
    /// same, a 409 when it is not.
    pub async fn replay(
        &self,
        store: &Store,
        tenant: &TenantId,
        sealer: Option<&Sealer>,
    ) -> Result<Option<Answer>, ApiError> {
        let Some(item) = store.get(tenant_pk(tenant), &self.sk).await? else {
            return Ok(None);
        };
        let field = |name: &str| item.get(name).and_then(|v| v.as_s().ok().or(v.as_n().ok()));
        if field("fingerprint").map(String::as_str) != Some(self.fingerprint.as_str()) {
            return Err(ApiError::conflict(
                "this Idempotency-Key was already used with a different request",
            ));
        }
        let status = field("status")
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| ApiError::internal("idempotency record without status"))?;
        let text = match (field("body"), field("body_sealed"), sealer) {
            (Some(plain), _, _) => plain.clone(),
            (None, Some(sealed), Some(sealer)) => sealer
                .open(tenant.as_str(), &self.sk, sealed)
                .await
                .map_err(ApiError::internal)?
                .expose()
                .to_owned(),
            _ => {
                return Err(ApiError::internal(
                    "idempotency record without a readable body",
                ))
            }
        };
        let body: Value = serde_json::from_str(&text).map_err(ApiError::internal)?;
        Ok(Some(Answer {
            status,
            body,
            replayed: true,
        }))
    }
}

/// Commits an operation's `items` together with its idempotency record, so either both
/// exist or neither. Answers `answer` (or the one replayed), or the outcome of a transaction
/// that failed for the caller's own conditions, whose item indexes are those of `items`.
pub async fn commit(
    store: &Store,
    tenant: &TenantId,
    idempotency: Option<&Idempotency>,
    mut items: Vec<TransactWriteItem>,
    answer: Answer,
    sealer: Option<&Sealer>,
) -> Result<Result<Answer, crate::store::TxOutcome>, ApiError> {
    let record_index = items.len();
    if let Some(i) = idempotency {
        items.push(
            i.record(store, tenant, answer.status, &answer.body, sealer)
                .await?,
        );
    }
    let outcome = store.transact(items).await?;
    if let crate::store::TxOutcome::Committed = outcome {
        return Ok(Ok(answer));
    }
    if let Some(i) = idempotency {
        if outcome.failed_condition(record_index) {
            if let Some(replayed) = i.replay(store, tenant, sealer).await? {
                return Ok(Ok(replayed));
            }
        }
    }
    Ok(Err(outcome))
}

fn bad_key() -> ApiError {
    ApiError::field(
        "Idempotency-Key",
        "must be 1 to 255 visible ASCII characters",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_ignores_key_order_and_whitespace() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"q":2,"p":1}], "x": null}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(
            canonical(&json!({"a": [1, 2]})),
            canonical(&json!({"a": [2, 1]}))
        );
        assert_eq!(canonical(&json!({"k\"": "v"})), r#"{"k\"":"v"}"#);
    }
}
