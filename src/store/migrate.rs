//! The stored schema version and the ordered steps that bring an older data dir up to date.
//! Each step runs in its own write transaction together with the version bump, so a crash
//! mid-migration leaves the previous version intact.

use redb::{Database, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::tables::*;
use crate::error::{AppError, AppResult};

/// Version 1: the first layout (records, no ticket list index).
/// Version 2: adds `ticket_index`, built from the ticket records.
/// Version 3: `ticket_index` gains waiting-time keys (SLA filter): rebuilt.
/// Version 4: assignment: `agents` rows (loads counted from the tickets),
/// `assignment_by_account`, default connection states.
/// Version 5: email: the secret that signs reply tokens (mail tables are new and empty).
/// Version 6: `ticket_index` keeps fewer keys per ticket (see `index`): rebuilt.
/// Version 7: one outbox for every channel (`outbox_rows`): the rows of `mail_outbox` and
/// `outbox` move there, and those two tables go.
/// Version 8: history entries, assignment reasons, delivery details and mail reading notes are
/// notes (a code and its parameters) instead of Spanish sentences: rewritten.
/// Version 9: tickets keep the subject of the mail that opened them: filled in from that mail.
/// Version 10: `contact_keys` (RUT, email, phone of each contact) filled in; contacts that
/// share a RUT are linked as one person (ORG-4).
/// Version 11: contacts keep when they last wrote (`last_contact_at`, from their latest
/// tickets) and the Contactos list has its index (`contact_index`).
/// Version 12: an account's `sla_minutes` and `sla_business_hours` become an SLA policy it
/// follows (`sla_policy_id`), and a web chat's `hours` (one UTC offset) a calendar
/// (`calendar_id`, zone `Etc/GMT±N`); an email account's `auto_reply` its welcome message
/// (`auto_messages.welcome.es`).
/// Version 13: the report aggregates (`report_rows`, `report_histograms`, `report_facts`,
/// `report_messages`), counted from every ticket and message.
/// Version 14: the ticket index's keys are 16 bytes of fixed width (`ticket_keys`): built,
/// repacked, and `ticket_index` dropped.
/// Version 15: the ticket index drops the assignee's own keys (tag 3; a list by assignee
/// merges their account + assignee keys): removed.
pub const CURRENT: u64 = 15;

type Step = fn(&WriteTransaction) -> AppResult<()>;

/// `STEPS[i]` migrates from version `i + 1` to `i + 2`.
const STEPS: [Step; 14] = [
    v1_to_v2, v2_to_v3, v3_to_v4, v4_to_v5, v5_to_v6, v6_to_v7, v7_to_v8, v8_to_v9, v9_to_v10,
    v10_to_v11, v11_to_v12, v12_to_v13, v13_to_v14, v14_to_v15,
];

/// Rows rewritten per pass: a table is read in key order in slices so that memory stays flat
/// on a large store.
const SLICE: usize = 10_000;

/// The next `SLICE` contacts after id `after` (from the first when None).
fn contacts_after(
    txn: &WriteTransaction,
    after: Option<u64>,
) -> AppResult<Vec<crate::domain::Contact>> {
    use std::ops::Bound;
    let t = txn.open_table(CONTACT_ID_TO_CONTACT)?;
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut out = Vec::new();
    for row in t.range::<u64>((lower, Bound::Unbounded))?.take(SLICE) {
        out.push(super::codec::decode(row?.1.value())?);
    }
    Ok(out)
}

/// The zone of a fixed UTC offset in minutes (east positive), to the nearest hour: the tz
/// database's `Etc/GMT` zones count the other way (UTC−3 is `Etc/GMT+3`).
fn fixed_zone(offset_minutes: i64) -> String {
    let hours = (offset_minutes as f64 / 60.0).round() as i64;
    match hours {
        0 => "Etc/GMT".into(),
        h if h < 0 => format!("Etc/GMT+{}", -h),
        h => format!("Etc/GMT-{h}"),
    }
}

/// Schema 15: the assignee's own keys leave the ticket index (two per ticket; the nightly
/// repacking or `atiende compact` gives their pages back).
fn v14_to_v15(txn: &WriteTransaction) -> AppResult<()> {
    let mut index = txn.open_table(TICKET_KEYS)?;
    let before = index.len()?;
    for (lo, hi) in super::index::retired_assignee_key_ranges() {
        index.retain_in(lo..=hi, |_, _| false)?;
    }
    tracing::info!(
        removed = before - index.len()?,
        "migration 14→15: the assignee's own ticket index keys removed"
    );
    Ok(())
}

/// Schema 14: the ticket index in fixed-width keys, built from the ticket records and then
/// repacked (built in ticket order, its leaves would stay half full); the old table goes.
fn v13_to_v14(txn: &WriteTransaction) -> AppResult<()> {
    match txn.delete_table(RETIRED_TICKET_INDEX) {
        Ok(_) => {}
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let n = super::index::rebuild(txn)?;
    let mut from = None;
    loop {
        from = super::repack::slice(txn, TICKET_KEYS, &from, 8 << 20)?;
        if from.is_none() {
            break;
        }
    }
    tracing::info!(
        tickets = n,
        "migration 13→14: ticket index rebuilt with fixed-width keys"
    );
    Ok(())
}

/// Schema 13: the report aggregates, counted from every ticket and message (and the replies
/// each ticket holds, which earlier stores did not count).
fn v12_to_v13(txn: &WriteTransaction) -> AppResult<()> {
    let tickets = super::report::rebuild(txn)?;
    tracing::info!(tickets, "report aggregates built");
    Ok(())
}

fn v11_to_v12(txn: &WriteTransaction) -> AppResult<()> {
    use crate::domain::calendar::Calendar;
    use crate::domain::sla::SlaPolicy;
    use crate::domain::Account;
    use serde_json::Value;
    let accounts: Vec<Account> = super::codec::all(&txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?)?;
    // One policy per distinct (minutes, business hours) pair.
    let mut policies: Vec<SlaPolicy> = Vec::new();
    for mut a in accounts {
        let minutes = a.settings.remove("sla_minutes").and_then(|v| v.as_i64());
        let business = a.settings.remove("sla_business_hours") == Some(Value::Bool(true));
        let hours = a.settings.remove("hours");
        // An email account's one automatic answer becomes its welcome (SLA-3).
        if let Some(Value::String(text)) = a.settings.remove("auto_reply") {
            if !text.trim().is_empty() && !a.settings.contains_key("auto_messages") {
                a.settings.insert(
                    "auto_messages".into(),
                    serde_json::json!({"welcome": {"es": text}}),
                );
            }
        }
        if let Some(m) = minutes.filter(|m| (1..=crate::domain::sla::MAX_MINUTES).contains(m)) {
            let id = match policies
                .iter()
                .find(|p| p.first_response_minutes == m && p.business_hours == business)
            {
                Some(p) => p.id,
                None => {
                    let p = SlaPolicy {
                        id: super::catalog::new_id::<SlaPolicy>(txn)?,
                        name: format!("SLA {m} min{}", if business { " (h)" } else { "" }),
                        first_response_minutes: m,
                        next_response_minutes: None,
                        business_hours: business,
                    };
                    txn.open_table(SLA_POLICY_ID_TO_POLICY)?
                        .insert(p.id, super::codec::encode(&p)?.as_slice())?;
                    policies.push(p);
                    policies[policies.len() - 1].id
                }
            };
            a.settings
                .insert("sla_policy_id".into(), Value::String(id.to_string()));
        }
        // The chat's own weekly table, when the account follows no calendar yet.
        if let (Some(h), None) = (hours.as_ref().and_then(Value::as_object), a.calendar_id()) {
            let offset = h
                .get("utc_offset_minutes")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let week = h
                .get("week")
                .cloned()
                .and_then(|w| serde_json::from_value(w).ok())
                .unwrap_or_default();
            let c = Calendar {
                id: super::catalog::new_id::<Calendar>(txn)?,
                name: a.name.clone(),
                time_zone: fixed_zone(offset),
                week,
                holidays: Vec::new(),
            };
            if c.check().is_ok() {
                txn.open_table(CALENDAR_ID_TO_CALENDAR)?
                    .insert(c.id, super::codec::encode(&c)?.as_slice())?;
                a.settings
                    .insert("calendar_id".into(), Value::String(c.id.to_string()));
            } else {
                tracing::warn!(
                    account = a.id,
                    "a chat's opening hours could not be read; dropped"
                );
            }
        }
        txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?
            .insert(a.id, super::codec::encode(&a)?.as_slice())?;
    }
    Ok(())
}

fn v10_to_v11(txn: &WriteTransaction) -> AppResult<()> {
    use crate::domain::Ticket;
    let mut after: Option<u64> = None;
    loop {
        let slice = contacts_after(txn, after)?;
        let Some(last) = slice.last().map(|c| c.id) else {
            break;
        };
        let latest = txn.open_table(CONTACT_ACCOUNT_TO_LAST_TICKET)?;
        let tickets = txn.open_table(NUMBER_TO_TICKET)?;
        let mut records = txn.open_table(CONTACT_ID_TO_CONTACT)?;
        for mut c in slice {
            let mut wrote: Option<i64> = None;
            for row in latest.range((c.id, 0)..=(c.id, u64::MAX))? {
                let number = row?.1.value();
                if let Some(t) = super::codec::get::<Ticket>(&tickets, number)? {
                    let at = t.last_inbound_at.unwrap_or(t.created_at);
                    wrote = Some(wrote.map_or(at, |w| w.max(at)));
                }
            }
            if let Some(at) = wrote {
                c.last_contact_at = at;
                records.insert(c.id, super::codec::encode(&c)?.as_slice())?;
            }
        }
        after = Some(last);
    }
    let n = super::contact_index::rebuild(txn)?;
    tracing::info!(contacts = n, "contacts list index built");
    Ok(())
}

fn v9_to_v10(txn: &WriteTransaction) -> AppResult<()> {
    use std::collections::BTreeMap;
    let mut by_rut: BTreeMap<String, Vec<(u64, i64)>> = BTreeMap::new();
    let mut after: Option<u64> = None;
    loop {
        let slice = contacts_after(txn, after)?;
        let Some(last) = slice.last().map(|c| c.id) else {
            break;
        };
        let mut keys = txn.open_table(CONTACT_KEY)?;
        for c in &slice {
            for k in super::contacts::keys_of(c) {
                keys.insert((k.as_str(), c.id), ())?;
            }
            if let Some(r) = &c.rut {
                by_rut
                    .entry(r.clone())
                    .or_default()
                    .push((c.id, c.updated_at));
            }
        }
        after = Some(last);
    }
    // The same RUT is the same person: linked, as new arrivals will be.
    let mut fx = super::Effects::default();
    let mut linked = 0usize;
    for group in by_rut.values().filter(|g| g.len() > 1) {
        let at = group.iter().map(|(_, at)| *at).max().unwrap_or_default();
        for (other, _) in &group[1..] {
            super::contacts::link(txn, &mut fx, group[0].0, *other, at)?;
            linked += 1;
        }
    }
    tracing::info!(linked, "contacts with the same RUT linked");
    Ok(())
}

fn v8_to_v9(txn: &WriteTransaction) -> AppResult<()> {
    use crate::domain::{Message, Ticket};
    use std::ops::Bound;
    let mut filled = 0usize;
    let mut after: Option<u64> = None;
    loop {
        // The mails that opened a ticket, a slice of the messages at a time.
        let (last, openers) = {
            let t = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
            let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut last = None;
            let mut openers = Vec::new();
            for row in t.range::<u64>((lower, Bound::Unbounded))?.take(SLICE) {
                let (k, v) = row?;
                last = Some(k.value());
                let m: Message = super::codec::decode(v.value())?;
                match m.mail {
                    Some(mail) if m.opened_ticket && !mail.subject.trim().is_empty() => {
                        openers.push((m.ticket_number, mail.subject.trim().to_string()));
                    }
                    _ => {}
                }
            }
            (last, openers)
        };
        let Some(last) = last else { break };
        let mut tickets = txn.open_table(NUMBER_TO_TICKET)?;
        for (number, subject) in openers {
            let ticket: Option<Ticket> = super::codec::get(&tickets, number)?;
            if let Some(mut ticket) = ticket.filter(|t| t.subject.is_none()) {
                ticket.subject = Some(subject);
                tickets.insert(number, super::codec::encode(&ticket)?.as_slice())?;
                filled += 1;
            }
        }
        after = Some(last);
    }
    tracing::info!(tickets = filled, "mail subjects kept on their tickets");
    Ok(())
}

fn v7_to_v8(txn: &WriteTransaction) -> AppResult<()> {
    use crate::domain::{HistoryEntry, Message};
    use std::ops::Bound;
    // Reading decodes a stored sentence into its note (`domain::note::stored`); writing the
    // record back stores the note.
    let mut entries = 0usize;
    let mut after: Option<(u64, u64)> = None;
    loop {
        let slice: Vec<((u64, u64), HistoryEntry)> = {
            let t = txn.open_table(TICKET_HISTORY_TO_ENTRY)?;
            let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut out = Vec::new();
            for row in t
                .range::<(u64, u64)>((lower, Bound::Unbounded))?
                .take(SLICE)
            {
                let (k, v) = row?;
                out.push((k.value(), super::codec::decode(v.value())?));
            }
            out
        };
        let Some(last) = slice.last().map(|(k, _)| *k) else {
            break;
        };
        let mut t = txn.open_table(TICKET_HISTORY_TO_ENTRY)?;
        for (k, entry) in &slice {
            t.insert(*k, super::codec::encode(entry)?.as_slice())?;
        }
        entries += slice.len();
        after = Some(last);
    }
    let mut messages = 0usize;
    let mut after: Option<u64> = None;
    loop {
        let slice: Vec<(u64, Option<Message>)> = {
            let t = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
            let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut out = Vec::new();
            for row in t.range::<u64>((lower, Bound::Unbounded))?.take(SLICE) {
                let (k, v) = row?;
                let m: Message = super::codec::decode(v.value())?;
                let has_note = m.status_detail.is_some()
                    || m.mail.as_ref().is_some_and(|mail| !mail.notes.is_empty());
                out.push((k.value(), has_note.then_some(m)));
            }
            out
        };
        let Some(last) = slice.last().map(|(k, _)| *k) else {
            break;
        };
        let mut t = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
        for (id, m) in &slice {
            if let Some(m) = m {
                t.insert(*id, super::codec::encode(m)?.as_slice())?;
                messages += 1;
            }
        }
        after = Some(last);
    }
    tracing::info!(
        entries,
        messages,
        "migration 7→8: stored sentences became notes read in each reader's language"
    );
    Ok(())
}

/// The two outboxes of schema 6 and their rows, as they were stored.
mod v6 {
    use redb::TableDefinition;
    use serde::Deserialize;

    use crate::domain::{Millis, SystemMail};

    /// Replies on channels other than email.
    pub const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
    /// The email outbox.
    pub const MAIL_OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("mail_outbox");

    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct OutboxItem {
        pub message_id: Option<u64>,
        pub ticket_number: Option<u64>,
        pub attempts: u32,
        pub created_at: Millis,
    }

    #[derive(Deserialize, PartialEq, Eq)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(rename_all = "snake_case")]
    pub enum MailKind {
        Reply,
        AutoReply,
        System,
    }

    #[derive(Deserialize, PartialEq, Eq)]
    #[cfg_attr(test, derive(serde::Serialize))]
    #[serde(rename_all = "snake_case")]
    pub enum MailState {
        Queued,
        Sending,
    }

    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct MailItem {
        pub kind: MailKind,
        pub state: MailState,
        #[serde(default)]
        pub account_id: Option<u64>,
        #[serde(default)]
        pub message_id: Option<u64>,
        #[serde(default)]
        pub ticket_number: Option<u64>,
        #[serde(default)]
        pub system: Option<SystemMail>,
        pub attempts: u32,
        pub next_attempt_at: Millis,
        #[serde(default)]
        pub last_error: Option<String>,
        pub created_at: Millis,
    }
}

fn v6_to_v7(txn: &WriteTransaction) -> AppResult<()> {
    use crate::domain::{Channel, OutboxRow, OutboxWork, Ticket};
    // System mail's Message-IDs are derived from the row id: the new sequence starts past
    // every id either outbox gave, so no Message-ID is used twice.
    {
        let mut seq = txn.open_table(SEQUENCE_TO_LAST)?;
        let last = |name: &str| -> AppResult<u64> { Ok(seq.get(name)?.map_or(0, |g| g.value())) };
        let highest = last("mail_outbox")?.max(last("outbox")?);
        seq.insert("outbox", highest)?;
    }
    let mut rows: Vec<((u8, u64, u64), OutboxRow)> = Vec::new();
    let mail: Vec<v6::MailItem> = {
        let t = txn.open_table(v6::MAIL_OUTBOX)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(super::codec::decode(row?.1.value())?);
        }
        out
    };
    for m in mail {
        let work = match (m.kind, m.system, m.message_id, m.ticket_number) {
            (v6::MailKind::System, Some(sys), _, _) => OutboxWork::SystemMail(sys),
            (kind, _, Some(message_id), Some(ticket_number)) => OutboxWork::Message {
                message_id,
                ticket_number,
                automatic: kind == v6::MailKind::AutoReply,
            },
            _ => continue,
        };
        let row = OutboxRow {
            id: super::next_id(txn, "outbox")?,
            channel: Channel::Email,
            account_id: m.account_id,
            work,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
        };
        let state = u8::from(m.state == v6::MailState::Sending);
        rows.push(((state, m.next_attempt_at.max(0) as u64, row.id), row));
    }
    let other: Vec<v6::OutboxItem> = {
        let t = txn.open_table(v6::OUTBOX)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(super::codec::decode(row?.1.value())?);
        }
        out
    };
    let tickets = txn.open_table(NUMBER_TO_TICKET)?;
    let messages = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
    for o in other {
        let (Some(message_id), Some(number)) = (o.message_id, o.ticket_number) else {
            continue;
        };
        // Answers that already read sent (the old demo's history) have nothing left to send.
        let waiting = super::codec::get::<crate::domain::Message>(&messages, message_id)?
            .is_some_and(|m| m.status == crate::domain::DeliveryStatus::Queued);
        if !waiting {
            continue;
        }
        let Some(ticket) = super::codec::get::<Ticket>(&tickets, number)? else {
            continue;
        };
        let row = OutboxRow {
            id: super::next_id(txn, "outbox")?,
            channel: ticket.channel,
            account_id: Some(ticket.account_id),
            work: OutboxWork::Message {
                message_id,
                ticket_number: number,
                automatic: false,
            },
            attempts: o.attempts,
            last_error: None,
            created_at: o.created_at,
        };
        rows.push(((0, o.created_at.max(0) as u64, row.id), row));
    }
    drop((tickets, messages));
    let moved = rows.len();
    let mut table = txn.open_table(OUTBOX_DUE_TO_ROW)?;
    for (key, row) in rows {
        table.insert(key, super::codec::encode(&row)?.as_slice())?;
    }
    drop(table);
    txn.delete_table(v6::MAIL_OUTBOX)?;
    txn.delete_table(v6::OUTBOX)?;
    tracing::info!(
        rows = moved,
        "migration 6→7: the mail and channel outboxes became one"
    );
    Ok(())
}

