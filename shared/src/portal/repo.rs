//! Portal links and sessions in the table, each in its own partition so the public pages find
//! them by key in one read: `PTL#<id>` / `PTL` is a link until it is exchanged, `PSS#<hash>` /
//! `PSS` a session, keyed by the SHA-256 of its cookie value (the value itself is never
//! stored). Both carry `ttl`, so DynamoDB removes them once they are over; reads still check
//! `expires_at`, since TTL removal may lag by hours.

use super::{PortalLink, Session};
use crate::id::PortalLinkId;
use crate::store::{key, s, Store, StoreError, IS_NEW};
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

const LINK_SK: &str = "PTL";
const SESSION_SK: &str = "PSS";

#[derive(Serialize, Deserialize)]
struct LinkItem {
    pk: String,
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    link: PortalLink,
}

#[derive(Serialize, Deserialize)]
struct SessionItem {
    pk: String,
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    session: Session,
}

fn link_pk(id: &PortalLinkId) -> String {
    format!("PTL#{id}")
}

fn session_pk(hash: &str) -> String {
    format!("PSS#{hash}")
}

/// Puts a new portal link.
pub fn put_link_tx(store: &Store, link: &PortalLink) -> Result<TransactWriteItem, StoreError> {
    let item = Store::to_item(&LinkItem {
        pk: link_pk(&link.id),
        sk: LINK_SK.into(),
        ttl: link.expires_at.timestamp(),
        link: link.clone(),
    })?;
    store.put_tx(item, IS_NEW, &[])
}

pub async fn get_link(store: &Store, id: &PortalLinkId) -> Result<Option<PortalLink>, StoreError> {
    store
        .get(link_pk(id), LINK_SK)
        .await?
        .map(|item| Store::from_item::<LinkItem>(item).map(|i| i.link))
        .transpose()
}

/// Deletes the link only if it is still the one read (same token hash): of two exchanges
/// racing, one commits.
pub fn spend_link_tx(store: &Store, link: &PortalLink) -> Result<TransactWriteItem, StoreError> {
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
    let item = Store::to_item(&SessionItem {
        pk: session_pk(hash),
        sk: SESSION_SK.into(),
        ttl: session.expires_at.timestamp(),
        session: session.clone(),
    })?;
    store.put_tx(item, IS_NEW, &[])
}

pub async fn get_session(store: &Store, hash: &str) -> Result<Option<Session>, StoreError> {
    store
        .get(session_pk(hash), SESSION_SK)
        .await?
        .map(|item| Store::from_item::<SessionItem>(item).map(|i| i.session))
        .transpose()
}
