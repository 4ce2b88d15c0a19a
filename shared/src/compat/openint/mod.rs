//! OpenInt's connections API (`/compat/openint`, the `base_url` its SDK takes): import a
//! connection from credentials the platform holds, list and read them (secrets only when
//! asked, through the audited credentials read), check, delete, and a magic link for a
//! customer.
//!
//! How OpenInt's names map to ours:
//! - `customer_id` is the platform's own id for its customer: our consumer's
//!   `internal_reference`. The consumer is created with the first connection or link that
//!   names it, in the same transaction (`consumer::Owner::New`);
//! - a connector config (`ccfg_…`) is our integration (`int_…`), the same 128 bits;
//!   connections are `conn_…` in both;
//! - `settings` are the connection's credentials: a provider's fields by our catalog's names
//!   (OpenInt's camelCase spelling of them is taken too), or `settings.oauth.credentials`.

pub mod api;

use crate::connection::{Connection, Status};
use crate::credential::Credentials;
use crate::dialect::snake;
use crate::error::{ApiError, FieldError};
use crate::fields::Fields;
use crate::id::IntegrationId;
use crate::integration::Integration;
use crate::provider::AuthMode;
use serde_json::{json, Map, Value};

pub const CONNECTOR_CONFIG_PREFIX: &str = "ccfg_";

/// An integration's id as OpenInt's connector config id.
pub fn connector_config_id(id: &IntegrationId) -> String {
    format!(
        "{CONNECTOR_CONFIG_PREFIX}{}",
        &id.as_str()[IntegrationId::PREFIX.len()..]
    )
}

/// The integration a connector config id names (our `int_…` taken too).
pub fn integration_of(raw: &str) -> Option<IntegrationId> {
    raw.strip_prefix(CONNECTOR_CONFIG_PREFIX)
        .and_then(|hex| IntegrationId::parse(&format!("{}{hex}", IntegrationId::PREFIX)))
        .or_else(|| IntegrationId::parse(raw))
}

/// OpenInt's `status` for one of our connections.
pub fn status_of(c: &Connection) -> &'static str {
    match c.status {
        _ if c.disabled => "disconnected",
        Status::Active => "healthy",
        Status::NeedsReauth => "disconnected",
        Status::Pending => "unknown",
        _ => "error",
    }
}

/// A connection as OpenInt's; `customer_id` is the owner's reference, `settings` its
/// credentials when they were read.
pub fn connection_json(
    c: &Connection,
    customer_id: Option<&str>,
    settings: Value,
) -> Result<Value, ApiError> {
    Ok(json!({
        "id": c.id,
        "customer_id": customer_id,
        "connector_config_id": c.integration_id.as_ref().map(connector_config_id),
        "connector_name": c.provider,
        "integration_id": null,
        "display_name": c.name,
        "disabled": c.disabled,
        "status": status_of(c),
        "status_message": c.reauth_reason,
        "metadata": c.metadata().map_err(ApiError::from)?,
        "settings": settings,
        "created_at": crate::time::format(&c.created_at),
        "updated_at": crate::time::format(&c.updated_at),
    }))
}

/// An import's answer (our connection's JSON) as OpenInt's connection, without secrets.
pub fn imported_json(native: &Value, customer_id: &str) -> Value {
    let status = match native["status"].as_str() {
        Some("active") if native["disabled"] != json!(true) => "healthy",
        _ => "unknown",
    };
    json!({
        "id": native["id"],
        "customer_id": customer_id,
        "connector_config_id": native["integration_id"]
            .as_str()
            .and_then(IntegrationId::parse)
            .map(|i| connector_config_id(&i)),
        "connector_name": native["provider"],
        "integration_id": null,
        "display_name": native["name"],
        "disabled": native["disabled"],
        "status": status,
        "status_message": null,
        "metadata": native["metadata"],
        "settings": {},
        "created_at": native["created_at"],
        "updated_at": native["updated_at"],
    })
}

/// Credentials as OpenInt's `settings`: a provider's fields (and connection fields) flat,
/// or for OAuth `{oauth: {credentials: {access_token, …}}}`.
pub fn settings_of(credentials: &Credentials) -> Value {
    if credentials.auth_mode == AuthMode::Oauth2 {
        let mut tokens = credentials.values.clone();
        tokens.remove("raw");
        let mut settings = Map::new();
        settings.insert("oauth".into(), json!({"credentials": tokens}));
        for (k, v) in &credentials.connection_fields {
            settings.insert(k.clone(), v.clone());
        }
        return Value::Object(settings);
    }
    let mut settings = credentials.values.clone();
    for (k, v) in &credentials.connection_fields {
        settings.insert(k.clone(), v.clone());
    }
    Value::Object(settings)
}

