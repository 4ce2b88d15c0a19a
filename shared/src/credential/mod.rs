//! Credentials: the secret material of a connection (API-key fields or OAuth tokens), only
//! ever stored sealed (see `seal`), with the tenant and record id as associated data.
//!
//! Also `POST /v1/credentials`: API-key credentials stored ahead of a direct connect
//! (`T#<tenant>` / `CRD#<id>`, single use, expiring after a day when unused).

use crate::error::ApiError;
use crate::fields::{object, Fields};
use crate::id::{CredentialId, TenantId};
use crate::idempotency::{self, Answer, Idempotency};
use crate::provider::{catalog, AuthMode, Provider};
use crate::seal::Sealer;
use crate::time::{self, Timestamp};
use crate::App;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::fmt;

pub mod api;
mod repo;
pub mod verify;

pub use repo::{get, use_up_tx};

/// What a sealed blob holds. `values` are the provider's credential fields, or for OAuth the
/// token fields (`access_token`, `refresh_token`, `token_type`, `expires_at`, `scope`);
/// `raw` keeps the token endpoint's whole answer (ID tokens, provider extras).
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub auth_mode: AuthMode,
    pub provider: String,
    pub values: Map<String, Value>,
    #[serde(default)]
    pub connection_fields: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("auth_mode", &self.auth_mode)
            .field("provider", &self.provider)
            .field("values", &"[REDACTED]")
            .finish()
    }
}

impl Credentials {
    /// The credentials to seal from a token answer; a refresh that brings no new refresh
    /// token keeps `previous`'s, and a client-credentials connection keeps its client.
    pub fn from_tokens(
        tokens: crate::oauth::Tokens,
        provider_id: &str,
        connection_fields: Map<String, Value>,
        previous: Option<&Credentials>,
    ) -> Credentials {
        let refresh = tokens
            .refresh_token
            .as_ref()
            .map(|r| r.expose().to_owned())
            .or_else(|| previous.and_then(|p| p.refresh_token().map(String::from)));
        let mut values = Map::new();
        let mut auth_mode = AuthMode::Oauth2;
        if let Some(p) = previous.filter(|p| p.auth_mode == AuthMode::Oauth2ClientCredentials) {
            auth_mode = AuthMode::Oauth2ClientCredentials;
            for field in ["client_id", "client_secret"] {
                if let Some(v) = p.values.get(field) {
                    values.insert(field.into(), v.clone());
                }
            }
        }
        values.insert("access_token".into(), json!(tokens.access_token.expose()));
        values.insert("token_type".into(), json!(tokens.token_type));
        if let Some(r) = refresh {
            values.insert("refresh_token".into(), json!(r));
        }
        if let Some(e) = tokens.expires_at {
            values.insert("expires_at".into(), json!(time::format(&e)));
        }
        if let Some(s) = tokens
            .scope
            .or_else(|| previous.and_then(|p| p.text("scope").map(String::from)))
        {
            values.insert("scope".into(), json!(s));
        }
        Credentials {
            auth_mode,
            provider: provider_id.to_owned(),
            values,
            connection_fields,
            raw: Some(tokens.raw),
        }
    }

    /// Whether Linkgate can get a new access token by itself: with a refresh token, or with
    /// the client of a client-credentials connection.
    pub fn renewable(&self) -> bool {
        self.refresh_token().is_some()
            || (self.auth_mode == AuthMode::Oauth2ClientCredentials
                && self.text("client_id").is_some()
                && self.text("client_secret").is_some())
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    }

    /// When the OAuth access token stops working, if the provider said.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.text("expires_at").and_then(time::parse)
    }

    pub fn refresh_token(&self) -> Option<&str> {
        self.text("refresh_token")
    }

    /// Connection fields as text, to fill URL templates (`{shop}`).
    pub fn connection_values(&self) -> std::collections::BTreeMap<String, String> {
        texts(&self.connection_fields)
    }

    /// The credential fields as text (an API key's, for its provider's check).
    pub fn credential_values(&self) -> std::collections::BTreeMap<String, String> {
        texts(&self.values)
    }

    /// What the platform receives: never the refresh token (Linkgate owns the refresh cycle;
    /// a platform refreshing on its own would invalidate the stored one at providers that
    /// rotate) and never the raw answer.
    pub fn public_values(&self) -> Map<String, Value> {
        let mut v = self.values.clone();
        v.remove("refresh_token");
        v
    }

    pub async fn seal(
        &self,
        sealer: &Sealer,
        tenant: &TenantId,
        record: &str,
    ) -> Result<String, ApiError> {
        let text = serde_json::to_string(self).map_err(ApiError::internal)?;
        sealer
            .seal(tenant.as_str(), record, text.as_bytes())
            .await
            .map_err(ApiError::internal)
    }

    pub async fn open(
        sealer: &Sealer,
        tenant: &TenantId,
        record: &str,
        sealed: &str,
    ) -> Result<Credentials, ApiError> {
        let secret = sealer
            .open(tenant.as_str(), record, sealed)
            .await
            .map_err(ApiError::internal)?;
        serde_json::from_str(secret.expose()).map_err(ApiError::internal)
    }
}

