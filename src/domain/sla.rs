//! SLA policies (SLA-1/SLA-2, BEYOND-1): answer targets for the first and the following
//! responses, counted on the clock or only in a calendar's open time. The clock runs only
//! while the customer waits for an answer: after an agent's reply the ticket waits on the
//! customer and the clock is paused until they write again (then the next-response target
//! applies, counted from that message).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::Calendar;
use super::clock::Millis;
use super::model::{Ticket, TicketState};

/// The longest target: one year.
pub const MAX_MINUTES: i64 = 525_600;

/// What share of the target has run when the assignee is warned that it is about to pass.
const WARN_AT_PERCENT: i64 = 80;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct SlaPolicy {
    pub id: u64,
    pub name: String,
    /// Minutes for the first answer to a new ticket.
    pub first_response_minutes: i64,
    /// Minutes for each later answer, from the customer's message that follows an agent's
    /// reply; absent = the first-response target.
    #[serde(default)]
    pub next_response_minutes: Option<i64>,
    /// Count only the open time of the account's calendar (the clock stops while closed).
    #[serde(default)]
    pub business_hours: bool,
}

impl SlaPolicy {
    /// (field, reason) when the policy cannot be used.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let ok = |m: i64| (1..=MAX_MINUTES).contains(&m);
        if !ok(self.first_response_minutes) {
            return Err((
                "first_response_minutes",
                format!("a whole number of minutes from 1 to {MAX_MINUTES} (one year)"),
            ));
        }
        if self.next_response_minutes.is_some_and(|m| !ok(m)) {
            return Err((
                "next_response_minutes",
                format!("a whole number of minutes from 1 to {MAX_MINUTES}, or null"),
            ));
        }
        Ok(())
    }

    /// The policy as a clock over `calendar` (the account's) and `teams` (the calendars of
    /// teams that keep their own hours: a ticket in such a team counts those), read only when
    /// the policy counts business hours; without a calendar every hour counts.
    pub fn clock(&self, calendar: Option<Calendar>, teams: BTreeMap<u64, Calendar>) -> SlaClock {
        let business = self.business_hours;
        SlaClock {
            first_minutes: self.first_response_minutes,
            next_minutes: self
                .next_response_minutes
                .unwrap_or(self.first_response_minutes),
            calendar: calendar.filter(|_| business).map(Arc::new),
            teams: if business {
                Arc::new(teams.into_iter().map(|(k, c)| (k, Arc::new(c))).collect())
            } else {
                Arc::default()
            },
        }
    }
}

/// An account's answer targets as a clock: minutes of waiting, counted on the clock or in a
/// calendar's open time (the account's, or the ticket's team's when it keeps its own).
#[derive(Debug, Clone, PartialEq)]
pub struct SlaClock {
    pub first_minutes: i64,
    pub next_minutes: i64,
    pub calendar: Option<Arc<Calendar>>,
    pub teams: Arc<BTreeMap<u64, Arc<Calendar>>>,
}

impl SlaClock {
    /// The target (minutes) that applies to `t` now: the first response until there is one.
    pub fn minutes_for(&self, t: &Ticket) -> i64 {
        if t.first_response_at.is_none() {
            self.first_minutes
        } else {
            self.next_minutes
        }
    }

    /// The calendar `t` is counted in (None: every hour counts).
    pub fn calendar_for(&self, t: &Ticket) -> Option<&Calendar> {
        t.team_id
            .and_then(|team| self.teams.get(&team))
            .or(self.calendar.as_ref())
            .map(|c| c.as_ref())
    }

    /// `ms` of counted time after `since` (None: never, a calendar that does not open).
    fn after(&self, t: &Ticket, since: Millis, ms: Millis) -> Option<Millis> {
        match self.calendar_for(t) {
            Some(c) => c.add_business(since, ms),
            None => Some(since.saturating_add(ms)),
        }
    }

    /// The latest waiting start that can be past a target at `now`, whatever calendar a
    /// ticket counts in: a list of breached tickets reads the waiting keys up to here and
    /// checks each.
    pub fn cutoff(&self, now: Millis) -> Option<Millis> {
        let ms = self
            .first_minutes
            .min(self.next_minutes)
            .saturating_mul(60_000);
        let of = |c: Option<&Calendar>| match c {
            Some(c) => c.sub_business(now, ms),
            None => Some(now.saturating_sub(ms)),
        };
        std::iter::once(of(self.calendar.as_deref()))
            .chain(self.teams.values().map(|c| of(Some(c))))
            .flatten()
            .max()
    }

    /// When the open ticket `t`, waiting for an answer, is due.
    pub fn due_of(&self, t: &Ticket) -> Option<Millis> {
        let since = waiting(t)?;
        self.after(t, since, self.minutes_for(t).saturating_mul(60_000))
    }

    /// When the assignee of `t` is warned that its target is near (most of it has run).
    pub fn warn_of(&self, t: &Ticket) -> Option<Millis> {
        let since = waiting(t)?;
        let ms = self.minutes_for(t).saturating_mul(60_000) / 100 * WARN_AT_PERCENT;
        self.after(t, since, ms)
    }
}

