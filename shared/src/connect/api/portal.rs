//! The consumer portal's pages: `GET /portal/{portal_id}` (the link is opened, then the
//! page is shown) and `POST /portal/{portal_id}` (its forms: reconnect, disconnect and its
//! confirmation). What they may do is `crate::portal`; they look like the connect pages.

use super::cookie::Jar;
use super::page::{html_response, logo_uri, BrandView, CSS};
use crate::connection::{Connection, Status};
use crate::error::ApiError;
use crate::http::{Access, Call, Route};
use crate::id::{ConnectionId, PortalLinkId};
use crate::lang::{t, Lang, Text};
use crate::portal::{self as domain, Closed, Session, SessionKey};
use crate::redirect_url::RedirectUrl;
use crate::{time, App};
use askama::Template;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::Body;
use lambda_http::Response;

const MAX_FORM_BYTES: usize = 4 * 1024;

pub const PAGE: Route = Route {
    operation: "portal.page",
    access: Access::Public,
    handler: |app, call| {
        Box::pin(async move { Ok(answer(app, call, show(app, call).await).await) })
    },
};

pub const ACTION: Route = Route {
    operation: "portal.action",
    access: Access::Public,
    handler: |app, call| Box::pin(async move { Ok(answer(app, call, act(app, call).await).await) }),
};

/// The session cookie (see `cookie`): `__Host-linkgate_portal` over HTTPS; Lax so the first
/// navigation to the portal after the exchange carries it, while no other site's form post
/// does.
const SESSION: Jar = Jar::new("__Host-linkgate_portal", "linkgate_portal");

/// What a portal request ends in.
enum Outcome {
    Page(StatusCode, Box<PortalPage>),
    Redirect(String, Option<String>),
}

struct Row {
    id: ConnectionId,
    name: String,
    /// The platform's name for the connection, when it says more than the provider's.
    label: Option<String>,
    logo: Option<String>,
    status: Text,
    since: Text,
    reconnect: bool,
    reconnect_label: Text,
    /// The button's accessible name: its visible words and the connection's name.
    reconnect_name: Text,
    disconnect: bool,
}

struct List {
    action: String,
    csrf: String,
    rows: Vec<Row>,
    more: Option<String>,
}

struct Confirm {
    action: String,
    csrf: String,
    id: ConnectionId,
    name: String,
    cancel: String,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    heading: Text,
    message: Option<Text>,
    notice: Option<Text>,
    list: Option<List>,
    confirm: Option<Confirm>,
    back: Option<String>,
    css: &'static str,
    brand: Option<BrandView>,
    lang: Lang,
    /// Whose brand and language: set once the session is known.
    session: Option<Session>,
}

impl PortalPage {
    fn new(heading: Text, message: Option<Text>) -> PortalPage {
        PortalPage {
            heading,
            message,
            notice: None,
            list: None,
            confirm: None,
            back: None,
            css: CSS,
            brand: None,
            lang: Lang::En,
            session: None,
        }
    }

    fn tr(&self, text: &Text) -> String {
        text.render(self.lang)
    }

