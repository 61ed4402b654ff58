//! Alerts: what an analyst is asked to look at, about one person and one day.
//!
//! Detection raises them ([`EventStore::add_alerts`], de-duplicated by a key the raiser
//! chooses), an analyst dismisses them with a reason or escalates them into a case
//! (module `cases`). Each carries its title in English and Japanese and an explanation as JSON.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::{EventStore, Result, StoreError};

/// The table as the first builds wrote it; every later column is in [`ADDED_COLUMNS`], so a
/// new database goes through the same upgrade as an old one.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    id        INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL,
    time_us   INTEGER NOT NULL,
    title     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_person_time ON alerts(person_id, time_us);
";

/// Columns added since the first builds, with the defaults old rows take. `title_ja` and
/// `day` have no constant default (they derive from `title` and `time_us`); [`upgrade`] fills
/// them in and reads fall back to the same derivation.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("severity", "TEXT NOT NULL DEFAULT 'medium'"),
    ("kind", "TEXT NOT NULL DEFAULT 'score'"),
    ("status", "TEXT NOT NULL DEFAULT 'open'"),
    ("title_ja", "TEXT"),
    ("details", "TEXT NOT NULL DEFAULT '{}'"),
    ("day", "INTEGER"),
    ("dedup_key", "TEXT"),
    ("dismiss_reason", "TEXT"),
    ("case_id", "INTEGER"),
    ("events", "TEXT NOT NULL DEFAULT '[]'"),
    ("assignee", "TEXT"),
];

/// The UTC day of `time_us` in SQL, rounding down for times before 1970 as `day_of` does.
const SQL_DAY_OF_TIME: &str =
    "((time_us - ((time_us % 86400000000) + 86400000000) % 86400000000) / 86400000000)";

/// Adds the missing columns to an `alerts` table of an older build, then the indexes on them.
/// Runs inside the transaction of `EventStore::open`.
pub(crate) fn upgrade(conn: &Connection) -> Result<()> {
    let added = crate::upgrade::add_missing_columns(conn, "alerts", ADDED_COLUMNS)?;
    if !added.is_empty() {
        conn.execute_batch(&format!(
            "UPDATE alerts SET title_ja = COALESCE(title_ja, title),
                               day = COALESCE(day, {SQL_DAY_OF_TIME})"
        ))?;
    }
    // Partial: alerts of older builds (and of `add_alert`) have no key and never collide.
    conn.execute_batch(
        "CREATE UNIQUE INDEX IF NOT EXISTS alerts_dedup ON alerts(dedup_key)
             WHERE dedup_key IS NOT NULL;
         CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time_us);
         CREATE INDEX IF NOT EXISTS alerts_case ON alerts(case_id) WHERE case_id IS NOT NULL;",
    )?;
    Ok(())
}

/// Alert severity and risk level (the scale detection uses).
pub use mamori_event::Level;

/// An alert to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub person_id: String,
    /// When what it is about happened.
    pub time_us: i64,
    /// The local day number (days since 1970-01-01) the alert is about.
    pub day: i64,
    /// `Low` to `Critical`; `None` is not an alert.
    pub severity: Level,
    /// `risk_level` (a person's level rose) or `rule` (a high-severity rule fired).
    pub kind: String,
    /// One English sentence.
    pub title: String,
    /// The same in Japanese.
    pub title_ja: String,
    /// The explanation (indicators, contributions).
    pub details: serde_json::Value,
    /// An alert whose key is stored already is not added again.
    pub dedup_key: String,
    /// Ledger leaf indexes of the events behind it (the rule findings'), ascending; a case
    /// opened from the alert gathers them.
    pub events: Vec<u64>,
}

