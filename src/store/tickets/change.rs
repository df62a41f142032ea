//! Changing a ticket (state, assignee, team, labels, data) and merging two tickets.

#[allow(unused_imports)]
use super::*;
use crate::domain::fields::{self, FieldTarget};

/// PATCH /tickets/{number}: each field is optional; `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub state: Option<TicketState>,
    pub important: Option<bool>,
    pub assignee_id: Option<Option<u64>>,
    pub team_id: Option<Option<u64>>,
    pub labels: Option<Vec<u64>>,
    pub sentiment_initial: Option<Option<Sentiment>>,
    pub sentiment_final: Option<Option<Sentiment>>,
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
}

pub fn patch(
    txn: &WriteTransaction,
    fx: &mut Effects,
    number: u64,
    access: &Access,
    p: &TicketPatch,
    now: Millis,
) -> AppResult<Ticket> {
    let before = require_w(txn, number, access)?;
    let mut t = before.clone();
    let mut history: Vec<(&str, Note)> = Vec::new();
    // Typified first: a close in the same change counts the values it brings.
    if let Some(changes) = &p.fields {
        let defs = crate::store::catalog::fields_w(txn)?;
        if fields::apply(&defs, FieldTarget::Ticket, &mut t.fields, changes)
            .map_err(|(key, e)| AppError::invalid(&format!("fields.{key}"), e.code, e.message))?
        {
            history.push(("typified", Note::FieldsUpdated));
        }
    }
    if p.state == Some(TicketState::Closed) && before.state != TicketState::Closed {
        require_typified(txn, &t)?;
    }
    if let Some(to) = p.state {
        match rules::change_state(&mut t, to, access.role, now) {
            Ok(true) => history.push(("state", {
                let by = access.name.clone();
                match to {
                    TicketState::Open => Note::StateReopened { by },
                    TicketState::Closed => Note::StateClosed { by },
                    TicketState::Ignored => Note::StateIgnored { by },
                }
            })),
            Ok(false) => {}
            Err(rules::StateChangeError::ReopenNotAllowed) => {
                return Err(AppError::forbidden(
                    "only administrators and supervisors reopen tickets",
                ))
            }
            Err(rules::StateChangeError::Merged) => {
                return Err(AppError::conflict(
                    "ticket_merged",
                    "a merged ticket cannot change state",
                ))
            }
        }
        if to == TicketState::Open && before.state != TicketState::Open {
            route_to_reopened(txn, &t)?;
        }
    }
    if let Some(b) = p.important {
        if b != t.important {
            t.important = b;
            history.push((
                "important",
                if b {
                    Note::MarkedImportant
                } else {
                    Note::UnmarkedImportant
                },
            ));
        }
    }
    if let Some(who) = p.assignee_id {
        if who != t.assignee_id {
            let detail = match who {
                Some(uid) => {
                    let u = crate::store::users::get_w(txn, uid)?
                        .filter(|u| u.active)
                        .ok_or_else(|| {
                            AppError::invalid(
                                "assignee_id",
                                "unknown_user",
                                format!("no active user {uid}"),
                            )
                        })?;
                    if !u.role.sees_all_accounts() {
                        let modes = txn.open_table(USER_ACCOUNT_TO_MODE)?;
                        let enabled = modes
                            .get((uid, t.account_id))?
                            .map(|g| AssignMode::from_code(g.value()) != AssignMode::Disabled)
                            .unwrap_or(false);
                        if !enabled {
                            return Err(AppError::invalid(
                                "assignee_id",
                                "agent_not_enabled",
                                format!("{} is not enabled on this ticket's account", u.name),
                            ));
                        }
                    }
                    if uid == access.user_id {
                        Note::AssignedSelf { agent: u.name }
                    } else {
                        Note::AssignedManual {
                            agent: u.name,
                            by: access.name.clone(),
                        }
                    }
                }
                None => Note::UnassignedManual {
                    by: access.name.clone(),
                },
            };
            t.assignee_id = who;
            history.push(("assigned", detail));
        }
    }
    if let Some(team) = p.team_id {
        if team != t.team_id {
            if let Some(tid) = team {
                let teams = txn.open_table(TEAM_ID_TO_TEAM)?;
                let team: Team = codec::get(&teams, tid)?.ok_or_else(|| {
                    AppError::invalid("team_id", "unknown_team", format!("no team {tid}"))
                })?;
                history.push((
                    "team",
                    Note::TeamSet {
                        team: team.name.clone(),
                    },
                ));
                // A ticket given to a team without an agent goes round the team (ORG-1).
                if p.assignee_id.is_none() && t.assignee_id.is_none() {
                    drop(teams);
                    crate::store::assignment::assign_in_team(txn, &mut t, &team, now)?;
                }
            } else {
                history.push(("team", Note::TeamCleared));
            }
            t.team_id = team;
        }
    }
    if let Some(labels) = &p.labels {
        let table = txn.open_table(LABEL_ID_TO_LABEL)?;
        let mut clean: Vec<u64> = Vec::new();
        for l in labels {
            // Only labels being added must exist: a label deleted since it was put on the
            // ticket must not block every later edit.
            if !t.labels.contains(l) && table.get(*l)?.is_none() {
                return Err(AppError::invalid(
                    "labels",
                    "unknown_label",
                    format!("no label {l}"),
                ));
            }
            if !clean.contains(l) {
                clean.push(*l);
            }
        }
        if clean != t.labels {
            t.labels = clean;
            history.push(("labels", Note::LabelsChanged));
        }
    }
    if let Some(s) = p.sentiment_initial {
        t.sentiment_initial = s;
    }
    if let Some(s) = p.sentiment_final {
        t.sentiment_final = s;
    }
    let changed = !history.is_empty()
        || t.sentiment_initial != before.sentiment_initial
        || t.sentiment_final != before.sentiment_final;
    if !changed {
        return Ok(t);
    }
    t.updated_at = now.max(t.updated_at);
    for (action, detail) in history {
        add_history(txn, number, Some(access.user_id), action, detail, now)?;
    }
    save(txn, Some(&before), &t)?;
    fx.emit(ticket_event(EventKind::TicketUpdated, &t));
    // A close or a reassignment frees room under the caps of the previous agent's accounts:
    // their backlog may move.
    if let Some(prev) = before.assignee_id {
        if before.is_open_load() && (!t.is_open_load() || t.assignee_id != Some(prev)) {
            crate::store::assignment::drain_after_release(txn, fx, prev, now)?;
        }
    }
    Ok(t)
}

