//! Keeping OAuth credentials alive.
//!
//! A credentials read refreshes a token that expires within five minutes; the scheduled
//! refresher (every five minutes) refreshes those expiring within fifteen. Refresh is
//! single-flight: a conditional lease on the connection item means two containers never
//! call the provider for the same connection at once (a provider that rotates refresh tokens
//! would invalidate the loser's); a loser waits and re-reads what the winner stored.
//! A refusal (`invalid_grant`, revoked app) moves the connection to `needs_reauth` with a
//! fresh reconnect link and `connection.needs_reauth`; an outage is retried with backoff and
//! never changes the status.

use crate::connection::{self, Connection, Status};
use crate::credential::Credentials;
use crate::error::ApiError;
use crate::event;
use crate::integration;
use crate::link::{LinkOptions, NewLink};
use crate::oauth::{callback_url, OAuthApp, TokenError, Tokens};
use crate::secret::random_bytes;
use crate::store::Step;
use crate::{settings, time, App};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// A read refreshes tokens that expire sooner than this.
pub const READ_WINDOW: Duration = Duration::from_secs(5 * 60);
/// The scheduled refresher takes tokens that expire sooner than this.
pub const SCHEDULE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Backoff between attempts after an outage (the first attempt is immediate).
const BACKOFF: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Sealing the new tokens and writing them, at their slowest.
const AFTER_PROVIDER: Duration = Duration::from_secs(5);
/// How much longer than the worst case a lease lasts.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The longest one refresh can take when a token call may take `token_timeout`: every
/// attempt at that limit, every pause at its longest (a `Retry-After` counts up to
/// MAX_RETRY_AFTER), then sealing and storing.
pub fn worst_case(token_timeout: Duration) -> Duration {
    let attempts = u32::try_from(BACKOFF.len() + 1).unwrap_or(u32::MAX);
    token_timeout.saturating_mul(attempts)
        + BACKOFF
            .iter()
            .map(|b| (*b).max(MAX_RETRY_AFTER))
            .sum::<Duration>()
        + AFTER_PROVIDER
}

/// The lease outlives the worst case, so no one else calls the provider while its holder
/// may still be working (a provider that rotates refresh tokens would void the loser's);
/// a holder that died frees it by expiry.
pub fn lease(token_timeout: Duration) -> Duration {
    worst_case(token_timeout) + LEASE_MARGIN
}

/// Time left before `deadline` (the invocation's end), none once it passed.
fn remaining(deadline: SystemTime) -> Duration {
    deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}
/// How long a loser waits for the winner before giving up on this read.
const WAIT_STEP: Duration = Duration::from_millis(200);
const WAIT_STEPS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The provider refused the grant; the connection is now `needs_reauth`.
    #[error("the provider refused the stored grant ({0})")]
    NeedsReauth(String),
    /// The provider could not be reached; nothing changed.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<crate::store::StoreError> for RefreshError {
    fn from(e: crate::store::StoreError) -> Self {
        RefreshError::Api(e.into())
    }
}

/// What a refresh attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The stored token was fresh enough (or cannot be refreshed): nothing called.
    Kept,
    /// This call refreshed it.
    Refreshed,
    /// Another container refreshed it meanwhile; its result was read back.
    ReadBack,
}

fn due(credentials: &Credentials, window: Duration) -> bool {
    let Some(expires) = credentials.expires_at() else {
        // a client-credentials connection without a token yet gets its first now
        return credentials.auth_mode == crate::provider::AuthMode::Oauth2ClientCredentials
            && credentials.renewable();
    };
    let window = chrono::Duration::from_std(window).unwrap_or_default();
    credentials.renewable() && expires - window <= time::now()
}

async fn open(app: &App, c: &Connection) -> Result<Credentials, ApiError> {
    let sealed = c
        .credentials_sealed
        .as_deref()
        .ok_or_else(|| ApiError::conflict("the connection has no credentials"))?;
    Credentials::open(app.sealer()?, &c.tenant_id, c.id.as_str(), sealed).await
}

