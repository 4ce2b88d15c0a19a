//! What the hosted pages render: the page and its views, the answer for a link that can no
//! longer be used or a connection that refuses, and the response with its strict
//! Content-Security-Policy. The pages work without JavaScript and load nothing from other
//! origins.

use crate::connection::activation::{Activation, Refusal};
use crate::error::ApiError;
use crate::http::Call;
use crate::id::IntegrationId;
use crate::integration::Integration;
use crate::lang::{t, Lang, Text};
use crate::link::{self, Link, Status};
use crate::provider::Provider;
use crate::secret::sha256_hex;
use crate::{time, App};
use askama::Template;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

pub(crate) const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;background:#f5f6f8}main{max-width:32rem;margin:2rem auto;padding:2rem 1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.5rem;margin:.5rem 0 1rem}.logo{display:block;border-radius:12px}.message{color:#333}.cards{list-style:none;padding:0;margin:0;display:grid;gap:.75rem}.card{display:flex;gap:1rem;align-items:center;padding:.75rem 1rem;border:1px solid #c9ced6;border-radius:10px;color:inherit;text-decoration:none}.card:hover,.card:focus{border-color:var(--brand,#2457c5);outline:2px solid var(--brand,#2457c5)}.card img{border-radius:8px}.card span{display:flex;flex-direction:column}.card small{color:#4a4f57}.field{margin:0 0 1rem}label{display:block;font-weight:600;margin-bottom:.25rem}input,select{width:100%;padding:.6rem .7rem;font:inherit;border:1px solid #767c85;border-radius:8px}input:focus,select:focus{outline:3px solid var(--brand,#2457c5);outline-offset:1px}[aria-invalid=true]{border:2px solid #a4161a}.help{display:block;color:#4a4f57;font-size:.875rem}.field-error,.error{color:#a4161a;font-weight:600}.field-error{display:block;font-size:.875rem}button,.button{display:inline-block;width:100%;padding:.75rem 1rem;font:inherit;font-weight:600;color:#fff;background:var(--brand,#2457c5);border:0;border-radius:8px;text-align:center;text-decoration:none;cursor:pointer}button:focus,.button:focus{outline:3px solid #0b1f4d;outline-offset:2px}.secondary{color:var(--brand,#2457c5)}footer{text-align:center;color:#4a4f57;font-size:.8rem;margin:1rem}.brand{display:flex;align-items:center;gap:.75rem;margin:0 0 1.5rem;padding:0 0 1rem;border-bottom:1px solid #e3e6ea;font-weight:600}.brand img{max-width:10rem;height:40px;width:auto;object-fit:contain}.row{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;padding:.75rem 1rem;border:1px solid #c9ced6;border-radius:10px}.row img{border-radius:8px}.row .what{display:flex;flex-direction:column;flex:1 1 12rem}.row small{color:#4a4f57}.actions{display:flex;gap:.5rem;flex-wrap:wrap}.actions form{margin:0}.actions button{width:auto;min-height:44px;padding:.5rem 1rem}button.quiet{color:#a4161a;background:#fff;border:1px solid #a4161a}.notice{padding:.75rem 1rem;border-radius:8px;background:#e8f0fe;color:#0b1f4d}";

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
    pub(crate) name: Option<String>,
    pub(crate) logo: Option<String>,
    /// `:root{--brand:#rrggbb}`, allowed by its own hash.
    pub(crate) css: Option<String>,
}

impl BrandView {
    pub(crate) fn from(b: &crate::branding::Branding) -> Option<BrandView> {
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
    pub(crate) name: String,
    pub(crate) category: String,
    pub(crate) logo: String,
    pub(crate) href: String,
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

impl FormView {
    /// The notice above the fields, in place of "correct the highlighted fields".
    pub(crate) fn with_notice(self, notice: Text) -> FormView {
        FormView {
            error: Some(notice),
            ..self
        }
    }
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
    let mut resp = html_response(status, body, brand_css.as_deref(), local);
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// An HTML answer of the hosted pages (connect and portal): never cached by anyone, never
/// framed, no referrer, and the strict Content-Security-Policy.
pub(crate) fn html_response(
    status: StatusCode,
    body: String,
    brand_css: Option<&str>,
    local: bool,
) -> Response<Body> {
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
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(local, brand_css)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
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

/// The page (or redirect) for a link that can no longer be used, if it cannot.
pub(crate) async fn closed(app: &App, link: &Link) -> Result<Option<Outcome>, ApiError> {
    Ok(match link.status_at(time::now()) {
        Status::Expired => {
            if link.redirect {
                if let Some(target) = link::redirect_target(app, link).await? {
                    return Ok(Some(Outcome::Redirect(
                        StatusCode::FOUND,
                        link::with_params(&target, link, "expired", true),
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
    format!("data:image/svg+xml;base64,{}", p.logo_base64())
}

pub(crate) fn connect_href(
    link: &Link,
    token: &str,
    integration: Option<&IntegrationId>,
) -> String {
    let mut href = format!("/connect/{}?token={}", link.id, urlencode(token));
    if let Some(i) = integration {
        href.push_str(&format!("&integration={i}"));
    }
    href
}

pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
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

/// The page for a connection that refuses to complete (see `connection::activation`).
pub(crate) fn refused(refusal: Refusal) -> Outcome {
    match refusal {
        Refusal::Revoked => page(StatusCode::GONE, "cancelled"),
        Refusal::Disabled => page(StatusCode::CONFLICT, "disabled"),
    }
}

/// What the customer sees after an activation: on to the platform (or a page with a way
/// back), or why it did not happen. `HeldElsewhere` is the caller's to explain.
pub(crate) async fn activated(
    app: &App,
    link: &Link,
    integration: &Integration,
    activation: Activation,
) -> Result<Outcome, ApiError> {
    match activation {
        Activation::Active => {}
        Activation::IntegrationInactive => return Ok(page(StatusCode::CONFLICT, "paused")),
        Activation::HeldElsewhere => {
            return Err(ApiError::AlreadyConnected {
                message: "another connection holds this owner's connection to the provider".into(),
                details: Vec::new(),
            })
        }
        // Someone else used, revoked or changed it first: show what it is now.
        Activation::Lost(Some(now)) => {
            return Ok(closed(app, &now)
                .await?
                .unwrap_or_else(|| page(StatusCode::CONFLICT, "retry")))
        }
        Activation::Lost(None) => return Ok(invalid()),
    }
    let target = link::redirect_target(app, link).await?;
    if let (true, Some(target)) = (link.redirect, &target) {
        return Ok(Outcome::Redirect(
            StatusCode::SEE_OTHER,
            link::with_params(target, link, "active", false),
        ));
    }
    let mut p = Page::new(
        t("page.connected.heading"),
        Some(t("page.connected.message").with("software", integration.display_name()?)),
    );
    p.logo = Some(logo_uri(integration.provider()?));
    p.back = target.map(|t| link::with_params(&t, link, "active", false));
    Ok(Outcome::Page(StatusCode::OK, Box::new(p)))
}
