//! SLA policies (SLA-1, BEYOND-1): first- and next-response targets, on the clock or in
//! business hours, defined by administrators in Administración › SLA and followed by accounts
//! (`settings.sla_policy_id`). A change applies to the tickets already waiting: their due
//! times and notification timers move with it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{id_str, text_field, Page};
use crate::auth::CurrentUser;
use crate::domain::sla::SlaPolicy;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::{accounts, catalog, sla};

#[derive(Serialize, ToSchema)]
pub struct SlaPolicyView {
    pub id: String,
    pub name: String,
    pub first_response_minutes: i64,
    /// Absent: the first-response target applies to every answer.
    pub next_response_minutes: Option<i64>,
    pub business_hours: bool,
    /// The accounts that follow it.
    pub accounts: Vec<String>,
}

impl SlaPolicyView {
    fn of(p: &SlaPolicy, accounts: Vec<String>) -> Self {
        SlaPolicyView {
            id: id_str(p.id),
            name: p.name.clone(),
            first_response_minutes: p.first_response_minutes,
            next_response_minutes: p.next_response_minutes,
            business_hours: p.business_hours,
            accounts,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyBody {
    pub name: Option<String>,
    pub first_response_minutes: Option<i64>,
    /// null: the same as the first response.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub next_response_minutes: Option<Option<i64>>,
    pub business_hours: Option<bool>,
}

fn apply(p: &mut SlaPolicy, b: &SlaPolicyBody) -> AppResult<()> {
    if let Some(n) = &b.name {
        p.name = text_field(n, "name", 80)?;
    }
    if let Some(m) = b.first_response_minutes {
        p.first_response_minutes = m;
    }
    if let Some(m) = b.next_response_minutes {
        p.next_response_minutes = m;
    }
    if let Some(h) = b.business_hours {
        p.business_hours = h;
    }
    if p.name.is_empty() {
        return Err(AppError::invalid(
            "name",
            "required",
            "name must not be empty",
        ));
    }
    p.check()
        .map_err(|(field, message)| AppError::invalid(field, "invalid_sla_policy", message))
}

/// The ids of the accounts following policy `id`.
fn followers(txn: &redb::WriteTransaction, id: u64) -> AppResult<Vec<crate::domain::Account>> {
    Ok(accounts::list_w(txn)?
        .into_iter()
        .filter(|a| a.sla_policy_id() == Some(id))
        .collect())
}

#[utoipa::path(get, path = "/api/v1/sla_policies", tag = "sla_policies", responses((status = 200, body = Page<SlaPolicyView>)))]
pub async fn list(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<Page<SlaPolicyView>>> {
    let (all, accounts) = state
        .store
        .read(|txn| Ok((catalog::list::<SlaPolicy>(txn)?, accounts::list(txn)?)))
        .await?;
    Ok(Json(Page {
        items: all
            .iter()
            .map(|p| {
                let following = accounts
                    .iter()
                    .filter(|a| a.sla_policy_id() == Some(p.id))
                    .map(|a| id_str(a.id))
                    .collect();
                SlaPolicyView::of(p, following)
            })
            .collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/sla_policies", tag = "sla_policies", request_body = SlaPolicyBody,
    responses((status = 201, body = SlaPolicyView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<SlaPolicyBody>,
) -> AppResult<(StatusCode, Json<SlaPolicyView>)> {
    user.require_admin()?;
    let mut p = SlaPolicy::default();
    apply(&mut p, &b)?;
    let saved = state
        .store
        .write(move |txn, fx| {
            let mut p = p.clone();
            p.id = catalog::new_id::<SlaPolicy>(txn)?;
            catalog::put(txn, fx, p.id, &p)?;
            Ok(p)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(SlaPolicyView::of(&saved, vec![]))))
}

#[utoipa::path(patch, path = "/api/v1/sla_policies/{id}", tag = "sla_policies", params(("id" = String, Path)), request_body = SlaPolicyBody,
    responses((status = 200, body = SlaPolicyView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(b): ApiJson<SlaPolicyBody>,
) -> AppResult<Json<SlaPolicyView>> {
    user.require_admin()?;
    let now = state.store.now();
    let (saved, following) = state
        .store
        .write(move |txn, fx| {
            let mut p: SlaPolicy =
                catalog::get_w(txn, id)?.ok_or_else(|| AppError::not_found("sla_policy"))?;
            apply(&mut p, &b)?;
            catalog::put(txn, fx, id, &p)?;
            let following: Vec<u64> = followers(txn, id)?.iter().map(|a| a.id).collect();
            // A change mid-ticket: the waiting tickets' notifications move to the new times.
            sla::rearm(txn, &following, now)?;
            Ok((p, following))
        })
        .await?;
    Ok(Json(SlaPolicyView::of(
        &saved,
        following.into_iter().map(id_str).collect(),
    )))
}

#[utoipa::path(delete, path = "/api/v1/sla_policies/{id}", tag = "sla_policies", params(("id" = String, Path)),
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
            // An account following it would be left pointing at nothing: it is moved first.
            let names: Vec<String> = followers(txn, id)?.into_iter().map(|a| a.name).collect();
            if !names.is_empty() {
                return Err(AppError::conflict(
                    "sla_policy_in_use",
                    format!("these accounts follow it: {}", names.join(", ")),
                ));
            }
            catalog::remove::<SlaPolicy>(txn, fx, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
