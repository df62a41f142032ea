//! Backups from the browser or a script (OPS-3): what the backup dir holds, the last backup,
//! and "back up now". Administrators only. Scheduled backups and `atiende backup` share the
//! same archive format (see `crate::backup`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::backup::service::{self, BackupRecord};
use crate::error::{AppResult, ErrorBody};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct BackupFile {
    pub name: String,
    pub bytes: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Backups {
    /// Where scheduled backups go (on the server's disk).
    pub dir: String,
    /// 0 when scheduled backups are off.
    pub every_hours: u64,
    pub keep: usize,
    /// The last backup this server took or streamed, successful or not.
    pub last: Option<BackupRecord>,
    /// Oldest first.
    pub files: Vec<BackupFile>,
}

#[utoipa::path(get, path = "/api/v1/backups", tag = "service",
    responses((status = 200, body = Backups), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<Backups>> {
    user.require_admin()?;
    let policy = state.config.backup.clone();
    let files = tokio::task::spawn_blocking({
        let dir = policy.dir.clone();
        move || service::list(&dir)
    })
    .await
    .map_err(|e| crate::error::AppError::internal(e.to_string()))??;
    Ok(Json(Backups {
        dir: policy.dir.display().to_string(),
        every_hours: policy.every_hours,
        keep: policy.keep,
        last: service::last(&state.store).await?,
        files: files
            .into_iter()
            .map(|(name, bytes)| BackupFile { name, bytes })
            .collect(),
    }))
}

/// Takes a backup into the backup dir now (then applies retention).
#[utoipa::path(post, path = "/api/v1/backups", tag = "service",
    responses((status = 201, body = BackupRecord), (status = 403, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
) -> AppResult<(StatusCode, Json<BackupRecord>)> {
    user.require_admin()?;
    let record = service::run(&state, "admin").await?;
    let entry = crate::domain::audit::AuditEntry::new(
        crate::domain::audit::AuditAction::BackupMade,
        (Some(user.user.id), &user.user.name),
        &origin,
        state.store.now(),
    )
    .detail("file", &record.file)
    .detail("bytes", record.bytes.to_string());
    state
        .store
        .write(move |txn, _| crate::store::audit::record(txn, entry.clone()))
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}
