//! Analítica (REPORT-1..5): ticket and message figures by channel, account, agent, team,
//! label and typification option over a period and the one before it, on either date base
//! (seed 004), durations on the clock or in business hours; typification statistics; time per
//! connection state. Read from the aggregates `tickets::save` keeps (`store::report`), never
//! from the tickets. Admins and supervisors see everyone; an agent sees their own figures.
//! Every report also leaves as CSV or XLSX (`?format=`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use chrono_tz::Tz;
use redb::ReadTransaction;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::exports::{ExportParams, Format};
use crate::auth::CurrentUser;
use crate::domain::fields::{FieldDef, FieldKind, FieldTarget};
use crate::domain::report::{
    date_of, day_of, day_of_date, parse_option_value, start_of, state_time, Base, Day, Dim,
    Figures, MessageCounts,
};
use crate::domain::{Channel, Label, Millis, Role, Team};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ApiJson, ApiQuery};
use crate::locale;
use crate::state::AppState;
use crate::store::report::{self as store_report, ReportSettings};
use crate::store::{accounts, catalog, users};

/// The longest period a report reads (a year and a day: a leap year's whole).
const MAX_DAYS: u32 = 366;

#[derive(Deserialize, Serialize, IntoParams, Default, Clone)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// `today`, `yesterday`, `7d` (default), `30d` or `custom` (with `from` and `to`).
    pub period: Option<String>,
    /// First day, `YYYY-MM-DD` (custom period).
    pub from: Option<String>,
    /// Last day, included.
    pub to: Option<String>,
    /// `created` (default) or `updated` (seed 004).
    pub base: Option<Base>,
}

#[derive(Deserialize, Serialize, IntoParams, Default, Clone)]
#[into_params(parameter_in = Query)]
pub struct BreakdownParams {
    /// What the table is broken down by: channel (default), account, agent, team, label or
    /// option.
    pub by: Option<Dim>,
    /// One value of `by` (an id, a channel; `none` for unassigned or without team): the
    /// totals and the days are of it alone (a drill-down).
    pub value: Option<String>,
    /// Durations in business hours (the ticket's team's or account's calendar).
    pub business_hours: Option<bool>,
}

/// Days `from..=to` and the same length just before.
#[derive(Debug, Clone, Copy)]
struct Period {
    from: Day,
    to: Day,
}

impl Period {
    fn previous(self) -> Period {
        let len = self.to - self.from + 1;
        Period {
            from: self.from.saturating_sub(len),
            to: self.from.saturating_sub(1),
        }
    }

    fn days(self) -> impl Iterator<Item = Day> {
        self.from..=self.to
    }

    /// The instants the period starts and ends, in `tz`.
    fn instants(self, tz: Tz) -> (Millis, Millis) {
        (start_of(self.from, tz), start_of(self.to + 1, tz))
    }
}

fn parse_day(s: &str, field: &str) -> AppResult<Day> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(day_of_date)
        .map_err(|_| {
            AppError::invalid(
                field,
                "invalid_date",
                format!("{field} is a date like 2026-03-31, not `{s}`"),
            )
        })
}