/// TICK-9: a ticket is closed only once every mandatory typification of its account has a
/// value; the error names the empty ones.
pub fn require_typified(txn: &WriteTransaction, t: &Ticket) -> AppResult<()> {
    let defs = crate::store::catalog::fields_w(txn)?;
    let empty = fields::missing(&defs, FieldTarget::Ticket, &[t.account_id], &t.fields);
    if empty.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = empty.iter().map(|d| d.name.as_str()).collect();
    Err(AppError::invalid(
        &format!("fields.{}", empty[0].key()),
        "typification_required",
        format!("fill in {} before closing the ticket", names.join(", ")),
    ))
}

/// A reopened ticket receives the customer's next message on its account, unless another
/// ticket of theirs there is already open.
fn route_to_reopened(txn: &WriteTransaction, t: &Ticket) -> AppResult<()> {
    let key = (t.contact_id, t.account_id);
    let current = txn
        .open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?
        .get(key)?
        .map(|g| g.value());
    let other_open = match current {
        Some(n) if n != t.number => {
            get_w(txn, n)?.is_some_and(|x| x.state == TicketState::Open && x.merged_into.is_none())
        }
        _ => false,
    };
    if !other_open {
        txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?
            .insert(key, t.number)?;
    }
    Ok(())
}

/// Who answers the ticket that survives a merge.
#[derive(Debug, Clone, Copy, Default)]
pub enum MergeAssignee {
    /// The merged ticket's assignee goes on answering (the one the agent was working on),
    /// when it may; else the survivor keeps its own.
    #[default]
    Current,
    /// This one (None: nobody).
    Chosen(Option<u64>),
}

