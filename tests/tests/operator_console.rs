//! The operator console over HTTP through the real binaries: sign-in with a key (its form's
//! own CSRF cookie) or a one-time link from `linkgate-admin`, sessions that end (idle, at
//! their end, at sign-out), pages that show only the tenant's own, a member that sees but
//! cannot act, forms refused without the session's CSRF token, and an admin's retry and
//! recover reaching a real receiver.

use linkgate::secret::sha256_hex;
use linkgate::store::{key, s};
use linkgate_tests::receiver::{Answer, Receiver};
use linkgate_tests::{
    cookie_set, csrf_of, eventually, root, Api, OpenLink, Reply, Stack, TestTenant,
};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const STRIPE_KEY: &str = "rk_test_51ConsoleRestrictedKey000000000";

struct Seeded {
    t: TestTenant,
    consumer: String,
    connection: String,
    webhook: String,
}

/// A tenant with a consumer, a connection (its link waiting) and a webhook endpoint.
async fn seeded(name: &str) -> Seeded {
    let t = Stack::get().tenant().await;
    let integration = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let consumer = t
        .consumer(&json!({"name": name, "internal_reference": format!("{name}-ref")}))
        .await;
    let connection = t
        .connect(
            &consumer,
            &json!({"name": format!("{name} books"), "integration_id": integration}),
        )
        .await;
    let webhook = t
        .admin
        .create_id(
            "/v1/webhooks",
            &json!({"url": format!("https://hooks.{}.example/in", name.to_lowercase()), "events": ["*"]}),
        )
        .await;
    Seeded {
        t,
        consumer,
        connection: connection["id"].as_str().unwrap().to_owned(),
        webhook,
    }
}

