//! The consumer portal: a page where a platform's customer sees their own connections,
//! disconnects one or reconnects one, without the platform building any of it.
//!
//! The platform asks for a portal link (`POST /v1/consumers/{id}/portal-links`): single use,
//! short-lived, its token stored only as a hash, like a connect link. Opening it spends it
//! and gives the browser a session cookie (`__Host-` over HTTPS, HttpOnly, SameSite=Lax),
//! also stored only as a hash, for [`SESSION_SECONDS`]; the URL then no longer carries
//! anything that opens the portal. Every form carries a CSRF token derived from the session
//! (see [`Session::csrf`]), so another site cannot post one through the customer's browser.

pub mod api;
mod repo;

use crate::connection::{self, Connection, LinkRequest};
use crate::error::ApiError;
use crate::fields::{whole_number, Fields};
use crate::id::{ConnectionId, ConsumerId, PortalLinkId, TenantId};
use crate::lang::Lang;
use crate::link::NewLink;
use crate::redirect_url::RedirectUrl;
pub use crate::secret::SessionKey;
use crate::secret::{sha256_hex, Secret};
use crate::store::TxOutcome;
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long a portal link can wait to be opened, by default and at most.
pub const DEFAULT_TTL_SECONDS: u64 = 900;
pub const MIN_TTL_SECONDS: u64 = 60;
pub const MAX_TTL_SECONDS: u64 = 3600;
/// How long a session lasts once the link is opened (no renewal: a new link is cheap).
pub const SESSION_SECONDS: i64 = 1800;
/// Connections shown per page.
pub const PAGE_SIZE: usize = 25;

const CREATE_FIELDS: &[&str] = &["ttl_seconds", "return_url", "lang"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortalLink {
    pub id: PortalLinkId,
    pub tenant_id: TenantId,
    pub consumer_id: ConsumerId,
    token_hash: String,
    /// Where "Return to the application" goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<RedirectUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    #[serde(with = "time::rfc3339")]
    pub expires_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
}

/// A portal link as created: its token is in the URL, shown once.
pub struct NewPortalLink {
    pub link: PortalLink,
    token: Secret,
}

impl NewPortalLink {
    pub fn url(&self, base: &str) -> String {
        format!(
            "{base}/portal/{}?token={}",
            self.link.id,
            self.token.expose()
        )
    }

    pub fn to_json(&self, base: &str) -> Value {
        let l = &self.link;
        json!({
            "id": l.id,
            "object": "portal_link",
            "consumer_id": l.consumer_id,
            "url": self.url(base),
            "return_url": l.return_url.as_ref().map(RedirectUrl::as_str),
            "lang": l.lang,
            "expires_at": time::format(&l.expires_at),
            "created_at": time::format(&l.created_at),
        })
    }
}

/// What `POST /v1/consumers/{id}/portal-links` may say.
pub struct PortalRequest {
    ttl_seconds: u64,
    return_url: Option<RedirectUrl>,
    lang: Option<Lang>,
}

impl PortalRequest {
    pub fn parse(app: &App, body: Value) -> Result<PortalRequest, ApiError> {
        let mut f = Fields::new(body, CREATE_FIELDS)?;
        let ttl_seconds = f.optional("ttl_seconds", parse_ttl);
        let stage = app.config.stage;
        let return_url = f.optional("return_url", |v| match v {
            Value::String(s) => RedirectUrl::parse(s, stage),
            _ => Err("must be a string".into()),
        });
        let lang = f.optional("lang", crate::lang::parse_lang);
        f.finish()?;
        Ok(PortalRequest {
            ttl_seconds: ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS),
            return_url,
            lang,
        })
    }
}

fn parse_ttl(v: &Value) -> Result<u64, String> {
    whole_number(v)
        .filter(|s| (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(s))
        .ok_or_else(|| {
            format!("must be a whole number of seconds from {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS}")
        })
}

/// A browser's session in one consumer's portal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub tenant_id: TenantId,
    pub consumer_id: ConsumerId,
    /// The link it was opened with: the portal's URL names it.
    pub portal_link_id: PortalLinkId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<RedirectUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    #[serde(with = "time::rfc3339")]
    pub expires_at: Timestamp,
}

/// Creates a portal link for the tenant's consumer (404 for another tenant's or a deleted
/// one): one transaction that holds only while the consumer exists.
pub async fn create(
    app: &App,
    tenant: &TenantId,
    consumer: &ConsumerId,
    request: PortalRequest,
) -> Result<NewPortalLink, ApiError> {
    let token = crate::link::new_token()?;
    let now = time::now();
    let ttl = i64::try_from(request.ttl_seconds).unwrap_or(i64::MAX);
    let link = PortalLink {
        id: PortalLinkId::generate(),
        tenant_id: tenant.clone(),
        consumer_id: consumer.clone(),
        token_hash: sha256_hex(token.expose().as_bytes()),
        return_url: request.return_url,
        lang: request.lang,
        expires_at: now + chrono::Duration::seconds(ttl),
        created_at: now,
    };
    let items = vec![
        crate::consumer::repo::exists_tx(&app.store, tenant, consumer)?,
        repo::put_link_tx(&app.store, &link)?,
    ];
    match app.store.transact(items).await? {
        TxOutcome::Committed => Ok(NewPortalLink { link, token }),
        cancelled if cancelled.failed_condition(0) => {
            Err(crate::consumer::not_found(consumer.as_str()))
        }
        // a fresh random id cannot be taken
        _ => Err(ApiError::internal("a new portal link's put was refused")),
    }
}

