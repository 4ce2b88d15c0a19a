//! Integrations: a catalog provider enabled by a tenant, with the tenant's own OAuth app
//! (client id, sealed client secret, scopes). One integration per provider and tenant, so
//! the provider id can address it (`/v1/integrations/{provider}/connect`).
//!
//! Items: `T#<tenant>` / `INTEGRATION#<id>`, and `T#<tenant>` / `INTEGRATION_PROVIDER#<provider>`
//! guarding uniqueness, written in the same transaction.

use crate::error::{ApiError, FieldError};
use crate::fields::{string, Fields, Patch};
use crate::http::{json, list_body, Access, Call, Route};
use crate::id::{IntegrationId, TenantId};
use crate::idempotency::{self, Idempotency};
use crate::provider::{catalog, AuthMode, Provider};
use crate::store::{key, n, s, tenant_pk, Item, Step, Store, StoreError};
use crate::time::{self, Timestamp};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const SK_PREFIX: &str = "INTEGRATION#";
const PROVIDER_PREFIX: &str = "INTEGRATION_PROVIDER#";
const FIELDS: &[&str] = &[
    "provider",
    "display_name",
    "status",
    "client_id",
    "client_secret",
    "scopes",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
}

fn parse_status(v: &Value) -> Result<Status, String> {
    match v.as_str() {
        Some("active") => Ok(Status::Active),
        Some("inactive") => Ok(Status::Inactive),
        _ => Err("must be 'active' or 'inactive'".into()),
    }
}

fn parse_scopes(v: &Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or("must be a list of strings")?;
    if items.len() > 64 {
        return Err("must have at most 64 scopes".into());
    }
    items
        .iter()
        .map(|s| match s.as_str() {
            Some(s)
                if !s.is_empty()
                    && s.len() <= 200
                    && !s.contains(|c: char| c.is_whitespace() || c == ',' || c.is_control()) =>
            {
                Ok(s.to_owned())
            }
            _ => Err("each scope must be 1 to 200 characters without spaces or commas".into()),
        })
        .collect()
}

fn parse_client_id(v: &Value) -> Result<String, String> {
    string(v, 1, 512)
}

fn parse_client_secret(v: &Value) -> Result<String, String> {
    string(v, 1, 2048)
}

fn parse_display_name(v: &Value) -> Result<String, String> {
    string(v, 1, 100)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct IntegrationItem {
    pk: String,
    sk: String,
    id: IntegrationId,
    tenant_id: TenantId,
    provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// AES-256-GCM envelope (see `seal`); never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret_sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    #[serde(with = "time::rfc3339")]
    created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    updated_at: Timestamp,
    version: u64,
}

/// An integration as stored; read through the accessors.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration(IntegrationItem);

impl Integration {
    pub fn id(&self) -> &IntegrationId {
        &self.0.id
    }

    pub fn provider_id(&self) -> &str {
        &self.0.provider
    }

    pub fn tenant_id(&self) -> &TenantId {
        &self.0.tenant_id
    }

    pub fn is_active(&self) -> bool {
        self.0.status == Status::Active
    }

    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    pub fn client_secret_sealed(&self) -> Option<&str> {
        self.0.client_secret_sealed.as_deref()
    }

    /// The provider entry; stored integrations always name a catalog provider.
    pub fn provider(&self) -> Result<&'static Provider, ApiError> {
        catalog()?.get(&self.0.provider).ok_or_else(|| {
            ApiError::internal(format!(
                "integration names unknown provider {}",
                self.0.provider
            ))
        })
    }

    /// The scopes to request: the tenant's own, else the provider's defaults.
    pub fn scopes(&self) -> Result<Vec<String>, ApiError> {
        Ok(match &self.0.scopes {
            Some(s) => s.clone(),
            None => self
                .provider()?
                .oauth
                .as_ref()
                .map(|o| o.scopes.clone())
                .unwrap_or_default(),
        })
    }

    pub fn display_name(&self) -> Result<String, ApiError> {
        Ok(match &self.0.display_name {
            Some(n) => n.clone(),
            None => self.provider()?.name.clone(),
        })
    }

    pub fn to_json(&self) -> Result<Value, ApiError> {
        let provider = self.provider()?;
        let i = &self.0;
        Ok(json!({
            "id": i.id,
            "provider": i.provider,
            "display_name": self.display_name()?,
            "auth_mode": provider.auth_mode,
            "category": provider.category,
            "status": i.status,
            "client_id": i.client_id,
            "client_secret_set": i.client_secret_sealed.is_some(),
            "scopes": if provider.auth_mode == AuthMode::Oauth2 { json!(self.scopes()?) } else { Value::Null },
            "created_at": time::format(&i.created_at),
            "updated_at": time::format(&i.updated_at),
        }))
    }
}

