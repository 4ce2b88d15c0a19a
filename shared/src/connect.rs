//! The hosted connect page: what the tenant's customer sees when opening a link.
//!
//! `GET /connect/{link_id}?token=…` shows the marketplace (no integration chosen yet), the
//! provider's form (API key and basic providers) or a "Continue with …" button (OAuth).
//! Opening never consumes a link (mail scanners open links); only a valid submission does,
//! in one transaction with activating the connection and writing the outbox event.
//! The pages work without JavaScript, load nothing from other origins and send a strict
//! Content-Security-Policy.

use crate::connection::{self, Connection};
use crate::credential::Credentials;
use crate::error::ApiError;
use crate::event;
use crate::http::{Access, Call, Route};
use crate::id::{IntegrationId, LinkId};
use crate::integration::{self, Integration};
use crate::lang::{t, Lang, Text};
use crate::link::{self, Link, Status};
use crate::provider::{catalog, AuthMode, Provider};
use crate::redirect_url::RedirectUrl;
use crate::secret::sha256_hex;
use crate::store::{s, TxOutcome};
use crate::{time, App};
use askama::Template;
use aws_sdk_dynamodb::types::TransactWriteItem;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;background:#f5f6f8}main{max-width:32rem;margin:2rem auto;padding:2rem 1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.5rem;margin:.5rem 0 1rem}.logo{display:block;border-radius:12px}.message{color:#333}.cards{list-style:none;padding:0;margin:0;display:grid;gap:.75rem}.card{display:flex;gap:1rem;align-items:center;padding:.75rem 1rem;border:1px solid #c9ced6;border-radius:10px;color:inherit;text-decoration:none}.card:hover,.card:focus{border-color:var(--brand,#2457c5);outline:2px solid var(--brand,#2457c5)}.card img{border-radius:8px}.card span{display:flex;flex-direction:column}.card small{color:#4a4f57}.field{margin:0 0 1rem}label{display:block;font-weight:600;margin-bottom:.25rem}input,select{width:100%;padding:.6rem .7rem;font:inherit;border:1px solid #767c85;border-radius:8px}input:focus,select:focus{outline:3px solid var(--brand,#2457c5);outline-offset:1px}[aria-invalid=true]{border:2px solid #a4161a}.help{display:block;color:#4a4f57;font-size:.875rem}.field-error,.error{color:#a4161a;font-weight:600}.field-error{display:block;font-size:.875rem}button,.button{display:inline-block;width:100%;padding:.75rem 1rem;font:inherit;font-weight:600;color:#fff;background:var(--brand,#2457c5);border:0;border-radius:8px;text-align:center;text-decoration:none;cursor:pointer}button:focus,.button:focus{outline:3px solid #0b1f4d;outline-offset:2px}.secondary{color:var(--brand,#2457c5)}footer{text-align:center;color:#4a4f57;font-size:.8rem;margin:1rem}.brand{display:flex;align-items:center;gap:.75rem;margin:0 0 1.5rem;padding:0 0 1rem;border-bottom:1px solid #e3e6ea;font-weight:600}.brand img{max-width:10rem;height:40px;width:auto;object-fit:contain}";
const MAX_FORM_BYTES: usize = 32 * 1024;

/// Only our stylesheet and, on a branded page, the one rule that sets the tenant's colour
/// may style the page: each is allowed by its hash, so nothing injected could be.
fn content_security_policy(local: bool, brand_css: Option<&str>) -> String {
    static CSS_HASH: OnceLock<String> = OnceLock::new();
    let hash = CSS_HASH.get_or_init(|| STANDARD.encode(sha2_digest(CSS.as_bytes())));
    let brand = brand_css
        .map(|css| format!(" 'sha256-{}'", STANDARD.encode(sha2_digest(css.as_bytes()))))
        .unwrap_or_default();
    let local = if local {
        " http://localhost:* http://127.0.0.1:*"
    } else {
        ""
    };
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'{brand}; img-src data:; base-uri 'none'; frame-ancestors 'none'; form-action 'self' https:{local}"
    )
}

/// Notes the link a page is about (its tenant's brand applies; first call wins).
pub(crate) fn remember(call: &Call, link: &Link) {
    let _ = call.page.set(crate::http::PageContext {
        tenant: link.tenant_id.clone(),
        lang: link.lang,
    });
}

