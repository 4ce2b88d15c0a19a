//! The browser side of OAuth: `GET /connect/{link_id}/oauth` sends the customer to the
//! provider, `GET /oauth/callback` brings them back. A completed callback activates the
//! connection exactly as a submitted form does (one transaction with the link and the
//! event); a failed one leaves the connection as it was and the link usable again.
//!
//! Both ends know the browser (see `super::browser`): the start binds the flow to it, the callback
//! is refused anywhere else. A direct connect's `authorization_url` is this start with the
//! state instead of the token: it binds the first browser that opens it and passes it on.

use super::browser::Browser;
use super::page::{
    activated, closed, finish, invalid, logo_uri, oauth_view, page, refused, remember, Outcome,
    Page,
};
use super::{chosen_integration, usable_link};
use crate::connection;
use crate::connection::activation::{self, refusal, Activation};
use crate::error::ApiError;
use crate::http::{Access, Call, Route};
use crate::id::LinkId;
use crate::integration::{self, Integration};
use crate::lang::t;
use crate::link::{self, Link};
use crate::oauth::state::{self, Bound, Pending, Taken};
use crate::oauth::{callback_url, OAuthApp};
use crate::provider::AuthMode;
use crate::{time, App};
use lambda_http::http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

pub const START: Route = Route {
    operation: "connect.oauth",
    access: Access::Public,
    handler: |app, call| {
        Box::pin(async move { finish(start_flow(app, call).await, app, call).await })
    },
};

pub const CALLBACK: Route = Route {
    operation: "oauth.callback",
    access: Access::Public,
    handler: |app, call| {
        Box::pin(async move { finish(callback_flow(app, call).await, app, call).await })
    },
};

fn not_set_up() -> Outcome {
    page(StatusCode::CONFLICT, "not_set_up")
}

fn other_browser() -> Outcome {
    page(StatusCode::BAD_REQUEST, "other_browser")
}

/// A direct connect's start: bind its state to this browser, then on to the provider.
async fn pass_through(app: &App, call: &Call, state: &str) -> Result<Outcome, ApiError> {
    let (Some(link), true) = (
        call.path_param("link_id").and_then(LinkId::parse),
        !state.is_empty() && state.len() <= 128,
    ) else {
        return Ok(page(StatusCode::BAD_REQUEST, "state_gone"));
    };
    let base = call.public_base_url(&app.config);
    let browser = Browser::of(call, &base)?;
    Ok(
        match state::bind(app, state, &link, &browser.hash()).await? {
            Bound::Provider(url) => {
                let _ = call.set_cookie.set(browser.set_cookie(&base));
                Outcome::Redirect(StatusCode::FOUND, url)
            }
            Bound::OtherBrowser => other_browser(),
            Bound::Gone => page(StatusCode::BAD_REQUEST, "state_gone"),
        },
    )
}

