//! The model test of the report aggregates (issue 19): random tickets live through random
//! changes — replies, reopenings, merges, reassignments, labels, typifications, sentiment —
//! over three weeks of a business-hours calendar, and every report read from the kept rows
//! equals a brute-force computation over the same tickets, on both date bases, with business
//! hours on and off, for every breakdown and drill-down over random periods.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redb::{Database, ReadableDatabase};

use super::*;
use crate::domain::fields::FieldKind;
use crate::domain::report::{bucket, bucket_value, Figures, SentimentFlow, Times, SENTIMENTS};
use crate::domain::ticket::{
    apply_inbound, apply_reply, change_state, merge, new_ticket, NewTicket,
};
use crate::domain::{Account, Channel, Role, Sentiment, TicketState};

const TZ: Tz = chrono_tz::America::Santiago;
const HOUR: Millis = 3_600_000;

/// A duration the test measured when it ended: on the clock, in the calendar the ticket
/// counted in then, and whether it met the SLA target.
type Measured = (u32, u32, bool);

/// What the test itself saw happen to a ticket, kept apart from the store's facts.
#[derive(Default, Clone)]
struct Seen {
    waiting: Option<Millis>,
    first: Option<Measured>,
    next: Vec<Measured>,
    resolution: Option<(u32, u32)>,
}

struct World {
    db: Database,
    calendar: Calendar,
    targets: Targets,
    tickets: BTreeMap<u64, Ticket>,
    seen: BTreeMap<u64, Seen>,
    _dir: tempfile::TempDir,
}

fn calendar() -> Calendar {
    let mut week = BTreeMap::new();
    for d in ["mon", "tue", "wed", "thu", "fri"] {
        week.insert(
            d.to_string(),
            vec![
                ["09:00".to_string(), "13:00".to_string()],
                ["14:00".to_string(), "18:00".to_string()],
            ],
        );
    }
    Calendar {
        id: 1,
        name: "Oficina".into(),
        time_zone: "America/Santiago".into(),
        week,
        holidays: vec![crate::domain::calendar::Holiday {
            date: "2026-03-11".into(),
            name: "Feriado de prueba".into(),
        }],
    }
}

#[allow(clippy::disallowed_methods)] // the test writes its fixtures in its own transactions
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("atiende.redb")).unwrap();
    super::super::migrate::migrate(&db).unwrap();
    let calendar = calendar();
    let txn = db.begin_write().unwrap();
    {
        let mut accounts = txn.open_table(ACCOUNT_ID_TO_ACCOUNT).unwrap();
        for (id, kind, settings) in [
            (
                1u64,
                Channel::Email,
                serde_json::json!({"calendar_id": "1", "sla_policy_id": "1"}),
            ),
            (
                2,
                Channel::Whatsapp,
                serde_json::json!({"sla_policy_id": "1"}),
            ),
        ] {
            let a = Account {
                id,
                kind,
                name: format!("Cuenta {id}"),
                settings: settings.as_object().unwrap().clone(),
                created_at: 0,
                deleted_at: None,
            };
            accounts
                .insert(id, codec::encode(&a).unwrap().as_slice())
                .unwrap();
        }
        txn.open_table(CALENDAR_ID_TO_CALENDAR)
            .unwrap()
            .insert(1, codec::encode(&calendar).unwrap().as_slice())
            .unwrap();
        let policy = SlaPolicy {
            id: 1,
            name: "SLA".into(),
            first_response_minutes: 900,
            next_response_minutes: Some(600),
            business_hours: true,
        };
        txn.open_table(SLA_POLICY_ID_TO_POLICY)
            .unwrap()
            .insert(1, codec::encode(&policy).unwrap().as_slice())
            .unwrap();
        let mut fields = txn.open_table(FIELD_ID_TO_FIELD).unwrap();
        for (id, kind, options) in [
            (1u64, FieldKind::Choice, vec!["Reclamo", "Consulta"]),
            (2, FieldKind::YesNo, vec![]),
            (3, FieldKind::Text, vec![]),
        ] {
            let def = FieldDef {
                id,
                target: FieldTarget::Ticket,
                name: format!("Campo {id}"),
                kind,
                options: options.into_iter().map(String::from).collect(),
                ..Default::default()
            };
            fields
                .insert(id, codec::encode(&def).unwrap().as_slice())
                .unwrap();
        }
        // Team 2 keeps no hours of its own; team 1 follows the same office calendar.
        let mut teams = txn.open_table(TEAM_ID_TO_TEAM).unwrap();
        for (id, calendar_id) in [(1u64, Some(1u64)), (2, None)] {
            let team = Team {
                id,
                name: format!("Equipo {id}"),
                members: vec![],
                calendar_id,
            };
            teams
                .insert(id, codec::encode(&team).unwrap().as_slice())
                .unwrap();
        }
    }
    txn.commit().unwrap();
    World {
        db,
        calendar,
        targets: Targets {
            first_minutes: 900,
            next_minutes: 600,
            business_hours: true,
        },
        tickets: BTreeMap::new(),
        seen: BTreeMap::new(),
        _dir: dir,
    }
}

