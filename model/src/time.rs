//! Every timestamp leaves the gateway as ISO 8601 with milliseconds and `Z`
//! (`2024-01-15T10:30:00.000Z`, what JavaScript's `Date#toISOString` prints and what the seed
//! frontends show), whatever precision it was taken or stored with. Fields opt in with
//! `#[serde(serialize_with = "time::millis", deserialize_with = "time::read")]` (or the
//! `_opt` pair for options).
//!
//! Every event a plugin handles carries several timestamps, written by the host and read by
//! the plugin (in wasm, where chrono's general parser and `fmt` machinery cost more than the
//! rest of a small event's decoding): the exact shape above is written and read digit by
//! digit here; anything else that is valid RFC 3339 is read by chrono.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

const LEN: usize = 24;

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` into `buf`; `None` for years outside 0..=9999.
fn write<'b>(t: &DateTime<Utc>, buf: &'b mut [u8; LEN]) -> Option<&'b str> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let put = |buf: &mut [u8; LEN], at: usize, digits: usize, mut v: u32| {
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    *buf = *b"0000-00-00T00:00:00.000Z";
    put(buf, 0, 4, year);
    put(buf, 5, 2, t.month());
    put(buf, 8, 2, t.day());
    put(buf, 11, 2, t.hour());
    put(buf, 14, 2, t.minute());
    // A leap second reads as second 60, as chrono prints it.
    put(buf, 17, 2, t.second() + t.nanosecond() / 1_000_000_000);
    put(buf, 20, 3, t.nanosecond() % 1_000_000_000 / 1_000_000);
    std::str::from_utf8(buf).ok()
}

pub fn iso(t: DateTime<Utc>) -> String {
    let mut buf = [0; LEN];
    match write(&t, &mut buf) {
        Some(text) => text.to_owned(),
        None => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }
}

pub fn millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0; LEN];
    match write(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&iso(*t)),
    }
}

pub fn millis_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => millis(t, s),
        None => s.serialize_none(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` read digit by digit (1 to 9 fraction digits).
fn parse_exact(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let shape = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z';
    if !shape {
        return None;
    }
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            num(20..20 + fraction.len())? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    Some(date.and_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?.and_utc())
}

/// A timestamp as RFC 3339 text: the gateway's own shape quickly, any other through chrono.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    parse_exact(text).or_else(|| text.parse().ok())
}

pub fn read<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not an RFC 3339 timestamp")))
}

pub fn read_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match <Option<std::borrow::Cow<'de, str>>>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not an RFC 3339 timestamp"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, TimeZone};

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

    #[test]
    fn the_fast_paths_agree_with_chrono() {
        let mut t = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap();
        // Dates across leap years, month ends and every millisecond digit.
        for step in 0..20_000i64 {
            t += chrono::Duration::milliseconds(step * 7_919_777 + 13);
            let text = iso(t);
            assert_eq!(text, t.to_rfc3339_opts(SecondsFormat::Millis, true));
            let back = parse(&text).unwrap();
            assert_eq!(back, text.parse::<DateTime<Utc>>().unwrap(), "{text}");
        }
        for text in ["2024-02-29T23:59:59Z", "2024-01-15T10:30:00.5Z", "2024-01-15T10:30:00.123456789Z"] {
            assert_eq!(parse_exact(text), Some(text.parse::<DateTime<Utc>>().unwrap()), "{text}");
        }
        // Other RFC 3339 spellings go to chrono; nonsense is refused by both.
        for other in ["2024-01-15T12:30:00+02:00", "2024-01-15 10:30:00Z", "2024-01-15t10:30:00z"] {
            assert_eq!(parse_exact(other), None);
            assert_eq!(parse(other), other.parse::<DateTime<Utc>>().ok(), "{other}");
        }
        for bad in
            ["2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-15T24:00:00Z", "2024-01-15T10:30:00.Z", "x", ""]
        {
            assert_eq!(parse(bad), None, "{bad}");
        }
        let far = Utc.with_ymd_and_hms(12345, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(iso(far), far.to_rfc3339_opts(SecondsFormat::Millis, true));
    }

    #[test]
    fn fields_read_what_they_write() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(serialize_with = "millis", deserialize_with = "read")]
            a: DateTime<Utc>,
            #[serde(default, serialize_with = "millis_opt", deserialize_with = "read_opt")]
            b: Option<DateTime<Utc>>,
        }
        let t = T { a: Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 0).unwrap(), b: None };
        assert_eq!(serde_json::from_str::<T>(&serde_json::to_string(&t).unwrap()).unwrap(), t);
        assert_eq!(serde_json::from_str::<T>(r#"{"a":"2024-01-15T10:30:00.000Z"}"#).unwrap(), t);
        let err = serde_json::from_str::<T>(r#"{"a":"yesterday"}"#).unwrap_err().to_string();
        assert!(err.contains("'yesterday' is not an RFC 3339 timestamp"), "{err}");
    }
}
