//! Requests no route takes, and bodies API Gateway hands over base64-encoded, through the
//! local API Gateway (scripts/api_gateway.py, routing by template.yaml) and the `$default`
//! route's real function.

use linkgate_tests::{table_mentions, template_routes, Stack};
use reqwest::Method;

#[tokio::test]
async fn an_unknown_path_is_a_documented_404_for_any_method_with_or_without_a_key() {
    let stack = Stack::get();
    let tenant = stack.tenant().await;
    for api in [stack.anonymous(), tenant.admin.clone()] {
        for (method, path) in [
            (Method::GET, "/v1/consumer"),
            (Method::POST, "/v2/consumers"),
            (Method::DELETE, "/"),
            (Method::GET, "/v1/consumers/"),
            (Method::GET, "/health/extra"),
        ] {
            let r = api.raw(method.clone(), path, None, &[]).await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
            assert_eq!(r.error_code(), "not_found", "{method} {path}");
            assert!(r.headers.get("allow").is_none());
        }
    }
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_naming_the_allowed_ones() {
    let api = Stack::get().tenant().await.admin;
    let cases: [(&str, &str, &str); 5] = [
        ("TRACE", "/health", "GET"),
        (
            "PUT",
            "/v1/consumers/csm_01a20390408b713e8f6165ed1adeaeb2",
            "DELETE, GET, PATCH",
        ),
        ("DELETE", "/v1/settings", "GET, PATCH"),
        ("PATCH", "/v1/consumers", "GET, POST"),
        ("GET", "/v1/webhooks/wh_1/test", "POST"),
    ];
    for (method, path, allow) in cases {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let r = api.raw(method.clone(), path, None, &[]).await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        assert_eq!(r.error_code(), "method_not_allowed");
        assert_eq!(r.headers["allow"], allow, "{method} {path}");
        for m in allow.split(", ") {
            assert!(
                template_routes()
                    .iter()
                    .any(|t| t.method == m && linkgate::route::path_fits(&t.path, path)),
                "Allow names {m}, which has no route for {path}"
            );
        }
    }
}

#[tokio::test]
async fn a_declared_json_body_that_is_not_utf8_is_a_400_and_writes_nothing() {
    let api = Stack::get().tenant().await.admin;
    let marker = "not-utf8-7f3a";
    let mut body = format!("{{\"name\": \"{marker}\", \"email\": \"").into_bytes();
    body.extend_from_slice(&[0xff, 0xfe, 0x80]);
    body.extend_from_slice(b"\"}");
    for (method, path) in [
        (Method::POST, "/v1/consumers"),
        (Method::POST, "/v1/credentials"),
        (Method::PATCH, "/v1/settings"),
    ] {
        let r = api
            .raw(
                method.clone(),
                path,
                Some(("application/json", body.clone())),
                &[],
            )
            .await;
        assert_eq!(r.status, 400, "{method} {path}: {}", r.text);
        assert_eq!(r.error_code(), "validation_error");
    }
    assert!(table_mentions(marker).await.is_empty());
}
