//! `/healthz`: 200 when the store takes a write.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use crate::state::AppState;

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    // An empty write transaction through the writer proves the queue and the disk work.
    match state.store.write(|_, _| Ok(())).await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_seconds": state.started.elapsed().as_secs(),
                "commits": state.store.commit_count(),
            })),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "failing", "error": e.message})),
        ),
    }
}
