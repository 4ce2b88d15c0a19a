//! Every sample under events/ is fed to the real function binary through the Lambda runtime
//! API, against the local stack's DynamoDB and KMS, and the answer is checked.

use linkgate_tests::{root, runtime_api, template_routes, Stack};
use serde_json::{json, Value};

/// What a sample's path id must name.
enum Needs {
    Nothing,
    Consumer,
    Integration,
    Connection,
    Link,
    /// An open link to a Stripe integration, with its token.
    OpenLink,
    /// A connection activated through its link.
    ActiveConnection,
    /// A consumer and a Stripe integration, named in the body.
    ConsumerAndIntegration,
    /// An open link to an OAuth integration (the local OIDC provider), with its token.
    OAuthLink,
    /// A Stripe integration and a stored credential, named in the body.
    StoredCredential,
    /// A webhook endpoint, named in the path or the body.
    Webhook,
    /// A webhook endpoint with one (test) delivery.
    Delivery,
    /// A webhook endpoint with a recovery started (the sample's `since` made recent).
    Recovery,
    /// A consumer's pending connection to a Stripe integration (Chift lists only those).
    ChiftConnection,
    /// A Stripe integration, named in the body as OpenInt's connector config (`ccfg_…`).
    ConnectorConfig,
    /// An Albato sharing for Stripe, named by its number (and token, where the sample has one).
    AlbatoSharing,
    /// The samples' custom provider (`x-acme-erp`), defined by the tenant.
    CustomProvider,
    /// A consumer's portal link, with its token.
    PortalLink,
    /// A browser signed in to a consumer's portal (its cookie and CSRF token) and a pending
    /// connection of that consumer.
    PortalSession,
    /// An imported connection's `connection.created` event, named in the path.
    Event,
    /// A browser signed in to the console with an admin key (its cookie and CSRF token) and
    /// a webhook endpoint.
    ConsoleSession,
}

const SAMPLE_SHARING: &str = "1234567890123";

const SAMPLE_CONNECTOR_CONFIG: &str = "ccfg_0193a1b2c3d47000800000000000000b";

/// The ids Chift's samples name, in the UUID form Chift uses.
const SAMPLE_CONSUMER_UUID: &str = "0193a1b2-c3d4-7000-8000-00000000000a";
const SAMPLE_CONNECTION_UUID: &str = "0193a1b2-c3d4-7000-8000-00000000000c";
const SAMPLE_ACCOUNT_UUID: &str = "0193a1b2-c3d4-7000-8000-000000000001";
const SAMPLE_KEY_ID: &str = "key_0193a1b2c3d47000800000000000000b";
const SAMPLE_API_KEY: &str = "lgk_SAMPLEsampleSAMPLEsampleSAMPLEsampleSAMPLE0";
const SAMPLE_CHIFT_TOKEN: &str = "lgt_SAMPLEsampleSAMPLEsampleSAMPLEsampleSAMPLE0";
const SAMPLE_INTEGRATION_NUMBER: &str = "518877";

