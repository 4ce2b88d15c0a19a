//! OpenInt's routes, served by the functions of the native operations they map to: its
//! bodies and answers, offset paging with `total`, its errors and `x-should-retry`
//! (`dialect`).

use super::{connection_json, credentials_from, in_openint_names, integration_of, settings_of};
use crate::api_key::Role;
use crate::connection::{self, Connection, ImportRequest, NewConnection, Reader, Status};
use crate::consumer::{self, InternalReference, Owner};
use crate::credential::verify::Outcome;
use crate::error::ApiError;
use crate::fields::Fields;
use crate::http::{json, Access, Call, Route};
use crate::id::ConnectionId;
use crate::App;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

pub const CREATE: Route = Route {
    operation: "openint.connections.create",
    access: Access::Write,
    handler: |app, call| Box::pin(create_connection(app, call)),
};
/// The seed's `POST /connection`, the same operation.
pub const CREATE_SEED: Route = Route {
    operation: "openint.connections.create_seed",
    access: Access::Write,
    handler: |app, call| Box::pin(create_connection(app, call)),
};
pub const LIST: Route = Route {
    operation: "openint.connections.list",
    access: Access::Read,
    handler: |app, call| Box::pin(list_connections(app, call)),
};
pub const GET: Route = Route {
    operation: "openint.connections.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_connection(app, call)),
};
pub const DELETE: Route = Route {
    operation: "openint.connections.delete",
    access: Access::Write,
    handler: |app, call| Box::pin(delete_connection(app, call)),
};
pub const CHECK: Route = Route {
    operation: "openint.connections.check",
    access: Access::Write,
    handler: |app, call| Box::pin(check_connection(app, call)),
};
pub const TOKEN: Route = Route {
    operation: "openint.customers.token",
    access: Access::Write,
    handler: |app, call| Box::pin(customer_token(app, call)),
};

/// Most connections one customer's list reads: a customer has a handful, and the list is
/// one bounded query.
const MAX_LISTED: usize = 100;

fn customer(raw: &Value, field: &str) -> Result<InternalReference, ApiError> {
    InternalReference::parse(raw).map_err(|m| ApiError::field(field, &m))
}

/// `POST /v2/connection` (and the seed's `POST /connection`): import a connection from the
/// credentials in `data.settings`, for the customer `customer_id` (created if new).
async fn create_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = call.json_body()?;
    let idempotency = call.idempotency("openint.connections.create", &body)?;
    let mut f = Fields::new(
        body,
        &[
            "connector_config_id",
            "customer_id",
            "data",
            "metadata",
            "check_connection",
        ],
    )?;
    let integration = f.required("connector_config_id", |v| {
        v.as_str()
            .and_then(integration_of)
            .ok_or_else(|| "must be a connector config id (ccfg_…)".to_string())
    });
    let reference = f.required("customer_id", |v| {
        InternalReference::parse(v).map_err(|m| m.to_string())
    });
    let data = f.required("data", |v| match v {
        Value::Object(_) => Ok(v.clone()),
        _ => Err("must be an object".to_string()),
    });
    let metadata = f.optional("metadata", |v| match v {
        Value::Object(_) | Value::Null => Ok(v.clone()),
        _ => Err("must be an object".to_string()),
    });
    // Imported credentials are always checked with the provider (`credential::verify`):
    // the flag asks for nothing more.
    let _ = f.optional("check_connection", |v| {
        v.as_bool().ok_or_else(|| "must be a boolean".to_string())
    });
    f.finish()?;
    let (Some(integration_id), Some(reference), Some(data)) = (integration, reference, data) else {
        return Err(ApiError::internal("required fields parsed without values"));
    };
    let tenant = call.tenant()?;
    // Read once, here: the import takes it as read instead of reading it again.
    let integration = crate::integration::load(app, tenant, &integration_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::field(
                "connector_config_id",
                "names no connector config of this organization",
            ),
            other => other,
        })?;
    let (credentials, connection_fields) = credentials_from(&integration, &data)?;
    let customer_id = reference.as_str().to_owned();
    let owner = consumer::owner_by_reference(app, tenant, reference).await?;
    let mut native = json!({
        "consumer_id": owner.id(),
        "integration_id": integration_id,
        "name": integration.display_name()?,
        "credentials": credentials,
        "connection_fields": connection_fields,
    });
    if let Some(m) = metadata.filter(|m| !m.is_null()) {
        native["metadata"] = m;
    }
    let mut request = ImportRequest::parse(native)
        .map_err(in_openint_names)?
        .with_integration(integration);
    if let Owner::New(c) = owner {
        request = request.for_new_consumer(*c);
    }
    let imported = connection::import(app, tenant, request, idempotency.as_ref())
        .await
        .map_err(in_openint_names)?;
    // The import's answer (replayed as it was), in OpenInt's shape.
    Ok(json(
        StatusCode::OK,
        &super::imported_json(&imported.body, &customer_id),
    ))
}

