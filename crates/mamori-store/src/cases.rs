//! Cases: an investigation of one person, opened from alerts, holding the events (ledger
//! leaves) it rests on and the investigators' notes, until it is closed with an outcome.
//!
//! A case closed as [`CaseOutcome::Confirmed`] is a "prior incident" of its person for the
//! risk engine ([`EventStore::persons_with_confirmed_cases`]). A case under legal hold keeps
//! its events from retention (which is not written yet; the flag is stored for it).

use std::collections::HashSet;

use rusqlite::{Connection, Transaction, params};

use crate::alerts::{Alert, AlertStatus, alert_by_id, alerts_of_case};
use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cases (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    person_id  TEXT,
    status     TEXT NOT NULL, -- open, investigating, closed
    outcome    TEXT,          -- confirmed, benign, inconclusive; set when (and only when) closed
    assignee   TEXT,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    legal_hold INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS case_events (
    case_id    INTEGER NOT NULL REFERENCES cases(id),
    leaf_index INTEGER NOT NULL,
    PRIMARY KEY (case_id, leaf_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS case_notes (
    id      INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    author  TEXT NOT NULL,
    time_us INTEGER NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_notes_case ON case_notes(case_id, time_us);
";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Open,
    Investigating,
    Closed,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Investigating => "investigating",
            CaseStatus::Closed => "closed",
        }
    }

    /// `open`, `investigating` or `closed` (any case).
    pub fn parse(s: &str) -> Option<CaseStatus> {
        [
            CaseStatus::Open,
            CaseStatus::Investigating,
            CaseStatus::Closed,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(s))
    }
}

/// What a closed case concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseOutcome {
    /// The person did what the alerts suggested.
    Confirmed,
    Benign,
    Inconclusive,
}

impl CaseOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseOutcome::Confirmed => "confirmed",
            CaseOutcome::Benign => "benign",
            CaseOutcome::Inconclusive => "inconclusive",
        }
    }

    /// `confirmed`, `benign` or `inconclusive` (any case).
    pub fn parse(s: &str) -> Option<CaseOutcome> {
        [
            CaseOutcome::Confirmed,
            CaseOutcome::Benign,
            CaseOutcome::Inconclusive,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Case {
    pub id: i64,
    pub title: String,
    /// The person the case's alerts are about.
    pub person_id: Option<String>,
    pub status: CaseStatus,
    /// Set exactly when the case is closed.
    pub outcome: Option<CaseOutcome>,
    pub assignee: Option<String>,
    pub created_us: i64,
    pub updated_us: i64,
    pub legal_hold: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseNote {
    pub id: i64,
    pub case_id: i64,
    pub author: String,
    pub time_us: i64,
    pub text: String,
}

/// A case with everything attached to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseDetail {
    pub case: Case,
    /// Newest first.
    pub alerts: Vec<Alert>,
    /// Ledger leaf indexes, ascending.
    pub events: Vec<u64>,
    /// Oldest first.
    pub notes: Vec<CaseNote>,
}

const CASE_COLUMNS: &str =
    "id, title, person_id, status, outcome, assignee, created_us, updated_us, legal_hold";

fn read_case(row: &rusqlite::Row<'_>) -> Result<Case> {
    let id: i64 = row.get(0)?;
    let status: String = row.get(3)?;
    let outcome: Option<String> = row.get(4)?;
    let corrupt = |what: String| StoreError::Corrupt(format!("case {id}: {what}"));
    let outcome = match outcome {
        None => None,
        Some(word) => Some(
            CaseOutcome::parse(&word)
                .ok_or_else(|| corrupt(format!("unknown outcome {word:?}")))?,
        ),
    };
    Ok(Case {
        id,
        title: row.get(1)?,
        person_id: row.get(2)?,
        status: CaseStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("unknown status {status:?}")))?,
        outcome,
        assignee: row.get(5)?,
        created_us: row.get(6)?,
        updated_us: row.get(7)?,
        legal_hold: row.get(8)?,
    })
}

