//! What detection concludes: risk scores and levels per person and day, and rule findings
//! (alerts are in module `alerts`).
//!
//! Analytics (`mamori-detect`) write these tables; evaluation and the console read them. A
//! person-day without a row has score 0.

use std::collections::HashMap;

use rusqlite::params;

use crate::alerts::Level;
use crate::postings::{Dimension, Postings};
use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
-- The feature vector of each analysed person-day (little-endian f64s in feature order), so
-- that an incremental analysis can rebuild its baselines without reading old events again.
CREATE TABLE IF NOT EXISTS person_day_features (
    day       INTEGER NOT NULL, -- local days since 1970-01-01
    person_id TEXT NOT NULL,
    vector    BLOB NOT NULL,
    PRIMARY KEY (day, person_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person_day_scores (
    person_id TEXT NOT NULL,
    day       INTEGER NOT NULL, -- days since 1970-01-01 (UTC)
    score     REAL NOT NULL,
    PRIMARY KEY (person_id, day)
) WITHOUT ROWID;
-- What a detection rule found: the rule as it credits itself (the Sigma licence asks that
-- findings name the author) and the events (ledger leaves) that make the finding.
CREATE TABLE IF NOT EXISTS rule_findings (
    id         INTEGER PRIMARY KEY,
    rule_id    TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    rule_kind  TEXT NOT NULL, -- detection, or the correlation type
    level      TEXT,
    author     TEXT,
    account    TEXT NOT NULL,
    person_id  TEXT,
    first_us   INTEGER NOT NULL,
    last_us    INTEGER NOT NULL,
    events     TEXT NOT NULL, -- JSON list of leaf indexes, ascending
    UNIQUE (rule_id, events)
);
CREATE INDEX IF NOT EXISTS rule_findings_time ON rule_findings(first_us);
-- Analyses read the findings of a period by their last event.
CREATE INDEX IF NOT EXISTS rule_findings_last ON rule_findings(last_us);
";

/// Columns added to `person_day_scores` since the first builds: a risk day's level and
/// explanation (NULL for scores stored by [`EventStore::store_scores`]).
const ADDED_SCORE_COLUMNS: &[(&str, &str)] = &[("level", "TEXT"), ("details", "TEXT")];

/// Adds the missing columns to a `person_day_scores` table of an older build. Runs inside the
/// transaction of `EventStore::open`.
pub(crate) fn upgrade(conn: &rusqlite::Connection) -> Result<()> {
    crate::upgrade::add_missing_columns(conn, "person_day_scores", ADDED_SCORE_COLUMNS)?;
    // The dashboard counts persons by level per day over recent days.
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS person_day_scores_day ON person_day_scores(day, level)",
    )?;
    Ok(())
}

/// A person's risk on one day, as the risk engine concludes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RiskDay {
    pub person_id: String,
    /// The local day number (days since 1970-01-01).
    pub day: i64,
    pub score: f64,
    pub level: Level,
    /// The explanation (indicators, contributions).
    pub details: serde_json::Value,
}

/// One finding of a detection or correlation rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleFinding {
    /// The rule's Sigma id (or, for a rule without one, its `file:line`).
    pub rule_id: String,
    pub rule_title: String,
    /// `detection`, or the correlation type (`event_count`, `temporal`, …).
    pub rule_kind: String,
    pub level: Option<String>,
    pub author: Option<String>,
    pub account: String,
    pub person_id: Option<String>,
    pub first_us: i64,
    pub last_us: i64,
    /// Ledger leaf indexes of the events behind the finding, ascending.
    pub events: Vec<u64>,
}

/// Microseconds per day.
const DAY_US: i64 = 86_400_000_000;

/// The UTC day number (days since 1970-01-01) of a time in microseconds.
pub fn day_of(time_us: i64) -> i64 {
    time_us.div_euclid(DAY_US)
}

