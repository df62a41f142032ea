//! Small admin-managed lists keyed by id (labels, teams, canned responses, profile fields and
//! typifications, saved contact segments, business-hours calendars) and attachment
//! metadata: the same operations over different tables. Each record type names its table and
//! event kind (`Listed`), so callers speak in domain types and never see a table.

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::tables::*;
use super::{codec, event, next_id, Effects};
use crate::domain::calendar::Calendar;
use crate::domain::fields::FieldDef;
use crate::domain::sla::SlaPolicy;
use crate::domain::{Attachment, CannedResponse, EventKind, Label, Segment, Team};
use crate::error::{AppError, AppResult};

type RecordTable = TableDefinition<'static, u64, &'static [u8]>;

/// A record kept in one of the small id-keyed tables.
pub trait Listed: Serialize + DeserializeOwned {
    #[doc(hidden)]
    const TABLE: RecordTable;
    /// Names its 404.
    const KIND: &'static str;
    const UPDATED: EventKind;
    const DELETED: EventKind;
}

impl Listed for Label {
    const TABLE: RecordTable = LABEL_ID_TO_LABEL;
    const KIND: &'static str = "label";
    const UPDATED: EventKind = EventKind::LabelUpdated;
    const DELETED: EventKind = EventKind::LabelDeleted;
}

impl Listed for Team {
    const TABLE: RecordTable = TEAM_ID_TO_TEAM;
    const KIND: &'static str = "team";
    const UPDATED: EventKind = EventKind::TeamUpdated;
    const DELETED: EventKind = EventKind::TeamDeleted;
}

impl Listed for CannedResponse {
    const TABLE: RecordTable = CANNED_ID_TO_CANNED;
    const KIND: &'static str = "canned_response";
    const UPDATED: EventKind = EventKind::CannedResponseUpdated;
    const DELETED: EventKind = EventKind::CannedResponseDeleted;
}

impl Listed for FieldDef {
    const TABLE: RecordTable = FIELD_ID_TO_FIELD;
    const KIND: &'static str = "field";
    const UPDATED: EventKind = EventKind::FieldUpdated;
    const DELETED: EventKind = EventKind::FieldDeleted;
}

impl Listed for Calendar {
    const TABLE: RecordTable = CALENDAR_ID_TO_CALENDAR;
    const KIND: &'static str = "calendar";
    const UPDATED: EventKind = EventKind::CalendarUpdated;
    const DELETED: EventKind = EventKind::CalendarDeleted;
}

impl Listed for SlaPolicy {
    const TABLE: RecordTable = SLA_POLICY_ID_TO_POLICY;
    const KIND: &'static str = "sla_policy";
    const UPDATED: EventKind = EventKind::SlaPolicyUpdated;
    const DELETED: EventKind = EventKind::SlaPolicyDeleted;
}

impl Listed for Segment {
    const TABLE: RecordTable = SEGMENT_ID_TO_SEGMENT;
    const KIND: &'static str = "segment";
    const UPDATED: EventKind = EventKind::SegmentUpdated;
    const DELETED: EventKind = EventKind::SegmentUpdated;
}

/// The field definitions, in their order on the forms.
pub fn fields_w(txn: &WriteTransaction) -> AppResult<Vec<FieldDef>> {
    let mut all: Vec<FieldDef> = list_w(txn)?;
    all.sort_by_key(|f| (f.position, f.id));
    Ok(all)
}

impl Listed for Attachment {
    const TABLE: RecordTable = ATTACHMENT_ID_TO_ATTACHMENT;
    const KIND: &'static str = "attachment";
    const UPDATED: EventKind = EventKind::AttachmentUpdated;
    const DELETED: EventKind = EventKind::AttachmentDeleted;
}

pub fn list<T: Listed>(txn: &ReadTransaction) -> AppResult<Vec<T>> {
    codec::all(&txn.open_table(T::TABLE)?)
}

pub fn list_w<T: Listed>(txn: &WriteTransaction) -> AppResult<Vec<T>> {
    codec::all(&txn.open_table(T::TABLE)?)
}

