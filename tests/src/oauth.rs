//! The local OAuth provider (oidc-provider-mock) as tests drive it: a tenant's own OAuth
//! app, the sign-in form, and the fault proxy in front of its token endpoint.

use crate::{Api, Stack, TestTenant};
use serde_json::{json, Value};

/// A tenant's `oidc-mock` integration with an OAuth client id no other test uses, so the
/// proxy's faults and call log are this test's alone.
pub struct OAuthApp {
    pub integration_id: String,
    pub client_id: String,
}

pub async fn integration(t: &TestTenant) -> OAuthApp {
    let client_id = format!("client-{}", uuid_like());
    let r = t
        .admin
        .post(
            "/v1/integrations",
            &json!({"provider": "oidc-mock", "client_id": client_id, "client_secret": "s3cret"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    OAuthApp {
        integration_id: r.json()["id"].as_str().unwrap().to_owned(),
        client_id,
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}-{}-{n}", std::process::id())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The provider's sign-in form, answered as `sub` (or refused): where it sends the browser.
pub async fn sign_in(authorize_url: &str, sub: Option<&str>) -> String {
    let page = http().get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "{}", page.text().await.unwrap());
    let form: Vec<(&str, &str)> = match sub {
        Some(s) => vec![("sub", s)],
        None => vec![("action", "deny")],
    };
    let r = http().post(authorize_url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// A path and query of our API from an absolute URL on it.
pub fn local_path(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Stack {
    fn proxy(&self) -> String {
        self.oauth_proxy_url
            .clone()
            .expect("dev.json names no OAuth proxy: restart the local stack")
    }

    /// Arms a fault at the token endpoint for one client (see scripts/oauth_proxy.py).
    pub async fn token_fault(&self, client_id: &str, fault: Value) {
        let mut fault = fault;
        fault["client_id"] = json!(client_id);
        let r = http()
            .post(format!("{}/_faults", self.proxy()))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    pub async fn clear_token_faults(&self, client_id: &str) {
        http()
            .delete(format!("{}/_faults/{client_id}", self.proxy()))
            .send()
            .await
            .unwrap();
    }

    /// The token calls one client made, oldest first.
    pub async fn token_calls(&self, client_id: &str) -> Vec<Value> {
        http()
            .get(format!("{}/_calls/{client_id}", self.proxy()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Revokes every refresh token the provider issued to `sub`: the next refresh is
    /// `invalid_grant`, as when a user removes the app at the provider.
    pub async fn revoke_provider_grants(&self, sub: &str) {
        let base = self.oauth_provider_url.clone().expect("no OAuth provider");
        let r = http()
            .post(format!("{base}/users/{sub}/revoke-tokens"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
}

/// Opens a link's OAuth start and follows it to the provider: the authorize URL.
pub async fn start(anonymous: &Api, link_url: &str) -> String {
    let r = start_reply(anonymous, link_url).await;
    assert_eq!(r.status, 302, "{}", r.text);
    r.headers["location"].to_str().unwrap().to_owned()
}

/// Opens a link's page and presses its sign-in button: our answer (a redirect to the
/// provider that binds the flow to this browser).
pub async fn start_reply(anonymous: &Api, link_url: &str) -> crate::Reply {
    let page = anonymous.get(&local_path(link_url)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let href = page
        .text
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("/oauth?token="))
        .unwrap_or_else(|| panic!("no OAuth button: {}", page.text))
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    anonymous.get(&href).await
}

/// The whole dance for a link: start, sign in as `sub`, come back. The callback's reply.
pub async fn complete(anonymous: &Api, link_url: &str, sub: &str) -> crate::Reply {
    let authorize = start(anonymous, link_url).await;
    let callback = sign_in(&authorize, Some(sub)).await;
    anonymous.get(&local_path(&callback)).await
}

/// A direct connect's `authorization_url` opened in `browser`: our domain binds the consent
/// to it and sends it on; the provider's authorize URL.
pub async fn via_our_domain(browser: &Api, authorization_url: &str) -> String {
    let r = browser.get(&local_path(authorization_url)).await;
    assert_eq!(r.status, 302, "{}", r.text);
    r.headers["location"].to_str().unwrap().to_owned()
}
