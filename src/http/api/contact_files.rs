//! Contacts in and out as spreadsheets (ORG-3, seed 002): a CSV import with a preview and a
//! per-row error report, and a CSV or XLSX export of any Contactos filter, read page by page.

use axum::extract::{Multipart, State};
use axum::response::Response;
use axum::Json;

use super::audit::{self, RequestOrigin};
use super::contacts::{to_query, ContactListParams};
use super::uploads::multipart_error;
use super::{id_str, ts};
use crate::auth::CurrentUser;
use crate::desk::contacts::{self as import, ImportReport, Mapping};
use crate::domain::audit::AuditAction;
use crate::domain::fields::FieldDef;
use crate::domain::{Contact, Label};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiQuery;
use crate::locale;
use crate::state::AppState;
use crate::store::{accounts, catalog, contact_index};

/// Spreadsheets saved by Excel in Chile are often Windows-1252: read as Latin-1 when the bytes
/// are not UTF-8 (every byte is then one character).
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

#[utoipa::path(post, path = "/api/v1/contacts/import", tag = "contacts",
    request_body(content_type = "multipart/form-data", description = "`file` (CSV with a header row); `mapping` (JSON: column header → `name`, `rut`, `email`, `phone`, `notes`, `influencer`, `labels`, `field:{id}` or `` to leave it out; guessed from the headers when absent); `dry_run` (`true`: a preview, nothing written)"),
    responses((status = 200, body = ImportReport), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    mut form: Multipart,
) -> AppResult<Json<ImportReport>> {
    let access = user.access(&state).await?;
    let max = state.config.max_upload_bytes;
    let (mut file, mut mapping, mut dry_run) = (None, Mapping::new(), false);
    loop {
        let Some(field) = form
            .next_field()
            .await
            .map_err(|e| multipart_error(e, max))?
        else {
            break;
        };
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, max))?;
        match name.as_str() {
            "file" => file = Some(text_of(&bytes)),
            "mapping" if !bytes.is_empty() => {
                mapping = serde_json::from_slice(&bytes).map_err(|e| {
                    AppError::invalid("mapping", "invalid_mapping", format!("mapping: {e}"))
                })?
            }
            "dry_run" => dry_run = bytes.as_ref() == b"true",
            _ => {}
        }
    }
    let text = file.ok_or_else(|| {
        AppError::invalid("file", "required", "send the CSV in a part named `file`")
    })?;
    let report = import::import(&state.store, access, text, mapping, dry_run).await?;
    if !dry_run {
        let entry = audit::by(
            &user,
            &origin,
            AuditAction::ContactsImported,
            state.store.now(),
        )
        .detail("rows", report.rows.to_string())
        .detail("created", report.created.to_string())
        .detail("updated", report.updated.to_string())
        .detail("errors", report.errors.len().to_string());
        state
            .store
            .write(move |txn, _| crate::store::audit::record(txn, entry.clone()))
            .await?;
    }
    Ok(Json(report))
}

/// One CSV field, quoted when it must be (and never read as a formula by a spreadsheet).
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r', ';']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn csv_line(fields: &[String]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

fn row_of(
    c: &Contact,
    labels: &[Label],
    kinds: &std::collections::HashMap<u64, crate::domain::Channel>,
    defs: &[FieldDef],
) -> Vec<String> {
    let mut channels: Vec<&str> = c
        .identities
        .iter()
        .filter_map(|i| kinds.get(&i.account_id).map(|k| k.as_str()))
        .collect();
    channels.dedup();
    let mut row = vec![
        id_str(c.id),
        c.name.clone(),
        c.rut
            .as_deref()
            .and_then(|r| crate::domain::rut::Rut::parse(r).ok())
            .map(|r| r.formatted())
            .unwrap_or_default(),
        c.email.clone().unwrap_or_default(),
        c.phone.clone().unwrap_or_default(),
        if c.influencer { "1" } else { "0" }.to_string(),
        c.labels
            .iter()
            .filter_map(|l| labels.iter().find(|x| x.id == *l).map(|x| x.name.clone()))
            .collect::<Vec<_>>()
            .join("|"),
        channels.join("|"),
        ts(c.created_at),
        ts(contact_index::last_contact(c)),
        c.notes.clone(),
    ];
    for d in defs {
        row.push(
            c.fields
                .get(&d.key())
                .map(|v| crate::domain::fields::value_text(v, "|", |b| b.to_string()))
                .unwrap_or_default(),
        );
    }
    row
}

