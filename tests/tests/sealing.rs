//! Sealed secrets and KMS: every data key is made for one tenant and one kind of record (its
//! encryption context says which, so CloudTrail attributes each decrypt and key policies can
//! condition on it), and values sealed before that still open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use aws_sdk_kms::primitives::Blob;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use linkgate_tests::{table_mentions, Stack};
use serde_json::json;
use std::collections::HashMap;

fn kms() -> aws_sdk_kms::Client {
    let stack = Stack::get();
    let creds = aws_sdk_kms::config::Credentials::new("test", "test", None, None, "tests");
    aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .http_client(linkgate::aws::http_client())
            .endpoint_url(&stack.aws_endpoint_url)
            .region(aws_sdk_kms::config::Region::new(stack.region.clone()))
            .credentials_provider(creds)
            .build(),
    )
}

fn context(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The first sealed value (`v<n>.…`) in a table item's dump.
fn sealed_in(dump: &str, version: &str) -> Option<String> {
    let start = dump.find(&format!("\"{version}."))? + 1;
    Some(
        dump[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .collect(),
    )
}

#[tokio::test]
async fn a_data_key_opens_only_for_its_tenant_and_kind() {
    let stack = Stack::get();
    let t = stack.tenant().await;
    let other = stack.tenant().await;
    let r = t
        .admin
        .post(
            "/v1/integrations",
            &json!({"provider": "github", "client_id": "Iv1.ctx", "client_secret": "ctx-secret"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let dumps = table_mentions(&id).await;
    let sealed = dumps
        .iter()
        .find_map(|d| sealed_in(d, "v2"))
        .unwrap_or_else(|| panic!("a v2 sealed secret: {dumps:?}"));
    let data_key = URL_SAFE_NO_PAD
        .decode(sealed.split('.').nth(1).unwrap())
        .unwrap();

    let tenant = t.id.as_str();
    let decrypt = |ctx: HashMap<String, String>| {
        let blob = data_key.clone();
        async move {
            kms()
                .decrypt()
                .ciphertext_blob(Blob::new(blob))
                .set_encryption_context(Some(ctx))
                .send()
                .await
        }
    };
    let own = decrypt(context(&[
        ("purpose", "linkgate-secrets"),
        ("tenant", tenant),
        ("kind", "integration"),
    ]))
    .await;
    assert!(own.is_ok(), "{own:?}");
    for wrong in [
        context(&[
            ("purpose", "linkgate-secrets"),
            ("tenant", other.id.as_str()),
            ("kind", "integration"),
        ]),
        context(&[
            ("purpose", "linkgate-secrets"),
            ("tenant", tenant),
            ("kind", "connection"),
        ]),
        context(&[("purpose", "linkgate-secrets")]),
    ] {
        assert!(
            decrypt(wrong.clone()).await.is_err(),
            "opened under {wrong:?}"
        );
    }
}

#[tokio::test]
async fn values_sealed_before_the_tenant_context_still_open() {
    let stack = Stack::get();
    let app = stack.app();
    let key_id = stack.function_env["LINKGATE_KMS_KEY_ID"].clone();
    // A v1 value as it was written: a data key under {purpose} alone, AES-256-GCM with the
    // tenant and record as associated data.
    let made = kms()
        .generate_data_key()
        .key_id(key_id)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .set_encryption_context(Some(context(&[("purpose", "linkgate-secrets")])))
        .send()
        .await
        .unwrap();
    let nonce = [9u8; 12];
    let ciphertext = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(
        made.plaintext().unwrap().as_ref(),
    ))
    .encrypt(
        Nonce::from_slice(&nonce),
        Payload {
            msg: b"sealed-in-v1".as_slice(),
            aad: b"linkgate\nten_old\nint_old",
        },
    )
    .unwrap();
    let v1 = format!(
        "v1.{}.{}.{}",
        URL_SAFE_NO_PAD.encode(made.ciphertext_blob().unwrap().as_ref()),
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(&ciphertext)
    );
    let sealer = app.sealer().unwrap();
    let opened = sealer.open("ten_old", "int_old", &v1).await.unwrap();
    assert_eq!(opened.expose(), "sealed-in-v1");
    assert!(sealer.open("ten_other", "int_old", &v1).await.is_err());

    // and what is sealed now is v2
    let now = sealer.seal("ten_old", "int_old", b"fresh").await.unwrap();
    assert!(now.starts_with("v2."), "{now}");
    assert_eq!(
        sealer
            .open("ten_old", "int_old", &now)
            .await
            .unwrap()
            .expose(),
        "fresh"
    );
}