fn period_of(p: &PeriodParams, now: Millis, tz: Tz) -> AppResult<Period> {
    let today = day_of(now, tz);
    let last = |n: u32| Period {
        from: today.saturating_sub(n - 1),
        to: today,
    };
    let custom = p.from.is_some();
    let period = match p.period.as_deref().map(str::trim) {
        Some("today") => last(1),
        Some("yesterday") => Period {
            from: today.saturating_sub(1),
            to: today.saturating_sub(1),
        },
        Some("7d") => last(7),
        Some("30d") => last(30),
        None | Some("") if !custom => last(7),
        None | Some("") | Some("custom") => {
            let from = parse_day(p.from.as_deref().unwrap_or_default(), "from")?;
            let to = match &p.to {
                Some(t) => parse_day(t, "to")?,
                None => today,
            };
            Period { from, to }
        }
        Some(other) => {
            return Err(AppError::invalid(
                "period",
                "invalid_period",
                format!("period is today, yesterday, 7d, 30d or custom, not `{other}`"),
            ))
        }
    };
    if period.to < period.from {
        return Err(AppError::invalid(
            "to",
            "invalid_period",
            "the period ends before it starts",
        ));
    }
    if period.to - period.from >= MAX_DAYS {
        return Err(AppError::invalid(
            "from",
            "period_too_long",
            format!("a report covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(period)
}

fn date(day: Day) -> String {
    date_of(day).to_string()
}

#[derive(Serialize, ToSchema)]
pub struct DayFigures {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub figures: Figures,
    /// Absent when the breakdown cannot tell (messages are kept per account and agent).
    pub messages: Option<MessageCounts>,
}

#[derive(Serialize, ToSchema)]
pub struct RowFigures {
    /// The value of `by` (an id, a channel, `none`).
    pub value: String,
    /// Its name, in the user's language.
    pub name: String,
    pub figures: Figures,
    pub messages: Option<MessageCounts>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketReport {
    pub time_zone: String,
    pub from: String,
    pub to: String,
    pub previous_from: String,
    pub previous_to: String,
    pub base: Base,
    pub business_hours: bool,
    pub by: Dim,
    pub value: Option<String>,
    /// The selected set (every ticket, or the drilled-down value) over the period.
    pub totals: Figures,
    /// The same over the period before.
    pub previous: Figures,
    pub messages: Option<MessageCounts>,
    pub previous_messages: Option<MessageCounts>,
    /// Every day of the period.
    pub days: Vec<DayFigures>,
    /// One row per value of `by` that has tickets in the period.
    pub rows: Vec<RowFigures>,
}

/// Row values as the API spells them: `none` for "no agent" and "no team".
fn api_value(v: &str) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.to_string()
    }
}

fn store_value(v: &str) -> String {
    if v == "none" {
        String::new()
    } else {
        v.to_string()
    }
}

/// Names of what rows are counted by.
struct Names {
    lang: &'static str,
    accounts: BTreeMap<u64, String>,
    users: BTreeMap<u64, String>,
    teams: BTreeMap<u64, String>,
    labels: BTreeMap<u64, String>,
    fields: Vec<FieldDef>,
}

impl Names {
    fn read(txn: &ReadTransaction, lang: &'static str) -> AppResult<Names> {
        Ok(Names {
            lang,
            accounts: accounts::list(txn)?
                .into_iter()
                .map(|a| (a.id, a.name))
                .collect(),
            users: users::list(txn)?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect(),
            teams: catalog::list::<Team>(txn)?
                .into_iter()
                .map(|t| (t.id, t.name))
                .collect(),
            labels: catalog::list::<Label>(txn)?
                .into_iter()
                .map(|l| (l.id, l.name))
                .collect(),
            fields: catalog::list::<FieldDef>(txn)?
                .into_iter()
                .filter(|f| f.target == FieldTarget::Ticket)
                .collect(),
        })
    }

    fn text(&self, key: &str) -> String {
        locale::text(self.lang, key, &[])
    }

    fn option_label(&self, field: &FieldDef, option: &str) -> String {
        if field.kind == FieldKind::YesNo {
            self.text(if option == "true" {
                "export.yes"
            } else {
                "export.no"
            })
        } else {
            option.to_string()
        }
    }

    fn of(&self, dim: Dim, value: &str) -> String {
        let id = value.parse::<u64>().ok();
        let from = |m: &BTreeMap<u64, String>| {
            id.and_then(|id| m.get(&id).cloned())
                .unwrap_or_else(|| format!("#{value}"))
        };
        match dim {
            Dim::Channel => self.text(&format!("channel.{value}")),
            Dim::Account => from(&self.accounts),
            Dim::Agent if value.is_empty() => self.text("reports.unassigned"),
            Dim::Agent => from(&self.users),
            Dim::Team if value.is_empty() => self.text("reports.no_team"),
            Dim::Team => from(&self.teams),
            Dim::Label => from(&self.labels),
            Dim::Option => match parse_option_value(value) {
                Some((field, option, channel)) => {
                    let f = self.fields.iter().find(|f| f.id == field);
                    format!(
                        "{}: {} · {}",
                        f.map(|f| f.name.clone())
                            .unwrap_or_else(|| format!("#{field}")),
                        f.map(|f| self.option_label(f, option))
                            .unwrap_or_else(|| option.to_string()),
                        self.text(&format!("channel.{}", channel.as_str()))
                    )
                }
                None => value.to_string(),
            },
        }
    }
}

/// What the user may see: an agent only their own figures, by agent.
fn scope(user: &CurrentUser, b: &BreakdownParams) -> (Dim, Option<String>) {
    if user.user.role == Role::Agent {
        return (Dim::Agent, Some(user.user.id.to_string()));
    }
    (
        b.by.unwrap_or_default(),
        b.value.as_deref().map(store_value),
    )
}

/// What a ticket report asks for, once the user's scope is applied.
struct Ask {
    base: Base,
    by: Dim,
    value: Option<String>,
    business: bool,
    lang: &'static str,
    /// An agent's report shows only their own row.
    only_rows: Option<String>,
}

fn read_report(
    txn: &ReadTransaction,
    settings: &ReportSettings,
    period: Period,
    ask: &Ask,
) -> AppResult<TicketReport> {
    let Ask {
        base,
        by,
        business,
        lang,
        ..
    } = *ask;
    let value = ask.value.as_deref();
    let only_rows = ask.only_rows.as_deref();
    let now_slice = store_report::read(txn, base, by, value, period.from, period.to)?;
    let prev = period.previous();
    let prev_slice = store_report::read(txn, base, by, value, prev.from, prev.to)?;
    let msgs = store_report::read_messages(txn, by, value, period.from, period.to)?;
    let prev_msgs = store_report::read_messages(txn, by, value, prev.from, prev.to)?;
    let names = Names::read(txn, lang)?;
    let days = period
        .days()
        .map(|d| DayFigures {
            date: date(d),
            figures: now_slice
                .by_day
                .get(&d)
                .cloned()
                .unwrap_or_default()
                .figures(business),
            messages: msgs
                .as_ref()
                .map(|m| m.by_day.get(&d).copied().unwrap_or_default()),
        })
        .collect();
    let rows = now_slice
        .by_value
        .iter()
        .filter(|(v, _)| only_rows.is_none_or(|o| o == v.as_str()))
        .map(|(v, agg)| RowFigures {
            value: api_value(v),
            name: names.of(by, v),
            figures: agg.figures(business),
            messages: msgs.as_ref().and_then(|m| m.by_value.get(v).copied()),
        })
        .collect();
    Ok(TicketReport {
        time_zone: settings.time_zone.clone(),
        from: date(period.from),
        to: date(period.to),
        previous_from: date(prev.from),
        previous_to: date(prev.to),
        base,
        business_hours: business,
        by,
        value: value.map(api_value),
        totals: now_slice.total.figures(business),
        previous: prev_slice.total.figures(business),
        messages: msgs.as_ref().map(|m| m.total),
        previous_messages: prev_msgs.as_ref().map(|m| m.total),
        days,
        rows,
    })
}

fn minutes(secs: Option<u64>) -> String {
    secs.map(|s| format!("{:.1}", s as f64 / 60.0))
        .unwrap_or_default()
}

const REPORT_COLUMNS: [&str; 17] = [
    "name",
    "tickets",
    "open",
    "resolved",
    "replies",
    "replies_per_ticket",
    "first_median",
    "first_p90",
    "next_median",
    "next_p90",
    "resolution_median",
    "resolution_p90",
    "sla_met",
    "sla_missed",
    "sla_compliance",
    "received",
    "sent",
];

fn report_row(name: &str, f: &Figures, m: Option<MessageCounts>) -> Vec<String> {
    vec![
        name.to_string(),
        f.tickets.to_string(),
        f.open.to_string(),
        f.resolved.to_string(),
        f.replies.to_string(),
        f.replies_per_ticket
            .map(|r| format!("{r:.2}"))
            .unwrap_or_default(),
        minutes(f.first_response.median),
        minutes(f.first_response.p90),
        minutes(f.next_response.median),
        minutes(f.next_response.p90),
        minutes(f.resolution.median),
        minutes(f.resolution.p90),
        f.sla_met.to_string(),
        f.sla_missed.to_string(),
        f.sla_compliance
            .map(|c| format!("{:.1}", c * 100.0))
            .unwrap_or_default(),
        m.map(|m| m.received.to_string()).unwrap_or_default(),
        m.map(|m| m.sent.to_string()).unwrap_or_default(),
    ]
}

/// Sends a report's rows, all at once (a report is small), as CSV or XLSX.
async fn deliver_rows(
    state: &AppState,
    format: Format,
    stem: &str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
) -> AppResult<Response> {
    super::exports::deliver(
        format,
        stem,
        state.store.now(),
        state.config.data_dir.join("tmp"),
        header,
        move |tx| async move {
            let _ = tx.send(Ok(rows)).await;
        },
    )
    .await
}

fn header(lang: &'static str, prefix: &str, columns: &[&str]) -> Vec<String> {
    columns
        .iter()
        .map(|k| locale::text(lang, &format!("{prefix}.{k}"), &[]))
        .collect()
}

/// Ticket and message figures over a period, broken down by one dimension.
#[utoipa::path(get, path = "/api/v1/reports/tickets", tag = "reports",
    params(PeriodParams, BreakdownParams, ExportParams),
    responses((status = 200, body = TicketReport), (status = 422, body = ErrorBody)))]
pub async fn tickets(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<PeriodParams>,
    ApiQuery(b): ApiQuery<BreakdownParams>,
    ApiQuery(how): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    let format = how.format.as_ref().map(|_| how.format()).transpose()?;
    let (by, value) = scope(&user, &b);
    let only_rows = (user.user.role == Role::Agent).then(|| user.user.id.to_string());
    let lang = user.lang();
    let now = state.store.now();
    let ask = Ask {
        base: p.base.unwrap_or_default(),
        by,
        value,
        business: b.business_hours.unwrap_or(false),
        lang,
        only_rows,
    };
    let report = state
        .store
        .read(move |txn| {
            let settings = store_report::settings(txn)?;
            let period = period_of(&p, now, settings.zone())?;
            read_report(txn, &settings, period, &ask)
        })
        .await?;
    let Some(format) = format else {
        return Ok(Json(report).into_response());
    };
    let rows = report
        .rows
        .iter()
        .map(|r| report_row(&r.name, &r.figures, r.messages))
        .chain(std::iter::once(report_row(
            &locale::text(lang, "reports.total", &[]),
            &report.totals,
            report.messages,
        )))
        .collect();
    deliver_rows(
        &state,
        format,
        "analitica",
        header(lang, "reports.columns", &REPORT_COLUMNS),
        rows,
    )
    .await
}

#[derive(Serialize, ToSchema)]
pub struct ChannelCount {
    pub channel: Channel,
    pub tickets: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OptionCount {
    /// The option as stored (`true`/`false` for yes/no).
    pub option: String,
    pub label: String,
    pub tickets: i64,
    pub channels: Vec<ChannelCount>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldCounts {
    pub field_id: String,
    pub name: String,
    pub kind: FieldKind,
    pub options: Vec<OptionCount>,
}

#[derive(Serialize, ToSchema)]
pub struct TypificationReport {
    pub from: String,
    pub to: String,
    /// When the period starts and ends (RFC 3339): a drill-down lists the tickets with
    /// `created_from`/`created_to` (or `updated_…`) and `field={id}:{option}`.
    pub from_instant: String,
    pub to_instant: String,
    pub base: Base,
    pub fields: Vec<FieldCounts>,
}

/// REPORT-3 (seed 004): tickets per option of each choice and yes/no typification, per channel.
#[utoipa::path(get, path = "/api/v1/reports/typifications", tag = "reports",
    params(PeriodParams, ExportParams),
    responses((status = 200, body = TypificationReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn typifications(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<PeriodParams>,
    ApiQuery(how): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    require_supervisor(&user)?;
    let format = how.format.as_ref().map(|_| how.format()).transpose()?;
    let lang = user.lang();
    let now = state.store.now();
    let base = p.base.unwrap_or_default();
    let report = state
        .store
        .read(move |txn| {
            let tz = store_report::settings(txn)?.zone();
            let period = period_of(&p, now, tz)?;
            let slice = store_report::read(txn, base, Dim::Option, None, period.from, period.to)?;
            let names = Names::read(txn, lang)?;
            let mut counts: BTreeMap<(u64, String), BTreeMap<u8, (Channel, i64)>> = BTreeMap::new();
            for (v, agg) in &slice.by_value {
                if let Some((field, option, channel)) = parse_option_value(v) {
                    counts
                        .entry((field, option.to_string()))
                        .or_default()
                        .entry(channel.code())
                        .or_insert((channel, 0))
                        .1 += agg.tickets;
                }
            }
            let mut fields = Vec::new();
            for f in names.fields.iter().filter(|f| {
                matches!(
                    f.kind,
                    FieldKind::Choice | FieldKind::Multi | FieldKind::YesNo
                )
            }) {
                let mut known: Vec<String> = if f.kind == FieldKind::YesNo {
                    vec!["true".into(), "false".into()]
                } else {
                    f.options.clone()
                };
                // Options counted but renamed or removed since still show.
                for (field, option) in counts.keys() {
                    if *field == f.id && !known.contains(option) {
                        known.push(option.clone());
                    }
                }
                let options = known
                    .into_iter()
                    .map(|option| {
                        let by_channel = counts.get(&(f.id, option.clone()));
                        OptionCount {
                            label: names.option_label(f, &option),
                            tickets: by_channel.map_or(0, |c| c.values().map(|x| x.1).sum()),
                            channels: by_channel
                                .map(|c| {
                                    c.values()
                                        .map(|(channel, tickets)| ChannelCount {
                                            channel: *channel,
                                            tickets: *tickets,
                                        })
                                        .collect()
                                })
                                .unwrap_or_default(),
                            option,
                        }
                    })
                    .collect();
                fields.push(FieldCounts {
                    field_id: f.id.to_string(),
                    name: f.name.clone(),
                    kind: f.kind,
                    options,
                });
            }
            let (a, b) = period.instants(tz);
            Ok(TypificationReport {
                from: date(period.from),
                to: date(period.to),
                from_instant: super::ts(a),
                to_instant: super::ts(b),
                base,
                fields,
            })
        })
        .await?;
    let Some(format) = format else {
        return Ok(Json(report).into_response());
    };
    let mut rows = Vec::new();
    for f in &report.fields {
        for o in &f.options {
            let channel = |c: Channel| locale::text(lang, &format!("channel.{}", c.as_str()), &[]);
            rows.push(vec![
                f.name.clone(),
                o.label.clone(),
                String::new(),
                o.tickets.to_string(),
            ]);
            for c in &o.channels {
                rows.push(vec![
                    f.name.clone(),
                    o.label.clone(),
                    channel(c.channel),
                    c.tickets.to_string(),
                ]);
            }
        }
    }
    deliver_rows(
        &state,
        format,
        "tipificaciones",
        header(
            lang,
            "reports.typification_columns",
            &["field", "option", "channel", "tickets"],
        ),
        rows,
    )
    .await
}

fn require_supervisor(user: &CurrentUser) -> AppResult<()> {
    if user.user.role.sees_all_accounts() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "this report is for administrators and supervisors",
        ))
    }
}

#[derive(Serialize, ToSchema)]
pub struct StateTime {
    pub state: String,
    /// Milliseconds in the state.
    pub ms: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AgentDay {
    pub date: String,
    pub states: Vec<StateTime>,
}

#[derive(Serialize, ToSchema)]
pub struct AgentStates {
    pub user_id: String,
    pub name: String,
    pub totals: Vec<StateTime>,
    pub days: Vec<AgentDay>,
}

#[derive(Serialize, ToSchema)]
pub struct AgentStateReport {
    pub from: String,
    pub to: String,
    /// The states that occur, in the order of the connection states' settings.
    pub states: Vec<String>,
    pub agents: Vec<AgentStates>,
}

/// REPORT-5: time per connection state per agent and day (the current state runs until now).
#[utoipa::path(get, path = "/api/v1/reports/agent_states", tag = "reports",
    params(PeriodParams, ExportParams),
    responses((status = 200, body = AgentStateReport), (status = 422, body = ErrorBody)))]
pub async fn agent_states(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<PeriodParams>,
    ApiQuery(how): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    let format = how.format.as_ref().map(|_| how.format()).transpose()?;
    let lang = user.lang();
    let now = state.store.now();
    let only = (user.user.role == Role::Agent).then_some(user.user.id);
    let report = state
        .store
        .read(move |txn| {
            let tz = store_report::settings(txn)?.zone();
            let period = period_of(&p, now, tz)?;
            let (from, end) = period.instants(tz);
            let to = end.min(now);
            let log = store_report::state_log(txn, from, to)?;
            let names: BTreeMap<u64, String> = users::list(txn)?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect();
            let order: Vec<String> = crate::store::assignment::states(txn)?
                .into_iter()
                .map(|s| s.name)
                .collect();
            let mut seen: Vec<String> = Vec::new();
            let mut agents = Vec::new();
            for (user_id, (before, changes)) in log {
                if only.is_some_and(|o| o != user_id) {
                    continue;
                }
                let time = state_time(before.as_deref(), &changes, from, to, tz);
                let mut totals: BTreeMap<String, i64> = BTreeMap::new();
                let mut days: BTreeMap<Day, Vec<StateTime>> = BTreeMap::new();
                for ((day, name), ms) in time {
                    *totals.entry(name.clone()).or_default() += ms;
                    if !seen.contains(&name) {
                        seen.push(name.clone());
                    }
                    days.entry(day)
                        .or_default()
                        .push(StateTime { state: name, ms });
                }
                agents.push(AgentStates {
                    user_id: user_id.to_string(),
                    name: names.get(&user_id).cloned().unwrap_or_default(),
                    totals: totals
                        .into_iter()
                        .map(|(state, ms)| StateTime { state, ms })
                        .collect(),
                    days: days
                        .into_iter()
                        .map(|(d, states)| AgentDay {
                            date: date(d),
                            states,
                        })
                        .collect(),
                });
            }
            seen.sort_by_key(|s| order.iter().position(|o| o == s).unwrap_or(usize::MAX));
            Ok(AgentStateReport {
                from: date(period.from),
                to: date(period.to),
                states: seen,
                agents,
            })
        })
        .await?;
    let Some(format) = format else {
        return Ok(Json(report).into_response());
    };
    let mut rows = Vec::new();
    for a in &report.agents {
        for d in &a.days {
            for s in &d.states {
                rows.push(vec![
                    a.name.clone(),
                    d.date.clone(),
                    s.state.clone(),
                    format!("{:.1}", s.ms as f64 / 60_000.0),
                ]);
            }
        }
    }
    deliver_rows(
        &state,
        format,
        "estados",
        header(
            lang,
            "reports.state_columns",
            &["agent", "date", "state", "minutes"],
        ),
        rows,
    )
    .await
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReportSettingsView {
    /// The tz database zone whose local days the reports count (default America/Santiago).
    pub time_zone: String,
}

#[utoipa::path(get, path = "/api/v1/reports/settings", tag = "reports",
    responses((status = 200, body = ReportSettingsView)))]
