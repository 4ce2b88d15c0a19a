//! Emailing a link to its consumer: reminders on the tenant's schedule and sends on demand.
//!
//! Scheduling: a sweep every five minutes (EventBridge Scheduler → `reminder-sender`) walks a
//! sparse index of links by next reminder time (`gsi2pk = REMIND#<shard>`, `gsi2sk` = time),
//! rather than one Scheduler schedule per link: a per-link schedule would add calls to link
//! creation and completion (create, then delete), and a scan needs no cleanup — a link that
//! was used, revoked or expired leaves the index the first time the sweep meets it. Reminders
//! are planned on the link when it is created, from the tenant's schedule; whether one is
//! sent is decided when it is due (reminders on, the consumer has an email, link usable).
//!
//! Tokens: a link's token is kept only as a hash, so its URL cannot be rebuilt for an email.
//! Each email carries a fresh 256-bit token whose hash the link then also accepts.
//!
//! Every send is claimed first by a conditional write (so overlapping sweeps or repeated
//! requests never send twice), then sent through SES, then recorded on the link with the
//! `link.reminder_sent` event in one transaction.

mod message;

use crate::email::Email;
use crate::error::ApiError;
use crate::event;
use crate::link::{self, Link, Sent, Status, Trigger};
use crate::secret::Secret;
use crate::settings::Settings as TenantSettings;

use crate::store::{Item, TxOutcome};
use crate::time::{self, Timestamp};
use crate::{consumer, integration, tenant, App};
use serde_json::{json, Value};

pub mod api;
mod repo;

use repo::Advance;

pub use message::{Message, MessageError};

/// Per link: at most one email every five minutes, and ten in all.
pub const MIN_INTERVAL_SECONDS: i64 = 300;
pub const MAX_EMAILS: usize = 10;
/// A scheduled reminder is skipped when an email went out less than this ago.
const RECENT_SECONDS: i64 = 3600;

/// Who the email goes to and what it says, read when it is sent (so a changed address or
/// name is honoured).
struct Delivery {
    to: Email,
    message: Message,
}

