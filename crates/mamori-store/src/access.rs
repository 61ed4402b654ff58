//! The access log: who read or changed personal data (alerts, cases, scores), when, and what.
//!
//! Japan's APPI (個人情報保護法) asks a business to supervise those who handle personal data;
//! this log is how a supervisor checks that the rules were followed. It is only ever appended
//! to.

use rusqlite::params;

use crate::{EventStore, Result};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_log (
    id      INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL, -- e.g. alerts.list, cases.show
    target  TEXT NOT NULL  -- what was read or changed: a filter, a case id
);
CREATE INDEX IF NOT EXISTS access_log_time ON access_log(time_us);
";

/// One read or change of personal data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessRecord {
    pub time_us: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
}

impl EventStore {
    /// Records that `actor` did `action` (e.g. `cases.show`) on `target` (e.g. `case 3`).
    pub fn record_access(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        now_us: i64,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO access_log(time_us, actor, action, target) VALUES (?1, ?2, ?3, ?4)",
            params![now_us, actor, action, target],
        )?;
        Ok(())
    }

    /// The latest `limit` records, newest first.
    pub fn access_log(&self, limit: usize) -> Result<Vec<AccessRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT time_us, actor, action, target FROM access_log
             ORDER BY time_us DESC, id DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map([limit], |row| {
            Ok(AccessRecord {
                time_us: row.get(0)?,
                actor: row.get(1)?,
                action: row.get(2)?,
                target: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn access_log_reads_newest_first_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store
            .record_access("aoki", "alerts.list", "all", 10)
            .unwrap();
        store
            .record_access("aoki", "cases.show", "case 1", 20)
            .unwrap();
        store
            .record_access("ito", "cases.note", "case 1", 20)
            .unwrap();
        let log = store.access_log(2).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].actor, "ito");
        assert_eq!(log[1].action, "cases.show");
        assert_eq!(store.access_log(10).unwrap()[2].target, "all");
    }
}
