//! The organisation at a glance, for the console's dashboard: persons by risk level per day,
//! open alerts by severity and department, the indicators behind recent risk, and when each
//! kind of event last arrived. Aggregates only: no person is named in what these return
//! except by the caller's own lookups.

use rusqlite::params;

use crate::{EventStore, Level, Result, StoreError};

/// How many events of a kind are stored and when the latest happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSummary {
    pub kind: String,
    pub events: u64,
    pub last_us: i64,
}

/// A count from SQLite (an i64, never negative here).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn level_of(text: &str) -> Result<Level> {
    Level::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown risk level {text:?}")))
}

impl EventStore {
    /// The latest day with a stored risk level.
    pub fn latest_risk_day(&self) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MAX(day) FROM person_day_scores WHERE level IS NOT NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// How many persons were at each level on each day of `[from_day, to_day]`:
    /// `(day, level, persons)`, by day. Days with scores only (no level) are left out.
    pub fn persons_by_level(&self, from_day: i64, to_day: i64) -> Result<Vec<(i64, Level, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, level, COUNT(*) FROM person_day_scores
             WHERE day >= ?1 AND day <= ?2 AND level IS NOT NULL
             GROUP BY day, level ORDER BY day",
        )?;
        let mut rows = stmt.query(params![from_day, to_day])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let level: String = row.get(1)?;
            out.push((row.get(0)?, level_of(&level)?, count(row.get(2)?)));
        }
        Ok(out)
    }

    /// Persons by the level of their latest scored day within `[from_day, to_day]`.
    pub fn current_levels(&self, from_day: i64, to_day: i64) -> Result<Vec<(Level, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT level, COUNT(*) FROM person_day_scores s
             WHERE day >= ?1 AND day <= ?2 AND level IS NOT NULL
               AND day = (SELECT MAX(day) FROM person_day_scores
                          WHERE person_id = s.person_id AND day >= ?1 AND day <= ?2
                            AND level IS NOT NULL)
             GROUP BY level",
        )?;
        let mut rows = stmt.query(params![from_day, to_day])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let level: String = row.get(0)?;
            out.push((level_of(&level)?, count(row.get(1)?)));
        }
        Ok(out)
    }

    /// Open alerts by the department their person is in now (latest HR version; `None`
    /// without one) and severity: `(department, severity, alerts)`.
    pub fn open_alerts_by_department(&self) -> Result<Vec<(Option<String>, Level, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT (SELECT department FROM person_versions v WHERE v.person_id = a.person_id
                     ORDER BY valid_from DESC LIMIT 1) AS department,
                    severity, COUNT(*)
             FROM alerts a WHERE status = 'open' GROUP BY department, severity",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let severity: String = row.get(1)?;
            out.push((row.get(0)?, level_of(&severity)?, count(row.get(2)?)));
        }
        Ok(out)
    }

    /// Calls `each` with the explanation of every person-day from `from_day` on whose level
    /// is at least `min`.
    pub fn risk_details_since(
        &self,
        from_day: i64,
        min: Level,
        mut each: impl FnMut(serde_json::Value),
    ) -> Result<()> {
        let levels: Vec<&str> = Level::ALL
            .into_iter()
            .filter(|l| *l >= min)
            .map(Level::as_str)
            .collect();
        let placeholders = vec!["?"; levels.len()].join(", ");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT details FROM person_day_scores
             WHERE day >= ? AND details IS NOT NULL AND level IN ({placeholders})"
        ))?;
        let mut values: Vec<rusqlite::types::Value> = vec![from_day.into()];
        values.extend(
            levels
                .iter()
                .map(|l| rusqlite::types::Value::from(l.to_string())),
        );
        let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            let details = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("risk details are not JSON: {e}")))?;
            each(details);
        }
        Ok(())
    }

    /// Every kind of event stored: how many and the time of the latest, from the postings
    /// and the event rows past them (not a scan of the events).
    pub fn kinds_summary(&self) -> Result<Vec<KindSummary>> {
        let through = crate::events::postings_through(&self.conn)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT n.name, SUM(c), MAX(l) FROM (
                 SELECT key_id AS k, count AS c, last_us AS l FROM postings WHERE dimension = 2
                 UNION ALL
                 SELECT kind_id, 1, time_us FROM events WHERE leaf_index >= ?1
             ) JOIN names n ON n.id = k GROUP BY k ORDER BY n.name",
        )?;
        let mut rows = stmt.query([i64::try_from(through).unwrap_or(i64::MAX)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(KindSummary {
                kind: row.get(0)?,
                events: count(row.get(1)?),
                last_us: row.get(2)?,
            });
        }
        Ok(out)
    }

    /// How many persons each department has (latest HR versions; `None`: no department).
    pub fn department_sizes(&self) -> Result<std::collections::HashMap<Option<String>, u64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT department, COUNT(*) FROM person_versions v
             WHERE valid_from = (SELECT MAX(valid_from) FROM person_versions
                                 WHERE person_id = v.person_id)
             GROUP BY department",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = std::collections::HashMap::new();
        while let Some(row) = rows.next()? {
            out.insert(row.get(0)?, count(row.get(1)?));
        }
        Ok(out)
    }

    /// The department of `person_id` in their latest HR version.
    pub fn department_of(&self, person_id: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT department FROM person_versions WHERE person_id = ?1
                 ORDER BY valid_from DESC LIMIT 1",
                [person_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{NewAlert, RiskDay};

    fn day(person: &str, day: i64, level: Level) -> RiskDay {
        RiskDay {
            person_id: person.into(),
            day,
            score: 1.0,
            level,
            details: serde_json::json!({"indicators": [{"feature": "removable_copies"}]}),
        }
    }

    #[test]
    fn levels_per_day_and_alerts_by_severity() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.db")).unwrap();
        store
            .store_risk_days(&[
                day("P1", 10, Level::High),
                day("P2", 10, Level::High),
                day("P1", 11, Level::Low),
                day("P3", 11, Level::None),
            ])
            .unwrap();
        store.store_scores(&[("P4".into(), 12, 3.0)]).unwrap();
        assert_eq!(store.latest_risk_day().unwrap(), Some(11));
        let mut levels = store.persons_by_level(10, 11).unwrap();
        levels.sort();
        assert_eq!(
            levels,
            vec![
                (10, Level::High, 2),
                (11, Level::None, 1),
                (11, Level::Low, 1)
            ]
        );
        // P1's latest is low (day 11), P2's high (day 10), P3's none.
        let mut current = store.current_levels(10, 11).unwrap();
        current.sort();
        assert_eq!(
            current,
            vec![(Level::None, 1), (Level::Low, 1), (Level::High, 1)]
        );
        let mut seen = 0;
        store
            .risk_details_since(11, Level::Low, |_| seen += 1)
            .unwrap();
        assert_eq!(seen, 1);
        let alert = |key: &str, severity| NewAlert {
            person_id: "P1".into(),
            time_us: 1,
            day: 0,
            severity,
            kind: "rule".into(),
            title: "t".into(),
            title_ja: "t".into(),
            details: serde_json::json!({}),
            dedup_key: key.into(),
            events: vec![],
        };
        store
            .add_alerts(&[
                alert("a", Level::High),
                alert("b", Level::High),
                alert("c", Level::Low),
            ])
            .unwrap();
        store.dismiss_alert(3, "known").unwrap();
        assert!(store.department_sizes().unwrap().is_empty());
        // Sizes count each person once, in the department of their latest version.
        let person = |id: &str, from: jiff::civil::Date, department: &str| {
            let mut p = mamori_event::PersonRecord::new(id, from, "名前");
            p.department = Some(department.into());
            p
        };
        let start = jiff::civil::date(2020, 1, 1);
        let moved = jiff::civil::date(2021, 1, 1);
        store
            .store_people(&[
                person("E1", start, "設計部"),
                person("E1", moved, "営業部"),
                person("E2", start, "設計部"),
                person("E3", start, "営業部"),
            ])
            .unwrap();
        let sizes = store.department_sizes().unwrap();
        assert_eq!(sizes[&Some("営業部".to_string())], 2);
        assert_eq!(sizes[&Some("設計部".to_string())], 1);
        assert_eq!(
            store.department_of("E1").unwrap().as_deref(),
            Some("営業部")
        );
        assert_eq!(
            store.open_alerts_by_department().unwrap(),
            vec![(None, Level::High, 2)]
        );
    }
}
