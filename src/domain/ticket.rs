//! Ticket rules (TICK-*), as pure functions over records and a `now`.

use super::clock::{Millis, DAY_MS};
use super::model::*;

/// The most tickets one bulk change touches.
pub const BULK_MAX: usize = 5_000;

/// Where a customer's new message goes (TICK-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Join the customer's open ticket on this account.
    Join(u64),
    /// Open a new ticket; `previous` is the customer's last (closed or ignored) ticket.
    New { previous: Option<u64> },
}

/// A message joins the customer's open ticket on that account; after a close or an ignore
/// (or a merge) it opens a new one.
pub fn route_inbound(last_on_account: Option<&Ticket>) -> Route {
    match last_on_account {
        Some(t) if t.state == TicketState::Open && t.merged_into.is_none() => Route::Join(t.number),
        Some(t) => Route::New {
            previous: Some(t.merged_into.unwrap_or(t.number)),
        },
        None => Route::New { previous: None },
    }
}

pub const EXCERPT_CHARS: usize = 140;

pub fn excerpt(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        flat
    } else {
        let mut s: String = flat.chars().take(EXCERPT_CHARS - 1).collect();
        s.push('…');
        s
    }
}

pub struct NewTicket {
    pub number: u64,
    pub account: (u64, Channel),
    pub contact_id: u64,
    pub public: bool,
    pub influencer: bool,
    pub previous: Option<u64>,
    pub now: Millis,
}

/// A new private ticket from an ordinary customer, opening no thread before it (tests' fixture).
#[cfg(test)]
pub fn plain_ticket(number: u64, account: (u64, Channel), contact_id: u64, now: Millis) -> Ticket {
    new_ticket(NewTicket {
        number,
        account,
        contact_id,
        public: false,
        influencer: false,
        previous: None,
        now,
    })
}

pub fn new_ticket(n: NewTicket) -> Ticket {
    Ticket {
        number: n.number,
        account_id: n.account.0,
        channel: n.account.1,
        contact_id: n.contact_id,
        kind: if n.public {
            TicketKind::Public
        } else {
            TicketKind::Private
        },
        state: TicketState::Open,
        assignee_id: None,
        team_id: None,
        labels: Vec::new(),
        // Influencers' tickets are important automatically (TICK-6).
        important: n.influencer,
        answered: false,
        sentiment_initial: None,
        sentiment_final: None,
        fields: Default::default(),
        created_at: n.now,
        updated_at: n.now,
        closed_at: None,
        waiting_since: None,
        last_inbound_at: None,
        first_response_at: None,
        last_message_excerpt: String::new(),
        subject: None,
        message_count: 0,
        replies: 0,
        merged_into: None,
        previous_number: n.previous,
    }
}

fn mix_kind(kind: TicketKind, public: bool, first: bool) -> TicketKind {
    let this = if public {
        TicketKind::Public
    } else {
        TicketKind::Private
    };
    if first || kind == this {
        this
    } else {
        TicketKind::Both
    }
}

/// A customer message arrived on this ticket: it waits for an answer again.
pub fn apply_inbound(t: &mut Ticket, public: bool, text: &str, at: Millis) {
    t.kind = mix_kind(t.kind, public, t.message_count == 0);
    t.message_count += 1;
    t.answered = false;
    if t.waiting_since.is_none() {
        t.waiting_since = Some(at);
    }
    t.last_inbound_at = Some(t.last_inbound_at.map_or(at, |before| before.max(at)));
    t.last_message_excerpt = excerpt(text);
    t.updated_at = t.updated_at.max(at);
}

/// What an agent's reply changed, for the history tab.
#[derive(Debug, PartialEq, Eq)]
pub struct ReplyEffect {
    /// ASSIGN-5: the ticket moved from this assignee (None = it was unassigned) to the replier.
    pub moved_from: Option<Option<u64>>,
}

/// An agent replied: the ticket is answered, the SLA clock stops, and the ticket moves to the
/// replying agent when someone else held it (ASSIGN-5).
pub fn apply_reply(
    t: &mut Ticket,
    user_id: u64,
    public: bool,
    text: &str,
    at: Millis,
) -> ReplyEffect {
    t.kind = mix_kind(t.kind, public, t.message_count == 0);
    t.message_count += 1;
    t.replies += 1;
    t.answered = true;
    t.waiting_since = None;
    if t.first_response_at.is_none() {
        t.first_response_at = Some(at);
    }
    t.last_message_excerpt = excerpt(text);
    t.updated_at = t.updated_at.max(at);
    let moved_from = if t.assignee_id != Some(user_id) {
        let before = t.assignee_id;
        t.assignee_id = Some(user_id);
        Some(before)
    } else {
        None
    };
    ReplyEffect { moved_from }
}

