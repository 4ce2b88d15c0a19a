//! The operator console's sign-in and sessions: who may look at a tenant's console (any of
//! its keys), who may act in it (an admin key), and for how long.
//!
//! A browser signs in with an API key, or with a one-time sign-in link `linkgate-admin
//! console-link` issues (stored as a hash, like a connect link's token). Either gives a
//! session cookie (`__Host-` over HTTPS, HttpOnly, SameSite=Lax) stored only as a hash with
//! a TTL. A session ends after [`IDLE_SECONDS`] without a request, after [`MAX_SECONDS`]
//! whatever happens, when its browser signs out, or when the key it was opened with is
//! revoked. Every form carries the session's CSRF token ([`SessionKey::csrf`]); the sign-in
//! form, which comes before any session, carries one derived from a short-lived cookie of
//! its own (double submit), so no other site can sign a browser in to its own tenant.

pub(crate) mod repo;

use crate::api_key::{self, Principal, Role};
use crate::error::ApiError;
use crate::id::{ApiKeyId, ConsoleLinkId, TenantId};
pub use crate::secret::SessionKey;
use crate::secret::{sha256_hex, Secret};
use crate::store::{Store, StoreError, TxOutcome};
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};

/// A session ends after this long without a request.
pub const IDLE_SECONDS: i64 = 30 * 60;
/// And after this long in any case.
pub const MAX_SECONDS: i64 = 12 * 60 * 60;
/// A session's last use is written at most this often (a page view is otherwise a read).
pub const TOUCH_EVERY_SECONDS: i64 = 60;
/// How long a sign-in link waits to be opened, by default and at most.
pub const LINK_SECONDS: i64 = 15 * 60;
pub const MAX_LINK_SECONDS: i64 = 60 * 60;
/// How long the sign-in form's own cookie (its CSRF token's source) lives.
pub const SIGN_IN_FORM_SECONDS: i64 = 60 * 60;

/// A browser's session in one tenant's console.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub tenant_id: TenantId,
    pub role: Role,
    /// The key it was opened with (none for a sign-in link): revoking the key ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<ApiKeyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_hash: Option<String>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub seen_at: Timestamp,
    /// When it ends unless used again (at most `ends_at`).
    #[serde(with = "time::rfc3339")]
    pub expires_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub ends_at: Timestamp,
}

impl Session {
    fn new(tenant_id: TenantId, role: Role, key: Option<(ApiKeyId, String)>) -> Session {
        let now = time::now();
        let (key_id, key_hash) = key.unzip();
        Session {
            tenant_id,
            role,
            key_id,
            key_hash,
            created_at: now,
            seen_at: now,
            expires_at: now + chrono::Duration::seconds(IDLE_SECONDS),
            ends_at: now + chrono::Duration::seconds(MAX_SECONDS),
        }
    }

    /// Admin keys act (retry, recover); member keys only see.
    pub fn may_act(&self) -> bool {
        self.role == Role::Admin
    }

    fn is_over(&self, now: Timestamp) -> bool {
        self.expires_at <= now || self.ends_at <= now
    }

    /// The same session, used at `now`: its idle deadline moves, never past its end.
    fn seen(&self, now: Timestamp) -> Session {
        let mut s = self.clone();
        s.seen_at = now;
        s.expires_at = (now + chrono::Duration::seconds(IDLE_SECONDS)).min(self.ends_at);
        s
    }

    fn due_for_touch(&self, now: Timestamp) -> bool {
        now - self.seen_at >= chrono::Duration::seconds(TOUCH_EVERY_SECONDS)
    }
}

/// A one-time sign-in link to a tenant's console.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignInLink {
    pub id: ConsoleLinkId,
    pub tenant_id: TenantId,
    pub role: Role,
    token_hash: String,
    #[serde(with = "time::rfc3339")]
    pub expires_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
}

/// A sign-in link as issued: its token is in the URL, shown once.
pub struct NewSignInLink {
    pub link: SignInLink,
    token: Secret,
}

impl NewSignInLink {
    pub fn path(&self) -> String {
        format!(
            "/console/sign-in?link={}&token={}",
            self.link.id,
            self.token.expose()
        )
    }
}

/// Why a sign-in did not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a key of any tenant, or a revoked one.
    UnknownKey,
    /// No such link, a wrong token, or already used.
    InvalidLink,
    ExpiredLink,
}

fn new_key() -> Result<SessionKey, ApiError> {
    SessionKey::generate().map_err(|e| ApiError::internal(format!("no randomness: {e}")))
}

/// Issues a sign-in link for `tenant` (which must exist), valid `seconds` (60 to an hour).
pub async fn issue_link(
    store: &Store,
    tenant: &TenantId,
    role: Role,
    seconds: i64,
) -> Result<NewSignInLink, StoreError> {
    let seconds = seconds.clamp(60, MAX_LINK_SECONDS);
    let bytes = crate::secret::random_bytes::<32>()
        .map_err(|e| StoreError::Corrupt(format!("no randomness: {e}")))?;
    let token = Secret::new(hex::encode(bytes));
    let now = time::now();
    let link = SignInLink {
        id: ConsoleLinkId::generate(),
        tenant_id: tenant.clone(),
        role,
        token_hash: sha256_hex(token.expose().as_bytes()),
        expires_at: now + chrono::Duration::seconds(seconds),
        created_at: now,
    };
    repo::put_link(store, &link).await?;
    Ok(NewSignInLink { link, token })
}

