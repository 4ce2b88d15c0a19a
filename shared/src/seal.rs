//! Envelope encryption for secrets at rest (credentials, OAuth client secrets): AES-256-GCM
//! under a data key from KMS. The tenant and record id are the associated data, so a sealed
//! value copied onto another record or tenant fails to open. Each data key is made for one
//! tenant and one kind of record, named in its KMS encryption context, so CloudTrail puts a
//! tenant on every decrypt and key policies can condition on it. Data keys are cached per
//! container (per tenant and kind) for a bounded time and number of uses, so most seals cost
//! no KMS call.
//!
//! `v1` values (sealed before the context named the tenant) still open; new ones are `v2`.

use crate::secret::{random_bytes, Secret};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why a value could not be sealed or opened. Never carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("KMS call failed: {0}")]
    Kms(String),
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value does not open for this record")]
    Tampered,
    #[error("no randomness available")]
    Random,
}

/// The envelope written now: data key context `{purpose, tenant, kind}`.
const VERSION: &str = "v2";
/// Read only: data key context `{purpose}`.
const VERSION_PURPOSE_ONLY: &str = "v1";
const KEY_MAX_AGE: Duration = Duration::from_secs(300);
const KEY_MAX_USES: u32 = 1000;
const OPEN_CACHE_CAPACITY: usize = 64;
/// Tenants whose current data keys one container keeps.
const SEAL_CACHE_CAPACITY: usize = 64;
/// Binds data keys to this use in KMS (and its audit log).
const CONTEXT_KEY: &str = "purpose";
const CONTEXT_VALUE: &str = "linkgate-secrets";

/// What kind of record a sealed value belongs to, from the record's id (every sealed record
/// is named by a typed id or key prefix), for the KMS encryption context.
pub fn record_kind(record: &str) -> &'static str {
    use crate::id::{ConnectionId, CredentialId, IntegrationId, WebhookId};
    const KINDS: &[(&str, &str)] = &[
        (ConnectionId::PREFIX, "connection"),
        (IntegrationId::PREFIX, "integration"),
        (CredentialId::PREFIX, "credential"),
        (WebhookId::PREFIX, "webhook"),
        ("OAUTH#", "oauth_state"),
        ("IDEM#", "replay"),
        ("TOKEN#", "access_token"),
    ];
    KINDS
        .iter()
        .find(|(prefix, _)| record.starts_with(prefix))
        .map_or("record", |(_, kind)| kind)
}

/// The KMS encryption context of a data key: `(key, value)` pairs, compared exactly by KMS.
fn context(version: &str, tenant: &str, record: &str) -> Vec<(&'static str, String)> {
    let mut c = vec![(CONTEXT_KEY, CONTEXT_VALUE.to_owned())];
    if version != VERSION_PURPOSE_ONLY {
        c.push(("tenant", tenant.to_owned()));
        c.push(("kind", record_kind(record).to_owned()));
    }
    c
}