pub async fn get_settings(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<ReportSettingsView>> {
    let s = state.store.read(store_report::settings).await?;
    Ok(Json(ReportSettingsView {
        time_zone: s.time_zone,
    }))
}

/// A new time zone counts every ticket again on its local days (in the writer: seconds on a
/// large store).
#[utoipa::path(patch, path = "/api/v1/reports/settings", tag = "reports", request_body = ReportSettingsView,
    responses((status = 200, body = ReportSettingsView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<ReportSettingsView>,
) -> AppResult<Json<ReportSettingsView>> {
    user.require_admin()?;
    let zone = b.time_zone.trim().to_string();
    if zone.parse::<Tz>().is_err() {
        return Err(AppError::invalid(
            "time_zone",
            "invalid_time_zone",
            format!("`{zone}` is not a time zone of the tz database"),
        ));
    }
    let s = ReportSettings { time_zone: zone };
    let saved = s.clone();
    state
        .store
        .write(move |txn, _| store_report::put_settings(txn, &s))
        .await?;
    Ok(Json(ReportSettingsView {
        time_zone: saved.time_zone,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::America::Santiago;

    #[test]
    fn periods_end_today_and_compare_with_the_one_before() {
        let now = crate::domain::clock::parse_rfc3339("2026-03-10T15:00:00Z").unwrap();
        let p = |period: &str| PeriodParams {
            period: Some(period.into()),
            ..Default::default()
        };
        let week = period_of(&PeriodParams::default(), now, TZ).unwrap();
        assert_eq!(
            (date(week.from), date(week.to)),
            ("2026-03-04".into(), "2026-03-10".into())
        );
        let prev = week.previous();
        assert_eq!(
            (date(prev.from), date(prev.to)),
            ("2026-02-25".into(), "2026-03-03".into())
        );
        let y = period_of(&p("yesterday"), now, TZ).unwrap();
        assert_eq!(
            (date(y.from), date(y.to)),
            ("2026-03-09".into(), "2026-03-09".into())
        );
        let custom = PeriodParams {
            from: Some("2026-01-01".into()),
            to: Some("2026-01-31".into()),
            ..Default::default()
        };
        let c = period_of(&custom, now, TZ).unwrap();
        assert_eq!(c.to - c.from, 30);
        assert!(period_of(&p("semana"), now, TZ).is_err());
        let backwards = PeriodParams {
            from: Some("2026-02-01".into()),
            to: Some("2026-01-01".into()),
            ..Default::default()
        };
        assert!(period_of(&backwards, now, TZ).is_err());
        let long = PeriodParams {
            from: Some("2020-01-01".into()),
            ..Default::default()
        };
        assert!(period_of(&long, now, TZ).is_err());
    }
}
