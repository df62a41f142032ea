//! Background exports (REPORT-4, seed 004's Administración › Exportaciones): tickets, messages
//! or contacts for any filter, written to a file in the data dir by a task while the user
//! goes on; the page shows the rows written so far and, once done, a download link that lasts
//! `EXPORT_KEPT_DAYS`. The rows are the same as the direct exports' (the same `Plan`).

use std::path::PathBuf;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::exports::{extension, Format, Plan};
use super::{id_str, ts, Page};
use crate::auth::CurrentUser;
use crate::domain::audit::AuditAction;
use crate::domain::{ExportJob, ExportState, Role, DAY_MS, EXPORT_KEPT_DAYS};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::{export_jobs, next_id};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    /// `tickets`, `messages` or `contacts`.
    pub kind: String,
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// The filter as the list's query string, e.g. `state=open&created_from=2026-11-01T00:00:00Z`
    /// (the parameters of `GET /tickets`, `GET /messages` or `GET /contacts`).
    #[serde(default)]
    pub filter: String,
}

#[derive(Serialize, ToSchema)]
pub struct ExportJobView {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub format: String,
    pub filter: String,
    /// running, done or failed (a job cut short by a restart reads failed).
    pub state: ExportState,
    /// Rows written so far (all of them once done).
    pub rows: u64,
    pub bytes: u64,
    pub file_name: String,
    /// Why it failed, in technical terms.
    pub error: Option<String>,
    /// It failed because the server restarted while it ran (start it again).
    pub interrupted: bool,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Where the file downloads from, once done.
    pub download_url: Option<String>,
    /// When the file is deleted.
    pub expires_at: String,
}

fn view(state: &AppState, j: &ExportJob) -> ExportJobView {
    let (job_state, rows, error) = match (j.state, state.exports.rows(j.id)) {
        (ExportState::Running, Some(rows)) => (ExportState::Running, rows, None),
        (ExportState::Running, None) => (
            ExportState::Failed,
            j.rows,
            Some("interrupted: the server restarted while it ran".to_string()),
        ),
        (s, _) => (s, j.rows, j.error.clone()),
    };
    let interrupted = j.state == ExportState::Running && job_state == ExportState::Failed;
    ExportJobView {
        id: id_str(j.id),
        user_id: id_str(j.user_id),
        kind: j.kind.clone(),
        format: j.format.clone(),
        filter: j.filter.clone(),
        state: job_state,
        rows,
        bytes: j.bytes,
        file_name: j.file_name.clone(),
        error,
        interrupted,
        created_at: ts(j.created_at),
        finished_at: j.finished_at.map(ts),
        download_url: (job_state == ExportState::Done)
            .then(|| format!("/api/v1/exports/{}/file", j.id)),
        expires_at: ts(j.created_at + EXPORT_KEPT_DAYS * DAY_MS),
    }
}

fn dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("exports")
}

fn file_of(state: &AppState, j: &ExportJob) -> PathBuf {
    dir(state).join(format!("{}.{}", j.id, j.format))
}

/// The list's parameters, read from a query string as the list would read them.
fn parse_filter<T: serde::de::DeserializeOwned>(filter: &str) -> AppResult<T> {
    let uri: Uri = format!("/?{filter}")
        .parse()
        .map_err(|_| invalid_filter())?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| invalid_filter())
}

fn invalid_filter() -> AppError {
    AppError::invalid(
        "filter",
        "invalid_filter",
        "the filter is not a query string of the list's parameters",
    )
}

fn may_see(user: &CurrentUser, j: &ExportJob) -> bool {
    j.user_id == user.user.id || user.user.role == Role::Admin
}

