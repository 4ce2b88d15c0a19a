//! Ending a grant at the provider when a connection is revoked (RFC 7009), where the catalog
//! names the provider's revocation endpoint. Our side is revoked first and for good (the
//! tokens are erased in that write); the provider is then told once, and the answer says how
//! that went, so a platform can follow up with the provider when it failed.

use super::Connection;
use crate::credential::Credentials;
use crate::integration;
use crate::oauth::{callback_url, OAuthApp, Revocable, TokenError};
use crate::provider::AuthMode;
use crate::App;
use serde::Serialize;

/// What became of the grant at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderRevocation {
    /// The provider confirmed: its refresh (else access) token no longer works.
    Revoked,
    /// The provider refused or could not be reached; our copy is erased regardless.
    Failed,
    /// The provider offers no RFC 7009 endpoint: the grant ends when its tokens expire, or
    /// when the user removes the app at the provider.
    NotOffered,
    /// Nothing to revoke: no OAuth tokens were held (not connected, API keys, or revoked
    /// before).
    NotNeeded,
}

/// Revokes the grant behind `erased`, the connection as it was before revocation erased its
/// credentials.
pub async fn revoke_grant(app: &App, erased: &Connection, base_url: &str) -> ProviderRevocation {
    match try_revoke(app, erased, base_url).await {
        Ok(outcome) => outcome,
        Err(reason) => {
            tracing::warn!(connection_id = %erased.id, %reason, "the provider did not revoke the grant");
            ProviderRevocation::Failed
        }
    }
}

async fn try_revoke(
    app: &App,
    erased: &Connection,
    base_url: &str,
) -> Result<ProviderRevocation, String> {
    let (Some(sealed), Some(integration_id)) = (&erased.credentials_sealed, &erased.integration_id)
    else {
        return Ok(ProviderRevocation::NotNeeded);
    };
    let Some(integration) = integration::get(&app.store, &erased.tenant_id, integration_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(ProviderRevocation::NotOffered);
    };
    let provider = integration.provider().map_err(|e| e.to_string())?;
    if provider.auth_mode != AuthMode::Oauth2 {
        return Ok(ProviderRevocation::NotNeeded);
    }
    if provider
        .oauth
        .as_ref()
        .is_none_or(|o| o.revocation_url.is_none())
    {
        return Ok(ProviderRevocation::NotOffered);
    }
    let sealer = app.sealer().map_err(|e| e.to_string())?;
    let credentials = Credentials::open(sealer, &erased.tenant_id, erased.id.as_str(), sealed)
        .await
        .map_err(|e| e.to_string())?;
    let oauth = OAuthApp::new(
        app,
        &integration,
        &credentials.connection_values(),
        &callback_url(base_url),
    )
    .await
    .map_err(|e| e.to_string())?;
    let refresh = credentials
        .refresh_token()
        .map(|t| crate::secret::Secret::new(t.to_owned()));
    let access = credentials
        .text("access_token")
        .map(|t| crate::secret::Secret::new(t.to_owned()));
    let token = match (&refresh, &access) {
        (Some(r), _) => Revocable::Refresh(r),
        (None, Some(a)) => Revocable::Access(a),
        (None, None) => return Ok(ProviderRevocation::NotNeeded),
    };
    let http = oauth.http(app).map_err(|e| e.to_string())?;
    match oauth.revoke(http, token).await {
        Ok(()) => {
            tracing::info!(connection_id = %erased.id, "the provider revoked the grant");
            Ok(ProviderRevocation::Revoked)
        }
        Err(TokenError::Refused { code }) => Err(format!("refused: {code}")),
        Err(TokenError::Unavailable { reason, .. }) => Err(format!("unavailable: {reason}")),
    }
}
