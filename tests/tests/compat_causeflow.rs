//! CauseFlow's dialect (`/compat/causeflow/v1`), every request and answer shape of its
//! reference over HTTP against the local stack: list integrations, store credentials, and a
//! connect that enables the provider it names.

use linkgate_tests::oauth::{self, query_param};
use linkgate_tests::{Reply, Stack, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

const BASE: &str = "/compat/causeflow/v1";
const DD_KEY: &str = "0123456789abcdef0123456789abcdef";
const DD_APP: &str = "0123456789abcdef0123456789abcdef01234567";

/// CauseFlow's error shape: `{"error": {code, message, requestId, details?}}` with the
/// request id the header carries, and no snake_case key. Returns the code.
fn causeflow_error(r: &Reply, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    let body = r.json();
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        e["requestId"].as_str(),
        r.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        "{body}"
    );
    assert!(e.get("request_id").is_none(), "{body}");
    e["code"].as_str().unwrap().to_owned()
}

fn fields(r: &Reply) -> Vec<String> {
    r.json()["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|f| f["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn stored(t: &TestTenant) -> String {
    let r = t
        .admin
        .post(
            &format!("{BASE}/credentials"),
            &json!({"provider": "datadog", "values": {"api_key": DD_KEY, "application_key": DD_APP}, "connectionFields": {"site": "datadoghq.eu"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let body = r.json();
    assert_eq!(body["provider"], "datadog");
    assert!(body["expiresAt"].as_str().is_some(), "{body}");
    assert!(body.get("id").is_none() && body.get("expires_at").is_none());
    body["credentialId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn connect_enables_an_api_key_provider_and_connects_it_from_stored_credentials() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let listed = t.admin.get(&format!("{BASE}/integrations")).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json(), json!({"data": [], "nextCursor": null}));

    let crd = stored(&t).await;
    let r = t
        .admin
        .post(
            &format!("{BASE}/integrations/datadog/connect"),
            &json!({"credentialId": crd}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["provider"], "datadog");
    assert_eq!(body["status"], "connected");
    assert!(body["connectedAt"].as_str().is_some(), "{body}");
    let integration = body["integrationId"].as_str().unwrap().to_owned();
    assert!(integration.starts_with("int_"), "{body}");
    let connection = body["connectionId"].as_str().unwrap().to_owned();
    assert!(body.get("connection_id").is_none(), "{body}");

    // The provider is now enabled, and its integration listed in CauseFlow's names.
    let listed = t.admin.get(&format!("{BASE}/integrations")).await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let item = &listed["data"][0];
    assert_eq!(item["integrationId"], json!(integration));
    assert_eq!(item["provider"], "datadog");
    assert_eq!(item["status"], "active");
    assert_eq!(item["authMode"], "api_key");
    assert!(item["createdAt"].as_str().is_some() && item.get("id").is_none());
    let native = t
        .admin
        .get(&format!("/v1/integrations/{integration}"))
        .await;
    assert_eq!(native.json()["provider"], "datadog");
    let c = t
        .admin
        .get(&format!("/v1/connections/{connection}"))
        .await
        .json();
    assert_eq!(c["status"], "active");
    assert_eq!(
        stack.events(&t.id, "connection.created").await.len(),
        1,
        "CauseFlow's integration.connected is our connection.created"
    );

    // The provider is connected for the tenant now: CauseFlow's 409.
    let again = stored(&t).await;
    let r = t
        .admin
        .post(
            &format!("{BASE}/integrations/datadog/connect"),
            &json!({"credentialId": again}),
        )
        .await;
    assert_eq!(causeflow_error(&r, 409), "already_connected");
    // Used up: the first credential is gone.
    let other = t.consumer(&json!({"name": "Another"})).await;
    let r = t
        .admin
        .post(
            &format!("{BASE}/integrations/datadog/connect"),
            &json!({"credentialId": crd, "consumerId": other}),
        )
        .await;
    assert_eq!(causeflow_error(&r, 404), "credential_not_found");
    // Naming the integration by its id works as the provider's name does.
    let r = t
        .admin
        .post(
            &format!("{BASE}/integrations/{integration}/connect"),
            &json!({"credentialId": again, "consumerId": other}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["consumerId"], json!(other));
    assert_eq!(r.json()["integrationId"], json!(integration));
}

#[tokio::test]
async fn concurrent_connects_enable_the_provider_once() {
    let t = Stack::get().tenant().await;
    let owners = [
        t.consumer(&json!({"name": "A"})).await,
        t.consumer(&json!({"name": "B"})).await,
    ];
    let (a, b) = (stored(&t).await, stored(&t).await);
    let path = format!("{BASE}/integrations/datadog/connect");
    let (body_a, body_b) = (
        json!({"credentialId": a, "consumerId": owners[0]}),
        json!({"credentialId": b, "consumerId": owners[1]}),
    );
    let (ra, rb) = tokio::join!(t.admin.post(&path, &body_a), t.admin.post(&path, &body_b));
    assert_eq!(
        (ra.status.as_u16(), rb.status.as_u16()),
        (200, 200),
        "{} / {}",
        ra.text,
        rb.text
    );
    assert_eq!(ra.json()["integrationId"], rb.json()["integrationId"]);
    let listed = t.admin.get("/v1/integrations").await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn an_oauth_provider_answers_its_authorization_url_in_causeflow_names() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let r = t
        .admin
        .post(
            &format!("{BASE}/integrations/oidc-mock/connect"),
            &json!({"redirectUrl": "http://localhost:4000/back"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    let url = body["authorizationUrl"].as_str().unwrap();
    assert_eq!(
        query_param(url, "state"),
        body["state"].as_str().map(String::from)
    );
    assert_eq!(body["integrationId"], json!(app.integration_id));
    assert!(body["connectionId"].as_str().unwrap().starts_with("conn_"));
    assert!(body["expiresAt"].as_str().is_some());
    assert!(body.get("authorization_url").is_none(), "{body}");

    // Not enabled, and no OAuth app to enable it with: a 400 saying what to create.
    let t = stack.tenant().await;
    let r = t
        .admin
        .post(
            &format!("{BASE}/integrations/oidc-mock/connect"),
            &json!({"redirectUrl": "http://localhost:4000/back"}),
        )
        .await;
    assert_eq!(causeflow_error(&r, 400), "validation_error");
    assert_eq!(fields(&r), vec!["provider"]);
    assert!(r.text.contains("client_id"), "{}", r.text);
    assert_eq!(
        t.admin.get("/v1/integrations").await.json()["data"],
        json!([]),
        "nothing enabled"
    );
}

#[tokio::test]
async fn bad_input_gets_causeflow_errors_with_camel_case_fields_and_writes_nothing() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let connect = format!("{BASE}/integrations/datadog/connect");
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["credentialId"]),
        (
            json!({"redirectUrl": "https://app.example.com/back"}),
            vec!["credentialId"],
        ),
        (json!({"credentialId": "nope"}), vec!["credentialId"]),
        (
            json!({"credential_id": "crd_0193a1b2c3d47000800000000000000e"}),
            vec!["credential_id"],
        ),
        (
            json!({"credentialId": "crd_0193a1b2c3d47000800000000000000e", "extraField": 1}),
            vec!["extraField"],
        ),
        (
            json!({"credentialId": "crd_0193a1b2c3d47000800000000000000e", "consumerId": "x"}),
            vec!["consumerId"],
        ),
    ];
    for (body, want) in cases {
        let r = t.admin.post(&connect, &body).await;
        assert_eq!(causeflow_error(&r, 400), "validation_error", "{body}");
        let mut got = fields(&r);
        got.sort();
        assert_eq!(got, want, "{body}: {}", r.text);
    }
    // Validation comes before enabling: none of those enabled datadog.
    assert_eq!(
        t.admin.get("/v1/integrations").await.json()["data"],
        json!([])
    );

    let r = t
        .admin
        .post(
            &format!("{BASE}/integrations/datadog/connect"),
            &json!({"credentialId": "crd_0193a1b2c3d47000800000000000000e"}),
        )
        .await;
    assert_eq!(causeflow_error(&r, 404), "credential_not_found");
    let r = t
        .admin
        .post(
            &format!("{BASE}/integrations/not-a-provider/connect"),
            &json!({"credentialId": "crd_0193a1b2c3d47000800000000000000e"}),
        )
        .await;
    assert_eq!(causeflow_error(&r, 400), "validation_error");
    assert_eq!(fields(&r), vec!["provider"]);

    let r = t
        .admin
        .post(
            &format!("{BASE}/credentials"),
            &json!({"provider": "datadog", "values": {"api_key": "short"}, "connectionFields": []}),
        )
        .await;
    assert_eq!(causeflow_error(&r, 400), "validation_error");
    let mut got = fields(&r);
    got.sort();
    assert_eq!(got, vec!["connectionFields"], "{}", r.text);
    let r = t
        .admin
        .raw(
            Method::POST,
            &format!("{BASE}/credentials"),
            Some(("application/json", b"{not json".to_vec())),
            &[],
        )
        .await;
    assert_eq!(causeflow_error(&r, 400), "validation_error");
    let r = t
        .admin
        .get(&format!("{BASE}/integrations?status=gone"))
        .await;
    assert_eq!(causeflow_error(&r, 400), "validation_error");
    assert_eq!(fields(&r), vec!["status"]);

    // Who may call: no key, a member key on a write.
    let r = stack.anonymous().get(&format!("{BASE}/integrations")).await;
    assert_eq!(causeflow_error(&r, 401), "unauthorized");
    let r = t.member.post(&connect, &json!({})).await;
    assert_eq!(causeflow_error(&r, 403), "forbidden");
    assert_eq!(
        t.member.get(&format!("{BASE}/integrations")).await.status,
        200
    );
    // An unknown path or method under the prefix: the fallback, in CauseFlow's shape.
    let r = t.admin.get(&format!("{BASE}/nothing")).await;
    assert_eq!(causeflow_error(&r, 404), "not_found");
    let r = t.admin.delete(&format!("{BASE}/credentials")).await;
    assert_eq!(causeflow_error(&r, 405), "method_not_allowed");
}

#[tokio::test]
async fn another_tenants_credential_and_integration_are_not_found() {
    let stack = Stack::get();
    let (mine, theirs) = (stack.tenant().await, stack.tenant().await);
    let crd = stored(&theirs).await;
    let r = mine
        .admin
        .post(
            &format!("{BASE}/integrations/datadog/connect"),
            &json!({"credentialId": crd}),
        )
        .await;
    assert_eq!(causeflow_error(&r, 404), "credential_not_found");
    let r = theirs
        .admin
        .post(
            &format!("{BASE}/integrations/datadog/connect"),
            &json!({"credentialId": crd}),
        )
        .await;
    let integration = r.json()["integrationId"].as_str().unwrap().to_owned();
    let r = mine
        .admin
        .post(
            &format!("{BASE}/integrations/{integration}/connect"),
            &json!({"credentialId": stored(&mine).await}),
        )
        .await;
    assert_eq!(causeflow_error(&r, 404), "not_found");
}

#[tokio::test]
async fn the_integrations_list_pages_by_cursor() {
    let t = Stack::get().tenant().await;
    for provider in ["stripe", "datadog"] {
        let r = t
            .admin
            .post("/v1/integrations", &json!({"provider": provider}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let first = t
        .admin
        .get(&format!("{BASE}/integrations?limit=1"))
        .await
        .json();
    assert_eq!(first["data"].as_array().unwrap().len(), 1, "{first}");
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = t
        .admin
        .get(&format!("{BASE}/integrations?limit=1&cursor={cursor}"))
        .await
        .json();
    assert_eq!(second["data"].as_array().unwrap().len(), 1, "{second}");
    assert_ne!(
        second["data"][0]["integrationId"],
        first["data"][0]["integrationId"]
    );
    assert_eq!(second["nextCursor"], Value::Null);
}
