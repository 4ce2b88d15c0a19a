//! The management API's request pipeline: request id, authentication, role check, body and
//! query parsing, and turning every outcome (including errors) into a response.

use crate::api_key::{Principal, Role};
use crate::dialect::Dialect;
use crate::error::{ApiError, FieldError};
use crate::id::TenantId;
use crate::idempotency::{self, Answer, Idempotency};
use crate::App;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use std::time::Instant;

/// Largest request body a management route reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key (health, public pages).
    Public,
    /// Any valid key of the tenant.
    Read,
    /// A key with role `admin`.
    Write,
    /// A key with role `admin`, for reads of secrets.
    Admin,
}

/// What a public page knows about whose link it shows, once it has found the link: the
/// page is then dressed in that tenant's brand, in the link's language.
#[derive(Debug, Clone)]
pub(crate) struct PageContext {
    pub(crate) tenant: crate::id::TenantId,
    pub(crate) lang: Option<crate::lang::Lang>,
}

/// One authenticated request, as handlers see it.
pub struct Call {
    pub request_id: String,
    principal: Option<Principal>,
    req: Request,
    /// Public pages: whose link the page shows, once found (see `finish` in the connect pages).
    pub(crate) page: std::sync::OnceLock<PageContext>,
    /// Public pages: a cookie the answer sets (the OAuth browser binding).
    pub(crate) set_cookie: std::sync::OnceLock<String>,
}

impl Call {
    /// When Lambda ends this invocation (none outside Lambda).
    pub fn deadline(&self) -> Option<std::time::SystemTime> {
        self.req
            .lambda_context_ref()
            .filter(|c| c.deadline > 0)
            .map(|c| c.deadline())
    }

    /// A call with no principal, for public routes and tests of parsing.
    pub fn public(req: Request) -> Call {
        Call {
            request_id: request_id(&req),
            principal: None,
            req,
            page: std::sync::OnceLock::new(),
            set_cookie: std::sync::OnceLock::new(),
        }
    }

    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal.as_ref().ok_or(ApiError::Unauthorized)
    }

    pub fn tenant(&self) -> Result<&TenantId, ApiError> {
        Ok(&self.principal()?.tenant_id)
    }

    /// The method and path as sent (for answering requests no route took).
    pub fn method_and_path(&self) -> (&str, &str) {
        (self.req.method().as_str(), self.req.uri().path())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// Where public links point: the configured base URL, else the domain this request
    /// came in on (API Gateway's custom or default domain).
    pub fn public_base_url(&self, config: &crate::config::Config) -> String {
        if let Some(base) = &config.public_base_url {
            return base.clone();
        }
        let domain = match self.req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.domain_name.clone(),
            _ => None,
        }
        .or_else(|| self.header("host").map(String::from))
        .unwrap_or_else(|| "localhost".into());
        format!("https://{domain}")
    }

    /// One query parameter, leniently: public pages ignore parameters they do not know
    /// (tracking parameters added by mail clients, say).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.req
            .query_string_parameters_ref()
            .and_then(|q| q.first(name))
            .map(String::from)
    }

    /// A form-encoded body (first value of each name), if it is one and not over `limit`.
    pub fn form_body(&self, limit: usize) -> Option<std::collections::HashMap<String, String>> {
        let bytes: &[u8] = self.req.body().as_ref();
        let is_form = self
            .header(header::CONTENT_TYPE.as_str())
            .map(|ct| ct.split(';').next().unwrap_or_default().trim())
            .is_some_and(|mime| mime.eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form || bytes.len() > limit {
            return None;
        }
        Some(parse_form(bytes))
    }

    pub fn body_is_empty(&self) -> bool {
        let bytes: &[u8] = self.req.body().as_ref();
        bytes.iter().all(u8::is_ascii_whitespace)
    }

    /// The request's `Idempotency-Key` for `operation`, if it sent one.
    pub fn idempotency(
        &self,
        operation: &str,
        body: &Value,
    ) -> Result<Option<Idempotency>, ApiError> {
        Idempotency::parse(
            self.header(idempotency::HEADER),
            self.header_present(idempotency::HEADER),
            operation,
            body,
        )
    }

    /// Whether the header was sent at all, even with a value that is not visible ASCII.
    pub fn header_present(&self, name: &str) -> bool {
        self.req.headers().contains_key(name)
    }

    /// The id the path's `name` parameter holds; a malformed one names nothing either, so it
    /// is `missing(raw)`, the same 404 as an unknown id.
    pub fn path_id<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Option<T>,
        missing: impl FnOnce(&str) -> ApiError,
    ) -> Result<T, ApiError> {
        let raw = self.path_param(name).unwrap_or_default();
        parse(raw).ok_or_else(|| missing(raw))
    }

    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.req.path_parameters_ref().and_then(|p| p.first(name))
    }

    /// The query string, refusing parameters the route does not know and repeated ones.
    pub fn query(&self, allowed: &[&str]) -> Result<Query, ApiError> {
        self.query_with_lists(allowed, &[])
    }

    /// As [`Call::query`], but the names in `lists` may repeat (read with [`Query::all`]).
    pub fn query_with_lists(&self, allowed: &[&str], lists: &[&str]) -> Result<Query, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut errors = Vec::new();
        if let Some(q) = self.req.query_string_parameters_ref() {
            for (k, v) in q.iter() {
                if !allowed.contains(&k) && !lists.contains(&k) {
                    errors.push(FieldError::new(k, "unknown query parameter"));
                } else if lists.contains(&k) {
                    pairs.push((k.to_owned(), v.to_owned()));
                } else if pairs.iter().any(|(seen, _)| seen == k) {
                    errors.push(FieldError::new(k, "may be given only once"));
                } else {
                    pairs.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        if errors.is_empty() {
            Ok(Query(pairs))
        } else {
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            errors.dedup();
            Err(ApiError::validation("invalid query parameters", errors))
        }
    }

    /// The body as a JSON value: `application/json`, non-empty, at most [`MAX_BODY_BYTES`].
    pub fn json_body(&self) -> Result<Value, ApiError> {
        let bytes: &[u8] = self.req.body().as_ref();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        let is_json = self
            .header(header::CONTENT_TYPE.as_str())
            .map(|ct| ct.split(';').next().unwrap_or_default().trim())
            .is_some_and(|mime| mime.eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::validation("request body is required", Vec::new()));
        }
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::validation(
                format!(
                    "request body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
                Vec::new(),
            )
        })
    }
}

