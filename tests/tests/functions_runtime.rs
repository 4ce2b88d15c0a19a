//! Every sample under events/ is fed to the real function binary through the Lambda runtime
//! API, against the local stack's DynamoDB, and the answer is checked.

use linkgate_tests::{root, runtime_api, template_routes, Stack};
use serde_json::{json, Value};

/// What each function must answer to its sample, and a check of the body.
fn expectation(function: &str) -> (u16, fn(&Value)) {
    match function {
        "health" => (200, |b| assert_eq!(b["status"], "ok")),
        "consumers-create" => (201, |b| {
            assert_eq!(b["name"], "Acme Ltd");
            assert!(b["id"].as_str().unwrap().starts_with("csm_"));
        }),
        "consumers-list" => (200, |b| {
            assert!(b["data"].as_array().is_some_and(|d| !d.is_empty()))
        }),
        "consumers-get" => (200, |b| assert_eq!(b["name"], "Sample consumer")),
        "consumers-update" => (200, |b| {
            assert_eq!(b["name"], "Acme Limited");
            assert_eq!(b["metadata"], json!({"plan": "enterprise", "region": "eu"}));
        }),
        "consumers-delete" => (204, |_| {}),
        other => panic!("no expectation for {other}: add one here when adding a function"),
    }
}

#[tokio::test]
async fn every_sample_event_runs_through_its_real_binary() {
    let stack = Stack::get();
    let routes = template_routes();
    let mut ran = 0;
    let mut entries: Vec<_> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let route_key = event["routeKey"].as_str().unwrap().to_owned();
        let function = routes
            .iter()
            .find(|r| format!("{} {}", r.method, r.path) == route_key)
            .map(|r| r.function.clone())
            .unwrap();

        // The samples carry a placeholder key and id: give them real ones on a fresh tenant.
        let tenant = stack.tenant().await;
        if event["headers"].get("authorization").is_some() {
            let key = tenant.admin.raw_key();
            event["headers"]["authorization"] = json!(format!("Bearer {key}"));
        }
        let created = tenant
            .admin
            .post("/v1/consumers", &json!({"name": "Sample consumer", "metadata": {"plan": "free", "trial": true, "region": "eu"}}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        if let Some(old_id) = event["pathParameters"]["id"].as_str().map(String::from) {
            let id = created.json()["id"].as_str().unwrap().to_owned();
            let text = event.to_string().replace(&old_id, &id);
            event = serde_json::from_str(&text).unwrap();
        }

        let binary = root().join("target/debug").join(&function);
        let answer = runtime_api::invoke(&binary, event, &stack.function_env)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (status, check) = expectation(&function);
        assert_eq!(answer["statusCode"], status, "{}: {answer}", path.display());
        let body = answer["body"].as_str().unwrap_or_default();
        if status != 204 {
            let body: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{}: body not JSON ({e})", path.display()));
            check(&body);
        } else {
            assert!(body.is_empty());
        }
        ran += 1;
    }
    assert!(
        ran >= routes.len(),
        "ran {ran} samples for {} routes",
        routes.len()
    );
}
