//! A ticket's messages: the views agents read them in, and an agent's answer.

#[allow(unused_imports)]
use super::*;

#[derive(Serialize, ToSchema)]
pub struct Author {
    /// contact, user or system.
    pub kind: String,
    pub id: Option<String>,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub url: String,
}

impl From<&Attachment> for AttachmentView {
    fn from(a: &Attachment) -> Self {
        AttachmentView {
            id: id_str(a.id),
            name: a.name.clone(),
            size: a.size,
            content_type: a.content_type.clone(),
            url: format!("/api/v1/attachments/{}", a.id),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub ticket_number: u64,
    pub direction: Direction,
    pub public: bool,
    pub author: Author,
    pub text: String,
    pub attachments: Vec<AttachmentView>,
    pub reply_to: Option<String>,
    pub external_id: Option<String>,
    pub status: DeliveryStatus,
    /// Why delivery failed or is retried (the mail server's answer), in the reader's language.
    pub status_detail: Option<String>,
    /// The same as a code and its parameters (locale key `note.<code>`).
    pub status_note: Option<Note>,
    /// Email messages: subject, Message-ID, sanitised HTML, quoted history, reading notes.
    pub mail: Option<MailMeta>,
    /// What the agent should know about it (an unsupported kind, the ad that brought the
    /// customer …), as notes (locale key `note.<code>`).
    pub notes: Vec<Note>,
    /// The customer's reaction to it (an emoji).
    pub reaction: Option<String>,
    /// Sent as this approved template (the text is what the customer reads).
    pub template: Option<crate::domain::template::TemplateUse>,
    pub created_at: String,
}

pub(in crate::http::api) async fn message_views(
    state: &AppState,
    lang: &'static str,
    list: Vec<Message>,
) -> AppResult<Vec<MessageView>> {
    state
        .store
        .read(move |txn| {
            let look = Lookup::new(txn)?;
            let mut out = Vec::with_capacity(list.len());
            for m in list {
                let author = match (m.contact_id, m.user_id) {
                    (Some(c), _) => Author {
                        kind: "contact".into(),
                        id: Some(id_str(c)),
                        name: look.contact(c)?.map(|c| c.name).unwrap_or_default(),
                    },
                    (None, Some(u)) => Author {
                        kind: "user".into(),
                        id: Some(id_str(u)),
                        name: look.user(u)?.map(|u| u.name).unwrap_or_default(),
                    },
                    (None, None) => Author {
                        kind: "system".into(),
                        id: None,
                        name: "Atiende".into(),
                    },
                };
                let mut attachments = Vec::new();
                for a in &m.attachments {
                    if let Some(att) = look.attachment(*a)? {
                        attachments.push(AttachmentView::from(&att));
                    }
                }
                out.push(MessageView {
                    id: id_str(m.id),
                    ticket_number: m.ticket_number,
                    direction: m.direction,
                    public: m.public,
                    author,
                    text: m.text,
                    attachments,
                    reply_to: opt_id(m.reply_to),
                    external_id: m.external_id,
                    status: m.status,
                    status_detail: m.status_detail.as_ref().map(|n| render(lang, n)),
                    status_note: m.status_detail,
                    mail: m.mail.map(|b| *b),
                    notes: m.notes,
                    reaction: m.reaction,
                    template: m.template,
                    created_at: ts(m.created_at),
                });
            }
            Ok(out)
        })
        .await
}

#[utoipa::path(get, path = "/api/v1/tickets/{number}/messages", tag = "tickets", params(("number" = u64, Path)),
    responses((status = 200, body = Page<MessageView>), (status = 404, body = ErrorBody)))]
pub async fn messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
) -> AppResult<Json<Page<MessageView>>> {
    load(&state, &user, number).await?;
    let list = state
        .store
        .read(move |txn| tickets::messages(txn, number))
        .await?;
    Ok(Json(Page {
        items: message_views(&state, user.lang(), list).await?,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    /// The answer (not read when a template is given: its rendering is the text).
    #[serde(default)]
    pub text: String,
    pub reply_to: Option<String>,
    #[serde(default)]
    pub attachment_ids: Vec<String>,
    /// Send an approved template instead (WhatsApp outside its 24-hour window).
    #[serde(default)]
    pub template: Option<crate::domain::template::Choice>,
}

#[utoipa::path(post, path = "/api/v1/tickets/{number}/messages", tag = "tickets", params(("number" = u64, Path)), request_body = ReplyBody,
    responses((status = 201, body = MessageView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reply(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<ReplyBody>,
) -> AppResult<(StatusCode, Json<MessageView>)> {
    let access = user.access(&state).await?;
    let attachments = body
        .attachment_ids
        .iter()
        .map(|a| parse_id(a, "attachment_ids"))
        .collect::<AppResult<Vec<u64>>>()?;
    let text = if body.template.is_some() {
        String::new()
    } else if attachments.is_empty() {
        text_field(
            &body.text,
            "text",
            crate::http::api::accounts::MAX_MESSAGE_CHARS,
        )?
    } else {
        body.text.trim().to_string()
    };
    let r = Reply {
        text,
        reply_to: body
            .reply_to
            .as_deref()
            .map(|r| parse_id(r, "reply_to"))
            .transpose()?,
        attachments,
        template: None,
    };
    let m = desk::tickets::reply(&state.store, access, number, r, body.template).await?;
    let view = message_views(&state, user.lang(), vec![m])
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("message view lost"))?;
    Ok((StatusCode::CREATED, Json(view)))
}
