//! Provider catalog, integrations (with sealed OAuth client secrets) and tenant settings,
//! over HTTP through the real binaries, DynamoDB and KMS on moto.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use linkgate_tests::{assert_validation, items, table_mentions, Stack};
use reqwest::Method;
use serde_json::{json, Value};

const GITHUB: &str = r#"{"provider": "github", "client_id": "Iv1.abc", "client_secret": "gh-client-secret-value-123"}"#;

fn github() -> Value {
    serde_json::from_str(GITHUB).unwrap()
}

#[tokio::test]
async fn the_catalog_lists_filters_and_carries_our_logos() {
    let t = Stack::get().tenant().await;
    // In pages like every list: a page's size is bounded whatever the catalogue's.
    let first = t.member.get("/v1/providers").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json()["data"].as_array().unwrap().len(), 25);
    assert!(first.json()["next_cursor"].is_string());
    let pages = t.member.pages("/v1/providers?limit=100", 10).await;
    assert!(pages
        .iter()
        .all(|p| p["data"].as_array().unwrap().len() <= 100));
    let data = items(&pages);
    assert!(data.len() >= linkgate::provider::MIN_CATALOG);
    let ids: Vec<&str> = data.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "a provider served twice across pages"
    );
    // in catalogue order, every shipped provider once (the local stack shows its test ones)
    let shipped: Vec<&str> = linkgate::provider::catalog().unwrap().ids().collect();
    assert_eq!(ids, shipped);
    assert_eq!(
        items(&t.member.pages("/v1/providers?limit=7", 100).await).len(),
        data.len()
    );
    for p in &data {
        let svg = String::from_utf8(
            STANDARD
                .decode(p["logo"]["data"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(
            svg.starts_with("<svg") && svg.ends_with("</svg>"),
            "{}",
            p["id"]
        );
        if p["auth_mode"] == "oauth2" {
            // only the local stack's own test provider lives on loopback http
            let scheme = if p["local_only"] == true {
                "http://127.0.0.1:"
            } else {
                "https://"
            };
            assert!(p["oauth"]["authorize_url"]
                .as_str()
                .unwrap()
                .starts_with(scheme));
            assert!(p["credential_fields"].as_array().unwrap().is_empty());
        } else {
            assert!(p["credential_fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["secret"] == true));
        }
    }
    // filters apply before paging, and hold across pages
    let crm = t.member.all("/v1/providers?category=crm&limit=5").await;
    assert!(crm.len() >= 4 && crm.iter().all(|p| p["category"] == "crm"));
    assert_eq!(
        crm.len(),
        data.iter().filter(|p| p["category"] == "crm").count()
    );
    let keys = t
        .member
        .all("/v1/providers?auth_mode=api_key&limit=100")
        .await;
    assert!(keys.iter().all(|p| p["auth_mode"] == "api_key"));
    assert!(keys.len() > 25);
    let clients = t
        .member
        .all("/v1/providers?auth_mode=oauth2_client_credentials")
        .await;
    assert!(clients.iter().any(|p| p["id"] == "paypal"), "{clients:?}");
    let shopify = data.iter().find(|p| p["id"] == "shopify").unwrap();
    assert_eq!(shopify["connection_fields"][0]["name"], "shop");

    for bad in [
        "category=games",
        "auth_mode=saml",
        "page=2",
        "limit=0",
        "limit=101",
        "cursor=bm9wZQ",
    ] {
        let r = t.member.get(&format!("/v1/providers?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.error_code(), "validation_error");
    }
    let unknown = linkgate::cursor::encode("no-such-provider");
    let r = t
        .member
        .get(&format!("/v1/providers?cursor={unknown}"))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error_code(), "validation_error");
    assert_eq!(
        Stack::get().anonymous().get("/v1/providers").await.status,
        401
    );
}

#[tokio::test]
async fn oauth_integrations_seal_their_client_secret() {
    let t = Stack::get().tenant().await;
    let r = t.admin.post("/v1/integrations", &github()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let i = r.json();
    assert!(i["id"].as_str().unwrap().starts_with("int_"));
    assert_eq!(i["provider"], "github");
    assert_eq!(i["display_name"], "GitHub");
    assert_eq!(i["auth_mode"], "oauth2");
    assert_eq!(i["status"], "active");
    assert_eq!(i["client_id"], "Iv1.abc");
    assert_eq!(i["client_secret_set"], true);
    assert_eq!(
        i["scopes"],
        json!(["repo", "read:user"]),
        "the provider's default scopes"
    );
    assert!(
        !r.text.contains("gh-client-secret"),
        "the secret is never returned"
    );

    assert!(
        table_mentions("gh-client-secret").await.is_empty(),
        "plaintext secret in the table"
    );
    let sealed = table_mentions(i["id"].as_str().unwrap()).await;
    assert!(
        sealed
            .iter()
            .any(|d| d.contains("\"client_secret_sealed\": S(\"v2.")),
        "{sealed:?}"
    );

    let got = t
        .member
        .get(&format!("/v1/integrations/{}", i["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), i);
}

#[tokio::test]
async fn integration_bodies_are_validated_per_auth_mode() {
    let t = Stack::get().tenant().await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["provider"]),
        (json!({"provider": "myspace"}), vec!["provider"]),
        (json!({"provider": 7}), vec!["provider"]),
        (
            json!({"provider": "github"}),
            vec!["client_id", "client_secret"],
        ),
        (
            json!({"provider": "github", "client_id": "x"}),
            vec!["client_secret"],
        ),
        (
            json!({"provider": "github", "client_id": "x", "client_secret": "y", "scopes": "repo"}),
            vec!["scopes"],
        ),
        (
            json!({"provider": "github", "client_id": "x", "client_secret": "y", "scopes": ["has space"]}),
            vec!["scopes"],
        ),
        (
            json!({"provider": "stripe", "client_id": "x"}),
            vec!["client_id"],
        ),
        (
            json!({"provider": "stripe", "scopes": ["read"]}),
            vec!["scopes"],
        ),
        (
            json!({"provider": "stripe", "status": "paused"}),
            vec!["status"],
        ),
        (
            json!({"provider": "stripe", "display_name": ""}),
            vec!["display_name"],
        ),
        (
            json!({"provider": "stripe", "client_secret_set": true}),
            vec!["client_secret_set"],
        ),
    ];
    for (body, fields) in cases {
        let r = t.admin.post("/v1/integrations", &body).await;
        assert_validation(&r, &fields);
    }
    assert_eq!(
        t.admin.get("/v1/integrations").await.json()["data"],
        json!([]),
        "nothing was written"
    );
}

#[tokio::test]
async fn one_integration_per_provider_and_idempotent_creates() {
    let t = Stack::get().tenant().await;
    let first = t
        .admin
        .raw(
            Method::POST,
            "/v1/integrations",
            Some(("application/json", GITHUB.as_bytes().to_vec())),
            &[("Idempotency-Key", "int-1")],
        )
        .await;
    assert_eq!(first.status, 201);
    let replay = t
        .admin
        .raw(
            Method::POST,
            "/v1/integrations",
            Some(("application/json", GITHUB.as_bytes().to_vec())),
            &[("Idempotency-Key", "int-1")],
        )
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.json(), first.json());
    assert_eq!(replay.headers.get("idempotent-replayed").unwrap(), "true");

    let dup = t.admin.post("/v1/integrations", &github()).await;
    assert_eq!(dup.status, 409, "{}", dup.text);
    assert_eq!(dup.error_code(), "conflict");
    assert_eq!(dup.error_fields(), ["provider"]);
    assert_eq!(
        t.admin.get("/v1/integrations").await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Another tenant may enable the same provider.
    let other = Stack::get().tenant().await;
    assert_eq!(
        other.admin.post("/v1/integrations", &github()).await.status,
        201
    );
}

#[tokio::test]
async fn integrations_list_by_status_with_pagination() {
    let t = Stack::get().tenant().await;
    for (provider, status) in [
        ("stripe", "active"),
        ("datadog", "inactive"),
        ("sentry", "active"),
        ("twilio", "inactive"),
        ("mollie", "active"),
    ] {
        let r = t
            .admin
            .post(
                "/v1/integrations",
                &json!({"provider": provider, "status": status}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    for (status, expected) in [
        ("active", vec!["mollie", "sentry", "stripe"]),
        ("inactive", vec!["twilio", "datadog"]),
    ] {
        let pages = t
            .member
            .pages(&format!("/v1/integrations?status={status}&limit=1"), 10)
            .await;
        assert!(pages
            .iter()
            .all(|p| p["data"].as_array().unwrap().len() <= 1));
        let seen: Vec<String> = items(&pages)
            .iter()
            .map(|i| i["provider"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(seen, expected, "{status}");
    }
    for bad in ["status=on", "limit=0", "cursor=nope"] {
        let r = t.member.get(&format!("/v1/integrations?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn integrations_update_rotate_and_reset() {
    let t = Stack::get().tenant().await;
    let i = t.admin.post("/v1/integrations", &github()).await.json();
    let path = format!("/v1/integrations/{}", i["id"].as_str().unwrap());
    let id = i["id"].as_str().unwrap();
    let sealed_before = table_mentions("client_secret_sealed")
        .await
        .into_iter()
        .filter(|d| d.contains(id))
        .collect::<Vec<_>>();

    let r = t
        .admin
        .patch(&path, &json!({"status": "inactive", "display_name": "GitHub (staging)", "client_secret": "rotated-secret-456", "scopes": ["read:org"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let u = r.json();
    assert_eq!(u["status"], "inactive");
    assert_eq!(u["display_name"], "GitHub (staging)");
    assert_eq!(u["scopes"], json!(["read:org"]));
    assert_eq!(u["created_at"], i["created_at"]);
    assert!(!r.text.contains("rotated-secret"));
    let sealed_after = table_mentions("client_secret_sealed")
        .await
        .into_iter()
        .filter(|d| d.contains(id))
        .collect::<Vec<_>>();
    assert_ne!(sealed_before, sealed_after, "the sealed secret changed");
    assert!(table_mentions("rotated-secret").await.is_empty());

    let reset = t
        .admin
        .patch(&path, &json!({"display_name": null, "scopes": null}))
        .await
        .json();
    assert_eq!(reset["display_name"], "GitHub");
    assert_eq!(reset["scopes"], json!(["repo", "read:user"]));

    assert_validation(
        &t.admin.patch(&path, &json!({"provider": "gitlab"})).await,
        &["provider"],
    );
    assert_validation(
        &t.admin.patch(&path, &json!({"client_secret": null})).await,
        &["client_secret"],
    );
    assert_validation(
        &t.admin.patch(&path, &json!({"status": null})).await,
        &["status"],
    );

    let stripe = t
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await
        .json();
    let stripe_path = format!("/v1/integrations/{}", stripe["id"].as_str().unwrap());
    assert_validation(
        &t.admin
            .patch(&stripe_path, &json!({"client_id": "x"}))
            .await,
        &["client_id"],
    );
    assert_eq!(stripe["scopes"], Value::Null);

    let logo = t.member.get(&format!("{stripe_path}/logo")).await;
    assert_eq!(logo.status, 200);
    let logo = logo.json();
    assert_eq!(logo["content_type"], "image/svg+xml");
    assert!(
        String::from_utf8(STANDARD.decode(logo["data"].as_str().unwrap()).unwrap())
            .unwrap()
            .contains("Stripe")
    );
}

#[tokio::test]
async fn integrations_respect_roles_and_tenants() {
    let a = Stack::get().tenant().await;
    let b = Stack::get().tenant().await;
    let i = a
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await
        .json();
    let path = format!("/v1/integrations/{}", i["id"].as_str().unwrap());
    assert_eq!(
        a.member
            .post("/v1/integrations", &json!({"provider": "sentry"}))
            .await
            .status,
        403
    );
    assert_eq!(
        a.member
            .patch(&path, &json!({"status": "inactive"}))
            .await
            .status,
        403
    );
    for r in [
        b.admin.get(&path).await,
        b.admin.patch(&path, &json!({"status": "inactive"})).await,
        b.admin.get(&format!("{path}/logo")).await,
    ] {
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.error_code(), "not_found");
    }
    for id in ["int_nope", "csm_0193a1b2c3d47000800000000000000a"] {
        assert_eq!(
            a.admin.get(&format!("/v1/integrations/{id}")).await.status,
            404
        );
    }
    assert_eq!(
        a.admin.get(&path).await.json()["status"],
        "active",
        "untouched"
    );
}

#[tokio::test]
async fn settings_default_update_and_reset() {
    let t = Stack::get().tenant().await;
    let d = t.member.get("/v1/settings").await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(
        d.json(),
        json!({"default_redirect_url": null, "default_link_ttl_seconds": 1800, "updated_at": null,
               "reminders": {"enabled": false, "sender_name": null, "reply_to": null,
                             "schedule": {"after_creation_hours": [24], "before_expiry_hours": [4]}},
               "branding": {"display_name": null, "logo": null, "primary_color": null},
               "contact_email": null})
    );

    let r = t
        .admin
        .patch("/v1/settings", &json!({"default_redirect_url": "https://app.example.com/done", "default_link_ttl_seconds": 3600}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = r.json();
    assert_eq!(s["default_redirect_url"], "https://app.example.com/done");
    assert_eq!(s["default_link_ttl_seconds"], 3600);
    assert!(s["updated_at"].is_string());
    assert_eq!(t.member.get("/v1/settings").await.json(), s);

    for (body, field) in [
        (
            json!({"default_link_ttl_seconds": 299}),
            "default_link_ttl_seconds",
        ),
        (
            json!({"default_link_ttl_seconds": 604801}),
            "default_link_ttl_seconds",
        ),
        (
            json!({"default_link_ttl_seconds": "3600"}),
            "default_link_ttl_seconds",
        ),
        (
            json!({"default_redirect_url": "http://example.com/x"}),
            "default_redirect_url",
        ),
        (
            json!({"default_redirect_url": "notaurl"}),
            "default_redirect_url",
        ),
        (
            json!({"branding": {"primary_color": "#ffff00"}}),
            "branding.primary_color",
        ),
        (json!({"branding": "acme"}), "branding"),
    ] {
        assert_validation(&t.admin.patch("/v1/settings", &body).await, &[field]);
    }
    assert_eq!(
        t.member
            .patch("/v1/settings", &json!({"default_link_ttl_seconds": 600}))
            .await
            .status,
        403
    );
    assert_eq!(
        t.member.get("/v1/settings").await.json(),
        s,
        "refused patches wrote nothing"
    );

    let reset = t
        .admin
        .patch(
            "/v1/settings",
            &json!({"default_redirect_url": null, "default_link_ttl_seconds": null}),
        )
        .await
        .json();
    assert_eq!(reset["default_redirect_url"], Value::Null);
    assert_eq!(reset["default_link_ttl_seconds"], 1800);

    let other = Stack::get().tenant().await;
    assert_eq!(
        other.admin.get("/v1/settings").await.json()["updated_at"],
        Value::Null,
        "settings are per tenant"
    );
}
