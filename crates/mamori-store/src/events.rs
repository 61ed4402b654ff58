//! The SQLite event table: one row per ledger leaf.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Result, StoreError};

/// Bumped whenever the schema changes; `open` refuses a database from the future.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per ledger leaf. `json` is the canonical JSON whose SHA-256 is `entry`; retention
-- may later clear `json` (setting `purged_us`) but never touches `entry`, so proofs stay valid.
CREATE TABLE IF NOT EXISTS events (
    leaf_index INTEGER PRIMARY KEY,
    entry      BLOB NOT NULL,
    identity   BLOB NOT NULL,
    time_us    INTEGER NOT NULL,
    kind_id    INTEGER NOT NULL, -- names.id
    account_id INTEGER NOT NULL, -- names.id
    json       BLOB,
    purged_us  INTEGER
);
-- Accounts and kinds are interned: small integer keys keep the secondary indexes a fraction of
-- the size of text keys, which is most of the cost of an insert.
CREATE TABLE IF NOT EXISTS names (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
-- The identity already covers the time, so unique (time, identity) is unique identity. Leading
-- with the time keeps inserts of time-ordered input near the end of the index instead of on
-- random pages (a random 32-byte key costs a page write per event once the index outgrows the
-- cache), and the same index serves time-range queries.
CREATE UNIQUE INDEX IF NOT EXISTS events_time_identity ON events(time_us, identity);
CREATE INDEX IF NOT EXISTS events_account_time ON events(account_id, time_us);
CREATE INDEX IF NOT EXISTS events_kind_time ON events(kind_id, time_us);
";

/// An event ready to be stored: already canonicalised and hashed by the caller.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// SHA-256 of the canonical JSON without its nonce: equal events have equal identities.
    pub identity: [u8; 32],
    /// SHA-256 of `json`: the ledger entry.
    pub entry: [u8; 32],
    pub time_us: i64,
    pub kind: &'static str,
    pub account: String,
    /// The canonical JSON, including the nonce.
    pub json: Vec<u8>,
}

/// What happened to a batch: the new leaves in order, and which inputs were already stored.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// `(leaf_index, entry)` of every newly stored event, in leaf order.
    pub appended: Vec<(u64, [u8; 32])>,
    /// Positions in the batch of events whose identity was already stored.
    pub duplicates: Vec<usize>,
}

/// A stored event as read back.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub leaf_index: u64,
    pub entry: [u8; 32],
    /// `None` once retention purged the event (its entry stays in the ledger).
    pub json: Option<Vec<u8>>,
    /// Whether retention recorded the purge of `json`.
    pub purged: bool,
}

/// The SQLite database of events.
pub struct EventStore {
    conn: Connection,
    next_leaf: u64,
    /// Interned account and kind names; filled lazily, never evicted (one entry per account).
    name_ids: HashMap<String, i64>,
}

impl EventStore {
    pub fn open(path: &Path) -> Result<EventStore> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA page_size=16384;
             PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             PRAGMA wal_autocheckpoint=4096;
             PRAGMA foreign_keys=ON;
             PRAGMA cache_size=-65536;
             PRAGMA temp_store=MEMORY;",
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version.as_deref().map(str::parse::<i64>) {
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(Ok(v)) if v == SCHEMA_VERSION => {}
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "{}: unsupported schema version {other:?} (this build reads {SCHEMA_VERSION})",
                    path.display()
                )));
            }
        }
        let next_leaf = next_leaf_index(&conn)?;
        Ok(EventStore {
            conn,
            next_leaf,
            name_ids: HashMap::new(),
        })
    }

    /// Reads through a memory map of up to `bytes` of the database instead of copying pages
    /// (faster whole-store scans; the mapped pages are the page cache's, not extra memory).
    pub fn map_for_reading(&self, bytes: u64) -> Result<()> {
        self.conn
            .pragma_update(None, "mmap_size", bytes.min(i64::MAX as u64) as i64)?;
        Ok(())
    }

    /// The number of leaves the store holds (= the next leaf index).
    pub fn size(&self) -> u64 {
        self.next_leaf
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Stores a batch in one transaction, assigning consecutive leaf indices to the events whose
    /// identity is new. Atomic when this returns; durable against power loss after the next
    /// file-system sync (`DataDir::checkpoint`), since the WAL runs with `synchronous=NORMAL`.
    pub fn insert_batch(&mut self, batch: &[NewEvent]) -> Result<BatchOutcome> {
        let mut outcome = BatchOutcome::default();
        let mut next_leaf = self.next_leaf;
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO events(leaf_index, entry, identity, time_us, kind_id, account_id, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (position, event) in batch.iter().enumerate() {
                let leaf_index = i64::try_from(next_leaf)
                    .map_err(|_| StoreError::Corrupt("leaf index overflow".into()))?;
                let kind_id = intern(&tx, &mut self.name_ids, event.kind)?;
                let account_id = intern(&tx, &mut self.name_ids, &event.account)?;
                let inserted = insert.execute(params![
                    leaf_index,
                    &event.entry[..],
                    &event.identity[..],
                    event.time_us,
                    kind_id,
                    account_id,
                    event.json,
                ])?;
                if inserted == 1 {
                    outcome.appended.push((next_leaf, event.entry));
                    next_leaf += 1;
                } else {
                    outcome.duplicates.push(position);
                }
            }
        }
        if let Err(error) = tx.commit() {
            // Names interned in the rolled-back transaction are gone from the database.
            self.name_ids.clear();
            return Err(error.into());
        }
        self.next_leaf = next_leaf;
        Ok(outcome)
    }

    /// Calls `visit` for every stored leaf from `start` on, in leaf order.
    pub fn for_each_from(
        &self,
        start: u64,
        mut visit: impl FnMut(StoredEvent) -> Result<()>,
    ) -> Result<()> {
        let start = i64::try_from(start).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare(
            "SELECT leaf_index, entry, json, purged_us IS NOT NULL FROM events
             WHERE leaf_index >= ?1 ORDER BY leaf_index",
        )?;
        let mut rows = stmt.query([start])?;
        while let Some(row) = rows.next()? {
            visit(read_stored(row)?)?;
        }
        Ok(())
    }

    /// Events of one account within `[from_us, to_us)`, in leaf order.
    pub fn events_of_account(
        &self,
        account: &str,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<StoredEvent>> {
        let mut stmt = self.conn.prepare(
            "SELECT leaf_index, entry, json, purged_us IS NOT NULL FROM events
             WHERE account_id = (SELECT id FROM names WHERE name = ?1)
               AND time_us >= ?2 AND time_us < ?3
             ORDER BY leaf_index",
        )?;
        let mut rows = stmt.query(params![account, from_us, to_us])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            found.push(read_stored(row)?);
        }
        Ok(found)
    }
}

