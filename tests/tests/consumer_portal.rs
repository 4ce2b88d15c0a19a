//! The consumer portal over HTTP through the real binaries: a platform asks for a portal
//! link, the customer's browser spends it for a session cookie, sees only its own
//! connections, disconnects one (after confirming) and reconnects one through a new link on
//! the same connection. Forms without the session's CSRF token, other browsers, other
//! consumers and other tenants change nothing.

use linkgate_tests::{
    assert_validation, csrf_of, table_mentions, Api, OpenLink, Reply, Stack, TestTenant,
};
use reqwest::Method;
use serde_json::{json, Value};

const STRIPE_KEY: &str = "rk_test_51PortalRestrictedKey0000000000";

struct Portal {
    t: TestTenant,
    consumer: String,
    integration: String,
    active: String,
    pending: String,
    /// A connection of another consumer of the same tenant.
    stranger: String,
}

async fn integration(t: &TestTenant) -> String {
    let r = t
        .admin
        .post("/v1/integrations", &json!({"provider": "stripe"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn connection(t: &TestTenant, consumer: &str, integration: &str, name: &str) -> Value {
    t.connect(
        consumer,
        &json!({"name": name, "integration_id": integration}),
    )
    .await
}

async fn complete(link: &OpenLink, integration: &str) -> Reply {
    let browser = Stack::get().anonymous();
    assert_eq!(link.open(&browser).await.status, 200);
    link.complete(
        &browser,
        &[
            ("integration_id", integration),
            ("f_secret_key", STRIPE_KEY),
        ],
    )
    .await
}

/// A consumer with an active and a pending connection, and another consumer with one.
async fn portal() -> Portal {
    let t = Stack::get().tenant().await;
    let integration = integration(&t).await;
    let consumer = t
        .consumer(&json!({"name": "Acme", "redirect_url": "https://acme.example/done"}))
        .await;
    let active = connection(&t, &consumer, &integration, "Payments").await;
    let r = complete(&OpenLink::of(&active), &integration).await;
    assert!(r.status == 303 || r.status == 200, "{}", r.text);
    let pending = connection(&t, &consumer, &integration, "Refunds").await;
    let other = t.consumer(&json!({"name": "Someone else"})).await;
    let stranger = connection(&t, &other, &integration, "Not yours").await;
    Portal {
        consumer,
        integration,
        active: active["id"].as_str().unwrap().to_owned(),
        pending: pending["id"].as_str().unwrap().to_owned(),
        stranger: stranger["id"].as_str().unwrap().to_owned(),
        t,
    }
}

impl Portal {
    async fn link(&self, body: Value) -> Value {
        let r = self
            .t
            .admin
            .post(
                &format!("/v1/consumers/{}/portal-links", self.consumer),
                &body,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()
    }

    /// A browser that opened a new portal link: the browser, the portal's path and the
    /// session cookie's value.
    async fn signed_in(&self) -> (Api, String, String) {
        let link = self.link(json!({})).await;
        let browser = Stack::get().anonymous();
        let r = browser.get(&relative(&link)).await;
        assert_eq!(r.status, 303, "{}", r.text);
        let portal = r.headers["location"].to_str().unwrap().to_owned();
        assert_eq!(portal, format!("/portal/{}", link["id"].as_str().unwrap()));
        let cookie = r.headers["set-cookie"].to_str().unwrap();
        let value = cookie
            .split(';')
            .next()
            .unwrap()
            .strip_prefix("linkgate_portal=")
            .unwrap_or_else(|| panic!("the portal's cookie: {cookie}"))
            .to_owned();
        (browser, portal, value)
    }

    async fn status(&self, connection: &str) -> String {
        let r = self
            .t
            .admin
            .get(&format!("/v1/connections/{connection}"))
            .await;
        r.json()["status"].as_str().unwrap().to_owned()
    }
}

fn relative(link: &Value) -> String {
    link["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&Stack::get().api_base_url)
        .to_owned()
}

/// A portal form as the page posts it: the session's CSRF token, a connection, an action.
async fn act(browser: &Api, portal: &str, csrf: &str, connection: &str, action: &str) -> Reply {
    browser
        .post_form(
            portal,
            &[
                ("csrf", csrf),
                ("connection_id", connection),
                ("action", action),
            ],
        )
        .await
}

#[tokio::test]
async fn a_portal_link_opens_once_into_a_session_that_shows_only_the_consumers_connections() {
    let p = portal().await;
    let link = p
        .link(json!({"return_url": "https://acme.example/settings", "ttl_seconds": 600}))
        .await;
    assert_eq!(link["object"], "portal_link");
    assert_eq!(link["consumer_id"], p.consumer.as_str());
    assert!(link["id"].as_str().unwrap().starts_with("ptl_"), "{link}");
    let url = link["url"].as_str().unwrap();
    let token = url.split("token=").nth(1).unwrap();
    assert!(
        table_mentions(token).await.is_empty(),
        "only the token's hash is stored"
    );

    let browser = Stack::get().anonymous();
    let r = browser.get(&relative(&link)).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let cookie = r.headers["set-cookie"].to_str().unwrap().to_lowercase();
    for attr in ["httponly", "samesite=lax", "path=/", "max-age=1800"] {
        assert!(cookie.split("; ").any(|a| a == attr), "{attr}: {cookie}");
    }
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_owned();
    let portal = r.headers["location"].to_str().unwrap().to_owned();
    assert!(!portal.contains("token"), "{portal}");

    let page = browser.get(&portal).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.headers["cache-control"], "no-store");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(
        page.text.contains("Your connected software"),
        "{}",
        page.text
    );
    assert!(page.text.contains(&p.active) && page.text.contains(&p.pending));
    assert!(
        !page.text.contains(&p.stranger),
        "another consumer's connection"
    );
    assert!(page.text.contains("Connected") && page.text.contains("Not finished"));
    assert!(page.text.contains("Finish connecting"), "the pending one");
    assert!(
        page.text.contains("https://acme.example/settings"),
        "the way back"
    );
    assert!(
        table_mentions(&session).await.is_empty(),
        "only the session's hash is stored"
    );

    // Spent: another browser cannot open it; the one that did is sent back to its session.
    let again = Stack::get().anonymous().get(&relative(&link)).await;
    assert_eq!(again.status, 404, "{}", again.text);
    assert!(again.text.contains("already used"), "{}", again.text);
    let reload = browser.get(&relative(&link)).await;
    assert_eq!(reload.status, 303);
    assert_eq!(reload.headers["location"].to_str().unwrap(), portal);
    // The portal without the cookie is nobody's.
    let stranger = Stack::get().anonymous().get(&portal).await;
    assert_eq!(stranger.status, 404);
    assert!(!stranger.text.contains(&p.active));
}

#[tokio::test]
async fn disconnect_asks_first_then_revokes_with_its_event() {
    let p = portal().await;
    let (browser, portal, _) = p.signed_in().await;
    let page = browser.get(&portal).await;
    let csrf = csrf_of(&page.text);

    let ask = act(&browser, &portal, &csrf, &p.active, "disconnect").await;
    assert_eq!(ask.status, 200, "{}", ask.text);
    assert!(ask.text.contains("Disconnect Stripe?"), "{}", ask.text);
    assert!(ask.text.contains("confirm_disconnect"));
    assert_eq!(
        p.status(&p.active).await,
        "active",
        "asking changes nothing"
    );

    let done = act(&browser, &portal, &csrf, &p.active, "confirm_disconnect").await;
    assert_eq!(done.status, 303, "{}", done.text);
    let back = done.headers["location"].to_str().unwrap();
    assert_eq!(back, format!("{portal}?notice=disconnected"));
    assert_eq!(p.status(&p.active).await, "revoked");
    let events = linkgate_tests::eventually(
        std::time::Duration::from_secs(10),
        async || Stack::get().events(&p.t.id, "connection.revoked").await,
        |e| !e.is_empty(),
    )
    .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["connection"]["id"], p.active.as_str());

    let shown = browser.get(back).await;
    assert!(
        shown.text.contains("Disconnected. The application"),
        "{}",
        shown.text
    );
    // a revoked connection offers nothing more; asking anyway changes nothing
    let late = act(&browser, &portal, &csrf, &p.active, "reconnect").await;
    assert_eq!(late.status, 303);
    assert!(late.headers["location"]
        .to_str()
        .unwrap()
        .ends_with("notice=unavailable"));
    assert_eq!(p.status(&p.active).await, "revoked");
}

#[tokio::test]
async fn reconnect_is_a_new_link_on_the_same_connection_that_comes_back_to_the_portal() {
    let p = portal().await;
    let (browser, portal, _) = p.signed_in().await;
    let csrf = csrf_of(&browser.get(&portal).await.text);

    let r = act(&browser, &portal, &csrf, &p.active, "reconnect").await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap();
    let link = OpenLink::of(
        &json!({"id": to.split("/connect/").nth(1).unwrap().split('?').next().unwrap(), "url": to}),
    );
    assert_eq!(
        p.status(&p.active).await,
        "active",
        "still connected until the new link is used"
    );
    let made =
        p.t.admin
            .get(&format!("/v1/links/{}", link.id))
            .await
            .json();
    assert_eq!(
        made["connection_id"],
        p.active.as_str(),
        "a link on the same connection"
    );
    assert_eq!(made["status"], "waiting");

    let done = complete(&link, &p.integration).await;
    assert_eq!(done.status, 303, "{}", done.text);
    let home = done.headers["location"].to_str().unwrap();
    assert!(
        home.starts_with(&format!("{}{portal}?", Stack::get().api_base_url)),
        "back to the portal: {home}"
    );
    assert!(
        home.contains(&format!("connectionId={}", p.active)),
        "{home}"
    );
    assert_eq!(p.status(&p.active).await, "active");
    // the portal ignores what the redirect adds
    let shown = browser
        .get(home.trim_start_matches(&Stack::get().api_base_url))
        .await;
    assert_eq!(shown.status, 200, "{}", shown.text);
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_or_cookie_change_nothing() {
    let p = portal().await;
    let (browser, portal, _) = p.signed_in().await;
    let csrf = csrf_of(&browser.get(&portal).await.text);
    for fields in [
        vec![
            ("connection_id", p.active.as_str()),
            ("action", "confirm_disconnect"),
        ],
        vec![
            (
                "csrf",
                "0000000000000000000000000000000000000000000000000000000000000000",
            ),
            ("connection_id", p.active.as_str()),
            ("action", "confirm_disconnect"),
        ],
    ] {
        let r = browser.post_form(&portal, &fields).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    }
    // Another browser with the right token but no session: nobody's portal.
    let r = act(
        &Stack::get().anonymous(),
        &portal,
        &csrf,
        &p.active,
        "confirm_disconnect",
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // A session of this consumer's portal cannot touch another consumer's connection.
    let r = act(&browser, &portal, &csrf, &p.stranger, "confirm_disconnect").await;
    assert_eq!(r.status, 404, "{}", r.text);
    // Nor act on what it does not know, nor take a body that is not a form.
    let r = act(&browser, &portal, &csrf, &p.active, "delete_everything").await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = browser
        .raw(
            Method::POST,
            &portal,
            Some(("application/json", b"{\"action\":\"reconnect\"}".to_vec())),
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    for c in [&p.active, &p.stranger] {
        assert_ne!(p.status(c).await, "revoked");
    }
    // A refusal speaks the portal's language, in the tenant's brand, like the portal.
    let r =
        p.t.admin
            .patch(
                "/v1/settings",
                &json!({"branding": {"display_name": "Plateforme"}}),
            )
            .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let french = p.link(json!({"lang": "fr"})).await;
    let browser = Stack::get().anonymous();
    let opened = browser.get(&relative(&french)).await;
    let portal = opened.headers["location"].to_str().unwrap().to_owned();
    let r = act(&browser, &portal, "", &p.active, "confirm_disconnect").await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("<html lang=\"fr\">"), "{}", r.text);
    assert!(r.text.contains("Ce formulaire"), "{}", r.text);
    assert!(r.text.contains("Plateforme"), "{}", r.text);
}

#[tokio::test]
async fn expired_links_and_sessions_are_refused() {
    let p = portal().await;
    let store = Stack::get().store().await;
    let past = "2020-01-01T00:00:00Z";
    let expire = async |pk: String, sk: &str| {
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .update_expression("SET expires_at = :past")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":past",
                aws_sdk_dynamodb::types::AttributeValue::S(past.into()),
            )
            .send()
            .await
            .expect("the item is there");
    };
    // A link past its time (DynamoDB's TTL removal may lag; the expiry still holds).
    let link = p.link(json!({})).await;
    expire(format!("PTL#{}", link["id"].as_str().unwrap()), "PTL").await;
    let r = Stack::get().anonymous().get(&relative(&link)).await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(r.text.contains("This page has expired"), "{}", r.text);
    assert!(r.headers.get("set-cookie").is_none());

    // A session past its time.
    let (browser, portal, session) = p.signed_in().await;
    assert_eq!(browser.get(&portal).await.status, 200);
    let hash = linkgate::secret::sha256_hex(session.as_bytes());
    expire(format!("PSS#{hash}"), "PSS").await;
    let r = browser.get(&portal).await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(!r.text.contains(&p.active));
    // its forms too, token or not
    let r = browser
        .post_form(
            &portal,
            &[
                ("connection_id", &p.active),
                ("action", "confirm_disconnect"),
            ],
        )
        .await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert_eq!(p.status(&p.active).await, "active");
}

#[tokio::test]
async fn portal_links_are_the_tenants_own_and_validated() {
    let p = portal().await;
    let path = format!("/v1/consumers/{}/portal-links", p.consumer);
    // a member key sees, it does not act
    let r = p.t.member.post(&path, &json!({})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    // another tenant's consumer is as absent as a missing one
    let other = Stack::get().tenant().await;
    let r = other.admin.post(&path, &json!({})).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.error_code(), "not_found");
    let r =
        p.t.admin
            .post(
                "/v1/consumers/csm_00000000000000000000000000000000/portal-links",
                &json!({}),
            )
            .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r =
        p.t.admin
            .post("/v1/consumers/nonsense/portal-links", &json!({}))
            .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // bad bodies name their fields and store nothing
    for (body, fields) in [
        (json!({"ttl_seconds": 5}), vec!["ttl_seconds"]),
        (json!({"ttl_seconds": 7200}), vec!["ttl_seconds"]),
        (
            json!({"return_url": "javascript:alert(1)"}),
            vec!["return_url"],
        ),
        (
            json!({"lang": "xx", "colour": "red"}),
            vec!["lang", "colour"],
        ),
    ] {
        let r = p.t.admin.post(&path, &body).await;
        assert_validation(&r, &fields);
    }
    let r =
        p.t.admin
            .raw(
                Method::POST,
                &path,
                Some(("text/plain", b"hello".to_vec())),
                &[],
            )
            .await;
    assert_eq!(r.status, 415, "{}", r.text);
    // a deleted consumer gets no portal
    let gone = p.t.consumer(&json!({"name": "Leaving"})).await;
    assert_eq!(
        p.t.admin
            .delete(&format!("/v1/consumers/{gone}"))
            .await
            .status,
        204
    );
    let r =
        p.t.admin
            .post(&format!("/v1/consumers/{gone}/portal-links"), &json!({}))
            .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

/// `make dev` prints the demo customer's portal link next to its connect link: it opens
/// (once: on a stack where a run before spent it, the session it opened is there).
#[tokio::test]
async fn the_demo_portal_link_opens_the_demo_customers_portal() {
    let stack = Stack::get();
    let url = stack
        .portal_link
        .clone()
        .expect("dev.json names the demo portal link");
    let id = url
        .split("/portal/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let browser = stack.anonymous();
    let r = browser
        .get(url.trim_start_matches(&stack.api_base_url))
        .await;
    if r.status == 404 {
        let sessions = table_mentions(id).await;
        assert!(
            sessions.iter().any(|item| item.contains("PSS#")),
            "the demo portal link was neither usable nor used: {sessions:?}"
        );
        return;
    }
    assert_eq!(r.status, 303, "{}", r.text);
    let page = browser.get(r.headers["location"].to_str().unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Demo connection"), "{}", page.text);
}
