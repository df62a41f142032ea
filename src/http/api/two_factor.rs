//! The second factor (AUTH-3; security issue, finding 17): enrolment with a QR code made here,
//! confirmation with a first code, recovery codes shown once and kept as hashes, turning it off,
//! and the administrators' setting of which roles must use it. The sign-in asks for the code
//! (`session::sign_in`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::RequestOrigin;
use crate::auth::CurrentUser;
use crate::domain::audit::{AuditAction, AuditEntry, Origin};
use crate::domain::two_factor;
use crate::domain::Role;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::store::users;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordCheck {
    pub current_password: String,
}

/// Changes the signed-in user's own record in one write, with its audit entry when given.
async fn change_me(
    state: &AppState,
    uid: u64,
    entry: Option<AuditEntry>,
    mut change: impl FnMut(&mut crate::domain::User) -> AppResult<()> + Send + 'static,
) -> AppResult<()> {
    state
        .store
        .write(move |txn, _| {
            let mut u = users::get_w(txn, uid)?.ok_or_else(|| AppError::not_found("user"))?;
            change(&mut u)?;
            users::put(txn, &u)?;
            match &entry {
                Some(e) => crate::store::audit::record(txn, e.clone()),
                None => Ok(()),
            }
        })
        .await
}

#[derive(Serialize, ToSchema)]
pub struct Enrolment {
    /// The shared secret, base32, for apps that take it typed.
    pub secret: String,
    pub otpauth_url: String,
    /// The QR code of `otpauth_url`, as an SVG image.
    pub qr_svg: String,
}

/// Starts enrolment: a new secret (not in force until a code from it is confirmed).
#[utoipa::path(post, path = "/api/v1/me/two_factor", tag = "session", request_body = PasswordCheck,
    responses((status = 200, body = Enrolment), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<PasswordCheck>,
) -> AppResult<Json<Enrolment>> {
    user.confirm_password(&state, &body.current_password)
        .await?;
    let secret = two_factor::new_secret();
    let url = two_factor::otpauth_url(&secret, &user.user.email)?;
    let qr_svg = two_factor::qr_svg(&url)?;
    let (uid, pending) = (user.user.id, secret.clone());
    change_me(&state, uid, None, move |u| {
        u.totp_pending = Some(pending.clone());
        Ok(())
    })
    .await?;
    Ok(Json(Enrolment {
        secret,
        otpauth_url: url,
        qr_svg,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown this once: each signs in one time instead of a code.
    pub recovery_codes: Vec<String>,
}

fn wrong_code() -> AppError {
    AppError::invalid(
        "code",
        "two_factor_invalid",
        "that code is not right (or was already used): type the one the app shows now",
    )
}

/// Confirms enrolment with a code from the app: the second factor is in force from now on.
#[utoipa::path(post, path = "/api/v1/me/two_factor/confirm", tag = "session", request_body = CodeBody,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`no_enrolment`: start one first"),
        (status = 422, body = ErrorBody, description = "`two_factor_invalid`")))]