async fn start_flow(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    if let (Some(state), None) = (call.query_param("state"), call.query_param("token")) {
        return pass_through(app, call, &state).await;
    }
    let (link, token) = match usable_link(app, call, call.query_param("token")).await? {
        Ok(usable) => usable,
        Err(outcome) => return Ok(outcome),
    };
    let Some(integration) =
        chosen_integration(app, &link, call.query_param("integration").as_deref()).await?
    else {
        return Ok(not_set_up());
    };
    let provider = integration.provider()?;
    if provider.auth_mode != AuthMode::Oauth2 {
        return Ok(page(StatusCode::BAD_REQUEST, "use_form"));
    }

    // Connection fields (Shopify's shop) come with the start, as `f_<name>`.
    let given: HashMap<String, String> = provider
        .connection_fields
        .iter()
        .filter_map(|f| {
            call.query_param(&format!("f_{}", f.name))
                .map(|v| (f.name.clone(), v))
        })
        .collect();
    let as_json: Map<String, Value> = given.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let fields = match crate::provider::check_values(&provider.connection_fields, "", &as_json) {
        Ok(f) => f,
        Err(errors) => {
            let errors: BTreeMap<String, String> =
                errors.into_iter().map(|e| (e.field, e.message)).collect();
            let mut p = Page::new(
                t("page.connect.heading").with("software", integration.display_name()?),
                None,
            );
            p.logo = Some(logo_uri(provider));
            p.oauth = Some(oauth_view(
                &link,
                &token,
                &integration,
                provider,
                &given,
                &errors,
            ));
            let status = if given.is_empty() {
                StatusCode::OK
            } else {
                link::record_failure(
                    app,
                    &link.id,
                    "validation_error",
                    errors.keys().cloned().collect(),
                )
                .await?;
                StatusCode::UNPROCESSABLE_ENTITY
            };
            return Ok(Outcome::Page(status, Box::new(p)));
        }
    };

    let base = call.public_base_url(&app.config);
    let redirect_uri = callback_url(&base);
    let oauth = match OAuthApp::new(app, &integration, &fields, &redirect_uri).await {
        // the link's own scopes, made for this integration
        Ok(o) if link.integration_id.as_ref() == Some(integration.id()) => {
            o.with_scopes(link.scopes.as_deref())
        }
        Ok(o) => o,
        Err(ApiError::Conflict { .. }) => return Ok(not_set_up()),
        Err(e) => return Err(e),
    };
    let browser = Browser::of(call, &base)?;
    let state = state::generate()?;
    let (url, verifier) = oauth.authorize_url(&state);
    let now = time::now();
    let pending = Pending {
        link_id: link.id.clone(),
        tenant_id: link.tenant_id.clone(),
        connection_id: link.connection_id.clone(),
        integration_id: integration.id().clone(),
        redirect_uri,
        verifier,
        connection_fields: fields.into_iter().map(|(k, v)| (k, json!(v))).collect(),
        direct: false,
        browser: Some(browser.hash()),
        authorize_url: None,
    };
    if state::begin(app, &link.id, &state, &pending, now).await? {
        let _ = call.set_cookie.set(browser.set_cookie(&base));
        return Ok(Outcome::Redirect(StatusCode::FOUND, url));
    }
    Ok(match link::find(app, &link.id).await? {
        Some(l) => closed(app, &l).await?.unwrap_or_else(invalid),
        None => invalid(),
    })
}

/// A provider's error code as we repeat it: only `[a-z0-9_]`, bounded, never raw input.
fn safe_code(raw: &str) -> String {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        raw.to_owned()
    } else {
        "provider_error".to_owned()
    }
}

