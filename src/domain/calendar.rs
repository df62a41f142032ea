//! Business hours (SLA-2): a weekly schedule of open periods in a time zone of the tz database
//! (Chile's daylight-saving changes included), and holidays — one-off dates or every year —
//! when it stays closed. Used for "is it open now", "when does it open next" and the business
//! time between two instants (SLA clocks that pause outside hours).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clock::Millis;

pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Holiday {
    /// `YYYY-MM-DD` (that day only) or `MM-DD` (every year).
    pub date: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Calendar {
    pub id: u64,
    pub name: String,
    /// A tz database name, e.g. `America/Santiago`.
    pub time_zone: String,
    /// Per day (`mon`..`sun`), open periods as `["09:00", "18:00"]`; a missing day is closed.
    pub week: BTreeMap<String, Vec<[String; 2]>>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

/// Why a calendar cannot be used: the field at fault and a readable reason.
pub type CalendarError = (&'static str, String);

impl Calendar {
    pub fn zone(&self) -> Option<Tz> {
        self.time_zone.parse().ok()
    }

    /// Checks the zone, the days, the periods (from before to, not overlapping) and holidays.
    pub fn check(&self) -> Result<(), CalendarError> {
        if self.zone().is_none() {
            return Err((
                "time_zone",
                format!("`{}` is not a time zone of the tz database", self.time_zone),
            ));
        }
        for (day, periods) in &self.week {
            if !DAYS.contains(&day.as_str()) {
                return Err(("week", format!("`{day}` is not a day; use mon … sun")));
            }
            let mut spans: Vec<(u32, u32)> = Vec::new();
            for [from, to] in periods {
                match (minutes(from), minutes(to)) {
                    (Some(a), Some(b)) if a < b => spans.push((a, b)),
                    _ => {
                        return Err((
                            "week",
                            format!("`{from}`–`{to}` on {day} is not a period like 09:00–18:00"),
                        ))
                    }
                }
            }
            spans.sort_unstable();
            if spans.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err(("week", format!("the periods of {day} overlap")));
            }
        }
        for h in &self.holidays {
            if holiday_date(&h.date).is_none() {
                return Err((
                    "holidays",
                    format!(
                        "`{}` is not a date (YYYY-MM-DD, or MM-DD every year)",
                        h.date
                    ),
                ));
            }
        }
        Ok(())
    }

    fn is_holiday(&self, day: NaiveDate) -> bool {
        self.holidays.iter().any(|h| match holiday_date(&h.date) {
            Some(HolidayDate::Once(d)) => d == day,
            Some(HolidayDate::Yearly(m, d)) => day.month() == m && day.day() == d,
            None => false,
        })
    }

    /// The open periods of a local day, as UTC milliseconds (a period that starts in a clock
    /// gap opens when the clock resumes).
    fn periods_of(&self, tz: Tz, day: NaiveDate) -> Vec<(Millis, Millis)> {
        if self.is_holiday(day) {
            return Vec::new();
        }
        let name = DAYS[day.weekday().num_days_from_monday() as usize];
        let Some(periods) = self.week.get(name) else {
            return Vec::new();
        };
        let mut out: Vec<(Millis, Millis)> = periods
            .iter()
            .filter_map(|[from, to]| {
                let (a, b) = (minutes(from)?, minutes(to)?);
                Some((instant(tz, day, a), instant(tz, day, b)))
            })
            .filter(|(a, b)| a < b)
            .collect();
        out.sort_unstable();
        out
    }

    /// Whether `at` falls in an open period.
    pub fn is_open(&self, at: Millis) -> bool {
        let Some(tz) = self.zone() else { return false };
        let day = local_day(tz, at);
        // A period may cross into the next UTC day but not into the next local one.
        self.periods_of(tz, day)
            .iter()
            .any(|(a, b)| *a <= at && at < *b)
    }

    /// When it is next open at or after `at` (`at` itself when open); None when nothing opens
    /// within a year (an empty week).
    pub fn next_open(&self, at: Millis) -> Option<Millis> {
        let tz = self.zone()?;
        let first = local_day(tz, at);
        for offset in 0..=370 {
            let day = first + Duration::days(offset);
            for (a, b) in self.periods_of(tz, day) {
                if at < b {
                    return Some(a.max(at));
                }
            }
        }
        None
    }

    /// Milliseconds of open time between `from` and `to` (0 when `to` ≤ `from`). Walks the
    /// local days in between: an SLA spans days, not years.
    pub fn business_ms(&self, from: Millis, to: Millis) -> Millis {
        let Some(tz) = self.zone() else { return 0 };
        if to <= from {
            return 0;
        }
        let (first, last) = (local_day(tz, from), local_day(tz, to));
        let mut total = 0;
        let mut day = first;
        while day <= last {
            for (a, b) in self.periods_of(tz, day) {
                let (s, e) = (a.max(from), b.min(to));
                if s < e {
                    total += e - s;
                }
            }
            day += Duration::days(1);
        }
        total
    }
}

impl Calendar {
    /// The instant `ms` of open time after `from` (None when the calendar never opens within
    /// a year of it).
    pub fn add_business(&self, from: Millis, ms: Millis) -> Option<Millis> {
        let tz = self.zone()?;
        let mut left = ms.max(0);
        let first = local_day(tz, from);
        for offset in 0..=370 {
            for (a, b) in self.periods_of(tz, first + Duration::days(offset)) {
                if b <= from {
                    continue;
                }
                let start = a.max(from);
                if left <= b - start {
                    return Some(start + left);
                }
                left -= b - start;
            }
        }
        None
    }

    /// The instant `ms` of open time before `to` (None when it was not open that long within
    /// a year before it).
    pub fn sub_business(&self, to: Millis, ms: Millis) -> Option<Millis> {
        let tz = self.zone()?;
        let mut left = ms.max(0);
        let last = local_day(tz, to);
        for offset in 0..=370 {
            for (a, b) in self
                .periods_of(tz, last - Duration::days(offset))
                .into_iter()
                .rev()
            {
                if a >= to {
                    continue;
                }
                let end = b.min(to);
                if left <= end - a {
                    return Some(end - left);
                }
                left -= end - a;
            }
        }
        None
    }
}

enum HolidayDate {
    Once(NaiveDate),
    Yearly(u32, u32),
}

fn holiday_date(s: &str) -> Option<HolidayDate> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(HolidayDate::Once(d));
    }
    let (m, d) = s.split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // Any leap year tells whether the month has that day.
    NaiveDate::from_ymd_opt(2024, m, d).map(|_| HolidayDate::Yearly(m, d))
}

