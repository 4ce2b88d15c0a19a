//! The operator console's pages: server-rendered, no script, nothing from another origin,
//! under the same strict Content-Security-Policy as the connect pages (its stylesheet is
//! allowed by its hash). Five routes serve it, so two functions do (pages, forms):
//!
//! - `GET /console` and `GET /console/{page}` / `GET /console/{page}/{id}`: sign-in,
//!   consumers (and one consumer), a connection's timeline, links, webhook endpoints (and
//!   one endpoint's deliveries), settings and integrations;
//! - `POST /console/{page}` (sign-in, sign-out) and `POST /console/{page}/{id}` (a webhook
//!   endpoint's retry and recover).
//!
//! Who is signed in and for how long is `crate::console`; what the pages show is read
//! through each resource's own operations, so the console sees exactly what the API does.

use super::cookie::Jar;
use super::page::html_response;
use crate::console::{self as domain, Refused, Session, SessionKey};
use crate::error::ApiError;
use crate::http::{Access, Call, Route};
use crate::id::{ConnectionId, ConsoleLinkId, ConsumerId, DeliveryId, EventId, WebhookId};
use crate::{time, App};
use askama::Template;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

const MAX_FORM_BYTES: usize = 4 * 1024;
/// Rows per table.
pub const PAGE_SIZE: usize = 25;
/// A connection's timeline: events per page (each with its deliveries: a page reads at most
/// this many times the tenant's endpoints, in batches).
pub const TIMELINE_SIZE: usize = 25;

pub(crate) const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;background:#f5f6f8}.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:2}.top{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.5rem 1.5rem;background:#0b1f4d;color:#fff}.top a{color:#fff;text-decoration:none;display:inline-block;padding:.6rem .25rem;min-height:44px}.top a[aria-current=page]{border-bottom:3px solid #8fb3ff}.top a:focus,.top button:focus{outline:3px solid #8fb3ff;outline-offset:2px}.top ul{list-style:none;display:flex;flex-wrap:wrap;gap:0 1rem;margin:0;padding:0}.top form{margin:0 0 0 auto}.who{font-size:.85rem;color:#d6e0ff}.plain{background:none;border:1px solid #8fb3ff;color:#fff;min-height:44px;padding:.4rem .9rem;border-radius:8px;font:inherit;cursor:pointer}main{max-width:72rem;margin:1.5rem auto;padding:1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.5rem;margin:.25rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}caption{text-align:left;font-weight:600;padding:.25rem 0}th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e3e6ea;vertical-align:top}th{font-size:.85rem;color:#4a4f57}code{font-size:.85rem;word-break:break-all}a{color:#1d4fb8}a:focus{outline:3px solid #0b1f4d;outline-offset:2px}.muted{color:#4a4f57}.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}.facts dt{color:#4a4f57}.facts dd{margin:0}.status{display:inline-block;padding:0 .5rem;border-radius:999px;background:#eceff3;font-size:.85rem}.s-active,.s-granted,.s-succeeded,.s-enabled{background:#dff3e4;color:#0f5323}.s-failed,.s-revoked,.s-needs_reauth,.s-expired,.s-disabled{background:#fde2e1;color:#8a1412}.filters{display:flex;flex-wrap:wrap;gap:.5rem}.filters a{padding:.4rem .7rem;border:1px solid #c9ced6;border-radius:999px;text-decoration:none;min-height:44px;display:inline-flex;align-items:center}.filters a[aria-current=true]{background:#0b1f4d;color:#fff}.form{max-width:28rem}.field{margin:0 0 1rem}label{display:block;font-weight:600;margin-bottom:.25rem}input,select{width:100%;padding:.6rem .7rem;font:inherit;border:1px solid #767c85;border-radius:8px}input:focus,select:focus{outline:3px solid #2457c5;outline-offset:1px}.help{display:block;color:#4a4f57;font-size:.85rem}button{padding:.6rem 1rem;min-height:44px;font:inherit;font-weight:600;color:#fff;background:#2457c5;border:0;border-radius:8px;cursor:pointer}button:focus{outline:3px solid #0b1f4d;outline-offset:2px}.inline{display:inline;margin:0}button.small{padding:.35rem .8rem}.notice{padding:.75rem 1rem;border-radius:8px;background:#e8f0fe;color:#0b1f4d}.error{padding:.75rem 1rem;border-radius:8px;background:#fde2e1;color:#8a1412;font-weight:600}.preview{position:relative;display:inline-block}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem}.card{margin:0;padding:.75rem;border:1px solid #e3e6ea;border-radius:10px}.card figcaption{display:flex;justify-content:space-between;gap:.5rem;margin-bottom:.25rem}.chart{display:block;height:auto}.preview-logo{position:absolute;left:16px;top:14px;max-width:48px;height:40px;object-fit:contain}";

/// The session cookie (see `cookie`): `__Host-linkgate_console` over HTTPS.
const SESSION: Jar = Jar::new("__Host-linkgate_console", "linkgate_console");
/// The sign-in form's own cookie: the source of its CSRF token before there is a session.
const SIGN_IN_FORM: Jar = Jar::new("__Host-linkgate_console_signin", "linkgate_console_signin");

pub const HOME: Route = Route {
    operation: "console.home",
    access: Access::Public,
    handler: |app, call| Box::pin(async move { Ok(answer(app, call, home(app, call).await)) }),
};

pub const PAGE: Route = Route {
    operation: "console.page",
    access: Access::Public,
    handler: |app, call| Box::pin(async move { Ok(answer(app, call, show(app, call).await)) }),
};

pub const ITEM: Route = Route {
    operation: "console.item",
    access: Access::Public,
    handler: |app, call| Box::pin(async move { Ok(answer(app, call, show_item(app, call).await)) }),
};

pub const FORM: Route = Route {
    operation: "console.form",
    access: Access::Public,
    handler: |app, call| Box::pin(async move { Ok(answer(app, call, submit(app, call).await)) }),
};

pub const ITEM_FORM: Route = Route {
    operation: "console.item_form",
    access: Access::Public,
    handler: |app, call| {
        Box::pin(async move { Ok(answer(app, call, submit_item(app, call).await)) })
    },
};

