//! The OAuth 2.0 connect flow against a real provider (oidc-provider-mock on loopback):
//! start (state + PKCE), the provider's sign-in form, the callback, and every way it can
//! go wrong without losing the link or touching the connection.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use linkgate_tests::oauth::{self, local_path, query_param, sign_in};
use linkgate_tests::{table_mentions, Stack, TestTenant};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

struct Fixture {
    t: TestTenant,
    app: oauth::OAuthApp,
    consumer: String,
    connection: Value,
}

impl Fixture {
    fn link_url(&self) -> &str {
        self.connection["link"]["url"].as_str().unwrap()
    }
    fn link_id(&self) -> &str {
        self.connection["link"]["id"].as_str().unwrap()
    }
    fn id(&self) -> &str {
        self.connection["id"].as_str().unwrap()
    }
    async fn connection_status(&self) -> String {
        let r = self
            .t
            .admin
            .get(&format!("/v1/connections/{}", self.id()))
            .await;
        r.json()["status"].as_str().unwrap().to_owned()
    }
    async fn link_status(&self) -> String {
        let r = self
            .t
            .admin
            .get(&format!("/v1/links/{}", self.link_id()))
            .await;
        r.json()["status"].as_str().unwrap().to_owned()
    }
}

/// A consumer with a redirect URL and a pending connection to the local OAuth provider.
async fn fixture(link_options: Value) -> Fixture {
    let t = Stack::get().tenant().await;
    let app = oauth::integration(&t).await;
    let consumer = t
        .consumer(
            &json!({"name": "OAuth customer", "redirect_url": "http://localhost:3000/connected"}),
        )
        .await;
    let mut body = json!({"name": "Provider account", "integration_id": app.integration_id});
    for (k, v) in link_options.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t
        .admin
        .post(&format!("/v1/consumers/{consumer}/connections"), &body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    Fixture {
        t,
        app,
        consumer,
        connection: r.json(),
    }
}

#[tokio::test]
async fn the_whole_dance_activates_the_connection_and_announces_it() {
    let stack = Stack::get();
    let f = fixture(json!({"redirect": true})).await;
    let anon = stack.anonymous();

    let authorize = oauth::start(&anon, f.link_url()).await;
    assert!(authorize.starts_with("http://127.0.0.1:9400/oauth2/authorize?"));
    assert_eq!(
        query_param(&authorize, "client_id").as_deref(),
        Some(f.app.client_id.as_str())
    );
    assert_eq!(
        query_param(&authorize, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        query_param(&authorize, "redirect_uri"),
        Some(format!("{}/oauth/callback", stack.api_base_url))
    );
    assert_eq!(
        query_param(&authorize, "scope").as_deref(),
        Some("openid profile email")
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let state = query_param(&authorize, "state").unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&state).unwrap().len(),
        32,
        "256-bit state"
    );
    assert_eq!(f.link_status().await, "waiting_oauth");
    assert!(
        table_mentions(&state).await.is_empty(),
        "state stored only hashed"
    );

    let callback = sign_in(&authorize, Some("alice")).await;
    let r = anon.get(&local_path(&callback)).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap();
    assert!(to.starts_with("http://localhost:3000/connected?"), "{to}");
    assert_eq!(query_param(to, "status").as_deref(), Some("active"));
    assert_eq!(query_param(to, "connectionId").as_deref(), Some(f.id()));
    assert_eq!(
        query_param(to, "consumerId").as_deref(),
        Some(f.consumer.as_str())
    );

    // PKCE: the verifier sent with the code is the one behind the challenge.
    let calls = stack.token_calls(&f.app.client_id).await;
    let exchange: Vec<&Value> = calls
        .iter()
        .filter(|c| c["grant_type"] == "authorization_code")
        .collect();
    assert_eq!(exchange.len(), 1, "{calls:?}");
    let verifier = exchange[0]["code_verifier"]
        .as_str()
        .expect("a PKCE verifier");
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        query_param(&authorize, "code_challenge").unwrap()
    );
    assert_eq!(
        exchange[0]["redirect_uri"],
        json!(format!("{}/oauth/callback", stack.api_base_url))
    );

    let c =
        f.t.admin
            .get(&format!("/v1/connections/{}", f.id()))
            .await
            .json();
    assert_eq!(c["status"], "active");
    assert_eq!(c["provider"], "oidc-mock");
    assert_eq!(c["has_credentials"], true);
    assert!(c["token_expires_at"].as_str().is_some());
    assert_eq!(f.link_status().await, "granted");

    let events = stack.events(&f.t.id, "connection.created").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["connection"]["id"], f.id());
    assert_eq!(events[0]["data"]["change"], "activated");

    let creds =
        f.t.admin
            .get(&format!("/v1/connections/{}/credentials", f.id()))
            .await;
    assert_eq!(creds.status, 200, "{}", creds.text);
    let creds = creds.json();
    assert_eq!(creds["auth_mode"], "oauth2");
    let access = creds["credentials"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        creds["credentials"].get("refresh_token").is_none(),
        "{creds}"
    );
    assert!(
        table_mentions(&access).await.is_empty(),
        "tokens are sealed"
    );
}