impl EventStore {
    /// Stores findings; one already stored (same rule, same events) is left as it is, so
    /// running rules again over the same history adds nothing. Returns how many were new.
    pub fn add_rule_findings(&mut self, findings: &[RuleFinding]) -> Result<u64> {
        let tx = self.conn.transaction()?;
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO rule_findings
                 (rule_id, rule_title, rule_kind, level, author, account, person_id,
                  first_us, last_us, events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for f in findings {
                let events = serde_json::to_string(&f.events)
                    .map_err(|e| StoreError::Corrupt(format!("finding events: {e}")))?;
                added += insert.execute(params![
                    f.rule_id,
                    f.rule_title,
                    f.rule_kind,
                    f.level,
                    f.author,
                    f.account,
                    f.person_id,
                    f.first_us,
                    f.last_us,
                    events
                ])? as u64;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Every stored rule finding, oldest first.
    pub fn rule_findings(&self) -> Result<Vec<RuleFinding>> {
        self.rule_findings_ending(i64::MIN, i64::MAX)
    }

    /// The findings whose last event is in `[from_us, to_us)`, by first event time.
    pub fn rule_findings_ending(&self, from_us: i64, to_us: i64) -> Result<Vec<RuleFinding>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rule_id, rule_title, rule_kind, level, author, account, person_id,
                    first_us, last_us, events
             FROM rule_findings WHERE last_us >= ?1 AND last_us < ?2 ORDER BY first_us, id",
        )?;
        let mut rows = stmt.query([from_us, to_us])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let events: String = row.get(9)?;
            let events = serde_json::from_str(&events)
                .map_err(|e| StoreError::Corrupt(format!("rule finding events {events:?}: {e}")))?;
            out.push(RuleFinding {
                rule_id: row.get(0)?,
                rule_title: row.get(1)?,
                rule_kind: row.get(2)?,
                level: row.get(3)?,
                author: row.get(4)?,
                account: row.get(5)?,
                person_id: row.get(6)?,
                first_us: row.get(7)?,
                last_us: row.get(8)?,
                events,
            });
        }
        Ok(out)
    }

    /// Every `(account, day)` with at least one stored event, read from the account postings
    /// and the event rows not in postings yet (no event body is read).
    pub fn active_account_days(&self) -> Result<HashMap<String, Vec<i64>>> {
        // Read first: a flush by another connection in between only counts events twice.
        let unwritten_from = crate::events::postings_through(&self.conn)?;
        let mut stmt = self.conn.prepare(
            "SELECT p.id, n.name, p.first_us, p.count, p.data
             FROM postings AS p JOIN names AS n ON n.id = p.key_id
             WHERE p.dimension = ?1",
        )?;
        let mut rows = stmt.query([Dimension::Account as i64])?;
        let mut days: HashMap<String, Vec<i64>> = HashMap::new();
        while let Some(row) = rows.next()? {
            let (id, account, first_us, count): (i64, String, i64, i64) =
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
            let data = row.get_ref(4)?.as_blob().map_err(rusqlite::Error::from)?;
            let postings = usize::try_from(count)
                .map_err(|_| format!("negative count {count}"))
                .and_then(|count| Postings::decode(first_us, count, data))
                .map_err(|reason| StoreError::Corrupt(format!("postings row {id}: {reason}")))?;
            let list = days.entry(account).or_default();
            list.extend(postings.pairs.iter().map(|&(time, _)| day_of(time)));
        }
        let mut unwritten = self.conn.prepare(
            "SELECT n.name, e.time_us FROM events AS e JOIN names AS n ON n.id = e.account_id
             WHERE e.leaf_index >= ?1",
        )?;
        let mut rows = unwritten.query([i64::try_from(unwritten_from).unwrap_or(i64::MAX)])?;
        while let Some(row) = rows.next()? {
            let (account, time_us): (String, i64) = (row.get(0)?, row.get(1)?);
            days.entry(account).or_default().push(day_of(time_us));
        }
        for list in days.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        Ok(days)
    }

