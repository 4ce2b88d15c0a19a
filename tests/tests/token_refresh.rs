//! Keeping OAuth credentials alive: refresh on read, single flight, `needs_reauth` with a
//! reconnect link that works, and outages that never flip the status. The local provider's
//! first tokens live four minutes, inside the read window, so the first read refreshes.

use linkgate_tests::oauth;
use linkgate_tests::receiver::Receiver;
use linkgate_tests::{queue_mentions, table_mentions, Stack, TestTenant};
use serde_json::{json, Value};
use std::time::Duration;

struct Connected {
    t: TestTenant,
    app: oauth::OAuthApp,
    id: String,
    sub: String,
}

impl Connected {
    async fn read(&self) -> linkgate_tests::Reply {
        self.t
            .admin
            .get(&format!("/v1/connections/{}/credentials", self.id))
            .await
    }
    async fn connection(&self) -> Value {
        self.t
            .admin
            .get(&format!("/v1/connections/{}", self.id))
            .await
            .json()
    }
    async fn refreshes(&self) -> usize {
        Stack::get()
            .token_calls(&self.app.client_id)
            .await
            .iter()
            .filter(|c| c["grant_type"] == "refresh_token")
            .count()
    }
}

/// An active connection through the real dance, signed in as a user no other test uses.
async fn connected(name: &str) -> Connected {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let conn = t
        .connection(
            &json!({"name": name}),
            &json!({"name": name, "integration_id": app.integration_id}),
        )
        .await;
    let sub = format!("{name}-{}", app.client_id);
    let r = oauth::complete(
        &stack.anonymous(),
        conn["link"]["url"].as_str().unwrap(),
        &sub,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    Connected {
        t,
        app,
        id: conn["id"].as_str().unwrap().to_owned(),
        sub,
    }
}

#[tokio::test]
async fn a_read_refreshes_a_token_that_expires_within_five_minutes_and_only_then() {
    let c = connected("reader").await;
    let before = c.connection().await["token_expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(c.refreshes().await, 0);

    let first = c.read().await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        c.refreshes().await,
        1,
        "the four-minute token was refreshed"
    );
    let first = first.json();
    let after = c.connection().await;
    assert_eq!(after["status"], "active");
    let new_expiry = after["token_expires_at"].as_str().unwrap();
    assert!(new_expiry > before.as_str(), "{new_expiry} after {before}");
    assert_eq!(first["credentials"]["expires_at"], json!(new_expiry));

    // The refreshed token lives an hour: no further call, the same token.
    let second = c.read().await.json();
    assert_eq!(c.refreshes().await, 1);
    assert_eq!(
        second["credentials"]["access_token"],
        first["credentials"]["access_token"]
    );
    assert!(second["credentials"].get("refresh_token").is_none());
}

#[tokio::test]
async fn concurrent_reads_refresh_once_and_all_get_the_new_token() {
    let stack = Stack::get();
    let c = connected("crowd").await;
    // Hold the winner at the provider for a second so the others find the lease taken.
    stack
        .token_fault(
            &c.app.client_id,
            json!({"mode": "slow", "seconds": 1, "times": 1}),
        )
        .await;
    let replies = futures_util::future::join_all((0..6).map(|_| c.read())).await;
    let tokens: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text);
            r.json()["credentials"]["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        c.refreshes().await,
        1,
        "one call to the provider, whoever asked"
    );
    assert!(tokens.windows(2).all(|w| w[0] == w[1]), "{tokens:?}");
    let after = c.connection().await;
    assert_eq!(after["status"], "active");
}

