//! Reveals: an investigator's request to see who is behind the pseudonyms of one case.
//!
//! A request names a declared purpose and gives a written justification. Under dual control
//! (the default), another person with the approver role grants or denies it; otherwise it is
//! granted at once. A grant is for the requester only, for that case only, and ends at
//! `expires_us`. Every request and decision is also written to the access log by the caller.

use rusqlite::{OptionalExtension, params};

use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS reveals (
    id            INTEGER PRIMARY KEY,
    case_id       INTEGER NOT NULL REFERENCES cases(id),
    requester     TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    justification TEXT NOT NULL,
    requested_us  INTEGER NOT NULL,
    status        TEXT NOT NULL, -- pending, granted, denied
    decided_by    TEXT,
    decided_us    INTEGER,
    expires_us    INTEGER        -- set when granted
);
CREATE INDEX IF NOT EXISTS reveals_case ON reveals(case_id, requester);
";

/// Shortest justification accepted: a reason, not a word.
pub const MIN_JUSTIFICATION_CHARS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RevealStatus {
    Pending,
    Granted,
    Denied,
}

impl RevealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RevealStatus::Pending => "pending",
            RevealStatus::Granted => "granted",
            RevealStatus::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<RevealStatus> {
        [
            RevealStatus::Pending,
            RevealStatus::Granted,
            RevealStatus::Denied,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reveal {
    pub id: i64,
    pub case_id: i64,
    pub requester: String,
    pub purpose: String,
    pub justification: String,
    pub requested_us: i64,
    pub status: RevealStatus,
    pub decided_by: Option<String>,
    pub decided_us: Option<i64>,
    pub expires_us: Option<i64>,
}

/// A reveal request.
pub struct RevealRequest<'a> {
    pub case_id: i64,
    pub requester: &'a str,
    /// One of the purposes declared in `privacy.toml` (the caller checks).
    pub purpose: &'a str,
    pub justification: &'a str,
    /// Whether an approver must grant it; without dual control it is granted at once.
    pub dual_control: bool,
    /// How long a grant lasts.
    pub duration_us: i64,
}

const COLUMNS: &str = "id, case_id, requester, purpose, justification, requested_us, status,
    decided_by, decided_us, expires_us";

fn read(row: &rusqlite::Row<'_>) -> Result<Reveal> {
    let status: String = row.get(6)?;
    Ok(Reveal {
        id: row.get(0)?,
        case_id: row.get(1)?,
        requester: row.get(2)?,
        purpose: row.get(3)?,
        justification: row.get(4)?,
        requested_us: row.get(5)?,
        status: RevealStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("reveal status {status:?}")))?,
        decided_by: row.get(7)?,
        decided_us: row.get(8)?,
        expires_us: row.get(9)?,
    })
}

