//! Analytics (REPORT-1..3): what one ticket adds to the report aggregates, the aggregates
//! and the figures read from them. Pure, so a model test can hold the aggregates the store
//! keeps against a brute-force computation over the same tickets.
//!
//! A ticket counts once per date base (seed 004): on the day it was created and on the day of
//! its last change, in the reports' time zone. Durations are kept twice, on the clock and in
//! business hours (the ticket's team's calendar, else its account's; without one every hour
//! counts), in histograms whose buckets are at most 1/16 of a doubling wide, so a median or a
//! p90 over any period is read from a handful of rows.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::{instant, local_day, Calendar};
use super::clock::Millis;
use super::model::{Channel, Sentiment, Ticket, TicketState};

/// Days since 1970-01-01 in the reports' time zone.
pub type Day = u32;

pub const DEFAULT_TIME_ZONE: &str = "America/Santiago";

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

pub fn day_of(at: Millis, tz: Tz) -> Day {
    day_of_date(local_day(tz, at))
}

pub fn day_of_date(d: NaiveDate) -> Day {
    u32::try_from((d - epoch()).num_days()).unwrap_or(0)
}

pub fn date_of(day: Day) -> NaiveDate {
    epoch() + chrono::Duration::days(i64::from(day))
}

/// The instant local day `day` starts (its first valid minute when midnight is skipped).
pub fn start_of(day: Day, tz: Tz) -> Millis {
    instant(tz, date_of(day), 0)
}

/// Which date a ticket counts on (seed 004's two criteria).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Base {
    /// When it arrived; it never moves ("tickets created yesterday").
    #[default]
    Created,
    /// Its last change: a message, an open or close, an agent's change ("tickets attended
    /// yesterday").
    Updated,
}

impl Base {
    pub const ALL: [Base; 2] = [Base::Created, Base::Updated];

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// What a report row is broken down by. Channel and the whole are sums of account rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    #[default]
    Channel,
    Account,
    Agent,
    Team,
    Label,
    /// An option of a choice, multiple-choice or yes/no typification, per channel.
    Option,
}

impl Dim {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The value of an option row: field id, option and channel, apart by a unit separator.
pub fn option_value(field: u64, option: &str, channel: Channel) -> String {
    format!("{field}\u{1f}{option}\u{1f}{}", channel.as_str())
}

/// (field id, option, channel) of an option row's value.
pub fn parse_option_value(v: &str) -> Option<(u64, &str, Channel)> {
    let mut parts = v.split('\u{1f}');
    let field = parts.next()?.parse().ok()?;
    let option = parts.next()?;
    let channel = Channel::parse(parts.next()?)?;
    Some((field, option, channel))
}

/// A waiting time, in seconds: on the clock and in business hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub clock: u32,
    pub business: u32,
}

impl Span {
    /// From `from` to `to`, counted in `calendar` (every hour when None).
    pub fn between(from: Millis, to: Millis, calendar: Option<&Calendar>) -> Span {
        let secs = |ms: Millis| u32::try_from(ms.max(0) / 1000).unwrap_or(u32::MAX);
        let clock = secs(to - from);
        Span {
            clock,
            business: calendar.map_or(clock, |c| secs(c.business_ms(from, to))),
        }
    }

    fn of(self, business: bool) -> u32 {
        if business {
            self.business
        } else {
            self.clock
        }
    }
}

/// An account's answer targets, as the SLA compliance of a response is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub first_minutes: i64,
    pub next_minutes: i64,
    pub business_hours: bool,
}

impl Targets {
    fn met(&self, span: Span, first: bool) -> bool {
        let minutes = if first {
            self.first_minutes
        } else {
            self.next_minutes
        };
        i64::from(span.of(self.business_hours)) <= minutes.saturating_mul(60)
    }
}

/// What the durations of a ticket are counted against, read only when one ends.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    pub calendar: Option<Calendar>,
    pub targets: Option<Targets>,
}

