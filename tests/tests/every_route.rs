//! The error answers every route shares, driven by openapi.yaml: each route that documents
//! 400, 403, 413 or 415 is sent the request that must produce it, on real resources of a
//! fresh tenant, and nothing is written. (scripts/status_coverage.py then checks that every
//! documented status was answered by some test.)

use linkgate_tests::{openapi, table_mentions, Api, OpenLink, Reply, Stack, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// (method, path) → documented statuses.
fn documented() -> BTreeMap<(String, String), Vec<u16>> {
    let doc = openapi();
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if !["get", "post", "patch", "delete", "put"].contains(&method) {
                continue;
            }
            let statuses = op["responses"]
                .as_mapping()
                .unwrap()
                .keys()
                .filter_map(|k| k.as_str().and_then(|s| s.parse().ok()))
                .collect();
            out.insert(
                (method.to_uppercase(), path.as_str().unwrap().to_owned()),
                statuses,
            );
        }
    }
    out
}

/// One real resource of each kind, for the path parameters.
async fn resources(t: &TestTenant) -> BTreeMap<&'static str, String> {
    let a = &t.admin;
    let integration = a
        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let consumer = a
        .create_id("/v1/consumers", &json!({"name": "Every route"}))
        .await;
    let r = a
        .post(
            &format!("/v1/consumers/{consumer}/connections"),
            &json!({"name": "Every route", "integration_id": integration}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let connection = r.json();
    let webhook = a
        .create_id(
            "/v1/webhooks",
            &json!({"url": "https://hooks.platform.example/every-route", "events": ["*"]}),
        )
        .await;
    let r = a
        .post(&format!("/v1/webhooks/{webhook}/test"), &json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let link = connection["link"]["id"].as_str().unwrap().to_owned();
    let custom = a
        .post(
            "/v1/providers/custom",
            &json!({"id": "x-every-route", "name": "Every route", "category": "crm", "auth_mode": "api_key",
                    "credential_fields": [{"name": "api_key", "label": "Key", "secret": true}]}),
        )
        .await;
    assert_eq!(custom.status, 201, "{}", custom.text);
    // an import announces connection.created in its own transaction: an event to name
    let imported = a
        .post(
            "/v1/connections",
            &json!({"consumer_id": consumer, "integration_id": integration, "name": "Every route import",
                    "credentials": {"secret_key": "rk_test_51EveryRouteKey000000000"}}),
        )
        .await;
    assert_eq!(imported.status, 201, "{}", imported.text);
    let since = (chrono::Utc::now() - chrono::Duration::seconds(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let recovery = a
        .post(
            &format!("/v1/webhooks/{webhook}/recover"),
            &json!({"since": since}),
        )
        .await;
    assert_eq!(recovery.status, 202, "{}", recovery.text);
    let portal = a
        .post(
            &format!("/v1/consumers/{consumer}/portal-links"),
            &json!({}),
        )
        .await;
    assert_eq!(portal.status, 201, "{}", portal.text);
    let events = a.get("/v1/events").await.json();
    let event = events["data"][0]["id"].as_str().unwrap().to_owned();
    BTreeMap::from([
        ("event", event),
        ("portal", portal.json()["id"].as_str().unwrap().to_owned()),
        (
            "recovery",
            recovery.json()["id"].as_str().unwrap().to_owned(),
        ),
        ("custom_provider", "x-every-route".to_owned()),
        ("console_page", "consumers".to_owned()),
        ("console_item", consumer.clone()),
        ("consumer", consumer),
        ("connection", connection["id"].as_str().unwrap().to_owned()),
        ("link", link),
        ("integration", integration),
        ("webhook", webhook),
        (
            "delivery",
            r.json()["delivery_id"].as_str().unwrap().to_owned(),
        ),
    ])
}

fn fill(path: &str, ids: &BTreeMap<&'static str, String>) -> String {
    let kind = |segment_before: &str| match segment_before {
        "consumers" => "consumer",
        "connections" => "connection",
        "links" | "connect" => "link",
        "integrations" => "integration",
        "webhooks" => "webhook",
        "deliveries" => "delivery",
        "custom" => "custom_provider",
        "events" => "event",
        "recoveries" => "recovery",
        "portal" => "portal",
        // the console's pages: one consumer's
        "console" => "console_page",
        "{page}" => "console_item",
        other => panic!("no resource for a parameter after /{other}"),
    };
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if s.starts_with('{') {
                ids[kind(segments[i - 1])].clone()
            } else {
                (*s).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn send(api: &Api, method: &str, path: &str, body: Option<(&str, Vec<u8>)>) -> Reply {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    api.raw(method, path, body, &[]).await
}

/// Routes whose documented error body is JSON (the connect pages answer HTML).
fn json_route(path: &str) -> bool {
    path.starts_with("/v1/")
}

#[tokio::test]
async fn every_route_answers_its_documented_generic_errors_and_writes_nothing() {
    let t = Stack::get().tenant().await;
    let ids = resources(&t).await;
    let marker = "every-route-oversize-7c1e";
    let big = json!({"name": marker, "description": "x".repeat(70 * 1024)}).to_string();
    let mut checked = 0;
    for ((method, path), statuses) in documented() {
        if !json_route(&path) {
            continue;
        }
        let at = fill(&path, &ids);
        let writes = method != "GET";
        if statuses.contains(&413) {
            let r = send(
                &t.admin,
                &method,
                &at,
                Some(("application/json", big.clone().into_bytes())),
            )
            .await;
            assert_eq!(r.status, 413, "{method} {path}: {}", r.text);
            assert_eq!(r.error_code(), "payload_too_large");
            checked += 1;
        }
        if statuses.contains(&415) {
            let r = send(
                &t.admin,
                &method,
                &at,
                Some(("text/plain", b"name=plain".to_vec())),
            )
            .await;
            assert_eq!(r.status, 415, "{method} {path}: {}", r.text);
            assert_eq!(r.error_code(), "unsupported_media_type");
            checked += 1;
        }
        if statuses.contains(&400) {
            // every route refuses query parameters it does not know
            let r = send(&t.admin, &method, &format!("{at}?not_a_parameter=1"), None).await;
            assert_eq!(r.status, 400, "{method} {path}: {}", r.text);
            assert_eq!(r.error_code(), "validation_error");
            assert_eq!(r.error_fields(), vec!["not_a_parameter".to_owned()]);
            checked += 1;
        }
        if statuses.contains(&403) && writes {
            let body = Some(("application/json", br#"{}"#.to_vec()));
            let r = send(&t.member, &method, &at, body).await;
            assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
            assert_eq!(r.error_code(), "forbidden");
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} checks: is openapi.yaml read?");
    assert!(
        table_mentions(marker).await.is_empty(),
        "an oversize body was stored"
    );
    // nothing changed: the resources read back as they were made
    let consumer: Value = t
        .admin
        .get(&format!("/v1/consumers/{}", ids["consumer"]))
        .await
        .json();
    assert_eq!(consumer["name"], "Every route");
    let webhook: Value = t
        .admin
        .get(&format!("/v1/webhooks/{}", ids["webhook"]))
        .await
        .json();
    assert_eq!(webhook["enabled"], true);
}

#[tokio::test]
async fn a_reused_idempotency_key_with_another_body_is_a_conflict_on_the_direct_routes() {
    let t = Stack::get().tenant().await;
    let stripe = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let consumer = t.consumer(&json!({"name": "Idempotent"})).await;
    let cases = [
        (
            "/v1/credentials",
            json!({"provider": "stripe", "values": {"secret_key": "rk_test_51IdemOne000000000000"}}),
            json!({"provider": "stripe", "values": {"secret_key": "rk_test_51IdemTwo000000000000"}}),
        ),
        (
            "/v1/connections",
            json!({"name": "Imported", "consumer_id": consumer, "integration_id": stripe,
                   "credentials": {"secret_key": "rk_test_51ImportOne0000000000"}}),
            json!({"name": "Imported again", "consumer_id": consumer, "integration_id": stripe,
                   "credentials": {"secret_key": "rk_test_51ImportTwo0000000000"}}),
        ),
    ];
    for (path, first, second) in cases {
        let key = [("idempotency-key", "every-route-conflict")];
        let post = |body: &Value| {
            let body = body.to_string().into_bytes();
            let api = t.admin.clone();
            async move {
                api.raw(Method::POST, path, Some(("application/json", body)), &key)
                    .await
            }
        };
        let r = post(&first).await;
        assert_eq!(r.status, 201, "{path}: {}", r.text);
        let replay = post(&first).await;
        assert_eq!(replay.status, 201, "{path}: {}", replay.text);
        assert_eq!(replay.json()["id"], r.json()["id"]);
        let r = post(&second).await;
        assert_eq!(r.status, 409, "{path}: {}", r.text);
        assert_eq!(r.error_code(), "conflict");
    }
}

#[tokio::test]
async fn a_disabled_endpoint_takes_no_test_or_retry() {
    let t = Stack::get().tenant().await;
    let ids = resources(&t).await;
    let webhook = &ids["webhook"];
    let r = t
        .admin
        .patch(
            &format!("/v1/webhooks/{webhook}"),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for path in [
        format!("/v1/webhooks/{webhook}/test"),
        format!(
            "/v1/webhooks/{webhook}/deliveries/{}/retry",
            ids["delivery"]
        ),
    ] {
        let r = t.admin.post(&path, &json!({})).await;
        assert_eq!(r.status, 409, "{path}: {}", r.text);
        assert_eq!(r.error_code(), "conflict");
    }
}

#[tokio::test]
async fn the_pages_of_a_link_to_an_inactive_integration_refuse_it() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let stripe = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let oauth = linkgate_tests::oauth::integration(&t).await;
    let consumer = t.consumer(&json!({"name": "Inactive"})).await;
    // a connection to `integration`, its link waiting
    let link = async |integration: &str| {
        OpenLink::of(
            &t.connect(
                &consumer,
                &json!({"name": "Inactive", "integration_id": integration}),
            )
            .await,
        )
    };
    let form = link(&stripe).await;
    let oauth_link = link(&oauth.integration_id).await;
    for integration in [&stripe, &oauth.integration_id] {
        let r = t
            .admin
            .patch(
                &format!("/v1/integrations/{integration}"),
                &json!({"status": "inactive"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let anon = stack.anonymous();
    let r = form.open(&anon).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = form
        .complete(
            &anon,
            &[
                ("integration_id", stripe.as_str()),
                ("f_secret_key", "rk_test_51Inactive000000000000"),
            ],
        )
        .await;
    // a submit for it goes back to the choice, saying so
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("This software is not available"),
        "{}",
        r.text
    );
    let r = anon
        .get(&format!(
            "/connect/{}/oauth?token={}",
            oauth_link.id, oauth_link.token
        ))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let connections: Value = t
        .admin
        .get(&format!("/v1/consumers/{consumer}/connections"))
        .await
        .json();
    for c in connections["data"].as_array().unwrap() {
        assert_eq!(
            c["status"], "pending",
            "an inactive integration activates nothing"
        );
    }
}

/// Every answer, of every route and of the `$default` route, whatever its status, tells
/// browsers to use HTTPS only (HSTS) and not to sniff types.
#[tokio::test]
async fn every_answer_carries_the_transport_and_type_headers() {
    let t = Stack::get().tenant().await;
    let ids = resources(&t).await;
    let mut routes: Vec<(String, String)> = documented().into_keys().collect();
    routes.push(("GET".into(), "/no/such/route".into()));
    for (method, path) in routes {
        let filled = fill(&path, &ids);
        let body =
            (method != "GET" && method != "DELETE").then(|| ("application/json", b"{}".to_vec()));
        let r = send(&t.admin, &method, &filled, body).await;
        let header = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(
            header("strict-transport-security"),
            "max-age=63072000; includeSubDomains",
            "{method} {path} ({})",
            r.status
        );
        assert_eq!(
            header("x-content-type-options"),
            "nosniff",
            "{method} {path}"
        );
    }
}
