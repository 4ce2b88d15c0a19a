//! Webhook endpoints: a tenant's URLs subscribed to event types, with signing secrets
//! (sealed; shown at creation and rotation only).
//!
//! Item `T#<tenant>` / `WH#<id>`. Deliveries and their attempts live in `delivery`.

pub mod delivery;
pub mod signing;
pub mod target;

use crate::error::ApiError;
use crate::fields::{string, Fields, Patch};
use crate::http::{json, list_body, no_content, Access, Call, Route};
use crate::id::{TenantId, WebhookId};
use crate::idempotency::{self, Idempotency};
use crate::secret::Secret;
use crate::store::{key, tenant_pk, Item, Step, Store, StoreError, TxOutcome};
use crate::time::{self, Timestamp};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use target::WebhookUrl;

const SK_PREFIX: &str = "WH#";
const CREATE_FIELDS: &[&str] = &["url", "events", "description"];
const UPDATE_FIELDS: &[&str] = &["url", "events", "description", "enabled"];
/// A rotated secret keeps signing this long beside the new one.
const ROTATION_OVERLAP_SECONDS: i64 = 24 * 60 * 60;
/// Secrets that sign at once after rotations: the new one and the two before it. Without a
/// cap, rotating many times within the overlap kept every secret, each message carried a
/// signature per secret and the endpoint item grew toward DynamoDB's 400 KB limit (the
/// bench rotated 1000 times and found it).
const MAX_LIVE_SECRETS: usize = 3;

/// Every event type an endpoint can subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    crate::event::CONNECTION_CREATED,
    crate::event::CONNECTION_UPDATED,
    crate::event::CONNECTION_REVOKED,
    crate::event::CONNECTION_NEEDS_REAUTH,
    crate::event::LINK_OPENED,
    crate::event::LINK_EXPIRED,
    crate::event::LINK_FAILED,
    crate::event::LINK_REMINDER_SENT,
    TEST_EVENT,
];
pub const TEST_EVENT: &str = "webhook.test";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningSecret {
    /// Sealed `whsec_…` (see `seal`).
    pub sealed: String,
    pub created_at: String,
    /// Set when a newer secret replaced it: it signs until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl SigningSecret {
    /// Still signing: current, or rotated out less than the overlap ago.
    fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at
            .as_deref()
            .and_then(time::parse)
            .is_none_or(|e| e > now)
    }
}

/// The secrets after a rotation: the live ones, now ending at `overlap_end` (a secret
/// already ending sooner keeps its end), then `new`; at most [`MAX_LIVE_SECRETS`], the
/// oldest dropped first.
fn rotated(
    current: &[SigningSecret],
    new: SigningSecret,
    now: Timestamp,
    overlap_end: &str,
) -> Vec<SigningSecret> {
    let mut secrets: Vec<SigningSecret> = current
        .iter()
        .filter(|s| s.is_live(now))
        .cloned()
        .map(|mut s| {
            if s.expires_at.is_none() {
                s.expires_at = Some(overlap_end.to_owned());
            }
            s
        })
        .collect();
    secrets.push(new);
    let excess = secrets.len().saturating_sub(MAX_LIVE_SECRETS);
    secrets.drain(..excess);
    secrets
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub secrets: Vec<SigningSecret>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
    pub version: u64,
}

#[derive(Serialize, Deserialize)]
struct EndpointItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    endpoint: Endpoint,
}

fn sk(id: &WebhookId) -> String {
    format!("{SK_PREFIX}{id}")
}

