//! `GET /v1/providers`: the tenant's custom providers and the catalog, filtered.

use super::{catalog, Provider, CATEGORIES};
use crate::error::ApiError;
use crate::http::{json, Access, Call, Route};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

pub const LIST: Route = Route {
    operation: "providers.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_providers(app, call)),
};

async fn list_providers(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["category", "auth_mode"])?;
    if let Some(c) = query.get("category") {
        if !CATEGORIES.contains(&c) {
            return Err(ApiError::field(
                "category",
                &format!("must be one of {}", CATEGORIES.join(", ")),
            ));
        }
    }
    if let Some(m) = query.get("auth_mode") {
        if !["oauth2", "oauth2_client_credentials", "api_key", "basic"].contains(&m) {
            return Err(ApiError::field(
                "auth_mode",
                "must be one of oauth2, oauth2_client_credentials, api_key, basic",
            ));
        }
    }
    // the tenant's own first (at most custom_provider::MAX_PER_TENANT: one bounded read)
    let custom = crate::custom_provider::all(app, call.tenant()?).await?;
    let wanted = |p: &&Provider| {
        query.get("category").is_none_or(|c| p.category == c)
            && query
                .get("auth_mode")
                .is_none_or(|m| p.auth_mode.as_str() == m)
    };
    let data: Vec<Value> = custom
        .iter()
        .map(|c| &c.provider)
        .chain(
            catalog()?
                .providers()
                .filter(|p| !p.local_only || app.config.stage == crate::config::Stage::Local),
        )
        .filter(wanted)
        .map(Provider::to_json)
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({"data": data, "next_cursor": null}),
    ))
}
