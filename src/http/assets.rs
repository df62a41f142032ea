//! The browser app, embedded with rust-embed (read from disk in debug builds, so a reload
//! shows edits).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

use crate::error::AppError;
use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Web;

/// Shared with the server (locale files, later templates and icons); served under /assets too.
#[derive(RustEmbed)]
#[folder = "assets/"]
pub struct Assets;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

fn serve(path: &str, cache: &'static str) -> Response {
    match Web::get(path).or_else(|| Assets::get(path)) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, cache.to_string()),
                ],
                file.data.into_owned(),
            )
                .into_response()
        }
        None => AppError::not_found("file").into_response(),
    }
}

async fn index() -> Response {
    serve("index.html", "no-cache")
}

async fn asset(Path(path): Path<String>) -> Response {
    // Asset URLs carry the release in their query string (?v=…), so they may be cached long.
    serve(&path, "public, max-age=86400")
}