fn sk(id: &IntegrationId) -> String {
    format!("{SK_PREFIX}{id}")
}

fn is_integration_sk(sk: &str) -> bool {
    sk.strip_prefix(SK_PREFIX)
        .and_then(IntegrationId::parse)
        .is_some()
}

fn from_item(item: Item) -> Result<Integration, StoreError> {
    Store::from_item(item).map(Integration)
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &IntegrationId,
) -> Result<Option<Integration>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(id))
        .await?
        .map(from_item)
        .transpose()
}

/// The tenant's integration of `provider`, if it enabled one.
pub async fn find_by_provider(
    store: &Store,
    tenant: &TenantId,
    provider: &str,
) -> Result<Option<Integration>, StoreError> {
    let Some(guard) = store
        .get(tenant_pk(tenant), format!("{PROVIDER_PREFIX}{provider}"))
        .await?
    else {
        return Ok(None);
    };
    let id = guard
        .get("integration_id")
        .and_then(|v| v.as_s().ok())
        .and_then(|id| IntegrationId::parse(id))
        .ok_or_else(|| StoreError::Corrupt("provider guard without integration_id".into()))?;
    get(store, tenant, &id).await
}

/// Inside a transaction: the integration still exists and is active.
pub fn active_tx(
    store: &Store,
    tenant: &TenantId,
    id: &IntegrationId,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    store.check_tx_with(
        crate::store::key(tenant_pk(tenant), sk(id)),
        "#status = :active",
        &[(":active", crate::store::s("active"))],
        &[("#status", "status")],
    )
}

/// Active integrations, newest first (the connect page's marketplace), as a warm function
/// reuses them (`LINKGATE_TENANT_CACHE_SECONDS`).
pub async fn active_of(
    app: &App,
    tenant: &TenantId,
) -> Result<std::sync::Arc<Vec<Integration>>, StoreError> {
    if let Some(i) = app.cached::<Vec<Integration>>("integrations", tenant) {
        return Ok(i);
    }
    let loaded = active(&app.store, tenant).await?;
    Ok(app.cache("integrations", tenant, loaded))
}

/// One active integration of the tenant, if `id` names one (through [`active_of`]).
pub async fn active_one(
    app: &App,
    tenant: &TenantId,
    id: &IntegrationId,
) -> Result<Option<Integration>, StoreError> {
    Ok(active_of(app, tenant)
        .await?
        .iter()
        .find(|i| i.id() == id)
        .cloned())
}

/// Every active integration of `tenant`, newest first (the connect page's marketplace).
pub async fn active(store: &Store, tenant: &TenantId) -> Result<Vec<Integration>, StoreError> {
    let mut out = Vec::new();
    for item in store.page_all(&tenant_pk(tenant), SK_PREFIX).await? {
        let i = from_item(item)?;
        if i.is_active() {
            out.push(i);
        }
    }
    Ok(out)
}

fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("integration", raw)
}

async fn load(app: &App, call: &Call) -> Result<Integration, ApiError> {
    let raw = call.path_param("id").unwrap_or_default();
    let id = IntegrationId::parse(raw).ok_or_else(|| not_found(raw))?;
    get(&app.store, call.tenant()?, &id)
        .await?
        .ok_or_else(|| not_found(raw))
}