pub(crate) fn local_day(tz: Tz, at: Millis) -> NaiveDate {
    tz.timestamp_millis_opt(at)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// The instant a local day's minute falls on; in a DST gap, the first valid instant after it;
/// in a repeated hour, the first of the two.
pub(crate) fn instant(tz: Tz, day: NaiveDate, minute: u32) -> Millis {
    let naive: NaiveDateTime = if minute >= 1440 {
        (day + Duration::days(1)).and_time(NaiveTime::MIN)
    } else {
        day.and_time(
            NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0).unwrap_or(NaiveTime::MIN),
        )
    };
    let mut probe = naive;
    for _ in 0..4 {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.timestamp_millis(),
            LocalResult::Ambiguous(t, _) => return t.timestamp_millis(),
            LocalResult::None => probe += Duration::minutes(30),
        }
    }
    naive.and_utc().timestamp_millis()
}

/// Chile's public holidays as a starting list (seed 001): the fixed ones every year, and the
/// movable ones (Easter, the winter solstice) of 2026 and 2027, each with the locale key of its
/// name (`holiday.cl.*`). The administrator edits the list once added.
pub fn chile_holidays() -> Vec<(&'static str, &'static str)> {
    vec![
        ("01-01", "holiday.cl.new_year"),
        ("05-01", "holiday.cl.labour_day"),
        ("05-21", "holiday.cl.navy_day"),
        ("06-29", "holiday.cl.saint_peter_paul"),
        ("07-16", "holiday.cl.our_lady_carmel"),
        ("08-15", "holiday.cl.assumption"),
        ("09-18", "holiday.cl.independence"),
        ("09-19", "holiday.cl.army_day"),
        ("10-12", "holiday.cl.two_worlds"),
        ("10-31", "holiday.cl.evangelical_churches"),
        ("11-01", "holiday.cl.all_saints"),
        ("12-08", "holiday.cl.immaculate_conception"),
        ("12-25", "holiday.cl.christmas"),
        ("2026-04-03", "holiday.cl.good_friday"),
        ("2026-04-04", "holiday.cl.holy_saturday"),
        ("2026-06-21", "holiday.cl.indigenous_peoples"),
        ("2027-03-26", "holiday.cl.good_friday"),
        ("2027-03-27", "holiday.cl.holy_saturday"),
        ("2027-06-21", "holiday.cl.indigenous_peoples"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::parse_rfc3339;

    fn office() -> Calendar {
        let day = vec![
            ["09:00".to_string(), "13:00".to_string()],
            ["14:00".into(), "18:00".into()],
        ];
        Calendar {
            id: 1,
            name: "Oficina".into(),
            time_zone: "America/Santiago".into(),
            week: DAYS[..5]
                .iter()
                .map(|d| (d.to_string(), day.clone()))
                .collect(),
            holidays: vec![
                Holiday {
                    date: "09-18".into(),
                    name: "Fiestas Patrias".into(),
                },
                Holiday {
                    date: "2026-04-03".into(),
                    name: "Viernes Santo".into(),
                },
            ],
        }
    }

    fn at(s: &str) -> Millis {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn open_hours_follow_santiago_across_its_clock_changes() {
        let c = office();
        c.check().unwrap();
        // Summer time (UTC−3) until 2026-04-05, winter time (UTC−4) after.
        assert!(c.is_open(at("2026-03-31T12:00:00Z"))); // 09:00 local, summer
        assert!(!c.is_open(at("2026-03-31T11:59:00Z")));
        assert!(!c.is_open(at("2026-04-07T12:30:00Z"))); // 08:30 local, winter
        assert!(c.is_open(at("2026-04-07T13:00:00Z"))); // 09:00 local, winter
                                                        // Back to summer time on 2026-09-06.
        assert!(c.is_open(at("2026-09-07T12:00:00Z")));
        assert!(!c.is_open(at("2026-09-07T16:30:00Z"))); // 13:30 local: lunch
    }

    #[test]
    fn holidays_and_weekends_are_closed_and_next_open_skips_them() {
        let c = office();
        assert!(!c.is_open(at("2026-04-03T14:00:00Z")), "Good Friday");
        assert!(!c.is_open(at("2026-09-18T14:00:00Z")), "every 18 September");
        assert!(!c.is_open(at("2027-09-18T14:00:00Z")));
        // Thursday 2 April 18:30 local → Monday 6 April 09:00 local (UTC−4 by then).
        assert_eq!(
            c.next_open(at("2026-04-02T21:30:00Z")),
            Some(at("2026-04-06T13:00:00Z"))
        );
        assert_eq!(
            c.next_open(at("2026-03-31T12:30:00Z")),
            Some(at("2026-03-31T12:30:00Z"))
        );
        assert_eq!(
            c.next_open(at("2026-03-31T16:10:00Z")),
            Some(at("2026-03-31T17:00:00Z"))
        );
        let closed = Calendar {
            week: BTreeMap::new(),
            ..office()
        };
        assert_eq!(closed.next_open(at("2026-03-31T12:00:00Z")), None);
    }

    #[test]
    fn business_time_counts_only_open_periods() {
        let c = office();
        // Friday 17:00 local to Monday 10:00 local: 1 h Friday + 1 h Monday.
        let from = at("2026-03-27T20:00:00Z");
        let to = at("2026-03-30T13:00:00Z");
        assert_eq!(c.business_ms(from, to), 2 * 3_600_000);
        // Across the April change and Good Friday: Thursday 2 April 17:00 (UTC−3) to
        // Monday 6 April 10:00 (UTC−4) is 1 h + 1 h.
        assert_eq!(
            c.business_ms(at("2026-04-02T20:00:00Z"), at("2026-04-06T14:00:00Z")),
            2 * 3_600_000
        );
        assert_eq!(c.business_ms(to, from), 0);
    }

    #[test]
    fn business_time_is_added_and_taken_across_closed_hours() {
        let c = office();
        // Friday 27 March 17:30 local + 2 h of business time = Monday 30 March 10:30 local.
        let from = at("2026-03-27T20:30:00Z");
        let due = c.add_business(from, 2 * 3_600_000).unwrap();
        assert_eq!(due, at("2026-03-30T13:30:00Z"));
        assert_eq!(c.business_ms(from, due), 2 * 3_600_000);
        assert_eq!(
            c.sub_business(due, 2 * 3_600_000),
            Some(at("2026-03-27T20:30:00Z"))
        );
        // Inside a period: plain arithmetic; at a period's end, the next one starts.
        assert_eq!(
            c.add_business(at("2026-03-31T12:00:00Z"), 60_000),
            Some(at("2026-03-31T12:01:00Z"))
        );
        assert_eq!(
            c.add_business(at("2026-03-31T15:30:00Z"), 60 * 60_000),
            Some(at("2026-03-31T17:30:00Z"))
        );
        let closed = Calendar {
            week: BTreeMap::new(),
            ..office()
        };
        assert_eq!(closed.add_business(from, 1), None);
    }

    #[test]
    fn bad_calendars_are_named() {
        let mut c = office();
        c.time_zone = "Marte/Olympus".into();
        assert_eq!(c.check().unwrap_err().0, "time_zone");
        let mut c = office();
        c.week.insert(
            "mon".into(),
            vec![
                ["10:00".into(), "12:00".into()],
                ["11:00".into(), "13:00".into()],
            ],
        );
        assert_eq!(c.check().unwrap_err().0, "week");
        let mut c = office();
        c.holidays.push(Holiday {
            date: "02-30".into(),
            name: "x".into(),
        });
        assert_eq!(c.check().unwrap_err().0, "holidays");
        assert!(chile_holidays()
            .iter()
            .all(|(date, _)| holiday_date(date).is_some()));
    }
}