/// `Ok(None)`: the consumer has no email address (or no consumer: nothing to send to).
async fn prepare(
    app: &App,
    settings: &TenantSettings,
    link: &Link,
    token: &Secret,
    trigger: Trigger,
    base_url: &str,
) -> Result<Option<Delivery>, ApiError> {
    let Some(consumer_id) = &link.consumer_id else {
        return Ok(None);
    };
    let Some(consumer) = consumer::get(&app.store, &link.tenant_id, consumer_id).await? else {
        return Ok(None);
    };
    let Some(to) = consumer.email.clone() else {
        return Ok(None);
    };
    let software = match &link.integration_id {
        Some(id) => match integration::get(&app.store, &link.tenant_id, id).await? {
            Some(i) => Some(i.display_name()?),
            None => None,
        },
        None => None,
    };
    // Who asks: the tenant's brand name when it has one (then its record is not read).
    let tenant_name = match &settings.branding.display_name {
        Some(name) => name.clone(),
        None => {
            tenant::get(&app.store, &link.tenant_id)
                .await?
                .ok_or_else(|| ApiError::internal("the link's tenant is missing"))?
                .name
        }
    };
    let message = Message {
        sender_name: settings
            .reminders
            .sender_name
            .clone()
            .unwrap_or_else(|| tenant_name.clone()),
        reply_to: settings.reminders.reply_to.clone(),
        tenant_name,
        color: settings.branding.primary_color.clone(),
        logo: settings
            .branding
            .logo_bytes()
            .filter(|(mime, _)| mime != "image/svg+xml"),
        consumer_name: consumer.name,
        software,
        url: link.url(base_url, token),
        expires_at: link.expires_at,
        reminder: trigger == Trigger::Schedule,
        // The link's language, else its consumer's as it is now; emails have no browser.
        lang: link
            .lang
            .or_else(|| consumer.locale.as_ref().and_then(|l| l.lang()))
            .unwrap_or(crate::lang::Lang::En),
    };
    Ok(Some(Delivery { to, message }))
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// SES refused this message for good (address, identity): retrying will not help.
    #[error("the email was refused: {0}")]
    Refused(String),
    /// SES could not be reached or throttled: a later attempt may pass.
    #[error("the email service is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

async fn send_email(app: &App, d: &Delivery) -> Result<String, SendError> {
    let from =
        app.config.email_from.as_ref().ok_or_else(|| {
            ApiError::internal("LINKGATE_EMAIL_FROM is not set for this function")
        })?;
    let raw = d
        .message
        .compose(from, &d.to)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
    let raw = RawMessage::builder()
        .data(aws_sdk_sesv2::primitives::Blob::new(raw))
        .build()
        .map_err(ApiError::internal)?;
    let out = app
        .ses()?
        .send_email()
        .from_email_address(from.as_str())
        .destination(Destination::builder().to_addresses(d.to.as_str()).build())
        .content(EmailContent::builder().raw(raw).build())
        .send()
        .await;
    match out {
        Ok(out) => Ok(out.message_id.unwrap_or_default()),
        Err(e) => {
            // A From outside the identity the role may send from is refused by IAM before
            // SES looks at it (AccessDeniedException, not in SES's model): as permanent as an
            // unverified one, so not retried every sweep.
            let denied = aws_sdk_sesv2::error::ProvideErrorMetadata::code(&e)
                == Some("AccessDeniedException");
            let permanent = denied
                || e.as_service_error().is_some_and(|s| {
                    s.is_message_rejected()
                        || s.is_bad_request_exception()
                        || s.is_mail_from_domain_not_verified_exception()
                        || s.is_not_found_exception()
                        || s.is_account_suspended_exception()
                });
            let detail = aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string();
            if permanent {
                Err(SendError::Refused(detail))
            } else {
                Err(SendError::Unavailable(detail))
            }
        }
    }
}

/// Records a sent email on the link and announces it, in one transaction.
async fn record(app: &App, link: &Link, sent: Sent, message_id: &str) -> Result<Link, ApiError> {
    let mut recorded = link.clone();
    recorded.reminders_sent.push(sent.clone());
    let now = time::now();
    let items = vec![
        repo::sent_tx(&app.store, &link.id, &sent)?,
        event::outbox(
            &app.store,
            &link.tenant_id,
            event::LINK_REMINDER_SENT,
            json!({
                "link": recorded.to_json(now),
                "reminder": {"at": sent.at, "trigger": sent.trigger, "message_id": message_id},
            }),
        )?,
    ];
    match app.store.transact(items).await? {
        TxOutcome::Committed => Ok(recorded),
        // Only a link removed meanwhile (TTL) cancels this; the email went out regardless.
        TxOutcome::Cancelled(_) => Err(ApiError::NotFound("the link disappeared".into())),
    }
}

// ---- on demand: POST /v1/links/{id}/send ----

/// 409 for a used or revoked link, 410 for an expired one.
fn usable(link: &Link, now: Timestamp) -> Result<(), ApiError> {
    match link.status_at(now) {
        Status::Waiting | Status::WaitingOauth => Ok(()),
        Status::Expired => Err(ApiError::LinkExpired(
            "the link has expired; create a new one".into(),
        )),
        Status::Granted => Err(ApiError::conflict("the link was already used")),
        Status::Revoked => Err(ApiError::conflict("the link was revoked")),
    }
}

/// Why a usable link's claim failed: the rate limit or the cap.
fn refusal(link: &Link, now: Timestamp) -> ApiError {
    if link.email_token_hashes.len() >= MAX_EMAILS {
        return ApiError::conflict(format!(
            "this link was already emailed {MAX_EMAILS} times; create a new link"
        ));
    }
    let next = link.last_sent_at.unwrap_or_default() + MIN_INTERVAL_SECONDS;
    ApiError::RateLimited {
        message: "this link was emailed less than five minutes ago".into(),
        retry_after: u64::try_from(next - now.timestamp()).unwrap_or(1).max(1),
    }
}

// ---- the schedule: the sweep ----

/// What the sweep did with one due reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Done {
    Sent,
    /// Reminders are off, the consumer has no email, or an email went out recently.
    Skipped,
    /// Used, revoked or expired: the link left the index.
    Closed,
    /// Another sweep took it first.
    Taken,
    /// SES refused it for good: skipped.
    Refused,
    /// SES or the table failed: put back for the next sweep.
    Failed,
    /// The tenant sent its emails for this hour: left due for a later sweep.
    Throttled,
}

impl Done {
    fn name(self) -> &'static str {
        match self {
            Done::Sent => "sent",
            Done::Skipped => "skipped",
            Done::Closed => "closed",
            Done::Taken => "taken",
            Done::Refused => "refused",
            Done::Failed => "failed",
            Done::Throttled => "throttled",
        }
    }
}

