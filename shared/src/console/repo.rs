//! Console sign-in links and sessions in the table, each alone in its partition
//! ([`Single`]) so a page finds them by key in one read: `CSL#<id>` / `CSL` is a sign-in link
//! until it is used, `CSS#<hash>` / `CSS` a session, keyed by the SHA-256 of its cookie value
//! (the value itself is never stored). Both expire by `ttl`; reads still check their times.

use super::{Session, SignInLink};
use crate::id::ConsoleLinkId;
use crate::store::{s, Single, Store, StoreError, TxItem};

const LINKS: Single = Single("CSL");
const SESSIONS: Single = Single("CSS");

pub async fn put_link(store: &Store, link: &SignInLink) -> Result<(), StoreError> {
    LINKS
        .put_new(store, link.id.as_str(), link.expires_at.timestamp(), link)
        .await
}

pub async fn get_link(store: &Store, id: &ConsoleLinkId) -> Result<Option<SignInLink>, StoreError> {
    LINKS.get(store, id.as_str()).await
}

/// Deletes the link only if it is still the one read: of two sign-ins racing, one commits.
pub fn spend_link_tx(store: &Store, link: &SignInLink) -> Result<TxItem, StoreError> {
    LINKS.spend_tx(store, link.id.as_str(), &link.token_hash)
}

pub fn put_session_tx(store: &Store, hash: &str, session: &Session) -> Result<TxItem, StoreError> {
    SESSIONS.put_new_tx(store, hash, session.expires_at.timestamp(), session)
}

pub async fn put_session(store: &Store, hash: &str, session: &Session) -> Result<(), StoreError> {
    SESSIONS
        .put_new(store, hash, session.expires_at.timestamp(), session)
        .await
}

pub async fn get_session(store: &Store, hash: &str) -> Result<Option<Session>, StoreError> {
    SESSIONS.get(store, hash).await
}

/// Records a use (its new idle deadline and TTL); `false` when the session is gone.
pub async fn touch_session(store: &Store, hash: &str, seen: &Session) -> Result<bool, StoreError> {
    store
        .update(
            SESSIONS.key(hash),
            "SET seen_at = :seen, expires_at = :expires, #ttl = :ttl",
            "attribute_exists(pk)",
            &[
                (":seen", s(crate::time::format(&seen.seen_at))),
                (":expires", s(crate::time::format(&seen.expires_at))),
                (":ttl", crate::store::n(seen.expires_at.timestamp())),
            ],
            &[("#ttl", "ttl")],
        )
        .await
}

pub async fn delete_session(store: &Store, hash: &str) -> Result<(), StoreError> {
    let _: crate::store::TxOutcome = store
        .transact(vec![store.delete_tx(SESSIONS.key(hash), None, &[])?])
        .await?;
    Ok(())
}
