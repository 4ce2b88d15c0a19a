//! Consumers: a tenant's end customers, the owners of connections.

pub mod api;
pub mod repo;

use crate::config::Stage;
use crate::email::Email;
use crate::error::ApiError;
use crate::fields::{string, Fields, Patch};
use crate::id::{ConsumerId, TenantId};
use crate::idempotency::{self, Answer, Idempotency};
use crate::lang::Locale;
use crate::metadata::Metadata;
use crate::redirect_url::RedirectUrl;
use crate::store::Step;
use crate::time::{self, Timestamp};
use crate::App;
use serde_json::{json, Value};

pub use repo::{check_tx, exists_tx, exists_without_locale_tx, get, sk, without_locale_tx};

/// A consumer of `tenant`, if it exists.
pub async fn find(
    store: &crate::store::Store,
    tenant: &TenantId,
    id: &ConsumerId,
) -> Result<Option<Consumer>, crate::store::StoreError> {
    repo::get(store, tenant, id).await
}

pub const FIELDS: &[&str] = &[
    "name",
    "redirect_url",
    "internal_reference",
    "email",
    "locale",
    "metadata",
];

/// The tenant's own identifier for a consumer; unique within the tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InternalReference(String);

impl InternalReference {
    pub fn parse(value: &Value) -> Result<InternalReference, String> {
        string(value, 1, 255).map(InternalReference)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InternalReference {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        InternalReference::parse(&Value::String(s))
    }
}

impl From<InternalReference> for String {
    fn from(r: InternalReference) -> String {
        r.0
    }
}

fn parse_name(v: &Value) -> Result<String, String> {
    string(v, 1, 200)
}

fn parse_redirect(stage: Stage) -> impl Fn(&Value) -> Result<RedirectUrl, String> {
    move |v| match v {
        Value::String(s) => RedirectUrl::parse(s, stage),
        _ => Err("must be a string".into()),
    }
}

fn parse_locale(v: &Value) -> Result<Locale, String> {
    match v {
        Value::String(s) => Locale::parse(s),
        _ => Err("must be a string".into()),
    }
}

fn parse_email(v: &Value) -> Result<Email, String> {
    match v {
        Value::String(s) => Email::parse(s),
        _ => Err("must be a string".into()),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub id: ConsumerId,
    pub tenant_id: TenantId,
    pub name: String,
    pub redirect_url: Option<RedirectUrl>,
    pub internal_reference: Option<InternalReference>,
    pub email: Option<Email>,
    /// Language for pages and emails of this consumer's links (when the link has none).
    pub locale: Option<Locale>,
    pub metadata: Metadata,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Optimistic-concurrency counter, bumped by every write.
    pub version: u64,
}

impl Consumer {
    /// The API representation.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "redirect_url": self.redirect_url.as_ref().map(RedirectUrl::as_str),
            "internal_reference": self.internal_reference.as_ref().map(InternalReference::as_str),
            "email": self.email.as_ref().map(Email::as_str),
            "locale": self.locale.as_ref().map(Locale::as_str),
            "metadata": self.metadata,
            "created_at": time::format(&self.created_at),
            "updated_at": time::format(&self.updated_at),
        })
    }
}

/// A valid `POST /v1/consumers` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConsumer {
    pub name: String,
    pub redirect_url: Option<RedirectUrl>,
    pub internal_reference: Option<InternalReference>,
    pub email: Option<Email>,
    pub locale: Option<Locale>,
    pub metadata: Metadata,
}

impl NewConsumer {
    pub fn parse(body: Value, stage: Stage) -> Result<NewConsumer, ApiError> {
        let mut f = Fields::new(body, FIELDS)?;
        let name = f.required("name", parse_name);
        let redirect_url = f.optional("redirect_url", parse_redirect(stage));
        let internal_reference = f.optional("internal_reference", InternalReference::parse);
        let email = f.optional("email", parse_email);
        let locale = f.optional("locale", parse_locale);
        let metadata = f.optional("metadata", Metadata::parse);
        f.finish()?;
        Ok(NewConsumer {
            name: name.unwrap_or_default(),
            redirect_url,
            internal_reference,
            email,
            locale,
            metadata: metadata.unwrap_or_default(),
        })
    }

