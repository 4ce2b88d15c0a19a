//! End to end through the hosted connect page: the real binaries behind `cargo lambda
//! watch`, DynamoDB and KMS on moto. Consumer → connection → open link → (marketplace) →
//! submit → redirect → connection active → exactly one outbox event.

use linkgate_tests::{table_mentions, Api, OpenLink, Reply, Stack, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

const STRIPE_KEY: &str = "rk_test_51VerySecretRestrictedKey000000";

struct Flow {
    t: TestTenant,
    consumer: String,
    connection: Value,
    link: OpenLink,
}

impl Flow {
    fn link_id(&self) -> &str {
        &self.link.id
    }

    fn connection_id(&self) -> &str {
        self.connection["id"].as_str().unwrap()
    }

    fn public(&self) -> Api {
        Stack::get().anonymous()
    }

    async fn open(&self) -> Reply {
        self.link.open(&self.public()).await
    }

    async fn submit(&self, fields: &[(&str, &str)]) -> Reply {
        self.link.complete(&self.public(), fields).await
    }
}

/// The tenant's `kind` events once the relay wrote any (it works from the table's stream),
/// or none after ten seconds.
async fn announced(t: &TestTenant, kind: &str) -> Vec<Value> {
    linkgate_tests::eventually(
        std::time::Duration::from_secs(10),
        async || Stack::get().events(&t.id, kind).await,
        |events| !events.is_empty(),
    )
    .await
}

async fn flow(integration: Option<&str>, extra: Value) -> Flow {
    let t = Stack::get().tenant().await;
    let consumer = t
        .consumer(&json!({"name": "Acme", "redirect_url": "https://acme.example/done"}))
        .await;
    let mut body = json!({"name": "Accounting"});
    if let Some(provider) = integration {
        let i = t
            .admin
            .post("/v1/integrations", &json!({"provider": provider}))
            .await;
        assert_eq!(i.status, 201, "{}", i.text);
        body["integration_id"] = i.json()["id"].clone();
    }
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t
        .admin
        .post(&format!("/v1/consumers/{consumer}/connections"), &body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let connection = r.json();
    Flow {
        t,
        consumer,
        link: OpenLink::of(&connection),
        connection,
    }
}

fn assert_safe_page(r: &Reply) {
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(r.headers.get("referrer-policy").unwrap(), "no-referrer");
    let csp = r
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!r.text.contains("<script"), "pages work without JavaScript");
    for attr in ["src=\"http", "href=\"//", "src=\"//", "url(http"] {
        assert!(
            !r.text.contains(attr),
            "nothing loads from another origin ({attr})"
        );
    }
    assert!(
        r.text.contains("<meta name=\"viewport\""),
        "usable on a phone"
    );
}

#[tokio::test]
async fn api_key_flow_from_link_to_active_connection() {
    let stack = Stack::get();
    let f = flow(Some("stripe"), json!({"redirect": true})).await;

    let page = f.open().await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_safe_page(&page);
    assert!(page.text.contains("Connect Stripe"));
    assert!(
        page.text.contains("type=\"password\""),
        "secrets use password inputs"
    );
    assert!(
        page.text.contains("<label for=\"f_secret_key\">"),
        "every input is labelled"
    );
    assert_eq!(
        f.open().await.status,
        200,
        "opening twice never consumes the link"
    );
    let link =
        f.t.admin
            .get(&format!("/v1/links/{}", f.link_id()))
            .await
            .json();
    assert_eq!(link["status"], "waiting");
    assert!(link["opened_at"].is_string());
    // The relay writes `link.opened` from the table's stream: it arrives shortly after.
    let opened = announced(&f.t, "link.opened").await;
    assert_eq!(opened.len(), 1, "announced once");

    let bad = f
        .submit(&[
            (
                "integration_id",
                f.connection["integration_id"].as_str().unwrap(),
            ),
            ("f_secret_key", "sk_oops_not_a_key"),
        ])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.text.contains("does not look like a valid"));
    assert!(
        !bad.text.contains("sk_oops_not_a_key"),
        "secrets are never echoed"
    );
    assert_eq!(
        f.t.admin
            .get(&format!("/v1/links/{}", f.link_id()))
            .await
            .json()["status"],
        "waiting"
    );

    let ok = f
        .submit(&[
            (
                "integration_id",
                f.connection["integration_id"].as_str().unwrap(),
            ),
            ("f_secret_key", STRIPE_KEY),
        ])
        .await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    let location = url::Url::parse(ok.headers.get("location").unwrap().to_str().unwrap()).unwrap();
    assert_eq!(
        location.host_str(),
        Some("acme.example"),
        "the consumer's redirect URL"
    );
    let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params["consumerId"], f.consumer);
    assert_eq!(params["connectionId"], f.connection_id());
    assert_eq!(params["status"], "active");
    assert!(!params.contains_key("isExpiredError"));

    let conn =
        f.t.admin
            .get(&format!("/v1/connections/{}", f.connection_id()))
            .await
            .json();
    assert_eq!(conn["status"], "active");
    assert_eq!(conn["has_credentials"], true);
    assert_eq!(conn["provider"], "stripe");
    assert!(conn["activated_at"].is_string());
    let link =
        f.t.admin
            .get(&format!("/v1/links/{}", f.link_id()))
            .await
            .json();
    assert_eq!(link["status"], "granted");
    assert_eq!(link["connection_id"], f.connection_id());

    let created = stack.events(&f.t.id, "connection.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["data"]["connection"]["id"], f.connection_id());
    assert_eq!(created[0]["tenant_id"], f.t.id.as_str());
    assert!(created[0]["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(
        table_mentions(STRIPE_KEY).await.len(),
        0,
        "no plaintext secret in the table"
    );

    let used = f.open().await;
    assert_eq!(used.status, 200);
    assert!(used.text.contains("Already connected"));
    let again = f
        .submit(&[
            (
                "integration_id",
                f.connection["integration_id"].as_str().unwrap(),
            ),
            ("f_secret_key", STRIPE_KEY),
        ])
        .await;
    assert!(again.text.contains("Already connected"), "{}", again.text);
    assert_eq!(
        stack.events(&f.t.id, "connection.created").await.len(),
        1,
        "a used link does nothing"
    );
}

#[tokio::test]
async fn marketplace_lists_active_integrations_and_leads_to_their_form() {
    let f = flow(None, json!({})).await;
    for (provider, status) in [
        ("datadog", "active"),
        ("sentry", "inactive"),
        ("github", "active"),
    ] {
        let mut body = json!({"provider": provider, "status": status});
        if provider == "github" {
            body["client_id"] = json!("Iv1.x");
            body["client_secret"] = json!("y");
        }
        assert_eq!(f.t.admin.post("/v1/integrations", &body).await.status, 201);
    }
    let page = f.open().await;
    assert_eq!(page.status, 200);
    assert_safe_page(&page);
    assert!(page.text.contains("Choose the software to connect"));
    assert!(page.text.contains("Datadog") && page.text.contains("GitHub"));
    assert!(
        !page.text.contains("Sentry"),
        "inactive integrations are not offered"
    );

    let integrations = f.t.admin.get("/v1/integrations?status=active").await.json();
    let id_of = |p: &str| {
        integrations["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["provider"] == p)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let github = f
        .public()
        .get(&format!("{}&integration={}", f.link.path, id_of("github")))
        .await;
    assert!(
        github.text.contains("Continue with GitHub"),
        "OAuth providers get a sign-in button"
    );
    assert!(github
        .text
        .contains(&format!("/connect/{}/oauth?token=", f.link_id())));

    let datadog_id = id_of("datadog");
    let form = f
        .public()
        .get(&format!("{}&integration={datadog_id}", f.link.path))
        .await;
    assert!(form.text.contains("<select id=\"f_site\""));
    assert_eq!(form.text.matches("type=\"password\"").count(), 2);

    let missing = f
        .submit(&[("integration_id", &datadog_id), ("f_site", "datadoghq.eu")])
        .await;
    assert_eq!(missing.status, 422);
    assert!(
        missing.text.contains("API key is required") && missing.text.contains("selected"),
        "non-secret values are kept"
    );

    let ok = f
        .submit(&[
            ("integration_id", &datadog_id),
            ("f_site", "datadoghq.eu"),
            ("f_api_key", "0123456789abcdef0123456789abcdef"),
            (
                "f_application_key",
                "0123456789abcdef0123456789abcdef01234567",
            ),
        ])
        .await;
    assert_eq!(ok.status, 200, "no redirect asked: a success page");
    assert!(ok.text.contains("now connected"));
    assert!(
        ok.text.contains("https://acme.example/done?consumerId="),
        "a way back to the application"
    );
    let conn =
        f.t.admin
            .get(&format!("/v1/connections/{}", f.connection_id()))
            .await
            .json();
    assert_eq!(conn["provider"], "datadog");
    assert_eq!(conn["status"], "active");
    assert_eq!(
        f.t.admin
            .get(&format!("/v1/links/{}", f.link_id()))
            .await
            .json()["integration_id"],
        datadog_id.as_str()
    );

    let sentry =
        f.t.admin
            .get("/v1/integrations?status=inactive")
            .await
            .json()["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let g = flow(None, json!({})).await;
    let r = g
        .submit(&[("integration_id", &sentry), ("f_auth_token", "x")])
        .await;
    assert_eq!(
        r.status, 400,
        "another tenant's or an inactive integration is refused"
    );
}

#[tokio::test]
async fn invalid_expired_and_revoked_links_get_clear_pages() {
    let f = flow(Some("stripe"), json!({})).await;
    let anon = f.public();
    for path in [
        format!("/connect/{}?token=wrong", f.link_id()),
        format!("/connect/{}", f.link_id()),
        "/connect/lnk_nope?token=x".to_string(),
        format!(
            "/connect/lnk_0193a1b2c3d47000800000000000000d?token={}",
            f.link.token
        ),
    ] {
        let r = anon.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.text.contains("This link is not valid"));
        assert_safe_page(&r);
    }
    let mut wrong = flow(Some("stripe"), json!({})).await;
    wrong.link.token = "wrong".into();
    assert_eq!(
        wrong.submit(&[("f_secret_key", STRIPE_KEY)]).await.status,
        404
    );
    let not_form = anon
        .raw(
            Method::POST,
            &format!("/connect/{}", f.link_id()),
            Some(("application/json", b"{}".to_vec())),
            &[],
        )
        .await;
    assert_eq!(not_form.status, 400);

    // regenerate: the old link is revoked at once, the new one works
    let fresh =
        f.t.admin
            .post(
                &format!("/v1/connections/{}/links", f.connection_id()),
                &json!({}),
            )
            .await
            .json();
    let old = f.open().await;
    assert_eq!(old.status, 410);
    assert!(old.text.contains("no longer valid"));
    let fresh_path = fresh["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&Stack::get().api_base_url)
        .to_owned();
    assert_eq!(anon.get(&fresh_path).await.status, 200);

    // expiry comes from expires_at, with and without redirect
    for redirect in [false, true] {
        let e = flow(Some("stripe"), json!({"redirect": redirect})).await;
        backdate(e.link_id()).await;
        let r = e.open().await;
        if redirect {
            assert_eq!(r.status, 302, "{}", r.text);
            let location =
                url::Url::parse(r.headers.get("location").unwrap().to_str().unwrap()).unwrap();
            let params: std::collections::HashMap<_, _> =
                location.query_pairs().into_owned().collect();
            assert_eq!(params["isExpiredError"], "true");
            assert_eq!(params["status"], "expired");
            assert_eq!(params["connectionId"], e.connection_id());
        } else {
            assert_eq!(r.status, 410);
            assert!(r.text.contains("This link has expired"));
        }
        let s = e
            .submit(&[
                (
                    "integration_id",
                    e.connection["integration_id"].as_str().unwrap(),
                ),
                ("f_secret_key", STRIPE_KEY),
            ])
            .await;
        assert!(s.status == 410 || s.status == 302, "{}", s.status);
        let conn =
            e.t.admin
                .get(&format!("/v1/connections/{}", e.connection_id()))
                .await
                .json();
        assert_eq!(
            conn["status"], "pending",
            "an expired link activates nothing"
        );
    }
}

async fn backdate(link_id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = Stack::get().store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("LINK#{link_id}")))
        .key("sk", AttributeValue::S("LINK".into()))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::S("2020-01-01T00:00:00.000Z".into()),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn reauthentication_keeps_the_connection_id_and_announces_an_update() {
    let stack = Stack::get();
    let f = flow(Some("stripe"), json!({})).await;
    let integration = f.connection["integration_id"].as_str().unwrap().to_owned();
    assert_eq!(
        f.submit(&[
            ("integration_id", &integration),
            ("f_secret_key", STRIPE_KEY)
        ])
        .await
        .status,
        200
    );
    let fresh =
        f.t.admin
            .post(
                &format!("/v1/connections/{}/links", f.connection_id()),
                &json!({}),
            )
            .await
            .json();
    let g = Flow {
        link: OpenLink::of(&fresh),
        connection: json!({"id": f.connection_id(), "link": {"id": fresh["id"]}, "integration_id": integration}),
        ..f
    };
    let conn =
        g.t.admin
            .get(&format!("/v1/connections/{}", g.connection_id()))
            .await
            .json();
    assert_eq!(
        conn["status"], "active",
        "usable until the new link completes"
    );
    let r = g
        .submit(&[
            ("integration_id", &integration),
            ("f_secret_key", "rk_live_51RotatedKey000000000000"),
        ])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after =
        g.t.admin
            .get(&format!("/v1/connections/{}", g.connection_id()))
            .await
            .json();
    assert_eq!(after["id"], conn["id"]);
    assert_eq!(
        after["activated_at"], conn["activated_at"],
        "first activation time kept"
    );
    assert_eq!(stack.events(&g.t.id, "connection.created").await.len(), 1);
    let updated = stack.events(&g.t.id, "connection.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["data"]["change"], "reauthenticated");
}

#[tokio::test]
async fn fifty_concurrent_submissions_consume_a_link_once() {
    let stack = Stack::get();
    let f = flow(Some("stripe"), json!({"redirect": true})).await;
    let integration = f.connection["integration_id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let api = f.public();
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", &f.link.token);
        form.append_pair("integration_id", &integration);
        form.append_pair("f_secret_key", &format!("rk_test_51Concurrent{i:020}"));
        let body = form.finish().into_bytes();
        let path = format!("/connect/{}", f.link_id());
        tasks.push(tokio::spawn(async move {
            api.try_raw(
                Method::POST,
                &path,
                Some(("application/x-www-form-urlencoded", body)),
                &[],
            )
            .await
        }));
    }
    let mut replies = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => replies.push(r),
            Err(e) => refused.push(e.to_string()),
        }
    }
    // API Gateway takes every connection of a burst; so must the local one
    assert!(
        refused.is_empty(),
        "connections refused or reset: {refused:?}"
    );
    let mut connected = 0;
    for r in replies {
        match r.status.as_u16() {
            303 => connected += 1,
            200 => assert!(r.text.contains("Already connected"), "{}", r.text),
            409 => assert!(r.text.contains("try again")),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(connected, 1, "exactly one submission wins");
    assert_eq!(
        stack.events(&f.t.id, "connection.created").await.len(),
        1,
        "exactly one event"
    );
    let conns =
        f.t.admin
            .get(&format!("/v1/consumers/{}/connections", f.consumer))
            .await
            .json();
    assert_eq!(
        conns["data"].as_array().unwrap().len(),
        1,
        "exactly one connection"
    );
}

#[tokio::test]
async fn credentials_are_admin_only_and_every_read_is_recorded() {
    let stack = Stack::get();
    let f = flow(Some("stripe"), json!({})).await;
    let path = format!("/v1/connections/{}/credentials", f.connection_id());
    let pending = f.t.admin.get(&path).await;
    assert_eq!(pending.status, 409, "not connected yet: {}", pending.text);

    let integration = f.connection["integration_id"].as_str().unwrap().to_owned();
    assert_eq!(
        f.submit(&[
            ("integration_id", &integration),
            ("f_secret_key", STRIPE_KEY)
        ])
        .await
        .status,
        200
    );
    assert_eq!(
        f.t.member.get(&path).await.status,
        403,
        "members may not read secrets"
    );
    assert_eq!(stack.anonymous().get(&path).await.status, 401);
    let other = stack.tenant().await;
    assert_eq!(other.admin.get(&path).await.status, 404);

    for _ in 0..2 {
        let r = f.t.admin.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
        let c = r.json();
        assert_eq!(c["credentials"], json!({"secret_key": STRIPE_KEY}));
        assert_eq!(c["auth_mode"], "api_key");
        assert_eq!(c["provider"], "stripe");
    }
    let reads = audit_reads(f.t.id.as_str(), f.connection_id()).await;
    assert_eq!(reads, 2, "every read is recorded");

    f.t.admin
        .delete(&format!("/v1/connections/{}", f.connection_id()))
        .await;
    let gone = f.t.admin.get(&path).await;
    assert_eq!(gone.status, 409, "credentials are destroyed on revocation");
    assert_eq!(table_mentions(STRIPE_KEY).await.len(), 0);
}

async fn audit_reads(tenant: &str, connection: &str) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = Stack::get().store().await;
    let out = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("T#{tenant}")))
        .expression_attribute_values(
            ":prefix",
            AttributeValue::S(format!("CREDREAD#{connection}#")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().len()
}

#[tokio::test]
async fn the_link_shows_its_opens_refusals_and_target_and_a_third_refusal_announces_it() {
    let stack = Stack::get();
    let f = flow(Some("stripe"), json!({})).await;
    let integration = f.connection["integration_id"].as_str().unwrap().to_owned();
    let link = |f: &Flow| {
        let api = f.t.admin.clone();
        let path = format!("/v1/links/{}", f.link_id());
        async move {
            let r = api.get(&path).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json()
        }
    };
    let fresh = link(&f).await;
    assert_eq!(fresh["open_count"], 0);
    assert_eq!(fresh["failed_attempts"], 0);
    assert_eq!(fresh["last_error"], Value::Null);
    // no URL on the link: the consumer's is the one the flow will use
    assert_eq!(fresh["redirect_target"], "https://acme.example/done");

    for _ in 0..3 {
        assert_eq!(f.open().await.status, 200);
    }
    let opened = link(&f).await;
    assert_eq!(opened["open_count"], 3);
    assert!(opened["opened_at"].is_string());

    let typed = "sk_not_a_valid_key_but_secret_1234";
    for attempt in 1..=4u64 {
        let r = f
            .submit(&[("integration_id", &integration), ("f_secret_key", typed)])
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
        let now = link(&f).await;
        assert_eq!(now["failed_attempts"], attempt);
        assert_eq!(now["last_error"]["fields"], json!(["secret_key"]));
        assert_eq!(now["last_error"]["code"], "validation_error");
        assert!(
            !now.to_string().contains(typed),
            "the value typed is never kept"
        );
        assert_eq!(
            now["status"], "waiting",
            "a refusal does not use the link up"
        );
    }
    let failed = announced(&f.t, "link.failed").await;
    // give a fourth announcement (there must be none) time to appear
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let failed_again = stack.events(&f.t.id, "link.failed").await;
    assert_eq!(failed.len(), 1, "announced at the third refusal");
    assert_eq!(failed_again.len(), 1, "and only then");
    let data = &failed[0]["data"];
    assert_eq!(data["link_id"], f.link_id());
    assert_eq!(data["failed_attempts"], 3);
    assert_eq!(data["last_error_fields"], json!(["secret_key"]));
    assert!(!failed[0].to_string().contains(typed));

    // the right key still completes the link
    let r = f
        .submit(&[
            ("integration_id", &integration),
            ("f_secret_key", STRIPE_KEY),
        ])
        .await;
    assert!(r.status == 200 || r.status == 303, "{}", r.text);
}

/// A connection the tenant disabled is paused everywhere: its link cannot complete (the
/// customer is told), no fresh link is made for it, its credentials are not handed out, and
/// enabling it again undoes all of that.
#[tokio::test]
async fn a_disabled_connection_is_paused_until_enabled() {
    let f = flow(Some("stripe"), json!({})).await;
    let integration = f.connection["integration_id"].as_str().unwrap().to_owned();
    let conn_path = format!("/v1/connections/{}", f.connection_id());
    let disable = |on: bool| {
        let t = &f.t;
        let path = conn_path.clone();
        async move {
            let r = t.admin.patch(&path, &json!({"disabled": on})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.json()["disabled"], on);
        }
    };
    disable(true).await;
    let submit = f
        .submit(&[
            ("integration_id", &integration),
            ("f_secret_key", STRIPE_KEY),
        ])
        .await;
    assert_eq!(submit.status, 409, "{}", submit.text);
    assert!(submit.text.contains("paused"), "{}", submit.text);
    assert_safe_page(&submit);
    let link =
        f.t.admin
            .get(&format!("/v1/links/{}", f.link_id()))
            .await
            .json();
    assert_eq!(link["status"], "waiting", "the link is still usable later");
    let fresh =
        f.t.admin
            .post(&format!("{conn_path}/links"), &json!({}))
            .await;
    assert_eq!(fresh.status, 409, "{}", fresh.text);
    assert!(fresh.text.contains("disabled"), "{}", fresh.text);

    disable(false).await;
    let submit = f
        .submit(&[
            ("integration_id", &integration),
            ("f_secret_key", STRIPE_KEY),
        ])
        .await;
    assert_eq!(submit.status, 200, "{}", submit.text);
    assert_eq!(
        f.t.admin.get(&conn_path).await.json()["status"],
        "active",
        "enabled again, the same link completes"
    );
    let creds = format!("{conn_path}/credentials");
    assert_eq!(f.t.admin.get(&creds).await.status, 200);

    disable(true).await;
    let refused = f.t.admin.get(&creds).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.text.contains("disabled"), "{}", refused.text);
    disable(false).await;
    assert_eq!(f.t.admin.get(&creds).await.status, 200);
}
