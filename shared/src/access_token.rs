//! Short-lived bearer tokens that stand for an API key, for APIs whose clients trade their
//! credentials for a token first (Chift's `POST /token`, see `compat::chift`).
//!
//! A token names its tenant and key in clear and seals (AES-GCM under a KMS data key, see
//! `seal`) the key's hash and the token's expiry. Checking one opens the seal (no KMS call
//! while the data key is cached) and looks the key up by its hash exactly as a request with
//! the key itself would (one read, or none while the key cache holds it): a token is never
//! the key, says nothing of it to whoever holds it, and dies with the key when it is revoked.

use crate::api_key::{Authenticator, Principal};
use crate::error::ApiError;
use crate::id::{ApiKeyId, TenantId};
use crate::seal::Sealer;
use crate::secret::{sha256_hex, Secret};
use crate::store::Store;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "lgt_";
/// How long a token lives. Clients ask for a new one when it ends.
pub const LIFETIME_SECONDS: i64 = 3600;
/// Longer is not a token we issued; refused before any work.
const MAX_LEN: usize = 2048;

/// What a token says in clear: whose it is, so the seal opens under the right context.
#[derive(Serialize, Deserialize)]
struct Envelope {
    t: TenantId,
    k: ApiKeyId,
    s: String,
}

/// What it seals.
#[derive(Serialize, Deserialize)]
struct Claims {
    /// The key's hash, the lookup that proves the key still lives.
    h: String,
    /// Expiry, Unix seconds.
    e: i64,
}

fn record(key: &ApiKeyId) -> String {
    format!("TOKEN#{key}")
}

/// A token for the key `secret`, which must be `key` of `tenant` (the caller checked it by
/// authenticating with it). Answers the token and its expiry (Unix seconds).
pub async fn issue(
    sealer: &Sealer,
    principal: &Principal,
    secret: &str,
    now: i64,
) -> Result<(Secret, i64), ApiError> {
    let expires = now + LIFETIME_SECONDS;
    let claims = serde_json::to_vec(&Claims {
        h: sha256_hex(secret.as_bytes()),
        e: expires,
    })
    .map_err(ApiError::internal)?;
    let sealed = sealer
        .seal(
            principal.tenant_id.as_str(),
            &record(&principal.key_id),
            &claims,
        )
        .await
        .map_err(ApiError::internal)?;
    let envelope = serde_json::to_vec(&Envelope {
        t: principal.tenant_id.clone(),
        k: principal.key_id.clone(),
        s: sealed,
    })
    .map_err(ApiError::internal)?;
    Ok((
        Secret::new(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(envelope))),
        expires,
    ))
}

/// The principal an `Authorization: Bearer lgt_…` header's token stands for, if it is one
/// we issued, unexpired, for a key that still lives.
pub async fn verify(
    keys: &Authenticator,
    store: &Store,
    sealer: &Sealer,
    authorization: Option<&str>,
    now: i64,
) -> Result<Principal, ApiError> {
    let raw = authorization
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| t.len() <= MAX_LEN)
        .and_then(|t| t.strip_prefix(PREFIX))
        .ok_or(ApiError::Unauthorized)?;
    let envelope: Envelope = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(ApiError::Unauthorized)?;
    // A seal that does not open for this tenant and key was not ours (or was altered).
    let opened = sealer
        .open(envelope.t.as_str(), &record(&envelope.k), &envelope.s)
        .await
        .map_err(|e| match &e {
            // KMS refusing a data key we never made is a forged token, not an outage.
            crate::seal::SealError::Kms(m) if !m.contains("InvalidCiphertext") => {
                ApiError::internal(e)
            }
            _ => ApiError::Unauthorized,
        })?;
    let claims: Claims =
        serde_json::from_str(opened.expose()).map_err(|_| ApiError::Unauthorized)?;
    if claims.e <= now {
        return Err(ApiError::Unauthorized);
    }
    let principal = keys.key_of_hash(store, claims.h).await?;
    if principal.tenant_id != envelope.t || principal.key_id != envelope.k {
        return Err(ApiError::Unauthorized);
    }
    Ok(principal)
}

/// Whether `authorization` carries one of these tokens rather than an API key.
pub fn is_token(authorization: Option<&str>) -> bool {
    authorization
        .and_then(|h| h.split_once(' '))
        .is_some_and(|(_, t)| t.trim().starts_with(PREFIX))
}
