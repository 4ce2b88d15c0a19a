//! No secret reaches a log, whatever the log level: `make test` runs every function at the
//! most verbose level (TRACE), and this test walks the connect, OAuth, direct-connect and
//! webhook flows, then looks for each secret they handled in every log the local stack
//! wrote (the functions', their direct runs', the local API Gateway's).

use linkgate_tests::oauth::{self, local_path, query_param, sign_in};
use linkgate_tests::{root, Stack};
use serde_json::{json, Value};

fn random(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}{nanos:x}")
}

/// Every log line the local stack's functions and gateway wrote so far.
fn every_log() -> Vec<(String, String)> {
    let dev = root().join("target/dev");
    let mut files = vec![dev.join("gateway.log")];
    for dir in [dev.join("lambda"), dev.clone()] {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let function_log = dir.ends_with("lambda") && name.ends_with(".log");
            if function_log || (name.starts_with("runtime-") && name.ends_with(".log")) {
                files.push(entry.path());
            }
        }
    }
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            (f.display().to_string(), text)
        })
        .collect()
}

#[tokio::test]
async fn no_secret_reaches_the_logs_at_the_most_verbose_level() {
    let stack = Stack::get();
    let deployed: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("target/dev/deployment.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        deployed["functions"]["connect-submit"]["log_level"], "TRACE",
        "make test runs the functions at TRACE (LINKGATE_LOG_LEVEL)"
    );
    let t = stack.tenant().await;
    let anon = stack.anonymous();
    let mut secrets: Vec<(&str, String)> = vec![("the API key", t.admin.raw_key().to_owned())];

    // The hosted form: a link token and the key the customer pastes.
    let stripe = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let form = t
        .connection(
            &json!({"name": "Logged"}),
            &json!({"name": "Form", "integration_id": stripe}),
        )
        .await;
    let link = linkgate_tests::OpenLink::of(&form);
    let token = link.token.clone();
    let pasted = random("rk_test_51LogProbe");
    assert_eq!(link.open(&anon).await.status, 200);
    let r = link
        .complete(
            &anon,
            &[("integration_id", &stripe), ("f_secret_key", &pasted)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    secrets.push(("a link token", token));
    secrets.push(("a pasted provider key", pasted));

    // A key checked with its provider, refused then accepted, then checked again: the
    // verification request carries it (a header), so the call must never be logged whole.
    let keyed = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "key-mock"}))
        .await;
    let checked = t
        .connection(
            &json!({"name": "Checked"}),
            &json!({"name": "Keys", "integration_id": keyed}),
        )
        .await;
    let link = linkgate_tests::OpenLink::of(&checked);
    let refused = random("lg_wrong_");
    let accepted = random("lg_valid_");
    assert_eq!(link.open(&anon).await.status, 200);
    for (key, status) in [(&refused, 422), (&accepted, 200)] {
        let r = link
            .complete(
                &anon,
                &[
                    ("integration_id", &keyed),
                    ("f_workspace", "logs"),
                    ("f_api_key", key),
                ],
            )
            .await;
        assert_eq!(r.status, status, "{}", r.text);
    }
    let r = t
        .admin
        .post(
            &format!("/v1/connections/{}/check", checked["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(r.json()["result"], "valid", "{}", r.text);
    secrets.push(("a key the provider refused", refused));
    secrets.push(("a key the provider checked", accepted));

    // OAuth: the app's client secret, the code, the state, the tokens.
    let client_secret = random("cs-log-probe-");
    let client_id = random("client-log-");
    let oidc = t
        .admin
        .create_id(
            "/v1/integrations",
            &json!({"provider": "oidc-mock", "client_id": client_id, "client_secret": client_secret}),
        )
        .await;
    let signed = t
        .connection(
            &json!({"name": "Signed in"}),
            &json!({"name": "OAuth", "integration_id": oidc}),
        )
        .await;
    let started = oauth::start_reply(&anon, signed["link"]["url"].as_str().unwrap()).await;
    assert_eq!(started.status, 302, "{}", started.text);
    let authorize = started.headers["location"].to_str().unwrap().to_owned();
    let binding = started.headers["set-cookie"].to_str().unwrap();
    let binding = binding
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    secrets.push(("a browser's OAuth binding", binding.to_owned()));
    let callback = sign_in(&authorize, Some(&random("log-user-"))).await;
    let r = anon.get(&local_path(&callback)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    secrets.push(("an OAuth client secret", client_secret));
    secrets.push(("an OAuth code", query_param(&callback, "code").unwrap()));
    let creds = t
        .admin
        .get(&format!(
            "/v1/connections/{}/credentials",
            signed["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(creds.status, 200, "{}", creds.text);
    let creds = creds.json();
    // (the refresh token is never handed out, so its value is not known here)
    secrets.push((
        "an access token",
        creds["credentials"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    ));

    // Direct connect from stored credentials.
    t.admin
        .create_id("/v1/integrations", &json!({"provider": "datadog"}))
        .await;
    let dd_key = format!(
        "{:032x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let crd = t
        .admin
        .create_id(
            "/v1/credentials",
            &json!({"provider": "datadog", "values": {"api_key": dd_key, "application_key": "0123456789abcdef0123456789abcdef01234567"}, "connection_fields": {"site": "datadoghq.eu"}}),
        )
        .await;
    let owner = t.consumer(&json!({"name": "Direct"})).await;
    let r = t
        .admin
        .post(
            "/v1/integrations/datadog/connect",
            &json!({"credential_id": crd, "consumer_id": owner}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    secrets.push(("a stored API key", dd_key));

    // A webhook endpoint's signing secret.
    let r = t
        .admin
        .post(
            "/v1/webhooks",
            &json!({"url": "https://hooks.platform.example/logs", "events": ["*"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    secrets.push((
        "a webhook signing secret",
        r.json()["secret"].as_str().unwrap().to_owned(),
    ));

    for (file, text) in every_log() {
        for (what, secret) in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{what} is in {file}: {}",
                text.lines()
                    .find(|l| l.contains(secret.as_str()))
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
        }
    }
}
