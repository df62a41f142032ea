//! Tickets as a spreadsheet (REPORT-4, first part of issue 19): every ticket a board filter
//! matches — no page limit — as CSV or XLSX with headers in the user's language and one column
//! per typification; read a page at a time (`exports::deliver`), so memory stays flat.

use axum::extract::State;
use axum::response::Response;

use super::super::audit::RequestOrigin;
use super::super::exports::{ExportParams, Plan};
use super::{to_query, views, TicketFilter, TicketView};
use crate::auth::CurrentUser;
use crate::domain::audit::AuditAction;
use crate::domain::fields::{FieldDef, FieldTarget};
use crate::domain::{Label, Team, User};
use crate::error::{AppResult, ErrorBody};
use crate::http::ApiQuery;
use crate::locale;
use crate::state::AppState;
use crate::store::catalog;
use crate::store::index::Sort;

/// Tickets read per page while streaming.
const PAGE: usize = 500;

const COLUMNS: [&str; 17] = [
    "number",
    "state",
    "channel",
    "account",
    "customer",
    "assignee",
    "team",
    "labels",
    "subject",
    "excerpt",
    "messages",
    "created",
    "updated",
    "closed",
    "first_response",
    "sla_breached",
    "important",
];

/// What the rows name by id, read once.
struct Names {
    accounts: Vec<crate::domain::Account>,
    users: Vec<User>,
    teams: Vec<Team>,
    labels: Vec<Label>,
    typifications: Vec<FieldDef>,
}

fn row(t: &TicketView, n: &Names, lang: &str) -> Vec<String> {
    let name_of = |id: &Option<String>, list: &[(u64, String)]| {
        id.as_ref()
            .and_then(|id| id.parse::<u64>().ok())
            .and_then(|id| list.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone()))
            .unwrap_or_default()
    };
    let users: Vec<(u64, String)> = n.users.iter().map(|u| (u.id, u.name.clone())).collect();
    let teams: Vec<(u64, String)> = n.teams.iter().map(|x| (x.id, x.name.clone())).collect();
    let yes_no = |b: bool| locale::text(lang, if b { "export.yes" } else { "export.no" }, &[]);
    let mut out = vec![
        t.number.to_string(),
        locale::text(lang, &format!("state.{}", t.state.as_str()), &[]),
        locale::text(lang, &format!("channel.{}", t.channel.as_str()), &[]),
        n.accounts
            .iter()
            .find(|a| a.id.to_string() == t.account_id)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        t.contact.name.clone(),
        name_of(&t.assignee_id, &users),
        name_of(&t.team_id, &teams),
        t.labels
            .iter()
            .filter_map(|id| {
                n.labels
                    .iter()
                    .find(|l| l.id.to_string() == *id)
                    .map(|l| l.name.clone())
            })
            .collect::<Vec<_>>()
            .join("; "),
        t.subject.clone().unwrap_or_default(),
        t.excerpt.clone(),
        t.message_count.to_string(),
        t.created_at.clone(),
        t.updated_at.clone(),
        t.closed_at.clone().unwrap_or_default(),
        t.first_response_at.clone().unwrap_or_default(),
        yes_no(t.sla_breached),
        yes_no(t.important),
    ];
    for f in &n.typifications {
        out.push(
            t.fields
                .get(&f.id.to_string())
                .map(|v| crate::domain::fields::value_text(v, "; ", yes_no))
                .unwrap_or_default(),
        );
    }
    out
}

/// Every ticket the filter matches (no page limit), as CSV or XLSX, in the list's order.
#[utoipa::path(get, path = "/api/v1/tickets/export", tag = "tickets", params(TicketFilter, ExportParams),
    responses((status = 200, description = "the tickets as CSV or XLSX", content_type = "text/csv", body = String), (status = 400, body = ErrorBody)))]
pub async fn export_tickets(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestOrigin(origin): RequestOrigin,
    ApiQuery(f): ApiQuery<TicketFilter>,
    ApiQuery(how): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    let format = how.format()?;
    plan(&state, &user, &f)
        .await?
        .respond_recorded(
            &state,
            &user,
            &origin,
            AuditAction::TicketsExported,
            super::super::exports::given_filter(&f),
            format,
        )
        .await
}

/// The tickets export of filter `f`, as `user` may see it.
pub async fn plan(state: &AppState, user: &CurrentUser, f: &TicketFilter) -> AppResult<Plan> {
    let access = user.access(state).await?;
    let mut query = to_query(state, user, &access, f).await?;
    query.limit = PAGE;
    query.after = None;
    let sort = query.sort.unwrap_or(Sort::UpdatedDesc);
    let names = state
        .store
        .read(|txn| {
            let mut typifications: Vec<FieldDef> = catalog::list::<FieldDef>(txn)?;
            typifications.retain(|d| d.target == FieldTarget::Ticket);
            typifications.sort_by_key(|d| (d.position, d.id));
            Ok(Names {
                accounts: crate::store::accounts::list(txn)?,
                users: crate::store::users::list(txn)?,
                teams: catalog::list::<Team>(txn)?,
                labels: catalog::list::<Label>(txn)?,
                typifications,
            })
        })
        .await?;
    let lang = locale::lang(&user.user.language);
    let mut header: Vec<String> = COLUMNS
        .iter()
        .map(|k| locale::text(lang, &format!("tickets.export.{k}"), &[]))
        .collect();
    header.extend(names.typifications.iter().map(|d| d.name.clone()));
    let now = state.store.now();
    let reader = state.clone();
    Ok(Plan::new("tickets", header, move |tx| {
        let names = std::sync::Arc::new(names);
        super::super::exports::send_pages(tx, move |after| {
            let (reader, names) = (reader.clone(), names.clone());
            let mut q = query.clone();
            q.after = after;
            async move {
                let (items, more) = reader
                    .store
                    .read(move |txn| crate::store::index::list(txn, &q, now))
                    .await?;
                let next = items
                    .last()
                    .filter(|_| more)
                    .map(|t| (sort.time_of(t), t.number));
                let rows = views(&reader, items)
                    .await?
                    .iter()
                    .map(|t| row(t, &names, lang))
                    .collect();
                Ok((rows, next))
            }
        })
    }))
}
