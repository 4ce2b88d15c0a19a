//! Webhook endpoints: a tenant's URLs subscribed to event types, with signing secrets
//! (sealed; shown at creation and rotation only).
//!
//! Stored as `repo` says; deliveries and their attempts live in `delivery`.

pub mod delivery;
mod notice;
pub mod recovery;
pub mod signing;

use crate::error::ApiError;
use crate::fields::{string, Fields, Patch};
use crate::id::{TenantId, WebhookId};
use crate::idempotency::{self, Answer, Idempotency};
use crate::outbound::OutboundUrl;
use crate::secret::Secret;
use crate::store::{Step, TxOutcome};
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub mod api;
mod repo;

pub use repo::{all, get, is_endpoint_sk};

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
    crate::event::WEBHOOK_DISABLED,
    TEST_EVENT,
];
pub const TEST_EVENT: &str = "webhook.test";

/// The seed services' names for our events, accepted in a subscription so a platform moving
/// over keeps its configuration (docs/compat.md): each is stored, listed and delivered as
/// ours. Chift's `account.connection.created` and CauseFlow's `integration.connected` both
/// fire when a connection goes live, which is our `connection.created`.
pub const EVENT_ALIASES: &[(&str, &str)] = &[
    (
        "account.connection.created",
        crate::event::CONNECTION_CREATED,
    ),
    ("integration.connected", crate::event::CONNECTION_CREATED),
];

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
    /// When the current run of failed attempts began (none since the last success); after
    /// `LINKGATE_WEBHOOK_DISABLE_AFTER_SECONDS` of it the endpoint is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
    pub version: u64,
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
            "failing_since": self.failing_since,
            "created_at": time::format(&self.created_at),
            "updated_at": time::format(&self.updated_at),
        })
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

pub(crate) fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("webhook endpoint", raw)
}

