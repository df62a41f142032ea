//! AUTH-2: "forgot password" mails a one-time link; the same links invite new users.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth;
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::{Millis, PasswordToken, User};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::users;

const HOUR_MS: Millis = 3_600_000;
pub const RESET_TTL_MS: Millis = HOUR_MS;
pub const INVITATION_TTL_MS: Millis = 7 * 24 * HOUR_MS;

/// Creates a link for `user` in the caller's transaction and queues the mail that carries it.
pub fn mail_link(
    txn: &crate::store::WriteTransaction,
    user: &User,
    purpose: &str,
    base: &str,
    inviter: &str,
    now: Millis,
) -> AppResult<()> {
    let token = auth::random_token(32);
    let ttl = if purpose == "invitation" {
        INVITATION_TTL_MS
    } else {
        RESET_TTL_MS
    };
    users::create_password_token(
        txn,
        &auth::sha256_hex(&token),
        &PasswordToken {
            user_id: user.id,
            purpose: purpose.to_string(),
            expires_at: now + ttl,
        },
    )?;
    let link = format!("{base}/#/password/{token}");
    let template = if purpose == "invitation" {
        "invitation"
    } else {
        "password_reset"
    };
    let mail = crate::mail::templates::render(
        template,
        &user.language,
        &user.email,
        &[
            ("name", &user.name),
            ("link", &link),
            ("email", &user.email),
            ("inviter", inviter),
        ],
    )?;
    if crate::mail::queue_system(txn, mail, now)? {
        Ok(())
    } else {
        Err(crate::mail::no_sender())
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

#[utoipa::path(post, path = "/api/v1/password_resets", tag = "session", request_body = ResetRequest,
    responses((status = 202, description = "always, whether or not the email belongs to a user"), (status = 429, body = ErrorBody)))]
pub async fn request(
    State(state): State<AppState>,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ResetRequest>,
) -> AppResult<StatusCode> {
    let email = body.email.trim().to_lowercase();
    // A few links per address per window: nobody floods someone's inbox through us.
    if !state.login_limiter.try_begin(&format!("reset:{email}")) {
        return Err(AppError::too_many(
            "too many reset requests for this address; wait a few minutes",
        ));
    }
    let lookup = email.clone();
    let user = state
        .store
        .read(move |txn| users::by_email(txn, &lookup))
        .await?;
    // The answer is the same, and as fast, for unknown addresses: it must not reveal who has
    // an account. The link is made and mailed after answering.
    if let Some(user) = user.filter(|u| u.active) {
        let Some(base) = super::link_base(&state, &headers, false).await? else {
            tracing::warn!("password reset not mailed: set Atiende's public address (Administración › Dirección pública, or public_url in atiende.toml) so links point at a known address"); // i18n-ok: names the screen
            return Ok(StatusCode::ACCEPTED);
        };
        let store = state.store.clone();
        tokio::spawn(async move {
            let now = store.now();
            let entry = AuditEntry::new(
                AuditAction::PasswordResetRequested,
                (None, &user.email),
                &origin,
                now,
            )
            .target("user", user.id, &user.name);
            match store
                .write(move |txn, _| {
                    mail_link(txn, &user, "reset", &base, "", now)?;
                    crate::store::audit::record(txn, entry.clone())
                })
                .await
            {
                Ok(()) => tracing::info!("password reset link mailed"),
                Err(e) => tracing::warn!(error = %e.message, "password reset link not mailed"),
            }
        });
    }
    Ok(StatusCode::ACCEPTED)
}

#[derive(Serialize, ToSchema)]
pub struct LinkInfo {
    /// "reset" or "invitation".
    pub purpose: String,
    pub email: String,
    pub name: String,
}

#[utoipa::path(get, path = "/api/v1/password_resets/{token}", tag = "session", params(("token" = String, Path)),
    responses((status = 200, body = LinkInfo), (status = 410, body = ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> AppResult<Json<LinkInfo>> {
    let hash = auth::sha256_hex(&token);
    let now = state.store.now();
    let found = state
        .store
        .read(move |txn| {
            let Some(t) = users::password_token(txn, &hash, now)? else {
                return Ok(None);
            };
            Ok(users::get(txn, t.user_id)?
                .filter(|u| u.active)
                .map(|u| (t, u)))
        })
        .await?;
    let (t, u) = found.ok_or_else(expired)?;
    Ok(Json(LinkInfo {
        purpose: t.purpose,
        email: u.email,
        name: u.name,
    }))
}

fn expired() -> AppError {
    AppError::new(
        StatusCode::GONE,
        "link_expired",
        "this link was already used or has expired; ask for a new one",
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

#[utoipa::path(post, path = "/api/v1/password_resets/{token}", tag = "session", params(("token" = String, Path)), request_body = NewPassword,
    responses((status = 204, description = "password set; every session of the user ended"), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn complete(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
    ApiJson(body): ApiJson<NewPassword>,
) -> AppResult<StatusCode> {
    let origin = super::audit::origin_of(Some(peer), &headers);
    auth::validate_password(&body.password)?;
    // The link is checked before the password is hashed, and failures count against the
    // address like failed sign-ins: hashing costs ~19 MiB and tens of ms, and nobody signed in.
    let ip_key = format!("ip:{}", peer.ip());
    if !state.ip_limiter.try_begin(&ip_key) {
        return Err(AppError::too_many(
            "too many failed attempts from this address; wait a few minutes",
        ));
    }
    let token_hash = auth::sha256_hex(&token);
    let now = state.store.now();
    let lookup = token_hash.clone();
    let usable = state
        .store
        .read(move |txn| {
            let Some(t) = users::password_token(txn, &lookup, now)? else {
                return Ok(false);
            };
            Ok(users::get(txn, t.user_id)?.is_some_and(|u| u.active))
        })
        .await?;
    if !usable {
        return Err(expired());
    }
    let password = body.password.clone();
    let hash = auth::hash_password_limited(&state.password_checks, password).await?;
    let user = state
        .store
        .write(move |txn, fx| {
            let user = users::use_password_token(txn, fx, &token_hash, &hash, now)?;
            if let Some(u) = &user {
                let entry = AuditEntry::new(
                    AuditAction::PasswordReset,
                    (Some(u.id), &u.name),
                    &origin,
                    now,
                )
                .target("user", u.id, &u.name);
                crate::store::audit::record(txn, entry)?;
            }
            Ok(user)
        })
        .await?
        .ok_or_else(expired)?;
    state.ip_limiter.forgive(&ip_key);
    tracing::info!(user = user.id, "password set through a mailed link");
    Ok(StatusCode::NO_CONTENT)
}
