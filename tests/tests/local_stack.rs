//! The local stack refuses what AWS refuses. Each function's AWS calls are checked against the
//! role SAM gives it from template.yaml (scripts/moto_server.py, scripts/local_iam.py): a
//! copy of the template with one grant removed makes the route that needs it fail with
//! AccessDenied, through the function's real binary, for each kind of call the functions make
//! (a DynamoDB transaction item, KMS, SQS, EventBridge, SES); the unchanged template lets the
//! same request through.

use linkgate_tests::receiver::Receiver;
use linkgate_tests::{api_event, root, runtime_api, Stack, TestTenant};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// template.yaml with `action` removed from the policy of the function `logical`.
fn template_without(logical: &str, action: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines
        .iter()
        .position(|l| *l == format!("  {logical}:\n"))
        .unwrap_or_else(|| panic!("{logical} in template.yaml"));
    // the resource ends where the next one (two spaces in) begins
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("  ") && !l.starts_with("   "))
        .map_or(lines.len(), |i| start + 1 + i);
    let grant = format!("                - {action}\n");
    let at = start
        + lines[start..end]
            .iter()
            .position(|l| *l == grant)
            .unwrap_or_else(|| panic!("{logical} grants {action} in template.yaml"));
    let listed = |l: &str| l.starts_with("                - ");
    let comment = |l: &str| l.trim_start().starts_with('#');
    let before = (start..at).rev().find(|&i| !comment(lines[i])).unwrap();
    let after = (at + 1..end).find(|&i| !comment(lines[i])).unwrap();
    if listed(lines[before]) || listed(lines[after]) {
        lines.remove(at);
    } else {
        // its statement's only action: the statement goes (IAM refuses one without actions)
        let statement = |l: &str| l.starts_with("            - ");
        let first = (start..at).rev().find(|&i| statement(lines[i])).unwrap();
        let last = (at + 1..end)
            .find(|&i| statement(lines[i]) || !lines[i].starts_with("              "))
            .unwrap_or(end);
        lines.drain(first..last);
    }
    let path = root().join(format!(
        "target/dev/template-without-{logical}-{}.yaml",
        action.replace(':', "-")
    ));
    std::fs::write(&path, lines.concat()).unwrap();
    path
}

