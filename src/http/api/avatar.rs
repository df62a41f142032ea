//! Profile photos (AUTH-5): raster images only (PNG, JPEG, WebP), decoded with limits, cut to
//! a 128-pixel square and stored as PNG among the attachments' blobs; served back by user.

use std::io::Cursor;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use super::users::UserView;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiPath;
use crate::state::AppState;
use crate::store::users;

const SIDE: u32 = 128;

fn not_an_image() -> AppError {
    AppError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_image",
        "send a photo as PNG, JPEG or WebP",
    )
}

/// The photo as a square PNG of `SIDE` pixels. Decoding is bounded (a small file that claims
/// to be enormous is refused, not allocated).
pub fn square_png(bytes: &[u8]) -> AppResult<Vec<u8>> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_an_image())?;
    match reader.format() {
        Some(image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::WebP) => {}
        _ => return Err(not_an_image()),
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8_000);
    limits.max_image_height = Some(8_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| not_an_image())?;
    let square = img.resize_to_fill(SIDE, SIDE, image::imageops::FilterType::Triangle);
    let mut out = Vec::new();
    square
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| AppError::internal(format!("avatar: {e}")))?;
    Ok(out)
}

#[utoipa::path(put, path = "/api/v1/me/avatar", tag = "users",
    request_body(content = Vec<u8>, description = "the photo: PNG, JPEG or WebP", content_type = "image/*"),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody, description = "`unsupported_image`")))]
pub async fn put(
    State(state): State<AppState>,
    user: CurrentUser,
    body: Bytes,
) -> AppResult<Json<UserView>> {
    let png = tokio::task::spawn_blocking(move || square_png(&body))
        .await
        .map_err(|e| AppError::internal(format!("avatar: {e}")))??;
    let blobs = state.store.blobs.clone();
    let sha = tokio::task::spawn_blocking(move || blobs.put(&png))
        .await
        .map_err(|e| AppError::internal(format!("avatar: {e}")))??;
    set(&state, user.user.id, Some(sha)).await
}

/// Stores (or clears) the user's photo; the URL carries the photo's hash, so caches renew.
async fn set(state: &AppState, uid: u64, sha: Option<String>) -> AppResult<Json<UserView>> {
    let updated = state
        .store
        .write(move |txn, fx| {
            let before = users::get_w(txn, uid)?.ok_or_else(|| AppError::not_found("user"))?;
            let mut after = before.clone();
            after.avatar_url = sha
                .as_ref()
                .map(|s| format!("/api/v1/users/{uid}/avatar?v={}", s.get(..12).unwrap_or(s)));
            after.avatar_sha = sha.clone();
            users::update(txn, fx, &before, &after)?;
            Ok(after)
        })
        .await?;
    Ok(Json(UserView::from(&updated)))
}

#[utoipa::path(delete, path = "/api/v1/me/avatar", tag = "users",
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<UserView>> {
    set(&state, user.user.id, None).await
}

/// A colleague's photo (signed-in users only; the URL changes with the photo, so it is cached).
#[utoipa::path(get, path = "/api/v1/users/{id}/avatar", tag = "users", params(("id" = String, Path)),
    responses((status = 200, description = "the photo, PNG", content_type = "image/png", body = Vec<u8>),
        (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    _user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<impl IntoResponse> {
    let sha = state
        .store
        .read(move |txn| users::get(txn, id))
        .await?
        .and_then(|u| u.avatar_sha)
        .ok_or_else(|| AppError::not_found("avatar"))?;
    let blobs = state.store.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&sha))
        .await
        .map_err(|e| AppError::internal(format!("avatar: {e}")))??;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
        ],
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_become_small_squares_and_other_files_are_refused() {
        let mut src = Vec::new();
        image::DynamicImage::new_rgb8(300, 200)
            .write_to(&mut Cursor::new(&mut src), image::ImageFormat::Jpeg)
            .unwrap();
        let png = square_png(&src).unwrap();
        let back = image::load_from_memory(&png).unwrap();
        assert_eq!((back.width(), back.height()), (SIDE, SIDE));
        assert_eq!(
            square_png(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
                .unwrap_err()
                .code,
            "unsupported_image"
        );
        assert_eq!(
            square_png(b"GIF89a....").unwrap_err().code,
            "unsupported_image"
        );
        // A PNG header claiming 100,000 × 100,000 pixels is refused, not allocated.
        let mut bomb = src.clone();
        bomb.clear();
        image::DynamicImage::new_rgb8(1, 1)
            .write_to(&mut Cursor::new(&mut bomb), image::ImageFormat::Png)
            .unwrap();
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(square_png(&bomb).is_err());
    }
}
