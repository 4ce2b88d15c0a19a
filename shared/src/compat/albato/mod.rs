//! Albato's connection-by-link "sharing" entities (`/compat/albato`): a sharing is a
//! single-use link for one client to connect one app (`partnerId`), whose status the
//! platform polls until the connection exists (`credentialId`).
//!
//! In our terms a sharing is a pending connection with its link, owned by a consumer of its
//! own (each client's connection is separate, as Albato's are), and named by a number:
//! Albato's ids are integers, ours are not, so each sharing gets a random number and a small
//! item under it, written in the connection's own transaction (no counter, so no hot
//! partition; a taken number fails that transaction and another is drawn). `partnerId` is
//! the provider's number (`compat::provider_number`). Status, from the connection and its
//! link: 0 waiting, 1 granted (`credentialId` is then the sharing's number, naming its
//! connection), 2 waiting for OAuth, 3 revoked.

pub mod api;
mod repo;

use crate::connection::{self, Connection, LinkRequest, NewConnection, Status};
use crate::consumer::{NewConsumer, Owner};
use crate::error::ApiError;
use crate::fields::{string, Fields};
use crate::id::{ConnectionId, ConsumerId, TenantId};
use crate::link::{self, Link};
use crate::provider::Provider;
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Albato's links live 48 hours.
pub const LINK_TTL_SECONDS: u64 = 48 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sharing {
    pub number: u64,
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    pub consumer_id: ConsumerId,
    /// The provider (`partnerId` is its number).
    pub partner: String,
    pub title: String,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A sharing as Albato shows it: `status`, and the token only when it was just issued
/// (ours are kept hashed, so a later read cannot show it again).
pub struct Shown {
    pub sharing: Sharing,
    pub status: u8,
    pub token: Option<String>,
    pub expires_at: Option<String>,
}

impl Shown {
    pub fn to_json(&self) -> Value {
        let s = &self.sharing;
        json!({
            "id": s.number,
            "partnerId": super::provider_number(&s.partner),
            "token": self.token,
            "status": self.status,
            "credentialId": (self.status == 1).then_some(s.number),
            "title": s.title,
            "dateCreated": s.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            "connectionId": s.connection_id,
            "expiresAt": self.expires_at,
        })
    }
}

/// A sharing's number: random, 10 to 15 digits (below 2^53, so exact in any JSON reader).
fn draw_number() -> Result<u64, ApiError> {
    let bytes = crate::secret::random_bytes::<8>()
        .map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(1_000_000_000 + u64::from_le_bytes(bytes) % 8_999_999_000_000_000)
}

/// A `POST /credentials/grant-access-sharing` body: `{partnerId, title}`.
pub struct NewSharing {
    partner: &'static Provider,
    title: String,
}

impl NewSharing {
    pub fn parse(app: &App, body: Value) -> Result<NewSharing, ApiError> {
        let mut f = Fields::new(body, &["partnerId", "title"])?;
        let stage = app.config.stage;
        let partner = f.required("partnerId", |v| {
            let n = v.as_u64().ok_or("must be an integer")?;
            super::provider_numbered(n, stage)
                .map_err(|_| "catalog unavailable".to_string())?
                .ok_or_else(|| "names no app of the catalog".to_string())
        });
        let title = f.optional("title", |v| string(v, 1, 200));
        f.finish()?;
        let Some(partner) = partner else {
            return Err(ApiError::internal("partnerId parsed without a value"));
        };
        Ok(NewSharing {
            title: title.unwrap_or_else(|| format!("Connection to {}", partner.name)),
            partner,
        })
    }
}

/// Creates a sharing: a consumer named for it, its pending connection to the partner (which
/// the tenant must have enabled) and a 48-hour link, and its number, in one transaction.
pub async fn create(
    app: &App,
    tenant: &TenantId,
    new: NewSharing,
    base: &str,
) -> Result<Shown, ApiError> {
    let integration = crate::integration::id_for_provider(&app.store, tenant, &new.partner.id)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "partnerId",
                "is not enabled for this account: enable it first (POST /v1/integrations)",
            )
        })?;
    // A drawn number is taken once in about 10^15: one more draw is plenty.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let consumer = NewConsumer {
            name: new.title.clone(),
            redirect_url: None,
            internal_reference: None,
            email: None,
            locale: None,
            metadata: Default::default(),
        }
        .into_consumer(tenant.clone(), time::now());
        let number = draw_number()?;
        let native = NewConnection::parse(
            app,
            json!({
                "name": new.title,
                "integration_id": integration,
                "link_ttl_seconds": LINK_TTL_SECONDS,
                "metadata": {"albato_sharing_id": number},
            }),
        )?;
        // The connection's id is drawn by create; the sharing names it, so it is drawn here.
        let sharing_of = |connection_id: ConnectionId| Sharing {
            number,
            tenant_id: tenant.clone(),
            connection_id,
            consumer_id: consumer.id.clone(),
            partner: new.partner.id.clone(),
            title: new.title.clone(),
            created_at: time::now(),
            revoked_at: None,
        };
        let connection_id = ConnectionId::generate();
        let sharing = sharing_of(connection_id.clone());
        let native = native
            .with_id(connection_id)
            .with_items(vec![repo::create_tx(&app.store, &sharing)?]);
        match connection::create(
            app,
            tenant,
            Owner::New(Box::new(consumer)),
            native,
            base,
            None,
        )
        .await
        {
            Ok(created) => {
                let link = &created.body["link"];
                return Ok(Shown {
                    sharing,
                    status: 0,
                    token: token_of(link["url"].as_str().unwrap_or_default()),
                    expires_at: link["expires_at"].as_str().map(String::from),
                });
            }
            Err(ApiError::Conflict { .. }) if attempts < 2 => continue,
            Err(e) => return Err(e),
        }
    }
}