impl Endpoint {
    pub fn wants(&self, kind: &str) -> bool {
        self.enabled && self.events.iter().any(|e| e == "*" || e == kind)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "description": self.description,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "created_at": time::format(&self.created_at),
            "updated_at": time::format(&self.updated_at),
        })
    }

    fn item(&self) -> Result<Item, StoreError> {
        Store::to_item(&EndpointItem {
            pk: tenant_pk(&self.tenant_id),
            sk: sk(&self.id),
            endpoint: self.clone(),
        })
    }

    pub fn replace_tx(
        &self,
        store: &Store,
        previous: &Endpoint,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        store.put_tx(
            self.item()?,
            "version = :v",
            &[(":v", crate::store::n(previous.version))],
        )
    }

    /// The secrets that sign now: the current one and any rotated one still in its overlap.
    pub async fn live_secrets(&self, app: &App) -> Result<Vec<Secret>, ApiError> {
        let now = time::now();
        let mut out = Vec::new();
        for s in &self.secrets {
            if s.expires_at
                .as_deref()
                .and_then(time::parse)
                .is_some_and(|e| e <= now)
            {
                continue;
            }
            out.push(
                app.sealer()?
                    .open(self.tenant_id.as_str(), self.id.as_str(), &s.sealed)
                    .await
                    .map_err(ApiError::internal)?,
            );
        }
        Ok(out)
    }
}

fn from_item(item: Item) -> Result<Endpoint, StoreError> {
    Ok(Store::from_item::<EndpointItem>(item)?.endpoint)
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &WebhookId,
) -> Result<Option<Endpoint>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(id))
        .await?
        .map(from_item)
        .transpose()
}

/// Every endpoint of a tenant (for fan-out).
pub async fn all(store: &Store, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
    store
        .page_all(&tenant_pk(tenant), SK_PREFIX)
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("webhook endpoint", raw)
}

pub(crate) async fn load(app: &App, call: &Call) -> Result<Endpoint, ApiError> {
    let raw = call.path_param("id").unwrap_or_default();
    let id = WebhookId::parse(raw).ok_or_else(|| not_found(raw))?;
    get(&app.store, call.tenant()?, &id)
        .await?
        .ok_or_else(|| not_found(raw))
}

fn parse_url(app: &App) -> impl Fn(&Value) -> Result<WebhookUrl, String> + '_ {
    move |v| match v {
        Value::String(s) => WebhookUrl::parse(s, &app.config.webhook_allowed_private),
        _ => Err("must be a string".into()),
    }
}

