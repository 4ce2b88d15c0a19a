//! Webhook recovery and auto-disable, through the real pipeline (bus → fan-out → SQS →
//! deliver, and the recovery queue → `webhook-recover`) to receivers on loopback that go
//! down and come back. The local stack retries at 0, 1, 1, 1, 2 seconds and disables an
//! endpoint after 15 s of nothing but failures.

use linkgate_tests::receiver::{Answer, Receiver};
use linkgate_tests::{assert_validation, eventually, Stack, TestTenant};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

async fn endpoint(t: &TestTenant, url: &str) -> String {
    let r = t
        .admin
        .post("/v1/webhooks", &json!({"url": url, "events": ["*"]}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn send_test(t: &TestTenant, wh: &str) -> String {
    let r = t
        .admin
        .post(&format!("/v1/webhooks/{wh}/test"), &json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.json()["event_id"].as_str().unwrap().to_owned()
}

async fn deliveries(t: &TestTenant, wh: &str) -> Vec<Value> {
    let r = t.admin.get(&format!("/v1/webhooks/{wh}/deliveries")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"].as_array().unwrap().clone()
}

/// Waits until `n` deliveries of the endpoint are all `status`.
async fn all_settled(t: &TestTenant, wh: &str, n: usize, status: &str) -> Vec<Value> {
    eventually(
        WAIT,
        async || deliveries(t, wh).await,
        |all| all.len() == n && all.iter().all(|d| d["status"] == status),
    )
    .await
}

fn now_minus(seconds: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Requests to the receiver, counted by `webhook-id`.
fn hits_by_id(r: &Receiver) -> BTreeMap<String, usize> {
    let mut by_id = BTreeMap::new();
    for h in r.hits() {
        *by_id.entry(h.header("webhook-id")).or_insert(0) += 1;
    }
    by_id
}

async fn recovery_done(t: &TestTenant, wh: &str, id: &str) -> Value {
    eventually(
        WAIT,
        async || {
            t.admin
                .get(&format!("/v1/webhooks/{wh}/recoveries/{id}"))
                .await
                .json()
        },
        |r| r["status"] != "running",
    )
    .await
}

#[tokio::test]
async fn recover_resends_what_a_receiver_missed_once_with_the_same_ids() {
    let t = Stack::get().tenant().await;
    // Up for the first event, then down.
    let r = Receiver::start(vec![Answer::status(200)], Some(Answer::status(503))).await;
    let wh = endpoint(&t, &r.url).await;
    let delivered = send_test(&t, &wh).await;
    all_settled(&t, &wh, 1, "succeeded").await;
    let since = now_minus(0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut missed = Vec::new();
    for _ in 0..3 {
        missed.push(send_test(&t, &wh).await);
    }
    let log = eventually(
        WAIT,
        async || deliveries(&t, &wh).await,
        |all| all.iter().filter(|d| d["status"] == "failed").count() == 3,
    )
    .await;
    assert_eq!(
        log.iter().filter(|d| d["status"] == "failed").count(),
        3,
        "{log:?}"
    );
    assert_eq!(r.hits().len(), 1 + 3 * 5, "five attempts each");

    // The receiver is back: recover from the moment it went down.
    r.answer_from_now(None);
    let started = t
        .admin
        .post(
            &format!("/v1/webhooks/{wh}/recover"),
            &json!({"since": since}),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let started = started.json();
    assert_eq!(started["status"], "running");
    assert_eq!(started["endpoint_id"], wh.as_str());
    let id = started["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("rcv_"), "{id}");

    let done = recovery_done(&t, &wh, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["resent"], 3, "{done}");
    assert!(done["examined"].as_u64().unwrap() >= 3, "{done}");
    assert!(done["completed_at"].is_string(), "{done}");

    all_settled(&t, &wh, 4, "succeeded").await;
    let by_id = hits_by_id(&r);
    assert_eq!(by_id.get(&delivered), Some(&1), "not sent again: {by_id:?}");
    for event in &missed {
        assert_eq!(
            by_id.get(event),
            Some(&6),
            "five failures, then once more under the same webhook-id: {by_id:?}"
        );
    }

    // Nothing failed is left: a second recovery sends nothing.
    let again = t
        .admin
        .post(
            &format!("/v1/webhooks/{wh}/recover"),
            &json!({"since": now_minus(3600)}),
        )
        .await;
    assert_eq!(again.status, 202, "{}", again.text);
    let again = recovery_done(&t, &wh, again.json()["id"].as_str().unwrap()).await;
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(again["resent"], 0, "{again}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(r.hits().len(), 1 + 3 * 6, "nothing twice");
}

#[tokio::test]
async fn recover_refuses_what_it_cannot_do_and_hides_other_tenants() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let other = stack.tenant().await;
    let wh = endpoint(&t, "https://hooks.platform.example/in").await;
    let path = format!("/v1/webhooks/{wh}/recover");

    for (body, field) in [
        (json!({}), "since"),
        (json!({"since": "yesterday"}), "since"),
        (json!({"since": now_minus(-3600)}), "since"),
        (json!({"since": now_minus(40 * 86_400)}), "since"),
        (
            json!({"since": now_minus(60), "until": now_minus(120)}),
            "until",
        ),
        (json!({"since": now_minus(60), "from": "x"}), "from"),
    ] {
        let r = t.admin.post(&path, &body).await;
        assert_validation(&r, &[field]);
    }
    let body = json!({"since": now_minus(60)});
    assert_eq!(
        t.member.post(&path, &body).await.status,
        403,
        "members read only"
    );
    assert_eq!(other.admin.post(&path, &body).await.status, 404);
    assert_eq!(
        t.admin
            .post("/v1/webhooks/wh_nope/recover", &body)
            .await
            .status,
        404
    );

    let started = t.admin.post(&path, &body).await;
    assert_eq!(started.status, 202, "{}", started.text);
    let id = started.json()["id"].as_str().unwrap().to_owned();
    let read = format!("/v1/webhooks/{wh}/recoveries/{id}");
    assert_eq!(t.member.get(&read).await.status, 200, "members may read");
    assert_eq!(other.admin.get(&read).await.status, 404);
    let elsewhere = endpoint(&t, "https://hooks.platform.example/other").await;
    assert_eq!(
        t.admin
            .get(&format!("/v1/webhooks/{elsewhere}/recoveries/{id}"))
            .await
            .status,
        404,
        "a recovery belongs to its endpoint"
    );
    assert_eq!(
        t.admin
            .get(&format!("/v1/webhooks/{wh}/recoveries/rcv_nope"))
            .await
            .status,
        404
    );

    let disabled = t
        .admin
        .patch(&format!("/v1/webhooks/{wh}"), &json!({"enabled": false}))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    let r = t.admin.post(&path, &body).await;
    assert_eq!(r.status, 409, "{}", r.text);
}

/// Every email moto's SES accepted whose recipients include `to`, as JSON text.
async fn emails_to(to: &str) -> Vec<String> {
    Stack::get()
        .sent_emails()
        .await
        .iter()
        .map(Value::to_string)
        .filter(|m| m.contains(to))
        .collect()
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_window_is_disabled_with_an_event_and_an_email() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let contact = format!("ops-{}@platform.example", t.id.as_str());
    let s = t
        .admin
        .patch("/v1/settings", &json!({"contact_email": contact}))
        .await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.json()["contact_email"], contact.as_str());

    let r = Receiver::start(vec![], Some(Answer::status(500))).await;
    let wh = endpoint(&t, &r.url).await;
    send_test(&t, &wh).await;
    all_settled(&t, &wh, 1, "failed").await;
    let e = t.admin.get(&format!("/v1/webhooks/{wh}")).await.json();
    assert_eq!(e["enabled"], true, "{e}");
    let failing_since = e["failing_since"]
        .as_str()
        .expect("failing since")
        .to_owned();

    // Past the window, the next failure disables it.
    let since = chrono::DateTime::parse_from_rfc3339(&failing_since).unwrap();
    let window_ends = since + chrono::Duration::seconds(16);
    let wait = (window_ends.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
    send_test(&t, &wh).await;
    let e = eventually(
        WAIT,
        async || t.admin.get(&format!("/v1/webhooks/{wh}")).await.json(),
        |e| e["enabled"] == false,
    )
    .await;
    assert_eq!(e["enabled"], false, "{e}");
    let reason = e["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("every attempt failed for 15 seconds"),
        "{reason}"
    );
    assert_eq!(e["failing_since"], Value::Null);

    let events = eventually(
        WAIT,
        async || {
            t.admin.get("/v1/events?type=webhook.disabled").await.json()["data"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        },
        |events| !events.is_empty(),
    )
    .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["endpoint"]["id"], wh.as_str());
    assert_eq!(events[0]["data"]["endpoint"]["enabled"], false);
    assert_eq!(events[0]["data"]["failing_since"], failing_since.as_str());

    // Sent just after the event's write. Each look dumps all of moto's state, which stalls
    // it for everyone while it lasts: look seldom, not at `eventually`'s pace.
    let mut emails = Vec::new();
    for _ in 0..20 {
        emails = emails_to(&contact).await;
        if !emails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0].contains("disabled"), "{}", emails[0]);
    assert!(emails[0].contains(&wh), "{}", emails[0]);

    // Disabled: nothing more is attempted; enabled again, its failures start over.
    let hits = r.hits().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(r.hits().len() <= hits + 1, "at most the attempt in flight");
    let again = t
        .admin
        .patch(&format!("/v1/webhooks/{wh}"), &json!({"enabled": true}))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["enabled"], true);
    assert_eq!(again.json()["failing_since"], Value::Null);
    assert_eq!(again.json()["disabled_reason"], Value::Null);
}

#[tokio::test]
async fn a_success_ends_the_run_of_failures() {
    let t = Stack::get().tenant().await;
    let r = Receiver::start(vec![Answer::status(500), Answer::status(500)], None).await;
    let wh = endpoint(&t, &r.url).await;
    send_test(&t, &wh).await;
    let failing = eventually(
        WAIT,
        async || t.admin.get(&format!("/v1/webhooks/{wh}")).await.json(),
        |e| e["failing_since"].is_string(),
    )
    .await;
    assert!(failing["failing_since"].is_string(), "{failing}");
    all_settled(&t, &wh, 1, "succeeded").await;
    let e = eventually(
        WAIT,
        async || t.admin.get(&format!("/v1/webhooks/{wh}")).await.json(),
        |e| e["failing_since"].is_null(),
    )
    .await;
    assert_eq!(e["failing_since"], Value::Null, "{e}");
    assert_eq!(e["enabled"], true);
}

#[tokio::test]
async fn a_contact_address_must_be_an_address() {
    let t = Stack::get().tenant().await;
    for bad in [json!("not-an-address"), json!(5), json!("a@b")] {
        let r = t
            .admin
            .patch("/v1/settings", &json!({"contact_email": bad}))
            .await;
        assert_validation(&r, &["contact_email"]);
    }
    let r = t
        .admin
        .patch("/v1/settings", &json!({"contact_email": null}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["contact_email"], Value::Null);
}
