//! Users: the signed-in user, the admin's user list, deactivation (AUTH-4, AUTH-5).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::RequestOrigin;
use super::{id_str, name_field, opt_ts, text_field, ts};
use crate::auth::{self, CurrentUser};
use crate::domain::audit::AuditAction;
use crate::domain::{Role, User};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::users;

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub language: String,
    pub signature: Option<String>,
    /// Per account (id → text), instead of `signature` on that account's mail.
    pub signatures: std::collections::BTreeMap<String, String>,
    pub avatar_url: Option<String>,
    pub connection_state: Option<String>,
    pub created_at: String,
    pub deactivated_at: Option<String>,
    /// Invited by mail, and has not chosen a password through the link yet.
    pub invited: bool,
    pub last_sign_in_at: Option<String>,
    /// Signs in with a second factor (an authenticator app's code).
    pub two_factor: bool,
    /// Hid the first-steps guide.
    pub guide_dismissed: bool,
    pub notify: crate::domain::NotifyPrefs,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: id_str(u.id),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            active: u.active,
            language: u.language.clone(),
            signature: u.signature.clone(),
            signatures: u
                .signatures
                .iter()
                .map(|(k, v)| (id_str(*k), v.clone()))
                .collect(),
            avatar_url: u.avatar_url.clone(),
            connection_state: u.connection_state.clone(),
            created_at: ts(u.created_at),
            deactivated_at: opt_ts(u.deactivated_at),
            invited: u.invited,
            last_sign_in_at: opt_ts(u.last_sign_in_at),
            two_factor: u.totp_secret.is_some(),
            guide_dismissed: u.guide_dismissed,
            notify: u.notify,
        }
    }
}

pub use crate::domain::validate_email;

fn validate_language(l: &str) -> AppResult<String> {
    match l {
        "es" | "en" => Ok(l.to_string()),
        _ => Err(AppError::invalid(
            "language",
            "invalid_language",
            "language must be `es` or `en`",
        )),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: UserView,
    /// What the UI may offer this user.
    pub permissions: Vec<String>,
    /// Present when signed in with a cookie: send it as X-CSRF-Token.
    pub csrf_token: Option<String>,
    /// Their role must use a second factor and they have none yet: until they enrol, only
    /// `/api/v1/me…` and the session answer (403 `two_factor_setup_required` elsewhere).
    pub two_factor_setup_required: bool,
}

fn permissions(role: Role) -> Vec<String> {
    let mut p = vec!["tickets", "contacts", "canned_responses.use"];
    if role.sees_all_accounts() {
        p.extend(["tickets.all_accounts", "tickets.reopen", "reports"]);
    }
    if role == Role::Admin {
        p.extend(["users.manage", "accounts.manage", "settings.manage"]);
    }
    p.into_iter().map(String::from).collect()
}

#[utoipa::path(get, path = "/api/v1/me", tag = "users",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, user: CurrentUser) -> Json<Me> {
    Json(Me::of(&user, &state))
}

