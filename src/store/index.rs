//! The ticket list index. Every ticket has a few keys in `TICKET_KEYS`, 16 bytes each
//! (schema 14; fixed width, so redb keeps no offsets beside them):
//!
//! ```text
//! state:2 bits sort:2 bits dimension tag:4 bits | dimension value:u32 BE | ts:48 bits BE | number:40 bits BE
//! ```
//!
//! The value is the id (account, team, label), 32 bits of a typification's hash, or account
//! and assignee in 12 and 20 bits. Any value that two ids share only makes a scan load
//! a ticket that `TicketQuery::matches` then leaves out: every filter is checked on the record.
//!
//! `sort` is 1 for "updated" and 2 for "created", `ts` that time in ms. One range scan over a
//! (state, sort, dimension) prefix yields tickets already in order; a list with several states
//! or several accounts merges a few such scans. Filters the chosen dimension does not cover are
//! checked on the loaded record, so no list ever walks all tickets.
//!
//! Every key costs the writer a B-tree insert (and a delete when the ticket changes), so a
//! ticket has only the keys lists need (schema 6): by update time every dimension, but
//! "important" only when true and "team" only when it has one (the other values match most
//! tickets, so a scan of the wider dimension finds them at once); by creation time only all,
//! account and account + assignee. A list by creation time over another dimension reads that
//! dimension's keys by update time when it holds few tickets and sorts them, or else walks
//! the creation-time keys of the account + assignee, the account (or all tickets) and checks
//! the filter on each.
//!
//! The assignee has no dimension of its own (schema 15): a list by assignee alone merges the
//! account + assignee scans of every account, as an agent's list over their accounts always
//! did. Its keys cost every ticket two inserts and, once tickets are spread over agents, two
//! more leaves rewritten per agent in every commit.

use std::collections::{BTreeSet, HashMap, HashSet};

use redb::{ReadableTable, Table};

use crate::domain::sla::{sla_breached, SlaClock};
use crate::domain::*;
use crate::error::AppResult;