async fn reload(app: &App, c: &Connection) -> Result<Connection, ApiError> {
    connection::get(&app.store, &c.tenant_id, &c.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("the connection disappeared".into()))
}

/// The connection's credentials, refreshed first if they expire within `window`.
/// `base_url` is where a reconnect link would point, should the provider refuse.
/// `deadline` is when the invocation ends: a refresh that might not finish by then is not
/// started (the process killed after the provider rotated the refresh token, before it was
/// stored, would lose the grant), and a wait for another's refresh ends before it.
pub async fn ensure_fresh(
    app: &App,
    mut current: Connection,
    window: Duration,
    base_url: &str,
    deadline: Option<SystemTime>,
) -> Result<(Connection, Credentials, Outcome), RefreshError> {
    let mut waited = false;
    let worst = worst_case(app.config.oauth_timeout);
    let lease_seconds =
        i64::try_from(lease(app.config.oauth_timeout).as_secs()).unwrap_or(i64::MAX);
    for _ in 0..WAIT_STEPS {
        if deadline.is_some_and(|d| remaining(d) < WAIT_STEP + AFTER_PROVIDER) {
            break;
        }
        if current.disabled {
            // paused by the tenant: no call to the provider on its behalf
            return Err(ApiError::conflict("the connection is disabled").into());
        }
        match current.status {
            Status::NeedsReauth => {
                return Err(RefreshError::NeedsReauth(
                    current.reauth_reason.clone().unwrap_or_default(),
                ))
            }
            Status::Active => {}
            _ => return Err(ApiError::conflict("the connection is not active").into()),
        }
        let credentials = open(app, &current).await?;
        if !due(&credentials, window) {
            let outcome = if waited {
                Outcome::ReadBack
            } else {
                Outcome::Kept
            };
            return Ok((current, credentials, outcome));
        }
        let now = time::now().timestamp();
        if current.refresh_lease_until.is_some_and(|until| until > now) {
            // Someone else is refreshing: wait for what they store.
            waited = true;
            tokio::time::sleep(WAIT_STEP).await;
            current = reload(app, &current).await?;
            continue;
        }
        if deadline.is_some_and(|d| remaining(d) < worst) {
            // Not enough time left to finish one: the scheduled refresher will.
            return keep_while_valid(current, credentials, "too little time left to refresh");
        }
        let lease = hex::encode(
            random_bytes::<16>().map_err(|e| ApiError::internal(format!("no randomness: {e}")))?,
        );
        let acquired = connection::repo::take_lease(
            &app.store,
            &current,
            &lease,
            now.saturating_add(lease_seconds),
            now,
        )
        .await?;
        if !acquired {
            waited = true;
            current = reload(app, &current).await?;
            continue;
        }
        let locked = Connection {
            refresh_lease: Some(lease.clone()),
            refresh_lease_until: Some(now.saturating_add(lease_seconds)),
            version: current.version + 1,
            ..current
        };
        return refresh_locked(app, locked, credentials, &lease, base_url).await;
    }
    // The holder is slow: a still-valid token is better than an error.
    let credentials = open(app, &current).await?;
    keep_while_valid(current, credentials, "another refresh is still running")
}

/// The stored token while it still works, else "retry later" saying `why`.
fn keep_while_valid(
    current: Connection,
    credentials: Credentials,
    why: &str,
) -> Result<(Connection, Credentials, Outcome), RefreshError> {
    match credentials.expires_at() {
        Some(e) if e > time::now() => Ok((current, credentials, Outcome::Kept)),
        _ => Err(RefreshError::Unavailable(why.into())),
    }
}

