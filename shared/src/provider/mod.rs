//! The built-in provider catalog (`shared/catalog/providers.json`): what can be connected,
//! how (OAuth 2.0, API key, basic), which fields a customer fills in, and how those fields
//! complete the provider's URLs. The file is data; [`Catalog::parse`] checks every rule, and
//! a unit test proves the shipped file passes them. A function never reads the whole file:
//! the build splits it into each provider's id and JSON (build.rs), and a provider is parsed
//! the first time it is looked up (by id, through an index), its patterns compiled and its
//! logo encoded the first time they are needed. Nothing a request does, and no more of a
//! process's memory than the providers it uses, grows with the catalogue.

use crate::error::{ApiError, FieldError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

pub mod api;

/// `catalog/providers.json`, or the file `LINKGATE_CATALOG` named at build time (the bench's
/// grown catalogue, see build.rs): what the tests check.
#[cfg(test)]
const CATALOG_JSON: &str = include_str!(env!("LINKGATE_CATALOG_FILE"));

mod shipped {
    include!(concat!(env!("OUT_DIR"), "/catalog_entries.rs"));
}
/// The longest value one field may hold (a PEM key or a service-account JSON fits).
pub const MAX_FIELD_CHARS: usize = 4096;

pub const CATEGORIES: &[&str] = &[
    "accounting",
    "crm",
    "developer_tools",
    "communication",
    "payments",
    "commerce",
    "support",
    "marketing",
    "productivity",
    "hr",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    Oauth2,
    /// RFC 6749 §4.4: the customer's own client id and secret, traded for tokens at the
    /// token URL (no authorization step; renewed the same way).
    #[serde(rename = "oauth2_client_credentials")]
    Oauth2ClientCredentials,
    ApiKey,
    Basic,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Oauth2 => "oauth2",
            AuthMode::Oauth2ClientCredentials => "oauth2_client_credentials",
            AuthMode::ApiKey => "api_key",
            AuthMode::Basic => "basic",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSpec {
    /// Empty for a client-credentials provider (it has no authorization step).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub authorize_url: String,
    pub token_url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "space")]
    pub scope_separator: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorize_params: BTreeMap<String, String>,
    /// The provider's RFC 7009 token revocation endpoint, where it has one: revoking a
    /// connection revokes its grant there too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_url: Option<String>,
    /// Whether the authorization asks with a PKCE (S256) challenge: on unless the provider
    /// refuses requests that carry one.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub pkce: bool,
    /// How the token endpoint takes our client credentials.
    #[serde(default, skip_serializing_if = "TokenAuth::is_default")]
    pub token_auth: TokenAuth,
}

fn space() -> String {
    " ".into()
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// How a token endpoint authenticates the client (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    /// HTTP Basic with the client id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl TokenAuth {
    fn is_default(&self) -> bool {
        *self == TokenAuth::ClientSecretBasic
    }
}

/// How to ask a provider whether API-key or basic credentials work, before anything is
/// stored: one cheap authenticated request. Placeholders (`{name}`) in the URL take
/// connection fields only (never a secret in a path); headers, query and basic auth take
/// any declared field. Statuses in `valid` or `refused` are the provider's verdict; any
/// other answer (5xx, 429, a redirect, a timeout) is no verdict (see `credential::verify`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    #[serde(default)]
    pub method: VerifyMethod,
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default = "default_valid")]
    pub valid: Vec<u16>,
    #[serde(default = "default_refused")]
    pub refused: Vec<u16>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerifyMethod {
    #[default]
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "HEAD")]
    Head,
    #[serde(rename = "POST")]
    Post,
}

/// `Authorization: Basic`, from two templates (`{api_key}` and `X` for Freshdesk).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

fn default_valid() -> Vec<u16> {
    vec![200]
}

fn default_refused() -> Vec<u16> {
    vec![401, 403]
}

/// Header names a verification request may not set: the client owns them.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// One input a customer fills in: a credential (`secret` ones are never shown back) or a
/// connection field that completes URL templates (`{shop}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub secret: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// `pattern`, compiled on first use.
    #[serde(skip)]
    compiled: OnceLock<Option<Regex>>,
}

impl Field {
    /// The compiled pattern; `None` without one (or, at run time, for one that does not
    /// compile, which [`Catalog::parse`] never lets into the shipped catalog).
    fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| self.pattern.as_deref().and_then(|p| Regex::new(p).ok()))
            .as_ref()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub category: String,
    pub auth_mode: AuthMode,
    /// Brand colour of our generated logo.
    pub color: String,
    /// Empty only for a custom provider without a docs page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthSpec>,
    #[serde(default)]
    pub credential_fields: Vec<Field>,
    #[serde(default)]
    pub connection_fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// How submitted credentials are checked with the provider (API-key and basic only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
    /// Why an API-key or basic provider has no `verify` (its API has no cheap authenticated
    /// request): the catalogue says so rather than forgetting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverifiable: Option<String>,
    /// The brand's mark (from the `simple-icons` package, written by
    /// `scripts/catalog_logos.py`, never by hand); served through the branding logos' SVG
    /// allow-list. Without one, the initials logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_svg: Option<String>,
    /// Where the mark came from, and under which licence (see `catalog/LOGOS.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_source: Option<LogoSource>,
    /// A loopback test provider (the local stack's `oidc-provider-mock`): listed and usable
    /// only when running locally, and the only kind allowed plain-`http` loopback URLs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local_only: bool,
    /// A tenant's own definition (see `custom_provider`), not the catalogue's: its URLs are
    /// called through the outbound address checks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom: bool,
    /// The logo's SVG in base64, encoded on first use.
    #[serde(skip)]
    logo_base64: OnceLock<String>,
}

