//! Credentials checked with their provider before anything is stored: the provider's
//! `verify` request (see `provider::VerifySpec`) sent with the submitted values. A refusal
//! keeps a link open and answers an API call with a 400 on the credential fields; no
//! verdict (a timeout, a 5xx, an answer the catalogue does not know) is accepted unverified
//! or refused, as the integration says (`unverified_credentials`).
//!
//! The same outbound rules as webhooks: https to public addresses only (checked on the
//! addresses connected to), no redirects, one short timeout; nothing of the submitted values
//! in a log line or an error (the URL may carry one in its query, so it is never printed).

use crate::outbound::OutboundUrl;
use crate::provider::{fill, Provider, VerifyMethod, VerifySpec};
use crate::App;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// What a provider made of a set of credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It answered one of its `valid` statuses.
    Valid,
    /// It answered one of its `refused` statuses.
    Refused,
    /// No verdict: unreachable, slow, failing, or an answer that is neither.
    Unreachable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::Refused => "refused",
            Outcome::Unreachable => "unreachable",
        }
    }

    pub fn parse(raw: &str) -> Option<Outcome> {
        [Outcome::Valid, Outcome::Refused, Outcome::Unreachable]
            .into_iter()
            .find(|o| o.as_str() == raw)
    }
}

/// A check's outcome, and why there was no verdict (a status or an error class, never a
/// value), for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub outcome: Outcome,
    pub detail: Option<String>,
}

impl Checked {
    fn unreachable(detail: impl Into<String>) -> Checked {
        Checked {
            outcome: Outcome::Unreachable,
            detail: Some(detail.into()),
        }
    }
}

pub use crate::integration::Unverified;

/// What the connection records of its credentials' check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    /// The provider confirmed them: a `valid` check, or an OAuth grant it issued.
    pub verified: bool,
    /// The last check, if one ran: its outcome and when (RFC 3339).
    pub last: Option<(Outcome, String)>,
}

impl Verification {
    /// Tokens the provider itself just issued (an OAuth grant).
    pub fn granted() -> Verification {
        Verification {
            verified: true,
            last: None,
        }
    }

    /// A check that found `outcome` at `at`.
    pub fn checked(outcome: Outcome, at: String) -> Verification {
        Verification {
            verified: outcome == Outcome::Valid,
            last: Some((outcome, at)),
        }
    }

    fn of(checked: Option<&Checked>) -> Verification {
        match checked {
            None => Verification::default(),
            Some(c) => Verification {
                verified: c.outcome == Outcome::Valid,
                last: Some((c.outcome, crate::time::format(&crate::time::now()))),
            },
        }
    }
}

/// What to do with submitted credentials once checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Store them, recording this.
    Store(Verification),
    /// The provider refused them.
    Refused,
    /// No verdict, and the integration refuses unverified credentials.
    Unavailable,
}

pub fn decide(checked: Option<&Checked>, policy: Unverified) -> Decision {
    match checked.map(|c| c.outcome) {
        Some(Outcome::Refused) => Decision::Refused,
        Some(Outcome::Unreachable) if policy == Unverified::Refuse => Decision::Unavailable,
        _ => Decision::Store(Verification::of(checked)),
    }
}

/// The check's decision for an API call: stored (with what was found), or the error the
/// caller gets: 400 on the credential fields when the provider refused them, 503
/// `provider_unavailable` when it could not judge and the integration refuses unverified
/// credentials (without an integration, they are accepted).
fn verified_or_refused(
    provider: &Provider,
    integration: Option<&crate::integration::Integration>,
    checked: Option<&Checked>,
    prefix: &str,
) -> Result<Verification, crate::error::ApiError> {
    let policy = integration
        .map(|i| i.unverified_credentials())
        .unwrap_or_default();
    match decide(checked, policy) {
        Decision::Store(v) => Ok(v),
        Decision::Refused => Err(crate::error::ApiError::validation(
            refused_message(provider),
            refused_fields(provider, prefix),
        )),
        Decision::Unavailable => Err(crate::error::ApiError::ProviderUnavailable(format!(
            "{} could not be reached to check these credentials, and this integration refuses unverified ones; nothing was stored, retry later",
            provider.name
        ))),
    }
}

/// The message a refusal carries, on every credential field (the provider does not say
/// which one it disliked).
pub fn refused_message(provider: &Provider) -> String {
    format!("{} refused these credentials", provider.name)
}

/// The field errors of a refusal, named with `prefix` (`credentials.`, `values.`, or none
/// for the hosted form).
pub fn refused_fields(provider: &Provider, prefix: &str) -> Vec<crate::error::FieldError> {
    provider
        .credential_fields
        .iter()
        .map(|f| {
            crate::error::FieldError::new(format!("{prefix}{}", f.name), refused_message(provider))
        })
        .collect()
}