fn v5_to_v6(txn: &WriteTransaction) -> AppResult<()> {
    let n = super::index::rebuild(txn)?;
    tracing::info!(
        tickets = n,
        "migration 5→6: ticket index rebuilt with fewer keys per ticket"
    );
    Ok(())
}

fn v4_to_v5(txn: &WriteTransaction) -> AppResult<()> {
    super::mail::ensure_secret(txn)?;
    tracing::info!("migration 4→5: email threading secret created");
    Ok(())
}

fn v3_to_v4(txn: &WriteTransaction) -> AppResult<()> {
    super::assignment::seed_states(txn)?;
    super::assignment::rebuild_modes_by_account(txn)?;
    let users = super::assignment::rebuild_loads(txn)?;
    tracing::info!(
        users,
        "migration 3→4: agent loads counted, connection states added"
    );
    Ok(())
}

fn v2_to_v3(txn: &WriteTransaction) -> AppResult<()> {
    let n = super::index::rebuild(txn)?;
    tracing::info!(
        tickets = n,
        "migration 2→3: ticket index rebuilt with waiting-time keys"
    );
    Ok(())
}

fn v1_to_v2(txn: &WriteTransaction) -> AppResult<()> {
    let n = super::index::rebuild(txn)?;
    tracing::info!(tickets = n, "migration 1→2: ticket list index built");
    Ok(())
}

