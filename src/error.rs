//! One error type for the whole server. Every failure a request can meet becomes an
//! `AppError` with an HTTP status, a stable snake_case code and a human message, rendered as
//! `{"error": {"code", "message", "field"}}`. Only storage/IO failures are 500s, and they are
//! logged once here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn too_many(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A vendor (Meta …) refused or failed what this request needed from it.
    pub fn vendor(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, code, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The disk holding the data is full: nothing was saved (vendors retry a 503).
    pub fn disk_full() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "disk_full",
            "the server's disk is full: nothing was saved; try again once an administrator frees space",
        )
    }

    /// The store is being opened again after a failed write; it answers again in seconds.
    pub fn storage_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the server could not save to its disk and is recovering: try again shortly",
        )
    }

    /// The store was held alone for maintenance (online compaction) longer than a caller waits.
    pub fn storage_busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_busy",
            "the server is compacting its database: try again in a minute",
        )
    }

    /// The writer could not have the database alone: a long reader (a backup) holds it.
    pub fn storage_in_use() -> Self {
        Self::conflict(
            "storage_in_use",
            "a backup or another long read is in progress: try again once it ends",
        )
    }

    /// An I/O failure: a full disk (or quota) is its own answer, anything else a 500.
    pub fn from_io(e: &std::io::Error, what: &str) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => Self::disk_full(),
            _ => Self::internal(format!("{what}: {e}")),
        }
    }

    /// Work the server gave up because it is stopping (a backup).
    pub fn stopping() -> Self {
        Self::conflict("stopping", "the server is stopping")
    }
}

/// The body shape of every error answer (API.md).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                field: self.field,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::from_io(&e, "storage")
    }
}

impl From<tantivy::TantivyError> for AppError {
    fn from(e: tantivy::TantivyError) -> Self {
        AppError::internal(format!("search: {e}"))
    }
}