/// The tenant's brand as a page shows it.
pub(crate) struct BrandView {
    name: Option<String>,
    logo: Option<String>,
    /// `:root{--brand:#rrggbb}`, allowed by its own hash.
    css: Option<String>,
}

impl BrandView {
    fn from(b: &crate::branding::Branding) -> Option<BrandView> {
        let view = BrandView {
            name: b.display_name.clone(),
            logo: b.logo.clone(),
            css: b
                .primary_color
                .as_ref()
                .map(|c| format!(":root{{--brand:{c}}}")),
        };
        (view.name.is_some() || view.logo.is_some() || view.css.is_some()).then_some(view)
    }
}

fn sha2_digest(bytes: &[u8]) -> Vec<u8> {
    hex::decode(sha256_hex(bytes)).unwrap_or_default()
}

pub(crate) struct Card {
    name: String,
    category: String,
    logo: String,
    href: String,
}

pub(crate) struct FieldView {
    name: String,
    label: String,
    secret: bool,
    value: String,
    help: Option<String>,
    placeholder: Option<String>,
    options: Vec<String>,
    error: Option<String>,
}

pub(crate) struct FormView {
    action: String,
    token: String,
    integration_id: String,
    provider_name: String,
    fields: Vec<FieldView>,
    error: Option<Text>,
}

pub(crate) struct OAuthView {
    href: String,
    provider_name: String,
    /// Connection fields asked before leaving (`shop` for Shopify): then a GET form.
    action: String,
    token: String,
    integration: Option<String>,
    fields: Vec<FieldView>,
    error: Option<Text>,
}

#[derive(Template)]
#[template(path = "connect.html")]
pub(crate) struct Page {
    pub(crate) heading: Text,
    pub(crate) message: Option<Text>,
    pub(crate) logo: Option<String>,
    pub(crate) cards: Vec<Card>,
    pub(crate) form: Option<FormView>,
    pub(crate) oauth: Option<OAuthView>,
    pub(crate) back: Option<String>,
    pub(crate) back_label: Text,
    pub(crate) css: &'static str,
    pub(crate) brand: Option<BrandView>,
    /// Chosen when the page is answered (see `finish`).
    pub(crate) lang: Lang,
}

impl Page {
    pub(crate) fn new(heading: Text, message: Option<Text>) -> Page {
        Page {
            heading,
            message,
            logo: None,
            cards: Vec::new(),
            form: None,
            oauth: None,
            back: None,
            back_label: t("page.back.app"),
            css: CSS,
            brand: None,
            lang: Lang::En,
        }
    }

    /// A text in the page's language (the template's words).
    fn tr(&self, text: &Text) -> String {
        text.render(self.lang)
    }

