//! Admin-managed lists: labels (ORG-2), teams (ORG-1), canned responses (ORG-5). Everyone
//! reads them; administrators change them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{id_str, parse_id, text_field, Page};
use crate::auth::CurrentUser;
use crate::domain::audit::AuditAction::TeamsChanged;
use crate::domain::{CannedResponse, Label, Team};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::catalog;

#[derive(Serialize, ToSchema)]
pub struct LabelView {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
}

impl From<&Label> for LabelView {
    fn from(l: &Label) -> Self {
        LabelView {
            id: id_str(l.id),
            name: l.name.clone(),
            color: l.color.clone(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelBody {
    pub name: Option<String>,
    /// `#rrggbb`.
    pub color: Option<String>,
}

fn check_color(c: &Option<String>) -> AppResult<Option<String>> {
    match c.as_deref() {
        None | Some("") => Ok(None),
        Some(s)
            if s.len() == 7
                && s.starts_with('#')
                && s[1..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(s.to_lowercase()))
        }
        Some(s) => Err(AppError::invalid(
            "color",
            "invalid_color",
            format!("`{s}` is not a #rrggbb colour"),
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/labels", tag = "labels", responses((status = 200, body = Page<LabelView>)))]
pub async fn list_labels(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<Page<LabelView>>> {
    let all: Vec<Label> = state.store.read(catalog::list::<Label>).await?;
    Ok(Json(Page {
        items: all.iter().map(LabelView::from).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/labels", tag = "labels", request_body = LabelBody,
    responses((status = 201, body = LabelView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_label(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<LabelBody>,
) -> AppResult<(StatusCode, Json<LabelView>)> {
    user.require_admin()?;
    let name = text_field(b.name.as_deref().unwrap_or(""), "name", 60)?;
    let color = check_color(&b.color)?;
    let label = state
        .store
        .write(move |txn, fx| {
            let l = Label {
                id: catalog::new_id::<Label>(txn)?,
                name: name.clone(),
                color: color.clone(),
            };
            catalog::put(txn, fx, l.id, &l)?;
            Ok(l)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(LabelView::from(&label))))
}

#[utoipa::path(patch, path = "/api/v1/labels/{id}", tag = "labels", params(("id" = String, Path)), request_body = LabelBody,
    responses((status = 200, body = LabelView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_label(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(b): ApiJson<LabelBody>,
) -> AppResult<Json<LabelView>> {
    user.require_admin()?;
    let name = b
        .name
        .as_deref()
        .map(|n| text_field(n, "name", 60))
        .transpose()?;
    let color = b
        .color
        .is_some()
        .then(|| check_color(&b.color))
        .transpose()?;
    let label = state
        .store
        .write(move |txn, fx| {
            let mut l: Label =
                catalog::get_w::<Label>(txn, id)?.ok_or_else(|| AppError::not_found("label"))?;
            if let Some(n) = &name {
                l.name = n.clone();
            }
            if let Some(c) = &color {
                l.color = c.clone();
            }
            catalog::put(txn, fx, id, &l)?;
            Ok(l)
        })
        .await?;
    Ok(Json(LabelView::from(&label)))
}

#[utoipa::path(delete, path = "/api/v1/labels/{id}", tag = "labels", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_label(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    user.require_admin()?;
    state
        .store
        .write(move |txn, fx| {
            catalog::get_w::<Label>(txn, id)?.ok_or_else(|| AppError::not_found("label"))?;
            // No ticket or contact keeps a label that is gone.
            catalog::replace_label(txn, fx, id, None)?;
            catalog::remove::<Label>(txn, fx, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct LabelUsage {
    pub id: String,
    /// Tickets that carry it, in any state.
    pub tickets: u64,
}

/// How many tickets carry each label (Administración › Etiquetas shows it before a delete).
#[utoipa::path(get, path = "/api/v1/labels/usage", tag = "labels",
    responses((status = 200, body = Page<LabelUsage>), (status = 403, body = ErrorBody)))]
pub async fn label_usage(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<Page<LabelUsage>>> {
    user.require_admin()?;
    let items = state
        .store
        .read(|txn| {
            let labels: Vec<Label> = catalog::list(txn)?;
            labels
                .iter()
                .map(|l| {
                    Ok(LabelUsage {
                        id: id_str(l.id),
                        tickets: crate::store::index::label_count(txn, l.id)?,
                    })
                })
                .collect::<AppResult<Vec<_>>>()
        })
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeLabel {
    /// The label that stays.
    pub into: String,
}

#[derive(Serialize, ToSchema)]
pub struct Merged {
    /// Tickets that carried the merged label.
    pub tickets: u64,
}

/// Merges a label into another: every ticket and contact with it gets the other, and it goes.
#[utoipa::path(post, path = "/api/v1/labels/{id}/merge", tag = "labels", params(("id" = String, Path)), request_body = MergeLabel,
    responses((status = 200, body = Merged), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn merge_label(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(b): ApiJson<MergeLabel>,
) -> AppResult<Json<Merged>> {
    user.require_admin()?;
    let into = super::parse_id(&b.into, "into")?;
    if into == id {
        return Err(AppError::invalid(
            "into",
            "same_label",
            "a label cannot be merged into itself",
        ));
    }
    let tickets = state
        .store
        .write(move |txn, fx| {
            catalog::get_w::<Label>(txn, id)?.ok_or_else(|| AppError::not_found("label"))?;
            catalog::get_w::<Label>(txn, into)?.ok_or_else(|| {
                AppError::invalid("into", "unknown_label", format!("no label {into}"))
            })?;
            let n = catalog::replace_label(txn, fx, id, Some(into))?;
            catalog::remove::<Label>(txn, fx, id)?;
            Ok(n)
        })
        .await?;
    Ok(Json(Merged { tickets }))
}

#[derive(Serialize, ToSchema)]
pub struct TeamView {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    /// The team's own business hours (its tickets' SLA counts in them), if it keeps any.
    pub calendar_id: Option<String>,
}

impl From<&Team> for TeamView {
    fn from(t: &Team) -> Self {
        TeamView {
            id: id_str(t.id),
            name: t.name.clone(),
            members: t.members.iter().map(|m| id_str(*m)).collect(),
            calendar_id: t.calendar_id.map(id_str),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    pub name: Option<String>,
    pub members: Option<Vec<String>>,
    /// null: the team follows each account's hours.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub calendar_id: Option<Option<String>>,
}

/// The calendar a team names, checked to exist.
fn team_calendar(
    txn: &redb::WriteTransaction,
    id: &Option<Option<String>>,
) -> AppResult<Option<Option<u64>>> {
    let Some(id) = id else { return Ok(None) };
    let Some(id) = id else { return Ok(Some(None)) };
    let id = parse_id(id, "calendar_id")?;
    if catalog::get_w::<crate::domain::calendar::Calendar>(txn, id)?.is_none() {
        return Err(AppError::invalid(
            "calendar_id",
            "unknown_calendar",
            format!("no calendar {id}"),
        ));
    }
    Ok(Some(Some(id)))
}

/// Every account's waiting tickets get their SLA timers again (a team's hours changed).
fn rearm_all(txn: &redb::WriteTransaction, now: crate::domain::Millis) -> AppResult<()> {
    let all: Vec<u64> = crate::store::accounts::list_w(txn)?
        .iter()
        .map(|a| a.id)
        .collect();
    crate::store::sla::rearm(txn, &all, now).map(|_| ())
}

fn member_ids(m: &Option<Vec<String>>) -> AppResult<Option<Vec<u64>>> {
    m.as_ref()
        .map(|v| {
            let mut ids = v
                .iter()
                .map(|s| parse_id(s, "members"))
                .collect::<AppResult<Vec<u64>>>()?;
            ids.sort_unstable();
            ids.dedup();
            Ok(ids)
        })
        .transpose()
}

/// Members' names, for the audit log.
fn member_names(txn: &crate::store::WriteTransaction, ids: &[u64]) -> AppResult<String> {
    let mut names = Vec::new();
    for id in ids {
        if let Some(u) = crate::store::users::get_w(txn, *id)? {
            names.push(u.name);
        }
    }
    Ok(names.join(", "))
}

fn check_members(txn: &crate::store::WriteTransaction, ids: &[u64]) -> AppResult<()> {
    for id in ids {
        if crate::store::users::get_w(txn, *id)?.is_none() {
            return Err(AppError::invalid(
                "members",
                "unknown_user",
                format!("no user {id}"),
            ));
        }
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", responses((status = 200, body = Page<TeamView>)))]
pub async fn list_teams(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<Page<TeamView>>> {
    let all: Vec<Team> = state.store.read(catalog::list::<Team>).await?;
    Ok(Json(Page {
        items: all.iter().map(TeamView::from).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = TeamBody,
    responses((status = 201, body = TeamView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_team(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiJson(b): ApiJson<TeamBody>,
) -> AppResult<(StatusCode, Json<TeamView>)> {
    user.require_admin()?;
    let entry = super::audit::by(&user, &origin, TeamsChanged, state.store.now());
    let name = text_field(b.name.as_deref().unwrap_or(""), "name", 80)?;
    let members = member_ids(&b.members)?.unwrap_or_default();
    let team = state
        .store
        .write(move |txn, fx| {
            check_members(txn, &members)?;
            let t = Team {
                id: catalog::new_id::<Team>(txn)?,
                name: name.clone(),
                members: members.clone(),
                calendar_id: team_calendar(txn, &b.calendar_id)?.flatten(),
            };
            catalog::put(txn, fx, t.id, &t)?;
            let e = entry
                .clone()
                .target("team", t.id, &t.name)
                .detail("added", &t.name);
            crate::store::audit::record(txn, e.detail("members", member_names(txn, &t.members)?))?;
            Ok(t)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(TeamView::from(&team))))
}

#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "teams", params(("id" = String, Path)), request_body = TeamBody,
    responses((status = 200, body = TeamView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_team(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiPath(id): ApiPath<u64>,
    ApiJson(b): ApiJson<TeamBody>,
) -> AppResult<Json<TeamView>> {
    user.require_admin()?;
    let now = state.store.now();
    let entry = super::audit::by(&user, &origin, TeamsChanged, now);
    let name = b
        .name
        .as_deref()
        .map(|n| text_field(n, "name", 80))
        .transpose()?;
    let members = member_ids(&b.members)?;
    let team = state
        .store
        .write(move |txn, fx| {
            let mut t: Team =
                catalog::get_w::<Team>(txn, id)?.ok_or_else(|| AppError::not_found("team"))?;
            let before = t.clone();
            if let Some(n) = &name {
                t.name = n.clone();
            }
            if let Some(m) = &members {
                check_members(txn, m)?;
                t.members = m.clone();
            }
            if let Some(c) = team_calendar(txn, &b.calendar_id)? {
                t.calendar_id = c;
            }
            catalog::put(txn, fx, id, &t)?;
            if t.calendar_id != before.calendar_id {
                rearm_all(txn, now)?;
            }
            let mut e = entry.clone().target("team", id, &before.name);
            if before.name != t.name {
                e = e.detail("name", format!("{} → {}", before.name, t.name));
            }
            if before.members != t.members {
                e = e
                    .detail("from", member_names(txn, &before.members)?)
                    .detail("to", member_names(txn, &t.members)?);
            }
            crate::store::audit::record(txn, e)?;
            Ok(t)
        })
        .await?;
    Ok(Json(TeamView::from(&team)))
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "teams", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_team(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    user.require_admin()?;
    let entry = super::audit::by(&user, &origin, TeamsChanged, state.store.now());
    state
        .store
        .write(move |txn, fx| {
            let t: Team = catalog::get_w(txn, id)?.ok_or_else(|| AppError::not_found("team"))?;
            catalog::remove::<Team>(txn, fx, id)?;
            crate::store::audit::record(
                txn,
                entry
                    .clone()
                    .target("team", id, &t.name)
                    .detail("removed", &t.name),
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct CannedView {
    pub id: String,
    pub title: String,
    pub shortcut: Option<String>,
    /// May hold variables such as {{customer.name}}.
    pub text: String,
    /// Only its owner sees and uses it.
    pub personal: bool,
}

impl From<&CannedResponse> for CannedView {
    fn from(c: &CannedResponse) -> Self {
        CannedView {
            id: id_str(c.id),
            title: c.title.clone(),
            shortcut: c.shortcut.clone(),
            text: c.text.clone(),
            personal: c.owner_id.is_some(),
        }
    }
}

/// Shared answers are the administrators'; a personal one is its owner's alone.
fn may_edit_canned(user: &CurrentUser, c: &CannedResponse) -> AppResult<()> {
    match c.owner_id {
        Some(owner) if owner == user.user.id => Ok(()),
        Some(_) => Err(AppError::not_found("canned_response")),
        None => user.require_admin(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedBody {
    pub title: Option<String>,
    pub shortcut: Option<String>,
    pub text: Option<String>,
    /// On creation: for the creator alone (anyone may have personal answers; shared ones are
    /// created by administrators).
    #[serde(default)]
    pub personal: bool,
}

#[utoipa::path(get, path = "/api/v1/canned_responses", tag = "canned_responses", responses((status = 200, body = Page<CannedView>)))]
pub async fn list_canned(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<Page<CannedView>>> {
    let all: Vec<CannedResponse> = state.store.read(catalog::list::<CannedResponse>).await?;
    let me = user.user.id;
    Ok(Json(Page {
        items: all
            .iter()
            .filter(|c| c.owner_id.is_none_or(|o| o == me))
            .map(CannedView::from)
            .collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/canned_responses", tag = "canned_responses", request_body = CannedBody,
    responses((status = 201, body = CannedView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_canned(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<CannedBody>,
) -> AppResult<(StatusCode, Json<CannedView>)> {
    if !b.personal {
        user.require_admin()?;
    }
    let owner_id = b.personal.then_some(user.user.id);
    let title = text_field(b.title.as_deref().unwrap_or(""), "title", 120)?;
    let text = text_field(b.text.as_deref().unwrap_or(""), "text", 10_000)?;
    let shortcut = b
        .shortcut
        .as_deref()
        .map(|s| text_field(s, "shortcut", 40))
        .transpose()?;
    let c = state
        .store
        .write(move |txn, fx| {
            let c = CannedResponse {
                id: catalog::new_id::<CannedResponse>(txn)?,
                title: title.clone(),
                shortcut: shortcut.clone(),
                text: text.clone(),
                owner_id,
            };
            catalog::put(txn, fx, c.id, &c)?;
            Ok(c)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CannedView::from(&c))))
}

#[utoipa::path(patch, path = "/api/v1/canned_responses/{id}", tag = "canned_responses", params(("id" = String, Path)), request_body = CannedBody,
    responses((status = 200, body = CannedView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_canned(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(b): ApiJson<CannedBody>,
) -> AppResult<Json<CannedView>> {
    let title = b
        .title
        .as_deref()
        .map(|s| text_field(s, "title", 120))
        .transpose()?;
    let text = b
        .text
        .as_deref()
        .map(|s| text_field(s, "text", 10_000))
        .transpose()?;
    let shortcut = b.shortcut.clone();
    let c = state
        .store
        .write(move |txn, fx| {
            let mut c: CannedResponse = catalog::get_w::<CannedResponse>(txn, id)?
                .ok_or_else(|| AppError::not_found("canned_response"))?;
            may_edit_canned(&user, &c)?;
            if let Some(t) = &title {
                c.title = t.clone();
            }
            if let Some(t) = &text {
                c.text = t.clone();
            }
            if let Some(s) = &shortcut {
                c.shortcut = Some(s.trim().to_string()).filter(|s| !s.is_empty());
            }
            catalog::put(txn, fx, id, &c)?;
            Ok(c)
        })
        .await?;
    Ok(Json(CannedView::from(&c)))
}

#[utoipa::path(delete, path = "/api/v1/canned_responses/{id}", tag = "canned_responses", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_canned(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    state
        .store
        .write(move |txn, fx| {
            let c: CannedResponse =
                catalog::get_w(txn, id)?.ok_or_else(|| AppError::not_found("canned_response"))?;
            may_edit_canned(&user, &c)?;
            catalog::remove::<CannedResponse>(txn, fx, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
