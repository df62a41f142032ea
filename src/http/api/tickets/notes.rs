//! Beside the conversation: internal comments, the history, who is viewing, earlier tickets.

#[allow(unused_imports)]
use super::*;

#[derive(Serialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    pub ticket_number: u64,
    pub user_id: String,
    pub text: String,
    pub mentions: Vec<String>,
    pub created_at: String,
}

impl From<&Comment> for CommentView {
    fn from(c: &Comment) -> Self {
        CommentView {
            id: id_str(c.id),
            ticket_number: c.ticket_number,
            user_id: id_str(c.user_id),
            text: c.text.clone(),
            mentions: c.mentions.iter().map(|m| id_str(*m)).collect(),
            created_at: ts(c.created_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/comments", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = Page<CommentView>), (status = 404, body = ErrorBody)))]
pub async fn comments(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<Page<CommentView>>> {
    load(&state, &user, number).await?;
    let list = state
        .store
        .read(move |txn| tickets::comments(txn, number))
        .await?;
    Ok(Json(Page {
        items: list.iter().map(CommentView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    /// Internal note, for colleagues only.
    pub text: String,
    /// The colleagues mentioned (user ids, as the @ picker gives them); each must be able to
    /// see the ticket, and is told in the app and by mail.
    #[serde(default)]
    pub mentions: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/tickets/{number}/comments", tag = "tickets", params(("number" = u64, Path)), request_body = CommentBody,
    responses((status = 201, body = CommentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: axum::http::HeaderMap,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<CommentBody>,
) -> AppResult<(StatusCode, Json<CommentView>)> {
    let access = user.access(&state).await?;
    let text = text_field(&body.text, "text", 20_000)?;
    let mentions = body
        .mentions
        .iter()
        .map(|m| parse_id(m, "mentions"))
        .collect::<AppResult<Vec<u64>>>()?;
    let base = crate::http::api::link_base(&state, &headers, true)
        .await?
        .unwrap_or_default();
    let c = desk::tickets::comment(&state.store, access, number, text, mentions, base).await?;
    Ok((StatusCode::CREATED, Json(CommentView::from(&c))))
}

#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    pub id: String,
    pub at: String,
    pub actor_id: Option<String>,
    pub action: String,
    /// What happened, in the reader's language.
    pub detail: String,
    /// The same as a code and its parameters (locale key `note.<code>`).
    pub note: Note,
    /// On creation: how the assignment engine decided, with its reason.
    pub decision: Option<String>,
    pub decision_note: Option<Note>,
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/history", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = Page<HistoryView>), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<Page<HistoryView>>> {
    load(&state, &user, number).await?;
    let lang = user.lang();
    let list = state
        .store
        .read(move |txn| tickets::history(txn, number))
        .await?;
    Ok(Json(Page {
        items: list
            .into_iter()
            .map(|h| HistoryView {
                id: id_str(h.id),
                at: ts(h.at),
                actor_id: opt_id(h.actor_id),
                action: h.action,
                detail: render(lang, &h.detail),
                note: h.detail,
                decision: h.decision.as_ref().map(|n| render(lang, n)),
                decision_note: h.decision,
            })
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    /// `viewing` (send every ~20 s while the ticket is open), `typing` or `left`.
    pub state: String,
}

/// TICK-12: tells the others who can see this ticket that the user is viewing it, typing in it
/// or has left it. Live only: nothing is stored.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/presence", tag = "tickets", params(("number" = u64, Path)), request_body = PresenceBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn presence(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<PresenceBody>,
) -> AppResult<StatusCode> {
    let kind = match body.state.as_str() {
        "viewing" => EventKind::TicketViewing,
        "typing" => EventKind::TicketTyping,
        "left" => EventKind::TicketLeft,
        other => {
            return Err(AppError::invalid(
                "state",
                "invalid_presence",
                format!("state must be viewing, typing or left, not `{other}`"),
            ))
        }
    };
    let (t, _) = load(&state, &user, number).await?;
    if kind == EventKind::TicketViewing {
        desk::tickets::viewed(&state.store, &t).await?;
    }
    state.bus.ephemeral(Event {
        id: 0,
        kind,
        at: state.store.now(),
        account_id: Some(t.account_id),
        ticket_number: Some(number),
        // The web chat shows the visitor when an agent is typing or reading.
        contact_id: Some(t.contact_id),
        message_id: None,
        user_id: Some(user.user.id),
    });
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/previous", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = Page<TicketView>), (status = 404, body = ErrorBody)))]
pub async fn previous(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<Page<TicketView>>> {
    let (t, access) = load(&state, &user, number).await?;
    let contact_id = t.contact_id;
    let list = state
        .store
        .read(move |txn| {
            let c = crate::store::contacts::get(txn, contact_id)?
                .ok_or_else(|| AppError::not_found("contact"))?;
            let group = crate::store::contacts::group_of(&c);
            // Hidden accounts' tickets are skipped, so look further than 25.
            let all = tickets::of_contacts(txn, &group, 500)?;
            Ok(all
                .into_iter()
                .filter(|x| x.number != number && access.may_see(x.account_id))
                .take(25)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(Page {
        items: views(&state, list).await?,
        next_cursor: None,
    }))
}
