//! The report aggregates (REPORT-1..3, 5), kept in the writer's transaction as tickets,
//! messages and connection states change, so a dashboard reads a few rows per day of its
//! period — never the tickets.
//!
//! Each ticket's `Fact` (what it adds) is kept beside the rows it is counted in: a change
//! takes the old fact out and puts the new one in, whatever the caller believed the old
//! ticket to be, and durations computed in a calendar stay as they were counted.

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::codec;
use super::tables::*;
use crate::domain::calendar::Calendar;
use crate::domain::fields::{FieldDef, FieldTarget};
use crate::domain::report::{
    self, day_of, needs_timing, next_fact, options_of, Agg, Base, Day, Dim, Fact, MessageCounts,
    Targets, Timing, COUNTS, METRICS,
};
use crate::domain::sla::SlaPolicy;
use crate::domain::{Direction, Message, Millis, Team, Ticket};
use crate::error::AppResult;

const SETTINGS_KEY: &str = "report_settings";

/// How reports count days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSettings {
    /// A tz database name: the day a ticket counts on is the local day there.
    pub time_zone: String,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            time_zone: report::DEFAULT_TIME_ZONE.into(),
        }
    }
}

impl ReportSettings {
    pub fn zone(&self) -> Tz {
        self.time_zone
            .parse()
            .unwrap_or(chrono_tz::America::Santiago)
    }
}

fn settings_in(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> AppResult<ReportSettings> {
    match meta.get(SETTINGS_KEY)? {
        Some(g) => codec::decode(g.value()),
        None => Ok(ReportSettings::default()),
    }
}

pub fn settings(txn: &ReadTransaction) -> AppResult<ReportSettings> {
    settings_in(&txn.open_table(META)?)
}

pub fn settings_w(txn: &WriteTransaction) -> AppResult<ReportSettings> {
    settings_in(&txn.open_table(META)?)
}

/// Saves the settings; a new time zone moves every ticket to its local days (a rebuild).
pub fn put_settings(txn: &WriteTransaction, s: &ReportSettings) -> AppResult<usize> {
    let before = settings_w(txn)?;
    txn.open_table(META)?
        .insert(SETTINGS_KEY, codec::encode(s)?.as_slice())?;
    pending::with(|p| p.zone = None);
    if before.zone() == s.zone() {
        return Ok(0);
    }
    rebuild(txn)
}

fn fact_of(table: &impl ReadableTable<u64, &'static [u8]>, number: u64) -> AppResult<Option<Fact>> {
    match table.get(number)? {
        Some(g) => Ok(Some(codec::decode(g.value())?)),
        None => Ok(None),
    }
}

/// What a ticket's durations are counted in: its team's calendar, else its account's; and its
/// account's SLA targets.
fn timing(txn: &WriteTransaction, t: &Ticket) -> AppResult<Timing> {
    let Some(account) = super::accounts::get_w(txn, t.account_id)? else {
        return Ok(Timing::default());
    };
    let calendars = txn.open_table(CALENDAR_ID_TO_CALENDAR)?;
    let team_calendar = match t.team_id {
        Some(id) => codec::get::<Team>(&txn.open_table(TEAM_ID_TO_TEAM)?, id)?
            .and_then(|team| team.calendar_id),
        None => None,
    };
    let calendar = match team_calendar.or(account.calendar_id()) {
        Some(id) => codec::get::<Calendar>(&calendars, id)?,
        None => None,
    };
    let targets =
        match account.sla_policy_id() {
            Some(id) => codec::get::<SlaPolicy>(&txn.open_table(SLA_POLICY_ID_TO_POLICY)?, id)?
                .map(|p| Targets {
                    first_minutes: p.first_response_minutes,
                    next_minutes: p.next_response_minutes.unwrap_or(p.first_response_minutes),
                    business_hours: p.business_hours,
                }),
            None => None,
        };
    Ok(Timing { calendar, targets })
}

fn options(txn: &WriteTransaction, t: &Ticket) -> AppResult<Vec<(u64, String)>> {
    if t.fields.is_empty() {
        return Ok(Vec::new());
    }
    let table = txn.open_table(FIELD_ID_TO_FIELD)?;
    let mut kinds = HashMap::new();
    for id in t.fields.keys() {
        if let Ok(n) = id.parse::<u64>() {
            if let Some(def) = codec::get::<FieldDef>(&table, n)? {
                if def.target == FieldTarget::Ticket {
                    kinds.insert(id.clone(), def.kind);
                }
            }
        }
    }
    Ok(options_of(t, |id| kinds.get(id).copied()))
}

/// Counts `t` as it is now (from `tickets::save`, in the same transaction).
pub fn update(txn: &WriteTransaction, t: &Ticket) -> AppResult<()> {
    let tz = zone_w(txn)?;
    update_in(txn, t, tz)
}

fn update_in(txn: &WriteTransaction, t: &Ticket, tz: Tz) -> AppResult<()> {
    let mut facts = txn.open_table(TICKET_FACT)?;
    let prev = fact_of(&facts, t.number)?;
    let timing = if needs_timing(prev.as_ref(), t) {
        Some(timing(txn, t)?)
    } else {
        None
    };
    let next = next_fact(prev.as_ref(), t, tz, options(txn, t)?, timing.as_ref());
    if prev == next {
        return Ok(());
    }
    match &next {
        Some(f) => facts.insert(t.number, codec::encode_compact(f)?.as_slice())?,
        None => facts.remove(t.number)?,
    };
    let counted_alike = match (&prev, &next) {
        (Some(a), Some(b)) => a.counts_as(b),
        _ => false,
    };
    if !counted_alike {
        move_rows(txn, prev.as_ref(), next.as_ref())?;
    }
    Ok(())
}

type RowKey = (u8, u8, Day, String);

fn counts_of(bytes: &[u8]) -> [i64; COUNTS] {
    let mut c = [0; COUNTS];
    for (x, chunk) in c.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *x = i64::from_le_bytes(b);
    }
    c
}

