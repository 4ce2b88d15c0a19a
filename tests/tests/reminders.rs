//! Emailing links: the tenant's reminder settings, the scheduled sweep (its real binary,
//! through the Lambda runtime API) and `POST /v1/links/{id}/send`, with SES on moto. What was
//! sent is read back through moto's own API and parsed as MIME, as a mail client would.
//!
//! Sweeps in this file may run at once and each takes every due reminder of every tenant:
//! every assertion is about this test's own links and addresses, never about counts.

use aws_sdk_dynamodb::types::AttributeValue;
use linkgate_tests::{assert_validation, root, runtime_api, Reply, Stack, TestTenant};
use serde_json::{json, Value};

const WEEK: u64 = 604_800;
const STRIPE_KEY: &str = "rk_test_51VerySecretRestrictedKey000000";

/// A unique address per test, so a test finds only its own emails.
fn address(tag: &str) -> String {
    format!("{tag}-{}@customer.example", uuid())
}

fn uuid() -> String {
    let bytes = linkgate::secret::random_bytes::<8>().unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One email as moto's SES kept it, parsed.
struct Email {
    raw: String,
}

impl Email {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.raw.as_bytes())
            .expect("a MIME message")
    }
    fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }
    fn text(&self) -> String {
        self.parsed().body_text(0).unwrap_or_default().into_owned()
    }
    fn html(&self) -> String {
        self.parsed().body_html(0).unwrap_or_default().into_owned()
    }
    fn header(&self, name: &str) -> String {
        self.raw
            .lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .map(|l| l[name.len() + 1..].trim().to_owned())
            .unwrap_or_default()
    }
    /// The link the email carries, relative to the API base.
    fn link_path(&self) -> String {
        let text = self.text();
        let url = text
            .split_whitespace()
            .find(|w| w.contains("/connect/lnk_"))
            .expect("a link in the text part")
            .to_owned();
        url.trim_start_matches(&Stack::get().api_base_url)
            .to_owned()
    }
}

