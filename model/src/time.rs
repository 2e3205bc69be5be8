//! Every timestamp leaves the gateway as ISO 8601 with milliseconds and `Z`
//! (`2024-01-15T10:30:00.000Z`, what JavaScript's `Date#toISOString` prints and what the seed
//! frontends show), whatever precision it was taken or stored with. Fields opt in with
//! `#[serde(serialize_with = "time::millis")]` (or `millis_opt` for options).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso(*t))
}

pub fn millis_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => millis(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn always_three_fraction_digits() {
        let whole = Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 0).unwrap();
        assert_eq!(iso(whole), "2024-01-15T10:30:00.000Z");
        let nanos = whole + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(iso(nanos), "2024-01-15T10:30:00.123Z");
        #[derive(serde::Serialize)]
        struct T {
            #[serde(serialize_with = "millis")]
            a: DateTime<Utc>,
            #[serde(serialize_with = "millis_opt")]
            b: Option<DateTime<Utc>>,
            #[serde(serialize_with = "millis_opt")]
            c: Option<DateTime<Utc>>,
        }
        let json = serde_json::to_string(&T { a: nanos, b: Some(whole), c: None }).unwrap();
        assert_eq!(json, r#"{"a":"2024-01-15T10:30:00.123Z","b":"2024-01-15T10:30:00.000Z","c":null}"#);
    }
}