/// What one ticket adds to the aggregates, and the little it needs to see its next change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub created: Day,
    pub updated: Day,
    pub account: u64,
    #[serde(with = "crate::domain::model::stored_code")]
    pub channel: Channel,
    #[serde(default)]
    pub agent: Option<u64>,
    #[serde(default)]
    pub team: Option<u64>,
    #[serde(default)]
    pub labels: Vec<u64>,
    /// Typification options chosen: (field id, option; `true`/`false` for yes/no).
    #[serde(default)]
    pub options: Vec<(u64, String)>,
    pub open: bool,
    #[serde(default)]
    pub replies: u32,
    #[serde(default)]
    pub first: Option<Span>,
    #[serde(default)]
    pub next: Vec<Span>,
    #[serde(default)]
    pub resolution: Option<Span>,
    #[serde(default)]
    pub sla_met: u32,
    #[serde(default)]
    pub sla_missed: u32,
    #[serde(default)]
    pub sentiment: (Option<Sentiment>, Option<Sentiment>),
    /// Not counted: the waiting start and close a later change is compared with.
    #[serde(default)]
    pub waiting_since: Option<Millis>,
    #[serde(default)]
    pub closed_at: Option<Millis>,
}

impl Fact {
    /// Whether `other` adds the same to every aggregate (it may differ in bookkeeping).
    pub fn counts_as(&self, other: &Fact) -> bool {
        let strip = |f: &Fact| Fact {
            waiting_since: None,
            closed_at: None,
            ..f.clone()
        };
        strip(self) == strip(other)
    }

    pub fn day(&self, base: Base) -> Day {
        match base {
            Base::Created => self.created,
            Base::Updated => self.updated,
        }
    }

    /// The rows (dimension, value) this ticket counts in, for one base's day. No agent and no
    /// team are no rows: they are the account rows less the others (`Slice::with_none`).
    pub fn rows(&self) -> Vec<(Dim, String)> {
        let mut out = vec![(Dim::Account, self.account.to_string())];
        out.extend(self.agent.map(|a| (Dim::Agent, a.to_string())));
        out.extend(self.team.map(|t| (Dim::Team, t.to_string())));
        out.extend(self.labels.iter().map(|l| (Dim::Label, l.to_string())));
        out.extend(
            self.options
                .iter()
                .map(|(f, o)| (Dim::Option, option_value(*f, o, self.channel))),
        );
        out
    }
}

/// The typification options a ticket's values choose, given each field's kind (None: not a
/// field that reports count — text, numbers, dates, or a field deleted since).
pub fn options_of(
    t: &Ticket,
    kind_of: impl Fn(&str) -> Option<super::fields::FieldKind>,
) -> Vec<(u64, String)> {
    use super::fields::FieldKind;
    use serde_json::Value;
    let mut out = Vec::new();
    for (id, value) in &t.fields {
        let (Some(kind), Ok(field)) = (kind_of(id), id.parse::<u64>()) else {
            continue;
        };
        match (kind, value) {
            (FieldKind::Choice, Value::String(s)) => out.push((field, s.clone())),
            (FieldKind::Multi, Value::Array(items)) => out.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| (field, s.to_string())),
            ),
            (FieldKind::YesNo, Value::Bool(b)) => out.push((field, b.to_string())),
            _ => {}
        }
    }
    out
}

/// Whether computing the next fact needs the calendar and targets: a response or a close
/// happened since `prev`.
pub fn needs_timing(prev: Option<&Fact>, t: &Ticket) -> bool {
    let responded = match prev {
        None => t.first_response_at.is_some(),
        Some(p) => {
            (p.first.is_none() && t.first_response_at.is_some())
                || (p.waiting_since.is_some() && t.waiting_since.is_none())
        }
    };
    let closed = t.state != TicketState::Open && prev.is_none_or(|p| p.closed_at != t.closed_at);
    responded || closed
}