/// The refresh grant (the client-credentials grant for such a connection), retried with
/// backoff while the provider is unavailable.
async fn call_provider(
    app: &App,
    connection: &Connection,
    credentials: &Credentials,
    base_url: &str,
) -> Result<Tokens, RefreshError> {
    let integration_id = connection
        .integration_id
        .as_ref()
        .ok_or_else(|| ApiError::internal("an OAuth connection without integration"))?;
    let integration = integration::get(&app.store, &connection.tenant_id, integration_id)
        .await?
        .ok_or_else(|| ApiError::internal("the connection's integration is gone"))?;
    // A client-credentials connection renews with the customer's own client; an OAuth one
    // with the tenant's app and its refresh token.
    let client = match credentials.auth_mode {
        crate::provider::AuthMode::Oauth2ClientCredentials => Some(
            credentials
                .text("client_id")
                .zip(credentials.text("client_secret"))
                .ok_or_else(|| {
                    ApiError::internal("a client-credentials connection without its client")
                })?,
        ),
        _ => None,
    };
    let built = match client {
        Some((id, secret)) => OAuthApp::for_client(
            app,
            integration.provider()?,
            &credentials.connection_values(),
            id,
            crate::secret::Secret::new(secret.to_owned()),
        ),
        None => {
            OAuthApp::new(
                app,
                &integration,
                &credentials.connection_values(),
                &callback_url(base_url),
            )
            .await
        }
    };
    let oauth = match built {
        Ok(o) => o,
        Err(ApiError::Conflict { message, .. }) => return Err(RefreshError::Unavailable(message)),
        Err(e) => return Err(e.into()),
    };
    let refresh_token = credentials.refresh_token().unwrap_or_default();
    let mut last = String::new();
    for attempt in 0..=BACKOFF.len() {
        let asked = match client {
            Some(_) => oauth.client_credentials(oauth.http(app)?).await,
            None => oauth.refresh(oauth.http(app)?, refresh_token).await,
        };
        match asked {
            Ok(tokens) => return Ok(tokens),
            Err(TokenError::Refused { code }) => return Err(RefreshError::NeedsReauth(code)),
            Err(TokenError::Unavailable {
                reason,
                retry_after,
            }) => {
                tracing::warn!(connection_id = %connection.id, attempt, %reason, "token refresh failed; may pass");
                last = reason;
                if let Some(pause) = BACKOFF.get(attempt) {
                    let pause = retry_after.map_or(*pause, |r| r.min(MAX_RETRY_AFTER).max(*pause));
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
    Err(RefreshError::Unavailable(last))
}

async fn refresh_locked(
    app: &App,
    locked: Connection,
    credentials: Credentials,
    lease: &str,
    base_url: &str,
) -> Result<(Connection, Credentials, Outcome), RefreshError> {
    let result = call_provider(app, &locked, &credentials, base_url).await;
    match result {
        Ok(tokens) => {
            let next_credentials = Credentials::from_tokens(
                tokens,
                &credentials.provider,
                credentials.connection_fields.clone(),
                Some(&credentials),
            );
            let sealed = next_credentials
                .seal(app.sealer()?, &locked.tenant_id, locked.id.as_str())
                .await?;
            let stored = write_if_leased(app, &locked, lease, |c| Connection {
                credentials_sealed: Some(sealed.clone()),
                token_expires_at: next_credentials.expires_at().map(|e| time::format(&e)),
                refreshable: next_credentials.renewable(),
                ..c.clone()
            })
            .await?;
            match stored {
                Some(c) => Ok((c, next_credentials, Outcome::Refreshed)),
                // Revoked or changed under us: the new token is not ours to keep.
                None => Err(ApiError::conflict("the connection changed during refresh").into()),
            }
        }
        Err(RefreshError::NeedsReauth(code)) => {
            mark_needs_reauth(app, locked, Some(lease), &code, None).await?;
            Err(RefreshError::NeedsReauth(code))
        }
        Err(other) => {
            release(app, &locked, lease).await?;
            Err(other)
        }
    }
}

/// Puts `change(current)` without the lease, as long as we still hold it; re-reads and
/// reapplies when another writer (a metadata PATCH) got in between.
async fn write_if_leased(
    app: &App,
    locked: &Connection,
    lease: &str,
    change: impl Fn(&Connection) -> Connection,
) -> Result<Option<Connection>, RefreshError> {
    let change = &change;
    let written = app
        .store
        .retry_versioned(
            locked.clone(),
            move |current, _| async move { Ok::<_, RefreshError>(reload(app, &current).await?) },
            move |current| async move {
                let current = &current;
                if current.refresh_lease.as_deref() != Some(lease)
                    || current.status != Status::Active
                {
                    return Ok(Step::Done(None));
                }
                let next = Connection {
                    refresh_lease: None,
                    refresh_lease_until: None,
                    updated_at: time::now(),
                    version: current.version + 1,
                    ..change(current)
                };
                Ok(Step::Write(
                    vec![next.replace_tx(&app.store, current)?],
                    Some(next),
                ))
            },
        )
        .await?;
    Ok(written.flatten())
}

async fn release(app: &App, locked: &Connection, lease: &str) -> Result<(), RefreshError> {
    connection::repo::release_lease(&app.store, locked, lease).await?;
    Ok(())
}

/// `needs_reauth`, a fresh link for the same connection, the old link revoked, and the event
/// naming the new link: one transaction. A refresh holds `lease` (and only while it still
/// does is the connection marked); a check that found the credentials refused records what
/// it found (`check`) with the change.
pub(crate) async fn mark_needs_reauth(
    app: &App,
    locked: Connection,
    lease: Option<&str>,
    reason: &str,
    check: Option<&crate::credential::verify::Verification>,
) -> Result<Option<Connection>, RefreshError> {
    let settings = settings::load(&app.store, &locked.tenant_id).await?;
    let settings = &settings;
    let marked = app
        .store
        .retry_versioned(
            locked,
            move |current, _| async move { Ok::<_, RefreshError>(reload(app, &current).await?) },
            move |current| async move {
                let current = &current;
                if lease.is_some_and(|l| current.refresh_lease.as_deref() != Some(l))
                    || current.status != Status::Active
                {
                    return Ok(Step::Done(None));
                }
                let new_link = NewLink::generate(
                    &current.tenant_id,
                    &current.id,
                    current.consumer_id.as_ref(),
                    current.integration_id.as_ref(),
                    LinkOptions {
                        redirect_url: None,
                        redirect: false,
                        ttl_seconds: settings.link_ttl_seconds(),
                        reminders: Some(settings.reminders.schedule.clone()),
                        lang: crate::connection::link_lang(
                            app,
                            &current.tenant_id,
                            current.consumer_id.as_ref(),
                            None,
                        )
                        .await?,
                        ids_as_uuid: false,
                        // the reconnect asks for what the connection was granted with
                        scopes: current.scopes.clone(),
                    },
                )?;
                let next = Connection {
                    status: Status::NeedsReauth,
                    reauth_reason: Some(reason.to_owned()),
                    open_link_id: Some(new_link.link.id.clone()),
                    refresh_lease: None,
                    refresh_lease_until: None,
                    updated_at: time::now(),
                    version: current.version + 1,
                    ..current.clone()
                };
                let next = match check {
                    Some(v) => next.with_verification(v),
                    None => next,
                };
                let mut items = vec![next.replace_tx(&app.store, current)?];
                items.extend(connection::revoke_open_link(&app.store, current).await?);
                items.extend(new_link.items(&app.store)?);
                items.push(event::outbox(
                    &app.store,
                    &current.tenant_id,
                    event::CONNECTION_NEEDS_REAUTH,
                    json!({
                        "connection": next.to_json()?,
                        "reason": reason,
                        // Named, never carried: a link's token exists at rest only as its
                        // hash, and events sit in the outbox, delivery log and queues for days.
                        "reconnect_link": new_link.link.to_json(new_link.link.created_at),
                    }),
                )?);
                Ok(Step::Write(items, Some(next)))
            },
        )
        .await?;
    match marked {
        Some(Some(next)) => {
            tracing::warn!(connection_id = %next.id, %reason, "connection needs re-authorization");
            Ok(Some(next))
        }
        Some(None) => Ok(None),
        None => Err(ApiError::conflict("the connection kept changing; retry").into()),
    }
}

/// The scheduled refresher: every connection whose token expires within the window, a few
/// at a time. Returns counts for the log and the caller.
pub async fn sweep(app: &App, deadline: SystemTime) -> Result<Value, ApiError> {
    let upto = time::format(
        &(time::now() + chrono::Duration::from_std(SCHEDULE_WINDOW).unwrap_or_default()),
    );
    let base = app.config.public_base_url.clone().unwrap_or_default();
    let due_connections = connection::repo::due_for_refresh(&app.store, &upto).await?;
    use futures_util::StreamExt;
    let results: Vec<&str> = futures_util::stream::iter(due_connections)
        .map(|c| {
            let base = base.clone();
            async move {
                // A stale index entry (the item changed since the query) is re-read first.
                let current = match connection::get(&app.store, &c.tenant_id, &c.id).await {
                    Ok(Some(current)) => current,
                    Ok(None) => return "skipped",
                    Err(_) => return "failed",
                };
                if current.disabled {
                    return "disabled";
                }
                match ensure_fresh(app, current, SCHEDULE_WINDOW, &base, Some(deadline)).await {
                    Ok((_, _, Outcome::Refreshed)) => "refreshed",
                    Ok((_, _, _)) => "skipped",
                    Err(RefreshError::NeedsReauth(_)) => "needs_reauth",
                    Err(RefreshError::Unavailable(_)) => "unavailable",
                    Err(RefreshError::Api(e)) => {
                        tracing::error!(connection_id = %c.id, error = %e, "refresh failed");
                        "failed"
                    }
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for r in results {
        *counts.entry(r).or_default() += 1;
    }
    tracing::info!(?counts, "refresh sweep done");
    Ok(json!(counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::AuthMode;
    use serde_json::Map;

    /// Whatever the token timeout is set to (1 to 60 s), a lease outlasts the longest refresh
    /// its holder can run, and that covers every attempt and every pause.
    #[test]
    fn a_lease_outlasts_the_slowest_refresh_at_any_token_timeout() {
        for seconds in 1..=60 {
            let t = Duration::from_secs(seconds);
            let attempts = Duration::from_secs(seconds * 3);
            let pauses = MAX_RETRY_AFTER * 2;
            assert!(worst_case(t) >= attempts + pauses, "{seconds} s");
            assert!(lease(t) > worst_case(t), "{seconds} s");
        }
    }

    #[test]
    fn no_time_left_is_no_time() {
        assert_eq!(
            remaining(SystemTime::now() - Duration::from_secs(1)),
            Duration::ZERO
        );
        assert!(remaining(SystemTime::now() + Duration::from_secs(60)) > Duration::from_secs(59));
    }

    fn oauth(expires_in: Option<i64>, refresh: bool) -> Credentials {
        let mut values = Map::new();
        values.insert("access_token".into(), json!("a"));
        if refresh {
            values.insert("refresh_token".into(), json!("r"));
        }
        if let Some(s) = expires_in {
            let at = time::now() + chrono::Duration::seconds(s);
            values.insert("expires_at".into(), json!(time::format(&at)));
        }
        Credentials {
            auth_mode: AuthMode::Oauth2,
            provider: "github".into(),
            values,
            connection_fields: Map::new(),
            raw: None,
        }
    }

    #[test]
    fn due_only_within_the_window_and_only_with_a_refresh_token() {
        assert!(due(&oauth(Some(120), true), READ_WINDOW));
        assert!(due(&oauth(Some(-10), true), READ_WINDOW), "already expired");
        assert!(!due(&oauth(Some(600), true), READ_WINDOW));
        assert!(due(&oauth(Some(600), true), SCHEDULE_WINDOW));
        assert!(!due(&oauth(Some(3600), true), SCHEDULE_WINDOW));
        assert!(
            !due(&oauth(Some(60), false), READ_WINDOW),
            "nothing to refresh with"
        );
        assert!(!due(&oauth(None, true), READ_WINDOW), "no known expiry");
    }
}
