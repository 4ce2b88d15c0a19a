//! Every route of every dialect (each `compat/<name>.openapi.yaml`), asked wrongly: without
//! credentials, with ids that name nothing, with bodies that are not JSON. Each answer is a
//! client error in that dialect's documented shape, never a 500, and writes nothing.

use linkgate_tests::{root, Reply, Stack, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

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
            let api = if *dialect == "chift" {
                t.admin.with_key(&token)
            } else {
                t.admin.clone()
            };
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
