//! First run: while no user exists, the browser can create the first administrator.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::{validate_email, UserView};
use crate::auth;
use crate::domain::Role;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::store::users;

#[derive(Serialize, ToSchema)]
pub struct SetupStatus {
    /// True until the first user exists.
    pub needs_admin: bool,
    pub version: String,
}

#[utoipa::path(get, path = "/api/v1/setup", tag = "setup", responses((status = 200, body = SetupStatus)))]
pub async fn status(State(state): State<AppState>) -> AppResult<Json<SetupStatus>> {
    let n = state.store.read(users::count).await?;
    Ok(Json(SetupStatus {
        needs_admin: n == 0,
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

fn already_set_up() -> AppError {
    AppError::conflict(
        "already_set_up",
        "an administrator already exists; sign in instead",
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstAdmin {
    pub email: String,
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub language: Option<String>,
    /// The address people will open Atiende at (links in mail), as the browser shows it.
    #[serde(default)]
    pub public_url: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/setup", tag = "setup", request_body = FirstAdmin,
    responses((status = 201, body = UserView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_first_admin(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(b): ApiJson<FirstAdmin>,
) -> AppResult<(StatusCode, Json<UserView>)> {
    // Once set up, the answer comes before any password is hashed (anyone may call this), and
    // attempts count against the address like failed sign-ins.
    if state.store.read(users::count).await? > 0 {
        return Err(already_set_up());
    }
    let ip_key = format!("ip:{}", peer.ip());
    if !state.ip_limiter.try_begin(&ip_key) {
        return Err(AppError::too_many(
            "too many attempts from this address; wait a few minutes",
        ));
    }
    let email = validate_email(&b.email)?;
    let name = super::name_field(&b.name, "name", 120)?;
    auth::validate_password(&b.password)?;
    let language = match b.language.as_deref() {
        Some("en") => "en",
        _ => "es",
    }
    .to_string();
    let public_url = b
        .public_url
        .as_deref()
        .map(super::settings::public_url_field)
        .transpose()?;
    let password = b.password.clone();
    let hash = auth::hash_password_limited(&state.password_checks, password).await?;
    let now = state.store.now();
    let new = users::NewUser {
        email,
        name,
        role: Role::Admin,
        password_hash: hash,
        language,
        invited: false,
    };
    let user = state
        .store
        .write(move |txn, fx| {
            // Checked inside the write so two racing first-run forms cannot both win.
            if users::count_w(txn)? > 0 {
                return Err(already_set_up());
            }
            if let Some(u) = &public_url {
                crate::store::mail::set_public_url(txn, u)?;
            }
            users::create(txn, fx, &new, now)
        })
        .await?;
    state.ip_limiter.forgive(&ip_key);
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}