#[tokio::test]
async fn a_replayed_forged_or_missing_state_is_refused() {
    let stack = Stack::get();
    let f = fixture(json!({})).await;
    let anon = stack.anonymous();
    let authorize = oauth::start(&anon, f.link_url()).await;
    let callback = sign_in(&authorize, Some("bob")).await;
    let first = anon.get(&local_path(&callback)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.text.contains("connected"), "{}", first.text);

    let replay = anon.get(&local_path(&callback)).await;
    assert_eq!(replay.status, 400, "{}", replay.text);
    assert!(
        replay.text.contains("cannot be completed"),
        "{}",
        replay.text
    );
    let exchanges = stack
        .token_calls(&f.app.client_id)
        .await
        .into_iter()
        .filter(|c| c["grant_type"] == "authorization_code")
        .count();
    assert_eq!(exchanges, 1, "a replay never reaches the provider");

    let code = query_param(&callback, "code").unwrap();
    for path in [
        format!("/oauth/callback?code={code}&state=forgedforgedforgedforgedforgedforgedforged0"),
        format!("/oauth/callback?code={code}"),
        "/oauth/callback".to_string(),
        format!("/oauth/callback?code={code}&state={}", "x".repeat(500)),
    ] {
        let r = anon.get(&path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert!(r.text.contains("cannot be completed"), "{}", r.text);
    }
    assert_eq!(f.connection_status().await, "active");
}

#[tokio::test]
async fn an_expired_state_is_refused_and_the_link_can_start_again() {
    let stack = Stack::get();
    let f = fixture(json!({})).await;
    let anon = stack.anonymous();
    let authorize = oauth::start(&anon, f.link_url()).await;
    let state = query_param(&authorize, "state").unwrap();

    // Moto never expires TTL items; the state's own expires_at decides.
    let store = stack.store().await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!(
                "OAUTH#{}",
                linkgate::secret::sha256_hex(state.as_bytes())
            )),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("STATE".into()),
        )
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::S("2020-01-01T00:00:00.000Z".into()),
        )
        .send()
        .await
        .unwrap();
    let callback = sign_in(&authorize, Some("carol")).await;
    let r = anon.get(&local_path(&callback)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("cannot be completed"));
    assert_eq!(f.connection_status().await, "pending");

    let again = oauth::complete(&anon, f.link_url(), "carol").await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(f.connection_status().await, "active");
}