// ---------------------------------------------------------------------------------------
// What a page is made of

enum Outcome {
    Page(StatusCode, Box<ConsolePage>),
    /// A page that sets cookies (the sign-in form's).
    PageWithCookies(StatusCode, Box<ConsolePage>, Vec<String>),
    /// Where to, and the cookies to set on the way.
    Redirect(String, Vec<String>),
}

struct NavItem {
    href: &'static str,
    label: &'static str,
    current: bool,
}

struct Nav {
    items: Vec<NavItem>,
    who: String,
    csrf: String,
}

struct FilterLink {
    href: String,
    label: String,
    current: bool,
}

struct Button {
    action: String,
    csrf: String,
    hidden: Vec<(String, String)>,
    label: &'static str,
    /// The accessible name: the visible word and what it acts on.
    name: String,
}

enum Cell {
    Text(String),
    Muted(String),
    Code(String),
    Link(String, String),
    Status(String),
    Button(Box<Button>),
}

struct Table {
    caption: String,
    head: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    empty: &'static str,
    more: Option<String>,
}

struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    required: bool,
    help: Option<&'static str>,
    options: Vec<(String, String)>,
}

struct Form {
    action: String,
    csrf: Option<String>,
    hidden: Vec<(String, String)>,
    fields: Vec<Field>,
    submit: &'static str,
}

struct Preview {
    name: String,
    color: String,
    logo: Option<String>,
}

/// A chart and the figure it adds up to.
struct ChartView {
    title: String,
    figure: String,
    svg: String,
}

enum Content {
    Text(String),
    Charts(Vec<ChartView>),
    Links(Vec<FilterLink>),
    Facts(Vec<(&'static str, Cell)>),
    Table(Table),
    Form(Form),
    Preview(Preview),
}

struct Section {
    heading: Option<String>,
    body: Content,
}

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    title: String,
    nav: Option<Nav>,
    notice: Option<String>,
    error: Option<String>,
    sections: Vec<Section>,
    css: &'static str,
}

impl ConsolePage {
    fn new(title: impl Into<String>) -> ConsolePage {
        ConsolePage {
            title: title.into(),
            nav: None,
            notice: None,
            error: None,
            sections: Vec::new(),
            css: CSS,
        }
    }

    fn section(mut self, heading: Option<&str>, body: Content) -> ConsolePage {
        self.sections.push(Section {
            heading: heading.map(str::to_owned),
            body,
        });
        self
    }
}

fn message(status: StatusCode, title: &str, text: &str) -> Outcome {
    Outcome::Page(
        status,
        Box::new(ConsolePage::new(title).section(None, Content::Text(text.into()))),
    )
}

fn not_found() -> Outcome {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address in your console.",
    )
}

// ---------------------------------------------------------------------------------------
// Sessions and cookies

/// The signed-in session, or where the browser goes instead (the sign-in page, saying why
/// when it held a session that is over).
async fn signed_in(
    app: &App,
    call: &Call,
    base: &str,
) -> Result<Result<(Session, SessionKey), Outcome>, ApiError> {
    let Some(key) = SESSION.read(call, base) else {
        return Ok(Err(Outcome::Redirect("/console/sign-in".into(), vec![])));
    };
    Ok(match domain::session(app, &key).await? {
        Some(session) => Ok((session, key)),
        None => Err(Outcome::Redirect(
            "/console/sign-in?ended=1".into(),
            vec![SESSION.clear(base)],
        )),
    })
}

const NAV: &[(&str, &str, &str)] = &[
    ("/console", "Overview", "overview"),
    ("/console/consumers", "Consumers", "consumers"),
    ("/console/links", "Links", "links"),
    ("/console/webhooks", "Webhooks", "webhooks"),
    ("/console/settings", "Settings", "settings"),
];

fn signed_in_page(
    title: impl Into<String>,
    current: &str,
    s: &Session,
    key: &SessionKey,
) -> ConsolePage {
    let mut page = ConsolePage::new(title);
    page.nav = Some(Nav {
        items: NAV
            .iter()
            .map(|(href, label, id)| NavItem {
                href,
                label,
                current: *id == current,
            })
            .collect(),
        who: format!(
            "{} · {}",
            s.tenant_id,
            if s.may_act() { "admin" } else { "member" }
        ),
        csrf: key.csrf(),
    });
    page
}

// ---------------------------------------------------------------------------------------
// Routes

async fn home(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let base = call.public_base_url(&app.config);
    match signed_in(app, call, &base).await? {
        Ok((session, key)) => overview(app, call, &session, &key).await,
        Err(elsewhere) => Ok(elsewhere),
    }
}

/// The pages `GET /console/{page}` serves besides `sign-in`.
const PAGES: &[&str] = &["consumers", "links", "webhooks", "settings"];

