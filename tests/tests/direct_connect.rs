//! The server-to-server connect API: stored credentials (`POST /v1/credentials`) and
//! `POST /v1/integrations/{provider}/connect` for both kinds of provider, with every
//! documented error.

use aws_sdk_dynamodb::types::AttributeValue;
use linkgate_tests::oauth::{self, local_path, query_param, sign_in};
use linkgate_tests::{assert_validation, table_mentions, Stack, TestTenant};
use serde_json::{json, Value};

const DD_KEY: &str = "0123456789abcdef0123456789abcdef";
const DD_APP: &str = "0123456789abcdef0123456789abcdef01234567";

async fn credential(t: &TestTenant, api_key: &str) -> String {
    let r = t
        .admin
        .post(
            "/v1/credentials",
            &json!({"provider": "datadog", "values": {"api_key": api_key, "application_key": DD_APP}, "connection_fields": {"site": "datadoghq.eu"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn tenant_with_datadog() -> TestTenant {
    let t = Stack::get().tenant().await;
    let r = t
        .admin
        .post("/v1/integrations", &json!({"provider": "datadog"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    t
}

#[tokio::test]
async fn stored_credentials_are_validated_sealed_and_never_returned() {
    let t = tenant_with_datadog().await;
    let secret = "fedcba9876543210fedcba9876543210";
    let r = t
        .admin
        .post(
            "/v1/credentials",
            &json!({"provider": "datadog", "values": {"api_key": secret, "application_key": DD_APP}, "connection_fields": {"site": "datadoghq.com"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let body = r.json();
    assert!(body["id"].as_str().unwrap().starts_with("crd_"));
    assert_eq!(body["provider"], "datadog");
    assert!(body["expires_at"].as_str().is_some());
    assert!(!r.text.contains(secret));
    assert!(table_mentions(secret).await.is_empty(), "sealed at rest");

    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"provider": "datadog"}), vec!["values"]),
        (json!({"provider": "nope", "values": {}}), vec!["provider"]),
        (json!({"values": {}}), vec!["provider"]),
        (
            json!({"provider": "github", "values": {}}),
            vec!["provider"],
        ),
        (
            json!({"provider": "datadog", "integration_id": "int_0193a1b2c3d47000800000000000000b", "values": {}}),
            vec!["provider"],
        ),
        (
            json!({"provider": "datadog", "values": {"api_key": "short", "application_key": DD_APP}, "connection_fields": {"site": "datadoghq.eu"}}),
            vec!["values.api_key"],
        ),
        (
            json!({"provider": "datadog", "values": {"api_key": DD_KEY, "application_key": DD_APP}}),
            vec!["connection_fields.site"],
        ),
        (
            json!({"provider": "datadog", "values": [], "extra": 1}),
            vec!["extra", "values"],
        ),
        (
            json!({"integration_id": "int_0193a1b2c3d47000800000000000000b", "values": {}}),
            vec!["integration_id"],
        ),
    ];
    for (body, fields) in cases {
        let r = t.admin.post("/v1/credentials", &body).await;
        assert_validation(&r, &fields);
    }
    let r = t
        .member
        .post(
            "/v1/credentials",
            &json!({"provider": "datadog", "values": {}}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.error_code(), "forbidden");
    let r = Stack::get()
        .anonymous()
        .post("/v1/credentials", &json!({}))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "unauthorized");
}

#[tokio::test]
async fn an_api_key_provider_connects_from_a_stored_credential() {
    let stack = Stack::get();
    let t = tenant_with_datadog().await;
    let owner = t.consumer(&json!({"name": "Direct"})).await;
    let crd = credential(&t, DD_KEY).await;

    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd, "consumer_id": owner, "metadata": {"team": "ops"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["status"], "connected");
    assert_eq!(body["provider"], "datadog");
    assert_eq!(body["consumer_id"], json!(owner));
    assert!(body["connected_at"].as_str().is_some());
    let id = body["connection_id"].as_str().unwrap();

    let c = t.admin.get(&format!("/v1/connections/{id}")).await.json();
    assert_eq!(c["status"], "active");
    assert_eq!(c["name"], "Datadog");
    assert_eq!(c["metadata"], json!({"team": "ops"}));
    let listed = t
        .admin
        .get(&format!("/v1/consumers/{owner}/connections"))
        .await
        .json();
    assert_eq!(listed["data"][0]["id"], json!(id));
    let creds = t
        .admin
        .get(&format!("/v1/connections/{id}/credentials"))
        .await
        .json();
    assert_eq!(creds["credentials"]["api_key"], DD_KEY);
    assert_eq!(creds["connection_fields"]["site"], "datadoghq.eu");
    let events = stack.events(&t.id, "connection.created").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["change"], "connected");

    // Single use: the credential moved into the connection.
    let other = t.consumer(&json!({"name": "Direct"})).await;
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd, "consumer_id": other}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.error_code(), "credential_not_found");

    // The same owner and provider again: 409, whatever the credential.
    let again = credential(&t, DD_KEY).await;
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": again, "consumer_id": owner}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "already_connected");
    assert!(r.text.contains(id), "names the live connection: {}", r.text);
}

#[tokio::test]
async fn without_a_consumer_the_tenant_owns_the_connection_once() {
    let t = tenant_with_datadog().await;
    let (a, b) = (credential(&t, DD_KEY).await, credential(&t, DD_KEY).await);
    let (body_a, body_b) = (json!({"credential_id": a}), json!({"credential_id": b}));
    let (ra, rb) = tokio::join!(
        t.admin.post("/v1/integrations/datadog/connect", &body_a),
        t.admin.post("/v1/integrations/datadog/connect", &body_b),
    );
    let mut statuses = vec![ra.status.as_u16(), rb.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![200, 409], "{} / {}", ra.text, rb.text);
    let winner = if ra.status == 200 {
        ra.json()
    } else {
        rb.json()
    };
    assert_eq!(winner["consumer_id"], Value::Null);
    let id = winner["connection_id"].as_str().unwrap().to_owned();
    let c = t.admin.get(&format!("/v1/connections/{id}")).await.json();
    assert_eq!(c["consumer_id"], Value::Null);
    assert_eq!(c["status"], "active");

    // Revoking frees the place for a new connection.
    assert_eq!(
        t.admin
            .delete(&format!("/v1/connections/{id}"))
            .await
            .status,
        200
    );
    let c = credential(&t, DD_KEY).await;
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": c}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn every_documented_error_of_connect() {
    let stack = Stack::get();
    let t = tenant_with_datadog().await;
    let crd = credential(&t, DD_KEY).await;

    let r = t
        .admin
        .post(
            "/v1/integrations/nope/connect",
            &json!({"credential_id": crd}),
        )
        .await;
    assert_validation(&r, &["provider"]);
    let r = t
        .admin
        .post(
            "/v1/integrations/stripe/connect",
            &json!({"credential_id": crd}),
        )
        .await;
    assert_validation(&r, &["provider"]); // known provider, not enabled here
    let r = t
        .admin
        .post(
            "/v1/integrations/int_0193a1b2c3d47000800000000000000b/connect",
            &json!({"credential_id": crd}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.error_code(), "not_found");
    let r = t
        .admin
        .post("/v1/integrations/datadog/connect", &json!({}))
        .await;
    assert_validation(&r, &["credential_id"]);
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd, "redirect_url": "https://app.example.com/back"}),
        )
        .await;
    assert_validation(&r, &["redirect_url"]);
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": "crd_x"}),
        )
        .await;
    assert_validation(&r, &["credential_id"]);
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": "crd_0193a1b2c3d47000800000000000000e"}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.error_code(), "credential_not_found");
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd, "consumer_id": "csm_0193a1b2c3d47000800000000000000a"}),
        )
        .await;
    assert_validation(&r, &["consumer_id"]);
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd, "color": "red"}),
        )
        .await;
    assert_validation(&r, &["color"]);

    // A credential of another provider.
    assert_eq!(
        t.admin
            .post("/v1/integrations", &json!({"provider": "stripe"}))
            .await
            .status,
        201
    );
    let r = t
        .admin
        .post(
            "/v1/integrations/stripe/connect",
            &json!({"credential_id": crd}),
        )
        .await;
    assert_validation(&r, &["credential_id"]);

    // Another tenant's credential does not exist here.
    let other = tenant_with_datadog().await;
    let r = other
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd}),
        )
        .await;
    assert_eq!(r.error_code(), "credential_not_found");

    let r = t
        .member
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "forbidden");
    let r = stack
        .anonymous()
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd}),
        )
        .await;
    assert_eq!(r.status, 401);

    // Nothing above used the credential up.
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(stack.events(&t.id, "connection.created").await.len() == 1);
}

