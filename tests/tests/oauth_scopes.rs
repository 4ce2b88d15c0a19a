//! Scopes per connection: a link may ask for other scopes than its integration's, within
//! what the integration allows, so a platform can ask one customer for more access later
//! through a re-authentication link; what was granted is recorded on the connection.

use linkgate_tests::oauth::{self, query_param, sign_in};
use linkgate_tests::{assert_validation, Stack, TestTenant};
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn tenant() -> (TestTenant, oauth::OAuthApp) {
    let t = Stack::get().tenant().await;
    let app = oauth::integration(&t).await;
    let r = t
        .admin
        .patch(
            &format!("/v1/integrations/{}", app.integration_id),
            &json!({"allowed_scopes": ["openid", "profile", "email", "offline_access"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["allowed_scopes"],
        json!(["openid", "profile", "email", "offline_access"])
    );
    (t, app)
}

fn set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn words(s: &str) -> BTreeSet<String> {
    s.split(' ').map(String::from).collect()
}

#[tokio::test]
async fn a_link_asks_for_its_own_scopes_and_the_grant_is_recorded() {
    let (t, app) = tenant().await;
    let stack = Stack::get();
    let conn = t
        .connection(
            &json!({"name": "Scoped"}),
            &json!({"name": "Scoped", "integration_id": app.integration_id,
                    "scopes": ["openid", "offline_access"]}),
        )
        .await;
    assert_eq!(conn["link"]["scopes"], json!(["openid", "offline_access"]));
    let id = conn["id"].as_str().unwrap().to_owned();
    let browser = stack.anonymous();
    let authorize = oauth::start(&browser, conn["link"]["url"].as_str().unwrap()).await;
    assert_eq!(
        words(&query_param(&authorize, "scope").unwrap()),
        words("openid offline_access"),
        "{authorize}"
    );
    let callback = sign_in(&authorize, Some(&format!("scoped-{}", app.client_id))).await;
    let r = browser.get(&oauth::local_path(&callback)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = t.admin.get(&format!("/v1/connections/{id}")).await.json();
    assert_eq!(c["status"], "active", "{c}");
    assert_eq!(c["scopes"], json!(["openid", "offline_access"]));
    // What the provider granted, which may be less than asked (the local provider grants
    // the OpenID scopes it knows, not offline_access).
    let granted = set(&c["granted_scopes"]);
    assert!(
        granted.is_subset(&words("openid offline_access")),
        "{granted:?}"
    );
    assert!(granted.contains("openid"), "{granted:?}");

    // More access later, through a re-authentication link on the same connection.
    let r = t
        .admin
        .post(
            &format!("/v1/connections/{id}/links"),
            &json!({"scopes": ["openid", "offline_access", "email"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let link = r.json();
    let url = link["url"].as_str().unwrap().to_owned();
    let browser = stack.anonymous();
    let authorize = oauth::start(&browser, &url).await;
    assert_eq!(
        words(&query_param(&authorize, "scope").unwrap()),
        words("openid offline_access email")
    );
    let callback = sign_in(&authorize, Some(&format!("scoped-{}", app.client_id))).await;
    assert_eq!(browser.get(&oauth::local_path(&callback)).await.status, 200);
    let c = t.admin.get(&format!("/v1/connections/{id}")).await.json();
    let granted = set(&c["granted_scopes"]);
    assert!(
        granted.is_subset(&words("openid offline_access email")),
        "{granted:?}"
    );
    assert!(
        granted.contains("email"),
        "more access granted: {granted:?}"
    );

    // A link made without scopes asks for what the connection has now.
    let r = t
        .admin
        .post(&format!("/v1/connections/{id}/links"), &json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json()["scopes"],
        json!(["openid", "offline_access", "email"])
    );
}

#[tokio::test]
async fn scopes_are_bounded_by_the_integration() {
    let (t, app) = tenant().await;
    let consumer = t.consumer(&json!({"name": "Bounded"})).await;
    let path = format!("/v1/consumers/{consumer}/connections");
    let ask = |scopes: Value| json!({"name": "x", "integration_id": app.integration_id, "scopes": scopes});
    for bad in [
        json!(["admin"]),
        json!([]),
        json!(["openid", "has space"]),
        json!("openid"),
    ] {
        assert_validation(&t.admin.post(&path, &ask(bad)).await, &["scopes"]);
    }
    let r = t.admin.post(&path, &ask(json!(["admin"]))).await;
    assert!(
        r.text.contains("admin"),
        "the refusal names the scope: {}",
        r.text
    );
    // Without an integration there is no provider to ask.
    assert_validation(
        &t.admin
            .post(&path, &json!({"name": "x", "scopes": ["openid"]}))
            .await,
        &["scopes"],
    );
    // API-key integrations take no scopes, nor allowed_scopes.
    let stripe = t
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await
        .json()["id"]
        .clone();
    assert_validation(
        &t.admin
            .post(
                &path,
                &json!({"name": "x", "integration_id": stripe, "scopes": ["read"]}),
            )
            .await,
        &["scopes"],
    );
    assert_validation(
        &t.admin
            .patch(
                &format!("/v1/integrations/{}", stripe.as_str().unwrap()),
                &json!({"allowed_scopes": ["read"]}),
            )
            .await,
        &["allowed_scopes"],
    );
    // Without allowed_scopes, only the integration's own scopes may be asked for.
    let r = t
        .admin
        .patch(
            &format!("/v1/integrations/{}", app.integration_id),
            &json!({"allowed_scopes": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_validation(
        &t.admin.post(&path, &ask(json!(["offline_access"]))).await,
        &["scopes"],
    );
    assert_eq!(
        t.admin.post(&path, &ask(json!(["openid"]))).await.status,
        201
    );
}