/// OAuth settings only make sense for OAuth providers, and an OAuth integration cannot work
/// without its app credentials.
fn check_oauth_fields(
    provider: &Provider,
    item: &IntegrationItem,
    touched: &[&str],
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if provider.auth_mode == AuthMode::Oauth2 {
        if item.client_id.is_none() {
            errors.push(FieldError::new(
                "client_id",
                format!("is required for {} (an OAuth 2.0 provider)", provider.name),
            ));
        }
        if item.client_secret_sealed.is_none() {
            errors.push(FieldError::new(
                "client_secret",
                format!("is required for {} (an OAuth 2.0 provider)", provider.name),
            ));
        }
    } else {
        for field in ["client_id", "client_secret", "scopes"] {
            if touched.contains(&field) {
                errors.push(FieldError::new(
                    field,
                    format!(
                        "only applies to OAuth 2.0 providers; {} uses {}",
                        provider.name,
                        provider.auth_mode.as_str()
                    ),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation("invalid request body", errors))
    }
}

pub const CREATE: Route = Route {
    operation: "integrations.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_integration(app, call)),
};

pub const LIST: Route = Route {
    operation: "integrations.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_integrations(app, call)),
};

pub const READ: Route = Route {
    operation: "integrations.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_integration(app, call)),
};

pub const UPDATE: Route = Route {
    operation: "integrations.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_integration(app, call)),
};

pub const LOGO: Route = Route {
    operation: "integrations.logo",
    access: Access::Read,
    handler: |app, call| Box::pin(integration_logo(app, call)),
};

async fn create_integration(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "integrations.create", &body)?;
    let touched: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| body.get(*f).is_some_and(|v| !v.is_null()))
        .collect();
    let mut f = Fields::new(body.clone(), FIELDS)?;
    let provider = f.required("provider", |v| {
        let id = v.as_str().ok_or("must be a string")?;
        catalog()
            .map_err(|_| "catalog unavailable".to_string())?
            .available(id, app.config.stage)
            .ok_or_else(|| "is not a provider of the catalog (see GET /v1/providers)".to_string())
    });
    let display_name = f.optional("display_name", parse_display_name);
    let status = f.optional("status", parse_status).unwrap_or(Status::Active);
    let client_id = f.optional("client_id", parse_client_id);
    let client_secret = f.optional("client_secret", parse_client_secret);
    let scopes = f.optional("scopes", parse_scopes);
    f.finish()?;
    let Some(provider) = provider else {
        return Err(ApiError::internal("provider parsed without a value"));
    };

    let id = IntegrationId::generate();
    let client_secret_sealed = match &client_secret {
        Some(secret) => Some(
            app.sealer()?
                .seal(tenant.as_str(), id.as_str(), secret.as_bytes())
                .await
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let now = time::now();
    let item = IntegrationItem {
        pk: tenant_pk(tenant),
        sk: sk(&id),
        id: id.clone(),
        tenant_id: tenant.clone(),
        provider: provider.id.clone(),
        display_name,
        status,
        client_id,
        client_secret_sealed,
        scopes,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    check_oauth_fields(provider, &item, &touched)?;
    let integration = Integration(item);
    let response = integration.to_json()?;

    let mut guard = key(
        tenant_pk(tenant),
        format!("{PROVIDER_PREFIX}{}", provider.id),
    );
    guard.insert("integration_id".into(), s(id.as_str()));
    let items = vec![
        app.store
            .put_tx(Store::to_item(&integration.0)?, crate::store::IS_NEW, &[])?,
        app.store.put_tx(guard, crate::store::IS_NEW, &[])?,
    ];
    match idempotency::commit_create(
        &app.store,
        tenant,
        idempotency.as_ref(),
        items,
        &response,
        None,
    )
    .await?
    {
        Ok(resp) => Ok(resp),
        Err(failed) if failed.failed_condition(1) => Err(ApiError::Conflict {
            message: format!(
                "{} is already enabled for this tenant; update that integration instead",
                provider.name
            ),
            details: vec![FieldError::new("provider", "already has an integration")],
        }),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}

async fn list_integrations(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor", "status"])?;
    let status = query
        .get("status")
        .map(|s| {
            parse_status(&Value::String(s.to_owned())).map_err(|m| ApiError::field("status", &m))
        })
        .transpose()?;
    let (limit, after) = query.page(is_integration_sk)?;
    let tenant = call.tenant()?;
    // A status filter reads on until the page is full, so pages are never short.
    let mut data = Vec::new();
    let mut after = after;
    let next = loop {
        let (items, next) = app
            .store
            .page(&tenant_pk(tenant), SK_PREFIX, limit, after.as_deref())
            .await?;
        let last_sk = items
            .last()
            .and_then(|i| i.get("sk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        for item in items {
            let integration = from_item(item)?;
            if data.len() < limit && status.is_none_or(|s| integration.0.status == s) {
                data.push(integration.to_json()?);
            }
        }
        match next {
            Some(_) if data.len() >= limit => break last_sk,
            Some(sk) => after = Some(sk),
            None => break None,
        }
    };
    Ok(json(StatusCode::OK, &list_body(data, next)))
}

async fn get_integration(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    Ok(json(StatusCode::OK, &load(app, call).await?.to_json()?))
}

async fn integration_logo(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    Ok(json(
        StatusCode::OK,
        &load(app, call).await?.provider()?.logo_json(),
    ))
}

async fn update_integration(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?.clone();
    let current = load(app, call).await?;
    let body = call.json_body()?;
    let touched: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| body.get(*f).is_some())
        .collect();
    let mut f = Fields::new(body, &FIELDS[1..])?;
    let display_name = f.patch("display_name", true, parse_display_name);
    let status = f.patch("status", false, parse_status);
    let client_id = f.patch("client_id", false, parse_client_id);
    let client_secret = f.patch("client_secret", false, parse_client_secret);
    let scopes = f.patch("scopes", true, parse_scopes);
    f.finish()?;
    let sealed = match &client_secret {
        Patch::Set(secret) => Some(
            app.sealer()?
                .seal(tenant.as_str(), current.id().as_str(), secret.as_bytes())
                .await
                .map_err(ApiError::internal)?,
        ),
        _ => None,
    };
    let (display_name, status, client_id, sealed, scopes, touched) = (
        &display_name,
        &status,
        &client_id,
        &sealed,
        &scopes,
        &touched,
    );
    let answer = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
            move |current| async move {
                let current = &current;
                let provider = current.provider()?;
                let mut next = current.0.clone();
                match &display_name {
                    Patch::Set(n) => next.display_name = Some(n.clone()),
                    Patch::Clear => next.display_name = None,
                    Patch::Keep => {}
                }
                if let Patch::Set(s) = status {
                    next.status = *s;
                }
                if let Patch::Set(c) = &client_id {
                    next.client_id = Some(c.clone());
                }
                if let Some(sealed) = &sealed {
                    next.client_secret_sealed = Some(sealed.clone());
                }
                match &scopes {
                    Patch::Set(s) => next.scopes = Some(s.clone()),
                    Patch::Clear => next.scopes = None,
                    Patch::Keep => {}
                }
                check_oauth_fields(provider, &next, touched)?;
                if next == current.0 {
                    return Ok(Step::Done(current.to_json()?));
                }
                next.updated_at = time::now();
                next.version = current.0.version + 1;
                let put = app.store.put_tx(
                    Store::to_item(&next)?,
                    "version = :v",
                    &[(":v", n(current.0.version))],
                )?;
                Ok(Step::Write(vec![put], Integration(next).to_json()?))
            },
        )
        .await?
        .ok_or_else(|| {
            ApiError::conflict("the integration was modified concurrently; retry the request")
        })?;
    Ok(json(StatusCode::OK, &answer))
}
