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
#[derive(Deserialize, IntoParams, Default)]
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