pub fn stored_version(txn: &WriteTransaction) -> AppResult<Option<u64>> {
    let meta = txn.open_table(META)?;
    let v = meta
        .get("schema_version")?
        .map(|g| version_from_bytes(g.value()));
    Ok(v)
}

/// The stored form of the schema version (8 bytes, big-endian; anything else reads as 0).
pub fn version_from_bytes(raw: &[u8]) -> u64 {
    <[u8; 8]>::try_from(raw).map_or(0, u64::from_be_bytes)
}

pub fn set_version(txn: &WriteTransaction, v: u64) -> AppResult<()> {
    let mut meta = txn.open_table(META)?;
    meta.insert("schema_version", v.to_be_bytes().as_slice())?;
    Ok(())
}

#[allow(clippy::disallowed_methods)] // the schema is migrated at open, before the writer starts
pub fn migrate(db: &Database) -> AppResult<()> {
    let txn = db.begin_write()?;
    create_all(&txn)?;
    let version = stored_version(&txn)?;
    match version {
        None => {
            // A new data dir starts at the current layout.
            super::assignment::seed_states(&txn)?;
            super::mail::ensure_secret(&txn)?;
            set_version(&txn, CURRENT)?;
            txn.commit()?;
            return Ok(());
        }
        Some(v) if v > CURRENT => {
            return Err(AppError::internal(format!(
                "this data dir has schema version {v}, newer than this atiende ({CURRENT}); \
                 run a newer atiende or restore a backup"
            )));
        }
        Some(_) => txn.commit()?,
    }
    let mut v = version.unwrap_or(CURRENT);
    while v < CURRENT {
        let txn = db.begin_write()?;
        let step = STEPS
            .get((v - 1) as usize)
            .ok_or_else(|| AppError::internal(format!("no migration from schema {v}")))?;
        step(&txn)?;
        set_version(&txn, v + 1)?;
        txn.commit()?;
        tracing::info!(from = v, to = v + 1, "schema migrated");
        v += 1;
    }
    Ok(())
}

