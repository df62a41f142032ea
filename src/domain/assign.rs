//! The assignment engine (ASSIGN-*): pure decisions over a snapshot of the candidates, so every
//! rule is testable without a store, a clock or sleeping. The store builds the snapshot, asks
//! `decide`, and records the decision with its reason in the ticket history.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clock::{Millis, DAY_MS};
use super::note::Note;

/// How an account spreads its new tickets among the agents on auto-assignment (ASSIGN-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Equitable: the agent who got a ticket of this account longest ago goes next.
    #[default]
    RoundRobin,
    /// The agent with the fewest open tickets awaiting their reply goes next.
    LeastPending,
}

/// An account's assignment settings (`settings.assignment` of the account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub mode: Mode,
    /// An agent with this many open tickets (all accounts) gets no more automatically.
    #[serde(default)]
    pub max_open: Option<u32>,
    /// ASSIGN-3: a customer returning within 30 days goes back to the agent who served them.
    #[serde(default = "yes")]
    pub sticky: bool,
}

fn yes() -> bool {
    true
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode: Mode::RoundRobin,
            max_open: None,
            sticky: true,
        }
    }
}

pub const STICKY_DAYS: i64 = 30;

/// One agent as the engine sees them for one account.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub user_id: u64,
    pub name: String,
    /// Enabled on the account with auto-assignment (not only manual).
    pub auto: bool,
    /// Enabled on the account at all (manual or auto): enough for the sticky relation.
    pub enabled: bool,
    /// Their connection state is assignable (and they are active).
    pub available: bool,
    /// Open tickets assigned to them, all accounts.
    pub open: u32,
    /// Open tickets assigned to them that await their reply.
    pub pending: u32,
    /// When they last got a ticket of this account by rotation (0 = never): round-robin order.
    pub last_turn: u64,
}

/// Who served this customer last on this account, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relation {
    pub user_id: u64,
    pub served_at: Millis,
}

#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    pub account_name: &'a str,
    pub policy: Policy,
    pub candidates: &'a [Candidate],
    pub relation: Option<Relation>,
    pub now: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// `rotation` is true when the choice used the round-robin turn (so it advances).
    Assign {
        user_id: u64,
        reason: Note,
        rotation: bool,
    },
    Unassigned {
        reason: Note,
    },
}

impl Candidate {
    fn under_cap(&self, policy: &Policy) -> bool {
        policy.max_open.is_none_or(|m| self.open < m)
    }
}

/// Days since `at`, for reasons ("atendió hace 3 días").
fn days_ago(now: Millis, at: Millis) -> i64 {
    ((now - at).max(0)) / DAY_MS
}

pub fn decide(s: &Snapshot) -> Decision {
    let p = &s.policy;
    if p.sticky {
        if let Some(rel) = s.relation {
            if s.now - rel.served_at <= STICKY_DAYS * DAY_MS {
                if let Some(c) = s.candidates.iter().find(|c| c.user_id == rel.user_id) {
                    if c.enabled && c.available && c.under_cap(p) {
                        return Decision::Assign {
                            user_id: c.user_id,
                            reason: Note::AssignedRelationship {
                                agent: c.name.clone(),
                                days: days_ago(s.now, rel.served_at),
                            },
                            rotation: false,
                        };
                    }
                }
            }
        }
    }
    let auto: Vec<&Candidate> = s.candidates.iter().filter(|c| c.auto).collect();
    if auto.is_empty() {
        return Decision::Unassigned {
            reason: Note::NoAutoAssign {
                account: s.account_name.to_string(),
            },
        };
    }
    let available: Vec<&Candidate> = auto.iter().copied().filter(|c| c.available).collect();
    if available.is_empty() {
        return Decision::Unassigned {
            reason: Note::NoAgentAvailable {
                account: s.account_name.to_string(),
            },
        };
    }
    let eligible: Vec<&Candidate> = available
        .iter()
        .copied()
        .filter(|c| c.under_cap(p))
        .collect();
    if eligible.is_empty() {
        return Decision::Unassigned {
            reason: Note::AllAtCap {
                available: available.len() as u64,
                account: s.account_name.to_string(),
                cap: u64::from(p.max_open.unwrap_or(0)),
            },
        };
    }
    // Ties go to whoever waited longest for a turn, then to the lower user id: fair and
    // deterministic.
    let chosen = match p.mode {
        Mode::RoundRobin => eligible.iter().min_by_key(|c| (c.last_turn, c.user_id)),
        Mode::LeastPending => eligible
            .iter()
            .min_by_key(|c| (c.pending, c.last_turn, c.user_id)),
    };
    let Some(c) = chosen else {
        return Decision::Unassigned {
            reason: Note::NoCandidates,
        };
    };
    let reason = match p.mode {
        Mode::RoundRobin => Note::AssignedRoundRobin {
            agent: c.name.clone(),
            candidates: eligible.len() as u64,
        },
        Mode::LeastPending => Note::AssignedLeastPending {
            agent: c.name.clone(),
            pending: u64::from(c.pending),
            candidates: eligible.len() as u64,
        },
    };
    Decision::Assign {
        user_id: c.user_id,
        reason,
        rotation: true,
    }
}