/// Two providers are equal when their definitions are (what is cached on first use aside).
impl PartialEq for Provider {
    fn eq(&self, other: &Provider) -> bool {
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

/// The package a provider's mark came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoSource {
    pub package: String,
    pub version: String,
    pub slug: String,
    pub license: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    version: u32,
    providers: Vec<Provider>,
}

pub struct Catalog {
    source: Source,
    /// Each provider, parsed the first time it is looked up (boxed: most stay unparsed).
    parsed: Box<[OnceLock<Option<Box<Provider>>>]>,
}

/// Where a catalogue's providers come from.
enum Source {
    /// Split by the build (the shipped catalogue): each provider's id and JSON in the file's
    /// order, and their positions sorted by id, so a lookup is a binary search over the ids
    /// alone and building the catalogue reads and allocates nothing per provider.
    Built {
        ids: &'static [&'static str],
        json: &'static [&'static str],
        by_id: &'static [u32],
    },
    /// Read from a file's text at run time (tests and tools).
    Read {
        ids: Vec<String>,
        json: Vec<String>,
        index: HashMap<String, usize>,
    },
}

impl Source {
    fn ids(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            Source::Built { ids, .. } => Box::new(ids.iter().copied()),
            Source::Read { ids, .. } => Box::new(ids.iter().map(String::as_str)),
        }
    }

    fn json(&self, i: usize) -> Option<&str> {
        match self {
            Source::Built { json, .. } => json.get(i).copied(),
            Source::Read { json, .. } => json.get(i).map(String::as_str),
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        match self {
            Source::Built { ids, by_id, .. } => by_id
                .binary_search_by(|&p| ids.get(p as usize).copied().unwrap_or_default().cmp(id))
                .ok()
                .and_then(|k| by_id.get(k))
                .map(|&p| p as usize),
            Source::Read { index, .. } => index.get(id).copied(),
        }
    }
}

#[derive(Deserialize)]
struct LooseFile {
    version: u32,
    providers: Vec<Value>,
}