fn parse_url(app: &App) -> impl Fn(&Value) -> Result<OutboundUrl, String> + '_ {
    move |v| match v {
        Value::String(s) => OutboundUrl::parse(s, &app.config.webhook_allowed_private),
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
        let e = EVENT_ALIASES
            .iter()
            .find(|(alias, _)| *alias == e)
            .map_or(e, |(_, ours)| *ours);
        if e != "*" && !EVENT_TYPES.contains(&e) {
            return Err(format!(
                "has an unknown event type {}; known: {}",
                e.chars().take(64).collect::<String>(),
                EVENT_TYPES.join(", ")
            ));
        }
        if out.iter().any(|o| o == e) {
            return Err(format!(
                "must not repeat an event type ({e}, by its name or another's)"
            ));
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

fn modified_concurrently() -> ApiError {
    ApiError::conflict("the endpoint was modified concurrently; retry the request")
}

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// The tenant's endpoint `id`, or a 404.
pub async fn load(app: &App, tenant: &TenantId, id: &WebhookId) -> Result<Endpoint, ApiError> {
    get(&app.store, tenant, id)
        .await?
        .ok_or_else(|| not_found(id.as_str()))
}

/// A new endpoint, as the create request gives it.
pub struct NewEndpoint {
    url: OutboundUrl,
    events: Vec<String>,
    description: Option<String>,
}

impl NewEndpoint {
    pub fn parse(app: &App, body: Value) -> Result<NewEndpoint, ApiError> {
        let mut f = Fields::new(body, CREATE_FIELDS)?;
        let url = f.required("url", parse_url(app));
        let events = f.required("events", parse_events);
        let description = f.optional("description", |v| string(v, 0, 500));
        f.finish()?;
        let (Some(url), Some(events)) = (url, events) else {
            return Err(ApiError::internal("required fields parsed without values"));
        };
        Ok(NewEndpoint {
            url,
            events,
            description,
        })
    }
}

/// A PATCH of an endpoint.
pub struct EndpointPatch {
    url: Patch<OutboundUrl>,
    events: Patch<Vec<String>>,
    description: Patch<String>,
    enabled: Patch<bool>,
}

impl EndpointPatch {
    pub fn parse(app: &App, body: Value) -> Result<EndpointPatch, ApiError> {
        let mut f = Fields::new(body, UPDATE_FIELDS)?;
        let url = f.patch("url", false, parse_url(app));
        let events = f.patch("events", false, parse_events);
        let description = f.patch("description", true, |v| string(v, 0, 500));
        let enabled = f.patch("enabled", false, |v| {
            v.as_bool()
                .ok_or_else(|| "must be true or false".to_string())
        });
        f.finish()?;
        Ok(EndpointPatch {
            url,
            events,
            description,
            enabled,
        })
    }

    /// `current` with the patch applied, or `None` when nothing changes.
    fn apply(&self, current: &Endpoint) -> Option<Endpoint> {
        let mut next = current.clone();
        if let Patch::Set(u) = &self.url {
            next.url = u.as_str().to_owned();
        }
        if let Patch::Set(e) = &self.events {
            next.events = e.clone();
        }
        match &self.description {
            Patch::Set(d) => next.description = Some(d.clone()),
            Patch::Clear => next.description = None,
            Patch::Keep => {}
        }
        if let Patch::Set(e) = self.enabled {
            next.enabled = e;
            if e {
                next.disabled_reason = None;
                // Enabled again: its failures so far no longer count toward disabling it.
                if !current.enabled {
                    next.failing_since = None;
                }
            } else if current.enabled {
                next.disabled_reason = Some("disabled by the tenant".into());
            }
        }
        if next == *current {
            return None;
        }
        next.updated_at = time::now();
        next.version = current.version + 1;
        Some(next)
    }
}

/// Registers an endpoint within the tenant's limit; the answer carries its signing secret,
/// so a replay of it is stored sealed.
pub async fn create(
    app: &App,
    tenant: &TenantId,
    new: NewEndpoint,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    new.url
        .check_now(&app.config.webhook_allowed_private)
        .await
        .map_err(|m| ApiError::field("url", &m))?;
    let id = WebhookId::generate();
    let (secret, signing) = new_secret(app, tenant, &id).await?;
    let now = time::now();
    let endpoint = Endpoint {
        id,
        tenant_id: tenant.clone(),
        url: new.url.as_str().to_owned(),
        events: new.events,
        description: new.description,
        enabled: true,
        disabled_reason: None,
        secrets: vec![signing],
        failing_since: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut body = endpoint.to_json();
    body["secret"] = json!(secret.expose());
    let max = app.config.max_webhook_endpoints;
    let items = vec![
        repo::create_tx(&app.store, &endpoint)?,
        crate::quota::webhook_place_tx(&app.store, tenant, max)?,
    ];
    let answer = Answer::created(body);
    match idempotency::commit(
        &app.store,
        tenant,
        idempotency,
        items,
        answer,
        Some(app.sealer()?),
    )
    .await?
    {
        Ok(answer) => Ok(answer),
        Err(failed) if failed.failed_condition(1) => Err(crate::quota::webhooks_full(max)),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}

/// A page of the tenant's endpoints after the cursor's key.
pub async fn page(
    app: &App,
    tenant: &TenantId,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<Endpoint>, Option<String>), ApiError> {
    Ok(repo::page(&app.store, tenant, limit, after).await?)
}

/// Applies `patch`, re-reading and re-applying when another write came first.
pub async fn update(
    app: &App,
    current: Endpoint,
    patch: &EndpointPatch,
) -> Result<Endpoint, ApiError> {
    if let Patch::Set(u) = &patch.url {
        u.check_now(&app.config.webhook_allowed_private)
            .await
            .map_err(|m| ApiError::field("url", &m))?;
    }
    let (tenant, id) = (&current.tenant_id.clone(), &current.id.clone());
    app.store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, tenant, id).await },
            move |current| async move {
                let Some(next) = patch.apply(&current) else {
                    return Ok(Step::Done(current));
                };
                Ok(Step::Write(
                    vec![next.replace_tx(&app.store, &current)?],
                    next,
                ))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)
}

/// Removes the endpoint and gives its place back, once: a second delete finds no endpoint.
/// Deliveries already queued find no endpoint and stop; their log stays until it expires.
pub async fn delete(app: &App, endpoint: &Endpoint) -> Result<(), ApiError> {
    let delete = || repo::delete_tx(&app.store, endpoint);
    let outcome = app
        .store
        .transact(vec![
            delete()?,
            crate::quota::webhook_release_tx(&app.store, &endpoint.tenant_id)?,
        ])
        .await?;
    match outcome {
        TxOutcome::Committed => Ok(()),
        TxOutcome::Cancelled(_) if outcome.failed_condition(0) => {
            Err(not_found(endpoint.id.as_str()))
        }
        // No place counted (an endpoint older than the counter): delete it alone.
        TxOutcome::Cancelled(_) => match app.store.transact(vec![delete()?]).await? {
            TxOutcome::Committed => Ok(()),
            TxOutcome::Cancelled(_) => Err(not_found(endpoint.id.as_str())),
        },
    }
}

/// An endpoint after rotation, with the new secret (shown once) and when the previous ones
/// stop signing.
pub struct Rotated {
    pub endpoint: Endpoint,
    pub secret: Secret,
    pub previous_secrets_expire_at: String,
}

/// Gives the endpoint a new signing secret; the previous ones keep signing for the overlap.
pub async fn rotate(app: &App, current: Endpoint) -> Result<Rotated, ApiError> {
    let (tenant, id) = (&current.tenant_id.clone(), &current.id.clone());
    app.store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, tenant, id).await },
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
                let write = vec![next.replace_tx(&app.store, current)?];
                Ok(Step::Write(
                    write,
                    Rotated {
                        endpoint: next,
                        secret,
                        previous_secrets_expire_at: overlap_end,
                    },
                ))
            },
        )
        .await?
        .ok_or_else(modified_concurrently)
}

