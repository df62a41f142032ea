//! Vendors' webhooks, one route for every channel: the channel's driver checks the signature
//! and parses the payload (`ChannelDriver::webhook`); the messages and delivery reports are
//! stored together and the vendor gets 200 only once they are durable. A redelivery is a
//! no-op (the vendor's ids). The GET form answers a vendor's check of the URL (Meta's
//! `hub.challenge`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;

use crate::domain::{Account, Channel};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiPath, ApiQuery};
use crate::state::AppState;

/// The account the URL names, of the kind it names, and the other accounts of that kind.
async fn account_of(
    state: &AppState,
    kind: String,
    account_id: u64,
) -> AppResult<(Account, Vec<Account>)> {
    let kind: Channel = serde_json::from_value(serde_json::Value::String(kind))
        .map_err(|_| AppError::not_found("channel"))?;
    let all = state.accounts.live(&state.store).await?;
    let (mine, others): (Vec<Account>, Vec<Account>) = all
        .iter()
        .filter(|a| a.kind == kind && a.deleted_at.is_none())
        .cloned()
        .partition(|a| a.id == account_id);
    let account = mine
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("account"))?;
    Ok((account, others))
}

#[utoipa::path(post, path = "/api/v1/channels/{kind}/{account}/webhook", tag = "channels",
    params(("kind" = String, Path, description = "the channel kind, as `GET /api/v1/channels` lists it"),
        ("account" = u64, Path)),
    request_body(content = String, description = "the vendor's payload, as the vendor sends it"),
    responses((status = 200, description = "stored (or already stored)"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "`disk_full`: nothing was stored; the vendor retries")))]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath((kind, account_id)): ApiPath<(String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<StatusCode> {
    let (account, siblings) = account_of(&state, kind, account_id).await?;
    let batch = crate::channels::driver(account.kind)
        .webhook(&account, &siblings, &headers, &body)
        .ok_or_else(|| AppError::not_found("webhook"))??;
    let notices = batch.notices.clone();
    crate::desk::ingest::delivery(&state.store, batch).await?;
    for n in notices {
        state.health.notice(n.account_id, n.note);
    }
    Ok(StatusCode::OK)
}

#[utoipa::path(get, path = "/api/v1/channels/{kind}/{account}/webhook", tag = "channels",
    params(("kind" = String, Path), ("account" = u64, Path),
        ("hub.mode" = Option<String>, Query), ("hub.verify_token" = Option<String>, Query),
        ("hub.challenge" = Option<String>, Query)),
    responses((status = 200, description = "the challenge, as plain text", content_type = "text/plain", body = String),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    ApiPath((kind, account_id)): ApiPath<(String, u64)>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> AppResult<impl IntoResponse> {
    let (account, _) = account_of(&state, kind, account_id).await?;
    let challenge = crate::channels::driver(account.kind)
        .verify_subscription(&account, &query)
        .ok_or_else(|| AppError::not_found("webhook"))??;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        challenge,
    ))
}
