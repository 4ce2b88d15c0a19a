//! Integrations: a catalog provider enabled by a tenant, with the tenant's own OAuth app
//! (client id, sealed client secret, scopes). One integration per provider and tenant, so
//! the provider id can address it (`/v1/integrations/{provider}/connect`).
//!
//! Items: `T#<tenant>` / `INTEGRATION#<id>`, and `T#<tenant>` / `INTEGRATION_PROVIDER#<provider>`
//! guarding uniqueness, written in the same transaction.

use crate::error::{ApiError, FieldError};
use crate::fields::{string, Fields, Patch};
use crate::id::{IntegrationId, TenantId};
use crate::idempotency::{self, Answer, Idempotency};
use crate::provider::{catalog, AuthMode, Provider};
use crate::store::{Step, StoreError, TxItem};
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub mod api;
mod repo;

pub(crate) use repo::is_integration_sk;
pub use repo::{active, active_tx, find_by_provider, get, id_for_provider};

const FIELDS: &[&str] = &[
    "provider",
    "display_name",
    "status",
    "client_id",
    "client_secret",
    "scopes",
    "allowed_scopes",
    "unverified_credentials",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
}

pub(crate) fn parse_status(v: &Value) -> Result<Status, String> {
    match v.as_str() {
        Some("active") => Ok(Status::Active),
        Some("inactive") => Ok(Status::Inactive),
        _ => Err("must be 'active' or 'inactive'".into()),
    }
}

pub(crate) fn parse_scopes(v: &Value) -> Result<Vec<String>, String> {
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

/// What an API-key or basic integration does with credentials its provider could not
/// judge (see `credential::verify`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unverified {
    /// Store them, marked `verified: false` (a provider outage does not stop onboarding).
    #[default]
    Accept,
    /// Refuse them: the customer tries again later (a link stays open).
    Refuse,
}

pub fn parse_unverified(v: &serde_json::Value) -> Result<Unverified, String> {
    match v.as_str() {
        Some("accept") => Ok(Unverified::Accept),
        Some("refuse") => Ok(Unverified::Refuse),
        _ => Err("must be 'accept' or 'refuse'".into()),
    }
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
    /// The scopes a link may ask for instead of `scopes` (absent: only `scopes` themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allowed_scopes: Option<Vec<String>>,
    /// API-key and basic providers: what to do when the provider cannot judge submitted
    /// credentials (see `credential::verify`); absent is the default, accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unverified_credentials: Option<Unverified>,
    /// A custom provider's definition, copied here (and kept current in the same
    /// transaction as its changes) so every flow reads the integration alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    custom_provider: Option<Box<Provider>>,
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

    /// The provider entry: the tenant's own definition for a custom provider, else the
    /// catalogue's.
    pub fn provider(&self) -> Result<&Provider, ApiError> {
        if let Some(custom) = &self.0.custom_provider {
            return Ok(custom);
        }
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

    /// What to do with credentials the provider could not judge.
    pub fn unverified_credentials(&self) -> Unverified {
        self.0.unverified_credentials.unwrap_or_default()
    }

    /// Whether a link may ask for `asked`: an OAuth integration, and every scope among its
    /// `allowed_scopes` (else among the scopes it asks for by default). The message names
    /// what is not allowed.
    pub fn allows(&self, asked: &[String]) -> Result<(), String> {
        if self.provider().map_err(|e| e.to_string())?.auth_mode != AuthMode::Oauth2 {
            return Err("only OAuth 2.0 integrations take scopes".into());
        }
        if asked.is_empty() {
            return Err("must name at least one scope".into());
        }
        let allowed = match &self.0.allowed_scopes {
            Some(a) => a.clone(),
            None => self.scopes().map_err(|e| e.to_string())?,
        };
        let refused: Vec<&str> = asked
            .iter()
            .filter(|s| !allowed.contains(s))
            .map(String::as_str)
            .collect();
        if refused.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "not allowed by the integration (its allowed_scopes): {}",
                refused.join(", ")
            ))
        }
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
            "allowed_scopes": if provider.auth_mode == AuthMode::Oauth2 { json!(i.allowed_scopes) } else { Value::Null },
            "unverified_credentials": if provider.auth_mode == AuthMode::Oauth2 { Value::Null } else { json!(self.unverified_credentials()) },
            "created_at": time::format(&i.created_at),
            "updated_at": time::format(&i.updated_at),
        }))
    }
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