#[derive(Debug, PartialEq, Eq)]
pub enum StateChangeError {
    /// Only admins and supervisors reopen (TICK-2).
    ReopenNotAllowed,
    /// A merged ticket stays closed; work on the survivor.
    Merged,
}

pub fn change_state(
    t: &mut Ticket,
    to: TicketState,
    role: Role,
    now: Millis,
) -> Result<bool, StateChangeError> {
    if t.state == to {
        return Ok(false);
    }
    if t.merged_into.is_some() {
        return Err(StateChangeError::Merged);
    }
    if to == TicketState::Open && role == Role::Agent {
        return Err(StateChangeError::ReopenNotAllowed);
    }
    // The time was read before the writer ran this change; a customer's message committed
    // in between may carry a later one. A close never reads as before a message it holds
    // (security finding 13): it happens at the ticket's last change at the earliest.
    let at = now.max(t.updated_at);
    t.state = to;
    t.closed_at = if to == TicketState::Open {
        None
    } else {
        Some(at)
    };
    t.updated_at = at;
    Ok(true)
}

/// AUTH-4 / seed 004: deactivating an agent un-assigns their tickets opened in the last
/// 5 days. Closed and ignored tickets keep their assignee so reports stay attributable.
pub fn unassign_on_deactivation(t: &Ticket, user_id: u64, now: Millis) -> bool {
    t.assignee_id == Some(user_id)
        && t.state == TicketState::Open
        && t.created_at >= now - 5 * DAY_MS
}

#[derive(Debug, PartialEq, Eq)]
pub enum MergeError {
    SameTicket,
    DifferentCustomer,
    AlreadyMerged,
}