    fn word(&self, key: &'static str) -> &'static str {
        self.lang.text(key)
    }

    fn with_provider(&self, key: &'static str, provider: &str) -> String {
        self.lang.fill(key, &[("provider", provider)])
    }

    fn label(&self, field: &FieldView) -> String {
        self.lang.label(&field.label)
    }

    fn title(&self) -> String {
        self.lang
            .fill("page.title", &[("heading", &self.tr(&self.heading))])
    }
}

/// A rendered page or a browser redirect: every outcome of a public route is one of these.
pub(crate) enum Outcome {
    Page(StatusCode, Box<Page>),
    Redirect(StatusCode, String),
}

/// A page that says one thing: `page.<name>.heading` and `page.<name>.message`.
pub(crate) fn page(status: StatusCode, name: &'static str) -> Outcome {
    let (heading, message) = page_keys(name);
    Outcome::Page(status, Box::new(Page::new(t(heading), Some(t(message)))))
}

fn page_keys(name: &'static str) -> (&'static str, &'static str) {
    // Keys are spelled out (not built) so the catalogue test finds every one the code uses.
    match name {
        "invalid" => ("page.invalid.heading", "page.invalid.message"),
        "error" => ("page.error.heading", "page.error.message"),
        "expired" => ("page.expired.heading", "page.expired.message"),
        "revoked" => ("page.revoked.heading", "page.revoked.message"),
        "cancelled" => ("page.cancelled.heading", "page.cancelled.message"),
        "granted" => ("page.granted.heading", "page.granted.message"),
        "paused" => ("page.paused.heading", "page.paused.message"),
        "disabled" => ("page.disabled.heading", "page.disabled.message"),
        "not_set_up" => ("page.not_set_up.heading", "page.not_set_up.message"),
        "unavailable_choice" => (
            "page.unavailable_choice.heading",
            "page.unavailable_choice.message",
        ),
        "bad_form" => ("page.bad_form.heading", "page.bad_form.message"),
        "use_sign_in" => ("page.use_sign_in.heading", "page.use_sign_in.message"),
        "use_form" => ("page.use_form.heading", "page.use_form.message"),
        "retry" => ("page.retry.heading", "page.retry.message"),
        "state_gone" => ("page.state_gone.heading", "page.state_gone.message"),
        "declined" => ("page.declined.heading", "page.declined.message"),
        "other_browser" => ("page.other_browser.heading", "page.other_browser.message"),
        _ => ("page.error.heading", "page.error.message"),
    }
}

pub(crate) fn invalid() -> Outcome {
    page(StatusCode::NOT_FOUND, "invalid")
}

pub(crate) fn respond(outcome: Outcome, local: bool) -> Response<Body> {
    let mut brand_css = None;
    let (status, body, location) = match outcome {
        Outcome::Page(status, page) => match page.render() {
            Ok(html) => {
                brand_css = page.brand.as_ref().and_then(|b| b.css.clone());
                (status, html, None)
            }
            Err(e) => {
                tracing::error!(error = %e, "connect page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>Something went wrong.</p>".into(),
                    None,
                )
            }
        },
        Outcome::Redirect(status, url) => (status, String::new(), Some(url)),
    };
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(local, brand_css.as_deref())) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::LOCATION, v);
    }
    resp
}

/// Turns a handler's result into a page, in the brand of the link's tenant when the handler
/// found the link; internal errors become a plain apology.
pub(crate) async fn finish(
    result: Result<Outcome, ApiError>,
    app: &App,
    call: &Call,
) -> Result<Response<Body>, ApiError> {
    let mut outcome = result.unwrap_or_else(|e| {
        tracing::error!(request_id = %call.request_id, error = %e, source = ?std::error::Error::source(&e), "connect page failed");
        page(StatusCode::INTERNAL_SERVER_ERROR, "error")
    });
    if let Outcome::Page(_, page) = &mut outcome {
        let ctx = call.page.get();
        // The link's language, else the browser's (an unknown link has only the browser's).
        page.lang = Lang::negotiate(ctx.and_then(|c| c.lang), call.header("accept-language"));
        if let Some(ctx) = ctx {
            // A page without its brand is better than no page: a failed read is only logged.
            match crate::settings::of(app, &ctx.tenant).await {
                Ok(settings) => page.brand = BrandView::from(&settings.branding),
                Err(e) => tracing::warn!(error = %e, "no brand for this page"),
            }
        }
    }
    let mut resp = respond(outcome, app.config.stage == crate::config::Stage::Local);
    if let Some(v) = call
        .set_cookie
        .get()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

pub const SHOW: Route = Route {
    operation: "connect.page",
    access: Access::Public,
    handler: |app, call| {
        Box::pin(async move { finish(show_page(app, call).await, app, call).await })
    },
};

pub const SUBMIT: Route = Route {
    operation: "connect.submit",
    access: Access::Public,
    handler: |app, call| {
        Box::pin(async move { finish(submit_form(app, call).await, app, call).await })
    },
};

/// The link named by the path, if `token` is its token.
async fn resolve(app: &App, call: &Call, token: Option<&str>) -> Result<Option<Link>, ApiError> {
    let Some(id) = call.path_param("link_id").and_then(LinkId::parse) else {
        return Ok(None);
    };
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 128) else {
        return Ok(None);
    };
    let link = link::get_any(&app.store, &id)
        .await?
        .filter(|l| l.token_matches(token));
    if let Some(l) = &link {
        remember(call, l);
    }
    Ok(link)
}