fn location(r: &Reply) -> String {
    r.headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Moves a stored session's times, as the clock would.
async fn age_session(cookie: &str, field: &str) {
    let store = Stack::get().store().await;
    let past = (chrono::Utc::now() - chrono::Duration::seconds(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let updated = store
        .update(
            key(format!("CSS#{}", sha256_hex(cookie.as_bytes())), "CSS"),
            &format!("SET {field} = :past"),
            "attribute_exists(pk)",
            &[(":past", s(past))],
            &[],
        )
        .await
        .unwrap();
    assert!(updated, "the session is stored under its cookie's hash");
}

fn admin_cli(args: &[&str]) -> Value {
    let out = std::process::Command::new(root().join("target/debug/linkgate-admin"))
        .args(args)
        .envs(&Stack::get().function_env)
        .output()
        .expect("run linkgate-admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_key_signs_in_and_every_page_shows_the_tenants_own_and_nothing_else() {
    let stack = Stack::get();
    let mine = seeded("Northwind").await;
    let theirs = seeded("Contoso").await;

    // no session: every page sends the browser to sign in
    let anonymous = stack.anonymous();
    for path in [
        "/console",
        "/console/consumers",
        &format!("/console/consumers/{}", mine.consumer),
    ] {
        let r = anonymous.get(path).await;
        assert_eq!(r.status, 303, "{path}: {}", r.text);
        assert_eq!(location(&r), "/console/sign-in", "{path}");
    }

    let (browser, session) = stack.console(mine.t.member.raw_key()).await;
    assert_eq!(session.len(), 43);
    let r = browser.get("/console").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<h1>Overview</h1>"), "{}", r.text);
    // signed in already: the sign-in page sends back to the console
    assert_eq!(location(&browser.get("/console/sign-in").await), "/console");

    let pages = [
        (
            "/console/consumers".to_owned(),
            vec!["Northwind", "Northwind-ref"],
        ),
        (
            format!("/console/consumers/{}", mine.consumer),
            vec!["Northwind books", "pending"],
        ),
        (
            format!("/console/connections/{}", mine.connection),
            vec!["Northwind books", &mine.consumer],
        ),
        (
            "/console/links".to_owned(),
            vec![&mine.connection, "waiting"],
        ),
        (
            "/console/links?status=waiting".to_owned(),
            vec![&mine.connection],
        ),
        (
            "/console/webhooks".to_owned(),
            vec!["hooks.northwind.example"],
        ),
        (
            format!("/console/webhooks/{}", mine.webhook),
            vec!["hooks.northwind.example", "Deliveries"],
        ),
        (
            "/console/settings".to_owned(),
            vec!["Branding preview", "Stripe"],
        ),
    ];
    for (path, wanted) in &pages {
        let r = browser.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        for w in wanted {
            assert!(r.text.contains(w), "{path} shows {w}: {}", r.text);
        }
        for other in ["Contoso", &theirs.consumer, &theirs.connection] {
            assert!(
                !r.text.contains(other),
                "{path} shows another tenant's {other}"
            );
        }
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(!csp.contains("script-src"), "no script: {csp}");
        assert_eq!(r.headers["cache-control"], "no-store");
        assert_eq!(r.headers["x-frame-options"], "DENY");
        // a member sees no button that acts
        assert!(!r.text.contains(">Recover</button>"), "{path}");
        assert!(!r.text.contains(">Retry</button>"), "{path}");
    }
    let filtered = browser.get("/console/links?status=expired").await;
    assert!(
        !filtered.text.contains(&mine.connection),
        "a filter filters"
    );

    // another tenant's, a malformed id, a page that does not exist: not found
    for path in [
        format!("/console/consumers/{}", theirs.consumer),
        format!("/console/connections/{}", theirs.connection),
        format!("/console/webhooks/{}", theirs.webhook),
        "/console/consumers/not-an-id".to_owned(),
        format!("/console/links/{}", mine.connection),
        "/console/nothing-here".to_owned(),
    ] {
        let r = browser.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    // a cursor we never issued
    let r = browser.get("/console/consumers?after=%7Bnot-ours").await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_token_and_a_live_key() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let browser = stack.anonymous();
    let form = browser.get("/console/sign-in").await;
    assert_eq!(form.status, 200);
    let set = form.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("linkgate_console_signin="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
    let csrf = csrf_of(&form.text);

    // another browser (no form cookie), or no token: refused, no session
    let other = stack.anonymous();
    for (who, fields) in [
        (
            &other,
            vec![("csrf", csrf.as_str()), ("api_key", t.admin.raw_key())],
        ),
        (&browser, vec![("api_key", t.admin.raw_key())]),
        (
            &browser,
            vec![
                ("csrf", "0".repeat(64).as_str()),
                ("api_key", t.admin.raw_key()),
            ],
        ),
    ] {
        let r = who.post_form("/console/sign-in", &fields).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert!(cookie_set(&r, "linkgate_console").is_none());
    }
    // not a form
    let r = browser
        .post("/console/sign-in", &json!({"api_key": t.admin.raw_key()}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // an unknown key: 401, the form again, no session
    let unknown = "lgk_".to_owned() + &"A".repeat(43);
    for key in [unknown.as_str(), "not a key", ""] {
        let r = browser
            .post_form("/console/sign-in", &[("csrf", &csrf), ("api_key", key)])
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert!(r.text.contains("does not open a console"), "{}", r.text);
        assert!(!r.text.contains(&unknown), "the key typed is not echoed");
        assert!(cookie_set(&r, "linkgate_console").is_none());
    }
    // the right key: a session, and the form's cookie is done with
    let r = browser
        .post_form(
            "/console/sign-in",
            &[("csrf", &csrf), ("api_key", t.admin.raw_key())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), "/console");
    let session = cookie_set(&r, "linkgate_console").unwrap();
    assert_eq!(
        cookie_set(&r, "linkgate_console_signin").as_deref(),
        Some("")
    );
    let set: Vec<String> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let cookie = set
        .iter()
        .find(|c| c.starts_with("linkgate_console="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // stored only as a hash
    assert!(linkgate_tests::table_mentions(&session).await.is_empty());
    assert_eq!(browser.get("/console/consumers").await.status, 200);
    // unknown forms
    let r = browser
        .post_form("/console/nothing", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_session_ends_when_idle_at_its_end_and_at_sign_out() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    for field in ["expires_at", "ends_at"] {
        let (browser, session) = stack.console(t.member.raw_key()).await;
        assert_eq!(browser.get("/console/consumers").await.status, 200);
        age_session(&session, field).await;
        let r = browser.get("/console/consumers").await;
        assert_eq!(r.status, 303, "{field}: {}", r.text);
        assert_eq!(location(&r), "/console/sign-in?ended=1");
        let page = browser.get("/console/sign-in?ended=1").await;
        assert!(page.text.contains("Your session ended"), "{}", page.text);
    }

    let (browser, _) = stack.console(t.admin.raw_key()).await;
    let page = browser.get("/console/consumers").await;
    let csrf = csrf_of(&page.text);
    // sign-out is a form like the others: without the session's token it does nothing
    let r = browser
        .post_form("/console/sign-out", &[("csrf", &"f".repeat(64))])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(browser.get("/console/consumers").await.status, 200);
    let r = browser
        .post_form("/console/sign-out", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), "/console/sign-in?signed_out=1");
    let r = browser.get("/console/consumers").await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/console/sign-in");
}

#[tokio::test]
async fn a_sign_in_link_from_the_admin_cli_opens_once_with_its_role() {
    let stack = Stack::get();
    let seed = seeded("Fabrikam").await;
    let tenant = seed.t.id.to_string();
    let link = admin_cli(&["console-link", "--tenant", &tenant, "--role", "member"]);
    assert_eq!(link["role"], "member");
    let path = link["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/console/sign-in?link=csl_"), "{path}");
    let token = path.split("token=").nth(1).unwrap().to_owned();
    assert!(
        linkgate_tests::table_mentions(&token).await.is_empty(),
        "stored as a hash"
    );

    let browser = stack.anonymous();
    let r = browser.get(&path).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), "/console");
    let page = browser
        .get(&format!("/console/webhooks/{}", seed.webhook))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        !page.text.contains(">Recover</button>"),
        "a member link only sees"
    );
    // used: another browser cannot
    let r = stack.anonymous().get(&path).await;
    assert_eq!(r.status, 404, "{}", r.text);
    // a wrong token, an unknown link
    let wrong = path.replace(&token, &"0".repeat(64));
    let other = admin_cli(&["console-link", "--tenant", &tenant, "--role", "admin"]);
    let other_path = other["path"].as_str().unwrap();
    assert_eq!(stack.anonymous().get(&wrong).await.status, 404);
    // expired: said so
    let id = other["id"].as_str().unwrap();
    let store = stack.store().await;
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert!(store
        .update(
            key(format!("CSL#{id}"), "CSL"),
            "SET expires_at = :past",
            "attribute_exists(pk)",
            &[(":past", s(past))],
            &[],
        )
        .await
        .unwrap());
    let r = stack.anonymous().get(other_path).await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(r.text.contains("expired"), "{}", r.text);
    // an admin link acts
    let admin = admin_cli(&["console-link", "--tenant", &tenant, "--role", "admin"]);
    let browser = stack.anonymous();
    assert_eq!(
        browser.get(admin["path"].as_str().unwrap()).await.status,
        303
    );
    let page = browser
        .get(&format!("/console/webhooks/{}", seed.webhook))
        .await;
    assert!(page.text.contains(">Recover</button>"), "{}", page.text);
    // the CLI refuses a tenant that does not exist
    let out = std::process::Command::new(root().join("target/debug/linkgate-admin"))
        .args([
            "console-link",
            "--tenant",
            "ten_0193a1b2c3d470008000000000000099",
        ])
        .envs(&stack.function_env)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

async fn deliveries(t: &TestTenant, wh: &str) -> Vec<Value> {
    let r = t.admin.get(&format!("/v1/webhooks/{wh}/deliveries")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"].as_array().unwrap().clone()
}

async fn settled(t: &TestTenant, wh: &str, want: &[&str]) -> Vec<Value> {
    let mut want: Vec<&str> = want.to_vec();
    want.sort();
    eventually(
        WAIT,
        async || deliveries(t, wh).await,
        |all| {
            let mut got: Vec<&str> = all.iter().filter_map(|d| d["status"].as_str()).collect();
            got.sort();
            got == want
        },
    )
    .await
}

/// The connect form of `link` sent with `key` as the Stripe key.
async fn submit(link: &OpenLink, browser: &Api, integration: &str, key: &str) -> Reply {
    link.complete(
        browser,
        &[("integration_id", integration), ("f_secret_key", key)],
    )
    .await
}

/// A form of the endpoint's page as the browser posts it.
async fn act(browser: &Api, wh: &str, fields: &[(&str, &str)]) -> Reply {
    browser
        .post_form(&format!("/console/webhooks/{wh}"), fields)
        .await
}

#[tokio::test]
async fn an_admin_retries_and_recovers_from_the_console_and_nobody_else_can() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    // down until the deliveries have failed, then up
    let receiver = Receiver::start(vec![], Some(Answer::status(503))).await;
    let wh = t
        .admin
        .create_id(
            "/v1/webhooks",
            &json!({"url": receiver.url, "events": ["*"]}),
        )
        .await;
    for _ in 0..2 {
        let r = t
            .admin
            .post(&format!("/v1/webhooks/{wh}/test"), &json!({}))
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    let failed = settled(&t, &wh, &["failed", "failed"]).await;
    let first = failed[0]["id"].as_str().unwrap().to_owned();
    // A slow run may have outlasted the auto-disable window (15 s locally): paused and
    // resumed, the endpoint starts afresh, and the receiver is back up.
    for enabled in [false, true] {
        let r = t
            .admin
            .patch(&format!("/v1/webhooks/{wh}"), &json!({"enabled": enabled}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    receiver.answer_from_now(Some(Answer::status(204)));
    let sent = receiver.hits().len();

    let (admin, _) = stack.console(t.admin.raw_key()).await;
    let page = admin.get(&format!("/console/webhooks/{wh}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.text.matches(">Retry</button>").count(),
        2,
        "{}",
        page.text
    );
    assert!(page.text.contains("HTTP 503"), "{}", page.text);
    let csrf = csrf_of(&page.text);

    // a member's session sees and cannot act, whatever it posts
    let (member, _) = stack.console(t.member.raw_key()).await;
    let member_page = member.get(&format!("/console/webhooks/{wh}")).await;
    assert!(!member_page.text.contains(">Retry</button>"));
    let member_csrf = csrf_of(&member_page.text);
    let r = act(
        &member,
        &wh,
        &[
            ("csrf", &member_csrf),
            ("action", "retry"),
            ("delivery_id", &first),
        ],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // no token, another session's token, not a form, an unknown action
    for fields in [
        vec![("action", "retry"), ("delivery_id", first.as_str())],
        vec![
            ("csrf", member_csrf.as_str()),
            ("action", "retry"),
            ("delivery_id", first.as_str()),
        ],
    ] {
        let r = act(&admin, &wh, &fields).await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
    let r = admin
        .post(&format!("/console/webhooks/{wh}"), &json!({"csrf": csrf}))
        .await;
    assert_eq!(r.status, 400);
    let r = act(&admin, &wh, &[("csrf", &csrf), ("action", "delete")]).await;
    assert_eq!(r.status, 400);
    // another tenant's endpoint, and a delivery that is not this endpoint's
    let other = seeded("Tailspin").await;
    let r = act(
        &admin,
        &other.webhook,
        &[
            ("csrf", &csrf),
            ("action", "recover"),
            ("since", "2026-01-01T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = act(
        &admin,
        &wh,
        &[
            ("csrf", &csrf),
            ("action", "retry"),
            ("delivery_id", "dlv_0193a1b2c3d470008000000000000099"),
        ],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // a `since` out of range: said, nothing started
    let r = act(
        &admin,
        &wh,
        &[
            ("csrf", &csrf),
            ("action", "recover"),
            ("since", "2020-01-01T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("since"), "{}", r.text);
    assert_eq!(
        receiver.hits().len(),
        sent,
        "nothing was sent for a refused form"
    );

    // the admin retries one: it goes through
    let r = act(
        &admin,
        &wh,
        &[
            ("csrf", &csrf),
            ("action", "retry"),
            ("delivery_id", &first),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        location(&r),
        format!("/console/webhooks/{wh}?notice=retried")
    );
    settled(&t, &wh, &["failed", "succeeded"]).await;
    // and recovers the rest
    let since = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = act(
        &admin,
        &wh,
        &[("csrf", &csrf), ("action", "recover"), ("since", &since)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        location(&r),
        format!("/console/webhooks/{wh}?notice=recovering")
    );
    settled(&t, &wh, &["succeeded", "succeeded"]).await;
    let ids: std::collections::BTreeSet<String> = receiver
        .hits()
        .iter()
        .map(|h| h.header("webhook-id"))
        .collect();
    assert_eq!(ids.len(), 2, "the same two webhook-ids, again");
    let page = admin
        .get(&format!("/console/webhooks/{wh}?notice=recovering"))
        .await;
    assert!(page.text.contains("Recovery started"), "{}", page.text);

    // a disabled endpoint takes no retry
    let r = t
        .admin
        .patch(&format!("/v1/webhooks/{wh}"), &json!({"enabled": false}))
        .await;
    assert_eq!(r.status, 200);
    let r = act(
        &admin,
        &wh,
        &[
            ("csrf", &csrf),
            ("action", "retry"),
            ("delivery_id", &first),
        ],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
}

#[tokio::test]
async fn a_connections_timeline_names_refused_fields_never_their_values() {
    let stack = Stack::get();
    let s = seeded("Woodgrove").await;
    // a receiver that takes every event: the timeline shows each event's deliveries
    let receiver = Receiver::start(vec![], Some(Answer::status(204))).await;
    s.t.admin
        .create_id(
            "/v1/webhooks",
            &json!({"url": receiver.url, "events": ["*"]}),
        )
        .await;
    let answer =
        s.t.admin
            .post(
                &format!("/v1/connections/{}/links", s.connection),
                &json!({}),
            )
            .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let link = OpenLink::of(&answer.json());
    let integration = s.t.admin.get("/v1/integrations").await.json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = stack.anonymous();
    assert_eq!(link.open(&browser).await.status, 200);
    let typed = "sk_typed_by_the_customer_0000000000";
    for _ in 0..3 {
        let r = submit(&link, &browser, &integration, typed).await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    let (console, _) = stack.console(s.t.member.raw_key()).await;
    let page = eventually(
        WAIT,
        async || {
            console
                .get(&format!("/console/connections/{}", s.connection))
                .await
                .text
        },
        |text| text.contains("link.failed") && text.matches("1 succeeded").count() >= 2,
    )
    .await;
    assert!(page.contains("link.opened"), "{page}");
    assert!(page.contains("fields: secret_key"), "{page}");
    // its link, as it stands: refused three times, the fields named
    assert!(page.contains("3 (last: secret_key)"), "{page}");
    assert!(!page.contains(typed), "never a value typed");
    // and it completes: the timeline says so
    let r = submit(&link, &browser, &integration, STRIPE_KEY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    eventually(
        WAIT,
        async || {
            console
                .get(&format!("/console/connections/{}", s.connection))
                .await
                .text
        },
        |text| text.contains("connection.created"),
    )
    .await;
}

/// The overview's per-day table, summed over its days: created, opened, granted, expired,
/// failed, webhook attempts.
fn overview_sums(page: &str) -> [i64; 6] {
    let table = page
        .split("<caption>Per day, the last")
        .nth(1)
        .unwrap_or_else(|| panic!("the overview's table: {page}"));
    let body = table
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    let mut sums = [0; 6];
    for row in body.split("<tr>").skip(1) {
        let cells: Vec<i64> = row
            .split("<td>")
            .skip(2)
            .take(6)
            .map(|c| c.split('<').next().unwrap().trim().parse().unwrap())
            .collect();
        for (sum, v) in sums.iter_mut().zip(cells) {
            *sum += v;
        }
    }
    sums
}

/// A figure of the overview's facts (`<dt>name</dt><dd>n</dd>`).
fn fact(page: &str, name: &str) -> i64 {
    page.split(&format!("<dt>{name}</dt><dd>"))
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {page}"))
}

#[tokio::test]
async fn the_overview_counts_what_happened_once_each() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let integration = t
        .admin
        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    let consumer = t.consumer(&json!({"name": "Counted"})).await;
    // a link opened, refused three times, then completed: active
    let first = t
        .connect(
            &consumer,
            &json!({"name": "First", "integration_id": integration}),
        )
        .await;
    let link = OpenLink::of(&first);
    let browser = stack.anonymous();
    assert_eq!(link.open(&browser).await.status, 200);
    for _ in 0..3 {
        let r = submit(&link, &browser, &integration, "sk_wrong_0000000000000000").await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    let r = submit(&link, &browser, &integration, STRIPE_KEY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // another, revoked before it was used
    let other = t
        .connect(
            &consumer,
            &json!({"name": "Second", "integration_id": integration}),
        )
        .await;
    let r = t
        .admin
        .delete(&format!(
            "/v1/connections/{}",
            other["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // a webhook attempt that succeeds
    let receiver = Receiver::start(vec![], Some(Answer::status(204))).await;
    let wh = t
        .admin
        .create_id(
            "/v1/webhooks",
            &json!({"url": receiver.url, "events": ["webhook.test"]}),
        )
        .await;
    let r = t
        .admin
        .post(&format!("/v1/webhooks/{wh}/test"), &json!({}))
        .await;
    assert_eq!(r.status, 202);

    let (console, _) = stack.console(t.member.raw_key()).await;
    let page = eventually(
        WAIT,
        async || console.get("/console").await.text,
        |p| overview_sums(p) == [2, 1, 1, 0, 1, 1] && fact(p, "Revoked") == 1,
    )
    .await;
    assert_eq!(overview_sums(&page), [2, 1, 1, 0, 1, 1], "{page}");
    assert_eq!(fact(&page, "Active"), 1);
    assert_eq!(fact(&page, "Revoked"), 1);
    assert_eq!(fact(&page, "Needing re-authorization"), 0);
    assert!(
        page.contains("Links granted: 1 in the last 7 days"),
        "{page}"
    );
    assert!(page.contains(r#"<svg class="chart""#));

    // the stream delivers a record again (as it may): counted once still
    let event_id = "evt_0193a1b2c3d47000800000000000abcd";
    let detail = json!({"id": event_id, "type": "link.opened", "tenant_id": t.id,
                        "occurred_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "data": {"link_id": link.id}});
    let record = json!({"Records": [{"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
        "dynamodb": {"SequenceNumber": "1", "Keys": {"pk": {"S": "x"}, "sk": {"S": format!("EVT#{event_id}")}},
                     "NewImage": {"pk": {"S": "x"}, "sk": {"S": format!("EVT#{event_id}")}, "type": {"S": "link.opened"},
                                  "detail": {"S": detail.to_string()}}}}]});
    let binary = root().join("target/debug/event-relay");
    for _ in 0..2 {
        let answer = linkgate_tests::runtime_api::invoke(
            &binary,
            record.clone(),
            &stack.lambda_env("event-relay"),
        )
        .await
        .unwrap();
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    let page = console.get("/console").await.text;
    assert_eq!(
        overview_sums(&page),
        [2, 2, 1, 0, 1, 1],
        "one more open, once: {page}"
    );
}
