//! `POST /v1/links/{id}/send`: email a link now, within its limits and the tenant's hourly allowance.

use super::*;
use crate::http::{json, Access, Call, Route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const SEND: Route = Route {
    operation: "links.send",
    access: Access::Write,
    handler: |app, call| Box::pin(send_link(app, call)),
};
async fn send_link(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    // No options yet; an empty body or `{}` is what a caller sends.
    if !call.body_is_empty() {
        Fields::new(call.json_body()?, &[])?.finish()?;
    }
    let link = link::api::load(app, call).await?;
    let now = time::now();
    usable(&link, now)?;
    let token = link::new_token()?;
    let base = call.public_base_url(&app.config);
    let settings = crate::settings::of(app, &link.tenant_id).await?;
    let delivery = prepare(app, &settings, &link, &token, Trigger::Request, &base)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "the link's consumer has no email address; set the consumer's email first",
            )
        })?;
    // The tenant's hourly allowance first: over it, nothing about the link changes.
    let allowance = crate::quota::claim_email(app, &link.tenant_id, now).await??;
    // The claim: usable, not rate-limited, under the cap; the token becomes valid with it.
    let claimed = app
        .store
        .update(
            link::item_key(&link.id),
            "SET email_token_hashes = list_append(if_not_exists(email_token_hashes, :none), :hash), \
             last_sent_at = :now",
            &format!(
                "{} AND expires_at > :at \
                 AND (attribute_not_exists(last_sent_at) OR last_sent_at <= :cutoff) \
                 AND (attribute_not_exists(email_token_hashes) OR size(email_token_hashes) < :max)",
                link::OPEN
            ),
            &link::with_open_values(&[
                (":hash", token_hash_value(&token)),
                (":none", AttributeValue::L(vec![])),
                (":now", n(now.timestamp())),
                (":at", s(time::format(&now))),
                (":cutoff", n(now.timestamp() - MIN_INTERVAL_SECONDS)),
                (":max", n(MAX_EMAILS)),
            ]),
            &[link::STATUS_NAME],
        )
        .await?;
    if !claimed {
        crate::quota::release_email(app, allowance).await;
        // Explain from what the link is now.
        let current = link::api::load(app, call).await?;
        usable(&current, now)?;
        return Err(refusal(&current, now));
    }
    let message_id = match send_email(app, &delivery).await {
        Ok(id) => id,
        Err(e) => {
            crate::quota::release_email(app, allowance).await;
            // Not sent: free the rate limit again (the unused token is harmless).
            let (restore, mut values) = match link.last_sent_at {
                Some(previous) => (
                    "SET last_sent_at = :previous",
                    vec![(":previous", n(previous))],
                ),
                None => ("REMOVE last_sent_at", vec![]),
            };
            values.push((":now", n(now.timestamp())));
            let _ = app
                .store
                .update(
                    link::item_key(&link.id),
                    restore,
                    "last_sent_at = :now",
                    &values,
                    &[],
                )
                .await;
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
    Ok(json(StatusCode::OK, &recorded.to_json(time::now())))
}
