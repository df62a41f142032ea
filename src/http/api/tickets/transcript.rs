//! A ticket's conversation as a printable page (REPORT-4, seed 004): the customer, the account,
//! the dates and every message with its time, author and attachments, in the reader's language
//! and the server's time zone (UTC, marked); the browser prints it or saves it as PDF.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{load, message_views, one_view};
use crate::auth::CurrentUser;
use crate::error::{AppResult, ErrorBody};
use crate::http::{escape_html, ApiPath};
use crate::locale;
use crate::state::AppState;
use crate::store::tickets;

/// `2026-12-03T05:56:22.000Z` as `2026-12-03 05:56 UTC`.
fn when(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => rfc3339.to_string(),
    }
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/transcript", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, description = "the conversation as a printable HTML page", content_type = "text/html", body = String), (status = 404, body = ErrorBody)))]
pub async fn transcript(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Response> {
    let (ticket, _) = load(&state, &user, number).await?;
    let lang = user.lang();
    let view = one_view(&state, ticket).await?;
    let list = state
        .store
        .read(move |txn| tickets::messages(txn, number))
        .await?;
    let messages = message_views(&state, lang, list).await?;
    let account = state
        .store
        .read({
            let id = view.account_id.parse::<u64>().unwrap_or(0);
            move |txn| crate::store::accounts::get(txn, id)
        })
        .await?
        .map(|a| a.name)
        .unwrap_or_default();
    let t = |key: &str| escape_html(&locale::text(lang, key, &[]));
    let title = escape_html(&locale::text(
        lang,
        "transcript.title",
        &[("number", number.to_string())],
    ));
    let mut body = String::new();
    for m in &messages {
        let side = if m.direction == crate::domain::Direction::Inbound {
            "inbound"
        } else {
            "outbound"
        };
        let files: String = m
            .attachments
            .iter()
            .map(|a| format!("<li>📎 {}</li>", escape_html(&a.name)))
            .collect();
        body.push_str(&format!(
            "<article class=\"{side}\"><header><strong>{}</strong> <time>{}</time></header><p>{}</p>{}</article>\n",
            escape_html(&m.author.name),
            when(&m.created_at),
            escape_html(&m.text).replace('\n', "<br>"),
            if files.is_empty() { String::new() } else { format!("<ul>{files}</ul>") },
        ));
    }
    let facts = [
        ("transcript.customer", escape_html(&view.contact.name)),
        ("transcript.account", escape_html(&account)),
        (
            "transcript.channel",
            t(&format!("channel.{}", view.channel.as_str())),
        ),
        ("transcript.created", when(&view.created_at)),
        (
            "transcript.state",
            t(&format!("state.{}", view.state.as_str())),
        ),
    ];
    let facts: String = facts
        .iter()
        .map(|(k, v)| format!("<dt>{}</dt><dd>{v}</dd>", t(k)))
        .collect();
    let subject = view
        .subject
        .as_deref()
        .map(|s| format!("<p class=\"subject\">{}</p>", escape_html(s)))
        .unwrap_or_default();
    let page = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<link rel=\"icon\" href=\"{icon}\"><link rel=\"stylesheet\" href=\"{css}\"></head><body><h1>{title}</h1>{subject}<dl>{facts}</dl>\
<section>{body}</section><footer>{}</footer></body></html>\n",
        t("transcript.footer"),
        css = crate::http::assets::url("transcript.css"),
        icon = crate::http::assets::url("favicon.svg"),
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}