use super::codec;
use super::tables::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    UpdatedDesc,
    UpdatedAsc,
    CreatedDesc,
    CreatedAsc,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "updated_desc" => Some(Sort::UpdatedDesc),
            "updated_asc" => Some(Sort::UpdatedAsc),
            "created_desc" => Some(Sort::CreatedDesc),
            "created_asc" => Some(Sort::CreatedAsc),
            _ => None,
        }
    }
    fn code(self) -> u8 {
        match self {
            Sort::UpdatedDesc | Sort::UpdatedAsc => 1,
            Sort::CreatedDesc | Sort::CreatedAsc => 2,
        }
    }
    fn descending(self) -> bool {
        matches!(self, Sort::UpdatedDesc | Sort::CreatedDesc)
    }
    pub fn time_of(self, t: &Ticket) -> Millis {
        match self.code() {
            1 => t.updated_at,
            _ => t.created_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Dim {
    All,
    Account(u64),
    /// Only tickets with a team have a key (schema 6; 0 meant "no team" before).
    Team(u64),
    Label(u64),
    /// Only `true` has keys (schema 6).
    Important(bool),
    Answered(bool),
    /// Account and assignee (0 = unassigned).
    AccountAssignee(u64, u64),
    /// Open, unanswered tickets of an account by the time their customer started waiting
    /// (sort code 3): the SLA-breached filter reads it.
    Waiting(u64),
    /// A typification value (`fields::value_hash`), by update time only.
    Field(u64),
}

/// Sort code of the waiting-time keys.
const WAITING: u8 = 3;

impl Dim {
    /// The dimension's tag (4 bits) and its value (32 bits; see the module's note). Tag 2 was
    /// the channel's (a list by channel scans its accounts), tag 3 the assignee's (schema ≤ 14).
    fn tag_value(&self) -> (u8, u32) {
        // Ids are sequences: far below 2^32.
        let low = |v: u64| (v & 0xffff_ffff) as u32;
        match self {
            Dim::All => (0, 0),
            Dim::Account(a) => (1, low(*a)),
            Dim::Team(t) => (4, low(*t)),
            Dim::Label(l) => (5, low(*l)),
            Dim::Important(b) => (6, u32::from(*b)),
            Dim::Answered(b) => (7, u32::from(*b)),
            Dim::AccountAssignee(a, u) => (8, low(((a & 0xfff) << 20) | (u & 0xf_ffff))),
            Dim::Waiting(a) => (9, low(*a)),
            Dim::Field(h) => (10, low(*h)),
        }
    }
}

/// The dimensions a ticket is listed under by update time.
fn dims(t: &Ticket) -> Vec<Dim> {
    let assignee = t.assignee_id.unwrap_or(0);
    let mut d = vec![
        Dim::All,
        Dim::Account(t.account_id),
        Dim::Answered(t.answered),
        Dim::AccountAssignee(t.account_id, assignee),
    ];
    if let Some(team) = t.team_id {
        d.push(Dim::Team(team));
    }
    if t.important {
        d.push(Dim::Important(true));
    }
    let labels: BTreeSet<u64> = t.labels.iter().copied().collect();
    d.extend(labels.into_iter().map(Dim::Label));
    d.extend(
        crate::domain::fields::value_hashes(&t.fields)
            .into_iter()
            .map(Dim::Field),
    );
    d
}

/// The dimensions that also have keys by creation time. Account + assignee is among them:
/// the assignment engine drains an account's unassigned tickets oldest first on every close.
fn created_dims(t: &Ticket) -> [Dim; 3] {
    [
        Dim::All,
        Dim::Account(t.account_id),
        Dim::AccountAssignee(t.account_id, t.assignee_id.unwrap_or(0)),
    ]
}

/// The key ranges of the assignee's own dimension (tag 3, schema ≤ 14), by state and sort:
/// the migration to schema 15 removes them.
pub fn retired_assignee_key_ranges() -> Vec<(Key, Key)> {
    let mut out = Vec::new();
    for state in TicketState::ALL {
        for sort_code in [1u8, 2] {
            let mut lo = [0u8; 16];
            lo[0] = (state.code() << 6) | (sort_code << 4) | 3;
            let mut hi = [0xffu8; 16];
            hi[0] = lo[0];
            out.push((lo, hi));
        }
    }
    out
}

impl Dim {
    fn has_created_keys(&self) -> bool {
        matches!(self, Dim::All | Dim::Account(_) | Dim::AccountAssignee(..))
    }
}

/// The key range of a label's tickets in one state (by update time).
fn label_range(state: TicketState, label: u64) -> (Key, Key) {
    prefix(state, 1, &Dim::Label(label)).range()
}

/// How many tickets carry `label`, in any state: its index keys counted, no record read.
pub fn label_count(txn: &redb::ReadTransaction, label: u64) -> AppResult<u64> {
    let table = txn.open_table(TICKET_KEYS)?;
    let mut n = 0u64;
    for state in TicketState::ALL {
        let (low, high) = label_range(state, label);
        n += table.range(low..=high)?.count() as u64;
    }
    Ok(n)
}

/// The numbers of the tickets that carry `label`.
pub fn label_tickets(txn: &redb::WriteTransaction, label: u64) -> AppResult<Vec<u64>> {
    let table = txn.open_table(TICKET_KEYS)?;
    let mut out = Vec::new();
    for state in TicketState::ALL {
        let (low, high) = label_range(state, label);
        for row in table.range(low..=high)? {
            out.push(number_of(&row?.0.value()));
        }
    }
    Ok(out)
}

/// A key: see the module's note.
type Key = [u8; 16];

/// The first 5 bytes of a key: state, sort and dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Prefix([u8; 5]);

/// Times beyond 48 bits of ms (the year 10889) and numbers beyond 40 bits are kept at the
/// largest.
const TS_MAX: u64 = (1 << 48) - 1;
const NUMBER_MAX: u64 = (1 << 40) - 1;

impl Prefix {
    /// The key of the ticket `number` at time `ts` (ms) under this prefix.
    fn key(self, ts: u64, number: u64) -> Key {
        let mut k = [0u8; 16];
        k[..5].copy_from_slice(&self.0);
        k[5..11].copy_from_slice(&ts.min(TS_MAX).to_be_bytes()[2..]);
        k[11..].copy_from_slice(&number.min(NUMBER_MAX).to_be_bytes()[3..]);
        k
    }

    /// The first and last key this prefix can hold.
    fn range(self) -> (Key, Key) {
        (self.key(0, 0), self.key(TS_MAX, NUMBER_MAX))
    }
}

fn prefix(state: TicketState, sort_code: u8, dim: &Dim) -> Prefix {
    let (tag, value) = dim.tag_value();
    let mut p = [0u8; 5];
    p[0] = (state.code() << 6) | (sort_code << 4) | tag;
    p[1..].copy_from_slice(&value.to_be_bytes());
    Prefix(p)
}

fn prefixes(states: &[TicketState], sort_code: u8, dims: &[Dim]) -> Vec<Prefix> {
    let mut out = Vec::new();
    for s in states {
        for d in dims {
            out.push(prefix(*s, sort_code, d));
        }
    }
    out
}

/// The ticket number at the end of a key.
fn number_of(key: &Key) -> u64 {
    let mut num = [0u8; 8];
    num[3..].copy_from_slice(&key[11..]);
    u64::from_be_bytes(num)
}

/// The time (ms) in a key.
fn ts_of(key: &Key) -> u64 {
    let mut ts = [0u8; 8];
    ts[2..].copy_from_slice(&key[5..11]);
    u64::from_be_bytes(ts)
}

/// Up to this many tickets of a dimension are loaded and sorted by creation time directly.
const SMALL_DIMENSION_MAX: usize = 2_000;

fn ts(ms: Millis) -> u64 {
    ms.max(0) as u64
}

fn keys(t: &Ticket) -> BTreeSet<Key> {
    let mut out = BTreeSet::new();
    let updated = dims(t).into_iter().map(|d| (1u8, t.updated_at, d));
    let created = created_dims(t).into_iter().map(|d| (2u8, t.created_at, d));
    for (sort_code, at, dim) in updated.chain(created) {
        out.insert(prefix(t.state, sort_code, &dim).key(ts(at), t.number));
    }
    if let (TicketState::Open, Some(since)) = (t.state, t.waiting_since) {
        out.insert(prefix(t.state, WAITING, &Dim::Waiting(t.account_id)).key(ts(since), t.number));
    }
    out
}

/// Up to this many SLA-breached candidates are loaded and sorted directly; more means matches
/// are dense and the ordinary scan finds a page quickly.
const BREACHED_CANDIDATES_MAX: usize = 2_000;

/// Open tickets waiting longer than their account's SLA, from the waiting-time keys; None
/// when there are too many to be worth listing this way.
fn breached_candidates(
    index: &impl ReadableTable<Key, ()>,
    accounts: &[(u64, Option<&SlaClock>)],
    now: Millis,
) -> AppResult<Option<HashSet<u64>>> {
    let mut out = HashSet::new();
    for (account, sla) in accounts {
        // Waiting since at most the cutoff may be past the target (each is checked after).
        let Some(cutoff) = sla.and_then(|s| s.cutoff(now)) else {
            continue;
        };
        let p = prefix(TicketState::Open, WAITING, &Dim::Waiting(*account));
        let (lo, hi) = (p.key(0, 0), p.key(ts(cutoff.saturating_add(1)), 0));
        for row in index.range(lo..hi)? {
            let (k, _) = row?;
            out.insert(number_of(&k.value()));
            if out.len() > BREACHED_CANDIDATES_MAX {
                return Ok(None);
            }
        }
    }
    Ok(Some(out))
}

/// The open tickets of `account` that wait for an answer (its waiting-time keys), to arm their
/// SLA timers again when its policy changes.
pub fn waiting_on_account(txn: &redb::WriteTransaction, account: u64) -> AppResult<Vec<Ticket>> {
    let index = txn.open_table(super::tables::TICKET_KEYS)?;
    let tickets = txn.open_table(super::tables::NUMBER_TO_TICKET)?;
    let (lo, hi) = prefix(TicketState::Open, WAITING, &Dim::Waiting(account)).range();
    let mut out = Vec::new();
    for row in index.range(lo..=hi)? {
        let (k, _) = row?;
        if let Some(t) = codec::get::<Ticket>(&tickets, number_of(&k.value()))? {
            out.push(t);
        }
    }
    Ok(out)
}

/// Brings the index from `old` to `new` (either may be absent), touching only changed keys.
pub fn update(
    index: &mut Table<Key, ()>,
    old: Option<&Ticket>,
    new: Option<&Ticket>,
) -> AppResult<()> {
    let old_keys = old.map(keys).unwrap_or_default();
    let new_keys = new.map(keys).unwrap_or_default();
    for k in old_keys.difference(&new_keys) {
        index.remove(k)?;
    }
    for k in new_keys.difference(&old_keys) {
        index.insert(k, ())?;
    }
    Ok(())
}

/// A ticket list request, already validated.
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    /// Empty = every state.
    pub states: Vec<TicketState>,
    pub accounts: Option<Vec<u64>>,
    pub channels: Option<Vec<Channel>>,
    /// Some(None) = unassigned.
    pub assignee: Option<Option<u64>>,
    pub team: Option<Option<u64>>,
    pub label: Option<u64>,
    /// A typification and the value wanted (field id, value).
    pub field: Option<(String, String)>,
    pub important: Option<bool>,
    pub answered: Option<bool>,
    pub sla_breached: Option<bool>,
    pub created_from: Option<Millis>,
    pub created_to: Option<Millis>,
    pub updated_from: Option<Millis>,
    pub updated_to: Option<Millis>,
    /// Restricts to these ticket numbers (a text search's hits).
    pub numbers: Option<HashSet<u64>>,
    /// An agent's enabled accounts; None = sees all.
    pub visible_accounts: Option<HashSet<u64>>,
    pub sort: Option<Sort>,
    /// (time, number) of the last item of the previous page.
    pub after: Option<(Millis, u64)>,
    pub limit: usize,
}

impl TicketQuery {
    fn sort(&self) -> Sort {
        self.sort.unwrap_or(Sort::UpdatedDesc)
    }

    /// The accounts the list may show: the filter intersected with what the user may see.
    fn effective_accounts(&self) -> Option<Vec<u64>> {
        match (&self.accounts, &self.visible_accounts) {
            (None, None) => None,
            (Some(a), None) => Some(a.clone()),
            (None, Some(v)) => {
                let mut v: Vec<u64> = v.iter().copied().collect();
                v.sort_unstable();
                Some(v)
            }
            (Some(a), Some(v)) => Some(a.iter().copied().filter(|x| v.contains(x)).collect()),
        }
    }

    fn states(&self) -> Vec<TicketState> {
        if self.states.is_empty() {
            TicketState::ALL.to_vec()
        } else {
            self.states.clone()
        }
    }

    /// The most selective dimension the filters name (several for several accounts or
    /// channels, or for an assignee: theirs on each account). `every` is every account's id,
    /// for a list by assignee that names no account.
    fn dims(&self, every: &[u64]) -> Vec<Dim> {
        let accounts = self.effective_accounts();
        let on_each = |accs: &[u64], who: Option<u64>| {
            accs.iter()
                .map(|a| Dim::AccountAssignee(*a, who.unwrap_or(0)))
                .collect()
        };
        match (&accounts, &self.assignee) {
            (Some(accs), Some(who)) => on_each(accs, *who),
            _ => {
                if let Some((f, v)) = &self.field {
                    vec![Dim::Field(crate::domain::fields::value_hash(f, v))]
                } else if let Some(l) = self.label {
                    vec![Dim::Label(l)]
                } else if let Some(Some(t)) = self.team {
                    vec![Dim::Team(t)]
                } else if let Some(who) = self.assignee {
                    on_each(every, who)
                } else if let Some(accs) = &accounts {
                    accs.iter().map(|a| Dim::Account(*a)).collect()
                } else if let Some(true) = self.important {
                    vec![Dim::Important(true)]
                } else if let Some(b) = self.answered {
                    vec![Dim::Answered(b)]
                } else {
                    vec![Dim::All]
                }
            }
        }
    }

    /// Picks the scans, per state: the chosen dimensions in the requested order when they
    /// have keys in it; by creation time otherwise the assignee's on each account, the
    /// account's (or all) keys, with the filters checked on each record.
    fn plan(&self, every: &[u64]) -> Vec<Prefix> {
        let sort_code = self.sort().code();
        let mut dims = self.dims(every);
        if sort_code == 2 && !dims.iter().all(Dim::has_created_keys) {
            let accounts = self.effective_accounts();
            dims = match (self.assignee, accounts) {
                (Some(who), accs) => accs
                    .as_deref()
                    .unwrap_or(every)
                    .iter()
                    .map(|a| Dim::AccountAssignee(*a, who.unwrap_or(0)))
                    .collect(),
                (None, Some(accs)) => accs.into_iter().map(Dim::Account).collect(),
                (None, None) => vec![Dim::All],
            };
        }
        // Accounts 4,096 apart share a prefix (12 bits of the account): scanned once, a ticket
        // is listed once.
        let mut out = prefixes(&self.states(), sort_code, &dims);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// For a list by creation time over a dimension without creation-time keys: the
    /// dimension's tickets from its update-time keys, or None when it holds more than
    /// `SMALL_DIMENSION_MAX` (then `plan` walks the creation-time keys instead).
    fn small_dimension(
        &self,
        index: &impl ReadableTable<Key, ()>,
        every: &[u64],
    ) -> AppResult<Option<HashSet<u64>>> {
        let dims = self.dims(every);
        if self.sort().code() != 2 || dims.iter().all(Dim::has_created_keys) {
            return Ok(None);
        }
        let mut out = HashSet::new();
        for p in prefixes(&self.states(), 1, &dims) {
            let (first, last) = p.range();
            for row in index.range(first..=last)? {
                let (k, _) = row?;
                out.insert(number_of(&k.value()));
                if out.len() > SMALL_DIMENSION_MAX {
                    return Ok(None);
                }
            }
        }
        Ok(Some(out))
    }

    /// Checks every filter on a loaded record (the scan's dimension is re-checked too, which
    /// is cheap and keeps this the single source of truth).
    pub fn matches(&self, t: &Ticket, sla: &HashMap<u64, Option<SlaClock>>, now: Millis) -> bool {
        if !self.states.is_empty() && !self.states.contains(&t.state) {
            return false;
        }
        if let Some(v) = &self.visible_accounts {
            if !v.contains(&t.account_id) {
                return false;
            }
        }
        if let Some(a) = &self.accounts {
            if !a.contains(&t.account_id) {
                return false;
            }
        }
        if let Some(c) = &self.channels {
            if !c.contains(&t.channel) {
                return false;
            }
        }
        if let Some(who) = self.assignee {
            if t.assignee_id != who {
                return false;
            }
        }
        if let Some(team) = self.team {
            if t.team_id != team {
                return false;
            }
        }
        if let Some(l) = self.label {
            if !t.labels.contains(&l) {
                return false;
            }
        }
        if let Some(b) = self.important {
            if t.important != b {
                return false;
            }
        }
        if let Some((f, want)) = &self.field {
            if !t
                .fields
                .get(f)
                .is_some_and(|v| crate::domain::fields::value_matches(v, want))
            {
                return false;
            }
        }
        if let Some(b) = self.answered {
            if t.answered != b {
                return false;
            }
        }
        if let Some(b) = self.sla_breached {
            let target = sla.get(&t.account_id).and_then(Option::as_ref);
            if sla_breached(t, target, now) != b {
                return false;
            }
        }
        let within = |ts: Millis, from: Option<Millis>, to: Option<Millis>| {
            from.is_none_or(|f| ts >= f) && to.is_none_or(|x| ts <= x)
        };
        if !within(t.created_at, self.created_from, self.created_to)
            || !within(t.updated_at, self.updated_from, self.updated_to)
        {
            return false;
        }
        if let Some(n) = &self.numbers {
            if !n.contains(&t.number) {
                return false;
            }
        }
        true
    }

    /// Time bounds of the sort field that can narrow the key range.
    fn sort_bounds(&self) -> (Option<Millis>, Option<Millis>) {
        match self.sort().code() {
            1 => (self.updated_from, self.updated_to),
            _ => (self.created_from, self.created_to),
        }
    }
}

/// One page of tickets, and whether more follow.
pub fn list(
    txn: &redb::ReadTransaction,
    q: &TicketQuery,
    now: Millis,
) -> AppResult<(Vec<Ticket>, bool)> {
    list_in(
        &txn.open_table(NUMBER_TO_TICKET)?,
        &txn.open_table(TICKET_KEYS)?,
        &txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?,
        super::sla::ClockTables {
            calendars: &txn.open_table(CALENDAR_ID_TO_CALENDAR)?,
            policies: &txn.open_table(SLA_POLICY_ID_TO_POLICY)?,
            teams: &txn.open_table(TEAM_ID_TO_TEAM)?,
        },
        q,
        now,
    )
}

/// `list` over tables of either a read or a write transaction.
pub fn list_in(
    tickets: &impl ReadableTable<u64, &'static [u8]>,
    index: &impl ReadableTable<Key, ()>,
    accounts: &impl ReadableTable<u64, &'static [u8]>,
    clocks: super::sla::ClockTables<'_, impl ReadableTable<u64, &'static [u8]>>,
    q: &TicketQuery,
    now: Millis,
) -> AppResult<(Vec<Ticket>, bool)> {
    // The index has no channel keys: a list by channel scans the channel's accounts (an
    // account keeps its channel, and deleted ones keep their tickets).
    let by_channel = matches!((&q.channels, &q.accounts), (Some(_), None));
    // Decoded once for both uses (a small table).
    let all_accounts = if by_channel || q.sla_breached.is_some() {
        codec::all::<Account>(accounts)?
    } else {
        Vec::new()
    };
    let with_accounts;
    let q = match &q.channels {
        Some(channels) if by_channel => {
            let mut with = q.clone();
            with.accounts = Some(
                all_accounts
                    .iter()
                    .filter(|a| channels.contains(&a.kind))
                    .map(|a| a.id)
                    .collect(),
            );
            with_accounts = with;
            &with_accounts
        }
        _ => q,
    };
    let sla: HashMap<u64, Option<SlaClock>> = if q.sla_breached.is_some() {
        let mut m = HashMap::new();
        for a in &all_accounts {
            m.insert(a.id, super::sla::clock(a, clocks)?);
        }
        m
    } else {
        HashMap::new()
    };
    let limit = q.limit.max(1);
    // A list by assignee over no named account scans the assignee's keys on every account.
    let mut every = Vec::new();
    if q.assignee.is_some() && q.effective_accounts().is_none() {
        for row in accounts.iter()? {
            every.push(row?.0.value());
        }
    }

    // Few SLA-breached tickets: the waiting-time keys name them (a scan would walk every
    // open ticket to find none).
    let breached = match (q.sla_breached, &q.numbers) {
        (Some(true), None) => {
            let accs: Vec<(u64, Option<&SlaClock>)> = match q.effective_accounts() {
                Some(list) => list
                    .iter()
                    .map(|a| (*a, sla.get(a).and_then(Option::as_ref)))
                    .collect(),
                None => sla.iter().map(|(a, m)| (*a, m.as_ref())).collect(),
            };
            breached_candidates(index, &accs, now)?
        }
        _ => None,
    };
    let small = match (&q.numbers, &breached) {
        (None, None) => q.small_dimension(index, &every)?,
        _ => None,
    };
    // A text search, the SLA keys or a small dimension already named the candidates: load,
    // filter and sort those few.
    if let Some(numbers) = q.numbers.as_ref().or(breached.as_ref()).or(small.as_ref()) {
        let mut found = Vec::new();
        for n in numbers {
            if let Some(t) = codec::get::<Ticket>(tickets, *n)? {
                if q.matches(&t, &sla, now) && after_cursor(q, &t) {
                    found.push(t);
                }
            }
        }
        let sort = q.sort();
        found.sort_by_key(|t| (sort.time_of(t), t.number));
        if sort.descending() {
            found.reverse();
        }
        let more = found.len() > limit;
        found.truncate(limit);
        return Ok((found, more));
    }

    let desc = q.sort().descending();
    let (from, to) = q.sort_bounds();
    let mut streams = Vec::new();
    for p in q.plan(&every) {
        let mut lo = p.key(ts(from.unwrap_or(0)), 0);
        let mut hi = p.key(to.map_or(TS_MAX, |t| ts(t.saturating_add(1))), 0);
        if let Some((at, n)) = q.after {
            if desc {
                // Before the last item shown, unless `to` ends the range earlier.
                if to.is_none_or(|t| t >= at) {
                    hi = p.key(ts(at), n);
                }
            } else {
                let start = p.key(ts(at), n.saturating_add(1));
                if start > lo {
                    lo = start;
                }
            }
        }
        if lo >= hi {
            continue;
        }
        let range = index.range(lo..hi)?;
        let iter: Box<dyn Iterator<Item = _>> = if desc {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        streams.push(iter.map(|row| {
            row.map(|(k, _)| {
                let k = k.value();
                (ts_of(&k), number_of(&k))
            })
        }));
    }
    let mut heads: Vec<Option<(u64, u64)>> = Vec::with_capacity(streams.len());
    for s in streams.iter_mut() {
        heads.push(s.next().transpose()?);
    }
    let mut out = Vec::with_capacity(limit.min(256) + 1);
    loop {
        // Pick the next key across the merged scans.
        let mut best: Option<usize> = None;
        for (i, h) in heads.iter().enumerate() {
            if let Some(h) = h {
                let better = match best.and_then(|b| heads[b]) {
                    None => true,
                    Some(cur) => {
                        if desc {
                            *h > cur
                        } else {
                            *h < cur
                        }
                    }
                };
                if better {
                    best = Some(i);
                }
            }
        }
        let Some(i) = best else { break };
        let Some((_, number)) = heads[i] else { break };
        heads[i] = streams[i].next().transpose()?;
        if let Some(t) = codec::get::<Ticket>(tickets, number)? {
            if q.matches(&t, &sla, now) {
                out.push(t);
                if out.len() > limit {
                    break;
                }
            }
        }
    }
    let more = out.len() > limit;
    out.truncate(limit);
    Ok((out, more))
}

fn after_cursor(q: &TicketQuery, t: &Ticket) -> bool {
    match q.after {
        None => true,
        Some((ts, n)) => {
            let key = (q.sort().time_of(t), t.number);
            if q.sort().descending() {
                key < (ts, n)
            } else {
                key > (ts, n)
            }
        }
    }
}

/// Rebuilds the whole index from the ticket records (migration, repair).
pub fn rebuild(txn: &redb::WriteTransaction) -> AppResult<u64> {
    let tickets = txn.open_table(NUMBER_TO_TICKET)?;
    let mut index = txn.open_table(TICKET_KEYS)?;
    index.retain(|_, _| false)?;
    let mut n = 0;
    for row in tickets.iter()? {
        let (_, v) = row?;
        let t: Ticket = codec::decode(v.value())?;
        update(&mut index, None, Some(&t))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
// Tests build their fixtures with their own transactions.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use redb::ReadableDatabase;

    #[test]
    fn key_layout_orders_by_time_then_number() {
        let mut a = crate::domain::ticket::plain_ticket(2, (1, Channel::Email), 1, 100);
        let ka = keys(&a);
        a.updated_at = 200;
        let kb = keys(&a);
        let p = prefix(TicketState::Open, 1, &Dim::Account(1));
        assert!(p.key(100, 2) < p.key(100, 3) && p.key(100, 3) < p.key(200, 1));
        assert!(p.range().1 < prefix(TicketState::Open, 1, &Dim::Account(2)).range().0);
        assert!(
            prefix(TicketState::Open, 3, &Dim::Waiting(9)).range().1
                < prefix(TicketState::Closed, 1, &Dim::All).range().0,
            "state first, then sort, then dimension"
        );
        let k = p.key(1_700_000_000_123, 987_654);
        assert_eq!((ts_of(&k), number_of(&k)), (1_700_000_000_123, 987_654));
        assert_eq!(ka.len(), kb.len());
        assert_eq!(ka.len(), 7, "4 dimensions by update, 3 by creation");
        a.labels = vec![3, 3, 4];
        assert_eq!(keys(&a).len(), 9, "duplicate labels index once");
        a.important = true;
        a.team_id = Some(5);
        assert_eq!(keys(&a).len(), 11, "important and a team add a key each");
        a.waiting_since = Some(150);
        assert_eq!(
            keys(&a).len(),
            12,
            "an unanswered open ticket has a waiting-time key"
        );
        a.state = TicketState::Closed;
        assert_eq!(keys(&a).len(), 11, "closed tickets wait for nobody");
    }

    /// Every filter, alone and in pairs, in every order, against the same list computed
    /// by brute force over the records; one label holds more tickets than
    /// `SMALL_DIMENSION_MAX` and another fewer, so lists by creation time take both paths.
    #[test]
    fn lists_equal_a_brute_force_answer() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
        let mut all = Vec::new();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        {
            // Three accounts, each on its own channel: a list by channel scans its accounts.
            let mut accounts = txn.open_table(ACCOUNT_ID_TO_ACCOUNT).unwrap();
            for id in 1..=3u64 {
                let a = Account {
                    id,
                    kind: Channel::ALL[id as usize],
                    name: format!("Cuenta {id}"),
                    settings: Default::default(),
                    created_at: 0,
                    deleted_at: None,
                };
                accounts
                    .insert(id, codec::encode(&a).unwrap().as_slice())
                    .unwrap();
            }
            let mut tickets = txn.open_table(NUMBER_TO_TICKET).unwrap();
            let mut index = txn.open_table(TICKET_KEYS).unwrap();
            for number in 1..=3_000u64 {
                let account = rng.gen_range(1..=3u64);
                let channel = Channel::ALL[account as usize];
                let mut t = crate::domain::ticket::plain_ticket(
                    number,
                    (account, channel),
                    1,
                    rng.gen_range(0..1_000_000),
                );
                t.updated_at = t.created_at + rng.gen_range(0..1_000_000);
                t.state = TicketState::ALL[rng.gen_range(0..3)];
                // Assignee 1 and label 1 are large; the others small.
                t.assignee_id = match rng.gen_range(0..10) {
                    0..=5 => Some(1),
                    6 => Some(2),
                    _ => None,
                };
                t.team_id = (rng.gen_range(0..10) == 0).then_some(9);
                t.labels = match rng.gen_range(0..10) {
                    0..=7 => vec![1],
                    8 => vec![1, 2],
                    _ => vec![],
                };
                t.important = rng.gen_range(0..20) == 0;
                t.answered = rng.gen_bool(0.5);
                tickets
                    .insert(number, codec::encode(&t).unwrap().as_slice())
                    .unwrap();
                update(&mut index, None, Some(&t)).unwrap();
                // Some tickets change after creation: their old keys must go.
                if number % 7 == 0 {
                    let old = t.clone();
                    t.state = TicketState::Closed;
                    t.assignee_id = Some(2);
                    t.updated_at += 5;
                    tickets
                        .insert(number, codec::encode(&t).unwrap().as_slice())
                        .unwrap();
                    update(&mut index, Some(&old), Some(&t)).unwrap();
                }
                all.push(t);
            }
        }
        txn.commit().unwrap();
        let filters: Vec<(&str, TicketQuery)> = vec![
            ("none", TicketQuery::default()),
            (
                "open",
                TicketQuery {
                    states: vec![TicketState::Open],
                    ..Default::default()
                },
            ),
            (
                "account",
                TicketQuery {
                    accounts: Some(vec![2]),
                    ..Default::default()
                },
            ),
            (
                "channel",
                TicketQuery {
                    channels: Some(vec![Channel::ALL[3]]),
                    ..Default::default()
                },
            ),
            (
                "big assignee",
                TicketQuery {
                    assignee: Some(Some(1)),
                    ..Default::default()
                },
            ),
            (
                "small assignee",
                TicketQuery {
                    assignee: Some(Some(2)),
                    ..Default::default()
                },
            ),
            (
                "unassigned",
                TicketQuery {
                    assignee: Some(None),
                    ..Default::default()
                },
            ),
            (
                "team",
                TicketQuery {
                    team: Some(Some(9)),
                    ..Default::default()
                },
            ),
            (
                "no team",
                TicketQuery {
                    team: Some(None),
                    ..Default::default()
                },
            ),
            (
                "big label",
                TicketQuery {
                    label: Some(1),
                    ..Default::default()
                },
            ),
            (
                "big label + assignee",
                TicketQuery {
                    label: Some(1),
                    assignee: Some(Some(2)),
                    ..Default::default()
                },
            ),
            (
                "small label",
                TicketQuery {
                    label: Some(2),
                    ..Default::default()
                },
            ),
            (
                "important",
                TicketQuery {
                    important: Some(true),
                    ..Default::default()
                },
            ),
            (
                "not important",
                TicketQuery {
                    important: Some(false),
                    ..Default::default()
                },
            ),
            (
                "answered",
                TicketQuery {
                    answered: Some(false),
                    ..Default::default()
                },
            ),
            (
                "column",
                TicketQuery {
                    states: vec![TicketState::Open],
                    accounts: Some(vec![1]),
                    assignee: Some(None),
                    ..Default::default()
                },
            ),
            (
                "label + account",
                TicketQuery {
                    label: Some(2),
                    accounts: Some(vec![1, 3]),
                    ..Default::default()
                },
            ),
            (
                "created range",
                TicketQuery {
                    created_from: Some(200_000),
                    created_to: Some(400_000),
                    states: vec![TicketState::Closed],
                    ..Default::default()
                },
            ),
            (
                "visible",
                TicketQuery {
                    visible_accounts: Some([1, 3].into_iter().collect()),
                    answered: Some(true),
                    ..Default::default()
                },
            ),
        ];
        let read = db.begin_read().unwrap();
        for (name, base) in filters {
            for sort in [
                Sort::UpdatedDesc,
                Sort::UpdatedAsc,
                Sort::CreatedDesc,
                Sort::CreatedAsc,
            ] {
                let mut q = base.clone();
                q.sort = Some(sort);
                q.limit = 40;
                let mut expected: Vec<&Ticket> = all
                    .iter()
                    .filter(|t| q.matches(t, &HashMap::new(), 0))
                    .collect();
                expected.sort_by_key(|t| (sort.time_of(t), t.number));
                if sort.descending() {
                    expected.reverse();
                }
                // Two pages: the second follows the first's cursor.
                let (page, more) = list(&read, &q, 0).unwrap();
                let got: Vec<u64> = page.iter().map(|t| t.number).collect();
                let want: Vec<u64> = expected.iter().take(40).map(|t| t.number).collect();
                assert_eq!(got, want, "{name} {sort:?}");
                assert_eq!(more, expected.len() > 40, "{name} {sort:?}");
                if let Some(last) = page.last() {
                    q.after = Some((sort.time_of(last), last.number));
                    let (next, _) = list(&read, &q, 0).unwrap();
                    let got: Vec<u64> = next.iter().map(|t| t.number).collect();
                    let want: Vec<u64> = expected
                        .iter()
                        .skip(40)
                        .take(40)
                        .map(|t| t.number)
                        .collect();
                    assert_eq!(got, want, "{name} {sort:?}, second page");
                }
            }
        }
    }

    #[test]
    fn plan_prefers_account_assignee_for_board_columns() {
        let q = TicketQuery {
            states: vec![TicketState::Open],
            accounts: Some(vec![7]),
            assignee: Some(None),
            ..Default::default()
        };
        let plan = q.plan(&[7, 8]);
        assert_eq!(plan.len(), 1);
        assert_eq!(
            plan[0],
            prefix(TicketState::Open, 1, &Dim::AccountAssignee(7, 0)),
            "account+assignee dimension"
        );
        let agent = TicketQuery {
            visible_accounts: Some([1, 2].into_iter().collect()),
            ..Default::default()
        };
        assert_eq!(agent.plan(&[]).len(), 6, "3 states × 2 visible accounts");
        let mine = TicketQuery {
            states: vec![TicketState::Open],
            assignee: Some(Some(5)),
            sort: Some(Sort::CreatedDesc),
            ..Default::default()
        };
        assert_eq!(
            mine.plan(&[7, 8]),
            vec![
                prefix(TicketState::Open, 2, &Dim::AccountAssignee(7, 5)),
                prefix(TicketState::Open, 2, &Dim::AccountAssignee(8, 5)),
            ],
            "an assignee alone: theirs on every account"
        );
        let twins = TicketQuery {
            states: vec![TicketState::Open],
            accounts: Some(vec![1, 4097]),
            assignee: Some(Some(5)),
            ..Default::default()
        };
        assert_eq!(
            twins.plan(&[]).len(),
            1,
            "accounts 4,096 apart share a prefix: scanned once"
        );
    }
}