/// The fact of `t` after a change, from the one before (None: a ticket merged into another
/// counts no more — its messages count in the survivor). `timing` is read only when a
/// response or a close ends a duration.
pub fn next_fact(
    prev: Option<&Fact>,
    t: &Ticket,
    tz: Tz,
    options: Vec<(u64, String)>,
    timing: Option<&Timing>,
) -> Option<Fact> {
    if t.merged_into.is_some() {
        return None;
    }
    let calendar = timing.and_then(|x| x.calendar.as_ref());
    let targets = timing.and_then(|x| x.targets);
    let mut f = Fact {
        created: day_of(t.created_at, tz),
        updated: day_of(t.updated_at, tz),
        account: t.account_id,
        channel: t.channel,
        agent: t.assignee_id,
        team: t.team_id,
        labels: t.labels.clone(),
        options,
        open: t.state == TicketState::Open,
        replies: t.replies,
        first: prev.and_then(|p| p.first),
        next: prev.map(|p| p.next.clone()).unwrap_or_default(),
        resolution: None,
        sla_met: prev.map_or(0, |p| p.sla_met),
        sla_missed: prev.map_or(0, |p| p.sla_missed),
        sentiment: (t.sentiment_initial, t.sentiment_final),
        waiting_since: t.waiting_since,
        closed_at: t.closed_at,
    };
    let mut judge = |span: Span, first: bool| {
        if let Some(targets) = targets {
            if targets.met(span, first) {
                f.sla_met += 1;
            } else {
                f.sla_missed += 1;
            }
        }
    };
    match (f.first, t.first_response_at) {
        (None, Some(at)) => {
            let span = Span::between(t.created_at, at, calendar);
            judge(span, true);
            f.first = Some(span);
        }
        (Some(_), _) => {
            // A later answer ends a later waiting period: the next response.
            if let (Some(since), None) = (prev.and_then(|p| p.waiting_since), t.waiting_since) {
                let span = Span::between(since, t.updated_at, calendar);
                judge(span, false);
                f.next.push(span);
            }
        }
        (None, None) => {}
    }
    if !f.open {
        f.resolution = match (prev, t.closed_at) {
            (Some(p), at) if p.closed_at == at && p.resolution.is_some() => p.resolution,
            (_, Some(at)) => Some(Span::between(t.created_at, at, calendar)),
            (_, None) => None,
        };
    }
    Some(f)
}

/// Durations by bucket: exact below 32 s, then 16 buckets per doubling (≤ 6.25% wide).
pub type Hist = BTreeMap<u16, i64>;

const SUB: u32 = 16;

pub fn bucket(secs: u32) -> u16 {
    if secs < 2 * SUB {
        return secs as u16;
    }
    let e = 31 - secs.leading_zeros();
    let m = (secs >> (e - 4)) & (SUB - 1);
    (2 * SUB + (e - 5) * SUB + m) as u16
}

/// The smallest duration of a bucket, and its width.
fn bucket_range(b: u16) -> (u64, u64) {
    let b = u32::from(b);
    if b < 2 * SUB {
        return (u64::from(b), 1);
    }
    let e = (b - 2 * SUB) / SUB + 5;
    let m = u64::from((b - 2 * SUB) % SUB);
    let width = 1u64 << (e - 4);
    ((1u64 << e) | (m * width), width)
}

/// What a bucket reads as: the middle of its range (exact below 32 s).
pub fn bucket_value(b: u16) -> u64 {
    let (low, width) = bucket_range(b);
    low + (width - 1) / 2
}

/// The nearest-rank percentile (`num`/`den`) of a histogram, as its bucket's value.
pub fn percentile(h: &Hist, num: i64, den: i64) -> Option<u64> {
    let n: i64 = h.values().sum();
    if n <= 0 {
        return None;
    }
    let rank = ((n * num + den - 1) / den).max(1);
    let mut seen = 0;
    for (b, c) in h {
        seen += c;
        if seen >= rank {
            return Some(bucket_value(*b));
        }
    }
    None
}

/// A sentiment's place in the flow table: none, negative, neutral, positive.
fn sentiment_index(s: Option<Sentiment>) -> usize {
    match s {
        None => 0,
        Some(Sentiment::Negative) => 1,
        Some(Sentiment::Neutral) => 2,
        Some(Sentiment::Positive) => 3,
    }
}

pub const SENTIMENTS: [Option<Sentiment>; 4] = [
    None,
    Some(Sentiment::Negative),
    Some(Sentiment::Neutral),
    Some(Sentiment::Positive),
];

/// Counters an `Agg` keeps beside its histograms.
pub const COUNTS: usize = 27;

/// Histograms an `Agg` keeps.
pub const METRICS: usize = 6;

/// The sum of the facts counted in one row (a base, a dimension's value, a day).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Agg {
    #[serde(default)]
    pub tickets: i64,
    #[serde(default)]
    pub open: i64,
    #[serde(default)]
    pub replies: i64,
    /// First response, next responses and resolution: [clock, business].
    #[serde(default)]
    pub first: [Hist; 2],
    #[serde(default)]
    pub next: [Hist; 2],
    #[serde(default)]
    pub resolution: [Hist; 2],
    #[serde(default)]
    pub sla_met: i64,
    #[serde(default)]
    pub sla_missed: i64,
    /// Tickets by initial × final sentiment (4 × 4, see `SENTIMENTS`).
    #[serde(default)]
    pub sentiment: [i64; 16],
    /// Seconds in all: first response, next responses, resolution, each [clock, business].
    #[serde(default)]
    pub sums: [[i64; 2]; 3],
}

