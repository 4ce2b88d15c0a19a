//! Chift's consumers-and-connections API (`/compat/chift`, the `url_base` its Python SDK
//! takes): a token from `POST /token`, the tenant's integrations and their logos, consumers,
//! and a consumer's connections, whose creation answers the activation link `{url}`.
//!
//! Chift names things differently, and this module holds how its names map to ours:
//! - consumers and connections by UUID: the same 128 bits as our ids (`id::…::to_uuid`), so
//!   nothing is looked up to translate one;
//! - connectors (`integrationid`) by integer: a number per provider of our catalog, derived
//!   from its id ([`integration_number`]);
//! - a connection is `active` or `inactive` (every other status of ours);
//! - the account (`accountId`) is our tenant, its client id and secret an API key's id and
//!   the key itself, traded for a short-lived token (`access_token`).

pub mod api;

use crate::api_key::Principal;
use crate::connection::{Connection, Status};
use crate::error::{ApiError, FieldError};
use crate::fields::Fields;
use crate::id::{ApiKeyId, TenantId};
use crate::provider::{catalog, Provider};
use crate::App;
use serde_json::{json, Value};

/// Chift's number for one of our providers (`compat::provider_number`).
pub use super::provider_number as integration_number;
pub use super::provider_numbered;

/// Chift's `api` (the vertical a connector belongs to) for one of our categories; what
/// Chift has no vertical for is `Custom`.
pub fn api_of(category: &str) -> &'static str {
    match category {
        "accounting" => "Accounting",
        "commerce" => "eCommerce",
        "payments" => "Payment",
        "communication" => "Communication",
        _ => "Custom",
    }
}

/// A consumer (our JSON) as Chift's `ConsumerItem`.
pub fn consumer_item(native: &Value) -> Value {
    json!({
        "consumerid": native["id"]
            .as_str()
            .and_then(crate::id::ConsumerId::parse)
            .map(|id| id.to_uuid()),
        "name": native["name"],
        "email": native["email"],
        "internal_reference": native["internal_reference"],
        "redirect_url": native["redirect_url"],
        "created_on": native["created_at"],
    })
}

/// A connection as Chift's `ConnectionItem`, if Chift would show it: one with a connector
/// chosen (Chift has no connection before that), and not deleted (revoked).
pub fn connection_item(c: &Connection) -> Result<Option<Value>, ApiError> {
    let Some(provider) = c.provider.as_deref() else {
        return Ok(None);
    };
    if c.status == Status::Revoked {
        return Ok(None);
    }
    let Some(p) = catalog()?.get(provider) else {
        return Ok(None);
    };
    let active = c.status == Status::Active && !c.disabled;
    Ok(Some(json!({
        "connectionid": c.id.to_uuid(),
        "name": c.name,
        "integration": p.name,
        "integrationid": integration_number(&p.id),
        "api": api_of(&p.category),
        "data": c.metadata().map_err(ApiError::from)?,
        "status": if active { "active" } else { "inactive" },
    })))
}

/// A provider as Chift's `IntegrationItem`; `active` when the tenant has it enabled.
/// `base` is where our logo routes are served.
pub fn integration_item(p: &Provider, active: bool, base: &str) -> Value {
    let number = integration_number(&p.id);
    let credentials: Vec<Value> = p
        .credential_fields
        .iter()
        .chain(&p.connection_fields)
        .map(|f| json!({"name": f.name, "optional": false}))
        .collect();
    json!({
        "integrationid": number,
        "name": p.name,
        "description": null,
        "status": if active { "active" } else { "inactive" },
        "api": api_of(&p.category),
        "logo_url": format!("{base}/compat/chift/integrations/{number}/logo.json"),
        "icon_url": format!("{base}/compat/chift/integrations/{number}/icon.json"),
        "credentials": credentials,
    })
}

/// A `POST /token` body: `{clientId, clientSecret, accountId}` (and the `marketplaceId` or
/// `envId` a client may add, which name nothing here and are ignored).
pub struct TokenRequest {
    client_id: String,
    client_secret: crate::secret::Secret,
    account_id: String,
}

impl TokenRequest {
    pub fn parse(body: Value) -> Result<TokenRequest, ApiError> {
        let mut f = Fields::new(
            body,
            &[
                "clientId",
                "clientSecret",
                "accountId",
                "marketplaceId",
                "envId",
            ],
        )?;
        let text = |v: &Value| {
            v.as_str()
                .filter(|s| !s.is_empty() && s.len() <= 256)
                .map(String::from)
                .ok_or_else(|| "must be a non-empty string".to_string())
        };
        let client_id = f.required("clientId", text);
        let client_secret = f.required("clientSecret", text);
        let account_id = f.required("accountId", text);
        let _ = f.optional("marketplaceId", |_| Ok::<(), String>(()));
        let _ = f.optional("envId", |_| Ok::<(), String>(()));
        f.finish()?;
        match (client_id, client_secret, account_id) {
            (Some(client_id), Some(secret), Some(account_id)) => Ok(TokenRequest {
                client_id,
                client_secret: crate::secret::Secret::new(secret),
                account_id,
            }),
            _ => Err(ApiError::validation(
                "invalid request body",
                vec![FieldError::new("clientSecret", "is required")],
            )),
        }
    }
}

