//! The store side of the assignment engine: builds the snapshot `domain::assign::decide`
//! needs, records its decision (ticket, turn, history with the reason), keeps every agent's
//! open/pending load, drains the backlog when someone becomes available, and holds the
//! connection states.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{codec, event, next_id, Effects};
use crate::domain::assign::{self, Candidate, Decision, Policy, Relation, Snapshot};
use crate::domain::*;
use crate::error::{AppError, AppResult};
use crate::store::index::{Sort, TicketQuery};

// ---------- the agent row: load, availability, name ----------

/// What the engine reads about one agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentRow {
    pub open: u32,
    pub pending: u32,
    pub available: bool,
    pub name: String,
}

fn read_agent(
    table: &impl ReadableTable<u64, (u32, u32, bool, &'static str)>,
    user: u64,
) -> AppResult<Option<AgentRow>> {
    Ok(table.get(user)?.map(|g| {
        let (open, pending, available, name) = g.value();
        AgentRow {
            open,
            pending,
            available,
            name: name.to_string(),
        }
    }))
}

type Agents<'t> = redb::Table<'t, u64, (u32, u32, bool, &'static str)>;

fn put_agent(agents: &mut Agents, user: u64, row: &AgentRow) -> AppResult<()> {
    agents.insert(
        user,
        (row.open, row.pending, row.available, row.name.as_str()),
    )?;
    Ok(())
}

fn write_agent(txn: &WriteTransaction, user: u64, row: &AgentRow) -> AppResult<()> {
    put_agent(&mut txn.open_table(USER_TO_AGENT)?, user, row)
}

fn load_of(t: &Ticket) -> Option<(u64, u32, u32)> {
    let user = t.assignee_id?;
    t.is_open_load()
        .then(|| (user, 1, u32::from(t.is_pending_load())))
}

fn add_load(txn: &WriteTransaction, user: u64, open: i64, pending: i64) -> AppResult<()> {
    // One open for the read and the write: on the ingest path an open costs more than both.
    let mut agents = txn.open_table(USER_TO_AGENT)?;
    let mut row = read_agent(&agents, user)?.unwrap_or_default();
    let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    row.open = clamp(i64::from(row.open) + open);
    row.pending = clamp(i64::from(row.pending) + pending);
    put_agent(&mut agents, user, &row)
}

/// Keeps the agents' open/pending counts true as a ticket changes (called by `tickets::save`).
pub fn update_load(txn: &WriteTransaction, old: Option<&Ticket>, new: &Ticket) -> AppResult<()> {
    let before = old.and_then(load_of);
    let after = load_of(new);
    if before == after {
        return Ok(());
    }
    if let Some((u, o, p)) = before {
        add_load(txn, u, -i64::from(o), -i64::from(p))?;
    }
    if let Some((u, o, p)) = after {
        add_load(txn, u, i64::from(o), i64::from(p))?;
    }
    Ok(())
}

/// Refreshes a user's availability and name in their agent row (called by `users::put`).
pub fn refresh_agent(txn: &WriteTransaction, user: &User) -> AppResult<()> {
    let states = states_w(txn)?;
    let mut row = read_agent(&txn.open_table(USER_TO_AGENT)?, user.id)?.unwrap_or_default();
    let available = user.active && assignable(&states, user.connection_state.as_deref());
    if row.available == available && row.name == user.name {
        return Ok(());
    }
    row.available = available;
    row.name = user.name.clone();
    write_agent(txn, user.id, &row)
}

/// Fills `assignment_by_account` from `assignment` (migration 3→4).
pub fn rebuild_modes_by_account(txn: &WriteTransaction) -> AppResult<()> {
    let mut rows = Vec::new();
    for row in txn.open_table(USER_ACCOUNT_TO_MODE)?.iter()? {
        let (k, v) = row?;
        rows.push((k.value(), v.value()));
    }
    let mut by_account = txn.open_table(ACCOUNT_USER_TO_MODE)?;
    for ((user, account), mode) in rows {
        by_account.insert((account, user), mode)?;
    }
    Ok(())
}

/// Builds every agent row from the users and tickets (migration 3→4). Returns how many.
pub fn rebuild_loads(txn: &WriteTransaction) -> AppResult<usize> {
    let mut loads: std::collections::BTreeMap<u64, (u32, u32)> = Default::default();
    for row in txn.open_table(NUMBER_TO_TICKET)?.iter()? {
        let (_, bytes) = row?;
        let t: Ticket = codec::decode(bytes.value())?;
        if let Some((u, o, p)) = load_of(&t) {
            let e = loads.entry(u).or_default();
            e.0 += o;
            e.1 += p;
        }
    }
    let users: Vec<User> = codec::all(&txn.open_table(USER_ID_TO_USER)?)?;
    let states = states_w(txn)?;
    for u in &users {
        let (open, pending) = loads.remove(&u.id).unwrap_or((0, 0));
        let row = AgentRow {
            open,
            pending,
            available: u.active && assignable(&states, u.connection_state.as_deref()),
            name: u.name.clone(),
        };
        write_agent(txn, u.id, &row)?;
    }
    // Assignees without a user record still count, should the record come back.
    for (id, (open, pending)) in loads {
        let row = AgentRow {
            open,
            pending,
            ..AgentRow::default()
        };
        write_agent(txn, id, &row)?;
    }
    Ok(users.len())
}

/// (open, pending) tickets of a user.
pub fn load(txn: &ReadTransaction, user: u64) -> AppResult<(u32, u32)> {
    Ok(read_agent(&txn.open_table(USER_TO_AGENT)?, user)?
        .map(|r| (r.open, r.pending))
        .unwrap_or((0, 0)))
}

// ---------- connection states ----------

pub const DEFAULT_STATES: [(&str, bool); 4] = [
    ("Conectado", true),
    ("Colación", false), // i18n-ok: seed 001's state names, data the admin renames
    ("Reunión", false),  // i18n-ok: as above
    ("Desconectado", false),
];

/// Adds the default states and settings to a store that has none (new or migrated).
pub fn seed_states(txn: &WriteTransaction) -> AppResult<()> {
    if txn.open_table(STATE_ID_TO_STATE)?.iter()?.next().is_some() {
        return Ok(());
    }
    for (name, assignable) in DEFAULT_STATES {
        let s = ConnectionState {
            id: next_id(txn, "connection_state")?,
            name: name.into(),
            assignable,
        };
        txn.open_table(STATE_ID_TO_STATE)?
            .insert(s.id, codec::encode(&s)?.as_slice())?;
    }
    put_settings(
        txn,
        &ConnectionSettings {
            on_sign_in: Some("Conectado".into()),
            on_sign_out: Some("Desconectado".into()),
            idle_minutes: None,
            idle_state: None,
        },
    )
}

pub fn states(txn: &ReadTransaction) -> AppResult<Vec<ConnectionState>> {
    codec::all(&txn.open_table(STATE_ID_TO_STATE)?)
}

pub fn states_w(txn: &WriteTransaction) -> AppResult<Vec<ConnectionState>> {
    codec::all(&txn.open_table(STATE_ID_TO_STATE)?)
}

pub fn put_state(txn: &WriteTransaction, s: &ConnectionState) -> AppResult<()> {
    txn.open_table(STATE_ID_TO_STATE)?
        .insert(s.id, codec::encode(s)?.as_slice())?;
    Ok(())
}

pub fn delete_state(txn: &WriteTransaction, id: u64) -> AppResult<()> {
    txn.open_table(STATE_ID_TO_STATE)?.remove(id)?;
    Ok(())
}

/// Is a user with this state name available for tickets?
fn assignable(states: &[ConnectionState], name: Option<&str>) -> bool {
    name.is_some_and(|n| {
        states
            .iter()
            .any(|s| s.assignable && s.name.eq_ignore_ascii_case(n))
    })
}

pub fn find_state<'a>(states: &'a [ConnectionState], name: &str) -> Option<&'a ConnectionState> {
    states.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

const SETTINGS_KEY: &str = "connection_settings";

fn settings_in(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> AppResult<ConnectionSettings> {
    match meta.get(SETTINGS_KEY)? {
        Some(g) => codec::decode(g.value()),
        None => Ok(ConnectionSettings::default()),
    }
}

pub fn settings(txn: &ReadTransaction) -> AppResult<ConnectionSettings> {
    settings_in(&txn.open_table(META)?)
}

pub fn settings_w(txn: &WriteTransaction) -> AppResult<ConnectionSettings> {
    settings_in(&txn.open_table(META)?)
}

pub fn put_settings(txn: &WriteTransaction, s: &ConnectionSettings) -> AppResult<()> {
    txn.open_table(META)?
        .insert(SETTINGS_KEY, codec::encode(s)?.as_slice())?;
    Ok(())
}

/// Sets a user's connection state (a name that exists) and, when it makes them available,
/// hands them the waiting backlog of their accounts. Returns the tickets assigned.
pub fn set_user_state(
    txn: &WriteTransaction,
    fx: &mut Effects,
    user_id: u64,
    name: &str,
    now: Millis,
) -> AppResult<(User, usize)> {
    let all = states_w(txn)?;
    let state = find_state(&all, name).ok_or_else(|| {
        AppError::invalid(
            "state",
            "unknown_state",
            format!("there is no connection state `{name}`"),
        )
    })?;
    let before = super::users::get_w(txn, user_id)?.ok_or_else(|| AppError::not_found("user"))?;
    let mut after = before.clone();
    after.connection_state = Some(state.name.clone());
    if before.connection_state == after.connection_state {
        return Ok((after, 0));
    }
    super::users::update(txn, fx, &before, &after)?;
    super::report::state_changed(txn, user_id, Some(&state.name), now)?;
    let mut e = event(EventKind::PresenceChanged);
    e.user_id = Some(user_id);
    fx.emit(e);
    let drained = if state.assignable {
        let accounts: Vec<u64> = super::accounts::modes_of_user_w(txn, user_id)?
            .into_iter()
            .filter(|(_, m)| *m == AssignMode::Auto)
            .map(|(a, _)| a)
            .collect();
        drain(txn, fx, &accounts, now)?
    } else {
        0
    };
    Ok((after, drained))
}

// ---------- decisions ----------

/// The account's `settings.assignment`, or the defaults.
pub fn policy_of(account: &Account) -> Policy {
    account
        .settings
        .get("assignment")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// The rotation turns, open for one decision: read with the candidates, written by its
/// outcome (each table is opened once per decision — an open costs the writer more than a
/// row read).
type Turns<'t> = redb::Table<'t, (u64, u64), u64>;

/// Everyone enabled on the account (or, for a team, the team's members enabled on it).
fn candidates(
    txn: &WriteTransaction,
    turns: &Turns,
    rotation_key: u64,
    account_id: u64,
    members: Option<&[u64]>,
) -> AppResult<Vec<Candidate>> {
    let mut enabled = Vec::new();
    for row in txn
        .open_table(ACCOUNT_USER_TO_MODE)?
        .range((account_id, 0)..=(account_id, u64::MAX))?
    {
        let (key, mode) = row?;
        let (_, user_id) = key.value();
        let mode = AssignMode::from_code(mode.value());
        if mode != AssignMode::Disabled && members.is_none_or(|m| m.contains(&user_id)) {
            enabled.push((user_id, mode));
        }
    }
    if enabled.is_empty() {
        return Ok(Vec::new());
    }
    // One scan for every turn of this rotation instead of a read per candidate.
    let mut last_turns = std::collections::HashMap::new();
    for row in turns.range((rotation_key, 0)..=(rotation_key, u64::MAX))? {
        let (key, turn) = row?;
        last_turns.insert(key.value().1, turn.value());
    }
    let agents = txn.open_table(USER_TO_AGENT)?;
    let mut out = Vec::with_capacity(enabled.len());
    for (user_id, mode) in enabled {
        let Some(agent) = read_agent(&agents, user_id)? else {
            continue;
        };
        out.push(Candidate {
            user_id,
            name: agent.name,
            // In a team every enabled member takes turns (the team is the choice).
            auto: mode == AssignMode::Auto || members.is_some(),
            enabled: true,
            available: agent.available,
            open: agent.open,
            pending: agent.pending,
            last_turn: last_turns.get(&user_id).copied().unwrap_or(0),
        });
    }
    Ok(out)
}

/// Applies a decision to the ticket (not saved here). Returns whether it was assigned, the
/// history action and the reason; the caller writes the history entry.
fn apply(
    turns: &mut Turns,
    ticket: &mut Ticket,
    rotation_key: u64,
    (decision, floor): (Decision, u64),
    now: Millis,
) -> AppResult<(bool, &'static str, Note)> {
    match decision {
        Decision::Assign {
            user_id,
            reason,
            rotation,
        } => {
            ticket.assignee_id = Some(user_id);
            if rotation {
                // Time first, then the ticket number: ordered turns without a sequence write;
                // never below the candidates' latest turn, so a burst in one millisecond (or a
                // ticket number wrapping its low bits) still takes turns.
                let stamp = (u64::try_from(now).unwrap_or(0) << 16) | (ticket.number & 0xFFFF);
                let turn = stamp.max(floor);
                turns.insert((rotation_key, user_id), turn)?;
            }
            Ok((true, "assigned", reason))
        }
        Decision::Unassigned { reason } => Ok((false, "unassigned", reason)),
    }
}

/// One more than the latest turn among the candidates.
fn turn_floor(cands: &[Candidate]) -> u64 {
    cands.iter().map(|c| c.last_turn).max().unwrap_or(0) + 1
}

/// Who may take a ticket: the account's agents, or a team's members on it (rotating on the
/// team's own turns).
struct Pool<'a> {
    rotation_key: u64,
    account_id: u64,
    name: &'a str,
    policy: Policy,
    members: Option<&'a [u64]>,
}

impl<'a> Pool<'a> {
    fn account(account: &'a Account) -> Self {
        Pool {
            rotation_key: account.id,
            account_id: account.id,
            name: &account.name,
            policy: policy_of(account),
            members: None,
        }
    }
}

/// Decides who takes `ticket` from `pool` and applies it to the ticket (not saved here).
fn decide_and_apply(
    txn: &WriteTransaction,
    ticket: &mut Ticket,
    pool: &Pool,
    relation: Option<Relation>,
    now: Millis,
) -> AppResult<(bool, &'static str, Note)> {
    let mut turns = txn.open_table(ACCOUNT_USER_TO_TURN)?;
    let cands = candidates(
        txn,
        &turns,
        pool.rotation_key,
        pool.account_id,
        pool.members,
    )?;
    let decision = assign::decide(&Snapshot {
        account_name: pool.name,
        policy: pool.policy,
        candidates: &cands,
        relation,
        now,
    });
    apply(
        &mut turns,
        ticket,
        pool.rotation_key,
        (decision, turn_floor(&cands)),
        now,
    )
}

/// Chooses an agent for a new ticket of `account`. `relation` is who served this customer
/// last on the account. Returns whether it was assigned and the reason, which the caller
/// records in the ticket's "created" history entry; the caller saves the ticket.
pub fn assign_new(
    txn: &WriteTransaction,
    ticket: &mut Ticket,
    account: &Account,
    relation: Option<Relation>,
    now: Millis,
) -> AppResult<(bool, Note)> {
    let (assigned, _, reason) =
        decide_and_apply(txn, ticket, &Pool::account(account), relation, now)?;
    Ok((assigned, reason))
}

/// Assigns a waiting ticket (backlog), recording only a successful decision in its history
/// (a drain that finds nobody must not add an entry to every waiting ticket each time).
fn assign_waiting(
    txn: &WriteTransaction,
    ticket: &mut Ticket,
    account: &Account,
    now: Millis,
) -> AppResult<bool> {
    let (assigned, action, reason) =
        decide_and_apply(txn, ticket, &Pool::account(account), None, now)?;
    if assigned {
        super::tickets::add_history(txn, ticket.number, None, action, reason, now)?;
    }
    Ok(assigned)
}

/// Round-robin among the members of the ticket's team (ORG-1), recording the decision either
/// way. The caller saves the ticket.
pub fn assign_in_team(
    txn: &WriteTransaction,
    ticket: &mut Ticket,
    team: &Team,
    now: Millis,
) -> AppResult<bool> {
    let Some(account) = super::accounts::get_w(txn, ticket.account_id)? else {
        return Ok(false);
    };
    let name = format!("{} (equipo {})", account.name, team.name);
    let pool = Pool {
        rotation_key: u64::MAX - team.id,
        account_id: account.id,
        name: &name,
        policy: Policy {
            sticky: false,
            ..policy_of(&account)
        },
        members: Some(&team.members),
    };
    let (assigned, action, reason) = decide_and_apply(txn, ticket, &pool, None, now)?;
    super::tickets::add_history(txn, ticket.number, None, action, reason, now)?;
    Ok(assigned)
}

/// Who served the customer of a new ticket last on its account, from their previous ticket.
pub fn relation_of(previous: Option<&Ticket>) -> Option<Relation> {
    let t = previous?;
    Some(Relation {
        user_id: t.assignee_id?,
        served_at: t.closed_at.unwrap_or(t.updated_at),
    })
}

/// Most tickets one drain assigns (the rest wait for the next trigger).
pub const DRAIN_MAX: usize = 200;

/// Assigns waiting unassigned open tickets of these accounts, oldest first, while the engine
/// finds someone (ASSIGN-4). Returns how many were assigned.
pub fn drain(
    txn: &WriteTransaction,
    fx: &mut Effects,
    accounts: &[u64],
    now: Millis,
) -> AppResult<usize> {
    let mut assigned = 0;
    for &account_id in accounts {
        let Some(account) = super::accounts::get_w(txn, account_id)? else {
            continue;
        };
        let q = TicketQuery {
            states: vec![TicketState::Open],
            accounts: Some(vec![account_id]),
            assignee: Some(None),
            team: Some(None),
            sort: Some(Sort::CreatedAsc),
            limit: DRAIN_MAX,
            ..Default::default()
        };
        for before in super::tickets::query_in_write(txn, &q, now)? {
            if assigned >= DRAIN_MAX {
                return Ok(assigned);
            }
            if before.merged_into.is_some() {
                continue;
            }
            let mut t = before.clone();
            if !assign_waiting(txn, &mut t, &account, now)? {
                break;
            }
            super::tickets::save(txn, Some(&before), &t)?;
            let mut e = event(EventKind::TicketUpdated);
            e.ticket_number = Some(t.number);
            e.account_id = Some(t.account_id);
            e.contact_id = Some(t.contact_id);
            fx.emit(e);
            assigned += 1;
        }
    }
    Ok(assigned)
}

// ---------- "why is this agent not receiving tickets?" ----------

pub struct AccountWhy {
    pub account: Account,
    pub mode: AssignMode,
    pub policy: Policy,
}

/// The newest ticket given to a user and the reason recorded for it.
pub struct LastAssignment {
    pub ticket_number: u64,
    pub account_id: u64,
    pub at: Millis,
    pub reason: Note,
}

pub struct Why {
    pub user: User,
    pub state_assignable: bool,
    pub open: u32,
    pub pending: u32,
    pub accounts: Vec<AccountWhy>,
    pub last: Option<LastAssignment>,
}

pub fn why(txn: &ReadTransaction, user_id: u64) -> AppResult<Why> {
    let user = super::users::get(txn, user_id)?.ok_or_else(|| AppError::not_found("user"))?;
    let states = states(txn)?;
    let (open, pending) = load(txn, user_id)?;
    let modes = super::accounts::modes_of_user(txn, user_id)?;
    let mut accounts = Vec::new();
    for account in super::accounts::list(txn)? {
        let mode = modes
            .iter()
            .find(|(a, _)| *a == account.id)
            .map(|(_, m)| *m)
            .unwrap_or(AssignMode::Disabled);
        accounts.push(AccountWhy {
            policy: policy_of(&account),
            mode,
            account,
        });
    }
    // The newest ticket given to them, and the reason the engine recorded for it.
    let newest = super::index::list(
        txn,
        &TicketQuery {
            assignee: Some(Some(user_id)),
            sort: Some(Sort::CreatedDesc),
            limit: 1,
            ..Default::default()
        },
        0,
    )?
    .0;
    let last = match newest.into_iter().next() {
        Some(t) => super::tickets::history(txn, t.number)?
            .into_iter()
            .rev()
            .find_map(|h| {
                let reason = if h.action == "assigned" {
                    Some(h.detail)
                } else {
                    h.decision
                }?;
                Some(LastAssignment {
                    ticket_number: t.number,
                    account_id: t.account_id,
                    at: h.at,
                    reason,
                })
            }),
        None => None,
    };
    Ok(Why {
        state_assignable: user.active && assignable(&states, user.connection_state.as_deref()),
        user,
        open,
        pending,
        accounts,
        last,
    })
}

/// A renamed state keeps its agents; a state that stops being assignable stops assignments,
/// one that becomes assignable drains the backlog of its agents' accounts.
pub fn rename_state(
    txn: &WriteTransaction,
    fx: &mut Effects,
    before: &ConnectionState,
    after: &ConnectionState,
    now: Millis,
) -> AppResult<()> {
    let mut accounts = Vec::new();
    for u in holders(txn, &before.name)? {
        let mut changed = u.clone();
        changed.connection_state = Some(after.name.clone());
        if before.name != after.name {
            super::users::update(txn, fx, &u, &changed)?;
        } else {
            // Only the assignable flag changed: the agent row follows.
            refresh_agent(txn, &changed)?;
        }
        if after.assignable && !before.assignable {
            for (a, m) in super::accounts::modes_of_user_w(txn, u.id)? {
                if m == AssignMode::Auto && !accounts.contains(&a) {
                    accounts.push(a);
                }
            }
        }
    }
    if before.name != after.name {
        let mut settings = settings_w(txn)?;
        for slot in [
            &mut settings.on_sign_in,
            &mut settings.on_sign_out,
            &mut settings.idle_state,
        ] {
            if slot
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&before.name))
            {
                *slot = Some(after.name.clone());
            }
        }
        put_settings(txn, &settings)?;
    }
    if !accounts.is_empty() {
        drain(txn, fx, &accounts, now)?;
    }
    Ok(())
}