/// A verification request, filled in: its URL (the query may hold a value) and headers are
/// secret, so `Debug` shows neither.
pub struct Call {
    pub method: VerifyMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("url", &"[REDACTED]")
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Fills `spec` with the submitted values: connection fields in the URL, any field in the
/// query, headers and basic auth. `Err` when a value cannot be sent at all (the caller
/// treats it as refused: no provider could accept it).
pub fn call(
    spec: &VerifySpec,
    credentials: &BTreeMap<String, String>,
    connection: &BTreeMap<String, String>,
) -> Result<Call, &'static str> {
    let mut all = connection.clone();
    all.extend(credentials.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut url =
        url::Url::parse(&fill(&spec.url, connection)).map_err(|_| "the URL does not parse")?;
    if !spec.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, template) in &spec.query {
            pairs.append_pair(name, &fill(template, &all));
        }
    }
    let mut headers = Vec::with_capacity(spec.headers.len() + 1);
    for (name, template) in &spec.headers {
        headers.push((name.clone(), fill(template, &all)));
    }
    if let Some(basic) = &spec.basic_auth {
        let pair = format!(
            "{}:{}",
            fill(&basic.username, &all),
            fill(&basic.password, &all)
        );
        headers.push((
            "Authorization".into(),
            format!("Basic {}", STANDARD.encode(pair)),
        ));
    }
    if headers
        .iter()
        .any(|(_, v)| http::HeaderValue::from_str(v).is_err())
    {
        return Err("a value cannot be sent in a header");
    }
    Ok(Call {
        method: spec.method,
        url: url.into(),
        headers,
    })
}

/// Asks `provider` about the values (its verification request, or for a client-credentials
/// provider the token request itself); `None` when it has no way to be asked.
pub async fn check(
    app: &App,
    provider: &Provider,
    credentials: &BTreeMap<String, String>,
    connection: &BTreeMap<String, String>,
) -> Option<Checked> {
    let checked = if provider.auth_mode == crate::provider::AuthMode::Oauth2ClientCredentials {
        client_check(app, provider, credentials, connection).await
    } else {
        let spec = provider.verify.as_ref()?;
        match call(spec, credentials, connection) {
            Err(why) => Checked {
                outcome: Outcome::Refused,
                detail: Some(why.into()),
            },
            Ok(call) => send(app, provider, spec, call).await,
        }
    };
    tracing::info!(
        provider = %provider.id,
        outcome = checked.outcome.as_str(),
        detail = checked.detail.as_deref().unwrap_or(""),
        "credential check"
    );
    Some(checked)
}

