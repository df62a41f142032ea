//! The bell (issue 16, item 8): the signed-in user's notifications, newest first, and marking
//! them read (one, those of a ticket opened, or all).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{id_str, parse_id, ts};
use crate::auth::CurrentUser;
use crate::domain::{Notification, NotificationKind};
use crate::error::{AppResult, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::store::notifications::{self, Which};

#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub at: String,
    pub kind: NotificationKind,
    pub ticket_number: Option<u64>,
    /// Who caused it, or the account's name for a channel alert.
    pub actor: String,
    pub text: String,
    pub read: bool,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        NotificationView {
            id: id_str(n.id),
            at: ts(n.at),
            kind: n.kind,
            ticket_number: n.ticket_number,
            actor: n.actor.clone(),
            text: n.text.clone(),
            read: n.read,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Bell {
    pub items: Vec<NotificationView>,
    pub unread: u64,
}

#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "users",
    responses((status = 200, body = Bell), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<Bell>> {
    let uid = user.user.id;
    let (items, unread) = state
        .store
        .read(move |txn| notifications::list(txn, uid, 50))
        .await?;
    Ok(Json(Bell {
        items: items.iter().map(NotificationView::from).collect(),
        unread,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// One notification.
    pub id: Option<String>,
    /// Every notification of this ticket (the app sends it when the ticket is opened).
    pub ticket_number: Option<u64>,
    /// Everything.
    #[serde(default)]
    pub all: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Marked {
    /// How many were unread and are read now.
    pub marked: u64,
}

#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "users", request_body = MarkRead,
    responses((status = 200, body = Marked), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn mark_read(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<MarkRead>,
) -> AppResult<Json<Marked>> {
    let which = match (&body.id, body.ticket_number, body.all) {
        (Some(id), _, _) => Which::One(parse_id(id, "id")?),
        (None, Some(n), _) => Which::Ticket(n),
        (None, None, true) => Which::All,
        (None, None, false) => {
            return Err(crate::error::AppError::invalid(
                "id",
                "required",
                "say which: id, ticket_number or all",
            ))
        }
    };
    let uid = user.user.id;
    let which = std::sync::Arc::new(which);
    let asked = which.clone();
    if state
        .store
        .read(move |txn| notifications::unread(txn, uid, &asked))
        .await?
        == 0
    {
        return Ok(Json(Marked { marked: 0 }));
    }
    let marked = state
        .store
        .write(move |txn, _| notifications::mark_read(txn, uid, &which))
        .await?;
    Ok(Json(Marked { marked }))
}
