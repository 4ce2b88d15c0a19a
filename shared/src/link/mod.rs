//! Links: single-use, expiring activation links for a connection.
//!
//! Expiry is always decided from `expires_at` at read time, never left to TTL deletion, which
//! is lazy (how links are stored: `repo`).

use crate::error::ApiError;
use crate::id::{ConnectionId, ConsumerId, IntegrationId, LinkId, TenantId};
use crate::redirect_url::RedirectUrl;
use crate::secret::{random_bytes, sha256_hex, Secret};
use crate::store::TxOutcome;
use crate::time::{self, Timestamp};
use crate::App;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub mod api;
mod repo;

pub(crate) use repo::from_item;
pub use repo::{
    drop_expiry_tx, get, get_any, granted_tx, item_key, oauth_started_tx, open_values,
    reminder_partition, with_open_values, OPEN, SK, STATUS_NAME,
};

/// After this many refused submissions the relay announces `link.failed` (once).
pub const FAILED_AFTER: u64 = 3;

/// Why an email was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The tenant's reminder schedule.
    Schedule,
    /// `POST /v1/links/{id}/send`.
    Request,
}

/// One email sent for a link, as the link records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub at: String,
    pub trigger: Trigger,
}

/// What is stored; `expired` is never stored, it is derived from `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    Waiting,
    WaitingOauth,
    Granted,
    Revoked,
}

impl Stored {
    /// As stored (and as `serde` names it).
    pub fn as_str(self) -> &'static str {
        match self {
            Stored::Waiting => "waiting",
            Stored::WaitingOauth => "waiting_oauth",
            Stored::Granted => "granted",
            Stored::Revoked => "revoked",
        }
    }
}

/// What callers see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Waiting,
    WaitingOauth,
    Granted,
    Revoked,
    Expired,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "waiting" => Status::Waiting,
            "waiting_oauth" => Status::WaitingOauth,
            "granted" => Status::Granted,
            "revoked" => Status::Revoked,
            "expired" => Status::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub id: LinkId,
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_id: Option<ConsumerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<IntegrationId>,
    /// The OAuth scopes this link asks for, instead of its integration's (within what the
    /// integration allows, checked when the link was made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    pub status: Stored,
    pub token_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<RedirectUrl>,
    #[serde(default)]
    pub redirect: bool,
    /// The redirect names the consumer and connection by UUID (a link made through Chift's
    /// dialect, whose platform knows them so; see `compat::chift`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ids_as_uuid: bool,
    #[serde(with = "time::rfc3339")]
    pub expires_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Every open of the page with the right token while the link was usable.
    #[serde(default)]
    pub open_count: u64,
    /// Submissions the provider's fields refused.
    #[serde(default)]
    pub failed_attempts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LinkError>,
    /// Reminders still to send, earliest first (`time::format`, so they sort as strings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders_planned: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders_sent: Vec<Sent>,
    /// Hashes of the tokens sent by email: each email carries a token of its own, since the
    /// link's own token is kept only as a hash and cannot be put in an email later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_token_hashes: Vec<String>,
    /// The language of its pages and emails: the `lang` it was created with, else its
    /// consumer's `locale` then (when we speak it); `None` follows the browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<crate::lang::Lang>,
    /// When the last email went out (epoch seconds), for the per-link rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent_at: Option<i64>,
}

/// The last refused submission: which fields, never what was typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkError {
    pub at: String,
    pub code: String,
    pub fields: Vec<String>,
}

/// Records a submission the provider's fields refused (names only), in one write. The
/// relay announces `link.failed` when the count reaches [`FAILED_AFTER`].
/// A failed attempt on an open link: `code` says what failed (`validation_error`, or
/// `credentials_refused` by the provider), `fields` which fields (names, never values).
pub async fn record_failure(
    app: &App,
    id: &LinkId,
    code: &str,
    fields: Vec<String>,
) -> Result<(), ApiError> {
    let error = LinkError {
        at: time::format(&time::now()),
        code: code.into(),
        fields,
    };
    Ok(repo::record_failure(&app.store, id, &error).await?)
}

impl Link {
    pub fn status_at(&self, now: Timestamp) -> Status {
        match self.status {
            Stored::Granted => Status::Granted,
            Stored::Revoked => Status::Revoked,
            _ if now >= self.expires_at => Status::Expired,
            Stored::Waiting => Status::Waiting,
            Stored::WaitingOauth => Status::WaitingOauth,
        }
    }

