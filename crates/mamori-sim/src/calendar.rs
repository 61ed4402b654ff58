//! Days, statutory holidays and the two time formats written: CERT's `MM/DD/YYYY HH:MM:SS`
//! (local time without a zone) and RFC 3339 with offset `+00:00` for events (the CERT local
//! time read as UTC).

use jiff::civil::{Date, Weekday};

/// Seconds in a day.
pub const DAY_SECONDS: u32 = 86_400;

/// Whether `date` is a Saturday or Sunday.
pub fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// US federal-style statutory holidays (as in the CERT data): New Year's Day, Memorial Day,
/// Independence Day, Labor Day, Thanksgiving and Christmas Day, moved to the nearest weekday
/// when they fall on a weekend.
pub fn is_holiday(date: Date) -> bool {
    let year = date.year();
    let fixed = [(1, 1), (7, 4), (12, 25)];
    for (month, day) in fixed {
        let Ok(holiday) = Date::new(year, month, day) else {
            continue;
        };
        let observed = match holiday.weekday() {
            Weekday::Saturday => holiday.yesterday().ok(),
            Weekday::Sunday => holiday.tomorrow().ok(),
            _ => Some(holiday),
        };
        if observed == Some(date) {
            return true;
        }
    }
    let (month, weekday) = (date.month(), date.weekday());
    let nth = (date.day() - 1) / 7 + 1;
    let last_of_month = date.days_in_month() - date.day() < 7;
    (month == 5 && weekday == Weekday::Monday && last_of_month)
        || (month == 9 && weekday == Weekday::Monday && nth == 1)
        || (month == 11 && weekday == Weekday::Thursday && nth == 4)
}

/// Whether most people work on `date`.
pub fn is_workday(date: Date) -> bool {
    !is_weekend(date) && !is_holiday(date)
}

/// The per-day prefixes of both time formats, computed once per day.
#[derive(Debug, Clone)]
pub struct DayStamp {
    /// `MM/DD/YYYY`
    pub cert: String,
    /// `YYYY-MM-DD`
    pub iso: String,
}

impl DayStamp {
    pub fn new(date: Date) -> Self {
        DayStamp {
            cert: format!("{:02}/{:02}/{:04}", date.month(), date.day(), date.year()),
            iso: format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
        }
    }

    /// `MM/DD/YYYY HH:MM:SS`
    pub fn cert_time(&self, second: u32) -> String {
        let (h, m, s) = hms(second);
        format!("{} {h:02}:{m:02}:{s:02}", self.cert)
    }

    /// `YYYY-MM-DDTHH:MM:SS`, without a zone (as a directory export writes local times).
    pub fn local_time(&self, second: u32) -> String {
        let (h, m, s) = hms(second);
        format!("{}T{h:02}:{m:02}:{s:02}", self.iso)
    }

    /// `YYYY-MM-DDTHH:MM:SS+00:00`
    pub fn rfc3339(&self, second: u32) -> String {
        let (h, m, s) = hms(second);
        format!("{}T{h:02}:{m:02}:{s:02}+00:00", self.iso)
    }
}

fn hms(second: u32) -> (u32, u32, u32) {
    debug_assert!(second < DAY_SECONDS, "second of day out of range: {second}");
    (second / 3600, second / 60 % 60, second % 60)
}

/// ISO form of a date (`YYYY-MM-DD`), as HR files and truth records write it.
pub fn iso(date: Date) -> String {
    DayStamp::new(date).iso
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn holidays_follow_the_rules() {
        assert!(is_holiday(date(2010, 1, 1)));
        assert!(is_holiday(date(2010, 5, 31))); // last Monday of May
        assert!(!is_holiday(date(2010, 5, 24)));
        assert!(is_holiday(date(2010, 7, 5))); // 4 July 2010 is a Sunday
        assert!(is_holiday(date(2010, 9, 6)));
        assert!(is_holiday(date(2010, 11, 25)));
        assert!(is_holiday(date(2010, 12, 24))); // 25 Dec 2010 is a Saturday
        assert!(!is_workday(date(2010, 1, 9)));
        assert!(is_workday(date(2010, 1, 4)));
    }

    #[test]
    fn stamps_format_both_ways() {
        let stamp = DayStamp::new(date(2010, 1, 4));
        assert_eq!(
            stamp.cert_time(7 * 3600 + 5 * 60 + 9),
            "01/04/2010 07:05:09"
        );
        assert_eq!(stamp.rfc3339(86_399), "2010-01-04T23:59:59+00:00");
    }
}
