//! `POST /v1/credentials`: validate and seal API-key values for a later direct connect.

use super::*;
use crate::http::{Access, Call, Route};
use lambda_http::{Body, Response};

pub const CREATE: Route = Route {
    operation: "credentials.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_credential(app, call)),
};

/// The provider a body names, by `provider` or by `integration_id` (exactly one).
async fn named_provider(
    app: &App,
    tenant: &TenantId,
    provider: Option<String>,
    integration: Option<crate::id::IntegrationId>,
) -> Result<&'static Provider, ApiError> {
    let c = catalog()?;
    match (provider, integration) {
        (Some(_), Some(_)) => Err(ApiError::field(
            "provider",
            "give either provider or integration_id, not both",
        )),
        (None, None) => Err(ApiError::field(
            "provider",
            "is required (or integration_id)",
        )),
        (Some(p), None) => c.available(&p, app.config.stage).ok_or_else(|| {
            ApiError::field(
                "provider",
                "is not a provider of the catalog (see GET /v1/providers)",
            )
        }),
        (None, Some(id)) => match crate::integration::get(&app.store, tenant, &id).await? {
            Some(i) => i.provider(),
            None => Err(ApiError::field(
                "integration_id",
                "names no integration of this tenant",
            )),
        },
    }
}

async fn create_credential(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let body = call.json_body()?;
    let idempotency = Idempotency::from_call(call, "credentials.create", &body)?;
    let mut f = Fields::new(body, FIELDS)?;
    let provider = f.optional("provider", |v| {
        v.as_str()
            .map(String::from)
            .ok_or_else(|| "must be a string".to_string())
    });
    let integration = f.optional("integration_id", |v| {
        v.as_str()
            .and_then(crate::id::IntegrationId::parse)
            .ok_or_else(|| "must be an integration id (int_…)".to_string())
    });
    let values = f.required("values", object);
    let connection_fields = f.optional("connection_fields", object).unwrap_or_default();
    f.finish()?;
    let values = values.unwrap_or_default();
    let provider = named_provider(app, tenant, provider, integration).await?;
    if provider.auth_mode == AuthMode::Oauth2 {
        return Err(ApiError::field(
            "provider",
            "connects with OAuth: call POST /v1/integrations/{provider}/connect with a redirect_url instead",
        ));
    }
    let c = catalog()?;
    let checked = (
        c.check_values(provider, &provider.credential_fields, "values.", &values),
        c.check_values(
            provider,
            &provider.connection_fields,
            "connection_fields.",
            &connection_fields,
        ),
    );
    let (values, fields) = match checked {
        (Ok(v), Ok(f)) => (v, f),
        (a, b) => {
            let errors = a.err().into_iter().chain(b.err()).flatten().collect();
            return Err(ApiError::validation("invalid request body", errors));
        }
    };
    let id = CredentialId::generate();
    let credentials = Credentials {
        auth_mode: provider.auth_mode,
        provider: provider.id.clone(),
        values: values.into_iter().map(|(k, v)| (k, json!(v))).collect(),
        connection_fields: fields.into_iter().map(|(k, v)| (k, json!(v))).collect(),
        raw: None,
    };
    let sealed = credentials.seal(app.sealer()?, tenant, id.as_str()).await?;
    let now = time::now();
    let expires_at = now + chrono::Duration::seconds(UNUSED_LIFETIME_SECONDS);
    let mut item = key(tenant_pk(tenant), sk(&id));
    item.insert("provider".into(), s(&provider.id));
    item.insert("sealed".into(), s(sealed));
    item.insert("created_at".into(), s(time::format(&now)));
    item.insert("expires_at".into(), s(time::format(&expires_at)));
    item.insert("ttl".into(), n(expires_at.timestamp()));
    let response = json!({
        "id": id,
        "provider": provider.id,
        "created_at": time::format(&now),
        "expires_at": time::format(&expires_at),
    });
    let items = vec![app.store.put_tx(item, crate::store::IS_NEW, &[])?];
    match idempotency::commit_create(
        &app.store,
        tenant,
        idempotency.as_ref(),
        items,
        &response,
        None,
    )
    .await?
    {
        Ok(resp) => Ok(resp),
        Err(_) => Err(ApiError::conflict("concurrent request; retry")),
    }
}