    pub fn into_consumer(self, tenant_id: TenantId, now: Timestamp) -> Consumer {
        Consumer {
            id: ConsumerId::generate(),
            tenant_id,
            name: self.name,
            redirect_url: self.redirect_url,
            internal_reference: self.internal_reference,
            email: self.email,
            locale: self.locale,
            metadata: self.metadata,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// Whose a new connection is: a consumer that exists, or one created in the same
/// transaction (a customer another API names by its own id for the first time, see
/// `compat::openint`).
pub enum Owner {
    Existing(ConsumerId),
    New(Box<Consumer>),
}

impl Owner {
    pub fn id(&self) -> &ConsumerId {
        match self {
            Owner::Existing(id) => id,
            Owner::New(c) => &c.id,
        }
    }

    /// The items that hold the owner when a connection is written beside them: the consumer
    /// still exists, or is created now with its internal reference, which must still be
    /// free (when it is not, a concurrent request created that customer first).
    pub fn items(
        &self,
        store: &crate::store::Store,
        tenant: &TenantId,
    ) -> Result<Vec<crate::store::TxItem>, crate::store::StoreError> {
        match self {
            Owner::Existing(id) => Ok(vec![repo::exists_tx(store, tenant, id)?]),
            Owner::New(c) => repo::create_items(store, c),
        }
    }
}

/// A valid `PATCH /v1/consumers/{id}` body. `metadata` merges shallowly (a `null` value
/// removes that key; `"metadata": null` removes them all).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerPatch {
    pub name: Patch<String>,
    pub redirect_url: Patch<RedirectUrl>,
    pub internal_reference: Patch<InternalReference>,
    pub email: Patch<Email>,
    pub locale: Patch<Locale>,
    pub metadata: Patch<Metadata>,
}

fn apply<T: Clone>(patch: &Patch<T>, current: &Option<T>) -> Option<T> {
    match patch {
        Patch::Keep => current.clone(),
        Patch::Clear => None,
        Patch::Set(v) => Some(v.clone()),
    }
}

impl ConsumerPatch {
    pub fn parse(body: Value, stage: Stage) -> Result<ConsumerPatch, ApiError> {
        let mut f = Fields::new(body, FIELDS)?;
        let patch = ConsumerPatch {
            name: f.patch("name", false, parse_name),
            redirect_url: f.patch("redirect_url", true, parse_redirect(stage)),
            internal_reference: f.patch("internal_reference", true, InternalReference::parse),
            email: f.patch("email", true, parse_email),
            locale: f.patch("locale", true, parse_locale),
            metadata: f.patch("metadata", true, Metadata::parse),
        };
        f.finish()?;
        Ok(patch)
    }

    /// The consumer after this patch, or `None` when nothing would change.
    pub fn apply(&self, current: &Consumer, now: Timestamp) -> Result<Option<Consumer>, ApiError> {
        let metadata = match &self.metadata {
            Patch::Keep => current.metadata.clone(),
            Patch::Clear => Metadata::default(),
            Patch::Set(m) => current
                .metadata
                .merge(m)
                .map_err(|msg| ApiError::field("metadata", &msg))?,
        };
        let next = Consumer {
            name: match &self.name {
                Patch::Set(n) => n.clone(),
                _ => current.name.clone(),
            },
            redirect_url: apply(&self.redirect_url, &current.redirect_url),
            internal_reference: apply(&self.internal_reference, &current.internal_reference),
            email: apply(&self.email, &current.email),
            locale: apply(&self.locale, &current.locale),
            metadata,
            ..current.clone()
        };
        if next == *current {
            return Ok(None);
        }
        Ok(Some(Consumer {
            updated_at: now,
            version: current.version + 1,
            ..next
        }))
    }
}

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

fn reference_taken() -> ApiError {
    ApiError::Conflict {
        message: "another consumer already has this internal_reference".into(),
        details: vec![crate::error::FieldError::new(
            "internal_reference",
            "already in use",
        )],
    }
}

pub fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("consumer", raw)
}

fn busy() -> ApiError {
    ApiError::conflict("the consumer was modified concurrently; retry the request")
}

/// The tenant's consumer `id`, or a 404.
pub async fn load(app: &App, tenant: &TenantId, id: &ConsumerId) -> Result<Consumer, ApiError> {
    repo::get(&app.store, tenant, id)
        .await?
        .ok_or_else(|| not_found(id.as_str()))
}

/// Creates a consumer (and the guard of its reference) with the request's idempotency record.
pub async fn create(
    app: &App,
    tenant: &TenantId,
    new: NewConsumer,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    let consumer = new.into_consumer(tenant.clone(), time::now());
    let items = repo::create_items(&app.store, &consumer)?;
    let answer = Answer::created(consumer.to_json());
    match idempotency::commit(&app.store, tenant, idempotency, items, answer, None).await? {
        Ok(answer) => Ok(answer),
        // the reference guard is the second item
        Err(failed) if failed.failed_condition(1) => Err(reference_taken()),
        Err(_) => Err(busy()),
    }
}

/// The consumer with this reference, if there is one.
pub async fn with_reference(
    app: &App,
    tenant: &TenantId,
    reference: &InternalReference,
) -> Result<Option<Consumer>, ApiError> {
    Ok(repo::find_by_reference(&app.store, tenant, reference).await?)
}

/// The id of the consumer with internal reference `reference`, if any (one read).
pub async fn id_with_reference(
    app: &App,
    tenant: &TenantId,
    reference: &InternalReference,
) -> Result<Option<ConsumerId>, ApiError> {
    Ok(repo::id_by_reference(&app.store, tenant, reference).await?)
}

/// Whose a connection for the platform's customer `reference` is: the consumer with that
/// internal reference (one read), or a new one named after it, created with the connection
/// (`Owner::New`).
pub async fn owner_by_reference(
    app: &App,
    tenant: &TenantId,
    reference: InternalReference,
) -> Result<Owner, ApiError> {
    if let Some(id) = repo::id_by_reference(&app.store, tenant, &reference).await? {
        return Ok(Owner::Existing(id));
    }
    let new = NewConsumer {
        name: reference.as_str().to_owned(),
        redirect_url: None,
        internal_reference: Some(reference),
        email: None,
        locale: None,
        metadata: Metadata::default(),
    };
    Ok(Owner::New(Box::new(
        new.into_consumer(tenant.clone(), time::now()),
    )))
}

/// A page of the tenant's consumers after the cursor's key.
pub async fn page(
    app: &App,
    tenant: &TenantId,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<Consumer>, Option<String>), ApiError> {
    Ok(repo::page(&app.store, tenant, limit, after).await?)
}

/// Applies `patch` to the consumer, re-reading and re-applying when another write came first.
pub async fn update(
    app: &App,
    current: Consumer,
    patch: &ConsumerPatch,
) -> Result<Consumer, ApiError> {
    let (tenant, id) = (&current.tenant_id.clone(), &current.id.clone());
    app.store
        .retry_versioned(
            current,
            move |_, cancelled| async move {
                if repo::reference_taken(&cancelled) {
                    return Err(reference_taken());
                }
                load(app, tenant, id).await
            },
            move |current| async move {
                let Some(next) = patch.apply(&current, time::now())? else {
                    return Ok(Step::Done(current));
                };
                let items = repo::replace_items(&app.store, &current, &next)?;
                Ok(Step::Write(items, next))
            },
        )
        .await?
        .ok_or_else(busy)
}

/// Deletes the consumer, which must have no connection that is not revoked: asked of
/// `has_live_connections` (connections are above consumers), again on every retry.
pub async fn delete<F, Fut>(
    app: &App,
    current: Consumer,
    has_live_connections: F,
) -> Result<(), ApiError>
where
    F: Fn(Consumer) -> Fut + Sync,
    Fut: std::future::Future<Output = Result<bool, ApiError>> + Send,
{
    let (tenant, id) = (&current.tenant_id.clone(), &current.id.clone());
    let has_live = &has_live_connections;
    app.store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, tenant, id).await },
            move |current| async move {
                // Its connections would lose their owner: they must be revoked first.
                if has_live(current.clone()).await? {
                    return Err(ApiError::conflict(
                        "the consumer still has connections that are not revoked; revoke them first",
                    ));
                }
                Ok(Step::Write(repo::delete_items(&app.store, &current)?, ()))
            },
        )
        .await?
        .ok_or_else(busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation { details, .. } => details.into_iter().map(|d| d.field).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn minimal_and_full_bodies_parse() {
        let c = NewConsumer::parse(json!({"name": "Acme"}), Stage::Deployed).unwrap();
        assert_eq!(c.name, "Acme");
        assert!(c.metadata.as_map().is_empty());
        let c = NewConsumer::parse(
            json!({"name": "Acme", "redirect_url": "https://acme.test/back", "internal_reference": "cust-42",
                   "email": "ops@acme.test", "metadata": {"plan": "pro"}}),
            Stage::Deployed,
        )
        .unwrap();
        assert_eq!(c.internal_reference.unwrap().as_str(), "cust-42");
        assert_eq!(c.email.unwrap().as_str(), "ops@acme.test");
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = NewConsumer::parse(
            json!({"redirect_url": "http://acme.test", "internal_reference": "", "email": "nope",
                   "metadata": [1], "colour": "red"}),
            Stage::Deployed,
        )
        .unwrap_err();
        assert_eq!(
            details(e),
            [
                "colour",
                "name",
                "redirect_url",
                "internal_reference",
                "email",
                "metadata"
            ]
        );
    }

    #[test]
    fn name_null_is_required_error_and_too_long_refused() {
        assert_eq!(
            details(NewConsumer::parse(json!({"name": null}), Stage::Local).unwrap_err()),
            ["name"]
        );
        let long = "x".repeat(201);
        assert_eq!(
            details(NewConsumer::parse(json!({"name": long}), Stage::Local).unwrap_err()),
            ["name"]
        );
    }

    fn consumer() -> Consumer {
        NewConsumer::parse(
            json!({"name": "Acme", "email": "a@acme.test", "metadata": {"a": 1, "b": 2}}),
            Stage::Deployed,
        )
        .unwrap()
        .into_consumer(TenantId::generate(), time::now())
    }

    #[test]
    fn patch_sets_clears_and_merges() {
        let c = consumer();
        let p = ConsumerPatch::parse(
            json!({"name": "Acme Corp", "email": null, "metadata": {"b": null, "c": 3}}),
            Stage::Deployed,
        )
        .unwrap();
        let next = p.apply(&c, time::now()).unwrap().unwrap();
        assert_eq!(next.name, "Acme Corp");
        assert_eq!(next.email, None);
        assert_eq!(
            Value::Object(next.metadata.as_map().clone()),
            json!({"a": 1, "c": 3})
        );
        assert_eq!(next.version, c.version + 1);
        assert_eq!(next.id, c.id);
        assert_eq!(next.created_at, c.created_at);
    }

    #[test]
    fn patch_without_change_is_none() {
        let c = consumer();
        let p = ConsumerPatch::parse(json!({"name": "Acme"}), Stage::Deployed).unwrap();
        assert!(p.apply(&c, time::now()).unwrap().is_none());
        let empty = ConsumerPatch::parse(json!({}), Stage::Deployed).unwrap();
        assert!(empty.apply(&c, time::now()).unwrap().is_none());
    }

    #[test]
    fn patch_refuses_null_name_and_unknown_fields() {
        assert_eq!(
            details(ConsumerPatch::parse(json!({"name": null}), Stage::Local).unwrap_err()),
            ["name"]
        );
        assert_eq!(
            details(ConsumerPatch::parse(json!({"id": "x"}), Stage::Local).unwrap_err()),
            ["id"]
        );
    }
}
