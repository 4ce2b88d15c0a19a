//! Tenant settings: defaults for every consumer and connection of the tenant.
//! One item, `T#<tenant>` / `SETTINGS`; absent fields mean the documented defaults.

use crate::error::ApiError;
use crate::fields::{Fields, Patch};
use crate::id::TenantId;
use crate::redirect_url::RedirectUrl;
use crate::store::{Step, StoreError};
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub mod api;
pub mod reminders;
mod repo;

pub use repo::load;

const FIELDS: &[&str] = &[
    "default_redirect_url",
    "default_link_ttl_seconds",
    "reminders",
    "branding",
    "contact_email",
];
pub const MIN_LINK_TTL_SECONDS: u64 = 300;
pub const MAX_LINK_TTL_SECONDS: u64 = 604_800;
pub const DEFAULT_LINK_TTL_SECONDS: u64 = 1800;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_redirect_url: Option<RedirectUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_link_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub reminders: reminders::Settings,
    #[serde(default)]
    pub branding: crate::branding::Branding,
    /// Where Linkgate writes to the tenant's operators (a webhook endpoint disabled for
    /// failing, …); none, and only the event tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<crate::email::Email>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_time"
    )]
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub version: u64,
}

mod optional_time {
    use crate::time::{self, Timestamp};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&time::format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|raw| {
                time::parse(&raw).ok_or_else(|| serde::de::Error::custom("invalid timestamp"))
            })
            .transpose()
    }
}

/// The tenant's settings, as a warm function reuses them (`LINKGATE_TENANT_CACHE_SECONDS`).
pub async fn of(app: &App, tenant: &TenantId) -> Result<std::sync::Arc<Settings>, StoreError> {
    if let Some(s) = app.cached::<Settings>("settings", tenant) {
        return Ok(s);
    }
    let loaded = load(&app.store, tenant).await?;
    Ok(app.cache("settings", tenant, loaded))
}

/// A link lifetime in seconds, within the allowed range.
pub fn parse_link_ttl(v: &Value) -> Result<u64, String> {
    crate::fields::whole_number(v)
        .filter(|s| (MIN_LINK_TTL_SECONDS..=MAX_LINK_TTL_SECONDS).contains(s))
        .ok_or_else(|| format!("must be a whole number of seconds from {MIN_LINK_TTL_SECONDS} to {MAX_LINK_TTL_SECONDS}"))
}

impl Settings {
    pub fn link_ttl_seconds(&self) -> u64 {
        self.default_link_ttl_seconds
            .unwrap_or(DEFAULT_LINK_TTL_SECONDS)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "default_redirect_url": self.default_redirect_url.as_ref().map(RedirectUrl::as_str),
            "default_link_ttl_seconds": self.link_ttl_seconds(),
            "reminders": self.reminders.to_json(),
            "branding": self.branding.to_json(),
            "contact_email": self.contact_email.as_ref().map(crate::email::Email::as_str),
            "updated_at": self.updated_at.as_ref().map(time::format),
        })
    }
}

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// The tenant's settings (defaults where none are stored).
pub async fn read(app: &App, tenant: &TenantId) -> Result<Settings, ApiError> {
    Ok(load(&app.store, tenant).await?)
}

fn concurrent_change() -> ApiError {
    ApiError::conflict("settings were modified concurrently; retry the request")
}

/// Merges a PATCH `body` over the stored settings. Nested objects (`reminders`, `branding`)
/// merge over the settings read first: when another write came in between, the request
/// answers a conflict rather than lose that change; plain fields are re-applied.
pub async fn update(app: &App, tenant: &TenantId, body: Value) -> Result<Settings, ApiError> {
    let stage = app.config.stage;
    let mut f = Fields::new(body, FIELDS)?;
    let redirect = f.patch("default_redirect_url", true, |v| match v {
        Value::String(s) => RedirectUrl::parse(s, stage),
        _ => Err("must be a string".into()),
    });
    let ttl = f.patch("default_link_ttl_seconds", true, parse_link_ttl);
    let contact = f.patch("contact_email", true, |v| match v {
        Value::String(s) => crate::email::Email::parse(s),
        _ => Err("must be a string".into()),
    });
    // Read before the fields are checked: a nested PATCH merges over what is stored.
    let current = load(&app.store, tenant).await?;
    let reminders = f.patch_object("reminders", reminders::SETTINGS_FIELDS, |r| {
        current.reminders.patch(r)
    });
    let branding = f.patch_object("branding", crate::branding::SETTINGS_FIELDS, |b| {
        current.branding.patch(b)
    });
    f.finish()?;
    let (redirect, ttl, reminders, branding, contact) =
        (&redirect, &ttl, &reminders, &branding, &contact);
    app.store
        .retry_versioned(
            (current, true),
            move |_, _| async move { Ok((load(&app.store, tenant).await?, false)) },
            move |(current, first_read)| async move {
                let mut next = current.clone();
                match reminders {
                    Patch::Set(r) if first_read => next.reminders = r.clone(),
                    Patch::Set(_) => return Err(concurrent_change()),
                    Patch::Clear => next.reminders = reminders::Settings::default(),
                    Patch::Keep => {}
                }
                match branding {
                    Patch::Set(b) if first_read => next.branding = b.clone(),
                    Patch::Set(_) => return Err(concurrent_change()),
                    Patch::Clear => next.branding = crate::branding::Branding::default(),
                    Patch::Keep => {}
                }
                match redirect {
                    Patch::Set(u) => next.default_redirect_url = Some(u.clone()),
                    Patch::Clear => next.default_redirect_url = None,
                    Patch::Keep => {}
                }
                match ttl {
                    Patch::Set(t) => next.default_link_ttl_seconds = Some(*t),
                    Patch::Clear => next.default_link_ttl_seconds = None,
                    Patch::Keep => {}
                }
                match contact {
                    Patch::Set(e) => next.contact_email = Some(e.clone()),
                    Patch::Clear => next.contact_email = None,
                    Patch::Keep => {}
                }
                if next == current {
                    return Ok(Step::Done(current));
                }
                next.updated_at = Some(time::now());
                next.version = current.version + 1;
                let put = repo::replace_tx(&app.store, tenant, &next, &current)?;
                Ok(Step::Write(vec![put], next))
            },
        )
        .await?
        .ok_or_else(concurrent_change)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_ttl_bounds() {
        assert!(parse_link_ttl(&json!(299)).is_err());
        assert!(parse_link_ttl(&json!(604_801)).is_err());
        assert!(parse_link_ttl(&json!(1800.5)).is_err());
        assert!(parse_link_ttl(&json!("1800")).is_err());
        assert_eq!(parse_link_ttl(&json!(300)), Ok(300));
        assert_eq!(
            Settings::default().link_ttl_seconds(),
            DEFAULT_LINK_TTL_SECONDS
        );
    }
}
