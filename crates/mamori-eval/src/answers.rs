//! Answer keys in the official CERT layout.
//!
//! ```text
//! answers/insiders.csv                       dataset,scenario,details,user,start,end
//! answers/r<dataset>-<scenario>/<details>    one line per malicious record:
//!                                            <type>,<id>,<MM/DD/YYYY HH:MM:SS>,<user>,...
//! ```
//!
//! `start`/`end` are `MM/DD/YYYY HH:MM:SS` (some copies write `YYYY-MM-DD HH:MM:SS`; both are
//! read). Times carry no zone and are read as UTC, as the CERT importer does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::EvalError;

/// One malicious insider incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub dataset: String,
    pub scenario: String,
    /// The account (CERT user id) that acted.
    pub user: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The malicious records, from the incident's file (empty if the file is missing).
    pub records: Vec<AnswerRecord>,
}

/// One line of an incident file.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRecord {
    /// `logon`, `device`, `file`, `http`, `email`.
    pub kind: String,
    /// The record id, e.g. `{X1D9-S0ES98JV-5357PWMI}`: the imported event's `source.ref`.
    pub id: String,
    pub time: Timestamp,
    pub user: String,
}

/// An answer key: the incidents of one or more datasets.
#[derive(Debug, Clone, Default)]
pub struct AnswerKey {
    pub incidents: Vec<Incident>,
    /// Incident files named by `insiders.csv` that were not found.
    pub missing_files: Vec<PathBuf>,
}

impl AnswerKey {
    /// Reads `dir/insiders.csv` and each incident's file. With `dataset`, only that dataset's
    /// incidents (`4.2`, or `r4.2`) are kept.
    pub fn read(dir: &Path, dataset: Option<&str>) -> Result<AnswerKey, EvalError> {
        let wanted = dataset.map(|d| d.trim_start_matches('r').to_owned());
        let path = dir.join("insiders.csv");
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(&path)
            .map_err(|e| EvalError::file(&path, e.to_string()))?;
        let headers = reader
            .headers()
            .map_err(|e| EvalError::file(&path, e.to_string()))?
            .clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
                .ok_or_else(|| EvalError::file(&path, format!("no {name:?} column in the header")))
        };
        let (c_dataset, c_scenario, c_details, c_user, c_start, c_end) = (
            column("dataset")?,
            column("scenario")?,
            column("details")?,
            column("user")?,
            column("start")?,
            column("end")?,
        );
        let mut key = AnswerKey::default();
        for (row, record) in reader.records().enumerate() {
            let line = row + 2;
            let record = record.map_err(|e| EvalError::line(&path, line, e.to_string()))?;
            let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
            let dataset = field(c_dataset).trim_start_matches('r').to_owned();
            if wanted.as_ref().is_some_and(|w| *w != dataset) {
                continue;
            }
            let time = |i: usize, what: &str| {
                parse_time(field(i)).ok_or_else(|| {
                    EvalError::line(&path, line, format!("{what} {:?} is not a time", field(i)))
                })
            };
            let scenario = field(c_scenario).to_owned();
            let details = field(c_details);
            if details.contains(['/', '\\']) || details.starts_with('.') {
                return Err(EvalError::line(
                    &path,
                    line,
                    format!("bad details {details:?}"),
                ));
            }
            let file = dir.join(format!("r{dataset}-{scenario}")).join(details);
            let records = if details.is_empty() {
                Vec::new()
            } else if file.is_file() {
                read_incident_file(&file)?
            } else {
                key.missing_files.push(file);
                Vec::new()
            };
            key.incidents.push(Incident {
                user: field(c_user).to_owned(),
                start: time(c_start, "start")?,
                end: time(c_end, "end")?,
                dataset,
                scenario,
                records,
            });
        }
        Ok(key)
    }

    /// Incidents per scenario, in scenario order.
    pub fn by_scenario(&self) -> BTreeMap<String, Vec<&Incident>> {
        let mut map: BTreeMap<String, Vec<&Incident>> = BTreeMap::new();
        for incident in &self.incidents {
            map.entry(incident.scenario.clone())
                .or_default()
                .push(incident);
        }
        map
    }
}