fn add_span(h: &mut [Hist; 2], sum: &mut [i64; 2], span: Span, sign: i64) {
    for (i, secs) in [span.clock, span.business].into_iter().enumerate() {
        sum[i] += sign * i64::from(secs);
        let b = bucket(secs);
        let c = h[i].entry(b).or_default();
        *c += sign;
        if *c == 0 {
            h[i].remove(&b);
        }
    }
}

impl Agg {
    /// Adds (`sign` 1) or takes away (-1) one ticket's fact.
    pub fn apply(&mut self, f: &Fact, sign: i64) {
        self.tickets += sign;
        self.open += sign * i64::from(f.open);
        self.replies += sign * i64::from(f.replies);
        if let Some(s) = f.first {
            add_span(&mut self.first, &mut self.sums[0], s, sign);
        }
        for s in &f.next {
            add_span(&mut self.next, &mut self.sums[1], *s, sign);
        }
        if let Some(s) = f.resolution {
            add_span(&mut self.resolution, &mut self.sums[2], s, sign);
        }
        self.sla_met += sign * i64::from(f.sla_met);
        self.sla_missed += sign * i64::from(f.sla_missed);
        let i = sentiment_index(f.sentiment.0) * 4 + sentiment_index(f.sentiment.1);
        self.sentiment[i] += sign;
    }

    pub fn merge(&mut self, o: &Agg) {
        self.merge_signed(o, 1);
    }

    /// Adds `o` (`sign` 1) or takes it away (-1).
    pub fn merge_signed(&mut self, o: &Agg, sign: i64) {
        self.add_counts(&o.counts(), sign);
        for m in 0..METRICS {
            let from = o.hist(m).clone();
            let into = self.hist_mut(m);
            for (b, c) in from {
                let e = into.entry(b).or_default();
                *e += sign * c;
                if *e == 0 {
                    into.remove(&b);
                }
            }
        }
    }

    /// The counters, in their stored order: tickets, open, replies, SLA met and missed, the
    /// six duration sums, the sixteen sentiment flows.
    pub fn counts(&self) -> [i64; COUNTS] {
        let mut c = [0; COUNTS];
        c[..5].copy_from_slice(&[
            self.tickets,
            self.open,
            self.replies,
            self.sla_met,
            self.sla_missed,
        ]);
        for (i, pair) in self.sums.iter().enumerate() {
            c[5 + 2 * i] = pair[0];
            c[6 + 2 * i] = pair[1];
        }
        c[11..].copy_from_slice(&self.sentiment);
        c
    }

    pub fn add_counts(&mut self, c: &[i64; COUNTS], sign: i64) {
        self.tickets += sign * c[0];
        self.open += sign * c[1];
        self.replies += sign * c[2];
        self.sla_met += sign * c[3];
        self.sla_missed += sign * c[4];
        for (i, pair) in self.sums.iter_mut().enumerate() {
            pair[0] += sign * c[5 + 2 * i];
            pair[1] += sign * c[6 + 2 * i];
        }
        for (s, x) in self.sentiment.iter_mut().zip(&c[11..]) {
            *s += sign * x;
        }
    }

    /// Histogram `m`: first response, next response, resolution, each clock then business.
    pub fn hist(&self, m: usize) -> &Hist {
        let pair = match m / 2 {
            0 => &self.first,
            1 => &self.next,
            _ => &self.resolution,
        };
        &pair[m % 2]
    }

    pub fn hist_mut(&mut self, m: usize) -> &mut Hist {
        let pair = match m / 2 {
            0 => &mut self.first,
            1 => &mut self.next,
            _ => &mut self.resolution,
        };
        &mut pair[m % 2]
    }

    pub fn is_empty(&self) -> bool {
        self.tickets == 0
    }
}

/// A duration's average, median and p90, in seconds, over `count` samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema, Default)]
pub struct Times {
    pub count: i64,
    pub average: Option<u64>,
    /// The median and p90 are read from buckets at most 6.25% wide (exact below 32 s).
    pub median: Option<u64>,
    pub p90: Option<u64>,
}

pub fn times(h: &Hist, sum: i64) -> Times {
    let count: i64 = h.values().sum();
    Times {
        count,
        average: (count > 0).then(|| u64::try_from(sum / count).unwrap_or(0)),
        median: percentile(h, 1, 2),
        p90: percentile(h, 9, 10),
    }
}

/// Tickets that started with one sentiment and ended with another.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SentimentFlow {
    pub from: Option<Sentiment>,
    pub to: Option<Sentiment>,
    pub tickets: i64,
}