/// Every reminder due now, a few at a time. Returns counts for the log and the caller.
/// (`_deadline`, the invocation's end, is not needed here.)
pub async fn sweep(app: &App, _deadline: std::time::SystemTime) -> Result<Value, ApiError> {
    let now = time::now();
    let upto = time::format(&now);
    let due = repo::due(&app.store, &upto).await?;
    let base = app.config.public_base_url.clone().unwrap_or_default();
    use futures_util::StreamExt;
    let results: Vec<Done> = futures_util::stream::iter(due)
        .map(|item| {
            let base = base.clone();
            async move {
                match remind(app, item, now, &base).await {
                    Ok(done) => done,
                    Err(e) => {
                        tracing::error!(error = %e, "reminder failed");
                        Done::Failed
                    }
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for r in results {
        *counts.entry(r.name()).or_default() += 1;
    }
    tracing::info!(?counts, "reminder sweep done");
    Ok(json!(counts))
}

async fn remind(app: &App, item: Item, now: Timestamp, base: &str) -> Result<Done, ApiError> {
    let seen = item
        .get("gsi2sk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| ApiError::internal("an index entry without gsi2sk"))?;
    let link = link::from_item(item)?;
    if !link.is_open(now) {
        let done = repo::leave_index(&app.store, &link.id, &seen).await?;
        return Ok(if done { Done::Closed } else { Done::Taken });
    }
    let advance = Advance::from(&link, &seen);
    let settings = crate::settings::of(app, &link.tenant_id).await?;
    let recent = link
        .last_sent_at
        .is_some_and(|at| now.timestamp() - at < RECENT_SECONDS);
    let token = link::new_token()?;
    let delivery = if settings.reminders.enabled && !recent {
        prepare(app, &settings, &link, &token, Trigger::Schedule, base).await?
    } else {
        None
    };
    let Some(delivery) = delivery else {
        let done = repo::move_on(&app.store, &link.id, &advance, &seen).await?;
        return Ok(if done { Done::Skipped } else { Done::Taken });
    };
    // The tenant's hourly allowance: over it, the reminder stays due, untouched.
    let Ok(allowance) = crate::quota::claim_email(app, &link.tenant_id, now).await? else {
        return Ok(Done::Throttled);
    };
    // Claim: move the index on and accept the email's token, only if nobody else did.
    let claimed = repo::claim_scheduled(&app.store, &link.id, &advance, &seen, &token, now).await?;
    if !claimed {
        crate::quota::release_email(app, allowance).await;
        return Ok(Done::Taken);
    }
    let sent = send_email(app, &delivery).await;
    if sent.is_err() {
        crate::quota::release_email(app, allowance).await;
    }
    match sent {
        Ok(message_id) => {
            let sent = Sent {
                at: time::format(&now),
                trigger: Trigger::Schedule,
            };
            let claimed = Link {
                reminders_planned: advance.rest,
                last_sent_at: Some(now.timestamp()),
                ..link
            };
            record(app, &claimed, sent, &message_id).await?;
            Ok(Done::Sent)
        }
        Err(SendError::Refused(m)) => {
            tracing::warn!(link_id = %link.id, error = %m, "SES refused a reminder");
            Ok(Done::Refused)
        }
        Err(e) => {
            tracing::warn!(link_id = %link.id, error = %e, "reminder not sent; retried next sweep");
            // Put the reminder back where the sweep will find it again.
            let mut back = link.reminders_planned.clone();
            back.retain(|t| t.as_str() >= seen.as_str());
            repo::put_back(&app.store, &link.id, &back, &seen).await?;
            Ok(Done::Failed)
        }
    }
}

// Operations: typed in, typed out; `api.rs` parses the request and renders the answer.

/// Emails the link to its consumer now, within the link's limits (one email every five
/// minutes, ten in all) and the tenant's hourly allowance; answers the link as recorded.
/// `base_url` is the public base of the page the email links to.
pub async fn send_now(app: &App, link: Link, base_url: &str) -> Result<Link, ApiError> {
    let now = time::now();
    usable(&link, now)?;
    let token = link::new_token()?;
    let settings = crate::settings::of(app, &link.tenant_id).await?;
    let delivery = prepare(app, &settings, &link, &token, Trigger::Request, base_url)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "the link's consumer has no email address; set the consumer's email first",
            )
        })?;
    // The tenant's hourly allowance first: over it, nothing about the link changes.
    let allowance = crate::quota::claim_email(app, &link.tenant_id, now).await??;
    // The claim: usable, not rate-limited, under the cap; the token becomes valid with it.
    let claimed = repo::claim_request(&app.store, &link.id, &token, now).await?;
    if !claimed {
        crate::quota::release_email(app, allowance).await;
        // Explain from what the link is now.
        let current = link::load(app, &link.tenant_id, &link.id).await?;
        usable(&current, now)?;
        return Err(refusal(&current, now));
    }
    let message_id = match send_email(app, &delivery).await {
        Ok(id) => id,
        Err(e) => {
            crate::quota::release_email(app, allowance).await;
            // Not sent: free the rate limit again (the unused token is harmless).
            let _ = repo::unclaim(&app.store, &link, now).await;
            return Err(match e {
                SendError::Refused(m) => {
                    tracing::warn!(link_id = %link.id, error = %m, "SES refused the email");
                    ApiError::conflict(
                        "the email service refused this email; check the consumer's email address",
                    )
                }
                SendError::Unavailable(m) => {
                    tracing::warn!(link_id = %link.id, error = %m, "SES unavailable");
                    ApiError::EmailUnavailable(
                        "the email service is unavailable; retry later".into(),
                    )
                }
                SendError::Api(e) => e,
            });
        }
    };
    let mut claimed_link = link.clone();
    claimed_link.last_sent_at = Some(now.timestamp());
    let sent = Sent {
        at: time::format(&now),
        trigger: Trigger::Request,
    };
    let recorded = record(app, &claimed_link, sent, &message_id).await?;
    tracing::info!(link_id = %link.id, "link sent by email");
    Ok(recorded)
}

#[cfg(test)]
mod tests;
