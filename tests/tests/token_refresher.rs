//! The scheduled refresher (its real binary, through the Lambda runtime API) refreshes the
//! tokens that expire within fifteen minutes, leaves the others alone, and turns a refused
//! grant into `needs_reauth`. Alone in its file: it sweeps every tenant's connections, which
//! would disturb other tests' call counts if they ran beside it.

use linkgate_tests::{oauth, root, runtime_api, Stack, TestTenant};
use serde_json::{json, Value};

async fn oauth_connection(t: &TestTenant, app: &oauth::OAuthApp, sub: &str) -> String {
    let stack = Stack::get();
    let conn = t
        .connection(
            &json!({"name": sub}),
            &json!({"name": sub, "integration_id": app.integration_id}),
        )
        .await;
    let r = oauth::complete(
        &stack.anonymous(),
        conn["link"]["url"].as_str().unwrap(),
        sub,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    conn["id"].as_str().unwrap().to_owned()
}

async fn sweep(stack: &Stack) -> Value {
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/token-refresher.json")).unwrap(),
    )
    .unwrap();
    runtime_api::invoke(
        &root().join("target/debug/token-refresher"),
        event,
        &stack.lambda_env("token-refresher"),
    )
    .await
    .expect("the refresher ran")
}

#[tokio::test]
async fn the_scheduled_refresher_keeps_tokens_alive() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let unique = app.client_id.clone();
    let due = oauth_connection(&t, &app, &format!("due-{unique}")).await;
    let gone_sub = format!("gone-{unique}");
    let gone = oauth_connection(&t, &app, &gone_sub).await;
    stack.revoke_provider_grants(&gone_sub).await;
    // A connection the tenant disabled: nothing is asked of the provider on its behalf.
    let paused = oauth_connection(&t, &app, &format!("paused-{unique}")).await;
    let pause = |on: bool| {
        let path = format!("/v1/connections/{paused}");
        let admin = t.admin.clone();
        async move {
            let r = admin.patch(&path, &json!({"disabled": on})).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    pause(true).await;

    // Another tenant's token that is good for hours is not touched.
    let other = stack.tenant().await;
    let other_app = oauth::integration(&other).await;
    let consumer = other.consumer(&json!({"name": "Later"})).await;
    let fresh = other
        .admin
        .post(
            "/v1/connections",
            &json!({
                "consumer_id": consumer, "integration_id": other_app.integration_id, "name": "Later",
                "credentials": {"access_token": "at", "refresh_token": "rt", "expires_at": "2099-01-01T00:00:00Z"}
            }),
        )
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);

    let before = t.admin.get(&format!("/v1/connections/{due}")).await.json();
    let counts = sweep(&stack).await;
    assert!(counts["refreshed"].as_u64().unwrap_or(0) >= 1, "{counts}");
    assert!(
        counts["needs_reauth"].as_u64().unwrap_or(0) >= 1,
        "{counts}"
    );
    assert!(counts.get("failed").is_none(), "{counts}");
    assert!(counts["disabled"].as_u64().unwrap_or(0) >= 1, "{counts}");

    let after = t.admin.get(&format!("/v1/connections/{due}")).await.json();
    assert_eq!(after["status"], "active");
    assert!(
        after["token_expires_at"].as_str() > before["token_expires_at"].as_str(),
        "{before} → {after}"
    );
    let refreshes = |calls: Vec<Value>| {
        calls
            .iter()
            .filter(|c| c["grant_type"] == "refresh_token")
            .count()
    };
    assert_eq!(
        refreshes(stack.token_calls(&app.client_id).await),
        2,
        "one per due connection"
    );
    assert_eq!(refreshes(stack.token_calls(&other_app.client_id).await), 0);

    let gone = t.admin.get(&format!("/v1/connections/{gone}")).await.json();
    assert_eq!(gone["status"], "needs_reauth");
    assert_eq!(
        stack.events(&t.id, "connection.needs_reauth").await.len(),
        1
    );

    // A second sweep finds nothing due for this tenant: no new calls.
    let again = sweep(&stack).await;
    assert!(again.get("failed").is_none(), "{again}");
    assert_eq!(refreshes(stack.token_calls(&app.client_id).await), 2);
    // And a read now needs no refresh either.
    let r = t
        .admin
        .get(&format!("/v1/connections/{due}/credentials"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(refreshes(stack.token_calls(&app.client_id).await), 2);

    // Enabled again, the paused one is refreshed by the next sweep.
    pause(false).await;
    sweep(&stack).await;
    assert_eq!(refreshes(stack.token_calls(&app.client_id).await), 3);
}
