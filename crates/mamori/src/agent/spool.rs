//! The agent's spool: every event the agent produces is committed here (SQLite, WAL, synced)
//! before anything else happens to it, and leaves only once the server has acknowledged it —
//! at-least-once delivery; the server's de-duplication by event identity makes a repeat
//! harmless. Lines the server rejects move to a quarantine table with its reason.
//!
//! The spool is bounded (`max_events`): when it is full (a server unreachable for days), new
//! events are counted and dropped, and the count goes out as an event once there is room, so
//! the gap itself is on record.

use std::path::Path;

use anyhow::Context;
use mamori_event::Event;
use rusqlite::{Connection, params};

pub struct Spool {
    conn: Connection,
    max_events: u64,
}

/// One spooled event.
pub struct Spooled {
    pub seq: i64,
    pub line: Vec<u8>,
}

impl Spool {
    pub fn open(path: &Path, max_events: u64) -> anyhow::Result<Spool> {
        let conn = Connection::open(path).with_context(|| format!("{}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Every commit reaches the disk: an event the agent has seen is not lost to a power cut.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, line BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS quarantine (seq INTEGER PRIMARY KEY, line BLOB NOT NULL,
                 reason TEXT NOT NULL, at TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )?;
        Ok(Spool { conn, max_events })
    }

    /// Commits `events` (each given its nonce, so a resend is byte-identical) in one
    /// transaction; returns how many were dropped because the spool is full.
    pub fn push(&mut self, events: &mut [Event]) -> anyhow::Result<u64> {
        let depth = self.depth()?;
        let room = self.max_events.saturating_sub(depth);
        let keep = events
            .len()
            .min(usize::try_from(room).unwrap_or(usize::MAX));
        let dropped = (events.len() - keep) as u64;
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO outbox (line) VALUES (?1)")?;
            for event in events.iter_mut().take(keep) {
                event.try_ensure_nonce()?;
                insert.execute([event.canonical_json()])?;
            }
            if dropped > 0 {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('dropped', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = value + ?1",
                    [i64::try_from(dropped).unwrap_or(i64::MAX)],
                )?;
            }
        }
        tx.commit()?;
        Ok(dropped)
    }

    /// Events dropped since the last [`Spool::take_dropped`] (and resets the count).
    pub fn take_dropped(&mut self) -> anyhow::Result<u64> {
        let tx = self.conn.transaction()?;
        let dropped: i64 = tx
            .query_row("SELECT value FROM meta WHERE key = 'dropped'", [], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        tx.execute("DELETE FROM meta WHERE key = 'dropped'", [])?;
        tx.commit()?;
        Ok(u64::try_from(dropped).unwrap_or(0))
    }

    /// The oldest events, at most `max` and about `max_bytes`.
    pub fn peek(&self, max: usize, max_bytes: usize) -> anyhow::Result<Vec<Spooled>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, line FROM outbox ORDER BY seq LIMIT ?1")?;
        let mut rows = stmt.query([i64::try_from(max).unwrap_or(i64::MAX)])?;
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.next()? {
            let line: Vec<u8> = row.get(1)?;
            bytes += line.len() + 1;
            out.push(Spooled {
                seq: row.get(0)?,
                line,
            });
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    /// Forgets acknowledged events and quarantines rejected ones (`(seq, reason)`).
    pub fn settle(
        &mut self,
        acknowledged: &[i64],
        rejected: &[(i64, String)],
    ) -> anyhow::Result<()> {
        let now = jiff::Timestamp::now().to_string();
        let tx = self.conn.transaction()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
            for seq in acknowledged {
                delete.execute([seq])?;
            }
            let mut quarantine = tx.prepare_cached(
                "INSERT OR REPLACE INTO quarantine (seq, line, reason, at)
                 SELECT seq, line, ?2, ?3 FROM outbox WHERE seq = ?1",
            )?;
            for (seq, reason) in rejected {
                quarantine.execute(params![seq, reason, now])?;
                delete.execute([seq])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn depth(&self) -> anyhow::Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn quarantined(&self) -> anyhow::Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM quarantine", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(n: u32) -> Event {
        Event::from_json(
            format!(
                r#"{{"time":"2026-12-01T00:00:{:02}Z","kind":"agent.heartbeat","actor":{{"user":"a"}},"outcome":"success","raw":{{"n":{n}}}}}"#,
                n % 60
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn events_stay_until_settled_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.sqlite");
        let mut spool = Spool::open(&path, 100).unwrap();
        let mut events: Vec<Event> = (0..5).map(event).collect();
        assert_eq!(spool.push(&mut events).unwrap(), 0);
        let batch = spool.peek(3, usize::MAX).unwrap();
        assert_eq!(batch.len(), 3);
        // The nonce is fixed when spooled: a resend is the same line.
        assert_eq!(
            Event::from_json(&batch[0].line).unwrap().nonce,
            events[0].nonce
        );
        spool
            .settle(
                &[batch[0].seq, batch[2].seq],
                &[(batch[1].seq, "bad".into())],
            )
            .unwrap();
        drop(spool);
        let spool = Spool::open(&path, 100).unwrap();
        assert_eq!(spool.depth().unwrap(), 2);
        assert_eq!(spool.quarantined().unwrap(), 1);
        let rest = spool.peek(10, usize::MAX).unwrap();
        assert_eq!(Event::from_json(&rest[0].line).unwrap().raw["n"], 3);
    }

    #[test]
    fn a_full_spool_counts_what_it_drops() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(&dir.path().join("s.sqlite"), 3).unwrap();
        let mut events: Vec<Event> = (0..5).map(event).collect();
        assert_eq!(spool.push(&mut events).unwrap(), 2);
        assert_eq!(spool.push(&mut [event(9)]).unwrap(), 1);
        assert_eq!(spool.depth().unwrap(), 3);
        assert_eq!(spool.take_dropped().unwrap(), 3);
        assert_eq!(spool.take_dropped().unwrap(), 0);
    }
}
