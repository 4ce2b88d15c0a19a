//! OAuth 2.0 with a provider: the authorization URL (PKCE S256), the code exchange and the
//! refresh grant, through the `oauth2` crate over our own HTTP client (no redirects followed,
//! one timeout), and the one distinction callers need: did the provider refuse the grant
//! (permanent: the customer must reconnect) or did the call fail in a way that may pass.

mod repo;
pub mod state;

use crate::error::ApiError;
use crate::integration::Integration;
use crate::provider::{fill, Provider, TokenAuth};
use crate::secret::Secret;
use crate::time::{self, Timestamp};
use crate::App;
use base64::Engine;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Whatever a token endpoint adds beyond the standard fields (ID tokens, account ids…),
/// kept so the raw answer survives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawFields {
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ExtraTokenFields for RawFields {}

type TokenAnswer = StandardTokenResponse<RawFields, BasicTokenType>;
type Client = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Why a token call failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The provider answered with an OAuth error (`invalid_grant`, `invalid_client`…): the
    /// grant is gone and retrying cannot help.
    #[error("the provider refused: {code}")]
    Refused { code: String },
    /// Timeout, connection failure, 5xx, 429 or an answer we cannot read: may pass.
    #[error("the provider is unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl TokenError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, TokenError::Refused { .. })
    }

    /// The short code for pages, redirect parameters and events.
    pub fn code(&self) -> &str {
        match self {
            TokenError::Refused { code } => code,
            TokenError::Unavailable { .. } => "provider_unavailable",
        }
    }
}

/// A transport failure, or a status that means "try again later".
#[derive(Debug, thiserror::Error)]
enum Transport {
    #[error("{0}")]
    Failed(String),
    #[error("HTTP {status}")]
    Busy {
        status: u16,
        retry_after: Option<Duration>,
    },
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, Transport> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Transport::Failed(if e.is_timeout() {
                "timed out".into()
            } else if e.is_connect() {
                "could not connect".into()
            } else {
                "request failed".into()
            })
        })?;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Transport::Busy {
            status: status.as_u16(),
            retry_after: retry_after(response.headers()),
        });
    }
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|_| Transport::Failed("answer cut short".into()))?;
    let mut out = http::Response::builder().status(status.as_u16());
    for (name, value) in &headers {
        out = out.header(name, value);
    }
    out.body(body.to_vec())
        .map_err(|e| Transport::Failed(e.to_string()))
}

/// Our HTTP client as the `oauth2` crate wants it. A named type with a boxed `Send` future
/// (rather than a closure) keeps the handlers' futures `Send` for every lifetime.
struct Http<'a>(&'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Http<'_> {
    type Error = Transport;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, Transport>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

impl From<Transport> for TokenError {
    fn from(t: Transport) -> TokenError {
        match t {
            Transport::Busy {
                status,
                retry_after,
            } => TokenError::Unavailable {
                reason: format!("HTTP {status}"),
                retry_after,
            },
            Transport::Failed(reason) => TokenError::Unavailable {
                reason,
                retry_after: None,
            },
        }
    }
}

/// The OAuth `error` code of a provider's JSON answer, if it has one.
fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(String::from))
}

fn classify(e: RequestTokenError<Transport, BasicErrorResponse>) -> TokenError {
    match e {
        RequestTokenError::ServerResponse(r) => TokenError::Refused {
            code: r.error().as_ref().to_owned(),
        },
        RequestTokenError::Request(transport) => transport.into(),
        // Some providers answer 200 with an error object instead of a token.
        RequestTokenError::Parse(_, body) => match error_code(&body) {
            Some(code) => TokenError::Refused { code },
            None => TokenError::Unavailable {
                reason: "unreadable token answer".into(),
                retry_after: None,
            },
        },
        RequestTokenError::Other(reason) => TokenError::Unavailable {
            reason,
            retry_after: None,
        },
    }
}

/// A fresh token set, as the provider gave it.
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub token_type: String,
    pub expires_at: Option<Timestamp>,
    pub scope: Option<String>,
    pub raw: Value,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    fn from_answer(answer: TokenAnswer) -> Tokens {
        let now = time::now();
        Tokens {
            access_token: Secret::new(answer.access_token().secret().clone()),
            refresh_token: answer
                .refresh_token()
                .map(|r| Secret::new(r.secret().clone())),
            token_type: "bearer".into(),
            // the provider's number: capped, so no answer can overflow the clock
            expires_at: answer.expires_in().map(|d| time::after(now, d)),
            scope: answer
                .scopes()
                .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")),
            raw: serde_json::to_value(&answer).unwrap_or(Value::Null),
        }
    }
}

/// The tenant's OAuth app at one provider, with the provider's URLs filled in for one
/// connection (`{shop}`).
pub struct OAuthApp {
    client: Client,
    scope: Option<String>,
    /// How the provider joins scopes in one string (` `, or `,` at Shopify).
    scope_separator: String,
    authorize_params: BTreeMap<String, String>,
    revocation: Option<Revocation>,
    /// Whether the provider takes a PKCE challenge (see `OAuthSpec::pkce`).
    pkce: bool,
    /// A tenant's custom provider: its URLs are called through the outbound checks.
    custom: bool,
}