fn case_by_id(conn: &Connection, id: i64) -> Result<Option<Case>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => Ok(Some(read_case(row)?)),
        None => Ok(None),
    }
}

fn existing_case(conn: &Connection, id: i64) -> Result<Case> {
    case_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("case {id}: no such case")))
}

fn touch(tx: &Transaction<'_>, case_id: i64, now_us: i64) -> Result<()> {
    tx.execute(
        "UPDATE cases SET updated_us = ?2 WHERE id = ?1",
        params![case_id, now_us],
    )?;
    Ok(())
}

/// Checks that the alerts can join a case about `person` (`None`: the first alert's person
/// decides) and marks them escalated to it; returns the person.
fn escalate(
    tx: &Transaction<'_>,
    case_id: i64,
    person: Option<String>,
    alert_ids: &[i64],
) -> Result<Option<String>> {
    let mut person = person;
    let mut seen = HashSet::new();
    for &alert_id in alert_ids.iter().filter(|&&id| seen.insert(id)) {
        let alert = alert_by_id(tx, alert_id)?
            .ok_or_else(|| StoreError::NotFound(format!("alert {alert_id}: no such alert")))?;
        if alert.status != AlertStatus::Open {
            return Err(StoreError::Invalid(format!(
                "alert {alert_id} is {}, not open; only open alerts join a case",
                alert.status.as_str()
            )));
        }
        match &person {
            None => person = Some(alert.person_id.clone()),
            Some(p) if *p != alert.person_id => {
                return Err(StoreError::Invalid(format!(
                    "alert {alert_id} is about {}, not {p}; a case is about one person",
                    alert.person_id
                )));
            }
            Some(_) => {}
        }
        tx.execute(
            "UPDATE alerts SET status = 'escalated', case_id = ?2 WHERE id = ?1",
            params![alert_id, case_id],
        )?;
        // The case gathers the evidence of its alerts.
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO case_events(case_id, leaf_index) VALUES (?1, ?2)",
        )?;
        for &leaf in &alert.events {
            let leaf = i64::try_from(leaf).map_err(|_| {
                StoreError::Invalid(format!("alert {alert_id}: leaf {leaf} out of range"))
            })?;
            insert.execute(params![case_id, leaf])?;
        }
    }
    Ok(person)
}

impl EventStore {
    /// Opens a case from alerts: at least one, all open and about the same person (who
    /// becomes the case's person). The alerts become escalated to the case. Returns its id.
    pub fn open_case(
        &mut self,
        title: &str,
        alert_ids: &[i64],
        assignee: Option<&str>,
        now_us: i64,
    ) -> Result<i64> {
        if alert_ids.is_empty() {
            return Err(StoreError::Invalid(
                "a case is opened from at least one alert".into(),
            ));
        }
        if title.trim().is_empty() {
            return Err(StoreError::Invalid("a case needs a title".into()));
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO cases(title, status, assignee, created_us, updated_us)
             VALUES (?1, 'open', ?2, ?3, ?3)",
            params![title, assignee, now_us],
        )?;
        let case_id = tx.last_insert_rowid();
        let person = escalate(&tx, case_id, None, alert_ids)?;
        tx.execute(
            "UPDATE cases SET person_id = ?2 WHERE id = ?1",
            params![case_id, person],
        )?;
        tx.commit()?;
        Ok(case_id)
    }

    /// Attaches more open alerts about the case's person. A closed case takes none: the
    /// alerts would leave triage without anyone reviewing them (reopen it first).
    pub fn add_case_alerts(&mut self, case_id: i64, alert_ids: &[i64], now_us: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        let case = existing_case(&tx, case_id)?;
        if case.status == CaseStatus::Closed {
            return Err(StoreError::Invalid(format!(
                "case {case_id} is closed; reopen it before adding alerts"
            )));
        }
        let person = escalate(&tx, case_id, case.person_id.clone(), alert_ids)?;
        if case.person_id.is_none() {
            tx.execute(
                "UPDATE cases SET person_id = ?2 WHERE id = ?1",
                params![case_id, person],
            )?;
        }
        touch(&tx, case_id, now_us)?;
        tx.commit()?;
        Ok(())
    }