/// The id of `name` in the `names` table, adding it if new.
fn intern(conn: &Connection, cache: &mut HashMap<String, i64>, name: &str) -> Result<i64> {
    if let Some(&id) = cache.get(name) {
        return Ok(id);
    }
    conn.prepare_cached("INSERT OR IGNORE INTO names(name) VALUES (?1)")?
        .execute([name])?;
    let id: i64 = conn
        .prepare_cached("SELECT id FROM names WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?;
    cache.insert(name.to_string(), id);
    Ok(id)
}

fn next_leaf_index(conn: &Connection) -> Result<u64> {
    let max: Option<i64> =
        conn.query_row("SELECT MAX(leaf_index) FROM events", [], |r| r.get(0))?;
    match max {
        None => Ok(0),
        Some(m) => u64::try_from(m)
            .map(|m| m + 1)
            .map_err(|_| StoreError::Corrupt(format!("negative leaf index {m}"))),
    }
}

fn read_stored(row: &rusqlite::Row<'_>) -> Result<StoredEvent> {
    let leaf_index: i64 = row.get(0)?;
    let leaf_index = u64::try_from(leaf_index)
        .map_err(|_| StoreError::Corrupt(format!("negative leaf index {leaf_index}")))?;
    let entry_bytes: Vec<u8> = row.get(1)?;
    let entry: [u8; 32] = entry_bytes.as_slice().try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "leaf {leaf_index}: stored entry has {} bytes, expected 32",
            entry_bytes.len()
        ))
    })?;
    let json: Option<Vec<u8>> = row.get(2)?;
    let purged: bool = row.get(3)?;
    Ok(StoredEvent {
        leaf_index,
        entry,
        json,
        purged,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn event(n: u8) -> NewEvent {
        NewEvent {
            identity: [n; 32],
            entry: [n.wrapping_add(100); 32],
            time_us: i64::from(n) * 1_000_000,
            kind: "logon",
            account: format!("user{}", n % 2),
            json: vec![b'{', n, b'}'],
        }
    }

    #[test]
    fn same_identity_twice_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let first = store.insert_batch(&[event(1), event(2), event(1)]).unwrap();
        assert_eq!(first.appended.len(), 2);
        assert_eq!(first.duplicates, vec![2]);
        let again = store.insert_batch(&[event(2), event(3)]).unwrap();
        assert_eq!(again.appended, vec![(2, event(3).entry)]);
        assert_eq!(again.duplicates, vec![0]);
        assert_eq!(store.size(), 3);
    }

    #[test]
    fn leaf_indices_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        EventStore::open(&path)
            .unwrap()
            .insert_batch(&[event(1), event(2)])
            .unwrap();
        let mut store = EventStore::open(&path).unwrap();
        assert_eq!(store.size(), 2);
        let outcome = store.insert_batch(&[event(3)]).unwrap();
        assert_eq!(outcome.appended[0].0, 2);
        let mut seen = Vec::new();
        store
            .for_each_from(1, |e| {
                seen.push(e.leaf_index);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, vec![1, 2]);
    }

    #[test]
    fn account_query_respects_the_half_open_time_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store
            .insert_batch(&[event(1), event(2), event(3), event(5)])
            .unwrap();
        let found = store
            .events_of_account("user1", 1_000_000, 5_000_000)
            .unwrap();
        let leaves: Vec<u64> = found.iter().map(|e| e.leaf_index).collect();
        assert_eq!(leaves, vec![0, 2]);
    }
}