async fn show(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let base = call.public_base_url(&app.config);
    let page = call.path_param("page").unwrap_or_default();
    if page == "sign-in" {
        return sign_in_page(app, call, &base).await;
    }
    // An address that names nothing is not found, signed in or not.
    if !PAGES.contains(&page) {
        return Ok(not_found());
    }
    let (session, key) = match signed_in(app, call, &base).await? {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let after = call.query_param("after");
    match page {
        "consumers" => consumers(app, &session, &key, after).await,
        "links" => links(app, call, &session, &key, after).await,
        "webhooks" => webhooks(app, &session, &key, after).await,
        _ => settings(app, &session, &key).await,
    }
}

/// What `/console/{page}/{id}` names.
enum Item {
    Consumer(ConsumerId),
    Connection(ConnectionId),
    Webhook(WebhookId),
}

fn item(call: &Call) -> Option<Item> {
    let id = call.path_param("id").unwrap_or_default();
    match call.path_param("page").unwrap_or_default() {
        "consumers" => ConsumerId::parse(id).map(Item::Consumer),
        "connections" => ConnectionId::parse(id).map(Item::Connection),
        "webhooks" => WebhookId::parse(id).map(Item::Webhook),
        _ => None,
    }
}

async fn show_item(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let Some(item) = item(call) else {
        return Ok(not_found());
    };
    let base = call.public_base_url(&app.config);
    let (session, key) = match signed_in(app, call, &base).await? {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let after = call.query_param("after");
    let shown = match item {
        Item::Consumer(id) => consumer(app, &session, &key, id, after).await,
        Item::Connection(id) => connection(app, &session, &key, id, after).await,
        Item::Webhook(id) => {
            let notice = call.query_param("notice");
            webhook(app, &session, &key, id, after, notice.as_deref()).await
        }
    };
    match shown {
        // another tenant's is as absent as a missing one
        Err(ApiError::NotFound(_)) => Ok(not_found()),
        other => other,
    }
}

async fn submit(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let base = call.public_base_url(&app.config);
    match call.path_param("page").unwrap_or_default() {
        "sign-in" => sign_in(app, call, &base).await,
        "sign-out" => sign_out(app, call, &base).await,
        _ => Ok(not_found()),
    }
}

const ACTIONS: &[&str] = &["retry", "recover"];

async fn submit_item(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    // Only a webhook endpoint takes forms; what the form is can be judged before whose it is.
    let Some(Item::Webhook(id)) = item(call) else {
        return Ok(not_found());
    };
    let form = match form_of(call) {
        Ok(form) => form,
        Err(refusal) => return Ok(refusal),
    };
    if !ACTIONS.contains(&form.get("action").map(String::as_str).unwrap_or_default()) {
        return Ok(not_a_form());
    }
    let base = call.public_base_url(&app.config);
    let (session, key) = match signed_in(app, call, &base).await? {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere),
    };
    if let Some(refusal) = csrf_refused(&form, &key) {
        return Ok(refusal);
    }
    if !session.may_act() {
        return Ok(message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Your key may look, not act: sign in with an admin key to do this.",
        ));
    }
    match webhook_action(app, &session, &key, id, &form).await {
        Err(ApiError::NotFound(_)) => Ok(not_found()),
        other => other,
    }
}

type FormFields = std::collections::HashMap<String, String>;

fn not_a_form() -> Outcome {
    message(
        StatusCode::BAD_REQUEST,
        "Not a form",
        "This address takes the console's own forms only.",
    )
}

fn form_expired() -> Outcome {
    message(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form did not come from your current session. Go back, reload the page and try again.",
    )
}

/// The form, if it is one and carries a CSRF token at all (whose, the session decides).
fn form_of(call: &Call) -> Result<FormFields, Outcome> {
    let Some(form) = call.form_body(MAX_FORM_BYTES) else {
        return Err(not_a_form());
    };
    if form.get("csrf").is_none_or(String::is_empty) {
        return Err(form_expired());
    }
    Ok(form)
}

fn csrf_refused(form: &FormFields, key: &SessionKey) -> Option<Outcome> {
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    (!key.csrf_matches(csrf)).then(form_expired)
}

// ---------------------------------------------------------------------------------------
// Sign-in and sign-out

fn sign_in_form(csrf: String) -> Content {
    Content::Form(Form {
        action: "/console/sign-in".into(),
        csrf: Some(csrf),
        hidden: vec![],
        fields: vec![Field {
            name: "api_key",
            label: "API key",
            kind: "password",
            autocomplete: "off",
            required: true,
            help: Some("Any key of your tenant: a member key sees, an admin key also acts. `linkgate-admin console-link` makes a one-time sign-in link instead."),
            options: vec![],
        }],
        submit: "Sign in",
    })
}

/// The sign-in page, with its form cookie (kept while it is valid, so two tabs agree).
fn sign_in_outcome(
    call: &Call,
    base: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Outcome, ApiError> {
    let (form_key, cookies) = match SIGN_IN_FORM.read(call, base) {
        Some(k) => (k, vec![]),
        None => {
            let k = SessionKey::generate()
                .map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
            let c = SIGN_IN_FORM.set(base, k.expose(), domain::SIGN_IN_FORM_SECONDS);
            (k, vec![c])
        }
    };
    let mut page = ConsolePage::new("Sign in").section(None, sign_in_form(form_key.csrf()));
    page.notice = notice.map(str::to_owned);
    page.error = error.map(str::to_owned);
    Ok(Outcome::PageWithCookies(status, Box::new(page), cookies))
}

async fn sign_in_page(app: &App, call: &Call, base: &str) -> Result<Outcome, ApiError> {
    if let (Some(link), Some(token)) = (call.query_param("link"), call.query_param("token")) {
        let refused = |why| sign_in_refused(call, base, why);
        let Some(id) =
            ConsoleLinkId::parse(&link).filter(|_| !token.is_empty() && token.len() <= 128)
        else {
            return refused(Refused::InvalidLink);
        };
        return match domain::sign_in_with_link(app, &id, &token).await? {
            Ok((_, key)) => Ok(signed_in_redirect(base, &key)),
            Err(why) => refused(why),
        };
    }
    if let Some(key) = SESSION.read(call, base) {
        if domain::session(app, &key).await?.is_some() {
            return Ok(Outcome::Redirect("/console".into(), vec![]));
        }
    }
    let notice = if call.query_param("ended").is_some() {
        Some("Your session ended. Sign in again.")
    } else if call.query_param("signed_out").is_some() {
        Some("You are signed out.")
    } else {
        None
    };
    sign_in_outcome(call, base, StatusCode::OK, notice, None)
}

fn sign_in_refused(call: &Call, base: &str, why: Refused) -> Result<Outcome, ApiError> {
    let (status, text) = match why {
        Refused::UnknownKey => (
            StatusCode::UNAUTHORIZED,
            "That key does not open a console: it is unknown or was revoked.",
        ),
        Refused::InvalidLink => (
            StatusCode::NOT_FOUND,
            "That sign-in link is not valid or was already used. Ask for a new one.",
        ),
        Refused::ExpiredLink => (
            StatusCode::GONE,
            "That sign-in link has expired. Ask for a new one.",
        ),
    };
    sign_in_outcome(call, base, status, None, Some(text))
}

fn signed_in_redirect(base: &str, key: &SessionKey) -> Outcome {
    Outcome::Redirect(
        "/console".into(),
        vec![
            SESSION.set(base, key.expose(), domain::MAX_SECONDS),
            SIGN_IN_FORM.clear(base),
        ],
    )
}

async fn sign_in(app: &App, call: &Call, base: &str) -> Result<Outcome, ApiError> {
    let Some(form) = call.form_body(MAX_FORM_BYTES) else {
        return sign_in_outcome(
            call,
            base,
            StatusCode::BAD_REQUEST,
            None,
            Some("That was not the sign-in form. Try again."),
        );
    };
    let form_key = SIGN_IN_FORM.read(call, base);
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !form_key.is_some_and(|k| k.csrf_matches(csrf)) {
        return sign_in_outcome(
            call,
            base,
            StatusCode::FORBIDDEN,
            None,
            Some("This sign-in form has expired. Try again."),
        );
    }
    let raw = form.get("api_key").map(String::as_str).unwrap_or_default();
    match domain::sign_in_with_key(app, raw).await? {
        Ok((_, key)) => Ok(signed_in_redirect(base, &key)),
        Err(why) => sign_in_refused(call, base, why),
    }
}

async fn sign_out(app: &App, call: &Call, base: &str) -> Result<Outcome, ApiError> {
    let form = match form_of(call) {
        Ok(form) => form,
        Err(refusal) => return Ok(refusal),
    };
    let Some(key) = SESSION.read(call, base) else {
        return Ok(Outcome::Redirect("/console/sign-in".into(), vec![]));
    };
    if let Some(refusal) = csrf_refused(&form, &key) {
        return Ok(refusal);
    }
    domain::sign_out(app, &key).await?;
    Ok(Outcome::Redirect(
        "/console/sign-in?signed_out=1".into(),
        vec![SESSION.clear(base)],
    ))
}

// ---------------------------------------------------------------------------------------
// Pages

fn text(v: &Value, name: &str) -> String {
    match &v[name] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A list of strings, comma-separated; `None` when it has none.
fn joined(list: &Value) -> Option<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|l| !l.is_empty())
}