impl World {
    #[allow(clippy::disallowed_methods)]
    fn save(&mut self, t: &Ticket) {
        let txn = self.db.begin_write().unwrap();
        update(&txn, t).unwrap();
        txn.commit().unwrap();
        let closed_before = self.tickets.get(&t.number).and_then(|o| o.closed_at);
        let resolution = match t.closed_at {
            Some(at) if t.state != TicketState::Open && closed_before != Some(at) => {
                let pair = (t.created_at, at);
                Some((self.span(t, pair, false), self.span(t, pair, true)))
            }
            Some(_) if t.state != TicketState::Open => self.seen[&t.number].resolution,
            _ => None,
        };
        self.seen.entry(t.number).or_default().resolution = resolution;
        self.tickets.insert(t.number, t.clone());
    }

    /// A response that ended the wait `pair`, measured now.
    fn measure(&self, t: &Ticket, pair: (Millis, Millis), target_minutes: i64) -> Measured {
        let judged = if self.targets.business_hours {
            self.span(t, pair, true)
        } else {
            self.span(t, pair, false)
        };
        (
            self.span(t, pair, false),
            self.span(t, pair, true),
            i64::from(judged) <= target_minutes * 60,
        )
    }

    /// The calendar a ticket's durations count in: account 1's, or team 1's.
    fn calendar_of(&self, t: &Ticket) -> Option<&Calendar> {
        (t.account_id == 1 || t.team_id == Some(1)).then_some(&self.calendar)
    }

    fn span(&self, t: &Ticket, (from, to): (Millis, Millis), business: bool) -> u32 {
        let ms = match (business, self.calendar_of(t)) {
            (true, Some(c)) => c.business_ms(from, to),
            _ => to - from,
        };
        u32::try_from(ms.max(0) / 1000).unwrap()
    }
}

fn exact_times(mut samples: Vec<u32>) -> Times {
    samples.sort_unstable();
    let n = samples.len() as i64;
    let sum: i64 = samples.iter().map(|s| i64::from(*s)).sum();
    let at = |num: i64, den: i64| {
        (n > 0).then(|| {
            let rank = ((n * num + den - 1) / den).max(1);
            bucket_value(bucket(samples[(rank - 1) as usize]))
        })
    };
    Times {
        count: n,
        average: (n > 0).then(|| (sum / n) as u64),
        median: at(1, 2),
        p90: at(9, 10),
    }
}

