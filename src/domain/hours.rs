//! Opening hours of a channel (SLA-3 "out of hours" messages): a weekly schedule in one UTC
//! offset. Calendars with holidays and daylight-saving zones come with business hours (SLA-2).

use serde::{Deserialize, Serialize};

use super::clock::Millis;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// Minutes east of UTC of the schedule's clock (Chile: -240 in winter, -180 in summer).
    pub utc_offset_minutes: i32,
    /// Per day ("mon".."sun"), open periods as ["09:00", "18:00"]; a missing day is closed.
    pub week: std::collections::BTreeMap<String, Vec<[String; 2]>>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn minutes(hhmm: &str) -> Option<i64> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= 1440).then_some(h * 60 + m)
}

impl Hours {
    /// A readable reason when the schedule cannot be used.
    pub fn check(&self) -> Result<(), String> {
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return Err("utc_offset_minutes must be between -840 and 840".into());
        }
        for (day, periods) in &self.week {
            if !DAYS.contains(&day.as_str()) {
                return Err(format!(
                    "`{day}` is not a day; use mon, tue, wed, thu, fri, sat, sun"
                ));
            }
            for [from, to] in periods {
                match (minutes(from), minutes(to)) {
                    (Some(a), Some(b)) if a < b => {}
                    _ => {
                        return Err(format!(
                            "`{from}`–`{to}` on {day} is not a period like 09:00–18:00"
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `at` falls in an open period.
    pub fn is_open(&self, at: Millis) -> bool {
        let local_minutes = at.div_euclid(60_000) + self.utc_offset_minutes as i64;
        let day_index = local_minutes.div_euclid(1440);
        // 1970-01-01 was a Thursday (index 3 with Monday = 0).
        let weekday = DAYS[((day_index + 3).rem_euclid(7)) as usize];
        let minute = local_minutes.rem_euclid(1440);
        self.week.get(weekday).is_some_and(|periods| {
            periods.iter().any(|[from, to]| {
                matches!((minutes(from), minutes(to)), (Some(a), Some(b)) if a <= minute && minute < b)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> Hours {
        serde_json::from_value(serde_json::json!({
            "utc_offset_minutes": -180,
            "week": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["10:00", "12:00"]]}
        }))
        .unwrap()
    }

    fn at(s: &str) -> Millis {
        super::super::clock::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn open_and_closed() {
        let h = office();
        assert!(h.check().is_ok());
        // Monday 2026-11-23 10:00 in Chile (UTC-3) is 13:00 UTC.
        assert!(h.is_open(at("2026-11-23T13:00:00Z")));
        // Lunch break, 13:30 local.
        assert!(!h.is_open(at("2026-11-23T16:30:00Z")));
        // 18:00 local is closed (periods end before their end minute).
        assert!(!h.is_open(at("2026-11-23T21:00:00Z")));
        // Tuesday is not in the schedule.
        assert!(!h.is_open(at("2026-11-24T13:00:00Z")));
        // Saturday 11:00 local.
        assert!(h.is_open(at("2026-11-28T14:00:00Z")));
        // Monday 01:00 UTC is Sunday 22:00 local: closed.
        assert!(!h.is_open(at("2026-11-23T01:00:00Z")));
    }

    #[test]
    fn bad_schedules_say_why() {
        let mut h = office();
        h.week.insert("lunes".into(), vec![]);
        assert!(h.check().unwrap_err().contains("lunes"));
        let mut h = office();
        h.week
            .insert("tue".into(), vec![["18:00".into(), "09:00".into()]]);
        assert!(h.check().is_err());
    }
}
