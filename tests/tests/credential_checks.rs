//! Credentials checked with their provider before a link is spent or anything is stored:
//! the hosted form, import, `POST /v1/credentials` and direct connect, against the local
//! stack's loopback provider (`scripts/key_provider.py`, behind the catalogue's `key-mock`
//! and `basic-mock`), which accepts one kind of key and can be made slow, failing or
//! redirecting per credential.

use linkgate_tests::{assert_validation, table_mentions, OpenLink, Stack, TestTenant};
use serde_json::{json, Value};

const PROVIDER: &str = "http://127.0.0.1:9402";

fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{nanos}x{n}")
}

/// A key the local provider accepts, unique to the test (faults and calls are per key).
fn good_key() -> String {
    unique("lg_valid_")
}

fn bad_key() -> String {
    unique("lg_wrong_")
}

async fn provider(method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let mut r = client.request(method, format!("{PROVIDER}{path}"));
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap().json().await.unwrap()
}

async fn arm(credential: &str, fault: Value) {
    let mut body = fault;
    body["credential"] = json!(credential);
    provider(reqwest::Method::POST, "/_faults", Some(body)).await;
}

async fn calls(credential: &str) -> Vec<Value> {
    provider(reqwest::Method::GET, &format!("/_calls/{credential}"), None)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn tenant_with(provider: &str, extra: Value) -> (TestTenant, String) {
    let t = Stack::get().tenant().await;
    let mut body = json!({"provider": provider});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin.post("/v1/integrations", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    (t, id)
}

async fn link_for(t: &TestTenant, integration: &str) -> (String, OpenLink) {
    let consumer = t
        .consumer(&json!({"name": "Acme", "redirect_url": "https://acme.example/done"}))
        .await;
    let r = t
        .admin
        .post(
            &format!("/v1/consumers/{consumer}/connections"),
            &json!({"name": "Keys", "integration_id": integration}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let connection = r.json();
    (
        connection["id"].as_str().unwrap().to_owned(),
        OpenLink::of(&connection),
    )
}

async fn submit(link: &OpenLink, integration: &str, key: &str) -> linkgate_tests::Reply {
    let browser = Stack::get().anonymous();
    assert_eq!(link.open(&browser).await.status, 200);
    link.complete(
        &browser,
        &[
            ("integration_id", integration),
            ("f_workspace", "demo"),
            ("f_api_key", key),
        ],
    )
    .await
}

async fn connection(t: &TestTenant, id: &str) -> Value {
    let r = t.admin.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn link(t: &TestTenant, id: &str) -> Value {
    t.admin.get(&format!("/v1/links/{id}")).await.json()
}

#[tokio::test]
async fn a_key_the_provider_accepts_connects_verified() {
    let (t, integration) = tenant_with("key-mock", json!({})).await;
    let (id, open) = link_for(&t, &integration).await;
    let key = good_key();
    let r = submit(&open, &integration, &key).await;
    assert!(
        r.status == 303 || r.status == 200,
        "{} {}",
        r.status,
        r.text
    );
    let c = connection(&t, &id).await;
    assert_eq!(c["status"], "active", "{c}");
    assert_eq!(c["verified"], true);
    assert_eq!(c["last_check_result"], "valid");
    assert!(c["last_checked_at"].is_string());
    let seen = calls(&key).await;
    assert_eq!(seen.len(), 1, "one check: {seen:?}");
    assert_eq!(seen[0]["path"], "/v1/workspaces/demo/me");
    assert_eq!(seen[0]["scheme"], "bearer");
    assert!(table_mentions(&key).await.is_empty(), "sealed at rest");
}

#[tokio::test]
async fn a_refused_key_keeps_the_link_open_and_counts_the_attempt() {
    let (t, integration) = tenant_with("key-mock", json!({})).await;
    let (id, open) = link_for(&t, &integration).await;
    let key = bad_key();
    let r = submit(&open, &integration, &key).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text
            .contains("Local API-key provider refused these credentials"),
        "{}",
        r.text
    );
    assert!(!r.text.contains(&key), "the secret is never sent back");
    let l = link(&t, &open.id).await;
    assert_eq!(l["status"], "waiting", "the link is not spent: {l}");
    assert_eq!(l["failed_attempts"], 1);
    assert_eq!(l["last_error"]["code"], "credentials_refused");
    assert_eq!(l["last_error"]["fields"], json!(["api_key"]));
    let c = connection(&t, &id).await;
    assert_eq!(c["status"], "pending");
    assert_eq!(c["has_credentials"], false);
    assert!(table_mentions(&key).await.is_empty(), "nothing stored");

    // The customer fixes the key on the same link.
    let r = submit(&open, &integration, &good_key()).await;
    assert!(r.status == 303 || r.status == 200, "{}", r.text);
    assert_eq!(connection(&t, &id).await["status"], "active");
}

#[tokio::test]
async fn no_verdict_is_accepted_unverified_unless_the_integration_refuses() {
    let (t, integration) = tenant_with("key-mock", json!({})).await;
    assert_eq!(
        t.admin
            .get(&format!("/v1/integrations/{integration}"))
            .await
            .json()["unverified_credentials"],
        "accept"
    );
    // Slower than the stack's 2 s provider timeout: no verdict, accepted unverified.
    let (id, open) = link_for(&t, &integration).await;
    let slow = good_key();
    arm(&slow, json!({"mode": "slow", "seconds": 4})).await;
    let r = submit(&open, &integration, &slow).await;
    assert!(r.status == 303 || r.status == 200, "{}", r.text);
    let c = connection(&t, &id).await;
    assert_eq!(c["status"], "active");
    assert_eq!(c["verified"], false);
    assert_eq!(c["last_check_result"], "unreachable");

    // The integration now refuses unverified credentials: a 5xx and a redirect each leave
    // the link open, without counting against the customer.
    let r = t
        .admin
        .patch(
            &format!("/v1/integrations/{integration}"),
            &json!({"unverified_credentials": "refuse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["unverified_credentials"], "refuse");
    let (id, open) = link_for(&t, &integration).await;
    for fault in [
        json!({"mode": "status", "status": 503}),
        json!({"mode": "redirect"}),
    ] {
        let key = good_key();
        arm(&key, fault).await;
        let r = submit(&open, &integration, &key).await;
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(r.text.contains("could not be reached"), "{}", r.text);
        assert_eq!(calls(&key).await.len(), 1, "a redirect is not followed");
    }
    let l = link(&t, &open.id).await;
    assert_eq!(l["status"], "waiting");
    assert_eq!(l["failed_attempts"], 0);
    assert_eq!(connection(&t, &id).await["status"], "pending");
}

#[tokio::test]
async fn imports_are_checked_before_anything_is_written() {
    let (t, integration) = tenant_with("key-mock", json!({})).await;
    let consumer = t.consumer(&json!({"name": "Importer"})).await;
    let body = |key: &str| {
        json!({"consumer_id": consumer, "integration_id": integration, "name": "Imported",
               "credentials": {"api_key": key}, "connection_fields": {"workspace": "demo"}})
    };
    let refused = bad_key();
    let r = t.admin.post("/v1/connections", &body(&refused)).await;
    assert_validation(&r, &["credentials.api_key"]);
    assert!(r.text.contains("refused these credentials"), "{}", r.text);
    assert!(!r.text.contains(&refused));
    assert!(table_mentions(&refused).await.is_empty());

    let r = t.admin.post("/v1/connections", &body(&good_key())).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["verified"], true);
    assert_eq!(r.json()["last_check_result"], "valid");

    // No verdict, and the integration refuses that: 503, nothing stored.
    let r = t
        .admin
        .patch(
            &format!("/v1/integrations/{integration}"),
            &json!({"unverified_credentials": "refuse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let down = good_key();
    arm(&down, json!({"mode": "status", "status": 500})).await;
    let r = t.admin.post("/v1/connections", &body(&down)).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error_code(), "provider_unavailable");
    assert!(table_mentions(&down).await.is_empty());
}

#[tokio::test]
async fn stored_credentials_are_checked_and_direct_connect_keeps_the_verdict() {
    let (t, _) = tenant_with("basic-mock", json!({})).await;
    let store = |password: &str| json!({"provider": "basic-mock", "values": {"username": "demo", "password": password}});
    let r = t
        .admin
        .post("/v1/credentials", &store("not-the-password"))
        .await;
    assert_validation(&r, &["values.username", "values.password"]);
    assert!(!r.text.contains("not-the-password"));

    let r = t
        .admin
        .post("/v1/credentials", &store("demo-password"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["verified"], true);
    let crd = r.json()["id"].as_str().unwrap().to_owned();
    let consumer = t.consumer(&json!({"name": "Direct"})).await;
    let r = t
        .admin
        .post(
            "/v1/integrations/basic-mock/connect",
            &json!({"credential_id": crd, "consumer_id": consumer}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json()["connection_id"].as_str().unwrap().to_owned();
    let c = connection(&t, &id).await;
    assert_eq!(c["verified"], true, "{c}");
    assert_eq!(c["last_check_result"], "valid");

    // Through an integration that refuses unverified credentials, a provider that cannot
    // judge them is a 503 here too.
    let integration = t.admin.all("/v1/integrations").await[0]["id"].clone();
    let r = t
        .admin
        .patch(
            &format!("/v1/integrations/{}", integration.as_str().unwrap()),
            &json!({"unverified_credentials": "refuse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let user = unique("u");
    arm(&user, json!({"mode": "status", "status": 502})).await;
    let r = t
        .admin
        .post(
            "/v1/credentials",
            &json!({"integration_id": integration, "values": {"username": user, "password": "demo-password"}}),
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error_code(), "provider_unavailable");
}

#[tokio::test]
async fn catalogue_providers_get_no_verdict_in_the_local_stack() {
    // The stack keeps provider calls on this machine (LINKGATE_OUTBOUND_PUBLIC=off), so a
    // real provider's check is "unreachable" with or without a network: accepted unverified
    // by default, refused when the integration says so.
    // Stripe takes a key checked by a request; PayPal, a client whose token request is the check.
    for (provider, credentials) in [
        (
            "stripe",
            json!({"secret_key": "rk_test_51LocalOnlyKey0000000000"}),
        ),
        (
            "paypal",
            json!({"client_id": "AYlocal-client", "client_secret": "EClocal-secret"}),
        ),
    ] {
        let (t, integration) = tenant_with(provider, json!({})).await;
        let consumer = t.consumer(&json!({"name": "Shop"})).await;
        let body = json!({"consumer_id": consumer, "integration_id": integration, "name": "Payments",
                          "credentials": credentials});
        let r = t.admin.post("/v1/connections", &body).await;
        assert_eq!(r.status, 201, "{provider}: {}", r.text);
        assert_eq!(r.json()["verified"], false, "{provider}");
        assert_eq!(r.json()["last_check_result"], "unreachable", "{provider}");
        let r = t
            .admin
            .patch(
                &format!("/v1/integrations/{integration}"),
                &json!({"unverified_credentials": "refuse"}),
            )
            .await;
        assert_eq!(r.status, 200, "{provider}: {}", r.text);
        let r = t.admin.post("/v1/connections", &body).await;
        assert_eq!(r.status, 503, "{provider}: {}", r.text);
        assert_eq!(r.error_code(), "provider_unavailable", "{provider}");
    }
}

#[tokio::test]
async fn the_setting_is_only_for_key_providers() {
    let t = Stack::get().tenant().await;
    let r = t
        .admin
        .post(
            "/v1/integrations",
            &json!({"provider": "oidc-mock", "client_id": "x", "client_secret": "y",
                    "unverified_credentials": "refuse"}),
        )
        .await;
    assert_validation(&r, &["unverified_credentials"]);
    let r = t
        .admin
        .post(
            "/v1/integrations",
            &json!({"provider": "key-mock", "unverified_credentials": "maybe"}),
        )
        .await;
    assert_validation(&r, &["unverified_credentials"]);
    let providers = t.admin.all("/v1/providers").await;
    let find = |id: &str| providers.iter().find(|p| p["id"] == id).cloned().unwrap();
    assert_eq!(find("key-mock")["verifies_credentials"], true);
    assert_eq!(find("oidc-mock")["verifies_credentials"], false);
}

async fn check(t: &TestTenant, id: &str) -> linkgate_tests::Reply {
    t.admin
        .post(&format!("/v1/connections/{id}/check"), &json!({}))
        .await
}

#[tokio::test]
async fn a_check_asks_the_provider_again_and_a_refusal_needs_reauth() {
    let (t, integration) = tenant_with("key-mock", json!({})).await;
    let consumer = t.consumer(&json!({"name": "Checked"})).await;
    let key = good_key();
    let r = t
        .admin
        .post(
            "/v1/connections",
            &json!({"consumer_id": consumer, "integration_id": integration, "name": "Keys",
                    "credentials": {"api_key": key}, "connection_fields": {"workspace": "demo"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();

    let r = check(&t, &id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let report = r.json();
    assert_eq!(report["result"], "valid");
    assert_eq!(report["method"], "verify_request");
    assert_eq!(report["connection"]["last_check_result"], "valid");
    assert_eq!(
        report["connection"]["last_checked_at"],
        report["checked_at"]
    );
    assert_eq!(
        calls(&key).await.len(),
        2,
        "the import's check, then this one"
    );

    // No verdict: recorded, nothing else changes (what was confirmed stays confirmed).
    arm(&key, json!({"mode": "status", "status": 503})).await;
    let report = check(&t, &id).await.json();
    assert_eq!(report["result"], "unreachable");
    assert_eq!(report["detail"], "answered 503");
    assert_eq!(report["connection"]["status"], "active");
    assert_eq!(report["connection"]["verified"], true);
    assert_eq!(report["connection"]["last_check_result"], "unreachable");

    // Refused: needs_reauth with a reconnect link, announced like a refused refresh.
    arm(&key, json!({"mode": "status", "status": 401})).await;
    let report = check(&t, &id).await.json();
    assert_eq!(report["result"], "refused");
    let c = &report["connection"];
    assert_eq!(c["status"], "needs_reauth", "{c}");
    assert_eq!(c["reauth_reason"], "credentials_refused");
    assert_eq!(c["verified"], false);
    let announced = linkgate_tests::eventually(
        std::time::Duration::from_secs(10),
        async || Stack::get().events(&t.id, "connection.needs_reauth").await,
        |e| !e.is_empty(),
    )
    .await;
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(
        announced[0]["data"]["reason"], "credentials_refused",
        "{}",
        announced[0]
    );
    let reconnect = announced[0]["data"]["reconnect_link"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(link(&t, &reconnect).await["status"], "waiting");
}

#[tokio::test]
async fn a_check_says_why_it_cannot_run() {
    let (t, integration) = tenant_with("key-mock", json!({})).await;
    let (pending, _) = link_for(&t, &integration).await;
    let r = check(&t, &pending).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "conflict");
    let r = check(&t, "conn_00000000000000000000000000000000").await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = t
        .admin
        .post(
            &format!("/v1/connections/{pending}/check"),
            &json!({"force": true}),
        )
        .await;
    assert_validation(&r, &["force"]);
    // A member key reads; it does not act.
    let r = t
        .member
        .post(&format!("/v1/connections/{pending}/check"), &json!({}))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // A real provider's check has no verdict locally: it says so, and changes nothing.
    let (t, stripe) = tenant_with("stripe", json!({})).await;
    let consumer = t.consumer(&json!({"name": "Shop"})).await;
    let r = t
        .admin
        .post(
            "/v1/connections",
            &json!({"consumer_id": consumer, "integration_id": stripe, "name": "Payments",
                    "credentials": {"secret_key": "rk_test_51LocalOnlyKey0000000000"}}),
        )
        .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let report = check(&t, &id).await.json();
    assert_eq!(report["result"], "unreachable");
    assert_eq!(report["detail"], "calls to public hosts are off here");
    assert_eq!(report["connection"]["status"], "active");
}

#[tokio::test]
async fn an_oauth_check_is_a_token_refresh() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = linkgate_tests::oauth::integration(&t).await;
    let conn = t
        .connection(
            &json!({"name": "OAuth checked"}),
            &json!({"name": "OAuth checked", "integration_id": app.integration_id}),
        )
        .await;
    let sub = format!("checked-{}", app.client_id);
    let r = linkgate_tests::oauth::complete(
        &stack.anonymous(),
        conn["link"]["url"].as_str().unwrap(),
        &sub,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = conn["id"].as_str().unwrap();
    let before = connection(&t, id).await;
    assert_eq!(before["verified"], true, "granted by the provider");
    let report = check(&t, id).await.json();
    assert_eq!(report["result"], "valid", "{report}");
    assert_eq!(report["method"], "token_refresh");
    assert_ne!(
        report["connection"]["token_expires_at"], before["token_expires_at"],
        "a new token"
    );
    let refreshes = stack
        .token_calls(&app.client_id)
        .await
        .iter()
        .filter(|c| c["grant_type"] == "refresh_token")
        .count();
    assert_eq!(refreshes, 1);
}
