//! Console sign-in links and sessions in the table, each in its own partition so a page
//! finds them by key in one read: `CSL#<id>` / `CSL` is a sign-in link until it is used,
//! `CSS#<hash>` / `CSS` a session, keyed by the SHA-256 of its cookie value (the value itself
//! is never stored). Both carry `ttl`, so DynamoDB removes them once they are over; reads
//! still check their times, since TTL removal may lag by hours.

use super::{Session, SignInLink};
use crate::id::ConsoleLinkId;
use crate::store::{key, s, Store, StoreError, IS_NEW};
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

const LINK_SK: &str = "CSL";
const SESSION_SK: &str = "CSS";

#[derive(Serialize, Deserialize)]
struct LinkItem {
    pk: String,
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    link: SignInLink,
}

#[derive(Serialize, Deserialize)]
struct SessionItem {
    pk: String,
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    session: Session,
}

fn link_pk(id: &ConsoleLinkId) -> String {
    format!("CSL#{id}")
}

fn session_pk(hash: &str) -> String {
    format!("CSS#{hash}")
}

fn session_item(hash: &str, session: &Session) -> Result<crate::store::Item, StoreError> {
    Store::to_item(&SessionItem {
        pk: session_pk(hash),
        sk: SESSION_SK.into(),
        ttl: session.expires_at.timestamp(),
        session: session.clone(),
    })
}

pub async fn put_link(store: &Store, link: &SignInLink) -> Result<(), StoreError> {
    let item = Store::to_item(&LinkItem {
        pk: link_pk(&link.id),
        sk: LINK_SK.into(),
        ttl: link.expires_at.timestamp(),
        link: link.clone(),
    })?;
    if store.put_new(item).await? {
        Ok(())
    } else {
        Err(StoreError::Corrupt(
            "a new sign-in link's id was taken".into(),
        ))
    }
}

pub async fn get_link(store: &Store, id: &ConsoleLinkId) -> Result<Option<SignInLink>, StoreError> {
    store
        .get(link_pk(id), LINK_SK)
        .await?
        .map(|item| Store::from_item::<LinkItem>(item).map(|i| i.link))
        .transpose()
}

/// Deletes the link only if it is still the one read (same token hash): of two sign-ins
/// racing, one commits.
pub fn spend_link_tx(store: &Store, link: &SignInLink) -> Result<TransactWriteItem, StoreError> {
    store.delete_tx(
        key(link_pk(&link.id), LINK_SK),
        Some("token_hash = :hash"),
        &[(":hash", s(link.token_hash.clone()))],
    )
}

pub fn put_session_tx(
    store: &Store,
    hash: &str,
    session: &Session,
) -> Result<TransactWriteItem, StoreError> {
    store.put_tx(session_item(hash, session)?, IS_NEW, &[])
}

pub async fn put_session(store: &Store, hash: &str, session: &Session) -> Result<(), StoreError> {
    if store.put_new(session_item(hash, session)?).await? {
        Ok(())
    } else {
        Err(StoreError::Corrupt("a new session's key was taken".into()))
    }
}

pub async fn get_session(store: &Store, hash: &str) -> Result<Option<Session>, StoreError> {
    store
        .get(session_pk(hash), SESSION_SK)
        .await?
        .map(|item| Store::from_item::<SessionItem>(item).map(|i| i.session))
        .transpose()
}

/// Records a use (its new idle deadline and TTL); `false` when the session is gone.
pub async fn touch_session(store: &Store, hash: &str, seen: &Session) -> Result<bool, StoreError> {
    store
        .update(
            key(session_pk(hash), SESSION_SK),
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
        .transact(vec![store.delete_tx(
            key(session_pk(hash), SESSION_SK),
            None,
            &[],
        )?])
        .await?;
    Ok(())
}