async fn callback_flow(app: &App, call: &Call) -> Result<Outcome, ApiError> {
    let gone = || page(StatusCode::BAD_REQUEST, "state_gone");
    let Some(raw_state) = call
        .query_param("state")
        .filter(|s| !s.is_empty() && s.len() <= 128)
    else {
        // A provider that drops `state` from its error answer: we cannot tell which link it
        // was, but we can tell the customer what happened.
        if call.query_param("error").as_deref() == Some("access_denied") {
            return Ok(page(StatusCode::BAD_REQUEST, "declined"));
        }
        return Ok(gone());
    };
    let browser = Browser::presented(call, &call.public_base_url(&app.config));
    let pending = match state::take(app, &raw_state, browser.map(|b| b.hash()).as_deref()).await? {
        Taken::Flow(pending) => pending,
        Taken::OtherBrowser => return Ok(other_browser()),
        Taken::Gone => return Ok(gone()),
    };
    let Some(link) = link::find(app, &pending.link_id).await? else {
        return Ok(invalid());
    };
    remember(call, &link);
    if let Some(outcome) = closed(app, &link).await? {
        return Ok(outcome);
    }
    let Some(integration) =
        integration::find_active(app, &link.tenant_id, &pending.integration_id).await?
    else {
        return Ok(not_set_up());
    };
    let Some(connection) = connection::find(app, &link.tenant_id, &pending.connection_id).await?
    else {
        return Ok(invalid());
    };
    if let Some(refusal) = refusal(&connection) {
        return Ok(refused(refusal));
    }
    if let Some(error) = call.query_param("error") {
        return failed(app, &link, &integration, &safe_code(&error)).await;
    }
    let Some(code) = call
        .query_param("code")
        .filter(|c| !c.is_empty() && c.len() <= 2048)
    else {
        return failed(app, &link, &integration, "invalid_request").await;
    };
    let provider = integration.provider()?;
    let fields: BTreeMap<String, String> = pending
        .connection_fields
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect();
    let oauth = match OAuthApp::new(app, &integration, &fields, &pending.redirect_uri).await {
        Ok(o) => o,
        Err(ApiError::Conflict { .. }) => return Ok(not_set_up()),
        Err(e) => return Err(e),
    };
    match oauth
        .exchange_code(oauth.http(app)?, &code, &pending.verifier)
        .await
    {
        Ok(tokens) => {
            let credentials = crate::credential::Credentials::from_tokens(
                tokens,
                &provider.id,
                pending.connection_fields,
                None,
            );
            // a direct connect's hold on the owner becomes the live connection's, in the
            // same transaction, if it is still this connection's
            let activation = activation::activate(
                app,
                &link,
                connection,
                &integration,
                &credentials,
                &crate::credential::verify::Verification::granted(),
                pending.direct,
            )
            .await?;
            match activation {
                Activation::HeldElsewhere => {
                    failed(app, &link, &integration, "already_connected").await
                }
                other => activated(app, &link, &integration, other).await,
            }
        }
        Err(e) => {
            tracing::warn!(link_id = %link.id, error = %e, "OAuth code exchange failed");
            failed(app, &link, &integration, e.code()).await
        }
    }
}

/// The flow did not complete: nothing about the connection changes, the link can be used
/// again while it is valid, and the customer (or the platform, through the redirect) is told
/// why.
async fn failed(
    app: &App,
    link: &Link,
    integration: &Integration,
    code: &str,
) -> Result<Outcome, ApiError> {
    link::oauth_abandoned(app, &link.id).await?;
    let target = link::redirect_target(app, link).await?;
    let with_error = |t: &crate::redirect_url::RedirectUrl| {
        let base = link::with_params(t, link, "error", false);
        match url::Url::parse(&base) {
            Ok(mut u) => {
                u.query_pairs_mut().append_pair("error", code);
                u.to_string()
            }
            Err(_) => base,
        }
    };
    if let (true, Some(t)) = (link.redirect, &target) {
        return Ok(Outcome::Redirect(StatusCode::FOUND, with_error(t)));
    }
    let name = integration.display_name()?;
    let (status, heading, message) = match code {
        "access_denied" => (
            StatusCode::BAD_REQUEST,
            t("page.declined.heading"),
            t("page.declined_on.message").with("software", name),
        ),
        "provider_unavailable" => (
            StatusCode::BAD_GATEWAY,
            t("page.provider_down.heading"),
            t("page.provider_down.message").with("software", name),
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            t("page.sign_in_failed.heading"),
            t("page.sign_in_failed.message")
                .with("software", name)
                .with("code", code),
        ),
    };
    let mut p = Page::new(heading, Some(message));
    p.logo = Some(logo_uri(integration.provider()?));
    p.back = target.as_ref().map(with_error);
    Ok(Outcome::Page(status, Box::new(p)))
}

#[cfg(test)]
mod tests {
    use super::safe_code;

    #[test]
    fn provider_error_codes_are_repeated_only_when_plain() {
        assert_eq!(safe_code("access_denied"), "access_denied");
        assert_eq!(safe_code("<script>"), "provider_error");
        assert_eq!(safe_code(""), "provider_error");
        assert_eq!(safe_code(&"a".repeat(65)), "provider_error");
    }
}