fn texts(map: &Map<String, Value>) -> std::collections::BTreeMap<String, String> {
    map.iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect()
}

const FIELDS: &[&str] = &["provider", "integration_id", "values", "connection_fields"];
/// Unused stored credentials are destroyed after a day: they exist only to be connected.
const UNUSED_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// A stored, not yet connected credential.
pub struct Stored {
    pub id: CredentialId,
    pub provider: String,
    pub sealed: String,
    pub expires_at: Timestamp,
    /// What the provider made of it when it was stored.
    pub verification: verify::Verification,
}

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// The provider a body names, by `provider` or by `integration_id` (exactly one).
async fn named_provider(
    app: &App,
    tenant: &TenantId,
    provider: Option<String>,
    integration: Option<crate::id::IntegrationId>,
) -> Result<
    (
        std::borrow::Cow<'static, Provider>,
        Option<crate::integration::Integration>,
    ),
    ApiError,
> {
    let c = catalog()?;
    match (provider, integration) {
        (Some(_), Some(_)) => Err(ApiError::field(
            "provider",
            "give either provider or integration_id, not both",
        )),
        (None, None) => Err(ApiError::field(
            "provider",
            "is required (or integration_id)",
        )),
        // a custom provider is known through the tenant's integration of it
        (Some(p), None) if p.starts_with(crate::provider::CUSTOM_PREFIX) => {
            match crate::integration::find_by_provider(&app.store, tenant, &p).await? {
                Some(i) => Ok((std::borrow::Cow::Owned(i.provider()?.clone()), Some(i))),
                None => Err(ApiError::field(
                    "provider",
                    "is a custom provider this tenant has not enabled as an integration",
                )),
            }
        }
        (Some(p), None) => c
            .available(&p, app.config.stage)
            .map(|p| (std::borrow::Cow::Borrowed(p), None))
            .ok_or_else(|| {
                ApiError::field(
                    "provider",
                    "is not a provider of the catalog (see GET /v1/providers)",
                )
            }),
        (None, Some(id)) => match crate::integration::get(&app.store, tenant, &id).await? {
            Some(i) => Ok((std::borrow::Cow::Owned(i.provider()?.clone()), Some(i))),
            None => Err(ApiError::field(
                "integration_id",
                "names no integration of this tenant",
            )),
        },
    }
}

/// API-key values for a provider, as the create request gives them.
pub struct NewCredential {
    provider: Option<String>,
    integration: Option<crate::id::IntegrationId>,
    values: Map<String, Value>,
    connection_fields: Map<String, Value>,
}

impl NewCredential {
    pub fn parse(body: Value) -> Result<NewCredential, ApiError> {
        let mut f = Fields::new(body, FIELDS)?;
        let provider = f.optional("provider", |v| {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| "must be a string".to_string())
        });
        let integration = f.optional("integration_id", |v| {
            v.as_str()
                .and_then(crate::id::IntegrationId::parse)
                .ok_or_else(|| "must be an integration id (int_…)".to_string())
        });
        let values = f.required("values", object);
        let connection_fields = f.optional("connection_fields", object).unwrap_or_default();
        f.finish()?;
        Ok(NewCredential {
            provider,
            integration,
            values: values.unwrap_or_default(),
            connection_fields,
        })
    }
}

