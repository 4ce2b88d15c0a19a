//! The consumers API over HTTP through `cargo lambda watch` and the real function binaries,
//! with DynamoDB on moto. Each test makes its own tenant.

use linkgate_tests::{assert_validation, items, table_mentions, Api, Stack};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;

async fn create(api: &Api, body: Value) -> Value {
    let r = api.post("/v1/consumers", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

/// Every consumer of the tenant, following cursors.
async fn all(api: &Api) -> Vec<Value> {
    api.all("/v1/consumers?limit=100").await
}

#[tokio::test]
async fn health_needs_no_key() {
    let r = Stack::get().anonymous().get("/health").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
}

#[tokio::test]
async fn create_read_and_list_a_consumer() {
    let t = Stack::get().tenant().await;
    let body = json!({
        "name": "Acme Ltd",
        "redirect_url": "https://app.example.com/done?from=linkgate",
        "internal_reference": "acme-1",
        "email": "ops@acme.example",
        "metadata": {"plan": "pro", "seats": 12, "tags": ["a", "b"], "nested": {"x": null}}
    });
    let c = create(&t.admin, body.clone()).await;
    let id = c["id"].as_str().unwrap();
    assert!(id.starts_with("csm_"));
    for field in [
        "name",
        "redirect_url",
        "internal_reference",
        "email",
        "metadata",
    ] {
        assert_eq!(c[field], body[field], "{field}");
    }
    assert_eq!(c["created_at"], c["updated_at"]);
    assert!(linkgate::time::parse(c["created_at"].as_str().unwrap()).is_some());

    let got = t.admin.get(&format!("/v1/consumers/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), c);
    assert_eq!(got.headers.get("content-type").unwrap(), "application/json");

    let minimal = create(&t.admin, json!({"name": "Bare"})).await;
    assert_eq!(minimal["redirect_url"], Value::Null);
    assert_eq!(minimal["email"], Value::Null);
    assert_eq!(minimal["internal_reference"], Value::Null);
    assert_eq!(minimal["metadata"], json!({}));

    let listed = all(&t.admin).await;
    let ids: Vec<&str> = listed.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [minimal["id"].as_str().unwrap(), id], "newest first");
}

#[tokio::test]
async fn loopback_http_redirects_are_allowed_locally_only_for_loopback() {
    let t = Stack::get().tenant().await;
    create(
        &t.admin,
        json!({"name": "Dev", "redirect_url": "http://localhost:3000/cb"}),
    )
    .await;
    create(
        &t.admin,
        json!({"name": "Dev", "redirect_url": "http://127.0.0.1:3000/cb"}),
    )
    .await;
    let r = t
        .admin
        .post(
            "/v1/consumers",
            &json!({"name": "Dev", "redirect_url": "http://example.com/cb"}),
        )
        .await;
    assert_validation(&r, &["redirect_url"]);
}

#[tokio::test]
async fn every_validation_rule_answers_400_naming_the_field_and_writes_nothing() {
    let t = Stack::get().tenant().await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["name"]),
        (json!({"name": null}), vec!["name"]),
        (json!({"name": ""}), vec!["name"]),
        (json!({"name": "   "}), vec!["name"]),
        (json!({"name": "x".repeat(201)}), vec!["name"]),
        (json!({"name": 42}), vec!["name"]),
        (json!({"name": "a\u{0000}b"}), vec!["name"]),
        (
            json!({"name": "A", "redirect_url": "ftp://example.com"}),
            vec!["redirect_url"],
        ),
        (
            json!({"name": "A", "redirect_url": "/relative"}),
            vec!["redirect_url"],
        ),
        (
            json!({"name": "A", "redirect_url": "javascript:alert(1)"}),
            vec!["redirect_url"],
        ),
        (
            json!({"name": "A", "redirect_url": "https://u:p@example.com"}),
            vec!["redirect_url"],
        ),
        (
            json!({"name": "A", "redirect_url": 7}),
            vec!["redirect_url"],
        ),
        (
            json!({"name": "A", "internal_reference": ""}),
            vec!["internal_reference"],
        ),
        (
            json!({"name": "A", "internal_reference": "r".repeat(256)}),
            vec!["internal_reference"],
        ),
        (
            json!({"name": "A", "internal_reference": 5}),
            vec!["internal_reference"],
        ),
        (json!({"name": "A", "email": "not-an-email"}), vec!["email"]),
        (json!({"name": "A", "email": "a@localhost"}), vec!["email"]),
        (json!({"name": "A", "metadata": [1, 2]}), vec!["metadata"]),
        (json!({"name": "A", "metadata": "x"}), vec!["metadata"]),
        (
            json!({"name": "A", "metadata": {"blob": "x".repeat(8200)}}),
            vec!["metadata"],
        ),
        (json!({"name": "A", "id": "csm_x"}), vec!["id"]),
        (
            json!({"name": "A", "colour": "red", "created_at": "now"}),
            vec!["colour", "created_at"],
        ),
        (
            json!({"email": "bad", "redirect_url": "http://x.com"}),
            vec!["name", "email", "redirect_url"],
        ),
    ];
    for (body, fields) in cases {
        let r = t.admin.post("/v1/consumers", &body).await;
        assert_validation(&r, &fields);
        assert_eq!(
            r.error_fields().len(),
            fields.len(),
            "exactly the bad fields: {}",
            r.text
        );
    }
    assert!(
        all(&t.admin).await.is_empty(),
        "a rejected request wrote something"
    );
}

#[tokio::test]
async fn malformed_bodies_and_content_types_are_refused() {
    let t = Stack::get().tenant().await;
    let post = |ct: &'static str, body: &'static str| {
        let api = t.admin.clone();
        async move {
            api.raw(
                Method::POST,
                "/v1/consumers",
                Some((ct, body.as_bytes().to_vec())),
                &[],
            )
            .await
        }
    };
    let r = post("application/json", "{\"name\": \"A\",").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error_code(), "validation_error");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));

    for body in ["[1,2]", "\"name\"", "null", "42"] {
        let r = post("application/json", body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.error_code(), "validation_error");
    }
    let r = post("application/json", "").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "validation_error");

    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonp",
        "",
    ] {
        let r = post(ct, "{\"name\": \"A\"}").await;
        assert_eq!(r.status, 415, "content type {ct:?}: {}", r.text);
        assert_eq!(r.error_code(), "unsupported_media_type");
    }
    let r = post("Application/JSON; charset=utf-8", "{\"name\": \"A\"}").await;
    assert_eq!(r.status, 201, "{}", r.text);

    let big = format!(
        "{{\"name\": \"A\", \"metadata\": {{\"blob\": \"{}\"}}}}",
        "x".repeat(70 * 1024)
    );
    let r = t
        .admin
        .raw(
            Method::POST,
            "/v1/consumers",
            Some(("application/json", big.into_bytes())),
            &[],
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.error_code(), "payload_too_large");

    let patch = t
        .admin
        .raw(
            Method::PATCH,
            &format!(
                "/v1/consumers/{}",
                create(&t.admin, json!({"name": "P"})).await["id"]
                    .as_str()
                    .unwrap()
            ),
            Some(("text/plain", b"{}".to_vec())),
            &[],
        )
        .await;
    assert_eq!(patch.status, 415);
    assert_eq!(
        all(&t.admin).await.len(),
        2,
        "only the two valid creates wrote"
    );
}

