//! What one tenant may not exceed, whatever its keys do: webhook endpoints (each costs a
//! delivery per event), custom providers (each is copied into its integration) and link emails per hour (SES's reputation and quota are shared by
//! every tenant). Both are counters in the tenant's partition, moved in the same write as
//! what they count, with the limit in the write's condition, so racing requests can never
//! pass it together.

use crate::error::ApiError;
use crate::id::TenantId;
use crate::store::{key, n, tenant_pk, Item, Store, StoreError};
use crate::time::Timestamp;
use crate::App;
use aws_sdk_dynamodb::types::TransactWriteItem;

const WEBHOOKS_SK: &str = "QUOTA#WEBHOOKS";

fn webhooks_key(tenant: &TenantId) -> Item {
    key(tenant_pk(tenant), WEBHOOKS_SK)
}

/// The transaction item that takes one webhook endpoint place (fails when all are taken).
pub fn webhook_place_tx(
    store: &Store,
    tenant: &TenantId,
    max: u32,
) -> Result<TransactWriteItem, StoreError> {
    store.update_tx(
        webhooks_key(tenant),
        "SET endpoints = if_not_exists(endpoints, :zero) + :one",
        "attribute_not_exists(endpoints) OR endpoints < :max",
        &[(":zero", n(0)), (":one", n(1)), (":max", n(max))],
        &[],
    )
}

/// The transaction item that gives one place back (only if one is counted: endpoints made
/// before the counter existed free nothing they never took).
pub fn webhook_release_tx(
    store: &Store,
    tenant: &TenantId,
) -> Result<TransactWriteItem, StoreError> {
    store.update_tx(
        webhooks_key(tenant),
        "SET endpoints = endpoints - :one",
        "endpoints > :zero",
        &[(":zero", n(0)), (":one", n(1))],
        &[],
    )
}

const PROVIDERS_SK: &str = "QUOTA#PROVIDERS";

/// The transaction item that takes one custom provider place (fails when all are taken).
pub fn provider_place_tx(
    store: &Store,
    tenant: &TenantId,
    max: u32,
) -> Result<TransactWriteItem, StoreError> {
    store.update_tx(
        key(tenant_pk(tenant), PROVIDERS_SK),
        "SET providers = if_not_exists(providers, :zero) + :one",
        "attribute_not_exists(providers) OR providers < :max",
        &[(":zero", n(0)), (":one", n(1)), (":max", n(max))],
        &[],
    )
}

/// The transaction item that gives one custom provider place back.
pub fn provider_release_tx(
    store: &Store,
    tenant: &TenantId,
) -> Result<TransactWriteItem, StoreError> {
    store.update_tx(
        key(tenant_pk(tenant), PROVIDERS_SK),
        "SET providers = providers - :one",
        "providers > :zero",
        &[(":zero", n(0)), (":one", n(1))],
        &[],
    )
}

pub fn webhooks_full(max: u32) -> ApiError {
    ApiError::LimitReached(format!(
        "a tenant may have at most {max} webhook endpoints; delete one first (one endpoint can subscribe to many event types)"
    ))
}

/// The clock hour an email counts against, and the seconds until the next one.
fn hour_of(now: Timestamp) -> (String, u64) {
    let hour = now.format("%Y-%m-%dT%H").to_string();
    let into = u64::try_from(now.timestamp().rem_euclid(3600)).unwrap_or(0);
    (hour, (3600 - into).max(1))
}

fn emails_key(tenant: &TenantId, hour: &str) -> Item {
    key(tenant_pk(tenant), format!("QUOTA#EMAILS#{hour}"))
}

/// A claim on one email of this hour's allowance, to give back if it is not sent.
#[derive(Debug)]
pub struct EmailClaim {
    tenant: TenantId,
    hour: String,
}

/// Counts one email against the tenant's hour, or says how long until the next hour.
pub async fn claim_email(
    app: &App,
    tenant: &TenantId,
    now: Timestamp,
) -> Result<Result<EmailClaim, ApiError>, StoreError> {
    let max = app.config.max_emails_per_hour;
    let (hour, wait) = hour_of(now);
    let taken = app
        .store
        .update(
            emails_key(tenant, &hour),
            "SET sent = if_not_exists(sent, :zero) + :one, #ttl = :ttl",
            "attribute_not_exists(sent) OR sent < :max",
            &[
                (":zero", n(0)),
                (":one", n(1)),
                (":max", n(max)),
                // kept a day past its hour, then TTL removes it
                (":ttl", n(now.timestamp() + 86_400)),
            ],
            &[("#ttl", "ttl")],
        )
        .await?;
    if !taken {
        return Ok(Err(ApiError::RateLimited {
            message: format!(
                "this tenant has sent its {max} emails per hour; the allowance renews at the top of the hour"
            ),
            retry_after: wait,
        }));
    }
    Ok(Ok(EmailClaim {
        tenant: tenant.clone(),
        hour,
    }))
}

/// Gives a claimed email back (it was not sent). Best effort: a failure only costs the
/// tenant one email of this hour.
pub async fn release_email(app: &App, claim: EmailClaim) {
    let done = app
        .store
        .update(
            emails_key(&claim.tenant, &claim.hour),
            "SET sent = sent - :one",
            "sent > :zero",
            &[(":zero", n(0)), (":one", n(1))],
            &[],
        )
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "an unsent email's allowance was not given back");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_email_counts_against_its_clock_hour_until_the_next() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 12, 2, 1, 59, 30)
            .unwrap();
        assert_eq!(hour_of(at), ("2026-12-02T01".to_owned(), 30));
        let top = chrono::Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap();
        assert_eq!(hour_of(top), ("2026-12-02T02".to_owned(), 3600));
    }

    #[test]
    fn the_refusal_names_the_limit() {
        let e = webhooks_full(8);
        assert_eq!(e.code(), "limit_reached");
        assert_eq!(e.status().as_u16(), 409);
        assert!(e.to_string().contains("at most 8 webhook endpoints"));
    }
}