#[cfg(test)]
// Tests build their fixtures with their own transactions.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::domain::ticket::plain_ticket;
    use crate::domain::*;
    use crate::store::codec;
    use crate::store::index::{list, TicketQuery};
    use redb::{ReadableDatabase, TableHandle};

    /// Writes a data dir the way schema 1 did: records only, no ticket index.
    fn write_v1(db: &Database) {
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert("schema_version", 1u64.to_be_bytes().as_slice())
                .unwrap();
            // Agent 7 on auto-assignment on account 1.
            txn.open_table(USER_ACCOUNT_TO_MODE)
                .unwrap()
                .insert((7, 1), 2u8)
                .unwrap();
            let mut tickets = txn.open_table(NUMBER_TO_TICKET).unwrap();
            for number in 1..=3u64 {
                let mut t =
                    plain_ticket(number, (1, Channel::Email), number, 1_000 * number as i64);
                if number == 2 {
                    t.state = TicketState::Closed;
                }
                // Agent 7 has two assigned tickets: #1 open and awaiting reply, #2 closed.
                if number <= 2 {
                    t.assignee_id = Some(7);
                }
                tickets
                    .insert(number, codec::encode(&t).unwrap().as_slice())
                    .unwrap();
            }
        }
        txn.commit().unwrap();
    }

    #[test]
    fn opens_a_schema_1_data_dir_and_builds_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        write_v1(&db);
        migrate(&db).unwrap();
        let txn = db.begin_write().unwrap();
        assert_eq!(stored_version(&txn).unwrap(), Some(CURRENT));
        txn.abort().unwrap();
        let r = db.begin_read().unwrap();
        let q = TicketQuery {
            states: vec![TicketState::Open],
            limit: 10,
            ..Default::default()
        };
        let (open, more) = list(&r, &q, 0).unwrap();
        assert!(!more);
        assert_eq!(
            open.iter().map(|t| t.number).collect::<Vec<_>>(),
            vec![3, 1],
            "newest update first, closed #2 left out"
        );
        // Schema 13: the reports count the tickets of before (day 0: 1970 in Santiago).
        let counted = crate::store::report::read(
            &r,
            crate::domain::report::Base::Created,
            crate::domain::report::Dim::Agent,
            None,
            0,
            0,
        )
        .unwrap();
        assert_eq!(counted.total.tickets, 3);
        assert_eq!(counted.by_value["7"].tickets, 2);
        assert_eq!(counted.by_value["7"].open, 1);
        // Schema 4: the agent's load was counted, and the default states exist.
        assert_eq!(crate::store::assignment::load(&r, 7).unwrap(), (1, 1));
        let by_account = r.open_table(ACCOUNT_USER_TO_MODE).unwrap();
        assert_eq!(by_account.get((1, 7)).unwrap().map(|g| g.value()), Some(2));
        let states = crate::store::assignment::states(&r).unwrap();
        assert_eq!(states.len(), 4);
        assert!(states.iter().any(|s| s.name == "Conectado" && s.assignable));
        assert_eq!(
            crate::store::assignment::settings(&r)
                .unwrap()
                .on_sign_in
                .as_deref(),
            Some("Conectado")
        );
        // Migrating again is a no-op.
        drop(r);
        migrate(&db).unwrap();
    }

    /// Schema 6 had two outboxes: pending email (a reply, an automatic answer being sent, a
    /// system mail) and a web chat answer. They become rows of the one outbox, due as before.
    #[test]
    fn the_two_outboxes_of_schema_6_become_one() {
        use crate::store::outbox;
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        set_version(&txn, 6).unwrap();
        let mut chat_ticket = plain_ticket(9, (4, Channel::Webchat), 1, 1_000);
        chat_ticket.assignee_id = None;
        txn.open_table(NUMBER_TO_TICKET)
            .unwrap()
            .insert(9, codec::encode(&chat_ticket).unwrap().as_slice())
            .unwrap();
        let mail = |kind, state, message: Option<u64>, system: Option<SystemMail>| v6::MailItem {
            kind,
            state,
            account_id: Some(1),
            message_id: message,
            ticket_number: message.map(|_| 3),
            system,
            attempts: 2,
            next_attempt_at: 5_000,
            last_error: Some("421 try later".into()),
            created_at: 4_000,
        };
        let items = [
            mail(v6::MailKind::Reply, v6::MailState::Queued, Some(30), None),
            mail(
                v6::MailKind::AutoReply,
                v6::MailState::Sending,
                Some(31),
                None,
            ),
            mail(
                v6::MailKind::System,
                v6::MailState::Queued,
                None,
                Some(SystemMail {
                    to: "ana@example.com".into(),
                    subject: "Restablecer".into(),
                    text: "enlace".into(),
                    attachments: vec![],
                }),
            ),
        ];
        {
            let mut t = txn.open_table(v6::MAIL_OUTBOX).unwrap();
            for (i, item) in items.iter().enumerate() {
                t.insert(i as u64 + 1, codec::encode(item).unwrap().as_slice())
                    .unwrap();
            }
            // A web chat answer waiting, and one the old demo left behind already sent.
            for (id, status) in [(90, DeliveryStatus::Queued), (91, DeliveryStatus::Sent)] {
                let m = Message {
                    reaction: None,
                    receipt_sent: false,
                    template: None,
                    notes: Vec::new(),
                    id,
                    ticket_number: 9,
                    direction: Direction::Outbound,
                    public: false,
                    contact_id: None,
                    user_id: Some(1),
                    text: "respuesta".into(),
                    attachments: vec![],
                    reply_to: None,
                    external_id: None,
                    status,
                    created_at: 7_000,
                    opened_ticket: false,
                    status_detail: None,
                    mail: None,
                };
                txn.open_table(MESSAGE_ID_TO_MESSAGE)
                    .unwrap()
                    .insert(id, codec::encode(&m).unwrap().as_slice())
                    .unwrap();
                let chat = v6::OutboxItem {
                    message_id: Some(id),
                    ticket_number: Some(9),
                    attempts: 0,
                    created_at: 7_000,
                };
                txn.open_table(v6::OUTBOX)
                    .unwrap()
                    .insert(id, codec::encode(&chat).unwrap().as_slice())
                    .unwrap();
            }
        }
        txn.open_table(SEQUENCE_TO_LAST)
            .unwrap()
            .insert("mail_outbox", 500)
            .unwrap();
        txn.commit().unwrap();
        migrate(&db).unwrap();

        let r = db.begin_read().unwrap();
        assert_eq!(outbox::count(&r, false).unwrap(), 3);
        assert_eq!(outbox::count(&r, true).unwrap(), 1);
        let due = outbox::due(&r, 10_000, 10).unwrap();
        let works: Vec<(Channel, &OutboxWork)> =
            due.iter().map(|(_, r)| (r.channel, &r.work)).collect();
        assert_eq!(due[0].0 .1, 5_000, "due as before");
        assert!(works.contains(&(
            Channel::Email,
            &OutboxWork::Message {
                message_id: 30,
                ticket_number: 3,
                automatic: false
            }
        )));
        assert!(works.iter().any(|(c, w)| *c == Channel::Email
            && matches!(w, OutboxWork::SystemMail(m) if m.to == "ana@example.com")));
        assert!(works.contains(&(
            Channel::Webchat,
            &OutboxWork::Message {
                message_id: 90,
                ticket_number: 9,
                automatic: false
            }
        )));
        assert_eq!(due[0].1.attempts, 2);
        // Ids (and so system mail Message-IDs) never repeat one the mail outbox gave.
        assert!(due.iter().all(|(_, row)| row.id > 500));
        let tables: Vec<String> = r
            .list_tables()
            .unwrap()
            .map(|h| h.name().to_string())
            .collect();
        assert!(
            !tables.iter().any(|t| t == "mail_outbox" || t == "outbox"),
            "{tables:?}"
        );
    }

    /// Schema 7 stored Spanish sentences in history entries and on messages; schema 8 stores
    /// notes, which each reader sees in their own language.
    #[test]
    fn stored_sentences_of_schema_7_become_notes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        set_version(&txn, 7).unwrap();
        let history = serde_json::json!({
            "id": 1, "ticket_number": 3, "at": 1_000, "actor_id": null, "action": "created",
            "detail": "ticket creado por mensaje del cliente (sigue a #2)",
            "decision": "asignado a Ana: round-robin, 3 candidatos",
        });
        let mut message = serde_json::to_value(Message {
            reaction: None,
            receipt_sent: false,
            template: None,
            notes: Vec::new(),
            id: 5,
            ticket_number: 3,
            direction: Direction::Outbound,
            public: true,
            contact_id: None,
            user_id: Some(1),
            text: "hola".into(),
            attachments: vec![],
            reply_to: None,
            external_id: None,
            status: DeliveryStatus::Failed,
            created_at: 2_000,
            opened_ticket: false,
            status_detail: None,
            mail: Some(Box::default()),
        })
        .unwrap();
        message["status_detail"] = "rebotado: 550 5.1.1 unknown user".into();
        message["mail"]["notes"] = serde_json::json!(["el mensaje no tiene texto"]);
        txn.open_table(TICKET_HISTORY_TO_ENTRY)
            .unwrap()
            .insert(
                (3, 1),
                rmp_serde::to_vec_named(&history).unwrap().as_slice(),
            )
            .unwrap();
        txn.open_table(MESSAGE_ID_TO_MESSAGE)
            .unwrap()
            .insert(5, rmp_serde::to_vec_named(&message).unwrap().as_slice())
            .unwrap();
        txn.commit().unwrap();

        migrate(&db).unwrap();
        let r = db.begin_read().unwrap();
        let raw_entry = r
            .open_table(TICKET_HISTORY_TO_ENTRY)
            .unwrap()
            .get((3, 1))
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        assert!(!String::from_utf8_lossy(&raw_entry).contains("ticket creado"));
        let entry: HistoryEntry = codec::decode(&raw_entry).unwrap();
        assert_eq!(entry.detail, Note::CreatedFollowing { previous: 2 });
        assert_eq!(
            entry.decision,
            Some(Note::AssignedRoundRobin {
                agent: "Ana".into(),
                candidates: 3
            })
        );
        let raw_message = r
            .open_table(MESSAGE_ID_TO_MESSAGE)
            .unwrap()
            .get(5)
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        assert!(!String::from_utf8_lossy(&raw_message).contains("rebotado"));
        let m: Message = codec::decode(&raw_message).unwrap();
        assert_eq!(
            m.status_detail,
            Some(Note::Bounced {
                detail: "550 5.1.1 unknown user".into()
            })
        );
        assert_eq!(m.mail.unwrap().notes, vec![Note::NoText]);
        assert_eq!(
            crate::locale::render("en", &entry.detail),
            "ticket created by a customer's message (follows #2)"
        );
    }

    #[test]
    fn tickets_of_schema_8_get_the_subject_of_the_mail_that_opened_them() {
        use crate::domain::{Channel, MailMeta};
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        set_version(&txn, 8).unwrap();
        for number in [1, 2] {
            let t = plain_ticket(number, (1, Channel::Email), 1, 1_000);
            txn.open_table(NUMBER_TO_TICKET)
                .unwrap()
                .insert(number, codec::encode(&t).unwrap().as_slice())
                .unwrap();
        }
        // Ticket 1 was opened by a mail with a subject; its reply has another. Ticket 2's
        // mail had none.
        let mail = |id: u64, ticket: u64, opened: bool, subject: &str| Message {
            reaction: None,
            receipt_sent: false,
            template: None,
            notes: Vec::new(),
            id,
            ticket_number: ticket,
            direction: Direction::Inbound,
            public: false,
            contact_id: Some(1),
            user_id: None,
            text: "hola".into(),
            attachments: vec![],
            reply_to: None,
            external_id: None,
            status: DeliveryStatus::Received,
            created_at: 1_000,
            opened_ticket: opened,
            status_detail: None,
            mail: Some(Box::new(MailMeta {
                subject: subject.into(),
                ..Default::default()
            })),
        };
        for m in [
            mail(1, 1, true, "Factura de octubre"),
            mail(2, 1, false, "Re: Factura de octubre"),
            mail(3, 2, true, " "),
        ] {
            txn.open_table(MESSAGE_ID_TO_MESSAGE)
                .unwrap()
                .insert(m.id, codec::encode(&m).unwrap().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();

        migrate(&db).unwrap();
        let r = db.begin_read().unwrap();
        let tickets = r.open_table(NUMBER_TO_TICKET).unwrap();
        let subject = |n: u64| {
            codec::get::<crate::domain::Ticket>(&tickets, n)
                .unwrap()
                .unwrap()
                .subject
        };
        assert_eq!(subject(1).as_deref(), Some("Factura de octubre"));
        assert_eq!(subject(2), None);
    }

    #[test]
    fn contacts_of_schema_9_get_their_keys_and_the_same_rut_is_linked() {
        use crate::domain::Contact;
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        set_version(&txn, 9).unwrap();
        let contact = |id: u64, rut: Option<&str>, email: Option<&str>| Contact {
            id,
            name: format!("Cliente {id}"),
            rut: rut.map(str::to_string),
            email: email.map(str::to_string),
            ..Default::default()
        };
        for c in [
            contact(1, Some("12345678-5"), None),
            contact(2, None, Some("Ana@Correo.cl")),
            contact(3, Some("12345678-5"), Some("ana@correo.cl")),
        ] {
            txn.open_table(CONTACT_ID_TO_CONTACT)
                .unwrap()
                .insert(c.id, codec::encode(&c).unwrap().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();

        migrate(&db).unwrap();
        let r = db.begin_read().unwrap();
        let contacts = r.open_table(CONTACT_ID_TO_CONTACT).unwrap();
        let get = |id: u64| codec::get::<Contact>(&contacts, id).unwrap().unwrap();
        assert_eq!(get(1).linked, vec![3]);
        assert_eq!(get(3).linked, vec![1]);
        assert!(get(2).linked.is_empty(), "the same email is only proposed");
        let keys = r.open_table(CONTACT_KEY).unwrap();
        assert!(keys.get(("email:ana@correo.cl", 2)).unwrap().is_some());
        assert!(keys.get(("rut:12345678-5", 3)).unwrap().is_some());
        // Schema 11: each contact is in the Contactos index, under each of its three sorts.
        use redb::ReadableTableMetadata as _;
        assert_eq!(r.open_table(CONTACT_INDEX).unwrap().len().unwrap(), 9);
    }

    #[test]
    fn sla_minutes_and_chat_hours_of_schema_11_become_a_policy_and_a_calendar() {
        use crate::domain::calendar::Calendar;
        use crate::domain::sla::SlaPolicy;
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        set_version(&txn, 11).unwrap();
        let account = |id: u64, kind: Channel, settings: serde_json::Value| Account {
            id,
            kind,
            name: format!("Cuenta {id}"),
            settings: settings.as_object().unwrap().clone(),
            created_at: 0,
            deleted_at: None,
        };
        for a in [
            account(
                1,
                Channel::Email,
                serde_json::json!({"sla_minutes": 60, "auto_reply": "Recibimos tu correo."}),
            ),
            account(
                2,
                Channel::Webchat,
                serde_json::json!({"sla_minutes": 60, "hours": {"utc_offset_minutes": -180,
                    "week": {"mon": [["09:00", "18:00"]]}}}),
            ),
            account(
                3,
                Channel::Api,
                serde_json::json!({"sla_minutes": 30, "sla_business_hours": true}),
            ),
            account(4, Channel::Api, serde_json::json!({})),
        ] {
            txn.open_table(ACCOUNT_ID_TO_ACCOUNT)
                .unwrap()
                .insert(a.id, codec::encode(&a).unwrap().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();

        migrate(&db).unwrap();
        let r = db.begin_read().unwrap();
        let accounts = r.open_table(ACCOUNT_ID_TO_ACCOUNT).unwrap();
        let get = |id: u64| codec::get::<Account>(&accounts, id).unwrap().unwrap();
        let policies: Vec<SlaPolicy> =
            codec::all(&r.open_table(SLA_POLICY_ID_TO_POLICY).unwrap()).unwrap();
        assert_eq!(policies.len(), 2, "{policies:?}");
        let policy = |id: u64| {
            let pid = get(id).sla_policy_id().unwrap();
            policies.iter().find(|p| p.id == pid).unwrap().clone()
        };
        assert_eq!(get(1).sla_policy_id(), get(2).sla_policy_id());
        assert_eq!(policy(1).first_response_minutes, 60);
        assert!(!policy(1).business_hours);
        assert_eq!(policy(3).first_response_minutes, 30);
        assert!(policy(3).business_hours);
        assert_eq!(get(4).sla_policy_id(), None);
        assert_eq!(
            get(1).settings["auto_messages"],
            serde_json::json!({"welcome": {"es": "Recibimos tu correo."}})
        );
        for id in 1..=4 {
            let s = get(id).settings;
            assert!(
                !s.contains_key("sla_minutes") && !s.contains_key("hours"),
                "{s:?}"
            );
        }
        let calendar: Calendar = codec::get(
            &r.open_table(CALENDAR_ID_TO_CALENDAR).unwrap(),
            get(2).calendar_id().unwrap(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(calendar.time_zone, "Etc/GMT+3");
        // Monday 2026-11-23 10:00 at UTC−3 is 13:00 UTC, as the old table read it.
        let at = crate::domain::clock::parse_rfc3339;
        assert!(calendar.is_open(at("2026-11-23T13:00:00Z").unwrap()));
        assert!(!calendar.is_open(at("2026-11-23T21:30:00Z").unwrap()));
    }

    #[test]
    fn the_assignees_own_index_keys_of_schema_14_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        migrate(&db).unwrap();
        let txn = db.begin_write().unwrap();
        let mut t = plain_ticket(1, (1, Channel::Email), 1, 100);
        t.assignee_id = Some(4);
        // Schema 14's two extra keys (tag 3: open, by update and by creation time).
        let retired = [0b0101_0011u8, 0b0110_0011];
        {
            let account = Account {
                id: 1,
                kind: Channel::Email,
                name: "Correo".into(),
                settings: Default::default(),
                created_at: 0,
                deleted_at: None,
            };
            txn.open_table(ACCOUNT_ID_TO_ACCOUNT)
                .unwrap()
                .insert(1, codec::encode(&account).unwrap().as_slice())
                .unwrap();
            txn.open_table(NUMBER_TO_TICKET)
                .unwrap()
                .insert(1, codec::encode(&t).unwrap().as_slice())
                .unwrap();
            let mut index = txn.open_table(TICKET_KEYS).unwrap();
            crate::store::index::update(&mut index, None, Some(&t)).unwrap();
            for first in retired {
                let mut k = [0u8; 16];
                k[0] = first;
                k[4] = 4;
                k[15] = 1;
                index.insert(k, ()).unwrap();
            }
        }
        set_version(&txn, 14).unwrap();
        txn.commit().unwrap();
        migrate(&db).unwrap();
        let r = db.begin_read().unwrap();
        let index = r.open_table(TICKET_KEYS).unwrap();
        let firsts: Vec<u8> = index
            .iter()
            .unwrap()
            .map(|k| k.unwrap().0.value()[0])
            .collect();
        assert_eq!(firsts.len(), 7, "the ticket's seven keys stay");
        assert!(firsts.iter().all(|f| !retired.contains(f)));
        let mine = TicketQuery {
            assignee: Some(Some(4)),
            ..Default::default()
        };
        let found = list(&r, &mine, 0).unwrap().0;
        assert_eq!(found.len(), 1, "listed through the account + assignee keys");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        set_version(&txn, CURRENT + 1).unwrap();
        txn.commit().unwrap();
        let err = migrate(&db).unwrap_err();
        assert!(err.message.contains("newer"));
    }
}
