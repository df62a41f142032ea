//! SLA bookkeeping: an account's clock (its policy and, when the policy counts business hours,
//! its calendar), and the timers of the "about to breach" and "breached" notifications, keyed
//! by due time and kept in step by `tickets::save` in the transaction of each change.

use redb::{ReadableTable, WriteTransaction};

use super::codec;
use super::tables::*;
use crate::domain::calendar::Calendar;
use crate::domain::sla::{SlaClock, SlaPolicy};
use crate::domain::{Account, Millis, Team, Ticket};
use crate::error::AppResult;

/// A timer's kind (the last part of its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    Warn = 1,
    Breach = 2,
}

impl Alarm {
    fn from_code(c: u8) -> Option<Alarm> {
        match c {
            1 => Some(Alarm::Warn),
            2 => Some(Alarm::Breach),
            _ => None,
        }
    }
}

/// The tables an SLA clock is read from.
pub struct ClockTables<'a, T> {
    pub calendars: &'a T,
    pub policies: &'a T,
    pub teams: &'a T,
}

impl<T> Clone for ClockTables<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ClockTables<'_, T> {}

/// The account's answer targets as a clock (SLA-1/SLA-2): its policy, over its calendar (and
/// the calendars of teams with their own hours) when the policy counts business hours (a
/// missing calendar counts every hour).
pub fn clock<T: ReadableTable<u64, &'static [u8]>>(
    a: &Account,
    ClockTables {
        calendars,
        policies,
        teams,
    }: ClockTables<'_, T>,
) -> AppResult<Option<SlaClock>> {
    let Some(policy) = a
        .sla_policy_id()
        .map(|id| codec::get::<SlaPolicy>(policies, id))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    if !policy.business_hours {
        return Ok(Some(policy.clock(None, Default::default())));
    }
    let calendar = match a.calendar_id() {
        Some(id) => codec::get(calendars, id)?,
        None => None,
    };
    let mut own = std::collections::BTreeMap::new();
    for team in codec::all::<Team>(teams)? {
        if let Some(c) = team.calendar_id {
            if let Some(c) = codec::get::<Calendar>(calendars, c)? {
                own.insert(team.id, c);
            }
        }
    }
    Ok(Some(policy.clock(calendar, own)))
}

/// The clock of account `account_id`, read in a write transaction.
pub fn clock_w(txn: &WriteTransaction, account_id: u64) -> AppResult<Option<SlaClock>> {
    let Some(a) = super::accounts::get_w(txn, account_id)? else {
        return Ok(None);
    };
    clock(
        &a,
        ClockTables {
            calendars: &txn.open_table(CALENDAR_ID_TO_CALENDAR)?,
            policies: &txn.open_table(SLA_POLICY_ID_TO_POLICY)?,
            teams: &txn.open_table(TEAM_ID_TO_TEAM)?,
        },
    )
}

/// What decides a ticket's timers: changes elsewhere (labels, an excerpt) leave them be.
fn timing(t: &Ticket) -> (u64, Option<u64>, Option<Millis>, bool, bool) {
    (
        t.account_id,
        t.team_id,
        t.waiting_since,
        t.first_response_at.is_some(),
        t.state == crate::domain::TicketState::Open && t.merged_into.is_none(),
    )
}

/// The timers of `t` under `clock`.
fn timers(t: &Ticket, clock: &SlaClock) -> [Option<(u64, u64, u8)>; 2] {
    let key = |at: Option<Millis>, alarm: Alarm| {
        at.map(|at| (u64::try_from(at).unwrap_or(0), t.number, alarm as u8))
    };
    [
        key(clock.warn_of(t), Alarm::Warn),
        key(clock.due_of(t), Alarm::Breach),
    ]
}

