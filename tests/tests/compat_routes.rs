//! Every route of every dialect (each `compat/<name>.openapi.yaml`), asked wrongly: without
//! credentials, with ids that name nothing, with bodies that are not JSON. Each answer is a
//! client error in that dialect's documented shape, never a 500, and writes nothing.

use linkgate_tests::{root, Reply, Stack, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

/// A dialect's routes that take a JSON body: (method, full path).
fn with_bodies(dialect: &str) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(root().join(format!("compat/{dialect}.openapi.yaml"))).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            if op.get("requestBody").is_some() {
                out.push((
                    method.as_str().unwrap().to_uppercase(),
                    format!("/compat/{dialect}{}", path.as_str().unwrap()),
                ));
            }
        }
    }
    out
}

/// A dialect's routes: (method, full path, public).
fn routes(dialect: &str) -> Vec<(String, String, bool)> {
    let text =
        std::fs::read_to_string(root().join(format!("compat/{dialect}.openapi.yaml"))).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if !["get", "post", "put", "patch", "delete"].contains(&method) {
                continue;
            }
            let public = op["security"].as_sequence().is_some_and(|s| s.is_empty());
            out.push((
                method.to_uppercase(),
                format!("/compat/{dialect}{}", path.as_str().unwrap()),
                public,
            ));
        }
    }
    assert!(!out.is_empty(), "{dialect} documents no route");
    out
}

/// The path with each `{param}` filled by an id of the right form that names nothing.
fn unknown_ids(path: &str) -> String {
    path.replace("{consumer_id}", "0193a1b2-c3d4-7000-8000-00000000000a")
        .replace("{connectionid}", "0193a1b2-c3d4-7000-8000-00000000000c")
        .replace("{integrationid}", "1")
        .replace("{customer_id}", "nobody-at-all")
        .replace("{provider}", "not-a-provider")
        .replace(
            "{id}",
            if path.contains("openint") {
                "conn_0193a1b2c3d47000800000000000000c"
            } else {
                "1"
            },
        )
}

/// Asserts `r` is `dialect`'s error shape and a client error; its code.
fn dialect_error(dialect: &str, r: &Reply, what: &str) -> String {
    let status = r.status.as_u16();
    assert!((400..500).contains(&status), "{what}: {status} {}", r.text);
    let b = r.json();
    let request_id = r.headers.get("x-request-id").and_then(|v| v.to_str().ok());
    match dialect {
        "causeflow" => {
            assert_eq!(b["error"]["requestId"].as_str(), request_id, "{what}: {b}");
            b["error"]["code"].as_str().unwrap().to_owned()
        }
        "chift" => {
            assert_eq!(b["status"], "error", "{what}: {b}");
            assert!(
                b["detail"].is_string() && b["message"].is_string(),
                "{what}: {b}"
            );
            b["error_code"].as_str().unwrap().to_owned()
        }
        "openint" => {
            assert!(
                b["code"].is_string() && b["issues"].is_array(),
                "{what}: {b}"
            );
            assert!(r.headers.contains_key("x-should-retry"), "{what}");
            b["error_code"].as_str().unwrap().to_owned()
        }
        "albato" => {
            assert_eq!(b["success"], false, "{what}: {b}");
            assert_eq!(b["error"]["requestId"].as_str(), request_id, "{what}: {b}");
            b["error"]["code"].as_str().unwrap().to_owned()
        }
        other => panic!("unknown dialect {other}"),
    }
}

