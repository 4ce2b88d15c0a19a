//! Envelope encryption for secrets at rest (credentials, OAuth client secrets): AES-256-GCM
//! under a data key from KMS. The tenant and record id are the associated data, so a sealed
//! value copied onto another record or tenant fails to open. Data keys are cached per
//! container for a bounded time and number of uses, so most seals cost no KMS call.

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

const VERSION: &str = "v1";
const KEY_MAX_AGE: Duration = Duration::from_secs(300);
const KEY_MAX_USES: u32 = 1000;
const OPEN_CACHE_CAPACITY: usize = 64;
/// Binds data keys to this use in KMS (and its audit log).
const CONTEXT_KEY: &str = "purpose";
const CONTEXT_VALUE: &str = "linkgate-secrets";

struct DataKey {
    plaintext: [u8; 32],
    encrypted: Vec<u8>,
    created: Instant,
    uses: u32,
}

#[derive(Default)]
struct Keys {
    current: Option<DataKey>,
    /// Opened data keys by their encrypted form.
    opened: HashMap<Vec<u8>, ([u8; 32], Instant)>,
}

pub struct Sealer {
    /// Built on first use: building a client costs ~0.15 ms of TLS set-up, which a cold
    /// start that never seals or opens anything should not pay.
    kms: std::sync::OnceLock<aws_sdk_kms::Client>,
    kms_config: aws_sdk_kms::Config,
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
    encrypted_key: Vec<u8>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn decode(sealed: &str) -> Result<Envelope, SealError> {
    let mut parts = sealed.split('.');
    let (Some(VERSION), Some(k), Some(n), Some(c), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SealError::Malformed);
    };
    let d = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| SealError::Malformed);
    Ok(Envelope {
        encrypted_key: d(k)?,
        nonce: d(n)?,
        ciphertext: d(c)?,
    })
}

impl Sealer {
    pub fn new(kms_config: aws_sdk_kms::Config, key_id: impl Into<String>) -> Sealer {
        Sealer {
            kms: std::sync::OnceLock::new(),
            kms_config,
            key_id: key_id.into(),
            keys: Mutex::new(Keys::default()),
        }
    }

    fn kms(&self) -> &aws_sdk_kms::Client {
        self.kms
            .get_or_init(|| aws_sdk_kms::Client::from_conf(self.kms_config.clone()))
    }

    async fn data_key(&self) -> Result<([u8; 32], Vec<u8>), SealError> {
        let mut keys = self.keys.lock().await;
        if let Some(k) = keys.current.as_mut() {
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
            .encryption_context(CONTEXT_KEY, CONTEXT_VALUE)
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
        keys.current = Some(DataKey {
            plaintext,
            encrypted: encrypted.clone(),
            created: Instant::now(),
            uses: 1,
        });
        Ok((plaintext, encrypted))
    }

    async fn open_key(&self, encrypted: &[u8]) -> Result<[u8; 32], SealError> {
        let mut keys = self.keys.lock().await;
        if let Some(k) = keys.current.as_ref().filter(|k| k.encrypted == encrypted) {
            return Ok(k.plaintext);
        }
        if let Some((k, at)) = keys.opened.get(encrypted) {
            if at.elapsed() < KEY_MAX_AGE {
                return Ok(*k);
            }
        }
        let out = self
            .kms()
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(encrypted.to_vec()))
            .encryption_context(CONTEXT_KEY, CONTEXT_VALUE)
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
        keys.opened
            .insert(encrypted.to_vec(), (key, Instant::now()));
        Ok(key)
    }

    /// Seals `plaintext` for one record of one tenant.
    pub async fn seal(
        &self,
        tenant: &str,
        record: &str,
        plaintext: &[u8],
    ) -> Result<String, SealError> {
        let (key, encrypted_key) = self.data_key().await?;
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
        let key = self.open_key(&envelope.encrypted_key).await?;
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
            encrypted_key: edk,
            nonce: n,
            ciphertext: c,
        } = decode(&sealed).unwrap();
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
        for bad in ["", "v1", "v2.a.b.c", "v1.a.b", "v1.a.b.c.d", "v1.!!.b.c"] {
            assert!(matches!(decode(bad), Err(SealError::Malformed)), "{bad}");
        }
    }
}
