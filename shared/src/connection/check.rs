//! Connection health on demand (`POST /v1/connections/{id}/check`): the stored credentials
//! asked of the provider again. API-key and basic connections re-send their provider's
//! verification request (`credential::verify`); OAuth connections refresh their token, which
//! only a grant the provider still honours can do. A refusal moves the connection to
//! `needs_reauth` with a reconnect link and `connection.needs_reauth`, as a refused refresh
//! does; no verdict changes nothing but the record. Every check is recorded on the
//! connection (`last_checked_at`, `last_check_result`, `verified`).

use super::refresh::{self, RefreshError};
use super::{Connection, Status};
use crate::credential::verify::{self, Outcome, Verification};
use crate::credential::Credentials;
use crate::error::ApiError;
use crate::provider::{catalog, AuthMode, Provider};
use crate::store::Step;
use crate::{time, App};
use std::time::{Duration, SystemTime};

/// How a connection was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The provider's verification request, with the stored API key or basic credentials.
    VerifyRequest,
    /// A token refresh with the stored refresh token.
    TokenRefresh,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::VerifyRequest => "verify_request",
            Method::TokenRefresh => "token_refresh",
        }
    }
}

/// What a check found, and the connection as it is after it.
#[derive(Debug)]
pub struct Report {
    pub result: Outcome,
    /// Why there was no verdict (a status or an error class), or the provider's refusal code.
    pub detail: Option<String>,
    pub method: Method,
    pub checked_at: String,
    pub connection: Connection,
}

/// Any window is "due": a check always refreshes.
const ALWAYS: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// The reason a refused key gives `needs_reauth`, as `invalid_grant` does for OAuth.
pub const CREDENTIALS_REFUSED: &str = "credentials_refused";

fn uncheckable(message: &str) -> ApiError {
    ApiError::conflict(message)
}

/// Checks `connection` now. `base_url` and `deadline` as for a refresh (a reconnect link's
/// base, the invocation's end).
pub async fn run(
    app: &App,
    connection: Connection,
    base_url: &str,
    deadline: Option<SystemTime>,
) -> Result<Report, ApiError> {
    match connection.status {
        Status::Revoked => {
            return Err(uncheckable(
                "the connection is revoked; its credentials were destroyed",
            ))
        }
        Status::Pending => {
            return Err(uncheckable(
                "the connection has no credentials yet: its link was not completed",
            ))
        }
        _ if connection.disabled => return Err(super::disabled_conflict()),
        _ => {}
    }
    let Some(sealed) = connection.credentials_sealed.clone() else {
        return Err(uncheckable("the connection has no credentials to check"));
    };
    let provider_id = connection.provider.clone().unwrap_or_default();
    let provider = provider_of(app, &connection, &provider_id).await?;
    let provider = &*provider;
    let credentials = Credentials::open(
        app.sealer()?,
        &connection.tenant_id,
        connection.id.as_str(),
        &sealed,
    )
    .await?;
    let checked_at = time::format(&time::now());
    if matches!(
        provider.auth_mode,
        AuthMode::Oauth2 | AuthMode::Oauth2ClientCredentials
    ) {
        if connection.status == Status::NeedsReauth {
            return Err(uncheckable(
                "the connection already needs re-authorization: its grant was refused",
            ));
        }
        if provider.auth_mode == AuthMode::Oauth2
            && (credentials.refresh_token().is_none() || credentials.expires_at().is_none())
        {
            return Err(uncheckable(&format!(
                "{} issued no refresh token for this connection: there is nothing to check it with",
                provider.name
            )));
        }
        let refreshed =
            refresh::ensure_fresh(app, connection.clone(), ALWAYS, base_url, deadline).await;
        // The refreshed connection, when there is one, saves the record a re-read.
        let (result, detail, latest) = match refreshed {
            Ok((c, _, refresh::Outcome::Refreshed | refresh::Outcome::ReadBack)) => {
                (Outcome::Valid, None, c)
            }
            // Not started: too little time left in this invocation.
            Ok((c, _, refresh::Outcome::Kept)) => (
                Outcome::Unreachable,
                Some("not enough time left to refresh".to_owned()),
                c,
            ),
            Err(RefreshError::NeedsReauth(code)) => (Outcome::Refused, Some(code), connection),
            Err(RefreshError::Unavailable(why)) => (Outcome::Unreachable, Some(why), connection),
            Err(RefreshError::Api(e)) => return Err(e),
        };
        let verification = Verification::checked(result, checked_at.clone());
        let connection = record(app, &latest, &verification).await?;
        return Ok(Report {
            result,
            detail,
            method: Method::TokenRefresh,
            checked_at,
            connection,
        });
    }

    if provider.verify.is_none() {
        return Err(uncheckable(&format!(
            "{} offers no request to check credentials with",
            provider.name
        )));
    }
    let Some(checked) = verify::check(
        app,
        provider,
        &credentials.credential_values(),
        &credentials.connection_values(),
    )
    .await
    else {
        return Err(uncheckable("no check for this provider"));
    };
    let verification = Verification::checked(checked.outcome, checked_at.clone());
    let connection = if checked.outcome == Outcome::Refused && connection.status == Status::Active {
        match refresh::mark_needs_reauth(
            app,
            connection.clone(),
            None,
            CREDENTIALS_REFUSED,
            Some(&verification),
        )
        .await
        {
            Ok(Some(marked)) => marked,
            // Changed meanwhile (revoked, disabled): what it is now, with the record.
            Ok(None) => record(app, &connection, &verification).await?,
            Err(RefreshError::Api(e)) => return Err(e),
            Err(other) => return Err(ApiError::internal(other.to_string())),
        }
    } else {
        record(app, &connection, &verification).await?
    };
    Ok(Report {
        result: checked.outcome,
        detail: checked.detail,
        method: Method::VerifyRequest,
        checked_at,
        connection,
    })
}

/// The check's record on the connection, re-applied over any concurrent change (it only
/// adds what was found; a refused check has already moved the status).
async fn record(
    app: &App,
    connection: &Connection,
    verification: &Verification,
) -> Result<Connection, ApiError> {
    let written = app
        .store
        .retry_versioned(
            connection.clone(),
            move |current, _| async move { super::load(app, &current.tenant_id, &current.id).await },
            move |current| async move {
                // No verdict leaves what an earlier check confirmed standing.
                let verified = match verification.last.as_ref().map(|(o, _)| *o) {
                    Some(Outcome::Unreachable) => current.verified,
                    _ => verification.verified,
                };
                let next = Connection {
                    verified,
                    version: current.version + 1,
                    ..current.clone().with_verification(verification)
                };
                Ok::<_, ApiError>(Step::Write(
                    vec![next.replace_tx(&app.store, &current)?],
                    next,
                ))
            },
        )
        .await?;
    written.ok_or_else(super::modified_concurrently)
}

/// The connection's provider: the catalogue's, or a custom provider's definition as its
/// integration keeps it.
async fn provider_of(
    app: &App,
    connection: &Connection,
    provider_id: &str,
) -> Result<std::borrow::Cow<'static, Provider>, ApiError> {
    if let Some(p) = catalog()?.get(provider_id) {
        return Ok(std::borrow::Cow::Borrowed(p));
    }
    let integration = match &connection.integration_id {
        Some(id) => crate::integration::get(&app.store, &connection.tenant_id, id).await?,
        None => None,
    };
    match integration {
        Some(i) if i.provider_id() == provider_id => {
            Ok(std::borrow::Cow::Owned(i.provider()?.clone()))
        }
        _ => Err(ApiError::internal(format!(
            "unknown provider {provider_id}"
        ))),
    }
}
