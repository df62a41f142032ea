//! Vendors' webhooks, one route for every channel: the channel's driver checks the signature
//! and parses the payload (`ChannelDriver::webhook`); the messages are ingested together and
//! the vendor gets 200 only once they are durable. A redelivery is a no-op (external ids).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::domain::Channel;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiPath;
use crate::state::AppState;

#[utoipa::path(post, path = "/api/v1/channels/{kind}/{account}/webhook", tag = "channels",
    params(("kind" = String, Path, description = "the channel kind, as `GET /api/v1/channels` lists it"),
        ("account" = u64, Path)),
    request_body(content = String, description = "the vendor's payload, as the vendor sends it"),
    responses((status = 200, description = "stored (or already stored)"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath((kind, account_id)): ApiPath<(String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<StatusCode> {
    let kind: Channel = serde_json::from_value(serde_json::Value::String(kind))
        .map_err(|_| AppError::not_found("channel"))?;
    let account = state
        .store
        .read(move |txn| crate::store::accounts::get(txn, account_id))
        .await?
        .filter(|a| a.kind == kind && a.deleted_at.is_none())
        .ok_or_else(|| AppError::not_found("account"))?;
    let messages = crate::channels::driver(kind)
        .webhook(&account, &headers, &body)
        .ok_or_else(|| AppError::not_found("webhook"))??;
    crate::desk::ingest::batch(&state.store, messages).await?;
    Ok(StatusCode::OK)
}
