//! Approvals: an investigator's request, inside one case, to see who is behind its
//! pseudonyms (a reveal) or to export its evidence (an export).
//!
//! A request names a declared purpose and gives a written justification. Under dual control
//! (the default), another person with the approver role grants or denies it; otherwise it is
//! granted at once. A grant is for the requester only, for that case and that kind only, and
//! ends at `expires_us`. Every request and decision is also written to the access log by the
//! caller.

use rusqlite::{OptionalExtension, params};

use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS approvals (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL, -- reveal, export
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
CREATE INDEX IF NOT EXISTS approvals_case ON approvals(case_id, requester);
";

/// Shortest justification accepted: a reason, not a word.
pub const MIN_JUSTIFICATION_CHARS: usize = 20;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalKind {
    /// To see the persons behind the case's pseudonyms.
    Reveal,
    /// To export the case's evidence bundle (events as stored, with proofs).
    Export,
}

impl ApprovalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalKind::Reveal => "reveal",
            ApprovalKind::Export => "export",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalKind> {
        [ApprovalKind::Reveal, ApprovalKind::Export]
            .into_iter()
            .find(|kind| kind.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Granted,
    Denied,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Granted => "granted",
            ApprovalStatus::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        [
            ApprovalStatus::Pending,
            ApprovalStatus::Granted,
            ApprovalStatus::Denied,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Approval {
    pub id: i64,
    pub kind: ApprovalKind,
    pub case_id: i64,
    pub requester: String,
    pub purpose: String,
    pub justification: String,
    pub requested_us: i64,
    pub status: ApprovalStatus,
    pub decided_by: Option<String>,
    pub decided_us: Option<i64>,
    pub expires_us: Option<i64>,
}

/// A request for approval.
pub struct ApprovalRequest<'a> {
    pub kind: ApprovalKind,
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
    decided_by, decided_us, expires_us, kind";

fn read(row: &rusqlite::Row<'_>) -> Result<Approval> {
    let status: String = row.get(6)?;
    let kind: String = row.get(10)?;
    Ok(Approval {
        id: row.get(0)?,
        kind: ApprovalKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("approval kind {kind:?}")))?,
        case_id: row.get(1)?,
        requester: row.get(2)?,
        purpose: row.get(3)?,
        justification: row.get(4)?,
        requested_us: row.get(5)?,
        status: ApprovalStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("approval status {status:?}")))?,
        decided_by: row.get(7)?,
        decided_us: row.get(8)?,
        expires_us: row.get(9)?,
    })
}

