//! Passwords (argon2id), sessions (cookie + CSRF token), API tokens, the `CurrentUser`
//! extractor and the sign-in rate limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::{header, request::Parts, Method};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::{Role, User};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::tickets::Access;
use crate::store::{accounts, users};

/// Who a token or session cookie (by its hash) belongs to, as last read from the store, so a
/// request does not hop to the blocking pool only to read two rows. An entry counts only
/// under the auth generation it was read in: the writer bumps it after every commit that
/// changes a user, a session or a token, before it answers that write, so a sign-out or a
/// deactivation is seen by the very next request.
#[derive(Default)]
pub struct SignInCache {
    entries: Mutex<HashMap<String, Known>>,
}

#[derive(Clone)]
struct Known {
    generation: u64,
    user: User,
    session: Option<crate::domain::Session>,
    /// An API token's end, when it has one.
    token_expires_at: Option<crate::domain::Millis>,
}

/// Entries kept at most; past that the cache starts over (tokens are few, sessions last days).
const SIGN_IN_CACHE_MAX: usize = 4096;

impl SignInCache {
    fn get(&self, hash: &str, generation: u64) -> Option<Known> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(hash)
            .filter(|k| k.generation == generation)
            .cloned()
    }

    fn put(&self, hash: String, known: Known) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= SIGN_IN_CACHE_MAX {
                entries.clear();
            }
            entries.insert(hash, known);
        }
    }
}

/// The user (and session) behind `hash`, from the cache or else the store. `session` says
/// which table the hash belongs to.
async fn known(state: &AppState, hash: &str, session: bool) -> AppResult<Option<Known>> {
    // Read before the store: an entry stored under it was read after it was current.
    let generation = state.store.auth_generation();
    // A session's hash must never pass as an API token's, nor the reverse.
    let cache_key = format!("{}{hash}", if session { "s:" } else { "t:" });
    if let Some(k) = state.sign_ins.get(&cache_key, generation) {
        return Ok(Some(k));
    }
    let key = hash.to_string();
    let found = state
        .store
        .read(move |txn| {
            let (user_id, session, token_expires_at) = if session {
                match users::session(txn, &key)? {
                    Some(s) => (s.user_id, Some(s), None),
                    None => return Ok(None),
                }
            } else {
                match users::token(txn, &key)? {
                    Some(t) => (t.user_id, None, t.expires_at),
                    None => return Ok(None),
                }
            };
            Ok(users::get(txn, user_id)?.map(|user| Known {
                generation,
                user,
                session,
                token_expires_at,
            }))
        })
        .await?;
    if let Some(k) = &found {
        state.sign_ins.put(cache_key, k.clone());
    }
    Ok(found)
}

pub const SESSION_COOKIE: &str = "atiende_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("hash: {e}")))
}

/// Runs argon2 work on the blocking pool with at most `permits` runs at once: each takes
/// ~19 MiB, unauthenticated requests (sign-ins, reset links, first-run setup) reach it, and
/// the blocking pool (16 threads) also serves every database read.
async fn argon2_limited<T: Send + 'static>(
    permits: &tokio::sync::Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> AppResult<T> {
    let _permit = permits
        .acquire()
        .await
        .map_err(|_| AppError::unavailable("shutting down"))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal(e.to_string()))
}

pub async fn hash_password_limited(
    permits: &tokio::sync::Semaphore,
    password: String,
) -> AppResult<String> {
    argon2_limited(permits, move || hash_password(&password)).await?
}

pub async fn verify_password_limited(
    permits: &tokio::sync::Semaphore,
    password: String,
    hash: String,
) -> AppResult<bool> {
    argon2_limited(permits, move || verify_password(&password, &hash)).await
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash nobody's password matches, verified when the email is unknown so that timing does
/// not tell which emails have accounts.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3Hk3lHk1Sm9wH5Ve0d4DKM2V0Ojl1xqNxLMV1Q9XgCc"
}