    /// Still usable: waiting (for the form or OAuth) and not past `expires_at`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        matches!(self.status_at(now), Status::Waiting | Status::WaitingOauth)
    }

    /// Whether `token` is this link's or one it was emailed with, compared in constant time
    /// (on the stored hashes, so a timing difference could only reveal the hash of a guess).
    pub fn token_matches(&self, token: &str) -> bool {
        let given = token_hash(token);
        std::iter::once(&self.token_hash)
            .chain(&self.email_token_hashes)
            .fold(false, |found, stored| {
                crate::secret::same(&given, stored) | found
            })
    }

    /// The next reminder, while the link can still be used.
    pub fn next_reminder_at(&self, now: Timestamp) -> Option<&str> {
        self.reminders_planned
            .first()
            .map(String::as_str)
            .filter(|_| self.is_open(now))
    }

    pub fn to_json(&self, now: Timestamp) -> Value {
        let status = self.status_at(now);
        json!({
            "id": self.id,
            "connection_id": self.connection_id,
            "consumer_id": self.consumer_id,
            "integration_id": self.integration_id,
            "scopes": self.scopes,
            "status": status,
            "expires_at": time::format(&self.expires_at),
            "redirect_url": self.redirect_url.as_ref().map(RedirectUrl::as_str),
            "redirect": self.redirect,
            "created_at": time::format(&self.created_at),
            "opened_at": self.opened_at,
            "open_count": self.open_count,
            "failed_attempts": self.failed_attempts,
            "last_error": self.last_error,
            "granted_at": self.granted_at,
            "revoked_at": self.revoked_at,
            "lang": self.lang,
            "reminders_sent": self.reminders_sent,
            "next_reminder_at": self.next_reminder_at(now),
        })
    }

    pub fn url(&self, base: &str, token: &Secret) -> String {
        format!("{base}/connect/{}?token={}", self.id, token.expose())
    }

    /// The link as committed `revoke_items(_, now)` leave it.
    pub fn revoked(self, now: Timestamp) -> Link {
        Link {
            status: Stored::Revoked,
            revoked_at: Some(time::format(&now)),
            ..self
        }
    }
}

/// A new link for a connection, its token (shown once, in the URL) and the items that
/// store it.
pub struct NewLink {
    pub link: Link,
    pub token: Secret,
}

pub struct LinkOptions {
    pub redirect_url: Option<RedirectUrl>,
    pub redirect: bool,
    pub ttl_seconds: u64,
    /// The tenant's reminder schedule; `None` for links no person is sent (API OAuth).
    pub reminders: Option<crate::settings::reminders::Schedule>,
    pub lang: Option<crate::lang::Lang>,
    /// See [`Link::ids_as_uuid`].
    pub ids_as_uuid: bool,
    /// See [`Link::scopes`].
    pub scopes: Option<Vec<String>>,
}

impl NewLink {
    pub fn generate(
        tenant: &TenantId,
        connection: &ConnectionId,
        consumer: Option<&ConsumerId>,
        integration: Option<&IntegrationId>,
        options: LinkOptions,
    ) -> Result<NewLink, ApiError> {
        let token = new_token()?;
        let now = time::now();
        let ttl = chrono::Duration::seconds(
            i64::try_from(options.ttl_seconds)
                .unwrap_or(i64::MAX)
                .min(604_800),
        );
        let link = Link {
            id: LinkId::generate(),
            tenant_id: tenant.clone(),
            connection_id: connection.clone(),
            consumer_id: consumer.cloned(),
            integration_id: integration.cloned(),
            scopes: options.scopes,
            status: Stored::Waiting,
            token_hash: sha256_hex(token.expose().as_bytes()),
            redirect_url: options.redirect_url,
            redirect: options.redirect,
            ids_as_uuid: options.ids_as_uuid,
            expires_at: now + ttl,
            created_at: now,
            opened_at: None,
            granted_at: None,
            revoked_at: None,
            open_count: 0,
            failed_attempts: 0,
            last_error: None,
            reminders_planned: options
                .reminders
                .map(|schedule| schedule.plan(now, now + ttl))
                .unwrap_or_default()
                .iter()
                .map(time::format)
                .collect(),
            reminders_sent: Vec::new(),
            email_token_hashes: Vec::new(),
            lang: options.lang,
            last_sent_at: None,
        };
        Ok(NewLink { link, token })
    }

    pub fn to_json(&self, base: &str) -> Value {
        let mut v = self.link.to_json(self.link.created_at);
        v["url"] = json!(self.link.url(base, &self.token));
        v
    }
}

/// A fresh 256-bit link token (a link's own, or one an email carries).
pub(crate) fn new_token() -> Result<Secret, ApiError> {
    let bytes =
        random_bytes::<32>().map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
}

/// What is stored for a token: only its SHA-256.
pub(crate) fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

pub(crate) fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("link", raw)
}

