//! `linkgate-admin` against the local stack: tenants, keys, and revocation taking effect in
//! warm functions.

use linkgate_tests::{root, Stack};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn admin(stack: &Stack, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(root().join("target/debug/linkgate-admin"))
        .args(args)
        .envs(&stack.function_env)
        .output()
        .expect("run linkgate-admin");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), json, stderr)
}

#[tokio::test]
async fn tenants_and_keys_lifecycle_with_revocation() {
    let stack = Stack::get();
    let (ok, tenant, err) = admin(&stack, &["tenant", "create", "--name", "CLI Platform"]);
    assert!(ok, "{err}");
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    assert!(tenant_id.starts_with("ten_"));
    let (ok, got, _) = admin(&stack, &["tenant", "get", "--tenant", &tenant_id]);
    assert!(ok);
    assert_eq!(got["name"], "CLI Platform");

    let (ok, key, err) = admin(
        &stack,
        &[
            "key", "create", "--tenant", &tenant_id, "--role", "admin", "--name", "ci",
        ],
    );
    assert!(ok, "{err}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let key_id = key["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("lgk_") && secret.len() == 47);
    assert_eq!(key["role"], "admin");
    assert_eq!(key["last4"].as_str().unwrap(), &secret[secret.len() - 4..]);

    let api = stack.api(&secret);
    assert_eq!(api.get("/v1/consumers").await.status, 200);
    let created = api
        .post("/v1/consumers", &serde_json::json!({"name": "Via CLI key"}))
        .await;
    assert_eq!(created.status, 201);

    let (ok, listed, _) = admin(&stack, &["key", "list", "--tenant", &tenant_id]);
    assert!(ok);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], key_id.as_str());
    assert!(
        listed[0].get("secret").is_none(),
        "a listing never shows the secret"
    );
    assert!(!listed[0].to_string().contains(&secret[4..]));

    let (ok, revoked, err) = admin(
        &stack,
        &["key", "revoke", "--tenant", &tenant_id, "--key", &key_id],
    );
    assert!(ok, "{err}");
    assert!(revoked["revoked_at"].is_string());

    // The warm function may trust its cache for LINKGATE_API_KEY_CACHE_SECONDS (2 s locally,
    // 30 s by default, never over 60): poll until the key is refused.
    let last = linkgate_tests::eventually(
        Duration::from_secs(20),
        async || api.get("/v1/consumers").await,
        |r| r.status != 200,
    )
    .await;
    assert_eq!(last.status, 401, "a revoked key still works after 20 s");
    assert_eq!(last.error_code(), "unauthorized");

    let (ok, again, _) = admin(
        &stack,
        &["key", "revoke", "--tenant", &tenant_id, "--key", &key_id],
    );
    assert!(ok);
    assert_eq!(
        again["revoked_at"], revoked["revoked_at"],
        "revoking twice keeps the first time"
    );
}

#[test]
fn refuses_bad_input_with_clear_errors() {
    let stack = Stack::get();
    let missing = "ten_0193a1b2c3d47000800000000000000a";
    let (ok, _, err) = admin(
        &stack,
        &["key", "create", "--tenant", missing, "--role", "admin"],
    );
    assert!(!ok);
    assert!(err.contains("no tenant"), "{err}");

    let (ok, _, err) = admin(
        &stack,
        &["key", "create", "--tenant", missing, "--role", "owner"],
    );
    assert!(!ok);
    assert!(err.contains("role must be"), "{err}");

    let (ok, _, err) = admin(
        &stack,
        &["key", "create", "--tenant", "acme", "--role", "admin"],
    );
    assert!(!ok);
    assert!(err.contains("not a tenant id"), "{err}");

    let (ok, tenant, _) = admin(&stack, &["tenant", "create", "--name", "Other"]);
    assert!(ok);
    let (ok, _, err) = admin(
        &stack,
        &[
            "key",
            "revoke",
            "--tenant",
            tenant["id"].as_str().unwrap(),
            "--key",
            "key_0193a1b2c3d47000800000000000000a",
        ],
    );
    assert!(!ok);
    assert!(err.contains("has no API key"), "{err}");

    let (ok, _, err) = admin(&stack, &["tenant", "create", "--name", ""]);
    assert!(!ok);
    assert!(err.contains("tenant name"), "{err}");
}
