//! Events reach EventBridge: the outbox written with each change is relayed from the table
//! stream (pumped to the real `event-relay` binary) to the bus, where a rule delivers them
//! to an SQS queue, as a platform's rule would. Also: EventBridge down, link expiry.

use aws_sdk_dynamodb::types::AttributeValue;
use linkgate_tests::{eventually, root, runtime_api, OpenLink, Stack, TestTenant};
use serde_json::{json, Value};
use std::time::Duration;

fn conf<T>(stack: &Stack, build: impl FnOnce(aws_config::SdkConfig) -> T) -> T {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(linkgate::aws::http_client())
        .endpoint_url(&stack.aws_endpoint_url)
        .region(aws_config::Region::new(stack.region.clone()))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            creds,
        ))
        .build();
    build(sdk)
}

/// A queue subscribed by a rule to everything Linkgate publishes for `tenant`.
async fn subscribe(stack: &Stack, tenant: &str) -> (aws_sdk_sqs::Client, String) {
    subscribe_to(
        stack,
        tenant,
        json!({"source": ["linkgate"], "detail": {"tenant_id": [tenant]}}),
    )
    .await
}

/// A queue subscribed by a rule with `pattern`; `name` makes the rule and queue unique.
async fn subscribe_to(stack: &Stack, name: &str, pattern: Value) -> (aws_sdk_sqs::Client, String) {
    let sqs = conf(stack, |c| aws_sdk_sqs::Client::new(&c));
    let events = conf(stack, |c| aws_sdk_eventbridge::Client::new(&c));
    let name = format!("t-{}", &name[name.len() - 20..]);
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let bus = &stack.function_env["LINKGATE_EVENT_BUS"];
    events
        .put_rule()
        .name(&name)
        .event_bus_name(bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&name)
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    (sqs, url)
}

/// Messages on the queue until `done` says enough (or 60 s pass).
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut got = Vec::new();
    eventually(
        Duration::from_secs(60),
        async || {
            let out = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            for m in out.messages() {
                got.push(serde_json::from_str::<Value>(m.body().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            got.clone()
        },
        |got| done(got),
    )
    .await
}

fn of_type<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["detail-type"] == kind)
        .collect()
}

