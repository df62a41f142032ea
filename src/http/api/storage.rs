//! The database's size and its compaction (issue 21), for administrators: how much the file
//! takes on disk, the compaction running or the last one, and "compact now". The server also
//! compacts by itself at night when a quarter of the file is free pages (`crate::maintenance`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::error::{AppResult, ErrorBody};
use crate::maintenance::{self, Compaction};
use crate::state::AppState;
use crate::store::FileSize;

#[derive(Serialize, ToSchema)]
pub struct Storage {
    /// The database file (attachments and the search index are beside it).
    pub database: FileSize,
    /// The compaction running, or the last one.
    pub compaction: Option<Compaction>,
}

#[utoipa::path(get, path = "/api/v1/storage", tag = "service",
    responses((status = 200, body = Storage), (status = 403, body = ErrorBody)))]
pub async fn show(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<Storage>> {
    user.require_admin()?;
    Ok(Json(Storage {
        database: state.store.file_size(),
        compaction: maintenance::last(&state).await?,
    }))
}

/// Starts compacting the database now: the tables are repacked while the server works as
/// usual, then the database is held alone for the final moves (seconds; about 20 s at a
/// million tickets), during which writes queue and reads wait. Answers at once; follow it
/// with `GET /api/v1/storage`.
#[utoipa::path(post, path = "/api/v1/storage/compact", tag = "service",
    responses((status = 202, body = Compaction), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a compaction is already running")))]
pub async fn compact(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
) -> AppResult<(StatusCode, Json<Compaction>)> {
    user.require_admin()?;
    let started = maintenance::start(&state, Some(user.user.name.clone()))?;
    let entry = crate::domain::audit::AuditEntry::new(
        crate::domain::audit::AuditAction::StorageCompacted,
        (Some(user.user.id), &user.user.name),
        &origin,
        state.store.now(),
    )
    .detail("bytes_on_disk", started.before.on_disk.to_string());
    state
        .store
        .write(move |txn, _| crate::store::audit::record(txn, entry.clone()))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}