/// Disables an endpoint that cannot take deliveries (it answered 410 Gone, or every attempt
/// failed for the configured time), with a `webhook.disabled` event in the same write and a
/// notice to the tenant's contact address. `false` when it was disabled already, or (with
/// `failing_since`) when a success ended that run of failures meanwhile.
pub async fn disable_failing(
    app: &App,
    endpoint: &Endpoint,
    reason: &str,
    failing_since: Option<&str>,
) -> Result<bool, ApiError> {
    let now = time::now();
    let mut shown = endpoint.to_json();
    shown["enabled"] = json!(false);
    shown["disabled_reason"] = json!(reason);
    shown["failing_since"] = Value::Null;
    shown["updated_at"] = json!(time::format(&now));
    let data = json!({
        "endpoint": shown,
        "reason": reason,
        "failing_since": failing_since,
    });
    let items = vec![
        repo::disable_tx(&app.store, endpoint, reason, now, failing_since)?,
        crate::event::outbox(
            &app.store,
            &endpoint.tenant_id,
            crate::event::WEBHOOK_DISABLED,
            data,
        )?,
    ];
    if !matches!(app.store.transact(items).await?, TxOutcome::Committed) {
        return Ok(false);
    }
    tracing::warn!(endpoint_id = %endpoint.id, reason, "webhook endpoint disabled");
    notice::disabled(app, endpoint, reason).await;
    Ok(true)
}

/// After an attempt of a delivery: a success ends the endpoint's run of failures; a failure
/// starts one, or disables the endpoint once the run has lasted the configured time.
pub async fn record_attempt(
    app: &App,
    endpoint: &Endpoint,
    succeeded: bool,
) -> Result<(), ApiError> {
    let now = time::now();
    match (&endpoint.failing_since, succeeded) {
        (None, true) => Ok(()),
        (Some(_), true) => Ok(repo::mark_healthy(&app.store, endpoint).await?),
        (None, false) => Ok(repo::mark_failing(&app.store, endpoint, now).await?),
        (Some(since), false) => {
            if failing_too_long(since, now, app.config.webhook_disable_after) {
                let window = app.config.webhook_disable_after.as_secs();
                let reason = format!(
                    "every attempt failed for {} (since {since})",
                    describe_duration(window)
                );
                disable_failing(app, endpoint, &reason, Some(since)).await?;
            }
            Ok(())
        }
    }
}

fn failing_too_long(since: &str, now: Timestamp, window: std::time::Duration) -> bool {
    time::parse(since).is_some_and(|s| (now - s).to_std().is_ok_and(|lasted| lasted >= window))
}

/// `432000` → "5 days", `90` → "90 seconds".
fn describe_duration(seconds: u64) -> String {
    let unit = |n: u64, name: &str| format!("{n} {name}{}", if n == 1 { "" } else { "s" });
    match seconds {
        s if s % 86_400 == 0 => unit(s / 86_400, "day"),
        s if s % 3600 == 0 => unit(s / 3600, "hour"),
        s if s % 60 == 0 => unit(s / 60, "minute"),
        s => unit(s, "second"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_disables_once_it_lasted_the_window() {
        let now = time::parse("2026-12-06T12:00:00.000Z").unwrap();
        let five_days = std::time::Duration::from_secs(5 * 86_400);
        assert!(failing_too_long("2026-12-01T12:00:00.000Z", now, five_days));
        assert!(!failing_too_long(
            "2026-12-01T12:00:00.001Z",
            now,
            five_days
        ));
        assert!(
            !failing_too_long("2026-12-07T12:00:00.000Z", now, five_days),
            "a clock ahead"
        );
        assert!(!failing_too_long("garbage", now, five_days));
        assert_eq!(describe_duration(432_000), "5 days");
        assert_eq!(describe_duration(3600), "1 hour");
        assert_eq!(describe_duration(15), "15 seconds");
    }

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