pub fn get<T: Listed>(txn: &ReadTransaction, id: u64) -> AppResult<Option<T>> {
    codec::get(&txn.open_table(T::TABLE)?, id)
}

pub fn get_w<T: Listed>(txn: &WriteTransaction, id: u64) -> AppResult<Option<T>> {
    codec::get(&txn.open_table(T::TABLE)?, id)
}

/// A fresh id from the table's own sequence (named after the table).
pub fn new_id<T: Listed>(txn: &WriteTransaction) -> AppResult<u64> {
    next_id(txn, &format!("{}", T::TABLE))
}

/// Stores a record and announces `{kind}.updated` so open boards refresh their lists.
pub fn put<T: Listed>(
    txn: &WriteTransaction,
    fx: &mut Effects,
    id: u64,
    record: &T,
) -> AppResult<()> {
    insert(txn, id, record)?;
    fx.emit(event(T::UPDATED));
    Ok(())
}

/// Stores a record without an event (attachments: their message's event tells).
pub fn insert<T: Listed>(txn: &WriteTransaction, id: u64, record: &T) -> AppResult<()> {
    txn.open_table(T::TABLE)?
        .insert(id, codec::encode(record)?.as_slice())?;
    Ok(())
}

/// Takes `label` off every ticket and contact that has it, putting `into` there instead (a
/// merge) or nothing (a delete); returns how many tickets changed. The label record itself is
/// the caller's.
pub fn replace_label(
    txn: &WriteTransaction,
    fx: &mut Effects,
    label: u64,
    into: Option<u64>,
) -> AppResult<u64> {
    let numbers = super::index::label_tickets(txn, label)?;
    for n in &numbers {
        let Some(before) = super::tickets::get_w(txn, *n)? else {
            continue;
        };
        let mut after = before.clone();
        after.labels.retain(|l| *l != label);
        if let Some(i) = into.filter(|i| !after.labels.contains(i)) {
            after.labels.push(i);
        }
        super::tickets::save(txn, Some(&before), &after)?;
        let mut e = event(EventKind::TicketUpdated);
        e.ticket_number = Some(after.number);
        e.account_id = Some(after.account_id);
        fx.emit(e);
    }
    // Contacts carry labels too, with no index by label: one pass over them.
    let changed: Vec<crate::domain::Contact> = {
        let table = txn.open_table(CONTACT_ID_TO_CONTACT)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            let c: crate::domain::Contact = codec::decode(v.value())?;
            if c.labels.contains(&label) {
                out.push(c);
            }
        }
        out
    };
    for mut c in changed {
        c.labels.retain(|l| *l != label);
        if let Some(i) = into.filter(|i| !c.labels.contains(i)) {
            c.labels.push(i);
        }
        super::contacts::put(txn, fx, &c, EventKind::ContactUpdated)?;
    }
    Ok(numbers.len() as u64)
}

/// Puts a user in exactly these teams (and out of the others). An unknown team is refused.
pub fn set_teams_of(
    txn: &WriteTransaction,
    fx: &mut Effects,
    user_id: u64,
    team_ids: &[u64],
) -> AppResult<()> {
    for id in team_ids {
        if get_w::<Team>(txn, *id)?.is_none() {
            return Err(AppError::invalid(
                "teams",
                "unknown_team",
                format!("no team {id}"),
            ));
        }
    }
    let teams: Vec<Team> = list_w(txn)?;
    for mut team in teams {
        let wanted = team_ids.contains(&team.id);
        let member = team.members.contains(&user_id);
        if wanted == member {
            continue;
        }
        if wanted {
            team.members.push(user_id);
            team.members.sort_unstable();
        } else {
            team.members.retain(|m| *m != user_id);
        }
        put(txn, fx, team.id, &team)?;
    }
    Ok(())
}

pub fn remove<T: Listed>(txn: &WriteTransaction, fx: &mut Effects, id: u64) -> AppResult<()> {
    let existed = txn.open_table(T::TABLE)?.remove(id)?.is_some();
    if !existed {
        return Err(AppError::not_found(T::KIND));
    }
    fx.emit(event(T::DELETED));
    Ok(())
}
