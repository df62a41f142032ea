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

/// What the decisions of one group commit read and write — who is enabled on an account, a
/// rotation's turns, the agents' rows — held in memory for the group and written once before
/// its commit, like the sequence cache: a decision then opens no table, where it opened four
/// (an open costs the writer more than the rows it reads). Outside the writer's group each
/// call reads its rows and writes them back at once.
pub(crate) mod group {
    use std::cell::RefCell;
    use std::collections::hash_map::Entry;
    use std::collections::{BTreeSet, HashMap};

    use redb::{ReadableTable, WriteTransaction};

    use super::{put_agent, read_agent, AgentRow};
    use crate::domain::AssignMode;
    use crate::error::AppResult;
    use crate::store::tables::{ACCOUNT_USER_TO_MODE, ACCOUNT_USER_TO_TURN, USER_TO_AGENT};

    #[derive(Default)]
    pub(super) struct Group {
        /// Agent rows as read (None: the user has none) and whether this group changed them.
        agents: HashMap<u64, (Option<AgentRow>, bool)>,
        /// Every turn of each rotation read, with the turns this group gave.
        turns: HashMap<u64, HashMap<u64, u64>>,
        given: BTreeSet<(u64, u64)>,
        /// Who is enabled on each account and how (`set_mode` forgets the account).
        modes: HashMap<u64, Vec<(u64, AssignMode)>>,
    }

    thread_local! {
        static GROUP: RefCell<Option<Group>> = const { RefCell::new(None) };
    }

    pub fn begin() {
        GROUP.with(|g| *g.borrow_mut() = Some(Group::default()));
    }

    pub fn discard() {
        GROUP.with(|g| *g.borrow_mut() = None);
    }

    /// Writes what the group changed and ends it.
    pub fn flush(txn: &WriteTransaction) -> AppResult<()> {
        match GROUP.with(|g| g.borrow_mut().take()) {
            Some(group) => group.write(txn),
            None => Ok(()),
        }
    }

    /// Runs `f` on the writer group's state or, outside a group, on state read for this call
    /// and written back right after. `f` must not call back into this module's users.
    pub(super) fn with<R>(
        txn: &WriteTransaction,
        f: impl FnOnce(&mut Group) -> AppResult<R>,
    ) -> AppResult<R> {
        GROUP.with(|cell| match cell.borrow_mut().as_mut() {
            Some(group) => f(group),
            None => {
                let mut group = Group::default();
                let out = f(&mut group)?;
                group.write(txn)?;
                Ok(out)
            }
        })
    }

    /// The account's enablement changed: read it again when next asked.
    pub(super) fn forget_modes(account_id: Option<u64>) {
        GROUP.with(|cell| {
            if let Some(group) = cell.borrow_mut().as_mut() {
                match account_id {
                    Some(a) => {
                        group.modes.remove(&a);
                    }
                    None => group.modes.clear(),
                }
            }
        });
    }

    impl Group {
        fn write(self, txn: &WriteTransaction) -> AppResult<()> {
            let mut changed = self
                .agents
                .into_iter()
                .filter_map(|(user, (row, dirty))| Some((user, row.filter(|_| dirty)?)))
                .peekable();
            if changed.peek().is_some() {
                let mut table = txn.open_table(USER_TO_AGENT)?;
                for (user, row) in changed {
                    put_agent(&mut table, user, &row)?;
                }
            }
            if !self.given.is_empty() {
                let mut table = txn.open_table(ACCOUNT_USER_TO_TURN)?;
                for (rotation, user) in self.given {
                    if let Some(turn) = self.turns.get(&rotation).and_then(|t| t.get(&user)) {
                        table.insert((rotation, user), *turn)?;
                    }
                }
            }
            Ok(())
        }