fn token_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    })
}

/// The tenant's sharing `number`, its connection and its open link.
async fn load(
    app: &App,
    tenant: &TenantId,
    number: u64,
) -> Result<(Sharing, Connection, Option<Link>), ApiError> {
    let sharing = repo::get(&app.store, number)
        .await?
        .filter(|s| &s.tenant_id == tenant)
        .ok_or_else(|| not_found(number))?;
    with_state(app, sharing).await
}

/// `sharing` with its connection and its open link.
async fn with_state(
    app: &App,
    sharing: Sharing,
) -> Result<(Sharing, Connection, Option<Link>), ApiError> {
    let tenant = &sharing.tenant_id;
    let found = connection::load(app, tenant, &sharing.connection_id).await?;
    let open = match &found.open_link_id {
        Some(id) => link::find(app, id).await?,
        None => None,
    };
    Ok((sharing, found, open))
}

pub fn not_found(number: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("no sharing with id {number}"))
}

/// Albato's status for a sharing, from its connection and link.
fn status(sharing: &Sharing, c: &Connection, open: Option<&Link>, now: Timestamp) -> u8 {
    if sharing.revoked_at.is_some() || c.status == Status::Revoked {
        return 3;
    }
    let connected = matches!(c.status, Status::Active | Status::NeedsReauth);
    match open.map(|l| l.status_at(now)) {
        Some(link::Status::Waiting | link::Status::Expired) => 0,
        Some(link::Status::WaitingOauth) => 2,
        Some(link::Status::Granted) => 1,
        Some(link::Status::Revoked) | None if connected => 1,
        Some(link::Status::Revoked) | None => 3,
    }
}

/// `GET …/{id}`.
pub async fn show(app: &App, tenant: &TenantId, number: u64) -> Result<Shown, ApiError> {
    shown(load(app, tenant, number).await?)
}

fn shown((sharing, c, open): (Sharing, Connection, Option<Link>)) -> Result<Shown, ApiError> {
    let now = time::now();
    Ok(Shown {
        status: status(&sharing, &c, open.as_ref(), now),
        expires_at: open.map(|l| time::format(&l.expires_at)),
        token: None,
        sharing,
    })
}

/// A page of the tenant's sharings (newest first) and how many there are, from one bounded
/// read of at most `read` sharings (`true` when more exist beyond them).
pub async fn page(
    app: &App,
    tenant: &TenantId,
    page: usize,
    size: usize,
    read: usize,
) -> Result<(Vec<Shown>, usize, bool), ApiError> {
    let (sharings, more) = repo::newest(&app.store, tenant, read).await?;
    let total = sharings.len();
    let mut listed = Vec::new();
    for sharing in sharings.into_iter().skip((page - 1) * size).take(size) {
        listed.push(shown(with_state(app, sharing).await?)?);
    }
    Ok((listed, total, more))
}

/// `PUT …/{id}`: a new token (a new link for the same connection, 48 hours), status back
/// to 0; the old link dies.
pub async fn renew(
    app: &App,
    tenant: &TenantId,
    number: u64,
    base: &str,
) -> Result<Shown, ApiError> {
    let (sharing, c, _) = load(app, tenant, number).await?;
    let request = LinkRequest::parse(app, json!({"link_ttl_seconds": LINK_TTL_SECONDS}))?;
    let fresh = connection::new_link(app, c, request).await?;
    let mut sharing = sharing;
    if sharing.revoked_at.is_some() {
        repo::unmark_revoked(&app.store, number).await?;
        sharing.revoked_at = None;
    }
    let link = fresh.to_json(base);
    Ok(Shown {
        sharing,
        status: 0,
        token: token_of(link["url"].as_str().unwrap_or_default()),
        expires_at: link["expires_at"].as_str().map(String::from),
    })
}

/// `DELETE …/{id}`: the token dies (its link revoked) and the sharing shows 3; a connection
/// it made stays (revoke that with `DELETE /v1/connections/{id}`).
pub async fn revoke(app: &App, tenant: &TenantId, number: u64) -> Result<Shown, ApiError> {
    let (mut sharing, c, open) = load(app, tenant, number).await?;
    let now = time::now();
    match open {
        Some(l) if l.is_open(now) && c.status == Status::Pending => {
            link::revoke(app, l).await?;
        }
        _ => {
            let at = time::format(&now);
            repo::mark_revoked(&app.store, number, &at).await?;
            sharing.revoked_at = Some(at);
        }
    }
    Ok(Shown {
        sharing,
        status: 3,
        token: None,
        expires_at: None,
    })
}

/// Where Albato's link form (`…/connect?id=&token=`) leads: our hosted page for the
/// sharing's current link, the token passed on for the page to check.
pub async fn page_url(app: &App, number: u64, token: &str, base: &str) -> Result<String, ApiError> {
    let sharing = repo::get(&app.store, number)
        .await?
        .ok_or_else(|| not_found(number))?;
    let c = connection::load(app, &sharing.tenant_id, &sharing.connection_id).await?;
    let link = c.open_link_id.ok_or_else(|| not_found(number))?;
    let mut url = url::Url::parse(&format!("{base}/connect/{link}"))
        .map_err(|e| ApiError::internal(format!("public base URL: {e}")))?;
    url.query_pairs_mut().append_pair("token", token);
    Ok(url.into())
}