#[tokio::test]
async fn access_denied_leaves_the_connection_pending_and_the_link_usable() {
    let stack = Stack::get();
    let anon = stack.anonymous();

    // With `redirect`, the platform learns why through its redirect URL.
    let f = fixture(json!({"redirect": true})).await;
    let authorize = oauth::start(&anon, f.link_url()).await;
    let callback = sign_in(&authorize, None).await;
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("access_denied")
    );
    // oidc-provider-mock drops `state` from its denial, which RFC 6749 §4.1.2.1 requires;
    // a provider that keeps it (all real ones) lets us find the link again.
    let callback = match query_param(&callback, "state") {
        Some(_) => callback,
        None => format!(
            "{callback}&state={}",
            query_param(&authorize, "state").unwrap()
        ),
    };
    let r = anon.get(&local_path(&callback)).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap();
    assert!(to.starts_with("http://localhost:3000/connected?"), "{to}");
    assert_eq!(query_param(to, "status").as_deref(), Some("error"));
    assert_eq!(query_param(to, "error").as_deref(), Some("access_denied"));
    assert_eq!(f.connection_status().await, "pending");
    assert_eq!(f.link_status().await, "waiting");
    assert!(stack.events(&f.t.id, "connection.created").await.is_empty());
    let retry = oauth::complete(&anon, f.link_url(), "dave").await;
    assert_eq!(retry.status, 303, "{}", retry.text);
    assert_eq!(f.connection_status().await, "active");

    // Without it, the customer gets a page that says what happened.
    let f = fixture(json!({})).await;
    let authorize = oauth::start(&anon, f.link_url()).await;
    let state = query_param(&authorize, "state").unwrap();
    let r = anon
        .get(&format!(
            "/oauth/callback?error=access_denied&state={state}"
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Access was not granted"), "{}", r.text);
    assert_eq!(f.link_status().await, "waiting");

    // A denial without state (what the mock sends) still explains itself.
    let authorize = oauth::start(&anon, f.link_url()).await;
    let callback = sign_in(&authorize, None).await;
    let r = anon.get(&local_path(&callback)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Access was not granted"), "{}", r.text);
    assert_eq!(f.connection_status().await, "pending");
    let retry = oauth::complete(&anon, f.link_url(), "gina").await;
    assert_eq!(retry.status, 200, "{}", retry.text);
}

#[tokio::test]
async fn a_token_endpoint_that_is_down_slow_or_refusing_changes_nothing() {
    let stack = Stack::get();
    let anon = stack.anonymous();
    let f = fixture(json!({})).await;
    let faults = [
        (json!({"mode": "down", "times": 1}), 502, "could not reach"),
        // longer than the functions' token timeout (2 s locally)
        (
            json!({"mode": "slow", "seconds": 4, "times": 1}),
            502,
            "could not reach",
        ),
        (
            json!({"mode": "status", "status": 503, "times": 1}),
            502,
            "could not reach",
        ),
        (
            json!({"mode": "status", "status": 400, "body": {"error": "invalid_grant"}, "times": 1}),
            400,
            "invalid_grant",
        ),
    ];
    for (fault, status, says) in faults {
        stack.token_fault(&f.app.client_id, fault.clone()).await;
        let r = oauth::complete(&anon, f.link_url(), "erin").await;
        assert_eq!(r.status, status, "{fault}: {}", r.text);
        assert!(r.text.contains(says), "{fault}: {}", r.text);
        assert_eq!(f.connection_status().await, "pending", "{fault}");
        assert_eq!(f.link_status().await, "waiting", "{fault}");
    }
    let ok = oauth::complete(&anon, f.link_url(), "erin").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(f.connection_status().await, "active");
    assert_eq!(stack.events(&f.t.id, "connection.created").await.len(), 1);
}

#[tokio::test]
async fn an_oauth_integration_picked_in_the_marketplace() {
    let stack = Stack::get();
    let anon = stack.anonymous();
    let t = stack.tenant().await;
    let app = oauth::integration(&t).await;
    let conn = t
        .connection(&json!({"name": "Picker"}), &json!({"name": "Any"}))
        .await;
    let market = anon
        .get(&local_path(conn["link"]["url"].as_str().unwrap()))
        .await;
    let card = market
        .text
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains(&app.integration_id))
        .unwrap_or_else(|| panic!("no card for the OAuth integration: {}", market.text))
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let page = anon.get(&card).await;
    assert!(
        page.text.contains("Continue with Local OIDC provider"),
        "{}",
        page.text
    );
    let authorize = oauth::start(&anon, &format!("{}{card}", stack.api_base_url)).await;
    let callback = sign_in(&authorize, Some("frank")).await;
    let r = anon.get(&local_path(&callback)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = t
        .admin
        .get(&format!("/v1/connections/{}", conn["id"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(c["status"], "active");
    assert_eq!(c["integration_id"], json!(app.integration_id));
    assert_eq!(c["provider"], "oidc-mock");
}

#[tokio::test]
async fn the_start_refuses_what_it_cannot_begin() {
    let stack = Stack::get();
    let anon = stack.anonymous();
    let f = fixture(json!({})).await;
    let link = f.link_id();

    let wrong_token = anon.get(&format!("/connect/{link}/oauth?token=nope")).await;
    assert_eq!(wrong_token.status, 404, "{}", wrong_token.text);
    let no_token = anon.get(&format!("/connect/{link}/oauth")).await;
    assert_eq!(no_token.status, 404);
    let bad_id = anon.get("/connect/lnk_nope/oauth?token=x").await;
    assert_eq!(bad_id.status, 404);

    // An API-key integration connects with its form, not here.
    let stripe =
        f.t.admin
            .post("/v1/integrations", &json!({"provider": "stripe"}))
            .await
            .json();
    let conn =
        f.t.connect(
            &f.consumer,
            &json!({"name": "Keys", "integration_id": stripe["id"]}),
        )
        .await;
    let url = conn["link"]["url"].as_str().unwrap();
    let token = query_param(url, "token").unwrap();
    let r = anon
        .get(&format!(
            "/connect/{}/oauth?token={token}",
            conn["link"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Use the form"));

    // A revoked link shows its page, and no state is issued.
    let r = f.t.admin.delete(&format!("/v1/links/{link}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = query_param(f.link_url(), "token").unwrap();
    let r = anon
        .get(&format!("/connect/{link}/oauth?token={token}"))
        .await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(stack.token_calls(&f.app.client_id).await.is_empty());
}

/// Shopify needs the shop before its sign-in page exists: the page asks for it, and the
/// provider URL is completed from it (the shop's own domain, the scopes joined by commas).
#[tokio::test]
async fn connection_fields_complete_the_provider_url_before_leaving() {
    let stack = Stack::get();
    let anon = stack.anonymous();
    let t = stack.tenant().await;
    let shopify = t
        .admin
        .post(
            "/v1/integrations",
            &json!({"provider": "shopify", "client_id": "shopify-app", "client_secret": "shpss_x"}),
        )
        .await;
    assert_eq!(shopify.status, 201, "{}", shopify.text);
    let conn = t
        .connection(
            &json!({"name": "Shop owner"}),
            &json!({"name": "Store", "integration_id": shopify.json()["id"]}),
        )
        .await;
    let link = conn["link"]["id"].as_str().unwrap();
    let token = query_param(conn["link"]["url"].as_str().unwrap(), "token").unwrap();

    let page = anon
        .get(&local_path(conn["link"]["url"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text
            .contains(&format!("action=\"/connect/{link}/oauth\""))
            && page.text.contains("name=\"f_shop\""),
        "a GET form asks for the shop: {}",
        page.text
    );

    let missing = anon
        .get(&format!("/connect/{link}/oauth?token={token}"))
        .await;
    assert_eq!(missing.status, 200, "{}", missing.text);
    assert!(missing.text.contains("name=\"f_shop\""));
    let invalid = anon
        .get(&format!(
            "/connect/{link}/oauth?token={token}&f_shop=Not%20A%20Shop"
        ))
        .await;
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert!(
        invalid.text.contains("aria-invalid=\"true\""),
        "{}",
        invalid.text
    );

    let r = anon
        .get(&format!(
            "/connect/{link}/oauth?token={token}&f_shop=my-store"
        ))
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap();
    assert!(
        to.starts_with("https://my-store.myshopify.com/admin/oauth/authorize?"),
        "{to}"
    );
    assert_eq!(
        query_param(to, "scope").as_deref(),
        Some("read_orders,read_products,read_customers")
    );
    assert_eq!(query_param(to, "client_id").as_deref(), Some("shopify-app"));
    assert_eq!(
        t.admin.get(&format!("/v1/links/{link}")).await.json()["status"],
        "waiting_oauth"
    );
}

#[tokio::test]
async fn a_callback_for_a_link_that_closed_meanwhile_changes_nothing() {
    let anon = Stack::get().anonymous();
    let callback = |authorize: &str| {
        format!(
            "/oauth/callback?code=any-code&state={}",
            query_param(authorize, "state").unwrap()
        )
    };

    // revoked while the customer was at the provider: 410
    let f = fixture(json!({})).await;
    let authorize = oauth::start(&anon, f.link_url()).await;
    let r =
        f.t.admin
            .delete(&format!("/v1/links/{}", f.link_id()))
            .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = anon.get(&callback(&authorize)).await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert_eq!(f.connection_status().await, "pending");

    // the integration switched off meanwhile: 409
    let f = fixture(json!({})).await;
    let authorize = oauth::start(&anon, f.link_url()).await;
    let r =
        f.t.admin
            .patch(
                &format!("/v1/integrations/{}", f.app.integration_id),
                &json!({"status": "inactive"}),
            )
            .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = anon.get(&callback(&authorize)).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(f.connection_status().await, "pending");

    // the link expired and DynamoDB's TTL removed it meanwhile (moto never runs TTL, so
    // the item is deleted here as TTL would): 404
    let f = fixture(json!({})).await;
    let authorize = oauth::start(&anon, f.link_url()).await;
    let store = Stack::get().store().await;
    store
        .client()
        .delete_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("LINK#{}", f.link_id())))
        .key("sk", AttributeValue::S("LINK".into()))
        .send()
        .await
        .unwrap();
    let r = anon.get(&callback(&authorize)).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(f.connection_status().await, "pending");
}

/// A provider's numbers cannot crash a function: an `expires_in` of 10^14 seconds would
/// overflow the clock (chrono panics, and release builds abort the process); it is capped.
#[tokio::test]
async fn an_absurd_expires_in_is_capped_not_a_crash() {
    let stack = Stack::get();
    let anon = stack.anonymous();
    let f = fixture(json!({})).await;
    stack
        .token_fault(
            &f.app.client_id,
            json!({"mode": "status", "status": 200, "times": 1, "body": {
                "access_token": "at-from-a-careless-provider", "token_type": "Bearer",
                "expires_in": 100_000_000_000_000_u64, "refresh_token": "rt-careless"}}),
        )
        .await;
    let r = oauth::complete(&anon, f.link_url(), "ivan").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(f.connection_status().await, "active");
    let creds =
        f.t.admin
            .get(&format!("/v1/connections/{}/credentials", f.id()))
            .await;
    assert_eq!(creds.status, 200, "{}", creds.text);
    let expires = creds.json()["credentials"]["expires_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let expires = linkgate::time::parse(&expires).expect("an expiry is kept");
    assert!(
        expires > linkgate::time::now() + chrono::Duration::days(365),
        "capped far in the future, not dropped: {expires}"
    );
}

/// The consent belongs to the browser that started it: a callback in another browser (the
/// provider's URL forwarded to someone else) is refused without spending the state, and the
/// starter can still finish.
#[tokio::test]
async fn a_consent_finished_in_another_browser_is_refused() {
    let stack = Stack::get();
    let f = fixture(json!({"redirect": true})).await;
    let starter = stack.anonymous();
    let started = oauth::start_reply(&starter, f.link_url()).await;
    let cookie = started.headers["set-cookie"].to_str().unwrap().to_owned();
    let attributes: Vec<String> = cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(cookie.starts_with("linkgate_oauth="), "{cookie}");
    for wanted in ["httponly", "samesite=lax", "path=/", "max-age=600"] {
        assert!(attributes.iter().any(|a| a == wanted), "{wanted}: {cookie}");
    }
    let authorize = started.headers["location"].to_str().unwrap().to_owned();
    let binding = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert!(table_mentions(binding).await.is_empty(), "kept only hashed");

    // Someone else signs in at the provider and lands on our callback in their browser.
    let forwarded = sign_in(&authorize, Some("someone-else")).await;
    let elsewhere = stack.anonymous().get(&local_path(&forwarded)).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.text);
    assert!(
        elsewhere.text.contains("another browser"),
        "{}",
        elsewhere.text
    );
    // A made-up binding is no better than none.
    let forged = stack
        .anonymous()
        .raw(
            reqwest::Method::GET,
            &local_path(&forwarded),
            None,
            &[(
                "cookie",
                "linkgate_oauth=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )],
        )
        .await;
    assert_eq!(forged.status, 400, "{}", forged.text);
    assert!(forged.text.contains("another browser"), "{}", forged.text);
    assert_eq!(f.connection_status().await, "pending");
    let exchanged = |calls: Vec<Value>| {
        calls
            .iter()
            .filter(|c| c["grant_type"] == "authorization_code")
            .count()
    };
    assert_eq!(
        exchanged(stack.token_calls(&f.app.client_id).await),
        0,
        "the other browser's code was never exchanged"
    );

    // The starter signs in and finishes: the state was not spent.
    let own = sign_in(&authorize, Some("rightful-owner")).await;
    let r = starter.get(&local_path(&own)).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(f.connection_status().await, "active");
    assert_eq!(exchanged(stack.token_calls(&f.app.client_id).await), 1);
}