fn is_slug(s: &str, sep: char) -> bool {
    !s.is_empty()
        && s.split(sep).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn is_field_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The `{name}` placeholders of a URL template.
pub fn placeholders(template: &str) -> Vec<&str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Fills `{name}` placeholders in one pass: a value is never read as a template itself
/// (a key that happens to contain `{site}` stays as typed). Unknown names stay as written.
pub fn fill(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.split_once('}') {
            Some((name, tail)) if values.contains_key(name) => {
                out.push_str(&values[name]);
                rest = tail;
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What is wrong with a provider's verification request (see [`VerifySpec`]).
fn verify_problems(p: &Provider, v: &VerifySpec) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    // The URL's own placeholders are held to the connection fields with the other URLs.
    let all: HashSet<&str> = p
        .credential_fields
        .iter()
        .chain(&p.connection_fields)
        .map(|f| f.name.as_str())
        .collect();
    let mut templates: Vec<(String, &str)> = Vec::new();
    for (name, value) in &v.headers {
        if !is_header_name(name) || RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            problems.push((
                format!("verify.headers.{name}"),
                format!("verify.headers.{name} is not a header it may set"),
            ));
        }
        templates.push((format!("verify.headers.{name}"), value));
    }
    for (name, value) in &v.query {
        templates.push((format!("verify.query.{name}"), value));
    }
    if let Some(b) = &v.basic_auth {
        templates.push(("verify.basic_auth.username".into(), &b.username));
        templates.push(("verify.basic_auth.password".into(), &b.password));
    }
    for (at, template) in templates {
        for name in placeholders(template) {
            if !all.contains(name) {
                problems.push((
                    at.clone(),
                    format!("{at} uses {{{name}}}, which is no field"),
                ));
            }
        }
    }
    if v.basic_auth.is_some()
        && v.headers
            .keys()
            .any(|h| h.eq_ignore_ascii_case("authorization"))
    {
        problems.push((
            "verify.basic_auth".into(),
            "verify sets Authorization twice (headers and basic_auth)".into(),
        ));
    }
    if v.valid.is_empty() || v.valid.iter().any(|s| !(200..300).contains(s)) {
        problems.push((
            "verify.valid".into(),
            "verify.valid must list 2xx statuses".into(),
        ));
    }
    if v.refused.is_empty() || v.refused.iter().any(|s| !(400..500).contains(s)) {
        problems.push((
            "verify.refused".into(),
            "verify.refused must list 4xx statuses".into(),
        ));
    }
    if v.refused.contains(&429) {
        problems.push((
            "verify.refused".into(),
            "verify.refused cannot hold 429: a busy provider has not judged".into(),
        ));
    }
    problems
}

/// The prefix of a custom provider's id: the catalogue never uses it, so a tenant's id
/// cannot collide with a provider the catalogue adds later.
pub const CUSTOM_PREFIX: &str = "x-";

/// Which rules a provider is held to.
pub enum Rules<'a> {
    /// The shipped catalogue's (checked by the tests).
    Catalogue,
    /// A tenant's definition: every URL one we would call (https to a public host, or one
    /// of `allow`, the deployment's allowed private addresses), the logo optional.
    Custom { allow: &'a [std::net::IpAddr] },
}

/// One broken rule: the field (a JSON path in the definition) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Provider {
    /// Every rule this provider breaks (none: it can be used in every flow).
    pub fn problems(&self, rules: &Rules<'_>) -> Vec<Problem> {
        let p = self;
        let custom = matches!(rules, Rules::Custom { .. });
        let mut out = Vec::new();
        let mut err = |field: &str, message: String| {
            out.push(Problem {
                field: field.to_owned(),
                message,
            })
        };
        if !is_slug(&p.id, '-') {
            err("id", "id must be lower-case words joined by '-'".into());
        }
        if custom && !p.id.starts_with(CUSTOM_PREFIX) {
            err(
                "id",
                format!("a custom provider's id starts with {CUSTOM_PREFIX}"),
            );
        }
        if p.name.trim().is_empty() {
            err("name", "empty name".into());
        }
        if !CATEGORIES.contains(&p.category.as_str()) {
            err("category", format!("unknown category {}", p.category));
        }
        let hex_colour = p.color.len() == 7
            && p.color.starts_with('#')
            && p.color[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_colour {
            err("color", "color must be #RRGGBB".into());
        }
        // a custom provider may have no docs page (an internal API)
        if !(p.docs_url.starts_with("https://") || custom && p.docs_url.is_empty()) {
            err("docs_url", "docs_url must be https".into());
        }
        let mut names = HashSet::new();
        let fields = p
            .credential_fields
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("credential_fields[{i}]"), f))
            .chain(
                p.connection_fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (format!("connection_fields[{i}]"), f)),
            );
        for (at, field) in fields {
            if !is_field_name(&field.name) || !names.insert(field.name.clone()) {
                err(
                    &format!("{at}.name"),
                    format!("field name {} is malformed or repeated", field.name),
                );
            }
            if field.label.trim().is_empty() {
                err(
                    &format!("{at}.label"),
                    format!("field {} has no label", field.name),
                );
            }
            if let Some(options) = &field.options {
                if options.is_empty() {
                    err(
                        &format!("{at}.options"),
                        format!("field {} has an empty option list", field.name),
                    );
                }
            }
            if let Some(pattern) = &field.pattern {
                if !(pattern.starts_with('^') && pattern.ends_with('$')) {
                    err(
                        &format!("{at}.pattern"),
                        format!("pattern of {} must be anchored with ^…$", field.name),
                    );
                }
                if let Err(e) = Regex::new(pattern) {
                    err(
                        &format!("{at}.pattern"),
                        format!("pattern of {} does not compile: {e}", field.name),
                    );
                }
            }
        }
        for (i, field) in p.connection_fields.iter().enumerate() {
            if field.secret {
                err(
                    &format!("connection_fields[{i}].secret"),
                    format!("connection field {} cannot be secret", field.name),
                );
            }
        }
        match (p.auth_mode, &p.oauth) {
            (AuthMode::Oauth2 | AuthMode::Oauth2ClientCredentials, None) => {
                err("oauth", "oauth2 provider without oauth settings".into())
            }
            (AuthMode::Oauth2, Some(o)) if o.authorize_url.is_empty() => err(
                "oauth.authorize_url",
                "an oauth2 provider needs its authorization URL".into(),
            ),
            (AuthMode::Oauth2ClientCredentials, Some(o)) if !o.authorize_url.is_empty() => err(
                "oauth.authorize_url",
                "a client-credentials provider has no authorization step: no authorize_url".into(),
            ),
            (AuthMode::Oauth2, Some(_)) if !p.credential_fields.is_empty() => err(
                "credential_fields",
                "oauth2 providers take no credential fields".into(),
            ),
            (AuthMode::ApiKey | AuthMode::Basic, Some(_)) => {
                err("oauth", "only oauth2 providers have oauth settings".into())
            }
            (AuthMode::ApiKey | AuthMode::Basic, None)
                if !p.credential_fields.iter().any(|f| f.secret) =>
            {
                err(
                    "credential_fields",
                    "needs at least one secret credential field".into(),
                )
            }
            _ => {}
        }
        let mut got: Vec<(&str, bool)> = p
            .credential_fields
            .iter()
            .map(|f| (f.name.as_str(), f.secret))
            .collect();
        got.sort_unstable();
        if p.auth_mode == AuthMode::Basic
            && got.iter().map(|(n, _)| *n).collect::<Vec<_>>() != ["password", "username"]
        {
            err(
                "credential_fields",
                "basic providers have exactly the fields username and password".into(),
            );
        }
        if p.auth_mode == AuthMode::Oauth2ClientCredentials
            && got != [("client_id", false), ("client_secret", true)]
        {
            err(
                "credential_fields",
                "client-credentials providers have exactly the fields client_id and client_secret (secret)"
                    .into(),
            );
        }
        match (p.auth_mode, &p.verify, &p.unverifiable) {
            (AuthMode::Oauth2 | AuthMode::Oauth2ClientCredentials, None, None) => {}
            (AuthMode::Oauth2 | AuthMode::Oauth2ClientCredentials, Some(_), _) => err(
                "verify",
                "oauth2 providers are verified by their grant: no verify".into(),
            ),
            (AuthMode::Oauth2 | AuthMode::Oauth2ClientCredentials, _, Some(_)) => err(
                "unverifiable",
                "oauth2 providers are verified by their grant: no verify".into(),
            ),
            (_, Some(_), Some(_)) => err(
                "unverifiable",
                "give verify or unverifiable, not both".into(),
            ),
            // a tenant's provider without a verify request stores credentials unchecked
            (_, None, None) if !custom => err(
                "verify",
                "api_key and basic providers need a verify request (or unverifiable: why not)"
                    .into(),
            ),
            (_, None, Some(why)) if why.trim().len() < 10 => {
                err("unverifiable", "unverifiable must say why".into())
            }
            (_, Some(v), None) => {
                for (field, message) in verify_problems(p, v) {
                    err(&field, message);
                }
            }
            _ => {}
        }
        match (&p.logo_svg, &p.logo_source) {
            (None, None) => {}
            // Served as it is, so it must be exactly what the allow-list keeps.
            (Some(svg), source) if custom || source.is_some() => {
                match crate::branding::sanitize_svg(svg) {
                    Ok(clean) if clean != *svg => err(
                        "logo",
                        "logo_svg is not as the branding SVG allow-list writes it".into(),
                    ),
                    Ok(clean) if clean.len() > crate::branding::MAX_LOGO_BYTES => err(
                        "logo",
                        "logo_svg is larger than a branding logo may be".into(),
                    ),
                    Ok(_) => {}
                    Err(e) => err("logo", format!("logo_svg {e}")),
                }
            }
            _ => err(
                "logo_source",
                "logo_svg and logo_source go together (scripts/catalog_logos.py)".into(),
            ),
        }
        let connection: BTreeMap<String, String> = p
            .connection_fields
            .iter()
            .map(|f| (f.name.clone(), sample_value(f)))
            .collect();
        let mut templates: Vec<(&str, &str)> = p
            .api_base_url
            .iter()
            .map(|u| ("api_base_url", u.as_str()))
            .collect();
        templates.extend(p.verify.as_ref().map(|v| ("verify.url", v.url.as_str())));
        if let Some(o) = &p.oauth {
            if !o.authorize_url.is_empty() {
                templates.push(("oauth.authorize_url", o.authorize_url.as_str()));
            }
            templates.push(("oauth.token_url", o.token_url.as_str()));
            templates.extend(
                o.revocation_url
                    .as_deref()
                    .map(|u| ("oauth.revocation_url", u)),
            );
            if o.scope_separator != " " && o.scope_separator != "," {
                err(
                    "oauth.scope_separator",
                    "scope_separator must be ' ' or ','".into(),
                );
            }
            // Scopes are joined with the separator: none may hold it, or a space, or be empty.
            for (i, scope) in o.scopes.iter().enumerate() {
                if scope.is_empty()
                    || scope.contains(|c: char| c.is_whitespace() || c == ',' || c.is_control())
                {
                    err(
                        &format!("oauth.scopes[{i}]"),
                        format!("scope {scope:?} is empty or holds a space or a comma"),
                    );
                }
            }
            for name in o.authorize_params.keys() {
                if RESERVED_AUTHORIZE_PARAMS.contains(&name.as_str()) {
                    err(
                        &format!("oauth.authorize_params.{name}"),
                        format!("{name} is set by the flow itself"),
                    );
                }
            }
        }
        for (at, template) in templates {
            for name in placeholders(template) {
                if !connection.contains_key(name) {
                    err(
                        at,
                        format!("{template} uses {{{name}}}, which is no connection field"),
                    );
                }
            }
            let filled = fill(template, &connection);
            let ok = match rules {
                Rules::Catalogue => match url::Url::parse(&filled) {
                    Ok(u) if u.scheme() == "https" && u.host_str().is_some() => true,
                    Ok(u) => {
                        p.local_only && u.scheme() == "http" && u.host_str() == Some("127.0.0.1")
                    }
                    Err(_) => false,
                },
                Rules::Custom { allow } => {
                    crate::outbound::OutboundUrl::parse(&filled, allow).is_ok()
                }
            };
            if !ok {
                let what = if custom {
                    "is not an https URL to a public host once filled"
                } else {
                    "is not an https URL once filled"
                };
                err(at, format!("{template} {what}"));
            }
        }
        out
    }
}