    /// Stores (replacing) scores of person-days.
    pub fn store_scores(&mut self, scores: &[(String, i64, f64)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO person_day_scores(person_id, day, score) VALUES (?1, ?2, ?3)",
            )?;
            for (person, day, score) in scores {
                insert.execute(params![person, day, score])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores the risk of person-days, replacing rows (scores included) of the same person
    /// and day.
    pub fn store_risk_days(&mut self, days: &[RiskDay]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO person_day_scores(person_id, day, score, level, details)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for day in days {
                insert.execute(params![
                    day.person_id,
                    day.day,
                    day.score,
                    day.level.as_str(),
                    day.details.to_string()
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores (replacing) the feature vectors of person-days: `(person, day, values)`.
    pub fn store_day_features(&mut self, rows: &[(String, i64, Vec<f64>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO person_day_features(day, person_id, vector) VALUES (?1, ?2, ?3)",
            )?;
            let mut blob = Vec::new();
            for (person, day, values) in rows {
                blob.clear();
                blob.extend(values.iter().flat_map(|v| v.to_le_bytes()));
                insert.execute(params![day, person, blob])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The stored feature vectors of days in `[from_day, to_day)`, by day, then person.
    pub fn day_features(&self, from_day: i64, to_day: i64) -> Result<Vec<(String, i64, Vec<f64>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT person_id, day, vector FROM person_day_features
             WHERE day >= ?1 AND day < ?2 ORDER BY day, person_id",
        )?;
        let mut rows = stmt.query([from_day, to_day])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let blob: Vec<u8> = row.get(2)?;
            if !blob.len().is_multiple_of(8) {
                return Err(StoreError::Corrupt(format!(
                    "person_day_features: a vector of {} bytes",
                    blob.len()
                )));
            }
            let values = blob
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            out.push((row.get(0)?, row.get(1)?, values));
        }
        Ok(out)
    }

    /// A person's stored days, ascending. A day with only a score (from
    /// [`EventStore::store_scores`]) reads as level `None` with details `null`.
    pub fn risk_days(&self, person_id: &str) -> Result<Vec<RiskDay>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, score, level, details FROM person_day_scores
             WHERE person_id = ?1 ORDER BY day",
        )?;
        let mut rows = stmt.query([person_id])?;
        let mut days = Vec::new();
        while let Some(row) = rows.next()? {
            let day: i64 = row.get(0)?;
            let corrupt = |what: String| {
                StoreError::Corrupt(format!("risk of {person_id} on day {day}: {what}"))
            };
            let level = read_level(
                row.get_ref(2)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?,
            )
            .map_err(corrupt)?;
            let details = match row
                .get_ref(3)?
                .as_str_or_null()
                .map_err(rusqlite::Error::from)?
            {
                None => serde_json::Value::Null,
                Some(text) => serde_json::from_str(text)
                    .map_err(|e| corrupt(format!("details are not JSON: {e}")))?,
            };
            days.push(RiskDay {
                person_id: person_id.to_owned(),
                day,
                score: row.get(1)?,
                level: level.unwrap_or(Level::None),
                details,
            });
        }
        Ok(days)
    }

    /// Calls `each(person, day, score, level)` for every stored person-day, ascending by
    /// person then day, without collecting them (an organisation's history has millions).
    /// `level` is `None` for a day with only a score.
    pub fn for_each_score(
        &self,
        mut each: impl FnMut(&str, i64, f64, Option<Level>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT person_id, day, score, level FROM person_day_scores ORDER BY person_id, day",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let person = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            let day: i64 = row.get(1)?;
            let level = read_level(
                row.get_ref(3)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?,
            )
            .map_err(|what| {
                StoreError::Corrupt(format!("risk of {person} on day {day}: {what}"))
            })?;
            each(person, day, row.get(2)?, level)?;
        }
        Ok(())
    }

    /// Every stored person-day score.
    pub fn scores(&self) -> Result<HashMap<(String, i64), f64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT person_id, day, score FROM person_day_scores")?;
        let rows = stmt.query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// A stored level word, `None` for NULL.
fn read_level(text: Option<&str>) -> Result<Option<Level>, String> {
    text.map(|word| Level::parse(word).ok_or_else(|| format!("unknown level {word:?}")))
        .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::NewEvent;

    #[test]
    fn active_days_come_from_the_postings() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let event = |n: u8, account: &str, time_us: i64| NewEvent {
            identity: [n; 32],
            entry: [n; 32],
            time_us,
            kind: "logon",
            account: account.into(),
            json: vec![n],
        };
        store
            .insert_batch(&[
                event(1, "a", 5 * DAY_US + 10),
                event(2, "a", 5 * DAY_US + 20),
                event(3, "b", -1),
            ])
            .unwrap();
        store.flush_postings().unwrap();
        store.insert_batch(&[event(4, "a", 7 * DAY_US)]).unwrap();
        // From postings (days 5 and -1) and from the row not in postings yet (day 7).
        let days = store.active_account_days().unwrap();
        assert_eq!(days["a"], [5, 7]);
        assert_eq!(days["b"], [-1]);

        store.store_scores(&[("P1".into(), 5, 0.5)]).unwrap();
        store.store_scores(&[("P1".into(), 5, 0.75)]).unwrap();
        assert_eq!(store.scores().unwrap()[&("P1".to_string(), 5)], 0.75);
        store.add_alert("P1", 99, "USB after hours").unwrap();
        store.add_alert("P1", 42, "first").unwrap();
        assert_eq!(store.alert_times().unwrap()["P1"], [42, 99]);
        assert!(!store.add_alert_once("P1", 42, "first").unwrap());
        assert!(store.add_alert_once("P1", 42, "second").unwrap());
        assert!(store.add_alert_once("P2", 42, "first").unwrap());
        assert_eq!(store.alert_times().unwrap()["P1"], [42, 42, 99]);
    }

    #[test]
    fn risk_days_share_the_scores_table_and_stream_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store
            .store_scores(&[("P2".into(), 3, 1.0), ("P1".into(), 9, 2.0)])
            .unwrap();
        let risk = |person: &str, day: i64, score: f64, level: Level| RiskDay {
            person_id: person.into(),
            day,
            score,
            level,
            details: serde_json::json!({"top": [person]}),
        };
        store
            .store_risk_days(&[
                risk("P1", 5, 40.25, Level::High),
                risk("P2", 3, 12.0, Level::Low),
            ])
            .unwrap();
        // A risk day replaces the plain score of its person-day.
        assert_eq!(store.scores().unwrap()[&("P2".to_string(), 3)], 12.0);
        let p1 = store.risk_days("P1").unwrap();
        assert_eq!(p1.len(), 2);
        assert_eq!(p1[0], risk("P1", 5, 40.25, Level::High));
        assert_eq!((p1[1].day, p1[1].level), (9, Level::None));
        assert_eq!(p1[1].details, serde_json::Value::Null);
        let mut rows = Vec::new();
        store
            .for_each_score(|person, day, score, level| {
                rows.push((person.to_owned(), day, score, level));
                Ok(())
            })
            .unwrap();
        assert_eq!(
            rows,
            [
                ("P1".to_string(), 5, 40.25, Some(Level::High)),
                ("P1".to_string(), 9, 2.0, None),
                ("P2".to_string(), 3, 12.0, Some(Level::Low)),
            ]
        );
    }
}

#[cfg(test)]
mod feature_tests {
    #![allow(clippy::unwrap_used)]
    use crate::EventStore;

    #[test]
    fn day_features_round_trip_in_day_then_person_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store
            .store_day_features(&[
                ("P2".into(), 10, vec![1.0, f64::NAN, 3.5]),
                ("P1".into(), 11, vec![0.0]),
                ("P1".into(), 10, vec![2.0]),
            ])
            .unwrap();
        store
            .store_day_features(&[("P1".into(), 10, vec![4.0])])
            .unwrap();
        let rows = store.day_features(10, 11).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].0.as_str(), rows[0].1, rows[0].2.clone()),
            ("P1", 10, vec![4.0])
        );
        assert_eq!((rows[1].0.as_str(), rows[1].2[0]), ("P2", 1.0));
        assert!(rows[1].2[1].is_nan());
        assert_eq!(store.day_features(11, 100).unwrap().len(), 1);
    }
}
