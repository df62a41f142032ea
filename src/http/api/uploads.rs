//! Files: upload (multipart) and access-checked download.

use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::tickets::AttachmentView;
use crate::auth::CurrentUser;
use crate::domain::Attachment;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiPath;
use crate::state::AppState;
use crate::store::catalog;

/// Types a browser may render inline from our origin without running anything.
const INLINE_TYPES: [&str; 6] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
];

fn too_large(max: usize) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the file is larger than the {} MB allowed",
            max / (1024 * 1024)
        ),
    )
}

/// What a broken or oversized multipart body answers.
pub fn multipart_error(e: axum::extract::multipart::MultipartError, max: usize) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(max)
    } else {
        AppError::bad_request("invalid_multipart", e.body_text())
    }
}

#[utoipa::path(post, path = "/api/v1/uploads", tag = "files",
    request_body(content_type = "multipart/form-data", description = "one part named `file`"),
    responses((status = 201, body = AttachmentView), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    mut form: Multipart,
) -> AppResult<(StatusCode, Json<AttachmentView>)> {
    let max = state.config.max_upload_bytes;
    let mut file: Option<(String, String, Vec<u8>)> = None;
    loop {
        let Some(field) = form
            .next_field()
            .await
            .map_err(|e| multipart_error(e, max))?
        else {
            break;
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = crate::store::blobs::clean_name(field.file_name().unwrap_or("archivo"));
        let content_type = field.content_type().map(str::to_string).unwrap_or_else(|| {
            mime_guess::from_path(&name)
                .first_or_octet_stream()
                .to_string()
        });
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, max))?;
        if bytes.len() > max {
            return Err(too_large(max));
        }
        file = Some((name, content_type, bytes.to_vec()));
        break;
    }
    let (name, content_type, bytes) = file.ok_or_else(|| {
        AppError::invalid("file", "required", "send the file in a part named `file`")
    })?;
    let blobs = state.store.blobs.clone();
    let size = bytes.len() as u64;
    let sha = tokio::task::spawn_blocking(move || blobs.put(&bytes))
        .await
        .map_err(|e| AppError::internal(e.to_string()))??;
    let now = state.store.now();
    let uid = user.user.id;
    let att = state
        .store
        .write(move |txn, _| {
            let a = Attachment {
                id: catalog::new_id::<Attachment>(txn)?,
                sha256: sha.clone(),
                name: name.clone(),
                size,
                content_type: content_type.clone(),
                uploaded_by: Some(uid),
                created_at: now,
                ticket_number: None,
            };
            catalog::insert(txn, a.id, &a)?;
            Ok(a)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(AttachmentView::from(&att))))
}

#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 200, description = "the file"), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Response> {
    let access = user.access(&state).await?;
    let uid = user.user.id;
    let att = state
        .store
        .read(move |txn| {
            let Some(a) = catalog::get::<Attachment>(txn, id)? else {
                return Ok(None);
            };
            let allowed = access.visible.is_none()
                || a.uploaded_by == Some(uid)
                || match a.ticket_number {
                    Some(n) => crate::store::tickets::get(txn, n)?
                        .is_some_and(|t| access.may_see(t.account_id)),
                    None => false,
                };
            Ok(allowed.then_some(a))
        })
        .await?
        .ok_or_else(|| AppError::not_found("attachment"))?;
    serve(&state, &att).await
}

/// Sends a stored file safely whoever uploaded it (agents, customers by mail, chat visitors):
/// only a few harmless types are shown inline with their type; everything else (HTML, SVG,
/// scripts…) downloads as opaque bytes, never rendered as Atiende's origin, and a sandboxing
/// CSP covers the rest.
pub async fn serve(state: &AppState, att: &Attachment) -> AppResult<Response> {
    let blobs = state.store.blobs.clone();
    let sha = att.sha256.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&sha))
        .await
        .map_err(|e| AppError::internal(e.to_string()))??;
    let essence = att
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let inline = INLINE_TYPES.contains(&essence.as_str());
    let (content_type, disposition) = if inline {
        (essence, "inline")
    } else {
        ("application/octet-stream".to_string(), "attachment")
    };
    let disposition = format!(
        "{disposition}; filename=\"{}\"",
        att.name.replace(
            |c: char| !c.is_ascii() || c.is_ascii_control() || c == '\\' || c == '"',
            "_"
        )
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