/// Where an alert is in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Dismissed,
    /// Attached to a case.
    Escalated,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Dismissed => "dismissed",
            AlertStatus::Escalated => "escalated",
        }
    }

    /// `open`, `dismissed` or `escalated` (any case).
    pub fn parse(s: &str) -> Option<AlertStatus> {
        [
            AlertStatus::Open,
            AlertStatus::Dismissed,
            AlertStatus::Escalated,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(s))
    }
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    pub id: i64,
    pub person_id: String,
    pub time_us: i64,
    pub day: i64,
    pub severity: Level,
    pub kind: String,
    pub title: String,
    pub title_ja: String,
    pub details: serde_json::Value,
    pub status: AlertStatus,
    pub dismiss_reason: Option<String>,
    pub case_id: Option<i64>,
    /// Ledger leaf indexes of the events behind the alert, ascending.
    pub events: Vec<u64>,
    /// Who is looking at it (a user name), if anyone.
    pub assignee: Option<String>,
}

/// Which alerts [`EventStore::alerts`] returns; every field left `None` lets all through.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub person_id: Option<String>,
    pub status: Option<AlertStatus>,
    /// This severity or higher.
    pub min_severity: Option<Level>,
    /// `time_us` at or after this.
    pub since_us: Option<i64>,
    /// `time_us` before this.
    pub until_us: Option<i64>,
    pub kind: Option<String>,
    /// Most severe first (then newest), instead of newest first.
    pub by_severity: bool,
    pub limit: Option<usize>,
}

/// The columns [`read_alert`] reads, with the fallbacks for rows an older build added after
/// the upgrade (it writes neither `title_ja` nor `day`).
const ALERT_COLUMNS: &str = "id, person_id, time_us,
    COALESCE(day, ((time_us - ((time_us % 86400000000) + 86400000000) % 86400000000) / 86400000000)),
    severity, kind, title, COALESCE(title_ja, title), details, status, dismiss_reason, case_id,
    events, assignee";

fn read_alert(row: &rusqlite::Row<'_>) -> Result<Alert> {
    let id: i64 = row.get(0)?;
    let severity: String = row.get(4)?;
    let details: String = row.get(8)?;
    let status: String = row.get(9)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("alert {id}: {what}"));
    Ok(Alert {
        id,
        person_id: row.get(1)?,
        time_us: row.get(2)?,
        day: row.get(3)?,
        severity: Level::parse(&severity)
            .ok_or_else(|| corrupt(&format!("unknown severity {severity:?}")))?,
        kind: row.get(5)?,
        title: row.get(6)?,
        title_ja: row.get(7)?,
        details: serde_json::from_str(&details)
            .map_err(|e| corrupt(&format!("details are not JSON: {e}")))?,
        status: AlertStatus::parse(&status)
            .ok_or_else(|| corrupt(&format!("unknown status {status:?}")))?,
        dismiss_reason: row.get(10)?,
        case_id: row.get(11)?,
        events: serde_json::from_str(&row.get::<_, String>(12)?)
            .map_err(|e| corrupt(&format!("events are not a list of leaves: {e}")))?,
        assignee: row.get(13)?,
    })
}

/// One alert by id, on `conn` (a transaction of the caller's, possibly).
pub(crate) fn alert_by_id(conn: &Connection, id: i64) -> Result<Option<Alert>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => Ok(Some(read_alert(row)?)),
        None => Ok(None),
    }
}

/// The alerts attached to a case, newest first.
pub(crate) fn alerts_of_case(conn: &Connection, case_id: i64) -> Result<Vec<Alert>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE case_id = ?1 ORDER BY time_us DESC, id DESC"
    ))?;
    let mut rows = stmt.query([case_id])?;
    let mut alerts = Vec::new();
    while let Some(row) = rows.next()? {
        alerts.push(read_alert(row)?);
    }
    Ok(alerts)
}

