//! Activation: a completed link (a submitted form, or an OAuth callback) makes its
//! connection active in one transaction with the link becoming granted and the event in
//! the outbox, so a link is used once and a connection is announced once.

use super::{Connection, Status};
use crate::credential::verify::Verification;
use crate::credential::Credentials;
use crate::error::ApiError;
use crate::event;
use crate::integration::{self, Integration};
use crate::link::{self, Link};
use crate::store::TxOutcome;
use crate::{time, App};
use serde_json::json;

/// Why a link of `connection` cannot complete now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Revoked, for good.
    Revoked,
    /// Disabled by the tenant, until enabled (the link stays open).
    Disabled,
}

/// Checked before any provider is called; the activation's transaction then holds the
/// connection to what was checked (its version).
pub fn refusal(connection: &Connection) -> Option<Refusal> {
    if connection.status == Status::Revoked {
        Some(Refusal::Revoked)
    } else if connection.disabled {
        Some(Refusal::Disabled)
    } else {
        None
    }
}

/// What became of an activation.
#[derive(Debug)]
pub enum Activation {
    /// Committed: the connection is active, the link granted.
    Active,
    /// The integration stopped being active meanwhile (the page may have found it in a
    /// warm cache).
    IntegrationInactive,
    /// Another connection holds the owner's connection to the provider (direct connect).
    HeldElsewhere,
    /// Someone used, revoked or changed the link or the connection first: the link as it
    /// is now, if it still exists.
    Lost(Option<Box<Link>>),
}

/// One transaction: the link becomes granted (if still open), the connection active with its
/// new credentials, and the outbox gets `connection.created` (first activation) or
/// `connection.updated` (re-authentication of the same connection, with its previous status).
///
/// `verification`: what the provider made of the credentials (see `credential::verify`).
///
/// `direct`: the flow began with a direct connect, whose hold on the owner's one live
/// connection to the provider must still be this connection's (and becomes it).
pub async fn activate(
    app: &App,
    link: &Link,
    connection: Connection,
    integration: &Integration,
    credentials: &Credentials,
    verification: &Verification,
    direct: bool,
) -> Result<Activation, ApiError> {
    let sealed = credentials
        .seal(app.sealer()?, &link.tenant_id, connection.id.as_str())
        .await?;
    let now = time::now();
    let first = connection.activated_at.is_none();
    let next = Connection {
        status: Status::Active,
        credentials_sealed: Some(sealed),
        token_expires_at: credentials.expires_at().map(|e| time::format(&e)),
        refreshable: credentials.renewable(),
        refresh_lease: None,
        refresh_lease_until: None,
        reauth_reason: None,
        integration_id: Some(integration.id().clone()),
        provider: Some(integration.provider_id().to_owned()),
        open_link_id: None,
        activated_at: connection
            .activated_at
            .clone()
            .or_else(|| Some(time::format(&now))),
        updated_at: now,
        scopes: link.scopes.clone(),
        granted_scopes: granted_scopes(credentials, link, integration)?,
        version: connection.version + 1,
        ..connection.clone()
    }
    .with_verification(verification);
    let kind = if first {
        event::CONNECTION_CREATED
    } else {
        event::CONNECTION_UPDATED
    };
    let mut items = vec![
        link::granted_tx(&app.store, &link.id, integration.id(), now)?,
        link::drop_expiry_tx(&app.store, &link.id)?,
        next.replace_tx(&app.store, &connection)?,
        // The page may have found it in a warm cache: it must still be active now.
        integration::active_tx(&app.store, &link.tenant_id, integration.id())?,
        event::outbox(
            &app.store,
            &link.tenant_id,
            kind,
            json!({
                "connection": next.to_json()?,
                "link_id": link.id,
                "change": if first { "activated" } else { "reauthenticated" },
                "previous_status": connection.status,
            }),
        )?,
    ];
    let held_at = items.len();
    if direct {
        items.push(super::guard::confirm_hold_tx(&app.store, &connection)?);
    }
    let outcome = app.store.transact(items).await?;
    if outcome.failed_condition(3) {
        return Ok(Activation::IntegrationInactive);
    }
    if direct && outcome.failed_condition(held_at) {
        return Ok(Activation::HeldElsewhere);
    }
    if let TxOutcome::Cancelled(_) = outcome {
        return Ok(Activation::Lost(
            link::find(app, &link.id).await?.map(Box::new),
        ));
    }
    Ok(Activation::Active)
}

/// What an OAuth provider granted: its `scope` answer (split on its separator, or on
/// spaces, which RFC 6749 uses), else what was asked for. None for other kinds.
fn granted_scopes(
    credentials: &Credentials,
    link: &Link,
    integration: &Integration,
) -> Result<Option<Vec<String>>, ApiError> {
    if credentials.auth_mode != crate::provider::AuthMode::Oauth2 {
        return Ok(None);
    }
    if let Some(scope) = credentials.text("scope") {
        let granted: Vec<String> = scope
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        return Ok(Some(granted));
    }
    Ok(Some(match &link.scopes {
        Some(asked) => asked.clone(),
        None => integration.scopes()?,
    }))
}
