//! The tenant's brand: settings that check what they store, and connect pages dressed in it
//! (name, logo, colour) under a Content-Security-Policy that allows exactly its stylesheet.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use linkgate_tests::{assert_validation, Reply, Stack, TestTenant};
use serde_json::{json, Value};
use sha2::Digest;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

fn data(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", STANDARD.encode(bytes))
}

async fn brand(t: &TestTenant, body: Value) -> Reply {
    t.admin
        .patch("/v1/settings", &json!({ "branding": body }))
        .await
}

/// A link of `t` and its page path.
async fn link_path(t: &TestTenant) -> String {
    let consumer = t.consumer(&json!({"name": "Ann"})).await;
    let r = t
        .admin
        .post(
            &format!("/v1/consumers/{consumer}/connections"),
            &json!({"name": "Books"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let url = r.json()["link"]["url"].as_str().unwrap().to_owned();
    url.trim_start_matches(&Stack::get().api_base_url)
        .to_owned()
}

/// Every `<style>` of a page and the hashes its CSP allows.
fn styles_and_hashes(page: &Reply) -> (Vec<String>, Vec<String>) {
    let styles = page
        .text
        .split("<style>")
        .skip(1)
        .map(|s| s.split("</style>").next().unwrap().to_owned())
        .collect();
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    let hashes = csp
        .split("style-src ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|h| {
            h.trim_matches('\'')
                .trim_start_matches("sha256-")
                .to_owned()
        })
        .collect();
    (styles, hashes)
}

fn sha256_b64(s: &str) -> String {
    STANDARD.encode(sha2::Sha256::digest(s.as_bytes()))
}

#[tokio::test]
async fn branding_is_checked_stored_and_reset() {
    let t = Stack::get().tenant().await;
    let r = brand(&t, json!({"display_name": "Acme Books", "primary_color": "#0B5FFF", "logo": data("image/png", PNG)})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = &r.json()["branding"];
    assert_eq!(b["display_name"], "Acme Books");
    assert_eq!(b["primary_color"], "#0b5fff");
    assert_eq!(b["logo"], data("image/png", PNG));

    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4" onload="alert(1)"><script>alert(2)</script><rect width="4" height="4" fill="#123456"/><image href="https://tracker.example/p.png"/></svg>"##;
    let r = brand(&t, json!({"logo": data("image/svg+xml", svg.as_bytes())})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = r.json()["branding"]["logo"].as_str().unwrap().to_owned();
    let decoded = String::from_utf8(
        STANDARD
            .decode(stored.strip_prefix("data:image/svg+xml;base64,").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        decoded.contains("<rect") && decoded.contains("#123456"),
        "{decoded}"
    );
    for gone in ["script", "alert", "onload", "tracker.example", "<image"] {
        assert!(!decoded.contains(gone), "{gone} in {decoded}");
    }

    let before = t.admin.get("/v1/settings").await.json();
    let mut big = PNG.to_vec();
    big.resize(32 * 1024 + 1, 0);
    for (body, field) in [
        (
            json!({"primary_color": "#ffeb3b"}),
            "branding.primary_color",
        ),
        (json!({"primary_color": "blue"}), "branding.primary_color"),
        (json!({"logo": data("image/png", &big)}), "branding.logo"),
        (
            json!({"logo": data("image/png", b"GIF89a")}),
            "branding.logo",
        ),
        (
            json!({"logo": data("application/pdf", b"%PDF-1.7")}),
            "branding.logo",
        ),
        (
            json!({"logo": "https://cdn.example/logo.png"}),
            "branding.logo",
        ),
        (
            json!({"logo": data("image/svg+xml", br#"<!DOCTYPE svg [<!ENTITY a "b">]><svg>&a;</svg>"#)}),
            "branding.logo",
        ),
        (
            json!({"logo": data("image/svg+xml", b"<svg><g></svg>")}),
            "branding.logo",
        ),
        (json!({"display_name": ""}), "branding.display_name"),
        (
            json!({"display_name": "x".repeat(65)}),
            "branding.display_name",
        ),
        (json!({"tagline": "hi"}), "branding.tagline"),
    ] {
        assert_validation(&brand(&t, body).await, &[field]);
    }
    let low = brand(&t, json!({"primary_color": "#ffeb3b"})).await;
    assert!(low.text.contains("contrast"), "{}", low.text);
    assert_eq!(
        t.admin.get("/v1/settings").await.json(),
        before,
        "refusals change nothing"
    );
    assert_eq!(
        t.member
            .patch("/v1/settings", &json!({"branding": null}))
            .await
            .status,
        403
    );

    let r = brand(&t, json!({"logo": null})).await;
    assert_eq!(r.json()["branding"]["logo"], Value::Null);
    assert_eq!(r.json()["branding"]["display_name"], "Acme Books", "kept");
    let r = t
        .admin
        .patch("/v1/settings", &json!({"branding": null}))
        .await;
    assert_eq!(
        r.json()["branding"],
        json!({"display_name": null, "logo": null, "primary_color": null})
    );
}

#[tokio::test]
async fn pages_wear_the_tenant_brand_and_allow_only_its_style() {
    let stack = Stack::get();
    let branded = stack.tenant().await;
    let r = brand(&branded, json!({"display_name": "Acme <Books>", "primary_color": "#0b5fff", "logo": data("image/png", PNG)})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let path = link_path(&branded).await;
    let page = stack.anonymous().get(&path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(r#"<header class="brand">"#),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("Acme &#60;Books&#62;") || page.text.contains("Acme &lt;Books&gt;"),
        "escaped name"
    );
    assert!(page.text.contains(&data("image/png", PNG)), "the logo");
    let (styles, hashes) = styles_and_hashes(&page);
    assert_eq!(styles.len(), 2, "our sheet and the brand rule");
    assert_eq!(styles[1], ":root{--brand:#0b5fff}");
    assert_eq!(hashes.len(), 2);
    for s in &styles {
        assert!(hashes.contains(&sha256_b64(s)), "{s} allowed by its hash");
    }

    // Pages about the link that say it cannot be used wear the brand too.
    let id = path
        .split('/')
        .nth(2)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    branded.admin.delete(&format!("/v1/links/{id}")).await;
    let gone = stack.anonymous().get(&path).await;
    assert_eq!(gone.status, 410);
    assert!(gone.text.contains(r#"<header class="brand">"#));

    // Without a brand: neutral, one stylesheet, one hash; an unknown link has no tenant.
    let plain = stack.tenant().await;
    let page = stack.anonymous().get(&link_path(&plain).await).await;
    assert!(!page.text.contains(r#"class="brand""#));
    let (styles, hashes) = styles_and_hashes(&page);
    assert_eq!((styles.len(), hashes.len()), (1, 1));
    assert_eq!(hashes[0], sha256_b64(&styles[0]));
    let invalid = stack
        .anonymous()
        .get("/connect/lnk_0193a1b2c3d47000800000000000000d?token=x")
        .await;
    assert_eq!(invalid.status, 404);
    assert!(!invalid.text.contains(r#"class="brand""#));
}