/// Moves the ticket's timers from `old` to `new` when its waiting changed. The clock is read
/// only then (a new waiting period: a new ticket, or the customer writing after a reply).
pub fn update_timers(txn: &WriteTransaction, old: Option<&Ticket>, new: &Ticket) -> AppResult<()> {
    if old.map(timing) == Some(timing(new)) {
        return Ok(());
    }
    let waits = new.waiting_since.is_some() || old.is_some_and(|o| o.waiting_since.is_some());
    if !waits {
        return Ok(());
    }
    let before: Vec<(u64, u64, u8)> = match old {
        Some(old) => match clock_w(txn, old.account_id)? {
            Some(clock) => timers(old, &clock).into_iter().flatten().collect(),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let after: Vec<(u64, u64, u8)> = match clock_w(txn, new.account_id)? {
        Some(clock) => timers(new, &clock).into_iter().flatten().collect(),
        None => Vec::new(),
    };
    // Only what moved: a timer that stays (a change of team under the same hours) is left
    // as it is — pending still, or already rung and not rung again.
    let mut table = txn.open_table(SLA_TIMER)?;
    for k in before.iter().filter(|k| !after.contains(k)) {
        table.remove(*k)?;
    }
    for k in after.iter().filter(|k| !before.contains(k)) {
        table.insert(*k, ())?;
    }
    Ok(())
}

/// A message that arrived late (an import, a vendor's late redelivery, the demo's history)
/// started a waiting period in the past: the timers already due then are not rung — the board
/// shows the ticket late; a bell for every old ticket at once would only be noise.
pub fn drop_past(txn: &WriteTransaction, t: &Ticket, now: Millis) -> AppResult<()> {
    let Some(clock) = clock_w(txn, t.account_id)? else {
        return Ok(());
    };
    let mut table = txn.open_table(SLA_TIMER)?;
    for k in timers(t, &clock).into_iter().flatten() {
        if k.0 as Millis <= now {
            table.remove(k)?;
        }
    }
    Ok(())
}

/// After a policy or a calendar changed: timers for the waiting tickets of `accounts` under
/// their clock now (the old ones are checked and dropped when they come due).
pub fn rearm(txn: &WriteTransaction, accounts: &[u64], now: Millis) -> AppResult<usize> {
    let mut n = 0;
    let mut table = txn.open_table(SLA_TIMER)?;
    for account in accounts {
        let Some(clock) = clock_w(txn, *account)? else {
            continue;
        };
        for t in super::index::waiting_on_account(txn, *account)? {
            // Already past a time under the new clock: the board shows it late, and a change
            // of policy does not ring every old ticket's bell at once.
            for k in timers(&t, &clock).into_iter().flatten() {
                if k.0 as Millis > now {
                    table.insert(k, ())?;
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}

/// What `take_due` took out of the table, and which of those still hold.
pub struct Taken {
    pub taken: usize,
    pub rung: Vec<Due>,
}

/// A timer that came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: Millis,
    pub number: u64,
    pub alarm: Alarm,
}

/// Takes up to `limit` timers due by `now` out of the table, and answers those that still hold:
/// the ticket still waits in the same period and its clock, read now, still says that time.
/// One whose time moved later (a looser policy) is put back at its new time; one that moved
/// earlier was armed again by `rearm` when the policy changed, so the stale one is dropped.
pub fn take_due(txn: &WriteTransaction, now: Millis, limit: usize) -> AppResult<Taken> {
    let mut table = txn.open_table(SLA_TIMER)?;
    let upto = u64::try_from(now).unwrap_or(0);
    let mut keys = Vec::new();
    for row in table
        .range((0, 0, 0)..=(upto, u64::MAX, u8::MAX))?
        .take(limit)
    {
        keys.push(row?.0.value());
    }
    let taken = keys.len();
    let mut out = Vec::new();
    for key in keys {
        table.remove(key)?;
        let (at, number, code) = key;
        let Some(alarm) = Alarm::from_code(code) else {
            continue;
        };
        let Some(t) = super::tickets::get_w(txn, number)? else {
            continue;
        };
        let Some(clock) = clock_w(txn, t.account_id)? else {
            continue;
        };
        let current = timers(&t, &clock)[if alarm == Alarm::Warn { 0 } else { 1 }];
        match current {
            Some(k) if k == key => out.push(Due {
                at: at as Millis,
                number,
                alarm,
            }),
            // Moved later (a looser policy): wait for it there.
            Some(k) if k.0 > upto => {
                table.insert(k, ())?;
            }
            _ => {}
        }
    }
    Ok(Taken { taken, rung: out })
}
