//! Mail actions on a ticket: send a failed email message again, and escalate the ticket by
//! mail (TICK-10).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tickets::{message_views, MessageView};
use super::{parse_id, ts};
use crate::auth::CurrentUser;
use crate::domain::{Contact, Direction, Message, Note, Ticket, User};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::{accounts, contacts, tickets, users};

#[utoipa::path(post, path = "/api/v1/tickets/{number}/messages/{id}/resend", tag = "tickets",
    params(("number" = u64, Path), ("id" = String, Path)),
    responses((status = 200, body = MessageView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resend(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((number, id)): ApiPath<(u64, String)>,
) -> AppResult<Json<MessageView>> {
    let message_id = parse_id(&id, "id")?;
    let access = user.access(&state).await?;
    let ticket = {
        let a = access.clone();
        state
            .store
            .read(move |txn| tickets::require(txn, number, &a))
            .await?
    };
    crate::desk::tickets::require_can_send(&state.store, &ticket).await?;
    let now = state.store.now();
    let m = state
        .store
        .write(move |txn, fx| {
            crate::store::outbox::resend(txn, fx, number, message_id, &access, now)
        })
        .await?;
    let view = message_views(&state, user.lang(), vec![m])
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("message view lost"))?;
    Ok(Json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    pub to: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Escalated {
    /// The mail is queued; it goes out through the system mail account.
    pub queued: bool,
    pub messages: usize,
}

/// The last messages a mail carries (TICK-10).
const ESCALATION_MESSAGES: usize = 100;

fn contact_lines(c: Option<&Contact>) -> String {
    let Some(c) = c else {
        return "-".into();
    };
    let mut lines = vec![c.name.clone()];
    for (label, v) in [("Email", &c.email), ("Tel", &c.phone), ("RUT", &c.rut)] {
        if let Some(v) = v {
            lines.push(format!("{label}: {v}"));
        }
    }
    lines.join("\n")
}

fn ticket_lines(t: &Ticket, account: &str, assignee: Option<&User>) -> String {
    [
        format!("#{} · {} · {}", t.number, t.channel.as_str(), account),
        format!("{:?} · {}", t.state, ts(t.created_at)),
        format!("→ {}", assignee.map(|u| u.name.as_str()).unwrap_or("-")),
        if t.important {
            "★".into()
        } else {
            String::new()
        },
    ]
    .into_iter()
    .filter(|l| !l.is_empty())
    .collect::<Vec<_>>()
    .join("\n")
}

fn message_lines(list: &[Message], author: impl Fn(&Message) -> String) -> String {
    list.iter()
        .map(|m| {
            let arrow = match m.direction {
                Direction::Inbound => "←",
                Direction::Outbound => "→",
            };
            let files = if m.attachments.is_empty() {
                String::new()
            } else {
                format!(" [{} adjunto(s)]", m.attachments.len())
            };
            format!(
                "{arrow} {} · {}{files}\n{}\n",
                ts(m.created_at),
                author(m),
                m.text.trim()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[utoipa::path(post, path = "/api/v1/tickets/{number}/escalate", tag = "tickets",
    params(("number" = u64, Path)), request_body = EscalateBody,
    responses((status = 202, body = Escalated), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "no email account can send"), (status = 422, body = ErrorBody)))]
pub async fn escalate(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<EscalateBody>,
) -> AppResult<(StatusCode, Json<Escalated>)> {
    let to = super::users::validate_email(&body.to).map_err(|e| e.with_field("to"))?;
    let note = body.note.unwrap_or_default().trim().to_string();
    if note.chars().count() > 5_000 {
        return Err(AppError::invalid(
            "note",
            "too_long",
            "the note is longer than 5000 characters",
        ));
    }
    let access = user.access(&state).await?;
    let sender = user.user.clone();
    let mail = state
        .store
        .read(move |txn| {
            let t = tickets::require(txn, number, &access)?;
            let all = tickets::messages(txn, number)?;
            let last = &all[all.len().saturating_sub(ESCALATION_MESSAGES)..];
            let contact = contacts::get(txn, t.contact_id)?;
            let account = accounts::get(txn, t.account_id)?
                .map(|a| a.name)
                .unwrap_or_default();
            let assignee = match t.assignee_id {
                Some(a) => users::get(txn, a)?,
                None => None,
            };
            let mut names = std::collections::HashMap::new();
            for m in last {
                if let Some(u) = m.user_id {
                    if let std::collections::hash_map::Entry::Vacant(e) = names.entry(u) {
                        e.insert(users::get(txn, u)?.map(|u| u.name).unwrap_or_default());
                    }
                }
            }
            let customer = contact.as_ref().map(|c| c.name.clone()).unwrap_or_default();
            let author = |m: &Message| match (m.contact_id, m.user_id) {
                (Some(_), _) => customer.clone(),
                (None, Some(u)) => names.get(&u).cloned().unwrap_or_default(),
                _ => "Atiende".into(),
            };
            let rendered = crate::mail::templates::render(
                "escalation",
                &sender.language,
                &to,
                &[
                    ("number", &number.to_string()),
                    ("customer", &customer),
                    ("sender", &format!("{} <{}>", sender.name, sender.email)),
                    ("note", &note),
                    ("customer_data", &contact_lines(contact.as_ref())),
                    (
                        "ticket_data",
                        &ticket_lines(&t, &account, assignee.as_ref()),
                    ),
                    ("count", &last.len().to_string()),
                    ("messages", &message_lines(last, author)),
                ],
            )?;
            Ok((rendered, last.len()))
        })
        .await?;
    let (rendered, count) = mail;
    let now = state.store.now();
    let (actor, actor_name, recipient) =
        (user.user.id, user.user.name.clone(), rendered.to.clone());
    state
        .store
        .write(move |txn, _| {
            if !crate::mail::queue_system(txn, rendered.clone(), now)? {
                return Err(crate::mail::no_sender());
            }
            tickets::add_history(
                txn,
                number,
                Some(actor),
                "escalated",
                Note::Escalated {
                    by: actor_name.clone(),
                    recipient: recipient.clone(),
                },
                now,
            )
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Escalated {
            queued: true,
            messages: count,
        }),
    ))
}