        /// Everyone with a mode on the account (disabled ones included).
        pub(super) fn modes(
            &mut self,
            txn: &WriteTransaction,
            account_id: u64,
        ) -> AppResult<&[(u64, AssignMode)]> {
            let rows = match self.modes.entry(account_id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let mut rows = Vec::new();
                    for row in txn
                        .open_table(ACCOUNT_USER_TO_MODE)?
                        .range((account_id, 0)..=(account_id, u64::MAX))?
                    {
                        let (key, mode) = row?;
                        rows.push((key.value().1, AssignMode::from_code(mode.value())));
                    }
                    e.insert(rows)
                }
            };
            Ok(rows)
        }

        /// Every turn of the rotation, by user.
        pub(super) fn turns(
            &mut self,
            txn: &WriteTransaction,
            rotation: u64,
        ) -> AppResult<&HashMap<u64, u64>> {
            Ok(match self.turns.entry(rotation) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    // One scan for every turn of this rotation instead of a read per candidate.
                    let mut turns = HashMap::new();
                    for row in txn
                        .open_table(ACCOUNT_USER_TO_TURN)?
                        .range((rotation, 0)..=(rotation, u64::MAX))?
                    {
                        let (key, turn) = row?;
                        turns.insert(key.value().1, turn.value());
                    }
                    e.insert(turns)
                }
            })
        }

        /// A user's turn in a rotation `turns` read (0: never had one).
        pub(super) fn turn_read(&self, rotation: u64, user: u64) -> u64 {
            self.turns
                .get(&rotation)
                .and_then(|t| t.get(&user))
                .copied()
                .unwrap_or(0)
        }

        pub(super) fn give_turn(
            &mut self,
            txn: &WriteTransaction,
            rotation: u64,
            user: u64,
            turn: u64,
        ) -> AppResult<()> {
            self.turns(txn, rotation)?;
            if let Some(turns) = self.turns.get_mut(&rotation) {
                turns.insert(user, turn);
                self.given.insert((rotation, user));
            }
            Ok(())
        }

        /// Reads the rows of these agents that the group does not hold yet (one table open).
        pub(super) fn load_agents(
            &mut self,
            txn: &WriteTransaction,
            users: impl IntoIterator<Item = u64>,
        ) -> AppResult<()> {
            let mut table = None;
            for user in users {
                if self.agents.contains_key(&user) {
                    continue;
                }
                let table = match &mut table {
                    Some(t) => t,
                    None => table.insert(txn.open_table(USER_TO_AGENT)?),
                };
                self.agents.insert(user, (read_agent(table, user)?, false));
            }
            Ok(())
        }

        /// An agent's row as read (`load_agents` first).
        pub(super) fn agent(&self, user: u64) -> Option<&AgentRow> {
            self.agents.get(&user).and_then(|(row, _)| row.as_ref())
        }

        /// An agent's row to change (a new one when they have none); written at the end.
        pub(super) fn agent_mut(
            &mut self,
            txn: &WriteTransaction,
            user: u64,
        ) -> AppResult<&mut AgentRow> {
            self.load_agents(txn, [user])?;
            let entry = self.agents.entry(user).or_default();
            entry.1 = true;
            Ok(entry.0.get_or_insert_with(AgentRow::default))
        }
    }
}

fn write_agent(txn: &WriteTransaction, user: u64, row: &AgentRow) -> AppResult<()> {
    group::with(txn, |g| {
        *g.agent_mut(txn, user)? = row.clone();
        Ok(())
    })
}

fn load_of(t: &Ticket) -> Option<(u64, u32, u32)> {
    let user = t.assignee_id?;
    t.is_open_load()
        .then(|| (user, 1, u32::from(t.is_pending_load())))
}