    /// Attaches stored events (ledger leaf indexes) to a case; attaching one again changes
    /// nothing. A leaf the store does not hold is an error.
    pub fn add_case_events(&mut self, case_id: i64, leaves: &[u64], now_us: i64) -> Result<()> {
        let stored = self.size();
        if let Some(leaf) = leaves.iter().find(|&&leaf| leaf >= stored) {
            return Err(StoreError::Invalid(format!(
                "leaf {leaf}: not stored (the store holds leaves 0 to {})",
                stored.saturating_sub(1)
            )));
        }
        let tx = self.conn.transaction()?;
        existing_case(&tx, case_id)?;
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO case_events(case_id, leaf_index) VALUES (?1, ?2)",
            )?;
            for &leaf in leaves {
                // Below `stored`, which came from an i64 column, so it fits.
                let leaf = i64::try_from(leaf).unwrap_or(i64::MAX);
                added += insert.execute(params![case_id, leaf])?;
            }
        }
        if added > 0 {
            touch(&tx, case_id, now_us)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds a note to a case (closed ones too: a review may comment later); returns its id.
    pub fn add_case_note(
        &mut self,
        case_id: i64,
        author: &str,
        text: &str,
        now_us: i64,
    ) -> Result<i64> {
        if text.trim().is_empty() {
            return Err(StoreError::Invalid(format!("case {case_id}: empty note")));
        }
        let tx = self.conn.transaction()?;
        existing_case(&tx, case_id)?;
        tx.execute(
            "INSERT INTO case_notes(case_id, author, time_us, text) VALUES (?1, ?2, ?3, ?4)",
            params![case_id, author, now_us, text],
        )?;
        let note_id = tx.last_insert_rowid();
        touch(&tx, case_id, now_us)?;
        tx.commit()?;
        Ok(note_id)
    }

    pub fn assign_case(&mut self, case_id: i64, assignee: &str, now_us: i64) -> Result<()> {
        if assignee.trim().is_empty() {
            return Err(StoreError::Invalid(format!(
                "case {case_id}: empty assignee"
            )));
        }
        let tx = self.conn.transaction()?;
        existing_case(&tx, case_id)?;
        tx.execute(
            "UPDATE cases SET assignee = ?2 WHERE id = ?1",
            params![case_id, assignee],
        )?;
        touch(&tx, case_id, now_us)?;
        tx.commit()?;
        Ok(())
    }

    /// Moves a case to `status`. Closing needs an outcome and only closing takes one;
    /// reopening (to open or investigating) clears the outcome.
    pub fn set_case_status(
        &mut self,
        case_id: i64,
        status: CaseStatus,
        outcome: Option<CaseOutcome>,
        now_us: i64,
    ) -> Result<()> {
        match (status, outcome) {
            (CaseStatus::Closed, None) => {
                return Err(StoreError::Invalid(format!(
                    "case {case_id}: closing needs an outcome (confirmed, benign or inconclusive)"
                )));
            }
            (CaseStatus::Open | CaseStatus::Investigating, Some(outcome)) => {
                return Err(StoreError::Invalid(format!(
                    "case {case_id}: outcome {} is only for closing",
                    outcome.as_str()
                )));
            }
            _ => {}
        }
        let tx = self.conn.transaction()?;
        existing_case(&tx, case_id)?;
        tx.execute(
            "UPDATE cases SET status = ?2, outcome = ?3 WHERE id = ?1",
            params![case_id, status.as_str(), outcome.map(CaseOutcome::as_str)],
        )?;
        touch(&tx, case_id, now_us)?;
        tx.commit()?;
        Ok(())
    }

    pub fn set_legal_hold(&mut self, case_id: i64, hold: bool, now_us: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        existing_case(&tx, case_id)?;
        tx.execute(
            "UPDATE cases SET legal_hold = ?2 WHERE id = ?1",
            params![case_id, hold],
        )?;
        touch(&tx, case_id, now_us)?;
        tx.commit()?;
        Ok(())
    }

    /// Cases, with `status` only, newest first.
    pub fn cases(&self, status: Option<CaseStatus>) -> Result<Vec<Case>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE ?1 IS NULL OR status = ?1
             ORDER BY created_us DESC, id DESC"
        ))?;
        let mut rows = stmt.query([status.map(CaseStatus::as_str)])?;
        let mut cases = Vec::new();
        while let Some(row) = rows.next()? {
            cases.push(read_case(row)?);
        }
        Ok(cases)
    }

    /// A case with its alerts, events and notes.
    pub fn case(&self, id: i64) -> Result<Option<CaseDetail>> {
        let Some(case) = case_by_id(&self.conn, id)? else {
            return Ok(None);
        };
        let alerts = alerts_of_case(&self.conn, id)?;
        let mut events = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT leaf_index FROM case_events WHERE case_id = ?1 ORDER BY leaf_index",
            )?;
            let mut rows = stmt.query([id])?;
            while let Some(row) = rows.next()? {
                let leaf: i64 = row.get(0)?;
                events.push(u64::try_from(leaf).map_err(|_| {
                    StoreError::Corrupt(format!("case {id}: negative leaf index {leaf}"))
                })?);
            }
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, case_id, author, time_us, text FROM case_notes
             WHERE case_id = ?1 ORDER BY time_us, id",
        )?;
        let notes = stmt
            .query_map([id], |row| {
                Ok(CaseNote {
                    id: row.get(0)?,
                    case_id: row.get(1)?,
                    author: row.get(2)?,
                    time_us: row.get(3)?,
                    text: row.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(CaseDetail {
            case,
            alerts,
            events,
            notes,
        }))
    }

    /// Persons with a case closed as confirmed (the risk engine's "prior incident").
    pub fn persons_with_confirmed_cases(&self) -> Result<HashSet<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT person_id FROM cases
             WHERE status = 'closed' AND outcome = 'confirmed' AND person_id IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::alerts::tests::new_alert;
    use crate::{Level, NewEvent};

    /// A store with three stored events and alerts 1 and 2 about P1, 3 about P2.
    fn store_with_alerts(dir: &tempfile::TempDir) -> EventStore {
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let event = |n: u8| NewEvent {
            identity: [n; 32],
            entry: [n; 32],
            time_us: i64::from(n),
            kind: "logon",
            account: "u1".into(),
            json: vec![b'{', b'}'],
        };
        store.insert_batch(&[event(1), event(2), event(3)]).unwrap();
        store
            .add_alerts(&[
                new_alert("P1", 10, Level::High, "1"),
                new_alert("P1", 11, Level::Critical, "2"),
                new_alert("P2", 11, Level::High, "3"),
            ])
            .unwrap();
        store
    }

    #[test]
    fn a_case_goes_from_alerts_to_a_confirmed_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_alerts(&dir);
        let id = store
            .open_case("USB exfiltration", &[1], None, 100)
            .unwrap();
        let alert = store.alert(1).unwrap().unwrap();
        assert_eq!(
            (alert.status, alert.case_id),
            (AlertStatus::Escalated, Some(id))
        );
        store.add_case_alerts(id, &[2], 110).unwrap();
        let note = store
            .add_case_note(id, "aoki", "talked to the manager", 120)
            .unwrap();
        store.assign_case(id, "ito", 130).unwrap();
        store.add_case_events(id, &[2, 0, 2], 140).unwrap();
        store.add_case_events(id, &[0], 150).unwrap();
        store
            .set_case_status(id, CaseStatus::Investigating, None, 160)
            .unwrap();
        store.set_legal_hold(id, true, 170).unwrap();
        assert!(store.persons_with_confirmed_cases().unwrap().is_empty());
        let error = store
            .set_case_status(id, CaseStatus::Closed, None, 180)
            .unwrap_err();
        assert!(matches!(error, StoreError::Invalid(_)), "{error}");
        store
            .set_case_status(id, CaseStatus::Closed, Some(CaseOutcome::Confirmed), 190)
            .unwrap();

        let detail = store.case(id).unwrap().unwrap();
        assert_eq!(
            detail.case,
            Case {
                id,
                title: "USB exfiltration".into(),
                person_id: Some("P1".into()),
                status: CaseStatus::Closed,
                outcome: Some(CaseOutcome::Confirmed),
                assignee: Some("ito".into()),
                created_us: 100,
                updated_us: 190,
                legal_hold: true,
            }
        );
        let alert_ids: Vec<i64> = detail.alerts.iter().map(|a| a.id).collect();
        assert_eq!(alert_ids, [2, 1]);
        assert_eq!(detail.events, [0, 2]);
        assert_eq!(detail.notes.len(), 1);
        assert_eq!(
            (detail.notes[0].id, detail.notes[0].author.as_str()),
            (note, "aoki")
        );
        assert_eq!(
            store.persons_with_confirmed_cases().unwrap(),
            HashSet::from(["P1".to_string()])
        );

        // Reopening clears the outcome: P1 is no longer a confirmed incident.
        store
            .set_case_status(id, CaseStatus::Open, None, 200)
            .unwrap();
        assert_eq!(store.case(id).unwrap().unwrap().case.outcome, None);
        assert!(store.persons_with_confirmed_cases().unwrap().is_empty());
    }

    #[test]
    fn a_case_takes_open_alerts_of_one_person_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_alerts(&dir);
        let invalid = |result: Result<i64>| matches!(result, Err(StoreError::Invalid(_)));
        assert!(invalid(store.open_case("mixed", &[1, 3], None, 1)));
        assert!(invalid(store.open_case("none", &[], None, 1)));
        assert!(matches!(
            store.open_case("unknown", &[1, 9], None, 1),
            Err(StoreError::NotFound(_))
        ));
        // Nothing of the failed attempts stayed behind.
        assert!(store.cases(None).unwrap().is_empty());
        assert_eq!(store.alert(1).unwrap().unwrap().status, AlertStatus::Open);

        store.dismiss_alert(2, "known project").unwrap();
        assert!(invalid(store.open_case("dismissed", &[2], None, 1)));
        let id = store.open_case("P1", &[1], Some("aoki"), 1).unwrap();
        assert!(invalid(store.open_case("again", &[1], None, 2)));
        assert!(matches!(
            store.add_case_alerts(id, &[3], 3),
            Err(StoreError::Invalid(_))
        ));
        let other = store.open_case("P2", &[3], None, 4).unwrap();
        assert_eq!(
            store
                .cases(Some(CaseStatus::Open))
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect::<Vec<_>>(),
            [other, id]
        );
        assert!(store.cases(Some(CaseStatus::Closed)).unwrap().is_empty());
    }

    #[test]
    fn unknown_cases_and_leaves_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_alerts(&dir);
        let not_found = |result: Result<()>| matches!(result, Err(StoreError::NotFound(_)));
        assert!(not_found(store.assign_case(5, "ito", 1)));
        assert!(not_found(store.set_legal_hold(5, true, 1)));
        assert!(not_found(store.add_case_events(5, &[0], 1)));
        assert!(not_found(store.add_case_alerts(5, &[1], 1)));
        assert!(not_found(store.set_case_status(
            5,
            CaseStatus::Investigating,
            None,
            1
        )));
        assert!(matches!(
            store.add_case_note(5, "ito", "x", 1),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.case(5).unwrap(), None);

        let id = store.open_case("P1", &[1], None, 1).unwrap();
        let error = store.add_case_events(id, &[1, 3], 2).unwrap_err();
        assert!(error.to_string().contains("leaf 3"), "{error}");
        assert!(store.case(id).unwrap().unwrap().events.is_empty());
        assert!(matches!(
            store.set_case_status(id, CaseStatus::Open, Some(CaseOutcome::Benign), 3),
            Err(StoreError::Invalid(_))
        ));
        store
            .set_case_status(id, CaseStatus::Closed, Some(CaseOutcome::Benign), 4)
            .unwrap();
        assert!(matches!(
            store.add_case_alerts(id, &[2], 5),
            Err(StoreError::Invalid(_))
        ));
        assert!(store.persons_with_confirmed_cases().unwrap().is_empty());
    }
}
