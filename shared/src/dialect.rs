//! The API dialects one deployment speaks: our own (`/v1`) and, under `/compat/<name>`, those
//! of the services Linkgate replaces, so a platform moving over keeps its client. A dialect
//! is a thin adapter over the same domain operations; what differs is the shape of bodies,
//! which each dialect's boundary under `compat` translates, and the shape of errors, which this module renders
//! for every answer under the dialect's prefix (the fallback's 404 and 405 included, and the
//! authentication failures no handler sees). docs/compat.md documents each one.

use crate::error::{ApiError, FieldError};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/v1`, the hosted pages and everything else.
    Native,
    /// CauseFlow's integrations API: our paths and error codes, camelCase bodies.
    CauseFlow,
    /// Chift's consumers and connections API: bearer tokens from `POST /token`, UUID ids.
    Chift,
    /// OpenInt's connections API: the platform's own customer ids, `settings` for secrets.
    OpenInt,
    /// Albato's connection-by-link sharings: `{success, data}` envelopes, integer ids.
    Albato,
}

impl Dialect {
    /// The dialect a request path speaks, by its prefix.
    pub fn of_path(path: &str) -> Dialect {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if under("/compat/causeflow") {
            Dialect::CauseFlow
        } else if under("/compat/chift") {
            Dialect::Chift
        } else if under("/compat/openint") {
            Dialect::OpenInt
        } else if under("/compat/albato") {
            Dialect::Albato
        } else {
            Dialect::Native
        }
    }

    /// What OpenInt's client reads in `x-should-retry`: whether retrying the same request
    /// can succeed (its client retries 408, 409, 429 and 5xx unless told not to). Other
    /// dialects send nothing.
    pub fn should_retry(self, error: &ApiError) -> Option<bool> {
        (self == Dialect::OpenInt).then_some({
            matches!(
                error,
                ApiError::RateLimited { .. }
                    | ApiError::Conflict { .. }
                    | ApiError::ProviderUnavailable(_)
                    | ApiError::EmailUnavailable(_)
                    | ApiError::Internal(_)
            )
        })
    }

    /// Whether callers authenticate with an access token (`access_token`) rather than the
    /// API key itself.
    pub fn uses_access_tokens(self) -> bool {
        self == Dialect::Chift
    }

    /// The error body this dialect documents for `error`.
    pub fn error_body(self, error: &ApiError, request_id: &str) -> Value {
        let native = error.body(request_id);
        match self {
            Dialect::Native => native,
            Dialect::CauseFlow => {
                let e = &native["error"];
                let mut body = json!({
                    "code": e["code"],
                    "message": e["message"],
                    "requestId": request_id,
                });
                if let Some(details) = e.get("details") {
                    body["details"] = details.clone();
                }
                json!({ "error": body })
            }
            // Albato's envelope, `success: false`, with our error inside.
            Dialect::Albato => {
                let e = &native["error"];
                let mut error = json!({
                    "code": e["code"],
                    "message": e["message"],
                    "requestId": request_id,
                });
                if let Some(details) = e.get("details") {
                    error["details"] = details.clone();
                }
                json!({"success": false, "error": error})
            }
            // OpenInt's errors name a tRPC code; ours rides beside it, and each problem is an
            // issue with the path of the field it is about.
            Dialect::OpenInt => {
                let e = &native["error"];
                let code = match error.status().as_u16() {
                    400 => "BAD_REQUEST",
                    401 => "UNAUTHORIZED",
                    403 => "FORBIDDEN",
                    404 => "NOT_FOUND",
                    405 => "METHOD_NOT_SUPPORTED",
                    409 => "CONFLICT",
                    410 => "PRECONDITION_FAILED",
                    413 => "PAYLOAD_TOO_LARGE",
                    415 => "UNSUPPORTED_MEDIA_TYPE",
                    429 => "TOO_MANY_REQUESTS",
                    503 => "SERVICE_UNAVAILABLE",
                    _ => "INTERNAL_SERVER_ERROR",
                };
                let issues: Vec<Value> = e["details"]
                    .as_array()
                    .map(|d| {
                        d.iter()
                            .map(|f| {
                                json!({
                                    "path": f["field"].as_str().unwrap_or_default().split('.').collect::<Vec<_>>(),
                                    "message": f["message"],
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "code": code,
                    "message": e["message"],
                    "error_code": e["code"],
                    "issues": issues,
                    "request_id": request_id,
                })
            }
            // Chift's `ChiftError`: its client raises on `status: "error"` and shows
            // `message`, `error_code` and `detail` (a string).
            Dialect::Chift => {
                let e = &native["error"];
                let detail = e["details"]
                    .as_array()
                    .map(|d| {
                        d.iter()
                            .map(|f| {
                                format!(
                                    "{}: {}",
                                    f["field"].as_str().unwrap_or_default(),
                                    f["message"].as_str().unwrap_or_default()
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default();
                json!({
                    "status": "error",
                    "message": e["message"],
                    "error_code": e["code"],
                    "detail": detail,
                    "request_id": request_id,
                })
            }
        }
    }
}

/// `error` with the fields its details name in camelCase, for a dialect whose bodies are
/// camelCase: what the domain says of `credential_id` the caller sent as `credentialId`.
pub fn camel_fields(error: ApiError) -> ApiError {
    let camel_all = |details: Vec<FieldError>| -> Vec<FieldError> {
        details
            .into_iter()
            .map(|d| FieldError::new(camel_path(&d.field), d.message))
            .collect()
    };
    match error {
        ApiError::Validation { message, details } => ApiError::Validation {
            message,
            details: camel_all(details),
        },
        ApiError::Conflict { message, details } => ApiError::Conflict {
            message,
            details: camel_all(details),
        },
        ApiError::AlreadyConnected { message, details } => ApiError::AlreadyConnected {
            message,
            details: camel_all(details),
        },
        other => other,
    }
}

/// `credential_id` → `credentialId`; a dotted path converts segment by segment, but only its
/// first segment is ours (`values.api_key` names a provider's own field, kept as it is).
pub fn camel_path(field: &str) -> String {
    match field.split_once('.') {
        Some((head, rest)) => format!("{}.{rest}", camel(head)),
        None => camel(field),
    }
}

/// `credential_id` → `credentialId`.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `credentialId` → `credential_id`. Keys already in snake case, or with characters a camel
/// name never has, come back as they were, so a native key sent to a dialect still parses.
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A camelCase body in our names (`redirectUrl` → `redirect_url`), its own keys only. A key
/// that is not camelCase is refused as unknown (so `credential_id` beside `credentialId`
/// cannot pick one of two values silently), with the other unknown keys `parse` reports.
pub fn from_camel(value: Value) -> Result<Value, ApiError> {
    if let Value::Object(map) = &value {
        let mut wrong: Vec<FieldError> = map
            .keys()
            .filter(|k| k.contains('_'))
            .map(|k| FieldError::new(k.as_str(), "unknown field"))
            .collect();
        if !wrong.is_empty() {
            wrong.sort_by(|a, b| a.field.cmp(&b.field));
            return Err(ApiError::validation("invalid request body", wrong));
        }
    }
    Ok(rename_keys(value, snake))
}

/// An object's own keys (not those of the values inside it: metadata and a provider's
/// fields are the caller's names) converted by `convert`; anything else as it is.
pub fn rename_keys(value: Value, convert: impl Fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (convert(&k), v))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_convert_both_ways() {
        assert_eq!(camel("credential_id"), "credentialId");
        assert_eq!(camel("connected_at"), "connectedAt");
        assert_eq!(camel("provider"), "provider");
        assert_eq!(snake("redirectUrl"), "redirect_url");
        assert_eq!(snake("credential_id"), "credential_id");
        assert_eq!(
            camel_path("connection_fields.api_key"),
            "connectionFields.api_key"
        );
        for name in ["consumer_id", "next_cursor", "authorization_url"] {
            assert_eq!(snake(&camel(name)), name);
        }
    }

    #[test]
    fn only_the_top_level_keys_are_renamed() {
        let v = rename_keys(json!({"credentialId": "x", "values": {"apiKey": 1}}), snake);
        assert_eq!(v, json!({"credential_id": "x", "values": {"apiKey": 1}}));
        assert_eq!(rename_keys(json!([1]), snake), json!([1]));
    }

    #[test]
    fn chift_errors_are_what_its_client_raises_on() {
        let e = ApiError::validation(
            "invalid request body",
            vec![FieldError::new("name", "is required")],
        );
        let b = Dialect::Chift.error_body(&e, "r");
        assert_eq!(b["status"], "error");
        assert_eq!(b["error_code"], "validation_error");
        assert_eq!(b["message"], "invalid request body");
        assert_eq!(b["detail"], "name: is required");
        assert_eq!(
            Dialect::Chift.error_body(&ApiError::Unauthorized, "r")["detail"],
            ""
        );
    }

    #[test]
    fn openint_errors_name_a_trpc_code_and_whether_to_retry() {
        let e = ApiError::validation(
            "invalid request body",
            vec![FieldError::new("data.connector_name", "is required")],
        );
        let b = Dialect::OpenInt.error_body(&e, "r");
        assert_eq!(b["code"], "BAD_REQUEST");
        assert_eq!(b["error_code"], "validation_error");
        assert_eq!(b["issues"][0]["path"], json!(["data", "connector_name"]));
        assert_eq!(Dialect::OpenInt.should_retry(&e), Some(false));
        assert_eq!(
            Dialect::OpenInt.should_retry(&ApiError::conflict("concurrent request; retry")),
            Some(true)
        );
        assert_eq!(Dialect::Native.should_retry(&e), None);
        assert_eq!(
            Dialect::of_path("/compat/openint/v2/connection"),
            Dialect::OpenInt
        );
    }

    #[test]
    fn a_camel_body_refuses_snake_keys_instead_of_choosing_between_two() {
        let e = from_camel(json!({"credentialId": "a", "credential_id": "b"})).unwrap_err();
        let b = Dialect::CauseFlow.error_body(&e, "r");
        assert_eq!(
            b["error"]["details"][0]["field"], "credential_id",
            "named as sent"
        );
        assert_eq!(
            from_camel(json!({"redirectUrl": "x"})).unwrap(),
            json!({"redirect_url": "x"})
        );
    }

    #[test]
    fn the_dialect_follows_the_path_prefix() {
        assert_eq!(
            Dialect::of_path("/compat/causeflow/v1/integrations"),
            Dialect::CauseFlow
        );
        assert_eq!(Dialect::of_path("/compat/causeflowx"), Dialect::Native);
        assert_eq!(Dialect::of_path("/compat/chift/token"), Dialect::Chift);
        assert_eq!(Dialect::of_path("/compat/chift"), Dialect::Chift);
        assert!(Dialect::Chift.uses_access_tokens() && !Dialect::Native.uses_access_tokens());
        assert_eq!(Dialect::of_path("/v1/integrations"), Dialect::Native);
    }

    #[test]
    fn causeflow_errors_keep_our_codes_in_camel_case() {
        let e = ApiError::validation(
            "invalid request body",
            vec![FieldError::new("credential_id", "is required")],
        );
        let b = Dialect::CauseFlow.error_body(&camel_fields(e), "req-1");
        assert_eq!(b["error"]["code"], "validation_error");
        assert_eq!(b["error"]["requestId"], "req-1");
        assert_eq!(b["error"]["details"][0]["field"], "credentialId");
        let e = ApiError::validation(
            "invalid request body",
            vec![FieldError::new("credential_id", "is required")],
        );
        assert!(b["error"].get("request_id").is_none());
        let native = Dialect::Native.error_body(&e, "req-1");
        assert_eq!(native, e.body("req-1"));
    }
}