/// Opens a session with an API key: any live key of a tenant opens its console, with the
/// key's role.
pub async fn sign_in_with_key(
    app: &App,
    raw: &str,
) -> Result<Result<(Session, SessionKey), Refused>, ApiError> {
    let raw = raw.trim();
    if !api_key::well_formed(raw) {
        return Ok(Err(Refused::UnknownKey));
    }
    let hash = sha256_hex(raw.as_bytes());
    let principal: Principal = match app.keys.key_of_hash(&app.store, hash.clone()).await {
        Ok(p) => p,
        Err(ApiError::Unauthorized) => return Ok(Err(Refused::UnknownKey)),
        Err(e) => return Err(e),
    };
    let session = Session::new(
        principal.tenant_id,
        principal.role,
        Some((principal.key_id, hash)),
    );
    let key = new_key()?;
    repo::put_session(&app.store, &key.hash(), &session).await?;
    Ok(Ok((session, key)))
}

/// Spends the sign-in link `id` if `token` is its token and it has not expired. Of two
/// browsers opening one link, one gets the session.
pub async fn sign_in_with_link(
    app: &App,
    id: &ConsoleLinkId,
    token: &str,
) -> Result<Result<(Session, SessionKey), Refused>, ApiError> {
    let Some(link) = repo::get_link(&app.store, id).await? else {
        return Ok(Err(Refused::InvalidLink));
    };
    if !crate::secret::same(&sha256_hex(token.as_bytes()), &link.token_hash) {
        return Ok(Err(Refused::InvalidLink));
    }
    if link.expires_at <= time::now() {
        return Ok(Err(Refused::ExpiredLink));
    }
    let session = Session::new(link.tenant_id.clone(), link.role, None);
    let key = new_key()?;
    let items = vec![
        repo::spend_link_tx(&app.store, &link)?,
        repo::put_session_tx(&app.store, &key.hash(), &session)?,
    ];
    match app.store.transact(items).await? {
        TxOutcome::Committed => Ok(Ok((session, key))),
        _ => Ok(Err(Refused::InvalidLink)),
    }
}

/// The live session `key` opens, its last use recorded (at most once a minute); `None` once
/// it is over, signed out, or its key was revoked.
pub async fn session(app: &App, key: &SessionKey) -> Result<Option<Session>, ApiError> {
    let hash = key.hash();
    let Some(session) = repo::get_session(&app.store, &hash).await? else {
        return Ok(None);
    };
    let now = time::now();
    if session.is_over(now) {
        return Ok(None);
    }
    if let Some(key_hash) = &session.key_hash {
        match app.keys.key_of_hash(&app.store, key_hash.clone()).await {
            Ok(_) => {}
            Err(ApiError::Unauthorized) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    if !session.due_for_touch(now) {
        return Ok(Some(session));
    }
    let seen = session.seen(now);
    // Signed out meanwhile: the write finds nothing, and the session is over.
    Ok(repo::touch_session(&app.store, &hash, &seen)
        .await?
        .then_some(seen))
}

/// Ends the session `key` opens (nothing to end is fine).
pub async fn sign_out(app: &App, key: &SessionKey) -> Result<(), ApiError> {
    Ok(repo::delete_session(&app.store, &key.hash()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(TenantId::generate(), Role::Member, None)
    }

    #[test]
    fn a_session_idles_out_and_ends_whatever_happens() {
        let s = session();
        let start = s.created_at;
        assert!(!s.is_over(start));
        assert!(s.is_over(start + chrono::Duration::seconds(IDLE_SECONDS)));
        // used just before idling out: half an hour more
        let later = start + chrono::Duration::seconds(IDLE_SECONDS - 1);
        let seen = s.seen(later);
        assert!(!seen.is_over(later + chrono::Duration::seconds(IDLE_SECONDS - 1)));
        // never past its end, however often it is used
        let near_end = start + chrono::Duration::seconds(MAX_SECONDS - 10);
        let last = s.seen(near_end);
        assert_eq!(last.expires_at, s.ends_at);
        assert!(last.is_over(s.ends_at));
    }

    #[test]
    fn its_use_is_written_at_most_once_a_minute() {
        let s = session();
        assert!(!s.due_for_touch(s.seen_at + chrono::Duration::seconds(59)));
        assert!(s.due_for_touch(s.seen_at + chrono::Duration::seconds(TOUCH_EVERY_SECONDS)));
    }

    #[test]
    fn members_see_and_admins_act() {
        let mut s = session();
        assert!(!s.may_act());
        s.role = Role::Admin;
        assert!(s.may_act());
    }
}
