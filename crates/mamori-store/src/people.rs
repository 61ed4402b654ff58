//! People and their accounts (the HR side), time-versioned.
//!
//! `person_versions` keeps every version of every person's HR record, keyed by
//! `(person_id, valid_from)`; the version in force on day D is the latest one with
//! `valid_from <= D`. `accounts` maps each account id (as events name it in `actor.user`) to
//! its person. Imports are idempotent: the same version twice changes nothing, a different
//! record for the same `(person_id, valid_from)` replaces it (an HR correction) and is counted.

use std::collections::BTreeMap;

use jiff::civil::Date;
use mamori_event::{EmploymentType, PersonRecord};
use rusqlite::{OptionalExtension, Row, params};

use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS person_versions (
    person_id        TEXT NOT NULL,
    valid_from       TEXT NOT NULL, -- YYYY-MM-DD
    name             TEXT NOT NULL,
    email            TEXT,
    business_unit    TEXT,
    functional_unit  TEXT,
    department       TEXT,
    team             TEXT,
    role             TEXT,
    supervisor       TEXT,
    employment_type  TEXT,
    hire_date        TEXT,
    notice_date      TEXT,
    termination_date TEXT,
    priority         INTEGER NOT NULL,
    accounts         TEXT NOT NULL, -- ';'-separated, as in the HR CSV
    PRIMARY KEY (person_id, valid_from)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts (
    account   TEXT PRIMARY KEY,
    person_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS accounts_person ON accounts(person_id);
-- Big Five scores (O, C, E, A, N) where a data set has them (CERT psychometric.csv). Special
-- category data in most jurisdictions: read only for research and evaluation, never for scores.
CREATE TABLE IF NOT EXISTS psychometric (
    person_id TEXT PRIMARY KEY,
    o INTEGER NOT NULL, c INTEGER NOT NULL, e INTEGER NOT NULL, a INTEGER NOT NULL, n INTEGER NOT NULL
) WITHOUT ROWID;
";

/// What storing a set of person versions changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PeopleOutcome {
    /// Versions not stored before.
    pub added: u64,
    /// Versions already stored exactly so.
    pub unchanged: u64,
    /// Versions that replaced a different record for the same person and day.
    pub replaced: u64,
}

pub(crate) const COLUMNS: &str = "person_id, valid_from, name, email, business_unit, functional_unit, \
    department, team, role, supervisor, employment_type, hire_date, notice_date, \
    termination_date, priority, accounts";

impl EventStore {
    /// Stores person versions in one transaction and links their accounts to them.
    pub fn store_people(&mut self, records: &[PersonRecord]) -> Result<PeopleOutcome> {
        let mut outcome = PeopleOutcome::default();
        let tx = self.conn.transaction()?;
        {
            let mut existing = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM person_versions WHERE person_id = ?1 AND valid_from = ?2"
            ))?;
            let mut upsert = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO person_versions({COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))?;
            let mut link = tx.prepare_cached(
                "INSERT INTO accounts(account, person_id) VALUES (?1, ?2)
                 ON CONFLICT(account) DO UPDATE SET person_id = excluded.person_id",
            )?;
            for record in records {
                let before = existing
                    .query_row(
                        params![record.person_id, record.valid_from.to_string()],
                        read_record,
                    )
                    .optional()?
                    .transpose()?;
                match before {
                    Some(stored) if stored == *record => {
                        outcome.unchanged += 1;
                        continue;
                    }
                    Some(_) => outcome.replaced += 1,
                    None => outcome.added += 1,
                }
                let date = |d: Option<Date>| d.map(|d| d.to_string());
                upsert.execute(params![
                    record.person_id,
                    record.valid_from.to_string(),
                    record.name,
                    record.email,
                    record.business_unit,
                    record.functional_unit,
                    record.department,
                    record.team,
                    record.role,
                    record.supervisor,
                    record.employment_type.map(|t| t.as_str()),
                    date(record.hire_date),
                    date(record.notice_date),
                    date(record.termination_date),
                    record.priority,
                    record.accounts.join(";"),
                ])?;
                for account in &record.accounts {
                    link.execute(params![account, record.person_id])?;
                }
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Stores (replacing) Big Five scores `(person_id, [o, c, e, a, n])`.
    pub fn store_psychometric(&mut self, scores: &[(String, [u16; 5])]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO psychometric(person_id, o, c, e, a, n)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (person, [o, c, e, a, n]) in scores {
                insert.execute(params![person, o, c, e, a, n])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The version of `person_id`'s record in force on `day`, if the person existed then.
    pub fn person_on(&self, person_id: &str, day: Date) -> Result<Option<PersonRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM person_versions
                 WHERE person_id = ?1 AND valid_from <= ?2
                 ORDER BY valid_from DESC LIMIT 1"
            ))?
            .query_row(params![person_id, day.to_string()], read_record)
            .optional()?
            .transpose()
    }

    /// Every version of every person's record, per person, oldest first.
    pub fn person_histories(&self) -> Result<BTreeMap<String, Vec<PersonRecord>>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM person_versions ORDER BY person_id, valid_from"
        ))?;
        let mut histories: BTreeMap<String, Vec<PersonRecord>> = BTreeMap::new();
        for row in stmt.query_map([], read_record)? {
            let record = row??;
            histories
                .entry(record.person_id.clone())
                .or_default()
                .push(record);
        }
        Ok(histories)
    }

    /// Every version of `person_id`'s record, oldest first.
    pub fn person_history(&self, person_id: &str) -> Result<Vec<PersonRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM person_versions WHERE person_id = ?1 ORDER BY valid_from"
        ))?;
        let rows = stmt.query_map([person_id], read_record)?;
        rows.map(|row| row?).collect()
    }

    /// The latest version of every person's record, by person id.
    pub fn people(&self) -> Result<Vec<PersonRecord>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM person_versions AS v
             WHERE valid_from = (SELECT MAX(valid_from) FROM person_versions
                                 WHERE person_id = v.person_id)
             ORDER BY person_id"
        ))?;
        let rows = stmt.query_map([], read_record)?;
        rows.map(|row| row?).collect()
    }

    /// The person an account belongs to, if HR data linked it.
    pub fn person_of_account(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT person_id FROM accounts WHERE account = ?1")?
            .query_row([account], |row| row.get(0))
            .optional()?)
    }

    /// The accounts linked to `person_id`.
    pub fn accounts_of(&self, person_id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT account FROM accounts WHERE person_id = ?1 ORDER BY account")?;
        let rows = stmt.query_map([person_id], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// A row in `COLUMNS` order; a malformed stored value is a corruption error (the outer
/// `Result` is SQLite's).
pub(crate) fn read_record(row: &Row<'_>) -> rusqlite::Result<Result<PersonRecord>> {
    let person_id: String = row.get(0)?;
    let corrupt = |what: &str, value: &str| {
        StoreError::Corrupt(format!(
            "person {person_id}: stored {what} {value:?} is invalid"
        ))
    };
    let date = |index: usize, what: &str| -> rusqlite::Result<Result<Option<Date>>> {
        let text: Option<String> = row.get(index)?;
        Ok(text
            .map(|t| t.parse::<Date>().map_err(|_| corrupt(what, &t)))
            .transpose())
    };
    let valid_from: String = row.get(1)?;
    let Ok(valid_from) = valid_from.parse::<Date>() else {
        return Ok(Err(corrupt("valid_from", &valid_from)));
    };
    let employment_type: Option<String> = row.get(10)?;
    let employment_type = match employment_type.map(|t| t.parse::<EmploymentType>().map_err(|_| t))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(t)) => return Ok(Err(corrupt("employment_type", &t))),
    };
    let (hire_date, notice_date, termination_date) = match (
        date(11, "hire_date")?,
        date(12, "notice_date")?,
        date(13, "termination_date")?,
    ) {
        (Ok(h), Ok(n), Ok(t)) => (h, n, t),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Ok(Err(e)),
    };
    let accounts: String = row.get(15)?;
    Ok(Ok(PersonRecord {
        valid_from,
        name: row.get(2)?,
        email: row.get(3)?,
        business_unit: row.get(4)?,
        functional_unit: row.get(5)?,
        department: row.get(6)?,
        team: row.get(7)?,
        role: row.get(8)?,
        supervisor: row.get(9)?,
        employment_type,
        hire_date,
        notice_date,
        termination_date,
        priority: row.get(14)?,
        accounts: accounts
            .split(';')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        person_id,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::civil::date;

    fn alice(valid_from: Date, department: &str) -> PersonRecord {
        let mut p = PersonRecord::new("E001", valid_from, "山田 花子");
        p.department = Some(department.into());
        p.accounts = vec!["ACM2278".into(), "CORP\\hyamada".into()];
        p.employment_type = Some(EmploymentType::Employee);
        p.hire_date = Some(date(2015, 4, 1));
        p
    }

    #[test]
    fn versions_answer_what_held_on_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let first = alice(date(2020, 1, 1), "設計部");
        let mut moved = alice(date(2021, 7, 1), "営業部");
        moved.notice_date = Some(date(2022, 2, 1));
        moved.termination_date = Some(date(2022, 3, 31));
        moved.priority = true;
        let outcome = store.store_people(&[first.clone(), moved.clone()]).unwrap();
        assert_eq!(
            outcome,
            PeopleOutcome {
                added: 2,
                unchanged: 0,
                replaced: 0
            }
        );
        assert_eq!(store.person_on("E001", date(2019, 12, 31)).unwrap(), None);
        assert_eq!(
            store.person_on("E001", date(2021, 6, 30)).unwrap(),
            Some(first.clone())
        );
        assert_eq!(
            store.person_on("E001", date(2021, 7, 1)).unwrap(),
            Some(moved.clone())
        );
        assert_eq!(
            store.person_history("E001").unwrap(),
            [first.clone(), moved.clone()]
        );
        assert_eq!(store.people().unwrap(), [moved.clone()]);
        assert_eq!(
            store.person_of_account("CORP\\hyamada").unwrap().as_deref(),
            Some("E001")
        );
        assert_eq!(store.person_of_account("nobody").unwrap(), None);
        assert_eq!(
            store.accounts_of("E001").unwrap(),
            ["ACM2278", "CORP\\hyamada"]
        );

        // Idempotent; a correction of one version is counted as such.
        let again = store.store_people(&[first.clone(), moved.clone()]).unwrap();
        assert_eq!(
            again,
            PeopleOutcome {
                added: 0,
                unchanged: 2,
                replaced: 0
            }
        );
        let mut corrected = first;
        corrected.department = Some("設計一部".into());
        let fixed = store.store_people(&[corrected.clone()]).unwrap();
        assert_eq!(fixed.replaced, 1);
        assert_eq!(
            store.person_on("E001", date(2020, 5, 5)).unwrap(),
            Some(corrected)
        );
    }
}
