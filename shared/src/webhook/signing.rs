//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`, one per live secret (a rotated secret keeps signing for a
//! day, so receivers can switch without losing a delivery). Secrets are `whsec_` + base64 of
//! 32 random bytes; the key is the decoded bytes.

use crate::secret::{random_bytes, Secret};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const PREFIX: &str = "whsec_";

pub fn generate() -> Result<Secret, getrandom::Error> {
    Ok(Secret::new(format!(
        "{PREFIX}{}",
        STANDARD.encode(random_bytes::<32>()?)
    )))
}

fn key(secret: &Secret) -> Option<Vec<u8>> {
    STANDARD.decode(secret.expose().strip_prefix(PREFIX)?).ok()
}

/// The `webhook-signature` header value for one message.
pub fn sign(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(key)
        .filter_map(|k| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&k).ok()?;
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks specification's test vectors.
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let sig = sign(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn one_signature_per_secret_and_secrets_are_fresh() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_ne!(a, b);
        assert!(a.expose().starts_with(PREFIX));
        let sig = sign(&[a, b], "evt_1", 1, b"{}");
        assert_eq!(sig.split(' ').count(), 2);
        assert!(sig.split(' ').all(|s| s.starts_with("v1,")));
    }
}
