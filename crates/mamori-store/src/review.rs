//! Access review decisions: a manager's periodic attestation that each account of their people,
//! and each group of those accounts, is still needed (`keep`) or should go (`revoke`).
//!
//! `access_review_decisions` is append-only: a new decision on the same account and grant does
//! not replace the earlier one but follows it, so the history shows who attested what and when
//! across review periods; the state of a grant is its latest decision. Nothing here updates or
//! deletes a row. The caller also records every decision in the access log.

use rusqlite::params;

use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_review_decisions (
    id         INTEGER PRIMARY KEY,
    manager    TEXT NOT NULL, -- the reviewing manager's person id
    account    TEXT NOT NULL,
    grant_name TEXT NOT NULL, -- the group, or '' for the account itself
    decision   TEXT NOT NULL, -- keep, revoke
    comment    TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS access_review_decisions_grant
    ON access_review_decisions(account, grant_name, id);
";

/// Shortest comment a revoke needs: whoever carries it out must know why.
pub const MIN_REVOKE_COMMENT_CHARS: usize = 10;

/// What a reviewer decided about an account or one of its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewVerdict {
    Keep,
    Revoke,
}

impl ReviewVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Keep => "keep",
            ReviewVerdict::Revoke => "revoke",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewVerdict> {
        [ReviewVerdict::Keep, ReviewVerdict::Revoke]
            .into_iter()
            .find(|verdict| verdict.as_str() == s)
    }
}

/// One stored decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewDecision {
    pub id: i64,
    pub manager: String,
    pub account: String,
    /// The group decided on, or empty for the account itself.
    pub grant: String,
    pub decision: ReviewVerdict,
    pub comment: String,
    pub decided_by: String,
    pub decided_us: i64,
}

/// A decision to store.
#[derive(Debug, Clone, Copy)]
pub struct NewReviewDecision<'a> {
    pub manager: &'a str,
    pub account: &'a str,
    /// The group, or empty for the account itself.
    pub grant: &'a str,
    pub decision: ReviewVerdict,
    pub comment: &'a str,
    pub decided_by: &'a str,
}

const COLUMNS: &str = "id, manager, account, grant_name, decision, comment, decided_by, decided_us";

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ReviewDecision>> {
    let decision: String = row.get(4)?;
    let Some(verdict) = ReviewVerdict::parse(&decision) else {
        let id: i64 = row.get(0)?;
        return Ok(Err(StoreError::Corrupt(format!(
            "access review decision {id}: stored decision {decision:?} is invalid"
        ))));
    };
    Ok(Ok(ReviewDecision {
        id: row.get(0)?,
        manager: row.get(1)?,
        account: row.get(2)?,
        grant: row.get(3)?,
        decision: verdict,
        comment: row.get(5)?,
        decided_by: row.get(6)?,
        decided_us: row.get(7)?,
    }))
}

impl EventStore {
    /// Appends a decision; refuses a revoke without a comment of at least
    /// [`MIN_REVOKE_COMMENT_CHARS`] characters. Whether the account is one the manager
    /// reviews is the caller's to check.
    pub fn record_review_decision(
        &mut self,
        new: &NewReviewDecision<'_>,
        now_us: i64,
    ) -> Result<ReviewDecision> {
        let comment = new.comment.trim();
        if new.decision == ReviewVerdict::Revoke
            && comment.chars().count() < MIN_REVOKE_COMMENT_CHARS
        {
            return Err(StoreError::Invalid(format!(
                "a revoke needs a comment of at least {MIN_REVOKE_COMMENT_CHARS} characters saying why"
            )));
        }
        if new.account.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a decision must name an account".into(),
            ));
        }
        self.conn.execute(
            "INSERT INTO access_review_decisions(manager, account, grant_name, decision, comment,
                                                 decided_by, decided_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                new.manager,
                new.account,
                new.grant,
                new.decision.as_str(),
                comment,
                new.decided_by,
                now_us
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        self.conn.query_row(
            &format!("SELECT {COLUMNS} FROM access_review_decisions WHERE id = ?1"),
            [id],
            read,
        )?
    }

    /// The latest decision of every `(account, grant)` decided at least once, by account and
    /// grant.
    pub fn latest_review_decisions(&self) -> Result<Vec<ReviewDecision>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM access_review_decisions AS d
             WHERE id = (SELECT MAX(id) FROM access_review_decisions
                         WHERE account = d.account AND grant_name = d.grant_name)
             ORDER BY account, grant_name"
        ))?;
        let rows = stmt.query_map([], read)?;
        rows.map(|row| row?).collect()
    }

    /// Every decision on `account` (every decision when `None`), oldest first.
    pub fn review_decision_history(&self, account: Option<&str>) -> Result<Vec<ReviewDecision>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM access_review_decisions
             WHERE ?1 IS NULL OR account = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([account], read)?;
        rows.map(|row| row?).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn decision<'a>(
        account: &'a str,
        grant: &'a str,
        decision: ReviewVerdict,
        comment: &'a str,
    ) -> NewReviewDecision<'a> {
        NewReviewDecision {
            manager: "M1",
            account,
            grant,
            decision,
            comment,
            decided_by: "approver",
        }
    }

    #[test]
    fn decisions_are_appended_and_the_latest_per_grant_is_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let kept = store
            .record_review_decision(&decision("yamada", "", ReviewVerdict::Keep, ""), 10)
            .unwrap();
        assert_eq!(kept.grant, "");
        assert_eq!(kept.decision, ReviewVerdict::Keep);
        assert_eq!(kept.decided_by, "approver");
        assert_eq!(kept.decided_us, 10);

        let refused = store.record_review_decision(
            &decision("yamada", "Domain Admins", ReviewVerdict::Revoke, " moved  "),
            20,
        );
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
        store
            .record_review_decision(
                &decision("yamada", "Domain Admins", ReviewVerdict::Keep, ""),
                20,
            )
            .unwrap();
        let revoked = store
            .record_review_decision(
                &decision(
                    "yamada",
                    "Domain Admins",
                    ReviewVerdict::Revoke,
                    "  moved to sales in April ",
                ),
                30,
            )
            .unwrap();
        assert_eq!(revoked.comment, "moved to sales in April");

        let latest = store.latest_review_decisions().unwrap();
        let states: Vec<(&str, &str, ReviewVerdict)> = latest
            .iter()
            .map(|d| (d.account.as_str(), d.grant.as_str(), d.decision))
            .collect();
        assert_eq!(
            states,
            [
                ("yamada", "", ReviewVerdict::Keep),
                ("yamada", "Domain Admins", ReviewVerdict::Revoke)
            ]
        );
        let history = store.review_decision_history(Some("yamada")).unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(history[1].decision, ReviewVerdict::Keep);
        assert!(
            store
                .review_decision_history(Some("nobody"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.review_decision_history(None).unwrap().len(), 3);
    }
}
