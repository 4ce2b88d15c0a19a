//! `GET /v1/events` and `GET /v1/events/{id}` over HTTP through the real binaries and the
//! table on moto: every filter, cursors across the shards, time bounds, retention, tenants.

use aws_sdk_dynamodb::types::AttributeValue;
use linkgate_tests::{assert_validation, eventually, OpenLink, Stack, TestTenant};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const KEY: &str = "rk_test_51EventsApiKey000000000000";

/// An imported (active) Stripe connection of `consumer`: `connection.created` at once.
async fn import(t: &TestTenant, integration: &str, consumer: &str, name: &str) -> String {
    let r = t
        .admin
        .post(
            "/v1/connections",
            &json!({"consumer_id": consumer, "integration_id": integration, "name": name,
                    "credentials": {"secret_key": KEY}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A tenant with two consumers: A has an imported connection updated then revoked, and a
/// connection whose link the customer opened; B has one imported connection.
struct History {
    t: TestTenant,
    a: String,
    b: String,
    revoked: String,
    opened: String,
    link: String,
    other: String,
}

async fn history() -> History {
    let t = Stack::get().tenant().await;
    let stripe = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let a = t.consumer(&json!({"name": "Consumer A"})).await;
    let b = t.consumer(&json!({"name": "Consumer B"})).await;
    let revoked = import(&t, &stripe, &a, "Accounting").await;
    let r = t
        .admin
        .patch(
            &format!("/v1/connections/{revoked}"),
            &json!({"metadata": {"region": "eu"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = t.admin.delete(&format!("/v1/connections/{revoked}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let other = import(&t, &stripe, &b, "Payments").await;
    let r = t
        .admin
        .post(
            &format!("/v1/consumers/{a}/connections"),
            &json!({"name": "Later", "integration_id": stripe}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pending = r.json();
    let opened = pending["id"].as_str().unwrap().to_owned();
    let link = OpenLink::of(&pending);
    assert_eq!(link.open(&Stack::get().anonymous()).await.status, 200);
    // link.opened is announced from the table's stream: wait for it
    let seen = eventually(
        Duration::from_secs(15),
        async || t.admin.get("/v1/events?type=link.opened").await.json(),
        |page| page["data"].as_array().is_some_and(|d| !d.is_empty()),
    )
    .await;
    assert_eq!(
        seen["data"][0]["data"]["link_id"],
        link.id.as_str(),
        "{seen}"
    );
    History {
        t,
        a,
        b,
        revoked,
        opened,
        link: link.id,
        other,
    }
}

#[tokio::test]
async fn events_list_newest_first_and_filter_by_type_owner_and_time() {
    let h = history().await;
    let all = h.t.member.all("/v1/events?limit=100").await;
    let types: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    // link.opened happened last (its id carries the moment the link was opened)
    assert_eq!(
        types,
        [
            "link.opened",
            "connection.created",
            "connection.revoked",
            "connection.updated",
            "connection.created"
        ],
        "{all:#?}"
    );
    let listed = ids(&all);
    let mut sorted = listed.clone();
    sorted.sort_unstable_by(|x, y| y.cmp(x));
    assert_eq!(listed, sorted, "newest (highest id) first");
    for e in &all {
        assert_eq!(e["tenant_id"], h.t.id.as_str());
        assert!(linkgate::time::parse(e["occurred_at"].as_str().unwrap()).is_some());
    }

    // the published shape: one event reads back as it was listed
    let one = h.t.member.get(&format!("/v1/events/{}", listed[2])).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json(), all[2]);

    let of = |q: &str| {
        let q = q.to_owned();
        let api = h.t.member.clone();
        async move { api.all(&format!("/v1/events?{q}")).await }
    };
    let created = of("type=connection.created").await;
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|e| e["type"] == "connection.created"));
    let revoked = of(&format!("connection_id={}", h.revoked)).await;
    assert_eq!(
        revoked
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "connection.revoked",
            "connection.updated",
            "connection.created"
        ]
    );
    // a connection's events include its links'
    let opened = of(&format!("connection_id={}", h.opened)).await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["type"], "link.opened");
    let by_link = of(&format!("link_id={}", h.link)).await;
    assert_eq!(ids(&by_link), ids(&opened));
    assert!(
        of(&format!("link_id={}&connection_id={}", h.link, h.revoked))
            .await
            .is_empty()
    );
    let a = of(&format!("consumer_id={}", h.a)).await;
    assert_eq!(a.len(), 4, "{a:#?}");
    let b = of(&format!("consumer_id={}", h.b)).await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["data"]["connection"]["id"], h.other.as_str());
    let a_created = of(&format!("consumer_id={}&type=connection.created", h.a)).await;
    assert_eq!(a_created.len(), 1);
    let both = of(&format!(
        "consumer_id={}&connection_id={}&type=connection.updated",
        h.a, h.revoked
    ))
    .await;
    assert_eq!(both.len(), 1);
    assert!(
        of(&format!("consumer_id={}&connection_id={}", h.b, h.revoked))
            .await
            .is_empty()
    );

    // since is inclusive, until exclusive, on the events' own times
    let pivot = all[2]["occurred_at"].as_str().unwrap().to_owned();
    let since = of(&format!("since={}", urlencode(&pivot))).await;
    let until = of(&format!("until={}", urlencode(&pivot))).await;
    assert!(since.iter().any(|e| e["id"] == all[2]["id"]));
    assert!(until.iter().all(|e| e["id"] != all[2]["id"]));
    let mut halves = ids(&since);
    halves.extend(ids(&until));
    let halves: BTreeSet<String> = halves.into_iter().collect();
    assert_eq!(halves, listed.iter().cloned().collect::<BTreeSet<_>>());
    assert!(of("since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")
        .await
        .is_empty());
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn cursors_page_through_every_shard_once_in_order() {
    let h = history().await;
    let whole = ids(&h.t.admin.all("/v1/events?limit=100").await);
    // one at a time: each page merges the shards and resumes below its last event
    let pages = h.t.admin.pages("/v1/events?limit=1", 50).await;
    let one_by_one: Vec<String> = pages
        .iter()
        .flat_map(|p| ids(p["data"].as_array().unwrap()))
        .collect();
    assert_eq!(one_by_one, whole);
    assert!(pages
        .iter()
        .all(|p| p["data"].as_array().unwrap().len() <= 1));
    // a filter applied to bounded reads: pages may be short, the whole is exact
    let filtered: Vec<String> =
        h.t.admin
            .pages("/v1/events?limit=1&type=connection.created", 50)
            .await
            .iter()
            .flat_map(|p| ids(p["data"].as_array().unwrap()))
            .collect();
    assert_eq!(filtered.len(), 2);
    assert_eq!(
        filtered,
        ids(&h.t.admin.all("/v1/events?type=connection.created").await)
    );
    // the items themselves: one per event, in the tenant's shards
    let items = Stack::get().outbox(h.t.id.as_str()).await;
    assert_eq!(items.len(), whole.len());
    for i in &items {
        let pk = i["pk"].as_s().unwrap();
        let shard = pk
            .strip_prefix(&format!("EV#{}#", h.t.id))
            .unwrap_or_else(|| panic!("{pk}"));
        assert!(shard.parse::<u8>().unwrap() < linkgate::event::repo::SHARDS);
    }
}

#[tokio::test]
async fn events_keep_for_the_retention_and_not_after() {
    let h = history().await;
    let days: i64 = Stack::get().lambda_env("events-list")["LINKGATE_EVENT_RETENTION_DAYS"]
        .parse()
        .unwrap();
    let items = Stack::get().outbox(h.t.id.as_str()).await;
    for i in &items {
        let detail: Value = serde_json::from_str(i["detail"].as_s().unwrap()).unwrap();
        let at = linkgate::time::parse(detail["occurred_at"].as_str().unwrap()).unwrap();
        let ttl: i64 = i["ttl"].as_n().unwrap().parse().unwrap();
        assert!(
            (ttl - at.timestamp() - days * 86_400).abs() <= 1,
            "ttl {ttl} for {detail}"
        );
    }
    // DynamoDB removes expired items up to days late (moto never): past its ttl an event is
    // gone from the API at once
    let item = &items[0];
    let id = item["id"].as_s().unwrap().clone();
    let store = Stack::get().store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", item["pk"].clone())
        .key("sk", item["sk"].clone())
        .update_expression("SET #ttl = :past")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":past", AttributeValue::N("1000".into()))
        .send()
        .await
        .unwrap();
    let r = h.t.admin.get(&format!("/v1/events/{id}")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let all = ids(&h.t.admin.all("/v1/events").await);
    assert_eq!(all.len(), items.len() - 1);
    assert!(!all.contains(&id));
}

#[tokio::test]
async fn another_tenants_events_are_not_found_and_bad_filters_are_named() {
    let h = history().await;
    let other = Stack::get().tenant().await;
    let mine = ids(&h.t.admin.all("/v1/events").await);
    for id in &mine {
        let r = other.admin.get(&format!("/v1/events/{id}")).await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.error_code(), "not_found");
    }
    assert!(other.admin.all("/v1/events").await.is_empty());
    for q in [
        format!("connection_id={}", h.revoked),
        format!("consumer_id={}", h.a),
        format!("link_id={}", h.link),
    ] {
        assert!(
            other.admin.all(&format!("/v1/events?{q}")).await.is_empty(),
            "{q}"
        );
    }
    for (q, field) in [
        ("type=link.clicked", "type"),
        ("type=webhook.test", "type"),
        (
            "connection_id=csm_0193a1b2c3d47000800000000000000a",
            "connection_id",
        ),
        ("consumer_id=nope", "consumer_id"),
        ("link_id=lnk_1", "link_id"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        (
            "since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
            "until",
        ),
        (
            "since=2026-12-01T00:00:00Z&until=2026-12-01T00:00:00Z",
            "until",
        ),
        ("cursor=bm9wZQ", "cursor"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("status=active", "status"),
    ] {
        let r = h.t.member.get(&format!("/v1/events?{q}")).await;
        assert_validation(&r, &[field]);
    }
    for bad in ["evt_1", "lnk_0193a1b2c3d47000800000000000000d", "nope"] {
        let r = h.t.admin.get(&format!("/v1/events/{bad}")).await;
        assert_eq!(r.status, 404, "{bad}: {}", r.text);
    }
    let r = h.t.admin.get(&format!("/v1/events/{}?x=1", mine[0])).await;
    assert_validation(&r, &["x"]);
    assert_eq!(Stack::get().anonymous().get("/v1/events").await.status, 401);
}
