//! Custom providers: a tenant's own provider definitions, with the power of a catalogue
//! entry (OAuth 2.0 with or without PKCE and either client authentication, API keys, basic
//! auth; fields, URL templates, a verification request, a logo). One is held to the
//! catalogue's rules plus the outbound ones (every URL https to a public host once filled),
//! is listed by `GET /v1/providers` for its tenant only, and works in every flow once
//! enabled as an integration.
//!
//! Ids start with `x-` (the catalogue never uses it). The integration of a custom provider
//! keeps a copy of the definition, written in the same transaction as the definition's
//! changes, so every flow still reads one integration and nothing more.
//!
//! Items: `T#<tenant>` / `PROVIDER#<id>`; the tenant's count in `QUOTA#PROVIDERS`.

use crate::error::{ApiError, FieldError};
use crate::id::TenantId;
use crate::idempotency::{self, Answer, Idempotency};
use crate::provider::{Field, Problem, Provider, Rules, CUSTOM_PREFIX};
use crate::time::{self, Timestamp};
use crate::App;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::net::IpAddr;

pub mod api;
mod repo;

pub use repo::{get, is_provider_sk, unchanged_tx};

/// What a definition may hold (`id` only when created).
const FIELDS: &[&str] = &[
    "id",
    "name",
    "category",
    "auth_mode",
    "color",
    "docs_url",
    "oauth",
    "credential_fields",
    "connection_fields",
    "api_base_url",
    "verify",
    "logo",
];

/// A tenant may define this many.
pub const MAX_PER_TENANT: u32 = 50;
/// A definition's size as stored, logo included (each integration keeps a copy).
const MAX_DEFINITION_BYTES: usize = 64 * 1024;
const MAX_FIELDS: usize = 20;
const MAX_OPTIONS: usize = 100;
const MAX_URL: usize = 2048;
const MAX_MAP: usize = 20;
/// The colour of a custom provider's initials when the definition names none.
const DEFAULT_COLOR: &str = "#4B5563";

/// A tenant's provider, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomProvider {
    pub tenant_id: TenantId,
    pub provider: Provider,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
    pub version: u64,
}

pub(crate) fn not_found(raw: &str) -> ApiError {
    ApiError::no_such("custom provider", raw)
}

/// Whether `id` names a custom provider rather than one of the catalogue.
pub fn is_custom_id(id: &str) -> bool {
    id.starts_with(CUSTOM_PREFIX)
}

fn problem(p: Problem) -> FieldError {
    FieldError::new(p.field, p.message)
}

/// The field a serde error is about: its path (an unknown field's includes it), and for a
/// missing field the field's own name under it.
fn serde_field(e: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = e.path().to_string();
    let message = e.inner().to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let field = match (path.as_str(), missing) {
        (".", Some(name)) => name,
        (".", None) => "body".into(),
        (p, Some(name)) => format!("{p}.{name}"),
        (p, None) => p.to_owned(),
    };
    // serde's message mentions line and column of a text we never showed
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_owned();
    FieldError::new(field, message)
}