/// Trades an API key for an access token (Chift's `Token`): the key authenticates as any
/// request's would (one read, none while cached), and must be the key `clientId` names, of
/// the tenant `accountId` names (in our form or as a UUID). Any mismatch is the same 401.
pub async fn issue_token(app: &App, request: TokenRequest) -> Result<Value, ApiError> {
    let principal: Principal = app
        .authenticate(Some(&format!("Bearer {}", request.client_secret.expose())))
        .await?;
    let key_matches = ApiKeyId::parse(&request.client_id)
        .or_else(|| ApiKeyId::from_uuid(&request.client_id))
        .is_some_and(|k| k == principal.key_id);
    let tenant_matches = TenantId::parse(&request.account_id)
        .or_else(|| TenantId::from_uuid(&request.account_id))
        .is_some_and(|t| t == principal.tenant_id);
    if !key_matches || !tenant_matches {
        return Err(ApiError::Unauthorized);
    }
    let now = crate::time::now().timestamp();
    let (token, expires_on) = crate::access_token::issue(
        app.sealer()?,
        &principal,
        request.client_secret.expose(),
        now,
    )
    .await?;
    Ok(json!({
        "access_token": token.expose(),
        "token_type": "bearer",
        "expires_in": expires_on - now,
        "expires_on": expires_on,
    }))
}

/// A `PostConnectionItem` as our connection create's body. `integrationid` names one of
/// our providers by Chift's number, which the tenant must have enabled (one read: the
/// provider's integration); without one the customer picks on our marketplace. `credentials`
/// (a connection made from values the platform holds) is refused: `POST /v1/connections`
/// imports those. `country` and `apis` narrow Chift's marketplace; ours is the tenant's
/// enabled integrations, so they are taken and ignored.
pub async fn native_connection(
    app: &App,
    tenant: &TenantId,
    body: Value,
    redirect: bool,
) -> Result<Value, ApiError> {
    let mut f = Fields::new(
        body,
        &[
            "integrationid",
            "name",
            "credentials",
            "country",
            "redirect",
            "apis",
        ],
    )?;
    let number = f.optional("integrationid", |v| {
        v.as_u64().ok_or_else(|| "must be an integer".to_string())
    });
    let name = f.optional("name", |v| {
        v.as_str()
            .map(String::from)
            .ok_or_else(|| "must be a string".to_string())
    });
    let _ = f.optional("credentials", |v| match v {
        Value::Null => Ok(()),
        _ => Err("is not supported here: import a connection from credentials you hold with POST /v1/connections".to_string()),
    });
    let _ = f.optional("country", |_| Ok::<(), String>(()));
    let _ = f.optional("apis", |_| Ok::<(), String>(()));
    let _ = f.optional("redirect", |_| Ok::<(), String>(()));
    f.finish()?;
    let mut native = json!({"redirect": redirect});
    let provider = match number {
        None => None,
        Some(n) => Some(provider_numbered(n, app.config.stage)?.ok_or_else(|| {
            ApiError::field("integrationid", "names no integration of this account")
        })?),
    };
    if let Some(p) = provider {
        // One read (the provider's guard); the create then checks it is active.
        let id = crate::integration::id_for_provider(&app.store, tenant, &p.id)
            .await?
            .ok_or_else(|| {
                ApiError::field(
                    "integrationid",
                    "is not active for this account: enable it first (POST /v1/integrations)",
                )
            })?;
        native["integration_id"] = json!(id);
    }
    native["name"] = json!(name
        .unwrap_or_else(|| provider.map_or_else(|| "Connection".to_owned(), |p| p.name.clone())));
    Ok(native)
}

/// A `PatchConnectionItem` (Chift's resend) as our new link's body. Only `redirect` means
/// something to a new link; `name` and `credentials` change the connection itself, which
/// this route does not (`PATCH /v1/connections/{id}` renames one), so they are refused
/// rather than dropped.
pub fn native_link_request(body: Value, redirect: bool) -> Result<Value, ApiError> {
    let mut f = Fields::new(body, &["redirect", "name", "credentials"])?;
    let _ = f.optional("redirect", |_| Ok::<(), String>(()));
    let refuse = |v: &Value| match v {
        Value::Null => Ok(()),
        _ => Err(
            "is not supported by a resend: PATCH /v1/connections/{id} changes the connection"
                .to_string(),
        ),
    };
    let _ = f.optional("name", refuse);
    let _ = f.optional("credentials", refuse);
    f.finish()?;
    Ok(json!({"redirect": redirect}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_its_own_six_digit_number() {
        let mut seen = std::collections::BTreeMap::new();
        for p in catalog().unwrap().providers() {
            let n = integration_number(&p.id);
            assert!((100_000..1_000_000).contains(&n), "{}: {n}", p.id);
            if let Some(other) = seen.insert(n, p.id.clone()) {
                panic!("{} and {other} share {n}", p.id);
            }
        }
        assert_eq!(integration_number("datadog"), integration_number("datadog"));
    }

    #[test]
    fn a_number_names_its_provider_back() {
        let stage = crate::config::Stage::Local;
        for p in catalog().unwrap().providers() {
            let n = u64::from(integration_number(&p.id));
            assert_eq!(
                provider_numbered(n, stage).unwrap().map(|p| &p.id),
                Some(&p.id)
            );
        }
        assert!(provider_numbered(1, stage).unwrap().is_none());
    }

    #[test]
    fn categories_map_to_chift_verticals() {
        assert_eq!(api_of("accounting"), "Accounting");
        assert_eq!(api_of("crm"), "Custom");
    }

    #[test]
    fn a_token_request_needs_its_three_fields_and_takes_chifts_optional_ones() {
        let e = TokenRequest::parse(json!({"clientId": "k"})).err().unwrap();
        assert_eq!(e.code(), "validation_error");
        assert!(TokenRequest::parse(
            json!({"clientId": "a", "clientSecret": "b", "accountId": "c", "envId": "x"})
        )
        .is_ok());
        assert!(TokenRequest::parse(
            json!({"clientId": "a", "clientSecret": "b", "accountId": "c", "other": 1})
        )
        .is_err());
    }
}
