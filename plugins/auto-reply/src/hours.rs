//! Business hours: a weekly schedule in a time zone, with holidays, for the away message.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

/// The away message and when it applies, as written in the binding's config.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwayConfig {
    /// An IANA time zone, such as `America/Sao_Paulo`.
    pub time_zone: String,
    /// Open hours per day (`mon` ... `sun`), as `"09:00-18:00"` ranges; a day not listed is
    /// closed all day.
    #[serde(default)]
    pub hours: HashMap<String, Vec<String>>,
    /// Closed all day on these dates (`YYYY-MM-DD`, in the time zone).
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Sent outside open hours instead of the fallback (the same `{variables}`).
    pub message: String,
    /// A chat gets the away message at most once in this window.
    #[serde(default = "default_repeat_secs")]
    pub repeat_secs: u64,
}

fn default_repeat_secs() -> u64 {
    3600
}

/// Open hours, ready to ask.
pub struct Hours {
    zone: Tz,
    open: HashMap<Weekday, Vec<(NaiveTime, NaiveTime)>>,
    holidays: Vec<NaiveDate>,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

fn range(text: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let bad = || format!("'{text}' is not a range like \"09:00-18:00\"");
    let (from, to) = text.split_once('-').ok_or_else(bad)?;
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
    let (from, to) = (time(from)?, time(to)?);
    if from >= to {
        return Err(format!("'{text}' ends before it starts"));
    }
    Ok((from, to))
}

impl Hours {
    pub fn from_config(c: &AwayConfig) -> Result<Self, String> {
        let zone: Tz = c.time_zone.parse().map_err(|_| format!("'{}' is not an IANA time zone", c.time_zone))?;
        let mut open = HashMap::new();
        for (day, ranges) in &c.hours {
            let Some((_, weekday)) = DAYS.iter().find(|(name, _)| name == day) else {
                return Err(format!("'{day}' is not a day (mon, tue, wed, thu, fri, sat, sun)"));
            };
            open.insert(*weekday, ranges.iter().map(|r| range(r)).collect::<Result<Vec<_>, _>>()?);
        }
        let holidays = c
            .holidays
            .iter()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| format!("'{d}' is not a date like 2026-12-25"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Hours { zone, open, holidays })
    }

    /// Whether `at` falls in open hours.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.zone);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let now = local.time();
        self.open.get(&local.weekday()).is_some_and(|ranges| ranges.iter().any(|(from, to)| *from <= now && now < *to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(config: serde_json::Value) -> Result<Hours, String> {
        Hours::from_config(&serde_json::from_value(config).unwrap())
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn open_hours_follow_the_time_zone_and_holidays() {
        let h = hours(serde_json::json!({
            "timeZone": "America/Sao_Paulo", "message": "x",
            "hours": { "mon": ["09:00-12:00", "13:00-18:00"], "sat": ["09:00-13:00"] },
            "holidays": ["2026-12-14"] }))
        .unwrap();
        // Monday 2026-12-07; Sao Paulo is UTC-3.
        assert!(h.is_open(at("2026-12-07T12:30:00Z")), "09:30 there");
        assert!(!h.is_open(at("2026-12-07T11:30:00Z")), "08:30 there");
        assert!(!h.is_open(at("2026-12-07T15:30:00Z")), "12:30 there: lunch");
        assert!(!h.is_open(at("2026-12-07T21:00:00Z")), "18:00 there: closed");
        assert!(!h.is_open(at("2026-12-08T12:30:00Z")), "Tuesday is not listed");
        assert!(h.is_open(at("2026-12-12T13:00:00Z")), "Saturday 10:00");
        assert!(!h.is_open(at("2026-12-14T12:30:00Z")), "a holiday Monday");
    }

    #[test]
    fn bad_schedules_are_refused_with_a_reason() {
        for (config, needle) in [
            (serde_json::json!({ "timeZone": "Mars/Base", "message": "x" }), "not an IANA time zone"),
            (
                serde_json::json!({ "timeZone": "UTC", "message": "x", "hours": { "monday": [] } }),
                "'monday' is not a day",
            ),
            (serde_json::json!({ "timeZone": "UTC", "message": "x", "hours": { "mon": ["9-5"] } }), "not a range"),
            (
                serde_json::json!({ "timeZone": "UTC", "message": "x", "hours": { "mon": ["18:00-09:00"] } }),
                "ends before",
            ),
            (serde_json::json!({ "timeZone": "UTC", "message": "x", "holidays": ["25/12"] }), "not a date"),
        ] {
            let err = hours(config).err().expect("refused");
            assert!(err.contains(needle), "{err}");
        }
    }
}