/// `field` is over `max` characters: said in `out`.
fn too_long(out: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        out.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

/// The sizes a definition may not exceed, each named by its field.
fn limits(p: &Provider) -> Vec<FieldError> {
    let mut out = Vec::new();
    let o = &mut out;
    too_long(o, "id", &p.id, 64);
    too_long(o, "name", &p.name, 100);
    too_long(o, "docs_url", &p.docs_url, MAX_URL);
    if let Some(u) = &p.api_base_url {
        too_long(o, "api_base_url", u, MAX_URL);
    }
    if let Some(spec) = &p.oauth {
        too_long(o, "oauth.authorize_url", &spec.authorize_url, MAX_URL);
        too_long(o, "oauth.token_url", &spec.token_url, MAX_URL);
        if let Some(u) = &spec.revocation_url {
            too_long(o, "oauth.revocation_url", u, MAX_URL);
        }
        for (i, s) in spec.scopes.iter().enumerate() {
            too_long(o, &format!("oauth.scopes[{i}]"), s, 200);
        }
        for (k, v) in &spec.authorize_params {
            too_long(o, &format!("oauth.authorize_params.{k}"), v, 500);
        }
    }
    if let Some(v) = &p.verify {
        too_long(o, "verify.url", &v.url, MAX_URL);
        for (k, value) in v.headers.iter().chain(&v.query) {
            too_long(o, &format!("verify.{k}"), value, 500);
        }
    }
    let field_limits = |at: &str, f: &Field, out: &mut Vec<FieldError>| {
        too_long(out, &format!("{at}.name"), &f.name, 64);
        too_long(out, &format!("{at}.label"), &f.label, 100);
        let help = f.help.as_deref().unwrap_or_default();
        too_long(out, &format!("{at}.help"), help, 500);
        let placeholder = f.placeholder.as_deref().unwrap_or_default();
        too_long(out, &format!("{at}.placeholder"), placeholder, 200);
        let pattern = f.pattern.as_deref().unwrap_or_default();
        too_long(out, &format!("{at}.pattern"), pattern, 500);
        let options = f.options.as_deref().unwrap_or_default();
        for (i, option) in options.iter().enumerate() {
            too_long(out, &format!("{at}.options[{i}]"), option, 200);
        }
        if options.len() > MAX_OPTIONS {
            out.push(FieldError::new(
                format!("{at}.options"),
                format!("must have at most {MAX_OPTIONS} options"),
            ));
        }
    };
    for (name, fields) in [
        ("credential_fields", &p.credential_fields),
        ("connection_fields", &p.connection_fields),
    ] {
        if fields.len() > MAX_FIELDS {
            out.push(FieldError::new(
                name,
                format!("must have at most {MAX_FIELDS} fields"),
            ));
        }
        for (i, f) in fields.iter().enumerate() {
            field_limits(&format!("{name}[{i}]"), f, &mut out);
        }
    }
    let counts = [
        (
            "oauth.scopes",
            p.oauth.as_ref().map_or(0, |o| o.scopes.len()),
            64,
        ),
        (
            "oauth.authorize_params",
            p.oauth.as_ref().map_or(0, |o| o.authorize_params.len()),
            MAX_MAP,
        ),
        (
            "verify.headers",
            p.verify.as_ref().map_or(0, |v| v.headers.len()),
            MAX_MAP,
        ),
        (
            "verify.query",
            p.verify.as_ref().map_or(0, |v| v.query.len()),
            MAX_MAP,
        ),
    ];
    for (field, n, max) in counts {
        if n > max {
            out.push(FieldError::new(
                field,
                format!("must have at most {max} entries"),
            ));
        }
    }
    out
}

/// A definition read from a request: `body` is what the tenant sends (see `FIELDS`),
/// `logo` an SVG data URL that goes through the branding logos' SVG allow-list. Every
/// problem is reported at once, each naming its field.
/// `allow`: the deployment's allowed private addresses (`App::outbound_allowed`).
pub fn parse_definition(allow: &[IpAddr], body: Value) -> Result<Provider, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::validation(
            "request body must be a JSON object",
            Vec::new(),
        ));
    };
    let mut errors: Vec<FieldError> = map
        .keys()
        .filter(|k| !FIELDS.contains(&k.as_str()))
        .map(|k| FieldError::new(k.clone(), "unknown field"))
        .collect();
    // `null` is absent, for every optional field.
    map.retain(|_, v| !v.is_null());
    match map.remove("logo") {
        None => {}
        Some(v) => match crate::branding::logo(&v) {
            Ok(url) => match url
                .strip_prefix("data:image/svg+xml;base64,")
                .and_then(|b64| STANDARD.decode(b64).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
            {
                Some(svg) => {
                    map.insert("logo_svg".into(), Value::String(svg));
                }
                None => errors.push(FieldError::new(
                    "logo",
                    "must be an SVG image (data:image/svg+xml;base64,…)",
                )),
            },
            Err(m) => errors.push(FieldError::new("logo", m)),
        },
    }
    map.entry("color")
        .or_insert_with(|| Value::String(DEFAULT_COLOR.into()));
    // a client-credentials provider's fields are always these two
    if map.get("auth_mode").and_then(Value::as_str) == Some("oauth2_client_credentials") {
        map.entry("credential_fields").or_insert_with(|| {
            json!([
                {"name": "client_id", "label": "Client ID"},
                {"name": "client_secret", "label": "Client secret", "secret": true}
            ])
        });
    }
    map.insert("custom".into(), Value::Bool(true));
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let provider: Provider = serde_path_to_error::deserialize(Value::Object(map))
        .map_err(|e| invalid(vec![serde_field(&e)]))?;
    let mut errors = limits(&provider);
    errors.extend(
        provider
            .problems(&Rules::Custom { allow })
            .into_iter()
            .map(problem),
    );
    let size = serde_json::to_string(&provider).map_or(usize::MAX, |s| s.len());
    if size > MAX_DEFINITION_BYTES {
        errors.push(FieldError::new(
            "body",
            format!(
                "the definition must be at most {} KiB, logo included",
                MAX_DEFINITION_BYTES / 1024
            ),
        ));
    }
    if errors.is_empty() {
        Ok(provider)
    } else {
        Err(invalid(errors))
    }
}