/// The provider's RFC 7009 endpoint and the client credentials it authenticates.
struct Revocation {
    url: url::Url,
    client_id: String,
    client_secret: Secret,
    auth: TokenAuth,
}

impl OAuthApp {
    /// Opens the integration's client secret and builds the client; `redirect_uri` is our
    /// callback URL.
    pub async fn new(
        app: &App,
        integration: &Integration,
        connection_fields: &BTreeMap<String, String>,
        redirect_uri: &str,
    ) -> Result<OAuthApp, ApiError> {
        let provider = integration.provider()?;
        let (Some(client_id), Some(sealed)) =
            (integration.client_id(), integration.client_secret_sealed())
        else {
            return Err(ApiError::conflict(
                "the integration has no OAuth app yet: set client_id and client_secret",
            ));
        };
        let secret = app
            .sealer()?
            .open(
                integration.tenant_id().as_str(),
                integration.id().as_str(),
                sealed,
            )
            .await
            .map_err(ApiError::internal)?;
        let scopes = integration.scopes()?;
        OAuthApp::build(
            app,
            provider,
            connection_fields,
            client_id,
            secret,
            Some(redirect_uri),
            &scopes,
        )
    }

    /// A customer's own client at an `oauth2_client_credentials` provider: the client id and
    /// secret are the customer's credentials (not the tenant's app), and there is no
    /// authorization step.
    pub fn for_client(
        app: &App,
        provider: &Provider,
        connection_fields: &BTreeMap<String, String>,
        client_id: &str,
        client_secret: Secret,
    ) -> Result<OAuthApp, ApiError> {
        let scopes = provider
            .oauth
            .as_ref()
            .map(|o| o.scopes.clone())
            .unwrap_or_default();
        OAuthApp::build(
            app,
            provider,
            connection_fields,
            client_id,
            client_secret,
            None,
            &scopes,
        )
    }

    fn build(
        app: &App,
        provider: &Provider,
        connection_fields: &BTreeMap<String, String>,
        client_id: &str,
        secret: Secret,
        redirect_uri: Option<&str>,
        scopes: &[String],
    ) -> Result<OAuthApp, ApiError> {
        let spec = provider
            .oauth
            .as_ref()
            .ok_or_else(|| ApiError::internal("not an OAuth provider"))?;
        let bad_url = |e: url::ParseError| ApiError::internal(format!("provider URL: {e}"));
        if provider.custom {
            // A tenant's URLs, filled with a customer's values: called only where webhooks
            // may go (the resolver checks the addresses again when connecting).
            let allow = app.outbound_allowed(false);
            let called = [Some(&spec.token_url), spec.revocation_url.as_ref()];
            for template in called.into_iter().flatten() {
                if let Err(why) =
                    crate::outbound::OutboundUrl::parse(&fill(template, connection_fields), &allow)
                {
                    return Err(ApiError::validation(
                        format!(
                            "{}'s token URL, filled with these connection fields, {why}",
                            provider.name
                        ),
                        Vec::new(),
                    ));
                }
            }
        }
        let token_url = fill(&spec.token_url, connection_fields);
        // a client-credentials provider has no authorization URL: never used there
        let authorize_url = if spec.authorize_url.is_empty() {
            token_url.clone()
        } else {
            fill(&spec.authorize_url, connection_fields)
        };
        let mut client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.expose().to_owned()))
            .set_auth_uri(AuthUrl::new(authorize_url).map_err(bad_url)?)
            .set_token_uri(TokenUrl::new(token_url).map_err(bad_url)?)
            .set_auth_type(match spec.token_auth {
                TokenAuth::ClientSecretBasic => AuthType::BasicAuth,
                TokenAuth::ClientSecretPost => AuthType::RequestBody,
            });
        if let Some(uri) = redirect_uri {
            client = client.set_redirect_uri(RedirectUrl::new(uri.to_owned()).map_err(bad_url)?);
        }
        let revocation = spec
            .revocation_url
            .as_ref()
            .map(|u| url::Url::parse(&fill(u, connection_fields)))
            .transpose()
            .map_err(bad_url)?
            .map(|url| Revocation {
                url,
                client_id: client_id.to_owned(),
                client_secret: Secret::new(secret.expose().to_owned()),
                auth: spec.token_auth,
            });
        Ok(OAuthApp {
            client,
            scope: (!scopes.is_empty()).then(|| scopes.join(&spec.scope_separator)),
            scope_separator: spec.scope_separator.clone(),
            authorize_params: spec.authorize_params.clone(),
            revocation,
            pkce: spec.pkce,
            custom: provider.custom,
        })
    }

    /// A token for the client itself (RFC 6749 §4.4), asking for the app's scopes.
    pub async fn client_credentials(&self, http: &reqwest::Client) -> Result<Tokens, TokenError> {
        let client = Http(http);
        let mut request = self.client.exchange_client_credentials();
        if let Some(scope) = &self.scope {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        request
            .request_async(&client)
            .await
            .map(Tokens::from_answer)
            .map_err(classify)
    }

    /// The client to call this provider with: a custom provider's through the outbound
    /// address checks, the catalogue's with the providers' client.
    pub fn http<'a>(&self, app: &'a App) -> Result<&'a reqwest::Client, ApiError> {
        if self.custom {
            app.outbound(false)
        } else {
            app.http()
        }
    }

    /// The same app asking for `scopes` instead of its integration's (a link's own, checked
    /// against what the integration allows when the link was made).
    pub fn with_scopes(self, scopes: Option<&[String]>) -> OAuthApp {
        match scopes {
            Some(s) if !s.is_empty() => OAuthApp {
                scope: Some(s.join(&self.scope_separator)),
                ..self
            },
            _ => self,
        }
    }

    /// Where to send the customer: the provider's consent page with our state and a PKCE
    /// (S256) challenge. Returns the URL and the verifier to keep for the exchange.
    pub fn authorize_url(&self, state: &Secret) -> (String, Secret) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.expose().to_owned();
        let mut request = self.client.authorize_url(move || CsrfToken::new(state));
        if self.pkce {
            request = request.set_pkce_challenge(challenge);
        }
        if let Some(scope) = &self.scope {
            // one scope string: separators differ by provider (`,` at Shopify)
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for (k, v) in &self.authorize_params {
            request = request.add_extra_param(k, v);
        }
        let (url, _) = request.url();
        (url.to_string(), Secret::new(verifier.secret().clone()))
    }

    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &Secret,
    ) -> Result<Tokens, TokenError> {
        let client = Http(http);
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()));
        if self.pkce {
            request =
                request.set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()));
        }
        request
            .request_async(&client)
            .await
            .map(Tokens::from_answer)
            .map_err(classify)
    }

    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<Tokens, TokenError> {
        let client = Http(http);
        let token = RefreshToken::new(refresh_token.to_owned());
        self.client
            .exchange_refresh_token(&token)
            .request_async(&client)
            .await
            .map(Tokens::from_answer)
            .map_err(classify)
    }
}

