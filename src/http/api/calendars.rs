//! Business hours (SLA-2): calendars with a time zone, weekly periods and holidays, defined by
//! administrators in Administración › Horarios; everyone reads them (cards and the chat say
//! when a team is open).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{id_str, text_field, Page};
use crate::auth::CurrentUser;
use crate::domain::calendar::{chile_holidays, Calendar, Holiday};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::catalog;

#[derive(Serialize, ToSchema)]
pub struct CalendarView {
    pub id: String,
    pub name: String,
    /// A tz database name, e.g. `America/Santiago`.
    pub time_zone: String,
    /// Per day (`mon`..`sun`), open periods as `["09:00", "18:00"]`.
    pub week: BTreeMap<String, Vec<[String; 2]>>,
    pub holidays: Vec<Holiday>,
    /// Open right now, and when it next opens (RFC 3339; absent when nothing opens within a year).
    pub open_now: bool,
    pub next_open: Option<String>,
}

impl CalendarView {
    fn of(c: &Calendar, now: crate::domain::Millis) -> Self {
        CalendarView {
            id: id_str(c.id),
            name: c.name.clone(),
            time_zone: c.time_zone.clone(),
            week: c.week.clone(),
            holidays: c.holidays.clone(),
            open_now: c.is_open(now),
            next_open: c.next_open(now).map(super::ts),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub week: Option<BTreeMap<String, Vec<[String; 2]>>>,
    pub holidays: Option<Vec<Holiday>>,
}

fn checked(c: Calendar) -> AppResult<Calendar> {
    c.check()
        .map_err(|(field, message)| AppError::invalid(field, "invalid_calendar", message))?;
    Ok(c)
}

fn apply(c: &mut Calendar, b: &CalendarBody) -> AppResult<()> {
    if let Some(n) = &b.name {
        c.name = text_field(n, "name", 80)?;
    }
    if let Some(z) = &b.time_zone {
        c.time_zone = z.trim().to_string();
    }
    if let Some(w) = &b.week {
        c.week = w.clone();
    }
    if let Some(h) = &b.holidays {
        if h.len() > 500 {
            return Err(AppError::invalid(
                "holidays",
                "too_many_values",
                "at most 500 holidays",
            ));
        }
        c.holidays = h
            .iter()
            .map(|x| Holiday {
                date: x.date.trim().to_string(),
                name: x.name.trim().chars().take(80).collect(),
            })
            .collect();
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/calendars", tag = "calendars", responses((status = 200, body = Page<CalendarView>)))]
pub async fn list(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<Page<CalendarView>>> {
    let all: Vec<Calendar> = state.store.read(catalog::list::<Calendar>).await?;
    let now = state.store.now();
    Ok(Json(Page {
        items: all.iter().map(|c| CalendarView::of(c, now)).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/calendars", tag = "calendars", request_body = CalendarBody,
    responses((status = 201, body = CalendarView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<CalendarBody>,
) -> AppResult<(StatusCode, Json<CalendarView>)> {
    user.require_admin()?;
    let mut c = Calendar {
        time_zone: "America/Santiago".into(),
        ..Default::default()
    };
    apply(&mut c, &b)?;
    if c.name.is_empty() {
        return Err(AppError::invalid(
            "name",
            "required",
            "name must not be empty",
        ));
    }
    let c = checked(c)?;
    let saved = state
        .store
        .write(move |txn, fx| {
            let mut c = c.clone();
            c.id = catalog::new_id::<Calendar>(txn)?;
            catalog::put(txn, fx, c.id, &c)?;
            Ok(c)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CalendarView::of(&saved, state.store.now())),
    ))
}

#[utoipa::path(patch, path = "/api/v1/calendars/{id}", tag = "calendars", params(("id" = String, Path)), request_body = CalendarBody,
    responses((status = 200, body = CalendarView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(b): ApiJson<CalendarBody>,
) -> AppResult<Json<CalendarView>> {
    user.require_admin()?;
    let now = state.store.now();
    let saved = state
        .store
        .write(move |txn, fx| {
            let mut c: Calendar =
                catalog::get_w(txn, id)?.ok_or_else(|| AppError::not_found("calendar"))?;
            apply(&mut c, &b)?;
            let c = checked(c)?;
            catalog::put(txn, fx, id, &c)?;
            // The SLA timers of the accounts that count these hours move with them (all
            // accounts' when a team keeps them: its tickets come from any).
            let team_hours = catalog::list_w::<crate::domain::Team>(txn)?
                .iter()
                .any(|t| t.calendar_id == Some(id));
            let following: Vec<u64> = crate::store::accounts::list_w(txn)?
                .into_iter()
                .filter(|a| team_hours || a.calendar_id() == Some(id))
                .map(|a| a.id)
                .collect();
            crate::store::sla::rearm(txn, &following, now)?;
            Ok(c)
        })
        .await?;
    Ok(Json(CalendarView::of(&saved, state.store.now())))
}

#[utoipa::path(delete, path = "/api/v1/calendars/{id}", tag = "calendars", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    user.require_admin()?;
    state
        .store
        .write(move |txn, fx| {
            // An account following it would be left pointing at nothing (and refused on its
            // next save): it is moved to other hours first.
            let mut users: Vec<String> = crate::store::accounts::list_w(txn)?
                .into_iter()
                .filter(|a| a.calendar_id() == Some(id))
                .map(|a| a.name)
                .collect();
            users.extend(
                catalog::list_w::<crate::domain::Team>(txn)?
                    .into_iter()
                    .filter(|t| t.calendar_id == Some(id))
                    .map(|t| t.name),
            );
            if !users.is_empty() {
                return Err(AppError::conflict(
                    "calendar_in_use",
                    format!("these accounts and teams follow it: {}", users.join(", ")),
                ));
            }
            catalog::remove::<Calendar>(txn, fx, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct HolidayList {
    pub items: Vec<Holiday>,
}

/// Chile's public holidays as a starting list for a calendar (editable once added).
#[utoipa::path(get, path = "/api/v1/calendars/holidays/cl", tag = "calendars", responses((status = 200, body = HolidayList)))]
pub async fn chile(user: CurrentUser) -> Json<HolidayList> {
    let lang = crate::locale::lang(&user.user.language);
    Json(HolidayList {
        items: chile_holidays()
            .into_iter()
            .map(|(date, key)| Holiday {
                date: date.into(),
                name: crate::locale::text(lang, key, &[]),
            })
            .collect(),
    })
}