/// The figures of `tickets`, computed from the tickets and what the test saw.
fn brute(w: &World, tickets: &[&Ticket], business: bool) -> Figures {
    let (mut first, mut next, mut resolution) = (vec![], vec![], vec![]);
    let (mut met, mut missed, mut replies, mut open) = (0, 0, 0, 0);
    let mut flows: BTreeMap<(usize, usize), i64> = BTreeMap::new();
    for t in tickets {
        let seen = &w.seen[&t.number];
        let pick = |m: &Measured| if business { m.1 } else { m.0 };
        for m in seen.first.iter().chain(&seen.next) {
            if m.2 {
                met += 1;
            } else {
                missed += 1;
            }
        }
        first.extend(seen.first.iter().map(pick));
        next.extend(seen.next.iter().map(pick));
        if t.state == TicketState::Open {
            open += 1;
        } else if let Some(r) = seen.resolution {
            resolution.push(if business { r.1 } else { r.0 });
        }
        replies += i64::from(t.replies);
        let index = |s: Option<Sentiment>| SENTIMENTS.iter().position(|x| *x == s).unwrap();
        *flows
            .entry((index(t.sentiment_initial), index(t.sentiment_final)))
            .or_default() += 1;
    }
    let n = tickets.len() as i64;
    Figures {
        tickets: n,
        open,
        resolved: n - open,
        replies,
        replies_per_ticket: (n > 0).then(|| replies as f64 / n as f64),
        first_response: exact_times(first),
        next_response: exact_times(next),
        resolution: exact_times(resolution),
        sla_met: met,
        sla_missed: missed,
        sla_compliance: (met + missed > 0).then(|| met as f64 / (met + missed) as f64),
        sentiment: flows
            .into_iter()
            .map(|((a, b), tickets)| SentimentFlow {
                from: SENTIMENTS[a],
                to: SENTIMENTS[b],
                tickets,
            })
            .collect(),
    }
}

/// The day a ticket counts on under `base`.
fn day_in(t: &Ticket, base: Base) -> Day {
    day_of(
        match base {
            Base::Created => t.created_at,
            Base::Updated => t.updated_at,
        },
        TZ,
    )
}

/// The values of `by` a ticket counts under.
fn values_of(t: &Ticket, by: Dim) -> Vec<String> {
    let id = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    match by {
        Dim::Channel => vec![t.channel.as_str().to_string()],
        Dim::Account => vec![t.account_id.to_string()],
        Dim::Agent => vec![id(t.assignee_id)],
        Dim::Team => vec![id(t.team_id)],
        Dim::Label => t.labels.iter().map(|l| l.to_string()).collect(),
        Dim::Option => {
            let kinds = |f: &str| match f {
                "1" => Some(FieldKind::Choice),
                "2" => Some(FieldKind::YesNo),
                "3" => Some(FieldKind::Text),
                _ => None,
            };
            options_of(t, kinds)
                .into_iter()
                .map(|(f, o)| report::option_value(f, &o, t.channel))
                .collect()
        }
    }
}

