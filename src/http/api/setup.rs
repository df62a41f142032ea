//! First run: while no user exists, the browser can create the first administrator.

use axum::extract::State;
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
use redb::ReadableTableMetadata;

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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstAdmin {
    pub email: String,
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub language: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/setup", tag = "setup", request_body = FirstAdmin,
    responses((status = 201, body = UserView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_first_admin(
    State(state): State<AppState>,
    ApiJson(b): ApiJson<FirstAdmin>,
) -> AppResult<(StatusCode, Json<UserView>)> {
    let email = validate_email(&b.email)?;
    let name = super::text_field(&b.name, "name", 120)?;
    auth::validate_password(&b.password)?;
    let language = match b.language.as_deref() {
        Some("en") => "en",
        _ => "es",
    }
    .to_string();
    let password = b.password.clone();
    let hash = auth::hash_password_limited(&state.password_checks, password).await?;
    let now = state.store.now();
    let new = users::NewUser {
        email,
        name,
        role: Role::Admin,
        password_hash: hash,
        language,
    };
    let user = state
        .store
        .write(move |txn, fx| {
            // Checked inside the write so two racing first-run forms cannot both win.
            if txn
                .open_table(crate::store::tables::USER_ID_TO_USER)?
                .len()?
                > 0
            {
                return Err(AppError::conflict(
                    "already_set_up",
                    "an administrator already exists; sign in instead",
                ));
            }
            users::create(txn, fx, &new, now)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}
