//! OAuth `state`: 256 random bits handed to the provider, stored only as a hash
//! (`OAUTH#<sha256>` / `STATE`), bound to one link, alive ten minutes, and consumed by a
//! single conditional delete, so a replay finds nothing. The PKCE verifier rides along sealed.
//! A state belongs to one browser (see `browser`): it is taken only with that browser's
//! binding, and a direct connect's state, made before any browser was involved, is bound to
//! the first browser that passes through our domain with it.

use crate::error::ApiError;
use crate::id::{ConnectionId, IntegrationId, LinkId, TenantId};
use crate::secret::{random_bytes, sha256_hex, Secret};
use crate::store::{key, n, s, Item};
use crate::time::{self, Timestamp};
use crate::App;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

pub const LIFETIME_SECONDS: i64 = 10 * 60;
const SK: &str = "STATE";

/// What the callback needs to finish what the start began.
#[derive(Debug)]
pub struct Pending {
    pub link_id: LinkId,
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    pub integration_id: IntegrationId,
    pub redirect_uri: String,
    pub verifier: Secret,
    pub connection_fields: Map<String, Value>,
    /// Started by direct connect, which holds the owner's one live connection for it.
    pub direct: bool,
    /// The hash of the binding of the browser that started it; a direct connect's has none
    /// until a browser passes through our domain.
    pub browser: Option<String>,
    /// Where that browser is then sent (the provider's authorization URL; direct connect).
    pub authorize_url: Option<String>,
}

/// What a callback's state turned out to be.
#[derive(Debug)]
pub enum Taken {
    Flow(Box<Pending>),
    /// Live, but for another browser (or a browser without its binding): left untouched.
    OtherBrowser,
    /// Never issued, already used or expired.
    Gone,
}

/// What passing a direct connect's state through our domain did.
#[derive(Debug)]
pub enum Bound {
    /// Bound to this browser (now or before): go to the provider.
    Provider(String),
    OtherBrowser,
    Gone,
}

fn pk(state: &str) -> String {
    format!("OAUTH#{}", sha256_hex(state.as_bytes()))
}

pub fn generate() -> Result<Secret, ApiError> {
    let bytes =
        random_bytes::<32>().map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
}

/// The item that records a started flow; written with the link's move to `waiting_oauth`.
pub async fn put_tx(
    app: &App,
    state: &Secret,
    pending: &Pending,
    now: Timestamp,
) -> Result<TransactWriteItem, ApiError> {
    let pk = pk(state.expose());
    let verifier = app
        .sealer()?
        .seal(
            pending.tenant_id.as_str(),
            &pk,
            pending.verifier.expose().as_bytes(),
        )
        .await
        .map_err(ApiError::internal)?;
    let expires_at = now + chrono::Duration::seconds(LIFETIME_SECONDS);
    let mut item = key(pk, SK);
    item.insert("link_id".into(), s(pending.link_id.as_str()));
    item.insert("tenant_id".into(), s(pending.tenant_id.as_str()));
    item.insert("connection_id".into(), s(pending.connection_id.as_str()));
    item.insert("integration_id".into(), s(pending.integration_id.as_str()));
    item.insert("redirect_uri".into(), s(&pending.redirect_uri));
    item.insert("verifier_sealed".into(), s(verifier));
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
    Ok(app.store.put_tx(item, crate::store::IS_NEW, &[])?)
}

/// Whether a state that could not be taken or bound is still alive (then it is someone
/// else's) or gone. Only refusals pay for this read.
async fn refused(app: &App, pk: String) -> Result<bool, ApiError> {
    let now = time::format(&time::now());
    Ok(app.store.get(pk, SK).await?.is_some_and(|item| {
        item.get("expires_at")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|at| *at > now)
    }))
}

/// Consumes a state for the browser that started it: the flow it started, or why not. A
/// browser without the binding never consumes it, so the one with it can still finish.
/// `browser` is the hash of the binding the request carries, if any.
/// Starts a sign-in: the link waits for the provider and the state is stored, in one
/// transaction; `false` when the link was no longer open.
pub async fn begin(
    app: &App,
    link: &LinkId,
    state: &Secret,
    pending: &Pending,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let items = vec![
        crate::link::oauth_started_tx(&app.store, link, now)?,
        put_tx(app, state, pending, now).await?,
    ];
    Ok(matches!(
        app.store.transact(items).await?,
        crate::store::TxOutcome::Committed
    ))
}

pub async fn take(app: &App, state: &str, browser: Option<&str>) -> Result<Taken, ApiError> {
    let pk = pk(state);
    let taken = match browser {
        Some(browser) => {
            app.store
                .take(
                    key(pk.clone(), SK),
                    "attribute_exists(pk) AND expires_at > :now AND browser = :browser",
                    &[
                        (":now", s(time::format(&time::now()))),
                        (":browser", s(browser)),
                    ],
                )
                .await?
        }
        None => None,
    };
    let Some(item) = taken else {
        return Ok(if refused(app, pk).await? {
            Taken::OtherBrowser
        } else {
            Taken::Gone
        });
    };
    let pending = read(&item).ok_or_else(|| ApiError::internal("malformed OAuth state item"))?;
    let verifier = app
        .sealer()?
        .open(pending.0.as_str(), &pk, &pending.1)
        .await
        .map_err(ApiError::internal)?;
    let (tenant_id, _, mut rest) = pending;
    rest.verifier = verifier;
    rest.tenant_id = tenant_id;
    Ok(Taken::Flow(Box::new(rest)))
}

/// Binds a direct connect's state to the first browser that brings it to our domain (the
/// same browser may come again); answers where to send it.
pub async fn bind(app: &App, state: &str, link: &LinkId, browser: &str) -> Result<Bound, ApiError> {
    let pk = pk(state);
    let bound = app
        .store
        .update_returning(
            key(pk.clone(), SK),
            "SET browser = :browser",
            "attribute_exists(authorize_url) AND link_id = :link AND expires_at > :now \
             AND (attribute_not_exists(browser) OR browser = :browser)",
            &[
                (":browser", s(browser)),
                (":link", s(link.as_str())),
                (":now", s(time::format(&time::now()))),
            ],
            &[],
        )
        .await?;
    match bound.and_then(|item| {
        item.get("authorize_url")
            .and_then(|v| v.as_s().ok())
            .cloned()
    }) {
        Some(url) => Ok(Bound::Provider(url)),
        None if refused(app, pk).await? => Ok(Bound::OtherBrowser),
        None => Ok(Bound::Gone),
    }
}

fn read(item: &Item) -> Option<(TenantId, String, Pending)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_256_bit_and_stored_by_hash_only() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, b);
        let k = pk(a.expose());
        assert!(k.starts_with("OAUTH#"));
        assert!(!k.contains(a.expose()));
    }
}
