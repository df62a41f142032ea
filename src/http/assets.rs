//! The browser app, embedded with rust-embed (read from disk in debug builds, so a reload
//! shows edits).
//!
//! Asset URLs carry a build id made from the content of every embedded file
//! (`/assets/<id>/app.js`), so they are cached for a year and a new release is fetched at once.
//! Modules import each other by relative path, so the whole app shares one id.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::locale::Assets;
use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Web;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

/// Twelve hex digits of a hash over every embedded file's hash.
fn compute_build_id() -> String {
    let mut h = Sha256::new();
    let files = Web::iter()
        .filter_map(|p| Web::get(&p).map(|f| (p, f)))
        .chain(Assets::iter().filter_map(|p| Assets::get(&p).map(|f| (p, f))));
    for (path, file) in files {
        h.update(path.as_bytes());
        h.update(file.metadata.sha256_hash());
    }
    for (path, body) in generated_modules() {
        h.update(path.as_bytes());
        h.update(body.as_bytes());
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn build_id() -> String {
    if cfg!(debug_assertions) {
        // Files are read from disk in debug builds: recompute so edits get a new id.
        return compute_build_id();
    }
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(compute_build_id).clone()
}

/// The cache-busting URL of an embedded file (pages rendered by the server link to these).
pub fn url(path: &str) -> String {
    format!("/assets/{}/{path}", build_id())
}

/// Modules the server writes from its own definitions, so the app never retypes them.
fn generated_modules() -> [(&'static str, String); 1] {
    [("events.js", crate::domain::events::browser_module())]
}

fn generated(path: &str) -> Option<String> {
    generated_modules()
        .into_iter()
        .find(|(p, _)| *p == path)
        .map(|(_, body)| body)
}

pub(crate) fn file(path: &str) -> Option<rust_embed::EmbeddedFile> {
    Web::get(path).or_else(|| Assets::get(path))
}

fn respond(body: Vec<u8>, mime: String, cache: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, cache.to_string()),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    let Some(page) = file("index.html") else {
        return AppError::not_found("file").into_response();
    };
    let html = String::from_utf8_lossy(&page.data).replace("{{build}}", &build_id());
    respond(
        html.into_bytes(),
        "text/html; charset=utf-8".into(),
        "no-cache",
    )
}

async fn asset(Path(path): Path<String>) -> Response {
    let id = build_id();
    let (name, cache) = match path.split_once('/') {
        Some((prefix, rest)) if prefix == id => (rest, "public, max-age=31536000, immutable"),
        // An old or missing build id: serve the current file, but never cache it.
        Some((prefix, rest))
            if prefix.len() == id.len() && (file(rest).is_some() || generated(rest).is_some()) =>
        {
            (rest, "no-cache")
        }
        _ => (path.as_str(), "no-cache"),
    };
    if let Some(body) = generated(name) {
        return respond(body.into_bytes(), "text/javascript".into(), cache);
    }
    match file(name) {
        Some(f) => {
            let mime = f.metadata.mimetype().to_string();
            respond(f.data.into_owned(), mime, cache)
        }
        None => AppError::not_found("file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_id_is_stable_hex() {
        let a = super::compute_build_id();
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, super::compute_build_id());
    }
}