/// The same race between two containers, made certain: two apps (each with its own caches,
/// as two Lambda containers have) refresh one connection at the same moment.
#[tokio::test]
async fn two_containers_refreshing_at_once_make_one_provider_call() {
    use linkgate::connection::refresh::{ensure_fresh, Outcome, READ_WINDOW};
    let stack = Stack::get();
    let c = connected("racer").await;
    stack
        .token_fault(
            &c.app.client_id,
            json!({"mode": "slow", "seconds": 1, "times": 1}),
        )
        .await;
    let (a, b) = (stack.app(), stack.app());
    let load = |app: &linkgate::App| {
        let tenant = c.t.id.clone();
        let id = linkgate::id::ConnectionId::parse(&c.id).unwrap();
        let store = app.store.clone();
        async move {
            linkgate::connection::get(&store, &tenant, &id)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (ca, cb) = (load(&a).await, load(&b).await);
    let base = stack.api_base_url.clone();
    let (ra, rb) = tokio::join!(
        ensure_fresh(&a, ca, READ_WINDOW, &base, None),
        ensure_fresh(&b, cb, READ_WINDOW, &base, None)
    );
    let (ra, rb) = (ra.expect("first container"), rb.expect("second container"));
    let mut outcomes = vec![ra.2, rb.2];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, vec![Outcome::ReadBack, Outcome::Refreshed]);
    assert_eq!(c.refreshes().await, 1);
    assert_eq!(ra.1.text("access_token"), rb.1.text("access_token"));
    let stored = c.connection().await;
    assert_eq!(stored["status"], "active");
    assert_eq!(
        c.read().await.json()["credentials"]["access_token"],
        json!(ra.1.text("access_token"))
    );
}

#[tokio::test]
async fn a_refused_grant_means_needs_reauth_with_a_reconnect_link_that_works() {
    let stack = Stack::get();
    let c = connected("leaver").await;
    let receiver = Receiver::start(vec![], None).await;
    let hook =
        c.t.admin
            .post(
                "/v1/webhooks",
                &json!({"url": receiver.url, "events": ["connection.needs_reauth"]}),
            )
            .await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    stack.revoke_provider_grants(&c.sub).await;

    let r = c.read().await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "needs_reauth");
    let conn = c.connection().await;
    assert_eq!(conn["status"], "needs_reauth");
    assert_eq!(conn["reauth_reason"], "invalid_grant");
    // reads stay refused without calling the provider again
    let calls = c.refreshes().await;
    assert_eq!(c.read().await.error_code(), "needs_reauth");
    assert_eq!(c.refreshes().await, calls);

    let events = stack.events(&c.t.id, "connection.needs_reauth").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let data = &events[0]["data"];
    assert_eq!(data["connection"]["id"], json!(c.id));
    assert_eq!(data["reason"], "invalid_grant");
    // The reconnect link is named, never carried: its token exists at rest only as a hash.
    let link_id = data["reconnect_link"]["id"].as_str().unwrap().to_owned();
    assert_eq!(data["reconnect_link"]["status"], "waiting");
    assert!(data["reconnect_link"].get("url").is_none(), "{data}");
    assert_eq!(
        c.t.admin.get(&format!("/v1/links/{link_id}")).await.json()["status"],
        "waiting"
    );
    let hits = receiver.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(hits.len(), 1, "the signed webhook arrived");
    assert_eq!(
        hits[0].json()["data"]["reconnect_link"]["id"],
        json!(link_id)
    );
    let url_of_link = format!("/connect/{link_id}?token=");
    for hit in &hits {
        assert!(!hit.body.contains(&url_of_link), "{}", hit.body);
    }
    assert_eq!(table_mentions(&url_of_link).await, Vec::<String>::new());
    assert_eq!(queue_mentions(&url_of_link).await, Vec::<String>::new());
    let fanned = stack.invocations("webhook-fanout", since).await;
    assert!(
        fanned.iter().any(|i| i.to_string().contains(&link_id)),
        "EventBridge carried the event: {fanned:?}"
    );
    for invocation in &fanned {
        assert!(
            !invocation.to_string().contains(&url_of_link),
            "{invocation}"
        );
    }

    // The platform asks for a URL when it wants one to show; the customer reconnects
    // through it and the same connection is active again.
    let fresh =
        c.t.admin
            .post(&format!("/v1/connections/{}/links", c.id), &json!({}))
            .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    let reconnect = fresh.json()["url"].as_str().unwrap().to_owned();
    assert!(
        reconnect.starts_with(&format!("{}/connect/lnk_", stack.api_base_url)),
        "{reconnect}"
    );
    assert_eq!(
        c.t.admin.get(&format!("/v1/links/{link_id}")).await.json()["status"],
        "revoked",
        "one open link per connection"
    );
    let r = oauth::complete(&stack.anonymous(), &reconnect, &c.sub).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let conn = c.connection().await;
    assert_eq!(conn["status"], "active");
    assert_eq!(conn["reauth_reason"], Value::Null);
    let updated = stack.events(&c.t.id, "connection.updated").await;
    let reauth: Vec<&Value> = updated
        .iter()
        .filter(|e| e["data"]["change"] == "reauthenticated")
        .collect();
    assert_eq!(reauth.len(), 1, "{updated:?}");
    assert_eq!(reauth[0]["data"]["previous_status"], "needs_reauth");
    assert_eq!(c.read().await.status, 200);
}

