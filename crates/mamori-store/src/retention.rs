//! Retention: the bodies of expired events are erased, their rows and ledger entries stay.
//!
//! An expired event's body bytes in `store.ndjson` are overwritten with spaces and its row is
//! marked `purged_us`. The row keeps the entry (the SHA-256 of the erased body), so the tiles,
//! signed checkpoints and inclusion proofs of every other event stay valid and `verify` still
//! passes (it counts purged leaves instead of rehashing them). The identity stays too, so the
//! event cannot be imported again. Events attached to a case under legal hold are kept.
//!
//! Crash safety: rows are marked first, with the run's time in meta `erase_pending`, in one
//! transaction; then the bytes are overwritten and synced; then the mark is removed. A run
//! interrupted in between is completed by the next one, which erases the rows marked with
//! that time before anything else.

use rusqlite::{OptionalExtension, params};

use crate::{EventStore, Result, StoreError};

/// Meta key: the `purged_us` of a run whose bodies may not all be erased yet.
const ERASE_PENDING: &str = "erase_pending";

/// What one purge did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    /// Events whose bodies were erased.
    pub purged: u64,
    /// Expired events kept because a case under legal hold holds them.
    pub held: u64,
}

/// Leaves attached to a case under legal hold.
const HELD: &str = "SELECT ce.leaf_index FROM case_events AS ce
                    JOIN cases AS c ON c.id = ce.case_id WHERE c.legal_hold = 1";

impl EventStore {
    /// Erases the bodies of the events of `kind` from before `before_us` (event time) that no
    /// case under legal hold holds, marking them purged at `now_us`.
    pub fn purge(&mut self, kind: &str, before_us: i64, now_us: i64) -> Result<Purged> {
        self.finish_erasing()?;
        let tx = self.conn.transaction()?;
        let held: i64 = tx.query_row(
            &format!(
                "SELECT COUNT(*) FROM events
                 WHERE kind_id = (SELECT id FROM names WHERE name = ?1) AND time_us < ?2
                   AND purged_us IS NULL AND leaf_index IN ({HELD})"
            ),
            params![kind, before_us],
            |r| r.get(0),
        )?;
        let purged = tx.execute(
            &format!(
                "UPDATE events SET purged_us = ?3
                 WHERE kind_id = (SELECT id FROM names WHERE name = ?1) AND time_us < ?2
                   AND purged_us IS NULL AND leaf_index NOT IN ({HELD})"
            ),
            params![kind, before_us, now_us],
        )?;
        if purged > 0 {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![ERASE_PENDING, now_us.to_string()],
            )?;
        }
        tx.commit()?;
        if purged > 0 {
            self.finish_erasing()?;
        }
        Ok(Purged {
            purged: purged as u64,
            held: held as u64,
        })
    }

    /// Overwrites the bodies of the rows a run marked, if one did not finish.
    fn finish_erasing(&mut self) -> Result<()> {
        let pending: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [ERASE_PENDING],
                |r| r.get(0),
            )
            .optional()?;
        let Some(pending) = pending else {
            return Ok(());
        };
        let purged_us: i64 = pending
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("meta {ERASE_PENDING}: {pending:?}")))?;
        {
            let mut rows = self
                .conn
                .prepare("SELECT leaf_index, body_at, body_len FROM events WHERE purged_us = ?1")?;
            let mut found = rows.query([purged_us])?;
            while let Some(row) = found.next()? {
                let range = crate::bodies::BodyRange::from_row(
                    row.get::<_, i64>(0)?.max(0) as u64,
                    row.get(1)?,
                    row.get(2)?,
                )?;
                self.bodies.erase(range)?;
            }
        }
        self.bodies.sync()?;
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [ERASE_PENDING])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::NewEvent;

    fn event(n: u8, kind: &'static str, time_us: i64) -> NewEvent {
        NewEvent {
            identity: [n; 32],
            entry: [n; 32],
            time_us,
            kind,
            account: "user1".into(),
            json: format!("{{\"n\":{n},\"secret\":\"body{n}\"}}").into_bytes(),
        }
    }

    #[test]
    fn expired_bodies_are_erased_except_under_legal_hold_and_rows_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut store = EventStore::open(&path).unwrap();
        store
            .insert_batch(&[
                event(1, "logon", 10),
                event(2, "email.send", 20),
                event(3, "logon", 30),
                event(4, "logon", 100),
            ])
            .unwrap();
        store
            .conn
            .execute(
                "INSERT INTO cases(title, person_id, status, created_us, updated_us)
                 VALUES ('held', 'P1', 'open', 1, 1)",
                [],
            )
            .unwrap();
        let case = store.conn.last_insert_rowid();
        store.add_case_events(case, &[2], 1).unwrap();
        store.set_legal_hold(case, true, 1).unwrap();

        // Logons before 50: leaf 0 is erased, leaf 2 is held, leaf 3 is not expired.
        let purged = store.purge("logon", 50, 1_000).unwrap();
        assert_eq!(purged, Purged { purged: 1, held: 1 });
        let bodies = std::fs::read_to_string(dir.path().join("s.ndjson")).unwrap();
        assert!(!bodies.contains("body1"), "{bodies}");
        assert!(bodies.contains("body2") && bodies.contains("body3") && bodies.contains("body4"));
        assert_eq!(bodies.lines().count(), 4);
        assert_eq!(bodies.lines().next().unwrap().trim(), "");
        let mut seen = Vec::new();
        store
            .scan_range(0..4, |leaf, _, json| {
                seen.push((leaf, json.is_some()));
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(seen, [(0, false), (1, true), (2, true), (3, true)]);
        // Again: nothing more; other kinds untouched; released hold: purged next time.
        assert_eq!(
            store.purge("logon", 50, 2_000).unwrap(),
            Purged { purged: 0, held: 1 }
        );
        store.set_legal_hold(case, false, 3).unwrap();
        assert_eq!(
            store.purge("logon", 50, 3_000).unwrap(),
            Purged { purged: 1, held: 0 }
        );
        assert!(
            !std::fs::read_to_string(dir.path().join("s.ndjson"))
                .unwrap()
                .contains("body3")
        );
    }

    #[test]
    fn an_interrupted_erase_is_finished_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store.insert_batch(&[event(1, "logon", 10)]).unwrap();
        // As if a run had marked the row and stopped before overwriting the bytes.
        store
            .conn
            .execute_batch(
                "UPDATE events SET purged_us = 77;
                 INSERT INTO meta(key, value) VALUES ('erase_pending', '77');",
            )
            .unwrap();
        assert_eq!(store.purge("print", 0, 100).unwrap(), Purged::default());
        let bodies = std::fs::read_to_string(dir.path().join("s.ndjson")).unwrap();
        assert!(!bodies.contains("body1"), "{bodies}");
        assert_eq!(store.meta(ERASE_PENDING).unwrap(), None);
    }
}