/// `GET /v2/connection?customer_id=…`: the customer's connections, offset-paged over one
/// bounded read, with `total`. `customer_id` is required here: a tenant-wide list would be
/// an unbounded read (use `/v1/consumers` and each consumer's connections).
async fn list_connections(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query_with_lists(
        &[
            "customer_id",
            "limit",
            "offset",
            "include_secrets",
            "refresh_policy",
            "connector_config_id",
            "search_query",
            "repl_id",
        ],
        &[
            "connector_names",
            "connector_names[]",
            "expand",
            "expand[]",
            "connection_ids",
            "connection_ids[]",
        ],
    )?;
    if query.get("include_secrets") == Some("true") {
        return Err(ApiError::field(
            "include_secrets",
            "is for one connection: GET /v2/connection/{id}?include_secrets=true (every read of secrets is audited)",
        ));
    }
    let reference = customer(
        &Value::String(
            query
                .get("customer_id")
                .ok_or_else(|| ApiError::field("customer_id", "is required"))?
                .to_owned(),
        ),
        "customer_id",
    )?;
    let number = |name: &str, default: usize, max: usize| -> Result<usize, ApiError> {
        match query.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    ApiError::field(name, &format!("must be an integer from 0 to {max}"))
                }),
        }
    };
    let limit = number("limit", 50, MAX_LISTED)?.max(1);
    let offset = number("offset", 0, MAX_LISTED)?;
    let names: Vec<&str> = query
        .all("connector_names")
        .into_iter()
        .chain(query.all("connector_names[]"))
        .collect();
    let ids: Vec<&str> = query
        .all("connection_ids")
        .into_iter()
        .chain(query.all("connection_ids[]"))
        .collect();
    let config = query
        .get("connector_config_id")
        .map(|raw| {
            integration_of(raw).ok_or_else(|| {
                ApiError::field("connector_config_id", "is not a connector config id")
            })
        })
        .transpose()?;
    let search = query.get("search_query").map(str::to_lowercase);
    let tenant = call.tenant()?;
    let customer_id = reference.as_str().to_owned();
    let Some(owner) = consumer::id_with_reference(app, tenant, &reference).await? else {
        return Ok(json(
            StatusCode::OK,
            &json!({"items": [], "total": 0, "offset": offset, "limit": limit}),
        ));
    };
    let (connections, _) =
        connection::page_of_consumer(app, tenant, &owner, MAX_LISTED, None).await?;
    let matching: Vec<&Connection> = connections
        .iter()
        .filter(|c| c.status != Status::Revoked)
        .filter(|c| names.is_empty() || c.provider.as_deref().is_some_and(|p| names.contains(&p)))
        .filter(|c| ids.is_empty() || ids.contains(&c.id.as_str()))
        .filter(|c| {
            config
                .as_ref()
                .is_none_or(|i| c.integration_id.as_ref() == Some(i))
        })
        .filter(|c| {
            search
                .as_deref()
                .is_none_or(|s| c.name.to_lowercase().contains(s))
        })
        .collect();
    let items = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| connection_json(c, Some(&customer_id), json!({})))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json(
        StatusCode::OK,
        &json!({"items": items, "total": matching.len(), "offset": offset, "limit": limit}),
    ))
}

/// The connection the path names, and its owner's customer id (the consumer's reference,
/// else our id for it: one read).
async fn load(app: &App, call: &Call) -> Result<(Connection, Option<String>), ApiError> {
    let id = call.path_id("id", ConnectionId::parse, crate::connection::not_found)?;
    let found = connection::load(app, call.tenant()?, &id).await?;
    if found.status == Status::Revoked {
        return Err(crate::connection::not_found(id.as_str()));
    }
    let customer = match &found.consumer_id {
        None => None,
        // A consumer's own id when it has no reference (or is gone).
        Some(owner) => Some(
            consumer::load(app, &found.tenant_id, owner)
                .await
                .ok()
                .and_then(|c| c.internal_reference.map(|r| r.as_str().to_owned()))
                .unwrap_or_else(|| owner.to_string()),
        ),
    };
    Ok((found, customer))
}