/// [`check`], then [`verified_or_refused`]: what an API call stores of the values, or the
/// error it answers. Import, `POST /v1/credentials` and direct connect share it.
pub async fn judge(
    app: &App,
    provider: &Provider,
    integration: Option<&crate::integration::Integration>,
    credentials: &BTreeMap<String, String>,
    connection: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Verification, crate::error::ApiError> {
    let checked = check(app, provider, credentials, connection).await;
    verified_or_refused(provider, integration, checked.as_ref(), prefix)
}

/// A client-credentials provider's check: the token request itself (a token issued is
/// valid; an OAuth error such as `invalid_client` is refused). The token is not kept: the
/// connection gets its own when first read.
async fn client_check(
    app: &App,
    provider: &Provider,
    credentials: &BTreeMap<String, String>,
    connection: &BTreeMap<String, String>,
) -> Checked {
    let (Some(id), Some(secret)) = (
        credentials.get("client_id"),
        credentials.get("client_secret"),
    ) else {
        return Checked {
            outcome: Outcome::Refused,
            detail: Some("no client id and secret".into()),
        };
    };
    let token_url = provider
        .oauth
        .as_ref()
        .map(|o| fill(&o.token_url, connection))
        .unwrap_or_default();
    if let Err(no) = callable(app, provider, &token_url) {
        return no;
    }
    let oauth = match crate::oauth::OAuthApp::for_client(
        app,
        provider,
        connection,
        id,
        crate::secret::Secret::new(secret.clone()),
    ) {
        Ok(o) => o,
        Err(_) => return Checked::unreachable("the provider's URL is not one we call"),
    };
    let Ok(http) = oauth.http(app) else {
        return Checked::unreachable("internal: no HTTP client");
    };
    match oauth.client_credentials(http).await {
        Ok(_) => Checked {
            outcome: Outcome::Valid,
            detail: None,
        },
        Err(crate::oauth::TokenError::Refused { code }) => Checked {
            outcome: Outcome::Refused,
            detail: Some(code),
        },
        Err(crate::oauth::TokenError::Unavailable { reason, .. }) => Checked::unreachable(reason),
    }
}

/// Whether a provider's check may reach loopback: the local stack's own providers only.
fn loopback(app: &App, provider: &Provider) -> bool {
    provider.local_only && app.config.stage == crate::config::Stage::Local
}

/// `url` as a provider's check may call it: an outbound URL (to a public host, or to one the
/// deployment allows), and not a public one where calls to public hosts are off.
fn callable(app: &App, provider: &Provider, url: &str) -> Result<OutboundUrl, Checked> {
    let allow = app.outbound_allowed(loopback(app, provider));
    let url = OutboundUrl::parse(url, &allow)
        .map_err(|_| Checked::unreachable("the provider's URL is not one we call"))?;
    let public = url
        .host()
        .parse::<IpAddr>()
        .map_or(true, |ip| !allow.contains(&ip));
    if public && !app.config.outbound_public {
        return Err(Checked::unreachable("calls to public hosts are off here"));
    }
    Ok(url)
}

async fn send(app: &App, provider: &Provider, spec: &VerifySpec, call: Call) -> Checked {
    let url = match callable(app, provider, &call.url) {
        Ok(u) => u,
        Err(no) => return no,
    };
    let Ok(client) = app.outbound(loopback(app, provider)) else {
        return Checked::unreachable("internal: no HTTP client");
    };
    let method = match call.method {
        VerifyMethod::Get => reqwest::Method::GET,
        VerifyMethod::Head => reqwest::Method::HEAD,
        VerifyMethod::Post => reqwest::Method::POST,
    };
    let mut request = client
        .request(method, url.as_str())
        .timeout(app.config.oauth_timeout)
        .header("user-agent", "Linkgate/1 (credential check)");
    if call.method == VerifyMethod::Post {
        request = request.header("content-length", "0");
    }
    for (name, value) in &call.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    // reqwest's errors print the URL: only their class is kept.
    match request.send().await {
        Err(e) => Checked::unreachable(crate::outbound::failure(&e)),
        Ok(resp) => {
            let status = resp.status().as_u16();
            if spec.valid.contains(&status) {
                Checked {
                    outcome: Outcome::Valid,
                    detail: None,
                }
            } else if spec.refused.contains(&status) {
                Checked {
                    outcome: Outcome::Refused,
                    detail: Some(format!("answered {status}")),
                }
            } else {
                Checked::unreachable(format!("answered {status}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::catalog;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_call_fills_headers_query_and_url_from_their_own_fields() {
        let dd = catalog().unwrap().get("datadog").unwrap();
        let c = call(
            dd.verify.as_ref().unwrap(),
            &map(&[("api_key", "k123"), ("application_key", "a456")]),
            &map(&[("site", "datadoghq.eu")]),
        )
        .unwrap();
        assert_eq!(c.url, "https://api.datadoghq.eu/api/v1/validate");
        assert_eq!(c.headers, [("DD-API-KEY".to_string(), "k123".to_string())]);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("k123") && !shown.contains("datadoghq"),
            "{shown}"
        );
    }

    #[test]
    fn basic_auth_is_encoded_from_its_templates() {
        let fd = catalog().unwrap().get("freshdesk").unwrap();
        let c = call(
            fd.verify.as_ref().unwrap(),
            &map(&[("api_key", "abc")]),
            &map(&[("domain", "acme")]),
        )
        .unwrap();
        assert_eq!(c.url, "https://acme.freshdesk.com/api/v2/agents/me");
        assert_eq!(
            c.headers,
            [(
                "Authorization".to_string(),
                format!("Basic {}", STANDARD.encode("abc:X"))
            )]
        );
    }

    #[test]
    fn a_value_is_never_read_as_a_template_and_query_values_are_encoded() {
        let spec: VerifySpec = serde_json::from_value(serde_json::json!({
            "url": "https://{host}/me",
            "query": {"key": "{api_key}"},
            "headers": {"X-Key": "{api_key}"}
        }))
        .unwrap();
        let c = call(
            &spec,
            &map(&[("api_key", "{host}&a=b")]),
            &map(&[("host", "example.com")]),
        )
        .unwrap();
        assert_eq!(c.url, "https://example.com/me?key=%7Bhost%7D%26a%3Db");
        assert_eq!(c.headers[0].1, "{host}&a=b");
        let bad = call(
            &spec,
            &map(&[("api_key", "a\u{7f}b")]),
            &map(&[("host", "example.com")]),
        );
        assert!(bad.is_err(), "a value with DEL cannot be sent in a header");
    }

    #[test]
    fn decisions_follow_the_outcome_and_the_integration() {
        let c = |outcome| Checked {
            outcome,
            detail: None,
        };
        assert_eq!(
            decide(Some(&c(Outcome::Refused)), Unverified::Accept),
            Decision::Refused
        );
        assert_eq!(
            decide(Some(&c(Outcome::Unreachable)), Unverified::Refuse),
            Decision::Unavailable
        );
        match decide(Some(&c(Outcome::Unreachable)), Unverified::Accept) {
            Decision::Store(v) => {
                assert!(!v.verified);
                assert_eq!(v.last.map(|l| l.0), Some(Outcome::Unreachable));
            }
            other => panic!("{other:?}"),
        }
        match decide(Some(&c(Outcome::Valid)), Unverified::Refuse) {
            Decision::Store(v) => assert!(v.verified),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide(None, Unverified::Refuse),
            Decision::Store(Verification::default()),
            "a provider without a check is stored unverified whatever the setting"
        );
    }
}