/// A status filter reads links this many at a time…
const FILTER_PAGE: usize = 100;
/// …and at most this many for one call.
pub const FILTER_READ_BUDGET: usize = 500;

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// The tenant's link `id`, if it has one (another tenant's is as absent as a missing one).
pub async fn find_of(app: &App, tenant: &TenantId, id: &LinkId) -> Result<Option<Link>, ApiError> {
    Ok(get(&app.store, tenant, id).await?)
}

/// The tenant's link `id`, or a 404.
pub async fn load(app: &App, tenant: &TenantId, id: &LinkId) -> Result<Link, ApiError> {
    get(&app.store, tenant, id)
        .await?
        .ok_or_else(|| not_found(id.as_str()))
}

/// A page of the tenant's links after the cursor's id, of status `wanted` when given.
pub async fn page(
    app: &App,
    tenant: &TenantId,
    wanted: Option<Status>,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Link>, Option<String>), ApiError> {
    let now = time::now();
    let mut start = after;
    let mut data = Vec::new();
    // Without a filter one query serves the page. With one, links are read a page of
    // FILTER_PAGE at a time until `limit` match or FILTER_READ_BUDGET were read: a rare
    // status cannot make a call read a tenant's whole history (and outrun the function's
    // timeout); a short, even empty, page then comes with the cursor to go on from.
    let page_size = if wanted.is_some() { FILTER_PAGE } else { limit };
    let mut read = 0;
    let next = loop {
        let size = page_size
            .min(FILTER_READ_BUDGET.saturating_sub(read))
            .max(1);
        let (links, more) = repo::page(&app.store, tenant, size, start.as_deref()).await?;
        let count = links.len();
        let mut last = None;
        let mut unread = false;
        for (i, link) in links.into_iter().enumerate() {
            read += 1;
            last = Some(link.id.to_string());
            if wanted.is_none_or(|w| link.status_at(now) == w) {
                data.push(link);
                if data.len() == limit {
                    unread = i + 1 < count;
                    break;
                }
            }
        }
        let more_after_last = more || unread;
        if data.len() == limit || read >= FILTER_READ_BUDGET || !more_after_last {
            break last.filter(|_| more_after_last);
        }
        start = last;
    };
    Ok((data, next))
}

/// Revokes an open link; a revoked one stays as it is, a used one is a conflict (its
/// connection is what to revoke).
pub async fn revoke(app: &App, link: Link) -> Result<Link, ApiError> {
    let used = || ApiError::conflict("the link was already used; revoke the connection instead");
    let now = time::now();
    match link.status_at(now) {
        Status::Revoked => return Ok(link),
        Status::Granted => return Err(used()),
        _ => {}
    }
    if let TxOutcome::Committed = app
        .store
        .transact(link.revoke_items(&app.store, now)?)
        .await?
    {
        return Ok(link.revoked(now));
    }
    // Cancelled means it was used or revoked meanwhile; either way, report what it is now.
    let now_link = load(app, &link.tenant_id, &link.id).await?;
    if now_link.status == Stored::Granted {
        return Err(used());
    }
    Ok(now_link)
}

/// Any tenant's link `id` (the public pages know only the id).
pub async fn find(app: &App, id: &LinkId) -> Result<Option<Link>, ApiError> {
    Ok(get_any(&app.store, id).await?)
}

/// The link `id`, if `token` is its token (its own or one it was emailed with).
pub async fn with_token(app: &App, id: &LinkId, token: &str) -> Result<Option<Link>, ApiError> {
    Ok(find(app, id).await?.filter(|l| l.token_matches(token)))
}

/// The link read and its first open recorded in one conditional write that only succeeds for
/// the right token on a usable link (the relay announces `link.opened` from the stream);
/// `None` for anything else, which the caller explains from a plain read.
pub async fn open(app: &App, id: &LinkId, token: &str) -> Result<Option<Link>, ApiError> {
    Ok(repo::record_open(&app.store, id, &token_hash(token), time::now()).await?)
}

/// A sign-in that did not complete: the link is usable again while it is valid.
pub async fn oauth_abandoned(app: &App, id: &LinkId) -> Result<(), ApiError> {
    Ok(repo::oauth_abandoned(&app.store, id, time::now()).await?)
}

/// Where the browser goes after the flow: the link's URL, else the consumer's, else the
/// tenant default.
pub async fn redirect_target(app: &App, link: &Link) -> Result<Option<RedirectUrl>, ApiError> {
    if let Some(u) = &link.redirect_url {
        return Ok(Some(u.clone()));
    }
    if let Some(consumer) = &link.consumer_id {
        if let Some(c) = crate::consumer::find(&app.store, &link.tenant_id, consumer).await? {
            if let Some(u) = c.redirect_url {
                return Ok(Some(u));
            }
        }
    }
    Ok(crate::settings::of(app, &link.tenant_id)
        .await?
        .default_redirect_url
        .clone())
}