#[tokio::test]
async fn lists_paginate_with_opaque_cursors_and_refuse_bad_ones() {
    let t = Stack::get().tenant().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            create(&t.admin, json!({"name": format!("C{i}")})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    created.reverse(); // newest first

    let pages = t.admin.pages("/v1/consumers?limit=2", 10).await;
    assert!(pages
        .iter()
        .all(|p| p["data"].as_array().unwrap().len() <= 2));
    let seen: Vec<String> = items(&pages)
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(pages.len(), 3);
    assert_eq!(seen, created);

    let default = t.admin.get("/v1/consumers").await.json();
    assert_eq!(default["data"].as_array().unwrap().len(), 5);
    assert_eq!(default["next_cursor"], Value::Null);

    let first = t.admin.get("/v1/consumers?limit=2").await.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "limit=2.5",
        "cursor=garbage",
        "cursor=eyJ2IjoxfQ",
        &format!("cursor={tampered}"),
        "sort=name",
        "limit=2&limit=3",
    ] {
        let r = t.admin.get(&format!("/v1/consumers?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.error_code(), "validation_error", "{bad}");
    }

    // Another tenant's cursor only ever resumes inside the caller's own data.
    let other = Stack::get().tenant().await;
    let r = other
        .admin
        .get(&format!("/v1/consumers?cursor={cursor}"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn internal_reference_is_unique_per_tenant_and_filterable() {
    let t = Stack::get().tenant().await;
    let c = create(
        &t.admin,
        json!({"name": "A", "internal_reference": "cust-9"}),
    )
    .await;
    let dup = t
        .admin
        .post(
            "/v1/consumers",
            &json!({"name": "B", "internal_reference": "cust-9"}),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.text);
    assert_eq!(dup.error_code(), "conflict");
    assert_eq!(dup.error_fields(), ["internal_reference"]);
    assert_eq!(all(&t.admin).await.len(), 1, "the duplicate wrote nothing");

    let found = t
        .admin
        .get("/v1/consumers?internal_reference=cust-9")
        .await
        .json();
    assert_eq!(found["data"], json!([c]));
    assert_eq!(found["next_cursor"], Value::Null);
    let none = t
        .admin
        .get("/v1/consumers?internal_reference=nobody")
        .await
        .json();
    assert_eq!(none["data"], json!([]));
    // Found by schemathesis: the filter answered 200 whatever the cursor held.
    let bad = t
        .admin
        .get("/v1/consumers?internal_reference=cust-9&cursor=not-a-cursor")
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.error_fields(), ["cursor"]);

    // Unique per tenant, not globally.
    let other = Stack::get().tenant().await;
    create(
        &other.admin,
        json!({"name": "A", "internal_reference": "cust-9"}),
    )
    .await;
    let mine = t
        .admin
        .get("/v1/consumers?internal_reference=cust-9")
        .await
        .json();
    assert_eq!(mine["data"][0]["id"], c["id"]);
}

#[tokio::test]
async fn concurrent_creates_with_one_reference_yield_exactly_one_consumer() {
    let t = Stack::get().tenant().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let api = t.admin.clone();
        tasks.push(tokio::spawn(async move {
            api.post(
                "/v1/consumers",
                &json!({"name": format!("racer {i}"), "internal_reference": "only-one"}),
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(all(&t.admin).await.len(), 1);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response_and_refuses_a_different_body() {
    let t = Stack::get().tenant().await;
    let body = json!({"name": "Once", "internal_reference": "idem-1"});
    let send = |key: &'static str, body: String| {
        let api = t.admin.clone();
        async move {
            api.raw(
                Method::POST,
                "/v1/consumers",
                Some(("application/json", body.into_bytes())),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let first = send("key-1", body.to_string()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(first.headers.get("idempotent-replayed").is_none());

    // Same key, same request (even formatted differently): the same answer, nothing new.
    let again = send(
        "key-1",
        "{ \"internal_reference\": \"idem-1\",  \"name\": \"Once\" }".into(),
    )
    .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json(), first.json());
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");

    let different = send("key-1", json!({"name": "Twice"}).to_string()).await;
    assert_eq!(different.status, 409, "{}", different.text);
    assert_eq!(different.error_code(), "conflict");

    let other_key = send("key-2", json!({"name": "Twice"}).to_string()).await;
    assert_eq!(other_key.status, 201);
    assert_eq!(all(&t.admin).await.len(), 2);

    let long = "k".repeat(256);
    let r = t
        .admin
        .raw(
            Method::POST,
            "/v1/consumers",
            Some(("application/json", b"{\"name\":\"x\"}".to_vec())),
            &[("Idempotency-Key", &long)],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_fields(), ["Idempotency-Key"]);

    // Keys are per tenant: another tenant may use the same one.
    let other = Stack::get().tenant().await;
    let r = other
        .admin
        .raw(
            Method::POST,
            "/v1/consumers",
            Some(("application/json", body.to_string().into_bytes())),
            &[("Idempotency-Key", "key-1")],
        )
        .await;
    assert_eq!(r.status, 201);
    assert_ne!(r.json()["id"], first.json()["id"]);
    assert_eq!(all(&t.admin).await.len(), 2);
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_create_once() {
    let t = Stack::get().tenant().await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let api = t.admin.clone();
        tasks.push(tokio::spawn(async move {
            let r = api
                .raw(
                    Method::POST,
                    "/v1/consumers",
                    Some(("application/json", b"{\"name\":\"Retry\"}".to_vec())),
                    &[("Idempotency-Key", "retry-storm")],
                )
                .await;
            (r.status.as_u16(), r.text)
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        let (status, text) = task.await.unwrap();
        assert!(status == 201 || status == 409, "{status}: {text}");
        if status == 201 {
            ids.insert(
                serde_json::from_str::<Value>(&text).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert_eq!(ids.len(), 1, "every success names the same consumer");
    assert_eq!(all(&t.admin).await.len(), 1);
}

#[tokio::test]
async fn keys_are_required_and_members_may_only_read() {
    let stack = Stack::get();
    let t = Stack::get().tenant().await;
    let c = create(&t.admin, json!({"name": "Guarded"})).await;
    let path = format!("/v1/consumers/{}", c["id"].as_str().unwrap());

    let anon = stack.anonymous();
    let forged = t.admin.with_key(&format!("lgk_{}", "A".repeat(43)));
    let malformed = t.admin.with_key("not-a-key");
    for api in [&anon, &forged, &malformed] {
        for r in [
            api.get("/v1/consumers").await,
            api.get(&path).await,
            api.post("/v1/consumers", &json!({"name": "x"})).await,
            api.delete(&path).await,
        ] {
            assert_eq!(r.status, 401, "{}", r.text);
            assert_eq!(r.error_code(), "unauthorized");
            assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
        }
    }
    let basic = anon
        .raw(
            Method::GET,
            "/v1/consumers",
            None,
            &[("authorization", "Basic dXNlcjpwYXNz")],
        )
        .await;
    assert_eq!(basic.status, 401);

    assert_eq!(t.member.get("/v1/consumers").await.status, 200);
    assert_eq!(t.member.get(&path).await.status, 200);
    for r in [
        t.member.post("/v1/consumers", &json!({"name": "x"})).await,
        t.member.patch(&path, &json!({"name": "renamed"})).await,
        t.member.delete(&path).await,
    ] {
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.error_code(), "forbidden");
    }
    assert_eq!(
        t.admin.get(&path).await.json(),
        c,
        "member writes changed nothing"
    );
    assert_eq!(all(&t.admin).await.len(), 1);
}

#[tokio::test]
async fn another_tenants_consumer_is_always_not_found() {
    let a = Stack::get().tenant().await;
    let b = Stack::get().tenant().await;
    let c = create(
        &a.admin,
        json!({"name": "Private", "internal_reference": "secret-ref"}),
    )
    .await;
    let path = format!("/v1/consumers/{}", c["id"].as_str().unwrap());
    for r in [
        b.admin.get(&path).await,
        b.admin.patch(&path, &json!({"name": "stolen"})).await,
        b.admin.delete(&path).await,
        b.member.get(&path).await,
    ] {
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.error_code(), "not_found");
    }
    assert!(all(&b.admin).await.is_empty());
    assert_eq!(
        b.admin
            .get("/v1/consumers?internal_reference=secret-ref")
            .await
            .json()["data"],
        json!([])
    );
    assert_eq!(a.admin.get(&path).await.json(), c, "untouched");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let t = Stack::get().tenant().await;
    for id in [
        "csm_0193a1b2c3d47000800000000000000a",
        "csm_nope",
        "ten_0193a1b2c3d47000800000000000000a",
        "x",
    ] {
        let path = format!("/v1/consumers/{id}");
        for r in [
            t.admin.get(&path).await,
            t.admin.patch(&path, &json!({"name": "n"})).await,
            t.admin.delete(&path).await,
        ] {
            assert_eq!(r.status, 404, "{id}: {}", r.text);
            assert_eq!(r.error_code(), "not_found");
        }
    }
}

#[tokio::test]
async fn patch_updates_clears_and_merges() {
    let t = Stack::get().tenant().await;
    let c = create(
        &t.admin,
        json!({"name": "Before", "email": "a@b.example", "redirect_url": "https://x.example/cb", "internal_reference": "r-1", "metadata": {"a": 1, "b": 2}}),
    )
    .await;
    let path = format!("/v1/consumers/{}", c["id"].as_str().unwrap());

    let r = t
        .admin
        .patch(
            &path,
            &json!({"name": "After", "email": null, "metadata": {"b": null, "c": [3]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let u = r.json();
    assert_eq!(u["name"], "After");
    assert_eq!(u["email"], Value::Null);
    assert_eq!(u["redirect_url"], c["redirect_url"]);
    assert_eq!(u["metadata"], json!({"a": 1, "c": [3]}));
    assert_eq!(u["created_at"], c["created_at"]);
    assert_ne!(u["updated_at"], c["updated_at"]);
    assert_eq!(t.admin.get(&path).await.json(), u);

    // Nothing to change: the same consumer back, not rewritten.
    let same = t.admin.patch(&path, &json!({})).await;
    assert_eq!(same.status, 200);
    assert_eq!(same.json(), u);

    let r = t
        .admin
        .patch(&path, &json!({"metadata": null, "redirect_url": null}))
        .await;
    assert_eq!(r.json()["metadata"], json!({}));
    assert_eq!(r.json()["redirect_url"], Value::Null);

    for (body, field) in [
        (json!({"name": null}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"email": "nope"}), "email"),
        (
            json!({"redirect_url": "http://example.com"}),
            "redirect_url",
        ),
        (json!({"metadata": 3}), "metadata"),
        (json!({"id": "csm_x"}), "id"),
        (json!({"created_at": "2020-01-01T00:00:00Z"}), "created_at"),
    ] {
        let r = t.admin.patch(&path, &body).await;
        assert_validation(&r, &[field]);
    }
    let big = t
        .admin
        .patch(&path, &json!({"metadata": {"a": "x".repeat(5000)}}))
        .await;
    assert_eq!(big.status, 200);
    let over = t
        .admin
        .patch(&path, &json!({"metadata": {"b": "y".repeat(5000)}}))
        .await;
    assert_validation(&over, &["metadata"]);
    assert_eq!(
        t.admin.get(&path).await.json()["metadata"]["b"],
        Value::Null,
        "a refused patch wrote nothing"
    );
}

#[tokio::test]
async fn changing_internal_reference_moves_its_reservation() {
    let t = Stack::get().tenant().await;
    let a = create(
        &t.admin,
        json!({"name": "A", "internal_reference": "ref-a"}),
    )
    .await;
    let b = create(
        &t.admin,
        json!({"name": "B", "internal_reference": "ref-b"}),
    )
    .await;
    let a_path = format!("/v1/consumers/{}", a["id"].as_str().unwrap());

    let taken = t
        .admin
        .patch(&a_path, &json!({"internal_reference": "ref-b"}))
        .await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert_eq!(taken.error_fields(), ["internal_reference"]);
    assert_eq!(
        t.admin.get(&a_path).await.json()["internal_reference"],
        "ref-a"
    );

    let moved = t
        .admin
        .patch(&a_path, &json!({"internal_reference": "ref-c"}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    // ref-a is free again; ref-c now finds A.
    create(
        &t.admin,
        json!({"name": "New A", "internal_reference": "ref-a"}),
    )
    .await;
    let found = t
        .admin
        .get("/v1/consumers?internal_reference=ref-c")
        .await
        .json();
    assert_eq!(found["data"][0]["id"], a["id"]);

    let cleared = t
        .admin
        .patch(&a_path, &json!({"internal_reference": null}))
        .await;
    assert_eq!(cleared.status, 200);
    create(
        &t.admin,
        json!({"name": "Takes C", "internal_reference": "ref-c"}),
    )
    .await;
    assert_eq!(
        t.admin
            .get("/v1/consumers?internal_reference=ref-b")
            .await
            .json()["data"][0]["id"],
        b["id"]
    );
}

#[tokio::test]
async fn delete_removes_the_consumer_and_frees_its_reference() {
    let t = Stack::get().tenant().await;
    let c = create(
        &t.admin,
        json!({"name": "Gone", "internal_reference": "bye"}),
    )
    .await;
    let path = format!("/v1/consumers/{}", c["id"].as_str().unwrap());
    let r = t.admin.delete(&path).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    assert_eq!(t.admin.get(&path).await.status, 404);
    assert_eq!(t.admin.delete(&path).await.status, 404);
    assert!(all(&t.admin).await.is_empty());
    create(
        &t.admin,
        json!({"name": "Reuses", "internal_reference": "bye"}),
    )
    .await;
}

#[tokio::test]
async fn routes_refuse_unknown_query_parameters() {
    let t = Stack::get().tenant().await;
    let c = create(&t.admin, json!({"name": "Q"})).await;
    let r = t
        .admin
        .get(&format!(
            "/v1/consumers/{}?expand=all",
            c["id"].as_str().unwrap()
        ))
        .await;
    assert_validation(&r, &["expand"]);
}

#[tokio::test]
async fn the_table_holds_no_plaintext_api_key() {
    let t = Stack::get().tenant().await;
    create(&t.admin, json!({"name": "Scan me"})).await;
    let key = t.admin.raw_key().to_owned();
    assert!(
        table_mentions(&key).await.is_empty(),
        "plaintext key in the table"
    );
    assert!(
        table_mentions(&key[4..]).await.is_empty(),
        "key body in the table"
    );
}