/// Checks the values against the provider's fields and keeps them sealed for a later
/// direct connect; unused, they expire.
pub async fn create(
    app: &App,
    tenant: &TenantId,
    new: NewCredential,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    let NewCredential {
        provider,
        integration,
        values,
        connection_fields,
    } = new;
    let (provider, integration) = named_provider(app, tenant, provider, integration).await?;
    if provider.auth_mode == AuthMode::Oauth2 {
        return Err(ApiError::field(
            "provider",
            "connects with OAuth: call POST /v1/integrations/{provider}/connect with a redirect_url instead",
        ));
    }
    let checked = (
        crate::provider::check_values(&provider.credential_fields, "values.", &values),
        crate::provider::check_values(
            &provider.connection_fields,
            "connection_fields.",
            &connection_fields,
        ),
    );
    let (values, fields) = match checked {
        (Ok(v), Ok(f)) => (v, f),
        (a, b) => {
            let errors = a.err().into_iter().chain(b.err()).flatten().collect();
            return Err(ApiError::validation("invalid request body", errors));
        }
    };
    // Asked of the provider before anything is stored; a credential stored without a
    // verdict is asked again by the direct connect that uses it, if its integration refuses
    // unverified credentials.
    let verification = verify::judge(
        app,
        &provider,
        integration.as_ref(),
        &values,
        &fields,
        "values.",
    )
    .await?;
    let id = CredentialId::generate();
    let credentials = Credentials {
        auth_mode: provider.auth_mode,
        provider: provider.id.clone(),
        values: values.into_iter().map(|(k, v)| (k, json!(v))).collect(),
        connection_fields: fields.into_iter().map(|(k, v)| (k, json!(v))).collect(),
        raw: None,
    };
    let sealed = credentials.seal(app.sealer()?, tenant, id.as_str()).await?;
    let now = time::now();
    let expires_at = now + chrono::Duration::seconds(UNUSED_LIFETIME_SECONDS);
    let stored = Stored {
        id: id.clone(),
        provider: provider.id.clone(),
        sealed,
        expires_at,
        verification: verification.clone(),
    };
    let answer = Answer::created(json!({
        "id": id,
        "provider": provider.id,
        "verified": verification.verified,
        "last_check_result": verification.last.as_ref().map(|(o, _)| o),
        "created_at": time::format(&now),
        "expires_at": time::format(&expires_at),
    }));
    let items = vec![repo::create_tx(&app.store, tenant, &stored, now)?];
    match idempotency::commit(&app.store, tenant, idempotency, items, answer, None).await? {
        Ok(answer) => Ok(answer),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::Tokens;
    use crate::secret::Secret;

    #[test]
    fn debug_never_shows_values() {
        let c = Credentials {
            auth_mode: AuthMode::Oauth2,
            provider: "github".into(),
            values: json!({"access_token": "gho_secret", "refresh_token": "r_secret"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            connection_fields: Map::new(),
            raw: Some(json!({"access_token": "gho_secret"})),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!c.public_values().contains_key("refresh_token"));
        assert_eq!(c.refresh_token(), Some("r_secret"));
    }

    #[test]
    fn reads_the_sealed_shape_written_before_raw_existed() {
        let c: Credentials = serde_json::from_value(json!({
            "auth_mode": "api_key", "provider": "datadog",
            "values": {"api_key": "k"}, "connection_fields": {"site": "datadoghq.eu"}
        }))
        .unwrap();
        assert_eq!(c.text("api_key"), Some("k"));
        assert_eq!(c.connection_values()["site"], "datadoghq.eu");
        assert!(c.expires_at().is_none());
    }
    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
        let provider = crate::provider::catalog().unwrap().get("github").unwrap();
        let previous = Credentials::from_tokens(
            Tokens {
                access_token: Secret::new("a1".into()),
                refresh_token: Some(Secret::new("r1".into())),
                token_type: "bearer".into(),
                expires_at: None,
                scope: Some("repo".into()),
                raw: json!({}),
            },
            &provider.id,
            Map::new(),
            None,
        );
        let next = Credentials::from_tokens(
            Tokens {
                access_token: Secret::new("a2".into()),
                refresh_token: None,
                token_type: "bearer".into(),
                expires_at: Some(time::now() + chrono::Duration::seconds(3600)),
                scope: None,
                raw: json!({"access_token": "a2"}),
            },
            &provider.id,
            Map::new(),
            Some(&previous),
        );
        assert_eq!(next.text("access_token"), Some("a2"));
        assert_eq!(next.refresh_token(), Some("r1"));
        assert_eq!(next.text("scope"), Some("repo"));
        assert!(next.expires_at().is_some());
    }

    #[test]
    fn a_client_credentials_token_keeps_its_client() {
        let previous = Credentials {
            auth_mode: AuthMode::Oauth2ClientCredentials,
            provider: "x-acme".into(),
            values: json!({"client_id": "c1", "client_secret": "s1"})
                .as_object()
                .cloned()
                .unwrap(),
            connection_fields: Map::new(),
            raw: None,
        };
        assert!(previous.renewable(), "its client gets the next token");
        let next = Credentials::from_tokens(
            Tokens {
                access_token: Secret::new("a1".into()),
                refresh_token: None,
                token_type: "bearer".into(),
                expires_at: Some(time::now() + chrono::Duration::seconds(60)),
                scope: None,
                raw: json!({}),
            },
            "x-acme",
            Map::new(),
            Some(&previous),
        );
        assert_eq!(next.auth_mode, AuthMode::Oauth2ClientCredentials);
        assert_eq!(next.text("client_secret"), Some("s1"));
        assert_eq!(next.text("access_token"), Some("a1"));
        assert!(next.renewable());
    }
}