/// Every contact the filter matches (no page limit), as CSV or XLSX in the user's language's
/// headers; read a page at a time, so memory stays flat however many there are.
#[utoipa::path(get, path = "/api/v1/contacts/export", tag = "contacts", params(ContactListParams, super::exports::ExportParams),
    responses((status = 200, description = "the contacts as CSV or XLSX", content_type = "text/csv", body = String), (status = 400, body = ErrorBody)))]
pub async fn export_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiQuery(p): ApiQuery<ContactListParams>,
    ApiQuery(how): ApiQuery<super::exports::ExportParams>,
) -> AppResult<Response> {
    let format = how.format()?;
    export_plan(&state, &user, &p)
        .await?
        .respond_recorded(
            &state,
            &user,
            &origin,
            AuditAction::ContactsExported,
            serde_json::to_string(&p.query_map()).unwrap_or_default(),
            format,
        )
        .await
}

/// The contacts export of filter `p`, as `user` may see it.
pub async fn export_plan(
    state: &AppState,
    user: &CurrentUser,
    p: &ContactListParams,
) -> AppResult<super::exports::Plan> {
    let access = user.access(state).await?;
    let query = to_query(p, 500)?;
    let q = p.q.clone().filter(|q| !q.trim().is_empty());
    let (labels, defs, kinds) = state
        .store
        .read(|txn| {
            let mut defs: Vec<FieldDef> = catalog::list::<FieldDef>(txn)?;
            defs.retain(|d| d.target == crate::domain::fields::FieldTarget::Contact);
            defs.sort_by_key(|d| (d.position, d.id));
            Ok((
                catalog::list::<Label>(txn)?,
                defs,
                contact_index::channels(&accounts::list(txn)?),
            ))
        })
        .await?;
    let lang = locale::lang(&user.user.language);
    let mut header: Vec<String> = [
        "id",
        "name",
        "rut",
        "email",
        "phone",
        "influencer",
        "labels",
        "channels",
        "created",
        "last_contact",
        "notes",
    ]
    .iter()
    .map(|k| locale::text(lang, &format!("contacts.export.{k}"), &[]))
    .collect();
    header.extend(defs.iter().map(|d| d.name.clone()));
    let hits = match &q {
        Some(q) => Some(super::contacts::run_search(state, q, 5_000).await?.contacts),
        None => None,
    };
    let store = state.store.clone();
    Ok(super::exports::Plan::new(
        "contactos",
        header,
        move |tx| async move {
            if let Some(ids) = hits {
                let access = access.clone();
                let found = store
                    .read(move |txn| crate::store::contacts::visible_among(txn, ids, &access))
                    .await;
                let rows = found
                    .unwrap_or_default()
                    .iter()
                    .filter(|c| query.matches(c, &kinds))
                    .map(|c| row_of(c, &labels, &kinds, &defs))
                    .collect();
                let _ = tx.send(Ok(rows)).await;
                return;
            }
            super::exports::send_pages(tx, move |after| {
                let (store, access, kinds) = (store.clone(), access.clone(), kinds.clone());
                let (labels, defs) = (labels.clone(), defs.clone());
                let mut q = query.clone();
                q.after = after;
                async move {
                    let (items, next) = store
                        .read(move |txn| contact_index::list(txn, &q, &access))
                        .await?;
                    let rows = items
                        .iter()
                        .map(|c| row_of(c, &labels, &kinds, &defs))
                        .collect();
                    Ok((rows, next))
                }
            })
            .await
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("Ana"), "Ana");
        assert_eq!(csv_field("di \"hola\""), "\"di \"\"hola\"\"\"");
        assert_eq!(text_of(&[0x4e, 0xfa, 0xf1]), "Núñ");
    }
}
