//! Profile fields and typifications (seed 003, TICK-9): everyone reads their definitions (the
//! forms are drawn from them); administrators define them in Administración.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{id_str, parse_id, text_field, Page};
use crate::auth::CurrentUser;
use crate::domain::fields::{FieldDef, FieldKind, FieldTarget};
use crate::domain::Account;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::catalog;

#[derive(Serialize, ToSchema)]
pub struct FieldView {
    /// Also the key of its values in a ticket's or contact's `fields`.
    pub id: String,
    pub target: FieldTarget,
    pub name: String,
    pub kind: FieldKind,
    pub options: Vec<String>,
    /// The accounts it applies to; empty = every account.
    pub accounts: Vec<String>,
    pub mandatory: bool,
    pub position: u32,
}

impl From<&FieldDef> for FieldView {
    fn from(f: &FieldDef) -> Self {
        FieldView {
            id: id_str(f.id),
            target: f.target,
            name: f.name.clone(),
            kind: f.kind,
            options: f.options.clone(),
            accounts: f.accounts.iter().map(|a| id_str(*a)).collect(),
            mandatory: f.mandatory,
            position: f.position,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldBody {
    /// Only when creating.
    pub target: Option<FieldTarget>,
    pub name: Option<String>,
    /// Only when creating: stored values keep the shape of their kind.
    pub kind: Option<FieldKind>,
    pub options: Option<Vec<String>>,
    pub accounts: Option<Vec<String>>,
    pub mandatory: Option<bool>,
    pub position: Option<u32>,
}

const MAX_OPTIONS: usize = 200;

fn check_options(kind: FieldKind, options: &[String]) -> AppResult<Vec<String>> {
    if !kind.has_options() {
        return Ok(Vec::new());
    }
    let mut clean: Vec<String> = Vec::new();
    for o in options {
        let o = text_field(o, "options", 80)?;
        if !clean.contains(&o) {
            clean.push(o);
        }
    }
    if clean.is_empty() || clean.len() > MAX_OPTIONS {
        return Err(AppError::invalid(
            "options",
            "options_required",
            format!("a choice needs between 1 and {MAX_OPTIONS} options"),
        ));
    }
    Ok(clean)
}

fn parse_accounts(ids: &[String], known: &[Account]) -> AppResult<Vec<u64>> {
    let mut out = Vec::new();
    for s in ids {
        let id = parse_id(s, "accounts")?;
        if !known.iter().any(|a| a.id == id) {
            return Err(AppError::invalid(
                "accounts",
                "unknown_account",
                format!("no account {id}"),
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/fields", tag = "fields", responses((status = 200, body = Page<FieldView>)))]
pub async fn list(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<Page<FieldView>>> {
    let mut all: Vec<FieldDef> = state.store.read(catalog::list::<FieldDef>).await?;
    all.sort_by_key(|f| (f.position, f.id));
    Ok(Json(Page {
        items: all.iter().map(FieldView::from).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/fields", tag = "fields", request_body = FieldBody,
    responses((status = 201, body = FieldView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<FieldBody>,
) -> AppResult<(StatusCode, Json<FieldView>)> {
    user.require_admin()?;
    let kind = b.kind.unwrap_or_default();
    let name = text_field(b.name.as_deref().unwrap_or(""), "name", 60)?;
    let options = check_options(kind, b.options.as_deref().unwrap_or(&[]))?;
    let accounts = b.accounts.unwrap_or_default();
    let field = state
        .store
        .write(move |txn, fx| {
            let known = crate::store::accounts::list_w(txn)?;
            let mut f = FieldDef {
                id: catalog::new_id::<FieldDef>(txn)?,
                target: b.target.unwrap_or_default(),
                name: name.clone(),
                kind,
                options: options.clone(),
                accounts: parse_accounts(&accounts, &known)?,
                mandatory: b.mandatory.unwrap_or(false),
                position: 0,
            };
            f.position = b.position.unwrap_or(f.id as u32);
            catalog::put(txn, fx, f.id, &f)?;
            Ok(f)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(FieldView::from(&field))))
}

#[utoipa::path(patch, path = "/api/v1/fields/{id}", tag = "fields", params(("id" = String, Path)), request_body = FieldBody,
    responses((status = 200, body = FieldView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
    ApiJson(b): ApiJson<FieldBody>,
) -> AppResult<Json<FieldView>> {
    user.require_admin()?;
    let name = b
        .name
        .as_deref()
        .map(|n| text_field(n, "name", 60))
        .transpose()?;
    let field = state
        .store
        .write(move |txn, fx| {
            let mut f: FieldDef =
                catalog::get_w(txn, id)?.ok_or_else(|| AppError::not_found("field"))?;
            if b.kind.is_some_and(|k| k != f.kind) || b.target.is_some_and(|t| t != f.target) {
                return Err(AppError::invalid(
                    "kind",
                    "field_kind_fixed",
                    "a field keeps its kind and what it describes; make a new one instead",
                ));
            }
            if let Some(n) = &name {
                f.name = n.clone();
            }
            if let Some(o) = &b.options {
                f.options = check_options(f.kind, o)?;
            }
            if let Some(a) = &b.accounts {
                f.accounts = parse_accounts(a, &crate::store::accounts::list_w(txn)?)?;
            }
            if let Some(m) = b.mandatory {
                f.mandatory = m;
            }
            if let Some(p) = b.position {
                f.position = p;
            }
            catalog::put(txn, fx, id, &f)?;
            Ok(f)
        })
        .await?;
    Ok(Json(FieldView::from(&field)))
}

/// The field goes; values already stored stay on their tickets and contacts (reports keep
/// counting them) but no form shows them.
#[utoipa::path(delete, path = "/api/v1/fields/{id}", tag = "fields", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<u64>,
) -> AppResult<StatusCode> {
    user.require_admin()?;
    state
        .store
        .write(move |txn, fx| catalog::remove::<FieldDef>(txn, fx, id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