/// The catalogue's promise, local-only test providers not counted.
pub const MIN_CATALOG: usize = 150;

/// Authorization parameters the flow sets itself: a definition cannot override them.
const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

fn sample_value(field: &Field) -> String {
    field
        .options
        .as_ref()
        .and_then(|o| o.first().cloned())
        .or_else(|| field.placeholder.clone().filter(|p| !p.contains('…')))
        .unwrap_or_else(|| "example".to_owned())
}

impl Catalog {
    fn with_source(source: Source, len: usize) -> Catalog {
        Catalog {
            source,
            parsed: (0..len).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The catalogue compiled in, split by the build: nothing parsed until looked up.
    fn shipped() -> Result<Catalog, Vec<String>> {
        if let Some(e) = shipped::SPLIT_ERROR {
            return Err(vec![e.to_owned()]);
        }
        let source = Source::Built {
            ids: shipped::IDS,
            json: shipped::JSON,
            by_id: shipped::BY_ID,
        };
        Ok(Catalog::with_source(source, shipped::IDS.len()))
    }

    /// Indexes a catalog without checking its rules (providers are parsed when looked up).
    pub fn load(text: &str) -> Result<Catalog, Vec<String>> {
        let file: LooseFile = serde_json::from_str(text).map_err(|e| vec![e.to_string()])?;
        if file.version != 1 {
            return Err(vec![format!("unknown catalog version {}", file.version)]);
        }
        let ids: Vec<String> = file
            .providers
            .iter()
            .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        let mut index = HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            // the first of a repeated id wins, as a scan would; `parse` reports it
            index.entry(id.clone()).or_insert(i);
        }
        let json = file.providers.iter().map(Value::to_string).collect();
        let len = ids.len();
        Ok(Catalog::with_source(Source::Read { ids, json, index }, len))
    }

    /// Provider `i`, parsed now if it was not yet.
    fn provider_at(&self, i: usize) -> Option<&Provider> {
        self.parsed
            .get(i)?
            .get_or_init(|| match serde_json::from_str(self.source.json(i)?) {
                Ok(p) => Some(Box::new(p)),
                // the tests hold the shipped catalogue to its rules; should one still not
                // parse, it is unknown rather than a failure of every request
                Err(error) => {
                    tracing::error!(%error, "a catalog provider does not parse");
                    None
                }
            })
            .as_deref()
    }

    /// Parses and checks a catalog; every broken rule is reported.
    pub fn parse(text: &str) -> Result<Catalog, Vec<String>> {
        let file: CatalogFile = serde_json::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut errors = Vec::new();
        let mut ids = HashSet::new();
        if file.version != 1 {
            errors.push(format!("unknown catalog version {}", file.version));
        }
        for p in &file.providers {
            if !ids.insert(p.id.clone()) {
                errors.push(format!("{}: duplicate id", p.id));
            }
            if p.custom {
                errors.push(format!("{}: the catalogue holds no custom providers", p.id));
            }
            if p.id.starts_with(CUSTOM_PREFIX) {
                errors.push(format!(
                    "{}: ids starting with {CUSTOM_PREFIX} are the tenants' (custom providers)",
                    p.id
                ));
            }
            for problem in p.problems(&Rules::Catalogue) {
                errors.push(format!("{}: {}", p.id, problem.message));
            }
        }
        let real = file.providers.iter().filter(|p| !p.local_only).count();
        if real < MIN_CATALOG {
            errors.push(format!(
                "only {real} providers; the catalog promises at least {MIN_CATALOG}"
            ));
        }
        if errors.is_empty() {
            Catalog::load(text)
        } else {
            Err(errors)
        }
    }

    /// Every provider, in the file's order: parses each not parsed yet (the listings only).
    pub fn providers(&self) -> impl Iterator<Item = &Provider> {
        (0..self.parsed.len()).filter_map(|i| self.provider_at(i))
    }

    /// The providers after `id` in the file's order (all of them for `None`, none for an
    /// id the catalogue does not hold): a page resumes here, parsing only what it serves.
    pub fn providers_after(&self, id: Option<&str>) -> impl Iterator<Item = &Provider> {
        let start = match id {
            None => 0,
            Some(id) => self
                .source
                .position(id)
                .map_or(self.parsed.len(), |i| i + 1),
        };
        (start..self.parsed.len()).filter_map(|i| self.provider_at(i))
    }

    /// Every provider's id, in the file's order, without parsing any.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.source.ids()
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.source.position(id).and_then(|i| self.provider_at(i))
    }

