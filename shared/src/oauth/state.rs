//! OAuth `state`: 256 random bits handed to the provider, stored only as a hash
//! (`OAUTH#<sha256>` / `STATE`), bound to one link, alive ten minutes, and consumed by a
//! single conditional delete, so a replay finds nothing. The PKCE verifier rides along sealed.
//! A state belongs to one browser (see `browser`): it is taken only with that browser's
//! binding, and a direct connect's state, made before any browser was involved, is bound to
//! the first browser that passes through our domain with it.

use super::repo::{self, pk};
use crate::error::ApiError;
use crate::id::{ConnectionId, IntegrationId, LinkId, TenantId};
use crate::secret::{random_bytes, Secret};
use crate::store::TxItem;
use crate::time::{self, Timestamp};
use crate::App;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

pub const LIFETIME_SECONDS: i64 = 10 * 60;

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
) -> Result<TxItem, ApiError> {
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
    Ok(repo::put_tx(
        &app.store, &pk, pending, &verifier, expires_at,
    )?)
}

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

/// Consumes a state for the browser that started it: the flow it started, or why not. A
/// browser without the binding never consumes it, so the one with it can still finish.
/// `browser` is the hash of the binding the request carries, if any.
pub async fn take(app: &App, state: &str, browser: Option<&str>) -> Result<Taken, ApiError> {
    let pk = pk(state);
    let taken = match browser {
        Some(browser) => repo::take(&app.store, &pk, browser, time::now()).await?,
        None => None,
    };
    let Some(item) = taken else {
        return Ok(if repo::alive(&app.store, &pk, time::now()).await? {
            Taken::OtherBrowser
        } else {
            Taken::Gone
        });
    };
    let pending =
        repo::read(&item).ok_or_else(|| ApiError::internal("malformed OAuth state item"))?;
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
    match repo::bind(&app.store, &pk, link, browser, time::now()).await? {
        Some(url) => Ok(Bound::Provider(url)),
        None if repo::alive(&app.store, &pk, time::now()).await? => Ok(Bound::OtherBrowser),
        None => Ok(Bound::Gone),
    }
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
