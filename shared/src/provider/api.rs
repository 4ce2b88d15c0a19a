//! `GET /v1/providers`: the tenant's custom providers and the catalog, filtered.

use super::{catalog, is_slug, Provider, CATEGORIES, CUSTOM_PREFIX};
use crate::error::ApiError;
use crate::http::{json, list_body, Access, Call, Route};
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::Value;

pub const LIST: Route = Route {
    operation: "providers.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_providers(app, call)),
};

async fn list_providers(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query(&["category", "auth_mode", "limit", "cursor"])?;
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
    let catalog = catalog()?;
    // a cursor names the last provider served: one of the tenant's (`x-…`) or the catalogue's
    let (limit, after) = query.page(|id| {
        is_slug(id, '-') && (id.starts_with(CUSTOM_PREFIX) || catalog.get(id).is_some())
    })?;
    let local = app.config.stage == crate::config::Stage::Local;
    let (custom_after, catalog_after) = match after.as_deref() {
        Some(id) if !id.starts_with(CUSTOM_PREFIX) => (None, Some(id)),
        other => (other, None),
    };
    // the tenant's own first (at most custom_provider::MAX_PER_TENANT: one bounded read),
    // and not read again once a page has gone past them
    let custom = if catalog_after.is_none() {
        crate::custom_provider::all(app, call.tenant()?).await?
    } else {
        Vec::new()
    };
    let wanted = |p: &&Provider| {
        query.get("category").is_none_or(|c| p.category == c)
            && query
                .get("auth_mode")
                .is_none_or(|m| p.auth_mode.as_str() == m)
    };
    // custom providers come sorted by id, which is what their cursor compares
    let mut page: Vec<&Provider> = custom
        .iter()
        .map(|c| &c.provider)
        .filter(|p| custom_after.is_none_or(|after| p.id.as_str() > after))
        .chain(
            catalog
                .providers_after(catalog_after)
                .filter(|p| !p.local_only || local),
        )
        .filter(wanted)
        .take(limit + 1)
        .collect();
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|p| p.id.clone())
    } else {
        None
    };
    let data: Vec<Value> = page.into_iter().map(Provider::to_json).collect();
    Ok(json(StatusCode::OK, &list_body(data, next)))
}