/// The role `function` gets from `template` (compiled by the stack as SAM would deploy it),
/// registered with moto under an access key of its own; the environment to run the function
/// with it.
async fn role_from(template: &PathBuf, function: &str) -> HashMap<String, String> {
    let stack = Stack::get();
    let out = std::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/stack.py"))
        .args(["policies", "--template"])
        .arg(template)
        .current_dir(root())
        .output()
        .expect("stack.py policies runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let roles: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut role = roles[function].clone();
    let key = format!(
        "ASIABITE{:012X}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            & 0xFFFF_FFFF_FFFF
    );
    role["access_key"] = json!(key);
    let r = reqwest::Client::new()
        .post(format!("{}/_local/iam/principals", stack.aws_endpoint_url))
        .json(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut env = stack.lambda_env(function);
    env.insert("AWS_ACCESS_KEY_ID".into(), key);
    env
}

/// What moto refused the access key in `env`.
fn refused(env: &HashMap<String, String>) -> Vec<String> {
    let key = &env["AWS_ACCESS_KEY_ID"];
    Stack::get()
        .authorisations()
        .into_iter()
        .filter(|a| a["access_key"] == key.as_str() && a["allowed"] == false)
        .map(|a| a["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn run(function: &str, event: Value, env: &HashMap<String, String>) -> Value {
    runtime_api::invoke(&root().join("target/debug").join(function), event, env)
        .await
        .unwrap_or_else(|e| panic!("{function}: {e}"))
}

/// Runs `event` through `function` with the role of the template minus `action`, then with
/// the template's own role: the first must be refused `action` (and answer what `refusal`
/// says), the second must not.
async fn bites(
    logical: &str,
    function: &str,
    action: &str,
    event: impl Fn() -> Value,
    refusal: impl Fn(&Value) -> bool,
) -> Value {
    let without = role_from(&template_without(logical, action), function).await;
    let answer = run(function, event(), &without).await;
    assert_eq!(
        refused(&without),
        vec![action.to_owned()],
        "{function} without {action}: moto refused exactly that ({answer})"
    );
    assert!(refusal(&answer), "{function} without {action}: {answer}");

    let full = role_from(&root().join("template.yaml"), function).await;
    let answer = run(function, event(), &full).await;
    assert_eq!(
        refused(&full),
        Vec::<String>::new(),
        "{function} with its role: {answer}"
    );
    answer
}

fn status(answer: &Value) -> u64 {
    answer["statusCode"].as_u64().unwrap_or_default()
}

async fn connection(t: &TestTenant) -> Value {
    t.connection(
        &json!({"name": "Bitten", "email": "bite@customer.example"}),
        &json!({"name": "Bite"}),
    )
    .await
}

#[tokio::test]
async fn a_transaction_item_the_role_lacks_is_refused() {
    let t = Stack::get().tenant().await;
    let id = connection(&t).await["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/connections/{id}/links");
    let key = t.admin.raw_key().to_owned();
    let event = || {
        api_event(
            "connection-links-create",
            &path,
            &[("id", &id)],
            &key,
            Some(&json!({})),
        )
    };
    let answer = bites(
        "ConnectionLinksCreateFunction",
        "connection-links-create",
        "dynamodb:ConditionCheckItem",
        event,
        |a| status(a) == 500,
    )
    .await;
    assert_eq!(status(&answer), 201, "{answer}");
}

#[tokio::test]
async fn a_kms_key_the_role_may_not_use_is_refused() {
    let stack = Stack::get();
    let key_of = |t: &TestTenant| t.admin.raw_key().to_owned();
    let body =
        json!({"provider": "oidc-mock", "client_id": "bite", "client_secret": "bite-secret"});
    // a tenant per run: an integration is enabled once per provider
    let first = stack.tenant().await;
    let second = stack.tenant().await;
    let keys = [key_of(&first), key_of(&second)];
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let event = || {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        api_event(
            "integrations-create",
            "/v1/integrations",
            &[],
            &keys[n],
            Some(&body),
        )
    };
    let answer = bites(
        "IntegrationsCreateFunction",
        "integrations-create",
        "kms:GenerateDataKey",
        event,
        |a| status(a) == 500,
    )
    .await;
    assert_eq!(status(&answer), 201, "{answer}");
    let listed = first.admin.get("/v1/integrations").await.json();
    assert_eq!(
        listed["data"],
        json!([]),
        "the refused create wrote nothing"
    );
}

#[tokio::test]
async fn a_queue_the_role_may_not_send_to_is_refused() {
    let t = Stack::get().tenant().await;
    let receiver = Receiver::start(vec![], None).await;
    let r = t
        .admin
        .post(
            "/v1/webhooks",
            &json!({"url": receiver.url, "events": ["webhook.test"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/webhooks/{id}/test");
    let key = t.admin.raw_key().to_owned();
    let event = || {
        api_event(
            "webhooks-test",
            &path,
            &[("id", &id)],
            &key,
            Some(&json!({})),
        )
    };
    let answer = bites(
        "WebhooksTestFunction",
        "webhooks-test",
        "sqs:SendMessage",
        event,
        |a| status(a) >= 500,
    )
    .await;
    assert_eq!(status(&answer), 202, "{answer}");
}

#[tokio::test]
async fn a_bus_the_role_may_not_publish_to_is_refused() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    // an outbox event, as the stream hands it to the relay
    let id = "evt_0193a1b2c3d47000800000000000b17e";
    let detail = json!({"id": id, "type": "connection.updated", "tenant_id": t.id,
        "occurred_at": "2026-12-01T00:00:00.000Z", "data": {}});
    let pk = format!("T#{}", t.id);
    let sk = format!("EVT#{id}");
    let record = json!({"eventName": "INSERT", "eventSource": "aws:dynamodb",
        "dynamodb": {"SequenceNumber": "900000000000000000000001", "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
            "NewImage": {"pk": {"S": pk}, "sk": {"S": sk}, "type": {"S": "connection.updated"},
                "detail": {"S": detail.to_string()}}}});
    let event = || json!({"Records": [record]});
    let answer = bites(
        "EventRelayFunction",
        "event-relay",
        "events:PutEvents",
        event,
        |a| a["batchItemFailures"] == json!([{"itemIdentifier": "900000000000000000000001"}]),
    )
    .await;
    assert_eq!(answer["batchItemFailures"], json!([]));
}

#[tokio::test]
async fn an_email_identity_the_role_may_not_send_from_is_refused() {
    let t = Stack::get().tenant().await;
    let key = t.admin.raw_key().to_owned();
    // a link per run: one email per link per five minutes
    let mut links = Vec::new();
    for _ in 0..2 {
        links.push(
            connection(&t).await["link"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let event = || {
        let id = &links[calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst)];
        api_event(
            "links-send",
            &format!("/v1/links/{id}/send"),
            &[("id", id)],
            &key,
            Some(&json!({})),
        )
    };
    let answer = bites(
        "LinksSendFunction",
        "links-send",
        "ses:SendEmail",
        event,
        |a| status(a) == 409,
    )
    .await;
    assert_eq!(status(&answer), 200, "{answer}");
}

/// Lambda's `Timeout` holds for the real binaries: oauth-callback, deployed with a Timeout of
/// 1 s instead of the template's 20 and waiting on a slow token endpoint, is ended and
/// reported as Lambda reports it.
#[tokio::test]
async fn an_invocation_past_its_timeout_is_ended_as_lambda_ends_it() {
    use linkgate_tests::oauth;
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let conn = t
        .connection(
            &json!({"name": "Patient"}),
            &json!({"name": "Slow", "integration_id": app.integration_id}),
        )
        .await;
    let started =
        oauth::start_reply(&stack.anonymous(), conn["link"]["url"].as_str().unwrap()).await;
    assert_eq!(started.status, 302, "{}", started.text);
    let authorize = started.headers["location"].to_str().unwrap();
    // the browser's binding cookie, as API Gateway hands cookies to a function
    let cookie = started.headers["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let callback = oauth::sign_in(authorize, Some("slow-user")).await;
    stack
        .token_fault(&app.client_id, json!({"mode": "slow", "seconds": 5}))
        .await;

    stack
        .deploy_copy("oauth-callback", "oauth-callback-1s", 1)
        .await;

    let query = callback.split_once('?').unwrap().1.to_owned();
    let mut event = api_event("oauth-callback", "/oauth/callback", &[], "", None);
    if let Some(headers) = event["headers"].as_object_mut() {
        headers.remove("authorization"); // a browser coming back from the provider
    }
    event["cookies"] = json!([cookie]);
    event["rawQueryString"] = json!(query);
    event["queryStringParameters"] = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let error = stack
        .invoke("oauth-callback-1s", &event)
        .await
        .expect_err("the invocation was ended");
    assert_eq!(error["errorType"], "Sandbox.Timedout", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Task timed out after 1.00 seconds"),
        "{error}"
    );
}