/// What a report shows for a set of tickets.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, Default)]
pub struct Figures {
    pub tickets: i64,
    pub open: i64,
    /// Closed or ignored.
    pub resolved: i64,
    /// Agents' public and private replies.
    pub replies: i64,
    pub replies_per_ticket: Option<f64>,
    pub first_response: Times,
    pub next_response: Times,
    pub resolution: Times,
    /// Responses within the account's SLA target, and late ones.
    pub sla_met: i64,
    pub sla_missed: i64,
    /// Met over judged, 0–1 (None: no response was judged).
    pub sla_compliance: Option<f64>,
    /// Initial → final, only the pairs that occur.
    pub sentiment: Vec<SentimentFlow>,
}

impl Agg {
    /// The figures, with durations on the clock or in business hours.
    pub fn figures(&self, business: bool) -> Figures {
        let i = usize::from(business);
        let judged = self.sla_met + self.sla_missed;
        let mut sentiment = Vec::new();
        for (k, n) in self.sentiment.iter().enumerate() {
            if *n != 0 {
                sentiment.push(SentimentFlow {
                    from: SENTIMENTS[k / 4],
                    to: SENTIMENTS[k % 4],
                    tickets: *n,
                });
            }
        }
        Figures {
            tickets: self.tickets,
            open: self.open,
            resolved: self.tickets - self.open,
            replies: self.replies,
            replies_per_ticket: (self.tickets > 0)
                .then(|| self.replies as f64 / self.tickets as f64),
            first_response: times(&self.first[i], self.sums[0][i]),
            next_response: times(&self.next[i], self.sums[1][i]),
            resolution: times(&self.resolution[i], self.sums[2][i]),
            sla_met: self.sla_met,
            sla_missed: self.sla_missed,
            sla_compliance: (judged > 0).then(|| self.sla_met as f64 / judged as f64),
            sentiment,
        }
    }
}

/// Messages in and out (kept per account and per agent and day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, Default)]
pub struct MessageCounts {
    pub received: u64,
    pub sent: u64,
}