/// Users whose state has this name.
pub fn holders(txn: &WriteTransaction, name: &str) -> AppResult<Vec<User>> {
    Ok(codec::all::<User>(&txn.open_table(USER_ID_TO_USER)?)?
        .into_iter()
        .filter(|u| {
            u.connection_state
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .collect())
}

/// After a user's open load dropped (a close, a reassignment…): the backlog of the capped
/// accounts they work on auto may now fit under their cap.
pub fn drain_after_release(
    txn: &WriteTransaction,
    fx: &mut Effects,
    user_id: u64,
    now: Millis,
) -> AppResult<usize> {
    let mut capped = Vec::new();
    for (a, m) in super::accounts::modes_of_user_w(txn, user_id)? {
        if m != AssignMode::Auto {
            continue;
        }
        if let Some(account) = super::accounts::get_w(txn, a)? {
            if policy_of(&account).max_open.is_some() {
                capped.push(a);
            }
        }
    }
    drain(txn, fx, &capped, now)
}

/// The idle change for one agent, re-checked inside the write: an agent who picked another
/// state since the sweep looked is left alone.
pub fn make_idle(
    txn: &WriteTransaction,
    fx: &mut Effects,
    user_id: u64,
    idle_state: &str,
    now: Millis,
) -> AppResult<bool> {
    let states = states_w(txn)?;
    let still_available = super::users::get_w(txn, user_id)?
        .is_some_and(|u| u.active && assignable(&states, u.connection_state.as_deref()));
    if !still_available || find_state(&states, idle_state).is_none() {
        return Ok(false);
    }
    set_user_state(txn, fx, user_id, idle_state, now)?;
    Ok(true)
}
