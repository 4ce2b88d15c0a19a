//! Connections and their links over HTTP through the real binaries, DynamoDB and KMS on
//! moto: creation with and without an integration, lifetimes, regeneration, revocation,
//! expiry decided from `expires_at`, outbox events, roles and tenants.

use linkgate::time;
use linkgate_tests::{assert_validation, items, table_mentions, Stack};
use reqwest::Method;
use serde_json::{json, Value};

/// The consumer most tests here connect.
fn acme() -> Value {
    json!({"name": "Acme", "redirect_url": "https://acme.example/back"})
}

fn lifetime(link: &Value) -> i64 {
    let created = time::parse(link["created_at"].as_str().unwrap()).unwrap();
    let expires = time::parse(link["expires_at"].as_str().unwrap()).unwrap();
    (expires - created).num_seconds()
}

/// Sets attributes of a link item directly in the table (to backdate or to mark granted).
async fn set_link(link_id: &str, attribute: &str, value: &str) {
    let store = Stack::get().store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("LINK#{link_id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("LINK".into()),
        )
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attribute)
        .expression_attribute_values(
            ":v",
            aws_sdk_dynamodb::types::AttributeValue::S(value.into()),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_connection_comes_with_a_single_use_link() {
    let stack = Stack::get();
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let conn = t
        .connect(
            &c,
            &json!({"name": "Books", "metadata": {"team": "finance"}}),
        )
        .await;
    assert!(conn["id"].as_str().unwrap().starts_with("conn_"));
    assert_eq!(conn["status"], "pending");
    assert_eq!(conn["consumer_id"], c.as_str());
    assert_eq!(
        conn["integration_id"],
        Value::Null,
        "no integration: the link shows the marketplace"
    );
    assert_eq!(conn["has_credentials"], false);
    assert_eq!(conn["metadata"], json!({"team": "finance"}));
    let link = &conn["link"];
    assert_eq!(link["status"], "waiting");
    assert_eq!(link["connection_id"], conn["id"]);
    assert_eq!(lifetime(link), 1800, "default lifetime");
    let url = link["url"].as_str().unwrap();
    let prefix = format!(
        "{}/connect/{}?token=",
        stack.api_base_url,
        link["id"].as_str().unwrap()
    );
    assert!(url.starts_with(&prefix), "{url}");
    let token = &url[prefix.len()..];
    assert_eq!(token.len(), 43, "256 random bits");

    assert!(
        table_mentions(token).await.is_empty(),
        "the token is stored only as a hash"
    );

    let got = t
        .member
        .get(&format!("/v1/connections/{}", conn["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.status, 200);
    let mut without_link = conn.clone();
    without_link.as_object_mut().unwrap().remove("link");
    assert_eq!(got.json(), without_link);

    let l = t
        .member
        .get(&format!("/v1/links/{}", link["id"].as_str().unwrap()))
        .await
        .json();
    assert!(
        l.get("url").is_none(),
        "the URL (and its token) is shown only at creation"
    );
    assert_eq!(l["status"], "waiting");
}

#[tokio::test]
async fn integrations_and_lifetimes_are_validated() {
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let path = format!("/v1/consumers/{c}/connections");
    let stripe = t
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await
        .json();
    let sentry = t
        .admin
        .post(
            "/v1/integrations",
            &json!({"provider": "sentry", "status": "inactive"}),
        )
        .await
        .json();

    let with = t.connect(&c, &json!({"name": "Payments", "integration_id": stripe["id"], "link_ttl_seconds": 600, "redirect": true})).await;
    assert_eq!(with["provider"], "stripe");
    assert_eq!(with["link"]["integration_id"], stripe["id"]);
    assert_eq!(with["link"]["redirect"], true);
    assert_eq!(lifetime(&with["link"]), 600);

    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "x", "integration_id": sentry["id"]}),
            "integration_id",
        ),
        (
            json!({"name": "x", "integration_id": "int_0193a1b2c3d47000800000000000000a"}),
            "integration_id",
        ),
        (
            json!({"name": "x", "integration_id": "stripe"}),
            "integration_id",
        ),
        (
            json!({"name": "x", "link_ttl_seconds": 299}),
            "link_ttl_seconds",
        ),
        (
            json!({"name": "x", "link_ttl_seconds": 604801}),
            "link_ttl_seconds",
        ),
        (json!({"name": "x", "redirect": "yes"}), "redirect"),
        (
            json!({"name": "x", "redirect_url": "http://evil.example"}),
            "redirect_url",
        ),
        (json!({"name": "x", "metadata": [1]}), "metadata"),
        (json!({"name": "x", "status": "active"}), "status"),
    ];
    for (body, field) in cases {
        assert_validation(&t.admin.post(&path, &body).await, &[field]);
    }
    let other_tenant = Stack::get().tenant().await;
    let foreign = other_tenant
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await
        .json();
    assert_validation(
        &t.admin
            .post(
                &path,
                &json!({"name": "x", "integration_id": foreign["id"]}),
            )
            .await,
        &["integration_id"],
    );

    // The tenant's default lifetime applies when the request names none.
    t.admin
        .patch("/v1/settings", &json!({"default_link_ttl_seconds": 7200}))
        .await;
    assert_eq!(
        lifetime(&t.connect(&c, &json!({"name": "Later"})).await["link"]),
        7200
    );

    let listed = t.admin.get(&path).await.json();
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        2,
        "refused requests wrote nothing"
    );
}

