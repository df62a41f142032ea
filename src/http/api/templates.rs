//! An account's approved message templates (WhatsApp): what the composer offers once the
//! customer-service window is over.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::ts;
use crate::auth::CurrentUser;
use crate::desk;
use crate::domain::template::{Template, TemplateSet};
use crate::domain::Note;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiPath;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct TemplatesView {
    /// When they were last fetched from the vendor.
    pub synced_at: String,
    pub items: Vec<Template>,
}

fn view(user: &CurrentUser, found: Result<TemplateSet, Note>) -> AppResult<Json<TemplatesView>> {
    match found {
        Ok(set) => Ok(Json(TemplatesView {
            synced_at: ts(set.synced_at),
            items: set.templates,
        })),
        Err(note) => Err(AppError::vendor(
            "templates_unavailable",
            crate::locale::render(user.lang(), &note),
        )),
    }
}

/// The account's templates as last fetched (fetched now the first time).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/templates", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = TemplatesView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "this channel has no templates"),
        (status = 502, body = ErrorBody, description = "the vendor refused (what to do, in the reader's language)")))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<TemplatesView>> {
    let may_see = user.access(&state).await?.may_see(id);
    view(
        &user,
        desk::templates::list(&state.store, id, may_see).await?,
    )
}

/// Fetches the account's templates from the vendor again (a template approved a minute ago).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/templates/sync", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = TemplatesView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "this channel has no templates"),
        (status = 502, body = ErrorBody, description = "the vendor refused (what to do, in the reader's language)")))]
pub async fn sync(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<Json<TemplatesView>> {
    let may_see = user.access(&state).await?.may_see(id);
    view(
        &user,
        desk::templates::sync(&state.store, id, may_see).await?,
    )
}