fn add_load(txn: &WriteTransaction, user: u64, open: i64, pending: i64) -> AppResult<()> {
    group::with(txn, |g| {
        let row = g.agent_mut(txn, user)?;
        let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        row.open = clamp(i64::from(row.open) + open);
        row.pending = clamp(i64::from(row.pending) + pending);
        Ok(())
    })
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

/// Someone who takes this account's tickets (manual or auto) is in an assignable state now,
/// as the writer's group sees it.
pub fn anyone_available(txn: &WriteTransaction, account_id: u64) -> AppResult<bool> {
    group::with(txn, |g| {
        let modes = g.modes(txn, account_id)?.to_vec();
        // Agent rows are read only for enabled users, and only until one is available.
        any_enabled_available(modes.into_iter().map(Ok), |user| {
            g.load_agents(txn, [user])?;
            Ok(g.agent(user).is_some_and(|a| a.available))
        })
    })
}

/// The one predicate behind "is anyone available on this account": a user whose mode there is
/// not Disabled and whose agent row says available. The writer asks it through its group, the
/// widget's read transactions over the tables.
pub(super) fn any_enabled_available(
    modes: impl IntoIterator<Item = AppResult<(u64, AssignMode)>>,
    mut available: impl FnMut(u64) -> AppResult<bool>,
) -> AppResult<bool> {
    for row in modes {
        let (user, mode) = row?;
        if mode != AssignMode::Disabled && available(user)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Refreshes a user's availability and name in their agent row (called by `users::put`).
pub fn refresh_agent(txn: &WriteTransaction, user: &User) -> AppResult<()> {
    let states = states_w(txn)?;
    let available = user.active && assignable(&states, user.connection_state.as_deref());
    group::with(txn, |g| {
        g.load_agents(txn, [user.id])?;
        if g.agent(user.id)
            .is_some_and(|row| row.available == available && row.name == user.name)
        {
            return Ok(());
        }
        let row = g.agent_mut(txn, user.id)?;
        row.available = available;
        row.name = user.name.clone();
        Ok(())
    })
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
    group::forget_modes(None);
    Ok(())
}

/// Who is enabled on the account changed (`accounts::set_mode`): the group reads it again.
pub fn modes_changed(account_id: u64) {
    group::forget_modes(Some(account_id));
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

/// Everyone enabled on the account (or, for a team, the team's members enabled on it).
fn candidates(
    txn: &WriteTransaction,
    g: &mut group::Group,
    rotation_key: u64,
    account_id: u64,
    members: Option<&[u64]>,
) -> AppResult<Vec<Candidate>> {
    let enabled: Vec<(u64, AssignMode)> = g
        .modes(txn, account_id)?
        .iter()
        .filter(|(user_id, mode)| {
            *mode != AssignMode::Disabled && members.is_none_or(|m| m.contains(user_id))
        })
        .copied()
        .collect();
    if enabled.is_empty() {
        return Ok(Vec::new());
    }
    g.turns(txn, rotation_key)?;
    g.load_agents(txn, enabled.iter().map(|(user_id, _)| *user_id))?;
    let mut out = Vec::with_capacity(enabled.len());
    for (user_id, mode) in enabled {
        let Some(agent) = g.agent(user_id) else {
            continue;
        };
        out.push(Candidate {
            user_id,
            name: agent.name.clone(),
            // In a team every enabled member takes turns (the team is the choice).
            auto: mode == AssignMode::Auto || members.is_some(),
            enabled: true,
            available: agent.available,
            open: agent.open,
            pending: agent.pending,
            last_turn: g.turn_read(rotation_key, user_id),
        });
    }
    Ok(out)
}

/// Applies a decision to the ticket (not saved here). Returns whether it was assigned, the
/// history action and the reason; the caller writes the history entry.
fn apply(
    txn: &WriteTransaction,
    g: &mut group::Group,
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
                g.give_turn(txn, rotation_key, user_id, turn)?;
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
    group::with(txn, |g| {
        let cands = candidates(txn, g, pool.rotation_key, pool.account_id, pool.members)?;
        let decision = assign::decide(&Snapshot {
            account_name: pool.name,
            policy: pool.policy,
            candidates: &cands,
            relation,
            now,
        });
        apply(
            txn,
            g,
            ticket,
            pool.rotation_key,
            (decision, turn_floor(&cands)),
            now,
        )
    })
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

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // the test writes in its own transactions
mod tests {
    use super::*;
    use crate::domain::ticket::plain_ticket;
    use redb::ReadableDatabase;

    type AgentRows = Vec<(u64, (u32, u32, bool, String))>;
    type TurnRows = Vec<((u64, u64), u64)>;

    /// Three agents on auto-assignment; seven new tickets in one transaction, agent 2
    /// disabled after the third, the first ticket closed at the end — inside a writer group
    /// (state in memory, written once) or not. Returns who got each ticket and the tables.
    fn decide_seven(in_group: bool) -> (Vec<Option<u64>>, AgentRows, TurnRows) {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("atiende.redb")).unwrap();
        super::super::migrate::migrate(&db).unwrap();
        let account = Account {
            id: 1,
            kind: Channel::Email,
            name: "Ventas".into(),
            settings: Default::default(),
            created_at: 0,
            deleted_at: None,
        };
        let txn = db.begin_write().unwrap();
        txn.open_table(ACCOUNT_ID_TO_ACCOUNT)
            .unwrap()
            .insert(1, codec::encode(&account).unwrap().as_slice())
            .unwrap();
        for user in 1..=3 {
            let row = AgentRow {
                available: true,
                name: format!("Agente {user}"),
                ..AgentRow::default()
            };
            write_agent(&txn, user, &row).unwrap();
            super::super::accounts::set_mode(&txn, user, 1, AssignMode::Auto).unwrap();
        }
        txn.commit().unwrap();

        let txn = db.begin_write().unwrap();
        if in_group {
            group::begin();
        }
        let mut tickets = Vec::new();
        for number in 1..=7u64 {
            if number == 4 {
                super::super::accounts::set_mode(&txn, 2, 1, AssignMode::Disabled).unwrap();
            }
            let now = 1_000 * number as i64;
            let mut t = plain_ticket(number, (1, Channel::Email), number, now);
            assert!(assign_new(&txn, &mut t, &account, None, now).unwrap().0);
            super::super::tickets::save(&txn, None, &t).unwrap();
            tickets.push(t);
        }
        assert!(anyone_available(&txn, 1).unwrap());
        let mut closed = tickets[0].clone();
        closed.state = TicketState::Closed;
        super::super::tickets::save(&txn, Some(&tickets[0]), &closed).unwrap();
        if in_group {
            group::flush(&txn).unwrap();
        }
        txn.commit().unwrap();

        let r = db.begin_read().unwrap();
        let agents = r
            .open_table(USER_TO_AGENT)
            .unwrap()
            .iter()
            .unwrap()
            .map(|row| {
                let (k, v) = row.unwrap();
                let (open, pending, available, name) = v.value();
                (k.value(), (open, pending, available, name.to_string()))
            })
            .collect();
        let turns = r
            .open_table(ACCOUNT_USER_TO_TURN)
            .unwrap()
            .iter()
            .unwrap()
            .map(|row| {
                let (k, v) = row.unwrap();
                (k.value(), v.value())
            })
            .collect();
        let assignees = tickets.iter().map(|t| t.assignee_id).collect();
        (assignees, agents, turns)
    }

    #[test]
    fn a_writer_group_decides_and_writes_as_one_transaction_without_it_does() {
        let direct = decide_seven(false);
        let grouped = decide_seven(true);
        assert_eq!(grouped, direct);
        // Round-robin over three, then over two once agent 2 is disabled mid-transaction.
        let want: Vec<Option<u64>> = [1, 2, 3, 1, 3, 1, 3].into_iter().map(Some).collect();
        assert_eq!(direct.0, want);
        // Agent 1 took three and one of them closed; the loads were kept in memory and written.
        let open: Vec<(u64, u32)> = direct.1.iter().map(|(u, r)| (*u, r.0)).collect();
        assert_eq!(open, vec![(1, 2), (2, 1), (3, 3)]);
        assert_eq!(direct.2.len(), 3);
    }
}