impl EventStore {
    /// Records a reveal request; refuses one without a real justification or for a case that
    /// does not exist.
    pub fn request_reveal(&mut self, request: &RevealRequest<'_>, now_us: i64) -> Result<Reveal> {
        let justification = request.justification.trim();
        if justification.chars().count() < MIN_JUSTIFICATION_CHARS {
            return Err(StoreError::Invalid(format!(
                "a reveal needs a written justification of at least {MIN_JUSTIFICATION_CHARS} characters"
            )));
        }
        if request.purpose.trim().is_empty() {
            return Err(StoreError::Invalid("a reveal must name a purpose".into()));
        }
        let tx = self.conn.transaction()?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM cases WHERE id = ?1)",
            [request.case_id],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::NotFound(format!(
                "case {}: no such case",
                request.case_id
            )));
        }
        let (status, decided_by, decided_us, expires_us) = if request.dual_control {
            (RevealStatus::Pending, None, None, None)
        } else {
            (
                RevealStatus::Granted,
                Some(request.requester),
                Some(now_us),
                Some(now_us.saturating_add(request.duration_us)),
            )
        };
        tx.execute(
            "INSERT INTO reveals(case_id, requester, purpose, justification, requested_us, status,
                                 decided_by, decided_us, expires_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                request.case_id,
                request.requester,
                request.purpose,
                justification,
                now_us,
                status.as_str(),
                decided_by,
                decided_us,
                expires_us
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        self.reveal(id)?
            .ok_or_else(|| StoreError::Corrupt(format!("reveal {id} vanished")))
    }

    /// Grants or denies a pending request. The requester can never decide their own.
    pub fn decide_reveal(
        &mut self,
        id: i64,
        approver: &str,
        grant: bool,
        duration_us: i64,
        now_us: i64,
    ) -> Result<Reveal> {
        let reveal = self
            .reveal(id)?
            .ok_or_else(|| StoreError::NotFound(format!("reveal {id}: no such request")))?;
        if reveal.status != RevealStatus::Pending {
            return Err(StoreError::Invalid(format!(
                "reveal {id} is {} already",
                reveal.status.as_str()
            )));
        }
        if reveal.requester == approver {
            return Err(StoreError::Invalid(format!(
                "reveal {id}: dual control needs a second person; the requester cannot decide it"
            )));
        }
        let (status, expires_us) = if grant {
            (
                RevealStatus::Granted,
                Some(now_us.saturating_add(duration_us)),
            )
        } else {
            (RevealStatus::Denied, None)
        };
        self.conn.execute(
            "UPDATE reveals SET status = ?2, decided_by = ?3, decided_us = ?4, expires_us = ?5
             WHERE id = ?1",
            params![id, status.as_str(), approver, now_us, expires_us],
        )?;
        self.reveal(id)?
            .ok_or_else(|| StoreError::Corrupt(format!("reveal {id} vanished")))
    }

    pub fn reveal(&self, id: i64) -> Result<Option<Reveal>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM reveals WHERE id = ?1"),
                [id],
                |row| Ok(read(row)),
            )
            .optional()?
            .transpose()
    }

    /// Requests, newest first; with `status` only those.
    pub fn reveals(&self, status: Option<RevealStatus>) -> Result<Vec<Reveal>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM reveals WHERE ?1 IS NULL OR status = ?1
             ORDER BY requested_us DESC, id DESC"
        ))?;
        let mut rows = stmt.query([status.map(RevealStatus::as_str)])?;
        let mut reveals = Vec::new();
        while let Some(row) = rows.next()? {
            reveals.push(read(row)?);
        }
        Ok(reveals)
    }

    /// The grant `user` holds for `case_id` at `now_us`, if any.
    pub fn active_reveal(&self, case_id: i64, user: &str, now_us: i64) -> Result<Option<Reveal>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM reveals
                     WHERE case_id = ?1 AND requester = ?2 AND status = 'granted'
                       AND expires_us > ?3
                     ORDER BY expires_us DESC LIMIT 1"
                ),
                params![case_id, user, now_us],
                |row| Ok(read(row)),
            )
            .optional()?
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{Level, NewAlert};

    fn store_with_case() -> (tempfile::TempDir, EventStore, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store
            .add_alerts(&[NewAlert {
                person_id: "E1".into(),
                time_us: 1,
                day: 0,
                severity: Level::High,
                kind: "rule".into(),
                title: "t".into(),
                title_ja: "t".into(),
                details: serde_json::json!({}),
                dedup_key: "k".into(),
                events: vec![],
            }])
            .unwrap();
        let case = store.open_case("c", &[1], None, 2).unwrap();
        (dir, store, case)
    }

    fn request(case_id: i64, dual_control: bool) -> RevealRequest<'static> {
        RevealRequest {
            case_id,
            requester: "sato",
            purpose: "investigation",
            justification: "copies of design drawings to USB before leaving",
            dual_control,
            duration_us: 100,
        }
    }

    #[test]
    fn a_reveal_under_dual_control_waits_for_a_second_person() {
        let (_dir, mut store, case) = store_with_case();
        let pending = store.request_reveal(&request(case, true), 10).unwrap();
        assert_eq!(pending.status, RevealStatus::Pending);
        assert_eq!(store.active_reveal(case, "sato", 11).unwrap(), None);
        // The requester cannot approve their own request.
        assert!(
            store
                .decide_reveal(pending.id, "sato", true, 100, 12)
                .is_err()
        );
        let granted = store
            .decide_reveal(pending.id, "ueda", true, 100, 12)
            .unwrap();
        assert_eq!(
            (granted.status, granted.expires_us),
            (RevealStatus::Granted, Some(112))
        );
        assert!(
            store
                .decide_reveal(pending.id, "ueda", false, 100, 13)
                .is_err()
        );
        // For the requester, for this case, until it expires.
        assert!(store.active_reveal(case, "sato", 111).unwrap().is_some());
        assert_eq!(store.active_reveal(case, "sato", 112).unwrap(), None);
        assert_eq!(store.active_reveal(case, "ueda", 111).unwrap(), None);
        assert_eq!(store.active_reveal(case + 1, "sato", 111).unwrap(), None);
        assert_eq!(store.reveals(Some(RevealStatus::Pending)).unwrap(), vec![]);
    }

    #[test]
    fn a_reveal_needs_a_justification_a_purpose_and_a_case() {
        let (_dir, mut store, case) = store_with_case();
        let mut short = request(case, true);
        short.justification = "   because     ";
        assert!(matches!(
            store.request_reveal(&short, 1),
            Err(StoreError::Invalid(_))
        ));
        let mut no_purpose = request(case, true);
        no_purpose.purpose = " ";
        assert!(store.request_reveal(&no_purpose, 1).is_err());
        assert!(matches!(
            store.request_reveal(&request(case + 7, true), 1),
            Err(StoreError::NotFound(_))
        ));
        let denied = store.request_reveal(&request(case, true), 1).unwrap();
        let denied = store
            .decide_reveal(denied.id, "ueda", false, 100, 2)
            .unwrap();
        assert_eq!(
            (denied.status, denied.expires_us),
            (RevealStatus::Denied, None)
        );
        // Without dual control a request is granted at once.
        let direct = store.request_reveal(&request(case, false), 5).unwrap();
        assert_eq!(direct.status, RevealStatus::Granted);
        assert!(store.active_reveal(case, "sato", 6).unwrap().is_some());
    }
}
