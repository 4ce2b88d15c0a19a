//! The connect pages and link emails speak English, French, Dutch and German: the link's
//! `lang`, else its consumer's `locale`, else the browser's `Accept-Language`.

use linkgate_tests::{assert_validation, Reply, Stack, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

async fn consumer(t: &TestTenant, extra: Value) -> String {
    let mut body = json!({"name": "Zoë"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    t.consumer(&body).await
}

async fn connection(t: &TestTenant, consumer: &str, extra: Value) -> Value {
    let mut body = json!({"name": "Books"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    t.connect(consumer, &body).await
}

async fn open(c: &Value, accept_language: Option<&str>) -> Reply {
    let stack = Stack::get();
    let path = c["link"]["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&stack.api_base_url)
        .to_owned();
    let headers: Vec<(&str, &str)> = accept_language
        .map(|v| vec![("accept-language", v)])
        .unwrap_or_default();
    stack
        .anonymous()
        .raw(Method::GET, &path, None, &headers)
        .await
}

fn speaks(page: &Reply, code: &str, heading: &str) {
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(&format!("<html lang=\"{code}\">")),
        "{code}: {}",
        page.text
    );
    assert!(page.text.contains(heading), "{heading} in {}", page.text);
}

#[tokio::test]
async fn the_link_then_the_consumer_then_the_browser_choose_the_language() {
    let t = Stack::get().tenant().await;
    let plain = consumer(&t, json!({})).await;
    let dutch = consumer(&t, json!({"locale": "nl-BE"})).await;
    let spanish = consumer(&t, json!({"locale": "es-ES"})).await;

    // The link's own `lang` wins over the consumer's locale and the browser.
    let c = connection(&t, &dutch, json!({"lang": "fr"})).await;
    assert_eq!(c["link"]["lang"], "fr");
    speaks(
        &open(&c, Some("de")).await,
        "fr",
        "Choisissez le logiciel à connecter",
    );

    // Else the consumer's locale, noted on the link when it was made.
    let c = connection(&t, &dutch, json!({})).await;
    assert_eq!(c["link"]["lang"], "nl");
    speaks(
        &open(&c, Some("de")).await,
        "nl",
        "Kies de software om te koppelen",
    );

    // Else the browser's, by quality; a locale we do not speak falls through to it.
    let c = connection(&t, &spanish, json!({})).await;
    assert_eq!(c["link"]["lang"], Value::Null);
    speaks(
        &open(&c, Some("es;q=1, de-AT;q=0.9, fr;q=0.8")).await,
        "de",
        "Wählen Sie die Software",
    );
    let c = connection(&t, &plain, json!({})).await;
    speaks(
        &open(&c, Some("ja")).await,
        "en",
        "Choose the software to connect",
    );
    speaks(
        &open(&c, None).await,
        "en",
        "Choose the software to connect",
    );
    speaks(&open(&c, Some("nl")).await, "nl", "Beveiligd door Linkgate");

    // A page that knows no link speaks the browser's language too.
    let invalid = Stack::get()
        .anonymous()
        .raw(
            Method::GET,
            "/connect/lnk_0193a1b2c3d47000800000000000000d?token=nope",
            None,
            &[("accept-language", "fr-FR")],
        )
        .await;
    assert_eq!(invalid.status, 404);
    assert!(
        invalid.text.contains("Ce lien n&#39;est pas valide")
            || invalid.text.contains("Ce lien n'est pas valide"),
        "{}",
        invalid.text
    );

    // A fresh link for the connection takes `lang` too.
    let id = c["id"].as_str().unwrap();
    let r = t
        .admin
        .post(
            &format!("/v1/connections/{id}/links"),
            &json!({"lang": "de"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["lang"], "de", "the new link");
}

#[tokio::test]
async fn forms_translate_our_words_and_keep_provider_labels_in_english_when_untranslated() {
    let t = Stack::get().tenant().await;
    let datadog = t
        .admin
        .post("/v1/integrations", &json!({"provider": "datadog"}))
        .await;
    assert_eq!(datadog.status, 201, "{}", datadog.text);
    let c = consumer(&t, json!({})).await;
    let conn = connection(
        &t,
        &c,
        json!({"lang": "de", "integration_id": datadog.json()["id"]}),
    )
    .await;
    let page = open(&conn, None).await;
    speaks(&page, "de", "Datadog verbinden");
    assert!(page.text.contains("API-Schlüssel"), "a translated label");
    assert!(page.text.contains("Anwendungsschlüssel"));
    assert!(
        page.text.contains("Datadog site"),
        "no translation: the catalog's English"
    );
    assert!(page.text.contains("Gesichert durch Linkgate"));
}

#[tokio::test]
async fn lang_and_locale_are_validated() {
    let t = Stack::get().tenant().await;
    for bad in [json!("es"), json!("FR"), json!(1)] {
        let r = t
            .admin
            .post("/v1/consumers", &json!({"name": "A", "locale": "fr"}))
            .await;
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let r = t
            .admin
            .post(
                &format!("/v1/consumers/{id}/connections"),
                &json!({"name": "B", "lang": bad}),
            )
            .await;
        assert_validation(&r, &["lang"]);
    }
    for bad in [json!("french"), json!("fr_FR"), json!(""), json!(7)] {
        let r = t
            .admin
            .post("/v1/consumers", &json!({"name": "A", "locale": bad}))
            .await;
        assert_validation(&r, &["locale"]);
    }
    let id = consumer(&t, json!({"locale": "de-CH"})).await;
    let got = t.admin.get(&format!("/v1/consumers/{id}")).await.json();
    assert_eq!(got["locale"], "de-CH", "kept as sent");
    let r = t
        .admin
        .patch(&format!("/v1/consumers/{id}"), &json!({"locale": null}))
        .await;
    assert_eq!(r.json()["locale"], Value::Null);
}
