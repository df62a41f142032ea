//! Workspace settings an administrator changes from the browser: the public address links in
//! mail point at (security finding 10: never taken from whoever signs in last).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct PublicUrl {
    /// Where links in mail (invitations, password resets, notifications) point; null: not
    /// known yet, and links that anyone may trigger (a password reset) are not mailed.
    pub public_url: Option<String>,
    /// `config` (atiende.toml, `--public-url` or the HTTPS domain: changed there), `stored`
    /// (set here or on the first-run page), or `none`.
    pub source: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicUrlBody {
    pub public_url: String,
}

/// A public address as typed: trimmed, without a trailing slash, checked.
pub fn public_url_field(value: &str) -> AppResult<String> {
    let u = value.trim().trim_end_matches('/').to_string();
    if u.chars().count() > 300 || !crate::config::is_public_url(&u) {
        return Err(AppError::invalid(
            "public_url",
            "invalid_public_url",
            format!("`{u}` is not an address like https://soporte.tienda.cl"),
        ));
    }
    Ok(u)
}

async fn current(state: &AppState) -> AppResult<PublicUrl> {
    if let Some(u) = &state.config.public_url {
        return Ok(PublicUrl {
            public_url: Some(u.clone()),
            source: "config".into(),
        });
    }
    let stored = state
        .store
        .read(crate::store::mail::stored_public_url)
        .await?;
    Ok(PublicUrl {
        source: if stored.is_some() { "stored" } else { "none" }.into(),
        public_url: stored,
    })
}

#[utoipa::path(get, path = "/api/v1/settings/public_url", tag = "settings",
    responses((status = 200, body = PublicUrl), (status = 403, body = ErrorBody)))]
pub async fn get_public_url(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<PublicUrl>> {
    user.require_admin()?;
    Ok(Json(current(&state).await?))
}

#[utoipa::path(put, path = "/api/v1/settings/public_url", tag = "settings", request_body = PublicUrlBody,
    responses((status = 200, body = PublicUrl), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "set in the configuration: change it there"),
        (status = 422, body = ErrorBody)))]
pub async fn put_public_url(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiJson(body): ApiJson<PublicUrlBody>,
) -> AppResult<Json<PublicUrl>> {
    user.require_admin()?;
    if state.config.public_url.is_some() {
        return Err(AppError::conflict(
            "public_url_configured",
            "the public address is set in the configuration (atiende.toml or --public-url): change it there",
        ));
    }
    let u = public_url_field(&body.public_url)?;
    let entry = crate::domain::audit::AuditEntry::new(
        crate::domain::audit::AuditAction::SettingChanged,
        (Some(user.user.id), &user.user.name),
        &origin,
        state.store.now(),
    )
    .detail("setting", "public_url")
    .detail("to", &u);
    state
        .store
        .write(move |txn, _| {
            crate::store::mail::set_public_url(txn, &u)?;
            crate::store::audit::record(txn, entry.clone())
        })
        .await?;
    tracing::info!(user = user.user.id, "public address changed");
    Ok(Json(current(&state).await?))
}