/// Every email moto's SES accepted for `to`, oldest first.
async fn emails_to(to: &str) -> Vec<Email> {
    Stack::get()
        .sent_emails()
        .await
        .into_iter()
        .filter(|m| m["type"] == "RawMessage")
        .filter(|m| {
            m["destinations"]
                .as_array()
                .is_some_and(|d| d.iter().any(|a| a.as_str().is_some_and(|a| a.contains(to))))
        })
        .map(|m| Email {
            raw: m["raw_data"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

async fn sweep() -> Value {
    let stack = Stack::get();
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/reminder-sender.json")).unwrap(),
    )
    .unwrap();
    runtime_api::invoke(
        &root().join("target/debug/reminder-sender"),
        event,
        &stack.lambda_env("reminder-sender"),
    )
    .await
    .expect("the reminder sweep ran")
}

async fn enable(t: &TestTenant) {
    let r = t
        .admin
        .patch(
            "/v1/settings",
            &json!({"reminders": {"enabled": true, "sender_name": "Acme Billing", "reply_to": "help@acme.example"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A consumer (with `email`, when given) and a connection whose link lives `ttl` seconds.
async fn link(t: &TestTenant, email: Option<&str>, integration: Option<&str>, ttl: u64) -> Value {
    let mut consumer = json!({"name": "Zoë Martin"});
    if let Some(e) = email {
        consumer["email"] = json!(e);
    }
    let consumer = t.consumer(&consumer).await;
    let mut body = json!({"name": "Accounting", "link_ttl_seconds": ttl});
    if let Some(i) = integration {
        body["integration_id"] = json!(i);
    }
    t.connect(&consumer, &body).await
}

fn link_id(connection: &Value) -> String {
    connection["link"]["id"].as_str().unwrap().to_owned()
}

async fn get_link(t: &TestTenant, id: &str) -> Value {
    let r = t.admin.get(&format!("/v1/links/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// Moves a link's next reminder (and its index entry) into the past, as time would.
async fn make_due(id: &str) {
    let store = Stack::get().store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("LINK#{id}")))
        .key("sk", AttributeValue::S("LINK".into()))
        .update_expression("SET reminders_planned[0] = :past, gsi2sk = :past")
        .condition_expression("attribute_exists(gsi2sk)")
        .expression_attribute_values(
            ":past",
            AttributeValue::S("2026-01-01T00:00:00.000Z".into()),
        )
        .send()
        .await
        .expect("the link has a planned reminder");
}

async fn set_link(id: &str, update: &str, values: &[(&str, AttributeValue)]) {
    let store = Stack::get().store().await;
    let mut call = store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("LINK#{id}")))
        .key("sk", AttributeValue::S("LINK".into()))
        .update_expression(update);
    for (k, v) in values {
        call = call.expression_attribute_values(*k, v.clone());
    }
    call.send().await.unwrap();
}

/// Moves a link's expiry into the past (moto never removes expired items; we read
/// `expires_at` anyway).
async fn expire(id: &str) {
    set_link(
        id,
        "SET expires_at = :past",
        &[(
            ":past",
            AttributeValue::S("2026-01-02T00:00:00.000Z".into()),
        )],
    )
    .await;
}

async fn send(t: &TestTenant, id: &str) -> Reply {
    t.admin
        .post(&format!("/v1/links/{id}/send"), &json!({}))
        .await
}

#[tokio::test]
async fn reminder_settings_have_defaults_merge_and_refuse_bad_values() {
    let t = Stack::get().tenant().await;
    let s = t.admin.get("/v1/settings").await.json();
    assert_eq!(
        s["reminders"],
        json!({"enabled": false, "sender_name": null, "reply_to": null,
               "schedule": {"after_creation_hours": [24], "before_expiry_hours": [4]}})
    );
    enable(&t).await;
    let r = t
        .admin
        .patch(
            "/v1/settings",
            &json!({"reminders": {"schedule": {"before_expiry_hours": [48, 2]}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let reminders = &r.json()["reminders"];
    assert_eq!(reminders["enabled"], true, "kept");
    assert_eq!(reminders["sender_name"], "Acme Billing");
    assert_eq!(reminders["reply_to"], "help@acme.example");
    assert_eq!(
        reminders["schedule"],
        json!({"after_creation_hours": [24], "before_expiry_hours": [2, 48]})
    );

    let before = t.admin.get("/v1/settings").await.json();
    for (body, field) in [
        (json!({"enabled": "yes"}), "reminders.enabled"),
        (json!({"enabled": null}), "reminders.enabled"),
        (
            json!({"sender_name": "Acme <billing@acme.example>"}),
            "reminders.sender_name",
        ),
        (
            json!({"sender_name": "Acme\r\nBcc: all@example.com"}),
            "reminders.sender_name",
        ),
        (json!({"sender_name": ""}), "reminders.sender_name"),
        (json!({"reply_to": "not-an-address"}), "reminders.reply_to"),
        (
            json!({"schedule": {"after_creation_hours": [0]}}),
            "reminders.schedule.after_creation_hours",
        ),
        (
            json!({"schedule": {"after_creation_hours": [200]}}),
            "reminders.schedule.after_creation_hours",
        ),
        (
            json!({"schedule": {"before_expiry_hours": [4, 4]}}),
            "reminders.schedule.before_expiry_hours",
        ),
        (
            json!({"schedule": {"before_expiry_hours": [1, 2, 3, 4, 5, 6]}}),
            "reminders.schedule.before_expiry_hours",
        ),
        (
            json!({"schedule": {"every_hours": [1]}}),
            "reminders.schedule.every_hours",
        ),
        (json!({"schedule": [24]}), "reminders.schedule"),
        (json!({"colour": "red"}), "reminders.colour"),
    ] {
        let r = t
            .admin
            .patch("/v1/settings", &json!({ "reminders": body }))
            .await;
        assert_validation(&r, &[field]);
    }
    let r = t
        .admin
        .patch("/v1/settings", &json!({"reminders": 7}))
        .await;
    assert_validation(&r, &["reminders"]);
    assert_eq!(
        t.admin.get("/v1/settings").await.json(),
        before,
        "a refused PATCH changes nothing"
    );

    let r = t
        .admin
        .patch("/v1/settings", &json!({"reminders": null}))
        .await;
    assert_eq!(
        r.json()["reminders"]["enabled"],
        false,
        "null resets to defaults"
    );
}

#[tokio::test]
async fn links_plan_reminders_only_when_they_live_long_enough() {
    let t = Stack::get().tenant().await;
    let short = link(&t, Some(&address("short")), None, 1800).await;
    assert_eq!(short["link"]["next_reminder_at"], Value::Null);
    assert_eq!(short["link"]["reminders_sent"], json!([]));
    let long = link(&t, Some(&address("long")), None, WEEK).await;
    let created =
        chrono::DateTime::parse_from_rfc3339(long["link"]["created_at"].as_str().unwrap()).unwrap();
    let next =
        chrono::DateTime::parse_from_rfc3339(long["link"]["next_reminder_at"].as_str().unwrap())
            .unwrap();
    assert_eq!(
        (next - created).num_hours(),
        24,
        "the default: a day after creation"
    );
}

#[tokio::test]
async fn a_due_reminder_is_emailed_once_recorded_and_announced() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    enable(&t).await;
    let to = address("due");
    let i = t
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    assert_eq!(i.status, 201, "{}", i.text);
    let c = link(&t, Some(&to), i.json()["id"].as_str(), WEEK).await;
    let id = link_id(&c);
    let planned = get_link(&t, &id).await;
    make_due(&id).await;

    sweep().await;
    let sent = emails_to(&to).await;
    assert_eq!(sent.len(), 1, "one reminder");
    let email = &sent[0];
    assert_eq!(
        email.subject(),
        "Reminder: Test Platform is waiting for you to connect Stripe"
    );
    assert!(
        email.header("From").contains("Acme Billing"),
        "{}",
        email.raw
    );
    assert!(
        email.header("From").contains("<links@example.com>"),
        "{}",
        email.raw
    );
    assert_eq!(email.header("Reply-To"), "help@acme.example");
    assert!(email.raw.contains("multipart/alternative"));
    let text = email.text();
    for expected in [
        "Zoë Martin",
        "Test Platform asks you to connect your Stripe account",
        "expires on",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let html = email.html();
    assert!(
        html.contains("Connect Stripe") && html.contains("/connect/lnk_"),
        "{html}"
    );

    // The emailed URL opens the page, and the URL handed out at creation still does.
    let public = stack.anonymous();
    let page = public.get(&email.link_path()).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let original = c["link"]["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&stack.api_base_url)
        .to_owned();
    assert_eq!(public.get(&original).await.status, 200);
    assert_ne!(
        email.link_path(),
        original,
        "the email carries a token of its own"
    );

    let after = get_link(&t, &id).await;
    let sent_list = after["reminders_sent"].as_array().unwrap();
    assert_eq!(sent_list.len(), 1);
    assert_eq!(sent_list[0]["trigger"], "schedule");
    assert_ne!(
        after["next_reminder_at"],
        Value::Null,
        "the before-expiry one is next"
    );
    assert_ne!(after["next_reminder_at"], planned["next_reminder_at"]);

    let events = stack.events(&t.id, "link.reminder_sent").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["link"]["id"], id.as_str());
    assert_eq!(events[0]["data"]["reminder"]["trigger"], "schedule");
    let token = email.link_path().split("token=").nth(1).unwrap().to_owned();
    assert!(
        !events[0].to_string().contains(&token),
        "no token in events"
    );

    // The next sweep has nothing new for this link.
    sweep().await;
    assert_eq!(emails_to(&to).await.len(), 1, "never sent twice");
}

#[tokio::test]
async fn no_reminder_for_used_revoked_expired_links_or_without_email_or_when_off() {
    let stack = Stack::get();
    let on = stack.tenant().await;
    enable(&on).await;
    let stripe = on
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await
        .json();

    let granted_to = address("granted");
    let granted = link(&on, Some(&granted_to), stripe["id"].as_str(), WEEK).await;
    let done = linkgate_tests::OpenLink::of(&granted)
        .complete(
            &stack.anonymous(),
            &[
                ("integration_id", stripe["id"].as_str().unwrap()),
                ("f_secret_key", STRIPE_KEY),
            ],
        )
        .await;
    assert!(done.status == 200 || done.status == 303, "{}", done.text);

    let revoked_to = address("revoked");
    let revoked = link(&on, Some(&revoked_to), None, WEEK).await;
    assert_eq!(
        on.admin
            .delete(&format!("/v1/links/{}", link_id(&revoked)))
            .await
            .status,
        200
    );

    let expired_to = address("expired");
    let expired = link(&on, Some(&expired_to), None, WEEK).await;
    expire(&link_id(&expired)).await;

    let no_email = link(&on, None, None, WEEK).await;

    let not_due_to = address("notdue");
    let not_due = link(&on, Some(&not_due_to), None, WEEK).await;

    let off = stack.tenant().await;
    let off_to = address("off");
    let off_link = link(&off, Some(&off_to), None, WEEK).await;

    for c in [&granted, &revoked, &expired, &no_email, &off_link] {
        make_due(&link_id(c)).await;
    }
    sweep().await;

    for to in [&granted_to, &revoked_to, &expired_to, &not_due_to, &off_to] {
        assert!(emails_to(to).await.is_empty(), "nothing sent to {to}");
    }
    for (t, c) in [
        (&on, &granted),
        (&on, &revoked),
        (&on, &expired),
        (&on, &no_email),
        (&off, &off_link),
    ] {
        let l = get_link(t, &link_id(c)).await;
        assert_eq!(l["reminders_sent"], json!([]), "{l}");
    }
    // Closed links leave the index for good; an open one moves on to its next reminder.
    for c in [&granted, &revoked, &expired] {
        let item = stack
            .store()
            .await
            .get(format!("LINK#{}", link_id(c)), "LINK")
            .await
            .unwrap()
            .unwrap();
        assert!(!item.contains_key("gsi2pk"), "{item:?}");
    }
    let moved = get_link(&on, &link_id(&no_email)).await;
    assert_ne!(moved["next_reminder_at"], Value::Null);
    assert_eq!(
        get_link(&on, &link_id(&not_due)).await["next_reminder_at"],
        not_due["link"]["next_reminder_at"],
        "not due: untouched"
    );
    assert!(stack.events(&on.id, "link.reminder_sent").await.is_empty());
}

#[tokio::test]
async fn links_are_sent_on_demand_within_the_rate_limit() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    // On-demand sends do not need scheduled reminders on.
    let to = address("demand");
    let c = link(&t, Some(&to), None, 3600).await;
    let id = link_id(&c);

    let r = send(&t, &id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["reminders_sent"].as_array().unwrap().len(), 1);
    assert_eq!(body["reminders_sent"][0]["trigger"], "request");
    let sent = emails_to(&to).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].subject(),
        "Test Platform asks you to connect your software"
    );
    assert!(
        sent[0].header("From").contains("Test Platform"),
        "the tenant's name by default"
    );
    assert_eq!(sent[0].header("Reply-To"), "", "no reply-to unless set");
    assert!(sent[0].text().contains("the software you use"));
    assert_eq!(
        stack.anonymous().get(&sent[0].link_path()).await.status,
        200
    );

    let again = send(&t, &id).await;
    assert_eq!(again.status, 429, "{}", again.text);
    assert_eq!(again.error_code(), "rate_limited");
    let wait: u64 = again.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
    assert_eq!(emails_to(&to).await.len(), 1, "nothing sent when refused");

    // Five minutes later (the last send moved back), it goes.
    set_link(
        &id,
        "SET last_sent_at = :then",
        &[(":then", AttributeValue::N("1700000000".into()))],
    )
    .await;
    let later = send(&t, &id).await;
    assert_eq!(later.status, 200, "{}", later.text);
    assert_eq!(later.json()["reminders_sent"].as_array().unwrap().len(), 2);
    assert_eq!(emails_to(&to).await.len(), 2);
    let events = stack.events(&t.id, "link.reminder_sent").await;
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e["data"]["reminder"]["trigger"] == "request"));

    // The cap: ten emails per link.
    set_link(
        &id,
        "SET last_sent_at = :then, email_token_hashes = :many",
        &[
            (":then", AttributeValue::N("1700000000".into())),
            (
                ":many",
                AttributeValue::L(vec![AttributeValue::S("x".into()); 10]),
            ),
        ],
    )
    .await;
    let capped = send(&t, &id).await;
    assert_eq!(capped.status, 409, "{}", capped.text);
    assert_eq!(emails_to(&to).await.len(), 2);
}

#[tokio::test]
async fn sending_refuses_what_cannot_be_sent() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let open = link(&t, Some(&address("refusals")), None, 3600).await;
    let id = link_id(&open);

    let member = t
        .member
        .post(&format!("/v1/links/{id}/send"), &json!({}))
        .await;
    assert_eq!(member.status, 403, "{}", member.text);
    let unknown = send(&t, "lnk_0193a1b2c3d47000800000000000000d").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(send(&t, "nonsense").await.status, 404);
    let other = stack.tenant().await;
    assert_eq!(send(&other, &id).await.status, 404, "another tenant's link");
    let extra = t
        .admin
        .post(
            &format!("/v1/links/{id}/send"),
            &json!({"to": "x@y.example"}),
        )
        .await;
    assert_validation(&extra, &["to"]);

    let no_email = link(&t, None, None, 3600).await;
    let r = send(&t, &link_id(&no_email)).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("no email"), "{}", r.text);

    let revoked = link(&t, Some(&address("revoked-send")), None, 3600).await;
    t.admin
        .delete(&format!("/v1/links/{}", link_id(&revoked)))
        .await;
    assert_eq!(send(&t, &link_id(&revoked)).await.status, 409);

    let expired_to = address("expired-send");
    let expired = link(&t, Some(&expired_to), None, 3600).await;
    expire(&link_id(&expired)).await;
    let r = send(&t, &link_id(&expired)).await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert_eq!(r.error_code(), "link_expired");
    assert!(emails_to(&expired_to).await.is_empty());
    assert!(stack.events(&t.id, "link.reminder_sent").await.is_empty());
}

/// `POST /v1/links/{id}/send` through the real `links-send` binary with some of its
/// environment changed: how it behaves when SES refuses or cannot be reached, which the
/// shared stack (one SES for every test) must not be made to do.
async fn send_with_env(t: &TestTenant, id: &str, env: &[(&str, &str)]) -> Value {
    let stack = Stack::get();
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/links-send.json")).unwrap(),
    )
    .unwrap();
    let path = format!("/v1/links/{id}/send");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["pathParameters"]["id"] = json!(id);
    event["headers"]["authorization"] = json!(format!("Bearer {}", t.admin.raw_key()));
    event["headers"]["content-type"] = json!("application/json");
    event["body"] = json!("{}");
    let mut function_env = stack.lambda_env("links-send");
    for (k, v) in env {
        function_env.insert((*k).to_owned(), (*v).to_owned());
    }
    runtime_api::invoke(
        &root().join("target/debug/links-send"),
        event,
        &function_env,
    )
    .await
    .expect("links-send answered")
}

#[tokio::test]
async fn when_ses_refuses_or_is_down_nothing_is_recorded_and_the_limit_is_freed() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let to = address("ses-trouble");
    let c = link(&t, Some(&to), None, 3600).await;
    let id = link_id(&c);

    // A From address outside the SES identity: the function's role may not send from it
    // (AccessDenied, as on AWS, where the policy names only SesIdentity), refused for good.
    let refused = send_with_env(
        &t,
        &id,
        &[("LINKGATE_EMAIL_FROM", "links@unverified.example")],
    )
    .await;
    assert_eq!(refused["statusCode"], 409, "{refused}");
    assert!(
        refused["body"].as_str().unwrap().contains("refused"),
        "{refused}"
    );

    // SES unreachable (nothing listens there): 503, retry later.
    let down = send_with_env(&t, &id, &[("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:9")]).await;
    assert_eq!(down["statusCode"], 503, "{down}");
    let body: Value = serde_json::from_str(down["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "email_unavailable");

    let l = get_link(&t, &id).await;
    assert_eq!(l["reminders_sent"], json!([]), "nothing recorded");
    assert!(emails_to(&to).await.is_empty());
    assert!(stack.events(&t.id, "link.reminder_sent").await.is_empty());
    // The failed attempts did not use up the rate limit: sending works at once.
    let r = send(&t, &id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(emails_to(&to).await.len(), 1);
}

#[tokio::test]
async fn a_branded_tenant_emails_in_its_name_colour_and_logo() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    let logo = format!("data:image/png;base64,{}", base64_encode(png));
    let r = t
        .admin
        .patch(
            "/v1/settings",
            &json!({"branding": {"display_name": "Acme Books", "primary_color": "#0b5fff", "logo": logo}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let to = address("branded");
    let c = link(&t, Some(&to), None, 3600).await;
    assert_eq!(send(&t, &link_id(&c)).await.status, 200);
    let sent = emails_to(&to).await;
    assert_eq!(sent.len(), 1);
    let email = &sent[0];
    assert_eq!(
        email.subject(),
        "Acme Books asks you to connect your software"
    );
    assert!(
        email.header("From").contains("Acme Books"),
        "the brand name sends it"
    );
    assert!(email.html().contains("background:#0b5fff"));
    assert!(email.html().contains("cid:logo"));
    use mail_parser::MimeHeaders;
    let parsed = email.parsed();
    let inline = parsed
        .attachments()
        .find(|a| a.content_id() == Some("logo"))
        .expect("the logo travels inline");
    assert_eq!(inline.contents(), png);
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn emails_speak_the_link_or_consumer_language() {
    let t = Stack::get().tenant().await;
    let cases = [
        (
            "en",
            "Test Platform asks you to connect your software",
            "Hello Zoë",
            "expires on",
        ),
        (
            "fr",
            "Test Platform vous invite à connecter votre logiciel",
            "Bonjour Zoë",
            "expire le",
        ),
        (
            "nl",
            "Test Platform vraagt u uw software te koppelen",
            "Beste Zoë",
            "verloopt op",
        ),
        (
            "de",
            "Test Platform bittet Sie, Ihre Software zu verbinden",
            "Hallo Zoë",
            "läuft am",
        ),
    ];
    for (code, subject, greeting, expiry) in cases {
        // The consumer's locale chooses; a link's own `lang` would win (checked below).
        let to = address(&format!("lang-{code}"));
        let consumer = t
            .consumer(&json!({"name": "Zoë", "email": to, "locale": code}))
            .await;
        let c = t.connect(&consumer, &json!({"name": "Books"})).await;
        assert_eq!(send(&t, &link_id(&c)).await.status, 200);
        let sent = emails_to(&to).await;
        assert_eq!(sent.len(), 1, "{code}");
        assert_eq!(sent[0].subject(), subject, "{code}");
        let text = sent[0].text();
        assert!(
            text.contains(greeting) && text.contains(expiry),
            "{code}: {text}"
        );
        assert!(
            sent[0].html().contains(&format!("<html lang=\"{code}\">")),
            "{code}"
        );
    }
    let to = address("lang-override");
    let consumer = t
        .consumer(&json!({"name": "Zoë", "email": to, "locale": "de"}))
        .await;
    let c = t
        .connect(&consumer, &json!({"name": "Books", "lang": "nl"}))
        .await;
    assert_eq!(send(&t, &link_id(&c)).await.status, 200);
    assert!(emails_to(&to).await[0].text().contains("Beste Zoë"));
}

/// SES is shared: a tenant sends at most `MaxEmailsPerHour` emails an hour. Over it, a send
/// is 429 `rate_limited` with the wait until the hour turns and nothing is sent or recorded;
/// a due reminder waits for the next hour rather than being dropped; other tenants are not
/// affected.
#[tokio::test]
async fn a_tenant_emails_at_most_its_hourly_limit() {
    let stack = Stack::get();
    let limit: usize = stack.lambda_env("links-send")["LINKGATE_MAX_EMAILS_PER_HOUR"]
        .parse()
        .unwrap();
    assert_eq!(
        stack.lambda_env("reminder-sender")["LINKGATE_MAX_EMAILS_PER_HOUR"],
        limit.to_string()
    );
    // The allowance renews at the top of the hour: the whole test must fall within one.
    let into_hour = chrono::Utc::now().timestamp().rem_euclid(3600) as u64;
    if into_hour > 3600 - 180 {
        tokio::time::sleep(std::time::Duration::from_secs(3601 - into_hour)).await;
    }
    let t = stack.tenant().await;
    enable(&t).await;
    let to = address("hourly");
    let mut links = Vec::new();
    for _ in 0..=limit {
        links.push(link_id(&link(&t, Some(&to), None, 86_400).await));
    }
    for id in &links[..limit] {
        let r = send(&t, id).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let over = send(&t, &links[limit]).await;
    assert_eq!(over.status, 429, "{}", over.text);
    assert_eq!(over.error_code(), "rate_limited");
    assert!(
        over.text.contains(&format!("{limit} emails per hour")),
        "{}",
        over.text
    );
    let wait: u64 = over.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(emails_to(&to).await.len(), limit);
    assert_eq!(
        get_link(&t, &links[limit]).await["reminders_sent"],
        json!([])
    );

    // the schedule waits too: the reminder stays due
    make_due(&links[limit]).await;
    let counts = sweep().await;
    assert!(counts["throttled"].as_u64().unwrap_or(0) >= 1, "{counts}");
    assert_eq!(emails_to(&to).await.len(), limit);
    let waiting = get_link(&t, &links[limit]).await;
    assert_eq!(waiting["reminders_sent"], json!([]));
    assert!(waiting["next_reminder_at"].is_string(), "{waiting}");

    let other = stack.tenant().await;
    let theirs = link_id(&link(&other, Some(&address("neighbour")), None, 86_400).await);
    assert_eq!(send(&other, &theirs).await.status, 200);
}