    /// A provider a tenant may use on this stage (local-only ones exist only locally).
    pub fn available(&self, id: &str, stage: crate::config::Stage) -> Option<&Provider> {
        self.get(id)
            .filter(|p| !p.local_only || stage == crate::config::Stage::Local)
    }
}

/// Checks submitted values against a provider's fields: every field required, patterns
/// and options honoured, nothing unknown. Messages never echo the values.
pub fn check_values(
    fields: &[Field],
    prefix: &str,
    values: &Map<String, Value>,
) -> Result<BTreeMap<String, String>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = BTreeMap::new();
    for key in values.keys() {
        if !fields.iter().any(|f| &f.name == key) {
            errors.push(FieldError::new(
                format!("{prefix}{key}"),
                "unknown field for this provider",
            ));
        }
    }
    for field in fields {
        let name = format!("{prefix}{}", field.name);
        let value = match values.get(&field.name) {
            None | Some(Value::Null) => {
                errors.push(FieldError::new(
                    name,
                    format!("{} is required", field.label),
                ));
                continue;
            }
            Some(Value::String(s)) => s.trim(),
            Some(_) => {
                errors.push(FieldError::new(name, "must be a string"));
                continue;
            }
        };
        if value.is_empty() {
            errors.push(FieldError::new(
                name,
                format!("{} is required", field.label),
            ));
        } else if value.chars().count() > MAX_FIELD_CHARS {
            errors.push(FieldError::new(
                name,
                format!("must be at most {MAX_FIELD_CHARS} characters"),
            ));
        } else if value.chars().any(char::is_control) {
            errors.push(FieldError::new(name, "must not contain control characters"));
        } else if field
            .options
            .as_ref()
            .is_some_and(|o| !o.iter().any(|v| v == value))
        {
            errors.push(FieldError::new(name, "is not one of the allowed values"));
        } else if field.regex().is_some_and(|re| !re.is_match(value)) {
            errors.push(FieldError::new(
                name,
                format!("does not look like a valid {}", field.label),
            ));
        } else {
            out.insert(field.name.clone(), value.to_owned());
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The shipped catalog, loaded on first use (not at cold start: most functions never need it).
pub fn catalog() -> Result<&'static Catalog, ApiError> {
    static CATALOG: OnceLock<Result<Catalog, Vec<String>>> = OnceLock::new();
    CATALOG
        .get_or_init(Catalog::shipped)
        .as_ref()
        .map_err(|e| ApiError::internal(format!("provider catalog is invalid: {}", e.join("; "))))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Relative luminance per WCAG 2, from `#RRGGBB`.
fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c =
            u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0) as f64 / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

impl Provider {
    fn initials(&self) -> String {
        // "Atlassian (Jira, Confluence)" is "A": what is in brackets only explains.
        let base = self.name.split('(').next().unwrap_or_default();
        base.split(|c: char| c.is_whitespace() || c == '-')
            .filter_map(|w| w.chars().next())
            .filter(|c| c.is_alphanumeric())
            .take(2)
            .collect::<String>()
            .to_uppercase()
    }

    /// The logo: the brand's mark when the catalogue has one, else
    /// [`Provider::initials_svg`]. A mark is served as stored: the catalogue rules hold it to
    /// be exactly what the branding logos' SVG allow-list keeps, so no request re-parses it
    /// (a listing of every provider stays as cheap as the catalogue grows).
    pub fn logo_svg(&self) -> String {
        match &self.logo_svg {
            Some(mark) => mark.clone(),
            None => self.initials_svg(),
        }
    }

    /// Our own logo: the brand colour with the name's initials in whichever of black or white
    /// reads better on it.
    pub fn initials_svg(&self) -> String {
        let l = luminance(&self.color);
        // contrast against white text vs against black text
        let text = if (1.05) / (l + 0.05) >= (l + 0.05) / 0.05 {
            "#FFFFFF"
        } else {
            "#000000"
        };
        format!(
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" aria-label="{name}">"#,
                r#"<rect width="64" height="64" rx="14" fill="{color}"/>"#,
                r#"<text x="32" y="41" text-anchor="middle" font-family="system-ui,sans-serif" font-size="24" font-weight="700" fill="{text}">{initials}</text></svg>"#
            ),
            name = xml_escape(&self.name),
            color = self.color,
            text = text,
            initials = xml_escape(&self.initials()),
        )
    }

    /// The logo's SVG in base64 (what the JSON logo and the page's data URI carry), encoded
    /// once per process.
    pub fn logo_base64(&self) -> &str {
        self.logo_base64
            .get_or_init(|| STANDARD.encode(self.logo_svg()))
    }

    pub fn logo_json(&self) -> Value {
        json!({"content_type": "image/svg+xml", "data": self.logo_base64()})
    }

    /// The API representation.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "auth_mode": self.auth_mode,
            "docs_url": (!self.docs_url.is_empty()).then_some(&self.docs_url),
            "credential_fields": self.credential_fields,
            "connection_fields": self.connection_fields,
            "logo": self.logo_json(),
            "verifies_credentials": self.verify.is_some(),
        });
        if let Some(o) = &self.oauth {
            v["oauth"] = json!({"authorize_url": (!o.authorize_url.is_empty()).then_some(&o.authorize_url), "token_url": o.token_url, "revocation_url": o.revocation_url, "default_scopes": o.scopes});
        }
        if self.local_only {
            v["local_only"] = json!(true);
        }
        if self.custom {
            v["custom"] = json!(true);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalog_passes_every_rule() {
        let c = Catalog::parse(CATALOG_JSON).unwrap_or_else(|e| panic!("{e:#?}"));
        assert!(c.providers().filter(|p| !p.local_only).count() >= MIN_CATALOG);
        // the seeds' world: accounting and ERP first
        for wanted in [
            "odoo",
            "netsuite",
            "dynamics-365-business-central",
            "pennylane",
            "fortnox",
            "visma-eaccounting",
            "e-conomic",
            "myob",
            "zoho-books",
            "freeagent",
            "xero",
            "quickbooks",
            "exact-online",
            "freshbooks",
            "sage-accounting",
            "hubspot",
            "salesforce",
            "pipedrive",
            "zoho-crm",
            "github",
            "gitlab",
            "atlassian",
            "linear",
            "datadog",
            "pagerduty",
            "sentry",
            "slack",
            "microsoft-365",
            "google-workspace",
            "zoom",
            "stripe",
            "shopify",
        ] {
            assert!(c.get(wanted).is_some(), "{wanted} missing");
        }
        for mode in [
            AuthMode::Oauth2,
            AuthMode::Oauth2ClientCredentials,
            AuthMode::ApiKey,
            AuthMode::Basic,
        ] {
            assert!(c.providers().any(|p| p.auth_mode == mode));
        }
    }

    #[test]
    fn the_build_splits_the_catalog_into_every_provider_in_order() {
        assert_eq!(shipped::SPLIT_ERROR, None);
        let parsed = Catalog::parse(CATALOG_JSON).unwrap_or_else(|e| panic!("{e:#?}"));
        let shipped = Catalog::shipped().unwrap();
        let ids = |c: &Catalog| c.providers().map(|p| p.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&shipped), ids(&parsed));
        assert_eq!(shipped.ids().collect::<Vec<_>>(), ids(&parsed));
        for p in parsed.providers() {
            let s = shipped.get(&p.id).unwrap();
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::to_value(p).unwrap()
            );
        }
    }

    #[test]
    fn a_provider_is_parsed_when_first_looked_up_and_only_then() {
        let c = Catalog::shipped().unwrap();
        let parsed = |c: &Catalog| c.parsed.iter().filter(|p| p.get().is_some()).count();
        assert_eq!(parsed(&c), 0);
        assert!(c.get("stripe").is_some());
        assert!(c.get("no-such-provider").is_none());
        assert_eq!(parsed(&c), 1);
        assert!(c.ids().count() >= MIN_CATALOG);
        assert_eq!(parsed(&c), 1, "listing ids parses nothing");
    }

    #[test]
    fn a_loaded_catalog_finds_every_provider_by_its_id() {
        let c = Catalog::load(CATALOG_JSON).unwrap_or_else(|e| panic!("{e:#?}"));
        for p in c.providers() {
            assert_eq!(c.get(&p.id).map(|found| &found.name), Some(&p.name));
        }
        assert!(c.get("no-such-provider").is_none());
        assert!(c.get("").is_none());
    }

    #[test]
    fn loading_does_not_check_the_rules_but_parsing_does() {
        let mut file: Value = serde_json::from_str(CATALOG_JSON).unwrap();
        file["providers"][0]["color"] = json!("teal");
        let text = file.to_string();
        assert!(Catalog::load(&text).is_ok());
        assert!(Catalog::parse(&text).is_err());
        file["version"] = json!(2);
        assert!(Catalog::load(&file.to_string()).is_err());
    }

    #[test]
    fn a_logo_is_encoded_once_and_is_the_svg_in_base64() {
        let c = catalog().unwrap();
        let stripe = c.get("stripe").unwrap();
        let first = stripe.logo_base64();
        assert_eq!(first, STANDARD.encode(stripe.logo_svg()));
        assert!(
            std::ptr::eq(first, stripe.logo_base64()),
            "the same encoding, not a new one"
        );
        assert_eq!(stripe.logo_json()["data"], json!(first));
    }

    fn with_provider(edit: impl Fn(&mut Value)) -> Result<Catalog, Vec<String>> {
        let mut file: Value = serde_json::from_str(CATALOG_JSON).unwrap();
        edit(&mut file["providers"][0]);
        Catalog::parse(&file.to_string())
    }

    #[test]
    fn broken_entries_are_reported() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "http",
                Box::new(|p| p["oauth"]["token_url"] = json!("http://identity.xero.com/token")),
            ),
            (
                "placeholder",
                Box::new(|p| p["oauth"]["authorize_url"] = json!("https://{tenant}.xero.com/a")),
            ),
            ("category", Box::new(|p| p["category"] = json!("games"))),
            ("color", Box::new(|p| p["color"] = json!("blue"))),
            ("id", Box::new(|p| p["id"] = json!("Xero App"))),
            ("duplicate", Box::new(|p| p["id"] = json!("quickbooks"))),
            (
                "no oauth",
                Box::new(|p| {
                    p.as_object_mut()
                        .unwrap()
                        .remove("oauth")
                        .map(|_| ())
                        .unwrap_or(())
                }),
            ),
            (
                "credential fields",
                Box::new(|p| {
                    p["credential_fields"] = json!([{"name": "k", "label": "K", "secret": true}])
                }),
            ),
            ("unknown key", Box::new(|p| p["colour"] = json!("#000000"))),
            (
                "a scope with a space",
                Box::new(|p| p["oauth"]["scopes"] = json!(["accounting.read write"])),
            ),
        ];
        for (what, edit) in cases {
            assert!(with_provider(edit).is_err(), "{what} accepted");
        }
        let unanchored = with_provider(|p| {
            p["connection_fields"] = json!([{"name": "x", "label": "X", "pattern": "[a-z]+"}]);
        });
        assert!(unanchored.is_err());
        let bad_regex = with_provider(|p| {
            p["connection_fields"] = json!([{"name": "x", "label": "X", "pattern": "^([a-z]$"}]);
        });
        assert!(bad_regex.is_err());
    }

    /// Edits the catalogue's provider `id`, then parses the whole file.
    fn with_entry(id: &str, edit: impl Fn(&mut Value)) -> Result<Catalog, Vec<String>> {
        let mut file: Value = serde_json::from_str(CATALOG_JSON).unwrap();
        let entry = file["providers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["id"] == id)
            .unwrap();
        edit(entry);
        Catalog::parse(&file.to_string())
    }

    #[test]
    fn every_key_provider_says_how_its_credentials_are_checked() {
        let c = Catalog::parse(CATALOG_JSON).unwrap();
        for p in c.providers() {
            match p.auth_mode {
                // the grant is the check (for client credentials, the token request)
                AuthMode::Oauth2 | AuthMode::Oauth2ClientCredentials => {
                    assert!(p.verify.is_none() && p.unverifiable.is_none(), "{}", p.id)
                }
                AuthMode::ApiKey | AuthMode::Basic => {
                    assert!(p.verify.is_some() != p.unverifiable.is_some(), "{}", p.id)
                }
            }
        }
    }

    #[test]
    fn broken_verify_requests_are_reported_by_what_is_wrong() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Edit, &str)> = vec![
            (
                "no verify",
                Box::new(|p| {
                    p.as_object_mut().unwrap().remove("verify");
                }),
                "need a verify request",
            ),
            (
                "a secret in the path",
                Box::new(|p| p["verify"]["url"] = json!("https://api.stripe.com/{secret_key}")),
                "which is no connection field",
            ),
            (
                "plain http",
                Box::new(|p| p["verify"]["url"] = json!("http://api.stripe.com/v1/balance")),
                "is not an https URL",
            ),
            (
                "an undeclared placeholder",
                Box::new(|p| p["verify"]["headers"]["Authorization"] = json!("Bearer {token}")),
                "uses {token}, which is no field",
            ),
            (
                "a reserved header",
                Box::new(|p| p["verify"]["headers"]["Host"] = json!("example.com")),
                "is not a header it may set",
            ),
            (
                "429 as a refusal",
                Box::new(|p| p["verify"]["refused"] = json!([401, 429])),
                "cannot hold 429",
            ),
            (
                "a 3xx as valid",
                Box::new(|p| p["verify"]["valid"] = json!([302])),
                "must list 2xx",
            ),
            (
                "both",
                Box::new(|p| p["unverifiable"] = json!("no cheap endpoint at all")),
                "not both",
            ),
            (
                "an unknown key",
                Box::new(|p| p["verify"]["timeout"] = json!(3)),
                "unknown field",
            ),
        ];
        for (what, edit, says) in cases {
            let errors = with_entry("stripe", edit).err().unwrap_or_default();
            assert!(
                errors.iter().any(|e| e.contains(says)),
                "{what}: {errors:?}"
            );
        }
        let twice = with_entry("twilio", |p| {
            p["verify"]["headers"] = json!({"Authorization": "Bearer {password}"})
        });
        assert!(twice
            .err()
            .unwrap_or_default()
            .iter()
            .any(|e| e.contains("twice")));
        let oauth = with_entry("github", |p| {
            p["unverifiable"] = json!("because of reasons")
        });
        assert!(oauth.is_err());
    }

    #[test]
    fn fill_never_reads_a_value_as_a_template() {
        let values = BTreeMap::from([
            ("a".to_string(), "{b}".to_string()),
            ("b".to_string(), "x".to_string()),
        ]);
        assert_eq!(fill("{a}/{b}/{c}/{", &values), "{b}/x/{c}/{");
    }

    #[test]
    fn values_are_checked_against_fields() {
        let c = catalog().unwrap();
        let dd = c.get("datadog").unwrap();
        let good = json!({"api_key": "0123456789abcdef0123456789abcdef", "application_key": "0123456789abcdef0123456789abcdef01234567"});
        let ok =
            crate::provider::check_values(&dd.credential_fields, "", good.as_object().unwrap())
                .unwrap();
        assert_eq!(ok.len(), 2);
        let bad = json!({"api_key": "nope", "extra": "x"});
        let errs = crate::provider::check_values(
            &dd.credential_fields,
            "credentials.",
            bad.as_object().unwrap(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "credentials.extra",
                "credentials.api_key",
                "credentials.application_key"
            ]
        );
        assert!(
            errs.iter().all(|e| !e.message.contains("nope")),
            "messages never echo values"
        );
        let site = json!({"site": "datadoghq.evil"});
        assert!(crate::provider::check_values(
            &dd.connection_fields,
            "",
            site.as_object().unwrap()
        )
        .is_err());
    }

    #[test]
    fn overlong_or_control_values_are_refused_with_a_message_that_says_which() {
        let c = catalog().unwrap();
        let stripe = c.get("stripe").unwrap();
        let field = &stripe.credential_fields[0].name;
        let check = |v: String| {
            crate::provider::check_values(
                &stripe.credential_fields,
                "",
                json!({ field.as_str(): v }).as_object().unwrap(),
            )
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>()
        };
        assert_eq!(
            check("é".repeat(MAX_FIELD_CHARS + 1)),
            [format!("must be at most {MAX_FIELD_CHARS} characters")]
        );
        assert_eq!(
            check("sk_test_\u{7}".to_owned()),
            ["must not contain control characters"]
        );
    }

    #[test]
    fn templates_fill_from_connection_fields() {
        let shop = catalog().unwrap().get("shopify").unwrap();
        let url = fill(
            &shop.oauth.as_ref().unwrap().authorize_url,
            &BTreeMap::from([("shop".into(), "acme".into())]),
        );
        assert_eq!(url, "https://acme.myshopify.com/admin/oauth/authorize");
        assert_eq!(placeholders("https://{a}.x/{b}/c"), ["a", "b"]);
    }

    #[test]
    fn without_a_mark_a_logo_is_readable_initials() {
        let c = catalog().unwrap();
        let slack = c.get("slack").unwrap();
        assert!(slack.logo_svg.is_none(), "no mark for Slack in the package");
        let logo = slack.logo_svg();
        assert!(logo.starts_with("<svg") && logo.contains(">S</text>") && logo.contains("#FFFFFF"));
        let mailchimp = c.get("mailchimp").unwrap().initials_svg();
        assert!(mailchimp.contains("#000000"), "dark text on a yellow logo");
        let atl = c.get("atlassian").unwrap().initials_svg();
        assert!(atl.contains(">A</text>"), "{atl}");
        let gw = c.get("google-workspace").unwrap().initials_svg();
        assert!(gw.contains(">GW</text>"));
    }

    #[test]
    fn marks_come_from_the_package_and_are_what_the_branding_allow_list_keeps() {
        let c = Catalog::parse(CATALOG_JSON).unwrap();
        let marked: Vec<&Provider> = c.providers().filter(|p| p.logo_svg.is_some()).collect();
        assert!(marked.len() >= 20, "{} marks", marked.len());
        for p in marked {
            let source = p.logo_source.as_ref().unwrap();
            assert_eq!(source.package, "simple-icons");
            let served = p.logo_svg();
            assert!(
                served.contains("<path"),
                "{}: the mark survives the allow-list",
                p.id
            );
            assert!(!served.contains("<text"), "{}: a mark, not initials", p.id);
        }
        let stripe = c.get("stripe").unwrap().logo_svg();
        assert!(stripe.contains("#635BFF") && stripe.contains("aria-label=\"Stripe\""));
    }

    #[test]
    fn a_mark_outside_the_allow_list_is_refused_by_the_rules() {
        let scripted = with_entry("stripe", |p| {
            p["logo_svg"] = json!("<svg xmlns=\"http://www.w3.org/2000/svg\"><!DOCTYPE x></svg>")
        });
        assert!(scripted.is_err());
        let orphan = with_entry("stripe", |p| {
            p.as_object_mut().unwrap().remove("logo_source");
        });
        assert!(orphan
            .err()
            .unwrap_or_default()
            .iter()
            .any(|e| e.contains("go together")));
        let dropped = with_entry("stripe", |p| {
            let svg = p["logo_svg"]
                .as_str()
                .unwrap()
                .replace("<path ", "<path onclick=\"x()\" ");
            p["logo_svg"] = json!(svg);
        });
        assert!(
            dropped
                .err()
                .unwrap_or_default()
                .iter()
                .any(|e| e.contains("allow-list writes")),
            "an attribute the allow-list drops is caught, not served"
        );
    }
}