impl Me {
    pub fn of(user: &CurrentUser, state: &AppState) -> Me {
        Me {
            user: UserView::from(&user.user),
            permissions: permissions(user.user.role),
            csrf_token: user.csrf_token.clone(),
            two_factor_setup_required: crate::auth::must_enrol(&user.user, state),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStatus {
    /// A connection state name (e.g. "Conectado", "Colación").
    pub state: String,
}

#[utoipa::path(put, path = "/api/v1/me/status", tag = "users", request_body = SetStatus,
    responses((status = 200, body = UserView), (status = 422, body = ErrorBody)))]
pub async fn set_status(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<SetStatus>,
) -> AppResult<Json<UserView>> {
    let name = text_field(&body.state, "state", 60)?;
    let uid = user.user.id;
    let now = state.store.now();
    let (updated, _) = state
        .store
        .write(move |txn, fx| crate::store::assignment::set_user_state(txn, fx, uid, &name, now))
        .await?;
    Ok(Json(UserView::from(&updated)))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = super::Page<UserView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<super::Page<UserView>>> {
    // Everyone may list colleagues (assignment, @mentions); editing is for admins.
    let all = state.store.read(users::list).await?;
    Ok(Json(super::Page {
        items: all.iter().map(UserView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub email: String,
    pub name: String,
    /// Omit to invite: the user gets a mail with a link to choose their password (7 days).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default = "agent")]
    pub role: Role,
    #[serde(default)]
    pub language: Option<String>,
    /// The teams the user joins (ids).
    #[serde(default)]
    pub teams: Vec<String>,
}

fn team_ids(ids: &[String]) -> AppResult<Vec<u64>> {
    let mut out = ids
        .iter()
        .map(|s| super::parse_id(s, "teams"))
        .collect::<AppResult<Vec<u64>>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn agent() -> Role {
    Role::Agent
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserBody,
    responses((status = 201, body = UserView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<NewUserBody>,
) -> AppResult<(StatusCode, Json<UserView>)> {
    user.require_admin()?;
    let email = validate_email(&body.email)?;
    let name = name_field(&body.name, "name", 120)?;
    if let Some(p) = &body.password {
        auth::validate_password(p)?;
    }
    let language = validate_language(body.language.as_deref().unwrap_or("es"))?;
    let teams = team_ids(&body.teams)?;
    let invite = body.password.is_none();
    // An invited user's password is random and never told: only the mailed link opens it.
    let password = body
        .password
        .clone()
        .unwrap_or_else(|| auth::random_token(32));
    let hash = auth::hash_password_limited(&state.password_checks, password).await?;
    let new = users::NewUser {
        email,
        name,
        role: body.role,
        password_hash: hash,
        language,
        invited: invite,
    };
    let now = state.store.now();
    let base = super::link_base(&state, &headers, true)
        .await?
        .unwrap_or_default();
    let inviter = user.user.name.clone();
    let by_me = |action| super::audit::by(&user, &origin, action, now);
    let (created_entry, invited_entry) = (
        by_me(AuditAction::UserCreated),
        by_me(AuditAction::InvitationSent),
    );
    let created = state
        .store
        .write(move |txn, fx| {
            let u = users::create(txn, fx, &new, now)?;
            crate::store::catalog::set_teams_of(txn, fx, u.id, &teams)?;
            let entry = created_entry
                .clone()
                .target("user", u.id, &u.name)
                .detail("email", &u.email)
                .detail("role", u.role.as_str());
            crate::store::audit::record(txn, entry)?;
            if invite {
                super::password_resets::mail_link(txn, &u, "invitation", &base, &inviter, now)?;
                let entry = invited_entry.clone().target("user", u.id, &u.name);
                crate::store::audit::record(txn, entry)?;
            }
            Ok(u)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&created))))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    _user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<UserView>> {
    let u = state
        .store
        .read(move |txn| users::get(txn, id))
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    Ok(Json(UserView::from(&u)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub signature: Option<String>,
    pub avatar_url: Option<String>,
    pub password: Option<String>,
    /// Required to change one's own password.
    pub current_password: Option<String>,
    /// Admins only.
    pub role: Option<Role>,
    /// Admins only: the teams the user is in (ids), all of them.
    pub teams: Option<Vec<String>>,
    /// Hides (or shows again) one's own first-steps guide.
    pub guide_dismissed: Option<bool>,
    /// One's own notification preferences.
    pub notify: Option<crate::domain::NotifyPrefs>,
    /// Per-account signatures, all of them (account id → text; empty text: none for it).
    pub signatures: Option<std::collections::BTreeMap<String, String>>,
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiPath(id): ApiPath<u64>,
    ApiJson(body): ApiJson<UserPatch>,
) -> AppResult<Json<UserView>> {
    let is_admin = user.user.role == Role::Admin;
    if !is_admin && user.user.id != id {
        return Err(AppError::forbidden("you can only edit your own profile"));
    }
    if (body.role.is_some() || body.teams.is_some()) && !is_admin {
        return Err(AppError::forbidden(
            "only administrators change roles and teams",
        ));
    }
    let teams = body.teams.as_deref().map(team_ids).transpose()?;
    let name = body
        .name
        .as_deref()
        .map(|n| name_field(n, "name", 120))
        .transpose()?;
    let email = body.email.as_deref().map(validate_email).transpose()?;
    let language = body
        .language
        .as_deref()
        .map(validate_language)
        .transpose()?;
    // A stolen session must not become a takeover: one's own password or email (where reset
    // links go) changes only with the current password.
    let new_email = email.as_ref().is_some_and(|e| *e != user.user.email);
    if (body.password.is_some() || new_email) && id == user.user.id {
        let current = body.current_password.clone().ok_or_else(|| {
            AppError::invalid(
                "current_password",
                "required",
                "changing your email or password needs your current password",
            )
        })?;
        user.confirm_password(&state, &current).await?;
    }
    let password_hash = match body.password.clone() {
        Some(p) => {
            auth::validate_password(&p)?;
            Some(auth::hash_password_limited(&state.password_checks, p).await?)
        }
        None => None,
    };
    let (signature, avatar, role) = (body.signature.clone(), body.avatar_url.clone(), body.role);
    let guide = body.guide_dismissed;
    let signatures = body
        .signatures
        .as_ref()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| {
                    Ok((
                        super::parse_id(k, "signatures")?,
                        text_field(v, "signatures", 2_000)?,
                    ))
                })
                .collect::<AppResult<std::collections::BTreeMap<u64, String>>>()
        })
        .transpose()?;
    let notify = body.notify;
    if notify.is_some() && id != user.user.id {
        return Err(AppError::forbidden(
            "notification preferences are each person's own",
        ));
    }
    // A new password signs the user out everywhere else and ends their API tokens; a new
    // role signs them out everywhere else.
    let keep_session = if id == user.user.id {
        user.session_hash.clone()
    } else {
        None
    };
    let now = state.store.now();
    // Who changed it, from where; each change below names its own action.
    let by_me = super::audit::by(&user, &origin, AuditAction::Unknown, now);
    let updated = state
        .store
        .write(move |txn, fx| {
            let before = users::get_w(txn, id)?.ok_or_else(|| AppError::not_found("user"))?;
            let audit = |action| {
                let mut e = by_me.clone().target("user", id, &before.name);
                e.action = action;
                e
            };
            let mut after = before.clone();
            if let Some(n) = &name {
                after.name = n.clone();
            }
            if let Some(e) = &email {
                after.email = e.clone();
            }
            if let Some(l) = &language {
                after.language = l.clone();
            }
            if let Some(s) = &signature {
                after.signature = Some(s.clone()).filter(|s| !s.is_empty());
            }
            if let Some(a) = &avatar {
                after.avatar_url = Some(a.clone()).filter(|s| !s.is_empty());
            }
            if let Some(g) = guide {
                after.guide_dismissed = g;
            }
            if let Some(n) = notify {
                after.notify = n;
            }
            if let Some(s) = &signatures {
                after.signatures = s.clone();
            }
            if email.as_ref().is_some_and(|e| *e != before.email) {
                crate::store::audit::record(
                    txn,
                    audit(AuditAction::EmailChanged)
                        .detail("from", &before.email)
                        .detail("to", &after.email),
                )?;
            }
            if let Some(h) = &password_hash {
                crate::store::audit::record(txn, audit(AuditAction::PasswordChanged))?;
                after.password_hash = h.clone();
                users::end_sessions(txn, id, keep_session.as_deref())?;
                users::end_tokens(txn, id)?;
            }
            if let Some(t) = &teams {
                let names = |ids: &[u64]| -> AppResult<String> {
                    let all: Vec<crate::domain::Team> = crate::store::catalog::list_w(txn)?;
                    Ok(all
                        .iter()
                        .filter(|team| ids.contains(&team.id))
                        .map(|team| team.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "))
                };
                let was: Vec<u64> = crate::store::catalog::list_w::<crate::domain::Team>(txn)?
                    .iter()
                    .filter(|team| team.members.contains(&id))
                    .map(|team| team.id)
                    .collect();
                if was != *t {
                    let entry = audit(AuditAction::TeamsChanged)
                        .detail("from", names(&was)?)
                        .detail("to", names(t)?);
                    crate::store::catalog::set_teams_of(txn, fx, id, t)?;
                    crate::store::audit::record(txn, entry)?;
                }
            }
            if let Some(r) = role.filter(|r| *r != before.role) {
                crate::store::audit::record(
                    txn,
                    audit(AuditAction::RoleChanged)
                        .detail("from", before.role.as_str())
                        .detail("to", r.as_str()),
                )?;
                after.role = r;
                // A privilege change ends the user's sessions (security finding 19): they sign
                // in again and get a new session with the new rights.
                users::end_sessions(txn, id, keep_session.as_deref())?;
            }
            users::update(txn, fx, &before, &after)?;
            Ok(after)
        })
        .await?;
    Ok(Json(UserView::from(&updated)))
}

#[derive(Serialize, ToSchema)]
pub struct Deactivated {
    pub user: UserView,
    /// Tickets put back in the pool (open, created in the last 5 days).
    pub unassigned_tickets: Vec<u64>,
}

#[utoipa::path(post, path = "/api/v1/users/{id}/reactivate", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reactivate(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<UserView>> {
    user.require_admin()?;
    let now = state.store.now();
    let reactivated_entry = super::audit::by(&user, &origin, AuditAction::UserReactivated, now);
    let u = state
        .store
        .write(move |txn, fx| {
            let u = users::reactivate(txn, fx, id)?;
            let entry = reactivated_entry.clone().target("user", id, &u.name);
            crate::store::audit::record(txn, entry)?;
            Ok(u)
        })
        .await?;
    Ok(Json(UserView::from(&u)))
}

/// Mails an invited user a fresh link (the earlier ones stay valid until they expire).
#[utoipa::path(post, path = "/api/v1/users/{id}/invitation", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`not_invited`: the user already chose a password; `no_mail_account`")))]
pub async fn resend_invitation(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    user.require_admin()?;
    let now = state.store.now();
    let invited_entry = super::audit::by(&user, &origin, AuditAction::InvitationSent, now);
    let base = super::link_base(&state, &headers, true)
        .await?
        .unwrap_or_default();
    let inviter = user.user.name.clone();
    state
        .store
        .write(move |txn, _fx| {
            let u = users::get_w(txn, id)?.ok_or_else(|| AppError::not_found("user"))?;
            if !u.invited || !u.active {
                return Err(AppError::conflict(
                    "not_invited",
                    "this user already chose a password (or is deactivated): there is no invitation to send",
                ));
            }
            super::password_resets::mail_link(txn, &u, "invitation", &base, &inviter, now)?;
            let entry = invited_entry.clone().target("user", id, &u.name);
            crate::store::audit::record(txn, entry)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = Deactivated), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn deactivate(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<Deactivated>> {
    user.require_admin()?;
    if id == user.user.id {
        return Err(AppError::conflict(
            "cannot_deactivate_self",
            "you cannot deactivate yourself",
        ));
    }
    let now = state.store.now();
    let actor = user.user.id;
    let deactivated_entry = super::audit::by(&user, &origin, AuditAction::UserDeactivated, now);
    let (u, released) = state
        .store
        .write(move |txn, fx| {
            let released = users::deactivate(txn, fx, id, actor, now)?;
            let u = users::get_w(txn, id)?.ok_or_else(|| AppError::not_found("user"))?;
            let entry = deactivated_entry
                .clone()
                .target("user", id, &u.name)
                .detail("unassigned_tickets", released.len().to_string());
            crate::store::audit::record(txn, entry)?;
            Ok((u, released))
        })
        .await?;
    Ok(Json(Deactivated {
        user: UserView::from(&u),
        unassigned_tickets: released,
    }))
}