/// Parsed query parameters.
pub struct Query(Vec<(String, String)>);

/// The `{"data": [...], "next_cursor": ...}` body of every list.
pub fn list_body(data: Vec<Value>, next_sk: Option<String>) -> Value {
    serde_json::json!({"data": data, "next_cursor": next_sk.as_deref().map(crate::cursor::encode)})
}

impl Query {
    /// `limit` and the sort key to resume after, from a `cursor` this list issued.
    pub fn page(
        &self,
        valid_sk: impl Fn(&str) -> bool,
    ) -> Result<(usize, Option<String>), ApiError> {
        let limit = self.limit()?;
        let after = match self.get("cursor") {
            None => None,
            Some(raw) => Some(
                crate::cursor::decode(raw, valid_sk)
                    .ok_or_else(|| ApiError::field("cursor", "is not a cursor this list issued"))?,
            ),
        };
        Ok((limit, after))
    }

    /// Every value of `name`, in order (a list parameter; comma-separated values split).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: 1 to 100, 25 when absent.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(25),
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| ApiError::field("limit", "must be an integer from 1 to 100")),
        }
    }
}

/// A form-encoded body: the first value of each name (later repeats cannot override).
pub fn parse_form(bytes: &[u8]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn request_id(req: &Request) -> String {
    let from_gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway
        .filter(|id| !id.is_empty())
        .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

fn with_common_headers(mut resp: Response<Body>, request_id: &str) -> Response<Body> {
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // HTTPS only, for two years, subdomains too (browsers ignore it over plain http, so a
    // local stack is unaffected)
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    resp
}

/// A JSON response.
pub fn json(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An operation's answer; a replay says so (`Idempotent-Replayed: true`).
pub fn answer(answer: &Answer) -> Response<Body> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut resp = json(status, &answer.body);
    if answer.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

pub fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// `error` as the dialect of the request's path documents it.
pub fn error_response(error: &ApiError, request_id: &str, dialect: Dialect) -> Response<Body> {
    let mut resp = json(error.status(), &dialect.error_body(error, request_id));
    if let Some(retry) = dialect.should_retry(error) {
        resp.headers_mut().insert(
            "x-should-retry",
            HeaderValue::from_static(if retry { "true" } else { "false" }),
        );
    }
    match error {
        ApiError::Unauthorized => {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        ApiError::MethodNotAllowed { allow, .. } => {
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
        }
        ApiError::RateLimited { retry_after, .. } => {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        _ => {}
    }
    resp
}

/// What serves a route: boxed, so one table can hold every handler.
pub type Handler =
    for<'a> fn(
        &'a App,
        &'a Call,
    ) -> futures_util::future::BoxFuture<'a, Result<Response<Body>, ApiError>>;

/// One route, declared once next to its handler: the operation name the logs carry, who may
/// call it, and what serves it. A function's `main.rs` names the route it runs.
pub struct Route {
    pub operation: &'static str,
    pub access: Access,
    pub handler: Handler,
}

/// Runs one route: authenticates as its access requires, calls its handler, maps every
/// error to the documented body, and logs the outcome. Never fails: Lambda always gets a
/// response.
pub async fn serve(
    app: &App,
    req: Request,
    route: &Route,
) -> Result<Response<Body>, lambda_http::Error> {
    let operation = route.operation;
    let span = tracing::info_span!("route", operation);
    tracing::Instrument::instrument(handle(app, req, route), span).await
}

async fn handle(
    app: &App,
    req: Request,
    route: &Route,
) -> Result<Response<Body>, lambda_http::Error> {
    let operation = route.operation;
    let started = Instant::now();
    let mut call = Call::public(req);
    let dialect = Dialect::of_path(call.method_and_path().1);
    let result = match authorize(app, &call, route.access, dialect).await {
        Ok(principal) => {
            call.principal = principal;
            (route.handler)(app, &call).await
        }
        Err(e) => Err(e),
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(e) => {
            if let ApiError::Internal(source) = &e {
                tracing::error!(operation, request_id = %call.request_id, error = %source, "request failed");
            }
            error_response(&e, &call.request_id, dialect)
        }
    };
    tracing::info!(
        operation,
        request_id = %call.request_id,
        tenant_id = call.principal.as_ref().map(|p| p.tenant_id.as_str()).unwrap_or("-"),
        status = resp.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(with_common_headers(resp, &call.request_id))
}

async fn authorize(
    app: &App,
    call: &Call,
    access: Access,
    dialect: Dialect,
) -> Result<Option<Principal>, ApiError> {
    if access == Access::Public {
        return Ok(None);
    }
    let authorization = call.header(header::AUTHORIZATION.as_str());
    let principal = if dialect.uses_access_tokens() {
        app.authenticate_token(authorization).await?
    } else {
        app.authenticate(authorization).await?
    };
    if matches!(access, Access::Write | Access::Admin) && principal.role != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    Ok(Some(principal))
}