/// Milliseconds per connection state and local day, from one agent's state changes: `before`
/// is the state held when `from` starts, `changes` (time order) those within [from, to).
pub fn state_time(
    before: Option<&str>,
    changes: &[(Millis, Option<String>)],
    from: Millis,
    to: Millis,
    tz: Tz,
) -> BTreeMap<(Day, String), Millis> {
    let mut out: BTreeMap<(Day, String), Millis> = BTreeMap::new();
    let mut add = |state: Option<&str>, a: Millis, b: Millis| {
        let Some(state) = state else { return };
        let mut a = a.max(from);
        let b = b.min(to);
        while a < b {
            let day = day_of(a, tz);
            let end = start_of(day + 1, tz).min(b);
            if end <= a {
                break;
            }
            *out.entry((day, state.to_string())).or_default() += end - a;
            a = end;
        }
    };
    let mut state = before.map(str::to_string);
    let mut since = from;
    for (at, next) in changes {
        add(state.as_deref(), since, *at);
        state.clone_from(next);
        since = (*at).max(from);
    }
    add(state.as_deref(), since, to);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{apply_inbound, apply_reply, change_state, new_ticket, NewTicket};
    use crate::domain::Role;

    const TZ: Tz = chrono_tz::America::Santiago;

    fn at(s: &str) -> Millis {
        crate::domain::clock::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn buckets_cover_every_duration_in_order_and_narrowly() {
        let mut last = 0;
        for s in (0..100_000u32).chain([u32::MAX - 1, u32::MAX]) {
            let b = bucket(s);
            assert!(b >= last, "{s}");
            last = b;
            let (low, width) = bucket_range(b);
            assert!(
                u64::from(s) >= low && u64::from(s) < low + width,
                "{s} in {b}"
            );
            assert!(width == 1 || width * 16 <= low, "{s}: {width} of {low}");
        }
        assert_eq!(bucket_value(bucket(17)), 17);
    }

    #[test]
    fn percentiles_are_nearest_rank_over_buckets() {
        let mut h = Hist::new();
        for s in [1, 2, 3, 4, 100] {
            *h.entry(bucket(s)).or_default() += 1;
        }
        assert_eq!(percentile(&h, 1, 2), Some(3));
        assert_eq!(percentile(&h, 9, 10), Some(bucket_value(bucket(100))));
        assert_eq!(percentile(&Hist::new(), 1, 2), None);
    }

    #[test]
    fn days_follow_the_local_calendar_across_the_clock_change() {
        // 2026-04-05 00:30 local (UTC-3 until 00:00 becomes 23:00 of the 4th, UTC-4).
        let d = day_of(at("2026-04-05T04:30:00Z"), TZ);
        assert_eq!(date_of(d).to_string(), "2026-04-05");
        assert_eq!(day_of(at("2026-04-05T03:30:00Z"), TZ), d - 1);
        assert_eq!(start_of(d, TZ), at("2026-04-05T04:00:00Z"));
    }

    fn ticket(now: Millis) -> Ticket {
        new_ticket(NewTicket {
            number: 1,
            account: (7, Channel::Email),
            contact_id: 3,
            public: false,
            influencer: false,
            previous: None,
            now,
        })
    }

    #[test]
    fn a_ticket_counts_its_responses_resolution_and_sla() {
        let t0 = at("2026-03-02T12:00:00Z");
        let mut t = ticket(t0);
        apply_inbound(&mut t, false, "hola", t0);
        let timing = Timing {
            calendar: None,
            targets: Some(Targets {
                first_minutes: 10,
                next_minutes: 5,
                business_hours: false,
            }),
        };
        let f0 = next_fact(None, &t, TZ, vec![], None).unwrap();
        assert!(f0.first.is_none() && f0.open && f0.waiting_since == Some(t0));
        apply_reply(&mut t, 9, false, "ok", t0 + 300_000);
        assert!(needs_timing(Some(&f0), &t));
        let f1 = next_fact(Some(&f0), &t, TZ, vec![], Some(&timing)).unwrap();
        assert_eq!(f1.first.map(|s| s.clock), Some(300));
        assert_eq!((f1.sla_met, f1.sla_missed, f1.agent), (1, 0, Some(9)));
        apply_inbound(&mut t, false, "¿y?", t0 + 600_000);
        let f2 = next_fact(Some(&f1), &t, TZ, vec![], None).unwrap();
        assert!(f2.counts_as(&f1) && f2 != f1);
        apply_reply(&mut t, 9, false, "ya", t0 + 1_200_000);
        let f3 = next_fact(Some(&f2), &t, TZ, vec![], Some(&timing)).unwrap();
        assert_eq!(f3.next.iter().map(|s| s.clock).collect::<Vec<_>>(), [600]);
        assert_eq!((f3.sla_met, f3.sla_missed, f3.replies), (1, 1, 2));
        change_state(&mut t, TicketState::Closed, Role::Agent, t0 + 3_600_000).unwrap();
        let f4 = next_fact(Some(&f3), &t, TZ, vec![], Some(&timing)).unwrap();
        assert_eq!(f4.resolution.map(|s| s.clock), Some(3600));
        let mut agg = Agg::default();
        agg.apply(&f4, 1);
        let fig = agg.figures(false);
        assert_eq!((fig.tickets, fig.resolved, fig.replies), (1, 1, 2));
        assert_eq!(fig.first_response.median, Some(bucket_value(bucket(300))));
        assert_eq!(fig.sla_compliance, Some(0.5));
        assert_eq!(fig.first_response.average, Some(300));
        agg.apply(&f4, -1);
        assert!(agg.is_empty() && agg.first[0].is_empty() && agg == Agg::default());
        let mut twice = Agg::default();
        twice.apply(&f4, 1);
        twice.apply(&f4, 1);
        let mut back = Agg::default();
        back.add_counts(&twice.counts(), 1);
        assert_eq!(back.counts(), twice.counts());
        twice.merge_signed(&twice.clone(), -1);
        assert_eq!(twice, Agg::default());
    }

    #[test]
    fn state_time_splits_at_local_midnight() {
        let from = at("2026-03-02T03:00:00Z"); // local midnight (UTC-3)
        let to = from + 2 * 86_400_000;
        let changes = vec![
            (from + 22 * 3_600_000, Some("ausente".to_string())),
            (from + 26 * 3_600_000, None),
        ];
        let got = state_time(Some("disponible"), &changes, from, to, TZ);
        let d = day_of(from, TZ);
        assert_eq!(got[&(d, "disponible".into())], 22 * 3_600_000);
        assert_eq!(got[&(d, "ausente".into())], 2 * 3_600_000);
        assert_eq!(got[&(d + 1, "ausente".into())], 2 * 3_600_000);
        assert_eq!(got.len(), 3);
    }
}
