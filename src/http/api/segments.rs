//! Saved contact filters ("segmentos", seed 002): a name and the Contactos list's query. Each
//! user sees their own and the shared ones; the owner or an administrator changes them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contacts::{to_query, ContactListParams};
use super::{id_str, text_field, Page};
use crate::auth::CurrentUser;
use crate::domain::{Role, Segment};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::catalog;

#[derive(Serialize, ToSchema)]
pub struct SegmentView {
    pub id: String,
    pub name: String,
    /// The Contactos list's query parameters (`q`, `label`, `channel`, `sort`, …).
    pub query: BTreeMap<String, String>,
    pub owner_id: String,
    pub shared: bool,
}

impl From<&Segment> for SegmentView {
    fn from(s: &Segment) -> Self {
        SegmentView {
            id: id_str(s.id),
            name: s.name.clone(),
            query: s.query.clone(),
            owner_id: id_str(s.owner_id),
            shared: s.shared,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentBody {
    pub name: Option<String>,
    pub query: Option<BTreeMap<String, String>>,
    /// Seen by every user (default: only by who saved it).
    pub shared: Option<bool>,
}

/// The query kept as given, once it is known to be one the list understands (no cursor or
/// page size: a segment is a filter, not a page).
fn check_query(q: &BTreeMap<String, String>) -> AppResult<BTreeMap<String, String>> {
    let clean: BTreeMap<String, String> = q
        .iter()
        .filter(|(k, v)| !v.trim().is_empty() && k.as_str() != "cursor" && k.as_str() != "limit")
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    let as_json = serde_json::Value::Object(
        clean
            .iter()
            .map(|(k, v)| {
                let value = match (k.as_str(), v.as_str()) {
                    ("influencer", "true") => serde_json::Value::Bool(true),
                    ("influencer", "false") => serde_json::Value::Bool(false),
                    _ => serde_json::Value::String(v.clone()),
                };
                (k.clone(), value)
            })
            .collect(),
    );
    let params: ContactListParams = serde_json::from_value(as_json).map_err(|e| {
        AppError::invalid(
            "query",
            "invalid_segment",
            format!("not a contacts filter: {e}"),
        )
    })?;
    let known = [
        "q",
        "label",
        "channel",
        "influencer",
        "field",
        "created_from",
        "created_to",
        "last_contact_from",
        "last_contact_to",
        "sort",
    ];
    if let Some(k) = clean.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(AppError::invalid(
            "query",
            "invalid_segment",
            format!("`{k}` is not a contacts filter"),
        ));
    }
    to_query(&params, 1).map_err(|e| AppError::invalid("query", "invalid_segment", e.message))?;
    Ok(clean)
}

fn may_change(user: &CurrentUser, s: &Segment) -> AppResult<()> {
    if s.owner_id == user.user.id || user.user.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only who saved a segment, or an administrator, changes it",
        ))
    }
}

#[utoipa::path(get, path = "/api/v1/segments", tag = "contacts", responses((status = 200, body = Page<SegmentView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<Page<SegmentView>>> {
    let me = user.user.id;
    let mut all: Vec<Segment> = state.store.read(catalog::list::<Segment>).await?;
    all.retain(|s| s.shared || s.owner_id == me);
    all.sort_by_key(|s| s.name.to_lowercase());
    Ok(Json(Page {
        items: all.iter().map(SegmentView::from).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/segments", tag = "contacts", request_body = SegmentBody,
    responses((status = 201, body = SegmentView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<SegmentBody>,
) -> AppResult<(StatusCode, Json<SegmentView>)> {
    let name = text_field(b.name.as_deref().unwrap_or(""), "name", 80)?;
    let query = check_query(&b.query.unwrap_or_default())?;
    let owner_id = user.user.id;
    let segment = state
        .store
        .write(move |txn, fx| {
            let s = Segment {
                id: catalog::new_id::<Segment>(txn)?,
                name: name.clone(),
                query: query.clone(),
                owner_id,
                shared: b.shared.unwrap_or(false),
            };
            catalog::put(txn, fx, s.id, &s)?;
            Ok(s)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(SegmentView::from(&segment))))
}

#[utoipa::path(patch, path = "/api/v1/segments/{id}", tag = "contacts", params(("id" = String, Path)), request_body = SegmentBody,
    responses((status = 200, body = SegmentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(b): ApiJson<SegmentBody>,
) -> AppResult<Json<SegmentView>> {
    let name = b
        .name
        .as_deref()
        .map(|n| text_field(n, "name", 80))
        .transpose()?;
    let query = b.query.as_ref().map(check_query).transpose()?;
    let me = user.user.id;
    let segment = state
        .store
        .write(move |txn, fx| {
            let mut s: Segment = catalog::get_w(txn, id)?
                .filter(|s: &Segment| s.shared || s.owner_id == me)
                .ok_or_else(|| AppError::not_found("segment"))?;
            may_change(&user, &s)?;
            if let Some(n) = &name {
                s.name = n.clone();
            }
            if let Some(q) = &query {
                s.query = q.clone();
            }
            if let Some(sh) = b.shared {
                s.shared = sh;
            }
            catalog::put(txn, fx, id, &s)?;
            Ok(s)
        })
        .await?;
    Ok(Json(SegmentView::from(&segment)))
}

#[utoipa::path(delete, path = "/api/v1/segments/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    let me = user.user.id;
    state
        .store
        .write(move |txn, fx| {
            let s: Segment = catalog::get_w(txn, id)?
                .filter(|s: &Segment| s.shared || s.owner_id == me)
                .ok_or_else(|| AppError::not_found("segment"))?;
            may_change(&user, &s)?;
            catalog::remove::<Segment>(txn, fx, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
