//! OAuth states in the table: `OAUTH#<sha256 of the state>` / `STATE`, with `ttl` (reads
//! check `expires_at`); the state itself is never stored, nor the PKCE verifier in clear.

use super::state::Pending;
use crate::id::{ConnectionId, IntegrationId, LinkId, TenantId};
use crate::secret::{sha256_hex, Secret};
use crate::store::{key, n, s, Item, Store, StoreError};
use crate::time::{self, Timestamp};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde_json::Value;

const SK: &str = "STATE";

pub fn pk(state: &str) -> String {
    format!("OAUTH#{}", sha256_hex(state.as_bytes()))
}

/// The item that records a started flow, its verifier sealed.
pub fn put_tx(
    store: &Store,
    pk: &str,
    pending: &Pending,
    verifier_sealed: &str,
    expires_at: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = key(pk, SK);
    item.insert("link_id".into(), s(pending.link_id.as_str()));
    item.insert("tenant_id".into(), s(pending.tenant_id.as_str()));
    item.insert("connection_id".into(), s(pending.connection_id.as_str()));
    item.insert("integration_id".into(), s(pending.integration_id.as_str()));
    item.insert("redirect_uri".into(), s(&pending.redirect_uri));
    item.insert("verifier_sealed".into(), s(verifier_sealed));
    item.insert(
        "connection_fields".into(),
        s(Value::Object(pending.connection_fields.clone()).to_string()),
    );
    item.insert("expires_at".into(), s(time::format(&expires_at)));
    item.insert("ttl".into(), n(expires_at.timestamp()));
    if pending.direct {
        item.insert("direct".into(), AttributeValue::Bool(true));
    }
    if let Some(browser) = &pending.browser {
        item.insert("browser".into(), s(browser));
    }
    if let Some(url) = &pending.authorize_url {
        item.insert("authorize_url".into(), s(url));
    }
    store.put_tx(item, crate::store::IS_NEW, &[])
}

/// Whether a state that could not be taken or bound is still alive (then it is someone
/// else's) or gone. Only refusals pay for this read.
pub async fn alive(store: &Store, pk: &str, now: Timestamp) -> Result<bool, StoreError> {
    let now = time::format(&now);
    Ok(store.get(pk.to_owned(), SK).await?.is_some_and(|item| {
        item.get("expires_at")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|at| *at > now)
    }))
}

/// Deletes and answers the live state bound to `browser`.
pub async fn take(
    store: &Store,
    pk: &str,
    browser: &str,
    now: Timestamp,
) -> Result<Option<Item>, StoreError> {
    store
        .take(
            key(pk, SK),
            "attribute_exists(pk) AND expires_at > :now AND browser = :browser",
            &[(":now", s(time::format(&now))), (":browser", s(browser))],
        )
        .await
}

/// Binds a live direct-connect state of `link` to `browser` (unless another browser holds
/// it); answers where to send the browser.
pub async fn bind(
    store: &Store,
    pk: &str,
    link: &LinkId,
    browser: &str,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let bound = store
        .update_returning(
            key(pk, SK),
            "SET browser = :browser",
            "attribute_exists(authorize_url) AND link_id = :link AND expires_at > :now \
             AND (attribute_not_exists(browser) OR browser = :browser)",
            &[
                (":browser", s(browser)),
                (":link", s(link.as_str())),
                (":now", s(time::format(&now))),
            ],
            &[],
        )
        .await?;
    Ok(bound.and_then(|item| {
        item.get("authorize_url")
            .and_then(|v| v.as_s().ok())
            .cloned()
    }))
}

/// The pending flow an item holds: its tenant, its sealed verifier, and the rest.
pub fn read(item: &Item) -> Option<(TenantId, String, Pending)> {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let tenant_id = TenantId::parse(&text("tenant_id")?)?;
    let fields = match serde_json::from_str(&text("connection_fields")?).ok()? {
        Value::Object(m) => m,
        _ => return None,
    };
    Some((
        tenant_id.clone(),
        text("verifier_sealed")?,
        Pending {
            link_id: LinkId::parse(&text("link_id")?)?,
            tenant_id,
            connection_id: ConnectionId::parse(&text("connection_id")?)?,
            integration_id: IntegrationId::parse(&text("integration_id")?)?,
            redirect_uri: text("redirect_uri")?,
            verifier: Secret::new(String::new()),
            connection_fields: fields,
            direct: item
                .get("direct")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            browser: text("browser"),
            authorize_url: text("authorize_url"),
        },
    ))
}