fn step(w: &mut World, rng: &mut StdRng, now: Millis) {
    let open: Vec<u64> = w
        .tickets
        .values()
        .filter(|t| t.merged_into.is_none() && t.state == TicketState::Open)
        .map(|t| t.number)
        .collect();
    let any: Vec<u64> = w
        .tickets
        .values()
        .filter(|t| t.merged_into.is_none())
        .map(|t| t.number)
        .collect();
    let pick = |rng: &mut StdRng, list: &[u64]| list[rng.gen_range(0..list.len())];
    let roll = rng.gen_range(0..100);
    if w.tickets.len() < 3 || roll < 20 {
        let number = w.tickets.keys().last().copied().unwrap_or(0) + 1;
        let account = if rng.gen_bool(0.5) {
            (1, Channel::Email)
        } else {
            (2, Channel::Whatsapp)
        };
        let mut t = new_ticket(NewTicket {
            number,
            account,
            contact_id: 1,
            public: false,
            influencer: false,
            previous: None,
            now,
        });
        apply_inbound(&mut t, false, "hola", now);
        w.seen.insert(
            number,
            Seen {
                waiting: Some(now),
                ..Default::default()
            },
        );
        w.save(&t);
        return;
    }
    if open.is_empty() {
        let n = pick(rng, &any);
        let mut t = w.tickets[&n].clone();
        change_state(&mut t, TicketState::Open, Role::Admin, now).unwrap();
        w.save(&t);
        return;
    }
    let n = pick(rng, &open);
    let mut t = w.tickets[&n].clone();
    match roll {
        20..=34 => {
            apply_inbound(&mut t, false, "sigue", now);
            let seen = w.seen.get_mut(&n).unwrap();
            seen.waiting.get_or_insert(now);
        }
        35..=54 => {
            apply_reply(&mut t, rng.gen_range(1..=3), false, "respuesta", now);
            if let Some(since) = w.seen[&n].waiting {
                let (first, next) = if w.seen[&n].first.is_none() {
                    (
                        Some(w.measure(&t, (t.created_at, now), w.targets.first_minutes)),
                        None,
                    )
                } else {
                    (
                        None,
                        Some(w.measure(&t, (since, now), w.targets.next_minutes)),
                    )
                };
                let seen = w.seen.get_mut(&n).unwrap();
                seen.waiting = None;
                if first.is_some() {
                    seen.first = first;
                }
                seen.next.extend(next);
            }
        }
        55..=64 => {
            change_state(&mut t, TicketState::Closed, Role::Agent, now).unwrap();
        }
        65..=69 => {
            // Reopen a closed one instead, when there is one.
            let closed: Vec<u64> = any.iter().copied().filter(|x| !open.contains(x)).collect();
            if !closed.is_empty() {
                t = w.tickets[&pick(rng, &closed)].clone();
                change_state(&mut t, TicketState::Open, Role::Admin, now).unwrap();
            }
        }
        70..=74 => {
            t.assignee_id = [None, Some(1), Some(2), Some(3)][rng.gen_range(0..4)];
            t.updated_at = t.updated_at.max(now);
        }
        75..=79 => {
            t.team_id = [None, Some(1), Some(2)][rng.gen_range(0..3)];
            t.updated_at = t.updated_at.max(now);
        }
        80..=84 => {
            let l = rng.gen_range(1..=3);
            if let Some(i) = t.labels.iter().position(|x| *x == l) {
                t.labels.remove(i);
            } else {
                t.labels.push(l);
            }
            t.updated_at = t.updated_at.max(now);
        }
        85..=89 => {
            let (id, value) = match rng.gen_range(0..3) {
                0 => (
                    "1",
                    serde_json::json!(["Reclamo", "Consulta"][rng.gen_range(0..2)]),
                ),
                1 => ("2", serde_json::json!(rng.gen_bool(0.5))),
                _ => ("3", serde_json::json!("texto libre")),
            };
            t.fields.insert(id.to_string(), value);
            t.updated_at = t.updated_at.max(now);
        }
        90..=93 => {
            let s = [
                None,
                Some(Sentiment::Negative),
                Some(Sentiment::Neutral),
                Some(Sentiment::Positive),
            ];
            t.sentiment_initial = s[rng.gen_range(0..4)];
            t.sentiment_final = s[rng.gen_range(0..4)];
            t.updated_at = t.updated_at.max(now);
        }
        _ => {
            // Merge another of the customer's tickets into this one.
            let others: Vec<u64> = any.iter().copied().filter(|x| *x != n).collect();
            if others.is_empty() {
                return;
            }
            let mut source = w.tickets[&pick(rng, &others)].clone();
            merge(&mut source, &mut t, true, now).unwrap();
            let src_waiting = w.seen[&source.number].waiting;
            let seen = w.seen.get_mut(&n).unwrap();
            seen.waiting = match (seen.waiting, src_waiting) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            w.save(&source);
        }
    }
    w.save(&t);
}