/// Starts an export in the background; its progress and file are under `GET /exports`.
#[utoipa::path(post, path = "/api/v1/exports", tag = "exports", request_body = ExportBody,
    responses((status = 202, body = ExportJobView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiJson(b): ApiJson<ExportBody>,
) -> AppResult<(StatusCode, Json<ExportJobView>)> {
    let format = super::exports::ExportParams {
        format: b.format.clone(),
    }
    .format()?;
    let filter = b.filter.trim().trim_start_matches('?').to_string();
    let (plan, action): (Plan, AuditAction) = match b.kind.as_str() {
        "tickets" => (
            super::tickets::export::plan(&state, &user, &parse_filter(&filter)?).await?,
            AuditAction::TicketsExported,
        ),
        "messages" => (
            super::messages::export_plan(&state, &user, &parse_filter(&filter)?).await?,
            AuditAction::MessagesExported,
        ),
        "contacts" => (
            super::contact_files::export_plan(&state, &user, &parse_filter(&filter)?).await?,
            AuditAction::ContactsExported,
        ),
        other => {
            return Err(AppError::invalid(
                "kind",
                "invalid_export_kind",
                format!("kind is tickets, messages or contacts, not `{other}`"),
            ))
        }
    };
    super::exports::record(&state, &user, &origin, action, filter.clone()).await?;
    let now = state.store.now();
    let date = ts(now).get(..10).unwrap_or_default().to_string();
    let mut job = ExportJob {
        id: 0,
        user_id: user.user.id,
        kind: b.kind.clone(),
        format: extension(format).to_string(),
        filter,
        state: ExportState::Running,
        rows: 0,
        bytes: 0,
        file_name: format!("{}-{date}.{}", plan.stem, extension(format)),
        error: None,
        created_at: now,
        finished_at: None,
    };
    let cutoff = now - EXPORT_KEPT_DAYS * DAY_MS;
    let (saved, expired) = state
        .store
        .write(move |txn, _| {
            let mut job = job.clone();
            job.id = next_id(txn, "export_job")?;
            export_jobs::put(txn, &job)?;
            Ok((job, export_jobs::remove_before(txn, cutoff)?))
        })
        .await?;
    for old in &expired {
        let _ = tokio::fs::remove_file(file_of(&state, old)).await;
    }
    job = saved;
    let rows = state.exports.start(job.id);
    let runner = state.clone();
    let running = job.clone();
    tokio::spawn(async move { run(runner, running, plan, format, rows).await });
    Ok((StatusCode::ACCEPTED, Json(view(&state, &job))))
}

/// Writes the file, then records how it went.
async fn run(
    state: AppState,
    mut job: ExportJob,
    plan: Plan,
    format: Format,
    rows: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    let path = file_of(&state, &job);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn((plan.produce)(tx));
    let written =
        super::exports::write_file(format, path.clone(), dir(&state), plan.header, rx, rows).await;
    match written {
        Ok(n) => {
            job.state = ExportState::Done;
            job.rows = n;
            job.bytes = tokio::fs::metadata(&path)
                .await
                .map(|m| m.len())
                .unwrap_or(0);
        }
        Err(e) => {
            tracing::warn!(job = job.id, error = %e.message, "background export failed");
            job.state = ExportState::Failed;
            job.error = Some(e.message);
            let _ = tokio::fs::remove_file(&path).await;
        }
    }
    job.finished_at = Some(state.store.now());
    let saved = job.clone();
    // Deleted while it ran: nothing to record, and its file goes too.
    let kept = state
        .store
        .write(move |txn, _| {
            let kept = export_jobs::exists_w(txn, saved.id)?;
            if kept {
                export_jobs::put(txn, &saved)?;
            }
            Ok(kept)
        })
        .await;
    match kept {
        Ok(true) => {}
        Ok(false) => {
            let _ = tokio::fs::remove_file(&path).await;
        }
        Err(e) => {
            tracing::warn!(job = job.id, error = %e.message, "background export not recorded")
        }
    }
    state.exports.finish(job.id);
}

/// The user's background exports (an administrator's: everyone's), newest first.
#[utoipa::path(get, path = "/api/v1/exports", tag = "exports",
    responses((status = 200, body = Page<ExportJobView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<Page<ExportJobView>>> {
    let all = state.store.read(export_jobs::list).await?;
    Ok(Json(Page {
        items: all
            .iter()
            .filter(|j| may_see(&user, j))
            .map(|j| view(&state, j))
            .collect(),
        next_cursor: None,
    }))
}

async fn find(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<ExportJob> {
    let id: u64 = id.parse().map_err(|_| AppError::not_found("export"))?;
    state
        .store
        .read(move |txn| export_jobs::get(txn, id))
        .await?
        .filter(|j| may_see(user, j))
        .ok_or_else(|| AppError::not_found("export"))
}

/// The finished file.
#[utoipa::path(get, path = "/api/v1/exports/{id}/file", tag = "exports", params(("id" = String, Path)),
    responses((status = 200, description = "the file", content_type = "text/csv", body = String), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    let job = find(&state, &user, &id).await?;
    if job.state != ExportState::Done {
        return Err(AppError::conflict(
            "export_not_ready",
            "the export has not finished (or it failed)",
        ));
    }
    let path = file_of(&state, &job);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| AppError::not_found("export"))?;
    let format = if job.format == "xlsx" {
        Format::Xlsx
    } else {
        Format::Csv
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                super::exports::content_type(format).to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", job.file_name),
            ),
        ],
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}

/// Deletes the export and its file (a running one finishes and is then forgotten).
#[utoipa::path(delete, path = "/api/v1/exports/{id}", tag = "exports", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    let job = find(&state, &user, &id).await?;
    let id = job.id;
    state
        .store
        .write(move |txn, _| export_jobs::remove(txn, id))
        .await?;
    let _ = tokio::fs::remove_file(file_of(&state, &job)).await;
    Ok(StatusCode::NO_CONTENT)
}
