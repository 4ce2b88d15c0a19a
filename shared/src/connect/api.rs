//! The hosted connect page: what the tenant's customer sees when opening a link.
//!
//! `GET /connect/{link_id}?token=…` shows the marketplace (no integration chosen yet), the
//! provider's form (API key and basic providers) or a "Continue with …" button (OAuth, see
//! `oauth`). Opening never consumes a link (mail scanners open links); only a valid
//! submission does, through `connection::activation`. What the pages look like is `page`.

pub mod browser;
pub mod chart;
pub mod console;
pub(crate) mod cookie;
pub mod oauth;
pub mod page;
pub mod portal;

use crate::connection;
use crate::connection::activation::{self, refusal};
use crate::credential::verify::{self, Decision};
use crate::credential::Credentials;
use crate::error::ApiError;
use crate::http::{Access, Call, Route};
use crate::id::{IntegrationId, LinkId};
use crate::integration::Integration;
use crate::lang::t;
use crate::link::{self, Link};
use crate::provider::AuthMode;
use crate::App;
use lambda_http::http::StatusCode;
use page::{
    activated, closed, connect_href, finish, form_view, invalid, logo_uri, oauth_view, page,
    refused, remember, Card, Outcome, Page,
};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

const MAX_FORM_BYTES: usize = 32 * 1024;

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
    let link = link::with_token(app, &id, token).await?;
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
        AuthMode::ApiKey | AuthMode::Basic | AuthMode::Oauth2ClientCredentials => {
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
    match link::open(app, &id, given).await? {
        Some(link) => {
            remember(call, &link);
            Ok(Ok((link, given.to_owned())))
        }
        None => usable_link(app, call, token).await,
    }
}

/// The connect page with its form again (fields to correct, or a notice), answered `status`.
fn form_again(
    status: StatusCode,
    integration: &Integration,
    form: page::FormView,
) -> Result<Outcome, ApiError> {
    let mut p = Page::new(
        t("page.connect.heading").with("software", integration.display_name()?),
        None,
    );
    p.logo = Some(logo_uri(integration.provider()?));
    p.form = Some(form);
    Ok(Outcome::Page(status, Box::new(p)))
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
    let Some(connection) = connection::find(app, &link.tenant_id, &link.connection_id).await?
    else {
        return Ok(invalid());
    };
    if let Some(refusal) = refusal(&connection) {
        return Ok(refused(refusal));
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
    let checked_conn = crate::provider::check_values(
        &provider.connection_fields,
        "",
        &as_json(&provider.connection_fields),
    );
    let checked_cred = crate::provider::check_values(
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
            link::record_failure(
                app,
                &link.id,
                "validation_error",
                errors.keys().cloned().collect(),
            )
            .await?;
            let form = form_view(&link, &token, &integration, provider, &values, &errors);
            return form_again(StatusCode::UNPROCESSABLE_ENTITY, &integration, form);
        }
    };

    // Asked before anything is stored: a refusal keeps the link open and counts as a
    // failed attempt; no verdict follows the integration's setting.
    let checked = verify::check(app, provider, &credential_values, &connection_values).await;
    let verification = match verify::decide(checked.as_ref(), integration.unverified_credentials())
    {
        Decision::Store(v) => v,
        Decision::Refused => {
            let errors: BTreeMap<String, String> = verify::refused_fields(provider, "")
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect();
            let fields = errors.keys().cloned().collect();
            link::record_failure(app, &link.id, "credentials_refused", fields).await?;
            let notice = t("page.form.refused").with("provider", provider.name.clone());
            let form = form_view(&link, &token, &integration, provider, &values, &errors);
            return form_again(
                StatusCode::UNPROCESSABLE_ENTITY,
                &integration,
                form.with_notice(notice),
            );
        }
        Decision::Unavailable => {
            let notice = t("page.form.unreachable").with("provider", provider.name.clone());
            let form = form_view(
                &link,
                &token,
                &integration,
                provider,
                &values,
                &BTreeMap::new(),
            );
            return form_again(
                StatusCode::SERVICE_UNAVAILABLE,
                &integration,
                form.with_notice(notice),
            );
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
    let activation = activation::activate(
        app,
        &link,
        connection,
        &integration,
        &credentials,
        &verification,
        false,
    )
    .await?;
    activated(app, &link, &integration, activation).await
}