/// OpenInt's `data: {connector_name, settings}` for the integration it must match, as our
/// import's `credentials` and `connection_fields`.
pub fn credentials_from(
    integration: &Integration,
    data: &Value,
) -> Result<(Value, Value), ApiError> {
    let provider = integration.provider()?;
    let mut f = Fields::new(data.clone(), &["connector_name", "settings"])?;
    let name = f.required("connector_name", |v| {
        v.as_str()
            .map(String::from)
            .ok_or_else(|| "must be a string".to_string())
    });
    let settings = f.optional("settings", |v| match v {
        Value::Object(m) => Ok(m.clone()),
        _ => Err("must be an object".to_string()),
    });
    f.finish().map_err(|e| prefixed(e, "data."))?;
    if name.as_deref() != Some(provider.id.as_str()) {
        return Err(ApiError::field(
            "data.connector_name",
            &format!(
                "must be {}, the connector of connector_config_id",
                provider.id
            ),
        ));
    }
    let settings = settings.unwrap_or_default();
    let connection_names: Vec<&str> = provider
        .connection_fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    let mut credentials = Map::new();
    let mut connection_fields = Map::new();
    for (key, value) in settings {
        if provider.auth_mode == AuthMode::Oauth2 && key == "oauth" {
            let tokens = value
                .get("credentials")
                .cloned()
                .ok_or_else(|| ApiError::field("data.settings.oauth.credentials", "is required"))?;
            let Value::Object(tokens) = tokens else {
                return Err(ApiError::field(
                    "data.settings.oauth.credentials",
                    "must be an object",
                ));
            };
            // OpenInt's tokens carry what ours do, and more we do not keep.
            for (k, v) in tokens {
                if [
                    "access_token",
                    "refresh_token",
                    "token_type",
                    "scope",
                    "expires_at",
                ]
                .contains(&k.as_str())
                {
                    credentials.insert(k, v);
                }
            }
            continue;
        }
        let ours = snake(&key);
        if connection_names.contains(&ours.as_str()) {
            connection_fields.insert(ours, value);
        } else {
            credentials.insert(ours, value);
        }
    }
    if provider.auth_mode == AuthMode::Oauth2 && credentials.is_empty() {
        return Err(ApiError::field(
            "data.settings.oauth.credentials",
            "is required: the connector connects with OAuth",
        ));
    }
    Ok((Value::Object(credentials), Value::Object(connection_fields)))
}

/// `error` with its fields under `prefix` (a nested object's).
fn prefixed(error: ApiError, prefix: &str) -> ApiError {
    match error {
        ApiError::Validation { message, details } => ApiError::Validation {
            message,
            details: details
                .into_iter()
                .map(|d| FieldError::new(format!("{prefix}{}", d.field), d.message))
                .collect(),
        },
        other => other,
    }
}

/// Our import's errors in OpenInt's names: our `credentials.x` is its `data.settings.x`.
pub fn in_openint_names(error: ApiError) -> ApiError {
    let rename = |field: String| -> String {
        if let Some(rest) = field.strip_prefix("credentials") {
            format!("data.settings{rest}")
        } else if let Some(rest) = field.strip_prefix("connection_fields") {
            format!("data.settings{rest}")
        } else if field == "integration_id" {
            "connector_config_id".into()
        } else if field == "consumer_id" {
            "customer_id".into()
        } else {
            field
        }
    };
    match error {
        ApiError::Validation { message, details } => ApiError::Validation {
            message,
            details: details
                .into_iter()
                .map(|d| FieldError::new(rename(d.field), d.message))
                .collect(),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_config_is_an_integration_by_another_prefix() {
        let id = IntegrationId::generate();
        let ccfg = connector_config_id(&id);
        assert!(ccfg.starts_with("ccfg_"));
        assert_eq!(integration_of(&ccfg), Some(id.clone()));
        assert_eq!(integration_of(id.as_str()), Some(id));
        assert_eq!(integration_of("ccfg_nope"), None);
    }

    #[test]
    fn import_errors_speak_of_settings_and_customers() {
        let e = in_openint_names(ApiError::validation(
            "invalid",
            vec![
                FieldError::new("credentials.secret_key", "bad"),
                FieldError::new("consumer_id", "no"),
            ],
        ));
        let b = e.body("r");
        assert_eq!(
            b["error"]["details"][0]["field"],
            "data.settings.secret_key"
        );
        assert_eq!(b["error"]["details"][1]["field"], "customer_id");
    }
}