async fn activated_connection(t: &TestTenant) -> (String, String) {
    let stack = Stack::get();
    let integration = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let consumer = t.consumer(&json!({"name": "Evented"})).await;
    let conn = t
        .connect(
            &consumer,
            &json!({"name": "Bus", "integration_id": integration}),
        )
        .await;
    let link = OpenLink::of(&conn);
    let anon = stack.anonymous();
    assert_eq!(link.open(&anon).await.status, 200);
    let r = link
        .complete(
            &anon,
            &[
                ("integration_id", &integration),
                ("f_secret_key", "rk_test_51BusKey000000000000"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (
        conn["id"].as_str().unwrap().to_owned(),
        conn["link"]["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn changes_reach_the_bus_through_the_outbox() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let (sqs, queue) = subscribe(&stack, t.id.as_str()).await;
    let (connection, link) = activated_connection(&t).await;
    t.admin
        .delete(&format!("/v1/connections/{connection}"))
        .await;

    // Events come in no set order (link.opened takes a second pass through the stream):
    // wait for all three.
    let got = receive(&sqs, &queue, |m| {
        ["connection.created", "link.opened", "connection.revoked"]
            .iter()
            .all(|kind| !of_type(m, kind).is_empty())
    })
    .await;
    let created = of_type(&got, "connection.created");
    assert_eq!(created.len(), 1, "{got:#?}");
    let e = created[0];
    assert_eq!(e["source"], "linkgate");
    let detail = &e["detail"];
    assert!(detail["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(detail["type"], "connection.created");
    assert_eq!(detail["tenant_id"], t.id.as_str());
    assert!(linkgate::time::parse(detail["occurred_at"].as_str().unwrap()).is_some());
    assert_eq!(detail["data"]["connection"]["id"], connection.as_str());
    assert_eq!(detail["data"]["link_id"], link.as_str());
    assert!(
        !e.to_string().contains("rk_test_51BusKey"),
        "no secret in events"
    );
    assert_eq!(of_type(&got, "link.opened").len(), 1);
    assert_eq!(of_type(&got, "connection.revoked").len(), 1);
}

/// The relay binary, run once through the runtime API with `env`.
async fn relay(records: Vec<Value>, env: &std::collections::HashMap<String, String>) -> Value {
    runtime_api::invoke(
        &root().join("target/debug/event-relay"),
        json!({"Records": records}),
        env,
    )
    .await
    .unwrap()
}

/// The outbox items of `tenant` as stream INSERT records, the way the stream carries them.
async fn outbox_records(stack: &Stack, tenant: &str, kind: &str) -> Vec<Value> {
    let items = stack.outbox(tenant).await;
    items
        .iter()
        .filter(|i| i["type"].as_s().unwrap() == kind)
        .enumerate()
        .map(|(n, i)| {
            let image: serde_json::Map<String, Value> = ["pk", "sk", "id", "type", "detail"]
                .iter()
                .map(|k| (k.to_string(), json!({"S": i[*k].as_s().unwrap()})))
                .collect();
            json!({"eventName": "INSERT", "eventSource": "aws:dynamodb",
                   "dynamodb": {"SequenceNumber": format!("9{n:023}"), "NewImage": image}})
        })
        .collect()
}

#[tokio::test]
async fn an_unreachable_bus_delays_events_but_never_loses_them() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let (connection, _) = activated_connection(&t).await;
    // Replay the outbox record under an event id of its own, so what the pump relays of the
    // original cannot be confused with it.
    let mut records = outbox_records(&stack, t.id.as_str(), "connection.created").await;
    assert_eq!(records.len(), 1);
    let fresh = linkgate::id::EventId::generate().to_string();
    let mut detail: Value = serde_json::from_str(
        records[0]["dynamodb"]["NewImage"]["detail"]["S"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    detail["id"] = json!(fresh);
    records[0]["dynamodb"]["NewImage"]["detail"]["S"] = json!(detail.to_string());
    let (sqs, queue) = subscribe_to(
        &stack,
        &fresh,
        json!({"source": ["linkgate"], "detail": {"id": [fresh]}}),
    )
    .await;

    let mut down = stack.lambda_env("event-relay");
    down.insert(
        "AWS_ENDPOINT_URL_EVENTBRIDGE".into(),
        "http://127.0.0.1:9".into(),
    );
    let answer = relay(records.clone(), &down).await;
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]),
        "reported for a retry"
    );
    assert!(
        receive(&sqs, &queue, |_| true).await.is_empty(),
        "nothing published while the bus is down"
    );

    let answer = relay(records, &stack.lambda_env("event-relay")).await;
    assert_eq!(answer["batchItemFailures"], json!([]));
    let got = receive(&sqs, &queue, |m| {
        !of_type(m, "connection.created").is_empty()
    })
    .await;
    let created = of_type(&got, "connection.created");
    assert_eq!(created.len(), 1, "arrives once the bus is back");
    assert_eq!(
        created[0]["detail"]["data"]["connection"]["id"],
        connection.as_str()
    );
}

#[tokio::test]
async fn ttl_removal_of_a_waiting_link_announces_link_expired_once() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let (sqs, queue) = subscribe(&stack, t.id.as_str()).await;
    let consumer = t.consumer(&json!({"name": "Slow"})).await;
    let conn = t.connect(&consumer, &json!({"name": "Late"})).await;
    let used = t.connect(&consumer, &json!({"name": "Revoked"})).await;
    let store = stack.store().await;
    let mut records = Vec::new();
    for (n, link) in [&conn["link"]["id"], &used["link"]["id"]]
        .into_iter()
        .enumerate()
    {
        let link = link.as_str().unwrap();
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key("pk", AttributeValue::S(format!("LINK#{link}")))
            .key("sk", AttributeValue::S("LINK".into()))
            .update_expression("SET expires_at = :past")
            .expression_attribute_values(
                ":past",
                AttributeValue::S("2020-01-01T00:00:00.000Z".into()),
            )
            .send()
            .await
            .unwrap();
        // moto never runs TTL: this is the record DynamoDB's sweep would write.
        records.push(json!({"eventName": "REMOVE", "eventSource": "aws:dynamodb",
            "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "dynamodb": {"SequenceNumber": format!("8{n:023}"), "OldImage": {
                "pk": {"S": format!("LINK#{link}")}, "sk": {"S": "EXPIRY"},
                "tenant_id": {"S": t.id.as_str()}, "link_id": {"S": link}}}}));
    }
    // the second link was revoked before it expired: no announcement for it
    let revoked = t
        .admin
        .delete(&format!(
            "/v1/links/{}",
            used["link"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.json()["status"], "revoked");

    for _ in 0..2 {
        let answer = relay(records.clone(), &stack.lambda_env("event-relay")).await;
        assert_eq!(answer["batchItemFailures"], json!([]));
    }
    let expired = stack.events(&t.id, "link.expired").await;
    assert_eq!(
        expired.len(),
        1,
        "once, even when the record is redelivered"
    );
    assert_eq!(expired[0]["data"]["link_id"], conn["link"]["id"]);
    let got = receive(&sqs, &queue, |m| !of_type(m, "link.expired").is_empty()).await;
    assert_eq!(of_type(&got, "link.expired").len(), 1);
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The real path of expiry: the link's expiry marker carries `ttl = expires_at`; the local
/// stack's TTL deletes it once that passes, with the TTL service's identity on the stream's
/// REMOVE record, the relay's filter lets exactly that through, and `link.expired` reaches
/// an EventBridge rule's target and a webhook endpoint.
#[tokio::test]
async fn a_link_expiring_by_ttl_is_announced_to_rules_and_webhooks() {
    use linkgate_tests::receiver::Receiver;
    let stack = Stack::get();
    let t = stack.tenant().await;
    let (sqs, queue) = subscribe(&stack, t.id.as_str()).await;
    let receiver = Receiver::start(vec![], None).await;
    let r = t
        .admin
        .post(
            "/v1/webhooks",
            &json!({"url": receiver.url, "events": ["link.expired"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let link = t.open_link().await.id;

    // time passes: the link's expiry is now (moto cannot wait half an hour)
    let store = stack.store().await;
    let now = chrono::Utc::now();
    for (sk, expression, value) in [
        (
            "LINK",
            "SET expires_at = :v",
            AttributeValue::S(linkgate::time::format(&now)),
        ),
        (
            "EXPIRY",
            "SET #ttl = :v",
            AttributeValue::N(now.timestamp().to_string()),
        ),
    ] {
        let mut update = store
            .client()
            .update_item()
            .table_name(store.table())
            .key("pk", AttributeValue::S(format!("LINK#{link}")))
            .key("sk", AttributeValue::S(sk.into()))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":v", value);
        if sk == "EXPIRY" {
            update = update.expression_attribute_names("#ttl", "ttl");
        }
        update.send().await.unwrap();
    }

    let got = receive(&sqs, &queue, |m| !of_type(m, "link.expired").is_empty()).await;
    let expired = of_type(&got, "link.expired");
    assert_eq!(expired.len(), 1, "{got:#?}");
    assert_eq!(expired[0]["detail"]["data"]["link_id"], link.as_str());

    let hits = receiver.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(hits.len(), 1, "one webhook");
    let body = hits[0].json();
    assert_eq!(body["type"], "link.expired");
    assert_eq!(body["data"]["link_id"], link.as_str());

    let marker = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("LINK#{link}")))
        .key("sk", AttributeValue::S("EXPIRY".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(marker.item.is_none(), "TTL removed the expiry marker");
    let page = t.admin.get(&format!("/v1/links/{link}")).await;
    assert_eq!(page.json()["status"], "expired", "the link itself is kept");
}

/// A stream record no filter of the relay's mapping matches never reaches the relay, as on
/// AWS: here the insert of an item that is not an outbox event.
#[tokio::test]
async fn a_stream_record_outside_the_filters_never_reaches_the_relay() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let (sqs, queue) = subscribe(&stack, t.id.as_str()).await;
    let open = t.open_link().await;
    let link = open.id.clone();
    let since = now_seconds() - 1.0;
    let marker = format!("outside-the-filters-{link}");
    let store = stack.store().await;
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S(format!("PROBE#{link}")))
        .item("sk", AttributeValue::S("PROBE".into()))
        .item("marker", AttributeValue::S(marker.clone()))
        .send()
        .await
        .unwrap();
    // then a change the filters let through: the first open, announced as link.opened
    assert_eq!(open.open(&stack.anonymous()).await.status, 200);
    let got = receive(&sqs, &queue, |m| !of_type(m, "link.opened").is_empty()).await;
    assert_eq!(of_type(&got, "link.opened").len(), 1);

    // the stream is read in order: the relay has been handed everything it will get of both
    let seen = stack.invocations("event-relay", since).await;
    let seen = serde_json::to_string(&seen).unwrap();
    assert!(
        seen.contains(&format!("LINK#{link}")) && seen.contains("opened_at"),
        "the first open reached the relay"
    );
    assert!(
        !seen.contains(&marker),
        "the record outside the filters reached the relay"
    );
}