fn read_incident_file(path: &Path) -> Result<Vec<AnswerRecord>, EvalError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|e| EvalError::file(path, e.to_string()))?;
    let mut records = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 1;
        let record = record.map_err(|e| EvalError::line(path, line, e.to_string()))?;
        let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        let time = parse_time(field(2)).ok_or_else(|| {
            EvalError::line(path, line, format!("date {:?} is not a time", field(2)))
        })?;
        records.push(AnswerRecord {
            kind: field(0).to_owned(),
            id: field(1).to_owned(),
            time,
            user: field(3).to_owned(),
        });
    }
    Ok(records)
}

/// `MM/DD/YYYY HH:MM:SS` or `YYYY-MM-DD HH:MM:SS`, as UTC; month, day and hour may lack their
/// leading zero (`1/2/2010 7:05:00`), as some copies of the answer key write them.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let (date, time) = text.trim().split_once(' ')?;
    let (year, month, day) = if date.contains('/') {
        let mut parts = date.split('/');
        let (month, day, year) = (parts.next()?, parts.next()?, parts.next()?);
        (year, month, day)
    } else {
        let mut parts = date.split('-');
        (parts.next()?, parts.next()?, parts.next()?)
    };
    let mut clock = time.split(':');
    let (hour, minute, second) = (clock.next()?, clock.next()?, clock.next()?);
    if clock.next().is_some() {
        return None;
    }
    let number = |text: &str, digits: std::ops::RangeInclusive<usize>| {
        (digits.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<i16>().ok())
            .flatten()
    };
    let civil = jiff::civil::DateTime::new(
        number(year, 4..=4)?,
        i8::try_from(number(month, 1..=2)?).ok()?,
        i8::try_from(number(day, 1..=2)?).ok()?,
        i8::try_from(number(hour, 1..=2)?).ok()?,
        i8::try_from(number(minute, 2..=2)?).ok()?,
        i8::try_from(number(second, 2..=2)?).ok()?,
        0,
    )
    .ok()?;
    jiff::tz::Offset::UTC.to_timestamp(civil).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn both_time_forms() {
        let a = parse_time("10/23/2010 01:01:16").unwrap();
        assert_eq!(a.to_string(), "2010-10-23T01:01:16Z");
        assert_eq!(parse_time("2010-10-23 01:01:16"), Some(a));
        assert_eq!(
            parse_time("1/2/2010 07:05:00").unwrap().to_string(),
            "2010-01-02T07:05:00Z"
        );
        assert_eq!(
            parse_time("1/2/2010 7:05:00").unwrap().to_string(),
            "2010-01-02T07:05:00Z"
        );
        assert_eq!(parse_time("13/45/2010 00:00:00"), None);
        assert_eq!(parse_time("02/29/2010 00:00:00"), None);
        assert_eq!(parse_time("01/02/2010 24:00:00"), None);
        assert_eq!(parse_time("01/02/2010 07:05"), None);
        assert_eq!(parse_time("01/02/10 07:05:00"), None);
        assert_eq!(parse_time(""), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in ".{0,40}") {
            let _ = parse_time(&text);
        }

        #[test]
        fn valid_times_round_trip(second in 0i64..4_102_444_800) {
            let time = Timestamp::from_second(second).unwrap();
            let civil = jiff::tz::Offset::UTC.to_datetime(time);
            let text = format!(
                "{}/{}/{} {}:{:02}:{:02}",
                civil.month(), civil.day(), civil.year(), civil.hour(), civil.minute(), civil.second()
            );
            proptest::prop_assert_eq!(parse_time(&text), Some(time));
        }
    }
}