#[tokio::test]
async fn outages_are_retried_and_never_change_the_status() {
    let stack = Stack::get();
    let c = connected("patient").await;

    // Down for every attempt: three tries with backoff, then the stored token (still valid
    // for a few minutes) is returned and nothing changes.
    stack
        .token_fault(
            &c.app.client_id,
            json!({"mode": "status", "status": 503, "times": 3}),
        )
        .await;
    let r = c.read().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(c.refreshes().await, 3, "retried");
    assert_eq!(c.connection().await["status"], "active");

    // Busy once with Retry-After: the next attempt succeeds.
    stack
        .token_fault(
            &c.app.client_id,
            json!({"mode": "status", "status": 429, "retry_after": 1, "times": 1}),
        )
        .await;
    let r = c.read().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let calls = stack.token_calls(&c.app.client_id).await;
    let refreshes: Vec<f64> = calls
        .iter()
        .filter(|c| c["grant_type"] == "refresh_token")
        .map(|c| c["at"].as_f64().unwrap())
        .collect();
    assert_eq!(refreshes.len(), 5);
    assert!(
        refreshes[4] - refreshes[3] >= 0.9,
        "Retry-After honoured: {refreshes:?}"
    );
    assert_eq!(c.connection().await["status"], "active");
    assert!(c.connection().await["token_expires_at"].as_str().is_some());
}

#[tokio::test]
async fn an_expired_token_with_the_provider_down_is_a_503_not_a_status_change() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let consumer = t.consumer(&json!({"name": "Imported"})).await;
    let import = |expires_at: &str| {
        json!({
            "consumer_id": consumer, "integration_id": app.integration_id, "name": "Imported",
            "credentials": {"access_token": "at-imported", "refresh_token": "rt-imported", "expires_at": expires_at}
        })
    };

    // A token the caller says is good for an hour is returned as is: no provider call.
    let fresh = t
        .admin
        .post("/v1/connections", &import("2099-01-01T00:00:00Z"))
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    let r = t
        .admin
        .get(&format!(
            "/v1/connections/{}/credentials",
            fresh.json()["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["credentials"]["access_token"], "at-imported");
    assert!(stack.token_calls(&app.client_id).await.is_empty());

    // An expired one must be refreshed; the provider is down.
    let expired = t
        .admin
        .post("/v1/connections", &import("2020-01-01T00:00:00Z"))
        .await;
    let id = expired.json()["id"].as_str().unwrap().to_owned();
    stack
        .token_fault(&app.client_id, json!({"mode": "down"}))
        .await;
    let r = t
        .admin
        .get(&format!("/v1/connections/{id}/credentials"))
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error_code(), "provider_unavailable");
    assert_eq!(
        t.admin.get(&format!("/v1/connections/{id}")).await.json()["status"],
        "active"
    );
    stack.clear_token_faults(&app.client_id).await;

    // Back up: the provider does not know this made-up refresh token, a refusal.
    let r = t
        .admin
        .get(&format!("/v1/connections/{id}/credentials"))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "needs_reauth");
}