/// `GET /v2/connection/{id}?include_secrets=true`: the secrets come through our audited
/// credentials read (admin keys only, as on `/v1`), refreshed first when they expire soon.
async fn get_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    let query = call.query_with_lists(
        &["include_secrets", "refresh_policy"],
        &["expand", "expand[]"],
    )?;
    let secrets = match query.get("include_secrets") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::field("include_secrets", "must be true or false")),
    };
    let (found, customer) = load(app, call).await?;
    let settings = if secrets {
        let principal = call.principal()?;
        if principal.role != Role::Admin {
            return Err(ApiError::Forbidden);
        }
        settings_of(&read_credentials(app, call, &found).await?.credentials)
    } else {
        json!({})
    };
    Ok(json(
        StatusCode::OK,
        &connection_json(&found, customer.as_deref(), settings)?,
    ))
}

/// The audited credentials read, recorded as the caller's (its key and request).
async fn read_credentials(
    app: &App,
    call: &Call,
    found: &Connection,
) -> Result<connection::CredentialsRead, ApiError> {
    let principal = call.principal()?;
    connection::read_credentials(
        app,
        found,
        Reader {
            api_key_id: principal.key_id.as_str(),
            request_id: &call.request_id,
        },
        &call.public_base_url(&app.config),
        call.deadline(),
    )
    .await
}

/// `DELETE /v2/connection/{id}`: revoked (at the provider too where it can), `{id}`.
async fn delete_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let (found, _) = load(app, call).await?;
    let id = found.id.clone();
    connection::revoke(app, found, &call.public_base_url(&app.config)).await?;
    Ok(json(StatusCode::OK, &json!({"id": id})))
}

/// `POST /v1/connection/{id}/check`: our check (`connection::check`): healthy when the
/// provider accepts the stored credentials (its verification request, or a token refresh),
/// disconnected when it refuses them (the connection then needs re-authorization), error
/// when it gave no verdict. A connection with nothing to check it with (a provider without
/// a verification request, OAuth without a refresh token) is healthy when its credentials
/// read, as before there was a check.
async fn check_connection(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let (found, _) = load(app, call).await?;
    if found.status != Status::Active || found.disabled {
        return Ok(json(
            StatusCode::OK,
            &json!({"id": found.id, "status": super::status_of(&found), "status_message": found.reauth_reason}),
        ));
    }
    let checked = connection::check::run(
        app,
        found.clone(),
        &call.public_base_url(&app.config),
        call.deadline(),
    )
    .await;
    let (status, message) = match checked {
        Ok(report) => match report.result {
            Outcome::Valid => ("healthy", None),
            Outcome::Refused => ("disconnected", report.detail),
            Outcome::Unreachable => ("error", report.detail),
        },
        Err(ApiError::Conflict { .. }) => match read_credentials(app, call, &found).await {
            Ok(_) => ("healthy", None),
            Err(ApiError::NeedsReauth(m)) => ("disconnected", Some(m)),
            Err(ApiError::ProviderUnavailable(m)) => ("error", Some(m)),
            Err(other) => return Err(other),
        },
        Err(other) => return Err(other),
    };
    Ok(json(
        StatusCode::OK,
        &json!({"id": found.id, "status": status, "status_message": message}),
    ))
}

/// `POST /v1/customer/{customer_id}/token`: a link for the customer (created if new) to
/// connect any of the tenant's integrations; `token` is the link's and `magic_link_url`
/// the link. Its lifetime is `validity_in_seconds`, capped by our links' (7 days).
async fn customer_token(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let body = if call.body_is_empty() {
        json!({})
    } else {
        call.json_body()?
    };
    let idempotency = call.idempotency("openint.customers.token", &body)?;
    let mut f = Fields::new(body, &["validity_in_seconds", "connect_options"])?;
    let validity = f.optional("validity_in_seconds", |v| {
        v.as_f64()
            .filter(|s| *s >= 1.0)
            .map(|s| {
                (s as u64).clamp(
                    crate::settings::MIN_LINK_TTL_SECONDS,
                    crate::settings::MAX_LINK_TTL_SECONDS,
                )
            })
            .ok_or_else(|| "must be a positive number of seconds".to_string())
    });
    // Narrows OpenInt's connect UI; ours offers the tenant's enabled integrations.
    let _ = f.optional("connect_options", |_| Ok::<(), String>(()));
    f.finish()?;
    let reference = customer(
        &Value::String(
            call.path_param("customer_id")
                .unwrap_or_default()
                .to_owned(),
        ),
        "customer_id",
    )?;
    let tenant = call.tenant()?;
    let owner = consumer::owner_by_reference(app, tenant, reference).await?;
    let mut native = json!({"name": "Connection"});
    if let Some(seconds) = validity {
        native["link_ttl_seconds"] = json!(seconds);
    }
    let new = NewConnection::parse(app, native)?;
    let base = call.public_base_url(&app.config);
    let created = connection::create(app, tenant, owner, new, &base, idempotency.as_ref()).await?;
    let url = created.body["link"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = url::Url::parse(&url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        &json!({"token": token, "magic_link_url": url}),
    ))
}