pub async fn confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<CodeBody>,
) -> AppResult<Json<RecoveryCodes>> {
    let uid = user.user.id;
    // Wrong codes count like failed sign-ins: six digits must not be guessable here either.
    let key = format!("totp:{uid}");
    if !state.login_limiter.try_begin(&key) {
        return Err(AppError::too_many(
            "too many wrong codes; wait a few minutes",
        ));
    }
    let now = state.store.now();
    let (codes, hashes) = two_factor::new_recovery_codes(uid);
    let entry = super::audit::by(&user, &origin, AuditAction::TwoFactorEnabled, now).target(
        "user",
        uid,
        &user.user.name,
    );
    let code = body.code;
    change_me(&state, uid, Some(entry), move |u| {
        let secret = u.totp_pending.clone().ok_or_else(|| {
            AppError::conflict(
                "no_enrolment",
                "start the set-up first: there is no code to confirm",
            )
        })?;
        let step = two_factor::accepted_step(&secret, &code, now, 0).ok_or_else(wrong_code)?;
        u.totp_secret = Some(secret);
        u.totp_pending = None;
        u.totp_last_step = step;
        u.recovery_codes = hashes.clone();
        Ok(())
    })
    .await?;
    state.login_limiter.forgive(&key);
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turns the second factor off (not for a role that must use it).
#[utoipa::path(delete, path = "/api/v1/me/two_factor", tag = "session", request_body = PasswordCheck,
    responses((status = 204), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`two_factor_required`: the role must use it"),
        (status = 422, body = ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<PasswordCheck>,
) -> AppResult<StatusCode> {
    if state.two_factor_roles.requires(user.user.role) {
        return Err(AppError::conflict(
            "two_factor_required",
            "your role must sign in with a second factor: it cannot be turned off",
        ));
    }
    user.confirm_password(&state, &body.current_password)
        .await?;
    let uid = user.user.id;
    let entry = super::audit::by(
        &user,
        &origin,
        AuditAction::TwoFactorDisabled,
        state.store.now(),
    )
    .target("user", uid, &user.user.name);
    change_me(&state, uid, Some(entry), |u| {
        u.totp_secret = None;
        u.totp_pending = None;
        u.recovery_codes.clear();
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New recovery codes (the old ones stop working).
#[utoipa::path(post, path = "/api/v1/me/two_factor/recovery_codes", tag = "session", request_body = PasswordCheck,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`no_two_factor`"), (status = 422, body = ErrorBody)))]
pub async fn renew_codes(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<PasswordCheck>,
) -> AppResult<Json<RecoveryCodes>> {
    user.confirm_password(&state, &body.current_password)
        .await?;
    let uid = user.user.id;
    let (codes, hashes) = two_factor::new_recovery_codes(uid);
    let entry = super::audit::by(
        &user,
        &origin,
        AuditAction::RecoveryCodesRenewed,
        state.store.now(),
    )
    .target("user", uid, &user.user.name);
    change_me(&state, uid, Some(entry), move |u| {
        if u.totp_secret.is_none() {
            return Err(AppError::conflict(
                "no_two_factor",
                "the second factor is off",
            ));
        }
        u.recovery_codes = hashes.clone();
        Ok(())
    })
    .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorPolicy {
    /// The roles whose users must sign in with a second factor.
    pub required_roles: Vec<Role>,
}

#[utoipa::path(get, path = "/api/v1/settings/two_factor", tag = "settings",
    responses((status = 200, body = TwoFactorPolicy), (status = 403, body = ErrorBody)))]
pub async fn get_policy(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<TwoFactorPolicy>> {
    user.require_admin()?;
    Ok(Json(TwoFactorPolicy {
        required_roles: state.store.read(users::two_factor_roles).await?,
    }))
}

#[utoipa::path(put, path = "/api/v1/settings/two_factor", tag = "settings", request_body = TwoFactorPolicy,
    responses((status = 200, body = TwoFactorPolicy), (status = 403, body = ErrorBody)))]
pub async fn put_policy(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<TwoFactorPolicy>,
) -> AppResult<Json<TwoFactorPolicy>> {
    user.require_admin()?;
    let mut roles = body.required_roles;
    roles.sort_by_key(|r| r.as_str());
    roles.dedup();
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let entry = super::audit::by(
        &user,
        &origin,
        AuditAction::SettingChanged,
        state.store.now(),
    )
    .detail("setting", "two_factor_roles")
    .detail("to", names.join(", "));
    let saved = roles.clone();
    state
        .store
        .write(move |txn, _| {
            users::set_two_factor_roles(txn, &saved)?;
            crate::store::audit::record(txn, entry.clone())
        })
        .await?;
    state.two_factor_roles.set(&roles);
    Ok(Json(TwoFactorPolicy {
        required_roles: roles,
    }))
}

/// The sign-in's second step: `code` is a TOTP code or a recovery code. On success the user
/// record to save (the step or the code used up) and what the audit log says.
pub fn second_factor(
    user: &crate::domain::User,
    code: &str,
    now: crate::domain::Millis,
    origin: &Origin,
) -> Option<(crate::domain::User, Option<AuditEntry>)> {
    let secret = user.totp_secret.as_deref()?;
    let mut after = user.clone();
    if two_factor::is_recovery_code(code) {
        let hash = two_factor::recovery_hash(user.id, code);
        let at = after.recovery_codes.iter().position(|h| *h == hash)?;
        after.recovery_codes.remove(at);
        let entry = AuditEntry::new(
            AuditAction::RecoveryCodeUsed,
            (Some(user.id), &user.name),
            origin,
            now,
        )
        .target("user", user.id, &user.name)
        .detail("left", after.recovery_codes.len().to_string());
        return Some((after, Some(entry)));
    }
    after.totp_last_step = two_factor::accepted_step(secret, code, now, user.totp_last_step)?;
    Some((after, None))
}