#[tokio::test]
async fn a_retried_connect_with_the_same_idempotency_key_answers_the_same() {
    let t = tenant_with_datadog().await;
    let crd = credential(&t, DD_KEY).await;
    let body = json!({"credential_id": crd}).to_string().into_bytes();
    let send = || {
        t.admin.raw(
            reqwest::Method::POST,
            "/v1/integrations/datadog/connect",
            Some(("application/json", body.clone())),
            &[("idempotency-key", "connect-once-1")],
        )
    };
    let first = send().await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = send().await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(first.json(), second.json());
    assert_eq!(second.headers["idempotent-replayed"], "true");
    // The same key with another request is a conflict, not a replay.
    let other = t
        .admin
        .raw(
            reqwest::Method::POST,
            "/v1/integrations/datadog/connect",
            Some((
                "application/json",
                json!({"credential_id": crd, "name": "x"})
                    .to_string()
                    .into_bytes(),
            )),
            &[("idempotency-key", "connect-once-1")],
        )
        .await;
    assert_eq!(other.status, 409, "{}", other.text);
    assert_eq!(other.error_code(), "conflict");
}

#[tokio::test]
async fn an_oauth_provider_answers_an_authorization_url_whose_callback_connects() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let owner = t.consumer(&json!({"name": "Direct"})).await;

    let r = t
        .admin
        .post(
            "/v1/integrations/oidc-mock/connect",
            &json!({"consumer_id": owner}),
        )
        .await;
    assert_validation(&r, &["redirect_url"]);
    let r = t
        .admin
        .post("/v1/integrations/oidc-mock/connect", &json!({"redirect_url": "http://localhost:4000/back", "credential_id": "crd_0193a1b2c3d47000800000000000000e"}))
        .await;
    assert_validation(&r, &["credential_id"]);
    let r = t
        .admin
        .post(
            "/v1/integrations/oidc-mock/connect",
            &json!({"redirect_url": "ftp://nope"}),
        )
        .await;
    assert_validation(&r, &["redirect_url"]);

    let r = t
        .admin
        .post(
            &format!("/v1/integrations/{}/connect", app.integration_id),
            &json!({"redirect_url": "http://localhost:4000/back", "consumer_id": owner}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    // The platform sends its user's browser to our domain first, which binds the consent to
    // that browser (a cookie) and passes it on to the provider.
    let ours = body["authorization_url"].as_str().unwrap();
    assert!(
        ours.starts_with(&format!("{}/connect/lnk_", stack.api_base_url)),
        "{ours}"
    );
    assert_eq!(
        query_param(ours, "state"),
        body["state"].as_str().map(String::from)
    );
    let browser = stack.anonymous();
    let passed = browser.get(&local_path(ours)).await;
    assert_eq!(passed.status, 302, "{}", passed.text);
    assert!(passed.headers["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("linkgate_oauth="));
    let url = passed.headers["location"].to_str().unwrap().to_owned();
    let url = url.as_str();
    assert!(
        url.starts_with("http://127.0.0.1:9400/oauth2/authorize?"),
        "{url}"
    );
    assert_eq!(
        query_param(url, "state"),
        body["state"].as_str().map(String::from)
    );
    assert_eq!(
        query_param(url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    // Reloading in the same browser passes again; another browser is refused.
    assert_eq!(browser.get(&local_path(ours)).await.status, 302);
    let other = stack.anonymous().get(&local_path(ours)).await;
    assert_eq!(other.status, 400, "{}", other.text);
    assert!(other.text.contains("another browser"), "{}", other.text);
    let id = body["connection_id"].as_str().unwrap();
    assert_eq!(
        t.admin.get(&format!("/v1/connections/{id}")).await.json()["status"],
        "pending"
    );

    let callback = sign_in(url, Some(&format!("direct-{}", app.client_id))).await;
    let elsewhere = stack.anonymous().get(&local_path(&callback)).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.text);
    let r = browser.get(&local_path(&callback)).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap();
    assert!(to.starts_with("http://localhost:4000/back?"), "{to}");
    assert_eq!(query_param(to, "status").as_deref(), Some("active"));
    assert_eq!(query_param(to, "connectionId").as_deref(), Some(id));
    let c = t.admin.get(&format!("/v1/connections/{id}")).await.json();
    assert_eq!(c["status"], "active");
    assert_eq!(c["consumer_id"], json!(owner));
    assert_eq!(stack.events(&t.id, "connection.created").await.len(), 1);

    let r = t
        .admin
        .post(
            "/v1/integrations/oidc-mock/connect",
            &json!({"redirect_url": "http://localhost:4000/back", "consumer_id": owner}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "already_connected");
}

/// One live connection per owner and provider holds for OAuth too: of concurrent starts for
/// one consumer only one gets an authorization URL (the others 409 `already_connected`), and
/// its consent makes the one active connection.
#[tokio::test]
async fn concurrent_oauth_connects_of_one_owner_end_in_one_connection() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let owner = t.consumer(&json!({"name": "Direct"})).await;
    let mut racers = Vec::new();
    for _ in 0..5 {
        let admin = t.admin.clone();
        let owner = owner.clone();
        racers.push(tokio::spawn(async move {
            admin
                .post(
                    "/v1/integrations/oidc-mock/connect",
                    &json!({"redirect_url": "http://localhost:4000/back", "consumer_id": owner}),
                )
                .await
        }));
    }
    let mut started = Vec::new();
    for racer in racers {
        let r = racer.await.unwrap();
        match r.status.as_u16() {
            200 => started.push(r.json()),
            409 => assert_eq!(r.error_code(), "already_connected", "{}", r.text),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(started.len(), 1, "one start wins: {started:?}");
    for s in &started {
        let browser = stack.anonymous();
        let url = oauth::via_our_domain(&browser, s["authorization_url"].as_str().unwrap()).await;
        let callback = sign_in(&url, Some(&format!("racer-{}", app.client_id))).await;
        let r = browser.get(&local_path(&callback)).await;
        assert_eq!(r.status, 303, "{}", r.text);
    }
    let conns = t
        .admin
        .get(&format!("/v1/consumers/{owner}/connections"))
        .await
        .json();
    let active: Vec<&Value> = conns["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "{conns}");
}

/// A start whose consent never came does not block the owner for ever: once its link
/// expired, a new start takes its place, and the stale one can no longer complete.
#[tokio::test]
async fn an_abandoned_oauth_connect_gives_way_once_expired() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let owner = t.consumer(&json!({"name": "Direct"})).await;
    let start = || async {
        t.admin
            .post(
                "/v1/integrations/oidc-mock/connect",
                &json!({"redirect_url": "http://localhost:4000/back", "consumer_id": owner}),
            )
            .await
    };
    let first = start().await;
    assert_eq!(first.status, 200, "{}", first.text);
    let blocked = start().await;
    assert_eq!(blocked.status, 409, "in progress: {}", blocked.text);
    assert_eq!(blocked.error_code(), "already_connected");

    // the first start's time runs out (its link, its hold on the owner)
    let store = stack.store().await;
    let guard = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :g)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("T#{}", t.id)))
        .expression_attribute_values(":g", AttributeValue::S(format!("CONNECTED#{owner}#")))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(guard.len(), 1, "the start holds the owner");
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", guard[0]["pk"].clone())
        .key("sk", guard[0]["sk"].clone())
        .update_expression("SET pending_until = :past")
        .expression_attribute_values(":past", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();

    let second = start().await;
    assert_eq!(
        second.status, 200,
        "the stale hold gave way: {}",
        second.text
    );
    let browser = stack.anonymous();
    let stale = sign_in(
        &oauth::via_our_domain(
            &browser,
            first.json()["authorization_url"].as_str().unwrap(),
        )
        .await,
        Some(&format!("stale-{}", app.client_id)),
    )
    .await;
    let r = browser.get(&local_path(&stale)).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap();
    assert_eq!(query_param(to, "status").as_deref(), Some("error"), "{to}");
    let fresh = sign_in(
        &oauth::via_our_domain(
            &browser,
            second.json()["authorization_url"].as_str().unwrap(),
        )
        .await,
        Some(&format!("fresh-{}", app.client_id)),
    )
    .await;
    assert_eq!(browser.get(&local_path(&fresh)).await.status, 303);
    let first_id = first.json()["connection_id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.admin
            .get(&format!("/v1/connections/{first_id}"))
            .await
            .json()["status"],
        "pending",
        "the stale start never became a second live connection"
    );
}
