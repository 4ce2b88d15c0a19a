//! The API's routes, and the answer for a request that fits none of them.
//!
//! API Gateway sends requests no route matches to the `$default` route (the `route-fallback`
//! function), so a mistyped path or method gets the documented error body, not API Gateway's
//! own `{"message":"Not Found"}`.

use crate::error::ApiError;
use crate::http::{Access, Call, Route};
use crate::App;
use lambda_http::{Body, Response};

/// Declares both tables below from one list, so they cannot disagree.
macro_rules! routes {
    ($($method:literal $path:literal => $route:path,)*) => {
        /// Every route the template sends to a function: method, path, and the route that
        /// serves it (operation, access, handler). A contract test holds the methods and paths
        /// equal to template.yaml, the source of truth; each function's `main.rs` runs its route.
        pub const ROUTES: &[(&str, &str, &Route)] = &[$(($method, $path, &$route)),*];
        /// The same methods and paths without their handlers, for the fallback: naming a
        /// path's methods must not link every handler into its binary.
        pub const METHODS_AND_PATHS: &[(&str, &str)] = &[$(($method, $path)),*];
    };
}

routes! {
    "GET" "/connect/{link_id}" => crate::connect::api::SHOW,
    "POST" "/connect/{link_id}" => crate::connect::api::SUBMIT,
    "GET" "/connect/{link_id}/oauth" => crate::connect::api::oauth::START,
    "POST" "/compat/causeflow/v1/credentials" => crate::compat::causeflow::api::STORE_CREDENTIALS,
    "GET" "/compat/causeflow/v1/integrations" => crate::compat::causeflow::api::LIST_INTEGRATIONS,
    "POST" "/compat/causeflow/v1/integrations/{provider}/connect" => crate::compat::causeflow::api::CONNECT,
    "GET" "/compat/chift/integrations" => crate::compat::chift::api::INTEGRATIONS,
    "GET" "/compat/chift/integrations/{integrationid}/logo.json" => crate::compat::chift::api::LOGO,
    "GET" "/compat/chift/integrations/{integrationid}/icon.json" => crate::compat::chift::api::ICON,
    "POST" "/compat/chift/consumers" => crate::compat::chift::api::CONSUMERS_CREATE,
    "GET" "/compat/chift/consumers" => crate::compat::chift::api::CONSUMERS_LIST,
    "GET" "/compat/chift/consumers/{consumer_id}" => crate::compat::chift::api::CONSUMERS_GET,
    "PATCH" "/compat/chift/consumers/{consumer_id}" => crate::compat::chift::api::CONSUMERS_UPDATE,
    "DELETE" "/compat/chift/consumers/{consumer_id}" => crate::compat::chift::api::CONSUMERS_DELETE,
    "GET" "/compat/chift/consumers/{consumer_id}/connections" => crate::compat::chift::api::CONNECTIONS_LIST,
    "POST" "/compat/chift/consumers/{consumer_id}/connections" => crate::compat::chift::api::CONNECTIONS_CREATE,
    "GET" "/compat/chift/consumers/{consumer_id}/connections/{connectionid}" => crate::compat::chift::api::CONNECTIONS_GET,
    "PATCH" "/compat/chift/consumers/{consumer_id}/connections/{connectionid}" => crate::compat::chift::api::CONNECTIONS_UPDATE,
    "DELETE" "/compat/chift/consumers/{consumer_id}/connections/{connectionid}" => crate::compat::chift::api::CONNECTIONS_DELETE,
    "POST" "/compat/chift/token" => crate::compat::chift::api::TOKEN,
    "POST" "/compat/openint/v2/connection" => crate::compat::openint::api::CREATE,
    "POST" "/compat/openint/connection" => crate::compat::openint::api::CREATE_SEED,
    "GET" "/compat/openint/v2/connection" => crate::compat::openint::api::LIST,
    "GET" "/compat/openint/v2/connection/{id}" => crate::compat::openint::api::GET,
    "POST" "/compat/openint/v1/connection/{id}/check" => crate::compat::openint::api::CHECK,
    "DELETE" "/compat/openint/v2/connection/{id}" => crate::compat::openint::api::DELETE,
    "POST" "/compat/openint/v1/customer/{customer_id}/token" => crate::compat::openint::api::TOKEN,
    "POST" "/compat/albato/credentials/grant-access-sharing" => crate::compat::albato::api::CREATE,
    "GET" "/compat/albato/credentials/grant-access-sharing" => crate::compat::albato::api::LIST,
    "GET" "/compat/albato/credentials/grant-access-sharing/{id}" => crate::compat::albato::api::GET,
    "PUT" "/compat/albato/credentials/grant-access-sharing/{id}" => crate::compat::albato::api::RENEW,
    "DELETE" "/compat/albato/credentials/grant-access-sharing/{id}" => crate::compat::albato::api::DELETE,
    "GET" "/compat/albato/connect" => crate::compat::albato::api::CONNECT,
    "GET" "/console" => crate::connect::api::console::HOME,
    "GET" "/console/{page}" => crate::connect::api::console::PAGE,
    "GET" "/console/{page}/{id}" => crate::connect::api::console::ITEM,
    "POST" "/console/{page}" => crate::connect::api::console::FORM,
    "POST" "/console/{page}/{id}" => crate::connect::api::console::ITEM_FORM,
    "GET" "/health" => HEALTH,
    "GET" "/oauth/callback" => crate::connect::api::oauth::CALLBACK,
    "GET" "/portal/{portal_id}" => crate::connect::api::portal::PAGE,
    "POST" "/portal/{portal_id}" => crate::connect::api::portal::ACTION,
    "POST" "/v1/connections" => crate::connection::api::IMPORT,
    "DELETE" "/v1/connections/{id}" => crate::connection::api::REVOKE,
    "GET" "/v1/connections/{id}" => crate::connection::api::READ,
    "PATCH" "/v1/connections/{id}" => crate::connection::api::UPDATE,
    "POST" "/v1/connections/{id}/check" => crate::connection::api::CHECK,
    "GET" "/v1/connections/{id}/credentials" => crate::connection::api::CREDENTIALS,
    "POST" "/v1/connections/{id}/links" => crate::connection::api::NEW_LINK,
    "GET" "/v1/consumers" => crate::consumer::api::LIST,
    "POST" "/v1/consumers" => crate::consumer::api::CREATE,
    "DELETE" "/v1/consumers/{id}" => crate::consumer::api::DELETE,
    "GET" "/v1/consumers/{id}" => crate::consumer::api::GET,
    "PATCH" "/v1/consumers/{id}" => crate::consumer::api::UPDATE,
    "GET" "/v1/consumers/{id}/connections" => crate::connection::api::LIST_FOR_CONSUMER,
    "POST" "/v1/consumers/{id}/connections" => crate::connection::api::CREATE,
    "POST" "/v1/consumers/{id}/portal-links" => crate::portal::api::CREATE,
    "POST" "/v1/credentials" => crate::credential::api::CREATE,
    "GET" "/v1/integrations" => crate::integration::api::LIST,
    "POST" "/v1/integrations" => crate::integration::api::CREATE,
    "GET" "/v1/integrations/{id}" => crate::integration::api::READ,
    "PATCH" "/v1/integrations/{id}" => crate::integration::api::UPDATE,
    "POST" "/v1/integrations/{id}/connect" => crate::direct_connect::api::CONNECT,
    "GET" "/v1/integrations/{id}/logo" => crate::integration::api::LOGO,
    "GET" "/v1/events" => crate::event::api::LIST,
    "GET" "/v1/events/{id}" => crate::event::api::READ,
    "GET" "/v1/links" => crate::link::api::LIST,
    "DELETE" "/v1/links/{id}" => crate::link::api::REVOKE,
    "GET" "/v1/links/{id}" => crate::link::api::READ,
    "POST" "/v1/links/{id}/send" => crate::reminder::api::SEND,
    "GET" "/v1/providers" => crate::provider::api::LIST,
    "GET" "/v1/providers/custom" => crate::custom_provider::api::LIST,
    "POST" "/v1/providers/custom" => crate::custom_provider::api::CREATE,
    "DELETE" "/v1/providers/custom/{id}" => crate::custom_provider::api::DELETE,
    "GET" "/v1/providers/custom/{id}" => crate::custom_provider::api::READ,
    "PATCH" "/v1/providers/custom/{id}" => crate::custom_provider::api::UPDATE,
    "GET" "/v1/settings" => crate::settings::api::GET,
    "PATCH" "/v1/settings" => crate::settings::api::UPDATE,
    "GET" "/v1/webhooks" => crate::webhook::api::LIST,
    "POST" "/v1/webhooks" => crate::webhook::api::CREATE,
    "DELETE" "/v1/webhooks/{id}" => crate::webhook::api::DELETE,
    "GET" "/v1/webhooks/{id}" => crate::webhook::api::READ,
    "PATCH" "/v1/webhooks/{id}" => crate::webhook::api::UPDATE,
    "GET" "/v1/webhooks/{id}/deliveries" => crate::webhook::delivery::api::LIST,
    "POST" "/v1/webhooks/{id}/deliveries/{delivery_id}/retry" => crate::webhook::delivery::api::RETRY,
    "POST" "/v1/webhooks/{id}/recover" => crate::webhook::recovery::api::START,
    "GET" "/v1/webhooks/{id}/recoveries/{recovery_id}" => crate::webhook::recovery::api::READ,
    "POST" "/v1/webhooks/{id}/rotate-secret" => crate::webhook::api::ROTATE_SECRET,
    "POST" "/v1/webhooks/{id}/test" => crate::webhook::delivery::api::TEST,
}

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
    let allow: Vec<&'static str> = METHODS_AND_PATHS
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

