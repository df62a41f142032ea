//! Administración › Auditoría (security issue, finding 18): the audit log, filtered and paged
//! newest first, and as CSV. Administrators only.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contact_files::csv_line;
use super::{id_str, parse_id, parse_time, ts, Page};
use crate::auth::CurrentUser;
use crate::domain::audit::{AuditAction, AuditEntry, Origin};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiQuery;
use crate::state::AppState;
use crate::store::audit;

/// Where the request came from (the client's address, behind a trusted proxy too).
pub struct RequestOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestOrigin(origin_of(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
            &parts.headers,
        )))
    }
}

pub fn origin_of(peer: Option<SocketAddr>, headers: &HeaderMap) -> Origin {
    Origin {
        ip: peer.map(|p| p.ip().to_canonical().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// An entry for `user` changing `action` from this request (the caller adds target and details).
pub fn by(
    user: &CurrentUser,
    origin: &Origin,
    action: AuditAction,
    now: crate::domain::Millis,
) -> AuditEntry {
    AuditEntry::new(action, (Some(user.user.id), &user.user.name), origin, now)
}

#[derive(Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    pub at: String,
    pub action: AuditAction,
    pub actor_id: Option<String>,
    pub actor: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: std::collections::BTreeMap<String, String>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            id: id_str(e.id),
            at: ts(e.at),
            action: e.action,
            actor_id: e.actor_id.map(id_str),
            actor: e.actor,
            target: e.target,
            ip: e.ip,
            user_agent: e.user_agent,
            details: e.details,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only what this user did.
    pub actor_id: Option<String>,
    /// Only this action (`sign_in`, `role_changed` …).
    pub action: Option<String>,
    /// From this time (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Until this time (RFC 3339), exclusive.
    pub to: Option<String>,
    pub cursor: Option<String>,
    /// At most 200 (default 50).
    pub limit: Option<usize>,
}

fn filter_of(q: &AuditQuery) -> AppResult<audit::Filter> {
    Ok(audit::Filter {
        actor_id: q
            .actor_id
            .as_deref()
            .map(|s| parse_id(s, "actor_id"))
            .transpose()?,
        action: q
            .action
            .as_deref()
            .map(|a| {
                AuditAction::parse(a).ok_or_else(|| {
                    AppError::invalid("action", "invalid_action", format!("no audit action `{a}`"))
                })
            })
            .transpose()?,
        from: q
            .from
            .as_deref()
            .map(|s| parse_time(s, "from"))
            .transpose()?,
        to: q.to.as_deref().map(|s| parse_time(s, "to")).transpose()?,
        before: q
            .cursor
            .as_deref()
            .map(|s| parse_id(s, "cursor"))
            .transpose()?,
    })
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditView>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Json<Page<AuditView>>> {
    user.require_admin()?;
    let filter = filter_of(&q)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let entries = state
        .store
        .read(move |txn| audit::list(txn, &filter, limit + 1))
        .await?;
    let more = entries.len() > limit;
    let items: Vec<AuditView> = entries
        .into_iter()
        .take(limit)
        .map(AuditView::from)
        .collect();
    let next_cursor = more.then(|| items.last().map(|e| e.id.clone())).flatten();
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "the filtered entries as CSV, newest first", content_type = "text/csv", body = String),
        (status = 403, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<impl IntoResponse> {
    user.require_admin()?;
    let mut filter = filter_of(&q)?;
    let mut out = String::from("at,action,actor_id,actor,target,ip,user_agent,details\r\n");
    // Page through the log so one read transaction never holds it all.
    loop {
        let f = filter.clone();
        let page = state
            .store
            .read(move |txn| audit::list(txn, &f, 5_000))
            .await?;
        let Some(last) = page.last().map(|e| e.id) else {
            break;
        };
        for e in page {
            let details = e
                .details
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let row = [
                ts(e.at),
                e.action.as_str().to_string(),
                e.actor_id.map(id_str).unwrap_or_default(),
                e.actor,
                e.target.unwrap_or_default(),
                e.ip.unwrap_or_default(),
                e.user_agent.unwrap_or_default(),
                details,
            ];
            out.push_str(&csv_line(&row));
        }
        filter.before = Some(last);
    }
    let name = format!(
        "attachment; filename=\"auditoria-{}.csv\"",
        ts(state.store.now()).get(..10).unwrap_or("hoy")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        out,
    ))
}