/// Why a portal page cannot be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// No such link, a wrong token, or already used.
    Invalid,
    Expired,
}

/// Spends the link `id` if `token` is its token and it has not expired: the session it
/// opens, or why not. Of two browsers opening one link, one gets the session.
pub async fn exchange(
    app: &App,
    id: &PortalLinkId,
    token: &str,
) -> Result<Result<(Session, SessionKey), Closed>, ApiError> {
    let Some(link) = repo::get_link(&app.store, id).await? else {
        return Ok(Err(Closed::Invalid));
    };
    if !crate::secret::same(&crate::link::token_hash(token), &link.token_hash) {
        return Ok(Err(Closed::Invalid));
    }
    let now = time::now();
    if link.expires_at <= now {
        return Ok(Err(Closed::Expired));
    }
    let key =
        SessionKey::generate().map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let session = Session {
        tenant_id: link.tenant_id.clone(),
        consumer_id: link.consumer_id.clone(),
        portal_link_id: link.id.clone(),
        return_url: link.return_url.clone(),
        lang: link.lang,
        expires_at: now + chrono::Duration::seconds(SESSION_SECONDS),
    };
    let items = vec![
        repo::spend_link_tx(&app.store, &link)?,
        repo::put_session_tx(&app.store, &key.hash(), &session)?,
    ];
    match app.store.transact(items).await? {
        TxOutcome::Committed => Ok(Ok((session, key))),
        // another browser spent it first
        _ => Ok(Err(Closed::Invalid)),
    }
}

/// The live session `key` opens for the portal `id` (a session of another portal link does
/// not open this one).
pub async fn session(
    app: &App,
    id: &PortalLinkId,
    key: &SessionKey,
) -> Result<Result<Session, Closed>, ApiError> {
    let Some(session) = repo::get_session(&app.store, &key.hash()).await? else {
        return Ok(Err(Closed::Invalid));
    };
    if &session.portal_link_id != id {
        return Ok(Err(Closed::Invalid));
    }
    if session.expires_at <= time::now() {
        return Ok(Err(Closed::Expired));
    }
    Ok(Ok(session))
}

/// A page of the session's consumer's connections.
pub async fn connections(
    app: &App,
    session: &Session,
    after: Option<String>,
) -> Result<(Vec<Connection>, Option<String>), ApiError> {
    connection::page_of_consumer(
        app,
        &session.tenant_id,
        &session.consumer_id,
        PAGE_SIZE,
        after,
    )
    .await
}

/// The consumer's connection `raw` (as absent as a missing one when it is someone else's).
pub async fn connection_of(
    app: &App,
    session: &Session,
    raw: &str,
) -> Result<Option<Connection>, ApiError> {
    let Some(id) = ConnectionId::parse(raw) else {
        return Ok(None);
    };
    Ok(connection::find(app, &session.tenant_id, &id)
        .await?
        .filter(|c| c.consumer_id.as_ref() == Some(&session.consumer_id)))
}

/// What the customer may do with a connection from the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    pub reconnect: bool,
    pub disconnect: bool,
}

/// A revoked connection is over; one the platform disabled is the platform's to resume.
pub fn actions(c: &Connection) -> Actions {
    let open = c.status != connection::Status::Revoked && !c.disabled;
    Actions {
        reconnect: open,
        disconnect: open,
    }
}

/// Disconnects the connection as `DELETE /v1/connections/{id}` does (`connection.revoked`).
pub async fn disconnect(app: &App, c: Connection, base_url: &str) -> Result<(), ApiError> {
    connection::revoke(app, c, base_url).await.map(|_| ())
}

/// A re-authentication link on the same connection, which brings the customer back to
/// `return_to` (the portal) when it is done.
pub async fn reconnect(
    app: &App,
    session: &Session,
    c: Connection,
    return_to: Option<RedirectUrl>,
) -> Result<NewLink, ApiError> {
    connection::new_link(app, c, LinkRequest::from_portal(return_to, session.lang)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_link_waits_a_minute_to_an_hour() {
        assert_eq!(parse_ttl(&json!(60)), Ok(60));
        assert_eq!(parse_ttl(&json!(3600)), Ok(3600));
        for bad in [json!(59), json!(3601), json!(1.5), json!("900"), json!(-1)] {
            assert!(parse_ttl(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_live_connections_the_platform_has_not_paused_offer_actions() {
        let mut c = Connection::new(
            ConnectionId::generate(),
            &TenantId::generate(),
            Some(&ConsumerId::generate()),
            "Accounting".into(),
            &crate::metadata::Metadata::default(),
            time::now(),
        );
        let both = Actions {
            reconnect: true,
            disconnect: true,
        };
        let none = Actions {
            reconnect: false,
            disconnect: false,
        };
        for status in [
            connection::Status::Pending,
            connection::Status::Active,
            connection::Status::NeedsReauth,
        ] {
            c.status = status;
            assert_eq!(actions(&c), both, "{status:?}");
        }
        c.disabled = true;
        assert_eq!(actions(&c), none, "paused by the platform");
        c.disabled = false;
        c.status = connection::Status::Revoked;
        assert_eq!(actions(&c), none, "revoked");
    }
}