/// TICK-7: move `source`'s messages, comments and history into `into`.
pub fn merge(
    txn: &WriteTransaction,
    fx: &mut Effects,
    source: u64,
    into: u64,
    assignee: MergeAssignee,
    access: &Access,
    now: Millis,
) -> AppResult<Ticket> {
    let src_before = require_w(txn, source, access)?;
    let dst_before = require_w(txn, into, access)?;
    let src_contact = crate::store::contacts::get_w(txn, src_before.contact_id)?
        .ok_or_else(|| AppError::internal("ticket without contact"))?;
    let same_customer = contacts::group_of(&src_contact).contains(&dst_before.contact_id);
    let mut src = src_before.clone();
    let mut dst = dst_before.clone();
    rules::merge(&mut src, &mut dst, same_customer, now).map_err(|e| match e {
        rules::MergeError::SameTicket => AppError::invalid(
            "into",
            "same_ticket",
            "a ticket cannot be merged into itself",
        ),
        rules::MergeError::DifferentCustomer => AppError::invalid(
            "into",
            "different_customer",
            "only tickets of the same customer can be merged",
        ),
        rules::MergeError::AlreadyMerged => {
            AppError::conflict("ticket_merged", "one of the tickets was already merged")
        }
    })?;
    // Move the conversation.
    let message_ids: Vec<u64> = {
        let tm = txn.open_table(TICKET_MESSAGE)?;
        let mut ids = Vec::new();
        for row in tm.range((source, 0)..=(source, u64::MAX))? {
            ids.push(row?.0.value().1);
        }
        ids
    };
    let mut attachments = Vec::new();
    {
        let mut tm = txn.open_table(TICKET_MESSAGE)?;
        let mut msgs = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
        for id in &message_ids {
            tm.remove((source, *id))?;
            tm.insert((into, *id), ())?;
            let m: Option<Message> = codec::get(&msgs, *id)?;
            if let Some(mut m) = m {
                m.ticket_number = into;
                msgs.insert(*id, codec::encode_compact(&m)?.as_slice())?;
                attachments.extend(m.attachments);
            }
        }
    }
    // Attachment access follows the conversation to the survivor.
    {
        let mut atts = txn.open_table(ATTACHMENT_ID_TO_ATTACHMENT)?;
        for id in attachments {
            let found: Option<Attachment> = codec::get(&atts, id)?;
            if let Some(mut a) = found {
                a.ticket_number = Some(into);
                atts.insert(id, codec::encode(&a)?.as_slice())?;
            }
        }
    }
    move_rows(
        txn,
        TICKET_COMMENT_TO_COMMENT,
        source,
        into,
        |c: &mut Comment| c.ticket_number = into,
    )?;
    // The ticket of a history entry is its key: rewritten as it is (and positionally).
    move_rows(
        txn,
        TICKET_HISTORY_TO_ENTRY,
        source,
        into,
        |_: &mut super::StoredEntry| {},
    )?;
    // New messages from this customer on this account now go to the survivor.
    {
        let mut last = txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?;
        let key = (src.contact_id, src.account_id);
        if last.get(key)?.map(|g| g.value()) == Some(source) && dst.account_id == src.account_id {
            last.insert(key, into)?;
        }
    }
    add_history(
        txn,
        into,
        Some(access.user_id),
        "merged",
        Note::MergedFrom {
            ticket: source,
            by: access.name.clone(),
        },
        now,
    )?;
    add_history(
        txn,
        source,
        Some(access.user_id),
        "merged",
        Note::MergedInto {
            ticket: into,
            by: access.name.clone(),
        },
        now,
    )?;
    save(txn, Some(&src_before), &src)?;
    save(txn, Some(&dst_before), &dst)?;
    fx.emit(ticket_event(EventKind::TicketUpdated, &src));
    let who = match assignee {
        MergeAssignee::Chosen(who) => who,
        MergeAssignee::Current => src_before.assignee_id.or(dst.assignee_id),
    };
    if who == dst.assignee_id {
        fx.emit(ticket_event(EventKind::TicketUpdated, &dst));
        return Ok(dst);
    }
    let reassign = TicketPatch {
        assignee_id: Some(who),
        ..Default::default()
    };
    // `patch` checks the assignee before it writes anything, so a refusal leaves the merge
    // whole: a chosen assignee that cannot be is an error, the current one the survivor's own.
    match patch(txn, fx, into, access, &reassign, now) {
        Err(e) if e.status.is_client_error() && matches!(assignee, MergeAssignee::Current) => {
            fx.emit(ticket_event(EventKind::TicketUpdated, &dst));
            Ok(dst)
        }
        other => other,
    }
}

/// Re-keys a ticket's rows of a (ticket, id) table to another ticket, fixing their records.
fn move_rows<T: serde::Serialize + serde::de::DeserializeOwned>(
    txn: &WriteTransaction,
    table: redb::TableDefinition<(u64, u64), &[u8]>,
    source: u64,
    into: u64,
    fix: impl Fn(&mut T),
) -> AppResult<()> {
    let mut t = txn.open_table(table)?;
    let rows: Vec<(u64, Vec<u8>)> = t
        .range((source, 0)..=(source, u64::MAX))?
        .map(|r| r.map(|(k, v)| (k.value().1, v.value().to_vec())))
        .collect::<Result<_, _>>()?;
    for (id, bytes) in rows {
        let mut record: T = codec::decode(&bytes)?;
        fix(&mut record);
        t.remove((source, id))?;
        t.insert((into, id), codec::encode_compact(&record)?.as_slice())?;
    }
    Ok(())
}
