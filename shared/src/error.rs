//! The HTTP boundary's one error type and its one mapping to a response.

use lambda_http::http::StatusCode;
use serde::Serialize;

/// One problem with one input field; `field` names it (dotted for nested values), `message`
/// says what is wrong without echoing the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation {
        message: String,
        details: Vec<FieldError>,
    },
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("this API key's role may not perform this operation")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        message: String,
        details: Vec<FieldError>,
    },
    /// 409 `already_connected`: the owner already has a live connection to that provider.
    #[error("{message}")]
    AlreadyConnected {
        message: String,
        details: Vec<FieldError>,
    },
    /// 409 `needs_reauth`: the provider refused the stored grant; a new link must be completed.
    #[error("{0}")]
    NeedsReauth(String),
    /// 404 `credential_not_found`: a `crd_` id in a body names nothing usable.
    #[error("{0}")]
    CredentialNotFound(String),
    /// 503 `provider_unavailable`: the provider failed in a way that may pass; retry later.
    #[error("{0}")]
    ProviderUnavailable(String),
    /// 405 `method_not_allowed`: the path exists, the method does not; `allow` lists those
    /// that do (sent as the `Allow` header too).
    #[error("{method} is not allowed here; use {}", allow.join(" or "))]
    MethodNotAllowed {
        method: String,
        allow: Vec<&'static str>,
    },
    /// 410 `link_expired`: the link is past `expires_at`.
    #[error("{0}")]
    LinkExpired(String),
    /// 409 `limit_reached`: the tenant has as many of these as it may (see `quota`).
    #[error("{0}")]
    LimitReached(String),
    /// 429 `rate_limited`: too soon; `retry_after` seconds (sent as `Retry-After` too).
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    /// 503 `email_unavailable`: the email service failed in a way that may pass.
    #[error("{0}")]
    EmailUnavailable(String),
    #[error("request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Anything the caller cannot fix. The source is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn validation(message: impl Into<String>, details: Vec<FieldError>) -> Self {
        ApiError::Validation {
            message: message.into(),
            details,
        }
    }

    pub fn field(field: &str, message: &str) -> Self {
        ApiError::validation(
            format!("invalid {field}"),
            vec![FieldError::new(field, message)],
        )
    }

    /// 404 for a path id: names the kind and (a bounded prefix of) the id as given.
    pub fn no_such(kind: &str, raw_id: &str) -> Self {
        ApiError::NotFound(format!(
            "no {kind} with id '{}'",
            raw_id.chars().take(64).collect::<String>()
        ))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::Conflict {
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. }
            | ApiError::AlreadyConnected { .. }
            | ApiError::NeedsReauth(_)
            | ApiError::LimitReached(_) => StatusCode::CONFLICT,
            ApiError::CredentialNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::ProviderUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::LinkExpired(_) => StatusCode::GONE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::EmailUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } => "validation_error",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::AlreadyConnected { .. } => "already_connected",
            ApiError::NeedsReauth(_) => "needs_reauth",
            ApiError::CredentialNotFound(_) => "credential_not_found",
            ApiError::ProviderUnavailable(_) => "provider_unavailable",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::LinkExpired(_) => "link_expired",
            ApiError::LimitReached(_) => "limit_reached",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::EmailUnavailable(_) => "email_unavailable",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Internal(_) => "internal",
        }
    }

    fn details(&self) -> &[FieldError] {
        match self {
            ApiError::Validation { details, .. }
            | ApiError::Conflict { details, .. }
            | ApiError::AlreadyConnected { details, .. } => details,
            _ => &[],
        }
    }

    /// The documented error body: `{"error": {"code", "message", "request_id", "details"?}}`.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.code(),
            "message": self.to_string(),
            "request_id": request_id,
        });
        let details = self.details();
        if !details.is_empty() {
            error["details"] = serde_json::json!(details);
        }
        serde_json::json!({ "error": error })
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::Internal(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_documented_shape() {
        let e = ApiError::validation(
            "invalid request body",
            vec![FieldError::new("name", "is required")],
        );
        let b = e.body("req-1");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(b["error"]["code"], "validation_error");
        assert_eq!(b["error"]["request_id"], "req-1");
        assert_eq!(b["error"]["details"][0]["field"], "name");
    }

    #[test]
    fn internal_hides_its_source() {
        let e = ApiError::internal("table linkgate-prod throttled at partition 7");
        let b = e.body("r");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(b["error"]["message"], "internal error");
        assert!(b["error"].get("details").is_none());
        assert!(!b.to_string().contains("throttled"));
    }

    #[test]
    fn every_variant_maps_to_its_status() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::Forbidden, 403, "forbidden"),
            (ApiError::NotFound("x".into()), 404, "not_found"),
            (ApiError::conflict("x"), 409, "conflict"),
            (
                ApiError::MethodNotAllowed {
                    method: "PUT".into(),
                    allow: vec!["GET"],
                },
                405,
                "method_not_allowed",
            ),
            (
                ApiError::AlreadyConnected {
                    message: "x".into(),
                    details: vec![],
                },
                409,
                "already_connected",
            ),
            (ApiError::NeedsReauth("x".into()), 409, "needs_reauth"),
            (ApiError::LinkExpired("x".into()), 410, "link_expired"),
            (
                ApiError::RateLimited {
                    message: "x".into(),
                    retry_after: 3,
                },
                429,
                "rate_limited",
            ),
            (
                ApiError::EmailUnavailable("x".into()),
                503,
                "email_unavailable",
            ),
            (
                ApiError::CredentialNotFound("x".into()),
                404,
                "credential_not_found",
            ),
            (
                ApiError::ProviderUnavailable("x".into()),
                503,
                "provider_unavailable",
            ),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (
                ApiError::PayloadTooLarge { limit: 1 },
                413,
                "payload_too_large",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status().as_u16(), status);
            assert_eq!(e.code(), code);
        }
    }
}