/// A read never starts a refresh it could not finish before its invocation ends (killed
/// after the provider rotated the refresh token, before storing it, it would lose the
/// grant). Deployed with a Timeout of 6 s, where the slowest refresh takes 21 s (the local
/// 2 s token timeout), against a slow provider: it serves the stored token, still valid, and
/// asks the provider nothing. With the template's Timeout the same read refreshes.
#[tokio::test]
async fn a_read_without_time_for_a_whole_refresh_serves_the_stored_token() {
    let c = connected("hurried").await;
    let stack = Stack::get();
    stack
        .token_fault(&c.app.client_id, json!({"mode": "slow", "seconds": 5}))
        .await;
    stack
        .deploy_copy("connections-credentials", "connections-credentials-6s", 6)
        .await;
    let path = format!("/v1/connections/{}/credentials", c.id);
    let event = linkgate_tests::api_event(
        "connections-credentials",
        &path,
        &[("id", &c.id)],
        c.t.admin.raw_key(),
        None,
    );
    let answer = stack
        .invoke("connections-credentials-6s", &event)
        .await
        .unwrap_or_else(|e| panic!("the read ran out of time: {e}"));
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert!(body["credentials"]["access_token"].is_string(), "{body}");
    assert_eq!(c.refreshes().await, 0, "no refresh was started");

    stack.clear_token_faults(&c.app.client_id).await;
    let r = c.read().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        c.refreshes().await,
        1,
        "with time enough, the read refreshes"
    );
}

/// Revoking a connection ends the grant at a provider that offers RFC 7009 revocation (the
/// local one does): its tokens stop working there, and the answer says so. When the provider
/// cannot be told, the connection is revoked on our side all the same and the answer says
/// `failed`; providers without an endpoint are `not_offered`; nothing held, `not_needed`.
#[tokio::test]
async fn revoking_a_connection_revokes_the_grant_at_the_provider() {
    let stack = Stack::get();
    let c = connected("revoker").await;
    let read = c.read().await;
    assert_eq!(read.status, 200, "{}", read.text);
    let access = read.json()["credentials"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let provider = stack.oauth_provider_url.clone().unwrap();
    let userinfo = |token: String| {
        let url = format!("{provider}/userinfo");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        userinfo(access.clone()).await,
        200,
        "the token works before"
    );

    let r = c.t.admin.delete(&format!("/v1/connections/{}", c.id)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "revoked");
    assert_eq!(r.json()["provider_revocation"], "revoked", "{}", r.text);
    let calls = stack.token_calls(&c.app.client_id).await;
    assert_eq!(
        calls
            .iter()
            .filter(|c| c["path"] == "/oauth2/revoke")
            .count(),
        1,
        "{calls:?}"
    );
    let after = userinfo(access).await;
    assert!(
        matches!(after, 400 | 401),
        "the grant is gone at the provider: {after}"
    );
    let again = c.t.admin.delete(&format!("/v1/connections/{}", c.id)).await;
    assert_eq!(again.json()["provider_revocation"], "not_needed");

    // The provider is down: revoked here regardless, and the answer says the provider was not.
    let down = connected("revoker-down").await;
    stack
        .token_fault(
            &down.app.client_id,
            json!({"mode": "status", "status": 503, "times": 1}),
        )
        .await;
    let r = down
        .t
        .admin
        .delete(&format!("/v1/connections/{}", down.id))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "revoked");
    assert_eq!(r.json()["provider_revocation"], "failed");
    assert_eq!(down.read().await.status, 409, "our copy is erased anyway");

    // A provider without a revocation endpoint, and a connection with nothing to revoke.
    let t = stack.tenant().await;
    let github = t
        .admin
        .create_id(
            "/v1/integrations",
            &json!({"provider": "github", "client_id": "Iv1.rev", "client_secret": "s"}),
        )
        .await;
    let consumer = t.consumer(&json!({"name": "Imported"})).await;
    let imported = t
        .admin
        .post(
            "/v1/connections",
            &json!({"consumer_id": consumer, "integration_id": github, "name": "GitHub",
                    "credentials": {"access_token": "gho_imported", "refresh_token": "ghr_imported"}}),
        )
        .await;
    assert_eq!(imported.status, 201, "{}", imported.text);
    let id = imported.json()["id"].as_str().unwrap().to_owned();
    let r = t.admin.delete(&format!("/v1/connections/{id}")).await;
    assert_eq!(r.json()["provider_revocation"], "not_offered", "{}", r.text);
    let pending = t
        .admin
        .post(
            &format!("/v1/consumers/{consumer}/connections"),
            &json!({"name": "Never connected", "integration_id": github}),
        )
        .await;
    let id = pending.json()["id"].as_str().unwrap().to_owned();
    let r = t.admin.delete(&format!("/v1/connections/{id}")).await;
    assert_eq!(r.json()["provider_revocation"], "not_needed", "{}", r.text);
}
