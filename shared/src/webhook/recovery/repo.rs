//! Recoveries in the table: `T#<tenant>` / `RCV#<endpoint>#<id>`, kept as long as
//! deliveries; progress saved only by the step it belongs to.

use super::{Recovery, Status};
use crate::id::{RecoveryId, TenantId, WebhookId};
use crate::store::{key, n, s, tenant_pk, Item, Store, StoreError};
use crate::time::{self, Timestamp};
use crate::webhook::delivery::{Resent, RETENTION_SECONDS};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct RecoveryItem {
    pk: String,
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    recovery: Recovery,
}

fn sk(endpoint: &WebhookId, id: &RecoveryId) -> String {
    format!("RCV#{endpoint}#{id}")
}

fn recovery_key(r: &Recovery) -> Item {
    key(tenant_pk(&r.tenant_id), sk(&r.endpoint_id, &r.id))
}

pub async fn create(store: &Store, r: &Recovery) -> Result<(), StoreError> {
    let item = Store::to_item(&RecoveryItem {
        pk: tenant_pk(&r.tenant_id),
        sk: sk(&r.endpoint_id, &r.id),
        ttl: r.created_at.timestamp() + RETENTION_SECONDS,
        recovery: r.clone(),
    })?;
    if store.put_new(item).await? {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!("recovery {} exists", r.id)))
    }
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    endpoint: &WebhookId,
    id: &RecoveryId,
) -> Result<Option<Recovery>, StoreError> {
    store
        .get(tenant_pk(tenant), sk(endpoint, id))
        .await?
        .map(|item| Ok(Store::from_item::<RecoveryItem>(item)?.recovery))
        .transpose()
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Running => "running",
        Status::Completed => "completed",
        Status::Failed => "failed",
    }
}

/// Saves one step's progress, only if that step was not saved before (`false` then); the
/// last step completes the job.
pub async fn advance(
    store: &Store,
    r: &Recovery,
    page: &Resent,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let now = time::format(&now);
    let mut update = "SET examined = examined + :examined, resent = resent + :resent, step = step + :one, updated_at = :now".to_string();
    let mut vals = vec![
        (":examined", n(page.examined)),
        (":resent", n(page.resent)),
        (":one", n(1)),
        (":now", s(&now)),
        (":step", n(r.step)),
        (":running", s(status(Status::Running))),
    ];
    let mut names = vec![("#status", "status")];
    match &page.next {
        Some(cursor) => {
            update.push_str(", #cursor = :cursor");
            vals.push((":cursor", s(cursor)));
            names.push(("#cursor", "cursor"));
        }
        None => {
            update.push_str(", #status = :done, completed_at = :now");
            vals.push((":done", s(status(Status::Completed))));
        }
    }
    store
        .update(
            recovery_key(r),
            &update,
            "step = :step AND #status = :running",
            &vals,
            &names,
        )
        .await
}

/// Ends a running job early, saying why.
pub async fn finish(
    store: &Store,
    r: &Recovery,
    to: Status,
    error: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let now = time::format(&now);
    store
        .update(
            recovery_key(r),
            "SET #status = :to, #error = :error, updated_at = :now, completed_at = :now",
            "#status = :running",
            &[
                (":to", s(status(to))),
                (":error", s(error.unwrap_or_default())),
                (":now", s(&now)),
                (":running", s(status(Status::Running))),
            ],
            &[("#status", "status"), ("#error", "error")],
        )
        .await?;
    Ok(())
}
