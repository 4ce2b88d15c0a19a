//! `GET/PATCH /v1/settings`: the tenant's settings, read and merged.

use super::*;
use crate::http::{json, Access, Call, Route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub const GET: Route = Route {
    operation: "settings.get",
    access: Access::Read,
    handler: |app, call| Box::pin(get_settings(app, call)),
};

pub const UPDATE: Route = Route {
    operation: "settings.update",
    access: Access::Write,
    handler: |app, call| Box::pin(update_settings(app, call)),
};

async fn get_settings(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    Ok(json(
        StatusCode::OK,
        &load(&app.store, call.tenant()?).await?.to_json(),
    ))
}

async fn update_settings(app: &App, call: &Call) -> Result<Response<Body>, ApiError> {
    call.query(&[])?;
    let tenant = call.tenant()?;
    let stage = app.config.stage;
    let mut f = Fields::new(call.json_body()?, FIELDS)?;
    let redirect = f.patch("default_redirect_url", true, |v| match v {
        Value::String(s) => RedirectUrl::parse(s, stage),
        _ => Err("must be a string".into()),
    });
    let ttl = f.patch("default_link_ttl_seconds", true, parse_link_ttl);
    // Read before the fields are checked: a reminders PATCH merges over what is stored.
    let mut current = load(&app.store, tenant).await?;
    let reminders = f.patch_object("reminders", super::reminders::SETTINGS_FIELDS, |r| {
        current.reminders.patch(r)
    });
    let branding = f.patch_object("branding", crate::branding::SETTINGS_FIELDS, |b| {
        current.branding.patch(b)
    });
    f.finish()?;
    for attempt in 0..3 {
        if attempt > 0 {
            current = load(&app.store, tenant).await?;
        }
        let mut next = current.clone();
        match &reminders {
            // Merged over the settings read before; a concurrent change is caught by the
            // version condition and this request answers a conflict rather than lose it.
            Patch::Set(r) if attempt == 0 => next.reminders = r.clone(),
            Patch::Set(_) => break,
            Patch::Clear => next.reminders = super::reminders::Settings::default(),
            Patch::Keep => {}
        }
        match &branding {
            Patch::Set(b) if attempt == 0 => next.branding = b.clone(),
            Patch::Set(_) => break,
            Patch::Clear => next.branding = crate::branding::Branding::default(),
            Patch::Keep => {}
        }
        match &redirect {
            Patch::Set(u) => next.default_redirect_url = Some(u.clone()),
            Patch::Clear => next.default_redirect_url = None,
            Patch::Keep => {}
        }
        match ttl {
            Patch::Set(t) => next.default_link_ttl_seconds = Some(t),
            Patch::Clear => next.default_link_ttl_seconds = None,
            Patch::Keep => {}
        }
        if next == current {
            return Ok(json(StatusCode::OK, &current.to_json()));
        }
        next.updated_at = Some(time::now());
        next.version = current.version + 1;
        let item = Store::to_item(&SettingsItem {
            pk: tenant_pk(tenant),
            sk: SK.into(),
            settings: next.clone(),
        })?;
        let put = if current.version == 0 {
            app.store.put_tx(item, crate::store::IS_NEW, &[])?
        } else {
            app.store.put_tx(
                item,
                "version = :v",
                &[(":v", crate::store::n(current.version))],
            )?
        };
        if let TxOutcome::Committed = app.store.transact(vec![put]).await? {
            return Ok(json(StatusCode::OK, &next.to_json()));
        }
    }
    Err(ApiError::conflict(
        "settings were modified concurrently; retry the request",
    ))
}
