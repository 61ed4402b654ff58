//! Strict RFC 3339 parsing and the canonical UTC rendering of event times.
//!
//! Input: `YYYY-MM-DD` `T` (or `t` or a space) `hh:mm:ss` with an optional fraction of 1 to 9
//! digits, then `Z` (or `z`) or a numeric offset `±hh:mm`. A leap second (`:60`) is accepted
//! and clamped to `:59`, as most systems do. The instant must lie between
//! `0000-01-01T00:00:00Z` and `9999-12-30T22:00:00.999999999Z` (the end of `jiff::Timestamp`'s
//! range), so that its canonical rendering is again a four-digit-year RFC 3339 timestamp.
//!
//! Output (canonical): UTC with `Z`, fraction present only when non-zero and without trailing
//! zeros, e.g. `2026-01-05T00:12:00Z`, `2026-01-05T00:12:00.5Z`, `2026-01-05T00:12:00.000000001Z`.

use jiff::Timestamp;

const SECS_PER_DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z.
const MIN_SECS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z.
const MAX_SECS: i64 = 253_402_300_799;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parses `n` ASCII digits at `b[at..at + n]`.
fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let mut v = 0i64;
    for &c in b.get(at..at + n)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn expect(b: &[u8], at: usize, allowed: &[u8]) -> Option<()> {
    allowed.contains(b.get(at)?).then_some(())
}

/// Parses a strict RFC 3339 date-time; `None` if it is not one (or out of range).
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    expect(b, 4, b"-")?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b"-")?;
    let day = digits(b, 8, 2)?;
    expect(b, 10, b"Tt ")?;
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b":")?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b":")?;
    let mut second = digits(b, 17, 2)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    if second == 60 {
        second = 59;
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        let n = at - start;
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(b, start, n)? * 10i64.pow(9 - u32::try_from(n).ok()?);
    }
    let offset = match *b.get(at)? {
        b'Z' | b'z' => {
            at += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let oh = digits(b, at + 1, 2)?;
            expect(b, at + 3, b":")?;
            let om = digits(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            at += 6;
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    if at != b.len() {
        return None;
    }
    let secs =
        days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second
            - offset;
    if !(MIN_SECS..=MAX_SECS).contains(&secs) {
        return None;
    }
    Timestamp::new(secs, i32::try_from(nanos).ok()?).ok()
}

/// A rendered timestamp (no allocation).
pub(crate) struct TimeText {
    buf: [u8; 40],
    len: usize,
}

impl TimeText {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII is ever written into the buffer.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    fn push(&mut self, c: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = c;
            self.len += 1;
        }
    }

    fn push_num(&mut self, v: i64, width: u32) {
        let mut div = 10i64.pow(width - 1);
        while div > 0 {
            self.push(b'0' + u8::try_from((v / div) % 10).unwrap_or(0));
            div /= 10;
        }
    }
}

/// Renders an instant in canonical form: UTC, `Z`, minimal fraction.
pub(crate) fn format_rfc3339(ts: Timestamp) -> TimeText {
    let mut secs = ts.as_second();
    let mut nanos = i64::from(ts.subsec_nanosecond());
    if nanos < 0 {
        secs -= 1;
        nanos += 1_000_000_000;
    }
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let mut t = TimeText {
        buf: [0; 40],
        len: 0,
    };
    if (0..=9999).contains(&year) {
        t.push_num(year, 4);
    } else {
        // ISO 8601 expanded year; never produced by parsing (years 0000–9999 only).
        t.push(if year < 0 { b'-' } else { b'+' });
        t.push_num(year.abs(), 6);
    }
    t.push(b'-');
    t.push_num(month, 2);
    t.push(b'-');
    t.push_num(day, 2);
    t.push(b'T');
    t.push_num(sod / 3600, 2);
    t.push(b':');
    t.push_num(sod / 60 % 60, 2);
    t.push(b':');
    t.push_num(sod % 60, 2);
    if nanos != 0 {
        t.push(b'.');
        let mut width = 9;
        while nanos % 10 == 0 {
            nanos /= 10;
            width -= 1;
        }
        t.push_num(nanos, width);
    }
    t.push(b'Z');
    t
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn bounds_are_the_documented_instants() {
        assert_eq!(days_from_civil(0, 1, 1) * SECS_PER_DAY, MIN_SECS);
        assert_eq!(
            days_from_civil(9999, 12, 31) * SECS_PER_DAY + SECS_PER_DAY - 1,
            MAX_SECS
        );
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        for d in [-800_000, -1, 0, 1, 59, 60, 10_957, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn parse_and_format() {
        let cases = [
            ("2026-01-05T09:12:00Z", "2026-01-05T09:12:00Z"),
            ("2026-01-05T18:12:00+09:00", "2026-01-05T09:12:00Z"),
            ("2026-01-05t09:12:00.500z", "2026-01-05T09:12:00.5Z"),
            (
                "2026-01-05 09:12:00.000000001-00:30",
                "2026-01-05T09:42:00.000000001Z",
            ),
            ("2024-02-29T23:59:60Z", "2024-02-29T23:59:59Z"),
            ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
            ("1969-12-31T23:59:59.25Z", "1969-12-31T23:59:59.25Z"),
            (
                "9999-12-30T22:00:00.999999999Z",
                "9999-12-30T22:00:00.999999999Z",
            ),
            ("9999-12-31T09:00:00+11:00", "9999-12-30T22:00:00Z"),
        ];
        for (input, want) in cases {
            let ts = parse_rfc3339(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(format_rfc3339(ts).as_str(), want, "{input}");
            let jiff: Timestamp = input
                .replace(['t', ' '], "T")
                .replace('z', "Z")
                .parse()
                .unwrap();
            if !input.contains(":60") {
                assert_eq!(ts, jiff, "{input}");
            }
        }
    }

    #[test]
    fn rejects() {
        for bad in [
            "2026-13-01",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-05T24:00:00Z",
            "2026-01-05T09:60:00Z",
            "2026-01-05T09:12Z",
            "2026-01-05T09:12:00",
            "2026-01-05T09:12:00.Z",
            "2026-01-05T09:12:00.1234567890Z",
            "2026-01-05T09:12:00+0900",
            "2026-01-05T09:12:00+24:00",
            "2026-01-05T09:12:00Z ",
            "0000-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
            "9999-12-30T22:00:01Z",
            "+2026-01-05T09:12:00Z",
            "２０２６-01-05T09:12:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad}");
        }
    }
}