fn opt(v: &Value, name: &str) -> Cell {
    match text(v, name) {
        t if t.is_empty() => Cell::Muted("—".into()),
        t => Cell::Text(t),
    }
}

fn when(v: &Value, name: &str) -> Cell {
    match v[name].as_str().and_then(time::parse) {
        Some(t) => Cell::Text(t.format("%Y-%m-%d %H:%M UTC").to_string()),
        None => Cell::Muted("—".into()),
    }
}

fn more(path: &str, next: Option<String>, extra: &str) -> Option<String> {
    next.map(|n| format!("{path}?{extra}after={}", super::page::urlencode(&n)))
}

/// `after` if it is a cursor the list could have issued (`fits`), else the page that says so.
fn cursor(after: Option<String>, fits: impl Fn(&str) -> bool) -> Result<Option<String>, Outcome> {
    match after {
        Some(a) if !fits(&a) => Err(message(
            StatusCode::BAD_REQUEST,
            "Not a page",
            "This page address is not valid. Start again from the list.",
        )),
        other => Ok(other),
    }
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// The overview: connections by status, the link funnel and webhook health per day for the
/// last 7 or 30 days, from the tenant's counters (a bounded read whatever its size: see
/// `crate::stats`).
async fn overview(
    app: &App,
    call: &Call,
    s: &Session,
    key: &SessionKey,
) -> Result<Outcome, ApiError> {
    use super::chart::{self, Bar};
    use crate::stats::{Daily, Day, Total};
    let days: usize = match call.query_param("days").as_deref() {
        Some("30") => 30,
        _ => 7,
    };
    let stats = crate::stats::overview(app, &s.tenant_id, time::now().date_naive()).await?;
    let shown = stats.last(days);
    let label = |d: &Day| {
        d.date
            .map(|d| d.format("%m-%d").to_string())
            .unwrap_or_default()
    };
    let series = |value: &dyn Fn(&Day) -> f64| -> Vec<Bar> {
        shown
            .iter()
            .map(|d| Bar {
                label: label(d),
                value: value(d),
            })
            .collect()
    };
    let sum = |m: Daily| shown.iter().map(|d| d.get(m)).sum::<i64>();
    let period = format!("the last {days} days");

    let statuses = [
        (Total::Active, "active"),
        (Total::NeedsReauth, "needs re-auth"),
        (Total::Revoked, "revoked"),
    ];
    let connections = chart::bars(
        &statuses
            .iter()
            .map(|(t, name)| Bar {
                label: (*name).into(),
                value: stats.total(*t) as f64,
            })
            .collect::<Vec<_>>(),
        "",
        &statuses
            .iter()
            .map(|(t, name)| format!("{}: {}", name, stats.total(*t)))
            .collect::<Vec<_>>()
            .join(", "),
    );

    let funnel = [
        (Daily::LinksCreated, "Links created"),
        (Daily::LinksOpened, "Links opened"),
        (Daily::LinksGranted, "Links granted"),
        (Daily::LinksExpired, "Links expired"),
        (Daily::LinksFailed, "Links failed"),
    ];
    let link_charts = funnel
        .iter()
        .map(|(m, title)| {
            let total = sum(*m);
            ChartView {
                title: (*title).into(),
                figure: total.to_string(),
                svg: chart::bars(
                    &series(&|d| d.get(*m) as f64),
                    "",
                    &format!("{title}: {total} in {period}, per day"),
                ),
            }
        })
        .collect::<Vec<_>>();

    let attempts = |d: &Day| d.get(Daily::WebhookSucceeded) + d.get(Daily::WebhookFailed);
    let all_attempts: i64 = shown.iter().map(attempts).sum();
    let rate = percent(sum(Daily::WebhookSucceeded), all_attempts);
    let mean = (all_attempts > 0).then(|| sum(Daily::WebhookMillis) as f64 / all_attempts as f64);
    let shown_or_dash = |v: Option<f64>, unit: &str| {
        v.map(|v| format!("{}{unit}", chart::number(v)))
            .unwrap_or_else(|| "—".into())
    };
    let webhook_charts = vec![
        ChartView {
            title: "Webhook attempts succeeded".into(),
            figure: shown_or_dash(rate, " %"),
            svg: chart::bars(
                &series(&|d| percent(d.get(Daily::WebhookSucceeded), attempts(d)).unwrap_or(0.0)),
                " %",
                &format!(
                    "Webhook success rate per day, {period}: {} of {all_attempts} attempts overall",
                    shown_or_dash(rate, " %")
                ),
            ),
        },
        ChartView {
            title: "Webhook latency, mean".into(),
            figure: shown_or_dash(mean, " ms"),
            svg: chart::bars(
                &series(&|d| {
                    let a = attempts(d);
                    if a > 0 {
                        d.get(Daily::WebhookMillis) as f64 / a as f64
                    } else {
                        0.0
                    }
                }),
                " ms",
                &format!(
                    "Webhook mean latency per day, {period}: {} overall",
                    shown_or_dash(mean, " ms")
                ),
            ),
        },
    ];

    let rows = shown
        .iter()
        .rev()
        .map(|d| {
            let a = attempts(d);
            vec![
                Cell::Text(label(d)),
                Cell::Text(d.get(Daily::LinksCreated).to_string()),
                Cell::Text(d.get(Daily::LinksOpened).to_string()),
                Cell::Text(d.get(Daily::LinksGranted).to_string()),
                Cell::Text(d.get(Daily::LinksExpired).to_string()),
                Cell::Text(d.get(Daily::LinksFailed).to_string()),
                Cell::Text(a.to_string()),
                Cell::Text(shown_or_dash(
                    percent(d.get(Daily::WebhookSucceeded), a),
                    " %",
                )),
            ]
        })
        .collect();
    let filters = [7, 30]
        .iter()
        .map(|n| FilterLink {
            href: format!("/console?days={n}"),
            label: format!("Last {n} days"),
            current: *n == days,
        })
        .collect();
    let page = signed_in_page("Overview", "overview", s, key)
        .section(None, Content::Links(filters))
        .section(
            Some("Connections"),
            Content::Facts(vec![
                ("Active", Cell::Text(stats.total(Total::Active).to_string())),
                (
                    "Needing re-authorization",
                    Cell::Text(stats.total(Total::NeedsReauth).to_string()),
                ),
                ("Revoked", Cell::Text(stats.total(Total::Revoked).to_string())),
                (
                    "Links granted of created",
                    Cell::Text(shown_or_dash(
                        percent(sum(Daily::LinksGranted), sum(Daily::LinksCreated)),
                        " %",
                    )),
                ),
            ]),
        )
        .section(
            None,
            Content::Charts(vec![ChartView {
                title: "Connections by status".into(),
                figure: String::new(),
                svg: connections,
            }]),
        )
        .section(Some("Links, per day"), Content::Charts(link_charts))
        .section(Some("Webhooks, per day"), Content::Charts(webhook_charts))
        .section(
            Some("The numbers"),
            Content::Table(Table {
                caption: format!("Per day, {period}, newest first"),
                head: vec![
                    "Day", "Created", "Opened", "Granted", "Expired", "Failed",
                    "Webhook attempts", "Succeeded",
                ],
                rows,
                empty: "Nothing yet.",
                more: None,
            }),
        )
        .section(
            None,
            Content::Text("Counted as things happen, since the console's counters were deployed: each once at most, a few seconds behind.".into()),
        );
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

async fn consumers(
    app: &App,
    s: &Session,
    key: &SessionKey,
    after: Option<String>,
) -> Result<Outcome, ApiError> {
    let after = match cursor(after, crate::consumer::repo::is_consumer_sk) {
        Ok(after) => after,
        Err(refusal) => return Ok(refusal),
    };
    let (list, next) =
        crate::consumer::page(app, &s.tenant_id, PAGE_SIZE, after.as_deref()).await?;
    let rows = list
        .iter()
        .map(|c| {
            let v = c.to_json();
            vec![
                Cell::Link(format!("/console/consumers/{}", c.id), c.name.clone()),
                opt(&v, "internal_reference"),
                opt(&v, "email"),
                when(&v, "created_at"),
            ]
        })
        .collect();
    let page = signed_in_page("Consumers", "consumers", s, key).section(
        None,
        Content::Table(Table {
            caption: "Consumers, newest first".into(),
            head: vec!["Name", "Your reference", "Email", "Created"],
            rows,
            empty: "No consumers yet.",
            more: more("/console/consumers", next, ""),
        }),
    );
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

async fn consumer(
    app: &App,
    s: &Session,
    key: &SessionKey,
    id: ConsumerId,
    after: Option<String>,
) -> Result<Outcome, ApiError> {
    let c = crate::consumer::load(app, &s.tenant_id, &id).await?;
    let v = c.to_json();
    let after = match cursor(after, |a| ConnectionId::parse(a).is_some()) {
        Ok(after) => after,
        Err(refusal) => return Ok(refusal),
    };
    let (connections, next) =
        crate::connection::page_of_consumer(app, &s.tenant_id, &id, PAGE_SIZE, after).await?;
    let mut rows = Vec::with_capacity(connections.len());
    for c in &connections {
        let v = c.to_json()?;
        rows.push(vec![
            Cell::Link(format!("/console/connections/{}", c.id), c.name.clone()),
            opt(&v, "provider"),
            Cell::Status(text(&v, "status")),
            when(&v, "created_at"),
            when(&v, "activated_at"),
        ]);
    }
    let page = signed_in_page(format!("Consumer {}", c.name), "consumers", s, key)
        .section(
            None,
            Content::Facts(vec![
                ("Id", Cell::Code(c.id.to_string())),
                ("Your reference", opt(&v, "internal_reference")),
                ("Email", opt(&v, "email")),
                ("Locale", opt(&v, "locale")),
                ("Created", when(&v, "created_at")),
            ]),
        )
        .section(
            Some("Connections"),
            Content::Table(Table {
                caption: format!("Connections of {}", c.name),
                head: vec!["Name", "Provider", "Status", "Created", "Connected"],
                rows,
                empty: "No connections yet.",
                more: more(&format!("/console/consumers/{id}"), next, ""),
            }),
        );
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

/// What one event says, in a line: never a credential value (events carry none), field
/// names where the provider refused some.
fn event_summary(e: &Value) -> String {
    let d = &e["data"];
    match e["type"].as_str().unwrap_or_default() {
        "link.failed" => format!(
            "{} refused submissions; fields: {}",
            text(d, "failed_attempts"),
            joined(&d["last_error_fields"]).unwrap_or_else(|| "none named".into())
        ),
        "link.opened" | "link.expired" => format!("link {}", text(d, "link_id")),
        "link.reminder_sent" => format!("link {} ({})", text(d, "link_id"), text(d, "trigger")),
        "connection.updated" => match text(d, "previous_status") {
            p if p.is_empty() => "changed".into(),
            p => format!("{p} → {}", text(&d["connection"], "status")),
        },
        "connection.needs_reauth" => match text(&d["connection"], "reauth_reason") {
            r if r.is_empty() => "the provider refused the grant".into(),
            r => r,
        },
        _ => String::new(),
    }
}

async fn connection(
    app: &App,
    s: &Session,
    key: &SessionKey,
    id: ConnectionId,
    before: Option<String>,
) -> Result<Outcome, ApiError> {
    let c = crate::connection::load(app, &s.tenant_id, &id).await?;
    let v = c.to_json()?;
    let before = match cursor(before, |b| EventId::parse(b).is_some()) {
        Ok(before) => before.and_then(|b| EventId::parse(&b)),
        Err(refusal) => return Ok(refusal),
    };
    let filter = crate::event::Filter {
        connection: Some(id.clone()),
        ..Default::default()
    };
    let (events, next) =
        crate::event::page(app, &s.tenant_id, filter, TIMELINE_SIZE, before).await?;
    let ids: Vec<EventId> = events
        .iter()
        .filter_map(|e| e["id"].as_str().and_then(EventId::parse))
        .collect();
    let deliveries = crate::webhook::delivery::of_events(app, &s.tenant_id, &ids).await?;
    let delivered = |event: &str| -> Cell {
        let mut by_status: std::collections::BTreeMap<String, usize> = Default::default();
        for d in &deliveries {
            let v = d.to_json();
            if v["event_id"] == event {
                *by_status.entry(text(&v, "status")).or_default() += 1;
            }
        }
        if by_status.is_empty() {
            return Cell::Muted("—".into());
        }
        Cell::Text(
            by_status
                .iter()
                .map(|(status, n)| format!("{n} {status}"))
                .collect::<Vec<_>>()
                .join(" · "),
        )
    };
    let rows = events
        .iter()
        .map(|e| {
            vec![
                when(e, "occurred_at"),
                Cell::Status(text(e, "type")),
                Cell::Text(event_summary(e)),
                delivered(e["id"].as_str().unwrap_or_default()),
                Cell::Code(text(e, "id")),
            ]
        })
        .collect();
    let consumer = match &c.consumer_id {
        Some(owner) => Cell::Link(format!("/console/consumers/{owner}"), owner.to_string()),
        None => Cell::Muted("—".into()),
    };
    let link_failures = match &v["last_check_result"] {
        Value::Null => Cell::Muted("never checked".into()),
        r => Cell::Text(format!(
            "{} at {}",
            text(r, "outcome"),
            text(&v, "last_checked_at")
        )),
    };
    let open_link = match &c.open_link_id {
        Some(link) => crate::link::find_of(app, &s.tenant_id, link).await?,
        None => None,
    };
    let mut page = signed_in_page(format!("Connection {}", c.name), "consumers", s, key).section(
        None,
        Content::Facts(vec![
            ("Id", Cell::Code(c.id.to_string())),
            ("Consumer", consumer),
            ("Provider", opt(&v, "provider")),
            ("Status", Cell::Status(text(&v, "status"))),
            (
                "Paused by you",
                Cell::Text(if c.disabled { "yes" } else { "no" }.into()),
            ),
            ("Created", when(&v, "created_at")),
            ("Connected", when(&v, "activated_at")),
            ("Token expires", when(&v, "token_expires_at")),
            ("Re-authorization", opt(&v, "reauth_reason")),
            ("Last check", link_failures),
            ("Revoked", when(&v, "revoked_at")),
        ]),
    );
    if let Some(link) = open_link {
        let v = link.to_json(time::now());
        let fields = joined(&v["last_error"]["fields"]);
        page = page.section(
            Some("Its link"),
            Content::Facts(vec![
                ("Link", Cell::Code(link.id.to_string())),
                ("Status", Cell::Status(text(&v, "status"))),
                ("Created", when(&v, "created_at")),
                ("First opened", when(&v, "opened_at")),
                (
                    "Opened",
                    Cell::Text(format!("{} times", text(&v, "open_count"))),
                ),
                (
                    "Refused submissions",
                    Cell::Text(match fields {
                        Some(f) => format!("{} (last: {f})", text(&v, "failed_attempts")),
                        None => text(&v, "failed_attempts"),
                    }),
                ),
                ("Reminders sent", Cell::Text(text(&v, "reminders_sent"))),
                ("Expires", when(&v, "expires_at")),
            ]),
        );
    }
    page = page.section(
        Some("Timeline"),
        Content::Table(Table {
            caption: "What happened to this connection, newest first".into(),
            head: vec!["When", "Event", "Details", "Event id"],
            rows,
            empty: "No events kept for this connection.",
            more: next.map(|n| format!("/console/connections/{id}?after={n}")),
        }),
    );
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

const LINK_STATUSES: &[&str] = &["waiting", "waiting_oauth", "granted", "expired", "revoked"];

async fn links(
    app: &App,
    call: &Call,
    s: &Session,
    key: &SessionKey,
    after: Option<String>,
) -> Result<Outcome, ApiError> {
    let wanted_raw = call
        .query_param("status")
        .filter(|w| LINK_STATUSES.contains(&w.as_str()));
    let wanted = wanted_raw.as_deref().and_then(crate::link::Status::parse);
    let after = match cursor(after, |a| crate::id::LinkId::parse(a).is_some()) {
        Ok(after) => after,
        Err(refusal) => return Ok(refusal),
    };
    let (list, next) = crate::link::page(app, &s.tenant_id, wanted, PAGE_SIZE, after).await?;
    let now = time::now();
    let rows = list
        .iter()
        .map(|l| {
            let v = l.to_json(now);
            let c = &l.connection_id;
            let connection = Cell::Link(format!("/console/connections/{c}"), c.to_string());
            vec![
                Cell::Code(l.id.to_string()),
                connection,
                Cell::Status(text(&v, "status")),
                when(&v, "created_at"),
                when(&v, "opened_at"),
                Cell::Text(text(&v, "failed_attempts")),
                when(&v, "expires_at"),
            ]
        })
        .collect();
    let mut filters = vec![FilterLink {
        href: "/console/links".into(),
        label: "All".into(),
        current: wanted_raw.is_none(),
    }];
    filters.extend(LINK_STATUSES.iter().map(|st| FilterLink {
        href: format!("/console/links?status={st}"),
        label: st.replace('_', " "),
        current: wanted_raw.as_deref() == Some(*st),
    }));
    let extra = wanted_raw
        .as_ref()
        .map(|w| format!("status={w}&"))
        .unwrap_or_default();
    let page = signed_in_page("Links", "links", s, key)
        .section(None, Content::Links(filters))
        .section(
            None,
            Content::Table(Table {
                caption: "Links, newest first".into(),
                head: vec![
                    "Link",
                    "Connection",
                    "Status",
                    "Created",
                    "Opened",
                    "Refused",
                    "Expires",
                ],
                rows,
                empty: "No links here.",
                more: more("/console/links", next, &extra),
            }),
        );
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

async fn webhooks(
    app: &App,
    s: &Session,
    key: &SessionKey,
    after: Option<String>,
) -> Result<Outcome, ApiError> {
    let after = match cursor(after, crate::webhook::is_endpoint_sk) {
        Ok(after) => after,
        Err(refusal) => return Ok(refusal),
    };
    let (list, next) = crate::webhook::page(app, &s.tenant_id, PAGE_SIZE, after.as_deref()).await?;
    let rows = list
        .iter()
        .map(|e| {
            let v = e.to_json();
            vec![
                Cell::Link(format!("/console/webhooks/{}", e.id), e.url.to_string()),
                Cell::Status(if e.enabled { "enabled" } else { "disabled" }.into()),
                Cell::Text(joined(&v["events"]).unwrap_or_else(|| "every event".into())),
                when(&v, "failing_since"),
            ]
        })
        .collect();
    let page = signed_in_page("Webhooks", "webhooks", s, key).section(
        None,
        Content::Table(Table {
            caption: "Webhook endpoints".into(),
            head: vec!["URL", "State", "Events", "Failing since"],
            rows,
            empty: "No webhook endpoints yet.",
            more: more("/console/webhooks", next, ""),
        }),
    );
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

/// How far back a recovery may reach, as the form offers it.
const RECOVER_WINDOWS: &[(i64, &str)] = &[
    (3600, "the last hour"),
    (6 * 3600, "the last 6 hours"),
    (24 * 3600, "the last 24 hours"),
    (3 * 86_400, "the last 3 days"),
    (7 * 86_400, "the last 7 days"),
];

async fn webhook(
    app: &App,
    s: &Session,
    key: &SessionKey,
    id: WebhookId,
    after: Option<String>,
    notice: Option<&str>,
) -> Result<Outcome, ApiError> {
    let endpoint = crate::webhook::load(app, &s.tenant_id, &id).await?;
    webhook_page(app, s, key, &endpoint, after, notice).await
}

async fn webhook_page(
    app: &App,
    s: &Session,
    key: &SessionKey,
    endpoint: &crate::webhook::Endpoint,
    after: Option<String>,
    notice: Option<&str>,
) -> Result<Outcome, ApiError> {
    let id = &endpoint.id;
    let after = match cursor(after, |a| crate::webhook::delivery::is_delivery_sk(id, a)) {
        Ok(after) => after,
        Err(refusal) => return Ok(refusal),
    };
    let (deliveries, next) =
        crate::webhook::delivery::page(app, endpoint, PAGE_SIZE, after.as_deref()).await?;
    let path = format!("/console/webhooks/{id}");
    let rows = deliveries
        .iter()
        .map(|d| {
            let v = d.to_json();
            let last = v["attempts"].as_array().and_then(|a| a.last()).cloned();
            let outcome = last
                .as_ref()
                .map(|a| match (&a["status_code"], &a["error"]) {
                    (Value::Number(n), _) => format!("HTTP {n}"),
                    (_, Value::String(e)) => e.clone(),
                    _ => String::new(),
                })
                .unwrap_or_default();
            let latency = last
                .as_ref()
                .and_then(|a| a["latency_ms"].as_u64())
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_default();
            let delivery = text(&v, "id");
            let mut row = vec![
                when(&v, "created_at"),
                Cell::Text(text(&v, "event_type")),
                Cell::Status(text(&v, "status")),
                Cell::Text(format!(
                    "{} · {outcome} {latency}",
                    v["attempts"].as_array().map_or(0, Vec::len)
                )),
                when(&v, "next_retry_at"),
            ];
            if s.may_act() && endpoint.enabled && text(&v, "status") == "failed" {
                row.push(Cell::Button(Box::new(Button {
                    action: path.clone(),
                    csrf: key.csrf(),
                    hidden: vec![
                        ("action".into(), "retry".into()),
                        ("delivery_id".into(), delivery.clone()),
                    ],
                    label: "Retry",
                    name: format!("Retry delivery {delivery}"),
                })));
            } else {
                row.push(Cell::Muted(String::new()));
            }
            row
        })
        .collect();
    let v = endpoint.to_json();
    let mut page = signed_in_page(format!("Webhook {}", endpoint.url), "webhooks", s, key).section(
        None,
        Content::Facts(vec![
            ("Id", Cell::Code(endpoint.id.to_string())),
            ("URL", Cell::Code(endpoint.url.to_string())),
            (
                "State",
                Cell::Status(
                    if endpoint.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    }
                    .into(),
                ),
            ),
            ("Why disabled", opt(&v, "disabled_reason")),
            ("Failing since", when(&v, "failing_since")),
            ("Description", opt(&v, "description")),
        ]),
    );
    if s.may_act() && endpoint.enabled {
        let now = time::now();
        page = page.section(
            Some("Recover"),
            Content::Form(Form {
                action: path.clone(),
                csrf: Some(key.csrf()),
                hidden: vec![("action".into(), "recover".into())],
                fields: vec![Field {
                    name: "since",
                    label: "Send again every failed delivery of",
                    kind: "select",
                    autocomplete: "off",
                    required: true,
                    help: Some("Each goes with its original webhook-id, so your receiver can drop what it already has."),
                    options: RECOVER_WINDOWS
                        .iter()
                        .map(|(secs, label)| {
                            (
                                time::format(&(now - chrono::Duration::seconds(*secs))),
                                (*label).to_owned(),
                            )
                        })
                        .collect(),
                }],
                submit: "Recover",
            }),
        );
    }
    page = page.section(
        Some("Deliveries"),
        Content::Table(Table {
            caption: "Deliveries, newest first".into(),
            head: vec![
                "Created",
                "Event",
                "Status",
                "Attempts · last outcome",
                "Next retry",
                "",
            ],
            rows,
            empty: "Nothing delivered to this endpoint yet.",
            more: more(&path, next, ""),
        }),
    );
    page.notice = match notice {
        Some("retried") => Some("One more attempt is on its way.".into()),
        Some("recovering") => Some(
            "Recovery started: failed deliveries are being sent again. They appear here as they go."
                .into(),
        ),
        _ => None,
    };
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

async fn webhook_action(
    app: &App,
    s: &Session,
    key: &SessionKey,
    id: WebhookId,
    form: &FormFields,
) -> Result<Outcome, ApiError> {
    let endpoint = crate::webhook::load(app, &s.tenant_id, &id).await?;
    let back = format!("/console/webhooks/{id}");
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let result = match field("action") {
        "retry" => match DeliveryId::parse(field("delivery_id")) {
            Some(delivery) => crate::webhook::delivery::retry(app, &endpoint, delivery)
                .await
                .map(|_| "retried"),
            None => Err(ApiError::NotFound("no such delivery".into())),
        },
        "recover" => {
            match crate::webhook::recovery::Window::parse(
                json!({"since": field("since")}),
                time::now(),
            ) {
                Ok(window) => crate::webhook::recovery::start(app, &endpoint, window)
                    .await
                    .map(|_| "recovering"),
                Err(e) => Err(e),
            }
        }
        _ => return Ok(not_a_form()),
    };
    match result {
        Ok(notice) => Ok(Outcome::Redirect(format!("{back}?notice={notice}"), vec![])),
        Err(e) if e.status().is_client_error() => {
            let status = e.status();
            // the page as it stands: a refused retry or recovery changed nothing
            let mut page = match webhook_page(app, s, key, &endpoint, None, None).await? {
                Outcome::Page(_, page) => page,
                other => return Ok(other),
            };
            let details: Vec<String> = match &e {
                ApiError::Validation { details, .. } | ApiError::Conflict { details, .. } => {
                    details
                        .iter()
                        .map(|d| format!("{}: {}", d.field, d.message))
                        .collect()
                }
                _ => vec![],
            };
            page.error = Some(if details.is_empty() {
                e.to_string()
            } else {
                format!("{} ({})", e, details.join("; "))
            });
            Ok(Outcome::Page(status, page))
        }
        Err(e) => Err(e),
    }
}

async fn settings(app: &App, s: &Session, key: &SessionKey) -> Result<Outcome, ApiError> {
    let settings = crate::settings::read(app, &s.tenant_id).await?;
    let v = settings.to_json();
    let (integrations, _) =
        crate::integration::page(app, &s.tenant_id, None, PAGE_SIZE, None).await?;
    let mut rows = Vec::with_capacity(integrations.len());
    for i in &integrations {
        let v = i.to_json()?;
        rows.push(vec![
            Cell::Text(text(&v, "display_name")),
            Cell::Code(text(&v, "provider")),
            Cell::Text(text(&v, "auth_mode")),
            Cell::Status(text(&v, "status")),
            when(&v, "created_at"),
        ]);
    }
    let b = &settings.branding;
    let preview = Preview {
        name: b
            .display_name
            .clone()
            .unwrap_or_else(|| "Your company".into()),
        color: b.primary_color.clone().unwrap_or_else(|| "#2457c5".into()),
        logo: b.logo.clone(),
    };
    let page = signed_in_page("Settings", "settings", s, key)
        .section(
            None,
            Content::Facts(vec![
                ("Default redirect URL", opt(&v, "default_redirect_url")),
                (
                    "Link lifetime",
                    Cell::Text(format!("{} s", text(&v, "default_link_ttl_seconds"))),
                ),
                ("Contact email", opt(&v, "contact_email")),
                ("Brand name", opt(&v["branding"], "display_name")),
                ("Brand colour", opt(&v["branding"], "primary_color")),
            ]),
        )
        .section(Some("Branding preview"), Content::Preview(preview))
        .section(
            Some("Integrations"),
            Content::Table(Table {
                caption: "Integrations, newest first (the first page)".into(),
                head: vec!["Name", "Provider", "Sign-in", "Status", "Enabled"],
                rows,
                empty: "No integrations yet.",
                more: None,
            }),
        );
    Ok(Outcome::Page(StatusCode::OK, Box::new(page)))
}

// ---------------------------------------------------------------------------------------
// The answer

fn answer(app: &App, call: &Call, result: Result<Outcome, ApiError>) -> Response<Body> {
    let outcome = result.unwrap_or_else(|e| {
        tracing::error!(request_id = %call.request_id, error = %e, "console page failed");
        message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The console could not answer. Try again in a moment.",
        )
    });
    let local = app.config.stage == crate::config::Stage::Local;
    let (status, page, location, cookies) = match outcome {
        Outcome::Redirect(location, cookies) => {
            (StatusCode::SEE_OTHER, None, Some(location), cookies)
        }
        Outcome::Page(status, page) => (status, Some(page), None, vec![]),
        Outcome::PageWithCookies(status, page, cookies) => (status, Some(page), None, cookies),
    };
    let html = match page.map(|p| p.render()).transpose() {
        Ok(html) => html.unwrap_or_default(),
        Err(e) => {
            tracing::error!(error = %e, "console page failed to render");
            return html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>Something went wrong.</p>".into(),
                Some(CSS),
                local,
            );
        }
    };
    let mut resp = html_response(status, html, Some(CSS), local);
    let h = resp.headers_mut();
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}