/// Since when an open ticket waits for an answer (None: answered, closed, merged).
fn waiting(t: &Ticket) -> Option<Millis> {
    match (t.state, t.waiting_since, t.merged_into) {
        (TicketState::Open, Some(since), None) => Some(since),
        _ => None,
    }
}

/// SLA-1: the customer has waited longer than the account's target.
pub fn sla_breached(t: &Ticket, sla: Option<&SlaClock>, now: Millis) -> bool {
    sla.and_then(|s| s.due_of(t)).is_some_and(|due| now > due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::Channel;
    use crate::domain::ticket::{apply_inbound, apply_reply, new_ticket, NewTicket};

    const MIN: Millis = 60_000;
    const HOUR: Millis = 60 * MIN;

    fn ticket(at: Millis) -> Ticket {
        new_ticket(NewTicket {
            number: 1,
            account: (1, Channel::Api),
            contact_id: 1,
            public: false,
            influencer: false,
            previous: None,
            now: at,
        })
    }

    fn policy(first: i64, next: Option<i64>, business_hours: bool) -> SlaPolicy {
        SlaPolicy {
            id: 1,
            name: "p".into(),
            first_response_minutes: first,
            next_response_minutes: next,
            business_hours,
        }
    }

    #[test]
    fn checks_its_targets() {
        assert!(policy(60, None, false).check().is_ok());
        assert_eq!(
            policy(0, None, false).check().unwrap_err().0,
            "first_response_minutes"
        );
        assert_eq!(
            policy(60, Some(MAX_MINUTES + 1), false)
                .check()
                .unwrap_err()
                .0,
            "next_response_minutes"
        );
    }

    #[test]
    fn the_clock_pauses_while_the_ticket_waits_on_the_customer() {
        let clock = policy(60, Some(240), false).clock(None, BTreeMap::new());
        let mut t = ticket(0);
        apply_inbound(&mut t, false, "hola", 0);
        assert_eq!(clock.due_of(&t), Some(HOUR));
        assert_eq!(clock.warn_of(&t), Some(48 * MIN));
        assert!(sla_breached(&t, Some(&clock), HOUR + 1));
        // Answered after 30 minutes: waiting on the customer, no clock at all.
        apply_reply(&mut t, 9, false, "¿su RUT?", 30 * MIN);
        assert_eq!(clock.due_of(&t), None);
        assert!(!sla_breached(&t, Some(&clock), 100 * HOUR));
        // The customer answers two days later: the next-response target counts from there.
        let back = 48 * HOUR;
        apply_inbound(&mut t, false, "12.345.678-5", back);
        assert_eq!(clock.due_of(&t), Some(back + 4 * HOUR));
        assert!(!sla_breached(&t, Some(&clock), back + 3 * HOUR));
        assert!(sla_breached(&t, Some(&clock), back + 4 * HOUR + 1));
        // The list reads waiting keys up to the smaller target's cutoff.
        assert_eq!(clock.cutoff(back + 4 * HOUR), Some(back + 3 * HOUR));
    }

    #[test]
    fn a_policy_changed_mid_ticket_applies_from_then_on() {
        let mut t = ticket(0);
        apply_inbound(&mut t, false, "hola", 0);
        let before = policy(240, None, false).clock(None, BTreeMap::new());
        assert!(!sla_breached(&t, Some(&before), 2 * HOUR));
        // Tightened to one hour: the same ticket, waiting two hours, is now past it.
        let after = policy(60, None, false).clock(None, BTreeMap::new());
        assert!(sla_breached(&t, Some(&after), 2 * HOUR));
    }

    #[test]
    fn a_calendar_time_policy_ignores_the_calendar() {
        let cal = Calendar {
            time_zone: "America/Santiago".into(),
            ..Default::default()
        };
        let teams = || BTreeMap::from([(5, cal.clone())]);
        let clock = policy(60, None, false).clock(Some(cal.clone()), teams());
        assert!(clock.calendar.is_none() && clock.teams.is_empty());
        assert!(policy(60, None, true)
            .clock(Some(cal.clone()), teams())
            .calendar
            .is_some());
    }

    #[test]
    fn a_team_with_its_own_hours_counts_in_them() {
        // The account never opens; the night team is always open.
        let closed = Calendar {
            time_zone: "America/Santiago".into(),
            ..Default::default()
        };
        let mut always = closed.clone();
        for d in crate::domain::calendar::DAYS {
            always
                .week
                .insert(d.into(), vec![["00:00".into(), "24:00".into()]]);
        }
        let clock = policy(60, None, true).clock(Some(closed), BTreeMap::from([(7, always)]));
        let mut t = ticket(0);
        apply_inbound(&mut t, false, "hola", 0);
        assert_eq!(clock.due_of(&t), None, "the account's calendar never opens");
        t.team_id = Some(7);
        assert_eq!(clock.due_of(&t), Some(HOUR));
        // The breached list reads up to the latest cutoff of the two.
        assert_eq!(clock.cutoff(2 * HOUR), Some(HOUR));
    }
}