fn context_map(c: &[(&'static str, String)]) -> HashMap<String, String> {
    c.iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

struct DataKey {
    plaintext: [u8; 32],
    encrypted: Vec<u8>,
    created: Instant,
    uses: u32,
}

#[derive(Default)]
struct Keys {
    /// The data key each (tenant, kind) seals with now.
    current: HashMap<(String, &'static str), DataKey>,
    /// Opened data keys by their encrypted form and the context KMS checked them under.
    opened: HashMap<(Vec<u8>, String), ([u8; 32], Instant)>,
}

pub struct Sealer {
    /// Built on first use: building a client costs ~0.15 ms of TLS set-up, which a cold
    /// start that never seals or opens anything should not pay.
    kms: std::sync::OnceLock<aws_sdk_kms::Client>,
    /// The KMS client is built from these on first use: building its config resolves the
    /// SDK's endpoint rules, cold-start work most invocations of most functions never need.
    aws: aws_types::SdkConfig,
    key_id: String,
    keys: Mutex<Keys>,
}

fn aad(tenant: &str, record: &str) -> Vec<u8> {
    format!("linkgate\n{tenant}\n{record}").into_bytes()
}

/// Pure AES-GCM part, separated so it can be tested without KMS.
fn encrypt(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| SealError::Malformed)
}

fn decrypt(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, SealError> {
    if nonce.len() != 12 {
        return Err(SealError::Malformed);
    }
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| SealError::Tampered)
}

fn encode(encrypted_key: &[u8], nonce: &[u8], ciphertext: &[u8]) -> String {
    format!(
        "{VERSION}.{}.{}.{}",
        URL_SAFE_NO_PAD.encode(encrypted_key),
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(ciphertext)
    )
}

/// The parts of a sealed value.
struct Envelope {
    version: &'static str,
    encrypted_key: Vec<u8>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn decode(sealed: &str) -> Result<Envelope, SealError> {
    let mut parts = sealed.split('.');
    let (Some(v), Some(k), Some(n), Some(c), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SealError::Malformed);
    };
    let version = match v {
        VERSION => VERSION,
        VERSION_PURPOSE_ONLY => VERSION_PURPOSE_ONLY,
        _ => return Err(SealError::Malformed),
    };
    let d = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| SealError::Malformed);
    Ok(Envelope {
        version,
        encrypted_key: d(k)?,
        nonce: d(n)?,
        ciphertext: d(c)?,
    })
}

impl Sealer {
    pub fn new(aws: aws_types::SdkConfig, key_id: impl Into<String>) -> Sealer {
        Sealer {
            kms: std::sync::OnceLock::new(),
            aws,
            key_id: key_id.into(),
            keys: Mutex::new(Keys::default()),
        }
    }

    fn kms(&self) -> &aws_sdk_kms::Client {
        self.kms.get_or_init(|| aws_sdk_kms::Client::new(&self.aws))
    }

    async fn data_key(&self, tenant: &str, record: &str) -> Result<([u8; 32], Vec<u8>), SealError> {
        let slot = (tenant.to_owned(), record_kind(record));
        let mut keys = self.keys.lock().await;
        if let Some(k) = keys.current.get_mut(&slot) {
            if k.created.elapsed() < KEY_MAX_AGE && k.uses < KEY_MAX_USES {
                k.uses += 1;
                return Ok((k.plaintext, k.encrypted.clone()));
            }
        }
        let out = self
            .kms()
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context_map(&context(VERSION, tenant, record))))
            .send()
            .await
            .map_err(|e| SealError::Kms(aws_sdk_kms::error::DisplayErrorContext(&e).to_string()))?;
        let plaintext: [u8; 32] = out
            .plaintext()
            .and_then(|b| b.as_ref().try_into().ok())
            .ok_or_else(|| SealError::Kms("data key is not 32 bytes".into()))?;
        let encrypted = out
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| SealError::Kms("no encrypted data key".into()))?;
        if keys.current.len() >= SEAL_CACHE_CAPACITY {
            keys.current.clear();
        }
        keys.current.insert(
            slot,
            DataKey {
                plaintext,
                encrypted: encrypted.clone(),
                created: Instant::now(),
                uses: 1,
            },
        );
        Ok((plaintext, encrypted))
    }

    async fn open_key(
        &self,
        encrypted: &[u8],
        context: &[(&'static str, String)],
    ) -> Result<[u8; 32], SealError> {
        let slot = (
            encrypted.to_vec(),
            context
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let mut keys = self.keys.lock().await;
        if let Some((k, at)) = keys.opened.get(&slot) {
            if at.elapsed() < KEY_MAX_AGE {
                return Ok(*k);
            }
        }
        let out = self
            .kms()
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(encrypted.to_vec()))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(|e| SealError::Kms(aws_sdk_kms::error::DisplayErrorContext(&e).to_string()))?;
        let key: [u8; 32] = out
            .plaintext()
            .and_then(|b| b.as_ref().try_into().ok())
            .ok_or(SealError::Malformed)?;
        if keys.opened.len() >= OPEN_CACHE_CAPACITY {
            keys.opened.clear();
        }
        keys.opened.insert(slot, (key, Instant::now()));
        Ok(key)
    }

    /// Seals `plaintext` for one record of one tenant.
    pub async fn seal(
        &self,
        tenant: &str,
        record: &str,
        plaintext: &[u8],
    ) -> Result<String, SealError> {
        let (key, encrypted_key) = self.data_key(tenant, record).await?;
        let nonce = random_bytes::<12>().map_err(|_| SealError::Random)?;
        let ciphertext = encrypt(&key, &nonce, &aad(tenant, record), plaintext)?;
        Ok(encode(&encrypted_key, &nonce, &ciphertext))
    }

    /// Opens what [`Sealer::seal`] produced for the same tenant and record.
    pub async fn open(
        &self,
        tenant: &str,
        record: &str,
        sealed: &str,
    ) -> Result<Secret, SealError> {
        let envelope = decode(sealed)?;
        let key = self
            .open_key(
                &envelope.encrypted_key,
                &context(envelope.version, tenant, record),
            )
            .await?;
        let plaintext = decrypt(
            &key,
            &envelope.nonce,
            &aad(tenant, record),
            &envelope.ciphertext,
        )?;
        String::from_utf8(plaintext)
            .map(Secret::new)
            .map_err(|_| SealError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_round_trip_and_binding_to_record() {
        let key = [7u8; 32];
        let nonce = [1u8; 12];
        let ct = encrypt(&key, &nonce, &aad("ten_a", "int_1"), b"client-secret").unwrap();
        assert!(!ct.windows(6).any(|w| w == b"client"));
        let sealed = encode(b"edk", &nonce, &ct);
        let Envelope {
            version,
            encrypted_key: edk,
            nonce: n,
            ciphertext: c,
        } = decode(&sealed).unwrap();
        assert_eq!(version, "v2");
        assert_eq!(edk, b"edk");
        assert_eq!(
            decrypt(&key, &n, &aad("ten_a", "int_1"), &c).unwrap(),
            b"client-secret"
        );
        assert!(matches!(
            decrypt(&key, &n, &aad("ten_b", "int_1"), &c),
            Err(SealError::Tampered)
        ));
        assert!(matches!(
            decrypt(&key, &n, &aad("ten_a", "int_2"), &c),
            Err(SealError::Tampered)
        ));
        let mut flipped = c.clone();
        flipped[0] ^= 1;
        assert!(matches!(
            decrypt(&key, &n, &aad("ten_a", "int_1"), &flipped),
            Err(SealError::Tampered)
        ));
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        for bad in ["", "v1", "v3.a.b.c", "v1.a.b", "v2.a.b.c.d", "v2.!!.b.c"] {
            assert!(matches!(decode(bad), Err(SealError::Malformed)), "{bad}");
        }
        assert_eq!(decode("v1.YQ.Yg.Yw").unwrap().version, "v1");
    }

    #[test]
    fn data_keys_name_the_tenant_and_kind_except_in_v1_values() {
        let c = context(VERSION, "ten_a", "conn_1");
        assert_eq!(
            context_map(&c),
            HashMap::from([
                ("purpose".to_owned(), "linkgate-secrets".to_owned()),
                ("tenant".to_owned(), "ten_a".to_owned()),
                ("kind".to_owned(), "connection".to_owned()),
            ])
        );
        assert_eq!(context(VERSION_PURPOSE_ONLY, "ten_a", "conn_1").len(), 1);
        for (record, kind) in [
            ("int_1", "integration"),
            ("crd_1", "credential"),
            ("wh_1", "webhook"),
            ("OAUTH#ab", "oauth_state"),
            ("IDEM#x", "replay"),
            ("other", "record"),
        ] {
            assert_eq!(record_kind(record), kind);
        }
    }
}
