//! CauseFlow's integrations API (`/compat/causeflow/v1`): list the tenant's integrations,
//! store API-key credentials, connect a provider. Our `/v1` routes grew from it, so the
//! operations are ours; the one rule that differs is that CauseFlow's connect *enables* a
//! provider the tenant has not enabled yet, where ours asks for the integration first.

pub mod api;

use crate::direct_connect::{self, ConnectRequest, Target};
use crate::error::ApiError;
use crate::id::{IntegrationId, TenantId};
use crate::idempotency::{Answer, Idempotency};
use crate::integration::{self, NewIntegration};
use crate::provider::catalog;
use crate::App;

/// What `named` (an integration id, or a provider id of the catalog) connects: the tenant's
/// integration, or, for a provider it has not enabled, that provider enabled by the connect's
/// own transaction (so a connect that fails enables nothing). One read, the one the native
/// connect makes to find the integration.
///
/// An integration the tenant turned inactive stays so (the connect refuses it): only a
/// provider never enabled is enabled here. An OAuth provider needs the tenant's own OAuth
/// app, so enabling one here is refused with what to create first.
async fn target(app: &App, tenant: &TenantId, named: &str) -> Result<Target, ApiError> {
    if IntegrationId::parse(named).is_some() {
        return Ok(Target::Named(named.to_owned()));
    }
    let Some(provider) = catalog()?.available(named, app.config.stage) else {
        // Not a provider: the connect says so in its own words.
        return Ok(Target::Named(named.to_owned()));
    };
    if let Some(id) = integration::id_for_provider(&app.store, tenant, &provider.id).await? {
        return Ok(Target::Named(id.to_string()));
    }
    match integration::enabling(app, tenant, NewIntegration::enabling(provider)).await {
        Ok(enabling) => Ok(Target::Enabling(Box::new(enabling))),
        Err(ApiError::Validation { details, .. }) => Err(ApiError::field(
            "provider",
            &format!(
                "{} connects with OAuth and is not enabled for this tenant: create its integration with the tenant's OAuth app first (POST /v1/integrations with {})",
                provider.name,
                details
                    .iter()
                    .map(|d| d.field.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        )),
        Err(other) => Err(other),
    }
}

/// CauseFlow's connect: enables the provider if need be, then connects it as ours does.
/// Answers the native connect's answer and the id of the integration connected.
pub async fn connect(
    app: &App,
    tenant: &TenantId,
    named: &str,
    request: ConnectRequest,
    base_url: &str,
    idempotency: Option<&Idempotency>,
) -> Result<(Answer, String), ApiError> {
    let first = target(app, tenant, named).await?;
    let enabling = matches!(first, Target::Enabling(_));
    let id_of = |t: &Target| match t {
        Target::Named(raw) => raw.clone(),
        Target::Enabling(e) => e.integration.id().to_string(),
    };
    let id = id_of(&first);
    match direct_connect::connect(app, tenant, first, request.clone(), base_url, idempotency).await
    {
        // A concurrent connect enabled the provider first: connect to that one.
        Err(ApiError::Conflict { .. }) if enabling => {
            let again = target(app, tenant, named).await?;
            let id = id_of(&again);
            let answer =
                direct_connect::connect(app, tenant, again, request, base_url, idempotency).await?;
            Ok((answer, id))
        }
        other => Ok((other?, id)),
    }
}