/// Which of a grant's tokens to revoke.
pub enum Revocable<'a> {
    /// Revoking it ends the grant at RFC 7009 providers (and its access tokens with it).
    Refresh(&'a Secret),
    Access(&'a Secret),
}

impl OAuthApp {
    /// Revokes a token at the provider (RFC 7009: an unknown token is no error there).
    ///
    /// Written here rather than with the `oauth2` crate, which refuses any revocation URL
    /// that is not HTTPS: the local provider is plain HTTP on loopback, and the catalog
    /// already refuses a non-HTTPS URL for every other provider.
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        token: Revocable<'_>,
    ) -> Result<(), TokenError> {
        let Some(r) = &self.revocation else {
            return Err(TokenError::Refused {
                code: "not_offered".into(),
            });
        };
        let (token, hint) = match token {
            Revocable::Refresh(t) => (t, "refresh_token"),
            Revocable::Access(t) => (t, "access_token"),
        };
        let mut pairs = vec![("token", token.expose()), ("token_type_hint", hint)];
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(r.url.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        match r.auth {
            TokenAuth::ClientSecretPost => {
                pairs.push(("client_id", &r.client_id));
                pairs.push(("client_secret", r.client_secret.expose()));
            }
            TokenAuth::ClientSecretBasic => {
                // RFC 6749 §2.3.1: each part form-encoded, then HTTP Basic.
                let encode = |v: &str| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                };
                let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    encode(&r.client_id),
                    encode(r.client_secret.expose())
                ));
                request = request.header(http::header::AUTHORIZATION, format!("Basic {basic}"));
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let request = request
            .body(body.into_bytes())
            .map_err(|e| TokenError::Unavailable {
                reason: e.to_string(),
                retry_after: None,
            })?;
        let answer = send(http, request).await?;
        if answer.status().is_success() {
            return Ok(());
        }
        let code = error_code(answer.body())
            .unwrap_or_else(|| format!("http_{}", answer.status().as_u16()));
        Err(TokenError::Refused { code })
    }
}

/// Our callback URL, which tenants register with their OAuth apps.
pub fn callback_url(base: &str) -> String {
    format!("{base}/oauth/callback")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_permanent_and_outages_are_not() {
        let refused = TokenError::Refused {
            code: "invalid_grant".into(),
        };
        assert!(refused.is_permanent());
        assert_eq!(refused.code(), "invalid_grant");
        let busy = TokenError::Unavailable {
            reason: "HTTP 503".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert!(!busy.is_permanent());
        assert_eq!(busy.code(), "provider_unavailable");
    }
}
