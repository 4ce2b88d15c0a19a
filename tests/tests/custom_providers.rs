//! Custom providers: a tenant defines its own (`/v1/providers/custom`), sees it in its
//! catalogue only, enables it, and connects through it in every flow, against the local
//! stack's real providers: the loopback key provider (`scripts/key_provider.py`) and the
//! OAuth provider (oidc-provider-mock behind its fault proxy).

use linkgate_tests::oauth::{self, query_param, sign_in};
use linkgate_tests::{assert_validation, table_mentions, OpenLink, Stack, TestTenant};
use serde_json::{json, Value};

fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{nanos}x{n}")
}

/// An API-key provider of the tenant's own, at the local key provider: it accepts bearer
/// keys `lg_valid_…` at `/v1/workspaces/{workspace}/me`.
fn key_definition(id: &str) -> Value {
    json!({
        "id": id,
        "name": "Acme Ledger",
        "category": "accounting",
        "auth_mode": "api_key",
        "docs_url": "https://developer.acme-ledger.example/",
        "credential_fields": [
            {"name": "api_key", "label": "Ledger key", "secret": true, "pattern": "^[A-Za-z0-9_]{8,64}$",
             "help": "Settings → API in your Acme Ledger account."}
        ],
        "connection_fields": [
            {"name": "workspace", "label": "Workspace", "pattern": "^[a-z0-9-]{1,30}$", "placeholder": "demo"}
        ],
        "api_base_url": "http://127.0.0.1:9402/v1/workspaces/{workspace}",
        "verify": {
            "url": "http://127.0.0.1:9402/v1/workspaces/{workspace}/me",
            "headers": {"Authorization": "Bearer {api_key}"},
            "refused": [401]
        }
    })
}