/// TICK-7: merge `source` into `target` (a ticket of the same customer). Messages and history
/// move in the store; here the two records are reconciled. The survivor stays open if either
/// was open, waits since the earliest unanswered message, and keeps the latest activity.
pub fn merge(
    source: &mut Ticket,
    target: &mut Ticket,
    same_customer: bool,
    now: Millis,
) -> Result<(), MergeError> {
    if source.number == target.number {
        return Err(MergeError::SameTicket);
    }
    if source.merged_into.is_some() || target.merged_into.is_some() {
        return Err(MergeError::AlreadyMerged);
    }
    if !same_customer {
        return Err(MergeError::DifferentCustomer);
    }
    target.message_count += source.message_count;
    if source.state == TicketState::Open {
        target.state = TicketState::Open;
        target.closed_at = None;
    }
    target.waiting_since = match (target.waiting_since, source.waiting_since) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    target.last_inbound_at = target.last_inbound_at.max(source.last_inbound_at);
    target.answered = target.answered && source.answered;
    target.important |= source.important;
    target.replies += source.replies;
    for l in &source.labels {
        if !target.labels.contains(l) {
            target.labels.push(*l);
        }
    }
    if source.updated_at > target.updated_at {
        target.last_message_excerpt = source.last_message_excerpt.clone();
    }
    target.updated_at = now;
    if target.kind != source.kind && source.message_count > 0 {
        target.kind = TicketKind::Both;
    }
    source.merged_into = Some(target.number);
    source.state = TicketState::Closed;
    source.closed_at = Some(now);
    source.message_count = 0;
    source.waiting_since = None;
    source.updated_at = now;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_never_reads_as_before_a_message_it_holds() {
        let mut t = ticket(1, TicketState::Open);
        // The close read the clock at 5,000; a message committed first, stamped 6,000.
        apply_inbound(&mut t, true, "¿sigue abierto?", 6_000);
        assert_eq!(
            change_state(&mut t, TicketState::Closed, Role::Agent, 5_000),
            Ok(true)
        );
        assert!(t.closed_at >= t.last_inbound_at, "{t:?}");
        assert_eq!(t.closed_at, Some(6_000));
    }

    fn ticket(number: u64, state: TicketState) -> Ticket {
        let mut t = new_ticket(NewTicket {
            number,
            account: (1, Channel::Api),
            contact_id: 7,
            public: false,
            influencer: false,
            previous: None,
            now: 1_000,
        });
        t.state = state;
        t
    }

    #[test]
    fn routing_joins_open_and_opens_after_closed_or_ignored() {
        assert_eq!(route_inbound(None), Route::New { previous: None });
        assert_eq!(
            route_inbound(Some(&ticket(4, TicketState::Open))),
            Route::Join(4)
        );
        assert_eq!(
            route_inbound(Some(&ticket(4, TicketState::Closed))),
            Route::New { previous: Some(4) }
        );
        assert_eq!(
            route_inbound(Some(&ticket(4, TicketState::Ignored))),
            Route::New { previous: Some(4) }
        );
        let mut merged = ticket(5, TicketState::Closed);
        merged.merged_into = Some(2);
        assert_eq!(
            route_inbound(Some(&merged)),
            Route::New { previous: Some(2) }
        );
    }

    #[test]
    fn inbound_then_reply_toggles_reply_status_and_sla_clock() {
        let mut t = ticket(1, TicketState::Open);
        apply_inbound(&mut t, false, "hola", 2_000);
        assert!(!t.answered);
        assert_eq!(t.waiting_since, Some(2_000));
        apply_inbound(&mut t, false, "¿hay alguien?", 3_000);
        assert_eq!(
            t.waiting_since,
            Some(2_000),
            "waits since the first unanswered"
        );
        let eff = apply_reply(&mut t, 9, false, "sí", 4_000);
        assert!(t.answered);
        assert_eq!(t.waiting_since, None);
        assert_eq!(t.first_response_at, Some(4_000));
        assert_eq!(eff.moved_from, Some(None));
        assert_eq!(t.assignee_id, Some(9));
        assert_eq!(t.message_count, 3);
    }

    #[test]
    fn reply_by_another_agent_moves_the_ticket() {
        let mut t = ticket(1, TicketState::Open);
        t.assignee_id = Some(3);
        assert_eq!(apply_reply(&mut t, 3, true, "x", 5).moved_from, None);
        assert_eq!(
            apply_reply(&mut t, 4, true, "y", 6).moved_from,
            Some(Some(3))
        );
        assert_eq!(t.assignee_id, Some(4));
    }

    #[test]
    fn kind_becomes_both_when_public_and_private_mix() {
        let mut t = ticket(1, TicketState::Open);
        apply_inbound(&mut t, true, "comentario", 1);
        assert_eq!(t.kind, TicketKind::Public);
        apply_inbound(&mut t, false, "DM", 2);
        assert_eq!(t.kind, TicketKind::Both);
    }

    #[test]
    fn state_changes_and_reopen_rights() {
        let mut t = ticket(1, TicketState::Open);
        assert_eq!(
            change_state(&mut t, TicketState::Closed, Role::Agent, 10_000),
            Ok(true)
        );
        assert_eq!(t.closed_at, Some(10_000));
        assert_eq!(
            change_state(&mut t, TicketState::Open, Role::Agent, 11_000),
            Err(StateChangeError::ReopenNotAllowed)
        );
        assert_eq!(
            change_state(&mut t, TicketState::Open, Role::Admin, 12_000),
            Ok(true)
        );
        assert_eq!(t.closed_at, None);
        assert_eq!(
            change_state(&mut t, TicketState::Open, Role::Admin, 13_000),
            Ok(false)
        );
        assert_eq!(
            change_state(&mut t, TicketState::Ignored, Role::Agent, 14_000),
            Ok(true)
        );
    }

    #[test]
    fn deactivation_unassigns_only_recent_open_tickets_of_that_user() {
        let now = 100 * DAY_MS;
        let mut t = ticket(1, TicketState::Open);
        t.assignee_id = Some(5);
        t.created_at = now - 4 * DAY_MS;
        assert!(unassign_on_deactivation(&t, 5, now));
        assert!(!unassign_on_deactivation(&t, 6, now));
        t.created_at = now - 6 * DAY_MS;
        assert!(!unassign_on_deactivation(&t, 5, now));
        t.created_at = now - DAY_MS;
        t.state = TicketState::Closed;
        assert!(!unassign_on_deactivation(&t, 5, now));
    }

    #[test]
    fn merge_moves_counts_and_points_to_survivor() {
        let mut old = ticket(1, TicketState::Closed);
        old.message_count = 2;
        old.answered = true;
        let mut new = ticket(2, TicketState::Open);
        apply_inbound(&mut new, false, "sigo esperando", 50);
        assert_eq!(merge(&mut new, &mut old, true, 60), Ok(()));
        assert_eq!(new.merged_into, Some(1));
        assert_eq!(new.state, TicketState::Closed);
        assert_eq!(old.state, TicketState::Open);
        assert_eq!(old.message_count, 3);
        assert!(!old.answered);
        assert_eq!(old.waiting_since, Some(50));
        assert_eq!(
            merge(&mut new, &mut old, true, 61),
            Err(MergeError::AlreadyMerged)
        );
        let mut a = ticket(3, TicketState::Open);
        let mut b = ticket(4, TicketState::Open);
        assert_eq!(
            merge(&mut a, &mut b, false, 1),
            Err(MergeError::DifferentCustomer)
        );
        let mut c = ticket(3, TicketState::Open);
        assert_eq!(merge(&mut a, &mut c, true, 1), Err(MergeError::SameTicket));
    }

    #[test]
    fn excerpt_flattens_and_truncates() {
        assert_eq!(excerpt("hola\n\n  mundo"), "hola mundo");
        let long = "á".repeat(300);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS);
        assert!(e.ends_with('…'));
    }
}