fn parse_events(v: &Value) -> Result<Vec<String>, String> {
    let list = v
        .as_array()
        .ok_or("must be a list of event types, or [\"*\"]")?;
    if list.is_empty() || list.len() > EVENT_TYPES.len() {
        return Err(format!(
            "must name 1 to {} event types, or [\"*\"]",
            EVENT_TYPES.len()
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for e in list {
        let e = e.as_str().ok_or("must hold strings")?;
        if e != "*" && !EVENT_TYPES.contains(&e) {
            return Err(format!(
                "has an unknown event type {}; known: {}",
                e.chars().take(64).collect::<String>(),
                EVENT_TYPES.join(", ")
            ));
        }
        if out.iter().any(|o| o == e) {
            return Err("must not repeat an event type".into());
        }
        out.push(e.to_owned());
    }
    if out.len() > 1 && out.iter().any(|e| e == "*") {
        return Err("\"*\" already means every type; give it alone".into());
    }
    Ok(out)
}

async fn new_secret(
    app: &App,
    tenant: &TenantId,
    id: &WebhookId,
) -> Result<(Secret, SigningSecret), ApiError> {
    let secret =
        signing::generate().map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let sealed = app
        .sealer()?
        .seal(tenant.as_str(), id.as_str(), secret.expose().as_bytes())
        .await
        .map_err(ApiError::internal)?;
    Ok((
        secret,
        SigningSecret {
            sealed,
            created_at: time::format(&time::now()),
            expires_at: None,
        },
    ))
}

pub const CREATE: Route = Route {
    operation: "webhooks.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_endpoint(app, call)),
};

pub const LIST: Route = Route {
    operation: "webhooks.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_endpoints(app, call)),
};

pub const READ: Route = Route {
    operation: "webhooks.get",
    access: Access::Read,
    handler: |app, call| {
        Box::pin(async move {
            {
                call.query(&[])?;
                Ok(json(StatusCode::OK, &load(app, call).await?.to_json()))
            }
        })
    },
};

pub const UPDATE: Route = Route {
    operation: "webhooks.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_endpoint(app, call)),
};

pub const DELETE: Route = Route {
    operation: "webhooks.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete_endpoint(app, call)),
};

pub const ROTATE_SECRET: Route = Route {
    operation: "webhooks.rotate_secret",
    access: Access::Write,
    handler: |app, call| Box::pin(rotate(app, call)),
};

async fn create_endpoint(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "webhooks.create", &body)?;
    let mut f = Fields::new(body, CREATE_FIELDS)?;
    let url = f.required("url", parse_url(app));
    let events = f.required("events", parse_events);
    let description = f.optional("description", |v| string(v, 0, 500));
    f.finish()?;
    let (Some(url), Some(events)) = (url, events) else {
        return Err(ApiError::internal("required fields parsed without values"));
    };
    url.check_now(&app.config.webhook_allowed_private)
        .await
        .map_err(|m| ApiError::field("url", &m))?;
    let id = WebhookId::generate();
    let (secret, signing) = new_secret(app, tenant, &id).await?;
    let now = time::now();
    let endpoint = Endpoint {
        id,
        tenant_id: tenant.clone(),
        url: url.as_str().to_owned(),
        events,
        description,
        enabled: true,
        disabled_reason: None,
        secrets: vec![signing],
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut response = endpoint.to_json();
    response["secret"] = json!(secret.expose());
    let max = app.config.max_webhook_endpoints;
    let items = vec![
        app.store
            .put_tx(endpoint.item()?, crate::store::IS_NEW, &[])?,
        crate::quota::webhook_place_tx(&app.store, tenant, max)?,
    ];
    // The answer carries the secret: a replay of it is stored sealed.
    match idempotency::commit_create(
        &app.store,
        tenant,
        idempotency.as_ref(),
        items,
        &response,
        Some(app.sealer()?),
    )
    .await?
    {
        Ok(resp) => Ok(resp),
        Err(failed) if failed.failed_condition(1) => Err(crate::quota::webhooks_full(max)),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}

async fn list_endpoints(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["limit", "cursor"])?;
    let tenant = call.tenant()?;
    let (limit, after) = query.page(|sk| {
        sk.strip_prefix(SK_PREFIX)
            .is_some_and(|id| WebhookId::parse(id).is_some())
    })?;
    let (items, next) = app
        .store
        .page(&tenant_pk(tenant), SK_PREFIX, limit, after.as_deref())
        .await?;
    let data = items
        .into_iter()
        .map(|i| from_item(i).map(|e| e.to_json()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json(StatusCode::OK, &list_body(data, next)))
}

async fn update_endpoint(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let current = load(app, call).await?;
    let mut f = Fields::new(call.json_body()?, UPDATE_FIELDS)?;
    let url = f.patch("url", false, parse_url(app));
    let events = f.patch("events", false, parse_events);
    let description = f.patch("description", true, |v| string(v, 0, 500));
    let enabled = f.patch("enabled", false, |v| {
        v.as_bool()
            .ok_or_else(|| "must be true or false".to_string())
    });
    f.finish()?;
    if let Patch::Set(u) = &url {
        u.check_now(&app.config.webhook_allowed_private)
            .await
            .map_err(|m| ApiError::field("url", &m))?;
    }
    let (url, events, description, enabled) = (&url, &events, &description, &enabled);
    let answer = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
            move |current| async move {
                let current = &current;
                let mut next = current.clone();
                if let Patch::Set(u) = &url {
                    next.url = u.as_str().to_owned();
                }
                if let Patch::Set(e) = &events {
                    next.events = e.clone();
                }
                match &description {
                    Patch::Set(d) => next.description = Some(d.clone()),
                    Patch::Clear => next.description = None,
                    Patch::Keep => {}
                }
                if let Patch::Set(e) = enabled {
                    next.enabled = *e;
                    if *e {
                        next.disabled_reason = None;
                    } else if current.enabled {
                        next.disabled_reason = Some("disabled by the tenant".into());
                    }
                }
                if next == *current {
                    return Ok(Step::Done(current.to_json()));
                }
                next.updated_at = time::now();
                next.version = current.version + 1;
                Ok(Step::Write(
                    vec![next.replace_tx(&app.store, current)?],
                    next.to_json(),
                ))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)?;
    Ok(json(StatusCode::OK, &answer))
}

async fn delete_endpoint(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let endpoint = load(app, call).await?;
    // Deliveries already queued find no endpoint and stop; their log stays until it expires.
    // The endpoint's place is given back with it, once: a second delete finds no endpoint.
    let delete = || {
        app.store.delete_tx(
            key(tenant_pk(&endpoint.tenant_id), sk(&endpoint.id)),
            Some(crate::store::EXISTS),
            &[],
        )
    };
    let outcome = app
        .store
        .transact(vec![
            delete()?,
            crate::quota::webhook_release_tx(&app.store, &endpoint.tenant_id)?,
        ])
        .await?;
    match outcome {
        TxOutcome::Committed => Ok(no_content()),
        TxOutcome::Cancelled(_) if outcome.failed_condition(0) => {
            Err(not_found(endpoint.id.as_str()))
        }
        // No place counted (an endpoint older than the counter): delete it alone.
        TxOutcome::Cancelled(_) => match app.store.transact(vec![delete()?]).await? {
            TxOutcome::Committed => Ok(no_content()),
            TxOutcome::Cancelled(_) => Err(not_found(endpoint.id.as_str())),
        },
    }
}

async fn rotate(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let current = load(app, call).await?;
    let body = app
        .store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, call).await },
            move |current| async move {
                let current = &current;
                let now = time::now();
                let overlap_end =
                    time::format(&(now + chrono::Duration::seconds(ROTATION_OVERLAP_SECONDS)));
                let (secret, signing) = new_secret(app, tenant, &current.id).await?;
                let secrets = rotated(&current.secrets, signing, now, &overlap_end);
                let next = Endpoint {
                    secrets,
                    updated_at: now,
                    version: current.version + 1,
                    ..current.clone()
                };
                let mut body = next.to_json();
                body["secret"] = json!(secret.expose());
                body["previous_secrets_expire_at"] = json!(overlap_end);
                Ok(Step::Write(
                    vec![next.replace_tx(&app.store, current)?],
                    body,
                ))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)?;
    Ok(json(StatusCode::OK, &body))
}

fn modified_concurrently() -> ApiError {
    ApiError::conflict("the endpoint was modified concurrently; retry the request")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(n: u32, expires_at: Option<&str>) -> SigningSecret {
        SigningSecret {
            sealed: format!("sealed-{n}"),
            created_at: "2026-11-22T10:00:00.000Z".into(),
            expires_at: expires_at.map(String::from),
        }
    }

    #[test]
    fn rotation_keeps_the_new_secret_and_at_most_two_before_it() {
        let now = time::parse("2026-11-22T12:00:00.000Z").unwrap();
        let end = "2026-11-23T12:00:00.000Z";
        let once = rotated(&[secret(1, None)], secret(2, None), now, end);
        assert_eq!(once, vec![secret(1, Some(end)), secret(2, None)]);

        let mut secrets = once;
        for n in 3..=1000 {
            secrets = rotated(&secrets, secret(n, None), now, end);
        }
        assert_eq!(
            secrets,
            vec![
                secret(998, Some(end)),
                secret(999, Some(end)),
                secret(1000, None)
            ]
        );

        // a secret past its overlap is dropped, one ending sooner keeps its end
        let sooner = "2026-11-22T13:00:00.000Z";
        let old = [
            secret(1, Some("2026-11-22T11:00:00.000Z")),
            secret(2, Some(sooner)),
            secret(3, None),
        ];
        assert_eq!(
            rotated(&old, secret(4, None), now, end),
            vec![
                secret(2, Some(sooner)),
                secret(3, Some(end)),
                secret(4, None)
            ]
        );
    }

    #[test]
    fn event_filters() {
        assert_eq!(parse_events(&json!(["*"])).unwrap(), vec!["*"]);
        // The document says `uniqueItems`; silently merging repeats accepted what it refuses.
        assert!(parse_events(&json!(["link.opened", "link.opened"])).is_err());
        assert!(parse_events(&json!(["*", "*"])).is_err());
        assert!(parse_events(&json!([])).is_err());
        assert!(parse_events(&json!(["*", "link.opened"])).is_err());
        assert!(parse_events(&json!(["connection.exploded"])).is_err());
        assert!(parse_events(&json!("link.opened")).is_err());
    }
}