#[tokio::test]
async fn connections_need_a_consumer_of_the_tenant() {
    let a = Stack::get().tenant().await;
    let b = Stack::get().tenant().await;
    let c = a.consumer(&acme()).await;
    for r in [
        b.admin
            .post(
                &format!("/v1/consumers/{c}/connections"),
                &json!({"name": "x"}),
            )
            .await,
        b.admin.get(&format!("/v1/consumers/{c}/connections")).await,
        a.admin
            .post(
                "/v1/consumers/csm_0193a1b2c3d47000800000000000000a/connections",
                &json!({"name": "x"}),
            )
            .await,
        a.admin
            .post("/v1/consumers/nope/connections", &json!({"name": "x"}))
            .await,
    ] {
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.error_code(), "not_found");
    }
    let conn = a.connect(&c, &json!({"name": "Mine"})).await;
    for path in [
        format!("/v1/connections/{}", conn["id"].as_str().unwrap()),
        format!("/v1/links/{}", conn["link"]["id"].as_str().unwrap()),
    ] {
        assert_eq!(b.admin.get(&path).await.status, 404);
        assert_eq!(b.admin.delete(&path).await.status, 404);
    }
    assert_eq!(
        b.admin
            .patch(
                &format!("/v1/connections/{}", conn["id"].as_str().unwrap()),
                &json!({"name": "stolen"})
            )
            .await
            .status,
        404
    );
    assert_eq!(b.admin.get("/v1/links").await.json()["data"], json!([]));
    assert_eq!(
        a.admin
            .get(&format!("/v1/connections/{}", conn["id"].as_str().unwrap()))
            .await
            .json()["name"],
        "Mine"
    );

    assert_eq!(
        a.member
            .post(
                &format!("/v1/consumers/{c}/connections"),
                &json!({"name": "x"})
            )
            .await
            .status,
        403
    );
    let cpath = format!("/v1/connections/{}", conn["id"].as_str().unwrap());
    assert_eq!(
        a.member.patch(&cpath, &json!({"name": "x"})).await.status,
        403
    );
    assert_eq!(a.member.delete(&cpath).await.status, 403);
    assert_eq!(
        a.member
            .post(&format!("{cpath}/links"), &json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        a.member
            .delete(&format!(
                "/v1/links/{}",
                conn["link"]["id"].as_str().unwrap()
            ))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn a_consumers_connections_list_newest_first_in_pages() {
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let other = t.consumer(&acme()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            t.connect(&c, &json!({"name": format!("C{i}")})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    t.connect(&other, &json!({"name": "elsewhere"})).await;
    ids.reverse();
    let seen: Vec<String> = t
        .member
        .all(&format!("/v1/consumers/{c}/connections?limit=2"))
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ids);
    assert_eq!(
        t.member
            .get(&format!("/v1/consumers/{c}/connections?cursor=bad"))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn connections_update_with_shallow_metadata_merge() {
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let conn = t
        .connect(&c, &json!({"name": "Old", "metadata": {"a": 1, "b": 2}}))
        .await;
    let path = format!("/v1/connections/{}", conn["id"].as_str().unwrap());
    let r = t
        .admin
        .patch(&path, &json!({"name": "New", "disabled": true, "redirect_url": "https://acme.example/conn", "metadata": {"b": null, "c": 3}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let u = r.json();
    assert_eq!(u["name"], "New");
    assert_eq!(u["disabled"], true);
    assert_eq!(u["redirect_url"], "https://acme.example/conn");
    assert_eq!(u["metadata"], json!({"a": 1, "c": 3}));
    for (body, field) in [
        (json!({"name": null}), "name"),
        (json!({"disabled": "no"}), "disabled"),
        (json!({"status": "active"}), "status"),
        (json!({"integration_id": null}), "integration_id"),
    ] {
        assert_validation(&t.admin.patch(&path, &body).await, &[field]);
    }
    assert_eq!(t.admin.get(&path).await.json(), u);
}

#[tokio::test]
async fn a_new_link_revokes_the_open_one_and_keeps_the_connection() {
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let conn = t.connect(&c, &json!({"name": "Resend"})).await;
    let cpath = format!("/v1/connections/{}", conn["id"].as_str().unwrap());
    let old = conn["link"]["id"].as_str().unwrap().to_owned();

    let r = t
        .admin
        .raw(Method::POST, &format!("{cpath}/links"), None, &[])
        .await;
    assert_eq!(r.status, 201, "an empty body is fine: {}", r.text);
    let fresh = r.json();
    assert_ne!(fresh["id"], old.as_str());
    assert_eq!(fresh["connection_id"], conn["id"]);
    assert!(fresh["url"]
        .as_str()
        .unwrap()
        .contains(fresh["id"].as_str().unwrap()));
    assert_eq!(
        t.admin.get(&format!("/v1/links/{old}")).await.json()["status"],
        "revoked"
    );

    let custom = t
        .admin
        .post(
            &format!("{cpath}/links"),
            &json!({"link_ttl_seconds": 900, "redirect": true}),
        )
        .await
        .json();
    assert_eq!(lifetime(&custom), 900);
    assert_eq!(
        t.admin
            .get(&format!("/v1/links/{}", fresh["id"].as_str().unwrap()))
            .await
            .json()["status"],
        "revoked"
    );
    assert_validation(
        &t.admin
            .post(&format!("{cpath}/links"), &json!({"link_ttl_seconds": 5}))
            .await,
        &["link_ttl_seconds"],
    );
    assert_validation(
        &t.admin
            .post(&format!("{cpath}/links"), &json!({"name": "x"}))
            .await,
        &["name"],
    );
    assert_eq!(
        t.admin.get(&cpath).await.json()["id"],
        conn["id"],
        "same connection id"
    );
    let waiting = t.admin.get("/v1/links?status=waiting").await.json();
    assert_eq!(
        waiting["data"].as_array().unwrap().len(),
        1,
        "only the newest link is open"
    );
}

#[tokio::test]
async fn revoking_a_connection_keeps_a_tombstone_and_announces_it() {
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let conn = t.connect(&c, &json!({"name": "Bye"})).await;
    let cpath = format!("/v1/connections/{}", conn["id"].as_str().unwrap());
    let r = t.admin.delete(&cpath).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let gone = r.json();
    assert_eq!(gone["status"], "revoked");
    assert_eq!(gone["has_credentials"], false);
    assert!(gone["revoked_at"].is_string());
    assert_eq!(
        t.admin
            .get(&format!(
                "/v1/links/{}",
                conn["link"]["id"].as_str().unwrap()
            ))
            .await
            .json()["status"],
        "revoked"
    );
    // never connected: nothing to revoke at a provider
    assert_eq!(gone["provider_revocation"], "not_needed");
    let mut tombstone = gone.clone();
    tombstone
        .as_object_mut()
        .unwrap()
        .remove("provider_revocation");
    assert_eq!(
        t.admin.get(&cpath).await.json(),
        tombstone,
        "kept as a tombstone"
    );
    assert_eq!(
        t.admin.delete(&cpath).await.json(),
        gone,
        "revoking again changes nothing"
    );
    for r in [
        t.admin.patch(&cpath, &json!({"name": "back"})).await,
        t.admin.post(&format!("{cpath}/links"), &json!({})).await,
    ] {
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.error_code(), "conflict");
    }
    let events = table_mentions("connection.revoked").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.contains(conn["id"].as_str().unwrap()))
            .count(),
        1,
        "one outbox event"
    );
}

#[tokio::test]
async fn link_status_expiry_and_revocation() {
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let a = t.connect(&c, &json!({"name": "A"})).await;
    let b = t.connect(&c, &json!({"name": "B"})).await;
    let d = t.connect(&c, &json!({"name": "D"})).await;
    let (la, lb, ld) = (
        a["link"]["id"].as_str().unwrap(),
        b["link"]["id"].as_str().unwrap(),
        d["link"]["id"].as_str().unwrap(),
    );

    // Expiry is read from expires_at, whatever TTL deletion has or has not done.
    set_link(la, "expires_at", "2020-01-01T00:00:00.000Z").await;
    assert_eq!(
        t.member.get(&format!("/v1/links/{la}")).await.json()["status"],
        "expired"
    );
    set_link(ld, "status", "granted").await;

    let r = t.admin.delete(&format!("/v1/links/{lb}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "revoked");
    // The answer is built from the committed write, not read back: it must match the store.
    let stored = t.member.get(&format!("/v1/links/{lb}")).await.json();
    assert_eq!(r.json()["revoked_at"], stored["revoked_at"]);
    assert!(stored["revoked_at"].is_string());
    assert_eq!(
        t.admin.delete(&format!("/v1/links/{lb}")).await.json()["status"],
        "revoked"
    );
    let used = t.admin.delete(&format!("/v1/links/{ld}")).await;
    assert_eq!(used.status, 409, "{}", used.text);
    let expired = t.admin.delete(&format!("/v1/links/{la}")).await;
    assert_eq!(expired.status, 200);

    let by = |status: &'static str| {
        let api = t.member.clone();
        async move {
            let body = api.get(&format!("/v1/links?status={status}")).await.json();
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(by("granted").await, [ld]);
    assert_eq!(by("revoked").await, [lb, la]);
    assert!(by("waiting").await.is_empty());

    let e = t.connect(&c, &json!({"name": "E"})).await;
    let le = e["link"]["id"].as_str().unwrap().to_owned();
    set_link(&le, "expires_at", "2020-01-01T00:00:00.000Z").await;
    assert_eq!(by("expired").await, [le.as_str()]);
    let page = t.member.get("/v1/links?limit=2").await.json();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let next = t
        .member
        .get(&format!(
            "/v1/links?limit=2&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(next["data"].as_array().unwrap().len(), 2);
    for bad in ["status=open", "limit=500", "cursor=xyz"] {
        assert_eq!(
            t.member.get(&format!("/v1/links?{bad}")).await.status,
            400,
            "{bad}"
        );
    }
    assert_eq!(t.member.get("/v1/links/lnk_nope").await.status, 404);
}

#[tokio::test]
async fn connection_creates_replay_without_storing_the_token() {
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let path = format!("/v1/consumers/{c}/connections");
    let body = b"{\"name\": \"Once\"}".to_vec();
    let first = t
        .admin
        .raw(
            Method::POST,
            &path,
            Some(("application/json", body.clone())),
            &[("Idempotency-Key", "conn-1")],
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = t
        .admin
        .raw(
            Method::POST,
            &path,
            Some(("application/json", body)),
            &[("Idempotency-Key", "conn-1")],
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json(), first.json(), "the same link, token included");
    let url = first.json()["link"]["url"].as_str().unwrap().to_owned();
    let token = url.split("token=").nth(1).unwrap().to_owned();
    assert!(
        table_mentions(&token).await.is_empty(),
        "the replayable response is sealed"
    );
    assert_eq!(
        t.admin.get(&path).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn import_creates_an_active_connection_validated_against_the_provider() {
    let stack = Stack::get();
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let datadog = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "datadog"}))
        .await;
    let github = t
        .admin
        .create_id(
            "/v1/integrations",
            &json!({"provider": "github", "client_id": "Iv1.x", "client_secret": "s"}),
        )
        .await;
    let keys = json!({"api_key": "0123456789abcdef0123456789abcdef", "application_key": "0123456789abcdef0123456789abcdef01234567"});
    let r = t
        .admin
        .post("/v1/connections", &json!({"consumer_id": c, "integration_id": datadog, "name": "Monitoring", "credentials": keys, "connection_fields": {"site": "datadoghq.eu"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let conn = r.json();
    assert_eq!(conn["status"], "active");
    assert_eq!(conn["provider"], "datadog");
    assert!(conn["activated_at"].is_string());
    assert!(!r.text.contains("0123456789abcdef0123"), "never echoed");
    let creds = t
        .admin
        .get(&format!(
            "/v1/connections/{}/credentials",
            conn["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(creds["credentials"], keys);
    assert_eq!(creds["connection_fields"], json!({"site": "datadoghq.eu"}));
    let created = stack.events(&t.id, "connection.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["data"]["change"], "imported");

    let oauth = t
        .admin
        .post("/v1/connections", &json!({"consumer_id": c, "integration_id": github, "name": "Code",
            "credentials": {"access_token": "gho_abc", "refresh_token": "ghr_def", "expires_at": "2030-01-01T00:00:00Z", "scope": "repo"}}))
        .await;
    assert_eq!(oauth.status, 201, "{}", oauth.text);

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"integration_id": datadog, "name": "x", "credentials": keys, "connection_fields": {"site": "datadoghq.eu"}}),
            "consumer_id",
        ),
        (
            json!({"consumer_id": c, "name": "x", "credentials": keys}),
            "integration_id",
        ),
        (
            json!({"consumer_id": c, "integration_id": datadog, "credentials": keys}),
            "name",
        ),
        (
            json!({"consumer_id": c, "integration_id": datadog, "name": "x"}),
            "credentials",
        ),
        (
            json!({"consumer_id": c, "integration_id": datadog, "name": "x", "credentials": {"api_key": "short"}, "connection_fields": {"site": "datadoghq.eu"}}),
            "credentials.api_key",
        ),
        (
            json!({"consumer_id": c, "integration_id": datadog, "name": "x", "credentials": keys}),
            "connection_fields.site",
        ),
        (
            json!({"consumer_id": c, "integration_id": datadog, "name": "x", "credentials": keys, "connection_fields": {"site": "evil.example"}}),
            "connection_fields.site",
        ),
        (
            json!({"consumer_id": c, "integration_id": github, "name": "x", "credentials": {"refresh_token": "r"}}),
            "credentials",
        ),
        (
            json!({"consumer_id": c, "integration_id": github, "name": "x", "credentials": {"access_token": "a", "expires_at": "soon"}}),
            "credentials",
        ),
        (
            json!({"consumer_id": "csm_0193a1b2c3d47000800000000000000a", "integration_id": datadog, "name": "x", "credentials": keys, "connection_fields": {"site": "datadoghq.eu"}}),
            "consumer_id",
        ),
        (
            json!({"consumer_id": c, "integration_id": datadog, "name": "x", "credentials": keys, "connection_fields": {"site": "datadoghq.eu"}, "status": "active"}),
            "status",
        ),
    ];
    for (body, field) in cases {
        assert_validation(&t.admin.post("/v1/connections", &body).await, &[field]);
    }
    assert_eq!(
        t.member.post("/v1/connections", &json!({})).await.status,
        403
    );
    let listed = t
        .admin
        .get(&format!("/v1/consumers/{c}/connections"))
        .await
        .json();
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        2,
        "refused imports wrote nothing"
    );
}

#[tokio::test]
async fn a_consumer_with_live_connections_cannot_be_deleted() {
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    let conn = t.connect(&c, &json!({"name": "Keeps it"})).await;
    let r = t.admin.delete(&format!("/v1/consumers/{c}")).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "conflict");
    assert_eq!(
        t.admin.get(&format!("/v1/consumers/{c}")).await.status,
        200,
        "still there"
    );
    t.admin
        .delete(&format!("/v1/connections/{}", conn["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        t.admin.delete(&format!("/v1/consumers/{c}")).await.status,
        204,
        "revoked connections do not hold it"
    );
}

/// Filtering links by status costs a bounded read per call, however many links a tenant has
/// and however rare the status: a call returns what its share of the list held (possibly
/// nothing) and a cursor to go on from; following the cursors finds every match once.
#[tokio::test]
async fn a_status_filter_over_thousands_of_links_reads_a_bounded_share_per_call() {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let stack = Stack::get();
    let t = Stack::get().tenant().await;
    let c = t.consumer(&acme()).await;
    // the one waiting link, the oldest of the tenant's
    let conn = t.connect(&c, &json!({"name": "Needle"})).await;
    let needle = conn["link"]["id"].as_str().unwrap().to_owned();
    let store = stack.store().await;
    let template = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("LINK#{needle}")))
        .key("sk", AttributeValue::S("LINK".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    // 3,000 newer links, all revoked: the haystack a filter for `waiting` reads through
    const HAY: usize = 3000;
    let mut writes = Vec::new();
    for _ in 0..HAY {
        let id = linkgate::id::LinkId::generate().to_string();
        let mut item = template.clone();
        item.insert("pk".into(), AttributeValue::S(format!("LINK#{id}")));
        item.insert("id".into(), AttributeValue::S(id.clone()));
        item.insert("gsi1sk".into(), AttributeValue::S(id));
        item.insert("status".into(), AttributeValue::S("revoked".into()));
        writes.push(
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build(),
        );
    }
    for chunk in writes.chunks(25) {
        store
            .client()
            .batch_write_item()
            .request_items(store.table(), chunk.to_vec())
            .send()
            .await
            .unwrap();
    }

    let pages = t
        .admin
        .pages("/v1/links?status=waiting&limit=10", HAY)
        .await;
    assert_eq!(
        pages[0]["data"],
        json!([]),
        "the first call reads its share of the 3,000 newer links, not all of them"
    );
    assert!(
        pages[0]["next_cursor"].is_string(),
        "and says where to go on"
    );
    let found: Vec<String> = items(&pages)
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    let calls = pages.len();
    assert_eq!(found, vec![needle], "found once, at the end");
    assert!(calls > 2, "{calls} calls: each read a bounded share");
}