impl EventStore {
    /// Stores alerts in one transaction, leaving out those whose `dedup_key` is stored
    /// already; returns how many were new. Nothing is stored if one alert is invalid (severity
    /// `None`, or an empty `dedup_key`).
    pub fn add_alerts(&mut self, alerts: &[NewAlert]) -> Result<u64> {
        for (position, alert) in alerts.iter().enumerate() {
            if alert.severity == Level::None {
                return Err(StoreError::Invalid(format!(
                    "alert {position} ({}): severity none is not an alert; use low to critical",
                    alert.dedup_key
                )));
            }
            if alert.dedup_key.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "alert {position} ({}): empty dedup_key",
                    alert.title
                )));
            }
        }
        let tx = self.conn.transaction()?;
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO alerts
                 (person_id, time_us, day, severity, kind, title, title_ja, details, dedup_key,
                  events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for alert in alerts {
                added += insert.execute(params![
                    alert.person_id,
                    alert.time_us,
                    alert.day,
                    alert.severity.as_str(),
                    alert.kind,
                    alert.title,
                    alert.title_ja,
                    alert.details.to_string(),
                    alert.dedup_key,
                    serde_json::to_string(&alert.events).unwrap_or_else(|_| "[]".into()),
                ])? as u64;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// The alerts `filter` lets through, newest first (`time_us`, then id, descending).
    pub fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>> {
        // Conditions with numbered parameters, the values in the same order.
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        let mut parameter = |value: rusqlite::types::Value| {
            values.push(value);
            format!("?{}", values.len())
        };
        if let Some(person_id) = &filter.person_id {
            conditions.push(format!(
                "person_id = {}",
                parameter(person_id.clone().into())
            ));
        }
        if let Some(status) = filter.status {
            let status = status.as_str().to_owned();
            conditions.push(format!("status = {}", parameter(status.into())));
        }
        if let Some(min_severity) = filter.min_severity {
            // Severities are stored as words, so "at least" is the list of words at least.
            let allowed: Vec<String> = Level::ALL
                .into_iter()
                .filter(|level| *level >= min_severity)
                .map(|level| parameter(level.as_str().to_owned().into()))
                .collect();
            conditions.push(format!("severity IN ({})", allowed.join(", ")));
        }
        if let Some(since_us) = filter.since_us {
            conditions.push(format!("time_us >= {}", parameter(since_us.into())));
        }
        if let Some(until_us) = filter.until_us {
            conditions.push(format!("time_us < {}", parameter(until_us.into())));
        }
        if let Some(kind) = &filter.kind {
            conditions.push(format!("kind = {}", parameter(kind.clone().into())));
        }
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        if filter.by_severity {
            sql.push_str(
                " ORDER BY CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3
                   WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END DESC,",
            );
        } else {
            sql.push_str(" ORDER BY");
        }
        sql.push_str(" time_us DESC, id DESC");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(
                " LIMIT {}",
                i64::try_from(limit).unwrap_or(i64::MAX)
            ));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
        let mut alerts = Vec::new();
        while let Some(row) = rows.next()? {
            alerts.push(read_alert(row)?);
        }
        Ok(alerts)
    }

    pub fn alert(&self, id: i64) -> Result<Option<Alert>> {
        alert_by_id(&self.conn, id)
    }

    /// Dismisses an alert: it needs no action, for the reason given (required, so that a
    /// later review can tell why). Dismissing again replaces the reason. An escalated alert is
    /// part of a case and is settled by closing the case instead.
    pub fn dismiss_alert(&mut self, id: i64, reason: &str) -> Result<()> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Invalid(format!(
                "alert {id}: a dismissal needs a reason"
            )));
        }
        let tx = self.conn.transaction()?;
        let alert = alert_by_id(&tx, id)?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}: no such alert")))?;
        if alert.status == AlertStatus::Escalated {
            return Err(StoreError::Invalid(format!(
                "alert {id} is escalated to case {}; close the case instead of dismissing the alert",
                alert.case_id.unwrap_or_default()
            )));
        }
        tx.execute(
            "UPDATE alerts SET status = 'dismissed', dismiss_reason = ?2 WHERE id = ?1",
            params![id, reason],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Gives an alert to `assignee` (a user), or to nobody.
    pub fn assign_alert(&mut self, id: i64, assignee: Option<&str>) -> Result<()> {
        let updated = self.conn.execute(
            "UPDATE alerts SET assignee = ?2 WHERE id = ?1",
            params![id, assignee],
        )?;
        if updated == 0 {
            return Err(StoreError::NotFound(format!("alert {id}: no such alert")));
        }
        Ok(())
    }

    /// Opens a dismissed alert again (its reason is kept in the access log, not here).
    pub fn reopen_alert(&mut self, id: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        let alert = alert_by_id(&tx, id)?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}: no such alert")))?;
        if alert.status == AlertStatus::Escalated {
            return Err(StoreError::Invalid(format!(
                "alert {id} is escalated to case {}; it stays with the case",
                alert.case_id.unwrap_or_default()
            )));
        }
        tx.execute(
            "UPDATE alerts SET status = 'open', dismiss_reason = NULL WHERE id = ?1",
            [id],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records an alert about a person (severity medium, kind `score`, no dedup key).
    pub fn add_alert(&mut self, person_id: &str, time_us: i64, title: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO alerts(person_id, time_us, title, title_ja, day) VALUES (?1, ?2, ?3, ?3, ?4)",
            params![person_id, time_us, title, crate::day_of(time_us)],
        )?;
        Ok(())
    }

    /// Records an alert unless one with the same person, time and title is stored already,
    /// so that re-running an analysis over the same history does not repeat its alerts.
    /// Returns whether it was added.
    pub fn add_alert_once(&mut self, person_id: &str, time_us: i64, title: &str) -> Result<bool> {
        let exists: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM alerts
                           WHERE person_id = ?1 AND time_us = ?2 AND title = ?3)",
            params![person_id, time_us, title],
            |row| row.get(0),
        )?;
        if exists {
            return Ok(false);
        }
        self.add_alert(person_id, time_us, title)?;
        Ok(true)
    }

    /// Times of every person's alerts, ascending.
    pub fn alert_times(&self) -> Result<HashMap<String, Vec<i64>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT person_id, time_us FROM alerts ORDER BY person_id, time_us")?;
        let mut rows = stmt.query([])?;
        let mut times: HashMap<String, Vec<i64>> = HashMap::new();
        while let Some(row) = rows.next()? {
            times.entry(row.get(0)?).or_default().push(row.get(1)?);
        }
        Ok(times)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DAY_US: i64 = 86_400_000_000;

    pub(crate) fn new_alert(person: &str, day: i64, severity: Level, key: &str) -> NewAlert {
        NewAlert {
            person_id: person.into(),
            time_us: day * DAY_US + 3_600_000_000,
            day,
            severity,
            kind: "risk_level".into(),
            title: format!("{person} rose to {}", severity.as_str()),
            title_ja: format!("{person}のリスクが{}に上昇", severity.as_str()),
            details: serde_json::json!({"indicators": [key]}),
            dedup_key: key.into(),
            events: vec![],
        }
    }

    fn open_store(dir: &tempfile::TempDir) -> EventStore {
        EventStore::open(&dir.path().join("s.sqlite")).unwrap()
    }

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::None < Level::Low && Level::High < Level::Critical);
        assert_eq!(Level::parse("HIGH"), Some(Level::High));
        assert_eq!(Level::parse("severe"), None);
        assert_eq!(
            serde_json::to_value(Level::Critical).unwrap(),
            serde_json::json!("critical")
        );
    }

    #[test]
    fn add_alerts_skips_stored_dedup_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open_store(&dir);
        let first = [
            new_alert("P1", 10, Level::High, "P1/10/high"),
            new_alert("P1", 11, Level::Critical, "P1/11/critical"),
        ];
        assert_eq!(store.add_alerts(&first).unwrap(), 2);
        let again = [
            new_alert("P1", 11, Level::Critical, "P1/11/critical"),
            new_alert("P2", 11, Level::Low, "P2/11/low"),
        ];
        assert_eq!(store.add_alerts(&again).unwrap(), 1);
        let alerts = store.alerts(&AlertFilter::default()).unwrap();
        assert_eq!(alerts.len(), 3);
        // The stored copy is the first one, read back whole.
        let critical = alerts
            .iter()
            .find(|a| a.severity == Level::Critical)
            .unwrap();
        assert_eq!(critical.title_ja, "P1のリスクがcriticalに上昇");
        assert_eq!(critical.details["indicators"][0], "P1/11/critical");
        assert_eq!(
            (critical.status, critical.case_id),
            (AlertStatus::Open, None)
        );
        assert_eq!(store.alert(critical.id).unwrap().as_ref(), Some(critical));
        assert_eq!(store.alert(999).unwrap(), None);
    }

    #[test]
    fn add_alerts_refuses_level_none_and_empty_keys_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open_store(&dir);
        let batch = [
            new_alert("P1", 1, Level::High, "a"),
            new_alert("P1", 2, Level::None, "b"),
        ];
        assert!(matches!(
            store.add_alerts(&batch),
            Err(StoreError::Invalid(_))
        ));
        let batch = [new_alert("P1", 1, Level::High, "")];
        assert!(matches!(
            store.add_alerts(&batch),
            Err(StoreError::Invalid(_))
        ));
        assert!(store.alerts(&AlertFilter::default()).unwrap().is_empty());
    }

    #[test]
    fn filters_combine_and_results_are_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open_store(&dir);
        store
            .add_alerts(&[
                new_alert("P1", 10, Level::Low, "1"),
                new_alert("P1", 12, Level::High, "2"),
                new_alert("P2", 11, Level::Critical, "3"),
                new_alert("P2", 13, Level::Medium, "4"),
            ])
            .unwrap();
        let keys = |store: &EventStore, filter: AlertFilter| -> Vec<String> {
            let alerts = store.alerts(&filter).unwrap();
            alerts
                .iter()
                .map(|a| a.details["indicators"][0].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(keys(&store, AlertFilter::default()), ["4", "2", "3", "1"]);
        let p1 = AlertFilter {
            person_id: Some("P1".into()),
            ..AlertFilter::default()
        };
        assert_eq!(keys(&store, p1), ["2", "1"]);
        let serious = AlertFilter {
            min_severity: Some(Level::High),
            ..AlertFilter::default()
        };
        assert_eq!(keys(&store, serious), ["2", "3"]);
        let days_11_12 = AlertFilter {
            since_us: Some(11 * DAY_US),
            until_us: Some(13 * DAY_US),
            ..AlertFilter::default()
        };
        assert_eq!(keys(&store, days_11_12), ["2", "3"]);
        let latest = AlertFilter {
            limit: Some(1),
            ..AlertFilter::default()
        };
        assert_eq!(keys(&store, latest), ["4"]);
        store.dismiss_alert(1, "test account").unwrap();
        let dismissed = AlertFilter {
            status: Some(AlertStatus::Dismissed),
            ..AlertFilter::default()
        };
        assert_eq!(keys(&store, dismissed), ["1"]);
    }

    #[test]
    fn dismissing_needs_a_reason_and_a_known_unescalated_alert() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open_store(&dir);
        store
            .add_alerts(&[
                new_alert("P1", 10, Level::High, "1"),
                new_alert("P1", 11, Level::High, "2"),
            ])
            .unwrap();
        assert!(matches!(
            store.dismiss_alert(1, "  "),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.dismiss_alert(7, "why"),
            Err(StoreError::NotFound(_))
        ));
        store.dismiss_alert(1, " approved transfer ").unwrap();
        let dismissed = store.alert(1).unwrap().unwrap();
        assert_eq!(dismissed.status, AlertStatus::Dismissed);
        assert_eq!(
            dismissed.dismiss_reason.as_deref(),
            Some("approved transfer")
        );
        store.open_case("case", &[2], None, 5).unwrap();
        let error = store.dismiss_alert(2, "why").unwrap_err();
        assert!(matches!(error, StoreError::Invalid(_)), "{error}");
        assert!(error.to_string().contains("case 1"), "{error}");
    }

    #[test]
    fn triage_assigns_reopens_and_sorts_by_severity() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open_store(&dir);
        store
            .add_alerts(&[
                new_alert("P1", 10, Level::Low, "1"),
                new_alert("P2", 11, Level::Critical, "2"),
                new_alert("P3", 12, Level::Medium, "3"),
            ])
            .unwrap();
        let by_severity = AlertFilter {
            by_severity: true,
            ..AlertFilter::default()
        };
        let order: Vec<i64> = store
            .alerts(&by_severity)
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(order, [2, 3, 1]);
        let newest: Vec<i64> = store
            .alerts(&AlertFilter::default())
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(newest, [3, 2, 1]);
        store.assign_alert(1, Some("aoki")).unwrap();
        assert_eq!(
            store.alert(1).unwrap().unwrap().assignee.as_deref(),
            Some("aoki")
        );
        assert!(matches!(
            store.assign_alert(9, None),
            Err(StoreError::NotFound(_))
        ));
        store.dismiss_alert(1, "known").unwrap();
        store.reopen_alert(1).unwrap();
        let reopened = store.alert(1).unwrap().unwrap();
        assert_eq!(
            (reopened.status, reopened.dismiss_reason),
            (AlertStatus::Open, None)
        );
        store.open_case("case", &[2], None, 5).unwrap();
        assert!(matches!(store.reopen_alert(2), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn old_four_column_alerts_tables_are_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        {
            // The tables as the first builds wrote them.
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE alerts (
                     id INTEGER PRIMARY KEY, person_id TEXT NOT NULL,
                     time_us INTEGER NOT NULL, title TEXT NOT NULL);
                 CREATE TABLE person_day_scores (
                     person_id TEXT NOT NULL, day INTEGER NOT NULL, score REAL NOT NULL,
                     PRIMARY KEY (person_id, day)) WITHOUT ROWID;
                 INSERT INTO alerts(person_id, time_us, title) VALUES
                     ('P1', 172800000001, 'unusual activity'),
                     ('P2', -1, 'before the epoch');
                 INSERT INTO person_day_scores VALUES ('P1', 2, 17.5);",
            )
            .unwrap();
        }
        let mut store = EventStore::open(&path).unwrap();
        let alerts = store.alerts(&AlertFilter::default()).unwrap();
        assert_eq!(
            alerts[0],
            Alert {
                id: 1,
                person_id: "P1".into(),
                time_us: 172_800_000_001,
                day: 2,
                severity: Level::Medium,
                kind: "score".into(),
                title: "unusual activity".into(),
                title_ja: "unusual activity".into(),
                details: serde_json::json!({}),
                status: AlertStatus::Open,
                dismiss_reason: None,
                case_id: None,
                events: vec![],
                assignee: None,
            }
        );
        assert_eq!(alerts[1].day, -1);
        // The old API keeps working next to the new one, and the scores table took its columns.
        assert!(
            !store
                .add_alert_once("P1", 172_800_000_001, "unusual activity")
                .unwrap()
        );
        assert_eq!(
            store
                .add_alerts(&[new_alert("P1", 3, Level::High, "k")])
                .unwrap(),
            1
        );
        assert_eq!(store.alert_times().unwrap()["P1"].len(), 2);
        assert_eq!(store.risk_days("P1").unwrap()[0].level, Level::None);
        drop(store);
        // Opening again finds nothing to add.
        let store = EventStore::open(&path).unwrap();
        assert_eq!(store.alerts(&AlertFilter::default()).unwrap().len(), 3);
    }
}