/// `GET /health`: liveness without authentication.
pub const HEALTH: Route = Route {
    operation: "health",
    access: Access::Public,
    handler: |_, _| {
        Box::pin(async {
            Ok(crate::http::json(
                lambda_http::http::StatusCode::OK,
                &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
            ))
        })
    },
};

pub const HANDLE: Route = Route {
    operation: "route-fallback",
    access: Access::Public,
    handler: |app, call| Box::pin(answer(app, call)),
};

async fn answer(_app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let (method, path) = call.method_and_path();
    Err(unrouted(method, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_call_what_follows_the_path_and_method() {
        for (method, path, route) in ROUTES {
            // Reads of secrets need an admin key, like writes.
            let secret = *path == "/v1/connections/{id}/credentials";
            let token = *path == "/compat/chift/token" || *path == "/compat/albato/connect";
            let want = if token {
                Access::Public
            } else if secret {
                Access::Admin
            } else if path.starts_with("/v1/") || path.starts_with("/compat/") {
                if *method == "GET" {
                    Access::Read
                } else {
                    Access::Write
                }
            } else {
                Access::Public
            };
            assert_eq!(route.access, want, "{method} {path} ({})", route.operation);
        }
        let mut operations: Vec<&str> = ROUTES.iter().map(|(_, _, r)| r.operation).collect();
        operations.sort_unstable();
        operations.dedup();
        assert_eq!(
            operations.len(),
            ROUTES.len(),
            "one operation name per route"
        );
    }

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
        for (method, path, _) in ROUTES {
            assert!(seen.insert((method, path)), "{method} {path} twice");
        }
    }
}
