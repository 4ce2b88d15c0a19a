//! The email to a tenant's contact address when one of its endpoints is disabled. The
//! `webhook.disabled` event is the record; this is a courtesy, so a failure is logged and
//! nothing else (the endpoint stays disabled either way).

use super::Endpoint;
use crate::error::ApiError;
use crate::App;

fn text(endpoint: &Endpoint, reason: &str) -> String {
    format!(
        "Linkgate stopped sending events to your webhook endpoint\n\n  {url}\n  ({id})\n\n\
         because {reason}.\n\n\
         Events keep being recorded. When the receiver works again:\n\
         1. enable the endpoint: PATCH /v1/webhooks/{id} with {{\"enabled\": true}}\n\
         2. send what it missed: POST /v1/webhooks/{id}/recover with {{\"since\": \"<when it stopped>\"}}\n\
         (or read them with GET /v1/events).\n",
        url = endpoint.url,
        id = endpoint.id,
    )
}

/// Writes to the tenant's contact address, when it has one.
pub async fn disabled(app: &App, endpoint: &Endpoint, reason: &str) {
    if let Err(e) = send(app, endpoint, reason).await {
        tracing::error!(endpoint_id = %endpoint.id, error = %e, "disabled-endpoint notice not sent");
    }
}

async fn send(app: &App, endpoint: &Endpoint, reason: &str) -> Result<(), ApiError> {
    let settings = crate::settings::of(app, &endpoint.tenant_id).await?;
    let Some(to) = settings.contact_email.as_ref() else {
        return Ok(());
    };
    let from =
        app.config.email_from.as_ref().ok_or_else(|| {
            ApiError::internal("LINKGATE_EMAIL_FROM is not set for this function")
        })?;
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    let content = |data: String| {
        Content::builder()
            .data(data)
            .charset("UTF-8")
            .build()
            .map_err(ApiError::internal)
    };
    let message = Message::builder()
        .subject(content("Linkgate disabled a webhook endpoint".into())?)
        .body(
            Body::builder()
                .text(content(text(endpoint, reason))?)
                .build(),
        )
        .build();
    app.ses()?
        .send_email()
        .from_email_address(from.as_str())
        .destination(Destination::builder().to_addresses(to.as_str()).build())
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await
        .map_err(|e| {
            ApiError::internal(format!(
                "SES: {}",
                aws_sdk_sesv2::error::DisplayErrorContext(&e)
            ))
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_says_what_to_do() {
        let endpoint: Endpoint = serde_json::from_value(serde_json::json!({
            "id": "wh_0193a1b2c3d47000800000000000000a",
            "tenant_id": "ten_0193a1b2c3d47000800000000000000a",
            "url": "https://hooks.example.com/in",
            "events": ["*"],
            "enabled": false,
            "secrets": [],
            "created_at": "2026-12-01T00:00:00.000Z",
            "updated_at": "2026-12-01T00:00:00.000Z",
            "version": 1
        }))
        .unwrap();
        let t = text(&endpoint, "the endpoint answered 410 Gone");
        assert!(t.contains("https://hooks.example.com/in"));
        assert!(t.contains("because the endpoint answered 410 Gone."));
        assert!(t.contains("PATCH /v1/webhooks/wh_0193a1b2c3d47000800000000000000a"));
        assert!(t.contains("/recover"));
    }
}