#[test]
fn kept_aggregates_equal_a_brute_force_count_of_the_same_tickets() {
    for seed in 0..3u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut w = world();
        // From Friday 2026-03-06 08:00 in Santiago, over three weeks and a holiday.
        let mut now = crate::domain::clock::parse_rfc3339("2026-03-06T11:00:00Z").unwrap();
        for _ in 0..400 {
            now += if rng.gen_bool(0.8) {
                rng.gen_range(60_000..HOUR)
            } else {
                rng.gen_range(HOUR..20 * HOUR)
            };
            step(&mut w, &mut rng, now);
            if now > crate::domain::clock::parse_rfc3339("2026-03-27T00:00:00Z").unwrap() {
                break;
            }
        }
        let first_day = day_of(
            crate::domain::clock::parse_rfc3339("2026-03-06T11:00:00Z").unwrap(),
            TZ,
        );
        let last_day = day_of(now, TZ);
        let read = w.db.begin_read().unwrap();
        let live: Vec<&Ticket> = w
            .tickets
            .values()
            .filter(|t| t.merged_into.is_none())
            .collect();
        assert!(live.len() > 20, "seed {seed}: {} tickets", live.len());
        // The run covered what the model is for: merges, reopenings, next responses, late
        // answers, and business hours that differ from the clock.
        let merged = w
            .tickets
            .values()
            .filter(|t| t.merged_into.is_some())
            .count();
        let all = brute(&w, &live, false);
        let business = brute(&w, &live, true);
        assert!(
            merged > 0 && all.next_response.count > 0 && all.sla_missed > 0 && all.sla_met > 0,
            "seed {seed}: {merged} merged, {all:?}"
        );
        assert!(all.resolved > 0 && all.open > 0);
        assert_ne!(all.first_response, business.first_response);
        for _ in 0..40 {
            let from = rng.gen_range(first_day..=last_day);
            let to = rng.gen_range(from..=last_day);
            for base in Base::ALL {
                let in_period: Vec<&Ticket> = live
                    .iter()
                    .copied()
                    .filter(|t| (from..=to).contains(&day_in(t, base)))
                    .collect();
                for by in [
                    Dim::Channel,
                    Dim::Account,
                    Dim::Agent,
                    Dim::Team,
                    Dim::Label,
                    Dim::Option,
                ] {
                    let slice = super::read(&read, base, by, None, from, to).unwrap();
                    let mut values: BTreeMap<String, Vec<&Ticket>> = BTreeMap::new();
                    for t in &in_period {
                        for v in values_of(t, by) {
                            values.entry(v).or_default().push(t);
                        }
                    }
                    assert_eq!(
                        slice.by_value.keys().collect::<Vec<_>>(),
                        values.keys().collect::<Vec<_>>(),
                        "seed {seed} {base:?} {by:?} {from}..{to}"
                    );
                    for business in [false, true] {
                        assert_eq!(
                            slice.total.figures(business),
                            brute(&w, &in_period, business),
                            "seed {seed} total {base:?} {by:?} {from}..{to} business {business}"
                        );
                        for (v, tickets) in &values {
                            assert_eq!(
                                slice.by_value[v].figures(business),
                                brute(&w, tickets, business),
                                "seed {seed} {base:?} {by:?}={v} {from}..{to} business {business}"
                            );
                        }
                    }
                    // A drill-down into one value: its total, and its days add up to it.
                    if let Some((v, tickets)) = values.iter().next() {
                        let one = super::read(&read, base, by, Some(v), from, to).unwrap();
                        assert_eq!(one.total.figures(true), brute(&w, tickets, true));
                        for (day, agg) in &one.by_day {
                            let of_day: Vec<&Ticket> = tickets
                                .iter()
                                .copied()
                                .filter(|t| day_in(t, base) == *day)
                                .collect();
                            assert_eq!(agg.figures(false), brute(&w, &of_day, false));
                        }
                    }
                }
            }
        }
        // A rebuild from the records counts the same (what a migration or a new zone does),
        // but for next responses, which the records do not hold.
        drop(read);
    }
}
