//! `MM/DD/YYYY HH:MM:SS` without a zone, parsed by hand: this runs once per row of files with
//! tens of millions of rows, and a general-purpose parser costs more than the rest of the row.

/// Seconds since 1970-01-01T00:00:00 of a CERT local time, read as if it were UTC (the caller
/// subtracts the configured offset). Month, day and hour may have one digit (r2 wrote
/// `1/4/2010 8:47:00`); the year must have four. `None` if the text is not such a time.
pub(crate) fn parse_local_seconds(text: &[u8]) -> Option<i64> {
    let mut cursor = Cursor { text, at: 0 };
    let month = cursor.number(1, 2)?;
    cursor.expect(b'/')?;
    let day = cursor.number(1, 2)?;
    cursor.expect(b'/')?;
    let year = cursor.number(4, 4)?;
    cursor.expect(b' ')?;
    let hour = cursor.number(1, 2)?;
    cursor.expect(b':')?;
    let minute = cursor.number(2, 2)?;
    cursor.expect(b':')?;
    let second = cursor.number(2, 2)?;
    if cursor.at != text.len() {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second))
}

struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn number(&mut self, min_digits: usize, max_digits: usize) -> Option<u32> {
        let mut value = 0u32;
        let mut digits = 0;
        while digits < max_digits {
            match self.text.get(self.at) {
                Some(byte) if byte.is_ascii_digit() => {
                    value = value * 10 + u32::from(byte - b'0');
                    digits += 1;
                    self.at += 1;
                }
                _ => break,
            }
        }
        (digits >= min_digits).then_some(value)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        if self.text.get(self.at) == Some(&byte) {
            self.at += 1;
            Some(())
        } else {
            None
        }
    }
}

pub(crate) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn reference(text: &str) -> i64 {
        let civil = jiff::civil::DateTime::strptime("%m/%d/%Y %H:%M:%S", text).unwrap();
        jiff::tz::Offset::UTC
            .to_timestamp(civil)
            .unwrap()
            .as_second()
    }

    #[test]
    fn agrees_with_jiff_on_ordinary_and_edge_dates() {
        for text in [
            "01/02/2010 06:49:00",
            "12/31/1999 23:59:59",
            "02/29/2012 12:00:00",
            "03/01/2100 00:00:00",
            "01/01/1970 00:00:00",
            "06/15/1960 08:30:01",
        ] {
            assert_eq!(
                parse_local_seconds(text.as_bytes()),
                Some(reference(text)),
                "{text}"
            );
        }
    }

    #[test]
    fn one_digit_month_day_and_hour_are_read() {
        assert_eq!(
            parse_local_seconds(b"1/4/2010 8:47:00"),
            Some(reference("01/04/2010 08:47:00"))
        );
    }

    #[test]
    fn impossible_or_malformed_times_are_refused() {
        for text in [
            "02/29/2011 00:00:00",
            "13/01/2010 00:00:00",
            "00/01/2010 00:00:00",
            "01/32/2010 00:00:00",
            "01/01/2010 24:00:00",
            "01/01/2010 00:60:00",
            "01/01/2010 00:00:60",
            "01/01/10 00:00:00",
            "2010-01-01 00:00:00",
            "01/01/2010 00:00:00 ",
            "01/01/2010",
            "",
        ] {
            assert_eq!(parse_local_seconds(text.as_bytes()), None, "{text}");
        }
    }
}