fn invalid(mut errors: Vec<FieldError>) -> ApiError {
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors.dedup();
    ApiError::validation("the provider definition is not valid", errors)
}

impl CustomProvider {
    /// The definition as a tenant sends it (the logo as its data URL), with when it was
    /// made and changed.
    pub fn to_json(&self) -> Value {
        let mut v = definition(&self.provider);
        v["created_at"] = json!(time::format(&self.created_at));
        v["updated_at"] = json!(time::format(&self.updated_at));
        v
    }
}

/// `provider` as its tenant would send it.
fn definition(provider: &Provider) -> Value {
    let mut v = serde_json::to_value(provider).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut v {
        map.remove("custom");
        let logo = map
            .remove("logo_svg")
            .and_then(|s| s.as_str().map(|s| STANDARD.encode(s)))
            .map(|b64| format!("data:image/svg+xml;base64,{b64}"));
        map.insert("logo".into(), json!(logo));
        for optional in ["docs_url", "api_base_url", "oauth", "verify"] {
            map.entry(optional).or_insert(Value::Null);
        }
        // what the defaults chose, said
        if let (Some(Value::Object(o)), Some(spec)) = (map.get_mut("oauth"), &provider.oauth) {
            o.insert("pkce".into(), json!(spec.pkce));
            o.insert("token_auth".into(), json!(spec.token_auth));
        }
    }
    v
}

