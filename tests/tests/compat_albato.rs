//! Albato's dialect (`/compat/albato`): every request and answer of its connection-by-link
//! guide over HTTP (Albato has no client library): sharing entities, their link, statuses
//! 0 to 3, renewal and deletion, with Albato's envelopes and integer ids.

use linkgate_tests::oauth::{self, local_path};
use linkgate_tests::{Reply, Stack, TestTenant};
use serde_json::{json, Value};

const SHARING: &str = "/compat/albato/credentials/grant-access-sharing";
const STRIPE_KEY: &str = "rk_test_0123456789abcdefghij";

fn stripe() -> u32 {
    linkgate::compat::provider_number("stripe")
}

/// Albato's error envelope with the right status: the code.
fn albato_error(r: &Reply, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    let body = r.json();
    assert_eq!(body["success"], false, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    body["error"]["code"].as_str().unwrap().to_owned()
}

/// `{success: true, data}`: the data.
fn data(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["success"], true, "{body}");
    body["data"].clone()
}

async fn tenant_with(provider: &str) -> TestTenant {
    let t = Stack::get().tenant().await;
    let r = t
        .admin
        .post("/v1/integrations", &json!({"provider": provider}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    t
}

/// Albato's link form as the client follows it: where it sends them (our page, with the token).
async fn follow(link: &str) -> String {
    let r = Stack::get().anonymous().get(&local_path(link)).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let page = r.headers["location"].to_str().unwrap().to_owned();
    assert!(
        page.contains("/connect/lnk_") && page.contains("token="),
        "{page}"
    );
    page
}

/// Opens the sharing's link as the client would: Albato's form, then our page.
async fn open(link: &str) -> Reply {
    let page = follow(link).await;
    Stack::get().anonymous().get(&local_path(&page)).await
}

#[tokio::test]
async fn a_sharing_goes_from_waiting_to_granted_through_its_link() {
    let stack = Stack::get();
    let t = tenant_with("stripe").await;
    let created = data(
        &t.admin
            .post(
                SHARING,
                &json!({"partnerId": stripe(), "title": "Connection by link for Payments"}),
            )
            .await,
    );
    let id = created["id"].as_u64().expect("an integer id");
    assert_eq!(created["partnerId"], stripe());
    assert_eq!(created["status"], 0);
    assert_eq!(created["credentialId"], Value::Null);
    assert_eq!(created["title"], "Connection by link for Payments");
    let token = created["token"].as_str().unwrap().to_owned();
    let date = created["dateCreated"].as_str().unwrap();
    assert_eq!(date.len(), 19, "{date}");
    assert_eq!(&date[10..11], " ");
    let link = created["url"].as_str().unwrap().to_owned();
    assert!(
        link.contains(&format!("/compat/albato/connect?id={id}&token=")),
        "{link}"
    );
    // 48 hours, as Albato's.
    let expires =
        chrono::DateTime::parse_from_rfc3339(created["expiresAt"].as_str().unwrap()).unwrap();
    let hours = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((47..=48).contains(&hours), "{hours}");

    // Read back: the token is not shown again (kept hashed).
    let read = data(&t.admin.get(&format!("{SHARING}/{id}")).await);
    assert_eq!(read["status"], 0);
    assert_eq!(read["token"], Value::Null);
    assert_eq!(read["id"], json!(id));

    // The client follows the link and fills in the form.
    let page = follow(&link).await;
    assert_eq!(stack.anonymous().get(&local_path(&page)).await.status, 200);
    let connection_id = read["connectionId"].as_str().unwrap().to_owned();
    let page_path = url::Url::parse(&page).unwrap().path().to_owned();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", &token)
        .append_pair("f_secret_key", STRIPE_KEY)
        .finish();
    let done = stack
        .anonymous()
        .raw(
            reqwest::Method::POST,
            &page_path,
            Some(("application/x-www-form-urlencoded", form.into_bytes())),
            &[],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let granted = data(&t.admin.get(&format!("{SHARING}/{id}")).await);
    assert_eq!(granted["status"], 1);
    assert_eq!(granted["credentialId"], json!(id), "names the connection");
    let c = t
        .admin
        .get(&format!("/v1/connections/{connection_id}"))
        .await
        .json();
    assert_eq!(c["status"], "active");
    assert_eq!(c["metadata"]["albato_sharing_id"], json!(id));

    // Listed with Albato's meta.
    let listed = t.admin.get(SHARING).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let body = listed.json();
    assert_eq!(body["success"], true);
    assert_eq!(body["data"][0]["id"], json!(id));
    assert_eq!(body["data"][0]["status"], 1);
    assert_eq!(
        body["meta"],
        json!({"page": 1, "totalPages": 1, "totalItemsCount": 1})
    );

    // Deleting a granted sharing revokes its token, not the connection.
    let deleted = data(&t.admin.delete(&format!("{SHARING}/{id}")).await);
    assert_eq!(deleted["status"], 3);
    assert_eq!(
        data(&t.admin.get(&format!("{SHARING}/{id}")).await)["status"],
        3
    );
    let c = t
        .admin
        .get(&format!("/v1/connections/{connection_id}"))
        .await
        .json();
    assert_eq!(c["status"], "active");
}

#[tokio::test]
async fn renewing_issues_a_new_token_for_the_same_sharing_and_deleting_revokes_it() {
    let t = tenant_with("stripe").await;
    let created = data(&t.admin.post(SHARING, &json!({"partnerId": stripe()})).await);
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["title"], "Connection to Stripe");
    let old_link = created["url"].as_str().unwrap().to_owned();

    let renewed = data(
        &t.admin
            .raw(reqwest::Method::PUT, &format!("{SHARING}/{id}"), None, &[])
            .await,
    );
    assert_eq!(renewed["id"], json!(id));
    assert_eq!(renewed["status"], 0);
    assert_ne!(renewed["token"], created["token"]);
    assert_eq!(renewed["connectionId"], created["connectionId"]);
    // The old token is dead; the new one opens the page.
    assert_ne!(open(&old_link).await.status, 200);
    assert_eq!(open(renewed["url"].as_str().unwrap()).await.status, 200);

    let deleted = data(&t.admin.delete(&format!("{SHARING}/{id}")).await);
    assert_eq!(deleted["status"], 3);
    assert_eq!(deleted["token"], Value::Null);
    assert_eq!(
        data(&t.admin.get(&format!("{SHARING}/{id}")).await)["status"],
        3
    );
    assert_ne!(open(renewed["url"].as_str().unwrap()).await.status, 200);
    // A deleted sharing can be renewed, as Albato's update resets it.
    let again = data(
        &t.admin
            .raw(reqwest::Method::PUT, &format!("{SHARING}/{id}"), None, &[])
            .await,
    );
    assert_eq!(again["status"], 0);
    assert_eq!(
        data(&t.admin.get(&format!("{SHARING}/{id}")).await)["status"],
        0
    );
}

#[tokio::test]
async fn an_oauth_partner_waits_for_oauth_with_status_2() {
    let t = Stack::get().tenant().await;
    oauth::integration(&t).await;
    let created = data(
        &t.admin
            .post(
                SHARING,
                &json!({"partnerId": linkgate::compat::provider_number("oidc-mock")}),
            )
            .await,
    );
    let id = created["id"].as_u64().unwrap();
    let r = Stack::get()
        .anonymous()
        .get(&local_path(created["url"].as_str().unwrap()))
        .await;
    let page_url = r.headers["location"].to_str().unwrap().to_owned();
    oauth::start(&Stack::get().anonymous(), &page_url).await;
    assert_eq!(
        data(&t.admin.get(&format!("{SHARING}/{id}")).await)["status"],
        2
    );
}

#[tokio::test]
async fn bad_input_gets_albato_errors_and_writes_nothing() {
    let stack = Stack::get();
    let t = tenant_with("stripe").await;
    for (body, field) in [
        (json!({}), "partnerId"),
        (json!({"partnerId": "225"}), "partnerId"),
        (json!({"partnerId": 1}), "partnerId"),
        (
            json!({"partnerId": linkgate::compat::provider_number("mollie")}),
            "partnerId",
        ),
        (json!({"partnerId": stripe(), "title": ""}), "title"),
        (json!({"partnerId": stripe(), "extra": 1}), "extra"),
    ] {
        let r = t.admin.post(SHARING, &body).await;
        assert_eq!(albato_error(&r, 400), "validation_error", "{body}");
        assert!(r.text.contains(field), "{body}: {}", r.text);
    }
    let listed = t.admin.get(SHARING).await.json();
    assert_eq!(listed["data"], json!([]), "nothing was created");
    assert_eq!(listed["meta"]["totalItemsCount"], 0);
    assert_eq!(t.admin.get("/v1/consumers").await.json()["data"], json!([]));

    for path in [format!("{SHARING}/999999999999"), format!("{SHARING}/abc")] {
        assert_eq!(albato_error(&t.admin.get(&path).await, 404), "not_found");
    }
    let r = t.admin.get(&format!("{SHARING}?page=0")).await;
    assert_eq!(albato_error(&r, 400), "validation_error");
    // Another tenant's sharing does not exist for this one.
    let mine = data(&t.admin.post(SHARING, &json!({"partnerId": stripe()})).await);
    let other = tenant_with("stripe").await;
    let path = format!("{SHARING}/{}", mine["id"]);
    assert_eq!(
        albato_error(&other.admin.get(&path).await, 404),
        "not_found"
    );
    assert_eq!(
        albato_error(&other.admin.delete(&path).await, 404),
        "not_found"
    );
    assert_eq!(data(&t.admin.get(&path).await)["status"], 0, "untouched");
    // Who may call.
    assert_eq!(
        albato_error(&stack.anonymous().get(SHARING).await, 401),
        "unauthorized"
    );
    let r = t
        .member
        .post(SHARING, &json!({"partnerId": stripe()}))
        .await;
    assert_eq!(albato_error(&r, 403), "forbidden");
    // The link form with a wrong id or none.
    let r = stack
        .anonymous()
        .get("/compat/albato/connect?id=1&token=x")
        .await;
    assert_eq!(albato_error(&r, 404), "not_found");
    let r = stack
        .anonymous()
        .get("/compat/albato/connect?token=x")
        .await;
    assert_eq!(albato_error(&r, 400), "validation_error");
}