fn counts_bytes(c: &[i64; COUNTS]) -> Vec<u8> {
    c.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Takes `old` out of the rows it was counted in and puts `new` in its rows: per row, the
/// counters change once, and only the histogram buckets that moved are written. Inside the
/// writer's group the changes add up in `pending` and are written once, before the commit.
fn move_rows(txn: &WriteTransaction, old: Option<&Fact>, new: Option<&Fact>) -> AppResult<()> {
    if pending::with(|p| add_deltas(&mut p.rows, old, new)).is_some() {
        return Ok(());
    }
    let mut deltas = BTreeMap::new();
    add_deltas(&mut deltas, old, new);
    write_rows(txn, deltas)
}

fn add_deltas(deltas: &mut BTreeMap<RowKey, Agg>, old: Option<&Fact>, new: Option<&Fact>) {
    for (f, sign) in old.map(|f| (f, -1)).into_iter().chain(new.map(|f| (f, 1))) {
        for base in Base::ALL {
            for (dim, value) in f.rows() {
                deltas
                    .entry((base.code(), dim.code(), f.day(base), value))
                    .or_default()
                    .apply(f, sign);
            }
        }
    }
}

fn write_rows(txn: &WriteTransaction, deltas: BTreeMap<RowKey, Agg>) -> AppResult<()> {
    let mut rows = txn.open_table(REPORT_ROW)?;
    let mut hists = txn.open_table(REPORT_HIST)?;
    for ((base, dim, day, value), delta) in deltas {
        let key = (base, dim, day, value.as_str());
        let change = delta.counts();
        if change.iter().any(|c| *c != 0) {
            let mut now = match rows.get(key)? {
                Some(g) => counts_of(g.value()),
                None => [0; COUNTS],
            };
            for (x, d) in now.iter_mut().zip(change) {
                *x += d;
            }
            if now.iter().all(|c| *c == 0) {
                rows.remove(key)?;
            } else {
                rows.insert(key, counts_bytes(&now).as_slice())?;
            }
        }
        for m in 0..METRICS {
            for (bucket, d) in delta.hist(m) {
                if *d == 0 {
                    continue;
                }
                let k = (base, dim, day, value.as_str(), m as u8, *bucket);
                let n = hists.get(k)?.map(|g| g.value()).unwrap_or(0) + d;
                if n == 0 {
                    hists.remove(k)?;
                } else {
                    hists.insert(k, n)?;
                }
            }
        }
    }
    Ok(())
}

/// A message counted in one row: (dimension, day, value) → (received, sent).
type MessageKey = (u8, Day, String);

/// Counts a new message: received or sent, per account and per agent (the writer of a reply;
/// for a customer's message, the ticket's assignee when it came).
pub fn message(txn: &WriteTransaction, m: &Message, t: &Ticket) -> AppResult<()> {
    let tz = zone_w(txn)?;
    count_message(txn, m, t, tz)
}

fn count_message(txn: &WriteTransaction, m: &Message, t: &Ticket, tz: Tz) -> AppResult<()> {
    let day = day_of(m.created_at, tz);
    let inbound = m.direction == Direction::Inbound;
    let agent = if inbound { t.assignee_id } else { m.user_id };
    // No agent is no row: the accounts' count less the agents'.
    let one = if inbound { (1, 0) } else { (0, 1) };
    let mut counts: BTreeMap<MessageKey, (u64, u64)> =
        std::iter::once((Dim::Account, t.account_id))
            .chain(agent.map(|a| (Dim::Agent, a)))
            .map(|(dim, id)| ((dim.code(), day, id.to_string()), one))
            .collect();
    let deferred = pending::with(|p| {
        for (key, (r, s)) in std::mem::take(&mut counts) {
            let c = p.messages.entry(key).or_default();
            c.0 += r;
            c.1 += s;
        }
    });
    if deferred.is_some() {
        return Ok(());
    }
    write_messages(txn, counts)
}

fn write_messages(
    txn: &WriteTransaction,
    counts: BTreeMap<MessageKey, (u64, u64)>,
) -> AppResult<()> {
    let mut table = txn.open_table(REPORT_MESSAGES)?;
    for ((dim, day, value), (r, s)) in counts {
        let key = (dim, day, value.as_str());
        let (r0, s0) = table.get(key)?.map(|g| g.value()).unwrap_or((0, 0));
        table.insert(key, (r0 + r, s0 + s))?;
    }
    Ok(())
}

/// The reports' time zone, read once per group transaction inside the writer.
fn zone_w(txn: &WriteTransaction) -> AppResult<Tz> {
    if let Some(Some(zone)) = pending::with(|p| p.zone) {
        return Ok(zone);
    }
    let zone = settings_w(txn)?.zone();
    pending::with(|p| p.zone = Some(zone));
    Ok(zone)
}

/// The writer thread's report changes for its open transaction (issue 21): a group of fifty
/// messages touches the same few rows (one day, a few accounts and agents) fifty times, so
/// they are added up here and written once, before the commit — with auto-assignment the
/// agents' rows had doubled the rows written per message. Like `super::super::sequences`, it
/// lives only between `begin` and `flush`/`discard`, which the writer calls around every
/// transaction it opens (an aborted one leaves nothing behind); elsewhere (migrations, tools)
/// each change is written at once. Nothing reads these rows in a write transaction but
/// `rebuild`, which counts everything again and so drops what is pending.
pub(crate) mod pending {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use chrono_tz::Tz;
    use redb::WriteTransaction;

    use super::{Agg, MessageKey, RowKey};
    use crate::error::AppResult;

    #[derive(Default)]
    pub(super) struct Pending {
        pub rows: BTreeMap<RowKey, Agg>,
        pub messages: BTreeMap<MessageKey, (u64, u64)>,
        pub zone: Option<Tz>,
    }

    thread_local! {
        static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
    }

    pub fn begin() {
        PENDING.with(|p| *p.borrow_mut() = Some(Pending::default()));
    }

    pub fn discard() {
        PENDING.with(|p| *p.borrow_mut() = None);
    }

    /// Runs `f` on the pending changes when the writer has them open (None otherwise).
    pub(super) fn with<R>(f: impl FnOnce(&mut Pending) -> R) -> Option<R> {
        PENDING.with(|p| p.borrow_mut().as_mut().map(f))
    }

    /// Writes what added up and ends the collection.
    pub fn flush(txn: &WriteTransaction) -> AppResult<()> {
        let Some(p) = PENDING.with(|p| p.borrow_mut().take()) else {
            return Ok(());
        };
        super::write_rows(txn, p.rows)?;
        super::write_messages(txn, p.messages)
    }
}

/// An agent's connection state changed (None: no state — deactivated).
pub fn state_changed(
    txn: &WriteTransaction,
    user_id: u64,
    state: Option<&str>,
    now: Millis,
) -> AppResult<()> {
    txn.open_table(AGENT_STATE_CHANGE)?.insert(
        (user_id, u64::try_from(now).unwrap_or(0)),
        state.unwrap_or(""),
    )?;
    Ok(())
}

/// Counts every ticket and message again from the records (a new time zone, or a store from
/// before the reports): facts first in business hours and SLA targets as configured now.
/// Returns the tickets counted.
pub fn rebuild(txn: &WriteTransaction) -> AppResult<usize> {
    let tz = settings_w(txn)?.zone();
    // Everything is counted again from the records, which hold what is pending.
    pending::with(|p| {
        p.rows.clear();
        p.messages.clear();
        p.zone = Some(tz);
    });
    txn.delete_table(REPORT_ROW)?;
    txn.delete_table(REPORT_HIST)?;
    txn.delete_table(TICKET_FACT)?;
    txn.delete_table(REPORT_MESSAGES)?;
    let mut after: Option<u64> = None;
    let mut counted = 0;
    loop {
        let page: Vec<Ticket> = {
            use std::ops::Bound;
            let table = txn.open_table(NUMBER_TO_TICKET)?;
            let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut out = Vec::new();
            for row in table.range::<u64>((lower, Bound::Unbounded))?.take(5_000) {
                out.push(codec::decode(row?.1.value())?);
            }
            out
        };
        let Some(last) = page.last() else { break };
        after = Some(last.number);
        for t in page {
            let messages = messages_of(txn, t.number)?;
            let replies = messages
                .iter()
                .filter(|m| m.direction == Direction::Outbound && m.user_id.is_some())
                .count();
            let mut t = t;
            // Stores from before the reports did not count replies on the ticket.
            if usize::try_from(t.replies).ok() != Some(replies) {
                t.replies = u32::try_from(replies).unwrap_or(u32::MAX);
                txn.open_table(NUMBER_TO_TICKET)?
                    .insert(t.number, codec::encode_compact(&t)?.as_slice())?;
            }
            update_in(txn, &t, tz)?;
            for m in &messages {
                count_message(txn, m, &t, tz)?;
            }
            counted += 1;
        }
    }
    Ok(counted)
}

fn messages_of(txn: &WriteTransaction, number: u64) -> AppResult<Vec<Message>> {
    let tm = txn.open_table(TICKET_MESSAGE)?;
    let messages = txn.open_table(MESSAGE_ID_TO_MESSAGE)?;
    let mut out = Vec::new();
    for row in tm.range((number, 0)..=(number, u64::MAX))? {
        if let Some(m) = codec::get::<Message>(&messages, row?.0.value().1)? {
            out.push(m);
        }
    }
    Ok(out)
}

/// The rows of one base and dimension over days `from..=to`, summed per value, and (for the
/// value `only`, or every value) per day.
pub struct Slice {
    pub by_value: BTreeMap<String, Agg>,
    pub by_day: BTreeMap<Day, Agg>,
    pub total: Agg,
}

type Cells = BTreeMap<(String, Day), Agg>;

/// The rows of one base and dimension over days `from..=to`, per value and day.
fn scan(txn: &ReadTransaction, base: Base, dim: Dim, from: Day, to: Day) -> AppResult<Cells> {
    let (b, d) = (base.code(), dim.code());
    let end = to.saturating_add(1);
    let mut cells = Cells::new();
    for row in txn
        .open_table(REPORT_ROW)?
        .range((b, d, from, "")..(b, d, end, ""))?
    {
        let (k, v) = row?;
        let (_, _, day, value) = k.value();
        cells
            .entry((value.to_string(), day))
            .or_default()
            .add_counts(&counts_of(v.value()), 1);
    }
    for row in txn
        .open_table(REPORT_HIST)?
        .range((b, d, from, "", 0, 0)..(b, d, end, "", 0, 0))?
    {
        let (k, v) = row?;
        let (_, _, day, value, m, bucket) = k.value();
        *cells
            .entry((value.to_string(), day))
            .or_default()
            .hist_mut(usize::from(m).min(METRICS - 1))
            .entry(bucket)
            .or_default() += v.value();
    }
    Ok(cells)
}

/// The sum of every value's cells per day.
fn per_day(cells: &Cells) -> BTreeMap<Day, Agg> {
    let mut days: BTreeMap<Day, Agg> = BTreeMap::new();
    for ((_, day), agg) in cells {
        days.entry(*day).or_default().merge(agg);
    }
    days
}

/// A report's rows: `by` per value over days `from..=to`, and the set `value` of `by` selects
/// (every ticket when None) in total and per day. Channels are summed from account rows; no
/// agent and no team ("") are the whole less the agents' or the teams' rows.
pub fn read(
    txn: &ReadTransaction,
    base: Base,
    by: Dim,
    value: Option<&str>,
    from: Day,
    to: Day,
) -> AppResult<Slice> {
    let accounts = scan(txn, base, Dim::Account, from, to)?;
    let whole = per_day(&accounts);
    let cells = match by {
        Dim::Account => accounts,
        Dim::Channel => {
            let channel_of = channels_of_accounts(txn)?;
            let mut cells = Cells::new();
            for ((account, day), agg) in accounts {
                let channel = channel_of.get(&account).cloned().unwrap_or_default();
                cells.entry((channel, day)).or_default().merge(&agg);
            }
            cells
        }
        Dim::Agent | Dim::Team => {
            let mut cells = scan(txn, base, by, from, to)?;
            let mut none = whole.clone();
            for ((_, day), agg) in &cells {
                if let Some(n) = none.get_mut(day) {
                    n.merge_signed(agg, -1);
                }
            }
            for (day, agg) in none {
                if !agg.is_empty() {
                    cells.insert((String::new(), day), agg);
                }
            }
            cells
        }
        Dim::Label | Dim::Option => scan(txn, base, by, from, to)?,
    };
    let mut s = Slice {
        by_value: BTreeMap::new(),
        by_day: BTreeMap::new(),
        total: Agg::default(),
    };
    for ((v, day), agg) in &cells {
        s.by_value.entry(v.clone()).or_default().merge(agg);
        if value == Some(v.as_str()) {
            s.by_day.entry(*day).or_default().merge(agg);
        }
    }
    if value.is_none() {
        s.by_day = whole;
    }
    for agg in s.by_day.values() {
        s.total.merge(agg);
    }
    Ok(s)
}

fn channels_of_accounts(txn: &ReadTransaction) -> AppResult<HashMap<String, String>> {
    Ok(super::accounts::list(txn)?
        .into_iter()
        .map(|a| (a.id.to_string(), a.kind.as_str().to_string()))
        .collect())
}

/// Messages received and sent over days `from..=to`: per value of `by` (account, agent or
/// channel; other dimensions keep none), and for the value `value` selects per day.
pub struct MessageSlice {
    pub by_value: BTreeMap<String, MessageCounts>,
    pub by_day: BTreeMap<Day, MessageCounts>,
    pub total: MessageCounts,
}

pub fn read_messages(
    txn: &ReadTransaction,
    by: Dim,
    value: Option<&str>,
    from: Day,
    to: Day,
) -> AppResult<Option<MessageSlice>> {
    let kept = matches!(by, Dim::Account | Dim::Agent | Dim::Channel);
    if value.is_some() && !kept {
        return Ok(None);
    }
    let table = txn.open_table(REPORT_MESSAGES)?;
    let read = |dim: Dim| -> AppResult<BTreeMap<(String, Day), MessageCounts>> {
        let mut cells: BTreeMap<(String, Day), MessageCounts> = BTreeMap::new();
        let d = dim.code();
        for row in table.range((d, from, "")..(d, to.saturating_add(1), ""))? {
            let (k, v) = row?;
            let (_, day, raw) = k.value();
            let (received, sent) = v.value();
            let e = cells.entry((raw.to_string(), day)).or_default();
            e.received += received;
            e.sent += sent;
        }
        Ok(cells)
    };
    let add = |a: &mut MessageCounts, b: &MessageCounts| {
        a.received += b.received;
        a.sent += b.sent;
    };
    let accounts = read(Dim::Account)?;
    let mut whole: BTreeMap<Day, MessageCounts> = BTreeMap::new();
    for ((_, day), c) in &accounts {
        add(whole.entry(*day).or_default(), c);
    }
    let cells = match by {
        Dim::Account => accounts,
        Dim::Channel => {
            let channel_of = channels_of_accounts(txn)?;
            let mut cells: BTreeMap<(String, Day), MessageCounts> = BTreeMap::new();
            for ((account, day), c) in &accounts {
                let channel = channel_of.get(account).cloned().unwrap_or_default();
                add(cells.entry((channel, *day)).or_default(), c);
            }
            cells
        }
        Dim::Agent => {
            // Messages with no agent: the accounts' count less the agents'.
            let mut cells = read(Dim::Agent)?;
            let mut none = whole.clone();
            for ((_, day), c) in &cells {
                if let Some(n) = none.get_mut(day) {
                    n.received = n.received.saturating_sub(c.received);
                    n.sent = n.sent.saturating_sub(c.sent);
                }
            }
            for (day, n) in none {
                if n != MessageCounts::default() {
                    cells.insert((String::new(), day), n);
                }
            }
            cells
        }
        _ => BTreeMap::new(),
    };
    let mut s = MessageSlice {
        by_value: BTreeMap::new(),
        by_day: BTreeMap::new(),
        total: MessageCounts::default(),
    };
    for ((v, day), c) in &cells {
        add(s.by_value.entry(v.clone()).or_default(), c);
        if value == Some(v.as_str()) {
            add(s.by_day.entry(*day).or_default(), c);
        }
    }
    if value.is_none() {
        s.by_day = whole;
    }
    for c in s.by_day.values() {
        add(&mut s.total, c);
    }
    Ok(Some(s))
}

/// Each agent's connection-state changes that matter for [from, to): the state held at
/// `from` and the changes within.
pub type StateLog = BTreeMap<u64, (Option<String>, Vec<(Millis, Option<String>)>)>;

pub fn state_log(txn: &ReadTransaction, from: Millis, to: Millis) -> AppResult<StateLog> {
    let table = txn.open_table(AGENT_STATE_CHANGE)?;
    let state = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let (from_u, to_u) = (
        u64::try_from(from).unwrap_or(0),
        u64::try_from(to).unwrap_or(0),
    );
    let mut out = StateLog::new();
    let users: Vec<u64> = super::users::list(txn)?.iter().map(|u| u.id).collect();
    for user in users {
        let before = table
            .range((user, 0)..(user, from_u))?
            .next_back()
            .transpose()?
            .and_then(|(_, v)| state(v.value()));
        let mut changes = Vec::new();
        for row in table.range((user, from_u)..(user, to_u))? {
            let (k, v) = row?;
            changes.push((i64::try_from(k.value().1).unwrap_or(0), state(v.value())));
        }
        if before.is_some() || !changes.is_empty() {
            out.insert(user, (before, changes));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "report_model.rs"]
mod model;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_santiago() {
        assert_eq!(
            ReportSettings::default().zone(),
            chrono_tz::America::Santiago
        );
        let bad = ReportSettings {
            time_zone: "Marte/Olympus".into(),
        };
        assert_eq!(bad.zone(), chrono_tz::America::Santiago);
    }
}