/// The path's link and its token when the link can still be used; otherwise the page (or
/// redirect) that says why not.
pub(crate) async fn usable_link(
    app: &App,
    call: &Call,
    token: Option<String>,
) -> Result<Result<(Link, String), Outcome>, ApiError> {
    let Some(link) = resolve(app, call, token.as_deref()).await? else {
        return Ok(Err(invalid()));
    };
    if let Some(outcome) = closed(app, &link).await? {
        return Ok(Err(outcome));
    }
    Ok(Ok((link, token.unwrap_or_default())))
}

/// Where the browser goes after the flow: the link's URL, else the consumer's, else the
/// tenant default.
pub(crate) async fn redirect_target(
    app: &App,
    link: &Link,
) -> Result<Option<RedirectUrl>, ApiError> {
    if let Some(u) = &link.redirect_url {
        return Ok(Some(u.clone()));
    }
    if let Some(consumer) = &link.consumer_id {
        if let Some(c) = crate::consumer::find(&app.store, &link.tenant_id, consumer).await? {
            if let Some(u) = c.redirect_url {
                return Ok(Some(u));
            }
        }
    }
    Ok(crate::settings::of(app, &link.tenant_id)
        .await?
        .default_redirect_url
        .clone())
}

pub(crate) fn with_params(url: &RedirectUrl, link: &Link, status: &str, expired: bool) -> String {
    let mut u = match url::Url::parse(url.as_str()) {
        Ok(u) => u,
        Err(_) => return url.as_str().to_owned(),
    };
    {
        let mut q = u.query_pairs_mut();
        if let Some(consumer) = &link.consumer_id {
            q.append_pair("consumerId", consumer.as_str());
        }
        q.append_pair("connectionId", link.connection_id.as_str());
        q.append_pair("status", status);
        if expired {
            q.append_pair("isExpiredError", "true");
        }
    }
    u.into()
}

/// The page (or redirect) for a link that can no longer be used, if it cannot.
pub(crate) async fn closed(app: &App, link: &Link) -> Result<Option<Outcome>, ApiError> {
    Ok(match link.status_at(time::now()) {
        Status::Expired => {
            if link.redirect {
                if let Some(target) = redirect_target(app, link).await? {
                    return Ok(Some(Outcome::Redirect(
                        StatusCode::FOUND,
                        with_params(&target, link, "expired", true),
                    )));
                }
            }
            Some(page(StatusCode::GONE, "expired"))
        }
        Status::Revoked => Some(page(StatusCode::GONE, "revoked")),
        Status::Granted => Some(page(StatusCode::OK, "granted")),
        Status::Waiting | Status::WaitingOauth => None,
    })
}

pub(crate) fn logo_uri(p: &Provider) -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(p.logo_svg())
    )
}

fn connect_href(link: &Link, token: &str, integration: Option<&IntegrationId>) -> String {
    let mut href = format!("/connect/{}?token={}", link.id, urlencode(token));
    if let Some(i) = integration {
        href.push_str(&format!("&integration={i}"));
    }
    href
}

pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The integration the customer connects: the link's own, or the one picked in the
/// marketplace (which must be an active integration of the link's tenant).
pub(crate) async fn chosen_integration(
    app: &App,
    link: &Link,
    picked: Option<&str>,
) -> Result<Option<Integration>, ApiError> {
    let id = match (&link.integration_id, picked) {
        (Some(id), _) => id.clone(),
        (None, Some(raw)) => match IntegrationId::parse(raw) {
            Some(id) => id,
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    Ok(crate::integration::active_one(app, &link.tenant_id, &id).await?)
}

/// The "Continue with …" step: a plain link, or a GET form when the provider needs
/// connection fields before its sign-in page can be found.
pub(crate) fn oauth_view(
    link: &Link,
    token: &str,
    integration: &Integration,
    provider: &Provider,
    values: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> OAuthView {
    let picked = link
        .integration_id
        .is_none()
        .then(|| integration.id().to_string());
    let mut href = format!("/connect/{}/oauth?token={}", link.id, urlencode(token));
    if let Some(i) = &picked {
        href.push_str(&format!("&integration={i}"));
    }
    OAuthView {
        href,
        provider_name: provider.name.clone(),
        action: format!("/connect/{}/oauth", link.id),
        token: token.to_owned(),
        integration: picked,
        fields: provider
            .connection_fields
            .iter()
            .map(|f| FieldView {
                name: f.name.clone(),
                label: f.label.clone(),
                secret: false,
                value: values.get(&f.name).cloned().unwrap_or_default(),
                help: f.help.clone(),
                placeholder: f.placeholder.clone(),
                options: Vec::new(),
                error: errors.get(&f.name).cloned(),
            })
            .collect(),
        error: (!errors.is_empty()).then(|| t("page.form.fix")),
    }
}

pub(crate) fn form_view(
    link: &Link,
    token: &str,
    integration: &Integration,
    provider: &Provider,
    values: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> FormView {
    let fields = provider
        .connection_fields
        .iter()
        .chain(&provider.credential_fields)
        .map(|f| FieldView {
            name: f.name.clone(),
            label: f.label.clone(),
            secret: f.secret,
            // secrets are never sent back, even to their owner
            value: if f.secret {
                String::new()
            } else {
                values.get(&f.name).cloned().unwrap_or_default()
            },
            help: f.help.clone(),
            placeholder: f.placeholder.clone(),
            options: f.options.clone().unwrap_or_default(),
            error: errors.get(&f.name).cloned(),
        })
        .collect();
    FormView {
        action: format!("/connect/{}", link.id),
        token: token.to_owned(),
        integration_id: integration.id().to_string(),
        provider_name: provider.name.clone(),
        fields,
        error: (!errors.is_empty()).then(|| t("page.form.fix")),
    }
}

async fn show_page(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let (link, token) = match open_link(app, call).await? {
        Ok(usable) => usable,
        Err(outcome) => return Ok(outcome),
    };

    let Some(integration) =
        chosen_integration(app, &link, call.query_param("integration").as_deref()).await?
    else {
        if link.integration_id.is_some() {
            return Ok(page(StatusCode::CONFLICT, "paused"));
        }
        let mut p = Page::new(
            t("page.marketplace.heading"),
            Some(t("page.marketplace.message")),
        );
        for i in crate::integration::active_of(app, &link.tenant_id)
            .await?
            .iter()
        {
            let provider = i.provider()?;
            p.cards.push(Card {
                name: i.display_name()?,
                category: provider.category.replace('_', " "),
                logo: logo_uri(provider),
                href: connect_href(&link, &token, Some(i.id())),
            });
        }
        if p.cards.is_empty() {
            p.message = Some(t("page.marketplace.empty"));
        }
        return Ok(Outcome::Page(StatusCode::OK, Box::new(p)));
    };
    let provider = integration.provider()?;
    let mut p = Page::new(
        t("page.connect.heading").with("software", integration.display_name()?),
        None,
    );
    p.logo = Some(logo_uri(provider));
    if link.integration_id.is_none() {
        p.back = Some(connect_href(&link, &token, None));
        p.back_label = t("page.back.choose");
    }
    match provider.auth_mode {
        AuthMode::Oauth2 => {
            p.message = Some(t("page.connect.oauth").with("provider", provider.name.clone()));
            p.oauth = Some(oauth_view(
                &link,
                &token,
                &integration,
                provider,
                &HashMap::new(),
                &BTreeMap::new(),
            ));
        }
        AuthMode::ApiKey | AuthMode::Basic => {
            p.message = Some(t("page.connect.form").with("provider", provider.name.clone()));
            p.form = Some(form_view(
                &link,
                &token,
                &integration,
                provider,
                &HashMap::new(),
                &BTreeMap::new(),
            ));
        }
    }
    Ok(Outcome::Page(StatusCode::OK, Box::new(p)))
}

/// The page's link, read and its first open recorded in one conditional write that only
/// succeeds for the right token on a usable link (the relay announces `link.opened` from the
/// stream). Anything else takes the slower path that explains why the link cannot be used.
async fn open_link(app: &App, call: &Call) -> Result<Result<(Link, String), Outcome>, ApiError> {
    let token = call.query_param("token");
    let (Some(id), Some(given)) = (
        call.path_param("link_id").and_then(LinkId::parse),
        token.as_deref().filter(|t| !t.is_empty() && t.len() <= 128),
    ) else {
        return Ok(Err(invalid()));
    };
    let now = time::format(&time::now());
    let opened = app
        .store
        .update_returning(
            link::item_key(&id),
            "SET opened_at = if_not_exists(opened_at, :now) ADD open_count :one",
            // an emailed link carries a token of its own (see `reminder`)
            &format!(
                "(token_hash = :hash OR contains(email_token_hashes, :hash)) \
                 AND {} AND expires_at > :now",
                link::OPEN
            ),
            &link::with_open_values(&[
                (":now", s(&now)),
                (":one", crate::store::n(1)),
                (":hash", s(link::token_hash(given))),
            ]),
            &[link::STATUS_NAME],
        )
        .await?;
    match opened {
        Some(item) => {
            let link = link::from_item(item)?;
            remember(call, &link);
            Ok(Ok((link, given.to_owned())))
        }
        None => usable_link(app, call, token).await,
    }
}

async fn submit_form(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let Some(form) = call.form_body(MAX_FORM_BYTES) else {
        return Ok(page(StatusCode::BAD_REQUEST, "bad_form"));
    };
    let (link, token) = match usable_link(app, call, form.get("token").cloned()).await? {
        Ok(usable) => usable,
        Err(outcome) => return Ok(outcome),
    };
    let Some(integration) =
        chosen_integration(app, &link, form.get("integration_id").map(String::as_str)).await?
    else {
        return Ok(page(StatusCode::BAD_REQUEST, "unavailable_choice"));
    };
    let provider = integration.provider()?;
    if provider.auth_mode == AuthMode::Oauth2 {
        return Ok(page(StatusCode::BAD_REQUEST, "use_sign_in"));
    }
    let Some(connection) =
        connection::get(&app.store, &link.tenant_id, &link.connection_id).await?
    else {
        return Ok(invalid());
    };
    if let Some(refused) = refusal(&connection) {
        return Ok(refused);
    }

    // Values arrive as f_<field>; only the provider's own fields are read.
    let values: HashMap<String, String> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("f_")
                .map(|name| (name.to_owned(), v.clone()))
        })
        .collect();
    let as_json =
        |fields: &[crate::provider::Field]| -> serde_json::Map<String, serde_json::Value> {
            fields
                .iter()
                .filter_map(|f| values.get(&f.name).map(|v| (f.name.clone(), json!(v))))
                .collect()
        };
    let c = catalog()?;
    let checked_conn = c.check_values(
        provider,
        &provider.connection_fields,
        "",
        &as_json(&provider.connection_fields),
    );
    let checked_cred = c.check_values(
        provider,
        &provider.credential_fields,
        "",
        &as_json(&provider.credential_fields),
    );
    let (connection_values, credential_values) = match (checked_conn, checked_cred) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            let errors: BTreeMap<String, String> = a
                .err()
                .into_iter()
                .chain(b.err())
                .flatten()
                .map(|e| (e.field, e.message))
                .collect();
            link::record_failure(&app.store, &link.id, errors.keys().cloned().collect()).await?;
            let mut p = Page::new(
                t("page.connect.heading").with("software", integration.display_name()?),
                None,
            );
            p.logo = Some(logo_uri(provider));
            p.form = Some(form_view(
                &link,
                &token,
                &integration,
                provider,
                &values,
                &errors,
            ));
            return Ok(Outcome::Page(StatusCode::UNPROCESSABLE_ENTITY, Box::new(p)));
        }
    };

    let credentials = Credentials {
        auth_mode: provider.auth_mode,
        provider: provider.id.clone(),
        values: credential_values
            .into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect(),
        connection_fields: connection_values
            .into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect(),
        raw: None,
    };
    activate(app, link, connection, &integration, &credentials, None).await
}