/// One agent as the idle rule sees them.
#[derive(Debug, Clone, Copy)]
pub struct Presence {
    pub user_id: u64,
    pub active: bool,
    /// In an assignable state now.
    pub assignable: bool,
    /// Their last request, if any since `started_at`.
    pub last_activity: Option<Millis>,
}

/// ASSIGN-4: the agents to move to the idle state — active, in an assignable state, and
/// without a request for `minutes` (counting from `started_at` when none was seen, so a
/// restart never sends everyone to lunch at once).
pub fn idle_agents(agents: &[Presence], started_at: Millis, now: Millis, minutes: u32) -> Vec<u64> {
    let limit = now - i64::from(minutes) * 60_000;
    agents
        .iter()
        .filter(|a| a.active && a.assignable && a.last_activity.unwrap_or(started_at) <= limit)
        .map(|a| a.user_id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: u64, last_turn: u64) -> Candidate {
        Candidate {
            user_id: id,
            name: format!("A{id}"),
            auto: true,
            enabled: true,
            available: true,
            open: 0,
            pending: 0,
            last_turn,
        }
    }

    fn snap<'a>(policy: Policy, cs: &'a [Candidate], relation: Option<Relation>) -> Snapshot<'a> {
        Snapshot {
            account_name: "WhatsApp Ventas",
            policy,
            candidates: cs,
            relation,
            now: 100 * DAY_MS,
        }
    }

    fn chosen(d: &Decision) -> Option<u64> {
        match d {
            Decision::Assign { user_id, .. } => Some(*user_id),
            Decision::Unassigned { .. } => None,
        }
    }

    #[test]
    fn round_robin_takes_turns_and_breaks_ties_by_id() {
        let cs = [agent(3, 0), agent(1, 0), agent(2, 5)];
        let d = decide(&snap(Policy::default(), &cs, None));
        assert_eq!(chosen(&d), Some(1));
        assert!(matches!(&d, Decision::Assign { reason, rotation: true, .. }
            if *reason == Note::from_legacy("asignado a A1: round-robin, 3 candidatos")));
        // Simulate many turns: counts stay within one of each other.
        let mut cs = vec![agent(1, 0), agent(2, 0), agent(3, 0)];
        let mut got = [0u32; 4];
        for turn in 1..=100u64 {
            let id = chosen(&decide(&snap(Policy::default(), &cs, None))).unwrap();
            got[id as usize] += 1;
            cs.iter_mut().find(|c| c.user_id == id).unwrap().last_turn = turn;
        }
        let counts = &got[1..];
        assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1);
    }

    #[test]
    fn least_pending_prefers_fewest_unanswered_then_turn() {
        let mut cs = [agent(1, 1), agent(2, 2), agent(3, 3)];
        cs[0].pending = 4;
        cs[1].pending = 1;
        cs[2].pending = 1;
        let policy = Policy {
            mode: Mode::LeastPending,
            ..Policy::default()
        };
        let d = decide(&snap(policy, &cs, None));
        assert_eq!(
            chosen(&d),
            Some(2),
            "tie on pending → longest since last turn"
        );
        assert!(
            matches!(&d, Decision::Assign { reason, .. } if matches!(reason, Note::AssignedLeastPending { pending: 1, .. }))
        );
    }

    #[test]
    fn the_cap_skips_full_agents_and_says_so_when_all_are_full() {
        let mut cs = [agent(1, 0), agent(2, 9)];
        cs[0].open = 5;
        let policy = Policy {
            max_open: Some(5),
            ..Policy::default()
        };
        assert_eq!(chosen(&decide(&snap(policy, &cs, None))), Some(2));
        cs[1].open = 7;
        let d = decide(&snap(policy, &cs, None));
        assert_eq!(
            d,
            Decision::Unassigned {
                reason: Note::from_legacy("sin asignar: los 2 ejecutivos disponibles en WhatsApp Ventas tienen el máximo de 5 tickets abiertos")
            }
        );
    }

    #[test]
    fn only_available_auto_agents_are_candidates() {
        let mut cs = [agent(1, 0), agent(2, 0)];
        cs[0].available = false; // at lunch
        cs[1].auto = false; // manual only
        let d = decide(&snap(Policy::default(), &cs, None));
        assert_eq!(
            d,
            Decision::Unassigned {
                reason: Note::from_legacy(
                    "sin asignar: ningún ejecutivo disponible en WhatsApp Ventas"
                )
            }
        );
        let d = decide(&snap(Policy::default(), &[], None));
        assert!(
            matches!(d, Decision::Unassigned { reason } if matches!(reason, Note::NoAutoAssign { .. }))
        );
    }

    #[test]
    fn sticky_relation_inside_and_outside_30_days() {
        let cs = [agent(1, 0), agent(2, 0)];
        let now = 100 * DAY_MS;
        let recent = Relation {
            user_id: 2,
            served_at: now - 12 * DAY_MS,
        };
        let d = decide(&snap(Policy::default(), &cs, Some(recent)));
        assert_eq!(
            d,
            Decision::Assign {
                user_id: 2,
                reason: Note::from_legacy(
                    "asignado a A2: relación ejecutivo-cliente (atendió hace 12 días)"
                ),
                rotation: false
            }
        );
        let old = Relation {
            user_id: 2,
            served_at: now - 31 * DAY_MS,
        };
        assert_eq!(
            chosen(&decide(&snap(Policy::default(), &cs, Some(old)))),
            Some(1)
        );
        let off = Policy {
            sticky: false,
            ..Policy::default()
        };
        assert_eq!(chosen(&decide(&snap(off, &cs, Some(recent)))), Some(1));
    }

    #[test]
    fn sticky_agent_must_be_available_enabled_and_under_cap() {
        let now = 100 * DAY_MS;
        let rel = Some(Relation {
            user_id: 2,
            served_at: now - DAY_MS,
        });
        let mut cs = [agent(1, 0), agent(2, 0)];
        cs[1].available = false;
        assert_eq!(chosen(&decide(&snap(Policy::default(), &cs, rel))), Some(1));
        cs[1].available = true;
        cs[1].enabled = false;
        cs[1].auto = false;
        assert_eq!(chosen(&decide(&snap(Policy::default(), &cs, rel))), Some(1));
        // Enabled for manual work is enough for the relation.
        cs[1].enabled = true;
        assert_eq!(chosen(&decide(&snap(Policy::default(), &cs, rel))), Some(2));
        cs[1].open = 3;
        let capped = Policy {
            max_open: Some(3),
            ..Policy::default()
        };
        assert_eq!(chosen(&decide(&snap(capped, &cs, rel))), Some(1));
    }

    #[test]
    fn idle_rule_moves_only_quiet_available_agents() {
        let min = 60_000;
        let p = |user_id, active, assignable, last_activity| Presence {
            user_id,
            active,
            assignable,
            last_activity,
        };
        let agents = [
            p(1, true, true, Some(0)),        // quiet 20 min
            p(2, true, true, Some(10 * min)), // active 10 min ago
            p(3, true, false, Some(0)),       // already at lunch
            p(4, false, true, Some(0)),       // deactivated
            p(5, true, true, None),           // not seen since the start (5 min ago)
        ];
        assert_eq!(idle_agents(&agents, 15 * min, 20 * min, 15), vec![1]);
        // Exactly at the limit counts as idle; later, the unseen one too.
        assert_eq!(idle_agents(&agents, 15 * min, 25 * min, 15), vec![1, 2]);
        assert_eq!(idle_agents(&agents, 15 * min, 30 * min, 15), vec![1, 2, 5]);
    }

    #[test]
    fn policy_parses_with_defaults_and_refuses_unknown_fields() {
        let p: Policy = serde_json::from_str(r#"{"mode":"least_pending"}"#).unwrap();
        assert_eq!(
            p,
            Policy {
                mode: Mode::LeastPending,
                max_open: None,
                sticky: true
            }
        );
        assert!(serde_json::from_str::<Policy>(r#"{"mode":"random"}"#).is_err());
        assert!(serde_json::from_str::<Policy>(r#"{"cap":3}"#).is_err());
    }
}