/// What a dialect's sample (`events/<function>.<dialect>.json`) must get, where it differs
/// from its function's native sample.
fn dialect_expectation(sample: &str) -> Option<Expectation> {
    Some(match sample {
        "chift-token" => (Needs::Nothing, 200, |b| {
            assert!(b["access_token"].as_str().unwrap().starts_with("lgt_"));
            assert_eq!(b["token_type"], "bearer");
        }),
        "integrations-list.causeflow" => (Needs::Integration, 200, |b| {
            assert_eq!(b["data"][0]["provider"], "stripe");
            assert!(b["data"][0]["integrationId"]
                .as_str()
                .unwrap()
                .starts_with("int_"));
        }),
        // no session: on to the sign-in form
        "console-page.home" => (Needs::Nothing, 303, |_| {}),
        "console-page.item" => (Needs::ConsoleSession, 200, |_| {}),
        // a recovery started: back to the endpoint, saying so
        "console-action.item" => (Needs::ConsoleSession, 303, |_| {}),
        "integrations-list.chift" => (Needs::Integration, 200, |b| {
            assert_eq!(b[0]["name"], "Stripe");
            assert_eq!(b[0]["status"], "active");
        }),
        "integrations-logo.chift" | "integrations-logo.chift-icon" => (Needs::Nothing, 200, |b| {
            assert_eq!(
                b["integrationid"],
                linkgate::compat::chift::integration_number("stripe")
            );
            assert!(!b["data"].as_str().unwrap().is_empty());
        }),
        "credentials-create.causeflow" => (Needs::Nothing, 201, |b| {
            assert!(b["credentialId"].as_str().unwrap().starts_with("crd_"));
            assert!(!b.to_string().contains("0123456789abcdef0123456789abcdef"));
        }),
        "integrations-connect.causeflow" => (Needs::StoredCredential, 200, |b| {
            assert_eq!(b["status"], "connected");
            assert!(b["integrationId"].as_str().unwrap().starts_with("int_"));
            assert!(b["connectedAt"].as_str().is_some());
        }),
        "consumers-create.chift" => (Needs::Nothing, 200, |b| {
            assert_eq!(b["name"], "Acme Bakery");
            assert_eq!(b["consumerid"].as_str().unwrap().len(), 36);
        }),
        "consumers-list.chift" => (Needs::Nothing, 200, |b| assert_eq!(b, &json!([]))),
        "consumers-get.chift" => (Needs::Consumer, 200, |b| {
            assert_eq!(b["name"], "Sample consumer")
        }),
        "consumers-update.chift" => (Needs::Consumer, 200, |b| {
            assert_eq!(b["name"], "Acme Bakery Ltd")
        }),
        "consumers-delete.chift" => (Needs::Consumer, 204, |_| {}),
        "connections-list.chift" => (Needs::ChiftConnection, 200, |b| {
            assert_eq!(b[0]["integration"], "Stripe");
            assert_eq!(b[0]["status"], "inactive");
        }),
        "connections-create.chift" => (Needs::ConsumerAndIntegration, 200, |b| {
            assert!(b["url"].as_str().unwrap().contains("/connect/lnk_"))
        }),
        "connections-get.chift" => (Needs::ChiftConnection, 200, |b| {
            assert_eq!(b["integration"], "Stripe")
        }),
        "connection-links-create.chift" => (Needs::ChiftConnection, 200, |b| {
            assert!(b["url"].as_str().unwrap().contains("/connect/lnk_"))
        }),
        "connections-revoke.chift" => (Needs::ChiftConnection, 204, |_| {}),
        "connections-import.openint" | "connections-import.openint-seed" => {
            (Needs::ConnectorConfig, 200, |b| {
                assert_eq!(b["connector_name"], "stripe");
                assert_eq!(b["customer_id"], "cust-42");
                assert_eq!(b["status"], "healthy");
                assert_eq!(b["settings"], json!({}), "no secrets unless asked");
            })
        }
        "connections-create.albato" => (Needs::Integration, 200, |b| {
            assert_eq!(b["success"], true);
            assert_eq!(b["data"]["status"], 0);
            assert!(b["data"]["token"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(b["data"]["url"]
                .as_str()
                .unwrap()
                .contains("/compat/albato/connect?id="));
        }),
        "links-list.albato" => (Needs::AlbatoSharing, 200, |b| {
            assert_eq!(b["data"][0]["status"], 0);
            assert_eq!(b["meta"]["totalItemsCount"], 1);
        }),
        "links-get.albato" => (Needs::AlbatoSharing, 200, |b| {
            assert_eq!(b["data"]["status"], 0);
            assert_eq!(b["data"]["token"], Value::Null, "kept hashed");
        }),
        "connection-links-create.albato" => (Needs::AlbatoSharing, 200, |b| {
            assert_eq!(b["data"]["status"], 0);
            assert!(b["data"]["token"].as_str().is_some());
        }),
        "links-revoke.albato" => (Needs::AlbatoSharing, 200, |b| {
            assert_eq!(b["data"]["status"], 3)
        }),
        "connect-page.albato" => (Needs::AlbatoSharing, 302, |_| {}),
        "connections-list.openint" => (Needs::Nothing, 200, |b| {
            assert_eq!(
                b,
                &json!({"items": [], "total": 0, "offset": 0, "limit": 10})
            )
        }),
        "connections-credentials.openint" => (Needs::ActiveConnection, 200, |b| {
            assert_eq!(
                b["settings"]["secret_key"],
                "rk_test_51SampleRestrictedKey0000"
            )
        }),
        // Stripe gets no verdict on the local stack (provider calls stay on the machine).
        "connections-check.openint" => (Needs::ActiveConnection, 200, |b| {
            assert_eq!(b["status"], "error")
        }),
        "connections-check" => (Needs::ActiveConnection, 200, |b| {
            assert_eq!(b["result"], "unreachable");
            assert_eq!(b["method"], "verify_request");
        }),
        "connections-revoke.openint" => (Needs::Connection, 200, |b| {
            assert!(b["id"].as_str().unwrap().starts_with("conn_"))
        }),
        "connections-create.openint" => (Needs::Nothing, 200, |b| {
            assert!(b["magic_link_url"]
                .as_str()
                .unwrap()
                .contains("/connect/lnk_"));
            assert!(!b["token"].as_str().unwrap().is_empty());
        }),
        _ => return None,
    })
}

/// Our id `csm_0193…` in the UUID form Chift names it by.
fn consumer_uuid(id: &str) -> String {
    linkgate::id::ConsumerId::parse(id).unwrap().to_uuid()
}
const SAMPLE_WEBHOOK: &str = "wh_0193a1b2c3d47000800000000000000f";
const SAMPLE_DELIVERY: &str = "dlv_0193a1b2c3d470008000000000000010";
const SAMPLE_TENANT: &str = "ten_0193a1b2c3d470008000000000000012";
const SAMPLE_RECOVERY: &str = "rcv_0193a1b2c3d470008000000000000011";
/// The recover sample's `since`: a fixed time leaves the 30 days a recovery reaches back.
const SAMPLE_SINCE: &str = "2026-11-20T08:00:00Z";

const SAMPLE_TOKEN: &str = "sampleTokenSampleTokenSampleTokenSampleTok0";
const SAMPLE_PORTAL: &str = "ptl_0193a1b2c3d47000800000000000000f";
const SAMPLE_SESSION: &str = "sampleSessionSampleSessionSampleSessionSam0";
const SAMPLE_CSRF: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const SAMPLE_CONNECTION: &str = "conn_0193a1b2c3d47000800000000000000c";
const SAMPLE_INTEGRATION: &str = "int_0193a1b2c3d47000800000000000000b";

/// What a sample needs, the status it must get, and a check of the body.
type Expectation = (Needs, u16, fn(&Value));

/// What each function must answer to its sample, and a check of the body.
fn expectation(function: &str) -> Expectation {
    match function {
        "health" => (Needs::Nothing, 200, |b| assert_eq!(b["status"], "ok")),
        "consumers-create" => (Needs::Nothing, 201, |b| {
            assert_eq!(b["name"], "Acme Ltd");
            assert!(b["id"].as_str().unwrap().starts_with("csm_"));
        }),
        "consumers-list" => (Needs::Consumer, 200, |b| {
            assert!(b["data"].as_array().is_some_and(|d| !d.is_empty()))
        }),
        "consumers-get" => (Needs::Consumer, 200, |b| {
            assert_eq!(b["name"], "Sample consumer")
        }),
        "consumers-update" => (Needs::Consumer, 200, |b| {
            assert_eq!(b["name"], "Acme Limited");
            assert_eq!(b["metadata"], json!({"plan": "enterprise", "region": "eu"}));
        }),
        "consumers-delete" => (Needs::Consumer, 204, |_| {}),
        "providers-list" => (Needs::Nothing, 200, |b| {
            let data = b["data"].as_array().unwrap();
            assert!(data.len() >= 5 && data.iter().all(|p| p["category"] == "accounting"));
        }),
        "providers-custom-create" => (Needs::Nothing, 201, |b| {
            assert_eq!(b["id"], "x-acme-erp");
            assert_eq!(b["verify"]["headers"]["Authorization"], "Bearer {api_key}");
        }),
        "providers-custom-list" => (Needs::CustomProvider, 200, |b| {
            assert_eq!(b["data"][0]["id"], "x-acme-erp")
        }),
        "providers-custom-get" => (Needs::CustomProvider, 200, |b| {
            assert_eq!(b["name"], "Acme ERP")
        }),
        "providers-custom-update" => (Needs::CustomProvider, 200, |b| {
            assert_eq!(b["name"], "Acme ERP (cloud)");
            assert_eq!(b["color"], "#0B5FFF");
            assert_eq!(
                b["api_base_url"],
                "https://{region}.api.acme-erp.example/v2"
            );
        }),
        "providers-custom-delete" => (Needs::CustomProvider, 204, |_| {}),
        "integrations-create" => (Needs::Nothing, 201, |b| {
            assert_eq!(b["provider"], "github");
            assert_eq!(b["client_secret_set"], true);
            assert!(!b.to_string().contains("sample-client-secret"));
        }),
        "integrations-list" => (Needs::Integration, 200, |b| {
            assert_eq!(b["data"][0]["provider"], "stripe")
        }),
        "integrations-get" => (Needs::Integration, 200, |b| {
            assert_eq!(b["provider"], "stripe")
        }),
        "integrations-update" => (Needs::Integration, 200, |b| {
            assert_eq!(b["status"], "inactive");
            assert_eq!(b["display_name"], "Stripe (EU account)");
        }),
        "integrations-logo" => (Needs::Integration, 200, |b| {
            assert_eq!(b["content_type"], "image/svg+xml")
        }),
        "connections-create" => (Needs::Consumer, 201, |b| {
            assert_eq!(b["status"], "pending");
            assert!(b["link"]["url"].as_str().unwrap().contains("/connect/lnk_"));
        }),
        "connections-list" => (Needs::Consumer, 200, |b| {
            assert!(b["data"].as_array().is_some())
        }),
        "connections-get" => (Needs::Connection, 200, |b| {
            assert_eq!(b["status"], "pending")
        }),
        "connections-update" => (Needs::Connection, 200, |b| {
            assert_eq!(b["name"], "Accounting (EU)");
            assert_eq!(b["metadata"]["region"], "eu");
        }),
        "connections-revoke" => (Needs::Connection, 200, |b| {
            assert_eq!(b["status"], "revoked")
        }),
        "connection-links-create" => (Needs::Connection, 201, |b| {
            assert_eq!(b["status"], "waiting")
        }),
        "links-list" => (Needs::Link, 200, |b| {
            assert_eq!(b["data"][0]["status"], "waiting")
        }),
        "links-get" => (Needs::Link, 200, |b| assert_eq!(b["status"], "waiting")),
        "events-list" => (Needs::Event, 200, |b| {
            assert_eq!(b["data"][0]["type"], "connection.created")
        }),
        "events-get" => (Needs::Event, 200, |b| {
            assert_eq!(b["type"], "connection.created");
            assert!(b["data"]["connection"]["id"].is_string());
        }),
        "links-revoke" => (Needs::Link, 200, |b| assert_eq!(b["status"], "revoked")),
        "links-send" => (Needs::Link, 200, |b| {
            assert_eq!(b["reminders_sent"][0]["trigger"], "request")
        }),
        "connections-import" => (Needs::ConsumerAndIntegration, 201, |b| {
            assert_eq!(b["status"], "active");
            assert_eq!(b["provider"], "stripe");
            assert_eq!(b["has_credentials"], true);
        }),
        "connections-credentials" => (Needs::ActiveConnection, 200, |b| {
            assert_eq!(
                b["credentials"]["secret_key"],
                "rk_test_51SampleRestrictedKey0000"
            );
        }),
        "connect-page" => (Needs::OpenLink, 200, |_| {}),
        "connect-oauth" => (Needs::OAuthLink, 302, |_| {}),
        // a state nobody issued
        "oauth-callback" => (Needs::Nothing, 400, |_| {}),
        "credentials-create" => (Needs::Nothing, 201, |b| {
            assert!(b["id"].as_str().unwrap().starts_with("crd_"));
            assert!(!b.to_string().contains("rk_test"));
        }),
        "integrations-connect" => (Needs::StoredCredential, 200, |b| {
            assert_eq!(b["status"], "connected");
            assert_eq!(b["provider"], "stripe");
            assert!(b["connection_id"].as_str().unwrap().starts_with("conn_"));
        }),
        "webhooks-create" => (Needs::Nothing, 201, |b| {
            assert!(b["id"].as_str().unwrap().starts_with("wh_"));
            assert!(b["secret"].as_str().unwrap().starts_with("whsec_"));
        }),
        "webhooks-list" => (Needs::Webhook, 200, |b| {
            assert_eq!(b["data"].as_array().unwrap().len(), 1)
        }),
        "webhooks-get" => (Needs::Webhook, 200, |b| {
            assert_eq!(b["enabled"], true);
            assert!(b.get("secret").is_none());
        }),
        "webhooks-update" => (Needs::Webhook, 200, |b| {
            assert_eq!(b["events"], json!(["*"]));
            assert_eq!(b["description"], "Every event");
        }),
        "webhooks-delete" => (Needs::Webhook, 204, |_| {}),
        "webhooks-rotate-secret" => (Needs::Webhook, 200, |b| {
            assert!(b["secret"].as_str().unwrap().starts_with("whsec_"))
        }),
        "webhooks-test" => (Needs::Webhook, 202, |b| {
            assert!(b["delivery_id"].as_str().unwrap().starts_with("dlv_"));
            assert_eq!(b["event_type"], "webhook.test");
        }),
        "webhooks-deliveries" => (Needs::Delivery, 200, |b| {
            assert_eq!(b["data"][0]["event_type"], "webhook.test")
        }),
        "webhooks-retry" => (Needs::Delivery, 202, |b| {
            assert!(b["id"].as_str().unwrap().starts_with("dlv_"))
        }),
        "webhooks-recover" => (Needs::Recovery, 202, |b| {
            assert!(b["id"].as_str().unwrap().starts_with("rcv_"));
            assert_eq!(b["status"], "running");
        }),
        "webhooks-recovery" => (Needs::Recovery, 200, |b| {
            assert!(b["id"].as_str().unwrap().starts_with("rcv_"))
        }),
        "webhook-recover" => (Needs::Recovery, 0, |b| {
            assert_eq!(b["batchItemFailures"], json!([]))
        }),
        "webhook-fanout" => (Needs::Webhook, 0, |b| assert_eq!(b["deliveries"], 1)),
        "webhook-deliver" => (Needs::Delivery, 0, |b| {
            assert_eq!(b["batchItemFailures"], json!([]))
        }),
        "reminder-sender" => (Needs::Nothing, 0, |b| {
            assert!(b.is_object() && b.get("failed").is_none(), "{b}")
        }),
        "token-refresher" => (Needs::Nothing, 0, |b| {
            assert!(b.is_object() && b.get("failed").is_none(), "{b}")
        }),
        "connect-submit" => (Needs::OpenLink, 200, |_| {}),
        "portal-links-create" => (Needs::Consumer, 201, |b| {
            assert!(b["id"].as_str().unwrap().starts_with("ptl_"));
            assert!(b["url"].as_str().unwrap().contains("/portal/ptl_"));
        }),
        // the link is spent for a session: on to the portal, with its cookie
        "portal-page" => (Needs::PortalLink, 303, |_| {}),
        // a disconnect asks first
        "portal-action" => (Needs::PortalSession, 200, |_| {}),
        "event-relay" => (Needs::Nothing, 0, |b| {
            assert_eq!(b["batchItemFailures"], json!([]))
        }),
        // no session: the sign-in form
        "console-page" => (Needs::Nothing, 200, |_| {}),
        // signed out: back to the sign-in form
        "console-action" => (Needs::ConsoleSession, 303, |_| {}),
        "settings-get" => (Needs::Nothing, 200, |b| {
            assert_eq!(b["default_link_ttl_seconds"], 1800)
        }),
        "settings-update" => (Needs::Nothing, 200, |b| {
            assert_eq!(b["default_link_ttl_seconds"], 86400)
        }),
        "route-fallback" => (Needs::Nothing, 405, |b| {
            assert_eq!(b["error"]["code"], "method_not_allowed")
        }),
        other => panic!("no expectation for {other}: add one here when adding a function"),
    }
}

#[tokio::test]
async fn every_sample_event_runs_through_its_real_binary() {
    let stack = Stack::get();
    let routes = template_routes();
    let mut ran = 0;
    let mut entries: Vec<_> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let function = match event["routeKey"].as_str() {
            Some(route_key) => routes
                .iter()
                .find(|r| r.key() == route_key)
                .map(|r| r.function.clone())
                .unwrap(),
            // event-source samples are named for their function
            None => path
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .split('.')
                .next()
                .unwrap()
                .to_owned(),
        };
        let sample = path.file_stem().unwrap().to_string_lossy().into_owned();
        let (needs, status, check) =
            dialect_expectation(&sample).unwrap_or_else(|| expectation(&function));

        // The samples carry a placeholder key and id: give them real ones on a fresh tenant.
        let tenant = stack.tenant().await;
        let chift = event["headers"]["authorization"].as_str()
            == Some(&format!("Bearer {SAMPLE_CHIFT_TOKEN}"));
        if chift {
            let r = stack
                .anonymous()
                .post(
                    "/compat/chift/token",
                    &json!({"clientId": tenant.admin_key_id, "clientSecret": tenant.admin.raw_key(), "accountId": tenant.id}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            event["headers"]["authorization"] = json!(format!(
                "Bearer {}",
                r.json()["access_token"].as_str().unwrap()
            ));
        } else if event["headers"].get("authorization").is_some() {
            event["headers"]["authorization"] = json!(format!("Bearer {}", tenant.admin.raw_key()));
        }
        let text = event
            .to_string()
            .replace(SAMPLE_KEY_ID, tenant.admin_key_id.as_str())
            .replace(SAMPLE_API_KEY, tenant.admin.raw_key())
            .replace(SAMPLE_ACCOUNT_UUID, &tenant.id.to_uuid())
            .replace(
                SAMPLE_INTEGRATION_NUMBER,
                &linkgate::compat::chift::integration_number("stripe").to_string(),
            );
        event = serde_json::from_str(&text).unwrap();
        if let Needs::OpenLink | Needs::OAuthLink = needs {
            let integration_body = if let Needs::OAuthLink = needs {
                json!({"provider": "oidc-mock", "client_id": "sample-client", "client_secret": "sample-secret"})
            } else {
                json!({"provider": "stripe"})
            };
            let integration = tenant
                .admin
                .create_id("/v1/integrations", &integration_body)
                .await;
            let consumer = tenant.consumer(&json!({"name": "Sample consumer"})).await;
            let r = tenant
                .admin
                .post(
                    &format!("/v1/consumers/{consumer}/connections"),
                    &json!({"name": "Sample", "integration_id": integration}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            let link = r.json()["link"].clone();
            let token = link["url"]
                .as_str()
                .unwrap()
                .split("token=")
                .nth(1)
                .unwrap()
                .to_owned();
            let old_id = event["pathParameters"]["link_id"]
                .as_str()
                .unwrap()
                .to_owned();
            let text = event
                .to_string()
                .replace(&old_id, link["id"].as_str().unwrap())
                .replace(SAMPLE_TOKEN, &token)
                .replace(SAMPLE_INTEGRATION, &integration);
            event = serde_json::from_str(&text).unwrap();
        }
        event = serde_json::from_str(&event.to_string().replace(SAMPLE_TENANT, tenant.id.as_str()))
            .unwrap();
        let id = match needs {
            Needs::Nothing | Needs::OpenLink | Needs::OAuthLink => None,
            Needs::PortalLink | Needs::PortalSession => {
                let consumer = tenant.consumer(&json!({"name": "Sample consumer"})).await;
                let link = tenant
                    .admin
                    .post(
                        &format!("/v1/consumers/{consumer}/portal-links"),
                        &json!({}),
                    )
                    .await
                    .json();
                let portal = link["id"].as_str().unwrap();
                let url = link["url"].as_str().unwrap();
                let mut text = event.to_string().replace(SAMPLE_PORTAL, portal);
                if let Needs::PortalLink = needs {
                    text = text.replace(SAMPLE_TOKEN, url.split("token=").nth(1).unwrap());
                } else {
                    let integration = tenant
                        .admin
                        .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                        .await;
                    let connection = tenant
                        .connect(
                            &consumer,
                            &json!({"name": "Sample", "integration_id": integration}),
                        )
                        .await;
                    let browser = stack.anonymous();
                    let r = browser
                        .get(url.trim_start_matches(&stack.api_base_url))
                        .await;
                    let cookie = r.headers["set-cookie"].to_str().unwrap();
                    let session = cookie.split(';').next().unwrap().split('=').nth(1).unwrap();
                    let page = browser.get(&format!("/portal/{portal}")).await.text;
                    let csrf = page
                        .split("name=\"csrf\" value=\"")
                        .nth(1)
                        .and_then(|rest| rest.split('"').next())
                        .unwrap();
                    // plain HTTP locally: the cookie has no `__Host-` prefix there
                    text = text
                        .replace(
                            &format!("__Host-linkgate_portal={SAMPLE_SESSION}"),
                            &format!("linkgate_portal={session}"),
                        )
                        .replace(SAMPLE_CSRF, csrf)
                        .replace(SAMPLE_CONNECTION, connection["id"].as_str().unwrap());
                }
                event = serde_json::from_str(&text).unwrap();
                None
            }
            Needs::ConsoleSession => {
                let (browser, session) = stack.console(tenant.admin.raw_key()).await;
                let page = browser.get("/console/consumers").await;
                assert_eq!(page.status, 200, "{}", page.text);
                let csrf = linkgate_tests::csrf_of(&page.text);
                let webhook = tenant
                    .admin
                    .create_id(
                        "/v1/webhooks",
                        &json!({"url": "https://hooks.platform.example/linkgate", "events": ["*"]}),
                    )
                    .await;
                let since = (chrono::Utc::now() - chrono::Duration::hours(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                // plain HTTP locally: the cookie has no `__Host-` prefix there
                let text = event
                    .to_string()
                    .replace(
                        &format!("__Host-linkgate_console={SAMPLE_SESSION}"),
                        &format!("linkgate_console={session}"),
                    )
                    .replace(SAMPLE_CSRF, &csrf)
                    .replace(SAMPLE_WEBHOOK, &webhook)
                    .replace(
                        &SAMPLE_SINCE.replace(':', "%3A"),
                        &since.replace(':', "%3A"),
                    );
                event = serde_json::from_str(&text).unwrap();
                None
            }
            Needs::Webhook | Needs::Delivery => {
                let webhook = tenant.admin.create_id("/v1/webhooks", &json!({"url": "https://hooks.platform.example/linkgate", "events": ["connection.created", "webhook.test"]}),
                )
                .await;
                let mut text = event.to_string().replace(SAMPLE_WEBHOOK, &webhook);
                if let Needs::Delivery = needs {
                    let r = tenant
                        .admin
                        .post(&format!("/v1/webhooks/{webhook}/test"), &json!({}))
                        .await;
                    assert_eq!(r.status, 202, "{}", r.text);
                    text = text.replace(SAMPLE_DELIVERY, r.json()["delivery_id"].as_str().unwrap());
                }
                event = serde_json::from_str(&text).unwrap();
                None
            }
            Needs::Recovery => {
                let webhook = tenant
                    .admin
                    .create_id(
                        "/v1/webhooks",
                        &json!({"url": "https://hooks.platform.example/linkgate", "events": ["*"]}),
                    )
                    .await;
                let since = (chrono::Utc::now() - chrono::Duration::hours(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let r = tenant
                    .admin
                    .post(
                        &format!("/v1/webhooks/{webhook}/recover"),
                        &json!({"since": since}),
                    )
                    .await;
                assert_eq!(r.status, 202, "{}", r.text);
                let text = event
                    .to_string()
                    .replace(SAMPLE_WEBHOOK, &webhook)
                    .replace(SAMPLE_RECOVERY, r.json()["id"].as_str().unwrap())
                    .replace(SAMPLE_SINCE, &since);
                event = serde_json::from_str(&text).unwrap();
                None
            }
            Needs::StoredCredential => {
                tenant
                    .admin
                    .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                    .await;
                let credential = tenant.admin.create_id("/v1/credentials", &json!({"provider": "stripe", "values": {"secret_key": "rk_test_51SampleRestrictedKey0000"}}),
                )
                .await;
                let text = event
                    .to_string()
                    .replace("crd_0193a1b2c3d47000800000000000000e", &credential);
                event = serde_json::from_str(&text).unwrap();
                None
            }
            Needs::ConsumerAndIntegration => {
                let integration = tenant
                    .admin
                    .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                    .await;
                let consumer = tenant.consumer(&json!({"name": "Sample consumer"})).await;
                let text = event
                    .to_string()
                    .replace("csm_0193a1b2c3d47000800000000000000a", &consumer)
                    .replace(SAMPLE_CONSUMER_UUID, &consumer_uuid(&consumer))
                    .replace(SAMPLE_INTEGRATION, &integration);
                event = serde_json::from_str(&text).unwrap();
                None
            }
            Needs::ActiveConnection => {
                let integration = tenant
                    .admin
                    .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                    .await;
                let consumer = tenant.consumer(&json!({"name": "Sample consumer"})).await;
                let body = tenant
                    .admin
                    .post(
                        &format!("/v1/consumers/{consumer}/connections"),
                        &json!({"name": "Sample", "integration_id": integration}),
                    )
                    .await
                    .json();
                let r = linkgate_tests::OpenLink::of(&body)
                    .complete(
                        &stack.anonymous(),
                        &[
                            ("integration_id", integration.as_str()),
                            ("f_secret_key", "rk_test_51SampleRestrictedKey0000"),
                        ],
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                Some(body["id"].as_str().unwrap().to_owned())
            }
            Needs::Consumer => {
                let consumer = tenant.consumer(&json!({"name": "Sample consumer", "metadata": {"plan": "free", "trial": true, "region": "eu"}})).await;
                let text = event
                    .to_string()
                    .replace(SAMPLE_CONSUMER_UUID, &consumer_uuid(&consumer));
                event = serde_json::from_str(&text).unwrap();
                Some(consumer)
            }
            Needs::ConnectorConfig => {
                let integration = tenant
                    .admin
                    .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                    .await;
                let ccfg = linkgate::compat::openint::connector_config_id(
                    &linkgate::id::IntegrationId::parse(&integration).unwrap(),
                );
                event = serde_json::from_str(
                    &event.to_string().replace(SAMPLE_CONNECTOR_CONFIG, &ccfg),
                )
                .unwrap();
                None
            }
            Needs::AlbatoSharing => {
                tenant
                    .admin
                    .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                    .await;
                let r = tenant
                    .admin
                    .post(
                        "/compat/albato/credentials/grant-access-sharing",
                        &json!({"partnerId": linkgate::compat::provider_number("stripe")}),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                let data = r.json()["data"].clone();
                let text = event
                    .to_string()
                    .replace(SAMPLE_SHARING, &data["id"].to_string())
                    .replace(SAMPLE_TOKEN, data["token"].as_str().unwrap());
                event = serde_json::from_str(&text).unwrap();
                None
            }
            Needs::ChiftConnection => {
                let integration = tenant
                    .admin
                    .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                    .await;
                let consumer = tenant.consumer(&json!({"name": "Sample consumer"})).await;
                let connection = tenant
                    .connect(
                        &consumer,
                        &json!({"name": "Sample", "integration_id": integration}),
                    )
                    .await;
                let text = event
                    .to_string()
                    .replace(SAMPLE_CONSUMER_UUID, &consumer_uuid(&consumer))
                    .replace(
                        SAMPLE_CONNECTION_UUID,
                        &linkgate::id::ConnectionId::parse(connection["id"].as_str().unwrap())
                            .unwrap()
                            .to_uuid(),
                    );
                event = serde_json::from_str(&text).unwrap();
                None
            }
            Needs::CustomProvider => {
                let sample: Value = serde_json::from_str(
                    &std::fs::read_to_string(root().join("events/providers-custom-create.json"))
                        .unwrap(),
                )
                .unwrap();
                let definition: Value =
                    serde_json::from_str(sample["body"].as_str().unwrap()).unwrap();
                let r = tenant.admin.post("/v1/providers/custom", &definition).await;
                assert_eq!(r.status, 201, "{}", r.text);
                None
            }
            Needs::Event => {
                let integration = tenant
                    .admin
                    .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                    .await;
                let consumer = tenant.consumer(&json!({"name": "Sample consumer"})).await;
                let r = tenant
                    .admin
                    .post(
                        "/v1/connections",
                        &json!({"consumer_id": consumer, "integration_id": integration, "name": "Sample",
                                "credentials": {"secret_key": "rk_test_51SampleRestrictedKey0000"}}),
                    )
                    .await;
                assert_eq!(r.status, 201, "{}", r.text);
                let events = tenant.admin.get("/v1/events").await.json();
                Some(events["data"][0]["id"].as_str().unwrap().to_owned())
            }
            Needs::Integration => Some(
                tenant
                    .admin
                    .create_id("/v1/integrations", &json!({"provider": "stripe"}))
                    .await,
            ),
            Needs::Connection | Needs::Link => {
                // With an address, so the link can be emailed (links-send).
                let consumer = tenant
                    .consumer(
                        &json!({"name": "Sample consumer", "email": "sample@customer.example"}),
                    )
                    .await;
                let r = tenant
                    .admin
                    .post(
                        &format!("/v1/consumers/{consumer}/connections"),
                        &json!({"name": "Sample"}),
                    )
                    .await;
                assert_eq!(r.status, 201, "{}", r.text);
                let body = r.json();
                let key = if matches!(needs, Needs::Link) {
                    &body["link"]["id"]
                } else {
                    &body["id"]
                };
                Some(key.as_str().unwrap().to_owned())
            }
        };
        if let (Some(id), Some(old_id)) =
            (id, event["pathParameters"]["id"].as_str().map(String::from))
        {
            event = serde_json::from_str(&event.to_string().replace(&old_id, &id)).unwrap();
        }

        let portal_path = event["pathParameters"]["portal_id"]
            .as_str()
            .map(|p| format!("/portal/{p}"));
        let raw_path = event["rawPath"].as_str().unwrap_or_default().to_owned();
        let binary = root().join("target/debug").join(&function);
        let answer = runtime_api::invoke(&binary, event, &stack.lambda_env(&function))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if status == 0 {
            // not an HTTP function: the answer is the body
            check(&answer);
            ran += 1;
            continue;
        }
        assert_eq!(answer["statusCode"], status, "{}: {answer}", path.display());
        let body = answer["body"].as_str().unwrap_or_default();
        let header = |name: &str| {
            answer["headers"][name]
                .as_str()
                .or(answer["multiValueHeaders"][name][0].as_str())
                .map(String::from)
        };
        if function == "portal-page" {
            assert_eq!(header("location"), portal_path, "{answer}");
            let cookie = answer["cookies"][0]
                .as_str()
                .map(String::from)
                .or_else(|| header("set-cookie"))
                .unwrap_or_default();
            assert!(cookie.starts_with("linkgate_portal="), "{answer}");
        } else if function.starts_with("console-") && status == 303 {
            let location = header("location").unwrap_or_default();
            let want = match sample.as_str() {
                "console-page.home" => "/console/sign-in".to_owned(),
                "console-action" => "/console/sign-in?signed_out=1".to_owned(),
                _ => format!("{raw_path}?notice=recovering"),
            };
            assert_eq!(location, want, "{answer}");
        } else if sample == "connect-page.albato" {
            let location = header("location").unwrap_or_default();
            assert!(location.contains("/connect/lnk_"), "{answer}");
            assert!(location.contains("token="), "{location}");
        } else if status == 302 {
            let location = header("location").unwrap_or_default();
            assert!(
                location.starts_with("http://127.0.0.1:9400/oauth2/authorize?"),
                "{answer}"
            );
            assert!(
                location.contains("code_challenge_method=S256"),
                "{location}"
            );
        } else if header("content-type").as_deref() == Some("text/html; charset=utf-8") {
            assert!(body.contains("<html"), "{body}");
            if let Needs::OpenLink = needs {
                assert!(body.contains("Stripe"), "{body}");
            }
            if function == "connect-submit" {
                assert!(body.contains("now connected"), "{body}");
            }
            if function == "oauth-callback" {
                assert!(body.contains("cannot be completed"), "{body}");
            }
            if function == "portal-action" {
                assert!(body.contains("Disconnect Stripe?"), "{body}");
            }
            if sample == "console-page" {
                assert!(body.contains("name=\"api_key\""), "{body}");
            }
            if sample == "console-page.item" {
                assert!(body.contains("hooks.platform.example"), "{body}");
                assert!(body.contains(">Recover</button>"), "{body}");
            }
        } else if status != 204 {
            let body: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{}: body not JSON ({e})", path.display()));
            check(&body);
        } else {
            assert!(body.is_empty());
        }
        ran += 1;
    }
    assert!(
        ran >= routes.len(),
        "ran {ran} samples for {} routes",
        routes.len()
    );
}