pub fn random_token(bytes: usize) -> String {
    let buf: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub fn validate_password(p: &str) -> AppResult<()> {
    if p.chars().count() < 8 {
        return Err(AppError::invalid(
            "password",
            "weak_password",
            "the password needs at least 8 characters",
        ));
    }
    Ok(())
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    /// The session's token hash, when signed in by cookie (None for API tokens).
    pub session_hash: Option<String>,
    /// The API token's hash, when signed in by token.
    pub token_hash: Option<String>,
    pub csrf_token: Option<String>,
}

impl CurrentUser {
    /// Sensitive changes ask for the password again (a stolen session must not become a
    /// takeover): `password` must be this user's current one.
    pub async fn confirm_password(&self, state: &AppState, password: &str) -> AppResult<()> {
        let ok = verify_password_limited(
            &state.password_checks,
            password.to_string(),
            self.user.password_hash.clone(),
        )
        .await?;
        if ok {
            Ok(())
        } else {
            Err(AppError::invalid(
                "current_password",
                "wrong_password",
                "the current password is not right",
            ))
        }
    }

    /// The language this user reads (locale files): `es` or `en`.
    pub fn lang(&self) -> &'static str {
        crate::locale::lang(&self.user.language)
    }

    /// Whether the credential this request came with still signs its user in: the session
    /// not ended (sign-out, password change) nor expired, the token not revoked, the user
    /// active. Long-lived requests (the event stream) ask it when the auth generation moves.
    pub async fn still_signed_in(&self, state: &AppState) -> AppResult<bool> {
        let now = state.store.now();
        if let Some(h) = &self.session_hash {
            return Ok(known(state, h, true)
                .await?
                .is_some_and(|k| k.user.active && k.session.is_some_and(|s| s.expires_at >= now)));
        }
        if let Some(h) = &self.token_hash {
            return Ok(known(state, h, false)
                .await?
                .is_some_and(|k| k.user.active && k.token_expires_at.is_none_or(|at| at > now)));
        }
        Ok(false)
    }

    pub fn require_admin(&self) -> AppResult<()> {
        if self.user.role == Role::Admin {
            Ok(())
        } else {
            Err(AppError::forbidden("this needs the administrator role"))
        }
    }

    /// What this user may touch: agents only the accounts they are enabled on.
    pub async fn access(&self, state: &AppState) -> AppResult<Access> {
        let visible = if self.user.role.sees_all_accounts() {
            None
        } else {
            let uid = self.user.id;
            Some(
                state
                    .store
                    .read(move |txn| accounts::visible_to(txn, uid))
                    .await?,
            )
        };
        Ok(Access {
            user_id: self.user.id,
            name: self.user.name.clone(),
            role: self.user.role,
            visible,
        })
    }
}

/// Their role must use a second factor and they have not enrolled yet.
pub fn must_enrol(user: &User, state: &AppState) -> bool {
    user.totp_secret.is_none() && state.two_factor_roles.requires(user.role)
}

/// What a user who must enrol may still reach: their own profile and two-factor enrolment, the
/// session (to sign out).
fn open_before_enrolment(path: &str) -> bool {
    path == "/api/v1/me" || path.starts_with("/api/v1/me/") || path == "/api/v1/session"
}

pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    for h in parts.headers.get_all(header::COOKIE) {
        let Ok(s) = h.to_str() else { continue };
        for pair in s.split(';') {
            let mut kv = pair.trim().splitn(2, '=');
            if kv.next() == Some(name) {
                return kv.next().map(|v| v.to_string());
            }
        }
    }
    None
}

