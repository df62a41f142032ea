//! Sign in and out (cookie + CSRF token), API tokens.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit::RequestOrigin;
use super::users::{Me, UserView};
use crate::auth::{self, CurrentUser, SESSION_COOKIE};
use crate::domain::audit::{AuditAction, AuditEntry};
use crate::domain::{Role, Session, DAY_MS};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::store::{assignment, users};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    pub password: String,
    /// The second factor, for users who have one (AUTH-3): the authenticator app's six-digit
    /// code, or one of the recovery codes.
    #[serde(default)]
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
    // A user with a second factor: the password alone is not enough (and the attempt stays
    // counted until the code is right).
    // A code sent by someone without a second factor is not asked for, so not checked.
    let code = body
        .totp
        .clone()
        .filter(|c| !c.trim().is_empty())
        .filter(|_| user.totp_secret.is_some());
    if user.totp_secret.is_some() && code.is_none() {
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "two_factor_required",
            "type the code your authenticator app shows (or a recovery code)",
        ));
    }
    let token = auth::random_token(32);
    let csrf = auth::random_token(24);
    let now = state.store.now();
    let absolute_days = i64::try_from(state.config.sessions.absolute_days).unwrap_or(14);
    let session = Session {
        user_id: user.id,
        csrf_token: csrf.clone(),
        created_at: now,
        expires_at: now + absolute_days * DAY_MS,
        ip: origin.ip.clone(),
        user_agent: origin
            .user_agent
            .as_deref()
            .map(|u| u.chars().take(300).collect()),
        last_seen_at: Some(now),
    };
    let hash = auth::sha256_hex(&token);
    let uid = user.id;
    let signed_in = AuditEntry::new(AuditAction::SignIn, (Some(uid), &user.name), &origin, now);
    // The first administrator's sign-in tells where Atiende is reached (links in mail), when
    // nobody said so; later sign-ins never move it.
    let base = (user.role == crate::domain::Role::Admin)
        .then(|| super::request_base(&state, &headers))
        .flatten();
    let failed = AuditEntry::new(AuditAction::SignInFailed, (Some(uid), &email), &origin, now)
        .detail("reason", "two_factor");
    let origin2 = origin.clone();
    let passed = state
        .store
        .write(move |txn, fx| {
            // The code is checked against the record in the writer, so one code signs in once
            // even when two sign-ins race with it.
            if let Some(code) = &code {
                let current = users::get_w(txn, uid)?.ok_or_else(|| AppError::not_found("user"))?;
                match super::two_factor::second_factor(&current, code, now, &origin2) {
                    Some((after, used)) => {
                        users::put(txn, &after)?;
                        if let Some(e) = used {
                            crate::store::audit::record(txn, e)?;
                        }
                    }
                    None => {
                        crate::store::audit::record(txn, failed.clone())?;
                        return Ok(false);
                    }
                }
            }
            users::create_session(txn, &hash, &session)?;
            users::signed_in(txn, uid, now)?;
            crate::store::audit::record(txn, signed_in.clone())?;
            if let Some(b) = &base {
                crate::store::mail::learn_public_url_once(txn, b)?;
            }
            let on_sign_in = assignment::settings_w(txn)?.on_sign_in;
            apply_configured_state(txn, fx, uid, on_sign_in, now)?;
            Ok(true)
        })
        .await?;
    if !passed {
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "two_factor_invalid",
            "that code is not right (or was already used): type the one the app shows now",
        ));
    }
    state.login_limiter.forgive(&email_key);
    state.ip_limiter.forgive(&ip_key);
    tracing::info!(user = user.id, "signed in");
    let cookie = session_cookie(&state, &token, absolute_days * 86_400);
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
pub async fn current(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
) -> Json<CurrentSession> {
    Json(CurrentSession {
        me: user.as_ref().map(|u| Me::of(u, &state)),
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
        let entry = super::audit::by(&user, &origin, AuditAction::SignOut, now);
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
    /// Days until it stops working (1 to 3650); none: until revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
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
    let expires_at = match body.expires_in_days {
        None => None,
        Some(d @ 1..=3650) => Some(now + i64::from(d) * DAY_MS),
        Some(_) => {
            return Err(AppError::invalid(
                "expires_in_days",
                "invalid_expiry",
                "expires_in_days must be between 1 and 3650",
            ))
        }
    };
    let entry = super::audit::by(&user, &origin, AuditAction::TokenCreated, now);
    let created = state
        .store
        .write(move |txn, _| {
            let t = users::create_token(txn, &hash, uid, &n2, now, expires_at)?;
            crate::store::audit::record(txn, entry.clone().target("token", t.id, &n2))?;
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
    pub expires_at: Option<String>,
    /// Whose token it is.
    pub user_id: String,
    pub user_name: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// Every user's tokens (administrators: Administración › Tokens de API).
    pub all: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
}

/// The signed-in user's API tokens, or with `all=true` everyone's (administrators); never the
/// tokens themselves: only their hashes are kept.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "session", params(TokenQuery),
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> AppResult<Json<TokenList>> {
    let whose = if q.all == Some(true) {
        user.require_admin()?;
        None
    } else {
        Some(user.user.id)
    };
    let items = state
        .store
        .read(move |txn| {
            let mut names = std::collections::HashMap::new();
            let mut items = Vec::new();
            for t in users::tokens_of(txn, whose)? {
                if let std::collections::hash_map::Entry::Vacant(e) = names.entry(t.user_id) {
                    e.insert(
                        users::get(txn, t.user_id)?
                            .map(|u| u.name)
                            .unwrap_or_default(),
                    );
                }
                items.push(TokenView {
                    id: t.id.to_string(),
                    name: t.name.clone(),
                    created_at: super::ts(t.created_at),
                    expires_at: super::opt_ts(t.expires_at),
                    user_id: t.user_id.to_string(),
                    user_name: names.get(&t.user_id).cloned().unwrap_or_default(),
                });
            }
            Ok(items)
        })
        .await?;
    Ok(Json(TokenList { items }))
}

/// Revokes an API token: the next request with it is refused. One's own; an administrator's,
/// anyone's (someone who left, a token that leaked).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "session", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    let uid = user.user.id;
    let whose = (user.user.role != Role::Admin).then_some(uid);
    let now = state.store.now();
    let entry = super::audit::by(&user, &origin, AuditAction::TokenRevoked, now);
    let found = state
        .store
        .write(move |txn, _| {
            let Some(token) = users::revoke_token(txn, whose, id)? else {
                return Ok(false);
            };
            // Someone else's token says whose it was.
            let name = match users::get_w(txn, token.user_id)? {
                Some(owner) if owner.id != uid => format!("{} · {}", token.name, owner.name),
                _ => token.name,
            };
            crate::store::audit::record(txn, entry.clone().target("token", id, &name))?;
            Ok(true)
        })
        .await?;
    if found {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("token"))
    }
}

/// A browser's name and system, from its user agent ("Firefox · Linux"), for "my sessions".
fn device_of(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(mark, _)| user_agent.contains(mark))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(mark, _)| user_agent.contains(mark))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => user_agent.chars().take(60).collect(),
    }
}

