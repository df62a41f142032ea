//! The signed-in user's board (BOARD-1): their columns, saved on the server.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::messages::MessageFilter;
use super::text_field;
use super::tickets::{to_query, TicketFilter};
use crate::auth::CurrentUser;
use crate::domain::{Board, BoardColumn, ColumnKind};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::store::users;

pub const MAX_COLUMNS: usize = 20;

/// The filters a message column may carry: those of `GET /api/v1/messages`.
const MESSAGE_FILTER_KEYS: &[&str] = &["account", "channel", "direction", "public"];

/// The filters a ticket column may carry: the list filters of `GET /api/v1/tickets`.
const FILTER_KEYS: &[&str] = &[
    "state",
    "channel",
    "account",
    "assignee",
    "team",
    "label",
    "field",
    "important",
    "answered",
    "sla_breached",
    "q",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
];

const SORTS: &[&str] = &["updated_desc", "updated_asc", "created_desc", "created_asc"];

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardBody {
    /// `null` when the user never saved a board (the app then shows its default columns).
    pub columns: Option<Vec<BoardColumn>>,
}

/// Trimmed, at most 60 characters; empty means "the app's default name for this column id",
/// so the default columns follow the user's language.
fn column_name(name: &str, field: &str) -> AppResult<String> {
    let name = name.trim();
    if name.chars().count() > 60 {
        return Err(AppError::invalid(
            field,
            "too_long",
            format!("{field} is longer than 60 characters"),
        ));
    }
    Ok(name.to_string())
}

#[utoipa::path(get, path = "/api/v1/me/board", tag = "users",
    responses((status = 200, body = BoardBody), (status = 401, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<BoardBody>> {
    let id = user.user.id;
    let board = state.store.read(move |txn| users::board(txn, id)).await?;
    Ok(Json(BoardBody {
        columns: board.map(|b| b.columns),
    }))
}

#[utoipa::path(put, path = "/api/v1/me/board", tag = "users", request_body = BoardBody,
    responses((status = 200, body = BoardBody), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<BoardBody>,
) -> AppResult<Json<BoardBody>> {
    let columns = body.columns.unwrap_or_default();
    if columns.len() > MAX_COLUMNS {
        return Err(AppError::invalid(
            "columns",
            "too_many_columns",
            format!("a board has at most {MAX_COLUMNS} columns"),
        ));
    }
    let access = user.access(&state).await?;
    let mut clean = Vec::with_capacity(columns.len());
    for (i, c) in columns.into_iter().enumerate() {
        let at = |f: &str| format!("columns[{i}].{f}");
        let id = text_field(&c.id, &at("id"), 40)?;
        if clean.iter().any(|o: &BoardColumn| o.id == id) {
            return Err(AppError::invalid(
                &at("id"),
                "duplicate_column",
                format!("two columns share the id `{id}`"),
            ));
        }
        let keys = match c.kind {
            ColumnKind::Tickets => FILTER_KEYS,
            ColumnKind::Messages => MESSAGE_FILTER_KEYS,
        };
        if let Some(k) = c.filters.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(AppError::invalid(
                &at("filters"),
                "unknown_filter",
                format!("`{k}` is not a filter of this column's list"),
            ));
        }
        if !SORTS.contains(&c.sort.as_str()) {
            return Err(AppError::invalid(
                &at("sort"),
                "invalid_sort",
                format!("sort must be one of {}", SORTS.join(", ")),
            ));
        }
        // The same validation as the list itself, so a saved column always loads.
        let invalid = |e: serde_json::Error| {
            AppError::invalid(&at("filters"), "invalid_filter", e.to_string())
        };
        let filters = serde_json::to_value(&c.filters).map_err(invalid)?;
        match c.kind {
            ColumnKind::Tickets => {
                let filter: TicketFilter = serde_json::from_value(filters).map_err(invalid)?;
                to_query(&state, &user, &access, &filter).await?;
            }
            ColumnKind::Messages => {
                let filter: MessageFilter = serde_json::from_value(filters).map_err(invalid)?;
                super::messages::to_query(&filter)?;
            }
        }
        let filters = c
            .filters
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        clean.push(BoardColumn {
            id,
            name: column_name(&c.name, &at("name"))?,
            filters,
            ..c
        });
    }
    let board = Board { columns: clean };
    let id = user.user.id;
    let saved = board.clone();
    state
        .store
        .write(move |txn, _| users::save_board(txn, id, &saved))
        .await?;
    Ok(Json(BoardBody {
        columns: Some(board.columns),
    }))
}