/// Defines a provider for the tenant.
pub async fn create(
    app: &App,
    tenant: &TenantId,
    provider: Provider,
    idempotency: Option<&Idempotency>,
) -> Result<Answer, ApiError> {
    let now = time::now();
    let custom = CustomProvider {
        tenant_id: tenant.clone(),
        provider,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let items = vec![
        repo::create_tx(&app.store, &custom)?,
        crate::quota::provider_place_tx(&app.store, tenant, MAX_PER_TENANT)?,
    ];
    let answer = Answer::created(custom.to_json());
    match idempotency::commit(&app.store, tenant, idempotency, items, answer, None).await? {
        Ok(answer) => Ok(answer),
        Err(failed) if failed.failed_condition(0) => Err(ApiError::Conflict {
            message: format!(
                "this tenant already has a custom provider {}; update it instead",
                custom.provider.id
            ),
            details: vec![FieldError::new("id", "is taken")],
        }),
        Err(failed) if failed.failed_condition(1) => Err(ApiError::LimitReached(format!(
            "a tenant may have at most {MAX_PER_TENANT} custom providers; delete one first"
        ))),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}

/// The tenant's custom provider `id` for an integration to copy, with the transaction item
/// that checks it is still this version when the integration is written.
pub async fn for_integration(
    app: &App,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<(Provider, crate::store::TxItem)>, ApiError> {
    let Some(found) = get(&app.store, tenant, id).await? else {
        return Ok(None);
    };
    let check = unchanged_tx(&app.store, tenant, id, found.version)?;
    Ok(Some((found.provider, check)))
}

/// The tenant's custom provider `id`, or a 404.
pub async fn load(app: &App, tenant: &TenantId, id: &str) -> Result<CustomProvider, ApiError> {
    if !is_custom_id(id) {
        return Err(not_found(id));
    }
    get(&app.store, tenant, id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// A page of the tenant's custom providers.
pub async fn page(
    app: &App,
    tenant: &TenantId,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<CustomProvider>, Option<String>), ApiError> {
    Ok(repo::page(&app.store, tenant, limit, after).await?)
}

/// Every custom provider of the tenant (at most [`MAX_PER_TENANT`]: one bounded read).
pub async fn all(app: &App, tenant: &TenantId) -> Result<Vec<CustomProvider>, ApiError> {
    Ok(
        repo::page(&app.store, tenant, MAX_PER_TENANT as usize, None)
            .await?
            .0,
    )
}

/// A PATCH: the stored definition with the body's top-level fields over it (`null` removes
/// an optional one), checked again as a whole. `id` cannot change.
pub fn patched(
    allow: &[IpAddr],
    current: &CustomProvider,
    body: Value,
) -> Result<Provider, ApiError> {
    let Value::Object(changes) = body else {
        return Err(ApiError::validation(
            "request body must be a JSON object",
            Vec::new(),
        ));
    };
    if changes.contains_key("id") {
        return Err(ApiError::field(
            "id",
            "cannot change: define a new provider instead",
        ));
    }
    let mut next: Map<String, Value> = match definition(&current.provider) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    next.extend(changes);
    next.insert("id".into(), json!(current.provider.id));
    parse_definition(allow, Value::Object(next))
}

/// Replaces the definition, and its integration's copy in the same transaction (re-read
/// and re-applied when another write came first).
pub async fn update(
    app: &App,
    current: CustomProvider,
    body: Value,
) -> Result<CustomProvider, ApiError> {
    let tenant = current.tenant_id.clone();
    let id = current.provider.id.clone();
    let (tenant, id, body) = (&tenant, &id, &body);
    app.store
        .retry_versioned(
            current,
            move |_, _| async move { load(app, tenant, id).await },
            move |current| async move {
                let provider = patched(&app.outbound_allowed(false), &current, body.clone())?;
                let next = CustomProvider {
                    provider,
                    updated_at: time::now(),
                    version: current.version + 1,
                    ..current.clone()
                };
                let mut items = vec![repo::replace_tx(&app.store, &next, &current)?];
                items.push(
                    crate::integration::custom_provider_tx(app, tenant, &next.provider).await?,
                );
                Ok(crate::store::Step::Write(items, next))
            },
        )
        .await?
        .ok_or_else(|| ApiError::conflict("concurrent updates; retry"))
}

/// Deletes the definition: only while no integration uses it (409 otherwise).
pub async fn delete(app: &App, current: &CustomProvider) -> Result<(), ApiError> {
    let tenant = &current.tenant_id;
    let items = vec![
        repo::delete_tx(&app.store, current)?,
        crate::integration::no_integration_tx(&app.store, tenant, &current.provider.id)?,
        crate::quota::provider_release_tx(&app.store, tenant)?,
    ];
    match app.store.transact(items).await? {
        crate::store::TxOutcome::Committed => Ok(()),
        failed if failed.failed_condition(1) => Err(ApiError::Conflict {
            message: format!(
                "{} is in use by an integration; deactivate the integration (status: inactive) to stop new connections",
                current.provider.name
            ),
            details: vec![FieldError::new("id", "is in use by an integration")],
        }),
        failed if failed.failed_condition(0) => Err(not_found(&current.provider.id)),
        _ => Err(ApiError::conflict("concurrent request; retry")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deployment that allows loopback, as the local stack does.
    fn app() -> Vec<IpAddr> {
        vec!["127.0.0.1".parse().unwrap()]
    }

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation { details, .. } => details.into_iter().map(|d| d.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    fn key_provider() -> Value {
        json!({
            "id": "x-acme-erp",
            "name": "Acme ERP",
            "category": "accounting",
            "auth_mode": "api_key",
            "credential_fields": [{"name": "api_key", "label": "API key", "secret": true}],
            "connection_fields": [{"name": "region", "label": "Region", "options": ["eu", "us"]}],
            "api_base_url": "https://{region}.api.acme.example/v2",
            "verify": {"url": "https://{region}.api.acme.example/v2/me", "headers": {"Authorization": "Bearer {api_key}"}}
        })
    }

    #[test]
    fn a_good_definition_parses_with_defaults() {
        let p = parse_definition(&app(), key_provider()).unwrap();
        assert!(p.custom);
        assert_eq!(p.color, DEFAULT_COLOR);
        assert!(p.docs_url.is_empty());
        let shown = definition(&p);
        assert_eq!(shown["logo"], Value::Null);
        assert!(shown.get("custom").is_none());
    }

    #[test]
    fn every_problem_names_its_field() {
        let mut bad = key_provider();
        bad["id"] = json!("acme");
        bad["api_base_url"] = json!("http://api.acme.example");
        bad["verify"]["url"] = json!("https://{tenant}.acme.example/me");
        bad["credential_fields"][0]["pattern"] = json!("[a-z");
        bad["surprise"] = json!(1);
        let got = fields(parse_definition(&app(), bad.clone()).unwrap_err());
        assert_eq!(got, ["surprise"], "unknown fields come first, alone");
        bad.as_object_mut().unwrap().remove("surprise");
        let got = fields(parse_definition(&app(), bad).unwrap_err());
        for want in [
            "id",
            "api_base_url",
            "verify.url",
            "credential_fields[0].pattern",
        ] {
            assert!(got.contains(&want.to_string()), "{want} not in {got:?}");
        }
    }

    #[test]
    fn urls_must_reach_public_hosts() {
        for (field, url) in [
            ("api_base_url", "https://10.0.0.1/v2"),
            ("api_base_url", "https://169.254.169.254/latest"),
            ("api_base_url", "https://localhost/v2"),
            ("api_base_url", "https://metadata.internal/v2"),
            ("verify.url", "https://[::1]/me"),
        ] {
            let mut bad = key_provider();
            let (top, rest) = field.split_once('.').unwrap_or((field, ""));
            if rest.is_empty() {
                bad[top] = json!(url);
            } else {
                bad[top][rest] = json!(url);
            }
            let got = fields(parse_definition(&app(), bad).unwrap_err());
            assert_eq!(got, [field], "{url}");
        }
        // what the deployment allows (a local stack's loopback) is allowed
        let mut local = key_provider();
        local["verify"]["url"] = json!("http://127.0.0.1:9402/v1/me");
        assert!(parse_definition(&app(), local).is_ok());
    }

    #[test]
    fn nested_shapes_are_named_by_path() {
        let mut bad = key_provider();
        bad["credential_fields"][0] = json!({"name": "api_key", "secret": true});
        assert_eq!(
            fields(parse_definition(&app(), bad).unwrap_err()),
            ["credential_fields[0].label"]
        );
        let mut bad = key_provider();
        bad["verify"]["colour"] = json!("red");
        assert_eq!(
            fields(parse_definition(&app(), bad).unwrap_err()),
            ["verify.colour"]
        );
    }

    #[test]
    fn oauth_definitions_choose_pkce_and_client_authentication() {
        let def = json!({
            "id": "x-acme-crm",
            "name": "Acme CRM",
            "category": "crm",
            "auth_mode": "oauth2",
            "oauth": {
                "authorize_url": "https://login.acme.example/authorize",
                "token_url": "https://login.acme.example/token",
                "scopes": ["read", "write"],
                "pkce": false,
                "token_auth": "client_secret_post",
                "authorize_params": {"prompt": "consent"}
            }
        });
        let p = parse_definition(&app(), def.clone()).unwrap();
        let o = p.oauth.as_ref().unwrap();
        assert!(!o.pkce);
        assert_eq!(o.token_auth, crate::provider::TokenAuth::ClientSecretPost);
        assert_eq!(o.scope_separator, " ");
        let mut bad = def;
        bad["oauth"]["authorize_params"] = json!({"redirect_uri": "https://evil.example"});
        assert_eq!(
            fields(parse_definition(&app(), bad).unwrap_err()),
            ["oauth.authorize_params.redirect_uri"]
        );
    }

    #[test]
    fn client_credentials_definitions_take_the_client_as_their_fields() {
        let def = json!({
            "id": "x-acme-m2m",
            "name": "Acme M2M",
            "category": "accounting",
            "auth_mode": "oauth2_client_credentials",
            "oauth": {"token_url": "https://auth.acme.example/token", "scopes": ["ledger.read"]}
        });
        let p = parse_definition(&app(), def.clone()).unwrap();
        let names: Vec<_> = p
            .credential_fields
            .iter()
            .map(|f| (f.name.as_str(), f.secret))
            .collect();
        assert_eq!(names, [("client_id", false), ("client_secret", true)]);
        let mut bad = def.clone();
        bad["oauth"]["authorize_url"] = json!("https://auth.acme.example/authorize");
        assert_eq!(
            fields(parse_definition(&app(), bad).unwrap_err()),
            ["oauth.authorize_url"]
        );
        let mut bad = def;
        bad["credential_fields"] = json!([{"name": "api_key", "label": "Key", "secret": true}]);
        assert_eq!(
            fields(parse_definition(&app(), bad).unwrap_err()),
            ["credential_fields"]
        );
    }

    #[test]
    fn logos_are_svg_through_the_branding_allow_list() {
        let mut def = key_provider();
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>alert(1)</script><rect width="10" height="10" fill="#123456"/></svg>"##;
        def["logo"] = json!(format!(
            "data:image/svg+xml;base64,{}",
            STANDARD.encode(svg)
        ));
        let p = parse_definition(&app(), def.clone()).unwrap();
        let kept = p.logo_svg.as_deref().unwrap();
        assert!(!kept.contains("script") && kept.contains("rect"), "{kept}");
        def["logo"] = json!("data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(
            fields(parse_definition(&app(), def.clone()).unwrap_err()),
            ["logo"]
        );
        let huge = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg">{}</svg>"#,
            "<rect width=\"1\" height=\"1\"/>".repeat(2000)
        );
        def["logo"] = json!(format!(
            "data:image/svg+xml;base64,{}",
            STANDARD.encode(huge)
        ));
        assert_eq!(fields(parse_definition(&app(), def).unwrap_err()), ["logo"]);
    }
}