pub(crate) fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("integration", raw)
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
        if touched.contains(&"unverified_credentials") {
            errors.push(FieldError::new(
                "unverified_credentials",
                format!(
                    "only applies to API-key and basic providers; {} uses OAuth 2.0",
                    provider.name
                ),
            ));
        }
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
        for field in ["client_id", "client_secret", "scopes", "allowed_scopes"] {
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

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// Inside a custom provider's change: its integration's copy becomes `provider` (when the
/// tenant enabled it), else a check that no integration of it appears meanwhile.
pub async fn custom_provider_tx(
    app: &App,
    tenant: &TenantId,
    provider: &Provider,
) -> Result<TxItem, ApiError> {
    Ok(
        match id_for_provider(&app.store, tenant, &provider.id).await? {
            Some(id) => repo::set_custom_provider_tx(&app.store, tenant, &id, provider)?,
            None => repo::no_integration_tx(&app.store, tenant, &provider.id)?,
        },
    )
}

pub use repo::no_integration_tx;

/// The tenant's integration `id`, read now (not from the warm cache), if it is active.
pub async fn find_active(
    app: &App,
    tenant: &TenantId,
    id: &IntegrationId,
) -> Result<Option<Integration>, ApiError> {
    Ok(get(&app.store, tenant, id)
        .await?
        .filter(Integration::is_active))
}

/// The tenant's integration `id`, or a 404.
pub async fn load(
    app: &App,
    tenant: &TenantId,
    id: &IntegrationId,
) -> Result<Integration, ApiError> {
    get(&app.store, tenant, id)
        .await?
        .ok_or_else(|| not_found(id.as_str()))
}

/// An integration, as the create request gives it.
pub struct NewIntegration {
    provider: std::borrow::Cow<'static, Provider>,
    /// For a custom provider: the check that its definition is still the one copied.
    custom_check: Option<TxItem>,
    display_name: Option<String>,
    status: Status,
    client_id: Option<String>,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
    allowed_scopes: Option<Vec<String>>,
    unverified_credentials: Option<Unverified>,
    touched: Vec<&'static str>,
}

impl NewIntegration {
    /// `custom`: the tenant's custom provider the body names, if it names one that exists,
    /// with the transaction item that checks it is unchanged when the integration copying
    /// it is written.
    pub fn parse(
        app: &App,
        body: Value,
        custom: Option<(Provider, TxItem)>,
    ) -> Result<NewIntegration, ApiError> {
        let touched: Vec<&str> = FIELDS
            .iter()
            .copied()
            .filter(|f| body.get(*f).is_some_and(|v| !v.is_null()))
            .collect();
        let mut f = Fields::new(body.clone(), FIELDS)?;
        let mut custom = custom;
        let provider = f.required("provider", |v| {
            let id = v.as_str().ok_or("must be a string")?;
            if let Some((p, check)) = custom.take().filter(|(p, _)| p.id == id) {
                return Ok((std::borrow::Cow::Owned(p), Some(check)));
            }
            catalog()
                .map_err(|_| "catalog unavailable".to_string())?
                .available(id, app.config.stage)
                .map(|p| (std::borrow::Cow::Borrowed(p), None))
                .ok_or_else(|| {
                    "is neither a catalog provider nor one of this tenant's custom providers (see GET /v1/providers)".to_string()
                })
        });
        let display_name = f.optional("display_name", parse_display_name);
        let status = f.optional("status", parse_status).unwrap_or(Status::Active);
        let client_id = f.optional("client_id", parse_client_id);
        let client_secret = f.optional("client_secret", parse_client_secret);
        let scopes = f.optional("scopes", parse_scopes);
        let allowed_scopes = f.optional("allowed_scopes", parse_scopes);
        let unverified_credentials = f.optional("unverified_credentials", parse_unverified);
        f.finish()?;
        let Some((provider, custom_check)) = provider else {
            return Err(ApiError::internal("provider parsed without a value"));
        };
        Ok(NewIntegration {
            provider,
            custom_check,
            display_name,
            status,
            client_id,
            client_secret,
            scopes,
            allowed_scopes,
            unverified_credentials,
            touched,
        })
    }
}

impl NewIntegration {
    /// The provider enabled as it is, with no OAuth app of the tenant's own (so an OAuth
    /// provider is refused, with what it needs).
    pub fn enabling(provider: &'static Provider) -> NewIntegration {
        NewIntegration {
            provider: std::borrow::Cow::Borrowed(provider),
            custom_check: None,
            display_name: None,
            status: Status::Active,
            client_id: None,
            client_secret: None,
            scopes: None,
            allowed_scopes: None,
            unverified_credentials: None,
            touched: Vec::new(),
        }
    }
}

/// An integration about to be created by another operation's transaction (a connect that
/// enables the provider it connects): the integration, and the items that create it, which
/// fail if the provider was enabled meanwhile.
pub struct Enabling {
    pub integration: Integration,
    pub items: Vec<TxItem>,
}

/// The integration `new` describes, checked, its OAuth client secret sealed.
async fn build(app: &App, tenant: &TenantId, new: NewIntegration) -> Result<Integration, ApiError> {
    let NewIntegration {
        provider,
        custom_check: _,
        display_name,
        status,
        client_id,
        client_secret,
        scopes,
        allowed_scopes,
        unverified_credentials,
        touched,
    } = new;

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
        pk: repo::pk(tenant),
        sk: repo::sk(&id),
        id: id.clone(),
        tenant_id: tenant.clone(),
        provider: provider.id.clone(),
        display_name,
        status,
        client_id,
        client_secret_sealed,
        scopes,
        allowed_scopes,
        unverified_credentials,
        custom_provider: provider
            .custom
            .then(|| Box::new(provider.clone().into_owned())),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    check_oauth_fields(&provider, &item, &touched)?;
    Ok(Integration(item))
}

/// `new`, to be created with another operation's writes (see [`Enabling`]).
pub async fn enabling(
    app: &App,
    tenant: &TenantId,
    new: NewIntegration,
) -> Result<Enabling, ApiError> {
    let integration = build(app, tenant, new).await?;
    let items = repo::create_items(&app.store, &integration)?;
    Ok(Enabling { integration, items })
}

/// Enables a provider for the tenant (one integration per provider).
pub async fn create(
    app: &App,
    tenant: &TenantId,
    new: NewIntegration,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    let name = new.provider.name.clone();
    let custom_check = new.custom_check.clone();
    let integration = build(app, tenant, new).await?;
    let answer = Answer::created(integration.to_json()?);

    let mut items = repo::create_items(&app.store, &integration)?;
    // the copy is of the definition as it is now
    items.extend(custom_check);
    match idempotency::commit(&app.store, tenant, idempotency, items, answer, None).await? {
        Ok(answer) => Ok(answer),
        Err(failed) if failed.failed_condition(1) => Err(ApiError::Conflict {
            message: format!(
                "{name} is already enabled for this tenant; update that integration instead"
            ),
            details: vec![FieldError::new("provider", "already has an integration")],
        }),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}
/// A page of the tenant's integrations, of `status` when given. A status filter reads on
/// until the page is full, so pages are never short: bounded, since a tenant has at most one
/// integration per provider of the catalog and of its custom providers.
pub async fn page(
    app: &App,
    tenant: &TenantId,
    status: Option<Status>,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Integration>, Option<String>), ApiError> {
    let mut data = Vec::new();
    let mut after = after;
    let next = loop {
        let (integrations, next) = repo::page(&app.store, tenant, limit, after.as_deref()).await?;
        let last_sk = integrations.last().map(|i| repo::sk(i.id()));
        for integration in integrations {
            if data.len() < limit && status.is_none_or(|s| integration.0.status == s) {
                data.push(integration);
            }
        }
        match next {
            Some(_) if data.len() >= limit => break last_sk,
            Some(sk) => after = Some(sk),
            None => break None,
        }
    };
    Ok((data, next))
}

/// A PATCH of an integration.
pub struct IntegrationPatch {
    display_name: Patch<String>,
    status: Patch<Status>,
    client_id: Patch<String>,
    client_secret: Patch<String>,
    scopes: Patch<Vec<String>>,
    allowed_scopes: Patch<Vec<String>>,
    unverified_credentials: Patch<Unverified>,
    touched: Vec<&'static str>,
}

impl IntegrationPatch {
    pub fn parse(body: Value) -> Result<IntegrationPatch, ApiError> {
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
        let allowed_scopes = f.patch("allowed_scopes", true, parse_scopes);
        let unverified_credentials = f.patch("unverified_credentials", true, parse_unverified);
        f.finish()?;
        Ok(IntegrationPatch {
            display_name,
            status,
            client_id,
            client_secret,
            scopes,
            allowed_scopes,
            unverified_credentials,
            touched,
        })
    }
}

/// Applies `patch`, re-reading and re-applying when another write came first.
pub async fn update(
    app: &App,
    current: Integration,
    patch: IntegrationPatch,
) -> Result<Integration, ApiError> {
    let IntegrationPatch {
        display_name,
        status,
        client_id,
        client_secret,
        scopes,
        allowed_scopes,
        unverified_credentials,
        touched,
    } = patch;
    let tenant = current.0.tenant_id.clone();
    let id = &current.id().clone();
    let sealed = match &client_secret {
        Patch::Set(secret) => Some(
            app.sealer()?
                .seal(tenant.as_str(), current.id().as_str(), secret.as_bytes())
                .await
                .map_err(ApiError::internal)?,
        ),
        _ => None,
    };
    let (display_name, status, client_id, sealed, scopes, allowed, unverified, touched) = (
        &display_name,
        &status,
        &client_id,
        &sealed,
        &scopes,
        &allowed_scopes,
        &unverified_credentials,
        &touched,
    );
    let current_tenant = &tenant;
    app.store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, current_tenant, id).await },
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
                match allowed {
                    Patch::Set(s) => next.allowed_scopes = Some(s.clone()),
                    Patch::Clear => next.allowed_scopes = None,
                    Patch::Keep => {}
                }
                match unverified {
                    Patch::Set(u) => next.unverified_credentials = Some(*u),
                    Patch::Clear => next.unverified_credentials = None,
                    Patch::Keep => {}
                }
                check_oauth_fields(provider, &next, touched)?;
                if next == current.0 {
                    return Ok(Step::Done(current.clone()));
                }
                next.updated_at = time::now();
                next.version = current.0.version + 1;
                let next = Integration(next);
                let put = repo::replace_tx(&app.store, &next, current)?;
                Ok(Step::Write(vec![put], next))
            },
        )
        .await?
        .ok_or_else(|| {
            ApiError::conflict("the integration was modified concurrently; retry the request")
        })
}