async fn chift_token(t: &TestTenant) -> String {
    let r = Stack::get()
        .anonymous()
        .post(
            "/compat/chift/token",
            &json!({"clientId": t.admin_key_id, "clientSecret": t.admin.raw_key(), "accountId": t.id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

const DIALECTS: &[&str] = &["albato", "causeflow", "chift", "openint"];

/// `key`'s caller in `dialect`: Chift's routes take the access token standing for it.
fn caller(dialect: &str, key: &linkgate_tests::Api, chift_token: &str) -> linkgate_tests::Api {
    if dialect == "chift" {
        key.with_key(chift_token)
    } else {
        key.clone()
    }
}

#[tokio::test]
async fn every_dialect_route_refuses_a_caller_without_credentials_in_its_own_shape() {
    let stack = Stack::get();
    for dialect in DIALECTS {
        for (method, path, public) in routes(dialect) {
            if public {
                continue;
            }
            let what = format!("{method} {path}");
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = stack
                .anonymous()
                .raw(m, &unknown_ids(&path), None, &[])
                .await;
            assert_eq!(r.status, 401, "{what}: {}", r.text);
            assert_eq!(dialect_error(dialect, &r, &what), "unauthorized");
        }
    }
}

#[tokio::test]
async fn every_dialect_route_answers_unknown_ids_and_broken_bodies_as_client_errors_writing_nothing(
) {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let token = chift_token(&t).await;
    for dialect in DIALECTS {
        for (method, path, _) in routes(dialect) {
            let what = format!("{method} {path}");
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let api = caller(dialect, &t.admin, &token);
            let target = unknown_ids(&path);
            if method != "GET" && method != "DELETE" {
                let r = api
                    .raw(
                        m.clone(),
                        &target,
                        Some(("application/json", b"{\"not\": json".to_vec())),
                        &[],
                    )
                    .await;
                dialect_error(dialect, &r, &format!("{what} (broken JSON)"));
                let r = api
                    .raw(
                        m.clone(),
                        &target,
                        Some((
                            "application/json",
                            json!(["not", "an", "object"]).to_string().into_bytes(),
                        )),
                        &[],
                    )
                    .await;
                if r.status.as_u16() >= 400 {
                    dialect_error(dialect, &r, &format!("{what} (array body)"));
                }
            }
            // OpenInt's magic link makes its customer when it is new: not an unknown id.
            if (path.contains('{') || path.ends_with("/connect")) && !path.ends_with("/token") {
                let r = api.raw(m.clone(), &target, None, &[]).await;
                let code = dialect_error(dialect, &r, &format!("{what} (unknown id)"));
                assert_ne!(code, "internal", "{what}");
            }
        }
    }
    // Nothing of all that was written.
    assert_eq!(t.admin.get("/v1/consumers").await.json()["data"], json!([]));
    assert_eq!(
        t.admin.get("/v1/integrations").await.json()["data"],
        json!([])
    );
    let links: Value = t.admin.get("/v1/links").await.json();
    assert_eq!(links["data"], json!([]), "{links}");
}

#[tokio::test]
async fn every_dialect_write_refuses_a_read_only_key_in_its_own_shape() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    // Chift's member: a token for the member key.
    let member_token = {
        let r = stack
            .anonymous()
            .post(
                "/compat/chift/token",
                &json!({"clientId": t.member_key_id, "clientSecret": t.member.raw_key(), "accountId": t.id}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["access_token"].as_str().unwrap().to_owned()
    };
    for dialect in DIALECTS {
        for (method, path, public) in routes(dialect) {
            if public || method == "GET" {
                continue;
            }
            let what = format!("{method} {path}");
            let api = caller(dialect, &t.member, &member_token);
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = api
                .raw(
                    m,
                    &unknown_ids(&path),
                    Some(("application/json", b"{}".to_vec())),
                    &[],
                )
                .await;
            assert_eq!(r.status, 403, "{what}: {}", r.text);
            assert_eq!(dialect_error(dialect, &r, &what), "forbidden");
        }
    }
}

#[tokio::test]
async fn every_dialect_body_that_is_not_json_is_a_415_in_its_own_shape() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let token = chift_token(&t).await;
    // A consumer that exists: a consumer's update reads it before its body.
    let consumer = t.consumer(&json!({"name": "Media types"})).await;
    let consumer_uuid = linkgate::id::ConsumerId::parse(&consumer)
        .unwrap()
        .to_uuid();
    for dialect in DIALECTS {
        for (method, path) in with_bodies(dialect) {
            let what = format!("{method} {path}");
            let api = caller(dialect, &t.admin, &token);
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = api
                .raw(
                    m,
                    &unknown_ids(&path.replace("{consumer_id}", &consumer_uuid)),
                    Some(("text/plain", b"name=x".to_vec())),
                    &[],
                )
                .await;
            assert_eq!(r.status, 415, "{what}: {}", r.text);
            assert_eq!(dialect_error(dialect, &r, &what), "unsupported_media_type");
        }
    }
}

/// The refusals and conflicts the dialects' documents name beyond the generic ones, each
/// reached once in its dialect's shape.
#[tokio::test]
async fn each_documented_conflict_and_refusal_is_reached() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let token = chift_token(&t).await;
    let chift = t.admin.with_key(&token);
    let status_of = |dialect: &str, r: &Reply, status: u16, what: &str| {
        assert_eq!(r.status, status, "{what}: {}", r.text);
        dialect_error(dialect, r, what)
    };

    // Chift: bad query parameters.
    let r = chift.get("/compat/chift/integrations?status=maybe").await;
    status_of("chift", &r, 400, "integrations?status");
    let r = chift.get("/compat/chift/consumers?cursor=nope").await;
    status_of("chift", &r, 400, "consumers?cursor");
    // Chift: a taken internal_reference, on create and on update.
    let first = chift
        .post(
            "/compat/chift/consumers",
            &json!({"name": "A", "internal_reference": "dup-1"}),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let r = chift
        .post(
            "/compat/chift/consumers",
            &json!({"name": "B", "internal_reference": "dup-1"}),
        )
        .await;
    status_of("chift", &r, 409, "consumers (taken reference)");
    let second = chift
        .post("/compat/chift/consumers", &json!({"name": "C"}))
        .await
        .json()["consumerid"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = chift
        .patch(
            &format!("/compat/chift/consumers/{second}"),
            &json!({"internal_reference": "dup-1"}),
        )
        .await;
    status_of("chift", &r, 409, "consumer update (taken reference)");
    let r = chift
        .patch(
            &format!("/compat/chift/consumers/{second}"),
            &json!({"name": ""}),
        )
        .await;
    status_of("chift", &r, 400, "consumer update (empty name)");
    // Chift: a consumer with a live connection stays; a revoked connection takes no resend.
    let link = chift
        .post(
            &format!("/compat/chift/consumers/{second}/connections"),
            &json!({}),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    let r = chift
        .delete(&format!("/compat/chift/consumers/{second}"))
        .await;
    status_of("chift", &r, 409, "consumer delete (live connection)");
    let owner = linkgate::id::ConsumerId::from_uuid(&second).unwrap();
    let listed = t
        .admin
        .get(&format!("/v1/consumers/{owner}/connections"))
        .await
        .json();
    let connection = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let r = t
        .admin
        .delete(&format!("/v1/connections/{connection}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let connection_uuid = linkgate::id::ConnectionId::parse(&connection)
        .unwrap()
        .to_uuid();
    let r = chift
        .patch(
            &format!("/compat/chift/consumers/{second}/connections/{connection_uuid}"),
            &json!({}),
        )
        .await;
    status_of("chift", &r, 409, "resend of a revoked connection");

    // OpenInt: secrets of a connection that has none yet; a read-only key asking for them.
    let consumer = t.consumer(&json!({"name": "Pending"})).await;
    let pending = t.connect(&consumer, &json!({"name": "Pending"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/compat/openint/v2/connection/{pending}?include_secrets=true");
    let r = t.admin.get(&path).await;
    status_of("openint", &r, 409, "secrets of a pending connection");
    let r = t.member.get(&path).await;
    status_of("openint", &r, 403, "secrets with a read-only key");

    // Albato: renewing a sharing whose connection was revoked.
    let r = t
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sharing = t
        .admin
        .post(
            "/compat/albato/credentials/grant-access-sharing",
            &json!({"partnerId": linkgate::compat::provider_number("stripe")}),
        )
        .await
        .json()["data"]
        .clone();
    let connection = sharing["connectionId"].as_str().unwrap();
    let r = t
        .admin
        .delete(&format!("/v1/connections/{connection}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = t
        .admin
        .raw(
            Method::PUT,
            &format!(
                "/compat/albato/credentials/grant-access-sharing/{}",
                sharing["id"]
            ),
            None,
            &[],
        )
        .await;
    status_of(
        "albato",
        &r,
        409,
        "renewal of a revoked sharing's connection",
    );
}