/// Why a link of `connection` cannot complete now, as the page that says so: the connection
/// was revoked (for good) or the tenant disabled it (until enabled; the link stays open).
pub(crate) fn refusal(connection: &Connection) -> Option<Outcome> {
    if connection.status == connection::Status::Revoked {
        Some(page(StatusCode::GONE, "cancelled"))
    } else if connection.disabled {
        Some(page(StatusCode::CONFLICT, "disabled"))
    } else {
        None
    }
}

/// One transaction: the link becomes granted (if still open), the connection active with
/// its new credentials, and the outbox gets `connection.created` (first activation) or
/// `connection.updated` (re-authentication of the same connection, with its previous status).
///
/// The caller has checked `connection` with [`refusal`] (before calling any provider); the
/// connection's version in the transaction holds it to what was checked.
///
/// `held`: a condition the activation also needs (direct connect's hold on the owner's one
/// live connection); when it fails nothing is written and the answer is
/// `ApiError::AlreadyConnected`.
pub(crate) async fn activate(
    app: &App,
    link: Link,
    connection: Connection,
    integration: &Integration,
    credentials: &Credentials,
    held: Option<TransactWriteItem>,
) -> Result<Outcome, ApiError> {
    let sealed = credentials
        .seal(app.sealer()?, &link.tenant_id, connection.id.as_str())
        .await?;
    let now = time::now();
    let now_text = time::format(&now);
    let first = connection.activated_at.is_none();
    let next = Connection {
        status: connection::Status::Active,
        credentials_sealed: Some(sealed),
        token_expires_at: credentials.expires_at().map(|e| time::format(&e)),
        refreshable: credentials.refresh_token().is_some(),
        refresh_lease: None,
        refresh_lease_until: None,
        reauth_reason: None,
        integration_id: Some(integration.id().clone()),
        provider: Some(integration.provider_id().to_owned()),
        open_link_id: None,
        activated_at: connection
            .activated_at
            .clone()
            .or_else(|| Some(now_text.clone())),
        updated_at: now,
        version: connection.version + 1,
        ..connection.clone()
    };
    let kind = if first {
        event::CONNECTION_CREATED
    } else {
        event::CONNECTION_UPDATED
    };
    let mut items = vec![
        app.store.update_tx(
            link::item_key(&link.id),
            "SET #status = :granted, granted_at = :now, integration_id = :integration",
            &format!("{} AND expires_at > :now", link::OPEN),
            &link::with_open_values(&[
                (":granted", s(link::Stored::Granted.as_str())),
                (":now", s(&now_text)),
                (":integration", s(integration.id().as_str())),
            ]),
            &[link::STATUS_NAME],
        )?,
        link::drop_expiry_tx(&app.store, &link.id)?,
        next.replace_tx(&app.store, &connection)?,
        // The page may have found it in a warm cache: it must still be active now.
        integration::active_tx(&app.store, &link.tenant_id, integration.id())?,
        event::outbox(
            &app.store,
            &link.tenant_id,
            kind,
            json!({
                "connection": next.to_json()?,
                "link_id": link.id,
                "change": if first { "activated" } else { "reauthenticated" },
                "previous_status": connection.status,
            }),
        )?,
    ];
    let held_at = items.len();
    items.extend(held);
    let outcome = app.store.transact(items).await?;
    if outcome.failed_condition(3) {
        return Ok(page(StatusCode::CONFLICT, "paused"));
    }
    if outcome.failed_condition(held_at) {
        return Err(ApiError::AlreadyConnected {
            message: "another connection holds this owner's connection to the provider".into(),
            details: Vec::new(),
        });
    }
    if let TxOutcome::Cancelled(_) = outcome {
        // Someone else used, revoked or changed it first: show what it is now.
        let current = link::get_any(&app.store, &link.id).await?;
        return Ok(match current {
            Some(l) => closed(app, &l)
                .await?
                .unwrap_or_else(|| page(StatusCode::CONFLICT, "retry")),
            None => invalid(),
        });
    }
    let target = redirect_target(app, &link).await?;
    if let (true, Some(target)) = (link.redirect, &target) {
        return Ok(Outcome::Redirect(
            StatusCode::SEE_OTHER,
            with_params(target, &link, "active", false),
        ));
    }
    let mut p = Page::new(
        t("page.connected.heading"),
        Some(t("page.connected.message").with("software", integration.display_name()?)),
    );
    p.logo = Some(logo_uri(integration.provider()?));
    p.back = target.map(|t| with_params(&t, &link, "active", false));
    Ok(Outcome::Page(StatusCode::OK, Box::new(p)))
}