    fn word(&self, key: &'static str) -> &'static str {
        self.lang.text(key)
    }

    fn with_name(&self, key: &'static str, name: &str) -> String {
        self.lang.fill(key, &[("name", name)])
    }

    fn title(&self) -> String {
        self.lang
            .fill("page.title", &[("heading", &self.tr(&self.heading))])
    }
}

fn closed(why: Closed) -> Outcome {
    let (status, heading, message) = match why {
        Closed::Invalid => (
            StatusCode::NOT_FOUND,
            "portal.invalid.heading",
            "portal.invalid.message",
        ),
        Closed::Expired => (
            StatusCode::GONE,
            "portal.expired.heading",
            "portal.expired.message",
        ),
    };
    Outcome::Page(
        status,
        Box::new(PortalPage::new(t(heading), Some(t(message)))),
    )
}

fn simple(status: StatusCode, heading: &'static str, message: &'static str) -> Outcome {
    Outcome::Page(
        status,
        Box::new(PortalPage::new(t(heading), Some(t(message)))),
    )
}

fn portal_path(id: &PortalLinkId) -> String {
    format!("/portal/{id}")
}

/// The path's portal and the session the browser holds for it, or the page that says why
/// there is none.
async fn current_session(
    app: &App,
    call: &Call,
    base: &str,
) -> Result<Result<(PortalLinkId, Session, SessionKey), Outcome>, ApiError> {
    let Some(id) = call.path_param("portal_id").and_then(PortalLinkId::parse) else {
        return Ok(Err(closed(Closed::Invalid)));
    };
    let Some(key) = SESSION.read(call, base) else {
        return Ok(Err(closed(Closed::Invalid)));
    };
    Ok(match domain::session(app, &id, &key).await? {
        Ok(session) => Ok((id, session, key)),
        Err(why) => Err(closed(why)),
    })
}

async fn show(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let base = call.public_base_url(&app.config);
    let Some(id) = call.path_param("portal_id").and_then(PortalLinkId::parse) else {
        return Ok(closed(Closed::Invalid));
    };
    if let Some(token) = call.query_param("token") {
        if token.is_empty() || token.len() > 128 {
            return Ok(closed(Closed::Invalid));
        }
        return Ok(match domain::exchange(app, &id, &token).await? {
            Ok((_, key)) => Outcome::Redirect(
                portal_path(&id),
                Some(SESSION.set(&base, key.expose(), domain::SESSION_SECONDS)),
            ),
            // Opened again (a reload, the back button): the session it gave still works.
            Err(why) => match current_session(app, call, &base).await? {
                Ok(_) => Outcome::Redirect(portal_path(&id), None),
                Err(_) => closed(why),
            },
        });
    }
    let (id, session, key) = match current_session(app, call, &base).await? {
        Ok(s) => s,
        Err(outcome) => return Ok(outcome),
    };
    let after = call
        .query_param("after")
        .filter(|a| ConnectionId::parse(a).is_some());
    let (connections, next) = domain::connections(app, &session, after).await?;
    let integrations = crate::integration::active_of(app, &session.tenant_id).await?;
    let rows = connections.iter().map(|c| row(c, &integrations)).collect();
    let mut page = PortalPage::new(t("portal.heading"), Some(t("portal.message")));
    page.notice = call.query_param("notice").and_then(|n| notice(&n));
    page.list = Some(List {
        action: portal_path(&id),
        csrf: key.csrf(),
        rows,
        more: next.map(|n| format!("{}?after={n}", portal_path(&id))),
    });
    page.back = session.return_url.as_ref().map(|u| u.as_str().to_owned());
    page.session = Some(session);
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

/// Only notices we wrote: a link cannot make the page say anything else.
fn notice(raw: &str) -> Option<Text> {
    match raw {
        "disconnected" => Some(t("portal.notice.disconnected")),
        "unavailable" => Some(t("portal.notice.unavailable")),
        _ => None,
    }
}

/// The connection's integration (if still active) and its provider, as the page shows them.
fn provider_of<'a>(
    c: &Connection,
    integrations: &'a [crate::integration::Integration],
) -> (
    Option<&'a crate::integration::Integration>,
    Option<&'a crate::provider::Provider>,
) {
    let integration = c
        .integration_id
        .as_ref()
        .and_then(|id| integrations.iter().find(|i| i.id() == id));
    let provider = match integration {
        Some(i) => i.provider().ok(),
        None => c
            .provider
            .as_deref()
            .and_then(|p| crate::provider::catalog().ok()?.get(p)),
    };
    (integration, provider)
}

/// The integration's display name, else the provider's, else the connection's own.
fn shown_name(c: &Connection, integrations: &[crate::integration::Integration]) -> String {
    let (integration, provider) = provider_of(c, integrations);
    name_from(c, integration, provider)
}

fn name_from(
    c: &Connection,
    integration: Option<&crate::integration::Integration>,
    provider: Option<&crate::provider::Provider>,
) -> String {
    integration
        .and_then(|i| i.display_name().ok())
        .or_else(|| provider.map(|p| p.name.clone()))
        .unwrap_or_else(|| c.name.clone())
}

fn row(c: &Connection, integrations: &[crate::integration::Integration]) -> Row {
    let (integration, provider) = provider_of(c, integrations);
    let name = name_from(c, integration, provider);
    let (status, since) = match c.status {
        Status::Revoked => ("portal.status.revoked", c.revoked_at.clone()),
        Status::NeedsReauth => ("portal.status.needs_reauth", None),
        Status::Pending => ("portal.status.pending", None),
        Status::Active => ("portal.status.active", c.activated_at.clone()),
    };
    let status = if c.disabled && c.status != Status::Revoked {
        "portal.status.disabled"
    } else {
        status
    };
    let since = since
        .as_deref()
        .and_then(time::parse)
        .unwrap_or(c.updated_at);
    let actions = domain::actions(c);
    let pending = c.status == Status::Pending;
    Row {
        id: c.id.clone(),
        label: (c.name != name).then(|| c.name.clone()),
        name: name.clone(),
        logo: provider.map(logo_uri),
        status: t(status),
        since: t("portal.since").with("date", since.format("%Y-%m-%d").to_string()),
        reconnect: actions.reconnect,
        reconnect_label: t(if pending {
            "portal.finish"
        } else {
            "portal.reconnect"
        }),
        reconnect_name: t(if pending {
            "portal.finish.label"
        } else {
            "portal.reconnect.label"
        })
        .with("name", name),
        disconnect: actions.disconnect,
    }
}

async fn act(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let base = call.public_base_url(&app.config);
    let (id, session, key) = match current_session(app, call, &base).await? {
        Ok(s) => s,
        Err(outcome) => return Ok(outcome),
    };
    // Whatever the form's fate, the page is in the session's brand and language.
    Ok(
        match act_in(app, call, &base, id, session.clone(), key).await? {
            Outcome::Page(status, mut page) => {
                page.session.get_or_insert(session);
                Outcome::Page(status, page)
            }
            redirect => redirect,
        },
    )
}

async fn act_in(
    app: &App,
    call: &Call,
    base: &str,
    id: PortalLinkId,
    session: Session,
    key: SessionKey,
) -> Result<Outcome, ApiError> {
    let Some(form) = call.form_body(MAX_FORM_BYTES) else {
        return Ok(simple(
            StatusCode::BAD_REQUEST,
            "page.bad_form.heading",
            "page.bad_form.message",
        ));
    };
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !key.csrf_matches(csrf) {
        return Ok(simple(
            StatusCode::FORBIDDEN,
            "portal.forbidden.heading",
            "portal.forbidden.message",
        ));
    }
    let raw = form
        .get("connection_id")
        .map(String::as_str)
        .unwrap_or_default();
    let Some(c) = domain::connection_of(app, &session, raw).await? else {
        return Ok(simple(
            StatusCode::NOT_FOUND,
            "portal.unknown.heading",
            "portal.unknown.message",
        ));
    };
    let back = portal_path(&id);
    let actions = domain::actions(&c);
    match form.get("action").map(String::as_str) {
        Some("disconnect") if actions.disconnect => {
            let integrations = crate::integration::active_of(app, &session.tenant_id).await?;
            let name = shown_name(&c, &integrations);
            let mut page = PortalPage::new(
                t("portal.confirm.heading").with("name", name.clone()),
                Some(t("portal.confirm.message")),
            );
            page.confirm = Some(Confirm {
                action: back.clone(),
                csrf: key.csrf(),
                id: c.id.clone(),
                name,
                cancel: back,
            });
            page.session = Some(session);
            Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
        }
        Some("confirm_disconnect") if actions.disconnect => {
            domain::disconnect(app, c, base).await?;
            Ok(Outcome::Redirect(
                format!("{back}?notice=disconnected"),
                None,
            ))
        }
        Some("reconnect") if actions.reconnect => {
            let return_to = RedirectUrl::parse(&format!("{base}{back}"), app.config.stage).ok();
            match domain::reconnect(app, &session, c, return_to).await {
                Ok(link) => Ok(Outcome::Redirect(link.link.url(base, &link.token), None)),
                // revoked or disabled in the meantime
                Err(ApiError::Conflict { .. }) => Ok(Outcome::Redirect(
                    format!("{back}?notice=unavailable"),
                    None,
                )),
                Err(e) => Err(e),
            }
        }
        Some("disconnect" | "confirm_disconnect" | "reconnect") => Ok(Outcome::Redirect(
            format!("{back}?notice=unavailable"),
            None,
        )),
        _ => Ok(simple(
            StatusCode::BAD_REQUEST,
            "page.bad_form.heading",
            "page.bad_form.message",
        )),
    }
}

/// The response: the page in the tenant's brand and the session's language (else the
/// browser's), or a redirect; an internal error is a plain apology, logged.
async fn answer(app: &App, call: &Call, result: Result<Outcome, ApiError>) -> Response<Body> {
    let outcome = result.unwrap_or_else(|e| {
        tracing::error!(request_id = %call.request_id, error = %e, "portal page failed");
        simple(
            StatusCode::INTERNAL_SERVER_ERROR,
            "page.error.heading",
            "page.error.message",
        )
    });
    let local = app.config.stage == crate::config::Stage::Local;
    match outcome {
        Outcome::Redirect(location, cookie) => {
            let mut resp = html_response(StatusCode::SEE_OTHER, String::new(), None, local);
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&location) {
                h.insert(header::LOCATION, v);
            }
            if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
                h.insert(header::SET_COOKIE, v);
            }
            resp
        }
        Outcome::Page(status, mut page) => {
            page.lang = Lang::negotiate(
                page.session.as_ref().and_then(|s| s.lang),
                call.header("accept-language"),
            );
            if let Some(s) = &page.session {
                match crate::settings::of(app, &s.tenant_id).await {
                    Ok(settings) => page.brand = BrandView::from(&settings.branding),
                    Err(e) => tracing::warn!(error = %e, "no brand for this page"),
                }
            }
            let brand_css = page.brand.as_ref().and_then(|b| b.css.clone());
            match page.render() {
                Ok(html) => html_response(status, html, brand_css.as_deref(), local),
                Err(e) => {
                    tracing::error!(error = %e, "portal page failed to render");
                    html_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "<!doctype html><title>Error</title><p>Something went wrong.</p>".into(),
                        None,
                        local,
                    )
                }
            }
        }
    }
}