/// `url` with what the platform learns of the flow (Chift's parameters): consumer,
/// connection, status, and whether the link had expired.
pub fn with_params(url: &RedirectUrl, link: &Link, status: &str, expired: bool) -> String {
    let mut u = match url::Url::parse(url.as_str()) {
        Ok(u) => u,
        Err(_) => return url.as_str().to_owned(),
    };
    {
        let mut q = u.query_pairs_mut();
        if let Some(consumer) = &link.consumer_id {
            if link.ids_as_uuid {
                q.append_pair("consumerId", &consumer.to_uuid());
            } else {
                q.append_pair("consumerId", consumer.as_str());
            }
        }
        if link.ids_as_uuid {
            q.append_pair("connectionId", &link.connection_id.to_uuid());
        } else {
            q.append_pair("connectionId", link.connection_id.as_str());
        }
        q.append_pair("status", status);
        if expired {
            q.append_pair("isExpiredError", "true");
        }
    }
    u.into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn stored_names_are_what_serde_writes() {
        use super::Stored;
        for st in [
            Stored::Waiting,
            Stored::WaitingOauth,
            Stored::Granted,
            Stored::Revoked,
        ] {
            assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
        }
    }

    use super::*;

    fn link(status: Stored, expires_in: i64) -> Link {
        let mut l = NewLink::generate(
            &TenantId::generate(),
            &ConnectionId::generate(),
            Some(&ConsumerId::generate()),
            None,
            LinkOptions {
                redirect_url: None,
                redirect: false,
                ttl_seconds: 1800,
                reminders: None,
                lang: None,
                ids_as_uuid: false,
                scopes: None,
            },
        )
        .unwrap()
        .link;
        l.status = status;
        l.expires_at = time::now() + chrono::Duration::seconds(expires_in);
        l
    }

    #[test]
    fn the_revoked_link_answered_is_the_one_the_update_writes() {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let store = crate::store::Store::new(aws_sdk_dynamodb::Client::from_conf(conf), "t");
        let open = link(Stored::Waiting, 60);
        let now = time::now();
        let items = open.revoke_items(&store, now).unwrap();
        let update = items[0].update().expect("the link's update comes first");
        let values = update.expression_attribute_values().expect("values");
        let revoked = open.revoked(now);
        assert_eq!(revoked.status, Stored::Revoked);
        assert_eq!(
            values[":revoked"].as_s().ok().map(String::as_str),
            Some("revoked")
        );
        assert_eq!(values[":now"].as_s().ok(), revoked.revoked_at.as_ref());
        assert!(update.update_expression().contains("revoked_at = :now"));
        assert_eq!(revoked.status_at(now), Status::Revoked);
    }

    #[test]
    fn expiry_is_decided_from_expires_at() {
        let now = time::now();
        assert_eq!(link(Stored::Waiting, 60).status_at(now), Status::Waiting);
        assert_eq!(link(Stored::Waiting, -1).status_at(now), Status::Expired);
        assert_eq!(
            link(Stored::WaitingOauth, -1).status_at(now),
            Status::Expired
        );
        assert_eq!(
            link(Stored::Granted, -1).status_at(now),
            Status::Granted,
            "a used link stays used"
        );
        assert_eq!(link(Stored::Revoked, 60).status_at(now), Status::Revoked);
        assert!(link(Stored::WaitingOauth, 60).is_open(now));
        assert!(!link(Stored::Waiting, -1).is_open(now));
    }

    #[test]
    fn tokens_are_256_bit_and_only_their_hash_is_kept() {
        let new = NewLink::generate(
            &TenantId::generate(),
            &ConnectionId::generate(),
            Some(&ConsumerId::generate()),
            None,
            LinkOptions {
                redirect_url: None,
                redirect: true,
                ttl_seconds: 300,
                reminders: None,
                lang: None,
                ids_as_uuid: false,
                scopes: None,
            },
        )
        .unwrap();
        assert_eq!(new.token.expose().len(), 43);
        assert!(new.link.token_matches(new.token.expose()));
        assert!(!new.link.token_matches("wrong"));
        assert!(!serde_json::to_string(&new.link)
            .unwrap()
            .contains(new.token.expose()));
        let url = new.link.url("https://connect.example.com", &new.token);
        assert!(url.starts_with(&format!(
            "https://connect.example.com/connect/{}?token=",
            new.link.id
        )));
        let lifetime = new.link.expires_at - new.link.created_at;
        assert_eq!(lifetime.num_seconds(), 300);
    }
}
