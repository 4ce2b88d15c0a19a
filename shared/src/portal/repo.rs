//! Portal links and sessions in the table, each alone in its partition ([`Single`]) so the
//! public pages find them by key in one read: `PTL#<id>` / `PTL` is a link until it is
//! exchanged, `PSS#<hash>` / `PSS` a session, keyed by the SHA-256 of its cookie value (the
//! value itself is never stored). Both expire by `ttl`; reads still check `expires_at`.

use super::{PortalLink, Session};
use crate::id::PortalLinkId;
use crate::store::{Single, Store, StoreError, TxItem};

const LINKS: Single = Single("PTL");
const SESSIONS: Single = Single("PSS");

/// Puts a new portal link.
pub fn put_link_tx(store: &Store, link: &PortalLink) -> Result<TxItem, StoreError> {
    LINKS.put_new_tx(store, link.id.as_str(), link.expires_at.timestamp(), link)
}

pub async fn get_link(store: &Store, id: &PortalLinkId) -> Result<Option<PortalLink>, StoreError> {
    LINKS.get(store, id.as_str()).await
}

/// Deletes the link only if it is still the one read: of two exchanges racing, one commits.
pub fn spend_link_tx(store: &Store, link: &PortalLink) -> Result<TxItem, StoreError> {
    LINKS.spend_tx(store, link.id.as_str(), &link.token_hash)
}

pub fn put_session_tx(store: &Store, hash: &str, session: &Session) -> Result<TxItem, StoreError> {
    SESSIONS.put_new_tx(store, hash, session.expires_at.timestamp(), session)
}

pub async fn get_session(store: &Store, hash: &str) -> Result<Option<Session>, StoreError> {
    SESSIONS.get(store, hash).await
}