/// How a session is named in the API: the start of its token's hash (never the hash itself,
/// which is the session's key).
fn session_id(hash: &str) -> String {
    hash.get(..16).unwrap_or(hash).to_string()
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub ip: Option<String>,
    /// Browser and system, from the user agent.
    pub device: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

/// "Mis sesiones": where the signed-in user is signed in, newest use first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "session",
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)))]
pub async fn my_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<SessionList>> {
    let uid = user.user.id;
    let now = state.store.now();
    let mut all = state
        .store
        .read(move |txn| users::sessions_of(txn, uid))
        .await?;
    all.retain(|(_, s)| s.expires_at >= now);
    let seen = |h: &str, s: &Session| {
        state
            .session_seen
            .last(h)
            .unwrap_or(0)
            .max(s.last_seen_at.unwrap_or(s.created_at))
    };
    all.sort_by_key(|(h, s)| std::cmp::Reverse(seen(h, s)));
    Ok(Json(SessionList {
        items: all
            .iter()
            .map(|(h, s)| SessionView {
                id: session_id(h),
                created_at: super::ts(s.created_at),
                last_seen_at: Some(super::ts(seen(h, s))),
                ip: s.ip.clone(),
                device: s.user_agent.as_deref().map(device_of),
                user_agent: s.user_agent.clone(),
                current: user.session_hash.as_deref() == Some(h.as_str()),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    pub ended: usize,
}

/// Ends one of the signed-in user's sessions (its browser is signed out, its live stream ends).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "session", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn end_session(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    let ended = end_sessions_where(&state, &user, origin, move |h| session_id(h) == id).await?;
    if ended == 0 {
        return Err(AppError::not_found("session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// «Cerrar las demás»: ends every session of the signed-in user but this one.
#[utoipa::path(post, path = "/api/v1/me/sessions/end_others", tag = "session",
    responses((status = 200, body = SessionsEnded), (status = 401, body = ErrorBody)))]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
) -> AppResult<Json<SessionsEnded>> {
    let mine = user.session_hash.clone();
    let ended =
        end_sessions_where(&state, &user, origin, move |h| mine.as_deref() != Some(h)).await?;
    Ok(Json(SessionsEnded { ended }))
}

async fn end_sessions_where(
    state: &AppState,
    user: &CurrentUser,
    origin: crate::domain::audit::Origin,
    which: impl Fn(&str) -> bool + Send + 'static,
) -> AppResult<usize> {
    let uid = user.user.id;
    let now = state.store.now();
    let entry = super::audit::by(user, &origin, AuditAction::SignOut, now);
    state
        .store
        .write(move |txn, _| {
            let hashes: Vec<String> = users::sessions_of_w(txn, uid)?
                .into_iter()
                .map(|(h, _)| h)
                .filter(|h| which(h))
                .collect();
            for h in &hashes {
                users::delete_session(txn, h)?;
            }
            if !hashes.is_empty() {
                crate::store::audit::record(
                    txn,
                    entry.clone().detail("sessions", hashes.len().to_string()),
                )?;
            }
            Ok(hashes.len())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::device_of;

    #[test]
    fn devices_read_from_user_agents() {
        assert_eq!(
            device_of("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"),
            "Chrome · Linux"
        );
        assert_eq!(
            device_of(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
            ),
            "Firefox · Windows"
        );
        assert_eq!(
            device_of("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
            "Safari · iPhone"
        );
        assert_eq!(device_of("curl/8.5.0"), "curl");
    }
}
