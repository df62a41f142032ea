//! `GET /api/v1/messages`: the newest messages across tickets, for message columns of the
//! board (BOARD-1) — e.g. every inbound public comment of the Instagram account.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::tickets::{bad, list_of, message_views, parse_bool, MessageView};
use super::{id_str, limit_of, Page};
use crate::auth::CurrentUser;
use crate::domain::{Channel, Direction, TicketState};
use crate::error::{AppResult, ErrorBody};
use crate::http::ApiQuery;
use crate::state::AppState;
use crate::store::tickets::{self, MessageQuery};

/// The filters of a message list (also the filters of a message column).
#[derive(Deserialize, Serialize, IntoParams, Default, Clone)]
#[into_params(parameter_in = Query)]
pub struct MessageFilter {
    /// Account ids, comma-separated.
    pub account: Option<String>,
    /// Channel kinds, comma-separated.
    pub channel: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    /// `true` for public messages (comments, reviews), `false` for private ones.
    pub public: Option<String>,
    /// Written at or after this instant (RFC 3339).
    pub created_from: Option<String>,
    /// Written at or before this instant (RFC 3339).
    pub created_to: Option<String>,
    pub limit: Option<usize>,
    /// From `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageItem {
    #[serde(flatten)]
    pub message: MessageView,
    pub account_id: String,
    pub channel: Channel,
    pub ticket_state: TicketState,
    /// The ticket's customer.
    pub contact_name: String,
}

/// Validates the filter into a store query (shared with the board's column check).
pub fn to_query(f: &MessageFilter) -> AppResult<MessageQuery> {
    let direction = match f.direction.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("inbound") => Some(Direction::Inbound),
        Some("outbound") => Some(Direction::Outbound),
        Some(other) => {
            return Err(bad(
                "direction",
                format!("direction must be inbound or outbound, not `{other}`"),
            ))
        }
    };
    let before = match f.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| bad("cursor", "the cursor is not valid for this list".into()))?,
        ),
    };
    Ok(MessageQuery {
        accounts: list_of(&f.account, "account", |s| s.parse::<u64>().ok())?,
        channels: list_of(&f.channel, "channel", Channel::parse)?,
        direction,
        public: parse_bool(&f.public, "public")?,
        before,
        from: f
            .created_from
            .as_deref()
            .map(|s| super::parse_time(s, "created_from"))
            .transpose()?,
        to: f
            .created_to
            .as_deref()
            .map(|s| super::parse_time(s, "created_to"))
            .transpose()?,
        limit: limit_of(f.limit)?,
    })
}

#[utoipa::path(get, path = "/api/v1/messages", tag = "tickets", params(MessageFilter),
    responses((status = 200, body = Page<MessageItem>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(f): ApiQuery<MessageFilter>,
) -> AppResult<Json<Page<MessageItem>>> {
    let q = to_query(&f)?;
    let access = user.access(&state).await?;
    let (found, next) = state
        .store
        .read(move |txn| {
            let (found, next) = tickets::recent_messages(txn, &q, &access)?;
            let look = crate::store::lookup::Lookup::new(txn)?;
            let mut out = Vec::with_capacity(found.len());
            for (m, t) in found {
                let name = look
                    .contact(t.contact_id)?
                    .map(|c| c.name)
                    .unwrap_or_default();
                out.push((m, t, name));
            }
            Ok((out, next))
        })
        .await?;
    let views = message_views(
        &state,
        user.lang(),
        found.iter().map(|(m, _, _)| m.clone()).collect(),
    )
    .await?;
    let items = views
        .into_iter()
        .zip(found)
        .map(|(message, (_, t, contact_name))| MessageItem {
            message,
            account_id: id_str(t.account_id),
            channel: t.channel,
            ticket_state: t.state,
            contact_name,
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| n.to_string()),
    }))
}

const EXPORT_COLUMNS: [&str; 11] = [
    "id",
    "ticket",
    "date",
    "direction",
    "channel",
    "account",
    "customer",
    "influencer",
    "author",
    "public",
    "text",
];

/// Every message the filter matches in its period (no page limit), newest first, as CSV or
/// XLSX: with the customer's influencer flag (seed 004) and who wrote it; read a page at a time.
#[utoipa::path(get, path = "/api/v1/messages/export", tag = "tickets", params(MessageFilter, super::exports::ExportParams),
    responses((status = 200, description = "the messages as CSV or XLSX", content_type = "text/csv", body = String), (status = 400, body = ErrorBody)))]
pub async fn export_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    super::audit::RequestOrigin(origin): super::audit::RequestOrigin,
    ApiQuery(f): ApiQuery<MessageFilter>,
    ApiQuery(how): ApiQuery<super::exports::ExportParams>,
) -> AppResult<axum::response::Response> {
    let format = how.format()?;
    export_plan(&state, &user, &f)
        .await?
        .respond_recorded(
            &state,
            &user,
            &origin,
            crate::domain::audit::AuditAction::MessagesExported,
            super::exports::given_filter(&f),
            format,
        )
        .await
}

/// The messages export of filter `f`, as `user` may see it.
pub async fn export_plan(
    state: &AppState,
    user: &CurrentUser,
    f: &MessageFilter,
) -> AppResult<super::exports::Plan> {
    let mut q = to_query(f)?;
    q.limit = 500;
    q.before = None;
    let access = user.access(state).await?;
    let lang = crate::locale::lang(&user.user.language);
    let header: Vec<String> = EXPORT_COLUMNS
        .iter()
        .map(|k| crate::locale::text(lang, &format!("messages.export.{k}"), &[]))
        .collect();
    let store = state.store.clone();
    Ok(super::exports::Plan::new("mensajes", header, move |tx| {
        super::exports::send_pages(tx, move |before| {
            let (store, access) = (store.clone(), access.clone());
            let mut page = q.clone();
            page.before = before;
            async move {
                store
                    .read(move |txn| export_page(txn, &page, &access, lang))
                    .await
            }
        })
    }))
}

/// One page of the export's rows, and where the next starts.
fn export_page(
    txn: &redb::ReadTransaction,
    q: &MessageQuery,
    access: &crate::store::tickets::Access,
    lang: &'static str,
) -> AppResult<(Vec<Vec<String>>, Option<u64>)> {
    let text = |key: &str| crate::locale::text(lang, key, &[]);
    let yes_no = |b: bool| text(if b { "export.yes" } else { "export.no" });
    let (found, next) = tickets::recent_messages(txn, q, access)?;
    let look = crate::store::lookup::Lookup::new(txn)?;
    let mut rows = Vec::with_capacity(found.len());
    for (m, t) in found {
        let contact = look.contact(t.contact_id)?;
        let customer = contact.as_ref().map(|c| c.name.clone()).unwrap_or_default();
        let author = match (m.direction, m.user_id) {
            (Direction::Inbound, _) => customer.clone(),
            (Direction::Outbound, Some(u)) => look.user(u)?.map(|u| u.name).unwrap_or_default(),
            (Direction::Outbound, None) => text("messages.export.automatic"),
        };
        rows.push(vec![
            m.id.to_string(),
            m.ticket_number.to_string(),
            super::ts(m.created_at),
            text(match m.direction {
                Direction::Inbound => "messages.export.inbound",
                Direction::Outbound => "messages.export.outbound",
            }),
            text(&format!("channel.{}", t.channel.as_str())),
            look.account(t.account_id)?
                .map(|a| a.name)
                .unwrap_or_default(),
            customer,
            yes_no(contact.as_ref().is_some_and(|c| c.influencer)),
            author,
            yes_no(m.public),
            m.text,
        ]);
    }
    Ok((rows, next))
}