impl EventStore {
    /// Records a request; refuses one without a real justification or for a case that does
    /// not exist.
    pub fn request_approval(
        &mut self,
        request: &ApprovalRequest<'_>,
        now_us: i64,
    ) -> Result<Approval> {
        let justification = request.justification.trim();
        if justification.chars().count() < MIN_JUSTIFICATION_CHARS {
            return Err(StoreError::Invalid(format!(
                "a {} needs a written justification of at least {MIN_JUSTIFICATION_CHARS} characters",
                request.kind.as_str()
            )));
        }
        if request.purpose.trim().is_empty() {
            return Err(StoreError::Invalid(format!(
                "a {} must name a purpose",
                request.kind.as_str()
            )));
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
            (ApprovalStatus::Pending, None, None, None)
        } else {
            (
                ApprovalStatus::Granted,
                Some(request.requester),
                Some(now_us),
                Some(now_us.saturating_add(request.duration_us)),
            )
        };
        tx.execute(
            "INSERT INTO approvals(case_id, requester, purpose, justification, requested_us, status,
                                   decided_by, decided_us, expires_us, kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                request.case_id,
                request.requester,
                request.purpose,
                justification,
                now_us,
                status.as_str(),
                decided_by,
                decided_us,
                expires_us,
                request.kind.as_str()
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        self.approval(id)?
            .ok_or_else(|| StoreError::Corrupt(format!("request {id} vanished")))
    }

    /// Grants or denies a pending request. The requester can never decide their own.
    pub fn decide_approval(
        &mut self,
        id: i64,
        approver: &str,
        grant: bool,
        duration_us: i64,
        now_us: i64,
    ) -> Result<Approval> {
        let request = self
            .approval(id)?
            .ok_or_else(|| StoreError::NotFound(format!("request {id}: no such request")))?;
        if request.status != ApprovalStatus::Pending {
            return Err(StoreError::Invalid(format!(
                "request {id} is {} already",
                request.status.as_str()
            )));
        }
        if request.requester == approver {
            return Err(StoreError::Invalid(format!(
                "request {id}: dual control needs a second person; the requester cannot decide it"
            )));
        }
        let (status, expires_us) = if grant {
            (
                ApprovalStatus::Granted,
                Some(now_us.saturating_add(duration_us)),
            )
        } else {
            (ApprovalStatus::Denied, None)
        };
        self.conn.execute(
            "UPDATE approvals SET status = ?2, decided_by = ?3, decided_us = ?4, expires_us = ?5
             WHERE id = ?1",
            params![id, status.as_str(), approver, now_us, expires_us],
        )?;
        self.approval(id)?
            .ok_or_else(|| StoreError::Corrupt(format!("request {id} vanished")))
    }

    pub fn approval(&self, id: i64) -> Result<Option<Approval>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM approvals WHERE id = ?1"),
                [id],
                |row| Ok(read(row)),
            )
            .optional()?
            .transpose()
    }

    /// Requests, newest first; with `status` only those, with `case_id` only that case's.
    pub fn approvals(
        &self,
        status: Option<ApprovalStatus>,
        case_id: Option<i64>,
    ) -> Result<Vec<Approval>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM approvals
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR case_id = ?2)
             ORDER BY requested_us DESC, id DESC"
        ))?;
        let mut rows = stmt.query(params![status.map(ApprovalStatus::as_str), case_id])?;
        let mut approvals = Vec::new();
        while let Some(row) = rows.next()? {
            approvals.push(read(row)?);
        }
        Ok(approvals)
    }

    /// The grant of `kind` that `user` holds for `case_id` at `now_us`, if any.
    pub fn active_approval(
        &self,
        kind: ApprovalKind,
        case_id: i64,
        user: &str,
        now_us: i64,
    ) -> Result<Option<Approval>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM approvals
                     WHERE kind = ?4 AND case_id = ?1 AND requester = ?2
                       AND status = 'granted' AND expires_us > ?3
                     ORDER BY expires_us DESC LIMIT 1"
                ),
                params![case_id, user, now_us, kind.as_str()],
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

    fn request(case_id: i64, dual_control: bool) -> ApprovalRequest<'static> {
        ApprovalRequest {
            kind: ApprovalKind::Reveal,
            case_id,
            requester: "sato",
            purpose: "investigation",
            justification: "copies of design drawings to USB before leaving",
            dual_control,
            duration_us: 100,
        }
    }

    #[test]
    fn a_request_under_dual_control_waits_for_a_second_person() {
        let (_dir, mut store, case) = store_with_case();
        let pending = store.request_approval(&request(case, true), 10).unwrap();
        assert_eq!(pending.status, ApprovalStatus::Pending);
        assert_eq!(
            store
                .active_approval(ApprovalKind::Reveal, case, "sato", 11)
                .unwrap(),
            None
        );
        // The requester cannot approve their own request.
        assert!(
            store
                .decide_approval(pending.id, "sato", true, 100, 12)
                .is_err()
        );
        let granted = store
            .decide_approval(pending.id, "ueda", true, 100, 12)
            .unwrap();
        assert_eq!(
            (granted.status, granted.expires_us),
            (ApprovalStatus::Granted, Some(112))
        );
        assert!(
            store
                .decide_approval(pending.id, "ueda", false, 100, 13)
                .is_err()
        );
        // For the requester, for this case, until it expires.
        assert!(
            store
                .active_approval(ApprovalKind::Reveal, case, "sato", 111)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            store
                .active_approval(ApprovalKind::Reveal, case, "sato", 112)
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .active_approval(ApprovalKind::Reveal, case, "ueda", 111)
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .active_approval(ApprovalKind::Reveal, case + 1, "sato", 111)
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .approvals(Some(ApprovalStatus::Pending), None)
                .unwrap(),
            vec![]
        );
    }

    #[test]
    fn a_request_needs_a_justification_a_purpose_and_a_case() {
        let (_dir, mut store, case) = store_with_case();
        let mut short = request(case, true);
        short.justification = "   because     ";
        assert!(matches!(
            store.request_approval(&short, 1),
            Err(StoreError::Invalid(_))
        ));
        let mut no_purpose = request(case, true);
        no_purpose.purpose = " ";
        assert!(store.request_approval(&no_purpose, 1).is_err());
        assert!(matches!(
            store.request_approval(&request(case + 7, true), 1),
            Err(StoreError::NotFound(_))
        ));
        let denied = store.request_approval(&request(case, true), 1).unwrap();
        let denied = store
            .decide_approval(denied.id, "ueda", false, 100, 2)
            .unwrap();
        assert_eq!(
            (denied.status, denied.expires_us),
            (ApprovalStatus::Denied, None)
        );
        // Without dual control a request is granted at once.
        let direct = store.request_approval(&request(case, false), 5).unwrap();
        assert_eq!(direct.status, ApprovalStatus::Granted);
        assert!(
            store
                .active_approval(ApprovalKind::Reveal, case, "sato", 6)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_grant_is_for_its_kind_only() {
        let (_dir, mut store, case) = store_with_case();
        let mut export = request(case, false);
        export.kind = ApprovalKind::Export;
        let granted = store.request_approval(&export, 1).unwrap();
        assert_eq!(
            (granted.kind, granted.status),
            (ApprovalKind::Export, ApprovalStatus::Granted)
        );
        assert!(
            store
                .active_approval(ApprovalKind::Export, case, "sato", 2)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            store
                .active_approval(ApprovalKind::Reveal, case, "sato", 2)
                .unwrap(),
            None
        );
        assert_eq!(store.approvals(None, Some(case)).unwrap().len(), 1);
        assert_eq!(store.approvals(None, Some(case + 1)).unwrap(), vec![]);
    }
}
