//! Connection states (ASSIGN-4), their automatic changes, and the "why is this agent not
//! receiving tickets?" answer (ASSIGN-6).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{id_str, opt_ts, parse_id, text_field, ts, Page};
use crate::auth::CurrentUser;
use crate::domain::assign::Policy;
use crate::domain::audit::AuditAction::SettingChanged;
use crate::domain::{AssignMode, ConnectionSettings, ConnectionState};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::store::{assignment, next_id};

#[derive(Serialize, ToSchema)]
pub struct StateView {
    pub id: String,
    pub name: String,
    /// Agents in this state receive tickets.
    pub assignable: bool,
}

impl From<&ConnectionState> for StateView {
    fn from(s: &ConnectionState) -> Self {
        StateView {
            id: id_str(s.id),
            name: s.name.clone(),
            assignable: s.assignable,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateBody {
    pub name: Option<String>,
    pub assignable: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/connection_states", tag = "assignment",
    responses((status = 200, body = Page<StateView>)))]
pub async fn list_states(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<Page<StateView>>> {
    let all = state.store.read(assignment::states).await?;
    Ok(Json(Page {
        items: all.iter().map(StateView::from).collect(),
        next_cursor: None,
    }))
}

fn unique_name(all: &[ConnectionState], name: &str, except: Option<u64>) -> AppResult<()> {
    if all
        .iter()
        .any(|s| Some(s.id) != except && s.name.eq_ignore_ascii_case(name))
    {
        return Err(AppError::conflict(
            "state_exists",
            format!("a connection state named `{name}` already exists"),
        )
        .with_field("name"));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/connection_states", tag = "assignment", request_body = StateBody,
    responses((status = 201, body = StateView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_state(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiJson(body): ApiJson<StateBody>,
) -> AppResult<(StatusCode, Json<StateView>)> {
    user.require_admin()?;
    let name = text_field(body.name.as_deref().unwrap_or(""), "name", 40)?;
    let entry = super::audit::by(&user, &origin, SettingChanged, state.store.now())
        .detail("setting", "connection_states")
        .detail("added", &name);
    let assignable = body.assignable.unwrap_or(false);
    let created = state
        .store
        .write(move |txn, _| {
            unique_name(&assignment::states_w(txn)?, &name, None)?;
            let s = ConnectionState {
                id: next_id(txn, "connection_state")?,
                name: name.clone(),
                assignable,
            };
            assignment::put_state(txn, &s)?;
            crate::store::audit::record(txn, entry.clone())?;
            // Users still holding this name from before (a state deleted and made again).
            for u in assignment::holders(txn, &s.name)? {
                crate::store::users::put(txn, &u)?;
            }
            Ok(s)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(StateView::from(&created))))
}

#[utoipa::path(patch, path = "/api/v1/connection_states/{id}", tag = "assignment", params(("id" = String, Path)), request_body = StateBody,
    responses((status = 200, body = StateView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_state(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<StateBody>,
) -> AppResult<Json<StateView>> {
    user.require_admin()?;
    let id = parse_id(&id, "id")?;
    let name = body
        .name
        .as_deref()
        .map(|n| text_field(n, "name", 40))
        .transpose()?;
    let now = state.store.now();
    let entry = super::audit::by(&user, &origin, SettingChanged, now)
        .detail("setting", "connection_states");
    let updated = state
        .store
        .write(move |txn, fx| {
            let all = assignment::states_w(txn)?;
            let before = all
                .iter()
                .find(|s| s.id == id)
                .cloned()
                .ok_or_else(|| AppError::not_found("connection state"))?;
            let mut after = before.clone();
            if let Some(n) = &name {
                unique_name(&all, n, Some(id))?;
                after.name = n.clone();
            }
            if let Some(a) = body.assignable {
                after.assignable = a;
            }
            assignment::put_state(txn, &after)?;
            assignment::rename_state(txn, fx, &before, &after, now)?;
            crate::store::audit::record(
                txn,
                entry.clone().detail("changed", &before.name).detail(
                    "to",
                    format!(
                        "{} ({})",
                        after.name,
                        if after.assignable {
                            "assignable"
                        } else {
                            "not assignable"
                        }
                    ),
                ),
            )?;
            Ok(after)
        })
        .await?;
    Ok(Json(StateView::from(&updated)))
}

#[utoipa::path(delete, path = "/api/v1/connection_states/{id}", tag = "assignment", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_state(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    user.require_admin()?;
    let id = parse_id(&id, "id")?;
    let entry = super::audit::by(&user, &origin, SettingChanged, state.store.now())
        .detail("setting", "connection_states");
    state
        .store
        .write(move |txn, _| {
            let all = assignment::states_w(txn)?;
            let s = all
                .iter()
                .find(|s| s.id == id)
                .ok_or_else(|| AppError::not_found("connection state"))?;
            let settings = assignment::settings_w(txn)?;
            let named = |o: &Option<String>| {
                o.as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&s.name))
            };
            if named(&settings.on_sign_in)
                || named(&settings.on_sign_out)
                || named(&settings.idle_state)
            {
                return Err(AppError::conflict(
                    "state_in_use",
                    format!(
                        "`{}` is used by the automatic changes; change them first",
                        s.name
                    ),
                ));
            }
            if all.len() == 1 {
                return Err(AppError::conflict(
                    "last_state",
                    "at least one connection state must remain",
                ));
            }
            let held = assignment::holders(txn, &s.name)?.len();
            if held > 0 {
                return Err(AppError::conflict(
                    "state_in_use",
                    format!(
                        "{held} user(s) are in `{}`; they must pick another state first",
                        s.name
                    ),
                ));
            }
            crate::store::audit::record(txn, entry.clone().detail("removed", &s.name))?;
            assignment::delete_state(txn, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/connection_settings", tag = "assignment",
    responses((status = 200, body = ConnectionSettings)))]
pub async fn get_settings(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<ConnectionSettings>> {
    Ok(Json(state.store.read(assignment::settings).await?))
}

#[utoipa::path(put, path = "/api/v1/connection_settings", tag = "assignment", request_body = ConnectionSettings,
    responses((status = 200, body = ConnectionSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiJson(body): ApiJson<ConnectionSettings>,
) -> AppResult<Json<ConnectionSettings>> {
    user.require_admin()?;
    if body.idle_minutes == Some(0) || body.idle_minutes.is_some_and(|m| m > 24 * 60) {
        return Err(AppError::invalid(
            "idle_minutes",
            "invalid_setting",
            "idle_minutes must be between 1 and 1440",
        ));
    }
    if body.idle_minutes.is_some() != body.idle_state.is_some() {
        return Err(AppError::invalid(
            "idle_state",
            "invalid_setting",
            "idle_minutes and idle_state go together",
        ));
    }
    let entry = crate::domain::audit::AuditEntry::new(
        crate::domain::audit::AuditAction::SettingChanged,
        (Some(user.user.id), &user.user.name),
        &origin,
        state.store.now(),
    )
    .detail("setting", "connection_settings");
    let saved = state
        .store
        .write(move |txn, _| {
            let all = assignment::states_w(txn)?;
            let mut clean = body.clone();
            for (field, value) in [
                ("on_sign_in", &mut clean.on_sign_in),
                ("on_sign_out", &mut clean.on_sign_out),
                ("idle_state", &mut clean.idle_state),
            ] {
                if let Some(n) = value.as_deref() {
                    let s = assignment::find_state(&all, n).ok_or_else(|| {
                        AppError::invalid(
                            field,
                            "unknown_state",
                            format!("there is no connection state `{n}`"),
                        )
                    })?;
                    *value = Some(s.name.clone());
                }
            }
            assignment::put_settings(txn, &clean)?;
            crate::store::audit::record(txn, entry.clone())?;
            Ok(clean)
        })
        .await?;
    Ok(Json(saved))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhyParams {
    pub user_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountStatus {
    pub account_id: String,
    pub account_name: String,
    /// disabled, enabled (manual only) or auto.
    pub mode: AssignMode,
    pub policy: Policy,
    /// The account's cap is reached for this agent.
    pub at_cap: bool,
}

#[derive(Serialize, ToSchema)]
pub struct LastAssignmentView {
    pub ticket_number: u64,
    pub account_id: String,
    pub at: String,
    /// Why, in the reader's language.
    pub reason: String,
    pub reason_note: crate::domain::Note,
}

#[derive(Serialize, ToSchema)]
pub struct WhyView {
    pub user_id: String,
    pub name: String,
    pub active: bool,
    pub deactivated_at: Option<String>,
    pub connection_state: Option<String>,
    /// Active and in an assignable connection state.
    pub available: bool,
    pub open_tickets: u32,
    pub pending_tickets: u32,
    pub accounts: Vec<AccountStatus>,
    pub last_assignment: Option<LastAssignmentView>,
    /// Plain reasons (Spanish codes for the UI to translate): `deactivated`, `not_available`,
    /// `no_auto_account`, `at_cap`.
    pub blockers: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/assignment/why", tag = "assignment", params(WhyParams),
    responses((status = 200, body = WhyView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn why(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<WhyParams>,
) -> AppResult<Json<WhyView>> {
    let uid = parse_id(&p.user_id, "user_id")?;
    // Agents may ask about themselves; supervisors and admins about anyone.
    if uid != user.user.id && !user.user.role.sees_all_accounts() {
        return Err(AppError::forbidden(
            "only supervisors and administrators ask about others",
        ));
    }
    let w = state
        .store
        .read(move |txn| assignment::why(txn, uid))
        .await?;
    // Agents see only the accounts they work on.
    let everyone = user.user.role.sees_all_accounts();
    let accounts: Vec<AccountStatus> = w
        .accounts
        .iter()
        .filter(|a| everyone || a.mode != AssignMode::Disabled)
        .map(|a| AccountStatus {
            account_id: id_str(a.account.id),
            account_name: a.account.name.clone(),
            mode: a.mode,
            policy: a.policy,
            at_cap: a.policy.max_open.is_some_and(|m| w.open >= m),
        })
        .collect();
    let mut blockers = Vec::new();
    if !w.user.active {
        blockers.push("deactivated".to_string());
    } else if !w.state_assignable {
        blockers.push("not_available".to_string());
    }
    let auto: Vec<&AccountStatus> = accounts
        .iter()
        .filter(|a| a.mode == AssignMode::Auto)
        .collect();
    if auto.is_empty() {
        blockers.push("no_auto_account".to_string());
    } else if auto.iter().all(|a| a.at_cap) {
        blockers.push("at_cap".to_string());
    }
    Ok(Json(WhyView {
        user_id: id_str(w.user.id),
        name: w.user.name.clone(),
        active: w.user.active,
        deactivated_at: opt_ts(w.user.deactivated_at),
        connection_state: w.user.connection_state.clone(),
        available: w.state_assignable,
        open_tickets: w.open,
        pending_tickets: w.pending,
        accounts,
        last_assignment: w.last.map(|l| LastAssignmentView {
            ticket_number: l.ticket_number,
            account_id: id_str(l.account_id),
            at: ts(l.at),
            reason: crate::locale::render(user.lang(), &l.reason),
            reason_note: l.reason,
        }),
        blockers,
    }))
}