/// `Option<CurrentUser>`: `None` for a visitor who is not signed in (no 401), so pages can ask
/// "who is this?" without an error.
impl OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, AppError> {
        match <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(user) => Ok(Some(user)),
            Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => Ok(None),
            Err(e) if e.code == "two_factor_setup_required" => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let now = state.store.now();
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|s| s.strip_prefix("Bearer "))
                .ok_or_else(|| {
                    AppError::unauthorized("the Authorization header must be `Bearer <token>`")
                })?;
            let hash = sha256_hex(token.trim());
            let user = known(state, &hash, false)
                .await?
                .filter(|k| k.token_expires_at.is_none_or(|at| at > now))
                .map(|k| k.user)
                .filter(|u| u.active)
                .ok_or_else(|| AppError::unauthorized("unknown, revoked or expired API token"))?;
            state.activity.touch(user.id, now);
            return Ok(CurrentUser {
                user,
                session_hash: None,
                token_hash: Some(hash),
                csrf_token: None,
            });
        }
        let token = cookie_value(parts, SESSION_COOKIE)
            .ok_or_else(|| AppError::unauthorized("sign in first"))?;
        let hash = sha256_hex(&token);
        let (session, user) = known(state, &hash, true)
            .await?
            .and_then(|k| Some((k.session?, k.user)))
            .ok_or_else(|| AppError::unauthorized("the session ended; sign in again"))?;
        if session.expires_at < now || !user.active {
            return Err(AppError::unauthorized("the session ended; sign in again"));
        }
        // The idle timeout: from the last use this process saw, else the one stored.
        let stored = session.last_seen_at.unwrap_or(session.created_at);
        let last = state.session_seen.last(&hash).unwrap_or(stored).max(stored);
        let idle_ms = i64::try_from(state.config.sessions.idle_minutes)
            .unwrap_or(i64::MAX / 120_000)
            .saturating_mul(60_000);
        if now.saturating_sub(last) > idle_ms {
            return Err(AppError::unauthorized(
                "the session ended after a time without use; sign in again",
            ));
        }
        if state.session_seen.touch(&hash, now, stored) {
            let (store, key) = (state.store.clone(), hash.clone());
            tokio::spawn(async move {
                if let Err(e) = store
                    .write(move |txn, _| users::touch_session(txn, &key, now))
                    .await
                {
                    tracing::debug!(error = %e.message, "session last use not written");
                }
            });
        }
        state.activity.touch(user.id, now);
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            match sent {
                None => {
                    return Err(AppError::new(
                        axum::http::StatusCode::FORBIDDEN,
                        "csrf_missing",
                        "the X-CSRF-Token header is required with a session cookie",
                    ))
                }
                Some(t) if t != session.csrf_token => {
                    return Err(AppError::new(
                        axum::http::StatusCode::FORBIDDEN,
                        "csrf_invalid",
                        "the X-CSRF-Token header does not match the session",
                    ))
                }
                Some(_) => {}
            }
        }
        if must_enrol(&user, state) && !open_before_enrolment(parts.uri.path()) {
            return Err(AppError::new(
                axum::http::StatusCode::FORBIDDEN,
                "two_factor_setup_required",
                "your role signs in with a second factor: set it up in your profile first",
            ));
        }
        Ok(CurrentUser {
            user,
            session_hash: Some(hash),
            token_hash: None,
            csrf_token: Some(session.csrf_token),
        })
    }
}

/// Failed sign-ins per key (email, IP) in a sliding window. Successful sign-ins do not count,
/// so a whole office behind one address can start its day.
pub struct RateLimiter {
    window: Duration,
    max: usize,
    hits: Mutex<HashMap<String, Vec<Instant>>>,
}

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            window,
            max,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt before the password is checked (so parallel attempts cannot all
    /// slip under the limit); false when the key is over its limit.
    pub fn try_begin(&self, key: &str) -> bool {
        let now = Instant::now();
        let Ok(mut map) = self.hits.lock() else {
            return false;
        };
        if map.len() > 100_000 {
            map.retain(|_, v| {
                v.last()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let v = map.entry(key.to_string()).or_default();
        v.retain(|t| now.duration_since(*t) < self.window);
        if v.len() >= self.max {
            return false;
        }
        v.push(now);
        true
    }

    /// A successful sign-in takes its attempt back.
    pub fn forgive(&self, key: &str) {
        if let Ok(mut map) = self.hits.lock() {
            if let Some(v) = map.get_mut(key) {
                v.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correcto-caballo").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correcto-caballo", &h));
        assert!(!verify_password("otra", &h));
        assert!(!verify_password("x", dummy_hash()));
        assert!(
            PasswordHash::new(dummy_hash()).is_ok(),
            "unknown emails must run a full argon2 verification"
        );
    }

    #[test]
    fn limiter_blocks_after_max_failures() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        assert!(l.try_begin("a"));
        l.forgive("a");
        assert!(l.try_begin("a"));
        assert!(l.try_begin("a"));
        assert!(!l.try_begin("a"), "two failures: blocked");
        assert!(l.try_begin("b"));
        let short = RateLimiter::new(1, Duration::from_millis(1));
        assert!(short.try_begin("a"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.try_begin("a"), "failures expire");
    }
}
