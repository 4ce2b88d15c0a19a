//! Webhooks end to end: the endpoints API, and deliveries through the real pipeline (bus →
//! rule → fan-out → SQS → deliver) to real HTTP receivers on loopback, with signatures
//! checked by an independent implementation (the `standardwebhooks` crate). The local
//! schedule is 0, 1, 1, 1, 2 seconds (five attempts).

use linkgate_tests::receiver::{Answer, Receiver};
use linkgate_tests::{assert_validation, eventually, table_mentions, Stack, TestTenant};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

async fn endpoint(t: &TestTenant, url: &str, events: Value) -> (String, String) {
    let r = t
        .admin
        .post("/v1/webhooks", &json!({"url": url, "events": events}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let b = r.json();
    (
        b["id"].as_str().unwrap().to_owned(),
        b["secret"].as_str().unwrap().to_owned(),
    )
}

fn verify(secret: &str, hit: &linkgate_tests::receiver::Hit) -> bool {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, hit.header(name).parse().unwrap());
    }
    wh.verify(hit.body.as_bytes(), &headers).is_ok()
}

async fn deliveries(t: &TestTenant, wh: &str) -> Vec<Value> {
    let r = t.admin.get(&format!("/v1/webhooks/{wh}/deliveries")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"].as_array().unwrap().clone()
}

/// Waits until the endpoint's newest delivery is `status` (the log is written after the
/// receiver answers).
async fn settled(t: &TestTenant, wh: &str, status: &str) -> Value {
    let all = eventually(
        WAIT,
        async || deliveries(t, wh).await,
        |all| all.first().is_some_and(|d| d["status"] == status),
    )
    .await;
    all.first().cloned().unwrap_or(Value::Null)
}

async fn send_test(t: &TestTenant, wh: &str) -> Value {
    let r = t
        .admin
        .post(&format!("/v1/webhooks/{wh}/test"), &json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.json()
}

/// An active connection made through the import route: one `connection.created`.
async fn connection_created(t: &TestTenant) -> String {
    let integration = t
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let integration = match integration.status.as_u16() {
        201 => integration.json()["id"].as_str().unwrap().to_owned(),
        _ => t.admin.get("/v1/integrations").await.json()["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let consumer = t.consumer(&json!({"name": "Hooked"})).await;
    let r = t
        .admin
        .post(
            "/v1/connections",
            &json!({"consumer_id": consumer, "integration_id": integration, "name": "Hooked",
                    "credentials": {"secret_key": "rk_test_51HookedKey000000"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

/// A platform moving from Chift or CauseFlow subscribes by the names it knows; the endpoint
/// holds ours, so what it lists is what it receives.
#[tokio::test]
async fn the_seed_services_event_names_subscribe_to_ours() {
    let t = Stack::get().tenant().await;
    for alias in ["account.connection.created", "integration.connected"] {
        let r = t
            .admin
            .post(
                "/v1/webhooks",
                &json!({"url": "https://hooks.platform.example/moved", "events": [alias, "link.expired"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            r.json()["events"],
            json!(["connection.created", "link.expired"])
        );
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let r = t
            .admin
            .patch(&format!("/v1/webhooks/{id}"), &json!({"events": [alias]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["events"], json!(["connection.created"]));
    }
}

#[tokio::test]
async fn the_endpoints_api_validates_everything_and_shows_secrets_once() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let r = t
        .admin
        .post(
            "/v1/webhooks",
            &json!({"url": "https://hooks.platform.example/linkgate", "events": ["connection.created"], "description": "prod"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert!(
        table_mentions(secret).await.is_empty(),
        "secrets are sealed"
    );
    let got = t.admin.get(&format!("/v1/webhooks/{id}")).await.json();
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["events"], json!(["connection.created"]));
    assert_eq!(
        t.member.get("/v1/webhooks").await.json()["data"][0]["id"],
        json!(id)
    );

    let r = t
        .admin
        .patch(
            &format!("/v1/webhooks/{id}"),
            &json!({"events": ["*"], "description": null, "enabled": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["events"], json!(["*"]));
    assert_eq!(r.json()["enabled"], false);
    assert_eq!(r.json()["disabled_reason"], "disabled by the tenant");
    assert_eq!(
        t.admin
            .post(&format!("/v1/webhooks/{id}/test"), &json!({}))
            .await
            .status,
        409
    );

    for (url, why) in [
        ("http://hooks.platform.example/x", "plain http"),
        ("https://localhost/x", "localhost"),
        ("https://api.localhost/x", "*.localhost"),
        ("https://10.0.0.8/x", "private"),
        ("https://192.168.1.10/x", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[::1]/x", "loopback v6"),
        ("https://[fd00:ec2::254]/x", "metadata v6"),
        (
            "http://127.0.0.2:8080/x",
            "loopback, not the allowed address",
        ),
        ("https://user:pw@hooks.platform.example/x", "credentials"),
        ("hooks.platform.example", "relative"),
    ] {
        let r = t
            .admin
            .post("/v1/webhooks", &json!({"url": url, "events": ["*"]}))
            .await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
        assert_validation(&r, &["url"]);
    }
    for (body, fields) in [
        (
            json!({"url": "https://h.platform.example/x"}),
            vec!["events"],
        ),
        (
            json!({"url": "https://h.platform.example/x", "events": []}),
            vec!["events"],
        ),
        (
            json!({"url": "https://h.platform.example/x", "events": ["connection.exploded"]}),
            vec!["events"],
        ),
        (
            json!({"url": "https://h.platform.example/x", "events": ["*", "link.opened"]}),
            vec!["events"],
        ),
        (
            json!({"url": "https://h.platform.example/x", "events": ["integration.connected", "connection.created"]}),
            vec!["events"],
        ),
        (
            json!({"events": ["*"], "secret": "mine"}),
            vec!["url", "secret"],
        ),
    ] {
        assert_validation(&t.admin.post("/v1/webhooks", &body).await, &fields);
    }
    assert_validation(
        &t.admin
            .patch(
                &format!("/v1/webhooks/{id}"),
                &json!({"url": "https://10.1.1.1/"}),
            )
            .await,
        &["url"],
    );
    assert_eq!(t.member.post("/v1/webhooks", &json!({})).await.status, 403);
    assert_eq!(stack.anonymous().get("/v1/webhooks").await.status, 401);
    let other = stack.tenant().await;
    assert_eq!(
        other
            .admin
            .get(&format!("/v1/webhooks/{id}"))
            .await
            .error_code(),
        "not_found"
    );
    assert_eq!(
        other
            .admin
            .get(&format!("/v1/webhooks/{id}/deliveries"))
            .await
            .status,
        404
    );
    assert_eq!(t.admin.get("/v1/webhooks/wh_nope").await.status, 404);
    assert_eq!(
        t.admin.delete(&format!("/v1/webhooks/{id}")).await.status,
        204
    );
    assert_eq!(t.admin.get(&format!("/v1/webhooks/{id}")).await.status, 404);
}

#[tokio::test]
async fn events_reach_the_endpoints_that_want_them_signed() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let wants = Receiver::start(vec![], None).await;
    let others = Receiver::start(vec![], None).await;
    let all = Receiver::start(vec![], None).await;
    let (_, wants_secret) = endpoint(&t, &wants.url, json!(["connection.created"])).await;
    endpoint(&t, &others.url, json!(["link.opened"])).await;
    let (_, all_secret) = endpoint(&t, &all.url, json!(["*"])).await;

    let conn = connection_created(&t).await;
    let hits = wants.wait_for(1, WAIT).await;
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert!(
        verify(&wants_secret, hit),
        "signature: {}",
        hit.header("webhook-signature")
    );
    assert!(
        !verify(&all_secret, hit),
        "another endpoint's secret does not verify it"
    );
    let body = hit.json();
    assert_eq!(body["type"], "connection.created");
    assert_eq!(body["data"]["connection"]["id"], json!(conn));
    assert_eq!(hit.header("webhook-id"), body["id"].as_str().unwrap());
    assert!(body["timestamp"].as_str().is_some());
    assert_eq!(hit.header("content-type"), "application/json");

    let all_hits = all.wait_for(1, WAIT).await;
    assert!(verify(&all_secret, &all_hits[0]));
    assert_eq!(all_hits[0].header("webhook-id"), hit.header("webhook-id"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(others.hits().is_empty(), "filtered by type");
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_the_same_webhook_id_when_it_recovers() {
    let t = Stack::get().tenant().await;
    let r = Receiver::start(
        vec![
            Answer::status(500),
            Answer::status(502),
            Answer::status(400),
        ],
        None,
    )
    .await;
    let (wh, secret) = endpoint(&t, &r.url, json!(["*"])).await;
    let sent = send_test(&t, &wh).await;
    let hits = r.wait_for(4, WAIT).await;
    assert_eq!(hits.len(), 4, "three failures, then success");
    let ids: BTreeSet<String> = hits.iter().map(|h| h.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "stable across retries: {ids:?}");
    assert_eq!(
        ids.iter().next().unwrap(),
        sent["event_id"].as_str().unwrap()
    );
    assert!(hits.iter().all(|h| verify(&secret, h)));
    assert!(
        hits.windows(2).all(|w| w[0].body == w[1].body),
        "the same body each time"
    );

    let d = settled(&t, &wh, "succeeded").await;
    assert_eq!(d["status"], "succeeded", "{d}");
    let codes: Vec<Value> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(502), json!(400), json!(200)]);
    assert!(d["attempts"][0]["latency_ms"].as_u64().is_some());
    assert_eq!(d["next_retry_at"], Value::Null);
}

#[tokio::test]
async fn retry_after_is_honoured_on_429_and_503() {
    let t = Stack::get().tenant().await;
    let r = Receiver::start(
        vec![
            Answer::status(429).with("retry-after", "3"),
            Answer::status(503).with("retry-after", "2"),
        ],
        None,
    )
    .await;
    let (wh, _) = endpoint(&t, &r.url, json!(["*"])).await;
    send_test(&t, &wh).await;
    let hits = r.wait_for(3, WAIT).await;
    assert_eq!(hits.len(), 3);
    // the local schedule waits 1 s; the receiver asked for more
    assert!(
        hits[1].at - hits[0].at >= Duration::from_millis(2900),
        "{:?}",
        hits[1].at - hits[0].at
    );
    assert!(
        hits[2].at - hits[1].at >= Duration::from_millis(1900),
        "{:?}",
        hits[2].at - hits[1].at
    );
    assert_eq!(settled(&t, &wh, "succeeded").await["status"], "succeeded");
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let t = Stack::get().tenant().await;
    let r = Receiver::start(vec![Answer::status(410)], None).await;
    let (wh, _) = endpoint(&t, &r.url, json!(["*"])).await;
    send_test(&t, &wh).await;
    let d = settled(&t, &wh, "failed").await;
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(
        d["attempts"].as_array().unwrap().len(),
        1,
        "no retry after 410"
    );
    let e = t.admin.get(&format!("/v1/webhooks/{wh}")).await.json();
    assert_eq!(e["enabled"], false);
    assert!(e["disabled_reason"].as_str().unwrap().contains("410"));
    // no more deliveries until the tenant enables it again
    connection_created(&t).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(r.hits().len(), 1);
    let again = t
        .admin
        .patch(&format!("/v1/webhooks/{wh}"), &json!({"enabled": true}))
        .await;
    assert_eq!(again.json()["enabled"], true);
    assert_eq!(again.json()["disabled_reason"], Value::Null);
}

#[tokio::test]
async fn exhausted_retries_land_in_the_dead_letter_queue_and_the_log_says_failed() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let r = Receiver::start(vec![], Some(Answer::status(500))).await;
    let (wh, _) = endpoint(&t, &r.url, json!(["*"])).await;
    let sent = send_test(&t, &wh).await;
    let d = settled(&t, &wh, "failed").await;
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(
        d["attempts"].as_array().unwrap().len(),
        5,
        "the local schedule has five attempts"
    );
    assert_eq!(r.hits().len(), 5);

    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .http_client(linkgate::aws::http_client())
            .endpoint_url(&stack.aws_endpoint_url)
            .region(aws_sdk_sqs::config::Region::new(stack.region.clone()))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .build(),
    );
    let queue = stack.function_env["LINKGATE_WEBHOOK_DLQ_URL"].clone();
    let delivery = sent["delivery_id"].as_str().unwrap();
    // Read the whole queue (each message hidden for a while so the next read moves on);
    // the function sends it just after logging `failed`.
    let found = eventually(
        WAIT,
        async || {
            let got = sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .visibility_timeout(20)
                .send()
                .await
                .unwrap();
            got.messages()
                .iter()
                .any(|m| m.body().unwrap_or_default().contains(delivery))
        },
        |found| *found,
    )
    .await;
    assert!(found, "the delivery's message is in the dead-letter queue");

    // A manual retry makes one more attempt, logged like the others.
    let retry = t
        .admin
        .post(
            &format!("/v1/webhooks/{wh}/deliveries/{delivery}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(retry.status, 202, "{}", retry.text);
    assert_eq!(r.wait_for(6, WAIT).await.len(), 6);
    let missing = t
        .admin
        .post(
            &format!("/v1/webhooks/{wh}/deliveries/dlv_nope/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn after_rotation_both_secrets_sign_during_the_overlap() {
    let t = Stack::get().tenant().await;
    let r = Receiver::start(vec![], None).await;
    let (wh, old) = endpoint(&t, &r.url, json!(["webhook.test"])).await;
    let rotated = t
        .admin
        .post(&format!("/v1/webhooks/{wh}/rotate-secret"), &json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new = rotated.json()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated.json()["previous_secrets_expire_at"]
        .as_str()
        .is_some());
    send_test(&t, &wh).await;
    let hit = r.wait_for(1, WAIT).await.remove(0);
    assert_eq!(hit.header("webhook-signature").split(' ').count(), 2);
    assert!(verify(&old, &hit), "the old secret still verifies");
    assert!(verify(&new, &hit), "the new one too");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let t = Stack::get().tenant().await;
    let elsewhere = Receiver::start(vec![], None).await;
    let r = Receiver::start(
        vec![],
        Some(Answer::status(307).with("location", &elsewhere.url)),
    )
    .await;
    let (wh, _) = endpoint(&t, &r.url, json!(["*"])).await;
    send_test(&t, &wh).await;
    let d = settled(&t, &wh, "failed").await;
    assert_eq!(d["attempts"][0]["status_code"], 307);
    assert_eq!(d["attempts"][0]["error"], "redirect not followed");
    assert!(elsewhere.hits().is_empty());
}

#[tokio::test]
async fn two_hundred_events_to_five_endpoints_none_lost() {
    let t = Stack::get().tenant().await;
    let mut receivers = Vec::new();
    for _ in 0..5 {
        let r = Receiver::start(vec![], None).await;
        endpoint(&t, &r.url, json!(["connection.updated"])).await;
        receivers.push(r);
    }
    let conn = connection_created(&t).await;
    for i in 0..200 {
        let r = t
            .admin
            .patch(
                &format!("/v1/connections/{conn}"),
                &json!({"metadata": {"n": i}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let stack = Stack::get();
    let sent: BTreeSet<String> = stack
        .events(&t.id, "connection.updated")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent.len(), 200);
    for r in &receivers {
        let got = eventually(
            Duration::from_secs(240),
            async || {
                r.hits()
                    .iter()
                    .map(|h| h.header("webhook-id"))
                    .collect::<BTreeSet<String>>()
            },
            |got| got.len() >= 200,
        )
        .await;
        assert_eq!(got, sent, "every event, once per id");
    }
}

/// Names this test maps in /etc/hosts (as a DNS answer would) to addresses of ranges that
/// are not globally reachable; the lines are added once and left (the names are this
/// test's own).
const SPECIAL_HOSTS: &[(&str, &str)] = &[
    ("2002:a9fe:a9fe::1", "sixtofour-metadata"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"),
    ("::ffff:0:a9fe:a9fe", "siit-metadata"),
    ("fec0::1", "site-local"),
    ("64:ff9b:1::a9fe:a9fe", "local-nat64"),
    ("100::1", "discard"),
];

fn ssrf_host(name: &str) -> String {
    format!("{name}.ssrf.linkgate-test.example")
}

fn map_special_hosts() {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let missing: String = SPECIAL_HOSTS
        .iter()
        .map(|(ip, name)| format!("{ip} {}\n", ssrf_host(name)))
        .filter(|line| !hosts.contains(line.trim_end()))
        .collect();
    if !missing.is_empty() {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open("/etc/hosts")
            .expect("the tests map names in /etc/hosts (they run as root, as make test does)");
        let sep = if hosts.ends_with('\n') || hosts.is_empty() {
            ""
        } else {
            "\n"
        };
        write!(
            f,
            "{sep}# linkgate tests: names of special-purpose addresses\n{missing}"
        )
        .unwrap();
    }
}

/// A webhook URL whose name resolves to a range IANA marks not globally reachable, or to a
/// transition address carrying one (6to4 of 169.254.169.254, SIIT, Teredo), is refused at
/// creation, as a literal of it is.
#[tokio::test]
async fn names_and_literals_of_special_purpose_ranges_are_refused() {
    map_special_hosts();
    let t = Stack::get().tenant().await;
    for (ip, name) in SPECIAL_HOSTS {
        for url in [
            format!("https://{}/hook", ssrf_host(name)),
            format!("https://[{ip}]/hook"),
        ] {
            let r = t
                .admin
                .post("/v1/webhooks", &json!({"url": url, "events": ["*"]}))
                .await;
            assert_eq!(r.status, 400, "{url}: {}", r.text);
            assert_validation(&r, &["url"]);
        }
    }
    let listed = t.admin.get("/v1/webhooks").await.json();
    assert_eq!(listed["data"], json!([]), "nothing was written");
}

/// A tenant has at most `MaxWebhookEndpoints` endpoints, also when its creates race: the
/// ones over it are 409 `limit_reached` and leave nothing behind; deleting one frees a place.
#[tokio::test]
async fn a_tenant_keeps_at_most_its_limit_of_webhook_endpoints() {
    let stack = Stack::get();
    let limit: usize = stack.lambda_env("webhooks-create")["LINKGATE_MAX_WEBHOOK_ENDPOINTS"]
        .parse()
        .unwrap();
    let t = stack.tenant().await;
    let r = Receiver::start(vec![], None).await;
    let mut racers = Vec::new();
    for i in 0..limit + 3 {
        let admin = t.admin.clone();
        let url = format!("{}/{i}", r.url);
        racers.push(tokio::spawn(async move {
            admin
                .post("/v1/webhooks", &json!({"url": url, "events": ["*"]}))
                .await
        }));
    }
    let mut created = Vec::new();
    for racer in racers {
        let reply = racer.await.unwrap();
        match reply.status.as_u16() {
            201 => created.push(reply.json()["id"].as_str().unwrap().to_owned()),
            409 => {
                assert_eq!(reply.error_code(), "limit_reached", "{}", reply.text);
                assert!(
                    reply.json()["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("at most {limit} webhook endpoints")),
                    "{}",
                    reply.text
                );
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(created.len(), limit, "exactly the limit won");
    let listed = t.admin.get("/v1/webhooks?limit=100").await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), limit, "{listed}");

    let over = t
        .admin
        .post(
            "/v1/webhooks",
            &json!({"url": format!("{}/over", r.url), "events": ["*"]}),
        )
        .await;
    assert_eq!(over.status, 409, "{}", over.text);
    assert_eq!(over.error_code(), "limit_reached");

    assert_eq!(
        t.admin
            .delete(&format!("/v1/webhooks/{}", created[0]))
            .await
            .status,
        204
    );
    // deleting twice frees one place, not two
    assert_eq!(
        t.admin
            .delete(&format!("/v1/webhooks/{}", created[0]))
            .await
            .status,
        404
    );
    let again = t
        .admin
        .post(
            "/v1/webhooks",
            &json!({"url": format!("{}/again", r.url), "events": ["*"]}),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    let full = t
        .admin
        .post(
            "/v1/webhooks",
            &json!({"url": format!("{}/full", r.url), "events": ["*"]}),
        )
        .await;
    assert_eq!(full.error_code(), "limit_reached", "{}", full.text);
    // another tenant has its own allowance
    let other = stack.tenant().await;
    endpoint(&other, &r.url, json!(["*"])).await;
}