async fn define(t: &TestTenant, definition: &Value) -> Value {
    let r = t.admin.post("/v1/providers/custom", definition).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

async fn enable(t: &TestTenant, body: Value) -> String {
    let r = t.admin.post("/v1/integrations", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn key_calls(credential: &str) -> Vec<Value> {
    reqwest::get(format!("http://127.0.0.1:9402/_calls/{credential}"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_tenant_defines_lists_changes_and_deletes_its_own_provider() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let other = stack.tenant().await;
    let id = "x-acme-ledger";
    let created = define(&t, &key_definition(id)).await;
    assert_eq!(created["id"], id);
    assert_eq!(
        created["color"], "#4B5563",
        "a default colour for the initials"
    );
    assert_eq!(created["logo"], Value::Null);
    assert_eq!(
        created["verify"]["url"],
        "http://127.0.0.1:9402/v1/workspaces/{workspace}/me"
    );

    // The id is the tenant's: taken for it, free for another.
    let again = t
        .admin
        .post("/v1/providers/custom", &key_definition(id))
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.error_code(), "conflict");
    define(&other, &key_definition(id)).await;
    let r = other
        .admin
        .delete(&format!("/v1/providers/custom/{id}"))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    // Listed for its tenant only, first, marked custom; the catalogue follows.
    let listed = t.admin.get("/v1/providers").await.json();
    assert_eq!(listed["data"][0]["id"], id, "{listed}");
    assert_eq!(listed["data"][0]["custom"], true);
    assert_eq!(listed["data"][0]["verifies_credentials"], true);
    // a page ending on a custom provider resumes with the rest of the tenant's, then the
    // catalogue; the next never reads them again
    let paged = t.admin.all("/v1/providers?limit=1").await;
    assert_eq!(paged[0]["id"], id);
    assert!(paged[1]["custom"].is_null() || paged[1]["custom"] == false);
    assert!(paged.len() > linkgate::provider::MIN_CATALOG);
    let filtered = t.admin.get("/v1/providers?category=crm").await.json();
    assert!(filtered["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["id"] != id));
    let theirs = other.admin.get("/v1/providers").await.json();
    assert!(theirs["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["id"] != id));
    for r in [
        other.admin.get(&format!("/v1/providers/custom/{id}")).await,
        other
            .admin
            .patch(
                &format!("/v1/providers/custom/{id}"),
                &json!({"name": "Mine"}),
            )
            .await,
        other
            .admin
            .delete(&format!("/v1/providers/custom/{id}"))
            .await,
    ] {
        assert_eq!(r.status, 404, "another tenant's is not found: {}", r.text);
    }
    let mine = t.admin.all("/v1/providers/custom").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["name"], "Acme Ledger");

    // A member key reads, never writes.
    assert_eq!(
        t.member
            .get(&format!("/v1/providers/custom/{id}"))
            .await
            .status,
        200
    );
    let r = t
        .member
        .patch(&format!("/v1/providers/custom/{id}"), &json!({"name": "x"}))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = t
        .member
        .post("/v1/providers/custom", &key_definition("x-member"))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // Enabled, the integration takes the definition; a change reaches it in the same write.
    let integration = enable(&t, json!({"provider": id})).await;
    let got = t
        .admin
        .get(&format!("/v1/integrations/{integration}"))
        .await
        .json();
    assert_eq!(got["display_name"], "Acme Ledger");
    assert_eq!(got["auth_mode"], "api_key");
    let r = t
        .admin
        .patch(
            &format!("/v1/providers/custom/{id}"),
            &json!({"name": "Acme Ledger Cloud", "docs_url": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["docs_url"], Value::Null);
    assert_eq!(
        r.json()["api_base_url"],
        created["api_base_url"],
        "the rest kept"
    );
    let got = t
        .admin
        .get(&format!("/v1/integrations/{integration}"))
        .await
        .json();
    assert_eq!(got["display_name"], "Acme Ledger Cloud", "{got}");
    let r = t
        .admin
        .patch(
            &format!("/v1/providers/custom/{id}"),
            &json!({"id": "x-other"}),
        )
        .await;
    assert_validation(&r, &["id"]);
    let r = t
        .admin
        .patch(
            &format!("/v1/providers/custom/{id}"),
            &json!({"api_base_url": "http://api.acme-ledger.example"}),
        )
        .await;
    assert_validation(&r, &["api_base_url"]);

    // In use: not deleted, and says what to do instead.
    let r = t.admin.delete(&format!("/v1/providers/custom/{id}")).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("inactive"), "{}", r.text);
    assert_eq!(
        t.admin
            .get(&format!("/v1/providers/custom/{id}"))
            .await
            .status,
        200
    );

    // A provider no integration uses is deleted, and its place given back.
    define(&t, &key_definition("x-spare")).await;
    let r = t.admin.delete("/v1/providers/custom/x-spare").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        t.admin.get("/v1/providers/custom/x-spare").await.status,
        404
    );
    assert_eq!(
        t.admin.delete("/v1/providers/custom/x-spare").await.status,
        404
    );
    // An unknown custom provider cannot be enabled.
    let r = t
        .admin
        .post("/v1/integrations", &json!({"provider": "x-spare"}))
        .await;
    assert_validation(&r, &["provider"]);
}

#[tokio::test]
async fn bad_definitions_are_refused_naming_the_field_and_write_nothing() {
    let t = Stack::get().tenant().await;
    let svg = |body: &str| {
        use base64::Engine;
        format!(
            "data:image/svg+xml;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">{body}</svg>"#
            ))
        )
    };
    let with = |changes: Value| {
        let mut d = key_definition("x-bad");
        for (k, v) in changes.as_object().unwrap() {
            d[k] = v.clone();
        }
        d
    };
    let cases = [
        (
            with(json!({"api_base_url": "http://api.acme-ledger.example/v1"})),
            "api_base_url",
        ),
        (
            with(json!({"api_base_url": "https://{tenant}.acme-ledger.example"})),
            "api_base_url",
        ),
        (
            with(json!({"api_base_url": "https://10.1.2.3/v1"})),
            "api_base_url",
        ),
        (
            with(json!({"api_base_url": "https://169.254.169.254/latest"})),
            "api_base_url",
        ),
        (
            with(json!({"verify": {"url": "https://localhost/me"}})),
            "verify.url",
        ),
        (
            with(json!({"verify": {"url": "https://api.acme-ledger.example/{api_key}/me"}})),
            "verify.url",
        ),
        (
            // over 32 KiB of SVG, in a body under the API's 64 KiB
            with(json!({"logo": svg(&"<rect width=\"1\" height=\"1\"/>".repeat(1300))})),
            "logo",
        ),
        (
            with(json!({"logo": "data:image/png;base64,iVBORw0KGgo="})),
            "logo",
        ),
        (with(json!({"id": "acme-ledger"})), "id"),
        (with(json!({"category": "games"})), "category"),
        (with(json!({"auth_mode": "oauth2"})), "oauth"),
        (with(json!({"secretly": true})), "secretly"),
        (
            with(
                json!({"credential_fields": [{"name": "api_key", "label": "Key", "secret": true, "pattern": "[a-z"}]}),
            ),
            "credential_fields[0].pattern",
        ),
        (
            with(
                json!({"connection_fields": [{"name": "workspace", "label": "W", "secret": true}]}),
            ),
            "connection_fields[0].secret",
        ),
        (
            with(json!({"credential_fields": [{"name": "api_key", "secret": true}]})),
            "credential_fields[0].label",
        ),
    ];
    for (definition, field) in cases {
        let r = t.admin.post("/v1/providers/custom", &definition).await;
        assert_eq!(r.status, 400, "{field}: {}", r.text);
        assert!(
            r.error_fields().contains(&field.to_string()),
            "{field} not named: {}",
            r.text
        );
    }
    let r = t
        .admin
        .post(
            "/v1/providers/custom",
            &json!({"id": "x-oauth", "name": "O", "category": "crm", "auth_mode": "oauth2",
                    "oauth": {"authorize_url": "https://login.acme.example/authorize",
                              "token_url": "https://login.acme.example/token",
                              "authorize_params": {"redirect_uri": "https://evil.example/"}}}),
        )
        .await;
    assert_validation(&r, &["oauth.authorize_params.redirect_uri"]);
    assert_eq!(
        t.admin.all("/v1/providers/custom").await,
        Vec::<Value>::new()
    );
    // A logo is kept as the allow-list writes it: what a page must not run is gone.
    let mut d = key_definition("x-logo");
    d["logo"] = json!(svg(
        r#"<script>alert(1)</script><rect width="64" height="64" fill="red" onload="x()"/>"#
    ));
    let created = define(&t, &d).await;
    use base64::Engine;
    let kept = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(
                created["logo"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("data:image/svg+xml;base64,"),
            )
            .unwrap(),
    )
    .unwrap();
    assert!(kept.contains("<rect"), "{kept}");
    assert!(
        !kept.contains("script") && !kept.contains("onload"),
        "{kept}"
    );
}

#[tokio::test]
async fn a_custom_key_provider_connects_through_every_flow() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let id = "x-acme-ledger";
    define(&t, &key_definition(id)).await;
    let integration = enable(&t, json!({"provider": id})).await;

    // The hosted page: refused, then accepted, checked with the provider each time.
    let consumer = t
        .consumer(&json!({"name": "Ledger customer", "redirect_url": "https://acme.example/done"}))
        .await;
    let r = t
        .admin
        .post(
            &format!("/v1/consumers/{consumer}/connections"),
            &json!({"name": "Ledger", "integration_id": integration}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let conn = r.json();
    let link = OpenLink::of(&conn);
    let browser = stack.anonymous();
    let page = link.open(&browser).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Acme Ledger"), "{}", page.text);
    let wrong = unique("lg_wrong_");
    let r = link
        .complete(
            &browser,
            &[
                ("integration_id", &integration),
                ("f_workspace", "demo"),
                ("f_api_key", &wrong),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("Acme Ledger refused these credentials"),
        "{}",
        r.text
    );
    let good = unique("lg_valid_");
    let r = link
        .complete(
            &browser,
            &[
                ("integration_id", &integration),
                ("f_workspace", "demo"),
                ("f_api_key", &good),
            ],
        )
        .await;
    assert!(
        r.status == 303 || r.status == 200,
        "{} {}",
        r.status,
        r.text
    );
    let c = t
        .admin
        .get(&format!("/v1/connections/{}", conn["id"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(c["status"], "active", "{c}");
    assert_eq!(c["provider"], id);
    assert_eq!(c["verified"], true);
    let seen = key_calls(&good).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["path"], "/v1/workspaces/demo/me");
    assert!(table_mentions(&good).await.is_empty(), "sealed at rest");

    // The platform reads the credentials with the provider's base URL filled in.
    let creds = t
        .admin
        .get(&format!(
            "/v1/connections/{}/credentials",
            conn["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(creds.status, 200, "{}", creds.text);
    assert!(creds.text.contains(&good), "{}", creds.text);

    // A check re-asks the provider.
    let r = t
        .admin
        .post(
            &format!("/v1/connections/{}/check", conn["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["result"], "valid");
    assert_eq!(key_calls(&good).await.len(), 2);

    // Import: checked before anything is written.
    let import = |key: &str| {
        json!({"consumer_id": consumer, "integration_id": integration, "name": "Imported",
               "credentials": {"api_key": key}, "connection_fields": {"workspace": "demo"}})
    };
    let refused = unique("lg_wrong_");
    let r = t.admin.post("/v1/connections", &import(&refused)).await;
    assert_validation(&r, &["credentials.api_key"]);
    assert!(table_mentions(&refused).await.is_empty());
    let r = t
        .admin
        .post("/v1/connections", &import(&unique("lg_valid_")))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["verified"], true);

    // Stored credentials by the custom provider's id, then a direct connect with them.
    let store = |key: &str| json!({"provider": id, "values": {"api_key": key}, "connection_fields": {"workspace": "demo"}});
    let r = t
        .admin
        .post("/v1/credentials", &store(&unique("lg_wrong_")))
        .await;
    assert_validation(&r, &["values.api_key"]);
    let r = t
        .admin
        .post("/v1/credentials", &store(&unique("lg_valid_")))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["verified"], true);
    let credential = r.json()["id"].as_str().unwrap().to_owned();
    let direct = t.consumer(&json!({"name": "Direct"})).await;
    let r = t
        .admin
        .post(
            &format!("/v1/integrations/{id}/connect"),
            &json!({"credential_id": credential, "consumer_id": direct}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = t
        .admin
        .get(&format!(
            "/v1/connections/{}",
            r.json()["connection_id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(c["status"], "active", "{c}");
    assert_eq!(c["provider"], id);

    // Another tenant cannot use it by name.
    let other = stack.tenant().await;
    let r = other
        .admin
        .post("/v1/integrations", &json!({"provider": id}))
        .await;
    assert_validation(&r, &["provider"]);
    let r = other
        .admin
        .post("/v1/credentials", &store(&unique("lg_valid_")))
        .await;
    assert_validation(&r, &["provider"]);
}

/// Defines an OAuth provider of the tenant's own at the local OAuth provider, enables it
/// with an OAuth client no other test uses, and connects once through the hosted flow:
/// the client id, the connection id, and the authorization URL the customer was sent to.
async fn oauth_connection(t: &TestTenant, id: &str, oauth: Value) -> (String, String, String) {
    let stack = Stack::get();
    let mut spec = json!({
        "authorize_url": "http://127.0.0.1:9400/oauth2/authorize",
        "token_url": "http://127.0.0.1:9401/oauth2/token",
        "scopes": ["openid", "profile"]
    });
    for (k, v) in oauth.as_object().unwrap() {
        spec[k] = v.clone();
    }
    define(
        t,
        &json!({"id": id, "name": "Acme SSO", "category": "productivity", "auth_mode": "oauth2", "oauth": spec}),
    )
    .await;
    let client_id = unique("custom-client-");
    // OAuth providers need the tenant's app, like the catalogue's.
    let r = t
        .admin
        .post("/v1/integrations", &json!({"provider": id}))
        .await;
    assert_validation(&r, &["client_id", "client_secret"]);
    let integration = enable(
        t,
        json!({"provider": id, "client_id": client_id, "client_secret": "s3cret"}),
    )
    .await;
    let conn = t
        .connection(
            &json!({"name": "SSO customer"}),
            &json!({"name": "SSO", "integration_id": integration}),
        )
        .await;
    let browser = stack.anonymous();
    let authorize = oauth::start(&browser, conn["link"]["url"].as_str().unwrap()).await;
    assert!(
        authorize.starts_with("http://127.0.0.1:9400/oauth2/authorize?"),
        "{authorize}"
    );
    let callback = sign_in(&authorize, Some(&format!("sso-{client_id}"))).await;
    let r = browser.get(&oauth::local_path(&callback)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    let c = t
        .admin
        .get(&format!("/v1/connections/{conn_id}"))
        .await
        .json();
    assert_eq!(c["status"], "active", "{c}");
    assert_eq!(c["provider"], id);
    (client_id, conn_id, authorize)
}

async fn check(t: &TestTenant, connection: &str) -> Value {
    let r = t
        .admin
        .post(&format!("/v1/connections/{connection}/check"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn a_custom_oauth_provider_connects_with_pkce_and_refreshes() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let (client_id, conn, authorize) = oauth_connection(
        &t,
        "x-acme-sso",
        json!({"authorize_params": {"prompt": "consent"}}),
    )
    .await;
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&authorize, "prompt").as_deref(),
        Some("consent")
    );
    assert_eq!(
        query_param(&authorize, "scope").as_deref(),
        Some("openid profile")
    );
    let calls = stack.token_calls(&client_id).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["client_auth"], "basic");
    assert!(calls[0]["code_verifier"].is_string(), "{calls:?}");

    // A check refreshes the token at the tenant's token URL.
    let report = check(&t, &conn).await;
    assert_eq!(report["result"], "valid", "{report}");
    assert_eq!(report["method"], "token_refresh");
    let calls = stack.token_calls(&client_id).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1]["grant_type"], "refresh_token");
}

#[tokio::test]
async fn a_custom_oauth_provider_without_pkce_posts_its_client_secret() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let (client_id, conn, authorize) = oauth_connection(
        &t,
        "x-acme-post",
        json!({"pkce": false, "token_auth": "client_secret_post"}),
    )
    .await;
    assert_eq!(
        query_param(&authorize, "code_challenge"),
        None,
        "no PKCE: {authorize}"
    );
    let calls = stack.token_calls(&client_id).await;
    assert_eq!(calls[0]["grant_type"], "authorization_code");
    assert_eq!(calls[0]["client_auth"], "post", "{calls:?}");
    assert_eq!(calls[0]["code_verifier"], Value::Null);

    // The refresh authenticates the same way. The local provider (authlib) takes only HTTP
    // Basic on its refresh grant, so it refuses this one as a real provider would: the
    // connection asks for re-authorization, with the provider's reason.
    let report = check(&t, &conn).await;
    let calls = stack.token_calls(&client_id).await;
    assert_eq!(calls[1]["grant_type"], "refresh_token");
    assert_eq!(calls[1]["client_auth"], "post", "{calls:?}");
    assert_eq!(report["result"], "refused", "{report}");
    assert_eq!(report["connection"]["status"], "needs_reauth");
    assert_eq!(report["connection"]["reauth_reason"], "invalid_client");
}

#[tokio::test]
async fn a_client_credentials_provider_trades_the_customers_client_for_tokens() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let id = "x-acme-m2m";
    let defined = define(
        &t,
        &json!({
            "id": id,
            "name": "Acme M2M",
            "category": "accounting",
            "auth_mode": "oauth2_client_credentials",
            "oauth": {"token_url": "http://127.0.0.1:9402/oauth/token", "scopes": ["ledger.read"],
                      "token_auth": "client_secret_post"}
        }),
    )
    .await;
    assert_eq!(
        defined["credential_fields"][1],
        json!({"name": "client_secret", "label": "Client secret", "secret": true})
    );
    // The client is the customer's: the integration needs no OAuth app of the tenant's.
    let integration = enable(&t, json!({"provider": id})).await;
    let conn = t
        .connection(
            &json!({"name": "M2M customer"}),
            &json!({"name": "M2M", "integration_id": integration}),
        )
        .await;
    let link = OpenLink::of(&conn);
    let browser = stack.anonymous();
    assert_eq!(link.open(&browser).await.status, 200);
    let client = unique("lg_client_");
    let r = link
        .complete(
            &browser,
            &[
                ("integration_id", &integration),
                ("f_client_id", &client),
                ("f_client_secret", "not-the-secret"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("Acme M2M refused these credentials"),
        "{}",
        r.text
    );
    let r = link
        .complete(
            &browser,
            &[
                ("integration_id", &integration),
                ("f_client_id", &client),
                ("f_client_secret", "lg-client-secret"),
            ],
        )
        .await;
    assert!(
        r.status == 303 || r.status == 200,
        "{} {}",
        r.status,
        r.text
    );
    let conn_id = conn["id"].as_str().unwrap();
    let c = t
        .admin
        .get(&format!("/v1/connections/{conn_id}"))
        .await
        .json();
    assert_eq!(c["status"], "active", "{c}");
    assert_eq!(c["verified"], true);
    let calls = key_calls(&client).await;
    assert_eq!(
        calls.len(),
        2,
        "a refused and a granted token request: {calls:?}"
    );
    assert!(calls
        .iter()
        .all(|c| c["grant_type"] == "client_credentials" && c["client_auth"] == "post"));
    assert_eq!(calls[1]["scope"], "ledger.read");

    // The platform reads a token got with the customer's client, kept until it expires.
    let read = |path: String| {
        let admin = t.admin.clone();
        async move {
            let r = admin.get(&path).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json()
        }
    };
    let first = read(format!("/v1/connections/{conn_id}/credentials")).await;
    let token = first["credentials"]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(token.starts_with("cc-"), "{first}");
    assert_eq!(key_calls(&client).await.len(), 3);
    let again = read(format!("/v1/connections/{conn_id}/credentials")).await;
    assert_eq!(
        again["credentials"]["access_token"],
        token.as_str(),
        "kept while valid"
    );
    assert_eq!(key_calls(&client).await.len(), 3);
    let c = t
        .admin
        .get(&format!("/v1/connections/{conn_id}"))
        .await
        .json();
    assert!(c["token_expires_at"].is_string(), "{c}");

    // A check asks for a new token with the same client.
    let report = check(&t, conn_id).await;
    assert_eq!(report["result"], "valid", "{report}");
    assert_eq!(key_calls(&client).await.len(), 4);
    assert_ne!(
        read(format!("/v1/connections/{conn_id}/credentials")).await["credentials"]["access_token"],
        token.as_str()
    );

    // Import: the client checked with the provider first.
    let consumer = t.consumer(&json!({"name": "Imported M2M"})).await;
    let import = |secret: &str| {
        json!({"consumer_id": consumer, "integration_id": integration, "name": "Imported",
               "credentials": {"client_id": unique("lg_client_"), "client_secret": secret}})
    };
    let r = t.admin.post("/v1/connections", &import("nope")).await;
    assert_validation(&r, &["credentials.client_id", "credentials.client_secret"]);
    let r = t
        .admin
        .post("/v1/connections", &import("lg-client-secret"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["verified"], true);
}
