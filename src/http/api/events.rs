//! `GET /api/v1/events`: Server-Sent Events of committed changes the user may see. Each event
//! carries its id; a reconnect with `Last-Event-ID` first replays what was missed from the
//! event table, then continues live.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use utoipa::{IntoParams, ToSchema};

use super::opt_id;
use crate::auth::CurrentUser;
use crate::domain::events::{STREAM_LAGGED, STREAM_READY, STREAM_RESET};
use crate::domain::{Event, EventKind};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::ApiQuery;
use crate::state::AppState;
use crate::store::tickets::Access;
use crate::store::{accounts, users, Store};

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: u64,
    /// ticket.created, ticket.updated, message.created, comment.created, presence.changed, …;
    /// ticket.viewing, ticket.typing and ticket.left are live only (id 0, never replayed).
    pub kind: String,
    pub at: String,
    pub ticket_number: Option<u64>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub message_id: Option<String>,
    pub user_id: Option<String>,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        EventView {
            id: e.id,
            kind: e.kind.as_str().to_string(),
            at: super::ts(e.at),
            ticket_number: e.ticket_number,
            account_id: opt_id(e.account_id),
            contact_id: opt_id(e.contact_id),
            message_id: opt_id(e.message_id),
            user_id: opt_id(e.user_id),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Same as the Last-Event-ID header (for clients that cannot set headers).
    pub last_event_id: Option<u64>,
}

/// The live part of one stream: what the user may see is re-read when assignments or the user
/// change, and a deactivated user's stream ends.
struct Follower {
    events: BroadcastStream<Arc<Event>>,
    access: Access,
    state: AppState,
    last_seen: u64,
    /// Who opened the stream, with the credential they used.
    user: CurrentUser,
    /// The auth generation last checked: when it moves, the credential is checked again.
    auth_seen: u64,
    ticks: u64,
    check: tokio::time::Interval,
}

/// How soon a stream notices that its session ended (sign-out, password change) or its token
/// was revoked.
const CREDENTIAL_CHECK: Duration = Duration::from_secs(2);

impl Follower {
    async fn next(&mut self) -> Option<Result<SseEvent, Infallible>> {
        loop {
            let next = tokio::select! {
                e = self.events.next() => e?,
                _ = self.check.tick() => {
                    let generation = self.state.store.auth_generation();
                    self.ticks += 1;
                    // A change of users, sessions or tokens, and once a minute (a session
                    // may simply have expired).
                    if generation != self.auth_seen || self.ticks % 30 == 0 {
                        self.auth_seen = generation;
                        if !self.user.still_signed_in(&self.state).await.unwrap_or(false) {
                            return None;
                        }
                    }
                    continue;
                }
            };
            match next {
                Ok(e) if e.id != 0 && e.id <= self.last_seen => continue,
                Ok(e) => {
                    let me = self.access.user_id;
                    if e.kind == EventKind::AssignmentUpdated
                        || (e.kind == EventKind::UserUpdated && e.user_id == Some(me))
                    {
                        self.refresh().await?;
                    }
                    if visible(&self.access, &e) {
                        return Some(Ok(to_sse(&e)));
                    }
                }
                // The client fell behind the broadcast buffer: tell it to resume by id.
                Err(_) => {
                    return Some(Ok(SseEvent::default()
                        .event(STREAM_LAGGED)
                        .data("reconnect with Last-Event-ID")))
                }
            }
        }
    }

    /// None when the user can no longer receive anything.
    async fn refresh(&mut self) -> Option<()> {
        let uid = self.access.user_id;
        let fresh = self
            .state
            .store
            .read(move |txn| Ok((users::get(txn, uid)?, accounts::visible_to(txn, uid)?)))
            .await;
        match fresh {
            Ok((Some(user), visible)) if user.active => {
                self.access.role = user.role;
                self.access.visible = (!user.role.sees_all_accounts()).then_some(visible);
                Some(())
            }
            _ => None,
        }
    }
}

fn visible(access: &Access, e: &Event) -> bool {
    match (e.kind, e.account_id) {
        (EventKind::Unknown, _) => false,
        // A bell's item is its user's alone.
        (EventKind::NotificationCreated, _) => e.user_id == Some(access.user_id),
        // A contact belongs to no one account: agents who see only some accounts do not
        // hear of contacts (the app does not follow them; a hidden one must not show).
        (EventKind::ContactCreated | EventKind::ContactUpdated, _) => access.visible.is_none(),
        (_, Some(a)) => access.may_see(a),
        (_, None) => true,
    }
}

fn to_sse(e: &Event) -> SseEvent {
    let sse = SseEvent::default();
    // Ephemeral events (id 0) carry no id, so the client's Last-Event-ID stays a stored event.
    let sse = if e.id == 0 {
        sse
    } else {
        sse.id(e.id.to_string())
    };
    sse.event(e.kind.as_str())
        .json_data(EventView::from(e))
        .unwrap_or_else(|_| SseEvent::default().comment("unencodable event"))
}

/// How many missed events a reconnect may replay; beyond that the client reloads its lists.
const REPLAY_MAX: usize = 10_000;

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventParams),
    responses((status = 200, description = "text/event-stream of EventView", content_type = "text/event-stream"), (status = 401, body = ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<EventParams>,
) -> AppResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let auth_seen = state.store.auth_generation();
    let access = user.access(&state).await?;
    let header_id = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    AppError::bad_request(
                        "invalid_last_event_id",
                        "Last-Event-ID must be an event id",
                    )
                })?,
        ),
        None => None,
    };
    let resume_from = header_id.or(p.last_event_id);
    // Subscribe before reading the backlog so nothing falls between the two.
    let live = BroadcastStream::new(state.bus.subscribe());
    let newest = state.store.read(Store::last_event_id).await?;
    let (backlog, last_seen, reset) = match resume_from {
        // An id from the future (another data dir, a restored backup) resumes from now.
        Some(after) if after >= newest => (Vec::new(), newest, after > newest),
        Some(after) => {
            let events = state
                .store
                .read(move |txn| Store::events_after(txn, after, REPLAY_MAX))
                .await?;
            if events.len() >= REPLAY_MAX || events.first().is_some_and(|e| e.id > after + 1) {
                // Too much was missed (or it was pruned): the client reloads its lists.
                (Vec::new(), newest, true)
            } else {
                let last = events.last().map(|e| e.id).unwrap_or(after);
                (events, last, false)
            }
        }
        None => (Vec::new(), newest, false),
    };
    let a1 = access.clone();
    let replay = stream::iter(
        backlog
            .into_iter()
            .filter(move |e| visible(&a1, e))
            .map(|e| Ok(to_sse(&e)))
            .collect::<Vec<_>>(),
    );
    // "reset" tells the client that it missed more than can be replayed.
    let hello = stream::once(async move {
        Ok(SseEvent::default()
            .event(if reset { STREAM_RESET } else { STREAM_READY })
            .data(last_seen.to_string()))
    });
    let follower = Follower {
        events: live,
        access,
        state: state.clone(),
        last_seen,
        user,
        auth_seen,
        ticks: 0,
        check: tokio::time::interval(CREDENTIAL_CHECK),
    };
    let live = stream::unfold(follower, |mut f| async move {
        let item = f.next().await?;
        Some((item, f))
    });
    let mut shutdown = state.shutdown.clone();
    let until_shutdown = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    let body = hello.chain(replay).chain(live).take_until(until_shutdown);
    Ok(Sse::new(body).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
