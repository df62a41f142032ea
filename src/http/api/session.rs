//! Sign in and out (cookie + CSRF token), API tokens.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::RequestOrigin;
use super::users::{Me, UserView};
use crate::auth::{self, CurrentUser, SESSION_COOKIE, SESSION_DAYS};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::{Session, DAY_MS};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::{assignment, users};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    pub password: String,
    /// Accepted for the TOTP second factor (AUTH-3), which is not enforced yet.
    #[serde(default)]
    #[allow(dead_code)]
    pub totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    pub user: UserView,
    pub csrf_token: String,
}

fn session_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// Moves the user to the state configured for signing in or out (ASSIGN-4); a configured
/// state that was deleted since is skipped rather than blocking the sign-in.
fn apply_configured_state(
    txn: &crate::store::WriteTransaction,
    fx: &mut crate::store::Effects,
    user_id: u64,
    state: Option<String>,
    now: crate::domain::Millis,
) -> AppResult<()> {
    let Some(name) = state else { return Ok(()) };
    if assignment::find_state(&assignment::states_w(txn)?, &name).is_none() {
        return Ok(());
    }
    assignment::set_user_state(txn, fx, user_id, &name, now).map(|_| ())
}

#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SignedIn), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> AppResult<Response> {
    let origin = super::audit::origin_of(Some(peer), &headers);
    let email = body.email.trim().to_lowercase();
    let (email_key, ip_key) = (format!("email:{email}"), format!("ip:{}", peer.ip()));
    let too_many = || AppError::too_many("too many failed sign-in attempts; wait a few minutes");
    if !state.login_limiter.try_begin(&email_key) {
        return Err(too_many());
    }
    if !state.ip_limiter.try_begin(&ip_key) {
        state.login_limiter.forgive(&email_key);
        return Err(too_many());
    }
    let lookup = email.clone();
    let user = state
        .store
        .read(move |txn| users::by_email(txn, &lookup))
        .await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| auth::dummy_hash().to_string());
    let ok =
        auth::verify_password_limited(&state.password_checks, body.password.clone(), hash).await?;
    let user = match user {
        Some(u) if ok && u.active => u,
        other => {
            let now = state.store.now();
            let entry = AuditEntry::new(
                AuditAction::SignInFailed,
                (other.map(|u| u.id), &email),
                &origin,
                now,
            );
            state
                .store
                .write(move |txn, _| crate::store::audit::record(txn, entry.clone()))
                .await?;
            return Err(AppError::unauthorized("wrong email or password"));
        }
    };
    state.login_limiter.forgive(&email_key);
    state.ip_limiter.forgive(&ip_key);
    let token = auth::random_token(32);
    let csrf = auth::random_token(24);
    let now = state.store.now();
    let session = Session {
        user_id: user.id,
        csrf_token: csrf.clone(),
        created_at: now,
        expires_at: now + SESSION_DAYS * DAY_MS,
    };
    let hash = auth::sha256_hex(&token);
    let uid = user.id;
    let signed_in = AuditEntry::new(AuditAction::SignIn, (Some(uid), &user.name), &origin, now);
    // The first administrator's sign-in tells where Atiende is reached (links in mail), when
    // nobody said so; later sign-ins never move it.
    let base = (user.role == crate::domain::Role::Admin)
        .then(|| super::request_base(&state, &headers))
        .flatten();
    state
        .store
        .write(move |txn, fx| {
            users::create_session(txn, &hash, &session)?;
            users::signed_in(txn, uid, now)?;
            crate::store::audit::record(txn, signed_in.clone())?;
            if let Some(b) = &base {
                crate::store::mail::learn_public_url_once(txn, b)?;
            }
            let on_sign_in = assignment::settings_w(txn)?.on_sign_in;
            apply_configured_state(txn, fx, uid, on_sign_in, now)
        })
        .await?;
    tracing::info!(user = user.id, "signed in");
    let cookie = session_cookie(&state, &token, SESSION_DAYS * 86_400);
    let body = SignedIn {
        user: UserView::from(&user),
        csrf_token: csrf,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct CurrentSession {
    /// The signed-in user, or null for a visitor (never a 401, so a sign-in page can ask).
    pub me: Option<Me>,
}

#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = CurrentSession)))]
pub async fn current(user: Option<CurrentUser>) -> Json<CurrentSession> {
    Json(CurrentSession {
        me: user.as_ref().map(Me::of),
    })
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn sign_out(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
) -> AppResult<Response> {
    if let Some(hash) = user.session_hash.clone() {
        let (uid, now) = (user.user.id, state.store.now());
        let entry = AuditEntry::new(
            AuditAction::SignOut,
            (Some(uid), &user.user.name),
            &origin,
            now,
        );
        state
            .store
            .write(move |txn, fx| {
                users::delete_session(txn, &hash)?;
                crate::store::audit::record(txn, entry.clone())?;
                let on_sign_out = assignment::settings_w(txn)?.on_sign_out;
                apply_configured_state(txn, fx, uid, on_sign_out, now)
            })
            .await?;
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = session_cookie(&state, "", 0).parse() {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    /// Shown once; only its hash is stored.
    pub token: String,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "session", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<NewToken>,
) -> AppResult<(StatusCode, Json<CreatedToken>)> {
    let name = super::name_field(&body.name, "name", 100)?;
    let token = format!("atk_{}", auth::random_token(32));
    let hash = auth::sha256_hex(&token);
    let now = state.store.now();
    let uid = user.user.id;
    let n2 = name.clone();
    let actor = user.user.name.clone();
    let created = state
        .store
        .write(move |txn, _| {
            let t = users::create_token(txn, &hash, uid, &n2, now)?;
            let entry =
                AuditEntry::new(AuditAction::TokenCreated, (Some(uid), &actor), &origin, now)
                    .target("token", t.id, &n2);
            crate::store::audit::record(txn, entry)?;
            Ok(t)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: created.id.to_string(),
            name,
            token,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
}

/// The signed-in user's API tokens (never the tokens themselves: only their hashes are kept).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "session",
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<TokenList>> {
    let uid = user.user.id;
    let tokens = state
        .store
        .read(move |txn| users::tokens_of(txn, uid))
        .await?;
    Ok(Json(TokenList {
        items: tokens
            .iter()
            .map(|t| TokenView {
                id: t.id.to_string(),
                name: t.name.clone(),
                created_at: super::ts(t.created_at),
            })
            .collect(),
    }))
}

/// Revokes one of the signed-in user's API tokens: the next request with it is refused.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "session", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    let uid = user.user.id;
    let now = state.store.now();
    let entry = AuditEntry::new(
        AuditAction::TokenRevoked,
        (Some(uid), &user.user.name),
        &origin,
        now,
    )
    .target("token", id, "");
    let found = state
        .store
        .write(move |txn, _| {
            let found = users::revoke_token(txn, uid, id)?;
            if found {
                crate::store::audit::record(txn, entry.clone())?;
            }
            Ok(found)
        })
        .await?;
    if found {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("token"))
    }
}
