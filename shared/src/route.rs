//! The API's routes, and the answer for a request that fits none of them.
//!
//! API Gateway sends requests no route matches to the `$default` route (the `route-fallback`
//! function), so a mistyped path or method gets the documented error body, not API Gateway's
//! own `{"message":"Not Found"}`.

use crate::error::ApiError;
use crate::http::{serve, Access, Call};
use crate::App;
use lambda_http::{Body, Request, Response};

/// Every `(method, path)` the template routes to a function. A contract test holds this equal
/// to template.yaml, the source of truth.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/connect/{link_id}"),
    ("POST", "/connect/{link_id}"),
    ("GET", "/connect/{link_id}/oauth"),
    ("GET", "/health"),
    ("GET", "/oauth/callback"),
    ("POST", "/v1/connections"),
    ("DELETE", "/v1/connections/{id}"),
    ("GET", "/v1/connections/{id}"),
    ("PATCH", "/v1/connections/{id}"),
    ("GET", "/v1/connections/{id}/credentials"),
    ("POST", "/v1/connections/{id}/links"),
    ("GET", "/v1/consumers"),
    ("POST", "/v1/consumers"),
    ("DELETE", "/v1/consumers/{id}"),
    ("GET", "/v1/consumers/{id}"),
    ("PATCH", "/v1/consumers/{id}"),
    ("GET", "/v1/consumers/{id}/connections"),
    ("POST", "/v1/consumers/{id}/connections"),
    ("POST", "/v1/credentials"),
    ("GET", "/v1/integrations"),
    ("POST", "/v1/integrations"),
    ("GET", "/v1/integrations/{id}"),
    ("PATCH", "/v1/integrations/{id}"),
    ("POST", "/v1/integrations/{id}/connect"),
    ("GET", "/v1/integrations/{id}/logo"),
    ("GET", "/v1/links"),
    ("DELETE", "/v1/links/{id}"),
    ("GET", "/v1/links/{id}"),
    ("POST", "/v1/links/{id}/send"),
    ("GET", "/v1/providers"),
    ("GET", "/v1/settings"),
    ("PATCH", "/v1/settings"),
    ("GET", "/v1/webhooks"),
    ("POST", "/v1/webhooks"),
    ("DELETE", "/v1/webhooks/{id}"),
    ("GET", "/v1/webhooks/{id}"),
    ("PATCH", "/v1/webhooks/{id}"),
    ("GET", "/v1/webhooks/{id}/deliveries"),
    ("POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/retry"),
    ("POST", "/v1/webhooks/{id}/rotate-secret"),
    ("POST", "/v1/webhooks/{id}/test"),
];

/// Whether `path` fits a route's path template: same segments, a `{param}` standing for one
/// non-empty segment (as API Gateway matches them).
pub fn path_fits(template: &str, path: &str) -> bool {
    let mut want = template.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) => {
                let param = w.starts_with('{') && w.ends_with('}');
                if (param && g.is_empty()) || (!param && w != g) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Why no route took `method path`: 405 with the methods the path has, or 404.
pub fn unrouted(method: &str, path: &str) -> ApiError {
    let allow: Vec<&'static str> = ROUTES
        .iter()
        .filter(|(_, template)| path_fits(template, path))
        .map(|(m, _)| *m)
        .collect();
    if allow.is_empty() {
        ApiError::NotFound(format!(
            "no route for {}",
            bounded(path, 128).unwrap_or_else(|| "this path".into())
        ))
    } else {
        ApiError::MethodNotAllowed {
            method: bounded(method, 16).unwrap_or_else(|| "this method".into()),
            allow,
        }
    }
}

/// `s` when short and printable: the message echoes what the caller sent, nothing more.
fn bounded(s: &str, max: usize) -> Option<String> {
    (s.len() <= max && !s.chars().any(char::is_control)).then(|| s.to_owned())
}

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    serve(app, req, "route-fallback", Access::Public, answer).await
}

async fn answer(_app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let (method, path) = call.method_and_path();
    Err(unrouted(method, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_param_is_one_non_empty_segment() {
        assert!(path_fits("/v1/consumers/{id}", "/v1/consumers/csm_1"));
        assert!(!path_fits("/v1/consumers/{id}", "/v1/consumers/"));
        assert!(!path_fits("/v1/consumers/{id}", "/v1/consumers"));
        assert!(!path_fits("/v1/consumers/{id}", "/v1/consumers/a/b"));
        assert!(!path_fits("/v1/consumers", "/v1/consumers/"));
        assert!(path_fits("/health", "/health"));
        assert!(!path_fits("/health", "/healthz"));
    }

    #[test]
    fn a_known_path_with_another_method_is_405_listing_the_others() {
        match unrouted("PUT", "/v1/consumers/csm_1") {
            ApiError::MethodNotAllowed { method, allow } => {
                assert_eq!(method, "PUT");
                assert_eq!(allow, vec!["DELETE", "GET", "PATCH"]);
            }
            other => panic!("expected 405, got {other:?}"),
        }
        let e = unrouted("TRACE", "/health");
        assert_eq!(e.status().as_u16(), 405);
        assert_eq!(e.to_string(), "TRACE is not allowed here; use GET");
    }

    #[test]
    fn an_unknown_path_is_404_whatever_the_method() {
        let e = unrouted("GET", "/v1/consumer");
        assert_eq!(e.code(), "not_found");
        assert_eq!(e.to_string(), "no route for /v1/consumer");
        assert_eq!(unrouted("DELETE", "/").code(), "not_found");
    }

    #[test]
    fn messages_never_echo_long_or_control_input() {
        let long = format!("/{}", "a".repeat(500));
        assert_eq!(unrouted("GET", &long).to_string(), "no route for this path");
        let e = unrouted("X\u{7}", "/health");
        assert_eq!(e.to_string(), "this method is not allowed here; use GET");
    }

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(seen.insert(r), "{r:?} twice");
        }
    }
}
